"""mlp_sigmoid_backprop: the originals pinned (values worked out independently with plain floats),
check() catching tampered answers, the three output/loss settings through sample, solve, check
and render, the exact values against their plain exp form, and the sampler's fairness."""

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

FAM = get("mlp_sigmoid_backprop")
PTS = {"a": 3, "b": 3, "c": 4, "d": 2}
ORIGINAL = {"x": [2, 1], "w": [[1, -1], [-2, 1]], "b": [1, -1], "v": [2, -1], "c": 1, "y": 2, "lr": 0.5,
            "output": "linear", "loss": "squared"}
SIGMOID = {**ORIGINAL, "c": -1, "y": 0, "output": "sigmoid"}
SETTINGS = [{}, {"output": "sigmoid"}, {"output": "sigmoid", "loss": "cross_entropy"}]


def _floats(value):
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return float(value)


def _close(got, want, tol=1e-6):
    assert np.allclose(np.array(_floats(got)), np.array(want), rtol=0, atol=tol), (got, want)


def test_original_pinned():
    a = FAM.solve(ORIGINAL).answers
    assert a["z"] == [1, -2]
    want = {"h": [0.731059, 0.119203], "o": 2.342914, "yhat": 2.342914, "loss": 0.058795, "dL_do": 0.342914,
            "dL_dv": [0.25069, 0.040876], "dL_dc": 0.342914, "dL_dz": [0.134842, -0.036004],
            "dL_dw": [[0.269684, -0.072008], [0.134842, -0.036004]], "dL_db": [0.134842, -0.036004],
            "w_new": [[0.865158, -0.963996], [-2.067421, 1.018002]], "b_new": [0.932579, -0.981998],
            "v_new": [1.874655, -1.020438], "c_new": 0.828543}
    for key, value in want.items():
        _close(a[key], value)
    FAM.check(ORIGINAL, a)


@pytest.mark.parametrize("loss,want", [
    ("squared", {"yhat": 0.584898, "loss": 0.171053, "dL_do": 0.142009, "dL_dz": [0.055841, -0.01491],
                 "v_new": [1.948092, -1.008464], "c_new": -1.071004}),
    ("cross_entropy", {"yhat": 0.584898, "loss": 0.879232, "dL_do": 0.584898, "dL_dz": [0.229996, -0.061411],
                       "w_new": [[0.770004, -0.938589], [-2.114998, 1.030705]], "c_new": -1.292449}),
])
def test_sigmoid_originals_pinned(loss, want):
    params = {**SIGMOID, "loss": loss}
    a = FAM.solve(params).answers
    for key, value in want.items():
        _close(a[key], value)
    FAM.check(params, a)


@pytest.mark.parametrize("key,change", [("loss", 1e-3), ("dL_do", -1e-3), ("dL_dw", 1e-3), ("c_new", 1e-3),
                                        ("h", 1e-3)])
def test_check_catches_a_wrong_answer(key, change):
    answers = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    value = answers[key]
    if isinstance(value, list) and isinstance(value[0], list):
        value[1][0] = value[1][0] + change
    elif isinstance(value, list):
        value[1] = value[1] + change
    else:
        answers[key] = value + change
    with pytest.raises(CheckError, match=key):
        FAM.check(ORIGINAL, answers)


def test_check_catches_a_swapped_weight_convention():
    """A key that used w_ji for w_ij (the transpose) is wrong, and check says so."""
    answers = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    g = answers["dL_dw"]
    answers["dL_dw"] = [[g[0][0], g[1][0]], [g[0][1], g[1][1]]]
    with pytest.raises(CheckError, match="dL_dw"):
        FAM.check(ORIGINAL, answers)


@pytest.mark.parametrize("overrides", SETTINGS)
def test_every_setting_samples_solves_checks_and_renders(overrides):
    c = FAM.constraints(overrides)
    renderer = Renderer()
    for i in range(60):
        p = FAM.sample(rng_for(5, "mlp", f"s{i}", "1"), c)
        assert p["output"] == c["output"] and p["loss"] == c["loss"]
        if p["output"] == "sigmoid":
            assert p["y"] in (0, 1)
        sol = FAM.solve(p)
        FAM.check(p, sol.answers)
        question = renderer.slot(FAM, "question", p, sol.answers, sol.work, PTS)
        key = renderer.slot(FAM, "solution", p, sol.answers, sol.work, PTS)
        assert r"\boxed" not in question and key.count(r"\boxed") >= 27
        assert ("cross-entropy" in question) == (p["loss"] == "cross_entropy")
        assert (r"$\hat y = \sigma(o)$" in question) == (p["output"] == "sigmoid")


def test_values_equal_their_plain_exp_form():
    """The remembered sigmoid nodes are exactly 1/(1 + e^-t): every answer, rewritten in exp
    form and evaluated by sympy itself, agrees to 30 digits."""
    for overrides in SETTINGS:
        c = FAM.constraints(overrides)
        for i in range(4):
            p = FAM.sample(rng_for(9, "mlp", f"s{i}", "1"), c)
            answers = FAM.solve(p).answers

            def leaves(v):
                if isinstance(v, list):
                    for u in v:
                        yield from leaves(u)
                else:
                    yield sp.sympify(v)

            for key, value in answers.items():
                for e in leaves(value):
                    plain = e.rewrite(sp.exp)
                    assert not plain.atoms(sp.Function) - plain.atoms(sp.exp, sp.log), (key, plain)
                    assert abs(sp.N(e, 30) - sp.N(plain, 30)) < sp.Float("1e-25"), (key, p)


def test_fairness_over_many_seeds():
    c = FAM.constraints({"output": "sigmoid"})
    rates = set()
    for i in range(300):
        p = FAM.sample(rng_for(3, "mlp", f"s{i}", "1"), c)
        x, w, b = p["x"], p["w"], p["b"]
        z = [w[0][j] * x[0] + w[1][j] * x[1] + b[j] for j in range(2)]
        assert x[0] != x[1] and w[0][1] != w[1][0]
        assert 0 not in z and abs(z[0]) != abs(z[1]) and max(map(abs, z)) <= 3
        assert 0 not in x + [t for row in w for t in row] + b + p["v"] + [p["c"]]
        a = FAM.solve(p).answers
        assert abs(float(a["o"])) <= 3 and abs(float(a["yhat"]) - p["y"]) >= 0.2
        grads = [a["dL_dc"], *a["dL_dv"], *a["dL_db"], *(g for row in a["dL_dw"] for g in row)]
        assert min(abs(float(g)) for g in grads) >= 0.01
        rates.add(p["lr"])
    assert rates == {0.1, 0.2, 0.5}


def test_cross_entropy_needs_a_sigmoid_output_at_once():
    start = time.perf_counter()
    with pytest.raises(ConstraintError, match="cross-entropy needs a sigmoid output"):
        sample_with(FAM, rng_for(1, "e", "s", "1"), {"loss": "cross_entropy"})
    assert time.perf_counter() - start < 30   # bounded, not a speed test: no endless loop


def test_hopeless_constraint_fails_fast():
    start = time.perf_counter()
    with pytest.raises(ConstraintError, match="could not be met"):
        sample_with(FAM, rng_for(1, "e", "s", "1"), {"min_gradient": 50.0})
    assert time.perf_counter() - start < 30   # bounded, not a speed test: no endless loop


def test_float_learning_rate_as_text_solves_the_same():
    """answers.json writes a float param as a decimal string; solve reads it back exactly."""
    a = FAM.solve(ORIGINAL).answers
    b = FAM.solve({**ORIGINAL, "lr": "0.5"}).answers
    assert a["c_new"] == b["c_new"]
