"""A minimal progress display on standard error (no dependency).

On a terminal it redraws one bar in place. Off a terminal (logs, notebooks, CI) it prints
one plain line every :data:`LINE_INTERVAL_S` seconds from a background thread, so a long run
is never silent even while one unit of work (a wide network) takes longer than the interval;
a run shorter than the interval prints nothing. ``enabled=False`` prints nothing at all, and
``enabled=True`` draws the bar even off a terminal. Only standard error is written, so
output files and standard output stay clean.

A long run also says, once and early, roughly how long it takes in all: at the first unit
done after :data:`MEASURE_S` seconds, a run projected to last
:data:`LONG_RUN_S` or more prints one line with the projection. The projection is measured on
this machine under its present load, never a stored figure.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

#: Seconds between two progress lines off a terminal.
LINE_INTERVAL_S = 10.0
#: Seconds of work timed before the projected total is trusted enough to print.
MEASURE_S = 2.0
#: A run projected to take this many seconds or more says so once, early.
LONG_RUN_S = 20.0


def duration_text(seconds: float) -> str:
    """Seconds as a reader says them: tenths below ten seconds, whole seconds below two
    minutes, then minutes and hours to one decimal.

    Parameters
    ----------
    seconds : float

    Returns
    -------
    str
    """
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 120 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def estimate_line(label: str, fraction: float, elapsed: float) -> str:
    """The early line of a long run: its projected total time, and what it was judged from.

    Parameters
    ----------
    label : str
    fraction : float
        Share of the work done, in (0, 1].
    elapsed : float
        Seconds the done share took.

    Returns
    -------
    str
        E.g. ``"simulate: roughly TOTAL in all on this machine (judged from the first P% of the work, T s)"``.

    Notes
    -----
    The total is ``elapsed / fraction``: the rest of the work is assumed to run at the pace
    of its start. With per-unit weights the fraction is the done units' share of the weight.
    """
    return (f"{label}: roughly {duration_text(elapsed / fraction)} in all on this machine "
            f"(judged from the first {100 * fraction:.0f}% of the work, {elapsed:.0f} s)")


def progress_line(label: str, done: int, total: int, elapsed: float, fraction: float | None = None) -> str:
    """One line of progress: units done of the total, time elapsed and, once started, time left.

    Parameters
    ----------
    label : str
    done, total : int
        Units done and in all.
    elapsed : float
        Seconds since the start.
    fraction : float, optional
        Share of the work done (default ``done / total``; less when the done units are the
        cheap ones).

    Returns
    -------
    str
        E.g. ``"validate 2,2: 3/10 (30%), T s elapsed, about L s left"``.

    Notes
    -----
    The time left assumes the rest of the work runs at the pace of the done share ``f``:
    ``elapsed (1 - f) / f``.
    """
    fraction = done / total if fraction is None else fraction
    text = f"{label}: {done}/{total} ({100 * fraction:.0f}%), {elapsed:.0f} s elapsed"
    if 0 < fraction < 1:
        text += f", about {elapsed * (1 - fraction) / fraction:.0f} s left"
    return text


class Progress:
    """``with Progress(total, "training") as bar: bar.update(n)``.

    Parameters
    ----------
    total : int
        Units of work.
    label : str
        Named at the start of every bar or line.
    enabled : bool, optional
        None: a bar on a terminal, a line every ``interval`` seconds elsewhere; True: a bar
        wherever; False: nothing.
    stream : file, optional
        Standard error by default.
    interval : float
        Seconds between lines off a terminal.
    weights : sequence of float, optional
        Cost of each unit, in the order the units finish (the work of a network, say); the
        time left and the projected total use the done units' share of the weight instead of
        their count. Units finishing out of order (on a cluster) make the projection rougher.
    estimate : bool
        Print the projected total of a long run once, early (default); off where the caller
        has already said how long the run takes.
    """

    def __init__(self, total: int, label: str = "", enabled: bool | None = None, stream: TextIO | None = None,
                 interval: float = LINE_INTERVAL_S, weights: Sequence[float] | None = None,
                 estimate: bool = True) -> None:
        self.total = max(int(total), 1)
        self._cumulative: list[float] | None = None
        if weights is not None:
            if len(weights) != int(total):
                raise ValueError(f"weights: {len(weights)} for {int(total)} units; give one per unit")
            cumulative = [0.0]
            for weight in weights:
                cumulative.append(cumulative[-1] + max(float(weight), 0.0))
            if cumulative[-1] > 0:
                self._cumulative = [c / cumulative[-1] for c in cumulative]
        self._estimated = not estimate
        self.label = label
        self.stream = stream or sys.stderr
        terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = terminal if enabled is None else enabled
        self.lines = enabled is None and not terminal
        self.interval = float(interval)
        self.done = 0
        self._start = time.perf_counter()
        self._last = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def fraction(self) -> float:
        """Share of the work done: of the units, or of their weight when weights were given.

        Returns
        -------
        float
            In [0, 1].
        """
        if self._cumulative is not None:
            return self._cumulative[self.done]
        return self.done / self.total

    def update(self, amount: int = 1) -> None:
        """Count ``amount`` more units done and redraw the bar (at most every tenth of a second).

        Parameters
        ----------
        amount : int
            Units done since the last call.
        """
        self.done = min(self.done + amount, self.total)
        now = time.perf_counter()
        self._maybe_estimate(now - self._start)
        if self.enabled and (now - self._last > 0.1 or self.done == self.total):
            self._last = now
            fraction = self.fraction()
            width = 30
            filled = int(width * fraction)
            elapsed = now - self._start
            eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
            self.stream.write(
                f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {100 * fraction:5.1f}% "
                f"{elapsed:6.1f}s elapsed, {eta:6.1f}s left"
            )
            self.stream.flush()

    def _maybe_estimate(self, elapsed: float) -> None:
        """Print the projected total once, when enough is timed and the run is long (see the module)."""
        if self._estimated or not (self.enabled or self.lines):
            return
        fraction = self.fraction()
        if fraction <= 0 or fraction >= 1 or elapsed < MEASURE_S:
            return
        self._estimated = True
        if elapsed / fraction >= LONG_RUN_S:
            start = "\r" if self.enabled else ""  # a drawn bar is overwritten, then drawn again below
            self.stream.write(start + estimate_line(self.label, fraction, elapsed) + "\n")
            self.stream.flush()

    def _print_lines(self) -> None:
        """The background thread off a terminal: one line every ``interval`` until the block ends."""
        while not self._stop.wait(self.interval):
            self.stream.write(progress_line(self.label, self.done, self.total, time.perf_counter() - self._start,
                                            self.fraction()) + "\n")
            self.stream.flush()

    def __enter__(self) -> "Progress":
        self._stop.clear()  # a bar entered again prints lines again
        if self.lines:
            self._thread = threading.Thread(target=self._print_lines, name=f"progress {self.label}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
