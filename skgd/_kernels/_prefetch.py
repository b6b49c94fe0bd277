"""Software prefetch: ask the CPU to start loading memory the kernel reads soon.

Shuffled epochs visit rows in short contiguous runs, and the CPU's own prefetcher
needs a few lines of a run before it follows it; CSR epochs read weights at random
coordinates. Prefetching a few rows ahead hides that latency (measured in
docs/performance.rst). A prefetch is a hint: it never faults and changes no result.
"""

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# Rows ahead of the current one whose lines are requested: far enough that a line
# arrives before it is read (~100 ns of memory latency against ~40 ns per row), near
# enough that it is not evicted first. Measured on 1M x 100 shuffled epochs: 8 rows
# beat 2, 4 and 16.
ROWS_AHEAD = 8


@intrinsic
def prefetch(typingctx, arr, idx):
    """Prefetch the cache line holding ``arr[idx]`` (1-D array; no bounds check needed,
    a prefetch of any address is harmless, but callers stay in bounds)."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(idx, types.Integer)):
        return None
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]],
                                       wraparound=False, boundscheck=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # read access, high temporal locality, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(inline="always")
def prefetch_row(x):
    """Prefetch every cache line of the contiguous 1-D row ``x``."""
    n = x.shape[0]
    step = max(1, 64 // x.itemsize)
    for q in range(0, n, step):
        prefetch(x, q)
    if n > 0:
        prefetch(x, n - 1)  # the last line, when the row does not start on a line
