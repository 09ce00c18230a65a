"""Numeric layer: compiled right-hand sides, integrators, datasets, trajectories.

Consumes :class:`pathdyn.theory.modes.ModeEquations` only; never the derivation code.
"""

from pathdyn.numerics.datasets import Dataset, hierarchical_dataset, load_dataset, random_dataset
from pathdyn.numerics.trajectory import Trajectory
from pathdyn.numerics.compile import CompiledRHS, compile_rhs
from pathdyn.numerics.initial import draw_initial_state, qp_initial_state
from pathdyn.numerics.integrate import integrate
from pathdyn.numerics.race import race_final_strengths, race_potential_numeric

__all__ = [
    "CompiledRHS",
    "Dataset",
    "Trajectory",
    "compile_rhs",
    "draw_initial_state",
    "hierarchical_dataset",
    "integrate",
    "load_dataset",
    "qp_initial_state",
    "race_final_strengths",
    "race_potential_numeric",
    "random_dataset",
]
