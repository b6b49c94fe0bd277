"""GDClassifier: linear classification trained by mini-batch gradient descent."""

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._base import BaseGD
from ._kernels._codes import MODE_MULTINOMIAL, MODE_OVR, MODE_SINGLE
from .losses import CLASSIFICATION_LOSSES, get_loss, smoothed_class_frequencies


def _has_proba(est):
    loss = getattr(est, "_loss_spec", None) if hasattr(est, "_state") else None
    loss = loss or get_loss(est.loss)
    if not loss.has_proba:
        raise AttributeError(
            f"probability estimates are not available for loss={est.loss!r}; "
            "use loss='log_loss' or loss='modified_huber'."
        )
    return True


# Integer labels spanning at most this many values (or the number of labels) are
# encoded by counting instead of sorting.
_COUNT_SPAN_MIN = 1 << 16


def _unique_classes(classes):
    """The sorted unique labels of partial_fit's ``classes``, or a ValueError."""
    try:
        return np.unique(classes)
    except TypeError as exc:  # labels that do not sort together (None with numbers, ...)
        raise ValueError(
            f"classes must be labels of one kind that can be sorted; got {classes!r} "
            f"({exc}).") from exc


def _classes_and_index(y):
    """``np.unique(y, return_inverse=True)``: the sorted classes and each label's index.

    Integer labels over a small range are counted (bincount) instead of sorted: 5x
    faster for a million labels. Other labels are sorted once.
    """
    if y.ndim == 1 and y.dtype.kind in "iu" and y.dtype != np.uint64 and y.size:
        lo, hi = int(y.min()), int(y.max())
        span = hi - lo + 1
        if span <= max(_COUNT_SPAN_MIN, y.size):
            shifted = y.astype(np.intp) - lo
            present = np.bincount(shifted, minlength=span) > 0
            classes = (np.flatnonzero(present) + lo).astype(y.dtype)
            return classes, (np.cumsum(present) - 1)[shifted]
    return np.unique(y, return_inverse=True)


class GDClassifier(ClassifierMixin, BaseGD):
    """Linear classifier by mini-batch gradient descent with a pluggable optimizer.

    Binary problems have one model (``coef_`` of shape (1, n_features)); multiclass
    problems are one-vs-rest, or one softmax model with ``multi_class="multinomial"``.
    The objective is ``sum_i s_i L(y_i, x_i . w + b) / sum_i s_i + alpha * R(w)`` with
    ``s_i`` the sample weight times the class weight.

    Parameters
    ----------
    loss : {"log_loss", "hinge", "squared_hinge", "modified_huber", "perceptron"}, \
            default="log_loss"
        ``log_loss`` and ``modified_huber`` give ``predict_proba``.
    multi_class : {"auto", "ovr", "multinomial"}, default="auto"
        ``"multinomial"`` trains one softmax model (``log_loss`` only); ``"auto"``
        picks it for ``log_loss`` with more than two classes and one-vs-rest otherwise.
    class_weight : dict, "balanced" or None, default=None
        Multiplies the sample weights. With ``partial_fit``, ``"balanced"`` is computed
        from the first call's chunk and kept (classes absent from it get weight 1).
    learning_rate : str or Schedule, default="constant"
        As in :class:`GDRegressor`; ``"pa1"``/``"pa2"`` (passive-aggressive, the
        replacement of scikit-learn's ``PassiveAggressiveClassifier``) need
        ``loss="hinge"`` and ``optimizer="sgd"``, e.g. ``GDClassifier(loss="hinge",
        penalty=None, optimizer="sgd", learning_rate="pa1", eta0=1.0, batch_size=1)``.
    eta0 : float, default=0.01
        Step size of Adam's normalized steps (defaults measured in docs/defaults.rst);
        the aggressiveness C of ``"pa1"``/``"pa2"``.
    penalty, alpha, l1_ratio, fit_intercept, optimizer, power_t, batch_size, max_iter, \
tol, n_iter_no_change, shuffle, random_state, early_stopping, validation_fraction, \
warm_start, average, epsilon, verbose, n_jobs, callback :
        As in :class:`GDRegressor`; early stopping holds out a stratified
        ``validation_fraction`` and scores accuracy.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        A CSR matrix of that shape after :meth:`sparsify`.
    intercept_ : ndarray of shape (1,) or (n_classes,)
    n_iter_, t_, loss_curve_, validation_scores_, best_score_, best_iter_, \
n_features_in_, feature_names_in_ :
        As in :class:`GDRegressor`.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skgd import GDClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), GDClassifier(random_state=0)).fit(X, y)
    >>> clf.score(X, y) > 0.95
    True
    """

    _parameter_constraints: dict = {
        **BaseGD._parameter_constraints,
        "loss": [StrOptions(set(CLASSIFICATION_LOSSES))],
        "multi_class": [StrOptions({"auto", "ovr", "multinomial"})],
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(
        self,
        loss="log_loss",
        *,
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.15,
        fit_intercept=True,
        optimizer="adam",
        learning_rate="constant",
        eta0=0.01,
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
        class_weight=None,
        multi_class="auto",
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
        self.class_weight = class_weight
        self.multi_class = multi_class
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.callback = callback

    # ----------------------------------------------------------------- components
    def _is_classifier(self):
        return True

    def _get_loss_spec(self):
        return get_loss(self.loss, epsilon=self.epsilon)

    def _resolved_mode(self, n_classes):
        if n_classes == 2:
            if self.multi_class == "multinomial" and self.loss != "log_loss":
                raise ValueError("multi_class='multinomial' requires loss='log_loss'.")
            return MODE_SINGLE
        if self.multi_class == "multinomial" or (
                self.multi_class == "auto" and self.loss == "log_loss"):
            if self.loss != "log_loss":
                raise ValueError(
                    f"multi_class='multinomial' requires loss='log_loss', got {self.loss!r}; "
                    "use multi_class='ovr' for other losses.")
            return MODE_MULTINOMIAL
        return MODE_OVR

    def _encode_target(self, y, reset, partial, classes=None):
        if not (y.ndim == 1 and y.dtype.kind in "iu"):
            # 1-D integer labels are binary or multiclass: nothing to check (the check
            # finds the unique labels once more, 0.02 s per million).
            check_classification_targets(y)
        if partial:
            if reset:
                if classes is None:
                    raise ValueError("classes must be passed on the first call to partial_fit "
                                     "(all the labels the stream can contain).")
                new_classes = _unique_classes(classes)
            else:
                if classes is not None and not np.array_equal(_unique_classes(classes),
                                                              self.classes_):
                    raise ValueError(
                        f"`classes={classes!r}` is not the same as on the first call to "
                        f"partial_fit, {self.classes_!r}.")
                new_classes = self.classes_
        else:
            new_classes, idx = _classes_and_index(y)
            if not reset and not np.array_equal(new_classes, self.classes_):
                raise ValueError(
                    f"warm_start=True needs the classes of the fitted model {self.classes_!r}; "
                    f"got {new_classes!r}. Fit without warm_start to start a new model.")
        if new_classes.shape[0] < 2:
            raise ValueError(
                "The classifier needs samples of at least 2 classes in the data, but the data "
                f"contains only one class: {new_classes[0]!r}.")
        if partial:
            idx = np.searchsorted(new_classes, y)
            unseen = new_classes[np.minimum(idx, new_classes.shape[0] - 1)] != y
            if np.any(unseen):
                raise ValueError(
                    f"y contains labels not in classes: {np.unique(np.asarray(y)[unseen])!r}; "
                    f"the classes are {new_classes!r}.")
        self.classes_ = new_classes
        self._mode = self._resolved_mode(new_classes.shape[0])
        if self._mode == MODE_SINGLE:
            return np.where(idx == 1, 1.0, -1.0), 1
        return idx.astype(np.float64), new_classes.shape[0]

    def _apply_class_weight(self, sw, y, partial):
        """Multiply ``sw`` by the class weights; ``partial`` continues a partial_fit
        stream, whose "balanced" weights were fixed by its first chunk."""
        if self.class_weight is None:
            self._class_weight_frozen = None
            return sw
        idx = np.searchsorted(self.classes_, y)
        n_classes = self.classes_.shape[0]
        if self.class_weight == "balanced":
            if partial and getattr(self, "_class_weight_frozen", None) is not None:
                weights = self._class_weight_frozen
            else:
                counts = np.bincount(idx, minlength=n_classes).astype(np.float64)
                weights = np.ones(n_classes)
                present = counts > 0
                weights[present] = idx.shape[0] / (present.sum() * counts[present])
        else:
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(
                    f"class_weight has labels not in the data: {sorted(unknown, key=str)}.")
            weights = np.array([float(self.class_weight.get(c, 1.0)) for c in self.classes_])
            # Class weights multiply the sample weights, so they obey the same rule:
            # a negative or NaN weight would make the objective unbounded or NaN.
            if not np.all(np.isfinite(weights) & (weights >= 0)):
                raise ValueError(
                    f"class_weight must give finite, non-negative weights; got "
                    f"{self.class_weight!r}.")
        self._class_weight_frozen = weights
        return sw * weights[idx]

    def _baseline(self, y, sw):
        if self._mode == MODE_SINGLE:
            return self._loss_spec.baseline_margin(y, sw)
        n_classes = self.classes_.shape[0]
        if self.loss != "log_loss" or sw.sum() <= 0:
            return np.zeros(n_classes)
        freq = smoothed_class_frequencies(y.astype(np.intp), sw, n_classes)
        if self._mode == MODE_MULTINOMIAL:
            logp = np.log(freq)
            return logp - logp.mean()
        return np.log(freq / (1.0 - freq))

    # ----------------------------------------------------------------- fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None, *,
            X_val=None, y_val=None, sample_weight_val=None):
        """Fit the model, running up to ``max_iter`` epochs.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            float32 input is trained in float32; C-contiguous arrays are not copied.
        y : array-like of shape (n_samples,)
        coef_init : array-like of shape (n_classes, n_features), default=None
            ``(1, n_features)`` or ``(n_features,)`` for binary problems.
        intercept_init : array-like of shape (n_classes,) or (1,), default=None
            Without it, a fresh ``log_loss`` intercept starts at the log-odds (or
            centered log-frequencies) of the first batch's labels, smoothed (a
            class missing from the batch starts at about 1%, not near 0). With
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
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch over ``(X, y)``, continuing the whole training state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            All the labels; required on the first call, optional (and checked) after.
        sample_weight : array-like of shape (n_samples,), default=None
            A chunk whose weights are all zero changes nothing.

        Returns
        -------
        self
        """
        return self._partial_fit(X, y, sample_weight, classes=classes)

    def _check_validation_target(self, yv):
        unseen = ~np.isin(yv, self.classes_)
        if np.any(unseen):
            raise ValueError(f"y_val contains labels not in the training data: "
                             f"{np.unique(np.asarray(yv)[unseen])!r}.")

    def _score_raw(self, raw, y, sw):
        return accuracy_score(y, self._predict_raw(raw), sample_weight=sw)

    # ----------------------------------------------------------------- prediction
    def decision_function(self, X):
        """Margins: shape (n_samples,) for binary problems, else (n_samples, n_classes).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        """
        raw = self._raw(X)
        return raw.ravel() if raw.shape[1] == 1 else raw

    def _predict_raw(self, raw):
        if raw.ndim == 1 or raw.shape[1] == 1:
            return self.classes_[(raw.ravel() > 0).astype(np.int64)]
        return self.classes_[np.argmax(raw, axis=1)]

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        """
        return self._predict_raw(self._raw(X))

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Class probabilities (``log_loss``: logistic / softmax; ``modified_huber``:
        scikit-learn's clipped estimate).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        raw = self._raw(X).astype(np.float64, copy=False)
        if self._loss_spec.name == "modified_huber":
            prob = (np.clip(raw, -1, 1) + 1) / 2
            if raw.shape[1] == 1:
                return np.hstack([1 - prob, prob])
            total = prob.sum(axis=1, keepdims=True)
            zero = total[:, 0] == 0
            prob[zero] = 1.0
            total[zero] = prob.shape[1]
            return prob / total
        if raw.shape[1] == 1:
            p = expit(raw)
            return np.hstack([1 - p, p])
        if self._mode == MODE_MULTINOMIAL:
            return softmax(raw, axis=1)
        prob = expit(raw)
        return prob / prob.sum(axis=1, keepdims=True)

    @available_if(_has_proba)
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))
