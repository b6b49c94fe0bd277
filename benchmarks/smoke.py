"""Smoke run of the asv benchmarks without asv: every benchmark executed once, tiny data.

For each benchmark module of this package (not ``common``, ``report`` or this file),
every benchmark class is instantiated for each parameter combination (an evenly spaced
subset of at most ``--max-combos`` when the product is larger, or the class's own
``smoke_params`` list of combinations if it has one, unless ``--all``), then
``setup_cache`` (once per class), ``setup``, every ``time_``/``peakmem_``/``mem_``/
``track_`` method once, and ``teardown``. A ``timeraw_`` method's code runs once in a
new Python process, as asv does. A ``NotImplementedError`` from ``setup`` skips the
combination, as in asv. Any other exception makes the run exit with status 1.

Usage::

    python benchmarks/smoke.py [--scale 0.001] [--all] [--only NAME]

The scale (``SKGD_BENCH_SCALE``) defaults to 0.001: 1,000 x 100 dense data, 600 x 1,000
sparse. One compilation of the kernels from an empty Numba cache (``bench_jit``, dense
float64 only unless ``--all``; the warm-cache benchmark reuses what it compiled)
dominates the run time.
"""

import argparse
import importlib
import inspect
import itertools
import math
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NOT_BENCHMARKS = {"common", "report", "smoke"}
METHOD_RE = re.compile(r"^(time|timeraw|peakmem|mem|track)_")

_TIMERAW_TEMPLATE = textwrap.dedent('''
    import sys
    from timeit import timeit, default_timer
    print(repr(timeit(stmt=sys.argv[1], setup=sys.argv[2], number=1, timer=default_timer)))
''')


def _normalized_params(obj):
    """``(params, names)`` as asv reads them: one list of values per parameter."""
    params = list(getattr(obj, "params", []) or [])
    if params and not isinstance(params[0], (list, tuple)):
        params = [params]
    names = list(getattr(obj, "param_names", []) or [])
    names += [f"param{k + 1}" for k in range(len(names), len(params))]
    return [list(p) for p in params], names[:len(params)]


def _combinations(params, max_combos, everything):
    combos = list(itertools.product(*params)) if params else [()]
    if everything or len(combos) <= max_combos:
        return combos
    # Evenly spaced over the product order: every value of the last (fastest-varying)
    # parameters and a spread of the first ones.
    picks = sorted({round(i * (len(combos) - 1) / (max_combos - 1)) for i in range(max_combos)})
    return [combos[i] for i in picks]


def run_timeraw(code):
    """Run a timeraw benchmark's code (``stmt`` or ``(stmt, setup)``) in a new process."""
    stmt, setup = code if isinstance(code, tuple) else (code, "")
    proc = subprocess.run(
        [sys.executable, "-c", _TIMERAW_TEMPLATE, textwrap.dedent(stmt),
         textwrap.dedent(setup)],
        capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"timeraw subprocess failed:\n{proc.stderr}")
    return float(proc.stdout.strip())


def _check_result(kind, value):
    if kind == "track":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError(f"track_ benchmark returned {value!r}, not a number")
    return value


class Runner:
    def __init__(self, args):
        self.args = args
        self.failures = []
        self.n_run = 0
        self.n_skipped = 0

    def report(self, name, status, seconds, detail=""):
        print(f"  {status:<5} {seconds:7.2f}s  {name}  {detail}".rstrip(), flush=True)

    def fail(self, name, exc_text):
        self.failures.append((name, exc_text))
        self.report(name, "FAIL", 0.0, exc_text.strip().splitlines()[-1])

    def run_method(self, label, inst, attr, args):
        kind = METHOD_RE.match(attr).group(1)
        tic = time.perf_counter()
        try:
            result = getattr(inst, attr)(*args)
            if kind == "timeraw":
                result = run_timeraw(result)
            _check_result(kind, result)
        except Exception:
            self.fail(f"{label}.{attr}", traceback.format_exc())
            return
        self.n_run += 1
        shown = "" if kind in ("time", "peakmem") or result is None else f"-> {result!r}"
        if isinstance(result, float) and not math.isfinite(result):
            shown += " (not finite)"
        self.report(f"{label}.{attr}", "ok", time.perf_counter() - tic, shown)

    def run_class(self, modname, cls):
        methods = sorted(n for n, v in inspect.getmembers(cls)
                         if METHOD_RE.match(n) and callable(v))
        if not methods:
            return
        params, names = _normalized_params(cls)
        label0 = f"{modname}.{cls.__name__}"
        cache = ()
        if hasattr(cls, "setup_cache"):
            tic = time.perf_counter()
            try:
                cache = (cls().setup_cache(),)
            except Exception:
                self.fail(f"{label0}.setup_cache", traceback.format_exc())
                return
            self.report(f"{label0}.setup_cache", "ok", time.perf_counter() - tic)
        combos = _combinations(params, self.args.max_combos, self.args.all)
        if not self.args.all and getattr(cls, "smoke_params", None) is not None:
            combos = [tuple(c) for c in cls.smoke_params]
        for combo in combos:
            label = label0 + (f"({', '.join(f'{n}={v!r}' for n, v in zip(names, combo))})"
                              if combo else "")
            args = cache + tuple(combo)
            inst = cls()
            tic = time.perf_counter()
            try:
                if hasattr(inst, "setup"):
                    inst.setup(*args)
            except NotImplementedError as exc:
                self.n_skipped += 1
                self.report(label, "skip", time.perf_counter() - tic, f"setup: {exc!r}")
                continue
            except Exception:
                self.fail(f"{label}.setup", traceback.format_exc())
                continue
            self.report(f"{label}.setup", "ok", time.perf_counter() - tic)
            for attr in methods:
                self.run_method(label, inst, attr, args)
            try:
                if hasattr(inst, "teardown"):
                    inst.teardown(*args)
            except Exception:
                self.fail(f"{label}.teardown", traceback.format_exc())

    def run_function(self, modname, name, fn):
        params, names = _normalized_params(fn)
        for combo in _combinations(params, self.args.max_combos, self.args.all):
            label = f"{modname}.{name}" + (f"{combo!r}" if combo else "")
            setup = getattr(fn, "setup", None)
            try:
                if setup is not None:
                    setup(*combo)
            except NotImplementedError as exc:
                self.n_skipped += 1
                self.report(label, "skip", 0.0, f"setup: {exc!r}")
                continue
            except Exception:
                self.fail(f"{label}.setup", traceback.format_exc())
                continue

            class _Holder:  # run_method works on attributes of an instance
                pass

            holder = _Holder()
            setattr(holder, name, lambda *a: fn(*a))
            self.run_method(f"{modname}", holder, name, combo)


def benchmark_modules(only=None):
    import benchmarks

    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__)
                   if m.name not in NOT_BENCHMARKS)
    if only:
        names = [n for n in names if any(o in n for o in only)]
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.001,
                        help="SKGD_BENCH_SCALE for the run (default 0.001)")
    parser.add_argument("--all", action="store_true",
                        help="every parameter combination, not a subset")
    parser.add_argument("--max-combos", type=int, default=8,
                        help="combinations per class when the product is larger")
    parser.add_argument("--only", action="append",
                        help="run only modules whose name contains this (repeatable)")
    args = parser.parse_args(argv)

    os.environ["SKGD_BENCH_SCALE"] = repr(args.scale)
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    start = time.perf_counter()
    runner = Runner(args)
    for modname in benchmark_modules(args.only):
        print(f"{modname}:", flush=True)
        tic = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{modname}")
        except Exception:
            runner.fail(f"import {modname}", traceback.format_exc())
            continue
        # As asv: public classes and functions found in the module's namespace.
        for name, obj in sorted(vars(module).items()):
            if name.startswith("_"):
                continue
            if inspect.isclass(obj) and not inspect.isabstract(obj):
                runner.run_class(modname, obj)
            elif inspect.isfunction(obj) and METHOD_RE.match(name):
                runner.run_function(modname, name, obj)
        print(f"  ({modname}: {time.perf_counter() - tic:.1f}s)", flush=True)
    total = time.perf_counter() - start
    print(f"\nsmoke: {runner.n_run} benchmarks ran, {runner.n_skipped} skipped, "
          f"{len(runner.failures)} failed in {total:.1f}s "
          f"(SKGD_BENCH_SCALE={args.scale})")
    for name, text in runner.failures:
        print(f"\n--- FAILED {name}\n{text}", file=sys.stderr)
    return 1 if runner.failures else 0


if __name__ == "__main__":
    sys.exit(main())
