"""No silent success, no silent long run: every command ends with one line saying what it wrote,
and progress off a terminal is a plain line at a steady interval.

Each command runs in-process at the smallest settings; its last line of output names every file
it wrote (and nothing else), or says it wrote none and how to keep the results. A command added
later without a case here fails :func:`test_every_command_is_walked`.
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest

from pathdyn._base.progress import Progress, progress_line
from pathdyn.cli.main import build_parser, main

GRAPH = str(Path(__file__).resolve().parent.parent / "examples" / "two_stream.toml")

#: command -> (its arguments with {d} for the output directory, the files it writes there)
RUNS = {
    "derive": (["--depths", "2,2", "--format", "latex", "-o", "{d}/eq.tex"], ["eq.tex"]),
    "integrate": (["--depths", "2,2", "--singular-values", "2,1", "--t-max", "1", "-o", "{d}/k.json", "--plot", "{d}/k.png"],
                  ["k.json", "k.png"]),
    "simulate": (["--learning-rate", "0.01", "--steps", "5", "--width", "4", "--no-progress", "-o", "{d}/run.npz"],
                 ["run.npz"]),
    "validate": (["--depths", "2", "--widths", "8,12,16", "--seeds", "0,1", "--t-max", "0.2", "--learning-rate", "0.02",
                  "--no-progress", "-o", "{d}/v.json"], ["v.json"]),
    "concentration": (["--depths", "2", "--activation", "linear", "--seeds", "2", "--width", "4", "--t-max", "1",
                       "--no-progress", "-o", "{d}/c.json"], ["c.json"]),
    "figures": (["phase-plane", "--depths", "2", "--scales", "0.3", "--num-trajectories", "2", "--t-max", "1",
                 "-o", "{d}/pp.png"], ["pp.png"]),
    "dmft-finite-width": (["--depths", "2,2", "--widths", "8", "--seeds", "0,1", "--t-max", "0.2", "-o", "{d}/fw.json"],
                          ["fw.json"]),
}

#: The former graph commands: each answers with one line naming the general command (tests/test_cli_graph_fold.py).
FORMER = {"graph-validate", "graph-concentration", "graph-sweep"}
#: The general commands given a [graph]: (command, arguments, files), as in RUNS (the former graph commands' runs).
GRAPH_RUNS = [
    ("validate", ["--architecture", GRAPH, "--init", "aligned", "--widths", "4", "--t-max", "0.5", "-o", "{d}/g.json",
                  "--plot", "{d}/g.png"], ["g.json", "g.png"]),
    ("concentration", ["--architecture", GRAPH, "--seeds", "1", "--width", "4", "--t-max", "0.5", "-o", "{d}/gc.json"],
     ["gc.json"]),
    ("validate", ["--architecture", GRAPH, "--widths", "4,6", "--seeds", "0,1", "--t-max", "0.5", "--no-progress",
                  "-o", "{d}/gs.json", "--plot", "{d}/gs.png"], ["gs.json", "gs.png"]),
    ("simulate", ["--architecture", GRAPH, "--width", "4", "--learning-rate", "0.01", "--steps", "5", "-o", "{d}/r.npz"],
     ["r.npz"]),
    ("integrate", ["--architecture", GRAPH, "--singular-values", "2,1", "--t-max", "1", "-o", "{d}/k.json"], ["k.json"]),
]

SUMMARY = re.compile(r"^pathdyn (?P<command>[\w-]+): wrote (?P<what>.+) \((?P<took>[\d.]+ (s|min))\)$")


def test_every_command_is_walked():
    parser = build_parser()
    commands = set(next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices)
    assert commands == set(RUNS) | FORMER


@pytest.mark.parametrize("command", sorted(RUNS))
def test_each_command_ends_with_one_line_naming_what_it_wrote(command, tmp_path, capsys):
    argv, files = RUNS[command]
    _ends_with_one_summary_line(command, argv, files, tmp_path, capsys)


@pytest.mark.parametrize("command, argv, files", GRAPH_RUNS)
def test_graph_runs_end_with_one_line_naming_what_they_wrote(command, argv, files, tmp_path, capsys):
    _ends_with_one_summary_line(command, argv, files, tmp_path, capsys)


def _ends_with_one_summary_line(command, argv, files, tmp_path, capsys):
    assert main([command, *[a.replace("{d}", str(tmp_path)) for a in argv]]) == 0
    out = capsys.readouterr().out
    last = out.rstrip("\n").split("\n")[-1]
    match = SUMMARY.match(last)
    assert match, f"the last line of {command} is {last!r}"
    assert match["command"] == command
    written = [str(tmp_path / name) for name in files]
    assert match["what"] == (written[0] if len(written) == 1 else ", ".join(written[:-1]) + " and " + written[-1])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)
    assert sum(1 for line in out.split("\n") if SUMMARY.match(line)) == 1


def test_results_on_standard_output_keep_it_clean(capsys):
    """With the results on standard output, the summary goes to standard error (a pipe gets the data alone)."""
    assert main(["derive", "--depths", "2,2", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert captured.out.lstrip().startswith("{") and "pathdyn derive:" not in captured.out
    assert SUMMARY.match(captured.err.strip()) and "the results to standard output" in captured.err


def test_no_file_says_how_to_keep_the_results(capsys):
    argv, _ = RUNS["validate"]
    assert main(["validate", *argv[:-2]]) == 0
    last = capsys.readouterr().out.strip().split("\n")[-1]
    assert last.startswith("pathdyn validate: wrote no file; give -o/--output or --plot to keep the results (")


def _wait_for(condition, timeout: float = 20.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    end = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > end:
            return False
        time.sleep(0.01)
    return True


def test_off_a_terminal_progress_is_a_line_at_a_steady_interval():
    """A unit of work longer than the interval still gets lines (a thread prints them, not ``update``).

    Two lines with nothing done show the thread, not ``update``, prints them; a run shorter than
    the interval prints nothing; ``enabled=False`` prints nothing at all.
    """
    stream = io.StringIO()  # not a terminal
    with Progress(4, "validate 2,2", stream=stream, interval=0.05) as bar:
        assert _wait_for(lambda: stream.getvalue().count("validate 2,2: 0/4 (0%)") >= 2)  # one slow unit, no update
        bar.update(1)
        assert _wait_for(lambda: "validate 2,2: 1/4 (25%)" in stream.getvalue())
    lines = stream.getvalue().splitlines()
    assert all(line.startswith("validate 2,2: ") for line in lines) and "\r" not in stream.getvalue()
    for enabled, interval in ((False, 0.05), (None, 10.0)):
        quiet = io.StringIO()
        with Progress(4, "x", enabled=enabled, stream=quiet, interval=interval) as bar:
            time.sleep(0.12)
            bar.update(4)
        assert quiet.getvalue() == ""


def test_progress_line_estimates_the_time_left():
    assert progress_line("simulate", 3, 10, 12.0) == "simulate: 3/10 (30%), 12 s elapsed, about 28 s left"
    assert progress_line("simulate", 0, 10, 5.0) == "simulate: 0/10 (0%), 5 s elapsed"
