"""Multinomial logistic regression, Poisson and quantile regression."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, PoissonRegressor, QuantileRegressor
from sklearn.metrics import mean_pinball_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier, GDRegressor
from skgd.optimizers import OPTIMIZERS

ALPHA = 1e-2


@pytest.fixture(scope="module")
def lbfgs_optimum(digits):
    """LogisticRegression's multinomial optimum at the matching C = 1 / (n alpha)."""
    X, y = digits
    ref = LogisticRegression(C=1.0 / (len(y) * ALPHA), tol=1e-12, max_iter=10_000).fit(X, y)
    return ref, _objective(X, y, ref.coef_, ref.intercept_)


def _objective(X, y, coef, intercept):
    raw = X @ coef.T + intercept
    raw -= raw.max(axis=1, keepdims=True)
    logp = raw - np.log(np.exp(raw).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean() + 0.5 * ALPHA * np.sum(coef**2)


def test_multinomial_full_batch_reaches_lbfgs_optimum(digits, lbfgs_optimum):
    X, y = digits
    ref, f_star = lbfgs_optimum
    est = GDClassifier(multi_class="multinomial", alpha=ALPHA, optimizer="nesterov", eta0=0.5,
                       batch_size=10**9, max_iter=3000, tol=None, random_state=0).fit(X, y)
    assert est.coef_.shape == (10, X.shape[1])
    rel = np.linalg.norm(est.coef_ - ref.coef_) / np.linalg.norm(ref.coef_)
    assert rel < 1e-3
    assert abs(_objective(X, y, est.coef_, est.intercept_) - f_star) < 1e-4
    np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(X), atol=1e-3)


def test_multinomial_minibatch_reaches_optimum_within_one_percent(digits, lbfgs_optimum):
    X, y = digits
    _, f_star = lbfgs_optimum
    est = GDClassifier(multi_class="multinomial", alpha=ALPHA, learning_rate="adaptive",
                       random_state=0).fit(X, y)
    assert est.batch_size < len(y)
    assert _objective(X, y, est.coef_, est.intercept_) <= 1.01 * f_star


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_multinomial_trains_with_every_optimizer(digits, optimizer):
    X, y = digits
    eta0 = 1.0 if optimizer == "adadelta" else 0.05  # Adadelta's classic step is 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = GDClassifier(multi_class="multinomial", optimizer=optimizer, eta0=eta0,
                           max_iter=15, random_state=0, penalty="elasticnet").fit(X, y)
    assert est.score(X, y) > 0.95
    np.testing.assert_allclose(est.predict_proba(X).sum(axis=1), 1.0)
    assert np.all(np.argmax(est.predict_proba(X), axis=1) == np.searchsorted(
        est.classes_, est.predict(X)))


def test_multinomial_accuracy_at_least_ovr(digits):
    X, y = digits
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    scores = {}
    for mc in ["multinomial", "ovr"]:
        scores[mc] = np.mean([
            GDClassifier(multi_class=mc, random_state=seed).fit(Xtr, ytr).score(Xte, yte)
            for seed in range(3)])
    assert scores["multinomial"] >= scores["ovr"], scores


def test_auto_picks_multinomial_for_log_loss_only(digits):
    X, y = digits
    auto = GDClassifier(max_iter=3, tol=None, random_state=0).fit(X, y)
    multi = GDClassifier(max_iter=3, tol=None, random_state=0,
                         multi_class="multinomial").fit(X, y)
    np.testing.assert_array_equal(auto.coef_, multi.coef_)
    hinge = GDClassifier(loss="hinge", max_iter=3, tol=None, random_state=0).fit(X, y)
    ovr = GDClassifier(loss="hinge", max_iter=3, tol=None, random_state=0,
                       multi_class="ovr").fit(X, y)
    np.testing.assert_array_equal(hinge.coef_, ovr.coef_)
    with pytest.raises(ValueError, match="requires loss='log_loss'"):
        GDClassifier(loss="hinge", multi_class="multinomial").fit(X, y)


def test_multinomial_weights_match_repeated_rows(digits):
    X, y = digits
    X, y = X[:300], y[:300]
    w = np.random.default_rng(0).integers(0, 3, len(y))
    kw = dict(multi_class="multinomial", batch_size=10**9, shuffle=False, max_iter=30,
              tol=None, class_weight={3: 2.0})
    weighted = GDClassifier(**kw).fit(X, y, sample_weight=w)
    repeated = GDClassifier(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    # Equal up to summation order, amplified over 30 epochs.
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_multinomial_dense_sparse_float32_agree(digits, optimizer):
    X, y = digits
    kw = dict(multi_class="multinomial", optimizer=optimizer, shuffle=False, max_iter=3,
              tol=None, average=True)
    dense = GDClassifier(**kw).fit(X, y)
    sparse = GDClassifier(**kw).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(dense.coef_, sparse.coef_, rtol=1e-10, atol=1e-12)
    single = GDClassifier(**kw).fit(X.astype(np.float32), y)
    # Adaptive rules normalize near-zero gradients (digits' almost-constant pixels), so
    # float32 rounding of X moves a few such coordinates by up to ~1e-3.
    np.testing.assert_allclose(dense.coef_, single.coef_, rtol=1e-3, atol=2e-3)
    np.testing.assert_allclose(dense.predict_proba(X), single.predict_proba(X), atol=1e-3)
    assert single.decision_function(X.astype(np.float32)).dtype == np.float32


# ---------------------------------------------------------------- Poisson
@pytest.fixture(scope="module")
def counts():
    """Counts drawn from a known log-linear model on diabetes' real features."""
    X, _ = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.2, X.shape[1])
    return X, rng.poisson(np.exp(X @ w + 1.0)), w


@pytest.mark.parametrize("optimizer", ["adam", "nesterov"])
def test_poisson_matches_poisson_regressor(counts, optimizer):
    X, y, _ = counts
    ref = PoissonRegressor(alpha=ALPHA, tol=1e-12, max_iter=1000).fit(X, y)
    eta0 = 0.01 if optimizer == "adam" else 0.02
    est = GDRegressor(loss="poisson", alpha=ALPHA, optimizer=optimizer, eta0=eta0,
                      batch_size=10**9, max_iter=3000, tol=None, random_state=0).fit(X, y)
    # Constant-step Adam keeps wobbling at the optimum on near-zero gradients (their
    # normalized steps are not small), so it is held to 1e-4 absolute; Nesterov
    # converges to rounding.
    atol = 1e-4 if optimizer == "adam" else 1e-6
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-4, atol=atol)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-4)
    np.testing.assert_allclose(est.predict(X), ref.predict(X), rtol=1e-3)
    assert np.all(est.predict(X) > 0)  # the mean, through the log link


def test_poisson_minibatch_reaches_mle_deviance(counts):
    from sklearn.metrics import mean_poisson_deviance

    X, y, _ = counts
    mle = PoissonRegressor(alpha=0.0, tol=1e-12, max_iter=1000).fit(X, y)
    est = GDRegressor(loss="poisson", alpha=0.0, random_state=0).fit(X, y)
    assert mean_poisson_deviance(y, est.predict(X)) <= 1.01 * mean_poisson_deviance(
        y, mle.predict(X))


def test_poisson_rejects_negative_targets(counts):
    X, y, _ = counts
    with pytest.raises(ValueError, match="non-negative"):
        GDRegressor(loss="poisson").fit(X, y - 5.0)


# ---------------------------------------------------------------- quantile
@pytest.mark.parametrize("quantile", [0.1, 0.5, 0.9])
def test_quantile_matches_quantile_regressor(quantile):
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    ref = QuantileRegressor(quantile=quantile, alpha=0).fit(Xtr, ytr)
    est = GDRegressor(loss="quantile", quantile=quantile, alpha=0, tol=1e-4,
                      random_state=0).fit(Xtr, ytr)
    # QuantileRegressor (alpha=0) is the exact minimizer of the training loss: the
    # stochastic fit ends within 3% of it (0.3-2.4% measured over 8 seeds at tol=1e-4;
    # 0.4-6% at the default tol), and within 6% on the test split (at most 4%).
    for Xs, ys, slack in [(Xtr, ytr, 1.03), (Xte, yte, 1.06)]:
        ours = mean_pinball_loss(ys, est.predict(Xs), alpha=quantile)
        theirs = mean_pinball_loss(ys, ref.predict(Xs), alpha=quantile)
        assert ours <= slack * theirs, (ours, theirs)
    # The fitted line leaves about `quantile` of the training targets below it.
    assert abs(np.mean(ytr <= est.predict(Xtr)) - quantile) < 0.05


def test_quantile_parameter_is_validated():
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(ValueError, match="quantile"):
        GDRegressor(loss="quantile", quantile=1.5).fit(X, y)
