"""One frozen case object for width sweeps: validated once, shared by the suites, the CLI and the sweeps."""

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from pathdyn.errors import ConfigError
from pathdyn.numerics.datasets import random_dataset
from pathdyn.validation.sweep.cases import (
    DEFAULT_SUITE,
    QUICK_PREFIX,
    QUICK_SUITE,
    ValidationCase,
    command_case,
)
from pathdyn.validation.sweep.suite import SuiteReport
from pathdyn.validation.sweep.width import validate_width

ROOT = Path(__file__).resolve().parent.parent / "src" / "pathdyn"


def test_a_case_reports_every_problem_at_once_in_one_line():
    with pytest.raises(ConfigError) as caught:
        ValidationCase(depths=(2,), widths=(0, 64), seeds=(), theory="race", learning_rate=-1, record_points=1,
                       targets={"max_slop": -0.3})
    message = str(caught.value)
    assert "\n" not in message
    for name in ("widths", "seeds", "theory", "learning_rate", "record_points", "targets"):
        assert f"{name}:" in message


@pytest.mark.parametrize("changes, match", [
    ({"seeds": (1,)}, "at least 2 seeds"),
    ({"init": "paper"}, "gaussian or orthogonal hidden layers"),
    ({"mapping": "exact"}, "no initial-state mapping"),
    ({"dataset": random_dataset((1.0, 1.0))}, "degenerate"),
])
def test_dmft_cases_are_checked_when_built(changes, match):
    with pytest.raises(ConfigError, match=match):
        ValidationCase(**{"depths": (3,), "widths": (8, 16), "seeds": (0, 1), "theory": "dmft", **changes})


def test_the_mapping_must_belong_to_the_theory():
    with pytest.raises(ConfigError, match="mapping: 'exact' is not a two-channel mapping"):
        ValidationCase(depths=(2,), widths=(64,), theory="two-channel", mapping="exact")
    assert ValidationCase(depths=(3, 3), widths=(64,)).method == "growth-matched"


def test_a_case_is_frozen_and_replace_validates_again():
    case = DEFAULT_SUITE[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        case.widths = (8,)
    assert case.replace(widths=(8, 16)).widths == (8, 16) and case.widths[0] == 64
    with pytest.raises(ConfigError, match="widths"):
        case.replace(widths=(8, -1))


def test_quick_suite_is_the_default_suite_smaller():
    assert len(QUICK_SUITE) == len(DEFAULT_SUITE)
    for quick, full in zip(QUICK_SUITE, DEFAULT_SUITE):
        assert quick.name == full.name + " (quick)"
        assert set(quick.widths) <= set(full.widths) and len(quick.widths) >= 3
        assert dataclasses.replace(quick, name=full.name, widths=full.widths, seeds=full.seeds) == full


def test_command_case_fills_in_the_command_defaults():
    case = command_case()
    assert (case.depths, case.widths, case.seeds, case.init_scale, case.theory) == ((2, 2), (64, 256, 1024), (0, 1), 0.3, "qp")
    assert command_case(theory="dmft").seeds == tuple(range(8))
    assert command_case(seeds=(3,), t_max=2.0).seeds == (3,)


def test_a_case_with_options_beside_it_is_refused():
    case = ValidationCase(depths=(2,), widths=(8, 16))
    with pytest.raises(ConfigError, match="learning_rate: a ValidationCase is given"):
        validate_width(case, learning_rate=0.1)
    with pytest.raises(ConfigError, match="learning_rat: not an option"):
        validate_width((2,), (8, 16), learning_rat=0.1)
    with pytest.raises(ConfigError, match="widths: no widths given"):
        validate_width((2,))


def _without_timing(document):
    if isinstance(document, dict):
        return {k: _without_timing(v) for k, v in document.items() if k != "wall_time_s"}
    if isinstance(document, list):
        return [_without_timing(v) for v in document]
    return document


def test_a_case_and_the_keyword_form_give_the_same_report():
    options = dict(init_scale=0.3, learning_rate=0.05, t_max=0.5, record_points=5, measure_lr_floor=False)
    by_keywords = validate_width((2,), (8, 16), (0, 1), **options)
    by_case = validate_width(ValidationCase(depths=(2,), widths=(8, 16), seeds=(0, 1), **options))
    assert _without_timing(by_case.to_json_dict()) == _without_timing(by_keywords.to_json_dict())
    # The comparison can fail: another seed gives another report.
    other = validate_width((2,), (8, 16), (0, 2), **options)
    assert _without_timing(other.to_json_dict()) != _without_timing(by_keywords.to_json_dict())


@dataclasses.dataclass(frozen=True)
class _Report:
    """The part of a WidthScalingReport a suite's document reads."""

    passed: bool | None
    verdict: str = "v"

    def to_json_dict(self):
        return {"widths": [8, 16], "errors": [[0.1], [0.05]], "slope": -1.0, "slope_ci": [-2.0, 0.0],
                "verdict": self.verdict, "passed": self.passed}


def test_suite_document_lists_every_case_and_counts_targets():
    cases = (DEFAULT_SUITE[0], DEFAULT_SUITE[3], DEFAULT_SUITE[1])
    suite = SuiteReport("default", cases, (_Report(True), _Report(None), _Report(False)))
    document = suite.to_json_dict()
    assert document["suite"] == "default" and document["verdict"] == "1 of 2 targets met"
    assert document["config"]["cases"] == [case.name for case in cases]
    assert [case["name"] for case in document["cases"]] == [case.name for case in cases]
    assert document["slope"] == [-1.0] * 3 and suite.passed is False
    single = SuiteReport(None, cases[:1], (_Report(True),))
    assert single.to_json_dict() == _Report(True).to_json_dict() and single.passed is True
    assert json.loads(json.dumps(document)) == document
    with pytest.raises(ConfigError, match="without a suite name"):
        SuiteReport(None, cases, (_Report(True),) * 3)


def test_quick_suite_verdicts_carry_the_prefix():
    from pathdyn.validation.sweep.suite import _marked

    marked = _marked(_Report(True, verdict="TARGET MET"), "quick")
    assert marked.verdict == QUICK_PREFIX + "TARGET MET"
    assert _marked(_Report(True, verdict="TARGET MET"), "default").verdict == "TARGET MET"


#: Modules of the width sweeps whose functions are kept to one job each.
SMALL_MODULES = ("validation/sweep/width.py", "validation/sweep/dmft.py", "validation/sweep/concentration.py", "validation/sweep/cases.py",
                 "validation/sweep/statistics.py", "validation/sweep/suite.py", "validation/sweep/tasks.py",
                 "validation/sweep/verdicts.py", "validation/sweep/report.py", "cli/validate.py", "cli/concentration.py")
MAX_CODE_LINES = 80


def code_lines(function: ast.FunctionDef) -> int:
    """Lines of a function's body, its docstring excluded."""
    body = function.body
    if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return function.end_lineno - body[0].lineno + 1


def long_functions(source: str) -> list:
    return [node.name for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef) and code_lines(node) > MAX_CODE_LINES]


def test_no_function_of_the_sweeps_is_longer_than_80_lines():
    found = {path: long_functions((ROOT / path).read_text()) for path in SMALL_MODULES}
    assert not any(found.values()), found
    # The check can fail: a function of 81 statements after its docstring is caught.
    long = "def f():\n    '''doc'''\n" + "    x = 1\n" * 81
    assert long_functions(long) == ["f"]


def test_a_dmft_case_of_orthogonal_networks_is_compared_with_the_orthogonal_dmft(monkeypatch):
    import pathdyn.validation.sweep.dmft as dmft

    seen = []
    solve = dmft.solve_dmft
    monkeypatch.setattr(dmft, "solve_dmft", lambda *a, **k: seen.append(k.get("init")) or solve(*a, **k))
    case = ValidationCase(depths=(3, 3), widths=(8, 16, 32), seeds=(0, 1), init="orthogonal", init_scale=0.7,
                          theory="dmft", learning_rate=0.05, t_max=1.0, compare_qp=False)
    report = dmft.validate_dmft_width(case)
    assert seen == ["orthogonal"] and "orthogonal hidden layers" in report.limit
