"""The groups of equations of one pathway derivation, and their LaTeX display in Jupyter.

The exporter (:mod:`pathdyn.theory.export`) assembles its documents from these groups; the
equation objects (:class:`~pathdyn.theory.modes.ModeEquations`,
:class:`~pathdyn.theory.gradient_flow.GradientFlow`) display themselves through
:func:`mode_equations_latex` and :func:`gradient_flow_latex`. This module sits below both,
so neither closes an import circle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from pathdyn.errors import DerivationError
from pathdyn.theory.algebra import is_identically_zero
from pathdyn.theory.document import Equation, EquationKind, Group, Literal, Relation
from pathdyn.theory.printers import ModeError, ScaledError
from pathdyn.theory.writers import LatexWriter

if TYPE_CHECKING:  # types only: the equation objects import this module
    from pathdyn.theory.gradient_flow import GradientFlow
    from pathdyn.theory.modes import ModeEquations

__all__ = ["definitions_group", "flow_groups", "gradient_flow_latex", "mode_equations_latex", "mode_groups", "mode_parts"]

_K = EquationKind


def mode_parts(modes: ModeEquations) -> list[tuple]:
    """Per state variable ``(pathway, variable letter, symbol, prefactor, rhs)``.

    Parameters
    ----------
    modes : ModeEquations
        The reduced equations of one mode.

    Returns
    -------
    list of tuple
        ``(pathway, role, symbol, prefactor, rhs)`` per state variable.

    Raises
    ------
    DerivationError
        When a right-hand side is not a multiple of the mode error.

    Notes
    -----
    ``rhs = prefactor * (S - sum_b K_b)``; the split is verified symbolically.
    """
    error = modes.error
    parts = []
    for x, rhs, a, record in zip(modes.state, modes.rhs, modes.state_pathway, modes.layout):
        if rhs == error:
            prefactor = sp.Integer(1)
        elif isinstance(rhs, sp.Mul) and error in rhs.args:
            rest = list(rhs.args)
            rest.remove(error)
            prefactor = sp.Mul(*rest)
        else:
            prefactor = sp.cancel(rhs / error)
        if not is_identically_zero(prefactor * error - rhs):
            raise DerivationError(f"d{x}/dt = {rhs} is not a multiple of the mode error {error}")
        parts.append((a, record.role, x, prefactor, rhs))
    return parts


def definitions_group(flow: GradientFlow) -> Group:
    """The loss (as the model defines it), the network map and the gradient of the loss.

    Parameters
    ----------
    flow : GradientFlow

    Returns
    -------
    Group
        Three equations, kind ``DEFINITIONS``.
    """
    arch = flow.architecture
    loss_inner = r"\Omega \Omega^{\top}" if arch.whitened else r"\Omega \Sigma^{x} \Omega^{\top}"
    loss = Literal(
        "1/2 tr(Omega Sigma_x Omega^T) - tr(Sigma_yx Omega^T)" + (", Sigma_x = I (whitened)" if arch.whitened else ""),
        (rf"\tfrac{{1}}{{2}} \operatorname{{tr}}\bigl({loss_inner}\bigr)", r"- \operatorname{tr}\bigl(\Sigma^{yx} \Omega^{\top}\bigr)"))
    terms = [ws[0] if len(ws) == 1 else sp.MatMul(*reversed(ws)) for ws in flow.weights]
    in_pathway_order = terms[0] if len(terms) == 1 else sp.MatAdd(*terms, evaluate=False)
    return Group("loss, network map and its gradient (sympy)", _K.DEFINITIONS, (
        Equation(sp.Symbol("L"), loss, note="loss"),
        Equation(flow.omega, flow.omega_definition, note="network map", keys=(("name", flow.omega.name),),
                 display=in_pathway_order),
        Equation(flow.omega, flow.omega_gradient, Relation.GRADIENT, note="gradient with respect to Omega (sympy)"),
    ))


def flow_groups(flow: GradientFlow) -> list:
    """One group per pathway: ``tau dW_a^d/dt`` of its layers.

    Parameters
    ----------
    flow : GradientFlow

    Returns
    -------
    list of Group
        One per pathway, kind ``GRADIENT_FLOW``, aligned alike.
    """
    equations: dict[int, list[Equation]] = {}
    for a, d, w, rhs in flow.equations():
        equations.setdefault(a, []).append(Equation(
            w, rhs, Relation.RATE, label=f"W-{a}-{d}", note=f"gradient flow, pathway {a}, layer {d}",
            keys=(("pathway", a), ("layer", d))))
    reference = sp.MatrixSymbol("W_1_1", 1, 1)  # the rows line up as if every left side were this one
    return [Group(f"gradient flow, pathway {a}, " + (f"layers 1-{len(rows)}" if len(rows) > 1 else "layer 1"),
                  _K.GRADIENT_FLOW, tuple(rows), align_like=reference) for a, rows in equations.items()]


def mode_groups(modes: ModeEquations) -> list:
    """The mode strengths, the reduced equations (shown as a multiple of the mode's error) and the invariants.

    Parameters
    ----------
    modes : ModeEquations

    Returns
    -------
    list of Group
        Strengths, reduced equations and (when there are any) conserved quantities.
    """
    strengths = [Equation(sp.Symbol(f"K_{a}"), k, note=f"mode strength of pathway {a}", keys=(("pathway", a),))
                 for a, k in enumerate(modes.strengths, start=1)]
    error = ModeError(modes.S, modes.input_variance or 1, *[sp.Symbol(f"K_{a}") for a in range(1, modes.num_pathways + 1)])
    reduced = [Equation(x, f, Relation.RATE, label=f"{letter}-{a}", note=f"reduced equation, pathway {a}, {letter}",
                        keys=(("pathway", a), ("variable", letter)), display=ScaledError(prefactor, error))
               for a, letter, x, prefactor, f in mode_parts(modes)]
    conserved = [Equation(inv.expr, sp.Integer(0), Relation.CONSERVED, label=f"conserved-{inv.pathway}",
                          note=f"conserved quantity, pathway {inv.pathway}", keys=(("pathway", inv.pathway),),
                          term_order="rev-lex") for inv in modes.invariants]
    groups = [Group("mode strengths", _K.STRENGTHS, tuple(strengths)),
              Group("reduced equations of one mode", _K.REDUCED, tuple(reduced))]
    if conserved:
        groups.append(Group("conserved quantities", _K.CONSERVED, tuple(conserved)))
    return groups


def mode_equations_latex(modes: ModeEquations) -> str:
    """The mode strengths and reduced equations of ``modes`` as one ``aligned`` block (for Jupyter).

    Equations that are a multiple of the mode error ``S_alpha - sum_b K_{b alpha}`` are
    written that way; others (e.g. the two-channel model) as sympy gives them.

    Parameters
    ----------
    modes : ModeEquations

    Returns
    -------
    str
        ``$$\\begin{aligned} ... \\end{aligned}$$``.
    """
    try:
        groups = mode_groups(modes)
    except DerivationError:
        strengths = [Equation(sp.Symbol(f"K_{a}"), k) for a, k in enumerate(modes.strengths, start=1)]
        groups = [Group("mode strengths", _K.STRENGTHS, tuple(strengths)),
                  Group("reduced equations", _K.REDUCED, tuple(Equation(x, f, Relation.RATE)
                                                              for x, f in zip(modes.state, modes.rhs)))]
    return LatexWriter().aligned(groups)


def gradient_flow_latex(flow: GradientFlow, prod: bool = True) -> str:
    r"""The loss, the network map and every layer's ``tau dW/dt`` as one ``aligned`` block (for Jupyter).

    Parameters
    ----------
    flow : GradientFlow
    prod : bool
        Write products of three or more consecutive layers with ``\prod``.

    Returns
    -------
    str
    """
    return LatexWriter().aligned([definitions_group(flow), *flow_groups(flow)], {"prod": prod})
