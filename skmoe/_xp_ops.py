"""Array-API twins of the numba kernels.

These functions do the same maths as ``skmoe._kernels`` with whole-array
operations of any array namespace (NumPy, CuPy, ``array_api_strict``). They are
the test oracle of the kernels, the predict path, and the E-step of the
namespace-generic (GPU) backend.
"""

import math

import numpy as np

_TINY_LOG = -230.0


def get_namespace(*arrays):
    """Array namespace of ``arrays`` (NumPy for plain arrays and lists)."""
    try:
        from array_api_compat import array_namespace
    except ImportError:  # pragma: no cover - array-api-compat ships with sklearn
        return np
    try:
        xp = array_namespace(*arrays)
    except TypeError:
        return np
    if getattr(xp, "__name__", "").endswith("numpy"):
        return np
    return xp


def _levels(tree):
    """``(first_slot, n_nodes, branching)`` of every level of the balanced tree.

    Nodes are breadth first and a level's nodes follow the previous level's
    slots, so level ``t`` owns one contiguous block of ``n_nodes * b`` slots.
    """
    out, first, n_nodes = [], 0, 1
    for b in tree.branching:
        out.append((first, n_nodes, b))
        first += n_nodes * b
        n_nodes *= b
    return out


def _last_axis(binary, reduction, a, xp):
    """Reduce the last axis keeping it: elementwise over a short axis (NumPy's
    reductions over 2 or 3 contiguous elements are slow), else ``reduction``."""
    b = a.shape[-1]
    if b > 8:
        return reduction(a, axis=-1, keepdims=True)
    out = a[..., 0:1]
    for s in range(1, b):
        out = binary(out, a[..., s:s + 1])
    return out


def tree_log_softmax(logits, tree, xp=np):
    """Per-node log-softmax and softmax of stacked gate logits.

    Vectorised level by level: a level's slots are reshaped to
    ``(n_samples, n_nodes, b)`` and normalised over the last axis.

    Parameters
    ----------
    logits : array of shape (n_samples, n_slots)
    tree : GatingTree
    xp : array namespace

    Returns
    -------
    log_g, g : arrays of shape (n_samples, n_slots)
    """
    n = logits.shape[0]
    parts = []
    for first, n_nodes, b in _levels(tree):
        a = xp.reshape(logits[:, first:first + n_nodes * b], (n, n_nodes, b))
        m = _last_axis(xp.maximum, xp.max, a, xp)
        m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
        lse = m + xp.log(_last_axis(xp.add, xp.sum, xp.exp(a - m), xp))
        parts.append(xp.reshape(a - lse, (n, n_nodes * b)))
    log_g = parts[0] if len(parts) == 1 else xp.concat(parts, axis=1)
    return log_g, xp.exp(log_g)


def leaf_log_prior(log_g, tree, xp=np):
    """Log-probability of reaching each leaf: sum of log gates on its path.

    Accumulated level by level, root first: a level's slots add to their
    node's path log-probability.
    """
    n = log_g.shape[0]
    out = None
    for first, n_nodes, b in _levels(tree):
        lg = xp.reshape(log_g[:, first:first + n_nodes * b], (n, n_nodes, b))
        if out is not None:
            lg = xp.reshape(out, (n, n_nodes, 1)) + lg
        out = xp.reshape(lg, (n, n_nodes * b))
    return out


def posterior(leaf_ll, logits, tree, xp=np):
    """E-step from leaf log-likelihoods: ``(resp, resid, loglik)``.

    See ``skmoe._kernels._estep`` for the definitions.
    """
    log_g, g = tree_log_softmax(logits, tree, xp)
    z = leaf_ll + leaf_log_prior(log_g, tree, xp)
    m = xp.max(z, axis=1, keepdims=True)
    dead = ~(m > -math.inf)
    m_safe = xp.where(dead, xp.zeros_like(m), m)
    zz = z - m_safe
    e = xp.where(zz > _TINY_LOG, xp.exp(zz), xp.zeros_like(zz))
    tot = xp.sum(e, axis=1, keepdims=True)
    tot_safe = xp.where(dead, xp.ones_like(tot), tot)
    loglik = xp.where(dead, m, m_safe + xp.log(tot_safe))[:, 0]
    resp = xp.where(dead, xp.zeros_like(e), e / tot_safe)
    P = xp.asarray(tree.path_matrix, dtype=resp.dtype)
    if xp is not np:
        P = xp.asarray(P, device=getattr(resp, "device", None))
    h_slot = resp @ xp.permute_dims(P, (1, 0)) if xp is not np else resp @ P.T
    total = xp.sum(resp, axis=1, keepdims=True)
    ext = xp.concat([h_slot, total], axis=1)
    parent = tree.node_parent_slot[tree.slot_node]
    idx = np.where(parent >= 0, parent, tree.n_slots)
    h_node = ext[:, idx] if xp is np else xp.take(ext, xp.asarray(idx), axis=1)
    resid = h_slot - h_node * g
    return resp, resid, loglik


def gaussian_leaf_ll(mu, y, noise_variance, xp=np):
    """Gaussian log-density of ``y`` under each leaf.

    ``mu`` (n, n_leaves * n_outputs) leaf-major, ``y`` (n, n_outputs),
    ``noise_variance`` (n_leaves, n_outputs); returns (n, n_leaves).
    """
    n_leaves, n_out = noise_variance.shape
    n = y.shape[0]
    r = xp.reshape(y, (n, 1, n_out)) - xp.reshape(mu, (n, n_leaves, n_out))
    ll = -0.5 * xp.log(2 * math.pi * noise_variance) - r * r / (2 * noise_variance)
    return xp.sum(ll, axis=2)


def top_k_leaves(leaf_log_prior, k, xp=np):
    """The ``k`` most probable leaves of each row and their renormalised weights.

    Dense twin of ``skmoe._kernels._topk.topk_tree``: ``leaf_log_prior``
    (n, n_leaves) holds every leaf's path log-probability; returns ``leaves``
    (n, k) in decreasing order of probability and ``weights`` (n, k) that sum
    to one over the selected leaves.
    """
    order = xp.argsort(-leaf_log_prior, axis=1, stable=True)[:, :k]
    top = xp.take_along_axis(leaf_log_prior, order, axis=1)
    e = xp.exp(top - top[:, :1])
    return order, e / xp.sum(e, axis=1, keepdims=True)


def means_at(X, coef, leaves, n_outputs, xp=np):
    """Gaussian means of the selected leaves, shape (n, k, n_outputs).

    Dense twin of ``skmoe._kernels._topk.gaussian_means_at``: ``coef``
    (d + 1, n_leaves * n_outputs), slopes then intercept, columns leaf-major.
    """
    d = X.shape[1]
    n_leaves = coef.shape[1] // n_outputs
    B = xp.reshape(xp.permute_dims(coef, (1, 0)), (n_leaves, n_outputs, d + 1))
    Bk = xp.take(B, xp.reshape(leaves, (-1,)), axis=0)
    Bk = xp.reshape(Bk, (leaves.shape[0], leaves.shape[1], n_outputs, d + 1))
    Xb = xp.reshape(X, (X.shape[0], 1, 1, d))
    return xp.sum(Xb * Bk[..., :d], axis=3) + Bk[..., d]
