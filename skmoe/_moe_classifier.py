"""Mixture-of-experts classifier: multinomial logistic experts under a gate."""

from numbers import Integral

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets

from ._base import BaseMoE
from ._model import for_row_chunks
from .experts import EstimatorClassifierExperts, LogisticExperts
from .utils._docstrings import fill_docstring
from .utils._sklearn_compat import HasMethods, Interval, StrOptions, _fit_context

_EXPERT_ATTRIBUTES = ("coef_", "intercept_", "experts_")


def _log_mixture(log_w, log_p):
    """``log sum_l exp(log_w[i, l] + log_p[i, l, c])``, shape (n, C).

    A log-sum-exp over the experts, laid out (n, C, L) so that every
    reduction runs along contiguous memory; rows whose terms are all -inf
    give -inf.
    """
    n, L, C = log_p.shape
    T = np.add(log_p.transpose(0, 2, 1), log_w[:, None, :], out=np.empty((n, C, L)))
    m = T.max(axis=2)
    m[~np.isfinite(m)] = 0.0
    T -= m[:, :, None]
    np.exp(T, out=T)
    with np.errstate(divide="ignore"):
        return np.log(T.sum(axis=2)) + m


@fill_docstring
class MixtureOfExpertsClassifier(ClassifierMixin, BaseMoE):
    """Mixture of multinomial logistic experts with a gate, fitted by EM.

    The class probabilities are ``P(y = c | x) = sum_k g_k(x) p_kc(x)``: a gate
    ``g(x)`` (softmax of linear functions of ``x``, or the localised Gaussian
    gate) chooses among ``n_experts`` multinomial logistic regressions
    ``p_k(x) = softmax(W_k [x, 1])`` (Jordan & Jacobs 1994), binary or
    multiclass. EM alternates the posterior responsibility of each expert for
    each sample with a weighted fit of every expert and of the gate. The
    experts' M-step is one Newton (IRLS) step of a weighted softmax regression
    per iteration, warm-started from the current parameters (generalised
    EM); a step that would lower the penalised log-likelihood is shortened,
    so the objective never decreases.

    Parameters
    ----------
    {n_experts}
    expert : "logistic" or classifier, default="logistic"
        "logistic": multinomial logistic regressions (binary problems use one
        logit difference per expert, as ``LogisticRegression``). Or any
        scikit-learn classifier with ``predict_proba`` whose ``fit`` takes
        ``sample_weight`` (e.g. ``DecisionTreeClassifier(max_depth=3)``):
        cloned per expert and fitted on the labels with the responsibilities
        times the sample weights as weights; its likelihood is its
        ``predict_proba`` of the observed class, floored at 1e-12. Such a fit
        is not an exact maximiser: when an EM iteration would lower the
        objective, the experts keep their previous fits (the objective never
        decreases, and EM may stop early). It needs the data in memory, and
        a clone whose ``random_state`` is None gets its expert's index.
    alpha : float, default=1.0
        L2 penalty on the logistic experts' slopes: ``1 / C`` of
        scikit-learn's ``LogisticRegression`` for each expert's weighted fit
        (intercepts are not penalised).
    gate_alpha : float, default=1e-3
        L2 penalty on the softmax gate's slopes.
    gate_solver : {"auto", "newton", "bohning"}, default="auto"
        Softmax gate M-step: one exact Newton step, or one step of Böhning's
        fixed curvature bound. "auto" uses Newton while ``(n_experts - 1) *
        (n_features + 1) <= 128``.
    gate : {"softmax", "gaussian"}, default="softmax"
        "softmax": a multinomial logit of ``X``. "gaussian": the localised
        gate ``g_k(x) ∝ a_k N(x; m_k, S_k)`` (Xu, Jordan & Hinton 1995) with a
        closed-form M-step; EM then maximises the joint likelihood of
        ``(x, y)`` (see ``log_likelihood_``), while ``predict_proba`` and
        ``predict_gate`` use the conditional gate ``g_k(x)``.
    gate_covariance_type : {"full", "diag"}, default="full"
        Covariances of the Gaussian gate.
    reg_covar : float, default=1e-6
        Floor of the Gaussian gate's covariances, relative to the features'
        variances: ``S_k >= reg_covar * diag(var(X))``.
    gate_features : array-like of int, bool or str, default=None
        Columns of ``X`` the gate uses: indices, a boolean mask, or feature
        names when ``X`` has them. None uses all; the gate's other slopes are
        fixed at zero.
    expert_features : array-like of int, bool or str, default=None
        Columns of ``X`` the experts use, as ``gate_features``.
    {max_iter tol n_init}
    init_params : {"kmeans", "random", "tree"} or array-like, default="kmeans"
        Initial responsibilities: "kmeans" clusters the standardised
        ``[X, one-hot y]`` (the one-hot block scaled to unit total variance);
        "random" draws them uniformly; "tree" gives each
        leaf of a CART tree to one expert; or integer labels of shape
        (n_samples,) or responsibilities of shape (n_samples, n_experts).
    {random_state}
    warm_start : bool, default=False
        If True, ``fit`` resumes from the last fitted parameters.
    {verbose verbose_interval n_jobs}
    chunk_size : int, default=None
        Rows per chunk of a streamed fit. With an int, or when ``X`` is a
        ``numpy.memmap`` (65,536 rows when None), ``fit`` reads ``X`` chunk by
        chunk and never copies it or forms an ``n_samples x n_experts`` array:
        memory stays bounded by a few chunks plus the parameters (the
        out-of-core fit). Dask input is always streamed by its row blocks, or
        rechunked to ``chunk_size`` rows. A streamed fit initialises on a
        random sample of at most 20,000 rows (with their rows of
        ``init_params`` when it is an array), then runs EM on every row.
    top_k : int, default=None
        Sparse prediction: ``predict_proba`` mixes only the ``top_k`` most
        probable experts of each row (their gate weights renormalised).

    Attributes
    ----------
    {classes_}
    coef_ : ndarray of shape (n_experts, n_classes, n_features)
        Logistic experts' slopes (centred over classes; binary problems too).
    intercept_ : ndarray of shape (n_experts, n_classes)
        Logistic experts' intercepts (centred over classes).
    experts_ : list of estimators
        Estimator experts only: the fitted clone of each expert.
    gate_coef_ : ndarray of shape (n_experts, n_features)
        Softmax gate only: slopes (each column sums to zero).
    gate_intercept_ : ndarray of shape (n_experts,)
        Softmax gate only: intercepts.
    {gate_weights_ gate_means_ gate_covariances_ converged_ n_iter_}
    log_likelihood_ : float
        Final mean per-sample penalised log-likelihood of the best run: of
        ``y`` given ``x``, or, with ``gate="gaussian"``, the joint one of
        ``(x, y)`` (the quantity that EM then maximises).
    {log_likelihoods_ n_features_in_ feature_names_in_}

    See Also
    --------
    MixtureOfExpertsRegressor : The same mixture for real-valued targets.
    sklearn.linear_model.LogisticRegression : A single logistic expert.

    References
    ----------
    .. [1] M. I. Jordan and R. A. Jacobs, "Hierarchical mixtures of experts and
       the EM algorithm", Neural Computation 6(2), 181-214, 1994.
    .. [2] L. Xu, M. I. Jordan and G. E. Hinton, "An alternative model for
       mixtures of experts", NIPS 7, 633-640, 1995.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsClassifier
    >>> from skmoe.datasets import make_moe_classification
    >>> X, y, _ = make_moe_classification(n_samples=600, n_classes=3,
    ...                                   random_state=0)
    >>> clf = MixtureOfExpertsClassifier(n_experts=3, random_state=0).fit(X, y)
    >>> clf.classes_
    array([0, 1, 2])
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> round(clf.score(X, y), 2)  # the Bayes classifier scores 0.76 here
    0.73
    """

    _parameter_constraints: dict = {
        **{k: v for k, v in BaseMoE._parameter_constraints.items() if k != "reg_var"},
        "n_experts": [Interval(Integral, 1, None, closed="left")],
        "top_k": [Interval(Integral, 1, None, closed="left"), None],
        "expert": [StrOptions({"logistic"}), HasMethods(["fit", "predict_proba"])],
    }
    _y_numeric = False
    _multi_output = False

    def __init__(
        self,
        n_experts: int = 3,
        *,
        expert="logistic",
        alpha: float = 1.0,
        gate_alpha: float = 1e-3,
        gate_solver: str = "auto",
        gate: str = "softmax",
        gate_covariance_type: str = "full",
        reg_covar: float = 1e-6,
        gate_features=None,
        expert_features=None,
        max_iter: int = 200,
        tol: float = 1e-6,
        n_init: int = 1,
        init_params="kmeans",
        random_state=None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        n_jobs: int | None = None,
        chunk_size: int | None = None,
        top_k: int | None = None,
    ):
        self.n_experts = n_experts
        self.expert = expert
        self.alpha = alpha
        self.gate_alpha = gate_alpha
        self.gate_solver = gate_solver
        self.gate = gate
        self.gate_covariance_type = gate_covariance_type
        self.reg_covar = reg_covar
        self.gate_features = gate_features
        self.expert_features = expert_features
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size
        self.top_k = top_k

    # ----------------------------------------------------------------- hooks
    def _branching(self):
        return (self.n_experts,)

    def _encode_targets(self, y, fitted=False, sample_weight=None):
        """One-hot targets (n, n_classes); labels of any type via ``classes_``."""
        y = np.asarray(y)
        if not fitted:
            check_classification_targets(y)
            classes, codes = np.unique(y, return_inverse=True)
            if classes.size < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least two "
                    f"classes; y has only one class: {classes[0]!r}."
                )
            self.classes_ = classes
        else:
            codes = np.searchsorted(self.classes_, y)
            codes = np.minimum(codes, self.classes_.size - 1)
            unseen = self.classes_[codes] != y
            if np.any(unseen):
                raise ValueError(
                    f"y contains labels not seen during fit: "
                    f"{np.unique(y[unseen])[:5].tolist()}; the classes are "
                    f"{self.classes_.tolist()}."
                )
        Y = np.zeros((y.shape[0], self.classes_.size))
        Y[np.arange(y.shape[0]), codes.ravel()] = 1.0
        return Y, self._target_scale(Y)

    def _target_scale(self, Y, sample_weight=None):
        return None  # logistic experts have no noise scale

    def _init_target_scale(self, n_outputs):
        # the one-hot block counts as one standardised variable: at full weight
        # k-means returns class-pure clusters, a degenerate start where each
        # expert predicts one class and the gate does all the work
        return 1.0 / np.sqrt(n_outputs)

    def _make_experts(self, n_leaves, n_outputs, y_scale=None):
        features = getattr(self, "_expert_index", None)
        if isinstance(self.expert, str):
            return LogisticExperts(n_leaves, n_outputs, alpha=self.alpha,
                                   features=features)
        return EstimatorClassifierExperts(self.expert, n_leaves, n_outputs,
                                          features=features)

    def _set_expert_attributes(self, experts):
        family = self._make_experts(self._n_leaves(), self._n_outputs)
        attrs = family.attributes(experts)
        for name in _EXPERT_ATTRIBUTES:  # none left from a fit of another family
            if name not in attrs and name in self.__dict__:
                delattr(self, name)
        for name, value in attrs.items():
            setattr(self, name, value)

    def _get_expert_params(self):
        family = self._make_experts(self._n_leaves(), self._n_outputs)
        return family.from_attributes(
            **{name: getattr(self, name) for name in family.attribute_names})

    # -------------------------------------------------------------- public
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the mixture by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; integer weights act as repeated rows.

        Returns
        -------
        self : MixtureOfExpertsClassifier
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    def predict_log_proba(self, X):
        """Log of the mixture's class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``log sum_k g_k(x) p_kc(x)``, computed in log space (a row-wise
            log-sum-exp over experts); with ``top_k`` set, over the ``top_k``
            most probable experts, ``g`` renormalised.
        """
        X = self._validate_X(X)
        model = self._fitted_model()
        params = self._params()
        family = model.experts
        k = self._top_k()
        if k is not None:
            _, weights, P = model.top_k_experts(X, params, k)
            with np.errstate(divide="ignore"):
                return _log_mixture(np.log(weights), np.log(P))
        out = np.empty((X.shape[0], self.classes_.size))

        def chunk(a, b):
            log_g = model.gate_log_proba(X[a:b], params)
            if hasattr(family, "log_proba"):
                log_p = family.log_proba(X[a:b], params.experts)
            else:
                with np.errstate(divide="ignore"):
                    log_p = np.log(family.proba(X[a:b], params.experts))
            out[a:b] = _log_mixture(log_g, log_p)

        # a user's estimator experts: one call at a time
        for_row_chunks(chunk, X.shape[0], None if family.needs_data else self.n_jobs)
        return out

    def predict_proba(self, X):
        """Class probabilities of the mixture, ``sum_k g_k(x) p_kc(x)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to one; columns follow ``classes_``.
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Most probable class of the mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        log_proba = self.predict_log_proba(X)
        return self.classes_[np.argmax(log_proba, axis=1)]

    def sample(self, X, random_state=None):
        """Draw one label from the fitted conditional distribution per row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Drawn labels (from ``classes_``).
        experts : ndarray of shape (n_samples,)
            The expert each draw came from.
        """
        X = self._validate_X(X)
        leaves, rng = self._sample_leaves(X, random_state)
        model = self._fitted_model()
        codes = model.experts.sample(X, self._params().experts, leaves, rng)
        return self.classes_[codes], leaves
