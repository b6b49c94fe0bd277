"""Sample and class weights at every batch size.

A batch's gradient sum is divided by its rows times the data's mean weight (its
expected weight), so that it estimates the gradient of the weighted objective without
bias. Divided by the batch's own weight sum, as before, a one-row batch did not depend
on its row's weight: ``batch_size=1`` trained the unweighted model (intercept 2.45
below, where the weighted optimum is 3.74), and batches of 4 were halfway (3.29).
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, Ridge

from skgd import GDClassifier, GDRegressor

ALPHA = 1e-3


@pytest.fixture(scope="module")
def weighted_regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 3))
    upper = X[:, 0] > 0
    y = X @ [1.0, 2.0, 3.0] + rng.standard_normal(2000) + 5.0 * upper
    sw = np.where(upper, 10.0, 1.0)  # the shifted half weighs 10x
    # Ridge minimizes sum_i s_i r_i^2 + a ||w||^2: a = alpha * sum(s) matches skgd.
    ref = Ridge(alpha=ALPHA * sw.sum()).fit(X, y, sample_weight=sw)
    unweighted = Ridge(alpha=ALPHA * X.shape[0]).fit(X, y)
    return X, y, sw, ref, unweighted


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("sparse", [False, True])
def test_small_batches_train_the_weighted_objective(weighted_regression, batch_size,
                                                    sparse):
    """Plain SGD, dense and CSR (the lazy sparse kernel): within 0.05 of the weighted
    optimum (0.008 and 0.001 measured) and far from the unweighted one (1.29)."""
    X, y, sw, ref, unweighted = weighted_regression
    assert abs(unweighted.intercept_ - ref.intercept_) > 1.0
    est = GDRegressor(optimizer="sgd", eta0=0.001, learning_rate="constant", alpha=ALPHA,
                      batch_size=batch_size, max_iter=50, tol=None, random_state=0)
    est.fit(sp.csr_matrix(X) if sparse else X, y, sample_weight=sw)
    assert abs(est.intercept_[0] - ref.intercept_) < 0.05
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=0.08)


@pytest.mark.parametrize("batch_size", [1, 4, 32])
def test_class_weights_count_at_every_batch_size(batch_size):
    """class_weight at batch 1, 4 and 32 (Adam, plateau): within 0.05 of the weighted
    logistic regression (0.005-0.014 measured); the unweighted intercept is 2 away."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 3))
    y = (X @ [1.0, -1.0, 0.5] + rng.logistic(size=2000) > 2.0).astype(int)
    cw = {0: 1.0, 1: 8.0}
    s = np.where(y == 1, 8.0, 1.0)
    ref = LogisticRegression(C=1 / (ALPHA * s.sum()), class_weight=cw, tol=1e-10,
                             max_iter=10_000).fit(X, y)
    est = GDClassifier(class_weight=cw, alpha=ALPHA, batch_size=batch_size, eta0=0.01,
                       learning_rate="plateau", tol=1e-4, max_iter=50,
                       random_state=0).fit(X, y)
    assert abs(est.intercept_[0] - ref.intercept_[0]) < 0.05
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=0.05)


@pytest.mark.parametrize("batch_size", [1, 32])
def test_weights_times_a_constant_train_alike(weighted_regression, batch_size):
    """The objective does not change when every weight is multiplied by c, and neither
    does training: exactly for a power of two, to rounding otherwise."""
    X, y, sw, _, _ = weighted_regression
    params = dict(batch_size=batch_size, max_iter=5, tol=None, random_state=0)
    a = GDRegressor(**params).fit(X, y, sample_weight=sw)
    b = GDRegressor(**params).fit(X, y, sample_weight=4.0 * sw)
    c = GDRegressor(**params).fit(X, y, sample_weight=3.0 * sw)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_allclose(a.coef_, c.coef_, rtol=1e-9)


def test_unit_weights_are_no_weights(weighted_regression):
    X, y, _, _, _ = weighted_regression
    params = dict(batch_size=7, max_iter=5, tol=None, random_state=0)
    a = GDRegressor(**params).fit(X, y)
    b = GDRegressor(**params).fit(X, y, sample_weight=np.ones(X.shape[0]))
    np.testing.assert_array_equal(a.coef_, b.coef_)
