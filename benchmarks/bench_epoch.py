"""Seconds per epoch, peak memory, test score and speed ratios of one epoch.

One epoch is ``fit`` with ``max_iter=1, tol=None`` (input validation included, as a
user pays it), after the kernels were compiled or loaded from Numba's cache in
``setup``. Ratios are measured in the same process, side by side:

- ``track_ratio_vs_sklearn``: scikit-learn's one-epoch ``fit`` time divided by skgd's
  (above 1 = skgd faster; the target on 1M x 100 float64, batch 256 is >= 10);
- ``track_ratio_vs_stream``: skgd's epoch divided by one parallel read pass over X
  (the memory floor; the target for dense float64, batch 256 is <= 2).

Data: dense 1,000,000 x 100 or CSR 200,000 x 100,000 with ~50 non-zeros per row, times
``SKGD_BENCH_SCALE`` (see common.py).
"""

import numpy as np

from . import common


class ClassifierEpoch:
    """Binary log_loss, shuffled mini-batches, every Numba thread."""

    params = [["sgd", "adam"], [32, 256, 4096], ["dense", "sparse"], ["float64", "float32"]]
    param_names = ["optimizer", "batch_size", "format", "dtype"]
    timeout = 900
    rounds = 1
    number = 1

    def setup(self, optimizer, batch_size, fmt, dtype):
        self.X, self.y, self.X_test, self.y_test = common.classification_problem(fmt, dtype)
        self.est = common.one_epoch(common.gd_classifier(optimizer=optimizer,
                                                         batch_size=batch_size))
        common.warm_jit(self.est, self.X, self.y)

    def _fit(self):
        return common.fit_quietly(self.est, self.X, self.y)

    def time_epoch(self, *params):
        self._fit()

    def peakmem_fit(self, *params):
        self._fit()

    def track_test_score(self, *params):
        return float(self._fit().score(self.X_test, self.y_test))

    track_test_score.unit = "accuracy after 1 epoch"

    def track_ratio_vs_sklearn(self, *params):
        sk = common.one_epoch(common.sgd_classifier())
        t_sk = common.best_seconds(lambda: common.fit_quietly(sk, self.X, self.y))
        t_gd = common.best_seconds(self._fit, warmup=1)
        return t_sk / t_gd

    track_ratio_vs_sklearn.unit = "SGDClassifier s / skgd s"

    def track_ratio_vs_stream(self, *params):
        t_stream = common.stream_seconds(self.X)
        t_gd = common.best_seconds(self._fit, warmup=1)
        return t_gd / t_stream

    track_ratio_vs_stream.unit = "skgd s / stream pass s"


class RegressorEpoch:
    """squared_error on dense 1M x 100 (scaled), batch 256, against SGDRegressor."""

    params = [["sgd", "adam"], ["float64", "float32"]]
    param_names = ["optimizer", "dtype"]
    timeout = 600
    rounds = 1
    number = 1

    def setup(self, optimizer, dtype):
        n, d = common.dense_shape()
        self.X, self.y, self.X_test, self.y_test = common.train_test(
            common.dense_regression, n, d, dtype)
        self.est = common.one_epoch(common.gd_regressor(optimizer=optimizer, batch_size=256))
        common.warm_jit(self.est, self.X, self.y)

    def _fit(self):
        return common.fit_quietly(self.est, self.X, self.y)

    def time_epoch(self, *params):
        self._fit()

    def track_test_score(self, *params):
        return float(self._fit().score(self.X_test, self.y_test))

    track_test_score.unit = "R2 after 1 epoch"

    def track_ratio_vs_sklearn(self, *params):
        sk = common.one_epoch(common.sgd_regressor())
        t_sk = common.best_seconds(lambda: common.fit_quietly(sk, self.X, self.y))
        t_gd = common.best_seconds(self._fit, warmup=1)
        return t_sk / t_gd

    track_ratio_vs_sklearn.unit = "SGDRegressor s / skgd s"


class ThreadsAgreement:
    """Reproducibility: same random_state and n_jobs give identical coefficients, and
    n_jobs=1 and n_jobs=2 agree (the target is a difference below 1e-10)."""

    params = [["dense", "sparse"], ["sgd", "adam"]]
    param_names = ["format", "optimizer"]
    timeout = 600
    rounds = 1

    def setup(self, fmt, optimizer):
        self.X, self.y, _, _ = common.classification_problem(fmt, "float64")
        self.est = common.one_epoch(common.gd_classifier(optimizer=optimizer, batch_size=256))
        common.warm_jit(self.est, self.X, self.y)

    def _params(self, n_jobs):
        est = common.fit_quietly(self.est.set_params(n_jobs=n_jobs), self.X, self.y)
        return np.concatenate([np.ravel(est.coef_), np.ravel(est.intercept_)])

    def track_max_abs_diff_same_n_jobs(self, *params):
        return float(np.max(np.abs(self._params(2) - self._params(2))))

    track_max_abs_diff_same_n_jobs.unit = "max |coef difference|"

    def track_max_abs_diff_1_vs_2_jobs(self, *params):
        return float(np.max(np.abs(self._params(1) - self._params(2))))

    track_max_abs_diff_1_vs_2_jobs.unit = "max |coef difference|"
