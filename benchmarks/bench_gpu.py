"""GPU benchmarks of skmoe's EM (CuPy backend), against its rooflines and the CPU.

Measures, on the machine it runs on:

- the ceilings: device-to-device copy bandwidth, SGEMM and DGEMM rates;
- host -> device transfer of ``X`` (pinned staging, and plain ``cupy.asarray``);
- the headline EM iteration (n=1e7, d=64, K=32, float32, Böhning gate steps)
  and its float64 twin, with a per-phase table against each phase's roofline;
- variants of the Gram kernel (threads per block, unrolling, plain cuBLAS);
- the CPU path (numba, all cores) on the same data at a tenth of the rows;
- prediction throughput of the fitted model;
- whole fits CPU (one thread, the default) vs GPU at growing sizes, for the
  ``device="auto"`` threshold.

Usage (from the repository root, on a machine with a CUDA GPU and CuPy):

    python benchmarks/bench_gpu.py                   # everything
    python benchmarks/bench_gpu.py --quick           # n=1e6 smoke run
    python benchmarks/bench_gpu.py --out results.json
"""

import argparse
import json
import os
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cupy as cp  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from skmoe import MixtureOfExpertsRegressor  # noqa: E402
from skmoe._backend import _cupy  # noqa: E402
from skmoe._model import FitData  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)
RESULTS = {}


def log(*args):
    print(*args, flush=True)


def sync():
    cp.cuda.Device().synchronize()


def wall(fn, reps=3, warm=1):
    """Median wall seconds of ``fn()`` (synchronised), after ``warm`` calls."""
    for _ in range(warm):
        fn()
        sync()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


# ------------------------------------------------------------------ ceilings
def ceilings():
    a = cp.random.random(1 << 28, dtype=cp.float32)  # 1 GiB
    b = cp.empty_like(a)
    t = wall(lambda: cp.copyto(b, a), reps=10)
    bw = 2 * a.nbytes / t

    rates = {}
    for dt in (cp.float32, cp.float64):
        A = cp.random.random((8192, 8192), dtype=dt)
        B = cp.random.random((8192, 8192), dtype=dt)
        t = wall(lambda: A @ B, reps=5)
        rates[np.dtype(dt).name] = 2 * 8192**3 / t

    RESULTS["ceilings"] = dict(copy_Bps=bw, sgemm=rates["float32"],
                               dgemm=rates["float64"])
    log(f"ceilings: copy {bw / 1e12:.2f} TB/s, SGEMM {rates['float32'] / 1e12:.1f} "
        f"TFLOP/s, DGEMM {rates['float64'] / 1e12:.1f} TFLOP/s")
    return bw, rates


# ---------------------------------------------------------------------- data
def host_normal(n, d, seed, dtype=np.float32, threads=16):
    out = np.empty((n, d), dtype=dtype)
    seeds = np.random.SeedSequence(seed).spawn(threads)
    edges = np.linspace(0, n, threads + 1).astype(int)

    def fill(t):
        rng = np.random.default_rng(seeds[t])
        out[edges[t]:edges[t + 1]] = rng.standard_normal(
            (edges[t + 1] - edges[t], d), dtype=dtype)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(fill, range(threads)))
    return out


def moe_targets(Xd, K, seed):
    """y from a mixture of K linear experts under a softmax gate (on device)."""
    rs = cp.random.RandomState(seed)
    d = Xd.shape[1]
    W = (rs.standard_normal((d, K)) * (2 / np.sqrt(d))).astype(Xd.dtype)
    B = (rs.standard_normal((d, K)) / np.sqrt(d)).astype(Xd.dtype)
    logits = Xd @ W - cp.log(-cp.log(rs.random_sample((Xd.shape[0], K))))
    k = cp.argmax(logits, axis=1)
    mu = cp.take_along_axis(Xd @ B, k[:, None], axis=1)[:, 0]
    return mu + 0.3 * rs.standard_normal(Xd.shape[0]).astype(Xd.dtype) + k * 0.5


def transfers(X):
    t_staged = wall(lambda: _cupy.to_device(X), reps=2, warm=1)
    t0 = time.perf_counter()
    tmp = cp.asarray(X)
    sync()
    t_plain = time.perf_counter() - t0
    del tmp
    RESULTS["transfer"] = dict(bytes=X.nbytes, staged_s=t_staged, plain_s=t_plain)
    log(f"host->device of X ({X.nbytes / 1e9:.2f} GB): staged "
        f"{X.nbytes / t_staged / 1e9:.1f} GB/s, cupy.asarray "
        f"{X.nbytes / t_plain / 1e9:.1f} GB/s")


# ------------------------------------------------------------------ EM timing
def em_setup(Xd, yd, K, **engine_options):
    """A short GPU fit (compiles the kernels), then its model and data."""
    est = MixtureOfExpertsRegressor(n_experts=K, gate_solver="bohning", max_iter=2,
                                    tol=0.0, random_state=0)
    t0 = time.perf_counter()
    est.fit(Xd, yd)
    fit_s = time.perf_counter() - t0
    data, y_scale = est._fit_data(Xd, yd, None)
    if engine_options:
        data._engine_options.update(engine_options)
    model = est._model(Xd.shape[1], 1, y_scale, Xd.shape[0])
    return est, model, data, fit_s


def em_iterations(model, data, params, reps=5):
    """Median seconds of one EM iteration (host M-step + device pass)."""
    engine = data.engine(model)
    min_mass = 1e-10 * data.total_weight
    stats = engine.statistics(params)
    times = []
    for _ in range(reps + 1):
        t0 = time.perf_counter()
        params, _ = model.m_step(stats, params, min_mass)
        stats = engine.statistics(params)
        times.append(time.perf_counter() - t0)
    return float(np.median(times[1:])), params, stats


def phases(model, data, params, stats, reps=3):
    """Per-phase seconds: device phases from events, host M-step from clocks."""
    engine = data.engine(model)
    min_mass = 1e-10 * data.total_weight
    acc = {}
    host_e = host_g = 0.0
    for _ in range(reps):
        t0 = time.perf_counter()
        model.experts.m_step(stats.expert_grams, params.experts, min_mass)
        host_e += time.perf_counter() - t0
        t0 = time.perf_counter()
        model.gate_step(stats, params.gate)
        host_g += time.perf_counter() - t0
        engine.statistics(params, timing=acc)
    out = {k: v / reps for k, v in acc.items()}
    out["host_experts"] = host_e / reps
    out["host_gate"] = host_g / reps
    return out


def rooflines(n, d, K, m, size, bw, rate):
    """Seconds of each phase at the measured ceilings (see the closing note)."""
    p, q, C = d + 1, d + 1 + m, K
    ncol = K * m + C
    cols = K + 1  # experts and the root's Böhning Gram
    estep = max(2 * n * d * ncol / rate,
                n * (d * size + m * size + 8 + cols * size + C * size + 8) / bw)
    experts = 2 * n * K * q * q / rate
    gate = max(2 * n * p * C / rate, n * (d + C) * size / bw)
    return dict(estep=estep, experts=experts, gate=gate)


def headline(X_host, n, d, K, bw, rates, variants=True):
    Xd = _cupy.to_device(X_host)
    yd = moe_targets(Xd, K, seed=1)
    out = {}
    est32 = None
    for dtype in ("float32", "float64"):
        Xt = Xd if dtype == "float32" else Xd.astype(cp.float64)
        yt = yd.astype(Xt.dtype)
        est, model, data, fit_s = em_setup(Xt, yt, K)
        params = est._params()
        it, params, stats = em_iterations(model, data, params,
                                          reps=5 if dtype == "float32" else 3)
        ph = phases(model, data, params, stats)
        size = np.dtype(dtype).itemsize
        rl = rooflines(n, d, K, 1, size, bw, rates[dtype])
        rows = {
            "E-step (GEMM + kernel)": (ph.get("estep", 0.0), rl["estep"]),
            "expert M-step (Grams + solves)": (
                ph.get("grams", 0.0) + ph["host_experts"], rl["experts"]),
            "gate M-step (gradient + step)": (
                ph.get("gate", 0.0) + ph["host_gate"], rl["gate"]),
        }
        other = it - sum(v[0] for v in rows.values())
        out[dtype] = dict(iteration_s=it, fit_2iter_s=fit_s, phases=ph,
                          rooflines=rl, other_s=other)
        log(f"\n{dtype}: one EM iteration {it * 1e3:.1f} ms (n={n:.0e}, d={d}, "
            f"K={K}; roofline {sum(rl.values()) * 1e3:.1f} ms); short fit incl. "
            f"init and compile {fit_s:.1f} s")
        log("| phase | measured ms | roofline ms | fraction of roofline |")
        log("|---|---|---|---|")
        for name, (t, r) in rows.items():
            log(f"| {name} | {t * 1e3:.1f} | {r * 1e3:.1f} | {r / t:.0%} |")
        log(f"| reductions, copies, launches | {max(other, 0) * 1e3:.1f} | | |")
        if dtype == "float32":
            est32 = est
        if variants:
            out[f"gram_variants_{dtype}"] = section(gram_variants, Xt, yt, model,
                                                    params, est)
        RESULTS["headline"] = out
    return Xd, yd, est32


def gram_variants(Xd, yd, model, params, est):
    """One pass with each launch option of the Gram kernel (see GRAM_OPTIONS)."""
    res = {}
    if Xd.dtype == cp.float32:
        configs = [{}, dict(async_copy=False), dict(unroll=1), dict(flush=1024),
                   dict(cols_per_thread=1, min_blocks=2),
                   dict(cols_per_thread=1, min_blocks=2, async_copy=False),
                   dict(threads=128), dict(pad=False), dict(gram="gemm")]
    else:
        configs = [{}, dict(async_copy=False), dict(unroll=1), dict(threads=128)]
    for cfg in configs:
        data, _ = est._fit_data(Xd, yd, None)
        data._engine_options.update(cfg)
        engine = data.engine(model)
        t = wall(lambda: engine.statistics(params), reps=3, warm=1)
        extra = ""
        if cfg.get("gram", "kernel") == "kernel":
            attrs = engine._gram_fn.attributes
            extra = (f" regs {attrs.get('num_regs')}, local "
                     f"{attrs.get('local_size_bytes')} B")
        res[str(cfg)] = t
        log(f"  pass with {cfg}: {t * 1e3:.1f} ms{extra}")
    return res


def cpu_comparison(X_host, yd, K, n_cpu, gpu_iter_s, n_gpu):
    Xh = np.ascontiguousarray(X_host[:n_cpu], dtype=np.float64)
    yh = yd[:n_cpu].get().astype(np.float64)
    n_jobs = os.cpu_count()
    est = MixtureOfExpertsRegressor(n_experts=K, gate_solver="bohning", max_iter=2,
                                    tol=0.0, random_state=0, n_jobs=n_jobs)
    with threadpool_limits(limits=1, user_api="blas"):
        t0 = time.perf_counter()
        est.fit(Xh, yh)
        fit_s = time.perf_counter() - t0
        model = est._model(Xh.shape[1], 1, np.var(yh)[None], n_cpu)
        data = FitData(Xh, yh[:, None], np.ones(n_cpu))
        params = est._params()
        min_mass = 1e-10 * n_cpu
        stats = model.statistics(data, params)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            params, _ = model.m_step(stats, params, min_mass)
            stats = model.statistics(data, params)
            times.append(time.perf_counter() - t0)
    cpu_s = float(np.median(times))
    # the GPU at the CPU's size, same data
    Xs = cp.asarray(X_host[:n_cpu])
    ys = yd[:n_cpu]
    gest, gmodel, gdata, _ = em_setup(Xs, ys, K)
    g_small, _, _ = em_iterations(gmodel, gdata, gest._params(), reps=5)
    scaled = cpu_s * n_gpu / n_cpu
    RESULTS["cpu"] = dict(n_cpu=n_cpu, threads=n_jobs, cpu_iter_s=cpu_s,
                          cpu_fit_2iter_s=fit_s, gpu_iter_same_n_s=g_small,
                          cpu_scaled_s=scaled, speedup_scaled=scaled / gpu_iter_s,
                          speedup_same_n=cpu_s / g_small)
    log(f"\nCPU ({n_jobs} threads, float64, numba) one EM iteration at "
        f"n={n_cpu:.0e}: {cpu_s * 1e3:.0f} ms; GPU float32 at the same n: "
        f"{g_small * 1e3:.1f} ms ({cpu_s / g_small:.0f}x); CPU scaled x"
        f"{n_gpu // n_cpu} to n={n_gpu:.0e}: {scaled:.2f} s vs GPU "
        f"{gpu_iter_s * 1e3:.1f} ms = {scaled / gpu_iter_s:.0f}x")


def prediction(est, Xd, X_host):
    n = Xd.shape[0]
    t = wall(lambda: est.predict(Xd), reps=3)
    t_std = wall(lambda: est.predict(Xd, return_std=True), reps=3)
    est_np = est.to_numpy().set_params(device="cuda")
    t0 = time.perf_counter()
    est_np.predict(X_host)
    t_host = time.perf_counter() - t0
    RESULTS["predict"] = dict(n=n, predict_s=t, predict_std_s=t_std,
                              numpy_cuda_s=t_host)
    log(f"\nprediction, n={n:.0e}: {n / t / 1e6:.0f} M rows/s (mean), "
        f"{n / t_std / 1e6:.0f} M rows/s (mean and std), NumPy in/out with "
        f"device='cuda' (copies included) {n / t_host / 1e6:.0f} M rows/s")


def auto_threshold(sizes, d=10, K=8):
    log("\nwhole fits, CPU (one thread, the default) vs GPU, d=10, K=8, "
        "30 iterations (first GPU fit of a new shape compiles its kernels):")
    log("| n | cells | CPU s | GPU s |")
    log("|---|---|---|---|")
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        X = rng.standard_normal((n, d))
        W = rng.standard_normal((d, K))
        k = np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
        y = np.einsum("nd,nd->n", X, rng.standard_normal((K, d))[k]) + k
        kw = dict(n_experts=K, max_iter=30, tol=0.0, random_state=0)
        if n == sizes[0]:  # compile both sides first
            t0 = time.perf_counter()
            MixtureOfExpertsRegressor(**kw, device="cuda").fit(X, y)
            log(f"(cold GPU fit, n={n}: {time.perf_counter() - t0:.2f} s)")
            MixtureOfExpertsRegressor(**kw).fit(X, y)
        t0 = time.perf_counter()
        MixtureOfExpertsRegressor(**kw).fit(X, y)
        t_cpu = time.perf_counter() - t0
        t0 = time.perf_counter()
        MixtureOfExpertsRegressor(**kw, device="cuda").fit(X, y)
        t_gpu = time.perf_counter() - t0
        rows.append((n, n * d, t_cpu, t_gpu))
        log(f"| {n} | {n * d:.1e} | {t_cpu:.2f} | {t_gpu:.2f} |")
    RESULTS["auto"] = rows


def section(fn, *args, **kwargs):
    """Run one part of the benchmark; a failure is reported, not fatal."""
    try:
        return fn(*args, **kwargs)
    except Exception:
        import traceback

        log(f"!! {fn.__name__} failed:")
        traceback.print_exc()
        sys.stdout.flush()
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--no-variants", action="store_true")
    ap.add_argument("--no-auto", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    n = 1_000_000 if args.quick else args.n
    d, K = args.d, args.k
    dev = cp.cuda.Device()
    log(f"device: {cp.cuda.runtime.getDeviceProperties(dev.id)['name'].decode()}, "
        f"CuPy {cp.__version__}, {os.cpu_count()} CPU cores")
    bw, rates = ceilings()
    X_host = host_normal(n, d, seed=0)
    section(transfers, X_host)
    Xd, yd, est = headline(X_host, n, d, K, bw, rates,
                           variants=not args.no_variants)
    gpu_iter = RESULTS["headline"]["float32"]["iteration_s"]
    section(cpu_comparison, X_host, yd, K, n // 10, gpu_iter, n)
    section(prediction, est, Xd, X_host)
    del Xd
    if not args.no_auto:
        section(auto_threshold, [10_000, 50_000, 200_000, 1_000_000])
    if args.out:
        Path(args.out).write_text(json.dumps(RESULTS, indent=1, default=float))


if __name__ == "__main__":
    main()
