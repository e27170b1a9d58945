"""Speed of skmoe's EM against the plain-NumPy reference EM.

Prints tables of per-phase time per EM iteration, fits to a tolerance from the
same initial labels, numba compile time and peak memory, with ratios against
``ref_moe_em.py`` run on the same data in the same run, and against the targets
of the foundation issue.

Usage (from the repository root; the yardstick lives in ../shared/bench):

    python benchmarks/bench_em.py                 # n=1e5 fit + n=1e6 iteration
    python benchmarks/bench_em.py --quick         # smaller sizes, a smoke run
    python benchmarks/bench_em.py --bench-dir ../shared/bench --reps 5
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skmoe import MixtureOfExpertsRegressor  # noqa: E402
from skmoe._model import FitData  # noqa: E402


def data_file(bench_dir, out_dir, n, d, k):
    path = out_dir / f"moe_n{n}_d{d}_k{k}.npz"
    if not path.exists():
        subprocess.run([sys.executable, str(bench_dir / "gen_data.py"), "--sizes",
                        f"{n},{d},{k}", "--outdir", str(out_dir)], check=True,
                       stdout=subprocess.DEVNULL)
    return path


def run_reference(bench_dir, path, extra):
    cmd = [sys.executable, str(bench_dir / "ref_moe_em.py"), str(path),
           "--threads", "1", *extra]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def cpu_wall(fn):
    c, t = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c, time.perf_counter() - t


def phase_times(est, X, y, reps):
    """Median seconds of one E-step pass and of each M-step part."""
    model = est._model(X.shape[1], 1, np.var(y)[None], X.shape[0])
    params = est._params()
    data = FitData(np.ascontiguousarray(X), y[:, None].copy(), np.ones(len(y)))
    model.statistics(data, params)  # warm caches (root Gram, JIT)
    e, ex, g = [], [], []
    for _ in range(reps):
        stats, _, t = cpu_wall(lambda: model.statistics(data, params))
        e.append(t)
        _, _, t = cpu_wall(lambda: model.experts.m_step(stats.expert_grams,
                                                        params.experts))
        ex.append(t)
        _, _, t = cpu_wall(lambda: model.gate_step(stats, params.gate))
        g.append(t)
    return model.gate_solver, float(np.median(e)), float(np.median(ex)), float(
        np.median(g))


def compile_time():
    """First-call compile time in a fresh process with an empty numba cache."""
    code = (
        "import time, numpy as np; t=time.perf_counter();"
        "from skmoe import MixtureOfExpertsRegressor as M;"
        "rng=np.random.default_rng(0); X=rng.normal(size=(300,2));"
        "y=X[:,0]+rng.normal(size=300); t1=time.perf_counter();"
        "M(2,max_iter=3,random_state=0).fit(X,y); t2=time.perf_counter();"
        "M(2,max_iter=3,random_state=0).fit(X,y); t3=time.perf_counter();"
        "print(t1-t, t2-t1, t3-t2)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        cold = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                              capture_output=True, text=True).stdout.split()
        warm = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                              capture_output=True, text=True).stdout.split()
    return [float(v) for v in cold], [float(v) for v in warm]


def table(title, header, rows):
    print(f"\n{title}")
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows))
              for i, h in enumerate(header)]
    print("  ".join(str(h).rjust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  ".join(str(v).rjust(w) for v, w in zip(r, widths)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-dir", default=str(ROOT.parent / "shared" / "bench"))
    ap.add_argument("--data-dir", default=str(ROOT / "benchmarks" / "data"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-large", action="store_true")
    a = ap.parse_args()
    bench_dir, data_dir = Path(a.bench_dir), Path(a.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()[0]:.2f}; cores: {os.cpu_count()}")

    cold, warm = compile_time()
    table("numba compile (fresh process; target: first call <= 2 s)",
          ["cache", "import s", "first fit s", "second fit s"],
          [["empty", *(f"{v:.2f}" for v in cold)],
           ["filled", *(f"{v:.2f}" for v in warm)]])

    # --- n=1e5, d=10, K=4: fit to tol from the file's initial labels --------
    n, d, k = (20_000, 5, 4) if a.quick else (100_000, 10, 4)
    path = data_file(bench_dir, data_dir, n, d, k)
    D = np.load(path)
    X, y, z0 = D["X"], D["y"], D["z_init"]
    ref = run_reference(bench_dir, path, ["--tol", "1e-6"])
    for solver in ("newton", "bohning"):  # load the compiled kernels first
        MixtureOfExpertsRegressor(k, max_iter=2, gate_solver=solver,
                                  random_state=0).fit(X[:3000], y[:3000])
    rows = [["reference (numpy, newton)", ref["iters"], f"{ref['loglik']:.6f}", "",
             f"{ref['cpu_s']:.3f}", f"{ref['wall_s']:.3f}", "1.0"]]
    for solver in ("newton", "bohning"):
        for n_jobs in (1, 2):
            est = MixtureOfExpertsRegressor(
                k, alpha=0.0, gate_alpha=0.0, init_params=z0, tol=1e-6 * abs(
                    ref["loglik"]) / n, max_iter=2000, gate_solver=solver,
                n_jobs=n_jobs)
            _, cpu, wall = cpu_wall(lambda: est.fit(X, y))
            ll = est.log_likelihood_ * n
            rel = abs(ll - ref["loglik"]) / abs(ref["loglik"])
            rows.append([f"skmoe {solver}, n_jobs={n_jobs}", est.n_iter_,
                         f"{ll:.6f}", f"{rel:.1e}",
                         f"{cpu:.3f}", f"{wall:.3f}", f"{ref['cpu_s'] / cpu:.1f}"])
    table(f"fit to tol 1e-6 (flexmix rule) from z_init, n={n}, d={d}, K={k} "
          "(target: same ll to 1e-6, >= 10x less CPU time)",
          ["model", "iters", "final ll", "rel diff", "CPU s", "wall s",
           "CPU ratio"], rows)

    rows = []
    for solver in ("newton", "bohning"):
        est = MixtureOfExpertsRegressor(k, alpha=0.0, gate_alpha=0.0, init_params=z0,
                                        max_iter=3, gate_solver=solver)
        est.fit(X, y)
        s, e, ex, g = phase_times(est, X, y, a.reps)
        rows.append([s, f"{1e3 * e:.1f}", f"{1e3 * ex:.2f}", f"{1e3 * g:.2f}",
                     f"{1e3 * (e + ex + g):.1f}"])
    rp = ref["phase_s"]
    rows.append(["reference", f"{1e3 * rp['e_step']:.1f}",
                 f"{1e3 * rp['m_experts']:.2f}", f"{1e3 * rp['m_gate']:.2f}",
                 f"{1e3 * ref['s_per_iter']:.1f}"])
    table(f"per-phase CPU ms per EM iteration, n={n} (E-step = the fused pass "
          "with all sums; medians)", ["gate", "E-step+stats", "expert M",
                                      "gate M", "total"], rows)
    if a.skip_large:
        return

    # --- n=1e6, d=10, K=8: time per iteration, memory, plateau --------------
    n, d, k = (200_000, 10, 8) if a.quick else (1_000_000, 10, 8)
    path = data_file(bench_dir, data_dir, n, d, k)
    D = np.load(path)
    X, y, z0 = D["X"], D["y"], D["z_init"]
    ref = run_reference(bench_dir, path, ["--iters", "3"])
    rows = []
    for solver, n_jobs in (("newton", 1), ("newton", 2), ("bohning", 1),
                           ("bohning", 2)):
        est = MixtureOfExpertsRegressor(k, init_params=z0, max_iter=2,
                                        gate_solver=solver, n_jobs=n_jobs)
        est.fit(X, y)
        _, e, ex, g = phase_times(est, X, y, a.reps)
        it = e + ex + g
        rows.append([f"skmoe {solver}, n_jobs={n_jobs}", f"{1e3 * e:.0f}",
                     f"{1e3 * ex:.1f}", f"{1e3 * g:.1f}", f"{it:.3f}",
                     f"{ref['s_per_iter'] / it:.1f}",
                     "yes" if it <= 0.3 else "no", "yes" if it <= 0.1 else "no"])
    rows.append(["reference newton", "", "", "", f"{ref['s_per_iter']:.3f}", "1.0",
                 "", ""])
    table(f"one EM iteration, n={n}, d={d}, K={k} (wall s; 'auto' picks newton "
          "here; target <= 0.3 s, stretch <= 0.1 s)",
          ["model", "E ms", "expert M ms", "gate M ms", "s/iter", "ratio", "<=0.3",
           "<=0.1"], rows)

    tracemalloc.start()
    est = MixtureOfExpertsRegressor(k, init_params=z0, max_iter=3, n_jobs=2)
    est.fit(X, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    budget = X.nbytes + 3 * n * k * 8
    table("peak memory of fit beyond the inputs (tracemalloc; target <= X + 3 n K "
          "doubles)", ["peak MB", "X MB", "budget MB", "within"],
          [[f"{peak / 2**20:.0f}", f"{X.nbytes / 2**20:.0f}",
            f"{budget / 2**20:.0f}", "yes" if peak <= budget else "no"]])

    rows = []
    for label, init in (("kmeans (default)", "kmeans"), ("z_init labels", z0)):
        est = MixtureOfExpertsRegressor(k, init_params=init, random_state=0,
                                        n_jobs=2, max_iter=1000)
        _, cpu, wall = cpu_wall(lambda: est.fit(X, y))
        pred = est.predict(D["X_test"])
        rmse = float(np.sqrt(np.mean((pred - D["y_test"]) ** 2)))
        rows.append([label, est.n_iter_, est.converged_, f"{est.log_likelihood_:.6f}",
                     f"{rmse:.4f}", f"{float(D['bayes_rmse']):.4f}", f"{wall:.1f}"])
    table(f"default stopping rule on n={n} (plateau check: test RMSE vs Bayes)",
          ["init", "iters", "converged", "mean ll", "test RMSE", "Bayes RMSE",
           "wall s"], rows)


if __name__ == "__main__":
    main()
