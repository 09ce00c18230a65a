"""Compare a finite network's trajectory with the reduced theory's, in mode coordinates.

The error of docs/theory.md, *Where each model is exact*: ``max over t, pathways, modes |K_GD - K_theory| / S_1``
on the common time grid. With degenerate singular values the per-mode ``K`` of a
network is not defined (any rotation inside a degenerate block is a valid SVD), so for
every block with more than one mode the comparison uses the subspace-invariant singular
values of ``U_B^T Omega_a V_B`` (from the simulation's ``extras["UtOmegaV"]``) against
the theory's ``|K_a|`` of the block, both sorted descending, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pathdyn.errors import ConfigError

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
        ``S_1``, the largest singular value.
    quantity : str
        :data:`PER_MODE` or :data:`SUBSPACE`.
    times : ndarray
        The common time grid used.
    """

    error: float
    per_pathway: np.ndarray = field(repr=False)
    per_mode: np.ndarray = field(repr=False)
    time_of_max: float
    scale: float
    quantity: str
    times: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        if not np.isfinite(self.error) or self.error < 0:
            raise ConfigError(f"error: expected a finite number >= 0, got {self.error}")


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


def compare(gd_trajectory, theory_trajectory, *, singular_values=None, blocks=None) -> Comparison:
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

    Returns
    -------
    Comparison

    Raises
    ------
    ConfigError
        Mismatched pathways or modes, batched trajectories, no common times, or a
        degenerate block without ``UtOmegaV``.
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
    scale = float(np.max(S))
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
    )
