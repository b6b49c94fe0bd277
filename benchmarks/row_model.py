"""A standalone model of the dense one-output row loop, to test kernel ideas cheaply.

The model is the log-loss row loop of ``skgd._kernels._epoch._dense_rows_single``
(prefetch 8 rows ahead, margin, ``exp``, gradient sweep, float32 rows summed in a
float32 accumulator flushed once per 32-row chunk), with a per-batch parallel region
over fixed 32-row chunks and a plain SGD step, written out here so that a variant
compiles in seconds instead of rebuilding the package's kernels. It is timed next to
the real kernel (``epoch_dense``, SGD, constant step) and one streaming read of ``X``
in the same process, over the shuffled order skgd's fits use (1M x 100: blocks of 64
rows, runs of 4, groups of 64). Variants:

- ``model``: the row loop as in skgd;
- ``model, 4-row blocks``: four margins per sweep (each weight loaded once for four
  rows), one combined gradient sweep for the four rows;
- ``model, no exp``: ``exp`` replaced by a rational function of the same branches (a
  different loss, timing only): what vectorizing ``exp`` could save at most;
- ``model, sequential``: rows in storage order, no shuffling.

Run: ``python benchmarks/row_model.py [n_rows]`` (best and median of 7 epochs each;
results in docs/performance.rst).
"""

import math
import sys
import time

import numpy as np
from numba import njit, prange

from skgd._kernels import KernelSpec, epoch_dense, fill_order, make_work
from skgd._kernels._codes import LOSS_LOG, MODE_SINGLE, OPT_SGD, SCHED_CONSTANT
from skgd._kernels._epoch import _FM, MAX_CHUNKS, ROWS_PER_CHUNK, _log_loss_parts
from skgd._kernels._prefetch import ROWS_AHEAD, prefetch_row

try:
    from .common import stream_seconds
except ImportError:  # run as a script
    from common import stream_seconds


@njit(inline="always")
def _no_exp_parts(p, y):
    z = y * p
    if z > 18.0:
        e = 1.0 / (1.0 + z * z)
        return 1.0, e, -y * e
    if z < -18.0:
        return 1.0, -z, -y
    e = 1.0 / (1.0 + z * z)
    return 1.0 + e, 0.0, -y * e / (1.0 + e)


@njit(fastmath=_FM, inline="always")
def _add_row(x, dk, g, ga, d):
    """One row's gradient term: ``ga += dk * x`` in the row's dtype, the intercept's in g."""
    dkx = x.dtype.type(dk)
    for j in range(d):
        ga[j] += dkx * x[j]
    g[d] += dk


@njit(fastmath=_FM, inline="always")
def _finish(g, ga, narrow, lsum, prod, st, d):
    """End of a chunk: flush the float32 accumulator into g, store the loss sum."""
    if narrow:
        for j in range(d):
            g[j] += ga[j]
            ga[j] = 0.0
    st[0] = lsum + math.log(prod)


def _row_loop(parts):
    @njit(fastmath=_FM, inline="always")
    def rows(X, y, sw, order, lo, hi, w, wx, g, ga, narrow, st):
        d = w.shape[0] - 1
        lsum = 0.0
        prod = 1.0
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
            factor, extra, dl = parts(p + w[d], y[i])
            prod *= factor
            if prod > 1e200:
                lsum += math.log(prod)
                prod = 1.0
            lsum += extra
            _add_row(x, s * dl, g, ga, d)
        _finish(g, ga, narrow, lsum, prod, st, d)
    return rows


@njit(fastmath=_FM, inline="always")
def _rows_blocked(X, y, sw, order, lo, hi, w, wx, g, ga, narrow, st):
    d = w.shape[0] - 1
    T = X.dtype.type
    b = w[d]
    lsum = 0.0
    prod = 1.0
    last = order.shape[0] - 1
    n4 = lo + (hi - lo) // 4 * 4
    for r in range(lo, n4, 4):
        for q in range(4):
            prefetch_row(X[order[min(r + ROWS_AHEAD + q, last)]])
        i0, i1, i2, i3 = order[r], order[r + 1], order[r + 2], order[r + 3]
        x0, x1, x2, x3 = X[i0], X[i1], X[i2], X[i3]
        p0 = T(0.0)
        p1 = T(0.0)
        p2 = T(0.0)
        p3 = T(0.0)
        for j in range(d):
            wj = wx[j]
            p0 += x0[j] * wj
            p1 += x1[j] * wj
            p2 += x2[j] * wj
            p3 += x3[j] * wj
        f0, e0, l0 = _log_loss_parts(p0 + b, y[i0])
        f1, e1, l1 = _log_loss_parts(p1 + b, y[i1])
        f2, e2, l2 = _log_loss_parts(p2 + b, y[i2])
        f3, e3, l3 = _log_loss_parts(p3 + b, y[i3])
        prod *= (f0 * f1) * (f2 * f3)
        if prod > 1e200:
            lsum += math.log(prod)
            prod = 1.0
        lsum += (e0 + e1) + (e2 + e3)
        d0, d1, d2, d3 = sw[i0] * l0, sw[i1] * l1, sw[i2] * l2, sw[i3] * l3
        c0, c1, c2, c3 = T(d0), T(d1), T(d2), T(d3)
        for j in range(d):
            ga[j] += (c0 * x0[j] + c1 * x1[j]) + (c2 * x2[j] + c3 * x3[j])
        g[d] += (d0 + d1) + (d2 + d3)
    for r in range(n4, hi):
        i = order[r]
        x = X[i]
        p = T(0.0)
        for j in range(d):
            p += x[j] * wx[j]
        factor, extra, dl = _log_loss_parts(p + b, y[i])
        prod *= factor
        lsum += extra
        _add_row(x, sw[i] * dl, g, ga, d)
    _finish(g, ga, narrow, lsum, prod, st, d)


def _epoch(rows):
    """A dense epoch around ``rows``: a parallel region per batch, then an SGD step."""
    @njit(parallel=True, fastmath=_FM)
    def sweep(X, y, sw, order, start, stop, w, wx, G, GA, narrow, stats):
        m = stop - start
        C = max(1, min(MAX_CHUNKS, m // ROWS_PER_CHUNK))
        for c in prange(C):
            rows(X, y, sw, order, start + c * m // C, start + (c + 1) * m // C, w, wx, G[c],
                 GA[c], narrow, stats[c])
        return C

    @njit
    def epoch(X, y, sw, order, batch_size, w, wx, G, GA, narrow, stats, lr):
        n = order.shape[0]
        total = 0.0
        for start in range(0, max(1, n // batch_size) * batch_size, batch_size):
            stop = n if start + 2 * batch_size > n else start + batch_size
            C = sweep(X, y, sw, order, start, stop, w, wx, G, GA, narrow, stats)
            step = lr / (stop - start)
            for j in range(w.shape[0]):
                gj = 0.0
                for c in range(C):
                    gj += G[c, j]
                    G[c, j] = 0.0
                w[j] -= step * gj
                wx[j] = w[j]
            for c in range(C):
                total += stats[c, 0]
        return total
    return epoch


def _timed(run, repeat=7):
    run()
    times = []
    for _ in range(repeat):
        tic = time.perf_counter()
        run()
        times.append(time.perf_counter() - tic)
    return min(times), float(np.median(times))


def _model_run(epoch, X, y, sw, order, batch_size):
    d = X.shape[1]
    w = np.zeros(d + 1)
    wx = np.zeros(d + 1, X.dtype)
    G = np.zeros((MAX_CHUNKS, d + 9))
    narrow = X.dtype == np.float32
    GA = np.zeros((MAX_CHUNKS, d + 9), X.dtype) if narrow else G
    stats = np.zeros((MAX_CHUNKS, 8))
    return lambda: epoch(X, y, sw, order, batch_size, w, wx, G, GA, narrow, stats, 0.1)


def _kernel_run(X, y, sw, order, batch_size):
    d = X.shape[1]
    theta = np.zeros((1, d + 1))
    state = np.zeros((1, 1, d + 1))
    work = make_work(MAX_CHUNKS, 1, d + 1, X.dtype)
    spec = KernelSpec(MODE_SINGLE, LOSS_LOG, 0.0, OPT_SGD, np.array([0.0, 0.0, 0.0]), False,
                      SCHED_CONSTANT, np.array([0.1]), 0.0, 0.0, True, 0, True, False,
                      w_mean=1.0, pa=0, pa_c=0.0)
    return lambda: epoch_dense(X, y, sw, order, batch_size, theta, state, theta[:0], work,
                               spec, 0, 0)


def main(n_rows=1_000_000, n_features=100, batch_size=256):
    rng = np.random.default_rng(0)
    X64 = rng.standard_normal((n_rows, n_features))
    y = np.where(X64 @ (rng.standard_normal(n_features) / 10)
                 + 0.5 * rng.standard_normal(n_rows) > 0, 1.0, -1.0)
    sw = np.ones(n_rows)
    block, run, group = 64, 4, batch_size // 4
    shuffled = np.empty(n_rows, np.int64)
    fill_order(rng.permutation(-(-n_rows // block)).astype(np.int64), block, run, group,
               np.arange(n_rows, dtype=np.int64), shuffled)
    storage = np.arange(n_rows, dtype=np.int64)
    model, blocked, no_exp = (_epoch(_row_loop(_log_loss_parts)), _epoch(_rows_blocked),
                              _epoch(_row_loop(_no_exp_parts)))
    print(f"{n_rows} x {n_features}, batch {batch_size}: best / median of 7 epochs (s)")
    for dtype in (np.float64, np.float32):
        X = X64.astype(dtype)
        cases = [
            ("skgd epoch_dense (sgd)", _kernel_run(X, y, sw, shuffled, batch_size)),
            ("model", _model_run(model, X, y, sw, shuffled, batch_size)),
            ("model, 4-row blocks", _model_run(blocked, X, y, sw, shuffled, batch_size)),
            ("model, no exp", _model_run(no_exp, X, y, sw, shuffled, batch_size)),
            ("model, sequential", _model_run(model, X, y, sw, storage, batch_size)),
        ]
        read = stream_seconds(X)
        print(f"{np.dtype(dtype).name}: one read of X {read:.4f}")
        for name, run_case in cases:
            best, median = _timed(run_case)
            print(f"  {name:24s} {best:.4f} / {median:.4f}  ({best / read:.2f}x the read)")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
