"""A minimal progress bar on standard error (no dependency).

It draws only when standard error is a terminal, unless ``force=True``; in logs and
CI it prints nothing, so output files and captured output stay clean.
"""

from __future__ import annotations

import sys
import time


class Progress:
    """``with Progress(total, "training") as bar: bar.update(n)``."""

    def __init__(self, total: int, label: str = "", enabled: bool | None = None, stream=None):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.done = 0
        self._start = time.perf_counter()
        self._last = 0.0

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

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
