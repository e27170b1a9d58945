"""Synthetic data generators for mixtures of experts.

``make_moe_regression`` and ``make_moe_classification`` draw from a true mixture
of experts (softmax gate, generalised linear experts), so that fitted
parameters can be compared with the ones that generated the data.
``make_robot_arm`` simulates the forward dynamics of a planar robot arm, the
kind of smooth but strongly nonlinear multi-output regression task on which
hierarchical mixtures of experts were first demonstrated.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from scipy.special import softmax
from sklearn.utils import Bunch, check_random_state

__all__ = ["make_moe_classification", "make_moe_regression", "make_robot_arm"]


# --------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------
def _check_int(value, name: str, min_value: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < min_value
    ):
        raise ValueError(f"{name} must be an integer >= {min_value}, got {value!r}.")
    return int(value)


def _check_nonnegative(value, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not np.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    return float(value)


def _check_noise_range(noise) -> tuple[float, float]:
    """Return ``(low, high)`` for a noise given as a float or a pair."""
    if isinstance(noise, numbers.Real) and not isinstance(noise, bool):
        std = _check_nonnegative(noise, "noise")
        return std, std
    try:
        low, high = noise
    except (TypeError, ValueError):
        raise ValueError(
            "noise must be a float >= 0 or a pair (low, high) with "
            f"0 <= low <= high, got {noise!r}."
        ) from None
    low = _check_nonnegative(low, "noise[0]")
    high = _check_nonnegative(high, "noise[1]")
    if low > high:
        raise ValueError(f"noise must satisfy low <= high, got {noise!r}.")
    return low, high


def _check_per_link(value, name: str, n_links: int, *, positive: bool) -> np.ndarray:
    """Broadcast a scalar or a sequence to a float array of shape (n_links,)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n_links, float(arr))
    if arr.shape != (n_links,):
        raise ValueError(
            f"{name} must be a scalar or have one entry per link "
            f"(n_links={n_links}), got shape {arr.shape}."
        )
    bad = ~np.isfinite(arr) | ((arr <= 0) if positive else (arr < 0))
    if np.any(bad):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be finite and {bound}, got {arr.tolist()}.")
    return arr


# --------------------------------------------------------------------------
# shared pieces of the two MoE generators
# --------------------------------------------------------------------------
def _draw_softmax_gate(rng, n_experts: int, n_features: int, gate_scale: float):
    """Draw a softmax gate whose logits have a spread of about ``gate_scale``.

    Each row of ``gate_coef`` has an expected squared norm of ``gate_scale**2``,
    so for ``X ~ N(0, I)`` each logit has a standard deviation of about
    ``gate_scale`` whatever ``n_features``. The parameters are centred over
    experts (they sum to zero over experts), which the softmax does not notice
    and which makes them identifiable.
    """
    gate_coef = rng.standard_normal((n_experts, n_features))
    gate_coef *= gate_scale / np.sqrt(n_features)
    gate_intercept = rng.standard_normal(n_experts)
    gate_coef -= gate_coef.mean(axis=0)
    gate_intercept -= gate_intercept.mean()
    return gate_coef, gate_intercept


def _sample_categorical(proba: np.ndarray, rng) -> np.ndarray:
    """One categorical draw per row of ``proba`` (rows sum to one)."""
    cdf = np.cumsum(proba, axis=1)
    u = rng.uniform(size=(proba.shape[0], 1))
    idx = np.sum(cdf < u, axis=1)
    # guards against a last cumulative sum a rounding error below 1
    return np.minimum(idx, proba.shape[1] - 1).astype(np.intp)


# --------------------------------------------------------------------------
# make_moe_regression
# --------------------------------------------------------------------------
def make_moe_regression(
    n_samples: int = 1000,
    n_features: int = 2,
    n_experts: int = 3,
    *,
    n_targets: int = 1,
    noise: float | tuple[float, float] = (0.1, 0.5),
    gate_scale: float = 3.0,
    coef_scale: float = 2.0,
    random_state: int | np.random.RandomState | None = None,
    return_params: bool = True,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, Bunch]:
    """Generate a regression problem from a mixture of linear-Gaussian experts.

    The data are drawn from the generative model of a mixture of experts with a
    softmax gate::

        x ~ N(0, I_d)
        P(z = k | x) = softmax_k(gate_coef @ x + gate_intercept)
        y | x, z = k ~ N(coef[k] @ x + intercept[k], diag(noise_variance[k]))

    The expert intercepts are drawn well apart (evenly spaced by
    ``2 * coef_scale`` in a random order, plus a small jitter), so that the
    experts stay distinguishable and their parameters can be recovered.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of samples.

    n_features : int, default=2
        Number of input features.

    n_experts : int, default=3
        Number of experts (mixture components).

    n_targets : int, default=1
        Number of regression targets. With more than one, each expert has a
        diagonal noise covariance (independent noise per target).

    noise : float or tuple of (float, float), default=(0.1, 0.5)
        Standard deviation of the Gaussian noise. A float gives every expert
        (and target) the same standard deviation; a pair ``(low, high)`` draws
        one standard deviation per expert and target uniformly in
        ``[low, high]``.

    gate_scale : float, default=3.0
        Scale of the gate's coefficients: each gate logit has a standard
        deviation of about ``gate_scale`` over ``x``. Larger values give
        sharper, better separated expert regions; 0 gives a constant gate.

    coef_scale : float, default=2.0
        Scale of the experts' coefficients (standard deviation of each entry)
        and of the spacing of their intercepts.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation for the parameters and the data.
        Pass an int for reproducible output across multiple function calls.
        The parameters are drawn before the samples, so for a fixed seed they
        do not depend on ``n_samples``.

    return_params : bool, default=True
        If True, also return the true parameters and expert labels.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The input samples.

    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        The targets; 1-D when ``n_targets == 1``.

    params : :class:`~sklearn.utils.Bunch`
        Only when ``return_params=True``. The true parameters, with the
        shapes used by the skmoe estimators:

        coef : ndarray of shape (n_experts, n_features) or \
(n_experts, n_targets, n_features)
            Experts' coefficients; the 3-D shape when ``n_targets > 1``.
        intercept : ndarray of shape (n_experts,) or (n_experts, n_targets)
            Experts' intercepts.
        noise_variance : ndarray of shape (n_experts,) or (n_experts, n_targets)
            Experts' noise variances (squared standard deviations).
        gate_coef : ndarray of shape (n_experts, n_features)
            Gate coefficients, centred over experts.
        gate_intercept : ndarray of shape (n_experts,)
            Gate intercepts, centred over experts.
        labels : ndarray of shape (n_samples,), dtype=int
            The expert ``z`` that generated each sample.

    Raises
    ------
    ValueError
        If an argument is out of range.

    See Also
    --------
    make_moe_classification : The same gate with multinomial logistic experts.

    References
    ----------
    .. [1] Jacobs, R. A., Jordan, M. I., Nowlan, S. J. and Hinton, G. E. (1991).
       Adaptive mixtures of local experts. Neural Computation, 3(1), 79-87.
    .. [2] Jordan, M. I. and Jacobs, R. A. (1994). Hierarchical mixtures of
       experts and the EM algorithm. Neural Computation, 6(2), 181-214.

    Examples
    --------
    >>> from skmoe.datasets import make_moe_regression
    >>> X, y, params = make_moe_regression(n_samples=200, random_state=0)
    >>> X.shape, y.shape
    ((200, 2), (200,))
    >>> params.coef.shape, params.intercept.shape, params.gate_coef.shape
    ((3, 2), (3,), (3, 2))
    >>> params.labels.shape
    (200,)
    >>> X, y = make_moe_regression(
    ...     n_samples=50, n_targets=3, random_state=0, return_params=False
    ... )
    >>> y.shape
    (50, 3)
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_features = _check_int(n_features, "n_features", 1)
    n_experts = _check_int(n_experts, "n_experts", 1)
    n_targets = _check_int(n_targets, "n_targets", 1)
    noise_low, noise_high = _check_noise_range(noise)
    gate_scale = _check_nonnegative(gate_scale, "gate_scale")
    coef_scale = _check_nonnegative(coef_scale, "coef_scale")
    rng = check_random_state(random_state)

    # true parameters (drawn first: they do not depend on n_samples)
    gate_coef, gate_intercept = _draw_softmax_gate(
        rng, n_experts, n_features, gate_scale
    )
    coef = coef_scale * rng.standard_normal((n_experts, n_targets, n_features))
    spacing = 2.0 * coef_scale * (np.arange(n_experts) - (n_experts - 1) / 2.0)
    intercept = np.empty((n_experts, n_targets))
    for t in range(n_targets):
        intercept[:, t] = rng.permutation(spacing)
    intercept += rng.uniform(-0.25, 0.25, size=intercept.shape) * coef_scale
    noise_std = rng.uniform(noise_low, noise_high, size=(n_experts, n_targets))

    # samples
    X = rng.standard_normal((n_samples, n_features))
    gate_proba = softmax(X @ gate_coef.T + gate_intercept, axis=1)
    labels = _sample_categorical(gate_proba, rng)
    mean = np.einsum("nd,ntd->nt", X, coef[labels]) + intercept[labels]
    y = mean + noise_std[labels] * rng.standard_normal((n_samples, n_targets))

    if n_targets == 1:
        y = y[:, 0]
        coef = coef[:, 0, :]
        intercept = intercept[:, 0]
        noise_std = noise_std[:, 0]

    if not return_params:
        return X, y
    params = Bunch(
        coef=coef,
        intercept=intercept,
        noise_variance=noise_std**2,
        gate_coef=gate_coef,
        gate_intercept=gate_intercept,
        labels=labels,
    )
    return X, y, params


# --------------------------------------------------------------------------
# make_moe_classification
# --------------------------------------------------------------------------
def make_moe_classification(
    n_samples: int = 1000,
    n_features: int = 2,
    n_experts: int = 3,
    *,
    n_classes: int = 2,
    gate_scale: float = 3.0,
    coef_scale: float = 3.0,
    random_state: int | np.random.RandomState | None = None,
    return_params: bool = True,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, Bunch]:
    """Generate a classification problem from a mixture of logistic experts.

    The data are drawn from the generative model of a mixture of experts with a
    softmax gate and multinomial logistic experts::

        x ~ N(0, I_d)
        P(z = k | x) = softmax_k(gate_coef @ x + gate_intercept)
        P(y = c | x, z = k) = softmax_c(coef[k] @ x + intercept[k])

    Parameters
    ----------
    n_samples : int, default=1000
        Number of samples.

    n_features : int, default=2
        Number of input features.

    n_experts : int, default=3
        Number of experts (mixture components).

    n_classes : int, default=2
        Number of classes.

    gate_scale : float, default=3.0
        Scale of the gate's coefficients: each gate logit has a standard
        deviation of about ``gate_scale`` over ``x``. Larger values give
        sharper, better separated expert regions; 0 gives a constant gate.

    coef_scale : float, default=3.0
        Scale of the experts' coefficients: each row of ``coef[k]`` has an
        expected squared norm of ``coef_scale**2`` before centring, so larger
        values give sharper class boundaries inside each expert's region.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation for the parameters and the data.
        Pass an int for reproducible output across multiple function calls.
        The parameters are drawn before the samples, so for a fixed seed they
        do not depend on ``n_samples``.

    return_params : bool, default=True
        If True, also return the true parameters and expert labels.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The input samples.

    y : ndarray of shape (n_samples,), dtype=int
        The class labels, integers in ``[0, n_classes)``.

    params : :class:`~sklearn.utils.Bunch`
        Only when ``return_params=True``. The true parameters:

        coef : ndarray of shape (n_experts, n_classes, n_features)
            Experts' coefficients, centred over classes.
        intercept : ndarray of shape (n_experts, n_classes)
            Experts' intercepts, centred over classes.
        gate_coef : ndarray of shape (n_experts, n_features)
            Gate coefficients, centred over experts.
        gate_intercept : ndarray of shape (n_experts,)
            Gate intercepts, centred over experts.
        labels : ndarray of shape (n_samples,), dtype=int
            The expert ``z`` that generated each sample.

    Raises
    ------
    ValueError
        If an argument is out of range.

    See Also
    --------
    make_moe_regression : The same gate with linear-Gaussian experts.

    References
    ----------
    .. [1] Jordan, M. I. and Jacobs, R. A. (1994). Hierarchical mixtures of
       experts and the EM algorithm. Neural Computation, 6(2), 181-214.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe.datasets import make_moe_classification
    >>> X, y, params = make_moe_classification(
    ...     n_samples=200, n_classes=3, random_state=0
    ... )
    >>> X.shape, y.shape
    ((200, 2), (200,))
    >>> params.coef.shape, params.intercept.shape
    ((3, 3, 2), (3, 3))
    >>> np.unique(y)
    array([0, 1, 2])
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_features = _check_int(n_features, "n_features", 1)
    n_experts = _check_int(n_experts, "n_experts", 1)
    n_classes = _check_int(n_classes, "n_classes", 2)
    gate_scale = _check_nonnegative(gate_scale, "gate_scale")
    coef_scale = _check_nonnegative(coef_scale, "coef_scale")
    rng = check_random_state(random_state)

    # true parameters (drawn first: they do not depend on n_samples)
    gate_coef, gate_intercept = _draw_softmax_gate(
        rng, n_experts, n_features, gate_scale
    )
    coef = rng.standard_normal((n_experts, n_classes, n_features))
    coef *= coef_scale / np.sqrt(n_features)
    intercept = rng.standard_normal((n_experts, n_classes))
    coef -= coef.mean(axis=1, keepdims=True)
    intercept -= intercept.mean(axis=1, keepdims=True)

    # samples
    X = rng.standard_normal((n_samples, n_features))
    gate_proba = softmax(X @ gate_coef.T + gate_intercept, axis=1)
    labels = _sample_categorical(gate_proba, rng)
    logits = np.einsum("nd,ncd->nc", X, coef[labels]) + intercept[labels]
    y = _sample_categorical(softmax(logits, axis=1), rng)

    if not return_params:
        return X, y
    params = Bunch(
        coef=coef,
        intercept=intercept,
        gate_coef=gate_coef,
        gate_intercept=gate_intercept,
        labels=labels,
    )
    return X, y, params


# --------------------------------------------------------------------------
# make_robot_arm: planar serial arm of uniform rods in a vertical plane
# --------------------------------------------------------------------------
def _arm_link_constants(
    masses: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Constant inertia coefficients of a planar chain of uniform rods.

    With absolute link angles ``theta_a = q_1 + ... + q_a``, the centre of mass
    of link ``i`` is ``p_i = sum_a r[i, a] * (cos theta_a, sin theta_a)`` with
    ``r[i, a] = l_a`` for ``a < i``, ``l_i / 2`` for ``a = i`` and 0 otherwise.
    Returns ``K`` of shape (n, n) with
    ``K[a, b] = sum_i m_i r[i, a] r[i, b] + delta_ab m_a l_a**2 / 12`` and
    ``w`` of shape (n,) with ``w[a] = sum_i m_i r[i, a]``.
    """
    n_links = masses.shape[0]
    r = np.zeros((n_links, n_links))
    for i in range(n_links):
        r[i, :i] = lengths[:i]
        r[i, i] = 0.5 * lengths[i]
    K = (r.T * masses) @ r + np.diag(masses * lengths**2 / 12.0)
    w = masses @ r
    return K, w


def _arm_dynamics_terms(
    q: np.ndarray,
    qdot: np.ndarray,
    masses: np.ndarray,
    lengths: np.ndarray,
    gravity: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Terms of the equations of motion ``M(q) qddot + c(q, qdot) + G(q) = tau``.

    In absolute angles ``theta = S q`` (``S`` lower triangular of ones) the
    Lagrangian of the chain is
    ``L = 1/2 sum_ab K_ab cos(theta_a - theta_b) thetadot_a thetadot_b
    - gravity * sum_a w_a sin(theta_a)``, whose Euler-Lagrange equations give
    ``M_abs = K * cos(theta_a - theta_b)``,
    ``c_abs_a = sum_b K_ab sin(theta_a - theta_b) thetadot_b**2`` and
    ``G_abs_a = gravity * w_a cos(theta_a)``. The joint torques do the virtual
    work ``tau . dq``, so in joint coordinates ``M = S^T M_abs S``,
    ``c = S^T c_abs`` and ``G = S^T G_abs``.

    Parameters: ``q`` and ``qdot`` of shape (n_samples, n_links). Returns
    ``M`` of shape (n_samples, n_links, n_links), and ``c`` (Coriolis and
    centrifugal) and ``G`` (gravity) of shape (n_samples, n_links).
    """
    K, w = _arm_link_constants(masses, lengths)
    theta = np.cumsum(q, axis=1)
    thetadot = np.cumsum(qdot, axis=1)
    diff = theta[:, :, None] - theta[:, None, :]
    M_abs = K * np.cos(diff)
    c_abs = np.einsum("ab,nab,nb->na", K, np.sin(diff), thetadot**2)
    G_abs = gravity * w * np.cos(theta)
    S = np.tril(np.ones_like(K))
    M = np.einsum("ai,nab,bj->nij", S, M_abs, S)
    return M, c_abs @ S, G_abs @ S


def _arm_potential_energy(
    q: np.ndarray, masses: np.ndarray, lengths: np.ndarray, gravity: float
) -> np.ndarray:
    """Potential energy ``gravity * sum_i m_i height_i``, shape (n_samples,)."""
    _, w = _arm_link_constants(masses, lengths)
    return gravity * np.sin(np.cumsum(q, axis=1)) @ w


def _arm_forward_dynamics(
    q: np.ndarray,
    qdot: np.ndarray,
    tau: np.ndarray,
    masses: np.ndarray,
    lengths: np.ndarray,
    gravity: float,
) -> np.ndarray:
    """Joint accelerations ``M(q)^{-1} (tau - c(q, qdot) - G(q))``."""
    M, c, G = _arm_dynamics_terms(q, qdot, masses, lengths, gravity)
    return np.linalg.solve(M, (tau - c - G)[..., None])[..., 0]


def make_robot_arm(
    n_samples: int = 1000,
    *,
    n_links: int = 2,
    masses: float | Sequence[float] = 1.0,
    lengths: float | Sequence[float] = 1.0,
    gravity: float = 9.81,
    q_max: float = np.pi,
    qdot_max: float = 2.0,
    tau_max: float | Sequence[float] = 10.0,
    noise: float = 0.0,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate the forward dynamics of a planar robot arm (regression).

    A serial arm of ``n_links`` revolute joints moves in a vertical plane under
    gravity. Each link is a uniform rod (mass ``m_i`` spread evenly over its
    length ``l_i``: centre of mass at ``l_i / 2``, moment of inertia
    ``m_i l_i**2 / 12`` about it). The first joint angle is measured from the
    horizontal, each further one relative to the previous link, and gravity
    points down. The task maps the state and the applied torques to the joint
    accelerations given by the exact equations of motion::

        qddot = M(q)^{-1} (tau - C(q, qdot) qdot - G(q))

    where ``M`` is the mass matrix, ``C(q, qdot) qdot`` the Coriolis and
    centrifugal torques and ``G`` the gravity torques, all in closed form from
    the Lagrangian (no numerical differentiation); see the Notes. The inputs
    are drawn uniformly: ``q`` in ``[-q_max, q_max]``, ``qdot`` in
    ``[-qdot_max, qdot_max]`` and ``tau`` in ``[-tau_max, tau_max]``. It is a
    smooth, strongly nonlinear, coupled multi-output problem that stands in
    for the robot dynamics task of Jordan and Jacobs (1994).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of samples.

    n_links : int, default=2
        Number of links and joints, usually 2 or 3 (any positive number
        works; 1 is a pendulum).

    masses : float or sequence of float, default=1.0
        Mass of each link (kg), one value for all links or one per link.

    lengths : float or sequence of float, default=1.0
        Length of each link (m), one value for all links or one per link.

    gravity : float, default=9.81
        Gravitational acceleration (m/s^2); 0 gives a horizontal arm.

    q_max : float, default=np.pi
        Joint angles are drawn uniformly in ``[-q_max, q_max]`` (rad).

    qdot_max : float, default=2.0
        Joint velocities are drawn uniformly in ``[-qdot_max, qdot_max]``
        (rad/s).

    tau_max : float or sequence of float, default=10.0
        Joint torques are drawn uniformly in ``[-tau_max, tau_max]`` (N m), one
        bound for all joints or one per joint. The default is of the order of
        the gravity torques of the default two-link arm (up to about 19.6 N m
        at the shoulder), so that gravity, inertial coupling and the applied
        torques all shape the accelerations.

    noise : float, default=0.0
        Standard deviation of the Gaussian noise added to the accelerations.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation. Pass an int for reproducible
        output across multiple function calls.

    Returns
    -------
    X : ndarray of shape (n_samples, 3 * n_links)
        The inputs, in the column order ``[q_1..q_n, qdot_1..qdot_n,
        tau_1..tau_n]``.

    y : ndarray of shape (n_samples, n_links)
        The joint accelerations ``qddot`` (rad/s^2), plus noise if requested.

    Raises
    ------
    ValueError
        If an argument is out of range.

    See Also
    --------
    make_moe_regression : Data from a known mixture of linear experts.

    Notes
    -----
    With absolute link angles ``theta_a = q_1 + ... + q_a`` the centre of mass
    of link ``i`` lies at ``sum_a r_ia (cos theta_a, sin theta_a)`` with
    ``r_ia = l_a`` for ``a < i``, ``l_i / 2`` for ``a = i`` and 0 after. The
    kinetic energy is ``1/2 sum_ab K_ab cos(theta_a - theta_b) thetadot_a
    thetadot_b`` with the constants ``K_ab = sum_i m_i r_ia r_ib + delta_ab
    m_a l_a**2 / 12``, and the potential energy ``g sum_a w_a sin theta_a``
    with ``w_a = sum_i m_i r_ia``. The Euler-Lagrange equations in ``theta``
    give the mass matrix ``K_ab cos(theta_a - theta_b)``, the velocity terms
    ``sum_b K_ab sin(theta_a - theta_b) thetadot_b**2`` and the gravity terms
    ``g w_a cos theta_a``; with ``theta = S q`` (``S`` lower triangular of
    ones) the joint-space terms are ``M = S^T M_theta S``, ``C qdot = S^T
    c_theta`` and ``G = S^T G_theta``. For two links this reduces to the
    textbook two-link planar arm [2]_. All samples are computed at once with
    vectorised NumPy (a batched linear solve).

    References
    ----------
    .. [1] Jordan, M. I. and Jacobs, R. A. (1994). Hierarchical mixtures of
       experts and the EM algorithm. Neural Computation, 6(2), 181-214.
    .. [2] Spong, M. W., Hutchinson, S. and Vidyasagar, M. (2006). Robot
       Modeling and Control. Wiley. Chapter 7 (Dynamics), the two-link planar
       arm.

    Examples
    --------
    >>> from skmoe.datasets import make_robot_arm
    >>> X, y = make_robot_arm(n_samples=100, random_state=0)
    >>> X.shape, y.shape
    ((100, 6), (100, 2))
    >>> X, y = make_robot_arm(
    ...     n_samples=100, n_links=3, masses=(2.0, 1.0, 0.5), random_state=0
    ... )
    >>> X.shape, y.shape
    ((100, 9), (100, 3))
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_links = _check_int(n_links, "n_links", 1)
    masses_arr = _check_per_link(masses, "masses", n_links, positive=True)
    lengths_arr = _check_per_link(lengths, "lengths", n_links, positive=True)
    tau_max_arr = _check_per_link(tau_max, "tau_max", n_links, positive=False)
    gravity = _check_nonnegative(gravity, "gravity")
    q_max = _check_nonnegative(q_max, "q_max")
    qdot_max = _check_nonnegative(qdot_max, "qdot_max")
    noise = _check_nonnegative(noise, "noise")
    rng = check_random_state(random_state)

    q = rng.uniform(-q_max, q_max, size=(n_samples, n_links))
    qdot = rng.uniform(-qdot_max, qdot_max, size=(n_samples, n_links))
    tau = rng.uniform(-1.0, 1.0, size=(n_samples, n_links)) * tau_max_arr
    y = _arm_forward_dynamics(q, qdot, tau, masses_arr, lengths_arr, gravity)
    if noise > 0:
        y = y + noise * rng.standard_normal(y.shape)
    X = np.hstack([q, qdot, tau])
    return X, y
