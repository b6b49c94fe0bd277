"""Kernel thread count, and safety of concurrent kernel calls.

``n_jobs`` sets the Numba threads of one fit; the previous setting is restored
afterwards. Numba's ``workqueue`` threading layer aborts the process when two Python
threads run parallel kernels at once, so with that layer parallel kernel calls are
serialized by a process-wide lock (the ``omp`` and ``tbb`` layers are thread-safe).
"""

import contextlib
import threading

import numba

_LOCK = threading.Lock()
_LAYER = None


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


def effective_threads(n_jobs):
    """Threads for a fit: ``None``/``-1`` mean every Numba thread of this process.

    Numba's pool size is ``NUMBA_NUM_THREADS``, which joblib's process workers set to
    their share of the cores, so fits inside them do not oversubscribe.
    """
    avail = max(1, int(numba.config.NUMBA_NUM_THREADS))
    if n_jobs is None:
        return avail
    if n_jobs < 0:
        return max(1, avail + 1 + n_jobs)
    return max(1, min(int(n_jobs), avail))


@contextlib.contextmanager
def kernel_threads(n_threads):
    """Run kernels on ``n_threads`` threads; serialize them if the layer is unsafe."""
    if n_threads <= 1:
        # Serial kernels start no parallel region, whatever the layer.
        yield
        return
    lock = _LOCK if threading_layer() == "workqueue" else contextlib.nullcontext()
    with lock:
        previous = numba.get_num_threads()
        numba.set_num_threads(n_threads)
        try:
            yield
        finally:
            numba.set_num_threads(previous)
