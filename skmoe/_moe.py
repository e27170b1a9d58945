"""Flat mixtures of experts (a gating tree of depth 1)."""

from numbers import Integral

import numpy as np
from sklearn.base import RegressorMixin

from ._base import BaseMoE
from ._model import CHUNK_ROWS
from .experts import GaussianExperts, GaussianParams
from .utils._sklearn_compat import Interval, _fit_context


class MixtureOfExpertsRegressor(RegressorMixin, BaseMoE):
    """Mixture of linear-Gaussian experts with a softmax gate, fitted by EM.

    The conditional density is ``p(y | x) = sum_k g_k(x) N(y; B_k [x, 1], S_k)``:
    a softmax (multinomial logit) gate ``g(x)`` chooses among ``n_experts``
    linear regressions, each with its own diagonal noise covariance ``S_k``
    (Jacobs, Jordan, Nowlan & Hinton 1991). Parameters are fitted by
    expectation-maximisation: the E-step computes each expert's posterior
    responsibility for each sample (one fused numba pass in log space), the
    M-step solves a weighted ridge regression per expert and takes a Newton or
    Böhning step of the gate's soft-target logistic regression. The penalised
    log-likelihood never decreases from one iteration to the next.

    Parameters
    ----------
    n_experts : int, default=3
        Number of experts.
    alpha : float, default=1e-6
        L2 penalty on the experts' slopes (scikit-learn's ``Ridge`` alpha for
        each expert's weighted fit; the intercepts are not penalised).
    gate_alpha : float, default=1e-3
        L2 penalty on the gate's slopes, as ``1 / C`` of scikit-learn's
        ``LogisticRegression``.
    reg_var : float, default=1e-6
        Floor of every noise variance, relative to the variance of ``y``.
    gate_solver : {"auto", "newton", "bohning"}, default="auto"
        Gate M-step: one exact Newton step (step halved if the likelihood
        falls), or one step of Böhning's fixed curvature bound, which costs a
        gradient only but needs many more EM iterations when the gate is
        sharp. "auto" uses Newton while ``(n_experts - 1) * (n_features + 1)
        <= 128``.
    max_iter : int, default=200
        Maximum number of EM iterations per initialisation; 0 initialises only.
    tol : float, default=1e-6
        EM stops when the mean per-sample penalised log-likelihood changes by
        less than ``tol``.
    n_init : int, default=1
        Number of initialisations; the run with the highest final
        log-likelihood is kept.
    init_params : {"kmeans", "random", "tree"} or array-like, default="kmeans"
        Initial responsibilities: "kmeans" clusters the standardised ``[X, y]``
        (fitted on at most 20,000 rows); "random" draws them uniformly; "tree"
        gives each leaf of a CART tree grown with ``max_leaf_nodes=n_experts``
        (on at most 100,000 rows) to one expert; or integer labels of shape
        (n_samples,) or responsibilities of shape (n_samples, n_experts).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation.
    warm_start : bool, default=False
        If True, ``fit`` resumes from the last fitted parameters (``n_init`` is
        then ignored).
    verbose : int, default=0
        1 prints each initialisation and every ``verbose_interval``-th
        iteration; 2 also the time and the log-likelihood change.
    verbose_interval : int, default=10
        Iterations between progress lines.
    n_jobs : int, default=None
        Threads of the E-step kernel (None: 1, -1: all cores).
    top_k : int, default=None
        Sparse prediction: ``predict`` evaluates only the ``top_k`` most
        probable experts of each row (their gate weights renormalised to sum
        to one) and never computes the others. None (or ``n_experts``) uses
        every expert. Fitting, ``predict_gate`` and ``sample`` are unaffected.

    Attributes
    ----------
    coef_ : ndarray of shape (n_experts, n_features) or \
            (n_experts, n_outputs, n_features)
        Experts' slopes.
    intercept_ : ndarray of shape (n_experts,) or (n_experts, n_outputs)
        Experts' intercepts.
    noise_variance_ : ndarray of shape (n_experts,) or (n_experts, n_outputs)
        Experts' noise variances.
    gate_coef_ : ndarray of shape (n_experts, n_features)
        Gate slopes (softmax logits; each column of the gate sums to zero).
    gate_intercept_ : ndarray of shape (n_experts,)
        Gate intercepts.
    converged_ : bool
        Whether the best run reached ``tol``.
    n_iter_ : int
        EM iterations of the best run.
    log_likelihood_ : float
        Final mean per-sample penalised log-likelihood of the best run.
    log_likelihoods_ : ndarray of shape (n_iter_ + 1,)
        Its history: after initialisation, then after every iteration.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

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
    0.996
    """

    _parameter_constraints: dict = {
        **BaseMoE._parameter_constraints,
        "n_experts": [Interval(Integral, 1, None, closed="left")],
        "top_k": [Interval(Integral, 1, None, closed="left"), None],
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
        top_k: int | None = None,
    ):
        self.n_experts = n_experts
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
        self.top_k = top_k

    # ----------------------------------------------------------------- hooks
    def _branching(self):
        return (self.n_experts,)

    def _encode_targets(self, y, fitted=False, sample_weight=None):
        Y = np.asarray(y, dtype=np.float64)
        if fitted and (Y.ndim == 1) != self._y_1d:
            raise ValueError(
                f"y has {Y.ndim} dimension(s) but the model was fitted on "
                f"{1 if self._y_1d else 2}-dimensional y."
            )
        if not fitted:
            self._y_1d = Y.ndim == 1
        Y = Y.reshape(Y.shape[0], -1)
        if fitted and Y.shape[1] != self._n_outputs:
            raise ValueError(
                f"y has {Y.shape[1]} outputs; the model was fitted on "
                f"{self._n_outputs}."
            )
        # weighted variance: integer weights must act as repeated rows
        mean = np.average(Y, axis=0, weights=sample_weight)
        return Y, np.average((Y - mean) ** 2, axis=0, weights=sample_weight)

    def _make_experts(self, n_leaves, n_outputs, y_scale=None):
        if y_scale is None:
            var_floor = np.zeros(n_outputs)
        else:
            var_floor = self.reg_var * np.where(y_scale > 0, y_scale, 1.0)
            var_floor = np.maximum(var_floor, np.finfo(float).tiny)
        return GaussianExperts(n_leaves, n_outputs, alpha=self.alpha,
                               var_floor=var_floor)

    def _set_expert_attributes(self, experts):
        L, m = experts.noise_variance.shape
        coef = experts.coef
        slopes = coef[:-1].T.reshape(L, m, -1)
        intercept = coef[-1].reshape(L, m)
        var = experts.noise_variance
        if self._y_1d:
            slopes, intercept, var = slopes[:, 0], intercept[:, 0], var[:, 0]
        self.coef_ = slopes.copy()
        self.intercept_ = intercept.copy()
        self.noise_variance_ = var.copy()

    def _get_expert_params(self):
        L, m = self._n_leaves(), self._n_outputs
        slopes = self.coef_.reshape(L, m, -1)
        coef = np.vstack([slopes.reshape(L * m, -1).T,
                          np.reshape(self.intercept_, (1, L * m))])
        var = np.reshape(self.noise_variance_, (L, m)).astype(float)
        return GaussianParams(coef, var)

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
        model = self._fitted_model()
        params = self._params()
        var = params.experts.noise_variance  # (L, m)
        k = self._top_k()
        if k is None:  # every expert, in chunks of rows (the work stays in cache)
            mean = np.empty((X.shape[0], var.shape[1]))
            second = np.empty_like(mean) if with_second else None
            for a in range(0, X.shape[0], CHUNK_ROWS):
                Xc = X[a:a + CHUNK_ROWS]
                gate = model.gate_proba(Xc, params)
                mu = model.experts.means(Xc, params.experts)  # (n, L, m)
                mean[a:a + CHUNK_ROWS] = np.einsum("nl,nlm->nm", gate, mu)
                if with_second:
                    second[a:a + CHUNK_ROWS] = np.einsum("nl,nlm->nm", gate,
                                                         mu * mu + var)
            return mean, second
        leaves, weights, mu = model.top_k_experts(X, params, k)  # mu (n, k, m)
        mean = np.einsum("nk,nkm->nm", weights, mu)
        if not with_second:
            return mean, None
        return mean, np.einsum("nk,nkm->nm", weights, mu * mu + var[leaves])

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
        X = self._validate_X(X)
        leaves, rng = self._sample_leaves(X, random_state)
        model = self._fitted_model()
        y = model.experts.sample(X, self._params().experts, leaves, rng)
        return (y[:, 0] if self._y_1d else y), leaves

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
