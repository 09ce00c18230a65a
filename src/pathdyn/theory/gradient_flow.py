"""The matrix gradient flow of a multi-pathway linear network, derived by sympy.

The loss of docs/theory.md, *Notation and loss*,

    L = 1/2 tr(Omega Sigma_x Omega^T) - tr(Sigma_yx Omega^T),
    Omega = sum_a W_a^{D_a} ... W_a^1,

is written with sympy ``MatrixSymbol`` objects (weights ``W_a^d``, ``Sigma_x``,
``Sigma_yx``; ``Sigma_x`` is the identity for whitened inputs) and differentiated
with sympy's matrix calculus to give ``tau dW_a^d/dt = -dL/dW_a^d`` (tau = 1).

Two derivations are available and the tests check each against a finite-difference
gradient of the numeric loss:

``method="chain"`` (default, fast at any depth)
    The graph engine (:func:`pathdyn.theory.graph_flow.derive_graph_flow`) on the
    pathways' graph, each edge renamed to its layer: pathways are the special case of a
    graph. The chain rule through ``Omega``: sympy differentiates ``L`` with respect to the
    matrix symbol ``Omega`` (``G = dL/dOmega``), then differentiates the linear
    functional ``tr(G^T Omega_a)`` with respect to ``W_a^d``. For the second step
    the factors of ``Omega_a = W^{>d} W_a^d W^{<d}`` that do not contain
    ``W_a^d`` are held as opaque matrix symbols ``A``, ``B`` so that sympy
    differentiates ``tr(G^T A X B)`` with respect to ``X`` (once per case: with or
    without ``A`` and ``B``) and the result is instantiated by substitution. Plain
    sympy differentiation of a depth-50 product is about a thousand times slower per
    layer than this route (``benchmarks/bench_derive.py`` prints derivation times).
``method="direct"``
    sympy differentiates the whole loss, with ``Omega`` written out as the sum of
    weight products, with respect to each weight. Exact but slow beyond depth ~5;
    used as a cross-check.

Notes
-----
sympy 1.14 returns 0 for the derivative of a *sum of traces* with respect to a
matrix symbol (``diff(Trace(X*A) + Trace(X*B), X)``), so the loss is kept as one
trace ``tr(Omega Sigma_x Omega^T / 2 - Sigma_yx Omega^T)``. ``Sigma_x`` is
symmetric (``X X^T / P``); sympy's derivative contains ``Sigma_x^T``, which is
replaced by ``Sigma_x`` before the result is simplified.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from typing import Any

import sympy as sp

from pathdyn.errors import ConfigError, DerivationError
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.architecture import pathway_graph
from pathdyn.theory.graph_flow import derive_graph_flow
from pathdyn.theory.matrix_calculus import (
    derive_direct,
    dimension_symbol,
    is_zero_matrix,
    matrix_product,
    symmetric_inputs,
)
from pathdyn.theory.display import gradient_flow_latex

__all__ = [
    "GradientFlow",
    "derive_gradient_flow",
    "dimension_symbol",
    "weight_symbol",
]

_METHODS = ("chain", "direct")


def weight_symbol(pathway: int, layer: int, rows: int | sp.Symbol, cols: int | sp.Symbol) -> sp.MatrixSymbol:
    """``W_a^d`` (both 1-based) as the matrix symbol ``W_{a}_{d}`` of shape ``rows x cols``.

    Parameters
    ----------
    pathway, layer : int
        1-based indices.
    rows, cols : int or sympy.Symbol
        The shape.

    Returns
    -------
    sympy.MatrixSymbol
        The weight.
    """
    return sp.MatrixSymbol(f"W_{pathway}_{layer}", rows, cols)


@dataclass(frozen=True)
class GradientFlow:
    """The derived gradient flow ``tau dW_a^d/dt = -dL/dW_a^d`` (tau = 1).

    Attributes
    ----------
    architecture : Architecture
    weights : tuple of tuple of sympy.MatrixSymbol
        ``weights[a-1][d-1]`` is ``W_a^d``, shape ``(width after d, width before d)``.
    sigma_x : sympy.MatrixExpr
        ``Identity(n_in)`` when whitened, else the matrix symbol ``Sigma_x``.
    sigma_yx : sympy.MatrixSymbol
    omega : sympy.MatrixSymbol
        The network map ``Omega`` as a symbol; the right-hand sides use it.
    omega_definition : sympy.MatrixExpr
        ``sum_a W_a^{D_a} ... W_a^1``.
    loss : sympy.Expr
        ``tr(Omega Sigma_x Omega^T / 2 - Sigma_yx Omega^T)`` in the symbol ``Omega``.
    omega_gradient : sympy.MatrixExpr
        ``dL/dOmega`` as derived by sympy (``Sigma_x^T`` replaced by ``Sigma_x``).
    rhs : tuple of tuple of sympy.MatrixExpr
        ``rhs[a-1][d-1]`` is ``-dL/dW_a^d`` in terms of the weights, ``Sigma_yx``,
        ``Sigma_x`` and the symbol ``Omega``. :meth:`rhs_of` with ``expand=True``
        substitutes ``omega_definition``.
    dimensions : tuple of sympy.Symbol
        The symbolic dimensions used in the shapes (empty when all are given).
    method : str
        ``"chain"`` or ``"direct"``.
    """

    architecture: Architecture
    weights: tuple
    sigma_x: sp.MatrixExpr
    sigma_yx: sp.MatrixSymbol
    omega: sp.MatrixSymbol
    omega_definition: object
    loss: Any
    omega_gradient: object
    rhs: tuple
    dimensions: tuple = ()
    method: str = "chain"

    def _repr_latex_(self) -> str:
        r"""Jupyter's LaTeX display: the loss, the network map and every layer's ``tau dW/dt``."""

        return gradient_flow_latex(self)

    def __post_init__(self) -> None:
        problems = []
        depths = self.architecture.depths
        if len(self.weights) != len(depths) or any(len(w) != d for w, d in zip(self.weights, depths)):
            problems.append("weights must hold one matrix symbol per layer of every pathway")
        if len(self.rhs) != len(depths) or any(len(r) != d for r, d in zip(self.rhs, depths)):
            problems.append("rhs must hold one right-hand side per layer of every pathway")
        else:
            for a, (ws, rs) in enumerate(zip(self.weights, self.rhs), start=1):
                for d, (w, r) in enumerate(zip(ws, rs), start=1):
                    if r.shape != w.shape:
                        problems.append(f"rhs of W_{a}_{d} has shape {r.shape}, expected {w.shape}")
        if self.method not in _METHODS:
            problems.append(f"method {self.method!r} is not one of {_METHODS}")
        if problems:
            raise DerivationError("invalid GradientFlow: " + "; ".join(problems))
        object.__setattr__(self, "weights", tuple(tuple(w) for w in self.weights))
        object.__setattr__(self, "rhs", tuple(tuple(r) for r in self.rhs))
        object.__setattr__(self, "dimensions", tuple(self.dimensions))

    @property
    def depths(self) -> tuple:
        return self.architecture.depths

    @property
    def whitened(self) -> bool:
        return self.architecture.whitened

    def weight(self, pathway: int, layer: int) -> sp.MatrixSymbol:
        """``W_a^d`` (1-based).

        Parameters
        ----------
        pathway, layer : int
            1-based indices.

        Returns
        -------
        sympy.MatrixSymbol
            The weight.
        """
        self._check_index(pathway, layer)
        return self.weights[pathway - 1][layer - 1]

    def rhs_of(self, pathway: int, layer: int, expand: bool = False) -> sp.MatrixExpr:
        """``-dL/dW_a^d``; with ``expand=True`` ``Omega`` is written out in the weights.

        Parameters
        ----------
        pathway, layer : int
            1-based indices.
        expand : bool
            Write ``Omega`` out as the sum of the weight products.

        Returns
        -------
        sympy.MatrixExpr
            The right-hand side of ``dW_a^d/dt``.
        """
        self._check_index(pathway, layer)
        rhs = self.rhs[pathway - 1][layer - 1]
        return rhs.xreplace({self.omega: self.omega_definition}) if expand else rhs

    @property
    def expanded_loss(self) -> sp.Expr:
        """The loss with ``Omega`` written out in the weights."""
        return self.loss.xreplace({self.omega: self.omega_definition})

    def equations(self) -> Iterator[tuple[int, int, sp.MatrixSymbol, sp.MatrixExpr]]:
        """Iterate ``(pathway, layer, W_a^d, rhs)`` in pathway-then-layer order.

        Yields
        ------
        tuple
            ``(pathway, layer, W_a^d, rhs)``.
        """
        for a, (ws, rs) in enumerate(zip(self.weights, self.rhs), start=1):
            for d, (w, r) in enumerate(zip(ws, rs), start=1):
                yield a, d, w, r

    def _check_index(self, pathway: int, layer: int) -> None:
        depths = self.depths
        if not (1 <= pathway <= len(depths)) or not (1 <= layer <= depths[pathway - 1]):
            raise ConfigError(
                f"(pathway, layer) = ({pathway}, {layer}) is not in the architecture with depths {depths};"
                " both are 1-based"
            )


# ---------------------------------------------------------------- derivation helpers
def _shapes(arch: Architecture) -> tuple[int | sp.Symbol, int | sp.Symbol, list[list[int | sp.Symbol]], tuple[sp.Symbol, ...]]:
    """Dimensions per pathway: ``dims[a-1][d]`` for d = 0..D_a (input, hidden..., output)."""
    symbols = []
    n_in = arch.n_in if arch.n_in is not None else dimension_symbol("n_in")
    n_out = arch.n_out if arch.n_out is not None else dimension_symbol("n_out")
    for value in (n_in, n_out):
        if isinstance(value, sp.Symbol):
            symbols.append(value)
    dims = []
    for a, depth in enumerate(arch.depths, start=1):
        hidden = []
        for d in range(1, depth):
            width = arch.hidden_width(a, d)
            if width is None:
                width = dimension_symbol(f"N_{a}_{d}")
                symbols.append(width)
            hidden.append(width)
        dims.append([n_in, *hidden, n_out])
    return n_in, n_out, dims, tuple(symbols)


def derive_gradient_flow(architecture: Architecture | Sequence[int], method: str = "chain") -> GradientFlow:
    """Derive ``tau dW_a^d/dt = -dL/dW_a^d`` for every layer by sympy matrix calculus.

    Parameters
    ----------
    architecture : Architecture or sequence of int
        Depths, dimensions (symbolic where not given: ``n_in``, ``n_out``,
        ``N_a_d`` the width after layer ``d`` of pathway ``a``), whitened or not.
    method : {"chain", "direct"}
        ``"chain"`` differentiates through ``Omega`` (fast at any depth);
        ``"direct"`` differentiates the written-out loss (slow; a cross-check).

    Returns
    -------
    GradientFlow

    Raises
    ------
    ConfigError
        For an unknown method.
    DerivationError
        If sympy returns a derivative of the wrong shape or zero.

    Notes
    -----
    With ``G = dL/dOmega = Omega Sigma_x - Sigma_yx`` (derived) the result is

    .. math:: \\tau \\dot W_a^d = (W_a^{D_a} \\cdots W_a^{d+1})^T
              [\\Sigma^{yx} - \\Omega \\Sigma^x] (W_a^{d-1} \\cdots W_a^1)^T,

    which for whitened inputs is the paper's equation.

    Examples
    --------
    >>> flow = derive_gradient_flow((2, 1))
    >>> flow.rhs_of(1, 1)
    W_1_2.T*(-Omega + Sigma_yx)
    >>> flow.rhs_of(2, 1)
    -Omega + Sigma_yx
    """
    if method not in _METHODS:
        raise ConfigError(f"method: unknown derivation {method!r}; choose one of {', '.join(_METHODS)}")
    arch = Architecture.coerce(architecture)
    n_in, n_out, dims, dimensions = _shapes(arch)
    weights = tuple(
        tuple(weight_symbol(a, d, dims[a - 1][d], dims[a - 1][d - 1]) for d in range(1, depth + 1))
        for a, depth in enumerate(arch.depths, start=1)
    )
    sigma_x = sp.Identity(n_in) if arch.whitened else sp.MatrixSymbol("Sigma_x", n_in, n_in)
    sigma_yx = sp.MatrixSymbol("Sigma_yx", n_out, n_in)
    omega = sp.MatrixSymbol("Omega", n_out, n_in)
    pathway_maps = [matrix_product(list(reversed(ws))) for ws in weights]
    omega_definition = sp.MatAdd(*pathway_maps) if len(pathway_maps) > 1 else pathway_maps[0]
    # One trace: sympy 1.14 differentiates a sum of traces to 0.
    loss = sp.Trace(omega * sigma_x * omega.T / 2 - sigma_yx * omega.T)
    omega_gradient = symmetric_inputs(sp.diff(loss, omega), sigma_x).doit()
    if is_zero_matrix(omega_gradient) or omega_gradient.shape != omega.shape:
        raise DerivationError(f"sympy returned {omega_gradient} for dL/dOmega")
    if method == "chain":
        rhs = _derive_on_the_graph(arch, weights)
    else:
        rhs = derive_direct(weights, loss.xreplace({omega: omega_definition}), sigma_x)
    return GradientFlow(
        architecture=arch,
        weights=weights,
        sigma_x=sigma_x,
        sigma_yx=sigma_yx,
        omega=omega,
        omega_definition=omega_definition,
        loss=loss,
        omega_gradient=omega_gradient,
        rhs=rhs,
        dimensions=dimensions,
        method=method,
    )


def _derive_on_the_graph(arch: Architecture, weights: Sequence[Sequence[sp.MatrixSymbol]]) -> tuple:
    """``-dL/dW_a^d`` from the graph engine: the pathways' graph, its edges renamed to the layers.

    :func:`pathdyn.theory.graph_flow.derive_graph_flow` derives the flow of every edge of
    the pathways' graph (:func:`pathdyn.theory.architecture.pathway_graph`) written over its paths,
    which for a chain is the paper's grouping ``(W^{>d})^T [Sigma_yx - Omega Sigma_x]
    (W^{<d})^T``; each edge carries its layer's ``W_a^d``. Depth-1 pathways share the edge
    ``x -> y``, whose flow does not contain its own weight.
    """
    graph, layers = pathway_graph(arch)
    named = {edge: w for edges, ws in zip(layers, weights) for edge, w in zip(edges, ws)}
    flow = derive_graph_flow(graph, form="path-sums", weights=named)
    return tuple(tuple(flow.rhs[edge] for edge in edges) for edges in layers)
