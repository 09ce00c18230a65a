"""Options that do nothing are refused, never ignored (``pathdyn.cli.options.APPLIES``).

The table must place every option of every subcommand (walked from the parser, so an
option added later fails ``test_every_option_is_in_the_table`` until it is placed), and
every option the table limits has a case below where it is idle. On the code before the
table each of these cases ran and exited 0 with the option silently ignored (checked:
``integrate --tol 1e-4``, ``integrate --model dmft --method RK45``, ``derive --model dmft
--prod --format latex``, ``dmft-finite-width --summarize r.json --t-max 4`` all exited 0).
"""

from __future__ import annotations

import argparse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathdyn.cli.main import build_parser, main
from pathdyn.cli.options import APPLIES, option_name

SIM = ["--learning-rate", "0.01", "--steps", "5", "--width", "4", "-o", "OLD.npz"]

#: One run per limited option where it does nothing: (argv, the option the one line must name).
IDLE = [
    (["derive", "--model", "dmft", "--n-in", "3"], "--n-in"),
    (["derive", "--model", "dmft", "--n-out", "3"], "--n-out"),
    (["derive", "--model", "dmft", "--whitened"], "--whitened"),
    (["derive", "--model", "dmft", "--general"], "--general"),
    (["derive", "--fragment"], "--fragment"),
    (["derive", "--format", "latex", "--model", "dmft", "--ungrouped"], "--ungrouped"),
    (["derive", "--format", "latex", "--model", "dmft", "--prod"], "--prod"),
    (["derive", "--format", "json", "--label-prefix", "x"], "--label-prefix"),
    (["derive", "--path-sums"], "--path-sums"),
    (["derive", "--per-edge", "--format", "latex"], "--per-edge"),
    (["derive", "--architecture", "g.toml", "--per-edge"], "--per-edge"),
    (["derive", "--architecture", "g.toml", "--format", "latex", "--path-sums", "--per-edge"], "--per-edge"),
    (["integrate", "--model", "dmft", "--n-in", "3"], "--n-in"),
    (["integrate", "--model", "dmft", "--n-out", "3"], "--n-out"),
    (["integrate", "--singular-values", "1", "--allow-misaligned"], "--allow-misaligned"),
    (["integrate", "--init", "init.json", "--init-scale", "0.2"], "--init-scale"),
    (["integrate", "--model", "dmft", "--c", "2"], "--c"),
    (["integrate", "--init", "init.json", "--seed", "0"], "--seed"),  # 0 is the default: given still counts
    (["integrate", "--model", "dmft", "--t-max", "1", "--method", "RK45"], "--method"),
    (["integrate", "--model", "dmft", "--t-max", "1", "--rtol", "1e-5"], "--rtol"),
    (["integrate", "--model", "dmft", "--t-max", "1", "--atol", "1e-5"], "--atol"),
    (["integrate", "--model", "dmft", "--t-max", "1", "--loss-tol", "1e-5"], "--loss-tol"),
    (["integrate", "--model", "dmft", "--learning-rate", "0.01", "--steps", "5", "--t-max", "3"], "--t-max"),
    (["integrate", "--model", "dmft", "--learning-rate", "0.01", "--steps", "5", "--num-points", "3"], "--num-points"),
    (["integrate", "--learning-rate", "0.01"], "--learning-rate"),
    (["integrate", "--steps", "5"], "--steps"),
    (["integrate", "--tol", "1e-4"], "--tol"),
    (["integrate", "--hold-below", "1e-6"], "--hold-below"),
    (["integrate", "--model", "dmft", "--t-max", "1", "--hold-below", "1e-6"], "--hold-below"),
    (["integrate", "--max-steps", "100"], "--max-steps"),
    (["integrate", "--model", "dmft", "--learning-rate", "0.01", "--steps", "5", "--max-steps", "100"], "--max-steps"),
    (["simulate", *SIM, "--activate-last"], "--activate-last"),
    (["simulate", *SIM, "--init-from", "w.npz", "--init", "gaussian"], "--init"),
    (["simulate", *SIM, "--init-from", "w.npz", "--init-scale", "0.3"], "--init-scale"),
    (["simulate", *SIM, "--init-from", "w.npz", "--seed", "1"], "--seed"),
    (["simulate", *SIM, "--data-seed", "1"], "--data-seed"),
    (["validate", "--allow-misaligned"], "--allow-misaligned"),
    *[(["dmft-finite-width", "--summarize", "r.json", flag, value], flag) for flag, value in (
        ("--depths", "2,2"), ("--widths", "8"), ("--seeds", "0"), ("--init-scale", "0.5"), ("--learning-rate", "0.02"),
        ("--t-max", "4"), ("--mode-alone", "1"), ("--output", "x.json"))],
]


def _subcommands():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, child in sub.choices.items():
        nested = [a for a in child._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            for figure, grandchild in nested[0].choices.items():
                yield f"{name} {figure}", grandchild
        else:
            yield name, child


def test_every_option_is_in_the_table():
    """Every option of every subcommand is placed (ALWAYS or its runs), and the table names no stale option."""
    for command, parser in _subcommands():
        options = {option_name(a) for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)}
        assert command in APPLIES, command
        assert options == set(APPLIES[command]), (command, options ^ set(APPLIES[command]))


def test_every_limited_option_has_an_idle_case():
    limited = {(command, flag) for command, table in APPLIES.items() for flag, runs in table.items() if runs}
    covered = {(" ".join(argv[:1]), flag) for argv, flag in IDLE}
    assert limited == covered, limited ^ covered


def _snapshot(root) -> dict:
    return {p.name: p.read_bytes() for p in root.iterdir()}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(IDLE), spelling=st.sampled_from(["separate", "equals"]))
def test_an_idle_option_is_refused_in_one_line(case, spelling, tmp_path, monkeypatch, capsys):
    """Exit 2, one line naming the option and 'drop', nothing written (the same for ``--opt=value``)."""
    argv, flag = case
    if spelling == "equals" and flag in argv and argv.index(flag) + 1 < len(argv) and not argv[argv.index(flag) + 1].startswith("-"):
        i = argv.index(flag)
        argv = [*argv[:i], f"{flag}={argv[i + 1]}", *argv[i + 2:]]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "OLD.npz").write_bytes(b"previous result")
    before = _snapshot(tmp_path)
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2, (argv, err)
    assert err.count("\n") == 1 and f"{flag}: does nothing" in err and f"drop {flag}" in err, (argv, err)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("argv", [
    ["integrate", "--model", "dmft", "--t-max", "0.5", "--num-points", "3", "--init-scale", "0.3"],
    ["integrate", "--init-scale", "0.2", "--c", "1", "--seed", "1", "--t-max", "0.5", "--num-points", "3"],
    ["integrate", "--model", "dmft", "--t-max", "0.5", "--num-points", "3", "--tol", "1e-2"],
    ["derive", "--format", "latex", "--prod", "--ungrouped", "--label-prefix", "x", "--fragment"],
    ["derive", "--model", "dmft", "--format", "latex", "--fragment"],
])
def test_options_that_apply_still_run(argv, tmp_path, monkeypatch, capsys):
    """The table refuses only idle options: the same options where they apply run (a too-wide rule fails here)."""
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "-o", "out.txt"]) == 0, capsys.readouterr().err
