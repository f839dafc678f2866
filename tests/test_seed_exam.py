"""The seed exam (CS60010 CT2 2022) end to end: the original pinned, golden .tex, every PDF compiles.

Set QGEN_UPDATE_GOLDEN=1 to rewrite the golden files after an intended change, then review
the diff like any other change.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from conftest import SEED_EXAM, needs_tex, numbers_in, pdf_text
from generator.registry import get
from generator.run import Options, generate
from generator.roster import load_roster
from generator.spec import load_exam

GOLDEN = Path(__file__).parent / "golden"

ORIGINAL_ANSWERS = {
    "1a": {"statement": None},   # checked separately: a LaTeX string
    "1b": {"depthwise_output_shape": [199, 199, 3], "pointwise_output_shape": [199, 199, 10],
           "depthwise_mults": 1900848, "pointwise_mults": 1188030, "total_mults": 3088878},
    "2": {"a": [-3, 19], "h": [0, 19], "f": 19, "df_dh": [1, 1], "df_da": [0, 1],
          "df_dw": [[0, 5], [0, 2]], "df_dx": [3, 2]},
    "3": {"solutions": [{"x": -5, "f": 15, "df_dx": -3, "dg_dx": -2},
                        {"x": 10, "f": 0, "df_dx": 0, "dg_dx": 1}]},
}


@pytest.fixture(scope="module")
def seed_build(tmp_path_factory):
    exam = load_exam(SEED_EXAM)
    students = load_roster(SEED_EXAM / "roster.csv")
    out = tmp_path_factory.mktemp("seed") / "out"
    tex_only = os.environ.get("QGEN_SKIP_TEX") == "1"
    result = generate(exam, students, exam.seed, Options(out, workers=2, tex_only=tex_only))
    assert not result.failures, result.failures
    return out, exam, students


def test_original_answers_are_the_seed_papers(seed_build):
    out, *_ = seed_build
    doc = json.loads((out / "answers.json").read_text())
    original = doc["students"][0]
    assert original["id"] == "ORIGINAL"
    by_slot = {q["slot"]: q for q in original["questions"]}
    assert list(by_slot) == ["1a", "1b", "2", "3"]
    for slot in ("1b", "2", "3"):
        assert by_slot[slot]["answers"] == ORIGINAL_ANSWERS[slot], slot
    assert by_slot["1a"]["params"] == {"identity": "inv"}
    assert "-" in by_slot["1a"]["answers"]["statement"] and len(by_slot["1a"]["answers"]["steps"]) >= 3
    assert [q["points"] for q in original["questions"]] == [3, 3, 10, 4]
    assert by_slot["3"]["bonus_points"] == 1


@pytest.mark.parametrize("kind,folder", [("paper", "papers"), ("key", "keys")])
def test_original_tex_matches_the_golden_file(seed_build, kind, folder):
    out, *_ = seed_build
    got = (out / "tex" / folder / "ORIGINAL.tex").read_text(encoding="utf-8")
    golden = GOLDEN / f"ORIGINAL-{kind}.tex"
    if os.environ.get("QGEN_UPDATE_GOLDEN") == "1":
        golden.write_text(got, encoding="utf-8")
    assert got == golden.read_text(encoding="utf-8"), f"{golden.name} changed; review, then QGEN_UPDATE_GOLDEN=1"


@needs_tex
def test_every_paper_and_key_of_the_example_roster_compiles(seed_build):
    out, exam, students = seed_build
    for sid in ["ORIGINAL"] + [s.id for s in students]:
        paper = pdf_text(out / "papers" / f"{sid}.pdf")
        key = pdf_text(out / "keys" / f"{sid}.pdf")
        for number in ("Question 1", "Question 2", "Question 3"):
            assert number in paper and number in key
        assert "SOLUTION KEY" in key and "SOLUTION KEY" not in paper


@needs_tex
def test_original_pdfs_show_the_seed_values(seed_build):
    out, *_ = seed_build
    paper = " ".join(pdf_text(out / "papers" / "ORIGINAL.pdf").split())
    key = " ".join(pdf_text(out / "keys" / "ORIGINAL.pdf").split())
    assert "200 × 200 × 3" in paper and "Full marks: 20" in paper
    for value in ("3 088 878", "1 900 848", "1 188 030", "199 × 199 × 10"):
        assert value.replace(" ", "") in key.replace(" ", "").replace("\u2009", ""), value
    assert "−5" in key and "x = 10" in key.replace("x=", "x = ")


@needs_tex
def test_papers_hold_no_number_that_only_the_key_has(seed_build):
    out, exam, students = seed_build
    doc = json.loads((out / "answers.json").read_text())
    papers = {s["id"]: numbers_in(pdf_text(out / "papers" / f"{s['id']}.pdf")) for s in doc["students"]}
    # Numbers on every paper are template text (subscripts like w22, the year 2021-22), not values.
    static = set.intersection(*papers.values())
    for s in doc["students"]:
        paper = papers[s["id"]] - static
        # The key groups thousands with thin spaces (1 900 848): join them back.
        key = numbers_in(re.sub(r"(?<=\d)[ \u2009,](?=\d{3}\b)", "", pdf_text(out / "keys" / f"{s['id']}.pdf")))
        # Every number the paper states (values, header, what a question gives, as Q2's f) may appear in it.
        shown = numbers_in(json.dumps([q["params"] for q in s["questions"]]) + json.dumps(exam.header))
        shown |= numbers_in(json.dumps([{k: q["answers"][k] for k in get(q["family"]).spec.given if k in q["answers"]}
                                        for q in s["questions"]]))
        for q in s["questions"]:
            if q["family"] == "matrix_inverse_derivative":
                continue   # a proof: nothing numeric to leak
            telling = {v for v in numbers_in(json.dumps(q["answers"])) - shown if v < 0 or v > 9}
            assert telling <= key, (s["id"], q["slot"], telling - key)
            assert not (telling & paper), (s["id"], q["slot"], telling & paper)
