"""The DMFT of a graph network in node form, symbolically (for text, LaTeX and JSON export).

Every hidden node ``v`` (width ``N``) carries a forward field ``f_v(t)`` and a backward field
``g_v(t)``; every edge matrix starts Gaussian with entries of variance ``sigma^2 / N``. The
incoming edges of ``v`` add their sources and memory kernels into ``alpha_v`` and ``A_v``,
the outgoing edges theirs into ``beta_v`` and ``B_v``: each node quantity is defined once,
from its neighbours', so the equations grow with the edges, never with the paths. Per path
(small graphs, ``paths=True``) the prefix fields ``f_pi`` split ``f_v`` by the path from
``x`` that carries them. ``E[.]`` is the average over the node's sources; sums over ``s``
run over ``0 .. t-1``. :mod:`pathdyn.numerics.dmft_graph` solves these equations; it does
not import this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from pathdyn.theory.document import Document, equation_list
from pathdyn.theory.graph import INPUT, OUTPUT, GraphArchitecture
from pathdyn.theory.writers import render

__all__ = ["DMFTGraphEquations", "derive_dmft_graph_equations", "dmft_graph_document", "export_dmft_graph"]

t, s = sp.symbols("t s", integer=True, nonnegative=True)
eta, sigma, S = sp.symbols("eta sigma S", positive=True)
eps_in, eps_out = sp.symbols("epsilon_in epsilon_out", positive=True)
expectation = sp.Function("E")
error = sp.Function("e")


def _node(name: str, node: str) -> sp.FunctionClass:
    return sp.Function(f"{name}_{node}")


def _edge_name(edge: tuple[str, str]) -> str:
    return f"{edge[0]}{edge[1]}"


@dataclass(frozen=True)
class DMFTGraphEquations:
    """The graph DMFT of one mode: labelled equations in the order a causal solver uses them.

    Attributes
    ----------
    graph : GraphArchitecture
    groups : tuple of (str, tuple of (str, sympy.Eq))
        ``(title, equations)``: the nodes, the strengths and error, and (per path) the prefixes.
    """

    graph: GraphArchitecture
    groups: tuple[tuple[str, tuple[tuple[str, sp.Eq], ...]], ...]


def _forward_terms(graph: GraphArchitecture, v: str) -> tuple[sp.Expr, sp.Expr]:
    """Kernel and source covariance that the edges into ``v`` add up."""
    kernel, source = sp.Integer(0), sp.Integer(0)
    for u, _ in graph.in_edges(v):
        if u == INPUT:
            kernel += eta * error(s)
            source += eps_in**2
        else:
            kernel += sigma**2 * _node("Rf", u)(t, s) + eta * error(s) * _node("Cf", u)(s, t)
            source += sigma**2 * _node("Cf", u)(t, s)
    return kernel, source


def _backward_terms(graph: GraphArchitecture, v: str) -> tuple[sp.Expr, sp.Expr]:
    """Kernel and source covariance that the edges out of ``v`` add up."""
    kernel, source = sp.Integer(0), sp.Integer(0)
    for _, w in graph.out_edges(v):
        if w == OUTPUT:
            kernel += eta * error(s)
            source += eps_out**2
        else:
            kernel += sigma**2 * _node("Rg", w)(t, s) + eta * error(s) * _node("Cg", w)(s, t)
            source += sigma**2 * _node("Cg", w)(t, s)
    return kernel, source


def _node_equations(graph: GraphArchitecture, v: str) -> list[tuple[str, sp.Eq]]:
    f, g, alpha, beta = (_node(n, v) for n in ("f", "g", "alpha", "beta"))
    A, B, Cf, Cg, Rf, Rg = (_node(n, v) for n in ("A", "B", "Cf", "Cg", "Rf", "Rg"))
    kernel_A, source_alpha = _forward_terms(graph, v)
    kernel_B, source_beta = _backward_terms(graph, v)
    return [
        (f"{v}: forward kernel", sp.Eq(A(t, s), kernel_A)),
        (f"{v}: backward kernel", sp.Eq(B(t, s), kernel_B)),
        (f"{v}: forward field", sp.Eq(f(t), alpha(t) + sp.Sum(A(t, s) * g(s), (s, 0, t - 1)))),
        (f"{v}: backward field", sp.Eq(g(t), beta(t) + sp.Sum(B(t, s) * f(s), (s, 0, t - 1)))),
        (f"{v}: forward source", sp.Eq(expectation(alpha(t) * alpha(s)), source_alpha)),
        (f"{v}: backward source", sp.Eq(expectation(beta(t) * beta(s)), source_beta)),
        (f"{v}: forward correlation", sp.Eq(Cf(t, s), expectation(f(t) * f(s)))),
        (f"{v}: backward correlation", sp.Eq(Cg(t, s), expectation(g(t) * g(s)))),
        (f"{v}: forward response", sp.Eq(Rf(t, s), expectation(sp.Derivative(f(t), beta(s))))),
        (f"{v}: backward response", sp.Eq(Rg(t, s), expectation(sp.Derivative(g(t), alpha(s))))),
    ]


def _strength_equations(graph: GraphArchitecture) -> list[tuple[str, sp.Eq]]:
    out: list[tuple[str, sp.Eq]] = []
    total = sp.Integer(0)
    for edge in graph.in_edges(OUTPUT):
        K = sp.Function(f"K_{_edge_name(edge)}")
        u = edge[0]
        if u == INPUT:
            out.append(("edge x -> y", sp.Eq(K(t + 1), K(t) + eta * error(t))))
        else:
            rhs = (eps_out**2 * sp.Sum(_node("Rf", u)(t, s), (s, 0, t - 1))
                   + eta * sp.Sum(error(s) * _node("Cf", u)(s, t), (s, 0, t - 1)))
            out.append((f"edge {u} -> y", sp.Eq(K(t), rhs)))
        total += K(t)
    out.append(("error", sp.Eq(error(t), S - total)))
    return out


def _prefix_equations(graph: GraphArchitecture) -> list[tuple[str, sp.Eq]]:
    """Per path: the prefix fields ``f_pi = u_pi + A_pi g_v`` and ``K_p = E[f_pi(t) b_e(t)]``."""
    out: list[tuple[str, sp.Eq]] = []
    names: dict[tuple[tuple[str, str], ...], str] = {}
    for path in graph.paths:
        for i, edge in enumerate(path[:-1]):
            prefix = path[: i + 1]
            if prefix in names:
                continue
            name = "".join(e[1] for e in prefix)
            names[prefix] = name
            v = edge[1]
            if edge[0] == INPUT:
                kernel = eta * error(s)
            else:
                parent = names[prefix[:-1]]
                kernel = (sigma**2 * _node("G", parent)(t, s)
                          + eta * error(s) * expectation(_node("f", parent)(t) * _node("f", edge[0])(s)))
            out.append((f"prefix {name}: kernel", sp.Eq(_node("A", name)(t, s), kernel)))
            out.append((f"prefix {name}: field", sp.Eq(_node("f", name)(t), _node("u", name)(t)
                                                      + sp.Sum(_node("A", name)(t, s) * _node("g", v)(s), (s, 0, t - 1)))))
            out.append((f"prefix {name}: response", sp.Eq(_node("G", name)(t, s),
                                                          expectation(sp.Derivative(_node("f", name)(t), _node("beta", v)(s))))))
        if len(path) > 1:
            last = path[-1][0]
            name = names[path[:-1]]
            rhs = (eps_out**2 * sp.Sum(_node("G", name)(t, s), (s, 0, t - 1))
                   + eta * sp.Sum(error(s) * expectation(_node("f", name)(t) * _node("f", last)(s)), (s, 0, t - 1)))
            out.append((f"path {name}y", sp.Eq(sp.Function(f"K_{name}y")(t), rhs)))
    return out


def derive_dmft_graph_equations(graph: GraphArchitecture, paths: bool = False) -> DMFTGraphEquations:
    """The node equations of every hidden node, the output-edge strengths and the error.

    Parameters
    ----------
    graph : GraphArchitecture
    paths : bool
        Also the prefix fields and ``K_p`` of every path (graphs whose paths are listed).

    Returns
    -------
    DMFTGraphEquations

    Notes
    -----
    Edge ``u -> v`` adds ``sigma^2 R^f_u(t, s) + eta e(s) C^f_u(s, t)`` to ``A_v`` and
    ``sigma^2 C^f_u`` to ``v``'s source covariance (``eta e(s)`` and ``eps_in^2`` from ``x``),
    and ``sigma^2 R^g_v(t, s) + eta e(s) C^g_v(s, t)`` to ``B_u`` with ``sigma^2 C^g_v`` (``eta e(s)``
    and ``eps_out^2`` into ``y``). The output edge ``u -> y`` carries
    ``K(t) = eps_out^2 sum_s R^f_u(t, s) + eta sum_s e(s) C^f_u(s, t)``; ``x -> y`` relaxes linearly.
    """
    groups = [(f"node {v}", tuple(_node_equations(graph, v))) for v in graph.hidden_nodes]
    groups.append(("strengths and error", tuple(_strength_equations(graph))))
    if paths:
        groups.append(("paths (prefix fields)", tuple(_prefix_equations(graph))))
    return DMFTGraphEquations(graph, tuple(groups))


def dmft_graph_document(equations: DMFTGraphEquations) -> Document:
    """The format-neutral document of the graph DMFT: one group of tagged equations per node.

    Parameters
    ----------
    equations : DMFTGraphEquations

    Returns
    -------
    Document
        ``layout="list"``, rendered by every writer of :mod:`pathdyn.theory.writers`.
    """
    graph = equations.graph
    edges = ", ".join(f"{u}->{v}" for u, v in graph.edges)
    return equation_list(
        f"graph DMFT node equations, edges {edges}",
        f"# graph DMFT node equations (one mode; step t, time eta*t; sums over s run over 0..t-1); edges {edges}",
        equations.groups,
        header={"model": "dmft", "form": "node",
                "description": "graph DMFT of one mode (Gaussian edge matrices, variance sigma^2/N); node form; "
                               "expressions as sympy srepr",
                "architecture": graph.to_dict()})


def export_dmft_graph(graph: GraphArchitecture, format: str = "text", fragment: bool = False, paths: bool = False,
                      **options: object) -> str:
    """Derive and format the graph DMFT in any registered format (text, LaTeX, JSON).

    Parameters
    ----------
    graph : GraphArchitecture
    format : str
        A writer of :mod:`pathdyn.theory.writers`.
    fragment : bool
        LaTeX only: the ``align*`` environment without the document.
    paths : bool
        Add the per-path prefix equations.
    **options
        Other options of the writer.

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        For an unknown format or a misplaced option.
    """
    return render(dmft_graph_document(derive_dmft_graph_equations(graph, paths)), format, fragment=fragment, **options)
