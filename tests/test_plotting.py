"""Tests of skmoe.plotting: the drawn data equal independent computations."""

import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import softmax
from scipy.stats import norm

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import (  # noqa: E402
    LineCollection,
    PathCollection,
    PolyCollection,
)
from matplotlib.colors import to_rgb  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skmoe import MixtureOfExpertsRegressor  # noqa: E402
from skmoe.plotting import plot_convergence, plot_experts, plot_gate  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _vee(n=150, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, 1))
    y = np.where(X[:, 0] < 0, -2 * X[:, 0], 1 + X[:, 0])
    return X, y + 0.2 * rng.standard_normal(n)


@pytest.fixture(scope="module")
def vee_fit():
    X, y = _vee()
    return X, y, MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)


def _gate(est, Xt):
    """Softmax gate written out from the fitted attributes."""
    return softmax(Xt @ est.gate_coef_.T + est.gate_intercept_, axis=1)


def _moments(est, Xt):
    """Mixture mean and sd from coef_, intercept_, noise_variance_ and the gate."""
    g = _gate(est, Xt)
    mu = Xt @ est.coef_.T + est.intercept_
    mean = np.sum(g * mu, axis=1)
    second = np.sum(g * (mu**2 + est.noise_variance_), axis=1)
    return mean, np.sqrt(second - mean**2), mu, g


def test_plot_gate_1d_matches_softmax(vee_fit):
    X, _, moe = vee_fit
    ax = plot_gate(moe, X, resolution=50)
    curves = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
    assert [ln.get_label() for ln in curves] == ["expert 0", "expert 1"]
    grid = curves[0].get_xdata()
    assert grid.size == 50
    # the range is the data's, padded by 5 % on each side
    span = X.max() - X.min()
    assert_allclose([grid[0], grid[-1]], [X.min() - 0.05 * span,
                                          X.max() + 0.05 * span])
    ref = _gate(moe, grid[:, None])
    for k, ln in enumerate(curves):
        assert_allclose(ln.get_ydata(), ref[:, k], atol=1e-12)
        assert to_rgb(ln.get_color()) == to_rgb(f"C{k}")
    rug = [ln for ln in ax.get_lines() if ln.get_label() == "_data"]
    assert len(rug) == 1
    assert_allclose(rug[0].get_xdata(), X[:, 0])
    assert ax.get_xlabel() == "x0" and ax.get_ylabel() == "gate probability"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "expert 0", "expert 1"]


def test_plot_gate_pipeline_dataframe_uses_original_coordinates():
    pd = pytest.importorskip("pandas")
    X, y = _vee()
    Xdf = pd.DataFrame({"time": 10 * X[:, 0] + 50})
    pipe = make_pipeline(StandardScaler(),
                         MixtureOfExpertsRegressor(n_experts=2, random_state=0))
    search = GridSearchCV(pipe, {"mixtureofexpertsregressor__n_experts": [2]},
                          cv=2).fit(Xdf, y)
    ax = plot_gate(search, Xdf, resolution=40)
    curve = ax.get_lines()[0]
    grid = curve.get_xdata()
    # drawn against the raw input, evaluated after the pipeline's scaling
    assert grid.min() < 25 and grid.max() > 75
    best = search.best_estimator_
    scaler, moe = best[0], best[-1]
    z = (grid - scaler.mean_[0]) / scaler.scale_[0]
    assert_allclose(curve.get_ydata(), _gate(moe, z[:, None])[:, 0], atol=1e-12)
    assert ax.get_xlabel() == "time"


def test_plot_gate_2d_regions():
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, size=(300, 2))
    y = np.where(X[:, 0] + X[:, 1] > 0, 3 * X[:, 0], -2 * X[:, 1])
    y = y + 0.1 * rng.standard_normal(300)
    moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    fig, ax = plt.subplots()
    assert plot_gate(moe, X, ax=ax, resolution=30) is ax
    (image,) = ax.get_images()
    rgb = np.asarray(image.get_array())
    assert rgb.shape == (30, 30, 3)
    span0, span1 = np.ptp(X[:, 0]), np.ptp(X[:, 1])
    x0 = np.linspace(X[:, 0].min() - 0.05 * span0, X[:, 0].max() + 0.05 * span0, 30)
    x1 = np.linspace(X[:, 1].min() - 0.05 * span1, X[:, 1].max() + 0.05 * span1, 30)
    xx, yy = np.meshgrid(x0, x1)
    g = _gate(moe, np.column_stack([xx.ravel(), yy.ravel()]))
    best = g.argmax(axis=1)
    sure = (g.max(axis=1) - 1 / 3) / (1 - 1 / 3)
    palette = np.array([to_rgb(f"C{k}") for k in range(3)])
    expected = 1 - (0.25 + 0.6 * sure)[:, None] * (1 - palette[best])
    assert_allclose(rgb.reshape(-1, 3), expected, atol=1e-10)
    (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert_allclose(points.get_offsets(), X)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "expert 0", "expert 1", "expert 2"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x0", "x1")


def test_plot_experts_lines_band_and_owners(vee_fit):
    X, y, moe = vee_fit
    ax = plot_experts(moe, X, y, resolution=60)
    mean_line = [ln for ln in ax.get_lines() if to_rgb(ln.get_color()) == (0, 0, 0)]
    assert len(mean_line) == 1
    grid = mean_line[0].get_xdata()
    mean, sd, mu, g = _moments(moe, grid[:, None])
    assert_allclose(mean_line[0].get_ydata(), mean, rtol=1e-10, atol=1e-10)
    # the band: mean ± 2 sd (its polygon's lower edge, then its upper edge)
    band = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(band) == 1
    verts = band[0].get_paths()[0].vertices
    lower = np.interp(grid, *_edge(verts, grid, upper=False))
    upper = np.interp(grid, *_edge(verts, grid, upper=True))
    assert_allclose(lower, mean - 2 * sd, rtol=1e-8, atol=1e-8)
    assert_allclose(upper, mean + 2 * sd, rtol=1e-8, atol=1e-8)
    # one line collection per expert, opacity from the gate at segment midpoints
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lines) == 2
    for k, lc in enumerate(lines):
        seg = np.asarray(lc.get_segments())
        assert_allclose(seg[:, 0, 1], mu[:-1, k], rtol=1e-10, atol=1e-10)
        alpha = lc.get_colors()[:, 3]
        assert_allclose(alpha, 0.08 + 0.92 * 0.5 * (g[:-1, k] + g[1:, k]),
                        atol=1e-12)
    # points coloured by the expert with the highest posterior given x and y
    _, _, mu_x, g_x = _moments(moe, X)
    post = g_x * norm.pdf(y[:, None], mu_x, np.sqrt(moe.noise_variance_))
    owner = post.argmax(axis=1)
    (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    palette = np.array([to_rgb(f"C{k}") for k in range(2)])
    assert_allclose(points.get_facecolors()[:, :3], palette[owner])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "expert 0", "expert 1", "mixture mean", "mean ± 2 sd"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x0", "y")


def _edge(verts, grid, upper):
    """(x, y) of the lower or upper edge of a fill_between polygon."""
    xs, ys = verts[:, 0], verts[:, 1]
    out_x, out_y = [], []
    for x in grid:
        sel = np.isclose(xs, x, rtol=0, atol=1e-12)
        out_x.append(x)
        out_y.append(ys[sel].max() if upper else ys[sel].min())
    return np.array(out_x), np.array(out_y)


def test_plot_experts_without_band_and_experts(vee_fit):
    X, y, moe = vee_fit
    ax = plot_experts(moe, X, y, n_std=0, show_experts=False)
    assert not [c for c in ax.collections if isinstance(c, LineCollection)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["mixture mean"]


def test_plot_convergence_trace(vee_fit):
    _, _, moe = vee_fit
    ax = plot_convergence(moe)
    (line,) = ax.get_lines()
    assert_allclose(line.get_ydata(), moe.log_likelihoods_)
    assert_allclose(line.get_xdata(), np.arange(moe.n_iter_ + 1))
    assert np.all(np.diff(line.get_ydata()) >= -1e-10)  # EM is monotone
    assert ax.get_xlabel() == "EM iteration"
    assert "converged" in ax.get_title()
    # overlaying a second run with labels draws a legend
    plot_convergence(moe, ax=ax, label="run A")
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "run A"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_errors(vee_fit):
    X, y, moe = vee_fit
    with pytest.raises(TypeError, match="skmoe estimator"):
        plot_gate(LinearRegression().fit(X, y), X)
    rng = np.random.default_rng(0)
    X3 = rng.standard_normal((60, 3))
    moe3 = MixtureOfExpertsRegressor(n_experts=2, max_iter=5,
                                     random_state=0).fit(X3, X3[:, 0])
    with pytest.raises(ValueError, match="one or two input features"):
        plot_gate(moe3, X3)
    with pytest.raises(ValueError, match="one input feature"):
        plot_experts(moe3, X3, X3[:, 0])
    moe2 = MixtureOfExpertsRegressor(n_experts=2, max_iter=5,
                                     random_state=0).fit(X, np.c_[y, y])
    with pytest.raises(ValueError, match="y must be 1-D"):
        plot_experts(moe2, X, np.c_[y, y])


def test_missing_matplotlib_hint(vee_fit, monkeypatch):
    X, _, moe = vee_fit
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "skmoe\[plot\]"'):
        plot_gate(moe, X)
