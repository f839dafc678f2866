"""optimizer_steps: the originals pinned (worked by hand), tampered keys caught, the exact tower
arithmetic against sympy's own radicals, and the fairness properties special to the family."""

from __future__ import annotations

import copy
import time

import pytest
import sympy as sp

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.seeding import rng_for
from conftest import sample_with

FAM = get("optimizer_steps")

ADAM = {"optimizer": "adam", "steps": 2, "a": [3, 1], "c": [2, -1], "w0": [0, 1],
        "hyper": {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps_exponent": -8}}
MOMENTUM = {"optimizer": "momentum", "steps": 3, "a": [3, 1], "c": [2, -1], "w0": [0, 1],
            "hyper": {"lr": 0.1, "mu": 0.9}}
RMSPROP = {"optimizer": "rmsprop", "steps": 2, "a": [2], "c": [1], "w0": [3],
           "hyper": {"lr": 0.1, "alpha": 0.9, "eps_exponent": -8}}


def _close(got, want, tol):
    assert len(got) == len(want)
    for row_got, row_want in zip(got, want):
        assert len(row_got) == len(row_want)
        for g, w in zip(row_got, row_want):
            assert abs(float(g) - w) <= tol, (got, want)


def test_adam_original_pinned():
    a = FAM.solve(ADAM).answers
    # worked by hand: step 1 moves each coordinate by lr against the sign of its gradient
    assert a["grad"][0] == [-12, 4] and a["m"][0] == [sp.Rational(-6, 5), sp.Rational(2, 5)]
    assert a["v"][0] == [sp.Rational(18, 125), sp.Rational(2, 125)] and a["m_hat"][0] == [-12, 4]
    assert a["v_hat"][0] == [144, 16]
    _close(a["w"], [[0.1, 0.9], [0.1998335, 0.8001665]], 1e-6)
    _close(a["grad"], [[-12, 4], [-11.4, 3.8]], 1e-6)
    _close(a["m"], [[-1.2, 0.4], [-2.22, 0.74]], 1e-6)
    _close(a["v"], [[0.144, 0.016], [0.273816, 0.030424]], 1e-8)
    _close(a["m_hat"], [[-12, 4], [-11.6842105, 3.8947368]], 1e-6)
    _close(a["v_hat"], [[144, 16], [136.9764882, 15.2196098]], 1e-6)
    assert a["velocity"] == []
    # eps is really in the key: w_1 after step 1 is 1.2 / (12 + 1e-8), not 0.1
    assert a["w"][0][0] == sp.Rational(120000000, 1200000001)
    FAM.check(ADAM, a)


def test_momentum_original_pinned_exactly():
    a = FAM.solve(MOMENTUM).answers
    R = sp.Rational
    assert a["grad"] == [[-12, 4], [R(-24, 5), R(16, 5)], [R(114, 25), R(46, 25)]]
    assert a["velocity"] == [[-12, 4], [R(-78, 5), R(34, 5)], [R(-237, 25), R(199, 25)]]
    assert a["w"] == [[R(6, 5), R(3, 5)], [R(69, 25), R(-2, 25)], [R(927, 250), R(-219, 250)]]
    assert a["m"] == a["v"] == a["m_hat"] == a["v_hat"] == []
    FAM.check(MOMENTUM, a)


def test_rmsprop_original_pinned():
    a = FAM.solve(RMSPROP).answers
    assert a["grad"][0] == [8] and a["v"][0] == [sp.Rational(32, 5)]
    _close(a["w"], [[3 - 0.8 / (6.4 ** 0.5 + 1e-8)], [2.4738753]], 1e-6)
    _close(a["grad"], [[8], [6.7350889]], 1e-6)
    _close(a["v"], [[6.4], [10.2961423]], 1e-6)
    assert a["m"] == a["m_hat"] == a["v_hat"] == a["velocity"] == []
    FAM.check(RMSPROP, a)


@pytest.mark.parametrize("params,key,where,delta", [
    (ADAM, "w", (1, 0), sp.Rational(1, 1000)),
    (ADAM, "v", (1, 1), sp.Rational(1, 100000)),     # v is asked to six places: 1e-5 is caught
    (ADAM, "m_hat", (0, 1), sp.Rational(1, 10)),
    (MOMENTUM, "velocity", (2, 1), sp.Rational(1, 100)),
    (RMSPROP, "grad", (1, 0), sp.Rational(1, 1000)),
])
def test_check_catches_a_tampered_answer(params, key, where, delta):
    answers = copy.deepcopy(FAM.solve(params).answers)
    t, j = where
    answers[key][t][j] = answers[key][t][j] + delta
    with pytest.raises(CheckError, match=key):
        FAM.check(params, answers)


def test_check_catches_a_state_the_optimizer_does_not_have():
    answers = copy.deepcopy(FAM.solve(MOMENTUM).answers)
    answers["m"] = answers["velocity"]
    with pytest.raises(CheckError, match="m should be empty"):
        FAM.check(MOMENTUM, answers)


def _natural_adam(p):
    """Adam written straight in sympy with sp.sqrt (slow, evaluated): the tower must agree."""
    h = {k: sp.Rational(str(v)) for k, v in p["hyper"].items() if k != "eps_exponent"}
    eps = sp.Integer(10) ** p["hyper"]["eps_exponent"]
    out = []
    for a, c, w in zip(p["a"], p["c"], p["w0"]):
        w, m, v, ws = sp.Integer(w), 0, 0, []
        for t in range(1, p["steps"] + 1):
            g = 2 * a * (w - c)
            m = h["beta1"] * m + (1 - h["beta1"]) * g
            v = h["beta2"] * v + (1 - h["beta2"]) * g ** 2
            w = w - h["lr"] * (m / (1 - h["beta1"] ** t)) / (sp.sqrt(v / (1 - h["beta2"] ** t)) + eps)
            ws.append(w)
        out.append(ws)
    return out


def test_exact_tower_agrees_with_plain_sympy_to_30_digits():
    c = FAM.constraints({"steps": 3})
    for i in range(3):
        p = FAM.sample(rng_for(5, "tower", f"s{i}", "1"), c)
        a = FAM.solve(p).answers
        for j, ws in enumerate(_natural_adam(p)):
            for t, want in enumerate(ws):
                assert abs(sp.N(a["w"][t][j] - want, 40)) < sp.Float("1e-30"), (p, t, j)


@pytest.mark.parametrize("optimizer", ["momentum", "rmsprop", "adam"])
@pytest.mark.parametrize("steps,dims", [(2, 1), (3, 2)])
def test_every_student_of_a_slot_has_the_same_columns_and_fair_numbers(optimizer, steps, dims):
    c = FAM.constraints({"optimizer": optimizer, "steps": steps, "dims": dims})
    shapes = set()
    for i in range(40):
        p = FAM.sample(rng_for(7, "fair", f"s{i}", "1"), c)
        a = FAM.solve(p).answers
        shapes.add(tuple((k, len(v), len(v[0]) if v else 0) for k, v in a.items()))
        assert all(w != m for w, m in zip(p["w0"], p["c"]))
        assert len(set(p["a"])) == dims
        assert all(0.5 <= abs(float(g)) <= 24 for row in a["grad"] for g in row)
        if optimizer == "momentum":
            assert all((x * 10_000).is_Integer for k in ("grad", "velocity", "w") for row in a[k] for x in row)
    assert len(shapes) == 1


def test_momentum_with_too_many_decimals_fails_fast_naming_the_rule():
    start = time.perf_counter()
    with pytest.raises(ConstraintError, match="exact to four decimals"):
        sample_with(FAM, rng_for(1, "e", "s", "1"), {"optimizer": "momentum", "steps": 3, "lr_choices": [0.003]})
    assert time.perf_counter() - start < 30   # bounded, not a speed test: no endless loop


def test_solve_refuses_hyperparameters_of_another_optimizer():
    with pytest.raises(ValueError, match="adam takes"):
        FAM.solve({**ADAM, "hyper": {"lr": 0.1, "mu": 0.9}})
