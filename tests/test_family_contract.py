"""The contract every family keeps, tested over every family found (a new one is tested by existing):
500 seeds of sample, solve and the independent check; the same seed gives the same variant; a
wrong answer is noticed; malformed and unmeetable constraints give one clear line; question and
key render for every seed with no answer in the question; a few typeset; every exam's original
values solve and check."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from conftest import ROOT, needs_tex
from generator.constraints import ConstraintError
from generator.preview import family_exam
from generator.registry import registry
from generator.spec import load_exam
from generator.stress import Report, check_slot
from generator.values import to_json

FAMILIES = sorted(registry())
EXAMS = sorted(p.parent for p in (ROOT / "exams").glob("*/exam.toml"))


@pytest.fixture(params=FAMILIES)
def family(request):
    return registry()[request.param]


@needs_tex
def test_500_seeds_solve_check_render_and_a_few_typeset(family):
    exam = family_exam(family)
    report = check_slot(exam, exam.slots[0], Report(family.name, f"qgen preview {family.name} --seed"), n=500,
                        seed=0, typeset=2)
    assert report.ok, report.failures[:5]
    used = {name for name in report.draws if name}
    assert used <= set(family.spec.rules), f"rules not declared in FAMILY.rules: {sorted(used - set(family.spec.rules))}"
    assert report.typeset == 2


def test_the_same_seed_gives_the_same_variant_and_answers(family):
    c = family.constraints()
    one, two = (family.sample(np.random.default_rng(7), c) for _ in range(2))
    assert one == two
    assert json.dumps(to_json(family.solve(one).answers)) == json.dumps(to_json(family.solve(two).answers))
    assert json.loads(json.dumps(one)) == one, "params are JSON values"


def test_the_declared_defaults_are_valid_and_malformed_constraints_are_one_line(family):
    assert family.constraints() == family.spec.defaults
    for key, spec in family.spec.constraints.items():
        if key.endswith("_range"):
            lo, hi = spec.default
            with pytest.raises(ConstraintError, match=rf"constraint '{key}' must be \[low, high\]") as exc:
                family.constraints({key: [hi + 1, lo]})
            assert "\n" not in str(exc.value)
        if spec.among is not None and not isinstance(spec.default, bool):
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec.among)
            bad = max(spec.among) + 1 if numeric else "no-such-value"
            with pytest.raises(ConstraintError, match=rf"'{key}' names unknown value"):
                family.constraints({key: [bad] if isinstance(spec.default, list) else bad})
    with pytest.raises(ConstraintError, match="unknown constraint 'no_such_constraint'"):
        family.constraints({"no_such_constraint": 1})


def test_constraints_that_cannot_be_met_name_a_declared_rule_in_bounded_time(family, monkeypatch):
    import generator.sampling as contract
    real = contract.sample_until
    if getattr(family.module, "sample_until", None) is not real:
        pytest.skip("the family draws without rejection sampling")

    def every_rule_rejects(rng, draw, rules, family, tries=20_000):
        return real(rng, draw, [(name, lambda p: False) for name, _ in rules], family, tries=2_000)

    monkeypatch.setattr(family.module, "sample_until", every_rule_rejects)
    started = time.perf_counter()
    with pytest.raises(ConstraintError) as exc:
        family.sample(np.random.default_rng(1), family.constraints())
    message = str(exc.value)
    assert "\n" not in message and "could not be met" in message
    assert any(f"'{rule}'" in message for rule in family.spec.rules), message
    assert time.perf_counter() - started < 10


def test_every_family_has_a_readme_and_both_templates(family):
    for name in ("README.md", "question.tex.j2", "solution.tex.j2"):
        assert (family.folder / name).is_file(), name
    assert family.spec.topic, "a topic, for the catalogue"


@pytest.mark.parametrize("exam_dir", EXAMS, ids=[p.name for p in EXAMS])
def test_every_exams_original_values_solve_and_check(exam_dir):
    exam = load_exam(exam_dir)
    for slot in exam.slots:
        solution = slot.family.solve(slot.original)
        slot.family.check(slot.original, solution.answers)


def test_the_helpers_families_share():
    """as_float reads every form an answer comes in; integer_at covers its range evenly, skipping 0."""
    import sympy as sp
    from fractions import Fraction
    from generator.family import as_float, integer_at

    assert as_float("3/4") == 0.75 and as_float("0.1") == 0.1 and as_float(Fraction(1, 8)) == 0.125
    assert as_float([sp.Rational(1, 2), [2, "-1/4"]]) == [0.5, [2.0, -0.25]]
    picked = [integer_at((i + 0.5) / 600, -3, 2, nonzero=True) for i in range(600)]
    assert sorted(set(picked)) == [-3, -2, -1, 1, 2] and all(picked.count(v) == 120 for v in set(picked))
    assert integer_at(0.999999, 0, 4) == 4
    with pytest.raises(ConstraintError, match=r"a range \[0, 0\] of the constraints leaves nothing to draw \(this value may not be 0\)"):
        integer_at(0.5, 0, 0, nonzero=True)
