"""``pathdyn derive``: formats, output files, one-line errors, nothing half-written."""

import json
import subprocess
import sys

import pytest
import sympy as sp

from pathdyn.cli.main import main
from pathdyn.errors import DerivationError
from pathdyn.theory.export import load_equations_json


def test_text_to_stdout(capsys):
    assert main(["derive", "--depths", "2,3"]) == 0
    out = capsys.readouterr().out
    assert "dW_2_1/dt = (W_2_3*W_2_2).T*(Sigma_yx - Omega)" in out
    assert "dq_2/dt = p_2*q_2*(S - p_1*q_1 - p_2*q_2**2)" in out


@pytest.mark.parametrize("dash", [["-o", "-"], []])
def test_latex_to_stdout(capsys, dash):
    assert main(["derive", "--depths", "2,2", "--format", "latex", *dash]) == 0
    out = capsys.readouterr().out
    assert out.startswith(r"\documentclass") and out.rstrip().endswith(r"\end{document}")


def test_fragment(capsys):
    assert main(["derive", "--depths", "3", "--format", "latex", "--fragment"]) == 0
    out = capsys.readouterr().out
    assert r"\documentclass" not in out and r"\label{eq:W-1-3}" in out


def test_json_file_with_dimensions(tmp_path, capsys):
    path = tmp_path / "sub" / "eqs.json"
    # a missing output directory is refused before any work (a typo would otherwise create a tree)
    assert main(["derive", "--depths", "2,3", "-o", str(path)]) == 2
    assert "does not exist; create it first" in capsys.readouterr().err
    path.parent.mkdir()
    assert main(["derive", "--depths", "2,3", "--n-in", "8", "--n-out", "15", "--general",
                 "--format", "json", "-o", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"pathdyn derive: wrote {path} (")  # the summary line alone
    data = json.loads(path.read_text())
    assert data["architecture"] == {"depths": [2, 3], "whitened": False, "n_in": 8, "n_out": 15}
    loaded = load_equations_json(path)
    rhs = loaded.rhs_of(1, 1)
    assert rhs.shape[1] == 8 and "Sigma_x" in {m.name for m in rhs.atoms(sp.MatrixSymbol)}


def test_output_file_gets_normal_permissions(tmp_path, capsys):
    import os

    path = tmp_path / "eqs.txt"
    assert main(["derive", "-o", str(path)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_architecture_file(tmp_path, capsys):
    toml = tmp_path / "arch.toml"
    toml.write_text("[architecture]\ndepths = [1, 4]\nn_in = 3\nwhitened = false\n")
    assert main(["derive", "--architecture", str(toml), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["architecture"]["depths"] == [1, 4] and data["architecture"]["n_in"] == 3
    assert any(s["role"] == "Sigma_x" for s in data["symbols"])
    # Options given on the command line override the file; those not given leave it alone.
    assert main(["derive", "--architecture", str(toml), "--whitened", "--n-in", "5", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["architecture"]["whitened"] is True and data["architecture"]["n_in"] == 5
    assert not any(s["role"] == "Sigma_x" for s in data["symbols"])
    assert main(["derive", "--architecture", str(toml), "--n-in", "0"]) == 2
    assert f"--architecture {toml} with the command-line options: --n-in: 0" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--depths", "2,0"], "depths[2]: 0 is not a valid depth"),
    (["--depths", "2,,3"], "--depths: malformed list '2,,3': item 2 is empty"),
    (["--n-in", "0"], "--n-in: 0 is not a positive whole number"),
    (["--format", "json", "--fragment"], "--fragment: does nothing here, it applies only with --format latex"),
    (["--architecture", "missing.toml"], "architecture file 'missing.toml' not found"),
])
def test_errors_are_one_line(argv, message, capsys, tmp_path):
    target = tmp_path / "out.tex"
    assert main(["derive", *argv, "-o", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("pathdyn derive: error: ")
    assert message in captured.err
    assert not target.exists()


def test_failed_derivation_leaves_existing_file_untouched(tmp_path, capsys, monkeypatch):
    target = tmp_path / "eqs.tex"
    target.write_text("previous\n")

    def broken(*args, **kwargs):
        raise DerivationError("simulated failure")

    monkeypatch.setattr("pathdyn.cli.derive.export_equations", broken)  # the name the command calls
    assert main(["derive", "--format", "latex", "-o", str(target)]) == 2
    assert "simulated failure" in capsys.readouterr().err
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["eqs.tex"]


def test_console_script_has_no_traceback():
    result = subprocess.run([sys.executable, "-m", "pathdyn.cli.main", "derive", "--depths", "-1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "pathdyn derive: error: invalid architecture: depths[1]: -1 is not a valid depth; use an integer >= 1"
    )
