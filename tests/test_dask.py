"""Dask input: the fit equals the in-memory fit from the same start.

Threaded scheduler and a ``LocalCluster(processes=False)``; real worker
processes are in ``test_dask_processes.py``. The reference is always the
in-memory fit of the same estimator on the same NumPy arrays, given the same
initial responsibilities (``init_params`` as labels), so the two EM paths
differ only by the order in which the blocks' statistics are added.
"""

import subprocess
import sys
import uuid
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skmoe import MixtureOfExpertsRegressor
from skmoe._backend import _chunked
from skmoe._backend._vector import add_vectors, from_vector, to_vector
from skmoe._hme import HierarchicalMixtureOfExpertsRegressor
from skmoe._model import FitData, MixtureModel
from skmoe._moe_classifier import MixtureOfExpertsClassifier

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N = 1200
CHUNK = 250  # 5 blocks, the last one short
LL_RTOL = 1e-10
PARAM_ATOL = 1e-8
PARAMS = ("coef_", "intercept_", "noise_variance_", "gate_coef_", "gate_intercept_")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 3))
    y = np.where(X[:, 0] > 0, 2 * X[:, 1] + 1, -X[:, 2]) + 0.1 * rng.normal(size=N)
    labels = rng.integers(0, 3, size=N)
    return X, y, labels


def _dask(a, chunk=CHUNK):
    return da.from_array(a, chunks=(chunk,) + a.shape[1:])


def _assert_same_fit(ref, est, names=PARAMS):
    ll, ll_ref = est.log_likelihoods_, ref.log_likelihoods_
    assert ll.shape == ll_ref.shape
    np.testing.assert_allclose(ll, ll_ref, rtol=LL_RTOL, atol=0)
    assert est.n_iter_ == ref.n_iter_
    for name in names:
        np.testing.assert_allclose(getattr(est, name), getattr(ref, name),
                                   rtol=0, atol=PARAM_ATOL, err_msg=name)


@pytest.fixture(scope="module")
def cluster_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                       processes=False, dashboard_address=":0")
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(params=["threads", "local-cluster"])
def scheduler(request):
    """Run the body under the threaded scheduler or an in-process cluster."""
    if request.param == "threads":
        with dask.config.set(scheduler="threads", num_workers=2):
            yield request.param
    else:
        client = request.getfixturevalue("cluster_client")
        with dask.config.set(scheduler=client):
            yield request.param


@pytest.mark.parametrize("solver", ["newton", "bohning"])
def test_fit_equals_in_memory(data, scheduler, solver):
    X, y, labels = data
    kw = dict(n_experts=3, init_params=labels, gate_solver=solver, max_iter=25,
              tol=0)
    ref = MixtureOfExpertsRegressor(**kw).fit(X, y)
    est = MixtureOfExpertsRegressor(**kw).fit(_dask(X), _dask(y))
    _assert_same_fit(ref, est)
    # the path is a real one: EM moved, and the last step was small
    assert ref.log_likelihoods_[-1] - ref.log_likelihoods_[0] > 0.1


def test_weighted_multi_output_fit(data, scheduler):
    X, y, labels = data
    Y = np.c_[y, X[:, 0] - y]
    sw = np.random.default_rng(1).uniform(0.2, 3.0, size=N)
    kw = dict(n_experts=3, init_params=labels, max_iter=15, tol=0)
    ref = MixtureOfExpertsRegressor(**kw).fit(X, Y, sample_weight=sw)
    est = MixtureOfExpertsRegressor(**kw).fit(_dask(X), _dask(Y),
                                              sample_weight=_dask(sw, 400))
    _assert_same_fit(ref, est)
    # weights given in memory with Dask X
    est2 = MixtureOfExpertsRegressor(**kw).fit(_dask(X), Y, sample_weight=sw)
    _assert_same_fit(ref, est2)


@pytest.mark.parametrize("solver", ["newton", "bohning"])
def test_hierarchical_fit_and_dask_init(data, solver):
    X, y, _ = data
    labels = np.random.default_rng(2).integers(0, 4, size=N)
    kw = dict(depth=2, branching=2, gate_solver=solver, max_iter=15, tol=0)
    ref = HierarchicalMixtureOfExpertsRegressor(init_params=labels, **kw).fit(X, y)
    # responsibilities given as a Dask array with other row blocks than X
    resp = np.eye(4)[labels] * 0.7 + 0.075
    ref_soft = HierarchicalMixtureOfExpertsRegressor(init_params=resp, **kw).fit(X, y)
    with dask.config.set(scheduler="threads"):
        est = HierarchicalMixtureOfExpertsRegressor(
            init_params=_dask(labels, 300), **kw).fit(_dask(X), _dask(y))
        est_soft = HierarchicalMixtureOfExpertsRegressor(
            init_params=_dask(resp, 500), **kw).fit(_dask(X), _dask(y))
    _assert_same_fit(ref, est)
    _assert_same_fit(ref_soft, est_soft)


@pytest.mark.parametrize("hierarchical", [False, True], ids=["flat", "hme"])
def test_classifier_fit_and_predict_proba(data, hierarchical):
    X, _, labels = data
    y = np.array(["no", "yes"])[(X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)]
    if hierarchical:
        from skmoe._hme import HierarchicalMixtureOfExpertsClassifier as cls

        kw = dict(depth=2, init_params=np.random.default_rng(6).integers(0, 4,
                                                                         size=N))
    else:
        cls, kw = MixtureOfExpertsClassifier, dict(n_experts=3, init_params=labels)
    kw.update(max_iter=10, tol=0)
    ref = cls(**kw).fit(X, y)
    with dask.config.set(scheduler="threads"):
        est = cls(**kw).fit(_dask(X), _dask(y))
        proba = est.predict_proba(_dask(X))
        pred = est.predict(_dask(X))
        assert isinstance(proba, da.Array) and proba.chunks[0] == (CHUNK,) * 4 + (200,)
        proba, pred = dask.compute(proba, pred)
    _assert_same_fit(ref, est, names=("coef_", "intercept_", "gate_coef_"))
    np.testing.assert_array_equal(est.classes_, ["no", "yes"])
    np.testing.assert_allclose(proba, ref.predict_proba(X), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(pred, ref.predict(X))


def test_kmeans_init_on_small_data_equals_in_memory(data):
    """With at most INIT_MAX_ROWS rows the sample is every row: same start."""
    X, y, _ = data
    kw = dict(n_experts=3, n_init=2, max_iter=10, tol=0, random_state=0)
    for init in ("kmeans", "random", "tree"):
        ref = MixtureOfExpertsRegressor(init_params=init, **kw).fit(X, y)
        with dask.config.set(scheduler="threads"):
            est = MixtureOfExpertsRegressor(init_params=init, **kw).fit(_dask(X),
                                                                        _dask(y))
        _assert_same_fit(ref, est)


def test_init_on_a_sample_without_pulling_the_data(data, monkeypatch):
    """Above INIT_MAX_ROWS rows only a random sample comes to the driver.

    The Dask fit then equals the streamed in-memory fit (``chunk_size``),
    which draws the same sample with the same seed.
    """
    X, y, _ = data
    monkeypatch.setattr("skmoe._base.INIT_MAX_ROWS", 300)
    fetched = []
    real = _chunked.FitData

    class Recorder(real):
        def __init__(self, X, Y, sw):
            fetched.append(X.shape[0])
            super().__init__(X, Y, sw)

    monkeypatch.setattr("skmoe._backend._dask.FitData", Recorder)
    kw = dict(n_experts=3, n_init=2, max_iter=10, tol=0, random_state=3)
    ref = MixtureOfExpertsRegressor(chunk_size=CHUNK, **kw).fit(X, y)
    with dask.config.set(scheduler="threads"):
        est = MixtureOfExpertsRegressor(**kw).fit(_dask(X), _dask(y))
    assert fetched == [300, 300]  # one sample per initialisation
    _assert_same_fit(ref, est)
    assert est.score(X, y) > 0.95


def test_threaded_scheduler_runs_blas_on_one_thread(data, monkeypatch):
    """Tasks of the threaded scheduler see BLAS limited to one thread."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    X, y, labels = data
    seen = []
    real = MixtureModel.block_statistics

    def spy(self, *args, **kwargs):
        info = threadpoolctl.threadpool_info()
        seen.append(max([m["num_threads"] for m in info
                         if m["user_api"] == "blas"] or [1]))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MixtureModel, "block_statistics", spy)
    kw = dict(n_experts=3, init_params=labels, max_iter=5, tol=0)
    ref = MixtureOfExpertsRegressor(**kw).fit(X, y)
    seen.clear()
    with dask.config.set(scheduler="threads", num_workers=2):
        est = MixtureOfExpertsRegressor(**kw).fit(_dask(X), _dask(y))
    assert len(seen) == 6 * 5  # (max_iter + 1) passes of five blocks
    assert set(seen) == {1}
    _assert_same_fit(ref, est)


def test_chunk_size_rechunks_dask_rows(data):
    X, y, labels = data
    kw = dict(n_experts=3, init_params=labels, max_iter=8, tol=0)
    ref = MixtureOfExpertsRegressor(**kw).fit(X, y)
    est = MixtureOfExpertsRegressor(chunk_size=100, **kw)
    from skmoe._backend._dask import dask_fit_data

    fit_data, _ = dask_fit_data(est, _dask(X, 600), _dask(y, 700), None, 100)
    assert fit_data.n_blocks == N // 100
    assert fit_data.X.chunks == ((100,) * 12, (3,))
    with dask.config.set(scheduler="threads"):
        est.fit(_dask(X, 600), _dask(y, 700))
    _assert_same_fit(ref, est)


# ----------------------------------------------------------------- inference
@pytest.fixture(scope="module")
def fitted(data):
    X, y, labels = data
    return MixtureOfExpertsRegressor(n_experts=3, init_params=labels,
                                     max_iter=20).fit(X, y)


def test_row_methods_are_lazy_and_blockwise(data, fitted):
    X, y, _ = data
    Xd = _dask(X)
    calls = {
        "predict": (fitted.predict(Xd), fitted.predict(X)),
        "predict_gate": (fitted.predict_gate(Xd), fitted.predict_gate(X)),
        "score_samples": (fitted.score_samples(Xd, _dask(y, 400)),
                          fitted.score_samples(X, y)),
        "responsibilities": (fitted.responsibilities(Xd, y),
                             fitted.responsibilities(X, y)),
    }
    mean, std = fitted.predict(Xd, return_std=True)
    calls["predict_std"] = (std, fitted.predict(X, return_std=True)[1])
    calls["predict_mean"] = (mean, fitted.predict(X))
    with dask.config.set(scheduler="sync"):
        for name, (lazy, ref) in calls.items():
            assert isinstance(lazy, da.Array), name
            assert lazy.chunks[0] == Xd.chunks[0], name
            assert lazy.shape == ref.shape, name
            np.testing.assert_allclose(lazy.compute(), ref, rtol=1e-12, atol=1e-12,
                                       err_msg=name)
        np.testing.assert_allclose(fitted.bic(Xd, y), fitted.bic(X, y), rtol=1e-12)


def test_row_methods_validate(data, fitted):
    X, y, _ = data
    msg = "X has 4 features, but MixtureOfExpertsRegressor is expecting 3"
    with pytest.raises(ValueError, match=msg):
        fitted.predict(_dask(np.c_[X, X[:, 0]]))
    bad = X.copy()
    bad[700, 1] = np.nan
    lazy = fitted.predict(_dask(bad))  # lazy: the block raises when computed
    with pytest.raises(ValueError, match="Input X contains NaN"):
        lazy.compute(scheduler="sync")
    with pytest.raises(ValueError, match="not fitted yet"):
        MixtureOfExpertsRegressor().predict(_dask(X))


# ---------------------------------------------------------------- validation
def _with(a, index, value):
    a = np.array(a, dtype=float)
    a[index] = value
    return a


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda X, y, w: (_with(X, (7, 1), np.nan), y, w), "Input X contains NaN"),
        (lambda X, y, w: (_with(X, (999, 0), np.inf), y, w),
         "Input X contains infinity"),
        (lambda X, y, w: (X, _with(y, 3, np.nan), w), "Input y contains NaN"),
        (lambda X, y, w: (X, y, -w), "Negative values in data passed to"),
        (lambda X, y, w: (X, y, 0 * w), "at least one non-zero"),
        (lambda X, y, w: (X, y, _with(w, 5, np.nan)),
         "Input sample_weight contains NaN"),
        (lambda X, y, w: (X, y, w[:-1]),
         r"sample_weight.shape == \(1199,\), expected \(1200,\)"),
        (lambda X, y, w: (X[:, 0], y, w), "Expected 2D array"),
        (lambda X, y, w: (X, y[:-1], w), "inconsistent numbers of samples"),
        (lambda X, y, w: (X[:2], y[:2], w[:2]), "n_samples=2 should be >= n_exp"),
        (lambda X, y, w: (X + 1j, y, w), "Complex data not supported"),
    ],
    ids=["X-nan", "X-inf", "y-nan", "sw-negative", "sw-zero", "sw-nan",
         "sw-length", "X-1d", "y-length", "too-few", "complex"],
)
def test_errors_match_in_memory(data, make, match):
    X, y, _ = data
    Xb, yb, wb = make(X, y, np.ones(N))
    with pytest.raises(ValueError, match=match):
        MixtureOfExpertsRegressor(n_experts=3).fit(Xb, yb, sample_weight=wb)
    with pytest.raises(ValueError, match=match):
        MixtureOfExpertsRegressor(n_experts=3).fit(
            da.from_array(Xb, chunks=400), da.from_array(yb, chunks=400),
            sample_weight=da.from_array(wb, chunks=400))


@pytest.mark.parametrize(
    "init, match",
    [(np.zeros(N), "integer array of shape"),
     (np.full(N, 3), r"must lie in \[0, 2\]"),
     (np.ones((N, 4)), r"shape \(n_samples, n_experts\) = \(1200, 3\)"),
     (-np.ones((N, 3)), "finite and >= 0"),
     (np.zeros((N, 3)), "positive sum")],
    ids=["float-labels", "label-too-big", "resp-shape", "resp-negative",
         "resp-zero-row"],
)
def test_bad_dask_initialisation(data, init, match):
    X, y, _ = data
    for given in (init, da.from_array(init, chunks=500)):
        with pytest.raises(ValueError, match=match):
            MixtureOfExpertsRegressor(n_experts=3, init_params=given).fit(
                _dask(X), _dask(y))


def test_fitted_attributes_and_warnings(data):
    X, y, labels = data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = MixtureOfExpertsRegressor(n_experts=3, init_params=labels,
                                        max_iter=2).fit(_dask(X), _dask(y))
    assert est.n_features_in_ == 3
    assert not hasattr(est, "feature_names_in_")
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)


def test_dask_data_frame_feature_names(data):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y, labels = data
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    kw = dict(n_experts=3, init_params=labels, max_iter=5, tol=0)
    ref = MixtureOfExpertsRegressor(**kw).fit(frame, y)
    est = MixtureOfExpertsRegressor(**kw).fit(
        dd.from_pandas(frame, npartitions=3), dd.from_pandas(pd.Series(y),
                                                             npartitions=3))
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b", "c"])
    _assert_same_fit(ref, est)


def test_estimator_experts_refuse_dask(data):
    from sklearn.tree import DecisionTreeRegressor

    X, y, _ = data
    est = MixtureOfExpertsRegressor(n_experts=2, expert=DecisionTreeRegressor())
    with pytest.raises(ValueError, match="needs every row in memory"):
        est.fit(_dask(X), _dask(y))


# ----------------------------------------------------------- plumbing
def _weighted_sums(X, Y, sw, r, scale):
    """A block function with a per-row extra array: sums that add up."""
    return (scale * (sw * r[:, 0]) @ X, [float(sw @ Y[:, 0]), None])


def test_map_statistics_with_row_arrays(data):
    """Both streamed data kinds sum a block function over aligned row blocks."""
    from skmoe._backend._chunked import ChunkedFitData
    from skmoe._backend._dask import dask_fit_data

    X, y, _ = data
    sw = np.random.default_rng(4).uniform(0.5, 2.0, size=N)
    r = np.random.default_rng(5).normal(size=(N, 1))
    expect = 3.0 * (sw * r[:, 0]) @ X
    est = MixtureOfExpertsRegressor(n_experts=3)
    with dask.config.set(scheduler="threads"):
        dask_data, _ = dask_fit_data(est, _dask(X), _dask(y), _dask(sw, 400))
        for rows in (r, _dask(r, 333)):
            vec, (ysum, none) = dask_data.map_statistics(_weighted_sums, 3.0,
                                                         rows=(rows,))
            np.testing.assert_allclose(vec, expect, rtol=1e-12)
            np.testing.assert_allclose(ysum, sw @ y, rtol=1e-12)
            assert none is None
    chunked = ChunkedFitData(X, y[:, None], sw, chunk_rows=128, n_jobs=2)
    vec, (ysum, _) = chunked.map_statistics(_weighted_sums, 3.0, rows=(r,))
    np.testing.assert_allclose(vec, expect, rtol=1e-12)
    np.testing.assert_allclose(ysum, sw @ y, rtol=1e-12)


def _block_sums(X, Y, sw):
    """A block function whose sums count every row: each block once, or it shows."""
    return ((sw * Y[:, 0]) @ X, float(X.shape[0]), float(sw.sum()))


def _stats_tasks(keys):
    """Keys of the per-group statistics tasks, by pass."""
    passes = {}
    for key in map(str, keys):
        if "-blocks-" in key:
            passes.setdefault(key.split("-blocks-")[0], []).append(key)
    return passes


def test_map_statistics_one_task_per_thread(data):
    """Local schedulers: one task per thread (groups of consecutive blocks)."""
    from dask.callbacks import Callback

    from skmoe._backend._dask import dask_fit_data

    X, y, _ = data
    est = MixtureOfExpertsRegressor(n_experts=3)
    with dask.config.set(scheduler="threads"):
        fit_data, _ = dask_fit_data(est, _dask(X), _dask(y), None)
    Y = fit_data.Y.compute()
    assert fit_data.n_blocks == 5
    for scheduler, n_workers, n_tasks in (("threads", 2, 2), ("threads", 3, 3),
                                          ("threads", 8, 5), ("sync", 4, 1)):
        keys = []
        with dask.config.set(scheduler=scheduler, num_workers=n_workers), \
                Callback(pretask=lambda key, dsk, state: keys.append(key)):
            for _ in range(2):
                s, rows, w = fit_data.map_statistics(_block_sums)
                np.testing.assert_allclose(s, Y[:, 0] @ X, rtol=1e-12)
                assert rows == N and w == N
        passes = _stats_tasks(keys)
        assert len(passes) == 2
        assert all(len(v) == n_tasks for v in passes.values()), (scheduler, passes)


def _placed(client, a, workers):
    """``a`` as a persisted Dask array whose row block ``i`` is on ``workers[i]``."""
    distributed = pytest.importorskip("distributed")
    name = f"placed-{uuid.uuid4().hex}"
    starts = range(0, len(a), CHUNK)
    futures = [client.submit(np.array, a[s:s + CHUNK], pure=False, workers=[w],
                             key=(name, i) + (0,) * (a.ndim - 1))
               for i, (s, w) in enumerate(zip(starts, workers))]
    with client.as_current():
        distributed.wait(futures)
    chunks = ((tuple(min(CHUNK, len(a) - s) for s in starts),)
              + tuple((n,) for n in a.shape[1:]))
    return da.Array({f.key: f for f in futures}, name, chunks, dtype=a.dtype), futures


def test_map_statistics_one_task_per_worker(data, cluster_client):
    """A Client: one task per worker over the blocks it holds; each block once."""
    distributed = pytest.importorskip("distributed")
    from skmoe._backend._dask import DaskFitData, _group_by_holder

    client = cluster_client
    w0, w1 = sorted(client.scheduler_info()["workers"])
    X, y, _ = data
    Y = y[:, None]
    sw = np.random.default_rng(6).uniform(0.5, 2.0, size=N)
    # uneven placement; some blocks' targets on the other worker
    Xd, fx = _placed(client, X, [w0, w0, w1, w0, w1])
    Yd, fy = _placed(client, Y, [w1, w0, w1, w0, w0])
    swd, fs = _placed(client, sw, [w0, w0, w1, w0, w1])
    client.replicate([fx[3]], n=2)  # block 3's X on both workers
    assert set(client.who_has([fx[3]])[fx[3].key]) == {w0, w1}
    # each block goes to the worker holding its X (and most of its arrays)
    blocks = list(zip(fx, fy, fs))
    groups = _group_by_holder(client.who_has(fx + fy + fs), blocks)
    assert groups == {w0: [0, 1, 3], w1: [2, 4]}
    fit_data = DaskFitData(Xd, Yd, swd, sw.sum())
    with dask.config.set(scheduler=client), \
            distributed.get_task_stream(client) as stream:
        for _ in range(3):
            s, rows, w = fit_data.map_statistics(_block_sums)
            np.testing.assert_allclose(s, (sw * y) @ X, rtol=1e-12)
            assert rows == N
            np.testing.assert_allclose(w, sw.sum(), rtol=1e-14)
    tasks = [t for t in stream.data if "-blocks-" in str(t["key"])]
    passes = _stats_tasks(t["key"] for t in tasks)
    assert len(passes) == 3 and all(len(v) == 2 for v in passes.values())
    # (pinned to the holders, loosely: the scheduler may still move a task)
    assert {t["worker"] for t in tasks} <= {w0, w1}
    # nothing of the passes is kept on the cluster
    assert not any("skmoe-stats" in str(k) for k in client.futures)


def test_import_skmoe_never_imports_dask():
    code = ("import sys, numpy as np; import skmoe; "
            "from skmoe import MixtureOfExpertsRegressor as M; "
            "X = np.random.default_rng(0).normal(size=(60, 2)); "
            "M(n_experts=2, max_iter=3).fit(X, X[:, 0]).predict(X); "
            "assert not [m for m in sys.modules if m.split('.')[0] == 'dask'], "
            "'dask imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_dask_gives_the_install_hint(monkeypatch):
    from skmoe._backend._dispatch import import_dask

    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(ImportError, match=r'pip install "skmoe\[dask\]"'):
        import_dask()


def test_statistics_vector_round_trip(data):
    """Stats of both gate solvers and a family's tuple statistics survive."""
    X, y, labels = data
    est = MixtureOfExpertsRegressor(n_experts=3, init_params=labels, max_iter=3)
    est.fit(X, y)
    for solver in ("newton", "bohning"):
        model = est._fitted_model()
        model.gate_solver = solver
        stats = model.statistics(FitData(X, y[:, None].copy(), np.ones(N)),
                                 est._params())
        vector, spec = to_vector(stats)
        back = from_vector(vector, spec)
        assert type(back) is type(stats) and back.loglik == stats.loglik
        np.testing.assert_array_equal(back.expert_grams, stats.expert_grams)
        np.testing.assert_array_equal(back.gate_grad, stats.gate_grad)
        if solver == "newton":
            assert back.node_grams is None
            for a, b in zip(back.hessians, stats.hessians):
                np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_array_equal(back.node_grams, stats.node_grams)
        # two blocks' vectors add up to the vector of the whole
        half = model.statistics(FitData(X[:500], y[:500, None].copy(),
                                        np.ones(500)), est._params())
        rest = model.statistics(FitData(X[500:], y[500:, None].copy(),
                                        np.ones(N - 500)), est._params())
        total, spec2 = add_vectors(to_vector(half), to_vector(rest))
        assert spec2 == spec
        np.testing.assert_allclose(total, vector, rtol=1e-12, atol=1e-9)
    nested = (np.arange(3.0), [np.ones((2, 2)), None], 4.0)
    v, s = to_vector(nested)
    out = from_vector(v, s)
    np.testing.assert_array_equal(out[0], nested[0])
    np.testing.assert_array_equal(out[1][0], nested[1][0])
    assert out[1][1] is None and out[2] == 4.0
    with pytest.raises(ValueError, match="different structures"):
        add_vectors((v, s), to_vector((np.arange(3.0), [np.ones((2, 2)), None])))
