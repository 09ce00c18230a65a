"""Property-based tests: bad arguments to the public API raise a PathdynError naming the argument.

Each case calls a public function with one generated bad value (the rest valid) and
expects a :class:`pathdyn.errors.PathdynError` that also is a ``ValueError`` or
``TypeError``, with a one-line message naming the argument; never a raw numpy or
builtin error.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathdyn.errors import PathdynError
from pathdyn.numerics.datasets import Dataset, random_dataset
from pathdyn.numerics.initial import draw_initial_state
from pathdyn.numerics.integrate import integrate
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.export import load_equations_json
from pathdyn.theory.reduced import reduce_to_modes
from pathdyn.theory.safe_parse import parse_srepr
from pathdyn.validation.network import simulate_gd

SETTINGS = settings(max_examples=15, deadline=None)
EQUATIONS = reduce_to_modes((2, 2))
Y0 = draw_initial_state(EQUATIONS, 2, 0.1, seed=0)
DATA = random_dataset([2.0, 1.0], seed=0)

#: Values that are not numbers at all.
NOT_NUMBERS = st.one_of(st.none(), st.text(max_size=5), st.lists(st.integers(), max_size=2), st.just({}),
                        st.just(1j), st.booleans())
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


def _expect_named_error(call, name: str) -> None:
    with pytest.raises(PathdynError) as caught:
        call()
    error = caught.value
    assert isinstance(error, (ValueError, TypeError)), type(error)
    message = str(error)
    assert "\n" not in message and name in message, message


def _run_integrate(**override):
    options = dict(num_points=5, rtol=1e-6, atol=1e-8, t_max=1.0)
    options.update(override)
    t_max = options.pop("t_max")
    return integrate(EQUATIONS, Y0, [2.0, 1.0], t_max, **options)



def fractional(low: float, high: float):
    """Floats in ``[low, high]`` that are not whole numbers (3.0 is a valid count, 2.7 is not)."""
    return st.floats(low, high).filter(lambda x: not float(x).is_integer())

@SETTINGS
@given(value=st.one_of(NOT_NUMBERS, NON_FINITE, st.integers(max_value=1), fractional(2.1, 3.9)))
def test_integrate_num_points(value):
    _expect_named_error(lambda: _run_integrate(num_points=value), "num_points")


@SETTINGS
@given(value=st.one_of(NOT_NUMBERS, NON_FINITE, st.floats(max_value=0.0), st.floats(min_value=1.0, max_value=1e300)))
def test_integrate_rtol(value):
    """rtol must be a number in (0, 1): rtol >= 1 asks for no accuracy at all."""
    _expect_named_error(lambda: _run_integrate(rtol=value), "rtol")


@SETTINGS
@given(value=st.one_of(NOT_NUMBERS, NON_FINITE, st.floats(max_value=0.0)))
def test_integrate_t_max(value):
    _expect_named_error(lambda: _run_integrate(t_max=value), "t_max")


@SETTINGS
@given(S=st.one_of(
    st.lists(st.floats(max_value=0.0, allow_nan=False), min_size=2, max_size=2),
    st.lists(st.floats(min_value=1e101, max_value=1e300), min_size=2, max_size=2),
    st.just(["a", "b"]), st.just([1j, 2j]), st.just([1.0, 2.0, 3.0]),
))
def test_integrate_singular_values(S):
    _expect_named_error(lambda: integrate(EQUATIONS, Y0, S, 1.0, num_points=3), "singular_values")


@SETTINGS
@given(y0=st.one_of(st.just("x"), st.just(np.ones((2, 2))), st.just(np.full((4, 2), 1j)), st.just([[1, 2], [3]])))
def test_integrate_initial_state(y0):
    _expect_named_error(lambda: integrate(EQUATIONS, y0, [2.0, 1.0], 1.0, num_points=3), "initial_state")


@SETTINGS
@given(seed=st.one_of(st.integers(max_value=-1), st.text(max_size=3), st.floats(0.1, 0.9), st.just(None), st.booleans()))
def test_draw_initial_state_seed(seed):
    _expect_named_error(lambda: draw_initial_state(EQUATIONS, 2, 0.1, seed=seed), "seed")


@SETTINGS
@given(n_modes=st.one_of(st.integers(max_value=0), st.text(max_size=3), fractional(1.1, 2.9), st.just(None)))
def test_draw_initial_state_n_modes(n_modes):
    _expect_named_error(lambda: draw_initial_state(EQUATIONS, n_modes, 0.1), "n_modes")


@SETTINGS
@given(scale=st.one_of(NOT_NUMBERS, NON_FINITE, st.floats(max_value=0.0)))
def test_draw_initial_state_scale(scale):
    _expect_named_error(lambda: draw_initial_state(EQUATIONS, 2, scale), "scale")


@SETTINGS
@given(S=st.one_of(st.just(["x"]), st.just([1 + 1j]), st.just([]), st.just([1e200]),
                   st.lists(st.floats(max_value=0.0), min_size=1, max_size=3)),
       seed=st.just(0))
def test_random_dataset_singular_values(S, seed):
    _expect_named_error(lambda: random_dataset(S, seed=seed), "singular_values")


@SETTINGS
@given(seed=st.one_of(st.integers(max_value=-1), st.text(max_size=3), st.floats(0.1, 0.9)))
def test_random_dataset_seed(seed):
    _expect_named_error(lambda: random_dataset([2.0, 1.0], seed=seed), "seed")


@SETTINGS
@given(X=st.sampled_from([
    np.array([["a", "b"], ["c", "d"]]), np.eye(2) * (1 + 1j), np.array([[True, False], [False, True]]),
    np.eye(2) * 1e200, np.ones((2, 3)), np.ones(2),
]))
def test_dataset_arrays(X):
    _expect_named_error(lambda: Dataset(X=X, Y=np.eye(2)), "dataset")


def _simulate(**override):
    options = dict(learning_rate=0.01, steps=2)
    options.update(override)
    return simulate_gd((2, 2), DATA, 4, **options)


@SETTINGS
@given(dtype=st.one_of(st.sampled_from(["bogus", ",", "f8,f4", "(", "<f8,", "float64 "]), st.just(np.int32), st.just(complex),
                      st.text(max_size=4).filter(
    lambda s: s not in ("f8", "f4", "d", "f", "float", "double", "single", "half", "e", "f2", "float32", "float64"))))
def test_simulate_dtype(dtype):
    _expect_named_error(lambda: _simulate(dtype=dtype), "dtype")


@SETTINGS
@given(seeds=st.one_of(st.integers(), st.text(min_size=1, max_size=3), st.just([-1]), st.just([0.5]), st.just([])))
def test_simulate_seeds(seeds):
    _expect_named_error(lambda: _simulate(seeds=seeds), "seeds" if not isinstance(seeds, list) or not seeds else "seed")


@SETTINGS
@given(value=st.one_of(NOT_NUMBERS, NON_FINITE, st.floats(max_value=0.0)))
def test_simulate_learning_rate(value):
    _expect_named_error(lambda: _simulate(learning_rate=value), "learning_rate")


@SETTINGS
@given(steps=st.one_of(st.integers(max_value=-1), fractional(0.5, 1.5), st.text(max_size=2), st.just(None)))
def test_simulate_steps(steps):
    _expect_named_error(lambda: _simulate(steps=steps), "steps")


@SETTINGS
@given(weights=st.sampled_from([
    [[np.full((4, 2), "a"), np.ones((2, 4))], [np.ones((4, 2)), np.ones((2, 4))]],
    [[np.ones((4, 2)) * 1j, np.ones((2, 4))], [np.ones((4, 2)), np.ones((2, 4))]],
    [[np.ones((3, 2)), np.ones((2, 4))], [np.ones((4, 2)), np.ones((2, 4))]],
]))
def test_simulate_weights(weights):
    _expect_named_error(lambda: _simulate(weights=weights), "W_1_1")


def test_simulate_memory_estimate_refuses_before_allocating():
    _expect_named_error(lambda: simulate_gd((2, 2), DATA, 10**9, learning_rate=0.01, steps=1), "GiB")


SREPR_ALPHABET = "()',.=_ -+*/eE0123456789AFIMPRSTZadilmnorstuxy[]{}:;\\\"\n"


@settings(max_examples=100, deadline=None)
@given(text=st.one_of(
    st.text(alphabet=SREPR_ALPHABET, max_size=60),
    st.from_regex(r"(Add|Mul|Pow|Integer|Symbol|Float|Rational|MatMul)\((Integer\(-?\d{1,6}\)|'[a-z]{0,3}'|\d+)"
                  r"(, ?(Integer\(\d{1,5}\)|Rational\(\d+, ?\d+\)|Symbol\('x'\)))?\)",
                  fullmatch=True),
))
def test_parse_srepr_never_fails_otherwise(text):
    """Any text: an expression or one ConfigError, never another exception (fuzzing the parser)."""
    try:
        parse_srepr(text, where="entry")
    except PathdynError as error:
        assert "\n" not in str(error)


@settings(max_examples=50, deadline=None)
@given(value=st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
))
def test_load_equations_json_refuses_any_other_json(value):
    text = json.dumps(value)
    if not text.lstrip().startswith("{"):
        text = "{" + json.dumps({"x": value})[1:]
    with pytest.raises(PathdynError):
        load_equations_json(text)


@SETTINGS
@given(lam=st.sampled_from([["x", "y"], [1j, 1.0], [-1.0, 1.0], [0.0, 1.0], [math.nan, 1.0], [1.0], [1e200, 1.0],
                            [[1.0, 2.0]] * 2]))
def test_random_dataset_input_variances(lam):
    _expect_named_error(lambda: random_dataset([2.0, 1.0], seed=0, input_variances=lam), "input_variances")


@SETTINGS
@given(device=st.one_of(st.just("bogus"), st.just(""), st.just("cuda:x"), st.integers(), st.none()))
def test_simulate_device(device):
    _expect_named_error(lambda: _simulate(device=device), "device")


GENERAL = reduce_to_modes(Architecture(depths=(2, 2), whitened=False))


@SETTINGS
@given(lam=st.one_of(st.just("x"), st.just([1j, 1.0]), st.just([1.0, 2.0, 3.0]), st.just(None), st.just([-1.0, 1.0]),
                    st.just([0.0, 1.0]), st.just([math.nan, 1.0]), st.just([1e200, 1.0])))
def test_integrate_input_variance_parameter(lam):
    """General inputs: each mode's input variance is a parameter, checked like the singular values."""
    y0 = draw_initial_state(GENERAL, 2, 0.1, seed=0)
    _expect_named_error(lambda: integrate(GENERAL, y0, [2.0, 1.0], 1.0, num_points=5, parameters={"lambda": lam}),
                        "lambda")


@pytest.mark.parametrize("dtype", [",", "f8,f4", "(", "<f8,", ",f8", "f8,f8"])
def test_simulate_dtype_text_numpy_would_parse_as_a_record(dtype):
    """numpy raises SyntaxError for "," and reads "f8,f4" as a record type: both are one-line dtype errors."""
    _expect_named_error(lambda: _simulate(dtype=dtype), "dtype")
