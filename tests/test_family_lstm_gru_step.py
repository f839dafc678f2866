"""lstm_gru_step: the two originals pinned (values computed by hand with math.exp/tanh, written as
literals), tampered answers caught, the fairness properties particular to the family, and a
hopeless constraint failing fast."""

from __future__ import annotations

import copy
import time

import pytest

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.render import Renderer
from generator.seeding import rng_for
from conftest import sample_with

FAM = get("lstm_gru_step")
PTS = {"a": 3, "b": 2, "c": 1}
LSTM = {"cell": "lstm", "x": 1, "prev": {"h": 0.5, "c": -2},
        "weights": {"i": [2, -2, 1], "f": [1, 2, -1], "g": [2, -4, 1], "o": [2, 2, 0]}}
GRU = {"cell": "gru", "x": 2, "prev": {"h": -0.5},
       "weights": {"r": [1, 2, -2], "z": [-1, -4, 2], "n": [1, 4, -1, 1]}}
LSTM_ANSWERS = {"i": 0.880797078, "f": 0.7310585786, "o": 0.9525741268, "g": 0.761594156,
                "c": -0.7913072501, "h": -0.627888238}
GRU_ANSWERS = {"r": 0.2689414214, "z": 0.880797078, "n": 0.6237125498, "h": -0.3660501805}


@pytest.mark.parametrize("params,want", [(LSTM, LSTM_ANSWERS), (GRU, GRU_ANSWERS)])
def test_originals_pinned(params, want):
    sol = FAM.solve(params)
    for key in FAM.spec.answer_keys:
        if key in want:
            assert float(sol.answers[key]) == pytest.approx(want[key], abs=1e-9), key
        else:
            assert sol.answers[key] == [], f"{params['cell']} has no {key}"
    assert sol.work["pre"] == ({"i": 2, "f": 1, "g": 1, "o": 3} if params["cell"] == "lstm" else {"r": -1, "z": 2})
    FAM.check(params, sol.answers)


def test_original_key_shows_the_numbers():
    renderer = Renderer()
    sol = FAM.solve(LSTM)
    question = renderer.slot(FAM, "question", LSTM, sol.answers, sol.work, PTS)
    key = renderer.slot(FAM, "solution", LSTM, sol.answers, sol.work, PTS)
    assert r"\qgenLstmGruStepLstm{1}{0.5}{-2}" in question and "nn.LSTM" in question
    assert r"\boxed" not in question and "0.8808" not in question
    for text in (r"\sigma(2\cdot1 + (-2)\cdot0.5 + 1) = \sigma(2)", r"\boxed{0.8808}", r"\boxed{-0.7913}",
                 r"\boxed{-0.6279}", r"0.7311\cdot(-2) + 0.8808\cdot0.7616"):
        assert text in key, text
    gru = FAM.solve(GRU)
    key = renderer.slot(FAM, "solution", GRU, gru.answers, gru.work, PTS)
    assert r"\tanh(1 + 0.2689\cdot(-1))" in key and r"\boxed{-0.3661}" in key


@pytest.mark.parametrize("params,key,value", [
    (LSTM, "c", -0.7912),            # off in the 4th decimal
    (LSTM, "h", -0.6),
    (LSTM, "r", 0.5),                # an LSTM has no reset gate
    (GRU, "n", 0.6237),              # rounded: the check compares the exact value
    (GRU, "h", -0.3660501805 + 1e-6),
])
def test_check_catches_a_wrong_answer(params, key, value):
    import sympy as sp
    answers = copy.deepcopy(FAM.solve(params).answers)
    answers[key] = sp.Float(value)
    with pytest.raises(CheckError, match=key):
        FAM.check(params, answers)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fairness(cell):
    """Whole, small, nonzero pre-activations; sigmoid gates of distinct size; h_{t-1} a tanh value;
    the GRU candidate's whole pre-activation small; the slot's cell only."""
    c = FAM.constraints({"cell": cell})
    seen = set()
    for i in range(300):
        p = FAM.sample(rng_for(5, "fair", f"s{i}", "1"), c)
        assert p["cell"] == cell and set(p["weights"]) == set("ifgo" if cell == "lstm" else "rzn")
        assert set(p["prev"]) == ({"h", "c"} if cell == "lstm" else {"h"})
        assert p["prev"]["h"] in (-0.5, 0.5) and p["x"] != 0
        sol = FAM.solve(p)
        pre = {g: int(v) for g, v in sol.work["pre"].items()}
        assert all(v != 0 and abs(v) <= 3 for v in pre.values())
        sig = [abs(pre[g]) for g in ("ifo" if cell == "lstm" else "rz")]
        assert len(set(sig)) == len(sig)
        if cell == "gru":
            assert sol.work["n_x"] != 0 and sol.work["n_h"] != 0 and abs(float(sol.work["n_pre"])) <= 3
        else:
            assert p["prev"]["c"] != 0
        seen.add(str(p))
    assert len(seen) > 280


def test_a_hopeless_constraint_fails_in_bounded_time():
    start = time.perf_counter()
    with pytest.raises(ConstraintError, match="whole numbers"):
        sample_with(FAM, rng_for(1, "t", "x", "1"), {"h_prev_choices": [0.3], "hidden_weight_range": [-4, 4]})
    with pytest.raises(ConstraintError, match="possible hidden state"):
        sample_with(FAM, rng_for(1, "t", "x", "1"), {"h_prev_choices": [1]})
    assert time.perf_counter() - start < 30   # bounded, not a speed test: no endless loop
