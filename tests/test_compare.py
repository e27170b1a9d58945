"""Tests for the ``skmoe compare`` command (skmoe/_compare.py, skmoe/__main__.py)."""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import RepeatedKFold, cross_validate

import skmoe
from skmoe.__main__ import main
from skmoe._compare_models import MODELS, ModelUnavailable

REPO = Path(__file__).resolve().parents[1]


def _available(task):
    """Registry models that can run ``task`` in this version of skmoe."""
    names = []
    for name, factory in MODELS.items():
        try:
            factory(task, 0)
        except ModelUnavailable:
            continue
        names.append(name)
    return tuple(names)


ALL_MODELS = tuple(MODELS)
REGRESSION_MODELS = _available("regression")
CLASSIFICATION_MODELS = _available("classification")
CV_ARGS = ["--n-splits", "3", "--n-repeats", "1"]
# mean ± std (or "+/-" on a stream that cannot encode "±")
CELL = re.compile(r"(-?\d+\.\d+) (?:±|\+/-) (\d+\.\d+)")


def _piecewise(n=60, seed=0):
    """Two features: x drives a piecewise-linear target, z is a weak linear term."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, n)
    z = rng.uniform(-1, 1, n)
    y = np.where(x < 5, 2 * x, 10 - 3 * (x - 5)) + 0.5 * z
    y = y + 0.2 * rng.standard_normal(n)
    return np.column_stack([x, z]), y


def _write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


@pytest.fixture
def data_csv(tmp_path):
    X, y = _piecewise()
    rows = [[repr(float(v)) for v in (a, b, c)] for (a, b), c in zip(X, y)]
    return _write_csv(tmp_path / "pw.csv", ["x", "z", "y"], rows), X, y


def _reference_linear(X, y, n_splits=3, n_repeats=1, random_state=0):
    """R² and RMSE of least squares per fold, written out with numpy only."""
    cv = RepeatedKFold(n_splits=n_splits, n_repeats=n_repeats,
                       random_state=random_state)
    r2, rmse = [], []
    for train, test in cv.split(X):
        A = np.column_stack([X[train], np.ones(len(train))])
        coef, *_ = np.linalg.lstsq(A, y[train], rcond=None)
        pred = np.column_stack([X[test], np.ones(len(test))]) @ coef
        resid = y[test] - pred
        r2.append(1 - resid @ resid / np.sum((y[test] - y[test].mean()) ** 2))
        rmse.append(np.sqrt(np.mean(resid**2)))
    return np.array(r2), np.array(rmse)


def _table_rows(out):
    """{model: [(mean, std) per column]} parsed from the printed table."""
    rows = {}
    for line in out.splitlines():
        name = line.split(" ", 1)[0].rstrip("*")
        cells = CELL.findall(line)
        if name in ALL_MODELS and cells:
            rows[name] = [(float(a), float(b)) for a, b in cells]
    return rows


# ---------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------
def test_compare_all_models_table(data_csv, capsys):
    path, X, y = data_csv
    rc = main(["compare", "--data", path, "--target", "y", *CV_ARGS])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rows = _table_rows(out)
    assert set(rows) == set(REGRESSION_MODELS)
    assert {"MoE", "CART", "Stacking", "GradientBoosting", "Linear"} <= set(rows)
    for name, cells in rows.items():
        assert len(cells) == 3, (name, cells)  # R², RMSE, fit time
        (r2, r2_std), (rmse, rmse_std), (t, t_std) = cells
        assert -1.0 < r2 <= 1.0 and r2_std >= 0
        assert rmse >= 0 and rmse_std >= 0
        assert t >= 0 and t_std >= 0
    # ranked by R², best first
    order = [ln.split(" ", 1)[0] for ln in out.splitlines()
             if ln.split(" ", 1)[0] in rows]
    r2s = [rows[n][0][0] for n in order]
    assert r2s == sorted(r2s, reverse=True)
    # Linear against an independent least-squares computation on the same folds
    ref_r2, ref_rmse = _reference_linear(X, y)
    assert rows["Linear"][0][0] == pytest.approx(ref_r2.mean(), abs=6e-4)
    assert rows["Linear"][0][1] == pytest.approx(ref_r2.std(), abs=6e-4)
    assert rows["Linear"][1][0] == pytest.approx(ref_rmse.mean(), abs=6e-4)
    # the piecewise-linear target is what the local models capture and a line
    # misses: every local model beats Linear by a wide margin
    for name in {"MoE", "HME", "CART", "Stacking"} & set(rows):
        assert rows[name][0][0] > ref_r2.mean() + 0.3
        assert rows[name][1][0] < 0.7 * ref_rmse.mean()
    # header, footer and one progress line per model on stderr
    assert "pw.csv: 60 samples, 2 features, target 'y'" in out
    assert "3-fold cross-validation repeated 1 time" in out
    assert re.search(r"Total time: \d+\.\d s", out)
    n = len(REGRESSION_MODELS)
    for i, name in enumerate(REGRESSION_MODELS, start=1):
        assert f"[{i}/{n}] {name}: 3 fits ..." in err
    assert "chosen: n_experts=" in err
    assert "\r" not in err  # stderr is not a terminal: no progress bar
    for name in set(ALL_MODELS) - set(REGRESSION_MODELS):
        assert f"{name} skipped: skmoe." in out


def test_compare_out_json_matches_cross_validate(data_csv, tmp_path, capsys):
    path, X, y = data_csv
    out_path = tmp_path / "res.json"
    rc = main(["compare", "--data", path, "--target", "y", *CV_ARGS,
               "--models", "Linear,cart", "--out", str(out_path)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    doc = json.loads(out_path.read_text())
    assert doc["skmoe_version"] == skmoe.__version__
    assert doc["task"] == "regression"
    assert doc["data"] == {"name": "pw.csv", "target": "y", "features": ["x", "z"],
                           "n_samples": 60, "n_features": 2, "classes": []}
    assert doc["cv"] == {"n_splits": 3, "n_repeats": 1, "random_state": 0,
                         "stratified": False}
    assert [r["model"] for r in doc["results"]] == ["CART", "Linear"]
    lin = doc["results"][1]
    # per-fold scores equal sklearn's cross_validate on the same folds ...
    ref = cross_validate(
        LinearRegression(), X, y,
        cv=RepeatedKFold(n_splits=3, n_repeats=1, random_state=0),
        scoring=("r2", "neg_root_mean_squared_error"),
    )
    assert_allclose(lin["r2"], ref["test_r2"], rtol=1e-10)
    assert_allclose(lin["rmse"], -ref["test_neg_root_mean_squared_error"],
                    rtol=1e-10)
    # ... and the numpy-only least-squares reference
    ref_r2, ref_rmse = _reference_linear(X, y)
    assert_allclose(lin["r2"], ref_r2, rtol=1e-8)
    assert_allclose(lin["rmse"], ref_rmse, rtol=1e-8)
    assert lin["r2_mean"] == pytest.approx(ref_r2.mean(), rel=1e-8)
    assert lin["r2_std"] == pytest.approx(ref_r2.std(), rel=1e-8)
    assert lin["rmse_mean"] == pytest.approx(ref_rmse.mean(), rel=1e-8)
    assert lin["n_fits"] == 3 and lin["n_failed"] == 0 and lin["error"] is None
    assert len(lin["fit_time"]) == 3 and min(lin["fit_time"]) >= 0
    cart = doc["results"][0]
    assert len(cart["best_params"]) == 3
    assert set(cart["best_params"][0]) == {"max_depth", "min_samples_leaf"}
    assert cart["r2_mean"] > lin["r2_mean"]
    # the JSON agrees with the printed table
    rows = _table_rows(out)
    assert set(rows) == {"CART", "Linear"}
    assert rows["CART"][1][0] == pytest.approx(cart["rmse_mean"], abs=6e-4)
    assert f"results written to {out_path}" in err


def test_compare_out_csv(data_csv, tmp_path, capsys):
    path, X, y = data_csv
    out_path = tmp_path / "res.csv"
    rc = main(["compare", "--data", path, "--target", "y", *CV_ARGS,
               "--models", "Linear", "--out", str(out_path)])
    assert rc == 0, capsys.readouterr().err
    with open(out_path, newline="") as f:
        records = list(csv.DictReader(f))
    assert len(records) == 1
    rec = records[0]
    assert list(rec) == ["model", "r2_mean", "r2_std", "rmse_mean", "rmse_std",
                         "fit_time_mean", "fit_time_std", "n_fits", "n_failed"]
    ref_r2, ref_rmse = _reference_linear(X, y)
    assert rec["model"] == "Linear"
    assert float(rec["r2_mean"]) == pytest.approx(ref_r2.mean(), rel=1e-8)
    assert float(rec["r2_std"]) == pytest.approx(ref_r2.std(), rel=1e-8)
    assert float(rec["rmse_mean"]) == pytest.approx(ref_rmse.mean(), rel=1e-8)
    assert float(rec["rmse_std"]) == pytest.approx(ref_rmse.std(), rel=1e-8)
    assert float(rec["fit_time_mean"]) >= 0
    assert rec["n_fits"] == "3" and rec["n_failed"] == "0"


def test_compare_fixed_n_experts(data_csv, capsys):
    path, X, y = data_csv
    rc = main(["compare", "--data", path, "--target", "y", *CV_ARGS,
               "--models", "MoE", "--n-experts", "2", "--random-state", "3"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rows = _table_rows(out)
    assert set(rows) == {"MoE"}
    # two linear experts are the true model of the piecewise-linear target
    assert rows["MoE"][0][0] > 0.9
    assert "chosen:" not in err  # no inner search with a fixed n_experts
    assert "random_state=3" in out


def test_compare_failing_model_is_reported(data_csv, capsys, monkeypatch):
    from sklearn.base import BaseEstimator, RegressorMixin

    from skmoe import _compare

    class Broken(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            raise RuntimeError("broken on purpose")

    monkeypatch.setitem(_compare.MODELS, "Broken", lambda task, rs, **_: Broken())
    path, X, y = data_csv
    rc = main(["compare", "--data", path, "--target", "y", *CV_ARGS,
               "--models", "broken", "linear"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "RuntimeError: broken on purpose" in err
    lines = [ln for ln in out.splitlines() if ln.startswith(("Broken", "Linear"))]
    assert lines[0].startswith("Linear") and lines[1].startswith("Broken*")
    assert lines[1].split()[1:] == ["failed", "failed", "failed"]


def test_format_table_alignment_and_ascii():
    from skmoe._compare import ModelResult
    from skmoe._compare_report import format_table

    a = ModelResult("A", {"r2": np.array([0.5, 0.7]), "rmse": np.array([10.0, 30.0])},
                    np.array([0.1, 0.3]))
    b = ModelResult("Longer", {"r2": np.array([0.1, 0.1]),
                               "rmse": np.array([1.5, 2.5])}, np.array([1.0, 1.0]))
    text = format_table([a, b])
    lines = text.splitlines()
    assert len({len(ln) for ln in lines}) == 1  # right-aligned: equal widths
    # RMSE: four significant digits for the largest mean (20.00)
    assert "0.600 ± 0.100" in lines[2] and "20.00 ± 10.00" in lines[2]
    assert "0.200 ± 0.100" in lines[2]
    assert "2.00 ± 0.50" in lines[3] and "1.000 ± 0.000" in lines[3]
    ascii_text = format_table([a, b], unicode=False)
    assert ascii_text.isascii() and "R2" in ascii_text and "+/-" in ascii_text


# ---------------------------------------------------------------------------
# errors: exit status 2, one clear line on stderr, no traceback
# ---------------------------------------------------------------------------
def _run_error(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 2
    assert "Traceback" not in err and out == ""
    return err


def test_error_missing_file(tmp_path, capsys):
    missing = str(tmp_path / "nope.csv")
    err = _run_error(["compare", "--data", missing, "--target", "y"], capsys)
    assert "not found" in err and "nope.csv" in err


def test_error_missing_target_lists_columns(data_csv, capsys):
    path, _, _ = data_csv
    err = _run_error(["compare", "--data", path, "--target", "price"], capsys)
    assert "'price' not found" in err
    assert "available columns: 'x', 'z', 'y'" in err


def test_error_non_numeric_features(tmp_path, capsys):
    rows = [[i, f"c{i % 3}", "red" if i % 2 else "blue", 2.0 * i] for i in range(30)]
    path = _write_csv(tmp_path / "cat.csv", ["x", "city", "colour", "y"], rows)
    err = _run_error(["compare", "--data", path, "--target", "y"], capsys)
    assert "non-numeric feature column(s) 'city', 'colour'" in err
    assert "encode them" in err


def test_error_non_numeric_target_for_regression(tmp_path, capsys):
    rows = [[i, "yes" if i % 2 else "no"] for i in range(30)]
    path = _write_csv(tmp_path / "cls.csv", ["x", "label"], rows)
    err = _run_error(["compare", "--data", path, "--target", "label",
                      "--task", "regression"], capsys)
    assert "target column 'label' is not numeric (value 'no')" in err
    assert "--task classification" in err


@pytest.mark.parametrize("missing", ["", "NA", "nan"])
def test_error_nan(tmp_path, capsys, missing):
    rows = [[i, 0.5 * i, 2.0 * i] for i in range(30)]
    rows[4][1] = missing
    rows[7][1] = missing
    rows[9][2] = missing
    path = _write_csv(tmp_path / "nan.csv", ["x", "z", "y"], rows)
    err = _run_error(["compare", "--data", path, "--target", "y"], capsys)
    assert "missing values (NaN)" in err
    assert "'z' (2 rows)" in err and "'y' (1 row)" in err
    assert "impute" in err and "drop" in err


def test_error_too_few_rows(tmp_path, capsys):
    rows = [[i, 2.0 * i] for i in range(20)]
    path = _write_csv(tmp_path / "small.csv", ["x", "y"], rows)
    # 15 folds of 20 rows leave test folds of one row: R² is undefined there
    err = _run_error(["compare", "--data", path, "--target", "y",
                      "--n-splits", "15"], capsys)
    assert "too few rows (20) for 15-fold cross-validation" in err
    assert "--n-splits 10" in err  # the largest K that works: folds of 2 rows
    # 7 rows: no K gives two test rows and ten training rows
    path = _write_csv(tmp_path / "tiny.csv", ["x", "y"], rows[:7])
    err = _run_error(["compare", "--data", path, "--target", "y"], capsys)
    assert "too few rows (7) for 5-fold" in err and "at least 8 rows" in err


def test_error_ragged_rows_and_separator(tmp_path, capsys):
    path = tmp_path / "semi.csv"
    path.write_text("x;y\n1;2\n3;4.5\n")
    # read with the default "," the file has one column, named "x;y"
    err = _run_error(["compare", "--data", str(path), "--target", "x;y"], capsys)
    assert "no feature columns" in err
    err = _run_error(["compare", "--data", str(path), "--target", "y"], capsys)
    assert "'y' not found" in err and "'x;y'" in err
    # with --sep ";" it parses
    from skmoe._compare import load_csv

    ds = load_csv(str(path), "y", sep=";")
    assert ds.feature_names == ("x",)
    assert_allclose(ds.X, [[1.0], [3.0]])
    assert_allclose(ds.y, [2.0, 4.5])
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("x,y\n1,2\n3\n")
    err = _run_error(["compare", "--data", str(ragged), "--target", "y"], capsys)
    assert "a row has 1 fields where the header has 2" in err


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--out", "res.txt"], "must end in .csv or .json"),
        (["--models", "MoE,Forest"], "unknown model(s) 'Forest'; available: MoE"),
        (["--target", "accel"], "--target needs --data"),
        (["--out", "no/such/dir/res.json"], "does not exist"),
    ],
)
def test_error_options(extra, expected, capsys):
    err = _run_error(["compare", *extra], capsys)
    assert expected in err


def test_error_data_without_target(data_csv, capsys):
    path, _, _ = data_csv
    err = _run_error(["compare", "--data", path], capsys)
    assert "--data needs --target" in err


@pytest.mark.parametrize("argv", [["compare", "--n-splits", "1"],
                                  ["compare", "--n-repeats", "x"],
                                  ["frobnicate"]])
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage: skmoe" in err and "Traceback" not in err


# ---------------------------------------------------------------------------
# help and version
# ---------------------------------------------------------------------------
def test_help(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "compare" in out and "--version" in out
    assert main(["compare", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--data", "--target", "--task", "--one-hot", "--n-splits",
                 "--n-repeats", "--random-state", "--models", "--n-experts",
                 "--depth", "--out", "--plot", "--progress", "--no-progress"):
        assert flag in out
    for name in ALL_MODELS:
        assert f"\n  {name} " in out  # each model is described
    assert main([]) == 2
    assert "compare" in capsys.readouterr().err


def test_version_subprocess():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), env.get("PYTHONPATH")) if p
    )
    proc = subprocess.run([sys.executable, "-m", "skmoe", "--version"],
                          capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"skmoe {skmoe.__version__}"


# ---------------------------------------------------------------------------
# classification
# ---------------------------------------------------------------------------
def _blobs(n=90, seed=0):
    """Three classes in two features, separated by x with some overlap."""
    rng = np.random.default_rng(seed)
    label = np.repeat(np.arange(3), n // 3)
    x = 2.0 * label + rng.standard_normal(n)
    z = rng.standard_normal(n)
    return np.column_stack([x, z]), label


@pytest.fixture
def class_csv(tmp_path):
    X, label = _blobs()
    names = np.array(["low", "mid", "high"])[label]
    rows = [[repr(float(a)), repr(float(b)), c] for (a, b), c in zip(X, names)]
    return _write_csv(tmp_path / "cls.csv", ["x", "z", "kind"], rows), X, names


def _reference_logistic(X, y, n_splits=3, n_repeats=1, random_state=0):
    """Accuracy, balanced accuracy and log-loss of scaled logistic regression
    per stratified fold, the scores computed by hand."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cv = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats,
                                 random_state=random_state)
    acc, bal, ll = [], [], []
    for train, test in cv.split(X, y):
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        clf.fit(X[train], y[train])
        pred = clf.predict(X[test])
        proba = clf.predict_proba(X[test])
        acc.append(np.mean(pred == y[test]))
        bal.append(np.mean([np.mean(pred[y[test] == c] == c)
                            for c in np.unique(y[test])]))
        col = np.searchsorted(clf.classes_, y[test])
        ll.append(-np.mean(np.log(proba[np.arange(len(test)), col])))
    return np.array(acc), np.array(bal), np.array(ll)


def test_compare_classification_table_and_json(class_csv, tmp_path, capsys):
    path, X, y = class_csv
    out_path = tmp_path / "cls.json"
    rc = main(["compare", "--data", path, "--target", "kind", *CV_ARGS,
               "--out", str(out_path)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "task: classification (target 'kind': its values are not numbers" in err
    assert "cls.csv: 90 samples, 2 features, target 'kind' (3 classes)" in out
    assert "classification: 3-fold stratified cross-validation" in out
    header = next(ln for ln in out.splitlines() if ln.startswith("model"))
    assert header.split()[1:] == ["accuracy", "balanced", "acc.", "log-loss",
                                  "fit", "time", "(s)"]
    rows = _table_rows(out)
    assert set(rows) == set(CLASSIFICATION_MODELS)
    # every registered model serves classification (HME included)
    assert {"MoE", "HME", "CART", "Stacking", "GradientBoosting",
            "Linear"} <= set(rows)
    for name, cells in rows.items():
        assert len(cells) == 4, (name, cells)
        (acc, acc_sd), (bal, bal_sd), (ll, ll_sd), (t, _) = cells
        assert 0 <= acc <= 1 and 0 <= bal <= 1 and ll >= 0 and t >= 0
        assert min(acc_sd, bal_sd, ll_sd) >= 0
        assert acc > 0.5  # chance is 1/3 on these well-separated classes
    order = [ln.split(" ", 1)[0] for ln in out.splitlines()
             if ln.split(" ", 1)[0] in rows]
    accs = [rows[n][0][0] for n in order]
    assert accs == sorted(accs, reverse=True)

    doc = json.loads(out_path.read_text())
    assert doc["task"] == "classification"
    assert doc["data"]["classes"] == ["high", "low", "mid"]
    assert doc["cv"]["stratified"] is True
    lin = next(r for r in doc["results"] if r["model"] == "Linear")
    ref_acc, ref_bal, ref_ll = _reference_logistic(X, y)
    assert_allclose(lin["accuracy"], ref_acc, rtol=1e-12)
    assert_allclose(lin["balanced_accuracy"], ref_bal, rtol=1e-12)
    assert_allclose(lin["log_loss"], ref_ll, rtol=1e-6)
    assert rows["Linear"][0][0] == pytest.approx(ref_acc.mean(), abs=6e-4)
    for name in set(ALL_MODELS) - set(CLASSIFICATION_MODELS):
        assert f"{name} skipped: skmoe." in out
        assert doc["skipped"][name].startswith("skmoe.")


def test_compare_task_inference_and_override(tmp_path, capsys):
    X, label = _blobs(60)
    rows = [[repr(float(a)), repr(float(b)), int(c)] for (a, b), c in zip(X, label)]
    path = _write_csv(tmp_path / "int.csv", ["x", "z", "y"], rows)
    args = ["compare", "--data", path, "--target", "y", *CV_ARGS,
            "--models", "Linear"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "task: classification (target 'y': it has 3 distinct integer values " \
           "in 60 rows; --task regression to override)" in err
    assert "accuracy" in out and "R²" not in out
    assert main([*args, "--task", "regression"]) == 0
    out, err = capsys.readouterr()
    assert "task: regression (target 'y': set by --task)" in err
    rows = _table_rows(out)
    # the integer labels as a number: least squares on the same folds
    ref_r2, _ = _reference_linear(X, label.astype(float))
    assert rows["Linear"][0][0] == pytest.approx(ref_r2.mean(), abs=6e-4)


def test_infer_task_rules():
    from skmoe._compare import infer_task

    assert infer_task(["a", "b", "a"])[0] == "classification"
    assert infer_task(["1", "2", "1", "2", ""])[0] == "classification"  # NaN skipped
    assert infer_task(["1", "2", "3"])[0] == "regression"  # no value repeats
    assert infer_task([str(i % 11) for i in range(100)])[0] == "regression"
    assert infer_task([str(i % 10) for i in range(100)])[0] == "classification"
    assert infer_task(["0.5", "1.5", "0.5", "1.5"])[0] == "regression"


def test_compare_one_hot(tmp_path, capsys):
    rng = np.random.default_rng(0)
    colour = rng.choice(["red", "blue", "green"], 60)
    x = rng.uniform(0, 1, 60)
    y = x + np.select([colour == "red", colour == "blue"], [3.0, -3.0], 0.0)
    rows = [[repr(float(a)), c, repr(float(b))] for a, c, b in zip(x, colour, y)]
    path = _write_csv(tmp_path / "cat.csv", ["x", "colour", "y"], rows)
    out_path = tmp_path / "cat.json"
    rc = main(["compare", "--data", path, "--target", "y", *CV_ARGS, "--one-hot",
               "--models", "Linear", "--out", str(out_path)])
    assert rc == 0, capsys.readouterr().err
    doc = json.loads(out_path.read_text())
    assert doc["data"]["features"] == ["x", "colour=blue", "colour=green",
                                       "colour=red"]
    # the indicator columns make the target exactly linear (no noise): R² = 1
    assert_allclose(doc["results"][0]["r2"], 1.0, atol=1e-10)


def test_compare_plot_writes_png(data_csv, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    path, _, _ = data_csv
    png = tmp_path / "scores.png"
    rc = main(["compare", "--data", path, "--target", "y", *CV_ARGS,
               "--models", "Linear,CART", "--plot", str(png)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert f"plot written to {png}" in err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(png)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 600


def test_plot_scores_axes(tmp_path):
    pytest.importorskip("matplotlib")
    from skmoe._compare import ModelResult
    from skmoe._compare_report import plot_scores

    a = ModelResult("A", {"r2": np.array([0.5, 0.7]), "rmse": np.array([1.0, 3.0])},
                    np.array([0.1, 0.3]))
    b = ModelResult("B", {"r2": np.array([np.nan, np.nan]),
                          "rmse": np.array([np.nan, np.nan])},
                    np.array([np.nan, np.nan]), error="ValueError: no")
    import matplotlib.figure

    saved = {}
    original = matplotlib.figure.Figure.savefig

    def spy(fig, *args, **kwargs):
        saved["fig"] = fig
        return original(fig, *args, **kwargs)

    matplotlib.figure.Figure.savefig = spy
    try:
        plot_scores(str(tmp_path / "s.svg"), [a, b], title="t")
    finally:
        matplotlib.figure.Figure.savefig = original
    ax_r2, ax_rmse = saved["fig"].axes[:2]
    assert ax_r2.get_xlabel() == "R² per fold (higher is better)"
    assert ax_rmse.get_xlabel() == "RMSE per fold (lower is better)"
    ticks = dict(zip([t.get_text() for t in ax_r2.get_yticklabels()],
                     ax_r2.get_yticks()))
    assert ticks == {"A": 1, "B": 0}  # the first (best) model on top
    assert "failed" in [t.get_text() for t in ax_r2.texts]
    # the fold dots of A sit at its scores; the diamond at their mean
    offsets = [c.get_offsets() for c in ax_r2.collections]
    assert any(np.allclose(np.sort(o[:, 0]), [0.5, 0.7]) for o in offsets)
    assert any(o.shape == (1, 2) and np.isclose(o[0, 0], 0.6) for o in offsets)
    assert (tmp_path / "s.svg").read_text().lstrip().startswith("<?xml")


def test_progress_bar_forced(data_csv, capsys):
    path, _, _ = data_csv
    rc = main(["compare", "--data", path, "--target", "y", *CV_ARGS,
               "--models", "Linear,CART", "--progress"])
    err = capsys.readouterr().err
    assert rc == 0, err
    frames = [f for f in err.split("\r") if f.startswith("[")]
    bars = [f for f in frames if "fits  " in f]
    assert "[########################] 6/6 fits" in err
    assert any("0/6 fits  [1/2] Linear: 3 fits" in f for f in bars)
    assert any("4/6 fits  [2/2] CART fold 1/3" in f for f in bars)
    # each model's summary line replaces the bar
    assert re.search(r"\[1/2\] Linear: 3 fits, \d+\.\d s, R2 ", err)
    assert re.search(r"\[2/2\] CART: 3 fits, \d+\.\d s, R2 ", err)


def test_compare_parallel_folds_equal_serial(data_csv, tmp_path, capsys):
    path, _, _ = data_csv
    docs = []
    for jobs in ("1", "2"):
        out_path = tmp_path / f"res{jobs}.json"
        rc = main(["compare", "--data", path, "--target", "y", *CV_ARGS,
                   "--models", "Linear", "--n-jobs", jobs, "--out", str(out_path)])
        assert rc == 0, capsys.readouterr().err
        docs.append(json.loads(out_path.read_text()))
    assert_allclose(docs[0]["results"][0]["r2"], docs[1]["results"][0]["r2"],
                    rtol=1e-12)


def test_unavailable_models_are_skipped(data_csv, capsys, monkeypatch):
    from skmoe import _compare

    def missing(task, rs, **_):
        raise ModelUnavailable("skmoe.Missing is not part of skmoe")

    monkeypatch.setitem(_compare.MODELS, "Missing", missing)
    path, _, _ = data_csv
    rc = main(["compare", "--data", path, "--target", "y", *CV_ARGS,
               "--models", "missing,linear"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "note: Missing skipped: skmoe.Missing is not part of skmoe" in err
    assert "Missing skipped: skmoe.Missing is not part of skmoe." in out
    assert set(_table_rows(out)) == {"Linear"}
    err = _run_error(["compare", "--data", path, "--target", "y",
                      "--models", "missing"], capsys)
    assert "no model can run for regression (Missing: skmoe.Missing" in err


def test_error_classification_too_few_per_class(tmp_path, capsys):
    X, label = _blobs(60)
    label[:17] = 0
    label[17:20] = 3  # class 3 has three rows
    rows = [[repr(float(a)), int(c)] for a, c in zip(X[:, 0], label)]
    path = _write_csv(tmp_path / "rare.csv", ["x", "y"], rows)
    err = _run_error(["compare", "--data", path, "--target", "y",
                      "--task", "classification"], capsys)
    assert "too few rows of class 3 (3) for 5-fold" in err
    assert "give every class at least" in err
    rows = [[i, "a"] for i in range(20)]
    path = _write_csv(tmp_path / "one.csv", ["x", "y"], rows)
    err = _run_error(["compare", "--data", path, "--target", "y"], capsys)
    assert "single class ('a')" in err


def test_error_classification_without_data(capsys):
    err = _run_error(["compare", "--task", "classification"], capsys)
    assert "--task classification needs --data" in err


@pytest.mark.parametrize(
    "extra, expected",
    [(["--plot", "scores.txt"], "must end in .png, .pdf, .svg"),
     (["--plot", "no/such/dir/s.png"], "does not exist")],
)
def test_error_plot_options(extra, expected, capsys):
    err = _run_error(["compare", *extra], capsys)
    assert expected in err


@pytest.mark.parametrize("task, cls", [
    ("classification", skmoe.HierarchicalMixtureOfExpertsClassifier),
    ("regression", skmoe.HierarchicalMixtureOfExpertsRegressor),
])
def test_hme_factory_builds_the_hierarchical_estimator(task, cls):
    from sklearn.model_selection import StratifiedKFold

    search = MODELS["HME"](task, 7)
    hme = search.estimator.named_steps["hme"]
    assert type(hme) is cls
    assert (hme.branching, hme.random_state) == (2, 7)
    assert search.param_grid == {"hme__depth": [2, 3]}
    assert isinstance(search.cv, StratifiedKFold) == (task == "classification")
    fixed = MODELS["HME"](task, 0, depth=4)  # --depth: no inner search
    assert type(fixed.named_steps["hme"]) is cls
    assert fixed.named_steps["hme"].depth == 4
