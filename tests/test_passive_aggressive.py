"""learning_rate="pa1" / "pa2": passive-aggressive steps (scikit-learn's
SGDClassifier / SGDRegressor since 1.8, and its deprecated PassiveAggressive*).

With one row per batch and no shuffling, the coefficients are scikit-learn's to
rounding; batches average the rows' steps; dense, CSR and float32 agree.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import SGDClassifier, SGDRegressor

from skgd import GDClassifier, GDRegressor
from skgd.schedules import PA1, PA2


def _tau(rule, loss, sqnorm, C):
    if rule == "pa1":
        return min(C, loss / sqnorm) if sqnorm > 0 else 0.0
    return loss / (sqnorm + 0.5 / C)


def _reference_pa(X, y, rule, C, epochs, l2=0.0):
    """Online PA on +-1 targets (Crammer et al. 2006, with scikit-learn's L2 decay)."""
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        for x, t in zip(X, y):
            loss = max(0.0, 1.0 - t * (x @ w + b))
            w *= max(0.0, 1.0 - C * l2)
            if loss > 0:
                tau = _tau(rule, loss, x @ x, C)
                w += tau * t * x
                b += tau * t
    return w, b


@pytest.mark.parametrize("rule", ["pa1", "pa2"])
@pytest.mark.parametrize("penalty", [None, "l2"])
def test_binary_matches_scikit_learn_and_the_textbook_rule(cancer, rule, penalty):
    X, y = cancer
    params = dict(loss="hinge", penalty=penalty, learning_rate=rule, eta0=0.5,
                  shuffle=False, max_iter=3, tol=None)
    ref = SGDClassifier(**params).fit(X, y)
    ours = GDClassifier(optimizer="sgd", batch_size=1, **params).fit(X, y,
                                                                  intercept_init=0.0)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-12)
    w, b = _reference_pa(X, np.where(y == 1, 1.0, -1.0), rule, 0.5, 3,
                         l2=0.0 if penalty is None else 1e-4)
    np.testing.assert_allclose(ours.coef_[0], w, rtol=1e-10, atol=1e-12)
    assert ours.intercept_[0] == pytest.approx(b, rel=1e-10)


@pytest.mark.parametrize("rule", ["pa1", "pa2"])
def test_one_vs_rest_matches_scikit_learn(digits, rule):
    X, y = digits
    params = dict(loss="hinge", penalty=None, learning_rate=rule, eta0=0.5, shuffle=False,
                  max_iter=2, tol=None)
    ref = SGDClassifier(**params).fit(X, y)
    ours = GDClassifier(optimizer="sgd", batch_size=1, **params).fit(
        X, y, intercept_init=np.zeros(10))
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rule", ["pa1", "pa2"])
def test_regression_matches_scikit_learn(diabetes, rule):
    X, y = diabetes
    params = dict(loss="epsilon_insensitive", epsilon=5.0, penalty=None, learning_rate=rule,
                  eta0=0.5, shuffle=False, max_iter=3, tol=None)
    ref = SGDRegressor(**params).fit(X, y)
    ours = GDRegressor(optimizer="sgd", batch_size=1, **params).fit(X, y,
                                                                 intercept_init=0.0)
    assert ours._state.y_scale == 1.0  # PA steps are not rescaled
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-12)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-12)


def test_a_batch_averages_its_rows_steps(cancer):
    """One update of a 4-row batch from zero: the mean of the rows' PA steps."""
    X, y = cancer
    rows = np.r_[np.flatnonzero(y == 0)[:2], np.flatnonzero(y == 1)[:2]]
    X4, y4 = X[rows], y[rows]
    t = np.where(y4 == 1, 1.0, -1.0)
    est = GDClassifier(loss="hinge", penalty=None, optimizer="sgd", learning_rate="pa1",
                       eta0=0.05, batch_size=4, shuffle=False, max_iter=1, tol=None)
    est.fit(X4, y4, intercept_init=0.0)
    steps = [_tau("pa1", 1.0, x @ x, 0.05) * ti for x, ti in zip(X4, t)]
    np.testing.assert_allclose(est.coef_[0], np.mean([s * x for s, x in zip(steps, X4)], 0),
                               rtol=1e-12)
    assert est.intercept_[0] == pytest.approx(np.mean(steps), rel=1e-12)


@pytest.mark.parametrize("rule", ["pa1", "pa2"])
@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("penalty", [None, "elasticnet"])
@pytest.mark.parametrize("average", [False, 10])
def test_dense_sparse_and_float32_agree(digits, rule, batch_size, penalty, average):
    """Every CSR kernel (plain SGD's lazy one with and without L1; with averaging the
    general one) and float32 input."""
    X, y = digits
    est = GDClassifier(loss="hinge", penalty=penalty, alpha=1e-3, optimizer="sgd",
                       learning_rate=rule, eta0=0.5, batch_size=batch_size, max_iter=3,
                       tol=None, average=average, random_state=0)
    dense = clone(est).fit(X, y)
    sparse = clone(est).fit(sp.csr_matrix(X), y)
    single = clone(est).fit(X.astype(np.float32), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(single.coef_, dense.coef_, rtol=1e-6, atol=1e-6)
    assert dense.score(X, y) > 0.9


def test_partial_fit_is_the_online_algorithm(cancer):
    X, y = cancer
    stream = GDClassifier(loss="hinge", penalty=None, optimizer="sgd", learning_rate="pa2",
                          eta0=0.1, batch_size=1, shuffle=False)
    for lo in range(0, X.shape[0], 100):
        stream.partial_fit(X[lo:lo + 100], y[lo:lo + 100], classes=[0, 1])
    full = GDClassifier(loss="hinge", penalty=None, optimizer="sgd", learning_rate="pa2",
                        eta0=0.1, batch_size=1, shuffle=False, max_iter=1, tol=None)
    full.fit(X, y)
    np.testing.assert_allclose(stream.coef_, full.coef_, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("Est, bad, match", [
    (GDClassifier, dict(loss="log_loss", optimizer="sgd", learning_rate="pa1"),
     "only works with loss 'hinge'"),
    (GDRegressor, dict(loss="squared_error", optimizer="sgd", learning_rate="pa2"),
     "only works with loss 'epsilon_insensitive'"),
    (GDClassifier, dict(loss="hinge", learning_rate="pa1"), "optimizer='sgd'"),
    (GDClassifier, dict(loss="hinge", optimizer="momentum", learning_rate=PA1()),
     "optimizer='sgd'"),
])
def test_refused_combinations_change_nothing(cancer, Est, bad, match):
    X, y = cancer
    est = Est(**bad)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    assert not hasattr(est, "coef_")
    # A fitted model is left as it was by a refused partial_fit.
    fitted = Est(max_iter=2, tol=None, random_state=0).fit(X, y)
    before = fitted.coef_.copy(), fitted.t_
    fitted.set_params(**bad)
    with pytest.raises(ValueError, match=match):
        fitted.partial_fit(X, y)
    np.testing.assert_array_equal(fitted.coef_, before[0])
    assert fitted.t_ == before[1]


def test_named_and_object_schedules_are_the_same(cancer):
    X, y = cancer
    params = dict(loss="hinge", optimizer="sgd", eta0=0.3, batch_size=8, max_iter=3,
                  tol=None, random_state=0)
    for name, obj in (("pa1", PA1()), ("pa2", PA2())):
        a = GDClassifier(learning_rate=name, **params).fit(X, y)
        b = GDClassifier(learning_rate=obj, **params).fit(X, y)
        np.testing.assert_array_equal(a.coef_, b.coef_)
