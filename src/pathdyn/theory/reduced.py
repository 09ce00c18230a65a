"""Reduced per-mode equations, derived with sympy.

Per mode ``alpha`` with singular value ``S``, each layer ``d`` of pathway ``a`` carries
a strength ``s_{a,d}`` and the pathway's mode strength is ``K_a = prod_d s_{a,d}``.
The reduced loss is ``L = (S - sum_a K_a)^2 / 2`` and the per-layer equations are its
gradient flow ``ds/dt = -dL/ds``, derived by the graph engine on the pathways' graph
(pathways are the special case of a graph; the per-edge model of
:mod:`pathdyn.theory.graph_reduced`, each edge named after its layer). For general inputs whose correlation shares its
eigenvectors with the right singular vectors of ``Sigma_yx`` (the aligned case), the
mode's input variance ``lambda = v^T Sigma_x v`` enters: ``L = lambda K^2 / 2 - S K``
with ``K = sum_a K_a``, so the common error becomes ``S - lambda K`` and learning ends at
``K = S / lambda``; an :class:`Architecture` with ``whitened=False`` selects this form. Restricting to the set where the first ``D_a - 1``
strengths of a pathway are equal (``q``) and the last is ``p`` gives the paper's q/p
equations; the restriction is checked to be invariant, not assumed. Conserved
quantities are found by solving for every diagonal quadratic form
``sum_i c_i x_i^2`` of a pathway's state whose time derivative vanishes identically.
"""

from __future__ import annotations

from collections.abc import Sequence
import sympy as sp

from pathdyn.errors import ConfigError, DerivationError
from pathdyn.theory.algebra import is_identically_zero, xreplace_all
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.architecture import pathway_graph
from pathdyn.theory.graph_reduced import derive_graph_mode_equations, edge_strength_symbol
from pathdyn.theory.models import ReducedModel, reduce_to_modes, register
from pathdyn.theory.modes import (
    Invariant,
    ModeEquations,
    Parameter,
    StateVariable,
    input_variance_symbol,
    mode_symbols,
)

__all__ = [
    "derive_layer_equations",
    "reduced_loss",
    "derive_qp_equations",
    "derive_race_equations",
    "derive_quadratic_invariants",
    "race_potential",
    "race_closed_form_d2",
    "reduce_to_modes",
    "qp_symbols",
]


def layer_symbol(pathway: int, layer: int) -> sp.Symbol:
    """Strength ``s_{a,d}`` of layer ``d`` in pathway ``a`` (both 1-based).

    Parameters
    ----------
    pathway, layer : int
        1-based indices.

    Returns
    -------
    sympy.Symbol
        ``s_{pathway}_{layer}`` (real).
    """
    return sp.Symbol(f"s_{pathway}_{layer}", real=True)


def qp_symbols(pathway: int) -> tuple:
    """The symbols ``(q_a, p_a)`` of pathway ``a`` (1-based).

    Parameters
    ----------
    pathway : int
        1-based index.

    Returns
    -------
    tuple of sympy.Symbol
        ``(q_a, p_a)`` (real).
    """
    return sp.Symbol(f"q_{pathway}", real=True), sp.Symbol(f"p_{pathway}", real=True)


def conserved_symbol(pathway: int) -> sp.Symbol:
    """The conserved constant ``c_a = q_a^2 - p_a^2`` as a parameter of the race form.

    Parameters
    ----------
    pathway : int
        1-based index.

    Returns
    -------
    sympy.Symbol
        ``c_a`` (positive).
    """
    return sp.Symbol(f"c_{pathway}", positive=True)


def reduced_loss(total: sp.Expr, whitened: bool = True) -> sp.Expr:
    """The reduced loss of one mode as a function of its total strength ``K = sum_a K_a``.

    Parameters
    ----------
    total : sympy.Expr
        ``K``.
    whitened : bool
        ``True``: ``(S - K)^2 / 2``. ``False`` (aligned general inputs): the mode's part
        of ``1/2 tr(Omega Sigma_x Omega^T) - tr(Sigma_yx Omega^T)``, ``lambda K^2 / 2 - S K``.

    Returns
    -------
    sympy.Expr
        The loss of the mode.

    Notes
    -----
    With ``Sigma_x = V Lambda V^T`` and ``Sigma_yx = U S V^T`` sharing ``V``, the loss in
    mode coordinates ``K = U^T Omega V`` is ``sum_{alpha beta} lambda_beta K_{alpha beta}^2 / 2
    - sum_alpha S_alpha K_{alpha alpha}``; the diagonal term of one mode is the expression
    returned. At ``lambda = 1`` it differs from ``(S - K)^2 / 2`` by the constant ``S^2 / 2``,
    so both give the same flow.
    """
    S = mode_symbols()
    if whitened:
        return (S - total) ** 2 / 2
    return input_variance_symbol() * total**2 / 2 - S * total


def reduced_loss_gradients(strengths: Sequence[sp.Expr], whitened: bool = True) -> list:
    """``-dL/dK_a`` of the reduced loss :func:`reduced_loss`, one per pathway.

    Differentiated by sympy with each ``K_a`` an independent symbol, then written in the
    given strength expressions; every reduced model's flow is ``-dL/dK_a`` times
    ``dK_a/dx`` for each of pathway ``a``'s variables ``x`` (the chain rule). The result
    is the common error ``S - sum_b K_b`` (whitened) or ``S - lambda sum_b K_b``.

    Parameters
    ----------
    strengths : sequence of sympy.Expr
        ``K_a`` of every pathway in the model's variables.
    whitened : bool
        Whitened inputs (``True``) or aligned general inputs.

    Returns
    -------
    list of sympy.Expr
        ``-dL/dK_a`` for every pathway (all equal to the common error).

    Raises
    ------
    DerivationError
        When a derived gradient is not the common error (a derivation bug).
    """
    k = [sp.Dummy(f"K_{a}") for a in range(1, len(strengths) + 1)]
    total = sp.Add(*k)
    loss = reduced_loss(total, whitened)
    # One factored form of the error, so that every right-hand side holds it as the same
    # sub-expression (ModeEquations.error); sympy's derivative is checked equal to it.
    error = mode_symbols() - (total if whitened else input_variance_symbol() * total)
    gradients = []
    for k_a in k:
        derived = -sp.diff(loss, k_a)
        if sp.expand(derived - error) != 0:
            raise DerivationError(f"-dL/dK of the reduced loss {loss} is {derived}, not the error {error}")
        gradients.append(error)
    to_strengths = dict(zip(k, strengths))
    return [g.xreplace(to_strengths) for g in gradients]


def mode_parameters(whitened: bool) -> tuple:
    """``(S,)`` for whitened inputs, ``(S, lambda)`` for aligned general inputs.

    Parameters
    ----------
    whitened : bool
        Whitened inputs or aligned general inputs.

    Returns
    -------
    tuple of sympy.Symbol
        The parameters every reduced model starts with.
    """
    return (mode_symbols(),) if whitened else (mode_symbols(), input_variance_symbol())


def derive_layer_equations(architecture: Architecture | Sequence[int] | str, invariants: bool = True) -> ModeEquations:
    """Per-layer reduced equations, the gradient flow of the reduced loss.

    Parameters
    ----------
    architecture : Architecture or sequence of int
        The depths ``D_a``.
    invariants : bool
        Derive the conserved quadratic forms too (default True).

    Returns
    -------
    ModeEquations
        ``kind="layer"``; state ``s_{a,d}`` ordered by pathway then layer.

    Notes
    -----
    ``K_a = prod_d s_{a,d}``, ``L = (S - sum_a K_a)^2 / 2`` and
    ``ds_{a,d}/dt = -dL/ds_{a,d} = (S - sum_b K_b) prod_{d' != d} s_{a,d'}``
    (obtained by sympy differentiation of ``L``, by the graph engine: the per-edge model
    of the pathways' graph, :func:`pathdyn.theory.graph_reduced.derive_graph_mode_equations`,
    each edge named after its layer). For an architecture with
    ``whitened=False`` the loss is ``lambda K^2 / 2 - S K`` (:func:`reduced_loss`), the
    error ``S - lambda sum_b K_b`` and the parameters ``(S, lambda)``.
    """
    arch = Architecture.coerce(architecture)
    depths = arch.depths
    state, owner, strengths, layout = [], [], [], []
    for a, depth in enumerate(depths, start=1):
        layer = [layer_symbol(a, d) for d in range(1, depth + 1)]
        state += layer
        owner += [a] * depth
        layout += [StateVariable(x, "s", a, layer=d, start="p" if d == len(layer) else "q") for d, x in enumerate(layer, start=1)]
        strengths.append(sp.Mul(*layer))
    rhs = _layer_flow_on_the_graph(arch, state, owner)
    eqs = ModeEquations(
        kind="layer",
        depths=depths,
        state=state,
        rhs=rhs,
        parameters=mode_parameters(arch.whitened),
        strengths=strengths,
        state_pathway=owner,
        description=f"per-layer mode strengths, depths {depths}{inputs_note(arch.whitened)}",
        layout=layout,
    )
    return _with_invariants(eqs) if invariants else eqs


def _layer_flow_on_the_graph(arch: Architecture, state: Sequence[sp.Symbol], owner: Sequence[int]) -> list:
    """``ds_{a,d}/dt`` from the graph engine: the per-edge model of the pathways' graph, each edge its layer.

    :func:`pathdyn.theory.graph_reduced.derive_graph_mode_equations` derives the flow of
    every edge strength of :func:`pathdyn.theory.architecture.pathway_graph` in node form (sympy
    differentiates the reduced loss and each node's one-step definition); the node
    strengths are written out once, in evaluation order, and every edge strength is
    renamed to its layer's ``s_{a,d}``. Depth-1 pathways share the edge ``x -> y``: its
    strength in the error is the sum of theirs, and each of them has its flow (the error).
    """
    graph, layers = pathway_graph(arch)
    edge_model = derive_graph_mode_equations(graph, invariants=False)
    per_pathway: dict[int, list] = {}
    for x, a in zip(state, owner):
        per_pathway.setdefault(a, []).append(x)
    rename: dict = {}
    for a, edges in enumerate(layers, start=1):
        for edge, x in zip(edges, per_pathway[a]):
            rename.setdefault(edge_strength_symbol(edge), []).append(x)
    written = {symbol: xs[0] if len(xs) == 1 else sp.Add(*xs) for symbol, xs in rename.items()}
    for symbol, definition in edge_model.definitions:  # f_v, K, b_u in evaluation order, each written out once
        written[symbol] = definition.xreplace(written)
    rhs_of = dict(zip(graph.edges, xreplace_all(edge_model.rhs, written)))
    return [rhs_of[edge] for edges in layers for edge in edges]


def inputs_note(whitened: bool) -> str:
    """The words a derivation's note adds for general (non-whitened) inputs.

    Parameters
    ----------
    whitened : bool

    Returns
    -------
    str
        Empty for whitened inputs.
    """
    return "" if whitened else ", aligned general inputs (input variance lambda)"


def derive_quadratic_invariants(equations: ModeEquations) -> tuple:
    """Every diagonal quadratic form of each pathway's state conserved for any error.

    For pathway ``a`` with state ``x_1..x_n`` this solves for coefficients ``c_i``
    such that ``d/dt sum_i c_i x_i^2 = 2 sum_i c_i x_i dx_i/dt`` vanishes identically,
    and returns a basis of the solutions as :class:`Invariant` objects, each
    verified to have zero time derivative.

    Parameters
    ----------
    equations : ModeEquations
        The reduced equations (their ``state_pathway`` groups the variables).

    Returns
    -------
    tuple of Invariant
        A basis of each pathway's conserved diagonal quadratic forms.

    Raises
    ------
    DerivationError
        When a form found fails its check of zero time derivative.

    Notes
    -----
    The common error ``e = S - sum_b K_b`` is replaced by an independent symbol
    before the polynomial identity is solved. The forms found are therefore conserved
    whatever the error signal ``e(t)`` is, which is what makes each pathway's
    dynamics a race driven by a shared ``e(t)``; it also keeps the polynomials in a
    pathway's own variables, so the solve is fast at any depth and number of pathways.
    """
    error_symbol = sp.Dummy("e")
    to_error = {equations.error: error_symbol}
    found: list = []
    rhs_of = dict(zip(equations.state, equations.rhs))
    for a in range(1, equations.num_pathways + 1):
        xs = equations.pathway_state(a)
        if len(xs) < 2:
            continue
        # each rhs with the common error replaced, as polynomials in the pathway's state and e
        local = [rhs_of[x].xreplace(to_error) for x in xs]
        ring, flow = sp.polys.rings.sring(local, *xs, error_symbol, domain=sp.QQ)
        terms = [dict(gen * f) for gen, f in zip(ring.gens, flow)]  # x_i dx_i/dt
        monomials = sorted(set().union(*terms))
        to_sympy = ring.domain.to_sympy
        matrix = sp.Matrix([[to_sympy(t[m]) if m in t else 0 for t in terms] for m in monomials])
        basis = matrix.nullspace() if monomials else [sp.eye(len(xs))[:, i] for i in range(len(xs))]
        for vector in basis:
            vector = vector / next(v for v in vector if v != 0)
            expr = sp.Add(*[v * x**2 for v, x in zip(vector, xs) if v != 0])
            # d/dt expr along the flow = sum_i (d expr / d x_i) dx_i/dt, with e(t) arbitrary
            form = ring.from_expr(expr)
            derivative = sum((form.diff(i) * flow[i] for i, v in enumerate(vector) if v != 0), ring.zero)
            if derivative != 0:
                raise DerivationError(f"quadratic invariant {expr} of pathway {a} failed its check")
            found.append(Invariant(pathway=a, expr=expr, name=f"I_{a}_{len(found) + 1}"))
    return tuple(found)


def _with_invariants(equations: ModeEquations) -> ModeEquations:
    from dataclasses import replace

    return replace(equations, invariants=derive_quadratic_invariants(equations))


def derive_qp_equations(architecture: Architecture | Sequence[int] | str) -> ModeEquations:
    """The paper's q/p equations, by restricting the per-layer flow.

    For each pathway with ``D_a >= 2`` the first ``D_a - 1`` layer strengths are set to
    ``q_a`` and the last to ``p_a``; the restriction is accepted only if the
    restricted right-hand sides of those ``D_a - 1`` layers coincide identically
    (the set is invariant under the flow). A pathway of depth 1 keeps one variable
    ``p_a`` (``K_a = p_a``).

    Parameters
    ----------
    architecture : Architecture, sequence of int or str
        The pathways' depths (see :meth:`Architecture.coerce`).

    Returns
    -------
    ModeEquations
        ``kind="qp"``; state ``(q_1, p_1, q_2, p_2, ...)`` (no ``q`` for depth 1),
        with the conserved ``q_a^2 - p_a^2``.

    Raises
    ------
    DerivationError
        If the restricted set were not invariant.
    """
    layer = derive_layer_equations(architecture, invariants=False)
    substitution = {}
    variables = []
    for a, depth in enumerate(layer.depths, start=1):
        q, p = qp_symbols(a)
        for d in range(1, depth):
            substitution[layer_symbol(a, d)] = q
        substitution[layer_symbol(a, depth)] = p
        variables.append((q, p, depth))
    restricted = dict(zip(layer.state, xreplace_all(layer.rhs, substitution)))
    state, rhs, owner, strengths, layout = [], [], [], [], []
    for a, (q, p, depth) in enumerate(variables, start=1):
        if depth >= 2:
            first = restricted[layer_symbol(a, 1)]
            for d in range(2, depth):
                other = restricted[layer_symbol(a, d)]
                if other != first and not is_identically_zero(other - first):
                    raise DerivationError(
                        f"pathway {a}: the set s_1 = ... = s_{depth - 1} is not invariant (layer {d} differs)"
                    )
            state += [q, p]
            rhs += [first, restricted[layer_symbol(a, depth)]]
            owner += [a, a]
            layout += [StateVariable(q, "q", a, start="q"), StateVariable(p, "p", a, start="p")]
            strengths.append(q ** (depth - 1) * p)
        else:
            state.append(p)
            rhs.append(restricted[layer_symbol(a, 1)])
            owner.append(a)
            layout.append(StateVariable(p, "p", a, start="p"))
            strengths.append(p)
    eqs = ModeEquations(
        kind="qp",
        depths=layer.depths,
        state=state,
        rhs=rhs,
        parameters=layer.parameters,
        strengths=strengths,
        state_pathway=owner,
        description=f"paper's q/p equations, depths {layer.depths}{inputs_note(layer.input_variance is None)}",
        layout=layout,
    )
    return _with_invariants(eqs)


def derive_race_equations(architecture: Architecture | Sequence[int] | str) -> ModeEquations:
    """One variable ``p_a`` per pathway, using the invariant ``q_a^2 - p_a^2 = c_a``.

    With ``q_a = sqrt(p_a^2 + c_a)`` (the branch ``q_a > 0``) the q/p equations give
    ``dp_a/dt = (p_a^2 + c_a)^((D_a - 1)/2) e`` with the common error
    ``e = S - sum_b K_b`` (``S - lambda sum_b K_b`` for general inputs). Parameters are
    ``(S, c_1, ..., c_M)`` (``(S, lambda, c_1, ...)`` for general inputs); a depth-1
    pathway has no ``c``. Every pathway still sees the same ``e``, so the race of
    :func:`race_potential` holds unchanged and only its end moves: ``sum_a K_a = S / lambda``.

    Parameters
    ----------
    architecture : Architecture, sequence of int or str
        The pathways' depths (see :meth:`Architecture.coerce`).

    Returns
    -------
    ModeEquations
        ``kind="race"``, state ``(p_1, ..., p_M)``.
    """
    qp = derive_qp_equations(architecture)
    substitution = {}
    constants = []
    for a, depth in enumerate(qp.depths, start=1):
        if depth >= 2:
            q, p = qp_symbols(a)
            c = conserved_symbol(a)
            substitution[q] = sp.sqrt(p**2 + c)
            constants.append(c)
    state, rhs, owner, layout = [], [], [], []
    for x, f, a, record in zip(qp.state, qp.rhs, qp.state_pathway, qp.layout):
        if x in substitution:
            continue
        state.append(x)
        rhs.append(sp.powsimp(f.xreplace(substitution)))
        owner.append(a)
        layout.append(record)
    constant_layout = [Parameter(c, "c", a) for a, c in zip(_deep_pathways(qp.depths), constants)]
    strengths = [k.xreplace(substitution) for k in qp.strengths]
    return ModeEquations(
        kind="race",
        depths=qp.depths,
        state=state,
        rhs=rhs,
        parameters=(*qp.parameters, *constants),
        strengths=strengths,
        state_pathway=owner,
        description=f"one-variable race form, depths {qp.depths}{inputs_note(qp.input_variance is None)}",
        layout=layout,
        parameter_layout=(*qp.parameter_layout, *constant_layout),
    )


def _deep_pathways(depths: Sequence[int]) -> list:
    """The pathways (1-based) of depth >= 2, the ones with a conserved ``c_a``."""
    return [a for a, depth in enumerate(depths, start=1) if depth >= 2]


def race_potential(depth: int) -> tuple:
    """``F(p) = int dp (p^2 + c)^(-(D-1)/2)`` with ``F(0) = 0``, integrated by sympy.

    Along the race form ``dF(p_a)/dt = e(t)`` for every pathway, so
    ``F_a(p_a(t)) - F_a(p_a(0))`` is the same function ``G(t)`` for all pathways.

    Parameters
    ----------
    depth : int
        The pathway's depth ``D >= 2``.

    Returns
    -------
    (F, p, c) : the expression and its symbols.

    Raises
    ------
    ConfigError
        When ``depth < 2``.
    """
    if depth < 2:
        raise ConfigError(f"depth: the race potential needs depth >= 2, got {depth}")
    p = sp.Symbol("p", real=True)
    c = sp.Symbol("c", positive=True)
    integrand = (p**2 + c) ** sp.Rational(-(depth - 1), 2)
    F = sp.integrate(integrand, (p, 0, p))
    if isinstance(F, sp.Integral) or F.has(sp.Integral):
        # Closed form for any depth: the Gauss hypergeometric function.
        F = p * c ** sp.Rational(-(depth - 1), 2) * sp.hyper(
            [sp.Rational(1, 2), sp.Rational(depth - 1, 2)], [sp.Rational(3, 2)], -(p**2) / c
        )
    return sp.simplify(F), p, c


def race_closed_form_d2() -> dict:
    """Closed forms of the race for a depth-2 pathway.

    ``F(p) = asinh(p / sqrt(c))`` so, with the common ``G(t)``,
    ``p(t) = sqrt(c) sinh(theta)``, ``q(t) = sqrt(c) cosh(theta)`` and
    ``K(t) = (c / 2) sinh(2 theta)`` where ``theta = asinh(p(0)/sqrt(c)) + G(t)``.

    Returns
    -------
    dict with keys ``"F"``, ``"p"``, ``"q"``, ``"K"`` (expressions) and the symbols
    ``"p_symbol"``, ``"c"``, ``"theta"``.

    Raises
    ------
    DerivationError
        When sympy does not find exactly one inverse of ``F``.
    """
    F, p, c = race_potential(2)
    theta = sp.Symbol("theta", real=True)
    p_of_theta = sp.solve(sp.Eq(F, theta), p)
    if len(p_of_theta) != 1:
        raise DerivationError(f"expected one inverse of F = {F}, got {p_of_theta}")
    p_theta = sp.simplify(p_of_theta[0])
    q_theta = sp.simplify(sp.sqrt(p_theta**2 + c))
    return {
        "F": F,
        "p": p_theta,
        "q": q_theta,
        "K": sp.simplify(sp.expand_trig(p_theta * q_theta)),
        "p_symbol": p,
        "c": c,
        "theta": theta,
    }


def _qp_default_mapping(depths: Sequence[int]) -> str:
    return "exact" if max(depths) <= 2 else "growth-matched"


def _qp_is_exact(depths: Sequence[int], init: str, mapping: str) -> bool:
    return mapping != "naive" and max(depths) <= 2


def _qp_limit(model: ReducedModel, method: str, init: str, depths: Sequence[int]) -> str:
    """The q/p model's limit sentence: exact at depth 2, a two-number summary beyond, the naive counter-example."""
    if method == "naive":
        return (
            "counter-example: q/p from the naive initial state q0 = sigma, p0 = K0 / sigma^(D-1); "
            "not expected to converge (the initial condition is part of the theory)"
        )
    if max(depths) < 3:
        return (
            "infinite-width limit of depth-2 pathways: the q/p flow is exact there from the exact "
            "initial mapping q0^2 + p0^2 = |a|^2 + |b|^2, q0 p0 = a.b; the error should fall with width down to the O(eta) floor"
        )
    return (
        f"q/p with growth-matched q0 at depth {max(depths)} ({init} init): a two-number summary of a "
        "higher-dimensional state, NOT the infinite-width limit for depth >= 3; an error floor is expected"
    )


register(ReducedModel(
    name="layer",
    derive=derive_layer_equations,
    description="one strength s_{a,d} per layer",
    equations_name="reduced per-layer equations",
    latex={"s": "s_{{{pathway},{layer}}}"},
    drawn_from_qp=True,
))
register(ReducedModel(
    name="qp",
    derive=derive_qp_equations,
    description="the paper's q/p model: s_1 = .. = s_{D-1} = q, s_D = p",
    equations_name="reduced q/p equations",
    mappings=("exact", "growth-matched", "naive"),
    default_mapping=_qp_default_mapping,
    is_exact=_qp_is_exact,
    exact_when="every pathway of depth <= 2, from the exact (or growth-matched) mapping",
    latex={"q": "q_{{{pathway}}}", "p": "p_{{{pathway}}}"},
    limit=_qp_limit,
    drawn_from_qp=True,
))
register(ReducedModel(
    name="race",
    derive=derive_race_equations,
    description="one variable p_a per pathway after using q_a^2 - p_a^2 = c_a",
    equations_name="reduced race equations",
    latex={"p": "p_{{{pathway}}}"},
))
