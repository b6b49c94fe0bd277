"""Penalties ``R(w)`` of the objective (the intercept is never penalized).

``"l2"``: ``0.5 ||w||^2``; ``"l1"``: ``||w||_1``; ``"elasticnet"``:
``0.5 (1 - l1_ratio) ||w||^2 + l1_ratio ||w||_1`` (scikit-learn's SGD convention);
``None``: 0. The L2 share enters the gradient (or AdamW's decoupled decay); the L1
share is applied after each step as a proximal soft-threshold, so coefficients
become exactly zero.

Examples
--------
>>> import numpy as np
>>> from skgd.penalties import penalty_strengths, penalty_value
>>> penalty_strengths("elasticnet", alpha=0.1, l1_ratio=0.5)
(0.05, 0.05)
>>> float(penalty_value(np.array([[3.0, -4.0]]), "l2", 1.0, 0.15))
12.5
"""

import numpy as np

PENALTIES = ("l2", "l1", "elasticnet")


def penalty_strengths(penalty, alpha, l1_ratio):
    """Return ``(l2, l1)``: alpha times the L2 and L1 shares of the penalty."""
    if penalty is None:
        return 0.0, 0.0
    if penalty == "l2":
        return float(alpha), 0.0
    if penalty == "l1":
        return 0.0, float(alpha)
    if penalty == "elasticnet":
        return float(alpha * (1.0 - l1_ratio)), float(alpha * l1_ratio)
    raise ValueError(f"Unknown penalty {penalty!r}; use one of {PENALTIES} or None.")


def penalty_value(coef, penalty, alpha, l1_ratio):
    """``alpha * R(coef)``."""
    return strengths_value(coef, *penalty_strengths(penalty, alpha, l1_ratio))


def strengths_value(coef, l2, l1):
    """``0.5 * l2 * ||coef||^2 + l1 * ||coef||_1``."""
    value = 0.0
    if l2:
        value += 0.5 * l2 * float(np.dot(coef.ravel(), coef.ravel()))
    if l1:
        value += l1 * float(np.abs(coef).sum())
    return value
