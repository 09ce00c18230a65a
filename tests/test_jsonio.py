"""pathdyn.io.jsonio: atomic writes, the one JSON cleaner, save_json; and that no other module has its own."""

from __future__ import annotations

import ast
import json
import math
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from pathdyn.errors import ConfigError
from pathdyn.io.jsonio import atomic_write, json_text, save_json, to_jsonable

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
OLD = "previous content, must survive"


# ----------------------------------------------------------------- atomic writes
@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt(), ValueError("bad")])
def test_a_failing_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, failure):
    target = tmp_path / "out.json"
    target.write_text(OLD)

    def broken(tmp):
        tmp.write_text("half a fi")
        raise failure

    with pytest.raises(type(failure)):
        atomic_write(target, broken)
    assert target.read_text() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_write_replaces_the_file_keeping_its_mode_and_creates_missing_directories(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text(OLD)
    target.chmod(0o640)
    atomic_write(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640

    nested = tmp_path / "a" / "b" / "new.txt"
    atomic_write(nested, lambda tmp: tmp.write_text("x"))
    umask = os.umask(0)
    os.umask(umask)
    # a new file gets the mode open() gives, not mkstemp's owner-only 0600
    assert nested.read_text() == "x" and stat.S_IMODE(nested.stat().st_mode) == 0o666 & ~umask
    assert sorted(p.name for p in nested.parent.iterdir()) == ["new.txt"]


def test_save_json_writes_the_cleaned_text_atomically(tmp_path):
    target = tmp_path / "r.json"
    save_json(target, {"a": np.arange(3), "b": (np.float32(0.5), None)}, indent=1)
    assert target.read_text(encoding="utf-8") == json.dumps({"a": [0, 1, 2], "b": [0.5, None]}, indent=1)
    target.write_text(OLD)
    with pytest.raises(TypeError):
        save_json(target, {"a": object()})  # not JSON: refused before anything is written
    assert target.read_text() == OLD and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


# --------------------------------------------------------------------- the cleaner
def test_to_jsonable_converts_nested_numpy_values():
    value = {
        "array": np.array([[1.5, 2.0], [3.0, 4.0]]),
        "ints": np.arange(3, dtype=np.int64),
        "scalars": [np.float32(0.25), np.int16(-7), np.bool_(True), np.float64(1e-300)],
        "tuple": (1, (np.int64(2), "x")),
        3: {"inner": np.array([True, False])},
        "path": Path("a/b"),
    }
    clean = to_jsonable(value)
    assert clean == {
        "array": [[1.5, 2.0], [3.0, 4.0]], "ints": [0, 1, 2], "scalars": [0.25, -7, True, 1e-300],
        "tuple": [1, [2, "x"]], "3": {"inner": [True, False]}, "path": Path("a/b"),
    }
    assert type(clean["scalars"][0]) is float and type(clean["scalars"][1]) is int and type(clean["scalars"][2]) is bool
    assert isinstance(value["array"], np.ndarray)  # the input is not changed
    assert to_jsonable(value, fallback=str)["path"] == str(Path("a/b"))
    assert to_jsonable(np.array([Path("p"), 1.5], dtype=object), fallback=str) == ["p", 1.5]


def test_non_finite_floats_are_kept_or_nulled():
    value = {"x": [1.0, math.nan, np.inf], "y": np.array([-np.inf, 2.0]), "z": np.float64("nan")}
    kept = to_jsonable(value)
    assert math.isnan(kept["x"][1]) and kept["y"][0] == -math.inf and math.isnan(kept["z"])
    assert to_jsonable(value, non_finite="null") == {"x": [1.0, None, None], "y": [None, 2.0], "z": None}
    assert json_text(value) == '{"x": [1.0, NaN, Infinity], "y": [-Infinity, 2.0], "z": NaN}'
    with pytest.raises(ConfigError, match="non_finite: 'drop'"):
        to_jsonable(value, non_finite="drop")


# Frozen copies of the cleaners jsonio replaced (numerics/trajectory.py ``_jsonable``,
# cli/simulate.py ``_json_default``, the ``clean`` of validation/sweep/concentration.py), so that
# the outputs they produced stay byte-identical.
def _old_trajectory_jsonable(value):
    if isinstance(value, dict):
        return {str(k): _old_trajectory_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_old_trajectory_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _old_simulate_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _old_concentration_clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_old_concentration_clean(v) for v in value]
    return value


def _sample():
    """Settings and statistics as runs record them: numpy scalars and arrays, tuples, None, NaN."""
    return {
        "depths": (2, 3), "layer_sizes": [[8, np.int64(20), 15]], "init_scale": np.float64(0.3),
        "learning_rate": np.float32(0.05), "dtype": "float64", "seeds": None, "float32": np.bool_(False),
        "singular_values": np.array([3.0, 1.5, 0.1 + 0.2]), "loss": [np.float64(0.1), math.nan, math.inf],
        "nested": {"counts": np.array([1, 2], dtype=np.int32), "ratio": 1 / 3, "steps": np.uint8(200)},
    }


def test_output_is_byte_identical_to_the_old_cleaners():
    sample = _sample()
    # Trajectory.to_json_dict / save_json (no default: unknown objects are refused)
    assert json_text(sample) == json.dumps(_old_trajectory_jsonable(sample))
    # numerics.data.netcdf_attribute: the trajectory cleaner, then str for anything else
    with_path = dict(sample, path=Path("x/y.npz"))
    assert json_text(with_path, fallback=str) == json.dumps(_old_trajectory_jsonable(with_path), default=str)
    # simulate's config string
    assert json_text(with_path, fallback=str) == json.dumps(with_path, default=_old_simulate_default)
    # validation.concentration (lists of floats, NaN as null), indent 1
    values = [[0.5, math.nan], [math.inf, 1 / 3]]
    assert json_text(values, indent=1, non_finite="null") == json.dumps(_old_concentration_clean(values), indent=1)
    # the comparison can fail: a cleaner that treats non-finite values differently is told apart
    assert json_text(sample, non_finite="null") != json.dumps(_old_trajectory_jsonable(sample))


def _old_trajectory_json_dict(trajectory):
    """Trajectory.to_json_dict as it was before jsonio (frozen copy)."""
    out = {
        "t": np.asarray(trajectory.t).tolist(), "K": np.asarray(trajectory.K).tolist(),
        "loss": np.asarray(trajectory.loss).tolist(), "success": bool(trajectory.success), "message": trajectory.message,
        "state_names": list(trajectory.state_names), "stats": _old_trajectory_jsonable(trajectory.stats),
        "provenance": _old_trajectory_jsonable(trajectory.provenance),
    }
    if trajectory.invariant_drift is not None:
        out["invariant_drift"] = np.asarray(trajectory.invariant_drift).tolist()
    if trajectory.step is not None:
        out["step"] = np.asarray(trajectory.step).tolist()
    return out


def test_trajectory_json_is_byte_identical_to_before(tmp_path):
    from pathdyn.numerics.trajectory import Trajectory

    rng = np.random.default_rng(0)
    K = rng.standard_normal((5, 2, 3)).astype(np.float32)
    K[2, 0, 1] = np.nan
    trajectory = Trajectory(t=np.linspace(0, 1, 5), K=K, loss=rng.random(5), state_names=("q_1", "p_1"),
                            invariant_drift=np.array([1e-12, 2e-13]), step=np.arange(5),
                            stats={"nfev": np.int64(12), "wall_time_s": 0.5}, provenance=_sample())
    expected = json.dumps(_old_trajectory_json_dict(trajectory))
    assert json.dumps(trajectory.to_json_dict()) == expected
    trajectory.save_json(tmp_path / "t.json")
    assert (tmp_path / "t.json").read_text(encoding="utf-8") == expected


# ----------------------------------------------- only jsonio writes files and cleans JSON
#: Modules not yet converted (their owner converts them); the test fails once one is, so
#: that its entry is removed here.
NOT_YET_CONVERTED = set()


def _package_sources():
    """``(path relative to the root, text)`` of every module of the packages pyproject.toml installs."""

    package = PACKAGE_ROOT / "src" / "pathdyn"
    for path in sorted(package.rglob("*.py")):
        yield path.relative_to(package).as_posix(), path.read_text(encoding="utf-8")


def _own_file_io_or_json_cleaning(source: str) -> list:
    """What in ``source`` renames files into place or cleans values for JSON itself."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            name = f"{node.value.id}.{node.attr}"
            if name in ("os.replace", "os.rename", "shutil.move", "np.generic", "numpy.generic"):
                found.append(f"line {node.lineno}: {name}")
        elif isinstance(node, ast.FunctionDef) and any(word in node.name.lower() for word in ("jsonable", "json_default", "clean")):
            found.append(f"line {node.lineno}: def {node.name}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("dumps", "dump") \
                and any(keyword.arg == "default" for keyword in node.keywords):
            found.append(f"line {node.lineno}: json.{node.func.attr}(default=...)")
    return found


def test_only_jsonio_replaces_files_or_cleans_json():
    offenders, converted = {}, []
    for relative, source in _package_sources():
        if relative == "io/jsonio.py":
            continue
        found = _own_file_io_or_json_cleaning(source)
        if found and relative not in NOT_YET_CONVERTED:
            offenders[relative] = found
        if not found and relative in NOT_YET_CONVERTED:
            converted.append(relative)
    assert not offenders, f"use pathdyn.io.jsonio (atomic_write, to_jsonable, save_json) instead: {offenders}"
    assert not converted, f"{converted} no longer write or clean on their own: remove them from NOT_YET_CONVERTED"


def test_the_scan_finds_what_it_forbids():
    source = (
        "import os, json\nimport numpy as np\n"
        "def _jsonable(v):\n    return v.item() if isinstance(v, np.generic) else v\n"
        "def write(tmp, path):\n    os.replace(tmp, path)\n"
        "text = json.dumps({}, default=str)\n"
    )
    found = _own_file_io_or_json_cleaning(source)
    assert sorted(f.split(": ", 1)[1] for f in found) == sorted(
        ["def _jsonable", "np.generic", "os.replace", "json.dumps(default=...)"])
    scanned = {name for name, _ in _package_sources()}  # the scan sees every package folder
    assert {"io/jsonio.py", "cli/outputs.py", "cli/simulate.py", "numerics/trajectory.py", "validation/sweep/concentration.py",
            "theory/export.py"} <= scanned


def test_save_npz_writes_under_the_given_name_and_round_trips(tmp_path):
    from pathdyn.io.jsonio import save_npz

    path = tmp_path / "weights.data"  # no .npz suffix: numpy must not append one
    save_npz(path, {"W_1_1": np.arange(6.0).reshape(2, 3)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.data"]
    with np.load(path) as loaded:
        np.testing.assert_array_equal(loaded["W_1_1"], np.arange(6.0).reshape(2, 3))
