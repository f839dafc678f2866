"""transposed_dilated_conv: the original pinned (worked by hand), the usual slips caught by check,
the fairness rules particular to it, impossible constraints failing fast."""

from __future__ import annotations

import copy
import time

import pytest

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.render import Renderer
from generator.seeding import rng_for
from conftest import sample_with

FAM = get("transposed_dilated_conv")
POINTS = {"a": 2, "b": 1, "c": 2, "d": 1}
ORIGINAL = {"t_height": 5, "t_width": 7, "t_kernel": 3, "t_stride": 2, "t_padding": 1, "t_output_padding": 1,
            "d_height": 33, "d_width": 29, "d_kernel": 3, "d_dilation": 2, "d_stride": 2, "d_padding": 2}


def test_original_pinned():
    # (5-1)*2 - 2 + 3 + 1 = 10, (7-1)*2 - 2 + 3 + 1 = 14; k_eff = 3 + 2*1 = 5;
    # (33 + 4 - 5)/2 + 1 = 17, (29 + 4 - 5)/2 + 1 = 15; 9 * 17 * 15 = 2295.
    a = FAM.solve(ORIGINAL).answers
    assert a == {"transposed_output": [10, 14], "effective_kernel": 5, "dilated_output": [17, 15],
                 "dilated_mults": 2295}
    FAM.check(ORIGINAL, a)


def test_a_floor_by_hand():
    # k_eff = 4 + 3*2 = 10; (40 + 2 - 10)/3 = 32/3 -> 10 + 1 = 11; (25 + 2 - 10)/3 = 17/3 -> 5 + 1 = 6.
    p = {**ORIGINAL, "d_height": 40, "d_width": 25, "d_kernel": 4, "d_dilation": 3, "d_stride": 3, "d_padding": 1,
         "t_height": 4, "t_width": 9, "t_kernel": 4, "t_stride": 3, "t_padding": 2, "t_output_padding": 2}
    a = FAM.solve(p).answers
    # (4-1)*3 - 4 + 4 + 2 = 11, (9-1)*3 - 4 + 4 + 2 = 26
    assert a == {"transposed_output": [11, 26], "effective_kernel": 10, "dilated_output": [11, 6],
                 "dilated_mults": 16 * 11 * 6}
    FAM.check(p, a)


@pytest.mark.parametrize("key, wrong", [
    ("transposed_output", [9, 13]),            # output_padding forgotten
    ("transposed_output", [11, 15]),           # padding removed once, not from both borders
    ("transposed_output", [14, 10]),           # height and width swapped
    ("effective_kernel", 6),                   # k * d
    ("dilated_output", [16, 14]),              # floor((H + 2p - k_eff)/s), the + 1 forgotten
    ("dilated_output", [18, 16]),              # k instead of k_eff
    ("dilated_mults", 25 * 17 * 15),           # k_eff^2 products: skipped pixels counted
])
def test_tampered_answer_is_caught(key, wrong):
    answers = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    answers[key] = wrong
    with pytest.raises(CheckError, match=key):
        FAM.check(ORIGINAL, answers)


@pytest.mark.parametrize("override", [{}, {"d_exact_division": False}, {"t_stride_choices": [3], "t_output_padding": 2}])
def test_fairness(override):
    renderer = Renderer()
    exact = FAM.constraints(override)["d_exact_division"]
    for i in range(200):
        p = sample_with(FAM, rng_for(9, "t", f"s{i}", "1"), override)
        a = FAM.solve(p).answers
        assert p["t_height"] != p["t_width"] and p["d_height"] != p["d_width"]
        assert 1 <= p["t_padding"] < p["t_kernel"] and p["t_output_padding"] < p["t_stride"]
        assert all(o > n for o, n in zip(a["transposed_output"], (p["t_height"], p["t_width"])))
        assert 1 <= p["d_padding"] < a["effective_kernel"]
        for n in (p["d_height"], p["d_width"]):
            assert ((n + 2 * p["d_padding"] - a["effective_kernel"]) % p["d_stride"] == 0) == exact
        assert all(o != n for o, n in zip(a["dilated_output"], (p["d_height"], p["d_width"])))
        assert min(a["dilated_output"]) >= 3
        question = renderer.slot(FAM, "question", p, a, FAM.solve(p).work, POINTS)
        key = renderer.slot(FAM, "solution", p, a, FAM.solve(p).work, POINTS)
        assert r"\boxed" not in question and key.count(r"\boxed") == 6
        assert (r"\right\rfloor + 1 = \boxed" in key) == (not exact)


@pytest.mark.parametrize("override, rule", [
    ({"d_exact_division": False, "d_stride_choices": [1]}, "d_exact_division"),
    ({"t_stride_choices": [2], "t_output_padding": 2}, "output_padding < stride"),
    ({"t_input_range": [6, 6]}, "transposed input is not square"),
    ({"d_kernel_range": [5, 5], "d_dilation_range": [4, 4], "d_input_range": [3, 4], "d_padding_range": [1, 1]},
     "dilated kernel fits the padded input"),
])
def test_impossible_constraints_fail_fast(override, rule):
    start = time.perf_counter()
    with pytest.raises(ConstraintError, match=rule):
        sample_with(FAM, rng_for(1, "e", "s", "1"), override)
    assert time.perf_counter() - start < 30   # bounded, not a speed test: no endless loop
