"""transformer_param_count: two architectures counted by hand, check() catching wrong keys,
the architecture options fixed by the slot, fairness of the sizes, impossible constraints."""

from __future__ import annotations

import copy
import time

import pytest

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.render import Renderer
from generator.seeding import rng_for
from conftest import sample_with

FAM = get("transformer_param_count")
POINTS = {"a": 2, "b": 3, "c": 2, "d": 2}
ORIGINAL = {"d_model": 512, "heads": 8, "d_ff": 2048, "vocab": 32000, "seq_len": 256, "layers": 6,
            "positional": "learned", "final_layer_norm": True, "bytes_per_value": 4}
PLAIN = {"d_model": 256, "heads": 4, "d_ff": 1024, "vocab": 16000, "seq_len": 512, "layers": 4,
         "positional": "sinusoidal", "final_layer_norm": False, "bytes_per_value": 2}


def test_original_pinned():
    a = FAM.solve(ORIGINAL).answers
    assert a == {"token_embedding_params": 16_384_000, "position_embedding_params": 131_072,
                 "attention_params": 1_050_624, "ffn_params": 2_099_712, "layer_norm_params": 2_048,
                 "layer_params": 3_152_384, "total_params": 35_430_400,
                 "attention_scores": 524_288, "attention_bytes": 2_097_152}
    FAM.check(ORIGINAL, a)


def test_sinusoidal_without_final_norm_pinned():
    a = FAM.solve(PLAIN).answers
    # 16000*256; 0; 4*(256^2+256); 2*256*1024+1024+256; 4*256; 4*layer; 4*512^2; *2 bytes
    assert a == {"token_embedding_params": 4_096_000, "position_embedding_params": 0,
                 "attention_params": 263_168, "ffn_params": 525_568, "layer_norm_params": 1_024,
                 "layer_params": 789_760, "total_params": 7_255_040,
                 "attention_scores": 1_048_576, "attention_bytes": 2_097_152}
    FAM.check(PLAIN, a)


@pytest.mark.parametrize("params, key, wrong", [
    (ORIGINAL, "attention_params", 3 * (512 * 64 + 64) * 8 + 512 * 512),     # W_O's bias forgotten
    (ORIGINAL, "total_params", 35_430_400 - 1_024),                          # final layer norm forgotten
    (ORIGINAL, "layer_norm_params", 1_024),                                  # one layer norm only
    (ORIGINAL, "attention_scores", 256 * 256),                               # one head only
    (PLAIN, "attention_bytes", 4 * 1_048_576),                               # 4 bytes, not 2
    (PLAIN, "position_embedding_params", 512 * 256),                         # sinusoidal counted
])
def test_tampered_answer_is_caught(params, key, wrong):
    a = copy.deepcopy(FAM.solve(params).answers)
    a[key] = wrong
    with pytest.raises(CheckError, match=key):
        FAM.check(params, a)


@pytest.mark.parametrize("overrides", [{}, {"positional": "sinusoidal", "final_layer_norm": False, "bytes_per_value": 2}])
def test_sizes_are_fair_and_options_come_from_the_slot(overrides):
    c = FAM.constraints(overrides)
    renderer = Renderer()
    for i in range(200):
        p = FAM.sample(rng_for(9, "t", f"s{i}", "1"), c)
        assert (p["positional"], p["final_layer_norm"], p["bytes_per_value"]) == \
            (c["positional"], c["final_layer_norm"], c["bytes_per_value"])
        assert p["d_model"] % p["heads"] == 0 and p["d_model"] // p["heads"] >= c["min_head_dim"]
        assert p["seq_len"] not in (p["d_model"], p["d_ff"])
        assert p["vocab"] % c["vocab_step"] == 0
        sol = FAM.solve(p)
        question = renderer.slot(FAM, "question", p, sol.answers, sol.work, POINTS)
        words = "learned positional embedding" if c["positional"] == "learned" else "sinusoidal positional"
        assert words in question
        assert ("A final layer norm follows" in question) == c["final_layer_norm"]
        for key in ("total_params", "layer_params", "attention_scores", "attention_bytes"):
            assert str(sol.answers[key]) not in question.replace("\\,", "")


@pytest.mark.parametrize("override, rule", [
    ({"heads_choices": [7]}, "heads divide d_model"),
    ({"min_head_dim": 1000}, "min_head_dim"),
    ({"vocab_range": [1500, 1900]}, "vocab_range"),
    ({"seq_len_choices": [512], "d_model_choices": [512]}, "seq_len differs"),
    ({"total_params_range": [1, 2]}, "total_params_range"),
])
def test_impossible_constraints_fail_fast(override, rule):
    start = time.perf_counter()
    with pytest.raises(ConstraintError, match=rule):
        sample_with(FAM, rng_for(1, "t", "X", "1"), override)
    assert time.perf_counter() - start < 30   # bounded, not a speed test: no endless loop


def test_solve_refuses_heads_that_do_not_divide_d_model():
    with pytest.raises(ValueError, match="divisible"):
        FAM.solve({**ORIGINAL, "heads": 7})
