"""Numeric layer: compiled right-hand sides, integrators, datasets, trajectories.

Consumes :class:`pathdyn.theory.modes.ModeEquations` only; never the derivation code.
"""

from pathdyn.numerics.datasets import Dataset, hierarchical_dataset, load_dataset, random_dataset
from pathdyn.numerics.trajectory import Trajectory

__all__ = ["Dataset", "Trajectory", "hierarchical_dataset", "load_dataset", "random_dataset"]
