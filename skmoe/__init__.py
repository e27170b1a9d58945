"""skmoe: mixtures of experts and hierarchical mixtures of experts for scikit-learn.

Estimators are fitted by EM, with numba-compiled E-steps on the CPU.
"""

from ._moe import MixtureOfExpertsRegressor

__version__ = "0.1.0.dev0"

__all__ = ["MixtureOfExpertsRegressor", "__version__"]
