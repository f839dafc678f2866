"""relu_net_backprop (Q2): the original pinned, 500 seeds checked, fairness, failures raised."""

from __future__ import annotations

import copy

import pytest

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.render import Renderer
from generator.seeding import rng_for
from conftest import sample_with

FAM = get("relu_net_backprop")
DEFAULTS = FAM.constraints()
POINTS = {"a": 2, "b": 4, "c": 2, "d": 2}
ORIGINAL = {"x": [5, 2], "w": [[-1, 3], [1, 2]]}


def test_original_answers_pinned():
    a = FAM.solve(ORIGINAL).answers
    assert a["a"] == [-3, 19] and a["h"] == [0, 19] and a["f"] == 19
    assert a["df_dh"] == [1, 1] and a["df_da"] == [0, 1]
    assert a["df_dw"] == [[0, 5], [0, 2]] and a["df_dx"] == [3, 2]
    FAM.check(ORIGINAL, a)


def _brute(params):
    """Plain-Python forward and backward pass, written independently of solve()."""
    x, w = params["x"], params["w"]
    a = [w[0][j] * x[0] + w[1][j] * x[1] for j in range(2)]
    g = [1 if v > 0 else 0 for v in a]
    return {"a": a, "h": [max(0, v) for v in a], "f": sum(max(0, v) for v in a), "df_da": g,
            "df_dw": [[x[i] * g[j] for j in range(2)] for i in range(2)],
            "df_dx": [sum(w[i][j] * g[j] for j in range(2)) for i in range(2)]}


def test_the_chain_rule_agrees_with_plain_python_and_the_figure_shows_the_weights():
    # 500 seeds through sample, solve, check and render are the contract test's; these are Q2's own.
    renderer = Renderer()
    seen = set()
    for i in range(100):
        params = FAM.sample(rng_for(2022, "test-exam", f"student{i}", "2"), DEFAULTS)
        x, w = params["x"], params["w"]
        assert all(1 <= v <= 9 for v in x)
        assert all(-4 <= v <= 4 and v != 0 for row in w for v in row)
        answers = FAM.solve(params).answers
        assert 0 not in answers["a"], "ReLU has no derivative at 0"
        assert sum(int(v) < 0 for v in answers["a"]) == 1, "exactly one dead unit, like the original"
        FAM.check(params, answers)
        for key, want in _brute(params).items():
            assert answers[key] == want, (params, key)
        question = renderer.slot(FAM, "question", params, answers, FAM.solve(params).work, POINTS)
        solution = renderer.slot(FAM, "solution", params, answers, FAM.solve(params).work, POINTS)
        assert f"w_{{12}} = {w[0][1]}" in question and r"\qgenReluNet" in question
        assert r"\boxed" not in question and r"\boxed" in solution
        seen.add(str(params))
    assert len(seen) > 90, "the sampler should rarely repeat itself"


def test_which_unit_is_dead_varies():
    dead = {FAM.solve(FAM.sample(rng_for(1, "e", f"s{i}", "2"), DEFAULTS)).answers["h"].index(0) for i in range(60)}
    assert dead == {0, 1}


@pytest.mark.parametrize("key,value", [("f", 20), ("df_dx", [3, 3]), ("df_dw", [[0, 5], [2, 0]]), ("a", [-3, 18])])
def test_check_catches_a_wrong_answer(key, value):
    answers = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    answers[key] = value
    with pytest.raises(CheckError):
        FAM.check(ORIGINAL, answers)


def test_impossible_constraints_fail_fast_naming_the_constraint():
    with pytest.raises(ConstraintError, match="dead_units. names unknown value 3"):
        sample_with(FAM, rng_for(1, "e", "s", "2"), {"dead_units": 3})


def test_solve_refuses_a_zero_preactivation():
    with pytest.raises(ValueError, match="0"):
        FAM.solve({"x": [1, 1], "w": [[1, 2], [-1, 1]]}).answers
