"""
=============================
Writing your own optimizer
=============================

An optimizer is a small parameter object: how many state values it keeps per
coordinate, a float array of hyper-parameters, and an element-wise update rule
compiled with ``numba.njit``. This example writes signSGD with momentum (each step
moves every coordinate by ``lr`` in the direction of the sign of its running mean
gradient), trains it on the handwritten digits bundled with scikit-learn, and
compares it with the built-in ``"sgd"`` and ``"adam"``.

The user guide (``docs/optimizers.rst``) shows this code; running it here keeps the
documentation honest. Kernels bound to a user rule are compiled once per process
(Numba cannot cache them on disk), so the first fit takes about 4 s longer.
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: write files, never open windows
import matplotlib.pyplot as plt
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier

# Under sphinx-gallery sys.argv[0] is this file, so the figure lands next to it.
OUT_DIR = Path(os.environ.get("SKGD_EXAMPLES_OUT") or Path(sys.argv[0]).resolve().parent)

# %%
# The optimizer
# -------------
# ``update(g, theta, state, k, j, lr, t, hp)`` updates coordinate ``(k, j)`` of the
# parameters ``theta`` (shape ``(n_outputs, n_features + 1)``, intercepts last) given
# its mini-batch gradient ``g`` (L2 term included), the step size ``lr`` of the
# schedule, the optimizer's step count ``t`` (from 1) and the hyper-parameters ``hp``.
# ``state[s, k, j]`` is the coordinate's slot ``s``. It returns the preconditioner
# ``D`` that the L1 proximal step scales its threshold with (1 here: see the docs).

# start-custom-optimizer
import numpy as np
from numba import njit

from skgd.optimizers import Optimizer


@njit
def sign_update(g, theta, state, k, j, lr, t, hp):
    # signSGD with momentum: state[0] is the running mean of g
    m = hp[0] * state[0, k, j] + (1.0 - hp[0]) * g
    state[0, k, j] = m
    theta[k, j] -= lr * np.sign(m)
    return 1.0  # preconditioner used by the L1 proximal step


class SignSGD(Optimizer):
    update = staticmethod(sign_update)

    def __init__(self, beta=0.9):
        self.beta = beta

    def n_slots(self):
        return 1

    def hyperparameters(self):
        return np.array([self.beta], dtype=np.float64)
# end-custom-optimizer


# %%
# Train it like any built-in optimizer
# ------------------------------------

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                    stratify=y)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

base = GDClassifier(max_iter=30, tol=None, random_state=0)
models = {
    "SignSGD(beta=0.9), eta0=0.001": clone(base).set_params(optimizer=SignSGD(), eta0=0.001),
    "sgd, eta0=0.1": clone(base).set_params(optimizer="sgd", eta0=0.1),
    "adam, eta0=0.01": clone(base).set_params(optimizer="adam", eta0=0.01),
}
for name, model in models.items():
    model.fit(X_train, y_train)
    print(f"{name:<32} objective {model.loss_curve_[-1]:.4f}  "
          f"test accuracy {model.score(X_test, y_test):.4f}")

# %%
# Its hyper-parameters are tunable
# --------------------------------
# Optimizers are scikit-learn parameter objects, so ``optimizer__beta`` is a
# parameter of the estimator and a grid axis.

search = GridSearchCV(clone(models["SignSGD(beta=0.9), eta0=0.001"]),
                      {"optimizer__beta": [0.5, 0.9, 0.99]}, cv=3)
search.fit(X_train, y_train)
print(f"GridSearchCV best: {search.best_params_}, CV accuracy {search.best_score_:.4f}")

# %%
# Plot
# ----

fig, ax = plt.subplots(figsize=(7, 4.2))
for name, model in models.items():
    ax.plot(np.arange(1, len(model.loss_curve_) + 1), model.loss_curve_, label=name)
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("training objective")
ax.set_title("A user-defined optimizer on digits")
ax.legend()
fig.tight_layout()
OUT_DIR.mkdir(parents=True, exist_ok=True)
fig.savefig(OUT_DIR / "plot_custom_optimizer.png", dpi=100)
print(f"Figure saved to {OUT_DIR / 'plot_custom_optimizer.png'}")

assert models["SignSGD(beta=0.9), eta0=0.001"].score(X_test, y_test) > 0.9
