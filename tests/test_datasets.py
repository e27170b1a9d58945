"""Tests for skmoe.datasets: the mcycle loader and the synthetic generators."""

import csv
from importlib import resources

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skmoe.datasets import (
    load_mcycle,
    make_moe_classification,
    make_moe_regression,
    make_robot_arm,
)
from skmoe.datasets._samples_generator import (
    _arm_dynamics_terms,
    _arm_forward_dynamics,
    _arm_potential_energy,
)


def _softmax_ref(logits):
    """Row softmax written out, independent of the package's implementation."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------------
# load_mcycle
# ---------------------------------------------------------------------------
def test_load_mcycle_bunch():
    data = load_mcycle()
    assert data.data.shape == (133, 1)
    assert data.target.shape == (133,)
    assert data.data.dtype == np.float64
    assert data.feature_names == ["times"]
    assert data.target_names == ["accel"]
    assert data.frame is None
    assert "Silverman" in data.DESCR and "MASS" in data.DESCR
    # first and last rows of the CSV
    assert_array_equal(data.data[:2, 0], [2.4, 2.6])
    assert_array_equal(data.target[:2], [0.0, -1.3])
    assert data.data[-1, 0] == 57.6 and data.target[-1] == 10.7
    # the time axis is sorted, and ranges over 2.4 .. 57.6 ms
    assert np.all(np.diff(data.data[:, 0]) >= 0)


def test_load_mcycle_matches_csv_parsed_with_csv_module():
    path = resources.files("skmoe.datasets") / "data" / "mcycle.csv"
    with path.open("r", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["times", "accel"]
    ref = np.array([[float(a), float(b)] for a, b in rows[1:]])
    X, y = load_mcycle(return_X_y=True)
    assert_array_equal(X[:, 0], ref[:, 0])
    assert_array_equal(y, ref[:, 1])


def test_load_mcycle_return_X_y():
    data = load_mcycle()
    X, y = load_mcycle(return_X_y=True)
    assert isinstance(X, np.ndarray) and isinstance(y, np.ndarray)
    assert_array_equal(X, data.data)
    assert_array_equal(y, data.target)


def test_load_mcycle_as_frame():
    pd = pytest.importorskip("pandas")
    data = load_mcycle(as_frame=True)
    assert isinstance(data.frame, pd.DataFrame)
    assert list(data.frame.columns) == ["times", "accel"]
    assert data.frame.shape == (133, 2)
    assert isinstance(data.data, pd.DataFrame)
    assert list(data.data.columns) == ["times"]
    assert isinstance(data.target, pd.Series)
    assert data.target.name == "accel"
    assert_array_equal(data.data["times"].to_numpy()[:2], [2.4, 2.6])
    assert_array_equal(data.target.to_numpy()[:2], [0.0, -1.3])

    X, y = load_mcycle(return_X_y=True, as_frame=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert X.shape == (133, 1) and y.shape == (133,)
    assert_array_equal(X.to_numpy(), load_mcycle().data)


# ---------------------------------------------------------------------------
# make_moe_regression
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("n_targets", [1, 3])
def test_make_moe_regression_shapes(n_targets):
    n, d, K = 50, 4, 5
    X, y, p = make_moe_regression(n, d, K, n_targets=n_targets, random_state=0)
    assert X.shape == (n, d)
    if n_targets == 1:
        assert y.shape == (n,)
        assert p.coef.shape == (K, d)
        assert p.intercept.shape == (K,)
        assert p.noise_variance.shape == (K,)
    else:
        assert y.shape == (n, n_targets)
        assert p.coef.shape == (K, n_targets, d)
        assert p.intercept.shape == (K, n_targets)
        assert p.noise_variance.shape == (K, n_targets)
    assert p.gate_coef.shape == (K, d)
    assert p.gate_intercept.shape == (K,)
    assert p.labels.shape == (n,)
    assert np.issubdtype(p.labels.dtype, np.integer)
    assert p.labels.min() >= 0 and p.labels.max() < K
    assert np.all(p.noise_variance >= 0.1**2) and np.all(p.noise_variance <= 0.5**2)
    # gate parameters are centred over experts
    assert_allclose(p.gate_coef.sum(axis=0), 0, atol=1e-12)
    assert_allclose(p.gate_intercept.sum(), 0, atol=1e-12)

    out = make_moe_regression(
        n, d, K, n_targets=n_targets, random_state=0, return_params=False
    )
    assert len(out) == 2
    assert_array_equal(out[0], X)
    assert_array_equal(out[1], y)


def test_make_moe_regression_deterministic():
    X1, y1, p1 = make_moe_regression(100, random_state=42)
    X2, y2, p2 = make_moe_regression(100, random_state=42)
    assert_array_equal(X1, X2)
    assert_array_equal(y1, y2)
    for key in p1:
        assert_array_equal(p1[key], p2[key])
    X3, y3, _ = make_moe_regression(100, random_state=43)
    assert not np.allclose(y1, y3)
    # parameters are drawn before samples: they do not depend on n_samples
    _, _, p4 = make_moe_regression(300, random_state=42)
    assert_array_equal(p1.coef, p4.coef)
    assert_array_equal(p1.gate_coef, p4.gate_coef)


@pytest.mark.parametrize("n_targets", [1, 3])
def test_make_moe_regression_conditional_law(n_targets):
    """Per expert, least squares recovers the expert and its noise variance."""
    n, d, K = 20000, 2, 3
    X, y, p = make_moe_regression(
        n, d, K, n_targets=n_targets, noise=(0.1, 0.5), random_state=0
    )
    Y = y.reshape(n, -1)
    coef = p.coef.reshape(K, n_targets, d)
    intercept = p.intercept.reshape(K, n_targets)
    noise_var = p.noise_variance.reshape(K, n_targets)
    for k in range(K):
        mask = p.labels == k
        n_k = mask.sum()
        assert n_k > 500  # every expert owns a reasonable share
        A = np.column_stack([X[mask], np.ones(n_k)])
        beta, *_ = np.linalg.lstsq(A, Y[mask], rcond=None)  # (d + 1, n_targets)
        resid = Y[mask] - A @ beta
        dof = n_k - (d + 1)
        resid_var = (resid**2).sum(axis=0) / dof
        cov_unscaled = np.linalg.inv(A.T @ A)
        for t in range(n_targets):
            se = np.sqrt(noise_var[k, t] * np.diag(cov_unscaled))
            true = np.append(coef[k, t], intercept[k, t])
            assert np.all(np.abs(beta[:, t] - true) < 5 * se)
            # variance estimator: relative standard error sqrt(2 / dof)
            assert abs(resid_var[t] / noise_var[k, t] - 1) < 5 * np.sqrt(2 / dof)


def test_make_moe_regression_label_frequencies_match_gate():
    n, K = 20000, 4
    X, _, p = make_moe_regression(n, 3, K, random_state=1)
    proba = _softmax_ref(X @ p.gate_coef.T + p.gate_intercept)
    freq = np.bincount(p.labels, minlength=K) / n
    # freq - mean(proba) has a standard deviation <= 0.5 / sqrt(n)
    assert_allclose(freq, proba.mean(axis=0), atol=5 * 0.5 / np.sqrt(n))
    # each sample's label is scored as likely by the gate
    assert np.mean(np.log(proba[np.arange(n), p.labels])) > np.log(1 / K)


def test_make_moe_regression_gate_scale_sharpens_gate():
    sharpness = []
    for gate_scale in [0.0, 1.0, 5.0]:
        X, _, p = make_moe_regression(5000, gate_scale=gate_scale, random_state=3)
        proba = _softmax_ref(X @ p.gate_coef.T + p.gate_intercept)
        sharpness.append(proba.max(axis=1).mean())
    assert sharpness[0] < sharpness[1] < sharpness[2]
    # gate_scale=0: the gate ignores x
    _, _, p0 = make_moe_regression(10, gate_scale=0.0, random_state=3)
    assert_array_equal(p0.gate_coef, 0)


def test_make_moe_regression_float_noise_and_single_expert():
    X, y, p = make_moe_regression(4000, 2, 1, noise=0.3, coef_scale=1.0, random_state=0)
    assert_array_equal(p.labels, 0)
    assert_allclose(p.noise_variance, [0.09])
    resid = y - X @ p.coef[0] - p.intercept[0]
    assert_allclose(resid.var(), 0.09, rtol=0.1)
    # zero noise: y is exactly the expert's linear function
    X, y, p = make_moe_regression(100, noise=0.0, random_state=0)
    k = p.labels
    assert_allclose(y, np.sum(X * p.coef[k], axis=1) + p.intercept[k], atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 2.5}, "n_samples"),
        ({"n_features": 0}, "n_features"),
        ({"n_experts": 0}, "n_experts"),
        ({"n_targets": 0}, "n_targets"),
        ({"noise": -0.1}, "noise"),
        ({"noise": (0.5, 0.1)}, "noise"),
        ({"noise": (0.1, 0.2, 0.3)}, "noise"),
        ({"noise": "big"}, "noise"),
        ({"gate_scale": -1.0}, "gate_scale"),
        ({"coef_scale": np.nan}, "coef_scale"),
    ],
)
def test_make_moe_regression_invalid(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_moe_regression(**kwargs)


# ---------------------------------------------------------------------------
# make_moe_classification
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 4])
def test_make_moe_classification_shapes(n_classes):
    n, d, K = 300, 3, 2
    X, y, p = make_moe_classification(n, d, K, n_classes=n_classes, random_state=0)
    assert X.shape == (n, d)
    assert y.shape == (n,)
    assert np.issubdtype(y.dtype, np.integer)
    assert y.min() >= 0 and y.max() <= n_classes - 1
    assert p.coef.shape == (K, n_classes, d)
    assert p.intercept.shape == (K, n_classes)
    assert p.gate_coef.shape == (K, d)
    assert p.gate_intercept.shape == (K,)
    assert p.labels.shape == (n,)
    assert set(p) == {"coef", "intercept", "gate_coef", "gate_intercept", "labels"}
    # expert parameters are centred over classes
    assert_allclose(p.coef.sum(axis=1), 0, atol=1e-12)
    assert_allclose(p.intercept.sum(axis=1), 0, atol=1e-12)
    assert len(make_moe_classification(10, return_params=False)) == 2


def test_make_moe_classification_deterministic():
    X1, y1, p1 = make_moe_classification(200, n_classes=3, random_state=7)
    X2, y2, p2 = make_moe_classification(200, n_classes=3, random_state=7)
    assert_array_equal(X1, X2)
    assert_array_equal(y1, y2)
    for key in p1:
        assert_array_equal(p1[key], p2[key])
    _, y3, _ = make_moe_classification(200, n_classes=3, random_state=8)
    assert not np.array_equal(y1, y3)


def test_make_moe_classification_class_frequencies_per_expert():
    n, d, K, C = 30000, 2, 3, 3
    X, y, p = make_moe_classification(n, d, K, n_classes=C, random_state=0)
    gate = _softmax_ref(X @ p.gate_coef.T + p.gate_intercept)
    assert_allclose(
        np.bincount(p.labels, minlength=K) / n, gate.mean(axis=0), atol=2.5 / np.sqrt(n)
    )
    for k in range(K):
        mask = p.labels == k
        n_k = mask.sum()
        assert n_k > 1000
        proba = _softmax_ref(X[mask] @ p.coef[k].T + p.intercept[k])
        freq = np.bincount(y[mask], minlength=C) / n_k
        assert_allclose(freq, proba.mean(axis=0), atol=2.5 / np.sqrt(n_k))
    # the experts really differ: their class-probability maps disagree
    P0 = _softmax_ref(X @ p.coef[0].T + p.intercept[0])
    P1 = _softmax_ref(X @ p.coef[1].T + p.intercept[1])
    assert np.mean(np.abs(P0 - P1).sum(axis=1)) > 0.2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_features": -1}, "n_features"),
        ({"n_experts": 0}, "n_experts"),
        ({"n_classes": 1}, "n_classes"),
        ({"gate_scale": -1.0}, "gate_scale"),
        ({"coef_scale": np.inf}, "coef_scale"),
    ],
)
def test_make_moe_classification_invalid(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_moe_classification(**kwargs)


# ---------------------------------------------------------------------------
# make_robot_arm
# ---------------------------------------------------------------------------
def _split_state(X, n_links):
    return X[:, :n_links], X[:, n_links : 2 * n_links], X[:, 2 * n_links :]


@pytest.mark.parametrize("n_links", [1, 2, 3])
def test_make_robot_arm_shapes_and_ranges(n_links):
    X, y = make_robot_arm(500, n_links=n_links, random_state=0)
    assert X.shape == (500, 3 * n_links)
    assert y.shape == (500, n_links)
    assert np.all(np.isfinite(y))
    q, qdot, tau = _split_state(X, n_links)
    assert np.all(np.abs(q) <= np.pi)
    assert np.all(np.abs(qdot) <= 2.0)
    assert np.all(np.abs(tau) <= 10.0)
    X2, y2 = make_robot_arm(500, n_links=n_links, random_state=0)
    assert_array_equal(X, X2)
    assert_array_equal(y, y2)


def test_make_robot_arm_noise():
    X0, y0 = make_robot_arm(20000, random_state=0)
    X1, y1 = make_robot_arm(20000, noise=0.5, random_state=0)
    assert_array_equal(X0, X1)
    assert_allclose((y1 - y0).std(axis=0), 0.5, rtol=0.05)
    assert_allclose((y1 - y0).mean(axis=0), 0.0, atol=0.05)


def test_make_robot_arm_one_link_is_a_pendulum():
    m, L, g = 2.0, 0.7, 9.81
    X, y = make_robot_arm(100, n_links=1, masses=m, lengths=L, random_state=0)
    q, _, tau = X[:, 0], X[:, 1], X[:, 2]
    # rod about its end: I = m L^2 / 3; gravity torque m g (L/2) cos q
    expected = (tau - m * g * 0.5 * L * np.cos(q)) / (m * L**2 / 3)
    assert_allclose(y[:, 0], expected, rtol=1e-12, atol=1e-12)


def test_make_robot_arm_two_links_match_textbook():
    """Spong, Hutchinson & Vidyasagar, two-link planar arm, written out."""
    m1, m2 = 1.5, 0.7
    l1, l2 = 0.8, 1.2
    g = 9.81
    X, y = make_robot_arm(
        1000, masses=(m1, m2), lengths=(l1, l2), gravity=g, random_state=0
    )
    q1, q2, dq1, dq2, t1, t2 = X.T
    lc1, lc2 = l1 / 2, l2 / 2
    I1, I2 = m1 * l1**2 / 12, m2 * l2**2 / 12
    d11 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * np.cos(q2)) + I1 + I2
    d12 = m2 * (lc2**2 + l1 * lc2 * np.cos(q2)) + I2
    d22 = m2 * lc2**2 + I2
    h = -m2 * l1 * lc2 * np.sin(q2)
    phi1 = (m1 * lc1 + m2 * l1) * g * np.cos(q1) + m2 * lc2 * g * np.cos(q1 + q2)
    phi2 = m2 * lc2 * g * np.cos(q1 + q2)
    r1 = t1 - (h * dq2**2 + 2 * h * dq1 * dq2 + phi1)
    r2 = t2 - (-h * dq1**2 + phi2)
    det = d11 * d22 - d12**2
    ddq1 = (d22 * r1 - d12 * r2) / det
    ddq2 = (d11 * r2 - d12 * r1) / det
    assert_allclose(y[:, 0], ddq1, rtol=1e-10, atol=1e-10)
    assert_allclose(y[:, 1], ddq2, rtol=1e-10, atol=1e-10)


def _com_positions(q, lengths):
    """Centres of mass of a chain of uniform rods, shape (n_links, 2).

    Written from the geometry alone; works with complex ``q`` (complex step).
    """
    theta = np.cumsum(q)
    joint = np.zeros(2, dtype=np.result_type(q, float))
    out = []
    for i, length in enumerate(lengths):
        e = np.array([np.cos(theta[i]), np.sin(theta[i])])
        out.append(joint + 0.5 * length * e)
        joint = joint + length * e
    return np.array(out)


def _mass_matrix_ref(q, masses, lengths):
    """M = sum_i m_i J_i^T J_i + I_i w_i w_i^T, with J_i by complex step."""
    n = len(q)
    step = 1e-30
    J = np.empty((n, 2, n))
    for k in range(n):
        dq = np.zeros(n, dtype=complex)
        dq[k] = 1j * step
        J[:, :, k] = _com_positions(q + dq, lengths).imag / step
    Jw = np.tril(np.ones((n, n)))  # angular velocity of link i: sum_{j<=i} qdot_j
    M = np.zeros((n, n))
    for i in range(n):
        inertia = masses[i] * lengths[i] ** 2 / 12
        M += masses[i] * J[i].T @ J[i] + inertia * np.outer(Jw[i], Jw[i])
    return M


def _potential_ref(q, masses, lengths, g):
    return g * np.sum(np.asarray(masses) * _com_positions(q, lengths)[:, 1])


@pytest.mark.parametrize(
    "masses, lengths",
    [((1.0,), (1.0,)), ((1.5, 0.7), (0.8, 1.2)), ((2.0, 1.0, 0.5), (1.0, 0.8, 0.6))],
)
def test_make_robot_arm_satisfies_euler_lagrange(masses, lengths):
    """tau = d/dt(M qdot) - dT/dq + dV/dq with M, V built from the geometry."""
    n = len(masses)
    g = 9.81
    X, y = make_robot_arm(
        20, n_links=n, masses=masses, lengths=lengths, gravity=g, random_state=1
    )
    h = 1e-6
    for x, qddot in zip(X, y):
        q, qdot, tau = x[:n], x[n : 2 * n], x[2 * n :]
        M = _mass_matrix_ref(q, masses, lengths)
        dM = np.empty((n, n, n))  # dM[k] = dM/dq_k
        dV = np.empty(n)
        for k in range(n):
            e = np.zeros(n)
            e[k] = 1.0
            dM[k] = (
                _mass_matrix_ref(q + h * e, masses, lengths)
                - _mass_matrix_ref(q - h * e, masses, lengths)
            ) / (2 * h)
            # complex step: exact first derivative of the analytic potential
            dV[k] = _potential_ref(q + 1e-30j * e, masses, lengths, g).imag / 1e-30
        Mdot_qdot = np.einsum("k,kij,j->i", qdot, dM, qdot)
        dT_dq = 0.5 * np.einsum("i,kij,j->k", qdot, dM, qdot)
        tau_rec = M @ qddot + Mdot_qdot - dT_dq + dV
        scale = np.abs(M @ qddot).max() + np.abs(dV).max() + 1.0
        assert_allclose(tau_rec, tau, rtol=0, atol=1e-7 * scale)


def _rk4_step(q, qdot, tau, dt, masses, lengths, g):
    def f(q_, v_):
        return v_, _arm_forward_dynamics(q_, v_, tau, masses, lengths, g)

    k1q, k1v = f(q, qdot)
    k2q, k2v = f(q + 0.5 * dt * k1q, qdot + 0.5 * dt * k1v)
    k3q, k3v = f(q + 0.5 * dt * k2q, qdot + 0.5 * dt * k2v)
    k4q, k4v = f(q + dt * k3q, qdot + dt * k3v)
    q_new = q + dt / 6 * (k1q + 2 * k2q + 2 * k3q + k4q)
    v_new = qdot + dt / 6 * (k1v + 2 * k2v + 2 * k3v + k4v)
    return q_new, v_new


def _energies(q, qdot, masses, lengths, g):
    """Kinetic 0.5 qdot^T M qdot and potential energy, each of shape (n,)."""
    M, _, _ = _arm_dynamics_terms(q, qdot, masses, lengths, g)
    kinetic = 0.5 * np.einsum("ni,nij,nj->n", qdot, M, qdot)
    return kinetic, _arm_potential_energy(q, masses, lengths, g)


@pytest.mark.parametrize("n_links", [2, 3])
@pytest.mark.parametrize("zero_torque", [False, True])
def test_make_robot_arm_power_balance(n_links, zero_torque):
    """Along a trajectory dE/dt = tau . qdot (energy conserved when tau = 0)."""
    masses = np.array([1.2, 0.9, 0.6][:n_links])
    lengths = np.array([1.0, 0.7, 0.5][:n_links])
    g = 9.81
    X, _ = make_robot_arm(
        200,
        n_links=n_links,
        masses=masses,
        lengths=lengths,
        gravity=g,
        random_state=2,
    )
    q, qdot, tau = _split_state(X, n_links)
    if zero_torque:
        tau = np.zeros_like(tau)
    dt = 1e-5
    T_p, V_p = _energies(
        *_rk4_step(q, qdot, tau, dt, masses, lengths, g), masses, lengths, g
    )
    T_m, V_m = _energies(
        *_rk4_step(q, qdot, tau, -dt, masses, lengths, g), masses, lengths, g
    )
    dT_dt = (T_p - T_m) / (2 * dt)
    dV_dt = (V_p - V_m) / (2 * dt)
    dE_dt = dT_dt + dV_dt
    power = np.sum(tau * qdot, axis=1)
    # the individual rates are large: energy really flows between T, V and tau
    rate_scale = np.abs(dT_dt) + np.abs(dV_dt) + np.abs(power)
    assert np.median(rate_scale) > 1.0
    assert_allclose(dE_dt, power, rtol=1e-4, atol=1e-4 * np.median(rate_scale))
    assert np.all(np.abs(dE_dt - power) <= 1e-6 * rate_scale + 1e-4 * np.abs(power))


def test_make_robot_arm_output_is_forward_dynamics_of_inputs():
    masses, lengths = (1.0, 2.0, 0.5), (0.5, 1.0, 1.5)
    X, y = make_robot_arm(50, n_links=3, masses=masses, lengths=lengths, random_state=0)
    q, qdot, tau = _split_state(X, 3)
    M, c, G = _arm_dynamics_terms(q, qdot, np.array(masses), np.array(lengths), 9.81)
    assert_allclose(np.einsum("nij,nj->ni", M, y) + c + G, tau, atol=1e-10)
    # the mass matrix is symmetric positive definite
    assert_allclose(M, np.swapaxes(M, 1, 2), atol=1e-14)
    assert np.all(np.linalg.eigvalsh(M) > 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_links": 0}, "n_links"),
        ({"masses": (1.0, 2.0, 3.0)}, "masses"),
        ({"masses": (1.0, 0.0)}, "masses"),
        ({"lengths": -1.0}, "lengths"),
        ({"tau_max": (-1.0, 1.0)}, "tau_max"),
        ({"gravity": -9.81}, "gravity"),
        ({"qdot_max": -1.0}, "qdot_max"),
        ({"noise": -0.1}, "noise"),
    ],
)
def test_make_robot_arm_invalid(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_robot_arm(**kwargs)
