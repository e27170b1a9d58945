"""Flat mixtures of experts (a gating tree of depth 1)."""

from numbers import Integral

import numpy as np
from sklearn.base import RegressorMixin

from ._backend._device import to_host
from ._base import BaseMoE
from ._model import for_row_chunks
from .experts import EstimatorRegressorExperts, GaussianExperts, PoissonExperts
from .utils._docstrings import fill_docstring
from .utils._sklearn_compat import HasMethods, Interval, StrOptions, _fit_context

# Fitted attributes with one entry per output (squeezed for 1-D y).
_PER_OUTPUT = ("coef_", "intercept_", "noise_variance_")
_EXPERT_ATTRIBUTES = ("coef_", "intercept_", "noise_variance_", "experts_")


@fill_docstring
class MixtureOfExpertsRegressor(RegressorMixin, BaseMoE):
    """Mixture of regression experts with a gate, fitted by EM.

    The conditional density is ``p(y | x) = sum_k g_k(x) N(y; B_k [x, 1], S_k)``:
    a softmax (multinomial logit) gate ``g(x)`` chooses among ``n_experts``
    linear regressions, each with its own diagonal noise covariance ``S_k``
    (Jacobs, Jordan, Nowlan & Hinton 1991). Parameters are fitted by
    expectation-maximisation: the E-step computes each expert's posterior
    responsibility for each sample (one fused numba pass in log space), the
    M-step solves a weighted ridge regression per expert and takes a Newton or
    Böhning step of the gate's soft-target logistic regression. The penalised
    log-likelihood never decreases from one iteration to the next. Other
    experts (Poisson GLMs for counts, any scikit-learn regressor) and a
    localised Gaussian gate (Xu, Jordan & Hinton 1995) plug into the same EM.

    Parameters
    ----------
    {n_experts}
    alpha : float, default=1e-6
        L2 penalty on the experts' slopes (intercepts are not penalised):
        scikit-learn's ``Ridge`` alpha for each Gaussian expert's weighted fit;
        for Poisson experts, ``PoissonRegressor``'s alpha times the total
        sample weight. Unused by estimator experts.
    gate_alpha : float, default=1e-3
        L2 penalty on the gate's slopes, as ``1 / C`` of scikit-learn's
        ``LogisticRegression``.
    reg_var : float, default=1e-6
        Floor of every noise variance (Gaussian and estimator experts),
        relative to the variance of ``y``.
    gate_solver : {"auto", "newton", "bohning"}, default="auto"
        Gate M-step: one exact Newton step (step halved if the likelihood
        falls), or one step of Böhning's fixed curvature bound, which costs a
        gradient only but needs many more EM iterations when the gate is
        sharp. "auto" uses Newton while ``(n_experts - 1) * (n_features + 1)
        <= 128``.
    {max_iter tol n_init}
    init_params : {"kmeans", "random", "tree"} or array-like, default="kmeans"
        Initial responsibilities: "kmeans" clusters the standardised ``[X, y]``
        with ``y`` weighted as much as all inputs together (fitted on at most
        20,000 rows); "random" draws them uniformly; "tree"
        gives each leaf of a CART tree grown with ``max_leaf_nodes=n_experts``
        (on at most 100,000 rows) to one expert; or integer labels of shape
        (n_samples,) or responsibilities of shape (n_samples, n_experts).
    {random_state}
    warm_start : bool, default=False
        If True, ``fit`` resumes from the last fitted parameters (``n_init`` is
        then ignored).
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
        Sparse prediction: ``predict`` evaluates only the ``top_k`` most
        probable experts of each row (their gate weights renormalised to sum
        to one) and never computes the others. None (or ``n_experts``) uses
        every expert. Fitting, ``predict_gate`` and ``sample`` are unaffected.
    expert : {"gaussian", "poisson"} or regressor, default="gaussian"
        The experts. "gaussian": linear regressions, each with its own noise
        variance (closed-form M-step). "poisson": Poisson GLMs with a log link
        for counts (``y >= 0``; one Newton/IRLS step per EM iteration,
        warm-started, shortened if the objective would fall); ``predict``
        gives the mixture mean. Or any scikit-learn regressor whose ``fit``
        takes ``sample_weight`` (e.g. ``DecisionTreeRegressor(max_depth=3)``):
        cloned per expert (a clone whose ``random_state`` is None gets its
        expert's index) and fitted with the responsibilities times the sample
        weights, with a Gaussian likelihood around its predictions whose
        variance is the weighted residual variance. Such a fit is not an exact
        maximiser: when an EM iteration would lower the objective the experts
        keep their previous fits, so the objective never decreases (and EM may
        stop early). It needs the data in memory (not Dask or ``chunk_size``).
    gate : {"softmax", "gaussian"}, default="softmax"
        "softmax": a multinomial logit of ``X``. "gaussian": the localised
        gate ``g_k(x) ∝ a_k N(x; m_k, S_k)`` with a closed-form M-step
        (weighted shares, means and covariances of ``X``); ``gate_alpha`` and
        ``gate_solver`` then do not apply. EM then maximises the joint
        likelihood of ``(x, y)``, which ``log_likelihood_`` reports, while
        ``predict``, ``predict_gate`` and ``score_samples`` use the
        conditional gate ``g_k(x)``.
    gate_covariance_type : {"full", "diag"}, default="full"
        Covariances ``S_k`` of the Gaussian gate.
    reg_covar : float, default=1e-6
        Floor of the Gaussian gate's covariances relative to the features'
        variances ``v``: ``S_k >= reg_covar * diag(v)`` (the eigenvalues of
        the standardised covariance, or each variance, clipped below; the
        exact constrained M-step, so EM stays monotone).
    gate_features : array-like of int, bool or str, default=None
        Columns of ``X`` the gate uses: indices, a boolean mask, or feature
        names when ``X`` has them; None uses all. The gate's other slopes stay
        zero (the Gaussian gate's densities use these columns only).
    expert_features : array-like of int, bool or str, default=None
        Columns of ``X`` the experts use, as ``gate_features``.
    device : {"cpu", "cuda", "auto"} or None, default=None
        Where EM and prediction run. None follows ``X``: a CuPy array is
        fitted on its GPU and the fitted attributes stay there (CuPy arrays;
        ``to_numpy()`` returns a copy with NumPy attributes), anything else
        on the CPU. "cuda" runs on the current CUDA device: NumPy ``X`` is
        copied once (through pinned buffers) and the fitted attributes are
        NumPy arrays. "cpu" always runs on the CPU (CuPy inputs are copied to
        the host). "auto" is None, except that NumPy inputs of at least 1e6
        values go to a GPU when CuPy finds one. The GPU keeps float32 ``X``
        in float32 (sums and normal equations in float64) and needs
        ``pip install "skmoe[gpu]"``; it fits Gaussian experts under softmax
        gates, initialising on at most 20,000 rows as a streamed fit does.

    Attributes
    ----------
    coef_ : ndarray of shape (n_experts, n_features) or \
            (n_experts, n_outputs, n_features)
        Experts' slopes (Gaussian experts; of ``log E[y]`` for Poisson).
    intercept_ : ndarray of shape (n_experts,) or (n_experts, n_outputs)
        Experts' intercepts (Gaussian and Poisson experts).
    noise_variance_ : ndarray of shape (n_experts,) or (n_experts, n_outputs)
        Experts' noise variances (Gaussian and estimator experts).
    experts_ : list of estimators
        Estimator experts only: the fitted clone of each expert.
    gate_coef_ : ndarray of shape (n_experts, n_features)
        Gate slopes (softmax logits; each column of the gate sums to zero).
    gate_intercept_ : ndarray of shape (n_experts,)
        Gate intercepts.
    {gate_weights_ gate_means_ gate_covariances_ converged_ n_iter_}
    log_likelihood_ : float
        Final mean per-sample penalised log-likelihood of the best run: of
        ``y`` given ``x``, or, with ``gate="gaussian"``, the joint one of
        ``(x, y)`` (the quantity that EM then maximises).
    {log_likelihoods_ n_features_in_ feature_names_in_}

    See Also
    --------
    sklearn.mixture.GaussianMixture : Unconditional Gaussian mixture (EM).
    sklearn.tree.DecisionTreeRegressor : Hard, axis-aligned partitions (CART).

    References
    ----------
    .. [1] R. A. Jacobs, M. I. Jordan, S. J. Nowlan and G. E. Hinton, "Adaptive
       mixtures of local experts", Neural Computation 3(1), 79-87, 1991.
    .. [2] M. I. Jordan and R. A. Jacobs, "Hierarchical mixtures of experts and
       the EM algorithm", Neural Computation 6(2), 181-214, 1994.
    .. [3] D. Böhning, "Multinomial logistic regression algorithm", Annals of
       the Institute of Statistical Mathematics 44(1), 197-200, 1992.
    .. [4] L. Xu, M. I. Jordan and G. E. Hinton, "An alternative model for
       mixtures of experts", NIPS 7, 633-640, 1995.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, size=(400, 1))
    >>> y = np.where(X[:, 0] < 0, -2 * X[:, 0], 3 + X[:, 0])
    >>> y = y + 0.1 * rng.standard_normal(400)
    >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    >>> np.sort(moe.coef_.ravel()).round(1)
    array([-2.,  1.])
    >>> round(moe.score(X, y), 3)
    0.992

    Counts with Poisson experts; a regression tree as each expert:

    >>> counts = rng.poisson(np.exp(np.where(X[:, 0] < 0, 2.0, 0.5 * X[:, 0])))
    >>> pois = MixtureOfExpertsRegressor(2, expert="poisson", random_state=0)
    >>> np.sort(pois.fit(X, counts).coef_.ravel()).round(1)
    array([0. , 0.5])
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> trees = MixtureOfExpertsRegressor(
    ...     2, expert=DecisionTreeRegressor(max_depth=2), random_state=0)
    >>> len(trees.fit(X, y).experts_)
    2
    """

    _parameter_constraints: dict = {
        **BaseMoE._parameter_constraints,
        "n_experts": [Interval(Integral, 1, None, closed="left")],
        "top_k": [Interval(Integral, 1, None, closed="left"), None],
        "expert": [StrOptions({"gaussian", "poisson"}),
                   HasMethods(["fit", "predict"])],
    }
    _y_numeric = True

    def __init__(
        self,
        n_experts: int = 3,
        *,
        alpha: float = 1e-6,
        gate_alpha: float = 1e-3,
        reg_var: float = 1e-6,
        gate_solver: str = "auto",
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
        expert="gaussian",
        gate: str = "softmax",
        gate_covariance_type: str = "full",
        reg_covar: float = 1e-6,
        gate_features=None,
        expert_features=None,
        device: str | None = None,
    ):
        self.n_experts = n_experts
        self.expert = expert
        self.gate = gate
        self.gate_covariance_type = gate_covariance_type
        self.reg_covar = reg_covar
        self.gate_features = gate_features
        self.expert_features = expert_features
        self.alpha = alpha
        self.gate_alpha = gate_alpha
        self.reg_var = reg_var
        self.gate_solver = gate_solver
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
        self.device = device

    # ----------------------------------------------------------------- hooks
    def _branching(self):
        return (self.n_experts,)

    def _encode_targets(self, y, fitted=False, sample_weight=None):
        # astype, not asarray: at fit on Dask input y is a lazy Dask array
        Y = y.astype(np.float64, copy=False)
        if fitted and (Y.ndim == 1) != self._y_1d:
            raise ValueError(
                f"y has {Y.ndim} dimension(s) but the model was fitted on "
                f"{1 if self._y_1d else 2}-dimensional y."
            )
        if not fitted:
            self._y_1d = Y.ndim == 1
        if self.expert == "poisson" and np.any(Y < 0):
            raise ValueError(
                "expert='poisson' models counts: y must be non-negative; got "
                f"min(y) = {Y.min():.6g}. Use expert='gaussian' for real-valued "
                "targets."
            )
        Y = Y.reshape(Y.shape[0], -1)
        if fitted and Y.shape[1] != self._n_outputs:
            raise ValueError(
                f"y has {Y.shape[1]} outputs; the model was fitted on "
                f"{self._n_outputs}."
            )
        return Y, self._target_scale(Y, sample_weight)

    def _target_scale(self, Y, sample_weight=None):
        # weighted variance: integer weights must act as repeated rows
        mean = np.average(Y, axis=0, weights=sample_weight)
        return np.average((Y - mean) ** 2, axis=0, weights=sample_weight)

    def _init_target_scale(self, n_outputs):
        # experts differ in how y depends on x: the targets weigh as much as
        # all the inputs together in the k-means start (measured on sharp-gate
        # data with d=10, K=8: fewer starts in poor local optima than weight 1)
        return np.sqrt(self.n_features_in_ / n_outputs)

    def _make_experts(self, n_leaves, n_outputs, y_scale=None):
        features = getattr(self, "_expert_index", None)
        if self.expert == "poisson":
            return PoissonExperts(n_leaves, n_outputs, alpha=self.alpha,
                                  features=features)
        if y_scale is None:
            var_floor = np.zeros(n_outputs)
        else:
            var_floor = self.reg_var * np.where(y_scale > 0, y_scale, 1.0)
            var_floor = np.maximum(var_floor, np.finfo(float).tiny)
        if not isinstance(self.expert, str):
            return EstimatorRegressorExperts(self.expert, n_leaves, n_outputs,
                                             var_floor=var_floor, features=features)
        return GaussianExperts(n_leaves, n_outputs, alpha=self.alpha,
                               var_floor=var_floor, features=features)

    def _set_expert_attributes(self, experts):
        family = self._make_experts(self._n_leaves(), self._n_outputs)
        attrs = family.attributes(experts)
        for name in _EXPERT_ATTRIBUTES:  # none left from a fit of another family
            if name not in attrs and name in self.__dict__:
                delattr(self, name)
        for name, value in attrs.items():
            if self._y_1d and name in _PER_OUTPUT:
                value = value[:, 0]
            setattr(self, name, value)

    def _get_expert_params(self):
        L, m = self._n_leaves(), self._n_outputs
        family = self._make_experts(L, m)
        attrs = {}
        for name in family.attribute_names:
            value = getattr(self, name)
            if name in _PER_OUTPUT:
                value = np.reshape(value, (L, m, -1) if name == "coef_" else (L, m))
            attrs[name] = value
        return family.from_attributes(**attrs)

    # -------------------------------------------------------------- public
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the mixture by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; integer weights act as repeated rows.

        Returns
        -------
        self : MixtureOfExpertsRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    def _mixture_moments(self, X, with_second=True):
        """Mean and second moment of the predictive mixture (or of its top-k)."""
        if self._on_gpu(X):
            from ._backend._cupy import mixture_moments

            return mixture_moments(self, X, with_second)
        model = self._fitted_model()
        params = self._params()
        family = model.experts
        k = self._top_k()
        if k is None:  # every expert, in chunks of rows (the work stays in cache)
            mean = np.empty((X.shape[0], self._n_outputs))
            second = np.empty_like(mean) if with_second else None

            def chunk(a, b):
                gate = model.gate_proba(X[a:b], params)
                mu = family.means(X[a:b], params.experts)  # (n, L, m)
                mean[a:b] = np.einsum("nl,nlm->nm", gate, mu)
                if with_second:
                    var = family.variance(mu, params.experts)
                    second[a:b] = np.einsum("nl,nlm->nm", gate, mu * mu + var)

            # a user's estimator experts: one call at a time
            n_jobs = None if family.needs_data else self.n_jobs
            for_row_chunks(chunk, X.shape[0], n_jobs)
            return mean, second
        leaves, weights, mu = model.top_k_experts(X, params, k)  # mu (n, k, m)
        mean = np.einsum("nk,nkm->nm", weights, mu)
        if not with_second:
            return mean, None
        var = family.variance(mu, params.experts, leaves)
        return mean, np.einsum("nk,nkm->nm", weights, mu * mu + var)

    def predict(self, X, return_std=False):
        """Mean of the predictive mixture (and, optionally, its standard deviation).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        return_std : bool, default=False
            Also return the mixture's predictive standard deviation
            ``sqrt(sum_k g_k (s2_k + mu_k^2) - mean^2)``.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            ``sum_k g_k(x) mu_k(x)``; with ``top_k`` set, the sums run over the
            ``top_k`` most probable experts of each row, ``g`` renormalised.
        y_std : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Only when ``return_std`` is True.
        """
        X = self._validate_X(X)
        mean, second = self._mixture_moments(X, with_second=return_std)
        out = mean[:, 0] if self._y_1d else mean
        if not return_std:
            return out
        std = np.sqrt(np.maximum(second - mean * mean, 0.0))
        return out, (std[:, 0] if self._y_1d else std)

    def sample(self, X, random_state=None):
        """Draw one ``y`` from the fitted conditional density for each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Draws.
        experts : ndarray of shape (n_samples,)
            The expert each draw came from.
        """
        X = to_host(self._validate_X(X))  # draws on the CPU
        leaves, rng = self._sample_leaves(X, random_state)
        model = self._fitted_model()
        y = model.experts.sample(X, self._params().experts, leaves, rng)
        return (y[:, 0] if self._y_1d else y), leaves

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        if getattr(self, "expert", None) == "poisson":
            tags.target_tags.positive_only = True
        return tags
