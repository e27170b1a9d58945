"""Fast estimator instances for scikit-learn's common checks.

Every entry of the expected failures must say why the check cannot pass; an
entry without a reason is not allowed.
"""

from skmoe import MixtureOfExpertsRegressor

_FAST = dict(max_iter=5, n_init=2, random_state=0)

INSTANCES = [
    MixtureOfExpertsRegressor(**_FAST),
    MixtureOfExpertsRegressor(gate_solver="bohning", **_FAST),
    MixtureOfExpertsRegressor(gate_solver="newton", **_FAST),
    MixtureOfExpertsRegressor(init_params="random", **_FAST),
]

# ``score_samples(X, y)`` is the conditional density log p(y | x): these checks
# call ``score_samples(X)`` as for an unsupervised density estimator.
_SCORE_SAMPLES_NEEDS_Y = (
    "score_samples(X, y) is the conditional log-density log p(y | x) and needs "
    "y; the check calls score_samples(X) as for an unsupervised estimator"
)

EXPECTED_FAILED_CHECKS = {
    "check_methods_sample_order_invariance": _SCORE_SAMPLES_NEEDS_Y,
    "check_methods_subset_invariance": _SCORE_SAMPLES_NEEDS_Y,
}

# Only for init_params="random": one uniform draw of responsibilities per row,
# so a row with weight 3 starts from one draw while its three copies start
# from three different draws.
RANDOM_INIT_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "init_params='random' draws initial responsibilities per row, so a row "
        "of integer weight w and its w repeated copies start EM from different "
        "points"
    ),
}


def expected_failed_checks(estimator):
    """``{check_name: reason}`` of the checks ``estimator`` is known to fail."""
    failed = dict(EXPECTED_FAILED_CHECKS)
    if getattr(estimator, "init_params", None) == "random":
        failed.update(RANDOM_INIT_FAILED_CHECKS)
    for name, reason in failed.items():
        if not (isinstance(reason, str) and reason.strip()):
            raise ValueError(f"expected failure {name!r} has no reason")
    return failed
