"""Optimizers: small parameter objects that give the kernels a code and a float array.

An optimizer carries its own hyper-parameters (momentum, betas, eps, rho, ...) but not
the step size, which is the estimator's ``learning_rate`` / ``eta0`` schedule. The
update rules are those of DESIGN.md (PyTorch's ``torch.optim``), applied element-wise
to every coordinate of ``(coef_, intercept_)``, each with its own state.

Optimizers are scikit-learn parameter objects: ``get_params``/``set_params`` work, so
``GridSearchCV`` can tune ``optimizer__beta1`` and ``clone`` copies them.

Writing your own
----------------
Subclass :class:`Optimizer`, give the number of state slots per coordinate, the
hyper-parameter array, and an element rule compiled with ``numba.njit``::

    from numba import njit
    import numpy as np
    from skgd.optimizers import Optimizer

    @njit
    def sign_update(g, theta, state, k, j, lr, t, hp):
        # signSGD with momentum: state[0] is the running mean of g
        m = hp[0] * state[0, k, j] + (1.0 - hp[0]) * g
        state[0, k, j] = m
        theta[k, j] -= lr * np.sign(m)
        return 1.0  # preconditioner used by the L1 proximal step

    class SignSGD(Optimizer):
        update = staticmethod(sign_update)
        def __init__(self, beta=0.9):
            self.beta = beta
        def n_slots(self):
            return 1
        def hyperparameters(self):
            return np.array([self.beta], dtype=np.float64)

``GDClassifier(optimizer=SignSGD())`` then trains with it. The rule receives the
gradient ``g`` of coordinate ``(k, j)`` (L2 term included), the parameters ``theta``
and ``state`` arrays, the step size ``lr`` and the optimizer's step count ``t`` (from 1).
Kernels bound to a user rule are compiled once per process (Numba cannot cache them;
about 4 s: the row sweeps they share with the built-in rules come from the cache).
A fitted state is continued by a changed optimizer only if :meth:`Optimizer.state_layout`
agrees; by default that is every hyper-parameter.
"""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from ._kernels._codes import (
    OPT_ADADELTA,
    OPT_ADAGRAD,
    OPT_ADAM,
    OPT_CUSTOM,
    OPT_RMSPROP,
    OPT_SGD,
)

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "Adadelta",
    "RMSprop",
    "Adam",
    "AdamW",
    "get_optimizer",
    "OPTIMIZERS",
]


class Optimizer(BaseEstimator):
    """Base class of the optimizers.

    Subclasses set ``_code`` (built-ins) or ``update`` (a Numba element rule, for
    user-defined optimizers) and implement :meth:`n_slots` and
    :meth:`hyperparameters`.
    """

    _code = OPT_CUSTOM
    #: Element rule ``(g, theta, state, k, j, lr, t, hp) -> D`` of a user optimizer.
    update = None
    #: Apply the L2 penalty as decoupled weight decay ``w *= 1 - lr * l2`` (AdamW).
    decoupled_weight_decay = False
    _parameter_constraints: dict = {}

    def n_slots(self):
        """Number of state values kept per coordinate."""
        return 0

    def hyperparameters(self):
        """Float64 array of hyper-parameters handed to the kernel."""
        return np.zeros(1)

    def init_state(self, shape):
        """Fresh optimizer state for parameters of ``shape`` (K, n_features + 1)."""
        return np.zeros((self.n_slots(),) + tuple(shape))

    def state_layout(self):
        """What the state slots hold, as a hashable value.

        A fitted state carries over (``warm_start``, ``partial_fit``, after
        ``set_params(optimizer=...)``) only to an optimizer of the same class with
        the same number of slots and the same layout; otherwise training goes on
        with fresh state. The default, for user-defined optimizers, is every
        hyper-parameter, so that any change starts fresh state. Override it to
        return only the settings that change what the slots mean (as the built-in
        optimizers do), so that other changes keep the moments.
        """
        return tuple(float(v) for v in np.ravel(self.hyperparameters()))

    def _check(self):
        """Validate the hyper-parameters; raise ValueError/TypeError with the fix."""
        self._validate_params()
        if self._code == OPT_CUSTOM and not callable(self.update):
            raise TypeError(
                f"{type(self).__name__} must set `update` to a numba.njit element rule; "
                "see the skgd.optimizers module documentation."
            )


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    ``buf = g`` at the first step, then ``buf = momentum * buf + (1 - dampening) * g``;
    the step is ``lr * (g + momentum * buf)`` with Nesterov, ``lr * buf`` without,
    and ``lr * g`` when ``momentum == 0``.

    Parameters
    ----------
    momentum : float, default=0.0
    dampening : float, default=0.0
    nesterov : bool, default=False
        Requires ``momentum > 0`` and ``dampening == 0``.

    Examples
    --------
    >>> from skgd.optimizers import SGD
    >>> SGD(momentum=0.9, nesterov=True).hyperparameters()
    array([0.9, 0. , 1. ])
    """

    _code = OPT_SGD
    _parameter_constraints = {
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "dampening": [Interval(Real, 0, 1, closed="both")],
        "nesterov": ["boolean"],
    }

    def __init__(self, momentum=0.0, dampening=0.0, nesterov=False):
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov

    def n_slots(self):
        return 1 if self.momentum > 0 else 0

    def state_layout(self):
        return ()  # the momentum buffer, if any (n_slots tells)

    def hyperparameters(self):
        return np.array([self.momentum, self.dampening, float(self.nesterov)])

    def _check(self):
        super()._check()
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                "SGD(nesterov=True) requires momentum > 0 and dampening == 0, "
                f"got momentum={self.momentum}, dampening={self.dampening}."
            )


class Adagrad(Optimizer):
    """Adagrad: ``S += g^2``; ``theta -= lr * g / (sqrt(S) + eps)``.

    Parameters
    ----------
    eps : float, default=1e-10
    initial_accumulator_value : float, default=0.0

    Examples
    --------
    >>> from skgd.optimizers import Adagrad
    >>> Adagrad(eps=1e-8).n_slots()
    1
    """

    _code = OPT_ADAGRAD
    _parameter_constraints = {
        "eps": [Interval(Real, 0, None, closed="neither")],
        "initial_accumulator_value": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, eps=1e-10, initial_accumulator_value=0.0):
        self.eps = eps
        self.initial_accumulator_value = initial_accumulator_value

    def n_slots(self):
        return 1

    def state_layout(self):
        return ()  # the sum of squared gradients

    def hyperparameters(self):
        return np.array([self.eps, self.initial_accumulator_value])

    def init_state(self, shape):
        return np.full((1,) + tuple(shape), float(self.initial_accumulator_value))


class Adadelta(Optimizer):
    """Adadelta (eps inside both roots; ``eta0=1`` is the classic method).

    ``v = rho v + (1 - rho) g^2``; ``delta = sqrt(u + eps) / sqrt(v + eps) g``;
    ``u = rho u + (1 - rho) delta^2``; ``theta -= lr delta``.

    Parameters
    ----------
    rho : float, default=0.9
    eps : float, default=1e-6

    Examples
    --------
    >>> from skgd.optimizers import Adadelta
    >>> Adadelta(rho=0.95).hyperparameters()
    array([9.5e-01, 1.0e-06])
    """

    _code = OPT_ADADELTA
    _parameter_constraints = {
        "rho": [Interval(Real, 0, 1, closed="both")],
        "eps": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, rho=0.9, eps=1e-6):
        self.rho = rho
        self.eps = eps

    def n_slots(self):
        return 2

    def state_layout(self):
        return ()  # the running means of g^2 and of delta^2

    def hyperparameters(self):
        return np.array([self.rho, self.eps])


class RMSprop(Optimizer):
    """RMSprop, optionally centered and with momentum.

    ``v = rho v + (1 - rho) g^2``; centered: ``m = rho m + (1 - rho) g``,
    ``v~ = v - m^2``; with momentum: ``buf = momentum buf + g / (sqrt(v~) + eps)``,
    ``theta -= lr buf``; else ``theta -= lr g / (sqrt(v~) + eps)``.

    Parameters
    ----------
    rho : float, default=0.99
    eps : float, default=1e-8
    centered : bool, default=False
    momentum : float, default=0.0

    Examples
    --------
    >>> from skgd.optimizers import RMSprop
    >>> RMSprop(centered=True, momentum=0.9).n_slots()
    3
    """

    _code = OPT_RMSPROP
    _parameter_constraints = {
        "rho": [Interval(Real, 0, 1, closed="both")],
        "eps": [Interval(Real, 0, None, closed="neither")],
        "centered": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(self, rho=0.99, eps=1e-8, centered=False, momentum=0.0):
        self.rho = rho
        self.eps = eps
        self.centered = centered
        self.momentum = momentum

    def n_slots(self):
        return 1 + int(bool(self.centered)) + int(self.momentum > 0)

    def state_layout(self):
        # Slot 1 is the running mean of g when centered, else the momentum buffer:
        # both switches define what the slots hold, not just how many there are.
        return bool(self.centered), self.momentum > 0

    def hyperparameters(self):
        return np.array([self.rho, self.eps, float(self.centered), self.momentum])


class Adam(Optimizer):
    """Adam with bias correction, optionally AMSGrad.

    ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2`` (AMSGrad: running max of
    ``v``); ``theta -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.

    Parameters
    ----------
    beta1 : float, default=0.9
    beta2 : float, default=0.999
    eps : float, default=1e-8
    amsgrad : bool, default=False

    Examples
    --------
    >>> from skgd.optimizers import Adam
    >>> Adam(beta1=0.95).get_params()["beta1"]
    0.95
    """

    _code = OPT_ADAM
    _parameter_constraints = {
        "beta1": [Interval(Real, 0, 1, closed="left")],
        "beta2": [Interval(Real, 0, 1, closed="left")],
        "eps": [Interval(Real, 0, None, closed="neither")],
        "amsgrad": ["boolean"],
    }

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8, amsgrad=False):
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.amsgrad = amsgrad

    def n_slots(self):
        return 3 if self.amsgrad else 2

    def state_layout(self):
        return bool(self.amsgrad)  # slot 2: the running maximum of v

    def hyperparameters(self):
        return np.array([self.beta1, self.beta2, self.eps, float(self.amsgrad)])


class AdamW(Adam):
    """Adam with decoupled weight decay.

    The L2 part of the penalty is not added to the gradient: the coefficients are
    first decayed, ``w *= 1 - lr * alpha`` (never the intercept), then the Adam step
    is taken on the loss gradient alone.

    Parameters
    ----------
    beta1 : float, default=0.9
    beta2 : float, default=0.999
    eps : float, default=1e-8
    amsgrad : bool, default=False
        As in :class:`Adam`.

    Examples
    --------
    >>> from skgd.optimizers import AdamW
    >>> AdamW().decoupled_weight_decay
    True
    """

    decoupled_weight_decay = True


#: Optimizer names accepted by the estimators, and the object each one stands for.
OPTIMIZERS = {
    "sgd": lambda: SGD(),
    "momentum": lambda: SGD(momentum=0.9),
    "nesterov": lambda: SGD(momentum=0.9, nesterov=True),
    "adagrad": lambda: Adagrad(),
    "adadelta": lambda: Adadelta(),
    "rmsprop": lambda: RMSprop(),
    "adam": lambda: Adam(),
    "adamw": lambda: AdamW(),
}


def get_optimizer(optimizer):
    """Return a fresh optimizer object for a name, or a validated copy of an object.

    Examples
    --------
    >>> from skgd.optimizers import get_optimizer
    >>> get_optimizer("nesterov")
    SGD(momentum=0.9, nesterov=True)
    """
    from sklearn.base import clone

    if isinstance(optimizer, str):
        try:
            # Valid by construction: validating again cost ~0.1 ms, felt by small fits.
            return OPTIMIZERS[optimizer]()
        except KeyError:
            raise ValueError(
                f"Unknown optimizer {optimizer!r}; use one of {sorted(OPTIMIZERS)} "
                "or an object from skgd.optimizers."
            ) from None
    if isinstance(optimizer, Optimizer):
        opt = clone(optimizer)
    else:
        raise TypeError(
            f"optimizer must be a name or a skgd.optimizers.Optimizer, got {optimizer!r}."
        )
    opt._check()
    return opt
