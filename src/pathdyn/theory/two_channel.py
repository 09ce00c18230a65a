"""The two-channel reduction: each mode of each pathway as a width-2 deep linear chain.

docs/theory.md, *The two-channel model*: with orthogonal hidden layers (``W^T W = sigma^2 I``), the forward
vector ``f_d = W^{<=d} v`` and the backward vector ``g_d = (W^{>d})^T u`` of a mode span a
plane at each hidden layer ``d`` that the infinite-width flow never leaves. In
orthonormal bases of these planes, pathway ``a`` of depth ``D`` becomes a chain of width
2: a first layer ``A`` (2 x 1), hidden layers ``M_2 .. M_{D-1}`` (2 x 2) and a last layer
``B`` (1 x 2), with ``K_a = B M_{D-1} ... M_2 A``. Pathways are coupled only through the
mode's common error ``e = S - sum_a K_a``. The equations below are the gradient flow of
the reduced loss ``(S - sum_a K_a)^2 / 2``, obtained by sympy differentiation through the
graph engine: the pathways' graph carries each layer's block on its edge and
:func:`pathdyn.theory.graph_reduced.total_strength_gradients` derives ``dK/dW_e`` in node
form, as for every other model (pathways are the special case of a graph).

Special depths: ``D = 2`` has no hidden matrix (``K = B A``, four variables); ``D = 1`` is
a single 1 x 1 weight ``w`` (``K = w``).

Conserved quantities (derived and verified here): for consecutive layers the matrices
``C_d = W_{d+1}^T W_{d+1} - W_d W_d^T`` (2 x 2, symmetric), three entries each, so a
pathway of depth ``D >= 2`` has ``3 (D - 1)`` quadratic invariants. They are conserved
for any error signal ``e(t)``.

Relation to the q/p model (:func:`relate_to_qp`): the aligned (rank-one) set
``A = (s_1, 0)^T``, ``M_d = diag(s_d, 0)``, ``B = (s_D, 0)`` is invariant and carries
exactly the per-layer equations of :func:`pathdyn.theory.reduced.derive_layer_equations`;
setting ``s_1 = .. = s_{D-1} = q``, ``s_D = p`` gives the q/p equations. The extra
dimensions are the second channel: ``A_2``, ``B_2`` and the three other entries of each
``M_d``. For ``D = 2`` the two-channel flow closes exactly on ``(K, R)`` with
``K = B A``, ``R = |A|^2 + |B|^2`` and is identical to the q/p flow under
``q^2 + p^2 = R``, ``q p = K``; for ``D >= 3`` it does not close on q/p variables.
"""

from __future__ import annotations

from collections.abc import Sequence
import random
from dataclasses import dataclass, field, replace

import sympy as sp

from pathdyn.errors import ConfigError, DerivationError
from pathdyn.theory.architecture import Architecture, pathway_graph
from pathdyn.theory.graph_reduced import total_strength_gradients
from pathdyn.theory.models import ReducedModel, register
from pathdyn.theory.modes import Invariant, ModeEquations, StateVariable
from pathdyn.theory.reduced import (
    inputs_note,
    derive_layer_equations,
    derive_qp_equations,
    is_identically_zero,
    layer_symbol,
    mode_parameters,
    qp_symbols,
    reduced_loss_gradients,
)

__all__ = [
    "TwoChannelLayers",
    "TwoChannelRelation",
    "derive_two_channel_equations",
    "relate_to_qp",
    "two_channel_layers",
    "invariant_matrices",
]

# Above this depth the invariants are checked by exact evaluation at random rational
# points (a polynomial identity test) instead of full expansion, whose size grows like 2^D.
_EXPAND_CHECK_MAX_DEPTH = 7
_IDENTITY_TEST_POINTS = 3


@dataclass(frozen=True)
class TwoChannelLayers:
    """The symbolic layers of one pathway's width-2 chain.

    Attributes
    ----------
    pathway : int
        1-based pathway index.
    depth : int
        ``D`` of the pathway.
    layers : tuple of sympy.Matrix
        ``W_1 .. W_D``: ``A`` (2 x 1), ``M_2 .. M_{D-1}`` (2 x 2), ``B`` (1 x 2); for
        ``D = 1`` the single 1 x 1 matrix ``(w)``.
    state : tuple of sympy.Symbol
        All entries in state order: ``A`` top to bottom, each ``M_d`` row-major, ``B``.
    """

    pathway: int
    depth: int
    layers: tuple
    state: tuple

    @property
    def layout(self) -> tuple:
        """One :class:`StateVariable` per entry of ``state``: ``A`` (layer 1, entry ``(i,)``),
        ``M`` (layer ``d``, entry ``(i, j)``), ``B`` (layer ``D``, entry ``(j,)``), or ``w``."""
        if self.depth == 1:
            return (StateVariable(self.state[0], "w", self.pathway, layer=1),)
        records = []
        for d, matrix in enumerate(self.layers, start=1):
            role = "A" if d == 1 else "B" if d == self.depth else "M"
            for index, x in enumerate(matrix):
                i, j = divmod(index, matrix.cols)
                entry = (i + 1,) if role == "A" else (j + 1,) if role == "B" else (i + 1, j + 1)
                records.append(StateVariable(x, role, self.pathway, layer=d, entry=entry))
        return tuple(records)

    @property
    def strength(self) -> sp.Expr:
        """``K_a = B M_{D-1} ... M_2 A`` (unexpanded products)."""
        product = self.layers[0]
        for layer in self.layers[1:]:
            product = layer * product
        return product[0, 0]


def two_channel_layers(pathway: int, depth: int) -> TwoChannelLayers:
    """Symbols of pathway ``pathway``'s chain of depth ``depth``.

    Names: ``A_{a}_{i}`` (first layer), ``M_{a}_{d}_{i}{j}`` (hidden layer ``d``, row
    ``i``, column ``j``, 1-based), ``B_{a}_{j}`` (last layer), ``w_{a}`` for depth 1.

    Parameters
    ----------
    pathway : int
        1-based index.
    depth : int
        The pathway's depth (>= 1).

    Returns
    -------
    TwoChannelLayers
        The layer matrices and the state in order.

    Raises
    ------
    ConfigError
        When ``depth < 1``.
    """
    if depth < 1:
        raise ConfigError(f"depth: a pathway needs depth >= 1, got {depth}")
    a = pathway
    if depth == 1:
        w = sp.Symbol(f"w_{a}", real=True)
        return TwoChannelLayers(a, 1, (sp.Matrix([[w]]),), (w,))
    first = sp.Matrix([[sp.Symbol(f"A_{a}_{i}", real=True)] for i in (1, 2)])
    hidden = [
        sp.Matrix(2, 2, lambda i, j, d=d: sp.Symbol(f"M_{a}_{d}_{i + 1}{j + 1}", real=True))
        for d in range(2, depth)
    ]
    last = sp.Matrix([[sp.Symbol(f"B_{a}_{j}", real=True) for j in (1, 2)]])
    layers = (first, *hidden, last)
    state = tuple(x for layer in layers for x in layer)  # Matrix iterates row-major
    return TwoChannelLayers(a, depth, layers, state)


def invariant_matrices(chain: TwoChannelLayers) -> tuple:
    """``C_d = W_{d+1}^T W_{d+1} - W_d W_d^T`` for ``d = 1 .. D-1`` (each 2 x 2).

    Parameters
    ----------
    chain : TwoChannelLayers
        The chain.

    Returns
    -------
    tuple of sympy.Matrix
        ``C_1, ..., C_{D-1}``.
    """
    layers = chain.layers
    return tuple(layers[d + 1].T * layers[d + 1] - layers[d] * layers[d].T for d in range(len(layers) - 1))


def _random_rational_point(symbols: Sequence[sp.Symbol], rng: random.Random) -> dict:
    return {x: sp.Rational(rng.randint(-97, 97), rng.randint(1, 23)) for x in symbols}


def _vanishes(expr: sp.Expr, depth: int, symbols: Sequence[sp.Symbol], rng: random.Random) -> bool:
    """Whether a polynomial vanishes identically: full expansion for small depth,
    exact evaluation at random rational points (Schwartz-Zippel) beyond."""
    if depth <= _EXPAND_CHECK_MAX_DEPTH:
        return is_identically_zero(sp.expand(expr))
    for _ in range(_IDENTITY_TEST_POINTS):
        if sp.nsimplify(expr.xreplace(_random_rational_point(symbols, rng))) != 0:
            return False
    return True


def derive_two_channel_equations(architecture: Architecture | Sequence[int], invariants: bool = True) -> ModeEquations:
    """The two-channel (width-2 chain) reduced equations of one mode.

    Parameters
    ----------
    architecture : Architecture or sequence of int
        Depth ``D_a`` of each pathway.
    invariants : bool
        Derive and verify the conserved quantities (default True).

    Returns
    -------
    ModeEquations
        ``kind="two-channel"``; state per pathway (in pathway order): ``A_a_1, A_a_2``,
        the entries of ``M_a_2 .. M_a_{D-1}`` row-major, ``B_a_1, B_a_2`` (``4 D - 4``
        variables; ``w_a`` alone for depth 1). Parameters ``(S,)``, or ``(S, lambda)`` for an
        architecture with ``whitened=False`` (aligned general inputs: the loss is
        ``lambda K^2 / 2 - S K`` and the error ``S - lambda sum_a K_a``).

    Raises
    ------
    DerivationError
        If a conserved quantity fails its check.

    Notes
    -----
    ``L = (S - sum_a K_a)^2 / 2`` with ``K_a = B_a M_{a,D-1} ... M_{a,2} A_a`` and
    ``dx/dt = -dL/dx = e dK_a/dx`` for every entry ``x`` of pathway ``a``; sympy derives
    ``dK/dx`` on the pathways' graph in node form (forward and backward vectors of the
    nodes, :func:`pathdyn.theory.graph_reduced.total_strength_gradients`). Hence
    ``dW_d/dt = e g_d f_{d-1}^T`` with ``f_{d-1} = W_{d-1} .. W_1`` and
    ``g_d = (W_D .. W_{d+1})^T``: the width-2 image of the matrix flow of docs/theory.md,
    *Notation and loss*, restricted to one mode. The matrices ``C_d`` of :func:`invariant_matrices`
    have zero time derivative for any ``e``; their 3 independent entries each are the
    returned invariants ``C_{a}_{d}_{ij}``.

    Examples
    --------
    >>> eqs = derive_two_channel_equations((2, 3))
    >>> len(eqs.state), len(eqs.invariants)
    (12, 9)
    """
    arch = Architecture.coerce(architecture)
    depths = arch.depths
    chains = [two_channel_layers(a, d) for a, d in enumerate(depths, start=1)]
    strengths = [chain.strength for chain in chains]
    minus_dloss_dk = reduced_loss_gradients(strengths, arch.whitened)
    state: list = []
    rhs: list = []
    owner: list = []
    layout: list = []
    gradient_of = _node_form_gradients(arch, chains)
    for a, chain in enumerate(chains, start=1):
        layout += chain.layout
        state += chain.state
        rhs += [minus_dloss_dk[a - 1] * gradient_of[x] for x in chain.state]
        owner += [a] * len(chain.state)
    eqs = ModeEquations(
        kind="two-channel",
        depths=depths,
        state=state,
        rhs=rhs,
        parameters=mode_parameters(arch.whitened),
        strengths=strengths,
        state_pathway=owner,
        description=f"two-channel (width-2 chain) reduction, depths {depths}{inputs_note(arch.whitened)}",
        layout=layout,
    )
    if not invariants:
        return eqs
    return replace(eqs, invariants=_derive_invariants(eqs, chains))


def _node_form_gradients(arch: Architecture, chains: Sequence[TwoChannelLayers]) -> dict:
    """State variable -> ``dK/dx``, from the graph engine on the pathways' graph (each edge a layer's block).

    The pathways' graph (:func:`pathdyn.theory.architecture.pathway_graph`) carries each
    layer's matrix on its edge; :func:`pathdyn.theory.graph_reduced.total_strength_gradients`
    derives ``dK/dW_e = b_v f_u^T`` in node form. Depth-1 pathways share the edge
    ``x -> y``, whose gradient does not depend on its own weight: it gets a stand-in symbol
    and each of their ``w_a`` that edge's gradient.
    """
    graph, layer_edges = pathway_graph(arch)
    weights: dict = {}
    for chain, edges in zip(chains, layer_edges):
        for matrix, edge in zip(chain.layers, edges):
            weights[edge] = sp.Matrix([[sp.Dummy("w")]]) if chain.depth == 1 else matrix
    gradients = total_strength_gradients(graph, weights)
    gradient_of = {}
    for chain, edges in zip(chains, layer_edges):
        for matrix, edge in zip(chain.layers, edges):
            for index, x in enumerate(matrix):
                gradient_of[x] = gradients[edge][index]  # row-major, as the state
    return gradient_of


def _derive_invariants(eqs: ModeEquations, chains: Sequence[TwoChannelLayers]) -> tuple:
    """The entries of every ``C_d``, each verified conserved for an arbitrary error."""
    error_symbol = sp.Dummy("e")
    to_error = {eqs.error: error_symbol}
    rng = random.Random(20221128)
    found = []
    for chain in chains:
        for d, matrix in enumerate(invariant_matrices(chain), start=1):
            for i, j in ((0, 0), (0, 1), (1, 1)):
                expr = sp.expand(matrix[i, j])
                derivative = eqs.time_derivative(expr).xreplace(to_error)
                if not _vanishes(derivative, chain.depth, [*chain.state, error_symbol], rng):
                    raise DerivationError(
                        f"two-channel invariant C_{chain.pathway}_{d}_{i + 1}{j + 1} = {expr} is not conserved"
                    )
                found.append(Invariant(pathway=chain.pathway, expr=expr, name=f"C_{chain.pathway}_{d}_{i + 1}{j + 1}"))
    return tuple(found)


@dataclass(frozen=True)
class TwoChannelRelation:
    """How the two-channel model relates to the per-layer and q/p models.

    Attributes
    ----------
    depths : tuple of int
    aligned_substitution : dict
        Two-channel state -> per-layer strengths ``s_{a,d}`` on the aligned set
        (first channel only; every second-channel entry 0).
    extra_variables : tuple of sympy.Symbol
        The second-channel variables (zero on the aligned set): the dimensions the
        two-channel model adds to the per-layer model.
    aligned_set_invariant : bool
        The flow's right-hand side of every extra variable vanishes on the aligned set.
    reproduces_layer_model : bool
        On the aligned set, the first-channel right-hand sides equal the per-layer ones.
    reproduces_qp_model : bool
        With ``s_1 = .. = s_{D-1} = q``, ``s_D = p`` they equal the q/p equations.
    state_dimension : dict
        Per pathway: number of two-channel variables.
    invariant_rank : dict
        Per pathway: rank of the Jacobian of its invariants at a generic point
        (the number of independent conserved quantities).
    reduced_dimension : dict
        Per pathway: state dimension minus invariant rank, the dimension of a level
        set of the invariants.
    d2_closure : dict
        For each depth-2 pathway: ``{"K": K, "R": R, "dK": dK/dt, "dR": dR/dt}`` written
        in ``(K, R, e)``; identical for the two-channel and q/p models.
    notes : str
    """

    depths: tuple
    aligned_substitution: dict = field(repr=False)
    extra_variables: tuple
    aligned_set_invariant: bool
    reproduces_layer_model: bool
    reproduces_qp_model: bool
    state_dimension: dict
    invariant_rank: dict
    reduced_dimension: dict
    d2_closure: dict = field(repr=False)
    notes: str = ""


def relate_to_qp(architecture: Architecture | Sequence[int]) -> TwoChannelRelation:
    """Show symbolically how the two-channel model contains the per-layer and q/p models.

    Parameters
    ----------
    architecture : Architecture or sequence of int

    Returns
    -------
    TwoChannelRelation

    Raises
    ------
    DerivationError
        When a depth-2 pathway does not close on ``(K, R)`` (a derivation bug).

    Notes
    -----
    On the aligned set ``A = (s_1, 0)^T``, ``M_d = diag(s_d, 0)``, ``B = (s_D, 0)`` the
    chain is rank one in the first channel, ``K = prod_d s_d``, and
    ``ds_d/dt = e prod_{d' != d} s_{d'}``: exactly the per-layer reduced flow, which in
    turn restricts to q/p. Every other entry (the second channel ``A_2``, ``B_2``,
    ``M_{12}, M_{21}, M_{22}``) has zero velocity there, so the set is invariant. By the
    ``O(2)`` gauge symmetry at each hidden layer (``M_d -> R_d M_d R_{d-1}^T``), any
    rank-one aligned chain is equivalent to this one.

    For ``D = 2``, with ``K = B A`` and ``R = |A|^2 + |B|^2``:
    ``dK/dt = e R`` and ``dR/dt = 4 e K``; the q/p model gives the same pair with
    ``K = q p``, ``R = q^2 + p^2``. So the exact initial mapping of a depth-2 network is
    ``q0^2 + p0^2 = |A|^2 + |B|^2``, ``q0 p0 = A . B``.
    """
    arch = Architecture.coerce(architecture)
    depths = arch.depths
    eqs = derive_two_channel_equations(arch, invariants=True)
    layer = derive_layer_equations(arch, invariants=False)
    qp = derive_qp_equations(arch)
    chains = [two_channel_layers(a, d) for a, d in enumerate(depths, start=1)]
    substitution, extra = _aligned_substitution(chains)
    restricted = {x: sp.expand(f.xreplace(substitution)) for x, f in zip(eqs.state, eqs.rhs)}
    aligned_invariant = all(restricted[x] == 0 or is_identically_zero(restricted[x]) for x in extra)
    layer_rhs = dict(zip(layer.state, layer.rhs))
    reproduces_layer = all(
        is_identically_zero(restricted[x] - layer_rhs[s]) for x, s in substitution.items() if s != 0
    )
    state_dimension, invariant_rank, reduced_dimension = _chain_dimensions(chains, eqs)
    notes = (
        "aligned rank-one set (first channel only) is invariant and carries the per-layer model; "
        "q/p is its restriction s_1 = .. = s_{D-1}; extra dimensions: the second channel "
        f"({len(extra)} variables in all). Depth-2 pathways close exactly on (K, R) like q/p."
    )
    return TwoChannelRelation(
        depths=depths,
        aligned_substitution=substitution,
        extra_variables=tuple(extra),
        aligned_set_invariant=bool(aligned_invariant),
        reproduces_layer_model=bool(reproduces_layer),
        reproduces_qp_model=bool(_reproduces_qp(restricted, substitution, qp, depths)),
        state_dimension=state_dimension,
        invariant_rank=invariant_rank,
        reduced_dimension=reduced_dimension,
        d2_closure=_depth_two_closure(chains, eqs, qp),
        notes=notes,
    )


def _aligned_substitution(chains: Sequence[TwoChannelLayers]) -> tuple[dict, list]:
    """The aligned rank-one set: first-channel entries -> per-layer symbols, the rest -> 0.

    Returns the substitution and the list of variables set to zero (the extra dimensions).
    """
    substitution, extra = {}, []
    for chain in chains:
        a, depth = chain.pathway, chain.depth
        if depth == 1:
            substitution[chain.state[0]] = layer_symbol(a, 1)
            continue
        for d, matrix in enumerate(chain.layers, start=1):
            for index, x in enumerate(matrix):
                if index == 0:
                    substitution[x] = layer_symbol(a, d)
                else:
                    substitution[x] = sp.Integer(0)
                    extra.append(x)
    return substitution, extra


def _reproduces_qp(restricted: dict, substitution: dict, qp: ModeEquations, depths: Sequence[int]) -> bool:
    """Whether the restricted flow, with ``s_1 = .. = s_{D-1} = q`` and ``s_D = p``, is the q/p flow."""
    qp_sub = {}
    for a, depth in enumerate(depths, start=1):
        q, p = qp_symbols(a)
        for d in range(1, depth):
            qp_sub[layer_symbol(a, d)] = q
        qp_sub[layer_symbol(a, depth)] = p
    qp_rhs = dict(zip(qp.state, qp.rhs))
    reproduces_qp = True
    for x, s in substitution.items():
        if s == 0:
            continue
        target = qp_sub[s]
        if not is_identically_zero(restricted[x].xreplace(qp_sub) - qp_rhs[target]):
            reproduces_qp = False
    return reproduces_qp


def _chain_dimensions(chains: Sequence[TwoChannelLayers], eqs: ModeEquations) -> tuple[dict, dict, dict]:
    """Per pathway: the state dimension, the rank of its invariants' Jacobian (at a random
    rational point) and their difference, as three dicts."""
    rng = random.Random(7)
    state_dimension, invariant_rank, reduced_dimension = {}, {}, {}
    for chain in chains:
        a = chain.pathway
        own = [inv.expr for inv in eqs.invariants if inv.pathway == a]
        state_dimension[a] = len(chain.state)
        if own:
            jacobian = sp.Matrix([[sp.diff(expr, x) for x in chain.state] for expr in own])
            invariant_rank[a] = jacobian.xreplace(_random_rational_point(chain.state, rng)).rank()
        else:
            invariant_rank[a] = 0
        reduced_dimension[a] = state_dimension[a] - invariant_rank[a]
    return state_dimension, invariant_rank, reduced_dimension


def _depth_two_closure(chains: Sequence[TwoChannelLayers], eqs: ModeEquations, qp: ModeEquations) -> dict:
    """For each depth-2 pathway, check that ``K = B A`` and ``R = |A|^2 + |B|^2`` close like q/p.

    Raises
    ------
    DerivationError
        When the chain's or the q/p model's ``(K, R)`` pair does not close.
    """
    d2 = {}
    e = sp.Symbol("e", real=True)
    K_sym, R_sym = sp.symbols("K R", real=True)
    to_e = {eqs.error: e}
    for chain in chains:
        if chain.depth != 2:
            continue
        A, B = chain.layers
        K = (B * A)[0, 0]
        R = (A.T * A)[0, 0] + (B * B.T)[0, 0]
        dK = sp.expand(eqs.time_derivative(K).xreplace(to_e))
        dR = sp.expand(eqs.time_derivative(R).xreplace(to_e))
        if not (is_identically_zero(dK - e * sp.expand(R)) and is_identically_zero(dR - 4 * e * sp.expand(K))):
            raise DerivationError(f"pathway {chain.pathway}: the depth-2 chain does not close on (K, R)")
        q, p = qp_symbols(chain.pathway)
        qp_eq = dict(zip(qp.state, qp.rhs))
        qp_dK = sp.expand((qp_eq[q] * p + q * qp_eq[p]).xreplace({qp.error: e}))
        qp_dR = sp.expand((2 * q * qp_eq[q] + 2 * p * qp_eq[p]).xreplace({qp.error: e}))
        if not (is_identically_zero(qp_dK - e * (q**2 + p**2)) and is_identically_zero(qp_dR - 4 * e * q * p)):
            raise DerivationError(f"pathway {chain.pathway}: the depth-2 q/p model does not close on (K, R)")
        d2[chain.pathway] = {"K": K, "R": R, "dK": e * R_sym, "dR": 4 * e * K_sym}
    return d2


def _two_channel_is_exact(depths: Sequence[int], init: str, mapping: str) -> bool:
    return max(depths) <= 2 or init == "orthogonal"


def _two_channel_limit(model: ReducedModel, method: str, init: str, depths: Sequence[int]) -> str:
    """The two-channel model's limit sentence: exact at depth 2 and for orthogonal hidden layers."""
    if max(depths) < 3:
        return (
            "infinite-width limit of depth-2 pathways: the width-2 chain spans span(a, b) exactly and closes "
            "on (K, |a|^2 + |b|^2) like q/p"
        )
    if init == "orthogonal":
        return (
            "infinite-width limit with orthogonal hidden layers: each mode is exactly a width-2 chain "
            "(two-channel model) started from the network's projected state"
        )
    return (
        f"two-channel model with {init} hidden layers: not exact at infinite width (W W^T b is not parallel "
        "to b; a Krylov hierarchy opens), an error floor is expected"
    )


register(ReducedModel(
    name="two-channel",
    derive=derive_two_channel_equations,
    description="each mode of each pathway as a width-2 chain",
    equations_name="two-channel (width-2 chain) equations",
    mappings=("projection",),
    default_mapping=lambda depths: "projection",
    is_exact=_two_channel_is_exact,
    exact_when="depth <= 2, or orthogonal hidden layers at any depth (projection mapping)",
    latex={"A": "A_{{{pathway},{entry}}}", "M": "M_{{{pathway},{layer}}}^{{({entry})}}",
           "B": "B_{{{pathway},{entry}}}", "w": "w_{{{pathway}}}"},
    limit=_two_channel_limit,
))
