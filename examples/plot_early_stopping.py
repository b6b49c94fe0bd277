"""
===========================================
Early stopping keeps the best model it saw
===========================================

With ``early_stopping=True``, :class:`skgd.GDRegressor` (and ``GDClassifier``) holds
out ``validation_fraction`` of the training data (or uses ``X_val``/``y_val`` given to
``fit``), scores it after every epoch (R^2 for regression, accuracy for
classification) into ``validation_scores_``, stops once the score has not improved by
``tol`` for ``n_iter_no_change`` epochs, and then restores the parameters of the best
epoch, ``best_iter_``, whose score is ``best_score_``.

To make over-fitting visible, the diabetes data bundled with scikit-learn is expanded
into all degree-3 polynomial features (285 features for 309 training rows) and
trained without penalty by plain SGD: the validation score rises, peaks, then falls
while the training objective keeps going down. With a few hundred noisy rows the
validation score is itself noisy; a larger ``validation_fraction`` (here 0.3) makes
the choice of the best epoch more reliable.
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: write files, never open windows
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from skgd import GDRegressor

# Under sphinx-gallery sys.argv[0] is this file, so the figure lands next to it.
OUT_DIR = Path(os.environ.get("SKGD_EXAMPLES_OUT") or Path(sys.argv[0]).resolve().parent)

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
features = make_pipeline(PolynomialFeatures(3, include_bias=False), StandardScaler())
X_train = features.fit_transform(X_train)
X_test = features.transform(X_test)
print(f"{X_train.shape[0]} training rows, {X_train.shape[1]} features")

# %%
# Fit with early stopping
# -----------------------
# ``n_iter_no_change=30`` lets training run well past the best epoch, to show that
# the model returned is the best one, not the last one. The step size is constant
# (the regressor's default ``"plateau"`` schedule would divide it by 5 after each
# epoch without improvement, and stop soon after the best epoch). A ``callback`` records the
# test R^2 of the parameters after every epoch, for comparison only (the test set
# plays no part in training or stopping).

test_r2 = []


def record_test_r2(est, info):
    pred = X_test @ info["coef"].ravel() + info["intercept"][0]
    test_r2.append(r2_score(y_test, pred))


params = dict(optimizer="sgd", learning_rate="constant", eta0=0.001, penalty=None,
              random_state=0, tol=1e-4, max_iter=500, n_iter_no_change=30)
early = GDRegressor(early_stopping=True, validation_fraction=0.3, callback=record_test_r2,
                    **params).fit(X_train, y_train)
print(f"stopped after {early.n_iter_} epochs; best epoch {early.best_iter_} with "
      f"validation R^2 {early.best_score_:.4f}")
print(f"test R^2 of the model kept (epoch {early.best_iter_}): "
      f"{early.score(X_test, y_test):.4f}; of the last epoch's: {test_r2[-1]:.4f}")

# The fitted model is the best epoch's: its test score is the one recorded then.
assert early.best_score_ == early.validation_scores_[early.best_iter_ - 1]
assert np.isclose(early.score(X_test, y_test), test_r2[early.best_iter_ - 1])

# %%
# Your own validation set
# -----------------------
# ``fit(X, y, X_val=..., y_val=...)`` scores a given validation set instead of
# holding out part of ``X``; the fitted model then scores ``best_score_`` on it.

X_fit, X_val, y_fit, y_val = train_test_split(X_train, y_train, test_size=0.3,
                                              random_state=0)
explicit = GDRegressor(early_stopping=True, **params).fit(X_fit, y_fit, X_val=X_val,
                                                          y_val=y_val)
print(f"explicit X_val: best epoch {explicit.best_iter_}, best_score_ "
      f"{explicit.best_score_:.4f}, score(X_val, y_val) {explicit.score(X_val, y_val):.4f}")
assert np.isclose(explicit.score(X_val, y_val), explicit.best_score_)

# %%
# Plot
# ----

epochs = np.arange(1, early.n_iter_ + 1)
fig, ax = plt.subplots(figsize=(7.5, 4.5))
ax.plot(epochs, early.validation_scores_, label="validation R^2 (validation_scores_)")
ax.plot(epochs, test_r2, ":", color="tab:green", label="test R^2 (from the callback)")
ax.axvline(early.best_iter_, color="k", ls="--", lw=1)
ax.plot([early.best_iter_], [early.best_score_], "r*", ms=14,
        label=f"best_iter_ = {early.best_iter_} (the model kept)")
ax.set_xlabel("epoch")
ax.set_ylabel("R^2")
ax2 = ax.twinx()
ax2.plot(epochs, early.loss_curve_, color="tab:gray", alpha=0.7)
ax2.set_ylabel("training objective (loss_curve_)", color="tab:gray")
ax.legend(loc="lower right")
ax.set_title("GDRegressor(early_stopping=True) on degree-3 diabetes features")
fig.tight_layout()
OUT_DIR.mkdir(parents=True, exist_ok=True)
fig.savefig(OUT_DIR / "plot_early_stopping.png", dpi=100)
print(f"Figure saved to {OUT_DIR / 'plot_early_stopping.png'}")
