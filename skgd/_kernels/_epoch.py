"""Mini-batch epoch kernels: fused forward pass, loss derivative, gradient and update.

One epoch visits the rows in a given order, cuts it into batches of
``batch_size`` consecutive entries (a remainder of fewer joins the last batch, see
:func:`batch_stop`) and, per batch,

1. accumulates ``sum_i s_i dL_i/dp * [x_i, 1]`` and ``sum_i s_i L_i`` in one sweep over
   each row (dense: split into a fixed number of row chunks, each with its own padded
   accumulator, run in parallel when the batch is large enough);
2. reduces the chunks in a fixed pairwise order (:func:`_sum_chunks`), divides by the
   batch's rows times the mean weight of the data (``spec.w_mean``) and applies the L2
   term, the optimizer rule, the L1 proximal step and averaging, coordinate by
   coordinate.

Dividing by the expected weight of the batch, not by its own weight sum, makes the
batch gradient an unbiased estimate of the objective's (a weighted mean over all rows):
divided by its own sum, a one-row batch's gradient did not depend on its weight, so
``batch_size=1`` ignored the weights, and small batches underweighted heavy rows. Both
are the same for unweighted data and for full batches.

Dense float32 rows are multiplied in float32 against a float32 copy of the weights,
and each chunk sums their gradient terms in float32 over at most
``NARROW_FLUSH_ROWS`` rows before adding them to its float64 accumulator; the rest is
float64 (see :func:`_dense_chunk`).

The number of chunks depends on the batch only, never on the thread count, so the
arithmetic (and the result) is the same for every ``n_jobs``; so is that of the
one-region epoch of ``_region`` (the same chunk sweeps, sums and update). A batch whose
weights are all zero changes nothing and does not advance the step counters.
"""

import math
import types
from collections import namedtuple

import numpy as np
from numba import njit, prange
from numba.core import types as nbtypes
from numba.extending import overload

from ._codes import (
    LOSS_LOG,
    MODE_MULTINOMIAL,
    MODE_SINGLE,
    N_STEP_CONSTANTS,
    OPT_CUSTOM,
    PA_1,
    PA_NONE,
    SCHED_CONSTANT,
    SCHED_COSINE,
    SCHED_EXPONENTIAL,
    SCHED_INVSCALING,
    SCHED_OPTIMAL,
    SCHED_WARMUP,
)
from ._losses import has_flat_region, loss_and_derivative, softmax_loss_and_derivative
from ._optim import (
    _soft,
    builtin_update,
    has_slice_rule,
    no_custom_update,
    slice_update,
    step_constants,
)
from ._prefetch import ROWS_AHEAD, prefetch_row

# Rows per gradient chunk and the most chunks a batch is split into. Fixed constants
# (not the thread count) so that results do not depend on n_jobs.
ROWS_PER_CHUNK = 32
MAX_CHUNKS = 16
# Coordinates per task of a parallel update.
UPDATE_BLOCK = 4096
# Reassociation lets LLVM vectorize the dot products and gradient sweeps; no
# finite-math assumptions, so NaN/inf still propagate to the divergence check.
_FM = {"reassoc", "contract", "nsz", "arcp"}

_custom_update = no_custom_update

# float32 rows: each row's margin and gradient terms are computed in float32 (twice
# the SIMD lanes of float64, so half the vector work per row), and each chunk's
# gradient is summed in float32 over at most this many rows before being added to its
# float64 accumulator. A float32 sum of 32 terms is within ~2e-6 (typically ~3e-7) of
# the sum of their magnitudes, about the input's own precision; longer float32 sums
# would let full-batch gradients drift (a chunk can hold 60,000 rows).
NARROW_FLUSH_ROWS = 32


def _narrow(X):
    """Whether ``X``'s rows are multiplied in their own float32 (a typing-time constant)."""


@overload(_narrow, inline="always")
def _narrow_impl(X):
    narrow = X.dtype == nbtypes.float32
    return lambda X: narrow


def _in_row_dtype(X, wide, narrow):
    """The array that meets ``X``'s rows: ``narrow`` (float32: the weights' copy, the
    short gradient sums) for float32 rows, else the float64 ``wide`` itself; chosen at
    typing time."""


@overload(_in_row_dtype, inline="always")
def _in_row_dtype_impl(X, wide, narrow):
    if X.dtype == nbtypes.float32:
        if narrow.dtype != nbtypes.float32:
            raise TypeError("float32 rows need float32 work arrays (make_work's x_dtype)")
        return lambda X, wide, narrow: narrow
    return lambda X, wide, narrow: wide


@njit(inline="always")
def _flush(g, gx):
    """``g += gx`` (float64 += float32) and ``gx = 0``."""
    for j in range(gx.shape[0]):
        g[j] += gx[j]
        gx[j] = 0.0


@njit(inline="always")
def _sync_row_weights(X, theta, thx):
    """Refresh the float32 copy of the weights after they changed (float32 rows only)."""
    if _narrow(X):
        for k in range(theta.shape[0]):
            tk = theta[k]
            xk = thx[k]
            for j in range(tk.shape[0]):
                xk[j] = tk[j]


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
def fill_order(blocks, block, run, group, rows, out):
    """Write ``rows`` in interleaved block order; return the number written.

    Block ``b`` is ``rows[b * block:(b + 1) * block]`` (the last one may be shorter).
    The blocks, taken in the order ``blocks``, form groups of ``group``; within a
    group, the first ``run`` rows of every block come first, then the next ``run`` of
    every block, and so on. With ``group * run`` equal to the batch size each batch
    holds ``run``-row runs of ``group`` different blocks, and consecutive batches read
    the runs that follow in the same blocks: reads stay nearly sequential while a
    batch mixes many distant parts of the data. ``run == block`` visits whole blocks.
    """
    n = rows.shape[0]
    pos = 0
    n_blocks = blocks.shape[0]
    for first in range(0, n_blocks, group):
        last = min(first + group, n_blocks)
        for j in range(0, block, run):
            for q in range(first, last):
                start = blocks[q] * block
                lo = start + j
                hi = min(lo + run, start + block, n)
                for i in range(lo, hi):
                    out[pos] = rows[i]
                    pos += 1
    return pos


@njit(cache=True)
def shuffle_rows(seed, rows, out):
    """Write ``rows`` into ``out`` in a uniformly random order drawn from ``seed``.

    A Fisher-Yates shuffle on a splitmix64 stream: ~3 ns per row where NumPy's
    ``permutation`` took ~12, which was a third of a small in-cache epoch.
    """
    n = rows.shape[0]
    for i in range(n):
        out[i] = rows[i]
    state = np.uint64(seed)
    for i in range(n - 1, 0, -1):
        state += np.uint64(0x9E3779B97F4A7C15)
        z = state
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        # The top 53 bits as a uniform in [0, 1); min() for the rounding at i + 1 = 2^k.
        j = min(i, int(float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0) * (i + 1)))
        tmp = out[i]
        out[i] = out[j]
        out[j] = tmp


@njit(cache=True, inline="always")
def n_chunks(m):
    return max(1, min(MAX_CHUNKS, m // ROWS_PER_CHUNK))


@njit(cache=True, inline="always")
def batch_stop(start, batch_size, n):
    """Where the batch starting at ``start`` of ``n`` entries ends: ``batch_size``
    entries on, or at ``n`` when fewer than ``batch_size`` would be left after it.
    The batches start at ``range(0, batch_ends(batch_size, n), batch_size)``.

    The remainder joins the last batch (of up to ``2 * batch_size - 1`` rows) instead
    of making a batch of its own: a one-row remainder took a full step on one row's
    gradient, whose noise, fed to the adaptive optimizers' moments, cost the default
    classifier 3-4 points of test accuracy on digits at ``batch_size=673`` and made the
    ``"adaptive"`` schedule stop 57-77% above the optimum at ``batch_size=449``. Every
    step is then a mean over at least ``batch_size`` rows; with shuffling each row
    still counts the same in expectation.
    """
    stop = start + batch_size
    return n if stop + batch_size > n else stop


@njit(cache=True, inline="always")
def batch_ends(batch_size, n):
    """Where the last batch starts, plus one: ``max(1, n // batch_size)`` batches.

    The epoch loops stay ``for`` loops over ``range``: written as ``while`` loops,
    they doubled the first compile (124 s to 240 s for a first dense fit)."""
    return max(1, n // batch_size) * batch_size


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


@njit(fastmath=_FM, inline="always")
def _sqnorm(x):
    """``||x||^2`` of a row (dense) or of its stored values (CSR), in float64."""
    total = 0.0
    for j in range(x.shape[0]):
        total += float(x[j]) * float(x[j])
    return total


@njit(inline="always")
def _pa_tau(spec, loss, sqnorm):
    """The passive-aggressive step of a row (Crammer et al. 2006) with aggressiveness
    ``C = spec.pa_c``: PA-I ``min(C, loss / ||x||^2)`` (0 for a zero row, as in
    scikit-learn), PA-II ``loss / (||x||^2 + 1 / (2 C))``. The row's loss derivative,
    +-1 where the hinge or epsilon-insensitive loss is positive, is scaled by it, and
    the update's rate is 1: one row alone moves the model by ``tau`` along ``y x``."""
    if spec.pa == PA_1:
        return min(spec.pa_c, loss / sqnorm) if sqnorm > 0.0 else 0.0
    return loss / (sqnorm + 0.5 / spec.pa_c)


@njit(inline="always")
def _pa_scale(spec, yi, pbuf, dbuf, sqnorm):
    """``dbuf[k] *= tau_k`` for the K margins ``pbuf`` of a row with target ``yi``."""
    if spec.mode == MODE_SINGLE:
        loss, _ = loss_and_derivative(spec.loss_code, spec.loss_param, pbuf[0], yi)
        dbuf[0] *= _pa_tau(spec, loss, sqnorm)
        return
    yk = int(yi)
    for k in range(pbuf.shape[0]):
        target = 1.0 if k == yk else -1.0
        loss, _ = loss_and_derivative(spec.loss_code, spec.loss_param, pbuf[k], target)
        dbuf[k] *= _pa_tau(spec, loss, sqnorm)


@njit(inline="always")
def _log_loss_parts(p, y):
    """Log loss of margin ``p`` as ``log(factor) + extra``, and its derivative.

    Callers sum the loss as the log of a running product of the factors (flushed
    before it can overflow: each factor is below 1 + e^18), which replaces a log1p per
    row by one log per ~30 rows; the transcendental was ~40% of a row's time.
    """
    z = y * p
    if z > 18.0:
        e = math.exp(-z)
        return 1.0, e, -y * e
    if z < -18.0:
        return 1.0, -z, -y
    e = math.exp(-z)
    return 1.0 + e, 0.0, -y * e / (1.0 + e)


@njit(fastmath=_FM, cache=True, inline="always")
def _dense_rows_single(X, y, sw, order, lo, hi, w, wx, g, gx, st, spec, skip_flat, pa):
    """_dense_chunk for one output (regression, binary): 1-D weights, no buffers.

    ``skip_flat`` and ``pa`` (passive-aggressive steps) are constants at each call site
    (see _dense_chunk)."""
    d = w.shape[0] - 1
    narrow = _narrow(X)
    ga = _in_row_dtype(X, g, gx)
    lsum = 0.0
    wsum = 0.0
    prod = 1.0
    pending = 0
    is_log = spec.loss_code == LOSS_LOG
    last = order.shape[0] - 1
    for r in range(lo, hi):
        prefetch_row(X[order[min(r + ROWS_AHEAD, last)]])
        i = order[r]
        s = sw[i]
        if s == 0.0:
            continue
        x = X[i]
        p = X.dtype.type(0.0)
        for j in range(d):
            p += x[j] * wx[j]
        p = p + w[d]
        loss = 0.0
        if is_log:
            factor, extra, dl = _log_loss_parts(p, y[i])
            if s == 1.0:
                prod *= factor
                if prod > 1e200:
                    lsum += math.log(prod)
                    prod = 1.0
                lsum += extra
            else:
                lsum += s * (math.log(factor) + extra)
        else:
            loss, dl = loss_and_derivative(spec.loss_code, spec.loss_param, p, y[i])
            lsum += s * loss
        wsum += s
        dk = s * dl
        if skip_flat and dk == 0.0:
            continue
        if pa:
            dk *= _pa_tau(spec, loss, _sqnorm(x))
        dkx = X.dtype.type(dk)
        for j in range(d):
            ga[j] += dkx * x[j]
        g[d] += dk
        if narrow:
            pending += 1
            if pending == NARROW_FLUSH_ROWS:
                _flush(g, gx)
                pending = 0
    if narrow and pending > 0:
        _flush(g, gx)
    st[0] = lsum + math.log(prod)
    st[1] = wsum


@njit(fastmath=_FM, cache=True, inline="always")
def _dense_chunk(X, y, sw, order, lo, hi, theta, wx, g, gx, st, pbuf, dbuf, spec):
    """Gradient and loss sums over the rows ``order[lo:hi]`` of dense ``X``.

    ``wx`` are the weights in ``X``'s dtype (``theta`` itself for float64); float32
    rows sum their gradient terms in ``gx`` for up to NARROW_FLUSH_ROWS rows, then add
    them to the float64 ``g``. Margins are completed with the float64 intercept, and
    loss derivatives, losses and everything after the row sweeps stay float64, and so
    does the intercept's gradient, a sum of loss derivatives that cancel: starting at
    the baseline intercept it is ~1e-16 in float64 but was ~1e-7 summed in float32,
    which Adam (eps 1e-8) turned into a full first step (0.006 on a 200-row
    regression, where the float64 fit did not move).

    The row ``ROWS_AHEAD`` places ahead in ``order`` is prefetched, past the chunk's
    end too: rows come in short shuffled runs that the CPU's prefetcher misses.

    One output: a row whose loss derivative is zero skips its gradient sweep only for
    losses that are flat on a region (hinge-like). For the others the test never pays:
    its mere presence in the row loop cost 13-14 ns per row (d = 2 and 20, in cache;
    25.7 -> 11.6 ns per row at d = 2), so that row loop is compiled twice, with
    ``skip_flat`` a constant that LLVM folds away. Several outputs keep the test for
    every loss: one-vs-rest hinge skips most classes' sweeps with it (10 classes: 4.7
    ms per epoch against 6.6 without), and a second copy of that larger loop doubled
    the time to compile every kernel holding it (measured when kernels bound to a user
    optimizer still recompiled it: 111 s instead of 43 s). Passive-aggressive steps
    (losses with a flat region only) have a third copy of the one-output loop, so that
    the others do not test for them per row.
    """
    K, D1 = theta.shape
    if spec.mode == MODE_SINGLE:
        if spec.pa != PA_NONE:
            _dense_rows_single(X, y, sw, order, lo, hi, theta[0], wx[0], g[:D1], gx[:D1], st,
                               spec, True, True)
        elif has_flat_region(spec.loss_code):
            _dense_rows_single(X, y, sw, order, lo, hi, theta[0], wx[0], g[:D1], gx[:D1], st,
                               spec, True, False)
        else:
            _dense_rows_single(X, y, sw, order, lo, hi, theta[0], wx[0], g[:D1], gx[:D1], st,
                               spec, False, False)
        return
    d = D1 - 1
    narrow = _narrow(X)
    ga = _in_row_dtype(X, g, gx)
    lsum = 0.0
    wsum = 0.0
    pending = 0
    last = order.shape[0] - 1
    # Indexed loops: iterating an index array directly ran ~3x slower here.
    for r in range(lo, hi):
        prefetch_row(X[order[min(r + ROWS_AHEAD, last)]])
        i = order[r]
        s = sw[i]
        if s == 0.0:
            continue
        x = X[i]
        for k in range(K):
            if narrow:
                px = X.dtype.type(0.0)
                for j in range(d):
                    px += x[j] * wx[k, j]
                pbuf[k] = theta[k, d] + px
            else:
                p = theta[k, d]
                for j in range(d):
                    p += x[j] * theta[k, j]
                pbuf[k] = p
        lsum += s * _sample_derivatives(spec, y[i], pbuf, dbuf)
        if spec.pa != PA_NONE:
            _pa_scale(spec, y[i], pbuf, dbuf, _sqnorm(x))
        wsum += s
        for k in range(K):
            dk = s * dbuf[k]
            if dk != 0.0:
                # A slice indexed from 0: with ``g[k * D1 + j]`` Numba's negative-index
                # check kept LLVM from vectorizing the sweep (3.5x slower, 26 classes).
                dkx = X.dtype.type(dk)
                gk = ga[k * D1:(k + 1) * D1]
                for j in range(d):
                    gk[j] += dkx * x[j]
                g[k * D1 + d] += dk
        if narrow:
            pending += 1
            if pending == NARROW_FLUSH_ROWS:
                _flush(g[:K * D1], gx[:K * D1])
                pending = 0
    if narrow and pending > 0:
        _flush(g[:K * D1], gx[:K * D1])
    st[0] = lsum
    st[1] = wsum


@njit(fastmath=_FM, cache=True)
def dense_chunks(X, y, sw, order, start, stop, C, c_lo, c_hi, theta, wx, G, Gx, stats, bufs,
                 spec):
    """Chunks ``c_lo..c_hi-1`` of the batch ``order[start:stop]`` cut into ``C``
    (:func:`_dense_chunk` into ``G[c]``, ``Gx[c]``, ``stats[c]``, ``bufs[c]``).

    Not inlined: every kernel and thread sweeps a chunk with this same machine code.
    Inlined into each caller, the row loop compiled differently in each (LLVM's
    reassociation of the dot products), and results differed by ~1e-16 with the
    kernel that ran them."""
    K = theta.shape[0]
    m = stop - start
    for c in range(c_lo, c_hi):
        _dense_chunk(X, y, sw, order, start + c * m // C, start + (c + 1) * m // C, theta, wx,
                     G[c], Gx[c], stats[c], bufs[c, 0, :K], bufs[c, 1, :K], spec)


@njit(inline="always")
def _csr_row(data, indices, indptr, i):
    """Row ``i`` of a CSR matrix: its values and column indices, as views.

    Loops index these from 0: over ``data[q]`` for q from ``indptr[i]`` Numba checks
    every index for wraparound (LLVM cannot know it is not negative); the slices made
    the plain-SGD sparse epoch 1.2x faster.
    """
    lo = indptr[i]
    hi = indptr[i + 1]
    return data[lo:hi], indices[lo:hi]


@njit(fastmath=_FM, cache=True, inline="always")
def _csr_chunk(data, indices, indptr, y, sw, rows, theta, g, st, pbuf, dbuf, spec):
    """Gradient sums over CSR ``rows`` (only their non-zeros are touched)."""
    K, D1 = theta.shape
    d = D1 - 1
    lsum = 0.0
    wsum = 0.0
    for r in range(rows.shape[0]):
        i = rows[r]
        s = sw[i]
        if s == 0.0:
            continue
        dq, iq = _csr_row(data, indices, indptr, i)
        for k in range(K):
            p = 0.0
            for q in range(dq.shape[0]):
                p += dq[q] * theta[k, iq[q]]
            pbuf[k] = theta[k, d] + p
        lsum += s * _sample_derivatives(spec, y[i], pbuf, dbuf)
        if spec.pa != PA_NONE:
            _pa_scale(spec, y[i], pbuf, dbuf, _sqnorm(dq))
        wsum += s
        for k in range(K):
            dk = s * dbuf[k]
            if dk != 0.0:
                off = k * D1
                for q in range(dq.shape[0]):
                    g[off + iq[q]] += dk * dq[q]
                g[off + d] += dk
    st[0] = lsum
    st[1] = wsum


@njit(inline="always")
def _sum_chunks(G, C, lo, hi):
    """``G[0, lo:hi] += G[c, lo:hi]`` for c = 1..C-1 in a fixed pairwise order, zeroing
    the rows added.

    Level ``s = 1, 2, 4, ...`` adds row ``c + s`` to row ``c`` for every ``c`` that is a
    multiple of ``2 s``: row ``c`` then holds the sum of the aligned block
    ``[c, c + 2 s)``. The order depends on ``C`` only, and a thread that swept a run of
    the chunks can sum the blocks inside its run on its own (see ``_region``). Row by
    row over slices indexed from 0, so it vectorizes (3x faster than indexing
    ``G[c, lo + i]``, whose negative-index check LLVM could not drop)."""
    for level in range(_levels(C)):
        s = 1 << level
        for c in range(0, C - s, 2 * s):
            g0 = G[c, lo:hi]
            gc = G[c + s, lo:hi]
            for i in range(gc.shape[0]):
                g0[i] += gc[i]
                gc[i] = 0.0


@njit(inline="always")
def _levels(C):
    """Levels of the pairwise sum of ``C`` rows: the smallest ``L`` with ``2**L >= C``."""
    L = 0
    while (1 << L) < C:
        L += 1
    return L


@njit(cache=True)
def sum_stats(stats, C):
    """``(sum of stats[c, 0], sum of stats[c, 1])`` over c < C, left to right (not
    fastmath: every kernel adds the chunks' losses in the same order)."""
    lsum = 0.0
    wsum = 0.0
    for c in range(C):
        lsum += stats[c, 0]
        wsum += stats[c, 1]
    return lsum, wsum


@njit(cache=True, inline="always")
def _update_row(k, lo, hi, theta, state, avg, G, C, inv_w, spec, cst, lr, t, opt_t):
    """Reduce the chunks' gradients of coordinates ``(k, lo:hi)`` and step them."""
    D1 = theta.shape[1]
    off = k * D1
    _sum_chunks(G, C, off + lo, off + hi)
    hc = min(hi, D1 - 1)  # the coefficients of this block; the intercept is column D1 - 1
    if lo < hc and has_slice_rule(spec.opt_code, spec.opt_params):  # False for user rules
        # The common rules over whole slices; the loop below then only steps the
        # intercept, if this block holds it.
        decay = spec.decoupled and spec.l2 != 0.0
        slice_update(spec.opt_code, spec.opt_params, cst, G[0, off + lo:off + hc], inv_w,
                     0.0 if decay else spec.l2, 1.0 - lr * spec.l2 if decay else 1.0,
                     lr * spec.l1, theta, state, k, lo, hc, lr)
        if spec.avg_start > 0:
            th = theta[k, lo:hc]
            av = avg[k, lo:hc]
            if t >= spec.avg_start:
                for j in range(th.shape[0]):
                    av[j] += (th[j] - av[j]) / (t - spec.avg_start + 1.0)
            else:
                for j in range(th.shape[0]):
                    av[j] = th[j]
        lo = hc
    for j in range(lo, hi):
        g = G[0, off + j]
        G[0, off + j] = 0.0
        is_coef = j < D1 - 1
        if not is_coef and not spec.fit_intercept:
            continue
        g *= inv_w
        if is_coef and spec.l2 != 0.0:
            if spec.decoupled:
                theta[k, j] *= 1.0 - lr * spec.l2
            else:
                g += spec.l2 * theta[k, j]
        if spec.opt_code == OPT_CUSTOM:
            D = _custom_update(g, theta, state, k, j, lr, opt_t, spec.opt_params)
        else:
            D = builtin_update(spec.opt_code, spec.opt_params, cst, g, theta, state, k, j, lr,
                               opt_t)
        if is_coef and spec.l1 != 0.0:
            theta[k, j] = _soft(theta[k, j], lr * spec.l1 * D)
        if spec.avg_start > 0:
            if t >= spec.avg_start:
                avg[k, j] += (theta[k, j] - avg[k, j]) / (t - spec.avg_start + 1.0)
            else:
                avg[k, j] = theta[k, j]


@njit(parallel=True, cache=True)
def _update(theta, state, avg, G, C, inv_w, spec, cst, t, opt_t):
    lr = learning_rate(spec.sched_code, spec.sched_params, t)
    step_constants(spec.opt_code, spec.opt_params, opt_t, cst)
    K, D1 = theta.shape
    if spec.par_update:
        per_row = (D1 + UPDATE_BLOCK - 1) // UPDATE_BLOCK
        for blk in prange(K * per_row):
            k = blk // per_row
            lo = (blk - k * per_row) * UPDATE_BLOCK
            _update_row(k, lo, min(lo + UPDATE_BLOCK, D1), theta, state, avg, G, C, inv_w,
                        spec, cst, lr, t, opt_t)
    else:
        for k in range(K):
            _update_row(k, 0, D1, theta, state, avg, G, C, inv_w, spec, cst, lr, t, opt_t)


@njit(parallel=True, fastmath=_FM, cache=True)
def _dense_sweep(X, y, sw, order, start, stop, theta, work, spec):
    """Sweep 1 of a dense batch: the chunks' gradient sums; returns (loss, weight, chunks).

    Apart from the update, so that a kernel specialized to a user optimizer reuses this,
    the bulk of the compiled code, from the cache (see ``specialize``)."""
    G, stats, bufs, cst, thx, Gx = work
    wx = _in_row_dtype(X, theta, thx)
    m = stop - start
    C = n_chunks(m)
    if spec.par_rows and C > 1:
        for c in prange(C):
            dense_chunks(X, y, sw, order, start, stop, C, c, c + 1, theta, wx, G, Gx, stats,
                         bufs, spec)
    else:
        dense_chunks(X, y, sw, order, start, stop, C, 0, C, theta, wx, G, Gx, stats, bufs,
                     spec)
    lsum, wsum = sum_stats(stats, C)
    return lsum, wsum, C


@njit(fastmath=_FM, cache=True)
def _csr_sweep(data, indices, indptr, y, sw, rows, theta, work, spec):
    """Sweep 1 of a CSR batch (one chunk); see :func:`_dense_sweep`."""
    G, stats, bufs = work[0], work[1], work[2]
    K = theta.shape[0]
    _csr_chunk(data, indices, indptr, y, sw, rows, theta, G[0], stats[0], bufs[0, 0, :K],
               bufs[0, 1, :K], spec)
    return stats[0, 0], stats[0, 1], 1


@njit(cache=True, nogil=True)
def epoch_dense(X, y, sw, order, batch_size, theta, state, avg, work, spec, t, opt_t):
    """Run one epoch over dense ``X`` in row order ``order``.

    Returns ``(sum_i s_i L_i, sum_i s_i, t, opt_t)`` with the counters advanced by
    the number of updates made.
    """
    lsum = 0.0
    wsum = 0.0
    n = order.shape[0]
    _sync_row_weights(X, theta, work[4])
    for start in range(0, batch_ends(batch_size, n), batch_size):
        stop = batch_stop(start, batch_size, n)
        bl, bw, C = _dense_sweep(X, y, sw, order, start, stop, theta, work, spec)
        lsum += bl
        wsum += bw
        if bw > 0.0:
            t += 1
            opt_t += 1
            _update(theta, state, avg, work[0], C, 1.0 / ((stop - start) * spec.w_mean),
                    spec, work[3], t, opt_t)
            _sync_row_weights(X, theta, work[4])
    return lsum, wsum, t, opt_t


@njit(cache=True, nogil=True)
def epoch_csr(data, indices, indptr, y, sw, order, batch_size, theta, state, avg, work, spec,
              t, opt_t):
    """Run one epoch over CSR ``(data, indices, indptr)``; see :func:`epoch_dense`."""
    lsum = 0.0
    wsum = 0.0
    n = order.shape[0]
    for start in range(0, batch_ends(batch_size, n), batch_size):
        rows = order[start:batch_stop(start, batch_size, n)]
        bl, bw, C = _csr_sweep(data, indices, indptr, y, sw, rows, theta, work, spec)
        lsum += bl
        wsum += bw
        if bw > 0.0:
            t += 1
            opt_t += 1
            _update(theta, state, avg, work[0], C, 1.0 / (rows.shape[0] * spec.w_mean),
                    spec, work[3], t, opt_t)
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
        "w_mean",  # float: mean weight of the rows trained on (> 0)
        "pa",  # PA_* code: passive-aggressive row steps (then the rate is 1)
        "pa_c",  # float: the passive-aggressive C (eta0)
    ],
)


def make_work(n_chunks_max, K, D1, x_dtype=np.float64):
    """Scratch arrays for a kernel: per-chunk accumulators padded against false sharing.

    For float32 rows (``x_dtype``) also the float32 copy of the weights and the
    chunks' short float32 gradient sums (see _dense_chunk); empty otherwise."""
    P = ((K * D1 + 7) // 8 + 1) * 8
    G = np.zeros((n_chunks_max, P))
    stats = np.zeros((n_chunks_max, 8))
    bufs = np.zeros((n_chunks_max, 2, K + 8))
    narrow = np.dtype(x_dtype) == np.float32
    thx = np.zeros((K, D1 if narrow else 0), dtype=x_dtype)
    Gx = np.zeros((n_chunks_max, P if narrow else 0), dtype=x_dtype)
    return G, stats, bufs, np.zeros(N_STEP_CONSTANTS), thx, Gx


_CHAIN = ("_update_row", "_update", "epoch_dense", "epoch_csr")


@njit(inline="always")
def _no_slice_rule(code, hp):
    return False


@njit(inline="always")
def _no_slice_update(code, hp, cst, gsum, inv_w, l2, shrink, l1c, theta, state, k, lo, hi, lr):
    pass


@njit(inline="always")
def _no_builtin_update(code, hp, cst, g, theta, state, k, j, lr, t):
    return math.nan  # never called; NaN would stop the fit (DivergenceError), not mislead


def specialize(update):
    """Compile the epoch kernels with a user optimizer's element rule ``update``.

    The same source as the cached update and epoch loops, re-bound to ``update``
    instead of the placeholder. Not cached (Numba cannot cache code bound to a
    passed-in function), so this compiles once per process and rule: ~4 s. The row
    sweeps (``_dense_sweep``, ``_csr_sweep``), most of the compiled code, do not depend
    on the rule and are called from the cache; while the update ran inside the dense
    batch function the whole batch was recompiled, ~50 s.
    """
    namespace = dict(globals())
    namespace["_custom_update"] = update
    # The built-in rules are dead code here (the kernels are only run with OPT_CUSTOM):
    # stand-ins keep them out of the compile, ~8 of its ~10 s.
    namespace["has_slice_rule"] = _no_slice_rule
    namespace["slice_update"] = _no_slice_update
    namespace["builtin_update"] = _no_builtin_update
    compiled = {}
    for name in _CHAIN:
        dispatcher = namespace[name]
        py = dispatcher.py_func
        fn = types.FunctionType(py.__code__, namespace, py.__name__, py.__defaults__,
                                py.__closure__)
        fn.__doc__ = py.__doc__
        options = {k: v for k, v in dispatcher.targetoptions.items()
                   if k not in ("cache", "nopython")}
        namespace[name] = compiled[name] = njit(**options)(fn)
    return compiled["epoch_dense"], compiled["epoch_csr"]


# ------------------------------------------------------------------ lazy sparse SGD
# Plain SGD (no momentum, no averaging) on CSR data touches only the coordinates of
# the batch's non-zeros. The L2 decay w *= 1 - lr*l2, common to all coordinates, is
# kept in one factor: w = scale * v. The L1 soft-threshold lr*l1 of a step is, in
# v-space, a threshold lr*l1/scale; thresholds of steps in which a coordinate is not
# touched compose into one of their sum, so each coordinate catches up on the sum
# accumulated since it was last touched (``u - last_u[j]``) right before it is read.
# This is the dense update rewritten, not an approximation.


@njit(inline="always")
def _step_rows(data, indices, indptr, order, start, stop, dk, step, W):
    """Sweep 2 of the sparse SGD kernels: the batch's step applied row by row.

    ``W[j, k] -= step * dk[r, k] * x_rj`` for the rows ``order[start:stop]``, from
    their stored weighted loss derivatives ``dk`` (the first K columns of ``W``).
    """
    for r in range(start, stop):
        dq, iq = _csr_row(data, indices, indptr, order[r])
        for k in range(dk.shape[1]):
            a = step * dk[r - start, k]
            if a != 0.0:
                for q in range(dq.shape[0]):
                    W[iq[q], k] -= a * dq[q]


@njit(inline="always")
def _lazy_weight(P, j, k, u, scale):
    """Coordinate (k, j)'s true weight: pending thresholds applied, times the scale."""
    c = u - P[j, P.shape[1] - 1]
    v = _soft(P[j, k], c) if c > 0.0 else P[j, k]
    return scale * v


@njit(fastmath=_FM, cache=True, nogil=True)
def epoch_csr_lazy(data, indices, indptr, y, sw, order, batch_size, theta, state, avg, work,
                   spec, t, opt_t):
    """One epoch of plain SGD over CSR data with lazy updates; see epoch_dense.

    Each coordinate j keeps one record ``P[j] = (v_0..v_K-1, last_u)``: its K weights
    in v-space and its L1 catch-up point, so that reading a non-zero's weights and
    catching it up costs one random access (16 bytes for one output: the records of
    100,000 features stay in a 2 MB cache). ``last_u`` is -1 from a coordinate's first
    read in a batch until the batch's update (``u >= 0`` otherwise): that marks it
    touched without a field of its own. As in :func:`epoch_csr_scaled`, the step is
    applied row by row from the rows' stored loss derivatives (a second sweep), and
    the batch's soft-threshold then once per touched coordinate: no gradient sums.
    """
    P, touched, dk, gb, pbuf, dbuf = work
    K, D1 = theta.shape
    d = D1 - 1
    LU = K  # column of last_u, -1 while touched in the current batch
    for j in range(d):
        for k in range(K):
            P[j, k] = theta[k, j]
        P[j, LU] = 0.0
    scale = 1.0
    u = 0.0
    lsum = 0.0
    wsum = 0.0
    n = order.shape[0]
    for start in range(0, batch_ends(batch_size, n), batch_size):
        stop = batch_stop(start, batch_size, n)
        nt = 0
        bl = 0.0
        bw = 0.0
        for k in range(K):
            gb[k] = 0.0
        # Sweep 1: catch up and list the coordinates first read, margins, derivatives.
        for r in range(start, stop):
            i = order[r]
            s = sw[i]
            if s == 0.0:
                for k in range(K):
                    dk[r - start, k] = 0.0
                continue
            dq, iq = _csr_row(data, indices, indptr, i)
            if K == 1:
                # One output: a scalar margin (a third faster than the buffers below).
                p = 0.0
                for q in range(dq.shape[0]):
                    j = iq[q]
                    if P[j, LU] >= 0.0:
                        touched[nt] = j
                        nt += 1
                        c = u - P[j, LU]
                        if c > 0.0:
                            P[j, 0] = _soft(P[j, 0], c)
                        P[j, LU] = -1.0
                    p += dq[q] * P[j, 0]
                loss, dl = loss_and_derivative(spec.loss_code, spec.loss_param,
                                               theta[0, d] + scale * p, y[i])
                dbuf[0] = dl
                if spec.pa != PA_NONE:
                    dbuf[0] *= _pa_tau(spec, loss, _sqnorm(dq))
            else:
                for k in range(K):
                    pbuf[k] = 0.0
                for q in range(dq.shape[0]):
                    j = iq[q]
                    if P[j, LU] >= 0.0:  # as above, for K outputs
                        touched[nt] = j
                        nt += 1
                        c = u - P[j, LU]
                        if c > 0.0:
                            for k in range(K):
                                P[j, k] = _soft(P[j, k], c)
                        P[j, LU] = -1.0
                    xv = dq[q]
                    for k in range(K):
                        pbuf[k] += xv * P[j, k]
                for k in range(K):
                    pbuf[k] = theta[k, d] + scale * pbuf[k]
                loss = _sample_derivatives(spec, y[i], pbuf, dbuf)
                if spec.pa != PA_NONE:
                    _pa_scale(spec, y[i], pbuf, dbuf, _sqnorm(dq))
            bl += s * loss
            bw += s
            for k in range(K):
                dk[r - start, k] = s * dbuf[k]
                gb[k] += dk[r - start, k]
        lsum += bl
        wsum += bw
        if bw == 0.0:  # no row was read, so nothing is marked touched
            continue
        t += 1
        opt_t += 1
        lr = learning_rate(spec.sched_code, spec.sched_params, t)
        if spec.l2 != 0.0:
            scale *= 1.0 - lr * spec.l2
        bn = (stop - start) * spec.w_mean  # the batch's expected weight (see top)
        step = lr / bn / scale
        c = lr * spec.l1 / scale
        u_next = u + c
        _step_rows(data, indices, indptr, order, start, stop, dk, step, P)
        # The batch's L1 threshold, once per touched coordinate.
        for q in range(nt):
            j = touched[q]
            if c > 0.0:
                for k in range(K):
                    P[j, k] = _soft(P[j, k], c)
            P[j, LU] = u_next
        if spec.fit_intercept:
            for k in range(K):
                theta[k, d] -= lr * gb[k] / bn
        u = u_next
        if scale < 1e-9:
            # Renormalize before the scale underflows: fold it and the thresholds in.
            for j in range(d):
                for k in range(K):
                    P[j, k] = _lazy_weight(P, j, k, u, scale)
                P[j, LU] = 0.0
            scale = 1.0
            u = 0.0
    for j in range(d):
        for k in range(K):
            theta[k, j] = _lazy_weight(P, j, k, u, scale)
    return lsum, wsum, t, opt_t


def make_lazy_work(K, D1, batch_size):
    """Scratch arrays of :func:`epoch_csr_lazy`: one record per coordinate, the touched
    list, the batch's loss derivatives, intercept gradients and per-sample
    margin/derivative buffers."""
    d = D1 - 1
    # The last batch of an epoch takes up to 2 * batch_size - 1 rows (batch_stop).
    return (np.empty((d, K + 1)), np.empty(d, dtype=np.int64),
            np.empty((2 * batch_size, K)), np.zeros(K), np.zeros(K), np.zeros(K))


@njit(fastmath=_FM, cache=True, nogil=True)
def epoch_csr_scaled(data, indices, indptr, y, sw, order, batch_size, theta, state, avg,
                     work, spec, t, opt_t):
    """:func:`epoch_csr_lazy` without L1: two sweeps over each batch's non-zeros.

    With no soft-threshold the step of a batch is linear in its rows' contributions,
    so it is applied row by row from the rows' stored loss derivatives: no gradient
    sums, no touched list and no catch-up point. The weights live in a compact
    ``V`` (d, K), ``w = scale * V`` as in the lazy kernel, and each non-zero reads and
    writes ``V`` once per sweep, as scikit-learn's per-sample SGD does.
    """
    V, dk, gb, pbuf, dbuf = work
    K, D1 = theta.shape
    d = D1 - 1
    for j in range(d):
        for k in range(K):
            V[j, k] = theta[k, j]
    scale = 1.0
    lsum = 0.0
    wsum = 0.0
    n = order.shape[0]
    for start in range(0, batch_ends(batch_size, n), batch_size):
        stop = batch_stop(start, batch_size, n)
        bl = 0.0
        bw = 0.0
        for k in range(K):
            gb[k] = 0.0
        # Sweep 1: margins and loss derivatives.
        for r in range(start, stop):
            i = order[r]
            s = sw[i]
            if s == 0.0:
                for k in range(K):
                    dk[r - start, k] = 0.0
                continue
            dq, iq = _csr_row(data, indices, indptr, i)
            if K == 1:
                p = 0.0
                for q in range(dq.shape[0]):
                    p += dq[q] * V[iq[q], 0]
                loss, dbuf[0] = loss_and_derivative(spec.loss_code, spec.loss_param,
                                                    theta[0, d] + scale * p, y[i])
                if spec.pa != PA_NONE:
                    dbuf[0] *= _pa_tau(spec, loss, _sqnorm(dq))
            else:
                for k in range(K):
                    pbuf[k] = 0.0
                for q in range(dq.shape[0]):
                    j = iq[q]
                    xv = dq[q]
                    for k in range(K):
                        pbuf[k] += xv * V[j, k]
                for k in range(K):
                    pbuf[k] = theta[k, d] + scale * pbuf[k]
                loss = _sample_derivatives(spec, y[i], pbuf, dbuf)
                if spec.pa != PA_NONE:
                    _pa_scale(spec, y[i], pbuf, dbuf, _sqnorm(dq))
            bl += s * loss
            bw += s
            for k in range(K):
                dk[r - start, k] = s * dbuf[k]
                gb[k] += dk[r - start, k]
        lsum += bl
        wsum += bw
        if bw == 0.0:
            continue
        t += 1
        opt_t += 1
        lr = learning_rate(spec.sched_code, spec.sched_params, t)
        if spec.l2 != 0.0:
            scale *= 1.0 - lr * spec.l2
        bn = (stop - start) * spec.w_mean
        step = lr / bn / scale
        _step_rows(data, indices, indptr, order, start, stop, dk, step, V)
        if spec.fit_intercept:
            for k in range(K):
                theta[k, d] -= lr * gb[k] / bn
        if scale < 1e-9:
            # Fold the scale in before it underflows.
            for j in range(d):
                for k in range(K):
                    V[j, k] *= scale
            scale = 1.0
    for j in range(d):
        for k in range(K):
            theta[k, j] = scale * V[j, k]
    return lsum, wsum, t, opt_t


def make_scaled_work(K, D1, batch_size):
    """Scratch arrays of :func:`epoch_csr_scaled`: the weights, the batch's loss
    derivatives, intercept gradients and per-sample margin/derivative buffers."""
    # The last batch of an epoch takes up to 2 * batch_size - 1 rows (batch_stop).
    return (np.empty((D1 - 1, K)), np.empty((2 * batch_size, K)), np.zeros(K), np.zeros(K),
            np.zeros(K))
