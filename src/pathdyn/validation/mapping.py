"""Initial conditions are part of the theory: map a network's weights to reduced states.

For each pathway ``a`` and mode ``alpha`` (left/right singular vectors ``u``, ``v`` of
``Sigma_yx``) the forward vectors ``f_d = W_d ... W_1 v`` (``f_0 = v``) and backward
vectors ``g_d = (W_D ... W_{d+1})^T u`` (``g_D = u``) of the network at initialisation
define every mapping below. ``K0 = u^T W_D f_{D-1}`` and the initial growth
coefficient ``r = sum_{d=1}^{D} |g_d|^2 |f_{d-1}|^2`` (so ``dK/dt = e r`` at ``t = 0``,
``e`` the mode's error, when the other modes' cross terms are dropped).

Mappings (``method``):

``"exact"`` (q/p, depth 2)
    ``a = W_1 v``, ``b = W_2^T u``; ``q0^2 + p0^2 = |a|^2 + |b|^2``, ``q0 p0 = a . b``,
    i.e. ``q0 = (sqrt(R + 2K) + sqrt(R - 2K)) / 2``, ``p0 = (sqrt(R + 2K) - sqrt(R - 2K)) / 2``
    with ``R = |a|^2 + |b|^2 = r``. Exact at infinite width (the depth-2 flow closes on
    ``(K, R)``, see :func:`pathdyn.theory.two_channel.relate_to_qp`).
``"growth-matched"`` (q/p, any depth)
    ``K0`` and ``r`` are matched: ``q0^{D-1} p0 = K0`` and
    ``(D - 1) q0^{2(D-2)} p0^2 + q0^{2(D-1)} = r``, i.e. ``x = q0^2`` solves
    ``(D - 1) K0^2 / x + x^{D-1} = r``; the larger root is taken (the branch with
    ``q0^2 >= p0^2``, continuous with ``p0 = 0`` at ``K0 = 0``). For depth 2 it is the
    exact mapping. For depth >= 3 it is a two-number summary of a higher-dimensional
    state; for Gaussian hidden layers it stays about 2 % of ``S_1`` off at any width
    (docs/theory.md, *Where each model is exact*).
``"projection"`` (two-channel, any depth)
    At each hidden layer ``d = 1 .. D-1`` an orthonormal basis ``E_d = [e_1, e_2]`` of
    ``span(f_d, g_d)`` (``e_1 = f_d / |f_d|``, ``e_2`` Gram-Schmidt of ``g_d``); then
    ``A = E_1^T W_1 v`` (2 x 1), ``M_d = E_d^T W_d E_{d-1}`` (2 x 2), ``B = u^T W_D E_{D-1}``
    (1 x 2). It reproduces ``K0`` exactly (each ``f_d`` lies in its plane) and the
    initial growth coefficient ``r`` exactly (each ``g_d`` does too).
``"naive"`` (q/p, counter-example only)
    ``q0 = sigma`` (the init scale) and ``p0 = K0 / sigma^{D-1}``. It ignores the
    measured ``|a|``, ``|b|`` and stays about 10 % of ``S_1`` off at every width
    (docs/theory.md, *Where each model is exact*).
    Kept only to show that the initial condition matters; never use it for predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike

from pathdyn.errors import ConfigError
from pathdyn.numerics.compile import CompiledRHS
from pathdyn.theory.models import MODELS, models_with_mappings
from pathdyn.theory.modes import ModeEquations, StateVariable

__all__ = [
    "InitialState",
    "register_mapper",
    "MAPPERS",
    "default_method",
    "forward_backward_vectors",
    "map_initial_state",
]



def _unknown_theory(theory: object) -> ConfigError:
    return ConfigError(f"theory: unknown reduced model {theory!r}; choose {' or '.join(models_with_mappings())}")


def default_method(theory: str, depths: Sequence[int]) -> str:
    """The model's recommended mapping (the registry's ``default_mapping``): ``exact`` for
    all-depth-<=2 q/p, ``growth-matched`` for deeper q/p, ``projection`` for the two-channel model.

    Parameters
    ----------
    theory : str
        A reduced model with mappings (:func:`pathdyn.theory.models.models_with_mappings`).
    depths : sequence of int
        The pathways' depths.

    Returns
    -------
    str
        The mapping's name.

    Raises
    ------
    ConfigError
        When ``theory`` is not a model with mappings.
    """
    if theory not in models_with_mappings():
        raise _unknown_theory(theory)
    return MODELS[theory].default_mapping(tuple(depths))


def _as_float(array: ArrayLike) -> np.ndarray:
    return np.asarray(array, dtype=np.float64)


def forward_backward_vectors(layers: Sequence[np.ndarray], U: np.ndarray, V: np.ndarray) -> tuple:
    """``f_d`` (``d = 0 .. D``) and ``g_d`` (``d = 0 .. D``) of one pathway for all modes.

    Parameters
    ----------
    layers : sequence of ndarray
        ``W_1 .. W_D`` (each ``(out, in)``; ``W_1`` is the input layer).
    U : ndarray, shape (n_out, modes)
        Left singular vectors ``u_alpha`` as columns.
    V : ndarray, shape (n_in, modes)
        Right singular vectors ``v_alpha`` as columns.

    Returns
    -------
    (f, g) : lists of ndarray
        ``f[d] = W_d .. W_1 V`` and ``g[d] = (W_D .. W_{d+1})^T U`` (``f[0] = V``,
        ``g[D] = U``), each ``(width_d, modes)``.
    """
    layers = [_as_float(w) for w in layers]
    depth = len(layers)
    f = [_as_float(V)]
    for w in layers:
        f.append(w @ f[-1])
    g: list[Any] = [None] * (depth + 1)
    g[depth] = _as_float(U)
    for d in range(depth, 0, -1):
        g[d - 1] = layers[d - 1].T @ g[d]
    return f, g


@dataclass(frozen=True)
class InitialState:
    """Reduced initial state of one network, for every mode.

    Attributes
    ----------
    theory : str
        ``"qp"`` or ``"two-channel"``.
    method : str
        The mapping (see the module docstring).
    values : dict
        :attr:`pathdyn.theory.modes.StateVariable.key` ``(role, pathway, layer, entry)``
        -> ndarray ``(modes,)``.
    K0 : ndarray, shape (M, modes)
        The network's initial ``u^T Omega_a v`` per pathway and mode.
    growth : ndarray, shape (M, modes)
        The network's initial growth coefficients ``r``.
    notes : str
    """

    theory: str
    method: str
    values: dict = field(repr=False)
    K0: np.ndarray = field(repr=False)
    growth: np.ndarray = field(repr=False)
    notes: str = ""

    def value(self, role: str, pathway: int, layer: int | None = None, entry: tuple = ()) -> np.ndarray:
        """The values of one state variable, named by its role (e.g. ``value("q", 1)``).

        Parameters
        ----------
        role : str
            The :class:`pathdyn.theory.modes.StateVariable` role (``"q"``, ``"p"``, ``"A"``, ...).
        pathway : int
            1-based.
        layer : int, optional
            For per-layer and two-channel variables.
        entry : tuple of int
            Matrix entry for ``A``, ``M``, ``B``.

        Returns
        -------
        ndarray, shape (modes,)

        Raises
        ------
        KeyError
            If the mapping produced no such variable.
        """
        return self.values[(role, pathway, layer, tuple(entry))]

    def qp_arrays(self) -> tuple:
        """The q/p state as two arrays.

        Returns
        -------
        (q0, p0) : ndarray, each (M, modes)
            ``q0 = 1`` where a pathway has no ``q`` (depth 1, where ``K = p``).

        Raises
        ------
        KeyError
            If the mapping is not a q/p mapping.
        """
        M, modes = self.K0.shape
        q0 = np.stack([self.values.get(("q", a, None, ()), np.ones(modes)) for a in range(1, M + 1)])
        p0 = np.stack([self.value("p", a) for a in range(1, M + 1)])
        return q0, p0

    def state_array(self, equations: ModeEquations | CompiledRHS | Sequence[StateVariable]) -> np.ndarray:
        """The state stacked in the order of the equations' layout (shape ``(n_state, modes)``).

        Parameters
        ----------
        equations : ModeEquations, CompiledRHS or sequence of StateVariable
            Anything with a ``layout``, or the layout itself.

        Returns
        -------
        ndarray, shape ``(n_state, modes)``
            The initial state for :func:`pathdyn.numerics.integrate.integrate`.

        Raises
        ------
        ConfigError
            If a variable is missing (the equations belong to another model or architecture).
        """
        layout = tuple(equations if isinstance(equations, Sequence) else equations.layout)
        missing = [str(record.symbol) for record in layout if record.key not in self.values]
        if missing:
            raise ConfigError(
                f"equations: {missing} not produced by the {self.theory}/{self.method} mapping; "
                f"map with the reduced model the equations were derived for"
            )
        return np.stack([self.values[record.key] for record in layout])


def _solve_growth_matched(K0: np.ndarray, r: np.ndarray, depth: int) -> tuple:
    """Larger root ``x = q^2`` of ``(D-1) K0^2 / x + x^{D-1} = r``, per mode.

    Where ``r`` is below the minimum of the left side (possible only through
    cross-mode terms at tiny width), the minimiser is used; the count is returned.
    """
    n = depth - 1
    q = np.empty_like(K0)
    clipped = 0
    for i, (k, rate) in enumerate(zip(K0, r)):
        c = n * k * k
        # h(x) = c / x + x^n; minimum at x_min = (c / n)^(1 / (n + 1))
        x_min = (c / n) ** (1.0 / (n + 1)) if c > 0 else 0.0
        h_min = (c / x_min + x_min**n) if x_min > 0 else 0.0
        if rate <= h_min:
            clipped += 1
            x = x_min
        else:
            lo, hi = x_min, max(x_min, 1.0)
            while c / hi + hi**n < rate:
                hi *= 2.0
            for _ in range(200):  # bisection on the increasing branch
                mid = 0.5 * (lo + hi)
                if c / mid + mid**n < rate:  # mid > 0: hi stays above the root, which is > 0
                    lo = mid
                else:
                    hi = mid
            x = 0.5 * (lo + hi)
        q[i] = np.sqrt(x)
    return q, clipped


def _orthonormal_plane(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``(N, 2)`` orthonormal basis of ``span(first, second)`` (first vector along ``first``)."""
    width = first.shape[0]
    norm = np.linalg.norm(first)
    if norm == 0.0:
        first, second = second, first
        norm = np.linalg.norm(first)
    if norm == 0.0:
        basis = np.zeros((width, 2))
        basis[0, 0] = 1.0
        if width > 1:
            basis[1, 1] = 1.0
        return basis
    e1 = first / norm
    residual = second - e1 * (e1 @ second)
    rnorm = float(np.linalg.norm(residual))
    if rnorm <= 1e-12 * max(float(np.linalg.norm(second)), 1e-300):
        # Parallel vectors: any unit vector orthogonal to e1 completes the basis.
        probe = np.zeros(width)
        probe[int(np.argmin(np.abs(e1)))] = 1.0
        residual = probe - e1 * (e1 @ probe)
        rnorm = float(np.linalg.norm(residual))
    return np.stack([e1, residual / rnorm], axis=1)


def _check_weight_lists(weights: Any) -> None:
    """``weights[a][d]``: a non-empty list per pathway of 2-D arrays (a string or an array is refused)."""
    def is_list(value: object) -> bool:
        return isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value) > 0

    if not is_list(weights) or not all(is_list(layers) for layers in weights):
        raise ConfigError(f"weights: expected weights[a][d], a list per pathway of its layers' matrices (as "
                          f"initialize_weights returns), got {type(weights).__name__} {str(weights)[:40]!r}")
    for a, layers in enumerate(weights, start=1):
        for d, layer in enumerate(layers, start=1):
            if np.ndim(layer) != 2 or not hasattr(layer, "shape"):
                raise ConfigError(f"weights[{a - 1}][{d - 1}]: expected a 2-D array (out, in), got {type(layer).__name__}")


def map_initial_state(weights: Sequence[Sequence[np.ndarray]], U: np.ndarray, V: np.ndarray, theory: str = "qp",
                      method: str | None = None, init_scale: float | None = None) -> InitialState:
    """Reduced initial state of every pathway and mode from a network's weights.

    Parameters
    ----------
    weights : sequence of sequence of ndarray
        ``weights[a][d]`` is layer ``d + 1`` of pathway ``a + 1`` (shape ``(out, in)``,
        index 0 the input layer), as returned by
        :func:`pathdyn.validation.network.initialize_weights`.
    U : ndarray, shape (n_out, modes)
        Left singular vectors of ``Sigma_yx`` (columns).
    V : ndarray, shape (n_in, modes)
        Right singular vectors (columns; ``Vt.T`` from :meth:`Dataset.modes`).
    theory : {"qp", "two-channel"}
    method : str, optional
        ``"exact"``, ``"growth-matched"`` or ``"naive"`` for q/p; ``"projection"``
        for two-channel. Default :func:`default_method`.
    init_scale : float, optional
        Needed only by ``"naive"`` (``q0 = init_scale``).

    Returns
    -------
    InitialState
        Keyed like the layouts of :func:`pathdyn.theory.reduced.derive_qp_equations`
        (roles ``q``, ``p``) and :func:`pathdyn.theory.two_channel.derive_two_channel_equations`
        (``A``, ``M``, ``B``, ``w`` with their layer and entry).

    Raises
    ------
    ConfigError
        Unknown theory or method, ``"exact"`` on a pathway deeper than 2, ``"naive"``
        without ``init_scale``, ``weights`` that are not a list per pathway of 2-D arrays, or
        shapes that do not fit.
    """
    _check_weight_lists(weights)
    depths = tuple(len(layers) for layers in weights)
    if theory not in MAPPERS:
        raise _unknown_theory(theory)
    method = default_method(theory, depths) if method is None else method
    if method not in MODELS[theory].mappings:
        raise ConfigError(f"method: {method!r} is not a {theory} mapping; choose one of {', '.join(MODELS[theory].mappings)}")
    if method == "exact" and max(depths) > 2:
        raise ConfigError(
            f"method: the exact q/p mapping exists only for depth <= 2, got depths {depths}; "
            "use growth-matched or the two-channel model"
        )
    if method == "naive" and (init_scale is None or not init_scale > 0):
        raise ConfigError(f"init_scale: the naive mapping needs the positive init scale, got {init_scale!r}")
    U = _as_float(U)
    V = _as_float(V)
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[1]:
        raise ConfigError(f"U, V: expected (n_out, modes) and (n_in, modes) with equal mode counts, got {U.shape}, {V.shape}")
    for a, layers in enumerate(weights, start=1):
        if layers[0].shape[1] != V.shape[0] or layers[-1].shape[0] != U.shape[0]:
            raise ConfigError(
                f"weights: pathway {a} maps {layers[0].shape[1]} -> {layers[-1].shape[0]} but the data has "
                f"n_in={V.shape[0]}, n_out={U.shape[0]}"
            )
    values: dict = {}
    K0: list[np.ndarray] = []
    growth: list[np.ndarray] = []
    notes: list[str] = []
    for a, layers in enumerate(weights, start=1):
        layers = [_as_float(w) for w in layers]
        depth = len(layers)
        f, g = forward_backward_vectors(layers, U, V)
        k0 = np.einsum("im,im->m", U, f[-1])
        r = sum(np.sum(g[d] ** 2, axis=0) * np.sum(f[d - 1] ** 2, axis=0) for d in range(1, depth + 1))
        K0.append(k0)
        growth.append(r)
        MAPPERS[theory](values, a, layers, f, g, k0, r, method, init_scale, notes)
    return InitialState(
        theory=theory,
        method=method,
        values=values,
        K0=np.array(K0),
        growth=np.array(growth),
        notes="; ".join(notes),
    )


def _map_qp_pathway(values: dict, a: int, layers: Sequence[np.ndarray], f: Sequence[np.ndarray], g: Sequence[np.ndarray], k0: np.ndarray, r: np.ndarray, method: str,
                    init_scale: float, notes: list[str]) -> None:
    """Pathway ``a``'s ``q``, ``p`` by ``method`` (``p = K0`` alone at depth 1)."""
    depth = len(layers)
    if depth == 1:
        values[("p", a, None, ())] = k0.copy()
        return
    if method == "naive":
        q = np.full_like(k0, float(init_scale))
        p = k0 / q ** (depth - 1)
    elif method == "exact":
        R = r  # |a|^2 + |b|^2 for depth 2
        plus = np.sqrt(np.maximum(R + 2 * k0, 0.0))
        minus = np.sqrt(np.maximum(R - 2 * k0, 0.0))
        q, p = (plus + minus) / 2, (plus - minus) / 2
    else:
        q, clipped = _solve_growth_matched(k0, r, depth)
        p = k0 / q ** (depth - 1)
        if clipped:
            notes.append(f"pathway {a}: {clipped} mode(s) with growth below the q/p minimum (clipped)")
    values[("q", a, None, ())] = q
    values[("p", a, None, ())] = p


def _map_two_channel_pathway(values: dict, a: int, layers: Sequence[np.ndarray], f: Sequence[np.ndarray], g: Sequence[np.ndarray],
                             k0: np.ndarray, r: np.ndarray, method: str, init_scale: float, notes: list[str]) -> None:
    """Pathway ``a``'s width-2 chain by projection on the planes ``span(f_d, g_d)`` (``w = K0`` at depth 1)."""
    depth = len(layers)
    if depth == 1:
        values[("w", a, 1, ())] = k0.copy()
        return
    modes = k0.shape[0]
    A = np.zeros((2, modes))
    B = np.zeros((2, modes))
    hidden = {d: np.zeros((2, 2, modes)) for d in range(2, depth)}
    for m in range(modes):
        planes: list[Any] = [None] + [_orthonormal_plane(f[d][:, m], g[d][:, m]) for d in range(1, depth)]
        A[:, m] = planes[1].T @ f[1][:, m]
        for d in range(2, depth):
            hidden[d][:, :, m] = planes[d].T @ (layers[d - 1] @ planes[d - 1])
        B[:, m] = planes[depth - 1].T @ g[depth - 1][:, m]
    for i in (1, 2):
        values[("A", a, 1, (i,))] = A[i - 1]
        values[("B", a, depth, (i,))] = B[i - 1]
    for d, block in hidden.items():
        for i in (1, 2):
            for j in (1, 2):
                values[("M", a, d, (i, j))] = block[i - 1, j - 1]


#: Model name -> the function that maps one pathway of a network to the model's state
#: (every registered model with ``mappings`` has one; :func:`register_mapper` adds one).
MAPPERS: dict = {}


def register_mapper(theory: str, mapper: Callable[..., Any]) -> None:
    """Register how a network's pathway maps to the initial state of a registered model.

    Parameters
    ----------
    theory : str
        A model of :data:`pathdyn.theory.models.MODELS` with ``mappings``.
    mapper : callable
        ``mapper(values, a, layers, f, g, k0, r, method, init_scale, notes)``: adds the
        pathway ``a``'s entries to ``values`` (keyed ``(role, pathway, layer, entry)`` as
        the model's layout) and any approximation to ``notes``; ``f``, ``g`` are the
        forward and backward vectors (:func:`forward_backward_vectors`), ``k0`` the initial
        mode strengths and ``r`` the initial growth coefficients.

    Raises
    ------
    ConfigError
        If ``theory`` is not a registered model with mappings.
    """
    if theory not in models_with_mappings():
        raise _unknown_theory(theory)
    MAPPERS[theory] = mapper


register_mapper("qp", _map_qp_pathway)
register_mapper("two-channel", _map_two_channel_pathway)
