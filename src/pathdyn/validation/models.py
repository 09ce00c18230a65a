"""The equations a width sweep integrates from each network: a registered model's, for its data.

The models themselves (derivation, layout, limit wording, initialisations, exporter) are
the registry's, :data:`pathdyn.theory.models.MODELS`; their network mappings are
:data:`pathdyn.validation.mapping.MAPPERS`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pathdyn.errors import ConfigError
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.models import MODELS, models_with_mappings
from pathdyn.theory.modes import ModeEquations

__all__ = ["reduced_equations"]


def reduced_equations(depths: Sequence[int], theory: str, whitened: bool = True) -> ModeEquations:
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
