"""Broken and hostile input: one clear line naming file, line and problem; nothing runs as TeX.

Rosters, exam files and templates are checked before anything is written; TeX runs
sandboxed with a timeout; a failing student is reported while the others are written.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from pathlib import Path

import pytest

from generator import QgenError
from generator.compile import TexError, run_tex
from generator.run import Options, Shard, generate
from generator.family import ConstraintError
from generator.roster import Student, check_student_id, load_roster
from generator.spec import load_exam
from conftest import Q2_EXAM, needs_tex, pdf_text


def roster_file(tmp_path: Path, text: str | bytes, name="roster.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


# ---------------------------------------------------------------- rosters

@pytest.mark.parametrize("text,message", [
    ("", r"roster.csv:1: empty roster"),
    ("name,email\nAlice,a@x\n", r"roster.csv:1: no id column"),
    ("id,name\n", r"roster.csv:1: the roster has a header but no students"),
    ("id,name\nA1,Alice\nB2,Bob\nA1,Alice again\n", r"roster.csv:4: duplicate id 'A1' \(first on line 2\)"),
    ("id,name\nA1,Alice\n ,Nobody\n", r"roster.csv:3: empty id"),
    ("id,name\nA1,Alice,extra\n", r"roster.csv:2: 3 fields but the header has 2"),
    (b"id,name\nA1,Al\xe9\n", r"roster.csv:2: not UTF-8"),
    ("id,name\nA1,Eve\u202eevil\n", r"roster.csv:2: name of 'A1' contains the control character U\+202E"),
])
def test_bad_rosters_name_file_line_and_problem(tmp_path, text, message):
    with pytest.raises(QgenError, match=message):
        load_roster(roster_file(tmp_path, text))


def test_excel_style_rosters_are_read(tmp_path):
    text = '\ufeffRoll No;Name\r\n21CS1;"Das; Rohan"\r\n21CS2;"Say ""hi"""\r\n\r\n'
    students = load_roster(roster_file(tmp_path, text))
    assert [(s.id, s.name) for s in students] == [("21CS1", "Das; Rohan"), ("21CS2", 'Say "hi"')]
    tabbed = load_roster(roster_file(tmp_path, "id\tname\nX1\tXavier\n", "t.csv"))
    assert tabbed == [Student("X1", "Xavier", 2)]


@pytest.mark.parametrize("sid", ["../x", "a/b", ".", "..", "", "a\x00b", "x" * 300, "CON", "nul.txt",
                                 "com1", "ORIGINAL", "-rf", "a b", "a\\b", "21CS1."])
def test_ids_that_are_no_safe_file_name_are_rejected(tmp_path, sid):
    assert check_student_id(sid) is not None
    if "\x00" not in sid and sid.strip():
        with pytest.raises(QgenError, match=r"roster.csv:2: "):
            load_roster(roster_file(tmp_path, f'id,name\n"{sid}",Someone\n'))


HOSTILE = [
    r"# $ % & ~ _ ^ \ { }",
    r"\input{/etc/passwd}",
    r"\immediate\write18{touch /tmp/qgen-pwned-TAG}",
    r"^^5cinput{/etc/hostname}",
    r"\catcode`\^^M=13 \def\x{y}",
    r"\def\x{\x}\x",
]


@needs_tex
def test_hostile_names_are_typeset_literally_and_nothing_runs(tmp_path):
    tag = uuid.uuid4().hex[:8]
    names = [n.replace("TAG", tag) for n in HOSTILE]
    students = [Student(f"H{i}", n, i + 2) for i, n in enumerate(names)]
    exam = load_exam(Q2_EXAM)
    result = generate(exam, students, 1, Options(tmp_path / "out", workers=2))
    assert not result.failures, result.failures
    assert not Path(f"/tmp/qgen-pwned-{tag}").exists()
    passwd_line = Path("/etc/passwd").read_text().splitlines()[0]
    for st in students:
        text = pdf_text(tmp_path / "out" / "papers" / f"{st.id}.pdf")
        flat = " ".join(text.split())
        assert " ".join(st.name.split()) in flat, (st.name, flat[:400])
        assert passwd_line not in text


@needs_tex
def test_names_in_other_scripts_print_with_every_character(tmp_path):
    names = {"DV1": "अनन्या शर्मा", "BN1": "সৌমিত্র চট্টোপাধ্যায়", "TA1": "கார்த்திக் சுப்பிரமணியன்",
             "ZH1": "王小明", "AR1": "محمد علي", "VI1": "Nguyễn Văn An", "LA1": "Zoë Brontë-Dvořák"}
    students = [Student(k, v, i + 2) for i, (k, v) in enumerate(names.items())]
    result = generate(load_exam(Q2_EXAM), students, 1, Options(tmp_path / "out", workers=2))
    assert not result.failures, result.failures
    for sid, name in names.items():
        for folder in ("papers", "keys"):
            assert name in pdf_text(tmp_path / "out" / folder / f"{sid}.pdf"), (sid, folder)


def test_a_name_no_font_can_print_is_an_error_up_front(tmp_path):
    students = [Student("A1", "Alice", 2), Student("EG1", "\U00013080 scribe", 3)]
    with pytest.raises(QgenError, match=r"student EG1 \(roster line 3\): no configured font can print .*U\+13080"):
        generate(load_exam(Q2_EXAM), students, 1, Options(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- exam files and templates

def exam_copy(tmp_path: Path, edit=None) -> Path:
    folder = tmp_path / "exam"
    shutil.copytree(Q2_EXAM, folder)
    if edit:
        path = folder / "exam.toml"
        path.write_text(edit(path.read_text()))
    return folder


@pytest.mark.parametrize("edit,message", [
    (lambda t: t.replace('family = "relu_net_backprop"', 'family = "relu_net_backprob"'),
     r"exam.toml:20: slot '2': unknown family 'relu_net_backprob' \(did you mean 'relu_net_backprop'\?\)"),
    (lambda t: t.replace("points = 10", "pionts = 10"),
     r"exam.toml:21: unknown key 'pionts' in slot 1 \(did you mean 'points'\?\)"),
    (lambda t: t.replace("credits = 1", 'credits = "one"'),
     r"exam.toml:13: 'credits' in \[header\] must be an integer, not 'one'"),
    (lambda t: t.replace("full_marks = 10", "full_marks = 20"),
     r"exam.toml:14: full_marks = 20 but the slots add up to 10"),
    (lambda t: t.replace("points = 10", "points = 12"),
     r"exam.toml:21: slot '2': points = 12 but its parts add up to 10"),
    (lambda t: t + "[slot.constraints]\ndead_unit = 1\n",
     r"exam.toml:26: slot '2': unknown constraint 'dead_unit' .*\(did you mean 'dead_units'\?\)"),
    (lambda t: t + "[slot.constraints]\ninput_range = 5\n",
     r"exam.toml:26: slot '2': constraint 'input_range' must look like \[1, 9\], not 5"),
    (lambda t: t.replace("x = [5, 2]", "z = [5, 2]"),
     r"exam.toml:22: slot '2': original values: unknown parameter 'z'"),
    (lambda t: t.replace('id = "q2-only"', 'id = "q2-only'),
     r"exam.toml:2: not valid TOML"),
])
def test_bad_exam_files_name_file_line_and_problem(tmp_path, edit, message):
    with pytest.raises(QgenError, match=message):
        load_exam(exam_copy(tmp_path, edit))


def test_constraints_that_cannot_be_met_fail_in_bounded_time(tmp_path):
    folder = exam_copy(tmp_path, lambda t: t + "[slot.constraints]\ndead_units = 2\ninput_range = [1, 1]\n"
                                              "weight_range = [1, 1]\n")
    started = time.monotonic()
    with pytest.raises(QgenError, match=r"exam.toml:17: slot '2': family relu_net_backprop: constraint '.*' could not be met"):
        generate(load_exam(folder), [Student("A1", "Alice")], 1, Options(tmp_path / "out"))
    assert time.monotonic() - started < 10
    assert not (tmp_path / "out").exists(), "nothing is written when planning fails"


@pytest.mark.parametrize("template,message", [
    ("\\BLOCK{ if }\n", r"paper.tex.j2:1: template syntax error"),
    ("line one\n\\VAR{ exam.no_such_field }\n", r"paper.tex.j2:2: .*no_such_field"),
])
def test_template_errors_name_the_template_file_and_line(tmp_path, template, message):
    folder = exam_copy(tmp_path)
    (folder / "templates").mkdir()
    (folder / "templates" / "paper.tex.j2").write_text(template)
    with pytest.raises(QgenError, match=message):
        generate(load_exam(folder), [Student("A1", "Alice")], 1, Options(tmp_path / "out", tex_only=True))


# ---------------------------------------------------------------- TeX

@needs_tex
def test_tex_runs_without_shell_escape_and_cannot_read_outside_its_folder(tmp_path):
    tag = uuid.uuid4().hex[:8]
    doc = ("\\documentclass{article}\\begin{document}\\immediate\\write18{touch /tmp/qgen-sx-%s}x"
           "\\end{document}" % tag)
    run_tex(doc, tmp_path)
    assert not Path(f"/tmp/qgen-sx-{tag}").exists()
    with pytest.raises(TexError):
        run_tex("\\documentclass{article}\\begin{document}\\input{/etc/hostname}\\end{document}", tmp_path)


@needs_tex
def test_tex_that_never_ends_is_stopped(tmp_path):
    started = time.monotonic()
    with pytest.raises(TexError, match="did not finish"):
        run_tex("\\documentclass{article}\\begin{document}\\loop\\iftrue\\repeat\\end{document}", tmp_path, timeout=3)
    assert time.monotonic() - started < 20


@needs_tex
def test_one_failing_student_is_reported_and_the_others_are_written(tmp_path):
    folder = exam_copy(tmp_path)
    (folder / "templates").mkdir()
    shell = (Path(__file__).parent.parent / "templates" / "paper.tex.j2").read_text()
    # A restyled paper that is broken for one student only.
    (folder / "templates" / "paper.tex.j2").write_text(
        shell + "\\BLOCK{ block banner }\\BLOCK{ for s in students if s.id == 'B2' }\\undefinedmacro\\BLOCK{ endfor }"
                "\\BLOCK{ endblock }\n")
    students = [Student("A1", "Alice"), Student("B2", "Bob"), Student("C3", "Carol")]
    result = generate(load_exam(folder), students, 1, Options(tmp_path / "out", workers=1))
    assert [(f.key, f.kind) for f in result.failures] == [("B2", "paper")]
    assert "Undefined control sequence" in result.failures[0].detail
    out = tmp_path / "out"
    assert (out / "papers" / "A1.pdf").exists() and (out / "papers" / "C3.pdf").exists()
    assert not (out / "papers" / "B2.pdf").exists() and (out / "keys" / "B2.pdf").exists()


# ---------------------------------------------------------------- found by an adversarial run

@pytest.mark.parametrize("text,message", [
    ("id,name\nA1,Alice\na1,Alice again\n", r"roster.csv:3: duplicate id 'a1' \(first on line 2\)"),
    ("ID,Roll No,Name\n1,21CS1,Alice\n", r"roster.csv:1: more than one id column"),
])
def test_ids_that_would_collide_as_files_or_columns_that_are_ambiguous(tmp_path, text, message):
    with pytest.raises(QgenError, match=message):
        load_roster(roster_file(tmp_path, text))


@pytest.mark.parametrize("edit,message", [
    (lambda t: t + "[slot.constraints]\ninput_range = [1, 5, 9]\n", r"exam.toml:26: .*'input_range' must be \[low, high\]"),
    (lambda t: t + "[slot.constraints]\ninput_range = [9, 1]\n", r"exam.toml:26: .*'input_range' must be \[low, high\]"),
    (lambda t: t + "[slot.constraints]\ninput_range = [1, 100000000000000000000]\n",
     r"exam.toml:26: slot '2': family relu_net_backprop: constraint 'input_range' = \[1, 100000000000000000000\] holds a number beyond"),
    (lambda t: t.replace('title = "Q2 only"', 'title = "Q2 \u2265 Q1"'),
     r"exam.toml:7: \[header\] title: no configured font can print '\u2265' \(U\+2265\)"),
])
def test_more_bad_exam_files(tmp_path, edit, message):
    with pytest.raises(QgenError, match=message):
        load_exam(exam_copy(tmp_path, edit))


def test_an_exam_file_that_is_not_utf8_is_one_line(tmp_path):
    folder = exam_copy(tmp_path)
    (folder / "exam.toml").write_bytes((folder / "exam.toml").read_bytes().replace(b"Test Institute", b"Institut \xe9"))
    with pytest.raises(QgenError, match=r"exam.toml:6: not UTF-8 text"):
        load_exam(folder)


def test_bad_original_values_name_the_slot_in_the_exam_file(tmp_path):
    folder = exam_copy(tmp_path, lambda t: t.replace("x = [5, 2]", 'x = ["five", 2]'))
    with pytest.raises(QgenError, match=r"exam.toml:17: slot '2': the original values: cannot solve relu_net_backprop"):
        generate(load_exam(folder), [Student("A1", "Alice")], 1, Options(tmp_path / "out", tex_only=True))
    assert not (tmp_path / "out").exists()


def test_names_keep_their_order_and_characters_in_tex():
    from generator.render import person
    from generator.values import to_latex
    assert person("محمد Ali أحمد 123") == r"{\textdir TRT محمد} Ali {\textdir TRT أحمد} 123"
    assert person("محمد علي") == r"{\textdir TRT محمد علي}"
    assert to_latex("<<x>> ''y'' ,,z") == "<{}<x>{}> '{}'y'{}' ,{},z"


def test_names_cannot_become_spreadsheet_formulas(tmp_path):
    generate(load_exam(Q2_EXAM), [Student("A1", "=HYPERLINK(\"http://x\")"), Student("B2", "Bob")], 1, Options(tmp_path / "out", tex_only=True))
    text = (tmp_path / "out" / "answers.csv").read_text(encoding="utf-8-sig")
    assert "\n" + "A1,'=HYPERLINK" in text.replace('"', "")


def test_an_out_that_is_a_file_is_one_line(tmp_path):
    from click.testing import CliRunner
    from generator.cli import main
    target = tmp_path / "afile"
    target.write_text("x")
    result = CliRunner().invoke(main, ["papers", str(Q2_EXAM), "--out", str(target), "--tex-only"])
    errors = [line for line in result.output.splitlines() if line.startswith("qgen: error:")]
    assert result.exit_code == 2 and len(errors) == 1 and "is not a folder" in errors[0]
    assert "Traceback" not in result.output


@needs_tex
def test_lualatex_documents_are_reproducible_and_printable(tmp_path):
    students = [Student("A1", "Alice"), Student("ZH1", "王小明")]
    for run in ("one", "two"):
        result = generate(load_exam(Q2_EXAM), students, 1, Options(tmp_path / run, workers=1))
        assert not result.failures
    for rel in ("papers/ZH1.pdf", "keys/ZH1.pdf", "papers.pdf", "keybook.pdf", "manifest.json"):
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes(), rel
    assert "王小明" in pdf_text(tmp_path / "one" / "papers.pdf") and "王小明" in pdf_text(tmp_path / "one" / "keybook.pdf")


def test_two_slots_for_one_question_part_and_empty_questions_are_refused(tmp_path):
    def twice(text):
        slot = text[text.index("[[slot]]"):].replace('name = "2"', 'name = "2b"')
        return text.replace("full_marks = 10", "full_marks = 20") + "\n" + slot
    with pytest.raises(QgenError, match=r"slot '2b': question 2 is already slot '2'"):
        load_exam(exam_copy(tmp_path, twice))
    with pytest.raises(QgenError, match=r"exam.toml:19: slot '2': question must not be empty"):
        load_exam(exam_copy(tmp_path / "e", lambda t: t.replace('question = "2"', 'question = ""')))


def test_only_and_shard_together_are_refused(tmp_path):
    from click.testing import CliRunner
    from generator.cli import main
    result = CliRunner().invoke(main, ["papers", str(Q2_EXAM), "--out", str(tmp_path / "o"), "--only", "A1",
                                       "--shard", "1/2"])
    assert result.exit_code == 2 and "--only and --shard do not go together" in result.output
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="only and shard exclude each other"):
        generate(load_exam(Q2_EXAM), [Student("A1", "Alice")], 1,
                 Options(tmp_path / "o", only=frozenset({"A1"}), shard=Shard(1, 2)))


def test_a_convolution_with_no_output_channels_is_refused():
    from generator.registry import get
    fam = get("depthwise_separable_conv")
    with pytest.raises(ConstraintError, match="'out_channels_range' = \\[0, 0\\] must start at 1"):
        fam.constraints({"out_channels_range": [0, 0]})


def test_a_roster_needs_a_name_column_under_a_known_heading(tmp_path):
    students = load_roster(roster_file(tmp_path, "Roll No,Student Name\n21CS1,Asha\n"))
    assert students == [Student("21CS1", "Asha", 2)]
    with pytest.raises(QgenError, match=r"roster.csv:1: no name column"):
        load_roster(roster_file(tmp_path, "id,email\n21CS1,a@x\n"))


@needs_tex
def test_an_error_merging_papers_pdf_stops_the_run_by_name_after_the_other_writers(tmp_path, monkeypatch):
    """papers.pdf is merged beside the other writers: what goes wrong there is raised by the
    run, after the other writers finish, and no papers.pdf is left."""
    from generator import pdfsplit

    def broken(*args, **kwargs):
        raise QgenError("papers.pdf: the disk is full")

    monkeypatch.setattr(pdfsplit, "merge", broken)
    with pytest.raises(QgenError, match="papers.pdf: the disk is full"):
        generate(load_exam(Q2_EXAM), [Student("25BM00001", "Asha Rao")], 1, Options(tmp_path / "out", workers=1))
    assert not (tmp_path / "out" / "papers.pdf").exists()
    assert (tmp_path / "out" / "keybook.pdf").exists() and (tmp_path / "out" / "answers.json").exists()


@needs_tex
def test_a_key_book_that_does_not_typeset_stops_the_run_by_name_after_every_pdf(tmp_path):
    """The key book is typeset while the batches are (from the answers alone); its error is
    still raised by the run, once every student's PDFs are made, and no keybook.pdf is left."""
    exam_dir = tmp_path / "exam"
    shutil.copytree(Q2_EXAM, exam_dir)
    (exam_dir / "templates").mkdir()
    shell = (Path(__file__).parent.parent / "templates" / "keybook.tex.j2").read_text()
    (exam_dir / "templates" / "keybook.tex.j2").write_text(shell.replace("\\end{document}", "\\oops\n\\end{document}"))
    students = [Student("A1", "Alice"), Student("B2", "Bob")]
    with pytest.raises(QgenError, match=r"keybook.pdf: .*Undefined control sequence"):
        generate(load_exam(exam_dir), students, 1, Options(tmp_path / "out", batch_size=1, workers=2))
    out = tmp_path / "out"
    assert all((out / kind / f"{s.id}.pdf").exists() for s in students for kind in ("papers", "keys"))
    assert not (out / "keybook.pdf").exists() and (out / "answers.json").exists()


def test_a_file_that_needs_no_preparing_is_written_while_another_is_still_being_prepared(tmp_path):
    """The key book's TeX may still run when the batches end: papers.pdf is merged meanwhile,
    not after it (the slow writer's preparing waits here for the other file to be written)."""
    from generator.outdir import OutputFolder
    from generator.writers import Batch, Preparing, Writer, write_all

    written = threading.Event()

    class Slow(Writer):
        files, external = ("slow.txt",), True

        def prepare(self, batch):
            return "prepared" if written.wait(30) else "waited in vain"

        def write(self, batch, prepared=None):
            (batch.folder.path / "slow.txt").write_text(prepared)

    class Quick(Writer):
        files = ("quick.txt",)

        def write(self, batch, prepared=None):
            (batch.folder.path / "quick.txt").write_text("quick")
            written.set()

    folder = OutputFolder(tmp_path / "out")
    folder.path.mkdir()
    batch = Batch(load_exam(Q2_EXAM), 1, [], {}, [], folder, None, 100, tex_only=True)
    writers = [Slow(), Quick()]
    started = time.perf_counter()
    write_all(batch, writers, Preparing(batch, writers))
    assert (folder.path / "slow.txt").read_text() == "prepared"
    assert time.perf_counter() - started < 20


def test_what_a_writer_prepared_for_other_answers_is_not_written(tmp_path):
    """A writer's work prepared while the PDFs are made is used only for the same answers."""
    from generator.documents import renderer_for
    from generator.outdir import OutputFolder
    from generator.writers import Batch, Preparing, write_all
    from generator.writers.answers import AnswersJson

    class Marked(AnswersJson):      # what it prepares is told apart from what it writes unprepared
        def prepare(self, batch):
            return '{"prepared": true}\n'

        def write(self, batch, prepared=None):
            super().write(batch, prepared if prepared is not None else super().prepare(batch))

    exam = load_exam(Q2_EXAM)
    generate(exam, [Student("A1", "Alice"), Student("B2", "Bob")], 1, Options(tmp_path / "run", tex_only=True))
    records = json.loads((tmp_path / "run" / "answers.json").read_text())["students"]
    folder = OutputFolder(tmp_path / "out")
    folder.path.mkdir()

    def batch(rs):
        return Batch(exam, 1, [], {}, rs, folder, renderer_for(exam), 100, tex_only=True)

    early = Preparing(batch(records), [Marked()])
    write_all(batch(records[:2]), [Marked()], early)
    assert [s["id"] for s in json.loads((folder.path / "answers.json").read_text())["students"]] == \
        [r["id"] for r in records[:2]]
    write_all(batch(list(records)), [Marked()], early)
    assert json.loads((folder.path / "answers.json").read_text()) == {"prepared": True}


@needs_tex
def test_a_batch_that_raises_stops_the_run_while_the_answers_are_being_gathered(tmp_path, monkeypatch):
    """Batches send their answers to the parent before their TeX runs; a batch that raises
    still stops the run with its error (no wait for answers that never come)."""
    from generator import work

    solve = work.solve_draft

    def failing(draft, solver):
        if draft.student.id == "C3":
            raise QgenError("student C3: the disk is full")
        return solve(draft, solver)

    monkeypatch.setattr(work, "solve_draft", failing)
    students = [Student("A1", "Alice"), Student("B2", "Bob"), Student("C3", "Carol")]
    raised = []

    def run():
        try:
            generate(load_exam(Q2_EXAM), students, 1, Options(tmp_path / "out", batch_size=1, workers=2))
        except QgenError as exc:
            raised.append(str(exc))

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(120)
    assert not runner.is_alive(), "the run hangs waiting for answers that never come"
    assert raised == ["student C3: the disk is full"]
    assert not (tmp_path / "out" / "answers.json").exists()


@needs_tex
def test_answers_that_do_not_reach_the_writers_stop_the_run(tmp_path, monkeypatch):
    """Should preparing the writers' work from the answers break, the run says so rather than
    write an answers.json without students."""
    from generator import run

    def broken(batch, writers):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(run, "Preparing", broken)
    with pytest.raises(QgenError, match="the batches' answers did not reach the writers: out of memory"):
        generate(load_exam(Q2_EXAM), [Student("A1", "Alice")], 1, Options(tmp_path / "out", workers=1))
    assert not (tmp_path / "out" / "answers.json").exists()
