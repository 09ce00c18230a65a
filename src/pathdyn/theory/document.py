r"""The structure of an exported document, shared by the pathway and the graph exporters.

An export is a sequence of equation groups, each of one :class:`EquationKind`; the
exporters assemble their documents by selecting groups by kind (:func:`select`), never
by reading the groups' comments. A LaTeX :class:`Group` is one ``align`` environment of
:class:`Row` objects, whose token lists (from
:class:`~pathdyn.theory.printers.PathdynLatexTokenPrinter`) break across lines within
:data:`LINE_BUDGET`. :func:`dump_json` is the JSON layout of both exports.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass

from pathdyn.theory.safe_parse import parse_srepr

__all__ = [
    "LINE_BUDGET",
    "EquationKind",
    "Group",
    "Row",
    "break_lines",
    "dump_json",
    "json_shape",
    "rebuild_expression",
    "select",
    "token_width",
]

# Estimated rendered width of one line, in characters of a plain math token; the
# tests compile depth-13 and depth-50 documents and check that no line overflows.
LINE_BUDGET = 74


class EquationKind(enum.Enum):
    """What a group of equations holds; the members are in document order."""

    #: The loss, the network map and the gradient of the loss with respect to it.
    DEFINITIONS = "definitions"
    #: ``tau dW/dt`` of the layers of a pathway (or of an edge of a graph).
    GRADIENT_FLOW = "gradient flow"
    #: The mode strengths ``K`` in the reduced variables.
    STRENGTHS = "strengths"
    #: The reduced equations of one mode.
    REDUCED = "reduced"
    #: Conserved quantities of the reduced equations.
    CONSERVED = "conserved"


def token_width(token: str) -> float:
    """Rough rendered width of a LaTeX token, in plain characters (sub/superscripts count less).

    Parameters
    ----------
    token : str

    Returns
    -------
    float
    """
    text = re.sub(r"\\(bigl|bigr|left|right|top|quad)", "", token)
    text = re.sub(r"\\[A-Za-z]+", "x", text)
    scripts = len(re.findall(r"[_^]\{[^{}]*\}", text))
    plain = re.sub(r"[_^]\{[^{}]*\}", "", text)
    plain = re.sub(r"[{}\s]", "", plain)
    return len(plain) + 0.45 * sum(len(s) for s in re.findall(r"[_^]\{([^{}]*)\}", text)) + 0.2 * scripts


def break_lines(tokens, budget: float = LINE_BUDGET) -> list:
    """Join tokens into lines no wider than ``budget`` (a token wider than it gets a line of its own).

    Parameters
    ----------
    tokens : sequence of str
    budget : float
        Width of a line, as :func:`token_width` measures it.

    Returns
    -------
    list of str
    """
    lines, current, width = [], [], 0.0
    for token in tokens:
        w = token_width(token) + 0.5
        if current and width + w > budget:
            lines.append(" ".join(current))
            current, width = [], 0.0
        current.append(token)
        width += w
    if current:
        lines.append(" ".join(current))
    return lines


@dataclass(frozen=True)
class Row:
    """One equation ``lhs = tokens``; numbered (and labelled) when ``label`` is given.

    Attributes
    ----------
    lhs : str
        The left-hand side, LaTeX.
    tokens : tuple of str
        The right-hand side as tokens.
    label : str or None
        ``\\label{eq:PREFIX+label}`` on the equation's last line.
    lhs_width : float or None
        The width the left-hand side takes; by default :func:`token_width` of ``lhs``
        (a common value lines up the right-hand sides of one group).
    """

    lhs: str
    tokens: tuple
    label: str | None = None
    lhs_width: float | None = None

    def lines(self, label_prefix: str = "", numbered: bool = True) -> list:
        r"""The ``align`` lines of this equation: ``\notag`` on continuations, the label on the last.

        Parameters
        ----------
        label_prefix : str
            Put between ``eq:`` and the label.
        numbered : bool
            False drops ``\notag`` and the label (an unnumbered ``aligned`` block).

        Returns
        -------
        list of str
        """
        budget = LINE_BUDGET - (self.lhs_width if self.lhs_width is not None else token_width(self.lhs))
        broken = break_lines(self.tokens, budget=max(budget, 20))
        body = [f"  {self.lhs} &= {broken[0]}"] + [rf"  &\quad {line}" for line in broken[1:]]
        if self.label and numbered:
            return [line + r" \notag" for line in body[:-1]] + [body[-1] + rf" \label{{eq:{label_prefix}{self.label}}}"]
        return body


@dataclass(frozen=True)
class Group:
    """Related equations that share one ``align`` environment.

    Attributes
    ----------
    comment : str
        A LaTeX comment line above the environment, for the reader of the source.
    kind : EquationKind
        What the group holds; documents select groups by it.
    rows : tuple of Row
    """

    comment: str
    kind: EquationKind
    rows: tuple

    def render(self, label_prefix: str = "") -> str:
        """The comment and the environment (``align`` when a row is labelled, else ``align*``).

        Parameters
        ----------
        label_prefix : str
            As :meth:`Row.lines`.

        Returns
        -------
        str
        """
        numbered = any(row.label for row in self.rows)
        env = "align" if numbered else "align*"
        lines = [line for row in self.rows for line in row.lines(label_prefix)]
        return f"% {self.comment}\n\\begin{{{env}}}\n" + " \\\\\n".join(lines) + f"\n\\end{{{env}}}"


def select(groups, *kinds) -> list:
    """The groups of the given kinds, in their order.

    Parameters
    ----------
    groups : sequence of Group
    *kinds : EquationKind

    Returns
    -------
    list of Group
    """
    return [group for group in groups if group.kind in kinds]


def json_shape(shape) -> list:
    """A matrix shape for JSON: integers stay integers, symbolic dimensions become their names.

    Parameters
    ----------
    shape : tuple

    Returns
    -------
    list of int or str
    """
    return [int(n) if getattr(n, "is_Integer", False) or isinstance(n, int) else str(n) for n in shape]


def dump_json(data: dict) -> str:
    """JSON with one top-level key per line and one list entry per line.

    Parameters
    ----------
    data : dict

    Returns
    -------
    str
    """
    lines = []
    for key, value in data.items():
        if isinstance(value, list) and value:
            items = ",\n".join("  " + json.dumps(item) for item in value)
            lines.append(f" {json.dumps(key)}: [\n{items}\n ]")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def rebuild_expression(text: str, where: str):
    """The expression of one ``srepr`` entry of an equations JSON, parsed without running code.

    Parameters
    ----------
    text : str
        The ``srepr`` string.
    where : str
        The entry, for the error message.

    Returns
    -------
    sympy.Basic

    Raises
    ------
    ConfigError
        If the text is not an ``srepr`` that :func:`~pathdyn.theory.safe_parse.parse_srepr` accepts.
    """
    return parse_srepr(text, where=f"equations JSON: {where}")
