"""Headline measurements side by side in one process, printed as a table (not asv).

Usage::

    python benchmarks/report.py [--scale 1.0] [--only epoch] [--only sparse] ...

Sections (``--only`` picks some; default all): ``epoch`` (1M x 100 dense float64 and
float32, one epoch of log_loss with batch 256 and shuffling: skgd with n_jobs=2 and 1,
SGDClassifier, one parallel streaming pass over X), ``sparse`` (200k x 100k CSR, ~50
non-zeros per row, sgd and adam vs SGDClassifier, and sgd with elasticnet and l1
penalties), ``small`` (10k x 20 default fits),
``partial`` (``partial_fit`` per call on 100/1,000/10,000-row chunks),
``multiclass`` (26 classes, multinomial vs one-vs-rest), ``convergence`` (time to
within 1% and 0.1% of the optimal L2-regularized log-loss), ``determinism`` (same seed
and n_jobs, and n_jobs 1 vs 2). ``--scale`` multiplies the data sizes.

For skgd's dense epochs the time is split into phases: the whole ``fit(max_iter=1)``;
the marginal cost of one more epoch inside a fit, ``(fit(3 epochs) - fit(1)) / 2``; the
epoch kernel alone (called as ``skgd._base`` calls it); the shuffled row order alone;
input validation alone. The kernel part relies on skgd's private helpers and says
"n/a" if they changed.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, set on some machines here for older OpenBLAS
builds, slow a current numpy; when either is set this script runs itself again without
both (for this command only) and prints which BLAS kernel then runs. Pass
``--keep-openblas-env`` to measure with them.
"""

import argparse
import math
import os
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SECTIONS = ["epoch", "sparse", "small", "partial", "multiclass", "convergence",
            "determinism"]
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_UNSET_MARK = "SKGD_REPORT_UNSET_OPENBLAS"


def _reexec_without_openblas_vars(args):
    """Run this script again without OPENBLAS_CORETYPE/L2_SIZE (before numpy loads)."""
    found = {v: os.environ[v] for v in OPENBLAS_VARS if v in os.environ}
    if not found or args.keep_openblas_env or os.environ.get(_UNSET_MARK):
        return
    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
    env[_UNSET_MARK] = " ".join(f"{k}={v}" for k, v in found.items())
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)


class Table:
    """Rows of (section, case, seconds, ratio, note), printed aligned at the end."""

    def __init__(self):
        self.rows = []

    def add(self, section, case, seconds=None, ratio=None, note=""):
        self.rows.append((section, case, seconds, ratio, note))
        print(f"  {case}: {_fmt_s(seconds)}"
              + (f"  {ratio}" if ratio else "") + (f"  {note}" if note else ""), flush=True)

    def render(self):
        w_case = max([len(r[1]) for r in self.rows] + [4])
        w_ratio = max([len(r[3] or "") for r in self.rows] + [5])
        lines = [f"{'section':<12} {'case':<{w_case}} {'seconds':>10}  {'ratio':<{w_ratio}}  note",
                 "-" * (12 + w_case + w_ratio + 30)]
        for section, case, seconds, ratio, note in self.rows:
            lines.append(f"{section:<12} {case:<{w_case}} {_fmt_s(seconds):>10}  "
                         f"{ratio or '':<{w_ratio}}  {note}".rstrip())
        return "\n".join(lines)


def _fmt_s(seconds):
    if seconds is None:
        return ""
    if isinstance(seconds, float) and math.isnan(seconds):
        return "n/a"
    if seconds < 0.01:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def _x(num, den):
    """``num / den`` as a string like ``12.3x``, or ``n/a``."""
    if not (den and math.isfinite(num) and math.isfinite(den)):
        return "n/a"
    return f"{num / den:.2f}x"


# ----------------------------------------------------------------------------- skgd phases
def kernel_epoch_runner(est, X, y):
    """``(run_kernel, run_order, validate)``: callables for the phases of one epoch.

    Builds the kernel arguments with the estimator's own private helpers, as
    ``BaseGD._fit``/``_train`` do, so that the kernel can be timed without the Python
    around it. Raises if those helpers changed (the caller then reports n/a).
    """
    import numpy as np
    from sklearn.base import clone
    from sklearn.utils import check_random_state

    from skgd._base import _TrainData
    from skgd._parallel import effective_threads, kernel_threads

    est = clone(est)
    Xv, yv = est._validate_X_y(X, y, reset=True)
    sw = est._sample_weight(None, Xv)
    target, n_out = est._encode_target(yv, reset=True, partial=False)
    est._components = est._resolve_components()
    optimizer, schedule, l2, l1 = est._components
    n = Xv.shape[0]
    data = _TrainData(Xv, target, sw, np.arange(n, dtype=np.int64))
    state = est._fresh_state(n_out, Xv.shape[1], optimizer, None, None, lambda: 0.0)
    state.eta = float(est.eta0)
    threads = effective_threads(est.n_jobs)
    batch_size = est._batch_size(n)
    spec, kernel, work = est._kernel_args(data, state, optimizer, schedule, l2, l1, est._mode,
                                          threads, batch_size)
    layout = est._shuffle_layout(data, batch_size)
    order = np.empty(n, dtype=np.int64)
    rng = check_random_state(0)
    xargs = data.kernel_X
    avg = state.avg if state.avg is not None else state.theta[:0]

    def run_order():
        est._epoch_order(data, rng, layout, order)

    def run_kernel():
        with kernel_threads(threads):
            kernel(*xargs, data.y, data.sw, order, batch_size, state.theta, state.opt_state,
                   avg, work, spec, state.t, state.opt_t)

    def validate():
        est._validate_X_y(X, y, reset=True)

    run_order()
    return run_kernel, run_order, validate


def skgd_epoch_phases(common, est, X, y, repeat):
    """Seconds: fit(1 epoch), marginal epoch, kernel, order, validation (NaN if n/a)."""
    from sklearn.base import clone

    common.warm_jit(est, X, y)
    common.quiet()
    one = common.one_epoch(clone(est))
    fit1 = common.best_seconds(lambda: common.fit_quietly(one, X, y), repeat=repeat, warmup=1)
    three = clone(one).set_params(max_iter=3)
    fit3 = common.best_seconds(lambda: common.fit_quietly(three, X, y), repeat=max(1, repeat - 1))
    phases = {"fit1": fit1, "marginal": (fit3 - fit1) / 2.0}
    try:
        run_kernel, run_order, validate = kernel_epoch_runner(est, X, y)
        phases["kernel"] = common.best_seconds(run_kernel, repeat=repeat, warmup=1)
        phases["order"] = common.best_seconds(run_order, repeat=repeat)
        phases["validate"] = common.best_seconds(validate, repeat=repeat)
    except Exception as exc:  # private helpers changed: report, do not fail
        phases["kernel"] = phases["order"] = phases["validate"] = math.nan
        phases["error"] = f"{type(exc).__name__}: {exc}"
    return phases


def sklearn_epoch(common, est, X, y, repeat):
    return common.best_seconds(lambda: common.fit_quietly(common.one_epoch(est), X, y),
                               repeat=repeat)


# ----------------------------------------------------------------------------- sections
# Batch sizes at which the epoch section also times the kernel in both dtypes.
LARGER_BATCHES = (1024, 4096)


def section_epoch(common, table, repeat):
    n, d = common.dense_shape()
    results = {}
    for dtype in ("float64", "float32"):
        X, y = common.dense_classification(n, d, dtype)
        print(f"[epoch] {n} x {d} {dtype}, log_loss, batch 256, shuffle", flush=True)
        common.quiet()
        t_stream2 = common.stream_seconds(X, 2, repeat=5)
        t_stream1 = common.stream_seconds(X, 1, repeat=5)
        table.add("epoch", f"{dtype} stream pass 2 threads", t_stream2)
        table.add("epoch", f"{dtype} stream pass 1 thread", t_stream1)
        common.quiet()
        t_sk = sklearn_epoch(common, common.sgd_classifier(), X, y, repeat)
        table.add("epoch", f"{dtype} SGDClassifier(log_loss) fit 1 epoch", t_sk,
                  note=f"{_x(t_sk, t_stream2)} stream")
        results[(dtype, "sk")] = t_sk
        for optimizer in ("sgd", "adam"):
            for n_jobs in (2, 1):
                est = common.gd_classifier(optimizer=optimizer, batch_size=256, n_jobs=n_jobs)
                common.quiet()
                ph = skgd_epoch_phases(common, est, X, y, repeat)
                results[(dtype, optimizer, n_jobs)] = ph["fit1"]
                results[(dtype, optimizer, n_jobs, "kernel")] = ph["kernel"]
                case = f"{dtype} skgd {optimizer} n_jobs={n_jobs}"
                # Against the stream pass with the same number of threads.
                t_stream = t_stream2 if n_jobs == 2 else t_stream1
                table.add("epoch", case + " fit 1 epoch", ph["fit1"],
                          f"{_x(t_sk, ph['fit1'])} vs SGDClassifier",
                          f"{_x(ph['fit1'], t_stream)} stream ({n_jobs} thr)")
                table.add("epoch", case + "   marginal epoch", ph["marginal"],
                          f"{_x(t_sk, ph['marginal'])} vs SGDClassifier",
                          f"{_x(ph['marginal'], t_stream)} stream")
                table.add("epoch", case + "   kernel only", ph["kernel"],
                          note=ph.get("error", f"{_x(ph['kernel'], t_stream)} stream; "
                                               f"order {_fmt_s(ph['order'])}, "
                                               f"validation {_fmt_s(ph['validate'])}"))
        # The per-batch work (a parallel region, the reduction and the update) costs the
        # same in both dtypes; larger batches show the ratio with less of it.
        for batch_size in LARGER_BATCHES:
            est = common.gd_classifier(optimizer="sgd", batch_size=batch_size, n_jobs=2)
            common.warm_jit(est, X, y)
            common.quiet()
            try:
                run_kernel = kernel_epoch_runner(est, X, y)[0]
                t_kernel = common.best_seconds(run_kernel, repeat=repeat, warmup=1)
            except Exception:  # private helpers changed: report, do not fail
                t_kernel = math.nan
            results[(dtype, "batch", batch_size)] = t_kernel
            table.add("epoch", f"{dtype} skgd sgd n_jobs=2 batch {batch_size} kernel only",
                      t_kernel, note=f"{_x(t_kernel, t_stream2)} stream")
        common.clear_data_cache()
    for optimizer in ("sgd", "adam"):
        for n_jobs in (2, 1):
            t64 = results.get(("float64", optimizer, n_jobs), math.nan)
            t32 = results.get(("float32", optimizer, n_jobs), math.nan)
            k64 = results.get(("float64", optimizer, n_jobs, "kernel"), math.nan)
            k32 = results.get(("float32", optimizer, n_jobs, "kernel"), math.nan)
            table.add("epoch", f"float32 speed-up skgd {optimizer} n_jobs={n_jobs}",
                      ratio=_x(t64, t32), note=f"float64 s / float32 s, fit (target >= 1.7x); "
                                               f"kernel only {_x(k64, k32)}")
    for batch_size in LARGER_BATCHES:
        table.add("epoch", f"float32 speed-up skgd sgd n_jobs=2 batch {batch_size}",
                  ratio=_x(results[("float64", "batch", batch_size)],
                           results[("float32", "batch", batch_size)]),
                  note="float64 s / float32 s, kernel only")
    table.add("epoch", "float32 speed-up SGDClassifier",
              ratio=_x(results[("float64", "sk")], results[("float32", "sk")]))


def section_sparse(common, table, repeat):
    n, d, nnz = common.sparse_shape()
    X, y = common.sparse_classification(n, d, nnz, "float64")
    print(f"[sparse] {n} x {d} CSR, {X.nnz / n:.1f} nnz/row, float64, batch 256", flush=True)
    common.quiet()
    t_stream = common.stream_seconds(X, 2, repeat=5)
    table.add("sparse", "stream pass 2 threads (data+indices)", t_stream)
    t_sk = sklearn_epoch(common, common.sgd_classifier(), X, y, repeat)
    table.add("sparse", "SGDClassifier(log_loss) fit 1 epoch", t_sk)
    for optimizer in ("sgd", "adam"):
        for n_jobs in (2, 1):
            est = common.one_epoch(common.gd_classifier(optimizer=optimizer, batch_size=256,
                                                        n_jobs=n_jobs))
            common.warm_jit(est, X, y)
            common.quiet()
            t = common.best_seconds(lambda: common.fit_quietly(est, X, y), repeat=repeat,
                                    warmup=1)
            note = ""
            try:
                run_kernel, _, _ = kernel_epoch_runner(est, X, y)
                note = f"kernel only {_fmt_s(common.best_seconds(run_kernel, repeat=repeat))}"
            except Exception as exc:
                note = f"kernel n/a ({type(exc).__name__})"
            table.add("sparse", f"skgd {optimizer} n_jobs={n_jobs} fit 1 epoch", t,
                      f"{_x(t_sk, t)} vs SGDClassifier", note)
    # With an L1 term (the lazy kernel), against scikit-learn with the same penalty.
    for penalty in ("elasticnet", "l1"):
        t_sk_pen = sklearn_epoch(common, common.sgd_classifier(penalty=penalty), X, y, repeat)
        table.add("sparse", f"SGDClassifier(log_loss, {penalty}) fit 1 epoch", t_sk_pen)
        est = common.one_epoch(common.gd_classifier(optimizer="sgd", penalty=penalty,
                                                    batch_size=256, n_jobs=1))
        common.warm_jit(est, X, y)
        common.quiet()
        t = common.best_seconds(lambda: common.fit_quietly(est, X, y), repeat=repeat,
                                warmup=1)
        table.add("sparse", f"skgd sgd {penalty} n_jobs=1 fit 1 epoch", t,
                  f"{_x(t_sk_pen, t)} vs SGDClassifier({penalty})")
    common.clear_data_cache()


def section_small(common, table, repeat):
    n, d = common.small_shape()
    print(f"[small] {n} x {d}, default parameters, full fit", flush=True)
    for kind, make in (("classifier", common.dense_classification),
                       ("regressor", common.dense_regression)):
        X, y, Xt, yt = common.train_test(make, n, d)
        if kind == "classifier":
            ests = [("skgd GDClassifier()", common.gd_classifier()),
                    ("SGDClassifier() [hinge]", common.sgd_classifier(loss="hinge")),
                    ("SGDClassifier(log_loss)", common.sgd_classifier())]
        else:
            ests = [("skgd GDRegressor()", common.gd_regressor()),
                    ("SGDRegressor()", common.sgd_regressor())]
        common.warm_jit(ests[0][1], X, y)
        times = {}
        for name, est in ests:
            t = common.best_seconds(lambda e=est: common.fit_quietly(e, X, y),
                                    repeat=max(5, repeat), warmup=1)
            times[name] = t
            fitted = common.fit_quietly(est, X, y)
            table.add("small", name, t,
                      note=f"n_iter_={fitted.n_iter_}, test score {fitted.score(Xt, yt):.4f}")
        for name, _ in ests[1:]:
            table.add("small", f"{kind}: {name} s / skgd s", ratio=_x(times[name],
                                                                      times[ests[0][0]]),
                      note="target >= 1x" if "hinge" in name else "")


def section_partial(common, table, repeat):
    """Per-call time of ``partial_fit`` over a stream of chunks (online learning)."""
    import numpy as np

    n, d = common.small_shape()
    n *= 10
    X, y = common.dense_classification(n, d)
    print(f"[partial] {n} x {d} in chunks, default parameters, partial_fit per call",
          flush=True)
    classes = np.unique(y)
    for chunk in (100, 1000, 10000):
        times = {}
        for name, make in (("skgd GDClassifier()", common.gd_classifier),
                           ("SGDClassifier(log_loss)", common.sgd_classifier)):
            def stream(make=make):
                est = make()
                est.partial_fit(X[:chunk], y[:chunk], classes=classes)
                for s in range(chunk, n, chunk):
                    est.partial_fit(X[s:s + chunk], y[s:s + chunk])

            calls = len(range(0, n, chunk))
            times[name] = common.best_seconds(stream, repeat=repeat, warmup=1) / calls
            table.add("partial", f"{name}, {chunk}-row chunks, per call", times[name])
        table.add("partial", f"{chunk}-row chunks: SGDClassifier s / skgd s",
                  ratio=_x(times["SGDClassifier(log_loss)"], times["skgd GDClassifier()"]))


def section_multiclass(common, table, repeat):
    n, d, k = common.multiclass_shape()
    X, y = common.multiclass_classification(n, d, k, "float64")
    print(f"[multiclass] {n} x {d}, {k} classes, float64, batch 256, one epoch", flush=True)
    times = {}
    for mc in ("multinomial", "ovr"):
        for n_jobs in (2, 1):
            est = common.one_epoch(common.gd_classifier(multi_class=mc, batch_size=256,
                                                        n_jobs=n_jobs))
            common.warm_jit(est, X, y, rows=2000)
            common.quiet()
            t = common.best_seconds(lambda: common.fit_quietly(est, X, y), repeat=repeat,
                                    warmup=1)
            times[(mc, n_jobs)] = t
            table.add("multiclass", f"skgd {mc} n_jobs={n_jobs} fit 1 epoch", t)
    t_sk = sklearn_epoch(common, common.sgd_classifier(n_jobs=-1), X, y, max(1, repeat - 1))
    table.add("multiclass", "SGDClassifier(log_loss, n_jobs=-1) OvR fit 1 epoch", t_sk)
    for n_jobs in (2, 1):
        table.add("multiclass", f"multinomial s / OvR s, n_jobs={n_jobs}",
                  ratio=_x(times[("multinomial", n_jobs)], times[("ovr", n_jobs)]))
        for mc in ("multinomial", "ovr"):
            table.add("multiclass", f"SGDClassifier s / skgd {mc} s, n_jobs={n_jobs}",
                      ratio=_x(t_sk, times[(mc, n_jobs)]))
    common.clear_data_cache()


def section_convergence(common, table, repeat):
    from benchmarks import bench_convergence as bc

    X, y = bc.problem()
    print(f"[convergence] {X.shape[0]} x {X.shape[1]} float64, alpha={bc.ALPHA}, "
          f"C=1/(n alpha)={1.0 / (X.shape[0] * bc.ALPHA):.4g}", flush=True)
    f_star, _, _, t_opt = bc.optimum(X, y)
    table.add("convergence", "optimum: lbfgs tol=1e-10", t_opt, note=f"f* = {f_star:.8f}")
    for solver in bc.SOLVERS:
        common.quiet()
        res = bc.measure_to_targets(solver, X, y, f_star)
        for r, (seconds, steps) in res.items():
            unit = "lbfgs max_iter" if "lbfgs" in solver else "epochs"
            table.add("convergence", f"{solver} to {r:.1%}", seconds,
                      note=f"{steps} {unit}" + ("" if math.isfinite(seconds) else
                                                " (not reached within budget)"))
    common.clear_data_cache()


def section_determinism(common, table, repeat):
    import numpy as np

    for fmt in ("dense", "sparse"):
        X, y, _, _ = common.classification_problem(fmt, "float64")
        for optimizer in ("sgd", "adam"):
            def params(n_jobs):
                est = common.one_epoch(common.gd_classifier(optimizer=optimizer,
                                                            batch_size=256, n_jobs=n_jobs))
                est = common.fit_quietly(est, X, y)
                return np.concatenate([np.ravel(est.coef_), np.ravel(est.intercept_)])

            a, b, c = params(2), params(2), params(1)
            table.add("determinism", f"{fmt} {optimizer}: n_jobs=2 twice",
                      note=f"identical={np.array_equal(a, b)}, "
                           f"max diff {np.max(np.abs(a - b)):.3g}")
            table.add("determinism", f"{fmt} {optimizer}: n_jobs=1 vs 2",
                      note=f"max diff {np.max(np.abs(a - c)):.3g} (target <= 1e-10)")
        common.clear_data_cache()


def _uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=None,
                        help="fraction of the full sizes (default: SKGD_BENCH_SCALE or 1)")
    parser.add_argument("--only", action="append", choices=SECTIONS,
                        help="run only this section (repeatable)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per measurement (best)")
    parser.add_argument("--keep-openblas-env", action="store_true",
                        help="do not drop OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE")
    args = parser.parse_args(argv)
    _reexec_without_openblas_vars(args)
    if args.scale is not None:
        os.environ["SKGD_BENCH_SCALE"] = repr(args.scale)
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)

    from benchmarks import common

    uptime_before = _uptime()
    print("command:", " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv))
    if os.environ.get(_UNSET_MARK):
        print(f"re-run without {os.environ[_UNSET_MARK]} (unset for this command only)")
    facts = common.environment_facts()
    for key, value in facts.items():
        print(f"  {key}: {value}")
    print("before:", uptime_before, flush=True)

    table = Table()
    tic = time.perf_counter()
    for name in args.only or SECTIONS:
        globals()[f"section_{name}"](common, table, args.repeat)
    elapsed = time.perf_counter() - tic

    print()
    print(table.render())
    print()
    print("command:", " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv))
    print("BLAS:", facts["BLAS"], "| numba threads:", facts["numba threads"],
          "| layer:", facts["numba threading layer"])
    print("before:", uptime_before)
    print("after: ", _uptime())
    print(f"report took {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
