"""
=============================================================
Data-parallel training over the partitions of a Dask array
=============================================================

:class:`skgd.dask.DataParallelGD` fits one model over all partitions of a Dask
collection at the same time: each round, every partition trains a copy of the current
model for one epoch with ``partial_fit`` (where its block lives, on its worker), and
the copies' parameters and optimizer moments are averaged, weighted by the partitions'
sample counts (local SGD, or model averaging).

Here the data is made on the workers of a local cluster (two worker processes on this
machine, bound to 127.0.0.1): a logistic model over 20 features, 200,000 rows in four
partitions, never gathered for the data-parallel fit. Because it also fits in memory,
the same estimator is trained in memory for comparison: same number of passes over the
data, same test set. The script prints both test accuracies and fit times and saves
the training objective per pass of both to ``plot_dask_data_parallel.png`` (next to
this script, or in the folder named by ``SKGD_EXAMPLES_OUT``).

The estimator averages its iterates (``average=True``): a constant-step iterate
wanders by about half a percent of test accuracy from epoch to epoch, which would hide
the comparison.
"""

import os
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: write files, never open windows
import dask
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster

from skgd import GDClassifier
from skgd.dask import DataParallelGD

OUT_DIR = Path(os.environ.get("SKGD_EXAMPLES_OUT") or Path(sys.argv[0]).resolve().parent)
N, D, PARTITIONS, ROUNDS = 200_000, 20, 4, 8

# %%
# Data made on the workers
# ------------------------
# ``y = 1`` with probability ``sigmoid(X w + 0.5)``. Nothing is computed yet: these
# are task graphs that the workers run when the blocks are needed.


def make_data(n, seed):
    rng = da.random.default_rng(seed)
    X = rng.standard_normal((n, D), chunks=(n // PARTITIONS, D))
    w = np.linspace(-1.0, 1.0, D)
    p = 1.0 / (1.0 + da.exp(-(X @ w + 0.5)))
    y = (rng.random(n, chunks=n // PARTITIONS) < p).astype(np.int64)
    return X, y


def main():
    # %%
    # A local cluster: two worker processes, one thread each, loopback only
    # ---------------------------------------------------------------------
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    try:
        X, y = make_data(N, seed=0)
        X_test, y_test = dask.compute(*make_data(N // 4, seed=1))
        est = GDClassifier(average=True, random_state=0)

        # %%
        # Data-parallel fit over the four partitions
        # ------------------------------------------
        # The first call loads skgd's compiled kernels in each worker: warm up on one
        # round so that the timing below is the training itself.
        DataParallelGD(est, n_rounds=1).fit(X, y)
        tic = time.perf_counter()
        parallel = DataParallelGD(est, n_rounds=ROUNDS).fit(X, y)
        t_parallel = time.perf_counter() - tic

        # %%
        # The same estimator in memory
        # ----------------------------
        X_mem, y_mem = dask.compute(X, y)
        in_memory = GDClassifier(average=True, random_state=0, max_iter=ROUNDS, tol=None)
        in_memory.fit(X_mem[:1000], y_mem[:1000])  # loads the kernels here, untimed
        tic = time.perf_counter()
        in_memory.fit(X_mem, y_mem)
        t_memory = time.perf_counter() - tic
    finally:
        client.close()
        cluster.close()

    acc_parallel = parallel.score(X_test, y_test)
    acc_memory = in_memory.score(X_test, y_test)
    print(f"{N:,} x {D}, {PARTITIONS} partitions, {ROUNDS} passes over the data")
    print(f"{'':<26}{'test accuracy':>14}{'fit s':>8}")
    print(f"{'data-parallel, 2 workers':<26}{acc_parallel:14.4f}{t_parallel:8.2f}")
    print(f"{'in memory, this process':<26}{acc_memory:14.4f}{t_memory:8.2f}")

    # %%
    # Training objective per pass over the data
    # -----------------------------------------
    # For the data-parallel fit: the partitions' mean objective during their local
    # epoch of each round.
    fig, ax = plt.subplots(figsize=(7, 4))
    passes = np.arange(1, ROUNDS + 1)
    ax.plot(passes, parallel.loss_curve_, "o-",
            label=f"data-parallel, 2 workers ({t_parallel:.2f} s)")
    ax.plot(passes, in_memory.loss_curve_, "s--",
            label=f"in memory ({t_memory:.2f} s)")
    ax.set_xlabel("pass over the data (round / epoch)")
    ax.set_ylabel("training objective")
    ax.set_title(f"Test accuracy: data-parallel {acc_parallel:.4f}, "
                 f"in memory {acc_memory:.4f}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT_DIR / "plot_dask_data_parallel.png", dpi=100)

    # Within half a percent of the in-memory fit's test accuracy.
    assert abs(acc_parallel - acc_memory) <= 0.005 * acc_memory, (acc_parallel, acc_memory)


# Worker processes are spawned and import this file: start the cluster only when run.
if __name__ == "__main__":
    main()
