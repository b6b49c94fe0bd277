"""Losses ``L(y, p)`` of a margin ``p = x . w + b``, named as in scikit-learn's SGD.

Each loss gives the kernels an integer code and one float parameter (hinge threshold,
epsilon, quantile); the kernels compute the value and derivative
(``skgd._kernels.loss_and_derivative``). The Python side adds what the estimators need
around them: target checks, the inverse link, and the baseline margin a fresh model's
intercept starts from.

Classification (targets +-1 per binary problem): ``log_loss``, ``hinge``,
``squared_hinge``, ``modified_huber``, ``perceptron``; and the softmax cross-entropy of
``multi_class="multinomial"``. Regression: ``squared_error`` (``0.5 (p - y)^2``),
``huber``, ``epsilon_insensitive``, ``squared_epsilon_insensitive``, ``poisson`` (log
link, half deviance) and ``quantile`` (pinball loss).

Examples
--------
>>> from skgd.losses import get_loss
>>> spec = get_loss("huber", epsilon=0.5)
>>> spec.code, spec.param, spec.is_classification
(5, 0.5, False)
"""

import numpy as np

from ._kernels import _codes as C

__all__ = ["LossSpec", "get_loss", "CLASSIFICATION_LOSSES", "REGRESSION_LOSSES"]


def _weighted_quantile(y, sw, q):
    order = np.argsort(y, kind="stable")
    cw = np.cumsum(sw[order])
    return float(y[order][min(np.searchsorted(cw, q * cw[-1]), len(y) - 1)])


# Pseudo-observations each class adds to a baseline's class frequencies, as a share
# of the batch's total weight (see smoothed_class_frequencies).
BASELINE_PSEUDO_SHARE = 0.01


def smoothed_class_frequencies(idx, sw, n_classes):
    """Weighted class frequencies of the labels ``idx`` (0..n_classes-1), smoothed.

    A baseline is computed on one batch, which often misses a class (a rare class, one
    of many, or a ``partial_fit`` chunk declared with ``classes=``): its raw frequency
    0 gave that class an intercept near log(1e-6), which Adam's small steps took
    thousands of updates to undo (digits: recall of the missing class 0.80 instead of
    0.97 after three passes). Each class gets BASELINE_PSEUDO_SHARE of the total
    weight as pseudo-observations, so a missing class starts at about 1% (log-odds
    -4.6). A share of the weight, not a pseudo-row: the baseline, like the objective,
    must not change when the weights are scaled or integer weights are replaced by
    repeated rows. ``sw.sum()`` must be positive.
    """
    counts = np.bincount(idx, weights=sw, minlength=n_classes)
    pseudo = BASELINE_PSEUDO_SHARE * counts.sum()
    return (counts + pseudo) / (counts.sum() + n_classes * pseudo)


class LossSpec:
    """A resolved loss: kernel code and parameter plus its Python-side behaviour."""

    is_classification = False
    has_proba = False
    #: How a fresh model's intercept starts: "zero", "mean", "median", "quantile",
    #: "log_mean" or "log_odds" of the (first batch's) targets.
    baseline = "zero"

    def __init__(self, name, code, param=0.0, target_degree=None,
                 param_in_target_units=False):
        self.name = name
        self.code = code
        self.param = float(param)
        #: ``k`` such that ``L(c y, c p) = c**k L(y, p)`` for every ``c > 0`` (with
        #: ``param`` divided by ``c`` too when ``param_in_target_units``), or None when
        #: the loss has no such scaling (classification, the log link of poisson).
        #: Training on scaled targets relies on it (``GDRegressor(scale_target=True)``).
        self.target_degree = target_degree
        self.param_in_target_units = param_in_target_units

    def __repr__(self):
        return f"LossSpec({self.name!r}, param={self.param})"

    def check_target(self, y):
        """Raise ValueError if ``y`` is outside the loss's domain."""

    def inverse_link(self, raw):
        return raw

    def baseline_margin(self, y, sw):
        """Margin a fresh intercept starts from, given targets ``y`` and weights ``sw``.

        It only moves the starting point, never the optimum, and saves the many steps a
        constant-step optimizer needs to carry the intercept to the targets' level.
        """
        if sw.sum() <= 0:
            return 0.0
        if self.baseline == "mean":
            return float(np.average(y, weights=sw))
        if self.baseline == "median":
            return _weighted_quantile(y, sw, 0.5)
        if self.baseline == "quantile":
            return _weighted_quantile(y, sw, self.param)
        if self.baseline == "log_mean":
            return float(np.log(max(np.average(y, weights=sw), 1e-12)))
        if self.baseline == "log_odds":  # y in {-1, +1}
            neg, pos = smoothed_class_frequencies((y > 0).astype(np.intp), sw, 2)
            return float(np.log(pos / neg))
        return 0.0


class _Classification(LossSpec):
    is_classification = True


class _Probabilistic(_Classification):
    has_proba = True


class _LogLoss(_Probabilistic):
    baseline = "log_odds"


class _Regression(LossSpec):
    baseline = "mean"


class _Median(_Regression):
    baseline = "median"


class _Poisson(_Regression):
    baseline = "log_mean"

    def check_target(self, y):
        if np.any(y < 0):
            raise ValueError(
                "loss='poisson' requires non-negative targets (counts or rates); "
                f"got a minimum of {np.min(y)}."
            )

    def inverse_link(self, raw):
        return np.exp(raw)


class _Quantile(_Regression):
    baseline = "quantile"


CLASSIFICATION_LOSSES = {
    "log_loss": lambda p: _LogLoss("log_loss", C.LOSS_LOG),
    "hinge": lambda p: _Classification("hinge", C.LOSS_HINGE, 1.0),
    "squared_hinge": lambda p: _Classification("squared_hinge", C.LOSS_SQUARED_HINGE, 1.0),
    "modified_huber": lambda p: _Probabilistic("modified_huber", C.LOSS_MODIFIED_HUBER),
    "perceptron": lambda p: _Classification("perceptron", C.LOSS_HINGE, 0.0),
}
REGRESSION_LOSSES = {
    "squared_error": lambda p: _Regression("squared_error", C.LOSS_SQUARED, 0.0, 2),
    "huber": lambda p: _Median("huber", C.LOSS_HUBER, p["epsilon"], 2, True),
    "epsilon_insensitive": lambda p: _Median(
        "epsilon_insensitive", C.LOSS_EPSILON_INSENSITIVE, p["epsilon"], 1, True),
    "squared_epsilon_insensitive": lambda p: _Regression(
        "squared_epsilon_insensitive", C.LOSS_SQUARED_EPSILON_INSENSITIVE, p["epsilon"],
        2, True),
    "poisson": lambda p: _Poisson("poisson", C.LOSS_POISSON),
    "quantile": lambda p: _Quantile("quantile", C.LOSS_QUANTILE, p["quantile"], 1),
}


def get_loss(name, epsilon=0.1, quantile=0.5):
    """Resolve a loss name into a :class:`LossSpec`."""
    params = {"epsilon": epsilon, "quantile": quantile}
    for table in (CLASSIFICATION_LOSSES, REGRESSION_LOSSES):
        if name in table:
            return table[name](params)
    raise ValueError(f"Unknown loss {name!r}.")
