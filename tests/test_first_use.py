"""What a new instructor meets first: rosters as LMS export them, rebuilds that keep every output
true, an exam from any institution, never the published paper, what a TA reads."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Q2_EXAM, SEED_EXAM, needs_tex, pdf_text
from generator import QgenError
from generator.cli import main
from generator.outdir import sha256
from generator.plan import draw
from generator.roster import ColumnError, Student, load_roster
from generator.run import Options, generate
from generator.spec import load_exam

CANVAS = '''Student,ID,SIS User ID,SIS Login ID,Section,Class Test 2 (1187234),Assignments Current Score,Current Score,Final Score
    Points Possible,,,,,20.00,(read only),(read only),(read only)
,,,,,Manual Posting,,,
"Sharma, Aarav",41023,21CS10001,aarav.sharma,CS60010 Section A,,,,
"Natarajan, Priya",41024,21CS10014,priya.n,CS60010 Section B,,,,
"Álvarez Muñoz, José",41025,21CS30005,jose.am,CS60010 Section A,,,,
"Student, Test",41099,,,CS60010 Section A,,,,
'''

MOODLE = '''First name,Surname,ID number,Email address,Institution,Department,Groups,Last access to course
Aarav,Sharma,21CS10001,aarav@kgp.example,IIT Kharagpur,CSE,Group A,1 day 2 hours
Priya,Natarajan,21CS10014,priya@kgp.example,IIT Kharagpur,CSE,Group B,Never
'''


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- 1. rosters as LMS export them

def test_a_canvas_gradebook_export_gives_sis_ids_first_last_names_and_warns_of_what_it_skips(tmp_path):
    warnings = []
    students = load_roster(write(tmp_path / "grades.csv", CANVAS), warn=warnings.append)
    assert [(s.id, s.name) for s in students] == [("21CS10001", "Aarav Sharma"), ("21CS10014", "Priya Natarajan"),
                                                  ("21CS30005", "José Álvarez Muñoz")]
    assert warnings == [f"{tmp_path / 'grades.csv'}:2: skipped Canvas's 'Points Possible' row",
                        f"{tmp_path / 'grades.csv'}:3: skipped Canvas's 'Manual Posting' row",
                        f"{tmp_path / 'grades.csv'}:7: skipped Canvas's Test Student"]
    assert dict(students[0].extra) == {"Student": "Sharma, Aarav", "ID": "41023", "SIS Login ID": "aarav.sharma",
                                       "Section": "CS60010 Section A"}


def test_a_canvas_roster_names_the_files_by_roll_number_and_keeps_its_columns_off_the_papers(tmp_path):
    roster = write(tmp_path / "grades.csv", CANVAS)
    result = run("papers", Q2_EXAM, "--roster", roster, "--out", tmp_path / "out", "--tex-only")
    assert result.exit_code == 0, result.output
    assert "qgen: warning: " in result.output and "skipped Canvas's Test Student" in result.output
    out = tmp_path / "out"
    assert sorted(p.stem for p in (out / "tex" / "papers").glob("*.tex")) == \
        ["21CS10001", "21CS10014", "21CS30005", "ORIGINAL"]
    paper = (out / "tex" / "papers" / "21CS10001.tex").read_text()
    assert "Aarav Sharma" in paper and "41023" not in paper and "Section A" not in paper
    doc = json.loads((out / "answers.json").read_text())
    assert doc["students"][1]["roster"]["ID"] == "41023" and doc["students"][1]["roster"]["Section"] == "CS60010 Section A"


def test_a_moodle_participants_export_works_as_it_is(tmp_path):
    students = load_roster(write(tmp_path / "participants.csv", MOODLE))
    assert [(s.id, s.name) for s in students] == [("21CS10001", "Aarav Sharma"), ("21CS10014", "Priya Natarajan")]
    assert dict(students[1].extra)["Email address"] == "priya@kgp.example"


def test_two_columns_that_could_be_the_id_are_refused_naming_both_and_the_option(tmp_path):
    roster = write(tmp_path / "export.csv", "Name,ID,SIS User ID\nAarav,41023,21CS10001\n")
    with pytest.raises(ColumnError, match=r"export.csv:1: more than one id column .*could be 'ID', 'SIS User ID'"):
        load_roster(roster)
    result = run("papers", Q2_EXAM, "--roster", roster, "--out", tmp_path / "out", "--tex-only")
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "could be 'ID', 'SIS User ID'); choose one with --id-column NAME" in result.output
    assert not (tmp_path / "out").exists()
    result = run("papers", Q2_EXAM, "--roster", roster, "--id-column", "sis_user_id", "--out", tmp_path / "out",
                 "--tex-only")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "tex" / "papers" / "21CS10001.tex").exists()


def test_any_export_with_id_and_name_columns_named(tmp_path):
    roster = write(tmp_path / "sis.csv", "Reg. No.,Given Name,Family Name,Programme\n21CS1,Asha,Rao,B.Tech\n")
    students = load_roster(roster, id_column="reg no", name_columns=("given name", "FAMILY NAME"))
    assert students == [Student("21CS1", "Asha Rao", 2, (("Programme", "B.Tech"),))]
    with pytest.raises(ColumnError, match=r"sis.csv:1: no column 'Surname'"):
        load_roster(roster, id_column="reg no", name_columns=("Surname",))


def test_an_ordinary_row_with_an_empty_id_is_still_an_error(tmp_path):
    text = CANVAS.replace('"Natarajan, Priya",41024,21CS10014', '"Natarajan, Priya",41024,')
    with pytest.raises(QgenError, match=r"grades.csv:5: empty id"):
        load_roster(write(tmp_path / "grades.csv", text))


# ---------------------------------------------------------------- 2. rebuilds keep every output true

def _exam_copy(tmp_path: Path, edit=None) -> Path:
    folder = tmp_path / "exam"
    shutil.copytree(Q2_EXAM, folder)
    if edit:
        (folder / "exam.toml").write_text(edit((folder / "exam.toml").read_text()))
    return folder


STUDENTS = [Student("A1", "Alice"), Student("B2", "Bob"), Student("C3", "Carol")]


@needs_tex
def test_only_after_a_template_fix_rebuilds_the_merged_files_and_the_manifest(tmp_path):
    exam_dir = _exam_copy(tmp_path)
    out = tmp_path / "out"
    generate(load_exam(exam_dir), STUDENTS, 1, Options(out, workers=1))
    (exam_dir / "templates").mkdir()
    shell = (Path(__file__).parent.parent / "templates" / "paper.tex.j2").read_text()
    (exam_dir / "templates" / "paper.tex.j2").write_text(shell.replace(r"\textbf{Instructions}",
                                                                      r"\textbf{Instructions (read first)}"))
    generate(load_exam(exam_dir), STUDENTS, 1, Options(out, workers=1, only=frozenset({"B2"})))
    assert "read first" in pdf_text(out / "papers" / "B2.pdf") and "read first" not in pdf_text(out / "papers" / "A1.pdf")
    merged = pdf_text(out / "papers.pdf")
    assert merged.count("read first") == 1, "papers.pdf holds B2's new paper and the others' old ones"
    m = json.loads((out / "manifest.json").read_text())
    for s in m["students"]:
        for kind, folder in (("paper", "papers"), ("key", "keys")):
            assert s["pdf_sha256"][kind] == sha256(out / folder / f"{s['id']}.pdf"), (s["id"], kind)
    assert m["print_files_sha256"]["papers.pdf"] == sha256(out / "papers.pdf")
    sets = {s["id"]: s["templates"] for s in m["students"]}
    assert sets["B2"] != sets["A1"] == sets["C3"] == sets["ORIGINAL"], "the manifest shows who predates the fix"
    assert set(sets.values()) == set(m["template_sets"])
    assert m["template_sets"][sets["B2"]] == m["templates"]

    logs = []
    generate(load_exam(exam_dir), STUDENTS, 1, Options(out, workers=1, log=logs.append))
    assert "3 students' files predate the current templates" in logs[0] and "paper.tex.j2" in logs[0]
    assert "3 PDFs changed since the last run" in logs, logs
    assert pdf_text(out / "papers.pdf").count("read first") == 3
    assert len(set(s["templates"] for s in json.loads((out / "manifest.json").read_text())["students"])) == 1


def test_a_changed_exam_file_is_refused_naming_what_changed_and_how_many_papers_differ(tmp_path):
    exam_dir = _exam_copy(tmp_path)
    out = tmp_path / "out"
    roster = write(tmp_path / "r.csv", "id,name\nA1,Alice\nB2,Bob\nC3,Carol\n")
    assert run("papers", exam_dir, "--roster", roster, "--out", out, "--tex-only").exit_code == 0
    before = (out / "answers.json").read_text()
    (exam_dir / "exam.toml").write_text((exam_dir / "exam.toml").read_text() +
                                        "[slot.constraints]\nweight_range = [-2, 2]\n")
    result = run("papers", exam_dir, "--roster", roster, "--out", out, "--tex-only")
    assert result.exit_code == 2
    assert re.search(r"holds papers made from another exam.toml \(slot '2': constraints\): \d of 4 students' papers "
                     r"differ; use another --out, or --force to replace it", result.output), result.output
    assert (out / "answers.json").read_text() == before, "nothing replaced"
    result = run("papers", exam_dir, "--roster", roster, "--out", out, "--tex-only", "--force")
    assert result.exit_code == 0 and (out / "answers.json").read_text() != before
    (exam_dir / "exam.toml").write_text((exam_dir / "exam.toml").read_text().replace("points = 10", "points = 10\n"
                                                                                     'part_points = { a = 3, b = 3 }'))
    result = run("papers", exam_dir, "--roster", roster, "--out", out, "--tex-only")
    assert result.exit_code == 2 and "slot '2': part points" in result.output and "4 of 4 students" in result.output


def test_a_changed_header_is_layout_and_rebuilds(tmp_path):
    exam_dir = _exam_copy(tmp_path)
    out = tmp_path / "out"
    generate(load_exam(exam_dir), STUDENTS, 1, Options(out, tex_only=True))
    (exam_dir / "exam.toml").write_text((exam_dir / "exam.toml").read_text().replace("Q2 only", "Q2, revised"))
    generate(load_exam(exam_dir), STUDENTS, 1, Options(out, tex_only=True))
    assert "Q2, revised" in (out / "tex" / "papers" / "A1.tex").read_text()


# ---------------------------------------------------------------- 3. an exam from any institution

MINIMAL = '''id = "mini"
[header]
title = "Quiz 1"
[[slot]]
name = "1"
question = "1"
family = "depthwise_separable_conv"
points = 5
[slot.original]
height = 32
width = 32
channels = 3
kernel = 3
stride = 1
padding = 0
out_channels = 8
'''


@needs_tex
def test_a_header_with_only_a_title_prints_no_empty_labels_and_a_question_takes_its_points(tmp_path):
    exam_dir = tmp_path / "mini"
    exam_dir.mkdir()
    write(exam_dir / "exam.toml", MINIMAL)
    exam = load_exam(exam_dir)
    assert exam.slots[0].part_points == {"": 5}
    generate(exam, [Student("A1", "Alice")], 1, Options(tmp_path / "out", workers=1))
    paper = pdf_text(tmp_path / "out" / "papers" / "A1.pdf")
    assert "Quiz 1" in paper and "Question 1" in paper and "(5 points)" in paper
    for label in ("Date of Examination", "Duration", "Subject", "Credits", "Full marks", "Instructions", ":  "):
        assert label not in paper, label


def test_header_labels_come_from_the_exam(tmp_path):
    exam_dir = _exam_copy(tmp_path, lambda t: t.replace('instructions = ["Answer everything."]',
                                                        'instructions = ["Answer everything."]\n'
                                                        '[header.labels]\nsubject_no = "Course code"\n'))
    generate(load_exam(exam_dir), STUDENTS, 1, Options(tmp_path / "out", tex_only=True))
    tex = (tmp_path / "out" / "tex" / "papers" / "A1.tex").read_text()
    assert "Course code: T001" in tex and "Subject No." not in tex and "Date of Examination: 1 Jan. 2026" in tex
    bad = _exam_copy(tmp_path / "b", lambda t: t.replace('instructions = ["Answer everything."]',
                                                          '[header.labels]\nsubjekt = "Course"\n'))
    with pytest.raises(QgenError, match=r"exam.toml:16: \[header.labels\] has no field 'subjekt' \(did you mean 'subject'"):
        load_exam(bad)


def test_a_part_of_a_question_without_parts_is_named_as_such(tmp_path):
    exam_dir = tmp_path / "mini"
    exam_dir.mkdir()
    write(exam_dir / "exam.toml", MINIMAL.replace("points = 5", "points = 5\npart_points = { a = 5 }"))
    with pytest.raises(QgenError, match=r"has no part 'a' \(it has no parts\)"):
        load_exam(exam_dir)


def test_running_out_of_distinct_papers_names_the_slots_with_fewest_variants(tmp_path):
    exam_dir = _exam_copy(tmp_path, lambda t: t + "[slot.constraints]\ninput_range = [1, 2]\nweight_range = [-1, 1]\n")
    students = [Student(f"S{i:02d}", f"Student {i}") for i in range(40)]
    with pytest.raises(QgenError, match=r"could not find a variant distinct from .* the slots with the fewest distinct "
                                        r"variants are '2' \(\d+ distinct\): widen their ranges"):
        draw(load_exam(exam_dir), students, 1)


# ---------------------------------------------------------------- 4. never the published paper

def test_no_student_of_3000_gets_the_original_values_of_any_question():
    exam = load_exam(SEED_EXAM)
    students = [Student(f"26CS{i:05d}", "") for i in range(3000)]
    drafts = draw(exam, students, exam.seed)
    for slot_index, slot in enumerate(exam.slots):
        same = [d.student.id for d in drafts[1:] if d.slots[slot_index][1] == slot.original]
        assert same == [], (slot.name, same[:5])


def test_a_slot_may_allow_the_original(tmp_path):
    folder = tmp_path / "exam"
    shutil.copytree(SEED_EXAM, folder)
    text = (folder / "exam.toml").read_text()
    (folder / "exam.toml").write_text(text.replace('bonus = ["c"]', 'bonus = ["c"]\nallow_original = true'))
    drafts = draw(load_exam(folder), [Student(f"26CS{i:05d}", "") for i in range(1500)], 2022)
    assert any(d.slots[3][1] == {"w1": -1, "w2": 3, "g": 10} for d in drafts[1:])


# ---------------------------------------------------------------- 5. what a TA reads

def test_answers_csv_has_readable_headers_and_no_latex(tmp_path):
    out = tmp_path / "out"
    result = run("papers", SEED_EXAM, "--out", out, "--tex-only")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "answers.csv").open(encoding="utf-8-sig")))
    header = list(rows[0])
    assert header[:4] == ["id", "name", "Q1(a) identity", "Q1(b) depthwise Ho"]
    assert {"Q2(c) df/dw12", "Q1(b) total mults", "Q3(a) x (solution 1)", "Q3(b) dg/dx (solution 2)"} <= set(header)
    assert rows[0]["Q1(a) identity"] == "inv" and rows[0]["Q1(b) total mults"] == "3088878"
    assert not any("\\" in cell for row in rows for cell in row.values()), "no raw LaTeX in any cell"
    doc = json.loads((out / "answers.json").read_text())
    assert [c["header"] for s in doc["slots"] for c in s["columns"] if c["kind"] != "latex"] == header[2:]


def test_families_lists_every_sampling_rule_and_answer():
    result = run("families")
    assert "output size differs from input size: Ho != H and Wo != W" in result.output
    assert "sampling rules (every variant keeps them):" in result.output
    assert "df_dw (part (c), number): df/dw{i}{j}" in result.output
