"""The EM driver: monotone penalised log-likelihood, and what it records.

EM with an exact expert M-step and a gate step that is halved whenever the
objective falls can never lower the penalised log-likelihood; a drop larger
than ``1e-8 * |ll|`` is a bug (STYLE.md, section 1).
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.stats import norm

from skmoe import MixtureOfExpertsRegressor
from skmoe._em import run_em
from skmoe._model import FitData, MixtureModel, Params
from skmoe._tree import GatingTree
from skmoe.datasets import make_moe_regression
from skmoe.experts import GaussianExperts, GaussianParams


def _assert_monotone(history):
    history = np.asarray(history)
    drops = np.diff(history)
    assert np.all(drops >= -1e-8 * np.abs(history[:-1])), drops.min()


CASES = [
    # seed, n, d, K, n_targets, solver, weighted, init
    (0, 300, 1, 2, 1, "newton", False, "kmeans"),
    (1, 400, 2, 3, 1, "bohning", False, "kmeans"),
    (2, 400, 3, 4, 2, "newton", True, "kmeans"),
    (3, 300, 2, 5, 3, "bohning", True, "random"),
    (4, 500, 4, 3, 1, "newton", True, "random"),
    (5, 250, 2, 6, 1, "bohning", False, "random"),
]


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("seed, n, d, K, m, solver, weighted, init", CASES)
def test_em_never_decreases_penalised_loglik(seed, n, d, K, m, solver, weighted,
                                             init):
    X, y, _ = make_moe_regression(n_samples=n, n_features=d, n_experts=K,
                                  n_targets=m, noise=(0.2, 1.0), gate_scale=2.0,
                                  random_state=seed)
    sw = None
    if weighted:
        sw = np.random.default_rng(seed).uniform(0.0, 3.0, size=n)
    est = MixtureOfExpertsRegressor(n_experts=K, gate_solver=solver, tol=0.0,
                                    max_iter=60, init_params=init,
                                    gate_alpha=1e-2, random_state=seed)
    est.fit(X, y, sample_weight=sw)
    assert est.log_likelihoods_.shape == (61,)
    _assert_monotone(est.log_likelihoods_)
    # EM made real progress from its start
    assert est.log_likelihoods_[-1] > est.log_likelihoods_[0]


def _random_params(tree, d, m, rng):
    L = tree.n_leaves
    return Params(
        np.zeros((d + 1, tree.n_slots)),
        GaussianParams(rng.normal(size=(d + 1, L * m)), np.ones((L, m))),
    )


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("branching", [(2, 2), (3, 2), (2, 2, 2)])
@pytest.mark.parametrize("solver", ["newton", "bohning"])
def test_run_em_monotone_on_hierarchical_trees(branching, solver):
    """The same driver on a gating tree of depth > 1 (an HME)."""
    tree = GatingTree(branching)
    X, y, _ = make_moe_regression(n_samples=400, n_features=2,
                                  n_experts=tree.n_leaves, noise=0.3,
                                  random_state=7)
    rng = np.random.default_rng(0)
    data = FitData(X, y[:, None].copy(), rng.uniform(0.5, 1.5, size=400))
    experts = GaussianExperts(tree.n_leaves, 1, alpha=1e-6,
                              var_floor=np.array([1e-6]))
    model = MixtureModel(tree, experts, gate_alpha=1e-3, gate_solver=solver)
    result = run_em(model, data, _random_params(tree, 2, 1, rng), max_iter=40,
                    tol=0.0)
    _assert_monotone(result.log_likelihoods)
    assert result.max_drop <= 1e-8
    assert result.n_iter == 40 and not result.converged
    # the recorded history is the mean penalised log-likelihood of the result
    stats = model.statistics(data, result.params)
    assert_allclose(result.log_likelihoods[-1] * data.total_weight,
                    model.objective(stats, result.params), rtol=1e-10)


def test_run_em_stops_when_change_below_tol():
    X, y, _ = make_moe_regression(n_samples=300, n_features=2, n_experts=2,
                                  noise=0.3, random_state=1)
    tree = GatingTree((2,))
    experts = GaussianExperts(2, 1, alpha=0.0, var_floor=np.array([1e-6]))
    model = MixtureModel(tree, experts, gate_alpha=1e-3, gate_solver="newton")
    data = FitData(X, y[:, None].copy(), np.ones(300))
    start = _random_params(tree, 2, 1, np.random.default_rng(1))
    seen = []
    result = run_em(model, data, start, max_iter=500, tol=1e-5,
                    callback=lambda it, ll, delta: seen.append((it, ll, delta)))
    assert result.converged
    history = np.asarray(result.log_likelihoods)
    assert abs(history[-1] - history[-2]) < 1e-5
    assert np.all(np.abs(np.diff(history[:-1])) >= 1e-5)
    # the callback saw every iteration, with the recorded values
    assert [s[0] for s in seen] == list(range(1, result.n_iter + 1))
    assert_allclose([s[1] for s in seen], history[1:])
    assert_allclose([s[2] for s in seen], np.diff(history), rtol=1e-9, atol=1e-15)
    # max_iter=0 evaluates the start only
    zero = run_em(model, data, start, max_iter=0, tol=1e-5)
    assert zero.n_iter == 0 and len(zero.log_likelihoods) == 1
    assert zero.params is start


def test_log_likelihood_attribute_is_penalised_mean_by_hand():
    """``log_likelihood_`` recomputed from the fitted attributes."""
    X, y, _ = make_moe_regression(n_samples=300, n_features=2, n_experts=3,
                                  random_state=2)
    sw = np.random.default_rng(2).uniform(0.5, 2.0, size=300)
    alpha, gate_alpha = 0.5, 0.2
    est = MixtureOfExpertsRegressor(n_experts=3, alpha=alpha, gate_alpha=gate_alpha,
                                    random_state=0).fit(X, y, sample_weight=sw)
    logits = X @ est.gate_coef_.T + est.gate_intercept_
    log_g = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    mu = X @ est.coef_.T + est.intercept_
    dens = log_g + norm.logpdf(y[:, None], mu, np.sqrt(est.noise_variance_))
    loglik = np.logaddexp.reduce(dens, axis=1)
    penalty = (0.5 * gate_alpha * np.sum(est.gate_coef_ ** 2)
               + 0.5 * alpha * np.sum(np.sum(est.coef_ ** 2, axis=1)
                                      / est.noise_variance_))
    want = (sw @ loglik - penalty) / sw.sum()
    assert_allclose(est.log_likelihood_, want, rtol=1e-10)
    assert est.log_likelihood_ == est.log_likelihoods_[-1]
    assert len(est.log_likelihoods_) == est.n_iter_ + 1


@pytest.mark.parametrize("solver", ["newton", "bohning"])
def test_statistics_add_up_over_row_blocks(solver):
    """Statistics of two halves sum to those of the whole (chunks are exact)."""
    tree = GatingTree((2, 3))
    rng = np.random.default_rng(3)
    n, d, m = 300, 2, 2
    X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, m))
    sw = rng.uniform(0.1, 2.0, size=n)
    experts = GaussianExperts(tree.n_leaves, m, alpha=0.0, var_floor=np.zeros(m))
    model = MixtureModel(tree, experts, gate_alpha=0.0, gate_solver=solver)
    params = Params(rng.normal(size=(d + 1, tree.n_slots)),
                    GaussianParams(rng.normal(size=(d + 1, tree.n_leaves * m)),
                                   rng.uniform(0.5, 2.0, size=(tree.n_leaves, m))))
    whole = model.statistics(FitData(X, Y, sw), params)
    a = model.statistics(FitData(X[:130], Y[:130], sw[:130]), params)
    b = model.statistics(FitData(X[130:], Y[130:], sw[130:]), params)
    both = a + b
    assert_allclose(both.loglik, whole.loglik, rtol=1e-12)
    assert_allclose(both.expert_grams, whole.expert_grams, rtol=1e-11, atol=1e-11)
    assert_allclose(both.gate_grad, whole.gate_grad, rtol=1e-11, atol=1e-11)
    if solver == "bohning":
        assert_allclose(both.node_grams, whole.node_grams, rtol=1e-11, atol=1e-11)
    else:
        for h1, h2 in zip(both.hessians, whole.hessians):
            assert_allclose(h1, h2, rtol=1e-11, atol=1e-11)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_no_runtime_warning_on_far_outliers():
    """A y far from every expert underflows to -inf terms, never to NaN."""
    X, y, _ = make_moe_regression(n_samples=300, n_features=2, n_experts=3,
                                  noise=0.05, random_state=4)
    y = y.copy()
    y[:3] += 1e4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        est = MixtureOfExpertsRegressor(n_experts=3, random_state=0, max_iter=50)
        est.fit(X, y)
    _assert_monotone(est.log_likelihoods_)
    assert np.all(np.isfinite(est.score_samples(X, y)))
