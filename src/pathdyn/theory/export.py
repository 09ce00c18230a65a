"""Export of the derived equations as text, LaTeX and JSON, and the JSON loader.

:func:`derive_equations` bundles the matrix gradient flow
(:func:`pathdyn.theory.gradient_flow.derive_gradient_flow`) and the paper's reduced q/p
equations (:func:`pathdyn.theory.reduced.derive_qp_equations`) of one architecture;
:func:`export_equations` formats them; :func:`load_equations_json` rebuilds every
expression of a JSON export with plain sympy.

Every expression is printed by the classes of :mod:`pathdyn.theory.printers` (one per
format), and a document is assembled from groups of equations selected by their
:class:`~pathdyn.theory.document.EquationKind`. ``PathdynLatexPrinter`` is importable from
here as before.

JSON schema (``"format": "pathdyn-equations"``, ``"version": 1``)
------------------------------------------------------------------
``"architecture"``
    :meth:`Architecture.to_dict` of the architecture.
``"symbols"``
    List of ``{"name", "role", "pathway", "layer", "shape"}``. ``role`` is one of
    ``weight`` (``W_a^d``), ``Sigma_x`` (only for general inputs; whitened inputs use
    the identity), ``Sigma_yx``, ``Omega`` (the network map, see ``"definitions"``),
    ``dimension`` (a symbolic matrix dimension), ``S`` (the mode's singular value),
    ``lambda`` (the mode's input variance ``v^T Sigma_x v``; only for general inputs),
    ``q``, ``p``. ``pathway`` and ``layer`` are 1-based or null; ``shape`` is a pair
    of integers or dimension names, or null for scalars.
``"definitions"``
    List of ``{"name", "expr"}``: ``Omega = sum_a W_a^{D_a} ... W_a^1``.
``"gradient_flow"``
    List of ``{"pathway", "layer", "rhs"}``: ``rhs`` is the ``srepr`` of the
    right-hand side of ``tau dW_a^d/dt`` (tau = 1), in the weights, ``Sigma_yx``,
    ``Sigma_x`` and the symbol ``Omega``.
``"modes"``
    List of ``{"pathway", "variable", "rhs"}`` (``variable`` is ``"q"`` or ``"p"``):
    the reduced equations of one generic mode in the symbols ``q_a``, ``p_a``, ``S``
    (and ``lambda`` for general inputs: the aligned case, error ``S - lambda sum_a K_a``).
``"strengths"``
    List of ``{"pathway", "expr"}``: the mode strength ``K_a`` in ``q_a``, ``p_a``.
``"conserved"``
    List of ``{"pathway", "expr"}``: conserved quantities (``q_a^2 - p_a^2``).

Every ``rhs``/``expr`` string is an ``srepr``; :func:`load_equations_json` rebuilds it
with :func:`pathdyn.theory.safe_parse.parse_srepr`, which runs no code. (``sympy.sympify``
also rebuilds it, with ``locals={"Str": sympy.core.symbol.Str}``, but executes the text:
use it only on files you made yourself.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sympy as sp

from pathdyn.errors import ConfigError, DerivationError
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.display import (
    definitions_group,
    flow_groups,
    gradient_flow_latex,
    mode_equations_latex,
    mode_groups,
)
from pathdyn.theory.document import (
    Document,
    EquationKind,
    Prose,
    json_shape,
    rebuild_expression,
    select,
)
from pathdyn.theory.gradient_flow import GradientFlow, derive_gradient_flow
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.graph_export import GraphEquations, export_graph_equations
from pathdyn.theory.models import get_model
from pathdyn.theory.modes import ModeEquations
from pathdyn.theory.printers import PathdynLatexPrinter, PathdynTextPrinter
from pathdyn.theory.reduced import derive_qp_equations
from pathdyn.theory.writers import LatexWriter, check_options, render, writer_names

__all__ = [
    "DerivedEquations",
    "LoadedEquations",
    "derive_equations",
    "equations_to_json",
    "equations_to_latex",
    "equations_to_text",
    "derived_equations_latex",
    "mode_equations_latex",
    "gradient_flow_latex",
    "LATEX_OPTIONS",
    "export_equations",
    "load_equations_json",
    "pathway_document",
    "FORMATS",
    "PathdynLatexPrinter",
]

#: The formats of the writers registered when this module is imported (the registry,
#: :func:`pathdyn.theory.writers.writer_names`, may hold more).
FORMATS = writer_names()
#: The options of :func:`equations_to_latex` and their defaults.
LATEX_OPTIONS = {"grouped": True, "prod": False, "label_prefix": ""}
JSON_FORMAT = "pathdyn-equations"
JSON_VERSION = 1
ROLES = ("weight", "Sigma_x", "Sigma_yx", "Omega", "dimension", "S", "lambda", "q", "p")


@dataclass(frozen=True)
class DerivedEquations:
    """The matrix gradient flow and the reduced q/p equations of one architecture.

    Attributes
    ----------
    architecture : Architecture
    gradient_flow : GradientFlow
    modes : ModeEquations

    Raises
    ------
    DerivationError
        If the three disagree on the depths.
    """

    architecture: Architecture
    gradient_flow: GradientFlow
    modes: ModeEquations

    def _repr_latex_(self) -> str:
        """Jupyter's LaTeX display: every equation in one ``aligned`` block, long products as ``\\prod``."""
        return derived_equations_latex(self)

    def __post_init__(self) -> None:
        if self.gradient_flow.depths != self.architecture.depths or tuple(self.modes.depths) != self.architecture.depths:
            raise DerivationError("DerivedEquations: gradient flow, modes and architecture disagree on the depths")


def derive_equations(architecture: Architecture | Sequence[int] | str) -> DerivedEquations:
    """Derive the gradient flow and the q/p equations of ``architecture``.

    Parameters
    ----------
    architecture : Architecture or sequence of int

    Returns
    -------
    DerivedEquations
    """
    arch = Architecture.coerce(architecture)
    return DerivedEquations(arch, derive_gradient_flow(arch), derive_qp_equations(arch))


def export_equations(equations: DerivedEquations | Architecture | Sequence[int] | str | GraphArchitecture | GraphEquations,
                     format: str = "text", fragment: bool = False, **latex_options: Any) -> str:
    """Format derived equations (or an architecture, derived first) in any registered format.

    Parameters
    ----------
    equations : DerivedEquations, Architecture, sequence of int, or a graph
    format : str
        A writer of :mod:`pathdyn.theory.writers`: ``text``, ``latex``, ``json`` or one
        registered later.
    fragment : bool
        LaTeX only: the equations without the document.
    **latex_options
        LaTeX only: ``grouped``, ``prod`` and ``label_prefix`` of :func:`equations_to_latex`.

    Returns
    -------
    str
        The export; a graph architecture goes to
        :func:`pathdyn.theory.graph_export.export_graph_equations`.

    Raises
    ------
    ConfigError
        For an unknown format, or a LaTeX option with another format.
    """
    check_options(format, {"fragment": fragment})
    if isinstance(equations, (GraphArchitecture, GraphEquations)):  # graphs have their own exporter
        return export_graph_equations(equations, format=format, fragment=fragment, **latex_options)
    unknown = sorted(set(latex_options) - set(LATEX_OPTIONS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: not an export option; choose from {', '.join(LATEX_OPTIONS)}")
    changed = [k for k, v in latex_options.items() if v != LATEX_OPTIONS[k]]
    if changed and format != "latex":
        raise ConfigError(f"{changed[0]}: a LaTeX option, not one of {format!r} output; drop it or use --format latex")
    if not isinstance(equations, DerivedEquations):
        equations = derive_equations(equations)
    options = {"fragment": fragment, **latex_options} if format == "latex" else {}
    return render(pathway_document(equations, prod=latex_options.get("prod", False)), format, **options)


# ====================================================================== helpers


# ==================================================================== document
_K = EquationKind
PROD_NOTE = r"\prod_{k=i}^{j} W_a^{(k)} = W_a^{(j)} \cdots W_a^{(i)}"
#: The data sections of the JSON export, in file order.
DATA_SECTIONS = (("definitions", (_K.DEFINITIONS,)), ("gradient_flow", (_K.GRADIENT_FLOW,)), ("modes", (_K.REDUCED,)),
                 ("strengths", (_K.STRENGTHS,)), ("conserved", (_K.CONSERVED,)))


def _equation_groups(equations: DerivedEquations) -> list:
    """Every group of equations of the pathway export, in order."""
    return [definitions_group(equations.gradient_flow), *flow_groups(equations.gradient_flow),
            *mode_groups(equations.modes)]


def _general_inputs_prose(modes: ModeEquations) -> list:
    if modes.input_variance is None:
        return []
    return [
        r"Inputs are not whitened: $\lambda_{\alpha} = v_{\alpha}^{\top} \Sigma^{x} v_{\alpha}$ is the input variance "
        r"of mode $\alpha$. The per-mode equations hold when $\Sigma^{x} = V \Lambda V^{\top}$ shares the right "
        r"singular vectors $V$ of $\Sigma^{yx} = U S V^{\top}$; they are the gradient flow of the reduced loss "
        r"$\tfrac{1}{2} \lambda_{\alpha} K_{\alpha}^{2} - S_{\alpha} K_{\alpha}$ with $K_{\alpha} = \sum_a K_{a\alpha}$, "
        r"and learning ends at $K_{\alpha} = S_{\alpha} / \lambda_{\alpha}$.",
    ]


def _reduced_heading(modes: ModeEquations) -> list:
    text = PathdynTextPrinter().doprint
    name = get_model(modes.kind).equations_name
    if modes.input_variance is None:
        return [f"# {name} of one mode with singular value S (tau = 1)"]
    return [
        f"# {name} of one mode with singular value S and input variance lambda = v^T Sigma_x v (tau = 1),",
        "# they hold per mode when Sigma_x = V Lambda V^T shares V with Sigma_yx = U S V^T (aligned inputs):",
        f"# reduced loss lambda*K**2/2 - S*K with K = sum_a K_a; error {text(modes.error)}; learning ends at sum_a K_a = S/lambda",
    ]


def _prose(equations: DerivedEquations, prod: bool) -> dict:
    """The document's paragraphs, by where they go: ``head``, ``flow`` (before the gradient flow), ``modes``, ``conserved``."""
    arch, modes = equations.architecture, equations.modes
    depths = ", ".join(str(d) for d in arch.depths)
    inputs = r"whitened inputs, $\Sigma^{x} = I$" if arch.whitened else r"general input correlation $\Sigma^{x}$"
    n_in = arch.n_in if arch.n_in is not None else r"n_{\mathrm{in}}"
    n_out = arch.n_out if arch.n_out is not None else r"n_{\mathrm{out}}"
    head = [Prose(
        text=f"# pathdyn equations: {arch.describe()}\n"
             "# time units: tau = 1 (gradient descent with learning rate eta reaches t = eta * step)",
        latex="\n".join([
            rf"\section*{{Learning equations of a {arch.num_pathways}-pathway linear network}}",
            rf"Depths $D_a = ({depths})$, input dimension ${n_in}$, output dimension ${n_out}$, {inputs}.",
            r"Pathway $a$ maps $\Omega_a = W_a^{(D_a)} \cdots W_a^{(1)}$; the network map is $\Omega = \sum_a \Omega_a$."]))]
    if prod:
        head.append(Prose(latex=rf"Products of layers are ordered, the highest layer on the left: ${PROD_NOTE}$.",
                          fragment=f"% ordered products: ${PROD_NOTE}$"))
    head.append(Prose(latex=r"Time is continuous with $\tau = 1$: gradient descent with learning rate $\eta$ reaches "
                            r"$t = \eta k$ after $k$ steps." "\nEvery equation below was derived by sympy from the loss."))
    return {
        "head": head,
        "flow": [Prose(text="# gradient flow: tau dW_a_d/dt = -dL/dW_a_d (W_a_d: layer d of pathway a; .T: transpose)",
                       latex=r"\subsection*{Gradient flow, $\tau\, dW_a^{(d)}/dt = -\partial L / \partial W_a^{(d)}$}")],
        "modes": [Prose(text="\n".join(_reduced_heading(modes)), latex="\n".join([
            r"\subsection*{Reduced equations of one mode}",
            r"For a mode $\alpha$ with singular value $S_{\alpha}$ of $\Sigma^{yx}$, in pathway $a$ the first $D_a - 1$ "
            r"layers carry the strength $q_{a\alpha}$ and the last one $p_{a\alpha}$; the mode strength is $K_{a\alpha}$.",
            *_general_inputs_prose(modes)]))],
        "conserved": [Prose(text="# conserved quantities (zero time derivative, verified)")],
    }


def pathway_document(equations: DerivedEquations, prod: bool = False) -> Document:
    """The format-neutral document of a pathway architecture's equations.

    Parameters
    ----------
    equations : DerivedEquations
    prod : bool
        Say in the document that products of layers are written as ordered ``\\prod``
        (the LaTeX writer's ``prod`` option).

    Returns
    -------
    Document
        Prose and groups in document order, the groups placed by their kind.
    """
    groups = _equation_groups(equations)
    prose = _prose(equations, prod)
    blocks = (*prose["head"], *select(groups, _K.DEFINITIONS), *prose["flow"], *select(groups, _K.GRADIENT_FLOW),
              *prose["modes"], *select(groups, _K.STRENGTHS, _K.REDUCED), *prose["conserved"], *select(groups, _K.CONSERVED))
    return Document(equations.architecture.describe(), blocks, header=_json_header(equations), data_sections=DATA_SECTIONS)


def equations_to_text(equations: DerivedEquations) -> str:
    """Plain-text equations in sympy's notation (``.T`` is the transpose).

    Parameters
    ----------
    equations : DerivedEquations

    Returns
    -------
    str
        A comment header, then the definitions, the gradient flow, the mode strengths,
        the reduced equations and the conserved quantities (in :class:`EquationKind`
        order), printed by :class:`~pathdyn.theory.printers.PathdynTextPrinter`.
    """
    return render(pathway_document(equations), "text")


def equations_to_latex(equations: DerivedEquations, fragment: bool = False, *, grouped: bool = True,
                       prod: bool = False, label_prefix: str = "") -> str:
    r"""LaTeX in the paper's notation: a standalone document, or the equations alone.

    Parameters
    ----------
    equations : DerivedEquations
    fragment : bool
        ``True`` gives only the equation environments (they need ``amsmath``).
    grouped : bool
        ``True`` (default) puts related equations in one ``align``: the definitions, each
        pathway's gradient flow, the mode strengths, the reduced equations, the conserved
        quantities. ``False`` gives one environment per equation.
    prod : bool
        Write products of three or more consecutive layers of a pathway as
        ``\prod_{k=i}^{j} W_a^{(k)}`` (ordered: ``W_a^{(j)} \cdots W_a^{(i)}``).
    label_prefix : str
        Labels become ``eq:PREFIX:W-a-d`` instead of ``eq:W-a-d``, so that two
        architectures can share one paper.

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        For a label prefix that is not a plain LaTeX label word.

    Notes
    -----
    Every layer (``tau dW_a^{(d)}/dt``), reduced variable (``q_{a\alpha}``, ``p_{a\alpha}``)
    and conserved quantity gets its own number and label; long right-hand sides break
    across lines (``\notag`` on continuation lines, so each equation keeps one number),
    and ``\allowdisplaybreaks`` lets long groups cross pages. Mode variables carry the
    pathway and mode indices, ``q_{a\alpha}``, like ``K_{a\alpha}`` and ``S_{\alpha}``.
    Uses only ``amsmath`` and ``geometry`` (texlive-latex-base).
    """
    return render(pathway_document(equations, prod=prod), "latex", fragment=fragment, grouped=grouped, prod=prod,
                  label_prefix=label_prefix)


def derived_equations_latex(equations: DerivedEquations, prod: bool = True) -> str:
    r"""Every equation of ``equations`` as one ``aligned`` block (for Jupyter); long products as ``\prod``.

    Parameters
    ----------
    equations : DerivedEquations
    prod : bool
        Write products of three or more consecutive layers with ``\prod``.

    Returns
    -------
    str
    """
    return LatexWriter().aligned(_equation_groups(equations), {"prod": prod})


# ======================================================================== JSON
def _json_header(equations: DerivedEquations) -> dict:
    """``format``, ``version``, ``description``, ``architecture`` and ``symbols`` of the JSON export."""
    arch, flow, modes = equations.architecture, equations.gradient_flow, equations.modes
    symbols = []
    dimension_owner: dict[str, tuple[int | None, int | None]] = {}
    for a, ws in enumerate(flow.weights, start=1):
        for d in range(1, len(ws)):
            dimension_owner[f"N_{a}_{d}"] = (a, d)
    for dim in flow.dimensions:
        owner_pathway, owner_layer = dimension_owner.get(dim.name, (None, None))
        symbols.append({"name": dim.name, "role": "dimension", "pathway": owner_pathway, "layer": owner_layer, "shape": None})
    for a, d, w, _ in flow.equations():
        symbols.append({"name": w.name, "role": "weight", "pathway": a, "layer": d, "shape": json_shape(w.shape)})
    if not arch.whitened:
        symbols.append({"name": "Sigma_x", "role": "Sigma_x", "pathway": None, "layer": None,
                        "shape": json_shape(flow.sigma_x.shape)})
    for matrix, role in ((flow.sigma_yx, "Sigma_yx"), (flow.omega, "Omega")):
        symbols.append({"name": matrix.name, "role": role, "pathway": None, "layer": None, "shape": json_shape(matrix.shape)})
    symbols.append({"name": str(modes.S), "role": "S", "pathway": None, "layer": None, "shape": None})
    if modes.input_variance is not None:
        symbols.append({"name": str(modes.input_variance), "role": "lambda", "pathway": None, "layer": None, "shape": None})
    for record in modes.layout:
        symbols.append({"name": str(record.symbol), "role": record.role, "pathway": record.pathway, "layer": None,
                        "shape": None})
    return {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "description": "tau dW_a^d/dt = -dL/dW_a^d with tau = 1, L = 1/2 tr(Omega Sigma_x Omega^T) - tr(Sigma_yx Omega^T);"
        + (" reduced q/p equations of one mode;" if modes.input_variance is None else
           " reduced q/p equations of one mode for aligned general inputs (lambda = v^T Sigma_x v, error"
           " S - lambda sum_a K_a, reduced loss lambda K^2/2 - S K);")
        + " each expression is a sympy srepr: rebuild it with"
        " pathdyn.theory.export.load_equations_json, which runs no code (sympy.sympify executes the text)",
        "architecture": arch.to_dict(),
        "symbols": symbols,
    }


def equations_to_json(equations: DerivedEquations) -> str:
    """The equations as JSON (schema in the module docstring), expressions as ``srepr``.

    Parameters
    ----------
    equations : DerivedEquations

    Returns
    -------
    str
        One top-level key per line, one list entry per line; expressions printed by
        :class:`~pathdyn.theory.printers.PathdynReprPrinter`.
    """
    return render(pathway_document(equations), "json")


@dataclass(frozen=True)
class LoadedEquations:
    """Expressions rebuilt from a JSON export by :func:`load_equations_json`.

    Attributes
    ----------
    architecture : Architecture
    symbols : dict
        Name -> sympy ``Symbol`` or ``MatrixSymbol`` (as they occur in the expressions).
    roles : dict
        Name -> the JSON symbol entry (role, pathway, layer, shape).
    definitions : dict
        Name -> expression (``"Omega"``).
    gradient_flow : dict
        ``(pathway, layer)`` -> right-hand side of ``tau dW_a^d/dt`` (with ``Omega``).
    modes : dict
        ``(pathway, "q" | "p")`` -> right-hand side.
    strengths : dict
        pathway -> ``K_a``.
    conserved : tuple of (pathway, expression)
    """

    architecture: Architecture
    symbols: dict
    roles: dict
    definitions: dict
    gradient_flow: dict
    modes: dict
    strengths: dict
    conserved: tuple

    def rhs_of(self, pathway: int, layer: int, expand: bool = False) -> sp.MatrixExpr:
        """The gradient-flow right-hand side of one layer, as loaded.

        Parameters
        ----------
        pathway : int
            Pathway ``a`` (1-based).
        layer : int
            Layer ``d`` of that pathway (1-based).
        expand : bool
            ``True`` substitutes the definitions (the named sub-expressions of the export)
            into the right-hand side.

        Returns
        -------
        sympy.Expr
            ``tau dW_a^{(d)}/dt`` as a sympy matrix expression.

        Raises
        ------
        ConfigError
            If the export has no equation for ``(pathway, layer)``.
        """
        try:
            rhs = self.gradient_flow[(pathway, layer)]
        except KeyError:
            raise ConfigError(f"(pathway, layer) = ({pathway}, {layer}) is not in the loaded equations") from None
        if expand:
            rhs = rhs.xreplace({self.symbols[name]: expr for name, expr in self.definitions.items() if name in self.symbols})
        return rhs


def load_equations_json(source: str | Path) -> LoadedEquations:
    """Rebuild the expressions of a JSON export with sympy.

    Parameters
    ----------
    source : str or pathlib.Path
        The JSON text, or the path of a file holding it.

    Returns
    -------
    LoadedEquations

    Raises
    ------
    ConfigError
        If the text is not a pathdyn equations export or an expression does not parse.

    Examples
    --------
    >>> from pathdyn.theory.export import derive_equations, equations_to_json
    >>> loaded = load_equations_json(equations_to_json(derive_equations((2, 1))))
    >>> loaded.rhs_of(2, 1)
    -Omega + Sigma_yx
    """
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith("{")):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"equations JSON: file {str(path)!r} not found; check the path") from None
        except UnicodeDecodeError as error:
            raise ConfigError(f"equations JSON: {str(path)!r} is not UTF-8 text (byte {error.start}); re-export it") from None
        except OSError as error:
            raise ConfigError(f"equations JSON: cannot read {str(path)!r} ({error.strerror or error})") from None
    else:
        text = source
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"equations JSON: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"equations JSON: holds a {type(data).__name__}, not a pathdyn equations export; "
                          "write one with pathdyn derive --format json")
    missing = [k for k in ("architecture", "symbols", "gradient_flow", "modes", "conserved") if k not in data]
    if data.get("format") != JSON_FORMAT or missing:
        raise ConfigError(
            f"equations JSON: not a pathdyn equations export (format {data.get('format')!r},"
            f" missing keys {missing}); write one with pathdyn derive --format json"
        )
    arch = Architecture.from_dict(data["architecture"], source="equations JSON architecture")
    try:
        return _rebuild_all(data, arch)
    except (KeyError, TypeError, AttributeError) as error:
        raise ConfigError(f"equations JSON: malformed entry ({type(error).__name__}: {error}); re-export with pathdyn derive --format json") from None


def _rebuild_all(data: dict, arch: Architecture) -> LoadedEquations:
    definitions = {e["name"]: rebuild_expression(e["expr"], f"definition {e['name']}") for e in data.get("definitions", [])}
    flow = {(e["pathway"], e["layer"]): rebuild_expression(e["rhs"], f"gradient_flow[{e['pathway']},{e['layer']}]")
            for e in data["gradient_flow"]}
    modes = {(e["pathway"], e["variable"]): rebuild_expression(e["rhs"], f"modes[{e['pathway']},{e['variable']}]")
             for e in data["modes"]}
    strengths = {e["pathway"]: rebuild_expression(e["expr"], f"strengths[{e['pathway']}]") for e in data.get("strengths", [])}
    conserved = tuple((e["pathway"], rebuild_expression(e["expr"], f"conserved[{e['pathway']}]")) for e in data["conserved"])
    symbols: dict[str, sp.Basic] = {}
    for expr in (*definitions.values(), *flow.values(), *modes.values(), *strengths.values(), *(c for _, c in conserved)):
        for atom in expr.atoms(sp.Symbol, sp.MatrixSymbol):
            symbols.setdefault(str(atom.name), atom)
    roles = {entry["name"]: entry for entry in data["symbols"]}
    return LoadedEquations(arch, symbols, roles, definitions, flow, modes, strengths, conserved)
