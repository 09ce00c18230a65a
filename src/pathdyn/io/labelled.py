"""Labelled data: trajectories as xarray Datasets, saved as netCDF.

xarray and pandas are an optional extra (``pip install 'pathdyn[xarray]'``); they are
imported on first use and a missing one raises :class:`~pathdyn.errors.ConfigError`
naming the extra. netCDF files are written by xarray's ``scipy`` backend (netCDF3, no
further dependency): attributes must then be numbers or strings, so nested metadata
(provenance, statistics) is stored as JSON text.
"""

from __future__ import annotations

from collections.abc import Sequence
import json
from types import ModuleType
from typing import TYPE_CHECKING, Any
from pathlib import Path

import numpy as np

from pathdyn.errors import ConfigError
from pathdyn.io.jsonio import atomic_write, json_text

if TYPE_CHECKING:  # a type only: io sits below the numerics
    from pathdyn.numerics.trajectory import Trajectory

__all__ = ["batch_dims_for", "require", "save_netcdf", "trajectory_fields_from_xarray", "trajectory_to_xarray"]

EXTRA = "xarray"


def require(module: str) -> ModuleType:
    """Import an optional dependency (``xarray`` or ``pandas``) or say which extra to install.

    Parameters
    ----------
    module : str
        The module's name.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    ConfigError
        When the module is not installed.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"{module}: not installed; install pathdyn's optional extra: pip install 'pathdyn[{EXTRA}]'"
        ) from None


def batch_dims_for(ndim: int, names: str | Sequence[str] | None = None) -> tuple:
    """Names of ``ndim`` ensemble axes: ``("member",)`` for one, ``member_1, member_2, ...`` for more.

    Parameters
    ----------
    ndim : int
        Number of ensemble axes.
    names : str or sequence of str, optional
        Names to use instead (checked against ``ndim``).

    Returns
    -------
    tuple of str
        One name per axis.

    Raises
    ------
    ConfigError
        When ``names`` does not name ``ndim`` axes.
    """
    if names is not None:
        names = (names,) if isinstance(names, str) else tuple(names)
        if len(names) != ndim:
            raise ConfigError(f"batch_dims: {list(names)} names {len(names)} axes but the ensemble has {ndim}")
        return names
    if ndim == 1:
        return ("member",)
    return tuple(f"member_{i + 1}" for i in range(ndim))


def netcdf_attribute(value: object) -> int | float | str | np.integer | np.floating:
    """A value netCDF3 can store: numbers and strings as they are, anything else as JSON text.

    Parameters
    ----------
    value : object
        An attribute value.

    Returns
    -------
    int, float, str
        The value itself (booleans as 0/1), or its JSON text.
    """
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, float, str, np.integer, np.floating)):
        return value
    return json_text(value, fallback=str)


def trajectory_to_xarray(trajectory: Trajectory, batch_dims: str | Sequence[str] | None = None) -> Any:
    """A :class:`~pathdyn.numerics.trajectory.Trajectory` as an ``xarray.Dataset``.

    Parameters
    ----------
    trajectory : Trajectory
    batch_dims : str or sequence of str, optional
        Names of the ensemble axes (default ``member`` for one axis).

    Returns
    -------
    xarray.Dataset
        Dimensions ``time``, the ensemble axes, ``pathway`` (1-based), ``mode`` (1-based);
        variables ``K (time, *batch, pathway, mode)``, ``loss (time, *batch)``, and where
        present ``state (time, *batch, variable, mode)``, ``step (time)``,
        ``singular_values (mode)`` and ``UtOmegaV (time, *batch, pathway, mode, mode_v)``.
        Attributes: ``success``, ``message``, and ``provenance``/``stats`` as JSON text.
    """
    xr = require("xarray")
    K = np.asarray(trajectory.K, dtype=float)
    T, M, modes = K.shape[0], K.shape[-2], K.shape[-1]
    batch_shape = K.shape[1:-2]
    batch = batch_dims_for(len(batch_shape), batch_dims) if batch_shape else ()
    coords = {
        "time": ("time", np.asarray(trajectory.t, dtype=float), {"long_name": "t", "units": "tau = 1 (GD step k: t = eta k)"}),
        "pathway": ("pathway", np.arange(1, M + 1)),
        "mode": ("mode", np.arange(1, modes + 1)),
    }
    coords.update({name: (name, np.arange(n)) for name, n in zip(batch, batch_shape)})
    data = {
        "K": (("time", *batch, "pathway", "mode"), K, {"long_name": "K_{a alpha}(t), mode strength of pathway a"}),
        "loss": (("time", *batch), np.asarray(trajectory.loss, dtype=float).reshape(T, *batch_shape), {"long_name": "loss"}),
    }
    if trajectory.state is not None and trajectory.state_names:
        coords["variable"] = ("variable", np.array(trajectory.state_names, dtype=str))
        data["state"] = (("time", *batch, "variable", "mode"), np.asarray(trajectory.state, dtype=float),
                         {"long_name": "reduced state"})
    if trajectory.step is not None:
        data["step"] = (("time",), np.asarray(trajectory.step), {"long_name": "gradient-descent step"})
    S = trajectory.extras.get("singular_values")
    if S is not None and np.shape(S) == (modes,):
        data["singular_values"] = (("mode",), np.asarray(S, dtype=float), {"long_name": "S_alpha"})
    projection = trajectory.extras.get("UtOmegaV")
    if projection is not None and np.shape(projection) == (T, *batch_shape, M, modes, modes):
        data["UtOmegaV"] = (("time", *batch, "pathway", "mode", "mode_v"), np.asarray(projection, dtype=float),
                            {"long_name": "U^T Omega_a V"})
        coords["mode_v"] = ("mode_v", np.arange(1, modes + 1))
    attrs = {
        "title": "pathdyn trajectory",
        "success": int(bool(trajectory.success)),
        "message": trajectory.message,
        "provenance": netcdf_attribute(trajectory.provenance),
        "stats": netcdf_attribute(trajectory.stats),
    }
    if trajectory.invariant_drift is not None:
        attrs["invariant_drift"] = json_text(np.asarray(trajectory.invariant_drift).tolist(), non_finite="null")
    return xr.Dataset(data, coords=coords, attrs=attrs)


def trajectory_fields_from_xarray(dataset: Any) -> dict:
    """The fields of a :class:`~pathdyn.numerics.trajectory.Trajectory` from :func:`trajectory_to_xarray`.

    Parameters
    ----------
    dataset : xarray.Dataset
        What :func:`trajectory_to_xarray` made (or a netCDF file of it, opened).

    Returns
    -------
    dict
        ``t``, ``K``, ``loss``, ``success``, ``message``, ``provenance``, ``stats`` and, where
        present, ``state`` with ``state_names``, ``step``, ``invariant_drift`` and ``extras``
        (``singular_values``, ``UtOmegaV``).
    """
    attrs = dataset.attrs
    fields: dict[str, Any] = {
        "t": np.asarray(dataset["time"].values, dtype=float),
        "K": np.asarray(dataset["K"].values, dtype=float),
        "loss": np.asarray(dataset["loss"].values, dtype=float),
        "success": bool(int(attrs.get("success", 1))),
        "message": str(attrs.get("message", "")),
        "provenance": json.loads(attrs["provenance"]) if "provenance" in attrs else {},
        "stats": json.loads(attrs["stats"]) if "stats" in attrs else {},
    }
    if "state" in dataset:
        fields["state"] = np.asarray(dataset["state"].values, dtype=float)
        fields["state_names"] = tuple(str(name) for name in dataset["variable"].values)
    if "step" in dataset:
        fields["step"] = np.asarray(dataset["step"].values)
    if "invariant_drift" in attrs:
        fields["invariant_drift"] = np.array(json.loads(attrs["invariant_drift"]), dtype=float)
    extras = {name: np.asarray(dataset[name].values, dtype=float) for name in ("singular_values", "UtOmegaV") if name in dataset}
    if extras:
        fields["extras"] = extras
    return fields


def save_netcdf(dataset: Any, path: str | Path) -> None:
    """Write an ``xarray.Dataset`` as netCDF3 (scipy backend), atomically.

    Parameters
    ----------
    dataset : xarray.Dataset
        What to write (attributes converted by :func:`netcdf_attribute`).
    path : str or Path
        Destination, ending in ``.nc``.

    Raises
    ------
    ConfigError
        When ``path`` does not end in ``.nc``.
    """
    path = Path(path)
    if path.suffix != ".nc":
        raise ConfigError(f"path: {str(path)!r} should end in .nc (netCDF)")
    attrs = {key: netcdf_attribute(value) for key, value in dataset.attrs.items()}
    clean = dataset.copy()
    clean.attrs = attrs
    atomic_write(path, lambda tmp: clean.to_netcdf(tmp, engine="scipy", format="NETCDF3_64BIT"))
