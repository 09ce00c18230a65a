"""Files written whole or not at all, and the one conversion of results to plain JSON.

Every file the package writes goes through a temporary sibling of its target that is
renamed into place only once it is complete (:func:`atomic_write`; the command line's
:class:`pathdyn.cli.outputs.FilePlan` uses the same two steps, :func:`temporary_sibling` and
:func:`move_into_place`, to write several outputs together). A failure or an interrupt
leaves a pre-existing file intact and no temporary file behind.

Every JSON document is built from plain Python values by :func:`to_jsonable`: numpy
arrays and scalars become lists and Python numbers, tuples become lists, dictionary keys
become strings. :func:`save_json` writes such a document atomically.
"""

from __future__ import annotations

from typing import Any, Callable, SupportsFloat
import json
import math
import os
import stat
import sys
import tempfile
from pathlib import Path

from pathdyn.errors import ConfigError

__all__ = ["atomic_write", "finite_or_none", "json_text", "move_into_place", "save_json", "save_npz", "temporary_sibling",
           "to_jsonable", "unwritable_reason", "write_target"]

#: What :func:`to_jsonable` does with a float that is NaN or infinite.
NON_FINITE_CHOICES = ("keep", "null")

# Values the json module writes as they are (bool is an int).
_JSON_SCALARS = (str, int, float, type(None))
# Exact types that need no conversion (a subclass such as numpy.float64 goes the long way).
_PLAIN = frozenset((str, int, float, bool, type(None)))
_PLAIN_EXCEPT_FLOAT = _PLAIN - {float}


def write_target(path: str | Path) -> Path:
    """The file that writing ``path`` changes: ``path`` itself, or the file a symbolic link names.

    Parameters
    ----------
    path : str or Path
        The output as the user named it.

    Returns
    -------
    Path
        ``path`` with its symbolic links resolved when ``path`` is one (the link is kept and the
        file it points to is replaced); otherwise ``path`` unchanged.

    Notes
    -----
    Writing goes *through* a symbolic link, as a shell's ``>`` does: renaming a temporary
    file onto the link itself would turn the link into a plain file and leave the old results
    in its target, where whoever made the link keeps looking for them.
    """
    path = Path(path)
    return Path(os.path.realpath(path)) if os.path.islink(path) else path


def unwritable_reason(path: str | Path) -> str | None:
    """Why ``path`` must not be replaced by a new file (``None``: it may be).

    Parameters
    ----------
    path : str or Path
        The output as the user named it (a symbolic link is judged by the file it names).

    Returns
    -------
    str or None
        ``"is a directory"``, ``"is a character device, not a regular file"`` (likewise block
        devices, FIFOs, sockets and anything under ``/dev`` or ``/proc``, such as
        ``/dev/stdout``), ``"exists and is read-only"``, or ``None`` for a regular writable
        file or a name that does not exist yet.

    Notes
    -----
    The read-only test reads the mode bits as well as :func:`os.access`, because ``os.access``
    is always true for root, which is how these tools often run (containers, clusters); a file
    someone made read-only is refused whoever runs the command.
    """
    if any(os.path.abspath(name).startswith(_SYSTEM_TREES) for name in (path, os.path.realpath(path))):
        # /dev/stdout -> /proc/self/fd/1 resolves to whatever file standard output is, which a
        # rename would replace whole; such names are written through their descriptor, never renamed onto
        return "is a device or process file (under /dev or /proc), not a regular file"
    try:
        info = os.stat(path)
    except OSError:
        return None
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        return "is a directory"
    if not stat.S_ISREG(mode):
        return f"is a {_FILE_KINDS.get(stat.S_IFMT(mode), 'special file')}, not a regular file"
    if not mode & 0o222 or not os.access(path, os.W_OK):
        return "exists and is read-only"
    return None


_SYSTEM_TREES = ("/dev/", "/proc/")
_FILE_KINDS = {stat.S_IFCHR: "character device", stat.S_IFBLK: "block device", stat.S_IFIFO: "FIFO (named pipe)",
               stat.S_IFSOCK: "socket"}


def _checked_target(path: str | Path) -> Path:
    reason = unwritable_reason(path)
    if reason is not None:
        raise ConfigError(f"{str(path)!r} {reason}; give the name of a regular, writable file")
    return write_target(path)


def temporary_sibling(path: str | Path) -> Path:
    """Create an empty temporary file next to ``path``, to be renamed onto it later.

    Parameters
    ----------
    path : str or Path
        The final file; its directory must exist. A symbolic link is followed (see
        :func:`write_target`): the temporary file lies next to the file it names.

    Returns
    -------
    Path
        ``.<name>.<random><suffix>`` in the directory of ``path`` (same file system, so the
        rename is atomic; the same suffix, so writers that go by it choose the right format).

    Raises
    ------
    ConfigError
        If ``path`` is a directory, a device, a FIFO, a socket or a read-only file
        (:func:`unwritable_reason`).
    OSError
        If the directory does not exist or is not writable.
    """
    path = _checked_target(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    return Path(tmp)


def move_into_place(tmp: str | Path, path: str | Path) -> None:
    """Rename the finished temporary file ``tmp`` onto ``path`` in one step.

    Parameters
    ----------
    tmp : str or Path
        A complete file from :func:`temporary_sibling`.
    path : str or Path
        The target; an existing file is replaced and its permission bits are kept. A
        symbolic link is kept and the file it names is replaced (:func:`write_target`).

    Raises
    ------
    ConfigError
        If ``path`` has become something that must not be replaced (:func:`unwritable_reason`).
    OSError
        If the rename fails (``tmp`` is then left for the caller to delete).

    Notes
    -----
    ``mkstemp`` creates files readable by the owner only; a new file gets the mode a plain
    ``open()`` would give it (``0o666`` less the umask) instead.
    """
    path = _checked_target(path)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~umask)
    os.replace(tmp, path)


def atomic_write(path: str | Path, write: Callable[..., Any]) -> None:
    """Write a file through a temporary sibling and rename, so nothing is left half-written.

    Parameters
    ----------
    path : str or Path
        The file to write (not ``"-"``); missing parent directories are created.
    write : callable
        ``write(tmp_path)`` creates the file's content at ``tmp_path`` (a :class:`~pathlib.Path`).

    Raises
    ------
    OSError
        If writing or renaming fails; a pre-existing ``path`` is then unchanged.
    BaseException
        Whatever ``write`` raises (including ``KeyboardInterrupt``), after the temporary
        file has been deleted.
    """
    if "\0" in os.fspath(path):
        raise ConfigError(f"path: {os.fspath(path)!r} contains a NUL character; give a plain file name")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        write(tmp)
        move_into_place(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def to_jsonable(value: Any, *, non_finite: str = "keep", fallback: Callable[..., Any] | None=None) -> Any:
    """``value`` as plain JSON values: dicts with string keys, lists, str, int, float, bool, None.

    Parameters
    ----------
    value : object
        Nested dicts, lists and tuples of numbers, strings, numpy arrays and numpy scalars.
    non_finite : {"keep", "null"}
        ``"keep"`` (default) leaves NaN and infinities as floats (``json`` writes them as
        ``NaN``/``Infinity``, which Python and JavaScript read but strict JSON does not);
        ``"null"`` turns them into ``None``.
    fallback : callable or None
        Applied to any other object (e.g. ``str`` for paths and dtypes). ``None`` (default)
        leaves it as it is, so that ``json.dumps`` refuses it.

    Returns
    -------
    object
        A new structure; ``value`` is not changed.

    Raises
    ------
    ConfigError
        If ``non_finite`` is not one of ``"keep"``, ``"null"``.

    Notes
    -----
    Dictionary keys become ``str(key)``; numpy scalars become the Python number ``item()``
    gives, so ``json.dumps`` of the result writes the same digits as for the numpy value.
    """
    if non_finite not in NON_FINITE_CHOICES:
        raise ConfigError(f"non_finite: {non_finite!r} is not one of {', '.join(NON_FINITE_CHOICES)}; give 'keep' or 'null'")
    # numpy values exist only once numpy is imported; the command line starts without it
    return _clean(value, non_finite == "null", fallback, sys.modules.get("numpy"))


def _clean(value: Any, null_non_finite: bool, fallback: Callable[..., Any] | None, np: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v, null_non_finite, fallback, np) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        # long lists of plain numbers (trajectories) are copied without a call per element
        if null_non_finite:
            return [v if type(v) in _PLAIN_EXCEPT_FLOAT or (type(v) is float and math.isfinite(v))
                    else _clean(v, null_non_finite, fallback, np) for v in value]
        return [v if type(v) in _PLAIN else _clean(v, null_non_finite, fallback, np) for v in value]
    if np is not None and isinstance(value, np.ndarray):
        if value.dtype.kind in "biu" or (value.dtype.kind == "f" and not null_non_finite):
            return value.tolist()  # already plain numbers: no walk over every element
        return _clean(value.tolist(), null_non_finite, fallback, np)
    if np is not None and isinstance(value, np.generic):
        return _clean(value.item(), null_non_finite, fallback, np)
    if isinstance(value, float):
        return None if null_non_finite and not math.isfinite(value) else value
    if isinstance(value, _JSON_SCALARS) or fallback is None:
        return value
    return fallback(value)


def finite_or_none(value: SupportsFloat | None) -> float | None:
    """A number as a JSON value: a finite ``float``, or ``None`` (JSON ``null``) for NaN, infinity or ``None``.

    Parameters
    ----------
    value : float, numpy scalar or None

    Returns
    -------
    float or None
    """
    return None if value is None or not math.isfinite(float(value)) else float(value)


def json_text(obj: Any, indent: int | None = None, *, non_finite: str = "keep", fallback: Callable[..., Any] | None = None) -> str:
    """The JSON text of :func:`to_jsonable` of ``obj`` (no trailing newline).

    Parameters
    ----------
    obj : object
        See :func:`to_jsonable`.
    indent : int or None
        As for ``json.dumps`` (``None``: one line).
    non_finite, fallback
        As for :func:`to_jsonable`.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If ``obj`` holds an object JSON cannot represent and no ``fallback`` is given.
    """
    return json.dumps(to_jsonable(obj, non_finite=non_finite, fallback=fallback), indent=indent)


def save_json(path: str | Path, obj: Any, indent: int | None = None) -> None:
    """Write :func:`json_text` of ``obj`` to ``path`` atomically (UTF-8).

    Parameters
    ----------
    path : str or Path
        The file; a pre-existing one is replaced only once the new text is complete.
    obj : object
        See :func:`to_jsonable`.
    indent : int or None
        As for ``json.dumps``.

    Raises
    ------
    TypeError
        If ``obj`` holds an object JSON cannot represent; nothing is written.
    OSError
        If the file cannot be written; a pre-existing file is unchanged.
    """
    text = json_text(obj, indent=indent)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def save_npz(path: str | Path, arrays: dict) -> None:
    """Write ``arrays`` to ``path`` as an uncompressed ``.npz`` file, atomically.

    Parameters
    ----------
    path : str or Path
        The file (its name is kept as given: no ``.npz`` is appended); a pre-existing one
        is replaced only once the new file is complete.
    arrays : dict
        Array name -> array_like, as for ``numpy.savez``.

    Raises
    ------
    OSError
        If the file cannot be written; a pre-existing file is unchanged.
    """
    import numpy as np

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:  # a handle, so numpy does not append ".npz" to the name
            np.savez(handle, **arrays)

    atomic_write(path, write)
