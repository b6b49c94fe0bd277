"""Training skgd estimators on Dask collections that do not fit one machine.

Two ways, both built on Dask's own scheduling (``dask.delayed`` / ``dask.compute``
with whatever scheduler is active, a ``distributed.Client`` included):

- Sequential over blocks, for tuning and streaming: ``partial_fit`` makes the skgd
  estimators work with ``dask_ml.wrappers.Incremental`` and with
  ``dask_ml.model_selection.IncrementalSearchCV`` / ``HyperbandSearchCV``. One model
  visits the blocks one after the other; the estimator (a few kilobytes: parameters,
  optimizer moments, step counter, shuffling stream) travels between workers.
- Data-parallel, with :class:`DataParallelGD`: every partition trains at the same
  time, and the models are averaged after each round (local SGD, also called model
  averaging).

``dask`` itself is imported only when it is used, so ``import skgd.dask`` works
without it. See the user guide's "Scaling out" page for the measured figures and the
versions of dask / dask-ml known to work.
"""

import copy
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._base import target_scale

__all__ = ["DataParallelGD"]


def _import_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "skgd.dask needs dask: install it with `pip install skgd[dask]`."
        ) from exc
    return dask, da


def _dask_dataframe():
    try:
        import dask.dataframe as dd
    except ImportError:
        return None
    return dd


def _is_dask_collection(obj):
    return hasattr(obj, "__dask_graph__") and obj.__dask_graph__() is not None


# ----------------------------------------------------------------------- alignment
def _align(X, y, sample_weight):
    """Return ``X, y, sample_weight`` as aligned dask collections (same row blocks)."""
    dask, da = _import_dask()
    dd = _dask_dataframe()
    if isinstance(X, da.Array):
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D; got a dask array of shape {X.shape}.")
        # One block per row chunk: each partition trains on whole rows.
        X = X.rechunk({1: -1})
        return X, _align_1d(y, X, "y"), _align_1d(sample_weight, X, "sample_weight")
    if dd is not None and isinstance(X, dd.DataFrame):
        out = [X]
        for name, v in (("y", y), ("sample_weight", sample_weight)):
            if v is None and name == "sample_weight":
                out.append(None)
                continue
            if not isinstance(v, dd.Series):
                raise TypeError(f"With a dask DataFrame X, {name} must be a dask Series "
                                f"with the same partitions; got {type(v).__name__}.")
            if v.npartitions != X.npartitions:
                raise ValueError(f"X has {X.npartitions} partitions but {name} has "
                                 f"{v.npartitions}; repartition them alike.")
            out.append(v)
        return tuple(out)
    raise TypeError(
        "DataParallelGD trains on a dask array or a dask DataFrame; got "
        f"{type(X).__name__}. For data in memory, use the estimator's own fit."
    )


def _align_1d(v, X, name):
    dask, da = _import_dask()
    if v is None:
        return None
    rows = X.chunks[0]
    if isinstance(v, da.Array):
        if v.ndim != 1:
            raise ValueError(f"{name} must be 1-D; got shape {v.shape}.")
        if v.numblocks[0] == X.numblocks[0] and (
                any(np.isnan(c) for c in rows) or v.chunks[0] == rows):
            return v  # same blocks (lengths checked per block when unknown)
        if any(np.isnan(c) for c in rows + v.chunks[0]):
            raise ValueError(f"X and {name} have different or unknown block sizes; "
                             "compute the chunk sizes (compute_chunk_sizes()) first.")
        return v.rechunk((rows,))
    if _is_dask_collection(v):
        raise TypeError(f"With a dask array X, {name} must be a dask or NumPy array; "
                        f"got {type(v).__name__}.")
    v = np.asarray(v)
    if any(np.isnan(c) for c in rows):
        raise ValueError(f"X has unknown block sizes; {name} cannot be split to match.")
    if v.shape != (X.shape[0],):
        raise ValueError(f"{name} has shape {v.shape}; expected ({X.shape[0]},).")
    return da.from_array(v, chunks=(rows,))


def _blocks(collection, optimize=True):
    """The delayed blocks of an aligned collection, in row order."""
    if collection is None:
        return None
    blocks = collection.to_delayed(optimize_graph=optimize)
    return list(np.ravel(np.asarray(blocks, dtype=object)))


# ----------------------------------------------------------------------- tasks
def _label_counts(yb):
    labels, counts = np.unique(np.asarray(yb), return_counts=True)
    return labels, counts


def _n_rows(block):
    return int(np.shape(block)[0])


def _first_rows_scale(model, yb, swb):
    """The target scale (skgd._base.target_scale) of a partition's first batch of rows,
    which every partition of the first round then trains with: models trained on
    targets divided by different scales could not be averaged. None if the model does
    not scale its targets or the batch tells none (no weighted rows, all targets 0)."""
    n = _n_rows(yb)
    probe = clone(model)
    probe._components = probe._resolve_components()  # what _target_degree reads
    if n == 0 or probe._target_degree() is None:
        return None
    rows = min(n, model.batch_size)
    y = np.asarray(yb, dtype=np.float64)[:rows]
    sw = np.ones(rows) if swb is None else np.asarray(swb, dtype=np.float64)[:rows]
    return target_scale(y, sw)


def _local_round(model, fitted, Xb, yb, swb, classes, epochs, seed, y_scale=None):
    """Train a private copy of ``model`` for ``epochs`` epochs on one partition.

    ``y_scale``: the target scale a model starting in this round takes.
    Returns ``(model, weight, objective)``, or None for an empty partition.
    """
    n = _n_rows(yb)
    if n == 0:
        return None
    if _n_rows(Xb) != n or (swb is not None and _n_rows(swb) != n):
        raise ValueError(f"A partition of X has {_n_rows(Xb)} rows but y (or "
                         "sample_weight) has a different number; align the partitions.")
    # The scheduler may hand the same deserialized model to several tasks of one worker.
    local = copy.deepcopy(model)
    if fitted:
        local._state.rng = np.random.RandomState(seed)
    else:
        local.set_params(random_state=seed)
        if y_scale is not None:
            local._y_scale_hint = y_scale
    kwargs = {} if classes is None else {"classes": classes}
    for _ in range(epochs):
        local.partial_fit(Xb, yb, sample_weight=swb, **kwargs)
    local.__dict__.pop("_y_scale_hint", None)  # unused by a loss without scaling
    sw = np.ones(n) if swb is None else np.asarray(swb, dtype=np.float64)
    frozen = getattr(local, "_class_weight_frozen", None)
    if frozen is not None:
        sw = sw * frozen[np.searchsorted(local.classes_, np.asarray(yb))]
    return local, float(sw.sum()), float(local.loss_curve_[-1])


def _average(results, step_counter):
    """Average the partitions' models, weighted by their total sample weight."""
    results = [r for r in results if r is not None and r[1] > 0]
    if not results:
        raise ValueError("No partition has a positive total sample weight: nothing to fit.")
    w = np.array([r[1] for r in results])
    w = w / w.sum()
    model = copy.deepcopy(results[0][0])
    states = [r[0]._state for r in results]
    state = model._state
    for s in states:
        if s.y_scale != state.y_scale:
            # Only when the first round's shared scale could not be found (an empty
            # first partition): the parameters are rescaled exactly (powers of two),
            # the moments are averaged as they are.
            s.theta = s.theta * (s.y_scale / state.y_scale)
            s.avg = None if s.avg is None else s.avg * (s.y_scale / state.y_scale)

    def mean(arrays):
        out = np.zeros_like(arrays[0])
        for wi, a in zip(w, arrays):
            out += wi * a
        return out

    state.theta = mean([s.theta for s in states])
    state.opt_state = mean([s.opt_state for s in states])
    if state.avg is not None:
        state.avg = mean([s.avg for s in states])
    pick = max if step_counter == "max" else (lambda v: int(round(float(np.dot(w, v)))))
    state.t = pick([s.t for s in states])
    state.opt_t = pick([s.opt_t for s in states])
    etas = [s.eta for s in states if s.eta is not None]
    state.eta = min(etas) if etas else None
    state.rng = None
    # The next round's batches are divided by the mean weight of all partitions' rows
    # (averaged, not summed: the sums would grow by the number of partitions a round).
    state.w_seen = float(np.mean([s.w_seen for s in states]))
    state.n_seen = float(np.mean([s.n_seen for s in states]))
    model._commit(state)
    objective = float(np.dot(w, [r[2] for r in results]))
    return model, objective


# ----------------------------------------------------------------------- prediction
def _frame_method(df, est, method, columns):
    import pandas as pd

    out = getattr(est, method)(df)
    if out.ndim == 1:
        return pd.Series(out, index=df.index)
    return pd.DataFrame(out, index=df.index, columns=columns)


def _probe(fn, *args):
    """``fn(*args)`` with its warnings silenced: they belong to the real blocks."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def _estimator_has(method):
    """Whether the trained (else the given) estimator has ``method``: a regressor has
    no ``decision_function``, a hinge-loss classifier no ``predict_proba``, and
    meta-estimators (CalibratedClassifierCV, stacking, ...) choose by ``hasattr``."""

    def check(self):
        getattr(getattr(self, "estimator_", self.estimator), method)
        return True

    return check


class DataParallelGD(BaseEstimator):
    """Fit one skgd model over all partitions of a Dask collection in parallel.

    Each round broadcasts the current model (parameters, optimizer moments, step
    counter) to every partition; each partition trains a private copy for
    ``local_epochs`` epochs with ``partial_fit``, all partitions at the same time
    (one ``dask.delayed`` task each, run where the block lives); then one task
    averages the partitions' parameters and optimizer state, weighted by each
    partition's total sample weight (times class weight). This is local SGD (model
    averaging): with several partitions, each round is one pass over all the data;
    with one partition and ``shuffle=False`` it is exactly ``local_epochs`` calls of
    ``partial_fit`` per round (with shuffling, each round shuffles with its own seed,
    so the rows come in another order than in a stream of ``partial_fit`` calls).

    Parameters
    ----------
    estimator : GDClassifier or GDRegressor
        The model to train (cloned). Its loss, penalty, optimizer, schedule,
        ``batch_size``, ``average``, ``class_weight`` and ``n_jobs`` are used;
        ``max_iter``, ``tol`` and ``early_stopping`` are not (``n_rounds`` replaces
        them). ``class_weight="balanced"`` is computed from the labels of all
        partitions, not per partition. A regressor's ``scale_target`` scale is that
        of partition 0's first batch, for every partition.
    n_rounds : int, default=10
        Rounds of local training followed by averaging.
    local_epochs : int, default=1
        Epochs over its partition each partition runs per round. More epochs mean
        fewer synchronizations but local models that drift further apart.
    step_counter : {"max", "mean"}, default="max"
        The step counter ``t`` (the schedule's position and Adam's bias correction)
        after a round: the largest local counter (the longest chain of sequential
        updates, the usual local-SGD convention) or their weighted mean.
    persist : bool, default=True
        Persist the data in the cluster's memory first, so that the rounds do not
        read it again from its source. Set False when the data does not fit the
        cluster's memory.
    verbose : int, default=0
        Print the mean training objective of each round.

    Attributes
    ----------
    estimator_ : GDClassifier or GDRegressor
        The averaged model, an ordinary in-memory estimator: ``partial_fit``
        continues it, pickling keeps its whole training state.
    loss_curve_ : list of float
        Per round, the partitions' mean training objective of their last epoch.
    n_iter_ : int
        Rounds run.
    n_partitions_ : int
        Partitions trained on.
    classes_, coef_, intercept_, t_, n_features_in_ :
        Those of ``estimator_``.

    Notes
    -----
    Results are deterministic for an integer ``random_state`` of the estimator and
    the same partitioning: partition ``p`` shuffles with a seed drawn from
    ``(random_state, round, p)`` and the average is taken in partition order, so the
    scheduler and the number of workers do not change the coefficients.

    Examples
    --------
    >>> import dask.array as da  # doctest: +SKIP
    >>> from skgd import GDClassifier
    >>> from skgd.dask import DataParallelGD
    >>> X = da.random.random((100_000, 20), chunks=(25_000, 20))  # doctest: +SKIP
    >>> y = (X[:, 0] > 0.5).astype(int)  # doctest: +SKIP
    >>> model = DataParallelGD(GDClassifier(random_state=0), n_rounds=5)
    >>> model.fit(X, y).estimator_  # doctest: +SKIP
    GDClassifier(random_state=0)
    """

    def __init__(self, estimator, *, n_rounds=10, local_epochs=1, step_counter="max",
                 persist=True, verbose=0):
        self.estimator = estimator
        self.n_rounds = n_rounds
        self.local_epochs = local_epochs
        self.step_counter = step_counter
        self.persist = persist
        self.verbose = verbose

    def _check_params(self):
        if not hasattr(self.estimator, "partial_fit") or not hasattr(self.estimator,
                                                                    "_commit"):
            raise TypeError("estimator must be a skgd estimator (GDClassifier or "
                            f"GDRegressor); got {type(self.estimator).__name__}.")
        for name in ("n_rounds", "local_epochs"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) \
                    or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")
        if self.step_counter not in ("max", "mean"):
            raise ValueError(f"step_counter must be 'max' or 'mean'; got "
                             f"{self.step_counter!r}.")

    def fit(self, X, y, sample_weight=None, classes=None):
        """Train over all partitions of ``X`` for ``n_rounds`` rounds.

        Parameters
        ----------
        X : dask.array.Array of shape (n_samples, n_features) or dask DataFrame
            Chunked by rows (column chunks are merged).
        y : dask.array.Array, NumPy array or dask Series of shape (n_samples,)
            Aligned with ``X``'s row blocks (a dask Series needs the same partitions
            as a dask DataFrame ``X``).
        sample_weight : same kinds as ``y``, default=None
        classes : array-like, default=None
            All labels, for a classifier; found with one pass over ``y`` if omitted.

        Returns
        -------
        self
        """
        self._check_params()
        dask, _ = _import_dask()
        est = clone(self.estimator)
        X, y, sw = _align(X, y, sample_weight)
        # Optimized blocks have the same tasks as X.persist() or X.compute() would
        # submit (the scheduler warns when one key comes with two different tasks).
        # Unpersisted, dask 2025.2 gives a task a tuple instead of an optimized block of
        # an array the user persisted: then the blocks are taken unoptimized.
        Xb, yb, swb = (_blocks(c, optimize=self.persist) for c in (X, y, sw))
        swb = swb or [None] * len(Xb)
        if self.persist:
            n = len(Xb)
            flat = dask.persist(*Xb, *yb, *(swb if sw is not None else []))
            Xb, yb = list(flat[:n]), list(flat[n:2 * n])
            if sw is not None:
                swb = list(flat[2 * n:])
        classifier = is_classifier(est)
        cw_balanced = classifier and isinstance(est.class_weight, str)
        if classifier and (classes is None or cw_balanced):
            stats = dask.compute(*[dask.delayed(_label_counts)(b) for b in yb])
            labels = np.unique(np.concatenate([s[0] for s in stats]))
            if classes is None:
                classes = labels
            classes = np.unique(np.asarray(classes))
            if cw_balanced:
                counts = np.zeros(classes.shape[0])
                for lab, cnt in stats:
                    if not np.all(np.isin(lab, classes)):
                        raise ValueError(f"y contains labels not in classes={classes!r}: "
                                         f"{lab[~np.isin(lab, classes)]!r}.")
                    np.add.at(counts, np.searchsorted(classes, lab), cnt)
                weights = np.ones(classes.shape[0])
                present = counts > 0
                weights[present] = counts.sum() / (present.sum() * counts[present])
                est.set_params(class_weight=dict(zip(classes.tolist(), weights.tolist())))
        elif classifier:
            classes = np.unique(np.asarray(classes))
        if not classifier:
            classes = None

        random_state = est.random_state
        rng = check_random_state(random_state)
        entropy = (int(random_state) if isinstance(random_state, numbers.Integral)
                   else int(rng.randint(np.iinfo(np.int32).max)))

        model, fitted = est, False
        y_scale = None if classifier else dask.delayed(_first_rows_scale)(est, yb[0], swb[0])
        curve = []
        for r in range(self.n_rounds):
            model_d = dask.delayed(model, pure=False)
            local = [
                dask.delayed(_local_round)(
                    model_d, fitted, xb, yb_, sb, classes, self.local_epochs,
                    int(np.random.SeedSequence([entropy, r, p]).generate_state(1)[0]),
                    None if fitted else y_scale)
                for p, (xb, yb_, sb) in enumerate(zip(Xb, yb, swb))
            ]
            averaged = dask.delayed(_average)(local, self.step_counter)
            (model, objective), = dask.compute(averaged)
            fitted = True
            curve.append(objective)
            if self.verbose:
                print(f"-- Round {r + 1}, mean objective: {objective:.6g}, "
                      f"updates: {model.t_}", flush=True)

        # The averaged model carries a partition's seed and the resolved class
        # weights: give it back the user's parameters (the weights stay frozen).
        model.set_params(random_state=random_state)
        if cw_balanced:
            model.set_params(class_weight="balanced")
        model.loss_curve_ = list(curve)
        model.n_iter_ = self.n_rounds * self.local_epochs
        self.estimator_ = model
        self.loss_curve_ = curve
        self.n_iter_ = self.n_rounds
        self.n_partitions_ = len(Xb)
        return self

    # --------------------------------------------------------------- fitted model
    @property
    def classes_(self):
        return self.estimator_.classes_

    @property
    def coef_(self):
        return self.estimator_.coef_

    @property
    def intercept_(self):
        return self.estimator_.intercept_

    @property
    def t_(self):
        return self.estimator_.t_

    @property
    def n_features_in_(self):
        return self.estimator_.n_features_in_

    def _apply(self, method, X):
        check_is_fitted(self, "estimator_")
        est = self.estimator_
        fn = getattr(est, method)
        if not _is_dask_collection(X):
            return fn(X)
        _, da = _import_dask()
        dd = _dask_dataframe()
        if isinstance(X, da.Array):
            X = X.rechunk({1: -1})
            n_features = X.shape[1] if not np.isnan(X.shape[1]) else est.n_features_in_
            # The estimator itself, on one row of X's dtype, tells the output's dtype
            # and columns: float32 input keeps float32 margins and regression
            # predictions, predict_proba is float64, predict has the labels' dtype.
            meta = _probe(fn, np.zeros((1, n_features), dtype=X.dtype))[:0]
            if meta.ndim == 1:
                return X.map_blocks(fn, drop_axis=1, dtype=meta.dtype, meta=meta)
            return X.map_blocks(fn, chunks=(X.chunks[0], (meta.shape[1],)),
                                dtype=meta.dtype, meta=meta)
        if dd is not None and isinstance(X, dd.DataFrame):
            classes = getattr(est, "classes_", None)
            columns = None if classes is None else list(classes)
            # One row of made-up values of the frame's dtypes, as above.
            meta = _probe(_frame_method, X._meta_nonempty.iloc[:1], est, method,
                          columns).iloc[:0]
            return X.map_partitions(_frame_method, est, method, columns, meta=meta)
        raise TypeError(f"Unsupported input type {type(X).__name__}.")

    def predict(self, X):
        """Predictions of ``estimator_``, lazily per block for a Dask collection.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)
        """
        return self._apply("predict", X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Margins of ``estimator_`` (classifiers), lazily per block for Dask input.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)
        """
        return self._apply("decision_function", X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of ``estimator_``, lazily per block for Dask input.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)
        """
        return self._apply("predict_proba", X)

    def score(self, X, y, sample_weight=None):
        """Accuracy (classifiers) or R^2 (regressors) of ``estimator_``.

        For Dask input the predictions and targets (one value per sample) are
        gathered to compute the score.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)
        y : dask array, dask Series or array-like of shape (n_samples,)
        sample_weight : same kinds as ``y``, default=None
        """
        pred = self.predict(X)
        if any(_is_dask_collection(v) for v in (pred, y, sample_weight)):
            dask, _ = _import_dask()
            pred, y, sample_weight = dask.compute(pred, y, sample_weight)
        metric = accuracy_score if is_classifier(self.estimator_) else r2_score
        return float(metric(np.asarray(y), np.asarray(pred), sample_weight=(
            None if sample_weight is None else np.asarray(sample_weight))))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.estimator_type = inner.estimator_type
        tags.input_tags.sparse = inner.input_tags.sparse
        return tags
