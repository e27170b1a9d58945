"""Command-line interface: ``skmoe <command>`` or ``python -m skmoe <command>``.

One subcommand now, ``compare`` (the engine is in ``skmoe/_compare.py``, the
models in ``skmoe/_compare_models.py``, tables, files and plots in
``skmoe/_compare_report.py``). A command registers its parser in
:func:`build_parser` and sets ``func``, which takes the parsed arguments and
returns the exit status.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from . import __version__
from ._compare import (
    METRICS,
    MODELS,
    CompareError,
    ModelUnavailable,
    check_n_splits,
    evaluate,
    load_csv,
    load_default,
    make_cv,
    make_model,
    rank,
    resolve_models,
    summarise_params,
)
from ._compare_models import DESCRIPTIONS, INNER_SPLITS
from ._compare_report import (
    can_encode,
    check_out_path,
    check_plot_path,
    format_table,
    plot_scores,
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


class _Progress:
    """Progress of the run on stderr.

    On a terminal (or with ``--progress``) a one-line bar over every fit of
    every model, redrawn in place; otherwise plain lines only. Either way each
    model ends with a summary line.
    """

    def __init__(self, stream: TextIO, total: int, bar: bool, width: int = 24):
        self.stream = stream
        self.total = total
        self.bar = bar
        self.width = width
        self.done = 0
        self.start = time.perf_counter()
        self._shown = 0

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _clear(self) -> None:
        if self._shown:
            self._write("\r" + " " * self._shown + "\r")
            self._shown = 0

    def draw(self, label: str) -> None:
        """Redraw the bar (no-op without a bar)."""
        if not self.bar:
            return
        frac = self.done / self.total if self.total else 1.0
        filled = int(round(frac * self.width))
        elapsed = time.perf_counter() - self.start
        text = (f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/"
                f"{self.total} fits  {label}  {elapsed:.0f} s")
        self._write("\r" + text.ljust(self._shown))
        self._shown = len(text)

    def start_model(self, head: str) -> None:
        """A model starts: draw the bar, or print the line's beginning."""
        if self.bar:
            self.draw(head)
        else:
            self._write(f"{head} ...")

    def fold_done(self, label: str) -> None:
        self.done += 1
        self.draw(label)

    def end_model(self, head: str, summary: str, notes: Sequence[str]) -> None:
        """Finish a model's line (and its notes) above the bar."""
        if self.bar:
            self._clear()
            self._write(f"{head}, {summary}\n")
        else:
            self._write(f" {summary}\n")
        for note in notes:
            self._write(f"      {note}\n")

    def note(self, text: str) -> None:
        self._clear()
        self._write(text + "\n")

    def close(self) -> None:
        self._clear()


_COMPARE_DESCRIPTION = """\
Cross-validate mixtures of experts against standard models.

Runs a repeated K-fold cross-validation (stratified for classification) of
each model on the motorcycle crash helmet data (mcycle, the default) or on a
CSV file, and prints a table of mean ± std of the scores and fit time per
model, best first: R² and RMSE for regression, accuracy, balanced accuracy and
log-loss for classification. The task follows the target (--task overrides).
Progress goes to stderr (a bar on a terminal), the table to stdout. Exit
status: 0 done, 1 a model failed on every fold, 2 a usage or data error.
"""


def _epilog() -> str:
    lines = ["the models (skmoe models are skipped, with a note, when this "
             "version of", "skmoe does not have them):"]
    for name, text in DESCRIPTIONS.items():
        words, line = text.split(), ""
        first = True
        for w in words:
            if len(line) + len(w) + 1 > 58:
                lines.append(f"  {name if first else '':<18}{line}")
                first, line = False, w
            else:
                line = f"{line} {w}" if line else w
        lines.append(f"  {name if first else '':<18}{line}")
    lines += [
        "Fit times include these inner cross-validations.",
        "",
        "task inference (--task auto): a target with non-numeric values, or with",
        "at most 10 distinct integer values that repeat (no more than one per",
        "two rows), is a classification target; anything else is regression.",
        "",
        "examples:",
        "  skmoe compare",
        "  skmoe compare --data houses.csv --target price --n-repeats 1",
        "  skmoe compare --data churn.csv --target churned --one-hot",
        "  skmoe compare --models MoE,CART --n-experts 4 --out results.json",
        "  skmoe compare --plot scores.png --out results.csv",
    ]
    return "\n".join(lines) + "\n"


def _add_compare_parser(commands) -> argparse.ArgumentParser:
    p = commands.add_parser(
        "compare",
        help="cross-validate MoE and HME against CART, stacking, gradient "
             "boosting and linear models",
        description=_COMPARE_DESCRIPTION,
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = p.add_argument_group("data")
    data.add_argument(
        "--data", metavar="FILE.csv",
        help="CSV file with a header row; numeric features (or --one-hot), no "
             "missing values (default: the mcycle data shipped with skmoe)",
    )
    data.add_argument(
        "--target", metavar="COLUMN",
        help="column of --data to predict; all other columns are features",
    )
    data.add_argument(
        "--task", choices=("auto", "regression", "classification"),
        default="auto",
        help="regression or classification; auto decides from the target "
             "(default: %(default)s)",
    )
    data.add_argument(
        "--one-hot", action="store_true",
        help="encode non-numeric feature columns as 0/1 indicator columns "
             "(one per category) instead of failing",
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
                     help="folds fitted in parallel (joblib; -1 = all cores; "
                          "default: 1); each fit itself runs on one thread")
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
    mg.add_argument(
        "--depth", type=_int_at_least(1), default=None, metavar="D",
        help="fix the depth of HME instead of choosing it by inner "
             "cross-validation",
    )
    og = p.add_argument_group("output")
    og.add_argument(
        "--out", metavar="FILE",
        help="also write the results to FILE, CSV or JSON by its extension "
             "(.csv: one summary row per model; .json: also the per-fold "
             "scores and chosen hyper-parameters)",
    )
    og.add_argument(
        "--plot", metavar="FILE.png",
        help="also draw the fold scores of every model (box plots, one panel "
             "per metric) to FILE (.png, .pdf or .svg; needs matplotlib)",
    )
    og.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="show a progress bar on stderr (default: only when stderr is a "
             "terminal)",
    )
    p.set_defaults(func=_run_compare)
    return p


def _load(args: argparse.Namespace):
    if args.data is None:
        if args.target is not None:
            raise CompareError("--target needs --data (the default data set "
                               "is mcycle, target 'accel').")
        if args.task == "classification":
            raise CompareError("--task classification needs --data: the default "
                               "data set, mcycle, is a regression problem.")
        return load_default()
    if args.target is None:
        raise CompareError("--data needs --target: the column to predict.")
    return load_csv(args.data, args.target, sep=args.sep, task=args.task,
                    one_hot=args.one_hot)


def _build_models(names, task, args):
    """``[(name, estimator)]`` and ``{name: reason}`` of the skipped ones."""
    models, skipped = [], {}
    for name in names:
        try:
            est = make_model(name, task, args.random_state,
                             n_experts=args.n_experts, depth=args.depth)
        except ModelUnavailable as exc:
            skipped[name] = str(exc)
            continue
        models.append((name, est))
    if not models:
        reasons = "; ".join(f"{n}: {r}" for n, r in skipped.items())
        raise CompareError(f"no model can run for {task} ({reasons}).")
    return models, skipped


def _summary(res, took: float, first) -> str:
    if res.error is not None:
        return f"failed after {took:.1f} s: {res.error}"
    msg = f"{took:.1f} s, {first.ascii_label} {res.mean(first.key):.3f}"
    if res.n_failed:
        msg += f", {res.n_failed} of {res.n_fits} fits failed"
    return msg


def _notes(res) -> list[str]:
    notes = []
    if res.best_params:
        notes.append(f"chosen: {summarise_params(res.best_params)}")
    if res.n_failed and res.error is None:
        notes += [f"fit error: {e}" for e in res.fold_errors[:2]]
    notes += [f"warning: {w}" for w in res.warnings[:3]]
    if len(res.warnings) > 3:
        notes.append(f"... {len(res.warnings) - 3} more distinct warnings")
    return notes


def _run_compare(args: argparse.Namespace) -> int:
    """``skmoe compare``: raises CompareError on a user error, before any fit."""
    start = time.perf_counter()
    names = resolve_models(args.models)
    if args.out:
        check_out_path(args.out)
    if args.plot:
        check_plot_path(args.plot)
    ds = _load(args)
    task = ds.task
    check_n_splits(ds, args.n_splits)
    models, skipped = _build_models(names, task, args)

    stdout, stderr = sys.stdout, sys.stderr
    cv = make_cv(task, args.n_splits, args.n_repeats, args.random_state)
    n_fits = args.n_splits * args.n_repeats
    bar = args.progress if args.progress is not None else stderr.isatty()
    progress = _Progress(stderr, n_fits * len(models), bar)
    if args.data is not None:
        how = ds.task_reason if args.task == "auto" else "set by --task"
        other = "regression" if task == "classification" else "classification"
        text_labels = ds.y.dtype.kind in "US"  # cannot be read as numbers
        hint = (f"; --task {other} to override"
                if args.task == "auto" and not text_labels else "")
        progress.note(f"task: {task} (target {ds.target_name!r}: {how}{hint})")
    for name, reason in skipped.items():
        progress.note(f"note: {name} skipped: {reason}")
    first = METRICS[task][0]
    results = []
    try:
        for i, (name, est) in enumerate(models, start=1):
            label = f"[{i}/{len(models)}] {name}"
            head = f"{label}: {n_fits} fits"
            progress.start_model(head)
            t0 = time.perf_counter()
            res = evaluate(
                name, est, ds.X, ds.y, cv, task=task, n_jobs=args.n_jobs,
                callback=lambda done, total, lab=label: progress.fold_done(
                    f"{lab} fold {done}/{total}"),
            )
            progress.end_model(head, _summary(res, time.perf_counter() - t0, first),
                               _notes(res))
            results.append(res)
    finally:
        progress.close()

    ranked = rank(results, task)
    unicode = can_encode(stdout, "R² ±")
    print(ds.describe(), file=stdout)
    cv_kind = "stratified " if task == "classification" else ""
    print(f"{task}: {args.n_splits}-fold {cv_kind}cross-validation repeated "
          f"{args.n_repeats} time{'s' if args.n_repeats > 1 else ''} "
          f"(random_state={args.random_state}); mean {'±' if unicode else '+/-'} "
          f"std over {n_fits} fits", file=stdout)
    print(file=stdout)
    print(format_table(ranked, task, unicode=unicode), file=stdout)
    print(file=stdout)
    if any(r.n_failed for r in ranked):
        print("* some fits failed; their scores are left out (see stderr).",
              file=stdout)
    for name, reason in skipped.items():
        print(f"{name} skipped: {reason}.", file=stdout)
    print(f"Fit times include any inner cross-validation (tuning: "
          f"{INNER_SPLITS}-fold; stacking).", file=stdout)
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
                "classes": ds.classes,
            },
            "cv": {
                "n_splits": args.n_splits,
                "n_repeats": args.n_repeats,
                "random_state": args.random_state,
                "stratified": task == "classification",
            },
            "skipped": skipped,
            "total_time": total,
        }
        write_results(args.out, ranked, meta=meta, task=task)
        print(f"results written to {args.out}", file=stderr)
    if args.plot:
        title = (f"{ds.name} ({task}): {args.n_splits}-fold CV x "
                 f"{args.n_repeats}, {n_fits} fits per model")
        plot_scores(args.plot, ranked, task=task, title=title)
        print(f"plot written to {args.plot}", file=stderr)
    return 1 if any(r.error is not None for r in ranked) else 0


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per command.

    Returns
    -------
    argparse.ArgumentParser
        The ``skmoe`` parser; ``parse_args(...).func(args)`` runs a command.

    Examples
    --------
    >>> from skmoe.__main__ import build_parser
    >>> args = build_parser().parse_args(["compare", "--task", "regression"])
    >>> args.command, args.task, args.n_splits
    ('compare', 'regression', 5)
    """
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
        print(f"\nskmoe {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
