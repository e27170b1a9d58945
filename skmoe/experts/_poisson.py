"""Poisson experts for counts (log link), one output or several independent ones.

Leaf ``l`` models output ``o`` as ``y_o ~ Poisson(mu_lo)`` with
``log mu_lo = eta_lo = [x, 1] . b_lo``. Its M-step maximises the weighted
log-likelihood with a ridge penalty on the slopes (not the intercept),

    Q_lo(b) = sum_i w_i h_il (y_io eta_lo - exp(eta_lo)) - alpha / 2 ||b[:d]||^2,

which has no closed form. Generalised EM takes one Newton (IRLS) step of
``Q_lo`` per EM iteration, warm-started from the current ``b_lo``, from the
summable statistics of a pass over the data

    grad_lo = sum_i w_i h_il (y_io - mu_ilo) x1_i           x1 = [x, 1]
    hess_lo = sum_i w_i h_il mu_ilo x1_i x1_i^T

``b <- b + (hess + alpha D)^{-1} (grad - alpha D b)``. A Newton step can
overshoot, so the family is not ``exact``: the EM driver moves the step back
towards the old parameters until the objective does not fall. ``alpha`` here
is scikit-learn's ``PoissonRegressor`` ``alpha`` times the total sample
weight (that estimator divides its loss by the total weight).
"""

from dataclasses import dataclass, replace

import numpy as np
from scipy import linalg
from scipy.special import gammaln

from .._stats import augmented_grams
from ..gates._softmax import free_rows
from ._linear import linear_predictor_at

# Linear predictors are clipped here before ``exp`` (exp(700) ~ 1e304).
_ETA_MAX = 700.0


@dataclass(frozen=True)
class PoissonParams:
    """Parameters of all Poisson leaves.

    coef : ndarray of shape (n_features + 1, n_leaves * n_outputs)
        Slopes then intercept (last row) of ``log mu``; columns leaf-major.
    """

    coef: np.ndarray


class PoissonExperts:
    """Family object for Poisson GLM experts (log link)."""

    fused = False
    kernel = None
    exact = False
    needs_data = False
    attribute_names = ("coef_", "intercept_")

    def __init__(self, n_leaves, n_outputs, *, alpha, features=None):
        self.n_leaves = n_leaves
        self.n_outputs = n_outputs
        self.alpha = alpha
        self.features = features

    def _eta(self, X, params):
        coef = params.coef
        eta = X @ coef[:-1]
        eta += coef[-1]
        return np.clip(eta, -_ETA_MAX, _ETA_MAX, out=eta)

    def leaf_loglik(self, X, Y, params):
        """``sum_o y log mu - mu - log y!`` under every leaf, shape (n, L)."""
        n = X.shape[0]
        eta = self._eta(X, params).reshape(n, self.n_leaves, self.n_outputs)
        ll = Y[:, None, :] * eta - np.exp(eta)
        return ll.sum(axis=2) - gammaln(Y + 1.0).sum(axis=1)[:, None]

    def chunk_stats(self, X, Y, W, params):
        """Summable statistics of rows ``X`` with weights ``W`` (n, L).

        Returns ``(mass (L,), q (L,), grad (p, L m), hess (L m, p, p))``: the
        weight of each leaf, its weighted log-likelihood (without the
        ``log y!`` constant), the gradient and the Newton matrices at
        ``params`` (None: ``eta = 0``, the start of ``m_step``'s closed-form
        intercepts).
        """
        n, d = X.shape
        L, m = self.n_leaves, self.n_outputs
        Wr = np.repeat(W, m, axis=1)  # (n, L m), column l m + o
        Yr = np.tile(Y, (1, L))
        if params is None:
            eta = np.zeros((n, L * m))
        else:
            eta = self._eta(X, params)
        mu = np.exp(eta)
        q = (Wr * (Yr * eta - mu)).reshape(n, L, m).sum(axis=(0, 2))
        x1 = np.empty((n, d + 1))
        x1[:, :d] = X
        x1[:, d] = 1.0
        grad = x1.T @ (Wr * (Yr - mu))
        hess, _ = augmented_grams(X, None, Wr * mu)
        return W.sum(axis=0), q, grad, hess

    def m_step(self, stats, old=None, min_mass=0.0):
        """One Newton step per leaf and output from ``chunk_stats`` (summed).

        ``old=None``: the closed-form intercept-only fit (``log`` of each
        leaf's weighted mean), from statistics taken at ``params=None``.
        Returns the parameters and the indices of collapsed experts.
        """
        mass, _, grad, hess = stats
        L, m = self.n_leaves, self.n_outputs
        p = grad.shape[0]
        collapsed = [leaf for leaf in range(L) if not mass[leaf] > min_mass]
        if old is None:
            coef = np.zeros((p, L * m))
            # at eta = 0: grad[-1] = sum w h (y - 1), and mass = sum w h
            mean = (grad[-1] + np.repeat(mass, m)) / np.maximum(np.repeat(mass, m),
                                                                 1e-300)
            coef[-1] = np.log(np.maximum(mean, 1e-10))
            return PoissonParams(coef), collapsed
        rows = free_rows(self.features, p)
        pen = np.full(rows.size, self.alpha)
        pen[-1] = 0.0
        coef = old.coef.copy()
        for leaf in range(L):
            if leaf in collapsed:
                continue
            for col in range(leaf * m, (leaf + 1) * m):
                b = old.coef[rows, col]
                A = hess[col][np.ix_(rows, rows)]
                A.flat[:: rows.size + 1] += pen
                rhs = grad[rows, col] - pen * b
                try:
                    step = linalg.solve(A, rhs, assume_a="pos", check_finite=False)
                except (linalg.LinAlgError, ValueError):
                    step = linalg.lstsq(A, rhs, check_finite=False)[0]
                coef[rows, col] = b + step
        return PoissonParams(coef), collapsed

    def q_value(self, stats, params):
        """Penalised weighted log-likelihood of the statistics' parameters."""
        return float(np.sum(stats[1])) - self.penalty(params)

    def penalty(self, params):
        """``alpha / 2 * sum ||b_lo[:d]||^2``."""
        return 0.5 * self.alpha * float(np.sum(params.coef[:-1] ** 2))

    def interpolate(self, old, new, t):
        """``old + t (new - old)``."""
        return replace(new, coef=old.coef + t * (new.coef - old.coef))

    def means(self, X, params):
        """Expert means ``mu``, shape (n, n_leaves, n_outputs)."""
        return np.exp(self._eta(X, params)).reshape(X.shape[0], self.n_leaves,
                                                     self.n_outputs)

    def variance(self, mu, params, leaves=None):
        """Poisson variances: the means."""
        return mu

    def predict_at(self, X, params, leaves):
        """Means of the selected leaves only, shape (n, k, n_outputs)."""
        eta = linear_predictor_at(X, params.coef, leaves, self.n_outputs)
        return np.exp(np.clip(eta, -_ETA_MAX, _ETA_MAX, out=eta), out=eta)

    def sample(self, X, params, leaves, rng):
        """Draw counts given each row's leaf, shape (n, n_outputs)."""
        mu = self.means(X, params)[np.arange(X.shape[0]), leaves]
        return rng.poisson(mu).astype(float)

    def n_params(self, n_features):
        if self.features is not None:
            n_features = len(self.features)
        return self.n_leaves * self.n_outputs * (n_features + 1)

    def attributes(self, params):
        """Fitted attributes: ``coef_`` (L, m, d) and ``intercept_`` (L, m)."""
        L, m = self.n_leaves, self.n_outputs
        coef = params.coef
        return {"coef_": coef[:-1].T.reshape(L, m, -1).copy(),
                "intercept_": coef[-1].reshape(L, m).copy()}

    def from_attributes(self, coef_, intercept_):
        L, m = self.n_leaves, self.n_outputs
        coef = np.vstack([np.reshape(coef_, (L * m, -1)).T,
                          np.reshape(intercept_, (1, L * m))])
        return PoissonParams(np.ascontiguousarray(coef, dtype=float))
