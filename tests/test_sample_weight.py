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


@pytest.mark.parametrize("factor, exact", [(2.0 ** 1000, True), (2.0 ** -1050, False),
                                           (1e300, False)])
def test_extreme_weights_train_like_their_ratios(weighted_regression, factor, exact):
    """Weights near 1e308 overflowed the weight sums (a dead model) and near 1e-320
    lost their precision (DivergenceError); a power-of-two shift keeps their ratios."""
    X, y, sw, _, _ = weighted_regression
    params = dict(batch_size=32, max_iter=5, tol=None, random_state=0)
    a = GDRegressor(**params).fit(X, y, sample_weight=sw)
    b = GDRegressor(**params).fit(X, y, sample_weight=sw * factor)
    if exact:
        np.testing.assert_array_equal(a.coef_, b.coef_)
    else:  # 1e-320 is subnormal: the weights 1 and 10 keep ~3 digits
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-2)
    # A few rows at 1e308 and the rest 0: those rows' model.
    few = np.zeros(X.shape[0])
    few[:500] = 1e308
    c = GDRegressor(**params).fit(X, y, sample_weight=few)
    d = GDRegressor(**params).fit(X[:500], y[:500])
    assert np.all(np.isfinite(c.coef_)) and np.abs(c.coef_).max() > 0.5
    np.testing.assert_allclose(c.coef_, d.coef_, rtol=0.2, atol=0.2)


# ------------------------------------------------------------ partial_fit streams
def _weighted_stream(X, y, weights, n_passes=15, **params):
    """partial_fit over 4 chunks per pass, chunk k weighted ``weights[k]``."""
    est = GDClassifier(random_state=0, **params)
    chunks = np.array_split(np.arange(X.shape[0]), 4)
    for _ in range(n_passes):
        for k, rows in enumerate(chunks):
            est.partial_fit(X[rows], y[rows], classes=[0, 1],
                            sample_weight=np.full(rows.shape[0], weights[k]))
    return est


@pytest.fixture(scope="module")
def two_sources():
    """Chunks 0, 2 from a trusted source; chunks 1, 3 from one with flipped labels."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((800, 2))
    y = (X[:, 0] > 0).astype(int)
    chunks = np.array_split(np.arange(800), 4)
    for k in (1, 3):
        y[chunks[k]] = 1 - y[chunks[k]]
    return X, y


def test_partial_fit_weights_keep_their_ratio_across_calls(two_sources):
    """Each call's batches were divided by that call's own mean weight, which made a
    chunk weighted 9 count as much as one weighted 1 (accuracy 0.5 on the trusted
    labels, the same coefficients as unweighted). The stream's running mean weight
    keeps the ratio, as fit on the same weighted rows does."""
    X, y = two_sources
    truth = (X[:, 0] > 0).astype(int)
    weighted = _weighted_stream(X, y, [9.0, 1.0, 9.0, 1.0])
    plain = _weighted_stream(X, y, [1.0, 1.0, 1.0, 1.0])
    assert np.abs(weighted.coef_ - plain.coef_).max() > 0.5
    assert (weighted.predict(X) == truth).mean() > 0.95
    sw = np.where(np.isin(np.arange(800), np.r_[0:200, 400:600]), 9.0, 1.0)
    fitted = GDClassifier(random_state=0).fit(X, y, sample_weight=sw)
    assert (fitted.predict(X) == truth).mean() > 0.95
    # Scaling the whole stream's weights changes nothing (a power of two exactly).
    scaled = _weighted_stream(X, y, [36.0, 4.0, 36.0, 4.0])
    np.testing.assert_array_equal(scaled.coef_, weighted.coef_)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_partial_fit_class_weight_acts_across_calls(optimizer):
    """Calls of one class each: a class weight that only a call's own mean weight saw
    cancelled out. Across the stream it moves the intercept as in fit (2.0-2.1 with
    class_weight={1: 10}, -0.2 without; the stream 1.76-1.78 and -0.3)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((800, 2))
    y = (X[:, 0] + rng.standard_normal(800) > 0).astype(int)
    intercepts = []
    for class_weight in (None, {1: 10.0}):
        est = GDClassifier(random_state=0, class_weight=class_weight, optimizer=optimizer)
        est.partial_fit(X[:50], y[:50], classes=[0, 1])
        for _ in range(10):
            for label in (0, 1):
                est.partial_fit(X[y == label], y[y == label])
        fitted = GDClassifier(random_state=0, class_weight=class_weight,
                              optimizer=optimizer).fit(X, y)
        assert abs(est.intercept_[0] - fitted.intercept_[0]) < 0.5
        intercepts.append(est.intercept_[0])
    assert intercepts[1] > intercepts[0] + 1.5


def test_partial_fit_after_fit_weighs_against_the_fit_data(weighted_regression):
    # A call after a fit is divided by the mean weight of the fit's rows and its own: a
    # call of weight-1 rows after data of mean weight 5.5 takes smaller steps than the
    # same call after unweighted data.
    X, y, sw, _, _ = weighted_regression
    params = dict(optimizer="sgd", eta0=0.01, batch_size=32, max_iter=3, tol=None,
                  random_state=0)
    a = GDRegressor(**params).fit(X, y, sample_weight=sw)
    b = GDRegressor(**params).fit(X, y, sample_weight=sw)
    a.partial_fit(X[:100], y[:100] + 100.0)
    b.partial_fit(X[:100], y[:100] + 100.0, sample_weight=np.full(100, 5.5))
    assert a.intercept_[0] < b.intercept_[0]
    assert a._state.n_seen == X.shape[0] + 100
