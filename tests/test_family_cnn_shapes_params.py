"""cnn_shapes_params: two architectures worked by hand, check() catching wrong keys, the layer
pattern fixed per slot (so answer columns line up), exact windows, impossible constraints."""

from __future__ import annotations

import copy
import time

import pytest

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.render import Renderer
from generator.seeding import rng_for
from conftest import sample_with

FAM = get("cnn_shapes_params")
DEFAULTS = FAM.constraints()
POINTS = {"a": 3, "b": 3, "c": 2}


def conv(filters, kernel, stride, padding):
    return {"type": "conv", "filters": filters, "kernel": kernel, "stride": stride, "padding": padding}


def pool(size, stride):
    return {"type": "pool", "size": size, "stride": stride}


ORIGINAL = {"height": 35, "width": 35, "channels": 3, "units": 10,
            "layers": [conv(8, 3, 1, 1), conv(16, 3, 2, 0), pool(3, 2), conv(32, 3, 1, 1), pool(2, 2)]}
# Rectangular, three layers, ending with a conv: worked by hand below.
SMALL = {"height": 28, "width": 36, "channels": 1, "units": 10,
         "layers": [conv(8, 3, 1, 1), pool(2, 2), conv(16, 5, 1, 0)]}


def test_original_pinned():
    a = FAM.solve(ORIGINAL).answers
    assert a["out_height"] == [35, 17, 8, 8, 4] and a["out_width"] == [35, 17, 8, 8, 4]
    assert a["out_channels"] == [8, 16, 16, 32, 32]
    assert a["flatten_size"] == 512                                   # 4 * 4 * 32
    assert a["params"] == [224, 1168, 0, 4640, 0, 5130]               # 3*3*3*8+8, 3*3*8*16+16, ..., 512*10+10
    assert a["total_params"] == 11162
    assert a["receptive_field"] == 17                                 # 1 -> 3 -> 7 -> 15 -> 17
    FAM.check(ORIGINAL, a)


def test_rectangular_three_layers_pinned():
    a = FAM.solve(SMALL).answers
    # 28x36 -> conv p1: 28x36x8 -> pool: 14x18x8 -> conv 5x5 p0: 10x14x16
    assert (a["out_height"], a["out_width"], a["out_channels"]) == ([28, 14, 10], [36, 18, 14], [8, 8, 16])
    assert a["flatten_size"] == 2240
    assert a["params"] == [80, 0, 3216, 22410] and a["total_params"] == 25706
    assert a["receptive_field"] == 12                                 # 1 -> 5 -> 10 -> 12
    FAM.check(SMALL, a)


@pytest.mark.parametrize("key, wrong", [
    ("receptive_field", 16),
    ("params", [224, 1168, 0, 4640, 0, 5120]),          # dense biases forgotten
    ("params", [216, 1152, 0, 4608, 0, 5130]),          # conv biases forgotten
    ("out_channels", [8, 16, 32, 32, 32]),              # pooling given the next layer's channels
    ("out_height", [35, 16, 7, 7, 3]),                  # floor of the wrong formula
    ("flatten_size", 128),
    ("total_params", 11163),
])
def test_tampered_answer_is_caught(key, wrong):
    a = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    a[key] = wrong
    with pytest.raises(CheckError, match=key):
        FAM.check(ORIGINAL, a)


def test_solve_refuses_a_window_that_does_not_fit():
    bad = copy.deepcopy(ORIGINAL)
    bad["layers"][1]["padding"] = 1                    # (35 + 2 - 3)/2 is not whole
    with pytest.raises(ValueError, match="exactly"):
        FAM.solve(bad)


@pytest.mark.parametrize("overrides", [{}, {"layer_count": 3, "pool_count": 1, "final_pool": False},
                                       {"layer_count": 4, "pool_count": 1, "final_pool": True, "strided_convs": 2}])
def test_slot_shares_one_pattern_and_every_window_fits(overrides):
    c = FAM.constraints(overrides)
    renderer = Renderer()
    patterns, shapes = set(), set()
    for i in range(150):
        p = FAM.sample(rng_for(5, "t", f"s{i}", "1"), c)
        types = [layer["type"] for layer in p["layers"]]
        assert len(types) == c["layer_count"] and types[0] == "conv"
        assert types.count("pool") == c["pool_count"] and (types[-1] == "pool") == c["final_pool"]
        assert sum(layer["type"] == "conv" and layer["stride"] == 2 for layer in p["layers"]) == c["strided_convs"]
        n = [p["height"], p["width"]]
        for layer in p["layers"]:
            k, pad = layer.get("kernel", layer.get("size")), layer.get("padding", 0)
            assert 2 * pad <= k - 1
            assert all((m + 2 * pad - k) % layer["stride"] == 0 for m in n), p
            n = [(m + 2 * pad - k) // layer["stride"] + 1 for m in n]
        sol = FAM.solve(p)
        assert sol.answers["receptive_field"] <= min(p["height"], p["width"])
        shapes.add(tuple(len(v) if isinstance(v, list) else 0 for v in sol.answers.values()))
        patterns.add(tuple(types))
        question = renderer.slot(FAM, "question", p, sol.answers, sol.work, POINTS)
        assert f"layer~{sol.work['rf_layer']} (the last convolution layer)" in question
        assert str(sol.answers["total_params"]) not in question
    assert len(shapes) == 1, "every student of a slot has the same answer columns"
    if not overrides:
        assert patterns == {("conv", "conv", "pool", "conv", "pool"), ("conv", "pool", "conv", "conv", "pool")}


@pytest.mark.parametrize("override, rule", [
    ({"layer_count": 3, "pool_count": 2}, "layer pattern"),
    ({"strided_convs": 4}, "strided_convs"),
    ({"padding_range": [2, 2], "kernel_choices": [3]}, "padding at most same"),
    ({"total_params_range": [1, 2]}, "total_params_range"),
    ({"input_size_range": [200, 300]}, "input_size_range"),
])
def test_impossible_constraints_fail_fast(override, rule):
    start = time.perf_counter()
    with pytest.raises(ConstraintError, match=rule):
        sample_with(FAM, rng_for(1, "t", "X", "1"), override)
    assert time.perf_counter() - start < 30   # bounded, not a speed test: no endless loop
