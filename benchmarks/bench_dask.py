"""Cost of one EM iteration on Dask input against the in-memory path.

One EM iteration is one statistics pass (E-step and sufficient statistics of
every row) plus the M-step on the driver. The script times it, median of
``--reps`` runs, for:

- the in-memory path (``FitData``) with 1 and 2 threads (``n_jobs``);
- Dask's threaded scheduler with 1 and 2 workers (``--workers``);
- a ``LocalCluster`` of 1 and 2 worker processes (one thread each);

at n = 2,000,000 rows x 10 features, 8 experts, 20 row blocks (the data are
generated on the workers; the in-memory path gets the same values), then the
fixed cost per iteration of each scheduler on small data (20 blocks of 100
rows), and the size of the statistics vector each block sends for a few
model sizes. It prints Markdown tables and the load average (the machine may
be shared: medians, and the load, say how far to trust the numbers).

Usage (from the repository root):

    python benchmarks/bench_dask.py            # the issue's size
    python benchmarks/bench_dask.py --quick    # 200,000 rows, a smoke run
    python benchmarks/bench_dask.py --workers 1,2,4,8   # scaling on more cores
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dask  # noqa: E402
import dask.array as da  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from skmoe import MixtureOfExpertsRegressor  # noqa: E402
from skmoe._backend._dask import dask_fit_data  # noqa: E402
from skmoe._backend._vector import to_vector  # noqa: E402
from skmoe._hme import HierarchicalMixtureOfExpertsRegressor  # noqa: E402
from skmoe._model import FitData  # noqa: E402


def _piecewise(X, E, G, B):
    """y of a mixture of linear experts chosen by the argmax of ``X @ G``."""
    k = np.argmax(X @ G, axis=1)
    X1 = np.c_[X, np.ones(X.shape[0])]
    return np.einsum("nd,nd->n", X1, B[k]) + 0.3 * E[:, 0]


def dask_data(n, d, k, n_blocks, seed=0):
    """Lazy (X, y): generated block by block wherever the graph runs."""
    rng = np.random.default_rng(seed)
    G, B = rng.normal(size=(d, k)), rng.normal(size=(k, d + 1))
    gen = da.random.default_rng(seed)
    rows = -(-n // n_blocks)
    X = gen.normal(size=(n, d), chunks=(rows, d))
    E = gen.normal(size=(n, 1), chunks=(rows, 1))
    y = da.map_blocks(_piecewise, X, E, G, B, drop_axis=1, dtype=float)
    return X, y


def paired_times(ref, fn, reps):
    """Medians of ``ref()`` and ``fn()`` timed alternately, their ratio's median
    and range.

    On a shared machine the load drifts; alternating the two puts both under
    the same load, and the median of the per-pair ratios is the robust number.
    """
    ref(), fn()  # warm-up (JIT, caches, worker imports)
    a, b = [], []
    for _ in range(reps):
        for f, out in ((ref, a), (fn, b)):
            t = time.perf_counter()
            f()
            out.append(time.perf_counter() - t)
    a, b = np.array(a), np.array(b)
    r = b / a
    return (float(np.median(a)), float(np.median(b)), float(np.median(r)),
            float(r.min()), float(r.max()))


def iteration(model, data, params):
    stats = model.statistics(data, params)
    model.m_step(stats, params)


def setup_model(X, y, k):
    """A model and realistic parameters (a short fit on 20,000 rows)."""
    est = MixtureOfExpertsRegressor(n_experts=k, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X[:20_000], y[:20_000])
    model = est._model(X.shape[1], 1, np.var(y[:20_000])[None], X.shape[0])
    return model, est._params()


def bench_iteration(n, d, k, n_blocks, reps, title, workers=(1, 2)):
    Xd, yd = dask_data(n, d, k, n_blocks)
    with dask.config.set(scheduler="threads"):
        X, y = dask.compute(Xd, yd)
    model, params = setup_model(X, y, k)
    mem = FitData(X, y[:, None].copy(), np.ones(n))
    est = MixtureOfExpertsRegressor(n_experts=k)

    def in_memory(n_jobs):
        def run():
            model.n_jobs = n_jobs
            iteration(model, mem, params)
        return run

    def on_dask(data):
        def run():
            model.n_jobs = None
            iteration(model, data, params)
        return run

    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        rows.append(("in memory, n_jobs=2", "in memory, n_jobs=1",
                     *paired_times(in_memory(1), in_memory(2), reps)))
        for w in workers:
            with dask.config.set(scheduler="threads", num_workers=w):
                data, _ = dask_fit_data(est, Xd, yd, None)
                rows.append((f"Dask threaded scheduler, {w} worker(s)",
                             f"in memory, n_jobs={w}",
                             *paired_times(in_memory(w), on_dask(data), reps)))
        for w in workers:
            with LocalCluster(n_workers=w, threads_per_worker=1, processes=True,
                              host="127.0.0.1", dashboard_address=":0") as cluster, \
                    Client(cluster) as client, dask.config.set(scheduler=client):
                data, _ = dask_fit_data(est, Xd, yd, None)
                rows.append((f"LocalCluster, {w} worker process(es)",
                             f"in memory, n_jobs={w}",
                             *paired_times(in_memory(w), on_dask(data), reps)))
                del data
    print(f"\n### {title}: n={n:,} x d={d}, {k} experts, {n_blocks} blocks, "
          f"solver={model.gate_solver}, median of {reps} alternating pairs\n")
    print("| path | s / iteration | reference | reference s / iteration | "
          "ratio (median, min-max) | overhead (s) |")
    print("|---|---|---|---|---|---|")
    for name, ref_name, t_ref, t, ratio, lo, hi in rows:
        print(f"| {name} | {t:.4f} | {ref_name} | {t_ref:.4f} | {ratio:.3f} "
              f"({lo:.2f}-{hi:.2f}) | {t - t_ref:+.4f} |")
    return rows


def vector_sizes():
    """Bytes each block sends per pass, for a few model sizes."""
    rng = np.random.default_rng(0)
    cases = [
        ("flat, 8 experts, d=10, newton", MixtureOfExpertsRegressor(
            n_experts=8, gate_solver="newton"), 10),
        ("flat, 8 experts, d=10, bohning", MixtureOfExpertsRegressor(
            n_experts=8, gate_solver="bohning"), 10),
        ("flat, 12 experts, d=10, auto (newton, dim 121)",
         MixtureOfExpertsRegressor(n_experts=12), 10),
        ("flat, 13 experts, d=10, auto (bohning, dim 132)",
         MixtureOfExpertsRegressor(n_experts=13), 10),
        ("flat, 8 experts, d=100, auto (bohning)",
         MixtureOfExpertsRegressor(n_experts=8), 100),
        ("HME depth 4 x 2 (16 experts, 15 gates), d=10, auto (newton)",
         HierarchicalMixtureOfExpertsRegressor(depth=4), 10),
        ("HME depth 4 x 2, d=100, auto (newton, dim 101)",
         HierarchicalMixtureOfExpertsRegressor(depth=4), 100),
    ]
    print("\n### statistics vector per block\n")
    print("| model | solver | floats | bytes |")
    print("|---|---|---|---|")
    for name, est, d in cases:
        X = rng.normal(size=(50, d))
        Y = rng.normal(size=(50, 1))
        sw = np.ones(50)
        model = est._model(d, 1, np.ones(1), 50)
        resp = rng.dirichlet(np.ones(model.tree.n_leaves), size=50)
        params, _ = model.init_from_resp(FitData(X, Y, sw), resp)
        vec, _ = to_vector(model.block_statistics(X, Y, sw, params))
        print(f"| {name} | {model.gate_solver} | {vec.size:,} | "
              f"{vec.nbytes / 1e3:,.1f} kB |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--workers", default="1,2",
                        help="comma-separated worker counts (default 1,2)")
    args = parser.parse_args()
    workers = tuple(int(w) for w in args.workers.split(","))
    n = 200_000 if args.quick else 2_000_000
    print(f"load average before: {os.getloadavg()}  ({os.cpu_count()} CPUs)")
    bench_iteration(n, 10, 8, 20, args.reps, "per iteration", workers)
    bench_iteration(2_000, 10, 8, 20, max(args.reps, 15), "fixed cost (small data)",
                    workers)
    vector_sizes()
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
