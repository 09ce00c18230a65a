"""Initial states for the reduced equations: from given q/p arrays or drawn like the paper.

Both return arrays of shape ``(*batch, n_state, n_modes)`` in the equations' state
order, ready for :func:`pathdyn.numerics.integrate.integrate`. The state is matched by
the ``start`` each model's derivation gives its variables in the equations' layout
(:class:`pathdyn.theory.modes.StateVariable`): ``"q"`` or ``"p"`` (the q/p model's own
variables, the race form's ``p``, the per-layer model's ``s``: ``q`` on the first ``D_a - 1``
layers, ``p`` on the last); this module knows no model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from pathdyn._base.checks import check_memory, real_array, real_number, seed_value, whole_number
from pathdyn.errors import ConfigError
from pathdyn.numerics.compile import CompiledRHS, SymbolicEquations

__all__ = ["qp_initial_state", "draw_initial_state", "load_initial_state"]


def _column(record: Any, q0: np.ndarray, p0: np.ndarray) -> np.ndarray:
    """The initial values of one state variable from per-pathway ``q0``, ``p0``, as its record's ``start`` says."""
    start = getattr(record, "start", None)
    if start not in ("q", "p"):
        raise ConfigError(
            f"equations: state variable {record.symbol} ({record.role}) does not start from q or p in this model; "
            "build the initial state array directly (e.g. from a network: pathdyn.validation.mapping)"
        )
    return (q0 if start == "q" else p0)[..., record.pathway - 1, :]


def _num_pathways(equations: SymbolicEquations | CompiledRHS) -> int:
    if isinstance(equations, CompiledRHS):
        return equations.num_pathways
    count = getattr(equations, "num_pathways", None)
    return int(count) if count is not None else len(equations.strengths)


def qp_initial_state(equations: SymbolicEquations | CompiledRHS, q0: ArrayLike, p0: ArrayLike) -> np.ndarray:
    """Build the state array from per-pathway, per-mode ``q`` and ``p``.

    Parameters
    ----------
    equations : ModeEquations or CompiledRHS
        Equations whose state variables say where they start from (``start`` "q" or "p").
    q0, p0 : array_like, shape ``(*batch, M, n_modes)``
        Initial ``q`` and ``p`` of each pathway and mode (``q`` is ignored for a
        depth-1 pathway, which has only ``p``).

    Returns
    -------
    ndarray, shape ``(*batch, n_state, n_modes)``

    Raises
    ------
    ConfigError
        Shape mismatch, non-finite values, or a state variable that starts from neither
        ``q`` nor ``p``.
    """
    layout = tuple(getattr(equations, "layout", ()))
    q0 = np.asarray(q0, dtype=float)
    p0 = np.asarray(p0, dtype=float)
    M = _num_pathways(equations)
    problems = []
    if q0.shape != p0.shape:
        problems.append(f"q0 has shape {q0.shape} but p0 has {p0.shape}; both must be (pathways, modes)")
    if p0.ndim < 2 or p0.shape[-2] != M:
        problems.append(f"p0: expected shape (*batch, pathways={M}, modes), got {p0.shape}")
    if not (np.all(np.isfinite(q0)) and np.all(np.isfinite(p0))):
        problems.append("q0/p0 contain NaN or infinite values")
    if problems:
        raise ConfigError("; ".join(problems))
    if not layout:
        raise ConfigError("equations: no state layout (records with a start); pass a ModeEquations or its CompiledRHS")
    return np.stack([_column(record, q0, p0) for record in layout], axis=-2)


def draw_initial_state(equations: SymbolicEquations | CompiledRHS, n_modes: int, scale: float, seed: int | np.random.Generator = 0,
                       c: float = 1.0, batch: int | Sequence[int] = ()) -> np.ndarray:
    """Random small initial conditions like the paper: ``p ~ scale N(0, 1)``, ``q = sqrt(p^2 + c)``.

    Parameters
    ----------
    equations : ModeEquations or CompiledRHS
    n_modes : int
        Number of modes.
    scale : float
        Standard deviation of ``p`` (> 0).
    seed : int or numpy.random.Generator
    c : float
        The conserved ``q^2 - p^2`` of every pathway and mode (>= 0; the paper's code
        uses 1).
    batch : tuple of int
        Ensemble shape.

    Returns
    -------
    ndarray, shape ``(*batch, n_state, n_modes)``

    Raises
    ------
    ConfigError
        When ``batch`` is not a tuple of whole numbers (or the other values are out of range).
    """
    scale = real_number("scale", scale, positive=True, example="0.1")
    c = real_number("c", c, nonnegative=True, example="1")
    n_modes = whole_number("n_modes", n_modes, minimum=1)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed_value("seed", seed))
    if isinstance(batch, (str, bytes)):
        raise ConfigError(f"batch: {batch!r} is not a shape; give a tuple of whole numbers, e.g. (100,)")
    batch = tuple(whole_number("batch", b) for b in np.atleast_1d(batch).tolist()) if np.size(batch) else ()
    M = _num_pathways(equations)
    check_memory(f"an initial state of batch {batch}", 8.0 * 4 * M * n_modes * float(np.prod(batch, dtype=float)),
                 "use a smaller batch (number of members)")
    p0 = scale * rng.standard_normal((*batch, M, int(n_modes)))
    q0 = np.sqrt(p0**2 + c)
    return qp_initial_state(equations, q0, p0)



def load_initial_state(path: str | Path, equations: SymbolicEquations | CompiledRHS, num_modes: int, argument: str = "init") -> np.ndarray:
    """The state array of a JSON file ``{"q0": [[...]], "p0": [[...]]}`` (shape (pathways, modes) each).

    Parameters
    ----------
    path : str or Path
        UTF-8 JSON text holding an object with arrays ``q0`` and ``p0``.
    equations : ModeEquations or CompiledRHS
        As for :func:`qp_initial_state`.
    num_modes : int
        The number of modes the arrays must have.
    argument : str
        The argument named in messages (e.g. ``"--init"``).

    Returns
    -------
    ndarray, shape ``(n_state, num_modes)``
        :func:`qp_initial_state` of the file's arrays.

    Raises
    ------
    ConfigError
        If the file is not UTF-8 JSON, lacks ``q0`` or ``p0``, or they are not real arrays
        of shape ``(pathways, num_modes)``.
    OSError
        If the file cannot be read.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(f"{argument}: {str(path)!r} is not UTF-8 text (byte {error.start}); save it as UTF-8 JSON") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{argument}: {str(path)!r} is not valid JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(data, dict) or "q0" not in data or "p0" not in data:
        raise ConfigError(f'{argument}: {str(path)!r} must hold an object {{"q0": [[...]], "p0": [[...]]}}')
    try:
        q0 = real_array(f"{argument}: q0", data["q0"])
        p0 = real_array(f"{argument}: p0", data["p0"])
    except ConfigError:
        raise ConfigError(f"{argument}: q0 and p0 must be rectangular arrays of real numbers, shape (pathways, modes)") from None
    expected = (_num_pathways(equations), num_modes)
    for name, value in (("q0", q0), ("p0", p0)):
        if value.shape != expected:
            raise ConfigError(f"{argument}: {name} has shape {value.shape}, expected (pathways, modes) = {expected}")
    return qp_initial_state(equations, q0, p0)
