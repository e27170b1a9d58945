"""skmoe: mixtures of experts and hierarchical mixtures of experts for scikit-learn.

Estimators are fitted by EM, with numba-compiled E-steps on the CPU, an optional
CuPy path on NVIDIA GPUs and Dask arrays for data beyond one machine.
"""

from ._hme import (
    HierarchicalMixtureOfExpertsClassifier,
    HierarchicalMixtureOfExpertsRegressor,
)
from ._moe import MixtureOfExpertsRegressor
from ._moe_classifier import MixtureOfExpertsClassifier

__version__ = "0.1.0.dev0"

__all__ = [
    "HierarchicalMixtureOfExpertsClassifier",
    "HierarchicalMixtureOfExpertsRegressor",
    "MixtureOfExpertsClassifier",
    "MixtureOfExpertsRegressor",
    "__version__",
]
