"""Sparse input: the lazy plain-SGD path and the exact dense-update path agree with
dense training."""

import numpy as np
import pytest
import scipy.sparse as sp

from skgd import GDClassifier, GDRegressor


@pytest.fixture(scope="module")
def sparse_problem():
    rng = np.random.default_rng(0)
    X = sp.random(1500, 300, density=0.03, random_state=0, format="csr")
    X.data = rng.standard_normal(X.nnz)
    w = rng.standard_normal(300)
    score = X @ w
    y2 = (score + 0.1 * rng.standard_normal(1500) > 0).astype(int)
    y3 = (score > 0.5).astype(int) + (score > -0.5)
    return X, y2, y3, score


@pytest.mark.parametrize("penalty,alpha", [("l2", 1e-3), ("l1", 1e-3), ("elasticnet", 1e-2),
                                           (None, 0.0), ("l2", 0.5)])
@pytest.mark.parametrize("multi_class", ["binary", "ovr", "multinomial"])
@pytest.mark.parametrize("learning_rate", ["constant", "invscaling", "optimal"])
def test_lazy_sgd_equals_dense(sparse_problem, penalty, alpha, multi_class, learning_rate):
    """Plain SGD on CSR (scale factor + lazily caught-up L1; without L1 the two-sweep
    kernel) is the dense update."""
    X, y2, y3, _ = sparse_problem
    if learning_rate == "optimal" and alpha == 0:
        pytest.skip("optimal needs alpha > 0")
    y = y2 if multi_class == "binary" else y3
    kw = dict(optimizer="sgd", penalty=penalty, alpha=alpha, shuffle=False, max_iter=4,
              tol=None, eta0=0.1, batch_size=7, learning_rate=learning_rate,
              multi_class="ovr" if multi_class == "binary" else multi_class)
    dense = GDClassifier(**kw).fit(X.toarray(), y)
    sparse = GDClassifier(**kw).fit(X, y)
    scale = np.abs(dense.coef_).max()
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=0, atol=1e-11 * scale)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-11, atol=1e-14)
    np.testing.assert_array_equal(sparse.coef_ == 0, dense.coef_ == 0)  # exact L1 zeros


@pytest.mark.parametrize("optimizer", ["momentum", "adagrad", "adam", "rmsprop"])
def test_dense_update_path_equals_dense(sparse_problem, optimizer):
    X, _, y3, _ = sparse_problem
    kw = dict(optimizer=optimizer, penalty="elasticnet", alpha=1e-3, shuffle=False,
              max_iter=3, tol=None, batch_size=16)
    dense = GDClassifier(**kw).fit(X.toarray(), y3)
    sparse = GDClassifier(**kw).fit(X, y3)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("penalty", ["l2", "elasticnet"])  # two-sweep and lazy kernels
def test_lazy_sgd_with_shuffle_and_weights_regression(sparse_problem, penalty):
    # Zero weights (a third of the rows) and shuffled batches.
    X, _, _, score = sparse_problem
    w = np.random.default_rng(1).integers(0, 3, X.shape[0]).astype(float)
    kw = dict(optimizer="sgd", eta0=0.05, random_state=0, max_iter=20, tol=None,
              penalty=penalty, alpha=1e-3)
    dense = GDRegressor(**kw).fit(X.toarray(), score, sample_weight=w)
    sparse = GDRegressor(**kw).fit(X, score, sample_weight=w)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-10, atol=1e-12)
    assert sparse.score(X, score) > 0.9


@pytest.mark.parametrize("fmt", ["csc", "coo"])
def test_other_formats_are_converted(sparse_problem, fmt):
    X, y2, _, _ = sparse_problem
    kw = dict(shuffle=False, max_iter=2, tol=None)
    ref = GDClassifier(**kw).fit(X, y2)
    other = GDClassifier(**kw).fit(X.asformat(fmt), y2)
    np.testing.assert_array_equal(ref.coef_, other.coef_)
    np.testing.assert_array_equal(ref.predict(X), other.predict(X.asformat(fmt)))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("batch_size", [64, 256])
@pytest.mark.parametrize("cache_bytes", [None, 0, 1 << 20])
def test_shuffled_dense_and_sparse_fits_agree(monkeypatch, sparse_problem, optimizer,
                                              batch_size, cache_bytes):
    """The epoch order depends on X's shape and dtype, not its storage: with the same
    random_state, shuffled dense and CSR fits agree, for a row permutation (small
    data), for the large-data layout (forced), and when only the dense copy would be
    larger than the cache (1 MB: the CSR arrays take 0.16 MB, the dense array 3.6 MB)."""
    import skgd._base as base

    if cache_bytes is not None:
        monkeypatch.setattr(base, "SHUFFLE_ROWS_IN_CACHE_BYTES", cache_bytes)
    X, y2, _, _ = sparse_problem
    w = np.random.default_rng(2).integers(0, 3, X.shape[0]).astype(float)
    kw = dict(optimizer=optimizer, random_state=3, max_iter=4, tol=None,
              batch_size=batch_size)
    dense = GDClassifier(**kw).fit(X.toarray(), y2, sample_weight=w)
    sparse = GDClassifier(**kw).fit(X, y2, sample_weight=w)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-9, atol=1e-12)
