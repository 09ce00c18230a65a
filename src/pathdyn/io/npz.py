"""Reading ``.npz`` archives with their sizes checked from the headers, before any array is loaded.

``numpy.load`` decompresses an array when it is first indexed: a 0.78 MB archive of zeros
expands to 0.9 GB before any check of its shape or type could run. :func:`read_npz` reads
each member's ``.npy`` header (shape, dtype, order: a few hundred bytes) first, lets the
caller check them (:func:`npz_headers`), refuses what will not fit in memory, and only then
loads. A file that is not an archive (a truncated one, or a ``.npy`` named ``.npz``) is one
error naming the file, never ``BadZipFile`` or a ``TypeError`` from numpy.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import IO, Callable

import numpy as np

from pathdyn._base.checks import available_memory_bytes
from pathdyn.errors import ConfigError

__all__ = ["NpzHeader", "npz_headers", "read_npz"]

#: At most this fraction of the available memory is taken by one archive's arrays (the
#: consumer makes at least one copy of them: a transpose, a product, a stack).
MEMORY_FRACTION = 0.5


class NpzHeader:
    """The shape and dtype of one array of an archive, as its ``.npy`` header states them.

    Parameters
    ----------
    shape : tuple of int
    dtype : numpy.dtype
    """

    def __init__(self, shape: tuple, dtype: np.dtype) -> None:
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)

    @property
    def nbytes(self) -> int:
        """Bytes of the array once loaded."""
        return math.prod(self.shape) * self.dtype.itemsize

    def __repr__(self) -> str:
        return f"NpzHeader(shape={self.shape}, dtype={self.dtype})"


def npz_headers(path: str | Path, what: str, error: type[Exception] = ConfigError) -> dict:
    """The header of every array of the archive ``path``, read without loading any array.

    Parameters
    ----------
    path : str or Path
        An ``.npz`` file.
    what : str
        What the file is, named in every message (``"dataset file 'x.npz'"``).
    error : type
        The exception raised (a :class:`~pathdyn.errors.PathdynError` subclass).

    Returns
    -------
    dict
        Array name (without ``.npy``) -> :class:`NpzHeader`.

    Raises
    ------
    error
        If the file is not a zip archive (truncated, or a ``.npy`` file), a member is not a
        ``.npy`` array, a header is malformed, an array holds Python objects, or a header's
        size disagrees with the member's stored size (a forged header).
    """
    headers = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with archive.open(info) as member:
                    headers[name] = _read_header(member, info, f"{what}: array {name!r}", error)
    except zipfile.BadZipFile:
        raise error(f"{what} is not an .npz archive (truncated, or a .npy file named .npz); save it with numpy.savez") from None
    except (OSError, EOFError, ValueError, NotImplementedError) as failure:
        if isinstance(failure, error):
            raise
        raise error(f"{what} could not be read as .npz ({type(failure).__name__}: {failure}); save it with numpy.savez") from None
    return headers


def _read_header(member: IO[bytes], info: zipfile.ZipInfo, what: str, error: type[Exception]) -> NpzHeader:
    try:
        version = np.lib.format.read_magic(member)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = reader(member)
    except (ValueError, EOFError, TypeError, SyntaxError) as failure:
        raise error(f"{what} is not a .npy array ({failure}); save the file with numpy.savez") from None
    if dtype.hasobject:
        raise error(f"{what} holds Python objects ({dtype}); save numeric arrays")
    header = NpzHeader(shape, dtype)
    stored = info.file_size - member.tell() if hasattr(member, "tell") else None
    if stored is not None and stored != header.nbytes:
        raise error(f"{what}: its header promises {header.nbytes:,} bytes ({shape}, {dtype}) but {stored:,} are stored; "
                    "the file is damaged or forged, save it again with numpy.savez")
    return header


def read_npz(path: str | Path, what: str, check: Callable[[dict], None] | None = None,
             error: type[Exception] = ConfigError) -> dict:
    """Every array of the archive ``path``, loaded only after its headers passed the checks.

    Parameters
    ----------
    path : str or Path
        An ``.npz`` file.
    what : str
        What the file is, named in every message.
    check : callable, optional
        ``check(headers)`` with the :class:`NpzHeader` of every array; raises to refuse the
        file before anything is decompressed.
    error : type
        The exception raised for a file that cannot be read or does not fit.

    Returns
    -------
    dict
        Array name -> ndarray.

    Raises
    ------
    error
        As :func:`npz_headers`, or if the arrays need more than :data:`MEMORY_FRACTION` of
        the available memory.
    """
    headers = npz_headers(path, what, error)
    if check is not None:
        check(headers)
    total = sum(h.nbytes for h in headers.values())
    available = available_memory_bytes()
    if available is not None and total > MEMORY_FRACTION * available:
        raise error(f"{what} expands to {total / 2**30:.3g} GiB of arrays, more than half of the "
                    f"{available / 2**30:.3g} GiB of memory available; use a smaller file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as failure:
        raise error(f"{what} could not be read as .npz ({type(failure).__name__}: {failure})") from None
