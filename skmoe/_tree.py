"""The gating tree: the structure shared by flat and hierarchical mixtures.

A mixture of experts is a tree whose internal nodes are softmax gates and whose
leaves are experts (Jordan & Jacobs 1994). A flat mixture of ``K`` experts is the
tree of depth 1 with one gate of ``K`` branches; an HME of depth ``D`` has one
branching factor per level. All gates' outputs ("slots", one per branch) are
stacked in one array of ``n_slots`` columns so that a single matrix product
evaluates every gate, and the tree is described by a few small integer arrays
that the numba kernels and their NumPy twins read.

Nodes are numbered breadth first (the root is node 0), slots node by node, and
leaves in the order of the last level's slots, so an ancestor always has a
smaller index than its descendants.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class GatingTree:
    """Integer description of a balanced gating tree.

    Parameters
    ----------
    branching : tuple of int
        Number of branches of every node at each level, root first.

    Attributes
    ----------
    node_start : ndarray of shape (n_nodes + 1,)
        Slots of node ``j`` are ``node_start[j]:node_start[j + 1]``.
    slot_node : ndarray of shape (n_slots,)
        Node owning each slot.
    node_parent_slot : ndarray of shape (n_nodes,)
        Slot that leads to each node (-1 for the root).
    leaf_path : ndarray of shape (n_leaves, depth)
        Slots on the path from the root to each leaf.
    """

    branching: tuple
    node_start: np.ndarray = field(init=False, repr=False)
    slot_node: np.ndarray = field(init=False, repr=False)
    node_parent_slot: np.ndarray = field(init=False, repr=False)
    leaf_path: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        branching = tuple(int(b) for b in self.branching)
        object.__setattr__(self, "branching", branching)
        node_sizes, parent_slot = [], []
        level_nodes = [-1]  # parent slot of each node of the current level
        first_slot = 0
        for b in branching:
            n_level = len(level_nodes)
            node_sizes += [b] * n_level
            parent_slot += level_nodes
            level_nodes = list(range(first_slot, first_slot + n_level * b))
            first_slot += n_level * b
        node_start = np.concatenate([[0], np.cumsum(node_sizes)]).astype(np.int64)
        slot_node = np.repeat(np.arange(len(node_sizes)), node_sizes).astype(np.int64)
        # walk up from each leaf slot to the root to get its path
        leaf_slots = np.asarray(level_nodes, dtype=np.int64)
        parent = np.asarray(parent_slot, dtype=np.int64)
        path = np.empty((leaf_slots.size, len(branching)), dtype=np.int64)
        slots = leaf_slots
        for t in range(len(branching) - 1, -1, -1):
            path[:, t] = slots
            slots = parent[slot_node[slots]]
        object.__setattr__(self, "node_start", node_start)
        object.__setattr__(self, "slot_node", slot_node)
        object.__setattr__(self, "node_parent_slot", parent)
        object.__setattr__(self, "leaf_path", path)

    @property
    def depth(self):
        return len(self.branching)

    @property
    def n_nodes(self):
        return self.node_start.size - 1

    @property
    def n_slots(self):
        return int(self.node_start[-1])

    @property
    def n_leaves(self):
        return self.leaf_path.shape[0]

    @property
    def path_matrix(self):
        """0/1 matrix (n_slots, n_leaves): slot ``s`` lies on leaf ``l``'s path."""
        P = np.zeros((self.n_slots, self.n_leaves))
        for t in range(self.depth):
            P[self.leaf_path[:, t], np.arange(self.n_leaves)] = 1.0
        return P

    @property
    def node_leaf_matrix(self):
        """0/1 matrix of shape (n_leaves, n_nodes): leaf ``l`` lies under node ``j``."""
        P = self.path_matrix  # slot on path of leaf
        M = np.zeros((self.n_leaves, self.n_nodes))
        M[:, 0] = 1.0
        child = self.node_parent_slot[1:]
        M[:, 1:] = P[child].T
        return M

    @property
    def slot_child(self):
        """What each slot leads to, shape (n_slots,): a node index, or
        ``n_nodes + leaf`` for a leaf."""
        child = np.empty(self.n_slots, dtype=np.int64)
        child[self.node_parent_slot[1:]] = np.arange(1, self.n_nodes)
        child[self.leaf_path[:, -1]] = self.n_nodes + np.arange(self.n_leaves)
        return child

    def n_gate_params(self, n_features):
        """Free gate parameters: ``(b - 1) * (n_features + 1)`` per node."""
        sizes = np.diff(self.node_start)
        return int(np.sum(sizes - 1) * (n_features + 1))
