"""Q1(a) of the seed paper: prove a matrix-derivative identity from the product rule.

The original asks for d(A^-1)/dx = -A^-1 (dA/dx) A^-1, given only the product rule
d(AB)/dx = (dA/dx)B + A(dB/dx). Variants draw one identity from a pool of the same kind:
each is proved with the product rule, once or twice, and (all but `cube`) the inverse
trick of differentiating M M^-1 = I.

Every identity and every line of its proof is a small matrix-expression tree. The same tree
prints the LaTeX and is evaluated by sympy on fixed random invertible 3x3 matrices A(x), B(x)
whose entries are polynomials in x; each derivative in a line is sympy's `diff` of the entries,
taken exactly at a few rational points. So no statement or step reaches a paper unless
sympy confirms it, and the confirmation is cached per identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy as sp
from pylatex.utils import NoEscape
from sympy.polys.matrices import DomainMatrix

from generator.family import Answer, CheckError, Constraint, Family, Part, integers


# ---------------------------------------------------------------- matrix expressions

class _Expr:
    """A matrix expression: `*` is the (non-commutative) matrix product, `**n` an integer power."""

    def __mul__(self, other: _Expr) -> _Expr:
        return _Mul((*_factors(self), *_factors(other)))

    def __add__(self, other: _Expr) -> _Expr:
        return _Add((*_terms(self), *_terms(other)))

    def __sub__(self, other: _Expr) -> _Expr:
        return self + (-other)

    def __neg__(self) -> _Expr:
        return _Neg(self)

    def __pow__(self, n: int) -> _Expr:
        return _Pow(self, n)


@dataclass(frozen=True)
class _Sym(_Expr):
    name: str          # "A", "B", "I" (identity) or "O" (zero matrix)


@dataclass(frozen=True)
class _Pow(_Expr):
    base: _Expr
    n: int


@dataclass(frozen=True)
class _Mul(_Expr):
    factors: tuple[_Expr, ...]


@dataclass(frozen=True)
class _Add(_Expr):
    terms: tuple[_Expr, ...]


@dataclass(frozen=True)
class _Neg(_Expr):
    arg: _Expr

    def __neg__(self) -> _Expr:
        return self.arg


@dataclass(frozen=True)
class _D(_Expr):
    """The derivative of a matrix expression with respect to x."""
    arg: _Expr


def _factors(e: _Expr) -> tuple[_Expr, ...]:
    return e.factors if isinstance(e, _Mul) else (e,)


def _terms(e: _Expr) -> tuple[_Expr, ...]:
    return e.terms if isinstance(e, _Add) else (e,)


A, B, I, O = _Sym("A"), _Sym("B"), _Sym("I"), _Sym("O")
D = _D


# ---------------------------------------------------------------- LaTeX of an expression

_SYMBOL_TEX = {"A": r"\mathbf{A}", "B": r"\mathbf{B}", "I": r"\mathbf{I}", "O": r"\mathbf{0}"}
_DX = r"\partial \mathbf{x}"


def tex(e: _Expr) -> str:
    if isinstance(e, _Sym):
        return _SYMBOL_TEX[e.name]
    if isinstance(e, _Pow):
        base = tex(e.base) if isinstance(e.base, _Sym) else _paren(tex(e.base))
        return f"{base}^{{{e.n}}}"
    if isinstance(e, _Mul):
        return "".join(_paren(tex(f)) if isinstance(f, (_Add, _Neg)) else tex(f) for f in e.factors)
    if isinstance(e, _Add):
        out = ""
        for i, t in enumerate(e.terms):
            if isinstance(t, _Neg):
                out += ("-" if i == 0 else " - ") + _tex_term(t.arg)
            else:
                out += ("" if i == 0 else " + ") + _tex_term(t)
        return out
    if isinstance(e, _Neg):
        return "-" + _tex_term(e.arg)
    if isinstance(e, _D):
        if isinstance(e.arg, _Sym):
            return rf"\frac{{\partial {tex(e.arg)}}}{{{_DX}}}"
        return rf"\frac{{\partial}}{{{_DX}}}{_paren(tex(e.arg))}"
    raise TypeError(f"not a matrix expression: {e!r}")


def _tex_term(e: _Expr) -> str:
    return _paren(tex(e)) if isinstance(e, (_Add, _Neg)) else tex(e)


def _paren(text: str) -> str:
    # \left( only around fractions: elsewhere it adds space, as in AB\left(AB\right)^{-1}.
    return rf"\left({text}\right)" if r"\frac" in text else f"({text})"


def _chain(exprs: list[_Expr]) -> str:
    """`e0 = e1 = ...`: on one line for two sides, aligned one per line for more."""
    if len(exprs) == 2:
        return rf"\[ {tex(exprs[0])} = {tex(exprs[1])} \]"
    rows = r" \\ ".join(f"&= {tex(e)}" for e in exprs[1:])
    return rf"\[ \begin{{aligned}} {tex(exprs[0])} {rows} \end{{aligned}} \]"


# ---------------------------------------------------------------- the pool of identities

@dataclass(frozen=True)
class Step:
    text: str                  # LaTeX prose leading into the displayed equation
    chain: tuple[_Expr, ...]   # expressions claimed equal, verified by sympy


@dataclass(frozen=True)
class Identity:
    name: str
    lhs: _Expr                 # the statement is D(lhs) = rhs
    rhs: _Expr
    with_b: bool               # the question is about matrices A and B (not A alone)
    steps: tuple[Step, ...]    # the proof; its last step runs from D(lhs) to rhs

    @property
    def statement(self) -> str:
        return f"{tex(D(self.lhs))} = {tex(self.rhs)}"

    @property
    def lines(self) -> list[str]:
        """The proof as LaTeX lines: prose, then the displayed chain of equalities."""
        return [f"{s.text} {_chain(list(s.chain))}" for s in self.steps]


def _step(text: str, *chain: _Expr) -> Step:
    return Step(text, chain)


def _inverse_trick(M: _Expr) -> list[Step]:
    """Differentiate M M^-1 = I: the proof of the original, for any invertible M."""
    Mi = M ** -1
    m, mi = tex(M), tex(Mi)
    return [
        _step(f"Since ${m}$ is invertible,", M * Mi, I),
        _step(rf"Differentiate both sides with respect to $\mathbf{{x}}$. The identity matrix is constant, "
              r"so its derivative is the zero matrix; the product rule expands the left-hand side:",
              D(M * Mi), D(M) * Mi + M * D(Mi), O),
        _step(rf"Rearranging, ${tex(D(M) * Mi)}$ moves to the right-hand side:", M * D(Mi), -(D(M) * Mi)),
        _step(rf"Multiplying both sides on the left by ${mi}$ (and using ${mi}{m} = \mathbf{{I}}$):",
              D(Mi), -(Mi * D(M) * Mi)),
    ]


_A_ONLY, _A_AND_B = False, True          # with_b: the template says "a matrix A" or "matrices A, B"
_ABOVE = r"the derivative of ${}$ found above"


def _identities() -> dict[str, Identity]:
    Ai, Bi = A ** -1, B ** -1
    ABi = (A * B) ** -1
    pool = [
        Identity("inv", Ai, -(Ai * D(A) * Ai), _A_ONLY, tuple(_inverse_trick(A))),
        Identity("inv_times", Ai * B, -(Ai * D(A) * Ai * B) + Ai * D(B), _A_AND_B, (
            *_inverse_trick(A),
            _step(r"Now by the product rule,", D(Ai * B), D(Ai) * B + Ai * D(B)),
            _step(f"and substituting {_ABOVE.format(tex(Ai))}:",
                  D(Ai * B), -(Ai * D(A) * Ai * B) + Ai * D(B)),
        )),
        Identity("times_inv", A * Bi, D(A) * Bi - A * Bi * D(B) * Bi, _A_AND_B, (
            *_inverse_trick(B),
            _step(r"Now by the product rule,", D(A * Bi), D(A) * Bi + A * D(Bi)),
            _step(f"and substituting {_ABOVE.format(tex(Bi))}:",
                  D(A * Bi), D(A) * Bi - A * Bi * D(B) * Bi),
        )),
        Identity("inv_of_product", ABi, -(Bi * Ai * D(A) * Ai) - Bi * D(B) * Bi * Ai, _A_AND_B, (
            *_inverse_trick(A * B),
            _step(r"The inverse of a product is the product of the inverses in reverse order,", ABi, Bi * Ai),
            _step(r"and by the product rule,", D(A * B), D(A) * B + A * D(B)),
            _step(r"Substituting both and multiplying out ($\mathbf{B}\mathbf{B}^{-1} = \mathbf{A}^{-1}\mathbf{A} = \mathbf{I}$):",
                  D(ABi), -(Bi * Ai * (D(A) * B + A * D(B)) * Bi * Ai),
                  -(Bi * Ai * D(A) * Ai) - Bi * D(B) * Bi * Ai),
        )),
        Identity("inv_squared", A ** -2, -(Ai * D(A) * A ** -2) - A ** -2 * D(A) * Ai, _A_ONLY, (
            *_inverse_trick(A),
            _step(rf"Now write ${tex(A ** -2)} = {tex(Ai * Ai)}$ and apply the product rule:",
                  D(A ** -2), D(Ai * Ai), D(Ai) * Ai + Ai * D(Ai)),
            _step(f"Substituting {_ABOVE.format(tex(Ai))}:",
                  D(A ** -2), -(Ai * D(A) * Ai * Ai) - Ai * Ai * D(A) * Ai,
                  -(Ai * D(A) * A ** -2) - A ** -2 * D(A) * Ai),
        )),
        Identity("cube", A ** 3, D(A) * A ** 2 + A * D(A) * A + A ** 2 * D(A), _A_ONLY, (
            _step(rf"Write ${tex(A ** 3)} = {tex(A * A ** 2)}$ and apply the product rule:",
                  D(A ** 3), D(A * A ** 2), D(A) * A ** 2 + A * D(A ** 2)),
            _step(rf"Apply the product rule again, to ${tex(A ** 2)} = {tex(A * A)}$:",
                  D(A ** 2), D(A * A), D(A) * A + A * D(A)),
            _step("Substituting and multiplying out:",
                  D(A ** 3), D(A) * A ** 2 + A * (D(A) * A + A * D(A)), D(A) * A ** 2 + A * D(A) * A + A ** 2 * D(A)),
        )),
    ]
    return {i.name: i for i in pool}


IDENTITIES = _identities()

FAMILY = Family(
    name="matrix_inverse_derivative",
    topic="Mathematical foundations",
    title="Derivative of a matrix inverse (or power), proved with the product rule",
    parts=(Part("", 3, "prove an identity such as d(A^-1)/dx = -A^-1 (dA/dx) A^-1 from the product rule"),),
    params={"identity": f"name of the identity to prove: {', '.join(IDENTITIES)}"},
    answers=(
        Answer("identity", "", "identity", r"\text{identity}", kind="text"),
        Answer("statement", "", "statement", r"\text{show}", kind="latex"),
        Answer("steps", "", "proof step {i}", r"\text{step } {i}", kind="latex", final=False),
    ),
    constraints={
        "pool": Constraint(list(IDENTITIES), "identities a variant may ask (the original is inv)",
                           among=tuple(IDENTITIES)),
    },
    given=("statement", "with_b"),   # the question states what to prove, and of which matrices
)


# ---------------------------------------------------------------- sympy verification

_X = sp.Symbol("x")
# Exact rational functions of x, as fractions of integer polynomials: the same field as QQ(x)
# (the test matrices have integer entries), and its gcds cost half as much.
_QX = sp.ZZ.frac_field(_X)
_POINTS = (sp.QQ(-3, 2), sp.QQ(1, 3), sp.QQ(2))   # exact rational test points


@cache
def _test_matrices() -> dict[str, sp.Matrix]:
    """Random 3x3 A(x), B(x) with quadratic entries, invertible at every test point.

    Fixed seed, so the verification is the same in every run. A and B must not commute
    with each other or with their derivatives there, or a proof that swapped two factors
    would pass.
    """
    rng = np.random.default_rng(60010)

    def draw():
        return sp.Matrix(3, 3, lambda i, j: sum(int(c) * _X ** k for k, c in enumerate(rng.integers(-3, 4, 3))))

    for _ in range(100):
        mA, mB = draw(), draw()
        ok = True
        for x0 in map(sp.Rational, _POINTS):
            a, b, da, db = (m.subs(_X, x0) for m in (mA, mB, mA.diff(_X), mB.diff(_X)))
            ok &= a.det() != 0 and b.det() != 0 and a * b != b * a and a * da != da * a and b * db != db * b
        if ok:
            return {"A": mA, "B": mB}
    raise RuntimeError("no invertible, non-commuting test matrices in 100 draws")


def _entrywise(m: DomainMatrix, fn, domain) -> DomainMatrix:
    return DomainMatrix([[fn(v) for v in row] for row in m.to_list()], m.shape, domain)


@cache
def _function(e: _Expr) -> DomainMatrix:
    """The expression as a matrix of rational functions of x; a derivative is `diff` of its entries.

    Exact field arithmetic (sympy's DomainMatrix over the rational functions) keeps this fast; the inverse is
    computed as such, never through the formula being verified.
    """
    if isinstance(e, _Sym):
        if e.name in ("I", "O"):
            return DomainMatrix.eye(3, _QX) if e.name == "I" else DomainMatrix.zeros((3, 3), _QX)
        return DomainMatrix.from_Matrix(_test_matrices()[e.name]).convert_to(_QX)
    if isinstance(e, _Pow):
        m = _function(e.base)
        return (m.inv() if e.n < 0 else m) ** abs(e.n)
    if isinstance(e, _Mul):
        out = _function(e.factors[0])
        for f in e.factors[1:]:
            out = out * _function(f)
        return out
    if isinstance(e, _Add):
        return sum((_function(t) for t in e.terms[1:]), _function(e.terms[0]))
    if isinstance(e, _Neg):
        return -_function(e.arg)
    if isinstance(e, _D):
        x = _QX.gens[0]
        return _entrywise(_function(e.arg), lambda v: v.diff(x), _QX)
    raise TypeError(f"not a matrix expression: {e!r}")


def _at(v, x0):
    """One rational function of x, evaluated exactly at the rational x0."""
    def poly_at(poly):
        return sum((sp.QQ(int(c)) * x0 ** k for (k,), c in poly.terms()), sp.QQ(0))
    return poly_at(v.numer) / poly_at(v.denom)


@cache
def _value(e: _Expr, x0) -> DomainMatrix:
    """Exact value at x0 over QQ. Only derivatives need the functions of x; the rest is rational.
    Cached: the proofs share subexpressions (A^-1, dA/dx, ...) at the same test points."""
    if isinstance(e, (_D, _Sym)):
        return _entrywise(_function(e), lambda v: _at(v, x0), sp.QQ)
    if isinstance(e, _Pow):
        m = _value(e.base, x0)
        return (m.inv() if e.n < 0 else m) ** abs(e.n)
    if isinstance(e, _Mul):
        out = _value(e.factors[0], x0)
        for f in e.factors[1:]:
            out = out * _value(f, x0)
        return out
    if isinstance(e, _Add):
        return sum((_value(t, x0) for t in e.terms[1:]), _value(e.terms[0], x0))
    if isinstance(e, _Neg):
        return -_value(e.arg, x0)
    raise TypeError(f"not a matrix expression: {e!r}")


def equal(lhs: _Expr, rhs: _Expr) -> bool:
    """Whether two matrix expressions agree at every test point (exact arithmetic)."""
    return all(_value(lhs, x0) == _value(rhs, x0) for x0 in _POINTS)


@cache
def verify(name: str) -> str | None:
    """None if sympy confirms the identity and every step of its proof; else what failed."""
    ident = IDENTITIES[name]
    if not equal(D(ident.lhs), ident.rhs):
        return f"identity {name}: ${ident.statement}$ does not hold"
    for k, step in enumerate(ident.steps, start=1):
        for left, right in zip(step.chain, step.chain[1:]):
            if not equal(left, right):
                return f"identity {name}, step {k}: ${tex(left)} = {tex(right)}$ does not hold"
    last = ident.steps[-1].chain
    if last[0] != D(ident.lhs) or last[-1] != ident.rhs:
        return f"identity {name}: the last step does not arrive at the statement"
    return None


# ---------------------------------------------------------------- the family contract

def sample(rng: np.random.Generator, constraints: dict) -> dict:
    pool = constraints["pool"]
    return {"identity": pool[integers(rng, 0, len(pool) - 1)]}


def _identity(params: dict) -> Identity:
    name = params.get("identity")
    if name not in IDENTITIES:
        raise ValueError(f"unknown identity {name!r}; known: {', '.join(IDENTITIES)}")
    return IDENTITIES[name]


def solve(params: dict) -> dict:
    """The statement and its proof, line by line, as LaTeX; refused unless sympy confirms them."""
    ident = _identity(params)
    failure = verify(ident.name)
    if failure:
        raise CheckError(f"{FAMILY.name}: {failure}")
    return {
        "answers": {"identity": ident.name, "statement": NoEscape(ident.statement),
                    "steps": [NoEscape(line) for line in ident.lines]},
        "work": {"with_b": ident.with_b},
    }


def check(params: dict, answers: dict) -> None:
    """The answers must be exactly the table's identity and proof, and sympy must confirm those."""
    try:
        ident = _identity(params)
    except ValueError as exc:
        raise CheckError(f"{FAMILY.name}: {exc}") from None
    if answers["identity"] != ident.name:
        raise CheckError(f"{FAMILY.name}: identity {answers['identity']!r} is not the one asked, {ident.name!r}")
    if str(answers["statement"]) != ident.statement:
        raise CheckError(f"{FAMILY.name}: statement {answers['statement']!r} is not identity "
                         f"{ident.name}, {ident.statement!r}")
    want = ident.lines
    got = [str(s) for s in answers["steps"]]
    if got != want:
        k = next((k for k, (g, w) in enumerate(zip(got, want), start=1) if g != w), min(len(got), len(want)) + 1)
        raise CheckError(f"{FAMILY.name}: step {k} of the proof of {ident.name} differs from the verified one")
    failure = verify(ident.name)
    if failure:
        raise CheckError(f"{FAMILY.name}: {failure}")
