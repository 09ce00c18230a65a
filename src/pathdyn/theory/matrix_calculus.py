"""Matrix calculus shared by the gradient flows of pathways and graphs.

sympy differentiates the loss with respect to the network map ``Omega``
(``G = dL/dOmega``) and the linear functional ``tr(G^T A X B)`` with respect to one weight
``X``; :func:`factor_derivative` holds that derivative once per kind of weight (with or
without a left factor ``A`` and a right factor ``B``), and each weight substitutes its own
factors. :func:`derive_direct` differentiates the written-out loss instead (a cross-check).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import sympy as sp

from pathdyn.errors import DerivationError

__all__ = [
    "derive_direct",
    "dimension_symbol",
    "factor_derivative",
    "is_zero_matrix",
    "matrix_product",
    "symmetric_inputs",
]


def dimension_symbol(name: str) -> sp.Symbol:
    """A symbolic matrix dimension (positive integer), e.g. ``n_in`` or ``N_1_2``.

    Parameters
    ----------
    name : str
        The symbol's name.

    Returns
    -------
    sympy.Symbol
        A positive integer symbol.
    """
    return sp.Symbol(name, positive=True, integer=True)


def matrix_product(factors: Sequence[sp.MatrixExpr]) -> sp.MatrixExpr | None:
    """``factors[0] * factors[1] * ...`` as a matrix expression, or None if empty.

    Parameters
    ----------
    factors : sequence of sympy.MatrixExpr

    Returns
    -------
    sympy.MatrixExpr or None
    """
    if not factors:
        return None
    if len(factors) == 1:
        return factors[0]
    return sp.MatMul(*factors)


@lru_cache(maxsize=None)
def factor_derivative(has_left: bool, has_right: bool) -> tuple[sp.MatrixExpr, tuple[sp.MatrixSymbol, sp.MatrixSymbol | None, sp.MatrixSymbol, sp.MatrixSymbol | None]]:
    """sympy's derivative of ``tr(G^T A X B)`` with respect to ``X``.

    Parameters
    ----------
    has_left, has_right : bool
        Whether the left factor ``A`` and the right factor ``B`` are present.

    Returns
    -------
    (sympy.MatrixExpr, tuple)
        The derivative and the placeholder symbols ``(G, A, X, B)`` (None for an absent factor).

    Raises
    ------
    DerivationError
        When sympy gives no derivative.
    """
    r, k, l, c = (dimension_symbol(n) for n in ("r_", "k_", "l_", "c_"))
    G = sp.MatrixSymbol("G_", r, c)
    A = sp.MatrixSymbol("A_", r, k) if has_left else None
    X = sp.MatrixSymbol("X_", k if has_left else r, l if has_right else c)
    B = sp.MatrixSymbol("B_", l, c) if has_right else None
    factors = [f for f in (A, X, B) if f is not None]
    derivative = sp.diff(sp.Trace(sp.MatMul(G.T, *factors)), X)
    if is_zero_matrix(derivative) or derivative.shape != X.shape:
        raise DerivationError(f"sympy returned {derivative} for d tr(G^T A X B)/dX")
    return derivative, (G, A, X, B)


def is_zero_matrix(expr: sp.Basic) -> bool:
    """Whether a sympy (matrix) expression is zero.

    Parameters
    ----------
    expr : sympy.Expr or sympy.MatrixExpr

    Returns
    -------
    bool
    """
    return expr == 0 or bool(getattr(expr, "is_ZeroMatrix", False))


def symmetric_inputs(expr: sp.MatrixExpr, sigma_x: sp.MatrixExpr) -> sp.MatrixExpr:
    """Use ``Sigma_x^T = Sigma_x`` (an input correlation is symmetric).

    Parameters
    ----------
    expr : sympy.MatrixExpr
    sigma_x : sympy.MatrixSymbol or sympy.Identity

    Returns
    -------
    sympy.MatrixExpr
        ``expr`` with every ``Sigma_x^T`` replaced by ``Sigma_x``.
    """
    if isinstance(sigma_x, sp.MatrixSymbol):
        expr = expr.xreplace({sp.Transpose(sigma_x): sigma_x})
    return expr


def derive_direct(weights: Sequence[Sequence[sp.MatrixSymbol]], expanded_loss: sp.Expr, sigma_x: sp.MatrixExpr) -> tuple:
    """``-dL/dW`` by differentiating the written-out loss (the result has no ``Omega`` symbol).

    Parameters
    ----------
    weights : sequence of sequence of sympy.MatrixSymbol
        The weights of each pathway, input layer first.
    expanded_loss : sympy.Expr
        The loss with every product written out.
    sigma_x : sympy.MatrixSymbol or sympy.Identity
        The input correlation (symmetric).

    Returns
    -------
    tuple of tuple of sympy.MatrixExpr
        ``-dL/dW`` per pathway and layer.

    Raises
    ------
    DerivationError
        When sympy returns a zero or misshaped derivative.
    """
    rhs = []
    for ws in weights:
        pathway_rhs = []
        for w in ws:
            derivative = symmetric_inputs(sp.diff(expanded_loss, w), sigma_x)
            if is_zero_matrix(derivative) or derivative.shape != w.shape:
                raise DerivationError(f"sympy returned {derivative} for dL/d{w}")
            pathway_rhs.append((-derivative).doit())
        rhs.append(tuple(pathway_rhs))
    return tuple(rhs)
