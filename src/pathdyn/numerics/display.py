"""Short text and HTML summaries of results, for ``repr`` and Jupyter.

A summary is a title and ``(name, value)`` rows: shapes, ranges and key numbers,
never whole arrays. :func:`text_summary` gives the ``__repr__``, :func:`html_summary`
the ``_repr_html_`` (a small table that Jupyter draws).
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable, Sequence
import html

import numpy as np

__all__ = ["array_summary", "html_summary", "number", "text_summary"]


def number(value: float | None, digits: int = 4) -> str:
    """A float in ``digits`` significant digits, ``nan``/``inf`` as words, None as ``-``.

    Parameters
    ----------
    value : float or None
        The number.
    digits : int
        Significant digits.

    Returns
    -------
    str
        The formatted number.
    """
    if value is None:
        return "-"
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def array_summary(values: Any | None, dims: Sequence[str] | None = None) -> str:
    """``shape (time=201, pathway=2, mode=4), range [-0.01, 1.98]`` of an array (NaNs ignored).

    Parameters
    ----------
    values : array_like or None
        The array.
    dims : sequence of str, optional
        Axis names, shown with the sizes.

    Returns
    -------
    str
        The summary (``-`` for ``None``).

    Examples
    --------
    >>> array_summary(np.array([[0.5, 2.0, -1.0]]), ("time", "mode"))
    'shape (time=1, mode=3), range [-1, 2]'
    """
    if values is None:
        return "-"
    array = np.asarray(values)
    if dims is not None and len(dims) == array.ndim:
        shape = ", ".join(f"{d}={n}" for d, n in zip(dims, array.shape))
    else:
        shape = ", ".join(str(n) for n in array.shape)
    text = f"shape ({shape})"
    if array.size and np.issubdtype(array.dtype, np.number):
        finite = array[np.isfinite(array)]
        if finite.size:
            text += f", range [{number(finite.min())}, {number(finite.max())}]"
        if finite.size < array.size:
            text += f", {array.size - finite.size} not finite"
    return text


def text_summary(title: str, rows: Iterable[tuple[str, object]]) -> str:
    """``Title(`` then one ``  name: value`` line per row, then ``)``.

    Parameters
    ----------
    title : str
        The object's name.
    rows : iterable of (str, object)
        Name and value pairs.

    Returns
    -------
    str
        The multi-line text.
    """
    lines = [f"{title}("]
    lines += [f"  {name}: {value}" for name, value in rows]
    return "\n".join(lines) + "\n)"


def html_summary(title: str, rows: Iterable[tuple[str, object]]) -> str:
    """The same rows as a two-column HTML table (every value escaped).

    Parameters
    ----------
    title : str
        The object's name.
    rows : iterable of (str, object)
        Name and value pairs.

    Returns
    -------
    str
        An HTML fragment.
    """
    cells = "".join(
        f"<tr><th style='text-align:left'>{html.escape(str(name))}</th>"
        f"<td style='text-align:left'>{html.escape(str(value))}</td></tr>"
        for name, value in rows
    )
    return f"<div><strong>{html.escape(title)}</strong><table>{cells}</table></div>"
