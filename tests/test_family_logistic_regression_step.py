"""logistic_regression_step: the originals pinned (values worked out independently with plain
floats), check() catching tampered answers, every points/features setting through sample, solve,
check and render, and the fairness rules particular to it (no gradient that cancels to a plain
fraction, a misclassified point, distinct points of both classes)."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest
import sympy as sp

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.render import Renderer
from generator.seeding import rng_for
from conftest import sample_with

FAM = get("logistic_regression_step")
MOD = FAM.module
PTS = {"a": 2, "b": 2, "c": 3, "d": 1}
ORIGINAL = {"x": [[2, 1], [1, -1], [-1, 1], [0, 2]], "y": [1, 0, 1, 0], "w": [1, -1], "b": 1, "lr": 0.5}
ONE_FEATURE = {"x": [[-2], [1], [2]], "y": [0, 1, 0], "w": [1], "b": 1, "lr": 0.5}
SETTINGS = [{}, {"points": 3}, {"features": 1}, {"points": 3, "features": 1}]


def _close(got, want, tol=1e-6):
    got = [float(v) for v in got] if isinstance(got, list) else float(got)
    assert np.allclose(got, want, rtol=0, atol=tol), (got, want)


def test_original_pinned():
    a = FAM.solve(ORIGINAL).answers
    assert a["z"] == [2, 3, -1, -1]
    _close(a["p"], [0.880797, 0.952574, 0.268941, 0.268941])
    _close(a["loss"], 1.20051)
    _close(a["dL_dw"], [0.361307, -0.316238])
    _close(a["dL_db"], 0.092814)
    _close(a["w_new"], [0.819347, -0.841881])
    _close(a["b_new"], 0.953593)
    FAM.check(ORIGINAL, a)


def test_one_feature_original_pinned():
    a = FAM.solve(ONE_FEATURE).answers
    assert a["z"] == [-1, 2, 3]
    _close(a["p"], [0.268941, 0.880797, 0.952574])
    _close(a["loss"], 1.162926)
    _close(a["dL_dw"], [0.416021])
    _close(a["dL_db"], 0.367438)
    _close(a["w_new"], [0.79199])
    _close(a["b_new"], 0.816281)
    FAM.check(ONE_FEATURE, a)


@pytest.mark.parametrize("key,value", [("loss", sp.Rational(6, 5)), ("dL_db", sp.Rational(93, 1000)),
                                       ("z", [2, 3, -1, 1]), ("b_new", sp.Rational(9536, 10000))])
def test_check_catches_a_wrong_answer(key, value):
    answers = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    answers[key] = value
    with pytest.raises(CheckError, match=key):
        FAM.check(ORIGINAL, answers)


def test_check_catches_a_sum_instead_of_a_mean():
    """A key that forgot the 1/n of the mean loss (gradient 4 times too big) is caught."""
    answers = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    answers["dL_dw"] = [4 * g for g in answers["dL_dw"]]
    with pytest.raises(CheckError, match="dL_dw"):
        FAM.check(ORIGINAL, answers)


@pytest.mark.parametrize("overrides", SETTINGS)
def test_every_setting_samples_solves_checks_and_renders(overrides):
    c = FAM.constraints(overrides)
    renderer = Renderer()
    for i in range(80):
        p = FAM.sample(rng_for(5, "lr", f"s{i}", "1"), c)
        assert len(p["x"]) == len(p["y"]) == c["points"]
        assert len(p["w"]) == c["features"] and all(len(xi) == c["features"] for xi in p["x"])
        sol = FAM.solve(p)
        FAM.check(p, sol.answers)
        assert len(sol.answers["z"]) == c["points"] and len(sol.answers["dL_dw"]) == c["features"]
        question = renderer.slot(FAM, "question", p, sol.answers, sol.work, PTS)
        key = renderer.slot(FAM, "solution", p, sol.answers, sol.work, PTS)
        assert r"\boxed" not in question
        assert key.count(r"\boxed") == 2 * c["points"] + 1 + 2 * (c["features"] + 1)


def test_fairness_over_many_seeds():
    for overrides in SETTINGS:
        c = FAM.constraints(overrides)
        n = c["points"]
        for i in range(150):
            p = FAM.sample(rng_for(3, "lr", f"s{i}", "1"), c)
            assert len({tuple(xi) for xi in p["x"]}) == n and 0 < sum(p["y"]) < n
            z = [sum(wk * xk for wk, xk in zip(p["w"], xi)) + p["b"] for xi in p["x"]]
            assert 0 not in z and max(map(abs, z)) <= c["max_logit"]
            assert any((t > 0) != (yi == 1) for t, yi in zip(z, p["y"])), "some point is misclassified"
            a = FAM.solve(p).answers
            for g in [*a["dL_dw"], a["dL_db"]]:
                assert abs(float(g)) >= c["min_gradient"]
                scaled = sp.N(n * g, 50)                 # a cancelled component is (whole number) / n
                assert abs(scaled - round(scaled)) > 1e-30, (p, g)


def test_the_cancellation_rule_sees_what_sympy_sees():
    """Logits -2, -3, 2, 3 with labels 1, 0, 0, 1: the sigmoid terms of dL/db cancel (to 0)."""
    p = {"x": [[1, -2], [-2, -1], [-1, 1], [0, 1]], "y": [1, 0, 0, 1], "w": [1, 2], "b": 1, "lr": 0.5}
    z = MOD._logits(p)
    assert z == [-2, -3, 2, 3]
    assert MOD._cancels(p, z)
    scaled = sp.N(4 * FAM.solve(p).answers["dL_db"], 50)
    assert abs(scaled - round(scaled)) < 1e-40
    assert not MOD._cancels(ORIGINAL, MOD._logits(ORIGINAL))


def test_too_few_points_for_the_feature_range_fails_at_once():
    start = time.perf_counter()
    with pytest.raises(ConstraintError, match="distinct points"):
        sample_with(FAM, rng_for(1, "e", "s", "1"), {"features": 1, "feature_range": [0, 2]})
    assert time.perf_counter() - start < 30   # bounded, not a speed test: no endless loop


def test_hopeless_constraint_fails_fast():
    start = time.perf_counter()
    with pytest.raises(ConstraintError, match="could not be met"):
        sample_with(FAM, rng_for(1, "e", "s", "1"), {"min_gradient": 5.0})
    assert time.perf_counter() - start < 30   # bounded, not a speed test: no endless loop
