"""Expert families and gates: Poisson experts, estimator experts, the localised
(Gaussian) gate, feature subsets and sample weights.

Each is checked against an independent reference: scikit-learn's fit of the
same sub-problem, moments and densities computed directly with NumPy/SciPy,
finite differences, or the same fit on the selected columns.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import multivariate_normal, norm
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import PoissonRegressor
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils.validation import check_is_fitted

from skmoe import MixtureOfExpertsRegressor
from skmoe._hme import HierarchicalMixtureOfExpertsRegressor
from skmoe._model import FitData
from skmoe._model_fused import local_gate_quadratic
from skmoe._moe_classifier import MixtureOfExpertsClassifier
from skmoe._stats import augmented_grams
from skmoe.datasets import make_moe_regression
from skmoe.experts import PoissonExperts, PoissonParams
from skmoe.gates import _gaussian

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning")


def _assert_monotone(history):
    history = np.asarray(history)
    drops = np.diff(history)
    assert np.all(drops >= -1e-8 * np.abs(history[:-1])), drops.min()


def _counts(n=600, seed=0):
    """Counts from two Poisson experts split by a soft gate on x0."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    left = rng.uniform(size=n) < 1 / (1 + np.exp(4 * X[:, 0]))
    eta = np.where(left, 1.0 + 0.8 * X[:, 1], 0.2 - 0.6 * X[:, 1])
    return X, rng.poisson(np.exp(eta)).astype(float), left


# --------------------------------------------------------------------- Poisson
def test_one_poisson_expert_equals_poisson_regressor():
    X, y, _ = _counts()
    w = np.random.default_rng(1).uniform(0.2, 2.0, size=len(y))
    ref = PoissonRegressor(alpha=0.05, tol=1e-12, max_iter=10_000).fit(X, y, w)
    # PoissonRegressor divides its loss by the total weight: alpha scales by it
    est = MixtureOfExpertsRegressor(1, expert="poisson", alpha=0.05 * w.sum(),
                                    tol=1e-13, max_iter=200).fit(X, y, w)
    assert_allclose(est.coef_[0], ref.coef_, rtol=1e-7, atol=1e-9)
    assert_allclose(est.intercept_[0], ref.intercept_, rtol=1e-7, atol=1e-9)
    assert_allclose(est.predict(X), ref.predict(X), rtol=1e-7)


def test_poisson_rejects_negative_y():
    X, y, _ = _counts(100)
    y[3] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        MixtureOfExpertsRegressor(2, expert="poisson").fit(X, y)
    est = MixtureOfExpertsRegressor(2, expert="poisson", random_state=0)
    est.fit(X, np.abs(y))
    with pytest.raises(ValueError, match="non-negative"):
        est.responsibilities(X, y)


def test_poisson_predict_is_the_mixture_mean():
    X, y, _ = _counts()
    est = MixtureOfExpertsRegressor(2, expert="poisson", random_state=0).fit(X, y)
    logits = X @ est.gate_coef_.T + est.gate_intercept_
    g = np.exp(logits - np.logaddexp.reduce(logits, axis=1, keepdims=True))
    mu = np.exp(X @ est.coef_.T + est.intercept_)  # (n, K)
    mean = np.sum(g * mu, axis=1)
    assert_allclose(est.predict(X), mean, rtol=1e-10)
    _, std = est.predict(X, return_std=True)  # Poisson: variance = mean
    assert_allclose(std ** 2, np.sum(g * (mu + mu ** 2), axis=1) - mean ** 2,
                    rtol=1e-8)
    ll = np.log(np.sum(g * np.exp(y[:, None] * np.log(mu) - mu), axis=1))
    from scipy.special import gammaln

    assert_allclose(est.score_samples(X, y), ll - gammaln(y + 1), rtol=1e-10)


def _top2(g):
    """The two largest gate probabilities of each row (ties to the lower index)
    and their renormalised weights."""
    top = np.argsort(-g, axis=1, kind="stable")[:, :2]
    w = np.take_along_axis(g, top, axis=1)
    return top, w / w.sum(axis=1, keepdims=True)


def test_poisson_top_k_reads_only_the_selected_experts():
    X, y, _ = _counts()
    est = MixtureOfExpertsRegressor(4, expert="poisson", top_k=2,
                                    random_state=0).fit(X, y)
    top, w = _top2(est.predict_gate(X))
    mu = np.exp(X @ est.coef_.T + est.intercept_)  # every expert, (n, K)
    mu = np.take_along_axis(mu, top, axis=1)
    assert_allclose(est.predict(X), np.sum(w * mu, axis=1), rtol=1e-10)


def test_poisson_statistics_match_finite_differences():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    Y = rng.poisson(2.0, size=(50, 1)).astype(float)
    W = rng.uniform(size=(50, 2))
    fam = PoissonExperts(2, 1, alpha=0.0)
    coef = rng.normal(scale=0.3, size=(3, 2))
    _, q, grad, hess = fam.chunk_stats(X, Y, W, PoissonParams(coef))
    eps = 1e-6
    for col in range(2):
        for f in range(3):
            step = np.zeros_like(coef)
            step[f, col] = eps
            qp = fam.chunk_stats(X, Y, W, PoissonParams(coef + step))[1]
            qm = fam.chunk_stats(X, Y, W, PoissonParams(coef - step))[1]
            assert_allclose((qp - qm)[col] / (2 * eps), grad[f, col], rtol=1e-6)
            gp = fam.chunk_stats(X, Y, W, PoissonParams(coef + step))[2]
            gm = fam.chunk_stats(X, Y, W, PoissonParams(coef - step))[2]
            # the Newton matrix is minus the Hessian of q
            assert_allclose(-(gp - gm)[:, col] / (2 * eps), hess[col][:, f],
                            rtol=1e-5)


def test_poisson_recovers_two_experts():
    X, y, left = _counts(n=3000, seed=3)
    est = MixtureOfExpertsRegressor(2, expert="poisson", random_state=0,
                                    n_init=2).fit(X, y)
    order = np.argsort(est.intercept_)  # the right expert has the lower rate
    assert_allclose(est.intercept_[order], [0.2, 1.0], atol=0.15)
    assert_allclose(est.coef_[order][:, 1], [-0.6, 0.8], atol=0.15)
    assert_allclose(est.coef_[order][:, 0], 0.0, atol=0.15)


# ------------------------------------------------------------ monotone EM
class _Jittery(RegressorMixin, BaseEstimator):
    """A weighted mean plus a deliberate, changing error: a poor M-step."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        calls = getattr(type(self), "_calls", 0) + 1
        type(self)._calls = calls
        self.value_ = np.average(y, weights=sample_weight) + (-1) ** calls * 0.3
        return self

    def predict(self, X):
        return np.full(X.shape[0], self.value_)


MONOTONE_CASES = [
    ("poisson", dict(expert="poisson")),
    ("poisson-bohning", dict(expert="poisson", gate_solver="bohning")),
    ("gaussian-gate-full", dict(gate="gaussian")),
    ("gaussian-gate-diag", dict(gate="gaussian", gate_covariance_type="diag")),
    ("poisson-gaussian-gate", dict(expert="poisson", gate="gaussian")),
    ("tree-expert", dict(expert=DecisionTreeRegressor(max_depth=3))),
    ("jittery-expert", dict(expert=_Jittery())),
    ("feature-subsets", dict(gate_features=[0], expert_features=[1])),
]


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("name, params", MONOTONE_CASES, ids=[c[0] for c in
                                                              MONOTONE_CASES])
def test_em_never_decreases_the_objective(name, params):
    if params.get("expert") == "poisson":
        X, y, _ = _counts(n=500, seed=2)
    else:
        X, y, _ = make_moe_regression(n_samples=500, n_features=2, n_experts=3,
                                      noise=0.3, random_state=2)
    sw = np.random.default_rng(0).uniform(0.0, 2.0, size=len(y))
    est = MixtureOfExpertsRegressor(3, tol=0.0, max_iter=30, random_state=0,
                                    **params).fit(X, y, sample_weight=sw)
    _assert_monotone(est.log_likelihoods_)
    assert est.log_likelihoods_[-1] > est.log_likelihoods_[0]


# ------------------------------------------------------ estimator experts
def test_one_estimator_expert_equals_the_estimator():
    X, y, _ = make_moe_regression(n_samples=300, n_features=2, random_state=0)
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=300)
    tree = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, y, w)
    est = MixtureOfExpertsRegressor(
        1, expert=DecisionTreeRegressor(max_depth=3, random_state=0)).fit(X, y, w)
    assert_allclose(est.predict(X), tree.predict(X), rtol=1e-12)
    rss = np.sum(w * (y - tree.predict(X)) ** 2) / w.sum()
    assert_allclose(est.noise_variance_, [rss], rtol=1e-10)
    # the Gaussian likelihood around the tree's predictions
    assert_allclose(est.score_samples(X, y),
                    norm.logpdf(y, tree.predict(X), np.sqrt(rss)), rtol=1e-10)


def test_estimator_experts_are_fitted_clones():
    X, y, _ = make_moe_regression(n_samples=400, n_features=2, random_state=1)
    base = DecisionTreeRegressor(max_depth=2)
    est = MixtureOfExpertsRegressor(3, expert=base, random_state=0).fit(X, y)
    assert len(est.experts_) == 3
    assert len({id(e) for e in est.experts_} | {id(base)}) == 4
    with pytest.raises(NotFittedError):
        check_is_fitted(base)  # the user's instance is left alone
    for k, e in enumerate(est.experts_):
        assert e.max_depth == 2 and e.random_state == k  # reproducible clones
        check_is_fitted(e)
    assert est.noise_variance_.shape == (3,)
    # the mixture mean from the experts' own predictions
    mu = np.stack([e.predict(X) for e in est.experts_], axis=1)
    assert_allclose(est.predict(X), np.sum(est.predict_gate(X) * mu, axis=1),
                    rtol=1e-10)


def test_estimator_expert_multi_output():
    X, y, _ = make_moe_regression(n_samples=300, n_features=2, n_targets=2,
                                  random_state=0)
    est = MixtureOfExpertsRegressor(2, expert=DecisionTreeRegressor(max_depth=3),
                                    random_state=0).fit(X, y)
    assert est.predict(X).shape == (300, 2)
    assert est.noise_variance_.shape == (2, 2)
    _assert_monotone(est.log_likelihoods_)


def test_poor_estimator_fits_are_detected_and_kept_out():
    """A refit that lowers the objective is rejected: the old experts stay."""
    X, y, _ = make_moe_regression(n_samples=300, n_features=1, random_state=0)
    est = MixtureOfExpertsRegressor(2, expert=_Jittery(), tol=0.0, max_iter=10,
                                    random_state=0).fit(X, y)
    _assert_monotone(est.log_likelihoods_)
    # the raw M-step does lower the objective (one of two consecutive refits
    # is off by +-0.3 in the wrong direction), far beyond rounding (1e-5
    # relative is ~0.005 here), so EM had to reject it
    model = est._fitted_model()
    data = FitData(X, y[:, None].copy(), np.ones(len(y)))
    params = est._params()
    stats = model.statistics(data, params)
    ll = model.objective(stats, params)
    raw = []
    for _ in range(2):
        new, _ = model.m_step(stats, params)
        raw.append(model.objective(model.statistics(data, new), new))
    assert min(raw) < ll - 1e-5 * abs(ll)


@pytest.mark.parametrize("Est, expert", [
    (MixtureOfExpertsRegressor, KNeighborsRegressor()),
    (MixtureOfExpertsClassifier, KNeighborsClassifier()),
])
def test_estimator_without_sample_weight_raises(Est, expert):
    X, y, _ = make_moe_regression(n_samples=60, n_features=2, random_state=0)
    if Est is MixtureOfExpertsClassifier:
        y = (y > np.median(y)).astype(int)
    with pytest.raises(TypeError, match="sample_weight"):
        Est(2, expert=expert).fit(X, y)


# ----------------------------------------------------------- Gaussian gate
@pytest.mark.parametrize("cov", ["full", "diag"])
def test_gaussian_gate_m_step_is_weighted_mean_and_covariance(cov):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 3)) + [1.0, -2.0, 0.5]
    resp = rng.dirichlet(np.ones(4), size=200)
    sw = rng.uniform(0.1, 3.0, size=200)
    S, _ = augmented_grams(X, None, resp, None, sw)
    gate, lost = _gaussian.m_step(S, cov, 0.0)
    assert lost == []
    for k in range(4):
        w = resp[:, k] * sw
        mean = np.average(X, axis=0, weights=w)
        C = np.cov(X.T, aweights=w, bias=True)
        assert_allclose(gate.means[k], mean, rtol=1e-10)
        assert_allclose(gate.covariances[k], C if cov == "full" else np.diag(C),
                        rtol=1e-9, atol=1e-12)
    assert_allclose(gate.weights, (resp * sw[:, None]).sum(0) / sw.sum(),
                    rtol=1e-12)
    # a subset of gate features: the sub-blocks
    sub, _ = _gaussian.m_step(S, cov, 0.0, features=np.array([0, 2]))
    full = gate.covariances if cov == "diag" else gate.covariances
    assert_allclose(sub.means, gate.means[:, [0, 2]], rtol=1e-12)
    expect = (full[:, [0, 2]] if cov == "diag"
              else full[:, [0, 2]][:, :, [0, 2]])
    assert_allclose(sub.covariances, expect, rtol=1e-12)


def test_gaussian_gate_covariance_floor():
    rng = np.random.default_rng(1)
    X = np.c_[rng.normal(size=100), 1e-3 * rng.normal(size=100)]
    X[:, 1] += X[:, 0]  # nearly collinear columns
    S, _ = augmented_grams(X, None, np.ones((100, 1)), None, None)
    var = X.var(axis=0)
    full, _ = _gaussian.m_step(S, "full", 0.01)
    lam = np.linalg.eigvalsh(full.covariances[0] / np.sqrt(np.outer(var, var)))
    assert lam.min() >= 0.01 * (1 - 1e-9)
    # eigenvalues above the floor are untouched
    C = np.cov(X.T, bias=True) / np.sqrt(np.outer(var, var))
    assert_allclose(lam.max(), np.linalg.eigvalsh(C).max(), rtol=1e-10)
    diag, _ = _gaussian.m_step(S, "diag", 2.0)
    assert_allclose(diag.covariances[0], 2.0 * var, rtol=1e-10)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_gaussian_gate_reports_the_joint_likelihood(cov):
    X, y, _ = make_moe_regression(n_samples=400, n_features=2, n_experts=2,
                                  noise=0.3, random_state=0)
    est = MixtureOfExpertsRegressor(2, gate="gaussian", gate_covariance_type=cov,
                                    alpha=0.0, random_state=0).fit(X, y)
    a, m, S = est.gate_weights_, est.gate_means_, est.gate_covariances_
    dens_x = np.stack([
        a[k] * multivariate_normal(m[k], S[k] if cov == "full" else np.diag(S[k]))
        .pdf(X) for k in range(2)], axis=1)
    dens_y = np.stack([
        norm.pdf(y, X @ est.coef_[k] + est.intercept_[k],
                 np.sqrt(est.noise_variance_[k])) for k in range(2)], axis=1)
    joint = np.log(np.sum(dens_x * dens_y, axis=1))
    assert_allclose(est.log_likelihood_, joint.mean(), rtol=1e-9)
    # predictions use the conditional gate g_k(x) = a_k N_k(x) / p(x)
    gate = dens_x / dens_x.sum(axis=1, keepdims=True)
    assert_allclose(est.predict_gate(X), gate, rtol=1e-8, atol=1e-12)
    assert_allclose(est.score_samples(X, y),
                    np.log(np.sum(gate * dens_y, axis=1)), rtol=1e-9)
    assert_allclose(est.predict(X), np.sum(gate * np.stack(
        [X @ est.coef_[k] + est.intercept_[k] for k in range(2)], axis=1), axis=1),
        rtol=1e-9)
    _assert_monotone(est.log_likelihoods_)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_local_gate_quadratic_form_matches_densities(cov):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3)) + 40.0  # far from 0: no cancellation trouble
    resp = rng.dirichlet(np.ones(3), size=30)
    S, _ = augmented_grams(X, None, resp, None, None)
    for features in (None, np.array([0, 2])):
        gate, _ = _gaussian.m_step(S, cov, 1e-6, features)
        A = local_gate_quadratic(gate, 3, features)
        x1 = np.c_[X, np.ones(30)]
        rows, cols = np.triu_indices(4)
        packed = np.zeros((30, A.shape[0]))
        packed[:, cols * (cols + 1) // 2 + rows] = x1[:, rows] * x1[:, cols]
        assert_allclose(packed @ A, _gaussian.log_weights(X, gate, features),
                        rtol=1e-9, atol=1e-7)


def test_gaussian_gate_needs_a_flat_tree():
    X, y, _ = make_moe_regression(n_samples=100, n_features=2, random_state=0)
    with pytest.raises(ValueError, match="flat mixtures only"):
        HierarchicalMixtureOfExpertsRegressor(depth=2, gate="gaussian").fit(X, y)


def test_gaussian_gate_separates_clusters_of_inputs():
    """Xu, Jordan & Hinton's setting: each expert owns a cluster of inputs."""
    rng = np.random.default_rng(0)
    centres = np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    z = rng.integers(0, 3, size=900)
    X = centres[z] + rng.normal(size=(900, 2))
    slopes = np.array([[1.0, -1.0], [-2.0, 0.5], [0.0, 2.0]])
    y = np.sum(X * slopes[z], axis=1) + 0.1 * rng.normal(size=900)
    est = MixtureOfExpertsRegressor(3, gate="gaussian", random_state=0).fit(X, y)
    order = np.argsort(est.gate_means_[:, 1] * 10 + est.gate_means_[:, 0])
    assert_allclose(est.gate_means_[order], centres[[0, 1, 2]], atol=0.2)
    assert_allclose(est.coef_[order], slopes, atol=0.05)
    assert_allclose(est.gate_weights_.sum(), 1.0)


# ------------------------------------------------------- feature subsets
def _subset_cases():
    Xr, yr, _ = make_moe_regression(n_samples=400, n_features=3, n_experts=2,
                                    noise=0.3, random_state=0)
    Xc, yc, _ = _counts(n=400, seed=1)
    Xc = np.c_[Xc, np.random.default_rng(0).normal(size=400)]
    labels = (yr > np.median(yr)).astype(int) + (Xr[:, 1] > 0)
    return [
        (MixtureOfExpertsRegressor(2), Xr, yr),
        (MixtureOfExpertsRegressor(2, gate_solver="bohning"), Xr, yr),
        (MixtureOfExpertsRegressor(2, expert="poisson"), Xc, yc),
        (MixtureOfExpertsRegressor(2, gate="gaussian"), Xr, yr),
        (MixtureOfExpertsClassifier(2), Xr, labels),
    ]


@pytest.mark.parametrize("case", range(5))
def test_feature_subsets_equal_the_fit_on_those_columns(case):
    est, X, y = _subset_cases()[case]
    init = np.random.default_rng(0).integers(0, 2, size=len(y))
    cols = [0, 2]
    params = dict(init_params=init, max_iter=15, tol=0.0)
    sub = clone(est).set_params(**params).fit(X[:, cols], y)
    both = clone(est).set_params(gate_features=cols, expert_features=cols,
                                 **params).fit(X, y)
    assert_allclose(both.log_likelihoods_, sub.log_likelihoods_, rtol=1e-9)
    coef = np.asarray(both.coef_)
    assert_array_equal(coef[..., 1], 0.0)
    assert_allclose(coef[..., cols], sub.coef_, rtol=1e-6, atol=1e-9)
    if hasattr(both, "gate_coef_"):
        assert_array_equal(both.gate_coef_[:, 1], 0.0)
        assert_allclose(both.gate_coef_[:, cols], sub.gate_coef_, atol=1e-8)
    else:
        assert_allclose(both.gate_means_, sub.gate_means_, rtol=1e-8)


def test_gate_and_expert_features_differ():
    X, y, _ = make_moe_regression(n_samples=300, n_features=3, random_state=0)
    est = MixtureOfExpertsRegressor(2, gate_features=[0], expert_features=[1, 2],
                                    random_state=0).fit(X, y)
    assert_array_equal(est.gate_coef_[:, 1:], 0.0)
    assert_array_equal(est.coef_[:, 0], 0.0)
    assert np.all(est.gate_coef_[:, 0] != 0) and np.all(est.coef_[:, 1:] != 0)
    # free parameters: gate (K - 1) * (1 + 1), experts K * (2 + 1 + 1)
    full = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    n = len(y)
    k_sub = (est.bic(X, y) + 2 * est.score_samples(X, y).sum()) / np.log(n)
    k_full = (full.bic(X, y) + 2 * full.score_samples(X, y).sum()) / np.log(n)
    assert round(k_sub) == 1 * 2 + 2 * 4
    assert round(k_full) == 1 * 4 + 2 * 5


def test_feature_names():
    pd = pytest.importorskip("pandas")
    X, y, _ = make_moe_regression(n_samples=200, n_features=3, random_state=0)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    init = np.random.default_rng(0).integers(0, 2, size=200)
    by_name = MixtureOfExpertsRegressor(2, gate_features=["c", "a"],
                                        expert_features=np.array([True, False,
                                                                  True]),
                                        init_params=init).fit(df, y)
    by_index = MixtureOfExpertsRegressor(2, gate_features=[0, 2],
                                         expert_features=[0, 2],
                                         init_params=init).fit(X, y)
    assert_allclose(by_name.gate_coef_, by_index.gate_coef_, rtol=1e-12)
    assert_allclose(by_name.coef_, by_index.coef_, rtol=1e-12)


@pytest.mark.parametrize("spec, match", [
    ([True, False], "one entry per feature"),
    ([0, 3], "outside the 3 features"),
    ([0.5], "column indices"),
    ([[0, 1]], "1-D"),
    (["a"], "no feature names"),
])
def test_bad_feature_selections_raise(spec, match):
    X, y, _ = make_moe_regression(n_samples=50, n_features=3, random_state=0)
    for name in ("gate_features", "expert_features"):
        with pytest.raises(ValueError, match=match):
            MixtureOfExpertsRegressor(2, **{name: spec}).fit(X, y)


def test_unknown_feature_name_raises():
    pd = pytest.importorskip("pandas")
    X, y, _ = make_moe_regression(n_samples=50, n_features=2, random_state=0)
    df = pd.DataFrame(X, columns=["a", "b"])
    with pytest.raises(ValueError, match="not feature names"):
        MixtureOfExpertsRegressor(2, gate_features=["z"]).fit(df, y)


# ---------------------------------------------------------- sample weights
WEIGHT_CASES = [
    ("poisson", MixtureOfExpertsRegressor(2, expert="poisson")),
    ("gaussian-gate", MixtureOfExpertsRegressor(2, gate="gaussian")),
    ("logistic", MixtureOfExpertsClassifier(2)),
    # (tree experts: scikit-learn's check_sample_weight_equivalence in
    # test_common; on these tied counts a tree's equal splits are broken by
    # the rounding of real-valued weights)
]


@pytest.mark.parametrize("name, est", WEIGHT_CASES, ids=[c[0] for c in
                                                         WEIGHT_CASES])
def test_integer_and_fractional_weights(name, est):
    X, y, _ = _counts(n=120, seed=4)
    if isinstance(est, MixtureOfExpertsClassifier):
        y = (y > 2).astype(int)
    rng = np.random.default_rng(0)
    w = rng.integers(0, 4, size=len(y))
    est = clone(est).set_params(max_iter=8, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = clone(est).fit(X, y, sample_weight=w)
        repeated = clone(est).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
        # every row twice at half weight: the same total weight and fit
        halves = clone(est).fit(np.r_[X, X], np.r_[y, y],
                                sample_weight=np.r_[w, w] / 2.0)
    assert_allclose(weighted.log_likelihoods_, repeated.log_likelihoods_,
                    rtol=1e-8)
    assert_allclose(weighted.log_likelihoods_, halves.log_likelihoods_, rtol=1e-8)
    method = "predict_proba" if hasattr(est, "predict_proba") else "predict"
    assert_allclose(getattr(weighted, method)(X), getattr(repeated, method)(X),
                    rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("K, cov", [(1, "full"), (3, "full"), (3, "diag")])
def test_fused_local_gate_kernel_equals_the_chunked_statistics(K, cov,
                                                                monkeypatch):
    X, y, _ = make_moe_regression(n_samples=700, n_features=2, n_targets=2,
                                  random_state=5)
    sw = np.random.default_rng(0).uniform(0, 2, size=len(y))
    sw[::7] = 0.0  # rows without weight add nothing
    est = MixtureOfExpertsRegressor(K, gate="gaussian", gate_covariance_type=cov,
                                    max_iter=2, random_state=0).fit(X, y)
    model = est._fitted_model()
    data = FitData(X, y.copy(), sw)
    fused = model.statistics(data, est._params())
    with monkeypatch.context() as mp:  # the generic chunked path
        mp.setattr(type(model), "_family_kernel", False)
        chunked = model.statistics(data, est._params())
    assert_allclose(fused.loglik, chunked.loglik, rtol=1e-12)
    assert_allclose(fused.expert_grams, chunked.expert_grams, rtol=1e-11)
    assert_allclose(fused.gate_grams, chunked.gate_grams, rtol=1e-11)
