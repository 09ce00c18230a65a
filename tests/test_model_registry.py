"""The model registry holds every model, the DMFT included, and the command line reads it."""

import argparse
import ast
import importlib.util
from pathlib import Path

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


# ----------------------------------------------------------------------- one place knows the models
#: The registry's own module: the only place that may compare with a model's name.
REGISTRY = "theory/models.py"


def model_name_comparisons(source: str, names) -> list:
    """``line: code`` of every ``== "name"``, ``!= "name"`` or ``in ("name", ...)`` with a model's name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        constants = set()
        if any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
            constants |= {side.value for side in sides if isinstance(side, ast.Constant)}
        if any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):  # a name among literal choices
            constants |= {item.value for side in node.comparators if isinstance(side, (ast.Tuple, ast.List, ast.Set))
                          for item in side.elts if isinstance(item, ast.Constant)}
        if constants & set(names):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_model_name_is_compared_outside_the_registry():
    package = Path(__file__).resolve().parent.parent / "src" / "pathdyn"
    found = {str(path.relative_to(package)): model_name_comparisons(path.read_text(), MODELS)
             for path in package.rglob("*.py") if str(path.relative_to(package)) != REGISTRY}
    assert not any(found.values()), {path: lines for path, lines in found.items() if lines}


def test_the_name_check_catches_a_comparison():
    source = 'if theory == "dmft":\n    pass\nok = kind in ("ode",)\nbad = name in ("qp", "x")\nfine = "race" in document\n'
    assert model_name_comparisons(source, MODELS) == ['1: theory == \'dmft\'', "4: name in ('qp', 'x')"]


@pytest.fixture
def toy_model():
    """The toy model of tests/models/toy.py, registered for one test and removed after it."""
    from pathdyn.validation.mapping import MAPPERS

    spec = importlib.util.spec_from_file_location("toy_model", Path(__file__).parent / "models" / "toy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the registry line: registers the model and its mapping
    yield module.TOY
    MODELS.pop("toy")
    MAPPERS.pop("toy")


def test_a_toy_model_in_one_file_reaches_derive_integrate_validate_and_the_exports(toy_model, tmp_path, capsys):
    from pathdyn.cli.main import main
    from pathdyn.validation.sweep import validate_width

    assert "toy" in _choices("derive", "--model") and "toy" in _choices("integrate", "--model")
    assert "toy" in _choices("validate", "--theory")
    for fmt in ("text", "latex", "json"):
        assert main(["derive", "--model", "toy", "--depths", "2,3", "--format", fmt, "-o", str(tmp_path / f"toy.{fmt}")]) == 0
    assert "dq_1/dt" in (tmp_path / "toy.text").read_text()
    assert main(["integrate", "--model", "toy", "--depths", "2,3", "--singular-values", "2,1", "--t-max", "2",
                 "-o", str(tmp_path / "toy-integrate.json")]) == 0
    assert main(["validate", "--theory", "toy", "--depths", "2", "--widths", "16,32,64", "--seeds", "0,1", "--t-max", "1",
                 "--learning-rate", "0.02", "--no-progress", "-o", str(tmp_path / "toy-validate.json")]) == 0
    report = validate_width((2,), (16, 32, 64), seeds=(0, 1), theory="toy", learning_rate=0.02, t_max=1.0,
                            measure_lr_floor=False)
    assert report.theory == "toy" and report.mapping == "exact"
    assert report.limit == "toy model from the exact mapping: the q/p flow under another name"
