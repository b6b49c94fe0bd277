"""Fast input checks: the parallel NaN/inf kernel and the counting label encoder.

Both replace scikit-learn calls that took longer than an epoch on large data; these
tests hold them to the answers and error messages of the calls they replace.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.utils import assert_all_finite

import skgd._base as B
from skgd import GDClassifier, GDRegressor
from skgd._classifier import _classes_and_index
from skgd._kernels import all_finite as _all_finite

BAD_VALUES = [np.nan, np.inf, -np.inf]


def all_finite(values, n_parts):
    # As the estimators call it: on a read-only view (no second compiled kernel).
    return _all_finite(B._readonly(values), n_parts)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_parts", [1, 2, 3, 7])
def test_all_finite_finds_every_position(dtype, n_parts):
    n = 101
    v = np.random.default_rng(0).standard_normal(n).astype(dtype)
    assert all_finite(v, n_parts)
    # Every position, the part boundaries included, and each kind of bad value.
    for pos in range(n):
        for bad in BAD_VALUES:
            w = v.copy()
            w[pos] = bad
            assert not all_finite(w, n_parts), (pos, bad)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_all_finite_edge_cases(dtype):
    assert all_finite(np.empty(0, dtype), 2)
    assert all_finite(np.array([0.0], dtype), 4)  # more parts than values
    assert not all_finite(np.array([np.nan], dtype), 4)
    big = np.finfo(dtype).max
    # Finite extremes stay finite (x - x is 0 even for the largest value).
    assert all_finite(np.array([big, -big, np.finfo(dtype).tiny, 0.0], dtype), 2)


def _nan_X(order="C", dtype=np.float64, at=(5, 2)):
    X = np.random.default_rng(1).standard_normal((40, 6)).astype(dtype)
    X[at] = np.nan
    return np.asarray(X, order=order)


def _message(X, name):
    with pytest.raises(ValueError) as info:
        assert_all_finite(X, input_name="X", estimator_name=name)
    return str(info.value)


@pytest.mark.parametrize("make", [
    lambda: _nan_X(),
    lambda: _nan_X(order="F"),
    lambda: _nan_X(dtype=np.float32),
    lambda: _nan_X()[:, ::2],  # strided: scikit-learn's check
    lambda: sp.csr_matrix(_nan_X()),
], ids=["C", "F", "float32", "strided", "csr"])
@pytest.mark.parametrize("Est", [GDClassifier, GDRegressor])
def test_predict_and_fit_give_scikit_learns_error(make, Est):
    X = make()
    y = np.arange(X.shape[0]) % 2
    good = np.nan_to_num(X.toarray() if sp.issparse(X) else np.asarray(X))
    est = Est(max_iter=2, tol=None, random_state=0).fit(good, y)
    coef = est.coef_.copy()
    expected = _message(X, Est.__name__)
    with pytest.raises(ValueError) as info:
        est.predict(X)
    assert str(info.value) == expected
    with pytest.raises(ValueError) as info:
        est.fit(X, y)
    assert str(info.value) == expected
    np.testing.assert_array_equal(est.coef_, coef)  # the failed fit changed nothing


@pytest.mark.parametrize("Est", [GDClassifier, GDRegressor])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_parallel_check_catches_every_row(monkeypatch, Est, fmt):
    # Force the parallel path on small data: a NaN in any row is found on 2 threads.
    monkeypatch.setattr(B, "FINITE_PAR_MIN", 1)
    X0 = np.random.default_rng(2).standard_normal((30, 4))
    y = np.arange(30) % 2
    Est(n_jobs=2, max_iter=1, tol=None).fit(X0 if fmt == "dense" else sp.csr_matrix(X0), y)
    for row in range(30):
        X = X0.copy()
        X[row, row % 4] = np.inf
        X = X if fmt == "dense" else sp.csr_matrix(X)
        with pytest.raises(ValueError, match="infinity"):
            Est(n_jobs=2, max_iter=1, tol=None).fit(X, y)


LABELS = [
    np.array([-128, 0, 127, 0, -128, 127], dtype=np.int8),  # int8 extremes: no overflow
    np.array([3, 1, 3, 1, 2], dtype=np.uint8),
    np.array([5, 10 ** 12, 5, 7]),  # wide span: sorted instead
    np.array([2 ** 63 + 1, 7, 7], dtype=np.uint64),
    np.array([-5, -2, -5]),
    np.array([4]),
    np.array([0.0, 1.0, 1.0]),
    np.array(["b", "a", "b"]),
]


@pytest.mark.parametrize("y", LABELS, ids=lambda y: f"{y.dtype}-{y[0]}")
def test_classes_and_index_equal_numpy_unique(y):
    classes, idx = _classes_and_index(y)
    ref_classes, ref_idx = np.unique(y, return_inverse=True)
    assert classes.dtype == ref_classes.dtype
    np.testing.assert_array_equal(classes, ref_classes)
    np.testing.assert_array_equal(idx, ref_idx)


def test_classes_and_index_large_random():
    rng = np.random.default_rng(3)
    for low, high in [(0, 2), (-50, 50), (0, 10 ** 5)]:
        y = rng.integers(low, high, 20_000)
        classes, idx = _classes_and_index(y)
        ref_classes, ref_idx = np.unique(y, return_inverse=True)
        np.testing.assert_array_equal(classes, ref_classes)
        np.testing.assert_array_equal(idx, ref_idx)


@pytest.mark.parametrize("labels", [np.array([-128, 0, 127], dtype=np.int8),
                                    np.array([0, 1, 2]), np.array([10, 20, 10 ** 12])])
def test_integer_labels_fit_like_strings(labels):
    # Integer labels (counted) and string labels in the same order (sorted) give the
    # same model and predictions.
    X, k = make_classification(n_samples=300, n_features=5, n_informative=3,
                               n_redundant=0, n_classes=3, random_state=0)
    names = np.array(["a", "b", "c"])
    params = dict(max_iter=3, tol=None, random_state=0)
    a = GDClassifier(**params).fit(X, labels[k])
    b = GDClassifier(**params).fit(X, names[k])
    np.testing.assert_array_equal(a.classes_, labels)
    assert a.classes_.dtype == labels.dtype
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.predict(X), labels[np.searchsorted(names, b.predict(X))])


def test_continuous_targets_still_refused():
    X = np.random.default_rng(4).standard_normal((20, 3))
    with pytest.raises(ValueError, match="Unknown label type"):
        GDClassifier().fit(X, np.linspace(0, 1, 20))
