"""Never wait forever on Dask (issue 20.6): malformed addresses, silent servers, clusters without workers.

Before: a malformed ``--scheduler`` gave a 50-line ValueError from distributed, a server that
accepts and never answers kept the client waiting past 90 s (measured here: ``validate
--scheduler`` at such a server was still waiting when killed at 140 s), and a cluster whose
workers were all killed left the client waiting with no end.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathdyn.cli.main import main
from pathdyn.errors import SimulationError

pytest.importorskip("distributed")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(address=st.sampled_from(["http://host:8786", "tcp://host:99999", "tcp://a b:1", "::::", "tcp://", "tcp://h:0",
                                "host:port", "tcp://h:1/x/y", "sched uler"]))
def test_a_malformed_address_is_one_line_before_work(address, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--widths", "8,16,32", "--t-max", "0.1", "--scheduler", address, "-o", "r.json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--scheduler" in err and "not a Dask scheduler address" in err, err
    assert list(tmp_path.iterdir()) == []


def _silent_server():
    """A TCP server on 127.0.0.1 that accepts connections and never answers; returns (port, stop)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop, held = threading.Event(), []

    def serve():
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1], stop


_CONNECT = textwrap.dedent("""
    import sys
    import pathdyn.validation.sweep.distributed as d
    from pathdyn.cli.main import main
    d.CONNECT_TIMEOUT_S = 2
    sys.exit(main(sys.argv[1:]))
""")


def test_a_server_that_never_answers_is_one_line(tmp_path):
    port, stop = _silent_server()
    try:
        done = subprocess.run([sys.executable, "-c", _CONNECT, "validate", "--widths", "8,16,32", "--t-max", "0.1",
                               "--scheduler", f"tcp://127.0.0.1:{port}", "-o", "r.json"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=90)
    finally:
        stop.set()
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "answered as a Dask scheduler within 2 s" in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_a_cluster_without_workers_fails_instead_of_waiting(monkeypatch):
    """All workers retired while tasks wait: a SimulationError after NO_WORKERS_TIMEOUT_S, not an endless wait."""
    import distributed

    import pathdyn.validation.sweep.distributed as d

    monkeypatch.setattr(d, "NO_WORKERS_TIMEOUT_S", 2.0)
    monkeypatch.setattr(d, "POLL_S", 0.2)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        runner = d._Runner(client)
        threading.Timer(1.0, lambda: client.sync(cluster.scale, 0)).start()
        with pytest.raises(SimulationError, match="no worker"):
            runner.map(_sleep, [(0.5,)] * 20)
