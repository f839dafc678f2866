"""Tests of the depthwise_separable_conv family (Q1(b)): the original's numbers, many seeds
through sample -> solve -> check -> render, tamper detection and impossible constraints."""

from __future__ import annotations

import time

import pytest

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.render import Renderer
from generator.seeding import rng_for
from conftest import sample_with

FAMILY = get("depthwise_separable_conv")
DEFAULTS = FAMILY.constraints()
ORIGINAL = {"height": 200, "width": 200, "channels": 3, "kernel": 4, "stride": 1, "padding": 1, "out_channels": 10}
PARAM_KEYS = {"height", "width", "channels", "kernel", "stride", "padding", "out_channels"}
ANSWER_KEYS = ("depthwise_output_shape", "pointwise_output_shape", "depthwise_mults", "pointwise_mults", "total_mults")
POINTS = {"": 3}


@pytest.fixture(scope="module")
def renderer():
    return Renderer()


def thousands(n) -> str:
    return f"{int(n):,}".replace(",", "\\,")


def test_contract():
    assert FAMILY.spec.answer_keys == ANSWER_KEYS
    assert set(FAMILY.spec.params) == PARAM_KEYS
    assert [(p.label, p.points) for p in FAMILY.spec.parts] == [("", 3)]


def test_original_pinned():
    a = FAMILY.solve(ORIGINAL).answers
    assert a["depthwise_output_shape"] == [199, 199, 3]
    assert a["pointwise_output_shape"] == [199, 199, 10]
    assert a["depthwise_mults"] == 1_900_848
    assert a["pointwise_mults"] == 1_188_030
    assert a["total_mults"] == 3_088_878
    FAMILY.check(ORIGINAL, a)


def test_original_renders_its_numbers(renderer):
    a = FAMILY.solve(ORIGINAL).answers
    question = renderer.slot(FAMILY, "question", ORIGINAL, a, FAMILY.solve(ORIGINAL).work, POINTS)
    solution = renderer.slot(FAMILY, "solution", ORIGINAL, a, FAMILY.solve(ORIGINAL).work, POINTS)
    assert "$200 \\times 200 \\times 3$" in question
    assert "$4 \\times 4$" in question
    assert "1, 1 and 10 respectively" in question
    assert "depthwise convolution' step only" in question
    for text in ("199 \\times 199 \\times 3", "199 \\times 199 \\times 10",
                 "1\\,900\\,848", "1\\,188\\,030", "3\\,088\\,878",
                 "4 \\cdot 4 \\cdot 3 \\cdot 199 \\cdot 199", "3 \\cdot 10 \\cdot 199 \\cdot 199",
                 "200 + 2\\cdot 1 - 4"):
        assert text in solution, text
    for text in ("1\\,900\\,848", "1\\,188\\,030", "3\\,088\\,878", "3088878", "199"):
        assert text not in question, text


def _assert_constraints(p: dict, a: dict) -> None:
    c = DEFAULTS
    assert set(p) == PARAM_KEYS and all(type(v) is int for v in p.values()), p
    assert c["height_range"][0] <= p["height"] <= c["height_range"][1]
    assert c["width_range"][0] <= p["width"] <= c["width_range"][1]
    assert p["channels"] in c["channels_choices"]
    assert c["kernel_range"][0] <= p["kernel"] <= c["kernel_range"][1]
    assert p["stride"] in c["stride_choices"]
    assert c["padding_range"][0] <= p["padding"] <= c["padding_range"][1]
    assert p["padding"] < p["kernel"]
    assert c["out_channels_range"][0] <= p["out_channels"] <= c["out_channels_range"][1]
    for size in ("height", "width"):
        assert (p[size] + 2 * p["padding"] - p["kernel"]) % p["stride"] == 0, p
    ho, wo, _ = a["depthwise_output_shape"]
    assert ho != p["height"] and wo != p["width"], p
    assert c["total_mults_range"][0] <= a["total_mults"] <= c["total_mults_range"][1]


def test_every_variant_keeps_the_convention_and_the_key_shows_each_product(renderer):
    # 500 seeds through sample, solve, check and render are the contract test's; these are Q1(b)'s own.
    seen = set()
    for i in range(100):
        p = FAMILY.sample(rng_for(2022, "test-exam", f"student{i}", "1b"), DEFAULTS)
        a = FAMILY.solve(p).answers
        _assert_constraints(p, a)
        FAMILY.check(p, a)
        question = renderer.slot(FAMILY, "question", p, a, FAMILY.solve(p).work, POINTS)
        solution = renderer.slot(FAMILY, "solution", p, a, FAMILY.solve(p).work, POINTS)
        ho, wo, _ = a["depthwise_output_shape"]
        # No answer in the student's text; Ho x Wo cannot collide with H x W (they differ).
        for key in ("depthwise_mults", "pointwise_mults", "total_mults"):
            assert str(a[key]) not in question and thousands(a[key]) not in question
            assert thousands(a[key]) in solution
        assert f"{ho} \\times {wo}" not in question
        assert f"\\boxed{{{ho} \\times {wo} \\times {p['out_channels']}}}" in solution
        assert "\\qgenpart" not in question + solution
        seen.add(tuple(p.values()))
    assert len(seen) > 95         # variants really differ


def test_square_and_rectangular_and_both_strides():
    draws = [FAMILY.sample(rng_for(2022, "test-exam", f"student{i}", "1b"), DEFAULTS) for i in range(200)]
    assert any(p["height"] == p["width"] for p in draws)
    assert any(p["height"] != p["width"] for p in draws)
    assert {p["stride"] for p in draws} == {1, 2}


def test_rectangular_check():
    p = {"height": 97, "width": 300, "channels": 4, "kernel": 3, "stride": 2, "padding": 0, "out_channels": 16}
    a = FAMILY.solve(p).answers
    assert a["depthwise_output_shape"] == [48, 149, 4]
    assert a["pointwise_output_shape"] == [48, 149, 16]
    assert a["depthwise_mults"] == 3 * 3 * 4 * 48 * 149
    assert a["pointwise_mults"] == 4 * 16 * 48 * 149
    FAMILY.check(p, a)


@pytest.mark.parametrize("key, wrong", [
    ("depthwise_output_shape", [200, 200, 3]),
    ("depthwise_output_shape", [199, 199, 10]),
    ("pointwise_output_shape", [199, 199, 3]),
    ("pointwise_output_shape", [201, 201, 10]),
    ("depthwise_mults", 1_900_849),
    ("depthwise_mults", 4 * 4 * 3 * 198 * 198),          # padded zeros not counted
    ("pointwise_mults", 3 * 10 * 201 * 201),             # padding wrongly kept in the pointwise step
    ("total_mults", 3_088_877),
])
def test_tampered_answer_is_caught(key, wrong):
    a = FAMILY.solve(ORIGINAL).answers
    a[key] = wrong
    with pytest.raises(CheckError, match=key):
        FAMILY.check(ORIGINAL, a)


@pytest.mark.parametrize("override, rule", [
    ({"total_mults_range": [1, 2]}, "total_mults_range"),
    ({"height_range": [28, 28], "width_range": [28, 28], "stride_choices": [2], "kernel_range": [3, 3],
      "padding_range": [0, 0]}, "output size is a whole number"),
    ({"kernel_range": [3, 3], "padding_range": [1, 1], "stride_choices": [1]}, "output size differs from input size"),
    ({"kernel_range": [2, 2], "padding_range": [2, 3]}, "padding < kernel"),
    ({"out_channels_range": [9, 4]}, "out_channels_range"),
    ({"stride_choices": []}, "stride_choices"),
])
def test_impossible_constraints_fail_fast(override, rule):
    start = time.perf_counter()
    with pytest.raises(ConstraintError, match=rule):
        sample_with(FAMILY, rng_for(2022, "test-exam", "X1", "1b"), override)
    assert time.perf_counter() - start < 30   # bounded, not a speed test: no endless loop
