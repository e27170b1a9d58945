"""Reports of ``skmoe compare``: the table, the result files and the plot.

- :func:`format_table`: plain-text table of mean ± std per metric;
- :func:`write_results`: CSV (one summary row per model) or JSON (also the
  per-fold scores, chosen hyper-parameters, warnings and errors);
- :func:`plot_scores`: box plots of the fold scores per model and metric,
  saved to a PNG (or PDF, SVG) file; needs matplotlib (``skmoe[plot]``).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np

from ._compare import METRICS, CompareError, ModelResult

__all__ = [
    "can_encode",
    "check_out_path",
    "check_plot_path",
    "format_table",
    "plot_scores",
    "results_records",
    "write_results",
]

#: File types ``--plot`` writes.
PLOT_FORMATS = (".png", ".pdf", ".svg")


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

    Rows keep the order of ``results`` (rank them first). A model with failed
    fits is marked ``*``; one whose fits all failed reads "failed".
    """
    pm = " ± " if unicode else " +/- "
    metrics = METRICS[task]
    columns = [(m.key, m.label if unicode else m.ascii_label) for m in metrics]
    columns.append(("fit_time", "fit time (s)"))
    decimals = {m.key: m.decimals for m in metrics}
    decimals["fit_time"] = 3
    for key, d in decimals.items():
        if d is None:
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


def _check_parent(option: str, path: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise CompareError(f"{option} {path!r}: directory {parent!r} does not exist.")


def check_out_path(path: str) -> str:
    """The output format ("csv" or "json") from the extension; fail early."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".csv", ".json"):
        raise CompareError(
            f"--out {path!r}: the file name must end in .csv or .json."
        )
    _check_parent("--out", path)
    return ext[1:]


def write_results(
    path: str,
    results: Sequence[ModelResult],
    *,
    meta: dict,
    task: str = "regression",
) -> None:
    """Write the ranked results to ``path``, CSV or JSON by its extension.

    CSV: one summary row per model (``model``, then ``<metric>_mean`` and
    ``<metric>_std`` per metric and for the fit time, ``n_fits``,
    ``n_failed``). JSON: ``meta`` (data set and cross-validation settings)
    plus, per model, the summary, the per-fit scores and fit times, the chosen
    hyper-parameters, warnings and errors. NaN is written as an empty CSV cell
    or JSON ``null``.
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
                    full["fold_errors"] = r.fold_errors
                    models.append(full)
                doc = {**meta, "results": models}
                json.dump(_clean(doc), f, indent=2)
                f.write("\n")
    except OSError as exc:
        raise CompareError(f"cannot write {path!r}: {exc}") from None


# -------------------------------------------------------------------- plot
def check_plot_path(path: str) -> None:
    """Fail early on a bad ``--plot`` file name or a missing matplotlib."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in PLOT_FORMATS:
        raise CompareError(
            f"--plot {path!r}: the file name must end in "
            f"{', '.join(PLOT_FORMATS)}."
        )
    _check_parent("--plot", path)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CompareError(
            '--plot needs matplotlib: pip install "skmoe[plot]"'
        ) from None


def _horizontal() -> dict:
    """Horizontal boxes: ``orientation`` since matplotlib 3.10, else ``vert``."""
    import matplotlib

    major, minor = (int(p) for p in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {
        "vert": False}


def plot_scores(
    path: str,
    results: Sequence[ModelResult],
    *,
    task: str = "regression",
    title: str = "",
) -> None:
    """Save box plots of the fold scores, one panel per metric, to ``path``.

    Models are rows, in the order of ``results`` (ranked: best on top); each
    box spans the quartiles of a model's fold scores, the dots are the folds
    and the diamond the mean. Models whose fits all failed are marked.
    Draws on a bare :class:`~matplotlib.figure.Figure`, so no pyplot state or
    interactive backend is touched.
    """
    from matplotlib.figure import Figure

    metrics = METRICS[task]
    names = [r.name for r in results]
    n = len(results)
    fig = Figure(figsize=(4.2 * len(metrics) + 1.2, 0.55 * n + 1.8),
                 layout="constrained")
    axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    rng = np.random.default_rng(0)
    positions = np.arange(n)[::-1]  # first (best) model on top
    for ax, metric in zip(axes, metrics):
        data = [r.scores[metric.key][np.isfinite(r.scores[metric.key])]
                for r in results]
        ok = [i for i, d in enumerate(data) if d.size]
        if ok:
            ax.boxplot([data[i] for i in ok], positions=positions[ok],
                       **_horizontal(), widths=0.55, showfliers=False,
                       patch_artist=True,
                       boxprops={"facecolor": "#dbe6f4", "edgecolor": "#3a5f8f"},
                       medianprops={"color": "#3a5f8f"},
                       whiskerprops={"color": "#3a5f8f"},
                       capprops={"color": "#3a5f8f"})
        for i, d in enumerate(data):
            if not d.size:
                ax.text(0.02, positions[i], "failed", va="center",
                        transform=ax.get_yaxis_transform(), color="firebrick")
                continue
            jitter = rng.uniform(-0.15, 0.15, d.size)
            ax.scatter(d, positions[i] + jitter, s=12, color="#1f3b63", alpha=0.6,
                       lw=0, zorder=3)
            ax.scatter([d.mean()], [positions[i]], marker="D", s=36,
                       color="darkorange", edgecolor="k", lw=0.6, zorder=4)
        better = "higher" if metric.higher_is_better else "lower"
        ax.set_xlabel(f"{metric.label} per fold ({better} is better)")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(positions, names)
    axes[0].set_ylabel("model (best first)")
    axes[0].set_ylim(-0.6, n - 0.4)
    if any(r.scores[metrics[0].key].size for r in results):
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], marker="o", ls="", color="#1f3b63", alpha=0.6,
                          label="fold"),
                   Line2D([], [], marker="D", ls="", color="darkorange",
                          markeredgecolor="k", label="mean")]
        axes[-1].legend(handles=handles, loc="best", fontsize="small")
    if title:
        fig.suptitle(title)
    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise CompareError(f"cannot write {path!r}: {exc}") from None
