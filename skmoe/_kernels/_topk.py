"""Sparse top-k prediction: best-first search down the gating tree, one row at a time.

A leaf's gate probability is the product of the gate probabilities on its path,
``log pi_il = sum_t log g_{i s_t}``, and every factor is at most one, so a
node's path log-probability bounds those of all leaves below it. Best-first
search therefore finds the ``k`` most probable leaves of row ``i`` exactly while
evaluating only the gates of the nodes it expands: a max-heap holds the
frontier (nodes and leaves keyed by their path log-probability); expanding a
node evaluates its softmax ``log g_is = a_is - logsumexp_{s' in node} a_is'``
with ``a_is = w_s . [x_i, 1]`` and adds its children to the frontier; the first
``k`` leaves taken from it are the answer, in decreasing order of probability.
Their weights are renormalised over the selected leaves,

    weight_ij = exp(log pi_{i l_j} - logsumexp_{j' < k} log pi_{i l_j'}).

A flat mixture is the tree of one node: its row costs the ``b`` gate logits
and a top-k selection, with no log-sum-exp (ranking and renormalised weights do
not depend on it) and no heap. For ``k <= 2``, ``topk_flat`` does it for blocks
of rows at a time, the logits by one BLAS product per block and the selection
vectorised over the rows (about three times faster than row by row).

One kernel call does everything for its rows, the gate logits and the
selected experts' means included: a row's work stays in registers and L1
cache, nothing of shape (n, b) is written, and the rows may be split over
threads in any blocks, since every row goes through the same instructions
(results do not depend on the blocks).

Shapes: ``X`` (n, d); ``gate`` (d + 1, n_slots), the gates' slopes then
intercept, one column per slot, and ``gate_t`` its transpose (the logits of a
wide node run down the columns of ``gate``, those of a narrow node along the
rows of ``gate_t``); ``node_start`` (n_nodes + 1,); ``child`` (n_slots,) the
node a slot leads to, or ``n_nodes + leaf`` for a leaf; outputs ``leaves``
(n, k) int64 and ``weights`` (n, k). Linear (Gaussian) experts have their
means evaluated in the same pass, for the selected leaves only: ``coef_t``
(n_leaves * m, d + 1) is ``B^T`` (one row per leaf and output, slopes then
intercept) and ``mu`` (n, k, m) receives ``[x_i, 1] . B[:, l m + o]``; with
``m = 0`` (``coef_t`` of shape (0, d + 1)) the kernel only selects.

The small helpers are inlined where they are called (``inline="always"``:
calls with array arguments cost more than their bodies); the selection
``_top_k``, called once per row or per expanded parent of many leaves, stays
a call, which keeps the first (uncached) compilation shorter.
"""

import numpy as np
from numba import njit

from ._blas import _addr, gemm
from ._config import FASTMATH

# Lanes of the branch-free lower bound on the k-th largest logit (``_kth_bound``)
_LANES = 8


@njit(cache=True, nogil=True, fastmath=FASTMATH, inline="always")
def _push(key, item, size, hkey, hitem):
    """Insert ``(key, item)`` into the max-heap of ``size`` entries."""
    pos = size
    while pos > 0:
        parent = (pos - 1) >> 1
        if hkey[parent] >= key:
            break
        hkey[pos] = hkey[parent]
        hitem[pos] = hitem[parent]
        pos = parent
    hkey[pos] = key
    hitem[pos] = item
    return size + 1


@njit(cache=True, nogil=True, fastmath=FASTMATH, inline="always")
def _sift_down(key, item, size, hkey, hitem):
    """Place ``(key, item)`` at the top of the max-heap of ``size`` entries (the
    old top is overwritten) and sift it down."""
    pos = 0
    while True:
        c = 2 * pos + 1
        if c >= size:
            break
        if c + 1 < size and hkey[c + 1] > hkey[c]:
            c += 1
        if hkey[c] <= key:
            break
        hkey[pos] = hkey[c]
        hitem[pos] = hitem[c]
        pos = c
    hkey[pos] = key
    hitem[pos] = item


@njit(cache=True, nogil=True, fastmath=FASTMATH, inline="always")
def _ce(x, y):
    """Compare-exchange: ``(max, min)`` without a branch."""
    return max(x, y), min(x, y)


@njit(cache=True, nogil=True, fastmath=FASTMATH, inline="always")
def _kth_bound(a, b, k):
    """A lower bound on the ``k``-th largest of ``a[:b]`` (``k <= 8 <= b``).

    The maxima of the eight lanes ``a[l::8]`` are eight distinct elements, so
    the ``k``-th largest of them is at most the ``k``-th largest of all.
    Computed without a branch: the lane maxima, then a sorting network of 19
    compare-exchanges (it sorts every 0-1 input, hence every input).
    """
    m0 = a[0]
    m1 = a[1]
    m2 = a[2]
    m3 = a[3]
    m4 = a[4]
    m5 = a[5]
    m6 = a[6]
    m7 = a[7]
    for s0 in range(_LANES, b - _LANES + 1, _LANES):
        m0 = max(m0, a[s0])
        m1 = max(m1, a[s0 + 1])
        m2 = max(m2, a[s0 + 2])
        m3 = max(m3, a[s0 + 3])
        m4 = max(m4, a[s0 + 4])
        m5 = max(m5, a[s0 + 5])
        m6 = max(m6, a[s0 + 6])
        m7 = max(m7, a[s0 + 7])
    # the last b % 8 elements are left out: a bound from a subset stays a bound
    m0, m2 = _ce(m0, m2)
    m1, m3 = _ce(m1, m3)
    m4, m6 = _ce(m4, m6)
    m5, m7 = _ce(m5, m7)
    m0, m4 = _ce(m0, m4)
    m1, m5 = _ce(m1, m5)
    m2, m6 = _ce(m2, m6)
    m3, m7 = _ce(m3, m7)
    m0, m1 = _ce(m0, m1)
    m2, m3 = _ce(m2, m3)
    m4, m5 = _ce(m4, m5)
    m6, m7 = _ce(m6, m7)
    m2, m4 = _ce(m2, m4)
    m3, m5 = _ce(m3, m5)
    m1, m4 = _ce(m1, m4)
    m3, m6 = _ce(m3, m6)
    m1, m2 = _ce(m1, m2)
    m3, m4 = _ce(m3, m4)
    m5, m6 = _ce(m5, m6)
    return (m0, m1, m2, m3, m4, m5, m6, m7)[k - 1]


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _top_k(a, b, k, cand, sel, sv):
    """The ``k`` largest of ``a[:b]``: indices ``sel[:k]``, values ``sv[:k]``,
    in decreasing order, ties to the lower index (as a stable argsort).

    Small ``k`` (below 8) runs without data-dependent branches, which cost
    more than the comparisons here: a lower bound on the ``k``-th largest
    (``_kth_bound``, for ``b >= 16``) admits the candidates, gathered in index
    order, and each candidate passes down the list of ``k`` sorted by value,
    then index, by compare-exchanges (``k`` of them per candidate). From
    ``k = 8`` (measured: 64 logits, Friedman #1 gates) inserting every element
    above the running ``k``-th largest costs less.
    """
    if k >= _LANES and b >= 2 * _LANES:
        n_sel = 0
        for s in range(b):
            v = a[s]
            if n_sel == k and not v > sv[k - 1]:
                continue
            pos = n_sel if n_sel < k else k - 1
            while pos > 0 and sv[pos - 1] < v:
                sel[pos] = sel[pos - 1]
                sv[pos] = sv[pos - 1]
                pos -= 1
            sel[pos] = s
            sv[pos] = v
            if n_sel < k:
                n_sel += 1
        return
    floor = _kth_bound(a, b, k) if b >= 2 * _LANES else -np.inf
    nc = 0
    for s in range(b):
        cand[nc] = s
        nc += not a[s] < floor
    if nc < k:  # only with NaN logits: keep every index valid
        for s in range(b):
            cand[s] = s
        nc = b
    _pass_down(a, b, k, cand, nc, sel, sv)


@njit(cache=True, nogil=True, fastmath=FASTMATH, inline="always")
def _pass_down(a, b, k, cand, nc, sel, sv):
    """The ``k`` largest of the candidates ``a[cand[:nc]]`` into ``sel``/``sv``:
    each passes down the list sorted by value, then index, by ``k``
    compare-exchanges without a branch."""
    for p in range(k):
        sv[p] = -np.inf
        sel[p] = b  # empty slot: any candidate takes it
    for t in range(nc):
        iv = cand[t]
        v = a[iv]
        for p in range(k):
            w = sv[p]
            iw = sel[p]
            up = (v > w) | ((v == w) & (iv < iw)) | (iw == b)
            sv[p] = v if up else w
            sel[p] = iv if up else iw
            v = w if up else v
            iv = iw if up else iv


@njit(cache=True, nogil=True, fastmath=FASTMATH, inline="always")
def _node_logits(X, i, gate, gate_t, lo, hi, a):
    """``a[s - lo] = [x_i, 1] . w_s`` for the slots ``lo:hi`` of one node."""
    d = X.shape[1]
    if hi - lo >= _LANES:  # wide node: vectorised down the columns of gate
        for s in range(lo, hi):
            a[s - lo] = gate[d, s]
        f = 0
        while f + 1 < d:  # two features a pass: half the loads and stores of a
            x0 = X[i, f]
            x1 = X[i, f + 1]
            for s in range(lo, hi):
                a[s - lo] = a[s - lo] + gate[f, s] * x0 + gate[f + 1, s] * x1
            f += 2
        if f < d:
            x0 = X[i, f]
            for s in range(lo, hi):
                a[s - lo] += gate[f, s] * x0
    else:
        for s in range(lo, hi):
            acc = gate_t[s, d]
            for f in range(d):
                acc += gate_t[s, f] * X[i, f]
            a[s - lo] = acc


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def topk_tree(X, gate, gate_t, node_start, child, coef_t, leaves, weights, mu):
    """The ``k = leaves.shape[1]`` most probable leaves of every row, their
    renormalised weights and, for linear experts, their means (see the module
    docstring)."""
    n, d = X.shape
    k = leaves.shape[1]
    n_nodes = node_start.size - 1
    b_max = 0
    for j in range(n_nodes):
        b_max = max(b_max, node_start[j + 1] - node_start[j])
    cap = node_start[-1] + 1
    hkey = np.empty(cap)
    hitem = np.empty(cap, dtype=np.int64)
    a = np.empty(b_max)
    cand = np.empty(b_max, dtype=np.int64)
    sel = np.empty(k, dtype=np.int64)
    sv = np.empty(k)
    logp = np.empty(k)
    for i in range(n):
        if n_nodes == 1:  # flat: the top k of the logits, no log-sum-exp
            _node_logits(X, i, gate, gate_t, 0, b_max, a)
            _top_k(a, b_max, k, cand, sel, sv)
            for j in range(k):
                leaves[i, j] = sel[j]
                logp[j] = sv[j]
        else:
            _tree_row(X, i, gate, gate_t, node_start, child, k, hkey, hitem, a,
                      cand, sel, sv, leaves, logp)
        # logp[0] is the largest: normalise the k weights against it
        top = logp[0]
        logp[0] = 1.0
        tot = 1.0
        for j in range(1, k):
            logp[j] = np.exp(logp[j] - top)
            tot += logp[j]
        for j in range(k):
            weights[i, j] = logp[j] / tot
        _means_row(X, i, coef_t, leaves, mu)


@njit(cache=True, nogil=True, fastmath=FASTMATH, inline="always")
def _tree_row(X, i, gate, gate_t, node_start, child, k, hkey, hitem, a, cand, sel,
              sv, leaves, logp):
    """Best-first search of row ``i``: ``leaves[i]`` and their ``logp``.

    The most probable child of the node just expanded is taken next without
    passing through the heap when it is at least the heap's top (the heap
    would hand it back at once), so a search that dives straight down costs
    no heap operation.
    """
    n_nodes = node_start.size - 1
    size = 0
    found = 0
    key = 0.0
    item = 0  # the root
    while True:
        if item >= n_nodes:
            leaves[i, found] = item - n_nodes
            logp[found] = key
            found += 1
            if found == k:
                return
            key = hkey[0]
            item = hitem[0]
            size -= 1
            _sift_down(hkey[size], hitem[size], size, hkey, hitem)
            continue
        lo, hi = node_start[item], node_start[item + 1]
        b = hi - lo
        _node_logits(X, i, gate, gate_t, lo, hi, a)
        best = 0
        for s in range(1, b):
            best = s if a[s] > a[best] else best
        top = a[best]
        # log g_s = a_s - top - log(1 + sum of exp(a_s' - top) over s' != best):
        # slot b - 1 takes the best one's place, so that the others are a[:b - 1]
        a[best] = a[b - 1]
        tot = 1.0
        for s in range(b - 1):
            tot += np.exp(a[s] - top)
        base = key - top - np.log(tot)  # log(1 + e), not log1p(e): 1 ulp of 1
        if b <= k or child[lo] < n_nodes:  # few children, or internal nodes
            for s in range(b - 1):
                c = b - 1 if s == best else s
                size = _push(base + a[s], child[lo + c], size, hkey, hitem)
            key = base + top
            item = child[lo + best]
        else:  # leaves ranked below k among their siblings cannot be in the answer
            a[best] = top
            if b < 2 * _LANES:  # few leaves: all are candidates, no call
                for s in range(b):
                    cand[s] = s
                _pass_down(a, b, k, cand, b, sel, sv)
            else:
                _top_k(a, b, k, cand, sel, sv)
            for j in range(1, k):
                size = _push(base + sv[j], child[lo + sel[j]], size, hkey, hitem)
            key = base + sv[0]
            item = child[lo + sel[0]]
        if size > 0 and hkey[0] > key:  # the heap's top comes first: swap them
            top_key = hkey[0]
            top_item = hitem[0]
            _sift_down(key, item, size, hkey, hitem)
            key = top_key
            item = top_item


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def gaussian_means_at(X, coef_t, leaves, mu):
    """Means of the selected leaves only: ``mu[i, j, o] = [x_i, 1] . B[:, l m + o]``
    with ``l = leaves[i, j]`` and ``coef_t = B^T`` (one row per leaf and output)."""
    for i in range(X.shape[0]):
        _means_row(X, i, coef_t, leaves, mu)


@njit(cache=True, nogil=True, fastmath=FASTMATH, inline="always")
def _means_row(X, i, coef_t, leaves, mu):
    """``mu[i, j, o]`` for the leaves selected in row ``i`` (``coef_t = B^T``)."""
    d = X.shape[1]
    m = mu.shape[2]
    for j in range(leaves.shape[1]):
        c0 = leaves[i, j] * m
        for o in range(m):
            acc = coef_t[c0 + o, d]
            for f in range(d):
                acc += coef_t[c0 + o, f] * X[i, f]
            mu[i, j, o] = acc



# Rows of a block of ``topk_flat``. Every block's product has this shape (a
# short last block is padded), so every row's logits come out of the same
# BLAS code whatever the block it falls in.
_ROWS = 64
# ``topk_flat`` serves k up to this.
FLAT_MAX_K = 2


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def topk_flat(X, gate_t, coef_t, leaves, weights, mu):
    """``topk_tree`` of a flat mixture (one gate of ``b >= 2`` slots) for
    ``k = leaves.shape[1] <= 2``, with the rows as vector lanes.

    Rows go in blocks of ``_ROWS``: one BLAS product gives the block's logits,
    slot by slot (``Lt = W^T X_block^T``, shape (b, rows)); then, for each slot
    in turn, every row's logit (plus the slot's intercept) passes down the
    row's two largest so far by two compare-exchanges, written as selects on
    registers over a contiguous run of rows, which vectorise. The order is by
    value, then index (equal logits keep the lower index first, as a stable
    argsort); NaN logits are never selected (the slots start at -inf with
    the indices 0 and 1). ``gate_t`` is ``(b, d + 1)``: one row per slot,
    slopes then intercept. Weights and means as in ``topk_tree``.
    """
    n, d = X.shape
    b = gate_t.shape[0]
    k = leaves.shape[1]
    R = _ROWS
    Xt = np.zeros((d, R))
    Lt = np.empty((b, R))
    sv0 = np.empty(R)
    sv1 = np.empty(R)
    sel0 = np.empty(R, dtype=np.int64)
    sel1 = np.empty(R, dtype=np.int64)
    iw = np.empty(8, dtype=np.int32)
    fw = np.empty(2)
    pa, pxt, plt = _addr(gate_t), _addr(Xt), _addr(Lt)
    for r0 in range(0, n, R):
        nb = min(R, n - r0)
        for f in range(d):
            for r in range(nb):
                Xt[f, r] = X[r0 + r, f]
        gemm(b, R, d, pa, d + 1, pxt, R, 0.0, plt, R, iw, fw)
        for r in range(R):
            sv0[r] = -np.inf
            sv1[r] = -np.inf
            sel0[r] = 0
            sel1[r] = 1
        for s in range(b):
            bias = gate_t[s, d]
            for r in range(R):
                c = Lt[s, r] + bias
                w0 = sv0[r]
                j0 = sel0[r]
                up0 = c > w0  # s is the largest index yet: a tie stays below
                cc = w0 if up0 else c
                ic = j0 if up0 else s
                sv0[r] = c if up0 else w0
                sel0[r] = s if up0 else j0
                w1 = sv1[r]
                j1 = sel1[r]
                up1 = (cc > w1) | ((cc == w1) & (ic < j1))
                sv1[r] = cc if up1 else w1
                sel1[r] = ic if up1 else j1
        for r in range(nb):
            i = r0 + r
            leaves[i, 0] = sel0[r]
            if k == 1:
                weights[i, 0] = 1.0
            else:
                leaves[i, 1] = sel1[r]
                e = np.exp(sv1[r] - sv0[r])
                weights[i, 0] = 1.0 / (1.0 + e)
                weights[i, 1] = e / (1.0 + e)
            _means_row(X, i, coef_t, leaves, mu)
