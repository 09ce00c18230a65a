"""A toy reduced model in one file: the q/p flow under its own name, mappings and wording.

It exists to show (tests/test_model_registry.py) that one file and one registry line take a
model to every command: derive (and the exports), integrate, validate. A real model derives
its own equations here (``derive``), says where its state starts from (``start`` in its
layout), and registers how a network maps to it.
"""

from pathdyn.theory.models import MODELS, ReducedModel, register
from pathdyn.theory.reduced import derive_qp_equations
from pathdyn.validation.mapping import MAPPERS, register_mapper


def _limit(model, method, init, depths):
    return f"toy model from the {method} mapping: the q/p flow under another name"


TOY = register(ReducedModel(
    name="toy",
    derive=derive_qp_equations,
    description="the q/p flow under another name",
    mappings=("exact", "growth-matched"),
    default_mapping=MODELS["qp"].default_mapping,
    is_exact=MODELS["qp"].is_exact,
    exact_when="every pathway of depth <= 2",
    latex={"q": "u_{{{pathway}}}", "p": "v_{{{pathway}}}"},
    limit=_limit,
    drawn_from_qp=True,
))
register_mapper("toy", MAPPERS["qp"])
