"""The document of a graph's derived equations (text, LaTeX, JSON through the writers), and the JSON loader.

:func:`derive_graph_equations` bundles the matrix gradient flow of every edge
(:func:`pathdyn.theory.graph_flow.derive_graph_flow`) and the q/p-like reduced equations
of one mode (:func:`pathdyn.theory.graph_reduced.derive_graph_qp_equations`, which keeps
one strength per edge wherever no chain segment allows the reduction), both in node form
by default: every node's forward and backward map (and, per mode, its forward and backward
strength) is defined once and the equations use them, so the export grows with the number
of edges. ``form="path-sums"`` writes every map out as a sum over paths (small graphs).
Typeset (LaTeX), the node form shows the equations of the edges as one equation for every
edge ``u -> v`` -- each edge's derived right-hand side is compared with that equation
written for the edge, and the edges it does not give (the ``q``, ``p`` of chain segments)
follow it -- and the conserved balance of every hidden node as one equation for every
hidden node ``v`` (checked node by node the same way; the others follow it), so the
mouse-visual-cortex example (47 edges) fits in three pages; ``per_edge=True`` lists every
edge and every conserved quantity. Text and JSON always hold every edge.
:func:`graph_document` builds the format-neutral document that the writers of
:mod:`pathdyn.theory.writers` render.

JSON schema (``"format": "pathdyn-graph-equations"``, ``"version": 2``)
------------------------------------------------------------------------
``"form"``
    ``"node"`` or ``"path-sums"``.
``"graph"``
    :meth:`GraphArchitecture.to_dict` (the ``[graph]`` table).
``"symbols"``
    ``{"name", "role", "edges", "node", "shape"}``; ``role`` is ``weight`` (with its one
    edge in ``edges``), ``Sigma_x`` (general inputs only), ``Sigma_yx``, ``Omega``,
    ``forward map`` / ``backward map`` (``F_v`` / ``B_v`` of ``node``), ``dimension``,
    ``S``, ``lambda`` (general inputs only), ``strength`` (a reduced variable, with the
    ``edges`` it stands for), ``forward strength`` / ``backward strength`` (``f_v`` /
    ``b_v`` of ``node``) or ``total strength`` (``K``).
``"definitions"``
    ``[{"name", "expr"}]`` in evaluation order: each uses only the weights, the reduced
    variables, the parameters and the names defined before it. Node form: the forward maps
    in topological order, ``Omega``, the backward maps in reverse order, then the node
    strengths of one mode the same way (``K`` is the forward strength of ``y``). Path sums:
    ``Omega`` as the sum over paths.
``"gradient_flow"``
    ``[{"edge": [u, v], "rhs"}]``: ``tau dW_e/dt`` (tau = 1) in the weights, ``Sigma_yx``,
    ``Sigma_x`` and the defined names.
``"paths"``, ``"strengths"`` (path sums only)
    Each path as a list of edges, and ``{"path": i, "expr"}``: its mode strength.
``"modes"``
    ``[{"variable", "edges", "rhs"}]``: the reduced equations of one mode.
``"conserved"``
    ``[{"expr"}]``: conserved quadratic forms of the reduced variables.

Expressions are ``srepr`` strings, rebuilt by :func:`load_graph_equations_json` (which runs
no code); :meth:`LoadedGraphEquations.expand` writes the definitions out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sympy as sp

from pathdyn.errors import ConfigError, DerivationError
from pathdyn.io.reading import parse_json
from pathdyn.theory.document import (
    Document,
    Equation,
    EquationKind,
    Group,
    Literal,
    Prose,
    Relation,
    json_shape,
    rebuild_expression,
    select,
)
from pathdyn.theory.architecture import Architecture, as_graph
from pathdyn.theory.graph import INPUT, OUTPUT, GraphArchitecture
from pathdyn.theory.graph_flow import GraphFlow, derive_graph_flow, expand_definitions
from pathdyn.theory.graph_reduced import GraphModeEquations, derive_graph_qp_equations, edge_strength_symbol
from pathdyn.theory.matrix_calculus import is_zero_matrix
from pathdyn.theory.printers import ModeError, ScaledError, graph_latex_names
from pathdyn.theory.algebra import is_identically_zero
from pathdyn.theory.writers import check_options, render

__all__ = [
    "GRAPH_FORMS",
    "GraphEquations",
    "LoadedGraphEquations",
    "derive_graph_equations",
    "export_graph_equations",
    "graph_document",
    "graph_equations_to_json",
    "graph_equations_to_latex",
    "graph_equations_to_text",
    "load_graph_equations_json",
]

JSON_FORMAT = "pathdyn-graph-equations"
JSON_VERSION = 2
#: ``node`` (default): each node's maps and strengths defined once; ``path-sums``: written out over paths.
GRAPH_FORMS = ("node", "path-sums")
_K = EquationKind
#: Node definitions typeset side by side, at most this many to a line (where they fit).
_COLUMNS = 3


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

    @property
    def form(self) -> str:
        """``node`` or ``path-sums``."""
        return self.gradient_flow.form


def derive_graph_equations(graph: GraphArchitecture | Architecture, form: str = "node") -> GraphEquations:
    """Derive the gradient flow of every edge and the q/p-like reduced equations of ``graph``.

    Parameters
    ----------
    graph : GraphArchitecture or Architecture (pathways: the graph of their chains)
    form : {"node", "path-sums"}
        ``node`` (default): in the nodes' maps and strengths, linear in the number of edges;
        ``path-sums``: every map written out over the paths (needs the paths listed).

    Returns
    -------
    GraphEquations

    Raises
    ------
    ConfigError
        For an unknown form.
    """
    graph = as_graph(graph)  # pathways are the graph of their chains
    if form not in GRAPH_FORMS:
        raise ConfigError(f"form: unknown form {form!r}; choose one of {', '.join(GRAPH_FORMS)}")
    return GraphEquations(graph, derive_graph_flow(graph, form=form), derive_graph_qp_equations(graph, form=form))


def export_graph_equations(equations: GraphEquations | GraphArchitecture, format: str = "text", fragment: bool = False, form: str = "node",
                           **latex_options: Any) -> str:
    """Format a graph's equations (or a :class:`GraphArchitecture`, derived first) in any registered format.

    Parameters
    ----------
    equations : GraphEquations or GraphArchitecture
    format : str
        A writer of :mod:`pathdyn.theory.writers` (``text``, ``latex``, ``json``, ...).
    fragment : bool
        LaTeX only: the equations without the document.
    form : {"node", "path-sums"}
        How a :class:`GraphArchitecture` is derived (ignored for derived equations).
    **latex_options
        LaTeX only: ``grouped``, ``label_prefix``, ``per_edge`` (every edge's equation, every
        conserved quantity and every node definition on a line of its own; by default, in
        node form, one equation for every edge and one balance for every hidden node, checked
        edge by edge and node by node, and the definitions side by side; node form only), and
        ``prod``, which graphs do not use.

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        For an unknown format, a LaTeX option with another format, or ``per_edge`` with
        ``form="path-sums"`` (or path-sum equations).
    """
    options = {"fragment": fragment, **latex_options}
    check_options(format, options)
    _check_per_edge(equations.form if isinstance(equations, GraphEquations) else form, options)
    if not isinstance(equations, GraphEquations):
        equations = derive_graph_equations(equations, form=form)
    return render(graph_document(equations), format, **options)


def _check_per_edge(form: str, options: dict[str, Any]) -> None:
    """Refuse ``per_edge`` with path sums, which it would not change (the command line refuses ``--per-edge --path-sums``)."""
    if options.get("per_edge") and form == "path-sums":
        raise ConfigError("per_edge: applies to the node form (path sums list every edge's equation already); "
                          "drop per_edge or use form=\"node\"")


def _prefactor(rhs: sp.Expr, error: sp.Expr) -> sp.Expr:
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


def _edge_text(edge: tuple[str, str]) -> str:
    return f"{edge[0]} -> {edge[1]}"


def _symbol_roles(flow: GraphFlow, modes: GraphModeEquations) -> list[tuple[sp.Symbol, str, tuple[str, ...]]]:
    """``(symbol, role, nodes)`` of every named symbol of the export (notation and JSON symbols)."""
    roles: list[tuple[sp.Symbol, str, tuple[str, ...]]] = [(w, "weight", edge) for edge, w in flow.weights.items()]
    for symbol, _ in flow.definitions:
        if symbol != flow.omega:
            roles.append((symbol, "forward map" if symbol.name.startswith("F_") else "backward map", (symbol.name[2:],)))
    roles.append((modes.S, "S", ()))
    if modes.input_variance is not None:
        roles.append((modes.input_variance, "lambda", ()))
    for symbol, _ in modes.definitions:
        name = str(symbol)
        role = "total strength" if name == "K" else ("forward strength" if name.startswith("f_") else "backward strength")
        roles.append((symbol, role, (name[2:],) if name != "K" else ()))
    for x, edges in zip(modes.state, modes.state_edges):
        roles.append((x, "strength", edges[0] if str(x).startswith("s_") else ()))
    return roles


def _notation(flow: GraphFlow, modes: GraphModeEquations) -> dict[str, Any]:
    """Settings of the LaTeX printers: the graph's own names, sympy's otherwise."""
    short = {"forward map": "forward", "backward map": "backward", "forward strength": "forward",
             "backward strength": "backward", "total strength": "total"}
    symbols: list[tuple[sp.Symbol, str, tuple[str | int, ...]]] = [
        (symbol, short.get(role, role), nodes) for symbol, role, nodes in _symbol_roles(flow, modes)]
    symbols += [(sp.Symbol(f"K_{i}"), "path", (i,)) for i in range(1, len(modes.strengths) + 1) if modes.form == "path-sums"]
    names = graph_latex_names(symbols)
    names.update({symbol: latex for symbol, latex in _GENERIC_NAMES.values()})
    weight, backward, forward = _generic_maps(flow)
    names.update({weight: r"W_{v\leftarrow u}", backward: r"B_{v}", forward: r"F_{u}"})
    return {"mode_indices": False, "symbol_names": names}


# ==================================================== one equation for every edge
# The generic edge u -> v of the equations written once for all edges; node names are
# alphanumeric, so these names never clash with a graph's own symbols.
_N_U, _N_V = sp.Symbol("N_<u>", integer=True, positive=True), sp.Symbol("N_<v>", integer=True, positive=True)
_GENERIC_NAMES = {
    "s": (sp.Symbol("s_<u>_<v>", real=True), r"s_{v\leftarrow u}"),
    "b": (sp.Symbol("b_<v>", real=True), r"b_{v}"),
    "f": (sp.Symbol("f_<u>", real=True), r"f_{u}"),
    "C": (sp.Symbol("C_<v>", real=True), r"C_{v}"),
}
_EVERY_EDGE = r"\text{for every edge } u \to v"
#: The balance of the generic hidden node ``v``, spelled per format (its instances are checked node by node).
_BALANCE = Literal("sum over edges u -> v of s_u_v**2 - sum over edges v -> w of s_v_w**2; d C_v/dt = 0",
                   (r"\sum_{u \to v} s_{v\leftarrow u}^{2}", r"- \sum_{v \to w} s_{w\leftarrow v}^{2},",
                    r"\quad \frac{d C_{v}}{dt} = 0"))


def _generic_maps(flow: GraphFlow) -> tuple[sp.MatrixSymbol, sp.MatrixSymbol, sp.MatrixSymbol]:
    """``(W_{v<-u}, B_v, F_u)`` of the generic edge, shaped as the flow's data."""
    n_out, n_in = flow.omega.shape
    return (sp.MatrixSymbol("W_<u>_<v>", _N_V, _N_U), sp.MatrixSymbol("B_<v>", n_out, _N_V),
            sp.MatrixSymbol("F_<u>", _N_U, n_in))


def _edge_flow(flow: GraphFlow, backward: sp.MatrixExpr, forward: sp.MatrixExpr) -> sp.MatrixExpr:
    """``tau dW_{v<-u}/dt = B_v^T (-dL/dOmega) F_u^T`` for the backward map of ``v`` and the forward map of ``u``."""
    return backward.T * (-flow.omega_gradient) * forward.T


def _flow_instance(flow: GraphFlow, edge: tuple[str, str]) -> sp.MatrixExpr | None:
    """The generic flow on ``edge`` (``B_y = I``, ``F_x = I``), or None where a map it needs is not defined."""
    maps = {symbol.name: symbol for symbol, _ in flow.definitions}
    n_out, n_in = flow.omega.shape
    (u, v) = edge
    backward = sp.Identity(n_out) if v == OUTPUT else maps.get(f"B_{v}")
    forward = sp.Identity(n_in) if u == INPUT else maps.get(f"F_{u}")
    return None if backward is None or forward is None else _edge_flow(flow, backward, forward)


def _flow_summary(flow: GraphFlow, rows: tuple[Equation, ...]) -> tuple[Equation, ...] | None:
    """One equation for every edge, then the edges whose derived flow it does not give; None when it gives fewer than two.

    Each edge's derived right-hand side is compared with the generic one written for that
    edge, so the summary never claims an equation sympy did not derive.
    """
    if flow.form != "node":
        return None
    given = []
    for edge in flow.graph.edges:
        instance = _flow_instance(flow, edge)
        given.append(instance is not None and (instance == flow.rhs[edge] or is_zero_matrix((instance - flow.rhs[edge]).doit())))
    if sum(given) < 2:
        return None
    weight, backward, forward = _generic_maps(flow)
    generic = Equation(weight, _edge_flow(flow, backward, forward), Relation.RATE, label="W-edge",
                       note="gradient flow of every edge u -> v",
                       condition=_EVERY_EDGE + r", \ F_{\mathrm{x}} = I, \ B_{\mathrm{y}} = I")
    return (generic, *(row for row, same in zip(rows, given) if not same))


def _mode_instance(modes: GraphModeEquations, variable: sp.Symbol, edges: tuple) -> sp.Expr | None:
    """``b_v f_u (S - lambda K)`` for an edge with its own strength (``b_y = f_x = 1``), or None."""
    if len(edges) != 1 or variable != edge_strength_symbol(edges[0]):
        return None
    defined = {str(symbol): symbol for symbol, _ in modes.definitions}
    (u, v) = edges[0]
    backward = sp.Integer(1) if v == OUTPUT else defined.get(f"b_{v}")
    forward = sp.Integer(1) if u == INPUT else defined.get(f"f_{u}")
    return None if backward is None or forward is None else backward * forward * modes.error


def _mode_summary(modes: GraphModeEquations, rows: tuple[Equation, ...], error: ModeError) -> tuple[Equation, ...] | None:
    """One reduced equation for every edge with its own strength, then the variables it does not give
    (the ``q``, ``p`` of chain segments); None when it gives fewer than two. Checked variable by variable."""
    if modes.form != "node":
        return None
    given = []
    for x, edges, rhs in zip(modes.state, modes.state_edges, modes.rhs):
        instance = _mode_instance(modes, x, edges)
        given.append(instance is not None and is_identically_zero(sp.expand(instance - rhs)))
    if sum(given) < 2:
        return None
    strength, backward, forward = (_GENERIC_NAMES[key][0] for key in ("s", "b", "f"))
    generic = Equation(strength, backward * forward * modes.error, Relation.RATE, label="mode-edge",
                       note="reduced equation of every edge u -> v with its own strength",
                       display=ScaledError(backward * forward, error),
                       condition=_EVERY_EDGE + r"\text{ with its own strength}, \ f_{\mathrm{x}} = b_{\mathrm{y}} = 1")
    return (generic, *(row for row, same in zip(rows, given) if not same))


def _balance_instance(modes: GraphModeEquations, nodes: tuple[str, ...]) -> sp.Expr | None:
    """``C_v`` of the generic node written for ``nodes = (v,)`` in the edges' own strengths, or None for other nodes."""
    graph = modes.graph
    if graph is None or len(nodes) != 1 or nodes[0] not in graph.hidden_nodes:
        return None
    (v,) = nodes
    return (sp.Add(*[edge_strength_symbol(e) ** 2 for e in graph.in_edges(v)])
            - sp.Add(*[edge_strength_symbol(e) ** 2 for e in graph.out_edges(v)]))


def _conserved_summary(modes: GraphModeEquations, rows: tuple[Equation, ...]) -> tuple[Equation, ...] | None:
    """One balance for every hidden node, then the conserved quantities it does not give (those in
    ``q``, ``p`` of chain segments, those of interchangeable nodes); None when it gives fewer than two.

    Each node's derived invariant is compared with the generic balance written for that
    node, in the edges' own strengths, so a node next to a chain segment (whose invariant
    is in ``q`` or ``p``) or an invariant edited after its derivation is listed.
    """
    if modes.form != "node":
        return None
    nodes_of = modes.invariant_nodes if len(modes.invariant_nodes) == len(modes.invariants) else ((),) * len(modes.invariants)
    given = []
    for invariant, nodes in zip(modes.invariants, nodes_of):
        instance = _balance_instance(modes, nodes)
        given.append(instance is not None and is_identically_zero(sp.expand(instance - invariant.expr)))
    if sum(given) < 2:
        return None
    generic = Equation(_GENERIC_NAMES["C"][0], _BALANCE, label="conserved-node",
                       note="conserved balance of every hidden node v",
                       condition=r"\text{for every hidden node } v\text{ with no } q, p\text{ edge}")
    return (generic, *(row for row, same in zip(rows, given) if not same))


# ================================================================ the document
def _loss(graph: GraphArchitecture) -> Equation:
    inner = r"\Omega \Omega^{\top}" if graph.whitened else r"\Omega \Sigma^{x} \Omega^{\top}"
    return Equation(sp.Symbol("L"), Literal(
        "1/2 tr(Omega Sigma_x Omega^T) - tr(Sigma_yx Omega^T)" + (", Sigma_x = I (whitened)" if graph.whitened else ""),
        (rf"\tfrac{{1}}{{2}} \operatorname{{tr}}\bigl({inner}\bigr)", r"- \operatorname{tr}\bigl(\Sigma^{yx} \Omega^{\top}\bigr)")),
        note="loss")


def _definition_groups(flow: GraphFlow) -> list[Group]:
    """The loss and the gradient of the loss; the forward maps and ``Omega``; the backward maps."""
    named = [Equation(symbol, expr, note=f"{'network map' if symbol == flow.omega else 'map of node ' + symbol.name[2:]}",
                      keys=(("name", symbol.name),)) for symbol, expr in flow.definitions]
    forward = [e for e in named if not e.lhs.name.startswith("B_")]
    backward = [e for e in named if e.lhs.name.startswith("B_")]
    columns = _COLUMNS if flow.form == "node" else 1
    groups = [Group("loss and its gradient with respect to Omega (sympy)", _K.DEFINITIONS, (
        _loss(flow.graph),
        Equation(flow.omega, flow.omega_gradient, Relation.GRADIENT, note="gradient with respect to Omega (sympy)")))]
    groups.append(Group("forward maps of the nodes and the network map" if flow.form == "node" else "network map",
                        _K.DEFINITIONS, tuple(forward), columns=columns))
    if backward:
        groups.append(Group("backward maps of the nodes", _K.DEFINITIONS, tuple(backward), columns=columns))
    return groups


def _flow_groups(flow: GraphFlow) -> list[Group]:
    """``tau dW_e/dt`` of every edge, in edge order, in one group."""
    rows = tuple(Equation(flow.weights[e], flow.rhs[e], Relation.RATE, label=f"W-{k}",
                          note=f"gradient flow, edge {_edge_text(e)}", keys=(("edge", list(e)),))
                 for k, e in enumerate(flow.graph.edges, start=1))
    return [Group("gradient flow of every edge", _K.GRADIENT_FLOW, rows, summary=_flow_summary(flow, rows))]


def _mode_groups(modes: GraphModeEquations) -> list[Group]:
    """The node strengths (or the path strengths), the reduced equations, the conserved quantities."""
    if modes.form == "node":
        strengths = [Equation(symbol, expr, note=f"strength of node {str(symbol)[2:]}" if str(symbol) != "K"
                              else "total strength of the mode", keys=(("name", str(symbol)),))
                     for symbol, expr in modes.definitions]
        title, names = "strengths of the nodes", [modes.total]
    else:
        strengths = [Equation(sp.Symbol(f"K_{i}"), k, note=f"strength of path {i}", keys=(("path", i),))
                     for i, k in enumerate(modes.strengths, start=1)]
        title, names = "strengths of the paths", [sp.Symbol(f"K_{i}") for i in range(1, len(modes.strengths) + 1)]
    error = ModeError(modes.S, modes.input_variance or 1, *names)
    reduced = [Equation(x, f, Relation.RATE, label=f"mode-{i}", note=f"reduced equation of {x}",
                        keys=(("variable", str(x)), ("edges", [list(e) for e in edges])),
                        display=ScaledError(_prefactor(f, modes.error), error))
               for i, (x, edges, f) in enumerate(zip(modes.state, modes.state_edges, modes.rhs), start=1)]
    conserved = [Equation(inv.expr, sp.Integer(0), Relation.CONSERVED, label=f"conserved-{i}",
                          note=f"conserved quantity {i}", keys=(), term_order="rev-lex")
                 for i, inv in enumerate(modes.invariants, start=1)]
    reduced_rows, conserved_rows = tuple(reduced), tuple(conserved)
    groups = [Group(title, _K.STRENGTHS, tuple(strengths), columns=_COLUMNS if modes.form == "node" else 1),
              Group("reduced equations of one mode", _K.REDUCED, reduced_rows, summary=_mode_summary(modes, reduced_rows, error))]
    if conserved:
        groups.append(Group("conserved quantities", _K.CONSERVED, conserved_rows, summary=_conserved_summary(modes, conserved_rows)))
    return groups


def _edges_from(graph: GraphArchitecture) -> list[str]:
    r"""The edges grouped by their source, in edge order (``$\mathrm{V1} \to \mathrm{LM}, \mathrm{AL}$``): a line per few nodes, not per edge."""
    targets: dict[str, list[str]] = {}
    for u, v in graph.edges:
        targets.setdefault(u, []).append(rf"\mathrm{{{v}}}")
    return [rf"$\mathrm{{{u}}} \to {', '.join(vs)}$" for u, vs in targets.items()]


def _head(equations: GraphEquations) -> list[Prose]:
    graph, node_form = equations.graph, equations.form == "node"
    edges = "; ".join(_edges_from(graph))
    inputs = r"whitened inputs, $\Sigma^{x} = I$" if graph.whitened else (
        r"general input correlation $\Sigma^{x}$; the reduced equations assume $\Sigma^{x} v_{\alpha} = \lambda_{\alpha} v_{\alpha}$")
    maps = (r"The forward map of node $v$ is $F_v = \sum_{u \to v} W_{v \leftarrow u} F_u$ ($F_x = I$), its backward map "
            r"$B_v = \sum_{v \to w} B_w W_{w \leftarrow v}$ ($B_y = I$), and the network map is $\Omega = F_y$: "
            rf"written out, the sum over the {graph.num_paths:,} paths from $x$ to $y$ of the products of the edge matrices."
            if node_form else r"$\Omega$ is the sum over the paths from $x$ to $y$ of the products of the edge matrices.")
    text = [f"# pathdyn equations: {graph.describe()}",
            "# edges (u -> v, weight W_u_v): " + ", ".join(f"{u}->{v}" for u, v in graph.edges),
            "# time units: tau = 1 (gradient descent with learning rate eta reaches t = eta * step)"]
    if node_form:
        text.append("# node form: F_v = sum over edges u -> v of W_u_v*F_u (F_x = I), B_u = sum over edges u -> v of "
                    "B_v*W_u_v (B_y = I), Omega = F_y; each is defined once below")
    return [Prose(text="\n".join(text), latex="\n".join([
        r"\section*{Learning equations of a linear network on a graph}",
        rf"Edges {edges}; {inputs}.",
        r"The edge $u \to v$ carries the matrix $W_{v \leftarrow u}$; a node sums its incoming edges. " + maps,
        r"Time is continuous with $\tau = 1$: gradient descent with learning rate $\eta$ reaches $t = \eta k$ after $k$ steps.",
        r"Every equation below was derived by sympy from the loss."]))]


def _mode_prose(equations: GraphEquations, summarized: bool) -> Prose:
    """The paragraph before the mode's equations.

    It states the reduced equation of an edge only where no generic equation for every
    edge is displayed (``summarized`` False, or the ``per_edge`` layout), so that the
    default layout does not say it twice.
    """
    modes, node_form = equations.modes, equations.form == "node"
    lam = "" if modes.input_variance is None else " and input variance lambda = v^T Sigma_x v (Sigma_x aligned with the modes)"
    text = f"# reduced equations of one mode with singular value S{lam} (tau = 1)"
    lam_note = "" if modes.input_variance is not None else r" ($\lambda_{\alpha} = 1$ for whitened inputs)"
    chains = r"; along a chain segment all edges but the last share the strength $q$ and the last one has $p$."
    if node_form:
        text += ("\n# edge strengths s_u_v (q, p along chain segments); node strengths f_v = sum over edges u -> v of "
                 "s_u_v*f_u (f_x = 1), b_u = sum over edges u -> v of s_u_v*b_v (b_y = 1); K = f_y")
        strengths = (r"edge $u \to v$ carries the strength $s_{v \leftarrow u}$; node $v$ has the forward strength "
                     r"$f_v = \sum_{u \to v} s_{v \leftarrow u} f_u$ ($f_x = 1$) and the backward strength "
                     r"$b_v = \sum_{v \to w} s_{w \leftarrow v} b_w$ ($b_y = 1$); the mode's strength is $K_{\alpha} = f_y$")
        rate = r" and $\tau\, ds_{v \leftarrow u}/dt = b_v (S_{\alpha} - \lambda_{\alpha} K_{\alpha}) f_u$"
    else:
        strengths = (r"edge $e$ carries the strength $s_{e}$; path $i$ has the strength $K_{i\alpha}$, the product of "
                     r"its edge strengths")
        rate = ""
    opening = rf"For a mode $\alpha$ with singular value $S_{{\alpha}}$, {strengths}"
    title = r"\subsection*{Reduced equations of one mode}"
    # the displayed equation for every edge shows lambda only where the inputs are general
    shown = "\n".join([title, opening + chains]) if summarized else None
    return Prose(text=text, latex="\n".join([title, opening + rate + lam_note + chains]), summarized=shown)


def _summarized(groups: list[Group], kind: EquationKind) -> bool:
    """Whether a group of ``kind`` has a summary (a generic equation the default layout displays)."""
    return any(group.summary is not None for group in groups if group.kind is kind)


def graph_document(equations: GraphEquations) -> Document:
    """The format-neutral document of a graph's equations.

    Parameters
    ----------
    equations : GraphEquations

    Returns
    -------
    Document
    """
    graph, flow, modes = equations.graph, equations.gradient_flow, equations.modes
    groups = [*_definition_groups(flow), *_flow_groups(flow), *_mode_groups(modes)]
    blocks = (
        *_head(equations), *select(groups, _K.DEFINITIONS),
        Prose(text="# gradient flow: tau dW_u_v/dt = -dL/dW_u_v",
              latex=r"\subsection*{Gradient flow, $\tau\, dW_{e}/dt = -\partial L / \partial W_{e}$}"),
        *select(groups, _K.GRADIENT_FLOW), _mode_prose(equations, _summarized(groups, _K.REDUCED)),
        *select(groups, _K.STRENGTHS, _K.REDUCED),
        Prose(text="# conserved quantities (zero time derivative, verified)"), *select(groups, _K.CONSERVED))
    sections = [("definitions", (_K.DEFINITIONS,) + ((_K.STRENGTHS,) if equations.form == "node" else ())),
                ("gradient_flow", (_K.GRADIENT_FLOW,))]
    if equations.form == "path-sums":
        sections.append(("strengths", (_K.STRENGTHS,)))
    sections += [("modes", (_K.REDUCED,)), ("conserved", (_K.CONSERVED,))]
    return Document(graph.describe(), blocks, header=_json_header(equations), data_sections=tuple(sections),
                    notation=_notation(flow, modes))


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
    return render(graph_document(equations), "text")


def graph_equations_to_latex(equations: GraphEquations, fragment: bool = False, **options: Any) -> str:
    """LaTeX: a standalone document (``amsmath``, ``geometry``), or the equations alone.

    Parameters
    ----------
    equations : GraphEquations
    fragment : bool
        ``True`` gives only the equation environments (they need ``amsmath``).
    **options
        ``grouped``, ``label_prefix``, ``per_edge`` of the LaTeX writer.

    Returns
    -------
    str
        Related equations share one ``align``: the definitions, the gradient flow, the node
        strengths, the reduced equations, the conserved quantities. In node form the flow
        and the reduced equations of the edges are one generic equation each, ``for every
        edge u -> v`` (the edges where sympy's equation is not that one's instance listed
        after it), the balances of the hidden nodes one ``for every hidden node v`` (the
        other conserved quantities listed after it), and the node definitions sit side by
        side; ``per_edge=True`` lists every edge, conserved quantity and definition on its
        own line.

    Raises
    ------
    ConfigError
        For ``per_edge`` with path-sum equations.
    """
    _check_per_edge(equations.form, options)
    return render(graph_document(equations), "latex", fragment=fragment, **options)


def _json_header(equations: GraphEquations) -> dict[str, Any]:
    graph, flow, modes = equations.graph, equations.gradient_flow, equations.modes
    symbols: list[dict[str, Any]] = [{"name": d.name, "role": "dimension", "edges": None, "node": None, "shape": None} for d in flow.dimensions]
    shapes = {symbol: json_shape(symbol.shape) for symbol, _ in flow.definitions}
    for symbol, role, nodes in _symbol_roles(flow, modes):
        entry: dict[str, Any] = {"name": str(symbol), "role": role, "edges": None, "node": None, "shape": None}
        if role == "weight":
            entry.update(edges=[list(nodes)], shape=json_shape(symbol.shape))
        elif role == "strength":
            entry["edges"] = [list(e) for e in dict(zip(modes.state, modes.state_edges))[symbol]]
        elif nodes:
            entry["node"] = nodes[0]
        if symbol in shapes:
            entry["shape"] = shapes[symbol]
        symbols.append(entry)
    data_matrices = [(flow.sigma_yx, "Sigma_yx"), (flow.omega, "Omega")]
    if not graph.whitened:
        data_matrices.insert(0, (flow.sigma_x, "Sigma_x"))
    symbols += [{"name": m.name, "role": role, "edges": None, "node": None, "shape": json_shape(m.shape)}
                for m, role in data_matrices]
    header = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "form": equations.form,
        "description": "tau dW_e/dt = -dL/dW_e with tau = 1, L = 1/2 tr(Omega Sigma_x Omega^T) - tr(Sigma_yx Omega^T);"
        " reduced equations of one mode; every name the right-hand sides use besides the weights, the data, the"
        " reduced variables and the parameters is in definitions, in evaluation order; each expression is a sympy"
        " srepr: rebuild it with pathdyn.theory.graph_export.load_graph_equations_json, which runs no code"
        " (sympy.sympify executes the text)",
        "graph": graph.to_dict(),
        "symbols": symbols,
    }
    if equations.form == "path-sums":
        header["paths"] = [[list(e) for e in path] for path in graph.paths]
    return header


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
    return render(graph_document(equations), "json")


# ====================================================================== loader
@dataclass(frozen=True)
class LoadedGraphEquations:
    """Expressions rebuilt from a graph JSON export.

    Attributes
    ----------
    graph : GraphArchitecture
    form : str
        ``node`` or ``path-sums``.
    definitions : dict
        Name -> expression, in evaluation order (``F_v``, ``Omega``, ``B_u``, ``f_v``,
        ``K``, ``b_u`` in node form; ``Omega`` in path sums).
    gradient_flow : dict
        Edge ``(u, v)`` -> right-hand side of ``tau dW_e/dt``.
    strengths : dict
        Path number (1-based) -> ``K_i`` (path sums only).
    modes : dict
        Variable name -> right-hand side.
    conserved : tuple of sympy.Expr
    """

    graph: GraphArchitecture
    form: str
    definitions: dict
    gradient_flow: dict
    strengths: dict
    modes: dict
    conserved: tuple

    def expand(self, expr: sp.Basic) -> sp.Basic:
        """``expr`` with every defined name written out (its size grows with the number of paths).

        Parameters
        ----------
        expr : sympy.Basic

        Returns
        -------
        sympy.Basic
            In the weights, the data, the reduced variables and the parameters alone.
        """
        symbols: dict[str, sp.Basic] = {}
        for item in (*self.definitions.values(), *self.gradient_flow.values(), *self.modes.values(), expr):
            for atom in item.atoms(sp.Symbol, sp.MatrixSymbol):
                symbols.setdefault(str(atom.name), atom)
        return expand_definitions(expr, [(symbols[name], value) for name, value in self.definitions.items()
                                         if name in symbols])


def _read_source(source: str | Path) -> str:
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith("{")):
        try:
            return Path(source).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"equations JSON: file {str(source)!r} not found; check the path") from None
        except UnicodeDecodeError as error:
            raise ConfigError(f"equations JSON: {str(source)!r} is not UTF-8 text (byte {error.start}); re-export it") from None
        except OSError as error:
            raise ConfigError(f"equations JSON: cannot read {str(source)!r} ({error.strerror or error})") from None
    return source


def load_graph_equations_json(source: str | Path) -> LoadedGraphEquations:
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
    data = parse_json(_read_source(source), "equations JSON")
    if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
        raise ConfigError("equations JSON: not a pathdyn graph equations export; write one with "
                          "pathdyn derive --architecture GRAPH.toml --format json")
    try:
        graph = GraphArchitecture.from_dict(data["graph"], source="equations JSON graph")
        return LoadedGraphEquations(
            graph=graph,
            form=data.get("form", "path-sums"),
            definitions={e["name"]: rebuild_expression(e["expr"], f"definition {e['name']}") for e in data["definitions"]},
            gradient_flow={tuple(e["edge"]): rebuild_expression(e["rhs"], f"gradient_flow{e['edge']}") for e in data["gradient_flow"]},
            strengths={e["path"]: rebuild_expression(e["expr"], f"strengths[{e['path']}]") for e in data.get("strengths", [])},
            modes={e["variable"]: rebuild_expression(e["rhs"], f"modes[{e['variable']}]") for e in data["modes"]},
            conserved=tuple(rebuild_expression(e["expr"], "conserved") for e in data["conserved"]),
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise ConfigError(f"equations JSON: malformed entry ({type(error).__name__}: {error}); re-export with pathdyn derive") from None

