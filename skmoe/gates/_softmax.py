"""M-step of the softmax gates of a gating tree.

Node ``j`` of the tree is a multinomial logit over its ``b`` slots with
parameters ``W_j`` (``p = d + 1`` rows, the last the intercept; one column per
slot). Its M-step maximises

    f_j(W_j) = sum_i w_i sum_{s in j} h_is log g_is(W_j) - alpha / 2 ||W_j[:d]||^2

(soft targets ``h_is``, the posterior mass under slot ``s``; the node's weight
``h_ij`` enters through them). The gradient is ``[X, 1]^T diag(w) resid - alpha
D W_j`` with ``resid`` from the E-step, ``D`` the identity without the intercept.

Softmax logits are only defined up to a common shift, so every node's columns
are kept centred (they sum to 0 across slots); gradients and steps stay in that
subspace. Two steps:

- ``"newton"``: the exact Hessian ``sum_i w_i h_ij x x^T (x) (diag g - g g^T)``
  plus the penalty; the EM driver halves the step if the likelihood drops.
- ``"bohning"``: Böhning's (1992) bound ``diag g - g g^T <= (I - 1 1^T / b) / 2``.
  On the centred subspace the bound is ``I (x) (G_j / 2 + alpha D)`` with
  ``G_j = sum_i w_i h_ij x x^T``: one ``p x p`` Cholesky per node and a step that
  never lowers ``f_j`` (an MM step). For the root ``G_j = X^T W X`` is fixed for
  the whole fit.
"""

import warnings

import numpy as np
from scipy import linalg


def centre(gate, tree):
    """Centre every node's columns of ``gate`` (shape (p, n_slots)) in place."""
    for j in range(tree.n_nodes):
        lo, hi = tree.node_start[j], tree.node_start[j + 1]
        gate[:, lo:hi] -= gate[:, lo:hi].mean(axis=1, keepdims=True)
    return gate


def penalised_gradient(T, gate, alpha):
    """Gradient of the gates' M-step objective, shape (p, n_slots)."""
    grad = T.copy()
    grad[:-1] -= alpha * gate[:-1]
    return grad


def _solve_pd(A, b):
    """Solve ``A x = b`` for a positive semi-definite ``A`` with a tiny jitter."""
    A = A.copy()
    scale = max(float(np.max(np.diag(A))), 1e-300)
    A.flat[:: A.shape[0] + 1] += 1e-12 * scale
    try:
        with warnings.catch_warnings():
            # near-singular systems are expected (badly scaled X, empty
            # nodes); the jitter keeps them solvable
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            return linalg.solve(A, b, assume_a="pos", check_finite=False)
    except (linalg.LinAlgError, ValueError):
        return linalg.lstsq(A, b, check_finite=False)[0]


def free_rows(features, p):
    """Rows of a ``(p, ...)`` parameter block that a fit may move.

    ``features`` (sorted feature indices, or None for all) selects slopes; the
    intercept (last row) is always free. Other rows stay at zero: an M-step on
    a feature subset solves the sub-block of its Gram or Newton matrices.
    """
    if features is None:
        return np.arange(p)
    return np.append(np.asarray(features, dtype=np.intp), p - 1)


def bohning_step(grad, node_grams, alpha, tree, features=None):
    """Böhning (MM) step for every node; ``node_grams`` (n_nodes, p, p).

    With ``features``, only those slopes (and the intercepts) move.
    """
    p = grad.shape[0]
    rows = free_rows(features, p)
    D = np.eye(p)
    D[-1, -1] = 0.0
    D = D[np.ix_(rows, rows)]
    step = np.zeros_like(grad)
    for j in range(tree.n_nodes):
        lo, hi = tree.node_start[j], tree.node_start[j + 1]
        G = node_grams[j][np.ix_(rows, rows)]
        step[rows, lo:hi] = _solve_pd(0.5 * G + alpha * D, grad[rows, lo:hi])
    return step


def newton_hessians(X, sample_weight, node_mass, g, tree):
    """Per-node Newton matrices ``sum_i w_i h_ij x x^T (x) (diag g - g g^T)``.

    A sum over samples (so chunks add up): ``node_mass`` (n, n_nodes) is the
    posterior mass of reaching each node, ``g`` (n, n_slots) the gate
    probabilities. Softmax logits are shift invariant, so each node's first
    slot is taken as the reference and left out: returns a list of
    ``((b - 1) p, (b - 1) p)`` arrays, slot-major.
    """
    n, d = X.shape
    p = d + 1
    x1 = np.empty((n, p))
    x1[:, :d] = X
    x1[:, d] = 1.0
    out = []
    for j in range(tree.n_nodes):
        lo, hi = int(tree.node_start[j]) + 1, int(tree.node_start[j + 1])
        b = hi - lo
        c = node_mass[:, j] * sample_weight
        gx = (g[:, lo:hi, None] * x1[:, None, :]).reshape(n, b * p)
        H = -(gx * c[:, None]).T @ gx
        Dg = (x1 * c[:, None]).T @ gx
        for s in range(b):
            H[s * p:(s + 1) * p, s * p:(s + 1) * p] += Dg[:, s * p:(s + 1) * p]
        out.append(H)
    return out


def uniform_hessians(node_grams, tree):
    """``newton_hessians`` at the uniform gate from the nodes' Gram matrices.

    With ``g_s = 1 / b`` in a node of ``b`` branches, block ``(s, t)`` of the
    node's matrix is ``(delta_st / b - 1 / b^2) G_j``, ``G_j = sum_i w_i h_ij
    x x^T``: a Kronecker product, no pass over the data.
    """
    out = []
    for j in range(tree.n_nodes):
        b = int(tree.node_start[j + 1] - tree.node_start[j])
        out.append(np.kron((np.eye(b - 1) - 1.0 / b) / b, node_grams[j]))
    return out


def newton_step(grad, hessians, alpha, tree, features=None):
    """Exact Newton step for every node from ``newton_hessians`` (summed).

    Node ``j`` is solved in the reference parametrisation ``W = V - mean(V)``
    with ``V`` zero in the first slot: the data part of its Hessian is
    ``hessians[j]`` and the penalty ``alpha/2 ||W[:d]||^2`` adds
    ``alpha (I - 1 1^T / b) (x) D`` over the free slots. With ``features``,
    only those slopes (and the intercepts) move: the sub-block of the rows
    and columns of the free parameters is solved.
    """
    p = grad.shape[0]
    rows = free_rows(features, p)
    r = rows.size
    step = np.zeros_like(grad)
    D = np.ones(p)
    D[-1] = 0.0
    for j in range(tree.n_nodes):
        lo, hi = int(tree.node_start[j]), int(tree.node_start[j + 1])
        b = hi - lo
        if b == 1:  # a single branch has nothing to learn
            continue
        idx = (np.arange(b - 1)[:, None] * p + rows[None, :]).ravel()
        H = (hessians[j][np.ix_(idx, idx)]
             + alpha * np.kron(np.eye(b - 1) - 1.0 / b, np.diag(D[rows])))
        rhs = grad[rows, lo + 1:hi].T.reshape(-1)
        step[rows, lo + 1:hi] = _solve_pd(H, rhs).reshape(b - 1, r).T
    return centre(step, tree)
