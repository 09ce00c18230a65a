"""Export of a graph's derived equations as text, LaTeX and JSON, and the JSON loader.

:func:`derive_graph_equations` bundles the matrix gradient flow of every edge
(:func:`pathdyn.theory.graph_flow.derive_graph_flow`) and the q/p-like reduced equations
of one mode (:func:`pathdyn.theory.graph_reduced.derive_graph_qp_equations`, which keeps
one strength per edge wherever no chain segment allows the reduction).

JSON schema (``"format": "pathdyn-graph-equations"``, ``"version": 1``)
------------------------------------------------------------------------
``"graph"``
    :meth:`GraphArchitecture.to_dict` (the ``[graph]`` table).
``"symbols"``
    ``{"name", "role", "edge", "shape"}``; ``role`` is ``weight`` (with its ``edge``),
    ``Sigma_x`` (general inputs only), ``Sigma_yx``, ``Omega``, ``dimension``, ``S``,
    ``lambda`` (general inputs only) or ``strength`` (a reduced variable, with the
    ``edges`` it stands for).
``"definitions"``
    ``[{"name": "Omega", "expr": ...}]``: the sum over paths of the products of the edge
    matrices.
``"gradient_flow"``
    ``[{"edge": [u, v], "rhs": ...}]``: ``tau dW_e/dt`` (tau = 1) in the weights,
    ``Sigma_yx``, ``Sigma_x`` and the symbol ``Omega``.
``"paths"``, ``"strengths"``
    Each path as a list of edges, and ``{"path": i, "expr"}``: its mode strength.
``"modes"``
    ``[{"variable", "edges", "rhs"}]``: the reduced equations of one mode.
``"conserved"``
    ``[{"expr"}]``: a basis of the conserved quadratic forms.

Expressions are ``srepr`` strings, rebuilt by :func:`load_graph_equations_json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import sympy as sp

from pathdyn.errors import ConfigError, DerivationError
from pathdyn.theory.document import EquationKind, Group, Row, dump_json, json_shape, rebuild_expression, select, token_width
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.graph_flow import GraphFlow, derive_graph_flow
from pathdyn.theory.graph_reduced import GraphModeEquations, derive_graph_qp_equations
from pathdyn.theory.printers import PathdynLatexPrinter, PathdynLatexTokenPrinter, PathdynReprPrinter, PathdynTextPrinter
from pathdyn.theory.reduced import is_identically_zero

__all__ = [
    "GraphEquations",
    "LoadedGraphEquations",
    "derive_graph_equations",
    "export_graph_equations",
    "graph_equations_to_json",
    "graph_equations_to_latex",
    "graph_equations_to_text",
    "load_graph_equations_json",
]

JSON_FORMAT = "pathdyn-graph-equations"
JSON_VERSION = 1


@dataclass(frozen=True)
class GraphEquations:
    """The matrix gradient flow and the reduced equations of one graph.

    Attributes
    ----------
    graph : GraphArchitecture
    gradient_flow : GraphFlow
    modes : GraphModeEquations
    """

    graph: GraphArchitecture
    gradient_flow: GraphFlow
    modes: GraphModeEquations


def derive_graph_equations(graph: GraphArchitecture) -> GraphEquations:
    """Derive the gradient flow of every edge and the q/p-like reduced equations of ``graph``.

    Parameters
    ----------
    graph : GraphArchitecture

    Returns
    -------
    GraphEquations
    """
    return GraphEquations(graph, derive_graph_flow(graph), derive_graph_qp_equations(graph))


def export_graph_equations(equations, format: str = "text", fragment: bool = False) -> str:
    """Format a graph's equations (or a :class:`GraphArchitecture`, derived first).

    Parameters
    ----------
    equations : GraphEquations or GraphArchitecture
    format : {"text", "latex", "json"}
    fragment : bool
        LaTeX only: the equations without the document.

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        For an unknown format, or ``fragment=True`` with a format other than LaTeX.
    """
    if format not in ("text", "latex", "json"):
        raise ConfigError(f"format: unknown format {format!r}; choose one of text, latex, json")
    if fragment and format != "latex":
        raise ConfigError(f"fragment: only LaTeX output has a fragment form, not {format!r}; drop --fragment or use --format latex")
    if not isinstance(equations, GraphEquations):
        equations = derive_graph_equations(equations)
    if format == "text":
        return graph_equations_to_text(equations)
    if format == "latex":
        return graph_equations_to_latex(equations, fragment=fragment)
    return graph_equations_to_json(equations)


def _prefactor(rhs, error):
    """``rhs / error``, verified: every reduced right-hand side is the mode error times a polynomial."""
    if isinstance(rhs, sp.Mul) and error in rhs.args:
        rest = list(rhs.args)
        rest.remove(error)
        prefactor = sp.Mul(*rest)
    else:
        prefactor = sp.cancel(rhs / error)
    if not is_identically_zero(sp.expand(prefactor * error - rhs)):
        raise DerivationError(f"{rhs} is not a multiple of the mode error {error}")
    return prefactor


# ======================================================================== text
def graph_equations_to_text(equations: GraphEquations) -> str:
    """Plain-text equations in sympy's notation (``.T`` is the transpose; ``W_u_v`` maps node u to node v).

    Parameters
    ----------
    equations : GraphEquations

    Returns
    -------
    str
        Printed by :class:`~pathdyn.theory.printers.PathdynTextPrinter`.
    """
    graph, flow, modes = equations.graph, equations.gradient_flow, equations.modes
    text = PathdynTextPrinter().doprint
    lines = [
        f"# pathdyn equations: {graph.describe()}",
        "# edges (u -> v, weight W_u_v): " + ", ".join(f"{u}->{v}" for u, v in graph.edges),
        "# time units: tau = 1 (gradient descent with learning rate eta reaches t = eta * step)",
        "# loss: L = 1/2 tr(Omega Sigma_x Omega^T) - tr(Sigma_yx Omega^T)" + (", Sigma_x = I (whitened)" if graph.whitened else ""),
        f"Omega = {text(flow.omega_definition)}",
        f"dL/dOmega = {text(flow.omega_gradient)}",
        "# gradient flow: tau dW_u_v/dt = -dL/dW_u_v",
    ]
    for edge, w, rhs in flow.equations():
        lines.append(f"d{w.name}/dt = {text(rhs)}")
    lam = "" if graph.whitened else " and input variance lambda = v^T Sigma_x v (Sigma_x aligned with the modes)"
    lines.append(f"# reduced equations of one mode with singular value S{lam} (tau = 1)")
    for i, (path, k) in enumerate(zip(graph.paths, modes.strengths), start=1):
        route = " -> ".join([path[0][0]] + [v for _, v in path])
        lines.append(f"K_{i} = {text(k)}    # path {route}")
    for x, edges, f in zip(modes.state, modes.state_edges, modes.rhs):
        lines.append(f"d{text(x)}/dt = {text(f)}    # edge(s) {', '.join(f'{u}->{v}' for u, v in edges)}")
    lines.append("# conserved quantities (zero time derivative, verified)")
    conserved = PathdynTextPrinter({"order": "rev-lex"}).doprint
    for inv in modes.invariants:
        lines.append(f"d/dt ({conserved(inv.expr)}) = 0")
    return "\n".join(lines) + "\n"


# ======================================================================= LaTeX
def _latex_names(flow: GraphFlow, modes: GraphModeEquations) -> dict:
    r"""The graph's own LaTeX names: ``W_{v <- u}`` for the edge matrices, ``S_{\alpha}``, ``s_{v <- u}``.

    They go to the printers as sympy's ``symbol_names`` setting; every other symbol
    prints as :func:`sympy.latex` prints it.
    """
    names = {w: rf"W_{{\mathrm{{{v}}}\leftarrow\mathrm{{{u}}}}}" for (u, v), w in flow.weights.items()}
    names[modes.S] = r"S_{\alpha}"
    for x, edges in zip(modes.state, modes.state_edges):
        if str(x).startswith("s_"):
            (u, v), = edges
            names[x] = rf"s_{{\mathrm{{{v}}}\leftarrow\mathrm{{{u}}}}}"
    return names


def _one(comment: str, kind: EquationKind, row: Row) -> Group:
    """A group of one equation: the graph export gives every equation its own environment."""
    return Group(comment, kind, (row,))


def _graph_groups(equations: GraphEquations) -> list:
    """Every equation of the LaTeX export, in order, one :class:`~pathdyn.theory.document.Group` each."""
    graph, flow, modes = equations.graph, equations.gradient_flow, equations.modes
    settings = {"mode_indices": False, "symbol_names": _latex_names(flow, modes)}
    latex = PathdynLatexPrinter(settings).doprint
    tokens = PathdynLatexTokenPrinter(settings).doprint
    K = EquationKind
    loss_inner = r"\Omega \Omega^{\top}" if graph.whitened else r"\Omega \Sigma^{x} \Omega^{\top}"
    groups = [
        _one("loss", K.DEFINITIONS, Row("L", (rf"\tfrac{{1}}{{2}} \operatorname{{tr}}\bigl({loss_inner}\bigr)",
                                              r"- \operatorname{tr}\bigl(\Sigma^{yx} \Omega^{\top}\bigr)"))),
        _one("network map", K.DEFINITIONS, Row(r"\Omega", tuple(tokens(flow.omega_definition)))),
        _one("gradient with respect to Omega (sympy)", K.DEFINITIONS,
             Row(r"\frac{\partial L}{\partial \Omega}", tuple(tokens(flow.omega_gradient)))),
    ]
    lhs_width = token_width(r"\tau \frac{d W_{\mathrm{h1}\leftarrow\mathrm{h2}}}{dt}")
    for k, (edge, w, rhs) in enumerate(flow.equations(), start=1):
        groups.append(_one(f"gradient flow, edge {edge[0]} -> {edge[1]}", K.GRADIENT_FLOW, Row(
            rf"\tau \frac{{d {latex(w)}}}{{dt}}", tuple(tokens(rhs)), label=f"W-{k}", lhs_width=lhs_width)))
    for i, k in enumerate(modes.strengths, start=1):
        groups.append(_one(f"mode strength of path {i}", K.STRENGTHS, Row(rf"K_{{{i}\alpha}}", (latex(k),))))
    lam = "" if graph.whitened else r"\lambda_{\alpha} "
    error_tokens = (r"\Bigl(S_{\alpha} - " + lam + r"\textstyle\sum_{i} K_{i\alpha}\Bigr)",)
    for i, (x, f) in enumerate(zip(modes.state, modes.rhs), start=1):
        prefactor = _prefactor(f, modes.error)
        factor = latex(prefactor)
        if isinstance(prefactor, sp.Add):
            factor = rf"\bigl({factor}\bigr)"
        row_tokens = error_tokens if prefactor == 1 else (factor, *error_tokens)
        groups.append(_one(f"reduced equation of {x}", K.REDUCED,
                           Row(rf"\tau \frac{{d {latex(x)}}}{{dt}}", row_tokens, label=f"mode-{i}")))
    conserved = PathdynLatexPrinter({**settings, "order": "rev-lex"}).doprint
    for i, inv in enumerate(modes.invariants, start=1):
        groups.append(_one(f"conserved quantity {i}", K.CONSERVED, Row(
            rf"\frac{{d}}{{dt}} \bigl({conserved(inv.expr)}\bigr)", ("0",), label=f"conserved-{i}")))
    return groups


def graph_equations_to_latex(equations: GraphEquations, fragment: bool = False) -> str:
    """LaTeX: a standalone document (``amsmath``, ``geometry``), or the equations alone.

    Parameters
    ----------
    equations : GraphEquations
    fragment : bool
        ``True`` gives only the equation environments (they need ``amsmath``).

    Returns
    -------
    str
    """
    graph = equations.graph
    groups = _graph_groups(equations)
    if fragment:
        return "% pathdyn equations (needs amsmath): " + graph.describe() + "\n" + "\n".join(g.render() for g in groups) + "\n"

    def blocks(*kinds) -> list:
        return [g.render() for g in select(groups, *kinds)]

    edges = ", ".join(rf"$\mathrm{{{u}}} \to \mathrm{{{v}}}$" for u, v in graph.edges)
    inputs = r"whitened inputs, $\Sigma^{x} = I$" if graph.whitened else (
        r"general input correlation $\Sigma^{x}$; the reduced equations assume $\Sigma^{x} v_{\alpha} = \lambda_{\alpha} v_{\alpha}$")
    document = [
        r"\documentclass[10pt]{article}",
        r"\usepackage[a4paper,margin=2cm]{geometry}",
        r"\usepackage{amsmath}",
        r"\allowdisplaybreaks",
        r"\begin{document}",
        r"\section*{Learning equations of a linear network on a graph}",
        rf"Edges {edges}; {inputs}.",
        r"The edge $u \to v$ carries the matrix $W_{v \leftarrow u}$; a node sums its incoming edges; "
        r"$\Omega$ is the sum over the paths from $x$ to $y$ of the products of the edge matrices.",
        r"Time is continuous with $\tau = 1$: gradient descent with learning rate $\eta$ reaches $t = \eta k$ after $k$ steps.",
        r"Every equation below was derived by sympy from the loss.",
        *blocks(EquationKind.DEFINITIONS),
        r"\subsection*{Gradient flow, $\tau\, dW_{e}/dt = -\partial L / \partial W_{e}$}",
        *blocks(EquationKind.GRADIENT_FLOW),
        r"\subsection*{Reduced equations of one mode}",
        r"For a mode $\alpha$ with singular value $S_{\alpha}$, edge $e$ carries the strength $s_{e}$; path $i$ has the "
        r"strength $K_{i\alpha}$, the product of its edge strengths; along a chain segment all edges but the last "
        r"share the strength $q$ and the last one has $p$.",
        *blocks(EquationKind.STRENGTHS, EquationKind.REDUCED, EquationKind.CONSERVED),
        r"\end{document}",
    ]
    return "\n".join(document) + "\n"


# ======================================================================== JSON
def graph_equations_to_json(equations: GraphEquations) -> str:
    """The equations as JSON (schema in the module docstring), expressions as ``srepr``.

    Parameters
    ----------
    equations : GraphEquations

    Returns
    -------
    str
        Expressions printed by :class:`~pathdyn.theory.printers.PathdynReprPrinter`.
    """
    graph, flow, modes = equations.graph, equations.gradient_flow, equations.modes
    srepr = PathdynReprPrinter().doprint
    symbols = [{"name": d.name, "role": "dimension", "edge": None, "shape": None} for d in flow.dimensions]
    symbols += [{"name": w.name, "role": "weight", "edge": list(e), "shape": json_shape(w.shape)} for e, w, _ in flow.equations()]
    if not graph.whitened:
        symbols.append({"name": "Sigma_x", "role": "Sigma_x", "edge": None, "shape": json_shape(flow.sigma_x.shape)})
    for matrix, role in ((flow.sigma_yx, "Sigma_yx"), (flow.omega, "Omega")):
        symbols.append({"name": matrix.name, "role": role, "edge": None, "shape": json_shape(matrix.shape)})
    symbols += [{"name": str(p), "role": str(p), "edge": None, "shape": None} for p in modes.parameters]
    symbols += [{"name": str(x), "role": "strength", "edges": [list(e) for e in edges], "shape": None}
                for x, edges in zip(modes.state, modes.state_edges)]
    data = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "description": "tau dW_e/dt = -dL/dW_e with tau = 1, L = 1/2 tr(Omega Sigma_x Omega^T) - tr(Sigma_yx Omega^T);"
        " reduced equations of one mode; each expression is a sympy srepr: rebuild it with"
        " pathdyn.theory.graph_export.load_graph_equations_json, which runs no code (sympy.sympify executes the text)",
        "graph": graph.to_dict(),
        "symbols": symbols,
        "definitions": [{"name": flow.omega.name, "expr": srepr(flow.omega_definition)}],
        "gradient_flow": [{"edge": list(e), "rhs": srepr(rhs)} for e, _, rhs in flow.equations()],
        "paths": [[list(e) for e in path] for path in graph.paths],
        "strengths": [{"path": i, "expr": srepr(k)} for i, k in enumerate(modes.strengths, start=1)],
        "modes": [{"variable": str(x), "edges": [list(e) for e in edges], "rhs": srepr(f)}
                  for x, edges, f in zip(modes.state, modes.state_edges, modes.rhs)],
        "conserved": [{"expr": srepr(inv.expr)} for inv in modes.invariants],
    }
    return dump_json(data)


@dataclass(frozen=True)
class LoadedGraphEquations:
    """Expressions rebuilt from a graph JSON export.

    Attributes
    ----------
    graph : GraphArchitecture
    definitions : dict
        ``"Omega"`` -> its expression in the edge matrices.
    gradient_flow : dict
        Edge ``(u, v)`` -> right-hand side of ``tau dW_e/dt``.
    strengths : dict
        Path number (1-based) -> ``K_i``.
    modes : dict
        Variable name -> right-hand side.
    conserved : tuple of sympy.Expr
    """

    graph: GraphArchitecture
    definitions: dict
    gradient_flow: dict
    strengths: dict
    modes: dict
    conserved: tuple


def load_graph_equations_json(source) -> LoadedGraphEquations:
    """Rebuild the expressions of a graph JSON export with sympy.

    Parameters
    ----------
    source : str or pathlib.Path
        The JSON text, or the path of a file holding it.

    Returns
    -------
    LoadedGraphEquations

    Raises
    ------
    ConfigError
        If the text is not a graph equations export or an expression does not parse.
    """
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith("{")):
        try:
            source = Path(source).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"equations JSON: file {str(source)!r} not found; check the path") from None
        except UnicodeDecodeError as error:
            raise ConfigError(f"equations JSON: {str(source)!r} is not UTF-8 text (byte {error.start}); re-export it") from None
        except OSError as error:
            raise ConfigError(f"equations JSON: cannot read {str(source)!r} ({error.strerror or error})") from None
    try:
        data = json.loads(source)
    except json.JSONDecodeError as error:
        raise ConfigError(f"equations JSON: not valid JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
        raise ConfigError("equations JSON: not a pathdyn graph equations export; write one with "
                          "pathdyn derive --architecture GRAPH.toml --format json")
    try:
        graph = GraphArchitecture.from_dict(data["graph"], source="equations JSON graph")
        return LoadedGraphEquations(
            graph=graph,
            definitions={e["name"]: rebuild_expression(e["expr"], f"definition {e['name']}") for e in data["definitions"]},
            gradient_flow={tuple(e["edge"]): rebuild_expression(e["rhs"], f"gradient_flow{e['edge']}") for e in data["gradient_flow"]},
            strengths={e["path"]: rebuild_expression(e["expr"], f"strengths[{e['path']}]") for e in data["strengths"]},
            modes={e["variable"]: rebuild_expression(e["rhs"], f"modes[{e['variable']}]") for e in data["modes"]},
            conserved=tuple(rebuild_expression(e["expr"], "conserved") for e in data["conserved"]),
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise ConfigError(f"equations JSON: malformed entry ({type(error).__name__}: {error}); re-export with pathdyn derive") from None
