"""The shell's page handling: LaTeX's update of its mark classes waits for the first mark, a
shortcut past LaTeX's own machinery, so it must give the PDF that machinery gives, byte for
byte, and still serve what it offers: marks (\\InsertMark, \\markboth) read back. The held-back
pages still pass through the shipout/before hook."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import SEED_EXAM, needs_tex, pdf_text
from generator.compile import BEGIN_DOCUMENT, run_tex
from generator.documents import Documents, renderer_for
from generator.roster import Student
from generator.run import Options, generate
from generator.spec import load_exam

# LaTeX's own way: mark classes updated on every page.
LATEX_OWN = "\\makeatletter\\let\\@expl@@@mark@update@singlecol@structures@@\\qgen@markupdate\\makeatother\n"


def _two_students(tmp_path: Path) -> str:
    """The seed exam's key for two students in one document (several pages each)."""
    students = [Student("25CS001", "Asha Rao"), Student("25CS002", "Bilal Khan")]
    out = tmp_path / "out"
    generate(load_exam(SEED_EXAM), students, 7, Options(out, tex_only=True))
    sources = [(out / "tex" / "keys" / f"{s.id}.tex").read_text(encoding="utf-8") for s in students]
    begin, end = "\\qgenbeginstudent{1}", "\\qgenendstudent{1}"
    blocks = [s[s.index(begin):s.index(end) + len(end)] for s in sources]
    second = blocks[1].replace(begin, "\\qgenbeginstudent{2}").replace(end, "\\qgenendstudent{2}")
    return sources[0].replace(blocks[0], blocks[0] + "\n" + second)


def _with(source: str, preamble: str) -> str:
    cut = source.index(BEGIN_DOCUMENT)
    return source[:cut] + preamble + source[cut:]


@needs_tex
def test_the_shortcut_gives_the_pdf_latex_own_machinery_gives(tmp_path):
    source = _two_students(tmp_path)
    (tmp_path / "fast").mkdir()
    (tmp_path / "own").mkdir()
    fast = run_tex(source, tmp_path / "fast")
    own = run_tex(_with(source, LATEX_OWN), tmp_path / "own")
    log = (tmp_path / "fast" / "doc.log").read_text(encoding="utf-8", errors="replace")
    pages = [int(n) for n in re.findall(r"^qgen-pages \d+ (\d+)$", log, re.M)]
    assert len(pages) == 2 and min(pages) >= 3, f"two students of several pages each: {pages}"
    assert fast.read_bytes() == own.read_bytes()


PAGES = r"""\qgenbeginstudent{1}
First page.\InsertMark{2e-left}{Alpha}\newpage
Second page, after a page marked [\FirstMark{2e-left}].\markboth{Beta}{Gamma}\newpage
Third page, after [\FirstMark{2e-left}] and [\LastMark{2e-right}]; hook saw \the\qgenTestSeen.
\qgenendstudent{1}
"""


@needs_tex
@pytest.mark.parametrize("engine", ["pdflatex", "lualatex"])
def test_marks_read_back_and_the_shipout_hook_sees_every_page(tmp_path, engine):
    exam = load_exam(SEED_EXAM)
    shell = Documents(exam, renderer_for(exam)).without_students("paper", engine)
    hook = "\\newcount\\qgenTestSeen\\AddToHook{shipout/before}{\\global\\advance\\qgenTestSeen 1 }\n"
    cut = shell.index(BEGIN_DOCUMENT)
    end = shell.rindex("\\end{document}")
    source = shell[:cut] + hook + shell[cut:end] + PAGES + shell[end:]
    pdf = run_tex(source, tmp_path, engine=engine)
    text = " ".join(pdf_text(pdf).split())
    assert "after a page marked [Alpha]" in text
    assert "after [Beta] and [Gamma]" in text
    assert "hook saw 2" in text, "the hook ran once for each page shipped before the third's text"
    assert "Page 3 of 3" in text
