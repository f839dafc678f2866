"""The conversions of an answer value that every output shares: to JSON (answers.json, the
manifest), back from JSON (writers that read answers.json), and to LaTeX (papers, keys, the
key book).

Exact values stay exact: integers are JSON integers, other rationals "p/q" strings, LaTeX
text a string. In LaTeX, sympy values print as `sympy.latex`, plain strings are escaped so
that text never runs as TeX, and `NoEscape` marks what already is LaTeX.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

import sympy as sp
from pylatex.utils import NoEscape, escape_latex

from . import QgenError

_RATIONAL = re.compile(r"-?\d+/\d+")
_LIGATURE = re.compile(r"([-'<>,])(?=\1)")


def to_json(value: Any) -> Any:
    """Exact JSON: integers as integers, other rationals as "p/q", LaTeX and text as strings."""
    if isinstance(value, sp.Integer):       # the commonest answer, first (what the sp.Basic branch gives)
        return int(value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, sp.MatrixBase):
        return [to_json(v) for v in value.tolist()]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)       # a NoEscape or other str subclass becomes a plain string
    if isinstance(value, int):
        return value
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    if isinstance(value, sp.Basic):
        if value.is_Integer:
            return int(value)
        if value.is_Rational:
            return f"{value.p}/{value.q}"
        if value.is_number:     # not rational (a softmax, an exp): a decimal of SIGNIFICANT digits
            return decimal(value)
        return sp.sstr(value)
    if isinstance(value, float):
        return decimal(value)
    raise TypeError(f"cannot put a {type(value).__name__} into answers.json")


SIGNIFICANT = 10    # digits of a value that is not rational, in answers.json


def decimal(value: Any, places: int | None = None, significant: int | None = None) -> str:
    """A plain decimal string of a value: rounded half up to `places` decimals, or else to
    `significant` digits (trailing zeros dropped); never in e-notation."""
    d = Decimal(str(sp.N(sp.sympify(value), 40)))
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    elif d != 0:
        d = d.quantize(Decimal(1).scaleb(d.adjusted() - (significant or SIGNIFICANT) + 1), rounding=ROUND_HALF_UP)
    text = format(d, "f")
    if places is None and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def from_json(value: Any, latex: bool = False) -> Any:
    """The inverse of `to_json`: integers and "p/q" become sympy numbers again; other strings
    stay strings, marked as LaTeX when `latex` says the answer is LaTeX."""
    if isinstance(value, dict):
        return {k: from_json(v, latex) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v, latex) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, str):
        if _RATIONAL.fullmatch(value):
            return sp.Rational(value)
        return NoEscape(value) if latex else value
    return value


def as_float(value: Any) -> Any:
    """A value as floats, for a family's numeric check: sympy numbers, ints, Fractions, and
    answers.json's "p/q" and decimal strings; lists elementwise."""
    if isinstance(value, (list, tuple)):
        return [as_float(v) for v in value]
    return float(Fraction(value)) if isinstance(value, str) else float(value)


def _rational_latex(p: int, q: int) -> str:
    """What sympy's `latex` prints for the rational p/q (q > 0, in lowest terms): setting up
    its printer costs more than the rest of rendering a key's numbers."""
    if q == 1:
        return str(p)
    return f"{'- ' if p < 0 else ''}\\frac{{{abs(p)}}}{{{q}}}"


@lru_cache(maxsize=4096)
def _sympy_latex(value: sp.Basic) -> str:
    """sympy's LaTeX for an expression; the same relations (x > 0, ...) recur in every student's key."""
    return sp.latex(value)


def to_latex(value: Any) -> str:
    """LaTeX for one value, escaping anything that is plain text.

    Lists print as `[a, b]`; anything else without a form (a table, an object) is an error.
    """
    if isinstance(value, NoEscape):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (Fraction, sp.Rational)):
        return _rational_latex(int(value.numerator), int(value.denominator))
    if isinstance(value, (float, sp.Float)):    # a float a template printed: 6 significant digits
        return NoEscape(decimal(value, significant=6))
    if isinstance(value, sp.Basic):
        return _sympy_latex(value)
    if isinstance(value, str):
        # The caret and the backtick themselves, not a circumflex accent or an opening quote;
        # and no ligatures: "--", "''", "<<", ">>" and ",," print as typed.
        text = escape_latex(value).replace(r"\^{}", r"\textasciicircum{}").replace("`", r"\textasciigrave{}")
        return NoEscape(_LIGATURE.sub(r"\1{}", text))
    if isinstance(value, (list, tuple)):
        return NoEscape("[" + ", ".join(to_latex(v) for v in value) + "]")
    if value is None:
        raise QgenError("a template printed a missing value (None)")
    raise QgenError(f"a template printed a {type(value).__name__}; give it a filter that formats it")
