r"""One writer per export format, each rendering any :class:`~pathdyn.theory.document.Document`.

A writer turns the format-neutral document of an export (pathways, graphs, the DMFT) into
one format, printing every expression through the sympy printers of
:mod:`pathdyn.theory.printers`. :data:`WRITERS` is the registry: the command line's
``--format`` choices come from it, and a new format is one class registered with
:func:`register_writer` (a name, its options with their defaults, and ``render``).

* :class:`TextWriter` (``text``): prose lines, then ``lhs = rhs`` lines in sympy's notation;
  hand-typed formulas are comments.
* :class:`LatexWriter` (``latex``): a standalone document (``amsmath``, ``geometry``) or,
  with ``fragment``, the equation environments alone; each group of related equations is
  one ``align`` (``grouped=False``: one per equation), long right-hand sides break between
  tokens within :data:`LINE_BUDGET`; a group's summary (one generic equation for many rows)
  stands for its rows unless ``per_edge``, and short equations of a group with ``columns``
  share a line.
* :class:`JsonWriter` (``json``): the document's header, then one list per data section of
  ``{keys..., "rhs" | "expr": srepr}`` entries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pathdyn.errors import ConfigError
from pathdyn.theory.document import Document, Equation, Group, Literal, Prose, Relation, dump_json, select
from pathdyn.theory.printers import (
    PathdynLatexPrinter,
    PathdynLatexTokenPrinter,
    PathdynReprPrinter,
    PathdynTextPrinter,
)

__all__ = [
    "LINE_BUDGET",
    "WRITERS",
    "JsonWriter",
    "LatexWriter",
    "Row",
    "TextWriter",
    "Writer",
    "break_lines",
    "check_options",
    "register_writer",
    "render",
    "token_width",
    "writer_names",
]

# Estimated rendered width of one line, in characters of a plain math token; the
# tests compile depth-13 and depth-50 documents and check that no line overflows.
LINE_BUDGET = 74
_LABEL_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*$")
_UPRIGHT = re.compile(r"\\mathrm\{([^{}]*)\}")
_PREAMBLE = (r"\documentclass[10pt]{article}", r"\usepackage[a4paper,margin=2cm]{geometry}", r"\usepackage{amsmath}",
             r"\allowdisplaybreaks", r"\begin{document}")

#: Registered writers, name -> writer, in registration order.
WRITERS: dict = {}


class Writer(Protocol):
    """What :func:`register_writer` takes: a format's ``name``, its ``options`` (option -> default), a ``help``
    line and ``render(document, **options) -> str``."""

    name: str
    options: dict
    help: str

    @property
    def render(self) -> Callable[..., str]: ...  # a method taking the writer's own options


def register_writer(writer: Writer) -> Writer:
    """Add ``writer`` to :data:`WRITERS` (once per name); its name becomes an export format.

    Parameters
    ----------
    writer : object
        With ``name`` (str), ``options`` (dict of option -> default), ``help`` (str) and
        ``render(document, **options) -> str``.

    Returns
    -------
    object
        ``writer`` itself.

    Raises
    ------
    ConfigError
        If another writer of the same name is registered already.
    """
    if writer.name in WRITERS and WRITERS[writer.name] is not writer:
        raise ConfigError(f"writer: a format named {writer.name!r} is already registered")
    WRITERS[writer.name] = writer
    return writer


def writer_names() -> tuple:
    """The export formats, in registration order (``("text", "latex", "json")`` and any added).

    Returns
    -------
    tuple of str
    """
    return tuple(WRITERS)


def check_options(format: str, options: dict) -> Writer:
    """The writer of ``format``, after checking ``options`` against every writer's options.

    Parameters
    ----------
    format : str
        A registered format.
    options : dict
        Options given (``fragment``, ``grouped``, ...).

    Returns
    -------
    object
        The writer.

    Raises
    ------
    ConfigError
        For an unknown format, an unknown option, or an option of another format set to
        other than its default.
    """
    if format not in WRITERS:
        raise ConfigError(f"format: unknown format {format!r}; choose one of {', '.join(WRITERS)}")
    writer = WRITERS[format]
    known = {name: (other, default) for other in WRITERS.values() for name, default in other.options.items()}
    for name, value in options.items():
        if name not in writer.options and name not in known:
            raise ConfigError(f"{name}: not an export option; choose from {', '.join(known)}")
        if name not in writer.options and value != known[name][1]:
            owner = known[name][0].name
            if name == "fragment":
                raise ConfigError(f"fragment: only LaTeX output has a fragment form, not {format!r}; "
                                  "drop --fragment or use --format latex")
            raise ConfigError(f"{name}: a {_title(owner)} option, not one of {format!r} output; "
                              f"drop it or use --format {owner}")
    return writer


def _title(name: str) -> str:
    return {"latex": "LaTeX", "json": "JSON"}.get(name, name)


def render(document: Document, format: str = "text", **options: Any) -> str:
    """Render ``document`` in ``format`` with the writer's ``options``.

    Parameters
    ----------
    document : Document
    format : str
        A name in :data:`WRITERS`.
    **options
        The writer's options (LaTeX: ``fragment``, ``grouped``, ``prod``, ``label_prefix``).

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        For an unknown format or a misplaced option (see :func:`check_options`).
    """
    writer = check_options(format, options)
    return writer.render(document, **{name: value for name, value in options.items() if name in writer.options})


# ======================================================================== text
class TextWriter:
    """Plain text in sympy's notation (``.T`` is the transpose): prose lines, then one line per equation.

    ``lhs = rhs`` (definitions and equations), ``dx/dt = rhs`` (rates), ``dL/dX = rhs``
    (gradients), ``d/dt (Q) = 0`` (conserved quantities); a tag prefixes its equation
    (``tag: lhs = rhs``); a hand-typed formula is a comment (``# note: L = ...``).
    """

    name = "text"
    options: dict = {}
    help = "text (sympy notation)"

    def render(self, document: Document) -> str:
        """The text of ``document``.

        Parameters
        ----------
        document : Document

        Returns
        -------
        str
        """
        printers = {}

        def text(expr: object, order: str | None = None) -> str:
            if order not in printers:
                printers[order] = PathdynTextPrinter({"order": order} if order else {}).doprint
            return printers[order](expr)

        lines = []
        for block in document.blocks:
            if isinstance(block, Prose):
                if block.text is not None:
                    lines.append(block.text)
            else:
                lines += [self.line(equation, text) for equation in block.equations]
        return "\n".join(lines) + "\n"

    @staticmethod
    def line(equation: Equation, text: Callable[..., str]) -> str:
        """One equation as a line of text (``text(expr, order)`` prints an expression).

        Parameters
        ----------
        equation : Equation
        text : callable

        Returns
        -------
        str
        """
        lhs, relation = equation.lhs, equation.relation
        if isinstance(equation.rhs, Literal):
            return f"# {equation.note}: {text(lhs)} = {equation.rhs.text}"
        if relation is Relation.RATE:
            body = f"d{text(lhs)}/dt = {text(equation.rhs)}"
        elif relation is Relation.GRADIENT:
            body = f"dL/d{text(lhs)} = {text(equation.rhs)}"
        elif relation is Relation.CONSERVED:
            body = f"d/dt ({text(lhs, equation.term_order)}) = 0"
        else:
            body = f"{text(lhs)} = {text(equation.rhs)}"
        return f"{equation.tag}: {body}" if equation.tag else body


register_writer(TextWriter())


# ======================================================================= LaTeX
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


def break_lines(tokens: Iterable[str], budget: float = LINE_BUDGET) -> list:
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
    lines: list[str] = []
    current: list[str] = []
    width = 0.0
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
    """One typeset equation ``lhs = tokens``; numbered (and labelled) when ``label`` is given.

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


def check_label_prefix(label_prefix: str) -> str:
    """``"deep"`` -> ``"deep:"`` (labels become ``eq:deep:W-1-1``); ``""`` stays empty.

    Parameters
    ----------
    label_prefix : str

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        For a prefix that is not a plain LaTeX label word.
    """
    if not isinstance(label_prefix, str) or (label_prefix and not _LABEL_PREFIX.match(label_prefix)):
        raise ConfigError(
            f"label_prefix: {label_prefix!r} is not a LaTeX label prefix; use a letter then letters, digits, '.', '_' or '-', e.g. deep"
        )
    return f"{label_prefix}:" if label_prefix else ""


class LatexWriter:
    """LaTeX: a standalone document, or (``fragment``) the equation environments alone.

    Options: ``fragment`` (the equations without the document), ``grouped`` (related
    equations share one ``align``; False: one environment per equation), ``prod``
    (products of three or more consecutive layers of a pathway as ``\\prod``),
    ``label_prefix`` (labels ``eq:PREFIX:...``), ``per_edge`` (every row of a group that
    has a summary, one equation per line, instead of the summary: the equation of every
    edge of a graph; and each paragraph's ``latex`` where it has a ``summarized`` spelling
    for the default layout). Expressions are printed by
    :class:`~pathdyn.theory.printers.PathdynLatexPrinter` and its token printer with the
    document's notation.
    """

    name = "latex"
    options = {"fragment": False, "grouped": True, "prod": False, "label_prefix": "", "per_edge": False}
    help = "latex (standalone document)"

    def render(self, document: Document, fragment: bool = False, grouped: bool = True, prod: bool = False,
               label_prefix: str = "", per_edge: bool = False) -> str:
        """The LaTeX of ``document``.

        Parameters
        ----------
        document : Document
        fragment, grouped, prod, label_prefix, per_edge
            See the class.

        Returns
        -------
        str

        Raises
        ------
        ConfigError
            For a label prefix that is not a plain LaTeX label word.
        """
        prefix = check_label_prefix(label_prefix)
        settings = {**document.notation, "prod": prod}
        if document.layout == "list":
            return self._list(document, fragment, settings)
        environments, body, comments = [], [], []
        for block in document.blocks:
            if isinstance(block, Prose):
                latex = block.latex if per_edge or block.summarized is None else block.summarized
                body += [latex] if latex is not None else []
                comments += [block.fragment] if block.fragment is not None else []
                continue
            for group in self._split(_shown(block, per_edge), grouped):
                environments.append(self._group_text(group, settings, prefix))
                body.append(environments[-1])
        if fragment:
            head = [f"% pathdyn equations (needs amsmath): {document.description}", *comments]
            return "".join(line + "\n" for line in head) + "\n".join(environments) + "\n"
        return "\n".join([*_PREAMBLE, *body, r"\end{document}"]) + "\n"

    @staticmethod
    def _split(block: Group, grouped: bool) -> list:
        """``[block]``, or (ungrouped) one group per equation, titled by the equation's note."""
        if grouped:
            return [block]
        return [Group(equation.note, block.kind, (equation,), block.align_like) for equation in block.equations]

    def rows(self, group: Group, settings: dict) -> list:
        """The typeset rows of a group's equations.

        Parameters
        ----------
        group : Group
        settings : dict
            Settings of the LaTeX printers.

        Returns
        -------
        list of Row
        """
        latex = PathdynLatexPrinter(settings)
        tokens = PathdynLatexTokenPrinter(settings).doprint
        width = None
        if group.align_like is not None:
            width = token_width(_lhs(Equation(group.align_like, 0, Relation.RATE), latex))
        out = []
        for equation in group.equations:
            lhs = _lhs(equation, latex)
            if isinstance(equation.rhs, Literal):
                rhs = tuple(equation.rhs.latex)
            elif equation.relation is Relation.CONSERVED:
                lhs, rhs = _conserved_row(equation, lhs, latex)
            else:
                rhs = tuple(tokens(equation.shown))
            if equation.condition:
                rhs += (rf"\qquad {equation.condition}",)
            out.append(Row(lhs, rhs, equation.label, width if equation.relation is Relation.RATE else None))
        return _side_by_side(out, group.columns) if group.columns > 1 else out

    def _group_text(self, group: Group, settings: dict, prefix: str) -> str:
        """The comment and the environment (``align`` when a row is labelled, else ``align*``)."""
        rows = self.rows(group, settings)
        env = "align" if any(row.label for row in rows) else "align*"
        lines = [line for row in rows for line in row.lines(prefix)]
        return f"% {group.title}\n\\begin{{{env}}}\n" + " \\\\\n".join(lines) + f"\n\\end{{{env}}}"

    @staticmethod
    def _list(document: Document, fragment: bool, settings: dict) -> str:
        """The ``list`` layout: one ``align*`` of ``lhs &= rhs && tag`` rows."""
        latex = PathdynLatexPrinter({key: value for key, value in settings.items() if key != "prod"}).doprint
        rows = [f"{latex(e.lhs)} &= {latex(e.rhs)}" + (f" && \\text{{{e.tag}}}" if e.tag else "") for e in document.equations]
        body = "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n"
        if fragment:
            return body
        return "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + body + "\\end{document}\n"

    def aligned(self, groups: Iterable[Group], settings: dict | None = None) -> str:
        r"""Rows of ``groups`` as one MathJax-friendly ``$$\begin{aligned} ... \end{aligned}$$`` (no labels).

        Parameters
        ----------
        groups : sequence of Group
        settings : dict, optional
            Settings of the LaTeX printers.

        Returns
        -------
        str
        """
        rows = [row for group in groups for row in self.rows(group, settings or {})]
        lines = [line.strip() for row in rows for line in row.lines(numbered=False)]
        return "$$\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}$$"


def _shown(group: Group, per_edge: bool) -> Group:
    """The group as typeset: its summary in place of its rows and its columns, or (``per_edge``) every row, one a line."""
    if per_edge or (group.summary is None and group.columns == 1):
        return replace(group, summary=None, columns=1)
    return replace(group, equations=group.equations if group.summary is None else group.summary, summary=None)


def _row_width(row: Row) -> float:
    r"""The width of a row on one line, its left-hand side included, in the units of :data:`LINE_BUDGET`.

    Measured for packing lines, where an underestimate overflows the page: an upright node
    name in a subscript (``W_{\mathrm{V1}\leftarrow\mathrm{x}}``) counts as a subscript,
    and a subscript character as 0.75 of a plain one (:func:`token_width`, which the
    pathway exports' line breaks depend on, is kept as it is). Calibrated with pdflatex on
    the rows of the mouse-visual-cortex export: every row measured at most 6.1pt per unit,
    the page holds 6.5pt per unit of :data:`LINE_BUDGET`.
    """
    text = _UPRIGHT.sub(r"\1", " ".join((row.lhs, "=", *row.tokens)))
    text = re.sub(r"\\(bigl|bigr|Bigl|Bigr|left|right|top)", "", text)
    quads = text.count(r"\qquad")
    text = re.sub(r"\\[A-Za-z]+", "x", text.replace(r"\qquad", ""))
    scripts = sum(len(re.sub(r"\s", "", script)) for script in re.findall(r"[_^]\{([^{}]*)\}", text))
    plain = re.sub(r"[{}\s]", "", re.sub(r"[_^]\{[^{}]*\}", "", text))
    return len(plain) + 0.75 * scripts + 3 * quads


def _side_by_side(rows: list, columns: int) -> list:
    r"""Up to ``columns`` unlabelled rows joined into one line (``F_a = ... \qquad F_b = ...``) where they fit.

    A row too wide to share a line keeps its own (and breaks as any row does); the order
    of the rows is kept.
    """
    out: list[Row] = []
    count, width = 0, 0.0
    for row in rows:
        w = _row_width(row)
        if row.label or w > LINE_BUDGET:
            out.append(row)
            count = columns  # nothing joins a labelled or wide row
            continue
        if out and count < columns and width + 3 + w <= LINE_BUDGET:
            last = out[-1]  # one token: break_lines keeps a line of definitions that fits whole
            out[-1] = Row(last.lhs, (f"{last.tokens[0]} \\qquad {row.lhs} = " + " ".join(row.tokens),), None, last.lhs_width)
            count, width = count + 1, width + 3 + w
        else:
            out.append(Row(row.lhs, (" ".join(row.tokens),), None, row.lhs_width))
            count, width = 1, w
    return out


def _lhs(equation: Equation, latex: PathdynLatexPrinter) -> str:
    """The typeset left-hand side of an equation, by its relation."""
    relation = equation.relation
    if relation is Relation.RATE:
        return rf"\tau \frac{{d {latex.doprint(equation.lhs)}}}{{dt}}"
    if relation is Relation.GRADIENT:
        return rf"\frac{{\partial L}}{{\partial {latex.doprint(equation.lhs)}}}"
    if relation is Relation.CONSERVED:
        ordered = PathdynLatexPrinter({**_settings_of(latex), "order": equation.term_order}) if equation.term_order else latex
        return rf"\frac{{d}}{{dt}} \bigl({ordered.doprint(equation.lhs)}\bigr)"
    return latex.doprint(equation.lhs)


def _conserved_row(equation: Equation, lhs: str, latex: PathdynLatexPrinter) -> tuple:
    """``(lhs, tokens)`` of a conserved quantity: ``d/dt (Q) = 0``, or ``0 = d/dt (Q)`` broken across lines when ``Q`` is long."""
    if token_width(lhs) <= LINE_BUDGET / 2:
        return lhs, ("0",)
    settings = {**_settings_of(latex), "order": equation.term_order}
    terms = PathdynLatexTokenPrinter(settings).doprint(equation.lhs)
    terms = [r"\frac{d}{dt} \bigl(" + terms[0], *terms[1:]]
    terms[-1] += r"\bigr)"
    return "0", tuple(terms)


def _settings_of(printer: PathdynLatexPrinter) -> dict:
    """The settings a printer was made with (sympy adds derived keys to ``_settings``)."""
    return {key: printer._settings[key] for key in printer._default_settings if key in printer._settings}


register_writer(LatexWriter())


# ======================================================================== JSON
class JsonWriter:
    """JSON: the document's header, then one list per data section; expressions as sympy ``srepr``.

    Each keyed equation is ``{keys..., field: srepr}``: ``rhs`` for a rate, ``expr`` for a
    definition or a gradient (its right side) and for a conserved quantity (the quantity),
    ``lhs`` and ``rhs`` for an equation. Equations without keys are for reading only.
    Article documents have one top-level key and one list entry per line; list documents
    are indented.
    """

    name = "json"
    options: dict = {}
    help = "json (srepr, see docs)"

    def render(self, document: Document) -> str:
        """The JSON of ``document``.

        Parameters
        ----------
        document : Document

        Returns
        -------
        str
        """
        srepr = PathdynReprPrinter().doprint
        data = dict(document.header)
        for key, kinds in document.data_sections:
            data[key] = [self.entry(e, srepr) for group in select(document.groups, *kinds) for e in group.equations
                         if e.keys is not None]
        if document.layout == "list":
            return json.dumps(data, indent=1) + "\n"
        return dump_json(data)

    @staticmethod
    def entry(equation: Equation, srepr: Callable[[object], str]) -> dict:
        """One equation as a JSON object.

        Parameters
        ----------
        equation : Equation
        srepr : callable
            Prints an expression.

        Returns
        -------
        dict
        """
        entry = dict(equation.keys or ())
        if equation.relation is Relation.RATE:
            entry["rhs"] = srepr(equation.rhs)
        elif equation.relation is Relation.CONSERVED:
            entry["expr"] = srepr(equation.lhs)
        elif equation.relation is Relation.EQUATION:
            entry["lhs"], entry["rhs"] = srepr(equation.lhs), srepr(equation.rhs)
        else:
            entry["expr"] = srepr(equation.rhs)
        return entry


register_writer(JsonWriter())
