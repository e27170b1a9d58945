"""The GPU backend's namespace-generic code, run on the CPU.

``skmoe._backend._xp_engine`` is the GPU pass written against an array
namespace; here it runs on NumPy and on ``array_api_strict`` (which rejects
anything outside the standard) and must reproduce the numba pass
(``MixtureModel.block_statistics``) to 1e-10, EM through it must follow the
CPU fit, and its predictions must equal the estimators'. The CUDA kernels'
tile layout is checked by emulating it. Also: where a fit runs (``device``),
errors without CuPy, and that ``import skmoe`` never imports CuPy.
"""

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skmoe import MixtureOfExpertsRegressor
from skmoe._backend import _device
from skmoe._backend._cuda_src import gram_shape
from skmoe._backend._cupy import _tile_unpacker
from skmoe._backend._xp_engine import (
    XPEngine,
    XPFitData,
    estep_xp,
    gate_proba_xp,
    moments_xp,
    to_numpy,
)
from skmoe._em import run_em
from skmoe._hme import HierarchicalMixtureOfExpertsRegressor
from skmoe._model import FitData, MixtureModel, Params
from skmoe._tree import GatingTree
from skmoe.datasets import make_moe_regression
from skmoe.experts import GaussianExperts, GaussianParams

xps = pytest.importorskip("array_api_strict")
NAMESPACES = [pytest.param(np, id="numpy"), pytest.param(xps, id="strict")]
TREES = [(1,), (4,), (2, 3), (2, 2, 2)]


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def _random_model(tree_shape, solver, m, d, rng):
    tree = GatingTree(tree_shape)
    L, C = tree.n_leaves, tree.n_slots
    experts = GaussianExperts(L, m, alpha=1e-3, var_floor=np.full(m, 1e-6))
    model = MixtureModel(tree, experts, gate_alpha=1e-3, gate_solver=solver)
    params = Params(rng.normal(size=(d + 1, C)),
                    GaussianParams(rng.normal(size=(d + 1, L * m)),
                                   rng.uniform(0.3, 2.0, size=(L, m))))
    return model, params


def _assert_stats_close(got, want, rtol):
    assert abs(got.loglik - want.loglik) <= rtol * abs(want.loglik)
    assert _rel(got.expert_grams, want.expert_grams) < rtol
    assert _rel(got.gate_grad, want.gate_grad) < rtol
    if want.node_grams is not None:
        assert _rel(got.node_grams, want.node_grams) < rtol
    if want.hessians is not None:
        assert len(got.hessians) == len(want.hessians)
        for a, b in zip(got.hessians, want.hessians):
            assert a.shape == b.shape
            if b.size:
                assert _rel(a, b) < rtol


@pytest.mark.parametrize("xp", NAMESPACES)
@pytest.mark.parametrize("tree_shape", TREES)
@pytest.mark.parametrize("solver", ["bohning", "newton"])
@pytest.mark.parametrize("m", [1, 2])
def test_pass_matches_fused_kernel(xp, tree_shape, solver, m):
    """The generic pass reproduces the numba pass to 1e-10: zero weights,
    several chunks (sums across chunks), every tree and both gate solvers."""
    rng = np.random.default_rng(hash((tree_shape, solver, m)) % 2**32)
    n, d = 700, 3
    model, params = _random_model(tree_shape, solver, m, d, rng)
    X = rng.normal(size=(n, d))
    Y = rng.normal(size=(n, m)) * 2
    sw = rng.uniform(0, 2, n)
    sw[rng.choice(n, 50, replace=False)] = 0.0
    want = model.block_statistics(X, Y, sw, params)
    engine = XPEngine(model, xp.asarray(X), xp.asarray(Y), xp.asarray(sw), xp,
                      chunk_rows=256)
    _assert_stats_close(engine.statistics(params), want, 1e-10)


def test_pass_float32_inputs():
    """Float32 data: the product runs in float32, the rest in float64; the
    statistics agree with the float64 pass over the same values to ~1e-6."""
    rng = np.random.default_rng(3)
    n, d, m = 2000, 5, 1
    model, params = _random_model((4,), "bohning", m, d, rng)
    X = rng.normal(size=(n, d)).astype(np.float32)
    Y = rng.normal(size=(n, m)).astype(np.float32)
    sw = np.ones(n)
    want = model.block_statistics(X.astype(float), Y.astype(float), sw, params)
    got = XPEngine(model, X, Y, sw, np, chunk_rows=512).statistics(params)
    _assert_stats_close(got, want, 1e-5)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_dead_rows_add_only_their_loglik():
    """Rows whose every leaf is impossible add ``w * max`` (-inf) to the
    log-likelihood and nothing else, as the numba kernel; with zero weight
    they add nothing at all."""
    rng = np.random.default_rng(4)
    n, d = 60, 2
    model, params = _random_model((3,), "bohning", 1, d, rng)
    X = rng.normal(size=(n, d))
    Y = rng.normal(size=(n, 1))
    Y[5, 0] = 1e200  # every leaf's density underflows to 0
    sw = np.ones(n)
    sw[5] = 0.0
    want = model.block_statistics(X, Y, sw, params)
    got = XPEngine(model, X, Y, sw, np).statistics(params)
    _assert_stats_close(got, want, 1e-12)
    assert np.isfinite(got.loglik)
    sw[5] = 1.0
    got = XPEngine(model, X, Y, sw, np).statistics(params)
    assert got.loglik == -np.inf
    want = model.block_statistics(X, Y, sw, params)
    assert _rel(got.expert_grams, want.expert_grams) < 1e-12


@pytest.mark.parametrize("xp", NAMESPACES)
@pytest.mark.parametrize("tree_shape, solver", [((3,), "newton"),
                                                ((2, 2), "bohning")])
def test_em_through_the_engine_follows_the_cpu_fit(xp, tree_shape, solver):
    """Twenty EM iterations with the engine's passes (``XPFitData``, as the
    GPU fit) give the CPU's log-likelihoods and parameters to 1e-10."""
    X, y, _ = make_moe_regression(n_samples=600, n_features=3, n_experts=4,
                                  noise=0.3, random_state=1)
    Y = y[:, None]
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    model, _ = _random_model(tree_shape, solver, 1, 3, np.random.default_rng(0))
    resp = np.random.default_rng(2).dirichlet(np.ones(model.tree.n_leaves), 600)
    cpu = FitData(X, Y, sw)
    start, _ = model.init_from_resp(cpu, resp)
    want = run_em(model, cpu, start, max_iter=20, tol=0.0)
    data = XPFitData(xp.asarray(X), Y, sw, xp, chunk_rows=250)
    got = run_em(model, data, start, max_iter=20, tol=0.0)
    assert_allclose(got.log_likelihoods, want.log_likelihoods, rtol=1e-10)
    assert_allclose(got.params.gate, want.params.gate, rtol=1e-8, atol=1e-10)
    assert_allclose(got.params.experts.coef, want.params.experts.coef, rtol=1e-8,
                    atol=1e-10)


def test_sample_rows_are_the_in_memory_rows():
    """Up to ``max_rows`` the initialisation sees every row in order (so a GPU
    fit starts where the CPU fit starts); above, a sorted random sample."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2)).astype(np.float32)
    Y = rng.normal(size=(50, 1))
    sw = rng.uniform(size=50)
    data = XPFitData(xps.asarray(X), Y, sw, xps)
    sample, resp = data.sample_rows(100, rng, Y)
    assert_allclose(sample.X, X.astype(float), rtol=0)
    assert sample.X.dtype == np.float64 and sample.X.flags.c_contiguous
    assert_allclose(sample.sample_weight, sw, rtol=0)
    assert_allclose(resp, Y, rtol=0)
    sample, resp = data.sample_rows(10, np.random.default_rng(1), Y)
    idx = np.sort(np.random.default_rng(1).choice(50, 10, replace=False))
    assert_allclose(sample.X, X[idx], rtol=0)
    assert_allclose(sample.Y, Y[idx], rtol=0)
    assert_allclose(resp, Y[idx], rtol=0)
    assert data.total_weight == pytest.approx(sw.sum())


@pytest.mark.parametrize("xp", NAMESPACES)
@pytest.mark.parametrize("Est, kw", [
    (MixtureOfExpertsRegressor, dict(n_experts=3)),
    (HierarchicalMixtureOfExpertsRegressor, dict(depth=2, branching=2)),
])
def test_predictions_match_the_estimator(xp, Est, kw):
    """The generic prediction code (the GPU's) gives the estimator's mean,
    standard deviation, top-k mean, gate probabilities, posteriors and
    log-likelihoods."""
    X, y, _ = make_moe_regression(n_samples=400, n_features=2, n_experts=4,
                                  n_targets=2, noise=0.3, random_state=2)
    est = Est(random_state=0, max_iter=15, **kw).fit(X, y)
    model, params = est._fitted_model(), est._params()
    Xd = xp.asarray(X)
    mean, second = moments_xp(model, Xd, params, True, None, xp, chunk_rows=128)
    want_mean, want_std = est.predict(X, return_std=True)
    assert_allclose(to_numpy(mean), want_mean, rtol=1e-12, atol=1e-12)
    std = np.sqrt(np.maximum(to_numpy(second) - to_numpy(mean) ** 2, 0))
    assert_allclose(std, want_std, rtol=1e-9, atol=1e-12)
    est.set_params(top_k=2)
    mean_k, _ = moments_xp(model, Xd, params, False, 2, xp, chunk_rows=128)
    assert_allclose(to_numpy(mean_k), est.predict(X), rtol=1e-12, atol=1e-12)
    gate = gate_proba_xp(model, Xd, params, xp, chunk_rows=128)
    assert_allclose(to_numpy(gate), est.predict_gate(X), rtol=1e-12, atol=1e-15)
    resp, loglik = estep_xp(model, Xd, xp.asarray(y), params, xp, chunk_rows=128)
    assert_allclose(to_numpy(resp), est.responsibilities(X, y), atol=1e-12)
    assert_allclose(to_numpy(loglik), est.score_samples(X, y), rtol=1e-12)


@pytest.mark.parametrize("q, n_cols, dtype, cpt", [
    (66, 33, "float32", 2), (66, 33, "float64", 1), (5, 40, "float64", 1),
    (9, 3, "float32", 2), (17, 7, "float32", 1)])
def test_gram_kernel_tile_layout(q, n_cols, dtype, cpt):
    """Emulate ``moe_gram``'s job decoding (column group, then upper-triangular
    tile ``(ta, tb)``), its padded rows and its per-column 8 x 8 partial
    sums; the unpacker must rebuild every column's symmetric Gram matrix."""
    rng = np.random.default_rng(q)
    n = 30
    Z = rng.normal(size=(n, q))
    W = rng.uniform(size=(n, n_cols))
    gs = gram_shape(q, n_cols, dtype, cols_per_thread=cpt)
    nt, nts, off = gs["nt"], gs["nts"], gs["tile_offsets"]
    assert all(b - a >= 8 for a, b in zip(off, off[1:]))  # tiles never overlap
    assert off[-1] <= gs["row"] and all(o % gs["vec"] == 0 for o in off)
    rows = np.full((n, gs["row"]), np.nan)  # padding is never read
    for c in range(nt * 8):
        rows[:, off[c // 8] + c % 8] = Z[:, c] if c < q else 0.0
    jobs = -(-n_cols // cpt) * nts
    part = np.zeros((64, cpt, jobs))  # the kernel's coalesced layout
    for job in range(jobs):  # the kernel's decoding
        grp, tile = divmod(job, nts)
        tile_id = tile
        ta = 0
        while tile >= nt - ta:
            tile -= nt - ta
            ta += 1
        tb = ta + tile
        za = rows[:, off[ta]:off[ta] + 8]
        zb = rows[:, off[tb]:off[tb] + 8]
        for j in range(cpt):
            col = grp * cpt + j
            if col < n_cols:
                part[:, j, job] = ((za * W[:, col:col + 1]).T @ zb).ravel()
    assert tile_id < nts
    G = _tile_unpacker(gs, q, n_cols)(part.ravel())
    want = np.einsum("nc,na,nb->cab", W, Z, Z)
    assert_allclose(G, want, rtol=1e-12, atol=1e-12)


def test_compute_device_rules(monkeypatch):
    """None follows X, "cpu" always the CPU, "auto" the GPU only for large
    inputs when one is there; CuPy arrays are recognised by module name."""
    class FakeCupyArray:
        shape = (10, 3)
    FakeCupyArray.__module__ = "cupy._core.core"
    X = np.zeros((10, 3))
    assert _device.is_cupy_array(FakeCupyArray())
    assert not _device.is_cupy_array(X)
    assert _device.compute_device(None, X) == "cpu"
    assert _device.compute_device(None, FakeCupyArray()) == "cuda"
    assert _device.compute_device("cpu", FakeCupyArray()) == "cpu"
    monkeypatch.setattr(_device, "gpu_available", lambda: True)
    big = np.broadcast_to(0.0, (_device.AUTO_GPU_MIN_CELLS, 1))
    assert _device.compute_device("auto", X) == "cpu"
    assert _device.compute_device("auto", big) == "cuda"
    monkeypatch.setattr(_device, "gpu_available", lambda: False)
    assert _device.compute_device("auto", big) == "cpu"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_cuda_without_cupy_gives_the_install_hint(monkeypatch):
    """Asking for the GPU without CuPy (or a device) names the extra."""
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    X, y, _ = make_moe_regression(n_samples=50, n_features=2, n_experts=2,
                                  random_state=0)
    with pytest.raises(ImportError, match=r'pip install "skmoe\[gpu\]"'):
        MixtureOfExpertsRegressor(n_experts=2, device="cuda").fit(X, y)
    est = MixtureOfExpertsRegressor(n_experts=2, max_iter=3, device="auto")
    est.fit(X, y)  # no GPU: the CPU, silently
    assert isinstance(est.coef_, np.ndarray)


def test_import_skmoe_never_imports_cupy():
    code = ("import sys, skmoe; import skmoe._backend._cupy; "
            "skmoe.MixtureOfExpertsRegressor(max_iter=2).fit([[0.], [1.], [2.], "
            "[3.]], [0., 1., 0., 1.]); print('cupy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"


def test_to_numpy_copies_a_host_model():
    X, y, _ = make_moe_regression(n_samples=120, n_features=2, n_experts=2,
                                  random_state=3)
    est = MixtureOfExpertsRegressor(n_experts=2, max_iter=5, random_state=0)
    est.fit(X, y)
    host = est.to_numpy()
    assert host is not est
    for name in ("coef_", "gate_coef_", "noise_variance_", "log_likelihoods_"):
        assert isinstance(getattr(host, name), np.ndarray)
        assert_allclose(getattr(host, name), getattr(est, name), rtol=0)
    assert_allclose(host.predict(X), est.predict(X), rtol=0)
