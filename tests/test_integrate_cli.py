"""The integrate and figures commands, and the phase-plane vector field."""

import json
import re

import numpy as np
import pytest

from pathdyn.cli.main import main
from pathdyn.errors import ConfigError
from pathdyn.numerics.compile import compile_rhs
from pathdyn.numerics.initial import qp_initial_state
from pathdyn.numerics.phase_plane import strength_vector_field
from pathdyn.numerics.race import race_final_strengths
from pathdyn.theory.reduced import reduce_to_modes


def test_integrate_command_with_init_file_matches_oracle(tmp_path):
    init = tmp_path / "init.json"
    q0 = [[1.0, 1.2], [1.1, 1.0], [1.0, 1.0]]
    p0 = [[0.1, 0.05], [0.2, -0.1], [0.05, 0.1]]
    init.write_text(json.dumps({"q0": q0, "p0": p0}))
    out = tmp_path / "out.json"
    plot = tmp_path / "out.png"
    code = main(["integrate", "--depths", "2,5,9", "--singular-values", "3,1.5", "--init", str(init), "--t-max", "25",
                 "--rtol", "1e-11", "--atol", "1e-13", "-o", str(out), "--plot", str(plot)])
    assert code == 0
    data = json.loads(out.read_text())
    K = np.array(data["K"])
    assert K.shape == (len(data["t"]), 3, 2) and data["success"] is True
    assert len(data["loss"]) == len(data["t"])
    oracle = race_final_strengths((2, 5, 9), np.array(q0), np.array(p0), [3.0, 1.5])
    np.testing.assert_allclose(K[-1], oracle, atol=1e-8 * 3.0)
    assert plot.stat().st_size > 1000


def test_integrate_command_dataset_and_drawn_init(tmp_path):
    out = tmp_path / "h.json"
    assert main(["integrate", "--depths", "2,4", "--dataset", "hierarchical", "--init-scale", "0.1", "--seed", "3",
                 "--t-max", "30", "--num-points", "11", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert np.array(data["K"]).shape == (11, 2, 8)
    np.testing.assert_allclose(np.array(data["K"])[-1].sum(axis=0), data["singular_values"], rtol=1e-6)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--t-max", "-1"], "--t-max"),
        (["--singular-values", "1,abc"], "--singular-values"),
        (["--singular-values", "1,-2"], "positive"),
        (["--dataset", "missing.npz"], "not found"),
        # hierarchical-raw (X = I_8, aligned, lambda = 1/8) is integrated with lambda now: see test_non_whitened
        (["--singular-values", "1,2", "--general"], "--general: the reduced equations need each mode's input variance"),
        (["--init", "INIT"], "expected \\(pathways, modes\\)"),
        (["--init", "BROKEN"], "not valid JSON"),
    ],
)
def test_integrate_command_bad_input_is_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "init.json").write_text(json.dumps({"q0": [[1.0]], "p0": [[0.1]]}))
    (tmp_path / "broken.json").write_text("{q0:")
    argv = [a.replace("INIT", str(tmp_path / "init.json")).replace("BROKEN", str(tmp_path / "broken.json")) for a in argv]
    base = ["integrate", "--depths", "2,3", "--t-max", "1", "-o", str(tmp_path / "o.json")]
    if "--singular-values" not in argv and "--dataset" not in argv:
        base += ["--singular-values", "1,2"]
    assert main(base + argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert re.search(message, err), err


def race_variable_from_strength(K, depth: int, c: float) -> np.ndarray:
    """``p`` with ``(p^2 + c)^((D-1)/2) p = K`` (vectorised bisection then Newton; ``c > 0``).

    The closed-form inverse of the q/p strength on ``q^2 - p^2 = c``, written here
    independently of the library so that the field test below does not check the
    library's inversion against itself.
    """
    K = np.asarray(K, dtype=float)
    if depth == 1:
        return K.copy()
    if not c > 0:
        raise ValueError(f"c: must be > 0 for depth {depth}, got {c}")
    target = np.abs(K)
    lo = np.zeros_like(target)
    hi = np.maximum(target, 1.0) * np.maximum(1.0, c ** -((depth - 1) / 2))
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        too_big = (mid * mid + c) ** ((depth - 1) / 2) * mid > target
        hi = np.where(too_big, mid, hi)
        lo = np.where(too_big, lo, mid)
    p = 0.5 * (lo + hi)
    for _ in range(3):
        value = (p * p + c) ** ((depth - 1) / 2) * p - target
        slope = (p * p + c) ** ((depth - 3) / 2) * (depth * p * p + c)
        p = p - value / slope
    return np.sign(K) * p


def test_figures_phase_plane_command(tmp_path):
    out = tmp_path / "pp.png"
    assert main(["figures", "phase-plane", "--depths", "2,8", "--scales", "0.3", "--num-trajectories", "5",
                 "--t-max", "2", "-o", str(out)]) == 0
    assert out.stat().st_size > 1000


@pytest.mark.parametrize("depth", [1, 2, 3, 8, 13])
def test_race_variable_inverts_strength(depth):
    K = np.array([-3.0, -0.2, 0.0, 0.5, 4.0, 10.0])
    p = race_variable_from_strength(K, depth, 0.8)
    q = np.sqrt(p**2 + 0.8)
    np.testing.assert_allclose(q ** (depth - 1) * p if depth > 1 else p, K, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("depths", [(2, 2), (3, 8), (13, 13)])
def test_phase_plane_field_equals_compiled_flow(depths):
    """dK/dt of the planar field equals the chain rule through the compiled q/p rhs."""
    c, S = 1.0, 10.0
    K1, K2 = np.meshgrid(np.linspace(-1, 11, 7), np.linspace(-1, 11, 7))
    U, V = strength_vector_field(K1, K2, reduce_to_modes(depths), c, S)
    f = compile_rhs(reduce_to_modes(depths))
    p = np.stack([race_variable_from_strength(K, d, c).ravel() for K, d in zip((K1, K2), depths)])
    y = qp_initial_state(f, np.sqrt(p**2 + c), p)  # (n_state, 49): the grid points as modes
    h = 1e-7
    dy = f(0.0, y, S)
    dK = (f.strengths(y + h * dy, S) - f.strengths(y - h * dy, S)) / (2 * h)
    scale = np.maximum(1.0, np.abs(dK))
    assert np.max(np.abs(dK[0] - U.ravel()) / scale[0]) < 1e-5
    assert np.max(np.abs(dK[1] - V.ravel()) / scale[1]) < 1e-5


def test_phase_plane_field_from_the_race_form_equals_the_qp_field():
    K1, K2 = np.meshgrid(np.linspace(-1, 11, 5), np.linspace(-1, 11, 5))
    qp = strength_vector_field(K1, K2, reduce_to_modes((3, 8)), 1.0, 10.0)
    race = strength_vector_field(K1, K2, reduce_to_modes((3, 8), model="race"), 1.0, 10.0)
    np.testing.assert_allclose(race, qp, rtol=1e-11, atol=1e-12 * np.max(np.abs(qp)))  # e = 0 on K_1 + K_2 = S
    with pytest.raises(ConfigError, match="role 's'"):
        strength_vector_field(K1, K2, reduce_to_modes((3, 8), model="layer"), 1.0, 10.0)


def test_integrate_command_reads_a_dataset_file(tmp_path):
    from pathdyn.numerics.datasets import random_dataset

    data = random_dataset([2.0, 0.5], n_in=4, n_out=3, seed=1)
    np.savez(tmp_path / "d.npz", X=data.X, Y=data.Y)
    out = tmp_path / "o.json"
    assert main(["integrate", "--depths", "3,2", "--dataset", str(tmp_path / "d.npz"), "--t-max", "30",
                 "--num-points", "5", "-o", str(out)]) == 0
    result = json.loads(out.read_text())
    np.testing.assert_allclose(result["singular_values"], [2.0, 0.5], rtol=1e-12)
    np.testing.assert_allclose(np.array(result["K"])[-1].sum(axis=0), [2.0, 0.5], rtol=1e-6)


def test_numerics_layer_never_imports_the_derivation_code():
    import subprocess
    import sys

    code = (
        "import sys, pathdyn.numerics, pathdyn.numerics.integrate, pathdyn.numerics.race, "
        "pathdyn.numerics.phase_plane, pathdyn.numerics.plotting\n"
        "bad = [m for m in sys.modules if m.startswith('pathdyn.theory') or m == 'matplotlib']\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
