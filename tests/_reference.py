"""Plain-numpy reference implementations for the component tests.

Everything here is written from DESIGN.md (objective, losses, optimizer update rules,
schedules), vectorized over whole parameter arrays, and deliberately shares no code
with ``skgd``: the tests compare the Numba kernels against it, so a mistake in one is
unlikely to be repeated in the other.

Conventions (DESIGN.md): the parameters are ``theta`` of shape ``(K, n_features + 1)``
with the intercepts in the last column (or ``(K, n_features)`` without intercept).
Per mini-batch the gradient is the weighted mean of ``s_i dL/dp x_i``, plus
``l2 * w`` (except AdamW, which decays ``w *= 1 - lr * l2`` first), then the optimizer
rule, then the L1 soft-threshold ``lr * l1 * D`` (``D`` the rule's preconditioner).
The intercept is never penalized, decayed or thresholded. ``t`` counts updates from 1.
"""

import math

import numpy as np
from scipy.special import expit, logsumexp, softmax, xlogy

# ---------------------------------------------------------------------------- losses
# Binary classification targets are +-1, regression targets real; ``p`` is the margin.


def _log(p, y, param):
    z = y * p
    # logaddexp(0, -z) = log(1 + exp(-z)), stable in both tails.
    return np.logaddexp(0.0, -z), -y * expit(-z)


def _hinge(p, y, param):
    z = y * p
    active = z <= param
    return np.where(active, param - z, 0.0), np.where(active, -y, 0.0)


def _squared_hinge(p, y, param):
    m = np.maximum(param - y * p, 0.0)
    return m * m, -2.0 * y * m


def _modified_huber(p, y, param):
    z = y * p
    quad = np.maximum(1.0 - z, 0.0)
    loss = np.where(z >= -1.0, quad * quad, -4.0 * z)
    grad = np.where(z >= -1.0, -2.0 * y * quad, -4.0 * y)
    return loss, grad


def _squared(p, y, param):
    r = p - y
    return 0.5 * r * r, r


def _huber(p, y, param):
    r = p - y
    small = np.abs(r) <= param
    loss = np.where(small, 0.5 * r * r, param * (np.abs(r) - 0.5 * param))
    grad = np.where(small, r, param * np.sign(r))
    return loss, grad


def _epsilon_insensitive(p, y, param):
    r = p - y
    excess = np.abs(r) - param
    return np.maximum(excess, 0.0), np.where(excess > 0.0, np.sign(r), 0.0)


def _squared_epsilon_insensitive(p, y, param):
    r = p - y
    excess = np.maximum(np.abs(r) - param, 0.0)
    return excess * excess, 2.0 * excess * np.sign(r)


def _poisson(p, y, param):
    # Half Poisson deviance with log link: exp(p) - y p + y log y - y (0 log 0 = 0).
    mu = np.exp(p)
    return mu - y * p + xlogy(y, y) - y, mu - y


def _quantile(p, y, param):
    # Pinball loss of the residual u = y - p: q u if u >= 0 else (q - 1) u.
    u = y - p
    loss = np.where(u >= 0.0, param * u, (param - 1.0) * u)
    grad = np.where(u > 0.0, -param, np.where(u < 0.0, 1.0 - param, 0.0))
    return loss, grad


#: name -> (numpy (loss, dloss/dp) function, default parameter)
LOSSES = {
    "log_loss": (_log, 0.0),
    "hinge": (_hinge, 1.0),
    "perceptron": (_hinge, 0.0),
    "squared_hinge": (_squared_hinge, 1.0),
    "modified_huber": (_modified_huber, 0.0),
    "squared_error": (_squared, 0.0),
    "huber": (_huber, 0.1),
    "epsilon_insensitive": (_epsilon_insensitive, 0.1),
    "squared_epsilon_insensitive": (_squared_epsilon_insensitive, 0.1),
    "poisson": (_poisson, 0.0),
    "quantile": (_quantile, 0.5),
}


def loss_and_derivative(name, p, y, param=None):
    """Vectorized ``(L(y, p), dL/dp)`` of loss ``name``."""
    fn, default = LOSSES[name]
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return fn(p, y, default if param is None else param)


def softmax_loss_and_derivative(P, yk):
    """Multinomial cross-entropy of margins ``P`` (n, K) for class indices ``yk``.

    Returns the per-sample losses ``logsumexp(P) - P[yk]`` and ``softmax(P) - onehot``.
    """
    P = np.atleast_2d(P)
    yk = np.asarray(yk, dtype=np.int64)
    rows = np.arange(P.shape[0])
    loss = logsumexp(P, axis=1) - P[rows, yk]
    grad = softmax(P, axis=1)
    grad[rows, yk] -= 1.0
    return loss, grad


# ---------------------------------------------------------------------------- schedules


def schedule(name, eta0=0.01, power_t=0.25, alpha=1e-4, gamma=0.999, period=1000,
             eta_min=0.0, steps=100):
    """Return ``t -> lr`` for a schedule of DESIGN.md (``t`` counts updates from 1)."""
    if name in ("constant", "adaptive", "plateau"):  # within an epoch
        return lambda t: eta0
    if name == "invscaling":
        return lambda t: eta0 / t**power_t
    if name == "optimal":
        # scikit-learn's heuristic (Bottou): typical weight sqrt(1 / sqrt(alpha)),
        # t0 = 1 / (typw * alpha), eta_t = 1 / (alpha (t0 + t - 1)).
        typw = math.sqrt(1.0 / math.sqrt(alpha))
        t0 = 1.0 / (typw * alpha)
        return lambda t: 1.0 / (alpha * (t0 + t - 1))
    if name == "exponential":
        return lambda t: eta0 * gamma ** (t - 1)
    if name == "cosine":
        # Annealing over ``period`` updates, restarting at t = period + 1, 2 period + 1...
        return lambda t: eta_min + 0.5 * (eta0 - eta_min) * (
            1.0 + math.cos(math.pi * ((t - 1) % period) / period))
    if name == "warmup":
        return lambda t: eta0 * min(1.0, t / steps)
    raise ValueError(name)


# ---------------------------------------------------------------------------- optimizers
# Each reference optimizer updates ``theta`` in place given the gradient ``g`` (same
# shape), the step size ``lr`` and its step counter ``t``; it returns the
# preconditioner D (array like theta) that the L1 proximal step scales by.


class SGDRef:
    def __init__(self, momentum=0.0, dampening=0.0, nesterov=False):
        self.mu, self.damp, self.nesterov = momentum, dampening, nesterov

    def init(self, shape):
        self.buf = np.zeros(shape)

    def step(self, g, theta, lr, t):
        if self.mu > 0:
            if t == 1:
                self.buf = g.copy()
            else:
                self.buf = self.mu * self.buf + (1.0 - self.damp) * g
            d = g + self.mu * self.buf if self.nesterov else self.buf
        else:
            d = g
        theta -= lr * d
        # Gain of the step on a constant gradient: buf -> (1 - damp) g / (1 - mu).
        gain = 1.0
        if self.mu > 0:
            steady = (1.0 - self.damp) / (1.0 - self.mu)
            gain = 1.0 + self.mu * steady if self.nesterov else steady
        return np.full_like(theta, gain)


class AdagradRef:
    def __init__(self, eps=1e-10, initial_accumulator_value=0.0):
        self.eps, self.init_acc = eps, initial_accumulator_value

    def init(self, shape):
        self.S = np.full(shape, float(self.init_acc))

    def step(self, g, theta, lr, t):
        self.S = self.S + g**2
        D = 1.0 / (np.sqrt(self.S) + self.eps)
        theta -= lr * g * D
        return D


class AdadeltaRef:
    def __init__(self, rho=0.9, eps=1e-6):
        self.rho, self.eps = rho, eps

    def init(self, shape):
        self.v = np.zeros(shape)
        self.u = np.zeros(shape)

    def step(self, g, theta, lr, t):
        self.v = self.rho * self.v + (1.0 - self.rho) * g**2
        D = np.sqrt(self.u + self.eps) / np.sqrt(self.v + self.eps)  # u before the update
        delta = D * g
        self.u = self.rho * self.u + (1.0 - self.rho) * delta**2
        theta -= lr * delta
        return D


class RMSpropRef:
    def __init__(self, rho=0.99, eps=1e-8, centered=False, momentum=0.0):
        self.rho, self.eps, self.centered, self.mu = rho, eps, centered, momentum

    def init(self, shape):
        self.v = np.zeros(shape)
        self.m = np.zeros(shape)
        self.buf = np.zeros(shape)

    def step(self, g, theta, lr, t):
        self.v = self.rho * self.v + (1.0 - self.rho) * g**2
        vt = self.v
        if self.centered:
            self.m = self.rho * self.m + (1.0 - self.rho) * g
            vt = self.v - self.m**2
        D = 1.0 / (np.sqrt(vt) + self.eps)
        if self.mu > 0:
            self.buf = self.mu * self.buf + g * D
            theta -= lr * self.buf
            return D / (1.0 - self.mu)  # buf -> g D / (1 - mu) on a constant gradient
        theta -= lr * g * D
        return D


class AdamRef:
    decoupled = False

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8, amsgrad=False):
        self.b1, self.b2, self.eps, self.amsgrad = beta1, beta2, eps, amsgrad

    def init(self, shape):
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)
        self.vmax = np.zeros(shape)

    def step(self, g, theta, lr, t):
        self.m = self.b1 * self.m + (1.0 - self.b1) * g
        self.v = self.b2 * self.v + (1.0 - self.b2) * g**2
        v = self.v
        if self.amsgrad:
            self.vmax = np.maximum(self.vmax, self.v)
            v = self.vmax
        m_hat = self.m / (1.0 - self.b1**t)
        v_hat = v / (1.0 - self.b2**t)
        D = 1.0 / (np.sqrt(v_hat) + self.eps)
        theta -= lr * m_hat * D
        return D


class AdamWRef(AdamRef):
    decoupled = True


#: The named optimizers of DESIGN.md.
NAMED = {
    "sgd": lambda: SGDRef(),
    "momentum": lambda: SGDRef(momentum=0.9),
    "nesterov": lambda: SGDRef(momentum=0.9, nesterov=True),
    "adagrad": lambda: AdagradRef(),
    "adadelta": lambda: AdadeltaRef(),
    "rmsprop": lambda: RMSpropRef(),
    "adam": lambda: AdamRef(),
    "adamw": lambda: AdamWRef(),
}


# ---------------------------------------------------------------------------- training


def _batch_gradient(Xa, y, s, theta, mode, loss, loss_param, w_mean):
    """Gradient of the loss over one batch (no penalty): the weighted sum divided by
    the batch's rows times the data's mean weight, the batch's expected weight."""
    P = Xa @ theta.T  # (m, K)
    if mode == "multinomial":
        _, DL = softmax_loss_and_derivative(P, y)
    elif mode == "ovr":
        T = np.where(y[:, None] == np.arange(theta.shape[0])[None, :], 1.0, -1.0)
        _, DL = loss_and_derivative(loss, P, T, loss_param)
    else:
        _, DL = loss_and_derivative(loss, P[:, 0], y, loss_param)
        DL = DL[:, None]
    return (s[:, None] * DL).T @ Xa / (s.shape[0] * w_mean)


def train(X, y, optimizer, *, loss="squared_error", loss_param=None, mode="single",
          n_outputs=1, lr=lambda t: 0.01, l2=0.0, l1=0.0, fit_intercept=True,
          batch_size=32, n_epochs=10, sample_weight=None, average=0, theta0=None,
          epoch_lr=None):
    """Mini-batch training without shuffling, from DESIGN.md's rules.

    Parameters
    ----------
    X : ndarray (n, d)
    y : ndarray (n,)
        Real targets or +-1 (``mode="single"``), class indices otherwise.
    optimizer : a reference optimizer (``init``/``step``, ``decoupled`` attribute).
    mode : {"single", "ovr", "multinomial"}
    lr : callable ``t -> step size``.
    epoch_lr : callable ``epoch -> factor`` or None
        Multiplies ``lr`` in an epoch (models the "adaptive" schedule's divisions).
    average : int
        0: no averaging; k >= 1: return the mean of theta after updates k, k+1, ...
        (theta itself while fewer than k updates were made).

    Returns
    -------
    coef : ndarray (K, d), intercept : ndarray (K,), t : int (updates made)
    """
    n, d = X.shape
    Xa = np.hstack([X, np.ones((n, 1))]) if fit_intercept else X.astype(np.float64)
    K = n_outputs
    theta = np.zeros((K, Xa.shape[1])) if theta0 is None else np.array(theta0, float)
    is_coef = np.zeros(Xa.shape[1], dtype=bool)
    is_coef[:d] = True
    s_all = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    optimizer.init(theta.shape)
    decoupled = getattr(optimizer, "decoupled", False)
    history = []
    t = 0
    batch_size = min(batch_size, n)
    # Batches of batch_size rows; a remainder of fewer joins the last one.
    n_batches = max(1, n // batch_size)
    bounds = [k * batch_size for k in range(n_batches)] + [n]
    for epoch in range(1, n_epochs + 1):
        factor = 1.0 if epoch_lr is None else epoch_lr(epoch)
        for start, stop in zip(bounds[:-1], bounds[1:]):
            rows = slice(start, stop)
            s = s_all[rows]
            if s.sum() <= 0:
                continue  # an all-zero-weight batch is skipped and does not count
            t += 1
            step = lr(t) * factor
            g = _batch_gradient(Xa[rows], y[rows], s, theta, mode, loss, loss_param,
                                s_all.mean())
            if l2:
                if decoupled:
                    theta[:, is_coef] *= 1.0 - step * l2
                else:
                    g[:, is_coef] += l2 * theta[:, is_coef]
            D = optimizer.step(g, theta, step, t)
            if l1:
                w = theta[:, is_coef]
                thr = step * l1 * D[:, is_coef]
                theta[:, is_coef] = np.sign(w) * np.maximum(np.abs(w) - thr, 0.0)
            history.append(theta.copy())
    if average and len(history) >= average:
        theta = np.mean(history[average - 1:], axis=0)
    coef = theta[:, :d]
    intercept = theta[:, d] if fit_intercept else np.zeros(K)
    return coef, intercept, t

