"""Rebuild sympy expressions from ``srepr`` text without running any code.

``sympy.sympify`` and ``eval`` execute the text they are given: a tampered equations
file could call any Python function (``sympify`` keeps Python's builtins such as
``open`` and every attribute chain reachable from sympy's own modules). This parser
reads the text with :mod:`ast` and accepts only a tree of calls to an allow-list of
sympy constructors whose arguments are other such calls or literals (numbers, strings,
``True``/``False``), with bounded sizes, so that parsing a hostile file either gives an
expression or one :class:`~pathdyn.errors.ConfigError`, and always finishes quickly.

Bounds (each a module constant)
-------------------------------
- nesting depth of calls: :data:`MAX_NESTING`;
- integer literals: at most :data:`MAX_INTEGER_BITS` bits;
- a numeric exponent of ``Pow``/``MatPow``: at most :data:`MAX_EXPONENT` in magnitude
  (numerator and denominator of a rational exponent alike), and a number raised to a
  number may have at most :data:`MAX_INTEGER_BITS` bits (``10**(10**9)`` is refused
  instead of computed);
- ``Float`` precision: at most :data:`MAX_FLOAT_PRECISION` bits; its text must be a
  plain decimal with an exponent of at most :data:`MAX_FLOAT_EXPONENT_DIGITS` digits;
- strings (symbol names): at most :data:`MAX_NAME_LENGTH` characters;
- the total size of the exact numbers of one expression: at most :data:`MAX_TOTAL_NUMBER_BITS`
  bits, counting every integer literal and every number a power of numbers makes. Sums and
  products of rationals are exact, so their size is at most the sum of their parts: each
  part may be small while their sum is not (a 14 kB file of summed rationals, or a 74 kB
  product of big integers, took a minute; docs/reliability.md); this bounds every
  intermediate number.
"""

from __future__ import annotations

import ast
import re

import sympy as sp
from sympy.core.symbol import Str

from pathdyn.errors import ConfigError

__all__ = ["ALLOWED_CONSTRUCTORS", "parse_srepr"]

MAX_NESTING = 150
MAX_INTEGER_BITS = 4096
MAX_EXPONENT = 1000
MAX_FLOAT_PRECISION = 4096
MAX_FLOAT_EXPONENT_DIGITS = 5
MAX_NAME_LENGTH = 1000
#: The largest export the project makes (100 pathways of depth 6) holds 82,000 bits of small
#: integers in all, under 100 in any one expression.
MAX_TOTAL_NUMBER_BITS = 65536

#: Constructor name -> (sympy class, keyword arguments it may take). Every name an
#: equations export writes, plus the close relatives the issue lists.
ALLOWED_CONSTRUCTORS = {
    "Symbol": (sp.Symbol, frozenset({
        "commutative", "real", "positive", "negative", "nonnegative", "nonpositive", "integer", "finite", "nonzero",
    })),
    "MatrixSymbol": (sp.MatrixSymbol, frozenset()),
    "Str": (Str, frozenset()),
    "Integer": (sp.Integer, frozenset()),
    "Rational": (sp.Rational, frozenset()),
    "Float": (sp.Float, frozenset({"precision"})),
    "Add": (sp.Add, frozenset()),
    "Mul": (sp.Mul, frozenset()),
    "Pow": (sp.Pow, frozenset()),
    "MatAdd": (sp.MatAdd, frozenset()),
    "MatMul": (sp.MatMul, frozenset()),
    "MatPow": (sp.MatPow, frozenset()),
    "Transpose": (sp.Transpose, frozenset()),
    "Identity": (sp.Identity, frozenset()),
    "ZeroMatrix": (sp.ZeroMatrix, frozenset()),
}

_FLOAT_TEXT = re.compile(rf"[-+]?(\d{{1,400}}(\.\d{{0,400}})?|\.\d{{1,400}})([eE][-+]?\d{{1,{MAX_FLOAT_EXPONENT_DIGITS}}})?")


_UNDEFINED = (sp.zoo, sp.nan, sp.oo, -sp.oo)


class _Refused(Exception):
    """Internal: the text is not an allowed srepr; the message says why."""


class _Budget:
    """The bits of exact numbers one expression has used so far (:data:`MAX_TOTAL_NUMBER_BITS`)."""

    def __init__(self) -> None:
        self.bits = 0

    def spend(self, bits: int) -> None:
        self.bits += max(1, int(bits))
        if self.bits > MAX_TOTAL_NUMBER_BITS:
            raise _Refused(f"exact numbers of more than {MAX_TOTAL_NUMBER_BITS} bits in all (their sums and products "
                           "would take minutes)")


def parse_srepr(text: str, where: str = "expression") -> sp.Basic | int | str | bool:
    """Build the sympy expression an ``srepr`` string describes, running no code.

    Parameters
    ----------
    text : str
        ``sympy.srepr`` output, e.g. ``"Add(Symbol('x'), Integer(1))"``.
    where : str
        What the text is (named in the error), e.g. ``"gradient_flow[1,2]"``.

    Returns
    -------
    sympy.Basic

    Raises
    ------
    ConfigError
        If the text is not a tree of allowed constructor calls on literals
        (:data:`ALLOWED_CONSTRUCTORS`), or exceeds a size bound (module docstring).

    Examples
    --------
    >>> parse_srepr("Add(Symbol('x'), Integer(1))")
    x + 1
    """
    if not isinstance(text, str):
        raise ConfigError(f"{where}: must be an srepr string, got {type(text).__name__}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        reason = getattr(error, "msg", None) or type(error).__name__
        raise ConfigError(f"{where} is not a valid sympy srepr ({reason}); re-export with pathdyn derive --format json") from None
    try:
        expression = _build(tree.body, 0, _Budget())
    except _Refused as error:
        raise ConfigError(f"{where} is not a valid sympy srepr: refused {error}; only sympy constructors on literals are read") from None
    except (TypeError, ValueError, ArithmeticError, RecursionError) as error:
        raise ConfigError(f"{where} is not a valid sympy srepr: the constructors fail ({type(error).__name__}: {error})") from None
    if isinstance(expression, sp.Basic) and expression.has(*_UNDEFINED):
        # Rational(1, 0) builds zoo and 0 * (1/0) nan: no export holds them, and they poison every number downstream
        raise ConfigError(f"{where} evaluates to an undefined or infinite value ({_short(expression)}: a division by zero "
                          "in the file); re-export with pathdyn derive --format json")
    return expression


def _build(node: ast.expr, depth: int, budget: _Budget) -> sp.Basic | int | str | bool:
    if depth > MAX_NESTING:
        raise _Refused(f"nested deeper than {MAX_NESTING} calls")
    if isinstance(node, ast.Call):
        return _build_call(node, depth, budget)
    value = _literal(node)
    if isinstance(value, int) and not isinstance(value, bool):
        budget.spend(value.bit_length())
    return value


def _literal(node: ast.expr) -> int | str | bool:
    """A number, string or boolean literal (``-3`` included); nothing else."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value: object = _literal(node.operand)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Refused("a sign applies to integers only")
        return -value if isinstance(node.op, ast.USub) else value
    if not isinstance(node, ast.Constant):
        raise _Refused(f"{type(node).__name__} is not a literal or an allowed constructor call")
    value = node.value
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INTEGER_BITS:
            raise _Refused(f"an integer of {value.bit_length()} bits (at most {MAX_INTEGER_BITS})")
        return value
    if isinstance(value, str):
        if len(value) > MAX_NAME_LENGTH:
            raise _Refused(f"a string of {len(value)} characters (at most {MAX_NAME_LENGTH})")
        return value
    raise _Refused(f"a literal of type {type(value).__name__}")


def _build_call(node: ast.Call, depth: int, budget: _Budget) -> sp.Basic:
    if not isinstance(node.func, ast.Name):
        raise _Refused("only plain constructor names may be called (no attribute access)")
    name = node.func.id
    if name not in ALLOWED_CONSTRUCTORS:
        raise _Refused(f"{name!r} is not an allowed constructor")
    cls, keywords = ALLOWED_CONSTRUCTORS[name]
    args = [_build(arg, depth + 1, budget) for arg in node.args]
    kwargs: dict[str, int | str | bool] = {}
    for keyword in node.keywords:
        if keyword.arg is None or keyword.arg not in keywords:
            raise _Refused(f"{name} takes no keyword {keyword.arg!r}")
        kwargs[keyword.arg] = _literal(keyword.value)
    _check_arguments(name, args, kwargs)
    if name in ("Pow", "MatPow"):
        budget.spend(_power_bits(*args))
    return cls(*args, **kwargs)


def _check_arguments(name: str, args: list, kwargs: dict) -> None:
    """Type and size checks that keep every constructor call cheap."""
    if name == "Symbol":
        _expect(name, args, (str,), 1)
        if any(not isinstance(v, bool) for v in kwargs.values()):
            raise _Refused("Symbol assumptions must be True or False")
    elif name == "Str":
        _expect(name, args, (str,), 1)
    elif name == "Integer":
        _expect(name, args, (int,), 1)
    elif name == "Rational":
        _expect(name, args, (int,), 2)
    elif name == "Float":
        _expect(name, args, (str,), 1)
        if not _FLOAT_TEXT.fullmatch(args[0]):
            raise _Refused(f"Float text {args[0][:40]!r} is not a plain decimal number")
        precision = kwargs.get("precision", 53)
        if isinstance(precision, bool) or not isinstance(precision, int) or not 1 <= precision <= MAX_FLOAT_PRECISION:
            raise _Refused(f"Float precision must be a whole number in 1..{MAX_FLOAT_PRECISION}")
    elif name in ("Pow", "MatPow"):
        _expect_basic(name, args, 2)
        _check_power(*args)
    elif name == "MatrixSymbol":
        _expect_basic(name, args, 3)
    elif name in ("Identity", "Transpose"):
        _expect_basic(name, args, 1)
    elif name == "ZeroMatrix":
        _expect_basic(name, args, 2)
    else:  # Add, Mul, MatAdd, MatMul
        _expect_basic(name, args, None)


def _expect(name: str, args: list, types: tuple, count: int) -> None:
    if len(args) != count or any(isinstance(a, bool) or not isinstance(a, types) for a in args):
        kinds = " or ".join(t.__name__ for t in types)
        raise _Refused(f"{name} takes {count} {kinds} literal(s)")


def _expect_basic(name: str, args: list, count: int | None) -> None:
    if count is not None and len(args) != count:
        raise _Refused(f"{name} takes {count} argument(s), got {len(args)}")
    if any(not isinstance(a, sp.Basic) for a in args):
        raise _Refused(f"{name} takes sympy expressions (constructor calls), not bare literals")


def _check_power(base: sp.Basic, exponent: sp.Basic) -> None:
    """Refuse powers whose evaluation would be huge (``10**(10**9)``)."""
    if not exponent.is_Number:
        return
    if exponent.is_Rational:
        p, q = int(exponent.p), int(exponent.q)
        if abs(p) > MAX_EXPONENT or q > MAX_EXPONENT:
            raise _Refused(f"the exponent {_short(exponent)} exceeds {MAX_EXPONENT} in magnitude")
        if base.is_Rational:
            bits = max(int(base.p).bit_length(), int(base.q).bit_length()) * abs(p)
            if bits > MAX_INTEGER_BITS:
                raise _Refused(f"{_short(base)}**{_short(exponent)} would have about {bits} bits (at most {MAX_INTEGER_BITS})")
    elif abs(exponent) > MAX_EXPONENT:
        raise _Refused(f"the exponent {_short(exponent)} exceeds {MAX_EXPONENT} in magnitude")


def _power_bits(base: sp.Basic, exponent: sp.Basic) -> int:
    """About how many bits a power of two numbers has (0 when it stays symbolic)."""
    if not (base.is_Rational and exponent.is_Rational):
        return 0
    return max(int(base.p).bit_length(), int(base.q).bit_length()) * abs(int(exponent.p))


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 30 else text[:12] + "..." + text[-6:]
