"""The GPU backend on a CUDA device (skipped without CuPy or a device).

The raw-kernel pass must reproduce the numba pass (float64 to 1e-10, float32
to the float32 product's error); fits from the same seed and start must agree
with the CPU's (float64: log-likelihood to 1e-9 relative after 20 iterations,
float32: 1e-5; predictions likewise); CuPy input keeps everything on the
device; NumPy input with ``device="cuda"`` gets NumPy attributes back.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning

cp = pytest.importorskip("cupy")
try:
    _N_DEVICES = cp.cuda.runtime.getDeviceCount()
except Exception:  # no driver
    _N_DEVICES = 0
if _N_DEVICES < 1:
    pytest.skip("no CUDA device", allow_module_level=True)

from skmoe import MixtureOfExpertsRegressor  # noqa: E402
from skmoe._backend import _cupy  # noqa: E402
from skmoe._backend._xp_engine import XPEngine  # noqa: E402
from skmoe._hme import HierarchicalMixtureOfExpertsRegressor  # noqa: E402
from skmoe._model import MixtureModel, Params  # noqa: E402
from skmoe._tree import GatingTree  # noqa: E402
from skmoe.datasets import make_moe_regression  # noqa: E402
from skmoe.experts import GaussianExperts, GaussianParams  # noqa: E402

pytestmark = [pytest.mark.gpu,
              pytest.mark.filterwarnings("ignore::sklearn.exceptions."
                                         "ConvergenceWarning")]


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def _stats_rel(got, want):
    """Largest relative error of a pass's statistics (the gate gradient, a
    small difference of large sums, relative to the Gram matrices' scale)."""
    scale = np.max(np.abs(want.expert_grams))
    errs = [abs(got.loglik - want.loglik) / abs(want.loglik),
            _rel(got.expert_grams, want.expert_grams),
            np.max(np.abs(got.gate_grad - want.gate_grad)) / scale]
    if want.node_grams is not None:
        errs.append(_rel(got.node_grams, want.node_grams))
    for a, b in zip(got.hessians or [], want.hessians or []):
        if b.size:
            errs.append(_rel(a, b))
    return max(errs)


def _random_case(tree_shape, solver, m, n, d, seed):
    rng = np.random.default_rng(seed)
    tree = GatingTree(tree_shape)
    L, C = tree.n_leaves, tree.n_slots
    experts = GaussianExperts(L, m, alpha=1e-3, var_floor=np.full(m, 1e-6))
    model = MixtureModel(tree, experts, gate_alpha=1e-3, gate_solver=solver)
    params = Params(0.5 * rng.normal(size=(d + 1, C)),
                    GaussianParams(rng.normal(size=(d + 1, L * m)),
                                   rng.uniform(0.3, 2.0, size=(L, m))))
    X = rng.normal(size=(n, d))
    Y = X @ rng.normal(size=(d, m)) + rng.normal(size=(n, m))
    sw = rng.uniform(0, 2, n)
    sw[rng.choice(n, n // 20, replace=False)] = 0.0
    return model, params, X, Y, sw


CASES = [((4,), "bohning", 1, 3000, 5), ((3,), "newton", 2, 3000, 4),
         ((2, 3), "newton", 1, 2500, 3), ((2, 2, 2), "bohning", 2, 2500, 6),
         ((32,), "bohning", 1, 20000, 64)]


@pytest.mark.parametrize("tree_shape, solver, m, n, d", CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_kernel_pass_matches_numba(tree_shape, solver, m, n, d, dtype):
    model, params, X, Y, sw = _random_case(tree_shape, solver, m, n, d, n + d)
    Xc = X.astype(dtype)
    want = model.block_statistics(Xc.astype(float), Y.astype(dtype).astype(float),
                                  sw, params)
    cp_, xp = _cupy.namespace()
    args = (model, cp.asarray(Xc), cp.asarray(Y.astype(dtype)), cp.asarray(sw), xp)
    tol = 1e-10 if dtype == "float64" else 2e-5
    fast = _cupy.CupyEngine(*args, cp=cp_, chunk_rows=1000).statistics(params)
    assert _stats_rel(fast, want) < tol
    generic = XPEngine(*args, chunk_rows=1000).statistics(params)
    assert _stats_rel(generic, want) < tol
    gemm = _cupy.CupyEngine(*args, cp=cp_, gram="gemm").statistics(params)
    assert _stats_rel(gemm, want) < tol


def test_pinned_transfers_roundtrip(monkeypatch):
    """Staged copies (several blocks, both buffers) keep every value; float64
    input converted to float32 on the way; Fortran-ordered input."""
    monkeypatch.setattr(_cupy, "STAGING_MIN_BYTES", 1 << 16)
    monkeypatch.setattr(_cupy, "STAGING_BYTES", 1 << 20)
    monkeypatch.setattr(_cupy, "_STAGING", None)
    rng = np.random.default_rng(0)
    A = np.asfortranarray(rng.normal(size=(50_001, 7)))
    got = _cupy.to_device(A)
    assert got.flags.c_contiguous and got.dtype == np.float64
    assert_allclose(got.get(), A, rtol=0)
    got32 = _cupy.to_device(A, np.float32)
    assert_allclose(got32.get(), A.astype(np.float32), rtol=0)
    v = rng.normal(size=300_000)
    assert_allclose(_cupy.to_device(v).get(), v, rtol=0)
    back = _cupy.from_device(cp.asarray(A))
    assert isinstance(back, np.ndarray)
    assert_allclose(back, A, rtol=0)
    monkeypatch.setattr(_cupy, "_STAGING", None)


def _data(n=2000, d=4, K=4, m=1, seed=0, dtype=np.float64):
    X, y, _ = make_moe_regression(n_samples=n, n_features=d, n_experts=K,
                                  n_targets=m, noise=0.3, gate_scale=2.0,
                                  random_state=seed)
    return X.astype(dtype), y


FITS = [
    (MixtureOfExpertsRegressor, dict(n_experts=4, gate_solver="bohning")),
    (MixtureOfExpertsRegressor, dict(n_experts=3, gate_solver="newton")),
    (HierarchicalMixtureOfExpertsRegressor, dict(depth=2, branching=2)),
]


@pytest.mark.filterwarnings("error::RuntimeWarning")  # EM stays monotone
@pytest.mark.parametrize("Est, kw", FITS)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-9), (np.float32, 1e-5)])
def test_gpu_fit_agrees_with_cpu(Est, kw, dtype, tol):
    X, y = _data(dtype=dtype)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    common = dict(max_iter=20, tol=0.0, random_state=0, **kw)
    cpu = Est(**common).fit(X, y, sample_weight=sw)
    gpu = Est(device="cuda", **common).fit(X, y, sample_weight=sw)
    assert gpu.n_iter_ == cpu.n_iter_ == 20
    assert isinstance(gpu.coef_, np.ndarray)  # NumPy input: NumPy attributes
    assert_allclose(gpu.log_likelihoods_, cpu.log_likelihoods_, rtol=tol)
    pred_cpu, std_cpu = cpu.predict(X.astype(float), return_std=True)
    pred_gpu, std_gpu = gpu.predict(X, return_std=True)  # on the GPU
    assert isinstance(pred_gpu, np.ndarray)
    assert _rel(pred_gpu, pred_cpu) < tol
    assert _rel(std_gpu, std_cpu) < tol
    print(f"{Est.__name__} {kw} {np.dtype(dtype).name}: loglik rel "
          f"{_rel(gpu.log_likelihoods_, cpu.log_likelihoods_):.2e}, "
          f"predict rel {_rel(pred_gpu, pred_cpu):.2e}")


def test_cupy_input_stays_on_the_device():
    X, y = _data(m=2)
    Xd, yd = cp.asarray(X), cp.asarray(y)
    sw = cp.asarray(np.random.default_rng(2).uniform(0.5, 2, len(y)))
    kw = dict(n_experts=3, max_iter=20, tol=0.0, random_state=0, top_k=2)
    gpu = MixtureOfExpertsRegressor(**kw).fit(Xd, yd, sample_weight=sw)
    cpu = MixtureOfExpertsRegressor(**kw).fit(X, y, sample_weight=sw.get())
    for name in ("coef_", "intercept_", "noise_variance_", "gate_coef_",
                 "gate_intercept_", "log_likelihoods_"):
        assert isinstance(getattr(gpu, name), cp.ndarray), name
    assert_allclose(gpu.log_likelihoods_.get(), cpu.log_likelihoods_, rtol=1e-9)
    pred = gpu.predict(Xd)  # top-2 on the device
    assert isinstance(pred, cp.ndarray)
    assert _rel(pred.get(), cpu.predict(X)) < 1e-9
    gate = gpu.predict_gate(Xd)
    assert isinstance(gate, cp.ndarray)
    assert _rel(gate.get(), cpu.predict_gate(X)) < 1e-8
    assert _rel(gpu.score_samples(Xd, yd).get(), cpu.score_samples(X, y)) < 1e-9
    assert _rel(gpu.responsibilities(Xd, yd).get(),
                cpu.responsibilities(X, y)) < 1e-8
    assert gpu.bic(Xd, yd) == pytest.approx(cpu.bic(X, y), rel=1e-9)
    host = gpu.to_numpy()
    assert isinstance(host.coef_, np.ndarray)
    assert isinstance(gpu.coef_, cp.ndarray)  # the original is unchanged
    assert _rel(host.predict(X), cpu.predict(X)) < 1e-9
    draws, leaves = gpu.sample(Xd, random_state=0)  # sampling runs on the CPU
    assert draws.shape == y.shape and leaves.shape == (len(y),)
    # warm start from device attributes
    gpu.set_params(warm_start=True, max_iter=2)
    gpu.fit(Xd, yd, sample_weight=sw)
    assert isinstance(gpu.coef_, cp.ndarray)


def test_gpu_input_errors():
    X, y = _data()
    bad = cp.asarray(X)
    bad[3, 1] = cp.nan
    with pytest.raises(ValueError, match="NaN"):
        MixtureOfExpertsRegressor(n_experts=2).fit(bad, y)
    est = MixtureOfExpertsRegressor(n_experts=2, max_iter=3).fit(cp.asarray(X), y)
    with pytest.raises(ValueError, match="features"):
        est.predict(cp.asarray(X[:, :2]))
    with pytest.raises(NotImplementedError, match="device='cpu'"):
        MixtureOfExpertsRegressor(n_experts=2, expert="poisson",
                                  device="cuda").fit(X, np.abs(y))


def test_larger_fit_float32_headline_shape():
    """K=32 Böhning fit with d=64 in float32 (the benchmark's shape) follows
    the CPU to 1e-5 over 10 iterations, several chunks and row blocks. Above
    20,000 rows both initialise on the same random sample of rows (the CPU
    as a streamed fit, ``chunk_size``)."""
    rng = np.random.default_rng(5)
    n, d = 60_000, 64
    X = rng.normal(size=(n, d)).astype(np.float32)
    W = rng.normal(size=(d, 32))
    k = np.argmax(X @ W + rng.gumbel(size=(n, 32)), axis=1)
    B = rng.normal(size=(32, d)) / 4
    y = np.einsum("nd,nd->n", X, B[k]) + 0.5 * rng.normal(size=n)
    kw = dict(n_experts=32, gate_solver="bohning", max_iter=10, tol=0.0,
              random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cpu = MixtureOfExpertsRegressor(n_jobs=-1, chunk_size=20_000, **kw).fit(X, y)
        gpu = MixtureOfExpertsRegressor(device="cuda", **kw).fit(X, y)
    assert_allclose(gpu.log_likelihoods_, cpu.log_likelihoods_, rtol=1e-5)
    assert _rel(gpu.predict(X), cpu.predict(X)) < 1e-5
