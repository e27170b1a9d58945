"""Glue of the fused family kernel (``skmoe._kernels._fused_families``).

``family_block`` runs the kernel on one block of rows and unpacks its
accumulators into the fields of ``skmoe._model.Stats``: the same statistics
as the generic chunked path (``reduce`` plus the family's ``chunk_stats``)
without any ``n x K`` array. It serves logistic experts (under softmax gates
or the localised gate) and Gaussian experts under the localised gate.
"""

import math

import numpy as np

from ._kernels import _fused_families
from ._kernels._config import kernel_array
from ._stats import unpack_triangles as _unpack


def _blocks_to_matrix(blocks, b, p):
    """``(b p, b p)`` matrix from its upper blocks ``(s, t), s <= t`` in order."""
    H = np.empty((b * p, b * p))
    k = 0
    for s in range(b):
        for t in range(s, b):
            H[s * p:(s + 1) * p, t * p:(t + 1) * p] = blocks[k]
            H[t * p:(t + 1) * p, s * p:(s + 1) * p] = blocks[k].T
            k += 1
    return H


def local_gate_quadratic(gate, n_features, features=None):
    """Packed coefficients ``A`` (p (p + 1) / 2, L): ``lw = packed(x1 x1^T) A``.

    ``lw_l = log a_l + log N(x_G; m_l, S_l)`` is a quadratic in ``x``:
    ``-x_G^T P_l x_G / 2 + x_G^T P_l m_l + c_l`` with ``P_l = S_l^-1``, hence
    linear in the entries of ``x1 x1^T`` (the packed entry ``(i, j)``, ``i <=
    j``, at ``j (j + 1) / 2 + i``; ``x1[d] = 1``).
    """
    p = n_features + 1
    d = n_features
    L = gate.weights.size
    G = np.arange(d) if features is None else np.asarray(features, dtype=np.intp)
    g = G.size
    A = np.zeros((p * (p + 1) // 2, L))
    with np.errstate(divide="ignore"):
        log_a = np.log(gate.weights)
    for k in range(L):
        if gate.covariance_type == "diag":
            var = gate.covariances[k]
            P = np.diag(1.0 / var)
            log_det = -0.5 * float(np.sum(np.log(var)))
        else:
            S = gate.covariances[k]
            if g:
                low = np.linalg.cholesky(S)
                inv_low = np.linalg.inv(low)
                P = inv_low.T @ inv_low
                log_det = -float(np.sum(np.log(np.diag(low))))
            else:
                P, log_det = np.zeros((0, 0)), 0.0
        mu = gate.means[k]
        Pm = P @ mu
        for a in range(g):
            i = G[a]
            for b in range(a, g):
                j = G[b]
                lo, hi = min(i, j), max(i, j)
                coef = -0.5 * P[a, a] if a == b else -P[a, b]
                A[hi * (hi + 1) // 2 + lo, k] += coef
            A[d * (d + 1) // 2 + i, k] += Pm[a]
        A[d * (d + 1) // 2 + d, k] = (log_a[k] + log_det
                                      - 0.5 * g * math.log(2 * math.pi)
                                      - 0.5 * float(mu @ Pm))
    return A


def family_block(model, X, Y, sw, params, local_gate):
    """Statistics of one block of rows through the fused family kernel.

    Returns a dict of ``Stats`` fields.
    """
    tree = model.tree
    experts = model.experts
    logistic = experts.kernel == "logistic"
    n, d = X.shape
    p = d + 1
    m = Y.shape[1]
    L = tree.n_leaves
    q = p if logistic else p + m
    up, uq = p * (p + 1) // 2, q * (q + 1) // 2
    want_nodes = not local_gate and model.gate_solver == "bohning"
    want_hess = not local_gate and model.gate_solver == "newton"
    sizes = np.diff(tree.node_start)
    pairs = sizes * (sizes - 1) // 2 if want_hess else np.zeros_like(sizes)
    hess_start = np.concatenate([[0], np.cumsum(pairs)]).astype(np.int64)
    coef = params.experts.coef
    if local_gate:
        W = coef
        A = local_gate_quadratic(params.gate, d, model.gate_features)
        C = 0
    else:
        W = np.concatenate([coef, params.gate], axis=1)
        A = np.zeros((up, L))
        C = tree.n_slots
    if logistic:
        const = inv2var = np.zeros((L, m))
    else:
        const, inv2var = experts.kernel_args(params.experts)
    npair = (m - 1) * m // 2 if logistic else 0
    n_xg = L if (logistic and local_gate) else 0
    n_nd = tree.n_nodes if want_nodes else 0
    n_u = n_xg + L * npair + n_nd + int(hess_start[-1])
    n_re = L * m if logistic else 0
    accS = np.zeros(1 + 2 * L)
    accE = np.zeros((L, uq))
    accX = np.zeros((max(n_re + C, 1), p))
    accU = np.zeros((max(n_u, 1), up))
    X, Y, sw, W, A = (kernel_array(a) for a in (X, Y, sw, W, A))
    _fused_families.family_stats_serial(
        X, Y, sw, W, logistic, local_gate, np.ascontiguousarray(const),
        np.ascontiguousarray(inv2var), A, tree.node_start, tree.slot_node,
        tree.node_parent_slot, tree.leaf_path, want_nodes, want_hess, hess_start,
        accS, accE, accX, accU)
    out = dict(loglik=float(accS[0]), expert_grams=None, gate_grad=None)
    if logistic:
        grad = accX[:n_re].reshape(L, m, p).transpose(0, 2, 1).copy()
        blocks = _unpack(accU[n_xg:n_xg + L * npair].reshape(L, npair, up), p)
        hess = np.stack([_blocks_to_matrix(blocks[k], m - 1, p) for k in range(L)])
        out["expert_stats"] = (accS[1 + L:].copy(), accS[1:1 + L].copy(), grad, hess)
    else:
        out["expert_grams"] = _unpack(accE, q)
    if local_gate:
        out["gate_grams"] = (_unpack(accU[:L], p) if logistic
                             else out["expert_grams"][:, :p, :p])
        return out
    out["gate_grad"] = accX[n_re:n_re + C].T.copy()
    k = n_xg + L * npair
    if want_nodes:
        out["node_grams"] = _unpack(accU[k:k + n_nd], p)
        k += n_nd
    if want_hess:
        out["hessians"] = [
            _blocks_to_matrix(_unpack(accU[k + hess_start[j]:k + hess_start[j + 1]],
                                      p), int(sizes[j]) - 1, p)
            for j in range(tree.n_nodes)]
    return out
