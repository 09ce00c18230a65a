"""The exported DMFT site equations (``theory.dmft``) hold on the numeric march's kernels.

:mod:`pathdyn.numerics.dmft` solves the equations that ``derive --model dmft`` exports but does
not import them; this test ties the two. It marches one pathway, unpacks every kernel the march
keeps, evaluates the exported kernel and source equations on them (``sympy.lambdify``), solves
each site as the linear maps ``f = alpha + A g``, ``g = beta + B f`` (``P = (I - AB)^{-1}``,
``Q = (I - BA)^{-1}``, ``Rf = P A``, ``Rg = Q B``, ``Cf = P Sa P^T + Rf Sb Rf^T``,
``Cg = Q Sb Q^T + Rg Sa Rg^T``, ``K(t) = [P Sa Rg^T + Rf Sb Q^T]_tt``) and asks for the march's
own arrays and its error ``e = S - K`` back.
"""

import numpy as np
import pytest
import sympy as sp

from pathdyn.numerics.dmft import _Pathway
from pathdyn.theory.dmft import derive_dmft_equations

DEPTH, STEPS, ETA, SIGMA, S = 4, 40, 0.05, 0.5, 2.0


def _dense(packed, size):
    """The lower triangle of ``size`` rows stored row after row (batch of one), as a square."""
    M = np.zeros((size, size))
    M[np.tril_indices(size)] = packed[0, : size * (size + 1) // 2]
    return M


def _march(responses):
    size = STEPS + 1
    pathway = _Pathway(DEPTH, size, SIGMA**2, SIGMA**2, SIGMA**2, 0.0, ETA, responses)
    e = np.zeros(size)
    for t in range(size):
        pathway.step(t, e)
        e[t] = S - pathway.strength(t)
    kernels = {}
    for name in ("P", "Q", "Rf", "Rg", "Cf", "Cg"):
        for k, M in enumerate(getattr(pathway, name)):
            if M is not None:
                dense = _dense(M, size)
                if name in ("Cf", "Cg"):  # symmetric: the march keeps the lower triangle
                    dense = dense + np.tril(dense, -1).T
                kernels[name, k] = dense
    return kernels, e


def _evaluate(expression, kernels, e, size, strict):
    """The exported right-hand side on the march's kernels, as a (t, s) matrix (strictly causal: s < t)."""
    t, s = sp.symbols("t s", integer=True, nonnegative=True)
    names = {}
    for (name, k), M in kernels.items():
        names[f"{name}_1_{k}"] = (lambda M: lambda a, b: M[a, b])(M)
    names["e"] = lambda a: e[a]
    values = {"eta": ETA, "sigma": SIGMA, "epsilon_in": SIGMA, "epsilon_out": SIGMA}
    constants = {symbol: values[symbol.name] for symbol in expression.free_symbols if symbol.name in values}
    function = sp.lambdify((t, s), expression.subs(constants), modules=[names, "numpy"])
    out = np.zeros((size, size))
    for a in range(size):
        for b in range(a if strict else size):
            out[a, b] = function(a, b)
    return out


@pytest.mark.parametrize("responses", [True, False])
def test_exported_site_equations_hold_on_the_march(responses):
    """Depth 4 (three sites: first, inner, last), 40 steps at eta 0.05, the mode learned.

    The march with its response terms satisfies the exported equations to rounding (1e-10 of
    the largest entry). Not vacuous: the march without them (``responses=False``, the
    "gradient independence" shortcut) is far from them: 0.23 in P, Q, Rf, Rg (2e-16 with them).
    """
    equations = dict(derive_dmft_equations((DEPTH,)).equations)
    size = STEPS + 1
    kernels, e = _march(responses)
    assert abs(S - e[-1]) > 0.5  # the mode was learned, so the kernels are not trivial
    identity = np.eye(size)
    gaps = []
    for k in range(DEPTH - 1):
        A = _evaluate(equations[f"pathway 1, site {k}: forward kernel"].rhs, kernels, e, size, strict=True)
        B = _evaluate(equations[f"pathway 1, site {k}: backward kernel"].rhs, kernels, e, size, strict=True)
        Sa = _evaluate(equations[f"pathway 1, site {k}: forward source"].rhs, kernels, e, size, strict=False)
        Sb = _evaluate(equations[f"pathway 1, site {k}: backward source"].rhs, kernels, e, size, strict=False)
        P, Q = np.linalg.inv(identity - A @ B), np.linalg.inv(identity - B @ A)
        solved = {"P": P, "Q": Q, "Rf": P @ A, "Rg": Q @ B, "Cf": P @ Sa @ P.T + P @ A @ Sb @ (P @ A).T,
                  "Cg": Q @ Sb @ Q.T + Q @ B @ Sa @ (Q @ B).T}
        for name, M in solved.items():
            if (name, k) in kernels:
                gaps.append(np.max(np.abs(M - kernels[name, k])) / max(1.0, np.max(np.abs(M))))
        if k == DEPTH - 2:
            K = np.diag(P @ Sa @ (Q @ B).T + P @ A @ Sb @ Q.T)
            gaps.append(np.max(np.abs((S - K) - e)) / S)
    if responses:
        assert max(gaps) < 1e-10, gaps
    else:
        assert max(gaps) > 1e-3, gaps
