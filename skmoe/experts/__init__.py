"""Expert families: each turns sufficient statistics into new parameters."""

from ._estimator import (
    EstimatorClassifierExperts,
    EstimatorParams,
    EstimatorRegressorExperts,
)
from ._gaussian import GaussianExperts, GaussianParams
from ._logistic import LogisticExperts, LogisticParams
from ._poisson import PoissonExperts, PoissonParams

__all__ = [
    "EstimatorClassifierExperts",
    "EstimatorParams",
    "EstimatorRegressorExperts",
    "GaussianExperts",
    "GaussianParams",
    "LogisticExperts",
    "LogisticParams",
    "PoissonExperts",
    "PoissonParams",
]
