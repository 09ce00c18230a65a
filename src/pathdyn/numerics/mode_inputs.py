"""The modes an integration runs: singular values and input variances read off a dataset.

The per-mode equations need each mode's singular value ``S_alpha`` and, for inputs that
are not whitened, its input variance ``lambda_alpha = v_alpha^T Sigma_x v_alpha``
(docs/non-whitened.md). :func:`dataset_modes` takes both from a dataset, after
:func:`pathdyn.numerics.alignment.check_alignment` has made sure the per-mode equations
apply to it; :func:`architecture_for_inputs` makes the architecture carry general inputs
whenever input variances are used.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pathdyn.errors import ConfigError
from pathdyn.numerics.alignment import check_alignment
from pathdyn.numerics.datasets import Dataset

if TYPE_CHECKING:  # a type only: the numerics never run theory code
    from pathdyn.theory.architecture import Architecture
    from pathdyn.theory.graph import GraphArchitecture

__all__ = ["architecture_for_inputs", "dataset_modes"]


def dataset_modes(dataset: Dataset, allow_misaligned: bool = False, whitened: bool | None = None, argument: str = "dataset") -> tuple:
    """``(S, lambda, notes)``: the modes of ``dataset`` that the per-mode equations integrate.

    Parameters
    ----------
    dataset : Dataset
    allow_misaligned : bool
        Go on when the inputs are misaligned with the modes (recorded in ``notes["warnings"]``).
    whitened : bool or None
        ``False`` asks for the general equations even when every ``lambda_alpha`` is 1;
        ``None`` or ``True``: the whitened equations whenever the data allow them.
    argument : str
        The argument named in messages.

    Returns
    -------
    S : ndarray, shape (modes,)
        The singular values above ``1e-12 S_1`` (:attr:`~pathdyn.numerics.datasets.Dataset.rank`),
        largest first; smaller ones carry no mode.
    lambda : ndarray, shape (modes,), or None
        The input variance of each mode; ``None`` for whitened inputs (the equations without one).
    notes : dict
        ``dataset``, ``dataset_notes``, ``misalignment`` and, for misaligned data, ``warnings``.

    Raises
    ------
    DatasetError
        If the inputs are misaligned with the modes and ``allow_misaligned`` is false, or
        the dataset has no modes.
    """

    alignment = check_alignment(dataset, allow_misaligned, argument=argument)
    notes = {"dataset": dataset.name, "dataset_notes": dataset.notes, "misalignment": alignment.misalignment}
    if not alignment.aligned:
        notes["warnings"] = [f"inputs misaligned with the modes ({alignment.describe()}); integrated per mode anyway"]
    lam = None if alignment.unit_variances and whitened is not False else alignment.input_variances
    return dataset.singular_values[:dataset.rank], lam, notes


def architecture_for_inputs(architecture: Architecture | GraphArchitecture, input_variances: Iterable[float] | None,
                            whitened: bool | None = None, argument: str = "whitened",
                            source: str = "input_variances") -> Architecture | GraphArchitecture:
    """``architecture`` with general inputs (``whitened=False``) whenever input variances are used.

    Parameters
    ----------
    architecture : Architecture or GraphArchitecture
    input_variances : array_like or None
        The modes' input variances; ``None`` for whitened inputs (``architecture`` is returned).
    whitened : bool or None
        Whether whitened inputs were asked for explicitly (``True`` contradicts given variances).
    argument : str
        The option that asked for whitened inputs, named in the message.
    source : str
        Where the input variances came from, named if the architecture cannot be rebuilt.

    Returns
    -------
    Architecture or GraphArchitecture

    Raises
    ------
    ConfigError
        If ``whitened`` is ``True`` while input variances are given.
    """
    if input_variances is None:
        return architecture
    if whitened is True:
        variances = [round(float(v), 6) for v in input_variances]
        raise ConfigError(f"{argument}: the inputs have variances {variances}, not 1; "
                          f"drop {argument} (or use whitened data)")
    return architecture.from_dict(architecture.to_dict() | {"whitened": False}, source=source)
