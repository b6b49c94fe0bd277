"""Shared test setup.

pytest runs with ``--import-mode=importlib``, so ``tests/`` is not on ``sys.path``:
the plain-numpy reference implementations in ``_reference.py`` are registered here,
before the test modules are collected, as the module ``_skgd_test_reference``.

Bundled datasets with standardized features, as fixtures (a module may define its own
under the same name). Tests must not modify them.
"""

import importlib.util
import sys
from pathlib import Path

import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.preprocessing import StandardScaler


def _register_reference():
    name = "_skgd_test_reference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("_reference.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


_register_reference()


def _standardized(load):
    X, y = load(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X.flags.writeable = False
    return X, y


@pytest.fixture(scope="session")
def digits():
    return _standardized(load_digits)


@pytest.fixture(scope="session")
def diabetes():
    return _standardized(load_diabetes)


@pytest.fixture(scope="session")
def cancer():
    return _standardized(load_breast_cancer)
