"""The networks of a sweep as tasks: one :class:`NetworkTask` per network, run here or on a cluster.

A width sweep (and the DMFT's) trains one network per (width, seed), and one more at half
the learning rate for the ``O(eta)`` floor. Each is a :class:`NetworkTask` that names every
setting it needs, so a task can travel to a Dask worker and run there alone
(:func:`train_network`); :func:`train_networks` runs a list of them in order, serially or
on a cluster (:mod:`pathdyn.validation.sweep.distributed`), with the same bits either way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from collections.abc import Sequence
from typing import Any

import numpy as np

from pathdyn.numerics.datasets import Dataset
from pathdyn.numerics.trajectory import Trajectory
from pathdyn.validation.mapping import InitialState, map_initial_state
from pathdyn.validation.network import initialize_weights, simulate_gd
from pathdyn.validation.sweep.cases import ValidationCase
from pathdyn.validation.sweep.distributed import progress_for, task_runner

__all__ = ["Mapping", "NetworkTask", "network_cost", "network_tasks", "train_network", "train_networks"]


@dataclass(frozen=True)
class Mapping:
    """Map each network's initial weights to a reduced model's initial state.

    Attributes
    ----------
    theory : str
        The model (a name of the model registry with mappings).
    method : str
        Its mapping.
    U, V : ndarray
        The data's left and right singular vectors of the compared modes (columns).
    """

    theory: str
    method: str
    U: np.ndarray
    V: np.ndarray


@dataclass(frozen=True)
class NetworkTask:
    """One network of a sweep: what to train, for how long, and whether to map its start.

    Attributes
    ----------
    depths : tuple of int
    dataset : Dataset
    width : int
    seed : int
    init : str
    init_scale : float
        ``sigma`` of the initial weights.
    learning_rate : float
    steps : int
    record_every : int
    mapping : Mapping or None
        Also map the network's initial state (None: do not).
    device : str
        Where it trains (:func:`pathdyn.validation.network.simulate_gd`).
    """

    depths: tuple
    dataset: Dataset
    width: int
    seed: int
    init: str
    init_scale: float
    learning_rate: float
    steps: int
    record_every: int
    mapping: Mapping | None = None
    device: str = "numpy"

    @property
    def cost(self) -> float:
        """Weight entries of the network times steps (:func:`network_cost`)."""
        return network_cost(self.depths, self.width, self.dataset.n_in, self.dataset.n_out, self.steps)


def network_cost(depths: Sequence[int], width: int, n_in: int, n_out: int, steps: int) -> float:
    """Relative cost of training one network: its weight entries times its steps.

    Parameters
    ----------
    depths : sequence of int
        Layers per pathway.
    width : int
        Hidden width ``N``.
    n_in, n_out : int
        Input and output sizes.
    steps : int
        Gradient-descent steps.

    Returns
    -------
    float

    Notes
    -----
    A pathway of depth ``d >= 2`` has ``d - 2`` hidden ``N x N`` layers and the ``N x n_in``
    and ``n_out x N`` ends; one of depth 1 is a single ``n_out x n_in`` layer. Each step reads
    and updates every entry a fixed number of times, so the time of a step is close to
    proportional to the entries once ``N`` is large.
    """
    entries = sum(n_out * n_in if d == 1 else (d - 2) * width**2 + width * (n_in + n_out) for d in depths)
    return float(steps * entries)


def network_tasks(case: ValidationCase, dataset: Dataset, *, mapping: Mapping | None, half_eta: bool, device: str,
                  prefix: str) -> tuple[list[NetworkTask], list[str]]:
    """The tasks of every network of a case, and their labels.

    Parameters
    ----------
    case : ValidationCase
    dataset : Dataset
        The case's resolved data.
    mapping : Mapping or None
        Also map each network's initial state; None: do not.
    half_eta : bool
        Add the ``O(eta)`` floor's run: the largest width, first seed, at ``eta / 2`` for
        twice the steps (never mapped).
    device : str
        Where the networks train.
    prefix : str
        First word of every label (the task names on a cluster).

    Returns
    -------
    (tasks, labels) : list of NetworkTask, list of str
        In the order widths x seeds, the half-step run last.
    """
    name = "-".join(map(str, case.depths))
    tasks = [NetworkTask(case.depths, dataset, w, s, case.init, case.sigma, case.learning_rate, case.steps, case.record_every,
                         mapping, device) for w in case.widths for s in case.seeds]
    labels = [f"{prefix}-{name}-w{w}-s{s}" for w in case.widths for s in case.seeds]
    if half_eta:
        tasks.append(NetworkTask(case.depths, dataset, case.widths[-1], case.seeds[0], case.init, case.sigma,
                                 case.learning_rate / 2, 2 * case.steps, 2 * case.record_every, None, device))
        labels.append(f"{prefix}-{name}-w{case.widths[-1]}-s{case.seeds[0]}-half-eta")
    return tasks, labels


def train_networks(tasks: list[NetworkTask], labels: list[str], *, progress: Any, label: str, workers: int | None = None,
                   scheduler: str | None = None, runner: Any = None) -> list[tuple[InitialState | None, Trajectory]]:
    """Run :func:`train_network` on every task, serially or on a Dask cluster, in task order.

    Parameters
    ----------
    tasks, labels : list
        From :func:`network_tasks`.
    progress : bool or object with ``update(n)``
        A progress bar to draw (``True``) or to advance.
    label : str
        The progress bar's label.
    workers, scheduler, runner : optional
        As :func:`pathdyn.validation.sweep.distributed.task_runner`.

    Returns
    -------
    list of (InitialState or None, Trajectory)
        One per task; the same bits whichever path ran them.
    """
    with progress_for(progress, len(tasks), label, weights=[task.cost for task in tasks]) as bar, task_runner(workers, scheduler, runner) as tasks_on:
        # longest first on a cluster, so that the longest does not start last
        return tasks_on.map(train_network, [(task,) for task in tasks], labels, bar,
                            priorities=[task.cost for task in tasks])


def train_network(task: NetworkTask) -> tuple[InitialState | None, Trajectory]:
    """Train one network; map its initial state when the task says so.

    Parameters
    ----------
    task : NetworkTask

    Returns
    -------
    (InitialState or None, Trajectory)
        The mapped state, and the network's trajectory without its final weights.
    """
    dataset = task.dataset
    weights = initialize_weights(task.depths, dataset.n_in, dataset.n_out, task.width, init=task.init,
                                 init_scale=task.init_scale, seed=task.seed)
    state = None
    if task.mapping is not None:
        state = map_initial_state(weights, task.mapping.U, task.mapping.V, theory=task.mapping.theory,
                                  method=task.mapping.method, init_scale=task.init_scale)
    trajectory = simulate_gd(task.depths, dataset, task.width, weights=weights, learning_rate=task.learning_rate,
                             steps=task.steps, record_every=task.record_every, device=task.device)
    # A sweep keeps every network's trajectory but never its final weights (128 MB each at
    # width 2048, depth 7): drop them here so a many-seed sweep's memory does not grow with them.
    extras = {key: value for key, value in trajectory.extras.items() if key != "final_weights"}
    return state, replace(trajectory, extras=extras)
