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
its parameters and is reported as collapsed. With ``features`` (a subset of
the columns of ``X``), the sub-blocks of those rows of ``S_l`` are solved and
the other slopes stay zero.

Family protocol (shared by every family in ``skmoe.experts``): ``fused`` (the
model runs the fused Gaussian kernel and hands ``m_step`` the Gram matrices),
``exact`` (``m_step`` maximises the expected complete-data log-likelihood, so
the EM driver never needs to move back towards the old parameters),
``needs_data`` (``m_step`` reads the weighted data rather than sums);
``leaf_loglik``, ``m_step``, ``penalty``, ``n_params``, ``attributes`` /
``from_attributes`` (fitted attributes of the estimators), ``means`` /
``variance`` / ``predict_at`` / ``sample`` (prediction).
"""

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from .._kernels._topk import gaussian_means_at
from .._xp_ops import gaussian_leaf_ll
from ..gates._softmax import free_rows


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
    kernel = "gaussian"
    exact = True
    needs_data = False
    attribute_names = ("coef_", "intercept_", "noise_variance_")

    def __init__(self, n_leaves, n_outputs, *, alpha, var_floor, features=None):
        self.n_leaves = n_leaves
        self.n_outputs = n_outputs
        self.alpha = alpha
        self.var_floor = np.asarray(var_floor, dtype=float)
        self.features = features

    def m_step(self, S, old=None, min_mass=0.0):
        """New parameters from Gram matrices ``S`` (n_leaves, q, q).

        Returns the parameters and the indices of collapsed experts.
        """
        L, m = self.n_leaves, self.n_outputs
        p = S.shape[1] - m
        coef = np.zeros((p, L * m))
        var = np.empty((L, m))
        rows = free_rows(self.features, p)
        pen = np.full(rows.size, self.alpha)
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
            A = Sk[np.ix_(rows, rows)]
            A.flat[:: rows.size + 1] += pen
            rhs = Sk[rows, p:]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", linalg.LinAlgWarning)
                    B = linalg.solve(A, rhs, assume_a="pos", check_finite=False)
            except (linalg.LinAlgError, ValueError):
                B = linalg.lstsq(A, rhs, check_finite=False)[0]
            rss = np.diag(Sk[p:, p:]) - np.einsum("po,po->o", B, rhs)
            coef[rows, cols] = B
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
        gaussian_means_at(X, self.means_coef_t(params), np.ascontiguousarray(leaves),
                          mu)
        return mu

    def means_coef_t(self, params):
        """``B^T``, shape (n_leaves * n_outputs, n_features + 1), C-contiguous.

        The means are linear in ``[x, 1]``: row ``l m + o`` holds the slopes
        then the intercept of output ``o`` of leaf ``l``. Sparse top-k
        prediction (``MixtureModel.top_k_experts``) evaluates the selected
        leaves' means from it in its own kernel pass, without ``predict_at``.
        """
        return np.ascontiguousarray(params.coef.T)

    def leaf_loglik(self, X, Y, params):
        """Log-density of ``Y`` under every leaf, shape (n, n_leaves)."""
        mu = X @ params.coef[:-1] + params.coef[-1]
        return gaussian_leaf_ll(mu, Y, params.noise_variance)

    def n_params(self, n_features):
        if self.features is not None:
            n_features = len(self.features)
        return self.n_leaves * self.n_outputs * (n_features + 2)

    def variance(self, mu, params, leaves=None):
        """Expert variances, broadcastable against ``mu`` (n, L or k, m)."""
        var = params.noise_variance
        return var if leaves is None else var[leaves]

    def attributes(self, params):
        """Fitted attributes: ``coef_`` (L, m, d), ``intercept_`` and
        ``noise_variance_`` (L, m)."""
        L, m = self.n_leaves, self.n_outputs
        coef = params.coef
        return {"coef_": coef[:-1].T.reshape(L, m, -1).copy(),
                "intercept_": coef[-1].reshape(L, m).copy(),
                "noise_variance_": params.noise_variance.copy()}

    def from_attributes(self, coef_, intercept_, noise_variance_):
        """Parameters from attributes shaped as ``attributes`` returns them."""
        L, m = self.n_leaves, self.n_outputs
        coef = np.vstack([np.reshape(coef_, (L * m, -1)).T,
                          np.reshape(intercept_, (1, L * m))])
        return GaussianParams(np.ascontiguousarray(coef, dtype=float),
                              np.reshape(noise_variance_, (L, m)).astype(float))

    def sample(self, X, params, leaves, rng):
        """Draw ``y`` given each row's leaf, shape (n, n_outputs)."""
        mu = self.means(X, params)[np.arange(X.shape[0]), leaves]
        sd = np.sqrt(params.noise_variance[leaves])
        return mu + sd * rng.standard_normal(mu.shape)
