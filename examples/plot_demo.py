"""
==========================================
skgd against scikit-learn on real datasets
==========================================

Trains :class:`skgd.GDClassifier` with several optimizers on the handwritten digits
(1,797 8x8 images, 10 classes) and :class:`skgd.GDRegressor` on the diabetes data
(442 patients, 10 features), both bundled with scikit-learn, and compares test score
and fit time with scikit-learn's ``SGDClassifier`` / ``SGDRegressor`` (defaults),
``LogisticRegression`` and ``Ridge``. Every model sees the same standardized features
and the same train/test split.

The script prints one table per task and saves the objective per epoch
(``loss_curve_``) of each skgd optimizer to ``plot_demo.png``, next to this script
(or in the folder named by the ``SKGD_EXAMPLES_OUT`` environment variable).

These datasets are small, so fit times are dominated by per-epoch overheads rather
than by arithmetic; see ``docs/performance.rst`` for large-data figures.
"""

import os
import sys
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: write files, never open windows
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier, SGDRegressor
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier, GDRegressor

# Under sphinx-gallery sys.argv[0] is this file, so the figure lands next to it.
OUT_DIR = Path(os.environ.get("SKGD_EXAMPLES_OUT") or Path(sys.argv[0]).resolve().parent)
SEED = 0

# %%
# Data
# ----
# Standardize with statistics of the training split only.


def split_and_scale(X, y, stratify):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=SEED, stratify=y if stratify else None
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


Xc_train, Xc_test, yc_train, yc_test = split_and_scale(*load_digits(return_X_y=True), True)
Xr_train, Xr_test, yr_train, yr_test = split_and_scale(*load_diabetes(return_X_y=True), False)

# %%
# Compile once before timing
# --------------------------
# skgd's kernels are compiled by Numba on first use (and cached on disk), which takes
# seconds in a fresh installation. One tiny fit of each estimator pays that cost here
# so that the times below measure training only.

tic = time.perf_counter()
GDClassifier(max_iter=1, tol=None).fit(Xc_train[:50], yc_train[:50])
GDRegressor(max_iter=1, tol=None).fit(Xr_train[:50], yr_train[:50])
print(f"Numba compilation / cache load: {time.perf_counter() - tic:.1f} s\n")


def run(models, X_train, y_train, X_test, y_test, metric):
    """Fit each model; return rows of (name, test score, fit seconds, epochs)."""
    rows = []
    for name, model in models.items():
        with warnings.catch_warnings():
            # Baselines may stop at max_iter; the table shows their score either way.
            warnings.simplefilter("ignore", ConvergenceWarning)
            tic = time.perf_counter()
            model.fit(X_train, y_train)
            seconds = time.perf_counter() - tic
        epochs = getattr(model, "n_iter_", None)
        epochs = int(np.max(epochs)) if epochs is not None else "-"
        rows.append((name, model.score(X_test, y_test), seconds, epochs))
    print(f"{'model':<34} {metric:>9} {'fit (s)':>8} {'epochs':>7}")
    for name, score, seconds, epochs in rows:
        print(f"{name:<34} {score:>9.4f} {seconds:>8.3f} {epochs!s:>7}")
    print()
    return rows


# %%
# Classification: digits
# ----------------------
# skgd with its defaults (``optimizer="adam"``, ``eta0=0.01``, ``batch_size=32``), and
# with plain SGD, momentum and RMSprop. For ``log_loss`` with more than two classes,
# skgd trains one multinomial (softmax) model.

OPTIMIZERS = ["adam", "sgd", "momentum", "rmsprop"]
classifiers = {f"GDClassifier(optimizer={o!r})": GDClassifier(optimizer=o, random_state=SEED)
               for o in OPTIMIZERS}
classifiers["SGDClassifier() [sklearn]"] = SGDClassifier(random_state=SEED)
classifiers["SGDClassifier(log_loss) [sklearn]"] = SGDClassifier(loss="log_loss",
                                                                  random_state=SEED)
classifiers["LogisticRegression() [sklearn]"] = LogisticRegression(max_iter=1000)
print("Digits, test accuracy")
clf_rows = run(classifiers, Xc_train, yc_train, Xc_test, yc_test, "accuracy")

# %%
# Regression: diabetes
# --------------------
# ``GDRegressor``'s defaults differ: ``learning_rate="plateau"`` with ``eta0=0.1``
# (coefficients live on the targets' scale, so the first steps must be larger; the
# rate is divided by 5 after each epoch that fails to improve), on targets divided by
# their scale (``scale_target=True``, so that the diabetes targets, in the hundreds,
# train like targets in any other unit). The other optimizers keep those settings.

regressors = {f"GDRegressor(optimizer={o!r})": GDRegressor(optimizer=o, random_state=SEED)
              for o in OPTIMIZERS}
regressors["SGDRegressor() [sklearn]"] = SGDRegressor(random_state=SEED)
# Ridge minimizes sum_i (y_i - p_i)^2 + a ||w||^2: with a = n * alpha it has the same
# optimum as skgd's default objective, mean_i 0.5 (y_i - p_i)^2 + alpha 0.5 ||w||^2.
regressors["Ridge (same objective, exact)"] = Ridge(alpha=Xr_train.shape[0] * 1e-4)
print("Diabetes, test R^2")
reg_rows = run(regressors, Xr_train, yr_train, Xr_test, yr_test, "R^2")

# %%
# Learning curves
# ---------------
# ``loss_curve_`` holds the regularized training objective after each epoch; training
# stops when it has not improved by ``tol`` for ``n_iter_no_change`` epochs.

fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for ax, models, title, yscale in [
    (axes[0], classifiers, "GDClassifier on digits (multinomial log-loss)", "log"),
    (axes[1], regressors, "GDRegressor on diabetes (squared error)", "linear"),
]:
    for name, model in models.items():
        if hasattr(model, "loss_curve_"):
            curve = model.loss_curve_
            ax.plot(np.arange(1, len(curve) + 1), curve, label=model.optimizer)
    ax.set_xscale("log")
    ax.set_yscale(yscale)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training objective")
    ax.set_title(title, fontsize=10)
    ax.legend(title="optimizer")
fig.tight_layout()
OUT_DIR.mkdir(parents=True, exist_ok=True)
out = OUT_DIR / "plot_demo.png"
fig.savefig(out, dpi=100)
print(f"Learning curves saved to {out}")

# Fail loudly (non-zero exit) if skgd's defaults stop learning.
assert clf_rows[0][1] > 0.9, clf_rows[0]
assert reg_rows[0][1] > 0.3, reg_rows[0]
