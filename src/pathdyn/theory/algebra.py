"""Small exact-algebra helpers shared by the derivations and the exports (sympy only).

:func:`is_identically_zero` decides whether a polynomial expression vanishes by expanding
it once in sparse polynomials (fast where ``simplify`` is slow); :func:`xreplace_all`
substitutes into many expressions that share subexpressions with one cache.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

__all__ = ["is_identically_zero", "xreplace_all"]


def xreplace_all(exprs: Sequence[sp.Expr], rule: dict) -> list:
    """``[e.xreplace(rule) for e in exprs]`` with one cache shared by every expression.

    The per-layer right-hand sides share the common error ``S - sum_b K_b``; the
    cache rebuilds it once instead of once per layer. Same semantics as
    ``Basic.xreplace`` (rule lookup first, then arguments, rebuilt with ``func``).

    Parameters
    ----------
    exprs : sequence of sympy.Expr
    rule : dict
        Old subexpression -> new.

    Returns
    -------
    list of sympy.Expr
    """
    cache: dict = {}

    def walk(expr: sp.Basic) -> sp.Basic:
        if expr in rule:
            return rule[expr]
        try:
            return cache[expr]
        except KeyError:
            pass
        result = expr
        if expr.args:
            args = [walk(arg) for arg in expr.args]
            if any(new is not old for new, old in zip(args, expr.args)):
                result = expr.func(*args)
        cache[expr] = result
        return result

    return [walk(sp.sympify(e)) for e in exprs]


def _sparse_polynomials(exprs: Sequence[sp.Expr]) -> list:
    """``exprs`` as sparse polynomials (monomial -> coefficient) over their free symbols."""
    _, polys = sp.polys.rings.sring(list(exprs))
    return [dict(p) for p in polys]


def is_identically_zero(expr: sp.Expr) -> bool:
    """Whether a polynomial expression vanishes identically (expanded in sparse polys).

    Parameters
    ----------
    expr : sympy.Expr
        The expression (sympy's ``simplify`` decides when it is not a polynomial).

    Returns
    -------
    bool
        Whether it is zero.
    """
    expr = sp.sympify(expr)
    if expr == 0:
        return True
    try:
        return not _sparse_polynomials([expr])[0]
    except (sp.PolynomialError, sp.polys.polyerrors.GeneratorsNeeded):
        return sp.simplify(expr) == 0
