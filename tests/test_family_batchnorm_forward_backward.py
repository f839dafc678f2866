"""batchnorm_forward_backward: the pinned original (worked by hand), check() catching wrong keys,
the structure of the sampled batches, and a hopeless constraint failing fast."""

from __future__ import annotations

import copy
import time
from fractions import Fraction

import pytest
import sympy as sp

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.render import Renderer
from generator.seeding import rng_for
from conftest import sample_with

FAM = get("batchnorm_forward_backward")
MOD = FAM.module
PTS = {"a": 2, "b": 3, "c": 2, "d": 3}
ORIGINAL = {"x": [4, 10, -4, 2], "gamma": 2, "beta": 1, "epsilon": 0.0, "dy": [1, -2, 3, 1]}
R = sp.Rational


def test_original_pinned():
    # By hand: mu = 12/4 = 3, deviations 1, 7, -7, -1, sigma^2 = 100/4 = 25, s = 5;
    # y = 2 x^ + 1; dL/dgamma = (1 - 14 - 21 - 1)/5 = -7, dL/dbeta = 3;
    # dL/dx_i = 2/(4*5) (4 g_i - 3 - d_i (-35)/25).
    answers = FAM.solve(ORIGINAL).answers
    assert answers == {
        "mean": 3, "var": 25,
        "x_hat": [R(1, 5), R(7, 5), R(-7, 5), R(-1, 5)],
        "y": [R(7, 5), R(19, 5), R(-9, 5), R(3, 5)],
        "dL_dgamma": -7, "dL_dbeta": 3,
        "dL_dx": [R(6, 25), R(-3, 25), R(-2, 25), R(-1, 25)],
    }
    MOD.check(ORIGINAL, answers)


def test_original_renders_without_answers_in_the_question():
    sol = FAM.solve(ORIGINAL)
    r = Renderer()
    question = r.slot(FAM, "question", ORIGINAL, sol.answers, sol.work, PTS)
    key = r.slot(FAM, "solution", ORIGINAL, sol.answers, sol.work, PTS)
    assert "boxed" not in question and "take $\\epsilon = 0$" in question
    assert "\\qgenBatchnormFwdBwdGraph" in question
    for text in (r"\boxed{3}", r"\boxed{25}", r"\boxed{-7}", r"\boxed{0.2400}", r"\boxed{-0.0400}"):
        assert text in key
    assert key.count(r"\boxed{") == 2 + 2 * 4 + 2 + 4


def test_epsilon_gives_irrational_answers_to_four_decimals():
    p = dict(ORIGINAL, epsilon=0.01)
    sol = FAM.solve(p)
    assert not sol.answers["x_hat"][0].is_Rational
    assert float(sol.answers["x_hat"][0]) == pytest.approx(1 / 25.01 ** 0.5, abs=1e-12)
    MOD.check(p, sol.answers)
    question = Renderer().slot(FAM, "question", p, sol.answers, sol.work, PTS)
    assert "four decimal places" in question and "0.01" in question


@pytest.mark.parametrize("key, index, delta", [
    ("mean", None, 1), ("var", None, -1), ("x_hat", 2, R(1, 100)), ("y", 0, 1),
    ("dL_dgamma", None, R(1, 1000)), ("dL_dbeta", None, 1), ("dL_dx", 3, R(1, 1000)),
])
def test_check_rejects_tampered_answer(key, index, delta):
    bad = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    if index is None:
        bad[key] += delta
    else:
        bad[key][index] += delta
    with pytest.raises(CheckError, match=key):
        MOD.check(ORIGINAL, bad)


def test_check_rejects_the_unbatched_gradient():
    """gamma dL/dy_i / s, the gradient that forgets mu and sigma^2 depend on x, is caught."""
    bad = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    bad["dL_dx"] = [R(2 * g, 5) for g in ORIGINAL["dy"]]
    with pytest.raises(CheckError, match="dL_dx"):
        MOD.check(ORIGINAL, bad)


@pytest.mark.parametrize("overrides", [{}, {"batch_size": 5}, {"batch_size": 5, "epsilon": 0.001}])
def test_sampled_batches_are_nice_and_fair(overrides):
    c = FAM.constraints(overrides)
    n = c["batch_size"]
    seen = set()
    for i in range(150):
        p = FAM.sample(rng_for(5, "bn", f"s{i}", "1"), c)
        x = p["x"]
        assert len(x) == n == len(p["dy"]) and len(set(x)) == n
        mean = Fraction(sum(x), n)
        var = sum((v - mean) ** 2 for v in x) / n
        assert mean.denominator == 1 and c["mean_range"][0] <= mean <= c["mean_range"][1]
        sigma = int(var ** 0.5 + 0.5)
        assert sigma * sigma == var and c["std_range"][0] <= sigma <= c["std_range"][1]
        assert mean not in x and abs(p["gamma"]) >= 2 and p["beta"] != 0 and 0 not in p["dy"]
        a = FAM.solve(p).answers
        assert a["dL_dbeta"] != 0 and a["dL_dgamma"] != 0 and all(v != 0 for v in a["dL_dx"])
        assert sp.nsimplify(sum(a["dL_dx"])) == 0 or abs(float(sum(a["dL_dx"]))) < 1e-12
        if p["epsilon"] == 0:
            assert all(v.is_Rational for v in [*a["x_hat"], *a["y"], *a["dL_dx"], a["dL_dgamma"]])
        seen.add((tuple(x), p["gamma"], p["beta"], tuple(p["dy"])))
    assert len(seen) > 120


@pytest.mark.parametrize("overrides, rule", [
    ({"std_range": [3, 3], "batch_size": 5}, "variance is a perfect square"),   # no pattern at all
    ({"std_range": [2, 4], "batch_size": 4}, "inputs are distinct"),           # only tied patterns
    ({"gamma_range": [-1, 1]}, "gamma"),
])
def test_impossible_constraints_fail_quickly(overrides, rule):
    t = time.perf_counter()
    with pytest.raises(ConstraintError, match=rule):
        sample_with(FAM, rng_for(1, "x", "y", "1"), overrides)
    assert time.perf_counter() - t < 30   # bounded, not a speed test: no endless loop


def test_deviation_patterns_agree_with_brute_force():
    """The sampler's pattern enumerator (sum d = 0, sum d^2 = N sigma^2) against all multisets."""
    import itertools
    from math import isqrt
    for n in (4, 5):
        for sigma in range(1, 7):
            bound = isqrt(n * sigma * sigma)
            brute = {c for c in itertools.combinations_with_replacement(range(bound, -bound - 1, -1), n)
                     if sum(c) == 0 and sum(v * v for v in c) == n * sigma * sigma}
            assert set(MOD._deviation_patterns(n, sigma)) == brute, (n, sigma)
