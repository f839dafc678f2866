"""Each student's own .tex (tex/papers/<id>.tex, tex/keys/<id>.tex) is the document rendering
that student alone gives: cut from the batch's document when the shell allows it, rendered
alone when it does not."""

from __future__ import annotations

import pytest

from conftest import ROOT
from generator.documents import Documents, renderer_for
from generator.plan import Solver, draw, solve_draft
from generator.registry import family_roots
from generator.render import Renderer
from generator.roster import Student
from generator.spec import load_exam

EXAMS = sorted(p.parent for p in (ROOT / "exams").glob("*/exam.toml"))
NAMES = ["Asha Rao", "Émile Ñúñez", "李小龍", "O'Brien & Co", "Zoë 100%"]


def _variants(exam):
    students = [Student(f"25BM{i:05d}", name) for i, name in enumerate(NAMES)]
    solver = Solver()
    return [solve_draft(d, solver) for d in draw(exam, students, exam.seed)]


@pytest.mark.parametrize("folder", EXAMS, ids=lambda p: p.name)
def test_each_students_document_cut_from_the_batch_is_the_document_rendered_alone(folder):
    exam = load_exam(folder)
    docs, variants = Documents(exam, renderer_for(exam)), _variants(exam)
    for kind in ("paper", "key"):
        for engine in ("pdflatex", "lualatex"):
            batch = docs.render(kind, variants, engine)
            cut = docs._cut(kind, batch, len(variants), engine)
            assert cut is not None, "the project's shells must be cut, not rendered again"
            assert cut == [docs.render(kind, [v], engine) for v in variants]
            assert docs.render_each(kind, variants, engine) == (batch, cut)


def test_a_shell_whose_header_or_blocks_depend_on_the_students_renders_each_alone(tmp_path):
    """Whatever the header or a student's block does with the other students (or needs one),
    each student's own document is the document rendered for that student alone."""
    exam = load_exam(ROOT / "exams" / "cs60010-ct2")
    variants = _variants(exam)
    shell = (ROOT / "templates" / "paper.tex.j2").read_text()
    body = "\\VAR{ slot.question }\n"
    assert body in shell
    for changed in (shell + "\\BLOCK{ block banner }\\BLOCK{ for s in students if s.id == '25BM00004' }Late: "
                    "\\VAR{ s.name }\\BLOCK{ endfor }\\BLOCK{ endblock }",
                    shell + "\\BLOCK{ block banner }First: \\VAR{ students[0].id }\\BLOCK{ endblock }",
                    shell.replace(body, body + "\\BLOCK{ if students|length > 1 }(one of several)\\BLOCK{ endif }\n"),
                    shell.replace(body, body + "\\BLOCK{ if students|last != s }(more follow)\\BLOCK{ endif }\n")):
        (tmp_path / "paper.tex.j2").write_text(changed)
        docs = Documents(exam, Renderer([tmp_path], family_roots(exam.family_dirs)))
        batch, own = docs.render_each("paper", variants)
        assert own == [docs.render("paper", [v]) for v in variants]
        assert own[0] != batch


def test_a_key_book_value_is_printed_for_its_own_column_however_often_it_recurs():
    """The key book prints each recurring answer once (a cache): the same value still prints by
    its column's kind and decimals, and a list is printed whole."""
    from types import SimpleNamespace as Col
    from generator.documents import _keybook_value

    two, four = Col(kind="number", decimals=2), Col(kind="number", decimals=4)
    exact, text = Col(kind="number", decimals=None), Col(kind="text", decimals=None)
    for _ in range(2):
        assert _keybook_value("0.73105857", two) == "$0.73$"
        assert _keybook_value("0.73105857", four) == "$0.7311$"
        assert _keybook_value("3/4", two) == r"$\frac{3}{4}$"
        assert _keybook_value(3, exact) == "$3$" and _keybook_value("3", text) == r"$\text{3}$"
        assert _keybook_value(True, exact) == "$true$"
        assert _keybook_value([1, "-1/2"], exact) == r"$[1, - \frac{1}{2}]$"
