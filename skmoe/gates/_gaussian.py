"""The localised (Gaussian-kernel) gate of Xu, Jordan & Hinton (1995).

The gate is ``g_k(x) = a_k N(x; m_k, S_k) / sum_j a_j N(x; m_j, S_j)``: the
posterior of component ``k`` of a Gaussian mixture on the inputs. EM then
maximises the *joint* log-likelihood

    sum_i w_i log sum_k a_k N(x_i; m_k, S_k) f_k(y_i | x_i),

whose posteriors are those of the conditional model (the denominator of
``g`` cancels), and whose gate M-step is closed form from the weighted
moments of the inputs under the responsibilities ``h_ik``. With the Gram
matrices ``G_k = sum_i w_i h_ik x1_i x1_i^T`` (``x1 = [x, 1]``; for Gaussian
experts they are sub-blocks of the experts' Grams):

    a_k = G_k[1, 1] / sum_j G_j[1, 1]            (the weighted share)
    m_k = G_k[x, 1] / G_k[1, 1]                  (weighted mean)
    S_k = G_k[x, x] / G_k[1, 1] - m_k m_k^T      (weighted covariance)

The covariance floor keeps ``S_k >= reg_covar * diag(v)`` (``v`` the weighted
variances of the features): for "full", the eigenvalues of the standardised
covariance ``V^-1/2 S_k V^-1/2`` are clipped below at ``reg_covar``; for
"diag", each variance at ``reg_covar * v_j``. Both are the exact maximisers
of the M-step's objective under that constraint (the clipped eigenvalues
maximise ``-log|S| - tr(S^-1 C)`` over ``S >= c I``), so EM stays monotone in
the joint likelihood. Only the selected gate features enter the densities.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg
from scipy.special import logsumexp


@dataclass(frozen=True)
class GaussianGateParams:
    """Localised gate: mixing weights, means and covariances of the inputs.

    weights : ndarray of shape (n_leaves,)
    means : ndarray of shape (n_leaves, n_gate_features)
    covariances : ndarray of shape (n_leaves, g, g) ("full") or (n_leaves, g)
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray

    @property
    def covariance_type(self):
        return "full" if self.covariances.ndim == 3 else "diag"


def _precision_cholesky(cov):
    """Upper factors ``U`` with ``S^-1 = U U^T`` (full) or ``1 / sqrt(S)`` (diag)."""
    if cov.ndim == 2:
        return 1.0 / np.sqrt(cov)
    out = np.empty_like(cov)
    if cov.shape[1] == 0:  # no gate features: the gate is the weights alone
        return out
    for k, S in enumerate(cov):
        low = linalg.cholesky(S, lower=True)
        out[k] = linalg.solve_triangular(low, np.eye(S.shape[0]), lower=True).T
    return out


def log_weights(X, params, features=None):
    """``log a_k + log N(x; m_k, S_k)`` of every row and leaf, shape (n, L).

    Their log-softmax is the log gate; their log-sum-exp is ``log p(x)``.
    """
    Xg = X if features is None else X[:, features]
    n, g = Xg.shape
    L = params.weights.size
    U = _precision_cholesky(params.covariances)
    if params.covariance_type == "diag":
        z = (Xg[:, None, :] - params.means[None]) * U[None]
        log_det = np.sum(np.log(U), axis=1)
    else:
        # (x - m_k) U_k for all k in one product: (n, g) @ (g, L g)
        proj = Xg @ U.transpose(1, 0, 2).reshape(g, L * g)
        shift = np.einsum("kg,kgh->kh", params.means, U).reshape(L * g)
        z = (proj - shift).reshape(n, L, g)
        log_det = np.sum(np.log(np.diagonal(U, axis1=1, axis2=2)), axis=1)
    with np.errstate(divide="ignore"):
        log_a = np.log(params.weights)
    return (log_a + log_det - 0.5 * g * math.log(2 * math.pi)
            - 0.5 * np.einsum("nlg,nlg->nl", z, z))


def log_gate(X, params, features=None):
    """Log gate probabilities ``log g_k(x)``, shape (n, L)."""
    lw = log_weights(X, params, features)
    return lw - logsumexp(lw, axis=1, keepdims=True)


def feature_scale(total_gram, features=None):
    """Weighted variances of the gate features from ``sum_i w_i x1 x1^T``."""
    W = max(float(total_gram[-1, -1]), 1e-300)
    mean = total_gram[:-1, -1] / W
    var = np.diag(total_gram[:-1, :-1]) / W - mean ** 2
    if features is not None:
        var = var[features]
    return np.where(var > 0, var, 1.0)


def m_step(grams, covariance_type, reg_covar, features=None, old=None,
           min_mass=0.0):
    """Closed-form gate M-step from the Gram matrices ``grams`` (L, p, p).

    An expert whose mass is at most ``min_mass`` keeps its old mean and
    covariance (at the start: the moments of all the data) and its old share
    of the mixing weights; the others share the rest in proportion to their
    masses. Returns the parameters and the indices of collapsed experts.
    """
    L, p, _ = grams.shape
    rows = np.arange(p - 1) if features is None else np.asarray(features, np.intp)
    g = rows.size
    total = grams.sum(axis=0)
    scale = feature_scale(total, features)
    floor = reg_covar * scale
    mass = grams[:, -1, -1].copy()
    collapsed = [k for k in range(L) if not mass[k] > min_mass]
    means = np.empty((L, g))
    cov = np.empty((L, g, g)) if covariance_type == "full" else np.empty((L, g))
    for k in range(L):
        G = total if k in collapsed else grams[k]
        if k in collapsed and old is not None:
            means[k], cov[k] = old.means[k], old.covariances[k]
            continue
        N = max(float(G[-1, -1]), 1e-300)
        mu = G[rows, -1] / N
        C = G[np.ix_(rows, rows)] / N - np.outer(mu, mu)
        means[k] = mu
        if covariance_type == "diag":
            cov[k] = np.maximum(np.diag(C), floor)
        elif g == 0:
            cov[k] = C
        else:
            s = np.sqrt(scale)
            lam, V = linalg.eigh(C / np.outer(s, s))
            Cs = (V * np.maximum(lam, reg_covar)) @ V.T
            Cs = 0.5 * (Cs + Cs.T)
            cov[k] = Cs * np.outer(s, s)
    weights = np.empty(L)
    free = np.array([k not in collapsed for k in range(L)])
    if old is None:
        weights[~free] = 1e-10
    else:
        weights[~free] = old.weights[~free]
    rest = max(1.0 - weights[~free].sum(), 1e-10)
    weights[free] = rest * mass[free] / max(mass[free].sum(), 1e-300)
    return GaussianGateParams(weights, means, cov), collapsed


def n_params(n_leaves, n_gate_features, covariance_type):
    """Free parameters: weights, means and covariances."""
    g = n_gate_features
    cov = g * (g + 1) // 2 if covariance_type == "full" else g
    return (n_leaves - 1) + n_leaves * (g + cov)
