"""scaled_dot_product_attention: the original pinned with and without the causal mask (values
computed by hand with math.exp, written as literals), tampered answers caught, the fairness
properties particular to the family (no shift-equivalent softmax rows, no ties), answer shapes per
slot, and a hopeless constraint failing fast."""

from __future__ import annotations

import copy
import time

import pytest
import sympy as sp

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.render import Renderer
from generator.seeding import rng_for
from conftest import sample_with

FAM = get("scaled_dot_product_attention")
PTS = {"a": 2, "b": 3, "c": 3}
MATRICES = {"q": [[1, 0], [2, -1], [-1, 1]], "k": [[2, 1], [0, 1], [-1, 1]], "v": [[1, 2], [3, -1], [-2, 1]]}
ORIGINAL = {**MATRICES, "causal": False}
CAUSAL = {**MATRICES, "causal": True}
WANT = {
    False: {
        "scores": [[1.4142135624, 0.0, -0.7071067812], [2.1213203436, -0.7071067812, -2.1213203436],
                   [-0.7071067812, 0.7071067812, 1.4142135624]],
        "weights": [[0.7336811065, 0.1783701547, 0.0879487388], [0.9315537677, 0.0550601809, 0.0133860514],
                    [0.0743196311, 0.3056952508, 0.619985118]],
        "outputs": [[1.0928940931, 1.376940797], [1.0699622077, 1.8214334059], [-0.2485648525, 0.4629291294]],
    },
    True: {
        "scores": [[1.4142135624], [2.1213203436, -0.7071067812], [-0.7071067812, 0.7071067812, 1.4142135624]],
        "weights": [[1.0], [0.9441927808, 0.0558072192], [0.0743196311, 0.3056952508, 0.619985118]],
        "outputs": [[1.0, 2.0], [1.1116144384, 1.8325783424], [-0.2485648525, 0.4629291294]],
    },
}


@pytest.mark.parametrize("params", [ORIGINAL, CAUSAL], ids=["unmasked", "causal"])
def test_original_pinned(params):
    a = FAM.solve(params).answers
    for key, rows in WANT[params["causal"]].items():
        got = [[float(v) for v in row] for row in a[key]]
        assert [len(r) for r in got] == [len(r) for r in rows], key
        assert got == [pytest.approx(r, abs=1e-9) for r in rows], key
    if params["causal"]:
        assert a["weights"][0] == [1] and a["outputs"][0] == [1, 2]    # exact: row 1 sees itself only
    else:
        assert a["scores"][0][1] == 0                                  # exact: q_1 . k_2 = 0
    FAM.check(params, a)


def test_key_prints_the_mask_and_the_numbers():
    renderer = Renderer()
    sol = FAM.solve(CAUSAL)
    question = renderer.slot(FAM, "question", CAUSAL, sol.answers, sol.work, PTS)
    key = renderer.slot(FAM, "solution", CAUSAL, sol.answers, sol.work, PTS)
    assert r"\qgenScaledDotProductAttentionMatrixThree{Q}{1}{0}{2}{-1}{-1}{1}" in question
    assert r"e^{-\infty} = 0" in question and r"\boxed" not in question and "0.9442" not in question
    for text in (r"q_{2} \cdot k_{1} &= 2\cdot2 + (-1)\cdot1 = 3", r"-\infty", r"\boxed{2.1213}",
                 r"\alpha_{11} = e^{s_{11}}/e^{s_{11}} = \boxed{1}", r"\boxed{0.9442}", r"\boxed{1.1116}"):
        assert text in key, text
    sol = FAM.solve(ORIGINAL)
    key = renderer.slot(FAM, "solution", ORIGINAL, sol.answers, sol.work, PTS)
    assert r"-\infty" not in key and r"e^{0} = 1" in key and r"\boxed{0}" in key


@pytest.mark.parametrize("params,key,index,value", [
    (ORIGINAL, "scores", (0, 0), sp.sqrt(2) + sp.Rational(1, 1000)),
    (ORIGINAL, "weights", (1, 2), sp.Rational(134, 10000)),       # the rounding, not the value
    (ORIGINAL, "outputs", (2, 1), sp.Rational(4629, 10000)),
    (CAUSAL, "weights", (0, 0), sp.Rational(1, 2)),
])
def test_check_catches_a_wrong_answer(params, key, index, value):
    answers = copy.deepcopy(FAM.solve(params).answers)
    answers[key][index[0]][index[1]] = value
    with pytest.raises(CheckError, match=key):
        FAM.check(params, answers)


def test_check_catches_a_masked_entry_given_as_an_answer():
    answers = copy.deepcopy(FAM.solve(CAUSAL).answers)
    answers["weights"][0] = [sp.Integer(1), sp.Integer(0), sp.Integer(0)]
    with pytest.raises(CheckError, match="shape"):
        FAM.check(CAUSAL, answers)


def _pattern(row):
    d = sorted(row)
    return tuple(x - d[0] for x in d)


@pytest.mark.parametrize("overrides", [{}, {"causal": True}, {"tokens": 2}, {"tokens": 2, "causal": True}])
def test_fairness_and_shapes(overrides):
    c = FAM.constraints(overrides)
    n, causal = c["tokens"], c["causal"]
    shapes, seen = set(), set()
    for i in range(250):
        p = FAM.sample(rng_for(3, "fair", f"s{i}", "1"), c)
        assert p["causal"] is causal and len(p["q"]) == len(p["k"]) == len(p["v"]) == n
        assert all(any(row) for row in p["q"] + p["k"]) and all(x != 0 for row in p["v"] for x in row)
        dots = [[sum(a * b for a, b in zip(q, k)) for k in p["k"]] for q in p["q"]]
        rows = [row[: i + 1] if causal else row for i, row in enumerate(dots)]
        assert all(len(set(r)) == len(r) and all(abs(x) <= 4 for x in r) for r in rows)
        assert len({_pattern(r) for r in rows}) == n, "two rows with the same softmax weights"
        a = FAM.solve(p).answers
        shapes.add(tuple(tuple(len(r) for r in a[key]) for key in ("scores", "weights", "outputs")))
        seen.add(str(p))
    want_rows = tuple(range(1, n + 1)) if causal else (n,) * n
    assert shapes == {(want_rows, want_rows, (2,) * n)}, "every student of a slot has the same columns"
    assert len(seen) > 240


def test_hopeless_constraint_fails_fast():
    start = time.perf_counter()
    with pytest.raises(ConstraintError, match="queries differ"):          # every row is (1, 1)
        sample_with(FAM, rng_for(1, "t", "x", "1"), {"qk_range": [1, 1]})
    assert time.perf_counter() - start < 30   # bounded, not a speed test: no endless loop
