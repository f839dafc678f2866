"""The question bank for a whole course: at least 18 families, three exams that pass `qgen check`
with full marks that add up, and the catalogue to choose questions from."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from conftest import ROOT, needs_tex, pdf_text
from generator.cli import main
from generator.registry import registry
from generator.spec import load_exam

EXAMS = sorted(p.parent for p in (ROOT / "exams").glob("*/exam.toml"))
TOPICS = {"CNNs", "Feed-forward networks and losses", "Optimisation", "Normalisation and regularisation",
          "Sequence models", "Attention and transformers", "Generative models"}


def test_the_bank_covers_the_course():
    families = registry()
    assert len(families) >= 18
    assert TOPICS <= {f.spec.topic for f in families.values()}
    assert len(EXAMS) >= 3 and {"cs60010-ct2", "dl-class-test-01", "dl-mid-semester"} <= {p.name for p in EXAMS}


@needs_tex
@pytest.mark.parametrize("exam_dir", EXAMS, ids=[p.name for p in EXAMS])
def test_every_exam_passes_check_and_its_marks_add_up(exam_dir):
    exam = load_exam(exam_dir)
    assert sum(s.points for s in exam.slots) == exam.header["full_marks"]
    result = CliRunner().invoke(main, ["check", str(exam_dir), "--n", 40, "--typeset", 1], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(re.findall(r"\d+ seeds, ok", result.output)) == len(exam.slots)


@needs_tex
def test_the_catalogue_has_a_section_per_family_by_topic(tmp_path):
    out = tmp_path / "bank.pdf"
    result = CliRunner().invoke(main, ["catalogue", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = " ".join(pdf_text(out).split())
    for fam in registry().values():
        assert fam.name.replace("_", "") in text.replace("_", "").replace(" ", "") or fam.spec.title in text, fam.name
    for topic in TOPICS:
        assert topic in text
    assert text.count("Example question.") == len(registry()) and text.count("Its key.") == len(registry())
