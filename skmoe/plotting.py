"""Plots of fitted mixtures of experts (optional: needs matplotlib).

- :func:`plot_gate`: the gate's probabilities over a 1-D input, or its regions
  (the most probable expert) over a 2-D input;
- :func:`plot_experts`: for a 1-D input, the data, each expert's fit (drawn
  strongest where the gate gives it the most weight), the mixture's mean and
  its predictive band;
- :func:`plot_convergence`: the log-likelihood after every EM iteration.

Every function takes a fitted skmoe estimator, or a fitted
:class:`~sklearn.pipeline.Pipeline` that ends in one (its inputs are then
drawn in the pipeline's own coordinates, before scaling), or a fitted search
such as :class:`~sklearn.model_selection.GridSearchCV` (its best estimator),
and returns the matplotlib Axes it drew on. Expert ``k`` has the same colour in
every plot. Install matplotlib with ``pip install "skmoe[plot]"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_convergence", "plot_experts", "plot_gate"]

_INSTALL_HINT = 'skmoe.plotting needs matplotlib: pip install "skmoe[plot]"'


def _pyplot():
    """matplotlib.pyplot, imported on first use, with an install hint."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(_INSTALL_HINT) from exc
    return plt


def _new_axes(ax):
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots()
    return ax


def _expert_colors(n_experts: int) -> list:
    """One colour per expert: tab10, tab20, then a sampled colour map."""
    from matplotlib import colormaps

    if n_experts <= 10:
        cmap = colormaps["tab10"]
        return [cmap(k) for k in range(n_experts)]
    if n_experts <= 20:
        cmap = colormaps["tab20"]
        return [cmap(k) for k in range(n_experts)]
    cmap = colormaps["turbo"]
    return [cmap(v) for v in np.linspace(0.05, 0.95, n_experts)]


def _resolve(estimator) -> tuple[Any, Any, Any]:
    """``(top, transform, final)``: what to call, how inputs reach the model.

    ``top`` is the fitted object as given (a search is replaced by its best
    estimator), ``transform`` maps inputs in ``top``'s coordinates to the final
    estimator's, and ``final`` is the skmoe estimator itself.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    top = getattr(estimator, "best_estimator_", estimator)
    if isinstance(top, Pipeline):
        final = top.steps[-1][1]
        head = top[:-1]

        def transform(X):
            return head.transform(X)
    else:
        final = top

        def transform(X):
            return X

    if not hasattr(final, "predict_gate"):
        raise TypeError(
            "expected a fitted skmoe estimator, or a Pipeline or search that "
            f"ends in one; got {type(final).__name__}."
        )
    check_is_fitted(final)
    return top, transform, final


def _feature_names(top, X, n_features: int) -> list[str]:
    columns = getattr(X, "columns", None)
    if columns is not None:
        return [str(c) for c in columns]
    names = getattr(top, "feature_names_in_", None)
    if names is not None:
        return [str(c) for c in names]
    return [f"x{j}" for j in range(n_features)]


def _grid_input(top, grid: np.ndarray, names: list[str]):
    """The grid as the fitted object expects it (a DataFrame if fitted on one)."""
    if getattr(top, "feature_names_in_", None) is None:
        return grid
    import pandas as pd

    return pd.DataFrame(grid, columns=names)


def _padded_range(values: np.ndarray, pad: float = 0.05) -> tuple[float, float]:
    lo, hi = float(np.min(values)), float(np.max(values))
    span = hi - lo if hi > lo else max(abs(lo), 1.0)
    return lo - pad * span, hi + pad * span


def _as_2d(X) -> np.ndarray:
    arr = np.asarray(X, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got {arr.shape}.")
    return arr


def plot_gate(
    estimator,
    X,
    *,
    ax: Axes | None = None,
    resolution: int = 200,
    show_data: bool = True,
) -> Axes:
    """Plot the gate over the inputs: which expert rules where.

    With one input feature, draws each expert's gate probability ``g_k(x)``
    as a curve, and the data as a rug along the bottom. With two features,
    colours each point of a grid by its most probable expert, paler where the
    gate is less sure, outlines the regions and scatters the data on top.

    Parameters
    ----------
    estimator : estimator
        A fitted skmoe estimator (anything with ``predict_gate``), a fitted
        Pipeline ending in one, or a fitted search over either.
    X : array-like of shape (n_samples, 1) or (n_samples, 2)
        Inputs in the coordinates ``estimator`` was fitted on; they set the
        plotted range.
    ax : matplotlib Axes, default=None
        Axes to draw on; None creates a new figure.
    resolution : int, default=200
        Grid points per input axis.
    show_data : bool, default=True
        Draw the data (a rug in 1-D, points in 2-D).

    Returns
    -------
    ax : matplotlib Axes
        The Axes drawn on.

    Raises
    ------
    TypeError
        If ``estimator`` is not (and does not end in) a skmoe estimator.
    ValueError
        If ``X`` has more than two features.

    See Also
    --------
    plot_experts : Each expert's fit and the predictive band (1-D inputs).

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.plotting import plot_gate
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, size=(200, 1))
    >>> y = np.abs(X[:, 0]) + 0.1 * rng.standard_normal(200)
    >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    >>> ax = plot_gate(moe, X)
    >>> ax.get_ylabel()
    'gate probability'
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['expert 0', 'expert 1']
    """
    top, transform, final = _resolve(estimator)
    Xa = _as_2d(X)
    d = Xa.shape[1]
    if d not in (1, 2):
        raise ValueError(
            f"plot_gate draws one or two input features; X has {d}. Plot "
            "estimator.predict_gate(X) against the features you choose instead."
        )
    names = _feature_names(top, X, d)
    ax = _new_axes(ax)
    if d == 1:
        return _plot_gate_1d(ax, top, transform, final, Xa[:, 0], names[0],
                             resolution, show_data)
    return _plot_gate_2d(ax, top, transform, final, Xa, names, resolution,
                         show_data)


def _plot_gate_1d(ax, top, transform, final, x, name, resolution, show_data):
    grid = np.linspace(*_padded_range(x), resolution)
    G = final.predict_gate(transform(_grid_input(top, grid[:, None], [name])))
    colors = _expert_colors(G.shape[1])
    for k in range(G.shape[1]):
        ax.plot(grid, G[:, k], color=colors[k], lw=2, label=f"expert {k}")
    if show_data:
        ax.plot(x, np.full(x.shape, -0.04), "|", color="0.35", ms=8, alpha=0.6,
                label="_data")
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(-0.08, 1.05)
    ax.set_xlabel(name)
    ax.set_ylabel("gate probability")
    ax.set_title("Gate probabilities $g_k(x)$")
    ax.legend(loc="best", fontsize="small")
    return ax


def _plot_gate_2d(ax, top, transform, final, Xa, names, resolution, show_data):
    from matplotlib.colors import to_rgb
    from matplotlib.patches import Patch

    x0 = np.linspace(*_padded_range(Xa[:, 0]), resolution)
    x1 = np.linspace(*_padded_range(Xa[:, 1]), resolution)
    xx, yy = np.meshgrid(x0, x1)
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    G = final.predict_gate(transform(_grid_input(top, grid, names)))
    K = G.shape[1]
    colors = np.array([to_rgb(c) for c in _expert_colors(K)])
    best = G.argmax(axis=1)
    # pale where the gate hesitates (max prob 1/K), full colour where it is sure
    sure = (G.max(axis=1) - 1.0 / K) / (1.0 - 1.0 / K) if K > 1 else np.ones(len(G))
    strength = (0.25 + 0.6 * np.clip(sure, 0, 1))[:, None]
    rgb = 1.0 - strength * (1.0 - colors[best])
    image = rgb.reshape(resolution, resolution, 3)
    ax.imshow(image, origin="lower", extent=(x0[0], x0[-1], x1[0], x1[-1]),
              aspect="auto", interpolation="nearest")
    if K > 1:
        ax.contour(xx, yy, best.reshape(xx.shape), levels=np.arange(K - 1) + 0.5,
                   colors="0.2", linewidths=0.8)
    if show_data:
        ax.scatter(Xa[:, 0], Xa[:, 1], s=8, c="0.15", alpha=0.6, lw=0,
                   label="data")
    handles = [Patch(facecolor=colors[k], edgecolor="0.3", label=f"expert {k}")
               for k in range(K)]
    ax.legend(handles=handles, loc="best", fontsize="small",
              title="most probable", title_fontsize="small", framealpha=0.8)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title("Gate regions (paler where the gate is unsure)")
    return ax


def _expert_means(final, Xt: np.ndarray) -> np.ndarray | None:
    """Each expert's mean at ``Xt``, shape (n, n_experts); None if unknown."""
    try:
        model = final._fitted_model()
        mu = np.asarray(model.experts.means(Xt, final._params().experts))
        return mu.reshape(mu.shape[0], mu.shape[1], -1)[:, :, 0]
    except (AttributeError, TypeError, ValueError):
        coef = getattr(final, "coef_", None)
        intercept = getattr(final, "intercept_", None)
        if coef is None or intercept is None or np.ndim(coef) != 2:
            return None
        return Xt @ np.asarray(coef).T + np.asarray(intercept)


def plot_experts(
    estimator,
    X,
    y,
    *,
    ax: Axes | None = None,
    n_std: float = 2.0,
    resolution: int = 300,
    show_experts: bool = True,
) -> Axes:
    """Plot a 1-D regression mixture: data, experts, mean and predictive band.

    Draws the data coloured by their most responsible expert (the posterior
    given ``x`` and ``y``), each expert's mean as a line whose opacity follows
    its gate probability (solid where it rules, faint elsewhere), the
    mixture's predictive mean and the band ``mean ± n_std * sd`` from
    ``predict(X, return_std=True)``.

    Parameters
    ----------
    estimator : estimator
        A fitted skmoe regressor with one input feature and one target, a
        fitted Pipeline ending in one, or a fitted search over either.
    X : array-like of shape (n_samples, 1)
        Inputs in the coordinates ``estimator`` was fitted on.
    y : array-like of shape (n_samples,)
        Targets.
    ax : matplotlib Axes, default=None
        Axes to draw on; None creates a new figure.
    n_std : float, default=2.0
        Half-width of the band in predictive standard deviations; 0 hides it.
        The mixture is not Gaussian, so the band is a scale, not an exact
        interval.
    resolution : int, default=300
        Grid points along the input.
    show_experts : bool, default=True
        Draw each expert's line.

    Returns
    -------
    ax : matplotlib Axes
        The Axes drawn on.

    Raises
    ------
    TypeError
        If ``estimator`` is not a skmoe regressor.
    ValueError
        If ``X`` has more than one feature or ``y`` more than one output.

    See Also
    --------
    plot_gate : The gate probabilities along the same input.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.plotting import plot_experts
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, size=(200, 1))
    >>> y = np.abs(X[:, 0]) + 0.1 * rng.standard_normal(200)
    >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    >>> ax = plot_experts(moe, X, y)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['expert 0', 'expert 1', 'mixture mean', 'mean ± 2 sd']
    """
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgb
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    top, transform, final = _resolve(estimator)
    if not hasattr(final, "noise_variance_") and not hasattr(final, "coef_"):
        raise TypeError("plot_experts draws regressors; for a classifier use "
                        "plot_gate or sklearn's DecisionBoundaryDisplay.")
    Xa = _as_2d(X)
    ya = np.asarray(y, dtype=float)
    if Xa.shape[1] != 1:
        raise ValueError(
            f"plot_experts draws one input feature; X has {Xa.shape[1]}. Use "
            "plot_gate for two features."
        )
    if ya.ndim != 1:
        raise ValueError("plot_experts draws one target; y must be 1-D.")
    names = _feature_names(top, X, 1)
    target = getattr(y, "name", None) or "y"
    ax = _new_axes(ax)

    x = Xa[:, 0]
    grid = np.linspace(*_padded_range(x), resolution)
    Xg = transform(_grid_input(top, grid[:, None], names))
    mean, std = final.predict(Xg, return_std=True)
    G = final.predict_gate(Xg)
    K = G.shape[1]
    colors = _expert_colors(K)
    Xin = X if hasattr(X, "columns") else _grid_input(top, Xa, names)
    resp = final.responsibilities(transform(Xin), ya)
    owner = resp.argmax(axis=1)

    handles = []
    ax.scatter(x, ya, s=14, c=[colors[k] for k in owner], edgecolors="0.2",
               linewidths=0.3, zorder=3)
    if show_experts:
        mu = _expert_means(final, np.asarray(Xg, dtype=float))
        if mu is not None:
            points = np.stack([np.broadcast_to(grid[:, None], mu.shape), mu], -1)
            for k in range(K):
                seg = np.stack([points[:-1, k], points[1:, k]], axis=1)
                g = 0.5 * (G[:-1, k] + G[1:, k])
                rgba = np.column_stack([np.tile(to_rgb(colors[k]), (len(g), 1)),
                                        0.08 + 0.92 * g])
                ax.add_collection(LineCollection(seg, colors=rgba, linewidths=2,
                                                 zorder=2))
                handles.append(Line2D([], [], color=colors[k], lw=2,
                                      label=f"expert {k}"))
    ax.plot(grid, mean, color="k", lw=2, zorder=4)
    handles.append(Line2D([], [], color="k", lw=2, label="mixture mean"))
    if n_std > 0:
        ax.fill_between(grid, mean - n_std * std, mean + n_std * std,
                        color="0.5", alpha=0.25, lw=0, zorder=1)
        handles.append(Patch(facecolor="0.5", alpha=0.25,
                             label=f"mean ± {n_std:g} sd"))
    lo, hi = _padded_range(np.concatenate([ya, mean - n_std * std,
                                           mean + n_std * std]), 0.05)
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(lo, hi)
    ax.set_xlabel(names[0])
    ax.set_ylabel(str(target))
    ax.set_title("Experts (opacity: gate weight) and predictive band")
    ax.legend(handles=handles, loc="best", fontsize="small", framealpha=0.85,
              ncols=2 if K > 4 else 1)
    return ax


def plot_convergence(
    estimator,
    *,
    ax: Axes | None = None,
    label: str | None = None,
) -> Axes:
    """Plot the mean log-likelihood per sample after every EM iteration.

    EM never lowers the (penalised) log-likelihood, so the curve rises and
    flattens; a curve still rising at the end means ``max_iter`` stopped EM
    before it converged. The first point is the value after initialisation.

    Parameters
    ----------
    estimator : estimator
        A fitted skmoe estimator, a fitted Pipeline ending in one, or a fitted
        search over either.
    ax : matplotlib Axes, default=None
        Axes to draw on; None creates a new figure. Call again with the same
        Axes and a ``label`` to compare fits.
    label : str, default=None
        Legend label of this curve; None labels it by the estimator's class and
        draws no legend.

    Returns
    -------
    ax : matplotlib Axes
        The Axes drawn on.

    Raises
    ------
    TypeError
        If ``estimator`` is not (and does not end in) a skmoe estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.plotting import plot_convergence
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, size=(200, 1))
    >>> y = np.abs(X[:, 0]) + 0.1 * rng.standard_normal(200)
    >>> moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    >>> ax = plot_convergence(moe)
    >>> line = ax.get_lines()[0]
    >>> len(line.get_ydata()) == moe.n_iter_ + 1
    True
    >>> ax.get_xlabel()
    'EM iteration'
    """
    _, _, final = _resolve(estimator)
    ll = np.asarray(final.log_likelihoods_, dtype=float)
    ax = _new_axes(ax)
    status = ("converged" if final.converged_ else "not converged") + (
        f" after {final.n_iter_} iterations")
    name = label if label is not None else f"{type(final).__name__} ({status})"
    ax.plot(np.arange(ll.size), ll, marker="o" if ll.size <= 30 else None,
            ms=3, lw=1.5, label=name)
    ax.set_xlabel("EM iteration")
    ax.set_ylabel("mean log-likelihood per sample")
    if label is None:
        ax.set_title(f"EM convergence: {status}")
    else:
        ax.set_title("EM convergence")
        ax.legend(loc="lower right", fontsize="small")
    return ax
