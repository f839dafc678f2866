"""The command line through click's CliRunner: help, families, papers, errors as one line."""

from __future__ import annotations

import json

from click.testing import CliRunner

from generator.cli import main
from conftest import Q2_EXAM, SEED_EXAM, needs_tex


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_help_lists_the_commands():
    result = run("--help")
    assert result.exit_code == 0
    assert "papers" in result.output and "families" in result.output
    papers_help = run("papers", "--help").output
    for option in ("--roster", "--seed", "--out", "--tex-only", "--jobs"):
        assert option in papers_help


def test_families_lists_parameters_parts_and_constraints():
    result = run("families")
    assert result.exit_code == 0
    assert "relu_net_backprop  (10 points)" in result.output
    assert "w: weights" in result.output and "(d) 2 pt" in result.output and "dead_units = 1" in result.output


def test_papers_tex_only_writes_sources_and_answers(tmp_path):
    out = tmp_path / "out"
    result = run("papers", Q2_EXAM, "--out", out, "--tex-only", "--seed", 99)
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "answers.json").read_text())
    assert doc["master_seed"] == 99 and len(doc["students"]) == 11
    assert (out / "tex" / "papers" / "ORIGINAL.tex").exists() and (out / "tex" / "keys" / "21CS10001.tex").exists()
    assert not (out / "papers").exists(), "--tex-only runs no TeX"


@needs_tex
def test_papers_writes_pdfs_for_a_custom_roster(tmp_path):
    roster = tmp_path / "class.csv"
    roster.write_text("id,name\nA1,Alice\nB2,Bob\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run("papers", Q2_EXAM, "--roster", roster, "--out", out, "--jobs", 1)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "papers").glob("*.pdf")) == ["A1.pdf", "B2.pdf", "ORIGINAL.pdf"]
    assert sorted(p.name for p in (out / "keys").glob("*.pdf")) == ["A1.pdf", "B2.pdf", "ORIGINAL.pdf"]
    assert all((out / "papers" / n).read_bytes().startswith(b"%PDF") for n in ("A1.pdf", "B2.pdf"))


def test_a_bad_roster_is_one_line_naming_file_and_line(tmp_path):
    roster = tmp_path / "class.csv"
    roster.write_text("id,name\nA1,Alice\nA1,Again\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["papers", str(Q2_EXAM), "--roster", str(roster), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.output.strip() == f"qgen: error: {roster}:3: duplicate id 'A1' (first on line 2)"
    assert not (tmp_path / "o").exists(), "nothing is written on bad input"


def test_a_missing_exam_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["papers", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such exam file" in result.output


def test_the_seed_exam_loads():
    from generator.spec import load_exam
    exam = load_exam(SEED_EXAM)
    assert exam.id == "cs60010-ct2-2022" and exam.seed == 2022


@needs_tex
def test_a_failing_student_is_reported_and_the_exit_code_says_so(tmp_path):
    import shutil
    exam = tmp_path / "exam"
    shutil.copytree(Q2_EXAM, exam)
    (exam / "templates").mkdir()
    shell = (Q2_EXAM.parent.parent.parent / "templates" / "paper.tex.j2").read_text()
    (exam / "templates" / "paper.tex.j2").write_text(
        shell + "\\BLOCK{ block banner }\\BLOCK{ for s in students if s.id == 'B2' }\\oops\\BLOCK{ endfor }"
                "\\BLOCK{ endblock }\n")
    roster = tmp_path / "r.csv"
    roster.write_text("id,name\nA1,Alice\nB2,Bob\n")
    result = CliRunner().invoke(main, ["papers", str(exam), "--roster", str(roster), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "qgen: error: paper of B2: " in result.output and "Undefined control sequence" in result.output
    assert "document.tex.j2:" in result.output, "the error names the template line, not the generated doc.tex"
    assert "1 document(s) failed; the others are written" in result.output
    assert (tmp_path / "o" / "papers" / "A1.pdf").exists() and (tmp_path / "o" / "keys" / "B2.pdf").exists()
