"""The ``init_params="flat"`` start of the hierarchical mixtures.

A flat mixture of ``n_experts_`` experts runs a few EM iterations first; its
experts are placed on the tree's leaves by recursive balanced bisection of the
flat gate's vectors, and the tree starts from the flat posteriors.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError

from skmoe import (
    HierarchicalMixtureOfExpertsClassifier,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
)
from skmoe._hme import FLAT_INIT_ITER, HierarchicalMixtureOfExpertsRegressor
from skmoe._init import tree_order

HME = HierarchicalMixtureOfExpertsRegressor

# A true HME of depth 2: the root gate splits on x0 at 0, its left child on x1
# at 0.5, its right child on x1 at -0.5 (the child gates differ, so the tree is
# identified up to swapping children). Leaves in tree order.
_COEF = np.array([[1.0, -1.0], [-2.0, 0.5], [0.5, 2.0], [-1.0, -1.5]])
_INTERCEPT = np.array([0.0, 3.0, -3.0, 1.5])
_SD = np.array([0.2, 0.3, 0.25, 0.2])
_SLOPE = 6.0


def _make_tree_data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, 2))
    right = expit(_SLOPE * X[:, 0])
    up_left = expit(_SLOPE * (X[:, 1] - 0.5))
    up_right = expit(_SLOPE * (X[:, 1] + 0.5))
    P = np.c_[(1 - right) * (1 - up_left), (1 - right) * up_left,
              right * (1 - up_right), right * up_right]
    leaf = (P.cumsum(axis=1) < rng.uniform(size=(n, 1))).sum(axis=1)
    mu = X @ _COEF.T + _INTERCEPT
    y = mu[np.arange(n), leaf] + _SD[leaf] * rng.standard_normal(n)
    return X, y, np.sum(P * mu, axis=1)


def _fit_quiet(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def _start(est, X, y, seed):
    """The initial responsibilities ``est`` computes on ``(X, y)``."""
    data, _ = est._fit_data(X, y, None)
    return est._initial_resp(data, est._n_leaves(), check_random_state(seed))


@pytest.mark.parametrize("branching", [2, (2, 3)])
def test_flat_start_is_the_flat_posterior_arranged_on_the_tree(branching):
    X, y, _ = _make_tree_data(1500, 0)
    hme = HME(depth=2, branching=branching, init_params="flat", random_state=0)
    resp = _start(hme, X, y, 0)
    L = hme._n_leaves()
    assert resp.shape == (X.shape[0], L)
    assert np.all(resp >= 0)
    assert_allclose(resp.sum(axis=1), 1.0)
    # the same flat mixture, fitted by the public flat estimator
    flat = _fit_quiet(MixtureOfExpertsRegressor(L, max_iter=FLAT_INIT_ITER,
                                                random_state=0), X, y)
    gate = np.c_[flat.gate_coef_, flat.gate_intercept_]
    order = tree_order(gate, hme._branching())
    assert_array_equal(np.sort(order), np.arange(L))  # a permutation
    assert_allclose(resp[:, order], flat.responsibilities(X, y), atol=1e-8)
    # every expert starts with mass
    assert resp.sum(axis=0).min() > 0.02 * X.shape[0]


def test_flat_start_is_deterministic():
    X, y, _ = _make_tree_data(1500, 2)
    kw = dict(depth=2, init_params="flat", max_iter=10, random_state=3)
    a = _fit_quiet(HME(**kw), X, y)
    b = _fit_quiet(HME(**kw), X, y)
    assert_array_equal(a.coef_, b.coef_)
    assert_array_equal(a.gate_coef_, b.gate_coef_)
    assert_array_equal(a.log_likelihoods_, b.log_likelihoods_)


@pytest.mark.parametrize("seed", [0, 1])
def test_em_is_monotone_from_the_flat_start(seed):
    X, y, _ = _make_tree_data(1000, seed)
    y = np.c_[y, X[:, 0] * y + np.random.default_rng(seed).normal(size=1000)]
    est = HME(depth=2, branching=(3, 2), init_params="flat", max_iter=30, tol=0,
              random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a drop is a bug
        _fit_quiet(est, X, y)
    ll = est.log_likelihoods_
    assert ll.size == est.n_iter_ + 1 == 31
    assert np.all(np.diff(ll) >= -1e-8 * np.abs(ll[1:])), np.diff(ll).min()


def test_flat_start_of_the_classifier():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(1000, 2))
    logit = np.where(X[:, 0] < 0, 4 * X[:, 1], 4 - 4 * X[:, 0])
    y = (logit + rng.logistic(size=1000) > 0).astype(int)
    hme = HierarchicalMixtureOfExpertsClassifier(depth=2, init_params="flat",
                                                 max_iter=20, tol=0, random_state=0)
    resp = _start(hme, X, y, 0)
    flat = _fit_quiet(MixtureOfExpertsClassifier(4, max_iter=FLAT_INIT_ITER,
                                                 random_state=0), X, y)
    order = tree_order(np.c_[flat.gate_coef_, flat.gate_intercept_], (2, 2))
    assert_allclose(resp[:, order], flat.responsibilities(X, y), atol=1e-8)
    _fit_quiet(hme, X, y)
    ll = hme.log_likelihoods_
    assert np.all(np.diff(ll) >= -1e-8 * np.abs(ll[1:]))


def test_flat_start_is_for_trees_only():
    X, y, _ = _make_tree_data(200, 0)
    with pytest.raises(InvalidParameterError, match="init_params"):
        MixtureOfExpertsRegressor(4, init_params="flat").fit(X, y)
    with pytest.raises(InvalidParameterError, match="init_params"):
        MixtureOfExpertsClassifier(2, init_params="flat").fit(X, y > 0)
    # a tree of depth one is the flat mixture, started the same way
    one = _fit_quiet(HME(depth=1, branching=4, init_params="flat", max_iter=5,
                         random_state=0), X, y)
    assert one.n_experts_ == 4 and np.isfinite(one.log_likelihood_)
