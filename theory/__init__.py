"""Symbolic layer: architecture specs, derived gradient flows, reduced equations."""

from pathdyn.theory.architecture import Architecture, parse_depths
from pathdyn.theory.export import (
    DerivedEquations,
    LoadedEquations,
    derive_equations,
    export_equations,
    load_equations_json,
)
from pathdyn.theory.gradient_flow import GradientFlow, derive_gradient_flow
from pathdyn.theory.modes import ModeEquations
from pathdyn.theory.reduced import derive_layer_equations, reduce_to_modes

__all__ = [
    "Architecture",
    "DerivedEquations",
    "GradientFlow",
    "LoadedEquations",
    "ModeEquations",
    "derive_equations",
    "derive_gradient_flow",
    "derive_layer_equations",
    "export_equations",
    "load_equations_json",
    "parse_depths",
    "reduce_to_modes",
]
