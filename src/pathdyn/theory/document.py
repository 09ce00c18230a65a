r"""The format-neutral document every export builds (pathways, graphs, the DMFT).

An exporter says *what* its document holds: groups of :class:`Equation` objects, each
group of one :class:`EquationKind`, between :class:`Prose` paragraphs; every equation a
sympy left and right side with its relation (a definition, a rate ``tau d x/dt``, a
conserved quantity, ...). The writers of :mod:`pathdyn.theory.writers` say *how*: one
writer per format (text, LaTeX, JSON, and any registered later) renders any document
through the sympy printers of :mod:`pathdyn.theory.printers`, selecting groups by their
kind, never by reading their titles.

Prose is the one place where a document carries per-format wording (a sentence with
mathematics has no neutral spelling); a writer for a new format uses the plain-text
variant. :func:`dump_json`, :func:`json_shape` and :func:`rebuild_expression` are the JSON
layout and loader helpers shared by the exports.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import sympy as sp

from pathdyn.theory.safe_parse import parse_srepr

__all__ = [
    "Document",
    "Equation",
    "EquationKind",
    "Group",
    "Literal",
    "Prose",
    "Relation",
    "dump_json",
    "equation_list",
    "json_shape",
    "rebuild_expression",
    "select",
]


class EquationKind(enum.Enum):
    """What a group of equations holds; the members are in document order."""

    #: The loss, the network map and the gradient of the loss with respect to it.
    DEFINITIONS = "definitions"
    #: ``tau dW/dt`` of the layers of a pathway (or of an edge of a graph).
    GRADIENT_FLOW = "gradient flow"
    #: The mode strengths ``K`` in the reduced variables (and the strengths of the nodes of a graph).
    STRENGTHS = "strengths"
    #: The reduced equations of one mode.
    REDUCED = "reduced"
    #: Conserved quantities of the reduced equations.
    CONSERVED = "conserved"
    #: Equations of another kind (the DMFT's site equations).
    OTHER = "other"


class Relation(enum.Enum):
    """How an equation's two sides relate."""

    #: ``lhs = rhs``: the symbol ``lhs`` names the expression ``rhs``.
    DEFINITION = "definition"
    #: ``tau d lhs/dt = rhs`` (tau = 1).
    RATE = "rate"
    #: ``dL/d lhs = rhs``: the gradient of the loss with respect to ``lhs``.
    GRADIENT = "gradient"
    #: ``d lhs/dt = 0``: ``lhs`` is conserved (``rhs`` is 0).
    CONSERVED = "conserved"
    #: ``lhs = rhs`` between two expressions (an equation of a system, e.g. the DMFT's).
    EQUATION = "equation"


@dataclass(frozen=True)
class Literal:
    """A formula typed by hand, not derived (the loss as the model defines it), spelled per format.

    Attributes
    ----------
    text : str
        Plain text.
    latex : tuple of str
        LaTeX tokens (a long formula breaks between them).
    """

    text: str
    latex: tuple


@dataclass(frozen=True)
class Equation:
    """One equation of a document.

    Attributes
    ----------
    lhs : sympy.Basic
        What the equation is about: the defined symbol, the variable whose rate it gives,
        the conserved quantity, or (``Relation.EQUATION``) the left side itself.
    rhs : sympy.Basic or Literal
        The derived right-hand side (0 for a conserved quantity).
    relation : Relation
    label : str or None
        A label word (``W-1-2``); a labelled equation is numbered in typeset output.
    note : str
        What the equation is, for the reader of the source (``gradient flow, pathway 1, layer 2``).
    tag : str
        A tag shown beside the equation in every format (the DMFT's equation names).
    keys : tuple of (str, object) or None
        The equation's identity in machine-readable output (``(("pathway", 1), ("layer", 2))``);
        None: for reading only, not part of the data.
    display : sympy.Basic or None
        The right-hand side as typeset formats show it, with named sub-expressions kept
        (``p_1 (S - K_1 - K_2)``); None shows ``rhs``.
    term_order : str or None
        The order of terms in sums for display (sympy's ``order`` setting, e.g. ``rev-lex``).
    condition : str
        LaTeX shown after the right-hand side in typeset output, saying where the equation
        holds (``\\text{for every edge } u \\to v``: a generic equation of a group's summary).
    """

    lhs: sp.Basic
    rhs: object
    relation: Relation = Relation.DEFINITION
    label: str | None = None
    note: str = ""
    tag: str = ""
    keys: tuple | None = None
    display: object = None
    term_order: str | None = None
    condition: str = ""

    @property
    def shown(self) -> object:
        """What typeset formats show on the right: ``display`` when given, else ``rhs``."""
        return self.rhs if self.display is None else self.display


@dataclass(frozen=True)
class Group:
    """Related equations, shown together (one ``align`` environment in LaTeX).

    Attributes
    ----------
    title : str
        What the group holds, for the reader of the source.
    kind : EquationKind
        Documents select groups by it.
    equations : tuple of Equation
    align_like : sympy.Basic or None
        Typeset formats line up the right-hand sides as if every left side were the rate
        of this symbol (None: each row its own width).
    summary : tuple of Equation or None
        What typeset formats show instead of ``equations`` unless asked for every row:
        generic equations (with their ``condition``), each checked to give every row it
        stands for, then the rows none of them gives. None: the rows themselves. Text and
        data formats always hold every row.
    columns : int
        Typeset formats put up to this many short equations side by side on one line
        (1: one equation per line).
    """

    title: str
    kind: EquationKind
    equations: tuple
    align_like: object = None
    summary: tuple | None = None
    columns: int = 1


@dataclass(frozen=True)
class Prose:
    """A paragraph, spelled per format (a format without a spelling skips it).

    Attributes
    ----------
    text : str or None
        Plain-text lines (the text export prints them as they are).
    latex : str or None
        LaTeX lines of a standalone document.
    fragment : str or None
        LaTeX comment lines kept when only the equations are written (a fragment).
    summarized : str or None
        The LaTeX lines in place of ``latex`` where the groups' summaries are shown (the
        default layout), for a paragraph that would repeat an equation a summary displays;
        None: ``latex`` in every layout.
    """

    text: str | None = None
    latex: str | None = None
    fragment: str | None = None
    summarized: str | None = None


@dataclass(frozen=True)
class Document:
    """An export: a title, blocks (prose and groups of equations) and a data header.

    Attributes
    ----------
    description : str
        One line saying what is exported (``graph with 3 hidden node(s), ...``).
    blocks : tuple of Prose or Group
        In document order.
    header : dict
        The leading entries of machine-readable output (format, version, description,
        architecture, symbols).
    data_sections : tuple of (str, tuple of EquationKind)
        Machine-readable output: the list named ``key`` holds the keyed equations of the
        groups of these kinds, in this order.
    layout : {"article", "list"}
        ``article``: prose and groups under headings; ``list``: one list of tagged
        equations (the DMFT's site equations).
    notation : dict
        Printer settings for typeset output (``{"mode_indices": False}``).
    """

    description: str
    blocks: tuple
    header: dict = field(default_factory=dict)
    data_sections: tuple = ()
    layout: str = "article"
    notation: dict = field(default_factory=dict)

    @property
    def groups(self) -> list:
        """The groups of equations, in order."""
        return [block for block in self.blocks if isinstance(block, Group)]

    @property
    def equations(self) -> list:
        """Every equation, in order."""
        return [equation for group in self.groups for equation in group.equations]


def equation_list(description: str, text: str, groups: Iterable[tuple[str, Iterable[tuple[str, sp.Eq]]]], header: dict,
                  notation: dict | None = None) -> Document:
    """A ``list`` document: named groups of tagged equations ``lhs = rhs`` (a system such as the DMFT's).

    Parameters
    ----------
    description : str
        One line saying what the equations are.
    text : str
        The comment line(s) the text format starts with.
    groups : iterable of (str, iterable of (str, sympy.Eq))
        Each group's title and its ``(tag, equation)`` pairs, in the order a solver uses them.
    header : dict
        The leading entries of the JSON export; the equations follow under ``"equations"``
        as ``{"label", "lhs", "rhs"}``.
    notation : dict, optional
        Settings of the LaTeX printers (default: sympy's own symbol names).

    Returns
    -------
    Document
        Rendered by every writer: ``tag: lhs = rhs`` lines, one LaTeX ``align*`` with the tags,
        indented JSON.
    """
    blocks: list[Prose | Group] = [Prose(text=text)]
    for title, equations in groups:
        blocks.append(Group(title, EquationKind.OTHER, tuple(
            Equation(eq.lhs, eq.rhs, Relation.EQUATION, tag=tag, keys=(("label", tag),)) for tag, eq in equations)))
    return Document(description, tuple(blocks), header=dict(header), data_sections=(("equations", (EquationKind.OTHER,)),),
                    layout="list", notation={"mode_indices": False} if notation is None else dict(notation))


def select(groups: Iterable[Group], *kinds: EquationKind) -> list:
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


def json_shape(shape: Iterable[int | sp.Basic]) -> list:
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


def rebuild_expression(text: str, where: str) -> sp.Basic:
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
