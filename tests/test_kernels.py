"""The numba E-step kernels against their NumPy twins and a hand-written oracle.

``skmoe._kernels._estep`` computes, per row, the log-likelihood, the posteriors
and the gate residuals in one fused pass; ``skmoe._xp_ops.posterior`` does the
same maths with whole-array operations. They must agree to 1e-10 on random
inputs, on rows where every leaf has log-likelihood -inf, for one expert, for
several gating trees and for several outputs. The twin itself is checked
against a direct transcription of the formulas (scipy's logsumexp and normal
log-density).
"""

import itertools
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from scipy.stats import norm

from skmoe._kernels import _estep
from skmoe._model import MixtureModel, Params
from skmoe._tree import GatingTree
from skmoe._xp_ops import gaussian_leaf_ll, posterior
from skmoe.experts import GaussianExperts, GaussianParams

TREES = [(1,), (4,), (2, 3), (2, 2, 2)]
RTOL = ATOL = 1e-10


def _tree_args(tree):
    return tree.node_start, tree.slot_node, tree.node_parent_slot, tree.leaf_path


def _gaussian_inputs(tree, n_outputs, n, rng, dead_rows=(), dead_slots=()):
    """Random projection buffer, targets and variances for the Gaussian kernel.

    ``dead_rows`` get ``y = inf`` (every leaf's log-likelihood is -inf);
    ``dead_slots`` (row, slot) pairs get a gate logit of -inf.
    """
    L, m, C = tree.n_leaves, n_outputs, tree.n_slots
    proj = np.empty((n, L * m + C))
    proj[:, : L * m] = rng.normal(scale=2.0, size=(n, L * m))
    proj[:, L * m :] = rng.normal(scale=3.0, size=(n, C))
    y = rng.normal(scale=2.0, size=(n, m))
    var = rng.uniform(0.05, 3.0, size=(L, m))
    for i in dead_rows:
        y[i, 0] = np.inf
    for i, s in dead_slots:
        proj[i, L * m + s] = -np.inf
    return proj, y, var


def _reference(tree, n_outputs, proj, y, var):
    L = tree.n_leaves
    leaf_ll = gaussian_leaf_ll(proj[:, : L * n_outputs], y, var)
    return posterior(leaf_ll, proj[:, L * n_outputs :], tree)


def _run_gaussian(kernel, tree, proj, y, var):
    n = proj.shape[0]
    resp = np.full((n, tree.n_leaves), np.nan)
    resid = np.full((n, tree.n_slots), np.nan)
    loglik = np.full(n, np.nan)
    const = -0.5 * np.log(2 * math.pi * var)
    inv2var = 0.5 / var
    kernel(proj, y, const, inv2var, *_tree_args(tree), resp, resid, loglik)
    return resp, resid, loglik


def _run_loglik(kernel, tree, leaf_ll, logits):
    n = leaf_ll.shape[0]
    resp = np.full((n, tree.n_leaves), np.nan)
    resid = np.full((n, tree.n_slots), np.nan)
    loglik = np.full(n, np.nan)
    kernel(leaf_ll, logits, *_tree_args(tree), resp, resid, loglik)
    return resp, resid, loglik


def _assert_estep_equal(got, want):
    for name, a, b in zip(("resp", "resid", "loglik"), got, want):
        assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=name)


def _dead_slot_pairs(tree, rows):
    """One -inf logit per listed row, in a node with at least two slots."""
    sizes = np.diff(tree.node_start)
    wide = np.flatnonzero(sizes > 1)
    if wide.size == 0:
        return []
    s = int(tree.node_start[wide[-1]])
    return [(i, s) for i in rows]


# ---------------------------------------------------------------------------
# the NumPy twin against the formulas written out
# ---------------------------------------------------------------------------
def _oracle(tree, leaf_ll, logits):
    """Direct transcription of the E-step's definitions, row by row."""
    n = leaf_ll.shape[0]
    log_g = np.empty_like(logits)
    for j in range(tree.n_nodes):
        lo, hi = tree.node_start[j], tree.node_start[j + 1]
        log_g[:, lo:hi] = logits[:, lo:hi] - logsumexp(
            logits[:, lo:hi], axis=1, keepdims=True)
    log_prior = np.zeros((n, tree.n_leaves))
    for leaf in range(tree.n_leaves):
        for s in tree.leaf_path[leaf]:
            log_prior[:, leaf] += log_g[:, s]
    joint = log_prior + leaf_ll
    loglik = logsumexp(joint, axis=1)
    resp = np.exp(joint - loglik[:, None])
    # slot mass h_is = sum of the posteriors of the leaves below slot s
    h_slot = np.zeros((n, tree.n_slots))
    for leaf in range(tree.n_leaves):
        for s in tree.leaf_path[leaf]:
            h_slot[:, s] += resp[:, leaf]
    resid = np.empty_like(h_slot)
    for s in range(tree.n_slots):
        parent = tree.node_parent_slot[tree.slot_node[s]]
        h_node = resp.sum(axis=1) if parent < 0 else h_slot[:, parent]
        resid[:, s] = h_slot[:, s] - h_node * np.exp(log_g[:, s])
    return resp, resid, loglik


@pytest.mark.parametrize("branching", TREES)
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_numpy_twin_matches_written_out_formulas(branching, n_outputs):
    rng = np.random.default_rng(11)
    tree = GatingTree(branching)
    proj, y, var = _gaussian_inputs(tree, n_outputs, 60, rng)
    L, m = tree.n_leaves, n_outputs
    mu = proj[:, : L * m].reshape(-1, L, m)
    leaf_ll = norm.logpdf(y[:, None, :], mu, np.sqrt(var)[None]).sum(axis=2)
    assert_allclose(gaussian_leaf_ll(proj[:, : L * m], y, var), leaf_ll,
                    rtol=1e-12, atol=1e-12)
    want = _oracle(tree, leaf_ll, proj[:, L * m :])
    _assert_estep_equal(_reference(tree, n_outputs, proj, y, var), want)
    resp = want[0]
    assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)
    # the residuals of every node sum to zero across its slots
    for j in range(tree.n_nodes):
        lo, hi = tree.node_start[j], tree.node_start[j + 1]
        assert_allclose(want[1][:, lo:hi].sum(axis=1), 0.0, atol=1e-12)


# ---------------------------------------------------------------------------
# kernels against the twin
# ---------------------------------------------------------------------------
GAUSSIAN_KERNELS = {
    "serial": _estep.estep_gaussian_serial,
    "parallel": _estep.estep_gaussian_parallel,
}
LOGLIK_KERNELS = {
    "serial": _estep.estep_loglik_serial,
    "parallel": _estep.estep_loglik_parallel,
}


@pytest.mark.parametrize("variant", ["serial", "parallel"])
@pytest.mark.parametrize(
    "branching, n_outputs",
    [(b, m) for b, m in itertools.product(TREES, [1, 2])],
)
def test_gaussian_kernel_matches_twin(variant, branching, n_outputs):
    rng = np.random.default_rng(0)
    tree = GatingTree(branching)
    # the parallel kernel splits rows in blocks of 2048: use several blocks
    n = 4500 if variant == "parallel" else 300
    dead = [0, 7, n - 1]
    proj, y, var = _gaussian_inputs(tree, n_outputs, n, rng, dead_rows=dead,
                                    dead_slots=_dead_slot_pairs(tree, [3, 4, 5]))
    want = _reference(tree, n_outputs, proj, y, var)
    got = _run_gaussian(GAUSSIAN_KERNELS[variant], tree, proj.copy(), y, var)
    _assert_estep_equal(got, want)
    resp, resid, loglik = got
    # rows with -inf likelihood in every leaf: loglik -inf, zero resp / resid
    assert np.all(loglik[dead] == -np.inf)
    assert np.all(resp[dead] == 0.0) and np.all(resid[dead] == 0.0)
    alive = np.setdiff1d(np.arange(n), dead)
    assert np.all(np.isfinite(loglik[alive]))
    assert_allclose(resp[alive].sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("variant", ["serial", "parallel"])
@pytest.mark.parametrize("branching", TREES)
def test_loglik_kernel_matches_twin(variant, branching):
    rng = np.random.default_rng(1)
    tree = GatingTree(branching)
    n = 4500 if variant == "parallel" else 300
    leaf_ll = rng.normal(scale=5.0, size=(n, tree.n_leaves))
    logits = rng.normal(scale=3.0, size=(n, tree.n_slots))
    dead = [1, 2, n - 2]
    leaf_ll[dead] = -np.inf
    # some leaves impossible on some rows, others not
    if tree.n_leaves > 1:
        leaf_ll[10:20, 0] = -np.inf
    for i, s in _dead_slot_pairs(tree, [30, 31]):
        logits[i, s] = -np.inf
    want = posterior(leaf_ll, logits, tree)
    got = _run_loglik(LOGLIK_KERNELS[variant], tree, leaf_ll, logits)
    _assert_estep_equal(got, want)
    resp, resid, loglik = got
    assert np.all(loglik[dead] == -np.inf)
    assert np.all(resp[dead] == 0.0) and np.all(resid[dead] == 0.0)
    if tree.n_leaves > 1:
        assert np.all(resp[10:20, 0] == 0.0)


def test_single_expert_posterior_is_one():
    """K=1: the posterior is 1, the residual 0 and loglik the leaf's own."""
    tree = GatingTree((1,))
    rng = np.random.default_rng(2)
    proj, y, var = _gaussian_inputs(tree, 2, 50, rng)
    resp, resid, loglik = _run_gaussian(_estep.estep_gaussian_serial, tree,
                                        proj.copy(), y, var)
    assert_array_equal(resp, 1.0)
    assert_allclose(resid, 0.0, atol=1e-15)
    want = norm.logpdf(y, proj[:, :2], np.sqrt(var[0])).sum(axis=1)
    assert_allclose(loglik, want, rtol=1e-12)


@pytest.mark.parametrize("variant", ["serial", "parallel"])
def test_posteriors_below_1e_100_are_exactly_zero(variant):
    tree = GatingTree((4,))
    n = 4500 if variant == "parallel" else 10
    # leaf 1 is exp(-240) ~ 1e-104 below leaf 0: its posterior must be 0;
    # leaf 2 is exp(-225) ~ 2e-98 below: small but kept
    leaf_ll = np.tile([0.0, -240.0, -225.0, -5.0], (n, 1))
    logits = np.zeros((n, tree.n_slots))
    for got in (
        _run_loglik(LOGLIK_KERNELS[variant], tree, leaf_ll, logits),
        posterior(leaf_ll, logits, tree),
    ):
        resp = got[0]
        assert np.all(resp[:, 1] == 0.0)
        tot = 1.0 + np.exp(-225.0) + np.exp(-5.0)
        assert_allclose(resp[:, 2], np.exp(-225.0) / tot, rtol=1e-10)
        assert_allclose(resp[:, 3], np.exp(-5.0) / tot, rtol=1e-10)
        # the kept mass still sums to one and the log-likelihood is exact
        assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-14)
        assert_allclose(got[2], np.log(tot) - np.log(4.0), rtol=1e-12)


# ---------------------------------------------------------------------------
# in-place aliasing, as the model calls the kernels
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("branching", [(4,), (2, 3), (2, 2, 2)])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_gaussian_kernel_outputs_may_alias_projection(branching, n_outputs):
    """``resp``/``resid`` as views of the projection buffer give the same numbers."""
    rng = np.random.default_rng(3)
    tree = GatingTree(branching)
    proj, y, var = _gaussian_inputs(tree, n_outputs, 200, rng, dead_rows=[5])
    separate = _run_gaussian(_estep.estep_gaussian_serial, tree, proj.copy(), y, var)
    buf = proj.copy()
    L, C = tree.n_leaves, tree.n_slots
    resp, resid = buf[:, :L], buf[:, buf.shape[1] - C :]
    loglik = np.empty(buf.shape[0])
    const, inv2var = -0.5 * np.log(2 * math.pi * var), 0.5 / var
    _estep.estep_gaussian_serial(buf, y, const, inv2var, *_tree_args(tree), resp,
                                 resid, loglik)
    _assert_estep_equal((resp, resid, loglik), separate)


@pytest.mark.parametrize("branching", [(4,), (2, 3)])
def test_loglik_kernel_in_place(branching):
    """Outputs overwriting the inputs row by row give the same numbers."""
    rng = np.random.default_rng(4)
    tree = GatingTree(branching)
    leaf_ll = rng.normal(scale=4.0, size=(100, tree.n_leaves))
    logits = rng.normal(scale=2.0, size=(100, tree.n_slots))
    separate = _run_loglik(_estep.estep_loglik_serial, tree, leaf_ll, logits)
    a, b = leaf_ll.copy(), logits.copy()
    loglik = np.empty(100)
    _estep.estep_loglik_serial(a, b, *_tree_args(tree), a, b, loglik)
    _assert_estep_equal((a, b, loglik), separate)


def _random_model(branching, n_outputs, d, rng):
    tree = GatingTree(branching)
    L, m = tree.n_leaves, n_outputs
    experts = GaussianExperts(L, m, alpha=0.0, var_floor=np.zeros(m))
    params = Params(
        rng.normal(size=(d + 1, tree.n_slots)),
        GaussianParams(rng.normal(size=(d + 1, L * m)),
                       rng.uniform(0.2, 2.0, size=(L, m))),
    )
    model = MixtureModel(tree, experts, gate_alpha=0.0, gate_solver="newton")
    return model, params


@pytest.mark.parametrize("branching", TREES)
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_model_e_step_matches_reference(branching, n_outputs):
    """The model's kernel path (aliased buffers) equals its NumPy reference."""
    rng = np.random.default_rng(5)
    model, params = _random_model(branching, n_outputs, 3, rng)
    X = rng.normal(size=(250, 3))
    Y = rng.normal(scale=3.0, size=(250, n_outputs))
    got = model.e_step(X, Y, params)
    want = model.e_step_reference(X, Y, params)
    _assert_estep_equal((got.resp, got.resid, got.loglik),
                        (want.resp, want.resid, want.loglik))
    # and the leaf prior is the gate probability of the model
    assert_allclose(model.gate_proba(X, params).sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_gemm_sub_blocks_match_numpy(beta):
    """``_blas.gemm`` (SciPy's dgemm called from numba) on row-major
    sub-blocks read through leading dimensions, as the fused kernels use it."""
    from skmoe._kernels._blas import gemm

    rng = np.random.default_rng(0)
    A = rng.normal(size=(6, 9))  # use rows 1..4, columns 0..4 (k = 5)
    B = rng.normal(size=(7, 8))  # use rows 0..4, columns 0..2 (n = 3)
    C = rng.normal(size=(5, 6))  # write rows 1..4, columns 0..2
    expected = C.copy()
    expected[1:5, :3] = beta * C[1:5, :3] + A[1:5, :5] @ B[:5, :3]
    iw, fw = np.empty(8, dtype=np.int32), np.empty(2)
    gemm(4, 3, 5, A.ctypes.data + 8 * 9, 9, B.ctypes.data, 8, beta,
         C.ctypes.data + 8 * 6, 6, iw, fw)
    assert_allclose(C, expected, rtol=1e-13, atol=1e-13)


def test_unaligned_input_gives_the_same_statistics():
    """An array rebuilt from a byte buffer at an odd offset (as a Dask worker
    may deserialise a block) is unaligned: the kernels get an aligned copy, and
    the statistics equal those of the aligned array."""
    from skmoe._kernels._config import kernel_array
    from skmoe._model import FitData

    rng = np.random.default_rng(4)
    tree = GatingTree((3,))
    X = rng.normal(size=(500, 4))
    raw = np.zeros(X.nbytes + 1, dtype=np.uint8)
    raw[1:] = np.frombuffer(X.tobytes(), dtype=np.uint8)
    X_odd = np.frombuffer(raw.data, dtype=np.float64, offset=1).reshape(X.shape)
    assert not X_odd.flags.aligned
    assert kernel_array(X_odd).flags.aligned
    experts = GaussianExperts(tree.n_leaves, 1, alpha=0.0, var_floor=np.array([1e-6]))
    model = MixtureModel(tree, experts, gate_alpha=0.1, gate_solver="newton")
    params = Params(rng.normal(size=(5, tree.n_slots)),
                    GaussianParams(rng.normal(size=(5, 3)), np.ones((3, 1))))
    Y, sw = rng.normal(size=(500, 1)), np.ones(500)
    want = model.statistics(FitData(X, Y, sw), params)
    got = model.statistics(FitData(X_odd, Y, sw), params)
    assert got.loglik == want.loglik
    assert_array_equal(got.expert_grams, want.expert_grams)
    for a, b in zip(got.hessians, want.hessians):
        assert_array_equal(a, b)
