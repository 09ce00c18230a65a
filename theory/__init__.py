"""Symbolic layer: architecture specs, derived gradient flows, reduced equations."""

from pathdyn.theory.architecture import Architecture, parse_depths
from pathdyn.theory.modes import ModeEquations
from pathdyn.theory.reduced import derive_layer_equations, reduce_to_modes

__all__ = [
    "Architecture",
    "ModeEquations",
    "derive_layer_equations",
    "parse_depths",
    "reduce_to_modes",
]
