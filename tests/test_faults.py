"""Fault tests: an interrupted run or write leaves a pre-existing output intact and no temporary file.

SIGINT and SIGTERM are sent to a real ``pathdyn`` process (during the computation) and
to a process inside :meth:`pathdyn.cli.outputs.FilePlan.stage` (during the write). Before
``pathdyn.cli.outputs.terminate_as_interrupt``, SIGTERM had its default action: the process
died at once, no ``except``/``finally`` ran, and a temporary file being written stayed
next to the output.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from pathdyn.errors import ConfigError
from pathdyn.cli.outputs import FilePlan, Terminated

OLD = b"previous result, must survive"


def _default_sigint():
    # a child of a shell started in the background inherits SIGINT ignored; restore Ctrl-C
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(argv, cwd):
    return subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def _wait_for_line(process, marker: str, timeout: float = 120.0) -> None:
    """Read standard output until a line containing ``marker`` (the process has reached that point)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if marker in line:
            return
        if not line and process.poll() is not None:
            raise AssertionError(f"process ended before {marker!r}: {process.stderr.read()}")
    raise AssertionError(f"no {marker!r} within {timeout} s")


def _leftovers(directory, keep) -> list:
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


_RUN_SCRIPT = textwrap.dedent("""
    import sys
    import pathdyn.validation.network as network
    from pathdyn.cli.main import main

    original = network.simulate_gd

    def announced(*args, **kwargs):
        print("computing", flush=True)
        return original(*args, **kwargs)

    network.simulate_gd = announced
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.slow
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_the_run_keeps_the_old_output(signum, status, tmp_path):
    for name in ("out.npz", "weights.npz"):
        (tmp_path / name).write_bytes(OLD)
    argv = [sys.executable, "-c", _RUN_SCRIPT, "simulate", "--depths", "2,2", "--width", "64", "--learning-rate", "1e-4",
            "--steps", "100000000", "--record-every", "1000000", "--no-progress", "-o", "out.npz",
            "--save-weights", "weights.npz"]
    process = _start(argv, tmp_path)
    _wait_for_line(process, "computing")
    time.sleep(0.5)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == status, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert (tmp_path / "out.npz").read_bytes() == OLD
    assert (tmp_path / "weights.npz").read_bytes() == OLD
    assert _leftovers(tmp_path, {"out.npz", "weights.npz"}) == []


_WRITE_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathdyn.cli.main import main
    from pathdyn.cli.outputs import FilePlan

    original = FilePlan.stage

    def slow_stage(self, flag, write):
        def slow_write(tmp):
            write(tmp)
            print("writing", flush=True)
            time.sleep(60)
        return original(self, flag, slow_write)

    FilePlan.stage = slow_stage
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("signum, status", [
    pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_signal_during_the_write_keeps_the_old_output(signum, status, tmp_path):
    """SIGHUP (terminal closed) too: before, its default action killed the process and left the temporary file."""
    (tmp_path / "eqs.json").write_bytes(OLD)
    process = _start([sys.executable, "-c", _WRITE_SCRIPT, "derive", "--depths", "2,3", "--format", "json", "-o", "eqs.json"],
                     tmp_path)
    _wait_for_line(process, "writing")
    assert len(_leftovers(tmp_path, {"eqs.json"})) == 1  # the temporary file exists while writing
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == status, err
    assert "Traceback" not in err
    assert (tmp_path / "eqs.json").read_bytes() == OLD
    assert _leftovers(tmp_path, {"eqs.json"}) == []


def test_failing_second_output_writes_neither(tmp_path):
    """Outputs are renamed into place only when every one has been written."""
    (tmp_path / "a.json").write_bytes(OLD)
    with FilePlan() as plan:
        plan.add_output("-o", tmp_path / "a.json")
        plan.add_output("--plot", tmp_path / "b.png", kind="plot")
        plan.check()
        plan.stage_text("-o", "new")

        def broken(tmp):
            raise OSError(28, "No space left on device", str(tmp))

        with pytest.raises(OSError) as caught:
            plan.stage("--plot", broken)
    assert str(tmp_path / "b.png") in str(caught.value) and ".b.png." not in str(caught.value)
    assert (tmp_path / "a.json").read_bytes() == OLD
    assert _leftovers(tmp_path, {"a.json"}) == []


def test_interrupt_inside_a_writer_cleans_up(tmp_path):
    (tmp_path / "a.json").write_bytes(OLD)
    for interruption in (KeyboardInterrupt, Terminated):
        with pytest.raises(interruption), FilePlan() as plan:
            plan.add_output("-o", tmp_path / "a.json")
            plan.check()

            def interrupted(tmp):
                tmp.write_text("half")
                raise interruption()

            plan.stage("-o", interrupted)
        assert (tmp_path / "a.json").read_bytes() == OLD
        assert _leftovers(tmp_path, {"a.json"}) == []


def test_unwritable_directory_is_refused_before_work(tmp_path):
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        plan = FilePlan()
        plan.add_output("-o", locked / "x.json")
        with pytest.raises(ConfigError, match="not writable"):
            plan.check()
    finally:
        locked.chmod(0o700)


def test_the_library_writes_through_links_and_refuses_special_files(tmp_path):
    """``save_json`` (every library writer goes through ``atomic_write``) as the command line does.

    Before: the link became a plain file (its target kept the old result) and a FIFO or a
    read-only file was replaced by a rename (as root).
    """
    import os

    from pathdyn.io.jsonio import save_json

    (tmp_path / "target.json").write_bytes(OLD)
    (tmp_path / "link.json").symlink_to("target.json")
    save_json(tmp_path / "link.json", {"a": 1})
    assert (tmp_path / "link.json").is_symlink() and (tmp_path / "target.json").read_text().startswith("{")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "ro.json").write_bytes(OLD)
    (tmp_path / "ro.json").chmod(0o444)
    with pytest.raises(ConfigError, match="FIFO"):
        save_json(tmp_path / "fifo", {"a": 1})
    with pytest.raises(ConfigError, match="read-only"):
        save_json(tmp_path / "ro.json", {"a": 1})
    assert (tmp_path / "ro.json").read_bytes() == OLD
    assert _leftovers(tmp_path, {"target.json", "link.json", "fifo", "ro.json"}) == []
