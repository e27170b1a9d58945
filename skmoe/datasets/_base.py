"""Loaders for the small real data sets shipped with skmoe."""

from __future__ import annotations

import io
from importlib import resources
from typing import Any

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_mcycle"]

_DATA_MODULE = __package__  # "skmoe.datasets"
_MCYCLE_FILE = "mcycle.csv"

_MCYCLE_DESCR = """\
.. _mcycle_dataset:

Motorcycle crash helmet data (mcycle)
-------------------------------------

**Data Set Characteristics:**

:Number of Instances: 133
:Number of Attributes: 1 numeric input and 1 numeric target
:Attribute Information:
    - times: time in milliseconds after a simulated motorcycle impact
:Target Information:
    - accel: head acceleration in g
:Missing Attribute Values: None
:Source: R package MASS, data set ``mcycle``

A series of measurements of the head acceleration of a post-mortem human test
object in a simulated motorcycle crash, used to test crash helmets. The
acceleration is flat until about 14 ms, then oscillates strongly, and settles
back towards zero; the noise level changes markedly along the time axis
(heteroscedastic). Several measurements may share one time point. Because the
regime and the noise both change with the input, it is the classic
demonstration of mixtures of experts and other locally adaptive regressors.

.. rubric:: References

- Silverman, B. W. (1985). Some aspects of the spline smoothing approach to
  non-parametric curve fitting. Journal of the Royal Statistical Society,
  Series B, 47(1), 1-52.
- Venables, W. N. and Ripley, B. D. (2002). Modern Applied Statistics with S,
  4th edition. Springer. (R package MASS.)
"""


def _read_mcycle_csv() -> tuple[np.ndarray, np.ndarray]:
    """Read the shipped CSV and return ``(times, accel)`` as float64 arrays."""
    resource = resources.files(_DATA_MODULE) / "data" / _MCYCLE_FILE
    text = resource.read_text(encoding="utf-8")
    header = text.splitlines()[0].replace('"', "").split(",")
    if header != ["times", "accel"]:  # pragma: no cover - guards the shipped file
        raise ValueError(f"unexpected header in {_MCYCLE_FILE}: {header}")
    values = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1, dtype=np.float64)
    return values[:, 0].copy(), values[:, 1].copy()


def load_mcycle(
    *, return_X_y: bool = False, as_frame: bool = False
) -> Bunch | tuple[Any, Any]:
    """Load the motorcycle crash helmet data set (regression).

    Head acceleration (in g) measured against time (in ms) after a simulated
    motorcycle impact: 133 observations of one input and one target. The
    response is flat, then oscillates strongly, then flattens again, and its
    noise level changes along the time axis, which makes it the classic
    demonstration of mixtures of experts.

    =================   ==============
    Samples total       133
    Dimensionality      1
    Features            real, positive
    Targets             real
    =================   ==============

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch object.

    as_frame : bool, default=False
        If True, the data is a pandas DataFrame with the column ``times``, the
        target a pandas Series named ``accel``, and ``frame`` a DataFrame
        with both columns. Requires pandas.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : {ndarray, DataFrame} of shape (133, 1)
            The input, time after impact in milliseconds (column ``times``).
        target : {ndarray, Series} of shape (133,)
            The head acceleration in g (``accel``).
        feature_names : list of str
            ``["times"]``.
        target_names : list of str
            ``["accel"]``.
        frame : DataFrame of shape (133, 2) or None
            Both columns when ``as_frame=True``, else None.
        DESCR : str
            Description of the data set and its source.

    (data, target) : tuple if ``return_X_y`` is True
        The data and the target, as ndarrays or, when ``as_frame=True``, as a
        DataFrame and a Series.

    See Also
    --------
    make_moe_regression : Synthetic regression data from a known mixture of
        experts.

    References
    ----------
    .. [1] Silverman, B. W. (1985). Some aspects of the spline smoothing
       approach to non-parametric curve fitting. Journal of the Royal
       Statistical Society, Series B, 47(1), 1-52.
    .. [2] Venables, W. N. and Ripley, B. D. (2002). Modern Applied Statistics
       with S, 4th edition. Springer. Data set ``mcycle`` of the R package
       MASS.

    Examples
    --------
    >>> from skmoe.datasets import load_mcycle
    >>> data = load_mcycle()
    >>> data.data.shape, data.target.shape
    ((133, 1), (133,))
    >>> data.feature_names, data.target_names
    (['times'], ['accel'])
    >>> X, y = load_mcycle(return_X_y=True)
    >>> X[:3, 0]
    array([2.4, 2.6, 3.2])
    >>> y[:3]
    array([ 0. , -1.3, -2.7])
    """
    times, accel = _read_mcycle_csv()
    feature_names = ["times"]
    target_names = ["accel"]

    frame = None
    if as_frame:
        import pandas as pd  # lazy: pandas is an optional dependency

        frame = pd.DataFrame({"times": times, "accel": accel})
        data = frame[feature_names]
        target = frame[target_names[0]]
    else:
        data = times.reshape(-1, 1)
        target = accel

    if return_X_y:
        return data, target

    return Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=feature_names,
        target_names=target_names,
        DESCR=_MCYCLE_DESCR,
    )
