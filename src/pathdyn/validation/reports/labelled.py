"""Reports as summaries, xarray Datasets and pandas tables.

The labelled forms of :class:`~pathdyn.validation.sweep.width.WidthScalingReport` and
:class:`~pathdyn.validation.sweep.concentration.ConcentrationResult` (needs the optional
``xarray`` extra, imported on first use), their ``repr`` rows, and the loader that
rebuilds width reports from the JSON that ``pathdyn validate`` writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pathdyn.errors import ConfigError
from pathdyn.io.labelled import netcdf_attribute, require
from pathdyn.numerics.display import array_summary, number

__all__ = [
    "comparison_rows",
    "concentration_rows",
    "concentration_to_dataframe",
    "concentration_to_xarray",
    "load_width_reports",
    "width_report_from_json_dict",
    "width_report_rows",
    "width_report_to_xarray",
    "width_reports_to_dataframe",
]


# ================================================================ summaries
def width_report_rows(report) -> list:
    """``(name, value)`` rows of a width sweep: the case, the errors by width, the slope, the verdict.

    Parameters
    ----------
    report : WidthScalingReport
        The sweep.

    Returns
    -------
    list of (str, str)
        The rows, for :func:`pathdyn.numerics.display.text_summary` and ``html_summary``.
    """
    depths = ", ".join(map(str, report.depths))
    low, high = report.slope_ci
    rows = [
        ("case", f"depths ({depths}), {report.init} init scale {number(report.init_scale)}, {report.theory} theory, "
                 f"{report.mapping} mapping"),
        ("run", f"{len(report.widths)} widths x {len(report.seeds)} seeds, eta {number(report.learning_rate)}, "
                f"t_max {number(report.t_max)} ({report.steps} steps), data {report.dataset}"),
        ("median error by width", ", ".join(f"{w}: {number(e, 3)}" for w, e in zip(report.widths, report.median_errors))),
        ("slope", f"{number(report.slope, 3)} [{number(low, 3)}, {number(high, 3)}] "
                  f"({report.confidence:.0%} CI), larger half {number(report.tail_slope, 3)}"),
        ("O(eta) floor", number(report.lr_floor, 3)),
        ("verdict", report.verdict),
    ]
    if report.mapping_notes:
        rows.append(("mapping notes", f"{len(report.mapping_notes)} network(s) approximated"))
    if report.input_variances and any(v != 1.0 for v in report.input_variances):
        rows.append(("input variances", "[" + ", ".join(number(v, 3) for v in report.input_variances) + "]"
                     f", misalignment {number(report.misalignment, 3)}"))
    for warning in report.warnings:
        rows.append(("warning", warning))
    if report.wall_time_s:
        rows.append(("wall time", f"{number(report.wall_time_s, 3)} s"))
    return rows


def concentration_rows(result) -> list:
    """``(name, value)`` rows of a concentration measurement: the mean dominant fraction per depth.

    Parameters
    ----------
    result : ConcentrationResult
        The measurement.

    Returns
    -------
    list of (str, str)
        The rows, for :func:`pathdyn.numerics.display.text_summary` and ``html_summary``.
    """
    config = result.config
    rows = [
        ("run", f"depths {list(result.depths)}, {len(result.seeds)} seeds, width {config.get('width')}, "
                f"{config.get('init')} init scale {number(config.get('init_scale'))}, eta {number(config.get('learning_rate'))}, "
                f"t_max {number(config.get('t_max'))}"),
    ]
    for activation in result.activations:
        means, _ = result.summary(activation)
        rows.append((f"{activation} fraction", ", ".join(f"D={d}: {number(m, 3)}" for d, m in zip(result.depths, means))))
    if result.race_agreement is not None:
        agreement = [float(np.nanmean(a)) for a in result.race_agreement]
        rows.append(("race agreement", ", ".join(f"D={d}: {number(a, 3)}" for d, a in zip(result.depths, agreement))))
    if result.wall_time_s:
        rows.append(("wall time", f"{number(result.wall_time_s, 3)} s"))
    return rows


def comparison_rows(comparison) -> list:
    """``(name, value)`` rows of one network against the theory.

    Parameters
    ----------
    comparison : Comparison
        The comparison.

    Returns
    -------
    list of (str, str)
        The rows, for :func:`pathdyn.numerics.display.text_summary` and ``html_summary``.
    """
    return [
        ("error", f"{number(comparison.error)} (max |K_GD - K_theory| / S_1, S_1 = {number(comparison.scale)}) "
                  f"at t = {number(comparison.time_of_max)}"),
        ("per pathway", "[" + ", ".join(number(e, 3) for e in np.ravel(comparison.per_pathway)) + "]"),
        ("per mode", "[" + ", ".join(number(e, 3) for e in np.ravel(comparison.per_mode)) + "]"),
        ("compared", comparison.quantity),
        ("times", array_summary(comparison.times, ("time",))),
    ]


# =================================================================== xarray
def _report_attrs(report) -> dict:
    low, high = report.slope_ci
    attrs = {
        "title": "pathdyn width sweep",
        "depths": ",".join(map(str, report.depths)),
        "init": report.init,
        "init_scale": float(report.init_scale),
        "theory": report.theory,
        "mapping": report.mapping,
        "dataset": report.dataset,
        "learning_rate": float(report.learning_rate),
        "t_max": float(report.t_max),
        "steps": int(report.steps),
        "slope": float(report.slope),
        "slope_ci_low": float(low),
        "slope_ci_high": float(high),
        "tail_slope": float(report.tail_slope),
        "confidence": float(report.confidence),
        "lr_floor": float("nan") if report.lr_floor is None else float(report.lr_floor),
        "time_mapping": report.time_mapping,
        "limit": report.limit,
        "compared": report.compared,
        "verdict": report.verdict,
        "passed": "none" if report.passed is None else str(bool(report.passed)).lower(),
        "targets": netcdf_attribute(report.targets),
        "mapping_notes": netcdf_attribute(list(report.mapping_notes)),
        "wall_time_s": float(report.wall_time_s),
        "evidence": netcdf_attribute(report.evidence),
        "misalignment": float(report.misalignment),
        "warnings": netcdf_attribute(list(report.warnings)),
    }
    return attrs


def width_report_to_xarray(report):
    """A width sweep as an ``xarray.Dataset``.

    Parameters
    ----------
    report : WidthScalingReport
        The sweep.

    Returns
    -------
    xarray.Dataset
        Dimensions ``width``, ``seed``, ``pathway``, ``mode`` and (for the example
        network) ``time``. Variables: ``error (width, seed)``, ``median_error (width)``,
        ``singular_values (mode)``, ``final_K_gd`` and ``final_K_theory (width, seed,
        pathway, mode)``, ``example_K_gd`` and ``example_K_theory (time, pathway, mode)``
        when present. The case, slope, interval, floor and verdict are attributes.
    """
    xr = require("xarray")
    coords = {"width": ("width", np.asarray(report.widths)), "seed": ("seed", np.asarray(report.seeds))}
    data = {
        "error": (("width", "seed"), report.errors, {"long_name": "max_{t,a,alpha} |K_GD - K_theory| / S_1"}),
        "median_error": (("width",), report.median_errors, {"long_name": "median over seeds of error"}),
    }
    S = np.asarray(report.singular_values, dtype=float)
    if S.size:
        data["singular_values"] = (("mode",), S, {"long_name": "S_alpha"})
    lam = np.asarray(report.input_variances, dtype=float)
    if lam.size == S.size and lam.size:
        data["input_variances"] = (("mode",), lam, {"long_name": "lambda_alpha = v^T Sigma_x v"})
    if report.final_K_gd is not None:
        final_gd = np.asarray(report.final_K_gd, dtype=float)
        data["final_K_gd"] = (("width", "seed", "pathway", "mode"), final_gd, {"long_name": "final K of the network"})
        data["final_K_theory"] = (("width", "seed", "pathway", "mode"), np.asarray(report.final_K_theory, dtype=float),
                                  {"long_name": "final K of the reduced model"})
    example = report.example
    if example is not None:
        coords["time"] = ("time", np.asarray(example["t"], dtype=float), {"units": "t = eta * step"})
        data["example_K_gd"] = (("time", "pathway", "mode"), np.asarray(example["K_gd"], dtype=float),
                                {"long_name": "K(t) of one network", "width": int(example["width"]), "seed": int(example["seed"])})
        data["example_K_theory"] = (("time", "pathway", "mode"), np.asarray(example["K_theory"], dtype=float),
                                    {"long_name": "K(t) of the reduced model from that network's initial state"})
    dataset = xr.Dataset(data, coords=coords, attrs=_report_attrs(report))
    sizes = dataset.sizes
    if "pathway" in sizes:
        dataset = dataset.assign_coords(pathway=np.arange(1, sizes["pathway"] + 1))
    if "mode" in sizes:
        dataset = dataset.assign_coords(mode=np.arange(1, sizes["mode"] + 1))
    return dataset


def concentration_to_xarray(result):
    """A concentration measurement as an ``xarray.Dataset``.

    Parameters
    ----------
    result : ConcentrationResult
        The measurement.

    Returns
    -------
    xarray.Dataset
        Dimensions ``activation``, ``depth``, ``seed``, ``mode``. Variables:
        ``fraction (activation, depth, seed, mode)``, ``final_loss_ratio (activation,
        depth, seed)``, and for the race oracle ``race_agreement`` and ``race_fraction
        (depth, seed, mode)``. The settings are attributes.
    """
    xr = require("xarray")
    activations = list(result.activations)
    fractions = np.stack([np.asarray(result.fractions[a], dtype=float) for a in activations])
    coords = {
        "activation": ("activation", np.array(activations, dtype=str)),
        "depth": ("depth", np.asarray(result.depths)),
        "seed": ("seed", np.asarray(result.seeds)),
        "mode": ("mode", np.arange(1, fractions.shape[-1] + 1)),
    }
    data = {
        "fraction": (("activation", "depth", "seed", "mode"), fractions,
                     {"long_name": "max_a |K_a alpha| / sum_a |K_a alpha| at the end of training"}),
        "final_loss_ratio": (("activation", "depth", "seed"),
                             np.stack([np.asarray(result.final_loss_ratio[a], dtype=float) for a in activations]),
                             {"long_name": "final loss / loss of the zero network"}),
    }
    if result.race_agreement is not None:
        data["race_agreement"] = (("depth", "seed", "mode"), np.asarray(result.race_agreement, dtype=float),
                                  {"long_name": "1 where the race oracle names the winning pathway"})
        data["race_fraction"] = (("depth", "seed", "mode"), np.asarray(result.race_fraction, dtype=float),
                                 {"long_name": "race oracle's dominant fraction"})
    attrs = {"title": "pathdyn concentration"}
    attrs.update({key: netcdf_attribute(value) for key, value in result.config.items()})
    return xr.Dataset(data, coords=coords, attrs=attrs)


# =================================================================== pandas
def width_reports_to_dataframe(reports, names=None):
    """One row per (case, width): the case's settings, the error statistics over seeds and the case's slope.

    Parameters
    ----------
    reports : WidthScalingReport or sequence of them
    names : sequence of str, optional
        Case names (default ``"case 1"``, ...).

    Returns
    -------
    pandas.DataFrame
        Columns ``case, depths, init, init_scale, theory, mapping, learning_rate, width,
        seeds, median_error, min_error, max_error, slope, slope_ci_low, slope_ci_high,
        lr_floor, passed``.

    Raises
    ------
    ConfigError
        When ``names`` and ``reports`` differ in length (or pandas is missing).
    """
    pd = require("pandas")
    if hasattr(reports, "widths"):
        reports = [reports]
    reports = list(reports)
    names = list(names) if names is not None else [f"case {k + 1}" for k in range(len(reports))]
    if len(names) != len(reports):
        raise ConfigError(f"names: {len(names)} names for {len(reports)} reports")
    rows = []
    for name, report in zip(names, reports):
        low, high = report.slope_ci
        for i, width in enumerate(report.widths):
            errors = report.errors[i]
            rows.append({
                "case": name,
                "depths": ",".join(map(str, report.depths)),
                "init": report.init,
                "init_scale": report.init_scale,
                "theory": report.theory,
                "mapping": report.mapping,
                "learning_rate": report.learning_rate,
                "width": width,
                "seeds": errors.size,
                "median_error": float(np.median(errors)),
                "min_error": float(np.min(errors)),
                "max_error": float(np.max(errors)),
                "slope": report.slope,
                "slope_ci_low": low,
                "slope_ci_high": high,
                "lr_floor": np.nan if report.lr_floor is None else report.lr_floor,
                "passed": report.passed,
            })
    return pd.DataFrame(rows)


def concentration_to_dataframe(result):
    """One row per (activation, depth): mean dominant fraction, its interval, and the race oracle's numbers.

    Parameters
    ----------
    result : ConcentrationResult
        The measurement.

    Returns
    -------
    pandas.DataFrame
        Columns ``activation, depth, seeds, mean_fraction, ci_low, ci_high`` and, with
        the race oracle, ``race_agreement, race_fraction`` (on the linear rows).
    """
    pd = require("pandas")
    rows = []
    for activation in result.activations:
        means, cis = result.summary(activation)
        for i, depth in enumerate(result.depths):
            row = {"activation": activation, "depth": depth, "seeds": len(result.seeds), "mean_fraction": means[i],
                   "ci_low": cis[i][0], "ci_high": cis[i][1]}
            if result.race_agreement is not None:
                row["race_agreement"] = float(np.nanmean(result.race_agreement[i])) if activation == "linear" else np.nan
                row["race_fraction"] = float(np.nanmean(result.race_fraction[i])) if activation == "linear" else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


# ===================================================================== JSON
def width_report_from_json_dict(data: dict):
    """Rebuild a :class:`~pathdyn.validation.sweep.width.WidthScalingReport` from its ``to_json_dict``.

    Parameters
    ----------
    data : dict
        What ``WidthScalingReport.to_json_dict`` wrote (one case).

    Returns
    -------
    WidthScalingReport
        The report.

    Raises
    ------
    ConfigError
        When a key is missing.
    """
    from pathdyn.validation.sweep.width import WidthScalingReport

    def value(v):
        return float("nan") if v is None else float(v)

    try:
        config = data["config"]
        example = data.get("example")
        if example is not None:
            example = {k: (np.asarray(v, dtype=float) if k in ("t", "K_gd", "K_theory") else v) for k, v in example.items()}
        return WidthScalingReport(
            depths=tuple(config["depths"]),
            widths=tuple(data["widths"]),
            seeds=tuple(config["seeds"]),
            init=config["init"],
            init_scale=float(config["init_scale"]),
            theory=config["theory"],
            mapping=config["mapping"],
            dataset=config["dataset"],
            singular_values=tuple(config["singular_values"]),
            learning_rate=float(config["learning_rate"]),
            t_max=float(config["t_max"]),
            steps=int(config["steps"]),
            errors=np.asarray(data["errors"], dtype=float),
            slope=value(data["slope"]),
            slope_ci=tuple(value(v) for v in data["slope_ci"]),
            tail_slope=value(data.get("tail_slope")),
            confidence=float(config.get("confidence", 0.95)),
            lr_floor=data.get("lr_floor"),
            time_mapping=data.get("time_mapping", ""),
            limit=data.get("limit", ""),
            compared=data.get("compared", ""),
            verdict=data.get("verdict", ""),
            passed=data.get("passed"),
            targets=dict(config.get("targets") or {}),
            final_K_gd=None if "final_K_gd" not in data else np.asarray(data["final_K_gd"], dtype=float),
            final_K_theory=None if "final_K_theory" not in data else np.asarray(data["final_K_theory"], dtype=float),
            example=example,
            wall_time_s=float(data.get("wall_time_s", 0.0)),
            mapping_notes=tuple(data.get("mapping_notes", ())),
            evidence=dict(data.get("evidence") or {}),
            input_variances=tuple(config.get("input_variances") or ()),
            misalignment=float(config.get("misalignment") or 0.0),
            warnings=tuple(data.get("warnings", ())),
        )
    except (KeyError, TypeError) as error:
        raise ConfigError(f"width report JSON: missing or malformed entry {error}; write it with pathdyn validate -o") from None


def load_width_reports(path) -> tuple:
    """The reports of a ``pathdyn validate -o FILE.json`` (one case or a suite) and their names.

    Parameters
    ----------
    path : str or Path
        The JSON file.

    Returns
    -------
    (reports, names) : tuple of list

    Raises
    ------
    ConfigError
        When the file is missing, not JSON, or holds no validate report.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"path: {str(path)!r} not found; write it with pathdyn validate -o") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"path: {str(path)!r} is not valid JSON ({error.msg})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"path: {str(path)!r} holds no validate report; write it with pathdyn validate -o")
    if "cases" in data:
        cases = data["cases"]
        return [width_report_from_json_dict(c) for c in cases], [c.get("name", f"case {k + 1}") for k, c in enumerate(cases)]
    return [width_report_from_json_dict(data)], ["custom"]
