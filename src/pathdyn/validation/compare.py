"""Compare a finite network's trajectory with the reduced theory's, in mode coordinates.

The error of docs/theory.md, *Where each model is exact*: ``max over t, pathways, modes |K_GD - K_theory| / S_1``
on the common time grid. With degenerate singular values the per-mode ``K`` of a
network is not defined (any rotation inside a degenerate block is a valid SVD), so for
every block with more than one mode the comparison uses the subspace-invariant singular
values of ``U_B^T Omega_a V_B`` (from the simulation's ``extras["UtOmegaV"]``) against
the theory's ``|K_a|`` of the block, both sorted descending, and says so.

Non-whitened inputs (docs/non-whitened.md): a network learns ``sum_a K_a = S / lambda``
per mode, so the theory must be integrated with the data's input variances ``lambda``;
:func:`compare` refuses a theory integrated with other variances (the whitened theory,
``lambda = 1``, in particular), and refuses data whose inputs are misaligned with their
modes (:func:`pathdyn.numerics.alignment.input_alignment`) unless ``allow_misaligned``.
The error is then scaled by ``max_alpha S_alpha / lambda_alpha`` (``S_1`` for whitened data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import warnings

import numpy as np
from numpy.typing import ArrayLike

from pathdyn.errors import ConfigError
from pathdyn.numerics.alignment import MISALIGNMENT_THRESHOLD
from pathdyn.numerics.display import array_summary, html_summary, number, text_summary
from pathdyn.numerics.trajectory import Trajectory

__all__ = ["Comparison", "compare", "PER_MODE", "SUBSPACE"]

PER_MODE = "per-mode K = diag(U^T Omega_a V)"
SUBSPACE = "subspace-invariant: singular values of U_B^T Omega_a V_B per degenerate block B"


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare`.

    Attributes
    ----------
    error : float
        ``max_{t, a, alpha} |K_GD - K_theory| / scale``.
    per_pathway : ndarray, shape (M,)
        The same maximum per pathway.
    per_mode : ndarray, shape (modes,)
        The same maximum per mode (for a degenerate block, per sorted singular value).
    time_of_max : float
        Time at which the largest difference occurs.
    scale : float
        ``max_alpha S_alpha / lambda_alpha``, the largest learned total strength (``S_1``
        for whitened data).
    quantity : str
        :data:`PER_MODE` or :data:`SUBSPACE`.
    times : ndarray
        The common time grid used.
    warning : str
        Set when misaligned inputs were compared anyway (``allow_misaligned``).
    """

    error: float
    per_pathway: np.ndarray = field(repr=False)
    per_mode: np.ndarray = field(repr=False)
    time_of_max: float
    scale: float
    quantity: str
    times: np.ndarray = field(repr=False)
    warning: str = ""

    def __post_init__(self) -> None:
        if not np.isfinite(self.error) or self.error < 0:
            raise ConfigError(f"error: expected a finite number >= 0, got {self.error}")

    def summary_rows(self) -> list[tuple[str, str]]:
        """``(name, value)`` rows: the error and where it occurs, per pathway and mode, the compared quantity.

        Returns
        -------
        list of (str, str)
            For :func:`pathdyn.numerics.display.text_summary` and ``html_summary``.
        """
        return [
            ("error", f"{number(self.error)} (max |K_GD - K_theory| / S_1, S_1 = {number(self.scale)}) "
                      f"at t = {number(self.time_of_max)}"),
            ("per pathway", "[" + ", ".join(number(e, 3) for e in np.ravel(self.per_pathway)) + "]"),
            ("per mode", "[" + ", ".join(number(e, 3) for e in np.ravel(self.per_mode)) + "]"),
            ("compared", self.quantity),
            ("times", array_summary(self.times, ("time",))),
        ]

    def __repr__(self) -> str:
        return text_summary("Comparison", self.summary_rows())

    def _repr_html_(self) -> str:
        return html_summary("Comparison", self.summary_rows())


def _common_grid(gd_t: np.ndarray, th_t: np.ndarray) -> tuple:
    """Indices of GD times inside the theory's time range, and theory values' interpolation plan."""
    if gd_t.shape == th_t.shape and np.allclose(gd_t, th_t, rtol=1e-12, atol=1e-12):
        return np.arange(gd_t.size), None
    inside = np.flatnonzero((gd_t >= th_t[0] - 1e-12) & (gd_t <= th_t[-1] + 1e-12))
    if inside.size == 0:
        raise ConfigError(
            f"trajectories: no common times (simulation t in [{gd_t[0]:g}, {gd_t[-1]:g}], theory t in "
            f"[{th_t[0]:g}, {th_t[-1]:g}]); integrate the theory with t_eval = the simulation's t"
        )
    return inside, th_t


def _interpolate(values: np.ndarray, source_t: np.ndarray, target_t: np.ndarray) -> np.ndarray:
    flat = values.reshape(values.shape[0], -1)
    out = np.empty((target_t.size, flat.shape[1]))
    for j in range(flat.shape[1]):
        out[:, j] = np.interp(target_t, source_t, flat[:, j])
    return out.reshape(target_t.size, *values.shape[1:])


def _input_variances(gd_trajectory: Trajectory, theory_trajectory: Trajectory, modes: int, allow_misaligned: bool) -> tuple:
    """The data's ``lambda`` (checked against the theory's) and a warning for misaligned data.

    A simulation without the ``extras`` (made elsewhere) is taken at its word: ``lambda`` is
    the theory's, or 1.
    """
    theory_lam = (theory_trajectory.provenance or {}).get("input_variances")
    theory_lam = np.ones(modes) if theory_lam is None else np.asarray(theory_lam, dtype=float)
    data_lam = gd_trajectory.extras.get("input_variances")
    if data_lam is None:
        return theory_lam, ""
    data_lam = np.asarray(data_lam, dtype=float).ravel()
    if theory_lam.shape != data_lam.shape or not np.allclose(theory_lam, data_lam, rtol=1e-6, atol=0):
        raise ConfigError(
            f"theory_trajectory: integrated with input variances {np.round(theory_lam, 6).tolist()} (1 = whitened) but the "
            f"network's data has {np.round(data_lam, 6).tolist()}; integrate the equations of "
            "Architecture(depths, whitened=False) with parameters={'lambda': the data's input variances}"
        )
    misalignment = gd_trajectory.extras.get("misalignment")
    if misalignment is None or misalignment <= MISALIGNMENT_THRESHOLD:
        return data_lam, ""
    message = (f"inputs misaligned with the modes (misalignment {misalignment:.3g} > threshold "
               f"{MISALIGNMENT_THRESHOLD:g}): no per-mode theory is exact there")
    if not allow_misaligned:
        raise ConfigError(f"gd_trajectory: per-mode comparison refused: {message}; align or whiten the inputs, "
                          "or pass allow_misaligned=True")
    warnings.warn(f"compare: {message}; compared anyway", UserWarning, stacklevel=3)
    return data_lam, f"{message}; compared anyway (allow_misaligned)"


def compare(gd_trajectory: Trajectory, theory_trajectory: Trajectory, *, singular_values: ArrayLike | None = None,
            blocks: Sequence[Sequence[int]] | None = None, allow_misaligned: bool = False) -> Comparison:
    """Error of the theory against one finite network.

    Parameters
    ----------
    gd_trajectory : Trajectory
        One network (``K`` of shape ``(T, M, modes)``), e.g. from
        :func:`pathdyn.validation.network.simulate_gd`.
    theory_trajectory : Trajectory
        The reduced model for the same network (``K`` of shape ``(T', M, modes)``),
        best integrated with ``t_eval = gd_trajectory.t``; otherwise it is linearly
        interpolated onto the simulation's times inside its range.
    singular_values : array_like, optional
        ``S_alpha``; default ``gd_trajectory.extras["singular_values"]``.
    blocks : list of list of int, optional
        Groups of modes with equal singular values (``Dataset.degenerate_blocks()``).
        When a block has more than one mode the subspace-invariant comparison is used
        for it, which needs ``extras["UtOmegaV"]`` of shape ``(T, M, modes, modes)``.
    allow_misaligned : bool
        Compare even when the simulation's ``extras["misalignment"]`` exceeds
        :data:`pathdyn.numerics.alignment.MISALIGNMENT_THRESHOLD` (a warning is issued and
        recorded on the result); refused otherwise.

    Returns
    -------
    Comparison

    Raises
    ------
    ConfigError
        Mismatched pathways or modes, batched trajectories, no common times, a
        degenerate block without ``UtOmegaV``, a theory integrated with other input
        variances than the data's (``extras["input_variances"]`` against the theory's
        ``provenance["input_variances"]``, 1 when absent), or misaligned inputs.
    """
    K_gd = np.asarray(gd_trajectory.K, dtype=float)
    K_th = np.asarray(theory_trajectory.K, dtype=float)
    if K_gd.ndim != 3 or K_th.ndim != 3:
        raise ConfigError(
            f"trajectories: compare one network at a time (K of shape (T, M, modes)); got {K_gd.shape} and {K_th.shape}"
        )
    if K_gd.shape[1:] != K_th.shape[1:]:
        raise ConfigError(
            f"trajectories: simulation has (M, modes) = {K_gd.shape[1:]} but theory has {K_th.shape[1:]}; "
            "integrate the reduced model of the same architecture and data"
        )
    if singular_values is None:
        singular_values = gd_trajectory.extras.get("singular_values")
        if singular_values is None:
            raise ConfigError("singular_values: not given and not in the simulation's extras; pass dataset.singular_values")
    S = np.asarray(singular_values, dtype=float).ravel()
    if S.size != K_gd.shape[2]:
        raise ConfigError(f"singular_values: {S.size} values for {K_gd.shape[2]} modes")
    lam, warning = _input_variances(gd_trajectory, theory_trajectory, S.size, allow_misaligned)
    scale = float(np.max(S / lam))
    gd_t = np.asarray(gd_trajectory.t, dtype=float)
    th_t = np.asarray(theory_trajectory.t, dtype=float)
    index, source = _common_grid(gd_t, th_t)
    times = gd_t[index]
    theory = K_th if source is None else _interpolate(K_th, source, times)
    simulation = K_gd[index]

    modes = K_gd.shape[2]
    blocks = [list(b) for b in (blocks or [[m] for m in range(modes)])]
    if sorted(m for b in blocks for m in b) != list(range(modes)):
        raise ConfigError(f"blocks: {blocks} must partition the modes 0..{modes - 1}")
    degenerate = [b for b in blocks if len(b) > 1]
    quantity = PER_MODE
    if degenerate:
        projection = gd_trajectory.extras.get("UtOmegaV")
        if projection is None:
            raise ConfigError(
                "blocks: degenerate singular values need the full U^T Omega_a V (extras['UtOmegaV']) "
                "for a subspace-invariant comparison; simulate with simulate_gd or use non-degenerate data"
            )
        projection = np.asarray(projection, dtype=float)[index]
        simulation = simulation.copy()
        theory = theory.copy()
        for block in degenerate:
            sub = projection[:, :, block][:, :, :, block]  # (T, M, b, b)
            simulation[:, :, block] = np.linalg.svd(sub, compute_uv=False)
            theory[:, :, block] = -np.sort(-np.abs(theory[:, :, block]), axis=-1)
        quantity = SUBSPACE
    difference = np.abs(simulation - theory) / scale
    where = np.unravel_index(int(np.argmax(difference)), difference.shape)
    return Comparison(
        error=float(difference.max()),
        per_pathway=difference.max(axis=(0, 2)),
        per_mode=difference.max(axis=(0, 1)),
        time_of_max=float(times[where[0]]),
        scale=scale,
        quantity=quantity,
        times=times,
        warning=warning,
    )
