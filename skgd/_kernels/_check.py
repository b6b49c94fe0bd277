"""Input checks at memory speed: whether every value of an array is finite, and
whether a CSR structure is well formed.

scikit-learn's check sums the array on one thread (0.075 s for a 1M x 100 float64
array here, more than an epoch); this one reads it in parallel parts at the speed of
a plain read pass (0.033 s float64, 0.016 s float32 on 2 threads).
"""

import numpy as np
from numba import njit, prange

# Reassociation only: the sum vectorizes, and without the no-NaN/no-inf flags LLVM may
# not fold ``x - x`` to zero.
_REASSOC = {"reassoc"}


@njit(fastmath=_REASSOC, cache=True, inline="always")
def _finite_part(v):
    # x - x is 0 for a finite x and NaN for NaN or +-inf, and a NaN survives the sum.
    # Indices from 0 over a slice: with possibly negative bounds Numba's wraparound
    # check made LLVM gather the values (2x slower).
    s = v[0] - v[0]
    for i in range(v.shape[0]):
        s += v[i] - v[i]
    return s == 0.0


@njit(parallel=True, fastmath=_REASSOC, cache=True)
def all_finite(v, n_parts):
    """Whether every value of the 1-D array ``v`` is finite (neither NaN nor +-inf).

    ``v`` is cut into ``n_parts`` contiguous parts checked in parallel; with one part
    the check runs serially and opens no parallel region.
    """
    n = v.shape[0]
    if n == 0:
        return True
    if n_parts <= 1:
        return _finite_part(v)
    ok = np.zeros(n_parts, dtype=np.bool_)
    for c in prange(n_parts):
        lo = c * n // n_parts
        hi = (c + 1) * n // n_parts
        ok[c] = hi == lo or _finite_part(v[lo:hi])
    return ok.all()


@njit(cache=True)
def csr_structure_ok(indices, indptr, n_cols):
    """Whether ``(indices, indptr)`` is a well-formed CSR structure of ``n_cols`` columns.

    The row pointers start at 0, never decrease and stay within ``indices``, and every
    column index lies in ``[0, n_cols)``. The kernels index the coefficients by these
    values unchecked, so a malformed matrix would read or write outside them.
    """
    n_rows = indptr.shape[0] - 1
    if n_rows < 0 or indptr[0] != 0 or indptr[n_rows] > indices.shape[0]:
        return False
    for r in range(n_rows):
        lo = indptr[r]
        hi = indptr[r + 1]
        if hi < lo:
            return False
        for p in range(lo, hi):
            j = indices[p]
            if j < 0 or j >= n_cols:
                return False
    return True
