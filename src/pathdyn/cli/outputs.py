"""Input and output files of one command: checked before any work, written together at the end.

Every subcommand of the command-line tool declares its file arguments in one
:class:`FilePlan`:

1. :meth:`FilePlan.add_input` / :meth:`FilePlan.add_output` name each file with the flag
   that gave it;
2. :meth:`FilePlan.check` runs before any computing: it refuses an output that is the same
   file as an input or another output (same real path, or ``os.path.samefile``), an output
   directory that is missing or not writable, an output that is a directory, and a plot
   suffix matplotlib cannot write;
3. :meth:`FilePlan.stage` writes each output to a temporary sibling of its target (so a
   failure names the user's path, never the temporary file), and :meth:`FilePlan.commit`
   renames them all into place only once every one has been written. Leaving the
   ``with`` block by an exception (``KeyboardInterrupt``, or the SIGTERM or SIGHUP that
   :func:`terminate_as_interrupt` turns into one) deletes the temporary files, so a
   pre-existing output stays intact.

What an output may be: a new name in an existing writable directory, or an existing
regular file that is writable by its mode bits (checked for root too, for whom
``os.access`` is always true). A symbolic link is written *through*: the link stays and
the file it names is replaced, as a shell's ``>`` would. A directory, a device
(``/dev/null``), a FIFO, a socket and a name ending in ``/`` are refused: standard output
is ``-`` where a flag accepts it.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pathdyn._base.progress import duration_text
from pathdyn.errors import ConfigError
from pathdyn.io.jsonio import move_into_place, temporary_sibling, unwritable_reason, write_target
from pathdyn.numerics.plotting import supported_plot_suffixes

__all__ = ["CLEANUP_SIGNALS", "FilePlan", "Terminated", "print_summary", "summary_line", "terminate_as_interrupt"]

STDOUT = "-"


#: Signals that end a run the way Ctrl-C does (SIGHUP: the terminal or ssh session closed).
CLEANUP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM or SIGHUP, so that cleanup runs as for Ctrl-C.

    Parameters
    ----------
    signum : int
        The signal received; the command exits with ``128 + signum`` as a shell reports it.
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = int(signum)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` (outside the main thread: no change).

    Yields
    ------
    None
        Control to the ``with`` block; the previous handlers are restored on leaving it.
    """
    def handler(signum, frame):
        raise Terminated(signum)

    previous = {}
    try:
        for signum in CLEANUP_SIGNALS:
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


class FilePlan:
    """The file arguments of one command run (see the module docstring).

    Parameters
    ----------
    command : str
        Named in nothing but the temporary files' prefix.
    """

    def __init__(self, command: str = "pathdyn") -> None:
        self.command = command
        self._inputs: dict = {}
        self._outputs: dict = {}
        self._kinds: dict = {}
        self._staged: dict = {}
        self._stdout: list = []
        self._not_given: list = []
        self.written: list = []
        self.started = time.perf_counter()
        self._stdout_ok: dict = {}

    # ------------------------------------------------------------ declaring
    def add_input(self, flag: str, value: object) -> None:
        """Declare an input file given by ``flag`` (``None``: not given).

        Parameters
        ----------
        flag : str
            The command-line flag that gave the file, named in every message about it.
        value : str, os.PathLike or None
            The path; ``None`` declares nothing.

        Raises
        ------
        ConfigError
            If ``value`` is an empty name or contains a NUL character.
        """
        if value is None:
            return
        self._inputs[flag] = Path(_nonempty(flag, value))

    def add_output(self, flag: str, value: object, kind: str = "data", stdout_ok: bool = False) -> None:
        """Declare an output file; ``kind="plot"`` checks the suffix; ``"-"`` is standard output if ``stdout_ok``.

        Parameters
        ----------
        flag : str
            The command-line flag that gave the file, named in every message about it.
        value : str, os.PathLike or None
            The path, or ``"-"`` for standard output; ``None`` declares nothing.
        kind : {"data", "plot"}
            ``"plot"``: :meth:`check` also refuses a suffix matplotlib cannot write.
        stdout_ok : bool
            Whether ``"-"`` (standard output) is accepted for this flag.

        Raises
        ------
        ConfigError
            If ``value`` is an empty name or contains a NUL character, or is ``"-"`` while
            ``stdout_ok`` is false.
        """
        if value is None:
            self._not_given.append(flag)
            return
        value = _nonempty(flag, value)
        if value == STDOUT:
            if not stdout_ok:
                raise ConfigError(f"{flag}: '-' (standard output) is not possible here; give a file name")
            self._outputs[flag] = STDOUT
            return
        if value.endswith(("/", os.sep)):
            # Path() drops the slash: 'out.tex/' would replace the file out.tex, 'new/' write a file 'new'
            raise ConfigError(f"{flag}: {value!r} ends with '/', so it names a directory; give a file name{_or_stdout(stdout_ok)}")
        self._outputs[flag] = Path(value)
        self._kinds[flag] = kind
        self._stdout_ok[flag] = stdout_ok

    def output(self, flag: str) -> Path | str | None:
        """The declared output path of ``flag`` (``None`` if not given, ``"-"`` for standard output).

        Parameters
        ----------
        flag : str
            The flag given to :meth:`add_output`.

        Returns
        -------
        pathlib.Path, str or None
            The path; ``"-"`` for standard output; ``None`` if ``flag`` declared no output.
        """
        return self._outputs.get(flag)

    # ------------------------------------------------------------- checking
    def check(self) -> None:
        """Refuse collisions, missing or unwritable directories and unwritable plot suffixes (one line).

        Raises
        ------
        ConfigError
            If an output is the same file as an input or another output, is a directory, a
            device, a FIFO or a socket, is read-only (by its mode bits, for root too), lies in a
            missing or unwritable directory, or (``kind="plot"``) has a suffix matplotlib cannot
            write. The first problem found is named.
        """
        for flag, path in self._outputs.items():
            if path == STDOUT and sys.stdout is None:  # started with standard output closed (>&-)
                raise ConfigError(f"{flag}: standard output is closed, so '-' (or no {flag}) would lose the result; "
                                  f"give {flag} FILE")
        files = [(flag, path) for flag, path in self._outputs.items() if path != STDOUT]
        for i, (flag, path) in enumerate(files):
            for other_flag, other in [*files[i + 1:], *self._inputs.items()]:
                if _same_file(path, other):
                    alias = "" if str(path) == str(other) else f" (as {str(other)!r})"
                    raise ConfigError(
                        f"{flag} and {other_flag} name the same file {str(path)!r}{alias}; choose a different {flag}"
                    )
        for flag, path in files:
            _check_writable(flag, path, self._stdout_ok[flag])
            if self._kinds[flag] == "plot":
                _check_plot_suffix(flag, path)

    # -------------------------------------------------------------- writing
    def stage(self, flag: str, write: Callable[[Path], object]) -> None:
        """Write the output of ``flag`` with ``write(tmp_path)`` into a temporary sibling (no-op if not given).

        Parameters
        ----------
        flag : str
            The flag given to :meth:`add_output`.
        write : callable
            ``write(tmp_path)`` writes the whole output to the :class:`pathlib.Path` it is given;
            :meth:`commit` later moves that file onto the declared path.

        Raises
        ------
        ConfigError
            If ``flag`` was declared as standard output (``"-"``): only :meth:`stage_text`
            can write there.
        OSError
            If ``write`` fails with one; the message names ``flag`` and the declared path,
            not the temporary file.
        """
        path = self._outputs.get(flag)
        if path is None:
            return
        if path == STDOUT:
            raise ConfigError(f"{flag}: internal: binary output to standard output")
        tmp = temporary_sibling(path)
        self._staged[flag] = tmp
        try:
            write(tmp)
        except OSError as error:
            raise OSError(error.errno or errno.EIO, f"{flag}: could not write ({error.strerror or error})", str(path)) from None

    def stage_text(self, flag: str, text: str) -> None:
        """Stage text for ``flag`` (a file, or standard output for ``"-"``).

        Parameters
        ----------
        flag : str
            The flag given to :meth:`add_output` (no-op if it declared no output).
        text : str
            The whole content, written as UTF-8; for standard output a final newline is added
            if missing, and the text is printed by :meth:`commit`.

        Raises
        ------
        OSError
            If the temporary file cannot be written (see :meth:`stage`).
        """
        if self._outputs.get(flag) == STDOUT:
            self._stdout.append(text if text.endswith("\n") else text + "\n")
            return
        self.stage(flag, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def commit(self) -> None:
        """Move every staged file into place (keeping an existing file's mode), then print standard output.

        Raises
        ------
        OSError
            If a staged file cannot be moved onto its declared path; the message names the flag.
        """
        for flag, tmp in list(self._staged.items()):
            path = self._outputs[flag]
            try:
                move_into_place(tmp, path)
            except OSError as error:
                raise OSError(error.errno or errno.EIO, f"{flag}: could not write ({error.strerror or error})", str(path)) from None
            del self._staged[flag]
            self.written.append(str(path))
        for text in self._stdout:
            sys.stdout.write(text)
        if self._stdout:
            self.written.append(STDOUT)
        self._stdout.clear()

    def summary(self, also_written: Sequence[str] = ()) -> str:
        """The run's last line: :func:`summary_line` of what :meth:`commit` wrote (and ``also_written``).

        Parameters
        ----------
        also_written : sequence of str
            Files the command wrote itself, outside the plan.

        Returns
        -------
        str
        """
        return summary_line(self.command, [*self.written, *also_written], time.perf_counter() - self.started,
                            self._not_given)

    def discard(self) -> None:
        """Delete every staged temporary file."""
        for tmp in self._staged.values():
            try:
                tmp.unlink()
            except OSError:
                pass
        self._staged.clear()
        self._stdout.clear()

    def __enter__(self) -> "FilePlan":
        return self

    def __exit__(self, *exc) -> None:
        self.discard()


def summary_line(command: str, written: Sequence[str], seconds: float, not_given: Sequence[str] = ()) -> str:
    """``"pathdyn COMMAND: wrote A and B (T s)"``: the one line every command ends with.

    Parameters
    ----------
    command : str
        The subcommand (a leading ``"pathdyn "`` is dropped).
    written : sequence of str
        The paths written, ``"-"`` for standard output.
    seconds : float
        How long the command ran.
    not_given : sequence of str
        Output flags not given; named as the way to keep the results when nothing was written.

    Returns
    -------
    str
    """
    command = command.removeprefix("pathdyn ")
    took = duration_text(seconds)
    names = [("the results to standard output" if path == STDOUT else path) for path in dict.fromkeys(written)]
    if names:
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"pathdyn {command}: wrote {listed} ({took})"
    hint = f"; give {' or '.join(not_given)} to keep the results" if not_given else ""
    return f"pathdyn {command}: wrote no file{hint} ({took})"


def print_summary(plan: FilePlan, also_written: Sequence[str] = ()) -> None:
    """Print :meth:`FilePlan.summary`: to standard output, or to standard error when the results went there.

    Parameters
    ----------
    plan : FilePlan
        The command's plan, after :meth:`FilePlan.commit`.
    also_written : sequence of str
        Files the command wrote itself, outside the plan.
    """
    stream = sys.stderr if STDOUT in plan.written else sys.stdout
    print(plan.summary(also_written), file=stream, flush=True)


def _nonempty(flag: str, value) -> str:
    text = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{flag}: empty file name; give a path or drop {flag}")
    if "\0" in text:
        raise ConfigError(f"{flag}: {text!r} contains a NUL character; give a plain path")
    return text


def _same_file(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _or_stdout(stdout_ok: bool) -> str:
    return ", or '-' for standard output" if stdout_ok else ""


def _check_writable(flag: str, path: Path, stdout_ok: bool) -> None:
    reason = unwritable_reason(path)
    target = write_target(path)  # a symbolic link is written through: its directory is the one written
    if reason == "exists and is read-only":
        raise ConfigError(f"{flag}: {str(path)!r} exists and is read-only; choose another name or make it writable")
    if reason is not None:
        raise ConfigError(f"{flag}: {str(path)!r} {reason}; give a file name{_or_stdout(stdout_ok)}")
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise ConfigError(f"{flag}: the directory {str(directory)!r} of {str(path)!r} does not exist; create it first")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag}: the directory {str(directory)!r} is not writable; choose another location")


def _check_plot_suffix(flag: str, path: Path) -> None:
    suffix = path.suffix.lstrip(".").lower()
    supported = supported_plot_suffixes()
    if suffix and suffix not in supported:
        raise ConfigError(
            f"{flag}: matplotlib cannot write {path.suffix!r} files ({str(path)!r}); use one of {', '.join('.' + s for s in supported)}"
        )
