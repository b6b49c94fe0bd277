"""The one-region dense epoch (skgd._kernels._region): the same bits as the per-batch
kernel for every thread count, a solo fallback that cannot deadlock, and the atomics
its threads wait on."""

import numba
import numpy as np
import pytest
from numba import njit
from numpy.testing import assert_array_equal
from sklearn.datasets import load_digits

from skgd import GDClassifier, GDRegressor
from skgd import _base
from skgd import _kernels as K
from skgd._kernels import _region
from skgd._kernels._codes import LOSS_LOG, MODE_SINGLE, OPT_ADAM, SCHED_CONSTANT
from skgd._kernels._epoch import MAX_CHUNKS
from skgd._kernels._sync import compare_exchange, fetch_add, load_acquire, store_release
from skgd._parallel import threading_layer

needs_two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                       reason="needs 2 Numba threads")


@njit
def _atomics(a):
    old = fetch_add(a, 0, 5)
    swapped = compare_exchange(a, 1, 0, 7)
    kept = compare_exchange(a, 1, 0, 9)  # a[1] is 7 now: no exchange
    store_release(a, 2, 3)
    return old, swapped, kept, load_acquire(a, 0), load_acquire(a, 2)


def test_atomics():
    a = np.array([2, 0, 0], dtype=np.int64)
    assert _atomics(a) == (2, 0, 7, 7, 3)
    assert_array_equal(a, [7, 7, 3])


def _spec(l2=1e-4):
    return K.KernelSpec(MODE_SINGLE, LOSS_LOG, 0.0, OPT_ADAM, np.array([0.9, 0.999, 1e-8, 0.0]),
                        False, SCHED_CONSTANT, np.array([0.01]), l2, 0.0, True, 0, True, False,
                        w_mean=1.0, pa=0, pa_c=0.0)


def _problem(n=3000, d=30, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = np.where(X[:, :3].sum(axis=1) > 0, 1.0, -1.0)
    sw = rng.integers(0, 3, n).astype(np.float64)  # zero weights too
    return X, y, sw, rng.permutation(n).astype(np.int64)


def _per_batch(X, y, sw, order, batch_size, theta, state):
    d1 = X.shape[1] + 1
    out = K.epoch_dense(X, y, sw, order, batch_size, theta, state, theta[:0],
                        K.make_work(MAX_CHUNKS, 1, d1, X.dtype), _spec(), 0, 0)
    return out, theta, state


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads, pool", [(2, 2), (3, 2), (4, 2), (2, 1)])
def test_more_threads_than_run_at_once_fall_back_to_solo(dtype, n_threads, pool):
    """A region of T threads on fewer at once (as a non-OpenMP layer or a shared pool
    may run it): the threads cannot all check in, one runs the epoch alone, and the
    result is still the per-batch kernel's, bit for bit (no deadlock either)."""
    if pool > numba.config.NUMBA_NUM_THREADS:
        pytest.skip("needs more Numba threads")
    X, y, sw, order = _problem(dtype=dtype)
    d1 = X.shape[1] + 1
    ref, theta_ref, state_ref = _per_batch(X, y, sw, order, 100, np.zeros((1, d1)),
                                           np.zeros((2, 1, d1)))
    theta, state = np.zeros((1, d1)), np.zeros((2, 1, d1))
    work = K.make_region_work(n_threads, 1, d1, 2, 0, dtype)
    previous = numba.get_num_threads()
    numba.set_num_threads(pool)
    try:
        got = _region._epoch(n_threads, X, y, sw, order, 100, theta, state, theta[:0], work,
                             _spec(), 0, 0)
    finally:
        numba.set_num_threads(previous)
    assert got == ref
    assert_array_equal(theta, theta_ref)
    assert_array_equal(state, state_ref)


@needs_two_threads
@pytest.mark.parametrize("batch_size", [16, 64, 100, 256, 1000])
def test_region_matches_per_batch_kernel(batch_size):
    """Batches of fewer chunks than threads (16 rows: one chunk), of chunks not split
    evenly (100 rows: 3 chunks), and a remainder joining the last batch."""
    X, y, sw, order = _problem(n=2999)
    d1 = X.shape[1] + 1
    theta0 = np.random.default_rng(1).standard_normal((1, d1)) * 0.1
    ref, theta_ref, state_ref = _per_batch(X, y, sw, order, batch_size, theta0.copy(),
                                           np.zeros((2, 1, d1)))
    theta, state = theta0.copy(), np.zeros((2, 1, d1))
    previous = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        got = K.epoch_dense_region(X, y, sw, order, batch_size, theta, state, theta[:0],
                                   K.make_region_work(2, 1, d1, 2, 0), _spec(), 0, 0)
    finally:
        numba.set_num_threads(previous)
    assert got == ref
    assert_array_equal(theta, theta_ref)
    assert_array_equal(state, state_ref)


def _spy_kernels(monkeypatch):
    used = []
    kernel_args = _base.BaseGD._kernel_args

    def spy(self, *args, **kwargs):
        out = kernel_args(self, *args, **kwargs)
        used.append(out[1])
        return out

    monkeypatch.setattr(_base.BaseGD, "_kernel_args", spy)
    return used


@needs_two_threads
@pytest.mark.parametrize("Est, params", [
    (GDClassifier, dict(multi_class="ovr", optimizer="adam")),
    (GDClassifier, dict(multi_class="multinomial", optimizer="sgd", average=True)),
    (GDClassifier, dict(multi_class="multinomial", optimizer="adagrad", penalty="elasticnet")),
    (GDClassifier, dict(optimizer="momentum", loss="hinge")),
    (GDRegressor, dict(optimizer="adamw", learning_rate="constant", eta0=1e-3)),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_n_jobs_gives_the_same_bits(monkeypatch, Est, params, dtype):
    """Real data (digits, 64 features), every output mode: the fits with one thread
    (per-batch kernel) and two (one region per epoch) are identical."""
    if threading_layer() != "omp":
        pytest.skip("the region runs under the omp layer only")
    X, y = load_digits(return_X_y=True)
    X = np.repeat(X, 2, axis=0).astype(dtype) / 16.0
    y = np.repeat(y, 2)
    if Est is GDClassifier and "loss" in params:
        y = (y >= 5).astype(int)
    if Est is GDRegressor:
        y = y.astype(float)
    used = _spy_kernels(monkeypatch)
    sw = np.where(np.arange(len(y)) % 7 == 0, 0.0, 1.0 + np.arange(len(y)) % 3)
    fits = [Est(batch_size=333, n_jobs=n_jobs, max_iter=3, tol=None, random_state=0,
                **params).fit(X, y, sample_weight=sw) for n_jobs in (1, 2)]
    assert used == [K.epoch_dense, K.epoch_dense_region]
    assert_array_equal(fits[0].coef_, fits[1].coef_)
    assert_array_equal(fits[0].intercept_, fits[1].intercept_)


@needs_two_threads
def test_fit_leaves_the_region_when_its_threads_keep_waiting(monkeypatch):
    """Cores shared with busy processes: a fit whose region epochs wait too often goes
    on with the per-batch kernel, and the result does not change (forced here by a
    negative allowance, so that the first epoch's waits are already too many)."""
    if threading_layer() != "omp":
        pytest.skip("the region runs under the omp layer only")
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    params = dict(batch_size=333, max_iter=4, tol=None, random_state=0)
    ref = GDClassifier(n_jobs=1, **params).fit(X, y)
    calls = []
    per_batch = K.epoch_dense

    def counted(*args):
        calls.append(1)
        return per_batch(*args)

    monkeypatch.setattr(K, "epoch_dense", counted)
    monkeypatch.setattr(_base, "REGION_LONG_WAITS_MIN", -1)
    used = _spy_kernels(monkeypatch)
    est = GDClassifier(n_jobs=2, **params).fit(X, y)
    assert used == [K.epoch_dense_region]
    assert len(calls) == 3  # epochs 2-4
    assert_array_equal(est.coef_, ref.coef_)
    assert_array_equal(est.intercept_, ref.intercept_)
