"""HierarchicalMixtureOfExpertsClassifier: one mechanism, EM, recovery, top-k.

References: the flat MixtureOfExpertsClassifier (an HME of depth 1), the
Bayes classifier of a known two-level tree of logistic experts, and the
mixture's probabilities written out with SciPy from the fitted attributes.
"""

import inspect
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import linear_sum_assignment
from scipy.special import expit, softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.tree import DecisionTreeClassifier

from skmoe import HierarchicalMixtureOfExpertsClassifier, MixtureOfExpertsClassifier
from skmoe._tree import GatingTree

HMEC = HierarchicalMixtureOfExpertsClassifier


def _fit_quiet(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kw)


# Known two-level tree of 3-class logistic experts: the root gate splits on x0
# at 0, its left child on x1 at 0.5, its right child on x1 at -0.5 (so the
# child gates differ and the tree is identified). Every expert's class
# boundaries meet at the centre of its region, rotated from leaf to leaf, so
# that each region holds all three classes. Leaves in tree order.
_SLOPE = 10.0
_CENTRE = np.array([[-1.5, -1.25], [-1.5, 1.75], [1.5, -1.75], [1.5, 1.25]])
_TRUE_COEF = np.stack([
    1.5 * np.array([[np.cos(a + s), np.sin(a + s)] for s in (0.0, 2.1, -2.1)])
    for a in np.array([0.0, 0.5, 1.0, 1.5]) * np.pi])  # (leaf, class, feature)
_TRUE_INTERCEPT = -np.einsum("lcd,ld->lc", _TRUE_COEF, _CENTRE)


def _true_leaf_proba(X):
    right = expit(_SLOPE * X[:, 0])
    up_left = expit(_SLOPE * (X[:, 1] - 0.5))
    up_right = expit(_SLOPE * (X[:, 1] + 0.5))
    return np.c_[(1 - right) * (1 - up_left), (1 - right) * up_left,
                 right * (1 - up_right), right * up_right]


def _true_expert_proba(X):
    return softmax(np.einsum("nd,lcd->nlc", X, _TRUE_COEF) + _TRUE_INTERCEPT,
                   axis=2)


def _make_tree_data(n, seed):
    """Samples of the true tree, and the Bayes class probabilities."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, 2))
    P = _true_leaf_proba(X)
    leaf = (P.cumsum(axis=1) < rng.uniform(size=(n, 1))).sum(axis=1)
    Q = _true_expert_proba(X)
    y = (Q[np.arange(n), leaf].cumsum(axis=1) < rng.uniform(size=(n, 1))).sum(1)
    return X, y, np.einsum("nl,nlc->nc", P, Q)


def _centred(a):
    return a - a.mean(axis=-2 if a.ndim == 3 else -1, keepdims=True)


def _match_experts(est):
    """Fitted experts matched to the true ones: (rows, cols, max abs error)."""
    fitted = np.c_[est.coef_.reshape(4, -1), est.intercept_]
    true = np.c_[_centred(_TRUE_COEF).reshape(4, -1), _centred(_TRUE_INTERCEPT)]
    cost = np.abs(fitted[:, None, :] - true[None, :, :]).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    return rows, cols, np.abs(fitted[rows] - true[cols]).max()


def _mean_loglik(proba, y):
    return np.mean(np.log(proba[np.arange(y.size), y]))


def _manual_proba(est, X, k=None):
    """``sum_l g_l(x) p_l(x)`` from ``predict_gate`` and the experts' logits,
    over the ``k`` most probable experts of each row when ``k`` is given."""
    g = est.predict_gate(X)
    P = softmax(np.einsum("nd,lcd->nlc", X, est.coef_) + est.intercept_, axis=2)
    if k is not None:
        drop = np.argsort(-g, axis=1, kind="stable")[:, k:]
        np.put_along_axis(g, drop, 0.0, axis=1)
        g /= g.sum(axis=1, keepdims=True)
    return np.einsum("nl,nlc->nc", g, P)


# ------------------------------------------------------------- one mechanism
@pytest.mark.parametrize("solver", ["newton", "bohning"])
@pytest.mark.parametrize("init", ["kmeans", "tree", "random"])
def test_depth_one_hme_is_the_flat_classifier(solver, init):
    X, y, _ = _make_tree_data(600, 0)
    kw = dict(gate_solver=solver, init_params=init, max_iter=25, random_state=3)
    flat = _fit_quiet(MixtureOfExpertsClassifier(3, **kw), X, y)
    hme = _fit_quiet(HMEC(depth=1, branching=3, **kw), X, y)
    assert hme.n_experts_ == 3 and hme.branching_ == (3,)
    assert hme.n_iter_ == flat.n_iter_ > 5
    assert_allclose(hme.log_likelihoods_, flat.log_likelihoods_, rtol=1e-10)
    for name in ("coef_", "intercept_", "gate_coef_", "gate_intercept_"):
        assert_allclose(getattr(hme, name), getattr(flat, name), rtol=1e-10,
                        atol=1e-12, err_msg=name)
    assert_allclose(hme.predict_proba(X), flat.predict_proba(X), rtol=1e-10,
                    atol=1e-12)
    assert_array_equal(hme.classes_, flat.classes_)


@pytest.mark.parametrize("kw", [
    dict(gate="gaussian"),
    dict(gate_features=[1], expert_features=[0]),
    dict(expert=DecisionTreeClassifier(max_depth=2)),
    dict(n_classes=2),
])
def test_depth_one_hme_is_the_flat_classifier_other_options(kw):
    X, y, _ = _make_tree_data(500, 1)
    kw = dict(kw, max_iter=15, random_state=0)
    if kw.pop("n_classes", 3) == 2:
        y = np.where(y == 2, "b", "a")
    flat = _fit_quiet(MixtureOfExpertsClassifier(3, **kw), X, y)
    hme = _fit_quiet(HMEC(depth=1, branching=3, **kw), X, y)
    assert_allclose(hme.log_likelihoods_, flat.log_likelihoods_, rtol=1e-10)
    assert_allclose(hme.predict_proba(X), flat.predict_proba(X), rtol=1e-10,
                    atol=1e-12)
    assert_array_equal(hme.predict(X), flat.predict(X))
    hme.set_params(top_k=2)
    flat.set_params(top_k=2)
    assert_allclose(hme.predict_proba(X), flat.predict_proba(X), rtol=1e-10,
                    atol=1e-12)
    assert hme.tree_summary().count("-> expert") == 3


def test_localised_gate_needs_depth_one():
    X, y, _ = _make_tree_data(100, 0)
    with pytest.raises(ValueError, match="serves flat mixtures only"):
        HMEC(depth=2, branching=2, gate="gaussian").fit(X, y)


# ------------------------------------------------------------------ EM
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("solver", ["newton", "bohning"])
@pytest.mark.parametrize("branching", [(2, 2), (3, 2)])
def test_em_is_monotone(seed, solver, branching):
    X, y, _ = _make_tree_data(800, seed)
    est = HMEC(depth=2, branching=branching, gate_solver=solver, alpha=0.1,
               max_iter=40, random_state=seed, init_params="random")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a drop is a bug
        _fit_quiet(est, X, y)
    ll = est.log_likelihoods_
    assert ll.size == est.n_iter_ + 1 and est.n_iter_ > 5
    assert np.all(np.diff(ll) >= -1e-8 * np.abs(ll[1:])), np.diff(ll).min()
    assert ll[-1] > ll[0] + 0.05


# ------------------------------------------------------------ recovery
@pytest.fixture(scope="module")
def tree_data():
    return _make_tree_data(4000, 0), _make_tree_data(4000, 1)


def test_as_good_as_the_bayes_classifier(tree_data):
    """From a blind start, new data are classified as well as by the Bayes
    classifier of the true tree (EM finds one of several near-equivalent
    trees, so only the predictions are compared here)."""
    (X, y, _), (X_test, y_test, bayes) = tree_data
    hme = _fit_quiet(HMEC(depth=2, branching=2, alpha=1e-2, n_init=2,
                          random_state=0), X, y)
    acc_bayes = np.mean(bayes.argmax(axis=1) == y_test)  # 0.713
    assert hme.score(X_test, y_test) > acc_bayes - 0.015  # one logistic: 0.46
    proba = hme.predict_proba(X_test)
    # mean log-likelihoods: Bayes -0.68, one logistic regression -1.10
    assert _mean_loglik(proba, y_test) > _mean_loglik(bayes, y_test) - 0.03
    assert np.mean(np.abs(proba - bayes)) < 0.05


def test_recovers_the_tree_from_its_partition(tree_data):
    """Started from the true partition (each row's most probable leaf), EM
    settles at the true experts and gates: its fixed point is the truth."""
    (X, y, _), (X_test, y_test, bayes) = tree_data
    start = _true_leaf_proba(X).argmax(axis=1)
    hme = _fit_quiet(HMEC(depth=2, branching=2, alpha=1e-2, init_params=start,
                          random_state=0), X, y)
    assert hme.converged_
    rows, cols, err = _match_experts(hme)
    assert_array_equal(cols[np.argsort(rows)], [0, 1, 2, 3])  # no relabelling
    assert err < 0.5
    # the root splits on x0, both child gates on x1, at the true thresholds
    spread = [W.max(axis=0) - W.min(axis=0) for W in hme.node_gate_coef_]
    assert spread[0][0] > 10 * spread[0][1]
    assert spread[1][1] > 10 * spread[1][0] and spread[2][1] > 10 * spread[2][0]
    for j, threshold in [(0, 0.0), (1, 0.5), (2, -0.5)]:
        W, b = hme.node_gate_coef_[j], hme.node_gate_intercept_[j]
        f = 0 if j == 0 else 1
        cut = -(b[1] - b[0]) / (W[1, f] - W[0, f])
        assert abs(cut - threshold) < 0.2, (j, cut)  # 1/5 of the gate's width
    # new rows go to the true region (the soft boundaries are ~0.1 wide)
    gate, true_gate = hme.predict_gate(X_test), _true_leaf_proba(X_test)
    assert np.mean(gate.argmax(axis=1) == true_gate.argmax(axis=1)) > 0.95
    assert np.mean(np.abs(gate - true_gate).sum(axis=1)) < 0.1
    acc_bayes = np.mean(bayes.argmax(axis=1) == y_test)
    assert hme.score(X_test, y_test) > acc_bayes - 0.01
    assert "gate 0 (root): splits on x0" in hme.tree_summary()


# ------------------------------------------------------------ top-k
@pytest.fixture(scope="module")
def fitted_hme():
    X, y, _ = _make_tree_data(1500, 3)
    hme = _fit_quiet(HMEC(depth=2, branching=(2, 3), max_iter=30,
                          random_state=0), X, y)
    return X, hme


def test_predict_proba_is_the_tree_mixture(fitted_hme):
    X, hme = fitted_hme
    proba = hme.predict_proba(X)
    assert_allclose(proba, _manual_proba(hme, X), rtol=1e-10, atol=1e-12)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_array_equal(hme.predict(X), hme.classes_[proba.argmax(axis=1)])


def test_top_k_all_experts_equals_full_prediction(fitted_hme):
    X, hme = fitted_hme
    full = hme.predict_proba(X)
    labels = hme.predict(X)
    hme.set_params(top_k=6)
    try:
        assert_array_equal(hme.predict_proba(X), full)
        assert_array_equal(hme.predict(X), labels)
    finally:
        hme.set_params(top_k=None)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_k_prediction(fitted_hme, k):
    X, hme = fitted_hme
    hme.set_params(top_k=k)
    try:
        proba = hme.predict_proba(X)
        log_proba = hme.predict_log_proba(X)
    finally:
        hme.set_params(top_k=None)
    assert_allclose(proba, _manual_proba(hme, X, k), rtol=1e-10, atol=1e-12)
    assert_allclose(np.exp(log_proba), proba, rtol=1e-12)
    if k == 1:  # the argmax expert's own class probabilities
        best = np.argmax(hme.predict_gate(X), axis=1)
        logits = np.einsum("nd,ncd->nc", X, hme.coef_[best]) + hme.intercept_[best]
        assert_allclose(proba, softmax(logits, axis=1), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------ API
def test_tree_attributes_and_summary():
    pd = pytest.importorskip("pandas")
    X, y, _ = _make_tree_data(1200, 2)
    labels = np.array(["low", "mid", "high"])[y]
    df = pd.DataFrame(X, columns=["speed", "angle"])
    hme = _fit_quiet(HMEC(depth=2, branching=(2, 3), max_iter=20,
                          random_state=0), df, labels)
    tree = GatingTree((2, 3))
    assert hme.n_experts_ == 6 and hme.branching_ == (2, 3)
    assert_array_equal(hme.classes_, ["high", "low", "mid"])
    assert hme.coef_.shape == (6, 3, 2) and hme.intercept_.shape == (6, 3)
    assert hme.gate_coef_.shape == (tree.n_slots, 2)
    assert_array_equal(np.vstack(hme.node_gate_coef_), hme.gate_coef_)
    assert hme.node_paths_ == [(), (0,), (1,)]
    assert_array_equal(hme.expert_paths_, [[0, 0], [0, 1], [0, 2], [1, 0],
                                           [1, 1], [1, 2]])
    # an expert's gate probability is the product of the gates on its path
    x = X[:7]
    p = [softmax(x @ W.T + b, axis=1)
         for W, b in zip(hme.node_gate_coef_, hme.node_gate_intercept_)]
    ref = np.stack([p[0][:, i] * p[1 + i][:, j] for i, j in hme.expert_paths_],
                   axis=1)
    assert_allclose(hme.predict_gate(df.iloc[:7]), ref, rtol=1e-12)

    text = hme.tree_summary(n_features=2)
    lines = text.splitlines()
    # title, one line per gate, per expert a header and one logit per class
    assert len(lines) == 1 + tree.n_nodes + hme.n_experts_ * (1 + 3)
    assert lines[0] == ("HierarchicalMixtureOfExpertsClassifier: 6 experts, "
                        "3 gates, branching (2, 3)")
    assert lines[1].startswith("gate 0 (root): splits on ")
    assert "branch 1 -> gate 2: " in text
    for leaf in range(6):
        assert f"-> expert {leaf}\n" in text + "\n"
    for c in ("high", "low", "mid"):
        assert text.count(f"logit[{c}] = ") == 6
    # the printed logits are the fitted ones
    w = hme.coef_[0, 1]
    order = np.argsort(-np.abs(w), kind="stable")
    first = f"logit[low] = {w[order[0]]:+.3g}*{df.columns[order[0]]}".replace(
        "= +", "= ")
    assert first in text
    assert "x0" not in text


def test_hme_takes_the_flat_classifiers_parameters():
    """Every option of the flat classifier, in its order, with depth and
    branching for n_experts, keyword-only after depth."""
    flat = inspect.signature(MixtureOfExpertsClassifier).parameters
    hme = inspect.signature(HMEC).parameters
    assert list(hme) == ["depth", "branching"] + [p for p in flat if p != "n_experts"]
    for name in list(hme)[1:]:
        assert hme[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        if name in flat:
            assert hme[name].default == flat[name].default, name
    assert set(HMEC().get_params()) == (
        set(MixtureOfExpertsClassifier().get_params()) - {"n_experts"}
    ) | {"depth", "branching"}
    assert set(HMEC._parameter_constraints) == (
        set(MixtureOfExpertsClassifier._parameter_constraints) - {"n_experts"}
    ) | {"depth", "branching"}


def test_branching_validation():
    X, y, _ = _make_tree_data(100, 0)
    HMEC(depth=3, branching=[2, 3, 2], max_iter=0).fit(X, y)
    with pytest.raises(ValueError, match="branching has 2 levels but depth=3"):
        HMEC(depth=3, branching=(2, 2)).fit(X, y)
    with pytest.raises(ValueError, match="must be >= 2"):
        HMEC(depth=2, branching=(2, 1)).fit(X, y)
    with pytest.raises(ValueError, match="branching"):  # sklearn's validation
        HMEC(depth=2, branching=1).fit(X, y)
    with pytest.raises(ValueError, match="n_samples=5 should be >= n_experts=8"):
        HMEC(depth=3, branching=2).fit(X[:5], y[:5])
