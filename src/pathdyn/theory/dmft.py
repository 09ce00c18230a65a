"""The DMFT site equations of an architecture, symbolically (for text, LaTeX and JSON export).

Gaussian hidden layers (entries of variance ``sigma^2 / N``), input and output vectors
``a = W^1 v`` and ``b = (W^D)^T u`` at scale ``eps_in``, ``eps_out``, whitened data, one
mode of strength ``S`` (modes decouple at infinite width), gradient descent at learning
rate ``eta`` with step ``t`` (time ``eta t``). Pathway ``a`` of depth ``D_a >= 2`` has
sites ``k = 0 .. D_a - 2`` (its hidden activity layers) with forward field
``f_{a,k}(t)`` and backward field ``g_{a,k}(t)``; ``alpha``, ``beta`` are their Gaussian
sources, ``A``, ``B`` their memory kernels, ``C`` correlations and ``R`` responses.
``E[.]`` is the average over the site's sources. :mod:`pathdyn.numerics.dmft` solves
these equations; it does not import this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp

from pathdyn.theory.architecture import Architecture
from pathdyn.theory.dmft_graph import export_dmft_graph
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.models import ReducedModel, register
from pathdyn.theory.document import Document, equation_list
from pathdyn.theory.writers import render

__all__ = ["DMFTSiteEquations", "derive_dmft_equations", "dmft_document", "dmft_to_json", "dmft_to_latex", "dmft_to_text",
           "export_dmft"]

t, s, r = sp.symbols("t s r", integer=True, nonnegative=True)
eta, sigma, S = sp.symbols("eta sigma S", positive=True)
expectation = sp.Function("E")


def _field(name: str, a: int, k: int | None = None) -> sp.FunctionClass:
    return sp.Function(f"{name}_{a}" + ("" if k is None else f"_{k}"))


@dataclass(frozen=True)
class DMFTSiteEquations:
    """The DMFT of one mode for an architecture: a list of labelled equations.

    Attributes
    ----------
    architecture : Architecture
    equations : tuple of (str, sympy.Eq)
        ``(label, equation)`` in the order a causal solver uses them.
    """

    architecture: Architecture
    equations: tuple[tuple[str, sp.Eq], ...]


def _site_equations(a: int, depth: int, eps_in: sp.Symbol, eps_out: sp.Symbol) -> list[tuple[str, sp.Eq]]:
    last = depth - 2
    error = sp.Function("e")
    out: list[tuple[str, sp.Eq]] = []
    for k in range(depth - 1):
        f, g = _field("f", a, k), _field("g", a, k)
        alpha, beta = _field("alpha", a, k), _field("beta", a, k)
        A, B = _field("A", a, k), _field("B", a, k)
        Cf, Cg, Rf, Rg = _field("Cf", a, k), _field("Cg", a, k), _field("Rf", a, k), _field("Rg", a, k)
        if k == 0:
            kernel_A = eta * error(s)
            source_alpha = eps_in**2
        else:
            kernel_A = sigma**2 * _field("Rf", a, k - 1)(t, s) + eta * error(s) * _field("Cf", a, k - 1)(s, t)
            source_alpha = sigma**2 * _field("Cf", a, k - 1)(t, s)
        if k == last:
            kernel_B = eta * error(s)
            source_beta = eps_out**2
        else:
            kernel_B = sigma**2 * _field("Rg", a, k + 1)(t, s) + eta * error(s) * _field("Cg", a, k + 1)(s, t)
            source_beta = sigma**2 * _field("Cg", a, k + 1)(t, s)
        site = f"pathway {a}, site {k}"
        out += [
            (f"{site}: forward kernel", sp.Eq(A(t, s), kernel_A)),
            (f"{site}: backward kernel", sp.Eq(B(t, s), kernel_B)),
            (f"{site}: forward field", sp.Eq(f(t), alpha(t) + sp.Sum(A(t, s) * g(s), (s, 0, t - 1)))),
            (f"{site}: backward field", sp.Eq(g(t), beta(t) + sp.Sum(B(t, s) * f(s), (s, 0, t - 1)))),
            (f"{site}: forward source", sp.Eq(expectation(alpha(t) * alpha(s)), source_alpha)),
            (f"{site}: backward source", sp.Eq(expectation(beta(t) * beta(s)), source_beta)),
            (f"{site}: forward correlation", sp.Eq(Cf(t, s), expectation(f(t) * f(s)))),
            (f"{site}: backward correlation", sp.Eq(Cg(t, s), expectation(g(t) * g(s)))),
            (f"{site}: forward response", sp.Eq(Rf(t, s), expectation(sp.Derivative(f(t), beta(s))))),
            (f"{site}: backward response", sp.Eq(Rg(t, s), expectation(sp.Derivative(g(t), alpha(s))))),
        ]
    if depth == 2:  # one site holds both boundaries: a network's own a.b (0 in the ensemble)
        overlap = sp.Symbol(f"rho_{a}")
        out.append((f"pathway {a}, site 0: cross source",
                    sp.Eq(expectation(_field("alpha", a, 0)(t) * _field("beta", a, 0)(s)), overlap)))
    K = sp.Function(f"K_{a}")
    out.append((f"pathway {a}: strength", sp.Eq(K(t), expectation(_field("f", a, last)(t) * _field("g", a, last)(t)))))
    return out


def derive_dmft_equations(architecture: Architecture | Sequence[int] | str) -> DMFTSiteEquations:
    """The site equations of every pathway and the shared error.

    Parameters
    ----------
    architecture : Architecture, sequence of int or str

    Returns
    -------
    DMFTSiteEquations

    Notes
    -----
    A depth-1 pathway has no site: ``K_a(t + 1) = K_a(t) + eta e(t)``. A depth-2 pathway
    has one site whose sources are the input and output vectors themselves (no random
    matrix), so its equations close on ``|a|^2``, ``|b|^2`` and ``a . b``.
    """
    arch = Architecture.coerce(architecture)
    eps_in, eps_out = sp.symbols("epsilon_in epsilon_out", positive=True)
    error = sp.Function("e")
    equations: list[tuple[str, sp.Eq]] = []
    for a, depth in enumerate(arch.depths, start=1):
        if depth == 1:
            K = sp.Function(f"K_{a}")
            equations.append((f"pathway {a}: strength (depth 1)", sp.Eq(K(t + 1), K(t) + eta * error(t))))
        else:
            equations += _site_equations(a, depth, eps_in, eps_out)
    total = sum(sp.Function(f"K_{a}")(t) for a in range(1, len(arch.depths) + 1))
    equations.append(("error", sp.Eq(error(t), S - total)))
    return DMFTSiteEquations(arch, tuple(equations))


def dmft_document(equations: DMFTSiteEquations) -> Document:
    """The format-neutral document of the site equations: one list of tagged equations.

    Parameters
    ----------
    equations : DMFTSiteEquations

    Returns
    -------
    Document
        ``layout="list"``; typeset with sympy's own symbol names (``mode_indices`` off:
        these are site fields, not mode variables).
    """
    depths = ",".join(map(str, equations.architecture.depths))
    return equation_list(
        f"DMFT site equations, depths {depths}",
        f"# DMFT site equations, depths {depths} (one mode; step t, time eta*t; sums over s run over 0..t-1)",
        [("DMFT site equations", equations.equations)],
        header={"model": "dmft",
                "description": "DMFT site equations of one mode (Gaussian hidden layers); step t, time eta*t; "
                               "expressions as sympy srepr",
                "architecture": equations.architecture.to_dict()})


def dmft_to_text(equations: DMFTSiteEquations) -> str:
    """One ``label: lhs = rhs`` line per equation (sympy's string form).

    Parameters
    ----------
    equations : DMFTSiteEquations

    Returns
    -------
    str
        A comment line, then the equations printed by
        :class:`~pathdyn.theory.printers.PathdynTextPrinter`.
    """
    return render(dmft_document(equations), "text")


def dmft_to_latex(equations: DMFTSiteEquations, fragment: bool = False) -> str:
    """The equations as LaTeX ``align*`` lines (a standalone document unless ``fragment``).

    Parameters
    ----------
    equations : DMFTSiteEquations
    fragment : bool
        ``True`` gives only the ``align*`` environment (it needs ``amsmath``).

    Returns
    -------
    str
        Printed by :class:`~pathdyn.theory.printers.PathdynLatexPrinter` with sympy's
        own symbol names (``mode_indices`` off: these are site fields, not mode variables).
    """
    return render(dmft_document(equations), "latex", fragment=fragment)


def dmft_to_json(equations: DMFTSiteEquations) -> str:
    """``{"model": "dmft", "architecture", "equations": [{"label", "lhs", "rhs"}]}`` with sympy ``srepr`` strings.

    Parameters
    ----------
    equations : DMFTSiteEquations

    Returns
    -------
    str
        Indented JSON; the expressions printed by
        :class:`~pathdyn.theory.printers.PathdynReprPrinter`.
    """
    return render(dmft_document(equations), "json")


def export_dmft(architecture: Architecture | GraphArchitecture | Sequence[int] | str, format: str = "text", fragment: bool = False,
                **options: Any) -> str:
    """Derive and format the DMFT site equations in any registered format.

    Parameters
    ----------
    architecture : Architecture, GraphArchitecture, sequence of int or str
        A graph is written in node form (:func:`pathdyn.theory.dmft_graph.export_dmft_graph`).
    format : str
        A writer of :mod:`pathdyn.theory.writers` (``text``, ``latex``, ``json``, ...).
    fragment : bool
        LaTeX only: the ``align*`` environment without the document.
    **options
        Other options of the writer.

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        For an unknown format or a misplaced option.
    """
    if isinstance(architecture, GraphArchitecture):  # any DAG: the node form of theory.dmft_graph
        return export_dmft_graph(architecture, format, fragment=fragment, **options)
    return render(dmft_document(derive_dmft_equations(architecture)), format, fragment=fragment, **options)


def _dmft_is_exact(depths: Sequence[int], init: str, mapping: str) -> bool:
    # the Gaussian cavity system and the orthogonal overlap march are both infinite-width limits
    return init in ("gaussian", "orthogonal")


def _dmft_limit(model: ReducedModel, method: str, init: str, depths: Sequence[int]) -> str:
    """The DMFT's limit sentence: the infinite-width limit of the seed mean for its hidden layers."""
    return f"infinite-width limit of {'Gaussian' if init == 'gaussian' else init} hidden layers (DMFT), exact for the ensemble mean"


register(ReducedModel(
    name="dmft",
    derive=derive_dmft_equations,
    description="dynamical mean-field theory: the infinite-width mean of K over initial weights",
    is_exact=_dmft_is_exact,
    exact_when="Gaussian or orthogonal hidden layers, whitened inputs: the limit of the seed mean",
    kind="dmft",
    inits=("gaussian", "orthogonal"),
    export=export_dmft,
    limit=_dmft_limit,
))
