"""Exceptions raised by skgd."""


class DivergenceError(ValueError, FloatingPointError):
    """Training produced a non-finite objective or non-finite coefficients.

    A subclass of ValueError (scikit-learn's error type for bad fits) and of
    FloatingPointError. The estimator keeps the state it had before the call.
    """
