"""Q3 of the seed paper: the gradient through a skip connection.

Convention (stated in the question): Network-A `f = ReLU(W2 * ReLU(W1 * x))`, Network-B adds the input to the
output, `g = f + x`; no biases, 1-D input. Given `g(x) = value`, the student finds every such x,
Network-A's output there, and `df/dx`, `dg/dx = df/dx + 1` by the chain rule.

`g` is piecewise linear with its only kink at x = 0, so `g(x) = value` has at most one solution
on each side of 0. Fairness: the configured number of solutions (two, as in the original, where one
solution has a dead ReLU and the other does not), integer solutions, none at x = 0, and ReLU
differentiable wherever the chain rule needs it.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np
import sympy as sp

from generator.family import Answer, CheckError, Constraint, Family, Part, as_float, integers, sample_until

FAMILY = Family(
    name="skip_connection_gradient",
    topic="Feed-forward networks and losses",
    title="Gradient through a skip connection (two one-unit ReLU networks)",
    parts=(
        Part("a", 1, "given g(x) of Network-B, find x and Network-A's output f there"),
        Part("b", 3, "chain rule: df/dx and dg/dx at each such x"),
        Part("c", 1, "bonus: compare the gradients; why skip connections help"),
    ),
    params={"w1": "weight W1 (input to hidden unit)", "w2": "weight W2 (hidden unit to output)",
            "g": "the output g of Network-B that the student is given"},
    answers=(
        Answer("solutions.x", "a", "x (solution {i})", "x_{i}", unordered=True),
        Answer("solutions.f", "a", "f (solution {i})", "f(x_{i})", unordered=True),
        Answer("solutions.df_dx", "b", "df/dx (solution {i})", r"\partial f/\partial x\,(x_{i})", unordered=True),
        Answer("solutions.dg_dx", "b", "dg/dx (solution {i})", r"\partial g/\partial x\,(x_{i})", unordered=True),
    ),
    constraints={
        "weight_range": Constraint([-5, 5], "W1, W2 are nonzero integers in this range"),
        "g_range": Constraint([1, 30], "the given g is an integer in this range"),
        # g is linear on each side of its only kink, so at most 2 isolated solutions; 0 is no question.
        "solution_count": Constraint(2, "real solutions of g(x) = value (the original has two)", among=(1, 2)),
        "integer_solutions": Constraint(True, "every solution x is an integer"),
        "min_active_slope": Constraint(2, "|1 + W1 W2| on the branch where both ReLUs fire at least this "
                                          "(1 makes x = -g)", min=0),
    },
    rules={
        "finitely many solutions": "g(x) = value does not hold on a whole interval",
        "no solution at x = 0": "no solution sits on the kink of ReLU",
        "solution_count": "g(x) = value has exactly solution_count solutions",
        "ReLU differentiable at every solution": "the chain rule needs no derivative of ReLU at 0",
        "min_active_slope": "|1 + W1 W2| >= min_active_slope",
        "integer_solutions": "every solution x is an integer (when the constraint is on)",
    },
)

_X = sp.Symbol("x", real=True)


def _relu(z):
    # Piecewise rather than Max: sympy's `solve` drops solutions of Max equations (e.g. x = -6 of
    # Max(0, 3*Max(0, -x)) + x - 12, keeping only 12).
    return sp.Piecewise((z, z > 0), (0, True))


# --- sampling: exact rational arithmetic, fast enough for rejection sampling -------------------

@lru_cache(maxsize=4096)
def _exact_solutions(w1: int, w2: int, g: int) -> tuple[Fraction, ...] | None:
    """All real x with g(x) = value, sorted; None when there are infinitely many."""
    found = [Fraction(0)] if g == 0 else []          # g(0) = 0
    for side in (1, -1):                             # the half-line side * x > 0
        first = w1 * side > 0                        # first ReLU active there
        second = first and w2 * w1 * side > 0        # second ReLU active there
        slope = 1 + (w1 * w2 if second else 0)       # g = slope * x on this half-line
        if slope == 0:
            if g == 0:
                return None
            continue
        x = Fraction(g, slope)
        if x * side > 0:
            found.append(x)
    return tuple(sorted(found))


def _differentiable(w1: int, w2: int, x: Fraction) -> bool:
    """ReLU has a derivative wherever the chain rule needs one at x.

    a2 = 0 is harmless when h1 = 0 (then h1, a2 and f are 0 on a neighbourhood of x, as at the
    original's x = 10); a1 = 0 or a2 = 0 with h1 > 0 is not.
    """
    a1 = w1 * x
    return a1 != 0 and (a1 < 0 or w2 * a1 != 0)


def _rules(constraints: dict) -> list:
    count = constraints["solution_count"]

    def sols(p):
        return _exact_solutions(p["w1"], p["w2"], p["g"])

    rules = [
        ("finitely many solutions", lambda p: sols(p) is not None),
        ("no solution at x = 0", lambda p: 0 not in sols(p)),
        ("solution_count", lambda p: len(sols(p)) == count),
        ("ReLU differentiable at every solution",
         lambda p: all(_differentiable(p["w1"], p["w2"], x) for x in sols(p))),
    ]
    rules.append(("min_active_slope", lambda p: abs(1 + p["w1"] * p["w2"]) >= constraints["min_active_slope"]))
    if constraints["integer_solutions"]:
        rules.append(("integer_solutions", lambda p: all(x.denominator == 1 for x in sols(p))))
    return rules


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    wlo, whi = constraints["weight_range"]
    glo, ghi = constraints["g_range"]

    def draw(r):
        return {"w1": integers(r, wlo, whi, nonzero=True), "w2": integers(r, wlo, whi, nonzero=True),
                "g": integers(r, glo, ghi)}

    return sample_until(rng, draw, _rules(constraints), family=FAMILY.name)


# --- solving: sympy, exact ---------------------------------------------------------------------

def _relu_on(z: sp.Expr) -> sp.Expr:
    """ReLU of a pre-activation whose sign the assumptions on x decide (else an error)."""
    if z.is_positive:
        return z
    if z.is_nonpositive:
        return sp.Integer(0)
    raise ValueError(f"the sign of {z} is not decided on this half-line")


def _relu_at(z: sp.Expr) -> sp.Expr:
    """ReLU at a number, exactly (what sp.Max(0, z) gives, without its argument sorting)."""
    return z if z.is_positive else sp.Integer(0)


def _g_at(w1, w2, x):
    """g(x) = ReLU(W2 ReLU(W1 x)) + x at a number, exactly."""
    return _relu_at(w2 * _relu_at(w1 * x)) + x


def _sign_rel(e):
    if e == 0:
        return sp.Integer(0)
    return sp.Gt(e, 0, evaluate=False) if e.is_positive else sp.Lt(e, 0, evaluate=False)


@lru_cache(maxsize=1024)
def _branch(w1: sp.Integer, w2: sp.Integer, positive: bool) -> dict:
    """One side of the kink, whatever the given value: the ReLUs resolved by the sign of x, g and
    its slope there. Symbolic and the same for every g, so derived once per process."""
    xs = sp.Symbol("x", positive=True) if positive else sp.Symbol("x", negative=True)
    cond = sp.Gt(xs, 0, evaluate=False) if positive else sp.Lt(xs, 0, evaluate=False)
    a1 = w1 * xs
    h1 = _relu_on(a1)                  # the sign assumption on xs decides each ReLU
    a2 = w2 * h1
    f = _relu_on(a2)
    g = f + xs
    return {"cond": cond, "a1_rel": _sign_rel(a1), "h1": h1, "a2_rel": _sign_rel(a2), "f": f, "g": g,
            "slope": sp.diff(g, xs), "df_dx": sp.diff(f, xs), "states_x": g != xs}


def _case(w1, w2, value, positive: bool) -> dict:
    """One side of the kink: the ReLUs resolved by the sign of x, then the linear equation."""
    branch = _branch(w1, w2, positive)
    slope, g = branch["slope"], branch["g"]
    # g = slope * x on the half-line (no biases): solve without the sign assumption, test it after.
    if slope == 0:
        if value == 0:
            raise ValueError(f"g = 0 for every x with {sp.latex(branch['cond'])}: infinitely many solutions")
        x0, inside = None, False
    else:
        x0 = value / slope
        inside = bool(x0 > 0) if positive else bool(x0 < 0)
    # The template words the case: impossible (x0 None), or x0 (stated unless g = x) inside or not.
    return {"cond": branch["cond"], "a1_rel": branch["a1_rel"], "h1": branch["h1"], "a2_rel": branch["a2_rel"],
            "f": branch["f"], "g": g, "equation": sp.Eq(g, value, evaluate=False), "x0": x0,
            "states_x": branch["states_x"], "inside": inside, "solution": x0 if inside else None,
            "df_dx": branch["df_dx"]}


def _work(w1, w2, x0, case: dict) -> dict:
    """Forward pass and chain rule at one solution, cross-checked against d/dx of the case's f."""
    a1 = w1 * x0
    h1 = _relu_at(a1)
    a2 = w2 * h1
    f = _relu_at(a2)
    if a1 == 0 or (a2 == 0 and h1 != 0):
        raise ValueError(f"at x = {x0}: a pre-activation is 0 where ReLU has no derivative")
    r1 = sp.Integer(1 if a1 > 0 else 0)                        # ReLU'(a1)
    # a2 = 0 only where h1 = 0 on a neighbourhood: the factor ReLU'(a1) = 0 decides, ReLU'(0) never
    # matters (the template says so).
    r2 = sp.Integer(1 if a2 > 0 else 0)
    df_dx = r2 * w2 * r1 * w1                                  # chain rule, factor by factor
    by_diff = case["df_dx"]                                    # d/dx of f on this half-line, where it is linear
    if df_dx != by_diff:
        raise ValueError(f"at x = {x0}: chain rule gives df/dx = {df_dx}, differentiation {by_diff}")
    dg_dx = df_dx + 1
    return {"x": x0, "a1": a1, "h1": h1, "a2": a2, "f": f, "r1": r1, "r2": r2, "a2_is_0": a2 == 0,
            "df_dx": df_dx, "dg_dx": dg_dx}


def solve(params: dict) -> dict:
    """Solve g(x) = value over the reals, case by case on the sign of x, and derive.

    On each half-line the sign assumption decides both ReLUs, leaving g = slope * x, linear;
    x = 0 is checked on its own. (`solveset` on the whole Piecewise agrees, see the tests, but
    costs a hundred times as much per variant.)
    """
    w1, w2, value = (sp.Integer(params[k]) for k in ("w1", "w2", "g"))
    if value == 0:
        raise ValueError("g(0) = 0 = the given value: a solution at x = 0, where ReLU has no derivative")
    cases = [_case(w1, w2, value, positive=True), _case(w1, w2, value, positive=False)]
    xs = sorted(c["solution"] for c in cases if c["solution"] is not None)

    work = [_work(w1, w2, x0, cases[0] if x0 > 0 else cases[1]) for x0 in xs]
    for w in work:
        if _g_at(w1, w2, w["x"]) != value or w["f"] + w["x"] != value:
            raise ValueError(f"x = {w['x']} does not give g = {value}")
    return {
        "answers": {"solutions": [{"x": w["x"], "f": w["f"], "df_dx": w["df_dx"], "dg_dx": w["dg_dx"]}
                                  for w in work]},
        "work": {"solution_set": sp.FiniteSet(*xs), "solutions": work,
                 "cases": [{k: v for k, v in c.items() if k != "df_dx"} for c in cases]},
    }


# --- checking: floating point, another way ------------------------------------------------------

def _roots_by_scan(w1: float, w2: float, value: float, half_width: float) -> list[float]:
    """Every root of g(x) - value on [-half_width, half_width] by a dense sign-change scan + bisection."""
    n = 100_001
    grid = np.linspace(-half_width, half_width, n)
    # An irrational fraction of a step keeps grid points off the (rational) roots and off x = 0.
    grid += (np.sqrt(2) - 1) * (grid[1] - grid[0])
    # h = g(grid) - value = max(0, W2 max(0, W1 x)) + x - value, in place (fewer passes over 100,001 floats)
    h = grid * w1
    np.maximum(h, 0.0, out=h)
    h *= w2
    np.maximum(h, 0.0, out=h)
    h += grid
    h -= value
    if np.count_nonzero(np.abs(h) < 1e-9) > 1:
        raise CheckError(f"{FAMILY.name}: g(x) = {value:g} holds on a whole interval (scan)")
    sign = np.sign(h)
    idx = np.nonzero(sign[:-1] != sign[1:])[0]
    # Bisect each bracket in plain floats (the same IEEE arithmetic as numpy's, on a handful of
    # brackets, where numpy's per-call cost would dominate).
    roots = []
    for lo, hi in zip(grid[idx].tolist(), grid[idx + 1].tolist()):
        for _ in range(80):
            mid = (lo + hi) / 2
            if _sign(_g_float(lo, w1, w2) - value) == _sign(_g_float(mid, w1, w2) - value):
                lo = mid
            else:
                hi = mid
        roots.append((lo + hi) / 2)
    return roots


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)


def _f_float(x: float, w1: float, w2: float) -> float:
    """Network-A at one float, in plain Python (numpy's per-call cost dwarfs one multiply)."""
    return max(0.0, w2 * max(0.0, w1 * x))


def _g_float(x: float, w1: float, w2: float) -> float:
    return _f_float(x, w1, w2) + x


def check(params: dict, answers: dict) -> None:
    """Recompute in floating point: g and f by numpy, derivatives by central differences, and a
    brute-force scan of a wide interval for every real solution."""
    w1, w2, value = (float(params[k]) for k in ("w1", "w2", "g"))

    def close(name, got, want, tol=1e-6):
        if not (got == want or abs(got - want) <= tol):      # np.isclose(got, want, rtol=0, atol=tol)
            raise CheckError(f"{FAMILY.name}: {name} = {got:g} but the numeric path gives {want:.6g}")

    try:
        sols = [{k: as_float(s[k]) for k in ("x", "f", "df_dx", "dg_dx")} for s in answers["solutions"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckError(f"{FAMILY.name}: malformed solutions {answers.get('solutions')!r}: {exc}") from None
    xs = [s["x"] for s in sols]
    if xs != sorted(set(xs)):
        raise CheckError(f"{FAMILY.name}: solutions x = {xs} are not distinct and sorted")

    for s in sols:
        x = s["x"]
        eps = 1e-6 * max(1.0, abs(x))
        close(f"g({x:g})", _g_float(x, w1, w2), value)
        close(f"f at x = {x:g}", s["f"], _f_float(x, w1, w2))
        close(f"df/dx at x = {x:g}", s["df_dx"], (_f_float(x + eps, w1, w2) - _f_float(x - eps, w1, w2)) / (2 * eps))
        close(f"dg/dx at x = {x:g}", s["dg_dx"], (_g_float(x + eps, w1, w2) - _g_float(x - eps, w1, w2)) / (2 * eps))

    half_width = 100 * (abs(value) + 1 + max([abs(x) for x in xs], default=0))
    roots = _roots_by_scan(w1, w2, value, half_width)
    if len(roots) != len(xs) or not all(abs(r - x) <= 1e-6 for r, x in zip(roots, xs)):
        raise CheckError(f"{FAMILY.name}: a scan of [-{half_width:g}, {half_width:g}] finds g = {value:g} at"
                         f" x = {np.round(roots, 6).tolist()} but the answer lists x = {xs}")
