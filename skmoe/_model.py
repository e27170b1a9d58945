"""The model layer: a gating tree plus one expert family.

It knows how to run the E-step on the chosen kernels, how to turn its outputs
into sufficient statistics, and how to take the M-step. It sees arrays and small
frozen parameter records, never an estimator.
"""

from dataclasses import dataclass, replace

import numpy as np

from ._kernels import _estep
from ._kernels._config import PARALLEL_MIN_ROWS, effective_n_jobs, numba_threads
from ._stats import augmented_grams
from ._xp_ops import leaf_log_prior, posterior, tree_log_softmax
from .gates._softmax import bohning_step, centre, newton_step, penalised_gradient


@dataclass(frozen=True)
class Params:
    """All parameters of a mixture: gates ``(n_features + 1, n_slots)`` and experts."""

    gate: np.ndarray
    experts: object


@dataclass
class EStep:
    """E-step outputs; ``resp``/``resid`` may be views into one work buffer."""

    resp: np.ndarray  # (n, n_leaves) posteriors
    resid: np.ndarray  # (n, n_slots) gate residuals
    loglik: np.ndarray  # (n,) log p(y_i | x_i)
    buffer: np.ndarray = None


@dataclass
class FitData:
    """Training arrays (float64, C-contiguous) and per-fit caches."""

    X: np.ndarray
    Y: np.ndarray
    sample_weight: np.ndarray
    root_gram: np.ndarray = None

    @property
    def total_weight(self):
        return float(self.sample_weight.sum())


class MixtureModel:
    """A gating tree of softmax gates over an expert family.

    Parameters
    ----------
    tree : GatingTree
    experts : expert family object (e.g. ``GaussianExperts``)
    gate_alpha : float
        L2 penalty on the gates' slopes.
    gate_solver : {"newton", "bohning"}
    n_jobs : int or None
        Threads of the numba kernels.
    """

    def __init__(self, tree, experts, *, gate_alpha, gate_solver, n_jobs=None):
        self.tree = tree
        self.experts = experts
        self.gate_alpha = gate_alpha
        self.gate_solver = gate_solver
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ E-step
    def _tree_args(self):
        t = self.tree
        return t.node_start, t.slot_node, t.node_parent_slot, t.leaf_path

    def e_step(self, data, params, out=None):
        """Posteriors, gate residuals and per-sample log-likelihoods."""
        X, Y = data.X, data.Y
        n = X.shape[0]
        parallel = n >= PARALLEL_MIN_ROWS and effective_n_jobs(self.n_jobs) > 1
        L, C = self.tree.n_leaves, self.tree.n_slots
        loglik = np.empty(n) if out is None else out.loglik
        if self.experts.fused:
            W = np.concatenate([params.experts.coef, params.gate], axis=1)
            buf = out.buffer if out is not None else None
            if buf is None or buf.shape != (n, W.shape[1]):
                buf = np.empty((n, W.shape[1]))
            np.matmul(X, W[:-1], out=buf)
            buf += W[-1]
            # the kernel reads each row before it writes it, so the outputs
            # can share the projection's memory (see _kernels._estep)
            resp = buf[:, :L]
            resid = buf[:, W.shape[1] - C :]
            const, inv2var = self.experts.kernel_args(params.experts)
            kernel = (_estep.estep_gaussian_parallel if parallel
                      else _estep.estep_gaussian_serial)
            with numba_threads(self.n_jobs):
                kernel(buf, Y, const, inv2var, *self._tree_args(), resp, resid,
                       loglik)
            return EStep(resp, resid, loglik, buf)
        leaf_ll = np.ascontiguousarray(self.experts.leaf_loglik(X, Y, params.experts))
        logits = X @ params.gate[:-1] + params.gate[-1]
        resp = leaf_ll  # overwritten in place
        resid = logits
        kernel = (_estep.estep_loglik_parallel if parallel
                  else _estep.estep_loglik_serial)
        with numba_threads(self.n_jobs):
            kernel(leaf_ll, logits, *self._tree_args(), resp, resid, loglik)
        return EStep(resp, resid, loglik, None)

    def e_step_reference(self, data, params):
        """Vectorised NumPy E-step (the kernels' oracle)."""
        X, Y = data.X, data.Y
        leaf_ll = self.experts.leaf_loglik(X, Y, params.experts)
        logits = X @ params.gate[:-1] + params.gate[-1]
        resp, resid, loglik = posterior(leaf_ll, logits, self.tree)
        return EStep(resp, resid, loglik)

    # --------------------------------------------------------------- objective
    def penalty(self, params):
        gate = params.gate[:-1]
        return (0.5 * self.gate_alpha * float(np.sum(gate * gate))
                + self.experts.penalty(params.experts))

    def objective(self, data, estep, params):
        """Penalised log-likelihood ``sum_i w_i log p(y_i|x_i) - penalty``."""
        return float(data.sample_weight @ estep.loglik) - self.penalty(params)

    # ------------------------------------------------------------------ M-step
    def _node_mass(self, resp):
        return resp @ self.tree.node_leaf_matrix

    def _gate_grams(self, data, resp, S_nodes):
        """Böhning matrices ``sum_i w_i h_ij [x,1][x,1]^T`` for every node."""
        if data.root_gram is None:
            S0, _ = augmented_grams(data.X, None, np.ones((data.X.shape[0], 1)),
                                    sample_weight=data.sample_weight)
            data.root_gram = S0[0]
        p = data.X.shape[1] + 1
        grams = [data.root_gram]
        if S_nodes is not None:
            grams += [S[:p, :p] for S in S_nodes]
        return np.stack(grams)

    def gate_step(self, data, resp, resid_T, gate, S_nodes=None):
        """One Newton or Böhning step of every gate from the gradient data ``T``."""
        grad = penalised_gradient(resid_T, gate, self.gate_alpha)
        if self.gate_solver == "newton":
            X = data.X
            _, g = tree_log_softmax(X @ gate[:-1] + gate[-1], self.tree)
            step = newton_step(grad, X, data.sample_weight, self._node_mass(resp), g,
                               self.gate_alpha, self.tree)
        else:
            step = bohning_step(grad, self._gate_grams(data, resp, S_nodes),
                                self.gate_alpha, self.tree)
        return centre(gate + step, self.tree)

    def statistics(self, data, resp, resid=None):
        """Expert Grams, node Grams (non-root, Böhning only) and gate gradient."""
        W = resp
        n_extra = 0
        if self.tree.n_nodes > 1 and self.gate_solver == "bohning":
            W = np.concatenate([resp, self._node_mass(resp)[:, 1:]], axis=1)
            n_extra = self.tree.n_nodes - 1
        S, T = augmented_grams(data.X, data.Y, W, resid, data.sample_weight)
        L = self.tree.n_leaves
        return S[:L], (S[L:] if n_extra else None), T

    def m_step(self, data, estep, params, min_mass=0.0):
        """New parameters (experts exact, gates one step) and collapsed experts."""
        S, S_nodes, T = self.statistics(data, estep.resp, estep.resid)
        experts, collapsed = self.experts.m_step(S, params.experts, min_mass)
        gate = self.gate_step(data, estep.resp, T, params.gate, S_nodes)
        return Params(gate, experts), collapsed

    def init_from_resp(self, data, resp, n_gate_steps=5, min_mass=0.0):
        """Parameters from initial responsibilities (n, n_leaves).

        The experts get their exact M-step; the gates, starting at zero, take
        ``n_gate_steps`` steps towards the soft targets ``resp``.
        """
        X = data.X
        P = self.tree.path_matrix
        S, S_nodes, _ = self.statistics(data, resp)
        experts, collapsed = self.experts.m_step(S, None, min_mass)
        gate = np.zeros((X.shape[1] + 1, self.tree.n_slots))
        h_slot = resp @ P.T
        mass = self._node_mass(resp)
        parent = self.tree.node_parent_slot[self.tree.slot_node]
        for _ in range(n_gate_steps):
            _, g = tree_log_softmax(X @ gate[:-1] + gate[-1], self.tree)
            h_node = np.where(parent >= 0, h_slot[:, np.maximum(parent, 0)],
                              mass[:, :1])
            resid = h_slot - h_node * g
            T = (np.c_[X, np.ones(X.shape[0])] * data.sample_weight[:, None]).T @ resid
            gate = self.gate_step(data, resp, T, gate, S_nodes)
        return Params(gate, experts), collapsed

    @staticmethod
    def interpolate_gate(old, new, t):
        """Parameters ``new`` with the gate moved back to ``old + t (new - old)``."""
        return replace(new, gate=old.gate + t * (new.gate - old.gate))

    # --------------------------------------------------------------- predict
    def gate_proba(self, X, params):
        """Leaf (expert) probabilities given ``X``, shape (n, n_leaves)."""
        log_g, _ = tree_log_softmax(X @ params.gate[:-1] + params.gate[-1], self.tree)
        return np.exp(leaf_log_prior(log_g, self.tree))

    def n_params(self, n_features):
        return (self.experts.n_params(n_features)
                + self.tree.n_gate_params(n_features))
