"""Multinomial (softmax) vs one-vs-rest: seconds per epoch on 26 classes.

Data: 200,000 x 100 dense float64 with 26 classes (times ``SKGD_BENCH_SCALE``), batch
256, log_loss. scikit-learn's SGDClassifier (one-vs-rest, its classes in parallel
threads with ``n_jobs=-1``) is measured in the same process for the ratio.
"""

from . import common


def _problem(dtype):
    n, d, k = common.multiclass_shape()
    return common.train_test(common.multiclass_classification, n, d, k, dtype)


class MulticlassEpoch:
    params = [["multinomial", "ovr"], ["float64", "float32"]]
    param_names = ["multi_class", "dtype"]
    timeout = 900
    rounds = 1
    number = 1

    def setup(self, multi_class, dtype):
        self.X, self.y, self.X_test, self.y_test = _problem(dtype)
        self.est = common.one_epoch(common.gd_classifier(multi_class=multi_class,
                                                         batch_size=256))
        common.warm_jit(self.est, self.X, self.y, rows=2000)

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
        sk = common.one_epoch(common.sgd_classifier(n_jobs=-1))
        t_sk = common.best_seconds(lambda: common.fit_quietly(sk, self.X, self.y), repeat=2)
        common.quiet()
        t_gd = common.best_seconds(self._fit, warmup=1)
        return t_sk / t_gd

    track_ratio_vs_sklearn.unit = "SGDClassifier(OvR) s / skgd s"


class MultinomialOverOvr:
    """Time of a multinomial epoch divided by a one-vs-rest epoch, same process."""

    timeout = 900
    rounds = 1

    def setup(self):
        self.X, self.y, _, _ = _problem("float64")
        self.est = {mc: common.one_epoch(common.gd_classifier(multi_class=mc, batch_size=256))
                    for mc in ("multinomial", "ovr")}
        for est in self.est.values():
            common.warm_jit(est, self.X, self.y, rows=2000)

    def track_time_ratio(self):
        t = {mc: common.best_seconds(lambda e=est: common.fit_quietly(e, self.X, self.y),
                                     warmup=1)
             for mc, est in self.est.items()}
        return t["multinomial"] / t["ovr"]

    track_time_ratio.unit = "multinomial s / OvR s"
