"""One fused pass (E-step and statistics) for logistic experts and the local gate.

The companion of ``_fused`` (Gaussian experts under softmax gates) for the
other combinations that have summable statistics:

- multinomial logistic experts (``logistic``) under softmax gates or the
  localised gate;
- Gaussian experts under the localised gate.

For row ``i`` (weight ``w_i``, ``x1 = [x, 1]``, posterior ``h_il``):

- softmax gates: ``log g`` from the gate logits ``x1 . W`` as in ``_fused``;
  localised gate: ``lw_il = log a_l + log N(x_i; m_l, S_l)``, which is linear
  in the packed ``x1 x1^T`` (``lw = U_x A``, ``A`` built by the caller), with
  ``log p(x_i) = logsumexp_l lw_il`` and ``log g_il = lw_il - log p(x_i)``;
- logistic experts: ``log p_ilc = eta_ilc - logsumexp_c eta_ilc`` with
  ``eta = x1 . W_l``, and ``log f_l(y_i) = sum_c Y_ic log p_ilc`` (``Y``
  one-hot); Gaussian experts as in ``_fused``;
- ``h_il = softmax_l(log f_l(y_i) + log prior_il)``.

Statistics added up (the caller unpacks them):

    accS[0]       += w_i log p(y_i | x_i)        (+ w_i log p(x_i), local gate)
    accS[1 + l]   += w_i h_il log f_l(y_i)                          (logistic)
    accS[1 + L + l] += w_i h_il                                     (logistic)
    accE[l]       += w_i h_il z z^T, z = [x, 1, y]            (Gaussian experts)
    accX[l C + c] += w_i h_il (Y_ic - p_ilc) x1                    (logistic)
    accX[L C + s] += w_i resid_is x1                            (softmax gates)
    accU rows, each += (weight) x1 x1^T (packed):
        w_i h_il                              (local gate, logistic experts)
        w_i h_il p_ils (delta_st - p_ilt)      (logistic Newton, s <= t >= 1)
        w_i h_ij                               (node Grams, Böhning)
        w_i h_ij g_is (delta_st - g_it)        (gate Newton, as ``_fused``)

Rows are processed in blocks of ``_BLOCK``: the exponentials of a block go
through ``_fused._vexp`` and the sums are three BLAS products per block.
"""

import numpy as np
from numba import njit

from ._blas import _addr, gemm
from ._config import FASTMATH
from ._fused import _tree_masses, _vexp

_TINY_LOG = -230.0
_BLOCK = 256


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def family_stats_serial(X, Y, sw, W, logistic, local_gate, const, inv2var, A,
                        node_start, slot_node, node_parent_slot, leaf_path,
                        want_nodes, want_hess, hess_start, accS, accE, accX, accU):
    """Fused E-step and statistics of rows ``X`` on one thread.

    Shapes: ``X`` (n, d); ``Y`` (n, m) targets or one-hot classes; ``sw``
    (n,); ``W`` (d + 1, n_leaves * m [+ n_slots]) expert columns then, for
    softmax gates, the gate's; ``const``/``inv2var`` (n_leaves, m) (Gaussian
    experts); ``A`` (p (p + 1) / 2, n_leaves) (localised gate). Outputs are
    added to: ``accS`` (1 + 2 n_leaves,), ``accE`` (n_leaves, q (q + 1) / 2),
    ``accX`` (rows, p), ``accU`` (rows, p (p + 1) / 2); see the module
    docstring for what each row holds.
    """
    n, n_feat = X.shape
    p = n_feat + 1
    m = Y.shape[1]
    n_leaves, depth = leaf_path.shape
    leaf_slot = leaf_path[:, depth - 1].copy()  # the slot above each leaf
    n_nodes = node_start.size - 1
    C = 0 if local_gate else node_start[-1]  # softmax slots
    ncol = W.shape[1]
    ne = ncol - C  # expert columns: n_leaves * m
    q = p if logistic else p + m
    uq = q * (q + 1) // 2
    up = p * (p + 1) // 2
    npair = (m - 1) * m // 2 if logistic else 0
    # rows of the x1 x1^T products
    n_xg = n_leaves if (logistic and local_gate) else 0
    n_eh = n_leaves * npair
    n_nd = 0 if local_gate else n_nodes * want_nodes
    n_gh = 0 if local_gate else hess_start[-1] * want_hess
    n_u = n_xg + n_eh + n_nd + n_gh
    n_re = n_leaves * m if logistic else 0
    n_x = n_re + C
    n_arg = (n_leaves if local_gate else C) + (ne if logistic else 0)
    B = _BLOCK
    bias = W[n_feat]
    proj = np.empty((B, ncol))
    sh = np.empty(B * n_arg)  # shifted arguments, then (in ex) their exps
    ex = np.empty(B * n_arg)
    zz = np.empty(B * n_leaves)
    ibuf = np.empty(B * max(n_arg, n_leaves), dtype=np.int64)
    zmax = np.empty(B)
    logpx = np.zeros(B)
    lw = np.zeros((B, n_leaves))
    lg = np.empty(max(C, n_leaves))
    g = np.empty(max(C, 1))
    ll = np.empty(n_leaves)
    mass = np.empty(max(C, 1))
    node_mass = np.empty(n_nodes)
    hrow = np.empty(n_leaves)
    zrow = np.empty(q)
    U = np.zeros((B, uq))
    Ux = np.zeros((B, up))
    X1 = np.zeros((B, p))
    WH = np.zeros((n_leaves, B))
    RX = np.zeros((max(n_x, 1), B))
    HU = np.zeros((max(n_u, 1), B))
    iw = np.empty(8, dtype=np.int32)
    fw = np.empty(2)
    # addresses and leading dimensions as int64: one signature of ``gemm``
    px, pw, pproj, pA, plw = _addr(X), _addr(W), _addr(proj), _addr(A), _addr(lw)
    pU, pUx, pX1 = _addr(U), _addr(Ux), _addr(X1)
    pWH, pRX, pHU = _addr(WH), _addr(RX), _addr(HU)
    pE, pX, pS = _addr(accE), _addr(accX), _addr(accU)
    ldb = np.int64(B)
    for b0 in range(0, n, B):
        b1 = min(n, b0 + B)
        nb = b1 - b0
        gemm(nb, ncol, n_feat, px + 8 * b0 * n_feat, n_feat, pw, ncol, 0.0,
             pproj, ncol, iw, fw)
        # data products of the block: x1, packed x1 x1^T and z z^T
        for r in range(nb):
            i = b0 + r
            for f in range(n_feat):
                zrow[f] = X[i, f]
            zrow[n_feat] = 1.0
            if not logistic:
                for o in range(m):
                    zrow[p + o] = Y[i, o]
            for f in range(p):
                X1[r, f] = zrow[f]
            for col in range(q):
                zc = zrow[col]
                base = col * (col + 1) // 2
                for row in range(col + 1):
                    v = zrow[row] * zc
                    if not logistic:
                        U[r, base + row] = v
                    if col < p:
                        Ux[r, base + row] = v
            for c in range(ncol):
                proj[r, c] += bias[c]
        if local_gate:
            gemm(nb, n_leaves, up, pUx, up, pA, n_leaves, 0.0, plw, n_leaves,
                 iw, fw)
        # shifted arguments of every exponential of the block
        for r in range(nb):
            a0 = r * n_arg
            if local_gate:
                mx = lw[r, 0]
                for leaf in range(1, n_leaves):
                    mx = max(mx, lw[r, leaf])
                zmax[r] = mx  # reused below for log p(x)
                for leaf in range(n_leaves):
                    v = lw[r, leaf] - mx
                    sh[a0 + leaf] = v
                    ex[a0 + leaf] = v
                a0 += n_leaves
            else:
                for j in range(n_nodes):
                    lo, hi = node_start[j], node_start[j + 1]
                    mx = proj[r, ne + lo]
                    for s in range(lo + 1, hi):
                        mx = max(mx, proj[r, ne + s])
                    for s in range(lo, hi):
                        v = proj[r, ne + s] - mx
                        sh[a0 + s] = v
                        ex[a0 + s] = v
                a0 += C
            if logistic:
                for leaf in range(n_leaves):
                    c0 = leaf * m
                    mx = proj[r, c0]
                    for c in range(1, m):
                        mx = max(mx, proj[r, c0 + c])
                    for c in range(m):
                        v = proj[r, c0 + c] - mx
                        sh[a0 + c0 + c] = v
                        ex[a0 + c0 + c] = v
        _vexp(ex, nb * n_arg, ibuf, -745.0)
        # log gates, expert log-likelihoods, posterior arguments
        for r in range(nb):
            i = b0 + r
            a0 = r * n_arg
            if local_gate:
                tot = 0.0
                for leaf in range(n_leaves):
                    tot += ex[a0 + leaf]
                logpx[r] = zmax[r] + np.log(tot)
                for leaf in range(n_leaves):
                    lg[leaf] = lw[r, leaf] - logpx[r]
                a0 += n_leaves
            else:
                for j in range(n_nodes):
                    lo, hi = node_start[j], node_start[j + 1]
                    tot = 0.0
                    for s in range(lo, hi):
                        tot += ex[a0 + s]
                    lt = np.log(tot)
                    inv = 1.0 / tot
                    for s in range(lo, hi):
                        lg[s] = sh[a0 + s] - lt
                        ex[a0 + s] *= inv  # g, kept for the residuals
                a0 += C
            for leaf in range(n_leaves):
                if logistic:
                    c0 = a0 + leaf * m
                    tot = 0.0
                    for c in range(m):
                        tot += ex[c0 + c]
                    lt = np.log(tot)
                    inv = 1.0 / tot
                    z = 0.0
                    for c in range(m):
                        z += Y[i, c] * (sh[c0 + c] - lt)
                        ex[c0 + c] *= inv  # class probabilities
                else:
                    z = 0.0
                    for o in range(m):
                        res = Y[i, o] - proj[r, leaf * m + o]
                        z += const[leaf, o] - res * res * inv2var[leaf, o]
                ll[leaf] = z
                if local_gate:
                    z += lg[leaf]
                else:
                    for t in range(depth):
                        z += lg[leaf_path[leaf, t]]
                zz[r * n_leaves + leaf] = z
            mx = -np.inf
            for leaf in range(n_leaves):
                mx = max(mx, zz[r * n_leaves + leaf])
            zmax[r] = mx
            for leaf in range(n_leaves):
                if mx > -np.inf:
                    zz[r * n_leaves + leaf] -= mx
                else:
                    zz[r * n_leaves + leaf] = -np.inf
            if logistic:  # stash log f_l(y_i) for the q statistics
                for leaf in range(n_leaves):
                    lw[r, leaf] = ll[leaf]
        _vexp(zz, nb * n_leaves, ibuf, _TINY_LOG)
        # posteriors become the weights of the block products
        for r in range(nb):
            i = b0 + r
            w = sw[i]
            tot = 0.0
            for leaf in range(n_leaves):
                tot += zz[r * n_leaves + leaf]
            if not (tot > 0.0 and w != 0.0):
                # zero weight, or every leaf impossible (or NaN): no statistics
                if w != 0.0:
                    accS[0] += w * (zmax[r] + logpx[r])
                for leaf in range(n_leaves):
                    WH[leaf, r] = 0.0
                for k in range(n_x):
                    RX[k, r] = 0.0
                for k in range(n_u):
                    HU[k, r] = 0.0
                continue
            accS[0] += w * (zmax[r] + np.log(tot) + logpx[r])
            inv = 1.0 / tot
            for leaf in range(n_leaves):
                WH[leaf, r] = w * zz[r * n_leaves + leaf] * inv
            k = 0
            if n_xg:
                for leaf in range(n_leaves):
                    HU[k, r] = WH[leaf, r]
                    k += 1
            a0 = r * n_arg + (n_leaves if local_gate else C)
            if logistic:
                for leaf in range(n_leaves):
                    wh = WH[leaf, r]
                    accS[1 + leaf] += wh * lw[r, leaf]
                    accS[1 + n_leaves + leaf] += wh
                    c0 = a0 + leaf * m
                    for c in range(m):
                        RX[leaf * m + c, r] = wh * (Y[i, c] - ex[c0 + c])
                    for s in range(1, m):
                        ws = wh * ex[c0 + s]
                        for t in range(s, m):
                            dst = 1.0 if s == t else 0.0
                            HU[k, r] = ws * (dst - ex[c0 + t])
                            k += 1
            if not local_gate:
                g0 = r * n_arg
                for leaf in range(n_leaves):
                    hrow[leaf] = WH[leaf, r]
                _tree_masses(hrow, leaf_slot, node_start, node_parent_slot, mass,
                             node_mass)
                for s in range(C):
                    g[s] = ex[g0 + s]
                    RX[n_re + s, r] = mass[s] - node_mass[slot_node[s]] * g[s]
                if want_nodes:
                    for j in range(n_nodes):
                        HU[k, r] = node_mass[j]
                        k += 1
                if want_hess:
                    for j in range(n_nodes):
                        wm = node_mass[j]
                        lo, hi = node_start[j], node_start[j + 1]
                        for s in range(lo + 1, hi):  # first slot: the reference
                            gs = g[s]
                            for t in range(s, hi):
                                dst = 1.0 if s == t else 0.0
                                HU[k, r] = wm * gs * (dst - g[t])
                                k += 1
        # accumulators += weights (rows, nb) @ block matrix (nb, columns)
        if not logistic:
            gemm(n_leaves, uq, nb, pWH, ldb, pU, uq, 1.0, pE, uq, iw, fw)
        if n_x:
            gemm(n_x, p, nb, pRX, ldb, pX1, p, 1.0, pX, p, iw, fw)
        if n_u:
            gemm(n_u, up, nb, pHU, ldb, pUx, up, 1.0, pS, up, iw, fw)
