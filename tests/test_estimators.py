"""Estimator-level behaviour: pipelines and grid search over pandas data, parameter
objects, persistence, bad input, determinism, dtypes, sparse input, warnings, shapes,
labels and weights."""

import io
import pickle
import tracemalloc
import warnings

import joblib
import numba
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import (load_breast_cancer, load_digits, make_classification,
                              make_regression)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import DivergenceError, GDClassifier, GDRegressor
from skgd import _base
from skgd.optimizers import SGD, Adagrad, Adam
from skgd.schedules import Plateau

FULL_BATCH = 10**9


# ---------------------------------------------------------------- data
@pytest.fixture(scope="module")
def cancer():
    data = load_breast_cancer(as_frame=True)
    return data.data, data.target


def _clf_data(n_samples=120, n_features=5, n_classes=2, seed=0):
    return make_classification(n_samples=n_samples, n_features=n_features,
                               n_informative=min(n_features, 3), n_redundant=0,
                               n_classes=n_classes, n_clusters_per_class=1, random_state=seed)


def _reg_data(n_samples=120, n_features=5, seed=0):
    X, y = make_regression(n_samples=n_samples, n_features=n_features, noise=1.0,
                           random_state=seed)
    return X, y / 50 + 1.0


def _poisson_data(n_samples=120, n_features=4, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_samples, n_features)
    y = rng.poisson(np.exp(0.3 * X[:, 0] - 0.2 * X[:, 1] + 0.5)).astype(np.float64)
    return X, y


# ---------------------------------------------------------------- pipelines, grid search
def _pipeline(**params):
    # pandas output carries the column names through the scaler to the estimator
    return make_pipeline(
        StandardScaler(), GDClassifier(random_state=0, max_iter=15, tol=None, **params)
    ).set_output(transform="pandas")


def test_grid_search_over_optimizer_names(cancer):
    X, y = cancer
    search = GridSearchCV(_pipeline(), {"gdclassifier__optimizer": ["sgd", "adam"]}, cv=3,
                          n_jobs=2).fit(X, y)
    assert search.best_params_["gdclassifier__optimizer"] in {"sgd", "adam"}
    assert np.all(search.cv_results_["mean_test_score"] > 0.9)
    best = search.best_estimator_[-1]
    assert best.optimizer == search.best_params_["gdclassifier__optimizer"]
    assert_array_equal(best.feature_names_in_, np.asarray(X.columns, dtype=object))
    assert best.n_features_in_ == X.shape[1]
    assert search.score(X, y) > 0.95


@pytest.mark.parametrize("optimizer", [Adam(), "adam"], ids=["object", "name"])
def test_grid_search_over_nested_optimizer_param(cancer, optimizer):
    X, y = cancer
    pipe = _pipeline(optimizer=optimizer)
    search = GridSearchCV(pipe, {"gdclassifier__optimizer__beta1": [0.8, 0.9]}, cv=3,
                          n_jobs=2).fit(X, y)
    best_beta1 = search.best_params_["gdclassifier__optimizer__beta1"]
    assert best_beta1 in {0.8, 0.9}
    assert_array_equal(search.cv_results_["param_gdclassifier__optimizer__beta1"], [0.8, 0.9])
    assert np.all(search.cv_results_["mean_test_score"] > 0.9)
    best = search.best_estimator_[-1]
    assert isinstance(best.optimizer, Adam) and best.optimizer.beta1 == best_beta1
    assert_array_equal(best.feature_names_in_, np.asarray(X.columns, dtype=object))
    # The searched pipeline and the user's optimizer are untouched.
    assert pipe[-1].optimizer is optimizer
    if isinstance(optimizer, Adam):
        assert optimizer.get_params() == Adam().get_params()


def test_feature_names_are_checked(cancer):
    X, y = cancer
    est = GDClassifier(random_state=0, max_iter=3, tol=None).fit(X / X.max(), y)
    assert_array_equal(est.feature_names_in_, np.asarray(X.columns, dtype=object))
    renamed = (X / X.max()).rename(columns=lambda c: c.upper())
    # scikit-learn >= 1.2 refuses renamed columns and warns about missing names
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(renamed)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est.predict((X / X.max()).to_numpy())
    unnamed = GDClassifier(random_state=0, max_iter=3, tol=None).fit(X.to_numpy(), y)
    assert not hasattr(unnamed, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names, but GDClassifier"):
        unnamed.predict(X)


def test_feature_names_in_pipeline_with_mismatched_columns(cancer):
    X, y = cancer
    pipe = _pipeline().fit(X, y)
    assert_array_equal(pipe[-1].feature_names_in_, np.asarray(X.columns, dtype=object))
    with pytest.raises(ValueError, match="feature names should match"):
        pipe.predict(X.rename(columns=lambda c: c + "_x"))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        pipe.predict(X.to_numpy())


@pytest.mark.parametrize(
    "optimizer, key, valid",
    [
        ("sgd", "optimizer__beta1", "momentum"),
        ("adagrad", "optimizer__momentum", "initial_accumulator_value"),
        (Adam(), "optimizer__rho", "beta1"),
        (SGD(momentum=0.5), "optimizer__eps", "dampening"),
    ],
)
@pytest.mark.parametrize("with_other", [False, True], ids=["alone", "with_alpha"])
def test_mismatched_nested_optimizer_param_raises(optimizer, key, valid, with_other):
    est = GDClassifier(optimizer=optimizer)
    before = optimizer.get_params() if not isinstance(optimizer, str) else optimizer
    other = {"alpha": 0.5, "eta0": 0.5} if with_other else {}
    with pytest.raises(ValueError, match=rf"{key}.*{valid}"):
        est.set_params(**other, **{key: 0.5})
    # The failed call changed nothing, not even the parameters given with it.
    assert est.optimizer is optimizer
    assert est.get_params(deep=False) == GDClassifier(optimizer=optimizer).get_params(deep=False)
    if not isinstance(optimizer, str):
        assert optimizer.get_params() == before


def test_mismatched_nested_param_given_with_its_optimizer_changes_nothing():
    est = GDClassifier(optimizer="adam")
    with pytest.raises(ValueError, match="optimizer 'sgd'.*momentum"):
        est.set_params(optimizer="sgd", optimizer__beta1=0.8)
    assert est.optimizer == "adam"


@pytest.mark.parametrize("params", [
    {"alpha": 5.0, "bogus": 1},
    {"eta0": 5.0, "optimizer__beta1": 0.5, "bogus": 1},
    {"learning_rate__factor": 3.0, "alpha": 2.0, "learning_rate__bogus": 1},
])
def test_failed_set_params_changes_nothing(params):
    # scikit-learn sets the parameters one by one: those before the unknown name stayed.
    est = GDClassifier(optimizer=Adam(beta1=0.8), learning_rate=Plateau(factor=4.0))
    before = pickle.dumps(est)
    with pytest.raises(ValueError, match="bogus"):
        est.set_params(**params)
    assert pickle.dumps(est) == before


def test_malformed_csr_is_refused_by_predict():
    est = GDClassifier(**_CLF).fit(_X, _YC)
    for X in (_malformed_csr(10**6), _malformed_csr(-1)):
        with pytest.raises(ValueError, match="malformed CSR"):
            est.predict(X)


def test_sparse_coef_init_is_its_dense_values():
    init = np.array([[0.5, -1.0, 0.0, 2.0]])
    a = GDClassifier(**_CLF).fit(_X, _YC, coef_init=init)
    b = GDClassifier(**_CLF).fit(_X, _YC, coef_init=sp.csr_matrix(init))
    assert_array_equal(a.coef_, b.coef_)


def test_mismatched_nested_param_in_grid_search_raises():
    X, y = _clf_data()
    search = GridSearchCV(GDClassifier(optimizer="sgd"), {"optimizer__beta1": [0.8]}, cv=2,
                          error_score="raise")
    with pytest.raises(ValueError, match="beta1.*momentum"):
        search.fit(X, y)


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"optimizer": "adam", "optimizer__beta1": 0.8}, Adam(beta1=0.8)),
        ({"optimizer": "sgd", "optimizer__momentum": 0.5}, SGD(momentum=0.5)),
        ({"optimizer": "nesterov", "optimizer__momentum": 0.7},
         SGD(momentum=0.7, nesterov=True)),
        ({"optimizer": Adagrad(), "optimizer__eps": 1e-6}, Adagrad(eps=1e-6)),
    ],
)
def test_nested_params_on_named_optimizer(params, expected):
    est = GDClassifier().set_params(**params)
    assert type(est.optimizer) is type(expected)
    assert est.optimizer.get_params() == expected.get_params()
    for key, value in params.items():
        if key.startswith("optimizer__"):
            assert est.get_params()[key] == value


def test_clone_and_fit_never_mutate_the_users_optimizer():
    X, y = _clf_data()
    opt = Adam(beta1=0.85, amsgrad=True)
    before = dict(opt.__dict__)
    est = GDClassifier(optimizer=opt, max_iter=5, tol=None, random_state=0)
    est.fit(X, y)
    est.partial_fit(X, y)
    assert est.optimizer is opt and opt.__dict__ == before
    copy = clone(est).set_params(optimizer__beta1=0.7)
    assert copy.optimizer is not opt and copy.optimizer.beta1 == 0.7
    copy.fit(X, y)
    assert est.optimizer is opt and opt.__dict__ == before


# ---------------------------------------------------------------- persistence
PERSIST_CASES = [
    ("binary", lambda: GDClassifier(random_state=0, max_iter=5, tol=None), _clf_data),
    ("multinomial", lambda: GDClassifier(random_state=0, max_iter=5, tol=None),
     lambda: _clf_data(n_classes=3)),
    ("ovr_modified_huber",
     lambda: GDClassifier(loss="modified_huber", multi_class="ovr", average=True,
                          random_state=0, max_iter=5, tol=None),
     lambda: _clf_data(n_classes=3)),
    ("regressor", lambda: GDRegressor(random_state=0, max_iter=5, tol=None), _reg_data),
    ("poisson", lambda: GDRegressor(loss="poisson", random_state=0, max_iter=5, tol=None),
     _poisson_data),
]


def _round_trip(est, how):
    if how == "pickle":
        return pickle.loads(pickle.dumps(est))
    buf = io.BytesIO()
    joblib.dump(est, buf)
    buf.seek(0)
    return joblib.load(buf)


def _outputs(est, X):
    methods = ["predict", "decision_function", "predict_proba", "predict_log_proba"]
    return {m: getattr(est, m)(X) for m in methods if hasattr(est, m)}


@pytest.mark.parametrize("how", ["pickle", "joblib"])
@pytest.mark.parametrize("name, make, data", PERSIST_CASES, ids=[c[0] for c in PERSIST_CASES])
def test_round_trip_gives_identical_outputs(name, make, data, how):
    X, y = data()
    est = make().fit(X, y)
    loaded = _round_trip(est, how)
    expected, got = _outputs(est, X), _outputs(loaded, X)
    assert expected.keys() == got.keys() and "predict" in got
    for method in expected:
        assert_array_equal(got[method], expected[method], err_msg=method)


def _state_bytes(est):
    st = est._state
    return pickle.dumps((st.theta, st.opt_state, st.avg, st.t, st.opt_t, st.eta))


@pytest.mark.parametrize("how", ["pickle", "joblib"])
@pytest.mark.parametrize(
    "params",
    [{"optimizer": "adam"}, {"optimizer": "adagrad", "average": True},
     {"optimizer": "momentum", "learning_rate": "invscaling"}, {"optimizer": "adadelta"},
     {"optimizer": "rmsprop", "multi_class": "ovr"}],
    ids=lambda p: "-".join(str(v) for v in p.values()),
)
def test_round_trip_continues_partial_fit_identically(params, how):
    X, y = _clf_data(n_samples=160, n_classes=3)
    chunks = np.array_split(np.arange(len(y)), 4)
    est = GDClassifier(random_state=0, batch_size=8, **params)
    for idx in chunks[:2]:
        est.partial_fit(X[idx], y[idx], classes=[0, 1, 2])
    loaded = _round_trip(est, how)
    assert _state_bytes(loaded) == _state_bytes(est)
    for idx in chunks[2:]:
        est.partial_fit(X[idx], y[idx])
        loaded.partial_fit(X[idx], y[idx])
    assert_array_equal(loaded.coef_, est.coef_)
    assert_array_equal(loaded.intercept_, est.intercept_)
    assert loaded.t_ == est.t_ == 4 * 5  # 40 rows per chunk, batches of 8
    assert loaded.loss_curve_ == est.loss_curve_
    assert _state_bytes(loaded) == _state_bytes(est)


# ---------------------------------------------------------------- bad input
_RNG = np.random.RandomState(0)
_X = _RNG.randn(60, 4)
_YC = (_X[:, 0] + 0.3 * _RNG.randn(60) > 0).astype(int)
_YR = _X @ np.array([1.0, -2.0, 0.5, 0.0]) + 1.0
_YP = np.round(np.exp(0.3 * _X[:, 0]) * 2)
_Y3 = np.arange(60) % 3


def _with(value, at=(3, 1)):
    X = _X.copy()
    X[at] = value
    return X


def _malformed_csr(index):
    X = sp.csr_matrix(_X)
    X.indices[5] = index  # scipy's check_format(full_check=True) refuses it
    return X


def _malformed_indptr():
    X = sp.csr_matrix(_X)
    X.indptr[3] = X.indptr[4] + 1
    return X


def _categorical_frame():
    df = pd.DataFrame(_X, columns=["a", "b", "c", "d"])
    df["d"] = pd.Categorical(np.array(["low", "mid", "high"])[np.arange(60) % 3])
    return df


# (id, estimator, methods, X, y, fit keyword arguments, error, message pattern)
# ``methods``: "fit" (on a fitted estimator: a warm_start fit), "partial_fit";
# "fit!" is a plain refit on a fitted estimator (coef_init is only read without
# warm start).
_CLF = {"random_state": 0, "max_iter": 3, "tol": None, "average": True}
_REG_SGD = {"optimizer": "sgd", "eta0": 1e-3, "random_state": 0, "max_iter": 3, "tol": None}
BAD_INPUT = [
    ("nan_X", GDClassifier(**_CLF), ("fit", "partial_fit"), _with(np.nan), _YC, {},
     ValueError, "NaN"),
    ("inf_X", GDRegressor(**_REG_SGD), ("fit", "partial_fit"), _with(np.inf), _YR, {},
     ValueError, "infinity"),
    ("nan_X_sparse", GDClassifier(**_CLF), ("fit", "partial_fit"),
     sp.csr_matrix(_with(np.nan)), _YC, {}, ValueError, "NaN"),
    ("inf_X_float32", GDRegressor(**_REG_SGD), ("fit", "partial_fit"),
     _with(-np.inf).astype(np.float32), _YR, {}, ValueError, "infinity"),
    ("1d_X", GDClassifier(**_CLF), ("fit", "partial_fit"), _X[:, 0], _YC, {},
     ValueError, "Expected 2D array"),
    ("no_samples", GDClassifier(**_CLF), ("fit", "partial_fit"), _X[:0], _YC[:0], {},
     ValueError, "0 sample"),
    ("no_features", GDRegressor(**_REG_SGD), ("fit", "partial_fit"), _X[:, :0], _YR, {},
     ValueError, "0 feature"),
    ("sparse_no_features", GDRegressor(**_REG_SGD), ("fit",), sp.csr_matrix((60, 0)), _YR,
     {}, ValueError, "feature"),
    ("single_class", GDClassifier(**_CLF), ("fit",), _X, np.zeros(60, dtype=int), {},
     ValueError, "class"),
    ("negative_weight", GDClassifier(**_CLF), ("fit", "partial_fit"), _X, _YC,
     {"sample_weight": np.r_[-1.0, np.ones(59)]}, ValueError, "Negative values"),
    ("all_zero_weights", GDRegressor(**_REG_SGD), ("fit",), _X, _YR,
     {"sample_weight": np.zeros(60)}, ValueError, "non-zero"),
    ("all_zero_weights_clf", GDClassifier(**_CLF), ("fit",), _X, _YC,
     {"sample_weight": np.zeros(60)}, ValueError, "non-zero"),
    ("string_targets", GDRegressor(**_REG_SGD), ("fit", "partial_fit"), _X,
     np.array(["low", "high"])[_YC], {}, ValueError, "numeric targets.*GDClassifier"),
    ("categorical_X", GDClassifier(**_CLF), ("fit", "partial_fit"), _categorical_frame(),
     _YC, {}, ValueError, r"\['d'\].*OneHotEncoder"),
    ("categorical_X_reg", GDRegressor(**_REG_SGD), ("fit",), _categorical_frame(), _YR, {},
     ValueError, r"\['d'\].*OneHotEncoder"),
    ("unseen_labels", GDClassifier(**_CLF), ("partial_fit",), _X, _YC + 1, {},
     ValueError, r"labels not in classes.*\[2\]"),
    ("unsortable_classes", GDClassifier(**_CLF), ("partial_fit",), _X, _YC,
     {"classes": [0, 1, None]}, ValueError, "classes must be labels of one kind"),
    # Out-of-range CSR indices crashed the process (a negative one trained on the
    # wrong column).
    ("csr_index_too_large", GDClassifier(**_CLF), ("fit", "partial_fit"),
     _malformed_csr(10**6), _YC, {}, ValueError, "malformed CSR"),
    ("csr_index_negative", GDRegressor(**_REG_SGD), ("fit", "partial_fit"),
     _malformed_csr(-2), _YR, {}, ValueError, "malformed CSR"),
    ("csr_indptr_decreasing", GDRegressor(**_REG_SGD), ("fit",), _malformed_indptr(), _YR,
     {}, ValueError, "malformed CSR"),
    ("complex_coef_init", GDClassifier(**_CLF), ("fit!",), _X, _YC,
     {"coef_init": np.ones(4) * 1j}, ValueError, "coef_init must be an array of real"),
    ("complex_intercept_init", GDRegressor(**_REG_SGD), ("fit!",), _X, _YR,
     {"intercept_init": 1j}, ValueError, "intercept_init must be an array of real"),
    # A stream's weights keep the shift of its first call: rows 1e308 times heavier
    # later overflow the weight sums.
    ("stream_weights_overflow", GDRegressor(**_REG_SGD), ("partial_fit",), _X, _YR,
     {"sample_weight": np.full(60, 1e308)}, ValueError, "sum of the sample weights"),
    ("coef_init_shape", GDClassifier(**_CLF), ("fit!",), _X, _YC,
     {"coef_init": np.zeros((2, 4))}, ValueError, r"coef_init has shape \(2, 4\)"),
    ("coef_init_shape_reg", GDRegressor(**_REG_SGD), ("fit!",), _X, _YR,
     {"coef_init": np.zeros(3)}, ValueError, r"coef_init has shape \(3,\)"),
    # A transposed or flattened matrix of the right size is not reshaped into
    # scrambled coefficients (scikit-learn refuses it too).
    ("coef_init_transposed", GDClassifier(**_CLF), ("fit!",), _X, _Y3,
     {"coef_init": np.zeros((4, 3))}, ValueError, r"coef_init has shape \(4, 3\); expected \(3, 4\)"),
    ("coef_init_flat_multiclass", GDClassifier(**_CLF), ("fit!",), _X, _Y3,
     {"coef_init": np.zeros(12)}, ValueError, r"coef_init has shape \(12,\); expected \(3, 4\)"),
    ("intercept_init_shape", GDClassifier(**_CLF), ("fit!",), _X, _YC,
     {"intercept_init": np.zeros(2)}, ValueError, "intercept_init"),
    ("poisson_negative_y", GDRegressor(loss="poisson", **_REG_SGD), ("fit", "partial_fit"),
     _X, _YR - 10, {}, ValueError, "non-negative"),
    ("n_features_changed", GDClassifier(**_CLF), ("fit", "partial_fit"), _X[:, :3], _YC, {},
     ValueError, "features"),
    ("y_val_without_X_val", GDRegressor(**_REG_SGD), ("fit",), _X, _YR, {"y_val": _YR[:10]},
     ValueError, "y_val was given without X_val"),
    ("X_val_without_y_val", GDClassifier(**_CLF), ("fit",), _X, _YC, {"X_val": _X[:10]},
     ValueError, "X_val was given without y_val"),
    ("sample_weight_val_alone", GDClassifier(**_CLF), ("fit",), _X, _YC,
     {"sample_weight_val": np.ones(10)}, ValueError, "sample_weight_val was given without"),
    ("one_row_X_val", GDRegressor(**_REG_SGD), ("fit",), _X, _YR,
     {"X_val": _X[:1], "y_val": _YR[:1]}, ValueError, r"R\^2 needs at least 2"),
    ("zero_weight_X_val", GDClassifier(**_CLF), ("fit",), _X, _YC,
     {"X_val": _X[:10], "y_val": _YC[:10], "sample_weight_val": np.zeros(10)}, ValueError,
     "Every validation row has zero weight"),
]
_GOOD_Y = {"poisson_negative_y": _YP}


def _call(est, method, X, y, kwargs, fitted):
    """Make the bad call; on a fitted estimator "fit" continues it with warm_start."""
    if method == "partial_fit":
        if not fitted and isinstance(est, GDClassifier) and "classes" not in kwargs:
            kwargs = {**kwargs, "classes": [0, 1]}
        return est.partial_fit(X, y, **kwargs)
    if fitted:
        est.set_params(warm_start=method == "fit")
    return est.fit(X, y, **kwargs)  # "fit!": a plain refit


def _unfitted_cases():
    for case in BAD_INPUT:
        for method in case[2]:
            if case[0] in {"n_features_changed", "stream_weights_overflow"}:
                continue  # needs a fitted model
            yield pytest.param(case, method.rstrip("!"), id=f"{case[0]}-{method}")


def _fitted_cases():
    for case in BAD_INPUT:
        for method in case[2]:
            yield pytest.param(case, method, id=f"{case[0]}-{method}")


@pytest.mark.parametrize("case, method", list(_unfitted_cases()))
def test_bad_input_raises_clear_error(case, method):
    _, est, _, X, y, kwargs, error, match = case
    est = clone(est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # feature-name notices
        with pytest.raises(error, match=match):
            _call(est, method, X, y, kwargs, fitted=False)
    assert not hasattr(est, "coef_") and not hasattr(est, "_state")


# (estimator, parameter, bad value, message pattern): refused by the declared
# constraints before anything is read or changed.
BAD_PARAMS = [
    (GDClassifier, "n_jobs", 0, r"'n_jobs'.*\(-inf, -1\].*\[1, inf\) or None. Got 0"),
    (GDRegressor, "n_jobs", 0, r"'n_jobs'.*\(-inf, -1\].*\[1, inf\) or None. Got 0"),
    (GDRegressor, "n_jobs", 1.5, r"'n_jobs'.*Got 1.5"),
    (GDClassifier, "eta0", -0.01, r"'eta0'.*Got -0.01"),
    (GDRegressor, "alpha", np.nan, r"'alpha'.*Got nan"),
    (GDClassifier, "learning_rate", "bogus", r"'learning_rate'.*Got 'bogus'"),
    (GDRegressor, "batch_size", 0, r"'batch_size'.*Got 0"),
    (GDClassifier, "callback", 5, r"'callback'.*Got 5"),
    (GDRegressor, "quantile", 1.5, r"'quantile'.*Got 1.5"),
]


@pytest.mark.parametrize("Est, name, value, match", BAD_PARAMS,
                         ids=[f"{c[0].__name__}-{c[1]}={c[2]}" for c in BAD_PARAMS])
def test_invalid_parameter_is_refused(Est, name, value, match):
    X, y = (_X, _YC) if Est is GDClassifier else (_X, _YR)
    # A first partial_fit validates the parameters and leaves the estimator unfitted.
    est = Est(max_iter=2, tol=None, random_state=0, **{name: value})
    kwargs = {"classes": [0, 1]} if Est is GDClassifier else {}
    with pytest.raises(ValueError, match=match):
        est.partial_fit(X, y, **kwargs)
    assert not hasattr(est, "_state")
    # A refit of a fitted estimator leaves it as it was.
    est = Est(max_iter=2, tol=None, random_state=0).fit(X, y)
    before = _snapshot(est)
    good = est.get_params()[name]
    est.set_params(**{name: value})
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    est.set_params(**{name: good})
    _assert_same(before, _snapshot(est))
    # So does a partial_fit continuing it: scikit-learn's _fit_context skips the
    # validation there, and a negative eta0 ascended the gradient.
    est.partial_fit(X, y)
    before = _snapshot(est)
    est.set_params(**{name: value})
    with pytest.raises(ValueError, match=match):
        est.partial_fit(X, y)
    est.set_params(**{name: good})
    _assert_same(before, _snapshot(est))


# Class weights multiply the sample weights: negative or non-finite ones are refused
# like negative sample weights, whichever way the estimator is trained.
BAD_CLASS_WEIGHTS = [{0: -1.0}, {1: np.nan}, {0: np.inf}]


@pytest.mark.parametrize("class_weight", BAD_CLASS_WEIGHTS, ids=str)
@pytest.mark.parametrize("how", ["fit", "warm_start", "partial_fit"])
def test_bad_class_weight_is_refused(class_weight, how):
    est = GDClassifier(**_CLF)
    if how != "fit":
        est.fit(_X, _YC)
        before = _snapshot(est)
    est.set_params(class_weight=class_weight, warm_start=how == "warm_start")
    with pytest.raises(ValueError, match="class_weight must give finite, non-negative"):
        if how == "partial_fit":
            est.partial_fit(_X, _YC, classes=[0, 1])
        else:
            est.fit(_X, _YC)
    if how == "fit":
        assert not hasattr(est, "_state")
    else:
        est.set_params(class_weight=None, warm_start=False)
        _assert_same(before, _snapshot(est))


def test_first_partial_fit_needs_classes():
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        GDClassifier().partial_fit(_X, _YC)


@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_divergence_raises_naming_the_epoch(how):
    # batches of 4 so that the single epoch of partial_fit has enough steps
    est = GDRegressor(optimizer="sgd", eta0=1e6, batch_size=4, max_iter=50, random_state=0)
    X = _X * np.array([1e3, 1.0, 1e2, 1e4])  # unscaled features
    with pytest.raises(DivergenceError, match=r"diverged at epoch \d+.*eta0") as info:
        getattr(est, how)(X, _YR)
    assert isinstance(info.value, ValueError)
    assert not hasattr(est, "coef_")


@pytest.mark.parametrize("random_state", [0, "instance"])
def test_diverged_partial_fit_leaves_the_shuffling_stream(random_state):
    # A partial_fit call that diverges has already shuffled its epoch; the stream is
    # put back, so the calls after it train exactly as if it had not happened.
    def make():
        rs = np.random.RandomState(3) if random_state == "instance" else random_state
        return GDRegressor(optimizer="sgd", learning_rate="constant", eta0=0.01,
                           batch_size=4, random_state=rs)

    X, y = _X, _YR
    plain, interrupted = make(), make()
    for est in (plain, interrupted):
        est.partial_fit(X, y)
    interrupted.set_params(eta0=1e6)
    with pytest.raises(DivergenceError):
        interrupted.partial_fit(X * np.array([1e3, 1.0, 1e2, 1e4]), y)
    interrupted.set_params(eta0=0.01)
    for est in (plain, interrupted):
        est.partial_fit(X, y)
        est.partial_fit(X, y)
    np.testing.assert_array_equal(interrupted.coef_, plain.coef_)
    np.testing.assert_array_equal(interrupted.intercept_, plain.intercept_)


def _snapshot(est):
    return {
        "coef_": est.coef_.copy(),
        "intercept_": est.intercept_.copy(),
        "t_": est.t_,
        "n_iter_": est.n_iter_,
        "loss_curve_": list(est.loss_curve_),
        "state": _state_bytes(est),
        "dict": pickle.dumps(est.__dict__),
    }


def _assert_same(before, after):
    assert_array_equal(after["coef_"], before["coef_"])
    assert_array_equal(after["intercept_"], before["intercept_"])
    for key in ("t_", "n_iter_", "loss_curve_", "state", "dict"):
        assert after[key] == before[key], key


@pytest.mark.parametrize("case, method", list(_fitted_cases()))
def test_failed_call_leaves_fitted_estimator_unchanged(case, method):
    name, est, _, X, y, kwargs, error, match = case
    est = clone(est)
    if isinstance(est, GDClassifier):
        est.fit(_X, _YC)
    else:
        est.fit(_X, _GOOD_Y.get(name, _YR))
    before = _snapshot(est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(error, match=match):
            _call(est, method, X, y, kwargs, fitted=True)
    est.set_params(warm_start=False)
    _assert_same(before, _snapshot(est))


@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_divergence_leaves_fitted_estimator_unchanged(how):
    est = GDRegressor(optimizer="sgd", eta0=1e-3, batch_size=4, max_iter=3, tol=None,
                      random_state=0)
    est.fit(_X, _YR)
    est.set_params(eta0=1e6, warm_start=True, max_iter=50)
    before = _snapshot(est)
    with pytest.raises(DivergenceError, match=r"epoch \d+"):
        getattr(est, how)(_X * 1e3, _YR)
    _assert_same(before, _snapshot(est))
    # and it still continues from where it was
    est.set_params(eta0=1e-3, max_iter=1)
    est.partial_fit(_X, _YR)
    assert est.t_ == before["t_"] + 15


# ---------------------------------------------------------------- determinism, threads
def test_same_seed_same_data_same_coefficients():
    X, y = _clf_data(n_samples=200, n_classes=3)
    make = lambda seed: GDClassifier(random_state=seed, max_iter=4, tol=None, batch_size=8)
    a, b, c = make(0).fit(X, y), make(0).fit(X, y), make(1).fit(X, y)
    assert_array_equal(a.coef_, b.coef_)
    assert_array_equal(a.intercept_, b.intercept_)
    assert not np.array_equal(a.coef_, c.coef_)  # the seed does shuffle


@pytest.fixture(scope="module")
def wide_data():
    rng = np.random.RandomState(0)
    X = rng.randn(4000, 50)
    w = rng.randn(50)
    return X, X @ w + rng.randn(4000), np.digitize(X @ w, [-2.0, 2.0])


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")
@pytest.mark.parametrize(
    "Est, params",
    [(GDClassifier, {"optimizer": "adam"}), (GDClassifier, {"optimizer": "sgd",
                                                            "multi_class": "ovr"}),
     (GDRegressor, {"optimizer": "momentum", "learning_rate": "constant", "eta0": 1e-3})],
)
def test_n_jobs_does_not_change_the_result(wide_data, monkeypatch, Est, params):
    X, yr, yc = wide_data
    y = yc if Est is GDClassifier else yr
    parallel = []
    kernel_args = _base.BaseGD._kernel_args

    def spy(self, *args, **kwargs):
        out = kernel_args(self, *args, **kwargs)
        parallel.append(out[0].par_rows)
        return out

    monkeypatch.setattr(_base.BaseGD, "_kernel_args", spy)
    # batches large enough for the parallel row chunks (as the kernel decides)
    batch_size = max(512, -(-_base.PAR_ROWS_MIN_WORK // X.shape[1]))
    assert batch_size <= X.shape[0] // 2
    fits = {}
    for n_jobs in (1, 2, 2):
        est = Est(n_jobs=n_jobs, batch_size=batch_size, max_iter=3, tol=None,
                  random_state=0, **params)
        fits.setdefault(n_jobs, []).append(est.fit(X, y))
    assert parallel == [False, True, True]  # the parallel path was taken
    one, two, again = fits[1][0], fits[2][0], fits[2][1]
    assert_array_equal(two.coef_, again.coef_)
    assert_allclose(two.coef_, one.coef_, rtol=0, atol=1e-10)
    assert_allclose(two.intercept_, one.intercept_, rtol=0, atol=1e-10)


# ---------------------------------------------------------------- dtypes, copies
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adagrad", "rmsprop"])
@pytest.mark.parametrize("Est", [GDClassifier, GDRegressor])
def test_float32_trains_like_float64(Est, optimizer):
    X, y = _clf_data(n_samples=200, n_features=6) if Est is GDClassifier else _reg_data(200, 6)
    params = {"optimizer": optimizer, "max_iter": 5, "tol": None, "shuffle": False,
              "learning_rate": "constant", "eta0": 0.01, "random_state": 0}
    f64 = Est(**params).fit(X, y)
    f32 = Est(**params).fit(X.astype(np.float32), y)
    assert_allclose(f32.coef_, f64.coef_, rtol=1e-4, atol=1e-4 * np.abs(f64.coef_).max())
    X32 = X.astype(np.float32)
    out = f32.decision_function(X32) if Est is GDClassifier else f32.predict(X32)
    assert out.dtype == np.float32
    assert f32.predict(X32).shape == (X.shape[0],)


@pytest.mark.parametrize("multi_class", ["ovr", "multinomial"])
def test_float32_rows_train_within_float32_rounding(multi_class):
    """float32 rows are multiplied in float32 (docs/performance.rst): plain SGD on
    digits ends within float32 rounding of the float64 fit of the same values."""
    X, y = load_digits(return_X_y=True)
    X32 = X.astype(np.float32)
    kw = dict(optimizer="sgd", multi_class=multi_class, batch_size=64, max_iter=5, tol=None,
              random_state=0)
    f64 = GDClassifier(**kw).fit(X32.astype(np.float64), y)
    f32 = GDClassifier(**kw).fit(X32, y)
    assert_allclose(f32.coef_, f64.coef_, rtol=0, atol=1e-5 * np.abs(f64.coef_).max())
    assert_allclose(f32.intercept_, f64.intercept_, rtol=0, atol=1e-5 * np.abs(f64.coef_).max())


@pytest.mark.parametrize("Est", [GDRegressor, GDClassifier])
def test_float32_long_batches_sum_in_float64(Est):
    """A full batch of 200,000 float32 rows is 16 chunks of 12,500 rows; each chunk adds
    its float32 partial sums to float64 every NARROW_FLUSH_ROWS rows. One full-batch
    step matches float64 to 1e-6 (summed in float32 throughout: ~1e-5)."""
    rng = np.random.RandomState(0)
    n = 200_000
    X = rng.randn(n, 4).astype(np.float32)
    z = X.astype(np.float64) @ [1.0, -2.0, 0.5, 3.0] + 1.0 + rng.randn(n)
    y = z if Est is GDRegressor else (z > 0).astype(int)
    kw = dict(optimizer="sgd", learning_rate="constant", eta0=0.1, penalty=None,
              batch_size=n, max_iter=1, tol=None, shuffle=False)
    f64 = Est(**kw).fit(X.astype(np.float64), y)
    f32 = Est(**kw).fit(X, y)
    assert_allclose(f32.coef_, f64.coef_, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("Est", [GDClassifier, GDRegressor])
def test_contiguous_X_is_not_copied(Est, dtype):
    n_features = 50
    rng = np.random.RandomState(0)
    X = rng.randn(20_000_000 // (n_features * np.dtype(dtype).itemsize), n_features)
    X = X.astype(dtype)
    y = (X[:, 0] > 0).astype(int) if Est is GDClassifier else X[:, 0] + 1.0
    Est(max_iter=1, tol=None).fit(X[:64], y[:64])  # compile outside the measurement
    tracemalloc.start()
    try:
        Est(max_iter=1, tol=None, random_state=0, batch_size=256).fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 4, (peak, X.nbytes)


# ---------------------------------------------------------------- sparse input
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize(
    "Est, params",
    [(GDClassifier, {"optimizer": "sgd"}), (GDClassifier, {"optimizer": "momentum",
                                                           "penalty": "l1"}),
     (GDClassifier, {"optimizer": "adam", "average": True}),
     (GDClassifier, {"optimizer": "adagrad", "multi_class": "multinomial"}),
     (GDRegressor, {"optimizer": "rmsprop", "penalty": "elasticnet"}),
     (GDRegressor, {"optimizer": "adadelta", "eta0": 1.0}),
     (GDRegressor, {"optimizer": "adamw", "loss": "huber"})],
)
def test_dense_and_sparse_fits_agree(Est, params, fmt):
    rng = np.random.RandomState(0)
    if Est is GDClassifier:
        X, y = _clf_data(n_samples=150, n_features=8, n_classes=3)
    else:
        X, y = _reg_data(150, 8)
    X = X * (rng.rand(*X.shape) < 0.4)  # mostly zeros
    kw = {"max_iter": 5, "tol": None, "shuffle": False, "random_state": 0, "batch_size": 16,
          **params}
    dense = Est(**kw).fit(X, y)
    sparse = Est(**kw).fit(sp.csr_matrix(X).asformat(fmt), y)
    assert_allclose(sparse.coef_, dense.coef_, rtol=0, atol=1e-10)
    assert_allclose(sparse.intercept_, dense.intercept_, rtol=0, atol=1e-10)
    assert_allclose(sparse.predict(sp.csr_matrix(X)), dense.predict(X), atol=1e-10)


# ---------------------------------------------------------------- convergence warning
@pytest.mark.parametrize("Est, data", [(GDClassifier, _clf_data), (GDRegressor, _reg_data)])
def test_convergence_warning_only_with_tol(Est, data):
    X, y = data()
    with pytest.warns(ConvergenceWarning, match=r"Maximum number of iterations \(2\).*tol=1e-08"):
        Est(max_iter=2, tol=1e-8, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        Est(max_iter=2, tol=None, random_state=0).fit(X, y)
        Est(max_iter=2, tol=1e-8, random_state=0).partial_fit(
            X, y, **({"classes": [0, 1]} if Est is GDClassifier else {}))


# ---------------------------------------------------------------- fixed intercept
# (id, estimator parameters, number of classes (None: regression), intercept_init)
FIXED_INTERCEPTS = [
    ("regressor", {}, None, 5.0),
    ("binary", {}, 2, [1.5]),
    ("ovr", {"multi_class": "ovr"}, 3, [1.0, 2.0, 3.0]),
    ("multinomial", {"multi_class": "multinomial"}, 3, [0.5, -1.0, 0.25]),
]


@pytest.mark.parametrize("params, n_classes, init", [c[1:] for c in FIXED_INTERCEPTS],
                         ids=[c[0] for c in FIXED_INTERCEPTS])
def test_intercept_init_is_a_fixed_offset_without_fit_intercept(params, n_classes, init):
    from sklearn.linear_model import SGDClassifier, SGDRegressor

    if n_classes is None:
        X, y = _reg_data()
        Est, Sk, margin = GDRegressor, SGDRegressor, "predict"
    else:
        X, y = _clf_data(n_classes=n_classes)
        Est, Sk, margin = GDClassifier, SGDClassifier, "decision_function"
    kw = {"fit_intercept": False, "max_iter": 5, "tol": None, "random_state": 0}
    sk = Sk(**kw).fit(X, y, intercept_init=init)
    est = Est(**kw, **params).fit(X, y, intercept_init=init)
    expected = np.atleast_1d(np.asarray(init, dtype=np.float64))
    # scikit-learn keeps intercept_init as the intercept, and so does skgd ...
    assert_array_equal(sk.intercept_, expected)
    assert_array_equal(est.intercept_, expected)
    # ... and predicts with it.
    raw = X @ np.atleast_2d(est.coef_).T + expected
    assert_allclose(getattr(est, margin)(X), raw.ravel() if raw.shape[1] == 1 else raw)
    # The offset stays through partial_fit and warm_start, as in scikit-learn.
    sk.partial_fit(X, y)
    est.partial_fit(X, y)
    assert_array_equal(sk.intercept_, expected)
    assert_array_equal(est.intercept_, expected)
    est.set_params(warm_start=True).fit(X, y)
    assert_array_equal(est.intercept_, expected)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])  # sparse sgd: the lazy kernel
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_fixed_intercept_is_part_of_the_training_margin(fmt, optimizer):
    # Training on y with the offset c fixed is training on y - c without one.
    X, y = _reg_data()
    if fmt == "csr":
        X = sp.csr_matrix(X * (np.random.RandomState(0).rand(*X.shape) < 0.5))
    kw = {"fit_intercept": False, "max_iter": 5, "tol": None, "random_state": 0,
          "optimizer": optimizer, "eta0": 0.01}
    offset = GDRegressor(**kw).fit(X, y, intercept_init=2.0)
    shifted = GDRegressor(**kw).fit(X, y - 2.0)
    assert_allclose(offset.coef_, shifted.coef_, rtol=1e-10)
    assert not np.allclose(offset.coef_, GDRegressor(**kw).fit(X, y).coef_, rtol=1e-3)


# ---------------------------------------------------------------- shapes and labels
@pytest.mark.parametrize(
    "Est, params, n_classes, coef_shape, out_shape",
    [
        (GDClassifier, {}, 2, (1, 5), (120,)),
        (GDClassifier, {"multi_class": "multinomial"}, 2, (1, 5), (120,)),
        (GDClassifier, {"multi_class": "ovr"}, 3, (3, 5), (120, 3)),
        (GDClassifier, {"multi_class": "multinomial"}, 3, (3, 5), (120, 3)),
        (GDClassifier, {"loss": "hinge"}, 4, (4, 5), (120, 4)),
        (GDRegressor, {}, None, (5,), (120,)),
        (GDRegressor, {"loss": "quantile", "fit_intercept": False}, None, (5,), (120,)),
    ],
)
def test_coef_and_output_shapes(Est, params, n_classes, coef_shape, out_shape):
    if Est is GDClassifier:
        X, y = _clf_data(n_classes=n_classes)
    else:
        X, y = _reg_data()
    est = Est(max_iter=3, tol=None, random_state=0, **params).fit(X, y)
    assert est.coef_.shape == coef_shape
    assert est.intercept_.shape == (coef_shape[0] if len(coef_shape) == 2 else 1,)
    assert est.n_features_in_ == 5
    if Est is GDClassifier:
        assert est.decision_function(X).shape == out_shape
        assert_array_equal(est.classes_, np.arange(n_classes))
        if hasattr(est, "predict_proba"):
            proba = est.predict_proba(X)
            assert proba.shape == (120, n_classes)
            assert_allclose(proba.sum(axis=1), 1.0)
    else:
        assert est.predict(X).shape == out_shape
        if not params.get("fit_intercept", True):
            assert_array_equal(est.intercept_, [0.0])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_string_labels_fit_like_integer_labels(n_classes):
    X, y = _clf_data(n_classes=n_classes)
    names = np.array(["ant", "bee", "cat"])[:n_classes]  # sorted like 0, 1, 2
    params = {"max_iter": 4, "tol": None, "random_state": 0}
    ints = GDClassifier(**params).fit(X, y)
    strs = GDClassifier(**params).fit(X, names[y])
    assert_array_equal(strs.classes_, names)
    assert_array_equal(strs.coef_, ints.coef_)
    assert_array_equal(strs.predict(X), names[ints.predict(X)])
    assert strs.score(X, names[y]) == ints.score(X, y)


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(n_samples=400, n_features=5, n_informative=3, n_redundant=0,
                               weights=[0.9, 0.1], class_sep=1.0, flip_y=0.0,
                               random_state=0)
    return X, y


def _minority_recall(est, X, y):
    return np.mean(est.predict(X)[y == 1] == 1)


@pytest.mark.parametrize("class_weight", ["balanced", {1: 9.0}, {0: 0.2, 1: 1.0}])
def test_class_weight_favours_the_upweighted_class(imbalanced, class_weight):
    X, y = imbalanced
    params = {"max_iter": 20, "tol": None, "random_state": 0}
    plain = GDClassifier(**params).fit(X, y)
    weighted = GDClassifier(class_weight=class_weight, **params).fit(X, y)
    assert _minority_recall(weighted, X, y) > _minority_recall(plain, X, y) + 0.1
    assert np.mean(weighted.predict(X) == 1) > np.mean(plain.predict(X) == 1)
    assert weighted.intercept_[0] > plain.intercept_[0]


def test_class_weight_acts_through_ratios(imbalanced):
    # The objective is a weighted mean: only the ratio of the class weights matters,
    # and a larger ratio moves the boundary further towards the majority class.
    X, y = imbalanced
    params = {"max_iter": 20, "tol": None, "random_state": 0}
    weights = [None, {0: 1.0, 1: 4.0}, {0: 0.5, 1: 2.0}, "balanced"]
    fitted = [GDClassifier(class_weight=w, **params).fit(X, y) for w in weights]
    recall = [_minority_recall(est, X, y) for est in fitted]
    # {0: 0.5, 1: 2.0} has the ratio of {0: 1.0, 1: 4.0}: the same model.
    assert_allclose(fitted[2].coef_, fitted[1].coef_, rtol=1e-10, atol=1e-12)
    assert recall[0] < recall[1] < recall[3]  # balanced: ratio 360 / 40 = 9


def test_class_weight_equals_sample_weight(imbalanced):
    X, y = imbalanced
    params = {"max_iter": 5, "tol": None, "random_state": 0}
    by_class = GDClassifier(class_weight={0: 0.5, 1: 3.0}, **params).fit(X, y)
    by_sample = GDClassifier(**params).fit(X, y, sample_weight=np.where(y == 1, 3.0, 0.5))
    assert_array_equal(by_class.coef_, by_sample.coef_)


# ---------------------------------------------------------------- sample weights
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize(
    "Est, params, data",
    [
        (GDClassifier, {"optimizer": "sgd", "eta0": 0.1}, _clf_data),
        (GDClassifier, {"optimizer": "adam", "multi_class": "multinomial"},
         lambda: _clf_data(n_classes=3)),
        (GDClassifier, {"optimizer": "adagrad", "loss": "hinge", "multi_class": "ovr",
                        "average": True}, lambda: _clf_data(n_classes=3)),
        (GDRegressor, {"optimizer": "adam"}, _reg_data),
        (GDRegressor, {"optimizer": "rmsprop", "loss": "huber", "penalty": "l1"}, _reg_data),
        (GDRegressor, {"optimizer": "momentum", "loss": "poisson", "eta0": 0.01},
         _poisson_data),
        (GDRegressor, {"optimizer": "adamw", "loss": "quantile", "quantile": 0.3}, _reg_data),
    ],
)
def test_integer_sample_weight_equals_repeated_rows_full_batch(Est, params, data, sparse):
    X, y = data()
    sw = np.random.RandomState(1).randint(0, 4, size=len(y))  # zeros drop rows
    if Est is GDClassifier:
        for c in np.unique(y):  # keep every class present
            sw[np.flatnonzero(y == c)[0]] += 1
    kw = {"batch_size": FULL_BATCH, "shuffle": False, "tol": None, "max_iter": 30,
          "learning_rate": "constant", "random_state": 0, **params}
    Xw, Xr = X, np.repeat(X, sw, axis=0)
    if sparse:
        Xw, Xr = sp.csr_matrix(Xw), sp.csr_matrix(Xr)
    weighted = Est(**kw).fit(Xw, y, sample_weight=sw)
    repeated = Est(**kw).fit(Xr, np.repeat(y, sw))
    assert weighted.t_ == repeated.t_ == 30
    assert_allclose(weighted.coef_, repeated.coef_, rtol=0, atol=1e-8)
    assert_allclose(weighted.intercept_, repeated.intercept_, rtol=0, atol=1e-8)
    assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-8)


# ------------------------------------------------------------------ sparsify / densify
@pytest.mark.parametrize("Est, n_classes, coef_shape", [
    (GDRegressor, None, (12,)),
    (GDClassifier, 2, (1, 12)),
    (GDClassifier, 3, (3, 12)),
], ids=["regressor", "binary", "multiclass"])
def test_sparsify_keeps_predictions_and_densify_restores_coef(Est, n_classes, coef_shape):
    # scikit-learn's SGD estimators have both methods (SparseCoefMixin).
    if n_classes is None:
        X, y = make_regression(n_samples=200, n_features=12, n_informative=3, random_state=0)
        y = y / y.std()
    else:
        X, y = make_classification(n_samples=200, n_features=12, n_informative=3,
                                   n_classes=n_classes, random_state=0)
    params = dict(penalty="l1", alpha=0.05, max_iter=20, tol=None, random_state=0)
    dense = Est(**params).fit(X, y)
    model = Est(**params).fit(X, y)
    assert model.sparsify() is model
    assert sp.issparse(model.coef_) and model.coef_.format == "csr"
    assert model.coef_.nnz < np.prod(coef_shape)  # the L1 penalty zeroed some
    assert_array_equal(model.coef_.toarray(), np.atleast_2d(dense.coef_))
    methods = ["predict", "score"] + (["decision_function", "predict_proba"]
                                      if n_classes else [])
    for Xin in (X, sp.csr_matrix(X), X.astype(np.float32)):
        for name in methods:
            args = (Xin, y) if name == "score" else (Xin,)
            # float32 margins are summed in another order by the sparse product.
            tol = dict(rtol=1e-5, atol=1e-5) if Xin.dtype == np.float32 else dict(rtol=1e-12)
            assert_allclose(getattr(model, name)(*args), getattr(dense, name)(*args), **tol)
    restored = pickle.loads(pickle.dumps(model))
    assert_array_equal(restored.predict(X), dense.predict(X))
    # Training continues from the sparsified coefficients as from the dense ones.
    Xc, yc = X[:50], y[:50]
    cont = pickle.loads(pickle.dumps(model)).partial_fit(Xc, yc)
    assert_array_equal(cont.coef_, dense.partial_fit(Xc, yc).coef_)
    assert isinstance(cont.coef_, np.ndarray)
    assert model.densify() is model
    assert isinstance(model.coef_, np.ndarray) and model.coef_.shape == coef_shape
    assert_array_equal(model.coef_, pickle.loads(pickle.dumps(restored)).densify().coef_)
    assert model.densify().coef_.shape == coef_shape  # twice is harmless


@pytest.mark.parametrize("method", ["sparsify", "densify"])
def test_sparsify_and_densify_need_a_fitted_model(method):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        getattr(GDClassifier(), method)()
