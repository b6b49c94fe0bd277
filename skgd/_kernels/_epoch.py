"""Mini-batch epoch kernels: fused forward pass, loss derivative, gradient and update.

One epoch visits the rows in a given order, cuts it into batches of
``batch_size`` consecutive entries and, per batch,

1. accumulates ``sum_i s_i dL_i/dp * [x_i, 1]`` and ``sum_i s_i L_i`` in one sweep over
   each row (dense: split into a fixed number of row chunks, each with its own padded
   accumulator, run in parallel when the batch is large enough);
2. reduces the chunks in a fixed order, divides by ``sum_i s_i`` and applies the L2 term,
   the optimizer rule, the L1 proximal step and averaging, coordinate by coordinate.

The number of chunks depends on the batch only, never on the thread count, so the
arithmetic (and the result) is the same for every ``n_jobs``. A batch whose weights are
all zero changes nothing and does not advance the step counters.
"""

import math
import types
from collections import namedtuple

import numpy as np
from numba import njit, prange

from ._codes import (
    MODE_MULTINOMIAL,
    MODE_SINGLE,
    N_STEP_CONSTANTS,
    OPT_CUSTOM,
    SCHED_CONSTANT,
    SCHED_COSINE,
    SCHED_EXPONENTIAL,
    SCHED_INVSCALING,
    SCHED_OPTIMAL,
    SCHED_WARMUP,
)
from ._losses import loss_and_derivative, softmax_loss_and_derivative
from ._optim import builtin_update, no_custom_update, step_constants

# Rows per gradient chunk and the most chunks a batch is split into. Fixed constants
# (not the thread count) so that results do not depend on n_jobs.
ROWS_PER_CHUNK = 32
MAX_CHUNKS = 16
# Reassociation lets LLVM vectorize the dot products and gradient sweeps; no
# finite-math assumptions, so NaN/inf still propagate to the divergence check.
_FM = {"reassoc", "contract"}

_custom_update = no_custom_update


@njit(cache=True, inline="always")
def learning_rate(code, sp, t):
    """Step size of schedule ``code`` with parameters ``sp`` at update ``t >= 1``."""
    if code == SCHED_CONSTANT:
        return sp[0]
    if code == SCHED_INVSCALING:
        return sp[0] / t ** sp[1]
    if code == SCHED_OPTIMAL:
        return 1.0 / (sp[0] * (sp[1] + t - 1.0))
    if code == SCHED_EXPONENTIAL:
        return sp[0] * sp[1] ** (t - 1.0)
    if code == SCHED_COSINE:
        phase = ((t - 1.0) % sp[2]) / sp[2]
        return sp[1] + 0.5 * (sp[0] - sp[1]) * (1.0 + math.cos(math.pi * phase))
    if code == SCHED_WARMUP:
        return sp[0] * min(1.0, t / sp[1])
    return math.nan


@njit(cache=True)
def fill_order(blocks, block, rows, out):
    """Write ``rows`` in the order of their blocks ``blocks`` of ``block`` entries.

    Block ``b`` is ``rows[b * block:(b + 1) * block]`` (the last one may be shorter);
    contiguous runs keep the reads of X sequential while the blocks are shuffled.
    """
    n = rows.shape[0]
    pos = 0
    for b in blocks:
        lo = b * block
        hi = min(lo + block, n)
        for i in range(lo, hi):
            out[pos] = rows[i]
            pos += 1
    return pos


@njit(cache=True, inline="always")
def n_chunks(m):
    return max(1, min(MAX_CHUNKS, m // ROWS_PER_CHUNK))


@njit(cache=True, inline="always")
def _sample_derivatives(spec, yi, pbuf, dbuf):
    """Loss of one sample given its K margins ``pbuf``; derivatives into ``dbuf``."""
    if spec.mode == MODE_MULTINOMIAL:
        return softmax_loss_and_derivative(pbuf, int(yi), dbuf)
    if spec.mode == MODE_SINGLE:
        loss, dbuf[0] = loss_and_derivative(spec.loss_code, spec.loss_param, pbuf[0], yi)
        return loss
    yk = int(yi)
    total = 0.0
    for k in range(pbuf.shape[0]):
        target = 1.0 if k == yk else -1.0
        loss, dbuf[k] = loss_and_derivative(spec.loss_code, spec.loss_param, pbuf[k], target)
        total += loss
    return total


@njit(fastmath=_FM, cache=True, inline="always")
def _dense_chunk(X, y, sw, rows, theta, g, st, pbuf, dbuf, spec):
    K, D1 = theta.shape
    d = D1 - 1
    lsum = 0.0
    wsum = 0.0
    for i in rows:
        s = sw[i]
        if s == 0.0:
            continue
        x = X[i]
        for k in range(K):
            p = theta[k, d]
            for j in range(d):
                p += x[j] * theta[k, j]
            pbuf[k] = p
        lsum += s * _sample_derivatives(spec, y[i], pbuf, dbuf)
        wsum += s
        for k in range(K):
            dk = s * dbuf[k]
            if dk != 0.0:
                off = k * D1
                for j in range(d):
                    g[off + j] += dk * x[j]
                g[off + d] += dk
    st[0] = lsum
    st[1] = wsum


@njit(fastmath=_FM, cache=True, inline="always")
def _csr_chunk(data, indices, indptr, y, sw, rows, theta, g, st, pbuf, dbuf, spec):
    K, D1 = theta.shape
    d = D1 - 1
    lsum = 0.0
    wsum = 0.0
    for i in rows:
        s = sw[i]
        if s == 0.0:
            continue
        lo = indptr[i]
        hi = indptr[i + 1]
        for k in range(K):
            p = theta[k, d]
            for q in range(lo, hi):
                p += data[q] * theta[k, indices[q]]
            pbuf[k] = p
        lsum += s * _sample_derivatives(spec, y[i], pbuf, dbuf)
        wsum += s
        for k in range(K):
            dk = s * dbuf[k]
            if dk != 0.0:
                off = k * D1
                for q in range(lo, hi):
                    g[off + indices[q]] += dk * data[q]
                g[off + d] += dk
    st[0] = lsum
    st[1] = wsum


@njit(cache=True, inline="always")
def _update_one(idx, theta, state, avg, G, C, inv_w, spec, cst, lr, t, opt_t):
    K, D1 = theta.shape
    k = idx // D1
    j = idx - k * D1
    g = 0.0
    for c in range(C):
        g += G[c, idx]
        G[c, idx] = 0.0
    is_coef = j < D1 - 1
    if not is_coef and not spec.fit_intercept:
        return
    g *= inv_w
    if is_coef and spec.l2 != 0.0:
        if spec.decoupled:
            theta[k, j] *= 1.0 - lr * spec.l2
        else:
            g += spec.l2 * theta[k, j]
    if spec.opt_code == OPT_CUSTOM:
        D = _custom_update(g, theta, state, k, j, lr, opt_t, spec.opt_params)
    else:
        D = builtin_update(spec.opt_code, spec.opt_params, cst, g, theta, state, k, j, lr, opt_t)
    if is_coef and spec.l1 != 0.0:
        v = theta[k, j]
        thr = lr * spec.l1 * D
        if v > thr:
            theta[k, j] = v - thr
        elif v < -thr:
            theta[k, j] = v + thr
        else:
            theta[k, j] = 0.0
    if spec.avg_start > 0:
        if t >= spec.avg_start:
            avg[k, j] += (theta[k, j] - avg[k, j]) / (t - spec.avg_start + 1.0)
        else:
            avg[k, j] = theta[k, j]


@njit(parallel=True, cache=True)
def _update(theta, state, avg, G, C, inv_w, spec, cst, t, opt_t):
    lr = learning_rate(spec.sched_code, spec.sched_params, t)
    step_constants(spec.opt_code, spec.opt_params, opt_t, cst)
    n = theta.shape[0] * theta.shape[1]
    if spec.par_update:
        for idx in prange(n):
            _update_one(idx, theta, state, avg, G, C, inv_w, spec, cst, lr, t, opt_t)
    else:
        for idx in range(n):
            _update_one(idx, theta, state, avg, G, C, inv_w, spec, cst, lr, t, opt_t)


@njit(parallel=True, fastmath=_FM, cache=True)
def _dense_batch(X, y, sw, rows, theta, state, avg, work, spec, t, opt_t):
    G, stats, bufs, cst = work
    K = theta.shape[0]
    m = rows.shape[0]
    C = n_chunks(m)
    if spec.par_rows and C > 1:
        for c in prange(C):
            _dense_chunk(X, y, sw, rows[c * m // C:(c + 1) * m // C], theta, G[c],
                         stats[c], bufs[c, 0, :K], bufs[c, 1, :K], spec)
    else:
        for c in range(C):
            _dense_chunk(X, y, sw, rows[c * m // C:(c + 1) * m // C], theta, G[c],
                         stats[c], bufs[c, 0, :K], bufs[c, 1, :K], spec)
    lsum = 0.0
    wsum = 0.0
    for c in range(C):
        lsum += stats[c, 0]
        wsum += stats[c, 1]
    if wsum > 0.0:
        _update(theta, state, avg, G, C, 1.0 / wsum, spec, cst, t + 1, opt_t + 1)
    return lsum, wsum


@njit(fastmath=_FM, cache=True)
def _csr_batch(data, indices, indptr, y, sw, rows, theta, state, avg, work, spec, t, opt_t):
    G, stats, bufs, cst = work
    K = theta.shape[0]
    _csr_chunk(data, indices, indptr, y, sw, rows, theta, G[0], stats[0], bufs[0, 0, :K],
               bufs[0, 1, :K], spec)
    lsum = stats[0, 0]
    wsum = stats[0, 1]
    if wsum > 0.0:
        _update(theta, state, avg, G, 1, 1.0 / wsum, spec, cst, t + 1, opt_t + 1)
    return lsum, wsum


@njit(cache=True)
def epoch_dense(X, y, sw, order, batch_size, theta, state, avg, work, spec, t, opt_t):
    """Run one epoch over dense ``X`` in row order ``order``.

    Returns ``(sum_i s_i L_i, sum_i s_i, t, opt_t)`` with the counters advanced by
    the number of updates made.
    """
    lsum = 0.0
    wsum = 0.0
    for start in range(0, order.shape[0], batch_size):
        rows = order[start:start + batch_size]
        bl, bw = _dense_batch(X, y, sw, rows, theta, state, avg, work, spec, t, opt_t)
        lsum += bl
        wsum += bw
        if bw > 0.0:
            t += 1
            opt_t += 1
    return lsum, wsum, t, opt_t


@njit(cache=True)
def epoch_csr(data, indices, indptr, y, sw, order, batch_size, theta, state, avg, work, spec,
              t, opt_t):
    """Run one epoch over CSR ``(data, indices, indptr)``; see :func:`epoch_dense`."""
    lsum = 0.0
    wsum = 0.0
    for start in range(0, order.shape[0], batch_size):
        rows = order[start:start + batch_size]
        bl, bw = _csr_batch(data, indices, indptr, y, sw, rows, theta, state, avg, work,
                            spec, t, opt_t)
        lsum += bl
        wsum += bw
        if bw > 0.0:
            t += 1
            opt_t += 1
    return lsum, wsum, t, opt_t


KernelSpec = namedtuple(
    "KernelSpec",
    [
        "mode",  # MODE_* code
        "loss_code",
        "loss_param",  # float: threshold, epsilon or quantile
        "opt_code",
        "opt_params",  # float64 array
        "decoupled",  # bool: decoupled weight decay (AdamW)
        "sched_code",
        "sched_params",  # float64 array
        "l2",  # float: alpha times the L2 share of the penalty
        "l1",  # float: alpha times the L1 share of the penalty
        "fit_intercept",  # bool
        "avg_start",  # int: first update included in the average, 0 = no averaging
        "par_rows",  # bool: parallel over row chunks
        "par_update",  # bool: parallel over coordinates in the update
    ],
)


def make_work(n_chunks_max, K, D1):
    """Scratch arrays for a kernel: per-chunk accumulators padded against false sharing."""
    P = ((K * D1 + 7) // 8 + 1) * 8
    G = np.zeros((n_chunks_max, P))
    stats = np.zeros((n_chunks_max, 8))
    bufs = np.zeros((n_chunks_max, 2, K + 8))
    return G, stats, bufs, np.zeros(N_STEP_CONSTANTS)


_CHAIN = ("_update_one", "_update", "_dense_batch", "_csr_batch", "epoch_dense", "epoch_csr")


def specialize(update):
    """Compile the epoch kernels with a user optimizer's element rule ``update``.

    The same source as the cached kernels, re-bound to ``update`` instead of the
    placeholder. Not cached (Numba cannot cache code bound to a passed-in function),
    so this compiles once per process and rule.
    """
    namespace = dict(globals())
    namespace["_custom_update"] = update
    compiled = {}
    for name in _CHAIN:
        dispatcher = namespace[name]
        py = dispatcher.py_func
        fn = types.FunctionType(py.__code__, namespace, py.__name__, py.__defaults__,
                                py.__closure__)
        fn.__doc__ = py.__doc__
        options = {k: v for k, v in dispatcher.targetoptions.items() if k != "cache"}
        namespace[name] = compiled[name] = njit(**options)(fn)
    return compiled["epoch_dense"], compiled["epoch_csr"]
