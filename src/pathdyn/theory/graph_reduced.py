"""Reduced per-mode equations of a graph of linear maps, derived with sympy in node form.

Per mode ``alpha`` every edge ``e`` carries a strength ``s_e`` (the aligned, decoupled
initial condition: ``W_e = sum_alpha s_{e alpha} r_v^alpha (r_u^alpha)^T`` with orthonormal
mode directions ``r`` at every node, ``v_alpha`` at ``x`` and ``u_alpha`` at ``y``). With
inputs whose correlation shares the right singular vectors of ``Sigma_yx``
(``Sigma_x v_alpha = lambda_alpha v_alpha``; ``lambda = 1`` when whitened) the loss separates
per mode as ``1/2 lambda K^2 - S K``, ``K`` the mode's total strength, and the reduced
equations are its gradient flow ``ds_e/dt = -dL/ds_e``.

Node form (the default). The strengths of the nodes are built as backpropagation builds
the maps of a network, each defined once:

    f_x = 1,  f_v = sum over edges u -> v of s_(u,v) f_u,   K = f_y,
    b_y = 1,  b_u = sum over edges u -> v of s_(u,v) b_v,
    ds_(u,v)/dt = b_v (S - lambda K) f_u.

sympy derives ``-dL/dK`` from the loss, the backward strengths as the adjoints
``b_u = sum_w (d f_w / d f_u) b_w`` and ``dK/ds_e = sum_w (d f_w / d s_e) b_w`` from the
definitions, one edge at a time: the work and the size of the equations grow with the
number of edges, never with the number of paths. ``form="path-sums"`` writes ``K`` out as
the sum over paths of the products of edge strengths (small graphs).

Conserved quantities (:func:`derive_graph_invariants`): for every hidden node ``h`` the
balance ``sum_{e into h} s_e^2 - sum_{e out of h} s_e^2`` (the flow is blind to rescaling
the edges into ``h`` by ``c`` and those out of it by ``1/c``); for every two nodes with the
same parents and the same children the off-diagonal balance, and with a single parent and
child a rotation; each verified by sympy. On small systems a complete search over the
quadratic forms of the state adds any others it finds.

The q/p-like reduction (:func:`derive_graph_qp_equations`): every path through one edge of
a chain segment (see :meth:`GraphArchitecture.chain_segments`) runs through all of its
edges; on the set where all but the last edge of a segment share one strength ``q`` and the
last has ``p`` the flow stays (checked, not assumed). For parallel pathways this is the
paper's q/p model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations

import sympy as sp

from pathdyn.errors import ConfigError, DerivationError
from pathdyn.theory.architecture import Architecture, as_graph
from pathdyn.theory.graph import INPUT, OUTPUT, GraphArchitecture
from pathdyn.theory.graph_flow import check_path_sums
from pathdyn.theory.modes import Invariant, ModeEquations, input_variance_symbol, mode_symbols
from pathdyn.theory.algebra import is_identically_zero, xreplace_all

__all__ = [
    "INVARIANT_SEARCH_MAX_STATE",
    "MODE_FORMS",
    "GraphModeEquations",
    "backward_strength_symbol",
    "derive_graph_invariants",
    "derive_graph_mode_equations",
    "derive_graph_qp_equations",
    "edge_strength_symbol",
    "forward_strength_symbol",
    "node_invariant",
    "total_strength_gradients",
    "total_strength_symbol",
]

#: ``node``: forward and backward strengths of the nodes, each defined once; ``path-sums``:
#: ``K`` written out as a sum over paths (small graphs).
MODE_FORMS = ("node", "path-sums")
#: The complete search for conserved quadratic forms solves for one coefficient per pair of
#: state variables and expands the flow over paths; it runs on systems of at most this many
#: state variables (the structural invariants are found on every graph).
INVARIANT_SEARCH_MAX_STATE = 12


def edge_strength_symbol(edge: tuple[str, str]) -> sp.Symbol:
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


def forward_strength_symbol(node: str) -> sp.Symbol:
    """Forward strength ``f_<node>`` (the mode's strength along every path ``x -> node``).

    Parameters
    ----------
    node : str
        A hidden node.

    Returns
    -------
    sympy.Symbol
        ``f_<node>`` (real).
    """
    return sp.Symbol(f"f_{node}", real=True)


def backward_strength_symbol(node: str) -> sp.Symbol:
    """Backward strength ``b_<node>`` (the mode's strength along every path ``node -> y``).

    Parameters
    ----------
    node : str
        A hidden node.

    Returns
    -------
    sympy.Symbol
        ``b_<node>`` (real).
    """
    return sp.Symbol(f"b_{node}", real=True)


def total_strength_symbol() -> sp.Symbol:
    """The mode's total strength ``K`` (the forward strength of ``y``).

    Returns
    -------
    sympy.Symbol
        ``K`` (real).
    """
    return sp.Symbol("K", real=True)


@dataclass(frozen=True)
class GraphModeEquations(ModeEquations):
    """:class:`ModeEquations` of a graph.

    When the graph's paths are few enough to list (:attr:`GraphArchitecture.paths_listed`),
    ``strengths`` holds each path's ``K_p`` (the product of its edge strengths; their sum is
    the mode's ``K``) and ``depths`` the path lengths, so every consumer of
    :class:`ModeEquations` (``compile_rhs``, ``integrate``) reports ``K`` per path; otherwise
    ``strengths`` is the total ``K`` alone and ``depths`` the longest path's length. With
    ``lambda`` among the parameters (general inputs) ``error`` is ``S - lambda K``.

    Attributes
    ----------
    graph : GraphArchitecture
    state_edges : tuple
        The edges each state variable stands for (one edge per ``s_e``; all the edges of
        a chain segment but the last for ``q``, the last for ``p``).
    form : {"node", "path-sums"}
    total : sympy.Expr
        The mode's total strength: the symbol ``K`` (defined in ``definitions``) in node
        form, the sum over paths otherwise.
    invariant_nodes : tuple of tuple of str
        For each invariant, the nodes whose strengths its check writes out.
    """

    graph: GraphArchitecture | None = None
    state_edges: tuple = ()
    form: str = "node"
    total: sp.Expr | None = None
    invariant_nodes: tuple = ()

    @property
    def per_path(self) -> bool:
        """Whether ``strengths`` lists the paths one by one (else it is the total ``K``)."""
        return self.graph is not None and self.graph.paths_listed and len(self.strengths) == self.graph.num_paths

    @property
    def error(self) -> sp.Expr:
        """``S - K`` (whitened) or ``S - lambda K``, ``K`` the mode's total strength."""
        total = self.total if self.total is not None else sp.Add(*self.strengths)
        lam = self.input_variance
        return self.S - total if lam is None else self.S - lam * total


def _check_graph(graph: GraphArchitecture, form: str) -> None:
    if not isinstance(graph, GraphArchitecture):
        raise ConfigError(f"graph: expected a GraphArchitecture, got {type(graph).__name__}")
    if form not in MODE_FORMS:
        raise ConfigError(f"form: unknown form {form!r}; choose one of {', '.join(MODE_FORMS)}")
    if form == "path-sums":
        check_path_sums(graph)


def _loss_error(graph: GraphArchitecture, total: sp.Expr) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """``-dL/dK`` of the reduced loss ``lambda K^2 / 2 - S K``, derived by sympy and checked.

    Kept in the canonical form ``S - lambda K`` so that the exports and the invariant
    search find the error as one sub-expression.
    """
    S, lam = mode_symbols(), (sp.Integer(1) if graph.whitened else input_variance_symbol())
    K = sp.Dummy("K")
    loss = lam * K**2 / 2 - S * K
    error = S - lam * total
    if not is_identically_zero(-sp.diff(loss, K).xreplace({K: total}) - error):
        raise DerivationError(f"-dL/dK = {-sp.diff(loss, K)} is not the mode error {error}")
    return error, ((S,) if graph.whitened else (S, lam))


def _path_strengths(graph: GraphArchitecture, symbol_of: Mapping[tuple[str, str], sp.Expr]) -> tuple[list[sp.Expr] | None, tuple[int, ...]]:
    """``(strengths, depths)``: ``K_p`` per path when the paths are listed, else the total alone."""
    if graph.paths_listed:
        return [sp.Mul(*[symbol_of[e] for e in path]) for path in graph.paths], graph.path_lengths
    return None, (graph.longest_path,)


def _node_strengths(graph: GraphArchitecture, symbol_of: Mapping[tuple[str, str], sp.Expr]
                    ) -> tuple[dict[str, sp.Expr], dict[str, sp.Expr], tuple[tuple[sp.Symbol, sp.Expr], ...]]:
    """Forward and backward strengths of every node, and their definitions, derived by sympy.

    Returns ``(forward, backward, definitions)``: node -> symbol (``1`` at ``x`` and ``y``
    for the identities, ``K`` for the forward strength of ``y``) and the definitions in
    evaluation order (forward in topological order, then backward in reverse order).
    The backward strengths are the adjoints ``b_u = sum_w (d f_w / d f_u) b_w``.
    """
    forward, definitions = {INPUT: sp.Integer(1)}, []
    for node in graph.nodes[1:]:
        forward[node] = total_strength_symbol() if node == OUTPUT else forward_strength_symbol(node)
        definitions.append((forward[node], sp.Add(*[symbol_of[e] * forward[e[0]] for e in graph.in_edges(node)])))
    definition_of = dict(definitions)
    backward = {OUTPUT: sp.Integer(1)}
    for node in reversed(graph.nodes[1:-1]):
        backward[node] = backward_strength_symbol(node)
        adjoint = sp.Add(*[sp.diff(definition_of[forward[v]], forward[node]) * backward[v] for _, v in graph.out_edges(node)])
        definitions.append((backward[node], adjoint))
    return forward, backward, tuple(definitions)


def derive_graph_mode_equations(graph: GraphArchitecture | Architecture, invariants: bool = True, form: str = "node") -> GraphModeEquations:
    """Per-edge reduced equations of one mode, the gradient flow of the reduced loss.

    Parameters
    ----------
    graph : GraphArchitecture or Architecture (pathways: the graph of their chains)
    invariants : bool
        Derive the conserved quadratic forms too (default True).
    form : {"node", "path-sums"}
        ``node`` (default): in the nodes' forward and backward strengths, each defined once
        (linear in the number of edges); ``path-sums``: ``K`` written out over the paths.

    Returns
    -------
    GraphModeEquations
        ``kind="graph-edge"``; state ``s_e`` in edge order; parameters ``(S,)`` when
        whitened, ``(S, lambda)`` otherwise.

    Raises
    ------
    ConfigError
        When ``graph`` is not a :class:`GraphArchitecture` or ``form`` is unknown.
    DerivationError
        When ``-dL/dK`` is not the mode's error (a derivation bug).

    Notes
    -----
    ``L = lambda K^2 / 2 - S K`` and ``ds_e/dt = -dL/ds_e = (S - lambda K) dK/ds_e``; sympy
    differentiates ``L`` with respect to ``K`` and, by the chain rule through the node
    definitions, ``K`` with respect to each ``s_e``: ``dK/ds_(u,v) = f_u b_v``.
    """
    graph = as_graph(graph)  # pathways are the graph of their chains
    _check_graph(graph, form)
    state = [edge_strength_symbol(e) for e in graph.edges]
    symbol_of = dict(zip(graph.edges, state))
    strengths, depths = _path_strengths(graph, symbol_of)
    definitions: tuple[tuple[sp.Symbol, sp.Expr], ...]
    if form == "path-sums":
        total = sp.Add(*graph_path_products(graph, symbol_of))
        error, parameters = _loss_error(graph, total)
        rhs, definitions = [error * sp.diff(total, s) for s in state], ()
    else:
        forward, backward, definitions = _node_strengths(graph, symbol_of)
        total = forward[OUTPUT]
        error, parameters = _loss_error(graph, total)
        definition_of: dict[sp.Symbol, sp.Expr] = dict(definitions)
        rhs = [error * sp.diff(definition_of[forward[v]], symbol_of[(u, v)]) * backward[v] for u, v in graph.edges]
    eqs = GraphModeEquations(
        kind="graph-edge", depths=depths, state=state, rhs=rhs, parameters=parameters,
        strengths=strengths if strengths is not None else [total],
        description=f"per-edge mode strengths of a {graph.describe()}",
        definitions=definitions, graph=graph, state_edges=tuple((e,) for e in graph.edges), form=form, total=total,
    )
    return _with_graph_invariants(eqs) if invariants else eqs


def graph_path_products(graph: GraphArchitecture, symbol_of: Mapping[tuple[str, str], sp.Expr]) -> list[sp.Expr]:
    """``prod_{e in p} s_e`` for every path ``p`` (the graph's paths must be listed).

    Parameters
    ----------
    graph : GraphArchitecture
        A graph with at most :data:`~pathdyn.theory.graph.MAX_LISTED_PATHS` paths.
    symbol_of : dict
        Edge -> its strength.

    Returns
    -------
    list of sympy.Expr
        One product per path, in the order of :attr:`GraphArchitecture.paths`.
    """
    return [sp.Mul(*[symbol_of[e] for e in path]) for path in graph.paths]


def total_strength_gradients(graph: GraphArchitecture, weights: Mapping[tuple[str, str], sp.Matrix]
                             ) -> dict[tuple[str, str], sp.Matrix]:
    """``dK/dW_e`` for every edge of a graph whose edges carry small explicit matrices, in node form.

    The per-edge model of :func:`derive_graph_mode_equations` gives every edge one strength;
    here an edge carries a matrix (the two-channel model's ``2 x 1``, ``2 x 2`` and ``1 x 2``
    blocks of a mode, say) and every node a vector. The work grows with the edges, never with
    the paths.

    Parameters
    ----------
    graph : GraphArchitecture
        The graph.
    weights : dict
        Edge ``(u, v)`` -> its matrix, of shape ``(dim v, dim u)``; ``x`` and ``y`` have
        dimension 1 (one mode: ``K`` is a number).

    Returns
    -------
    dict
        Edge -> the matrix of ``dK/d(W_e)_{ij}``, written in the entries of ``weights``.

    Raises
    ------
    ConfigError
        When an edge has no matrix, or the shapes do not chain.

    Notes
    -----
    Forward vectors ``f_x = 1``, ``f_v = sum_{u -> v} W_(u,v) f_u`` and ``K = f_y``; the
    backward vectors are the adjoints ``(b_u)_i = sum_{u -> v} sum_k d(f_v)_k / d(f_u)_i (b_v)_k``
    (``b_y = 1``), and ``dK/d(W_e)_{ij} = sum_k d(f_v)_k / d(W_e)_{ij} (b_v)_k``, i.e.
    ``b_v f_u^T``: sympy differentiates each node's one-step definition, with the node
    vectors as symbols, and the node vectors are then written out once each, in evaluation
    order (forward in topological order, backward in reverse).
    """
    forward_symbols, definition_of = _vector_definitions(graph, weights)
    backward_symbols: dict[str, sp.Matrix] = {OUTPUT: sp.Matrix([[1]])}
    written: dict[sp.Basic, sp.Expr] = {}
    for node in graph.nodes[1:]:
        for symbol, definition in zip(forward_symbols[node], definition_of[node]):
            written[symbol] = definition.xreplace(written)
    for node in reversed(graph.nodes[1:-1]):
        symbols = sp.Matrix([sp.Dummy(f"b_{node}_{i + 1}") for i in range(len(forward_symbols[node]))])
        adjoint = [sp.Add(*[sp.diff(definition_of[v][k], f) * backward_symbols[v][k]
                            for _, v in graph.out_edges(node) for k in range(len(forward_symbols[v]))])
                   for f in forward_symbols[node]]
        for symbol, definition in zip(symbols, adjoint):
            written[symbol] = definition.xreplace(written)
        backward_symbols[node] = symbols
    gradients = {}
    for u, v in graph.edges:
        W = weights[(u, v)]
        gradient = sp.Matrix(W.rows, W.cols, lambda i, j, W=W, v=v: sp.Add(
            *[sp.diff(definition_of[v][k], W[i, j]) * backward_symbols[v][k] for k in range(W.rows)]))
        gradients[(u, v)] = gradient.xreplace(written)
    return gradients


def _vector_definitions(graph: GraphArchitecture, weights: Mapping[tuple[str, str], sp.Matrix]
                        ) -> tuple[dict[str, sp.Matrix], dict[str, list[sp.Expr]]]:
    """Node -> its forward vector's symbols (``1`` at ``x``), and node -> their one-step definitions."""
    missing = [f"{u}->{v}" for u, v in graph.edges if not isinstance(weights.get((u, v)), sp.MatrixBase)]
    if missing:
        raise ConfigError(f"weights: no matrix for edge(s) {', '.join(missing)}; give one sympy Matrix per edge")
    symbols: dict[str, sp.Matrix] = {INPUT: sp.Matrix([[1]])}
    definitions: dict[str, list[sp.Expr]] = {}
    for node in graph.nodes[1:]:
        rows = {weights[e].rows for e in graph.in_edges(node)}
        if len(rows) != 1 or (node == OUTPUT and rows != {1}):
            raise ConfigError(f"weights: the edges into {node} have {sorted(rows)} rows; give them one row count "
                              "(1 at y)")
        total = sp.zeros(rows.pop(), 1)
        for u, _ in graph.in_edges(node):
            W = weights[(u, node)]
            if W.cols != len(symbols[u]):
                raise ConfigError(f"weights: edge {u}->{node} has {W.cols} columns but {u} has dimension "
                                  f"{len(symbols[u])}; give it {len(symbols[u])}")
            total += W * symbols[u]
        symbols[node] = sp.Matrix([sp.Dummy(f"f_{node}_{i + 1}") for i in range(total.rows)])
        definitions[node] = list(total)
    return symbols, definitions


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
    assert equations.graph is not None  # graph equations carry their graph
    return _balance(equations.graph, _owner(equations), node)


def _balance(graph: GraphArchitecture, owner: Mapping[tuple[str, str], sp.Symbol], node: str) -> sp.Expr:
    return sp.Add(*[owner[e] ** 2 for e in graph.in_edges(node)]) - sp.Add(*[owner[e] ** 2 for e in graph.out_edges(node)])


def _owner(equations: GraphModeEquations) -> dict[tuple[str, str], sp.Symbol]:
    """Edge -> the state variable that stands for it."""
    return {e: x for x, edges in zip(equations.state, equations.state_edges) for e in edges}


def _structural_forms(equations: GraphModeEquations) -> list[tuple[sp.Expr, tuple[str, ...]]]:
    """``(form, nodes)``: each hidden node's balance, then the forms of interchangeable nodes.

    Two hidden nodes with the same parents and the same children act as one layer of width
    two: ``sum_parents s_pa s_pb - sum_children s_ac s_bc`` is conserved, and with a single
    parent ``p`` and child ``c`` so is ``s_pa s_bc - s_pb s_ac``. Found in one pass over the
    nodes (grouped by their neighbours).
    """
    graph, owner = equations.graph, _owner(equations)
    assert graph is not None  # graph equations carry their graph
    forms: list[tuple[sp.Expr, tuple[str, ...]]] = [(_balance(graph, owner, h), (h,)) for h in graph.hidden_nodes]
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for h in graph.hidden_nodes:
        key = (tuple(sorted(u for u, _ in graph.in_edges(h))), tuple(sorted(v for _, v in graph.out_edges(h))))
        groups.setdefault(key, []).append(h)
    for (parents, children), nodes in groups.items():
        for a, b in combinations(nodes, 2):
            balance = (sp.Add(*[owner[(p, a)] * owner[(p, b)] for p in parents])
                       - sp.Add(*[owner[(a, c)] * owner[(b, c)] for c in children]))
            forms.append((balance, (a, b)))
            if len(parents) == 1 and len(children) == 1:
                (p,), (c,) = parents, children
                forms.append((owner[(p, a)] * owner[(b, c)] - owner[(p, b)] * owner[(a, c)], (a, b)))
    return forms


def _is_conserved(equations: GraphModeEquations, expr: sp.Expr, nodes: Sequence[str], rhs_of: Mapping[sp.Symbol, sp.Expr] | None = None,
                  definition_of: Mapping[sp.Symbol, sp.Expr] | None = None) -> bool:
    """Whether ``d expr/dt`` vanishes identically, the strengths of ``nodes`` written out one step.

    The other node strengths stay free symbols, so an identity found is an identity for
    their actual values too; writing out only the strengths next to the form keeps the
    check local (its cost does not grow with the number of paths). The derivative is
    taken in sympy's sparse polynomials (``sum_x dQ/dx * dx/dt``, the mode's error an
    independent symbol).
    """
    rhs_of = rhs_of if rhs_of is not None else dict(zip(equations.state, equations.rhs))
    definition_of = definition_of if definition_of is not None else dict(equations.definitions)
    error, e = equations.error, sp.Dummy("e")
    nearby = {}
    for node in nodes:
        for symbol in (forward_strength_symbol(node), backward_strength_symbol(node)):
            if symbol in definition_of:
                nearby[symbol] = definition_of[symbol]
    gradient = _quadratic_gradient(expr)
    derivative = sp.Add(*[slope * rhs_of[x].xreplace({error: e}).xreplace(nearby) for x, slope in gradient.items()])
    return sp.expand(derivative) == 0


def _quadratic_gradient(form: sp.Expr) -> dict[sp.Symbol, sp.Expr]:
    """``{x: dQ/dx}`` of a quadratic form ``Q = sum c_ij x_i x_j`` (read off its terms)."""
    gradient: dict[sp.Symbol, sp.Expr] = {}
    for term, coefficient in sp.expand(form).as_coefficients_dict().items():
        powers = term.as_powers_dict()
        if sum(powers.values()) != 2:
            raise DerivationError(f"{form} is not a quadratic form")
        for x, k in powers.items():
            rest = term / x
            gradient[x] = gradient.get(x, 0) + coefficient * k * rest
    return gradient


def _independent(forms: Sequence[tuple[sp.Expr, tuple[str, ...]]]) -> list[tuple[sp.Expr, tuple[str, ...]]]:
    """The forms without zeros and repeats (up to sign), in order."""
    kept: list[tuple[sp.Expr, tuple[str, ...]]] = []
    seen: set[sp.Expr] = set()
    for expr, nodes in forms:
        expr = sp.expand(expr)
        if expr == 0 or expr in seen or -expr in seen:
            continue
        seen.add(expr)
        kept.append((expr, nodes))
    return kept


def derive_graph_invariants(equations: GraphModeEquations) -> tuple[Invariant, ...]:
    """Conserved quadratic forms of the state: the structural ones, plus any a complete search finds.

    The structural forms (each hidden node's balance; the forms of nodes with the same
    parents and children, see the module docstring) are written in the equations' state
    (for the q/p reduction, each edge strength replaced by the variable standing for it)
    and each is verified by sympy to have zero time derivative whatever the mode's error
    is. On systems of at most :data:`INVARIANT_SEARCH_MAX_STATE` state variables, every
    quadratic form ``sum_{i<=j} c_ij x_i x_j`` with zero derivative is also solved for, and
    the forms outside the span of the structural ones are added (verified the same way).

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
        When a form fails its check, or the flow is not the error times a polynomial.
    """
    return _graph_invariants(equations)[0]


def _graph_invariants(equations: GraphModeEquations) -> tuple[tuple[Invariant, ...], tuple[tuple[str, ...], ...]]:
    """``(invariants, nodes of each)``: see :func:`derive_graph_invariants`."""
    found: list[sp.Expr] = []
    nodes_of: list[tuple[str, ...]] = []
    rhs_of, definition_of = dict(zip(equations.state, equations.rhs)), dict(equations.definitions)
    for expr, nodes in _independent(_structural_forms(equations)):
        if not _is_conserved(equations, expr, nodes, rhs_of, definition_of):
            raise DerivationError(f"conserved quantity {expr} (nodes {', '.join(nodes)}) failed its check")
        found.append(expr)
        nodes_of.append(nodes)
    if len(equations.state) <= INVARIANT_SEARCH_MAX_STATE:
        assert equations.graph is not None  # graph equations carry their graph
        for expr in _complete_search(equations, found):
            found.append(expr)
            nodes_of.append(tuple(equations.graph.hidden_nodes))
    invariants = tuple(Invariant(pathway=None, expr=expr, name=f"I_{i}") for i, expr in enumerate(found, start=1))
    return invariants, tuple(nodes_of)


def _with_graph_invariants(equations: GraphModeEquations) -> GraphModeEquations:
    invariants, nodes = _graph_invariants(equations)
    return replace(equations, invariants=invariants, invariant_nodes=nodes)


def _complete_search(equations: GraphModeEquations, known: Sequence[sp.Expr]) -> list[sp.Expr]:
    """The conserved quadratic forms outside the span of ``known``, by a complete search.

    Solves for every ``Q = sum_{i<=j} c_ij x_i x_j`` with ``dQ/dt = 0`` identically, the
    mode's error replaced by an independent symbol ``e`` and the node strengths written
    out (the system is small), and returns a basis of the solutions not spanned by ``known``.
    """
    xs = list(equations.state)
    e = sp.Dummy("e")
    rhs = [equations.inline(f.xreplace({equations.error: e})) for f in equations.rhs]
    pairs = [(i, j) for i in range(len(xs)) for j in range(i, len(xs))]
    coefficients = sp.symbols(f"c0:{len(pairs)}")
    form = sp.Add(*[c * xs[i] * xs[j] for c, (i, j) in zip(coefficients, pairs)])
    derivative = sp.expand(sp.Add(*[sp.diff(form, x) * f for x, f in zip(xs, rhs)]))
    if derivative.has(*equations.parameters) or not derivative.has(e) and derivative != 0:
        raise DerivationError("the flow is not the error times a polynomial of the state; no invariant search possible")
    poly = sp.Poly(derivative, *xs, e)
    matrix = sp.Matrix([[sp.diff(row, c) for c in coefficients] for row in poly.coeffs()])
    basis = matrix.nullspace() if poly.coeffs() else [sp.eye(len(pairs))[:, i] for i in range(len(pairs))]
    monomials = [xs[i] * xs[j] for i, j in pairs]
    span = [[sp.expand(k).coeff(m) if k.is_Add or k.is_Mul else sp.Poly(k, *xs).coeff_monomial(m)
             for m in monomials] for k in known]
    rank = sp.Matrix(span).rank() if span else 0
    extra = []
    for vector in basis:
        candidate = sp.Matrix(span + [list(vector)])
        if candidate.rank() > rank:
            expr = sp.Add(*[v * m for v, m in zip(vector, monomials) if v != 0])
            if not is_identically_zero(sp.expand(equations.inline(equations.time_derivative(expr)))):
                raise DerivationError(f"quadratic invariant {expr} failed its check")
            span.append(list(vector))
            rank += 1
            extra.append(expr)
    return extra


def _restrict(edge_eqs: GraphModeEquations, substitution: dict[sp.Symbol, sp.Symbol], graph: GraphArchitecture
              ) -> tuple[dict[tuple[str, str], sp.Expr], tuple[tuple[sp.Symbol, sp.Expr], ...]]:
    """The per-edge node-form equations on the q/p set, inner chain nodes written out.

    Returns ``(restricted rhs by edge, definitions of the branch nodes)``. An inner node of
    a chain segment has one edge in and one out, so its strengths are written out along the
    segment, one multiplication per node.
    """
    symbols = [symbol for symbol, _ in edge_eqs.definitions]
    definition_of = dict(zip(symbols, xreplace_all([expr for _, expr in edge_eqs.definitions], substitution)))
    inner = {n for n in graph.hidden_nodes if len(graph.in_edges(n)) == 1 and len(graph.out_edges(n)) == 1}
    written: dict[sp.Symbol, sp.Expr] = {}
    for node in graph.nodes:  # topological: a forward strength uses its parent's, written out already
        if node in inner:
            symbol = forward_strength_symbol(node)
            written[symbol] = definition_of[symbol].xreplace(written)
    for node in reversed(graph.nodes):
        if node in inner:
            symbol = backward_strength_symbol(node)
            written[symbol] = definition_of[symbol].xreplace(written)
    rhs = {e: f.xreplace(substitution).xreplace(written) for e, f in zip(graph.edges, edge_eqs.rhs)}
    definitions = tuple((symbol, definition_of[symbol].xreplace(written)) for symbol, _ in edge_eqs.definitions
                        if symbol not in written)
    return rhs, definitions


def derive_graph_qp_equations(graph: GraphArchitecture, form: str = "node") -> GraphModeEquations:
    """The q/p-like reduction: one ``(q, p)`` pair per chain segment of two or more edges.

    For segment ``k`` (in the order of :meth:`GraphArchitecture.chain_segments`) the first
    ``m - 1`` edge strengths are set to ``q_k`` and the last to ``p_k``; a segment of one
    edge keeps its ``s_e``. The restriction is accepted only if the restricted right-hand
    sides of the ``m - 1`` edges coincide identically (the set is invariant).

    Parameters
    ----------
    graph : GraphArchitecture
        The graph.
    form : {"node", "path-sums"}
        As :func:`derive_graph_mode_equations`; in node form only the nodes where paths
        branch or merge keep their forward and backward strengths.

    Returns
    -------
    GraphModeEquations
        ``kind="graph-qp"``; with the conserved ``q_k^2 - p_k^2`` and the balances of the
        nodes between segments.

    Raises
    ------
    DerivationError
        If a restricted set were not invariant.
    """
    edge_eqs = derive_graph_mode_equations(graph, invariants=False, form=form)
    assert edge_eqs.total is not None  # set by derive_graph_mode_equations
    symbol_of = dict(zip(graph.edges, edge_eqs.state))
    substitution: dict[sp.Symbol, sp.Symbol] = {}
    variables: list[tuple[sp.Symbol, tuple[tuple[str, str], ...]]] = []
    for k, segment in enumerate(graph.chain_segments(), start=1):
        if len(segment) == 1:
            variables.append((symbol_of[segment[0]], segment))
            continue
        q, p = sp.Symbol(f"q_{k}", real=True), sp.Symbol(f"p_{k}", real=True)
        for e in segment[:-1]:
            substitution[symbol_of[e]] = q
        substitution[symbol_of[segment[-1]]] = p
        variables += [(q, segment[:-1]), (p, segment[-1:])]
    if form == "node":
        restricted, definitions = _restrict(edge_eqs, substitution, graph)
    else:
        restricted, definitions = dict(zip(graph.edges, xreplace_all(edge_eqs.rhs, substitution))), ()
    state, rhs, state_edges = [], [], []
    for symbol, edges in variables:
        first = restricted[edges[0]]
        for e in edges[1:]:
            other = restricted[e]
            if other != first and not is_identically_zero(sp.expand(other - first)):
                raise DerivationError(f"segment through {edges}: the set of equal strengths is not invariant ({e} differs)")
        state.append(symbol)
        rhs.append(first)
        state_edges.append(tuple(edges))
    eqs = GraphModeEquations(
        kind="graph-qp", depths=edge_eqs.depths, state=state, rhs=rhs, parameters=edge_eqs.parameters,
        strengths=[k.xreplace(substitution) for k in edge_eqs.strengths],
        description=f"q/p-like reduction of a {graph.describe()}", definitions=definitions, graph=graph,
        state_edges=tuple(state_edges), form=form, total=edge_eqs.total.xreplace(substitution),
    )
    return _with_graph_invariants(eqs)
