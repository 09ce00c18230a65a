"""Work bounded by what the input can justify (issue 20.2), and parsers that fail in one line.

Each test fails on the code before these bounds (checked with ``PYTHONPATH`` on the old
tree): ``np.load`` decompressed the archive before any check, a truncated archive or a
``.npy`` named ``.npz`` raised ``BadZipFile``, integrating 40 pathways built the symbolic
Jacobian at compile time (35 of 45 s; 200 pathways over 7 minutes), numbers above 2**53
in count options reached numpy (``OverflowError``), deeply nested JSON/TOML raised
``RecursionError`` and a TOML piped through /dev/stdin was read twice and arrived empty.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathdyn.cli.main import MAX_OPTION_INTEGER, main
from pathdyn.errors import ConfigError, DatasetError

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _one_line(argv, tmp_path, monkeypatch, capsys, *needles) -> str:
    monkeypatch.chdir(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    try:
        status = main(argv)
    except SystemExit as stop:
        status = stop.code
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err, (argv, err)
    assert all(n in err for n in needles), (argv, err)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    return err


def _zero_bomb(path, name: str, nbytes: int) -> None:
    """An .npz whose one float64 array of zeros expands to ``nbytes``, written in chunks (no big allocation)."""
    header = {"descr": "<f8", "fortran_order": False, "shape": (8, nbytes // 64)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            chunk = bytes(1 << 20)
            for _ in range(nbytes // len(chunk)):
                member.write(chunk)


def test_an_npz_is_refused_from_its_headers_before_loading(tmp_path, monkeypatch):
    """64 MiB of zeros (64 kB on disk) against 64 MiB of 'available' memory: refused, np.load never called."""
    import pathdyn.io.npz as npz
    from pathdyn.numerics.datasets import load_dataset

    _zero_bomb(tmp_path / "bomb.npz", "X", 64 << 20)
    assert (tmp_path / "bomb.npz").stat().st_size < 1 << 20
    monkeypatch.setattr(npz, "available_memory_bytes", lambda: 64 << 20)

    def no_load(*args, **kwargs):
        raise AssertionError("np.load called before the headers were checked")

    monkeypatch.setattr(np, "load", no_load)
    with pytest.raises(DatasetError, match="expands to"):
        npz.read_npz(tmp_path / "bomb.npz", "dataset file", error=DatasetError)
    with pytest.raises(DatasetError, match="lacks array"):  # the consumer's checks run on the headers too
        load_dataset(tmp_path / "bomb.npz")


def _forged(path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("X.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
            member.write(bytes(64))


BROKEN = {
    "truncated": lambda p: p.write_bytes(_archive_bytes()[:200]),
    "npy named npz": lambda p: np.save(open(p, "wb"), np.ones((2, 2))),
    "forged header": _forged,
    "objects": lambda p: p.write_bytes(_object_archive()),
    "empty": lambda p: p.write_bytes(b""),
}


def _archive_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, X=np.eye(3), Y=np.eye(3))
    return buffer.getvalue()


def _object_archive() -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, X=np.array([{"a": 1}], dtype=object))
    return buffer.getvalue()


@pytest.mark.parametrize("kind", sorted(BROKEN))
@pytest.mark.parametrize("argv", [
    ["simulate", "--learning-rate", "0.1", "--steps", "2", "--width", "4", "--dataset", "d.npz", "-o", "out.npz"],
    ["simulate", "--learning-rate", "0.1", "--steps", "2", "--init-from", "d.npz", "-o", "out.npz"],
    ["integrate", "--dataset", "d.npz", "-o", "out.json"],
])
def test_a_broken_npz_is_one_line(kind, argv, tmp_path, monkeypatch, capsys):
    BROKEN[kind](tmp_path / "d.npz")
    _one_line(argv, tmp_path, monkeypatch, capsys, "d.npz")


def test_many_pathways_integrate_without_the_symbolic_jacobian(monkeypatch):
    """40 pathways (80 states) compile and integrate without building the O(n^3) symbolic Jacobian.

    A variant that builds it at compile time (the old code) calls the patched ``jacobian`` and fails.
    """
    import sympy as sp

    from pathdyn.numerics.compile import compile_rhs
    from pathdyn.numerics.initial import draw_initial_state
    from pathdyn.numerics.integrate import integrate
    from pathdyn.theory.architecture import Architecture
    from pathdyn.theory.models import reduce_to_modes

    def refuse(*args, **kwargs):
        raise AssertionError("symbolic Jacobian built")

    monkeypatch.setattr(sp.MatrixBase, "jacobian", refuse)
    equations = reduce_to_modes(Architecture(depths=(2,) * 40), model="qp")
    rhs = compile_rhs(equations)
    assert not rhs.symbolic_jacobian_is_cheap
    S = np.array([2.0, 1.0])
    trajectory = integrate(equations, draw_initial_state(equations, 2, 0.1, seed=0), S, 2.0, num_points=5)
    assert trajectory.success
    # 40 pathways of depth 2 learn fast: by t = 2 the summed K has reached S (to the solver's rtol 1e-8, with room)
    np.testing.assert_allclose(np.asarray(trajectory.K)[-1].sum(axis=0), S, rtol=1e-6)


COUNT_OPTIONS = [
    ["simulate", "--learning-rate", "0.1", "--steps", "5", "--width", "{}", "-o", "r.npz"],
    ["simulate", "--learning-rate", "0.1", "--steps", "{}", "--width", "4", "-o", "r.npz"],
    ["simulate", "--learning-rate", "0.1", "--steps", "5", "--width", "4", "--threads", "{}", "-o", "r.npz"],
    ["concentration", "--seeds", "{}"],
    ["concentration", "--width", "{}"],
    ["integrate", "--num-points", "{}"],
    ["validate", "--workers", "{}"],
    ["validate", "--widths", "8,16,{}"],
    ["figures", "phase-plane", "--num-trajectories", "{}", "-o", "a.png"],
    ["graph-sweep", "--architecture", "ARCH", "--widths", "{}"],
    ["graph-concentration", "--architecture", "ARCH", "--seeds", "{}"],
    ["dmft-finite-width", "--depths", "2,2", "--widths", "{}", "--seeds", "0,1", "-o", "a.json"],
    ["dmft-finite-width", "--depths", "2,2", "--widths", "8", "--seeds", "0-{}", "-o", "a.json"],
]


@SETTINGS
@given(argv=st.sampled_from(COUNT_OPTIONS), exponent=st.integers(54, 400))
def test_enormous_counts_are_one_line(argv, exponent, tmp_path, monkeypatch, capsys):
    """Numbers from 2**54 to 2**400, alone or in lists: one line before any work (before: OverflowError, hangs)."""
    from pathlib import Path

    arch = str(Path(__file__).resolve().parent.parent / "examples" / "two_stream.toml")
    value = str(2**exponent + 1)
    assert int(value) > MAX_OPTION_INTEGER
    _one_line([a.replace("{}", value).replace("ARCH", arch) for a in argv], tmp_path, monkeypatch, capsys)


NESTED_JSON = "[" * 50_000 + "]" * 50_000
HUGE_INTEGER_JSON = '{"q0": [[' + "7" * 5000 + ']], "p0": [[1]]}'


@pytest.mark.parametrize("text", [NESTED_JSON, HUGE_INTEGER_JSON])
def test_json_the_parser_cannot_take_is_one_error(text, tmp_path, monkeypatch, capsys):
    from pathdyn.io.results import read_json
    from pathdyn.theory.export import load_equations_json

    (tmp_path / "f.json").write_text(text)
    with pytest.raises(ConfigError):
        load_equations_json(str(tmp_path / "f.json"))
    with pytest.raises(ConfigError):
        read_json(tmp_path / "f.json")
    _one_line(["integrate", "--init", "f.json", "-o", "out.json"], tmp_path, monkeypatch, capsys, "--init")
    _one_line(["dmft-finite-width", "--summarize", "f.json"], tmp_path, monkeypatch, capsys, "--summarize")


def test_deeply_nested_toml_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "a.toml").write_text("depths = " + "[" * 50_000 + "]" * 50_000 + "\n")
    for argv in (["derive", "--architecture", "a.toml"], ["validate", "--architecture", "a.toml"],
                 ["simulate", "--architecture", "a.toml", "--learning-rate", "0.1", "--steps", "2", "-o", "r.npz"]):
        _one_line(argv, tmp_path, monkeypatch, capsys, "a.toml")


def test_a_toml_on_standard_input_is_read_once(tmp_path):
    """``--architecture /dev/stdin`` (or a process substitution): read once, so it arrives whole."""
    done = subprocess.run([sys.executable, "-m", "pathdyn.cli.main", "derive", "--architecture", "/dev/stdin"],
                          input="depths = [2, 3]\n", capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "depths 2,3" in done.stdout

