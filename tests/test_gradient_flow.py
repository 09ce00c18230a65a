"""The derived matrix gradient flow against a finite-difference gradient of the numeric loss.

sympy has returned wrong matrix derivatives in the past (and sympy 1.14 differentiates a
sum of traces to zero), so every derived right-hand side is evaluated on random small
matrices and compared with a central finite-difference gradient of
``L = ||Y - Omega X||_F^2 / (2P)`` computed in numpy from ``X`` and ``Y`` alone.
"""

import numpy as np
import pytest
import sympy as sp

from pathdyn.errors import ConfigError
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.gradient_flow import derive_gradient_flow

# Tolerances are data. The loss is quadratic in every single weight entry (each W
# appears once in Omega, L is quadratic in Omega), so central differences are exact
# up to round-off; the bound is the 1e-6.
RELATIVE_TOLERANCE = 1e-6
FD_STEP = 1e-3
# A deliberately wrong right-hand side must miss by far more than the tolerance.
WRONG_MARGIN = 1e-2


# ------------------------------------------------------------------ numeric helpers
def evaluate(expr, values, dims):
    """Evaluate a sympy matrix/scalar expression with numpy (independent of sympy's doit)."""
    if isinstance(expr, sp.MatrixSymbol):
        value = values[expr.name]
        expected = tuple(int(sp.sympify(n).xreplace(dims)) for n in expr.shape)
        assert value.shape == expected, f"{expr.name}: shape {value.shape}, symbolic shape {expected}"
        return value
    if isinstance(expr, sp.Identity):
        return np.eye(int(sp.sympify(expr.rows).xreplace(dims)))
    if isinstance(expr, sp.ZeroMatrix):
        return np.zeros(tuple(int(sp.sympify(n).xreplace(dims)) for n in expr.shape))
    if isinstance(expr, sp.Transpose):
        return evaluate(expr.arg, values, dims).T
    if isinstance(expr, sp.MatMul):
        scalar, result = 1.0, None
        for arg in expr.args:
            if arg.is_Matrix:
                value = evaluate(arg, values, dims)
                result = value if result is None else result @ value
            else:
                scalar *= float(arg)
        return scalar * result
    if isinstance(expr, sp.MatAdd):
        return sum(evaluate(arg, values, dims) for arg in expr.args)
    if isinstance(expr, sp.Trace):
        return np.trace(evaluate(expr.arg, values, dims))
    if isinstance(expr, sp.Add):
        return sum(evaluate(arg, values, dims) for arg in expr.args)
    if isinstance(expr, sp.Mul):
        return np.prod([evaluate(arg, values, dims) for arg in expr.args])
    if expr.is_Number:
        return float(expr)
    raise TypeError(f"cannot evaluate {type(expr).__name__}: {expr}")


def bind_dimensions(flow, weights):
    """Map the flow's symbolic dimensions to the numeric shapes of the given weights."""
    dims = {}
    for ws, arrays in zip(flow.weights, weights):
        for w, array in zip(ws, arrays):
            for symbolic, size in zip(w.shape, array.shape):
                if isinstance(symbolic, sp.Symbol):
                    assert dims.setdefault(symbolic, size) == size, f"{symbolic} bound twice"
                else:
                    assert int(symbolic) == size
    return dims


def random_problem(rng, depths, n_in, n_out, widths, whitened, samples=9):
    """Random weights and data. Whitened: X = sqrt(P) Q^T with orthonormal Q, so X X^T/P = I."""
    weights = []
    for a, depth in enumerate(depths):
        sizes = [n_in, *widths[a], n_out]
        weights.append([rng.normal(size=(sizes[d + 1], sizes[d])) / np.sqrt(sizes[d]) for d in range(depth)])
    if whitened:
        q, _ = np.linalg.qr(rng.normal(size=(samples, n_in)))
        X = np.sqrt(samples) * q.T
    else:
        X = rng.normal(size=(n_in, samples)) * rng.uniform(0.5, 2.0, size=(n_in, 1))
    Y = rng.normal(size=(n_out, samples))
    return weights, X, Y


def numeric_loss(weights, X, Y):
    """The loss of docs/theory.md, *Notation and loss*, from the samples: ||Y - Omega X||^2 / (2P)."""
    omega = sum(np.linalg.multi_dot(list(reversed(ws))) if len(ws) > 1 else ws[0] for ws in weights)
    residual = Y - omega @ X
    return 0.5 * np.sum(residual**2) / X.shape[1]


def finite_difference_gradient(weights, X, Y, a, d):
    grad = np.zeros_like(weights[a][d])
    for index in np.ndindex(grad.shape):
        original = weights[a][d][index]
        weights[a][d][index] = original + FD_STEP
        plus = numeric_loss(weights, X, Y)
        weights[a][d][index] = original - FD_STEP
        minus = numeric_loss(weights, X, Y)
        weights[a][d][index] = original
        grad[index] = (plus - minus) / (2 * FD_STEP)
    return grad


def rhs_values(flow, weights, X, Y):
    values = {w.name: array for ws, arrays in zip(flow.weights, weights) for w, array in zip(ws, arrays)}
    P = X.shape[1]
    values["Sigma_yx"] = Y @ X.T / P
    if not flow.whitened:
        values["Sigma_x"] = X @ X.T / P
    values["Omega"] = sum(np.linalg.multi_dot(list(reversed(ws))) if len(ws) > 1 else ws[0] for ws in weights)
    return values


def relative_errors(flow, weights, X, Y, rhs_of=None):
    """Per layer: ||rhs - (-dL/dW)_FD|| / ||(dL/dW)_FD||."""
    rhs_of = rhs_of or flow.rhs_of
    dims = bind_dimensions(flow, weights)
    values = rhs_values(flow, weights, X, Y)
    errors = {}
    for a, d, w, _ in flow.equations():
        derived = evaluate(rhs_of(a, d), values, dims)
        reference = -finite_difference_gradient(weights, X, Y, a - 1, d - 1)
        errors[(a, d)] = np.linalg.norm(derived - reference) / np.linalg.norm(reference)
    return errors


ARCHITECTURES = [
    # depths, n_in, n_out, hidden widths per pathway, whitened, symbolic dims?
    ((2,), 3, 4, [[5]], True, True),
    ((3, 1), 3, 5, [[4, 2], []], False, True),
    ((1, 4, 2), 4, 2, [[], [3, 5, 2], [6]], False, False),
    ((2, 3), 5, 3, [[2], [4, 4]], True, False),
    ((5, 2, 1), 2, 3, [[3, 2, 4, 3], [2], []], False, True),
    # two depth-1 pathways: one edge x -> y of the pathways' graph serves both (its flow has no own weight)
    ((1, 3, 1), 3, 2, [[], [4, 2], []], False, False),
]


def _architecture(depths, n_in, n_out, widths, whitened, symbolic):
    if symbolic:
        return Architecture(depths=depths, whitened=whitened)
    return Architecture(depths=depths, n_in=n_in, n_out=n_out, hidden_widths=[tuple(w) for w in widths],
                        whitened=whitened)


@pytest.mark.parametrize("depths, n_in, n_out, widths, whitened, symbolic", ARCHITECTURES)
def test_chain_rule_flow_matches_finite_differences(rng, depths, n_in, n_out, widths, whitened, symbolic):
    flow = derive_gradient_flow(_architecture(depths, n_in, n_out, widths, whitened, symbolic))
    weights, X, Y = random_problem(rng, depths, n_in, n_out, widths, whitened)
    errors = relative_errors(flow, weights, X, Y)
    assert len(errors) == sum(depths)
    assert max(errors.values()) <= RELATIVE_TOLERANCE, errors
    # the same with Omega written out in the weights
    expanded = relative_errors(flow, weights, X, Y, rhs_of=lambda a, d: flow.rhs_of(a, d, expand=True))
    assert max(expanded.values()) <= RELATIVE_TOLERANCE, expanded


@pytest.mark.parametrize("depths, whitened", [((2, 1), False), ((3, 2, 1), True), ((3, 2, 1), False)])
def test_direct_differentiation_matches_finite_differences(rng, depths, whitened):
    """The slow route (sympy differentiates the written-out loss) agrees too."""
    flow = derive_gradient_flow(Architecture(depths=depths, whitened=whitened), method="direct")
    widths = [[3] * (d - 1) for d in depths]
    weights, X, Y = random_problem(rng, depths, 4, 2, widths, whitened)
    errors = relative_errors(flow, weights, X, Y)
    assert max(errors.values()) <= RELATIVE_TOLERANCE, errors


def test_finite_difference_check_catches_wrong_right_hand_sides(rng):
    """Deliberately wrong variants fail the same check by a wide margin."""
    depths = (3, 2)
    n = 3  # square everywhere, so that dropping a transpose is shape-valid
    flow = derive_gradient_flow(Architecture(depths=depths, n_in=n, n_out=n, hidden_widths=n, whitened=False))
    weights, X, Y = random_problem(rng, depths, n, n, [[n, n], [n]], whitened=False)
    identity = sp.Identity(n)

    def missing_sigma_x(a, d):
        return flow.rhs_of(a, d).xreplace({flow.sigma_x: identity})

    def transposed_factor(a, d):
        return flow.rhs_of(a, d).replace(lambda e: isinstance(e, sp.Transpose), lambda e: e.arg)

    def wrong_sign(a, d):
        return -flow.rhs_of(a, d)

    assert max(relative_errors(flow, weights, X, Y).values()) <= RELATIVE_TOLERANCE
    for wrong in (missing_sigma_x, transposed_factor, wrong_sign):
        assert min(relative_errors(flow, weights, X, Y, rhs_of=wrong).values()) > WRONG_MARGIN


def test_check_catches_sympys_derivative_of_a_sum_of_traces(rng):
    """Written as a sum of two traces, the loss gets sympy's (1.14) derivative 0; caught."""
    flow = derive_gradient_flow(Architecture(depths=(2, 1), whitened=False))
    omega = flow.omega_definition
    loss = sp.Trace(omega * flow.sigma_x * omega.T) / 2 - sp.Trace(flow.sigma_yx * omega.T)

    def sum_of_traces(a, d):
        return -sp.diff(loss, flow.weight(a, d))

    weights, X, Y = random_problem(rng, (2, 1), 3, 4, [[2], []], whitened=False)
    errors = relative_errors(flow, weights, X, Y, rhs_of=sum_of_traces)
    if all(sp.diff(loss, w).is_ZeroMatrix for ws in flow.weights for w in ws):
        assert min(errors.values()) > WRONG_MARGIN
    else:  # a fixed sympy: then it must be right
        assert max(errors.values()) <= RELATIVE_TOLERANCE


@pytest.mark.parametrize("depths", [(1,), (2,), (3, 1), (4, 2, 5)])
def test_whitened_flow_is_the_papers_form(depths):
    """(W_a^{D..d+1})^T [Sigma_yx - Omega] (W_a^{d-1..1})^T, structurally."""
    flow = derive_gradient_flow(Architecture(depths=depths))
    assert isinstance(flow.sigma_x, sp.Identity)
    for a, d, w, rhs in flow.equations():
        ws = flow.weights[a - 1]
        left = list(reversed(ws[d:]))
        right = list(reversed(ws[: d - 1]))
        factors = []
        if left:
            factors.append(sp.Transpose(left[0] if len(left) == 1 else sp.MatMul(*left)))
        factors.append(flow.sigma_yx - flow.omega)
        if right:
            factors.append(sp.Transpose(right[0] if len(right) == 1 else sp.MatMul(*right)))
        template = factors[0] if len(factors) == 1 else sp.MatMul(*factors)
        assert rhs == template, (a, d, rhs, template)
        assert rhs.shape == w.shape


def test_general_inputs_carry_sigma_x():
    flow = derive_gradient_flow(Architecture(depths=(2,), whitened=False))
    assert flow.omega_gradient == flow.omega * flow.sigma_x - flow.sigma_yx
    assert flow.rhs_of(1, 1) == sp.MatMul(sp.Transpose(flow.weight(1, 2)), flow.sigma_yx - flow.omega * flow.sigma_x)


def test_symbolic_and_given_dimensions():
    flow = derive_gradient_flow(Architecture(depths=(3, 1)))
    n_in, n_out = sp.Symbol("n_in", positive=True, integer=True), sp.Symbol("n_out", positive=True, integer=True)
    N11, N12 = (sp.Symbol(f"N_1_{d}", positive=True, integer=True) for d in (1, 2))
    assert [w.shape for w in flow.weights[0]] == [(N11, n_in), (N12, N11), (n_out, N12)]
    assert flow.weights[1][0].shape == (n_out, n_in)
    assert set(flow.dimensions) == {n_in, n_out, N11, N12}
    given = derive_gradient_flow(Architecture(depths=(2,), n_in=8, n_out=15, hidden_widths=4))
    assert [w.shape for w in given.weights[0]] == [(4, 8), (15, 4)]
    assert given.dimensions == ()


def test_deep_flow_is_fast_enough_to_derive_and_expands():
    """Depth 50 by the chain rule (a smoke test, not a timing); Omega expands to the weights."""
    flow = derive_gradient_flow(Architecture(depths=(50, 1)))
    expanded = flow.rhs_of(1, 25, expand=True)
    assert flow.omega not in expanded.free_symbols
    assert flow.weight(2, 1) in expanded.free_symbols


def test_bad_method_and_index():
    with pytest.raises(ConfigError, match="method: unknown derivation 'magic'"):
        derive_gradient_flow((2,), method="magic")
    flow = derive_gradient_flow((2,))
    with pytest.raises(ConfigError, match=r"\(pathway, layer\) = \(1, 3\)"):
        flow.rhs_of(1, 3)


def test_more_pathways_than_listed_paths_still_derive():
    """The graph engine writes pathways over their paths; 300 parallel chains (above the 256 paths a
    general graph lists) are still derived, one path per chain, each layer's flow of its own shape."""
    flow = derive_gradient_flow((2, 1) * 150)
    assert len(flow.rhs) == 300 and all(r.shape == w.shape for _, _, w, r in flow.equations())
