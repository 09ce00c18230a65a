"""The matrix gradient flow of a graph of linear maps, derived by sympy in node form.

For a :class:`~pathdyn.theory.graph.GraphArchitecture` with an edge matrix ``W_e`` of
shape ``(width of v, width of u)`` for every edge ``e = (u, v)``, the loss is the one of the
pathway networks, ``L = 1/2 tr(Omega Sigma_x Omega^T) - tr(Sigma_yx Omega^T)``, and the
network map is built node by node, as backpropagation does:

    F_x = I,   F_v = sum over edges u -> v of W_{v<-u} F_u     (the forward map of node v),
    B_y = I,   B_u = sum over edges u -> v of B_v W_{v<-u}     (the backward map of node u),
    Omega = F_y.

Every path uses an edge at most once (the graph is acyclic), so ``Omega`` is linear in each
``W_e``: ``Omega = B_v W_e F_u + (terms without W_e)``. As for
pathways (:mod:`pathdyn.theory.matrix_calculus`), sympy differentiates ``L`` with respect to ``Omega``
(``G = dL/dOmega``) and the linear functional ``tr(G^T A X B)`` with respect to ``X``;
``A = B_v``, ``B = F_u`` are substituted afterwards. The equations hold the symbols
``F_v``, ``B_u`` and ``Omega``, each defined once (:attr:`GraphFlow.definitions`), so the
work and the size of the equations grow with the number of edges, never with the number of
paths (which grows exponentially with depth on graphs with merges).

``form="path-sums"`` writes every map out as the sum over paths of the products of edge
matrices (small graphs only); ``method="direct"`` differentiates the loss written out in the
edge matrices (slow; a cross-check). The tests check all of them against finite differences
of the numeric loss.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import sympy as sp

from pathdyn.errors import ArchitectureError, ConfigError, DerivationError
from pathdyn.theory.architecture import Architecture, as_graph
from pathdyn.theory.graph import INPUT, MAX_LISTED_PATHS, OUTPUT, GraphArchitecture
from pathdyn.theory.matrix_calculus import (
    derive_direct,
    factor_derivative,
    is_zero_matrix,
    matrix_product,
    symmetric_inputs,
    dimension_symbol,
)

__all__ = [
    "FLOW_FORMS",
    "check_path_sums",
    "GraphFlow",
    "backward_map_symbol",
    "derive_graph_flow",
    "edge_weight_symbol",
    "expand_definitions",
    "forward_map_symbol",
    "node_dimension",
]

_METHODS = ("chain", "direct")
#: ``node``: the forward and backward maps of every node, each defined once (linear in the edges);
#: ``path-sums``: every map written out as a sum over paths (small graphs only).
FLOW_FORMS = ("node", "path-sums")


def edge_weight_symbol(edge: tuple[str, str], rows: int | sp.Symbol, cols: int | sp.Symbol) -> sp.MatrixSymbol:
    """``W_{v<-u}`` of edge ``(u, v)`` as the matrix symbol ``W_<u>_<v>``.

    Parameters
    ----------
    edge : (str, str)
        The edge ``(u, v)``.
    rows, cols : int or sympy.Symbol
        The shape: widths of ``v`` and ``u``.

    Returns
    -------
    sympy.MatrixSymbol
        The edge's weight.
    """
    u, v = edge
    return sp.MatrixSymbol(f"W_{u}_{v}", rows, cols)


def forward_map_symbol(node: str, rows: int | sp.Symbol, cols: int | sp.Symbol) -> sp.MatrixSymbol:
    """The forward map ``F_<node>`` (paths ``x -> node``) as a matrix symbol.

    Parameters
    ----------
    node : str
        A hidden node.
    rows, cols : int or sympy.Symbol
        The shape: the node's width and ``n_in``.

    Returns
    -------
    sympy.MatrixSymbol
        ``F_<node>``.
    """
    return sp.MatrixSymbol(f"F_{node}", rows, cols)


def backward_map_symbol(node: str, rows: int | sp.Symbol, cols: int | sp.Symbol) -> sp.MatrixSymbol:
    """The backward map ``B_<node>`` (paths ``node -> y``) as a matrix symbol.

    Parameters
    ----------
    node : str
        A hidden node.
    rows, cols : int or sympy.Symbol
        The shape: ``n_out`` and the node's width.

    Returns
    -------
    sympy.MatrixSymbol
        ``B_<node>``.
    """
    return sp.MatrixSymbol(f"B_{node}", rows, cols)


def expand_definitions(expr: sp.Basic, definitions: Iterable[tuple[sp.Basic, sp.Basic]]) -> sp.Basic:
    """``expr`` with every defined symbol written out (recursively) in terms of the rest.

    Parameters
    ----------
    expr : sympy.Basic
        An expression in defined symbols and others.
    definitions : sequence of (symbol, expression)
        In evaluation order: each definition uses only symbols defined before it.

    Returns
    -------
    sympy.Basic
        The expression without defined symbols. Its size grows with the number of paths
        through the graph: for small graphs (tests, the ``path-sums`` display).
    """
    for symbol, definition in reversed(tuple(definitions)):
        if expr.has(symbol):
            expr = expr.xreplace({symbol: definition})
    return expr


def node_dimension(graph: GraphArchitecture, node: str) -> int | sp.Symbol:
    """Width of a node: ``n_in``/``n_out`` at ``x``/``y``, the given width or the symbol ``N_<node>``.

    Parameters
    ----------
    graph : GraphArchitecture
        The graph.
    node : str
        A node's name.

    Returns
    -------
    int or sympy.Symbol
        The width.
    """
    if node == INPUT:
        return graph.n_in if graph.n_in is not None else dimension_symbol("n_in")
    if node == OUTPUT:
        return graph.n_out if graph.n_out is not None else dimension_symbol("n_out")
    width = graph.width(node)
    return width if width is not None else dimension_symbol(f"N_{node}")


@dataclass(frozen=True)
class GraphFlow:
    """The derived gradient flow ``tau dW_e/dt = -dL/dW_e`` (tau = 1) of every edge.

    Attributes
    ----------
    graph : GraphArchitecture
    weights : dict
        Edge ``(u, v)`` -> matrix symbol ``W_<u>_<v>``, in edge order.
    sigma_x, sigma_yx, omega : sympy matrix expressions
        ``Identity(n_in)`` or ``Sigma_x``; ``Sigma_yx``; the symbol ``Omega``.
    omega_definition : sympy.MatrixExpr
        ``Omega`` in the forward maps of the nodes feeding ``y`` (``form="node"``) or the sum
        over paths of the products of edge matrices (``form="path-sums"``).
    loss, omega_gradient : sympy expressions
        As in :class:`pathdyn.theory.gradient_flow.GradientFlow`.
    rhs : dict
        Edge -> ``-dL/dW_e`` in the weights, ``Sigma_yx``, ``Sigma_x``, ``Omega`` and (node
        form) the maps ``F_u``, ``B_v``.
    dimensions : tuple of sympy.Symbol
    method : str
    form : {"node", "path-sums"}
    definitions : tuple of (sympy.MatrixSymbol, sympy.MatrixExpr)
        Every symbol the right-hand sides use besides the weights and the data, in
        evaluation order: ``F_v`` (topological order), ``Omega``, ``B_u`` (reverse order);
        only ``Omega`` in the path-sums form.
    """

    graph: GraphArchitecture
    weights: dict[tuple[str, str], sp.MatrixSymbol]
    sigma_x: sp.MatrixExpr
    sigma_yx: sp.MatrixSymbol
    omega: sp.MatrixSymbol
    omega_definition: sp.MatrixExpr
    loss: sp.Expr
    omega_gradient: sp.MatrixExpr
    rhs: dict
    dimensions: tuple[sp.Symbol, ...] = ()
    method: str = "chain"
    form: str = "node"
    definitions: tuple[tuple[sp.MatrixSymbol, sp.MatrixExpr], ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if tuple(self.weights) != self.graph.edges or tuple(self.rhs) != self.graph.edges:
            problems.append("weights and rhs must hold one entry per edge, in edge order")
        else:
            for edge, w in self.weights.items():
                if self.rhs[edge].shape != w.shape:
                    problems.append(f"rhs of {w.name} has shape {self.rhs[edge].shape}, expected {w.shape}")
        if problems:
            raise DerivationError("invalid GraphFlow: " + "; ".join(problems))

    @property
    def whitened(self) -> bool:
        return self.graph.whitened

    def rhs_of(self, edge: Sequence[str], expand: bool = False) -> sp.MatrixExpr:
        """``-dL/dW_e``; with ``expand=True`` ``Omega`` is written out in the edge matrices.

        Parameters
        ----------
        edge : (str, str)
            The edge ``(u, v)``.
        expand : bool
            Write ``Omega`` and the node maps out as sums over paths (small graphs).

        Returns
        -------
        sympy.MatrixExpr
            The right-hand side of ``dW_e/dt``.

        Raises
        ------
        ConfigError
            When ``edge`` is not in the graph.
        """
        edge = tuple(edge)
        if edge not in self.rhs:
            raise ConfigError(f"edge {edge} is not in the graph; edges are {list(self.graph.edges)}")
        rhs = self.rhs[edge]
        return expand_definitions(rhs, self.all_definitions) if expand else rhs

    @property
    def all_definitions(self) -> tuple[tuple[sp.MatrixSymbol, sp.MatrixExpr], ...]:
        """:attr:`definitions`, or ``((Omega, omega_definition),)`` for a flow built without them."""
        return self.definitions or ((self.omega, self.omega_definition),)

    @property
    def expanded_loss(self) -> sp.Expr:
        """The loss written out in the edge matrices (its size grows with the number of paths)."""
        return expand_definitions(self.loss, self.all_definitions)

    def equations(self) -> Iterator[tuple[tuple[str, str], sp.MatrixSymbol, sp.MatrixExpr]]:
        """Iterate ``(edge, W_e, rhs)`` in edge order.

        Yields
        ------
        tuple
            ``(edge, W_e, rhs)``.
        """
        for edge, w in self.weights.items():
            yield edge, w, self.rhs[edge]


def _path_product(path: Sequence[tuple[str, str]], weights: Mapping[tuple[str, str], sp.MatrixSymbol]) -> sp.MatrixExpr | None:
    """``W_last ... W_first`` of a path (a tuple of edges), or None for an empty path."""
    return matrix_product([weights[e] for e in reversed(path)])


def _sum(terms: Iterable[sp.MatrixExpr | None]) -> sp.MatrixExpr | None:
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else sp.MatAdd(*terms)


def _path_sum_maps(graph: GraphArchitecture, weights: Mapping[tuple[str, str], sp.MatrixSymbol]
                   ) -> tuple[dict[str, sp.MatrixExpr | None], dict[str, sp.MatrixExpr | None]]:
    """Forward maps ``F_n`` (paths x -> n) and backward maps ``B_n`` (paths n -> y) as sums of products.

    ``None`` stands for the identity (``F_x`` and ``B_y``). Their size grows with the number
    of paths: the ``path-sums`` form only.
    """
    forward: dict[str, sp.MatrixExpr | None] = {INPUT: None}
    for node in graph.nodes[1:]:
        forward[node] = _sum(_compose(weights[e], forward[e[0]], left=True) for e in graph.in_edges(node))
    backward: dict[str, sp.MatrixExpr | None] = {OUTPUT: None}
    for node in reversed(graph.nodes[:-1]):
        backward[node] = _sum(_compose(weights[e], backward[e[1]], left=False) for e in graph.out_edges(node))
    return forward, backward


def _node_maps(graph: GraphArchitecture, weights: Mapping[tuple[str, str], sp.MatrixSymbol], dims: Mapping[str, int | sp.Symbol],
               omega: sp.MatrixSymbol) -> tuple[dict[str, sp.MatrixExpr | None], dict[str, sp.MatrixExpr | None],
                                                tuple[tuple[sp.MatrixSymbol, sp.MatrixExpr], ...]]:
    """The node form: symbols ``F_v``, ``B_u`` and their definitions, each one step deep.

    Returns ``(forward, backward, definitions)``: node -> symbol (``None`` for the identity
    at ``x`` and ``y``; ``Omega`` is the forward map of ``y``) and the definitions in
    evaluation order (forward maps in topological order, ``Omega``, backward maps in
    reverse order).
    """
    n_in, n_out = dims[INPUT], dims[OUTPUT]
    forward: dict[str, sp.MatrixExpr | None] = {INPUT: None, OUTPUT: omega}
    backward: dict[str, sp.MatrixExpr | None] = {OUTPUT: None}
    definitions: list[tuple[sp.MatrixSymbol, sp.MatrixExpr]] = []
    for node in graph.nodes[1:]:
        if node != OUTPUT:
            forward[node] = forward_map_symbol(node, dims[node], n_in)
        terms = [matrix_product([weights[e]] + ([forward[e[0]]] if forward[e[0]] is not None else [])) for e in graph.in_edges(node)]
        definitions.append((forward[node], _sum(terms)))
    for node in reversed(graph.nodes[1:-1]):
        backward[node] = backward_map_symbol(node, n_out, dims[node])
        terms = [matrix_product(([backward[e[1]]] if backward[e[1]] is not None else []) + [weights[e]])
                 for e in graph.out_edges(node)]
        definitions.append((backward[node], _sum(terms)))
    return forward, backward, tuple(definitions)


def _factors(expr: sp.MatrixExpr) -> list[sp.MatrixExpr]:
    return list(expr.args) if isinstance(expr, sp.MatMul) else [expr]


def _compose(weight: sp.MatrixSymbol, partial: sp.MatrixExpr | None, left: bool) -> sp.MatrixExpr | None:
    """``weight * partial`` (``left``) or ``partial * weight``, distributed over a sum ``partial``.

    Distributing keeps every map a plain sum of path products (as the paper writes them).
    """
    if partial is None:
        return weight
    terms = partial.args if isinstance(partial, sp.MatAdd) else (partial,)
    out = [matrix_product([weight, *_factors(t)]) if left else matrix_product([*_factors(t), weight]) for t in terms]
    return _sum(out)


def check_path_sums(graph: GraphArchitecture) -> None:
    """Refuse to write a graph's maps as sums over paths when its paths are too many to list.

    Parameters
    ----------
    graph : GraphArchitecture

    Raises
    ------
    ArchitectureError
        Above :data:`~pathdyn.theory.graph.MAX_LISTED_PATHS` paths, unless the graph is
        parallel chains (pathways: one path per chain).
    """
    # parallel chains (pathways) have one path per chain: their sums are as long as the node form
    if not graph.paths_listed and graph.pathway_depths() is None:
        raise ArchitectureError(
            f"path sums: the graph has {graph.num_paths:,} paths from x to y, above the {MAX_LISTED_PATHS:,} that are "
            "written out one by one; use the node form (the default: each node's map defined once)")


def _check_form(method: str, form: str | None) -> str:
    """The form a derivation gives: ``node`` by default, ``path-sums`` for the direct method."""
    if method not in _METHODS:
        raise ConfigError(f"method: unknown derivation {method!r}; choose one of {', '.join(_METHODS)}")
    if form is None:
        return "node" if method == "chain" else "path-sums"
    if form not in FLOW_FORMS:
        raise ConfigError(f"form: unknown form {form!r}; choose one of {', '.join(FLOW_FORMS)}")
    if method == "direct" and form != "path-sums":
        raise ConfigError("form: the direct derivation differentiates the loss written out over paths; use form='path-sums'")
    return form


def derive_graph_flow(graph: GraphArchitecture | Architecture, method: str = "chain", form: str | None = None,
                      weights: dict[tuple[str, str], sp.MatrixSymbol] | None = None) -> GraphFlow:
    """Derive ``tau dW_e/dt = -dL/dW_e`` for every edge by sympy matrix calculus.

    Parameters
    ----------
    graph : GraphArchitecture or Architecture (pathways: the graph of their chains)
    method : {"chain", "direct"}
    form : {"node", "path-sums"}, optional
        ``node`` (default for ``chain``): in the forward and backward maps of the nodes,
        each defined once; ``path-sums`` (the only form of ``direct``): every map written
        out as a sum over paths.
    weights : dict, optional
        Edge -> the matrix symbol to use for its weight (default :func:`edge_weight_symbol`
        of the nodes' widths); pathways name theirs ``W_a_d``
        (:func:`pathdyn.theory.gradient_flow.derive_gradient_flow`).

    Returns
    -------
    GraphFlow

    Raises
    ------
    ConfigError
        For an unknown method or form, or a graph that is not a :class:`GraphArchitecture`.
    DerivationError
        If sympy returns a derivative of the wrong shape or zero.

    Notes
    -----
    With ``G = dL/dOmega = Omega Sigma_x - Sigma_yx`` (derived), for the edge ``e = (u, v)``

    .. math:: \\tau \\dot W_e = B_v^{\\top} [\\Sigma^{yx} - \\Omega \\Sigma^x] F_u^{\\top},

    ``F_u = sum_{w -> u} W_{u<-w} F_w`` (``F_x = I``) and ``B_v = sum_{v -> w} B_w W_{w<-v}``
    (``B_y = I``); ``Omega = F_y``. The work is one sympy derivative of the loss and one
    term per edge: linear in the number of edges.

    Examples
    --------
    >>> g = GraphArchitecture(edges=[("x", "h"), ("h", "y"), ("x", "y")])
    >>> derive_graph_flow(g).rhs_of(("x", "h"))
    B_h.T*(-Omega + Sigma_yx)
    >>> derive_graph_flow(g, form="path-sums").rhs_of(("x", "h"))
    W_h_y.T*(-Omega + Sigma_yx)
    """
    graph = as_graph(graph)  # pathways are the graph of their chains
    form = _check_form(method, form)
    if not isinstance(graph, GraphArchitecture):
        raise ConfigError(f"graph: expected a GraphArchitecture, got {type(graph).__name__}")
    if form == "path-sums":
        check_path_sums(graph)
    dims = {node: node_dimension(graph, node) for node in graph.nodes}
    dimensions = tuple(d for d in dims.values() if isinstance(d, sp.Symbol))
    if weights is None:
        weights = {e: edge_weight_symbol(e, dims[e[1]], dims[e[0]]) for e in graph.edges}
    elif sorted(weights) != sorted(graph.edges):
        raise ConfigError("weights: give one matrix symbol per edge of the graph")
    n_in, n_out = dims[INPUT], dims[OUTPUT]
    sigma_x = sp.Identity(n_in) if graph.whitened else sp.MatrixSymbol("Sigma_x", n_in, n_in)
    sigma_yx = sp.MatrixSymbol("Sigma_yx", n_out, n_in)
    omega = sp.MatrixSymbol("Omega", n_out, n_in)
    if form == "node":
        forward, backward, definitions = _node_maps(graph, weights, dims, omega)
        omega_definition = dict(definitions)[omega]
    else:
        forward, backward = _path_sum_maps(graph, weights)
        omega_definition = forward[OUTPUT]
        forward[OUTPUT] = omega
        definitions = ((omega, omega_definition),)
    loss = sp.Trace(omega * sigma_x * omega.T / 2 - sigma_yx * omega.T)  # one trace: see gradient_flow
    omega_gradient = symmetric_inputs(sp.diff(loss, omega), sigma_x).doit()
    if is_zero_matrix(omega_gradient) or omega_gradient.shape != omega.shape:
        raise DerivationError(f"sympy returned {omega_gradient} for dL/dOmega")
    if method == "chain":
        rhs = _derive_chain(graph, weights, omega_gradient, forward, backward)
    else:
        ordered = tuple(weights.values())
        (direct,) = derive_direct((ordered,), loss.xreplace({omega: omega_definition}), sigma_x)
        rhs = dict(zip(graph.edges, direct))
    return GraphFlow(graph, weights, sigma_x, sigma_yx, omega, omega_definition, loss, omega_gradient,
                     rhs, dimensions, method, form, definitions)


def _derive_chain(graph: GraphArchitecture, weights: Mapping[tuple[str, str], sp.MatrixSymbol], omega_gradient: sp.MatrixExpr,
                  forward: Mapping[str, sp.MatrixExpr | None], backward: Mapping[str, sp.MatrixExpr | None]
                  ) -> dict[tuple[str, str], sp.MatrixExpr]:
    """``-dL/dW_e = -d tr(G^T B_v W_e F_u)/dW_e`` with ``G = dL/dOmega`` held fixed.

    sympy derives the derivative of the linear functional once per kind of edge (with or
    without a left and a right factor); each edge substitutes its own ``B_v``, ``W_e``, ``F_u``.
    """
    descent = (-omega_gradient).doit()
    templates: dict[tuple[bool, bool], tuple[sp.MatrixExpr, tuple[sp.MatrixSymbol, sp.MatrixSymbol | None, sp.MatrixSymbol, sp.MatrixSymbol | None]]] = {}
    rhs: dict[tuple[str, str], sp.MatrixExpr] = {}
    for edge in graph.edges:
        u, v = edge
        left, right = backward[v], forward[u]
        shape = (left is not None, right is not None)
        if shape not in templates:
            templates[shape] = factor_derivative(*shape)
        derivative, (G, A, X, B) = templates[shape]
        rule = {G: descent, X: weights[edge]}
        if left is not None:
            rule[A] = left
        if right is not None:
            rule[B] = right
        rhs[edge] = derivative.xreplace(rule)
    return rhs
