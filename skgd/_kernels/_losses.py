"""Loss values and derivatives with respect to the margin, by integer code."""

import math

from numba import njit

from ._codes import (
    LOSS_EPSILON_INSENSITIVE,
    LOSS_HINGE,
    LOSS_HUBER,
    LOSS_LOG,
    LOSS_MODIFIED_HUBER,
    LOSS_POISSON,
    LOSS_QUANTILE,
    LOSS_SQUARED,
    LOSS_SQUARED_EPSILON_INSENSITIVE,
    LOSS_SQUARED_HINGE,
)


@njit(cache=True, inline="always")
def loss_and_derivative(code, param, p, y):
    """Return ``(L(y, p), dL/dp)`` for one margin ``p``.

    Classification targets are ``+1``/``-1``; regression targets are real.
    Sub-gradients at kinks follow scikit-learn's SGD choices (e.g. the hinge
    derivative is ``-y`` at ``y p == threshold``, so a perceptron starting
    from zero weights does move).
    """
    if code == LOSS_LOG:
        z = y * p
        # Past |z| = 18 the limits replace exp/log1p (relative error below 2e-8).
        if z > 18.0:
            e = math.exp(-z)
            return e, -y * e
        if z < -18.0:
            return -z, -y
        e = math.exp(-z)
        return math.log1p(e), -y * e / (1.0 + e)
    if code == LOSS_HINGE:
        z = y * p
        if z <= param:
            return param - z, -y
        return 0.0, 0.0
    if code == LOSS_SQUARED_HINGE:
        z = param - y * p
        if z > 0.0:
            return z * z, -2.0 * y * z
        return 0.0, 0.0
    if code == LOSS_MODIFIED_HUBER:
        z = y * p
        if z >= 1.0:
            return 0.0, 0.0
        if z >= -1.0:
            return (1.0 - z) * (1.0 - z), -2.0 * y * (1.0 - z)
        return -4.0 * z, -4.0 * y
    r = p - y
    if code == LOSS_SQUARED:
        return 0.5 * r * r, r
    if code == LOSS_HUBER:
        a = abs(r)
        if a <= param:
            return 0.5 * r * r, r
        return param * (a - 0.5 * param), param if r > 0.0 else -param
    if code == LOSS_EPSILON_INSENSITIVE:
        a = abs(r) - param
        if a > 0.0:
            return a, 1.0 if r > 0.0 else -1.0
        return 0.0, 0.0
    if code == LOSS_SQUARED_EPSILON_INSENSITIVE:
        a = abs(r) - param
        if a > 0.0:
            return a * a, 2.0 * a if r > 0.0 else -2.0 * a
        return 0.0, 0.0
    if code == LOSS_POISSON:
        # Half Poisson deviance with a log link: exp(p) - y p + (y log y - y).
        mu = math.exp(p)
        c = y * math.log(y) - y if y > 0.0 else 0.0
        return mu - y * p + c, mu - y
    if code == LOSS_QUANTILE:
        # Pinball loss of the residual y - p at quantile ``param``.
        if r < 0.0:
            return -param * r, -param
        if r > 0.0:
            return (1.0 - param) * r, 1.0 - param
        return 0.0, 0.0
    return math.nan, math.nan


@njit(cache=True, inline="always")
def has_flat_region(code):
    """Whether the loss's derivative is exactly zero on a whole region of margins."""
    return (code == LOSS_HINGE or code == LOSS_SQUARED_HINGE or code == LOSS_MODIFIED_HUBER
            or code == LOSS_EPSILON_INSENSITIVE or code == LOSS_SQUARED_EPSILON_INSENSITIVE)


@njit(cache=True, inline="always")
def softmax_loss_and_derivative(p, yk, out):
    """Multinomial cross-entropy of margins ``p`` (K,) for class index ``yk``.

    Writes ``dL/dp_k = softmax(p)_k - [k == yk]`` into ``out`` and returns the
    loss ``logsumexp(p) - p[yk]``, computed with the max-shift for stability.
    """
    K = p.shape[0]
    m = p[0]
    for k in range(1, K):
        if p[k] > m:
            m = p[k]
    s = 0.0
    for k in range(K):
        e = math.exp(p[k] - m)
        out[k] = e
        s += e
    lse = m + math.log(s)
    for k in range(K):
        out[k] /= s
    out[yk] -= 1.0
    return lse - p[yk]
