"""Hierarchical mixtures of experts (Jordan & Jacobs 1994).

An HME is a gating tree of depth ``depth`` whose every internal node is a
softmax gate and whose leaves are experts. The E-step, the M-steps and EM are
those of the flat mixture (a flat mixture is the tree of depth 1, see
``skmoe._tree``): the hierarchical estimators only describe the tree and read
it back. ``_HierarchicalMixin`` does this for any flat estimator, so the
hierarchical variant of a flat estimator is the mixin, an ``__init__`` that
takes ``depth`` and ``branching`` instead of ``n_experts``, and a docstring.
"""

import copy
from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._em import run_em
from ._init import tree_order
from ._moe import MixtureOfExpertsRegressor
from ._moe_classifier import MixtureOfExpertsClassifier
from ._tree import GatingTree
from .utils._docstrings import fill_docstring
from .utils._sklearn_compat import Interval, StrOptions, _fit_context

# More experts than this is almost surely a mistake (responsibilities are n x L).
MAX_EXPERTS = 2**16
# EM iterations of the flat mixture that ``init_params="flat"`` runs first.
FLAT_INIT_ITER = 20


def _hierarchical_constraints(flat_constraints):
    """A flat estimator's constraints with ``depth``/``branching`` for ``n_experts``."""
    out = {k: v for k, v in flat_constraints.items() if k != "n_experts"}
    out["depth"] = [Interval(Integral, 1, None, closed="left")]
    out["branching"] = [Interval(Integral, 2, None, closed="left"), "array-like"]
    out["init_params"] = [StrOptions({"kmeans", "random", "tree", "flat"}),
                          "array-like"]
    return out


def _feature_names(est):
    names = getattr(est, "feature_names_in_", None)
    if names is None:
        return [f"x{j}" for j in range(est.n_features_in_)]
    return [str(v) for v in names]


def _linear_text(coef, intercept, names, n_top):
    """``+2.00*x0 - 1.00*x2 ... + 0.50`` with the ``n_top`` largest |coef|."""
    order = np.argsort(-np.abs(coef), kind="stable")[:n_top]
    terms = [f"{coef[j]:+.3g}*{names[j]}" for j in order if coef[j] != 0]
    if len(order) < coef.size:
        terms.append("...")
    terms.append(f"{intercept:+.3g}")
    text = " ".join(terms)
    return text[1:] if text.startswith("+") else text


class _HierarchicalMixin:
    """Gating-tree hooks and fitted attributes shared by the HME estimators.

    Put it before the flat estimator in the bases; the subclass's ``__init__``
    stores ``depth`` and ``branching`` (and the flat estimator's other
    parameters), and its ``_parameter_constraints`` come from
    ``_hierarchical_constraints``.
    """

    def _branching(self):
        depth = self.depth
        branching = self.branching
        if isinstance(branching, Integral) and not isinstance(branching, bool):
            levels = (int(branching),) * depth
        else:
            arr = np.asarray(branching)
            if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(
                    "branching must be an int or a sequence of ints, one per "
                    f"level; got {branching!r}."
                )
            levels = tuple(int(b) for b in arr)
            if len(levels) != depth:
                raise ValueError(
                    f"branching has {len(levels)} levels but depth={depth}: give "
                    "one branching factor per level (root first), or one int "
                    "for all levels."
                )
        if min(levels) < 2:
            raise ValueError(
                f"every branching factor must be >= 2 (a gate with one branch "
                f"does nothing); got {levels}."
            )
        n_experts = int(np.prod(levels, dtype=np.float64))
        if n_experts > MAX_EXPERTS:
            raise ValueError(
                f"depth={depth} with branching {levels} gives {n_experts} experts "
                f"(more than {MAX_EXPERTS}): use a smaller depth or branching."
            )
        return levels

    def _initial_resp(self, data, n_leaves, rng):
        if isinstance(self.init_params, str) and self.init_params == "flat":
            return self._flat_resp(data, n_leaves, rng)
        return super()._initial_resp(data, n_leaves, rng)

    def _flat_resp(self, data, n_leaves, rng):
        """Initial responsibilities of ``init_params="flat"``.

        A flat mixture of ``n_leaves`` experts (one softmax gate over all of
        them), started by k-means, runs ``FLAT_INIT_ITER`` EM iterations on
        ``data``. Its experts are then placed on the tree's leaves top down by
        ``tree_order`` on the flat gate's columns (slopes and intercept): at
        every node the node's experts are sorted along the first principal
        axis of their gate vectors and cut into equal runs, one per branch,
        so experts whose gates are alike (which the flat gate routes to
        neighbouring regions of the input space) start under the same gate.
        The posteriors of the flat mixture, columns permuted so, are returned.
        """
        flat = copy.copy(self)  # same settings; one gate over all experts
        flat.depth, flat.branching, flat.init_params = 1, n_leaves, "kmeans"
        X, Y = data.X, data.Y
        y_scale = flat._target_scale(Y, data.sample_weight)
        model = flat._model(X.shape[1], Y.shape[1], y_scale, X.shape[0])
        min_mass = 1e-10 * data.total_weight
        params, _ = model.init_from_resp(
            data, flat._initial_resp(data, n_leaves, rng), min_mass=min_mass)
        params = run_em(model, data, params, max_iter=FLAT_INIT_ITER,
                        tol=self.tol, min_mass=min_mass).params
        resp = np.array(model.e_step(X, Y, params).resp, dtype=float)
        if len(self._branching()) == 1:
            return resp
        order = tree_order(np.asarray(params.gate).T, self._branching())
        out = np.empty_like(resp)
        out[:, order] = resp
        return out

    def _set_params_attributes(self, params):
        super()._set_params_attributes(params)
        tree = GatingTree(self._branching())
        start = tree.node_start
        self.n_experts_ = tree.n_leaves
        self.branching_ = tree.branching
        if hasattr(self, "gate_coef_"):  # softmax gates (not the localised gate)
            self.node_gate_coef_ = [self.gate_coef_[start[j]:start[j + 1]].copy()
                                    for j in range(tree.n_nodes)]
            self.node_gate_intercept_ = [
                self.gate_intercept_[start[j]:start[j + 1]].copy()
                for j in range(tree.n_nodes)]
        else:
            for name in ("node_gate_coef_", "node_gate_intercept_"):
                self.__dict__.pop(name, None)
        # branch index of each slot inside its node
        branch = np.arange(tree.n_slots) - start[tree.slot_node]
        paths = [()]
        for j in range(1, tree.n_nodes):
            s = tree.node_parent_slot[j]
            paths.append(paths[tree.slot_node[s]] + (int(branch[s]),))
        self.node_paths_ = paths
        self.expert_paths_ = branch[tree.leaf_path]

    def _expert_summary(self, leaf, names, n_features):
        """Lines describing expert ``leaf``: one linear predictor per output
        (regression: ``y``, Poisson: ``log E[y]``, classification: the logit of
        every class), or the expert estimator's repr."""
        if not hasattr(self, "coef_"):  # scikit-learn estimators as experts
            return [repr(self.experts_[leaf])] if hasattr(self, "experts_") else []
        coef = np.asarray(self.coef_[leaf])
        coef = coef.reshape(-1, coef.shape[-1])
        intercept = np.reshape(self.intercept_[leaf], -1)
        m = coef.shape[0]
        if hasattr(self, "classes_"):
            labels = [f"logit[{c}]" for c in self.classes_]
        else:
            labels = ["y"] if getattr(self, "_y_1d", m == 1) else [
                f"y{o}" for o in range(m)]
            if getattr(self, "expert", None) == "poisson":
                labels = [f"log E[{v}]" for v in labels]
        noise = [""] * m
        if hasattr(self, "noise_variance_"):
            sd = np.sqrt(np.reshape(self.noise_variance_[leaf], -1))
            noise = [f"  (noise sd {v:.3g})" for v in sd]
        texts = [_linear_text(coef[o], intercept[o], names, n_features)
                 for o in range(m)]
        return [f"{labels[o]} = {texts[o]}{noise[o]}" for o in range(m)]

    def tree_summary(self, n_features: int = 3) -> str:
        """Readable description of the fitted tree of gates and experts.

        Each gate is listed with the inputs it splits on: the features with
        the largest log-odds range ``max_b w_bf - min_b w_bf`` across its
        branches (per unit of the feature, so standardise ``X`` to compare
        features), then its children, indented, down to the experts.

        Parameters
        ----------
        n_features : int, default=3
            How many features to name per gate and per expert.

        Returns
        -------
        str
            One line per gate and per expert (more for multi-output experts).
        """
        check_is_fitted(self)
        names = _feature_names(self)
        tree = GatingTree(self._branching())
        lines = [f"{type(self).__name__}: {tree.n_leaves} experts, "
                 f"{tree.n_nodes} gates, branching {tree.branching}"]
        child = tree.slot_child

        def gate_text(j):
            if not hasattr(self, "node_gate_coef_"):
                return "localised (Gaussian) gate"
            W = self.node_gate_coef_[j]
            spread = W.max(axis=0) - W.min(axis=0)
            order = [f for f in np.argsort(-spread, kind="stable")[:n_features]
                     if spread[f] > 0]
            if not order:
                return "constant (no input moves it)"
            return "splits on " + ", ".join(f"{names[f]} ({spread[f]:.3g})"
                                            for f in order)

        def walk(j, indent):
            lo, hi = tree.node_start[j], tree.node_start[j + 1]
            for b, s in enumerate(range(lo, hi)):
                c = int(child[s])
                pad = "  " * indent
                if c < tree.n_nodes:
                    lines.append(f"{pad}branch {b} -> gate {c}: {gate_text(c)}")
                    walk(c, indent + 1)
                else:
                    leaf = c - tree.n_nodes
                    more = self._expert_summary(leaf, names, n_features)
                    head = f"{pad}branch {b} -> expert {leaf}"
                    if len(more) == 1:
                        lines.append(f"{head}: {more[0]}")
                    else:
                        lines.append(head)
                        lines.extend(f"{pad}    {text}" for text in more)

        lines.append(f"gate 0 (root): {gate_text(0)}")
        walk(0, 1)
        return "\n".join(lines)


@fill_docstring
class HierarchicalMixtureOfExpertsRegressor(_HierarchicalMixin,
                                            MixtureOfExpertsRegressor):
    """Hierarchical mixture of linear-Gaussian experts, fitted by EM.

    A balanced tree of softmax gates of depth ``depth`` routes each input to
    ``prod(branching)`` linear-Gaussian experts at its leaves: an expert's
    gate probability is the product of the gate probabilities on its path
    (Jordan & Jacobs 1994). EM is that of
    :class:`MixtureOfExpertsRegressor` (which is the tree of depth 1): one
    fused E-step pass over the tree (upward for the likelihoods, downward for
    the posteriors of every branch), exact weighted ridge fits of the experts
    and a Newton or Böhning step of every gate's soft-target logistic
    regression. The penalised log-likelihood never decreases.

    Parameters
    ----------
    {depth branching}
    alpha : float, default=1e-6
        L2 penalty on the experts' slopes (intercepts are not penalised).
    gate_alpha : float, default=1e-3
        L2 penalty on every gate's slopes.
    reg_var : float, default=1e-6
        Floor of every noise variance, relative to the variance of ``y``.
    gate_solver : {"auto", "newton", "bohning"}, default="auto"
        Gate M-step: one exact Newton step per gate, or one step of Böhning's
        fixed curvature bound (a gradient's cost). "auto" uses Newton while
        ``(max(branching) - 1) * (n_features + 1) <= 128``.
    {max_iter tol n_init}
    init_params : {"kmeans", "random", "tree", "flat"} or array-like, \
            default="kmeans"
        Initial responsibilities: "kmeans" clusters the standardised
        ``[X, y]``; "random" draws them uniformly; "tree" gives each leaf of a
        CART tree grown with ``max_leaf_nodes=n_experts_`` to one expert, CART
        leaves in left-to-right order onto the experts in tree order (so late
        CART splits start under one gate); "flat" first fits a flat
        :class:`MixtureOfExpertsRegressor` of `n_experts_` experts ("kmeans"
        start, 20 EM iterations, not counted in `n_iter_`), places its experts
        on the leaves by recursive balanced bisection of the flat gate's
        vectors (experts the flat gate routes alike share a gate) and starts
        from its posteriors: often a much better optimum for deep trees, for
        about 20 more iterations' cost; or labels of shape (n_samples,) or
        responsibilities of shape (n_samples, `n_experts_`).
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
        Sparse prediction: ``predict`` follows the gates best first down the
        tree and evaluates only the ``top_k`` most probable experts of each
        row (weights renormalised), never the other experts or the gates it
        does not reach. None (or ``n_experts_``) uses every expert.
    expert : {"gaussian", "poisson"} or regressor, default="gaussian"
        Expert family at the leaves, as for :class:`MixtureOfExpertsRegressor`:
        linear-Gaussian, Poisson (log link, counts), or any scikit-learn
        regressor whose ``fit`` takes ``sample_weight`` (generalised EM).
    gate : {"softmax", "gaussian"}, default="softmax"
        Gate of every node. The localised ("gaussian") gate serves flat
        mixtures only, so it needs ``depth=1``.
    gate_covariance_type : {"full", "diag"}, default="full"
        Covariance of the localised gate (``gate="gaussian"`` only).
    reg_covar : float, default=1e-6
        Added to the diagonal of the localised gate's covariances.
    gate_features : array-like of int or str, default=None
        Columns of ``X`` the gates see (None: all).
    expert_features : array-like of int or str, default=None
        Columns of ``X`` the experts see (None: all).
    device : {"cpu", "cuda", "auto"} or None, default=None
        Where EM and prediction run, as for
        :class:`MixtureOfExpertsRegressor`: None follows ``X`` (CuPy arrays
        on their GPU, with the fitted attributes left there; ``to_numpy()``
        copies them to the host), "cuda" the GPU for NumPy input too, "cpu"
        the CPU, "auto" also the GPU for NumPy inputs of at least 1e6 values.

    Attributes
    ----------
    {n_experts_ branching_}
    coef_ : ndarray of shape (`n_experts_`, n_features) or \
            (`n_experts_`, n_outputs, n_features)
        Experts' slopes, experts in tree order (leaf ``l`` below gate path
        ``expert_paths_[l]``).
    intercept_ : ndarray of shape (`n_experts_`,) or (`n_experts_`, n_outputs)
        Experts' intercepts.
    noise_variance_ : ndarray of shape (`n_experts_`,) or (`n_experts_`, n_outputs)
        Experts' noise variances.
    experts_ : list of estimators
        Estimator experts only: the fitted clone of each expert, in tree order.
    gate_coef_ : ndarray of shape (n_slots, n_features)
        Slopes of all gates stacked: one row per branch ("slot"), gates in
        breadth-first order (root first); centred within each gate.
    gate_intercept_ : ndarray of shape (n_slots,)
        Intercepts of all gates, stacked like ``gate_coef_``.
    {node_gate_coef_ node_gate_intercept_ node_paths_ expert_paths_ converged_ n_iter_}
    log_likelihood_ : float
        Final mean per-sample penalised log-likelihood of the best run.
    {log_likelihoods_ n_features_in_ feature_names_in_}

    See Also
    --------
    MixtureOfExpertsRegressor : The flat mixture (an HME of depth 1).
    sklearn.tree.DecisionTreeRegressor : Hard, axis-aligned tree (CART).

    References
    ----------
    .. [1] M. I. Jordan and R. A. Jacobs, "Hierarchical mixtures of experts and
       the EM algorithm", Neural Computation 6(2), 181-214, 1994.
    .. [2] N. Shazeer et al., "Outrageously large neural networks: the
       sparsely-gated mixture-of-experts layer", ICLR 2017 (top-k gating).

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import HierarchicalMixtureOfExpertsRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-2, 2, size=(2000, 2))
    >>> left, low = X[:, 0] < 0, X[:, 1] < 0
    >>> y = np.where(left, np.where(low, X[:, 0], -X[:, 0]),
    ...              np.where(low, 4 + X[:, 1], 4 - X[:, 1]))
    >>> y = y + 0.1 * rng.standard_normal(2000)
    >>> hme = HierarchicalMixtureOfExpertsRegressor(
    ...     depth=2, branching=2, init_params="tree", random_state=0).fit(X, y)
    >>> hme.n_experts_, len(hme.node_gate_coef_)
    (4, 3)
    >>> round(hme.score(X, y), 2)
    0.99
    >>> print(hme.tree_summary(n_features=1))  # doctest: +ELLIPSIS
    HierarchicalMixtureOfExpertsRegressor: 4 experts, 3 gates, branching (2, 2)
    gate 0 (root): splits on x0 (...)
      branch 0 -> gate 1: splits on x1 (...)
        branch 0 -> expert 0: ...
    ...
    """

    _parameter_constraints: dict = _hierarchical_constraints(
        MixtureOfExpertsRegressor._parameter_constraints)

    def __init__(
        self,
        depth: int = 2,
        *,
        branching=2,
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
        self.depth = depth
        self.branching = branching
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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the hierarchical mixture by EM.

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
        self : HierarchicalMixtureOfExpertsRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)


@fill_docstring
class HierarchicalMixtureOfExpertsClassifier(_HierarchicalMixin,
                                             MixtureOfExpertsClassifier):
    """Hierarchical mixture of multinomial logistic experts, fitted by EM.

    A balanced tree of softmax gates of depth ``depth`` routes each input to
    ``prod(branching)`` multinomial logistic experts at its leaves: an
    expert's gate probability is the product of the gate probabilities on its
    path, and ``P(y = c | x) = sum_l g_l(x) p_lc(x)`` (Jordan & Jacobs 1994),
    binary or multiclass. EM is that of :class:`MixtureOfExpertsClassifier`
    (which is the tree of depth 1): one fused E-step pass over the tree, one
    Newton (IRLS) step of every expert's weighted softmax regression and a
    Newton or Böhning step of every gate's soft-target logistic regression.
    The penalised log-likelihood never decreases.

    Parameters
    ----------
    {depth branching}
    expert : "logistic" or classifier, default="logistic"
        Expert family at the leaves, as for
        :class:`MixtureOfExpertsClassifier`: multinomial logistic regressions,
        or any scikit-learn classifier with ``predict_proba`` whose ``fit``
        takes ``sample_weight`` (cloned per expert; generalised EM).
    alpha : float, default=1.0
        L2 penalty on the logistic experts' slopes (``1 / C`` of
        ``LogisticRegression``; intercepts are not penalised).
    gate_alpha : float, default=1e-3
        L2 penalty on every gate's slopes.
    gate_solver : {"auto", "newton", "bohning"}, default="auto"
        Gate M-step: one exact Newton step per gate, or one step of Böhning's
        fixed curvature bound (a gradient's cost). "auto" uses Newton while
        ``(max(branching) - 1) * (n_features + 1) <= 128``.
    gate : {"softmax", "gaussian"}, default="softmax"
        Gate of every node. The localised ("gaussian") gate serves flat
        mixtures only, so it needs ``depth=1``.
    gate_covariance_type : {"full", "diag"}, default="full"
        Covariance of the localised gate (``gate="gaussian"`` only).
    reg_covar : float, default=1e-6
        Floor of the localised gate's covariances, relative to the features'
        variances.
    gate_features : array-like of int, bool or str, default=None
        Columns of ``X`` the gates see (None: all).
    expert_features : array-like of int, bool or str, default=None
        Columns of ``X`` the experts see (None: all).
    {max_iter tol n_init}
    init_params : {"kmeans", "random", "tree", "flat"} or array-like, \
            default="kmeans"
        Initial responsibilities: "kmeans" clusters the standardised
        ``[X, one-hot y]``, near clusters under the same gate; "random" draws
        them uniformly; "tree" gives each leaf of a CART tree grown with
        ``max_leaf_nodes=n_experts_`` to one expert, neighbouring CART leaves
        under the same gate; "flat" first fits a flat
        :class:`MixtureOfExpertsClassifier` of `n_experts_` experts ("kmeans"
        start, 20 EM iterations, not counted in `n_iter_`), places its experts
        on the leaves by recursive balanced bisection of the flat gate's
        vectors and starts from its posteriors; or labels of shape
        (n_samples,) or responsibilities of shape (n_samples, `n_experts_`).
    {random_state}
    warm_start : bool, default=False
        If True, ``fit`` resumes from the last fitted parameters.
    {verbose verbose_interval n_jobs}
    chunk_size : int, default=None
        Rows per chunk of a streamed (out-of-core) fit, as for
        :class:`MixtureOfExpertsClassifier`: with an int, or when ``X`` is a
        ``numpy.memmap``, ``fit`` reads ``X`` chunk by chunk and initialises
        on a random sample of at most 20,000 rows.
    top_k : int, default=None
        Sparse prediction: ``predict_proba`` follows the gates best first down
        the tree and mixes only the ``top_k`` most probable experts of each
        row (weights renormalised). None (or ``n_experts_``) uses every expert.

    Attributes
    ----------
    {classes_ n_experts_ branching_}
    coef_ : ndarray of shape (`n_experts_`, n_classes, n_features)
        Logistic experts' slopes (centred over classes), experts in tree
        order (leaf ``l`` below gate path ``expert_paths_[l]``).
    intercept_ : ndarray of shape (`n_experts_`, n_classes)
        Logistic experts' intercepts (centred over classes).
    experts_ : list of estimators
        Estimator experts only: the fitted clone of each expert, in tree order.
    gate_coef_ : ndarray of shape (n_slots, n_features)
        Slopes of all gates stacked: one row per branch ("slot"), gates in
        breadth-first order (root first); centred within each gate.
    gate_intercept_ : ndarray of shape (n_slots,)
        Intercepts of all gates, stacked like ``gate_coef_``.
    {node_gate_coef_ node_gate_intercept_ node_paths_ expert_paths_ converged_ n_iter_}
    log_likelihood_ : float
        Final mean per-sample penalised log-likelihood of ``y`` given ``x`` of
        the best run.
    {log_likelihoods_ n_features_in_ feature_names_in_}

    See Also
    --------
    MixtureOfExpertsClassifier : The flat mixture (an HME of depth 1).
    HierarchicalMixtureOfExpertsRegressor : The same tree for real targets.
    sklearn.tree.DecisionTreeClassifier : Hard, axis-aligned tree (CART).

    References
    ----------
    .. [1] M. I. Jordan and R. A. Jacobs, "Hierarchical mixtures of experts and
       the EM algorithm", Neural Computation 6(2), 181-214, 1994.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import HierarchicalMixtureOfExpertsClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-2, 2, size=(2000, 2))
    >>> left, low = X[:, 0] < 0, X[:, 1] < 0
    >>> logit = np.where(left, np.where(low, 4 * X[:, 0] + 4, -4 * X[:, 1] - 4),
    ...                  np.where(low, 4 * X[:, 1] + 4, 4 - 4 * X[:, 0]))
    >>> y = (logit + rng.logistic(size=2000) > 0).astype(int)
    >>> hme = HierarchicalMixtureOfExpertsClassifier(
    ...     depth=2, branching=2, init_params="tree", random_state=0).fit(X, y)
    >>> hme.n_experts_, len(hme.node_gate_coef_), hme.classes_
    (4, 3, array([0, 1]))
    >>> hme.predict_proba(X[:2]).shape
    (2, 2)
    >>> round(hme.score(X, y), 2)  # the Bayes classifier scores 0.87 here
    0.87
    >>> print(hme.tree_summary(n_features=1))  # doctest: +ELLIPSIS
    HierarchicalMixtureOfExpertsClassifier: 4 experts, 3 gates, branching (2, 2)
    gate 0 (root): splits on x0 (...)
    ...
    """

    _parameter_constraints: dict = _hierarchical_constraints(
        MixtureOfExpertsClassifier._parameter_constraints)

    def __init__(
        self,
        depth: int = 2,
        *,
        branching=2,
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
        self.depth = depth
        self.branching = branching
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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the hierarchical mixture by EM.

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
        self : HierarchicalMixtureOfExpertsClassifier
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)
