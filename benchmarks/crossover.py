"""Where parallel row chunks start to pay: serial vs parallel epoch time of the dense
kernel over batch size x n_features (log_loss, Adam, float64 and float32), with a
parallel region per batch and with one per epoch (``epoch_dense_region``, which fits
use under the omp layer).

Run: ``python benchmarks/crossover.py [n_rows]``. The smallest batch_size * n_features
at which the parallel path wins is the threshold ``skgd._base.PAR_ROWS_MIN_WORK``.
All three compute the same arithmetic (fixed chunking), so only time differs.
"""

import sys
import time

import numba
import numpy as np

from skgd._kernels import (KernelSpec, epoch_dense, epoch_dense_region, make_region_work,
                           make_work)
from skgd._kernels._codes import LOSS_LOG, MODE_SINGLE, OPT_ADAM, SCHED_CONSTANT
from skgd._kernels._epoch import MAX_CHUNKS


def epoch_seconds(X, y, batch_size, parallel, repeats=3, region=False):
    n, d = X.shape
    theta = np.zeros((1, d + 1))
    state = np.zeros((2, 1, d + 1))
    kernel = epoch_dense_region if region else epoch_dense
    work = (make_region_work(numba.get_num_threads(), 1, d + 1, 2, 0, X.dtype) if region
            else make_work(MAX_CHUNKS, 1, d + 1, X.dtype))
    spec = KernelSpec(MODE_SINGLE, LOSS_LOG, 0.0, OPT_ADAM, np.array([0.9, 0.999, 1e-8, 0.0]),
                      False, SCHED_CONSTANT, np.array([0.01]), 1e-4, 0.0, True, 0, parallel,
                      False, w_mean=1.0, pa=0, pa_c=0.0)
    sw = np.ones(n)
    order = np.arange(n)
    kernel(X[:2048], y, sw, order[:2048], batch_size, theta, state, theta[:0], work, spec, 0, 0)
    best = np.inf
    for _ in range(repeats):
        tic = time.perf_counter()
        kernel(X, y, sw, order, batch_size, theta, state, theta[:0], work, spec, 0, 0)
        best = min(best, time.perf_counter() - tic)
    return best


def main(n_rows=400_000):
    rng = np.random.default_rng(0)
    print(f"threads: {numba.get_num_threads()}, layer: {numba.threading_layer() if 0 else '-'}")
    print("dtype    d  batch  work     serial ms  parallel ms  region ms  parallel/serial"
          "  region/serial")
    for d in (20, 100, 400):
        n = max(20_000, n_rows * 100 // d)
        X64 = rng.standard_normal((n, d))
        y = np.where(rng.random(n) > 0.5, 1.0, -1.0)
        for dtype in (np.float64, np.float32):
            X = X64.astype(dtype)
            for batch in (32, 64, 128, 256, 512, 1024, 4096):
                s = epoch_seconds(X, y, batch, False)
                p = epoch_seconds(X, y, batch, True)
                r = epoch_seconds(X, y, batch, True, region=True)
                print(f"{np.dtype(dtype).name:8s} {d:4d} {batch:5d} {batch * d:7d}  "
                      f"{1e3 * s:9.1f}  {1e3 * p:11.1f}  {1e3 * r:9.1f}  {p / s:8.2f}  "
                      f"{r / s:8.2f}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 400_000)
