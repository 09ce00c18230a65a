"""The settings objects of the run kinds: every input checked once, at the boundary.

``integrate`` (reduced models and ``--model dmft``) and ``derive`` build one settings
object from the parsed command line (or keywords); its constructor refuses bad input in
one line naming the option, and the run functions take the object and check nothing again.
The data set is resolved by one function with each command's default, and its rank is
computed once per data set.
"""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest

from pathdyn.cli import derive as derive_cli
from pathdyn.cli import integrate as integrate_cli
from pathdyn.cli.derive import DeriveSettings, derive_text
from pathdyn.cli.dmft_graph import integrate_graph_dmft
from pathdyn.cli.integrate import IntegrateSettings, integrate_reduced
from pathdyn.cli.integrate_dmft import run_dmft
from pathdyn.cli.main import main
from pathdyn.errors import ConfigError
from pathdyn.numerics import datasets
from pathdyn.numerics.datasets import Dataset, as_dataset, dataset_option, hierarchical_dataset, random_dataset


@pytest.mark.parametrize("options, flag", [
    ({"model": "dmft", "singular_values": "2,1", "learning_rate": 0.01}, "--learning-rate/--steps"),
    ({"model": "dmft", "singular_values": "2,1", "steps": 100}, "--learning-rate/--steps"),
    ({"model": "dmft", "singular_values": "2,1"}, "--t-max"),
    ({"model": "dmft", "singular_values": "2,1", "t_max": -1.0}, "--t-max"),
    ({"model": "dmft", "singular_values": "2,1", "t_max": 5.0, "tol": 0.0}, "--tol"),
    ({"model": "dmft", "singular_values": "2,1", "t_max": 5.0, "init": "uniform"}, "--init"),
    ({"singular_values": "2,1", "t_max": -1.0}, "--t-max"),
    ({"singular_values": "2,-1", "t_max": 5.0}, "--singular-values"),
    ({"singular_values": "2,1", "input_variances": "1", "t_max": 5.0}, "--input-variances"),
    ({"singular_values": "2,1", "whitened": False}, "--general"),
    ({"singular_values": "3,2,1", "n_in": 2}, "--n-in"),
])
def test_integrate_settings_refuse_bad_input_in_one_line_naming_the_option(options, flag):
    with pytest.raises(ConfigError) as caught:
        IntegrateSettings(**options)
    message = str(caught.value)
    assert message.startswith(f"{flag}:") and "\n" not in message


def test_integrate_settings_compute_modes_rank_and_defaults_once():
    given = IntegrateSettings(singular_values="3,1.5,0.7", t_max=4.0)
    assert given.rank == 3 and given.S.tolist() == [3.0, 1.5, 0.7] and given.lam is None
    assert given.sigma == 0.1 and not given.dmft and given.architecture.depths == (2, 2)
    data = IntegrateSettings(model="dmft", dataset="hierarchical", learning_rate=0.01, steps=50)
    hierarchical = hierarchical_dataset(whitened=True)
    assert data.rank == hierarchical.rank and data.sigma == 0.3 and data.dmft
    assert data.data_note["dataset"] == hierarchical.name


def test_derive_settings_refuse_bad_input_naming_the_option():
    with pytest.raises(ConfigError, match=r"^--path-sums: applies to a \[graph\]"):
        DeriveSettings(depths="2,3", path_sums=True)
    with pytest.raises(ConfigError, match=r"^--format: unknown format 'word'"):
        DeriveSettings(depths="2,3", format="word")
    with pytest.raises(ConfigError, match=r"^model: unknown reduced model"):
        DeriveSettings(depths="2,3", model="nope")
    latex = DeriveSettings(depths="2,3", format="latex", prod=True, label_prefix="deep")
    assert latex.writer_options == {"grouped": True, "prod": True, "label_prefix": "deep"}
    assert DeriveSettings(depths="2,3").writer_options == {}


@pytest.mark.parametrize("argv, message", [
    (["integrate", "--model", "dmft", "--depths", "2,3", "--singular-values", "2,1", "--learning-rate", "0.01"],
     "pathdyn integrate: error: --learning-rate/--steps: give both (gradient descent) or neither (gradient flow with "
     "--t-max)"),
    (["integrate", "--depths", "2,3", "--singular-values", "2,1", "--t-max", "-1"],
     "pathdyn integrate: error: --t-max: must be a positive time, got -1.0"),
    (["derive", "--depths", "2,0"],
     "pathdyn derive: error: invalid architecture: depths[2]: 0 is not a valid depth; use an integer >= 1"),
])
def test_the_cli_still_exits_2_with_the_same_message(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == message


def _count_constructions(monkeypatch, cls) -> list:
    """Wrap ``cls.__post_init__`` (the checks) so that each construction is counted."""
    calls = []
    checks = cls.__post_init__

    def counted(self):
        calls.append(self)
        checks(self)

    monkeypatch.setattr(cls, "__post_init__", counted)
    return calls


@pytest.mark.parametrize("argv", [
    ["integrate", "--depths", "2,3", "--singular-values", "2,1", "--t-max", "2", "--num-points", "3", "-o", "out.json"],
    ["integrate", "--model", "dmft", "--depths", "2,3", "--singular-values", "2,1", "--learning-rate", "0.05",
     "--steps", "20", "-o", "out.json"],
])
def test_integrate_checks_its_inputs_in_one_place_once_per_run(argv, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    calls = _count_constructions(monkeypatch, IntegrateSettings)
    assert main(argv) == 0
    assert len(calls) == 1


def test_derive_checks_its_inputs_in_one_place_once_per_run(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    calls = _count_constructions(monkeypatch, DeriveSettings)
    assert main(["derive", "--depths", "2,2"]) == 0
    assert len(calls) == 1


def test_the_run_functions_take_the_settings_not_the_arguments():
    for function in (integrate_reduced, run_dmft, integrate_graph_dmft):
        first = next(iter(inspect.signature(function).parameters.values()))
        assert first.name == "settings" and "IntegrateSettings" in str(first.annotation)
    first = next(iter(inspect.signature(derive_text).parameters.values()))
    assert first.name == "settings" and "DeriveSettings" in str(first.annotation)
    # no run function of either command reads the parsed arguments except the boundary, run(args)
    for module in (integrate_cli, derive_cli):
        source = inspect.getsource(module)
        body = source[source.index("def run(args"):]
        assert body.count("Settings.from_args(args)") == 1


def test_the_api_and_the_cli_get_the_same_run_from_the_same_settings(tmp_path):
    settings = IntegrateSettings(depths="2,3", singular_values="2,1", t_max=2.0, num_points=3,
                                 output=str(tmp_path / "api.json"))
    plan = integrate_cli.file_plan("integrate", {}, {"-o/--output": (settings.output, "json", True)})
    assert integrate_reduced(settings, plan) == 0
    assert main(["integrate", "--depths", "2,3", "--singular-values", "2,1", "--t-max", "2", "--num-points", "3",
                 "-o", str(tmp_path / "cli.json")]) == 0
    api, cli = (json.loads((tmp_path / name).read_text()) for name in ("api.json", "cli.json"))
    assert api.keys() == cli.keys()
    for key in ("t", "K", "loss", "provenance", "singular_values", "depths"):  # all but the timings
        assert api[key] == cli[key]


def test_one_dataset_resolver_keeps_each_commands_default(monkeypatch):
    seen = []
    monkeypatch.setattr(datasets, "dataset_from_spec", lambda spec, **kw: seen.append(spec) or spec)
    assert dataset_option(None, "hierarchical") == "hierarchical"  # integrate's default
    assert dataset_option("random", None, default_names=("random",)) is None  # validate's: the run's own data
    assert dataset_option("random", "random:2,1", default_names=("random",)) == "random:2,1"  # graph runs
    assert dataset_option("random:3,1", "hierarchical") == "random:3,1"
    assert seen == ["hierarchical", "random:2,1", "random:3,1"]


def test_as_dataset_passes_a_dataset_through_and_resolves_a_name():
    data = random_dataset([2.0, 1.0], seed=0)
    assert as_dataset(data) is data
    assert isinstance(as_dataset("hierarchical"), Dataset)
    with pytest.raises(Exception, match="expected a Dataset or a name/path"):
        as_dataset(3)  # type: ignore[arg-type]


def test_the_rank_is_computed_once_per_dataset(monkeypatch):
    data = random_dataset([2.0, 1.0, 1e-14], seed=0)
    calls = []
    rank_rule = datasets.mode_rank
    monkeypatch.setattr(datasets, "mode_rank", lambda S: calls.append(1) or rank_rule(S))
    assert data.rank == 2 and data.rank == 2
    assert len(calls) == 1
    assert np.array_equal(data.singular_values[:data.rank], data.singular_values[:2])
