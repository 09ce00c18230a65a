"""Dynamical mean-field theory (DMFT) of Gaussian-initialised linear networks on any DAG.

The exact infinite-width limit of gradient descent on a graph network (node form: every
hidden node ``v`` of width ``N`` sums its incoming edges, ``F_v = sum_u W_{v<-u} F_u``)
when every entry of every edge matrix ``W_{v<-u}`` starts Gaussian with variance
``sigma^2 / N``. Data are whitened, ``Sigma_yx = U S V^T``; modes decouple at infinite
width, as for pathways (:mod:`pathdyn.numerics.dmft`), and are marched side by side as a
batch axis. The derivation is in ``docs/dmft-graphs.md``; :mod:`pathdyn.theory.dmft_graph`
exports the equations.

Fields (one mode)
    At each hidden node ``v`` the forward field ``f_v = F_v v_alpha`` and the backward field
    ``g_v = B_v^T u_alpha`` (entries scaled by ``sqrt N``). The cavity argument, edge by edge,
    turns every node into a *site* of the pathway DMFT: as linear maps in time,
    ``f_v = alpha_v + A_v g_v`` and ``g_v = beta_v + B_v f_v``, where the incoming edges add
    their independent Gaussian sources and memory kernels into ``alpha_v``, ``A_v`` and the
    outgoing edges theirs into ``beta_v``, ``B_v``:

    - hidden edge ``u -> v``: source covariance ``sigma^2 C^f_u`` and kernel
      ``sigma^2 R^f_u(t, s) + eta e_s C^f_u(s, t)`` into ``v``'s forward field; source
      ``sigma^2 C^g_v`` and kernel ``sigma^2 R^g_v(t, s) + eta e_s C^g_v(s, t)`` into ``u``'s
      backward field;
    - input edge ``x -> v``: the constant ``a_e(0)`` (``|a|^2 -> eps_in^2``) and kernel ``eta e_s``;
    - output edge ``u -> y``: the constant ``b_e(0)`` (``|b|^2 -> eps_out^2``) and kernel ``eta e_s``;
    - the edge ``x -> y`` (no hidden node): ``K(t+1) = K(t) + eta e_t``.

    Every node is then solved as a pathway site: ``P = (I - A B)^{-1}``, ``Q = (I - B A)^{-1}``,
    ``R^f = A Q``, ``R^g = B P``, ``C^f = P Sigma_alpha P^T + R^f Sigma_beta R^f^T`` and
    ``C^g = Q Sigma_beta Q^T + R^g Sigma_alpha R^g^T``. Row ``t`` of every matrix needs rows
    ``< t`` and ``e_s`` for ``s < t`` only, so one march in ``t`` (forward over the nodes in
    topological order, backward in reverse) solves it.

Per path
    ``K_p = u^T W_{y<-v_k} ... W_{v_1<-x} v`` is ``b_e . f_pi`` with ``e = (v_k, y)`` and
    ``f_pi`` the part of ``f_{v_k}`` carried by the prefix ``pi = x -> ... -> v_k``. The
    prefix fields obey ``f_pi = u_pi + A_pi g_v`` (the part of ``alpha_v`` and ``A_v`` that
    arrives through ``pi``), so they are marched beside the nodes: their responses
    ``G_pi = A_pi Q``, ``H_pi = A_pi R^g`` and covariances ``D^{pi rho}``. Their number grows
    with the number of paths; graphs with more get per-edge quantities instead (the flow
    ``K_e = g_v . W_e f_u`` through each edge, which sums the paths through ``e``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from pathdyn.errors import ConfigError, IntegrationError
from pathdyn.numerics.trajectory import Trajectory

__all__ = ["DMFTGraph", "solve_dmft_graph", "solve_dmft_graph_flow", "dmft_graph_memory_bytes", "MAX_PREFIX_MATRICES"]

INPUT = "x"
OUTPUT = "y"
#: Per-path output when the prefix matrices (pairs of prefixes at each node) are at most this many.
MAX_PREFIX_MATRICES = 400
#: Refuse a discrete solve whose working memory would exceed this.
MAX_MEMORY_BYTES = 3 * 2**30
#: Growth beyond this many times the largest singular value counts as a blow-up.
BLOWUP_FACTOR = 1e6
#: Matrices of ``(T+1) x (T+1)`` kept per hidden node (P, Q, R^f, R^g, C^f, C^g, Sigma_alpha, Sigma_beta).
MATRICES_PER_NODE = 8


@dataclass(frozen=True)
class DMFTGraph:
    """A DAG from ``x`` to ``y`` as the graph DMFT reads it (plain data, no sympy).

    Parameters
    ----------
    edges : sequence of (str, str)
        ``(u, v)`` edges; ``x`` is the input, ``y`` the output, every other node hidden.
    paths : sequence of tuple of (str, str), optional
        The paths from ``x`` to ``y`` as tuples of edges, in the order ``K`` reports them;
        default enumerated here (depth first in edge order, as
        :attr:`pathdyn.theory.graph.GraphArchitecture.paths`).

    Raises
    ------
    ConfigError
        When an edge is malformed, the graph has a cycle, or a node is cut off from ``x`` or ``y``.
    """

    edges: tuple
    paths: tuple | None = None
    order: tuple = field(init=False, default=())
    _in: dict = field(init=False, repr=False, compare=False, default_factory=dict)
    _out: dict = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        edges = tuple((str(u), str(v)) for u, v in self.edges)
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "order", _topological_order(edges))
        for u, v in edges:  # adjacency once: the march asks for it every row
            self._in.setdefault(v, []).append((u, v))
            self._out.setdefault(u, []).append((u, v))

    @property
    def hidden(self) -> tuple:
        """Hidden nodes in topological order."""
        return tuple(n for n in self.order if n not in (INPUT, OUTPUT))

    def in_edges(self, node: str) -> tuple:
        """Edges into ``node``, in edge order.

        Parameters
        ----------
        node : str

        Returns
        -------
        tuple of (str, str)
        """
        return tuple(self._in.get(node, ()))

    def out_edges(self, node: str) -> tuple:
        """Edges out of ``node``, in edge order.

        Parameters
        ----------
        node : str

        Returns
        -------
        tuple of (str, str)
        """
        return tuple(self._out.get(node, ()))

    def path_list(self) -> tuple:
        """The paths (given, or enumerated depth first in edge order).

        Returns
        -------
        tuple of tuple of (str, str)
        """
        if self.paths is not None:
            return tuple(tuple(tuple(e) for e in p) for p in self.paths)
        found: list = []
        stack: list = [((), INPUT)]
        while stack:  # iterative depth first search: no recursion limit on long chains
            prefix, node = stack.pop()
            if node == OUTPUT:
                found.append(prefix)
                continue
            for edge in reversed(self.out_edges(node)):
                stack.append((prefix + (edge,), edge[1]))
        return tuple(found)


def _topological_order(edges) -> tuple:
    """Kahn's order of the nodes; a :class:`ConfigError` for cycles or cut-off nodes."""
    if not edges:
        raise ConfigError("architecture: a graph needs at least one edge from x to y")
    nodes = list(dict.fromkeys(n for e in edges for n in e))
    indegree = {n: 0 for n in nodes}
    for _, v in edges:
        indegree[v] += 1
    ready = [n for n in nodes if indegree[n] == 0]
    sources = list(ready)
    order = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for u, v in edges:
            if u == n:
                indegree[v] -= 1
                if indegree[v] == 0:
                    ready.append(v)
    if len(order) != len(nodes):
        raise ConfigError("architecture: the graph has a cycle; the DMFT needs a DAG")
    if sources != [INPUT] or order[-1] != OUTPUT or [n for n in nodes if n != OUTPUT and not any(e[0] == n for e in edges)]:
        raise ConfigError("architecture: every node must lie on a path from x to y")
    return tuple(order)


def dmft_graph_memory_bytes(graph: DMFTGraph, steps: int, per_path: bool = True) -> int:
    """Working memory of :func:`solve_dmft_graph` for one mode.

    Parameters
    ----------
    graph : DMFTGraph
    steps : int
        Gradient steps ``T``; every matrix is ``(T + 1) x (T + 1)`` float64.
    per_path : bool
        Include the prefix matrices of the per-path output.

    Returns
    -------
    int
        Bytes.
    """
    matrices = MATRICES_PER_NODE * len(graph.hidden)
    if per_path:
        matrices += _prefix_matrix_count(_prefix_counts(graph))
    return matrices * (int(steps) + 1) ** 2 * 8


def _prefixes(graph) -> dict:
    """Node -> list of ``(edge, parent prefix index or None)``: the paths from ``x`` into each hidden node."""
    prefixes: dict = {}
    for v in graph.hidden:
        entries: list = []
        for edge in graph.in_edges(v):
            u = edge[0]
            if u == INPUT:
                entries.append((edge, None))
            else:
                entries.extend((edge, i) for i in range(len(prefixes[u])))
        prefixes[v] = entries
    return prefixes


def _prefix_counts(graph) -> dict:
    """Node -> number of paths from ``x`` into it, counted node by node (never listed)."""
    counts: dict = {}
    for v in graph.hidden:
        counts[v] = sum(1 if u == INPUT else counts[u] for u, _ in graph.in_edges(v))
    return counts


def _prefix_matrix_count(counts) -> int:
    """Matrices the prefix march keeps: ``G``, ``H``, ``Z`` per prefix and ``D`` per ordered pair."""
    return sum(3 * c + c**2 for c in counts.values())


class _Node:
    """The time matrices of one hidden node (batch of modes first), filled row by row."""

    def __init__(self, batch, size):
        shape = (batch, size, size)
        self.P, self.Q = np.zeros(shape), np.zeros(shape)
        self.Rf, self.Rg = np.zeros(shape), np.zeros(shape)
        self.Cf, self.Cg = np.zeros(shape), np.zeros(shape)
        self.Sa, self.Sb = np.zeros(shape), np.zeros(shape)


def _vecmat(v, M):
    """Batched row vector times matrix: ``v (m, i)``, ``M (m, i, j)`` -> ``(m, j)``."""
    return np.matmul(v[:, None, :], M)[:, 0]


def _row_quadratic(left, S, rows):
    """``left S rows^T`` as a row: ``left (m, i)``, ``S (m, i, i)``, ``rows (m, j, i)`` -> ``(m, j)``."""
    return np.matmul(rows, _vecmat(left, S)[:, :, None])[:, :, 0]


class _GraphMarch:
    """One discrete-time march of the graph DMFT for a batch of modes."""

    def __init__(self, graph, S, size, sigma2, eta, eps_in2, eps_out2, responses, per_path):
        self.graph, self.S, self.size = graph, S, size
        self.sigma2, self.eta, self.eps_in2, self.eps_out2 = sigma2, eta, eps_in2, eps_out2
        self.responses = responses
        batch = S.size
        self.e = np.zeros((batch, size))
        self.nodes = {v: _Node(batch, size) for v in graph.hidden}
        self.prefixes = _prefixes(graph) if per_path else None
        if per_path:
            shape = (batch, size, size)
            self.G = {v: [np.zeros(shape) for _ in p] for v, p in self.prefixes.items()}
            self.H = {v: [np.zeros(shape) for _ in p] for v, p in self.prefixes.items()}
            self.Z = {v: [np.zeros(shape) for _ in p] for v, p in self.prefixes.items()}
            self.D = {v: [[np.zeros(shape) for _ in p] for _ in p] for v, p in self.prefixes.items()}

    # ------------------------------------------------------------- kernels
    def _forward_kernel(self, t, edge):
        """Row ``t`` of the memory kernel ``A_e(t, s<t)`` the edge adds to its head's forward field."""
        e = self.eta * self.e[:, :t]
        u = edge[0]
        if u == INPUT:
            return e.copy()
        node = self.nodes[u]
        kernel = e * node.Cf[:, t, :t]
        if self.responses:
            kernel += self.sigma2 * node.Rf[:, t, :t]
        return kernel

    def _backward_kernel(self, t, edge):
        """Row ``t`` of the memory kernel ``B_e(t, s<t)`` the edge adds to its tail's backward field."""
        e = self.eta * self.e[:, :t]
        w = edge[1]
        if w == OUTPUT:
            return e.copy()
        node = self.nodes[w]
        kernel = e * node.Cg[:, t, :t]
        if self.responses:
            kernel += self.sigma2 * node.Rg[:, t, :t]
        return kernel

    # ------------------------------------------------------------- sweeps
    def forward(self, t, v):
        """Row ``t`` of ``P``, ``R^f``, ``Sigma_alpha`` and ``C^f`` at node ``v``."""
        node, n = self.nodes[v], t + 1
        A = sum(self._forward_kernel(t, edge) for edge in self.graph.in_edges(v))
        node.P[:, t, :t] = _vecmat(A, node.Rg[:, :t, :t])
        node.P[:, t, t] = 1.0
        node.Rf[:, t, :t] = _vecmat(A, node.Q[:, :t, :t])
        source = np.zeros((self.S.size, n))
        for u, _ in self.graph.in_edges(v):
            source += self.eps_in2 if u == INPUT else self.sigma2 * self.nodes[u].Cf[:, t, :n]
        node.Sa[:, t, :n] = source
        node.Sa[:, :t, t] = source[:, :t]
        row = (_row_quadratic(node.P[:, t, :n], node.Sa[:, :n, :n], node.P[:, :n, :n])
               + _row_quadratic(node.Rf[:, t, :t], node.Sb[:, :t, :t], node.Rf[:, :n, :t]))
        node.Cf[:, t, :n] = row
        node.Cf[:, :t, t] = row[:, :t]

    def backward(self, t, v):
        """Row ``t`` of ``Q``, ``R^g``, ``Sigma_beta`` and ``C^g`` at node ``v``."""
        node, n = self.nodes[v], t + 1
        B = sum(self._backward_kernel(t, edge) for edge in self.graph.out_edges(v))
        node.Q[:, t, :t] = _vecmat(B, node.Rf[:, :t, :t])
        node.Q[:, t, t] = 1.0
        node.Rg[:, t, :t] = _vecmat(B, node.P[:, :t, :t])
        source = np.zeros((self.S.size, n))
        for _, w in self.graph.out_edges(v):
            source += self.eps_out2 if w == OUTPUT else self.sigma2 * self.nodes[w].Cg[:, t, :n]
        node.Sb[:, t, :n] = source
        node.Sb[:, :t, t] = source[:, :t]
        row = (_row_quadratic(node.Q[:, t, :n], node.Sb[:, :n, :n], node.Q[:, :n, :n])
               + _row_quadratic(node.Rg[:, t, :t], node.Sa[:, :t, :t], node.Rg[:, :n, :t]))
        node.Cg[:, t, :n] = row
        node.Cg[:, :t, t] = row[:, :t]

    # ------------------------------------------------------------- prefixes
    def _prefix_kernel(self, t, v, index):
        """Row ``t`` of ``A_pi``: the part of ``A_v`` arriving through prefix ``index`` of ``v``."""
        edge, parent = self.prefixes[v][index]
        e = self.eta * self.e[:, :t]
        if parent is None:
            return e.copy()
        u = edge[0]
        kernel = e * self.Z[u][parent][:, t, :t]
        if self.responses:
            kernel += self.sigma2 * self.G[u][parent][:, t, :t]
        return kernel

    def _source_pair(self, v, i, j, t, n):
        """Row ``t`` (``s <= t``) of ``Cov(u_pi_i(t), u_pi_j(s))`` at node ``v``."""
        (edge_i, parent_i), (edge_j, parent_j) = self.prefixes[v][i], self.prefixes[v][j]
        if edge_i != edge_j:
            return 0.0
        if parent_i is None:
            return self.eps_in2
        return self.sigma2 * self.D[edge_i[0]][parent_i][parent_j][:, t, :n]

    def _source_total(self, v, i, rows, cols):
        """``Cov(u_pi_i(r), alpha_v(c))`` for rows ``rows`` and columns ``cols`` (slices)."""
        edge, parent = self.prefixes[v][i]
        if parent is None:
            shape = (self.S.size, rows.stop - (rows.start or 0), cols.stop - (cols.start or 0))
            return np.full(shape, self.eps_in2)
        return self.sigma2 * self.Z[edge[0]][parent][:, rows, cols]

    def prefix_forward(self, t, v):
        """Row ``t`` of ``G_pi``, ``H_pi``, ``D^{pi rho}`` and ``Z^pi`` for every prefix at ``v``."""
        node, n, count = self.nodes[v], t + 1, len(self.prefixes[v])
        G, H, D, Z = self.G[v], self.H[v], self.D[v], self.Z[v]
        for i in range(count):
            A = self._prefix_kernel(t, v, i)
            G[i][:, t, :t] = _vecmat(A, node.Q[:, :t, :t])
            H[i][:, t, :t] = _vecmat(A, node.Rg[:, :t, :t])
        # Row t of every ordered pair, then column t from the reversed pair's row.
        totals = [self._source_total(v, i, slice(t, t + 1), slice(0, t))[:, 0] for i in range(count)]
        for i in range(count):
            for j in range(count):
                row = self._source_pair(v, i, j, t, n) + np.zeros((self.S.size, n))
                row += np.einsum("mk,msk->ms", totals[i], H[j][:, :n, :t])
                # H_i Sigma_{alpha, j}: Cov(alpha_v(k), u_pi_j(s)) = Cov(u_pi_j(s), alpha_v(k)), k < t, s <= t
                row += np.einsum("mk,msk->ms", H[i][:, t, :t], self._source_total(v, j, slice(0, n), slice(0, t)))
                row += _row_quadratic(H[i][:, t, :t], node.Sa[:, :t, :t], H[j][:, :n, :t])
                row += _row_quadratic(G[i][:, t, :t], node.Sb[:, :t, :t], G[j][:, :n, :t])
                D[i][j][:, t, :n] = row
        for i in range(count):
            for j in range(count):
                D[i][j][:, :t, t] = D[j][i][:, t, :t]
        for i in range(count):
            Z[i][:, t, :n] = sum(D[i][j][:, t, :n] for j in range(count))
            Z[i][:, :t, t] = sum(D[j][i][:, t, :t] for j in range(count))

    # ------------------------------------------------------------- strengths
    def output_edge_strength(self, t, v):
        """``K_e(t) = E[b_e(t) . f_v(t)]`` for the output edge ``v -> y``."""
        node = self.nodes[v]
        return (self.eps_out2 * node.Rf[:, t, :t].sum(axis=1)
                + self.eta * np.einsum("ms,ms->m", self.e[:, :t], node.Cf[:, t, :t]))

    def edge_flow(self, t, edge):
        """``K_e(t) = E[g_v(t) . W_e(t) f_u(t)]``: the flow through an edge (sum of its paths' ``K``)."""
        u, v = edge
        if v == OUTPUT:
            if u == INPUT:
                return self.direct(t)
            return self.output_edge_strength(t, u)
        node = self.nodes[v]
        if u == INPUT:
            source = np.full((self.S.size, t), self.eps_in2)
        else:
            source = self.sigma2 * self.nodes[u].Cf[:, t, :t]
        return (np.einsum("ms,ms->m", node.Rg[:, t, :t], source)
                + np.einsum("ms,ms->m", self._forward_kernel(t, edge), node.Cg[:, t, :t]))

    def direct(self, t):
        """The edge ``x -> y``: ``K(t) = eta sum_{s<t} e_s`` (it starts at zero)."""
        return self.eta * self.e[:, :t].sum(axis=1)

    def path_strength(self, t, path):
        """``K_p(t) = E[b_e(t) . f_pi(t)]`` of a path, ``e`` its output edge, ``pi`` its prefix."""
        if len(path) == 1:
            return self.direct(t)
        v = path[-1][0]
        index = self._prefix_index(path[:-1])
        return (self.eps_out2 * self.G[v][index][:, t, :t].sum(axis=1)
                + self.eta * np.einsum("ms,ms->m", self.e[:, :t], self.Z[v][index][:, t, :t]))

    def _prefix_index(self, prefix):
        """The index of a prefix (tuple of edges from ``x``) among its last node's prefixes."""
        index = None
        for edge in prefix:
            index = self.prefixes[edge[1]].index((edge, index))
        return index

    def step(self, t):
        """Fill row ``t`` everywhere (forward and backward sweeps are independent within a row)."""
        for v in self.graph.hidden:
            self.forward(t, v)
            if self.prefixes is not None:
                self.prefix_forward(t, v)
        for v in reversed(self.graph.hidden):
            self.backward(t, v)

    def total(self, t):
        """``K(t) = sum over edges into y`` of their strengths."""
        return sum(self.edge_flow(t, edge) for edge in self.graph.in_edges(OUTPUT))


def _check(singular_values, learning_rate, steps, init_scale, input_scale, output_scale):
    """Checked ``(S, eps_in, eps_out)``."""
    S = np.atleast_1d(np.asarray(singular_values, dtype=float))
    if S.ndim != 1 or S.size == 0 or not np.all(np.isfinite(S)) or np.any(S <= 0):
        raise ConfigError(f"singular_values: expected positive finite numbers, got {np.asarray(singular_values).tolist()}")
    input_scale = init_scale if input_scale is None else input_scale
    output_scale = init_scale if output_scale is None else output_scale
    for name, value in (("learning_rate", learning_rate), ("init_scale", init_scale),
                        ("input_scale", input_scale), ("output_scale", output_scale)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{name}: expected a positive number, got {value!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigError(f"steps: expected a whole number >= 1, got {steps!r}")
    return S, float(input_scale), float(output_scale)


def _as_graph(graph) -> DMFTGraph:
    """A :class:`DMFTGraph` from one, from anything with ``edges`` (and ``paths`` when listed),
    or from an ``Architecture`` of pathways (its ``graph``: the chains)."""
    if isinstance(graph, DMFTGraph):
        return graph
    graph = getattr(graph, "graph", graph)  # pathways are the graph of their chains
    edges = getattr(graph, "edges", graph)
    paths = graph.paths if getattr(graph, "paths_listed", False) else None
    return DMFTGraph(tuple(edges), paths)


def solve_dmft_graph(
    graph: object,
    singular_values: ArrayLike,
    *,
    learning_rate: float,
    steps: int,
    init_scale: float = 0.3,
    input_scale: float | None = None,
    output_scale: float | None = None,
    per_path: bool | None = None,
    responses: bool = True,
) -> Trajectory:
    """Solve the discrete-time graph DMFT: the infinite-width limit of gradient descent at ``eta``.

    Parameters
    ----------
    graph : DMFTGraph, GraphArchitecture, Architecture (its chains) or sequence of (str, str)
        The DAG (anything with ``edges``; its ``paths`` give the order of ``K``).
    singular_values : array_like, shape (modes,)
        ``S_alpha`` of the whitened ``Sigma_yx``.
    learning_rate : float
        ``eta``; record ``k`` is time ``t = eta k``.
    steps : int
        Gradient steps ``T``; ``T + 1`` records.
    init_scale : float
        ``sigma``: every edge matrix has entries of variance ``sigma^2 / N``.
    input_scale, output_scale : float, optional
        ``eps_in``, ``eps_out``: ``|W_{v<-x} v|^2 -> eps_in^2``, ``|W_{y<-u}^T u|^2 -> eps_out^2``
        (default ``sigma``).
    per_path : bool, optional
        ``K`` per path (the prefix march) or per edge (the flow through each edge). Default:
        per path when its prefix matrices are at most :data:`MAX_PREFIX_MATRICES`.
    responses : bool
        Keep the ``sigma^2 R`` terms of the kernels; ``False`` is the deliberately wrong
        "gradient independence" variant.

    Returns
    -------
    Trajectory
        ``t = eta k``, ``step = k``, ``K`` of shape ``(T + 1, paths, modes)`` (per path) or
        ``(T + 1, edges, modes)`` (per edge; ``extras["quantity"]`` says which),
        ``extras["K_total"]`` ``(T + 1, modes)``, ``extras["K_edges"]`` (the flow through
        every edge), ``extras["paths"]`` (node sequences) when per path, and
        ``loss = sum_alpha (S_alpha - K_alpha)^2 / 2``.

    Raises
    ------
    ConfigError
        Bad graph, singular values, scales or steps, or a solve above :data:`MAX_MEMORY_BYTES`.
    IntegrationError
        When ``K`` blows up (gradient descent diverges at this ``eta``).

    Notes
    -----
    Per node ``f = alpha + A g``, ``g = beta + B f`` with
    ``A_v = sum_{u -> v} (sigma^2 R^f_u(t, s) + eta e_s C^f_u(s, t))`` (``eta e_s`` for
    ``u = x``), ``Sigma_alpha = sum_{u -> v} sigma^2 C^f_u`` (``eps_in^2`` for ``u = x``), and
    ``B_v``, ``Sigma_beta`` likewise over the out-edges. Then ``P = I + A R^g``,
    ``R^f = A Q``, ``Q = I + B R^f``, ``R^g = B P`` row by row. The output edge ``v -> y``
    carries ``K_e(t) = eps_out^2 sum_s R^f_v(t, s) + eta sum_{s<t} e_s C^f_v(s, t)``; a hidden
    or input edge ``u -> v`` the flow ``K_e(t) = [R^g_v Sigma_e]_{tt} + [A_e C^g_v]_{tt}``.
    Per path, the prefix fields ``f_pi = u_pi + A_pi g_v`` give ``G_pi = A_pi Q``,
    ``H_pi = A_pi R^g`` and ``D^{pi rho} = Sigma_{pi rho} + Sigma_{pi alpha} H_rho^T
    + H_pi Sigma_{alpha rho} + H_pi Sigma_alpha H_rho^T + G_pi Sigma_beta G_rho^T``;
    ``K_p(t) = eps_out^2 sum_s G_pi(t, s) + eta sum_s e_s Z^pi(t, s)`` with
    ``Z^pi = sum_rho D^{pi rho}``.
    """
    graph = _as_graph(graph)
    S, eps_in, eps_out = _check(singular_values, learning_rate, steps, init_scale, input_scale, output_scale)
    if per_path is None:
        per_path = _prefix_matrix_count(_prefix_counts(graph)) <= MAX_PREFIX_MATRICES
    memory = dmft_graph_memory_bytes(graph, steps, per_path) * S.size
    if memory > MAX_MEMORY_BYTES:
        raise ConfigError(f"steps: {steps} steps need {memory / 2**30:.1f} GiB (O(steps^2) per node and prefix); use "
                          "fewer steps, a larger learning rate, or the continuous-time solver")
    started = time.perf_counter()
    size = steps + 1
    march = _GraphMarch(graph, S, size, float(init_scale) ** 2, float(learning_rate), eps_in**2, eps_out**2,
                        responses, per_path)
    paths = graph.path_list() if per_path else ()
    edges = graph.edges
    K_paths = np.zeros((size, len(paths), S.size))
    K_edges = np.zeros((size, len(edges), S.size))
    K_total = np.zeros((size, S.size))
    limit = BLOWUP_FACTOR * np.maximum(np.abs(S), 1.0)
    for t in range(size):
        march.step(t)
        for i, edge in enumerate(edges):
            K_edges[t, i] = march.edge_flow(t, edge)
        for i, path in enumerate(paths):
            K_paths[t, i] = march.path_strength(t, path)
        K_total[t] = K_edges[t, [i for i, e in enumerate(edges) if e[1] == OUTPUT]].sum(axis=0)
        march.e[:, t] = S - K_total[t]
        if not np.all(np.abs(march.e[:, t]) < limit):
            raise IntegrationError(f"learning_rate: K blew up at step {t}; gradient descent diverges at eta = "
                                   f"{learning_rate:g}; use a smaller learning rate")
    K = K_paths if per_path else K_edges
    extras = {"K_total": K_total, "K_edges": K_edges, "quantity": "paths" if per_path else "edges",
              "edges": [list(e) for e in edges]}
    if per_path:
        extras["paths"] = [[p[0][0]] + [e[1] for e in p] for p in paths]
    return Trajectory(
        t=learning_rate * np.arange(size), K=K, loss=0.5 * np.sum((S - K_total) ** 2, axis=-1), success=True,
        message=f"solved {steps} gradient steps at learning rate {learning_rate:g}", step=np.arange(size),
        stats={"wall_time_s": time.perf_counter() - started, "time_points": size},
        provenance={"model": "dmft", "init": "gaussian", "graph_edges": [list(e) for e in edges],
                    "singular_values": S.tolist(), "learning_rate": float(learning_rate), "init_scale": float(init_scale),
                    "input_scale": eps_in, "output_scale": eps_out, "responses": responses, "quantity": extras["quantity"]},
        extras=extras,
    )


def solve_dmft_graph_flow(
    graph: object,
    singular_values: ArrayLike,
    *,
    t_max: float,
    num_points: int = 201,
    init_scale: float = 0.3,
    input_scale: float | None = None,
    output_scale: float | None = None,
    per_path: bool | None = None,
    tol: float = 1e-3,
    initial_steps: int = 16,
    max_steps: int = 1024,
) -> Trajectory:
    """Solve the continuous-time graph DMFT (gradient flow) by Richardson extrapolation with error control.

    Parameters
    ----------
    graph, singular_values, init_scale, input_scale, output_scale, per_path
        As :func:`solve_dmft_graph`.
    t_max : float
        Final time.
    num_points : int
        Output times, evenly spaced on ``[0, t_max]`` (cubic spline of the grid).
    tol : float
        Target of the error estimate ``max |R_{h/2} - R_h| / max S``.
    initial_steps, max_steps : int
        Steps of the coarsest grid; the most steps of the finest.

    Returns
    -------
    Trajectory
        ``K`` (and ``extras["K_total"]``, ``extras["K_edges"]``) at ``num_points`` times;
        ``stats["error_estimate"]``; ``success`` False when ``max_steps`` came before ``tol``.

    Raises
    ------
    ConfigError, IntegrationError
        As :func:`solve_dmft_graph`.

    Notes
    -----
    The discrete solution at step ``h`` is ``K + c_1 h + c_2 h^2 + ...``; two Richardson
    levels on ``h``, ``h/2``, ``h/4`` (``R'_h = 2 K_{h/2} - K_h``, ``R_h = (4 R'_{h/2} - R'_h) / 3``)
    leave ``O(h^3)``; ``h`` is halved until two successive ``R`` agree to ``tol``, as for
    pathways (:func:`pathdyn.numerics.dmft.solve_dmft_flow`).
    """
    if not (isinstance(t_max, (int, float)) and math.isfinite(t_max) and t_max > 0):
        raise ConfigError(f"t_max: expected a positive time, got {t_max!r}")
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ConfigError(f"tol: expected a positive number, got {tol!r}")
    if num_points < 2:
        raise ConfigError(f"num_points: need at least 2, got {num_points}")
    from scipy.interpolate import CubicSpline

    graph = _as_graph(graph)
    started = time.perf_counter()
    S = np.atleast_1d(np.asarray(singular_values, dtype=float))
    solutions: dict = {}

    def discrete(n):
        if n not in solutions:
            solutions[n] = solve_dmft_graph(graph, S, learning_rate=t_max / n, steps=n, init_scale=init_scale,
                                            input_scale=input_scale, output_scale=output_scale, per_path=per_path)
        return solutions[n]

    def stacked(n, stride):
        run = discrete(n)
        return np.concatenate([run.K, run.extras["K_total"][:, None], run.extras["K_edges"]], axis=1)[::stride]

    def richardson(n):
        K1, K2, K4 = stacked(n, 1), stacked(2 * n, 2), stacked(4 * n, 4)
        return discrete(n).t, (4 * (2 * K4 - K2) - (2 * K2 - K1)) / 3

    steps = max(2, int(initial_steps))
    while True:  # a grid too coarse for gradient descent to be stable is refined
        try:
            _, previous = richardson(steps)
            break
        except IntegrationError:
            if 16 * steps > max_steps:
                raise
            solutions.clear()
            steps *= 2
    while True:
        grid, current = richardson(2 * steps)
        estimate = float(np.max(np.abs(current[::2] - previous))) / float(np.max(S))
        steps *= 2
        if estimate <= tol or 8 * steps > max_steps:
            break
        previous = current
    t = np.linspace(0.0, float(t_max), int(num_points))
    values = CubicSpline(grid, current, axis=0)(t)
    sample = discrete(steps)
    count = sample.K.shape[1]
    success = estimate <= tol
    extras = dict(sample.extras, K_total=values[:, count], K_edges=values[:, count + 1:])
    return Trajectory(
        t=t, K=values[:, :count], loss=0.5 * np.sum((S - values[:, count]) ** 2, axis=-1), success=success,
        message=(f"error estimate {estimate:.2e} <= tol {tol:g} with {4 * steps} steps" if success else
                 f"max_steps reached: error estimate {estimate:.2e} > tol {tol:g}; raise max_steps or tol"),
        stats={"wall_time_s": time.perf_counter() - started, "error_estimate": estimate, "steps": 4 * steps},
        provenance=dict(sample.provenance, learning_rate=None, tol=tol,
                        solver="Richardson extrapolation of the discrete graph DMFT"),
        extras=extras,
    )
