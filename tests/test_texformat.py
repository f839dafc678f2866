"""The dumped preamble (a TeX format): a batch typeset from it is the same PDF, byte for byte,
as the batch typeset plainly, for every exam; other documents are typeset plainly; TeX's
error lines still point at the line of the whole document."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, needs_tex
from generator.compile import TexError, dump_format, run_tex
from generator.documents import Documents, renderer_for
from generator.plan import Solver, draw, solve_draft
from generator.roster import Student
from generator.spec import load_exam

EXAMS = sorted(p.parent for p in (ROOT / "exams").glob("*/exam.toml"))
DOC = "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n%s\n\\end{document}\n"


def _two_students(folder: Path) -> tuple[Documents, list]:
    """The exam's documents and two students' variants, one of them with accents."""
    exam = load_exam(folder)
    drafts = draw(exam, [Student("25BM00001", "Asha Rao"), Student("25BM00002", "Émile Ñúñez")], exam.seed)
    solver = Solver()
    return Documents(exam, renderer_for(exam)), [solve_draft(d, solver) for d in drafts]


def _first_line(log: Path) -> str:
    return log.read_text(errors="replace").splitlines()[0]


@needs_tex
@pytest.mark.parametrize("folder", EXAMS, ids=lambda p: p.name)
def test_a_batch_from_the_format_is_the_plain_batch_byte_for_byte(folder, tmp_path):
    docs, variants = _two_students(folder)
    for kind in ("paper", "key"):
        source = docs.render(kind, variants)
        fmt = dump_format(source, tmp_path / "formats")
        assert fmt is not None and source.startswith(fmt.preamble)
        assert (fmt.path.parent / f"{fmt.path.name}.fmt").read_bytes()[:2] != b"\x1f\x8b", "stored gzipped"
        (tmp_path / kind).mkdir()
        plain = run_tex(source, tmp_path / kind, jobname="plain").read_bytes()
        dumped = run_tex(source, tmp_path / kind, jobname="dumped", formats=(fmt,))
        assert "format=pdflatex" in _first_line(tmp_path / kind / "plain.log")
        assert f"format={fmt.path.name}" in _first_line(tmp_path / kind / "dumped.log")
        assert dumped.read_bytes() == plain, f"{folder.name} {kind}: the format changes the PDF"


@needs_tex
def test_another_preamble_is_typeset_plainly_and_errors_keep_their_line(tmp_path):
    fmt = dump_format(DOC % "x", tmp_path / "formats")
    assert fmt is not None
    other = "\\documentclass{article}\n\\begin{document}\nplain\n\\end{document}\n"
    run_tex(other, tmp_path, jobname="other", formats=(fmt,))
    assert "format=pdflatex" in _first_line(tmp_path / "other.log")
    with pytest.raises(TexError) as caught:
        run_tex(DOC % "fine\n\\undefinedcommand", tmp_path, jobname="bad", formats=(fmt,))
    assert "bad.tex:5:" in caught.value.detail      # line 5 of the whole document, not of its body


def test_no_format_for_another_engine_or_a_fragment(tmp_path):
    assert dump_format(DOC % "x", tmp_path, engine="lualatex") is None
    assert dump_format("no document here", tmp_path) is None


@needs_tex
def test_a_preamble_that_does_not_survive_a_format_is_read_by_every_run(tmp_path, monkeypatch):
    """A format TeX cannot load (here: a corrupt file) costs time, never papers."""
    from generator import texcache
    from generator.compile import Format
    from generator.run import Options, generate

    def broken(source, folder, engine="pdflatex", dump=True):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "broken.fmt").write_bytes(b"not a format")
        return Format(source[:source.find("\\begin{document}")], folder / "broken")

    monkeypatch.setattr(texcache, "format_for", broken)
    exam = load_exam(ROOT / "tests" / "data" / "q2-only")
    result = generate(exam, [Student("25BM00001", "Asha Rao")], exam.seed, Options(tmp_path / "out", workers=1))
    assert not result.failures
    assert {p.name for p in (tmp_path / "out" / "keys").glob("*.pdf")} == {"ORIGINAL.pdf", "25BM00001.pdf"}


def _header_each_time(source: str) -> str:
    """The document as it was before the header box: the header typeset for every student."""
    start, end = source.index("\\qgenbeginheader\n"), source.index("\\qgenendheader\n")
    header = source[start + len("\\qgenbeginheader\n"):end]
    assert source.count("\\qgenputheader\n") >= 2
    return (source[:start] + source[end + len("\\qgenendheader\n"):]).replace("\\qgenputheader\n", header)


@needs_tex
@pytest.mark.parametrize("folder", EXAMS, ids=lambda p: p.name)
def test_the_header_typeset_once_and_copied_is_the_header_typeset_each_time(folder, tmp_path):
    docs, variants = _two_students(folder)
    for kind in ("paper", "key"):
        source = docs.render(kind, variants)
        (tmp_path / kind).mkdir()
        copied = run_tex(source, tmp_path / kind, jobname="copied").read_bytes()
        each = run_tex(_header_each_time(source), tmp_path / kind, jobname="each").read_bytes()
        assert copied == each, f"{folder.name} {kind}: the copied header changes the pages"


@needs_tex
def test_a_format_that_changes_the_original_is_not_given_to_the_batches(tmp_path):
    """A \\pdfinfo at \\begin{document} is not kept by a format: the original typeset from one
    differs from the plain original, so the run typesets plainly (and keeps the title)."""
    from generator.preflight import preflight

    class Titled(Documents):
        def render(self, kind, variants, engine="pdflatex"):
            source = super().render(kind, variants, engine)
            return source.replace("\\begin{document}", "\\AtBeginDocument{\\pdfinfo{/Title (qgen title)}}\n"
                                  "\\begin{document}", 1)

    exam = load_exam(ROOT / "tests" / "data" / "q2-only")
    drafts = draw(exam, [Student("25BM00001", "Asha Rao")], exam.seed)
    plain = Documents(exam, renderer_for(exam))
    assert preflight(plain, drafts[0], "pdflatex", tex=True, formats_dir=tmp_path / "a")
    assert preflight(Titled(exam, renderer_for(exam)), drafts[0], "pdflatex", tex=True,
                     formats_dir=tmp_path / "b") == ()


@needs_tex
@pytest.mark.parametrize("kind", ["paper", "key"])
def test_preflight_names_which_of_the_originals_documents_does_not_typeset(kind, tmp_path):
    """Preflight typesets the original's paper and key as one document; when it fails, the
    error still names the document and the shell's line."""
    from generator import QgenError
    from generator.registry import family_roots
    from generator.render import Renderer
    from generator.preflight import preflight

    exam = load_exam(ROOT / "tests" / "data" / "q2-only")
    shell = (ROOT / "templates" / f"{kind}.tex.j2").read_text()
    broken = shell.replace("\\BLOCK{ endblock }", "\\oops\\BLOCK{ endblock }", 1)
    assert broken != shell
    (tmp_path / f"{kind}.tex.j2").write_text(broken)
    docs = Documents(exam, Renderer([tmp_path], family_roots(exam.family_dirs)))
    drafts = draw(exam, [Student("25BM00001", "Asha Rao")], exam.seed)
    with pytest.raises(QgenError, match=rf"the {kind} of the original paper does not typeset "
                                        rf"\(.*{kind}\.tex\.j2:\d+: .*Undefined control sequence"):
        preflight(docs, drafts[0], "pdflatex", tex=True, formats_dir=tmp_path / "formats")


@needs_tex
def test_a_preamble_that_depends_on_the_students_is_dumped_from_the_originals_documents(tmp_path):
    """The format is dumped from the shell's documents without students while the original is
    solved; when the original's preamble is another, the batches get a format of its own."""
    from generator.preflight import preflight

    class PerStudent(Documents):
        def render(self, kind, variants, engine="pdflatex"):
            source = super().render(kind, variants, engine)
            return source.replace("\\begin{document}", "\\def\\qgenseen{1}\n\\begin{document}", 1) if variants else source

    exam = load_exam(ROOT / "tests" / "data" / "q2-only")
    drafts = draw(exam, [Student("25BM00001", "Asha Rao")], exam.seed)
    docs = PerStudent(exam, renderer_for(exam))
    formats = preflight(docs, drafts[0], "pdflatex", tex=True, formats_dir=tmp_path / "formats")
    assert formats and all("\\qgenseen" in f.preamble for f in formats)
