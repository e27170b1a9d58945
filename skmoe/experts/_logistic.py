"""Multinomial logistic experts (binary and multiclass classification).

Leaf ``l`` models ``P(y = c | x) = p_lc(x) = softmax_c(x1 . W_l[:, c])`` with
``x1 = [x, 1]``; each ``W_l`` (``p = d + 1`` rows, one column per class) is kept
centred over its classes. The expert M-step is a softmax regression with hard
targets ``Y`` (one-hot) and sample weights ``w_i h_il``: exactly the gate's
M-step with one node of ``n_classes`` slots, so it reuses
``skmoe.gates._softmax``. One Newton (IRLS) step per EM iteration, warm-started
from the current ``W_l`` (generalised EM), from summable statistics

    grad_l = sum_i w_i h_il x1_i (y_i - p_il)^T                      (p, C)
    hess_l = sum_i w_i h_il (diag p_il - p_il p_il^T) (x) x1_i x1_i^T

with the first class as the reference (its row and column left out, as for
the gate). The step can overshoot, so the family is not ``exact``: the EM
driver moves it back towards the old parameters when the objective falls.

Penalty: ``alpha / 2 sum_c ||W_l[:d, c]||^2`` for three classes or more, as
scikit-learn's multinomial ``LogisticRegression`` with ``C = 1 / alpha``; a
binary expert penalises its single logit difference ``v = W[:, 1] - W[:, 0]``,
``alpha / 2 ||v[:d]||^2``, again as ``LogisticRegression`` does (in centred
coordinates this is the first form with ``2 alpha``).
"""

from dataclasses import dataclass, replace

import numpy as np

from .._stats import augmented_grams
from .._tree import GatingTree
from ..gates._softmax import centre, newton_step, penalised_gradient
from ._linear import linear_predictor_at


@dataclass(frozen=True)
class LogisticParams:
    """Parameters of all logistic leaves.

    coef : ndarray of shape (n_features + 1, n_leaves * n_classes)
        Slopes then intercept (last row) of the class logits; columns
        leaf-major, centred over each leaf's classes.
    """

    coef: np.ndarray


class LogisticExperts:
    """Family object for multinomial logistic experts."""

    fused = False
    kernel = "logistic"  # the fused family kernel serves this family
    exact = False
    needs_data = False
    attribute_names = ("coef_", "intercept_")

    def __init__(self, n_leaves, n_classes, *, alpha, features=None):
        self.n_leaves = n_leaves
        self.n_classes = n_classes
        self.alpha = alpha
        self.features = features
        self._node = GatingTree((n_classes,))  # one softmax node over classes
        self._alpha = alpha * (2.0 if n_classes == 2 else 1.0)

    def log_proba(self, X, params):
        """``log p_lc(x)`` of every leaf and class, shape (n, L, C).

        Computed class-major, (n, C, L) in memory, so that the reductions over
        the few classes run over whole rows of leaves (a reduction over a short
        last axis is ten times slower); the result is a transposed view.
        """
        n = X.shape[0]
        L, C = self.n_leaves, self.n_classes
        coef = params.coef.reshape(-1, L, C).transpose(0, 2, 1).reshape(-1, C * L)
        eta = X @ coef[:-1]
        eta += coef[-1]
        eta = eta.reshape(n, C, L)
        eta -= eta.max(axis=1, keepdims=True)
        eta -= np.log(np.exp(eta).sum(axis=1, keepdims=True))
        return eta.transpose(0, 2, 1)

    def proba(self, X, params):
        """Class probabilities of every leaf, shape (n, L, C)."""
        return np.exp(self.log_proba(X, params))

    def leaf_loglik(self, X, Y, params):
        """``log p_l(y_i | x_i)`` for one-hot ``Y`` (n, C), shape (n, L)."""
        return np.einsum("nlc,nc->nl", self.log_proba(X, params), Y)

    def chunk_stats(self, X, Y, W, params):
        """Summable statistics of rows ``X`` with weights ``W`` (n, L).

        Returns ``(mass (L,), q (L,), grad (L, p, C), hess (L, (C-1) p,
        (C-1) p))``: each leaf's weight, weighted log-likelihood, gradient and
        Newton matrix at ``params`` (None: uniform probabilities, the start of
        ``m_step``'s closed-form intercepts).
        """
        n, d = X.shape
        L, C = self.n_leaves, self.n_classes
        p = d + 1
        if params is None:
            logp = np.full((n, L, C), -np.log(C))
        else:
            logp = self.log_proba(X, params)
        P = np.exp(logp)
        q = np.einsum("nl,nlc,nc->l", W, logp, Y)
        x1 = np.empty((n, p))
        x1[:, :d] = X
        x1[:, d] = 1.0
        R = W[:, :, None] * (Y[:, None, :] - P)
        grad = (x1.T @ R.reshape(n, L * C)).reshape(p, L, C).transpose(1, 0, 2)
        # Newton weights w h p_s (delta_st - p_t) of the pairs s <= t past the
        # reference class, then all their x1 x1^T sums in one product
        s_idx, t_idx = np.triu_indices(C - 1)
        s_idx, t_idx = s_idx + 1, t_idx + 1
        Hw = -P[:, :, s_idx] * P[:, :, t_idx]
        diag = s_idx == t_idx
        Hw[:, :, diag] += P[:, :, s_idx[diag]]
        Hw *= W[:, :, None]
        blocks, _ = augmented_grams(X, None, Hw.reshape(n, -1))
        blocks = blocks.reshape(L, s_idx.size, p, p)
        hess = np.empty((L, (C - 1) * p, (C - 1) * p))
        for k, (s, t) in enumerate(zip(s_idx - 1, t_idx - 1)):
            hess[:, s * p:(s + 1) * p, t * p:(t + 1) * p] = blocks[:, k]
            hess[:, t * p:(t + 1) * p, s * p:(s + 1) * p] = blocks[:, k]
        return W.sum(axis=0), q, grad, hess

    def m_step(self, stats, old=None, min_mass=0.0):
        """One Newton step per leaf from ``chunk_stats`` (summed).

        ``old=None``: the intercept-only fit (log class frequencies under each
        leaf's weights), from statistics taken at ``params=None``. Returns the
        parameters and the indices of collapsed experts.
        """
        mass, _, grad, hess = stats
        L, C = self.n_leaves, self.n_classes
        p = grad.shape[1]
        collapsed = [leaf for leaf in range(L) if not mass[leaf] > min_mass]
        if old is None:
            coef = np.zeros((p, L * C))
            for leaf in range(L):
                # at uniform p: grad[-1, c] = (class weight) - mass / C
                counts = grad[leaf, -1] + mass[leaf] / C
                freq = np.maximum(counts, 1e-8 * max(mass[leaf], 1e-300))
                logf = np.log(freq)
                coef[-1, leaf * C:(leaf + 1) * C] = logf - logf.mean()
            return LogisticParams(coef), collapsed
        coef = old.coef.copy()
        for leaf in range(L):
            if leaf in collapsed:
                continue
            cols = slice(leaf * C, (leaf + 1) * C)
            Wl = old.coef[:, cols]
            g = penalised_gradient(grad[leaf], Wl, self._alpha)
            step = newton_step(g, [hess[leaf]], self._alpha, self._node,
                               self.features)
            coef[:, cols] = centre(Wl + step, self._node)
        return LogisticParams(coef), collapsed

    def q_value(self, stats, params):
        """Penalised weighted log-likelihood of the statistics' parameters."""
        return float(np.sum(stats[1])) - self.penalty(params)

    def penalty(self, params):
        """``alpha / 2 * sum ||W_l[:d]||^2`` (``2 alpha`` for two classes)."""
        return 0.5 * self._alpha * float(np.sum(params.coef[:-1] ** 2))

    def interpolate(self, old, new, t):
        """``old + t (new - old)`` (stays centred)."""
        return replace(new, coef=old.coef + t * (new.coef - old.coef))

    def predict_at(self, X, params, leaves):
        """Class probabilities of the selected leaves only, shape (n, k, C)."""
        eta = linear_predictor_at(X, params.coef, leaves, self.n_classes)
        eta -= eta.max(axis=2, keepdims=True)
        np.exp(eta, out=eta)
        eta /= eta.sum(axis=2, keepdims=True)
        return eta

    def sample(self, X, params, leaves, rng):
        """Draw a class index given each row's leaf, shape (n,)."""
        P = self.proba(X, params)[np.arange(X.shape[0]), leaves]
        u = rng.uniform(size=(P.shape[0], 1))
        return np.minimum((np.cumsum(P, axis=1) < u).sum(axis=1), self.n_classes - 1)

    def n_params(self, n_features):
        if self.features is not None:
            n_features = len(self.features)
        return self.n_leaves * (self.n_classes - 1) * (n_features + 1)

    def attributes(self, params):
        """Fitted attributes: ``coef_`` (L, C, d) and ``intercept_`` (L, C)."""
        L, C = self.n_leaves, self.n_classes
        coef = params.coef
        return {"coef_": coef[:-1].T.reshape(L, C, -1).copy(),
                "intercept_": coef[-1].reshape(L, C).copy()}

    def from_attributes(self, coef_, intercept_):
        L, C = self.n_leaves, self.n_classes
        coef = np.vstack([np.reshape(coef_, (L * C, -1)).T,
                          np.reshape(intercept_, (1, L * C))])
        return LogisticParams(np.ascontiguousarray(coef, dtype=float))
