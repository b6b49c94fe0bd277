"""The dense epoch in one parallel region: no fork and join per batch.

The per-batch kernel (:func:`._epoch.epoch_dense`) opens a parallel region for each
batch's row chunks and steps the weights after it. At batch 256 x 100 columns a batch's
rows take ~6 us per thread, and opening and closing the region, waiting for the slower
thread and stepping took ~5 us more (docs/performance.rst). Here the region is opened
once per epoch. Each of its ``T`` threads keeps its own copy of the weights, optimizer
state and average (thread 0 steps the caller's arrays) and, per batch,

1. sweeps its run ``[u C / T, (u + 1) C / T)`` of the batch's ``C`` row chunks
   (:func:`._epoch.dense_chunks`, the code every kernel runs a chunk with) and adds the
   pairs of chunk sums that lie within its run, in the order of
   :func:`._epoch._sum_chunks`;
2. publishes that with a release store of the batch's number and waits until every
   thread has published it;
3. adds the remaining pairs (those spanning runs) in the same order into its private
   rows and steps its copy with the per-batch kernel's update (:func:`._epoch._update`).

Every thread thus makes the same additions in the same order as the per-batch kernel:
the copies stay identical, and the result is the same bits as ``epoch_dense`` for any
thread count. Only the pairs' sums cross between cores, not the weights. Chunk sums
alternate between two buffers: a thread can be one batch ahead of the slowest, never
two.

A barrier needs every thread of the region running at once. OpenMP's team does that;
Numba's ``workqueue`` and ``tbb`` layers promise no such thing (their iterations may
run one after another on fewer threads), and a pool shared with other fits may give the
region fewer threads than asked. So the threads first check in: once all ``T`` have,
they go on together; a thread that waits too long for the others declares the epoch
solo, the first thread to claim it runs every run of chunks itself, and the others
leave. The result is the same either way; only the time differs.
"""

import numba
import numpy as np
from numba import njit, prange

from ._codes import N_STEP_CONSTANTS
from ._epoch import (
    MAX_CHUNKS,
    _in_row_dtype,
    _levels,
    _sync_row_weights,
    _update,
    batch_ends,
    batch_stop,
    dense_chunks,
    n_chunks,
    sum_stats,
)
from ._sync import (
    SPINS_BEFORE_YIELD,
    compare_exchange,
    fetch_add,
    load_acquire,
    spin,
    store_release,
)

# Slots of the flags array, each on its own 128-byte pair of cache lines.
_ARRIVED = 0  # threads checked in
_MODE = 16  # _UNDECIDED, _TOGETHER or _SOLO
_OWNER = 32  # 1 + the thread running a solo epoch
_DONE = 48  # + 16 * u: the last batch thread u has published
# + 16 * (T + u): the waits of thread u that outlasted its spins (see long_waits)
_UNDECIDED, _TOGETHER, _SOLO = 0, 1, 2
_LEAVE = 0
# Checks (spins, then yields) a thread waits for the others to check in before it
# declares the epoch solo. OpenMP's threads arrive within microseconds.
ENTRY_CHECKS = 20_000
# Accumulator rows are padded to this many float64 (128 bytes): threads write their own
# rows only, and no two threads' rows share a cache line (or an adjacent-line pair).
_PAD = 16


def _padded(n):
    return (n + _PAD - 1) // _PAD * _PAD + _PAD


def make_region_work(n_threads, K, D1, n_slots, n_avg, x_dtype=np.float64):
    """Scratch arrays of :func:`epoch_dense_region` for ``n_threads`` threads, ``K``
    outputs of ``D1`` parameters, ``n_slots`` optimizer slots and ``n_avg`` averaged
    outputs (0 without averaging)."""
    T = int(n_threads)
    P = _padded(K * D1)
    narrow = np.dtype(x_dtype) == np.float32
    G = np.zeros((2, MAX_CHUNKS, P))  # the chunks' gradient sums
    stats = np.zeros((2, MAX_CHUNKS, _PAD))  # the chunks' loss and weight sums
    bufs = np.zeros((MAX_CHUNKS, 2, _padded(K)))
    cst = np.zeros((T, _padded(N_STEP_CONSTANTS)))
    Gx = np.zeros((MAX_CHUNKS, P if narrow else 0), dtype=x_dtype)
    # Copies written by one thread each are at even indices: the odd one between keeps
    # them off each other's cache lines. Slot 0 of the parameters and state is unused
    # (thread 0 steps the caller's arrays).
    thx = np.zeros((2 * T, K, D1 if narrow else 0), dtype=x_dtype)
    theta = np.zeros((2 * T, K, D1))
    state = np.zeros((2 * T, n_slots, K, D1))
    avg = np.zeros((2 * T, n_avg, D1))
    grad = np.zeros((T, 1, P))  # each thread's batch gradient
    Q = np.zeros((T, MAX_CHUNKS, P))  # each thread's sums of blocks spanning runs
    flags = np.zeros(_DONE + 2 * _PAD * T, dtype=np.int64)
    out = np.zeros(4)
    return G, stats, bufs, cst, thx, Gx, theta, state, avg, grad, Q, flags, out


@njit(inline="always")
def _check_in(flags, tid, T):
    """Return _TOGETHER, _SOLO (this thread runs the epoch alone) or _LEAVE."""
    if fetch_add(flags, _ARRIVED, 1) + 1 == T:
        compare_exchange(flags, _MODE, _UNDECIDED, _TOGETHER)
    checks = 0
    while load_acquire(flags, _MODE) == _UNDECIDED:
        checks += 1
        if checks > ENTRY_CHECKS:
            compare_exchange(flags, _MODE, _UNDECIDED, _SOLO)
        spin(checks)
    if load_acquire(flags, _MODE) == _TOGETHER:
        return _TOGETHER
    if compare_exchange(flags, _OWNER, 0, tid + 1) == 0:
        return _SOLO
    return _LEAVE


@njit(inline="always")
def _run_of(c, C, T):
    """The thread whose run of chunks ``[u C / T, (u + 1) C / T)`` holds chunk ``c``."""
    u = c * T // C
    while (u + 1) * C // T <= c:
        u += 1
    while u * C // T > c:
        u -= 1
    return u


@njit(cache=True)
def _sum_within_run(G, C, a, b, n):
    """The pairwise sums of ``_epoch._sum_chunks`` whose blocks lie in chunks [a, b),
    in place (the rows added are zeroed before their next sweep instead)."""
    for level in range(_levels(C)):
        s = 1 << level
        for c in range(0, C - s, 2 * s):
            if c >= a and min(c + 2 * s, C) <= b:
                g0 = G[c, :n]
                gc = G[c + s, :n]
                for i in range(n):
                    g0[i] += gc[i]


@njit(cache=True)
def _sum_across_runs(G, C, T, Q, out, n):
    """``out[:n]`` = the pairwise sum of the ``C`` chunk rows, once each thread has
    summed the blocks within its run (:func:`_sum_within_run`): the blocks spanning
    several runs are summed in the private ``Q``, with the same additions in the same
    order as ``_epoch._sum_chunks``, so the result is the same bits."""
    for level in range(_levels(C)):
        s = 1 << level
        for c in range(0, C - s, 2 * s):
            e = min(c + 2 * s, C)
            if _run_of(c, C, T) == _run_of(e - 1, C, T):
                continue  # in G[c], summed by the run's thread
            left = G[c] if _run_of(c, C, T) == _run_of(c + s - 1, C, T) else Q[c]
            right = G[c + s] if _run_of(c + s, C, T) == _run_of(e - 1, C, T) else Q[c + s]
            q = Q[c]
            for i in range(n):
                q[i] = left[i] + right[i]
    top = G[0] if _run_of(0, C, T) == _run_of(C - 1, C, T) else Q[0]
    for i in range(n):
        out[i] = top[i]


@njit(cache=True)
def _thread_epoch(tid, T, X, y, sw, order, batch_size, theta, state, avg, work, spec, t,
                  opt_t):
    """Thread ``tid`` of ``T``'s part of the epoch (see the module's docstring); the
    thread that steps the caller's arrays writes the returns into ``out``."""
    G, stats, bufs, cst, thx, Gx, TH, ST, AV, grad, Q, flags, out = work
    tid = np.int64(tid)  # a prange index is unsigned; mixed with int64 it would be float
    role = _check_in(flags, tid, T)
    if role == _LEAVE:
        return
    together = role == _TOGETHER
    r = tid if together else np.int64(0)
    th = theta if r == 0 else TH[2 * r]
    st = state if r == 0 else ST[2 * r]
    av = avg if r == 0 else AV[2 * r]
    thx_r = thx[2 * r]
    wx = _in_row_dtype(X, th, thx_r)  # the weights in the rows' dtype
    first, last = (tid, tid + 1) if together else (0, T)  # the runs this thread sweeps
    n = order.shape[0]
    lsum = 0.0
    wsum = 0.0
    KD1 = th.shape[0] * th.shape[1]
    _sync_row_weights(X, th, thx_r)
    b = 0
    for start in range(0, batch_ends(batch_size, n), batch_size):
        stop = batch_stop(start, batch_size, n)
        m = stop - start
        buf = b & 1
        b += 1
        C = n_chunks(m)
        c_lo = first * C // T
        c_hi = last * C // T
        for c in range(c_lo, c_hi):
            g = G[buf, c]
            for j in range(KD1):
                g[j] = 0.0
        dense_chunks(X, y, sw, order, start, stop, C, c_lo, c_hi, th, wx, G[buf], Gx,
                     stats[buf], bufs, spec)
        _sum_within_run(G[buf], C, c_lo, c_hi, KD1)
        if together:
            store_release(flags, _DONE + _PAD * tid, b)
            for v in range(T):
                checks = 0
                while load_acquire(flags, _DONE + _PAD * v) < b:
                    checks += 1
                    spin(checks)
                if checks > SPINS_BEFORE_YIELD:
                    flags[_DONE + _PAD * (T + tid)] += 1
        bl, bw = sum_stats(stats[buf], C)
        if together:
            _sum_across_runs(G[buf], C, T, Q[tid], grad[r, 0], KD1)
        else:
            grad[r, 0, :KD1] = G[buf, 0, :KD1]
        lsum += bl
        wsum += bw
        if bw > 0.0:
            t += 1
            opt_t += 1
            # One row, passed as a variable: with a literal 1 Numba compiled a second
            # specialization of _update whose steps rounded differently (1 ulp).
            one = grad.shape[1]
            _update(th, st, av, grad[r], one, 1.0 / (m * spec.w_mean), spec, cst[r], t, opt_t)
            _sync_row_weights(X, th, thx_r)
    if r == 0:
        out[0] = lsum
        out[1] = wsum
        out[2] = t
        out[3] = opt_t


@njit(parallel=True, cache=True)
def _region(T, X, y, sw, order, batch_size, theta, state, avg, work, spec, t, opt_t):
    for tid in prange(T):
        _thread_epoch(tid, T, X, y, sw, order, batch_size, theta, state, avg, work, spec, t,
                      opt_t)


@njit(cache=True, nogil=True)
def _epoch(n_threads, X, y, sw, order, batch_size, theta, state, avg, work, spec, t, opt_t):
    TH, ST, AV, grad, flags, out = work[6], work[7], work[8], work[9], work[11], work[12]
    T = max(1, min(grad.shape[0], n_threads))
    for u in range(1, T):
        TH[2 * u] = theta
        ST[2 * u] = state
        AV[2 * u] = avg
    flags[:] = 0
    _region(T, X, y, sw, order, batch_size, theta, state, avg, work, spec, t, opt_t)
    return out[0], out[1], int(out[2]), int(out[3])


def epoch_dense_region(X, y, sw, order, batch_size, theta, state, avg, work, spec, t, opt_t):
    """:func:`._epoch.epoch_dense` in one parallel region (same arguments, returns and
    result), ``work`` from :func:`make_region_work`.

    Runs on the calling thread's Numba thread count, at most the count ``work`` was
    made for (asked for here: read inside compiled code, it kept the kernel out of
    the cache). ``spec.par_update`` must be False: each thread steps its copy
    serially."""
    return _epoch(numba.get_num_threads(), X, y, sw, order, batch_size, theta, state, avg,
                  work, spec, t, opt_t)


def long_waits(work):
    """How many times the last epoch's threads waited at a barrier past their spins
    (then yielding their core): a thread it waited for was not running. Cores shared
    with other busy processes make that the rule (see ``skgd._base``)."""
    flags, T = work[11], work[9].shape[0]
    return int(sum(flags[_DONE + _PAD * (T + u)] for u in range(T)))
