"""Expert families: each turns sufficient statistics into new parameters."""

from ._gaussian import GaussianExperts, GaussianParams

__all__ = ["GaussianExperts", "GaussianParams"]
