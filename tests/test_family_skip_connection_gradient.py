"""skip_connection_gradient (Q3): the pinned original, fairness over many seeds, check() catching
wrong keys, bounded sampling, and sympy's solutions against an independent brute force."""

from __future__ import annotations

import copy
import time
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.render import Renderer
from generator.seeding import rng_for
from conftest import sample_with

FAM = get("skip_connection_gradient")
MOD = FAM.module
PTS = {"a": 1, "b": 3, "c": 1}
ORIGINAL = {"w1": -1, "w2": 3, "g": 10}


def _g_exact(w1: int, w2: int, x: Fraction) -> Fraction:
    return max(Fraction(0), w2 * max(Fraction(0), w1 * x)) + x


def _brute_integer_solutions(p: dict, bound: int = 1000) -> list[int]:
    """Every integer x in [-bound, bound] with g(x) = value, in exact integer arithmetic."""
    w1, w2 = p["w1"], p["w2"]
    return [x for x in range(-bound, bound + 1) if max(0, w2 * max(0, w1 * x)) + x == p["g"]]


def _brute_real_solutions(p: dict) -> list[float]:
    """Sign changes of g(x) - value on a fine grid over a wide interval, then bisection."""
    w1, w2, v = p["w1"], p["w2"], p["g"]
    grid = np.linspace(-50 * (abs(v) + 1), 50 * (abs(v) + 1), 200_001) + 1e-4 * np.pi
    h = np.maximum(0, w2 * np.maximum(0, w1 * grid)) + grid - v
    roots = []
    for i in np.nonzero(np.sign(h[:-1]) != np.sign(h[1:]))[0]:
        lo, hi = grid[i], grid[i + 1]
        for _ in range(60):
            mid = (lo + hi) / 2
            hm = max(0, w2 * max(0, w1 * mid)) + mid - v
            hl = max(0, w2 * max(0, w1 * lo)) + lo - v
            lo, hi = (mid, hi) if np.sign(hm) == np.sign(hl) else (lo, mid)
        roots.append((lo + hi) / 2)
    return roots


def _fair(p: dict, answers: dict, c: dict) -> None:
    lo, hi = c["weight_range"]
    assert all(isinstance(p[k], int) and not isinstance(p[k], bool) for k in ("w1", "w2", "g"))
    assert set(p) == {"w1", "w2", "g"}
    assert lo <= p["w1"] <= hi and p["w1"] != 0
    assert lo <= p["w2"] <= hi and p["w2"] != 0
    assert c["g_range"][0] <= p["g"] <= c["g_range"][1]
    sols = answers["solutions"]
    assert len(sols) == c["solution_count"]
    xs = [s["x"] for s in sols]
    assert xs == sorted(xs)
    for s in sols:
        assert s["x"] != 0 and s["x"].is_integer
        assert set(s) == {"x", "f", "df_dx", "dg_dx"}
        assert s["dg_dx"] == s["df_dx"] + 1
        a1 = p["w1"] * s["x"]
        assert a1 != 0
        assert a1 < 0 or p["w2"] * a1 != 0     # ReLU differentiable where the chain rule needs it


def test_family_registered():
    assert FAM.spec.answer_keys == ("solutions",) and FAM.spec.fields_of("solutions") == ("x", "f", "df_dx", "dg_dx")
    assert [(q.label, q.points) for q in FAM.spec.parts] == [("a", 1), ("b", 3), ("c", 1)]
    assert list(FAM.spec.params) == ["w1", "w2", "g"]


def test_original_pinned():
    answers = FAM.solve(ORIGINAL).answers
    assert answers["solutions"] == [
        {"x": -5, "f": 15, "df_dx": -3, "dg_dx": -2},
        {"x": 10, "f": 0, "df_dx": 0, "dg_dx": 1},
    ]
    for s in answers["solutions"]:
        assert all(isinstance(v, sp.Integer) for v in s.values())
    MOD.check(ORIGINAL, answers)
    _fair(ORIGINAL, answers, FAM.constraints())
    # The original meets every sampling rule, so it is one of the variants sampling can produce.
    assert all(ok(ORIGINAL) for _, ok in MOD._rules(FAM.constraints()))


def test_original_renders():
    answers = FAM.solve(ORIGINAL).answers
    r = Renderer()
    question = r.slot(FAM, "question", ORIGINAL, answers, FAM.solve(ORIGINAL).work, PTS)
    solution = r.slot(FAM, "solution", ORIGINAL, answers, FAM.solve(ORIGINAL).work, PTS)
    assert r"\qgenSkipNets{-1}{3}" in question
    assert "$g = 10$" in question
    assert r"\qgenpart{a}{1 point}" in question and r"\qgenpart{b}{3 points}" in question
    # The paper never states a solution.
    assert "-5" not in question and "15" not in question
    for text in (r"\boxed{15}", r"\boxed{-3}", r"\boxed{-2}", r"\boxed{0}", r"\boxed{1}", "x = -5", "x = 10"):
        assert text in solution


@pytest.fixture(scope="module")
def seeded():
    """100 students' variants, sampled and solved once for the tests below (the contract test runs 500)."""
    out = []
    for i in range(100):
        rng = rng_for(2022, "test-exam", f"student{i}", "3")
        p = FAM.sample(rng, FAM.constraints())
        out.append((p, FAM.solve(p).answers))
    return out


def test_every_variant_is_fair_and_the_key_boxes_each_solution(seeded):
    r = Renderer()
    for p, answers in seeded:
        _fair(p, answers, FAM.constraints())
        MOD.check(p, answers)
        question = r.slot(FAM, "question", p, answers, FAM.solve(p).work, PTS)
        solution = r.slot(FAM, "solution", p, answers, FAM.solve(p).work, PTS)
        assert f"$g = {p['g']}$" in question
        assert "boxed" not in question
        assert solution.count(r"\boxed{") == 3 * len(answers["solutions"])
    assert len({tuple(p.values()) for p, _ in seeded}) > 40      # real variety


def test_check_rejects_tampered_answer():
    answers = FAM.solve(ORIGINAL).answers
    for key, delta in (("f", 1), ("df_dx", 1), ("dg_dx", -1), ("x", 1)):
        for i in range(2):
            bad = copy.deepcopy(answers)
            bad["solutions"][i][key] += delta
            with pytest.raises(CheckError):
                MOD.check(ORIGINAL, bad)


def test_check_rejects_missing_or_extra_solution():
    answers = FAM.solve(ORIGINAL).answers
    for i in range(2):
        bad = copy.deepcopy(answers)
        del bad["solutions"][i]
        with pytest.raises(CheckError, match="scan"):
            MOD.check(ORIGINAL, bad)
    bad = copy.deepcopy(answers)
    bad["solutions"].reverse()
    with pytest.raises(CheckError, match="sorted"):
        MOD.check(ORIGINAL, bad)
    bad = copy.deepcopy(answers)
    del bad["solutions"][0]["df_dx"]
    with pytest.raises(CheckError):
        MOD.check(ORIGINAL, bad)


def test_check_accepts_json_form():
    """answers.json holds integers, or "p/q" strings for fractions; check reads both."""
    answers = FAM.solve(ORIGINAL).answers
    as_json = {"solutions": [{k: int(v) for k, v in s.items()} for s in answers["solutions"]]}
    MOD.check(ORIGINAL, as_json)
    p = {"w1": 2, "w2": 2, "g": 7}                     # one solution, x = 7/5
    a = FAM.solve(p).answers
    assert a["solutions"][0]["x"] == sp.Rational(7, 5)
    MOD.check(p, {"solutions": [{k: str(v) for k, v in s.items()} for s in a["solutions"]]})


@pytest.mark.parametrize("override, rule", [
    ({"solution_count": 3}, "solution_count. names unknown value 3"),
    ({"g_range": [-30, -1]}, "solution_count"),      # two solutions need g > 0
    ({"weight_range": [1, 5]}, "solution_count"),    # ... and W1 < 0 < W2
    ({"g_range": [0, 0]}, "no solution at x = 0"),
])
def test_impossible_constraints_raise_quickly(override, rule):
    t = time.perf_counter()
    with pytest.raises(ConstraintError, match=rule):
        sample_with(FAM, rng_for(1, "x", "y", "3"), override)
    assert time.perf_counter() - t < 30   # bounded, not a speed test: no endless loop


def test_other_constraints_are_honoured():
    c = FAM.constraints({"solution_count": 1, "integer_solutions": False, "weight_range": [-3, 3]})
    for i in range(40):
        p = FAM.sample(rng_for(3, "other", f"s{i}", "3"), c)
        a = FAM.solve(p).answers
        assert len(a["solutions"]) == 1 and -3 <= p["w1"] <= 3 and -3 <= p["w2"] <= 3
        MOD.check(p, a)


def test_solve_agrees_with_brute_force_sampled(seeded):
    for p, answers in seeded[:200]:
        assert [s["x"] for s in answers["solutions"]] == _brute_integer_solutions(p)


def test_solve_agrees_with_brute_force_any_weights():
    """Weights of either sign, negative values of g, fractional solutions: sympy == brute force."""
    rng = np.random.default_rng(60010)
    done = 0
    while done < 150:
        p = {"w1": int(rng.integers(-6, 7)), "w2": int(rng.integers(-6, 7)), "g": int(rng.integers(-40, 41))}
        if 0 in (p["w1"], p["w2"], p["g"]):
            continue            # a zero weight, or g(0) = 0: never a variant
        answers = FAM.solve(p).answers
        xs = [s["x"] for s in answers["solutions"]]
        for x in xs:           # exact: each solution really solves g(x) = value
            assert _g_exact(p["w1"], p["w2"], Fraction(int(x.p), int(x.q))) == p["g"]
        assert np.allclose([float(x) for x in xs], _brute_real_solutions(p), atol=1e-6)
        assert len(xs) == len(_brute_real_solutions(p))
        MOD.check(p, answers)
        done += 1


def test_fast_exact_solver_agrees_with_sympy():
    """The Fraction solver that drives rejection sampling gives sympy's solutions."""
    for w1 in (-4, -1, 2, 5):
        for w2 in (-3, 1, 4):
            for g in (-9, 1, 6, 13):
                fast = MOD._exact_solutions(w1, w2, g)
                assert [sp.Rational(x.numerator, x.denominator) for x in fast] == \
                    [s["x"] for s in FAM.solve({"w1": w1, "w2": w2, "g": g}).answers["solutions"]]


def test_case_analysis_agrees_with_solveset_on_the_whole_piecewise():
    """solve() splits on the sign of x; sympy's solveset over the reals must find the same set."""
    import sympy as sp
    from generator.families.skip_connection_gradient import _X, _relu
    for w1, w2, g in [(-1, 3, 10), (-3, 1, 30), (2, 3, 14), (-2, -2, 7), (-4, 5, 38), (3, -1, 5), (-1, 1, 4)]:
        whole = sp.solveset(sp.Eq(_relu(w2 * _relu(w1 * _X)) + _X, g), _X, domain=sp.S.Reals)
        assert sorted(whole) == [s["x"] for s in FAM.solve({"w1": w1, "w2": w2, "g": g}).answers["solutions"]], (w1, w2, g)
