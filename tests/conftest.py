"""Shared pytest fixtures: one JIT warm-up per session, small reusable data."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skmoe import MixtureOfExpertsRegressor


@pytest.fixture(scope="session", autouse=True)
def _warm_jit():
    """Compile (or load from cache) the serial numba kernels once per session.

    Tiny fits with both gate solvers and a multi-output target touch every
    serial kernel specialisation the estimator uses, so that no test's timing
    includes compilation.
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    y = np.c_[X[:, 0], X[:, 1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for solver in ("newton", "bohning"):
            for target in (y[:, 0], y):
                MixtureOfExpertsRegressor(
                    n_experts=2, max_iter=2, gate_solver=solver, random_state=0
                ).fit(X, target)
    yield
