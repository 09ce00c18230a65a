"""The wiring of a finite network: which node each weight matrix reads and which it feeds.

One engine (:class:`pathdyn.validation.network.engine.Engine`) steps every network, graph or
parallel pathways, in node form: a node sums the products of its incoming weights and applies
its activation, the backward signal of a node sums the transposed products of its outgoing
weights. A :class:`Wiring` says which weights those are. Parallel pathways are the special
case whose edges form chains that meet only at ``x`` and ``y``: their weights are keyed
``(a, d)`` (pathway ``a``, layer ``d``, both 0-based, as in ``weights[a][d]``), and the chains
may be stepped on parallel threads. A graph's weights are keyed by their edge ``(u, v)``.
Part of :mod:`pathdyn.validation.network`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pathdyn.errors import ConfigError
from pathdyn.theory.graph import INPUT, OUTPUT, GraphArchitecture

__all__ = ["Wiring"]


@dataclass(frozen=True)
class Wiring:
    """The weights of a network as edges between named nodes, in evaluation order.

    Attributes
    ----------
    edges : tuple of (key, source, target)
        Every weight matrix: its key in the engine's weights, the node it reads
        (``x`` for the inputs) and the node it feeds (``y`` for the outputs).
    hidden : tuple of str
        The hidden nodes in topological order.
    chains : tuple of tuple of key, or None
        For parallel chains (pathways, or a graph of them): each chain's weight keys from
        ``x`` to ``y``; they share no hidden node, so they may be stepped on parallel threads.
        ``None`` for other graphs.
    layered : bool
        Whether the keys are ``(a, d)`` of :meth:`of_pathways` (the weights then also read
        as ``weights[a][d]``).
    """

    edges: tuple[tuple[Any, str, str], ...]
    hidden: tuple[str, ...]
    chains: tuple[tuple[Any, ...], ...] | None
    layered: bool = False
    _in: dict = field(init=False, repr=False, compare=False)
    _out: dict = field(init=False, repr=False, compare=False)
    _source: dict = field(init=False, repr=False, compare=False)
    _target: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        incoming: dict[str, list] = {node: [] for node in (*self.hidden, OUTPUT)}
        outgoing: dict[str, list] = {node: [] for node in (INPUT, *self.hidden)}
        for key, source, target in self.edges:
            outgoing[source].append(key)
            incoming[target].append(key)
        object.__setattr__(self, "_in", {n: tuple(keys) for n, keys in incoming.items()})
        object.__setattr__(self, "_out", {n: tuple(keys) for n, keys in outgoing.items()})
        object.__setattr__(self, "_source", {key: source for key, source, _ in self.edges})
        object.__setattr__(self, "_target", {key: target for key, _, target in self.edges})

    @classmethod
    def of_pathways(cls, layers: Sequence[int]) -> Wiring:
        """The wiring of parallel pathways with ``layers[a]`` weight matrices each.

        Parameters
        ----------
        layers : sequence of int
            The depth of each pathway (>= 1).

        Returns
        -------
        Wiring
            Keys ``(a, d)``; pathway ``a``'s hidden nodes are named ``"a.d"`` (0-based).
        """
        edges, hidden, chains = [], [], []
        for a, depth in enumerate(layers):
            nodes = [INPUT, *(f"{a}.{d}" for d in range(depth - 1)), OUTPUT]
            hidden += nodes[1:-1]
            edges += [((a, d), nodes[d], nodes[d + 1]) for d in range(depth)]
            chains.append(tuple((a, d) for d in range(depth)))
        return cls(tuple(edges), tuple(hidden), tuple(chains), layered=True)

    @classmethod
    def of_graph(cls, graph: GraphArchitecture) -> Wiring:
        """The wiring of a graph: one weight per edge, keyed by the edge.

        Parameters
        ----------
        graph : GraphArchitecture

        Returns
        -------
        Wiring
            Edges in the graph's order; chains when the graph is parallel chains.
        """
        chains = graph.chain_segments() if graph.pathway_depths() is not None else None
        return cls(tuple((edge, edge[0], edge[1]) for edge in graph.edges), tuple(graph.hidden_nodes), chains)

    def in_edges(self, node: str) -> tuple:
        """The keys of the weights that feed ``node`` (in edge order).

        Parameters
        ----------
        node : str
            A hidden node or ``y``.

        Returns
        -------
        tuple
            Weight keys.
        """
        return self._in[node]

    def out_edges(self, node: str) -> tuple:
        """The keys of the weights that read ``node`` (in edge order).

        Parameters
        ----------
        node : str
            ``x`` or a hidden node.

        Returns
        -------
        tuple
            Weight keys.
        """
        return self._out[node]

    def source(self, key: Hashable) -> str:
        """The node the weight ``key`` reads.

        Parameters
        ----------
        key : hashable
            A weight's key.

        Returns
        -------
        str
            The node.
        """
        return self._source[key]

    def target(self, key: Hashable) -> str:
        """The node the weight ``key`` feeds.

        Parameters
        ----------
        key : hashable
            A weight's key.

        Returns
        -------
        str
            The node.
        """
        return self._target[key]

    def chain_nodes(self, chain: Sequence[Hashable]) -> tuple[str, ...]:
        """The hidden nodes of a chain, from ``x`` to ``y``.

        Parameters
        ----------
        chain : sequence of key
            The weight keys of one chain, from ``x`` to ``y``.

        Returns
        -------
        tuple of str
            Its hidden nodes in order.
        """
        return tuple(self.source(key) for key in chain[1:])

    def keyed(self, weights: Any) -> dict:
        """The weights as ``{key: matrix}``: a dict as it is, ``weights[a][d]`` for :meth:`of_pathways`.

        Parameters
        ----------
        weights : dict, or list of list of ndarray (layered wiring)

        Returns
        -------
        dict

        Raises
        ------
        ConfigError
            When a key has no matrix.
        """
        if not isinstance(weights, Mapping):
            weights = {(a, d): W for a, pathway in enumerate(weights) for d, W in enumerate(pathway)}
        missing = [key for key, _, _ in self.edges if key not in weights]
        if missing:
            raise ConfigError(f"weights: no matrix for {', '.join(map(str, missing))}; give one per edge")
        return {key: weights[key] for key, _, _ in self.edges}

    def layers(self, weights: Mapping) -> list[list]:
        """``weights[a][d]`` of a layered wiring (the same arrays).

        Parameters
        ----------
        weights : dict
            ``{(a, d): matrix}``.

        Returns
        -------
        list of list
        """
        assert self.chains is not None and self.layered  # only pathways are layered
        return [[weights[key] for key in chain] for chain in self.chains]
