"""Command-line interface: ``skmoe <command>`` or ``python -m skmoe <command>``.

One subcommand now, ``compare`` (the engine is in ``skmoe/_compare.py``). A
command registers its parser in :func:`build_parser` and sets ``func``, which
takes the parsed arguments and returns the exit status.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from . import __version__
from ._compare import (
    INNER_SPLITS,
    METRICS,
    MODELS,
    MOE_N_EXPERTS_GRID,
    CompareError,
    can_encode,
    check_n_splits,
    check_out_path,
    evaluate,
    format_table,
    load_csv,
    load_default,
    make_model,
    rank,
    resolve_models,
    summarise_params,
    write_results,
)

__all__ = ["build_parser", "main"]


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


_COMPARE_DESCRIPTION = """\
Cross-validate a mixture of experts against standard regressors.

Runs a repeated K-fold cross-validation (sklearn RepeatedKFold) of each model
on the motorcycle crash helmet data (mcycle, the default) or on a CSV file,
and prints a table of mean ± std of R², RMSE and fit time per model, best R²
first. Progress goes to stderr, the table to stdout. Exit status: 0 done,
1 a model failed on every fold, 2 a usage or data error.
"""

_COMPARE_EPILOG = f"""\
the models:
  MoE       MixtureOfExpertsRegressor on standardised inputs; n_experts chosen
            by an inner {INNER_SPLITS}-fold grid search over {MOE_N_EXPERTS_GRID}
            (or fixed by --n-experts)
  CART      DecisionTreeRegressor, max_depth and min_samples_leaf by an inner
            {INNER_SPLITS}-fold grid search
  Stacking  StackingRegressor of ridge, CART and k-NN (standardised), RidgeCV
            on top
  Linear    LinearRegression
Fit times include these inner cross-validations.

examples:
  skmoe compare
  skmoe compare --data houses.csv --target price --n-repeats 1
  skmoe compare --models MoE,Linear --n-experts 4 --out results.json
"""


def _add_compare_parser(commands) -> argparse.ArgumentParser:
    p = commands.add_parser(
        "compare",
        help="cross-validate MoE against CART, stacking and linear regression",
        description=_COMPARE_DESCRIPTION,
        epilog=_COMPARE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = p.add_argument_group("data")
    data.add_argument(
        "--data", metavar="FILE.csv",
        help="CSV file with a header row; numeric columns only, no missing "
             "values (default: the mcycle data shipped with skmoe)",
    )
    data.add_argument(
        "--target", metavar="COLUMN",
        help="column of --data to predict; all other columns are features",
    )
    data.add_argument(
        "--sep", default=",", metavar="CHAR",
        help="field separator of --data (default: %(default)r)",
    )
    cvg = p.add_argument_group("cross-validation")
    cvg.add_argument("--n-splits", type=_int_at_least(2), default=5, metavar="K",
                     help="folds per repetition (default: %(default)s)")
    cvg.add_argument("--n-repeats", type=_int_at_least(1), default=3, metavar="R",
                     help="repetitions with different shuffles "
                          "(default: %(default)s)")
    cvg.add_argument("--random-state", type=_int_at_least(0), default=0,
                     metavar="SEED",
                     help="seed of the folds and of the models "
                          "(default: %(default)s)")
    cvg.add_argument("--n-jobs", type=int, default=None, metavar="N",
                     help="parallel fits (joblib; -1 = all cores; default: 1)")
    mg = p.add_argument_group("models")
    mg.add_argument(
        "--models", nargs="+", metavar="NAME",
        help=f"models to run, by name, space- or comma-separated "
             f"(default: all of {', '.join(MODELS)})",
    )
    mg.add_argument(
        "--n-experts", type=_int_at_least(1), default=None, metavar="K",
        help="fix the number of experts of MoE instead of choosing it by "
             "inner cross-validation",
    )
    p.add_argument(
        "--out", metavar="FILE",
        help="also write the results to FILE, CSV or JSON by its extension "
             "(.csv: one summary row per model; .json: also the per-fold "
             "scores and chosen hyper-parameters)",
    )
    p.set_defaults(func=_run_compare)
    return p


def _run_compare(args: argparse.Namespace) -> int:
    """``skmoe compare``: raises CompareError on a user error, before any fit."""
    from sklearn.model_selection import RepeatedKFold

    start = time.perf_counter()
    task = "regression"
    names = resolve_models(args.models)
    if args.out:
        check_out_path(args.out)
    if args.data is None:
        if args.target is not None:
            raise CompareError("--target needs --data (the default data set "
                               "is mcycle, target 'accel').")
        ds = load_default()
    else:
        if args.target is None:
            raise CompareError("--data needs --target: the column to predict.")
        ds = load_csv(args.data, args.target, sep=args.sep)
    check_n_splits(ds.n_samples, args.n_splits)

    stdout, stderr = sys.stdout, sys.stderr
    cv = RepeatedKFold(n_splits=args.n_splits, n_repeats=args.n_repeats,
                       random_state=args.random_state)
    n_fits = args.n_splits * args.n_repeats
    first = METRICS[task][0]
    results = []
    for i, name in enumerate(names, start=1):
        est = make_model(name, task, args.random_state, n_experts=args.n_experts)
        print(f"[{i}/{len(names)}] {name}: {n_fits} fits ...", end="",
              file=stderr, flush=True)
        t0 = time.perf_counter()
        res = evaluate(name, est, ds.X, ds.y, cv, task=task, n_jobs=args.n_jobs)
        took = time.perf_counter() - t0
        if res.error is not None:
            print(f" failed after {took:.1f} s: {res.error}", file=stderr)
        else:
            msg = f" {took:.1f} s, {first.ascii_label} {res.mean(first.key):.3f}"
            if res.n_failed:
                msg += f", {res.n_failed} of {res.n_fits} fits failed"
            print(msg, file=stderr)
        if res.best_params:
            print(f"      chosen: {summarise_params(res.best_params)}", file=stderr)
        for w in res.warnings[:3]:
            print(f"      warning: {w}", file=stderr)
        if len(res.warnings) > 3:
            print(f"      ... {len(res.warnings) - 3} more distinct warnings",
                  file=stderr)
        results.append(res)

    ranked = rank(results, task)
    unicode = can_encode(stdout, "R² ±")
    print(ds.describe(), file=stdout)
    print(f"{args.n_splits}-fold cross-validation repeated {args.n_repeats} "
          f"time{'s' if args.n_repeats > 1 else ''} (random_state="
          f"{args.random_state}); mean {'±' if unicode else '+/-'} std over "
          f"{n_fits} fits", file=stdout)
    print(file=stdout)
    print(format_table(ranked, task, unicode=unicode), file=stdout)
    print(file=stdout)
    if any(r.n_failed for r in ranked):
        print("* some fits failed; their scores are left out (see stderr).",
              file=stdout)
    print("Fit times include any inner cross-validation (tuning, stacking).",
          file=stdout)
    total = time.perf_counter() - start
    print(f"Total time: {total:.1f} s", file=stdout)

    if args.out:
        meta = {
            "skmoe_version": __version__,
            "task": task,
            "data": {
                "name": ds.name,
                "target": ds.target_name,
                "features": list(ds.feature_names),
                "n_samples": ds.n_samples,
                "n_features": ds.n_features,
            },
            "cv": {
                "n_splits": args.n_splits,
                "n_repeats": args.n_repeats,
                "random_state": args.random_state,
            },
            "total_time": total,
        }
        write_results(args.out, ranked, meta=meta, task=task)
        print(f"results written to {args.out}", file=stderr)
    return 1 if any(r.error is not None for r in ranked) else 0


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="skmoe",
        description=(
            "skmoe: mixtures of experts for scikit-learn. "
            "Run 'skmoe <command> --help' for a command's options."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"skmoe {__version__}"
    )
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="<command>"
    )
    _add_compare_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``skmoe`` command line and return its exit status.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments after the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 when a model failed on every fold, 2 on a usage or
        data error (the message goes to stderr, without a traceback).

    Examples
    --------
    >>> from skmoe.__main__ import main
    >>> main(["--version"])  # doctest: +ELLIPSIS
    skmoe ...
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except CompareError as exc:
        print(f"skmoe {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"skmoe {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
