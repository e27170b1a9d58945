"""The model layer: a gating tree plus one expert family.

One EM iteration is one pass over the data in chunks of rows. Each chunk runs
the E-step kernel and reduces its outputs to fixed-size sufficient statistics
(``Stats``); the sums of all chunks feed the M-step, which never sees the data.
The same chunk function serves the in-memory fit (chunks spread over threads),
and is what an out-of-core or distributed backend maps over its blocks.

This layer sees arrays and small frozen parameter records, never an estimator.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from ._kernels import _estep, _fused, _topk
from ._kernels._config import (
    PARALLEL_MIN_ROWS,
    effective_n_jobs,
    kernel_array,
    numba_threads,
)
from ._model_fused import family_block
from ._stats import WeightedData, augmented_grams
from ._stats import unpack_triangles as _unpack
from ._xp_ops import leaf_log_prior, posterior, tree_log_softmax
from .gates._softmax import (
    bohning_step,
    centre,
    newton_hessians,
    newton_step,
    penalised_gradient,
    uniform_hessians,
)

# Rows per chunk of the statistics pass: the E-step's work arrays stay in cache.
CHUNK_ROWS = 8192
# Step halvings of one Newton step of an expert family at initialisation.
_MAX_INIT_HALVINGS = 20


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


@dataclass
class Stats:
    """Sufficient statistics of one pass; chunks' statistics add up.

    loglik : float
        ``sum_i w_i log p(y_i | x_i)``.
    expert_grams : ndarray of shape (n_leaves, q, q)
        ``sum_i w_i h_il z z^T`` with ``z = [x, 1, y]``.
    gate_grad : ndarray of shape (p, n_slots)
        ``sum_i w_i [x, 1] resid_i^T``.
    node_grams : ndarray of shape (n_nodes, p, p) or None
        ``sum_i w_i h_ij [x, 1][x, 1]^T`` of every node (Böhning).
    hessians : list of ndarray or None
        Newton matrices of every node (Newton solver).
    expert_stats : tuple of ndarray, WeightedData or None
        Statistics of an expert family without Gram matrices (``fused`` is
        False): the sums of its ``chunk_stats``, or, for a family that
        ``needs_data``, the weighted data itself (in memory only).
    gate_grams : ndarray of shape (n_leaves, p, p) or None
        ``sum_i w_i h_il [x, 1][x, 1]^T`` (the localised gate's moments).
    """

    loglik: float
    expert_grams: np.ndarray
    gate_grad: np.ndarray
    node_grams: np.ndarray = None
    hessians: list = None
    expert_stats: object = None
    gate_grams: np.ndarray = None

    def __add__(self, other):
        return Stats(
            self.loglik + other.loglik,
            _add(self.expert_grams, other.expert_grams),
            _add(self.gate_grad, other.gate_grad),
            _add(self.node_grams, other.node_grams),
            _add(self.hessians, other.hessians),
            _add(self.expert_stats, other.expert_stats),
            _add(self.gate_grams, other.gate_grams),
        )


def _add(a, b):
    """Sum of two statistics: arrays, tuples or lists of arrays, or None.

    Anything else (``WeightedData``, shared by all blocks of a pass) is kept.
    """
    if a is None or b is None:
        return a if b is None else b
    if isinstance(a, (tuple, list)):
        return type(a)(x + y for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return a + b
    return a


@dataclass
class FitData:
    """Training arrays (float64, C-contiguous) and per-fit caches."""

    X: np.ndarray
    Y: np.ndarray
    sample_weight: np.ndarray

    @property
    def total_weight(self):
        return float(self.sample_weight.sum())


class StatsLayout:
    """Where each statistic lives in the fused kernel's flat accumulator."""

    def __init__(self, tree, n_features, n_outputs, want_hess):
        p = n_features + 1
        self.p, self.q = p, p + n_outputs
        self.tree = tree
        uq, up = self.q * (self.q + 1) // 2, p * (p + 1) // 2
        sizes = np.diff(tree.node_start)
        # Newton matrices leave out each node's first (reference) slot
        pairs = sizes * (sizes - 1) // 2 if want_hess else np.zeros_like(sizes)
        self.hess_start = np.concatenate([[0], np.cumsum(pairs)]).astype(np.int64)
        off_e = 1
        off_g = off_e + tree.n_leaves * uq
        off_h = off_g + tree.n_slots * p
        self.size = off_h + int(self.hess_start[-1]) * up
        self.offsets = np.array([off_e, off_g, off_h], dtype=np.int64)
        self.want_hess = bool(want_hess)

    def unpack(self, acc):
        """``Stats`` from the summed accumulator."""
        tree, p, q = self.tree, self.p, self.q
        uq, up = q * (q + 1) // 2, p * (p + 1) // 2
        off_e, off_g, off_h = self.offsets
        grams = _unpack(acc[off_e:off_g].reshape(tree.n_leaves, uq), q)
        grad = acc[off_g:off_h].reshape(tree.n_slots, p).T.copy()
        hessians = None
        if self.want_hess:
            hessians = []
            for j in range(tree.n_nodes):
                b = int(tree.node_start[j + 1] - tree.node_start[j]) - 1
                blocks = _unpack(acc[off_h + self.hess_start[j] * up:
                                     off_h + self.hess_start[j + 1] * up]
                                 .reshape(-1, up), p)
                H = np.empty((b * p, b * p))
                k = 0
                for s in range(b):
                    for t in range(s, b):
                        H[s * p:(s + 1) * p, t * p:(t + 1) * p] = blocks[k]
                        H[t * p:(t + 1) * p, s * p:(s + 1) * p] = blocks[k]
                        k += 1
                hessians.append(H)
        return Stats(float(acc[0]), grams, grad, None, hessians)


def node_grams_from_experts(expert_grams, tree, p):
    """Böhning's node Gram matrices from the experts' Gram matrices.

    The posterior mass of node ``j`` is the sum of its leaves' posteriors,
    ``h_ij = sum_{l under j} h_il``, so ``G_j = sum_i w_i h_ij x1 x1^T`` is the
    sum of the leading ``p x p`` (``x1 = [x, 1]``) blocks of the experts'
    ``S_l = sum_i w_i h_il z z^T`` under ``j``: no pass over the data.

    Parameters
    ----------
    expert_grams : ndarray of shape (n_leaves, q, q)
        Gram matrices of ``z = [x, 1, y]``, ``q = p + n_outputs``.
    tree : GatingTree
    p : int
        ``n_features + 1``.

    Returns
    -------
    node_grams : ndarray of shape (n_nodes, p, p)
    """
    return np.einsum("lj,lab->jab", tree.node_leaf_matrix,
                     expert_grams[:, :p, :p])


def _row_blocks(n, n_blocks, chunk_rows):
    """Split ``range(n)`` into ``n_blocks`` contiguous runs of whole chunks."""
    n_chunks = -(-n // chunk_rows)
    edges = np.linspace(0, n_chunks, min(n_blocks, n_chunks) + 1).round().astype(int)
    return [(a * chunk_rows, min(n, b * chunk_rows)) for a, b in zip(edges, edges[1:])]


def for_row_chunks(func, n, n_jobs, chunk_rows=CHUNK_ROWS):
    """Call ``func(a, b)`` on the chunks ``[a, b)`` of ``range(n)``, in threads.

    The chunks are ``chunk_rows`` long whatever ``n_jobs``, so a ``func`` that
    writes its rows of preallocated outputs gives the same numbers on any
    number of threads. ``n_jobs`` threads (``effective_n_jobs``) share the
    chunks (NumPy's loops and BLAS release the GIL). BLAS is held to one
    thread a chunk: its threads only slow products of a chunk's size.
    """
    chunks = [(a, min(n, a + chunk_rows)) for a in range(0, n, chunk_rows)]
    if len(chunks) <= 1:
        for a, b in chunks:
            func(a, b)
        return
    n_threads = min(effective_n_jobs(n_jobs), len(chunks))
    with threadpool_limits(limits=1, user_api="blas"), \
            ThreadPoolExecutor(n_threads) as pool:
        list(pool.map(lambda ab: func(*ab), chunks))


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
        Threads of the statistics pass and the kernels.
    gate_features : ndarray of int or None
        Columns of ``X`` the gates may use (None: all); the other slopes stay 0.

    Any expert family plugs in (see ``skmoe.experts``): Gaussian experts
    (``fused``) take the fused kernel and hand the M-step Gram matrices; other
    families give ``leaf_loglik`` to the generic E-step kernel and summable
    ``chunk_stats(X, Y, W, params)`` (``W = sample_weight * resp``) to their
    ``m_step``; a family that ``needs_data`` gets ``WeightedData`` instead.
    Families whose M-step is not ``exact`` are moved back by ``interpolate``
    when an EM step lowers the objective.
    """

    def __init__(self, tree, experts, *, gate_alpha, gate_solver, n_jobs=None,
                 gate_features=None):
        self.tree = tree
        self.experts = experts
        self.gate_alpha = gate_alpha
        self.gate_solver = gate_solver
        self.n_jobs = n_jobs
        self.gate_features = gate_features

    # Gaussian experts under softmax gates run the fused numba kernels
    _fused_kernel = property(lambda self: bool(self.experts.fused))
    # logistic experts run the fused family kernel (skmoe._model_fused)
    _family_kernel = property(lambda self: self.experts.kernel == "logistic")
    _local_gate = False

    def _gate_logits(self, X, gate):
        """Unnormalised log gate weights of every slot, shape (n, n_slots)."""
        logits = X @ gate[:-1]
        logits += gate[-1]
        return logits

    # ------------------------------------------------------------------ E-step
    def _tree_args(self):
        t = self.tree
        return t.node_start, t.slot_node, t.node_parent_slot, t.leaf_path

    def _estep_rows(self, X, Y, params, parallel, want_g=False):
        """E-step of a block of rows; returns ``EStep`` (and gate probabilities)."""
        n = X.shape[0]
        C = self.tree.n_slots
        L = self.tree.n_leaves
        loglik = np.empty(n)
        g = None
        if self._fused_kernel:
            W = np.concatenate([params.experts.coef, params.gate], axis=1)
            buf = X @ W[:-1]
            buf += W[-1]
            if want_g:
                _, g = tree_log_softmax(buf[:, W.shape[1] - C :], self.tree)
            # the kernel reads each row before it writes it, so the outputs
            # can share the projection's memory (see _kernels._estep)
            resp = buf[:, :L]
            resid = buf[:, W.shape[1] - C :]
            const, inv2var = self.experts.kernel_args(params.experts)
            kernel = (_estep.estep_gaussian_parallel if parallel
                      else _estep.estep_gaussian_serial)
            kernel(buf, Y, const, inv2var, *self._tree_args(), resp, resid, loglik)
            return EStep(resp, resid, loglik), g
        leaf_ll = np.ascontiguousarray(self.experts.leaf_loglik(X, Y, params.experts),
                                       dtype=np.float64)
        logits = self._gate_logits(X, params.gate)
        if want_g:
            _, g = tree_log_softmax(logits, self.tree)
        kernel = (_estep.estep_loglik_parallel if parallel
                  else _estep.estep_loglik_serial)
        # outputs overwrite the inputs row by row
        kernel(leaf_ll, logits, *self._tree_args(), leaf_ll, logits, loglik)
        return EStep(leaf_ll, logits, loglik), g

    def e_step(self, X, Y, params):
        """Posteriors, gate residuals and log-likelihoods of all rows of ``X``."""
        parallel = (X.shape[0] >= PARALLEL_MIN_ROWS
                    and effective_n_jobs(self.n_jobs) > 1)
        with numba_threads(self.n_jobs):
            return self._estep_rows(X, Y, params, parallel)[0]

    def e_step_reference(self, X, Y, params):
        """Vectorised NumPy E-step (the kernels' oracle)."""
        leaf_ll = self.experts.leaf_loglik(X, Y, params.experts)
        logits = self._gate_logits(X, params.gate)
        return EStep(*posterior(leaf_ll, logits, self.tree))

    # -------------------------------------------------------------- statistics
    def _node_mass(self, resp):
        """Posterior mass of reaching each node, shape (n, n_nodes)."""
        return resp @ self.tree.node_leaf_matrix

    def reduce(self, X, Y, sw, estep, g=None, node_grams=False):
        """Sufficient statistics of a block from its E-step outputs.

        The experts' Gram matrices only for a Gram family (``fused``); other
        families' statistics are added by ``block_statistics``. The nodes'
        Gram matrices for Böhning's bound or when ``node_grams``; the Newton
        matrices when the gate probabilities ``g`` are given.
        """
        tree = self.tree
        grams = bool(self.experts.fused)
        weights = [estep.resp] if grams else [np.empty((X.shape[0], 0))]
        mass = None
        want_nodes = node_grams or self.gate_solver == "bohning"
        if tree.n_nodes > 1 or g is not None or want_nodes:
            mass = self._node_mass(estep.resp)
        if want_nodes:
            weights.append(mass)
        W = weights[0] if len(weights) == 1 else np.concatenate(weights, axis=1)
        S, T = augmented_grams(X, Y if grams else None, W, estep.resid, sw)
        L = tree.n_leaves if grams else 0
        p = X.shape[1] + 1
        node_grams = S[L:, :p, :p] if S.shape[0] > L else None
        hessians = None
        if g is not None:
            hessians = newton_hessians(X, sw, mass, g, tree)
        return Stats(float(sw @ estep.loglik), S[:L] if grams else None, T,
                     node_grams, hessians)

    def block_statistics(self, X, Y, sw, params, chunk_rows=CHUNK_ROWS, W_out=None):
        """E-step and sufficient statistics of one block of rows, on one thread.

        The unit of work of every backend: threads and Dask tasks call it on
        their rows and add the results. Gaussian experts take the fused kernel
        (no n x K arrays); other families go through chunks of ``chunk_rows``
        and add their ``chunk_stats``; a family that ``needs_data`` has its
        weights ``sw * resp`` written to ``W_out`` (the block's rows) instead.
        """
        if self._fused_kernel:
            return self._fused_block(X, Y, sw, params)
        if self._family_kernel:
            return Stats(**family_block(self, X, Y, sw, params, self._local_gate))
        total = None
        for a in range(0, X.shape[0], chunk_rows):
            b = min(X.shape[0], a + chunk_rows)
            s = self._chunk_statistics(X[a:b], Y[a:b], sw[a:b], params,
                                       None if W_out is None else W_out[a:b])
            total = s if total is None else total + s
        return total

    def _chunk_statistics(self, X, Y, sw, params, W_out=None):
        """Statistics of one chunk on the generic (non-fused) path."""
        estep, g = self._estep_rows(X, Y, params, parallel=False,
                                    want_g=self.gate_solver == "newton")
        stats = self.reduce(X, Y, sw, estep, g)
        self._add_expert_stats(stats, X, Y, sw, estep.resp, params, W_out)
        return stats

    def _add_expert_stats(self, stats, X, Y, sw, resp, params, W_out):
        ex = self.experts
        if ex.fused:
            return
        if ex.needs_data:
            np.multiply(resp, sw[:, None], out=W_out)
        else:
            stats.expert_stats = ex.chunk_stats(X, Y, resp * sw[:, None],
                                                params.experts)

    def _fused_block(self, X, Y, sw, params):
        tree = self.tree
        # Böhning's node Gram matrices follow from the experts' (see
        # node_grams_from_experts): the kernel does not accumulate them
        layout = StatsLayout(tree, X.shape[1], Y.shape[1],
                             self.gate_solver == "newton")
        W = np.concatenate([params.experts.coef, params.gate], axis=1)
        const, inv2var = self.experts.kernel_args(params.experts)
        acc = np.zeros(layout.size)
        # read-only views: one compiled signature whether or not the caller's
        # arrays (a memmap, say) are writable
        X, Y, sw, W = (kernel_array(a) for a in (X, Y, sw, W))
        _fused.stats_serial(X, Y, sw, W, const, inv2var, *self._tree_args(),
                            layout.want_hess, layout.hess_start,
                            layout.offsets, acc)
        stats = layout.unpack(acc)
        if self.gate_solver == "bohning":
            stats.node_grams = node_grams_from_experts(stats.expert_grams, tree,
                                                       layout.p)
        return stats

    def statistics(self, data, params):
        """One pass over ``data``: row ranges over ``n_jobs`` threads (the kernels
        release the GIL), each through ``block_statistics``, summed.

        Streamed data (``skmoe._backend``: Dask blocks, chunks of a memory
        map) run ``block_statistics`` on their own blocks and add the results.
        """
        if hasattr(data, "map_statistics"):
            return data.map_statistics(self.block_statistics, params)
        X, Y, sw = data.X, data.Y, data.sample_weight
        n = X.shape[0]
        n_threads = effective_n_jobs(self.n_jobs) if n >= PARALLEL_MIN_ROWS else 1
        edges = np.linspace(0, n, n_threads + 1).astype(int)
        # a family that needs the data gets the weights of every row
        W = np.empty((n, self.tree.n_leaves)) if self.experts.needs_data else None

        def run(t):
            a, b = edges[t], edges[t + 1]
            return self.block_statistics(X[a:b], Y[a:b], sw[a:b], params,
                                         W_out=None if W is None else W[a:b])

        if n_threads == 1:
            stats = run(0)
        else:
            with ThreadPoolExecutor(n_threads) as pool:
                parts = list(pool.map(run, range(n_threads)))
            stats = parts[0]
            for s in parts[1:]:
                stats = stats + s
        if W is not None:
            stats.expert_stats = WeightedData(X, Y, W, sw)
        return stats

    # --------------------------------------------------------------- objective
    def penalty(self, params):
        gate = params.gate[:-1]
        return (0.5 * self.gate_alpha * float(np.sum(gate * gate))
                + self.experts.penalty(params.experts))

    def objective(self, stats, params):
        """Penalised log-likelihood ``sum_i w_i log p(y_i|x_i) - penalty``."""
        return stats.loglik - self.penalty(params)

    # ------------------------------------------------------------------ M-step
    def gate_step(self, stats, gate):
        """One Newton or Böhning step of every gate."""
        grad = penalised_gradient(stats.gate_grad, gate, self.gate_alpha)
        if self.gate_solver == "newton":
            step = newton_step(grad, stats.hessians, self.gate_alpha, self.tree,
                               self.gate_features)
        else:
            step = bohning_step(grad, stats.node_grams, self.gate_alpha, self.tree,
                                self.gate_features)
        return centre(gate + step, self.tree)

    def m_step(self, stats, params, min_mass=0.0):
        """New parameters (experts: their M-step, gates one step) and collapsed
        experts."""
        experts, collapsed = self.experts.m_step(self._expert_statistics(stats),
                                                 params.experts, min_mass)
        gate = self.gate_step(stats, params.gate)
        return Params(gate, experts), collapsed

    def _expert_statistics(self, stats):
        return stats.expert_grams if self.experts.fused else stats.expert_stats

    def fit_experts(self, data, resp, min_mass=0.0, n_steps=5, stats=None,
                    chunk_rows=CHUNK_ROWS):
        """Expert parameters fitted to fixed responsibilities ``resp`` (n, L).

        Gaussian experts: the exact M-step from the Gram matrices (``stats``
        from ``reduce``, or computed here). A family that needs the data: one
        weighted fit. Other families: the closed-form intercept-only start,
        then up to ``n_steps`` Newton steps, each halved until the family's
        penalised weighted log-likelihood does not fall.
        """
        ex = self.experts
        X, Y, sw = data.X, data.Y, data.sample_weight
        W = resp * sw[:, None]
        if ex.fused:
            if stats is None or stats.expert_grams is None:
                S, _ = augmented_grams(X, Y, resp, None, sw)
            else:
                S = stats.expert_grams
            return ex.m_step(S, None, min_mass)
        if ex.needs_data:
            return ex.m_step(WeightedData(X, Y, W, sw), None, min_mass)

        def family_pass(p):
            total = None
            for a in range(0, X.shape[0], chunk_rows):
                b = a + chunk_rows
                s = ex.chunk_stats(X[a:b], Y[a:b], W[a:b], p)
                total = s if total is None else _add(total, s)
            return total

        params, collapsed = ex.m_step(family_pass(None), None, min_mass)
        st = family_pass(params)
        q = ex.q_value(st, params)
        for _ in range(n_steps):
            new, _ = ex.m_step(st, params, min_mass)
            for _ in range(_MAX_INIT_HALVINGS):
                st_new = family_pass(new)
                q_new = ex.q_value(st_new, new)
                if q_new >= q:
                    break
                new = ex.interpolate(params, new, 0.5)
            else:
                break
            done = q_new - q <= 1e-10 * abs(q)
            params, st, q = new, st_new, q_new
            if done:
                break
        return params, collapsed

    def init_from_resp(self, data, resp, n_gate_steps=5, min_mass=0.0,
                       chunk_rows=65_536):
        """Parameters from initial responsibilities (n, n_leaves).

        The experts get their exact M-step; the gates, starting at zero (every
        branch equally likely), take ``n_gate_steps`` steps towards the soft
        targets ``resp``. The first is the gate solver's step: at the uniform
        gate the Newton matrix of a node with ``b`` branches is
        ``(I - 1 1^T / b) / b (x) G``, ``G`` the node's Gram matrix, so one
        pass over the data gives every statistic. The others are Böhning steps
        from the same Gram matrices (the targets do not change), each costing
        one pass for the gradient only. The sums run over chunks of
        ``chunk_rows`` rows, so memory beyond ``resp`` stays bounded by a chunk.
        """
        X, Y, sw = data.X, data.Y, data.sample_weight
        tree = self.tree
        P, NL = tree.path_matrix.T, tree.node_leaf_matrix
        parent = tree.node_parent_slot[tree.slot_node]
        uniform = 1.0 / np.diff(tree.node_start)[tree.slot_node]
        chunks = [(a, min(X.shape[0], a + chunk_rows))
                  for a in range(0, X.shape[0], chunk_rows)]

        def targets(a, b):
            h_slot, mass = resp[a:b] @ P, resp[a:b] @ NL
            h_node = np.where(parent >= 0, h_slot[:, np.maximum(parent, 0)],
                              mass[:, :1])
            return h_slot, h_node

        stats = None
        for a, b in chunks:
            h_slot, h_node = targets(a, b)
            s = self.reduce(X[a:b], Y[a:b], sw[a:b],
                            EStep(resp[a:b], h_slot - h_node * uniform,
                                  np.zeros(b - a)), node_grams=True)
            stats = s if stats is None else stats + s
        if self.gate_solver == "newton":
            stats.hessians = uniform_hessians(stats.node_grams, tree)
        gate = self.gate_step(stats, np.zeros((X.shape[1] + 1, tree.n_slots)))
        for _ in range(n_gate_steps - 1):
            grad = np.zeros_like(gate)
            for a, b in chunks:
                h_slot, h_node = targets(a, b)
                _, g = tree_log_softmax(X[a:b] @ gate[:-1] + gate[-1], tree)
                resid = (h_slot - h_node * g) * sw[a:b, None]
                grad[:-1] += X[a:b].T @ resid
                grad[-1] += resid.sum(axis=0)
            grad = penalised_gradient(grad, gate, self.gate_alpha)
            gate = centre(gate + bohning_step(grad, stats.node_grams,
                                              self.gate_alpha, tree,
                                              self.gate_features), tree)
        experts, collapsed = self.fit_experts(data, resp, min_mass, stats=stats)
        return Params(gate, experts), collapsed

    def interpolate(self, old, new, t):
        """``new`` with every part whose M-step is not exact moved back to
        ``old + t (new - old)``: the gates' step, and the experts' unless
        their M-step is ``exact``. At ``t = 0`` only exact M-steps remain,
        where EM guarantees that the objective does not fall."""
        experts = new.experts
        if not self.experts.exact:
            experts = self.experts.interpolate(old.experts, new.experts, t)
        return Params(old.gate + t * (new.gate - old.gate), experts)

    interpolate_gate = interpolate  # former name

    # --------------------------------------------------------------- predict
    def gate_log_proba(self, X, params):
        """Log leaf (expert) probabilities given ``X``, shape (n, n_leaves)."""
        log_g, _ = tree_log_softmax(self._gate_logits(X, params.gate), self.tree)
        return leaf_log_prior(log_g, self.tree)

    def gate_proba(self, X, params):
        """Leaf (expert) probabilities given ``X``, shape (n, n_leaves)."""
        return np.exp(self.gate_log_proba(X, params))

    def top_k_experts(self, X, params, k, chunk_rows=CHUNK_ROWS):
        """Sparse top-k prediction: only the ``k`` most probable experts per row.

        One kernel pass per block of rows (``skmoe._kernels._topk.topk_tree``)
        computes the gate logits of the nodes it expands (best-first search
        down the tree; a flat mixture: its ``b`` logits and a top-k selection,
        for ``k <= 2`` by ``topk_flat``, vectorised over blocks of rows),
        the renormalised weights and, for a family with linear means
        (``means_coef_t``: Gaussian experts), the means of the selected
        experts. Other families evaluate the selected (row, expert) pairs with
        ``predict_at``, chunk by chunk. Blocks of whole chunks of rows, four
        per thread, are spread over ``n_jobs`` threads; every row takes the
        same instructions, so the results do not depend on ``n_jobs`` or
        ``chunk_rows``.

        Returns
        -------
        leaves : ndarray of shape (n, k)
            Selected experts, most probable first.
        weights : ndarray of shape (n, k)
            Their gate probabilities renormalised to sum to one.
        outputs : ndarray of shape (n, k, ...)
            ``experts.predict_at`` of the selected experts (Gaussian: means).
        """
        tree, ex = self.tree, self.experts
        n, d = X.shape
        linear = hasattr(ex, "means_coef_t")
        # read-only views: one compiled signature whatever the caller's arrays
        Xr, gate, gate_t = (kernel_array(a) for a in (X, params.gate, params.gate.T))
        coef_t = kernel_array(ex.means_coef_t(params.experts) if linear
                           else np.empty((0, d + 1)))
        leaves = np.empty((n, k), dtype=np.int64)
        weights = np.empty((n, k))
        mu = np.empty((n, k, ex.n_outputs if linear else 0))

        def select(a, b):
            if tree.n_nodes == 1 and k <= _topk.FLAT_MAX_K:
                _topk.topk_flat(Xr[a:b], gate_t, coef_t, leaves[a:b], weights[a:b],
                                mu[a:b])
            else:
                _topk.topk_tree(Xr[a:b], gate, gate_t, tree.node_start,
                                tree.slot_child, coef_t, leaves[a:b], weights[a:b],
                                mu[a:b])

        def run(start, stop):
            if linear:  # the kernel writes everything: no temporaries per chunk
                select(start, stop)
                return []
            parts = []
            for a in range(start, stop, chunk_rows):
                b = min(stop, a + chunk_rows)
                select(a, b)
                parts.append(ex.predict_at(X[a:b], params.experts, leaves[a:b]))
            return parts

        n_threads = effective_n_jobs(self.n_jobs)
        # a few blocks per thread: a thread slowed down (a busy core) takes fewer
        blocks = _row_blocks(n, 4 * n_threads if n_threads > 1 else 1, chunk_rows)
        outputs = []
        if len(blocks) <= 1:
            outputs = run(0, n)
        else:  # topk_flat and predict_at call BLAS: one thread each
            with threadpool_limits(limits=1, user_api="blas"), \
                    ThreadPoolExecutor(n_threads) as pool:
                for parts in pool.map(lambda ab: run(*ab), blocks):
                    outputs += parts
        if linear:
            return leaves, weights, mu
        if not outputs:
            outputs = [ex.predict_at(X, params.experts, leaves)]
        return leaves, weights, np.concatenate(outputs, axis=0)

    def n_params(self, n_features):
        n_gate = n_features if self.gate_features is None else len(self.gate_features)
        return (self.experts.n_params(n_features)
                + self.tree.n_gate_params(n_gate))
