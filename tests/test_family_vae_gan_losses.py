"""vae_gan_losses: the original pinned by hand, tampering caught, its own fairness rules."""

from __future__ import annotations

import copy
import time
from fractions import Fraction

import pytest
import sympy as sp

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.render import Renderer
from generator.seeding import rng_for
from generator.values import to_json
from conftest import sample_with

FAM = get("vae_gan_losses")
POINTS = {"a": 3, "b": 2, "c": 2, "d": 3}
ORIGINAL = {"mu": [1, -2], "sigma": ["1/2", "1"], "d_real": ["0.9", "0.8"], "d_fake": ["0.1", "0.3"]}


def test_original_pinned():
    a = FAM.solve(ORIGINAL).answers
    # By hand: KL_1 = (1 + 1/4 - 1 - ln 1/4)/2 = 1/8 + ln 2, KL_2 = (4 + 1 - 1 - 0)/2 = 2.
    assert sp.simplify(a["kl_dims"][0] - (sp.Rational(1, 8) + sp.log(2))) == 0
    assert a["kl_dims"][1] == 2
    assert float(a["kl"]) == pytest.approx(2.818147, abs=1e-6)
    # ln 0.9 = -0.105361, ln 0.8 = -0.223144, ln 0.7 = -0.356675, ln 0.1 = -2.302585, ln 0.3 = -1.203973
    assert float(a["loss_d"]) == pytest.approx((0.105361 + 0.223144 + 0.105361 + 0.356675) / 2, abs=2e-6)
    assert float(a["loss_g_sat"]) == pytest.approx(-(0.105361 + 0.356675) / 2, abs=2e-6)
    assert float(a["loss_g_ns"]) == pytest.approx((2.302585 + 1.203973) / 2, abs=2e-6)
    assert a["grad_sat"] == [sp.Rational(-5, 9), sp.Rational(-5, 7)]
    assert a["grad_ns"] == [-5, sp.Rational(-5, 3)]
    FAM.check(ORIGINAL, a)


def test_original_renders_its_key():
    sol = FAM.solve(ORIGINAL)
    r = Renderer()
    question = r.slot(FAM, "question", ORIGINAL, sol.answers, sol.work, POINTS)
    key = r.slot(FAM, "solution", ORIGINAL, sol.answers, sol.work, POINTS)
    assert r"\qgenVaeGanLossesVae{(1, -2)}{(1/2, 1)}" in question and "four decimal places" in question
    assert "rejects every generated sample" in question
    for text in ("0.8181", "2.8181", "0.3953", "0.2310", "1.7533", "0.5556", "1.6667", "boxed"):
        assert text not in question, text
    for text in (r"\boxed{0.8181}", r"\boxed{2.0000}", r"\boxed{2.8181}", r"\boxed{0.3953}", r"\boxed{-0.2310}",
                 r"\boxed{1.7533}", r"\boxed{-0.5556}", r"\boxed{-0.7143}", r"\boxed{-5.0000}", r"\boxed{-1.6667}"):
        assert text in key, text


@pytest.mark.parametrize("key, index, delta", [
    ("kl_dims", 0, 1e-4), ("kl", None, 0.5), ("loss_d", None, -1e-4), ("loss_g_sat", None, 1e-3),
    ("loss_g_ns", None, 1e-4), ("grad_sat", 1, 1e-4), ("grad_ns", 0, 1.0),
])
def test_tampered_answer_is_caught(key, index, delta):
    a = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    if index is None:
        a[key] = a[key] + delta
    else:
        a[key][index] = a[key][index] + delta
    with pytest.raises(CheckError, match=key):
        FAM.check(ORIGINAL, a)


def test_kl_with_ln_sigma_instead_of_ln_sigma_squared_is_caught():
    a = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    a["kl_dims"][0] = (1 + sp.Rational(1, 4) - 1 - sp.log(sp.Rational(1, 2))) / 2
    with pytest.raises(CheckError, match="kl_dims"):
        FAM.check(ORIGINAL, a)


def test_swapped_generator_losses_are_caught():
    a = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    a["grad_sat"], a["grad_ns"] = a["grad_ns"], a["grad_sat"]
    with pytest.raises(CheckError, match="grad_sat"):
        FAM.check(ORIGINAL, a)


def test_check_accepts_json_form():
    FAM.check(ORIGINAL, to_json(FAM.solve(ORIGINAL).answers))


@pytest.mark.parametrize("dims, batch", [(2, 2), (3, 1), (3, 3)])
def test_fairness_and_shape(dims, batch):
    c = FAM.constraints({"latent_dims": dims, "batch_size": batch})
    for i in range(200):
        p = FAM.sample(rng_for(4, "vg", f"s{i}", "1"), c)
        sigma = [Fraction(s) for s in p["sigma"]]
        pairs = list(zip((abs(v) for v in p["mu"]), sigma))
        assert len(p["mu"]) == dims and len(set(pairs)) == dims
        assert all(mu != 0 or s != 1 for mu, s in pairs)
        assert sum(s == 1 for s in sigma) <= 1
        prod = Fraction(1)
        for s in sigma:
            prod *= s
        assert prod != 1
        assert len(p["d_real"]) == len(set(p["d_real"])) == batch
        assert len(p["d_fake"]) == len(set(p["d_fake"])) == batch
        a = FAM.solve(p).answers
        assert len(a["kl_dims"]) == dims and len(a["grad_sat"]) == len(a["grad_ns"]) == batch
        assert all(float(k) > 0 for k in a["kl_dims"])
        # With the default D(G(z)) < 1/2 the non-saturating derivative is always the larger one.
        assert all(abs(ns) > abs(sat) for ns, sat in zip(a["grad_ns"], a["grad_sat"]))


def test_part_d_wording_follows_the_d_outputs():
    p = {"mu": [1, -2], "sigma": ["1/2", "2/3"], "d_real": ["0.9", "0.8"], "d_fake": ["0.1", "0.75"]}
    sol = FAM.solve(p)
    FAM.check(p, sol.answers)
    r = Renderer()
    question = r.slot(FAM, "question", p, sol.answers, sol.work, POINTS)
    key = r.slot(FAM, "solution", p, sol.answers, sol.work, POINTS)
    assert "For which samples does each loss" in question
    assert "sample 1: non-saturating; sample 2: saturating" in key


@pytest.mark.parametrize("override, rule", [
    ({"d_fake_choices": ["0.1"]}, "generated outputs differ"),
    ({"sigma_choices": ["1"]}, "max_unit_sigmas"),
    ({"sigma_choices": ["1/2"], "mu_range": [1, 1]}, "latent dimensions differ"),
])
def test_impossible_constraints_fail_fast(override, rule):
    t = time.perf_counter()
    with pytest.raises(ConstraintError, match=rule):
        sample_with(FAM, rng_for(1, "x", "y", "1"), override)
    assert time.perf_counter() - t < 30   # bounded, not a speed test: no endless loop
