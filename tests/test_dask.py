"""Dask: dask-ml's Incremental and searches, the Dask joblib backend, and
skgd.dask.DataParallelGD, end to end on a LocalCluster of 2 worker processes bound to
the loopback interface.

Skipped where dask is not installed (``pip install -e ".[test,dask-search]"`` brings
what these tests need). dask-ml 2025.1.0's IncrementalSearchCV / HyperbandSearchCV
work with dask/distributed 2025.2.0 and fail upstream from 2025.3.0 on; here they are
expected failures on those versions (strict, so a fixed dask-ml shows up).
"""

import copy
import os
import pickle

import numpy as np
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.datasets import make_classification, make_regression
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.utils import get_tags
from sklearn.utils.class_weight import compute_class_weight

from skgd import GDClassifier, GDRegressor
from skgd import _parallel
from skgd.dask import DataParallelGD

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
pd = pytest.importorskip("pandas")

# The synchronous-scheduler tests run while the module's cluster client is alive.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Running on a single-machine scheduler:UserWarning")


def _version(module):
    from packaging.version import Version

    return Version(module.__version__)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    # Loopback only, no dashboards; worker processes are spawned (GNU OpenMP is not
    # fork-safe), one thread each.
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, worker_dashboard_address=None)
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


@pytest.fixture(scope="module")
def clf_data():
    X, y = make_classification(12_000, 20, n_informative=10, random_state=0)
    return train_test_split(X, y, test_size=0.25, random_state=0)


@pytest.fixture(scope="module")
def reg_data():
    X, y = make_regression(12_000, 20, n_informative=10, noise=10.0, random_state=0)
    return train_test_split(X, y, test_size=0.25, random_state=0)


def _collections(kind, X, y, n_parts, sample_weight=None):
    """X, y (and sample_weight) as dask arrays or a dask DataFrame / Series."""
    size = -(-X.shape[0] // n_parts)
    if kind == "array":
        out = [da.from_array(X, chunks=(size, X.shape[1])), da.from_array(y, chunks=size)]
        if sample_weight is not None:
            out.append(da.from_array(sample_weight, chunks=size))
        return out
    dd = pytest.importorskip("dask.dataframe")
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    out = [dd.from_pandas(df, chunksize=size, sort=False),
           dd.from_pandas(pd.Series(y, name="y"), chunksize=size, sort=False)]
    if sample_weight is not None:
        out.append(dd.from_pandas(pd.Series(sample_weight, name="w"), chunksize=size,
                                  sort=False))
    return out


def _blocks(X, n_parts):
    size = -(-X.shape[0] // n_parts)
    bounds = list(range(0, X.shape[0], size)) + [X.shape[0]]
    return list(zip(bounds[:-1], bounds[1:]))


# ------------------------------------------------------------- state and pickles
@pytest.mark.parametrize("est", [
    GDClassifier(optimizer="adam", random_state=0),
    GDClassifier(optimizer="momentum", average=True, class_weight="balanced", random_state=0),
    GDRegressor(optimizer="adagrad", learning_rate="adaptive", random_state=0),
])
def test_partial_fit_state_survives_pickling_and_stays_lean(est, clf_data, reg_data):
    # Incremental pickles the model between blocks: a round trip in the middle of a
    # stream must continue exactly, and the pickle must not grow with the data.
    X, _, y, _ = (clf_data if is_classifier(est) else reg_data)
    kw = {"classes": np.unique(y)} if is_classifier(est) else {}
    straight = clone(est)
    resumed = clone(est)
    for lo, hi in _blocks(X, 3):
        straight.partial_fit(X[lo:hi], y[lo:hi], **kw)
        resumed = pickle.loads(pickle.dumps(resumed)).partial_fit(X[lo:hi], y[lo:hi], **kw)
    np.testing.assert_array_equal(straight.coef_, resumed.coef_)
    np.testing.assert_array_equal(straight.intercept_, resumed.intercept_)
    assert straight.t_ == resumed.t_

    small = clone(est).partial_fit(X[:100], y[:100], **kw)
    large = clone(est).partial_fit(X, y, **kw)
    n_params = large._state.theta.size * (large._state.opt_state.shape[0] + 2)
    size_small, size_large = len(pickle.dumps(small)), len(pickle.dumps(large))
    assert abs(size_large - size_small) < 64  # not proportional to n_samples
    assert size_large < 8 * n_params + 12_000  # parameters, moments, RNG and a little


def test_tags_seen_by_dask_ml():
    assert is_classifier(GDClassifier()) and is_regressor(GDRegressor())
    assert get_tags(GDClassifier()).requires_fit
    assert is_classifier(DataParallelGD(GDClassifier()))
    assert is_regressor(DataParallelGD(GDRegressor()))


# ---------------------------------------------------------------------- Incremental
@pytest.mark.parametrize("kind", ["array", "dataframe"])
@pytest.mark.parametrize("Est", [GDClassifier, GDRegressor])
def test_incremental_equals_partial_fit_over_the_blocks(client, kind, Est, clf_data,
                                                         reg_data):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, X_test, y, y_test = clf_data if Est is GDClassifier else reg_data
    est = Est(optimizer="adam", random_state=0)
    kw = {"classes": np.unique(y)} if Est is GDClassifier else {}
    Xd, yd = _collections(kind, X, y, 4)
    inc = wrappers.Incremental(est, shuffle_blocks=False).fit(Xd, yd, **kw)

    local = clone(est)
    for lo, hi in _blocks(X, 4):
        Xb = X[lo:hi] if kind == "array" else pd.DataFrame(X[lo:hi], columns=Xd.columns)
        local.partial_fit(Xb, y[lo:hi], **kw)
    np.testing.assert_array_equal(inc.estimator_.coef_, local.coef_)
    np.testing.assert_array_equal(inc.estimator_.intercept_, local.intercept_)
    assert inc.estimator_.t_ == local.t_ > 0
    if kind == "dataframe":
        assert list(inc.estimator_.feature_names_in_) == list(Xd.columns)
    Xt, _ = _collections(kind, X_test, y_test, 2)
    pred = np.asarray(inc.predict(Xt).compute())
    # Block-wise products round differently from one product over all rows (relative
    # to the predictions' size: a prediction near 0 differed by 5e-14, rtol 5e-12).
    expected = local.predict(
        X_test if kind == "array" else pd.DataFrame(X_test, columns=Xd.columns))
    np.testing.assert_allclose(pred, expected, rtol=1e-12,
                               atol=1e-12 * np.abs(expected).max())


# ------------------------------------------------------------------------ searches
@pytest.mark.parametrize("search", ["IncrementalSearchCV", "HyperbandSearchCV"])
def test_search_over_optimizers_and_learning_rates(client, search, request):
    ms = pytest.importorskip("dask_ml.model_selection")
    import distributed

    if _version(distributed).release >= (2025, 3):
        request.applymarker(pytest.mark.xfail(
            raises=RuntimeError, strict=True,
            reason="dask-ml 2025.1.0 searches need dask/distributed < 2025.3 "
                   "(asynchronous Client in dask.persist)"))
    X, y = make_classification(4_000, 20, n_informative=5, class_sep=2.0, random_state=0)
    X, X_test, y, y_test = train_test_split(X, y, random_state=0)
    Xd, yd = _collections("array", X, y, 4)
    params = {"optimizer": ["sgd", "momentum", "adam"], "eta0": [1e-4, 1e-2, 1e-1]}
    est = GDClassifier(random_state=0, batch_size=64)
    if search == "HyperbandSearchCV":
        s = ms.HyperbandSearchCV(est, params, max_iter=9, random_state=0)
    else:
        s = ms.IncrementalSearchCV(est, params, n_initial_parameters=9, max_iter=4,
                                   random_state=0)
    s.fit(Xd, yd, classes=np.unique(y))
    assert isinstance(s.best_estimator_, GDClassifier) and s.best_estimator_.t_ > 0
    tried = {(p["optimizer"], p["eta0"]) for p in s.cv_results_["params"]}
    assert len(tried) >= 3
    assert s.best_params_["eta0"] != 1e-4  # far too small for a few epochs
    assert s.best_score_ > 0.85
    assert s.best_estimator_.score(X_test, y_test) > 0.85


# ----------------------------------------------------------- joblib's Dask backend
def _record_threads(est, info):
    est.kernel_threads_seen_ = _parallel.last_kernel_threads()


def test_grid_search_with_the_dask_joblib_backend(client, clf_data):
    import joblib

    X, _, y, _ = clf_data
    X, y = X[:2000], y[:2000]
    est = GDClassifier(batch_size=64, max_iter=5, tol=None, random_state=0,
                       callback=_record_threads)
    grid = {"optimizer": ["sgd", "adam"], "eta0": [0.01, 0.1]}
    serial = GridSearchCV(est, grid, cv=3, n_jobs=1).fit(X, y)
    with joblib.parallel_config(backend="dask"):
        search = GridSearchCV(est, grid, cv=3, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                  serial.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(search.best_estimator_.coef_, serial.best_estimator_.coef_)


def test_fits_in_dask_workers_use_one_thread(client, clf_data):
    # Dask's worker processes set OMP_NUM_THREADS=1 (one core per task); with n_jobs
    # left at None the kernels follow it instead of starting a thread per core.
    if "NUMBA_NUM_THREADS" in os.environ:
        pytest.skip("NUMBA_NUM_THREADS is set: it takes precedence over OMP_NUM_THREADS")
    X, _, y, _ = clf_data
    est = GDClassifier(batch_size=1024, callback=_record_threads, random_state=0)
    Xd, yd = _collections("array", np.repeat(X, 2, axis=1), y, 2)
    model = DataParallelGD(est, n_rounds=1).fit(Xd, yd)
    assert model.estimator_.kernel_threads_seen_ == 1


# ----------------------------------------------------------------- data-parallel
@pytest.fixture(scope="module")
def clf3_data():
    X, y = make_classification(12_000, 20, n_informative=10, n_classes=3, random_state=0)
    return train_test_split(X, y, test_size=0.25, random_state=0)


# Same estimator in memory and data-parallel. The classifiers average their iterates
# (ASGD): a constant-step iterate wanders by about +-0.5% of test accuracy from epoch to
# epoch, which would swamp the comparison. The in-memory regressor stops after 28
# epochs (its plateau schedule divides the rate; rounds never do); 32 rounds of
# data-parallel training reach the same R^2.
@pytest.mark.parametrize("kind, data, est, n_rounds", [
    ("array", "clf_data", GDClassifier(average=True, random_state=0), 8),
    ("dataframe", "clf3_data", GDClassifier(average=True, random_state=0), 8),
    ("dataframe", "reg_data", GDRegressor(random_state=0), 32),
])
def test_data_parallel_matches_in_memory_fit(client, kind, data, est, n_rounds, request):
    X, X_test, y, y_test = request.getfixturevalue(data)
    metric = accuracy_score if is_classifier(est) else r2_score
    Xd, yd = _collections(kind, X, y, 4)
    if kind == "dataframe":
        X, X_test = (pd.DataFrame(A, columns=Xd.columns) for A in (X, X_test))
    in_memory = clone(est).fit(X, y)
    model = DataParallelGD(est, n_rounds=n_rounds).fit(Xd, yd)
    mem_score = metric(y_test, in_memory.predict(X_test))
    dp_score = metric(y_test, model.predict(X_test))
    # 1%: the averaged in-memory fit alone spans ~0.5% of accuracy over random_state
    # (0.7300-0.7333 on clf_data), and the two fits shuffle differently; over seeds 0-5
    # the two differed by 0-0.55%.
    assert abs(dp_score - mem_score) <= 0.01 * abs(mem_score), (dp_score, mem_score)
    assert model.n_partitions_ == 4 and model.n_iter_ == n_rounds
    assert len(model.loss_curve_) == n_rounds

    # The cluster's scheduling does not change the result: the synchronous scheduler
    # in this process gives the same coefficients.
    with dask.config.set(scheduler="sync"):
        again = DataParallelGD(est, n_rounds=n_rounds).fit(Xd, yd)
    np.testing.assert_array_equal(again.coef_, model.coef_)
    np.testing.assert_array_equal(again.intercept_, model.intercept_)


@pytest.mark.parametrize("persist", [True, False])
def test_data_parallel_on_data_already_in_the_cluster(client, persist, clf_data):
    # Blocks the user persisted (futures on the workers) are used where they are.
    X, _, y, _ = clf_data
    Xd, yd = _collections("array", X, y, 3)
    est = GDClassifier(random_state=0)
    with dask.config.set(scheduler="sync"):
        expected = DataParallelGD(est, n_rounds=2).fit(Xd, yd)
    Xp, yp = client.persist([Xd, yd])
    model = DataParallelGD(est, n_rounds=2, persist=persist).fit(Xp, yp)
    np.testing.assert_array_equal(model.coef_, expected.coef_)


def _manual_round(template, fitted, parts, classes, step_counter="max"):
    """One round by hand: partial_fit copies, then the weighted average."""
    outs = []
    for Xp, yp, swp in parts:
        local = copy.deepcopy(template) if fitted else clone(template)
        kw = {"classes": classes} if classes is not None else {}
        local.partial_fit(Xp, yp, sample_weight=swp, **kw)
        w = np.ones(len(yp)) if swp is None else swp
        if getattr(local, "_class_weight_frozen", None) is not None:
            w = w * local._class_weight_frozen[np.searchsorted(local.classes_, yp)]
        outs.append((local, w.sum()))
    outs = [(m, w) for m, w in outs if w > 0]
    weights = np.array([w for _, w in outs]) / sum(w for _, w in outs)
    theta = sum(wi * m._state.theta for (m, _), wi in zip(outs, weights))
    moments = sum(wi * m._state.opt_state for (m, _), wi in zip(outs, weights))
    t = max(m._state.t for m, _ in outs)
    return theta, moments, t, outs[0][0]


@pytest.mark.parametrize("est, sizes, zero_part", [
    (GDClassifier(optimizer="adam", shuffle=False), [3000, 1000, 5000], None),
    (GDRegressor(optimizer="momentum", eta0=0.001, shuffle=False), [4000, 2000], None),
    (GDClassifier(optimizer="adagrad", multi_class="multinomial", shuffle=False),
     [2000, 2000, 3000], 1),
    (GDClassifier(optimizer="adam", shuffle=False), [9000], None),  # one partition
])
def test_rounds_are_weighted_averages_of_local_partial_fits(est, sizes, zero_part, clf_data,
                                                            reg_data):
    X, _, y, _ = clf_data if is_classifier(est) else reg_data
    if is_classifier(est) and est.multi_class == "multinomial":
        y = np.digitize(X[:, 0], [-0.5, 0.5])  # three classes
    rng = np.random.RandomState(0)
    sw = rng.uniform(0.5, 2.0, X.shape[0])
    bounds = np.cumsum([0] + sizes)
    if zero_part is not None:
        sw[bounds[zero_part]:bounds[zero_part + 1]] = 0.0
    parts = [(X[lo:hi], y[lo:hi], sw[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]
    Xd = da.concatenate([da.from_array(p[0]) for p in parts])
    yd = da.concatenate([da.from_array(p[1]) for p in parts])
    swd = da.concatenate([da.from_array(p[2]) for p in parts])
    classes = np.unique(y) if is_classifier(est) else None

    with dask.config.set(scheduler="sync"):
        one = DataParallelGD(est, n_rounds=1).fit(Xd, yd, sample_weight=swd)
        two = DataParallelGD(est, n_rounds=2).fit(Xd, yd, sample_weight=swd)
    theta, moments, t, _ = _manual_round(est, False, parts, classes)
    np.testing.assert_allclose(one.estimator_._state.theta, theta, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(one.estimator_._state.opt_state, moments, rtol=1e-12,
                               atol=1e-15)
    assert one.t_ == t
    theta2, _, t2, _ = _manual_round(one.estimator_, True, parts, classes)
    np.testing.assert_allclose(two.estimator_._state.theta, theta2, rtol=1e-12, atol=1e-15)
    assert two.t_ == t2
    if len(parts) == 1:
        # One partition: exactly partial_fit, round after round.
        ref = clone(est)
        for _ in range(2):
            ref.partial_fit(X[:sizes[0]], y[:sizes[0]], sample_weight=sw[:sizes[0]],
                            classes=classes)
        np.testing.assert_allclose(two.coef_, ref.coef_, rtol=1e-12)
        assert two.t_ == ref.t_


@pytest.mark.parametrize("shuffle", [False, True])
def test_one_partition_is_a_partial_fit_stream_only_without_shuffling(shuffle, reg_data):
    # docs/scaling.rst: each round shuffles with its own seed, a partial_fit stream
    # goes on with one, so only shuffle=False gives the stream's coefficients.
    X, _, y, _ = reg_data
    X, y = X[:4000], y[:4000]
    est = GDRegressor(random_state=0, shuffle=shuffle)
    with dask.config.set(scheduler="sync"):
        model = DataParallelGD(est, n_rounds=3).fit(da.from_array(X, chunks=(4000, 20)),
                                                     da.from_array(y, chunks=4000))
    stream = clone(est)
    for _ in range(3):
        stream.partial_fit(X, y)
    assert model.t_ == stream.t_
    assert np.array_equal(model.coef_, stream.coef_) == (not shuffle)


def test_balanced_class_weight_uses_all_partitions(clf_data):
    X, _, y, _ = clf_data
    order = np.argsort(y, kind="stable")  # partitions with very different class mixes
    X, y = X[order][:6000], y[order][:6000]
    keep = np.r_[np.flatnonzero(y == 0)[:1000], np.flatnonzero(y == 1)]
    X, y = X[keep], y[keep]
    Xd, yd = _collections("array", X, y, 3)
    with dask.config.set(scheduler="sync"):
        model = DataParallelGD(GDClassifier(class_weight="balanced", random_state=0),
                               n_rounds=1).fit(Xd, yd)
    expected = compute_class_weight("balanced", classes=np.unique(y), y=y)
    np.testing.assert_allclose(model.estimator_._class_weight_frozen, expected)
    assert model.estimator_.class_weight == "balanced"
    assert model.estimator_.random_state == 0


@pytest.mark.parametrize("kind", ["array", "dataframe"])
def test_predictions_on_dask_collections(kind, clf_data):
    X, X_test, y, y_test = clf_data
    Xd, yd = _collections(kind, X, y, 3)
    Xt, yt = _collections(kind, X_test, y_test, 2)
    with dask.config.set(scheduler="sync"):
        model = DataParallelGD(GDClassifier(random_state=0), n_rounds=2).fit(Xd, yd)
        local = X_test if kind == "array" else pd.DataFrame(X_test, columns=Xd.columns)
        for method in ("predict", "predict_proba", "decision_function"):
            lazy = getattr(model, method)(Xt)
            assert dask.is_dask_collection(lazy)
            np.testing.assert_allclose(np.asarray(lazy.compute()),
                                       getattr(model.estimator_, method)(local))
        assert model.score(Xt, yt) == pytest.approx(model.estimator_.score(local, y_test))
    assert model.classes_.tolist() == [0, 1] and model.coef_.shape == (1, 20)


# (estimator, method): the output dtype declared for each dtype of X
DECLARED_DTYPES = [
    (GDRegressor(random_state=0), "predict"),
    (GDRegressor(loss="poisson", random_state=0), "predict"),
    (GDClassifier(random_state=0), "predict"),
    (GDClassifier(random_state=0), "decision_function"),
    (GDClassifier(random_state=0), "predict_proba"),
    (GDClassifier(loss="hinge", random_state=0), "decision_function"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["array", "dataframe"])
@pytest.mark.parametrize("est, method", DECLARED_DTYPES,
                         ids=[f"{type(e).__name__}-{e.loss}-{m}" for e, m in DECLARED_DTYPES])
def test_lazy_outputs_declare_the_dtype_they_compute(est, method, kind, dtype, clf_data,
                                                      reg_data):
    X, X_test, y, _ = clf_data if is_classifier(est) else reg_data
    if est.loss == "poisson":
        y = np.round(np.exp(X[:, 0] / 4))
    X, X_test = X[:2000].astype(dtype), X_test[:500].astype(dtype)
    Xd, yd = _collections(kind, X, y[:2000], 2)
    Xt, _ = _collections(kind, X_test, np.zeros(500), 2)
    with dask.config.set(scheduler="sync"):
        model = DataParallelGD(est, n_rounds=1).fit(Xd, yd)
        lazy = getattr(model, method)(Xt)
        computed = lazy.compute()
    local = X_test if kind == "array" else pd.DataFrame(X_test, columns=Xd.columns)
    expected = getattr(model.estimator_, method)(local)
    if kind == "array":
        declared, got = [lazy.dtype], [computed.dtype]
        assert lazy._meta.dtype == lazy.dtype
        assert lazy.ndim == expected.ndim and lazy.shape[1:] == expected.shape[1:]
    else:
        declared = list(np.atleast_1d(lazy.dtypes))
        got = list(np.atleast_1d(computed.dtypes))
    assert declared == got == [expected.dtype] * len(got)
    if method != "predict_proba" and not (is_classifier(est) and method == "predict"):
        assert expected.dtype == dtype  # float32 input stays float32


def test_same_seed_same_model_other_seed_other_model(clf_data):
    X, _, y, _ = clf_data
    Xd, yd = _collections("array", X, y, 3)
    with dask.config.set(scheduler="sync"):
        a, b, c = (DataParallelGD(GDClassifier(random_state=s), n_rounds=2).fit(Xd, yd)
                   for s in (0, 0, 1))
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert not np.array_equal(a.coef_, c.coef_)


@pytest.mark.parametrize("make, params, error, match", [
    (lambda X, y: (X, y), {}, TypeError, "dask array or a dask DataFrame"),
    (lambda X, y: (da.from_array(X, chunks=1000), da.from_array(y[:-1], chunks=1000)), {},
     ValueError, "rows|shape|size"),
    (lambda X, y: (da.from_array(X, chunks=1000), y[:-5]), {}, ValueError, "shape"),
    (lambda X, y: (da.from_array(X, chunks=1000), da.from_array(y, chunks=1000)),
     {"n_rounds": 0}, ValueError, "n_rounds"),
    (lambda X, y: (da.from_array(X, chunks=1000), da.from_array(y, chunks=1000)),
     {"step_counter": "sum"}, ValueError, "step_counter"),
])
def test_invalid_input(make, params, error, match, clf_data):
    X, _, y, _ = clf_data
    Xd, yd = make(X[:3000], y[:3000])
    with dask.config.set(scheduler="sync"), pytest.raises(error, match=match):
        DataParallelGD(GDClassifier(), **params).fit(Xd, yd)


@pytest.mark.parametrize("est, method, present", [
    (GDClassifier(), "predict_proba", True),
    (GDClassifier(loss="modified_huber"), "predict_proba", True),
    (GDClassifier(loss="hinge"), "predict_proba", False),
    (GDClassifier(loss="hinge"), "decision_function", True),
    (GDRegressor(), "decision_function", False),
    (GDRegressor(), "predict_proba", False),
])
def test_methods_exist_only_where_the_estimator_has_them(est, method, present, clf_data):
    # Meta-estimators pick predict_proba or decision_function by hasattr.
    model = DataParallelGD(clone(est), n_rounds=1)
    assert hasattr(model, method) is present
    X, _, y, _ = clf_data
    Xd, yd = _collections("array", X[:600], y[:600].astype(float), 2)
    with dask.config.set(scheduler="synchronous"):
        model.fit(Xd, yd)
    assert hasattr(model, method) is present


def test_not_a_skgd_estimator():
    from sklearn.linear_model import SGDClassifier

    Xd = da.zeros((10, 2), chunks=5)
    with pytest.raises(TypeError, match="skgd estimator"):
        DataParallelGD(SGDClassifier()).fit(Xd, da.zeros(10, chunks=5))


def test_data_parallel_regressor_partitions_share_one_target_scale(reg_data):
    """Models trained on targets divided by different scales could not be averaged:
    the first round takes the scale of partition 0's first batch for every partition,
    even where a partition's own targets spread 16x wider."""
    from skgd._base import target_scale

    X, Xte, y, yte = reg_data
    y, yte = 1e4 * y, 1e4 * yte
    half = X.shape[0] // 2
    y_wide = y.copy()
    y_wide[half:] *= 16  # partition 1 alone would choose a 16x larger scale
    est = GDRegressor(random_state=0)
    seen = []
    original = DataParallelGD.fit.__globals__["_local_round"]

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        seen.append(out[0]._state.y_scale)
        return out

    with dask.config.set(scheduler="sync"):
        import skgd.dask as skd
        skd._local_round, saved = spy, skd._local_round
        try:
            model = DataParallelGD(est, n_rounds=1).fit(
                da.from_array(X, chunks=(half, 20)), da.from_array(y_wide, chunks=half))
        finally:
            skd._local_round = saved
        assert seen == [target_scale(y_wide[:32], np.ones(32))] * 2
        assert model.estimator_._state.y_scale == seen[0]
        # Targets in other units (a power of two apart) give the same model in them.
        Xd = da.from_array(X, chunks=(half, 20))
        models = [DataParallelGD(est, n_rounds=3).fit(Xd, da.from_array(c * y, chunks=half))
                  for c in (2.0 ** -13, 1.0)]
    np.testing.assert_array_equal(models[1].coef_, 2.0 ** 13 * models[0].coef_)
    assert models[1].score(Xte, yte) > 0.95


def test_average_of_models_with_different_target_scales_is_in_target_units(reg_data):
    """Without a shared scale (an empty first partition), the average is still the
    weighted mean of the published coefficients."""
    from skgd.dask import _average, _local_round

    X, _, y, _ = reg_data
    est = GDRegressor(random_state=0, optimizer="sgd", eta0=0.001)
    a = _local_round(est, False, X[:3000], y[:3000], None, None, 1, 0)
    b = _local_round(est, False, X[3000:6000], 64 * y[3000:6000], None, None, 1, 1)
    assert a[0]._state.y_scale != b[0]._state.y_scale
    model, _ = _average([a, b], "max")
    np.testing.assert_allclose(model.coef_, 0.5 * (a[0].coef_ + b[0].coef_), rtol=1e-12)
    np.testing.assert_allclose(model.intercept_,
                               0.5 * (a[0].intercept_ + b[0].intercept_), rtol=1e-12)
