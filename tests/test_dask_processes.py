"""Dask fits on real worker processes (127.0.0.1): pickling and imports.

Everything the tasks need (the model, its parameters, the kernels) travels to
two worker processes and is imported there; the fit must still equal the
in-memory fit from the same start. One cluster for the module, closed at the
end.
"""

import numpy as np
import pytest

from skmoe import MixtureOfExpertsRegressor
from skmoe._hme import HierarchicalMixtureOfExpertsRegressor

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N = 1000


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                       processes=True, host="127.0.0.1",
                                       dashboard_address=":0")
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(N, 2))
    y = np.where(X[:, 0] > 0, 3 * X[:, 1], 1 - X[:, 1]) + 0.1 * rng.normal(size=N)
    return X, y, rng.integers(0, 4, size=N)


@pytest.mark.parametrize("estimator", [
    MixtureOfExpertsRegressor(n_experts=4, max_iter=15, tol=0),
    HierarchicalMixtureOfExpertsRegressor(depth=2, gate_solver="bohning",
                                          max_iter=15, tol=0),
], ids=["flat-newton", "hme-bohning"])
def test_fit_on_worker_processes_equals_in_memory(client, data, estimator):
    X, y, labels = data
    ref = estimator.set_params(init_params=labels).fit(X, y)
    ref_ll = ref.log_likelihoods_.copy()
    ref_coef, ref_gate = ref.coef_.copy(), ref.gate_coef_.copy()
    Xd = da.from_array(X, chunks=(300, 2))
    with client.as_current(), distributed.get_task_stream(client) as tasks:
        est = estimator.fit(Xd, da.from_array(y, chunks=300))
        pred = est.predict(Xd).compute()
    # the blocks' statistics were computed in the worker processes, one task
    # per worker (that holds blocks) per pass
    stats = [t for t in tasks.data if "-blocks-" in str(t["key"])]
    workers = {t["worker"] for t in stats}
    assert workers and workers <= set(client.scheduler_info()["workers"])
    passes = {}
    for t in stats:
        name = str(t["key"]).split("-blocks-")[0]
        passes[name] = passes.get(name, 0) + 1
    assert len(passes) >= est.n_iter_
    assert max(passes.values()) <= 2  # 4 blocks, 2 workers
    np.testing.assert_allclose(est.log_likelihoods_, ref_ll, rtol=1e-10, atol=0)
    np.testing.assert_allclose(est.coef_, ref_coef, rtol=0, atol=1e-8)
    np.testing.assert_allclose(est.gate_coef_, ref_gate, rtol=0, atol=1e-8)
    np.testing.assert_allclose(pred, est.predict(X), rtol=1e-12, atol=1e-12)
