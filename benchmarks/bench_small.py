"""Small data (10,000 x 20): a full fit with default parameters, against scikit-learn.

Per-call overhead matters here (GridSearchCV fits many small models): the target is a
default ``GDClassifier().fit`` no slower than a default ``SGDClassifier().fit``. Both
run to their own stopping rule (``max_iter=1000, tol=1e-3``), with ``random_state=0``.
"""

from . import common


def _problem(kind):
    n, d = common.small_shape()
    if kind == "classifier":
        return common.train_test(common.dense_classification, n, d)
    return common.train_test(common.dense_regression, n, d)


def _estimators(kind):
    if kind == "classifier":
        return common.gd_classifier(), common.sgd_classifier(loss="hinge")
    return common.gd_regressor(), common.sgd_regressor()


class SmallDefaultFit:
    """Default skgd estimator vs scikit-learn's default SGD estimator (hinge loss for
    the classifier: SGDClassifier's default)."""

    params = [["classifier", "regressor"]]
    param_names = ["kind"]
    timeout = 300

    def setup(self, kind):
        self.X, self.y, self.X_test, self.y_test = _problem(kind)
        self.gd, self.sk = _estimators(kind)
        common.warm_jit(self.gd, self.X, self.y)

    def time_fit_skgd(self, kind):
        common.fit_quietly(self.gd, self.X, self.y)

    def time_fit_sklearn(self, kind):
        common.fit_quietly(self.sk, self.X, self.y)

    def peakmem_fit_skgd(self, kind):
        common.fit_quietly(self.gd, self.X, self.y)

    def track_ratio_vs_sklearn(self, kind):
        t_sk = common.best_seconds(lambda: common.fit_quietly(self.sk, self.X, self.y),
                                   repeat=5, warmup=1)
        t_gd = common.best_seconds(lambda: common.fit_quietly(self.gd, self.X, self.y),
                                   repeat=5, warmup=1)
        return t_sk / t_gd

    track_ratio_vs_sklearn.unit = "sklearn s / skgd s"

    def track_test_score_skgd(self, kind):
        return float(common.fit_quietly(self.gd, self.X, self.y).score(self.X_test,
                                                                      self.y_test))

    track_test_score_skgd.unit = "score"

    def track_test_score_sklearn(self, kind):
        return float(common.fit_quietly(self.sk, self.X, self.y).score(self.X_test,
                                                                      self.y_test))

    track_test_score_sklearn.unit = "score"

    def track_n_iter_skgd(self, kind):
        return int(common.fit_quietly(self.gd, self.X, self.y).n_iter_)

    track_n_iter_skgd.unit = "epochs"
