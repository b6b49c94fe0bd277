"""Optimizers: the kernels against plain-numpy references of DESIGN.md's update rules.

Every estimator here is trained with ``shuffle=False``, zero initial parameters and
``tol=None`` for a fixed number of epochs (>= 50 updates), so that the reference in
``_reference.py`` (written from DESIGN.md, not from the kernels) must reproduce the
coefficients to 1e-9 relative. Each reference test also checks that training moved the
parameters, and ``test_mutated_reference_disagrees`` shows that the comparison is
sharp enough to catch small deviations from the rules.
"""

import math

import numpy as np
import pytest
from numba import njit
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, make_classification

from skgd import GDClassifier, GDRegressor
from skgd.optimizers import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    AdamW,
    Optimizer,
    RMSprop,
    get_optimizer,
)


import _skgd_test_reference as R  # noqa: E402  (registered by conftest.py)

RTOL = 1e-9
N = 100  # rows of each data subset: a batch of 32 leaves a short last batch of 4
MINI, FULL = 32, 1000
# Epochs giving >= 50 updates: 4 updates per mini-batch epoch, 1 per full-batch epoch.
EPOCHS = {MINI: 20, FULL: 60}


# ------------------------------------------------------------------------------ data
def _subset(X, y, n, seed=0):
    idx = np.random.RandomState(seed).choice(len(y), n, replace=False)
    X = X[idx]
    return (X - X.mean(axis=0)) / X.std(axis=0), y[idx]


def _diabetes():
    X, y = _subset(*load_diabetes(return_X_y=True), N)
    # Unit scale but not centred (mean ~2), so the intercept has real work to do.
    return X, y / y.std()


def _cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X, y = _subset(X[:, :10], y, N)  # the ten "mean" features: less collinear
    return X, y


def _iris():
    return _subset(*load_iris(return_X_y=True), 90)


DATA = {"regression": _diabetes(), "classification": _cancer(), "multiclass": _iris()}


def _fit_single(problem, optimizer, batch_size, n_epochs, **params):
    """Fit GDRegressor (squared_error) or binary GDClassifier (log_loss) from zero."""
    X, y = DATA[problem]
    common = dict(optimizer=optimizer, batch_size=batch_size, max_iter=n_epochs, tol=None,
                  shuffle=False, **params)
    fit_intercept = params.get("fit_intercept", True)
    if problem == "regression":
        est = GDRegressor(loss="squared_error", **common)
        init = dict(coef_init=np.zeros(X.shape[1]))
    else:
        est = GDClassifier(loss="log_loss", **common)
        init = dict(coef_init=np.zeros((1, X.shape[1])))
    if fit_intercept:
        init["intercept_init"] = 0.0
    return est.fit(X, y, **init)


def _reference_single(problem, ref, batch_size, n_epochs, **kwargs):
    X, y = DATA[problem]
    if problem == "regression":
        return R.train(X, y, ref, loss="squared_error", batch_size=batch_size,
                       n_epochs=n_epochs, **kwargs)
    return R.train(X, np.where(y == 1, 1.0, -1.0), ref, loss="log_loss",
                   batch_size=batch_size, n_epochs=n_epochs, **kwargs)


def _params(est):
    return np.hstack([np.atleast_2d(est.coef_), np.asarray(est.intercept_).reshape(-1, 1)])


def assert_agree(est, coef, intercept, rtol=RTOL):
    """Coefficients and intercepts equal to ``rtol`` relative to the largest entry."""
    got = _params(est)
    ref = np.hstack([coef, intercept.reshape(-1, 1)])
    scale = np.abs(ref).max()
    # Training must have moved the parameters, or the comparison proves nothing.
    assert scale > 1e-2, f"reference barely moved (max |theta| = {scale:.3g})"
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * scale)


# ------------------------------------------------------------------- optimizer table
# (id, skgd optimizer, reference factory, eta0). eta0 per optimizer: plain and momentum
# SGD are stable at 0.05 on these unit-scaled problems; RMSprop normalizes the step to
# ~lr per coordinate from the first update, so it gets a smaller one; Adadelta is
# classically run with lr = 1 (its own step is ~sqrt(eps) at the start).
CASES = [
    ("sgd", "sgd", R.NAMED["sgd"], 0.05),
    ("momentum", "momentum", R.NAMED["momentum"], 0.02),
    ("nesterov", "nesterov", R.NAMED["nesterov"], 0.02),
    ("sgd-dampening", SGD(momentum=0.8, dampening=0.5),
     lambda: R.SGDRef(momentum=0.8, dampening=0.5), 0.05),
    ("adagrad", "adagrad", R.NAMED["adagrad"], 0.1),
    ("adagrad-init-acc", Adagrad(initial_accumulator_value=0.5),
     lambda: R.AdagradRef(initial_accumulator_value=0.5), 0.1),
    ("adadelta", "adadelta", R.NAMED["adadelta"], 1.0),
    ("rmsprop", "rmsprop", R.NAMED["rmsprop"], 0.01),
    ("rmsprop-centered", RMSprop(centered=True), lambda: R.RMSpropRef(centered=True), 0.01),
    ("rmsprop-momentum", RMSprop(momentum=0.5), lambda: R.RMSpropRef(momentum=0.5), 0.005),
    ("rmsprop-centered-momentum", RMSprop(rho=0.9, centered=True, momentum=0.5),
     lambda: R.RMSpropRef(rho=0.9, centered=True, momentum=0.5), 0.005),
    ("adam", "adam", R.NAMED["adam"], 0.05),
    ("adam-amsgrad", Adam(beta1=0.8, amsgrad=True),
     lambda: R.AdamRef(beta1=0.8, amsgrad=True), 0.05),
    ("adamw", "adamw", R.NAMED["adamw"], 0.05),
]
CASE_IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("penalty", [None, "l2"])
@pytest.mark.parametrize("batch_size", [MINI, FULL], ids=["mini", "full"])
@pytest.mark.parametrize("problem", ["regression", "classification"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_update_rule_matches_reference(case, problem, batch_size, penalty):
    _, optimizer, make_ref, eta0 = case
    alpha = 0.1  # noticeable: changes the coefficients by ~10%
    n_epochs = EPOCHS[batch_size]
    est = _fit_single(problem, optimizer, batch_size, n_epochs, eta0=eta0, penalty=penalty,
                      alpha=alpha)
    coef, intercept, t = _reference_single(problem, make_ref(), batch_size, n_epochs,
                                           lr=lambda t: eta0,
                                           l2=alpha if penalty == "l2" else 0.0)
    assert t >= 50 and est.t_ == t
    assert_agree(est, coef, intercept)


@pytest.mark.parametrize("case", CASES[::3], ids=CASE_IDS[::3])
def test_no_intercept_matches_reference(case):
    _, optimizer, make_ref, eta0 = case
    est = _fit_single("regression", optimizer, MINI, EPOCHS[MINI], eta0=eta0, penalty="l2",
                      alpha=0.1, fit_intercept=False)
    coef, intercept, _ = _reference_single("regression", make_ref(), MINI, EPOCHS[MINI],
                                           lr=lambda t: eta0, l2=0.1, fit_intercept=False)
    assert np.all(est.intercept_ == 0.0)
    assert_agree(est, coef, intercept)


class _Mutant:
    """A reference with one deliberate deviation, to show the comparison detects it."""

    def __init__(self, ref, t_shift=0, unit_D=False, decoupled=None):
        self.ref, self.t_shift, self.unit_D = ref, t_shift, unit_D
        self.decoupled = getattr(ref, "decoupled", False) if decoupled is None else decoupled

    def init(self, shape):
        self.ref.init(shape)

    def step(self, g, theta, lr, t):
        D = self.ref.step(g, theta, lr, t + self.t_shift)
        return np.ones_like(D) if self.unit_D else D


# (id, skgd optimizer, mutated reference, eta0, penalty)
MUTANTS = [
    # Adam without bias correction (t so large that 1 - beta^t == 1).
    ("adam-no-bias-correction", "adam", lambda: _Mutant(R.AdamRef(), t_shift=10**6), 0.05,
     None),
    # Dampening applied at the first step too (PyTorch starts buf = g).
    ("sgd-dampened-first-step", SGD(momentum=0.8, dampening=0.5),
     lambda: _Mutant(R.SGDRef(momentum=0.8, dampening=0.5), t_shift=1), 0.05, None),
    # L1 threshold without the preconditioner.
    ("adagrad-l1-without-D", "adagrad", lambda: _Mutant(R.AdagradRef(), unit_D=True), 0.1,
     "l1"),
    # AdamW's decay coupled into the gradient (that is Adam + L2).
    ("adamw-coupled", "adamw", lambda: _Mutant(R.AdamWRef(), decoupled=False), 0.05, "l2"),
]


@pytest.mark.parametrize("case", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_mutated_reference_disagrees(case):
    _, optimizer, make_mutant, eta0, penalty = case
    alpha = 0.1
    est = _fit_single("regression", optimizer, MINI, EPOCHS[MINI], eta0=eta0,
                      penalty=penalty, alpha=alpha)
    coef, intercept, _ = _reference_single(
        "regression", make_mutant(), MINI, EPOCHS[MINI], lr=lambda t: eta0,
        l2=alpha if penalty == "l2" else 0.0, l1=alpha if penalty == "l1" else 0.0)
    ref = np.hstack([coef, intercept.reshape(-1, 1)])
    deviation = np.abs(_params(est) - ref).max() / np.abs(ref).max()
    # Far outside the 1e-9 that test_update_rule_matches_reference allows.
    assert deviation > 1e-4, deviation


# -------------------------------------------------------------------- L1 / elasticnet
L1_CASES = [c for c in CASES if c[0] in {
    "sgd", "momentum", "adagrad", "adadelta", "rmsprop", "rmsprop-centered", "adam", "adamw"}]


@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
@pytest.mark.parametrize("batch_size", [MINI, FULL], ids=["mini", "full"])
@pytest.mark.parametrize("case", L1_CASES, ids=[c[0] for c in L1_CASES])
def test_l1_proximal_step_matches_reference(case, batch_size, penalty):
    _, optimizer, make_ref, eta0 = case
    alpha, l1_ratio = 0.2, 0.5
    l2, l1 = (0.0, alpha) if penalty == "l1" else (alpha * (1 - l1_ratio), alpha * l1_ratio)
    n_epochs = EPOCHS[batch_size]
    est = _fit_single("regression", optimizer, batch_size, n_epochs, eta0=eta0,
                      penalty=penalty, alpha=alpha, l1_ratio=l1_ratio)
    coef, intercept, _ = _reference_single("regression", make_ref(), batch_size, n_epochs,
                                           lr=lambda t: eta0, l2=l2, l1=l1)
    assert_agree(est, coef, intercept)
    # The proximal step gives exact zeros, in the same places as the reference.
    np.testing.assert_array_equal(est.coef_ == 0.0, coef[0] == 0.0)
    if penalty == "l1":
        assert np.sum(est.coef_ == 0.0) >= 1


@pytest.mark.parametrize("optimizer", sorted(R.NAMED))
def test_l1_zeros_out_weak_features(optimizer):
    # Features so small that |gradient| (and, for momentum, |buffer| <= |g| / (1 - mu))
    # stays far below l1 at every step: the step is lr * step_direction * D and the
    # threshold lr * l1 * D, so with the threshold scaled by the same preconditioner D
    # they are zeroed at every update, for every optimizer. Strong features survive.
    X, y = DATA["regression"]
    weak = 1e-4 * np.random.RandomState(1).standard_normal((X.shape[0], 5))
    Xn = np.hstack([X, weak])
    eta0 = dict((c[0], c[3]) for c in CASES)[optimizer]
    est = GDRegressor(optimizer=optimizer, penalty="l1", alpha=0.3, eta0=eta0, max_iter=40,
                      tol=None, shuffle=False, batch_size=MINI).fit(Xn, y)
    assert np.all(est.coef_[X.shape[1]:] == 0.0)
    assert np.any(est.coef_[:X.shape[1]] != 0.0)


# ------------------------------------------------------------------------- AdamW
@pytest.mark.parametrize("batch_size", [MINI, FULL], ids=["mini", "full"])
def test_adamw_decays_coefficients_not_intercept(batch_size):
    # With X == 0 the loss gradient of every coefficient is exactly 0, so Adam never
    # moves them and only the decoupled decay acts: w_T = w_0 (1 - lr alpha)^T. The
    # intercept follows the loss alone: identical to the run without penalty.
    rng = np.random.RandomState(0)
    X = np.zeros((N, 3))
    y = rng.standard_normal(N) + 2.0
    w0 = np.array([1.0, -2.0, 0.5])
    lr, alpha, n_epochs = 0.05, 0.3, EPOCHS[batch_size]

    def fit(penalty):
        return GDRegressor(optimizer="adamw", penalty=penalty, alpha=alpha, eta0=lr,
                           batch_size=batch_size, max_iter=n_epochs, tol=None,
                           shuffle=False).fit(X, y, coef_init=w0, intercept_init=0.5)

    est, plain = fit("l2"), fit(None)
    np.testing.assert_allclose(est.coef_, w0 * (1 - lr * alpha) ** est.t_, rtol=1e-12)
    assert est.intercept_[0] == plain.intercept_[0]
    assert abs(est.intercept_[0] - 0.5) > 0.1  # the intercept did train
    np.testing.assert_array_equal(plain.coef_, w0)


# ----------------------------------------------------------------------- averaging
@pytest.mark.parametrize("average", [True, 1, 7, 40, 1000])
@pytest.mark.parametrize("batch_size", [MINI, FULL], ids=["mini", "full"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_averaging_matches_reference(optimizer, batch_size, average):
    eta0 = {"sgd": 0.05, "momentum": 0.02, "adam": 0.05}[optimizer]
    n_epochs = EPOCHS[batch_size]
    k = 1 if average is True else average
    est = _fit_single("regression", optimizer, batch_size, n_epochs, eta0=eta0,
                      penalty="l2", alpha=0.1, average=average)
    coef, intercept, t = _reference_single("regression", R.NAMED[optimizer](), batch_size,
                                           n_epochs, lr=lambda t: eta0, l2=0.1, average=k)
    assert_agree(est, coef, intercept)
    last, last_b, _ = _reference_single("regression", R.NAMED[optimizer](), batch_size,
                                        n_epochs, lr=lambda t: eta0, l2=0.1)
    if k <= t:
        # The average differs from the last iterate, so this test could tell them apart.
        assert np.abs(coef - last).max() > 1e-3
    else:
        # Averaging not started yet: the exposed parameters are the iterate itself.
        np.testing.assert_allclose(coef, last, rtol=1e-12)


# ----------------------------------------------------------------------- schedules
# "optimal" needs alpha > 0; alpha = 0.5 keeps its first steps (~1.2) short of
# divergence for plain SGD and gives a typical weight != 1 (a non-trivial t0).
SCHEDULE_CASES = [
    ("invscaling", dict(learning_rate="invscaling", eta0=0.1, power_t=0.5),
     R.schedule("invscaling", eta0=0.1, power_t=0.5), 0.1),
    ("optimal", dict(learning_rate="optimal", eta0=0.1),
     R.schedule("optimal", alpha=0.5), 0.5),
]


@pytest.mark.parametrize("batch_size", [MINI, FULL], ids=["mini", "full"])
@pytest.mark.parametrize("problem", ["regression", "classification"])
@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "adam"])
@pytest.mark.parametrize("sched", SCHEDULE_CASES, ids=[s[0] for s in SCHEDULE_CASES])
def test_schedule_in_training_matches_reference(sched, optimizer, problem, batch_size):
    _, params, lr, alpha = sched
    n_epochs = EPOCHS[batch_size]
    est = _fit_single(problem, optimizer, batch_size, n_epochs, penalty="l2", alpha=alpha,
                      **params)
    coef, intercept, _ = _reference_single(problem, R.NAMED[optimizer](), batch_size,
                                           n_epochs, lr=lr, l2=alpha)
    assert_agree(est, coef, intercept)


# ---------------------------------------------------------------------- multiclass
MULTI_OPTIMIZERS = [
    ("sgd", "sgd", R.NAMED["sgd"], 0.05),
    ("momentum", "momentum", R.NAMED["momentum"], 0.02),
    ("adagrad", "adagrad", R.NAMED["adagrad"], 0.1),
    ("rmsprop-centered", RMSprop(centered=True), lambda: R.RMSpropRef(centered=True), 0.01),
    ("adam", "adam", R.NAMED["adam"], 0.05),
    ("adamw", "adamw", R.NAMED["adamw"], 0.05),
]


@pytest.mark.parametrize("penalty", [None, "l2"])
@pytest.mark.parametrize("batch_size", [MINI, FULL], ids=["mini", "full"])
@pytest.mark.parametrize("mode,loss", [("multinomial", "log_loss"), ("ovr", "log_loss"),
                                       ("ovr", "modified_huber")])
@pytest.mark.parametrize("case", MULTI_OPTIMIZERS, ids=[c[0] for c in MULTI_OPTIMIZERS])
def test_multiclass_matches_reference(case, mode, loss, batch_size, penalty):
    _, optimizer, make_ref, eta0 = case
    X, y = DATA["multiclass"]
    K, d = 3, X.shape[1]
    # 90 rows: 2 updates per mini epoch (the remainder of 26 joins the second batch)
    n_epochs = {MINI: 30, FULL: 60}[batch_size]
    alpha = 0.1
    est = GDClassifier(loss=loss, multi_class=mode, optimizer=optimizer, eta0=eta0,
                       penalty=penalty, alpha=alpha, batch_size=batch_size,
                       max_iter=n_epochs, tol=None, shuffle=False)
    est.fit(X, y, coef_init=np.zeros((K, d)), intercept_init=np.zeros(K))
    coef, intercept, t = R.train(X, y.astype(float), make_ref(), loss=loss, mode=mode,
                                 n_outputs=K, lr=lambda t: eta0,
                                 l2=alpha if penalty == "l2" else 0.0,
                                 batch_size=batch_size, n_epochs=n_epochs)
    assert t >= 50 and est.t_ == t
    assert est.coef_.shape == (K, d)
    assert_agree(est, coef, intercept)


def test_softmax_differs_from_ovr():
    # Guards the multiclass comparison: the two modes give clearly different models.
    X, y = DATA["multiclass"]
    a, _, _ = R.train(X, y.astype(float), R.AdamRef(), loss="log_loss", mode="multinomial",
                      n_outputs=3, lr=lambda t: 0.05, batch_size=MINI, n_epochs=20)
    b, _, _ = R.train(X, y.astype(float), R.AdamRef(), loss="log_loss", mode="ovr",
                      n_outputs=3, lr=lambda t: 0.05, batch_size=MINI, n_epochs=20)
    assert np.abs(a - b).max() > 0.05


# ------------------------------------------------------------- sample weights
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_sample_weights_and_zero_weight_batch(optimizer):
    # Weighted batch sums over the batch's expected weight (its rows times the mean
    # weight, tests/_reference.py); an all-zero-weight batch (rows 32..63) makes no update
    # and does not advance t.
    X, y = DATA["regression"]
    sw = np.random.RandomState(3).uniform(0.2, 3.0, N)
    sw[32:64] = 0.0
    est = GDRegressor(optimizer=optimizer, eta0=0.05, penalty="l2", alpha=0.1,
                      batch_size=MINI, max_iter=20, tol=None, shuffle=False)
    est.fit(X, y, coef_init=np.zeros(X.shape[1]), intercept_init=0.0, sample_weight=sw)
    coef, intercept, t = R.train(X, y, R.NAMED[optimizer](), lr=lambda t: 0.05, l2=0.1,
                                 batch_size=MINI, n_epochs=20, sample_weight=sw)
    assert est.t_ == t == 40  # 100 rows: batches 0-31, 32-63 (no weight), 64-99
    assert_agree(est, coef, intercept)


# -------------------------------------------------------------- parameter objects
PARAM_CASES = [
    (SGD, dict(momentum=0.5, dampening=0.1, nesterov=False)),
    (Adagrad, dict(eps=1e-6, initial_accumulator_value=0.3)),
    (Adadelta, dict(rho=0.95, eps=1e-5)),
    (RMSprop, dict(rho=0.9, eps=1e-7, centered=True, momentum=0.3)),
    (Adam, dict(beta1=0.8, beta2=0.99, eps=1e-7, amsgrad=True)),
    (AdamW, dict(beta1=0.8, beta2=0.99, eps=1e-7, amsgrad=False)),
]


@pytest.mark.parametrize("cls,params", PARAM_CASES, ids=[c[0].__name__ for c in PARAM_CASES])
def test_get_set_params_and_clone(cls, params):
    default = cls()
    assert set(default.get_params()) == set(params)
    opt = cls(**params)
    assert opt.get_params() == params
    copy = clone(opt)
    assert copy is not opt and type(copy) is cls and copy.get_params() == params
    changed = {k: (not v if isinstance(v, bool) else v / 2) for k, v in params.items()}
    assert opt.set_params(**changed) is opt
    assert opt.get_params() == changed
    assert copy.get_params() == params  # the clone is independent
    assert get_optimizer(copy) is not copy


def test_nested_params_through_estimator():
    est = GDClassifier(optimizer=Adam())
    assert est.get_params()["optimizer__beta1"] == 0.9
    est.set_params(optimizer__beta1=0.7)
    assert est.optimizer.beta1 == 0.7
    c = clone(est)
    assert c.optimizer is not est.optimizer and c.optimizer.beta1 == 0.7
    # A named optimizer becomes the object it stands for.
    named = GDClassifier(optimizer="nesterov").set_params(optimizer__momentum=0.5)
    assert isinstance(named.optimizer, SGD)
    assert named.optimizer.get_params() == dict(momentum=0.5, dampening=0.0, nesterov=True)
    with pytest.raises(ValueError, match="beta1"):
        GDClassifier(optimizer="sgd").set_params(optimizer__beta1=0.5)


def test_set_params_changes_training():
    # The hyper-parameter set through the estimator is the one the kernel uses.
    est = _fit_single("classification", "adam", MINI, EPOCHS[MINI], eta0=0.05, penalty=None)
    est.set_params(optimizer__beta1=0.5, optimizer__beta2=0.9)
    X, y = DATA["classification"]
    est.fit(X, y, coef_init=np.zeros((1, X.shape[1])), intercept_init=0.0)
    coef, intercept, _ = _reference_single("classification", R.AdamRef(beta1=0.5, beta2=0.9),
                                           MINI, EPOCHS[MINI], lr=lambda t: 0.05)
    assert_agree(est, coef, intercept)


@pytest.mark.parametrize("named", sorted(R.NAMED))
def test_named_optimizers_resolve(named):
    opt = get_optimizer(named)
    assert isinstance(opt, Optimizer)
    expected = {
        "sgd": (SGD, {}), "momentum": (SGD, {"momentum": 0.9}),
        "nesterov": (SGD, {"momentum": 0.9, "nesterov": True}), "adagrad": (Adagrad, {}),
        "adadelta": (Adadelta, {}), "rmsprop": (RMSprop, {}), "adam": (Adam, {}),
        "adamw": (AdamW, {}),
    }[named]
    assert type(opt) is expected[0]
    assert opt.get_params() == expected[0](**expected[1]).get_params()


INVALID = [
    SGD(nesterov=True),  # Nesterov needs momentum
    SGD(momentum=0.9, dampening=0.1, nesterov=True),  # ... and no dampening
    SGD(momentum=-0.1),
    SGD(momentum=1.0),
    SGD(dampening=1.5),
    Adagrad(eps=-1e-10),
    Adagrad(initial_accumulator_value=-1.0),
    Adadelta(rho=1.5),
    Adadelta(eps=0.0),  # eps is inside the square roots of both accumulators
    Adadelta(eps=-1e-6),
    RMSprop(rho=-0.1),
    RMSprop(eps=-1e-8),
    RMSprop(momentum=-0.5),
    Adam(beta1=1.0),
    Adam(beta2=-0.1),
    Adam(eps=-1e-8),
    AdamW(beta1=1.5),
    # eps divides: 0 fails on the first zero gradient (ZeroDivisionError in the kernel)
    Adagrad(eps=0.0),
    RMSprop(eps=0.0),
    Adam(eps=0.0),
    AdamW(eps=0.0),
]


@pytest.mark.parametrize("opt", INVALID, ids=repr)
def test_invalid_hyperparameters_raise(opt):
    with pytest.raises(ValueError):
        get_optimizer(opt)
    X, y = DATA["classification"]
    with pytest.raises(ValueError):
        GDClassifier(optimizer=opt, max_iter=1).fit(X, y)


def test_unknown_optimizer_name_raises():
    with pytest.raises(ValueError, match="adamx"):
        get_optimizer("adamx")
    X, y = DATA["classification"]
    with pytest.raises(ValueError):
        GDClassifier(optimizer="adamx", max_iter=1).fit(X, y)


# ------------------------------------------------------------ user-defined optimizer
@njit
def _adamax_update(g, theta, state, k, j, lr, t, hp):
    # AdaMax (Kingma & Ba, sec. 7.1): infinity-norm second moment.
    b1 = hp[0]
    m = b1 * state[0, k, j] + (1.0 - b1) * g
    u = max(hp[1] * state[1, k, j], abs(g))
    state[0, k, j] = m
    state[1, k, j] = u
    D = 1.0 / ((1.0 - b1**t) * (u + hp[2]))
    theta[k, j] -= lr * m * D
    return D


class AdaMax(Optimizer):
    """A user optimizer, written as the skgd.optimizers module docstring shows."""

    update = staticmethod(_adamax_update)

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8):
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps

    def n_slots(self):
        return 2

    def hyperparameters(self):
        return np.array([self.beta1, self.beta2, self.eps], dtype=np.float64)


class AdaMaxRef:
    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8):
        self.b1, self.b2, self.eps = beta1, beta2, eps

    def init(self, shape):
        self.m = np.zeros(shape)
        self.u = np.zeros(shape)

    def step(self, g, theta, lr, t):
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.u = np.maximum(self.b2 * self.u, np.abs(g))
        D = 1.0 / ((1 - self.b1**t) * (self.u + self.eps))
        theta -= lr * self.m * D
        return D


def test_user_defined_optimizer():
    X, y = DATA["classification"]
    opt = AdaMax(beta1=0.8)
    assert clone(opt).get_params() == {"beta1": 0.8, "beta2": 0.999, "eps": 1e-8}
    alpha, l1_ratio = 0.05, 0.5  # elasticnet: the L2 gradient and the L1 prox with D
    est = GDClassifier(optimizer=opt, eta0=0.05, penalty="elasticnet", alpha=alpha,
                       l1_ratio=l1_ratio, batch_size=MINI, max_iter=EPOCHS[MINI], tol=None,
                       shuffle=False)
    est.fit(X, y, coef_init=np.zeros((1, X.shape[1])), intercept_init=0.0)
    coef, intercept, _ = _reference_single("classification", AdaMaxRef(beta1=0.8), MINI,
                                           EPOCHS[MINI], lr=lambda t: 0.05,
                                           l2=alpha * (1 - l1_ratio), l1=alpha * l1_ratio)
    assert_agree(est, coef, intercept)
    assert est.score(X, y) > 0.85


def test_user_optimizer_state_carries_over_only_with_the_same_hyperparameters():
    # What a user rule keeps in its slots may depend on any hyper-parameter: by default
    # a fitted state is continued only by an equal optimizer (state_layout() can say
    # which settings matter).
    from skgd._base import _optimizer_key

    assert _optimizer_key(AdaMax(beta1=0.8)) == _optimizer_key(AdaMax(beta1=0.8))
    assert _optimizer_key(AdaMax(beta1=0.8)) != _optimizer_key(AdaMax())

    class LooseAdaMax(AdaMax):
        def state_layout(self):
            return ()

    assert _optimizer_key(LooseAdaMax(beta1=0.8)) == _optimizer_key(LooseAdaMax())
    assert _optimizer_key(LooseAdaMax()) != _optimizer_key(AdaMax())


def test_user_optimizer_without_update_raises():
    class Broken(Optimizer):
        def n_slots(self):
            return 0

    X, y = DATA["classification"]
    with pytest.raises(TypeError, match="update"):
        GDClassifier(optimizer=Broken(), max_iter=1).fit(X, y)


@pytest.mark.parametrize("optimizer,eta0", [("sgd", 0.05), ("momentum", 0.01),
                                            ("nesterov", 0.01), ("adam", 0.01),
                                            ("rmsprop_momentum", 0.001)])
def test_full_batch_l1_reaches_lasso(optimizer, eta0):
    """The proximal fixed point is the Lasso optimum for the same alpha, also with
    momentum (whose steady-state gain scales the threshold)."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Lasso
    from sklearn.preprocessing import StandardScaler

    from skgd.optimizers import RMSprop

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = (y - y.mean()) / y.std()
    alpha = 0.02
    opt = RMSprop(momentum=0.5) if optimizer == "rmsprop_momentum" else optimizer
    est = GDRegressor(penalty="l1", alpha=alpha, optimizer=opt, eta0=eta0,
                      learning_rate="constant", batch_size=10**9, max_iter=4000, random_state=0,
                      tol=None).fit(X, y)
    ref = Lasso(alpha=alpha, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=2e-3)
    np.testing.assert_array_equal(est.coef_ == 0, ref.coef_ == 0)


# ---------------------------------------------- whole-slice updates vs the element rule
@njit
def _sgd_element(g, theta, state, k, j, lr, t, hp):
    theta[k, j] -= lr * g
    return 1.0


@njit
def _adam_element(g, theta, state, k, j, lr, t, hp):
    # builtin_update's Adam, stated as a user rule: the kernel then steps coordinate
    # by coordinate instead of over whole slices.
    b1 = hp[0]
    b2 = hp[1]
    m = b1 * state[0, k, j] + (1.0 - b1) * g
    v = b2 * state[1, k, j] + (1.0 - b2) * g * g
    state[0, k, j] = m
    state[1, k, j] = v
    D = 1.0 / (math.sqrt(v / (1.0 - b2 ** t)) + hp[2])
    theta[k, j] -= lr * (m / (1.0 - b1 ** t)) * D
    return D


class _ElementSGD(Optimizer):
    update = staticmethod(_sgd_element)

    def hyperparameters(self):
        return np.zeros(1)


class _ElementAdam(Optimizer):
    update = staticmethod(_adam_element)

    def __init__(self, decoupled=False):
        self.decoupled = decoupled

    @property
    def decoupled_weight_decay(self):
        return self.decoupled

    def n_slots(self):
        return 2

    def hyperparameters(self):
        return np.array([0.9, 0.999, 1e-8, 0.0])


@pytest.mark.parametrize("builtin, element", [
    ("sgd", _ElementSGD()),
    ("adam", _ElementAdam()),
    ("adamw", _ElementAdam(decoupled=True)),
])
@pytest.mark.parametrize("multi_class", ["binary", "multinomial"])
@pytest.mark.parametrize("extra", [
    dict(alpha=0.0),
    dict(alpha=1e-2),
    dict(alpha=1e-2, penalty="elasticnet", l1_ratio=0.5),  # the L1 proximal step
    dict(alpha=1e-3, average=10),  # averaging from the 10th step
], ids=["no-penalty", "l2", "elasticnet", "average"])
def test_slice_updates_equal_the_element_rule(builtin, element, multi_class, extra):
    # Built-in SGD and Adam step whole slices of coefficients at once; a user rule with
    # the same arithmetic goes through the per-coordinate loop. They agree to rounding
    # (the two loops are compiled differently; a wrong term would show at 1e-6).
    X, y = make_classification(n_samples=300, n_features=12, n_informative=5,
                               n_classes=2 if multi_class == "binary" else 3,
                               random_state=0)
    params = dict(eta0=0.05 if builtin == "sgd" else 0.01, batch_size=16, max_iter=4,
                  tol=None, random_state=0, **extra)
    if multi_class != "binary":
        params["multi_class"] = multi_class
    a = GDClassifier(optimizer=builtin, **params).fit(X, y)
    b = GDClassifier(optimizer=element, **params).fit(X, y)
    assert np.abs(a.coef_).max() > 0.05  # it trained
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-12, atol=1e-14)
