"""Fused E-step kernels for a gating tree of softmax gates.

For row ``i`` with gate logits ``a_i`` (one per slot) and expert log-likelihoods
``l_il``, every node ``j`` of the tree gives log-probabilities

    log g_is = a_is - logsumexp_{s' in node(s)} a_is'

and leaf ``l`` (path ``s_1 .. s_D``) has prior ``log pi_il = sum_t log g_{i s_t}``.
The kernels return, in one pass over the rows,

    loglik_i  = logsumexp_l (log pi_il + l_il)                 (log p(y_i | x_i))
    resp_il   = exp(log pi_il + l_il - loglik_i)               (posteriors, h)
    resid_is  = h_is - h_i,node(s) * g_is                      (gate residuals)

where ``h_is`` is the posterior mass of the leaves under slot ``s`` and
``h_i,node`` the mass under the slot's node. ``resid`` is the gradient weight of
the gate's M-step: ``grad = [X, 1]^T diag(w) resid``. Posteriors below
``exp(-230) ~ 1e-100`` are set to exactly 0 (subnormal products are slow). A row
whose every term is ``-inf`` gets ``loglik = -inf`` and zero ``resp``/``resid``.

The Gaussian variant computes ``l_il = sum_o const_lo - (y_io - mu_ilo)^2 * inv2var_lo``
from the expert means ``mu`` in the same pass (``const = -log(2 pi var) / 2``,
``inv2var = 1 / (2 var)``).

Shapes: ``proj`` (n, n_leaves * n_outputs + n_slots) holds the expert means
(leaf-major) followed by the gate logits; ``y`` (n, n_outputs); ``leaf_ll``
(n, n_leaves); ``logits`` (n, n_slots); outputs ``resp`` (n, n_leaves),
``resid`` (n, n_slots), ``loglik`` (n,). Inputs are C-contiguous float64.
"""

import numpy as np
from numba import njit, prange

from ._config import FASTMATH

_TINY_LOG = -230.0  # exp(-230) ~ 1e-100


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _gate_row(logits, i, off, node_start, lg, g):
    """Log-softmax ``lg`` and softmax ``g`` of every node's slots for row ``i``."""
    for j in range(node_start.size - 1):
        lo, hi = node_start[j], node_start[j + 1]
        m = logits[i, off + lo]
        for s in range(lo + 1, hi):
            if logits[i, off + s] > m:
                m = logits[i, off + s]
        tot = 0.0
        for s in range(lo, hi):
            e = np.exp(logits[i, off + s] - m)
            g[s] = e
            tot += e
        lse = m + np.log(tot)
        inv = 1.0 / tot
        for s in range(lo, hi):
            lg[s] = logits[i, off + s] - lse
            g[s] *= inv


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _posterior_row(i, lg, g, node_start, slot_node, node_parent_slot, leaf_path,
                   resp, resid, loglik):
    """Turn ``resp[i]`` (leaf log-likelihoods on entry) into posteriors."""
    n_leaves, depth = leaf_path.shape
    n_slots = lg.size
    m = -np.inf
    for leaf in range(n_leaves):
        z = resp[i, leaf]
        for t in range(depth):
            z += lg[leaf_path[leaf, t]]
        resp[i, leaf] = z
        if z > m:
            m = z
    if m == -np.inf or np.isnan(m):
        loglik[i] = m
        for leaf in range(n_leaves):
            resp[i, leaf] = 0.0
        for s in range(n_slots):
            resid[i, s] = 0.0
        return
    tot = 0.0
    for leaf in range(n_leaves):
        z = resp[i, leaf] - m
        e = np.exp(z) if z > _TINY_LOG else 0.0
        resp[i, leaf] = e
        tot += e
    loglik[i] = m + np.log(tot)
    inv = 1.0 / tot
    for s in range(n_slots):
        resid[i, s] = 0.0
    for leaf in range(n_leaves):
        h = resp[i, leaf] * inv
        resp[i, leaf] = h
        for t in range(depth):
            resid[i, leaf_path[leaf, t]] += h
    # resid now holds the slot masses; deepest nodes first so that a parent
    # slot's mass is still intact when its children read it
    for j in range(node_start.size - 2, -1, -1):
        ps = node_parent_slot[j]
        if ps >= 0:
            h_node = resid[i, ps]
        else:
            h_node = 0.0
            for s in range(node_start[0], node_start[1]):
                h_node += resid[i, s]
        for s in range(node_start[j], node_start[j + 1]):
            resid[i, s] -= h_node * g[s]


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _gaussian_leaf_ll(proj, y, i, const, inv2var, resp):
    n_leaves, n_out = const.shape
    for leaf in range(n_leaves):
        acc = 0.0
        for o in range(n_out):
            r = y[i, o] - proj[i, leaf * n_out + o]
            acc += const[leaf, o] - r * r * inv2var[leaf, o]
        resp[i, leaf] = acc


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _gaussian_block(start, stop, proj, y, const, inv2var, node_start, slot_node,
                    node_parent_slot, leaf_path, resp, resid, loglik):
    n_slots = node_start[-1]
    off = const.shape[0] * const.shape[1]
    lg = np.empty(n_slots)
    g = np.empty(n_slots)
    for i in range(start, stop):
        _gaussian_leaf_ll(proj, y, i, const, inv2var, resp)
        _gate_row(proj, i, off, node_start, lg, g)
        _posterior_row(i, lg, g, node_start, slot_node, node_parent_slot,
                       leaf_path, resp, resid, loglik)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _loglik_block(start, stop, leaf_ll, logits, node_start, slot_node,
                  node_parent_slot, leaf_path, resp, resid, loglik):
    n_slots = node_start[-1]
    lg = np.empty(n_slots)
    g = np.empty(n_slots)
    for i in range(start, stop):
        for leaf in range(leaf_ll.shape[1]):
            resp[i, leaf] = leaf_ll[i, leaf]
        _gate_row(logits, i, 0, node_start, lg, g)
        _posterior_row(i, lg, g, node_start, slot_node, node_parent_slot,
                       leaf_path, resp, resid, loglik)


_BLOCK = 2048


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def estep_gaussian_serial(proj, y, const, inv2var, node_start, slot_node,
                          node_parent_slot, leaf_path, resp, resid, loglik):
    """Gaussian E-step, one thread (see the module docstring for the maths)."""
    _gaussian_block(0, proj.shape[0], proj, y, const, inv2var, node_start,
                    slot_node, node_parent_slot, leaf_path, resp, resid, loglik)


@njit(cache=True, nogil=True, fastmath=FASTMATH, parallel=True)
def estep_gaussian_parallel(proj, y, const, inv2var, node_start, slot_node,
                            node_parent_slot, leaf_path, resp, resid, loglik):
    """Gaussian E-step, rows split in blocks over numba's threads."""
    n = proj.shape[0]
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    for b in prange(n_blocks):
        _gaussian_block(b * _BLOCK, min(n, (b + 1) * _BLOCK), proj, y, const,
                        inv2var, node_start, slot_node, node_parent_slot,
                        leaf_path, resp, resid, loglik)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def estep_loglik_serial(leaf_ll, logits, node_start, slot_node, node_parent_slot,
                        leaf_path, resp, resid, loglik):
    """E-step from given leaf log-likelihoods, one thread."""
    _loglik_block(0, leaf_ll.shape[0], leaf_ll, logits, node_start, slot_node,
                  node_parent_slot, leaf_path, resp, resid, loglik)


@njit(cache=True, nogil=True, fastmath=FASTMATH, parallel=True)
def estep_loglik_parallel(leaf_ll, logits, node_start, slot_node,
                          node_parent_slot, leaf_path, resp, resid, loglik):
    """E-step from given leaf log-likelihoods, rows split over threads."""
    n = leaf_ll.shape[0]
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    for b in prange(n_blocks):
        _loglik_block(b * _BLOCK, min(n, (b + 1) * _BLOCK), leaf_ll, logits,
                      node_start, slot_node, node_parent_slot, leaf_path, resp,
                      resid, loglik)
