"""conv2d_feature_map: the original pinned (worked by hand), tampered answers caught, the shapes fixed
per slot, the fairness rules that are particular to it, impossible geometry failing fast."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.render import Renderer
from generator.seeding import rng_for
from conftest import sample_with

FAM = get("conv2d_feature_map")
POINTS = {"a": 4, "b": 1, "c": 2}
ORIGINAL = {
    "image": [[[1, 2, 0, 3, 1, 2], [3, 1, 2, 1, 0, 1], [2, 0, 1, 3, 2, 2],
               [1, 3, 1, 0, 1, 3], [0, 2, 3, 1, 2, 1], [2, 1, 1, 2, 3, 0]]],
    "kernel": [[[1, 0, -1], [2, 1, -1], [-1, 1, 0]]],
    "stride": 1,
    "padding": 0,
}
# Worked by hand: Z11 = (1 + 0 + 0) + (6 + 1 - 2) + (-2 + 0 + 0) = 4, and so on.
ORIGINAL_Z = [[4, 3, 6, 1], [6, -4, 4, 7], [7, 5, -2, 0], [-2, 9, 6, 1]]
ORIGINAL_A = [[4, 3, 6, 1], [6, 0, 4, 7], [7, 5, 0, 0], [0, 9, 6, 1]]
ORIGINAL_M = [[6, 7], [9, 6]]


def test_original_pinned():
    a = FAM.solve(ORIGINAL).answers
    assert a["feature_map"] == ORIGINAL_Z
    assert a["relu_map"] == ORIGINAL_A
    assert a["pooled_map"] == ORIGINAL_M
    FAM.check(ORIGINAL, a)


def test_padding_stride_and_two_channels_by_hand():
    # 2 channels of 3 x 3 (values chosen by hand), 2 x 2 filter, stride 2, padding 1: Z is 2 x 2 and the
    # last padded row and column are left over (the sampler never draws this; solve and check agree anyway).
    p = {"image": [[[1, 2, 3], [0, 1, 2], [3, 0, 1]], [[2, 0, 1], [1, 1, 0], [0, 2, 3]]],
         "kernel": [[[1, -1], [2, 0]], [[0, 1], [-1, 2]]], "stride": 2, "padding": 1}
    # Z11: channel 1 window [[0,0],[0,1]] -> 0; channel 2 window [[0,0],[0,2]] -> 4. Z11 = 4.
    # Z12: ch1 [[0,0],[2,3]] -> 2*2 + 0*3 = 4; ch2 [[0,0],[0,1]] -> 2. Z12 = 6.
    # Z21: ch1 [[0,0],[0,3]] -> 0; ch2 [[0,1],[0,0]] -> 1*1 = 1. Z21 = 1.
    # Z22: ch1 [[1,2],[0,1]] -> 1 - 2 = -1; ch2 [[1,0],[2,3]] -> 0 + 0 - 2 + 6 = 4. Z22 = 3.
    a = FAM.solve(p).answers
    assert a["feature_map"] == [[4, 6], [1, 3]]
    assert a["pooled_map"] == [[6]]
    FAM.check(p, a)


@pytest.mark.parametrize("key, wrong", [
    ("feature_map", [[4, 3, 6, 1], [6, -4, 4, 7], [7, 5, -2, 0], [-2, 9, 6, 2]]),    # one slip
    ("feature_map", [[3, 3, 2, -1], [-1, 5, 7, 5], [6, -5, 1, 7], [9, 5, 3, -1]]),        # kernel flipped
    ("relu_map", ORIGINAL_Z),                                                           # ReLU forgotten
    ("pooled_map", [[6, 7, 7], [9, 6, 1]]),                                             # wrong shape
    ("pooled_map", [[6, 7], [9, 7]]),
])
def test_tampered_answer_is_caught(key, wrong):
    answers = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    answers[key] = wrong
    with pytest.raises(CheckError, match=key):
        FAM.check(ORIGINAL, answers)


def test_flipped_kernel_answer_really_is_true_convolution():
    """The tampered 'kernel flipped' map above is what a student who convolves would write."""
    x = np.array(ORIGINAL["image"][0])
    w = np.array(ORIGINAL["kernel"][0])[::-1, ::-1]
    conv = [[int((x[i:i + 3, j:j + 3] * w).sum()) for j in range(4)] for i in range(4)]
    assert conv == [[3, 3, 2, -1], [-1, 5, 7, 5], [6, -5, 1, 7], [9, 5, 3, -1]]


@pytest.mark.parametrize("override, size, pooled", [
    ({}, 4, 2),
    ({"image_size": 5, "padding": 1}, 5, 2),                             # odd: last row/column dropped
    ({"image_size": 7, "channels": 2, "stride": 2, "padding": 1}, 4, 2),
    ({"image_size": 6, "kernel_size": 2, "stride": 2}, 3, 1),
])
def test_shapes_fixed_per_slot_and_fairness(override, size, pooled):
    constraints = FAM.constraints(override)
    renderer = Renderer()
    for i in range(60):
        p = sample_with(FAM, rng_for(5, "t", f"s{i}", "1"), override)
        a = FAM.solve(p).answers
        z = np.array(a["feature_map"], dtype=int)
        assert z.shape == (size, size) and np.array(a["pooled_map"]).shape == (pooled, pooled)
        w = np.array(p["kernel"])
        assert not np.array_equal(w, w[:, ::-1, ::-1])
        assert all(ch.min() < 0 < ch.max() for ch in w)
        assert 6 * np.count_nonzero(z < 0) >= z.size and 2 * np.count_nonzero(z > 0) >= z.size
        lo, hi = constraints["image_value_range"]
        assert lo <= np.min(p["image"]) and np.max(p["image"]) <= hi
        question = renderer.slot(FAM, "question", p, a, FAM.solve(p).work, POINTS)
        assert r"\qgenConvFeatureMapPicture" in question and r"\boxed" not in question


@pytest.mark.parametrize("override, rule", [
    ({"image_size": 7, "kernel_size": 2, "stride": 2}, "stride tiles the padded image"),
    ({"image_size": 7, "kernel_size": 2}, "feature map is 3 x 3 to 5 x 5"),
    ({"kernel_value_range": [0, 2]}, "kernel mixes signs"),
    ({"image_value_range": [2, 2]}, "flipping the kernel changes the map"),
])
def test_impossible_constraints_fail_fast(override, rule):
    start = time.perf_counter()
    with pytest.raises(ConstraintError, match=rule):
        sample_with(FAM, rng_for(1, "e", "s", "1"), override)
    assert time.perf_counter() - start < 30   # bounded, not a speed test: no endless loop
