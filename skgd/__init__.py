"""skgd: scikit-learn linear estimators trained by Numba mini-batch gradient descent.

The public names load on first use (PEP 562), so ``import skgd`` does not pay for
importing scikit-learn and Numba until an estimator or component is needed.

Examples
--------
>>> from skgd import GDClassifier
>>> clf = GDClassifier(optimizer="adam", batch_size=64)
"""

import importlib

__version__ = "0.1.0"

# public name -> module that defines it ("" when the name is the module itself)
_PUBLIC = {
    "GDClassifier": "._classifier",
    "GDRegressor": "._regressor",
    "DivergenceError": ".exceptions",
    "losses": "",
    "optimizers": "",
    "penalties": "",
    "schedules": "",
}
__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'skgd' has no attribute {name!r}")
    module = importlib.import_module(_PUBLIC[name] or "." + name, __name__)
    value = module if not _PUBLIC[name] else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
