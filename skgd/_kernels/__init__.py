"""Numba kernels. Nothing here imports scikit-learn."""

from numba.np.ufunc import parallel as _numba_parallel

# Cached kernels reach cached parallel code through serial callers; loaded from the
# cache in a process whose thread pool was never started, that code crashes (Numba
# issue #8578, reproduced here with CSR float32 Adam). Start the pool before any kernel
# can run; it costs a few milliseconds once.
if not _numba_parallel._is_initialized:
    try:
        _numba_parallel._launch_threads()
    except ValueError:
        # The requested layer (NUMBA_THREADING_LAYER) is not installed. Every fit starts
        # the pool again before its first kernel call and raises Numba's hint there.
        pass

from ._check import all_finite, csr_structure_ok  # noqa: F401
from ._codes import *  # noqa: F401,F403
from ._epoch import (  # noqa: F401
    KernelSpec,
    epoch_csr,
    epoch_csr_lazy,
    epoch_csr_scaled,
    epoch_dense,
    fill_order,
    learning_rate,
    make_lazy_work,
    make_scaled_work,
    make_work,
    shuffle_rows,
    specialize,
)
from ._losses import loss_and_derivative, softmax_loss_and_derivative  # noqa: F401
from ._optim import builtin_update, step_constants  # noqa: F401
from ._region import epoch_dense_region, long_waits, make_region_work  # noqa: F401


def _drop_stale_cache():
    """Delete cached kernels compiled from other versions of these sources.

    The epoch kernels inline the loss and optimizer rules from sibling modules, but
    Numba invalidates a cache entry only when the file defining the cached function
    changes: an edit of _optim.py alone would keep running the old rule. The cache
    directory therefore carries a digest of all kernel sources; on a mismatch the
    kernels' cache files are removed before any kernel loads.
    """
    import hashlib
    from pathlib import Path

    here = Path(__file__).parent
    digest = hashlib.sha256(
        b"".join(p.read_bytes() for p in sorted(here.glob("*.py")))).hexdigest()
    try:
        cache_dir = Path(epoch_dense._cache._cache_path)
        stamp = cache_dir / "skgd_kernels.digest"
        if stamp.exists() and stamp.read_text() == digest:
            return
        for module in (p.stem for p in here.glob("*.py")):
            for f in list(cache_dir.glob(f"{module}.*.nbi")) + list(
                    cache_dir.glob(f"{module}.*.nbc")):
                f.unlink(missing_ok=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
    except (AttributeError, OSError):
        # No usable cache location (read-only install, Numba internals changed): the
        # kernels then compile in memory as Numba decides; nothing to clean.
        pass


_drop_stale_cache()
