"""scikit-learn's common estimator checks on every public estimator."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from _instances import INSTANCES, expected_failed_checks


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(INSTANCES, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_every_expected_failure_has_a_reason():
    for est in INSTANCES:
        failed = expected_failed_checks(est)
        assert failed, "the score_samples(X, y) checks are expected to fail"
        for name, reason in failed.items():
            assert name.startswith("check_")
            assert len(reason.split()) >= 5, (name, reason)
