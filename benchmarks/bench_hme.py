"""HME cost at scale: one EM iteration, and sparse top-k prediction.

1. One EM iteration (M-step + one statistics pass) of an HME of depth 4,
   binary (16 experts), against a flat mixture of 16 experts, on n = 1e6 rows
   and d = 10 (``make_moe_regression``); target: HME <= 2x flat.
2. Prediction of 1e6 rows of Friedman #1 (d = 10) with 64 experts, every
   expert against ``top_k=2`` (one kernel pass per block of rows: the gate
   logits, best-first search down the tree or a top-k selection for the flat
   mixture, and the selected experts' means); target: >= 5x faster. The
   models are fitted on 50,000 other rows (fit quality does not change the
   cost of prediction, but it sets how much the top two experts carry); the
   mean absolute difference between the two predictions is reported, raw and
   against the standard deviation of y, with the R^2 of both. A one-thread
   numba kernel for the dense gate serves as a second baseline, to tell
   sparsity from implementation.
3. How the flat mixture's top-k prediction approaches the full one as k grows.

Times are medians over ``--repeats`` runs, ``n_jobs=2``; the predictions
compared in a table run in turn in every repeat, so that other work on the
machine slows them alike.
Run: ``PYTHONPATH=. python benchmarks/bench_hme.py`` (``--skip-em``: parts 2
and 3 only).
"""

import argparse
import time
import warnings

import numpy as np
from numba import njit
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skmoe import MixtureOfExpertsRegressor
from skmoe._em import run_em
from skmoe._hme import HierarchicalMixtureOfExpertsRegressor
from skmoe._model import FitData
from skmoe.datasets import make_moe_regression

HME = HierarchicalMixtureOfExpertsRegressor


def interleaved_median_times(fns, repeats):
    """Median time of each function, all of them run in turn in every repeat,
    so that a machine busy with other work slows them alike."""
    times = [[] for _ in fns]
    for _ in range(repeats):
        for t, fn in zip(times, fns):
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in times]


def predictor(est, X, top_k, n_jobs):
    """``est.predict(X)`` with ``top_k`` and ``n_jobs`` (one BLAS thread if 1)."""
    def run():
        est.set_params(top_k=top_k, n_jobs=n_jobs)
        if n_jobs != 1:
            return est.predict(X)
        with threadpool_limits(limits=1, user_api="blas"):
            return est.predict(X)
    return run


def em_iteration_time(est, X, y, repeats):
    """Median time of one EM iteration (M-step, then the E-step/statistics pass).

    The estimator initialises (``max_iter=0``); then the EM driver runs
    ``repeats + 1`` iterations and its callback timestamps each one.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.set_params(max_iter=0).fit(X, y)  # initialise only
    sw = np.ones(X.shape[0])
    Y, y_scale = est._encode_targets(y, sample_weight=sw)
    data = FitData(X, np.ascontiguousarray(Y), sw)
    model = est._model(X.shape[1], Y.shape[1], y_scale, X.shape[0])
    stamps = []
    with threadpool_limits(limits=1, user_api="blas"):  # as in fit
        run_em(model, data, est._params(), max_iter=repeats + 1, tol=0.0,
               min_mass=1e-10 * data.total_weight,
               callback=lambda *_: stamps.append(time.perf_counter()))
    return float(np.median(np.diff(stamps))), model.gate_solver


FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _dense_leaf_proba(logits, node_start, leaf_path, out):
    """Every leaf's gate probability, one row at a time (dense reference)."""
    n_leaves, depth = leaf_path.shape
    lg = np.empty(logits.shape[1])
    for i in range(logits.shape[0]):
        for j in range(node_start.size - 1):
            lo, hi = node_start[j], node_start[j + 1]
            m = logits[i, lo]
            for s in range(lo + 1, hi):
                m = max(m, logits[i, s])
            tot = 0.0
            for s in range(lo, hi):
                tot += np.exp(logits[i, s] - m)
            lse = m + np.log(tot)
            for s in range(lo, hi):
                lg[s] = logits[i, s] - lse
        for leaf in range(n_leaves):
            z = 0.0
            for t in range(depth):
                z += lg[leaf_path[leaf, t]]
            out[i, leaf] = np.exp(z)


def dense_numba_predict(est, X, chunk=8192):
    """Full (every expert) mixture mean with a numba gate kernel, one thread:
    a second dense baseline, to separate sparsity from implementation."""
    model, params = est._fitted_model(), est._params()
    tree = model.tree
    gate, coef = params.gate, params.experts.coef
    out = np.empty(X.shape[0])
    g = np.empty((chunk, tree.n_leaves))
    for a in range(0, X.shape[0], chunk):
        Xc = X[a:a + chunk]
        logits = Xc @ gate[:-1]
        logits += gate[-1]
        gc = g[:Xc.shape[0]]
        _dense_leaf_proba(logits, tree.node_start, tree.leaf_path, gc)
        mu = Xc @ coef[:-1]
        mu += coef[-1]
        out[a:a + chunk] = np.einsum("nl,nl->n", gc, mu)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-features", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fit-rows", type=int, default=50_000)
    parser.add_argument("--skip-em", action="store_true",
                        help="skip the EM iteration table")
    args = parser.parse_args()
    n, d = args.n_samples, args.n_features
    print(f"n={n:,}, d={d}, n_jobs=2; medians over {args.repeats} runs\n")
    if not args.skip_em:
        em_table(n, d, args.repeats)
    top_k_tables(n, d, args.fit_rows, args.repeats)


def em_table(n, d, repeats):
    """One EM iteration: HME of depth 4 against a flat mixture of 16 experts."""
    X, y, _ = make_moe_regression(n, d, 16, random_state=0)
    X = np.ascontiguousarray(X)
    rows = []
    for name, est in [
        ("flat MoE, 16 experts", MixtureOfExpertsRegressor(16)),
        ("HME depth 4, binary (16 experts)",
         HME(4, branching=2)),
        ("HME depth 4, binary, bohning",
         HME(4, branching=2, gate_solver="bohning")),
    ]:
        est.set_params(n_jobs=2, random_state=0)
        t, solver = em_iteration_time(est, X, y, repeats)
        rows.append((name, solver, t))
    print("one EM iteration, make_moe_regression (16 true experts)")
    print(f"{'model':<36} {'gate solver':>12} {'time (s)':>9} {'vs flat':>8}")
    print("-" * 68)
    for name, solver, t in rows:
        print(f"{name:<36} {solver:>12} {t:>9.3f} {t / rows[0][2]:>7.2f}x")


def top_k_tables(n, d, n_fit, repeats):
    """Full against top_k=2 prediction at 64 experts; the flat mixture's top-k
    prediction as k grows."""
    X, y = make_friedman1(n + n_fit, n_features=d, noise=0.5, random_state=0)
    X_fit, y_fit, X, y = X[:n_fit], y[:n_fit], X[n_fit:], y[n_fit:]
    X = np.ascontiguousarray(X)
    sd = float(np.std(y))
    print(f"\nprediction of {n:,} rows, 64 experts, make_friedman1 (fitted on "
          f"{n_fit:,} other rows, max_iter=50; sd(y) = {sd:.3f})")
    print(f"{'model':<26} {'R2':>6} {'R2 top-2':>9} {'full (s)':>9} "
          f"{'top_k=2 (s)':>12} {'speed-up':>9} {'1 thread':>9} "
          f"{'numba dense':>12} {'top-2 mass':>11} {'|diff|':>8} "
          f"{'|diff|/sd(y)':>13}")
    print("-" * 136)
    flat = None
    for name, est in [
        ("flat MoE, 64 experts", MixtureOfExpertsRegressor(64)),
        ("HME depth 6, binary", HME(6, branching=2)),
        ("HME depth 3, branching 4", HME(3, branching=4)),
    ]:
        est.set_params(max_iter=50, random_state=0, n_jobs=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X_fit, y_fit)
        flat = est if flat is None else flat
        full = predictor(est, X, None, 2)()
        r2 = est.score(X, y)
        sparse = predictor(est, X, 2, 2)()
        r2_sparse = est.score(X, y)
        dense_numba_predict(est, X[:100])  # compile

        def numba_dense():
            with threadpool_limits(limits=1, user_api="blas"):
                dense_numba_predict(est, X)

        t_full, t_sparse, t_one, t_numba = interleaved_median_times(
            [predictor(est, X, None, 2), predictor(est, X, 2, 2),
             predictor(est, X, 2, 1), numba_dense], repeats)
        est.set_params(n_jobs=2, top_k=None)
        mass = np.sort(est.predict_gate(X[:100_000]), axis=1)[:, -2:].sum(axis=1)
        diff = float(np.mean(np.abs(sparse - full)))
        print(f"{name:<26} {r2:>6.3f} {r2_sparse:>9.3f} {t_full:>9.3f} "
              f"{t_sparse:>12.3f} {t_full / t_sparse:>8.1f}x {t_full / t_one:>8.1f}x "
              f"{t_numba / t_one:>11.1f}x {mass.mean():>11.3f} {diff:>8.4f} "
              f"{diff / sd:>13.4f}")
    print("\nspeed-up: full / top_k=2, both n_jobs=2; 1 thread: full (n_jobs=2) / "
          "top_k=2 on one thread;\nnumba dense: a one-thread numba kernel for "
          "every expert / top_k=2 on one thread; top-2 mass: mean sum of the\n"
          "two largest gate probabilities; |diff|: mean |top_k=2 - full|, and "
          "over the standard deviation of y.")

    # how far the flat mixture's top-k is from its full prediction, as k grows
    ks = (1, 2, 4, 8, 16)
    full = predictor(flat, X, None, 2)()
    r2 = flat.score(X, y)
    times = interleaved_median_times(
        [predictor(flat, X, k, 2) for k in (None,) + ks], repeats)
    g = np.sort(flat.predict_gate(X[:100_000]), axis=1)[:, ::-1]
    print(f"\nflat MoE, 64 experts: top_k against every expert (R2 {r2:.3f}, "
          f"full {times[0]:.3f} s)")
    print(f"{'top_k':>6} {'mass':>6} {'R2':>6} {'|diff|/sd(y)':>13} {'time (s)':>9} "
          f"{'speed-up':>9}")
    print("-" * 54)
    for k, t in zip(ks, times[1:]):
        pred = predictor(flat, X, k, 2)()
        print(f"{k:>6} {g[:, :k].sum(axis=1).mean():>6.3f} {flat.score(X, y):>6.3f} "
              f"{np.mean(np.abs(pred - full)) / sd:>13.4f} {t:>9.3f} "
              f"{times[0] / t:>8.1f}x")
    flat.set_params(top_k=None)


if __name__ == "__main__":
    main()
