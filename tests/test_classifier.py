"""MixtureOfExpertsClassifier: references, labels, EM, recovery, bad input.

References: scikit-learn's LogisticRegression (one expert), the mixture's
probabilities recomputed from the fitted attributes with SciPy, finite
differences of the logistic statistics, and a known mixture from
``make_moe_classification``.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp, softmax
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from skmoe._model import FitData
from skmoe._moe_classifier import MixtureOfExpertsClassifier
from skmoe.datasets import make_moe_classification
from skmoe.experts import LogisticExperts, LogisticParams

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n=400, n_classes=3, seed=0, **kw):
    X, y, params = make_moe_classification(n_samples=n, n_features=2, n_experts=3,
                                           n_classes=n_classes, random_state=seed,
                                           **kw)
    return X, y, params


def _manual_proba(est, X):
    """``sum_k g_k(x) p_k(x)`` from the fitted attributes (softmax gate)."""
    g = softmax(X @ est.gate_coef_.T + est.gate_intercept_, axis=1)
    P = softmax(np.einsum("nd,kcd->nkc", X, est.coef_) + est.intercept_, axis=2)
    return np.einsum("nk,nkc->nc", g, P)


# -------------------------------------------------------------- references
@pytest.mark.parametrize("n_classes", [2, 3])
def test_one_expert_equals_logistic_regression(n_classes):
    X, y, _ = _data(n=500, n_classes=n_classes, seed=1)
    w = np.random.default_rng(0).uniform(0.2, 2.0, size=len(y))
    ref = LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(X, y, w)
    est = MixtureOfExpertsClassifier(1, alpha=2.0, tol=1e-14,
                                     max_iter=100).fit(X, y, w)
    assert_allclose(est.predict_proba(X), ref.predict_proba(X), atol=1e-8)
    W = est.coef_[0]  # (n_classes, n_features), centred over classes
    if n_classes == 2:  # one logit difference, as LogisticRegression's coef_
        assert_allclose(W[1] - W[0], ref.coef_[0], rtol=1e-6)
        assert_allclose(np.diff(est.intercept_[0]), ref.intercept_, rtol=1e-6)
    else:
        assert_allclose(W, ref.coef_, rtol=1e-6, atol=1e-9)


def test_estimator_expert_equals_that_estimator():
    X, y, _ = _data(n=300, seed=2)
    w = np.random.default_rng(1).uniform(0.5, 1.5, size=len(y))
    ref = LogisticRegression(C=2.0).fit(X, y, w)
    est = MixtureOfExpertsClassifier(1, expert=LogisticRegression(C=2.0)).fit(X, y,
                                                                             w)
    assert_allclose(est.predict_proba(X), ref.predict_proba(X), rtol=1e-10)
    proba = ref.predict_proba(X)[np.arange(len(y)), y]
    assert_allclose(est.score_samples(X, y), np.log(proba), rtol=1e-10)


def test_predict_proba_is_the_mixture_of_the_experts():
    X, y, _ = _data()
    est = MixtureOfExpertsClassifier(3, random_state=0).fit(X, y)
    proba = est.predict_proba(X)
    assert_allclose(proba, _manual_proba(est, X), rtol=1e-10)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_allclose(est.predict_log_proba(X), np.log(proba), rtol=1e-10)
    assert_array_equal(est.predict(X), est.classes_[np.argmax(proba, axis=1)])
    assert est.score(X, y) == np.mean(est.predict(X) == y)
    # the conditional likelihood of the observed class, and the criteria
    ll = np.log(proba[np.arange(len(y)), y])
    assert_allclose(est.score_samples(X, y), ll, rtol=1e-10)
    n_params = (3 - 1) * 3 + 3 * (3 - 1) * 3  # gate + experts, (d + 1) = 3
    assert_allclose(est.bic(X, y), -2 * ll.sum() + n_params * np.log(len(y)))
    assert_allclose(est.aic(X, y), -2 * ll.sum() + 2 * n_params)
    resp = est.responsibilities(X, y)
    g = est.predict_gate(X)
    P = softmax(np.einsum("nd,kcd->nkc", X, est.coef_) + est.intercept_, axis=2)
    joint = g * P[np.arange(len(y)), :, y]
    assert_allclose(resp, joint / joint.sum(axis=1, keepdims=True), rtol=1e-8,
                    atol=1e-12)


def test_logistic_statistics_match_finite_differences():
    rng = np.random.default_rng(0)
    n, d, L, C = 60, 2, 2, 3
    X = rng.normal(size=(n, d))
    Y = np.eye(C)[rng.integers(0, C, size=n)]
    W = rng.uniform(size=(n, L))
    fam = LogisticExperts(L, C, alpha=0.0)
    coef = rng.normal(scale=0.5, size=(d + 1, L * C))
    _, q, grad, hess = fam.chunk_stats(X, Y, W, LogisticParams(coef))
    eps = 1e-6
    for leaf in range(L):
        for f in range(d + 1):
            for c in range(C):
                step = np.zeros_like(coef)
                step[f, leaf * C + c] = eps
                qp = fam.chunk_stats(X, Y, W, LogisticParams(coef + step))
                qm = fam.chunk_stats(X, Y, W, LogisticParams(coef - step))
                assert_allclose((qp[1] - qm[1])[leaf] / (2 * eps),
                                grad[leaf][f, c], rtol=1e-6, atol=1e-9)
                if c == 0:  # the reference class is left out of the Hessian
                    continue
                dg = (qp[2] - qm[2])[leaf] / (2 * eps)  # (p, C)
                col = (c - 1) * (d + 1) + f
                assert_allclose(-dg[:, 1:].T.reshape(-1), hess[leaf][:, col],
                                rtol=1e-5, atol=1e-9)


def test_fused_kernel_equals_the_chunked_statistics(monkeypatch):
    X, y, _ = _data(n=700)
    sw = np.random.default_rng(0).uniform(0, 2, size=len(y))
    for params in (dict(), dict(gate_solver="bohning"), dict(gate="gaussian"),
                   dict(gate_features=[1], expert_features=[0])):
        est = MixtureOfExpertsClassifier(3, max_iter=2, random_state=0,
                                         **params).fit(X, y)
        Y, _ = est._encode_targets(y, fitted=True)
        model = est._fitted_model()
        data = FitData(X, Y, sw)
        fused = model.statistics(data, est._params())
        with monkeypatch.context() as mp:  # the generic chunked path
            mp.setattr(type(model), "_family_kernel", False)
            chunked = model.statistics(data, est._params())
        assert_allclose(fused.loglik, chunked.loglik, rtol=1e-12)
        for a, b in zip(fused.expert_stats, chunked.expert_stats):
            assert_allclose(a, b, rtol=1e-10, atol=1e-10)
        for name in ("gate_grad", "node_grams", "gate_grams"):
            a, b = getattr(fused, name), getattr(chunked, name)
            assert (a is None) == (b is None)
            if a is not None:
                assert_allclose(a, b, rtol=1e-10, atol=1e-10)
        if fused.hessians is not None:
            for a, b in zip(fused.hessians, chunked.hessians):
                assert_allclose(a, b, rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------ labels
@pytest.mark.parametrize("labels", [
    np.array(["cat", "dog", "eel"]),
    np.array([-1, 1, 7]),
    np.array([1.0, 3.0, 4.0]),
])
def test_labels_of_any_type(labels):
    X, y, _ = _data()
    init = np.random.default_rng(0).integers(0, 3, size=len(y))
    ref = MixtureOfExpertsClassifier(3, init_params=init).fit(X, y)
    est = MixtureOfExpertsClassifier(3, init_params=init).fit(X, labels[y])
    assert_array_equal(est.classes_, labels)
    assert_allclose(est.predict_proba(X), ref.predict_proba(X), rtol=1e-10)
    assert_array_equal(est.predict(X), labels[ref.predict(X)])
    draws, experts = est.sample(X[:20], random_state=0)
    assert set(draws) <= set(labels) and experts.shape == (20,)


def test_binary_plus_minus_one():
    X, y, _ = _data(n_classes=2)
    ypm = np.where(y == 1, 1, -1)
    est = MixtureOfExpertsClassifier(2, random_state=0).fit(X, ypm)
    assert_array_equal(est.classes_, [-1, 1])
    assert est.predict_proba(X).shape == (len(y), 2)
    assert est.score(X, ypm) > 0.8


def test_one_class_raises():
    X, _, _ = _data(n=50)
    with pytest.raises(ValueError, match="only one class"):
        MixtureOfExpertsClassifier(2).fit(X, np.full(50, "a"))


def test_unseen_label_raises():
    X, y, _ = _data(n=100)
    est = MixtureOfExpertsClassifier(2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="not seen during fit"):
        est.responsibilities(X, np.where(y == 0, 5, y))


def test_continuous_target_raises():
    X, _, _ = _data(n=50)
    with pytest.raises(ValueError, match="Unknown label type"):
        MixtureOfExpertsClassifier(2).fit(X, np.linspace(0, 1, 50))


# ---------------------------------------------------------------------- EM
CASES = [
    ("newton", dict()),
    ("bohning", dict(gate_solver="bohning")),
    ("binary", dict(n_classes=2)),
    ("gaussian-gate-full", dict(gate="gaussian")),
    ("gaussian-gate-diag", dict(gate="gaussian", gate_covariance_type="diag")),
    ("tree-experts", dict(expert=DecisionTreeClassifier(max_depth=2))),
    ("feature-subsets", dict(gate_features=[0], expert_features=[1])),
]


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("name, params", CASES, ids=[c[0] for c in CASES])
def test_em_never_decreases_the_objective(name, params):
    params = dict(params)
    X, y, _ = _data(n=500, n_classes=params.pop("n_classes", 3), seed=3)
    sw = np.random.default_rng(0).uniform(0.0, 2.0, size=len(y))
    est = MixtureOfExpertsClassifier(3, alpha=0.1, tol=0.0, max_iter=30,
                                     random_state=0, **params).fit(X, y, sw)
    history = est.log_likelihoods_
    assert np.all(np.diff(history) >= -1e-8 * np.abs(history[:-1]))
    assert history[-1] > history[0]


def test_recovers_a_known_mixture():
    kw = dict(gate_scale=4.0, coef_scale=4.0)
    X, y, _ = _data(n=2000, seed=4, **kw)
    Xt, yt, true = make_moe_classification(n_samples=5000, n_features=2,
                                           n_experts=3, n_classes=3,
                                           random_state=4, **kw)
    g = softmax(Xt @ true.gate_coef.T + true.gate_intercept, axis=1)
    P = softmax(np.einsum("nd,kcd->nkc", Xt, true.coef) + true.intercept, axis=2)
    p_true = np.einsum("nk,nkc->nc", g, P)
    bayes = np.mean(np.argmax(p_true, axis=1) == yt)
    est = MixtureOfExpertsClassifier(3, random_state=0, tol=1e-5).fit(X, y)
    assert est.score(Xt, yt) > bayes - 0.015
    assert np.mean(np.abs(est.predict_proba(Xt) - p_true)) < 0.04
    # a single logistic regression cannot do this well
    single = LogisticRegression().fit(X, y).score(Xt, yt)
    assert est.score(Xt, yt) > single + 0.05


# ----------------------------------------------------------- other options
def test_top_k():
    X, y, _ = _data()
    est = MixtureOfExpertsClassifier(3, random_state=0).fit(X, y)
    dense = est.predict_proba(X)
    assert_allclose(clone(est).set_params(top_k=3).fit(X, y).predict_proba(X),
                    dense, rtol=1e-10)
    one = clone(est).set_params(top_k=1).fit(X, y)
    best = np.argmax(one.predict_gate(X), axis=1)
    P = softmax(np.einsum("nd,kcd->nkc", X, one.coef_) + one.intercept_, axis=2)
    assert_allclose(one.predict_proba(X), P[np.arange(len(y)), best], rtol=1e-10)


def test_top_2_of_4_is_the_renormalised_mixture_of_the_two():
    X, y, _ = _data()
    est = MixtureOfExpertsClassifier(4, top_k=2, random_state=0).fit(X, y)
    g = est.predict_gate(X)
    top = np.argsort(-g, axis=1, kind="stable")[:, :2]
    w = np.take_along_axis(g, top, axis=1)
    w /= w.sum(axis=1, keepdims=True)
    P = softmax(np.einsum("nd,kcd->nkc", X, est.coef_) + est.intercept_, axis=2)
    P = np.take_along_axis(P, top[:, :, None], axis=1)  # (n, 2, C)
    assert_allclose(est.predict_proba(X), np.einsum("nk,nkc->nc", w, P),
                    rtol=1e-10)


def test_sample_follows_the_predicted_probabilities():
    X, y, _ = _data()
    est = MixtureOfExpertsClassifier(3, random_state=0).fit(X, y)
    row = np.repeat(X[:1], 20_000, axis=0)
    draws, experts = est.sample(row, random_state=0)
    freq = np.array([np.mean(draws == c) for c in est.classes_])
    assert_allclose(freq, est.predict_proba(X[:1])[0], atol=0.015)
    assert_allclose(np.bincount(experts, minlength=3) / 20_000,
                    est.predict_gate(X[:1])[0], atol=0.015)


def test_warm_start_resumes():
    X, y, _ = _data()
    est = MixtureOfExpertsClassifier(3, max_iter=5, tol=0.0, random_state=0,
                                     warm_start=True).fit(X, y)
    last = est.log_likelihoods_[-1]
    est.fit(X, y)
    assert_allclose(est.log_likelihoods_[0], last, rtol=1e-12)
    cold = MixtureOfExpertsClassifier(3, max_iter=10, tol=0.0,
                                      random_state=0).fit(X, y)
    assert_allclose(est.log_likelihoods_[-1], cold.log_likelihoods_[-1],
                    rtol=1e-10)


def test_gaussian_gate_classifier_uses_the_conditional_gate():
    X, y, _ = _data()
    est = MixtureOfExpertsClassifier(3, gate="gaussian", random_state=0).fit(X, y)
    from scipy.stats import multivariate_normal

    logw = np.stack([np.log(est.gate_weights_[k]) + multivariate_normal(
        est.gate_means_[k], est.gate_covariances_[k]).logpdf(X) for k in range(3)],
        axis=1)
    g = np.exp(logw - logsumexp(logw, axis=1, keepdims=True))
    assert_allclose(est.predict_gate(X), g, rtol=1e-8, atol=1e-12)
    P = softmax(np.einsum("nd,kcd->nkc", X, est.coef_) + est.intercept_, axis=2)
    assert_allclose(est.predict_proba(X), np.einsum("nk,nkc->nc", g, P),
                    rtol=1e-8)
    # the reported log-likelihood is the joint one, log p(x, y)
    joint = logsumexp(logw + np.log(P[np.arange(len(y)), :, y]), axis=1)
    penalty = 0.5 * est.alpha * np.sum(est.coef_ ** 2)
    assert_allclose(est.log_likelihood_, (joint.sum() - penalty) / len(y),
                    rtol=1e-9)


def test_predict_proba_on_threads_is_the_mixture():
    """Rows in several chunks shared by two threads: the numbers of one thread."""
    from skmoe._model import CHUNK_ROWS

    X, y, _ = _data()
    est = MixtureOfExpertsClassifier(3, random_state=0).fit(X, y)
    Xp = np.random.default_rng(1).normal(size=(2 * CHUNK_ROWS + 17, 2))
    proba = est.predict_proba(Xp)
    assert_array_equal(est.set_params(n_jobs=2).predict_proba(Xp), proba)
    assert_allclose(proba, _manual_proba(est, Xp), rtol=1e-10)


def test_log_mixture_equals_scipy_logsumexp():
    from skmoe._moe_classifier import _log_mixture

    rng = np.random.default_rng(0)
    log_w = rng.normal(size=(6, 4)) * 300  # terms far apart
    log_p = rng.normal(size=(6, 4, 3)) * 300
    log_p[0] = -np.inf  # a row where every class is impossible
    log_p[1, :, 2] = -np.inf  # one impossible class
    log_w[2, 1] = -np.inf  # an expert with gate weight 0
    expected = logsumexp(log_w[:, :, None] + log_p, axis=1)
    assert_allclose(_log_mixture(log_w, log_p), expected, rtol=1e-13)
    assert np.all(_log_mixture(log_w, log_p)[0] == -np.inf)
