"""The symbolic DMFT site equations and their export (``derive --model dmft``)."""

import json

import sympy as sp

from pathdyn.cli.main import main
from pathdyn.theory.dmft import derive_dmft_equations, dmft_to_latex, dmft_to_text, eta, sigma


def test_site_count_and_kernels():
    eqs = dict(derive_dmft_equations((1, 2, 4)).equations)
    # depth 1: one update; depth 2: 1 site + cross source + K; depth 4: 3 sites + K; plus the error
    assert len(eqs) == 1 + (10 + 2) + (3 * 10 + 1) + 1
    inner = eqs["pathway 3, site 1: forward kernel"].rhs
    t, s = sp.symbols("t s", integer=True, nonnegative=True)
    expected = sigma**2 * sp.Function("Rf_3_0")(t, s) + eta * sp.Function("e")(s) * sp.Function("Cf_3_0")(s, t)
    assert sp.simplify(inner - expected) == 0
    assert eqs["pathway 3, site 2: backward kernel"].rhs == eta * sp.Function("e")(s)
    assert "error" in eqs and str(eqs["error"].rhs) == "S - K_1(t) - K_2(t) - K_3(t)"


def test_text_latex_json_exports(tmp_path, capsys):
    eqs = derive_dmft_equations((3,))
    assert "sigma**2*Rg_1_1(t, s)" in dmft_to_text(eqs)
    latex = dmft_to_latex(eqs, fragment=True)
    assert latex.startswith("\\begin{align*}") and "\\sigma^{2}" in latex
    out = tmp_path / "d.json"
    assert main(["derive", "--model", "dmft", "--depths", "3,2", "--format", "json", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["model"] == "dmft" and data["architecture"]["depths"] == [3, 2]
    assert any(item["label"] == "pathway 2, site 0: cross source" for item in data["equations"])
