"""Step-size schedules: functions of the update counter ``t`` (starting at 1).

The estimator's ``learning_rate`` is a name (scikit-learn's ``"constant"``,
``"invscaling"``, ``"optimal"``, ``"adaptive"``, ``"pa1"`` and ``"pa2"``, or skgd's
``"plateau"``, ``"exponential"``, ``"cosine"`` and ``"warmup"``) or one of the objects
below. Every schedule takes its base value from the estimator's ``eta0``; ``t`` counts
parameter updates (mini-batches) and keeps counting across epochs, ``partial_fit``
calls and ``warm_start`` fits, so a schedule resumes where it stopped.

Examples
--------
>>> from skgd import GDClassifier
>>> from skgd.schedules import Cosine
>>> clf = GDClassifier(learning_rate=Cosine(period=1000), eta0=0.05)
"""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from ._kernels._codes import (
    PA_1,
    PA_2,
    PA_NONE,
    SCHED_CONSTANT,
    SCHED_COSINE,
    SCHED_EXPONENTIAL,
    SCHED_INVSCALING,
    SCHED_OPTIMAL,
    SCHED_WARMUP,
)

__all__ = ["Schedule", "Constant", "InvScaling", "Optimal", "Adaptive", "Plateau",
           "Exponential", "Cosine", "WarmUp", "PA1", "PA2", "get_schedule"]


class Schedule(BaseEstimator):
    """Base class: :meth:`kernel_args` returns ``(code, float64 params)``."""

    _parameter_constraints: dict = {}
    #: Adaptive schedules are changed between epochs by the training loop.
    adaptive = False
    #: Passive-aggressive schedules set each row's step themselves (PA_* code).
    pa_code = PA_NONE

    def kernel_args(self, est, eta):
        raise NotImplementedError

    def after_epoch(self, no_improve, n_iter_no_change, eta):
        """The stopping rule, run after each epoch of a fit with ``tol`` set.

        ``no_improve`` counts the epochs in a row that failed to improve by ``tol``;
        returns ``(stop, eta, no_improve)``, the base rate and count to go on with.
        """
        return no_improve >= n_iter_no_change, eta, no_improve


class Constant(Schedule):
    """``lr = eta0``."""

    def kernel_args(self, est, eta):
        return SCHED_CONSTANT, np.array([eta])


class Adaptive(Constant):
    """scikit-learn's ``"adaptive"``: ``lr = eta0``, divided by 5 each time
    ``n_iter_no_change`` epochs in a row fail to improve the training objective (or the
    validation score) by ``tol``; training stops when such a plateau ends below 1e-6."""

    adaptive = True

    def after_epoch(self, no_improve, n_iter_no_change, eta):
        if no_improve < n_iter_no_change:
            return False, eta, no_improve
        if eta > 1e-6:
            return False, eta / 5.0, 0
        return True, eta, no_improve


class Plateau(Adaptive):
    """``lr = eta0``, divided by ``factor`` after every ``patience`` epochs in a row that
    fail to improve the training objective (or the validation score) by ``tol``.

    Training stops once ``n_iter_no_change`` epochs in a row have failed to improve,
    cuts included. Epochs of fewer than 10 updates count in rounds of 10 updates (see
    the estimators' ``tol``). Unlike ``"adaptive"``, whose plateaus each last
    ``n_iter_no_change`` epochs, the step shrinks as soon as progress stalls, so a fit
    that has reached its noise floor ends within a few epochs (``GDRegressor``'s
    default; see docs/defaults.rst).

    Parameters
    ----------
    factor : float > 1, default=5.0
    patience : int >= 1, default=1

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skgd import GDRegressor
    >>> from skgd.schedules import Plateau
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = GDRegressor(learning_rate=Plateau(factor=10, patience=2), random_state=0)
    >>> reg = reg.fit(X, y)
    """

    _parameter_constraints = {
        "factor": [Interval(Real, 1, None, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, factor=5.0, patience=1):
        self.factor = factor
        self.patience = patience

    def after_epoch(self, no_improve, n_iter_no_change, eta):
        if no_improve >= n_iter_no_change:
            return True, eta, no_improve
        if no_improve > 0 and no_improve % self.patience == 0:
            return False, eta / self.factor, no_improve
        return False, eta, no_improve


class InvScaling(Schedule):
    """``lr = eta0 / t ** power_t``.

    Parameters
    ----------
    power_t : float or None, default=None
        The exponent; None takes the estimator's ``power_t``.
    """

    _parameter_constraints = {"power_t": [Interval(Real, None, None, closed="neither"), None]}

    def __init__(self, power_t=None):
        self.power_t = power_t

    def kernel_args(self, est, eta):
        p = est.power_t if self.power_t is None else self.power_t
        return SCHED_INVSCALING, np.array([eta, p])


class Optimal(Schedule):
    """scikit-learn's ``"optimal"``: ``lr = 1 / (alpha (t0 + t - 1))``.

    ``t0 = 1 / (typw * alpha)`` with the typical weight ``typw = 1 / sqrt(sqrt(alpha))``
    (Leon Bottou's heuristic, as scikit-learn computes it for its losses, whose
    derivative there is never above 1). Needs ``alpha > 0``.
    """

    def kernel_args(self, est, eta):
        alpha = float(est.alpha)
        if alpha <= 0:
            raise ValueError("learning_rate='optimal' requires alpha > 0; "
                             "use another learning_rate for alpha=0.")
        typw = math.sqrt(1.0 / math.sqrt(alpha))
        return SCHED_OPTIMAL, np.array([alpha, 1.0 / (typw * alpha)])


class Exponential(Schedule):
    """``lr = eta0 * gamma ** (t - 1)``.

    Parameters
    ----------
    gamma : float in (0, 1], default=0.999
    """

    _parameter_constraints = {"gamma": [Interval(Real, 0, 1, closed="right")]}

    def __init__(self, gamma=0.999):
        self.gamma = gamma

    def kernel_args(self, est, eta):
        return SCHED_EXPONENTIAL, np.array([eta, self.gamma])


class Cosine(Schedule):
    """Cosine annealing from ``eta0`` to ``eta_min`` over ``period`` updates, restarting.

    Parameters
    ----------
    period : int, default=1000
    eta_min : float, default=0.0
    """

    _parameter_constraints = {
        "period": [Interval(Integral, 1, None, closed="left")],
        "eta_min": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, period=1000, eta_min=0.0):
        self.period = period
        self.eta_min = eta_min

    def kernel_args(self, est, eta):
        return SCHED_COSINE, np.array([eta, self.eta_min, float(self.period)])


class WarmUp(Schedule):
    """Linear warm-up to ``eta0`` over ``steps`` updates, then constant.

    Parameters
    ----------
    steps : int, default=100
    """

    _parameter_constraints = {"steps": [Interval(Integral, 1, None, closed="left")]}

    def __init__(self, steps=100):
        self.steps = steps

    def kernel_args(self, est, eta):
        return SCHED_WARMUP, np.array([eta, float(self.steps)])


class PA1(Schedule):
    """Passive-aggressive steps, PA-I (Crammer et al. 2006), as scikit-learn's
    ``learning_rate="pa1"``: each row's step is ``tau = min(eta0, loss / ||x||^2)``,
    the smallest that fixes its loss, at most ``eta0`` (the aggressiveness ``C``).

    The step replaces the rate (which is 1): a row alone moves the model by ``tau y x``
    (its intercept by ``tau y``), and a batch by the average of its rows' steps
    (weighted as gradients are), so ``batch_size=1`` is the classic online algorithm
    (what scikit-learn runs). For ``loss="hinge"`` (classifier) or
    ``"epsilon_insensitive"`` (regressor), with plain SGD (``optimizer="sgd"``;
    momentum would carry each step, which just fixes a row's loss, into the next
    ones). A penalty decays with step ``eta0`` (``w *= 1 - eta0 alpha`` per update for
    L2), as in scikit-learn; its passive-aggressive estimators had none
    (``penalty=None``). Targets are not scaled (``scale_target``).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skgd import GDClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), GDClassifier(
    ...     loss="hinge", penalty=None, optimizer="sgd", learning_rate="pa1", eta0=1.0,
    ...     batch_size=1, random_state=0)).fit(X, y)
    >>> round(clf.score(X, y), 2) > 0.95
    True
    """

    pa_code = PA_1

    def kernel_args(self, est, eta):
        return SCHED_CONSTANT, np.array([1.0])


class PA2(PA1):
    """Passive-aggressive steps, PA-II: ``tau = loss / (||x||^2 + 1 / (2 eta0))``, as
    scikit-learn's ``learning_rate="pa2"``; the smaller ``eta0``, the more cautious
    the step (see :class:`PA1` for everything else)."""

    pa_code = PA_2


SCHEDULES = {
    "constant": Constant,
    "invscaling": InvScaling,
    "optimal": Optimal,
    "adaptive": Adaptive,
    "plateau": Plateau,
    "exponential": Exponential,
    "cosine": Cosine,
    "warmup": WarmUp,
    "pa1": PA1,
    "pa2": PA2,
}


def get_schedule(learning_rate):
    """Return a validated schedule object for a name or a copy of an object."""
    from sklearn.base import clone

    if isinstance(learning_rate, str):
        return SCHEDULES[learning_rate]()  # valid by construction
    sched = clone(learning_rate)
    sched._validate_params()
    return sched
