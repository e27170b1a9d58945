"""Per-iteration cost of EM for each expert family and gate.

One EM iteration is one statistics pass over the data (E-step and the sums of
the M-step) plus the M-step. This prints the median wall time of both, for
the same data size, against the Gaussian regressor with the softmax gate:

- the classifier (multinomial logistic experts, 3 classes): target within 3x;
- the localised (Gaussian) gate: target no slower than the softmax gate;
- Poisson experts and the classifier's other options, for reference.

Usage (from the repository root):

    python benchmarks/bench_families.py              # n=1e6, d=10, K=8
    python benchmarks/bench_families.py --quick      # n=1e5, a smoke run
    python benchmarks/bench_families.py --reps 7 --n-jobs 2
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skmoe import MixtureOfExpertsRegressor  # noqa: E402
from skmoe._model import FitData  # noqa: E402
from skmoe._moe_classifier import MixtureOfExpertsClassifier  # noqa: E402
from skmoe.datasets import (  # noqa: E402
    make_moe_classification,
    make_moe_regression,
)


def prepare(est, X, y):
    """A fitted model, its parameters and data: one EM iteration's inputs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)  # initialisation and two iterations: realistic parameters
    Y, y_scale = est._encode_targets(y, fitted=True)
    model = est._model(X.shape[1], Y.shape[1], y_scale, X.shape[0])
    data = FitData(X, np.ascontiguousarray(Y, dtype=np.float64), np.ones(len(y)))
    params = est._params()
    model.statistics(data, params)  # warm up (JIT, caches)
    return model, params, data


def one_iteration(model, params, data):
    """Seconds of one statistics pass and of one M-step."""
    t = time.perf_counter()
    stats = model.statistics(data, params)
    t1 = time.perf_counter()
    model.m_step(stats, params)
    return t1 - t, time.perf_counter() - t1


def table(title, header, rows):
    print(f"\n{title}")
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows))
              for i, h in enumerate(header)]
    print("  ".join(str(h).rjust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  ".join(str(v).rjust(w) for v, w in zip(r, widths)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=10)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    n = 100_000 if a.quick else a.n
    d, k = a.d, a.k
    print(f"load average at start: {os.getloadavg()}; cores: {os.cpu_count()}")

    Xr, yr, _ = make_moe_regression(n_samples=n, n_features=d, n_experts=k,
                                    noise=0.3, random_state=0)
    Xc, yc, _ = make_moe_classification(n_samples=n, n_features=d, n_experts=k,
                                        n_classes=3, random_state=0)
    counts = np.random.default_rng(0).poisson(np.exp(0.3 * np.tanh(yr)))
    common = dict(n_jobs=a.n_jobs, max_iter=2, random_state=0)
    cases = [
        ("Gaussian regressor, softmax gate", MixtureOfExpertsRegressor(
            k, **common), Xr, yr),
        ("Gaussian regressor, Gaussian gate (full)", MixtureOfExpertsRegressor(
            k, gate="gaussian", **common), Xr, yr),
        ("Gaussian regressor, Gaussian gate (diag)", MixtureOfExpertsRegressor(
            k, gate="gaussian", gate_covariance_type="diag", **common), Xr, yr),
        ("classifier (3 classes), softmax gate", MixtureOfExpertsClassifier(
            k, **common), Xc, yc),
        ("classifier (3 classes), Gaussian gate", MixtureOfExpertsClassifier(
            k, gate="gaussian", **common), Xc, yc),
        ("Poisson regressor, softmax gate", MixtureOfExpertsRegressor(
            k, expert="poisson", **common), Xr, counts),
    ]
    prepared = [prepare(est, X, y) for _, est, X, y in cases]
    # repetitions round-robin over the cases: a change of the machine's load
    # (shared cores) falls on every case alike
    times = np.empty((a.reps, len(cases), 2))
    with threadpool_limits(limits=1, user_api="blas"):
        for rep in range(a.reps):
            for c, (model, params, data) in enumerate(prepared):
                times[rep, c] = one_iteration(model, params, data)
    med = np.median(times, axis=0)
    ratio = np.median(times.sum(axis=2) / times[:, :1].sum(axis=2), axis=0)
    rows = []
    for c, (label, *_) in enumerate(cases):
        e, m = med[c]
        rows.append([label, f"{1e3 * e:.0f}", f"{1e3 * m:.1f}", f"{e + m:.3f}",
                     f"{ratio[c]:.2f}"])
    print(f"load average at end: {os.getloadavg()}")
    table(f"one EM iteration, n={n}, d={d}, K={k}, n_jobs={a.n_jobs} (wall s, "
          f"medians of {a.reps} round-robin repetitions; ratio: median of the "
          "per-repetition ratios; targets: classifier <= 3x, Gaussian gate <= 1x)",
          ["model", "pass ms", "M-step ms", "s/iter", "x Gaussian"], rows)


if __name__ == "__main__":
    main()
