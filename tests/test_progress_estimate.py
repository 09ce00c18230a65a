"""A long run says roughly how long it takes, early, from its own measured pace (issue 18, point 4).

:class:`pathdyn._base.progress.Progress` prints one line with the projected total once the
first :data:`MEASURE_S` seconds are timed, and only for a run projected to last :data:`LONG_RUN_S` or more. The clock is replaced here, so
the tests neither wait nor depend on the machine's speed; the command-line tests lower the
two thresholds to zero so that a tiny run counts as long.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pathdyn._base import progress as progress_module
from pathdyn._base.progress import Progress, duration_text, estimate_line
from pathdyn.cli.main import main
from pathdyn.validation.sweep.tasks import network_cost

GRAPH = str(Path(__file__).resolve().parent.parent / "examples" / "two_stream.toml")


class Clock:
    """A stand-in for ``time.perf_counter`` that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(progress_module.time, "perf_counter", fake)
    return fake


def _run_bar(clock, seconds_per_unit, total=100, weights=None, enabled=None, estimate=True) -> str:
    stream = io.StringIO()
    with Progress(total, "simulate", enabled=enabled, stream=stream, interval=1e9, weights=weights,
                  estimate=estimate) as bar:
        for seconds in seconds_per_unit:
            clock.now += seconds
            bar.update()
    return stream.getvalue()


def test_a_long_run_prints_its_projected_total_once_and_early(clock):
    # 100 units of 0.5 s: after 4 units (2 s timed) the projection is 50 s, above LONG_RUN_S
    printed = _run_bar(clock, [0.5] * 100)
    lines = [line for line in printed.splitlines() if "roughly" in line]
    assert lines == ["simulate: roughly 50 s in all on this machine (judged from the first 4% of the work, 2 s)"]


def test_a_short_run_prints_no_projection(clock):
    assert _run_bar(clock, [0.1] * 100) == ""  # 10 s in all, below LONG_RUN_S


def test_no_projection_when_disabled_or_already_announced(clock):
    assert _run_bar(clock, [0.5] * 100, enabled=False) == ""
    assert _run_bar(clock, [0.5] * 100, estimate=False) == ""


def test_weights_project_from_the_share_of_the_work_not_the_count(clock):
    """Four cheap networks then four that cost 15 times more (widths 256 and 1024): the first two
    cheap ones done are 2/64 of the work, so 2 s project to 64 s; counting units would say 8 s
    and print nothing."""
    weights = [1.0] * 4 + [15.0] * 4
    printed = _run_bar(clock, [1.0] * 4 + [15.0] * 4, total=8, weights=weights)
    assert "simulate: roughly 64 s in all" in printed
    assert _run_bar(clock, [1.0] * 4 + [15.0] * 4, total=8) == ""  # the unweighted bar is fooled


def test_the_progress_line_uses_the_weighted_share(clock):
    stream = io.StringIO()
    bar = Progress(2, "validate", stream=stream, weights=[1.0, 3.0])
    bar.update()
    assert bar.fraction() == 0.25
    with pytest.raises(ValueError, match="one per unit"):
        Progress(3, "validate", stream=stream, weights=[1.0, 3.0])


def test_durations_read_as_a_person_says_them():
    assert [duration_text(s) for s in (5.14, 40, 180, 5400, 7200)] == ["5.1 s", "40 s", "3.0 min", "90.0 min", "2.0 h"]
    assert estimate_line("x", 0.1, 3.0) == "x: roughly 30 s in all on this machine (judged from the first 10% of the work, 3 s)"


def test_a_network_cost_counts_weight_entries_of_every_pathway():
    # depths (1, 3) at width 100 on 8 -> 8 data: 8*8 + (100*100 + 100*16), times 10 steps
    assert network_cost((1, 3), 100, 8, 8, 10) == 10 * (64 + 100 * 100 + 100 * 16)
    assert network_cost((1,), 1000, 8, 8, 1) > 0  # a direct pathway has no hidden layer, never a negative one


@pytest.fixture
def every_run_is_long(monkeypatch):
    monkeypatch.setattr(progress_module, "MEASURE_S", 0.0)
    monkeypatch.setattr(progress_module, "LONG_RUN_S", 0.0)


LONG_COMMANDS = {
    "simulate": ["simulate", "--learning-rate", "0.01", "--steps", "20", "--width", "8", "-o", "{d}/run.npz"],
    "simulate a graph": ["simulate", "--architecture", GRAPH, "--width", "4", "--learning-rate", "0.01", "--steps", "20",
                         "-o", "{d}/r.npz"],
    "validate one case": ["validate", "--depths", "2", "--widths", "8,12", "--seeds", "0,1", "--t-max", "0.2",
                          "--learning-rate", "0.02", "-o", "{d}/v.json"],
    "validate a graph": ["validate", "--architecture", GRAPH, "--widths", "4,6", "--seeds", "0,1", "--t-max", "0.5",
                         "-o", "{d}/gs.json"],
    "concentration": ["concentration", "--depths", "2,3", "--activation", "linear", "--seeds", "2", "--width", "4",
                      "--t-max", "1", "-o", "{d}/c.json"],
    "concentration of a graph": ["concentration", "--architecture", GRAPH, "--seeds", "2", "--width", "4", "--t-max", "0.5",
                                 "-o", "{d}/gc.json"],
    "validate the DMFT": ["validate", "--theory", "dmft", "--depths", "2,2", "--widths", "8,12", "--seeds", "0,1",
                          "--t-max", "0.2", "-o", "{d}/d.json"],
    "validate the DMFT of a graph": ["validate", "--theory", "dmft", "--architecture", GRAPH, "--widths", "8,16",
                                     "--seeds", "0,1", "--t-max", "0.2", "-o", "{d}/dg.json"],
    "dmft-finite-width": ["dmft-finite-width", "--depths", "2,2", "--widths", "8", "--seeds", "0,1", "--t-max", "0.2",
                          "-o", "{d}/fw.json"],
}


@pytest.mark.parametrize("name", sorted(LONG_COMMANDS))
def test_each_long_command_says_how_long_it_takes(name, every_run_is_long, tmp_path, capsys):
    argv = [a.replace("{d}", str(tmp_path)) for a in LONG_COMMANDS[name]]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert sum("roughly" in line and "in all on this machine" in line for line in err.splitlines()) >= 1, err


def test_no_progress_means_no_projection_either(every_run_is_long, tmp_path, capsys):
    argv = [a.replace("{d}", str(tmp_path)) for a in LONG_COMMANDS["simulate"]] + ["--no-progress"]
    assert main(argv) == 0
    assert "roughly" not in capsys.readouterr().err
