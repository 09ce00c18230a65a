"""Behaviour lock: today's outputs against outputs stored before the refactor of issue 10.

The stored files in ``tests/golden/`` were written by ``tests/golden/make_golden.py`` on
the commit that introduced them; this test recomputes every case with the same functions.

* JSON exports and finite-width simulations of fixed seeds must be bit-identical, and so
  must the text and LaTeX documents of ``tests/golden/documents/`` (pathway, DMFT and
  graph exports: every printer);
* initial-state builders and mappings must be bit-identical;
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


def test_initial_states_and_mappings_are_bit_identical():
    stored = _stored("initial_states.npz")
    actual = gen.initial_state_cases()
    _assert_same_keys(actual, stored)
    for key, expected in stored.items():
        np.testing.assert_array_equal(actual[key], expected, err_msg=key)


def test_phase_plane_field_matches_stored_outputs():
    stored = _stored("phase_plane.npz")
    actual = gen.phase_plane_cases()
    _assert_same_keys(actual, stored)
    for key, expected in stored.items():
        ok, diff = _close(actual[key], expected, FIELD_RTOL)
        assert ok, f"{key}: differs by {diff:.3g} > {FIELD_RTOL}"


def test_simulations_of_fixed_seeds_are_bit_identical():
    stored = _stored("simulations.npz")
    actual = gen.simulation_cases()
    _assert_same_keys(actual, stored)
    for key, expected in stored.items():
        np.testing.assert_array_equal(actual[key], expected, err_msg=key)


@pytest.mark.parametrize("name", sorted(gen.DOCUMENT_CASES))
def test_text_and_latex_documents_are_byte_identical(name):
    """Every printer (text, LaTeX, srepr; pathway, DMFT and graph exports) prints as stored.

    The stored documents were written after the printers became sympy ``Printer``
    subclasses and checked equal, byte for byte, to the exports of the code before that
    change."""
    assert gen.export_document(name) == (GOLDEN / "documents" / name).read_text()


def test_a_perturbed_output_fails_the_lock():
    """The comparisons can fail: a one-ulp change of a simulation, a 1e-7 change of an
    integration (the size of a loosened solver tolerance) and one changed character of an
    export are each caught."""
    sims = _stored("simulations.npz")
    key = sorted(sims)[0]
    bumped = sims[key].copy()
    bumped.flat[-1] = np.nextafter(bumped.flat[-1], np.inf)
    with pytest.raises(AssertionError):
        np.testing.assert_array_equal(bumped, sims[key])
    ints = _stored("integrations.npz")
    key = next(k for k in sorted(ints) if k.endswith("_K"))
    assert not _close(ints[key] * (1 + 1e-7), ints[key], INTEGRATION_RTOL)[0]
    text = (GOLDEN / gen.export_name((1, 2), True)).read_text()
    assert gen.export_json((1, 2), True) != text.replace("Integer(2)", "Integer(3)", 1)
