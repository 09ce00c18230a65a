"""Speed of the race oracle (issue 14): the batched oracle against the scalar loop it replaced,
and against integrating the same ensemble to convergence. Prints figures and ratios; never
asserts on time.

Ensemble: 1,000 members x 3 modes of one architecture with three pathways of depths
1, 3 and 6 (q0, p0 drawn with q^2 - p^2 in [0.5, 1.5]), singular values 3, 1.5, 0.7.

- ``old``: the scalar implementation that :func:`pathdyn.numerics.race.race_final_strengths`
  replaced (a Python loop over members and modes, ``brentq`` for ``G`` and for every
  inverse race potential). A verbatim copy lives in this file (``old_race_final_strengths``
  and its helpers below), so the benchmark needs no git history.
- ``new``: :func:`pathdyn.numerics.race.race_final_strengths` (all members and modes at once).
- ``LSODA`` / ``rosenbrock``: :func:`pathdyn.numerics.integrate.integrate` of the same
  ensemble to convergence (loss below 1e-20, t_max 1000), compiled right-hand side
  reused, at the integrator's default tolerances (rtol 1e-8) and at rtol 1e-6.

Targets: new >= 30x faster than old; new faster than every integrator call. Also printed:
the largest difference between old and new, and of each integration from the new oracle.

Run: ``.venv/bin/python benchmarks/bench_race.py [--repeats N]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.optimize import brentq  # noqa: E402

from pathdyn.errors import ConfigError  # noqa: E402
from pathdyn.numerics.compile import compile_rhs  # noqa: E402
from pathdyn.numerics.initial import qp_initial_state  # noqa: E402
from pathdyn.numerics.integrate import integrate  # noqa: E402
from pathdyn.numerics.race import race_final_strengths  # noqa: E402
from pathdyn.theory.reduced import reduce_to_modes  # noqa: E402

DEPTHS = (1, 3, 6)
MEMBERS = 1000
SINGULAR_VALUES = np.array([3.0, 1.5, 0.7])


# ---- The scalar oracle as it was before the batched one (verbatim, renamed) ----------------

def _sech_integral(n: int, u: float) -> float:
    """``I_n(u) = int_0^u sech^n(v) dv`` for integer ``n >= 0``."""
    if n == 0:
        return u
    sech, tanh = 1.0 / math.cosh(u), math.tanh(u)
    value = u if n % 2 == 0 else math.atan(math.sinh(u))
    for k in range(2 if n % 2 == 0 else 3, n + 1, 2):
        value = sech ** (k - 2) * tanh / (k - 1) + (k - 2) / (k - 1) * value
    return value


def _sech_integral_limit(n: int) -> float:
    """``I_n(inf)``: infinite for ``n = 0``, else ``sqrt(pi) Gamma(n/2) / (2 Gamma((n+1)/2))``."""
    if n == 0:
        return math.inf
    return math.sqrt(math.pi) * math.exp(math.lgamma(n / 2) - math.lgamma((n + 1) / 2)) / 2


def _check(depth, c):
    if int(depth) != depth or depth < 1:
        raise ConfigError(f"depth: must be a positive integer, got {depth}")
    if depth >= 2 and not (c > 0 and math.isfinite(c)):
        raise ConfigError(f"c: the race needs q^2 - p^2 = c > 0 for a pathway of depth {depth}, got c = {c}")


def race_potential_numeric(p, depth: int, c: float = 1.0, method: str = "elementary"):
    """``F(p) = int_0^p (s^2 + c)^(-(D-1)/2) ds`` (``F(p) = p`` for ``D = 1``).

    Parameters
    ----------
    p : float or array_like
    depth : int
        ``D >= 1``.
    c : float
        The conserved ``q^2 - p^2`` (> 0 for ``D >= 2``).
    method : {"elementary", "hyp2f1", "mpmath"}
        ``"elementary"``: the sech-power recursion (module notes; ``asinh`` at
        ``D = 2``). ``"hyp2f1"``: ``p c^(-(D-1)/2) 2F1(1/2, (D-1)/2; 3/2; -p^2/c)``
        with scipy. ``"mpmath"``: adaptive quadrature at 30 digits.

    Returns
    -------
    float or ndarray
    """
    _check(depth, c)
    p_arr = np.asarray(p, dtype=float)
    if depth == 1:
        return p_arr if p_arr.ndim else float(p_arr)
    if method == "elementary":
        if depth == 2:
            out = np.arcsinh(p_arr / math.sqrt(c))
        else:
            scale = c ** (-(depth - 2) / 2)
            out = np.vectorize(lambda x: scale * _sech_integral(depth - 2, math.asinh(x / math.sqrt(c))))(p_arr)
    elif method == "hyp2f1":
        from scipy.special import hyp2f1

        out = p_arr * c ** (-(depth - 1) / 2) * hyp2f1(0.5, (depth - 1) / 2, 1.5, -(p_arr**2) / c)
    elif method == "mpmath":
        import mpmath

        with mpmath.workdps(30):
            integrand = lambda s: (s**2 + c) ** (-mpmath.mpf(depth - 1) / 2)  # noqa: E731
            out = np.vectorize(lambda x: float(mpmath.quad(integrand, [0, x])))(p_arr)
    else:
        raise ConfigError(f"method: unknown {method!r}; choose elementary, hyp2f1 or mpmath")
    out = np.asarray(out, dtype=float)
    return out if out.ndim else float(out)


def _potential_range(depth: int, c: float) -> float:
    """``sup F`` (= ``-inf F``): finite for ``D >= 3``."""
    if depth <= 2:
        return math.inf
    return c ** (-(depth - 2) / 2) * _sech_integral_limit(depth - 2)


def inverse_race_potential(value: float, depth: int, c: float = 1.0, strict: bool = True) -> float:
    """``p`` with ``F(p) = value`` (closed form for ``D <= 2``, bracketed root finding above).

    Raises
    ------
    ConfigError
        If ``|value|`` is at or beyond ``sup |F|`` (finite for ``D >= 3``): no such
        ``p``. With ``strict=False`` the limit ``+-inf`` is returned instead.
    """
    _check(depth, c)
    if depth == 1:
        return float(value)
    if depth == 2:
        if abs(value) > 700:
            return math.copysign(math.inf, value)
        return math.sqrt(c) * math.sinh(value)
    n = depth - 2
    target = value * c ** (n / 2)
    limit = _sech_integral_limit(n)
    if not abs(target) < limit:
        if not strict:
            return math.copysign(math.inf, target)
        raise ConfigError(f"value: F = {value} is outside the range of the race potential (|F| < {limit * c ** (-n / 2)})")
    if target == 0:
        return 0.0
    hi = 1.0
    while _sech_integral(n, hi) < abs(target):
        if hi >= 700:  # the root lies where sinh leaves float range (as for D = 2 above)
            return math.copysign(math.inf, target)
        hi = min(2.0 * hi, 700.0)
    u = brentq(lambda v: _sech_integral(n, v) - abs(target), 0.0, hi, xtol=1e-16, rtol=4 * np.finfo(float).eps, maxiter=500)
    return math.copysign(math.sqrt(c) * math.sinh(u), target)


def race_strength(p: float, depth: int, c: float) -> float:
    """``K = q^(D-1) p`` with ``q = sqrt(p^2 + c)`` (``K = p`` for ``D = 1``)."""
    if depth == 1:
        return p
    if not math.isfinite(p):
        return p
    try:
        return (p * p + c) ** ((depth - 1) / 2) * p
    except OverflowError:
        return math.copysign(math.inf, p)


def _final_one_mode(depths, q0, p0, S, refine_dps=None):
    """Final ``K_a`` of one mode: solve ``S = sum_a K_a(F_a^{-1}(F_a(p_a(0)) + G))`` for ``G``."""
    pathways = []  # (depth, c, race variable p~ = sign(q)^(D-1) p, so that K = K(p~) exactly)
    for depth, q, p in zip(depths, q0, p0):
        if depth == 1:
            pathways.append((1, 0.0, float(p)))
            continue
        c = q * q - p * p
        _check(depth, c)
        sign = 1.0 if q > 0 or (depth - 1) % 2 == 0 else -1.0
        pathways.append((depth, c, sign * p))
    starts = [race_potential_numeric(pt, d, c) for d, c, pt in pathways]
    ranges = [_potential_range(d, c) if d > 1 else math.inf for d, c, _ in pathways]
    g_hi = min(r - f for r, f in zip(ranges, starts))
    g_lo = max(-r - f for r, f in zip(ranges, starts))

    def race_variables(G):
        return [inverse_race_potential(f0 + G, d, c, strict=False) for (d, c, _), f0 in zip(pathways, starts)]

    def residual(G):
        return sum(race_strength(p, d, c) for (d, c, _), p in zip(pathways, race_variables(G))) - S

    lo, hi = _bracket(residual, g_lo, g_hi)
    try:
        G = lo if lo == hi else brentq(residual, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    except ValueError:
        raise ConfigError(
            f"race oracle: the final allocation is not resolvable in float64 (depths {tuple(depths)}, "
            f"c = {[round(float(c), 6) for _, c, _ in pathways]}): a final p lies where F saturates; use larger c = q^2 - p^2"
        ) from None
    ps = race_variables(G)
    K = np.array([race_strength(p, d, c) for (d, c, _), p in zip(pathways, ps)])
    if not refine_dps and not abs(K.sum() - S) <= 1e-11 * max(abs(S), 1.0):
        # The float inversion lost digits (a final p where F saturates): polish in mpmath.
        refine_dps = 40
    if refine_dps:
        K = _refine(pathways, G, ps, S, refine_dps)
        if not abs(K.sum() - S) <= 1e-11 * max(abs(S), 1.0):
            raise ConfigError(
                f"race oracle: no accurate final allocation for depths {tuple(depths)} (sum K - S = {K.sum() - S:.3g}); "
                "use larger c = q^2 - p^2"
            )
    return K


def _refine(pathways, G, ps, S, dps):
    """Newton refinement of ``G`` and every ``p_a`` in mpmath at ``dps`` digits.

    ``F`` is evaluated as ``p c^(-(D-1)/2) 2F1(1/2, (D-1)/2; 3/2; -p^2/c)`` (mpmath),
    independent of the float recursion, which loses digits when a final ``p`` lies
    where ``F`` saturates (deep pathways with small ``c``).
    """
    import mpmath

    with mpmath.workdps(dps):
        half = mpmath.mpf(1) / 2

        def F(p, d, c):
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


def _bracket(residual, g_lo, g_hi):
    """A finite-valued interval ``[lo, hi]`` with ``residual(lo) < 0 < residual(hi)``.

    ``residual`` increases on ``(g_lo, g_hi)`` from ``-inf`` to ``+inf`` (either end may
    be infinite, in which case the search doubles outwards).
    """

    def search(inner, edge, sign):
        # Move from ``inner`` toward ``edge`` until sign * residual > 0, then back off inf.
        prev, x = inner, inner
        for _ in range(2000):
            if math.isfinite(edge):
                x = edge - (edge - x) / 2 if x != inner else inner + (edge - inner) / 2
            else:
                x = x + sign * max(1.0, abs(x))
            value = residual(x)
            if sign * value > 0 or x == edge:
                break
            prev = x
        for _ in range(200):
            if math.isfinite(residual(x)):
                return prev, x
            x = (prev + x) / 2
        raise ConfigError("race oracle: could not bracket the final allocation; check q0, p0 and S")

    inner = 0.0
    if math.isfinite(g_lo) and math.isfinite(g_hi):
        inner = (g_lo + g_hi) / 2
    elif math.isfinite(g_hi):
        inner = min(0.0, g_hi - 1.0)
    elif math.isfinite(g_lo):
        inner = max(0.0, g_lo + 1.0)
    value = residual(inner)
    if value == 0:
        return inner, inner
    if value < 0:
        lo, hi = search(inner, g_hi, +1.0)
        return max(lo, inner), hi
    hi, lo = search(inner, g_lo, -1.0)
    return lo, min(hi, inner)


def old_race_final_strengths(depths, q0, p0, singular_values, refine_dps: int | None = None) -> np.ndarray:
    """Final allocation ``K_a(infinity)`` of every mode across pathways, from the race.

    Parameters
    ----------
    depths : sequence of int
        ``D_a`` per pathway.
    q0, p0 : array_like, shape (*batch, M, n_modes)
        Initial ``q``, ``p`` (``q`` ignored for depth-1 pathways); ``q^2 - p^2 > 0``.
    singular_values : array_like, shape (n_modes,) or (*batch, n_modes)
    refine_dps : int, optional
        Polish the float64 root with Newton steps in mpmath at this many digits,
        ``F`` evaluated there as a hypergeometric function. Use it where a final
        ``p`` lies where ``F`` saturates (deep pathways, small ``c``): the float
        inversion loses digits there.

    Returns
    -------
    ndarray, shape (*batch, M, n_modes)
        ``K_{a alpha}(infinity)``, summing to ``S_alpha`` over pathways.

    Notes
    -----
    Solves ``S = sum_a K_a(F_a^{-1}(F_a(p_a(0)) + G))`` for ``G`` by bracketed
    root finding (``sum_a K_a`` is increasing in ``G``); each ``F_a^{-1}`` is the
    closed form (``D <= 2``) or a bracketed root of the elementary ``F_a``.
    """
    depths = tuple(int(d) for d in depths)
    q0 = np.asarray(q0, dtype=float)
    p0 = np.asarray(p0, dtype=float)
    if q0.shape != p0.shape or p0.ndim < 2 or p0.shape[-2] != len(depths):
        raise ConfigError(f"q0, p0: expected equal shapes (*batch, M={len(depths)}, n_modes), got {q0.shape}, {p0.shape}")
    S = np.broadcast_to(np.asarray(singular_values, dtype=float), (*p0.shape[:-2], p0.shape[-1]))
    out = np.empty_like(p0)
    for index in np.ndindex(*p0.shape[:-2], p0.shape[-1]):
        *batch, mode = index
        q = q0[(*batch, slice(None), mode)]
        p = p0[(*batch, slice(None), mode)]
        out[(*batch, slice(None), mode)] = _final_one_mode(depths, q, p, float(S[index]), refine_dps)
    return out


# ---- The measurement ----------------------------------------------------------------------


def ensemble(seed: int = 0):
    rng = np.random.default_rng(seed)
    p0 = rng.normal(0.0, 0.3, size=(MEMBERS, len(DEPTHS), SINGULAR_VALUES.size))
    q0 = np.sqrt(p0**2 + rng.uniform(0.5, 1.5, size=p0.shape))
    return q0, p0


def best_time(fn, repeats):
    """Fastest of ``repeats`` runs (the machine is shared: the minimum is the least disturbed)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each fast contender (default 5; old: 2)")
    args = parser.parse_args()
    with open("/proc/loadavg") as handle:
        load = handle.read().split()[:3]
    print(f"bench_race: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, "
          f"load average {' '.join(load)} (a shared machine: compare the ratios)")
    print(f"{MEMBERS} members x {SINGULAR_VALUES.size} modes, pathways of depths {DEPTHS}, S = {SINGULAR_VALUES.tolist()}")
    q0, p0 = ensemble()
    f = compile_rhs(reduce_to_modes(DEPTHS))
    y0 = qp_initial_state(f, q0, p0)

    new_best, new_median, K_new = best_time(lambda: race_final_strengths(DEPTHS, q0, p0, SINGULAR_VALUES), args.repeats)
    old_best, old_median, K_old = best_time(lambda: old_race_final_strengths(DEPTHS, q0, p0, SINGULAR_VALUES), 2)
    rows = [("old (scalar brentq loop)", old_best, old_median, np.max(np.abs(K_old - K_new)) / SINGULAR_VALUES.max()),
            ("new (batched Newton)", new_best, new_median, 0.0)]
    for method in ("LSODA", "rosenbrock"):
        for rtol in (1e-8, 1e-6):
            best, median, traj = best_time(
                lambda: integrate(f, y0, SINGULAR_VALUES, 1000.0, method=method, rtol=rtol, atol=rtol * 1e-2,
                                  loss_tol=1e-20, num_points=2),
                args.repeats,
            )
            if "converged" not in traj.message:
                print(f"  note: {method} rtol {rtol:g} did not converge: {traj.message}")
            rows.append((f"integrate {method} rtol {rtol:g}", best, median,
                         np.max(np.abs(traj.K[-1] - K_new)) / SINGULAR_VALUES.max()))
    print(f"{'':34s} {'best s':>9s} {'median s':>9s} {'new is x faster':>16s} {'max |K - K_new| / S_1':>22s}")
    for name, best, median, error in rows:
        print(f"{name:34s} {best:9.4f} {median:9.4f} {best / new_best:16.1f} {error:22.1e}")
    integrators = [best for name, best, _, _ in rows if name.startswith("integrate")]
    print(f"new vs old: {old_best / new_best:.1f}x (target >= 30x); new vs the fastest integrator call: "
          f"{min(integrators) / new_best:.1f}x (target > 1x)")


if __name__ == "__main__":
    main()
