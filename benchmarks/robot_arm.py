"""Robot-arm dynamics: MoE and HME against linear, CART and stacking.

The shape of Table 1 of Jordan & Jacobs (1994): forward dynamics of a simulated
planar arm (``skmoe.datasets.make_robot_arm``), 15,000 training and 5,000 test
rows, relative error = test MSE / variance of the test targets, averaged over
the outputs. Inputs are standardised in a Pipeline for every model.

The main table fits every model once (``random_state=0``). One EM run of the
HME ends in one of many local optima, so its error from a single seed says
little: the second table refits the mixtures with ``random_state`` 0 to
``--seeds - 1`` and reports the median and range. The ``init_params="flat"``
row spends 20 of its EM iterations on the flat mixture that starts it and the
rest on the tree (``--max-iter`` in all).

Run: ``PYTHONPATH=. python benchmarks/robot_arm.py [--n-links 2] [--noise 0.5]``
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.ensemble import StackingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, Ridge, RidgeCV
from sklearn.model_selection import GridSearchCV
from sklearn.multioutput import MultiOutputRegressor
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsRegressor
from skmoe._hme import FLAT_INIT_ITER, HierarchicalMixtureOfExpertsRegressor

HME = HierarchicalMixtureOfExpertsRegressor
# init_params="flat": FLAT_INIT_ITER iterations of the flat mixture, then the
# tree's own, within the same budget of EM iterations in all
FLAT_NAME = 'HME depth 4 binary init "flat"'


def relative_error(y_true, y_pred):
    """Test MSE over the variance of the test targets, averaged over outputs."""
    return float(np.mean(np.mean((y_pred - y_true) ** 2, axis=0)
                         / np.var(y_true, axis=0)))


def evaluate(est, X_train, y_train, X_test, y_test):
    """Relative test error, EM iterations (per output) and fit time of ``est``."""
    pipe = make_pipeline(StandardScaler(), est)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X_train, y_train)
    fit_time = time.perf_counter() - t0
    err = relative_error(y_test, pipe.predict(X_test))
    fitted = getattr(pipe[-1], "estimators_", [pipe[-1]])  # per output
    n_iter = [getattr(e, "n_iter_", None) for e in fitted]
    it = "-" if None in n_iter else "/".join(str(i) for i in n_iter)
    if getattr(fitted[0], "init_params", None) == "flat":  # the flat start's too
        it = f"{FLAT_INIT_ITER}+{it}"
    return err, it, fit_time


def models(args, seed=0):
    moe = dict(max_iter=args.max_iter, random_state=seed, n_jobs=2)
    cart = GridSearchCV(DecisionTreeRegressor(random_state=0),
                        {"min_samples_leaf": [1, 2, 5, 10, 20, 50]}, cv=3)
    stack = MultiOutputRegressor(StackingRegressor(
        [("ridge", Ridge()),
         ("cart", DecisionTreeRegressor(min_samples_leaf=5, random_state=0)),
         ("knn", KNeighborsRegressor(n_neighbors=10))],
        final_estimator=RidgeCV(), cv=3))
    return [
        ("linear", LinearRegression()),
        ("CART (GridSearchCV)", cart),
        ("stacking Ridge+CART+kNN", stack),
        ("MoE 16 experts", MixtureOfExpertsRegressor(16, **moe)),
        ("HME depth 4 binary", HME(4, branching=2, **moe)),
        (f"HME depth 4 binary n_init={args.n_init}",
         HME(4, branching=2, n_init=args.n_init, **moe)),
        ('HME depth 4 binary init "tree"',
         HME(4, branching=2, init_params="tree", **moe)),
        (FLAT_NAME, HME(4, branching=2, init_params="flat",
                        **{**moe, "max_iter": args.max_iter - FLAT_INIT_ITER})),
        ("HME depth 4 binary, one per output", MultiOutputRegressor(
            HME(4, branching=2, **moe))),
        ("HME per output, n_init=3", MultiOutputRegressor(
            HME(4, branching=2, n_init=3, **moe))),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-links", type=int, default=2)
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--max-iter", type=int, default=50)
    parser.add_argument("--n-init", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=10,
                        help="random states of the spread table (0 skips it)")
    args = parser.parse_args()
    from skmoe.datasets import make_robot_arm

    X, y = make_robot_arm(20_000, n_links=args.n_links, noise=args.noise,
                          random_state=0)
    X_train, X_test, y_train, y_test = X[:15_000], X[15_000:], y[:15_000], y[15_000:]
    print(f"make_robot_arm: n_links={args.n_links}, noise={args.noise}, "
          f"{X.shape[1]} inputs, {y.shape[1]} outputs; 15,000 train / 5,000 test; "
          f"EM max_iter={args.max_iter}")
    header = f"{'model':<36} {'rel. error':>10} {'EM iter':>8} {'fit (s)':>8}"
    print(header)
    print("-" * len(header))
    results = {}
    for name, est in models(args):
        err, it, fit_time = evaluate(est, X_train, y_train, X_test, y_test)
        results[name] = err
        print(f"{name:<36} {err:>10.4f} {it:>8} {fit_time:>8.1f}")
    cart = results["CART (GridSearchCV)"]
    print("\nrelative error / CART's (target for the HME: <= 0.6)")
    for name, err in results.items():
        if name.startswith(("HME", "MoE")):
            print(f"  {name:<36} {err / cart:.2f}")
    if args.seeds < 1:
        return
    spread = {name: [results[name]] for name in (  # seed 0: the table above
        "MoE 16 experts", "HME depth 4 binary",
        f"HME depth 4 binary n_init={args.n_init}",
        "HME depth 4 binary, one per output", FLAT_NAME)}
    for seed in range(1, args.seeds):
        for name, est in models(args, seed):
            if name in spread:
                spread[name].append(evaluate(est, X_train, y_train, X_test,
                                             y_test)[0])
    print(f"\nrandom_state 0-{args.seeds - 1}: median [min, max] relative error, "
          "median / CART's")
    for name, errs in spread.items():
        print(f"  {name:<36} {np.median(errs):.4f} [{min(errs):.4f}, "
              f"{max(errs):.4f}]  {np.median(errs) / cart:.2f}")


if __name__ == "__main__":
    main()
