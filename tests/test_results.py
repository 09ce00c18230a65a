"""One result protocol: every report round-trips through JSON and netCDF with every field.

The report classes are found by walking the protocol's registry (:data:`pathdyn.io.results.RECORDS`),
so a new report is covered without touching this file: an example of each is built from
the description of its fields (dimensions, coordinates, kinds), written and read back, and
every field compared. The DMFT report of issue 18.6 is checked by name too: read back from
``pathdyn validate -o``'s file it is a DMFTWidthReport whose figure is the seed-mean error.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import pathdyn.validation.sweep  # noqa: F401  (defines the width, DMFT and concentration reports)
import pathdyn.validation.sweep.dmft_finite_width  # noqa: F401
import pathdyn.validation.sweep.graph_concentration  # noqa: F401
import pathdyn.validation.sweep.dmft_graph  # noqa: F401  (registers GraphDMFTWidthReport whatever ran before)
from pathdyn.io.results import RECORDS, field_kind
from pathdyn.validation.sweep.report import DMFTWidthReport, WidthScalingReport, load_width_reports

#: Sizes of the dimensions of the examples (distinct, so a transposed array cannot pass).
SIZES = {"width": 3, "seed": 2, "mode": 4, "pathway": 2, "time": 5, "path": 2, "depth": 2, "activation": 2}
LABELS = {"width": (64, 128, 256), "seed": (0, 3), "depth": (2, 5), "activation": ("linear", "relu"),
          "time": np.linspace(0.0, 1.0, SIZES["time"])}


def example_value(field: dataclasses.Field, rng: np.random.Generator):
    """A value of one field, from its metadata and annotation."""
    meta = field.metadata
    kind, _ = field_kind(field)
    if meta.get("sample"):
        return meta["sample"](SIZES, rng)
    if meta.get("coord"):
        labels = LABELS[meta["coord"]]
        return np.array(labels) if kind == "ndarray" else tuple(labels)
    dims = meta.get("dims")
    if dims and meta.get("keyed"):
        return {label: rng.random(tuple(SIZES[d] for d in dims[1:])) for label in LABELS[dims[0]]}
    if dims:
        shape = tuple(SIZES[d] for d in dims)
        values = rng.random(shape) > 0.5 if meta.get("dtype") == "bool" else rng.random(shape)
        return tuple(values.tolist()) if kind == "tuple" else values
    return {"float": 0.125 + rng.random(), "int": 7, "str": "text", "bool": True, "tuple": (2, 3),
            "dict": {"a": 1.5, "b": [1, None]}, "list": [{"a": 1.0}, {"a": None}]}[kind]


def example(cls):
    rng = np.random.default_rng(abs(hash(cls.__name__)) % 2**32)
    return cls(**{f.name: example_value(f, rng) for f in dataclasses.fields(cls)})


def differences(a, b) -> list[str]:
    """The fields of two records that differ (arrays compared value by value, NaN equal to NaN)."""
    found = []
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name, "<missing>")
        if not same(x, y):
            found.append(f.name)
    if type(a) is not type(b):
        found.append(f"class {type(a).__name__} != {type(b).__name__}")
    return found


def same(x, y) -> bool:
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return np.shape(x) == np.shape(y) and bool(np.all(np.asarray(x) == np.asarray(y)))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return type(x) is type(y) and len(x) == len(y) and all(same(u, v) for u, v in zip(x, y))
    if hasattr(x, "to_dict") and hasattr(y, "to_dict"):
        return x.to_dict() == y.to_dict()
    return x == y or (isinstance(x, float) and isinstance(y, float) and np.isnan(x) and np.isnan(y))


def test_every_report_class_is_walked():
    assert {"WidthScalingReport", "DMFTWidthReport", "ConcentrationResult", "FiniteWidthGap", "GraphConcentration"} <= set(RECORDS)


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_every_report_round_trips_through_json(name):
    cls = RECORDS[name]
    record = example(cls)
    text = json.dumps(record.to_json_dict())  # strict JSON: no NaN written
    assert "NaN" not in text
    back = cls.from_json_dict(json.loads(text))
    assert differences(record, back) == []


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_every_report_round_trips_through_netcdf(name, tmp_path):
    pytest.importorskip("xarray")
    cls = RECORDS[name]
    record = example(cls)
    record.save_netcdf(tmp_path / "record.nc")
    back = cls.load_netcdf(tmp_path / "record.nc")
    assert differences(record, back) == []


@pytest.mark.parametrize("name", sorted(name for name, cls in RECORDS.items() if cls.TABLE_DIM))
def test_every_array_along_the_table_dimension_is_a_column(name):
    pytest.importorskip("pandas")
    cls = RECORDS[name]
    table = example(cls).to_dataframe()
    for f in dataclasses.fields(cls):
        dims = f.metadata.get("dims")
        if dims == (cls.TABLE_DIM,):
            assert (f.metadata.get("name") or f.name) in table.columns, f.name
        elif dims and dims[0] == cls.TABLE_DIM and len(dims) == 2:
            assert f"median_{f.metadata.get('name') or f.name}" in table.columns, f.name


def test_the_comparison_catches_a_dropped_field():
    record = example(DMFTWidthReport)
    document = record.to_json_dict()
    del document["ensemble_errors"]
    assert differences(record, DMFTWidthReport.from_json_dict(document)) == ["ensemble_errors"]
    base = WidthScalingReport.from_json_dict({k: v for k, v in record.to_json_dict().items() if k != "record"})
    assert differences(record, base)[-1] == "class DMFTWidthReport != WidthScalingReport"


def test_a_dmft_report_read_back_is_a_dmft_report_with_its_seed_mean_errors(tmp_path):
    """Issue 18.6: the figure the command printed is the figure the file gives back, with every field."""
    record = example(DMFTWidthReport)
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"suite": "quick", "cases": [dict(record.to_json_dict(), name="dmft case")]}))
    (report,), names = load_width_reports(path)
    assert names == ["dmft case"] and isinstance(report, DMFTWidthReport)
    np.testing.assert_array_equal(report.median_errors, record.ensemble_errors)
    assert "seed-mean error by width" in repr(report) and "median error" not in repr(report)
    pytest.importorskip("xarray")
    dataset = report.to_xarray()
    for variable in ("ensemble_error", "standard_error", "qp_ensemble_error", "total_error"):
        assert dataset[variable].dims == ("width",)
    np.testing.assert_array_equal(dataset["median_error"].values, record.ensemble_errors)
    table = report.to_dataframe()
    np.testing.assert_array_equal(table["ensemble_error"], record.ensemble_errors)
    np.testing.assert_array_equal(table["qp_ensemble_error"], record.qp_ensemble_errors)


def test_a_dmft_file_written_before_the_record_key_is_still_read_as_dmft(tmp_path):
    document = example(DMFTWidthReport).to_json_dict()
    del document["record"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(document))
    (report,), _ = load_width_reports(path)
    assert isinstance(report, DMFTWidthReport)


def _integrated():
    from pathdyn.numerics import compile_rhs, draw_initial_state, integrate
    from pathdyn.theory import reduce_to_modes

    equations = reduce_to_modes((2, 3))
    y0 = draw_initial_state(equations, n_modes=2, scale=0.1, seed=0, batch=(3,))
    return integrate(compile_rhs(equations), y0, [2.0, 1.0], 2.0, num_points=7)


def _simulated():
    from pathdyn.numerics.datasets import random_dataset
    from pathdyn.validation.network import simulate_gd

    return simulate_gd((2, 2), random_dataset((2.0, 1.0)), 8, learning_rate=0.05, steps=20, record_every=5, seed=0)


@pytest.mark.parametrize("make", [_integrated, _simulated])
def test_trajectories_round_trip_through_json_and_netcdf(make, tmp_path):
    """JSON holds every field but ``state`` and ``extras``; the Dataset holds those too (the weights aside);
    ``stats`` and ``provenance`` come back as their JSON form (lists for tuples), so they are not compared."""
    from pathdyn.numerics.trajectory import Trajectory

    trajectory = make()
    back = Trajectory.from_json_dict(json.loads(json.dumps(trajectory.to_json_dict(), default=str)))
    kept = [f.name for f in dataclasses.fields(Trajectory) if f.name not in ("state", "extras", "stats", "provenance")]
    assert [name for name in kept if not same(getattr(trajectory, name), getattr(back, name))] == []
    pytest.importorskip("xarray")
    trajectory.save_netcdf(tmp_path / "trajectory.nc", batch_dims="member" if trajectory.batch_shape else None)
    import xarray

    with xarray.open_dataset(tmp_path / "trajectory.nc", engine="scipy") as dataset:
        read = Trajectory.from_xarray(dataset.load())
    kept = [f.name for f in dataclasses.fields(Trajectory) if f.name not in ("extras", "stats", "provenance")]
    assert [name for name in kept if not same(getattr(trajectory, name), getattr(read, name))] == []
    for name in ("singular_values", "UtOmegaV"):
        if name in trajectory.extras:
            np.testing.assert_array_equal(read.extras[name], trajectory.extras[name])


#: The figure each report's command prints, which its repr must name (a new report needs an entry).
PRINTED_FIGURE = {
    "WidthScalingReport": "median error by width",  # pathdyn validate, a single-network case
    "DMFTWidthReport": "seed-mean error by width",  # pathdyn validate --theory dmft
    "GraphDMFTWidthReport": "seed-mean error by width",  # pathdyn validate --theory dmft --architecture graph.toml
    "ConcentrationResult": "linear fraction",  # pathdyn concentration's table
    "FiniteWidthGap": "per pathway: c - a (max)",  # pathdyn dmft-finite-width --summarize
    "GraphConcentration": "dominant path share",  # graph-concentration's summary
}


def test_every_report_has_a_figure_its_repr_names():
    assert set(PRINTED_FIGURE) == set(RECORDS)


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_every_repr_read_back_names_the_printed_figure(name, tmp_path):
    """Read back from its file, each report's repr is a short summary naming the figure its command printed.

    A dataclass's default repr (arrays spelled out, no label) fails: FiniteWidthGap and
    GraphConcentration had one before issue 18.6.
    """
    cls = RECORDS[name]
    record = example(cls)
    if name == "GraphConcentration":  # the summary the measurement writes: one entry per grouping
        record = dataclasses.replace(record, summary={"path": {"groups": 2, "mean": 0.7, "ci": [0.6, 0.8], "even": 0.5}})
    path = tmp_path / "r.json"
    record.save_json(path)
    text = repr(cls.load_json(path))
    assert PRINTED_FIGURE[name] in text and "array(" not in text and len(text) < 2000, text
