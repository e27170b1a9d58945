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


def tree_log_softmax(logits, tree, xp=np):
    """Per-node log-softmax and softmax of stacked gate logits.

    Parameters
    ----------
    logits : array of shape (n_samples, n_slots)
    tree : GatingTree
    xp : array namespace

    Returns
    -------
    log_g, g : arrays of shape (n_samples, n_slots)
    """
    parts = []
    for j in range(tree.n_nodes):
        lo, hi = int(tree.node_start[j]), int(tree.node_start[j + 1])
        a = logits[:, lo:hi]
        m = xp.max(a, axis=1, keepdims=True)
        m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
        lse = m + xp.log(xp.sum(xp.exp(a - m), axis=1, keepdims=True))
        parts.append(a - lse)
    log_g = parts[0] if len(parts) == 1 else xp.concat(parts, axis=1)
    return log_g, xp.exp(log_g)


def leaf_log_prior(log_g, tree, xp=np):
    """Log-probability of reaching each leaf: sum of log gates on its path."""
    out = log_g[:, tree.leaf_path[:, 0]] if xp is np else xp.take(
        log_g, xp.asarray(tree.leaf_path[:, 0]), axis=1)
    for t in range(1, tree.depth):
        idx = tree.leaf_path[:, t]
        out = out + (log_g[:, idx] if xp is np else xp.take(
            log_g, xp.asarray(idx), axis=1))
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
