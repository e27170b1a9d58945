"""The model layer with the localised (Gaussian-kernel) gate, flat trees only.

``LocalGateModel`` is ``MixtureModel`` with the gate of
``skmoe.gates._gaussian``: the gate's log-weights ``log a_k + log N(x; m_k,
S_k)`` replace the softmax logits in the generic E-step kernel, which then
gives the posteriors and the *conditional* log-likelihood ``log p(y | x)``;
adding ``log p(x) = logsumexp_k(log-weights)`` gives the joint
log-likelihood that this EM maximises (and that ``objective`` reports). Every
chunk adds the gate's moments ``sum_i w_i h_ik x1 x1^T`` to its statistics
(for Gaussian experts, sub-blocks of their Gram matrices) and the gate's
M-step is closed form. The expert families plug in as in ``MixtureModel``.
"""

import numpy as np
from scipy.special import logsumexp

from ._kernels import _estep
from ._model import CHUNK_ROWS, MixtureModel, Params, Stats
from ._stats import augmented_grams
from ._xp_ops import top_k_leaves
from .gates import _gaussian


class LocalGateModel(MixtureModel):
    """A flat mixture whose gate is ``g_k(x) ∝ a_k N(x; m_k, S_k)``.

    Parameters
    ----------
    tree : GatingTree
        Of depth 1.
    experts : expert family object
    covariance_type : {"full", "diag"}
    reg_covar : float
        Covariance floor relative to the features' variances.
    n_jobs : int or None
    gate_features : ndarray of int or None
        Columns of ``X`` the gate's densities use (None: all).
    """

    def __init__(self, tree, experts, *, covariance_type, reg_covar, n_jobs=None,
                 gate_features=None):
        if tree.depth != 1:
            raise ValueError(
                "the localised (gaussian) gate serves flat mixtures only: use "
                "gate='softmax' for a hierarchical mixture of depth > 1."
            )
        super().__init__(tree, experts, gate_alpha=0.0, gate_solver="gaussian",
                         n_jobs=n_jobs, gate_features=gate_features)
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar

    _fused_kernel = False
    _local_gate = True
    # Gaussian and logistic experts run the fused family kernel
    _family_kernel = property(
        lambda self: self.experts.kernel in ("gaussian", "logistic"))

    def _gate_logits(self, X, gate):
        return _gaussian.log_weights(X, gate, self.gate_features)

    # -------------------------------------------------------------- statistics
    def _local_stats(self, X, Y, sw, resp, joint_loglik):
        """Joint log-likelihood, the experts' Grams or nothing, the gate's moments."""
        grams = bool(self.experts.fused)
        S, _ = augmented_grams(X, Y if grams else None, resp, None, sw)
        p = X.shape[1] + 1
        return Stats(float(sw @ joint_loglik), S if grams else None, None,
                     gate_grams=S[:, :p, :p])

    def _chunk_statistics(self, X, Y, sw, params, W_out=None):
        n = X.shape[0]
        logits = self._gate_logits(X, params.gate)
        log_px = logsumexp(logits, axis=1)
        leaf_ll = np.ascontiguousarray(self.experts.leaf_loglik(X, Y, params.experts),
                                       dtype=np.float64)
        loglik = np.empty(n)
        # conditional E-step: posteriors and log p(y | x); outputs in place
        _estep.estep_loglik_serial(leaf_ll, logits, *self._tree_args(), leaf_ll,
                                   logits, loglik)
        resp = leaf_ll
        stats = self._local_stats(X, Y, sw, resp, loglik + log_px)
        self._add_expert_stats(stats, X, Y, sw, resp, params, W_out)
        return stats

    # --------------------------------------------------------------- objective
    def penalty(self, params):
        """The experts' penalty (the gate's floor is a constraint)."""
        return self.experts.penalty(params.experts)

    def objective(self, stats, params):
        """Penalised *joint* log-likelihood ``sum_i w_i log p(x_i, y_i) -
        penalty``: the quantity this EM never lowers."""
        return stats.loglik - self.penalty(params)

    # ------------------------------------------------------------------ M-step
    def gate_step(self, stats, gate, min_mass=0.0):
        """Closed-form gate M-step (exact)."""
        new, _ = _gaussian.m_step(stats.gate_grams, self.covariance_type,
                                  self.reg_covar, self.gate_features, gate, min_mass)
        return new

    def m_step(self, stats, params, min_mass=0.0):
        experts, collapsed = self.experts.m_step(self._expert_statistics(stats),
                                                 params.experts, min_mass)
        gate = self.gate_step(stats, params.gate, min_mass)
        return Params(gate, experts), collapsed

    def init_from_resp(self, data, resp, n_gate_steps=5, min_mass=0.0):
        """Gate and experts fitted to the initial responsibilities (n, L).

        ``n_gate_steps`` is accepted for ``MixtureModel``'s signature and not
        used: the Gaussian gate's M-step is exact, one step.
        """
        X, Y, sw = data.X, data.Y, data.sample_weight
        stats = self._local_stats(X, Y, sw, resp, np.zeros(X.shape[0]))
        gate, _ = _gaussian.m_step(stats.gate_grams, self.covariance_type,
                                   self.reg_covar, self.gate_features, None, min_mass)
        experts, collapsed = self.fit_experts(data, resp, min_mass, stats=stats)
        return Params(gate, experts), collapsed

    def interpolate(self, old, new, t):
        """The gate's M-step is exact: only inexact experts move back."""
        experts = new.experts
        if not self.experts.exact:
            experts = self.experts.interpolate(old.experts, new.experts, t)
        return Params(new.gate, experts)

    interpolate_gate = interpolate

    # --------------------------------------------------------------- predict
    def top_k_experts(self, X, params, k, chunk_rows=CHUNK_ROWS):
        """The ``k`` most probable experts of each row (dense gate evaluation)."""
        n = X.shape[0]
        leaves = np.empty((n, k), dtype=np.int64)
        weights = np.empty((n, k))
        outputs = []
        for a in range(0, max(n, 1), chunk_rows):
            b = min(n, a + chunk_rows)
            log_g = _gaussian.log_gate(X[a:b], params.gate, self.gate_features)
            leaves[a:b], weights[a:b] = top_k_leaves(log_g, k)
            outputs.append(self.experts.predict_at(X[a:b], params.experts,
                                                   leaves[a:b]))
        return leaves, weights, np.concatenate(outputs, axis=0)

    def n_params(self, n_features):
        g = n_features if self.gate_features is None else len(self.gate_features)
        return (self.experts.n_params(n_features)
                + _gaussian.n_params(self.tree.n_leaves, g, self.covariance_type))
