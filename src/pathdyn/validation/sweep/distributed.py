"""Run the independent networks of a sweep in this process or on a Dask cluster.

A width sweep or a concentration measurement trains many networks that share nothing:
each (network, seed, width) case is one task. :func:`task_runner` gives an object whose
``map`` runs a list of such tasks and returns their results in order:

- no ``workers`` and no ``scheduler``: one after another in this process (the serial
  path, unchanged, no Dask import);
- ``workers=N``: on a local ``dask.distributed`` cluster of ``N`` worker processes with
  one thread each, started here and closed afterwards;
- ``scheduler="tcp://host:port"``: on an existing cluster.

The Dask paths need the optional extra ``distributed`` (``pip install
'pathdyn[distributed]'``). Every task runs the same function in both paths, with every
loaded OpenBLAS pinned to one thread (:func:`pathdyn.validation.network.blas_threads.blas_threads`),
so a report is bit-identical whichever path ran it, provided the workers run the same
pathdyn, numpy and C kernels (:func:`worker_fingerprint`; a mismatch is warned about).
A task that raises is retried (``RETRIES``); the tasks of a worker that dies are given to
the others by the scheduler, and the run completes.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy

from pathdyn._base.progress import Progress
from pathdyn.errors import ConfigError, SimulationError
from pathdyn.validation.network import kernels
from pathdyn.validation.network.blas_threads import blas_threads

__all__ = ["INSTALL_HINT", "RETRIES", "TaskRecord", "check_cluster_options", "progress_for", "run_cases", "task_runner",
           "worker_fingerprint"]

INSTALL_HINT = "pip install 'pathdyn[distributed]'"
#: Times a task that raised is run again before the run fails.
RETRIES = 2
#: Seconds to wait for an existing scheduler to answer (the whole handshake: a server that
#: accepts and never answers, such as an HTTP server, made ``distributed.Client`` wait forever).
CONNECT_TIMEOUT_S = 20
#: Seconds a cluster may have no worker at all, while tasks wait, before the run fails.
NO_WORKERS_TIMEOUT_S = 60.0
#: Seconds between looks at the cluster while tasks run.
POLL_S = 1.0
#: Protocols of a Dask scheduler address.
_PROTOCOLS = ("tcp", "tls", "ucx", "ws", "wss", "inproc")
_HOST_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def _is_address(text: str) -> bool:
    """``[PROTOCOL://]HOST[:PORT]`` with a known protocol, a host name or [IPv6] and a port 1-65535."""
    protocol, separator, rest = text.strip().partition("://")
    if not separator:
        rest = protocol
    elif protocol not in _PROTOCOLS:
        return False
    rest = rest[:-1] if rest.endswith("/") else rest
    if rest.startswith("["):  # [IPv6]:port
        host, bracket, port = rest[1:].partition("]")
        if not bracket or not host or not set(host) <= set("0123456789abcdefABCDEF:."):
            return False
        port = port[1:] if port.startswith(":") else port if not port else "x"
    else:
        host, _, port = rest.partition(":")
        if not host or not set(host) <= _HOST_CHARACTERS:
            return False
    return not port or (port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536)


@dataclass(frozen=True)
class TaskRecord:
    """How long one task ran, and where (``"local"`` on the serial path)."""

    label: str
    seconds: float
    worker: str


#: Most local workers per core ``check_cluster_options`` accepts.
MAX_WORKERS_PER_CORE = 4


def check_cluster_options(workers: int | None, scheduler: str | None) -> None:
    """Refuse a bad ``workers``/``scheduler`` pair (a ConfigError naming the argument and the fix).

    Parameters
    ----------
    workers : int or None
        Workers of a local cluster.
    scheduler : str or None
        Address of an existing cluster's scheduler.

    Raises
    ------
    ConfigError
        When both are given, ``workers`` is not a positive whole number or
        ``scheduler`` is not a non-empty string.
    """
    if workers is not None and scheduler is not None:
        raise ConfigError("workers, scheduler: give one of them: workers=N starts a local cluster, "
                          "scheduler=ADDRESS uses an existing one")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers: {workers!r} is not a positive whole number; e.g. workers=2 (--workers 2)")
    cores = os.cpu_count() or 1
    if workers is not None and workers > MAX_WORKERS_PER_CORE * cores:
        # each worker is a process holding its own networks: beyond a few per core they only compete
        raise ConfigError(f"workers: {workers:,} local workers on {cores} core(s); give at most "
                          f"{MAX_WORKERS_PER_CORE * cores} workers, or use an existing cluster: scheduler=ADDRESS")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ConfigError(f"scheduler: {scheduler!r} is not an address; e.g. scheduler='tcp://10.0.0.5:8786'")
    if scheduler is not None and not _is_address(scheduler):
        raise ConfigError(f"scheduler: {scheduler!r} is not a Dask scheduler address (PROTOCOL://HOST:PORT); "
                          "e.g. scheduler='tcp://10.0.0.5:8786'")


def worker_fingerprint() -> tuple:
    """What decides the bits of a result: pathdyn's and numpy's versions and the C kernels' path.

    Returns
    -------
    tuple
        ``(pathdyn version, numpy version, kernel path)``, the path as
        :func:`pathdyn.validation.network.kernels.path` names it (``"blas"``, ``"avx2"``, ``"avx512"``).
    """
    try:
        from importlib.metadata import version

        pathdyn_version = version("pathdyn")
    except Exception:  # noqa: BLE001 (a source checkout without metadata)
        pathdyn_version = "unknown"
    return pathdyn_version, numpy.__version__, kernels.path()


def _run_pinned(fn, args):
    """``fn(*args)`` with every OpenBLAS on one thread; returns ``(result, seconds, where)``."""
    started = time.perf_counter()
    with blas_threads(1):
        result = fn(*args)
    try:
        from distributed import get_worker

        where = get_worker().address
    except (ImportError, ValueError):
        where = "local"
    return result, time.perf_counter() - started, where


class _LockedProgress:
    """A progress bar shared by threads (several sweeps feeding one bar)."""

    def __init__(self, bar):
        self._bar = bar
        self._lock = threading.Lock()

    def update(self, amount: int = 1) -> None:
        with self._lock:
            self._bar.update(amount)


@dataclass
class _Runner:
    """Runs lists of tasks; ``records`` collects every task's :class:`TaskRecord`."""

    client: Any = None
    records: list = field(default_factory=list)

    @property
    def distributed(self) -> bool:
        return self.client is not None

    def map(self, fn, tasks, labels=None, bar=None, priorities=None) -> list:
        """``[fn(*args) for args in tasks]``, in this order, whichever path runs them.

        Parameters
        ----------
        fn : callable
            A module-level function (it is pickled to the workers).
        tasks : sequence of tuple
            The arguments of each call.
        labels : sequence of str, optional
            A name per task (for :attr:`records` and the scheduler's task names).
        bar : object with ``update(n)``, optional
            Advanced by one as each task finishes (in completion order on a cluster).
        priorities : sequence of int, optional
            Higher first on a cluster (give the longest tasks the highest, so the
            longest does not start last); ignored on the serial path.

        Returns
        -------
        list
        """
        tasks = [tuple(t) for t in tasks]
        labels = list(labels) if labels is not None else [f"task-{i}" for i in range(len(tasks))]
        if self.client is None:
            results = []
            for label, args in zip(labels, tasks):
                value, seconds, where = _run_pinned(fn, args)
                self.records.append(TaskRecord(label, seconds, where))
                results.append(value)
                if bar is not None:
                    bar.update(1)
            return results
        return self._map_on_cluster(fn, tasks, labels, bar, priorities)

    def _map_on_cluster(self, fn, tasks, labels, bar, priorities) -> list:
        priorities = list(priorities) if priorities is not None else [0] * len(tasks)
        futures = [
            self.client.submit(_run_pinned, fn, args, key=f"{label}-{uuid.uuid4().hex[:12]}", pure=False,
                               retries=RETRIES, priority=int(priority))
            for label, args, priority in zip(labels, tasks, priorities)
        ]
        position = {future.key: i for i, future in enumerate(futures)}
        results = [None] * len(futures)
        try:
            for future in self._completed(futures):
                value, seconds, where = future.result()
                i = position[future.key]
                results[i] = value
                self.records.append(TaskRecord(labels[i], seconds, where))
                if bar is not None:
                    bar.update(1)
        finally:
            for future in futures:
                future.release()
        return results

    def _completed(self, futures):
        """The futures as they finish; a :class:`SimulationError` once the cluster has had no worker for
        :data:`NO_WORKERS_TIMEOUT_S` (Dask itself waits for a worker forever)."""
        from distributed import wait

        remaining, idle_since = set(futures), None
        while remaining:
            try:
                done, remaining = wait(remaining, timeout=POLL_S, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            yield from done
            if done or self._has_workers():
                idle_since = None
                continue
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > NO_WORKERS_TIMEOUT_S:
                for future in remaining:
                    future.cancel()
                raise SimulationError(f"scheduler: the Dask cluster has had no worker for {NO_WORKERS_TIMEOUT_S:g} s "
                                      f"({len(remaining)} task(s) waiting; were the workers stopped?); start workers "
                                      "('dask worker ADDRESS') and run again")

    def _has_workers(self) -> bool:
        try:
            return bool(self.client.scheduler_info().get("workers"))
        except Exception:  # noqa: BLE001 (a scheduler that stopped answering has no workers for us)
            return False

    def shared_bar(self, bar):
        """``bar`` made safe to update from several threads (the suite runs its sweeps concurrently)."""
        return _LockedProgress(bar)


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise ConfigError(f"workers/scheduler: dask.distributed is not installed; install the extra: {INSTALL_HINT}") from None
    return distributed


def _connect(distributed, scheduler: str):
    """``distributed.Client(scheduler)`` within :data:`CONNECT_TIMEOUT_S`, whatever answers at the address.

    The client is made in a daemon thread joined with a deadline: ``Client(timeout=...)`` bounds
    the TCP connection but not the handshake, so a server that accepts and never answers kept it
    waiting with no end. A client still connecting at the deadline is abandoned with its thread.
    """
    outcome: dict = {}

    def attempt() -> None:
        try:
            outcome["client"] = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except BaseException as error:  # noqa: BLE001 (reported below, in the caller's thread)
            outcome["error"] = error

    thread = threading.Thread(target=attempt, name="pathdyn-dask-connect", daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT_S + 5)
    if thread.is_alive():
        raise ConfigError(f"scheduler: nothing at {scheduler!r} answered as a Dask scheduler within {CONNECT_TIMEOUT_S} s "
                          "(another kind of server?); start one with 'dask scheduler' or check the address")
    if "error" in outcome:
        error = outcome["error"]
        raise ConfigError(f"scheduler: no Dask scheduler answered at {scheduler!r} ({type(error).__name__}: "
                          f"{str(error)[:120]}); start one with 'dask scheduler' or check the address") from None
    return outcome["client"]


def _check_workers_match(client) -> None:
    here = worker_fingerprint()
    try:
        there = set(client.run(worker_fingerprint).values())
    except Exception as error:  # noqa: BLE001 (whatever a worker without pathdyn raises)
        raise ConfigError(f"scheduler: the workers cannot run pathdyn ({type(error).__name__}: {error}); "
                          "install the same pathdyn on every worker") from None
    if there - {here}:
        warnings.warn(
            f"task_runner: workers run {sorted(there)} (pathdyn, numpy, C kernels) but this process {here}; "
            "results may differ from a serial run in the last bits",
            stacklevel=3,
        )


@contextmanager
def task_runner(workers: int | None = None, scheduler: str | None = None, runner: _Runner | None = None) -> Iterator[_Runner]:
    """A runner for :meth:`_Runner.map`: serial, a local Dask cluster, or an existing one.

    Parameters
    ----------
    workers : int, optional
        Start a local ``dask.distributed`` cluster of this many worker processes (one
        thread each) for the duration of the ``with`` block.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:port``).
    runner : optional
        An open runner to reuse (several sweeps on one cluster); returned as is.

    Yields
    ------
    runner
        ``runner.map(fn, tasks, labels, bar, priorities)``; ``runner.records`` holds the
        :class:`TaskRecord` of every task run.

    Raises
    ------
    ConfigError
        Both or bad options, ``dask.distributed`` not installed (the message names the
        extra), or a scheduler that does not answer.
    """
    if runner is not None:
        yield runner
        return
    check_cluster_options(workers, scheduler)
    if workers is None and scheduler is None:
        yield _Runner()
        return
    distributed = _import_distributed()
    import logging

    cluster = None
    if scheduler is not None:
        client = _connect(distributed, scheduler)
    else:
        # Worker processes inherit this environment; the dashboard is off so that no fixed
        # port is taken on a shared machine.
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
        client = distributed.Client(cluster)
    try:
        _check_workers_match(client)
        yield _Runner(client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def progress_for(progress: bool | Progress, total: int, label: str, weights: Sequence[float] | None = None,
                 estimate: bool = True) -> AbstractContextManager[Any]:
    """A context manager giving a bar: ``progress`` itself when it is one (has ``update``), else a new one.

    Parameters
    ----------
    progress : bool or Progress
        An existing bar, or whether to draw a new one.
    total : int
        Units of work of a new bar.
    label : str
        Its label.
    weights : sequence of float, optional
        A new bar's cost per unit, in the order the units run (see :class:`Progress`).
    estimate : bool
        Whether a new bar prints the projected total of a long run.

    Returns
    -------
    context manager
        Entering it gives the bar.
    """
    if hasattr(progress, "update"):
        return nullcontext(progress)
    return Progress(total, label, enabled=None if progress else False, weights=weights, estimate=estimate)


def run_cases(cases: Sequence[Any], run: Callable[..., Any], *, workers: int | None = None, scheduler: str | None = None,
              progress: Any = False, on_report: Callable[[Any, Any], object] | None = None, runner: _Runner | None = None) -> list:
    """``run(case, progress=..., runner=...)`` of every case, on one task runner (the ``pathdyn validate`` suite).

    Parameters
    ----------
    cases : sequence
        Objects with ``num_networks`` (the tasks each submits).
    run : callable
        ``run(case, progress=bar, runner=runner) -> report``; it submits its networks to ``runner``.
    workers, scheduler : optional
        As for :func:`task_runner`. On a cluster all cases' networks are submitted at
        once (one thread per case waits for its own), so no worker idles between cases.
    progress : bool
        One progress bar for all networks (per case on the serial path).
    on_report : callable, optional
        ``on_report(case, report)``, called in case order as soon as the case and every
        case before it are done.
    runner : optional
        An open :func:`task_runner` to use instead of ``workers``/``scheduler`` (its
        ``records`` then hold every network's duration).

    Returns
    -------
    list
        The reports in case order; bit-identical whichever path ran them.
    """
    check_cluster_options(workers, scheduler)
    reports = []
    if runner is None and workers is None and scheduler is None:
        runner = _Runner()
    if runner is not None and not runner.distributed:
        for case in cases:
            reports.append(run(case, progress=progress, runner=runner))
            if on_report is not None:
                on_report(case, reports[-1])
        return reports
    total = sum(case.num_networks for case in cases)
    with task_runner(workers, scheduler, runner) as runner, progress_for(progress, total, "validate suite", estimate=False) as bar:
        # no projection here: the suite said how long it takes before it started
        shared = runner.shared_bar(bar)
        with ThreadPoolExecutor(max_workers=len(cases)) as pool:
            pending = [pool.submit(run, case, runner=runner, progress=shared) for case in cases]
            for case, future in zip(cases, pending):
                reports.append(future.result())
                if on_report is not None:
                    on_report(case, reports[-1])
    return reports
