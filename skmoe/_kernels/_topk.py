"""Sparse top-k gating at prediction: best-first search down the gating tree.

A leaf's gate probability is the product of the gate probabilities on its path,
``log pi_il = sum_t log g_{i s_t}``, and every factor is at most one, so a
node's path log-probability bounds those of all leaves below it. Best-first
search therefore finds the ``k`` most probable leaves of row ``i`` exactly while
evaluating only the gates of the nodes it expands: a max-heap holds the
frontier (nodes and leaves keyed by their path log-probability); popping a node
evaluates its softmax ``log g_is = a_is - logsumexp_{s' in node} a_is'`` with
``a_is = w_s . [x_i, 1]`` and pushes its children; the first ``k`` leaves
popped are the answer, in decreasing order of probability. Their weights are
renormalised over the selected leaves,

    weight_ij = exp(log pi_{i l_j} - logsumexp_{j' < k} log pi_{i l_j'}).

The root's logits come precomputed (one matrix product per chunk of rows), so
a flat mixture spends its gate work in BLAS and the kernel only selects.

Shapes: ``root_logits`` (n, b_root); ``X`` (n, d); ``gate_t`` (n_slots, d + 1),
the gates' slopes then intercept, one row per slot; ``node_start``
(n_nodes + 1,); ``child`` (n_slots,) the node a slot leads to, or
``n_nodes + leaf`` for a leaf; outputs ``leaves`` (n, k) int64 and ``weights``
(n, k). The Gaussian means kernel evaluates ``B`` (d + 1, n_leaves * m),
columns leaf-major, for the selected leaves only, from its transpose
``coef_t`` (n_leaves * m, d + 1): ``mu`` (n, k, m).
"""

import numpy as np
from numba import njit

from ._config import FASTMATH


@njit(cache=True, nogil=True, fastmath=FASTMATH)
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


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _pop(size, hkey, hitem):
    """Remove the top of the heap (read it from ``hkey[0]``/``hitem[0]`` first)."""
    size -= 1
    key = hkey[size]
    item = hitem[size]
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
    return size


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _expand(base, lo, hi, a, child, k, n_nodes, normalise, size, hkey, hitem, sel):
    """Push the children of a node with logits ``a[:hi - lo]`` at ``base``.

    A node whose children are leaves pushes only its ``k`` most probable
    children (a leaf ranked below ``k`` among its siblings cannot be in the
    answer). ``normalise=False`` skips the log-sum-exp: a flat mixture's
    ranking and renormalised weights do not depend on it.
    """
    b = hi - lo
    lse = 0.0
    if normalise and b == 2:  # one exp and one log1p instead of two exps and a log
        lse = max(a[0], a[1]) + np.log1p(np.exp(-abs(a[0] - a[1])))
    elif normalise:
        m = a[0]
        for s in range(1, b):
            if a[s] > m:
                m = a[s]
        tot = 0.0
        for s in range(b):
            tot += np.exp(a[s] - m)
        lse = m + np.log(tot)
    if b <= k or child[lo] < n_nodes:  # few children, or internal nodes
        for s in range(b):
            size = _push(base + a[s] - lse, child[lo + s], size, hkey, hitem)
        return size
    # top-k of the b leaf children by insertion into sel (sorted, descending)
    n_sel = 0
    floor = -np.inf  # the k-th largest so far, once k are selected
    for s in range(b):
        v = a[s]
        if v <= floor:
            continue
        pos = n_sel if n_sel < k else k - 1
        while pos > 0 and a[sel[pos - 1]] < v:
            sel[pos] = sel[pos - 1]
            pos -= 1
        sel[pos] = s
        if n_sel < k:
            n_sel += 1
        if n_sel == k:
            floor = a[sel[k - 1]]
    for j in range(k):
        s = sel[j]
        size = _push(base + a[s] - lse, child[lo + s], size, hkey, hitem)
    return size


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def topk_tree(root_logits, X, gate_t, node_start, child, leaves, weights):
    """The ``k = leaves.shape[1]`` most probable leaves of every row and their
    renormalised weights (see the module docstring)."""
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
    sel = np.empty(k, dtype=np.int64)
    logp = np.empty(k)
    normalise = n_nodes > 1
    for i in range(n):
        for s in range(node_start[1]):
            a[s] = root_logits[i, s]
        size = _expand(0.0, 0, node_start[1], a, child, k, n_nodes, normalise, 0,
                       hkey, hitem, sel)
        found = 0
        while found < k:
            key = hkey[0]
            item = hitem[0]
            size = _pop(size, hkey, hitem)
            if item >= n_nodes:
                leaves[i, found] = item - n_nodes
                logp[found] = key
                found += 1
                continue
            lo, hi = node_start[item], node_start[item + 1]
            for s in range(lo, hi):
                acc = gate_t[s, d]
                for f in range(d):
                    acc += gate_t[s, f] * X[i, f]
                a[s - lo] = acc
            size = _expand(key, lo, hi, a, child, k, n_nodes, normalise, size,
                           hkey, hitem, sel)
        # logp[0] is the largest: normalise the k weights against it
        top = logp[0]
        tot = 0.0
        for j in range(k):
            logp[j] = np.exp(logp[j] - top)
            tot += logp[j]
        for j in range(k):
            weights[i, j] = logp[j] / tot


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def gaussian_means_at(X, coef_t, leaves, mu):
    """Means of the selected leaves only: ``mu[i, j, o] = [x_i, 1] . B[:, l m + o]``
    with ``l = leaves[i, j]`` and ``coef_t = B^T`` (one row per leaf and output)."""
    n, d = X.shape
    k = leaves.shape[1]
    m = mu.shape[2]
    for i in range(n):
        for j in range(k):
            c0 = leaves[i, j] * m
            for o in range(m):
                acc = coef_t[c0 + o, d]
                for f in range(d):
                    acc += coef_t[c0 + o, f] * X[i, f]
                mu[i, j, o] = acc
