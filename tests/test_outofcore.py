"""Out-of-core fits: a memory-mapped X is streamed in chunks, never copied.

The streamed fit (``ChunkedFitData``) must give the in-memory fit's numbers
from the same start, and its peak memory (measured with tracemalloc, which
sees NumPy's allocations but not the pages of the mapped file) must stay far
below the size of X.
"""

import tracemalloc

import numpy as np
import pytest

from skmoe import MixtureOfExpertsRegressor
from skmoe._backend._dispatch import is_memmap
from skmoe._hme import HierarchicalMixtureOfExpertsRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

PARAMS = ("coef_", "intercept_", "noise_variance_", "gate_coef_", "gate_intercept_")


def _memmap(path, X):
    out = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    out[:] = X
    out.flush()
    return np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)


def _assert_same_fit(ref, est):
    np.testing.assert_allclose(est.log_likelihoods_, ref.log_likelihoods_,
                               rtol=1e-10, atol=0)
    for name in PARAMS:
        np.testing.assert_allclose(getattr(est, name), getattr(ref, name),
                                   rtol=0, atol=1e-8, err_msg=name)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4))
    y = np.where(X[:, 0] > 0, X[:, 1] + 2, -X[:, 2]) + 0.1 * rng.normal(size=3000)
    return X, y, rng.integers(0, 3, size=3000)


@pytest.mark.parametrize("solver", ["newton", "bohning"])
def test_memmap_fit_equals_in_memory(tmp_path, data, solver):
    X, y, labels = data
    Xm = _memmap(tmp_path / "X.dat", X)
    kw = dict(n_experts=3, init_params=labels, gate_solver=solver, max_iter=20,
              tol=0)
    ref = MixtureOfExpertsRegressor(**kw).fit(X, y)
    est = MixtureOfExpertsRegressor(chunk_size=700, **kw).fit(Xm, y)
    _assert_same_fit(ref, est)
    # a memory map streams even without chunk_size (by STREAM_CHUNK_ROWS)
    _assert_same_fit(ref, MixtureOfExpertsRegressor(**kw).fit(Xm, y))


def test_chunk_size_on_arrays_in_memory(data):
    """``chunk_size`` streams NumPy arrays too; threads do not change it."""
    X, y, _ = data
    labels = np.random.default_rng(1).integers(0, 4, size=X.shape[0])
    sw = np.random.default_rng(2).uniform(0.5, 2.0, size=X.shape[0])
    kw = dict(depth=2, init_params=labels, max_iter=10, tol=0)
    ref = HierarchicalMixtureOfExpertsRegressor(**kw).fit(X, y, sample_weight=sw)
    for n_jobs in (1, 2):
        est = HierarchicalMixtureOfExpertsRegressor(chunk_size=512, n_jobs=n_jobs,
                                                    **kw)
        _assert_same_fit(ref, est.fit(X, y, sample_weight=sw))


def test_float32_memmap_is_cast_chunk_by_chunk(tmp_path, data):
    X, y, labels = data
    X32 = X.astype(np.float32)
    kw = dict(n_experts=3, init_params=labels, max_iter=10, tol=0)
    ref = MixtureOfExpertsRegressor(**kw).fit(X32, y)
    est = MixtureOfExpertsRegressor(**kw).fit(_memmap(tmp_path / "X32.dat", X32), y)
    _assert_same_fit(ref, est)


def test_is_memmap_sees_views(tmp_path, data):
    Xm = _memmap(tmp_path / "X.dat", data[0])
    assert is_memmap(Xm) and is_memmap(Xm[10:20]) and is_memmap(Xm[:, :2])
    assert not is_memmap(np.array(Xm)) and not is_memmap([1.0])


def test_memmap_fit_peak_memory_is_bounded(tmp_path, monkeypatch):
    """A 25.6 MB memory map fitted in chunks of 8192 rows allocates < 7.7 MB.

    What remains is bounded by the chunk, the initialisation sample (its size
    lowered here to 4,000 rows, from 20,000, to keep the test small) and a few
    vectors of ``n`` values for ``y``: no copy of X and no ``n x K`` array.
    """
    monkeypatch.setattr("skmoe._base.INIT_MAX_ROWS", 4000)
    rng = np.random.default_rng(3)
    n, d = 200_000, 16
    Xm = np.memmap(tmp_path / "big.dat", dtype=np.float64, mode="w+", shape=(n, d))
    for a in range(0, n, 25_000):
        Xm[a:a + 25_000] = rng.normal(size=(25_000, d))
    Xm.flush()
    y = np.where(Xm[:, 0] > 0, 3 * Xm[:, 0] + 2, -Xm[:, 0]) + 0.1 * rng.normal(size=n)
    del Xm
    X = np.memmap(tmp_path / "big.dat", dtype=np.float64, mode="r", shape=(n, d))
    MixtureOfExpertsRegressor(n_experts=3, max_iter=1).fit(X[:300], y[:300])  # JIT
    est = MixtureOfExpertsRegressor(n_experts=2, init_params="tree", max_iter=8,
                                    tol=0, random_state=0, chunk_size=8192)
    tracemalloc.start()
    try:
        est.fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.3 * X.nbytes, (peak, X.nbytes)
    # and the fit is a real one: the two linear pieces are found
    assert est.score(X[:20_000], y[:20_000]) > 0.98
