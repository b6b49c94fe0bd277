"""Shared test setup.

pytest runs with ``--import-mode=importlib``, so ``tests/`` is not on ``sys.path``:
the plain-numpy reference implementations in ``_reference.py`` are registered here,
before the test modules are collected, as the module ``_skgd_test_reference``.
"""

import importlib.util
import sys
from pathlib import Path


def _register_reference():
    name = "_skgd_test_reference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("_reference.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


_register_reference()
