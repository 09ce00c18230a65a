"""The race oracle: final mode strengths of the q/p equations without integrating them.

docs/theory.md, *The race form*. With the conserved ``c = q^2 - p^2 > 0`` each pathway obeys
``dp_a/dt = (p_a^2 + c_a)^((D_a-1)/2) e(t)`` with the error ``e`` common to all
pathways, so ``F_a(p_a(t)) - F_a(p_a(0)) = G(t)`` for every pathway, with the race
potential ``F_a(p) = int_0^p (s^2 + c_a)^(-(D_a-1)/2) ds``. The flow stops where
``sum_a K_a = S``, so the final allocation solves one scalar equation for ``G``:
``S = sum_a K_a(F_a^{-1}(F_a(p_a(0)) + G))``.

Evaluation. With ``p = sqrt(c) sinh(u)``,
``F(p) = c^(-(D-2)/2) I_{D-2}(u)``, ``I_n(u) = int_0^u sech^n(v) dv``, which is
elementary for every depth: ``I_0 = u``, ``I_1 = atan(sinh u)`` and
``I_n = sech^(n-2)(u) tanh(u) / (n-1) + (n-2)/(n-1) I_{n-2}`` (all terms share the
sign of ``u``, so the recursion does not cancel). ``D = 2`` gives
``F = asinh(p / sqrt c)``, inverted in closed form; other depths are inverted by a
safeguarded Newton iteration. Every step works on whole arrays: all members and
modes of a batch are solved at once (:func:`_safeguarded_newton`).
:func:`race_potential_numeric` also offers scipy's ``hyp2f1`` and mpmath quadrature,
used by the tests to check the recursion independently. Nothing here calls an ODE
integrator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from pathdyn.errors import ArchitectureError, ConfigError, DatasetError

__all__ = ["race_potential_numeric", "inverse_race_potential", "race_final_strengths"]

#: Largest ``u`` searched: ``sinh(u)`` overflows float64 just above 710.
U_MAX = 710.0
#: Stopping rule of the root finders (that of the scalar ``brentq`` calls they replace).
G_XTOL, U_XTOL, RTOL = 1e-15, 1e-16, 4 * np.finfo(float).eps
#: ``|sum_a K_a - S|`` (relative to ``max(S, 1)``) above which the float root is polished in mpmath.
SUM_TOL = 1e-11


def _sech_integral(n: int, u: ArrayLike) -> float | np.ndarray:
    """``I_n(u) = int_0^u sech^n(v) dv`` for integer ``n >= 0``, elementwise over ``u``."""
    u = np.asarray(u, dtype=float)
    if n == 0:
        return u.copy() if u.ndim else float(u)
    with np.errstate(over="ignore"):
        sech = 1.0 / np.cosh(u)
    tanh = np.tanh(u)
    value = u.copy() if n % 2 == 0 else np.arctan(np.sinh(u))
    for k in range(2 if n % 2 == 0 else 3, n + 1, 2):
        value = sech ** (k - 2) * tanh / (k - 1) + (k - 2) / (k - 1) * value
    return value if value.ndim else float(value)


def _sech_integral_limit(n: int) -> float:
    """``I_n(inf)``: infinite for ``n = 0``, else ``sqrt(pi) Gamma(n/2) / (2 Gamma((n+1)/2))``."""
    if n == 0:
        return math.inf
    return math.sqrt(math.pi) * math.exp(math.lgamma(n / 2) - math.lgamma((n + 1) / 2)) / 2


def _check(depth: int, c: ArrayLike) -> None:
    if int(depth) != depth or depth < 1:
        raise ConfigError(f"depth: must be a positive integer, got {depth}")
    c = np.asarray(c, dtype=float)
    if depth >= 2 and not np.all((c > 0) & np.isfinite(c)):
        bad = c[~((c > 0) & np.isfinite(c))].ravel()[0]
        raise ConfigError(f"c: the race needs q^2 - p^2 = c > 0 for a pathway of depth {depth}, got c = {bad}")


def _safeguarded_newton(func: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]], lo: ArrayLike, hi: ArrayLike,
                        x: ArrayLike, xtol: float, rtol: float, max_iter: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Roots of increasing functions, elementwise: Newton steps kept inside a shrinking bracket.

    Parameters
    ----------
    func : callable
        ``func(x, index) -> (f, dfdx)`` for the elements ``index`` (an integer array)
        at the points ``x``; ``f`` increases in ``x``. ``f = +-inf`` or NaN is allowed
        (treated by its sign, NaN as "beyond the root", which bisects).
    lo, hi : ndarray
        A bracket per element, ``f(lo) < 0 < f(hi)``; either end may be infinite.
    x : ndarray
        Starting points strictly inside the brackets.
    xtol, rtol : float
        An element stops when its step or its bracket is below ``xtol + rtol |x|``.

    Returns
    -------
    (x, converged) : ndarray, ndarray of bool

    Notes
    -----
    A Newton step that leaves the bracket, or is not finite, is replaced by the
    bracket's midpoint (or, with an infinite end, a step of ``max(1, |x|)`` towards
    it), so every element converges at least as fast as bisection.
    """
    lo, hi, x = (np.array(a, dtype=float) for a in (lo, hi, x))
    converged = np.zeros(x.shape, dtype=bool)
    active = np.arange(x.size)
    for _ in range(max_iter):
        if active.size == 0:
            break
        xa = x[active]
        with np.errstate(all="ignore"):
            f, slope = func(xa, active)
            below = f < 0
            lo[active] = np.where(below, xa, lo[active])
            hi[active] = np.where(below, hi[active], xa)
            la, ha = lo[active], hi[active]
            proposal = xa - f / slope
            bisect = np.where(np.isinf(ha), la + np.maximum(1.0, np.abs(la)),
                              np.where(np.isinf(la), ha - np.maximum(1.0, np.abs(ha)), 0.5 * (la + ha)))
            tol = xtol + rtol * np.abs(xa)
            # A step below the tolerance ends the iteration even where rounding puts it on
            # the bracket's end (bisecting there would throw the converged point away).
            tiny = np.abs(proposal - xa) <= tol
            inside = np.isfinite(proposal) & (proposal > la) & (proposal < ha)
            new = np.where(inside | tiny, proposal, bisect)
            done = (f == 0) | tiny | (ha - la <= tol)
        x[active] = np.where(f == 0, xa, new)
        converged[active[done]] = True
        active = active[~done]
    return x, converged


def _invert_sech_integral(n: int, target: ArrayLike, start: ArrayLike | None = None) -> np.ndarray:
    """``u >= 0`` with ``I_n(u) = target`` for ``0 <= target < I_n(inf)``, elementwise.

    Below half the limit the function ``I_n(u) - target`` is solved (concave, no
    cancellation at small ``u``); above it ``-log(I_n(inf) - I_n(u)) + log(I_n(inf) -
    target)``, which is convex and nearly linear where ``I_n`` saturates, so Newton keeps
    converging quadratically there. Roots beyond :data:`U_MAX` come back as ``inf``.
    """
    target = np.asarray(target, dtype=float)
    if n == 0:
        return target.copy()
    if n == 1:  # I_1 = atan(sinh u); a target above pi/2 (the lgamma limit can round past it) has no root
        with np.errstate(over="ignore"):
            return np.where(target <= np.pi / 2, np.arcsinh(np.tan(np.minimum(target, np.pi / 2))), np.inf)
    if n == 2:  # I_2 = tanh u
        return np.arctanh(target)
    limit = _sech_integral_limit(n)
    flat = target.ravel()
    saturating = flat > limit / 2
    log_gap = np.log(np.where(saturating, limit - flat, 1.0))

    def residual(u: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        value = _sech_integral(n, u)
        with np.errstate(over="ignore"):
            derivative = np.cosh(u) ** -float(n)
        gap = limit - value
        sat = saturating[index]
        f = np.where(sat, np.where(gap > 0, log_gap[index] - np.log(np.where(gap > 0, gap, 1.0)), np.inf), value - flat[index])
        slope = np.where(sat, derivative / np.where(gap > 0, gap, np.inf), derivative)
        return f, slope

    x0 = np.clip(np.zeros_like(flat) if start is None else np.asarray(start, dtype=float).ravel(), 0.0, U_MAX / 2)
    lo = np.where(flat > 0, 0.0, -1.0)
    u, _ = _safeguarded_newton(residual, lo, np.full_like(flat, U_MAX), np.where(flat > 0, np.maximum(x0, 1e-300), 0.0),
                               U_XTOL, RTOL)
    u = np.where(flat == 0, 0.0, u)
    u = np.where(u >= U_MAX * (1 - RTOL), np.inf, u)
    return u.reshape(target.shape)


def race_potential_numeric(p: ArrayLike, depth: int, c: float = 1.0, method: str = "elementary") -> float | np.ndarray:
    """``F(p) = int_0^p (s^2 + c)^(-(D-1)/2) ds`` (``F(p) = p`` for ``D = 1``).

    Parameters
    ----------
    p : float or array_like
    depth : int
        ``D >= 1``.
    c : float or array_like
        The conserved ``q^2 - p^2`` (> 0 for ``D >= 2``); broadcast against ``p``
        (a scalar for the ``"mpmath"`` method).
    method : {"elementary", "hyp2f1", "mpmath"}
        ``"elementary"``: the sech-power recursion (module notes; ``asinh`` at
        ``D = 2``). ``"hyp2f1"``: ``p c^(-(D-1)/2) 2F1(1/2, (D-1)/2; 3/2; -p^2/c)``
        with scipy. ``"mpmath"``: adaptive quadrature at 30 digits.

    Returns
    -------
    float or ndarray

    Raises
    ------
    ConfigError
        A depth that is not a positive integer, ``c <= 0`` with ``D >= 2``, or an
        unknown method.
    """
    _check(depth, c)
    p_arr = np.asarray(p, dtype=float)
    if depth == 1:
        return p_arr if p_arr.ndim else float(p_arr)
    c_arr = np.asarray(c, dtype=float)
    if method == "elementary":
        if depth == 2:
            out = np.arcsinh(p_arr / np.sqrt(c_arr))
        else:
            out = c_arr ** (-(depth - 2) / 2) * np.asarray(_sech_integral(depth - 2, np.arcsinh(p_arr / np.sqrt(c_arr))))
    elif method == "hyp2f1":
        from scipy.special import hyp2f1

        out = p_arr * c_arr ** (-(depth - 1) / 2) * hyp2f1(0.5, (depth - 1) / 2, 1.5, -(p_arr**2) / c_arr)
    elif method == "mpmath":
        import mpmath

        with mpmath.workdps(30):
            integrand = lambda s: (s**2 + float(c)) ** (-mpmath.mpf(depth - 1) / 2)  # noqa: E731
            out = np.vectorize(lambda x: float(mpmath.quad(integrand, [0, x])))(p_arr)
    else:
        raise ConfigError(f"method: unknown {method!r}; choose elementary, hyp2f1 or mpmath")
    out = np.asarray(out, dtype=float)
    return out if out.ndim else float(out)


def _potential_range(depth: int, c: ArrayLike) -> np.ndarray:
    """``sup F`` (= ``-inf F``): finite for ``D >= 3``, elementwise over ``c``."""
    c = np.asarray(c, dtype=float)
    if depth <= 2:
        return np.full(c.shape, math.inf)
    return c ** (-(depth - 2) / 2) * _sech_integral_limit(depth - 2)


def _race_u(value: ArrayLike, depth: int, c: ArrayLike, start: np.ndarray | None = None) -> np.ndarray:
    """``u = asinh(p / sqrt c)`` of ``F(p) = value`` (``D >= 2``), elementwise; ``+-inf`` past the range."""
    n = depth - 2
    target = np.asarray(value, dtype=float) * np.asarray(c, dtype=float) ** (n / 2)
    magnitude = np.abs(target)
    inside = magnitude < _sech_integral_limit(n)
    start = None if start is None else np.abs(start)
    u = _invert_sech_integral(n, np.where(inside, magnitude, 0.0), start)
    return np.copysign(np.where(inside, u, np.inf), target)


def inverse_race_potential(value: ArrayLike, depth: int, c: float = 1.0, strict: bool = True) -> float | np.ndarray:
    """``p`` with ``F(p) = value``, elementwise (closed form for ``D <= 2``, safeguarded Newton above).

    Parameters
    ----------
    value : float or array_like
    depth : int
    c : float or array_like
        Broadcast against ``value``.
    strict : bool
        Raise where ``|value|`` is at or beyond ``sup |F|``; otherwise return ``+-inf`` there.

    Returns
    -------
    float or ndarray
        ``+-inf`` where the root lies beyond float range.

    Raises
    ------
    ConfigError
        If ``strict`` and some ``|value|`` is at or beyond ``sup |F|`` (finite for
        ``D >= 3``): no such ``p``.
    """
    _check(depth, c)
    value = np.asarray(value, dtype=float)
    if depth == 1:
        return value.copy() if value.ndim else float(value)
    c = np.asarray(c, dtype=float)  # type: ignore[assignment]  # a scalar or an array of them
    if strict and depth >= 3:
        limit = _potential_range(depth, c)
        outside = ~(np.abs(value) < limit)
        if np.any(outside):
            bad = np.broadcast_to(value, outside.shape)[outside].ravel()[0]
            raise ConfigError(f"value: F = {bad} is outside the range of the race potential "
                              f"(|F| < {np.broadcast_to(limit, outside.shape)[outside].ravel()[0]})")
    u = value.copy() if depth == 2 else _race_u(value, depth, c)
    with np.errstate(over="ignore"):
        out = np.where(np.abs(u) > 700, np.copysign(np.inf, u), np.sqrt(c) * np.sinh(np.clip(u, -700, 700)))
    return out if out.ndim else float(out)


@dataclass
class _Pathway:
    """One pathway of every problem in a batch: depth, ``c`` and the start ``F(p(0))`` per problem."""

    depth: int
    c: np.ndarray
    race_p: np.ndarray  # p~(0) = sign(q)^(D-1) p(0), so that K = K(p~) exactly
    start: np.ndarray
    u: np.ndarray  # the latest u = asinh(p / sqrt c), the next solve's starting point

    def state(self, G: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(p, K, dK/dG)`` at ``G`` for the problems ``index``.

        With ``p = sqrt(c) sinh u``: ``K = c^(D/2) cosh^(D-1)(u) sinh(u)`` and
        ``dK/dG = (p^2 + c)^(D-2) (D p^2 + c) = c^(D-1) cosh^(2D-4)(u) (D sinh^2 u + 1)``.
        """
        if self.depth == 1:
            p = self.start[index] + G
            return p, p, np.ones_like(p)
        D, c = self.depth, self.c[index]
        u = _race_u(self.start[index] + G, D, c, self.u[index])
        self.u[index] = np.where(np.isfinite(u), u, self.u[index])
        with np.errstate(over="ignore", invalid="ignore"):
            cosh, sinh = np.cosh(u), np.sinh(u)
            p = np.sqrt(c) * sinh
            K = c ** (D / 2) * cosh ** (D - 1) * sinh
            dK = c ** (D - 1) * cosh ** (2 * D - 4) * (D * sinh**2 + 1)
        return p, K, dK


def _race_pathways(depths: Sequence[int], q0: np.ndarray, p0: np.ndarray) -> list:
    """:class:`_Pathway` per depth from ``q0, p0`` of shape ``(M, problems)``."""
    pathways = []
    for a, depth in enumerate(depths):
        q, p = q0[a], p0[a]
        if depth == 1:
            pathways.append(_Pathway(1, np.zeros_like(p), p.copy(), p.copy(), np.zeros_like(p)))
            continue
        c = q * q - p * p
        _check(depth, c)
        race_p = np.where((q > 0) | ((depth - 1) % 2 == 0), p, -p)
        start = np.asarray(race_potential_numeric(race_p, depth, c), dtype=float)
        pathways.append(_Pathway(depth, c, race_p, start, np.arcsinh(race_p / np.sqrt(c))))
    return pathways


def _solve_race(pathways: Sequence[_Pathway], S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``G`` per problem with ``sum_a K_a(G) = S``; returns ``(G, resolved)``.

    ``resolved`` is False where the iteration did not converge or ended on an edge of
    the domain of ``G`` (a saturating pathway's range, unresolved in float64).
    """
    g_hi = np.min([_potential_range(w.depth, w.c) - w.start for w in pathways], axis=0)
    g_lo = np.max([-_potential_range(w.depth, w.c) - w.start for w in pathways], axis=0)

    def residual(G: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # sum K - S below the root, S log(sum K / S) above it: the same root and slope
        # there, but K ~ (g_hi - G)^(-D/(D-2)) near a saturating pathway's edge is tamed,
        # so Newton steps from the right are not each a fixed small fraction of the way.
        total = np.zeros_like(G)
        slope = np.zeros_like(G)
        for pathway in pathways:
            _, K, dK = pathway.state(G, index)
            total += K
            slope += dK
        target = S[index]
        above = total > target
        ratio = np.where(above, total / target, 1.0)
        f = np.where(above, target * np.log(ratio), total - target)
        return f, np.where(above, slope / ratio, slope)

    # G = 0 is the initial state, always inside the domain (g_lo < 0 < g_hi).
    G, converged = _safeguarded_newton(residual, g_lo, g_hi, np.zeros_like(S), G_XTOL, RTOL)
    margin = G_XTOL + RTOL * np.abs(G) + 8 * np.spacing(np.abs(G))
    return G, converged & np.isfinite(G) & (G < g_hi - margin) & (G > g_lo + margin)


def _check_depths(depths: Iterable[int]) -> tuple:
    try:
        values = tuple(depths)
    except TypeError:
        raise ArchitectureError(f"depths: expected a sequence of whole numbers >= 1, got {depths!r}") from None
    bad = [d for d in values if isinstance(d, bool) or not isinstance(d, (int, float, np.integer, np.floating))
           or not float(d).is_integer() or d < 1]
    if not values or bad:
        raise ArchitectureError(f"depths: {list(values)} has {bad[0] if bad else 'no entries'}; "
                                "give whole numbers >= 1, one per pathway, e.g. (1, 3, 6)")
    return tuple(int(d) for d in values)


def _check_singular_values(singular_values: ArrayLike, shape: tuple[int, ...]) -> np.ndarray:
    try:
        S = np.broadcast_to(np.asarray(singular_values, dtype=float), shape)
    except (TypeError, ValueError):
        raise DatasetError(f"singular_values: expected positive numbers of shape (n_modes,) or {shape}, "
                           f"got {np.shape(singular_values)}") from None
    bad = ~(np.isfinite(S) & (S > 0))
    if np.any(bad):
        raise DatasetError(f"singular_values: {S[bad].ravel()[0]} is not a positive finite number; "
                           "the race needs every S_alpha > 0 (drop zero modes)")
    return S


def race_final_strengths(depths: Sequence[int], q0: ArrayLike, p0: ArrayLike, singular_values: ArrayLike, refine_dps: int | None = None) -> np.ndarray:
    """Final allocation ``K_a(infinity)`` of every mode across pathways, from the race.

    Parameters
    ----------
    depths : sequence of int
        ``D_a`` per pathway.
    q0, p0 : array_like, shape ``(*batch, M, n_modes)``
        Initial ``q``, ``p`` (``q`` ignored for depth-1 pathways); ``q^2 - p^2 > 0``.
    singular_values : array_like, shape ``(n_modes,)`` or ``(*batch, n_modes)``
        Positive.
    refine_dps : int, optional
        Polish the float64 root with Newton steps in mpmath at this many digits,
        ``F`` evaluated there as a hypergeometric function. Use it where a final
        ``p`` lies where ``F`` saturates (deep pathways, small ``c``): the float
        inversion loses digits there. Without it, only modes whose float allocation
        misses ``sum_a K_a = S`` by more than ``1e-11 max(S, 1)`` are polished (at 40 digits).

    Returns
    -------
    ndarray, shape ``(*batch, M, n_modes)``
        ``K_{a alpha}(infinity)``, summing to ``S_alpha`` over pathways.

    Raises
    ------
    ArchitectureError
        A depth that is not a whole number >= 1.
    DatasetError
        A singular value that is not positive and finite.
    ConfigError
        Mismatched shapes, ``q^2 - p^2 <= 0`` on a pathway of depth >= 2, or a final
        allocation that float64 and the mpmath polish cannot resolve.

    Notes
    -----
    Solves ``S = sum_a K_a(F_a^{-1}(F_a(p_a(0)) + G))`` for ``G`` (``sum_a K_a`` is
    increasing in ``G``, with slope ``sum_a (p_a^2 + c_a)^(D_a-2) (D_a p_a^2 + c_a)``)
    by safeguarded Newton iteration, all members and modes at once; each
    ``F_a^{-1}`` is the closed form (``D <= 2``) or its own safeguarded Newton
    iteration, started from the previous outer iterate's root.
    """
    depths = _check_depths(depths)
    q0 = np.asarray(q0, dtype=float)
    p0 = np.asarray(p0, dtype=float)
    if q0.shape != p0.shape or p0.ndim < 2 or p0.shape[-2] != len(depths):
        raise ConfigError(f"q0, p0: expected equal shapes (*batch, M={len(depths)}, n_modes), got {q0.shape}, {p0.shape}")
    S = _check_singular_values(singular_values, (*p0.shape[:-2], p0.shape[-1]))
    M = len(depths)
    # Problems on the last axis: (M, *batch, n_modes) -> (M, problems).
    q_flat = np.moveaxis(q0, -2, 0).reshape(M, -1)
    p_flat = np.moveaxis(p0, -2, 0).reshape(M, -1)
    S_flat = np.ascontiguousarray(S).reshape(-1)
    pathways = _race_pathways(depths, q_flat, p_flat)
    G, resolved = _solve_race(pathways, S_flat)
    everything = np.arange(S_flat.size)
    states = [w.state(G, everything) for w in pathways]
    ps = np.array([s[0] for s in states])
    K = np.array([s[1] for s in states])
    inaccurate = ~(np.abs(K.sum(axis=0) - S_flat) <= SUM_TOL * np.maximum(np.abs(S_flat), 1.0))
    for index in (everything if refine_dps else np.flatnonzero(inaccurate)):
        K[:, index] = _polish(depths, pathways, index, G[index], ps[:, index], S_flat[index], refine_dps or 40,
                              resolved[index])
    return np.moveaxis(K.reshape(M, *p0.shape[:-2], p0.shape[-1]), 0, -2)


def _polish(depths: tuple[int, ...], pathways: Sequence[_Pathway], index: int | np.integer, G: float, ps: np.ndarray, S: float, dps: int,
            resolved: bool) -> np.ndarray:
    """:func:`_refine` of one problem, or a ConfigError when it cannot reach ``sum K = S``."""
    if not (resolved and np.all(np.isfinite(ps))):
        raise ConfigError(
            f"race oracle: the final allocation is not resolvable in float64 (depths {depths}, "
            f"c = {[round(float(w.c[index]), 6) for w in pathways]}): a final p lies where F saturates; "
            "use larger c = q^2 - p^2"
        )
    scalar = [(w.depth, float(w.c[index]), float(w.race_p[index])) for w in pathways]
    K = _refine(scalar, float(G), [float(p) for p in ps], float(S), dps)
    if not abs(K.sum() - S) <= SUM_TOL * max(abs(S), 1.0):
        raise ConfigError(
            f"race oracle: no accurate final allocation for depths {depths} (sum K - S = {K.sum() - S:.3g}); "
            "use larger c = q^2 - p^2"
        )
    return K


def _refine(pathways: Sequence[tuple[int, float, float]], G: float, ps: Sequence[float], S: float, dps: int) -> np.ndarray:
    """Newton refinement of ``G`` and every ``p_a`` in mpmath at ``dps`` digits.

    ``F`` is evaluated as ``p c^(-(D-1)/2) 2F1(1/2, (D-1)/2; 3/2; -p^2/c)`` (mpmath),
    independent of the float recursion, which loses digits when a final ``p`` lies
    where ``F`` saturates (deep pathways with small ``c``).
    """
    import mpmath

    with mpmath.workdps(dps):
        half = mpmath.mpf(1) / 2

        def F(p: mpmath.mpf, d: int, c: mpmath.mpf) -> mpmath.mpf:
            if d == 1:
                return p
            return p * c ** (-(d - 1) * half) * mpmath.hyp2f1(half, (d - 1) * half, 3 * half, -(p**2) / c)

        pathways = [(d, mpmath.mpf(c), mpmath.mpf(p)) for d, c, p in pathways]
        starts = [F(p, d, c) for d, c, p in pathways]
        G = mpmath.mpf(G)
        ps = [mpmath.mpf(p) for p in ps]
        tol = mpmath.mpf(10) ** (-(dps - 5))
        for _ in range(60):
            # Inner Newton: F(p_a) = F(p_a(0)) + G, with F' = (p^2 + c)^(-(D-1)/2).
            for a, ((d, c, _), f0) in enumerate(zip(pathways, starts)):
                if d == 1:
                    ps[a] = f0 + G
                    continue
                for _ in range(60):
                    step = (f0 + G - F(ps[a], d, c)) * (ps[a] ** 2 + c) ** ((d - 1) * half)
                    ps[a] += step
                    if abs(step) <= tol * (1 + abs(ps[a])):
                        break
            K = [p if d == 1 else (p**2 + c) ** ((d - 1) * half) * p for (d, c, _), p in zip(pathways, ps)]
            slope = sum(
                1 if d == 1 else (p**2 + c) ** ((d - 3) * half) * (d * p**2 + c) * (p**2 + c) ** ((d - 1) * half)
                for (d, c, _), p in zip(pathways, ps)
            )
            step = (S - sum(K)) / slope
            G += step
            if abs(step) <= tol * (1 + abs(G)):
                break
        return np.array([float(k) for k in K])
