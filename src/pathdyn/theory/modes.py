"""The symbolic contract between the theory and numerics layers.

:class:`ModeEquations` holds the reduced per-mode equations of one generic mode
``alpha`` (singular value ``S``) as pure sympy: an ordered state tuple, its
right-hand sides ``tau d(state)/dt`` (tau = 1), parameters, each pathway's mode
strength ``K_a`` and the conserved quantities. The numerics layer consumes only this
object; it never calls the derivation code.

The meaning of each state variable and parameter travels as a typed record
(:class:`StateVariable`, :class:`Parameter`) in :attr:`ModeEquations.layout` and
:attr:`ModeEquations.parameter_layout`, in the order of ``state`` and ``parameters``.
Code outside ``theory/`` reads roles, pathways and layers from these records and never
parses a symbol's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp

from pathdyn.theory.display import mode_equations_latex

__all__ = [
    "Invariant",
    "ModeEquations",
    "Parameter",
    "StateVariable",
    "input_variance_symbol",
    "mode_symbols",
]


def mode_symbols() -> sp.Symbol:
    """The shared parameter symbols: singular value ``S`` of the mode.

    Returns
    -------
    sympy.Symbol
        ``S`` (positive).
    """
    return sp.Symbol("S", positive=True)


def input_variance_symbol() -> sp.Symbol:
    """The input variance ``lambda`` of the mode, ``v^T Sigma_x v`` (a parameter for general inputs).

    Whitened inputs have ``lambda = 1`` and their equations carry no such parameter.

    Returns
    -------
    sympy.Symbol
        ``lambda`` (positive).
    """
    return sp.Symbol("lambda", positive=True)


@dataclass(frozen=True)
class StateVariable:
    """What one state variable of the reduced equations is.

    Attributes
    ----------
    symbol : sympy.Symbol
        The variable in the equations.
    role : str
        What it stands for: ``"s"`` (a per-layer strength), ``"q"``/``"p"`` (the q/p
        model's shared hidden-layer and last-layer strengths), ``"A"``/``"M"``/``"B"``
        (first, hidden and last layer of the two-channel chain), ``"w"`` (the single
        weight of a depth-1 two-channel pathway); new models add their own roles.
    pathway : int or None
        The pathway (1-based) it belongs to.
    layer : int or None
        The layer (1-based, input layer 1) for per-layer and two-channel variables.
    entry : tuple of int
        The matrix entry (1-based) within its layer: ``(i,)`` for ``A``/``B``, ``(i, j)``
        for ``M``; ``()`` for scalars.
    edge : tuple or None
        The edge ``(source, target)`` of a graph architecture, for models with edges.
    mode : int or None
        The mode it belongs to; None for the generic mode ``alpha`` (every model so far).
    start : {"q", "p"} or None
        Which per-pathway initial value the variable starts from when an initial state is
        drawn like the paper's (:func:`pathdyn.numerics.initial.draw_initial_state`): the
        derivation of each model says so for its own variables; None: not drawn that way.
    """

    symbol: sp.Symbol
    role: str
    pathway: int | None = None
    layer: int | None = None
    entry: tuple = ()
    edge: tuple | None = None
    mode: int | None = None
    start: str | None = None

    @property
    def key(self) -> tuple:
        """``(role, pathway, layer, entry)``: the variable's identity without its symbol."""
        return (self.role, self.pathway, self.layer, tuple(self.entry))


@dataclass(frozen=True)
class Parameter:
    """What one parameter of the reduced equations is.

    Attributes
    ----------
    symbol : sympy.Symbol
    role : str
        ``"S"`` (the mode's singular value), ``"lambda"`` (its input variance, general
        inputs) or ``"c"`` (a pathway's conserved ``q_a^2 - p_a^2`` in the race form).
    pathway : int or None
        The pathway (1-based) of a per-pathway parameter.
    """

    symbol: sp.Symbol
    role: str
    pathway: int | None = None


def default_parameter_layout(parameters: Sequence[sp.Symbol]) -> tuple:
    """Records of the shared parameters ``S`` and ``lambda``; any other is ``"parameter"``.

    Parameters
    ----------
    parameters : sequence of sympy.Symbol
        The equations' parameters.

    Returns
    -------
    tuple of Parameter
        One record per parameter, in order.
    """
    roles = {mode_symbols(): "S", input_variance_symbol(): "lambda"}
    return tuple(Parameter(x, roles.get(x, "parameter")) for x in parameters)


@dataclass(frozen=True)
class Invariant:
    """A conserved quantity ``expr`` of the state, belonging to ``pathway`` (1-based) or None."""

    pathway: int | None
    expr: sp.Expr
    name: str = ""


@dataclass(frozen=True)
class ModeEquations:
    """Reduced equations of one generic mode.

    Attributes
    ----------
    kind : str
        ``"layer"`` (one strength per layer), ``"qp"`` (the paper's q/p model),
        ``"race"`` (one variable per pathway after using the invariant) or another
        reduction (e.g. ``"two-channel"``).
    depths : tuple of int
        ``D_a`` per pathway.
    state : tuple of sympy.Symbol
        Ordered state variables.
    rhs : tuple of sympy.Expr
        ``d(state_i)/dt`` in the time units of docs/theory.md (tau = 1), same order as ``state``.
    parameters : tuple of sympy.Symbol
        Parameters after the state, in call order (``S`` first; then ``lambda``, the
        mode's input variance, for equations derived for general inputs).
    strengths : tuple of sympy.Expr
        ``K_a`` (the mode strength of pathway ``a``) as a function of the state.
    invariants : tuple of Invariant
        Conserved quantities, checked by :meth:`time_derivative`.
    state_pathway : tuple of int
        The pathway (1-based) each state variable belongs to.
    description : str
        One line for humans.
    layout : tuple of StateVariable
        One record per state variable, in ``state`` order (default: role ``"x"`` and the
        pathway of ``state_pathway``, for equations built by hand).
    parameter_layout : tuple of Parameter
        One record per parameter, in ``parameters`` order (default:
        :func:`default_parameter_layout`).
    definitions : tuple of (sympy.Symbol, sympy.Expr)
        Named intermediate quantities the right-hand sides, strengths and invariants may
        use (e.g. the forward and backward strengths of the nodes of a graph), in
        evaluation order: each is a function of the state, the parameters and the
        definitions before it. Empty for equations written in the state alone.
        :meth:`inline` writes them out.
    """

    kind: str
    depths: Sequence[int]
    state: Sequence[Any]
    rhs: Sequence[Any]
    parameters: Sequence[Any]
    strengths: Sequence[Any]
    invariants: Sequence[Any] = ()
    state_pathway: Sequence[Any] = ()
    description: str = ""
    layout: Sequence[Any] = ()
    parameter_layout: Sequence[Any] = ()
    definitions: Sequence[Any] = ()

    def __post_init__(self) -> None:
        state = tuple(self.state)
        if not self.state_pathway and self.layout:
            object.__setattr__(self, "state_pathway", tuple(v.pathway for v in self.layout))
        if not self.layout:
            owners = tuple(self.state_pathway) or (None,) * len(state)
            object.__setattr__(self, "layout", tuple(StateVariable(x, "x", a) for x, a in zip(state, owners)))
        if not self.parameter_layout:
            object.__setattr__(self, "parameter_layout", default_parameter_layout(self.parameters))
        problems = []
        if tuple(v.symbol for v in self.layout) != state:
            problems.append("layout must give one StateVariable per state variable, in state order")
        if tuple(v.symbol for v in self.parameter_layout) != tuple(self.parameters):
            problems.append("parameter_layout must give one Parameter per parameter, in order")
        if len(self.state) != len(self.rhs):
            problems.append(f"{len(self.state)} state variables but {len(self.rhs)} right-hand sides")
        if len(self.strengths) != len(self.depths):
            problems.append(f"{len(self.strengths)} strengths for {len(self.depths)} pathways")
        if self.state_pathway and len(self.state_pathway) != len(self.state):
            problems.append("state_pathway must give one pathway per state variable")
        if len(set(self.state)) != len(self.state):
            problems.append("state variables must be distinct")
        allowed = set(self.state) | set(self.parameters)
        for symbol, expr in self.definitions:
            extra = sp.sympify(expr).free_symbols - allowed
            if extra or symbol in allowed:
                problems.append(f"definition of {symbol} uses {sorted(map(str, extra))}, neither state, parameters nor "
                                "earlier definitions" if extra else f"{symbol} is defined twice or is a state variable")
            allowed.add(symbol)
        for i, expr in enumerate(self.rhs):
            extra = sp.sympify(expr).free_symbols - allowed
            if extra:
                problems.append(f"rhs[{i}] uses symbols {sorted(map(str, extra))} that are neither state nor parameters")
        if problems:
            raise ValueError("invalid ModeEquations: " + "; ".join(problems))
        for name in ("depths", "state", "rhs", "parameters", "strengths", "invariants", "state_pathway", "layout",
                     "parameter_layout", "definitions"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def num_pathways(self) -> int:
        return len(self.depths)

    @property
    def state_names(self) -> tuple:
        """Names of the state variables, in order."""
        return tuple(str(s) for s in self.state)

    @property
    def parameter_names(self) -> tuple:
        return tuple(str(s) for s in self.parameters)

    @property
    def S(self) -> sp.Symbol:
        """The singular-value symbol of the mode."""
        return mode_symbols()

    @property
    def input_variance(self) -> sp.Symbol | None:
        """The symbol ``lambda`` when the equations carry the input variance, else None (whitened)."""
        lam = input_variance_symbol()
        return lam if lam in self.parameters else None

    @property
    def error(self) -> sp.Expr:
        """The common error of the mode: ``S - sum_a K_a``, or ``S - lambda sum_a K_a`` for general inputs."""
        lam = self.input_variance
        total = sp.Add(*self.strengths)
        return self.S - total if lam is None else self.S - lam * total

    @property
    def loss(self) -> sp.Expr:
        """The mode's contribution to the loss: ``(S - sum_a K_a)^2 / 2``, or
        ``lambda K^2 / 2 - S K + S^2 / (2 lambda) = (S - lambda K)^2 / (2 lambda)`` for general
        inputs (``K = sum_a K_a``; the constant makes the minimum 0)."""
        lam = self.input_variance
        return self.error**2 / 2 if lam is None else self.error**2 / (2 * lam)

    def _repr_latex_(self) -> str:
        """Jupyter's LaTeX display: the mode strengths and the reduced equations, ``q_{a\\alpha}`` indices."""

        return mode_equations_latex(self)

    def rhs_of(self, variable: sp.Symbol | str) -> sp.Expr:
        """The right-hand side of one state variable (symbol or name).

        Parameters
        ----------
        variable : sympy.Symbol or str
            The state variable.

        Returns
        -------
        sympy.Expr
            Its right-hand side.

        Raises
        ------
        KeyError
            When ``variable`` is not a state variable.
        """
        names = self.state_names
        key = str(variable)
        if key not in names:
            raise KeyError(f"{key!r} is not a state variable; state is {names}")
        return self.rhs[names.index(key)]

    def time_derivative(self, expr: sp.Expr) -> sp.Expr:
        """``d expr / dt`` along the flow (chain rule over the state), unsimplified.

        Parameters
        ----------
        expr : sympy.Expr
            An expression in the state (and parameters).

        Returns
        -------
        sympy.Expr
            Its derivative along the flow.
        """
        expr = sp.sympify(expr)
        present = expr.free_symbols
        return sp.Add(*[sp.diff(expr, x) * f for x, f in zip(self.state, self.rhs) if x in present])

    def inline(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with every definition written out, so that it holds only state and parameters.

        Parameters
        ----------
        expr : sympy.Expr
            An expression in the state, the parameters and the definitions.

        Returns
        -------
        sympy.Expr
            The same quantity in the state and parameters alone. For a graph in node form
            its size grows with the number of paths: meant for small graphs and checks.
        """
        expr = sp.sympify(expr)
        for symbol, definition in reversed(self.definitions):
            if expr.has(symbol):
                expr = expr.xreplace({symbol: definition})
        return expr

    def pathway_state(self, pathway: int) -> tuple:
        """State variables of one pathway (1-based).

        Parameters
        ----------
        pathway : int
            1-based index.

        Returns
        -------
        tuple of sympy.Symbol
            The pathway's variables in state order.
        """
        return tuple(x for x, a in zip(self.state, self.state_pathway) if a == pathway)
