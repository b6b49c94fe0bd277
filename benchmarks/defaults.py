"""How skgd's defaults were chosen: test score and fit time against scikit-learn's
default SGDClassifier / SGDRegressor on bundled real data, raw and standardized.

Run: ``python benchmarks/defaults.py [classifier|regressor]`` (a minute or two). Each cell is the mean test
score over 5 random 75/25 splits and the median fit time. The results are recorded in
docs/defaults.rst.
"""

import sys
import time
import warnings

import numpy as np
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_digits, load_iris,
                              load_wine, make_regression)
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skgd

CLASSIFIER_CANDIDATES = {
    "sklearn default": None,
    "adam constant 0.01 b32 (default)": {},
    "adam adaptive 0.01 b32": {"learning_rate": "adaptive"},
    "adam constant 0.01 b64": {"batch_size": 64},
    "adam adaptive 0.03 b64": {"learning_rate": "adaptive", "batch_size": 64, "eta0": 0.03},
}
REGRESSOR_CANDIDATES = {
    "sklearn default": None,
    "adam plateau 0.1 b32 (default)": {},
    "adam plateau 0.1 b32, unscaled targets": {"scale_target": False},
    "adam plateau 0.05 b32": {"eta0": 0.05},
    "adam plateau 0.03 b32": {"eta0": 0.03},
    "adam plateau 0.01 b32": {"eta0": 0.01},
    "adam adaptive 0.1 b32": {"learning_rate": "adaptive"},
    "adam constant 0.01 b32": {"learning_rate": "constant", "eta0": 0.01},
}


def _datasets():
    rng = np.random.default_rng(0)
    Xs = rng.standard_normal((10_000, 20))
    ys = (Xs @ rng.standard_normal(20) + rng.logistic(size=10_000) > 0).astype(int)
    Xr, yr = make_regression(n_samples=5000, n_features=30, noise=20, random_state=0)
    Xd, yd = load_diabetes(return_X_y=True)
    return [
        ("digits", *load_digits(return_X_y=True), True),
        ("breast_cancer", *load_breast_cancer(return_X_y=True), True),
        ("wine", *load_wine(return_X_y=True), True),
        ("iris", *load_iris(return_X_y=True), True),
        ("synthetic 10k x 20", Xs, ys, True),
        ("diabetes", Xd, yd, False),
        ("diabetes, y / 100", Xd, yd / 100, False),
        ("diabetes, y x 1000", Xd, yd * 1000, False),
        ("make_regression 5k x 30", Xr, yr, False),
    ]


def main(n_splits=5, kind=None):
    warnings.simplefilter("ignore")
    for name, X, y, is_clf in _datasets():
        if kind is not None and (kind == "classifier") != is_clf:
            continue
        candidates = CLASSIFIER_CANDIDATES if is_clf else REGRESSOR_CANDIDATES
        for scaled in (False, True):
            cells = []
            for label, params in candidates.items():
                scores, times = [], []
                for seed in range(n_splits):
                    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=seed)
                    if params is None:
                        est = (SGDClassifier if is_clf else SGDRegressor)(random_state=seed)
                    else:
                        cls = skgd.GDClassifier if is_clf else skgd.GDRegressor
                        est = cls(random_state=seed, **params)
                    model = make_pipeline(StandardScaler(), est) if scaled else est
                    tic = time.perf_counter()
                    model.fit(Xtr, ytr)
                    times.append(time.perf_counter() - tic)
                    scores.append(model.score(Xte, yte))
                cells.append(f"{label}: {np.mean(scores):.4f} / {1e3 * np.median(times):.0f} ms")
            print(f"{name} ({'standardized' if scaled else 'raw'})")
            for cell in cells:
                print("   ", cell)


if __name__ == "__main__":
    main(kind=sys.argv[1] if len(sys.argv) > 1 else None)
