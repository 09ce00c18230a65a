"""Reduced per-mode equations of a graph of linear maps, derived with sympy.

Per mode ``alpha`` every edge ``e`` carries a strength ``s_e`` (the aligned, decoupled
initial condition: ``W_e = sum_alpha s_{e alpha} r_v^alpha (r_u^alpha)^T`` with orthonormal
mode directions ``r`` at every node, ``v_alpha`` at ``x`` and ``u_alpha`` at ``y``). The mode
strength of a path is the product of its edge strengths and the mode's total strength is

    K = sum over paths x -> y of prod_{e in path} s_e.

With inputs whose correlation shares the right singular vectors of ``Sigma_yx``
(``Sigma_x v_alpha = lambda_alpha v_alpha``; ``lambda = 1`` when whitened) the loss
separates per mode as ``1/2 lambda K^2 - S K``, equal up to a constant to
``(S - lambda K)^2 / (2 lambda)``; the reduced equations are its gradient flow
``ds_e/dt = -dL/ds_e = (S - lambda K) dK/ds_e``, derived here by sympy.

Conserved quantities: every quadratic form of the strengths whose time derivative
vanishes identically for any error ``S - lambda K`` is found by solving a linear system
(:func:`derive_graph_invariants`); for every hidden node ``h``,
``sum_{e into h} s_e^2 - sum_{e out of h} s_e^2`` is one of them (the flow is blind to
rescaling the edges into ``h`` by ``c`` and the edges out of ``h`` by ``1/c``).

The q/p-like reduction (:func:`derive_graph_qp_equations`): every path through one edge of
a chain segment (see :meth:`GraphArchitecture.chain_segments`) runs through all of its
edges, so ``K`` depends only on their product; on the set where all but the last edge of a
segment share one strength ``q`` and the last has ``p`` the flow stays (checked, not
assumed). For parallel pathways this is the paper's q/p model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import sympy as sp

from pathdyn.errors import ConfigError, DerivationError
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.modes import Invariant, ModeEquations, input_variance_symbol, mode_symbols
from pathdyn.theory.reduced import xreplace_all, is_identically_zero

__all__ = [
    "GraphModeEquations",
    "derive_graph_mode_equations",
    "derive_graph_qp_equations",
    "derive_graph_invariants",
    "node_invariant",
    "edge_strength_symbol",
]


def edge_strength_symbol(edge) -> sp.Symbol:
    """Strength ``s_e`` of edge ``(u, v)`` as the symbol ``s_<u>_<v>``.

    Parameters
    ----------
    edge : (str, str)
        The edge ``(u, v)``.

    Returns
    -------
    sympy.Symbol
        ``s_<u>_<v>`` (real).
    """
    return sp.Symbol(f"s_{edge[0]}_{edge[1]}", real=True)


@dataclass(frozen=True)
class GraphModeEquations(ModeEquations):
    """:class:`ModeEquations` of a graph: one strength per path.

    ``depths`` holds the length of each path and ``strengths`` each path's ``K_p`` (their
    sum is the mode's ``K``), so every consumer of :class:`ModeEquations` (``compile_rhs``,
    ``integrate``) works unchanged; with ``lambda`` among the parameters (general inputs)
    ``error`` is ``S - lambda K``.

    Attributes
    ----------
    graph : GraphArchitecture
    state_edges : tuple
        The edges each state variable stands for (one edge per ``s_e``; all the edges of
        a chain segment but the last for ``q``, the last for ``p``).
    """

    graph: GraphArchitecture | None = None
    state_edges: tuple = ()


def _reduced_loss(graph, path_strengths):
    S, lam = mode_symbols(), (sp.Integer(1) if graph.whitened else input_variance_symbol())
    total = sp.Add(*path_strengths)
    return lam * total**2 / 2 - S * total, (S,) if graph.whitened else (S, lam)


def derive_graph_mode_equations(graph: GraphArchitecture, invariants: bool = True) -> GraphModeEquations:
    """Per-edge reduced equations of one mode, the gradient flow of the reduced loss.

    Parameters
    ----------
    graph : GraphArchitecture
    invariants : bool
        Derive the conserved quadratic forms too (default True).

    Returns
    -------
    GraphModeEquations
        ``kind="graph-edge"``; state ``s_e`` in edge order; parameters ``(S,)`` when
        whitened, ``(S, lambda)`` otherwise.

    Raises
    ------
    ConfigError
        When ``graph`` is not a :class:`GraphArchitecture`.
    DerivationError
        When ``-dL/dK`` is not the mode's error (a derivation bug).

    Notes
    -----
    ``K = sum_paths prod_{e in path} s_e``, ``L = lambda K^2 / 2 - S K`` and
    ``ds_e/dt = -dL/ds_e = (S - lambda K) dK/ds_e``; sympy differentiates ``L`` with
    respect to ``K`` and ``K`` with respect to each ``s_e`` (the chain rule).
    """
    if not isinstance(graph, GraphArchitecture):
        raise ConfigError(f"graph: expected a GraphArchitecture, got {type(graph).__name__}")
    state = [edge_strength_symbol(e) for e in graph.edges]
    symbol_of = dict(zip(graph.edges, state))
    path_strengths = [sp.Mul(*[symbol_of[e] for e in path]) for path in graph.paths]
    total = sp.Dummy("K")
    loss, parameters = _reduced_loss(graph, [total])
    k_total = sp.Add(*path_strengths)
    lam = sp.Integer(1) if graph.whitened else input_variance_symbol()
    error = mode_symbols() - lam * k_total
    # -dL/dK, derived, must be the mode's error; it is then kept in that canonical form so
    # that consumers (exports, the invariant search) find the error as one sub-expression.
    minus_dloss_dk = -sp.diff(loss, total)
    if not is_identically_zero(minus_dloss_dk.xreplace({total: k_total}) - error):
        raise DerivationError(f"-dL/dK = {minus_dloss_dk} is not the mode error {error}")
    rhs = [error * sp.diff(k_total, s) for s in state]
    eqs = GraphModeEquations(
        kind="graph-edge",
        depths=graph.path_lengths,
        state=state,
        rhs=rhs,
        parameters=parameters,
        strengths=path_strengths,
        description=f"per-edge mode strengths of a {graph.describe()}",
        graph=graph,
        state_edges=tuple((e,) for e in graph.edges),
    )
    return replace(eqs, invariants=derive_graph_invariants(eqs)) if invariants else eqs


def node_invariant(equations: GraphModeEquations, node: str) -> sp.Expr:
    """``sum_{e into node} s_e^2 - sum_{e out of node} s_e^2`` in the state of ``equations``.

    Parameters
    ----------
    equations : GraphModeEquations
        The reduced equations (their state carries the edges).
    node : str
        A hidden node.

    Returns
    -------
    sympy.Expr
        The node's invariant.
    """
    graph = equations.graph
    owner = {}
    for x, edges in zip(equations.state, equations.state_edges):
        for e in edges:
            owner[e] = x
    return sp.Add(*[owner[e] ** 2 for e in graph.in_edges(node)]) - sp.Add(*[owner[e] ** 2 for e in graph.out_edges(node)])


def derive_graph_invariants(equations: GraphModeEquations) -> tuple:
    """A basis of the quadratic forms of the state conserved by the flow.

    Solves for every form ``Q = sum_{i<=j} c_ij x_i x_j`` with ``dQ/dt = 0`` identically,
    the mode's error ``S - lambda K`` replaced by an independent symbol ``e`` (so the forms
    are conserved whatever ``e(t)`` is). Each returned :class:`Invariant` is verified to
    have zero time derivative. The basis is put in reduced row-echelon form, so for a
    graph it is the node invariants (see :func:`node_invariant`) up to linear combination
    whenever those span it; the tests check that.

    Parameters
    ----------
    equations : GraphModeEquations
        The reduced equations.

    Returns
    -------
    tuple of Invariant
        ``pathway`` is None (an invariant belongs to nodes, not to a pathway).

    Raises
    ------
    DerivationError
        When the flow is not the error times a polynomial of the state, or a form
        found fails its check.
    """
    xs = list(equations.state)
    e = sp.Dummy("e")
    rhs = [f.xreplace({equations.error: e}) for f in equations.rhs]
    pairs = [(i, j) for i in range(len(xs)) for j in range(i, len(xs))]
    coefficients = sp.symbols(f"c0:{len(pairs)}")
    form = sp.Add(*[c * xs[i] * xs[j] for c, (i, j) in zip(coefficients, pairs)])
    derivative = sp.expand(sp.Add(*[sp.diff(form, x) * f for x, f in zip(xs, rhs)]))
    if derivative.has(*equations.parameters) or not derivative.has(e) and derivative != 0:
        raise DerivationError("the flow is not the error times a polynomial of the state; no invariant search possible")
    poly = sp.Poly(derivative, *xs, e)
    matrix = sp.Matrix([[sp.diff(coefficient_row, c) for c in coefficients] for coefficient_row in poly.coeffs()])
    basis = matrix.nullspace() if poly.coeffs() else [sp.eye(len(pairs))[:, i] for i in range(len(pairs))]
    if basis:
        basis_matrix = sp.Matrix.hstack(*basis).T.rref()[0]
        basis = [basis_matrix.row(r).T for r in range(basis_matrix.rows) if any(basis_matrix.row(r))]
    found = []
    for vector in basis:
        expr = sp.Add(*[v * xs[i] * xs[j] for v, (i, j) in zip(vector, pairs) if v != 0])
        if not is_identically_zero(sp.expand(equations.time_derivative(expr))):
            raise DerivationError(f"quadratic invariant {expr} failed its check")
        found.append(Invariant(pathway=None, expr=expr, name=f"I_{len(found) + 1}"))
    return tuple(found)


def derive_graph_qp_equations(graph: GraphArchitecture) -> GraphModeEquations:
    """The q/p-like reduction: one ``(q, p)`` pair per chain segment of two or more edges.

    For segment ``k`` (in the order of :meth:`GraphArchitecture.chain_segments`) the first
    ``m - 1`` edge strengths are set to ``q_k`` and the last to ``p_k``; a segment of one
    edge keeps its ``s_e``. The restriction is accepted only if the restricted right-hand
    sides of the ``m - 1`` edges coincide identically (the set is invariant).

    Parameters
    ----------
    graph : GraphArchitecture
        The graph.

    Returns
    -------
    GraphModeEquations
        ``kind="graph-qp"``; with the conserved ``q_k^2 - p_k^2`` and the node invariants
        of the nodes between segments.

    Raises
    ------
    DerivationError
        If a restricted set were not invariant.
    """
    edge_eqs = derive_graph_mode_equations(graph, invariants=False)
    symbol_of = dict(zip(graph.edges, edge_eqs.state))
    substitution, variables = {}, []
    for k, segment in enumerate(graph.chain_segments(), start=1):
        if len(segment) == 1:
            variables.append((symbol_of[segment[0]], segment, None))
            continue
        q, p = sp.Symbol(f"q_{k}", real=True), sp.Symbol(f"p_{k}", real=True)
        for e in segment[:-1]:
            substitution[symbol_of[e]] = q
        substitution[symbol_of[segment[-1]]] = p
        variables.append((q, segment[:-1], p))
        variables.append((p, segment[-1:], None))
    restricted = dict(zip(edge_eqs.state, xreplace_all(edge_eqs.rhs, substitution)))
    state, rhs, state_edges = [], [], []
    for symbol, edges, _ in variables:
        first = restricted[symbol_of[edges[0]]]
        for e in edges[1:]:
            other = restricted[symbol_of[e]]
            if other != first and not is_identically_zero(other - first):
                raise DerivationError(f"segment through {edges}: the set of equal strengths is not invariant ({e} differs)")
        state.append(symbol)
        rhs.append(first)
        state_edges.append(tuple(edges))
    strengths = [k.xreplace(substitution) for k in edge_eqs.strengths]
    eqs = GraphModeEquations(
        kind="graph-qp",
        depths=edge_eqs.depths,
        state=state,
        rhs=rhs,
        parameters=edge_eqs.parameters,
        strengths=strengths,
        description=f"q/p-like reduction of a {graph.describe()}",
        graph=graph,
        state_edges=tuple(state_edges),
    )
    return replace(eqs, invariants=derive_graph_invariants(eqs))
