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
from pathdyn.theory.models import MODELS, ReducedModel, reduce_to_modes, register
from pathdyn.theory.modes import ModeEquations, Parameter, StateVariable
from pathdyn.theory.reduced import derive_layer_equations
from pathdyn.theory import two_channel as _two_channel  # noqa: F401  (registers the two-channel model)
from pathdyn.theory import dmft as _dmft  # noqa: F401  (registers the DMFT model)

__all__ = [
    "Architecture",
    "DerivedEquations",
    "GradientFlow",
    "LoadedEquations",
    "MODELS",
    "ModeEquations",
    "Parameter",
    "ReducedModel",
    "StateVariable",
    "derive_equations",
    "derive_gradient_flow",
    "derive_layer_equations",
    "export_equations",
    "load_equations_json",
    "parse_depths",
    "reduce_to_modes",
    "register",
]
