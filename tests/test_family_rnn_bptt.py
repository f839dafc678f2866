"""rnn_bptt: the pinned originals (identity worked by hand, tanh by an independent mpmath run),
check() catching wrong keys, the fairness rules on sampled variants, and hopeless constraints."""

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
from conftest import sample_with

FAM = get("rnn_bptt")
MOD = FAM.module
PTS = {"a": 3, "b": 5, "c": 2}
ORIGINAL = {"activation": "tanh", "w": 0.5, "u": 1.0, "b": -0.2, "h0": 0.4, "x": [1, -1, 2], "y": 0.5}
LINEAR = dict(ORIGINAL, activation="identity")
R = sp.Rational


def test_identity_original_pinned():
    # By hand: a1 = 0.2 + 1 - 0.2 = 1, a2 = 0.5 - 1 - 0.2 = -0.7, a3 = -0.35 + 2 - 0.2 = 1.45;
    # h3 - y = 0.95, delta3 = 0.95, delta2 = 0.475, delta1 = 0.2375;
    # terms delta1 h0 = 0.095, delta2 h1 = 0.475, delta3 h2 = -0.665; dh3/dh1 = w^2 = 0.25.
    answers = FAM.solve(LINEAR).answers
    assert answers == {
        "a": [1, R(-7, 10), R(29, 20)], "h": [1, R(-7, 10), R(29, 20)], "L": R(361, 800),
        "terms": [R(19, 200), R(19, 40), R(-133, 200)], "dL_dw": R(-19, 200), "dh3_dh1": R(1, 4),
    }
    MOD.check(LINEAR, answers)


def test_tanh_original_pinned():
    # Reference values from an independent 30-digit mpmath run (mp.diff on an untied unrolled RNN).
    want = {
        "a": [1.0, -0.819202922, 1.462682096], "h": [0.761594156, -0.6746358072, 0.898172262],
        "L": 0.07927057513, "terms": [0.001761106453, 0.01596821817, -0.05192088778],
        "dL_dw": -0.03419156315, "dh3_dh1": 0.02632884797,
    }
    answers = FAM.solve(ORIGINAL).answers
    for key, value in want.items():
        got = answers[key] if isinstance(answers[key], list) else [answers[key]]
        assert [float(g) for g in got] == pytest.approx(value if isinstance(value, list) else [value], abs=1e-9), key
    assert answers["a"][0] == 1                      # a_1 is exact
    MOD.check(ORIGINAL, answers)


def test_original_renders_without_answers_in_the_question():
    for p in (ORIGINAL, LINEAR):
        sol = FAM.solve(p)
        r = Renderer()
        question = r.slot(FAM, "question", p, sol.answers, sol.work, PTS)
        key = r.slot(FAM, "solution", p, sol.answers, sol.work, PTS)
        assert r"\qgenRnnBptt{0.4}{1}{-1}{2}{0.5}" in question
        assert "boxed" not in question and "four decimal places" in question
        assert key.count(r"\boxed{") == 3 + 3 + 1 + 3 + 1 + 1
    sol = FAM.solve(ORIGINAL)
    key = Renderer().slot(FAM, "solution", ORIGINAL, sol.answers, sol.work, PTS)
    for text in (r"\boxed{0.7616}", r"\boxed{0.0793}", r"\boxed{0.0018}", r"\boxed{-0.0342}", r"\boxed{0.0263}"):
        assert text in key


@pytest.mark.parametrize("p", [ORIGINAL, LINEAR])
@pytest.mark.parametrize("key, index, delta", [
    ("a", 1, R(1, 1000)), ("h", 2, R(-1, 1000)), ("L", None, R(1, 1000)),
    ("terms", 0, R(1, 1000)), ("dL_dw", None, R(-1, 1000)), ("dh3_dh1", None, R(1, 1000)),
])
def test_check_rejects_tampered_answer(p, key, index, delta):
    bad = copy.deepcopy(FAM.solve(p).answers)
    if index is None:
        bad[key] += delta
    else:
        bad[key][index] += delta
    with pytest.raises(CheckError, match=key):
        MOD.check(p, bad)


def test_check_rejects_truncated_bptt():
    """Keeping only the last step's term (no backpropagation through time) is caught."""
    bad = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    bad["dL_dw"] = bad["terms"][2]
    with pytest.raises(CheckError, match="dL_dw"):
        MOD.check(ORIGINAL, bad)


@pytest.mark.parametrize("activation", ["tanh", "identity"])
def test_sampled_variants_keep_the_rules(activation):
    c = FAM.constraints({"activation": activation})
    seen = set()
    for i in range(150):
        p = FAM.sample(rng_for(9, "rnn", f"s{i}", "1"), c)
        assert p["activation"] == activation and len(p["x"]) == 3 and 0 not in p["x"]
        for k in ("w", "u", "b", "h0"):
            assert p[k] != 0 and abs(round(p[k] * 10) - p[k] * 10) < 1e-9
        a = FAM.solve(p).answers
        pre = [float(v) for v in a["a"]]
        assert all(0.1 - 1e-9 <= abs(v) <= c["max_preactivation"] + 1e-9 for v in pre)
        assert abs(float(a["h"][2]) - p["y"]) >= 0.1 - 1e-9
        assert all(abs(float(t)) >= 0.001 for t in a["terms"])
        assert abs(float(a["dh3_dh1"])) < 1               # the product of two factors below 1
        assert math.isclose(float(a["dL_dw"]), sum(float(t) for t in a["terms"]), abs_tol=1e-12)
        if activation == "identity":
            assert all(v.is_Rational for v in [*a["a"], *a["h"], *a["terms"], a["L"], a["dL_dw"]])
        seen.add(tuple(p[k] for k in ("w", "u", "b", "h0", "y")) + tuple(p["x"]))
    assert len(seen) > 140


@pytest.mark.parametrize("overrides, rule", [
    ({"activation": "identity", "w_range": [1.0, 1.5], "max_preactivation": 50.0}, "recurrent factors below 1"),
    ({"max_preactivation": 0.05}, "max_preactivation"),
    ({"w_range": [0.0, 0.0]}, "leaves nothing to draw"),
])
def test_impossible_constraints_fail_quickly(overrides, rule):
    t = time.perf_counter()
    with pytest.raises(ConstraintError, match=rule):
        sample_with(FAM, rng_for(1, "x", "y", "1"), overrides)
    assert time.perf_counter() - t < 30   # bounded, not a speed test: no endless loop
