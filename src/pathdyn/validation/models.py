"""The models networks are compared with, as the validation layer sees them.

(Grows into the one registry of the models; for now the per-model functions the sweeps share.)
"""

from __future__ import annotations

from pathdyn.errors import ConfigError
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.models import MODELS, models_with_mappings

__all__ = ["limit_compared", "reduced_equations"]


def reduced_equations(depths, theory: str, whitened: bool = True):
    """The reduced :class:`ModeEquations` of a named model (``qp`` or ``two-channel``).

    Parameters
    ----------
    depths : sequence of int
        ``D_a >= 1`` per pathway.
    theory : {"qp", "two-channel"}
        The reduced model (a name of :data:`pathdyn.theory.models.MODELS` that has
        initial-state mappings).
    whitened : bool
        ``True`` (default): equations for whitened inputs; ``False``: each mode's input
        variance ``lambda`` is an extra parameter after ``S``.

    Returns
    -------
    ModeEquations
        The model's per-mode equations for this architecture (derived by sympy).

    Raises
    ------
    ConfigError
        If ``theory`` is not a registered model with initial-state mappings (``"dmft"``
        has none: it is compared with the seed mean by :mod:`pathdyn.validation.sweep.dmft`).
    ArchitectureError
        If ``depths`` is not a valid architecture.
    """
    mapped = models_with_mappings()
    if theory not in mapped:
        raise ConfigError(f"theory: {theory!r} has no per-mode equations started from each network; "
                          f"choose {' or '.join(mapped)}")
    return MODELS[theory].derive(Architecture(depths=tuple(depths), whitened=whitened))


def limit_compared(theory: str, method: str, init: str, depths) -> str:
    """A sentence naming the limit a sweep compares against, and whether theory says it is exact.

    Parameters
    ----------
    theory : str
        The reduced model, ``"qp"`` or ``"two-channel"``.
    method : str
        The initial-state mapping (:mod:`pathdyn.validation.mapping`); ``"naive"`` marks the
        counter-example that is not expected to converge.
    init : str
        The hidden layers' initialisation (``"gaussian"``, ``"orthogonal"``, ...).
    depths : sequence of int
        The pathways' depths; any depth >= 3 makes the comparison "deep".

    Returns
    -------
    str
        One sentence for the report's ``limit``: the infinite-width limit (depth-2
        pathways, or the two-channel model with orthogonal hidden layers), or a reduction
        with an expected error floor, or the naive counter-example.
    """
    deep = max(depths) >= 3
    if method == "naive":
        return (
            "counter-example: q/p from the naive initial state q0 = sigma, p0 = K0 / sigma^(D-1); "
            "not expected to converge (the initial condition is part of the theory)"
        )
    if theory == "qp" and not deep:
        return (
            "infinite-width limit of depth-2 pathways: the q/p flow is exact there from the exact "
            "initial mapping q0^2 + p0^2 = |a|^2 + |b|^2, q0 p0 = a.b; the error should fall with width down to the O(eta) floor"
        )
    if theory == "qp":
        return (
            f"q/p with growth-matched q0 at depth {max(depths)} ({init} init): a two-number summary of a "
            "higher-dimensional state, NOT the infinite-width limit for depth >= 3; an error floor is expected"
        )
    if not deep:
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
