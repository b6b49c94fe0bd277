"""Step-size schedules: the kernel's ``learning_rate(code, params, t)``, the adaptive
schedule's divisions in the training loop, and schedule objects in fit / clone /
get_params, each against the plain formulas of ``_reference.py`` (from DESIGN.md)."""

import math
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import GridSearchCV

from skgd import GDClassifier, GDRegressor
from skgd._base import MIN_CHECK_UPDATES
from skgd._kernels import _codes as C
from skgd._kernels import learning_rate
from skgd.schedules import (
    Adaptive,
    Constant,
    Cosine,
    Exponential,
    InvScaling,
    Optimal,
    Plateau,
    WarmUp,
    get_schedule,
)


import _skgd_test_reference as R  # noqa: E402  (registered by conftest.py)

STEPS = [1, 2, 3, 7, 10, 11, 50, 99, 100, 101, 1000, 12345]


def _diabetes(n=100):
    X, y = load_diabetes(return_X_y=True)
    idx = np.random.RandomState(0).choice(len(y), n, replace=False)
    X = X[idx]
    return (X - X.mean(axis=0)) / X.std(axis=0), y[idx] / y[idx].std()


X, Y = _diabetes()


# -------------------------------------------------------------- kernel formulas
# (id, schedule (name or object), estimator params, reference kwargs, code)
SCHEDULES = [
    ("constant", "constant", dict(eta0=0.05), dict(eta0=0.05), C.SCHED_CONSTANT),
    ("constant-object", Constant(), dict(eta0=0.05), dict(eta0=0.05), C.SCHED_CONSTANT),
    ("invscaling", "invscaling", dict(eta0=0.05, power_t=0.25),
     dict(eta0=0.05, power_t=0.25), C.SCHED_INVSCALING),
    # The object's power_t overrides the estimator's.
    ("invscaling-object", InvScaling(power_t=0.6), dict(eta0=0.05, power_t=0.25),
     dict(eta0=0.05, power_t=0.6), C.SCHED_INVSCALING),
    ("optimal-1e-4", "optimal", dict(alpha=1e-4), dict(alpha=1e-4), C.SCHED_OPTIMAL),
    ("optimal-0.01", Optimal(), dict(alpha=0.01), dict(alpha=0.01), C.SCHED_OPTIMAL),
    ("optimal-0.5", "optimal", dict(alpha=0.5), dict(alpha=0.5), C.SCHED_OPTIMAL),
    ("exponential", Exponential(gamma=0.99), dict(eta0=0.05),
     dict(eta0=0.05, gamma=0.99), C.SCHED_EXPONENTIAL),
    ("exponential-name", "exponential", dict(eta0=0.05), dict(eta0=0.05, gamma=0.999),
     C.SCHED_EXPONENTIAL),
    ("cosine", Cosine(period=100, eta_min=0.001), dict(eta0=0.05),
     dict(eta0=0.05, period=100, eta_min=0.001), C.SCHED_COSINE),
    ("cosine-name", "cosine", dict(eta0=0.05), dict(eta0=0.05, period=1000, eta_min=0.0),
     C.SCHED_COSINE),
    ("warmup", WarmUp(steps=10), dict(eta0=0.05), dict(eta0=0.05, steps=10),
     C.SCHED_WARMUP),
    ("adaptive", "adaptive", dict(eta0=0.05), dict(eta0=0.05), C.SCHED_CONSTANT),
    ("plateau", "plateau", dict(eta0=0.05), dict(eta0=0.05), C.SCHED_CONSTANT),
    ("plateau-object", Plateau(factor=10, patience=2), dict(eta0=0.05), dict(eta0=0.05),
     C.SCHED_CONSTANT),
]
SCHED_IDS = [s[0] for s in SCHEDULES]


def _ref_name(sched):
    if isinstance(sched, str):
        return sched
    return {Constant: "constant", Adaptive: "adaptive", Plateau: "plateau",
            InvScaling: "invscaling",
            Optimal: "optimal", Exponential: "exponential", Cosine: "cosine",
            WarmUp: "warmup"}[type(sched)]


@pytest.mark.parametrize("row", SCHEDULES, ids=SCHED_IDS)
def test_kernel_learning_rate_matches_formula(row):
    _, sched, est_params, ref_kwargs, code = row
    est = GDRegressor(learning_rate=sched, **est_params)
    obj = get_schedule(sched)
    kcode, params = obj.kernel_args(est, est.eta0)
    assert kcode == code
    ref = R.schedule(_ref_name(sched), **ref_kwargs)
    got = np.array([learning_rate(kcode, params, float(t)) for t in STEPS])
    expected = np.array([ref(t) for t in STEPS])
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    assert np.all(got > 0)


def test_schedule_shapes():
    # Landmarks of the non-constant schedules, independent of the reference code.
    est = GDRegressor(eta0=0.1, alpha=0.01)

    def lr(sched, t):
        code, params = sched.kernel_args(est, est.eta0)
        return learning_rate(code, params, float(t))

    cos = Cosine(period=10, eta_min=0.02)
    assert lr(cos, 1) == pytest.approx(0.1)  # starts at eta0
    assert lr(cos, 6) == pytest.approx(0.06)  # half-way: the mean of eta0 and eta_min
    assert lr(cos, 11) == pytest.approx(0.1)  # warm restart after `period` updates
    assert lr(cos, 10) < lr(cos, 9) < lr(cos, 2)
    warm = WarmUp(steps=4)
    assert [lr(warm, t) for t in (1, 2, 4, 5, 100)] == pytest.approx(
        [0.025, 0.05, 0.1, 0.1, 0.1])
    assert lr(Exponential(gamma=0.5), 3) == pytest.approx(0.025)
    assert lr(InvScaling(power_t=0.5), 4) == pytest.approx(0.05)
    # optimal: typw = sqrt(1 / sqrt(0.01)) = sqrt(10), t0 = 1 / (typw alpha).
    t0 = 1.0 / (math.sqrt(10.0) * 0.01)
    assert lr(Optimal(), 1) == pytest.approx(1.0 / (0.01 * t0))
    assert lr(Optimal(), 50) == pytest.approx(1.0 / (0.01 * (t0 + 49)))


@pytest.mark.parametrize("alpha", [1e-4, 0.01, 0.5])
def test_optimal_matches_sklearn_sgd(alpha):
    # scikit-learn's own step sizes, observed: with the hinge loss from zero weights and
    # a zero feature, each violating sample moves only the intercept, by exactly eta_t.
    sk = SGDClassifier(loss="hinge", learning_rate="optimal", alpha=alpha)
    sk.partial_fit([[0.0]], [1], classes=[0, 1])
    eta1 = sk.intercept_[0]
    sk.partial_fit([[0.0]], [0])  # margin -eta1 < 1 for the negative class: violation
    eta2 = eta1 - sk.intercept_[0]
    est = GDClassifier(alpha=alpha)
    code, params = Optimal().kernel_args(est, est.eta0)
    assert learning_rate(code, params, 1.0) == pytest.approx(eta1, rel=1e-12)
    assert learning_rate(code, params, 2.0) == pytest.approx(eta2, rel=1e-12)


def test_optimal_requires_alpha():
    with pytest.raises(ValueError, match="alpha"):
        GDRegressor(learning_rate="optimal", alpha=0.0, max_iter=1).fit(X, Y)


@pytest.mark.parametrize("bad", [Cosine(period=0), Cosine(eta_min=-0.1),
                                 Exponential(gamma=0.0), Exponential(gamma=1.5),
                                 WarmUp(steps=0), Plateau(factor=1.0),
                                 Plateau(factor=0.5), Plateau(patience=0), "bogus"],
                         ids=repr)
def test_invalid_schedules_raise(bad):
    with pytest.raises(ValueError):
        GDRegressor(learning_rate=bad, max_iter=1).fit(X, Y)


# --------------------------------------------------------- schedules in training
class _Recorder:
    """Callback keeping each epoch's info dict."""

    def __init__(self):
        self.infos = []

    def __call__(self, est, info):
        self.infos.append(dict(info))
        return False


FIT_SCHEDULES = [
    ("cosine", Cosine(period=7, eta_min=0.005), dict(period=7, eta_min=0.005)),
    ("exponential", Exponential(gamma=0.97), dict(gamma=0.97)),
    ("warmup", WarmUp(steps=20), dict(steps=20)),
    ("invscaling", InvScaling(power_t=0.6), dict(power_t=0.6)),
    ("constant", Constant(), {}),
]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("row", FIT_SCHEDULES, ids=[r[0] for r in FIT_SCHEDULES])
def test_schedule_object_in_fit(row, optimizer):
    name, sched, kwargs = row
    # 3 updates per epoch: the remainder of 4 rows joins the last batch (36 rows).
    eta0, epochs, batch = 0.05, 20, 32
    rec = _Recorder()
    est = GDRegressor(optimizer=optimizer, learning_rate=sched, eta0=eta0, penalty="l2",
                      alpha=0.1, batch_size=batch, max_iter=epochs, tol=None,
                      shuffle=False, callback=rec)
    est.fit(X, Y, coef_init=np.zeros(X.shape[1]), intercept_init=0.0)
    lr = R.schedule(name, eta0=eta0, **kwargs)
    coef, intercept, t = R.train(X, Y, R.NAMED[optimizer](), lr=lr, l2=0.1,
                                 batch_size=batch, n_epochs=epochs)
    assert est.t_ == t == 60
    scale = np.abs(coef).max()
    assert scale > 1e-2
    np.testing.assert_allclose(est.coef_, coef[0], rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_allclose(est.intercept_, intercept, rtol=1e-9, atol=1e-9 * scale)
    # The callback reports the step size of the epoch's last update.
    reported = [info["learning_rate"] for info in rec.infos]
    np.testing.assert_allclose(reported, [lr(info["t"]) for info in rec.infos], rtol=1e-13)
    assert [info["t"] for info in rec.infos] == list(range(3, 61, 3))
    # fit resolved the object without modifying it.
    assert est.learning_rate is sched and est.learning_rate.get_params() == sched.get_params()


@pytest.mark.parametrize("row", FIT_SCHEDULES[:4], ids=[r[0] for r in FIT_SCHEDULES[:4]])
def test_schedule_resumes_across_partial_fit(row):
    # t keeps counting across partial_fit calls: two one-epoch calls equal a 2-epoch fit.
    _, sched, _ = row
    params = dict(optimizer="adam", learning_rate=sched, eta0=0.05, batch_size=16,
                  shuffle=False, tol=None)
    full = GDRegressor(max_iter=2, **params).fit(X, Y)
    part = GDRegressor(**params)
    part.partial_fit(X, Y)
    part.partial_fit(X, Y)
    assert part.t_ == full.t_ == 12  # 100 rows: 5 batches of 16 and one of 20
    np.testing.assert_allclose(part.coef_, full.coef_, rtol=1e-12)
    np.testing.assert_allclose(part.intercept_, full.intercept_, rtol=1e-12)


def test_schedule_params_get_set_clone():
    est = GDClassifier(learning_rate=Cosine(period=50, eta_min=0.001))
    params = est.get_params()
    assert params["learning_rate__period"] == 50
    assert params["learning_rate__eta_min"] == 0.001
    est.set_params(learning_rate__period=80)
    assert est.learning_rate.period == 80
    c = clone(est)
    assert c.learning_rate is not est.learning_rate
    assert c.learning_rate.get_params() == {"period": 80, "eta_min": 0.001}
    assert clone(WarmUp(steps=7)).get_params() == {"steps": 7}
    assert clone(Exponential(gamma=0.9)).get_params() == {"gamma": 0.9}
    assert clone(InvScaling(power_t=0.3)).get_params() == {"power_t": 0.3}


@pytest.mark.parametrize("params, match", [
    ({"learning_rate__gamma": 0.5},
     r"learning_rate='exponential' is a schedule name.*Exponential\(gamma=\.\.\.\)"),
    ({"learning_rate": "cosine", "learning_rate__period": 10},
     r"learning_rate='cosine'.*skgd\.schedules\.Cosine\(period=\.\.\.\)"),
    ({"learning_rate__period": 10}, r"Exponential, has the parameters \['gamma'\]"),
    ({"learning_rate": "constant", "learning_rate__gamma": 0.5},
     r"Constant, has no parameters"),
    ({"loss__delta": 1.0}, r"loss='squared_error' is not an object with parameters"),
], ids=["param-of-the-name", "name-set-in-the-same-call", "param-of-another-schedule",
        "schedule-without-params", "loss-name"])
def test_nested_params_of_a_named_schedule_raise(params, match):
    # A name has no parameters: a clear ValueError (scikit-learn's set_params would
    # fail with AttributeError: 'str' object has no attribute 'set_params'), and the
    # failed call changes nothing.
    est = GDRegressor(learning_rate="exponential")
    before = est.get_params()
    with pytest.raises(ValueError, match=match):
        est.set_params(**params)
    assert est.get_params() == before
    # A schedule object given in the same call takes the nested parameter.
    est.set_params(learning_rate=Exponential(), learning_rate__gamma=0.5)
    assert est.learning_rate.gamma == 0.5


def test_schedule_objects_as_grid_axis():
    grid = {"learning_rate": [Cosine(period=20), WarmUp(steps=5), "invscaling"]}
    search = GridSearchCV(GDRegressor(max_iter=5, tol=None, random_state=0), grid, cv=2)
    search.fit(X, Y)
    assert len(search.cv_results_["params"]) == 3
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    # The grid's objects are cloned into the estimators, never shared.
    assert all(search.best_estimator_.learning_rate is not obj
               for obj in grid["learning_rate"])
    assert grid["learning_rate"][0].get_params() == {"period": 20, "eta_min": 0.0}


# ------------------------------------------------------------------ adaptive
def _round_epochs(n_rows, batch_size):
    """Epochs per round of the tol rule: rounds hold MIN_CHECK_UPDATES updates or more."""
    per_epoch = max(1, n_rows // min(batch_size, n_rows))
    return -(-MIN_CHECK_UPDATES // per_epoch)


def _round_ends(objectives, round_epochs):
    """Per epoch, the best objective of its round at the round's last epoch, else None."""
    best = np.inf
    for epoch, obj in enumerate(objectives, 1):
        best = min(best, obj)
        if epoch % round_epochs:
            yield None
        else:
            yield best
            best = np.inf


def _expected_adaptive_etas(objectives, eta0, tol, n_iter_no_change, round_epochs=1):
    """Replay DESIGN.md's rule on the recorded objectives: the rate of each epoch.

    eta is divided by 5 each time ``n_iter_no_change`` consecutive rounds of
    ``round_epochs`` epochs fail to improve the best objective by ``tol`` (a round's
    objective is its best epoch's); once it would stay above 1e-6 no more
    (scikit-learn's floor), training stops instead.
    """
    eta, best, bad, etas = eta0, np.inf, 0, []
    for obj in _round_ends(objectives, round_epochs):
        etas.append(eta)
        if obj is None:
            continue
        bad = 0 if obj < best - tol else bad + 1
        best = min(best, obj)
        if bad >= n_iter_no_change:
            if eta <= 1e-6:
                break
            eta /= 5.0
            bad = 0
    return etas


def _adaptive_rates(eta0, n_no):
    # epochs 1..n_no+1 at eta0 (1 improving + n_no failing), then n_no epochs per
    # division, until the rate is below 1e-6.
    expected, eta = [eta0] * (n_no + 1), eta0
    while eta > 1e-6:
        eta /= 5
        expected += [eta] * n_no
    return expected


def _plateau_rates(eta0, n_no):
    # Epoch 1 improves; epoch e >= 2 fails and divides the rate of epoch e + 1; the fit
    # stops after n_no failing epochs.
    return [eta0] + [eta0 / 5.0**k for k in range(n_no)]


@pytest.mark.parametrize("learning_rate, n_no, rates", [
    ("adaptive", 2, _adaptive_rates), ("plateau", 4, _plateau_rates)])
def test_rate_divisions_on_a_plateau(learning_rate, n_no, rates):
    # tol so large that only the first round counts as an improvement; the fit stops by
    # itself, and the updates used the divided rates (reference SGD, same schedule).
    # 100 rows in batches of 32 make 3 updates an epoch: rounds of 4 epochs.
    eta0 = 0.01
    rec = _Recorder()
    est = GDRegressor(optimizer="sgd", learning_rate=learning_rate, eta0=eta0, tol=1e9,
                      penalty=None, batch_size=32, n_iter_no_change=n_no, max_iter=100,
                      shuffle=False, callback=rec)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, Y, coef_init=np.zeros(X.shape[1]), intercept_init=0.0)
    reported = [info["learning_rate"] for info in rec.infos]
    round_epochs = _round_epochs(X.shape[0], 32)
    assert round_epochs == 4
    expected = list(np.repeat(rates(eta0, n_no), round_epochs))
    np.testing.assert_allclose(reported, expected, rtol=1e-12)
    assert est.n_iter_ == len(expected) < 100
    factors = [e / eta0 for e in expected]
    coef, intercept, _ = R.train(X, Y, R.SGDRef(), lr=lambda t: eta0, batch_size=32,
                                 n_epochs=len(expected), epoch_lr=lambda ep: factors[ep - 1])
    scale = np.abs(coef).max()
    np.testing.assert_allclose(est.coef_, coef[0], rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_allclose(est.intercept_, intercept, rtol=1e-9)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_adaptive_follows_objective(optimizer):
    # A realistic tol: whenever the rate changes, it is by exactly 5x, at the epochs the
    # recorded objectives say it should (replayed independently).
    rec = _Recorder()
    tol, n_no = 1e-3, 3
    est = GDRegressor(optimizer=optimizer, learning_rate="adaptive", eta0=0.05, tol=tol,
                      n_iter_no_change=n_no, max_iter=80, batch_size=16, random_state=0,
                      callback=rec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, Y)
    objectives = [info["objective"] for info in rec.infos]
    reported = [info["learning_rate"] for info in rec.infos]
    expected = _expected_adaptive_etas(objectives, 0.05, tol, n_no, _round_epochs(len(Y), 16))
    np.testing.assert_allclose(reported, expected[:len(reported)], rtol=1e-12)
    assert len(set(np.round(np.log(reported) / np.log(5), 9))) >= 2  # it did divide


def test_adaptive_visible_in_verbose_output(capsys):
    # Rounds of 4 epochs (3 updates each): the first improves, each later one cuts.
    est = GDRegressor(optimizer="sgd", learning_rate="adaptive", eta0=0.01, tol=1e9,
                      n_iter_no_change=1, max_iter=16, shuffle=False, verbose=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, Y)
    out = capsys.readouterr().out
    assert "learning rate: 0.01," in out
    assert "learning rate: 0.002," in out
    assert "learning rate: 0.0004," in out


# ------------------------------------------------------------------- plateau
def _expected_plateau_etas(objectives, eta0, tol, n_iter_no_change, factor, patience,
                           round_epochs=1):
    """Replay the plateau rule on the recorded objectives: the rate of each epoch.

    Every ``patience`` consecutive rounds (of ``round_epochs`` epochs, judged by their
    best epoch) that fail to improve the best objective by ``tol`` divide eta by
    ``factor``; training stops after ``n_iter_no_change`` consecutive such rounds,
    cuts included.
    """
    eta, best, bad, etas = eta0, np.inf, 0, []
    for obj in _round_ends(objectives, round_epochs):
        etas.append(eta)
        if obj is None:
            continue
        bad = 0 if obj < best - tol else bad + 1
        best = min(best, obj)
        if bad >= n_iter_no_change:
            break
        if bad > 0 and bad % patience == 0:
            eta /= factor
    return etas


@pytest.mark.parametrize("learning_rate, factor, patience", [
    ("plateau", 5.0, 1), (Plateau(factor=10, patience=2), 10.0, 2),
    (Plateau(factor=2.5, patience=3), 2.5, 3)])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("batch_size", [16, 8])  # rounds of 2 epochs, and of one
def test_plateau_follows_objective(learning_rate, factor, patience, optimizer, batch_size):
    rec = _Recorder()
    tol, n_no = 1e-3, 6
    est = GDRegressor(optimizer=optimizer, learning_rate=learning_rate, eta0=0.05, tol=tol,
                      n_iter_no_change=n_no, max_iter=200, batch_size=batch_size,
                      random_state=0, callback=rec)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # it stops by itself
        est.fit(X, Y)
    objectives = [info["objective"] for info in rec.infos]
    reported = [info["learning_rate"] for info in rec.infos]
    expected = _expected_plateau_etas(objectives, 0.05, tol, n_no, factor, patience,
                                      _round_epochs(len(Y), batch_size))
    assert len(expected) == len(reported) == est.n_iter_  # stopped where the rule says
    np.testing.assert_allclose(reported, expected, rtol=1e-12)
    assert min(reported) < 0.05  # it did divide


def test_plateau_on_validation_score():
    # With early stopping the plateau follows the validation score, and the best model
    # seen is the one kept.
    rec = _Recorder()
    est = GDRegressor(learning_rate="plateau", early_stopping=True, n_iter_no_change=4,
                      random_state=0, callback=rec).fit(X, Y)
    scores = [info["validation_score"] for info in rec.infos]
    reported = [info["learning_rate"] for info in rec.infos]
    # Replay on negated scores: "improve" means a higher score by tol; the rounds hold
    # 10 updates or more (epoch 1 of this fresh fit made t of them).
    round_epochs = -(-MIN_CHECK_UPDATES // rec.infos[0]["t"])
    assert round_epochs > 1
    expected = _expected_plateau_etas([-v for v in scores], est.eta0, est.tol, 4, 5.0, 1,
                                      round_epochs)
    np.testing.assert_allclose(reported, expected, rtol=1e-12)
    assert est.best_score_ == max(scores)


@pytest.mark.parametrize("optimizer", ["adam", "momentum", "sgd"])
@pytest.mark.parametrize("batch_size", [128, 10_000])
def test_few_updates_per_epoch_do_not_stop_early(optimizer, batch_size):
    # Standardized diabetes in 3 batches or one: the tol rule judged single epochs, and
    # the first steps of momentum and Adam overshoot, so the default regressor stopped
    # after 8-11 full-batch updates, 15% (adam) and 41% (momentum) above the Ridge
    # optimum, without a warning. Judged on rounds of 10 updates it gets within 1%.
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    X_all, y_all = load_diabetes(return_X_y=True)
    X_all = StandardScaler().fit_transform(X_all)
    alpha = 1e-4

    def objective(coef, intercept):
        r = X_all @ coef + intercept - y_all
        return 0.5 * np.mean(r * r) + 0.5 * alpha * coef @ coef

    ridge = Ridge(alpha=alpha * len(y_all)).fit(X_all, y_all)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = GDRegressor(optimizer=optimizer, batch_size=batch_size, alpha=alpha,
                          random_state=0).fit(X_all, y_all)
    gap = objective(est.coef_, est.intercept_[0]) / objective(ridge.coef_, ridge.intercept_)
    assert gap - 1 < 0.01, (gap, est.n_iter_)
    assert est.t_ >= 5 * MIN_CHECK_UPDATES  # n_iter_no_change failing rounds at least
