"""The ``skmoe compare`` command: cross-validate a mixture of experts against
standard regressors on the motorcycle data or on a user's CSV file.

The module has four parts, each usable on its own:

- data: :func:`load_csv` reads a CSV file with the standard library and checks
  it (numeric columns, no missing or infinite values, enough rows);
- models: :data:`MODELS` maps a display name to a factory
  ``factory(task, random_state, **options) -> estimator``; adding a model is
  one factory function and one line in the registry;
- evaluation: :func:`evaluate` runs ``cross_validate`` with ``RepeatedKFold``
  for one model and returns a :class:`ModelResult`;
- reporting: :func:`format_table` (plain text) and :func:`write_results`
  (CSV or JSON).

The command line itself (argparse, progress, exit codes) is in
``skmoe/__main__.py``.

User errors (bad file, bad column, bad option) raise :class:`CompareError`,
which the command prints as one line on stderr with exit status 2.
"""

from __future__ import annotations

import csv
import json
import math
import os
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

__all__ = [
    "METRICS",
    "MODELS",
    "CompareError",
    "Dataset",
    "ModelResult",
    "can_encode",
    "check_n_splits",
    "check_out_path",
    "evaluate",
    "format_table",
    "load_csv",
    "load_default",
    "make_model",
    "rank",
    "resolve_models",
    "summarise_params",
    "write_results",
]

#: Tasks the command knows. Classification comes with a later ``--task``.
TASKS = ("regression",)

#: Strings read as a missing value in a CSV cell (compared case-insensitively).
_MISSING = frozenset({"", "na", "nan", "n/a", "null", "none"})

#: Hyper-parameter grids of the tuned models (kept small: the default run on
#: mcycle must stay well under a minute on two cores).
MOE_N_EXPERTS_GRID = (2, 3, 4, 6, 8)
CART_GRID = {"max_depth": [2, 3, 4, 6, None], "min_samples_leaf": [1, 5, 10, 20]}
INNER_SPLITS = 5


class CompareError(Exception):
    """A user error of ``skmoe compare``: printed as one line, exit status 2."""


# --------------------------------------------------------------------- data
@dataclass(frozen=True)
class Dataset:
    """A numeric regression data set with its provenance."""

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str
    name: str

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    def describe(self) -> str:
        """One line: name, shape and target."""
        f = "feature" if self.n_features == 1 else "features"
        return (f"{self.name}: {self.n_samples} samples, {self.n_features} {f}, "
                f"target {self.target_name!r}")


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


def load_csv(path: str, target: str, *, sep: str = ",") -> Dataset:
    """Read a numeric regression data set from a CSV file with a header row.

    Parameters
    ----------
    path : str
        The CSV file. Its first row names the columns.
    target : str
        The column to predict; every other column is a feature.
    sep : str, default=","
        Field separator.

    Returns
    -------
    Dataset
        Features as a float64 array, the target as a float64 vector.

    Raises
    ------
    CompareError
        The file is missing or unreadable, the target column is absent
        (the message lists the columns), a column is not numeric (encode it
        first), a value is missing or infinite (impute or drop it), or there
        are fewer than two rows.
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

    values = np.empty((len(body), len(header)), dtype=np.float64)
    non_numeric = []
    for j, name in enumerate(header):
        for i, row in enumerate(body):
            v = _parse_cell(row[j])
            if v is None:
                non_numeric.append((name, row[j].strip()))
                break
            values[i, j] = v
    if non_numeric:
        bad_target = [(n, v) for n, v in non_numeric if n == target]
        if bad_target:
            raise CompareError(
                f"target column {target!r} is not numeric (value "
                f"{bad_target[0][1]!r}); regression needs a numeric target."
            )
        names = [n for n, _ in non_numeric]
        example = non_numeric[0]
        raise CompareError(
            f"non-numeric feature column(s) {_quote_list(names)} (e.g. "
            f"{example[0]!r} = {example[1]!r}); encode them as numbers first "
            "(e.g. one-hot or ordinal codes) or drop them."
        )
    _check_finite(values, header)
    j = header.index(target)
    features = tuple(h for k, h in enumerate(header) if k != j)
    return Dataset(
        X=np.ascontiguousarray(np.delete(values, j, axis=1)),
        y=values[:, j].copy(),
        feature_names=features,
        target_name=target,
        name=os.path.basename(path),
    )


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


def _folds_ok(n_samples: int, n_splits: int) -> bool:
    smallest_test = n_samples // n_splits
    largest_test = -(-n_samples // n_splits)
    return smallest_test >= 2 and n_samples - largest_test >= 2 * INNER_SPLITS


def check_n_splits(n_samples: int, n_splits: int) -> None:
    """Fail unless every fold can be scored and tuned.

    Each test fold needs two rows for R² to be defined, and each training set
    ``2 * INNER_SPLITS`` rows so that the inner tuning folds have two rows too.
    """
    if _folds_ok(n_samples, n_splits):
        return
    msg = (
        f"too few rows ({n_samples}) for {n_splits}-fold cross-validation: "
        f"each test fold needs at least 2 rows and each training set at least "
        f"{2 * INNER_SPLITS} (for the inner {INNER_SPLITS}-fold tuning); "
    )
    feasible = [k for k in range(2, n_samples + 1) if _folds_ok(n_samples, k)]
    if not feasible:
        need = 2
        while not any(_folds_ok(need, k) for k in range(2, need + 1)):
            need += 1
        raise CompareError(msg + f"use at least {need} rows.")
    lower = [k for k in feasible if k < n_splits]
    k = max(lower) if lower else min(feasible)
    raise CompareError(msg + f"use --n-splits {k}, or more data.")


# ------------------------------------------------------------------ models
def _inner_cv(random_state: int):
    # Shuffled: the training rows reach the model in file order, which is
    # often sorted (mcycle is sorted by time), and unshuffled folds would
    # then test extrapolation instead of interpolation.
    from sklearn.model_selection import KFold

    return KFold(INNER_SPLITS, shuffle=True, random_state=random_state)


def _moe(task: str, random_state: int, *, n_experts: int | None = None, **_):
    """Mixture of experts on standardised inputs; n_experts by inner CV."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from ._moe import MixtureOfExpertsRegressor

    moe = MixtureOfExpertsRegressor(n_experts=n_experts or 3,
                                    random_state=random_state)
    pipe = Pipeline([("scale", StandardScaler()), ("moe", moe)])
    if n_experts is not None:
        return pipe
    return GridSearchCV(pipe, {"moe__n_experts": list(MOE_N_EXPERTS_GRID)},
                        cv=_inner_cv(random_state))


def _cart(task: str, random_state: int, **_):
    """Decision tree (CART) tuned over depth and leaf size by inner CV."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.tree import DecisionTreeRegressor

    tree = DecisionTreeRegressor(random_state=random_state)
    return GridSearchCV(tree, CART_GRID, cv=_inner_cv(random_state))


def _stacking(task: str, random_state: int, **_):
    """Stacking of ridge, CART and k-NN with a RidgeCV final estimator."""
    from sklearn.ensemble import StackingRegressor
    from sklearn.linear_model import Ridge, RidgeCV
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeRegressor

    estimators = [
        ("ridge", make_pipeline(StandardScaler(), Ridge())),
        ("cart", DecisionTreeRegressor(min_samples_leaf=5,
                                       random_state=random_state)),
        ("knn", make_pipeline(StandardScaler(), KNeighborsRegressor())),
    ]
    return StackingRegressor(estimators, final_estimator=RidgeCV(),
                             cv=_inner_cv(random_state))


def _linear(task: str, random_state: int, **_):
    """Ordinary least squares."""
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


#: Model registry: display name -> ``factory(task, random_state, **options)``.
#: Options are the command's tuning flags (now ``n_experts``); a factory takes
#: those it uses and ignores the others.
MODELS: dict[str, Callable[..., Any]] = {
    "MoE": _moe,
    "CART": _cart,
    "Stacking": _stacking,
    "Linear": _linear,
}


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
    """Build the registered model ``name`` for ``task``."""
    if task not in TASKS:
        raise CompareError(f"unknown task {task!r}; known: {', '.join(TASKS)}.")
    return MODELS[name](task, random_state, **options)


# -------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Metric:
    """A reported score: ``value = sign * scorer(...)``."""

    key: str
    label: str
    ascii_label: str
    scorer: str
    sign: float
    higher_is_better: bool


#: Metrics per task; the first one ranks the models.
METRICS: dict[str, tuple[Metric, ...]] = {
    "regression": (
        Metric("r2", "R²", "R2", "r2", 1.0, True),
        Metric("rmse", "RMSE", "RMSE", "neg_root_mean_squared_error", -1.0, False),
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


def _short_params(params: dict) -> dict:
    return {k.rsplit("__", 1)[-1]: v for k, v in params.items()}


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[-1] if lines else type(text).__name__


def evaluate(
    name: str,
    estimator,
    X: np.ndarray,
    y: np.ndarray,
    cv,
    *,
    task: str = "regression",
    n_jobs: int | None = None,
) -> ModelResult:
    """Cross-validate one estimator; failures are recorded, not raised.

    A fit that fails scores NaN (and counts in ``n_failed``); when every fit
    fails, ``error`` holds the last line of the reason. Warnings raised while
    fitting are collected (distinct messages) instead of printed.
    """
    from sklearn.model_selection import cross_validate

    metrics = METRICS[task]
    n_fits = cv.get_n_splits(X, y)
    keep = hasattr(estimator, "param_grid")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cv_out = cross_validate(
                estimator,
                X,
                y,
                cv=cv,
                scoring={m.key: m.scorer for m in metrics},
                n_jobs=n_jobs,
                error_score=np.nan,
                return_estimator=keep,
            )
        except Exception as exc:  # a failing model must not stop the others
            nan = np.full(n_fits, np.nan)
            return ModelResult(
                name=name,
                scores={m.key: nan.copy() for m in metrics},
                fit_time=nan.copy(),
                warnings=_distinct(caught),
                error=_last_line(exc),
            )
    scores = {m.key: m.sign * np.asarray(cv_out[f"test_{m.key}"], dtype=float)
              for m in metrics}
    best = []
    if keep:
        best = [_short_params(getattr(e, "best_params_", {}))
                for e in cv_out["estimator"]]
    return ModelResult(
        name=name,
        scores=scores,
        fit_time=np.asarray(cv_out["fit_time"], dtype=float),
        best_params=best,
        warnings=_distinct(caught),
    )


def _first_line(text, limit: int = 160) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _distinct(caught) -> list[str]:
    counts = Counter(
        f"{w.category.__name__}: {_first_line(w.message)}" for w in caught
    )
    return [f"{msg} (x{c})" if c > 1 else msg for msg, c in counts.items()]


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


# --------------------------------------------------------------- reporting
def can_encode(stream: TextIO, text: str) -> bool:
    """Whether ``stream``'s encoding can write ``text`` (else print ASCII)."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _decimals(values: Sequence[float], significant: int = 4) -> int:
    finite = [abs(v) for v in values if math.isfinite(v) and v != 0]
    if not finite:
        return 3
    digits = math.floor(math.log10(max(finite))) + 1
    return min(max(significant - digits, 0), 6)


def format_table(
    results: Sequence[ModelResult],
    task: str = "regression",
    *,
    unicode: bool = True,
) -> str:
    """Plain-text table of mean ± std per metric and fit time, one row a model.

    Rows keep the order of ``results`` (rank them first).
    """
    pm = " ± " if unicode else " +/- "
    metrics = METRICS[task]
    columns = [(m.key, m.label if unicode else m.ascii_label) for m in metrics]
    columns.append(("fit_time", "fit time (s)"))
    decimals = {}
    for key, _ in columns:
        if key == "r2":
            decimals[key] = 3
        elif key == "fit_time":
            decimals[key] = 3
        else:
            decimals[key] = _decimals([r.mean(key) for r in results])
    header = ["model"] + [label for _, label in columns]
    rows = []
    for r in results:
        cells = [r.name + ("*" if r.n_failed else "")]
        for key, _ in columns:
            mean, std = r.mean(key), r.std(key)
            if r.error is not None or math.isnan(mean):
                cells.append("failed")
            else:
                d = decimals[key]
                cells.append(f"{mean:.{d}f}{pm}{std:.{d}f}")
        rows.append(cells)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells):
        parts = [cells[0].ljust(widths[0])]
        parts += [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "   ".join(parts).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    out += [line(row) for row in rows]
    return "\n".join(out)


def _clean(value):
    """JSON-safe value: NaN and inf become None, numpy scalars Python ones."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def results_records(results: Sequence[ModelResult], task: str = "regression"):
    """One flat summary dict per model (the CSV rows)."""
    keys = [m.key for m in METRICS[task]] + ["fit_time"]
    records = []
    for r in results:
        rec: dict[str, Any] = {"model": r.name}
        for k in keys:
            rec[f"{k}_mean"] = r.mean(k)
            rec[f"{k}_std"] = r.std(k)
        rec["n_fits"] = r.n_fits
        rec["n_failed"] = r.n_failed
        records.append(rec)
    return records


def check_out_path(path: str) -> str:
    """The output format ("csv" or "json") from the extension; fail early."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".csv", ".json"):
        raise CompareError(
            f"--out {path!r}: the file name must end in .csv or .json."
        )
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise CompareError(f"--out {path!r}: directory {parent!r} does not exist.")
    return ext[1:]


def write_results(
    path: str,
    results: Sequence[ModelResult],
    *,
    meta: dict,
    task: str = "regression",
) -> None:
    """Write the ranked results to ``path``, CSV or JSON by its extension.

    CSV: one summary row per model (``model, r2_mean, r2_std, rmse_mean,
    rmse_std, fit_time_mean, fit_time_std, n_fits, n_failed``). JSON: ``meta``
    (data set and cross-validation settings) plus, per model, the summary,
    the per-fit scores and fit times, the chosen hyper-parameters, warnings
    and any error. NaN is written as an empty CSV cell or JSON ``null``.
    """
    fmt = check_out_path(path)
    records = results_records(results, task)
    try:
        with open(path, "w", encoding="utf-8", newline="") as f:
            if fmt == "csv":
                writer = csv.DictWriter(f, fieldnames=list(records[0]))
                writer.writeheader()
                for rec in records:
                    writer.writerow(
                        {k: ("" if isinstance(v, float) and math.isnan(v) else v)
                         for k, v in rec.items()}
                    )
            else:
                models = []
                for rec, r in zip(records, results):
                    full = dict(rec)
                    for k, v in r.scores.items():
                        full[k] = v
                    full["fit_time"] = r.fit_time
                    full["best_params"] = r.best_params
                    full["warnings"] = r.warnings
                    full["error"] = r.error
                    models.append(full)
                doc = {**meta, "results": models}
                json.dump(_clean(doc), f, indent=2)
                f.write("\n")
    except OSError as exc:
        raise CompareError(f"cannot write {path!r}: {exc}") from None
