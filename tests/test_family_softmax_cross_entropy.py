"""softmax_cross_entropy: the original pinned by hand, tampering caught, its own fairness rules."""

from __future__ import annotations

import copy
import math
import time

import pytest
import sympy as sp

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.render import Renderer
from generator.seeding import rng_for
from generator.values import to_json
from conftest import sample_with

FAM = get("softmax_cross_entropy")
POINTS = {"a": 2, "b": 1, "c": 2}
ORIGINAL = {"logits": [2, 1, -1], "label": 2}
# By hand: e^2 = 7.389056, e = 2.718282, e^-1 = 0.367879, S = 10.475217, ln S = 2.349012.
PROBS = [0.705385, 0.259496, 0.035119]
LOSS = 1.349012
GRAD = [0.705385, -0.740504, 0.035119]


def test_original_pinned():
    a = FAM.solve(ORIGINAL).answers
    assert [float(v) for v in a["probs"]] == pytest.approx(PROBS, abs=1e-6)
    assert float(a["loss"]) == pytest.approx(LOSS, abs=1e-6)
    assert [float(v) for v in a["grad"]] == pytest.approx(GRAD, abs=1e-6)
    assert sp.simplify(a["loss"] - (sp.log(sp.exp(2) + sp.E + sp.exp(-1)) - 1)) == 0
    assert to_json(a)["loss"] == "1.349012217"
    FAM.check(ORIGINAL, a)


def test_original_renders_its_key():
    sol = FAM.solve(ORIGINAL)
    r = Renderer()
    question = r.slot(FAM, "question", ORIGINAL, sol.answers, sol.work, POINTS)
    key = r.slot(FAM, "solution", ORIGINAL, sol.answers, sol.work, POINTS)
    assert r"\qgenSoftmaxCrossEntropy{3}{2}" in question and "four decimal places" in question
    for text in ("0.7054", "0.2595", "0.0351", "1.3490", "-0.7405", "boxed"):
        assert text not in question, text
    for text in (r"\boxed{0.7054}", r"\boxed{0.2595}", r"\boxed{0.0351}", r"\boxed{1.3490}", r"\boxed{-0.7405}",
                 "10.475217"):
        assert text in key, text


@pytest.mark.parametrize("key, index, delta", [("probs", 0, 1e-4), ("loss", None, -1e-3), ("grad", 1, 1.0),
                                               ("grad", 2, 1e-5)])
def test_tampered_answer_is_caught(key, index, delta):
    a = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    if index is None:
        a[key] = a[key] + delta
    else:
        a[key][index] = a[key][index] + delta
    with pytest.raises(CheckError, match=key):
        FAM.check(ORIGINAL, a)


def test_grad_forgetting_the_label_is_caught():
    a = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    a["grad"] = list(a["probs"])             # p instead of p - y
    with pytest.raises(CheckError, match="grad"):
        FAM.check(ORIGINAL, a)


def test_check_accepts_json_form():
    a = FAM.solve(ORIGINAL).answers
    FAM.check(ORIGINAL, to_json(a))


def _label_is_top(p):
    return p["logits"][p["label"] - 1] == max(p["logits"])


@pytest.mark.parametrize("classes", [3, 4])
def test_fairness_and_shape(classes):
    c = FAM.constraints({"classes": classes})
    tops = set()
    for i in range(300):
        p = FAM.sample(rng_for(4, "sce", f"s{i}", "1"), c)
        z = p["logits"]
        assert len(z) == classes and len(set(z)) == classes
        assert 2 <= max(z) - min(z) <= 5 and all(-3 <= v <= 3 for v in z)
        assert 1 <= p["label"] <= classes
        a = FAM.solve(p).answers
        assert len(a["probs"]) == len(a["grad"]) == classes
        assert min(float(v) for v in a["probs"]) > 0.001          # nothing rounds to 0.0000
        assert math.isclose(sum(float(v) for v in a["grad"]), 0, abs_tol=1e-12)
        tops.add(_label_is_top(p))
    assert tops == {True, False}                                   # "any" really mixes both


@pytest.mark.parametrize("position, top", [("argmax", True), ("not_argmax", False)])
def test_label_position(position, top):
    c = FAM.constraints({"label_position": position})
    for i in range(100):
        assert _label_is_top(FAM.sample(rng_for(4, "pos", f"s{i}", "1"), c)) is top


def test_original_meets_the_rules():
    z = ORIGINAL["logits"]
    assert len(set(z)) == 3 and 2 <= max(z) - min(z) <= 5


@pytest.mark.parametrize("override, rule", [
    ({"logit_range": [0, 1]}, "logits are distinct"),
    ({"spread_range": [7, 9]}, "spread_range"),
])
def test_impossible_constraints_fail_fast(override, rule):
    t = time.perf_counter()
    with pytest.raises(ConstraintError, match=rule):
        sample_with(FAM, rng_for(1, "x", "y", "1"), override)
    assert time.perf_counter() - t < 30   # bounded, not a speed test: no endless loop
