"""Any scikit-learn estimator as an expert (generalised EM).

Each leaf holds its own clone of a user's estimator. The expert M-step fits the
clone with ``sample_weight = w_i h_il`` (responsibilities times sample
weights) on the expert's features:

- a regressor's likelihood is Gaussian around its predictions, with the
  weighted residual variance ``s2_lo = sum_i w_i h_il (y_io - f_lo(x_i))^2 /
  sum_i w_i h_il`` (floored), the exact maximiser given the fitted means;
- a classifier's likelihood is ``predict_proba`` of the observed class,
  floored at ``PROBA_FLOOR`` so that no class is impossible.

A weighted fit needs the full responsibilities, not sums over samples: the
family sets ``needs_data`` and its ``m_step`` reads ``WeightedData`` (the
arrays and the weights ``w h``), so this family fits in memory only. The fit
of a tree or a boosted model is not an exact maximiser of the weighted
likelihood, so ``exact`` is False: when an EM iteration would lower the
objective, the EM driver keeps the old experts (``interpolate`` returns them
for any ``t < 1``), and EM stays monotone.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import has_fit_parameter

from .._xp_ops import gaussian_leaf_ll

# Smallest likelihood an estimator classifier gives to the observed class.
PROBA_FLOOR = 1e-12


@dataclass(frozen=True)
class EstimatorParams:
    """Fitted clones of all leaves (and, for regressors, noise variances).

    estimators : tuple of fitted estimators, one per leaf
    noise_variance : ndarray of shape (n_leaves, n_outputs) or None
    """

    estimators: tuple
    noise_variance: np.ndarray = None


def check_estimator_expert(estimator):
    """TypeError unless ``estimator.fit`` accepts ``sample_weight``."""
    if not has_fit_parameter(estimator, "sample_weight"):
        raise TypeError(
            f"expert={type(estimator).__name__}(...) cannot serve as an expert: "
            "its fit method takes no sample_weight, which the M-step needs (the "
            "responsibilities times the sample weights). Use an estimator whose "
            "fit accepts sample_weight (e.g. a tree, a linear model or a "
            "gradient boosting model)."
        )


class _EstimatorFamily:
    """What the regressor and classifier variants share."""

    fused = False
    kernel = None
    exact = False
    needs_data = True

    def __init__(self, estimator, n_leaves, *, features=None):
        check_estimator_expert(estimator)
        self.estimator = estimator
        self.n_leaves = n_leaves
        self.features = features

    def _X(self, X):
        return X if self.features is None else X[:, self.features]

    @staticmethod
    def _present(data):
        """``X, Y, W, sample_weight`` without the rows of zero sample weight.

        A row of weight 0 is absent (as when it is not repeated at all): a
        tree would otherwise still place its thresholds between such rows.
        """
        keep = data.sample_weight > 0
        if keep.all():
            return data.X, data.Y, data.W, data.sample_weight
        return data.X[keep], data.Y[keep], data.W[keep], data.sample_weight[keep]

    def _fit_one(self, leaf, X, y, w):
        est = clone(self.estimator)
        if "random_state" in est.get_params(deep=False) and (
                est.get_params(deep=False)["random_state"] is None):
            est.set_params(random_state=leaf)  # reproducible fits
        return est.fit(self._X(X), y, sample_weight=w)

    def _collapsed(self, W, min_mass):
        mass = W.sum(axis=0)
        return [leaf for leaf in range(self.n_leaves) if not mass[leaf] > min_mass]

    def penalty(self, params):
        return 0.0

    def interpolate(self, old, new, t):
        """No path between two fitted estimators: ``new`` only at ``t = 1``."""
        return new if t >= 1.0 else old

    def q_value(self, stats, params):  # pragma: no cover - needs_data family
        raise NotImplementedError

    def n_params(self, n_features):
        """Counted as zero for the estimators (their sizes are not parameters
        of a likelihood); a regressor's noise variances count."""
        return 0

    def attributes(self, params):
        return {"experts_": list(params.estimators)}


class EstimatorRegressorExperts(_EstimatorFamily):
    """Family object for user regressors with a Gaussian noise model."""

    attribute_names = ("experts_", "noise_variance_")

    def __init__(self, estimator, n_leaves, n_outputs, *, var_floor, features=None):
        super().__init__(estimator, n_leaves, features=features)
        self.n_outputs = n_outputs
        self.var_floor = np.asarray(var_floor, dtype=float)

    def _target(self, Y):
        return Y[:, 0] if self.n_outputs == 1 else Y

    def means(self, X, params):
        """Expert predictions, shape (n, n_leaves, n_outputs)."""
        Xs = self._X(X)
        mu = [np.reshape(est.predict(Xs), (X.shape[0], self.n_outputs))
              for est in params.estimators]
        return np.stack(mu, axis=1)

    def leaf_loglik(self, X, Y, params):
        mu = self.means(X, params).reshape(X.shape[0], -1)
        return gaussian_leaf_ll(mu, Y, params.noise_variance)

    def m_step(self, data, old=None, min_mass=0.0):
        """Weighted refit of every leaf from ``WeightedData``.

        A collapsed leaf keeps its old estimator (at the start, it is fitted
        to the sample weights alone). Returns the parameters and the indices
        of collapsed experts.
        """
        X, Y, W, sw = self._present(data)
        collapsed = self._collapsed(W, min_mass)
        y = self._target(Y)
        ests, var = [], np.empty((self.n_leaves, self.n_outputs))
        for leaf in range(self.n_leaves):
            if leaf in collapsed and old is not None:
                ests.append(old.estimators[leaf])
                var[leaf] = old.noise_variance[leaf]
                continue
            w = W[:, leaf] if leaf not in collapsed else sw
            est = self._fit_one(leaf, X, y, w)
            pred = np.reshape(est.predict(self._X(X)), Y.shape)
            rss = w @ (Y - pred) ** 2
            var[leaf] = np.maximum(rss / max(w.sum(), 1e-300), self.var_floor)
            ests.append(est)
        return EstimatorParams(tuple(ests), var), collapsed

    def variance(self, mu, params, leaves=None):
        var = params.noise_variance
        return var if leaves is None else var[leaves]

    def predict_at(self, X, params, leaves):
        return np.take_along_axis(self.means(X, params), leaves[:, :, None], axis=1)

    def sample(self, X, params, leaves, rng):
        mu = self.means(X, params)[np.arange(X.shape[0]), leaves]
        sd = np.sqrt(params.noise_variance[leaves])
        return mu + sd * rng.standard_normal(mu.shape)

    def n_params(self, n_features):
        return self.n_leaves * self.n_outputs

    def attributes(self, params):
        """Fitted attributes: ``experts_`` (list) and ``noise_variance_`` (L, m)."""
        return {"experts_": list(params.estimators),
                "noise_variance_": params.noise_variance.copy()}

    def from_attributes(self, experts_, noise_variance_):
        return EstimatorParams(tuple(experts_), np.reshape(
            noise_variance_, (self.n_leaves, self.n_outputs)).astype(float))


class EstimatorClassifierExperts(_EstimatorFamily):
    """Family object for user classifiers (likelihood from ``predict_proba``)."""

    attribute_names = ("experts_",)

    def __init__(self, estimator, n_leaves, n_classes, *, features=None):
        super().__init__(estimator, n_leaves, features=features)
        self.n_classes = n_classes

    def proba(self, X, params):
        """Class probabilities of every leaf, shape (n, L, C).

        Classes an estimator never saw (all of their weight zero) get 0.
        """
        Xs = self._X(X)
        out = np.zeros((X.shape[0], self.n_leaves, self.n_classes))
        for leaf, est in enumerate(params.estimators):
            cls = np.asarray(est.classes_, dtype=np.intp)
            out[:, leaf, cls] = est.predict_proba(Xs)
        return out

    def leaf_loglik(self, X, Y, params):
        """``log max(p_l(y_i | x_i), PROBA_FLOOR)``, shape (n, L)."""
        p = np.einsum("nlc,nc->nl", self.proba(X, params), Y)
        return np.log(np.maximum(p, PROBA_FLOOR))

    def m_step(self, data, old=None, min_mass=0.0):
        """Weighted refit of every leaf from ``WeightedData`` (labels = argmax Y)."""
        X, Y, W, sw = self._present(data)
        collapsed = self._collapsed(W, min_mass)
        y = np.argmax(Y, axis=1)
        ests = []
        for leaf in range(self.n_leaves):
            if leaf in collapsed and old is not None:
                ests.append(old.estimators[leaf])
                continue
            w = W[:, leaf] if leaf not in collapsed else sw
            ests.append(self._fit_one(leaf, X, y, w))
        return EstimatorParams(tuple(ests)), collapsed

    def predict_at(self, X, params, leaves):
        return np.take_along_axis(self.proba(X, params), leaves[:, :, None], axis=1)

    def sample(self, X, params, leaves, rng):
        P = self.proba(X, params)[np.arange(X.shape[0]), leaves]
        u = rng.uniform(size=(P.shape[0], 1))
        return np.minimum((np.cumsum(P, axis=1) < u).sum(axis=1), self.n_classes - 1)

    def from_attributes(self, experts_):
        return EstimatorParams(tuple(experts_))
