"""Numba kernels. Nothing here imports scikit-learn."""

from numba.np.ufunc import parallel as _numba_parallel

# Cached kernels reach cached parallel code through serial callers; loaded from the
# cache in a process whose thread pool was never started, that code crashes (Numba
# issue #8578, reproduced here with CSR float32 Adam). Start the pool before any kernel
# can run; it costs a few milliseconds once.
if not _numba_parallel._is_initialized:
    _numba_parallel._launch_threads()

from ._codes import *  # noqa: F401,F403
from ._epoch import (  # noqa: F401
    KernelSpec,
    epoch_csr,
    epoch_csr_lazy,
    epoch_dense,
    fill_order,
    learning_rate,
    make_lazy_work,
    make_work,
    specialize,
)
from ._losses import loss_and_derivative, softmax_loss_and_derivative  # noqa: F401
from ._optim import builtin_update, step_constants  # noqa: F401
