"""Architecture specification of a network that is any directed acyclic graph of linear maps.

A :class:`GraphArchitecture` is plain data (no sympy): the input node ``x``, the output
node ``y``, hidden nodes with optional widths and activations, and edges, each edge
``(u, v)`` a weight matrix ``W_{v<-u}`` from node ``u`` to node ``v``. A hidden node
sums its incoming edges. The network map is the sum over the paths from ``x`` to ``y``
of the products of the edge matrices along each path. Parallel pathways are the special
case :func:`chain_graph`, which :attr:`pathdyn.theory.architecture.Architecture.graph` builds.

The TOML form::

    [graph]
    edges = [["x", "h1"], ["h1", "y"], ["x", "y"]]
    widths = { h1 = 64 }              # optional
    activations = { h1 = "relu" }     # optional, simulation only
    whitened = true                   # optional

Every problem of a specification is reported at once.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from pathdyn._base.checks import is_whole_number
from pathdyn.errors import ArchitectureError
from pathdyn.io.reading import read_toml

__all__ = ["GraphArchitecture", "INPUT", "OUTPUT", "MAX_LISTED_PATHS", "NODE_ACTIVATIONS", "chain_graph"]

INPUT = "x"
OUTPUT = "y"
#: Activations a hidden node may carry (simulation only; the theory is linear).
NODE_ACTIVATIONS = ("linear", "relu", "tanh")
#: Paths are listed one by one (per-path strengths, recordings, figures) only up to this many;
#: every derivation and simulation works in node form, whatever the number of paths.
MAX_LISTED_PATHS = 256
_NODE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_KEYS = ("edges", "widths", "activations", "n_in", "n_out", "whitened")
_Edge = tuple[str, str]
_Path = tuple[_Edge, ...]


def _find_cycle(nodes: Sequence[str], successors: Mapping[str, Sequence[str]]) -> list[str] | None:
    """One directed cycle as a node list ``[a, b, ..., a]``, or None (iterative DFS)."""
    colour = {n: 0 for n in nodes}  # 0 new, 1 on the stack, 2 done
    for root in nodes:
        if colour[root]:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(successors[root]))]
        trail = [root]
        colour[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                trail.pop()
            elif colour[child] == 1:
                return trail[trail.index(child):] + [child]
            elif colour[child] == 0:
                colour[child] = 1
                stack.append((child, iter(successors[child])))
                trail.append(child)
    return None


def _reachable(start: str, neighbours: Mapping[str, Sequence[str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in neighbours[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _check_edges(edges: Any) -> tuple[tuple[_Edge, ...], list[str]]:
    """Edges as a tuple of string pairs, and the problems found."""
    problems = []
    if isinstance(edges, (str, bytes)) or not hasattr(edges, "__iter__"):
        return (), [f"edges: expected a list of [from, to] pairs, got {edges!r}; e.g. edges = [['x', 'h1'], ['h1', 'y']]"]
    pairs: list[_Edge] = []
    seen: set[_Edge] = set()
    for index, edge in enumerate(edges, start=1):
        if isinstance(edge, (str, bytes)) or not hasattr(edge, "__len__") or len(edge) != 2:
            problems.append(f"edges[{index}]: {edge!r} is not a [from, to] pair")
            continue
        u, v = edge
        bad = [n for n in (u, v) if not isinstance(n, str) or not _NODE_NAME.fullmatch(n)]
        if bad:
            problems.append(
                f"edges[{index}]: node name(s) {', '.join(repr(b) for b in bad)} invalid; use a letter then letters or digits (no '_')"
            )
            continue
        if u == v:
            problems.append(f"edges[{index}]: self-loop {u} -> {v}; an edge joins two different nodes")
        if v == INPUT:
            problems.append(f"edges[{index}]: {u} -> {v} enters the input node '{INPUT}'; nothing feeds the input")
        if u == OUTPUT:
            problems.append(f"edges[{index}]: {u} -> {v} leaves the output node '{OUTPUT}'; the output feeds nothing")
        if (u, v) in seen:
            problems.append(f"edges[{index}]: duplicate edge {u} -> {v}; give each edge once (a sum of two maps is one map)")
        seen.add((u, v))
        pairs.append((u, v))
    if not pairs and not problems:
        problems.append("edges: the graph has no edges; e.g. edges = [['x', 'h1'], ['h1', 'y']]")
    return tuple(pairs), problems


def _check_node_table(name: str, table: Any, hidden: Sequence[str],
                      check_value: Callable[[str, Any], str | None]) -> tuple[tuple[tuple[str, Any], ...], list[str]]:
    """A ``{node: value}`` table over hidden nodes, as sorted pairs, and the problems found."""
    if table is None:
        return (), []
    if isinstance(table, (int, float, str)) and name == "widths" and is_whole_number(table):
        table = {node: table for node in hidden}
    if not isinstance(table, Mapping):
        if isinstance(table, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in table):
            table = dict(table)
        else:
            return (), [f"{name}: expected a table {{node = value}}, got {table!r}"]
    problems = []
    for node, value in table.items():
        if node in (INPUT, OUTPUT):
            problems.append(f"{name}: '{node}' is the {'input' if node == INPUT else 'output'} node; its size comes from the data (n_in/n_out)")
        elif node not in hidden:
            problems.append(f"{name}: unknown node {node!r}; hidden nodes are {', '.join(sorted(hidden)) or 'none'}")
        else:
            problem = check_value(node, value)
            if problem:
                problems.append(f"{name}[{node}]: {problem}")
    return tuple(sorted((k, table[k]) for k in table)), problems


def _width_problem(node: str, value: Any) -> str | None:
    if not is_whole_number(value) or value < 1:
        return f"{value!r} is not a positive whole number; use an integer >= 1"
    return None


def _activation_problem(node: str, value: Any) -> str | None:
    if value not in NODE_ACTIVATIONS:
        return f"{value!r} is not one of {', '.join(NODE_ACTIVATIONS)}"
    return None


@dataclass(frozen=True)
class GraphArchitecture:
    """A network whose layers form a directed acyclic graph from ``x`` to ``y``.

    Parameters
    ----------
    edges : sequence of (str, str)
        ``(u, v)``: a weight matrix mapping node ``u`` to node ``v``. Node names are a
        letter followed by letters or digits; ``x`` is the input, ``y`` the output.
    widths : mapping or int, optional
        Width of each hidden node (an int gives every hidden node that width); nodes
        left out keep a symbolic width ``N_<node>``.
    activations : mapping, optional
        Activation of hidden nodes for simulation (``linear``, ``relu``, ``tanh``);
        default linear. The derivation is for the linear network.
    n_in, n_out : int or None
        Input and output dimensions; ``None`` keeps them symbolic.
    whitened : bool
        ``True`` for ``Sigma_x = I``; ``False`` carries a general ``Sigma_x``.

    Raises
    ------
    ArchitectureError
        Listing every problem at once: malformed or duplicate edges, self-loops, edges
        into ``x`` or out of ``y``, cycles, nodes unreachable from ``x`` or not reaching
        ``y``, a missing ``x`` or ``y``, widths or activations of unknown nodes, bad widths.

    Examples
    --------
    >>> g = GraphArchitecture(edges=[("x", "h1"), ("h1", "y"), ("x", "y")])
    >>> g.hidden_nodes
    ('h1',)
    >>> g.paths
    ((('x', 'h1'), ('h1', 'y')), (('x', 'y'),))
    """

    edges: Sequence[_Edge]
    widths: Any = None
    activations: Any = None
    n_in: int | None = None
    n_out: int | None = None
    whitened: bool = True
    _order: tuple = field(init=False, repr=False, compare=False, default=())
    _in: dict = field(init=False, repr=False, compare=False, default_factory=dict)
    _out: dict = field(init=False, repr=False, compare=False, default_factory=dict)
    _path_count: int = field(init=False, repr=False, compare=False, default=0)
    _longest: int = field(init=False, repr=False, compare=False, default=0)
    _paths: tuple | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        edges, problems = _check_edges(self.edges)
        nodes = list(dict.fromkeys(n for edge in edges for n in edge))
        hidden = [n for n in nodes if n not in (INPUT, OUTPUT)]
        if edges:
            for end, role in ((INPUT, "input"), (OUTPUT, "output")):
                if end not in nodes:
                    problems.append(f"edges: no edge touches the {role} node '{end}'; the graph must run from '{INPUT}' to '{OUTPUT}'")
        successors, predecessors = _adjacency(nodes, edges)
        problems += _connectivity_problems(nodes, successors, predecessors)
        widths, width_problems = _check_node_table("widths", self.widths, hidden, _width_problem)
        activations, activation_problems = _check_node_table("activations", self.activations, hidden, _activation_problem)
        problems += width_problems + activation_problems
        for name in ("n_in", "n_out"):
            value = getattr(self, name)
            if value is not None and (not is_whole_number(value) or value < 1):
                problems.append(f"{name}: {value!r} is not a positive whole number; use an integer >= 1 or omit it")
        if not isinstance(self.whitened, bool):
            problems.append(f"whitened: expected true or false, got {self.whitened!r}")
        if problems:
            raise ArchitectureError("invalid graph architecture: " + "; ".join(problems))
        order = _topological_order(nodes, successors, predecessors)
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "widths", widths or None)
        object.__setattr__(self, "activations", activations or None)
        object.__setattr__(self, "_order", tuple(order))
        object.__setattr__(self, "_in", {n: tuple((u, n) for u in predecessors[n]) for n in nodes})
        object.__setattr__(self, "_out", {n: tuple((n, v) for v in successors[n]) for n in nodes})
        count, longest = _count_paths(order, successors)
        object.__setattr__(self, "_path_count", count)
        object.__setattr__(self, "_longest", longest)

    # ------------------------------------------------------------------ views
    @property
    def nodes(self) -> tuple:
        """Every node in topological order (``x`` first, ``y`` last)."""
        return self._order

    @property
    def hidden_nodes(self) -> tuple:
        """Hidden nodes in topological order."""
        return tuple(n for n in self._order if n not in (INPUT, OUTPUT))

    @property
    def paths(self) -> tuple:
        """Every path from ``x`` to ``y`` as a tuple of edges, in depth-first edge order.

        Listed on first use, and only for graphs of at most :data:`MAX_LISTED_PATHS`
        paths (their number grows exponentially with depth on graphs with merges).

        Raises
        ------
        ArchitectureError
            When the graph has more paths than that.
        """
        paths = self._paths
        if paths is None:
            if not self.paths_listed:
                raise ArchitectureError(
                    f"graph: {self._path_count:,} paths from x to y, above the {MAX_LISTED_PATHS:,} that are listed one by "
                    "one; per-path quantities are not available for this graph: use the per-edge strengths and the total "
                    "(node form)")
            paths = _enumerate_paths(self._out)
            object.__setattr__(self, "_paths", paths)
        return paths

    @property
    def num_paths(self) -> int:
        """Number of paths from ``x`` to ``y`` (counted node by node, never listed)."""
        return self._path_count

    @property
    def paths_listed(self) -> bool:
        """Whether the paths are few enough (at most :data:`MAX_LISTED_PATHS`) to be listed one by one."""
        return self._path_count <= MAX_LISTED_PATHS

    @property
    def longest_path(self) -> int:
        """Number of edges on the longest path from ``x`` to ``y``."""
        return self._longest

    @property
    def path_lengths(self) -> tuple:
        """Number of edges (weight matrices) on each path (needs :attr:`paths`)."""
        return tuple(len(p) for p in self.paths)

    @property
    def distinct_path_lengths(self) -> tuple[int, ...]:
        """The different numbers of edges on the paths from ``x`` to ``y``, sorted, without listing the paths.

        In topological order the lengths reaching ``v`` are those reaching each ``u -> v``
        plus one, so the work is the edges times the longest path, never the paths.
        """
        lengths: dict[str, set[int]] = {node: set() for node in self.nodes}
        lengths[INPUT] = {0}
        for node in self.nodes:
            for _, successor in self.out_edges(node):
                lengths[successor].update(length + 1 for length in lengths[node])
        return tuple(sorted(lengths[OUTPUT]))

    def in_edges(self, node: str) -> tuple:
        """The edges ``(u, node)`` into ``node``, in edge order.

        Parameters
        ----------
        node : str
            A node's name.

        Returns
        -------
        tuple of (str, str)
            The edges.
        """
        return self._in.get(node, ())

    def out_edges(self, node: str) -> tuple:
        """The edges ``(node, v)`` out of ``node``, in edge order.

        Parameters
        ----------
        node : str
            A node's name.

        Returns
        -------
        tuple of (str, str)
            The edges.
        """
        return self._out.get(node, ())

    def width(self, node: str) -> int | None:
        """Width of a hidden node, or None when symbolic.

        Parameters
        ----------
        node : str
            A node's name.

        Returns
        -------
        int or None
            The width.
        """
        return dict(self.widths or ()).get(node)

    def activation(self, node: str) -> str:
        """Activation of a hidden node (``linear`` unless given).

        Parameters
        ----------
        node : str
            A node's name.

        Returns
        -------
        str
            ``linear``, ``relu`` or ``tanh``.
        """
        return dict(self.activations or ()).get(node, "linear")

    def chain_segments(self) -> tuple:
        """Maximal chains of edges whose inner nodes have one incoming and one outgoing edge.

        Every path through one edge of a segment runs through all of them, so the
        reduced model sees only their product (the q/p reduction applies there).
        Returns a tuple of edge tuples, in edge order of their first edge.

        Returns
        -------
        tuple of tuple of (str, str)
            The segments.
        """
        single = {n for n in self.hidden_nodes if len(self.in_edges(n)) == 1 and len(self.out_edges(n)) == 1}
        segments = []
        for edge in self.edges:
            if edge[0] in single:
                continue  # not the start of a segment
            segment = [edge]
            while segment[-1][1] in single:
                segment.append(self.out_edges(segment[-1][1])[0])
            segments.append(tuple(segment))
        return tuple(segments)

    def pathway_depths(self) -> tuple | None:
        """The depths when the graph is parallel pathways meeting only at ``y``, else None.

        Returns
        -------
        tuple of int or None
            One depth per pathway.
        """
        segments = self.chain_segments()
        if all(s[0][0] == INPUT and s[-1][1] == OUTPUT for s in segments):
            return tuple(len(s) for s in segments)
        return None

    def describe(self) -> str:
        """A one-line human description.

        Returns
        -------
        str
            The description.
        """
        dims = f"n_in={self.n_in or 'n_in'}, n_out={self.n_out or 'n_out'}"
        inputs = "whitened" if self.whitened else "general Sigma_x"
        return (f"graph with {len(self.hidden_nodes)} hidden node(s), {len(self.edges)} edges, "
                f"{self.num_paths} path(s) x -> y, {dims}, {inputs} inputs")

    def to_dict(self) -> dict:
        """A TOML/JSON-friendly dictionary (the ``[graph]`` table) that :meth:`from_dict` accepts.

        Returns
        -------
        dict
            ``edges``, ``whitened`` and, when set, ``widths``, ``activations``, ``n_in``, ``n_out``.
        """
        out: dict[str, Any] = {"edges": [list(e) for e in self.edges], "whitened": self.whitened}
        if self.widths:
            out["widths"] = dict(self.widths)
        if self.activations:
            out["activations"] = dict(self.activations)
        for name in ("n_in", "n_out"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_pathways(cls, architecture: Any) -> GraphArchitecture:
        """The graph of parallel pathways: ``architecture.graph`` of an ``Architecture``.

        Parameters
        ----------
        architecture : Architecture
            The pathways (hidden widths, dimensions and ``whitened`` carry over). Depths alone
            go through :func:`pathdyn.theory.architecture.as_graph`, which checks them.

        Returns
        -------
        GraphArchitecture
            Pathway ``a`` as the chain ``x -> p<a>h1 -> ... -> y``.

        Raises
        ------
        ArchitectureError
            When ``architecture`` is not an ``Architecture``, or has two pathways of depth 1.
        """
        graph = getattr(architecture, "graph", None)  # an Architecture (this module cannot import it: it imports us)
        if not isinstance(graph, GraphArchitecture):
            raise ArchitectureError(f"architecture: expected an Architecture, got {architecture!r}; give "
                                    "Architecture(depths=(2, 3)), or call pathdyn.theory.architecture.as_graph")
        return graph

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "graph specification") -> "GraphArchitecture":
        """Build from a mapping with keys ``edges``, ``widths``, ``activations``, ``n_in``, ``n_out``, ``whitened``.

        Parameters
        ----------
        data : mapping
            The keys above (the ``[graph]`` table).
        source : str
            Where the mapping came from, for the message.

        Returns
        -------
        GraphArchitecture
            The graph.

        Raises
        ------
        ArchitectureError
            When ``data`` is not a mapping, or has unknown keys or invalid values (all
            problems in one message).
        """
        if not isinstance(data, Mapping):
            raise ArchitectureError(f"{source}: expected a table of graph keys, got {type(data).__name__}")
        problems = []
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            problems.append(f"unknown key(s) {', '.join(unknown)}; allowed keys are {', '.join(_KEYS)}")
        known = {k: v for k, v in data.items() if k in _KEYS}
        if "edges" not in known:
            problems.append("missing key 'edges'; e.g. edges = [['x', 'h1'], ['h1', 'y']]")
            known["edges"] = [(INPUT, OUTPUT)]  # placeholder so the remaining keys are still checked
        try:
            graph = cls(**known)
        except ArchitectureError as error:
            problems.append(str(error).removeprefix("invalid graph architecture: "))
            graph = None
        if problems or graph is None:  # graph is None only with a problem listed
            raise ArchitectureError(f"{source}: " + "; ".join(problems))
        return graph

    @classmethod
    def from_toml(cls, path: str | Path, data: dict | None = None) -> "GraphArchitecture":
        """Build from a TOML file with a ``[graph]`` table.

        Parameters
        ----------
        path : str or Path
            The TOML file.
        data : dict, optional
            Its parsed content, when the caller has read it already (a pipe is read once).

        Returns
        -------
        GraphArchitecture
            The graph.

        Raises
        ------
        ArchitectureError
            When the file has no ``[graph]`` table, other top-level keys, or an invalid graph.
        """
        data = _read_toml(path) if data is None else data
        if "graph" not in data:
            raise ArchitectureError(f"architecture file {str(path)!r} has no [graph] table; add one with an edges list")
        extra = sorted(set(data) - {"graph"})
        if extra:
            raise ArchitectureError(f"architecture file {str(path)!r}: unknown top-level key(s) {', '.join(extra)} next to [graph]")
        return cls.from_dict(data["graph"], source=f"architecture file {str(path)!r}")


def chain_graph(chains: Sequence[Sequence[int | None]], *, n_in: int | None = None, n_out: int | None = None,
                whitened: bool = True) -> tuple[GraphArchitecture, tuple[tuple[_Edge, ...], ...]]:
    """The graph of parallel chains and, per chain, the edges that carry its layers.

    Chain ``a`` (1-based) runs ``x -> p<a>h1 -> ... -> p<a>h<D_a - 1> -> y``. Chains of depth 1
    are all the one edge ``x -> y`` (a graph has one map per pair of nodes); the gradient of
    each of them is that edge's, which does not depend on the edge's own weight.

    Parameters
    ----------
    chains : sequence of sequence of int or None
        Per chain, the widths of its hidden nodes (``None``: no width given), so a chain
        of depth ``D`` has ``D - 1`` entries.
    n_in, n_out : int, optional
        The data's dimensions.
    whitened : bool
        Whether the inputs are whitened.

    Returns
    -------
    graph : GraphArchitecture
    layers : tuple of tuple of (str, str)
        ``layers[a - 1][d - 1]`` is the edge of layer ``d`` of chain ``a``.
    """
    edges: list[_Edge] = []
    widths: dict[str, int] = {}
    layers = []
    for a, hidden in enumerate(chains, start=1):
        names = [f"p{a}h{d}" for d in range(1, len(hidden) + 1)]
        chain = [INPUT, *names, OUTPUT]
        pathway = tuple(zip(chain[:-1], chain[1:]))
        layers.append(pathway)
        edges += [e for e in pathway if not (e == (INPUT, OUTPUT) and e in edges)]  # one x -> y edge
        widths.update({name: int(width) for name, width in zip(names, hidden) if width is not None})
    graph = GraphArchitecture(edges=edges, widths=widths or None, n_in=n_in, n_out=n_out, whitened=whitened)
    return graph, tuple(layers)


def _adjacency(nodes: Sequence[str], edges: Sequence[_Edge]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """``(successors, predecessors)``: node -> list of neighbours, in edge order."""
    successors: dict[str, list[str]] = {n: [] for n in nodes}
    predecessors: dict[str, list[str]] = {n: [] for n in nodes}
    for u, v in edges:
        successors[u].append(v)
        predecessors[v].append(u)
    return successors, predecessors


def _connectivity_problems(nodes: Sequence[str], successors: Mapping[str, Sequence[str]], predecessors: Mapping[str, Sequence[str]]) -> list[str]:
    """A cycle, nodes unreachable from ``x`` and nodes that do not reach ``y``."""
    problems = []
    cycle = _find_cycle(nodes, successors)
    if cycle:
        problems.append(f"edges: cycle {' -> '.join(cycle)}; the graph must be acyclic (remove an edge of the cycle)")
    if INPUT in nodes:
        reached = _reachable(INPUT, successors)
        unreachable = [n for n in nodes if n not in reached]
        if unreachable:
            problems.append(f"node(s) {', '.join(unreachable)} not reachable from '{INPUT}'; add an edge into them or remove them")
    if OUTPUT in nodes:
        reaching = _reachable(OUTPUT, predecessors)
        dead = [n for n in nodes if n not in reaching]
        if dead:
            problems.append(f"node(s) {', '.join(dead)} do not reach '{OUTPUT}'; add an edge out of them or remove them")
    return problems


def _topological_order(nodes: Sequence[str], successors: Mapping[str, Sequence[str]], predecessors: Mapping[str, Sequence[str]]) -> list[str]:
    """Kahn's algorithm, ties broken by first appearance (so orders are reproducible); O(nodes + edges)."""
    position = {n: i for i, n in enumerate(nodes)}
    remaining = {n: len(predecessors[n]) for n in nodes}
    order = []
    ready = deque(n for n in nodes if remaining[n] == 0)
    while ready:
        node = ready.popleft()
        order.append(node)
        for child in sorted(successors[node], key=position.__getitem__):
            remaining[child] -= 1
            if remaining[child] == 0:
                ready.append(child)
    return order


def _count_paths(order: Sequence[str], successors: Mapping[str, Sequence[str]]) -> tuple[int, int]:
    """Number of paths ``x -> y`` and the length of the longest, node by node in reverse topological order."""
    count, longest = {OUTPUT: 1}, {OUTPUT: 0}
    for node in reversed(order[:-1]):
        count[node] = sum(count[v] for v in successors[node])
        longest[node] = 1 + max(longest[v] for v in successors[node])
    return count[INPUT], longest[INPUT]


def _enumerate_paths(out_edges: Mapping[str, Sequence[_Edge]]) -> tuple[_Path, ...]:
    """Every path ``x -> y`` in depth-first edge order, without recursion."""
    paths: list[_Path] = []
    trail: list[_Edge] = []
    stack = [iter(out_edges[INPUT])]
    while stack:
        edge = next(stack[-1], None)
        if edge is None:
            stack.pop()
            if trail:
                trail.pop()
            continue
        trail.append(edge)
        if edge[1] == OUTPUT:
            paths.append(tuple(trail))
            trail.pop()
        else:
            stack.append(iter(out_edges[edge[1]]))
    return tuple(paths)


def _read_toml(path: str | Path) -> dict:
    return read_toml(path, f"architecture file {str(path)!r}", ArchitectureError)
