"""Bad input gives a clear error whose message names the problem."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from skmoe import MixtureOfExpertsRegressor

N = 40


@pytest.fixture(scope="module")
def Xy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 2))
    return X, X[:, 0] - X[:, 1] + 0.1 * rng.normal(size=N)


@pytest.fixture(scope="module")
def fitted(Xy):
    return MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(*Xy)


def _with(a, index, value):
    a = np.array(a, dtype=float)
    a[index] = value
    return a


@pytest.mark.parametrize("where", ["X", "y"])
@pytest.mark.parametrize("value, match", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_input(Xy, where, value, match):
    X, y = Xy
    if where == "X":
        X = _with(X, (3, 1), value)
    else:
        y = _with(y, 5, value)
    with pytest.raises(ValueError, match=f"Input {where} contains {match}"):
        MixtureOfExpertsRegressor(n_experts=2).fit(X, y)


def test_non_finite_input_at_predict(fitted, Xy):
    X, y = Xy
    bad = _with(X, (0, 0), np.nan)
    for method in (fitted.predict, fitted.predict_gate, fitted.sample):
        with pytest.raises(ValueError, match="Input X contains NaN"):
            method(bad)
    with pytest.raises(ValueError, match="Input y contains infinity"):
        fitted.score_samples(X, _with(y, 0, np.inf))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda X, y: (X[:, 0], y), "Expected 2D array"),
        (lambda X, y: (X[:, :, None], y), "dim 3"),
        (lambda X, y: (X, y[:-1]), "inconsistent numbers of samples"),
        (lambda X, y: (X, y[:, None, None]), "dim 3"),
        (lambda X, y: (X[:0], y[:0]), "0 sample"),
    ],
    ids=["X-1d", "X-3d", "y-length", "y-3d", "empty"],
)
def test_wrong_shapes(Xy, make, match):
    with pytest.raises(ValueError, match=match):
        MixtureOfExpertsRegressor(n_experts=2).fit(*make(*Xy))


def test_fewer_samples_than_experts(Xy):
    X, y = Xy
    with pytest.raises(ValueError, match="n_samples=3 should be >= n_experts=4"):
        MixtureOfExpertsRegressor(n_experts=4).fit(X[:3], y[:3])


def test_wrong_feature_count_at_predict(fitted, Xy):
    X, y = Xy
    msg = "X has 3 features, but MixtureOfExpertsRegressor is expecting 2"
    X3 = np.c_[X, X[:, 0]]
    for call in (fitted.predict, fitted.predict_gate, fitted.sample):
        with pytest.raises(ValueError, match=msg):
            call(X3)
    for call in (fitted.score_samples, fitted.responsibilities, fitted.bic,
                 fitted.aic, fitted.score):
        with pytest.raises(ValueError, match=msg):
            call(X3, y)


def test_wrong_target_shape_after_fit(fitted, Xy):
    X, y = Xy
    with pytest.raises(ValueError, match="fitted on 1-dimensional y"):
        fitted.score_samples(X, y[:, None])
    two = MixtureOfExpertsRegressor(n_experts=2, random_state=0)
    two.fit(X, np.c_[y, y])
    with pytest.raises(ValueError, match="y has 3 outputs; the model was fitted on 2"):
        two.score_samples(X, np.c_[y, y, y])


def test_complex_and_string_input(Xy):
    X, y = Xy
    est = MixtureOfExpertsRegressor(n_experts=2)
    with pytest.raises(ValueError, match="Complex data not supported"):
        est.fit(X + 1j, y)
    with pytest.raises(ValueError, match="could not convert string to float"):
        est.fit(np.full(X.shape, "a"), y)
    with pytest.raises(ValueError, match="could not convert string to float"):
        est.fit(X, np.full(N, "a"))


@pytest.mark.parametrize("n_experts", [0, -1, 1.5, "3"])
def test_bad_n_experts(Xy, n_experts):
    # scikit-learn's InvalidParameterError is a ValueError
    with pytest.raises(ValueError, match="'n_experts' parameter"):
        MixtureOfExpertsRegressor(n_experts=n_experts).fit(*Xy)


@pytest.mark.parametrize(
    "param, value",
    [("alpha", -1.0), ("gate_alpha", -0.1), ("reg_var", -1.0),
     ("gate_solver", "lbfgs"), ("max_iter", -1), ("tol", -1e-3), ("n_init", 0),
     ("init_params", "kmeans++"), ("verbose_interval", 0)],
)
def test_bad_parameters(Xy, param, value):
    with pytest.raises(ValueError, match=f"'{param}' parameter"):
        MixtureOfExpertsRegressor(**{param: value}).fit(*Xy)


@pytest.mark.parametrize(
    "sample_weight, match",
    [(-np.ones(N), "Negative values in data passed to `sample_weight`"),
     (np.zeros(N), "at least one non-zero"),
     (np.full(N, np.nan), "sample_weight contains NaN"),
     (np.ones(N - 1), r"sample_weight.shape == \(39,\), expected \(40,\)")],
    ids=["negative", "all-zero", "nan", "length"],
)
def test_bad_sample_weight(Xy, sample_weight, match):
    with pytest.raises(ValueError, match=match):
        MixtureOfExpertsRegressor(n_experts=2).fit(*Xy, sample_weight=sample_weight)


@pytest.mark.parametrize(
    "init, match",
    [(np.zeros(N), "integer array of shape"),
     (np.zeros(N - 1, dtype=int), "integer array of shape"),
     (np.full(N, 2), r"must lie in \[0, 1\]"),
     (np.full(N, -1), r"must lie in \[0, 1\]"),
     (np.ones((N, 3)), r"shape \(n_samples, n_experts\) = \(40, 2\)"),
     (-np.ones((N, 2)), "finite and >= 0"),
     (np.full((N, 2), np.nan), "finite and >= 0"),
     (np.zeros((N, 2)), "positive sum")],
    ids=["float-labels", "short-labels", "label-too-big", "negative-label",
         "resp-shape", "resp-negative", "resp-nan", "resp-zero-row"],
)
def test_bad_user_initialisation(Xy, init, match):
    with pytest.raises(ValueError, match=match):
        MixtureOfExpertsRegressor(n_experts=2, init_params=init).fit(*Xy)


def test_not_fitted(Xy):
    X, y = Xy
    est = MixtureOfExpertsRegressor()
    for call in (lambda: est.predict(X), lambda: est.predict_gate(X),
                 lambda: est.sample(X), lambda: est.score_samples(X, y),
                 lambda: est.responsibilities(X, y), lambda: est.bic(X, y)):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call()


@pytest.mark.parametrize(
    "change",
    [lambda est, X, y: (est.set_params(n_experts=3), X, y),
     lambda est, X, y: (est, np.c_[X, X[:, 0]], y),
     lambda est, X, y: (est, X, np.c_[y, y])],
    ids=["n_experts", "n_features", "n_outputs"],
)
def test_warm_start_after_shape_change(Xy, change):
    X, y = Xy
    est = MixtureOfExpertsRegressor(n_experts=2, warm_start=True, random_state=0)
    est.fit(X, y)
    est, X2, y2 = change(est, X, y)
    with pytest.raises(ValueError, match="set warm_start=False"):
        est.fit(X2, y2)
    # without warm start the same fit works
    est.set_params(warm_start=False).fit(X2, y2)
