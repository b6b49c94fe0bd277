"""
================================================
Every optimizer on the same problem: loss curves
================================================

Trains a multinomial logistic regression (:class:`skgd.GDClassifier`) on the
handwritten digits bundled with scikit-learn with each built-in optimizer: the eight
names (``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"adadelta"``,
``"rmsprop"``, ``"adam"``, ``"adamw"``) and two variants given as objects
(``RMSprop(centered=True)``, ``Adam(amsgrad=True)``).

The same ``eta0`` means different things to different rules: for SGD it scales the
gradient, for Adam it is roughly the largest step of a coordinate, for Adadelta it
multiplies a step that is already unit-corrected (``eta0=1`` is the classic method).
So the left panel uses one shared ``eta0`` and the right panel gives each optimizer
the best ``eta0`` of a small grid (lowest training objective after the last epoch).
A ``callback`` records the held-out accuracy after every epoch.
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: write files, never open windows
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skgd import DivergenceError, GDClassifier
from skgd.optimizers import Adam, RMSprop

# Under sphinx-gallery sys.argv[0] is this file, so the figure lands next to it.
OUT_DIR = Path(os.environ.get("SKGD_EXAMPLES_OUT") or Path(sys.argv[0]).resolve().parent)
EPOCHS = 25
ETA_GRID = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                    stratify=y)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

OPTIMIZERS = {
    "sgd": "sgd",
    "momentum": "momentum",
    "nesterov": "nesterov",
    "adagrad": "adagrad",
    "adadelta": "adadelta",
    "rmsprop": "rmsprop",
    "rmsprop (centered)": RMSprop(centered=True),
    "adam": "adam",
    "adam (amsgrad)": Adam(amsgrad=True),
    "adamw": "adamw",
}


# %%
# Train with a callback
# ---------------------
# ``callback(estimator, info)`` runs after every epoch; ``info`` carries the current
# coefficients, so the held-out accuracy can be followed without refitting.

def train(optimizer, eta0):
    test_accuracy = []

    def record(est, info):
        margins = X_test @ info["coef"].T + info["intercept"]
        test_accuracy.append(np.mean(est.classes_[margins.argmax(axis=1)] == y_test))

    # tol=None: run all the epochs, so that the curves have the same length.
    clf = GDClassifier(optimizer=optimizer, eta0=eta0, max_iter=EPOCHS, tol=None,
                       random_state=0, callback=record)
    clf.fit(X_train, y_train)
    return clf, test_accuracy


shared = {name: train(opt, 0.01) for name, opt in OPTIMIZERS.items()}

tuned = {}
for name, opt in OPTIMIZERS.items():
    runs = []
    for eta0 in ETA_GRID:
        try:
            runs.append((eta0, *train(opt, eta0)))
        except DivergenceError:  # a step size too large for this rule: skip it
            print(f"{name}: eta0={eta0:g} diverged")
    tuned[name] = min(runs, key=lambda run: run[1].loss_curve_[-1])

print(f"{'optimizer':<20} {'objective@0.01':>15} {'best eta0':>10} {'objective':>10} "
      f"{'test acc.':>10}")
for name in OPTIMIZERS:
    eta0, clf, acc = tuned[name]
    print(f"{name:<20} {shared[name][0].loss_curve_[-1]:>15.4f} {eta0:>10g} "
          f"{clf.loss_curve_[-1]:>10.4f} {acc[-1]:>10.4f}")

# %%
# Plot
# ----

fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
epochs = np.arange(1, EPOCHS + 1)
colors = plt.get_cmap("tab10").colors
for color, name in zip(colors, OPTIMIZERS):
    axes[0].plot(epochs, shared[name][0].loss_curve_, color=color, label=name)
    eta0, clf, acc = tuned[name]
    axes[1].plot(epochs, clf.loss_curve_, color=color, label=f"{name} ({eta0:g})")
    axes[2].plot(epochs, acc, color=color, label=name)
axes[0].set_title("eta0 = 0.01 for every optimizer")
axes[1].set_title("best eta0 of the grid for each optimizer")
axes[2].set_title("held-out accuracy (best eta0)")
for ax in axes[:2]:
    ax.set_yscale("log")
    ax.set_ylabel("training objective")
    ax.legend(fontsize=7)
axes[2].set_ylabel("test accuracy")
axes[2].set_ylim(0.85, 1.0)
for ax in axes:
    ax.set_xlabel("epoch")
fig.tight_layout()
OUT_DIR.mkdir(parents=True, exist_ok=True)
fig.savefig(OUT_DIR / "plot_optimizers.png", dpi=100)
print(f"Figure saved to {OUT_DIR / 'plot_optimizers.png'}")

# Every rule, well tuned, must fit this easy problem.
assert all(acc[-1] > 0.9 for _, _, acc in tuned.values())
