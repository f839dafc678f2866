"""A diagram's fixed part declared with \\qgenfixedbox is stored once per PDF (a form XObject)
and looks as the box did: nothing it draws outside its bounding box is cut off, TikZ's
transparency still works, its text is still text; on pdfLaTeX and LuaLaTeX alike."""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import SEED_EXAM, needs_tex
from generator.compile import BEGIN_DOCUMENT, TexError, run_tex
from generator.documents import Documents, renderer_for
from generator.registry import registry
from generator.spec import load_exam

# Drawn 1 cm left of its bounding box, half transparent: on the left margin of the page.
BOX = r"""\newsavebox\qgenTestBox
\qgenfixedbox\qgenTestBox
\AtBeginDocument{\sbox\qgenTestBox{\begin{tikzpicture}
  \useasboundingbox (0,0) rectangle (3,1);
  \fill[opacity=0.5] (-1.5,0) rectangle (-0.5,1);
  \node at (1.5,0.5) {Boxed};
\end{tikzpicture}}}
"""
STUDENT = "\\qgenbeginstudent{%d}\n\\noindent\\usebox\\qgenTestBox\\par Student %d.\n\\qgenendstudent{%d}\n"


def _document(engine: str) -> str:
    exam = load_exam(SEED_EXAM)
    docs = Documents(exam, renderer_for(exam))
    source = docs.without_students("paper", engine)
    cut = source.index(BEGIN_DOCUMENT)
    return source[:cut] + BOX + BEGIN_DOCUMENT + "\n" + "".join(STUDENT % (i, i, i) for i in (1, 2)) + "\\end{document}\n"


def _gray(pdf, page: int) -> list[bytes]:
    """Page `page` at 30 dpi, as rows of 8-bit gray pixels (binary PGM)."""
    data = subprocess.run(["pdftoppm", "-gray", "-r", "30", "-f", str(page), "-l", str(page), str(pdf)],
                          check=True, capture_output=True).stdout
    m = re.match(rb"P5\s+(\d+)\s+(\d+)\s+255\s", data)
    width, height = int(m.group(1)), int(m.group(2))
    pixels = data[m.end():]
    return [pixels[y * width:(y + 1) * width] for y in range(height)]


@needs_tex
@pytest.mark.parametrize("engine", ["pdflatex", "lualatex"])
def test_a_fixed_box_is_one_form_that_draws_outside_its_bounds_and_keeps_its_text(tmp_path, engine):
    pdf = run_tex(_document(engine), tmp_path, engine=engine)
    data = pdf.read_bytes()
    forms = re.findall(rb"<<[^>]*/Subtype\s*/Form.*?>>", data, re.S)
    assert len(forms) == 1, "two uses of one fixed box: one form in the PDF"
    resources = re.search(rb"/Resources\s*(\d+) 0 R", forms[0])
    resources = re.search(rb"\n%s 0 obj(.*?)endobj" % resources.group(1), data, re.S).group(1) if resources else forms[0]
    assert b"/ExtGState" in resources, "the form carries TikZ's resources (its opacity)"
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    assert text.count("Boxed") == 2 and "Student 2." in text
    for page in (1, 2):
        rows = _gray(pdf, page)
        # The filled square sits 0.5 to 1.5 cm right of the page's edge (the margin is 2 cm):
        # about 6 to 17 pixels at 30 dpi. Cut off by the form, it would be white.
        assert min(min(row[8:15]) for row in rows[:80]) < 200, f"page {page}: the overflowing drawing is missing"


def test_every_box_a_built_in_family_saves_is_declared_fixed():
    """A family's saved boxes are its diagrams' fixed parts; undeclared, each page carries its own copy."""
    for family in registry().values():
        preamble = family.folder / "preamble.tex.j2"
        if not preamble.exists():
            continue
        text = preamble.read_text(encoding="utf-8")
        for box in re.findall(r"\\newsavebox(\\[A-Za-z]+)", text):
            assert f"\\qgenfixedbox{box}" in text, f"{preamble}: {box} is not declared with \\qgenfixedbox"


@needs_tex
@pytest.mark.parametrize("engine", ["pdflatex", "lualatex"])
@pytest.mark.parametrize("declared", ["\\qgenTestBxo", "\\qgenmarks"], ids=["undefined", "a macro"])
def test_what_is_no_box_declared_fixed_is_an_error_where_it_is_declared(tmp_path, engine, declared):
    source = _document(engine).replace("\\qgenfixedbox\\qgenTestBox", f"\\qgenfixedbox\\qgenTestBox\\qgenfixedbox{declared}")
    with pytest.raises(TexError) as failed:
        run_tex(source, tmp_path, engine=engine)
    assert f"{declared} is no box; declare it with \\newsavebox{declared} first" in failed.value.detail
