"""Run files of a finite-width simulation: the .npz schema ``pathdyn simulate`` writes.

A run file holds the arrays of :data:`RUN_FILE_ARRAYS` (see there for shapes) and
``config``, a JSON string of every setting of the run (:func:`run_config`). The
trajectory comes from :func:`pathdyn.validation.network.simulate_gd`; its weights are
kept in separate weight files (:mod:`pathdyn.io.weight_files`). A run of a graph network
(:func:`pathdyn.validation.network.graph.simulate_graph_gd`) holds
:data:`GRAPH_RUN_FILE_ARRAYS` instead: ``K`` per path and the total ``K_total`` in place
of ``UtOmegaV``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pathdyn.errors import ConfigError
from pathdyn.io.jsonio import json_text, save_npz
from pathdyn.io.npz import read_npz
from pathdyn import __version__

if TYPE_CHECKING:  # a type only: io sits below the numerics
    from pathdyn.numerics.trajectory import Trajectory

__all__ = ["GRAPH_RUN_FILE_ARRAYS", "RUN_FILE_ARRAYS", "load_run_file", "run_config", "run_file_arrays", "save_run_file"]

#: Name -> shape of the arrays of a run file besides ``config`` (a 0-d string array).
RUN_FILE_ARRAYS = {
    "t": "(records,)",
    "step": "(records,)",
    "K": "(records, pathways, modes)",
    "loss": "(records,)",
    "UtOmegaV": "(records, pathways, modes, modes)",
    "singular_values": "(modes,)",
}
#: The same for a graph network: ``K`` per path (in ``config["paths"]`` order; the total alone,
#: shape (records, 1, modes), above 256 paths) and the network's total ``diag(U^T Omega V)``.
GRAPH_RUN_FILE_ARRAYS = {
    "t": "(records,)",
    "step": "(records,)",
    "K": "(records, paths, modes)",
    "loss": "(records,)",
    "K_total": "(records, modes)",
    "singular_values": "(modes,)",
}


def run_config(result: Trajectory, settings: dict) -> dict:
    """Every setting of a run: the trajectory's provenance, then ``settings``, the wall time and the version.

    Parameters
    ----------
    result : Trajectory
        A finite-network run (its ``provenance`` and ``stats["wall_time_s"]`` are read).
    settings : dict
        Further settings (e.g. the command and its file names); they override provenance
        entries of the same name.

    Returns
    -------
    dict
        Keys in the order: provenance, ``settings``, ``wall_time_s``, ``pathdyn``.
    """

    config = dict(result.provenance)
    config.update(settings)
    config["wall_time_s"] = result.stats.get("wall_time_s")
    config["pathdyn"] = __version__
    return config


def run_file_arrays(result: Trajectory, config: dict) -> dict[str, np.ndarray]:
    """The arrays of a run file (:data:`RUN_FILE_ARRAYS` and ``config``).

    Parameters
    ----------
    result : Trajectory
        A run of :func:`~pathdyn.validation.network.simulate_gd` (with its ``extras``
        ``UtOmegaV`` and ``singular_values``).
    config : dict
        Settings to store; numpy values become numbers and lists, other objects that JSON
        cannot hold (paths, dtypes) their ``str``.

    Returns
    -------
    dict
        Name -> array, ready for ``numpy.savez``.

    Raises
    ------
    ConfigError
        If ``result`` lacks the extras of a finite-network run.
    """
    graph_run = "K_total" in result.extras and "UtOmegaV" not in result.extras
    per_network = "K_total" if graph_run else "UtOmegaV"
    missing = [name for name in (per_network, "singular_values") if name not in result.extras]
    if missing:
        raise ConfigError(f"result: extras {', '.join(missing)} missing; give a run of simulate_gd or simulate_graph_gd "
                          "(a finite-network trajectory)")
    return {
        "t": result.t, "step": result.step, "K": result.K, "loss": result.loss,
        per_network: result.extras[per_network], "singular_values": result.extras["singular_values"],
        "config": np.array(json_text(config, fallback=str)),
    }


def save_run_file(path: str | Path, result: Trajectory, config: dict) -> None:
    """Write the run file of ``result`` atomically to ``path`` (.npz).

    Parameters
    ----------
    path : str or Path
        The file; a pre-existing one is replaced only once the new one is complete.
    result : Trajectory
        See :func:`run_file_arrays`.
    config : dict
        See :func:`run_file_arrays`.

    Raises
    ------
    ConfigError
        See :func:`run_file_arrays`.
    OSError
        If the file cannot be written; a pre-existing file is unchanged.
    """
    arrays = run_file_arrays(result, config)
    save_npz(path, arrays)


def load_run_file(path: str | Path) -> tuple:
    """Read a run file written by :func:`save_run_file`.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    arrays : dict
        Name -> array for every name of :data:`RUN_FILE_ARRAYS` (:data:`GRAPH_RUN_FILE_ARRAYS`
        for a graph network's run).
    config : dict
        The settings, parsed from the stored JSON string.

    Raises
    ------
    ConfigError
        If the file is missing, is not an .npz archive, or lacks an array of the schema.
    """
    import json

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"run file {str(path)!r} not found; check the path")
    stored = read_npz(path, f"run file {str(path)!r}")
    schema = GRAPH_RUN_FILE_ARRAYS if "K_total" in stored else RUN_FILE_ARRAYS
    missing = [name for name in (*schema, "config") if name not in stored]
    if missing:
        raise ConfigError(f"run file {str(path)!r} lacks {', '.join(missing)}; write it with pathdyn simulate or save_run_file")
    try:
        config = json.loads(str(stored.pop("config")))
    except json.JSONDecodeError as error:
        raise ConfigError(f"run file {str(path)!r}: config is not JSON ({error.msg}); write it with save_run_file") from None
    return {name: stored[name] for name in schema}, config
