"""Compile the sympy reduced equations into vectorised numpy functions.

:func:`compile_rhs` turns a :class:`pathdyn.theory.modes.ModeEquations` (duck-typed:
any object with ``state``, ``rhs``, ``parameters``, ``strengths`` and ``invariants``)
into a :class:`CompiledRHS`, a callable with the ``solve_ivp`` signature
``f(t, y, *params)`` that evaluates the right-hand sides on a whole ensemble at once.
The numerics layer consumes only this contract; it never calls the derivation code.

Equations may carry ``definitions``: named intermediate quantities in evaluation order
(the forward and backward strengths of the nodes of a graph). The generated code assigns
each once, in that order, before the right-hand sides use them, so one evaluation costs
what the definitions and right-hand sides cost as written (for a graph: linear in the
number of edges), and nothing is expanded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
import sympy as sp
from sympy.simplify.cse_main import tree_cse

from pathdyn.errors import ConfigError

__all__ = ["CompiledRHS", "SymbolicEquations", "compile_rhs", "CHAIN_BELOW", "SYMBOLIC_JACOBIAN_MAX_STATE"]


#: Batches smaller than this compute integer powers by repeated multiplication; larger
#: ones use numpy's ``power`` (measured: chains 1.3-2x faster below 4096 members, but
#: slower above, where their many live temporaries come from fresh, page-faulting memory).
CHAIN_BELOW = 4096
#: Equations with definitions and more state variables than this get no symbolic Jacobian
#: from the implicit scipy solvers (its entries grow as the square of the state; the solver
#: estimates it by differences instead); it is still compiled, on first use, when asked for.
SYMBOLIC_JACOBIAN_MAX_STATE = 64
#: ``(symbol, expression)`` pairs, each expression in the state, the parameters and the earlier symbols.
_Definitions = Sequence[tuple[sp.Symbol, sp.Expr]]


class SymbolicEquations(Protocol):
    """What :func:`compile_rhs` reads: sympy state, right-hand sides, parameters (``S`` first) and
    strengths (a :class:`~pathdyn.theory.modes.ModeEquations` is one; the numerics never import it).
    ``invariants``, ``depths``, ``kind``, ``layout``, ``parameter_layout``, ``definitions`` and
    ``loss`` are read when present."""

    @property
    def state(self) -> Sequence[Any]: ...

    @property
    def rhs(self) -> Sequence[Any]: ...

    @property
    def parameters(self) -> Sequence[Any]: ...

    @property
    def strengths(self) -> Sequence[Any]: ...


def _needed_definitions(definitions: _Definitions, exprs: Iterable[sp.Expr]) -> list:
    """The definitions ``exprs`` use, directly or through other definitions, in evaluation order."""
    if not definitions:
        return []
    wanted = set()
    for expr in exprs:
        wanted |= expr.free_symbols
    kept = []
    for symbol, expr in reversed(definitions):
        if symbol in wanted:
            kept.append((symbol, expr))
            wanted |= expr.free_symbols
    return kept[::-1]


def _plain_lambdify(args: Sequence[Any], exprs: Sequence[sp.Expr], cse: bool, definitions: _Definitions) -> Callable[..., Any]:
    """``sympy.lambdify`` with the definitions assigned first, in order, then the repeated sub-expressions.

    With definitions, only sub-expressions that repeat as they are written are shared
    (sympy's ``tree_cse``, linear in the size of the expressions: for a graph, the mode's
    error); sympy's full ``cse`` also matches common arguments of sums and products, whose
    cost grows as the square of the number of edges.
    """
    if not definitions:
        return sp.lambdify(args, exprs, modules="numpy", cse=cse)

    def assignments(expressions: list) -> tuple[list, list]:
        replacements, reduced = ([], expressions)
        if cse:
            replacements, reduced = tree_cse(expressions, sp.numbered_symbols("_shared"), opt_subs={}, order="none")
        return list(definitions) + list(replacements), reduced

    return sp.lambdify(args, exprs, modules="numpy", cse=assignments)


def _forward_derivatives(state: Sequence[sp.Symbol], definitions: _Definitions) -> tuple:
    """``d definition / d state_j`` for every definition, by the chain rule through the definitions.

    Returns ``(derivatives, new definitions)``: definition symbol -> {j: symbol of its
    derivative} (nonzero entries only) and the definitions of those symbols, in order.
    Each derivative is the definition's own partial derivative plus the partials with
    respect to the definitions it uses times their derivatives: nothing is expanded.
    """
    position = {x: j for j, x in enumerate(state)}
    derivatives: dict[Any, Any] = {}
    new = []
    for symbol, expr in definitions:
        entries: dict[Any, Any] = {}
        for atom in expr.free_symbols:
            partial = None
            if atom in position:
                entries.setdefault(position[atom], []).append(sp.diff(expr, atom))
            elif atom in derivatives:
                partial = sp.diff(expr, atom)
                for j, d in derivatives[atom].items():
                    entries.setdefault(j, []).append(partial * d)
        derivatives[symbol] = {}
        for j, terms in sorted(entries.items()):
            value = sp.Add(*terms)
            if value != 0:
                name = sp.Dummy(f"d{symbol}_d{state[j]}")
                new.append((name, value))
                derivatives[symbol][j] = name
    return derivatives, new


def _jacobian_through(state: Sequence[sp.Symbol], exprs: Iterable[sp.Expr], definitions: _Definitions) -> tuple:
    """``(entries, definitions)``: the Jacobian of ``exprs`` (row-major) through the definitions."""
    if not definitions:
        return list(sp.Matrix(exprs).jacobian(list(state))), []
    derivatives, new = _forward_derivatives(state, definitions)
    position = {x: j for j, x in enumerate(state)}
    entries = []
    for expr in exprs:
        row: list[list[Any]] = [[] for _ in state]
        for atom in expr.free_symbols:
            if atom in position:
                row[position[atom]].append(sp.diff(expr, atom))
            elif atom in derivatives:
                partial = sp.diff(expr, atom)
                for j, d in derivatives[atom].items():
                    row[j].append(partial * d)
        entries += [sp.Add(*terms) for terms in row]
    return entries, list(definitions) + new


def _lambdify(args: Sequence[Any], exprs: Iterable[sp.Expr], cse: bool, definitions: _Definitions = ()) -> Callable[..., Any]:
    """``sympy.lambdify`` to numpy with optional common-subexpression elimination.

    ``definitions`` (symbol, expression) are assigned in order before the expressions that
    use them. On batches below ``CHAIN_BELOW`` members, integer powers ``x**k``
    (``k >= 3``) of symbols are computed once each by repeated multiplication shared
    between exponents (``q**23`` reuses ``q**11``...) instead of numpy's ``power``; larger
    batches use the plain lambdified function.
    """
    exprs = [sp.sympify(e) for e in exprs]
    definitions = _needed_definitions(definitions, exprs)
    symbols: list[Any] = []
    for arg in args:
        symbols.extend(arg if isinstance(arg, (list, tuple)) else [arg])
    position = {sym: i for i, sym in enumerate(symbols)}
    powers = {}
    for expr in exprs + [d for _, d in definitions]:
        for atom in expr.atoms(sp.Pow):
            base, exp = atom.as_base_exp()
            # Squares stay with numpy (``x**2`` is already one multiply there); a chain
            # only for them would cost its Python wrapper call for nothing.
            if base in position and exp.is_Integer and int(exp) >= 3:
                powers[atom] = (base, int(exp))
    if not powers:
        return _plain_lambdify(args, exprs, cse, definitions)
    names = {atom: sp.Dummy(f"{base}_pow{k}") for atom, (base, k) in powers.items()}
    inner = _plain_lambdify([*args, list(names.values())], [e.xreplace(names) for e in exprs], cse,
                            [(symbol, d.xreplace(names)) for symbol, d in definitions])
    # Plan: slot list starts with the needed bases; each step appends a product of two slots.
    bases = sorted({base for base, _ in powers.values()}, key=lambda b: position[b])
    memo: dict[Any, Any] = {}
    plan = []

    def slot(base: sp.Symbol, k: int) -> tuple[str, int]:
        key = (base, k)
        if key in memo:
            return memo[key]
        if k == 1:
            memo[key] = ("base", bases.index(base))
            return memo[key]
        slot(base, 1)
        # One multiply when two known powers add up to k (q**12 = q**11 * q once q**11 exists).
        known = sorted((a for b, a in memo if b == base), reverse=True)
        for a in known:
            if (base, k - a) in memo:
                plan.append((memo[(base, a)], memo[(base, k - a)]))
                memo[key] = ("power", len(plan) - 1)
                return memo[key]
        if k % 2 == 0:
            half = slot(base, k // 2)
            plan.append((half, half))
        else:
            plan.append((slot(base, k - 1), slot(base, 1)))
        memo[key] = ("power", len(plan) - 1)
        return memo[key]

    for base, k in sorted(set(powers.values()), key=lambda bk: (position[bk[0]], bk[1])):
        slot(base, k)  # ascending exponents, so higher powers reuse lower ones
    wanted = [slot(base, k) for base, k in powers.values()]
    locate = []  # (argument, index in it or None) of each base
    for base in bases:
        for i, arg in enumerate(args):
            if isinstance(arg, (list, tuple)):
                if base in arg:
                    locate.append((i, list(arg).index(base)))
                    break
            elif base == arg:
                locate.append((i, None))  # type: ignore[arg-type]  # a plain symbol, not in a vector
                break

    plain = _plain_lambdify(args, exprs, cse, definitions)
    first = locate[0]

    def fast(*values: Any) -> Any:
        probe = values[first[0]] if first[1] is None else values[first[0]][first[1]]
        if np.size(probe) >= CHAIN_BELOW:
            return plain(*values)
        base_values = [values[i] if j is None else values[i][j] for i, j in locate]
        done: list = []
        for a, b in plan:
            left = base_values[a[1]] if a[0] == "base" else done[a[1]]
            right = base_values[b[1]] if b[0] == "base" else done[b[1]]
            done.append(left * right)
        return inner(*values, [base_values[w[1]] if w[0] == "base" else done[w[1]] for w in wanted])

    return fast


def _fill(values: Sequence[Any], shape: tuple[int, ...], dtype: DTypeLike = float) -> np.ndarray:
    """Stack a list of (possibly scalar) results into one array of leading length len(values)."""
    out = np.empty((len(values), *shape), dtype=dtype)
    for i, value in enumerate(values):
        out[i] = value
    return out


class CompiledRHS:
    """Vectorised numeric right-hand side of reduced per-mode equations.

    Call as ``f(t, y, *params)`` with ``y`` of shape ``(n_state, *batch)`` and each
    parameter broadcastable to ``batch``; returns ``dy/dt`` of shape ``y.shape``.
    Parameters come in ``parameter_names`` order (``S`` first).

    The checked calls (``f(...)``, :meth:`jacobian`, :meth:`strengths`,
    :meth:`mode_loss`, :meth:`invariants`, :meth:`strength_rates`) validate shapes and
    return stacked arrays. Solvers that lay out the state themselves use the *batch
    calls* :meth:`batch_rhs`, :meth:`batch_jacobian`, :meth:`batch_strengths`,
    :meth:`batch_mode_loss` and :meth:`batch_invariants`: the same compiled functions,
    no checks and no stacking, each returning one entry per output (a scalar or an array
    broadcastable to the batch), so that the solver writes them into its own buffers.

    Attributes
    ----------
    state_names : tuple of str
    parameter_names : tuple of str
    layout : tuple of StateVariable
        What each state variable is (role, pathway, layer, ...), in state order.
    parameter_layout : tuple of Parameter
        What each parameter is (role ``"S"``, ``"lambda"``, ``"c"``, ...), in order.
    invariant_names : tuple of str
    num_pathways : int
    num_state : int
    depths : tuple of int
    kind : str
    equations : object
        The equations it was compiled from.
    """

    def __init__(self, equations: SymbolicEquations, cse: bool = True) -> None:
        state = tuple(equations.state)
        params = tuple(equations.parameters)
        if not state:
            raise ConfigError("equations: no state variables to integrate")
        self.equations = equations
        self.kind = str(getattr(equations, "kind", "custom"))
        self.depths = tuple(getattr(equations, "depths", ()))
        self.state_names = tuple(str(s) for s in state)
        self.parameter_names = tuple(str(s) for s in params)
        self.num_state = len(state)
        self.num_pathways = len(equations.strengths)
        self.layout = tuple(getattr(equations, "layout", ()))
        self.parameter_layout = tuple(getattr(equations, "parameter_layout", ()))
        invariants = tuple(getattr(equations, "invariants", ()))
        self.invariant_names = tuple(getattr(inv, "name", "") or f"I_{i + 1}" for i, inv in enumerate(invariants))
        self.invariant_exprs = tuple(sp.sympify(getattr(inv, "expr", inv)) for inv in invariants)
        rhs = [sp.sympify(f) for f in equations.rhs]
        strengths = [sp.sympify(k) for k in equations.strengths]
        self.definitions = tuple((symbol, sp.sympify(expr)) for symbol, expr in getattr(equations, "definitions", ()))
        definitions = self.definitions
        args = [sp.Symbol("t"), list(state), *params]
        self._args, self._cse, self._rhs_exprs = args, cse, rhs
        self._rhs = _lambdify(args, rhs, cse, definitions)
        # Without definitions the Jacobian is compiled now (as it always was); with them it
        # grows as the square of the state and is compiled on first use.
        self._jac = None if definitions else _lambdify(args, list(sp.Matrix(rhs).jacobian(list(state))), cse)
        self._strengths = _lambdify([list(state), *params], strengths, cse, definitions)
        self._invariants = (_lambdify([list(state), *params], list(self.invariant_exprs), cse, definitions)
                            if invariants else None)
        # The mode's loss as the equations define it ((S - lambda K)^2 / (2 lambda) for general
        # inputs); equations without one get (S - sum_a K_a)^2 / 2 from the integrator.
        loss = getattr(equations, "loss", None)
        self._loss = (_lambdify([list(state), *params], [sp.sympify(loss)], cse, definitions)
                      if loss is not None else None)
        self._rates: Any = None  # dK_a/dt, compiled on first use (only phase planes need it)
        self.__doc__ = self._make_doc(state, params, rhs)

    def _make_doc(self, state: Sequence[sp.Symbol], params: Sequence[sp.Symbol], rhs: Sequence[sp.Expr]) -> str:
        lines = [
            f"Compiled right-hand side of {getattr(self.equations, 'description', '') or self.kind} equations.",
            "",
            "Call ``f(t, y, *params)``: ``y`` has shape (n_state, *batch) with the state in this order:",
        ]
        lines += [f"    y[{i}] = {name}" for i, name in enumerate(self.state_names)]
        lines.append("params, each broadcastable to batch, in this order: " + ", ".join(self.parameter_names))
        lines.append("Equations (tau = 1):")
        lines += [f"    d{x}/dt = {f}" for x, f in zip(state, rhs)]
        if self.definitions:
            lines.append("where, evaluated in this order:")
            lines += [f"    {symbol} = {expr}" for symbol, expr in self.definitions]
        return "\n".join(lines)

    @property
    def symbolic_jacobian_is_cheap(self) -> bool:
        """Whether implicit solvers should be handed the symbolic Jacobian (see :data:`SYMBOLIC_JACOBIAN_MAX_STATE`)."""
        return not self.definitions or self.num_state <= SYMBOLIC_JACOBIAN_MAX_STATE

    def _jacobian_function(self) -> Callable[..., Any]:
        if self._jac is None:
            entries, definitions = _jacobian_through(self._args[1], self._rhs_exprs, self.definitions)
            self._jac = _lambdify(self._args, entries, self._cse, definitions)
        return self._jac

    def _check(self, y: np.ndarray, params: Sequence[float | np.ndarray]) -> None:
        if y.shape[:1] != (self.num_state,):
            raise ConfigError(
                f"y: expected shape (n_state={self.num_state}, *batch) with state {self.state_names}, got {y.shape}"
            )
        if len(params) != len(self.parameter_names):
            raise ConfigError(
                f"params: expected {len(self.parameter_names)} ({', '.join(self.parameter_names)}), got {len(params)}"
            )

    def __call__(self, t: float, y: ArrayLike, *params: float | np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        self._check(y, params)
        return _fill(self._rhs(t, y, *params), y.shape[1:])

    def jacobian(self, t: float, y: np.ndarray, *params: float | np.ndarray) -> np.ndarray:
        """``d rhs_i / d y_j`` of shape ``(n_state, n_state, *batch)``.

        Parameters
        ----------
        t : float
            Time (unused: the equations are autonomous).
        y : ndarray, shape ``(n_state, *batch)``
            States.
        *params : float or ndarray
            The parameters in the order of ``parameter_names`` (``S`` first), each
            broadcastable to ``batch``.

        Returns
        -------
        ndarray, shape ``(n_state, n_state, *batch)``
            The Jacobian of every member.
        """
        y = np.asarray(y, dtype=float)
        self._check(y, params)
        n = self.num_state
        return _fill(self._jacobian_function()(t, y, *params), y.shape[1:]).reshape(n, n, *y.shape[1:])

    def strengths(self, y: np.ndarray, *params: float | np.ndarray) -> np.ndarray:
        """Mode strengths ``K_a`` of every pathway, shape ``(M, *batch)``.

        Parameters
        ----------
        y : ndarray, shape ``(n_state, *batch)``
            States.
        *params : float or ndarray
            The parameters (``S`` first), each broadcastable to ``batch``.

        Returns
        -------
        ndarray, shape ``(M, *batch)``
            ``K_a`` of every pathway.
        """
        y = np.asarray(y, dtype=float)
        self._check(y, params)
        return _fill(self._strengths(y, *params), y.shape[1:])

    def mode_loss(self, y: np.ndarray, *params: float | np.ndarray) -> np.ndarray:
        """Each mode's loss, shape ``batch``: ``(S - sum_a K_a)^2 / 2``, or the equations' own
        ``loss`` (``(S - lambda sum_a K_a)^2 / (2 lambda)`` for general inputs).

        Parameters
        ----------
        y : ndarray, shape ``(n_state, *batch)``
            States.
        *params : float or ndarray
            The parameters (``S`` first), each broadcastable to ``batch``.

        Returns
        -------
        ndarray, shape ``batch``
            The loss of each member's mode.
        """
        y = np.asarray(y, dtype=float)
        self._check(y, params)
        return self._mode_loss(y, params)

    def _mode_loss(self, y: np.ndarray, params: Sequence[float | np.ndarray]) -> np.ndarray:
        if self._loss is not None:
            return np.broadcast_to(np.asarray(self._loss(y, *params)[0], dtype=float), y.shape[1:])
        K = np.broadcast_to(np.asarray(self._strengths(y, *params), dtype=float), (self.num_pathways, *y.shape[1:]))
        error = np.asarray(params[0], dtype=float) - K.sum(axis=0)
        return 0.5 * error**2

    def strength_rates(self, y: np.ndarray, *params: float | np.ndarray) -> np.ndarray:
        """``dK_a/dt`` along the flow for every pathway, shape ``(M, *batch)``.

        Parameters
        ----------
        y : ndarray, shape ``(n_state, *batch)``
            States.
        *params : float or ndarray
            The parameters (``S`` first), each broadcastable to ``batch``.

        Returns
        -------
        ndarray, shape ``(M, *batch)``
            ``dK_a/dt`` of every pathway.

        Notes
        -----
        Compiled from the equations by the chain rule,
        ``dK_a/dt = sum_x (dK_a/dx) (dx/dt)`` over the state ``x``, on first use.
        """
        y = np.asarray(y, dtype=float)
        self._check(y, params)
        if self._rates is None:
            equations = self.equations
            state = list(equations.state)
            rhs = [sp.sympify(f) for f in equations.rhs]
            strengths = [sp.sympify(k) for k in equations.strengths]
            gradients, definitions = _jacobian_through(state, strengths, self.definitions)
            n = len(state)
            rates = [sp.Add(*[gradients[a * n + j] * f for j, f in enumerate(rhs)]) for a in range(len(strengths))]
            self._rates = _lambdify([state, *equations.parameters], rates, True, definitions)
        return _fill(self._rates(y, *params), y.shape[1:])

    def batch_rhs(self, t: float, y: np.ndarray, *params: np.ndarray | float) -> list:
        """Unchecked right-hand side: ``n_state`` entries, each a scalar or broadcastable to the batch.

        Parameters
        ----------
        t : float
        y : ndarray, shape ``(n_state, *batch)``
        *params : ndarray or float
            In ``parameter_names`` order, each broadcastable to ``batch``.

        Returns
        -------
        list
            ``dy_i/dt`` for each state variable ``i``; the caller stacks or stores them.
        """
        return self._rhs(t, y, *params)

    def batch_jacobian(self, t: float, y: np.ndarray, *params: float | np.ndarray) -> list:
        """Unchecked Jacobian: ``n_state**2`` entries ``d rhs_i / d y_j``, row-major (as :meth:`batch_rhs`).

        Parameters
        ----------
        t : float
            Time (unused).
        y : ndarray, shape ``(n_state, *batch)``
            States (not checked).
        *params : float or ndarray
            The parameters (``S`` first).

        Returns
        -------
        list
            ``n_state**2`` arrays or scalars, row-major.
        """
        return self._jacobian_function()(t, y, *params)

    def batch_strengths(self, y: np.ndarray, *params: float | np.ndarray) -> list:
        """Unchecked mode strengths: ``M`` entries ``K_a`` (as :meth:`batch_rhs`).

        Parameters
        ----------
        y : ndarray, shape ``(n_state, *batch)``
            States (not checked).
        *params : float or ndarray
            The parameters (``S`` first).

        Returns
        -------
        list
            ``M`` arrays or scalars.
        """
        return self._strengths(y, *params)

    def batch_mode_loss(self, y: np.ndarray, *params: float | np.ndarray) -> np.ndarray:
        """Unchecked loss of each mode, shape ``y.shape[1:]`` (as :meth:`mode_loss`).

        Parameters
        ----------
        y : ndarray, shape ``(n_state, *batch)``
            States (not checked).
        *params : float or ndarray
            The parameters (``S`` first).

        Returns
        -------
        ndarray, shape ``y.shape[1:]``
            The loss of each mode.
        """
        return self._mode_loss(y, params)

    def batch_invariants(self, y: np.ndarray, *params: float | np.ndarray) -> list:
        """Unchecked conserved quantities: one entry per invariant (an empty list when there are none).

        Parameters
        ----------
        y : ndarray, shape ``(n_state, *batch)``
            States (not checked).
        *params : float or ndarray
            The parameters (``S`` first).

        Returns
        -------
        list
            One array or scalar per invariant.
        """
        if self._invariants is None:
            return []
        return self._invariants(y, *params)

    def invariants(self, y: np.ndarray, *params: float | np.ndarray) -> np.ndarray:
        """Conserved quantities, shape ``(n_inv, *batch)`` (``n_inv`` may be 0).

        Parameters
        ----------
        y : ndarray, shape ``(n_state, *batch)``
            States.
        *params : float or ndarray
            The parameters (``S`` first), each broadcastable to ``batch``.

        Returns
        -------
        ndarray, shape ``(n_inv, *batch)``
            The conserved quantities of every member.
        """
        y = np.asarray(y, dtype=float)
        self._check(y, params)
        if self._invariants is None:
            return np.empty((0, *y.shape[1:]))
        return _fill(self._invariants(y, *params), y.shape[1:])

    def __repr__(self) -> str:
        return f"CompiledRHS(kind={self.kind!r}, state={self.state_names}, parameters={self.parameter_names})"


def compile_rhs(equations: SymbolicEquations | CompiledRHS, cse: bool = True) -> CompiledRHS:
    """Lambdify reduced equations into a vectorised ``solve_ivp``-style function.

    Parameters
    ----------
    equations : ModeEquations
        Any object with ``state``, ``rhs``, ``parameters`` (``S`` first),
        ``strengths`` and optionally ``invariants``, ``depths``, ``kind``.
    cse : bool
        Common-subexpression elimination in the generated code (default True;
        2-3x faster on deep pathways).

    Returns
    -------
    CompiledRHS
        ``f(t, y, *params)`` with ``y`` of shape ``(n_state, *batch)``; also
        ``f.jacobian``, ``f.strengths``, ``f.invariants``.

    Raises
    ------
    ConfigError
        When ``equations`` lacks ``state``, ``rhs``, ``parameters`` or ``strengths``.

    Examples
    --------
    >>> from pathdyn.theory import reduce_to_modes
    >>> f = compile_rhs(reduce_to_modes([2, 3]))
    >>> f.state_names
    ('q_1', 'p_1', 'q_2', 'p_2')
    >>> f(0.0, np.ones((4, 5)), 3.0).shape
    (4, 5)
    """
    if isinstance(equations, CompiledRHS):
        return equations
    missing = [name for name in ("state", "rhs", "parameters", "strengths") if not hasattr(equations, name)]
    if missing:
        raise ConfigError(f"equations: object lacks {', '.join(missing)}; pass a ModeEquations")
    return CompiledRHS(equations, cse=cse)
