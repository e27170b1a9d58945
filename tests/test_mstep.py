"""Each M-step against an independent reference.

- Gaussian experts: scikit-learn's ``Ridge`` with the posterior weights.
- Gate gradient and Newton Hessian: finite differences of the penalised gate
  objective ``sum_i w_i sum_s h_is log g_is - alpha / 2 ||W[:-1]||^2``.
- Gate fitted to convergence on hard targets: ``LogisticRegression``.
- Böhning's step: never lowers the gate objective (an MM step).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from sklearn.linear_model import LogisticRegression, Ridge

from skmoe._model import (
    EStep,
    FitData,
    MixtureModel,
    Params,
    node_grams_from_experts,
)
from skmoe._stats import augmented_grams
from skmoe._tree import GatingTree
from skmoe.experts import GaussianExperts, GaussianParams
from skmoe.gates._softmax import (
    bohning_step,
    centre,
    newton_hessians,
    penalised_gradient,
    uniform_hessians,
)


# ---------------------------------------------------------------------------
# reference gate objective, written from its definition
# ---------------------------------------------------------------------------
def _log_gates(X, W, tree):
    """Per-node log-softmax of ``[X, 1] @ W``, shape (n, n_slots)."""
    a = X @ W[:-1] + W[-1]
    out = np.empty_like(a)
    for j in range(tree.n_nodes):
        lo, hi = tree.node_start[j], tree.node_start[j + 1]
        out[:, lo:hi] = a[:, lo:hi] - logsumexp(a[:, lo:hi], axis=1, keepdims=True)
    return out


def _slot_mass(resp, tree):
    """``h_is``: posterior mass of the leaves below each slot."""
    h = np.zeros((resp.shape[0], tree.n_slots))
    for leaf in range(tree.n_leaves):
        for s in tree.leaf_path[leaf]:
            h[:, s] += resp[:, leaf]
    return h


def _node_mass(resp, tree):
    """``h_ij``: posterior mass of reaching each node (the root gets 1)."""
    h = _slot_mass(resp, tree)
    out = np.empty((resp.shape[0], tree.n_nodes))
    for j in range(tree.n_nodes):
        ps = tree.node_parent_slot[j]
        out[:, j] = resp.sum(axis=1) if ps < 0 else h[:, ps]
    return out


def _gate_objective(W, X, sw, h_slot, alpha, tree):
    return float(np.sum(sw[:, None] * h_slot * _log_gates(X, W, tree))
                 - 0.5 * alpha * np.sum(W[:-1] ** 2))


def _gate_gradient(W, X, sw, resp, alpha, tree):
    """Analytic gradient with fixed targets (reference for the Hessian)."""
    h_slot = _slot_mass(resp, tree)
    mass = _node_mass(resp, tree)
    g = np.exp(_log_gates(X, W, tree))
    h_node = mass[:, tree.slot_node]
    x1 = np.c_[X, np.ones(len(X))]
    grad = x1.T @ (sw[:, None] * (h_slot - h_node * g))
    grad[:-1] -= alpha * W[:-1]
    return grad


def _fd_gradient(f, W, eps=1e-6):
    grad = np.empty_like(W)
    for idx in np.ndindex(W.shape):
        Wp, Wm = W.copy(), W.copy()
        Wp[idx] += eps
        Wm[idx] -= eps
        grad[idx] = (f(Wp) - f(Wm)) / (2 * eps)
    return grad


def _random_problem(branching, n=200, d=3, m=1, seed=0):
    rng = np.random.default_rng(seed)
    tree = GatingTree(branching)
    L = tree.n_leaves
    X = rng.normal(size=(n, d))
    Y = rng.normal(scale=2.0, size=(n, m))
    sw = rng.uniform(0.2, 3.0, size=n)
    params = Params(
        centre(rng.normal(size=(d + 1, tree.n_slots)), tree),
        GaussianParams(rng.normal(size=(d + 1, L * m)),
                       rng.uniform(0.5, 3.0, size=(L, m))),
    )
    return tree, FitData(X, Y, sw), params


def _model(tree, m, gate_alpha, solver):
    experts = GaussianExperts(tree.n_leaves, m, alpha=0.0, var_floor=np.zeros(m))
    return MixtureModel(tree, experts, gate_alpha=gate_alpha, gate_solver=solver)


# ---------------------------------------------------------------------------
# sufficient statistics
# ---------------------------------------------------------------------------
def test_augmented_grams_match_definition():
    rng = np.random.default_rng(0)
    n, d, m, M, C = 57, 3, 2, 4, 5
    X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, m))
    W, V = rng.uniform(size=(n, M)), rng.normal(size=(n, C))
    sw = rng.uniform(0.1, 2.0, size=n)
    S, T = augmented_grams(X, Y, W, V, sw, chunk_rows=10)
    Z = np.c_[X, np.ones(n), Y]
    for k in range(M):
        assert_allclose(S[k], (Z * (sw * W[:, k])[:, None]).T @ Z, rtol=1e-12)
    assert_allclose(T, np.c_[X, np.ones(n)].T @ (V * sw[:, None]), rtol=1e-12)


# ---------------------------------------------------------------------------
# Gaussian expert M-step against Ridge
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [1e-6, 1.0, 30.0])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_gaussian_m_step_equals_weighted_ridge(alpha, n_outputs):
    rng = np.random.default_rng(1)
    n, d, L = 300, 4, 3
    X = rng.normal(size=(n, d)) * [1.0, 2.0, 0.5, 3.0] + 1.0
    Y = X @ rng.normal(size=(d, n_outputs)) + rng.normal(size=(n, n_outputs))
    resp = rng.dirichlet(np.ones(L), size=n)
    sw = rng.uniform(0.0, 2.0, size=n)
    S, _ = augmented_grams(X, Y, resp, None, sw)
    experts = GaussianExperts(L, n_outputs, alpha=alpha, var_floor=np.zeros(n_outputs))
    params, collapsed = experts.m_step(S)
    assert collapsed == []
    for leaf in range(L):
        w = sw * resp[:, leaf]
        for o in range(n_outputs):
            ridge = Ridge(alpha=alpha, solver="cholesky", tol=1e-14)
            ridge.fit(X, Y[:, o], sample_weight=w)
            col = leaf * n_outputs + o
            assert_allclose(params.coef[:-1, col], ridge.coef_, rtol=1e-8, atol=1e-8)
            assert_allclose(params.coef[-1, col], ridge.intercept_, rtol=1e-8,
                            atol=1e-8)
            rss = np.sum(w * (Y[:, o] - ridge.predict(X)) ** 2)
            var = (rss + alpha * np.sum(ridge.coef_ ** 2)) / w.sum()
            assert_allclose(params.noise_variance[leaf, o], var, rtol=1e-8)


def test_gaussian_m_step_variance_floor_and_collapse():
    rng = np.random.default_rng(2)
    n, d, L = 100, 2, 3
    X = rng.normal(size=(n, d))
    Y = (X @ [1.0, -1.0])[:, None]  # noiseless: the fitted variance is ~0
    resp = np.zeros((n, L))
    resp[:, 0] = 1.0  # expert 1 and 2 get no mass at all
    S, _ = augmented_grams(X, Y, resp, None, np.ones(n))
    experts = GaussianExperts(L, 1, alpha=0.0, var_floor=np.array([0.25]))
    old = GaussianParams(rng.normal(size=(d + 1, L)), np.full((L, 1), 7.0))
    params, collapsed = experts.m_step(S, old, min_mass=1e-10)
    assert collapsed == [1, 2]
    assert_allclose(params.coef[:, 0], [1.0, -1.0, 0.0], atol=1e-10)
    assert params.noise_variance[0, 0] == 0.25  # floored
    # collapsed experts keep their previous parameters
    assert_allclose(params.coef[:, 1:], old.coef[:, 1:])
    assert_allclose(params.noise_variance[1:], 7.0)


# ---------------------------------------------------------------------------
# gate gradient and Hessian against finite differences
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("branching", [(4,), (2, 3)])
@pytest.mark.parametrize("gate_alpha", [0.0, 0.5])
def test_gate_gradient_matches_finite_differences(branching, gate_alpha):
    tree, data, params = _random_problem(branching, m=2)
    model = _model(tree, 2, gate_alpha, "newton")
    # the targets h are the posteriors at the current parameters
    resp = np.array(model.e_step(data.X, data.Y, params).resp)
    stats = model.statistics(data, params)
    grad = penalised_gradient(stats.gate_grad, params.gate, gate_alpha)
    h_slot = _slot_mass(resp, tree)

    def f(W):
        return _gate_objective(W, data.X, data.sample_weight, h_slot, gate_alpha,
                               tree)

    fd = _fd_gradient(f, params.gate)
    assert_allclose(grad, fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())
    # and the statistics' log-likelihood is the weighted sum of the E-step's
    est = model.e_step(data.X, data.Y, params)
    assert_allclose(stats.loglik, data.sample_weight @ est.loglik, rtol=1e-10)


@pytest.mark.parametrize("branching", [(3,), (2, 3)])
def test_newton_hessian_matches_finite_differences(branching):
    tree, data, params = _random_problem(branching, n=150, d=2, seed=3)
    X, sw = data.X, data.sample_weight
    alpha = 0.3
    model = _model(tree, 1, alpha, "newton")
    resp = np.array(model.e_step(X, data.Y, params).resp)
    p = X.shape[1] + 1
    g = np.exp(_log_gates(X, params.gate, tree))
    direct = newton_hessians(X, sw, _node_mass(resp, tree), g, tree)
    from_stats = model.statistics(data, params).hessians
    for j in range(tree.n_nodes):
        lo, hi = tree.node_start[j], tree.node_start[j + 1]
        b = hi - lo
        # H[s p + a, t p + c] = -d grad[a, lo + s] / d W[c, lo + t], unpenalised
        fd = np.empty((b * p, b * p))
        eps = 1e-6
        for t in range(b):
            for c in range(p):
                Wp, Wm = params.gate.copy(), params.gate.copy()
                Wp[c, lo + t] += eps
                Wm[c, lo + t] -= eps
                dg = (_gate_gradient(Wp, X, sw, resp, 0.0, tree)
                      - _gate_gradient(Wm, X, sw, resp, 0.0, tree)) / (2 * eps)
                fd[:, t * p + c] = -dg[:, lo:hi].T.reshape(-1)
        # the full (b p)-square matrix, or the one of the reference
        # parametrisation that leaves out the node's first slot (the data
        # term is shift invariant, so that is the trailing sub-block)
        k = direct[j].shape[0] // p
        assert k in (b, b - 1) and direct[j].shape == (k * p, k * p)
        fd = fd[(b - k) * p :, (b - k) * p :]
        scale = np.abs(fd).max()
        assert_allclose(direct[j], fd, atol=1e-6 * scale)
        assert_allclose(from_stats[j], fd, atol=1e-6 * scale)
        assert_allclose(direct[j], direct[j].T, atol=1e-12 * scale)


def test_reference_gradient_matches_finite_differences():
    """The analytic reference used for the Hessian is itself right."""
    tree, data, params = _random_problem((2, 3), n=80, d=2, seed=4)
    resp = np.random.default_rng(0).dirichlet(np.ones(tree.n_leaves), size=80)
    h_slot = _slot_mass(resp, tree)
    sw = data.sample_weight

    def f(W):
        return _gate_objective(W, data.X, sw, h_slot, 0.7, tree)

    assert_allclose(_gate_gradient(params.gate, data.X, sw, resp, 0.7, tree),
                    _fd_gradient(f, params.gate), rtol=1e-6, atol=1e-7)


def test_bohning_statistics_match_definition():
    """Böhning's node Gram matrices ``sum_i w_i h_ij x x^T`` and the root's."""
    tree, data, params = _random_problem((2, 3), n=120, d=2, seed=5)
    model = _model(tree, 1, 0.1, "bohning")
    stats = model.statistics(data, params)
    resp = np.array(model.e_step(data.X, data.Y, params).resp)
    mass = _node_mass(resp, tree)
    x1 = np.c_[data.X, np.ones(len(data.X))]
    sw = data.sample_weight
    assert_allclose(stats.node_grams[0], (x1 * sw[:, None]).T @ x1, rtol=1e-12)
    for j in range(1, tree.n_nodes):
        want = (x1 * (sw * mass[:, j])[:, None]).T @ x1
        assert_allclose(stats.node_grams[j], want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("branching", [(4,), (2, 2, 2), (3, 2)])
def test_node_grams_from_experts_match_definition(branching):
    """``G_j = sum_i w_i h_ij x1 x1^T`` from the experts' Gram matrices alone."""
    tree, data, _ = _random_problem(branching, n=90, d=3, m=2, seed=11)
    resp = np.random.default_rng(1).dirichlet(np.ones(tree.n_leaves), size=90)
    S, _ = augmented_grams(data.X, data.Y, resp, None, data.sample_weight)
    got = node_grams_from_experts(S, tree, 4)
    mass = _node_mass(resp, tree)
    x1 = np.c_[data.X, np.ones(len(data.X))]
    for j in range(tree.n_nodes):
        want = (x1 * (data.sample_weight * mass[:, j])[:, None]).T @ x1
        assert_allclose(got[j], want, rtol=1e-12, atol=1e-12)



# ---------------------------------------------------------------------------
# gate fitted to convergence equals multinomial logistic regression
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("solver, n_steps", [("newton", 30), ("bohning", 400)])
def test_gate_on_hard_targets_equals_logistic_regression(solver, n_steps):
    rng = np.random.default_rng(6)
    n, d, K = 400, 3, 4
    X = rng.normal(size=(n, d))
    labels = (X @ rng.normal(size=(d, K)) + rng.gumbel(size=(n, K))).argmax(axis=1)
    sw = rng.uniform(0.5, 2.0, size=n)
    gate_alpha = 0.1
    model = _model(GatingTree((K,)), 1, gate_alpha, solver)
    data = FitData(X, rng.normal(size=(n, 1)), sw)
    targets = np.eye(K)[labels]
    gate = np.zeros((d + 1, K))
    for _ in range(n_steps):  # gate steps towards the fixed targets
        g = np.exp(_log_gates(X, gate, model.tree))
        estep = EStep(targets, targets - g, np.zeros(n))
        stats = model.reduce(X, data.Y, sw, estep, g if solver == "newton" else None)
        gate = model.gate_step(stats, gate)
    params = Params(gate, None)
    lr = LogisticRegression(C=1 / gate_alpha, tol=1e-12, max_iter=10_000)
    lr.fit(X, labels, sample_weight=sw)
    assert_allclose(model.gate_proba(X, params), lr.predict_proba(X), atol=1e-5)
    # our logits sum to zero across slots; centre sklearn's the same way
    coef = lr.coef_ - lr.coef_.mean(axis=0)
    intercept = lr.intercept_ - lr.intercept_.mean()
    assert_allclose(params.gate[:-1].T, coef, atol=1e-5)
    assert_allclose(params.gate[-1], intercept, atol=1e-5)
    assert_allclose(params.gate.sum(axis=1), 0.0, atol=1e-12)


# ---------------------------------------------------------------------------
# Böhning's step is an MM step
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("branching", [(5,), (2, 3)])
def test_bohning_step_never_decreases_gate_objective(branching):
    tree = GatingTree(branching)
    rng = np.random.default_rng(7)
    n, d = 150, 3
    x1_cols = d + 1
    n_increase = 0
    for trial in range(15):
        X = rng.normal(scale=rng.uniform(0.5, 3.0), size=(n, d))
        sw = rng.uniform(0.0, 2.0, size=n)
        resp = rng.dirichlet(np.full(tree.n_leaves, 0.3), size=n)
        alpha = [0.0, 0.1, 5.0][trial % 3]
        scale = rng.uniform(0.1, 4.0)
        W = centre(rng.normal(scale=scale, size=(x1_cols, tree.n_slots)), tree)
        h_slot = _slot_mass(resp, tree)
        mass = _node_mass(resp, tree)
        x1 = np.c_[X, np.ones(n)]
        grams = np.stack([(x1 * (sw * mass[:, j])[:, None]).T @ x1
                          for j in range(tree.n_nodes)])
        grad = _gate_gradient(W, X, sw, resp, alpha, tree)
        new = centre(W + bohning_step(grad, grams, alpha, tree), tree)
        f_old = _gate_objective(W, X, sw, h_slot, alpha, tree)
        f_new = _gate_objective(new, X, sw, h_slot, alpha, tree)
        assert f_new >= f_old - 1e-10 * abs(f_old), (trial, f_old, f_new)
        n_increase += f_new > f_old
    assert n_increase >= 14  # and it does make progress


@pytest.mark.parametrize("branching", [(4,), (2, 3)])
def test_uniform_hessians_match_newton_hessians_at_the_uniform_gate(branching):
    """The initialisation's Kronecker shortcut equals the direct sum over
    samples with every gate probability 1 / b."""
    tree, data, params = _random_problem(branching, n=120, d=3, seed=5)
    X, sw = data.X, data.sample_weight
    rng = np.random.default_rng(1)
    resp = rng.dirichlet(np.ones(tree.n_leaves), size=X.shape[0])
    mass = _node_mass(resp, tree)
    sizes = np.diff(tree.node_start)[tree.slot_node]
    g = np.broadcast_to(1.0 / sizes, (X.shape[0], tree.n_slots))
    direct = newton_hessians(X, sw, mass, g, tree)
    X1 = np.c_[X, np.ones(X.shape[0])]
    grams = [(X1 * (sw * mass[:, j])[:, None]).T @ X1 for j in range(tree.n_nodes)]
    for H, ref in zip(uniform_hessians(grams, tree), direct):
        assert_allclose(H, ref, rtol=1e-12, atol=1e-12)
