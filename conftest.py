"""Root pytest configuration, also for ``pytest --doctest-modules skmoe``.

Matplotlib draws off screen (Agg) in tests and doctests, and every doctest
closes the figures it opened. Modules that need a missing optional
dependency (matplotlib, dask) are not collected for their doctests.
"""

import importlib.util

import pytest

# Modules that import an optional dependency at the top: not collected (for
# their doctests) when it is missing.
collect_ignore = [
    path for path, needs in [("skmoe/plotting.py", "matplotlib"),
                             ("skmoe/_backend/_dask.py", "dask")]
    if importlib.util.find_spec(needs) is None
]

try:
    import matplotlib
except ImportError:  # pragma: no cover - depends on the environment
    matplotlib = None
else:
    matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures(request):
    yield
    if matplotlib is not None and isinstance(request.node, pytest.DoctestItem):
        import matplotlib.pyplot as plt

        plt.close("all")
