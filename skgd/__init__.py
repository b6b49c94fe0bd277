"""skgd: scikit-learn linear estimators trained by Numba mini-batch gradient descent.

Examples
--------
>>> from skgd import GDClassifier
>>> clf = GDClassifier(optimizer="adam", batch_size=64)
"""

from . import losses, optimizers, penalties, schedules
from ._classifier import GDClassifier
from ._regressor import GDRegressor
from .exceptions import DivergenceError

__version__ = "0.1.0"
__all__ = [
    "GDClassifier",
    "GDRegressor",
    "DivergenceError",
    "losses",
    "optimizers",
    "penalties",
    "schedules",
    "__version__",
]
