"""The symbolic contract between the theory and numerics layers.

:class:`ModeEquations` holds the reduced per-mode equations of one generic mode
``alpha`` (singular value ``S``) as pure sympy: an ordered state tuple, its
right-hand sides ``tau d(state)/dt`` (tau = 1), parameters, each pathway's mode
strength ``K_a`` and the conserved quantities. The numerics layer consumes only this
object; it never calls the derivation code.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

__all__ = ["Invariant", "ModeEquations", "input_variance_symbol", "mode_symbols"]


def mode_symbols():
    """The shared parameter symbols: singular value ``S`` of the mode."""
    return sp.Symbol("S", positive=True)


def input_variance_symbol():
    """The input variance ``lambda`` of the mode, ``v^T Sigma_x v`` (a parameter for general inputs).

    Whitened inputs have ``lambda = 1`` and their equations carry no such parameter.
    """
    return sp.Symbol("lambda", positive=True)


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
    """

    kind: str
    depths: tuple
    state: tuple
    rhs: tuple
    parameters: tuple
    strengths: tuple
    invariants: tuple = ()
    state_pathway: tuple = ()
    description: str = ""

    def __post_init__(self) -> None:
        problems = []
        if len(self.state) != len(self.rhs):
            problems.append(f"{len(self.state)} state variables but {len(self.rhs)} right-hand sides")
        if len(self.strengths) != len(self.depths):
            problems.append(f"{len(self.strengths)} strengths for {len(self.depths)} pathways")
        if self.state_pathway and len(self.state_pathway) != len(self.state):
            problems.append("state_pathway must give one pathway per state variable")
        if len(set(self.state)) != len(self.state):
            problems.append("state variables must be distinct")
        allowed = set(self.state) | set(self.parameters)
        for i, expr in enumerate(self.rhs):
            extra = sp.sympify(expr).free_symbols - allowed
            if extra:
                problems.append(f"rhs[{i}] uses symbols {sorted(map(str, extra))} that are neither state nor parameters")
        if problems:
            raise ValueError("invalid ModeEquations: " + "; ".join(problems))
        for name in ("depths", "state", "rhs", "parameters", "strengths", "invariants", "state_pathway"):
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
    def input_variance(self):
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

    def rhs_of(self, variable) -> sp.Expr:
        """The right-hand side of one state variable (symbol or name)."""
        names = self.state_names
        key = str(variable)
        if key not in names:
            raise KeyError(f"{key!r} is not a state variable; state is {names}")
        return self.rhs[names.index(key)]

    def time_derivative(self, expr) -> sp.Expr:
        """``d expr / dt`` along the flow (chain rule over the state), unsimplified."""
        expr = sp.sympify(expr)
        present = expr.free_symbols
        return sp.Add(*[sp.diff(expr, x) * f for x, f in zip(self.state, self.rhs) if x in present])

    def pathway_state(self, pathway: int) -> tuple:
        """State variables of one pathway (1-based)."""
        return tuple(x for x, a in zip(self.state, self.state_pathway) if a == pathway)
