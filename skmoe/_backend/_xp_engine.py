"""The statistics pass written against an array namespace ``xp``.

The GPU backend's maths, with whole-array operations of any array-API
namespace (NumPy, CuPy, ``array_api_strict``), so that the tests run it on
the CPU on every CI run. One pass over row chunks of ``X``:

1. one matrix product ``X @ [expert coefficients | gates]`` (in float64);
2. the E-step in float64 (``skmoe._xp_ops``: per-node log-softmax, leaf
   log-joints, log-sum-exp, posteriors below ``exp(-230)`` of the row's
   largest set to zero, gate residuals);
3. the reductions of ``skmoe._model.Stats``: the weighted Gram matrices
   ``sum_i W_ic z_i z_i^T`` (``z = [x, 1, y]``) of every weight column ``c``
   (experts' posteriors; Böhning's node masses or Newton's Hessian weights),
   one product per column so that no ``n x q x columns`` array exists; the
   gates' gradient ``[X, 1]^T diag(w) resid`` (column sums as
   matrix-vector products) and the log-likelihood.

The sums are returned as host NumPy arrays; the M-step is the host code of
``skmoe._model``. ``skmoe._backend._cupy`` replaces steps 2-3 by raw CUDA
kernels and keeps this module's code for everything else.

Other expert families can follow by providing ``leaf_loglik_xp`` (the
``(n, n_leaves)`` log-likelihoods, in place of the Gaussian columns of the
product) and their M-step statistics as weighted sums of ``z`` (the Gram
columns serve any family whose M-step needs ``sum_i W_ic z_i z_i^T``).
"""

import math

import numpy as np

from .._model import FitData, Stats
from .._xp_ops import _TINY_LOG, gaussian_leaf_ll, leaf_log_prior, tree_log_softmax
from ._device import is_cupy_array

# Rows per chunk of a pass (bounds the (rows, columns) work arrays).
XP_CHUNK_ROWS = 65536


def to_numpy(a):
    """Host NumPy copy of an array of any namespace."""
    if isinstance(a, np.ndarray):
        return a
    if is_cupy_array(a):
        return a.get()
    try:
        return np.from_dlpack(a)
    except (TypeError, AttributeError, BufferError, RuntimeError):
        return np.asarray(a)


def check_supported(model):
    """Raise unless ``model``'s expert family has an array-namespace E-step."""
    if not getattr(model.experts, "fused", False):
        raise NotImplementedError(
            f"{type(model.experts).__name__} has no GPU/array-API statistics "
            "pass yet (Gaussian experts only): fit with device='cpu'."
        )


def hessian_pairs(tree):
    """``(node, s, t)`` of every Newton weight column: ``s <= t`` in one node,
    both past its first (reference) slot, as ``skmoe._model.StatsLayout``."""
    pairs = []
    for j in range(tree.n_nodes):
        lo, hi = int(tree.node_start[j]), int(tree.node_start[j + 1])
        for s in range(lo + 1, hi):
            for t in range(s, hi):
                pairs.append((j, s, t))
    return pairs


def n_weight_columns(tree, solver):
    """Gram columns of a pass: leaves, then nodes (Böhning) or pairs (Newton)."""
    if solver == "bohning":
        return tree.n_leaves + tree.n_nodes
    return tree.n_leaves + len(hessian_pairs(tree))


def assemble_stats(tree, solver, p, loglik, grams, gate_grad):
    """``Stats`` from the Gram matrices of every weight column (host arrays)."""
    L = tree.n_leaves
    node_grams = hessians = None
    if solver == "bohning":
        node_grams = grams[L:L + tree.n_nodes, :p, :p].copy()
    else:
        hessians = []
        k = L
        for j in range(tree.n_nodes):
            b = int(tree.node_start[j + 1] - tree.node_start[j]) - 1
            H = np.zeros((b * p, b * p))
            for s in range(b):
                for t in range(s, b):
                    block = grams[k, :p, :p]
                    H[s * p:(s + 1) * p, t * p:(t + 1) * p] = block
                    H[t * p:(t + 1) * p, s * p:(s + 1) * p] = block.T
                    k += 1
            hessians.append(H)
    return Stats(float(loglik), grams[:L].copy(), gate_grad, node_grams, hessians)


class XPEngine:
    """Statistics passes over arrays that stay in one namespace and device.

    Parameters
    ----------
    model : MixtureModel
    X : array of shape (n, d), float32 or float64
    Y : array of shape (n, m), X's dtype
    sample_weight : array of shape (n,), float64
    xp : array namespace of the arrays
    chunk_rows : int
        Rows per chunk.
    """

    def __init__(self, model, X, Y, sample_weight, xp, chunk_rows=XP_CHUNK_ROWS):
        check_supported(model)
        self.model = model
        self.tree = model.tree
        self.X, self.Y, self.sw = X, Y, sample_weight
        self.xp = xp
        self.chunk_rows = int(chunk_rows)
        self.device = getattr(X, "device", None)
        self.dtype = X.dtype
        tree = self.tree
        f64 = xp.float64
        self._path_t = self._const(tree.path_matrix.T, f64)  # (L, C)
        self._node_leaf = self._const(tree.node_leaf_matrix, f64)  # (L, n_nodes)
        self._slot_node = self._const(tree.slot_node, xp.int64)
        self._pairs = hessian_pairs(tree)

    # ------------------------------------------------------------- helpers
    @property
    def n_samples(self):
        return self.X.shape[0]

    def _const(self, a, dtype):
        return self.xp.asarray(np.ascontiguousarray(a), dtype=dtype,
                               device=self.device)

    def _chunks(self):
        n = self.n_samples
        for a in range(0, n, self.chunk_rows):
            yield a, min(n, a + self.chunk_rows)

    def _pass_consts(self, params):
        """Device copies of the parameters that one pass reads."""
        W = np.concatenate([params.experts.coef, params.gate], axis=1)
        f64 = self.xp.float64
        return (self._const(W[:-1], f64), self._const(W[-1], f64),
                self._const(params.experts.noise_variance, self.xp.float64))

    def _estep(self, Xc, Yc, consts):
        """E-step of a chunk, in float64: resp, resid, loglik, g, node mass, dead."""
        xp, tree = self.xp, self.tree
        Wx, bias, var = consts
        Lm = var.shape[0] * var.shape[1]
        # float64 product: float32 X is exact in float64, so the E-step (and
        # the objective EM checks for monotonicity) has no float32 rounding
        proj = xp.astype(Xc, xp.float64) @ Wx + bias
        leaf_ll = gaussian_leaf_ll(proj[:, :Lm], xp.astype(Yc, xp.float64), var, xp)
        log_g, g = tree_log_softmax(proj[:, Lm:], tree, xp)
        z = leaf_ll + leaf_log_prior(log_g, tree, xp)
        zmax = xp.max(z, axis=1, keepdims=True)
        dead = ~(zmax > -math.inf)
        zero = xp.zeros_like(zmax)
        m_safe = xp.where(dead, zero, zmax)
        zz = z - m_safe
        e = xp.where(zz > _TINY_LOG, xp.exp(zz), xp.zeros_like(zz))
        tot = xp.sum(e, axis=1, keepdims=True)
        tot_safe = xp.where(dead, xp.ones_like(tot), tot)
        loglik = xp.where(dead, zmax, m_safe + xp.log(tot_safe))[:, 0]
        resp = xp.where(dead, xp.zeros_like(e), e / tot_safe)
        node_mass = resp @ self._node_leaf
        resid = resp @ self._path_t - xp.take(node_mass, self._slot_node, axis=1) * g
        return resp, resid, loglik, g, node_mass, dead[:, 0]

    def _weight_columns(self, w, resp, node_mass, g, experts=True):
        """``(n, columns)`` weights of the Gram matrices (see module doc)."""
        xp = self.xp
        cols = []
        if experts:
            cols.append(w * resp)
            if self.model.gate_solver == "bohning":
                cols.append(w * node_mass)
        if self.model.gate_solver == "newton":
            for j, s, t in self._pairs:
                gt = g[:, t:t + 1]
                delta = (1.0 - gt) if s == t else -gt
                cols.append(w * node_mass[:, j:j + 1] * g[:, s:s + 1] * delta)
        if not cols:
            return None
        return cols[0] if len(cols) == 1 else xp.concat(cols, axis=1)

    def _grams(self, Xc, Yc, Wc):
        """``sum_i Wc_ic z_i z_i^T`` of every column, float64 (columns, q, q).

        One product ``Z^T (Z * Wc[:, c])`` per column: no array of size
        ``n x q x columns`` is formed.
        """
        xp = self.xp
        n = Xc.shape[0]
        Z = xp.concat([Xc, xp.ones((n, 1), dtype=self.dtype, device=self.device),
                       Yc], axis=1)
        Zt = xp.permute_dims(Z, (1, 0))
        Wz = xp.astype(Wc, self.dtype)
        out = [Zt @ (Z * Wz[:, c:c + 1]) for c in range(Wc.shape[1])]
        return xp.astype(xp.stack(out), xp.float64)

    def _gate_grad(self, Xc, RW):
        """``[X, 1]^T RW`` in float64 (the intercept row as a matrix-vector
        product of ones, not a tall column sum)."""
        xp = self.xp
        n = Xc.shape[0]
        top = xp.astype(xp.permute_dims(Xc, (1, 0)) @ xp.astype(RW, self.dtype),
                        xp.float64)
        ones = xp.ones((1, n), dtype=xp.float64, device=self.device)
        return xp.concat([top, ones @ RW], axis=0)

    def _finish(self, loglik, grams, grad):
        p = self.X.shape[1] + 1
        return assemble_stats(self.tree, self.model.gate_solver, p,
                              float(to_numpy(loglik)), to_numpy(grams),
                              np.array(to_numpy(grad)))

    # ---------------------------------------------------------------- passes
    def statistics(self, params):
        """One E-step and statistics pass: ``Stats`` (host arrays)."""
        xp = self.xp
        consts = self._pass_consts(params)
        ll = grams = grad = None
        for a, b in self._chunks():
            Xc, Yc, sw = self.X[a:b, ...], self.Y[a:b, ...], self.sw[a:b]
            resp, resid, loglik, g, node_mass, dead = self._estep(Xc, Yc, consts)
            has_w = sw != 0
            w = xp.where(has_w & ~dead, sw, xp.zeros_like(sw))[:, None]
            part_ll = xp.sum(xp.where(has_w, sw * loglik, xp.zeros_like(sw)))
            Wc = self._weight_columns(w, resp, node_mass, g)
            part_g = self._grams(Xc, Yc, Wc)
            part_t = self._gate_grad(Xc, w * resid)
            ll = part_ll if ll is None else ll + part_ll
            grams = part_g if grams is None else grams + part_g
            grad = part_t if grad is None else grad + part_t
        return self._finish(ll, grams, grad)


class XPFitData:
    """Training data on the device of an array namespace.

    Stands in for ``FitData`` in ``BaseMoE._fit`` (like the streamed data of
    ``skmoe._backend._chunked``): ``MixtureModel.statistics`` hands
    ``map_statistics`` its block function, and the pass runs in an engine
    over the device arrays instead; the initialisation runs on the host, on
    ``sample_rows`` (all rows, in order, up to ``max_rows``: then it is the
    in-memory fit's initialisation exactly).

    Parameters
    ----------
    X : array of shape (n, d)
        Inputs on the device (float32 or float64).
    Y : ndarray of shape (n, m)
        Encoded targets (host, float64); moved to the device in X's dtype.
    sample_weight : ndarray of shape (n,)
        Host, float64; moved to the device.
    xp : array namespace of ``X``
    to_device : callable, optional
        ``to_device(host_array, dtype)``; default ``xp.asarray``.
    engine : class, optional
        The engine's class (``XPEngine`` or a subclass).
    attributes_on_device : bool
        Whether the fitted attributes are to be moved to the device.
    """

    def __init__(self, X, Y, sample_weight, xp, to_device=None, engine=XPEngine,
                 attributes_on_device=False, **engine_options):
        device = getattr(X, "device", None)
        if to_device is None:
            def to_device(a, dtype):
                return xp.asarray(a, dtype=dtype, device=device)
        self.X = X
        self.Y = Y
        self.sample_weight = sample_weight
        self.total_weight = float(np.sum(sample_weight))
        self.xp = xp
        self.attributes_on_device = attributes_on_device
        self._Y = to_device(Y, X.dtype)
        self._sw = to_device(sample_weight, xp.float64)
        self._engine_cls = engine
        self._engine_options = engine_options
        self._engine = None

    @property
    def n_samples(self):
        return self.X.shape[0]

    def engine(self, model):
        """The engine of ``model`` over these arrays (built once per model)."""
        if self._engine is None or self._engine.model is not model:
            self._engine = self._engine_cls(model, self.X, self._Y, self._sw, self.xp,
                                            **self._engine_options)
        return self._engine

    def map_statistics(self, func, *args, rows=()):
        """``MixtureModel.statistics`` of the bound model ``func.__self__``,
        computed by the engine (``func`` is its ``block_statistics``)."""
        model = getattr(func, "__self__", None)
        if model is None or rows or len(args) != 1:
            raise NotImplementedError(
                "device data only run MixtureModel.statistics passes"
            )
        return self.engine(model).statistics(args[0])

    def init_responsibilities(self, est, n_leaves):
        """The user's initial labels or responsibilities, validated, (n, L)."""
        return est._validate_init(self.n_samples, n_leaves)

    def sample_rows(self, max_rows, rng, resp=None):
        """Host ``FitData`` of a uniform random sample of rows (sorted).

        All rows (no random draw) when there are at most ``max_rows``, as
        ``skmoe._backend._chunked.ChunkedFitData.sample_rows``.
        """
        n = self.n_samples
        if n <= max_rows:
            X = to_numpy(self.X)
            idx = slice(None)
        else:
            idx = np.sort(rng.choice(n, max_rows, replace=False))
            take = self.xp.asarray(idx, device=getattr(self.X, "device", None))
            X = to_numpy(self.xp.take(self.X, take, axis=0))
        f64 = np.float64
        sample = FitData(np.ascontiguousarray(X, dtype=f64),
                         np.ascontiguousarray(self.Y[idx], dtype=f64),
                         np.ascontiguousarray(self.sample_weight[idx], dtype=f64))
        return sample, None if resp is None else np.ascontiguousarray(resp[idx], f64)


# ------------------------------------------------------------------ inference
def _inference_consts(model, params, xp, dtype, device):
    def const(a, dt):
        return xp.asarray(np.ascontiguousarray(a), dtype=dt, device=device)

    return (const(params.gate[:-1], dtype), const(params.gate[-1], xp.float64),
            const(params.experts.coef[:-1], dtype),
            const(params.experts.coef[-1], xp.float64))


def gate_proba_xp(model, X, params, xp, chunk_rows=XP_CHUNK_ROWS):
    """Leaf probabilities of every row, float64 (n, n_leaves), in ``xp``."""
    gx, gb, _, _ = _inference_consts(model, params, xp, X.dtype,
                                     getattr(X, "device", None))
    parts = []
    n = X.shape[0]
    for a in range(0, n, chunk_rows):
        logits = xp.astype(X[a:min(n, a + chunk_rows), ...] @ gx, xp.float64) + gb
        log_g, _ = tree_log_softmax(logits, model.tree, xp)
        parts.append(xp.exp(leaf_log_prior(log_g, model.tree, xp)))
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def moments_xp(model, X, params, with_second, top_k=None, xp=np,
               chunk_rows=XP_CHUNK_ROWS):
    """Mean (and second moment) of the predictive mixture, float64 (n, m).

    With ``top_k``, only the ``top_k`` most probable experts of each row,
    their gate probabilities renormalised (the dense twin of the CPU's
    best-first search: every expert's mean is one product on a GPU).
    """
    tree = model.tree
    L = tree.n_leaves
    var = np.asarray(params.experts.noise_variance)
    m = var.shape[1]
    device = getattr(X, "device", None)
    gx, gb, cx, cb = _inference_consts(model, params, xp, X.dtype, device)
    var_d = xp.asarray(var, dtype=xp.float64, device=device)
    means, seconds = [], []
    n_rows = X.shape[0]
    for a in range(0, n_rows, chunk_rows):
        Xc = X[a:min(n_rows, a + chunk_rows), ...]
        n = Xc.shape[0]
        log_g, _ = tree_log_softmax(xp.astype(Xc @ gx, xp.float64) + gb, tree, xp)
        prior = leaf_log_prior(log_g, tree, xp)
        mu = xp.reshape(xp.astype(Xc @ cx, xp.float64) + cb, (n, L, m))
        if top_k is None:
            g = xp.reshape(xp.exp(prior), (n, L, 1))
            v = xp.reshape(var_d, (1, L, m))
        else:
            order = xp.argsort(-prior, axis=1, stable=True)[:, :top_k]
            top = xp.take_along_axis(prior, order, axis=1)
            e = xp.exp(top - top[:, :1])
            g = xp.reshape(e / xp.sum(e, axis=1, keepdims=True), (n, top_k, 1))
            mu = xp.stack([xp.take_along_axis(mu[:, :, o], order, axis=1)
                           for o in range(m)], axis=2)
            v = xp.stack([xp.take(var_d[:, o], xp.reshape(order, (-1,)), axis=0)
                          for o in range(m)], axis=1)
            v = xp.reshape(v, (n, top_k, m))
        means.append(xp.sum(g * mu, axis=1))
        if with_second:
            seconds.append(xp.sum(g * (mu * mu + v), axis=1))
    mean = means[0] if len(means) == 1 else xp.concat(means, axis=0)
    if not with_second:
        return mean, None
    second = seconds[0] if len(seconds) == 1 else xp.concat(seconds, axis=0)
    return mean, second


def estep_xp(model, X, Y, params, xp, chunk_rows=XP_CHUNK_ROWS):
    """Posteriors (n, L) and log-likelihoods (n,) of every row, float64."""
    n = X.shape[0]
    engine = XPEngine(model, X, Y, xp.ones((n,), dtype=xp.float64,
                                           device=getattr(X, "device", None)),
                      xp, chunk_rows)
    consts = engine._pass_consts(params)
    resps, lls = [], []
    for a, b in engine._chunks():
        resp, _, loglik, _, _, _ = engine._estep(X[a:b, ...], Y[a:b, ...], consts)
        resps.append(resp)
        lls.append(loglik)
    if len(resps) == 1:
        return resps[0], lls[0]
    return xp.concat(resps, axis=0), xp.concat(lls, axis=0)
