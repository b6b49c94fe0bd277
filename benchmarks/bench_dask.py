"""Data-parallel training on a Dask LocalCluster: fit time on 2 workers vs 1 worker vs
an in-memory fit, on the same data and the same number of passes over it.

- ``in-memory``: ``GDClassifier(max_iter=ROUNDS, tol=None).fit(X, y)`` in this process,
  on every Numba thread (both cores here).
- ``1 worker`` / ``2 workers``: ``skgd.dask.DataParallelGD(..., n_rounds=ROUNDS)`` on a
  ``LocalCluster(n_workers=k, threads_per_worker=1, processes=True)`` bound to
  127.0.0.1, over ``PARTITIONS`` row blocks already in the workers' memory. Each round
  is one epoch over all the data (every partition trains one local epoch, then the
  models are averaged), so the three fits make the same number of passes.

Data: the dense logistic problem of ``common`` (1,000,000 x 100 float64 at scale 1,
times ``SKGD_BENCH_SCALE``). The estimator averages its iterates (``average=True``),
which makes the data-parallel and in-memory test scores comparable
(``track_test_score``).

Skipped (``NotImplementedError`` from ``setup``, as asv does) where dask/distributed are
not installed. As a script it prints the table of the "Scaling out" docs page::

    python -m benchmarks.bench_dask [--scale 0.2] [--repeat 3]
"""

import argparse
import time
import warnings

from . import common

ROUNDS = 5
PARTITIONS = 4
WHERE = ["in-memory", "1 worker", "2 workers"]


def _estimator():
    from skgd import GDClassifier

    return GDClassifier(average=True, batch_size=256, random_state=0)


def _start_cluster(n_workers):
    try:
        import distributed
    except ImportError as exc:
        raise NotImplementedError("dask.distributed is not installed") from exc
    cluster = distributed.LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, worker_dashboard_address=None)
    return cluster, distributed.Client(cluster)


class DataParallelFit:
    """``time_fit`` and ``track_test_score`` for an in-memory fit and data-parallel
    fits on 1 and 2 worker processes."""

    params = [WHERE]
    param_names = ["where"]
    timeout = 900
    number = 1
    repeat = 3
    warmup_time = 0
    smoke_params = [("2 workers",)]  # benchmarks/smoke.py: the data-parallel path once

    def setup(self, where):
        try:
            import dask.array as da

            from skgd.dask import DataParallelGD
        except ImportError as exc:
            raise NotImplementedError("dask is not installed") from exc
        n, d = common.dense_shape()
        self.X, self.y, self.X_test, self.y_test = common.train_test(
            common.dense_classification, n, d)
        self.cluster = self.client = None
        est = _estimator()
        if where == "in-memory":
            from sklearn.base import clone

            self.model = est.set_params(max_iter=ROUNDS, tol=None)
            self.fit = lambda: self.model.fit(self.X, self.y)
            # Load the cached kernels outside the timing.
            clone(est).set_params(max_iter=1).fit(self.X[:2000], self.y[:2000])
            return
        self.cluster, self.client = _start_cluster(int(where.split()[0]))
        rows = -(-n // PARTITIONS)
        Xd = da.from_array(self.X, chunks=(rows, d))
        yd = da.from_array(self.y, chunks=rows)
        with warnings.catch_warnings():
            # "Sending large graph": the arrays go to the workers once, before timing.
            warnings.simplefilter("ignore", UserWarning)
            self.Xd, self.yd = self.client.persist([Xd, yd])
        self.model = DataParallelGD(est, n_rounds=ROUNDS)
        self.fit = lambda: self.model.fit(self.Xd, self.yd)
        # Warm the workers (import skgd, load the cached kernels) outside the timing.
        DataParallelGD(est, n_rounds=1).fit(self.Xd, self.yd)

    def teardown(self, where):
        if self.client is not None:
            self.client.close()
            self.cluster.close()

    def time_fit(self, where):
        self.fit()

    def track_test_score(self, where):
        return float(self.fit().score(self.X_test, self.y_test))

    track_test_score.unit = "accuracy"


def main(argv=None):
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=None,
                        help="SKGD_BENCH_SCALE (default: the environment's, else 1)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if args.scale is not None:
        os.environ["SKGD_BENCH_SCALE"] = str(args.scale)
    n, d = common.dense_shape()
    print(f"dense logistic {n:,} x {d}, {ROUNDS} passes, {PARTITIONS} partitions, "
          f"best of {args.repeat}")
    rows = []
    for where in WHERE:
        bench = DataParallelFit()
        bench.setup(where)
        try:
            seconds = common.best_seconds(bench.fit, repeat=args.repeat)
            score = bench.track_test_score(where)
        finally:
            bench.teardown(where)
        rows.append((where, seconds, score))
        time.sleep(1.0)  # let the previous cluster's processes exit
    base = rows[0][1]
    print(f"{'where':<12} {'fit s':>8} {'vs in-memory':>13} {'test accuracy':>14}")
    for where, seconds, score in rows:
        print(f"{where:<12} {seconds:8.2f} {seconds / base:12.2f}x {score:14.4f}")
    one, two = rows[1][1], rows[2][1]
    print(f"2 workers vs 1 worker: {one / two:.2f}x faster")


if __name__ == "__main__":
    main()
