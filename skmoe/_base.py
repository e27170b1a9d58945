"""Shared estimator logic: validation, initialisation, ``n_init`` and warm start.

Concrete estimators supply a few hooks (the tree's branching, the expert
family, how targets are encoded and how parameters map to fitted attributes);
everything else, and the policy around EM runs, lives here.
"""

import time
import warnings
from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from ._backend._chunked import INIT_MAX_ROWS, STREAM_CHUNK_ROWS, ChunkedFitData
from ._backend._device import (
    compute_device,
    estimator_to_numpy,
    is_cupy_array,
    to_host,
)
from ._backend._dispatch import ROW_METHODS, dask_rows, import_dask, is_dask, is_memmap
from ._em import MONOTONE_RTOL, run_em
from ._init import cart_resp, tree_order
from ._kernels._config import effective_n_jobs
from ._model import FitData, MixtureModel, Params
from ._model_local import LocalGateModel
from ._tree import GatingTree
from .gates._gaussian import GaussianGateParams
from .utils._sklearn_compat import (
    Interval,
    StrOptions,
    _check_sample_weight,
    validate_data,
)

# k-means for the initial partition runs on at most this many rows.
KMEANS_MAX_ROWS = 20_000
# Newton's gate matrix has ((b - 1) p)^2 entries per node and its sums cost
# n ((b - 1) p)^2 / 2 per pass; above this size Böhning's fixed bound is used.
NEWTON_MAX_DIM = 128


def _kmeans_plusplus(Z, w, k, rng):
    """k-means++ seeds drawn by inverse CDF over cumulative weights.

    Rows are first sorted, and one uniform draw picks each centre, so integer
    weights and repeated rows (in any order) give the same centres: the
    initialisation respects ``sample_weight`` exactly.
    """
    order = np.lexsort(Z.T[::-1])  # row order independent of the input's order
    Z, w = Z[order], w[order]
    centres = np.empty((k, Z.shape[1]))
    cum = np.cumsum(w)
    idx = min(np.searchsorted(cum, rng.uniform() * cum[-1], side="right"), len(w) - 1)
    centres[0] = Z[idx]
    d2 = np.sum((Z - centres[0]) ** 2, axis=1)
    for j in range(1, k):
        cum = np.cumsum(w * d2)
        if not cum[-1] > 0:  # fewer distinct points than centres
            cum = np.cumsum(w)
        u = rng.uniform() * cum[-1]
        idx = min(np.searchsorted(cum, u, side="right"), len(w) - 1)
        centres[j] = Z[idx]
        d2 = np.minimum(d2, np.sum((Z - centres[j]) ** 2, axis=1))
    return centres


class BaseMoE(BaseEstimator):
    """Base class of the mixture-of-experts estimators (not for direct use)."""

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "gate_alpha": [Interval(Real, 0, None, closed="left")],
        "reg_var": [Interval(Real, 0, None, closed="left")],
        "gate_solver": [StrOptions({"auto", "newton", "bohning"})],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "random", "tree"}), "array-like"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
        "gate": [StrOptions({"softmax", "gaussian"})],
        "gate_covariance_type": [StrOptions({"full", "diag"})],
        "reg_covar": [Interval(Real, 0, None, closed="left")],
        "gate_features": ["array-like", None],
        "expert_features": ["array-like", None],
        "device": [StrOptions({"auto", "cpu", "cuda"}), None],
    }
    # validate_data's multi_output for y (classifiers: 1-D labels only)
    _multi_output = True

    def __init_subclass__(cls, **kwargs):
        """Make every estimator's row-wise methods lazy on Dask input.

        ``predict``, ``predict_proba``, ... defined by a subclass are wrapped
        (``skmoe._backend._dispatch.dask_rows``): NumPy input runs them as
        written, Dask input maps them over row blocks and returns Dask arrays.
        """
        super().__init_subclass__(**kwargs)
        for name in ROW_METHODS:
            method = cls.__dict__.get(name)
            if callable(method) and not isinstance(method, (staticmethod, type)):
                setattr(cls, name, dask_rows(method))

    # ----------------------------------------------------------------- hooks
    @abstractmethod
    def _branching(self):
        """Branching factor of every level of the gating tree (root first)."""

    @abstractmethod
    def _encode_targets(self, y, fitted=False, sample_weight=None):
        """``(Y, y_scale)``: 2-D float targets for the family and their scale.

        ``sample_weight`` (given at fit) weights the scale, so that integer
        weights and repeated rows give the same model.
        """

    @abstractmethod
    def _target_scale(self, Y, sample_weight=None):
        """The scale of encoded targets ``Y`` that ``_make_experts`` takes."""

    @abstractmethod
    def _make_experts(self, n_leaves, n_outputs, y_scale):
        """The expert family object."""

    @abstractmethod
    def _set_expert_attributes(self, experts):
        """Write the experts' fitted attributes."""

    @abstractmethod
    def _get_expert_params(self):
        """Read the experts' parameters back from the fitted attributes."""

    # ------------------------------------------------------------- helpers
    def _n_leaves(self):
        return int(np.prod(self._branching()))

    def _model(self, n_features, n_outputs, y_scale=None, n_samples=0):
        tree = GatingTree(self._branching())
        experts = self._make_experts(tree.n_leaves, n_outputs, y_scale)
        gate_features = getattr(self, "_gate_index", None)
        if self._gate_kind() == "gaussian":
            return LocalGateModel(tree, experts,
                                  covariance_type=self.gate_covariance_type,
                                  reg_covar=self.reg_covar, n_jobs=self.n_jobs,
                                  gate_features=gate_features)
        solver = self.gate_solver
        if solver == "auto":
            b = int(np.max(np.diff(tree.node_start)))
            dim = (b - 1) * (n_features + 1)
            solver = "newton" if dim <= NEWTON_MAX_DIM else "bohning"
        return MixtureModel(tree, experts, gate_alpha=self.gate_alpha,
                            gate_solver=solver, n_jobs=self.n_jobs,
                            gate_features=gate_features)

    def _gate_kind(self):
        return getattr(self, "gate", "softmax")

    def _feature_index(self, spec, name):
        """Sorted column indices selected by ``spec`` (None: all features).

        ``spec``: column indices, a boolean mask of length ``n_features_in_``,
        or feature names when ``X`` had them at fit.
        """
        if spec is None:
            return None
        n = self.n_features_in_
        arr = np.asarray(spec)
        if arr.ndim != 1:
            raise ValueError(
                f"{name} must be a 1-D sequence of column indices, a boolean mask "
                f"or feature names; got an array of shape {arr.shape}."
            )
        if arr.dtype == bool:
            if arr.size != n:
                raise ValueError(
                    f"{name} as a boolean mask must have one entry per feature "
                    f"(n_features={n}); got {arr.size} entries."
                )
            return np.flatnonzero(arr).astype(np.intp)
        if arr.size == 0:
            return np.empty(0, dtype=np.intp)
        if arr.dtype.kind in "USO":
            names = getattr(self, "feature_names_in_", None)
            if names is None:
                raise ValueError(
                    f"{name} names columns ({list(arr[:3])}), but X has no feature "
                    "names: give column indices, or fit on a DataFrame."
                )
            lookup = {str(v): i for i, v in enumerate(names)}
            missing = [str(v) for v in arr if str(v) not in lookup]
            if missing:
                raise ValueError(
                    f"{name}: {missing} are not feature names of X; its columns "
                    f"are {list(names)}."
                )
            return np.unique([lookup[str(v)] for v in arr]).astype(np.intp)
        if arr.dtype.kind not in "iu":
            raise ValueError(
                f"{name} must hold column indices (integers), a boolean mask or "
                f"feature names; got dtype {arr.dtype}."
            )
        if arr.min() < -n or arr.max() >= n:
            raise ValueError(
                f"{name} has column indices in [{arr.min()}, {arr.max()}], outside "
                f"the {n} features of X."
            )
        return np.unique(arr % n).astype(np.intp)

    def _fit_config(self, n_features, n_outputs):
        """What a warm start must share with the previous fit."""
        idx = (getattr(self, "_gate_index", None), getattr(self, "_expert_index", None))
        expert = getattr(self, "expert", None)
        return (self._branching(), n_features, n_outputs, self._gate_kind(),
                getattr(self, "gate_covariance_type", None),
                expert if isinstance(expert, str) else type(expert).__name__,
                *(None if i is None else tuple(i) for i in idx))

    def _fitted_model(self):
        return self._model(self.n_features_in_, self._n_outputs)

    def _params(self):
        if any(is_cupy_array(v) for v in vars(self).values()):
            return estimator_to_numpy(self)._params()  # the host M-step's view
        if self._gate_kind() == "gaussian":
            gate = GaussianGateParams(
                np.asarray(self.gate_weights_, dtype=float),
                np.asarray(self.gate_means_, dtype=float),
                np.asarray(self.gate_covariances_, dtype=float))
            return Params(gate, self._get_expert_params())
        # C order: stacking the transposed attributes gives a Fortran array,
        # which the kernels would compile a second specialisation for
        gate = np.ascontiguousarray(
            np.vstack([self.gate_coef_.T, self.gate_intercept_[None, :]]))
        return Params(gate, self._get_expert_params())

    def _set_params_attributes(self, params):
        if isinstance(params.gate, GaussianGateParams):
            self.gate_weights_ = params.gate.weights.copy()
            self.gate_means_ = params.gate.means.copy()
            self.gate_covariances_ = params.gate.covariances.copy()
        else:
            self.gate_coef_ = params.gate[:-1].T.copy()
            self.gate_intercept_ = params.gate[-1].copy()
        self._set_expert_attributes(params.experts)

    def _validate_init(self, n_samples, n_leaves):
        """User-given initial labels or responsibilities as an (n, L) array."""
        init = np.asarray(self.init_params)
        if init.ndim == 1:
            if init.shape[0] != n_samples or not np.issubdtype(init.dtype, np.integer):
                raise ValueError(
                    "init_params as labels must be an integer array of shape "
                    f"(n_samples,) = ({n_samples},); got dtype {init.dtype} and "
                    f"shape {init.shape}."
                )
            if init.min() < 0 or init.max() >= n_leaves:
                raise ValueError(
                    f"init_params labels must lie in [0, {n_leaves - 1}] "
                    f"(one per expert); got values in [{init.min()}, {init.max()}]."
                )
            resp = np.zeros((n_samples, n_leaves))
            resp[np.arange(n_samples), init] = 1.0
            return resp
        if init.shape != (n_samples, n_leaves):
            raise ValueError(
                "init_params as responsibilities must have shape (n_samples, "
                f"n_experts) = ({n_samples}, {n_leaves}); got {init.shape}."
            )
        resp = init.astype(float)
        if not np.all(np.isfinite(resp)) or resp.min() < 0:
            raise ValueError("init_params responsibilities must be finite and >= 0.")
        sums = resp.sum(axis=1, keepdims=True)
        if np.any(sums <= 0):
            raise ValueError("every row of init_params must have a positive sum.")
        return resp / sums

    def _initial_resp(self, data, n_leaves, rng):
        n = data.X.shape[0]
        if not isinstance(self.init_params, str):
            return self._validate_init(n, n_leaves)
        if self.init_params == "random":
            resp = rng.uniform(size=(n, n_leaves))
            return resp / resp.sum(axis=1, keepdims=True)
        if self.init_params == "tree":
            return cart_resp(data.X, data.Y, data.sample_weight, self._branching(),
                             rng)
        Z = np.hstack([data.X, data.Y])
        w = data.sample_weight
        # standardise in place: one n x (d + m) copy at most
        Z -= np.average(Z, axis=0, weights=w)
        sd = np.sqrt(np.einsum("i,ij,ij->j", w, Z, Z) / w.sum())
        Z /= np.where(sd > 0, sd, 1.0)
        Z[:, data.X.shape[1]:] *= self._init_target_scale(data.Y.shape[1])
        fit_rows = np.arange(n)
        if n > KMEANS_MAX_ROWS:
            fit_rows = np.sort(rng.choice(n, KMEANS_MAX_ROWS, replace=False))
        centres = _kmeans_plusplus(Z[fit_rows], w[fit_rows], n_leaves, rng)
        km = KMeans(n_clusters=n_leaves, init=centres, n_init=1)
        km.fit(Z[fit_rows], sample_weight=w[fit_rows])
        labels = km.predict(Z)
        del Z  # the standardised copy is not needed past here
        if len(self._branching()) > 1:  # siblings of the gating tree: near clusters
            d = data.X.shape[1]  # the gates see X only: order on X's part
            labels = tree_order(km.cluster_centers_[:, :d], self._branching())[labels]
        resp = np.zeros((n, n_leaves))
        resp[np.arange(n), labels] = 1.0
        return resp

    def _init_target_scale(self, n_outputs):
        """Weight of each standardised target column in the k-means start."""
        return 1.0

    def _check_params(self, n_samples):
        n_leaves = self._n_leaves()
        if n_samples < n_leaves:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_experts={n_leaves}: "
                "use fewer experts or more data."
            )
        if self._gate_kind() == "gaussian" and len(self._branching()) > 1:
            raise ValueError(
                "gate='gaussian' (the localised gate) serves flat mixtures only; "
                f"this tree has {len(self._branching())} levels: use "
                "gate='softmax', or depth=1."
            )
        self._top_k()

    def _top_k(self):
        """``top_k`` for sparse prediction, or None when every expert is used."""
        k = getattr(self, "top_k", None)
        if k is None:
            return None
        n_leaves = self._n_leaves()
        if k > n_leaves:
            raise ValueError(
                f"top_k={k} exceeds the number of experts ({n_leaves}): use "
                f"top_k <= {n_leaves}, or None to use every expert."
            )
        return None if k == n_leaves else int(k)

    # ------------------------------------------------------------------ fit
    def _fit_checks(self, n_samples):
        """Checks and feature subsets once ``X`` is validated (any backend)."""
        self._check_params(n_samples)
        self._gate_index = self._feature_index(getattr(self, "gate_features", None),
                                               "gate_features")
        self._expert_index = self._feature_index(
            getattr(self, "expert_features", None), "expert_features")

    def _fit_data(self, X, y, sample_weight):
        """Validated training data and the targets' scale: ``(data, y_scale)``.

        ``FitData`` (in memory) by default; ``DaskFitData`` when an input is a
        Dask collection; ``ChunkedFitData`` (streamed in chunks, X never
        copied) for a ``numpy.memmap`` or when ``chunk_size`` is set.
        """
        chunk_size = getattr(self, "chunk_size", None)
        if any(is_dask(a) for a in (X, y, sample_weight)):
            import_dask()
            from ._backend._dask import dask_fit_data

            return dask_fit_data(self, X, y, sample_weight, chunk_size)
        if compute_device(getattr(self, "device", None), X) == "cuda":
            from ._backend._cupy import cupy_fit_data

            return cupy_fit_data(self, X, y, sample_weight)
        X, y, sample_weight = to_host(X), to_host(y), to_host(sample_weight)
        # an estimator expert needs every row in memory: a memory map is read in
        in_memory_expert = not isinstance(getattr(self, "expert", ""), str)
        streamed = chunk_size is not None or (is_memmap(X) and not in_memory_expert)
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32],
                             multi_output=self._multi_output,
                             y_numeric=self._y_numeric)
        self._fit_checks(X.shape[0])
        if not streamed:
            X = np.ascontiguousarray(X, dtype=np.float64)
        if streamed and sample_weight is None:
            sw = None  # no array of n ones: chunks make their own
        else:
            sw = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                      ensure_non_negative=True)
            if not sw.sum() > 0:
                raise ValueError("sample_weight must have a positive sum.")
        Y, y_scale = self._encode_targets(y, sample_weight=sw)
        Y = np.ascontiguousarray(Y, dtype=np.float64)
        if streamed:
            return ChunkedFitData(X, Y, sw, chunk_size or STREAM_CHUNK_ROWS,
                                  effective_n_jobs(self.n_jobs)), y_scale
        return FitData(X, Y, sw), y_scale

    def _initialise(self, model, data, rng, min_mass):
        """Initial responsibilities from ``init_params``, then parameters.

        In memory every row takes part. Streamed data (Dask, memory map,
        ``chunk_size``) initialise on a uniform random sample of at most
        ``INIT_MAX_ROWS`` rows brought to memory (with their rows of the user's
        responsibilities when ``init_params`` is an array); EM then runs on
        every row.
        """
        n_leaves = model.tree.n_leaves
        if isinstance(data, FitData):
            resp = self._initial_resp(data, n_leaves, rng)
            return model.init_from_resp(data, resp, min_mass=min_mass)
        resp = None
        if not isinstance(self.init_params, str):
            resp = data.init_responsibilities(self, n_leaves)
        sample, resp = data.sample_rows(INIT_MAX_ROWS, rng, resp)
        if resp is None:
            resp = self._initial_resp(sample, n_leaves, rng)
        min_mass *= sample.total_weight / data.total_weight
        return model.init_from_resp(sample, resp, min_mass=min_mass)

    def _fit(self, X, y, sample_weight):
        data, y_scale = self._fit_data(X, y, sample_weight)
        X, Y = data.X, data.Y
        model = self._model(X.shape[1], Y.shape[1], y_scale, X.shape[0])
        if not isinstance(data, FitData) and getattr(model.experts, "needs_data",
                                                     False):
            raise ValueError(
                "an estimator expert needs every row in memory at each M-step: "
                "fit it on an in-memory NumPy array (not Dask, a memory map or "
                "chunk_size), or use a built-in expert family."
            )
        min_mass = 1e-10 * data.total_weight
        rng = check_random_state(self.random_state)
        resume = self.warm_start and hasattr(self, "converged_")
        config = self._fit_config(X.shape[1], Y.shape[1])
        if resume and getattr(self, "_warm_config", None) != config:
            raise ValueError(
                "warm_start=True resumes from the previous fit, but the number "
                "of experts, features or outputs (or the gate, the expert family "
                "or the feature subsets) has changed since: set "
                "warm_start=False to fit from a fresh initialisation."
            )
        n_init = 1 if resume else self.n_init
        if n_init > 1 and not isinstance(self.init_params, str):
            warnings.warn(
                f"init_params is an array: every one of the n_init={n_init} runs "
                "would start from it and end alike, so one run is made; set "
                "n_init=1 to silence this warning.", RuntimeWarning, stacklevel=4)
            n_init = 1
        best, best_ll = None, -np.inf
        with threadpool_limits(limits=1, user_api="blas"):
            for init in range(n_init):
                t0 = time.perf_counter()
                if self.verbose:
                    print(f"Initialization {init}")
                if resume:
                    params = self._params()
                    lost = ()
                else:
                    params, lost = self._initialise(model, data, rng, min_mass)
                result = run_em(model, data, params, max_iter=self.max_iter,
                                tol=self.tol, min_mass=min_mass,
                                callback=self._progress(t0))
                result.collapsed = tuple(sorted(set(result.collapsed) | set(lost)))
                if self.verbose:
                    state = "converged" if result.converged else "did not converge"
                    print(f"Initialization {state}. time lapse "
                          f"{time.perf_counter() - t0:.5f}s\t "
                          f"log-likelihood {result.log_likelihoods[-1]:.5f}")
                if best is None or result.log_likelihoods[-1] > best_ll:
                    best, best_ll = result, result.log_likelihoods[-1]
        self._warn(best)
        self._n_outputs = Y.shape[1]
        self._warm_config = config
        self._set_params_attributes(best.params)
        self.converged_ = best.converged
        self.n_iter_ = best.n_iter
        self.log_likelihoods_ = np.asarray(best.log_likelihoods)
        self.log_likelihood_ = float(best.log_likelihoods[-1])
        if getattr(data, "attributes_on_device", False):  # CuPy X: stay there
            from ._backend._cupy import attributes_to_device

            attributes_to_device(self)
        return self

    def _progress(self, t0):
        if not self.verbose:
            return None
        last = [t0]

        def callback(n_iter, ll, delta):
            if n_iter % self.verbose_interval == 0:
                now = time.perf_counter()
                if self.verbose > 1:
                    print(f"  Iteration {n_iter}\t time lapse {now - last[0]:.5f}s\t "
                          f"ll change {delta:.5g}\t log-likelihood {ll:.6f}")
                else:
                    print(f"  Iteration {n_iter}")
                last[0] = now

        return callback

    def _warn(self, result):
        if result.collapsed:
            warnings.warn(
                f"Experts {list(result.collapsed)} collapsed (no posterior mass) "
                "and kept their previous parameters: reduce n_experts, increase "
                "alpha or reg_var, or scale X.",
                ConvergenceWarning,
                stacklevel=5,
            )
        if not result.converged and self.max_iter > 0:
            warnings.warn(
                f"EM did not converge in max_iter={self.max_iter} iterations "
                f"(last change of the mean log-likelihood above tol={self.tol}): "
                "increase max_iter, raise tol, or standardise X.",
                ConvergenceWarning,
                stacklevel=5,
            )
        if result.max_drop > MONOTONE_RTOL:
            warnings.warn(
                f"The penalised log-likelihood decreased by {result.max_drop:.3g} "
                "(relative) during EM; this is a bug in skmoe, please report it.",
                RuntimeWarning,
                stacklevel=5,
            )

    # ------------------------------------------------------------- inference
    def _validate_X(self, X):
        check_is_fitted(self)
        if self._on_gpu(X):
            from ._backend._cupy import check_predict_X

            return check_predict_X(self, X)  # float32 kept; CuPy stays there
        X = validate_data(self, to_host(X), reset=False,
                          dtype=[np.float64, np.float32])
        return np.ascontiguousarray(X, dtype=np.float64)

    def _on_gpu(self, X):
        """Whether methods on ``X`` run on the GPU (see the ``device`` option)."""
        return compute_device(getattr(self, "device", None), X) == "cuda"

    def to_numpy(self):
        """A copy of the fitted estimator whose fitted arrays are NumPy arrays.

        A fit on CuPy input leaves the fitted attributes on the GPU (as
        scikit-learn's Array API support does); this copies them to the host,
        for pickling, plotting or prediction on the CPU. The estimator itself
        is left unchanged.

        Returns
        -------
        estimator : object
            A shallow copy of ``self`` with host copies of its fitted arrays.

        Examples
        --------
        >>> import numpy as np
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> X = np.linspace(-1, 1, 200)[:, None]
        >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0)
        >>> host = moe.fit(X, np.abs(X[:, 0])).to_numpy()
        >>> type(host.coef_).__name__
        'ndarray'
        """
        check_is_fitted(self)
        return estimator_to_numpy(self)

    def _validate_Xy(self, X, y):
        check_is_fitted(self)
        X, y = validate_data(self, X, y, reset=False, dtype=[np.float64, np.float32],
                             multi_output=self._multi_output,
                             y_numeric=self._y_numeric)
        X = np.ascontiguousarray(X, dtype=np.float64)
        Y, _ = self._encode_targets(y, fitted=True)
        return X, np.ascontiguousarray(Y, dtype=np.float64)

    @dask_rows
    def predict_gate(self, X):
        """Probability of each expert given ``X`` (the product of gates on its path).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        gate : ndarray of shape (n_samples, n_experts)
            Rows sum to one.
        """
        X = self._validate_X(X)
        if self._on_gpu(X):
            from ._backend._cupy import gate_proba

            return gate_proba(self, X)
        return self._fitted_model().gate_proba(X, self._params())

    def _estep(self, X, y):
        if self._on_gpu(X):
            from ._backend._cupy import device_estep

            return device_estep(self, X, y)
        X, Y = self._validate_Xy(to_host(X), to_host(y))
        return self._fitted_model().e_step(X, Y, self._params())

    @dask_rows
    def responsibilities(self, X, y):
        """Posterior probability of each expert given ``X`` and ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        resp : ndarray of shape (n_samples, n_experts)
            Rows sum to one (posteriors below 1e-100 are exactly 0).
        """
        return self._estep(X, y).resp.copy()

    @dask_rows
    def score_samples(self, X, y):
        """Conditional log-likelihood ``log p(y_i | x_i)`` of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            ``log p(y_i | x_i)`` under the fitted mixture.
        """
        return self._estep(X, y).loglik

    def _n_parameters(self):
        return self._fitted_model().n_params(self.n_features_in_)

    def bic(self, X, y):
        """Bayesian information criterion on ``(X, y)``; lower is better.

        ``-2 log L + n_parameters * log(n_samples)``, with the free parameters
        of the experts (coefficients and variances) and of the gates.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        bic : float
            The criterion; compare it across models fitted on the same data.
        """
        n = np.shape(X)[0]
        return -2 * float(np.sum(self.score_samples(X, y))) + self._n_parameters() * (
            np.log(n))

    def aic(self, X, y):
        """Akaike information criterion on ``(X, y)``; lower is better.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        aic : float
            The criterion, ``-2 log L + 2 n_parameters``.
        """
        return -2 * float(np.sum(self.score_samples(X, y))) + 2 * self._n_parameters()

    def _sample_leaves(self, X, random_state):
        rng = check_random_state(random_state)
        gate = self._fitted_model().gate_proba(X, self._params())
        u = rng.uniform(size=(gate.shape[0], 1))
        leaves = np.minimum((np.cumsum(gate, axis=1) < u).sum(axis=1),
                            gate.shape[1] - 1)
        return leaves, rng

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
