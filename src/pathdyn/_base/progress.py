"""A minimal progress display on standard error (no dependency).

On a terminal it redraws one bar in place. Off a terminal (logs, notebooks, CI) it prints
one plain line every :data:`LINE_INTERVAL_S` seconds from a background thread, so a long run
is never silent even while one unit of work (a wide network) takes longer than the interval;
a run shorter than the interval prints nothing. ``enabled=False`` prints nothing at all, and
``enabled=True`` draws the bar even off a terminal. Only standard error is written, so
output files and standard output stay clean.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

#: Seconds between two progress lines off a terminal.
LINE_INTERVAL_S = 10.0


def progress_line(label: str, done: int, total: int, elapsed: float) -> str:
    """One line of progress: units done of the total, time elapsed and, once started, time left.

    Parameters
    ----------
    label : str
    done, total : int
        Units done and in all.
    elapsed : float
        Seconds since the start.

    Returns
    -------
    str
        E.g. ``"validate 2,2: 3/10 (30%), T s elapsed, about L s left"``.

    Notes
    -----
    The time left assumes the remaining units take as long as the finished ones on average:
    ``elapsed (total - done) / done``.
    """
    text = f"{label}: {done}/{total} ({100 * done / total:.0f}%), {elapsed:.0f} s elapsed"
    if 0 < done < total:
        text += f", about {elapsed * (total - done) / done:.0f} s left"
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
    """

    def __init__(self, total: int, label: str = "", enabled: bool | None = None, stream: TextIO | None = None,
                 interval: float = LINE_INTERVAL_S) -> None:
        self.total = max(int(total), 1)
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

    def update(self, amount: int = 1) -> None:
        """Count ``amount`` more units done and redraw the bar (at most every tenth of a second).

        Parameters
        ----------
        amount : int
            Units done since the last call.
        """
        self.done = min(self.done + amount, self.total)
        now = time.perf_counter()
        if self.enabled and (now - self._last > 0.1 or self.done == self.total):
            self._last = now
            fraction = self.done / self.total
            width = 30
            filled = int(width * fraction)
            elapsed = now - self._start
            eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
            self.stream.write(
                f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {100 * fraction:5.1f}% "
                f"{elapsed:6.1f}s elapsed, {eta:6.1f}s left"
            )
            self.stream.flush()

    def _print_lines(self) -> None:
        """The background thread off a terminal: one line every ``interval`` until the block ends."""
        while not self._stop.wait(self.interval):
            self.stream.write(progress_line(self.label, self.done, self.total, time.perf_counter() - self._start) + "\n")
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
