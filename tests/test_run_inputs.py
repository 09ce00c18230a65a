"""The library functions behind ``pathdyn simulate`` and ``pathdyn integrate``, tested directly.

Run files and hidden widths from weights (validation.simulation_files, validation.weight_files),
dataset specifications (numerics.datasets), a dataset's modes and the general-inputs
architecture (numerics.mode_inputs), initial-state files (numerics.initial) and the
automatic final time (numerics.horizon).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pathdyn.errors import ConfigError, DatasetError
from pathdyn.numerics.datasets import Dataset, dataset_from_spec, hierarchical_dataset, random_dataset, random_spec_singular_values
from pathdyn.numerics.horizon import AUTO_HORIZON, AutomaticTMax, automatic_t_max, choose_t_max, round_up_nicely
from pathdyn.numerics.initial import draw_initial_state, load_initial_state, qp_initial_state
from pathdyn.numerics.integrate import integrate
from pathdyn.numerics.mode_inputs import architecture_for_inputs, dataset_modes
from pathdyn.numerics.trajectory import Trajectory
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.models import reduce_to_modes
from pathdyn.validation.network import initialize_weights, simulate_gd
from pathdyn.io.simulation_files import RUN_FILE_ARRAYS, load_run_file, run_config, run_file_arrays, save_run_file
from pathdyn.io.weight_files import hidden_widths_from_weights


# ------------------------------------------------------------------------ run files
def test_hidden_widths_are_read_off_the_weights():
    weights = [[np.zeros((5, 3)), np.zeros((2, 5))], [np.zeros((4, 3)), np.zeros((6, 4)), np.zeros((2, 6))]]
    assert hidden_widths_from_weights(weights) == [[5], [4, 6]]
    assert hidden_widths_from_weights([[np.zeros((2, 3))], [np.zeros((2, 3))]]) is None  # depth 1: no hidden layer


def test_widths_from_saved_weights_rebuild_the_same_network():
    data = hierarchical_dataset()
    weights = initialize_weights((2, 3), data.n_in, data.n_out, [[7], [5, 9]], init="gaussian", seed=3)
    assert hidden_widths_from_weights(weights) == [[7], [5, 9]]
    run = simulate_gd((2, 3), data, hidden_widths_from_weights(weights), weights=weights, learning_rate=0.05, steps=3,
                      progress=False)
    assert run.provenance["layer_sizes"] == [[8, 7, 15], [8, 5, 9, 15]]


def _trajectory(extras=True):
    T, M, m = 4, 2, 3
    rng = np.random.default_rng(0)
    return Trajectory(
        t=np.linspace(0, 0.3, T), K=rng.standard_normal((T, M, m)), loss=rng.random(T), step=np.arange(T) * 10,
        extras={"UtOmegaV": rng.standard_normal((T, M, m, m)), "singular_values": np.array([3.0, 2.0, 1.0])} if extras else {},
        stats={"wall_time_s": 1.25}, provenance={"depths": [2, 3], "init_scale": np.float64(0.3), "seed": np.int64(4)},
    )


def test_run_config_orders_provenance_settings_wall_time_and_version():
    from pathdyn import __version__

    config = run_config(_trajectory(), {"command": "simulate", "seed": 9})
    assert list(config) == ["depths", "init_scale", "seed", "command", "wall_time_s", "pathdyn"]
    assert config["seed"] == 9 and config["wall_time_s"] == 1.25 and config["pathdyn"] == __version__


def test_run_file_round_trip(tmp_path):
    result = _trajectory()
    config = run_config(result, {"output": tmp_path / "run.npz", "float32": False})
    path = tmp_path / "run.npz"
    save_run_file(path, result, config)
    arrays, loaded = load_run_file(path)
    assert sorted(arrays) == sorted(RUN_FILE_ARRAYS)
    for name, expected in (("t", result.t), ("step", result.step), ("K", result.K), ("loss", result.loss),
                           ("UtOmegaV", result.extras["UtOmegaV"]), ("singular_values", result.extras["singular_values"])):
        assert np.array_equal(arrays[name], expected) and arrays[name].dtype == np.asarray(expected).dtype, name
    # numpy values become numbers, a path its text
    assert loaded["init_scale"] == 0.3 and loaded["seed"] == 4 and loaded["output"] == str(tmp_path / "run.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]


def test_run_files_refuse_what_they_cannot_hold(tmp_path):
    with pytest.raises(ConfigError, match="UtOmegaV, singular_values missing"):
        run_file_arrays(_trajectory(extras=False), {})
    (tmp_path / "partial.npz").write_bytes(b"")
    np.savez(tmp_path / "partial.npz", t=np.zeros(2))
    with pytest.raises(ConfigError, match="lacks step, K, loss"):
        load_run_file(tmp_path / "partial.npz")
    with pytest.raises(ConfigError, match="not found"):
        load_run_file(tmp_path / "missing.npz")


# ---------------------------------------------------------------- dataset specifications
def test_random_specifications_give_the_requested_singular_values():
    assert random_spec_singular_values("random:2, 1.5,1") == [2.0, 1.5, 1.0]
    data = dataset_from_spec("random:2,1", seed=5)
    np.testing.assert_allclose(data.singular_values, [2.0, 1.0], rtol=1e-12)
    assert np.array_equal(data.Y, random_dataset([2.0, 1.0], seed=5).Y)
    assert not np.array_equal(data.Y, dataset_from_spec("random:2,1", seed=6).Y)  # the seed is used
    assert dataset_from_spec("hierarchical").name == "hierarchical"


@pytest.mark.parametrize("spec, distinct, message", [
    ("random:", False, "write random:S1,S2,... with numbers"),
    ("random:2,x", False, "write random:S1,S2,... with numbers"),
    ("random:2,2", True, "equal singular values"),
    ("missing.npz", False, "not found"),
])
def test_bad_dataset_specifications_are_refused(spec, distinct, message):
    with pytest.raises(DatasetError, match=message):
        dataset_from_spec(spec, distinct=distinct)
    assert dataset_from_spec("random:2,2", distinct=False).singular_values.size == 2  # equal values allowed unless asked


# -------------------------------------------------------------------- a dataset's modes
def test_dataset_modes_cut_the_rank_and_take_input_variances():
    S, lam, notes = dataset_modes(hierarchical_dataset(whitened=True))
    np.testing.assert_allclose(S, hierarchical_dataset().singular_values[:S.size])
    assert lam is None and notes["dataset"] == "hierarchical" and notes["misalignment"] <= 1e-12
    # the paper's X = I_8: Sigma_x = I / 8, every mode has lambda = 1/8
    S_raw, lam_raw, _ = dataset_modes(hierarchical_dataset(whitened=False))
    np.testing.assert_allclose(lam_raw, np.full(S_raw.size, 1 / 8), rtol=1e-12)
    # asking for the general equations keeps lambda = 1 instead of dropping it
    _, ones, _ = dataset_modes(random_dataset([2.0, 1.0], seed=0), whitened=False)
    np.testing.assert_allclose(ones, [1.0, 1.0], rtol=1e-12)


def test_dataset_modes_drop_directions_without_a_mode():
    # Sigma_yx = diag(2, 1, 0): two modes; the zero singular value carries none
    X = np.sqrt(3.0) * np.eye(3)
    Y = np.diag([2.0, 1.0, 0.0]) @ X
    S, lam, _ = dataset_modes(Dataset(X=X, Y=Y, name="rank 2"))
    np.testing.assert_allclose(S, [2.0, 1.0], rtol=1e-12)
    assert lam is None


def test_misaligned_inputs_are_refused_or_recorded():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 40))
    Y = rng.standard_normal((2, 3)) @ X
    data = Dataset(X=X, Y=Y, name="misaligned")
    with pytest.raises(DatasetError, match="--dataset: 'misaligned' has inputs misaligned"):
        dataset_modes(data, argument="--dataset")
    with pytest.warns(UserWarning):
        _, lam, notes = dataset_modes(data, allow_misaligned=True)
    assert lam is not None and "integrated per mode anyway" in notes["warnings"][0]


def test_input_variances_make_the_architecture_general():
    architecture = Architecture(depths=(2, 3))
    assert architecture_for_inputs(architecture, None) is architecture
    general = architecture_for_inputs(architecture, np.array([0.5, 2.0]))
    assert general.whitened is False and general.depths == (2, 3)
    with pytest.raises(ConfigError, match=r"--whitened: the inputs have variances \[0.5, 2.0\], not 1; drop --whitened"):
        architecture_for_inputs(architecture, np.array([0.5, 2.0]), whitened=True, argument="--whitened")


# --------------------------------------------------------------------- initial-state files
@pytest.fixture(scope="module")
def equations():
    return reduce_to_modes((2, 3), model="qp")


def test_an_initial_state_file_gives_the_state_of_its_arrays(tmp_path, equations):
    q0, p0 = [[1.0, 1.1], [1.2, 1.0]], [[0.1, 0.2], [0.05, -0.01]]
    path = tmp_path / "init.json"
    path.write_text(json.dumps({"q0": q0, "p0": p0}), encoding="utf-8")
    assert np.array_equal(load_initial_state(path, equations, 2), qp_initial_state(equations, q0, p0))


@pytest.mark.parametrize("text, message", [
    ("{q0:", "--init: '.*' is not valid JSON"),
    ('[1, 2]', 'must hold an object {"q0"'),
    ('{"q0": [[1, 2], [1]], "p0": [[0, 0], [0, 0]]}', "q0 and p0 must be rectangular arrays"),
    ('{"q0": [[1.0]], "p0": [[0.1]]}', r"--init: q0 has shape \(1, 1\), expected \(pathways, modes\) = \(2, 2\)"),
])
def test_bad_initial_state_files_are_refused(tmp_path, equations, text, message):
    path = tmp_path / "init.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_initial_state(path, equations, 2, argument="--init")
    path.write_bytes(b'{"q0": "\xff"}')
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_initial_state(path, equations, 2, argument="--init")


# ------------------------------------------------------------------ automatic final time
@pytest.mark.parametrize("value, expected", [
    (1.0, 1.0), (1.01, 1.5), (2.4, 2.5), (7.0, 8.0), (8.5, 10.0), (0.031, 0.04), (12.5, 15.0), (399.0, 400.0),
])
def test_round_up_nicely(value, expected):
    assert math.isclose(round_up_nicely(value), expected, rel_tol=1e-12)


def test_automatic_t_max_is_a_quarter_past_settling_within_the_horizon():
    assert automatic_t_max(8.0) == 10.0          # 1.25 * 8 = 10
    assert automatic_t_max(8.1) == 15.0          # 10.125 rounds up to 15
    assert automatic_t_max(100.0) == AUTO_HORIZON
    assert automatic_t_max(0.0) == 0.001


def test_choose_t_max_ends_after_the_dynamics(equations):
    S = np.array([2.0, 1.0])
    y0 = draw_initial_state(equations, 2, 0.1, seed=0)
    chosen = choose_t_max(equations, y0, S)
    assert not chosen.still_moving and chosen.settled < chosen.t_max <= AUTO_HORIZON
    assert chosen.t_max == automatic_t_max(chosen.settled)
    # settled means settled: K at the chosen end is within the tolerance of its final value, and earlier it was not
    run = integrate(equations, y0, S, AUTO_HORIZON, t_eval=np.array([0.0, 0.8 * chosen.settled, chosen.t_max, AUTO_HORIZON]))
    final = run.K[-1]
    assert np.max(np.abs(run.K[2] - final)) <= 1e-3 * np.max(np.abs(final))
    assert np.max(np.abs(run.K[1] - final)) > 1e-3 * np.max(np.abs(final))
    assert "t_max = " in chosen.describe()
    # a horizon too short to settle caps t_max. Measured: with horizon 1 (mid-learning) the probe
    # "settles" at 0.991, since settling is judged against the probe's own last value; still_moving
    # fires only when K moves by more than the tolerance between the probe's last two points.
    short = choose_t_max(equations, y0, S, horizon=1.0)
    assert short.t_max <= 1.0 and short.settled <= short.probe_end
    assert AutomaticTMax(t_max=1.0, settled=1.0, probe_end=1.0).still_moving

