"""The engine of ``skmoe compare``: cross-validate mixtures of experts against
standard models on the motorcycle data or on a user's CSV file.

Three parts, each usable on its own:

- data: :func:`load_csv` reads a CSV file with the standard library, checks it
  (numeric features or ``one_hot``, no missing or infinite values, enough
  rows) and infers the task from the target (:func:`infer_task`);
- models: the registry :data:`MODELS` (``skmoe/_compare_models.py``);
  :func:`resolve_models` reads the user's choice, :func:`make_model` builds one;
- evaluation: :func:`evaluate` fits and scores one model on every fold
  (reporting progress through a callback) and returns a :class:`ModelResult`.

Tables, result files and the score plot are in ``skmoe/_compare_report.py``;
the command line (argparse, progress bar, exit codes) in ``skmoe/__main__.py``.
User errors (bad file, bad column, bad option) raise :class:`CompareError`,
which the command prints as one line on stderr with exit status 2.
"""

from __future__ import annotations

import csv
import math
import os
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ._compare_models import INNER_SPLITS, MODELS, ModelUnavailable

__all__ = [
    "METRICS",
    "MODELS",
    "TASKS",
    "CompareError",
    "Dataset",
    "Metric",
    "ModelResult",
    "ModelUnavailable",
    "check_n_splits",
    "evaluate",
    "infer_task",
    "load_csv",
    "load_default",
    "make_cv",
    "make_model",
    "rank",
    "resolve_models",
    "summarise_params",
]

#: Tasks the command knows.
TASKS = ("regression", "classification")

#: Strings read as a missing value in a CSV cell (compared case-insensitively).
_MISSING = frozenset({"", "na", "nan", "n/a", "null", "none"})

#: With ``task="auto"``, an integer-valued target with at most this many
#: distinct values is read as class labels.
AUTO_MAX_CLASSES = 10

#: A one-hot encoded column may have at most this many categories.
MAX_CATEGORIES = 100


class CompareError(Exception):
    """A user error of ``skmoe compare``: printed as one line, exit status 2."""


# --------------------------------------------------------------------- data
@dataclass(frozen=True)
class Dataset:
    """A numeric data set with its task and provenance."""

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str
    name: str
    task: str = "regression"
    task_reason: str = ""

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def classes(self) -> list:
        """Sorted class labels (classification), else an empty list."""
        if self.task != "classification":
            return []
        return [v.item() if isinstance(v, np.generic) else v
                for v in np.unique(self.y)]

    def describe(self) -> str:
        """One line: name, shape, target and task."""
        f = "feature" if self.n_features == 1 else "features"
        text = (f"{self.name}: {self.n_samples} samples, {self.n_features} {f}, "
                f"target {self.target_name!r}")
        if self.task == "classification":
            text += f" ({len(self.classes)} classes)"
        return text


def load_default() -> Dataset:
    """The motorcycle crash helmet data (133 rows, one feature)."""
    from .datasets import load_mcycle

    data = load_mcycle()
    return Dataset(
        X=data.data,
        y=data.target,
        feature_names=tuple(data.feature_names),
        target_name=data.target_names[0],
        name="mcycle",
    )


def _quote_list(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names) - limit} more)"
    return shown


def _parse_cell(text: str) -> float | None:
    """Float value of a cell, NaN when missing, None when not a number."""
    s = text.strip()
    if s.lower() in _MISSING:
        return math.nan
    try:
        return float(s)
    except ValueError:
        return None


def _read_rows(path: str, sep: str) -> tuple[list[str], list[list[str]]]:
    if not os.path.exists(path):
        raise CompareError(f"data file {path!r} not found.")
    if os.path.isdir(path):
        raise CompareError(f"{path!r} is a directory, not a CSV file.")
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = [row for row in csv.reader(f, delimiter=sep) if any(row)]
    except UnicodeDecodeError as exc:
        raise CompareError(
            f"cannot read {path!r}: it is not UTF-8 text ({exc.reason})."
        ) from None
    except (OSError, csv.Error) as exc:
        raise CompareError(f"cannot read {path!r}: {exc}") from None
    if not rows:
        raise CompareError(f"{path!r} is empty: expected a header row and data.")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    for lineno, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise CompareError(
                f"{path!r}: a row has {len(row)} fields where the header has "
                f"{len(header)} (data row {lineno - 1}); check the separator "
                f"(--sep, now {sep!r})."
            )
    return header, body


def infer_task(cells: Sequence[str]) -> tuple[str, str]:
    """``(task, reason)`` from a target column's cells (missing cells skipped).

    Classification when a value is not a number, or when every value is an
    integer, there are at most ``AUTO_MAX_CLASSES`` distinct values and they
    repeat (at most one distinct value per two rows); regression otherwise.

    Examples
    --------
    >>> from skmoe._compare import infer_task
    >>> infer_task(["1.5", "2.25", "3"])[0]
    'regression'
    >>> infer_task(["yes", "no", "yes"])
    ('classification', "its values are not numbers (e.g. 'yes')")
    >>> infer_task(["0", "1", "1", "0"])[0]
    'classification'
    >>> infer_task(["0", "1", "2", "3"])[0]  # distinct integers: a quantity
    'regression'
    """
    values = []
    for c in cells:
        v = _parse_cell(c)
        if v is None:
            return "classification", f"its values are not numbers (e.g. {c.strip()!r})"
        if not math.isnan(v):
            values.append(v)
    distinct = set(values)
    if (distinct and all(float(v).is_integer() for v in distinct)
            and len(distinct) <= AUTO_MAX_CLASSES
            and 2 * len(distinct) <= len(values)):
        return "classification", (f"it has {len(distinct)} distinct integer "
                                  f"values in {len(values)} rows")
    return "regression", "its values are numbers, not a few repeated integers"


def _target_values(name: str, cells: list[str], task: str) -> np.ndarray:
    """The target as floats (regression: NaN where missing, checked later
    with the features) or class labels (classification)."""
    parsed = [_parse_cell(c) for c in cells]
    if task == "regression":
        bad = [c for c, v in zip(cells, parsed) if v is None]
        if bad:
            raise CompareError(
                f"target column {name!r} is not numeric (value {bad[0].strip()!r}); "
                "regression needs a numeric target (or use --task classification "
                "to treat its values as classes)."
            )
        return np.array(parsed, dtype=np.float64)
    missing = sum(1 for v in parsed if v is not None and math.isnan(v))
    if missing:
        raise CompareError(
            f"missing values in the target column {name!r} ({missing} "
            f"row{'s' if missing > 1 else ''}); drop those rows first."
        )
    if all(v is not None and float(v).is_integer() for v in parsed):
        return np.array(parsed, dtype=np.float64).astype(np.int64)
    return np.array([c.strip() for c in cells])  # labels as text


def _one_hot(name: str, cells: list[str]) -> tuple[np.ndarray, list[str]]:
    """Indicator columns (one per category, sorted) and their names."""
    values = [c.strip() for c in cells]
    missing = sum(1 for v in values if v.lower() in _MISSING)
    if missing:
        raise CompareError(
            f"missing values in the categorical column {name!r} ({missing} "
            f"row{'s' if missing > 1 else ''}); fill or drop them first."
        )
    categories = sorted(set(values))
    if len(categories) > MAX_CATEGORIES:
        raise CompareError(
            f"column {name!r} has {len(categories)} distinct values: one-hot "
            f"encoding makes at most {MAX_CATEGORIES} columns; drop it or encode "
            "it yourself."
        )
    codes = np.searchsorted(np.array(categories), np.array(values))
    return (np.eye(len(categories))[codes],
            [f"{name}={c}" for c in categories])


def load_csv(path: str, target: str, *, sep: str = ",", task: str = "auto",
             one_hot: bool = False) -> Dataset:
    """Read a data set from a CSV file with a header row.

    Parameters
    ----------
    path : str
        The CSV file. Its first row names the columns.
    target : str
        The column to predict; every other column is a feature.
    sep : str, default=","
        Field separator.
    task : {"auto", "regression", "classification"}, default="auto"
        "auto" reads the target as classes when it is not numeric or has at
        most ``AUTO_MAX_CLASSES`` distinct integer values (:func:`infer_task`).
    one_hot : bool, default=False
        Encode non-numeric feature columns as 0/1 indicator columns (one per
        category, named ``column=value``); without it they are an error.

    Returns
    -------
    Dataset
        Features as a float64 array; the target as float64 (regression) or
        as class labels (classification: integers or strings).

    Raises
    ------
    CompareError
        The file is missing or unreadable, the target column is absent
        (the message lists the columns), a feature column is not numeric and
        ``one_hot`` is False, a value is missing or infinite, or there are
        fewer than two rows.
    """
    header, body = _read_rows(path, sep)
    if target not in header:
        raise CompareError(
            f"target column {target!r} not found in {path!r}; available "
            f"columns: {_quote_list(header)}."
        )
    if header.count(target) > 1:
        raise CompareError(f"{path!r} has more than one column named {target!r}.")
    if len(header) < 2:
        raise CompareError(f"{path!r} has no feature columns besides {target!r}.")
    if len(body) < 2:
        raise CompareError(f"{path!r} has {len(body)} data row(s); need more.")
    j_target = header.index(target)
    target_cells = [row[j_target] for row in body]
    reason = "set by --task"
    if task == "auto":
        task, reason = infer_task(target_cells)
    elif task not in TASKS:
        raise CompareError(f"unknown task {task!r}; known: auto, {', '.join(TASKS)}.")
    y = _target_values(target, target_cells, task)

    blocks, names, non_numeric = [], [], []
    checked, checked_names = [], []  # numeric columns in file order
    for j, name in enumerate(header):
        if j == j_target:
            if task == "regression":
                checked.append(y[:, None])
                checked_names.append(name)
            continue
        cells = [row[j] for row in body]
        col = [_parse_cell(c) for c in cells]
        bad = next((c.strip() for c, v in zip(cells, col) if v is None), None)
        if bad is None:
            blocks.append(np.array(col, dtype=np.float64)[:, None])
            names.append(name)
            checked.append(blocks[-1])
            checked_names.append(name)
        elif one_hot:
            block, block_names = _one_hot(name, cells)
            blocks.append(block)
            names.extend(block_names)
        else:
            non_numeric.append((name, bad))
    if non_numeric:
        example = non_numeric[0]
        raise CompareError(
            f"non-numeric feature column(s) {_quote_list([n for n, _ in non_numeric])}"
            f" (e.g. {example[0]!r} = {example[1]!r}); pass --one-hot to encode "
            "them as indicator columns, or encode (or drop) them first."
        )
    if checked:
        _check_finite(np.hstack(checked), checked_names)
    X = np.hstack(blocks)
    return Dataset(X=np.ascontiguousarray(X), y=y, feature_names=tuple(names),
                   target_name=target, name=os.path.basename(path), task=task,
                   task_reason=reason)


def _check_finite(values: np.ndarray, header: Sequence[str]) -> None:
    nan_counts = np.isnan(values).sum(axis=0)
    if nan_counts.any():
        cols = [
            f"{header[j]!r} ({c} row{'s' if c > 1 else ''})"
            for j, c in enumerate(nan_counts)
            if c
        ]
        raise CompareError(
            f"missing values (NaN) in column(s) {', '.join(cols)}; impute "
            "them (e.g. sklearn.impute.SimpleImputer) or drop those rows first."
        )
    inf_cols = [header[j] for j in np.flatnonzero(np.isinf(values).any(axis=0))]
    if inf_cols:
        raise CompareError(
            f"infinite values in column(s) {_quote_list(inf_cols)}; replace or "
            "drop them first."
        )


# -------------------------------------------------------- cross-validation
def _folds_ok(n: int, n_splits: int) -> bool:
    """Regression: test folds of >= 2 rows, training sets of >= 2 per inner fold."""
    smallest_test = n // n_splits
    largest_test = -(-n // n_splits)
    return smallest_test >= 2 and n - largest_test >= 2 * INNER_SPLITS


def _class_folds_ok(count: int, n_splits: int) -> bool:
    """Classification: a class in every outer fold and in every inner fold."""
    return count >= n_splits and count - -(-count // n_splits) >= INNER_SPLITS


def check_n_splits(ds: Dataset, n_splits: int) -> None:
    """Fail unless every fold can be scored and tuned.

    Regression: each test fold needs two rows for R² to be defined, and each
    training set ``2 * INNER_SPLITS`` rows so that the inner tuning folds have
    two rows too. Classification: at least two classes, and each class needs
    a row in every outer test fold and in every inner fold.
    """
    if ds.task == "classification":
        return _check_class_counts(ds, n_splits)
    n = ds.n_samples
    if _folds_ok(n, n_splits):
        return
    msg = (
        f"too few rows ({n}) for {n_splits}-fold cross-validation: "
        f"each test fold needs at least 2 rows and each training set at least "
        f"{2 * INNER_SPLITS} (for the inner {INNER_SPLITS}-fold tuning); "
    )
    feasible = [k for k in range(2, n + 1) if _folds_ok(n, k)]
    if not feasible:
        need = 2
        while not any(_folds_ok(need, k) for k in range(2, need + 1)):
            need += 1
        raise CompareError(msg + f"use at least {need} rows.")
    lower = [k for k in feasible if k < n_splits]
    k = max(lower) if lower else min(feasible)
    raise CompareError(msg + f"use --n-splits {k}, or more data.")


def _check_class_counts(ds: Dataset, n_splits: int) -> None:
    labels, counts = np.unique(ds.y, return_counts=True)
    if labels.size < 2:
        raise CompareError(
            f"the target {ds.target_name!r} has a single class "
            f"({labels[0].item()!r}); "
            "classification needs at least two."
        )
    smallest = int(counts.min())
    if _class_folds_ok(smallest, n_splits):
        return
    rare = labels[counts.argmin()]
    rare = rare.item() if isinstance(rare, np.generic) else rare
    msg = (
        f"too few rows of class {rare!r} ({smallest}) for {n_splits}-fold "
        f"cross-validation: each class needs a row in every test fold and at "
        f"least {INNER_SPLITS} rows in each training set (for the inner "
        f"{INNER_SPLITS}-fold tuning); "
    )
    feasible = [k for k in range(2, n_splits) if _class_folds_ok(smallest, k)]
    if feasible:
        raise CompareError(msg + f"use --n-splits {max(feasible)}, or more data.")
    need = next(c for c in range(2, 10 * INNER_SPLITS + 10)
                if _class_folds_ok(c, 2))
    raise CompareError(msg + f"give every class at least {need} rows, or merge "
                             "rare classes.")


def make_cv(task: str, n_splits: int, n_repeats: int, random_state: int):
    """Repeated K-fold (stratified for classification) outer cross-validation."""
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

    cls = RepeatedStratifiedKFold if task == "classification" else RepeatedKFold
    return cls(n_splits=n_splits, n_repeats=n_repeats, random_state=random_state)


# ------------------------------------------------------------------ models
def resolve_models(names: Sequence[str] | None) -> list[str]:
    """Registry names for user-given names (case-insensitive, commas split)."""
    if not names:
        return list(MODELS)
    by_lower = {n.lower(): n for n in MODELS}
    chosen: list[str] = []
    unknown = []
    for item in names:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            name = by_lower.get(part.lower())
            if name is None:
                unknown.append(part)
            elif name not in chosen:
                chosen.append(name)
    if unknown:
        raise CompareError(
            f"unknown model(s) {_quote_list(unknown)}; available: "
            f"{', '.join(MODELS)}."
        )
    if not chosen:
        raise CompareError(f"no model chosen; available: {', '.join(MODELS)}.")
    return chosen


def make_model(name: str, task: str, random_state: int, **options):
    """Build the registered model ``name`` for ``task``.

    Raises :class:`ModelUnavailable` when the model cannot serve ``task`` in
    this version of skmoe (the caller skips it with a note).
    """
    if task not in TASKS:
        raise CompareError(f"unknown task {task!r}; known: {', '.join(TASKS)}.")
    return MODELS[name](task, random_state, **options)


# -------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Metric:
    """A reported score: ``value = sign * scorer(estimator, X, y)``."""

    key: str
    label: str
    ascii_label: str
    scorer: str
    sign: float
    higher_is_better: bool
    #: Fixed decimals in the table, or None for four significant digits.
    decimals: int | None = 3


#: Metrics per task; the first one ranks the models.
METRICS: dict[str, tuple[Metric, ...]] = {
    "regression": (
        Metric("r2", "R²", "R2", "r2", 1.0, True),
        Metric("rmse", "RMSE", "RMSE", "neg_root_mean_squared_error", -1.0, False,
               None),
    ),
    "classification": (
        Metric("accuracy", "accuracy", "accuracy", "accuracy", 1.0, True),
        Metric("balanced_accuracy", "balanced acc.", "balanced acc.",
               "balanced_accuracy", 1.0, True),
        Metric("log_loss", "log-loss", "log-loss", "neg_log_loss", -1.0, False),
    ),
}


@dataclass
class ModelResult:
    """Cross-validation scores of one model, one value per fit."""

    name: str
    scores: dict[str, np.ndarray]
    fit_time: np.ndarray
    best_params: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    fold_errors: list[str] = field(default_factory=list)

    @property
    def n_fits(self) -> int:
        return self.fit_time.size

    @property
    def n_failed(self) -> int:
        if self.error is not None:
            return self.n_fits
        first = next(iter(self.scores.values()))
        return int(np.isnan(first).sum())

    def mean(self, key: str) -> float:
        values = self.fit_time if key == "fit_time" else self.scores[key]
        ok = values[np.isfinite(values)]
        return float(ok.mean()) if ok.size else math.nan

    def std(self, key: str) -> float:
        values = self.fit_time if key == "fit_time" else self.scores[key]
        ok = values[np.isfinite(values)]
        return float(ok.std()) if ok.size else math.nan


@dataclass
class _Fold:
    scores: dict[str, float]
    fit_time: float
    best_params: dict | None
    warnings: list[str]
    error: str | None


def _short_params(params: dict) -> dict:
    return {k.rsplit("__", 1)[-1]: v for k, v in params.items()}


def _error_text(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[-1]}" if lines else type(exc).__name__


def _first_line(text, limit: int = 160) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _fit_and_score(estimator, X, y, train, test, metrics) -> _Fold:
    """Fit a clone on ``train`` and score it on ``test``; never raises.

    The fit runs on one thread (BLAS and OpenMP): every model gets the same
    resources, and on small data threads cost more than they save. Folds run
    in parallel with ``n_jobs`` instead.
    """
    from sklearn.base import clone
    from sklearn.metrics import get_scorer
    from threadpoolctl import threadpool_limits

    est = clone(estimator)
    nan_scores = {m.key: math.nan for m in metrics}
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1):
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        try:
            est.fit(X[train], y[train])
            fit_time = time.perf_counter() - t0
            scores = {m.key: m.sign * float(get_scorer(m.scorer)(est, X[test],
                                                                  y[test]))
                      for m in metrics}
            error = None
        except Exception as exc:  # a failing fit must not stop the others
            fit_time, scores, error = math.nan, nan_scores, _error_text(exc)
    best = getattr(est, "best_params_", None)
    return _Fold(
        scores=scores,
        fit_time=fit_time,
        best_params=_short_params(best) if best is not None else None,
        warnings=[f"{w.category.__name__}: {_first_line(w.message)}"
                  for w in caught],
        error=error,
    )


def _run_folds(estimator, X, y, splits, metrics, n_jobs):
    """Fold results in order, as they finish (joblib when ``n_jobs`` > 1)."""
    if n_jobs in (None, 1):
        for train, test in splits:
            yield _fit_and_score(estimator, X, y, train, test, metrics)
        return
    from joblib import Parallel, delayed

    tasks = (delayed(_fit_and_score)(estimator, X, y, tr, te, metrics)
             for tr, te in splits)
    try:
        yield from Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
    except TypeError:  # joblib < 1.3: no generator output
        yield from Parallel(n_jobs=n_jobs)(tasks)


def evaluate(
    name: str,
    estimator,
    X: np.ndarray,
    y: np.ndarray,
    cv,
    *,
    task: str = "regression",
    n_jobs: int | None = None,
    callback: Callable[[int, int], None] | None = None,
) -> ModelResult:
    """Cross-validate one estimator; failures are recorded, not raised.

    Each fold fits a clone of ``estimator`` and scores it with the task's
    metrics (the same numbers as scikit-learn's ``cross_validate``). A fit
    that fails scores NaN and counts in ``n_failed``; when every fit fails,
    ``error`` holds the reason. Warnings raised while fitting are collected
    (distinct messages, with counts) instead of printed. ``callback(done,
    total)`` is called after every fold.
    """
    metrics = METRICS[task]
    splits = list(cv.split(X, y))
    folds = []
    for fold in _run_folds(estimator, X, y, splits, metrics, n_jobs):
        folds.append(fold)
        if callback is not None:
            callback(len(folds), len(splits))
    counts = Counter(w for f in folds for w in f.warnings)
    errors = [f.error for f in folds if f.error is not None]
    error_counts = Counter(errors)
    return ModelResult(
        name=name,
        scores={m.key: np.array([f.scores[m.key] for f in folds], dtype=float)
                for m in metrics},
        fit_time=np.array([f.fit_time for f in folds], dtype=float),
        best_params=[f.best_params for f in folds if f.best_params is not None],
        warnings=[f"{msg} (x{c})" if c > 1 else msg for msg, c in counts.items()],
        error=errors[-1] if len(errors) == len(folds) else None,
        fold_errors=[f"{msg} (x{c})" if c > 1 else msg
                     for msg, c in error_counts.items()],
    )


def rank(results: Sequence[ModelResult], task: str = "regression"):
    """Best first by the task's first metric; failed models last."""
    first = METRICS[task][0]

    def key(r: ModelResult):
        m = r.mean(first.key)
        if math.isnan(m):
            return (1, 0.0)
        return (0, -m if first.higher_is_better else m)

    return sorted(results, key=key)


def summarise_params(best_params: Sequence[dict]) -> str:
    """``"n_experts=5 (10x); n_experts=4 (5x)"``: chosen settings by frequency."""
    counts = Counter(
        ", ".join(f"{k}={v}" for k, v in sorted(p.items())) for p in best_params
    )
    return "; ".join(f"{s} ({c}x)" for s, c in counts.most_common())
