"""Architecture specification of a multi-pathway network.

An :class:`Architecture` is plain data (no sympy): the number of pathways, the depth
of each, the input and output dimensions, optional hidden widths, and whether the
inputs are whitened. Every problem in a specification is reported at once.

Parallel pathways are a graph: :attr:`Architecture.graph` is the
:class:`~pathdyn.theory.graph.GraphArchitecture` of the pathways as parallel chains, the
form every derivation works in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Mapping

from pathdyn._base.checks import is_whole_number
from pathdyn.errors import ArchitectureError
from pathdyn.io.reading import read_toml
from pathdyn.theory.graph import GraphArchitecture, chain_graph

__all__ = ["Architecture", "as_graph", "load_architecture_toml", "parse_depths", "pathway_graph"]

_MAX_DEPTH = 1000


def parse_depths(text: str, argument: str = "--depths") -> tuple[int, ...]:
    """Parse a comma-separated list of depths such as ``"2,3,5"``.

    Parameters
    ----------
    text : str
        The list, e.g. ``"2,3,5"`` (spaces allowed).
    argument : str
        The option's name, for the message.

    Returns
    -------
    tuple of int
        The depths as integers.

    Raises
    ------
    ArchitectureError
        If the text is empty, has empty items or an item is not a whole number.
    """
    if not isinstance(text, str) or not text.strip():
        raise ArchitectureError(f"{argument}: expected comma-separated depths such as 2,3,5, got {text!r}")
    items = [item.strip() for item in text.split(",")]
    problems = []
    depths = []
    for position, item in enumerate(items, start=1):
        if not item:
            problems.append(f"item {position} is empty")
        elif not re.fullmatch(r"[+-]?\d+", item):
            problems.append(f"item {position} ({item!r}) is not a whole number")
        else:
            depths.append(int(item))
    if problems:
        raise ArchitectureError(
            f"{argument}: malformed list {text!r}: " + "; ".join(problems)
            + "; write whole numbers separated by commas, e.g. 2,3,5"
        )
    return tuple(depths)


@dataclass(frozen=True)
class Architecture:
    """A network of parallel pathways summed at the output.

    Parameters
    ----------
    depths : tuple of int
        ``D_a`` for each pathway ``a`` (number of weight matrices, >= 1).
    n_in, n_out : int or None
        Input and output dimensions; ``None`` keeps them symbolic.
    hidden_widths : None, int, or tuple of tuple of int
        ``None`` keeps hidden widths symbolic; an int gives every hidden layer that
        width; otherwise one tuple of ``D_a - 1`` widths per pathway.
    whitened : bool
        ``True`` for ``Sigma_x = I`` (the paper's setting), ``False`` to carry a
        general input correlation ``Sigma_x`` through the derivation.

    Raises
    ------
    ArchitectureError
        Listing every problem of the specification at once.

    Examples
    --------
    >>> Architecture(depths=(2, 3)).num_pathways
    2
    >>> Architecture.from_string("2,3,5").depths
    (2, 3, 5)
    >>> Architecture(depths=(1, 2)).graph.edges
    (('x', 'y'), ('x', 'p2h1'), ('p2h1', 'y'))
    """

    depths: tuple[int, ...]
    n_in: int | None = None
    n_out: int | None = None
    hidden_widths: Any = None
    whitened: bool = True
    _widths: tuple = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        problems: list[str] = []
        depths = self.depths
        if isinstance(depths, (str, bytes)) or not hasattr(depths, "__iter__"):
            problems.append(f"depths: expected a list of whole numbers, got {depths!r}; e.g. depths=(2, 3)")
            depths = ()
        else:
            depths = tuple(depths)
            if len(depths) == 0:
                problems.append("depths: zero pathways; give at least one depth, e.g. depths=(2,)")
            for index, depth in enumerate(depths, start=1):
                if not is_whole_number(depth):
                    problems.append(f"depths[{index}]: {depth!r} is not a whole number; use an integer >= 1")
                elif depth < 1:
                    problems.append(f"depths[{index}]: {depth} is not a valid depth; use an integer >= 1")
                elif depth > _MAX_DEPTH:
                    problems.append(f"depths[{index}]: {depth} exceeds the supported maximum {_MAX_DEPTH}")
        for name in ("n_in", "n_out"):
            value = getattr(self, name)
            if value is not None and (not is_whole_number(value) or value < 1):
                problems.append(f"{name}: {value!r} is not a positive whole number; use an integer >= 1 or omit it")
        if not isinstance(self.whitened, bool):
            problems.append(f"whitened: expected true or false, got {self.whitened!r}")
        widths: tuple = ()
        valid_depths = [d for d in depths if is_whole_number(d) and d >= 1]
        hw = self.hidden_widths
        if hw is None:
            widths = ()
        elif is_whole_number(hw):
            if hw < 1:
                problems.append(f"hidden_widths: {hw} is not a positive width; use an integer >= 1")
            elif len(valid_depths) == len(depths):
                widths = tuple((int(hw),) * (d - 1) for d in depths)
        elif isinstance(hw, (list, tuple)):
            if len(hw) != len(depths):
                problems.append(
                    f"hidden_widths: {len(hw)} entries for {len(depths)} pathways; give one list of D_a - 1 widths per pathway"
                )
            else:
                collected = []
                for index, (entry, depth) in enumerate(zip(hw, depths), start=1):
                    entry = (entry,) * (depth - 1) if is_whole_number(entry) and is_whole_number(depth) else entry
                    if not isinstance(entry, (list, tuple)):
                        problems.append(f"hidden_widths[{index}]: expected a list of widths, got {entry!r}")
                        continue
                    if is_whole_number(depth) and len(entry) != depth - 1:
                        problems.append(
                            f"hidden_widths[{index}]: {len(entry)} widths for depth {depth}; a pathway of depth D has D - 1 hidden layers"
                        )
                    bad = [w for w in entry if not is_whole_number(w) or w < 1]
                    if bad:
                        problems.append(f"hidden_widths[{index}]: {bad!r} are not positive whole numbers")
                    collected.append(tuple(int(w) for w in entry if is_whole_number(w)))
                widths = tuple(collected)
        else:
            problems.append(f"hidden_widths: expected an integer or a list per pathway, got {hw!r}")
        if problems:
            raise ArchitectureError("invalid architecture: " + "; ".join(problems))
        object.__setattr__(self, "depths", tuple(int(d) for d in depths))
        object.__setattr__(self, "_widths", widths)
        if isinstance(hw, (list, tuple)):  # lists (from JSON/TOML) stored as tuples: hashable, comparable
            object.__setattr__(self, "hidden_widths", widths)

    # ------------------------------------------------------------------ views
    @property
    def num_pathways(self) -> int:
        """Number of pathways ``M``."""
        return len(self.depths)

    def hidden_width(self, pathway: int, layer: int) -> int | None:
        """Width after layer ``layer`` (1-based, ``1 <= layer < D_a``) of ``pathway`` (1-based), or None.

        Parameters
        ----------
        pathway, layer : int
            1-based indices.

        Returns
        -------
        int or None
            The width, or ``None`` when the architecture fixes none.
        """
        if not self._widths:
            return None
        return self._widths[pathway - 1][layer - 1]

    @property
    def graph(self) -> GraphArchitecture:
        """These pathways as a graph: pathway ``a`` runs ``x -> p<a>h1 -> ... -> p<a>h<D_a - 1> -> y``.

        Hidden widths, dimensions and ``whitened`` carry over.

        Raises
        ------
        ArchitectureError
            When two pathways have depth 1: both would be the one edge ``x -> y``.
        """
        if sum(d == 1 for d in self.depths) > 1:
            raise ArchitectureError(f"depths {self.depths}: two depth-1 pathways are one edge x -> y in a graph; "
                                    "merge them into one")
        return pathway_graph(self)[0]

    @property
    def layer_edges(self) -> tuple[tuple[tuple[str, str], ...], ...]:
        """The edge of :attr:`graph` that carries each layer: ``layer_edges[a - 1][d - 1]``."""
        return pathway_graph(self)[1]

    def describe(self) -> str:
        """A one-line human description.

        Returns
        -------
        str
            The description.
        """
        depths = ",".join(str(d) for d in self.depths)
        dims = f"n_in={self.n_in or 'n_in'}, n_out={self.n_out or 'n_out'}"
        inputs = "whitened" if self.whitened else "general Sigma_x"
        return f"{self.num_pathways} pathway(s), depths {depths}, {dims}, {inputs} inputs"

    def to_dict(self) -> dict:
        """A JSON/TOML-friendly dictionary that :meth:`from_dict` accepts.

        Returns
        -------
        dict
            ``depths``, ``whitened`` and, when set, ``n_in``, ``n_out``, ``hidden_widths``.
        """
        out: dict[str, Any] = {"depths": list(self.depths), "whitened": self.whitened}
        if self.n_in is not None:
            out["n_in"] = self.n_in
        if self.n_out is not None:
            out["n_out"] = self.n_out
        if is_whole_number(self.hidden_widths):
            out["hidden_widths"] = int(self.hidden_widths)
        elif self._widths:
            out["hidden_widths"] = [list(w) for w in self._widths]
        return out

    # ------------------------------------------------------------ constructors
    @classmethod
    def coerce(cls, architecture: Any, argument: str = "architecture") -> "Architecture":
        """``architecture`` itself, or one built from a sequence of depths or a string ``"2,3"``
        (what every function taking an architecture accepts).

        Parameters
        ----------
        architecture : Architecture, sequence of int or str
            What to convert.
        argument : str
            The argument's name, for the message.

        Returns
        -------
        Architecture
            The architecture.

        Raises
        ------
        ArchitectureError
            When ``architecture`` is none of these, or its depths are invalid.
        """
        if isinstance(architecture, cls):
            return architecture
        if isinstance(architecture, str):
            return cls(depths=parse_depths(architecture, argument=argument))
        try:
            return cls(depths=tuple(architecture))
        except TypeError:
            raise ArchitectureError(
                f"{argument}: expected an Architecture, a list of depths or a string such as '2,3', got {architecture!r}"
            ) from None

    @classmethod
    def from_string(cls, depths: str, **kwargs: Any) -> "Architecture":
        """Build from a comma-separated depth list such as ``"2,3,5"``.

        Parameters
        ----------
        depths : str
            The depths, e.g. ``"2,3,5"``.
        **kwargs
            Other fields of :class:`Architecture`.

        Returns
        -------
        Architecture
            The architecture.
        """
        return cls(depths=parse_depths(depths), **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "specification") -> "Architecture":
        """Build from a mapping with keys ``depths``, ``n_in``, ``n_out``, ``hidden_widths``, ``whitened``.

        Unknown keys are reported together with any other problem.

        Parameters
        ----------
        data : mapping
            The keys above.
        source : str
            Where the mapping came from, for the message.

        Returns
        -------
        Architecture
            The architecture.

        Raises
        ------
        ArchitectureError
            When ``data`` is not a mapping, has unknown keys or invalid values (all
            problems in one message).
        """
        if not isinstance(data, Mapping):
            raise ArchitectureError(f"{source}: expected a table of architecture keys, got {type(data).__name__}")
        allowed = {f.name for f in fields(cls) if f.init}
        unknown = sorted(set(data) - allowed)
        known = {k: v for k, v in data.items() if k in allowed}
        problems = []
        if "depths" in known and isinstance(known["depths"], str):
            try:
                known["depths"] = parse_depths(known["depths"], argument="depths")
            except ArchitectureError as error:
                problems.append(str(error))
                known["depths"] = (2,)  # placeholder so the remaining keys are still checked
        if unknown:
            problems.append(f"unknown key(s) {', '.join(unknown)}; allowed keys are {', '.join(sorted(allowed))}")
        if "depths" not in known:
            problems.append("missing key 'depths'; e.g. depths = [2, 3]")
            known["depths"] = (2,)  # placeholder so the remaining keys are still checked
        try:
            arch = cls(**known)
        except ArchitectureError as error:
            problems.append(str(error).removeprefix("invalid architecture: "))
            arch = None
        if problems or arch is None:
            raise ArchitectureError(f"{source}: " + "; ".join(problems))
        return arch

    @classmethod
    def from_toml(cls, path: str | Path, data: dict | None = None) -> "Architecture":
        """Build from a TOML file; keys may sit at top level or under ``[architecture]``.

        Parameters
        ----------
        path : str or Path
            The TOML file.
        data : dict, optional
            Its parsed content, when the caller has read it already (a pipe is read once).

        Returns
        -------
        Architecture
            The architecture.

        Raises
        ------
        ArchitectureError
            When the file is missing, not UTF-8, not TOML, holds a ``[graph]`` or has
            invalid keys.
        """
        if data is None:
            data = read_toml(path, f"architecture file {str(path)!r}", ArchitectureError)
        if "graph" in data:
            raise ArchitectureError(
                f"architecture file {str(path)!r} holds a [graph]: Architecture describes parallel pathways; read it "
                "with pathdyn.theory.graph.load_architecture_toml (either form) or GraphArchitecture.from_toml"
            )
        if set(data) == {"architecture"}:
            data = data["architecture"]
        return cls.from_dict(data, source=f"architecture file {str(path)!r}")


def pathway_graph(architecture: Architecture | Sequence[int] | str) -> tuple[GraphArchitecture, tuple]:
    """The graph of parallel pathways and, per pathway, the edges that carry its layers.

    Unlike :attr:`Architecture.graph`, several depth-1 pathways are allowed: they are all
    the one edge ``x -> y``, whose gradient does not depend on its own weight, so a
    derivation gives each of them that edge's gradient.

    Parameters
    ----------
    architecture : Architecture, sequence of int or str
        The pathways (hidden widths, dimensions and ``whitened`` carry over).

    Returns
    -------
    graph : GraphArchitecture
    layers : tuple of tuple of (str, str)
        ``layers[a - 1][d - 1]`` is the edge of layer ``d`` of pathway ``a``.
    """
    arch = Architecture.coerce(architecture)
    hidden = [[arch.hidden_width(a, d) for d in range(1, depth)] for a, depth in enumerate(arch.depths, start=1)]
    return chain_graph(hidden, n_in=arch.n_in, n_out=arch.n_out, whitened=arch.whitened)


def as_graph(graph: GraphArchitecture | Architecture | Sequence[int] | str) -> GraphArchitecture:
    """``graph`` itself, or the graph of pathways (:attr:`Architecture.graph`): what every graph function takes.

    Parameters
    ----------
    graph : GraphArchitecture, Architecture, sequence of int or str
        A graph, or pathways (checked by :meth:`Architecture.coerce`).

    Returns
    -------
    GraphArchitecture

    Raises
    ------
    ArchitectureError
        When ``graph`` is none of these, or pathways of invalid depths.
    """
    return graph if isinstance(graph, GraphArchitecture) else Architecture.coerce(graph, argument="graph").graph


def load_architecture_toml(path: str | Path) -> GraphArchitecture | Architecture:
    """A :class:`GraphArchitecture` when the file has a ``[graph]`` table, else an :class:`Architecture`.

    Parameters
    ----------
    path : str or Path
        The TOML file.

    Returns
    -------
    GraphArchitecture or Architecture
        What the file describes.
    """
    data = read_toml(path, f"architecture file {str(path)!r}", ArchitectureError)  # once: a pipe reads once
    if "graph" in data:
        return GraphArchitecture.from_toml(path, data=data)
    return Architecture.from_toml(path, data=data)
