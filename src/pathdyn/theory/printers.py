r"""One sympy printer per export format: text, LaTeX (strings and line-breakable tokens), srepr.

Every exporter (:mod:`pathdyn.theory.export`, :mod:`pathdyn.theory.graph_export`,
:mod:`pathdyn.theory.dmft`) prints through these classes, so a change of notation is made
in one ``_print_<Class>`` method and reaches every export.

* :class:`PathdynTextPrinter` -- sympy's ``str`` form; matrix expressions with ``.T`` for
  the transpose and positive terms first (``Sigma_yx - Omega``).
* :class:`PathdynLatexPrinter` -- the paper's notation: ``W_{a}^{(d)}``, ``\Sigma^{yx}``,
  ``q_{a\alpha}``, ``S_{\alpha}``.
* :class:`PathdynLatexTokenPrinter` -- the same LaTeX as a list of tokens: the exporters
  break long right-hand sides between tokens.
* :class:`PathdynReprPrinter` -- sympy's ``srepr`` (the JSON exports), memoised per
  sub-expression.

Two display forms keep named sub-expressions when a right-hand side is shown:
:class:`ModeError` (``S - K_1 - K_2``, the error of a mode) and :class:`ScaledError` (a
prefactor times it); :func:`graph_latex_names` is the LaTeX notation of a graph's symbols.

Examples
--------
>>> import sympy as sp
>>> W, X = sp.MatrixSymbol("W_1_2", 3, 3), sp.MatrixSymbol("W_1_1", 3, 3)
>>> PathdynTextPrinter().doprint(sp.Transpose(W * X))
'(W_1_2*W_1_1).T'
>>> PathdynLatexPrinter().doprint(sp.Transpose(W * X))
'\\bigl(W_{1}^{(2)} W_{1}^{(1)}\\bigr)^{\\top}'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.repr import ReprPrinter
from sympy.printing.str import StrPrinter

from pathdyn.errors import DerivationError

__all__ = [
    "ModeError",
    "ScaledError",
    "graph_latex_names",
    "PROD_MIN_FACTORS",
    "PathdynLatexPrinter",
    "PathdynLatexTokenPrinter",
    "PathdynReprPrinter",
    "PathdynTextPrinter",
    "matrix_coefficient",
]

#: Products of at least this many consecutive layers are written with ``\prod`` when asked.
PROD_MIN_FACTORS = 3
_WEIGHT = re.compile(r"W_(\d+)_(\d+)$")
_NAMED_MATRICES = {"Sigma_yx": r"\Sigma^{yx}", "Sigma_x": r"\Sigma^{x}", "Omega": r"\Omega"}
# The matrix classes the token printer knows; any other matrix expression is an error.
_TOKEN_MATRICES = (sp.MatrixSymbol, sp.Identity, sp.ZeroMatrix, sp.Transpose, sp.MatAdd, sp.MatMul)


def matrix_coefficient(expr: sp.MatrixExpr) -> tuple:
    """Split a matrix term into its scalar coefficient and its matrix part.

    Parameters
    ----------
    expr : sympy.MatrixExpr

    Returns
    -------
    tuple of (sympy.Expr, sympy.MatrixExpr or None)
        ``(c, M)`` with ``expr = c * M``; ``M`` is None for a product without a matrix.
    """
    if isinstance(expr, sp.MatMul):
        scalars = [a for a in expr.args if not a.is_Matrix]
        matrices = [a for a in expr.args if a.is_Matrix]
        coefficient = sp.Mul(*scalars)
        if not matrices:
            return coefficient, None
        return coefficient, (matrices[0] if len(matrices) == 1 else sp.MatMul(*matrices))
    return sp.Integer(1), expr


def _positive_terms_first(expr: sp.MatAdd) -> list:
    """The terms of a matrix sum, those with a positive coefficient first (stable otherwise)."""
    return sorted(expr.args, key=lambda t: matrix_coefficient(t)[0].could_extract_minus_sign())


def _signed_terms(expr: sp.MatAdd) -> Iterator[tuple[int, bool, sp.MatrixExpr]]:
    """``(index, negative, magnitude term)`` of each term of a matrix sum, positive terms first."""
    for i, term in enumerate(_positive_terms_first(expr)):
        coefficient, matrix = matrix_coefficient(term)
        negative = coefficient.could_extract_minus_sign()
        magnitude = -coefficient if negative else coefficient
        yield i, negative, (matrix if magnitude == 1 else sp.MatMul(magnitude, matrix))


def _product_factors(expr: sp.MatrixExpr) -> tuple:
    """``(coefficient, matrix factors)`` of a matrix product."""
    coefficient, matrix = matrix_coefficient(expr)
    return coefficient, (matrix.args if isinstance(matrix, sp.MatMul) else (matrix,))


# ================================================================ display forms
class ModeError(sp.Expr):
    """The error of a mode, ``S - lambda (K_1 + ... + K_M)``, shown with its strengths named.

    Arguments ``(S, lambda, K_1, ..., K_M)``; ``lambda`` is 1 for whitened inputs. A display
    form only (the exports' right-hand sides are the derived expressions).
    """

    def __new__(cls, S: sp.Expr | float, lam: sp.Expr | float, *strengths: sp.Expr) -> ModeError:
        return sp.Expr.__new__(cls, sp.sympify(S), sp.sympify(lam), *map(sp.sympify, strengths))

    @property
    def parts(self) -> tuple:
        """``(S, lambda, strengths)``."""
        return self.args[0], self.args[1], self.args[2:]


class ScaledError(sp.Expr):
    """``prefactor * (mode error)``, shown as a product with the error in brackets (a display form)."""

    def __new__(cls, prefactor: sp.Expr | float, error: sp.Expr) -> ScaledError:
        return sp.Expr.__new__(cls, sp.sympify(prefactor), error)


def graph_latex_names(graph_symbols: Iterable[tuple[sp.Basic, str, tuple]]) -> dict:
    r"""LaTeX names of a graph's symbols, for the ``symbol_names`` setting of the LaTeX printers.

    ``W_u_v`` (edge ``u -> v``) prints as ``W_{v\leftarrow u}``, ``s_u_v`` as
    ``s_{v\leftarrow u}``, the node maps ``F_n``, ``B_n`` and strengths ``f_n``, ``b_n``
    with the node as subscript, ``K`` as ``K_{lpha}`` and ``S`` as ``S_{lpha}``; node names
    upright.

    Parameters
    ----------
    graph_symbols : iterable of (sympy.Symbol or sympy.MatrixSymbol, str, tuple of str)
        Each symbol with its role (``weight``, ``strength``, ``forward``, ``backward``,
        ``total``, ``S``, ``lambda``, ``path``) and the nodes it belongs to (the edge's two
        nodes, one node, or the path number).

    Returns
    -------
    dict
        Symbol -> LaTeX.
    """
    def node(name: str) -> str:
        return rf"\mathrm{{{name}}}"

    names = {}
    for symbol, role, nodes in graph_symbols:
        if role in ("weight", "strength") and len(nodes) == 2:
            letter = "W" if role == "weight" else "s"
            names[symbol] = rf"{letter}_{{{node(nodes[1])}\leftarrow{node(nodes[0])}}}"
        elif role in ("forward", "backward"):
            names[symbol] = rf"{str(symbol)[0]}_{{{node(nodes[0])}}}"
        elif role in ("total", "S", "lambda"):
            names[symbol] = {"total": r"K_{\alpha}", "S": r"S_{\alpha}", "lambda": r"\lambda_{\alpha}"}[role]
        elif role == "path":
            names[symbol] = rf"K_{{{nodes[0]}\alpha}}"
    return names


# ======================================================================== text
class PathdynTextPrinter(StrPrinter):
    """sympy's ``str`` form; matrix expressions with ``.T`` for the transpose, positive terms first.

    Scalars print as :func:`sympy.sstr` prints them (the same settings, e.g.
    ``{"order": "rev-lex"}``). Matrix sums list their positive terms first
    (``Sigma_yx - Omega``, not ``-Omega + Sigma_yx``).

    Parameters
    ----------
    settings : dict, optional
        sympy's ``str`` settings.

    Raises
    ------
    TypeError
        For an unknown setting (sympy's check).

    Notes
    -----
    sympy's own printer decides the sign of a matrix product by building and
    canonicalising its negation, whose cost grows with the number of factors and
    dominates the export of deep networks; these methods read the sign off the scalar
    coefficient instead.

    Examples
    --------
    >>> import sympy as sp
    >>> A, B = sp.MatrixSymbol("Omega", 2, 2), sp.MatrixSymbol("Sigma_yx", 2, 2)
    >>> PathdynTextPrinter().doprint(-A + B)
    'Sigma_yx - Omega'
    """

    # The matrix classes this printer handles itself, dispatched by exact type: sympy's
    # dispatcher scans each node's class hierarchy, which dominates printing products of
    # hundreds of factors. Looking the method up by name keeps overrides effective.
    _MATRIX_METHODS = {
        sp.MatrixSymbol: "_print_MatrixSymbol", sp.Identity: "_print_Identity", sp.ZeroMatrix: "_print_ZeroMatrix",
        sp.Transpose: "_print_Transpose", sp.MatAdd: "_print_MatAdd", sp.MatMul: "_print_MatMul",
    }

    def _print(self, expr: object, **kwargs: Any) -> str:
        name = None if kwargs else self._MATRIX_METHODS.get(type(expr))
        if name is None:
            return super()._print(expr, **kwargs)
        return getattr(self, name)(expr)

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        return expr.name

    def _print_Identity(self, expr: sp.Identity) -> str:
        return "I"

    def _print_ZeroMatrix(self, expr: sp.ZeroMatrix) -> str:
        return "0"

    def _print_Transpose(self, expr: sp.Transpose) -> str:
        inner = self._print(expr.arg)
        return f"{inner}.T" if isinstance(expr.arg, sp.MatrixSymbol) else f"({inner}).T"

    def _print_MatAdd(self, expr: sp.MatAdd) -> str:
        text = ""
        for i, negative, term in _signed_terms(expr):
            body = self._print(term)
            text += (("-" if negative else "") + body) if i == 0 else ((" - " if negative else " + ") + body)
        return text

    def _print_ModeError(self, expr: ModeError) -> str:
        S, lam, strengths = expr.parts
        names = [self._print(k) for k in strengths]
        if lam == 1:
            return " - ".join([self._print(S), *names])
        total = names[0] if len(names) == 1 else "(" + " + ".join(names) + ")"
        return f"{self._print(S)} - {self._print(lam)}*{total}"

    def _print_ScaledError(self, expr: ScaledError) -> str:
        prefactor, error = expr.args
        if prefactor == 1:
            return self._print(error)
        factor = self._print(prefactor)
        return (f"({factor})" if isinstance(prefactor, sp.Add) else factor) + f"*({self._print(error)})"

    def _print_MatMul(self, expr: sp.MatMul) -> str:
        coefficient, factors = _product_factors(expr)
        parts = [f"({self._print(f)})" if isinstance(f, sp.MatAdd) else self._print(f) for f in factors]
        prefix = "" if coefficient == 1 else ("-" if coefficient == -1 else f"{self._print(coefficient)}*")
        return prefix + "*".join(parts)


# ======================================================================= LaTeX
class PathdynLatexPrinter(LatexPrinter):
    r"""sympy's LaTeX printer in the paper's notation.

    Scalars: pathway ``a`` and mode ``alpha`` on every mode variable: ``q_1`` prints as
    ``q_{1\alpha}``, ``s_1_2`` (layer 2 of pathway 1) as ``s_{1\alpha}^{(2)}``, ``S`` as
    ``S_{\alpha}`` and ``lambda`` as ``\lambda_{\alpha}``, like ``K_{1\alpha}``; other
    symbols as sympy prints them. Matrices: ``W_a_d`` as ``W_{a}^{(d)}``, ``Sigma_yx`` as
    ``\Sigma^{yx}``, ``Omega`` as ``\Omega``, ``{W}^{\top}`` for the transpose, sums with
    positive terms first and ``\bigl[...\bigr]`` around a sum inside a product.

    Parameters
    ----------
    settings : dict, optional
        sympy's LaTeX settings (``order``, ``symbol_names``, ...) and two more:
        ``prod`` (default False) writes a run of at least :data:`PROD_MIN_FACTORS`
        consecutive layers of one pathway as ``\prod_{k=i}^{j} W_a^{(k)}`` (ordered,
        highest layer on the left); ``mode_indices`` (default True) adds the indices
        above; False prints scalars exactly as :func:`sympy.latex` does.

    Raises
    ------
    TypeError
        For an unknown setting (sympy's check).

    Examples
    --------
    >>> import sympy as sp
    >>> PathdynLatexPrinter().doprint(sp.Symbol("p_2") * sp.Symbol("q_2")**2 - sp.Symbol("S"))
    '- S_{\\alpha} + p_{2\\alpha} q_{2\\alpha}^{2}'
    """

    _default_settings = {**LatexPrinter._default_settings, "prod": False, "mode_indices": True}
    _INDEXED = re.compile(r"([A-Za-z]+)((?:_\d+)+)$")
    #: Parameters of one mode: its singular value and (general inputs) its input variance.
    _PER_MODE = {"S": r"S_{\alpha}", "lambda": r"\lambda_{\alpha}"}

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        if not self._settings["mode_indices"] or expr in self._settings["symbol_names"]:
            return super()._print_Symbol(expr, style=style)
        name = expr.name
        if name in self._PER_MODE:
            return self._PER_MODE[name]
        match = self._INDEXED.match(name)
        if not match:
            return super()._print_Symbol(expr, style=style)
        letter, indices = match.group(1), match.group(2).strip("_").split("_")
        if letter == "s" and len(indices) == 2:
            return rf"s_{{{indices[0]}\alpha}}^{{({indices[1]})}}"
        return rf"{letter}_{{{','.join(indices)}\alpha}}"

    def matrix_tokens(self, expr: sp.Basic) -> list:
        """The LaTeX of ``expr`` as tokens (a line may break between two), with these settings.

        Parameters
        ----------
        expr : sympy.Basic

        Returns
        -------
        list of str
        """
        printer = getattr(self, "_token_printer", None)
        if printer is None:
            # sympy's __init__ adds derived keys to _settings; pass on only the settings themselves.
            settings = {key: self._settings[key] for key in self._default_settings}
            printer = self._token_printer = PathdynLatexTokenPrinter(settings)
        return printer.doprint(expr)

    def _print_matrix(self, expr: sp.MatrixExpr) -> str:
        return " ".join(self.matrix_tokens(expr))

    _print_MatrixSymbol = _print_Identity = _print_ZeroMatrix = _print_matrix
    _print_Transpose = _print_MatAdd = _print_MatMul = _print_matrix


def _weight_layer(factor: sp.Basic) -> tuple[int, int] | None:
    """``(pathway, layer)`` of a weight ``W_a_d``, or None."""
    if isinstance(factor, sp.MatrixSymbol):
        match = _WEIGHT.match(factor.name)
        if match:
            return int(match.group(1)), int(match.group(2))
    return None


def _product_runs(factors: Iterable[sp.MatrixExpr]) -> list:
    """Split matrix factors into runs ``W_a^{(d)} W_a^{(d-1)} ...`` of one pathway with falling layers."""
    runs: list[list] = []
    for factor in factors:
        key = _weight_layer(factor)
        previous = _weight_layer(runs[-1][-1]) if runs else None
        if key and previous and key[0] == previous[0] and key[1] == previous[1] - 1:
            runs[-1].append(factor)
        else:
            runs.append([factor])
    return runs


def _prod_token(run: Sequence[sp.MatrixSymbol]) -> str:
    r"""``\prod_{k=i}^{j} W_a^{(k)}`` for the ordered product ``W_a^{(j)} ... W_a^{(i)}``."""
    first, last = _weight_layer(run[0]), _weight_layer(run[-1])
    assert first is not None and last is not None, "a run of two or more factors holds weights only"
    (pathway, high), low = first, last[1]
    return rf"\prod_{{k={low}}}^{{{high}}} W_{{{pathway}}}^{{(k)}}"


class PathdynLatexTokenPrinter(PathdynLatexPrinter):
    r""":class:`PathdynLatexPrinter` whose matrix ``_print_<Class>`` methods return token lists.

    A long right-hand side breaks across lines between two tokens; a token is never
    split. :meth:`doprint` returns the list (one token for a scalar expression).

    Parameters
    ----------
    settings : dict, optional
        As :class:`PathdynLatexPrinter`.

    Raises
    ------
    DerivationError
        (from :meth:`doprint`) for a matrix expression other than symbols, ``I``, ``0``,
        transposes, sums and products.

    Examples
    --------
    >>> import sympy as sp
    >>> W = [sp.MatrixSymbol(f"W_1_{d}", 2, 2) for d in (4, 3, 2, 1)]
    >>> PathdynLatexTokenPrinter({"prod": True}).doprint(sp.MatMul(*W))
    ['\\prod_{k=1}^{4} W_{1}^{(k)}']
    >>> PathdynLatexTokenPrinter().doprint(sp.MatMul(*W[:2]))
    ['W_{1}^{(4)}', 'W_{1}^{(3)}']
    """

    def doprint(self, expr: sp.Basic) -> list:
        """The tokens of ``expr``.

        Parameters
        ----------
        expr : sympy.Basic

        Returns
        -------
        list of str
        """
        if isinstance(expr, sp.Add) and not expr.is_Matrix:
            return self.sum_tokens(expr)
        tokens = self._print(expr)
        return tokens if isinstance(tokens, list) else [tokens]

    def sum_tokens(self, expr: sp.Add) -> list:
        """A scalar sum as one token per term (``a``, ``- b``, ``+ c``): joined by spaces, sympy's LaTeX of it.

        Parameters
        ----------
        expr : sympy.Add

        Returns
        -------
        list of str
        """
        tokens = []
        for i, term in enumerate(self._as_ordered_terms(expr, order=None)):
            sign = ""
            if i:
                sign = "+ "
                if term.could_extract_minus_sign():
                    sign, term = "- ", -term
            tex = self._print(term)
            if self._needs_add_brackets(term):
                tex = rf"\left({tex}\right)"
            tokens.append(sign + tex)
        return tokens

    def matrix_tokens(self, expr: sp.Basic) -> list:
        """The same as :meth:`doprint`.

        Parameters
        ----------
        expr : sympy.Basic

        Returns
        -------
        list of str
        """
        return self.doprint(expr)

    def _print(self, expr: object, **kwargs: Any) -> Any:  # a token list for a matrix, a string for a scalar
        if getattr(expr, "is_Matrix", False) and not isinstance(expr, _TOKEN_MATRICES):
            raise DerivationError(f"no LaTeX form for the matrix expression {expr} ({type(expr).__name__})")
        return super()._print(expr, **kwargs)

    def _matrix_symbol_latex(self, expr: sp.MatrixSymbol) -> str:
        names = self._settings["symbol_names"]
        if expr in names:
            return names[expr]
        match = _WEIGHT.match(expr.name)
        if match:
            return f"W_{{{match.group(1)}}}^{{({match.group(2)})}}"
        if expr.name in _NAMED_MATRICES:
            return _NAMED_MATRICES[expr.name]
        return LatexPrinter._print_Symbol(self, sp.Symbol(expr.name))

    # The matrix methods below return token lists where the parent's return one string: the
    # point of this class, so each ignores mypy's override check.
    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> list:  # type: ignore[override]
        return [self._matrix_symbol_latex(expr)]

    def _print_Identity(self, expr: sp.Identity) -> list:  # type: ignore[override]
        return ["I"]

    def _print_ZeroMatrix(self, expr: sp.ZeroMatrix) -> list:  # type: ignore[override]
        return ["0"]

    def _print_Transpose(self, expr: sp.Transpose) -> list:  # type: ignore[override]
        arg = expr.arg
        if isinstance(arg, sp.MatrixSymbol):
            return [f"{{{self._matrix_symbol_latex(arg)}}}^{{\\top}}"]
        inner = self._print(arg)
        if len(inner) == 1 and inner[0].startswith(r"\prod"):  # \bigl( is too small for the limits of \prod
            return [rf"\left({inner[0]}\right)^{{\top}}"]
        if len(inner) == 1 and not isinstance(arg, sp.MatAdd):
            return [rf"\bigl({inner[0]}\bigr)^{{\top}}"]
        inner[0] = r"\bigl(" + inner[0]
        inner[-1] = inner[-1] + r"\bigr)^{\top}"
        return inner

    def _print_ModeError(self, expr: ModeError) -> list:
        S, lam, strengths = expr.parts
        names = [self._print(k) for k in strengths]
        if lam == 1:
            return [self._print(S)] + [f"- {k}" for k in names]
        scale = self._print(lam)
        if len(names) == 1:
            return [self._print(S), rf"- {scale} {names[0]}"]
        return [self._print(S), rf"- {scale} \bigl({names[0]}", *[f"+ {k}" for k in names[1:-1]], rf"+ {names[-1]}\bigr)"]

    def _print_ScaledError(self, expr: ScaledError) -> list:
        prefactor, error = expr.args
        tokens = self._print(error)
        if prefactor == 1:
            return tokens
        factor = self._print(prefactor)
        if isinstance(prefactor, sp.Add):  # a sum times the error needs its own parentheses
            factor = rf"\left({factor}\right)"
        if len(tokens) == 1:
            return [factor, rf"\Bigl({tokens[0]}\Bigr)"]
        return [factor, r"\Bigl(" + tokens[0], *tokens[1:-1], tokens[-1] + r"\Bigr)"]

    def _print_MatAdd(self, expr: sp.MatAdd) -> list:  # type: ignore[override]
        tokens = []
        for i, negative, term in _signed_terms(expr):
            body = self._print(term)
            body[0] = ("- " if negative else ("+ " if i else "")) + body[0]
            tokens += body
        return tokens

    def _print_MatMul(self, expr: sp.MatMul) -> list:  # type: ignore[override]
        coefficient, factors = _product_factors(expr)
        tokens = []
        if coefficient != 1:
            tokens.append("-" if coefficient == -1 else self._print(coefficient))
        runs = _product_runs(factors) if self._settings["prod"] else [[f] for f in factors]
        for run in runs:
            if len(run) >= PROD_MIN_FACTORS:
                tokens.append(_prod_token(run))
                continue
            for factor in run:
                if isinstance(factor, sp.MatAdd):
                    tokens.append(r"\bigl[" + " ".join(self._print(factor)) + r"\bigr]")
                else:
                    tokens += self._print(factor)
        return tokens


# ======================================================================== JSON
class PathdynReprPrinter(ReprPrinter):
    """sympy's ``srepr``, memoised per sub-expression (the weights repeat thousands of times).

    One instance remembers every sub-expression it printed: use one per export.

    Parameters
    ----------
    settings : dict, optional
        sympy's ``srepr`` settings.

    Examples
    --------
    >>> import sympy as sp
    >>> PathdynReprPrinter().doprint(sp.Symbol("q_1") + 1)
    "Add(Symbol('q_1'), Integer(1))"
    """

    def __init__(self, settings: dict | None = None) -> None:
        super().__init__(settings)
        self._cache: dict = {}

    def _print(self, expr: object, **kwargs: Any) -> str:
        if kwargs or not isinstance(expr, sp.Basic):
            return super()._print(expr, **kwargs)
        try:
            return self._cache[expr]
        except KeyError:
            text = self._cache[expr] = super()._print(expr)
            return text
