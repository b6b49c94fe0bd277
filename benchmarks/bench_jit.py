"""Cold vs warm JIT: ``import skgd`` plus the first ``fit`` in a fresh process.

Each sample of a ``timeraw_`` benchmark is a new Python process that sets its own
``NUMBA_CACHE_DIR`` before Numba is imported:

- cold: an empty temporary directory, so every kernel the fit needs is compiled;
- warm: a temporary directory filled beforehand by one run of the same code, so the
  kernels load from Numba's on-disk cache (the state of an installed skgd after its
  first use).

The data are tiny (1,000 x 20): the time is compilation or cache loading plus imports.
``timeraw_import`` is the import alone, and ``time_fit_in_process`` a fit whose kernels
are already in memory, to tell the parts apart.
"""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

from . import common

DATA_KINDS = ["dense-float64", "dense-float32", "csr-float64"]

_DATA_CODE = {
    "dense-float64": "",
    "dense-float32": "X = X.astype(np.float32)",
    "csr-float64": "import scipy.sparse as sp\n"
                   "X = sp.csr_matrix(X * (rng.random(X.shape) < 0.25))",
}

_FIT_CODE = """
import skgd
skgd.GDClassifier(random_state=0).fit(X, y)
"""

# Cache directories filled during this process, by data kind: a warm benchmark reuses
# one (a copy) instead of compiling again. asv runs each benchmark in its own process,
# so this only saves time when several run in one process (smoke.py).
_FILLED = {}


def _cleanup():
    for path in _FILLED.values():
        shutil.rmtree(path, ignore_errors=True)


atexit.register(_cleanup)


def _data_code(kind):
    return textwrap.dedent("""
        import numpy as np
        rng = np.random.default_rng(0)
        X = rng.standard_normal((1000, 20))
        y = (X[:, 0] + 0.5 * rng.standard_normal(1000) > 0).astype(np.int64)
    """) + _DATA_CODE[kind] + "\n"


def _cache_dir_code(path_expr):
    # Set before anything imports Numba: Numba reads NUMBA_CACHE_DIR at import.
    return f"import os, tempfile\nos.environ['NUMBA_CACHE_DIR'] = {path_expr}\n"


def _has_cache_files(path):
    return any(name.endswith(".nbi") for _, _, files in os.walk(path) for name in files)


class JitCold:
    """Import and first fit with an empty Numba cache (every kernel compiled)."""

    params = [DATA_KINDS]
    param_names = ["data"]
    # smoke.py runs one kind only: a cold compilation takes many seconds per kind.
    smoke_params = [("dense-float64",)]
    timeout = 900
    repeat = (1, 3, 300.0)
    number = 1
    warmup_time = 0
    rounds = 1

    def setup(self, kind):
        self.root = tempfile.mkdtemp(prefix="skgd-jit-cold-")

    def teardown(self, kind):
        # Keep one filled directory for JitWarm in this process; drop the rest.
        for name in sorted(os.listdir(self.root)):
            path = os.path.join(self.root, name)
            if kind not in _FILLED and _has_cache_files(path):
                _FILLED[kind] = tempfile.mkdtemp(prefix="skgd-jit-filled-")
                shutil.copytree(path, _FILLED[kind], dirs_exist_ok=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def timeraw_import_and_first_fit(self, kind):
        setup = _cache_dir_code(f"tempfile.mkdtemp(dir={self.root!r})") + _data_code(kind)
        return _FIT_CODE, setup


class JitWarm:
    """Import and first fit with a filled Numba cache (kernels loaded from disk)."""

    params = [DATA_KINDS]
    param_names = ["data"]
    smoke_params = [("dense-float64",)]
    timeout = 900
    repeat = (1, 5, 120.0)
    number = 1
    warmup_time = 0
    rounds = 1

    def setup(self, kind):
        self.cache_dir = tempfile.mkdtemp(prefix="skgd-jit-warm-")
        if kind in _FILLED:
            shutil.copytree(_FILLED[kind], self.cache_dir, dirs_exist_ok=True)
        else:
            code = _cache_dir_code(repr(self.cache_dir)) + _data_code(kind) + _FIT_CODE
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
            _FILLED[kind] = tempfile.mkdtemp(prefix="skgd-jit-filled-")
            shutil.copytree(self.cache_dir, _FILLED[kind], dirs_exist_ok=True)

    def teardown(self, kind):
        shutil.rmtree(self.cache_dir, ignore_errors=True)

    def timeraw_import_and_first_fit(self, kind):
        setup = _cache_dir_code(repr(self.cache_dir)) + _data_code(kind)
        return _FIT_CODE, setup


class JitParts:
    """The import alone, and a fit whose kernels are already compiled (in memory)."""

    timeout = 300
    warmup_time = 0
    rounds = 1

    def setup(self):
        ns = {}
        exec(_data_code("dense-float64"), ns)
        self.X, self.y = ns["X"], ns["y"]
        self.est = common.gd_classifier()
        common.fit_quietly(self.est, self.X, self.y)

    def timeraw_import(self):
        return "import skgd"

    def time_fit_in_process(self):
        common.fit_quietly(self.est, self.X, self.y)
