"""Kernel thread count, and safety of concurrent kernel calls.

``n_jobs`` bounds the Numba threads of one fit; the previous setting is restored
afterwards (Numba's thread count is per Python thread, so concurrent fits do not see
each other's setting). Three things keep concurrent use safe and the cores not
oversubscribed:

- Numba's ``workqueue`` threading layer aborts the process when two Python threads run
  parallel kernels at once, so with that layer parallel kernel calls are serialized by
  a process-wide lock (the ``omp`` and ``tbb`` layers are thread-safe).
- The kernels running at the same time in one process share Numba's pool: each epoch
  takes ``pool // running`` threads (at least one). Concurrent fits from Python threads
  (``ThreadPoolExecutor``, joblib's threading backend, a threaded Dask worker) so use
  about one thread per core between them from their second epoch on. The thread count
  never changes the arithmetic, so results do not depend on it.
- With ``n_jobs=None`` a fit uses the process's thread budget: Numba's pool size,
  which joblib's process workers set to their share of the cores through
  ``NUMBA_NUM_THREADS``, further limited by ``OMP_NUM_THREADS`` when that is set and
  ``NUMBA_NUM_THREADS`` is not (Dask's worker processes set ``OMP_NUM_THREADS=1`` so
  that each task runs on one core).

GNU OpenMP (Numba's ``omp`` layer here) is not fork-safe: a process forked after
Numba started its pool terminates on its first parallel region. In such a child
(joblib's ``multiprocessing`` backend, ``multiprocessing`` with the ``fork`` start
method) the kernels run serially, which starts no parallel region.
"""

import contextlib
import os
import threading

import numba

# Serializes parallel kernels under the workqueue layer. Reentrant: a fit holds it
# across its epochs, and a callback may predict or fit (which checks its input with a
# parallel kernel) on the same thread.
_LOCK = threading.RLock()
_RUNNING_LOCK = threading.Lock()
_running = 0  # kernel calls in progress in this process
_LAYER = None
_FORKED_UNSAFE = False  # a child forked after GNU OpenMP started: run serially
_local = threading.local()


def threading_layer():
    """Name of the Numba threading layer, starting it if needed."""
    global _LAYER
    if _LAYER is None:
        try:
            _LAYER = numba.threading_layer()
        except ValueError:
            from numba.np.ufunc.parallel import _launch_threads

            _launch_threads()
            _LAYER = numba.threading_layer()
    return _LAYER


def _gnu_openmp_started():
    """Whether this process started Numba's pool on the GNU OpenMP runtime."""
    from numba.np.ufunc import parallel

    if not parallel._is_initialized:
        return False
    try:
        if numba.threading_layer() != "omp":
            return False
        from numba.np.ufunc import omppool
    except (ValueError, ImportError):
        return False
    return getattr(omppool, "openmp_vendor", "GNU") == "GNU"


def _after_fork_in_child():
    global _LOCK, _RUNNING_LOCK, _running, _FORKED_UNSAFE
    # Only the forking thread exists in the child: locks another thread held at the
    # fork would stay locked forever, and its running kernels are gone.
    _LOCK = threading.RLock()
    _RUNNING_LOCK = threading.Lock()
    _running = 0
    if _gnu_openmp_started():
        _FORKED_UNSAFE = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def pool_size():
    """Threads in Numba's pool for this process (``NUMBA_NUM_THREADS``)."""
    return max(1, int(numba.config.NUMBA_NUM_THREADS))


def _env_threads(name):
    try:
        value = int(os.environ.get(name, ""))
    except ValueError:
        return None
    return value if value >= 1 else None


def thread_budget():
    """Threads a fit with ``n_jobs=None`` may use in this process.

    Numba's pool size (joblib's process workers set ``NUMBA_NUM_THREADS`` to their
    share of the cores), limited by ``OMP_NUM_THREADS`` unless ``NUMBA_NUM_THREADS``
    is set explicitly.
    """
    n = pool_size()
    if _env_threads("NUMBA_NUM_THREADS") is None:
        omp = _env_threads("OMP_NUM_THREADS")
        if omp is not None:
            n = min(n, omp)
    return n


def effective_threads(n_jobs):
    """Most threads a fit may use: ``None`` is the thread budget of the process,
    ``-1`` every thread of Numba's pool, ``-2`` all but one, and so on."""
    if _FORKED_UNSAFE:
        return 1
    avail = pool_size()
    if n_jobs is None:
        return thread_budget()
    if n_jobs < 0:
        return max(1, avail + 1 + n_jobs)
    return max(1, min(int(n_jobs), avail))


def last_kernel_threads():
    """Threads the calling Python thread's last kernel call ran with (None if none).

    For tests and diagnostics: it tells how many threads a fit's epochs actually got
    after sharing the pool with concurrent fits.
    """
    return getattr(_local, "threads", None)


@contextlib.contextmanager
def kernel_threads(n_threads):
    """Run kernels on at most ``n_threads`` threads, sharing the pool with the kernels
    running concurrently in this process; serialize them if the layer is unsafe."""
    global _running
    parallel = n_threads > 1
    unsafe = parallel and threading_layer() == "workqueue"
    lock = _LOCK if unsafe else contextlib.nullcontext()
    with lock:
        # Counted once the lock is held: kernels waiting for it use no core.
        with _RUNNING_LOCK:
            _running += 1
            running = _running
        try:
            if not parallel:
                # Serial kernels start no parallel region, whatever the layer.
                _local.threads = 1
                yield
                return
            use = max(1, min(n_threads, pool_size() // running))
            previous = numba.get_num_threads()
            numba.set_num_threads(use)
            _local.threads = use
            try:
                yield
            finally:
                numba.set_num_threads(previous)
        finally:
            with _RUNNING_LOCK:
                _running -= 1
