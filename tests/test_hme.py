"""Hierarchical mixtures of experts, sparse top-k prediction and the CART start."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import linear_sum_assignment
from scipy.special import expit, logsumexp
from sklearn.exceptions import ConvergenceWarning

from skmoe import MixtureOfExpertsRegressor
from skmoe._hme import HierarchicalMixtureOfExpertsRegressor
from skmoe._init import cart_resp, tree_order
from skmoe._kernels._config import PARALLEL_MIN_ROWS
from skmoe._model import MixtureModel, Params
from skmoe._tree import GatingTree
from skmoe.experts import GaussianExperts, GaussianParams

HME = HierarchicalMixtureOfExpertsRegressor


def _fit_quiet(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kw)


# Known two-level tree: the root gate splits on x0 at 0, the gate of its left
# branch on x1 at 0.5, the gate of its right branch on x1 at -0.5 (so the tree
# is identified: the two child gates differ). Leaves in tree order.
_TRUE_COEF = np.array([[1.0, -1.0], [-2.0, 0.5], [0.5, 2.0], [-1.0, -1.5]])
_TRUE_INTERCEPT = np.array([0.0, 3.0, -3.0, 1.5])
_TRUE_SD = np.array([0.2, 0.3, 0.25, 0.2])
_SLOPE = 6.0


def _true_leaf_proba(X):
    right = expit(_SLOPE * X[:, 0])  # root: P(branch 1)
    up_left = expit(_SLOPE * (X[:, 1] - 0.5))
    up_right = expit(_SLOPE * (X[:, 1] + 0.5))
    return np.c_[(1 - right) * (1 - up_left), (1 - right) * up_left,
                 right * (1 - up_right), right * up_right]


def _make_tree_data(n, seed):
    """Samples from a true HME of depth 2, branching 2 (see the constants)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, 2))
    P = _true_leaf_proba(X)
    leaf = (P.cumsum(axis=1) < rng.uniform(size=(n, 1))).sum(axis=1)
    mu = X @ _TRUE_COEF.T + _TRUE_INTERCEPT  # (n, 4)
    y = mu[np.arange(n), leaf] + _TRUE_SD[leaf] * rng.standard_normal(n)
    return X, y, np.sum(P * mu, axis=1)  # E[y | x]: the Bayes predictor


def _r2(y, pred):
    return 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)


# ------------------------------------------------------------- one mechanism
@pytest.mark.parametrize("solver", ["newton", "bohning"])
@pytest.mark.parametrize("init", ["kmeans", "tree"])
def test_depth_one_hme_is_the_flat_mixture(solver, init):
    X, y, _ = _make_tree_data(600, 0)
    kw = dict(gate_solver=solver, init_params=init, max_iter=25, random_state=3)
    flat = _fit_quiet(MixtureOfExpertsRegressor(3, **kw), X, y)
    hme = _fit_quiet(HME(depth=1, branching=3, **kw), X, y)
    assert hme.n_experts_ == 3 and hme.branching_ == (3,)
    assert_allclose(hme.log_likelihoods_, flat.log_likelihoods_, rtol=1e-10)
    for name in ("coef_", "intercept_", "noise_variance_", "gate_coef_",
                 "gate_intercept_"):
        assert_allclose(getattr(hme, name), getattr(flat, name), rtol=1e-10,
                        atol=1e-12, err_msg=name)
    assert_allclose(hme.predict(X), flat.predict(X), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(expert="poisson"), dict(gate="gaussian"),
                                dict(gate_features=[1], expert_features=[0])])
def test_depth_one_hme_is_the_flat_mixture_other_options(kw):
    X, y, _ = _make_tree_data(500, 1)
    if kw.get("expert") == "poisson":
        y = np.random.default_rng(0).poisson(np.exp(0.3 * y - 0.5)).astype(float)
    kw = dict(kw, max_iter=15, random_state=0)
    flat = _fit_quiet(MixtureOfExpertsRegressor(3, **kw), X, y)
    hme = _fit_quiet(HME(depth=1, branching=3, **kw), X, y)
    assert_allclose(hme.log_likelihoods_, flat.log_likelihoods_, rtol=1e-10)
    assert_allclose(hme.predict(X), flat.predict(X), rtol=1e-10, atol=1e-12)
    hme.set_params(top_k=2)
    flat.set_params(top_k=2)
    assert_allclose(hme.predict(X), flat.predict(X), rtol=1e-10, atol=1e-12)
    assert hme.tree_summary().count("expert") == 4


def test_localised_gate_needs_depth_one():
    X, y, _ = _make_tree_data(100, 0)
    with pytest.raises(ValueError, match="serves flat mixtures only"):
        HME(depth=2, branching=2, gate="gaussian").fit(X, y)


# -------------------------------------------------------- kernel vs numpy twin
def _random_model(branching, n_features, n_outputs, rng, n_jobs=None):
    tree = GatingTree(branching)
    L = tree.n_leaves
    experts = GaussianExperts(L, n_outputs, alpha=0.0, var_floor=np.zeros(n_outputs))
    model = MixtureModel(tree, experts, gate_alpha=0.0, gate_solver="bohning",
                         n_jobs=n_jobs)
    gate = 1.5 * rng.standard_normal((n_features + 1, tree.n_slots))
    coef = rng.standard_normal((n_features + 1, L * n_outputs))
    var = rng.uniform(0.2, 2.0, size=(L, n_outputs))
    return model, Params(gate, GaussianParams(coef, var))


@pytest.mark.parametrize("branching", [(2, 2), (3, 2), (2, 2, 2), (2, 3, 2)])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_tree_estep_kernel_matches_numpy_twin(branching, n_outputs):
    rng = np.random.default_rng(sum(branching) + n_outputs)
    d = 3
    model, params = _random_model(branching, d, n_outputs, rng)
    X = rng.standard_normal((500, d))
    Y = X @ rng.standard_normal((d, n_outputs)) + rng.standard_normal((500, n_outputs))
    X[:5] *= 30.0  # extreme gates: posteriors that underflow on some paths
    got = model.e_step(X, Y, params)
    ref = model.e_step_reference(X, Y, params)
    assert_allclose(got.loglik, ref.loglik, rtol=1e-10, atol=1e-10)
    assert_allclose(got.resp, ref.resp, rtol=1e-10, atol=1e-10)
    assert_allclose(got.resid, ref.resid, rtol=1e-10, atol=1e-10)
    # the posteriors over a node's branches add up to the node's mass
    assert_allclose(got.resp.sum(axis=1), 1.0, rtol=1e-12)


def test_tree_estep_parallel_kernel_matches_numpy_twin():
    rng = np.random.default_rng(7)
    model, params = _random_model((2, 3, 2), 2, 2, rng, n_jobs=2)
    n = PARALLEL_MIN_ROWS + 17
    X = rng.standard_normal((n, 2))
    Y = rng.standard_normal((n, 2))
    got = model.e_step(X, Y, params)
    ref = model.e_step_reference(X, Y, params)
    assert_allclose(got.loglik, ref.loglik, rtol=1e-10, atol=1e-10)
    assert_allclose(got.resp, ref.resp, rtol=1e-10, atol=1e-10)
    assert_allclose(got.resid, ref.resid, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("branching", [(5,), (2, 2), (3, 2), (2, 3, 2), (4, 4)])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_top_k_kernel_matches_dense_twin(branching, n_outputs):
    from skmoe._xp_ops import leaf_log_prior, means_at, top_k_leaves, tree_log_softmax

    rng = np.random.default_rng(len(branching) * 10 + n_outputs)
    model, params = _random_model(branching, 3, n_outputs, rng, n_jobs=2)
    X = rng.standard_normal((3000, 3))
    log_g, _ = tree_log_softmax(X @ params.gate[:-1] + params.gate[-1], model.tree)
    log_prior = leaf_log_prior(log_g, model.tree)
    L = model.tree.n_leaves
    for k in sorted({1, 2, L - 1, L}):
        # small chunks: several chunks per thread block
        leaves, w, mu = model.top_k_experts(X, params, k, chunk_rows=512)
        ref_leaves, ref_w = top_k_leaves(log_prior, k)
        assert_array_equal(leaves, ref_leaves)
        assert_allclose(w, ref_w, rtol=1e-12, atol=1e-14)
        assert_allclose(w.sum(axis=1), 1.0, rtol=1e-12)
        assert_allclose(mu, means_at(X, params.experts.coef, leaves, n_outputs),
                        rtol=1e-12, atol=1e-12)
        # independent reference: means by explicit loops over the selection
        B = params.experts.coef.T.reshape(L, n_outputs, -1)
        i, j = 11, k - 1
        assert_allclose(mu[i, j], B[leaves[i, j], :, :-1] @ X[i]
                        + B[leaves[i, j], :, -1], rtol=1e-12)


def _argsort_top_k(X, params, tree, k, n_outputs):
    """Top-k prediction written out with NumPy alone: every gate's log-softmax,
    each leaf's path sum, a stable argsort, the selected weights renormalised
    and the selected experts' means from the coefficients."""
    logits = X @ params.gate[:-1] + params.gate[-1]
    log_g = np.empty_like(logits)
    for j in range(tree.n_nodes):
        cols = slice(tree.node_start[j], tree.node_start[j + 1])
        log_g[:, cols] = logits[:, cols] - logsumexp(logits[:, cols], axis=1,
                                                     keepdims=True)
    log_prior = log_g[:, tree.leaf_path].sum(axis=2)  # (n, n_leaves)
    order = np.argsort(-log_prior, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(log_prior, order, axis=1)
    w = np.exp(top - top[:, :1])
    w /= w.sum(axis=1, keepdims=True)
    B = params.experts.coef.T.reshape(tree.n_leaves, n_outputs, -1)  # (L, m, d + 1)
    mu = np.einsum("nd,nkod->nko", X, B[order][..., :-1]) + B[order][..., -1]
    return order, w, mu


@pytest.mark.parametrize("branching", [(2,), (3,), (20,), (64,), (4, 4, 4),
                                       (2, 2, 2, 2, 2), (3, 17)])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_top_k_matches_argsort_reference(branching, n_outputs):
    # wide nodes (>= 16 children) take the branch-free selection for k < 8
    # and the insertion for k >= 8; b % 8 != 0 leaves a partial lane block
    rng = np.random.default_rng(sum(branching) + n_outputs)
    model, params = _random_model(branching, 5, n_outputs, rng, n_jobs=2)
    X = rng.standard_normal((2500, 5))
    L = model.tree.n_leaves
    for k in sorted({1, 2, 3, 7, 8, 9, L - 1, L} & set(range(1, L + 1))):
        leaves, w, mu = model.top_k_experts(X, params, k, chunk_rows=700)
        ref_leaves, ref_w, ref_mu = _argsort_top_k(X, params, model.tree, k,
                                                   n_outputs)
        assert_array_equal(leaves, ref_leaves)
        assert_allclose(w, ref_w, rtol=1e-12, atol=1e-14)
        assert_allclose(mu, ref_mu, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("branching", [(64,), (21,)])
def test_top_k_ties_go_to_the_lower_index(branching):
    # integer inputs and gates: exact logits, with many ties; the kernel must
    # rank as a stable argsort does. (In a deeper tree, equal path
    # probabilities under different parents are sums rounded in different
    # orders by the kernel and by the reference: no order is defined there.)
    rng = np.random.default_rng(3)
    model, params = _random_model(branching, 3, 1, rng)
    gate = rng.integers(-2, 3, size=params.gate.shape).astype(float)
    params = Params(gate, params.experts)
    X = rng.integers(-3, 4, size=(3000, 3)).astype(float)
    for k in (1, 2, 3, 7, 8, 9):
        leaves, w, _ = model.top_k_experts(X, params, k)
        ref_leaves, ref_w, _ = _argsort_top_k(X, params, model.tree, k, 1)
        assert_array_equal(leaves, ref_leaves)
        assert_allclose(w, ref_w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("branching", [(64,), (4, 4, 4), (2, 2, 2, 2, 2, 2)])
def test_top_k_same_for_any_threads_and_chunks(branching):
    rng = np.random.default_rng(11)
    model, params = _random_model(branching, 10, 2, rng, n_jobs=1)
    X = rng.standard_normal((PARALLEL_MIN_ROWS + 1001, 10))
    ref = model.top_k_experts(X, params, 2)
    for n_jobs, chunk_rows in [(2, 8192), (2, 333), (1, 100)]:
        model.n_jobs = n_jobs
        got = model.top_k_experts(X, params, 2, chunk_rows=chunk_rows)
        for a, b in zip(got, ref):
            assert_array_equal(a, b)


# ------------------------------------------------------------------ EM
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("solver", ["newton", "bohning"])
@pytest.mark.parametrize("branching,multi", [((2, 2), False), ((3, 2), True)])
def test_em_is_monotone(seed, solver, branching, multi):
    X, y, _ = _make_tree_data(800, seed)
    if multi:
        y = np.c_[y, X[:, 0] * y + np.random.default_rng(seed).normal(size=800)]
    est = HME(depth=2, branching=branching, gate_solver=solver, max_iter=40,
              random_state=seed, init_params="random")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a drop is a bug
        _fit_quiet(est, X, y)
    ll = est.log_likelihoods_
    assert ll.size == est.n_iter_ + 1 and est.n_iter_ > 5
    assert np.all(np.diff(ll) >= -1e-8 * np.abs(ll[1:])), np.diff(ll).min()
    assert ll[-1] > ll[0] + 0.05


# ------------------------------------------------------------ recovery
@pytest.mark.parametrize("init", ["tree", "kmeans", "flat"])
def test_recovers_a_known_two_level_tree(init):
    X, y, bayes = _make_tree_data(8000, 0)
    X_test, y_test, bayes_test = _make_tree_data(4000, 1)
    hme = _fit_quiet(HME(depth=2, branching=2, init_params=init, n_init=2,
                         random_state=0), X, y)
    # experts match the true leaves after label matching
    fitted = np.c_[hme.coef_, hme.intercept_]
    true = np.c_[_TRUE_COEF, _TRUE_INTERCEPT]
    cost = np.abs(fitted[:, None, :] - true[None, :, :]).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    assert_allclose(fitted[rows], true[cols], atol=0.1)
    assert_allclose(np.sqrt(hme.noise_variance_[rows]), _TRUE_SD[cols], rtol=0.1)
    # the tree is the true tree up to swapping children: siblings stay siblings
    sibling = {frozenset({0, 1}), frozenset({2, 3})}
    for a in (0, 2):
        assert frozenset(cols[np.isin(rows, [a, a + 1])]) in sibling
    # the root splits on x0, both child gates on x1
    spread = [W.max(axis=0) - W.min(axis=0) for W in hme.node_gate_coef_]
    assert spread[0][0] > 10 * spread[0][1]
    assert spread[1][1] > 10 * spread[1][0] and spread[2][1] > 10 * spread[2][0]
    # predictions as good as the Bayes predictor's, on new data
    r2_bayes = _r2(y_test, bayes_test)
    assert hme.score(X_test, y_test) > r2_bayes - 0.01
    assert abs(hme.score(X, y) - _r2(y, bayes)) < 0.01
    assert "gate 0 (root): splits on x0" in hme.tree_summary()


# ------------------------------------------------------------ top-k
def _dense_top_k(est, X, k):
    """Top-k prediction written out from predict_gate and the coefficients."""
    g = est.predict_gate(X)
    order = np.argsort(-g, axis=1, kind="stable")[:, :k]
    w = np.take_along_axis(g, order, axis=1)
    w /= w.sum(axis=1, keepdims=True)
    mu = np.einsum("nd,nkd->nk", X, est.coef_[order]) + est.intercept_[order]
    var = est.noise_variance_[order]
    mean = np.sum(w * mu, axis=1)
    return mean, np.sqrt(np.sum(w * (var + mu * mu), axis=1) - mean**2)


@pytest.fixture(scope="module")
def fitted_pair():
    X, y, _ = _make_tree_data(1500, 3)
    X = np.c_[X, X[:, 0] * X[:, 1]]
    flat = _fit_quiet(MixtureOfExpertsRegressor(6, max_iter=30, random_state=0),
                      X, y)
    hme = _fit_quiet(HME(depth=2, branching=(2, 3), max_iter=30, random_state=0),
                     X, y)
    return X, y, flat, hme


@pytest.mark.parametrize("which", [0, 1])
def test_top_k_all_experts_equals_full_prediction(fitted_pair, which):
    X, _, *ests = fitted_pair
    est = ests[which]
    full = est.predict(X, return_std=True)
    est.set_params(top_k=6)
    try:
        got = est.predict(X, return_std=True)
    finally:
        est.set_params(top_k=None)
    assert_array_equal(got[0], full[0])
    assert_array_equal(got[1], full[1])


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_k_prediction(fitted_pair, which, k):
    X, _, *ests = fitted_pair
    est = ests[which]
    ref_mean, ref_std = _dense_top_k(est, X, k)
    est.set_params(top_k=k)
    try:
        mean, std = est.predict(X, return_std=True)
        assert_array_equal(est.predict(X), mean)
    finally:
        est.set_params(top_k=None)
    assert_allclose(mean, ref_mean, rtol=1e-10, atol=1e-10)
    assert_allclose(std, ref_std, rtol=1e-8, atol=1e-8)
    if k == 1:  # the argmax expert's mean, and its own noise
        best = np.argmax(est.predict_gate(X), axis=1)
        assert_allclose(mean, np.sum(X * est.coef_[best], axis=1)
                        + est.intercept_[best], rtol=1e-12, atol=1e-12)
        assert_allclose(std, np.sqrt(est.noise_variance_[best]), rtol=1e-10)


def test_top_k_multi_output_and_errors(fitted_pair):
    X, y, _, _ = fitted_pair
    Y = np.c_[y, 2 * y + X[:, 0]]
    hme = _fit_quiet(HME(depth=2, branching=2, max_iter=10, random_state=0), X, Y)
    full = hme.predict(X)
    hme.set_params(top_k=4)
    assert_array_equal(hme.predict(X), full)
    hme.set_params(top_k=2)
    g = hme.predict_gate(X)
    top = np.argsort(-g, axis=1, kind="stable")[:, :2]
    w = np.take_along_axis(g, top, axis=1)
    w /= w.sum(axis=1, keepdims=True)
    mu = np.einsum("nd,nkod->nko", X, hme.coef_[top]) + hme.intercept_[top]
    assert_allclose(hme.predict(X), np.einsum("nk,nko->no", w, mu), rtol=1e-10)
    hme.set_params(top_k=5)
    with pytest.raises(ValueError, match="top_k=5 exceeds the number of experts"):
        hme.predict(X)
    with pytest.raises(ValueError, match="top_k=5 exceeds"):
        hme.fit(X, Y)


# ------------------------------------------------------------ CART start
def _quadrants(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    box = 2 * (X[:, 0] > 0) + (X[:, 1] > 0.3 * (X[:, 0] > 0))
    y = np.array([-6.0, -2.0, 2.0, 6.0])[box] + 0.05 * rng.standard_normal(n)
    return X, y, box


def test_cart_start_follows_the_gating_tree():
    X, y, box = _quadrants(400, 0)
    w = np.ones(400)
    for branching in [(2, 2), (4,)]:
        resp = cart_resp(X, y[:, None], w, branching, np.random.RandomState(0))
        assert set(np.unique(resp)) == {0.0, 1.0}
        labels = resp.argmax(axis=1)
        # level by level: the root splits x0 at 0, its children x1; a flat
        # CART of 4 leaves finds the same boxes, numbered left to right
        assert_array_equal(labels, box)


def test_cart_start_when_cart_has_too_few_leaves():
    rng = np.random.default_rng(0)
    X = np.repeat(rng.standard_normal((3, 2)), 5, axis=0)  # 3 distinct rows
    y = np.zeros((15, 1))  # pure: CART cannot split at all
    for branching in [(4,), (2, 2), (2, 3)]:
        resp = cart_resp(X, y, np.ones(15), branching, np.random.RandomState(0))
        L = int(np.prod(branching))
        assert resp.shape == (15, L)
        assert_allclose(resp.sum(axis=1), 1.0)
        assert np.all(resp.sum(axis=0) > 0)  # no expert starts empty
        # identical rows start identically
        for r in range(3):
            assert_allclose(resp[5 * r:5 * r + 5].argmax(1), resp[5 * r].argmax())
    # enough distinct rows but a pure target: split at medians, no randomness
    X = rng.standard_normal((40, 2))
    resp = cart_resp(X, np.zeros((40, 1)), np.ones(40), (2, 2),
                     np.random.RandomState(0))
    assert set(np.unique(resp)) == {0.0, 1.0}
    assert_array_equal(np.sort(resp.sum(axis=0)), [10, 10, 10, 10])


@pytest.mark.parametrize("est", [MixtureOfExpertsRegressor(4),
                                 HME(depth=2, branching=2)])
def test_tree_init_fits(est):
    X, y, box = _quadrants(600, 1)
    est.set_params(init_params="tree", random_state=0, max_iter=0)
    est.fit(X, y)
    # max_iter=0: the experts are the boxes' least-squares fits
    for leaf in range(4):
        rows = box == leaf
        assert_allclose(est.predict_gate(X[rows]).mean(axis=0).argmax(), leaf)
        A = np.c_[X[rows], np.ones(rows.sum())]
        ref = np.linalg.lstsq(A, y[rows], rcond=None)[0]
        assert_allclose(np.r_[est.coef_[leaf], est.intercept_[leaf]], ref,
                        atol=1e-4)
    r2_start, ll_start = est.score(X, y), est.log_likelihood_
    est.set_params(max_iter=50)
    _fit_quiet(est, X, y)
    assert est.log_likelihood_ > ll_start
    assert est.score(X, y) > max(r2_start, 0.97)  # soft gates blur the steps


def test_tree_order_puts_near_clusters_under_one_gate():
    centres = np.array([[0.0, 0], [10, 0], [0.5, 0], [10.5, 0], [0, 5], [10, 5],
                        [0.5, 5], [10.5, 5]])
    order = tree_order(centres, (2, 2, 2))
    assert sorted(order) == list(range(8))
    leaf_of = {tuple(c): order[i] for i, c in enumerate(centres)}
    # the root separates x < 5 from x > 5; the next level y = 0 from y = 5
    assert {leaf_of[(0.0, 0.0)] // 4, leaf_of[(0.5, 5.0)] // 4} == {
        leaf_of[(0.0, 0.0)] // 4}
    assert leaf_of[(0.0, 0.0)] // 2 == leaf_of[(0.5, 0.0)] // 2
    assert leaf_of[(10.0, 5.0)] // 2 == leaf_of[(10.5, 5.0)] // 2
    assert leaf_of[(0.0, 0.0)] // 4 != leaf_of[(10.0, 0.0)] // 4


# ------------------------------------------------------------ API
def test_hme_takes_the_flat_estimators_parameters():
    """Every option of the flat estimator, with depth/branching for n_experts."""
    flat = set(MixtureOfExpertsRegressor().get_params())
    hme = set(HME().get_params())
    assert hme == (flat - {"n_experts"}) | {"depth", "branching"}
    assert set(HME._parameter_constraints) == hme


def test_branching_validation():
    X, y, _ = _make_tree_data(100, 0)
    HME(depth=3, branching=[2, 3, 2], max_iter=0).fit(X, y)
    with pytest.raises(ValueError, match="branching has 2 levels but depth=3"):
        HME(depth=3, branching=(2, 2)).fit(X, y)
    with pytest.raises(ValueError, match="must be >= 2"):
        HME(depth=2, branching=(2, 1)).fit(X, y)
    with pytest.raises(ValueError, match="int or a sequence of ints"):
        HME(depth=2, branching=(2.0, 2.5)).fit(X, y)
    with pytest.raises(ValueError, match="experts"):
        HME(depth=17, branching=2).fit(X, y)
    with pytest.raises(ValueError, match="branching"):  # sklearn's validation
        HME(depth=2, branching=1).fit(X, y)
    with pytest.raises(ValueError, match="n_samples=5 should be >= n_experts=8"):
        HME(depth=3, branching=2).fit(X[:5], y[:5])


def test_tree_attributes_and_summary():
    pd = pytest.importorskip("pandas")
    X, y, _ = _make_tree_data(1500, 2)
    df = pd.DataFrame(X, columns=["speed", "angle"])
    hme = _fit_quiet(HME(depth=2, branching=(2, 3), max_iter=30, random_state=0,
                         init_params="tree"), df, y)
    tree = GatingTree((2, 3))
    assert hme.n_experts_ == 6 and hme.branching_ == (2, 3)
    assert hme.gate_coef_.shape == (tree.n_slots, 2)
    assert len(hme.node_gate_coef_) == tree.n_nodes == 3
    assert_array_equal(np.vstack(hme.node_gate_coef_), hme.gate_coef_)
    assert_array_equal(np.concatenate(hme.node_gate_intercept_), hme.gate_intercept_)
    assert [W.shape for W in hme.node_gate_coef_] == [(2, 2), (3, 2), (3, 2)]
    assert hme.node_paths_ == [(), (0,), (1,)]
    assert_array_equal(hme.expert_paths_, [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1],
                                           [1, 2]])
    # an expert's gate probability is the product of the gates on its path
    x = df.iloc[:7].to_numpy()
    p = []
    for W, b in zip(hme.node_gate_coef_, hme.node_gate_intercept_):
        a = x @ W.T + b
        p.append(np.exp(a - a.max(1, keepdims=True)))
        p[-1] /= p[-1].sum(1, keepdims=True)
    ref = np.stack([p[0][:, i] * p[1 + i][:, j] for i, j in hme.expert_paths_], 1)
    assert_allclose(hme.predict_gate(df.iloc[:7]), ref, rtol=1e-12)

    text = hme.tree_summary(n_features=2)
    lines = text.splitlines()
    assert len(lines) == 1 + tree.n_nodes + hme.n_experts_
    assert lines[1].startswith("gate 0 (root): splits on speed (")
    assert "branch 1 -> gate 2: splits on angle (" in text
    assert all(f"expert {leaf}: y = " in text for leaf in range(6))
    assert "x0" not in text

    Y = np.c_[y, -y]
    hme2 = _fit_quiet(HME(depth=1, branching=2, max_iter=5, random_state=0), X, Y)
    text = hme2.tree_summary()
    assert text.count("y0 = ") == 2 and text.count("y1 = ") == 2
    assert "x0" in text
