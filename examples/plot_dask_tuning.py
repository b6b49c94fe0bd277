"""
===================================================
Tuning optimizers and learning rates on Dask
===================================================

Two ways to tune :class:`skgd.GDClassifier` on a Dask cluster (here a local one: two
worker processes on this machine, bound to 127.0.0.1):

1. ``GridSearchCV`` with joblib's Dask backend: every (candidate, fold) fit is a task
   on a worker. The optimizer itself is a grid axis. Works with any dask version.
2. dask-ml's ``HyperbandSearchCV`` on a Dask array: many candidates start, each trained
   block by block with ``partial_fit``; the poor ones are stopped early, the good ones
   get more passes. It needs dask/distributed 2025.2 (dask-ml 2025.1.0's searches fail
   on 2025.3 and newer; ``pip install skgd[dask-search]`` installs versions that work):
   on newer versions this part is skipped with a message.

The script prints the best candidates and saves the grid's mean test accuracy per
(optimizer, eta0) and Hyperband's validation score per ``partial_fit`` call of every
candidate to ``plot_dask_tuning.png`` (next to this script, or in the folder named by
``SKGD_EXAMPLES_OUT``).
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: write files, never open windows
import dask.array as da
import distributed
import joblib
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster
from scipy.stats import loguniform
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, train_test_split

from skgd import GDClassifier

OUT_DIR = Path(os.environ.get("SKGD_EXAMPLES_OUT") or Path(sys.argv[0]).resolve().parent)
OPTIMIZERS = ["sgd", "momentum", "adagrad", "rmsprop", "adam"]
ETA0 = [1e-4, 1e-3, 1e-2, 1e-1]


def search_works():
    """dask-ml 2025.1.0's incremental searches need distributed < 2025.3."""
    major, minor = (int(v) for v in distributed.__version__.split(".")[:2])
    return (major, minor) < (2025, 3)


def main():
    X, y = make_classification(20_000, 20, n_informative=8, random_state=0)
    X, X_test, y, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    try:
        # %%
        # 1. GridSearchCV, every fit a Dask task
        # --------------------------------------
        grid = GridSearchCV(GDClassifier(random_state=0),
                            {"optimizer": OPTIMIZERS, "eta0": ETA0}, cv=3, n_jobs=-1)
        with joblib.parallel_config(backend="dask"):
            grid.fit(X, y)
        print(f"GridSearchCV best: {grid.best_params_}, cv accuracy "
              f"{grid.best_score_:.4f}, test accuracy {grid.score(X_test, y_test):.4f}")

        # %%
        # 2. HyperbandSearchCV over the blocks of a Dask array
        # ----------------------------------------------------
        hyperband = None
        if search_works():
            from dask_ml.model_selection import HyperbandSearchCV

            Xd = da.from_array(X, chunks=(2_500, X.shape[1]))
            yd = da.from_array(y, chunks=2_500)
            hyperband = HyperbandSearchCV(
                GDClassifier(random_state=0, batch_size=64),
                {"optimizer": OPTIMIZERS, "eta0": loguniform(1e-4, 1.0)},
                max_iter=27, random_state=0)
            hyperband.fit(Xd, yd, classes=np.unique(y))
            print(f"HyperbandSearchCV best: {hyperband.best_params_}, validation "
                  f"accuracy {hyperband.best_score_:.4f}, test accuracy "
                  f"{hyperband.best_estimator_.score(X_test, y_test):.4f}, "
                  f"{len(hyperband.model_history_)} candidates")
        else:
            print(f"HyperbandSearchCV skipped: dask-ml's searches need distributed "
                  f"< 2025.3, this is {distributed.__version__} "
                  "(pip install skgd[dask-search])")
    finally:
        client.close()
        cluster.close()

    # %%
    # Results
    # -------
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    scores = grid.cv_results_["mean_test_score"].reshape(len(OPTIMIZERS), len(ETA0))
    ax = axes[0]
    im = ax.imshow(scores, vmin=max(0.5, scores.min()), vmax=scores.max(), cmap="viridis")
    ax.set_xticks(range(len(ETA0)), [f"{e:g}" for e in ETA0])
    ax.set_yticks(range(len(OPTIMIZERS)), OPTIMIZERS)
    ax.set_xlabel("eta0")
    ax.set_title("GridSearchCV (Dask backend): mean cv accuracy")
    for i in range(len(OPTIMIZERS)):
        for j in range(len(ETA0)):
            ax.text(j, i, f"{scores[i, j]:.3f}", ha="center", va="center", color="w")
    fig.colorbar(im, ax=ax)

    ax = axes[1]
    if hyperband is not None:
        colors = dict(zip(OPTIMIZERS, plt.cm.tab10.colors))
        params = {h["model_id"]: h["params"] for h in hyperband.history_}
        for model_id, hist in hyperband.model_history_.items():
            opt = params[model_id]["optimizer"]
            ax.plot([h["partial_fit_calls"] for h in hist], [h["score"] for h in hist],
                    "-", color=colors[opt], alpha=0.6)
        for opt in OPTIMIZERS:
            ax.plot([], [], color=colors[opt], label=opt)
        ax.set_xlabel("partial_fit calls (blocks seen)")
        ax.set_ylabel("validation accuracy")
        ax.set_title("HyperbandSearchCV: every candidate")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "HyperbandSearchCV needs distributed < 2025.3",
                ha="center", va="center")
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(OUT_DIR / "plot_dask_tuning.png", dpi=100)

    assert grid.best_params_["eta0"] > 1e-4 and grid.best_score_ > 0.8
    if hyperband is not None:
        assert hyperband.best_estimator_.score(X_test, y_test) > 0.8


# Worker processes are spawned and import this file: start the cluster only when run.
if __name__ == "__main__":
    main()
