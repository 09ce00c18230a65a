"""The model registry holds every model, the DMFT included, and the command line reads it."""

import argparse

import pytest

from pathdyn.errors import ConfigError
from pathdyn.theory.dmft import derive_dmft_equations
from pathdyn.theory.models import MODELS, ReducedModel, get_model, models_of_kind, reduce_to_modes, validation_theories


def _choices(command: str, option: str) -> tuple:
    from pathdyn.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return tuple(next(a for a in sub._actions if option in a.option_strings).choices)


def test_the_dmft_is_a_registered_model_of_its_own_kind():
    model = get_model("dmft")
    assert model.kind == "dmft" and model.mappings == ()
    assert models_of_kind("dmft") == ("dmft",)
    assert "dmft" not in models_of_kind("ode") and {"qp", "two-channel", "layer", "race"} <= set(models_of_kind("ode"))
    assert model.is_exact((3, 4), "gaussian", None) and model.is_exact((3, 4), "orthogonal", None)
    assert not model.is_exact((3, 4), "paper", None)
    assert str(model.derive((3, 4))) == str(derive_dmft_equations((3, 4)))


def test_reduce_to_modes_refuses_a_model_that_is_not_per_mode_odes():
    with pytest.raises(ConfigError, match="model: 'dmft' is a dmft model"):
        reduce_to_modes((3, 3), "dmft")
    assert reduce_to_modes((3, 3), "qp").layout  # the ODE models still reduce


def test_the_command_line_lists_the_models_of_the_registry():
    assert validation_theories() == ("qp", "two-channel", "dmft")
    assert _choices("validate", "--theory") == validation_theories()
    assert _choices("derive", "--model") == tuple(MODELS) == ("layer", "qp", "race", "two-channel", "dmft")
    # integrate draws a per-mode model's state from q, p (or runs the DMFT): not race (it needs each c) nor two-channel
    assert _choices("integrate", "--model") == ("layer", "qp", "dmft")


def test_a_new_dmft_kind_model_reaches_the_validate_choices(monkeypatch):
    monkeypatch.setitem(MODELS, "dmft-test", ReducedModel(name="dmft-test", derive=derive_dmft_equations,
                                                           description="test", kind="dmft"))
    assert validation_theories()[-1] == "dmft-test" and models_of_kind("dmft") == ("dmft", "dmft-test")


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "volterra"}, "kind: 'volterra' is not a kind of model"),
    ({"kind": "dmft", "mappings": ("exact",)}, "mappings: a 'dmft' model predicts the seed mean"),
])
def test_bad_registry_entries_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ReducedModel(name="bad", derive=derive_dmft_equations, description="bad", **kwargs)
    with pytest.raises(ConfigError, match="kind: 'x' is not a kind"):
        models_of_kind("x")
