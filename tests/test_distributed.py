"""Sweeps on Dask: the same reports as the serial run, bit for bit, and a run that survives a lost worker.

Needs the optional extra ``distributed`` (skipped without it, except the test that asking
for workers without it names the extra). The networks are tiny (widths 8-32, short
training) so that the checks are about the plumbing, not the numbers.
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pathdyn.errors import ConfigError
from pathdyn.validation.sweep.cases import ValidationCase
from pathdyn.validation.sweep.concentration import measure_concentration
from pathdyn.validation.sweep.distributed import check_cluster_options, task_runner
from pathdyn.validation.sweep.suite import validate_suite

TINY_CASES = (
    ValidationCase(name="tiny depth 2", depths=(2, 2), widths=(8, 16, 32), seeds=(0, 1), init="gaussian",
                   init_scale=0.3, theory="qp", learning_rate=0.01, t_max=2.0, record_points=20),
    ValidationCase(name="tiny depth 3", depths=(3, 3), widths=(8, 16), seeds=(0, 1), init="orthogonal",
                   init_scale=0.5, theory="two-channel", learning_rate=0.01, t_max=2.0, record_points=20),
    # the DMFT sweep hands its networks to the same runner
    ValidationCase(name="tiny dmft", depths=(3, 3), widths=(8, 16, 32), seeds=(0, 1), init="gaussian",
                   init_scale=0.5, theory="dmft", learning_rate=0.05, t_max=1.0, record_points=10),
)
TINY_CONCENTRATION = {"depths": (2, 3), "activations": ("linear", "tanh"), "seeds": (0, 1, 2), "width": 16,
                      "learning_rate": 0.05, "t_max": 3.0}


def _without_timing(document):
    """The report with its wall-clock fields removed (the only part allowed to differ)."""
    if isinstance(document, dict):
        return {k: _without_timing(v) for k, v in document.items() if k != "wall_time_s"}
    if isinstance(document, list):
        return [_without_timing(v) for v in document]
    return document


def _documents(reports):
    # Through JSON text: exactly what `pathdyn validate -o` writes.
    return [_without_timing(json.loads(json.dumps(r.to_json_dict()))) for r in reports]


def _concentration_document(**cluster):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short training: "not finished" warnings are expected
        result = measure_concentration(**TINY_CONCENTRATION, **cluster)
    return _without_timing(json.loads(json.dumps(result.to_json_dict())))


@pytest.fixture(scope="module")
def serial_reports():
    return _documents(validate_suite(TINY_CASES))


def test_cluster_options_are_checked():
    with pytest.raises(ConfigError, match="workers, scheduler: give one"):
        check_cluster_options(2, "tcp://127.0.0.1:1")
    with pytest.raises(ConfigError, match="workers: 0 is not a positive whole number"):
        check_cluster_options(0, None)


def test_asking_for_workers_without_dask_names_the_extra(monkeypatch, capsys):
    """Without dask.distributed: one line naming the extra, exit status 2; the serial path still runs."""
    from pathdyn.cli.main import main

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ConfigError, match=r"pip install 'pathdyn\[distributed\]'"):
        with task_runner(workers=2):
            pass
    with task_runner() as runner:
        assert runner.map(pow, [(2, 3), (3, 2)]) == [8, 9]
    assert main(["validate", "--depths", "2,2", "--widths", "8,16", "--seeds", "0", "--t-max", "0.5",
                 "--no-progress", "--workers", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'pathdyn[distributed]'" in err[0]


needs_dask = pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                                reason="needs the optional extra: pip install 'pathdyn[distributed]'")


@needs_dask
def test_local_cluster_suite_matches_serial_bit_for_bit(serial_reports):
    """Two cases' networks on a local cluster of 2 processes: the same JSON as the serial run."""
    assert _documents(validate_suite(TINY_CASES, workers=2)) == serial_reports




def _start_cluster(tmp_path, workers=2):
    """``dask scheduler`` and ``workers`` single-thread ``dask worker`` processes (no nanny) on 127.0.0.1."""
    dask = os.path.join(os.path.dirname(sys.executable), "dask")
    scheduler_file = tmp_path / "scheduler.json"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                   "--scheduler-file", str(scheduler_file)], **quiet)]
    deadline = time.monotonic() + 60
    while not scheduler_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    address = json.loads(scheduler_file.read_text())["address"]
    for _ in range(workers):
        processes.append(subprocess.Popen([dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                           "--no-nanny", "--no-dashboard"], **quiet))
    import distributed

    with distributed.Client(address, timeout=60) as client:
        client.wait_for_workers(workers, timeout=60)
    return address, processes


def _stop(processes):
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@needs_dask
def test_existing_scheduler_matches_serial_bit_for_bit(tmp_path, serial_reports):
    """A scheduler and two workers started here as separate processes."""
    address, processes = _start_cluster(tmp_path)
    try:
        assert _documents(validate_suite(TINY_CASES, scheduler=address)) == serial_reports
    finally:
        _stop(processes)


@needs_dask
@pytest.mark.slow
def test_concentration_on_clusters_matches_serial_bit_for_bit(tmp_path):
    """measure_concentration on a local cluster and on an existing one (slow tier: two cluster start-ups)."""
    serial = _concentration_document()
    assert _concentration_document(workers=2) == serial
    address, processes = _start_cluster(tmp_path)
    try:
        assert _concentration_document(scheduler=address) == serial
    finally:
        _stop(processes)


class _KillOnFirstUpdate:
    """A progress 'bar' that kills one worker process as soon as the first network is done."""

    def __init__(self, process):
        self.process, self.updates = process, 0

    def update(self, amount=1):
        self.updates += amount
        if self.updates == 1:
            os.kill(self.process.pid, signal.SIGKILL)


@needs_dask
@pytest.mark.slow
def test_a_killed_worker_does_not_stop_the_sweep(tmp_path):
    """SIGKILL one of two workers mid-sweep: its tasks go to the other and the report matches the serial one."""
    from pathdyn.validation.sweep.width import validate_width

    case = {"widths": (64, 96, 128, 160, 192, 224), "seeds": (0, 1), "init": "orthogonal", "init_scale": 0.5,
            "theory": "two-channel", "learning_rate": 0.01, "t_max": 4.0, "record_points": 20}
    serial = _documents([validate_width((3, 3), **case)])
    address, processes = _start_cluster(tmp_path)
    try:
        killer = _KillOnFirstUpdate(processes[1])
        report = validate_width((3, 3), **case, scheduler=address, progress=killer)
        assert processes[1].poll() is not None, "the worker was not killed"
        assert killer.updates == len(case["widths"]) * len(case["seeds"]) + 1
        assert _documents([report]) == serial
    finally:
        _stop(processes)
