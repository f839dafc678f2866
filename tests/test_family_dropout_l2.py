"""dropout_l2: the original pinned (worked by hand), tampered keys caught, the expectation over
every mask, and the fairness properties special to the family."""

from __future__ import annotations

import copy
import itertools
import time
from fractions import Fraction

import pytest
import sympy as sp

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.seeding import rng_for
from conftest import sample_with

FAM = get("dropout_l2")
R = sp.Rational
ORIGINAL = {"activations": [3, 6, 2, 5, 4, 1], "mask": [1, 0, 1, 1, 0, 1], "keep": 0.8,
            "weights": [0.5, -1.2, 2.0], "grad": [0.2, -0.4, 0.1], "lam": 0.1, "lr": 0.1, "penalty": "half"}
FULL = {**ORIGINAL, "penalty": "full"}


def test_original_pinned():
    a = FAM.solve(ORIGINAL).answers
    assert a["train_out"] == [R(15, 4), 0, R(5, 2), R(25, 4), 0, R(5, 4)]
    assert a["test_out"] == [3, 6, 2, 5, 4, 1]
    assert a["reg_grad"] == [R(1, 4), R(-13, 25), R(3, 10)]
    assert a["new_w"] == [R(19, 40), R(-287, 250), R(197, 100)]
    FAM.check(ORIGINAL, a)


def test_full_penalty_doubles_the_decay():
    a = FAM.solve(FULL).answers
    assert a["reg_grad"] == [R(3, 10), R(-16, 25), R(1, 2)]
    assert a["new_w"] == [R(47, 100), R(-284, 250), R(195, 100)]
    FAM.check(FULL, a)


@pytest.mark.parametrize("key,change", [
    ("train_out", lambda a: [a[0] + R(1, 100), *a[1:]]),
    ("test_out", lambda a: [v / R(4, 5) for v in a]),                 # scaled at test time too: wrong
    ("train_out", lambda a: [v * R(4, 5) * R(4, 5) for v in a]),      # multiplied by p instead of divided
    ("new_w", lambda a: [a[0], a[1] + R(1, 1000), a[2]]),
])
def test_check_catches_a_tampered_answer(key, change):
    answers = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    answers[key] = change(answers[key])
    with pytest.raises(CheckError, match=key):
        FAM.check(ORIGINAL, answers)


def test_check_catches_the_other_penalty_convention():
    with pytest.raises(CheckError, match="reg_grad"):
        FAM.check(ORIGINAL, FAM.solve(FULL).answers)


def test_expected_training_output_over_every_mask_is_the_test_output():
    c = FAM.constraints()
    for i in range(30):
        p = FAM.sample(rng_for(3, "expect", f"s{i}", "1"), c)
        a = FAM.solve(p).answers
        keep = Fraction(str(p["keep"]))
        n = len(p["activations"])
        expected = [Fraction(0)] * n
        for mask in itertools.product((0, 1), repeat=n):
            prob = Fraction(1)
            for b in mask:
                prob *= keep if b else 1 - keep
            expected = [e + prob * b * h / keep for e, b, h in zip(expected, mask, p["activations"])]
        assert [R(e.numerator, e.denominator) for e in expected] == a["test_out"]


def test_fair_variants_with_the_same_columns():
    c = FAM.constraints({"units": 5, "weight_count": 4})
    shapes, penalties = set(), set()
    for i in range(200):
        p = FAM.sample(rng_for(4, "fair", f"s{i}", "1"), c)
        a = FAM.solve(p).answers
        shapes.add(tuple(len(v) for v in a.values()))
        penalties.add(p["penalty"])
        assert p["mask"].count(0) >= 1 and p["mask"].count(1) >= 2
        assert all(h != 0 for h in p["activations"]) and all(w != 0 for w in p["weights"])
        assert all(j != 0 and (j * 10_000).is_Integer for j in a["reg_grad"])
        assert all((v * 10_000).is_Integer for v in a["new_w"])
        assert all(str(w) == str(round(w, 1)) for w in p["weights"] + p["grad"])    # they print as they read
    assert shapes == {(5, 5, 4, 4)} and penalties == {"half", "full"}


def test_hopeless_decimals_fail_fast_naming_the_rule():
    start = time.perf_counter()
    with pytest.raises(ConstraintError, match="exact to four decimals"):
        sample_with(FAM, rng_for(1, "e", "s", "1"), {"lr_choices": [0.0003]})
    assert time.perf_counter() - start < 30   # bounded, not a speed test: no endless loop
