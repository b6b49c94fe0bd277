"""GDRegressor: linear regression trained by mini-batch gradient descent."""

from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseGD
from ._kernels._codes import MODE_SINGLE
from .losses import REGRESSION_LOSSES, get_loss


class GDRegressor(RegressorMixin, BaseGD):
    """Linear regression by mini-batch gradient descent with a pluggable optimizer.

    Minimizes ``sum_i s_i L(y_i, x_i . w + b) / sum_i s_i + alpha * R(w)`` over
    mini-batches of ``batch_size`` rows, with the update rule of ``optimizer`` and the
    step size ``learning_rate``/``eta0``. The optimum depends on ``alpha``, never on
    ``batch_size``.

    Parameters
    ----------
    loss : {"squared_error", "huber", "epsilon_insensitive", \
            "squared_epsilon_insensitive", "poisson", "quantile"}, default="squared_error"
        ``poisson`` uses a log link (``predict`` returns the mean) and needs
        non-negative targets; ``quantile`` is the pinball loss at ``quantile``.
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
        ``R(w)``: ``0.5 ||w||^2``, ``||w||_1``, or their ``l1_ratio`` mix. L1 is
        applied by a proximal step, so coefficients become exactly zero.
    alpha : float, default=1e-4
        Regularization strength (per sample).
    l1_ratio : float, default=0.15
        L1 share of the elastic-net penalty.
    fit_intercept : bool, default=True
        Whether to train the intercept. Without it the intercept is 0, or the fixed
        offset given as ``intercept_init`` to ``fit`` (kept by ``warm_start`` and
        ``partial_fit``, as in scikit-learn's SGD).
    optimizer : str or Optimizer, default="adam"
        ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"adadelta"``,
        ``"rmsprop"``, ``"adam"``, ``"adamw"`` or an object from :mod:`skgd.optimizers`
        (its hyper-parameters are tunable as ``optimizer__<name>``).
    learning_rate : str or Schedule, default="plateau"
        ``"constant"``, ``"invscaling"`` (``eta0 / t**power_t``), ``"optimal"``,
        ``"adaptive"`` (``eta0``, divided by 5 whenever ``n_iter_no_change`` epochs
        fail to improve by ``tol``), ``"plateau"`` (``eta0``, divided by 5 after every
        epoch that fails to improve by ``tol``), ``"exponential"``, ``"cosine"``,
        ``"warmup"`` (those objects with their default settings), ``"pa1"``/``"pa2"``
        (passive-aggressive steps, with ``loss="epsilon_insensitive"``,
        ``optimizer="sgd"`` and ``eta0`` as the aggressiveness C: see
        :class:`skgd.schedules.PA1`) or an object from :mod:`skgd.schedules`.
    eta0 : float, default=0.1
        Base step size, in units of the targets' spread with ``scale_target``. The
        regressor's defaults differ from the classifier's because regression
        coefficients and intercepts live on the targets' scale: a larger first step
        reaches them, and the plateau decay removes the noise it leaves (measured in
        docs/defaults.rst).
    power_t : float, default=0.25
        Exponent of ``"invscaling"``.
    batch_size : int, default=32
        Rows per update, clipped to the number of samples (a large value means
        full-batch gradient descent).
    max_iter : int, default=1000
        Maximum number of epochs.
    tol : float or None, default=1e-3
        Training stops when the epoch objective (or the validation score with early
        stopping) has not improved by ``tol`` for ``n_iter_no_change`` epochs. With
        ``scale_target``, the objective compared is that of the scaled targets.
        Epochs of fewer than 10 updates (full batches, small data) are judged in
        rounds of as many epochs as make 10 updates, each round by its best epoch;
        ``n_iter_no_change`` and a plateau's ``patience`` then count rounds.
    n_iter_no_change : int, default=5
    shuffle : bool, default=True
        Shuffle the visiting order each epoch: a row permutation when the data fits
        in cache; for large data, batches interleave short runs of rows from many
        shuffled blocks (as random as a permutation, read nearly sequentially).
    random_state : int, RandomState instance or None, default=None
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (or use ``X_val``/``y_val`` given
        to ``fit``), stop when its R^2 stops improving, and keep the best model.
    validation_fraction : float, default=0.1
    warm_start : bool, default=False
        Continue from the fitted state (coefficients, optimizer state, step counter)
        on the next ``fit``; ``loss_curve_``, ``n_iter_`` and early stopping restart.
    average : bool or int, default=False
        Averaged SGD: expose the average of the parameters from update ``average``
        (``True`` = 1) on.
    epsilon : float, default=0.1
        Threshold of the huber and epsilon-insensitive losses.
    quantile : float in (0, 1), default=0.5
        Quantile of ``loss="quantile"``.
    scale_target : bool, default=True
        Train on the targets divided by their scale: the power of two nearest the
        standard deviation of the first batch's targets, chosen when training starts
        and kept by ``warm_start`` and ``partial_fit``. ``eta0`` and ``tol`` then mean
        the same for targets in any unit (Adam's steps are ``eta0`` in the units of
        the coefficients, which live on the targets' scale). The minimizer does not
        change: ``epsilon`` and the penalty are scaled with the targets, and
        ``coef_``, ``intercept_``, ``loss_curve_`` and predictions are in the targets'
        units. Not for ``loss="poisson"``, whose log link needs no scaling, nor for
        ``learning_rate="pa1"``/``"pa2"``, whose steps (as scikit-learn's) follow from
        the loss. ``False`` trains on the targets as given.
    verbose : int, default=0
        Print one line per epoch.
    n_jobs : int or None, default=None
        Most threads the Numba kernels of a fit use. ``None``: the process's thread
        budget (Numba's pool, limited by ``OMP_NUM_THREADS`` when
        ``NUMBA_NUM_THREADS`` is not set); ``-1``: all of Numba's pool, ``-2``: all
        but one, and so on; a positive int: at most that many (up to the pool
        size). ``0`` is refused.
    callback : callable or None, default=None
        ``callback(estimator, info)`` after each epoch; ``info`` holds ``epoch``,
        ``objective``, ``validation_score``, ``learning_rate``, ``t``, ``seconds`` and the
        current ``coef``/``intercept``. A true return value stops training (any truthy
        value, as in an ``if``: return None or False to go on).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        A CSR matrix of shape (1, n_features) after :meth:`sparsify`.
    intercept_ : ndarray of shape (1,)
    n_iter_ : int
        Epochs run by the last ``fit`` (``partial_fit`` adds one per call).
    t_ : int
        Parameter updates made so far (the schedule's step counter).
    loss_curve_ : list of float
        Regularized objective per epoch.
    validation_scores_, best_score_, best_iter_ :
        With early stopping: validation R^2 per epoch, the best one and its epoch.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skgd import GDRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = make_pipeline(StandardScaler(), GDRegressor(random_state=0)).fit(X, y)
    >>> round(reg.score(X, y), 2) > 0.45
    True
    """

    _parameter_constraints: dict = {
        **BaseGD._parameter_constraints,
        "loss": [StrOptions(set(REGRESSION_LOSSES))],
        "quantile": [Interval(Real, 0, 1, closed="neither")],
        "scale_target": ["boolean"],
    }
    _mode = MODE_SINGLE
    _pa_loss = "epsilon_insensitive"
    # R^2 is undefined (NaN) for fewer than two samples: no epoch would ever be best.
    _min_validation_samples = 2
    _score_name = "R^2"

    def __init__(
        self,
        loss="squared_error",
        *,
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.15,
        fit_intercept=True,
        optimizer="adam",
        learning_rate="plateau",
        eta0=0.1,
        power_t=0.25,
        batch_size=32,
        max_iter=1000,
        tol=1e-3,
        n_iter_no_change=5,
        shuffle=True,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        warm_start=False,
        average=False,
        epsilon=0.1,
        quantile=0.5,
        scale_target=True,
        verbose=0,
        n_jobs=None,
        callback=None,
    ):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.average = average
        self.epsilon = epsilon
        self.quantile = quantile
        self.scale_target = scale_target
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.callback = callback

    def _is_classifier(self):
        return False

    def _get_loss_spec(self):
        return get_loss(self.loss, epsilon=self.epsilon, quantile=self.quantile)

    def _encode_target(self, y, reset, partial, classes=None):
        try:
            return np.ascontiguousarray(y, dtype=np.float64), 1
        except ValueError as exc:  # string labels: say what to do instead
            raise ValueError(self._non_numeric_message(None, y, exc)) from exc

    def _apply_class_weight(self, sw, y, partial):
        return sw

    def _target_degree(self):
        if not self.scale_target or self._components[1].pa_code:
            return None  # passive-aggressive steps follow from the loss, in y's units
        return self._loss_spec.target_degree

    def _baseline(self, y, sw):
        return self._loss_spec.baseline_margin(y, sw)

    def _coef_is_1d(self):
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Poisson needs y >= 0 (as PoissonRegressor): the common checks then draw
        # non-negative targets instead of failing on the domain check.
        tags.target_tags.positive_only = self.loss == "poisson"
        return tags

    def _score_raw(self, raw, y, sw):
        return r2_score(y, self._loss_spec.inverse_link(raw.ravel()), sample_weight=sw)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None, *,
            X_val=None, y_val=None, sample_weight_val=None):
        """Fit the model, running up to ``max_iter`` epochs.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            float32 input is trained in float32; C-contiguous arrays are not copied.
        y : array-like of shape (n_samples,)
        coef_init : array-like of shape (n_features,), default=None
        intercept_init : float or array-like of shape (1,), default=None
            Without it, a fresh intercept starts at the loss's baseline of the first
            batch's targets (mean, median, quantile or log-mean). With
            ``fit_intercept=False`` it is a fixed offset, not trained (as in
            scikit-learn's SGD; otherwise the intercept is 0).
        sample_weight : array-like of shape (n_samples,), default=None
        X_val, y_val, sample_weight_val : validation data for early stopping,
            used instead of holding out ``validation_fraction``.

        Returns
        -------
        self
        """
        return self._fit(X, y, coef_init=coef_init, intercept_init=intercept_init,
                         sample_weight=sample_weight, X_val=X_val, y_val=y_val,
                         sample_weight_val=sample_weight_val)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch over ``(X, y)``, continuing the whole training state.

        Optimizer moments, the step counter ``t_``, the schedule's position and the
        averaging state carry over between calls (and through pickling).

        Returns
        -------
        self
        """
        return self._partial_fit(X, y, sample_weight)

    def predict(self, X):
        """Predicted values (the mean for ``loss="poisson"``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        raw = self._raw(X).ravel()  # checks fitted first (NotFittedError)
        return self._loss_spec.inverse_link(raw)
