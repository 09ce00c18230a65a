"""The printer classes of the exports: each prints directly, and every export goes through them.

The byte-for-byte lock of the exports themselves is ``tests/test_golden.py`` (JSON) and
the stored fragments of ``tests/test_export.py`` / ``tests/test_latex_options.py``. Here a
deliberately broken ``_print_<Class>`` method must change the export it belongs to: that
shows each export really prints through the class (a parallel copy would not notice).
"""

from dataclasses import replace
from pathlib import Path

import pytest
import sympy as sp
from sympy.printing.str import StrPrinter

from pathdyn.errors import DerivationError
from pathdyn.theory import export as export_module
from pathdyn.theory.document import EquationKind, Group
from pathdyn.theory.dmft import export_dmft
from pathdyn.theory.export import derive_equations, equations_to_latex, export_equations
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.graph_export import export_graph_equations
from pathdyn.theory.printers import (
    PathdynLatexPrinter,
    PathdynLatexTokenPrinter,
    PathdynReprPrinter,
    PathdynTextPrinter,
)

W2, W1 = sp.MatrixSymbol("W_1_2", 3, 3), sp.MatrixSymbol("W_1_1", 3, 3)
SIGMA, OMEGA = sp.MatrixSymbol("Sigma_yx", 3, 3), sp.MatrixSymbol("Omega", 3, 3)
# tau dW_1^(1)/dt of a depth-3 pathway, with the transpose of a product left unevaluated
FLOW = sp.MatMul(sp.Transpose(sp.MatMul(W2, W1)), SIGMA - OMEGA)
GRAPH = Path(__file__).resolve().parents[1] / "examples" / "shared_trunk.toml"


def test_text_printer_prints_matrix_expressions():
    printer = PathdynTextPrinter()
    assert printer.doprint(FLOW) == "(W_1_2*W_1_1).T*(Sigma_yx - Omega)"
    assert printer.doprint(-2 * OMEGA + SIGMA + sp.Identity(3)) == "I + Sigma_yx - 2*Omega"
    assert printer.doprint(sp.Transpose(W2)) == "W_1_2.T"
    # sympy's own form puts the negative term first: the printer is not sympy's str
    assert str(SIGMA - OMEGA) == "-Omega + Sigma_yx"
    q, p = sp.symbols("q_1 p_1")
    assert PathdynTextPrinter({"order": "rev-lex"}).doprint(q**2 - p**2) == sp.sstr(q**2 - p**2, order="rev-lex")


def test_text_printer_never_asks_sympy_for_the_sign_of_a_product(monkeypatch):
    """sympy's MatMul printer builds the product's negation (slow for deep products); ours reads the coefficient."""
    def refuse(self, expr):
        raise AssertionError("sympy's _print_MatMul was called")

    monkeypatch.setattr(StrPrinter, "_print_MatMul", refuse)
    assert PathdynTextPrinter().doprint(-FLOW) == "-W_1_1.T*W_1_2.T*(Sigma_yx - Omega)"
    assert "dW_1_1/dt" in export_equations((3,), "text")
    with pytest.raises(AssertionError, match="_print_MatMul"):  # the guard itself bites
        StrPrinter().doprint(-FLOW)


def test_latex_printer_prints_scalars_and_matrices_in_the_paper_notation():
    q, p, S = sp.symbols("q_1 p_1 S")
    assert PathdynLatexPrinter().doprint(p * q * (S - p * q)) == (
        r"p_{1\alpha} q_{1\alpha} \left(S_{\alpha} - p_{1\alpha} q_{1\alpha}\right)")
    assert PathdynLatexPrinter({"mode_indices": False}).doprint(S - p) == sp.latex(S - p)
    assert PathdynLatexPrinter().doprint(FLOW) == (
        r"\bigl(W_{1}^{(2)} W_{1}^{(1)}\bigr)^{\top} \bigl[\Sigma^{yx} - \Omega\bigr]")
    names = {W1: r"W_{\mathrm{h}\leftarrow\mathrm{x}}"}
    assert PathdynLatexPrinter({"symbol_names": names}).doprint(sp.Transpose(W1)) == (
        r"{W_{\mathrm{h}\leftarrow\mathrm{x}}}^{\top}")


def test_latex_token_printer_gives_breakable_tokens():
    assert PathdynLatexTokenPrinter().doprint(FLOW) == [
        r"\bigl(W_{1}^{(2)}", r"W_{1}^{(1)}\bigr)^{\top}", r"\bigl[\Sigma^{yx} - \Omega\bigr]"]
    chain = sp.MatMul(*[sp.MatrixSymbol(f"W_2_{d}", 3, 3) for d in (4, 3, 2, 1)])
    assert PathdynLatexTokenPrinter({"prod": True}).doprint(sp.Transpose(chain)) == [
        r"\left(\prod_{k=1}^{4} W_{2}^{(k)}\right)^{\top}"]
    assert PathdynLatexTokenPrinter().doprint(sp.Symbol("q_2")) == [r"q_{2\alpha}"]
    with pytest.raises(DerivationError, match="MatPow"):
        PathdynLatexTokenPrinter().doprint(W1**2)


def test_repr_printer_is_sympys_srepr():
    expr = FLOW + sp.Symbol("lambda") * SIGMA
    printer = PathdynReprPrinter()
    assert printer.doprint(expr) == sp.srepr(expr)
    assert printer.doprint(expr) == sp.srepr(expr)  # the memoised second call too


def _transpose_marker(monkeypatch, cls, marker):
    original = cls._print_Transpose

    def broken(self, expr):
        out = original(self, expr)
        return out + [marker] if isinstance(out, list) else out + marker

    monkeypatch.setattr(cls, "_print_Transpose", broken)


@pytest.mark.parametrize("source", ["pathways", "graph"])
def test_a_broken_text_method_changes_the_text_export(monkeypatch, source):
    def export():
        if source == "graph":
            return export_graph_equations(GraphArchitecture.from_toml(GRAPH), "text")
        return export_equations((2, 3), "text")

    before = export()
    _transpose_marker(monkeypatch, PathdynTextPrinter, "<BROKEN>")
    after = export()
    assert "<BROKEN>" not in before and "<BROKEN>" in after


@pytest.mark.parametrize("source", ["pathways", "graph"])
def test_a_broken_latex_method_changes_the_latex_export(monkeypatch, source):
    def export():
        if source == "graph":
            return export_graph_equations(GraphArchitecture.from_toml(GRAPH), "latex")
        return export_equations((2, 3), "latex", prod=True)

    before = export()
    _transpose_marker(monkeypatch, PathdynLatexTokenPrinter, r"\BROKEN")
    after = export()
    assert r"\BROKEN" not in before and r"\BROKEN" in after


def test_a_broken_scalar_method_changes_every_format(monkeypatch):
    """The scalar parts (reduced equations, DMFT sites, srepr) go through the same classes."""
    exports = {
        "text": lambda: export_equations((2, 3), "text"),
        "latex": lambda: export_equations((2, 3), "latex"),
        "json": lambda: export_equations((2, 3), "json"),
        "dmft text": lambda: export_dmft((3,), "text"),
        "dmft latex": lambda: export_dmft((3,), "latex"),
        "dmft json": lambda: export_dmft((3,), "json"),
        "graph json": lambda: export_graph_equations(GraphArchitecture.from_toml(GRAPH), "json"),
    }
    before = {name: export() for name, export in exports.items()}
    for cls in (PathdynTextPrinter, PathdynLatexPrinter, PathdynReprPrinter):
        original = cls._print_Symbol
        monkeypatch.setattr(cls, "_print_Symbol", lambda self, expr, *a, _f=original, **k: "ZZ" + _f(self, expr, *a, **k))
    for name, export in exports.items():
        after = export()
        assert after != before[name] and "ZZ" in after, name


def test_the_document_selects_groups_by_kind_not_by_comment(monkeypatch):
    """Renaming every group's comment changes only the comment lines, never where a group goes."""
    equations = derive_equations((2, 3))
    original = export_module._equation_groups
    before = equations_to_latex(equations, grouped=False)

    def renamed(*args, **kwargs):
        return [Group(f"group {i}", g.kind, tuple(replace(e, note=f"equation {i}.{j}") for j, e in enumerate(g.equations)),
                      g.align_like) for i, g in enumerate(original(*args, **kwargs))]

    monkeypatch.setattr(export_module, "_equation_groups", renamed)
    after = equations_to_latex(equations, grouped=False)
    strip = lambda text: [line for line in text.splitlines() if not line.startswith("% ")]  # noqa: E731
    assert strip(after) == strip(before)
    assert after != before  # the comments did change

    def mislabelled(*args, **kwargs):  # a kind that lies moves the group: the kind is what is read
        groups = original(*args, **kwargs)
        return [Group(g.title, EquationKind.CONSERVED if g.kind is EquationKind.DEFINITIONS else g.kind, g.equations,
                      g.align_like) for g in groups]

    monkeypatch.setattr(export_module, "_equation_groups", mislabelled)
    moved = equations_to_latex(equations, grouped=False)
    assert moved.index("% network map") > moved.index(r"\subsection*{Reduced equations")
    assert before.index("% network map") < before.index(r"\subsection*{Gradient flow")
