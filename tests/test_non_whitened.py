"""Aligned non-whitened inputs: derivation, exports, integration, alignment, comparison, width sweep.

The theory: with ``Sigma_x = V Lambda V^T`` sharing ``V`` with ``Sigma_yx = U S V^T``, each mode's
reduced loss is ``lambda K^2 / 2 - S K`` (``K = sum_a K_a``), its error ``S - lambda K`` and the
network learns ``K = S / lambda``. Every check here can fail: each accuracy test also runs the
whitened (wrong) theory and shows that it misses.
"""

import json

import numpy as np
import pytest
import sympy as sp

from pathdyn.cli.main import main
from pathdyn.errors import ConfigError, DatasetError
from pathdyn.numerics.alignment import MISALIGNMENT_THRESHOLD, input_alignment
from pathdyn.numerics.datasets import Dataset, random_dataset
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.modes import input_variance_symbol, mode_symbols
from pathdyn.theory.reduced import is_identically_zero, reduce_to_modes

LAM = input_variance_symbol()
S = mode_symbols()
MODELS = ("layer", "qp", "race", "two-channel")


def general(depths):
    return Architecture(depths=tuple(depths), whitened=False)


# ------------------------------------------------------------------- derivation
@pytest.mark.parametrize("model", MODELS)
def test_general_equations_carry_lambda_and_reduce_to_whitened_at_lambda_1(model):
    depths = (2, 3, 1)
    whitened = reduce_to_modes(depths, model)
    aligned = reduce_to_modes(general(depths), model)
    assert aligned.parameters[:2] == (S, LAM) and LAM not in whitened.parameters
    assert aligned.input_variance == LAM and whitened.input_variance is None
    assert aligned.state == whitened.state
    assert all(f.has(LAM) for f in aligned.rhs)
    for f_general, f_whitened in zip(aligned.rhs, whitened.rhs):
        assert sp.simplify(f_general.xreplace({LAM: 1}) - f_whitened) == 0
    assert sp.expand(aligned.error - (S - LAM * sp.Add(*aligned.strengths))) == 0
    # a wrong variant (lambda dropped from the error) is told apart by the same check
    assert sp.simplify(aligned.rhs[0].xreplace({LAM: 2}) - whitened.rhs[0]) != 0


@pytest.mark.parametrize("model", ("layer", "two-channel"))
def test_general_flow_is_minus_the_gradient_of_the_reduced_loss(model):
    """Checked against sympy differentiating ``lambda K^2 / 2 - S K`` in the state directly."""
    eqs = reduce_to_modes(general((2, 3)), model)
    total = sp.Add(*eqs.strengths)
    loss = LAM * total**2 / 2 - S * total
    for x, f in zip(eqs.state, eqs.rhs):
        assert is_identically_zero(sp.expand(f + sp.diff(loss, x)))
    # the loss the equations report is that loss plus the constant S^2 / (2 lambda)
    assert sp.simplify(eqs.loss - loss - S**2 / (2 * LAM)) == 0


def test_general_fixed_point_is_S_over_lambda_and_invariants_survive():
    eqs = reduce_to_modes(general((2, 3)), "qp")
    K = sp.Symbol("K")
    for f in eqs.rhs:  # every right-hand side vanishes when the total strength is S / lambda
        assert sp.simplify(f.xreplace({eqs.error: S - LAM * K}).subs(K, S / LAM)) == 0
    names = sorted(sp.sstr(inv.expr) for inv in eqs.invariants)
    assert names == ["-p_1**2 + q_1**2", "-p_2**2 + q_2**2"]


def test_two_channel_relation_holds_for_general_inputs():
    from pathdyn.theory.two_channel import relate_to_qp

    relation = relate_to_qp(general((2, 3)))
    assert relation.aligned_set_invariant and relation.reproduces_layer_model and relation.reproduces_qp_model


# ----------------------------------------------------------------------- export
def test_exports_of_general_inputs_show_the_lambda_equations():
    from pathdyn.theory.export import derive_equations, equations_to_json, equations_to_latex, equations_to_text, load_equations_json

    derived = derive_equations(general((2, 1)))
    text = equations_to_text(derived)
    assert "dq_1/dt = p_1*(S - lambda*(p_1*q_1 + p_2))" in text
    assert "learning ends at sum_a K_a = S/lambda" in text
    latex = equations_to_latex(derived)
    assert r"p_{1\alpha} \Bigl(S_{\alpha} - \lambda_{\alpha} \bigl(K_{1\alpha} + K_{2\alpha}\bigr)\Bigr)" in latex
    assert r"K_{\alpha} = S_{\alpha} / \lambda_{\alpha}" in latex
    data = json.loads(equations_to_json(derived))
    assert {"name": "lambda", "role": "lambda", "pathway": None, "layer": None, "shape": None} in data["symbols"]
    loaded = load_equations_json(equations_to_json(derived))
    rebuilt = loaded.modes[(1, "q")]
    assert rebuilt.has(LAM) and sp.simplify(rebuilt - derived.modes.rhs_of("q_1")) == 0
    whitened = equations_to_text(derive_equations((2, 1)))
    assert "lambda" not in whitened


def test_cli_derive_general_prints_lambda_equations(capsys):
    assert main(["derive", "--depths", "2,2", "--general"]) == 0
    out = capsys.readouterr().out
    assert "dp_1/dt = q_1*(S - lambda*(p_1*q_1 + p_2*q_2))" in out


# -------------------------------------------------------------------- integrate
def test_integrated_general_equations_end_at_the_race_oracle_of_S_over_lambda():
    """The race oracle with S / lambda predicts each pathway's final share."""
    from pathdyn.numerics.integrate import integrate
    from pathdyn.numerics.race import race_final_strengths

    depths = (2, 3)
    S_values, lam = np.array([2.0, 1.0, 0.6]), np.array([0.5, 2.0, 1.3])
    q0 = np.array([[1.0, 1.1, 0.9], [1.05, 0.95, 1.0]])
    p0 = np.array([[0.1, -0.05, 0.08], [0.02, 0.07, -0.03]])
    from pathdyn.numerics.initial import qp_initial_state

    eqs = reduce_to_modes(general(depths), "qp")
    trajectory = integrate(eqs, qp_initial_state(eqs, q0, p0), S_values, 60.0, parameters={"lambda": lam})
    oracle = race_final_strengths(depths, q0, p0, S_values / lam)
    np.testing.assert_allclose(trajectory.K[-1], oracle, rtol=1e-6, atol=1e-8)
    assert trajectory.loss[-1] < 1e-12 and trajectory.provenance["input_variances"] == lam.tolist()
    # the whitened oracle (S instead of S / lambda) is far off
    assert np.max(np.abs(race_final_strengths(depths, q0, p0, S_values) - trajectory.K[-1])) > 0.5


def test_cli_integrate_uses_input_variances(tmp_path):
    out = tmp_path / "g.json"
    assert main(["integrate", "--depths", "2,3", "--singular-values", "2,1", "--input-variances", "0.5,2",
                 "--t-max", "40", "-o", str(out)]) == 0
    payload = json.loads(out.read_text())
    np.testing.assert_allclose(np.sum(payload["K"][-1], axis=0), [4.0, 0.5], rtol=1e-6)
    assert payload["input_variances"] == [0.5, 2.0] and payload["provenance"]["architecture"]["whitened"] is False
    whitened = tmp_path / "w.json"
    assert main(["integrate", "--depths", "2,3", "--singular-values", "2,1", "--t-max", "40", "-o", str(whitened)]) == 0
    assert not np.allclose(json.loads(whitened.read_text())["K"][-1], payload["K"][-1], atol=0.1)


def test_cli_integrate_hierarchical_raw_learns_Y(tmp_path):
    """X = I_8: Sigma_x = I / 8, so the network learns Omega = Y (singular values sqrt 15, sqrt 7, ...)."""
    out = tmp_path / "h.json"
    assert main(["integrate", "--depths", "2,2", "--dataset", "hierarchical-raw", "--t-max", "400", "-o", str(out)]) == 0
    final = np.sum(json.loads(out.read_text())["K"][-1], axis=0)
    np.testing.assert_allclose(final, np.sqrt([15, 7, 3, 3, 1, 1, 1, 1]), rtol=1e-5)


@pytest.mark.parametrize("argv, message", [
    (["--singular-values", "2,1", "--general"], "--general: the reduced equations need each mode's input variance"),
    (["--singular-values", "2,1", "--input-variances", "1"], "--input-variances: 1 values for 2 singular values"),
    (["--singular-values", "2,1", "--input-variances", "1,-2"], "--input-variances: must be positive"),
    (["--singular-values", "2,1", "--input-variances", "1,2", "--whitened"], "--whitened: the inputs have variances"),
    (["--dataset", "hierarchical", "--input-variances", "1,2"], "--input-variances: goes with --singular-values"),
])
def test_cli_integrate_input_errors(argv, message, tmp_path, capsys):
    out = tmp_path / "o.json"
    assert main(["integrate", "--depths", "2,2", *argv, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and not out.exists()


def misaligned_dataset(rho=0.3, n=3):
    """Whitened targets on modes 1, 2 of a basis whose inputs correlate ``rho`` between modes 1 and 2."""
    sigma = np.eye(n)
    sigma[0, 1] = sigma[1, 0] = rho
    root = np.linalg.cholesky(sigma)
    X = np.sqrt(n) * root
    # Sigma_yx = diag(2, 1, 0.5) in the standard basis: Y = n Sigma_yx X^{-T}
    Y = n * np.diag([2.0, 1.0, 0.5]) @ np.linalg.inv(X).T
    return Dataset(X=X, Y=Y, name=f"misaligned(rho={rho})")


def test_cli_integrate_refuses_misaligned_dataset_unless_allowed(tmp_path, capsys):
    path = tmp_path / "mis.npz"
    data = misaligned_dataset()
    np.savez(path, X=data.X, Y=data.Y)
    out = tmp_path / "o.json"
    assert main(["integrate", "--depths", "2,2", "--dataset", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "misalignment 0.3" in err and f"threshold {MISALIGNMENT_THRESHOLD:g}" in err and "\n" not in err
    assert not out.exists()
    with pytest.warns(UserWarning, match="misaligned"):
        assert main(["integrate", "--depths", "2,2", "--dataset", str(path), "--allow-misaligned", "-o", str(out)]) == 0
    assert "misaligned" in json.loads(out.read_text())["provenance"]["warnings"][0]


# -------------------------------------------------------------------- alignment
def test_misalignment_is_zero_for_whitened_and_aligned_data_and_measures_correlation():
    assert input_alignment(random_dataset([2.0, 1.0, 0.5], seed=1)).misalignment < 1e-12
    aligned = input_alignment(random_dataset([2.0, 1.0, 0.5], n_in=5, input_variances=[0.5, 3.0, 1.5], seed=1))
    assert aligned.misalignment < 1e-12
    np.testing.assert_allclose(aligned.input_variances, [0.5, 3.0, 1.5], rtol=1e-12)
    for rho in (0.02, 0.3, 0.8):  # the correlation coefficient between the inputs along modes 1 and 2
        measured = input_alignment(misaligned_dataset(rho))
        assert measured.misalignment == pytest.approx(rho, rel=1e-9) and measured.worst == "modes 1 and 2"
    assert input_alignment(misaligned_dataset(0.02)).aligned and not input_alignment(misaligned_dataset(0.3)).aligned


def test_misalignment_sees_coupling_to_inputs_outside_the_modes():
    n = 3
    sigma = np.eye(n)
    sigma[0, 2] = sigma[2, 0] = 0.4  # mode 1 couples to input direction 3, which carries no mode
    X = np.sqrt(n) * np.linalg.cholesky(sigma)
    Y = n * np.diag([2.0, 1.0]) @ np.eye(2, n) @ np.linalg.inv(X).T
    measured = input_alignment(Dataset(X=X, Y=Y))
    assert measured.misalignment == pytest.approx(0.4, rel=1e-9)
    assert measured.worst == "mode 1 and the inputs outside the modes"


# ------------------------------------------------------------------ comparison
ALIGNED = dict(singular_values=[2.0, 1.4, 0.9, 0.5], input_variances=[0.6, 1.8, 1.2, 0.8])


def aligned_dataset():
    return random_dataset(ALIGNED["singular_values"], input_variances=ALIGNED["input_variances"], seed=0)


def test_compare_refuses_the_whitened_theory_and_misaligned_data():
    from pathdyn.numerics.integrate import integrate
    from pathdyn.validation.compare import compare
    from pathdyn.validation.mapping import map_initial_state
    from pathdyn.validation.network import initialize_weights, simulate_gd

    data = aligned_dataset()
    U, S_values, Vt = data.modes()
    weights = initialize_weights((2,), data.n_in, data.n_out, 64, seed=0)
    gd = simulate_gd((2,), data, 64, weights=weights, learning_rate=0.01, steps=200, record_every=20)
    y0 = map_initial_state(weights, U, Vt.T).state_array(reduce_to_modes((2,), "qp"))
    whitened = integrate(reduce_to_modes((2,), "qp"), y0, S_values, 2.0, t_eval=gd.t)
    with pytest.raises(ConfigError, match=r"integrated with input variances \[1.0, 1.0, 1.0, 1.0\]"):
        compare(gd, whitened)
    lam = gd.extras["input_variances"]
    right = integrate(reduce_to_modes(general((2,)), "qp"), y0, S_values, 2.0, t_eval=gd.t, parameters={"lambda": lam})
    result = compare(gd, right)
    assert result.scale == pytest.approx(np.max(S_values / lam)) and result.warning == ""

    mis = misaligned_dataset(0.3)
    gd_mis = simulate_gd((2,), mis, 32, learning_rate=0.01, steps=10, record_every=5)
    theory = integrate(reduce_to_modes(general((2,)), "qp"), np.ones((2, 3)) * 0.1, mis.singular_values[:3], 0.1,
                       t_eval=gd_mis.t, parameters={"lambda": gd_mis.extras["input_variances"]})
    with pytest.raises(ConfigError, match=r"per-mode comparison refused: inputs misaligned with the modes \(misalignment 0.3"):
        compare(gd_mis, theory)
    with pytest.warns(UserWarning, match="misaligned"):
        assert "misaligned" in compare(gd_mis, theory, allow_misaligned=True).warning


# ------------------------------------------------------------------ width sweep
def whitened_theory_errors(report, data, widths, seeds):
    """The error of the whitened (wrong) q/p theory against the same networks, computed directly."""
    from pathdyn.numerics.integrate import integrate
    from pathdyn.validation.mapping import map_initial_state
    from pathdyn.validation.network import initialize_weights, simulate_gd

    U, S_values, Vt = data.modes()
    scale = np.max(S_values / np.asarray(report.input_variances))
    eqs = reduce_to_modes(report.depths, "qp")
    errors = np.zeros((len(widths), len(seeds)))
    steps = report.steps
    for i, width in enumerate(widths):
        for j, seed in enumerate(seeds):
            weights = initialize_weights(report.depths, data.n_in, data.n_out, width, init_scale=report.init_scale, seed=seed)
            gd = simulate_gd(report.depths, data, width, weights=weights, learning_rate=report.learning_rate, steps=steps,
                             record_every=max(1, steps // 60))
            y0 = map_initial_state(weights, U, Vt.T).state_array(eqs)
            theory = integrate(eqs, y0, S_values, float(gd.t[-1]), t_eval=gd.t)
            errors[i, j] = np.max(np.abs(gd.K - theory.K)) / scale
    return errors


def test_aligned_non_whitened_network_converges_to_the_lambda_theory_with_width():
    from pathdyn.validation.sweep.width import validate_width

    data = aligned_dataset()
    widths, seeds = (32, 128, 512), (0, 1)
    report = validate_width((2, 2), widths, seeds=seeds, dataset=data, learning_rate=0.005, t_max=12.0, record_points=60)
    np.testing.assert_allclose(report.input_variances, ALIGNED["input_variances"], rtol=1e-10)
    assert report.slope < 0 and report.slope_ci[1] < 0, report.verdict
    assert report.median_errors[-1] < 0.003, report.verdict  # at the O(eta) floor (about 0.001)
    final = report.final_K_gd[-1].sum(axis=1)  # (seeds, modes): learned S / lambda, not S
    np.testing.assert_allclose(final, np.broadcast_to(np.divide(*ALIGNED.values()), final.shape), rtol=2e-3)
    # the whitened theory (the wrong one) fails the same test: measured 0.23 at width 32 and 0.20 at
    # 512 (each pathway learns S / (2 lambda), not S / 2), against 0.001 for the lambda theory
    wrong = whitened_theory_errors(report, data, (widths[0], widths[-1]), (0,))
    assert wrong.min() > 0.15 and wrong[-1, 0] > 50 * report.median_errors[-1]


@pytest.mark.slow
def test_aligned_non_whitened_convergence_large():
    from pathdyn.validation.sweep.width import validate_width

    report = validate_width((2, 2), (64, 256, 1024, 4096), seeds=(0, 1, 2), dataset=aligned_dataset(),
                            learning_rate=0.002, t_max=12.0)
    assert report.slope_ci[1] < -0.2 and report.median_errors[-1] < 0.002, report.verdict


def test_validate_width_refuses_misaligned_data_in_one_line_unless_allowed():
    from pathdyn.validation.sweep.width import validate_width

    with pytest.raises(DatasetError, match=r"misalignment 0.3 \(modes 1 and 2\), threshold 0.05") as caught:
        validate_width((2,), (16,), seeds=(0,), dataset=misaligned_dataset(0.3), t_max=0.1, measure_lr_floor=False)
    assert "\n" not in str(caught.value)
    report = validate_width((2,), (16,), seeds=(0,), dataset=misaligned_dataset(0.3), t_max=0.1,
                            measure_lr_floor=False, allow_misaligned=True)
    assert report.misalignment == pytest.approx(0.3) and "misaligned" in report.warnings[0]
    assert "misaligned" in report.to_json_dict()["warnings"][0]


def test_cli_validate_refuses_misaligned_dataset(tmp_path, capsys):
    path = tmp_path / "mis.npz"
    data = misaligned_dataset(0.3)
    np.savez(path, X=data.X, Y=data.Y)
    out = tmp_path / "r.json"
    assert main(["validate", "--depths", "2", "--widths", "16", "--seeds", "0", "--t-max", "0.1",
                 "--dataset", str(path), "-o", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "misalignment 0.3" in err and "--allow-misaligned" in err and "\n" not in err and not out.exists()
