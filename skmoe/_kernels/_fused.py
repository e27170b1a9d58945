"""One fused pass: E-step and sufficient statistics without n x K arrays.

For each row the kernel evaluates the gates and experts from the parameters,
runs the E-step of ``_estep`` (same maths, log space) and adds the row's share
to the sufficient statistics of the M-step, so that memory stays O(threads x
statistics) whatever ``n``. With ``z = [x, 1, y]``, ``x1 = [x, 1]``, weight
``w_i`` and posterior ``h_il``:

    acc_ll          += w_i loglik_i
    expert_grams[l] += w_i h_il  z z^T                   (packed upper triangle)
    gate_grad[s]    += w_i resid_is x1
    hess[j][s, t]   += w_i h_ij g_is (delta_st - g_it) x1 x1^T
                                     (s <= t in node j, both past its first slot)

(Böhning's node Gram matrices ``sum_i w_i h_ij x1 x1^T`` are sums of corners
of the experts' Gram matrices: ``skmoe._model.node_grams_from_experts``.)

Packed triangles use the order ``(j, l), j <= l`` at index ``l (l + 1) / 2 + j``,
so the ``x1 x1^T`` triangle is a prefix of the ``z z^T`` one.

Rows are processed in blocks: the sums over a block are three small matrix
products (weights x packed ``z z^T``, residuals x ``x1``), done by BLAS. The
exponentials are computed block by block with ``_vexp``, a vectorisable
``exp`` (Cody-Waite reduction and a degree-11 polynomial; relative error below
1e-13), about ten times faster than numba's scalar ``exp`` here.

The accumulator ``acc`` of shape (size,) is laid out by ``skmoe._model``
(see ``StatsLayout``). The kernel releases the GIL: callers run it on row
ranges in several threads (or Dask tasks), each with its own accumulator, and
add the results; there is no ``prange`` variant, which would double the
compile time for no gain.
"""

import numpy as np
from numba import njit

from ._blas import _addr, gemm
from ._config import FASTMATH

_TINY_LOG = -230.0
_BLOCK = 256
_INV_LN2 = 1.4426950408889634
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _vexp(buf, n, ibuf, floor):
    """``buf[:n] = exp(buf[:n])`` for arguments <= 0; below ``floor`` gives 0."""
    fview = ibuf.view(np.float64)
    for i in range(n):
        v = buf[i]
        keep = v >= floor
        v = max(v, -708.0)
        kf = np.floor(v * _INV_LN2 + 0.5)
        r = v - kf * _LN2_HI - kf * _LN2_LO
        p = 2.505210838544172e-08
        p = p * r + 2.755731922398589e-07
        p = p * r + 2.7557319223985893e-06
        p = p * r + 2.48015873015873e-05
        p = p * r + 0.0001984126984126984
        p = p * r + 0.001388888888888889
        p = p * r + 0.008333333333333333
        p = p * r + 0.041666666666666664
        p = p * r + 0.16666666666666666
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        buf[i] = p if keep else 0.0
        ibuf[i] = (np.int64(kf) + 1023) << 52
    for i in range(n):
        buf[i] *= fview[i]


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _vlog(buf, n, ibuf):
    """``buf[:n] = log(buf[:n])`` for positive, finite, normal arguments.

    ``x = 2^e m`` with ``m`` in [sqrt(1/2), sqrt(2)); ``log m = 2 atanh(s)``,
    ``s = (m - 1) / (m + 1)``, by its series to ``s^21`` (|s| < 0.172: relative
    error below 1e-15). Vectorisable, like ``_vexp``.
    """
    bits = buf.view(np.int64)
    fview = ibuf.view(np.float64)
    for i in range(n):
        v = bits[i]
        e = ((v >> 52) & 0x7FF) - 1023
        ibuf[i] = (v & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000
        m = fview[i]
        big = m > 1.4142135623730951
        m = m * 0.5 if big else m
        ef = np.float64(e + 1) if big else np.float64(e)
        t = (m - 1.0) / (m + 1.0)
        t2 = t * t
        p = 1.0 / 21.0
        p = p * t2 + 1.0 / 19.0
        p = p * t2 + 1.0 / 17.0
        p = p * t2 + 1.0 / 15.0
        p = p * t2 + 1.0 / 13.0
        p = p * t2 + 1.0 / 11.0
        p = p * t2 + 1.0 / 9.0
        p = p * t2 + 1.0 / 7.0
        p = p * t2 + 1.0 / 5.0
        p = p * t2 + 1.0 / 3.0
        p = p * t2 + 1.0
        buf[i] = ef * 0.6931471805599453 + 2.0 * t * p


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _tree_masses(h, leaf_slot, node_start, node_parent_slot, mass, node_mass):
    """Posterior mass under every slot and every node from one row's leaf
    posteriors ``h``, bottom up: the slot leading to node ``j`` carries the sum
    of ``j``'s slots (nodes are numbered breadth first, so a node comes after
    its parent). The root's mass is the sum: 1, or 0 for a dead row."""
    for leaf in range(leaf_slot.size):
        mass[leaf_slot[leaf]] = h[leaf]
    for j in range(node_start.size - 2, -1, -1):
        tot = 0.0
        for s in range(node_start[j], node_start[j + 1]):
            tot += mass[s]
        node_mass[j] = tot
        ps = node_parent_slot[j]
        if ps >= 0:
            mass[ps] = tot


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def stats_serial(X, Y, sw, W, const, inv2var, node_start, slot_node,
                 node_parent_slot, leaf_path, want_hess, hess_start,
                 layout, acc):
    """Fused E-step and statistics of the rows of ``X`` on one thread, added
    to ``acc`` (1-D, laid out by ``skmoe._model.StatsLayout``).

    Gaussian experts (``const``/``inv2var`` of shape (n_leaves, n_outputs));
    ``W`` (d + 1, n_leaves * n_outputs + n_slots) holds the experts' columns,
    then the gates'. All arrays C-contiguous (the products read them through
    their addresses). Other families: ``_fused_families``.
    """
    n_feat = X.shape[1]
    p = n_feat + 1
    n_out = Y.shape[1]
    q = p + n_out
    n_leaves, depth = leaf_path.shape
    leaf_slot = leaf_path[:, depth - 1].copy()  # the slot above each leaf
    n_nodes = node_start.size - 1
    C = node_start[-1]
    ncol = W.shape[1]
    goff = ncol - C  # first gate column
    uq = q * (q + 1) // 2
    up = p * (p + 1) // 2
    off_e, off_g, off_h = layout[0], layout[1], layout[2]
    B = _BLOCK
    bias = W[n_feat]
    proj = np.empty(B * ncol)
    sh = np.empty(B * C)  # shifted logits, then (in ex) their exps
    ex = np.empty(B * C)
    zz = np.empty(B * n_leaves)
    ibuf = np.empty(B * max(C, n_leaves, n_nodes), dtype=np.int64)
    mass = np.empty(C)
    node_mass = np.empty(n_nodes)
    hrow = np.empty(n_leaves)
    zrow = np.empty(q)
    zmax = np.empty(B)
    tots = np.empty(B * n_nodes)
    rtot = np.empty(B)
    rlog = np.empty(B)
    n_hw = hess_start[-1] * want_hess
    # row-major block matrices: U (B, uq) rows z z^T (its first up columns
    # are x1 x1^T), X1 (B, p), and the weights WH (n_leaves, B), RW (C, B),
    # HW (n_hw, B); every product below runs over the block's rows
    U = np.zeros(B * uq)
    X1 = np.zeros(B * p)
    WH = np.zeros(n_leaves * B)
    RW = np.zeros(C * B)
    HW = np.zeros(max(n_hw, 1) * B)
    iw = np.empty(8, dtype=np.int32)
    fw = np.empty(2)
    # addresses and leading dimensions as int64: one signature of ``gemm``
    pacc, px, pw = _addr(acc), _addr(X), _addr(W)
    pu, px1, pproj = _addr(U), _addr(X1), _addr(proj)
    pwh, prw, phw = _addr(WH), _addr(RW), _addr(HW)
    ldw = np.int64(B)
    n = X.shape[0]
    for b0 in range(0, n, B):
        b1 = min(n, b0 + B)
        nb = b1 - b0
        # projections and shifted gate logits
        gemm(nb, ncol, n_feat, px + 8 * b0 * n_feat, n_feat, pw, ncol, 0.0,
             pproj, ncol, iw, fw)
        for r in range(nb):
            for c in range(ncol):
                proj[r * ncol + c] += bias[c]
            for j in range(n_nodes):
                lo, hi = node_start[j], node_start[j + 1]
                m = proj[r * ncol + goff + lo]
                for s in range(lo + 1, hi):
                    m = max(m, proj[r * ncol + goff + s])
                for s in range(lo, hi):
                    v = proj[r * ncol + goff + s] - m
                    sh[r * C + s] = v
                    ex[r * C + s] = v
        _vexp(ex, nb * C, ibuf, -745.0)
        # log-gates (node totals lie in [1, b]: the vectorised log is safe)
        for r in range(nb):
            for j in range(n_nodes):
                lo, hi = node_start[j], node_start[j + 1]
                tot = 0.0
                for s in range(lo, hi):
                    tot += ex[r * C + s]
                tots[r * n_nodes + j] = tot
                inv = 1.0 / tot
                for s in range(lo, hi):
                    ex[r * C + s] *= inv  # g
        _vlog(tots, nb * n_nodes, ibuf)
        # leaf log-joints
        for r in range(nb):
            i = b0 + r
            for j in range(n_nodes):  # parents first: path log-priors
                lt = tots[r * n_nodes + j]
                ps = node_parent_slot[j]
                lt -= sh[r * C + ps] if ps >= 0 else 0.0
                for s in range(node_start[j], node_start[j + 1]):
                    sh[r * C + s] -= lt  # sum of log g down to the slot
            m = -np.inf
            for leaf in range(n_leaves):
                z = 0.0
                for o in range(n_out):
                    res = Y[i, o] - proj[r * ncol + leaf * n_out + o]
                    z += const[leaf, o] - res * res * inv2var[leaf, o]
                z += sh[r * C + leaf_slot[leaf]]
                zz[r * n_leaves + leaf] = z
                if z > m:
                    m = z
            zmax[r] = m
            if m > -np.inf:
                for leaf in range(n_leaves):
                    zz[r * n_leaves + leaf] -= m
            else:
                for leaf in range(n_leaves):
                    zz[r * n_leaves + leaf] = -np.inf
        _vexp(zz, nb * n_leaves, ibuf, _TINY_LOG)
        # posteriors and residuals become the weights of three block products
        for r in range(nb):
            tot = 0.0
            for leaf in range(n_leaves):
                tot += zz[r * n_leaves + leaf]
            rtot[r] = tot
            # a dead row's total (0 or NaN) is kept aside from the log
            rlog[r] = tot if tot > 0.0 else 1.0
        _vlog(rlog, nb, ibuf)
        for r in range(nb):
            i = b0 + r
            w = sw[i]
            tot = rtot[r]
            urow = U[r * uq:(r + 1) * uq]
            xrow = X1[r * p:(r + 1) * p]
            if not (tot > 0.0 and w != 0.0):
                # zero weight, or every leaf impossible (or NaN): no statistics
                # (zero rows of U and X1 cancel the stale weight columns)
                if w != 0.0:
                    acc[0] += w * zmax[r]
                for k in range(uq):
                    urow[k] = 0.0
                for f in range(p):
                    xrow[f] = 0.0
                continue
            acc[0] += w * (zmax[r] + rlog[r])
            inv = 1.0 / tot
            for f in range(n_feat):
                zrow[f] = X[i, f]
            zrow[n_feat] = 1.0
            for o in range(n_out):
                zrow[p + o] = Y[i, o]
            for f in range(p):
                xrow[f] = zrow[f]
            for col in range(q):
                zc = zrow[col]
                seg = urow[col * (col + 1) // 2:(col + 1) * (col + 2) // 2]
                for row in range(col + 1):
                    seg[row] = zrow[row] * zc
            for leaf in range(n_leaves):
                h = zz[r * n_leaves + leaf] * inv
                hrow[leaf] = h
                WH[leaf * B + r] = w * h
            _tree_masses(hrow, leaf_slot, node_start, node_parent_slot, mass,
                         node_mass)
            for s in range(C):
                RW[s * B + r] = w * (mass[s] - node_mass[slot_node[s]] * ex[r * C + s])
            m2 = 0
            if want_hess:
                for j in range(n_nodes):
                    wm = w * node_mass[j]
                    lo, hi = node_start[j], node_start[j + 1]
                    for s in range(lo + 1, hi):  # the first slot is the reference
                        gs = ex[r * C + s]
                        for t in range(s, hi):
                            dst = 1.0 if s == t else 0.0
                            HW[m2 * B + r] = wm * gs * (dst - ex[r * C + t])
                            m2 += 1
        # acc blocks += weights (rows, nb) @ block matrix (nb, columns)
        gemm(n_leaves, uq, nb, pwh, ldw, pu, uq, 1.0,
             pacc + 8 * off_e, uq, iw, fw)
        gemm(C, p, nb, prw, ldw, px1, p, 1.0,
             pacc + 8 * off_g, p, iw, fw)
        if n_hw:
            gemm(n_hw, up, nb, phw, ldw, pu, uq, 1.0,
                 pacc + 8 * off_h, up, iw, fw)
