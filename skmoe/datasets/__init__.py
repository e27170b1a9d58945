"""Data sets for mixtures of experts: a shipped real data set and generators.

- :func:`load_mcycle`: the motorcycle crash helmet data (Silverman 1985).
- :func:`make_moe_regression`, :func:`make_moe_classification`: samples from a
  true mixture of experts, returned with its parameters.
- :func:`make_robot_arm`: forward dynamics of a simulated planar robot arm.
"""

from ._base import load_mcycle
from ._samples_generator import (
    make_moe_classification,
    make_moe_regression,
    make_robot_arm,
)

__all__ = [
    "load_mcycle",
    "make_moe_classification",
    "make_moe_regression",
    "make_robot_arm",
]
