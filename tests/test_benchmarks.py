"""The asv benchmark suite stays runnable: configuration, discovery, one smoke run.

``benchmarks/smoke.py`` executes every benchmark once on tiny data in a subprocess
(its own process, as asv would, so the benchmarks' Numba thread settings and data
caches do not leak into the other tests). Nothing here asserts on timings.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def _run(args, timeout):
    env = dict(os.environ)
    env.pop("SKGD_BENCH_SCALE", None)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_asv_conf_is_valid_json_pointing_at_benchmarks():
    conf = json.loads((ROOT / "asv.conf.json").read_text())
    assert conf["version"] == 1
    assert conf["project"] == "skgd"
    assert conf["repo"] == "."
    assert conf["benchmark_dir"] == "benchmarks"
    assert conf["environment_type"] in {"virtualenv", "existing", "conda", "mamba"}
    for key in ("results_dir", "html_dir", "env_dir"):
        assert conf[key].startswith(".asv/"), key
    assert (ROOT / conf["benchmark_dir"] / "__init__.py").exists()


@pytest.mark.parametrize("module", sorted(
    p.stem for p in BENCH.glob("bench_*.py")))
def test_benchmark_module_defines_benchmarks(module):
    """Each bench_* module imports and has at least one asv benchmark method."""
    sys.path.insert(0, str(ROOT))
    try:
        import importlib

        mod = importlib.import_module(f"benchmarks.{module}")
    finally:
        sys.path.remove(str(ROOT))
    prefixes = ("time_", "timeraw_", "peakmem_", "mem_", "track_")
    names = [attr for obj in vars(mod).values() if isinstance(obj, type)
             for attr in dir(obj) if attr.startswith(prefixes)]
    names += [name for name in vars(mod) if name.startswith(prefixes)]
    assert names, f"benchmarks.{module} defines no benchmark"


def test_helper_modules_define_no_benchmark_names():
    """asv collects time_*/track_* functions from every module of the package: the
    helpers must not define any by accident."""
    for helper in ("common", "report", "smoke"):
        text = (BENCH / f"{helper}.py").read_text()
        for prefix in ("def time_", "def timeraw_", "def peakmem_", "def mem_", "def track_"):
            assert f"\n{prefix}" not in text, (helper, prefix)


def test_smoke_subset_covers_every_value():
    """The smoke run's subset of a large parameter product still uses every value."""
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.smoke import _combinations
    finally:
        sys.path.remove(str(ROOT))
    params = [["sgd", "adam"], [32, 256, 4096], ["dense", "sparse"], ["float64", "float32"]]
    combos = _combinations(params, max_combos=8, everything=False)
    assert len(combos) == 8
    for k, values in enumerate(params):
        assert {c[k] for c in combos} == set(values)
    assert len(_combinations(params, 8, everything=True)) == 24
    assert _combinations([], 8, everything=False) == [()]


def test_smoke_run_executes_every_benchmark():
    """Every benchmark runs once at tiny scale (one of them compiles the kernels from an
    empty Numba cache in a subprocess: most of the run time)."""
    proc = _run([str(BENCH / "smoke.py")], timeout=1200)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "0 failed" in proc.stdout, out[-6000:]
    for module in sorted(p.stem for p in BENCH.glob("bench_*.py")):
        assert f"{module}:" in proc.stdout, module
    ran = int(proc.stdout.rsplit("smoke: ", 1)[1].split()[0])
    assert ran >= 50, proc.stdout[-3000:]


def test_smoke_run_fails_on_a_broken_benchmark(tmp_path):
    """smoke.py exits non-zero when a benchmark raises (so the test above can fail)."""
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.smoke import Runner
    finally:
        sys.path.remove(str(ROOT))

    class Args:
        max_combos, all = 8, False

    class Broken:
        params = [[1, 2]]

        def setup(self, p):
            self.p = p

        def time_ok(self, p):
            pass

        def track_bad(self, p):
            raise RuntimeError("boom")

        def track_not_a_number(self, p):
            return "text"

    class Skipped:
        def setup(self):
            raise NotImplementedError("optional dependency missing")

        def time_x(self):
            raise AssertionError("must not run after a skipping setup")

    runner = Runner(Args())
    runner.run_class("fake", Broken)
    runner.run_class("fake", Skipped)
    failed = sorted(name.split(".")[-1] for name, _ in runner.failures)
    assert failed == ["track_bad", "track_bad", "track_not_a_number", "track_not_a_number"]
    assert runner.n_run == 2 and runner.n_skipped == 1
