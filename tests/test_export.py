"""LaTeX, JSON and text export of the derived equations; the JSON loader."""

import json
import os
import re
import shutil
import subprocess

import pytest
import sympy as sp

from pathdyn.errors import ConfigError
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.export import (
    ROLES,
    derive_equations,
    equations_to_json,
    equations_to_latex,
    equations_to_text,
    export_equations,
    load_equations_json,
)

STR = {"Str": sp.core.symbol.Str}

# ------------------------------------------------------------------------ LaTeX
GOLDEN_FRAGMENT_2_1 = r"""% pathdyn equations (needs amsmath): 2 pathway(s), depths 2,1, n_in=n_in, n_out=n_out, whitened inputs
% loss
\begin{align*}
  L &= \tfrac{1}{2} \operatorname{tr}\bigl(\Omega \Omega^{\top}\bigr) - \operatorname{tr}\bigl(\Sigma^{yx} \Omega^{\top}\bigr)
\end{align*}
% network map
\begin{align*}
  \Omega &= W_{1}^{(2)} W_{1}^{(1)} + W_{2}^{(1)}
\end{align*}
% gradient with respect to Omega (sympy)
\begin{align*}
  \frac{\partial L}{\partial \Omega} &= \Omega - \Sigma^{yx}
\end{align*}
% gradient flow, pathway 1, layer 1
\begin{align}
  \tau \frac{d W_{1}^{(1)}}{dt} &= {W_{1}^{(2)}}^{\top} \bigl[\Sigma^{yx} - \Omega\bigr] \label{eq:W-1-1}
\end{align}
% gradient flow, pathway 1, layer 2
\begin{align}
  \tau \frac{d W_{1}^{(2)}}{dt} &= \bigl[\Sigma^{yx} - \Omega\bigr] {W_{1}^{(1)}}^{\top} \label{eq:W-1-2}
\end{align}
% gradient flow, pathway 2, layer 1
\begin{align}
  \tau \frac{d W_{2}^{(1)}}{dt} &= \Sigma^{yx} - \Omega \label{eq:W-2-1}
\end{align}
% mode strength of pathway 1
\begin{align*}
  K_{1\alpha} &= p_{1\alpha} q_{1\alpha}
\end{align*}
% mode strength of pathway 2
\begin{align*}
  K_{2\alpha} &= p_{2\alpha}
\end{align*}
% reduced equation, pathway 1, q
\begin{align}
  \tau \frac{d q_{1\alpha}}{dt} &= p_{1\alpha} \Bigl(S_{\alpha} - K_{1\alpha} - K_{2\alpha}\Bigr) \label{eq:q-1}
\end{align}
% reduced equation, pathway 1, p
\begin{align}
  \tau \frac{d p_{1\alpha}}{dt} &= q_{1\alpha} \Bigl(S_{\alpha} - K_{1\alpha} - K_{2\alpha}\Bigr) \label{eq:p-1}
\end{align}
% reduced equation, pathway 2, p
\begin{align}
  \tau \frac{d p_{2\alpha}}{dt} &= S_{\alpha} - K_{1\alpha} - K_{2\alpha} \label{eq:p-2}
\end{align}
% conserved quantity, pathway 1
\begin{align}
  \frac{d}{dt} \bigl(q_{1\alpha}^{2} - p_{1\alpha}^{2}\bigr) &= 0 \label{eq:conserved-1}
\end{align}
"""


def test_latex_fragment_golden():
    assert equations_to_latex(derive_equations((2, 1)), fragment=True, grouped=False) == GOLDEN_FRAGMENT_2_1


def test_latex_general_inputs_golden_line():
    tex = equations_to_latex(derive_equations(Architecture(depths=(2,), whitened=False)), fragment=True)
    assert r"\tau \frac{d W_{1}^{(1)}}{dt} &= {W_{1}^{(2)}}^{\top} \bigl[\Sigma^{yx} - \Omega \Sigma^{x}\bigr] \label{eq:W-1-1}" in tex
    assert r"\frac{\partial L}{\partial \Omega} &= \Omega \Sigma^{x} - \Sigma^{yx}" in tex
    assert r"\operatorname{tr}\bigl(\Omega \Sigma^{x} \Omega^{\top}\bigr)" in tex


def test_latex_long_products_are_broken_and_numbered_once():
    depths = (25, 2)
    tex = equations_to_latex(derive_equations(depths), fragment=True, grouped=False)
    block = tex.split("% gradient flow, pathway 1, layer 1\n")[1].split(r"\end{align}")[0]
    lines = block.strip().splitlines()[1:]
    assert len(lines) >= 2  # broken across lines
    assert all(line.endswith(r"\notag \\") for line in lines[:-1])
    assert lines[-1].endswith(r"\label{eq:W-1-1}") and r"\bigl(W_{1}^{(25)} W_{1}^{(24)}" in block
    # one label per layer, per reduced variable and per conserved quantity
    labels = re.findall(r"\\label\{([^}]*)\}", tex)
    assert len(labels) == len(set(labels)) == sum(depths) + 4 + 2


def _latex_available():
    if shutil.which("pdflatex"):
        return True
    if os.environ.get("CI"):
        pytest.fail("pdflatex is missing but CI is set: .ci/run must install texlive-latex-base")
    pytest.skip("pdflatex not installed (CI installs it)")


def compile_latex(tex: str, directory, name="equations"):
    """Compile with pdflatex; return the log and the equation numbers of the labels."""
    _latex_available()
    (directory / f"{name}.tex").write_text(tex)
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
        cwd=directory, capture_output=True, text=True, timeout=120,
    )
    log = (directory / f"{name}.log").read_text(errors="replace")
    assert result.returncode == 0, log[-3000:]
    assert (directory / f"{name}.pdf").stat().st_size > 0
    numbers = dict(re.findall(r"\\newlabel\{([^}]*)\}\{\{(\d+)\}", (directory / f"{name}.aux").read_text()))
    return log, numbers


ARCHITECTURES = {
    "paper": Architecture(depths=(2, 2)),
    "depth13-5pathways-general": Architecture(depths=(13, 2, 5, 3, 1), whitened=False),
    "numeric-dims": Architecture(depths=(3, 2), n_in=8, n_out=15, hidden_widths=4, whitened=False),
    "single-depth1": Architecture(depths=(1,)),
}


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_latex_document_compiles(name, tmp_path):
    arch = ARCHITECTURES[name]
    equations = derive_equations(arch)
    log, numbers = compile_latex(export_equations(equations, "latex"), tmp_path)
    assert "Overfull \\hbox" not in log, "a line is wider than the page: lower LINE_BUDGET in pathdyn.theory.document"
    expected = sum(arch.depths) + len(equations.modes.state) + len(equations.modes.invariants)
    assert sorted(int(n) for n in numbers.values()) == list(range(1, expected + 1))
    assert numbers["eq:W-1-1"] == "1"


def test_latex_fragment_compiles_inside_a_document(tmp_path):
    fragment = export_equations(Architecture(depths=(4, 1, 2)), "latex", fragment=True)
    assert r"\documentclass" not in fragment and r"\begin{document}" not in fragment
    document = "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + fragment + "\\end{document}\n"
    compile_latex(document, tmp_path, name="fragment")


@pytest.mark.slow
def test_latex_depth_50_eight_pathways_compiles(tmp_path):
    log, numbers = compile_latex(export_equations(Architecture(depths=(50,) * 8, whitened=False), "latex"), tmp_path)
    assert "Overfull \\hbox" not in log
    assert len(numbers) == 400 + 16 + 8


# ------------------------------------------------------------------------- JSON
def _shape_ok(shape):
    return shape is None or (
        isinstance(shape, list) and len(shape) == 2 and all(isinstance(n, (int, str)) and not isinstance(n, bool) for n in shape)
    )


@pytest.mark.parametrize("arch", [
    Architecture(depths=(2, 3, 1)),
    Architecture(depths=(1, 4), n_in=8, n_out=15, hidden_widths=[[], [3, 5, 2]], whitened=False),
])
def test_json_schema(arch):
    equations = derive_equations(arch)
    data = json.loads(equations_to_json(equations))
    assert data["format"] == "pathdyn-equations" and data["version"] == 1
    assert Architecture.from_dict(data["architecture"]).to_dict() == arch.to_dict()
    for key in ("symbols", "gradient_flow", "modes", "conserved"):
        assert isinstance(data[key], list) and data[key]
    names = [s["name"] for s in data["symbols"]]
    assert len(names) == len(set(names))
    for entry in data["symbols"]:
        assert set(entry) == {"name", "role", "pathway", "layer", "shape"}
        assert entry["role"] in ROLES
        for key in ("pathway", "layer"):
            assert entry[key] is None or (isinstance(entry[key], int) and entry[key] >= 1)
        assert _shape_ok(entry["shape"])
        assert (entry["shape"] is None) == (entry["role"] in ("S", "lambda", "q", "p", "dimension"))
    weights = [(s["pathway"], s["layer"]) for s in data["symbols"] if s["role"] == "weight"]
    expected = [(a, d) for a, depth in enumerate(arch.depths, start=1) for d in range(1, depth + 1)]
    assert weights == expected
    assert [(e["pathway"], e["layer"]) for e in data["gradient_flow"]] == expected
    assert ("Sigma_x" in names) == (not arch.whitened)
    flow = equations.gradient_flow
    for entry in data["symbols"]:
        if entry["role"] == "weight":
            w = flow.weight(entry["pathway"], entry["layer"])
            assert entry["shape"] == [int(n) if n.is_Integer else str(n) for n in w.shape]
    mode_vars = [(e["pathway"], e["variable"]) for e in data["modes"]]
    expected_modes = [(a, v) for a, d in enumerate(arch.depths, start=1) for v in (("q", "p") if d >= 2 else ("p",))]
    assert mode_vars == expected_modes
    assert [e["pathway"] for e in data["conserved"]] == [a for a, d in enumerate(arch.depths, start=1) if d >= 2]
    # every expression rebuilds with plain sympy, and uses only declared symbols
    declared = set(names)
    for entry in data["gradient_flow"] + data["modes"]:
        expr = sp.sympify(entry["rhs"], locals=STR)
        used = {a.name for a in expr.atoms(sp.MatrixSymbol)} | {s.name for s in expr.atoms(sp.Symbol)}
        assert used <= declared, used - declared
    for entry in data["conserved"]:
        assert sp.sympify(entry["expr"], locals=STR).free_symbols


def test_plain_sympify_needs_str():
    """The reason for locals={"Str": Str}: without it sympify misreads a MatrixSymbol."""
    text = json.loads(equations_to_json(derive_equations((2,))))["gradient_flow"][0]["rhs"]
    right = sp.sympify(text, locals=STR)
    assert sp.sympify(text) != right
    assert right == derive_equations((2,)).gradient_flow.rhs_of(1, 1)


@pytest.mark.parametrize("arch", [
    Architecture(depths=(2, 3, 1), whitened=False),
    Architecture(depths=(5, 2), n_in=3, n_out=4, hidden_widths=2),
])
def test_json_round_trip(arch, tmp_path):
    equations = derive_equations(arch)
    text = equations_to_json(equations)
    path = tmp_path / "eqs.json"
    path.write_text(text)
    for source in (text, path, str(path)):
        loaded = load_equations_json(source)
        assert loaded.architecture.to_dict() == arch.to_dict()
        flow = equations.gradient_flow
        for a, d, w, rhs in flow.equations():
            assert loaded.gradient_flow[(a, d)] == rhs
            assert loaded.rhs_of(a, d, expand=True) == flow.rhs_of(a, d, expand=True)
            assert loaded.symbols[w.name] == w
        assert loaded.definitions["Omega"] == flow.omega_definition
        modes = equations.modes
        for x, f, a in zip(modes.state, modes.rhs, modes.state_pathway):
            assert loaded.modes[(a, str(x)[0])] == f
        assert [e for _, e in loaded.conserved] == [inv.expr for inv in modes.invariants]
        assert [loaded.strengths[a] for a in range(1, len(arch.depths) + 1)] == list(modes.strengths)
    # the safe loader builds exactly what plain sympify builds
    data = json.loads(text)
    for entry in data["gradient_flow"]:
        assert loaded.gradient_flow[(entry["pathway"], entry["layer"])] == sp.sympify(entry["rhs"], locals=STR)


def test_cached_srepr_is_sympys():
    flow = derive_equations(Architecture(depths=(3, 1), whitened=False)).gradient_flow
    data = json.loads(equations_to_json(derive_equations(Architecture(depths=(3, 1), whitened=False))))
    for entry, (_, _, _, rhs) in zip(data["gradient_flow"], flow.equations()):
        assert entry["rhs"] == sp.srepr(rhs)


def test_loader_errors(tmp_path):
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_equations_json("{not json")
    with pytest.raises(ConfigError, match="not a pathdyn equations export"):
        load_equations_json('{"format": "other"}')
    for not_an_object in ("42", "null", "[1, 2]"):
        path = tmp_path / "not-an-object.json"
        path.write_text(not_an_object)
        with pytest.raises(ConfigError, match="not a pathdyn equations export"):
            load_equations_json(path)
    with pytest.raises(ConfigError, match="not found"):
        load_equations_json(tmp_path / "missing.json")
    data = json.loads(equations_to_json(derive_equations((2,))))
    broken = json.loads(json.dumps(data))
    del broken["modes"][0]["variable"]
    with pytest.raises(ConfigError, match="malformed entry"):
        load_equations_json(json.dumps(broken))
    data["gradient_flow"][0]["rhs"] = "MatMul(("
    with pytest.raises(ConfigError, match=r"gradient_flow\[1,1\] is not a valid sympy srepr"):
        load_equations_json(json.dumps(data))


# ------------------------------------------------------------------------- text
def test_text_export():
    text = equations_to_text(derive_equations(Architecture(depths=(3, 1), whitened=False)))
    assert "Omega = W_1_3*W_1_2*W_1_1 + W_2_1" in text
    assert "dW_1_2/dt = W_1_3.T*(Sigma_yx - Omega*Sigma_x)*W_1_1.T" in text
    assert "dW_1_1/dt = (W_1_3*W_1_2).T*(Sigma_yx - Omega*Sigma_x)" in text
    # general inputs: the reduced equations carry the input variance (aligned case)
    assert "dq_1/dt = p_1*q_1*(S - lambda*(p_1*q_1**2 + p_2))" in text
    assert "learning ends at sum_a K_a = S/lambda" in text
    assert "d/dt (q_1**2 - p_1**2) = 0" in text
    whitened = equations_to_text(derive_equations(Architecture(depths=(3, 1))))
    assert "dq_1/dt = p_1*q_1*(S - p_1*q_1**2 - p_2)" in whitened and "lambda" not in whitened


def test_export_rejects_bad_options():
    with pytest.raises(ConfigError, match="format: unknown format 'pdf'"):
        export_equations((2,), "pdf")
    with pytest.raises(ConfigError, match="fragment: only LaTeX"):
        export_equations((2,), "json", fragment=True)


@pytest.mark.parametrize("model", ["layer", "two-channel", "race"])
def test_the_text_heading_names_the_model_exported(model, capsys):
    """`derive --model M` heads the reduced equations with M's own name, never "q/p"."""
    from pathdyn.cli.main import main as cli_main
    from pathdyn.theory.models import get_model

    assert cli_main(["derive", "--depths", "2,2", "--model", model, "--format", "text"]) == 0
    heading = next(line for line in capsys.readouterr().out.splitlines() if "of one mode" in line)
    assert get_model(model).equations_name in heading and "q/p" not in heading
