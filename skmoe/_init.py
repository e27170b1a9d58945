"""Initial partitions from CART trees (``init_params="tree"``).

A regression tree splits the input space into boxes; each box's rows start
with responsibility one for one expert. A flat mixture of ``K`` experts takes
the boxes of one tree grown best first with ``max_leaf_nodes=K``. A gating
tree of depth ``D`` is grown level by level, one CART tree of ``b`` leaves per
node (``b`` the level's branching), so the boxes nest exactly as the gates do:
the root gate starts from the root's split, and so on down. Boxes are
numbered left to right, the order of the gating tree's leaves.

If CART stops early at a node (too few distinct rows, or a pure node), its
largest box is split at the weighted median of its most spread-out
standardised column of ``[X, Y]`` until there are enough boxes; if that too
runs out of distinct rows, the boxes are spread over the node's branches and
every row gets a small pseudo-random share of every expert (a function of the
row's values, so repeated rows start alike), so that no expert starts empty.
"""

import numpy as np
from sklearn.tree import DecisionTreeRegressor

# CART is grown on at most this many rows (then applied to all rows).
TREE_MAX_ROWS = 100_000
# Share of random responsibilities when there are fewer boxes than experts.
_RANDOM_SHARE = 0.1


def _standardise(Z, w):
    mean = np.average(Z, axis=0, weights=w)
    sd = np.sqrt(np.average((Z - mean) ** 2, axis=0, weights=w))
    return (Z - mean) / np.where(sd > 0, sd, 1.0)


def _leaves_left_to_right(tree):
    """Leaf node ids of a fitted sklearn ``Tree`` in depth-first, left-first order."""
    left, right = tree.children_left, tree.children_right
    out, stack = [], [0]
    while stack:
        node = stack.pop()
        if left[node] < 0:
            out.append(node)
        else:
            stack += [right[node], left[node]]
    return np.asarray(out, dtype=np.int64)


def _weighted_median(z, w):
    order = np.argsort(z, kind="stable")
    cum = np.cumsum(w[order])
    if not cum[-1] > 0:
        return float(np.median(z))
    return float(z[order][np.searchsorted(cum, 0.5 * cum[-1])])


def _split(rows, Z, w):
    """Split ``rows`` in two parts of positive weight along a column of ``Z``.

    Rows of zero weight follow the threshold but never choose it. None when
    the weighted rows are all identical.
    """
    live = w[rows] > 0
    Zg, wg = Z[rows][live], w[rows][live]
    if Zg.shape[0] < 2:
        return None
    spread = Zg.max(axis=0) - Zg.min(axis=0)
    for col in np.argsort(-spread, kind="stable"):
        if not spread[col] > 0:
            break
        z = Zg[:, col]
        thr = _weighted_median(z, wg)
        if thr >= z.max():  # the median is the maximum: split just below it
            thr = np.max(z[z < z.max()])
        below = Z[rows, col] <= thr
        return rows[below], rows[~below]
    return None


def _cart_split(rows, X, Ys, w, b, rng):
    """Split ``rows`` into at most ``b`` CART leaves, left to right."""
    fit = rows[w[rows] > 0]  # zero weights: as if the rows were not there
    if fit.size == 0:
        return [rows]
    if fit.size > TREE_MAX_ROWS:
        fit = np.sort(rng.choice(fit, TREE_MAX_ROWS, replace=False))
    cart = DecisionTreeRegressor(max_leaf_nodes=b,
                                 random_state=rng.randint(np.iinfo(np.int32).max))
    cart.fit(X[fit], Ys[fit], sample_weight=w[fit])
    order = _leaves_left_to_right(cart.tree_)
    rank = np.full(cart.tree_.node_count, -1, dtype=np.int64)
    rank[order] = np.arange(order.size)
    labels = rank[cart.apply(X[rows])]
    groups = [rows[labels == g] for g in range(order.size)]
    return [g for g in groups if g.size]


def cart_resp(X, Y, sample_weight, branching, rng):
    """Initial hard responsibilities, shape (n_samples, n_leaves), from CART.

    A flat mixture (one level of ``K`` branches) takes the ``K`` leaves of one
    CART tree grown best first. A deeper gating tree is grown level by level:
    every group of rows is split by its own CART tree of ``b`` leaves, where
    ``b`` is the level's branching, so the partition has the gating tree's
    shape (for binary branching, CART's tree of depth ``depth``) and each
    gate starts with the split CART made at that node.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
        Targets (several outputs are scaled to unit variance here, so that
        none dominates CART's summed squared error).
    sample_weight : ndarray of shape (n_samples,)
    branching : tuple of int
        Branching factor of every level, root first.
    rng : RandomState
        Seeds CART (ties between equally good splits) and the row subsample.
    """
    n = X.shape[0]
    n_leaves = int(np.prod(branching))
    w = sample_weight
    Ys = Y
    if Y.shape[1] > 1:  # CART adds the outputs' squared errors: same scale
        sd = np.sqrt(np.average((Y - np.average(Y, axis=0, weights=w)) ** 2,
                                axis=0, weights=w))
        Ys = Y / np.where(sd > 0, sd, 1.0)
    Z = None
    groups = [np.arange(n)]
    for b in branching:
        children = []
        for rows in groups:
            parts = _cart_split(rows, X, Ys, w, b, rng) if rows.size else []
            if 0 < len(parts) < b:
                if Z is None:
                    Z = np.hstack([_standardise(X, w), Ys])
                parts = _split_largest(parts, Z, w, b)
            # spread the parts over the node's b children (identity if b parts)
            slot = [[] for _ in range(b)]
            for p, part in zip((np.arange(len(parts)) * b) // max(len(parts), 1),
                               parts):
                slot[p] = part
            children += [np.asarray(c, dtype=np.int64) for c in slot]
        groups = children
    resp = np.zeros((n, n_leaves))
    for leaf, rows in enumerate(groups):
        resp[rows, leaf] = 1.0
    if any(rows.size == 0 for rows in groups):
        resp = (1.0 - _RANDOM_SHARE) * resp + _RANDOM_SHARE * _row_noise(X, n_leaves,
                                                                       rng)
    return resp


def _row_noise(X, n_leaves, rng):
    """Pseudo-random responsibilities that are a function of each row's values.

    Equal rows get equal draws, so a row of integer weight ``w`` and its ``w``
    copies start alike (``sample_weight`` acts as repetition).
    """
    v = rng.standard_normal(X.shape[1])
    phase = np.outer(X @ v, np.arange(1, n_leaves + 1)) * 997.0
    noise = np.abs(np.sin(phase)) + 1e-3
    return noise / noise.sum(axis=1, keepdims=True)


def _split_largest(groups, Z, w, n_leaves):
    """Split the heaviest splittable group until there are ``n_leaves`` groups.

    The two halves stay next to each other in the order of the groups.
    """
    groups = list(groups)
    stuck = [False] * len(groups)
    while len(groups) < n_leaves:
        mass = [-1.0 if s else float(w[g].sum()) for g, s in zip(groups, stuck)]
        j = int(np.argmax(mass))
        if mass[j] < 0:
            break
        halves = _split(groups[j], Z, w)
        if halves is None:
            stuck[j] = True
            continue
        groups[j:j + 1] = list(halves)
        stuck[j:j + 1] = [False, False]
    return groups


def tree_order(centres, branching):
    """Map cluster ``c`` to leaf ``order[c]`` so that near clusters share gates.

    For a gating tree deeper than one level, the clusters of a flat k-means
    (``len(centres) == prod(branching)``) are arranged top down: at every
    node the node's centres are sorted along their first principal axis and
    cut into ``b`` equal runs, one per branch. Siblings are then neighbours
    and every gate starts from a split that a hyperplane can make.
    """
    n_leaves = centres.shape[0]
    order = np.empty(n_leaves, dtype=np.int64)

    def place(ids, level, first):
        if level == len(branching):
            order[ids[0]] = first
            return
        b = branching[level]
        C = centres[ids] - centres[ids].mean(axis=0)
        axis = np.linalg.svd(C, full_matrices=False)[2][0] if ids.size > 1 else None
        ids = ids[np.argsort(C @ axis, kind="stable")] if axis is not None else ids
        size = ids.size // b
        for j in range(b):
            place(ids[j * size:(j + 1) * size], level + 1, first + j * size)

    place(np.arange(n_leaves), 0, 0)
    return order
