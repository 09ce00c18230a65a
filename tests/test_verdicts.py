"""Honest verdicts of width sweeps: enough data for a claim, and a limit claim backed by its numbers."""

import json

import numpy as np
import pytest

from pathdyn.validation.sweep import fit_slope, validate_width
from pathdyn.validation.sweep.verdicts import FINITE_WIDTH_SLOPE, LIMIT_FLOOR_RATIO, limit_evidence
from pathdyn.validation.sweep.verdicts import sweep_verdict as _verdict

LIMIT = "a limit of the reduced model"


def verdict_of(widths, errors, lr_floor, targets=None, expected_exact=False, naive=False):
    """``_verdict`` with the slopes fitted as :func:`validate_width` fits them."""
    errors = np.asarray(errors, dtype=float)
    slope, ci, _ = fit_slope(widths, errors) if len(set(widths)) >= 2 else (np.nan, (np.nan, np.nan), np.nan)
    half = max(2, (len(widths) + 1) // 2)
    tail = fit_slope(widths[-half:], errors[-half:])[0] if len(widths) >= 2 else np.nan
    return _verdict(slope, ci, tail, errors, list(widths), lr_floor, targets or {}, expected_exact, naive=naive)


@pytest.mark.parametrize("widths, errors, missing", [
    ((64,), [[0.05]], "add 2 more width(s) and 1 more seed(s)"),
    ((64, 256, 1024), [[0.05], [0.05], [0.05]], "add 1 more seed(s)"),
    ((64, 1024), [[0.05, 0.051], [0.05, 0.049]], "add 1 more width(s)"),
])
def test_too_few_widths_or_seeds_is_inconclusive_and_names_what_to_add(widths, errors, missing):
    text, passed = verdict_of(widths, errors, lr_floor=0.001, targets={"max_error": 0.1})
    assert text.startswith("inconclusive:") and missing in text and passed is None
    assert LIMIT not in text and "falls with width" not in text


def test_a_single_width_and_seed_never_claims_a_limit():
    """The reported defect: one width and one seed, 50x the floor, used to claim a limit of the model."""
    text, _ = verdict_of((256,), [[0.05]], lr_floor=0.001)
    assert LIMIT not in text and "inconclusive" in text


FLAT = [[0.020, 0.021], [0.019, 0.020], [0.020, 0.0195], [0.0198, 0.0202]]


def test_limit_claim_with_its_numbers_when_flat_and_well_above_the_floor():
    widths = (128, 256, 512, 1024)
    text, _ = verdict_of(widths, FLAT, lr_floor=0.001)
    assert LIMIT in text and "20.0x the O(eta) floor" in text and "slope over widths 512-1024" in text
    evidence = limit_evidence(widths, FLAT, 0.001)
    assert evidence["well_above_floor"] and evidence["no_decrease"] and evidence["tail_slope_ci"][0] > FINITE_WIDTH_SLOPE
    assert evidence["floor_ratio"] == pytest.approx(20.0, rel=0.02)
    # the naive mapping gets the same rule, with its own reason
    assert "the naive initial state is wrong" in verdict_of(widths, FLAT, lr_floor=0.001, naive=True)[0]


def test_no_limit_claim_when_the_error_is_not_well_above_the_floor():
    widths = (128, 256, 512, 1024)
    errors = np.asarray(FLAT) / 10  # 2x-ish the floor below, 3x here
    text, _ = verdict_of(widths, errors * 1.5, lr_floor=0.001)
    assert LIMIT not in text and f"less than {LIMIT_FLOOR_RATIO:g}x the floor" in text


def test_no_limit_claim_while_the_error_may_still_fall_at_the_larger_widths():
    widths = (64, 128, 256, 512, 1024)
    falling = [[0.2 * (w / 64) ** -0.5 * f for f in (1.0, 1.05)] for w in widths]  # N^-1/2, 25x the floor at 1024
    text, _ = verdict_of(widths, falling, lr_floor=0.002)
    assert LIMIT not in text and "may still fall over the larger widths" in text


def test_no_limit_claim_from_a_positive_but_noisy_slope():
    """A slope whose interval also allows the N^-1/2 decrease is not evidence of a limit."""
    widths = (64, 128, 256, 512)
    noisy = [[0.02, 0.06], [0.05, 0.01], [0.01, 0.07], [0.08, 0.015]]
    evidence = limit_evidence(widths, noisy, 0.001)
    assert evidence["tail_slope"] > 0 and evidence["tail_slope_ci"][0] < FINITE_WIDTH_SLOPE
    assert LIMIT not in verdict_of(widths, noisy, lr_floor=0.001)[0]


# The per-seed errors and O(eta) floors of the default suite as `pathdyn validate` recorded them
# (docs/validate-default.json): each case must still get the verdict its data supports.
RECORDED_DEFAULT_SUITE = [
    ("depth 2 q/p", (64, 128, 256, 512, 1024, 2048, 4096),
     [[0.0053, 0.0048, 0.00329], [0.0025, 0.00164, 0.00362], [0.00062, 0.00044, 0.00106], [0.00062, 0.00073, 0.00039],
      [0.00039, 0.00036, 0.00033], [0.00033, 0.00032, 0.00035], [0.00031, 0.0003, 0.00031]],
     0.00029834884220764085, {"max_slope": -0.35, "max_error": 0.01}, True),
    ("depth 3 two-channel", (64, 128, 256, 512, 1024),
     [[0.00572, 0.0058], [0.00776, 0.00352], [0.00585, 0.00126], [0.00146, 0.00214], [0.00142, 0.00124]],
     0.0010748731975198658, {"max_slope": -0.3, "max_error": 0.02}, True),
    ("depth 4 two-channel", (64, 128, 256, 512, 1024),
     [[0.03192, 0.05249], [0.0172, 0.00725], [0.00664, 0.00473], [0.00579, 0.00534], [0.00337, 0.00223]],
     0.0031292204559394414, {"max_slope": -0.3, "max_error": 0.02}, True),
    ("depth 3 Gaussian q/p (known limit)", (64, 128, 256, 512, 1024),
     [[0.02753, 0.06306], [0.02423, 0.03429], [0.01838, 0.01626], [0.02135, 0.01936], [0.01807, 0.0187]],
     0.0012118889369929777, {}, False),
]


@pytest.mark.parametrize("name, widths, errors, lr_floor, targets, exact", RECORDED_DEFAULT_SUITE,
                         ids=[case[0] for case in RECORDED_DEFAULT_SUITE])
def test_recorded_default_suite_keeps_the_verdicts_its_data_supports(name, widths, errors, lr_floor, targets, exact):
    text, passed = verdict_of(widths, errors, lr_floor, targets=targets, expected_exact=exact)
    if targets:
        assert passed is True and text.startswith("TARGET MET;") and "error falls with width" in text
        assert LIMIT not in text
    else:
        assert passed is None and LIMIT in text and "15.2x the O(eta) floor" in text


def test_tiny_real_sweep_is_inconclusive_and_stores_its_evidence():
    report = validate_width((2,), (16, 32), seeds=(0,), t_max=1.0, learning_rate=0.01, record_points=10)
    assert report.verdict.startswith("inconclusive: 2 width(s) and 1 seed(s)") and report.passed is None
    document = report.to_json_dict()
    assert document["evidence"]["enough_data"] is False and document["evidence"]["num_widths"] == 2
    assert document["evidence"]["lr_floor"] == pytest.approx(report.lr_floor)
    assert document["evidence"]["requirements"]["min_widths"] == 3


def test_quick_suite_verdicts_say_they_are_indicative(monkeypatch, tmp_path, capsys):
    import pathdyn.validation.sweep.cases as cases
    from pathdyn.cli.main import main

    tiny = (cases.ValidationCase(name="tiny (quick)", depths=(2,), init="gaussian", init_scale=0.3, theory="qp",
                                 widths=(16, 24, 32), seeds=(0, 1), learning_rate=0.01, t_max=1.0),)
    monkeypatch.setattr(cases, "QUICK_SUITE", tiny)
    out = tmp_path / "quick.json"
    assert main(["validate", "--quick", "-o", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "verdict: indicative only (--quick" in printed
    # before it starts, the suite says what it runs and how long that takes
    assert printed.startswith("pathdyn validate: the quick suite: 1 cases, 7 networks; 30-90 s on 2 cores\n")
    document = json.loads(out.read_text())
    assert document["verdict"].startswith("indicative only (--quick)")
    assert document["cases"][0]["verdict"].startswith("indicative only (--quick")


def test_noise_above_the_error_target_is_indicative_never_a_failure():
    """A seed mean whose noise exceeds the error target can neither meet nor miss it.

    The same numbers with the noise below the target (or not measured) still fail: the rule
    hides no real miss (drop the noise test in ``target_check`` and the first assertion fails).
    """
    from pathdyn.validation.sweep.verdicts import target_check

    targets = {"max_slope": -0.3, "max_error": 0.005}
    head, passed = target_check(-0.1, (-0.5, 0.3), 0.019, targets, noise=0.0175)
    assert head == "indicative: noise 0.0175 above target 0.005; more seeds decide" and passed is None
    for noise in (0.001, None):
        head, passed = target_check(-0.1, (-0.5, 0.3), 0.019, targets, noise=noise)
        assert head.startswith("TARGET NOT MET") and passed is False


def test_a_noisy_dmft_case_with_targets_is_indicative(monkeypatch, tmp_path, capsys):
    """A real (tiny) DMFT sweep of 2 seeds against a 0.1% target: its noise is far above it.

    The command prints the noise and target and no "TARGET NOT MET"; the document's suite
    verdict counts no failure.
    """
    import pathdyn.validation.sweep.cases as cases
    from pathdyn.cli.main import main

    tiny = (cases.ValidationCase(name="tiny DMFT (quick)", depths=(2,), init="gaussian", init_scale=0.5, theory="dmft",
                                 widths=(16, 24, 32), seeds=(0, 1), learning_rate=0.04, t_max=1.0, record_points=10,
                                 compare_qp=False, targets={"max_slope": -0.3, "max_error": 0.001}),)
    monkeypatch.setattr(cases, "QUICK_SUITE", tiny)
    out = tmp_path / "quick.json"
    assert main(["validate", "--quick", "-o", str(out), "--no-progress", "--strict"]) == 0
    printed = capsys.readouterr().out
    assert "TARGET NOT MET" not in printed and "indicative: noise " in printed and "above target 0.001" in printed
    document = json.loads(out.read_text())
    assert document["cases"][0]["passed"] is None and document["verdict"].endswith("0 of 0 targets met")


@pytest.mark.slow
def test_the_quick_suite_shows_no_failure(tmp_path):
    """``pathdyn validate --quick`` (what ``make run`` runs) prints no "TARGET NOT MET" (several minutes)."""
    from pathdyn.cli.main import main

    out = tmp_path / "quick.json"
    assert main(["validate", "--quick", "--no-progress", "--strict", "-o", str(out)]) == 0
    document = json.loads(out.read_text())
    assert all(case["passed"] is not False for case in document["cases"])
    assert not any("TARGET NOT MET" in case["verdict"] for case in document["cases"])
