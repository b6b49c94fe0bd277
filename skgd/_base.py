"""Shared estimator logic: parameters, data preparation, training state, epoch loop."""

import contextlib
import copy
import functools
import time
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import assert_all_finite, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _kernels as K
from ._parallel import effective_threads, kernel_threads, threading_layer
from .exceptions import DivergenceError
from .optimizers import OPTIMIZERS, Optimizer, get_optimizer
from .penalties import penalty_strengths, strengths_value
from .schedules import SCHEDULES, Schedule, get_schedule

# Parallel row chunks pay off from this many multiply-adds per batch (measured with
# benchmarks/crossover.py: below it the start of a parallel region costs more).
PAR_ROWS_MIN_WORK = 20_000
# With one parallel region per epoch (the omp layer; skgd._kernels._region) there is no
# region to open per batch, and two or more row chunks pay off from this many
# multiply-adds per batch (benchmarks/crossover.py, 2 threads: 0.79-0.83x the serial
# epoch at 64 rows x 20 features, 0.74x at 64 x 100; one chunk of 32 rows gains little).
REGION_ROWS_MIN_WORK = 1_280
# A fit leaves the one-region epoch for the per-batch kernel (the same result) after an
# epoch whose threads waited past their spins more than this share of its batches plus
# this many times. 1M x 100, batch 256 (3,906 batches), 2 threads: 2-5 such waits per
# epoch on a quiet machine, 13-25 with one other busy process (0.10 s an epoch against
# the per-batch kernel's 0.40 s), 159-395 with two (1.3 s against 0.17 s).
REGION_LONG_WAITS_SHARE = 0.01
REGION_LONG_WAITS_MIN = 16
# Parallel coordinate updates pay off from this many parameters.
PAR_UPDATE_MIN = 65_536
# Both thresholds are for the omp and tbb layers (a parallel region: ~2 us). Under
# Numba's workqueue layer (the fallback where no OpenMP/TBB runtime is found) a region
# costs ~140 us, so there they are this many times larger (200k x 100 rows under
# workqueue, 2 threads: parallel 1.37x slower than serial at batch 4096, 0.73x at
# 16384, i.e. at 410k and 1.6M multiply-adds per batch).
WORKQUEUE_REGION_FACTOR = 64
# Shuffling data larger than the cache: gathering single rows through a permutation
# made an epoch ~5x slower, whole shuffled blocks of rows made batches less random
# than a permutation (class-sorted data scored lower). Instead the rows are cut into
# blocks that are shuffled and grouped, and each batch takes a run of about
# SHUFFLE_RUN_BYTES (never more than 1/SHUFFLE_MIN_RUNS of the batch) from each block
# of a group, the next batch the following runs (skgd._kernels.fill_order): a batch
# mixes at least SHUFFLE_MIN_RUNS distant places and reads stay nearly sequential.
# A block holds SHUFFLE_SPREAD runs. Runs of wide rows are still up to
# SHUFFLE_MIN_RUN_ROWS rows (within the 1/SHUFFLE_MIN_RUNS bound): that keeps the
# order of sparse data, laid out by its dense size, as fast to read as short runs of
# its non-zeros. Runs shorter than SHUFFLE_SHORT_RUN_BYTES read slowly (1M x 100
# float32, batch 256: 4-row runs of 1.6 KB took 10-12% longer per epoch than 8-row
# runs, while float64's 4-row runs of 3.2 KB were as fast as longer ones): where the
# 1/SHUFFLE_MIN_RUNS bound would cut runs below it, they grow towards it while a
# batch still mixes SHUFFLE_FEWEST_RUNS places, the mixing of a batch of that many
# rows drawn one by one. Data that fits in cache is permuted row by row.
# Measured in docs/performance.rst and tests/test_shuffle.py.
SHUFFLE_RUN_BYTES = 4096
SHUFFLE_MIN_RUNS = 64
SHUFFLE_SHORT_RUN_BYTES = 3072
SHUFFLE_FEWEST_RUNS = 32
SHUFFLE_SPREAD = 16
SHUFFLE_MIN_RUN_ROWS = 4
SHUFFLE_ROWS_IN_CACHE_BYTES = 8 << 20
# Inputs with at least this many stored values are checked for NaN/inf in parallel.
FINITE_PAR_MIN = 1 << 20
# A fit whose last epoch's objective is this many times its first epoch's diverged,
# though every value stayed finite (no DivergenceError): it warns. Measured on
# load_digits, load_breast_cancer and load_diabetes, raw and standardized, with every
# optimizer and named schedule: diverging fits ended 3e10 to 2e218 times above their
# first epoch, all the others below 2x (the first epoch's objective includes the
# starting point's loss, so it is normally the largest).
OBJECTIVE_GROWTH_WARN = 1e3
# The same for a fit from a fresh start, whose first epoch includes the starting
# point's loss: ending above it is no convergence. 1,728 fits (digits, breast_cancer,
# wine, iris, diabetes raw and standardized, linnerud; 8 optimizers x 5 schedules x
# batch 32 / full; 2026-11-26): of those with the default eta0, the 158 ending over 2x
# their first epoch included linnerud at R^2 -6.5 (7.6x) and raw breast_cancer and
# wine at the majority class's accuracy (4.6x to 6,700x); the 22 between 1x and 2x
# mixed poor and good fits, and the others all ended below their first epoch.
FRESH_OBJECTIVE_GROWTH_WARN = 2.0
# The tol rule (tol, n_iter_no_change, a plateau's patience) judges rounds of whole
# epochs holding at least this many updates, on the best value of each round: an epoch
# of one or two updates (full batches, small data) is a single step, and the first
# steps of momentum and Adam overshoot, so counted by epochs a full-batch fit on
# standardized diabetes "converged" after 8-11 updates, 15% (adam) and 41% (momentum)
# above the Ridge optimum. Epochs of this many updates or more are rounds of their own.
MIN_CHECK_UPDATES = 10
# Sample weights (times class weights) whose largest value is outside this range are
# rescaled by a power of two (see BaseGD._bounded_weights).
WEIGHT_SCALE_MIN = 2.0 ** -64
WEIGHT_SCALE_MAX = 2.0 ** 64
# Powers of two the target scale is kept within (its square and inverse stay finite).
TARGET_SCALE_MAX_EXPONENT = 400

_CUSTOM_KERNELS = {}


def _real_array(value, name):
    """``value`` (array-like or scipy.sparse) as a float64 array, or a ValueError."""
    if sp.issparse(value):
        value = value.toarray()
    try:
        arr = np.asarray(value)
        if arr.dtype.kind == "c":
            raise TypeError("complex values")
        return arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of real numbers ({exc}).") from exc


@functools.lru_cache(maxsize=None)
def _param_names(cls):
    return tuple(cls._get_param_names())


def _snapshot(value):
    """A value to compare ``value`` with later: itself, and, for a component object
    (whose parameters ``set_params`` changes in place) or a dict, its contents."""
    if isinstance(value, dict):
        return dict, tuple((k, _snapshot(v)) for k, v in value.items())
    if hasattr(value, "get_params") and hasattr(value, "__dict__"):
        return value, tuple((k, _snapshot(v)) for k, v in vars(value).items())
    return value


def transactional(method):
    """Run a fitting method so that, if it raises, the estimator is left as it was.

    Fitting replaces attributes and never modifies fitted arrays in place (training
    works on a copy of the state), so restoring the attribute dict is enough.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        saved = dict(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    return wrapper


@contextlib.contextmanager
def _blas_single_thread(validation):
    """Keep BLAS to one thread while epochs run, if validation scoring calls it.

    A multi-threaded BLAS call leaves threads spinning that slowed the next Numba pass
    ~1.7x here (DESIGN.md), and scoring a validation set runs between epoch passes.
    Small validation sets are scored in single-threaded BLAS anyway.
    """
    if validation is None or validation[0].shape[0] * validation[0].shape[1] < 1_000_000:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def target_scale(y, sw):
    """The power of two nearest the spread of the targets ``y`` (weights ``sw``).

    The weighted standard deviation; for a batch whose targets are all equal (one row),
    their root mean square; None when both are 0 or no row has weight (no scale can be
    told). A power of two, so that dividing the targets by it and multiplying the
    coefficients back are exact.

    Examples
    --------
    >>> import numpy as np
    >>> target_scale(np.array([1000.0, 3000.0, 5000.0]), np.ones(3))
    2048.0
    """
    keep = sw > 0
    y, sw = y[keep], sw[keep]
    if y.size == 0:
        return None
    top = float(np.max(np.abs(y)))
    if not (0.0 < top < np.inf):
        return None
    u = y / top  # no overflow in the squares
    spread = np.sqrt(np.average((u - np.average(u, weights=sw)) ** 2, weights=sw))
    if not spread > 0.0:
        spread = np.sqrt(np.average(u * u, weights=sw))
    exponent = np.round(np.log2(spread) + np.log2(top))
    return float(2.0 ** np.clip(exponent, -TARGET_SCALE_MAX_EXPONENT,
                                TARGET_SCALE_MAX_EXPONENT))


class TrainState:
    """Everything training needs to continue: plain arrays and counters (picklable).

    ``theta`` is ``(K, n_features + 1)`` with the intercepts in the last column;
    ``opt_state`` is ``(n_slots, K, n_features + 1)``; ``avg`` the averaged parameters
    (or None); ``t`` counts updates (the schedule's step), ``opt_t`` the optimizer's own
    steps (they differ only after the optimizer was changed); ``eta`` is the adaptive
    schedule's current base rate; ``rng`` the shuffling stream of ``partial_fit``.
    ``y_scale`` is what the targets are divided by in training: ``theta``, ``avg`` and
    the optimizer's moments are in those units, the fitted coefficients are
    ``y_scale * params()`` (see :func:`target_scale`).
    """

    y_scale = 1.0
    scale_pending = False
    w_shift = None
    w_seen = 0.0
    n_seen = 0

    def __init__(self, theta, opt_state, opt_key, avg, t=0, opt_t=0, eta=None, rng=None,
                 y_scale=1.0, scale_pending=False):
        self.y_scale = y_scale
        # No data so far fixed the target scale (no weight, or all targets 0): the
        # first data that does sets it (see BaseGD._continued_state).
        self.scale_pending = scale_pending
        # The weights' power-of-two shift, their sum and the rows seen (see
        # BaseGD._bounded_weights and _partial_fit).
        self.w_shift = None
        self.w_seen = 0.0
        self.n_seen = 0
        self.eta0 = None  # the eta0 that ``eta`` descends from
        self.theta = theta
        self.opt_state = opt_state
        self.opt_key = opt_key
        self.avg = avg
        self.t = t
        self.opt_t = opt_t
        self.eta = eta
        self.rng = rng

    def copy(self, share_rng=False):
        """An independent copy of the arrays (``opt_key`` is a tuple, the rest scalars).

        ``share_rng=True`` keeps the same random stream object: copying a
        ``RandomState`` (2.5 KB of Mersenne Twister state) took 0.3 ms, 40% of a
        100-row ``partial_fit`` call, which instead saves and restores the stream's
        position itself. Field by field, because the generic deep copy cost as much.
        """
        new = copy.copy(self)
        new.theta = self.theta.copy()
        new.opt_state = self.opt_state.copy()
        new.avg = None if self.avg is None else self.avg.copy()
        if not share_rng and self.rng is not None:
            new.rng = copy.deepcopy(self.rng)
        return new

    def params(self):
        """The model parameters to expose: averaged once averaging has started."""
        return self.theta if self.avg is None else self.avg


def _optimizer_key(opt):
    """What must match for a fitted optimizer state to be continued by ``opt``."""
    return (type(opt).__module__ + "." + type(opt).__qualname__, opt.n_slots(),
            opt.state_layout())


def _readonly(a):
    """A read-only view of ``a``.

    Numba compiles a kernel once per argument type, and a read-only array (a memmap
    opened with mode "r", a frozen array) is a type of its own: the kernels are only ever
    given read-only views, so such input does not compile every kernel a second time
    (~40 s per dtype on this machine). They never write their input.
    """
    view = np.asarray(a).view()
    view.flags.writeable = False
    return view


class _TrainData:
    """What a kernel trains on: X (dense or CSR parts), float64 targets and weights.

    ``kernel_X`` holds read-only views of X's arrays, and ``y`` and ``sw`` are read-only
    views: see :func:`_readonly`.
    """

    def __init__(self, X, y, sw, rows):
        self.sparse = sp.issparse(X)
        self.X = X
        parts = (X.data, X.indices, X.indptr) if self.sparse else (X,)
        self.kernel_X = tuple(_readonly(a) for a in parts)
        self.y = _readonly(y)
        self.sw = _readonly(sw)
        self.rows = rows  # the rows visited by an epoch (all but the validation rows)
        # What a batch's gradient sum is divided by, per row (see skgd._kernels._epoch).
        # partial_fit: the mean of the call's rows.
        w_mean = float(np.mean(sw[rows])) if rows.shape[0] else 0.0
        self.w_mean = w_mean if w_mean > 0.0 else 1.0  # all zero: no batch is stepped
        self.row_work = max(1.0, X.nnz / max(X.shape[0], 1)) if self.sparse else X.shape[1]
        # The shuffle layout is chosen from the dense size (shape and dtype), whatever
        # the storage, so that dense and sparse fits with the same random_state visit
        # the rows in the same order and agree.
        self.row_bytes = X.dtype.itemsize * X.shape[1]
        self.n_bytes = self.row_bytes * X.shape[0]


class BaseGD(BaseEstimator):
    """Base class of the skgd estimators; see GDClassifier and GDRegressor."""

    #: Fewest validation rows whose score is defined, and the score's name.
    _min_validation_samples = 1
    _score_name = "accuracy"
    #: The loss of learning_rate "pa1" / "pa2" (as in scikit-learn).
    _pa_loss = "hinge"

    _parameter_constraints: dict = {
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "optimizer": [StrOptions(set(OPTIMIZERS)), Optimizer],
        "learning_rate": [StrOptions(set(SCHEDULES)), Schedule],
        "eta0": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, None, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, None, None, closed="neither"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "warm_start": ["boolean"],
        "average": [Interval(Integral, 0, None, closed="left"), "boolean"],
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        # joblib's convention: -1 all threads, -2 all but one, ...; 0 means nothing.
        "n_jobs": [Interval(Integral, None, -1, closed="right"),
                   Interval(Integral, 1, None, closed="left"), None],
        "callback": [callable, None],
    }

    # ----------------------------------------------------------------- parameters
    def set_params(self, **params):
        """Set parameters; ``optimizer__<name>`` also works when ``optimizer`` is a name.

        A named optimizer is first replaced by the object it stands for, so that
        ``{"optimizer": ["adam"], "optimizer__beta1": [0.8, 0.9]}`` grids work. A
        nested parameter the optimizer does not have raises a ValueError naming the
        optimizer's parameters, and changes nothing. A nested parameter of any other
        component given by name (``learning_rate__gamma`` with
        ``learning_rate="exponential"``) raises a ValueError asking for the component
        object, and changes nothing.
        """
        # A failed call changes nothing: scikit-learn sets the parameters one by one and
        # raises at the first unknown name, so the earlier ones would stay set.
        saved = [(obj, dict(vars(obj))) for obj in self._parameter_objects()]
        try:
            return self._set_params(params)
        except BaseException:
            for obj, attrs in saved:
                obj.__dict__.clear()
                obj.__dict__.update(attrs)
            raise

    def _parameter_objects(self):
        """This estimator and the objects among its (nested) parameter values."""
        values = self.get_params(deep=True).values()
        return [self] + [v for v in values if hasattr(v, "set_params") and hasattr(v, "__dict__")]

    def _set_params(self, params):
        current = self.get_params(deep=False)
        for key in params:
            name, nested_key, sub = key.partition("__")
            if not nested_key or name == "optimizer" or name not in current:
                continue  # the optimizer is handled below, unknown names by sklearn
            value = params.get(name, current[name])
            if not hasattr(value, "set_params"):
                raise ValueError(self._nested_on_plain_value_message(key, name, sub, value))
        nested = {k: v for k, v in params.items() if k.startswith("optimizer__")}
        if not nested:
            return super().set_params(**params)
        rest = {k: v for k, v in params.items() if k not in nested}
        # The nested names are checked before anything is set, so that a failed
        # call changes nothing (as for the other components above).
        given = rest.get("optimizer", self.optimizer)
        opt = given
        if isinstance(opt, str):
            if opt not in OPTIMIZERS:
                raise ValueError(f"Unknown optimizer {opt!r}; use one of {sorted(OPTIMIZERS)}.")
            opt = OPTIMIZERS[opt]()
        valid = opt.get_params()
        for key in nested:
            name = key[len("optimizer__"):].split("__")[0]
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r}: optimizer {given!r} "
                    f"({type(opt).__name__}) has the parameters {sorted(valid)}."
                )
        super().set_params(**rest)
        opt.set_params(**{k[len("optimizer__"):]: v for k, v in nested.items()})
        self.optimizer = opt
        return self

    def _revalidate_params(self):
        """Validate the parameters in a ``partial_fit`` that continues a model.

        scikit-learn's ``_fit_context`` skips the validation once the estimator is
        fitted (it costs ~130 us, a third of a small call), so parameters changed
        since, by ``set_params`` or as attributes, would train unchecked (a negative
        eta0 ascends the gradient). It runs here when a parameter changed.
        """
        snapshot = self._param_snapshot()
        try:
            unchanged = snapshot == getattr(self, "_validated_params", None)
        except Exception:  # a value whose == is not a bool (an array): validate
            unchanged = False
        if not unchanged:
            self._validate_params()
        self._validated_params = snapshot

    def _param_snapshot(self):
        """The parameters' values, with those of their component objects."""
        return tuple(_snapshot(getattr(self, name)) for name in _param_names(type(self)))

    @staticmethod
    def _nested_on_plain_value_message(key, name, sub, value):
        """Why ``name__sub`` cannot be set on ``value`` (a name, number or function,
        which has no parameters; scikit-learn would fail with an AttributeError)."""
        sub = sub.split("__")[0]
        if name == "learning_rate" and isinstance(value, str) and value in SCHEDULES:
            cls = SCHEDULES[value]
            names = sorted(cls().get_params())
            if sub in names:
                fix = (f"Pass the schedule object instead, e.g. "
                       f"learning_rate=skgd.schedules.{cls.__name__}({sub}=...).")
            else:
                fix = (f"Its schedule, skgd.schedules.{cls.__name__}, has "
                       + (f"the parameters {names}." if names else "no parameters."))
            return (f"Invalid parameter {key!r}: learning_rate={value!r} is a schedule "
                    f"name, and a name has no parameters to set. {fix}")
        return (f"Invalid parameter {key!r}: {name}={value!r} is not an object with "
                f"parameters; set {name!r} itself instead.")

    def _resolve_components(self):
        """Resolve the component parameters into objects, never modifying them."""
        self._loss_spec = self._get_loss_spec()
        optimizer = get_optimizer(self.optimizer)
        schedule = get_schedule(self.learning_rate)
        if schedule.pa_code:
            self._check_passive_aggressive(optimizer, schedule)
        l2, l1 = penalty_strengths(self.penalty, self.alpha, self.l1_ratio)
        return optimizer, schedule, l2, l1

    def _check_passive_aggressive(self, optimizer, schedule):
        name = self.learning_rate if isinstance(self.learning_rate, str) \
            else type(schedule).__name__
        if self.loss != self._pa_loss:
            raise ValueError(f"Learning rate {name!r} only works with loss "
                             f"{self._pa_loss!r}; got loss={self.loss!r}.")
        if optimizer._code != K.OPT_SGD or optimizer.momentum != 0:
            # Momentum carries each step into the next ones: PA steps, which each just
            # fix a row's loss, then overshoot (digits, batch 1: coefficients 1e111).
            raise ValueError(
                f"Learning rate {name!r} sets each row's step itself (passive-aggressive), "
                "which plain SGD takes as it is: use optimizer='sgd' (no momentum); got "
                f"optimizer={self.optimizer!r}.")

    def _target_degree(self):
        """The loss's ``target_degree`` when targets are trained scaled, else None."""
        return None

    def _batch_size(self, n_samples):
        return int(max(1, min(self.batch_size, n_samples)))

    def _avg_start(self):
        if self.average is True:
            return 1
        return int(self.average)

    # ----------------------------------------------------------------- data
    def _reject_categoricals(self, X):
        """pandas categoricals are labels, not quantities: refuse them even if numeric."""
        dtypes = getattr(X, "dtypes", None)
        if dtypes is not None and hasattr(dtypes, "items"):
            cols = [str(c) for c, dt in dtypes.items() if str(dt) == "category"]
            if cols:
                raise ValueError(
                    f"{type(self).__name__} needs numeric features, but the columns {cols} "
                    "are pandas categoricals. Encode them first, e.g. with OneHotEncoder in a "
                    "ColumnTransformer (or convert them with .astype(float) if their values "
                    "really are quantities).")

    def _validate_X_y(self, X, y, reset):
        self._reject_categoricals(X)
        try:
            X, y = validate_data(
                self,
                X,
                y,
                accept_sparse=["csr", "csc", "coo"],
                dtype=[np.float64, np.float32],
                order="C",
                reset=reset,
                y_numeric=not self._is_classifier(),
                ensure_all_finite=False,  # checked below, faster
            )
        except ValueError as exc:
            if "could not convert" not in str(exc):
                raise
            raise ValueError(self._non_numeric_message(X, y, exc)) from exc
        if sp.issparse(X):
            X = X.tocsr()
            self._assert_csr_structure(X)
            if not X.has_sorted_indices:
                X = X.sorted_indices()
            if X.shape[0] == 0 or X.shape[1] == 0:
                raise ValueError(f"Found array with shape {X.shape}; at least one sample "
                                 "and one feature are required.")
        self._assert_finite(X)
        return X, y

    @staticmethod
    def _assert_csr_structure(X):
        """Raise a ValueError if the CSR matrix X has out-of-range indices or row pointers.

        The kernels and scipy's products index by them unchecked: a malformed matrix
        (e.g. one assembled by hand from its arrays) would crash the process or train
        on the wrong columns (a negative index wraps around).
        """
        if not K.csr_structure_ok(_readonly(X.indices), _readonly(X.indptr), X.shape[1]):
            raise ValueError(
                f"X is a malformed CSR matrix of shape {X.shape}: its row pointers or column "
                "indices are out of range (scipy's X.check_format(full_check=True) says "
                "which). Build it with scipy's constructors, e.g. "
                "csr_matrix((data, indices, indptr), shape=shape).")

    def _assert_finite(self, X):
        """Raise scikit-learn's error if X (validated, float) holds NaN or +-inf.

        scikit-learn's own check sums X on one thread, which took longer than an epoch;
        the kernel reads X in parallel on the fit's threads (``n_jobs``).
        """
        values = X.data if sp.issparse(X) else X
        if values.flags.c_contiguous or values.flags.f_contiguous:
            values = _readonly(values.ravel(order="K"))  # a view; see _readonly
            threads = effective_threads(self.n_jobs) if values.size >= FINITE_PAR_MIN else 1
            with kernel_threads(threads):
                if K.all_finite(values, threads):
                    return
        # Not finite, or strided (a view the kernel would have to copy): scikit-learn
        # checks and words the error.
        assert_all_finite(X, input_name="X", estimator_name=type(self).__name__)

    def _non_numeric_message(self, X, y, exc):
        """Say which input is not numeric and what to do (validate_data only says
        that a string could not be converted to float)."""
        name = type(self).__name__
        dtypes = getattr(X, "dtypes", None)
        if dtypes is not None and hasattr(dtypes, "items"):
            cols = [str(c) for c, dt in dtypes.items() if getattr(dt, "kind", "O") in "OSU"]
            if cols:
                return (f"{name} needs numeric features, but the columns {cols} hold "
                        "categories or strings. Encode them first, e.g. with "
                        "OneHotEncoder in a ColumnTransformer.")
        if not self._is_classifier() and np.asarray(y).dtype.kind in "OSU":
            return (f"{name} needs numeric targets, but y holds strings ({exc}). "
                    "To predict class labels use GDClassifier.")
        return f"{name} needs numeric input ({exc}). Encode categories and strings first."

    @staticmethod
    def _bounded_weights(sw, shift=None):
        """``(sw * 2**shift, shift)`` for the weights ``sw`` (sample times class weights).

        ``shift`` None chooses it: 0, or, if the largest weight is outside [2^-64,
        2^64], the power of two that brings it to [0.5, 1); None again if every weight
        is zero. The objective does not change when all weights are scaled, and a power
        of two scales them exactly; but sums of weights near 1e308 overflow, and
        weights near 1e-320 have lost their precision, so such weights trained a dead
        model. A ``partial_fit`` stream keeps the shift of its first weighted call, so
        that the weights of all its calls keep their ratios.
        """
        if shift is None:
            top = float(sw.max()) if sw.size else 0.0
            if top > 0.0:
                shift = 0
                if not WEIGHT_SCALE_MIN <= top <= WEIGHT_SCALE_MAX and np.isfinite(top):
                    shift = -int(np.frexp(top)[1])
        if shift:
            sw = np.ldexp(sw, shift)
        if not np.isfinite(np.sum(sw)):
            raise ValueError(
                "The sum of the sample weights (times the class weights) overflows to "
                "infinity; scale the weights down (only their ratios matter).")
        return sw, shift

    def _sample_weight(self, sample_weight, X, allow_all_zero=False):
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True,
                                  allow_all_zero_weights=allow_all_zero)
        if sw is sample_weight:
            sw = sw.copy()
        return sw

    def _raw(self, X):
        """Margins ``X @ coef_.T + intercept_`` computed in X's dtype (no upcast copy)."""
        check_is_fitted(self)
        self._reject_categoricals(X)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                          reset=False, ensure_all_finite=False)
        if sp.issparse(X):
            self._assert_csr_structure(X)
        self._assert_finite(X)
        return self._raw_from(X, self._coef_2d(), np.asarray(self.intercept_))

    @staticmethod
    def _raw_from(X, coef2d, intercept):
        W = coef2d.astype(X.dtype, copy=False)
        raw = X @ W.T
        raw = raw.toarray() if sp.issparse(raw) else np.asarray(raw)  # sparse @ sparsified
        raw += intercept.astype(X.dtype, copy=False)
        return raw

    def sparsify(self):
        """Store ``coef_`` as a ``scipy.sparse`` CSR matrix, as scikit-learn's SGD does.

        With an L1 penalty most coefficients can be zero: a sparse ``coef_`` then takes
        less memory and ``predict`` does less work. Predictions are unchanged, and
        ``partial_fit`` or a ``warm_start`` fit still continue from it (they publish a
        dense ``coef_`` again). :meth:`densify` converts back.

        Returns
        -------
        self : object
            The fitted estimator, with a CSR ``coef_`` of shape ``(n_outputs,
            n_features)`` (``(1, n_features)`` for a regressor, as in scikit-learn).

        Examples
        --------
        >>> import numpy as np
        >>> from skgd import GDRegressor
        >>> X = np.random.default_rng(0).standard_normal((50, 20))
        >>> y = X[:, 0]
        >>> reg = GDRegressor(penalty="l1", alpha=0.05, random_state=0).fit(X, y)
        >>> reg.sparsify().coef_.nnz < 20
        True
        >>> reg.densify().coef_.shape
        (20,)
        """
        check_is_fitted(self)
        if not sp.issparse(self.coef_):
            self.coef_ = sp.csr_matrix(np.atleast_2d(self.coef_))
        return self

    def densify(self):
        """Store a :meth:`sparsify`-ed ``coef_`` as a NumPy array again, in its fitted shape.

        Returns
        -------
        self : object
            The fitted estimator, with a dense ``coef_``.
        """
        check_is_fitted(self)
        if sp.issparse(self.coef_):
            coef = self.coef_.toarray()
            self.coef_ = coef[0] if self._coef_is_1d() else coef
        return self

    # ----------------------------------------------------------------- state
    def _fresh_state(self, n_outputs, n_features, optimizer, coef_init, intercept_init,
                     baseline, y_scale=1.0):
        """A new state; ``baseline()`` is the starting intercept on the targets divided
        by ``y_scale``, ``coef_init`` and ``intercept_init`` are in the targets' units."""
        D1 = n_features + 1
        theta = np.zeros((n_outputs, D1))
        if coef_init is not None:
            theta[:, :n_features] = self._checked_coef_init(coef_init, n_outputs, n_features)
        if intercept_init is not None:
            # Without fit_intercept it is a fixed offset, never trained (as in
            # scikit-learn's SGD): the kernels add the intercept column to every margin
            # and step it only when fit_intercept is set.
            intercept_init = _real_array(intercept_init, "intercept_init").ravel()
            if intercept_init.size != n_outputs:
                raise ValueError(
                    f"intercept_init has {intercept_init.size} values; expected {n_outputs}."
                )
            theta[:, n_features] = intercept_init
        if not np.all(np.isfinite(theta)):
            raise ValueError("coef_init and intercept_init must be finite.")
        if y_scale != 1.0:
            theta[:, :n_features] /= y_scale  # exact: a power of two
            if intercept_init is not None:
                theta[:, n_features] /= y_scale
        if self.fit_intercept and intercept_init is None:
            theta[:, n_features] = baseline()
        avg = theta.copy() if self._avg_start() else None
        return TrainState(theta, optimizer.init_state(theta.shape), _optimizer_key(optimizer),
                          avg, y_scale=y_scale)

    @staticmethod
    def _checked_coef_init(coef_init, n_outputs, n_features):
        """``coef_init`` as an ``(n_outputs, n_features)`` array, or a ValueError.

        Only the shape itself is accepted (and, for one output, a vector of the
        features): a matrix of the right size but another shape, such as the
        transposed ``(n_features, n_classes)``, would otherwise be reshaped into
        scrambled coefficients.
        """
        coef_init = _real_array(coef_init, "coef_init")
        shape = coef_init.shape
        if shape == (n_outputs, n_features):
            return coef_init
        if n_outputs == 1 and coef_init.ndim <= 2 and coef_init.size == n_features \
                and n_features in shape:
            return coef_init.reshape(1, n_features)  # (n_features,) or a column
        raise ValueError(
            f"coef_init has shape {shape}; expected ({n_outputs}, {n_features})"
            + (f" or ({n_features},)" if n_outputs == 1 else "") + "."
        )

    def _continued_state(self, n_outputs, n_features, optimizer, share_rng=False, data=None):
        """A copy of the fitted state, adapted to the current parameters (and, if no
        target scale was set yet, to ``data``'s targets)."""
        state = self._state.copy(share_rng=share_rng)
        if state.theta.shape != (n_outputs, n_features + 1):
            raise ValueError(
                f"The fitted model has {state.theta.shape[0]} output(s) and "
                f"{state.theta.shape[1] - 1} features; the data needs {n_outputs} and "
                f"{n_features}. Fit without warm_start to start a new model."
            )
        self._adopt_edited_coefficients(state)
        if state.scale_pending and self._target_degree() is not None and data is not None:
            y_scale = target_scale(data.y[data.rows], data.sw[data.rows])
            if y_scale is not None:
                # The first targets with a spread: from now on in their units. The
                # moments were in the old ones.
                for target in (state.theta, state.avg):
                    if target is not None:
                        target /= y_scale
                state.y_scale, state.scale_pending, state.opt_key = y_scale, False, None
        if state.y_scale != 1.0 and self._target_degree() is None:
            # Scaling was switched off (or the loss has none): continue on the targets
            # as given, from the same coefficients. The moments were in scaled units.
            for target in (state.theta, state.avg):
                if target is not None:
                    target *= state.y_scale
            state.y_scale = 1.0
            state.opt_key = None
        if state.opt_key != _optimizer_key(optimizer):
            # A different optimizer, or one whose slots mean something else, starts
            # with fresh moments; the step counter goes on.
            state.opt_state = optimizer.init_state(state.theta.shape)
            state.opt_key = _optimizer_key(optimizer)
            state.opt_t = 0
        if self._avg_start() and state.avg is None:
            state.avg = state.theta.copy()
        elif not self._avg_start():
            state.avg = None
        # Without fit_intercept the fitted intercept stays, as a fixed offset (as in
        # scikit-learn's SGD with warm_start or partial_fit).
        return state

    def _adopt_edited_coefficients(self, state):
        """Continue from ``coef_``/``intercept_`` if they were changed since the fit.

        scikit-learn's SGD continues from ``coef_``, so users edit it (zero a
        feature, transplant a model) before ``partial_fit`` or a ``warm_start`` fit;
        training from the stored parameters instead would silently undo the edit,
        while ``predict`` used it. Unchanged attributes leave ``state`` exactly as it
        was; with averaging, the average restarts at the edited values.
        """
        params = state.params() * state.y_scale  # in the units of coef_ (exact)
        coef = self.coef_.toarray() if sp.issparse(self.coef_) else self.coef_  # sparsify
        coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
        intercept = np.asarray(self.intercept_, dtype=np.float64).reshape(-1)
        if coef.shape != params[:, :-1].shape or intercept.shape != params[:, -1].shape:
            raise ValueError(
                f"coef_ has shape {np.shape(self.coef_)} and intercept_ "
                f"{np.shape(self.intercept_)}, but the fitted model has "
                f"{params.shape[0]} output(s) of {params.shape[1] - 1} features. Give "
                "them their fitted shapes, or fit a new model with coef_init.")
        if np.array_equal(coef, params[:, :-1]) and np.array_equal(intercept, params[:, -1]):
            return
        if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
            raise ValueError("coef_ and intercept_ must be finite to continue training.")
        for target in (state.theta, state.avg):
            if target is not None:
                target[:, :-1] = coef / state.y_scale
                target[:, -1] = intercept / state.y_scale

    def _commit(self, state):
        """Publish a successfully trained state as the fitted attributes."""
        self._state = state
        self.coef_, self.intercept_ = self._published(state.params(), state.y_scale)
        self.t_ = state.t

    def _published(self, params, y_scale):
        """``(coef, intercept)`` of ``params`` trained on targets divided by ``y_scale``,
        in the targets' units, shaped as the fitted attributes (new arrays)."""
        coef = params[:, :-1] * y_scale
        return (coef[0] if self._coef_is_1d() else coef), params[:, -1] * y_scale

    def _coef_2d(self):
        return self.coef_ if sp.issparse(self.coef_) else np.atleast_2d(self.coef_)

    def _coef_is_1d(self):
        return False

    # ----------------------------------------------------------------- training
    def _kernel_args(self, data, state, optimizer, schedule, l2, l1, mode, threads,
                     batch_size):
        code, sched_params = schedule.kernel_args(self, state.eta)
        if schedule.pa_code:
            # The rate is 1 and eta0 is the C of the rows' steps; a penalty decays with
            # step eta0, as in scikit-learn.
            l2, l1 = l2 * self.eta0, l1 * self.eta0
        n_out, D1 = state.theta.shape
        scale = WORKQUEUE_REGION_FACTOR if threads > 1 and threading_layer() == "workqueue" \
            else 1
        par_update = threads > 1 and n_out * D1 >= scale * PAR_UPDATE_MIN
        # One region per epoch: its barrier needs the threads of a region to run at
        # once, as OpenMP's do; a user rule is bound into the per-batch kernels only.
        region = (threads > 1 and not data.sparse and not par_update
                  and optimizer._code != K.OPT_CUSTOM and threading_layer() == "omp"
                  and batch_size >= 2 * K._epoch.ROWS_PER_CHUNK
                  and batch_size * data.row_work >= REGION_ROWS_MIN_WORK)
        spec = K.KernelSpec(
            mode=mode,
            loss_code=self._loss_spec.code,
            loss_param=self._loss_spec.param,
            opt_code=optimizer._code,
            opt_params=np.ascontiguousarray(optimizer.hyperparameters(), dtype=np.float64),
            decoupled=bool(optimizer.decoupled_weight_decay),
            sched_code=code,
            sched_params=sched_params.astype(np.float64),
            l2=float(l2),
            l1=float(l1),
            fit_intercept=bool(self.fit_intercept),
            avg_start=self._avg_start(),
            par_rows=bool(region or (
                threads > 1 and not data.sparse
                and batch_size * data.row_work >= scale * PAR_ROWS_MIN_WORK)),
            par_update=bool(par_update),
            w_mean=data.w_mean,
            pa=int(schedule.pa_code),
            pa_c=float(self.eta0),
        )
        if data.sparse and optimizer._code == K.OPT_SGD and optimizer.momentum == 0 \
                and not spec.avg_start:
            # Plain SGD on sparse data: exact lazy updates of the touched coordinates,
            # in two sweeps and a compact weight array when there is no L1 term.
            if spec.l1 == 0.0:
                return spec, K.epoch_csr_scaled, K.make_scaled_work(n_out, D1, batch_size)
            return spec, K.epoch_csr_lazy, K.make_lazy_work(n_out, D1, batch_size)
        if optimizer._code == K.OPT_CUSTOM:
            if optimizer.update not in _CUSTOM_KERNELS:
                _CUSTOM_KERNELS[optimizer.update] = K.specialize(optimizer.update)
            dense, csr = _CUSTOM_KERNELS[optimizer.update]
        else:
            dense, csr = K.epoch_dense, K.epoch_csr
        if data.sparse:
            return spec, csr, K.make_work(1, n_out, D1)
        if region:
            # The same result as the per-batch kernel, without a fork and join per batch.
            n_avg = 0 if state.avg is None else state.avg.shape[0]
            return spec, K.epoch_dense_region, K.make_region_work(
                threads, n_out, D1, state.opt_state.shape[0], n_avg, data.kernel_X[0].dtype)
        return spec, dense, self._dense_work(data, state)

    @staticmethod
    def _dense_work(data, state):
        """Scratch arrays of the per-batch dense kernel for ``state``'s parameters."""
        return K.make_work(K._epoch.MAX_CHUNKS, *state.theta.shape, data.kernel_X[0].dtype)

    def _shuffle_layout(self, data, batch_size):
        """``(block, run, group)`` rows of the epoch order (see SHUFFLE_RUN_BYTES)."""
        if data.n_bytes <= SHUFFLE_ROWS_IN_CACHE_BYTES:
            return 1, 1, 1
        row_bytes = max(data.row_bytes, 1.0)
        run = max(SHUFFLE_MIN_RUN_ROWS, int(np.ceil(SHUFFLE_RUN_BYTES / row_bytes)))
        run = min(run, batch_size // SHUFFLE_MIN_RUNS)
        run = max(1, run, min(int(np.ceil(SHUFFLE_SHORT_RUN_BYTES / row_bytes)),
                              batch_size // SHUFFLE_FEWEST_RUNS))
        return run * SHUFFLE_SPREAD, run, max(1, batch_size // run)

    def _epoch_order(self, data, rng, layout, out):
        block, run, group = layout
        n = data.rows.shape[0]
        n_blocks = (n + block - 1) // block
        if self.shuffle and block == 1:
            K.shuffle_rows(rng.randint(np.iinfo(np.int64).max, dtype=np.int64), data.rows, out)
        elif self.shuffle:
            K.fill_order(rng.permutation(n_blocks).astype(np.int64), block, run, group,
                         data.rows, out)
        else:
            out[:] = data.rows
        return out

    def _train(self, data, state, *, n_epochs, rng, validation=None, fit_call=True,
               first_order=None):
        """Run up to ``n_epochs`` epochs on ``state`` (a private copy); return a report.

        ``first_order``, if given, is the first epoch's row order, already drawn.

        Raises DivergenceError when the objective or the parameters stop being
        finite; the caller's fitted state is untouched because ``state`` is a copy.
        A ``fit`` whose objective grew OBJECTIVE_GROWTH_WARN-fold warns instead.
        """
        optimizer, schedule, l2, l1 = self._components
        # Training on targets divided by y_scale (a power of two, so exactly), the
        # objective is the original one divided by y_scale**k: the penalty strengths
        # and a loss threshold in the targets' units are scaled to keep its minimizer.
        y_scale = state.y_scale
        degree = self._target_degree() if y_scale != 1.0 else None
        y, loss_param, objective_unit = data.y, self._loss_spec.param, 1.0
        if degree is not None:
            y = _readonly(data.y / y_scale)
            l2, l1 = l2 * y_scale ** (2 - degree), l1 * y_scale ** (1 - degree)
            if self._loss_spec.param_in_target_units:
                loss_param = loss_param / y_scale
            objective_unit = y_scale ** degree
        n_rows = data.rows.shape[0]
        batch_size = self._batch_size(n_rows)
        threads = effective_threads(self.n_jobs)
        threading_layer()  # the pool must run before cached parallel kernels (see _kernels)
        # The adaptive rate carries over between partial_fit calls, unless eta0 changed.
        if state.eta is None or not schedule.adaptive or state.eta0 != self.eta0:
            state.eta = float(self.eta0)
        state.eta0 = self.eta0
        spec, kernel, work = self._kernel_args(data, state, optimizer, schedule, l2, l1,
                                               self._mode, threads, batch_size)
        spec = spec._replace(loss_param=loss_param)
        layout = self._shuffle_layout(data, batch_size)
        order = first_order if first_order is not None else np.empty(n_rows, dtype=np.int64)
        avg = state.avg if state.avg is not None else state.theta[:0]

        curve, val_scores = [], []
        best_score, best_state, best_iter = -np.inf, None, 0
        no_improve = 0
        # The tol rule's rounds (see MIN_CHECK_UPDATES): the best objective (or
        # validation score) of the round so far, and the best of the rounds before it.
        updates_per_epoch = max(1, n_rows // batch_size)  # as the kernels' batch_ends
        round_epochs = -(-MIN_CHECK_UPDATES // updates_per_epoch)
        round_value = ref_score = -np.inf
        stopped = converged = False
        epoch = 0
        # Threads are set once per fit, and only if a kernel will open a parallel region.
        parallel = spec.par_rows or spec.par_update
        with kernel_threads(threads if parallel else 1), _blas_single_thread(validation):
            for epoch in range(1, n_epochs + 1):
                tic = time.perf_counter()
                if epoch > 1 or first_order is None:
                    self._epoch_order(data, rng, layout, order)
                lsum, wsum, state.t, state.opt_t = kernel(
                    *data.kernel_X, y, data.sw, order, batch_size, state.theta,
                    state.opt_state, avg, work, spec, state.t, state.opt_t)
                if kernel is K.epoch_dense_region and K.long_waits(work) > (
                        REGION_LONG_WAITS_SHARE * updates_per_epoch + REGION_LONG_WAITS_MIN):
                    # The cores are shared with other busy work: a thread waiting at the
                    # barrier keeps missing the one it waits for. The per-batch kernel
                    # (OpenMP's sleeping waits) gives the same result there, faster.
                    kernel, work = K.epoch_dense, self._dense_work(data, state)
                params = state.params()
                with np.errstate(over="ignore", invalid="ignore"):  # checked just below
                    # tol applies to the scaled objective; the original is reported.
                    scaled_objective = (lsum / wsum if wsum > 0 else 0.0) + strengths_value(
                        params[:, :-1], l2, l1)
                    objective = scaled_objective * objective_unit
                # The optimizer's state too: a squared gradient beyond ~1e154 overflows
                # an adaptive rule's second moment, whose steps are then zero forever
                # (a dead model with finite coefficients).
                if not (np.isfinite(objective) and np.all(np.isfinite(state.theta))
                        and np.all(np.isfinite(state.opt_state))):
                    raise DivergenceError(
                        f"Training diverged at epoch {epoch} (step {state.t}): the objective, "
                        "the coefficients or the optimizer's state are no longer finite. Try "
                        "a smaller eta0, scaling the features (e.g. StandardScaler; values "
                        "beyond ~1e150 overflow any gradient's square), or an adaptive "
                        "optimizer such as 'adam'. The estimator's previous state was kept."
                    )
                curve.append(objective)
                score = None
                if validation is not None:
                    score = self._validation_score(validation, params, y_scale)
                    val_scores.append(score)
                lr = K.learning_rate(spec.sched_code, spec.sched_params, max(state.t, 1))
                info = {"epoch": epoch, "objective": objective, "validation_score": score,
                        "learning_rate": lr, "t": state.t, "seconds": time.perf_counter() - tic}
                if self.verbose:
                    val = "" if score is None else f", validation score: {score:.6g}"
                    print(f"-- Epoch {epoch}, objective: {objective:.6g}{val}, "
                          f"learning rate: {lr:.4g}, updates: {state.t}, "
                          f"time: {info['seconds']:.3f} s", flush=True)

                # Improvement bookkeeping, on the validation score or the objective
                # (negated, so that larger is better for both).
                if validation is not None:
                    # On a tie the later model: validation accuracy saturates on small
                    # splits, and the first model to reach the best is the least trained.
                    if score >= best_score:
                        best_score, best_iter = score, epoch
                        best_state = state.copy()
                if (epoch - 1) % round_epochs == 0:
                    round_value = -np.inf
                round_value = max(round_value,
                                  score if validation is not None else -scaled_objective)
                round_done = epoch % round_epochs == 0
                if round_done:
                    improved = self.tol is None or round_value > ref_score + self.tol
                    ref_score = max(ref_score, round_value)
                    no_improve = 0 if improved else no_improve + 1
                if self.callback is not None:
                    # Copies, as published by a fit: a callback may keep them (a learning
                    # path) and cannot change the training by writing to them.
                    info["coef"], info["intercept"] = self._published(params, y_scale)
                    if self.callback(self, info):
                        stopped = True
                        break
                if self.tol is not None and round_done:
                    stop, eta, no_improve = schedule.after_epoch(
                        no_improve, self.n_iter_no_change, state.eta)
                    if stop:
                        converged = True
                        break
                    if eta != state.eta:  # only adaptive schedules change it
                        state.eta = eta
                        sched_params = schedule.kernel_args(self, eta)[1]
                        spec = spec._replace(sched_params=sched_params.astype(np.float64))
        if best_state is not None and best_state.t != state.t:
            # Restore the best model seen, with the optimizer state it had then.
            state = best_state
        growth_limit = (OBJECTIVE_GROWTH_WARN if first_order is None
                        else FRESH_OBJECTIVE_GROWTH_WARN)
        # The objective of the epoch whose model is returned (early stopping's best).
        final = curve[best_iter - 1] if best_state is not None else curve[-1]
        if fit_call and curve[0] > 0 and final > growth_limit * curve[0]:
            # The tol rule stops a growing objective as "not improving": say what
            # happened instead of letting it pass for convergence.
            warnings.warn(
                f"The objective grew from {curve[0]:.3g} (epoch 1) to {final:.3g} "
                f"(epoch {best_iter if best_state is not None else epoch}): training "
                "diverged or ended worse than it started, "
                "although the values stayed finite. "
                "Try a smaller eta0, scaling the features (e.g. StandardScaler), or an "
                "adaptive optimizer such as 'adam'.",
                ConvergenceWarning,
            )
        elif fit_call and not (converged or stopped) and self.tol is not None:
            warnings.warn(
                f"Maximum number of iterations ({n_epochs}) reached before convergence "
                f"(tol={self.tol}). Increase max_iter or tol, or scale the features.",
                ConvergenceWarning,
            )
        report = {"loss_curve": curve, "n_iter": epoch, "validation_scores": val_scores,
                  "best_score": best_score, "best_iter": best_iter}
        return state, report

    def _validation_score(self, validation, params, y_scale):
        Xv, yv, swv = validation
        raw = self._raw_from(Xv, params[:, :-1], params[:, -1])
        if y_scale != 1.0:
            raw *= y_scale
        return float(self._score_raw(raw, yv, swv))

    @transactional
    def _fit(self, X, y, *, coef_init=None, intercept_init=None, sample_weight=None,
             X_val=None, y_val=None, sample_weight_val=None):
        self._check_validation_arguments(X_val, y_val, sample_weight_val)
        # An explicit coef_init / intercept_init starts from it, even with warm_start.
        warm = (self.warm_start and hasattr(self, "_state") and coef_init is None
                and intercept_init is None)
        X, y = self._validate_X_y(X, y, reset=True)
        sw = self._sample_weight(sample_weight, X)
        target, n_out = self._encode_target(y, reset=not warm, partial=False)
        sw, w_shift = self._bounded_weights(self._apply_class_weight(sw, y, partial=False))
        if not np.any(sw > 0):
            raise ValueError("All sample weights are zero: there is nothing to fit.")
        self._components = self._resolve_components()
        self._loss_spec.check_target(target)
        rng = check_random_state(self.random_state)

        rows = np.arange(X.shape[0], dtype=np.int64)
        validation = None
        if self.early_stopping or X_val is not None:
            rows, validation = self._validation_split(X, y, sw, rows, rng, X_val, y_val,
                                                      sample_weight_val)
        data = _TrainData(X, target, sw, rows)
        optimizer = self._components[0]
        first_order = None
        if warm:
            state = self._continued_state(n_out, X.shape[1], optimizer, data=data)
            state.eta = None
        else:
            state, first_order = self._start_state(data, rng, n_out, coef_init,
                                                   intercept_init)
        state.rng = None
        # A fit's objective is its own data's: partial_fit goes on from its weights.
        state.w_shift = w_shift
        state.w_seen, state.n_seen = float(np.sum(data.sw[rows])), rows.shape[0]
        state, report = self._train(data, state, n_epochs=self.max_iter, rng=rng,
                                    validation=validation, first_order=first_order)
        self._commit(state)
        self.loss_curve_ = report["loss_curve"]
        self.n_iter_ = report["n_iter"]
        if validation is not None:
            self.validation_scores_ = report["validation_scores"]
            self.best_score_ = report["best_score"]
            self.best_iter_ = report["best_iter"]
        else:
            self._forget_validation()
        return self

    _VALIDATION_ATTRIBUTES = ("validation_scores_", "best_score_", "best_iter_")

    def _forget_validation(self):
        """Drop the validation attributes of an earlier fit.

        A fit without validation has none; keeping an earlier early-stopping fit's
        would describe another model (``best_iter_`` beyond ``n_iter_``, scores of
        epochs that were not run), and ``hasattr`` would claim early stopping ran.
        """
        for name in self._VALIDATION_ATTRIBUTES:
            self.__dict__.pop(name, None)

    def _start_state(self, data, rng, n_out, coef_init=None, intercept_init=None):
        """A fresh state and the first epoch's row order, drawn from ``rng`` here.

        Without intercept_init the intercept starts at the loss's baseline of the first
        batch of that order, so that fit and a chunked partial_fit start from the same
        point. The order is handed to ``_train`` (``first_order``): drawing it twice
        needed a copy of the random stream, which cost more than a small epoch.
        """
        order = np.empty(data.rows.shape[0], dtype=np.int64)
        batch_size = self._batch_size(data.rows.shape[0])
        self._epoch_order(data, rng, self._shuffle_layout(data, batch_size), order)
        first = order[:batch_size]
        y_first, sw_first = data.y[first], data.sw[first]
        y_scale = None
        if self._target_degree() is not None:
            # A partition of DataParallelGD takes the scale all partitions share.
            hint = self.__dict__.pop("_y_scale_hint", None)
            y_scale = hint if hint is not None else target_scale(y_first, sw_first)
            if y_scale is None:  # a first batch without weight, or all its targets 0
                y_scale = target_scale(data.y[data.rows], data.sw[data.rows])
        scale = 1.0 if y_scale is None else y_scale
        state = self._fresh_state(n_out, data.X.shape[1], self._components[0], coef_init,
                                  intercept_init,
                                  lambda: self._baseline(y_first / scale, sw_first),
                                  scale)
        state.scale_pending = y_scale is None and self._target_degree() is not None
        return state, order

    @transactional
    def _partial_fit(self, X, y, sample_weight, classes=None):
        first = not hasattr(self, "_state")
        if not first:
            self._revalidate_params()
        X, y = self._validate_X_y(X, y, reset=first)
        sw = self._sample_weight(sample_weight, X, allow_all_zero=True)
        target, n_out = self._encode_target(y, reset=first, partial=True, classes=classes)
        sw, w_shift = self._bounded_weights(
            self._apply_class_weight(sw, y, partial=not first),
            None if first else self._state.w_shift)
        self._components = self._resolve_components()
        self._loss_spec.check_target(target)
        data = _TrainData(X, target, sw, np.arange(X.shape[0], dtype=np.int64))
        optimizer = self._components[0]
        first_order = None
        if first:
            rng = check_random_state(self.random_state)
            state, first_order = self._start_state(data, rng, n_out)
            state.rng = rng
        else:
            state = self._continued_state(n_out, X.shape[1], optimizer, share_rng=True,
                                          data=data)
            if state.rng is None:  # continuing a model trained by fit
                state.rng = check_random_state(self.random_state)
        # A batch's gradient is divided by the mean weight of the whole stream so far (the
        # weighted objective over all the calls' rows), so that calls weighted
        # differently keep their ratio.
        state.w_shift = w_shift
        state.w_seen += float(np.sum(sw))
        state.n_seen += X.shape[0]
        if state.w_seen > 0.0:
            data.w_mean = state.w_seen / state.n_seen
        # The stream is shared with the fitted state: a failed call puts it back.
        position = state.rng.get_state()
        try:
            state, report = self._train(data, state, n_epochs=1, rng=state.rng,
                                        fit_call=False, first_order=first_order)
        except BaseException:
            state.rng.set_state(position)
            raise
        self._commit(state)
        self.loss_curve_ = list(getattr(self, "loss_curve_", [])) + report["loss_curve"]
        self.n_iter_ = getattr(self, "n_iter_", 0) + 1
        return self

    @staticmethod
    def _check_validation_arguments(X_val, y_val, sample_weight_val):
        """Refuse validation arguments that would otherwise be silently ignored."""
        if (X_val is None) != (y_val is None):
            given, missing = ("X_val", "y_val") if y_val is None else ("y_val", "X_val")
            raise ValueError(
                f"{given} was given without {missing}: pass both to score early stopping "
                "on that validation set, or neither to hold out validation_fraction of "
                "the training data.")
        if sample_weight_val is not None and X_val is None:
            raise ValueError(
                "sample_weight_val was given without X_val and y_val: pass it with the "
                "validation set it weights (held-out rows keep their sample_weight).")

    def _validation_split(self, X, y, sw, rows, rng, X_val, y_val, sample_weight_val):
        """``(training rows, (Xv, yv, swv))``: the given validation set, or a held-out
        ``validation_fraction`` of the rows; raise if it cannot be scored."""
        if X_val is not None:
            Xv, yv = self._validate_X_y(X_val, y_val, reset=False)
            # All-zero weights are refused below, with a message about the validation set.
            swv = _check_sample_weight(sample_weight_val, Xv, dtype=np.float64,
                                       ensure_non_negative=True, allow_all_zero_weights=True)
            self._check_validation_target(yv)
            # The training class weights apply to the validation rows too (see below).
            swv = self._bounded_weights(self._apply_class_weight(swv, yv, partial=True))[0]
            if yv.shape[0] < self._min_validation_samples:
                raise ValueError(
                    f"X_val has {yv.shape[0]} sample(s), but the validation "
                    f"{self._score_name} needs at least {self._min_validation_samples}. "
                    "Pass a larger validation set.")
            if not np.any(swv > 0):
                raise ValueError(
                    "Every validation row has zero weight (sample_weight_val times the "
                    f"class weights), so the validation {self._score_name} is undefined. "
                    "Give some validation rows a positive weight.")
            return rows, (Xv, yv, swv)
        from sklearn.model_selection import train_test_split

        stratify = y if self._is_classifier() else None
        try:
            train, val = train_test_split(rows, test_size=self.validation_fraction,
                                          random_state=rng, stratify=stratify)
        except ValueError as exc:
            # Too few held-out rows for every class, or too few left to train on.
            n_val = int(np.ceil(self.validation_fraction * X.shape[0]))
            n_needed = np.unique(y).shape[0] if stratify is not None else 1
            fix = "larger" if n_val < n_needed else "smaller"
            raise ValueError(
                f"early_stopping could not hold out validation_fraction="
                f"{self.validation_fraction} of {X.shape[0]} samples ({exc}). Use more "
                f"data, a {fix} validation_fraction, or pass X_val and y_val."
            ) from exc
        train.sort()
        val.sort()
        held_out = (f"early_stopping held out {val.shape[0]} of {X.shape[0]} samples "
                    f"(validation_fraction={self.validation_fraction})")
        if train.shape[0] < 1:
            raise ValueError("early_stopping left no samples to train on.")
        if val.shape[0] < self._min_validation_samples:
            need = self._min_validation_samples / X.shape[0]
            raise ValueError(
                f"{held_out}, but the validation {self._score_name} needs at least "
                f"{self._min_validation_samples}. Use validation_fraction >= {need:.3g}, "
                "or pass X_val and y_val.")
        # Weights are checked here, before training, so that nothing is spent on a fit
        # whose validation score (or objective) is undefined.
        if not np.any(sw[val] > 0):
            raise ValueError(
                f"{held_out}, and their sample weights are all zero, so the validation "
                f"{self._score_name} is undefined. Use a larger validation_fraction or "
                "another random_state, or pass X_val, y_val and sample_weight_val.")
        if not np.any(sw[train] > 0):
            raise ValueError(
                f"{held_out}; the samples left for training all have zero sample weight. "
                "Use a smaller validation_fraction or another random_state, or pass "
                "X_val and y_val.")
        # Held-out rows are scored with the weights they would have had in training
        # (sample weight times class weight), so early stopping tracks the same
        # weighted problem as the objective.
        return train, (X[val], y[val], sw[val])

    def _check_validation_target(self, yv):
        pass

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
