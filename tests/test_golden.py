"""Behaviour lock: today's outputs against outputs stored before the refactor of issue 10.

The stored files in ``tests/golden/`` were written by ``tests/golden/make_golden.py`` on
the commit that introduced them; this test recomputes every case with the same functions.

* JSON exports must be byte-identical, and so must the text and LaTeX documents of
  ``tests/golden/documents/`` (pathway, DMFT and graph exports: every printer): they are
  exact sympy expressions printed as text, which no CPU changes;
* initial-state builders, mappings and finite-width simulations of fixed seeds (all
  float64) must agree to ``FLOAT64_RTOL`` relative to each array's scale. They are not
  compared bit for bit: BLAS and numpy pick SIMD kernels per CPU (AVX-512, AVX2, SSE,
  NEON), whose sums are ordered differently and differ in the last bit (1 ulp, 2.2e-16
  on entries of order 0.03, was measured between two x86-64 CPUs). A few hundred
  float64 operations in a row move the result by at most ~1e-13 relative; a change of
  the code moves it by far more (``test_a_perturbed_output_fails_the_lock``);
* integrations (LSODA and Rosenbrock, rtol 1e-10) of fixed initial states must agree to
  ``INTEGRATION_RTOL`` relative to each array's scale: reordering of floating-point work
  inside a solver may move the last bits, a change of the equations or the solver moves
  them by far more (``test_a_perturbed_output_fails_the_lock`` shows it is caught);
* the phase-plane field must agree to ``FIELD_RTOL`` (it may be computed another way).

A change of behaviour that is intended (a new JSON field, a different solver default)
regenerates the files with ``python tests/golden/make_golden.py`` and says why in the commit.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
INTEGRATION_RTOL = 1e-9
FLOAT64_RTOL = 1e-12
FIELD_RTOL = 1e-10


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_golden", GOLDEN / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def _stored(name):
    with np.load(GOLDEN / name) as data:
        return {key: data[key] for key in data.files}


def _close(actual, expected, rtol):
    """Largest difference relative to the array's scale, and whether it is within ``rtol``."""
    scale = max(float(np.max(np.abs(expected))), 1e-300) if expected.size else 1.0
    diff = float(np.max(np.abs(actual - expected))) / scale if expected.size else 0.0
    return diff <= rtol, diff


@pytest.mark.parametrize("depths", gen.EXPORT_DEPTHS)
@pytest.mark.parametrize("whitened", (True, False))
def test_json_exports_are_bit_identical(depths, whitened):
    stored = (GOLDEN / gen.export_name(depths, whitened)).read_text()
    assert gen.export_json(depths, whitened) == stored
    json.loads(stored)  # the stored file is itself valid JSON


def _assert_same_keys(actual, stored):
    assert sorted(actual) == sorted(stored)


def test_integrations_match_stored_outputs():
    stored = _stored("integrations.npz")
    actual = gen.integration_cases()
    _assert_same_keys(actual, stored)
    for key, expected in stored.items():
        assert actual[key].shape == expected.shape, key
        ok, diff = _close(actual[key], expected, INTEGRATION_RTOL)
        assert ok, f"{key}: differs by {diff:.3g} (relative to its scale) > {INTEGRATION_RTOL}"


def _assert_float64_lock(actual, stored):
    _assert_same_keys(actual, stored)
    for key, expected in stored.items():
        assert actual[key].shape == expected.shape, key
        ok, diff = _close(actual[key], expected, FLOAT64_RTOL)
        assert ok, f"{key}: differs by {diff:.3g} (relative to its scale) > {FLOAT64_RTOL}"


def test_initial_states_and_mappings_match_stored_outputs():
    _assert_float64_lock(gen.initial_state_cases(), _stored("initial_states.npz"))


def test_phase_plane_field_matches_stored_outputs():
    stored = _stored("phase_plane.npz")
    actual = gen.phase_plane_cases()
    _assert_same_keys(actual, stored)
    for key, expected in stored.items():
        ok, diff = _close(actual[key], expected, FIELD_RTOL)
        assert ok, f"{key}: differs by {diff:.3g} > {FIELD_RTOL}"


def test_simulations_of_fixed_seeds_match_stored_outputs():
    _assert_float64_lock(gen.simulation_cases(), _stored("simulations.npz"))


@pytest.mark.parametrize("name", sorted(gen.DOCUMENT_CASES))
def test_text_and_latex_documents_are_byte_identical(name):
    """Every printer (text, LaTeX, srepr; pathway, DMFT and graph exports) prints as stored.

    The stored documents were written after the printers became sympy ``Printer``
    subclasses and checked equal, byte for byte, to the exports of the code before that
    change."""
    assert gen.export_document(name) == (GOLDEN / "documents" / name).read_text()


def test_a_perturbed_output_fails_the_lock():
    """The comparisons can fail: a 1e-9 change of one entry of a simulation (a change of
    the learning rate in its tenth digit moves it by more), a 1e-7 change of an
    integration (the size of a loosened solver tolerance) and one changed character of an
    export are each caught; a one-ulp change, which another CPU may make, is not."""
    sims = _stored("simulations.npz")
    key = sorted(sims)[0]
    bumped = sims[key].copy()
    bumped.flat[-1] += 1e-9 * np.max(np.abs(bumped))
    assert not _close(bumped, sims[key], FLOAT64_RTOL)[0]
    one_ulp = sims[key].copy()
    one_ulp.flat[-1] = np.nextafter(one_ulp.flat[-1], np.inf)
    assert _close(one_ulp, sims[key], FLOAT64_RTOL)[0]
    ints = _stored("integrations.npz")
    key = next(k for k in sorted(ints) if k.endswith("_K"))
    assert not _close(ints[key] * (1 + 1e-7), ints[key], INTEGRATION_RTOL)[0]
    text = (GOLDEN / gen.export_name((1, 2), True)).read_text()
    assert gen.export_json((1, 2), True) != text.replace("Integer(2)", "Integer(3)", 1)
