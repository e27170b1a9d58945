"""Linear-Gaussian experts (identity link, own diagonal noise covariance).

Leaf ``l`` predicts output ``o`` as ``mu_ilo = [x_i, 1] . B[:, l m + o]`` with noise
variance ``s2_lo``. With the conjugate ridge prior ``b_lo ~ N(0, s2_lo / alpha)``
on the slopes (not the intercept), the penalised M-step is closed form from
``S_l = sum_i w_i h_il z z^T`` (``z = [x, 1, y]``):

    b_lo  = (X^T H_l X + alpha D)^{-1} X^T H_l y_o        (scikit-learn's Ridge)
    s2_lo = (y_o^T H_l y_o - b_lo^T X^T H_l y_o) / sum_i w_i h_il

which maximises ``Q_l - alpha ||b_lo[:d]||^2 / (2 s2_lo)`` jointly (the numerator is
the weighted residual sum of squares plus ``alpha ||b||^2``). The variance is
clipped below at ``var_floor``; an expert with (almost) no posterior mass keeps
its parameters and is reported as collapsed.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from .._kernels._topk import gaussian_means_at
from .._xp_ops import gaussian_leaf_ll


@dataclass(frozen=True)
class GaussianParams:
    """Parameters of all Gaussian leaves.

    coef : ndarray of shape (n_features + 1, n_leaves * n_outputs)
        Slopes then intercept (last row); columns leaf-major.
    noise_variance : ndarray of shape (n_leaves, n_outputs)
    """

    coef: np.ndarray
    noise_variance: np.ndarray


class GaussianExperts:
    """Family object for linear-Gaussian experts (fused numba E-step)."""

    fused = True

    def __init__(self, n_leaves, n_outputs, *, alpha, var_floor):
        self.n_leaves = n_leaves
        self.n_outputs = n_outputs
        self.alpha = alpha
        self.var_floor = np.asarray(var_floor, dtype=float)

    def m_step(self, S, old=None, min_mass=0.0):
        """New parameters from Gram matrices ``S`` (n_leaves, q, q).

        Returns the parameters and the indices of collapsed experts.
        """
        L, m = self.n_leaves, self.n_outputs
        p = S.shape[1] - m
        coef = np.empty((p, L * m))
        var = np.empty((L, m))
        pen = np.full(p, self.alpha)
        pen[-1] = 0.0
        collapsed = []
        for leaf in range(L):
            Sk = S[leaf]
            mass = Sk[p - 1, p - 1]
            cols = slice(leaf * m, (leaf + 1) * m)
            if not mass > min_mass:
                collapsed.append(leaf)
                if old is not None:
                    coef[:, cols] = old.coef[:, cols]
                    var[leaf] = old.noise_variance[leaf]
                else:
                    coef[:, cols] = 0.0
                    var[leaf] = self.var_floor
                continue
            A = Sk[:p, :p].copy()
            A.flat[:: p + 1] += pen
            rhs = Sk[:p, p:]
            try:
                B = linalg.solve(A, rhs, assume_a="pos", check_finite=False)
            except (linalg.LinAlgError, ValueError):
                B = linalg.lstsq(A, rhs, check_finite=False)[0]
            rss = np.diag(Sk[p:, p:]) - np.einsum("po,po->o", B, rhs)
            coef[:, cols] = B
            var[leaf] = np.maximum(rss / mass, self.var_floor)
        return GaussianParams(coef, var), collapsed

    def penalty(self, params):
        """``alpha / 2 * sum ||b_lo[:d]||^2 / s2_lo`` (the prior's log-density)."""
        if self.alpha == 0:
            return 0.0
        L, m = self.n_leaves, self.n_outputs
        sq = np.sum(params.coef[:-1] ** 2, axis=0).reshape(L, m)
        return 0.5 * self.alpha * float(np.sum(sq / params.noise_variance))

    def kernel_args(self, params):
        """``(const, inv2var)`` of the fused E-step kernel."""
        var = params.noise_variance
        return -0.5 * np.log(2 * math.pi * var), 0.5 / var

    def means(self, X, params):
        """Expert means, shape (n, n_leaves, n_outputs)."""
        coef = params.coef
        mu = X @ coef[:-1] + coef[-1]
        return mu.reshape(X.shape[0], self.n_leaves, self.n_outputs)

    def predict_at(self, X, params, leaves):
        """Means of the selected leaves only, shape (n, k, n_outputs).

        ``leaves`` (n, k) int64 names the experts to evaluate for each row
        (sparse top-k prediction); the other experts are never computed.
        """
        mu = np.empty((X.shape[0], leaves.shape[1], self.n_outputs))
        coef_t = np.ascontiguousarray(params.coef.T)
        gaussian_means_at(X, coef_t, np.ascontiguousarray(leaves), mu)
        return mu

    def leaf_loglik(self, X, Y, params):
        """Log-density of ``Y`` under every leaf, shape (n, n_leaves)."""
        mu = X @ params.coef[:-1] + params.coef[-1]
        return gaussian_leaf_ll(mu, Y, params.noise_variance)

    def n_params(self, n_features):
        return self.n_leaves * self.n_outputs * (n_features + 2)

    def sample(self, X, params, leaves, rng):
        """Draw ``y`` given each row's leaf, shape (n, n_outputs)."""
        mu = self.means(X, params)[np.arange(X.shape[0]), leaves]
        sd = np.sqrt(params.noise_variance[leaves])
        return mu + sd * rng.standard_normal(mu.shape)
