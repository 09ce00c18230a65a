"""LaTeX for papers: grouped align environments, \\prod notation, label prefixes, q_{a alpha} indices."""

import re

import pytest

from pathdyn.cli.main import main
from pathdyn.errors import ConfigError
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.export import derive_equations, equations_to_latex, export_equations
from pathdyn.theory.reduced import reduce_to_modes

from tests.test_export import compile_latex

GOLDEN_GROUPED_2_1 = r"""% pathdyn equations (needs amsmath): 2 pathway(s), depths 2,1, n_in=n_in, n_out=n_out, whitened inputs
% loss, network map and its gradient (sympy)
\begin{align*}
  L &= \tfrac{1}{2} \operatorname{tr}\bigl(\Omega \Omega^{\top}\bigr) - \operatorname{tr}\bigl(\Sigma^{yx} \Omega^{\top}\bigr) \\
  \Omega &= W_{1}^{(2)} W_{1}^{(1)} + W_{2}^{(1)} \\
  \frac{\partial L}{\partial \Omega} &= \Omega - \Sigma^{yx}
\end{align*}
% gradient flow, pathway 1, layers 1-2
\begin{align}
  \tau \frac{d W_{1}^{(1)}}{dt} &= {W_{1}^{(2)}}^{\top} \bigl[\Sigma^{yx} - \Omega\bigr] \label{eq:W-1-1} \\
  \tau \frac{d W_{1}^{(2)}}{dt} &= \bigl[\Sigma^{yx} - \Omega\bigr] {W_{1}^{(1)}}^{\top} \label{eq:W-1-2}
\end{align}
% gradient flow, pathway 2, layer 1
\begin{align}
  \tau \frac{d W_{2}^{(1)}}{dt} &= \Sigma^{yx} - \Omega \label{eq:W-2-1}
\end{align}
% mode strengths
\begin{align*}
  K_{1\alpha} &= p_{1\alpha} q_{1\alpha} \\
  K_{2\alpha} &= p_{2\alpha}
\end{align*}
% reduced equations of one mode
\begin{align}
  \tau \frac{d q_{1\alpha}}{dt} &= p_{1\alpha} \Bigl(S_{\alpha} - K_{1\alpha} - K_{2\alpha}\Bigr) \label{eq:q-1} \\
  \tau \frac{d p_{1\alpha}}{dt} &= q_{1\alpha} \Bigl(S_{\alpha} - K_{1\alpha} - K_{2\alpha}\Bigr) \label{eq:p-1} \\
  \tau \frac{d p_{2\alpha}}{dt} &= S_{\alpha} - K_{1\alpha} - K_{2\alpha} \label{eq:p-2}
\end{align}
% conserved quantities
\begin{align}
  \frac{d}{dt} \bigl(q_{1\alpha}^{2} - p_{1\alpha}^{2}\bigr) &= 0 \label{eq:conserved-1}
\end{align}
"""


def test_grouped_fragment_golden():
    assert equations_to_latex(derive_equations((2, 1)), fragment=True) == GOLDEN_GROUPED_2_1


def _equation_lines(tex):
    """The equation lines of a fragment, without environments, comments and line ends."""
    lines = []
    for line in tex.splitlines():
        line = line.strip().removesuffix(r"\\").strip()
        if line and not line.startswith(("%", r"\begin", r"\end")):
            lines.append(line)
    return lines


@pytest.mark.parametrize("depths", [(2, 1), (25, 2), (3, 4, 1)])
def test_grouping_changes_layout_only(depths):
    """Grouped and one-per-environment output hold the same equation lines, in the same order."""
    equations = derive_equations(depths)
    grouped = equations_to_latex(equations, fragment=True)
    single = equations_to_latex(equations, fragment=True, grouped=False)
    assert _equation_lines(grouped) == _equation_lines(single)
    assert grouped.count(r"\begin{align}") == len(depths) + 1 + (1 if any(d >= 2 for d in depths) else 0)


def _expand_prod(tex):
    """Write every \\prod_{k=i}^{j} W_a^{(k)} out as W_a^{(j)} ... W_a^{(i)}."""
    def expand(match):
        low, high, a = int(match.group(1)), int(match.group(2)), match.group(3)
        return " ".join(f"W_{{{a}}}^{{({k})}}" for k in range(high, low - 1, -1))

    # \prod gets taller parentheses
    expanded = re.sub(r"\\prod_\{k=(\d+)\}\^\{(\d+)\} W_\{(\d+)\}\^\{\(k\)\}", expand, tex)
    return expanded.replace(r"\left(", r"\bigl(").replace(r"\right)", r"\bigr)")


def _joined(tex):
    """Equation text with line breaks removed (the two layouts break long lines differently)."""
    text = " ".join(_equation_lines(tex))
    text = text.replace(r"\notag", "").replace(r"&\quad", "")
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("depths", [(4, 1), (13, 2, 5)])
def test_prod_notation_is_the_same_ordered_product(depths):
    equations = derive_equations(depths)
    plain = equations_to_latex(equations, fragment=True)
    prod = equations_to_latex(equations, fragment=True, prod=True)
    assert r"\prod_{k=1}^{" + str(depths[0]) + r"} W_{1}^{(k)}" in prod  # the network map
    assert r"\prod" not in plain
    # written out again, the \prod form is exactly the explicit product (order included)
    assert _joined(_expand_prod(prod)) == _joined(plain)
    # a wrong order (lowest layer on the left) would not match: the check can fail
    reversed_prod = re.sub(r"\\prod_\{k=(\d+)\}\^\{(\d+)\}", r"\\prod_{k=\2}^{\1}", prod)
    assert _joined(_expand_prod(reversed_prod)) != _joined(plain)


def test_label_prefix_and_indices():
    tex = equations_to_latex(derive_equations((3, 2)), fragment=True, label_prefix="deep")
    labels = re.findall(r"\\label\{([^}]*)\}", tex)
    assert labels and all(label.startswith("eq:deep:") for label in labels)
    assert len(labels) == len(set(labels)) == 5 + 4 + 2
    # every mode variable carries the pathway and the mode index, like K_{a alpha}
    assert not re.search(r"\b[qpK]_\{\d+\}", tex)
    assert r"q_{1\alpha}" in tex and r"p_{2\alpha}" in tex and r"S_{\alpha}" in tex
    with pytest.raises(ConfigError, match="label_prefix: '1x'"):
        equations_to_latex(derive_equations((2,)), label_prefix="1x")
    with pytest.raises(ConfigError, match="prod: a LaTeX option"):
        export_equations((2,), "text", prod=True)


def test_two_architectures_compile_in_one_paper(tmp_path):
    """Prefixed labels let two architectures' fragments share a document without clashes."""
    shallow = export_equations((2, 2), "latex", fragment=True, label_prefix="shallow")
    deep = export_equations(Architecture(depths=(6, 2), whitened=False), "latex", fragment=True, prod=True,
                            label_prefix="deep")
    document = ("\\documentclass{article}\n\\usepackage{amsmath}\n\\allowdisplaybreaks\n\\begin{document}\n" + shallow
                + deep + "See (\\ref{eq:deep:W-1-1}) and (\\ref{eq:shallow:q-1}).\n\\end{document}\n")
    log, numbers = compile_latex(document, tmp_path, name="paper")
    assert "multiply defined" not in log
    assert len(numbers) == (4 + 4 + 2) + (8 + 4 + 2)  # layers, q/p, conserved of each
    assert sorted(int(n) for n in numbers.values()) == list(range(1, len(numbers) + 1))


def test_grouped_prod_document_compiles(tmp_path):
    arch = Architecture(depths=(13, 2, 5), whitened=False)
    log, numbers = compile_latex(export_equations(arch, "latex", prod=True), tmp_path)
    assert "Overfull \\hbox" not in log
    assert numbers["eq:W-1-1"] == "1"


def test_repr_latex_of_equation_objects():
    equations = derive_equations((2, 3))
    mode_tex = equations.modes._repr_latex_()
    assert mode_tex.startswith("$$\\begin{aligned}") and mode_tex.endswith("\\end{aligned}$$")
    assert r"\tau \frac{d q_{2\alpha}}{dt} &= p_{2\alpha} q_{2\alpha} \Bigl(S_{\alpha} - K_{1\alpha} - K_{2\alpha}\Bigr)" in mode_tex
    assert r"K_{2\alpha} &= p_{2\alpha} q_{2\alpha}^{2}" in mode_tex
    full = equations._repr_latex_()
    assert r"\label" not in full and "%" not in full  # MathJax draws it as is
    assert r"\tau \frac{d W_{2}^{(3)}}{dt}" in full and r"\tau \frac{d p_{1\alpha}}{dt}" in full
    flow_tex = equations.gradient_flow._repr_latex_()
    assert r"\tau \frac{d W_{1}^{(1)}}{dt}" in flow_tex and "q_" not in flow_tex
    two_channel = reduce_to_modes((3, 3), model="two-channel")
    assert two_channel._repr_latex_().count(r"\tau \frac{d") == len(two_channel.state)
    # a sum multiplying the mode error keeps its parentheses (without them the equation is wrong)
    race = reduce_to_modes((3, 2), model="race")._repr_latex_()
    assert (r"\tau \frac{d p_{1\alpha}}{dt} &= \left(c_{1\alpha} + p_{1\alpha}^{2}\right) "
            r"\Bigl(S_{\alpha} - K_{1\alpha} - K_{2\alpha}\Bigr)") in race
    layer = reduce_to_modes((3, 1), model="layer")._repr_latex_()
    assert r"s_{1\alpha}^{(2)}" in layer


def test_derive_cli_latex_flags(tmp_path, capsys):
    out = tmp_path / "deep.tex"
    assert main(["derive", "--depths", "5,2", "--format", "latex", "--prod", "--label-prefix", "deep", "-o", str(out)]) == 0
    tex = out.read_text()
    assert r"\prod_{k=1}^{5} W_{1}^{(k)}" in tex and r"\label{eq:deep:W-1-1}" in tex
    assert "ordered, the highest layer on the left" in tex
    assert main(["derive", "--depths", "2,1", "--format", "latex", "--fragment", "--ungrouped"]) == 0
    assert capsys.readouterr().out.count(r"\begin{align") == 3 + 3 + 2 + 3 + 1  # one per equation
    for flag in (["--prod"], ["--ungrouped"], ["--label-prefix", "x"]):
        assert main(["derive", "--depths", "2", "--format", "json", *flag]) == 2
        assert f"{flag[0]}: does nothing here, it applies only with --format latex" in capsys.readouterr().err
