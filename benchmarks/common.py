"""Shared pieces of the benchmarks: data, reference measurements, timing helpers.

Everything here is deterministic: data come from fixed seeds, so every benchmark process
(asv runs each benchmark in its own) sees the same arrays.

Sizes are those of the performance targets times ``SKGD_BENCH_SCALE`` (an environment
variable, default 1.0), with small floors so that a tiny scale still gives a valid
problem; ``smoke.py`` runs everything at a tiny scale.

No name here starts with ``time_``, ``peakmem_``, ``track_`` or ``timeraw_``: asv
collects such names from every module of this package as benchmarks.
"""

import contextlib
import functools
import math
import os
import time
import warnings

import numba
import numpy as np
import scipy.sparse as sp
from numba import njit, prange

# Full sizes (SKGD_BENCH_SCALE=1), as in the targets.
DENSE_SHAPE = (1_000_000, 100)  # rows, features
SPARSE_SHAPE = (200_000, 100_000, 50)  # rows, features, non-zeros per row
SMALL_SHAPE = (10_000, 20)
MULTICLASS_SHAPE = (200_000, 100, 26)  # rows, features, classes
CONVERGENCE_SHAPE = DENSE_SHAPE
# Held-out rows for test scores: a fifth of the training rows, at most this many.
MAX_TEST_ROWS = 100_000
# Pause after a BLAS call so that OpenBLAS worker threads stop spinning before the
# next measurement (a spinning BLAS thread slowed a Numba pass ~1.7x, DESIGN.md).
QUIET_SECONDS = 0.3
SEED = 0  # seed of the training rows (test rows: SEED + 7)
MODEL_SEED = 20261125  # seed of the true coefficients


# ----------------------------------------------------------------------------- sizes
def bench_scale():
    """The fraction of the full sizes to use, from ``SKGD_BENCH_SCALE`` (default 1)."""
    value = float(os.environ.get("SKGD_BENCH_SCALE", "1.0"))
    if not value > 0:
        raise ValueError(f"SKGD_BENCH_SCALE must be positive, got {value!r}.")
    return value


def scaled(n_full, minimum):
    """``n_full`` times the scale, at least ``minimum`` (and never above ``n_full``
    times the scale rounded)."""
    return max(int(minimum), int(round(n_full * bench_scale())))


def dense_shape():
    return scaled(DENSE_SHAPE[0], 600), DENSE_SHAPE[1]


def sparse_shape():
    n, d, nnz = SPARSE_SHAPE
    d = scaled(d, 1000)
    return scaled(n, 600), d, min(nnz, d // 4)


def small_shape():
    return scaled(SMALL_SHAPE[0], 600), SMALL_SHAPE[1]


def multiclass_shape():
    n, d, k = MULTICLASS_SHAPE
    return scaled(n, 2 * k * 20), d, k


def n_test(n):
    return max(200, min(n // 5, MAX_TEST_ROWS))


# ----------------------------------------------------------------------------- data
def _model_rng(family):
    """The generator of a problem family's true model: fixed, whatever the sample seed,
    so that training and test rows (different seeds) come from the same model."""
    return np.random.default_rng([MODEL_SEED, family])


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@functools.lru_cache(maxsize=4)
def _dense_logistic(n, d, dtype, seed):
    if dtype == "float32":
        # The float64 data rounded, so that both dtypes learn the same problem.
        X, y = _dense_logistic(n, d, "float64", seed)
        return X.astype(np.float32), y
    # Margins with standard deviation 3: about 85% Bayes accuracy, so scores move.
    w = _model_rng(0).standard_normal(d) * (3.0 / math.sqrt(d))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    margin = X @ w + 0.25
    y = (rng.random(n) < _sigmoid(margin)).astype(np.int64)
    return X, y


def dense_classification(n, d, dtype="float64", seed=SEED):
    """Binary logistic data: X standard normal (C-contiguous, ``dtype``), y in {0, 1}.

    The float32 array is the float64 one rounded, so both dtypes learn the same problem.
    """
    return _dense_logistic(int(n), int(d), np.dtype(dtype).name, int(seed))


@functools.lru_cache(maxsize=4)
def sparse_classification(n, d, nnz, dtype="float64", seed=SEED):
    """Binary logistic data in CSR: ``nnz`` random columns per row (a few fewer where
    two draws collide), values N(0, 1/nnz) so rows have unit expected norm."""
    w = _model_rng(1).standard_normal(d) * 3.0
    rng = np.random.default_rng(seed + 1000)
    cols = np.sort(rng.integers(0, d, size=(n, nnz)), axis=1)
    vals = rng.standard_normal((n, nnz)) / math.sqrt(nnz)
    indptr = np.arange(0, n * nnz + 1, nnz, dtype=np.int64)
    X = sp.csr_matrix((vals.ravel(), cols.ravel(), indptr), shape=(n, d))
    X.sum_duplicates()
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)
    margin = X @ w + 0.25
    y = (rng.random(n) < _sigmoid(margin)).astype(np.int64)
    return X.astype(np.dtype(dtype), copy=False), y


@functools.lru_cache(maxsize=2)
def multiclass_classification(n, d, k, dtype="float64", seed=SEED):
    """Softmax data with ``k`` classes: labels drawn by the Gumbel-max trick."""
    W = _model_rng(2).standard_normal((k, d)) * (3.0 / math.sqrt(d))
    rng = np.random.default_rng(seed + 2000)
    X = rng.standard_normal((n, d))
    logits = X @ W.T + rng.gumbel(size=(n, k))
    y = np.argmax(logits, axis=1).astype(np.int64)
    return X.astype(np.dtype(dtype), copy=False), y


@functools.lru_cache(maxsize=2)
def dense_regression(n, d, dtype="float64", seed=SEED):
    """Linear regression data: y = X w + 1 + N(0, 0.5^2) noise."""
    w = _model_rng(3).standard_normal(d) * (3.0 / math.sqrt(d))
    rng = np.random.default_rng(seed + 3000)
    X = rng.standard_normal((n, d))
    y = X @ w + 1.0 + 0.5 * rng.standard_normal(n)
    return X.astype(np.dtype(dtype), copy=False), y


def train_test(make, n, *args, **kwargs):
    """``(X, y, X_test, y_test)``: the test rows come from a different seed."""
    X, y = make(n, *args, **kwargs)
    seed = kwargs.pop("seed", SEED)
    Xt, yt = make(n_test(n), *args, seed=seed + 7, **kwargs)
    return X, y, Xt, yt


def classification_problem(fmt, dtype):
    """The epoch benchmark's data: dense 1M x 100 or CSR 200k x 100k (times the scale)."""
    if fmt == "dense":
        n, d = dense_shape()
        return train_test(dense_classification, n, d, dtype)
    n, d, nnz = sparse_shape()
    return train_test(sparse_classification, n, d, nnz, dtype)


def clear_data_cache():
    """Drop the cached arrays (report.py runs several large problems in one process)."""
    for fn in (_dense_logistic, sparse_classification,
               multiclass_classification, dense_regression):
        fn.cache_clear()


# ----------------------------------------------------------------------------- timing
def quiet():
    """Let BLAS worker threads go idle before the next measurement."""
    time.sleep(QUIET_SECONDS)


def best_seconds(fn, repeat=3, warmup=0):
    """The fastest of ``repeat`` calls of ``fn`` (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        fn()
    best = math.inf
    for _ in range(repeat):
        tic = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - tic)
    return best


@contextlib.contextmanager
def numba_threads(n):
    """Run Numba parallel code on ``n`` threads, restoring the previous count."""
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def default_threads():
    return int(numba.config.NUMBA_NUM_THREADS)


@contextlib.contextmanager
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ----------------------------------------------------------------------------- stream pass
# The floor of an epoch: one read of every value of X, in parallel. The reduction is
# split in one contiguous share per thread (as a prefetcher likes it); results go to
# padded slots so that threads do not share a cache line. The sum is kept in X's
# dtype: a float64 sum of float32 values widens every value, and that arithmetic, not
# the memory, then bounds the pass (it made float32 look only 1.4x faster to read).
@njit(parallel=True, fastmath={"reassoc", "contract"}, cache=True)
def _stream_dense(X, n_parts):
    n = X.shape[0]
    d = X.shape[1]
    out = np.zeros(n_parts * 8, dtype=X.dtype)
    for c in prange(n_parts):
        s = out[c * 8]
        for i in range(c * n // n_parts, (c + 1) * n // n_parts):
            for j in range(d):
                s += X[i, j]
        out[c * 8] = s
    return out.sum()


@njit(parallel=True, fastmath={"reassoc", "contract"}, cache=True)
def _stream_csr(data, indices, n_parts):
    nnz = data.shape[0]
    out = np.zeros(n_parts * 8)
    for c in prange(n_parts):
        s = 0.0
        for q in range(c * nnz // n_parts, (c + 1) * nnz // n_parts):
            s += data[q] + indices[q]
        out[c * 8] = s
    return out.sum()


def stream_pass(X, n_threads=None):
    """One parallel read pass over X (dense C-contiguous or CSR); returns the sum."""
    n_threads = default_threads() if n_threads is None else n_threads
    with numba_threads(n_threads):
        if sp.issparse(X):
            return _stream_csr(X.data, X.indices, n_threads)
        return _stream_dense(X, n_threads)


def stream_seconds(X, n_threads=None, repeat=5):
    """Fastest of ``repeat`` streaming passes over X (compiled/loaded first)."""
    stream_pass(X[:8], n_threads)
    return best_seconds(lambda: stream_pass(X, n_threads), repeat=repeat, warmup=1)


# ----------------------------------------------------------------------------- objective
@njit(parallel=True, fastmath={"reassoc", "contract"}, cache=True)
def _logloss_dense(X, ypm, w, b, n_parts):
    n = X.shape[0]
    d = X.shape[1]
    out = np.zeros(n_parts * 8)
    for c in prange(n_parts):
        s = 0.0
        for i in range(c * n // n_parts, (c + 1) * n // n_parts):
            m = b
            for j in range(d):
                m += X[i, j] * w[j]
            z = -ypm[i] * m
            # log(1 + exp(z)) without overflow
            if z > 0:
                s += z + math.log1p(math.exp(-z))
            else:
                s += math.log1p(math.exp(z))
        out[c * 8] = s
    return out.sum() / n


@njit(parallel=True, fastmath={"reassoc", "contract"}, cache=True)
def _logloss_csr(data, indices, indptr, ypm, w, b, n_parts):
    n = indptr.shape[0] - 1
    out = np.zeros(n_parts * 8)
    for c in prange(n_parts):
        s = 0.0
        for i in range(c * n // n_parts, (c + 1) * n // n_parts):
            m = b
            for q in range(indptr[i], indptr[i + 1]):
                m += data[q] * w[indices[q]]
            z = -ypm[i] * m
            if z > 0:
                s += z + math.log1p(math.exp(-z))
            else:
                s += math.log1p(math.exp(z))
        out[c * 8] = s
    return out.sum() / n


def l2_logistic_objective(X, y, coef, intercept, alpha):
    """``mean_i log(1 + exp(-y_i (x_i . w + b))) + alpha / 2 ||w||^2`` (y in {0, 1}).

    The objective of skgd's and scikit-learn's SGD with ``penalty="l2"``, and of
    ``LogisticRegression(C=1 / (n * alpha))`` divided by ``C * n``. Computed by a Numba
    kernel instead of BLAS so that no spinning BLAS thread slows the next measurement.
    """
    w = np.ascontiguousarray(np.ravel(coef), dtype=np.float64)
    b = float(np.ravel(intercept)[0]) if np.size(intercept) else 0.0
    ypm = np.where(np.asarray(y) > 0, 1.0, -1.0)
    n_parts = max(1, default_threads())
    if sp.issparse(X):
        loss = _logloss_csr(X.data, X.indices, X.indptr, ypm, w, b, n_parts)
    else:
        loss = _logloss_dense(np.ascontiguousarray(X), ypm, w, b, n_parts)
    return float(loss + 0.5 * alpha * np.dot(w, w))


# ----------------------------------------------------------------------------- estimators
def gd_classifier(**params):
    """A GDClassifier with ``random_state=0`` and the given parameters."""
    from skgd import GDClassifier

    params.setdefault("random_state", 0)
    return GDClassifier(**params)


def gd_regressor(**params):
    from skgd import GDRegressor

    params.setdefault("random_state", 0)
    return GDRegressor(**params)


def sgd_classifier(**params):
    """scikit-learn's SGDClassifier (log_loss, random_state=0 unless given)."""
    from sklearn.linear_model import SGDClassifier

    params.setdefault("loss", "log_loss")
    params.setdefault("random_state", 0)
    return SGDClassifier(**params)


def sgd_regressor(**params):
    from sklearn.linear_model import SGDRegressor

    params.setdefault("random_state", 0)
    return SGDRegressor(**params)


def one_epoch(est):
    """``est`` set to run exactly one epoch per fit (no stopping test)."""
    return est.set_params(max_iter=1, tol=None)


def fit_quietly(est, X, y, **fit_params):
    """Fit ``est`` with warnings (ConvergenceWarning with max_iter=1) silenced."""
    with no_warnings():
        return est.fit(X, y, **fit_params)


def warm_jit(est, X, y, rows=600):
    """Compile (or load from cache) the kernels ``est`` will use on data like ``X``,
    by fitting a clone on the first ``rows`` rows: same dtypes and layout, so the same
    kernel signatures."""
    from sklearn.base import clone

    rows = min(rows, X.shape[0])
    est = clone(est).set_params(max_iter=1, tol=None)
    if "callback" in est.get_params():
        est.set_params(callback=None)
    fit_quietly(est, X[:rows], y[:rows])


def environment_facts():
    """Versions, BLAS kernel, thread counts and related environment variables."""
    import platform

    import scipy
    import sklearn

    import skgd

    facts = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "numba": numba.__version__,
        "skgd": skgd.__version__,
        "cpus": os.cpu_count(),
        "numba threads": default_threads(),
        "SKGD_BENCH_SCALE": os.environ.get("SKGD_BENCH_SCALE", "(unset: 1.0)"),
    }
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                "OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER"):
        facts[var] = os.environ.get(var, "(unset)")
    try:
        from threadpoolctl import threadpool_info

        blas = [f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} "
                f"x{i.get('num_threads')}" for i in threadpool_info()
                if i.get("user_api") == "blas"]
        facts["BLAS"] = "; ".join(blas) or "(none found)"
    except ImportError:  # threadpoolctl is a scikit-learn dependency; just in case
        facts["BLAS"] = "(threadpoolctl missing)"
    try:
        from skgd._parallel import threading_layer

        facts["numba threading layer"] = threading_layer()
    except Exception as exc:  # report, never fail, on a changed private helper
        facts["numba threading layer"] = f"(unknown: {exc})"
    facts["load average"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return facts
