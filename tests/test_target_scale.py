"""GDRegressor(scale_target=True): training on targets divided by their scale.

The scale is a power of two, so that targets c * y with c a power of two train exactly
as y does (every value of the scaled problem is the same bit for bit); the minimizer
is the one of the objective in the targets' units (penalty and epsilon are scaled).
"""

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.linear_model import SGDRegressor
from sklearn.model_selection import train_test_split

from skgd import GDRegressor
from skgd._base import target_scale
from skgd.losses import REGRESSION_LOSSES, get_loss

SCALED_LOSSES = [name for name in REGRESSION_LOSSES if name != "poisson"]


def _objective(est, X, y):
    """The regularized objective in the targets' units, at the fitted coefficients."""
    spec = get_loss(est.loss, epsilon=est.epsilon, quantile=est.quantile)
    r = y - (X @ est.coef_ + est.intercept_[0])
    if spec.name == "epsilon_insensitive":
        loss = np.maximum(np.abs(r) - est.epsilon, 0.0)
    elif spec.name == "quantile":
        loss = np.maximum(est.quantile * r, (est.quantile - 1) * r)
    else:
        raise AssertionError(spec.name)
    w = est.coef_
    l1 = est.alpha * est.l1_ratio
    l2 = est.alpha * (1 - est.l1_ratio)
    return loss.mean() + 0.5 * l2 * w @ w + l1 * np.abs(w).sum()


# ------------------------------------------------------------------ the scale itself
@pytest.mark.parametrize("y, sw, expected", [
    (np.array([1000.0, 3000.0, 5000.0]), np.ones(3), 2048.0),  # std 1633
    (np.array([0.1, 0.3]), np.ones(2), 0.125),  # std 0.1
    (np.array([7.0, 7.0]), np.ones(2), 8.0),  # all equal: their size
    (np.array([-300.0]), np.ones(1), 256.0),  # one row (batch_size=1)
    (np.zeros(4), np.ones(4), None),  # nothing to measure
    (np.array([5.0, 1e9]), np.array([1.0, 0.0]), 4.0),  # zero weight: not seen
    (np.array([1e300, -1e300]), np.ones(2), 2.0 ** 400),  # bounded, no overflow
    (np.array([1e-300, 3e-300]), np.ones(2), 2.0 ** -400),
    (np.array([1.0, 2.0]), np.zeros(2), None),  # no weight
])
def test_target_scale_is_a_power_of_two_near_the_spread(y, sw, expected):
    assert target_scale(y, sw) == expected


# ------------------------------------------------------------------ equivariance
@pytest.mark.parametrize("loss", SCALED_LOSSES)
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("c", [2.0 ** -20, 2.0 ** 20])
def test_targets_in_other_units_train_exactly_alike(diabetes, loss, optimizer, c):
    """y in other units (a power of two apart) gives the same model in those units:
    coefficients, intercept, objective per epoch and the number of epochs.

    The objective itself must be equivariant for that: with epsilon in the new units,
    and a penalty of the loss's degree (L2 with squared losses, L1 with absolute
    ones); an L1 term on a squared loss weighs differently against it in other units.
    """
    X, y = diabetes
    degree = get_loss(loss).target_degree
    params = dict(loss=loss, optimizer=optimizer, penalty="l2" if degree == 2 else "l1",
                  alpha=1e-2, epsilon=10.0, max_iter=30, random_state=0,
                  eta0=0.1 if optimizer == "adam" else 0.001)
    a = GDRegressor(**params).fit(X, y)
    b = GDRegressor(**{**params, "epsilon": c * 10.0}).fit(X, c * y)
    assert b.n_iter_ == a.n_iter_
    np.testing.assert_array_equal(b.coef_, c * a.coef_)
    np.testing.assert_array_equal(b.intercept_, c * a.intercept_)
    np.testing.assert_allclose(b.loss_curve_, np.array(a.loss_curve_) * c ** degree,
                               rtol=1e-12)
    np.testing.assert_array_equal(b.predict(X), c * a.predict(X))


@pytest.mark.parametrize("c", [1e-6, 1e-3, 1e3, 1e6])
def test_default_regressor_scores_alike_for_targets_in_any_unit(diabetes, c):
    """The defaults scored R^2 -5427 with y in millionths and -0.14 in millions
    before the targets were scaled (Adam's steps are eta0 in the coefficients'
    units); scikit-learn's SGDRegressor scores alike at every scale."""
    X, y = diabetes
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    unit = GDRegressor(random_state=0).fit(Xtr, ytr).score(Xte, yte)
    scaled = GDRegressor(random_state=0).fit(Xtr, c * ytr).score(Xte, c * yte)
    reference = SGDRegressor(random_state=0).fit(Xtr, ytr).score(Xte, yte)
    assert unit > reference - 0.02
    assert abs(scaled - unit) < 0.02, (scaled, unit)


def test_plain_sgd_squared_losses_do_not_depend_on_the_scaling(diabetes):
    """For the squared losses (degree 2), plain SGD's steps scale with the targets
    already: training on y / s is the same arithmetic times powers of two, so the
    fitted model equals the unscaled one bit for bit; this needs the L1 strength
    divided by s and epsilon divided by s (elastic net, huber). (Without ``tol=None``
    the epochs differ: ``tol`` applies to the scaled objective.)"""
    X, y = diabetes
    for loss in ("squared_error", "huber", "squared_epsilon_insensitive"):
        params = dict(loss=loss, optimizer="sgd", eta0=0.001, penalty="elasticnet",
                      alpha=20.0, l1_ratio=0.9, epsilon=20.0, max_iter=20, tol=None,
                      random_state=0)
        a = GDRegressor(**params).fit(X, y)
        b = GDRegressor(scale_target=False, **params).fit(X, y)
        assert a._state.y_scale == 64.0 and b._state.y_scale == 1.0
        np.testing.assert_array_equal(a.coef_, b.coef_)
        np.testing.assert_array_equal(a.intercept_, b.intercept_)
        assert np.any(a.coef_ == 0.0)  # the L1 part is active
        np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-12)


def _smoothed_minimum(X, y, loss, l2, epsilon, quantile=0.5, delta=1e-3):
    """The minimum of ``mean L(y - Xw - b) + l2/2 ||w||^2`` by L-BFGS, with L's kinks
    smoothed over ``delta`` (the minimum moves by less than delta * log 2)."""
    n, d = X.shape

    def f(theta):
        r = y - X @ theta[:d] - theta[d]
        if loss == "quantile":
            z = r / delta
            value = (quantile - 1) * r + delta * np.logaddexp(0, z)
            dr = (quantile - 1) + 0.5 * (1 + np.tanh(z / 2))
        else:  # epsilon_insensitive, with |r| smoothed too
            a = np.sqrt(r * r + delta * delta)
            z = (a - epsilon) / delta
            value = delta * np.logaddexp(0, z)
            dr = 0.5 * (1 + np.tanh(z / 2)) * r / a
        grad = np.concatenate([-(X.T @ dr) / n + l2 * theta[:d], [-dr.mean()]])
        return value.mean() + 0.5 * l2 * theta[:d] @ theta[:d], grad

    return minimize(f, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                    options={"maxiter": 20_000, "gtol": 1e-12, "ftol": 1e-15}).fun


@pytest.mark.parametrize("loss", ["epsilon_insensitive", "quantile"])
def test_absolute_losses_reach_the_minimum_of_the_objective_in_target_units(diabetes,
                                                                          loss):
    """Degree-1 losses train with the L2 strength times s, which keeps the minimizer:
    the fit ends within 2% of the exact minimum (0.4-0.6% measured). Left unscaled,
    the L2 term would weigh 1/s as much: that model scores 5x the minimum."""
    X, y = diabetes
    est = GDRegressor(loss=loss, alpha=0.5, epsilon=5.0, eta0=0.05, tol=1e-8,
                      n_iter_no_change=10, max_iter=3000, random_state=0).fit(X, y)
    assert est._state.y_scale == 64.0
    best = _smoothed_minimum(X, y, loss, 0.5, 5.0)
    assert best - 1e-3 <= _objective(est, X, y) <= 1.02 * best, (_objective(est, X, y), best)


# ------------------------------------------------------------------ continuing
def test_partial_fit_keeps_the_scale_and_reproduces_fit(diabetes):
    X, y = diabetes
    y = 1e4 * y
    params = dict(random_state=0, shuffle=False, max_iter=3, tol=None)
    full = GDRegressor(**params).fit(X, y)
    chunked = GDRegressor(**params)
    for _ in range(3):
        chunked.partial_fit(X, y)
    assert chunked._state.y_scale == full._state.y_scale == 2.0 ** 19  # first batch
    np.testing.assert_array_equal(chunked.coef_, full.coef_)
    np.testing.assert_array_equal(chunked.intercept_, full.intercept_)


def test_inits_and_edits_are_in_the_targets_units(diabetes):
    X, y = diabetes
    y = 1e4 * y
    ref = GDRegressor(random_state=0).fit(X, y)
    tiny = dict(eta0=1e-12, learning_rate="constant", max_iter=1, tol=None,
                random_state=0)
    init = GDRegressor(**tiny).fit(X, y, coef_init=ref.coef_, intercept_init=ref.intercept_)
    np.testing.assert_allclose(init.coef_, ref.coef_, rtol=1e-6)
    np.testing.assert_allclose(init.intercept_, ref.intercept_, rtol=1e-6)
    # An edited coef_ is where partial_fit goes on from, in the targets' units.
    edited = GDRegressor(**tiny).fit(X, y)
    edited.coef_ = ref.coef_.copy()
    edited.intercept_ = ref.intercept_.copy()
    edited.partial_fit(X, y)
    np.testing.assert_allclose(edited.coef_, ref.coef_, rtol=1e-6)
    np.testing.assert_allclose(edited.intercept_, ref.intercept_, rtol=1e-6)


def test_switching_scaling_off_continues_from_the_same_model(diabetes):
    X, y = diabetes
    est = GDRegressor(random_state=0, warm_start=True, max_iter=5, tol=None).fit(X, y)
    assert est._state.y_scale == 64.0
    before = est.coef_.copy(), est.intercept_.copy()
    est.set_params(scale_target=False, eta0=1e-12, learning_rate="constant", max_iter=1)
    est.fit(X, y)
    assert est._state.y_scale == 1.0
    np.testing.assert_allclose(est.coef_, before[0], rtol=1e-9)
    np.testing.assert_allclose(est.intercept_, before[1], rtol=1e-9)


def test_poisson_is_not_scaled(diabetes):
    X, y = diabetes
    est = GDRegressor(loss="poisson", random_state=0, max_iter=3, tol=None).fit(X, y)
    assert est._state.y_scale == 1.0


def test_early_stopping_scores_in_the_targets_units(diabetes):
    X, y = diabetes
    Xtr, Xval, ytr, yval = train_test_split(X, 1e6 * y, random_state=0)
    est = GDRegressor(random_state=0, early_stopping=True).fit(
        Xtr, ytr, X_val=Xval, y_val=yval)
    assert est.best_score_ == pytest.approx(est.score(Xval, yval), abs=1e-12)
    assert est.best_score_ > 0.3  # 0.35 for the unit targets on this split


# ------------------------------------------------------- a scale set by later data
@pytest.mark.parametrize("first", ["zero_weights", "zero_targets"])
def test_first_call_without_a_scale_leaves_it_to_the_next(diabetes, first):
    """A first chunk that tells no scale (no weight, or all targets 0) fixed the scale
    at 1 for good, and the default steps then failed on targets in the hundreds
    (R^2 -3.1). The first chunk that tells one sets it."""
    X, y = diabetes
    chunks = np.array_split(np.random.default_rng(0).permutation(y.shape[0]), 10)
    reference = GDRegressor(random_state=0)
    est = GDRegressor(random_state=0)
    if first == "zero_weights":
        est.partial_fit(X[:20], y[:20], sample_weight=np.zeros(20))
    else:
        est.partial_fit(X[:20], np.zeros(20))
    assert est._state.scale_pending and est._state.y_scale == 1.0
    for _ in range(5):
        for rows in chunks:
            reference.partial_fit(X[rows], y[rows])
            est.partial_fit(X[rows], y[rows])
    assert not est._state.scale_pending
    assert est._state.y_scale == reference._state.y_scale == 64.0
    # Both at the noise floor of constant-step Adam (0.49 and 0.51 here; -3.1 before).
    assert est.score(X, y) > 0.45 and reference.score(X, y) > 0.45


def test_fit_whose_first_batch_tells_no_scale_takes_the_data_scale(diabetes):
    # shuffle=False and a first batch of zero weight (or, with batch_size=1, a first
    # target of 0): the scale of all the training rows.
    X, y = diabetes
    sw = np.ones(y.shape[0])
    sw[:32] = 0.0
    est = GDRegressor(shuffle=False, random_state=0).fit(X, 1000.0 * y, sample_weight=sw)
    assert est._state.y_scale == 2.0 ** 16
    assert est.n_iter_ < 100 and est.score(X, 1000.0 * y) > 0.45
    yz = np.where(np.arange(y.shape[0]) % 3 == 0, 0.0, 1e5 * y)
    one = GDRegressor(batch_size=1, shuffle=False, max_iter=5, random_state=0)
    one.fit(X, yz)
    assert one._state.y_scale > 2.0 ** 20
