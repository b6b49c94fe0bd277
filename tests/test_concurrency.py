"""Concurrent use: fits from several Python threads, joblib backends, forked children.

Concurrent fits must never crash, whatever Numba threading layer is in use (the
``workqueue`` layer aborts the process when two threads run parallel kernels at once),
must give exactly the serial results, and must not oversubscribe the cores: kernels
running at the same time share Numba's pool, and joblib's process workers get their
share through ``NUMBA_NUM_THREADS``. The data below (20,000 x 64, batches of 1,024,
``n_jobs=2``) is large enough for the kernels to take their parallel paths.
"""

import json
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor

import joblib
import numba
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GridSearchCV, cross_validate

from skgd import GDClassifier, GDRegressor
from skgd import _parallel

PARALLEL = dict(batch_size=1024, n_jobs=2, max_iter=3, tol=None)
POOL = _parallel.pool_size()


@pytest.fixture(scope="module")
def big():
    X, y = make_classification(20_000, 64, n_informative=20, random_state=0)
    Xr, yr = make_regression(20_000, 64, noise=1.0, random_state=0)
    return X, y, Xr, yr


def _jobs(big):
    X, y, Xr, yr = big
    Xs = sp.random(4_000, 300, density=0.05, format="csr", random_state=0)
    row_sums = np.asarray(Xs.sum(axis=1)).ravel()
    ys = (row_sums > np.median(row_sums)).astype(int)
    return [
        (GDClassifier(optimizer="adam", random_state=0, **PARALLEL), X, y),
        (GDClassifier(optimizer="momentum", eta0=0.001, random_state=1, **PARALLEL), X, y),
        (GDRegressor(optimizer="adam", random_state=2, **PARALLEL), Xr, yr),
        (GDClassifier(optimizer="adagrad", random_state=3, **PARALLEL), Xs, ys),
    ]


def _fit(job):
    est, X, y = job
    from sklearn.base import clone

    model = clone(est).fit(X, y)
    return np.atleast_2d(model.coef_).copy(), np.asarray(model.intercept_).copy()


# ------------------------------------------------------------------ in-process threads
def test_concurrent_fits_from_threads_equal_serial(big):
    jobs = _jobs(big)
    serial = [_fit(j) for j in jobs]
    start = threading.Barrier(len(jobs))

    def together(job):
        start.wait()
        return _fit(job)

    with ThreadPoolExecutor(len(jobs)) as ex:
        concurrent = list(ex.map(together, jobs))
    for (c0, b0), (c1, b1) in zip(serial, concurrent):
        np.testing.assert_array_equal(c0, c1)
        np.testing.assert_array_equal(b0, b1)


# ------------------------------------------------------------ every threading layer
LAYER_SCRIPT = textwrap.dedent("""
    import contextlib, json, os, sys, threading
    from concurrent.futures import ThreadPoolExecutor
    import numpy as np
    from sklearn.datasets import make_classification
    from skgd import GDClassifier
    import skgd._base as B
    import skgd._parallel as P

    # Parallel kernels at this size under every layer (workqueue would otherwise run
    # them serially, being slow to open a parallel region): the point is their safety.
    B.WORKQUEUE_REGION_FACTOR = 1
    try:
        layer = P.threading_layer()
    except Exception as exc:  # the requested layer is not installed here
        print(json.dumps({"unavailable": repr(exc)}))
        sys.exit(0)
    if os.environ.get("SKGD_TEST_NO_GUARD"):
        P._LOCK = contextlib.nullcontext()
    X, y = make_classification(20000, 64, n_informative=20, random_state=0)

    def fit(seed):
        est = GDClassifier(batch_size=1024, n_jobs=2, max_iter=3, tol=None,
                           random_state=seed)
        return est.fit(X, y).coef_.tolist()

    serial = [fit(s) for s in range(4)]
    start = threading.Barrier(4)

    def together(seed):
        start.wait()
        return fit(seed)

    with ThreadPoolExecutor(4) as ex:
        concurrent = list(ex.map(together, range(4)))
    # A callback that predicts on large data (a parallel input check) while its own fit
    # runs parallel kernels on the same thread: the workqueue guard must let it in.
    other = GDClassifier(max_iter=1, tol=None).fit(X, y)
    nested = []
    GDClassifier(batch_size=1024, n_jobs=2, max_iter=2, tol=None, random_state=0,
                 callback=lambda est, info: nested.append(int(other.predict(X).shape[0]))
                 ).fit(X, y)
    print(json.dumps({"layer": layer, "equal": [a == b for a, b in zip(serial, concurrent)],
                      "nested": nested}))
""")


def _run_layer(layer, tmp_path, **env):
    script = tmp_path / "layer.py"
    script.write_text(LAYER_SCRIPT)
    env = dict(os.environ, NUMBA_THREADING_LAYER=layer, **env)
    # pip's tbb package puts libtbb.so.12 in <prefix>/lib, which the loader does not
    # search in a virtual environment.
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in (os.path.join(sys.prefix, "lib"), env.get("LD_LIBRARY_PATH")) if p)
    return subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("layer", ["omp", "tbb", "workqueue"])
def test_concurrent_fits_under_each_threading_layer(layer, tmp_path):
    if POOL < 2:
        pytest.skip("needs at least 2 Numba threads for parallel kernels")
    proc = _run_layer(layer, tmp_path)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if "unavailable" in out:
        pytest.skip(f"threading layer {layer!r} not available: {out['unavailable']}")
    assert out["layer"] == layer
    assert out["equal"] == [True] * 4
    assert out["nested"] == [20000, 20000]


def test_workqueue_without_the_guard_aborts(tmp_path):
    # The control for the test above: the same run with the lock disabled dies, so it
    # is the guard, not luck, that keeps the workqueue run alive.
    if POOL < 2:
        pytest.skip("needs at least 2 Numba threads for parallel kernels")
    proc = _run_layer("workqueue", tmp_path, SKGD_TEST_NO_GUARD="1")
    assert proc.returncode != 0
    assert "Concurrent access" in proc.stderr or "concurrent" in proc.stderr.lower()


# ---------------------------------------------------------------- no oversubscription
def test_kernels_running_together_share_the_pool():
    if POOL < 2:
        pytest.skip("needs at least 2 Numba threads")
    seen = {}
    a_in, b_in, a_again = threading.Event(), threading.Event(), threading.Event()

    def a():
        with _parallel.kernel_threads(POOL):
            seen["a_alone"] = numba.get_num_threads()
            a_in.set()
            b_in.wait(30)
        # B is still inside: a kernel started now gets its share only.
        with _parallel.kernel_threads(POOL):
            seen["a_with_b"] = numba.get_num_threads()
            seen["a_hook"] = _parallel.last_kernel_threads()
        a_again.set()

    def b():
        a_in.wait(30)
        with _parallel.kernel_threads(POOL):
            seen["b_with_a"] = numba.get_num_threads()
            b_in.set()
            a_again.wait(30)
        seen["b_restored"] = numba.get_num_threads()

    threads = [threading.Thread(target=f) for f in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    share = max(1, POOL // 2)
    assert seen == {"a_alone": POOL, "b_with_a": share, "a_with_b": share,
                    "a_hook": share, "b_restored": POOL}


def _record_threads(est, info):
    est.kernel_threads_seen_ = _parallel.last_kernel_threads()


def test_fit_started_during_another_fit_takes_its_share(big):
    if POOL < 2:
        pytest.skip("needs at least 2 Numba threads")
    X, y, _, _ = big
    first_running, second_done = threading.Event(), threading.Event()
    seen = {}

    def hold(est, info):
        # Keeps the first fit inside its kernels' thread context until the second ran.
        seen.setdefault("first", _parallel.last_kernel_threads())
        first_running.set()
        second_done.wait(60)

    def first():
        GDClassifier(callback=hold, random_state=0, **{**PARALLEL, "max_iter": 1}).fit(X, y)

    def second():
        first_running.wait(60)
        est = GDClassifier(callback=_record_threads, random_state=0, **PARALLEL).fit(X, y)
        seen["second"] = est.kernel_threads_seen_
        second_done.set()

    threads = [threading.Thread(target=f) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert seen == {"first": min(2, POOL), "second": min(2, max(1, POOL // 2))}


@pytest.mark.parametrize("env, n_jobs, expected", [
    ({}, None, POOL),
    ({"OMP_NUM_THREADS": "1"}, None, 1),  # as in Dask's worker processes
    ({"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": str(POOL)}, None, POOL),
    ({"OMP_NUM_THREADS": "junk"}, None, POOL),
    ({"OMP_NUM_THREADS": "1"}, 2, min(2, POOL)),  # an explicit n_jobs is honoured
    ({}, -1, POOL),
    ({}, 10_000, POOL),
    ({}, 1, 1),
])
def test_thread_budget(monkeypatch, env, n_jobs, expected):
    for name in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _parallel.effective_threads(n_jobs) == expected


# ------------------------------------------------------------------ joblib backends
GRID = {"optimizer": ["sgd", "adam"], "eta0": [0.01, 0.1]}


@pytest.fixture(scope="module")
def small():
    return make_classification(1_500, 20, n_informative=8, random_state=0)


@pytest.fixture(scope="module")
def serial_search(small):
    X, y = small
    est = GDClassifier(batch_size=64, max_iter=5, tol=None, random_state=0)
    return GridSearchCV(est, GRID, cv=3, n_jobs=1).fit(X, y)


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_grid_search_joblib_backends_equal_serial(backend, small, serial_search):
    X, y = small
    est = GDClassifier(batch_size=64, max_iter=5, tol=None, random_state=0)
    with joblib.parallel_config(backend=backend):
        search = GridSearchCV(est, GRID, cv=3, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                  serial_search.cv_results_["mean_test_score"])
    assert search.best_params_ == serial_search.best_params_
    np.testing.assert_array_equal(search.best_estimator_.coef_,
                                  serial_search.best_estimator_.coef_)


def test_loky_workers_use_their_share_of_the_cores(big):
    if "NUMBA_NUM_THREADS" in os.environ:
        pytest.skip("NUMBA_NUM_THREADS is set: joblib passes it to its workers as is")
    cloudpickle = pytest.importorskip("cloudpickle")  # what loky pickles tasks with

    X, y, _, _ = big
    est = GDClassifier(callback=_record_threads, random_state=0, **{**PARALLEL, "n_jobs": None})
    # pytest imports this file under a name loky's workers cannot import: send the
    # callback by value.
    module = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(module)
    try:
        with joblib.parallel_config(backend="loky"):
            res = cross_validate(est, X[:8000], y[:8000], cv=2, n_jobs=2,
                                 return_estimator=True)
    finally:
        cloudpickle.unregister_pickle_by_value(module)
    share = max(1, joblib.cpu_count() // 2)
    assert [e.kernel_threads_seen_ for e in res["estimator"]] == [share, share]


# ------------------------------------------------------------------- forked children
FORK_SCRIPT = textwrap.dedent("""
    import json, os
    import numpy as np
    from sklearn.datasets import make_classification
    from skgd import GDClassifier
    import skgd._parallel as P

    X, y = make_classification(20000, 64, n_informative=20, random_state=0)
    fit = lambda: GDClassifier(batch_size=1024, n_jobs=2, max_iter=2, tol=None,
                               random_state=0).fit(X, y).coef_
    parent = fit()  # starts Numba's thread pool in the parent
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        child = fit()
        os.write(w, json.dumps({"equal": bool(np.array_equal(parent, child)),
                                "threads": P.last_kernel_threads()}).encode())
        os._exit(0)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    msg = os.read(r, 4096).decode()
    print(json.dumps({"layer": P.threading_layer(), "status": status, "child": msg}))
""")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fit_in_a_forked_child_runs_serially(tmp_path):
    # GNU OpenMP terminates a child forked after its pool started on the first parallel
    # region (joblib's "multiprocessing" backend, multiprocessing's "fork" method):
    # there the kernels run serially, with the same result.
    if POOL < 2:
        pytest.skip("needs at least 2 Numba threads")
    script = tmp_path / "fork.py"
    script.write_text(FORK_SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == 0, proc.stderr[-3000:]
    child = json.loads(out["child"])
    assert child["equal"] is True
    if out["layer"] == "omp":
        assert child["threads"] == 1


@pytest.mark.parametrize("layer, parallel", [("omp", True), ("tbb", True),
                                             ("workqueue", False)])
def test_parallel_region_thresholds_follow_the_layer(monkeypatch, layer, parallel):
    # A workqueue region costs ~100x an OpenMP one: the same batch that runs in
    # parallel under omp runs serially under workqueue, with the same result.
    import skgd._base as base

    if POOL < 2:
        pytest.skip("needs at least 2 Numba threads")
    X, y = make_classification(4096, 100, random_state=0)
    specs = []
    original = base.BaseGD._kernel_args

    def spy(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        specs.append(out[0])
        return out

    monkeypatch.setattr(base.BaseGD, "_kernel_args", spy)
    ref = GDClassifier(batch_size=1024, n_jobs=2, max_iter=2, tol=None, random_state=0)
    ref.fit(X, y)
    assert specs[-1].par_rows
    monkeypatch.setattr(base, "threading_layer", lambda: layer)
    est = GDClassifier(batch_size=1024, n_jobs=2, max_iter=2, tol=None, random_state=0)
    est.fit(X, y)
    assert specs[-1].par_rows is parallel
    np.testing.assert_array_equal(est.coef_, ref.coef_)
