"""Numba kernels. Nothing here imports scikit-learn."""

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
