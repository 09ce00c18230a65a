"""Property-based tests: every bad command-line value gets one line, exit 2, and no file touched.

The options are read from the parser itself (every option of every subcommand, so an
option added later is covered too); hypothesis generates the bad values. Each run is
in-process (``main([...])``) inside ``tmp_path``, next to a pre-existing output file
whose bytes must not change and with no new file allowed.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathdyn.cli.main import build_parser, main

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: A graph architecture shipped with the repository (every command takes one with --architecture).
GRAPH = str(Path(__file__).resolve().parent.parent / "examples" / "two_stream.toml")

#: The least each command needs to get past argparse; every output goes to OLD.
BASE = {
    "derive": ["-o", "OLD.json"],
    "integrate": ["-o", "OLD.json"],
    "simulate": ["--learning-rate", "0.01", "--steps", "5", "--width", "4", "-o", "OLD.npz"],
    "validate": ["-o", "OLD.json"],
    "concentration": ["-o", "OLD.json"],
    "figures phase-plane": ["-o", "OLD.png"],
    # the former graph commands: one line naming the general command, whatever they are given
    "graph-validate": ["--architecture", GRAPH, "-o", "OLD.json"],
    "graph-concentration": ["--architecture", GRAPH, "-o", "OLD.json"],
    "graph-sweep": ["--architecture", GRAPH, "-o", "OLD.json"],
    "dmft-finite-width": ["--depths", "2,2", "--widths", "8", "--seeds", "0", "-o", "OLD.json"],
}


def _commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, child in sub.choices.items():
        nested = [a for a in child._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            for figure, grandchild in nested[0].choices.items():
                yield f"{name} {figure}", grandchild
        else:
            yield name, child


def _options(kind):
    """``(command, flag)`` for every option whose value has the given kind (str, int or float)."""
    found = []
    for command, parser in _commands():
        for action in parser._actions:
            if not action.option_strings or action.nargs == 0 or isinstance(action, argparse._HelpAction):
                continue
            if action.choices is not None:
                continue
            if (action.type or str) is kind:
                found.append((command, action.option_strings[-1]))
    return sorted(found)


STRING_OPTIONS = _options(str)
INT_OPTIONS = _options(int)
FLOAT_OPTIONS = _options(float)


def _parses_as(kind, text) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def _snapshot(root) -> dict:
    """Every file and directory under ``root``: relative path -> bytes (``None`` for a directory)."""
    return {str(p.relative_to(root)): _content(p) for p in sorted(root.rglob("*"))}


def _content(path):
    """A file's bytes; ``None`` for a directory; the kind and link target for anything else (never read a FIFO)."""
    import os
    import stat

    if path.is_symlink():
        return ("link", os.readlink(path))
    mode = path.lstat().st_mode
    if stat.S_ISDIR(mode):
        return None
    return path.read_bytes() if stat.S_ISREG(mode) else ("special", stat.S_IFMT(mode))


def _run(command: str, flag: str, value: str, tmp_path, monkeypatch, capsys) -> None:
    """Run one bad invocation and check the contract: exit 2, one stderr line, nothing written."""
    monkeypatch.chdir(tmp_path)
    for name in ("OLD.json", "OLD.npz", "OLD.png"):
        (tmp_path / name).write_bytes(b"previous result")
    before = _snapshot(tmp_path)
    base = BASE[command]
    argv = [*command.split(), *base, f"{flag}={value}"]
    try:
        status = main(argv)
    except SystemExit as stop:  # argparse's own errors
        status = stop.code
    captured = capsys.readouterr()
    err = captured.err
    assert status == 2, (argv, status, err)
    assert "Traceback" not in err, err
    assert err.endswith("\n") and err.count("\n") == 1, (argv, err)
    after = _snapshot(tmp_path)
    assert after == before, (argv, set(after) ^ set(before))


@pytest.mark.parametrize("command, flag", STRING_OPTIONS)
def test_empty_string_is_refused(command, flag, tmp_path, monkeypatch, capsys):
    _run(command, flag, "", tmp_path, monkeypatch, capsys)


@SETTINGS
@given(data=st.data())
def test_whitespace_only_string_is_refused(data, tmp_path, monkeypatch, capsys):
    command, flag = data.draw(st.sampled_from(STRING_OPTIONS))
    value = data.draw(st.text(alphabet=" \t\n\r\x0b", min_size=1, max_size=4))
    _run(command, flag, value, tmp_path, monkeypatch, capsys)


@SETTINGS
@given(data=st.data())
def test_negative_whole_numbers_are_refused(data, tmp_path, monkeypatch, capsys):
    command, flag = data.draw(st.sampled_from(INT_OPTIONS))
    value = data.draw(st.integers(max_value=-1, min_value=-(10**30)))
    _run(command, flag, str(value), tmp_path, monkeypatch, capsys)


@SETTINGS
@given(data=st.data())
def test_non_numbers_for_numeric_options_are_refused(data, tmp_path, monkeypatch, capsys):
    command, flag = data.draw(st.sampled_from(INT_OPTIONS + FLOAT_OPTIONS))
    kind = int if (command, flag) in INT_OPTIONS else float
    value = data.draw(st.text(min_size=0, max_size=12).filter(lambda s: "\x00" not in s and not _parses_as(kind, s)))
    _run(command, flag, value, tmp_path, monkeypatch, capsys)


@SETTINGS
@given(data=st.data())
def test_non_finite_floats_are_refused(data, tmp_path, monkeypatch, capsys):
    command, flag = data.draw(st.sampled_from(FLOAT_OPTIONS))
    value = data.draw(st.sampled_from(["nan", "inf", "-inf", "1e999", "-1e400", "NaN", "Infinity"]))
    assert not math.isfinite(float(value))
    _run(command, flag, value, tmp_path, monkeypatch, capsys)


OUTPUT_FLAGS = {
    "derive": ["--output"],
    "integrate": ["--output", "--plot"],
    "simulate": ["--output", "--save-weights", "--plot"],
    "validate": ["--output", "--plot"],
    "concentration": ["--output", "--plot"],
    "figures phase-plane": ["--output"],
    "dmft-finite-width": ["--output"],
}


@SETTINGS
@given(data=st.data())
def test_bad_output_locations_are_refused_before_work(data, tmp_path, monkeypatch, capsys):
    """Missing directories, directories as files and unwritable suffixes: refused before computing."""
    command = data.draw(st.sampled_from(sorted(OUTPUT_FLAGS)))
    flag = data.draw(st.sampled_from(OUTPUT_FLAGS[command]))
    (tmp_path / "adir").mkdir(exist_ok=True)
    suffix = {"--output": ".json", "--save-weights": ".npz", "--plot": ".png"}[flag]
    if command.startswith("figures"):
        suffix = ".png"
    if command == "simulate" and flag == "--output":
        suffix = ".npz"
    choices = [f"missing_dir/out{suffix}", "adir", f"adir/missing/x{suffix}"]
    if flag == "--plot" or command.startswith("figures"):
        choices += ["out.notaformat", "out.json.exe"]
    value = data.draw(st.sampled_from(choices))
    _run(command, flag, value, tmp_path, monkeypatch, capsys)


#: Outputs that are not new or plain writable files: (value, what must be prepared in tmp_path).
NOT_PLAIN_FILES = ["/dev/null", "/dev/stdout", "/proc/self/fd/1", "fifo", "ro", "OLD.json/", "newdir/", "adir", "link_ro",
                   "link_fifo"]


def _prepare_special(tmp_path) -> None:
    import os

    (tmp_path / "adir").mkdir(exist_ok=True)
    if not (tmp_path / "fifo").exists():
        os.mkfifo(tmp_path / "fifo")
    ro = tmp_path / "ro"
    if not ro.exists():
        ro.write_bytes(b"read-only result")
        ro.chmod(0o444)
    for name, target in (("link_ro", "ro"), ("link_fifo", "fifo")):
        if not (tmp_path / name).is_symlink():
            (tmp_path / name).symlink_to(target)


@SETTINGS
@given(data=st.data())
def test_outputs_that_are_not_plain_files_are_refused(data, tmp_path, monkeypatch, capsys):
    """Devices, FIFOs, read-only files (root included), directories and trailing slashes: one line, nothing changed.

    Before the output plan read the file's kind and mode bits, each of these was replaced by a
    rename: as root ``-o /dev/null`` made /dev/null a plain file, ``-o OLD.json/`` overwrote
    ``OLD.json``, ``-o newdir/`` wrote a file ``newdir``, and ``os.access`` let root replace a
    read-only file; the snapshot comparison in ``_run`` fails on each (checked on the code
    before this test, with /dev/null left out of that run).
    """
    import stat

    command = data.draw(st.sampled_from(sorted(OUTPUT_FLAGS)))
    flag = data.draw(st.sampled_from(OUTPUT_FLAGS[command]))
    value = data.draw(st.sampled_from(NOT_PLAIN_FILES))
    _prepare_special(tmp_path)
    _run(command, flag, value, tmp_path, monkeypatch, capsys)
    assert stat.S_ISCHR(Path("/dev/null").stat().st_mode)


def test_a_symbolic_link_is_written_through(tmp_path, monkeypatch, capsys):
    """``-o link`` replaces the file the link names and keeps the link (before: the link became a file)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "eqs.json").write_text("old")
    (tmp_path / "eqs.json").symlink_to("results/eqs.json")
    assert main(["derive", "--depths", "2,2", "--format", "json", "-o", "eqs.json"]) == 0
    capsys.readouterr()
    assert (tmp_path / "eqs.json").is_symlink()
    assert (tmp_path / "results" / "eqs.json").read_text().startswith("{")
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["eqs.json"]


INPUT_FLAGS = {
    "derive": ["--architecture"],
    "integrate": ["--architecture", "--init", "--dataset"],
    "simulate": ["--architecture", "--init-from", "--dataset"],
    "validate": ["--architecture", "--dataset"],
    "concentration": ["--architecture"],
}


def test_every_command_is_covered():
    """A new subcommand must be added to BASE (and so to every generated test) or fail here."""
    assert sorted(name for name, _ in _commands()) == sorted(BASE)


@SETTINGS
@given(data=st.data())
def test_output_naming_an_input_is_refused(data, tmp_path, monkeypatch, capsys):
    """``-o`` (or ``--plot``, ``--save-weights``) equal to an input never replaces the input."""
    command = data.draw(st.sampled_from(sorted(INPUT_FLAGS)))
    in_flag = data.draw(st.sampled_from(INPUT_FLAGS[command]))
    out_flag = data.draw(st.sampled_from([f for f in OUTPUT_FLAGS[command] if f != "--plot"]))
    monkeypatch.chdir(tmp_path)
    for leftover in tmp_path.iterdir():  # tmp_path is shared by hypothesis' examples
        leftover.unlink()
    old = tmp_path / ("OLD.npz" if command == "simulate" else "OLD.json")
    old.write_bytes(b"previous result")
    spelled = data.draw(st.sampled_from([old.name, f"./{old.name}", str(old), f"../{tmp_path.name}/{old.name}"]))
    base = [a for i, a in enumerate(BASE[command]) if a not in ("-o",) and (i == 0 or BASE[command][i - 1] != "-o")]
    argv = [*command.split(), *base, f"{in_flag}={spelled}", f"{out_flag}={old.name}"]
    if out_flag != "--output":
        argv += ["-o", "other" + old.suffix]
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "name the same file" in err, (argv, err)
    assert in_flag in err and (out_flag in err or "-o/--output" in err)
    assert old.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == [old.name]


@pytest.mark.parametrize("extra, message", [
    (["-o", "missing_dir/out.nc"], "does not exist"),
    (["-o", "adir"], "is a directory"),
    (["-o", "out.nc", "--plot", "./out.nc"], "-o/--output and --plot name the same file"),
    (["-o", "init.json", "--init", "init.json"], "-o/--output and --init name the same file"),
])
def test_netcdf_and_json_outputs_are_planned(extra, message, tmp_path, monkeypatch, capsys):
    """``-o FILE.nc`` (netCDF) is checked like a JSON output, before any work."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    (tmp_path / "init.json").write_text('{"q0": [[1.0], [1.0]], "p0": [[0.1], [0.1]]}')
    before = _snapshot(tmp_path)
    status = main(["integrate", "--singular-values", "1", *extra])
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1, err
    assert _snapshot(tmp_path) == before


def test_hard_link_collision_is_refused(tmp_path, monkeypatch, capsys):
    """Two names of one file (a hard link) are the same file."""
    import os

    monkeypatch.chdir(tmp_path)
    (tmp_path / "init.json").write_text('{"q0": [[1.0], [1.0]], "p0": [[0.1], [0.1]]}')
    os.link(tmp_path / "init.json", tmp_path / "alias.json")
    status = main(["integrate", "--singular-values", "1", "--init", "init.json", "-o", "alias.json"])
    err = capsys.readouterr().err
    assert status == 2 and "-o/--output and --init name the same file" in err


def test_outputs_naming_each_other_are_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status = main(["simulate", "--learning-rate", "0.01", "--steps", "5", "-o", "run.npz", "--save-weights", "./run.npz"])
    err = capsys.readouterr().err
    assert status == 2 and "-o/--output and --save-weights name the same file" in err
    assert list(tmp_path.iterdir()) == []


def test_conflicting_init_options_are_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for extra in (["--init", "gaussian"], ["--init-scale", "0.3"]):
        status = main(["simulate", "--learning-rate", "0.01", "--steps", "5", "-o", "run.npz", "--init-from", "w.npz", *extra])
        err = capsys.readouterr().err
        assert status == 2 and extra[0] in err and "--init-from" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["derive", "--depths", ",".join(["1000"] * 8), "--format", "latex"], "reasonable time"),
    (["derive", "--depths", ",".join(["1"] * 101)], "reasonable time"),
    (["validate", "--t-max", "1e12"], "--max-steps"),
    (["concentration", "--learning-rate", "1e-12"], "--max-steps"),
    (["validate", "--architecture", GRAPH, "--init", "aligned", "--t-max", "1e12"], "--max-steps"),
    (["validate", "--architecture", GRAPH, "--t-max", "1e12"], "--max-steps"),
    (["concentration", "--architecture", GRAPH, "--learning-rate", "1e-12"], "--max-steps"),
    (["graph-sweep", "--architecture", GRAPH, "--t-max", "1e12"], "validate --architecture"),
    (["validate", "--workers", "0"], "workers"),
    (["integrate", "--singular-values", "1e150"], "stall"),
    (["integrate", "--singular-values", "1,2,3", "--n-in", "2"], "--n-in"),
    (["integrate", "--rtol", "1"], "rtol"),
    (["integrate", "--num-points", "100000000000"], "GiB"),
    (["figures", "phase-plane", "--num-trajectories", "10000000000"], "GiB"),
    (["simulate", "--learning-rate", "0.1", "--steps", "100000000000000", "--width", "4", "-o", "r.npz"], "GiB"),
])
def test_unbounded_work_is_refused_up_front(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


_SUBPROCESS_CASES = [
    pytest.param(["derive", "--depths", ""], "--depths", marks=pytest.mark.slow),
    (["integrate", "--singular-values", "1", "--init", "OLD.json", "-o", "./OLD.json"], "name the same file"),
    pytest.param(["integrate", "--seed", "-1", "-o", "OLD.json"], "--seed", marks=pytest.mark.slow),
    pytest.param(["figures", "phase-plane", "-o", "OLD.json"], "matplotlib cannot write", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("argv, message", _SUBPROCESS_CASES)
def test_the_installed_command_gives_one_line(argv, message, tmp_path):
    """The same contract through a real process (interpreter start-up, stderr encoding, exit status)."""
    import subprocess
    import sys

    (tmp_path / "OLD.json").write_bytes(b"previous result")
    done = subprocess.run([sys.executable, "-m", "pathdyn.cli.main", *argv], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["OLD.json"]
    assert (tmp_path / "OLD.json").read_bytes() == b"previous result"
