"""Interrupted and repeated runs: kill -9 then rerun completes with reuse; batches never mix."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import shutil
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from conftest import Q2_EXAM, needs_tex, pdf_text
from generator import QgenError
from generator.outdir import FolderError
from generator.run import Options, generate
from generator.roster import Student
from generator.spec import load_exam


def qgen(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "generator", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, **kw)


@needs_tex
def test_kill_9_mid_batch_then_rerun_completes_reusing_finished_work(tmp_path):
    roster = tmp_path / "class.csv"
    roster.write_text("id,name\n" + "".join(f"S{i:03d},Student {i}\n" for i in range(24)), encoding="utf-8")
    out = tmp_path / "out"
    args = ["papers", Q2_EXAM, "--roster", roster, "--out", out, "--jobs", 1, "--batch-size", 2]
    proc = qgen(*args)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((out / ".cache").glob("*.pdf"))) < 4:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)     # the whole group: qgen and its TeX
    proc.wait()
    done_before = len(list((out / ".cache").glob("*.pdf")))
    assert 4 <= done_before < 50, "killed mid-batch"

    rerun = qgen(*args)
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    reused = int(re.search(r"reused (\d+) unchanged PDFs", stderr).group(1))
    assert 2 <= reused <= done_before, "finished batches are not typeset again"
    for folder in ("papers", "keys"):
        pdfs = sorted((out / folder).glob("*.pdf"))
        assert len(pdfs) == 25
        for pdf in pdfs:
            assert len(PdfReader(pdf).pages) >= 1      # complete, parseable
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") and p.suffix in (".tmp", ".link")]
    assert not leftovers
    assert not list((out / ".work").glob("*/*")), "no TeX scratch left behind"


@needs_tex
def test_changed_source_is_recompiled_and_unchanged_is_reused(tmp_path):
    exam = load_exam(Q2_EXAM)
    out = tmp_path / "out"
    generate(exam, [Student("A1", "Alice"), Student("B2", "Bob")], 1, Options(out, batch_size=1))
    a1 = (out / "papers" / "A1.pdf").stat().st_mtime_ns
    logs = []
    # Bob's name is corrected: his batch changes, ORIGINAL's and Alice's do not.
    generate(exam, [Student("A1", "Alice"), Student("B2", "Robert")], 1, Options(out, batch_size=1, replace=True, log=logs.append))
    assert "reused 4 unchanged PDFs" in logs
    assert (out / "papers" / "A1.pdf").stat().st_mtime_ns == a1
    assert "Robert" in pdf_text(out / "papers" / "B2.pdf") and "Robert" in pdf_text(out / "keys" / "B2.pdf")


def test_another_seed_or_roster_is_refused_without_force(tmp_path):
    exam = load_exam(Q2_EXAM)
    out = tmp_path / "out"
    generate(exam, [Student("A1", "Alice"), Student("B2", "Bob")], 1, Options(out, tex_only=True))
    with pytest.raises(FolderError, match=r"holds a batch made with seed 1$"):
        generate(exam, [Student("A1", "Alice"), Student("B2", "Bob")], 2, Options(out, tex_only=True))
    with pytest.raises(QgenError, match=r"another roster \(2 students\)"):
        generate(exam, [Student("A1", "Alice")], 1, Options(out, tex_only=True))
    assert (out / "tex" / "papers" / "B2.tex").exists(), "a refused run changes nothing"
    generate(exam, [Student("A1", "Alice")], 2, Options(out, tex_only=True, replace=True))
    assert not (out / "tex" / "papers" / "B2.tex").exists(), "--force removes the old batch"
    assert '"master_seed": 2' in (out / "answers.json").read_text()


def test_a_folder_that_is_not_qgen_output_is_refused_even_with_force(tmp_path):
    out = tmp_path / "out"
    (out / "papers").mkdir(parents=True)
    (out / "thesis.tex").write_text("precious")
    (out / "papers" / "my-paper.pdf").write_text("mine")
    for force in (False, True):
        with pytest.raises(QgenError, match="not empty and not a qgen output folder"):
            generate(load_exam(Q2_EXAM), [Student("A1", "Alice")], 1, Options(out, tex_only=True, replace=force))
    assert (out / "thesis.tex").read_text() == "precious" and (out / "papers" / "my-paper.pdf").exists()


def test_force_removes_only_what_qgen_wrote(tmp_path):
    out = tmp_path / "out"
    generate(load_exam(Q2_EXAM), [Student("A1", "Alice")], 1, Options(out, tex_only=True))
    (out / "tex" / "notes.txt").write_text("mine")
    generate(load_exam(Q2_EXAM), [Student("B2", "Bob")], 1, Options(out, tex_only=True, replace=True))
    assert (out / "tex" / "notes.txt").read_text() == "mine"
    assert not (out / "tex" / "papers" / "A1.tex").exists() and (out / "tex" / "papers" / "B2.tex").exists()


@needs_tex
def test_a_broken_template_is_caught_before_force_replaces_anything(tmp_path):
    exam_dir = tmp_path / "exam"
    shutil.copytree(Q2_EXAM, exam_dir)
    out = tmp_path / "out"
    generate(load_exam(exam_dir), [Student("A1", "Alice")], 1, Options(out))
    before = sorted(p.name for p in out.rglob("*.pdf"))
    (exam_dir / "templates").mkdir()
    shell = (Path(__file__).parent.parent / "templates" / "paper.tex.j2").read_text()
    (exam_dir / "templates" / "paper.tex.j2").write_text(shell.replace(r"\textbf{Instructions}", r"\textbf{\oops}"))
    with pytest.raises(QgenError, match=r"the paper of the original paper does not typeset .*Undefined control"):
        generate(load_exam(exam_dir), [Student("B2", "Bob")], 2, Options(out, replace=True))
    assert sorted(p.name for p in out.rglob("*.pdf")) == before, "nothing removed"


@needs_tex
def test_print_files_of_an_earlier_run_do_not_survive_a_failed_one(tmp_path):
    exam_dir = tmp_path / "exam"
    shutil.copytree(Q2_EXAM, exam_dir)
    out = tmp_path / "out"
    students = [Student("A1", "Alice"), Student("B2", "Bob")]
    generate(load_exam(exam_dir), students, 1, Options(out))
    assert (out / "papers.pdf").exists() and (out / "keybook.pdf").exists()
    (exam_dir / "templates").mkdir()
    shell = (Path(__file__).parent.parent / "templates" / "paper.tex.j2").read_text()
    (exam_dir / "templates" / "paper.tex.j2").write_text(
        shell + "\\BLOCK{ block banner }\\BLOCK{ for s in students if s.id == 'B2' }\\oops\\BLOCK{ endfor }"
                "\\BLOCK{ endblock }\n")
    result = generate(load_exam(exam_dir), students, 1, Options(out))
    assert [f.key for f in result.failures] == ["B2"]
    assert not (out / "papers.pdf").exists() and not (out / "keybook.pdf").exists()


@needs_tex
def test_an_empty_cached_pdf_is_not_reused(tmp_path):
    out = tmp_path / "out"
    generate(load_exam(Q2_EXAM), [Student("A1", "Alice")], 1, Options(out))
    for cached in (out / ".cache").glob("*.pdf"):
        cached.unlink()
        cached.write_bytes(b"")            # what a power cut can leave
    logs = []
    generate(load_exam(Q2_EXAM), [Student("A1", "Alice")], 1, Options(out, log=logs.append))
    assert not any("reused" in line for line in logs)
    assert len(PdfReader(out / "papers" / "A1.pdf").pages) == 1


def test_the_cli_words_a_refused_folder_with_its_flags(tmp_path):
    from click.testing import CliRunner
    from generator.cli import main
    out = tmp_path / "out"
    from generator.roster import load_roster
    generate(load_exam(Q2_EXAM), load_roster(Q2_EXAM / "roster.csv"), 1, Options(out, tex_only=True))
    result = CliRunner().invoke(main, ["papers", str(Q2_EXAM), "--out", str(out), "--tex-only", "--seed", "2"])
    assert result.exit_code == 2
    assert result.output.strip().endswith("holds a batch made with seed 1; use another --out, or --force to replace it")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("mine")
    result = CliRunner().invoke(main, ["papers", str(Q2_EXAM), "--out", str(foreign), "--tex-only"])
    assert "not a qgen output folder (no .qgen-batch.json); choose another --out" in result.output
