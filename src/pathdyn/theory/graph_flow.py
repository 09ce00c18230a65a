"""The matrix gradient flow of a graph of linear maps, derived by sympy.

For a :class:`~pathdyn.theory.graph.GraphArchitecture` with an edge matrix ``W_e`` of
shape ``(width of v, width of u)`` for every edge ``e = (u, v)``, the network map is

    Omega = sum over paths x -> y of the product of the edge matrices along the path,

and the loss is the one of the pathway networks,
``L = 1/2 tr(Omega Sigma_x Omega^T) - tr(Sigma_yx Omega^T)``. Every path uses an edge at
most once (the graph is acyclic), so ``Omega`` is linear in each ``W_e``:
``Omega = B_v W_e F_u + (terms without W_e)``, where the forward map
``F_u = sum over paths x -> u`` and the backward map ``B_v = sum over paths v -> y`` (each
the identity at ``x`` and ``y``). As in :mod:`pathdyn.theory.gradient_flow`, sympy
differentiates ``L`` with respect to ``Omega`` (``G = dL/dOmega``) and the linear
functional ``tr(G^T A X B)`` with respect to ``X``; ``A = B_v``, ``B = F_u`` are
substituted afterwards. ``method="direct"`` differentiates the loss written out in the
edge matrices instead (slow; a cross-check). The tests check both against finite
differences of the numeric loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from pathdyn.errors import ConfigError, DerivationError
from pathdyn.theory.graph import INPUT, OUTPUT, GraphArchitecture
from pathdyn.theory.gradient_flow import (
    derive_direct,
    factor_derivative,
    is_zero_matrix,
    matrix_product,
    symmetric_inputs,
    dimension_symbol,
)

__all__ = ["GraphFlow", "derive_graph_flow", "edge_weight_symbol", "node_dimension"]

_METHODS = ("chain", "direct")


def edge_weight_symbol(edge, rows, cols) -> sp.MatrixSymbol:
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


def node_dimension(graph: GraphArchitecture, node: str):
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
        ``sum over paths`` of the products of edge matrices.
    loss, omega_gradient : sympy expressions
        As in :class:`pathdyn.theory.gradient_flow.GradientFlow`.
    rhs : dict
        Edge -> ``-dL/dW_e`` in the weights, ``Sigma_yx``, ``Sigma_x`` and ``Omega``.
    dimensions : tuple of sympy.Symbol
    method : str
    """

    graph: GraphArchitecture
    weights: dict
    sigma_x: object
    sigma_yx: object
    omega: object
    omega_definition: object
    loss: object
    omega_gradient: object
    rhs: dict
    dimensions: tuple = ()
    method: str = "chain"

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

    def rhs_of(self, edge, expand: bool = False):
        """``-dL/dW_e``; with ``expand=True`` ``Omega`` is written out in the edge matrices.

        Parameters
        ----------
        edge : (str, str)
            The edge ``(u, v)``.
        expand : bool
            Write ``Omega`` out as the sum over paths.

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
        return rhs.xreplace({self.omega: self.omega_definition}) if expand else rhs

    @property
    def expanded_loss(self) -> sp.Expr:
        return self.loss.xreplace({self.omega: self.omega_definition})

    def equations(self):
        """Iterate ``(edge, W_e, rhs)`` in edge order.

        Yields
        ------
        tuple
            ``(edge, W_e, rhs)``.
        """
        for edge, w in self.weights.items():
            yield edge, w, self.rhs[edge]


def _path_product(path, weights):
    """``W_last ... W_first`` of a path (a tuple of edges), or None for an empty path."""
    return matrix_product([weights[e] for e in reversed(path)])


def _sum(terms):
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else sp.MatAdd(*terms)


def _partial_maps(graph: GraphArchitecture, weights) -> tuple:
    """Forward maps ``F_n`` (paths x -> n) and backward maps ``B_n`` (paths n -> y) as sums of products.

    ``None`` stands for the identity (``F_x`` and ``B_y``).
    """
    forward = {INPUT: None}
    for node in graph.nodes[1:]:
        forward[node] = _sum(_compose(weights[e], forward[e[0]], left=True) for e in graph.in_edges(node))
    backward = {OUTPUT: None}
    for node in reversed(graph.nodes[:-1]):
        backward[node] = _sum(_compose(weights[e], backward[e[1]], left=False) for e in graph.out_edges(node))
    return forward, backward


def _factors(expr) -> list:
    return list(expr.args) if isinstance(expr, sp.MatMul) else [expr]


def _compose(weight, partial, left: bool):
    """``weight * partial`` (``left``) or ``partial * weight``, distributed over a sum ``partial``.

    Distributing keeps every map a plain sum of path products (as the paper writes them).
    """
    if partial is None:
        return weight
    terms = partial.args if isinstance(partial, sp.MatAdd) else (partial,)
    out = [matrix_product([weight, *_factors(t)]) if left else matrix_product([*_factors(t), weight]) for t in terms]
    return _sum(out)


def derive_graph_flow(graph: GraphArchitecture, method: str = "chain") -> GraphFlow:
    """Derive ``tau dW_e/dt = -dL/dW_e`` for every edge by sympy matrix calculus.

    Parameters
    ----------
    graph : GraphArchitecture
    method : {"chain", "direct"}

    Returns
    -------
    GraphFlow

    Raises
    ------
    ConfigError
        For an unknown method or a graph that is not a :class:`GraphArchitecture`.
    DerivationError
        If sympy returns a derivative of the wrong shape or zero.

    Notes
    -----
    With ``G = dL/dOmega = Omega Sigma_x - Sigma_yx`` (derived), for the edge ``e = (u, v)``

    .. math:: \\tau \\dot W_e = B_v^{\\top} [\\Sigma^{yx} - \\Omega \\Sigma^x] F_u^{\\top},

    ``F_u`` the sum over paths ``x -> u`` and ``B_v`` the sum over paths ``v -> y`` of the
    products of edge matrices.

    Examples
    --------
    >>> g = GraphArchitecture(edges=[("x", "h"), ("h", "y"), ("x", "y")])
    >>> derive_graph_flow(g).rhs_of(("x", "h"))
    W_h_y.T*(-Omega + Sigma_yx)
    """
    if method not in _METHODS:
        raise ConfigError(f"method: unknown derivation {method!r}; choose one of {', '.join(_METHODS)}")
    if not isinstance(graph, GraphArchitecture):
        raise ConfigError(f"graph: expected a GraphArchitecture, got {type(graph).__name__}")
    dims = {node: node_dimension(graph, node) for node in graph.nodes}
    dimensions = tuple(d for d in dims.values() if isinstance(d, sp.Symbol))
    weights = {e: edge_weight_symbol(e, dims[e[1]], dims[e[0]]) for e in graph.edges}
    n_in, n_out = dims[INPUT], dims[OUTPUT]
    sigma_x = sp.Identity(n_in) if graph.whitened else sp.MatrixSymbol("Sigma_x", n_in, n_in)
    sigma_yx = sp.MatrixSymbol("Sigma_yx", n_out, n_in)
    omega = sp.MatrixSymbol("Omega", n_out, n_in)
    omega_definition = _sum(_path_product(p, weights) for p in graph.paths)
    loss = sp.Trace(omega * sigma_x * omega.T / 2 - sigma_yx * omega.T)  # one trace: see gradient_flow
    omega_gradient = symmetric_inputs(sp.diff(loss, omega), sigma_x).doit()
    if is_zero_matrix(omega_gradient) or omega_gradient.shape != omega.shape:
        raise DerivationError(f"sympy returned {omega_gradient} for dL/dOmega")
    if method == "chain":
        rhs = _derive_chain(graph, weights, omega_gradient)
    else:
        ordered = tuple(weights.values())
        (direct,) = derive_direct((ordered,), loss.xreplace({omega: omega_definition}), sigma_x)
        rhs = dict(zip(graph.edges, direct))
    return GraphFlow(graph, weights, sigma_x, sigma_yx, omega, omega_definition, loss, omega_gradient,
                     rhs, dimensions, method)


def _derive_chain(graph, weights, omega_gradient) -> dict:
    """``-dL/dW_e = -d tr(G^T B_v W_e F_u)/dW_e`` with ``G = dL/dOmega`` held fixed."""
    descent = (-omega_gradient).doit()
    forward, backward = _partial_maps(graph, weights)
    rhs = {}
    for edge in graph.edges:
        u, v = edge
        left, right = backward[v], forward[u]
        derivative, (G, A, X, B) = factor_derivative(left is not None, right is not None)
        rule = {G: descent, X: weights[edge]}
        if left is not None:
            rule[A] = left
        if right is not None:
            rule[B] = right
        rhs[edge] = derivative.xreplace(rule)
    return rhs
