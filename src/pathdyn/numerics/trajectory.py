"""The numeric result shared by integrators and finite-network simulations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pathdyn.io.jsonio import save_json, to_jsonable
from pathdyn.errors import ConfigError
from pathdyn.io.labelled import batch_dims_for, save_netcdf, trajectory_fields_from_xarray, trajectory_to_xarray
from pathdyn.numerics.display import array_summary, html_summary, number, text_summary

__all__ = ["Trajectory"]


@dataclass(frozen=True)
class Trajectory:
    """Mode strengths over time, from the reduced equations or a finite network.

    Attributes
    ----------
    t : ndarray, shape (T,)
        Continuous time in the units of docs/theory.md, *Time units* (tau = 1; GD step k is t = eta k).
    K : ndarray, shape ``(T, *batch, M, modes)``
        ``K_{a alpha}(t)``; ``batch`` is the ensemble shape (empty for one run).
    loss : ndarray, shape ``(T, *batch)``
        The loss of docs/theory.md, *Notation and loss* (up to its constant for reduced models).
    success : bool
    message : str
        What happened and, on failure, what to do.
    state_names : tuple of str
        Names of the reduced state variables (empty for simulations).
    state : ndarray or None, shape ``(T, *batch, n_state, modes)``
        Raw reduced state, when available.
    invariant_drift : ndarray or None
        Max over time of the absolute change of each conserved quantity.
    step : ndarray or None, shape (T,)
        Gradient-descent step of each record (simulations).
    extras : dict
        Further arrays (e.g. the full ``U^T Omega_a V``).
    stats : dict
        Run statistics (function evaluations, wall time, ...).
    provenance : dict
        Architecture, seed, versions, settings.
    """

    t: np.ndarray
    K: np.ndarray
    loss: np.ndarray
    success: bool = True
    message: str = ""
    state_names: tuple = ()
    state: np.ndarray | None = None
    invariant_drift: np.ndarray | None = None
    step: np.ndarray | None = None
    extras: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    @property
    def num_pathways(self) -> int:
        return self.K.shape[-2]

    @property
    def num_modes(self) -> int:
        return self.K.shape[-1]

    @property
    def batch_shape(self) -> tuple:
        """Shape of the ensemble axes (empty for one run)."""
        return tuple(np.shape(self.K)[1:-2])

    def summary_rows(self) -> list:
        """``(name, value)`` rows: shapes, ranges and key numbers (never whole arrays).

        Returns
        -------
        list of tuple of (str, str)
            Rows ``source``, ``time``, ``K``, ``final loss`` and ``success``, then, where
            present, ``steps``, ``invariant drift``, ``extras`` and ``wall time``; the text
            and HTML summaries (``repr``, notebooks) print them.
        """

        t = np.asarray(self.t, dtype=float)
        loss = np.asarray(self.loss, dtype=float)
        batch = batch_dims_for(len(self.batch_shape)) if self.batch_shape else ()
        rows = [
            ("source", f"reduced model ({', '.join(self.state_names)})" if self.state_names else "finite network"),
            ("time", f"{t.size} points in [{number(t[0])}, {number(t[-1])}]" if t.size else "no points"),
            ("K", array_summary(self.K, ("time", *batch, "pathway", "mode"))),
            ("final loss", array_summary(loss[-1]) if loss.ndim > 1 else number(loss[-1]) if loss.size else "-"),
            ("success", f"{bool(self.success)}" + (f": {self.message}" if self.message else "")),
        ]
        if self.step is not None and np.size(self.step):
            rows.append(("steps", f"{int(np.asarray(self.step)[-1])} (GD)"))
        if self.invariant_drift is not None and np.size(self.invariant_drift):
            rows.append(("invariant drift", f"max {number(np.max(self.invariant_drift))}"))
        if self.extras:
            rows.append(("extras", ", ".join(sorted(self.extras))))
        if "wall_time_s" in self.stats:
            rows.append(("wall time", f"{number(self.stats['wall_time_s'], 3)} s"))
        return rows

    def __repr__(self) -> str:
        return text_summary("Trajectory", self.summary_rows())

    def _repr_html_(self) -> str:
        return html_summary("Trajectory", self.summary_rows())

    def to_xarray(self, batch_dims: str | Sequence[str] | None = None) -> Any:
        """This trajectory as an ``xarray.Dataset`` with named dimensions (needs the ``xarray`` extra).

        Parameters
        ----------
        batch_dims : str or sequence of str, optional
            Names of the ensemble axes (default ``member`` for one axis).

        Returns
        -------
        xarray.Dataset
            Dimensions ``time``, the ensemble axes, ``pathway`` and ``mode`` (both 1-based);
            the layout of :func:`pathdyn.io.labelled.trajectory_to_xarray`.

        Raises
        ------
        ConfigError
            If ``xarray`` is not installed.
        """

        return trajectory_to_xarray(self, batch_dims=batch_dims)

    def save_netcdf(self, path: str | Path, batch_dims: str | Sequence[str] | None = None) -> None:
        """Write :meth:`to_xarray` as a netCDF3 file (scipy backend; needs the ``xarray`` extra).

        Parameters
        ----------
        path : str or Path
            Destination, ending in ``.nc``; written atomically.
        batch_dims : str or sequence of str, optional
            As for :meth:`to_xarray`.

        Raises
        ------
        ConfigError
            If ``path`` does not end in ``.nc`` or ``xarray`` is not installed.
        """

        save_netcdf(self.to_xarray(batch_dims=batch_dims), path)

    def settling_time(self, tolerance: float = 1e-3) -> float:
        """The first recorded time after which every ``K`` stays within ``tolerance`` of its final value.

        Parameters
        ----------
        tolerance : float
            Relative to the largest final ``|K|`` (about ``S_1`` once learned).

        Returns
        -------
        float
            ``t[-1]`` when ``K`` still moves at the end (the run had not settled).
        """
        K = np.asarray(self.K, dtype=float)
        t = np.asarray(self.t, dtype=float)
        final = K[-1]
        scale = float(np.max(np.abs(final))) or 1.0
        deviation = np.max(np.abs(K - final).reshape(K.shape[0], -1), axis=1) / scale
        outside = np.flatnonzero(deviation > tolerance)
        if outside.size == 0:
            return float(t[0])
        return float(t[min(outside[-1] + 1, t.size - 1)])

    def to_json_dict(self) -> dict:
        """Plain-JSON form: ``t``, ``K``, ``loss``, ``success``, ``message`` and metadata.

        Returns
        -------
        dict
            Keys ``t``, ``K``, ``loss`` (nested lists of floats), ``success``, ``message``,
            ``state_names``, ``stats`` and ``provenance``, plus ``invariant_drift`` and
            ``step`` when present. NaN and infinities stay floats. ``state`` and ``extras``
            are not included.
        """
        return to_jsonable(self._json_fields())

    def save_json(self, path: str | Path) -> None:
        """Write :meth:`to_json_dict` atomically (:func:`pathdyn.io.jsonio.save_json`).

        Parameters
        ----------
        path : str or Path
            The file; a pre-existing one is replaced only once the new text is complete.

        Raises
        ------
        TypeError
            If ``stats`` or ``provenance`` hold an object JSON cannot represent; nothing is written.
        OSError
            If the file cannot be written; a pre-existing file is unchanged.
        """
        # the arrays go to the cleaner as arrays: one tolist each, no walk over nested lists
        save_json(path, self._json_fields())

    @classmethod
    def from_json_dict(cls, data: dict) -> "Trajectory":
        """Rebuild a trajectory from :meth:`to_json_dict` (the fields that document holds).

        Parameters
        ----------
        data : dict
            What :meth:`to_json_dict` wrote (``pathdyn integrate -o``'s document holds it too).

        Returns
        -------
        Trajectory
            Without ``state`` and ``extras``, which the JSON form does not hold.

        Raises
        ------
        ConfigError
            If ``t``, ``K`` or ``loss`` is missing.
        """
        missing = [key for key in ("t", "K", "loss") if key not in data]
        if missing:
            raise ConfigError(f"trajectory JSON: missing {', '.join(missing)}; write it with Trajectory.save_json")
        optional: dict[str, Any] = {key: np.array(data[key], dtype=float if key == "invariant_drift" else None)
                    for key in ("invariant_drift", "step") if data.get(key) is not None}
        return cls(t=np.array(data["t"], dtype=float), K=np.array(data["K"], dtype=float),
                   loss=np.array(data["loss"], dtype=float), success=bool(data.get("success", True)),
                   message=str(data.get("message", "")), state_names=tuple(data.get("state_names", ())),
                   stats=dict(data.get("stats") or {}), provenance=dict(data.get("provenance") or {}), **optional)

    @classmethod
    def from_xarray(cls, dataset: Any) -> "Trajectory":
        """Rebuild a trajectory from :meth:`to_xarray` (or a netCDF file of it, opened).

        Parameters
        ----------
        dataset : xarray.Dataset

        Returns
        -------
        Trajectory
            Every field the Dataset holds (:func:`pathdyn.io.labelled.trajectory_fields_from_xarray`).
        """
        return cls(**trajectory_fields_from_xarray(dataset))

    def _json_fields(self) -> dict:
        """The fields of :meth:`to_json_dict`, arrays still as arrays."""
        out = {
            "t": np.asarray(self.t),
            "K": np.asarray(self.K),
            "loss": np.asarray(self.loss),
            "success": bool(self.success),
            "message": self.message,
            "state_names": list(self.state_names),
            "stats": self.stats,
            "provenance": self.provenance,
        }
        if self.invariant_drift is not None:
            out["invariant_drift"] = np.asarray(self.invariant_drift)
        if self.step is not None:
            out["step"] = np.asarray(self.step)
        return out
