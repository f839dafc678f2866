"""Course-scale properties: reproducible bytes, --only, --shard, the print files, the manifest."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import pytest
from pypdf import PdfReader

from conftest import Q2_EXAM, needs_tex, pdf_text
import click

from generator.cli import ShardType
from generator.run import Options, Shard, UnknownStudent, generate, students_in_run
from generator.roster import Student
from generator.spec import load_exam

STUDENTS = [Student(f"25CS{i:03d}", f"Student {i}") for i in range(11)]


def build(out, **kw):
    kw.setdefault("batch_size", 4)
    kw.setdefault("workers", 2)
    result = generate(load_exam(Q2_EXAM), STUDENTS, 5, Options(out, **kw))
    assert not result.failures, result.failures
    return result


def files(out):
    names = [p for p in sorted(out.rglob("*")) if p.is_file() and not p.relative_to(out).parts[0].startswith(".")]
    return {str(p.relative_to(out)): p.read_bytes() for p in names}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "out"
    build(out)
    return out


@needs_tex
def test_the_same_inputs_give_byte_identical_files(reference, tmp_path):
    build(tmp_path / "again", workers=1)
    a, b = files(reference), files(tmp_path / "again")
    assert a.keys() == b.keys() and len(a) > 40
    assert [k for k in a if a[k] != b[k]] == []


@needs_tex
def test_only_rebuilds_one_student_identically(reference, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    before = files(out)
    for path in [out / "papers" / "25CS006.pdf", out / "keys" / "25CS006.pdf", *(out / ".cache").glob("*")]:
        path.unlink()
    result = generate(load_exam(Q2_EXAM), STUDENTS, 5, Options(out, batch_size=4, only=frozenset({"25CS006"})))
    assert sorted(p.name for p in result.written) == ["25CS006.pdf", "25CS006.pdf"]
    assert files(out) == before
    with pytest.raises(UnknownStudent, match="no such student in the roster: NOPE"):
        generate(load_exam(Q2_EXAM), STUDENTS, 5, Options(out, batch_size=4, only=frozenset({"NOPE"})))


@needs_tex
def test_shards_merge_into_the_same_output_as_one_run(reference, tmp_path):
    out = tmp_path / "out"
    done = set()
    for k in (1, 2, 3):
        part = build(out, shard=Shard(k, 3))
        ids = {p.stem for p in part.written}
        assert ids and not ids & done, "shards do disjoint work"
        done |= ids
    assert not (out / "answers.json").exists(), "a shard leaves the shared files to the merge"
    logs = []
    build(out, log=logs.append)
    assert "reused 24 unchanged PDFs" in logs, logs
    assert files(out) == files(reference)
    shard = ShardType()
    assert shard.convert("2/8", None, None) == Shard(2, 8)
    for bad in ("0/3", "4/3", "x", "1/2/3"):
        with pytest.raises(click.BadParameter):
            shard.convert(bad, None, None)


@needs_tex
def test_papers_pdf_holds_every_student_in_roster_order_each_from_an_odd_page(reference):
    reader = PdfReader(reference / "papers.pdf")
    starts = [i for i, page in enumerate(reader.pages) if "Roll number" in (page.extract_text() or "")]
    ids = [re.search(r"Roll number: (\S+)", reader.pages[i].extract_text()).group(1) for i in starts]
    assert ids == [s.id for s in STUDENTS], "roster order, no ORIGINAL"
    assert all(i % 2 == 0 for i in starts), "each paper starts on an odd (right-hand) page"
    per_student = sum(len(PdfReader(reference / "papers" / f"{s.id}.pdf").pages) for s in STUDENTS)
    assert len(reader.pages) >= per_student


@needs_tex
def test_keybook_lists_every_students_final_answers_by_part_sorted_by_id(reference):
    text = " ".join(pdf_text(reference / "keybook.pdf").split()).replace("\u2212", "-")
    doc = json.loads((reference / "answers.json").read_text())
    students = sorted(doc["students"][1:], key=lambda s: s["id"].casefold())
    positions = [text.index(f"{s['id']} {s['name']}") for s in students]
    assert positions == sorted(positions), "the key book is sorted by id, the order TAs grade in"
    for s in students:
        a = s["questions"][0]["answers"]
        block = text[text.index(f"{s['id']} {s['name']}"):]
        assert re.match(rf"{s['id']} {s['name']} Q2\(a\) 2 points a1 = {a['a'][0]}; a2 = {a['a'][1]}; "
                        rf"h1 = {a['h'][0]}; h2 = {a['h'][1]}; f = {a['f']} Q2\(b\) 4 points", block), block[:120]
        assert f"Q2(c) 2 points ∂f /∂w11 = {a['df_dw'][0][0]}; ∂f /∂w12 = {a['df_dw'][0][1]}" in block


@needs_tex
def test_manifest_records_seeds_params_templates_versions_and_hashes(reference):
    m = json.loads((reference / "manifest.json").read_text())
    assert m["master_seed"] == 5 and m["batch_size"] == 4
    assert {"python", "sympy", "jinja2", "numpy", "pypdf", "pdflatex"} <= m["packages"].keys()
    assert "templates/paper.tex.j2" in m["templates"] and "families/relu_net_backprop/__init__.py" in m["templates"]
    assert [s["id"] for s in m["students"]] == ["ORIGINAL"] + [s.id for s in STUDENTS]
    for s in m["students"]:
        assert len(s["seeds"]["2"]) == 64 and set(s["params"]["2"]) == {"x", "w"}
        for kind, folder in (("paper", "papers"), ("key", "keys")):
            assert s["pdf_sha256"][kind] == hashlib.sha256((reference / folder / f"{s['id']}.pdf").read_bytes()).hexdigest()
    for name, digest in m["print_files_sha256"].items():
        assert hashlib.sha256((reference / name).read_bytes()).hexdigest() == digest


def test_progress_reports_every_student_a_run_makes(tmp_path):
    seen = []
    generate(load_exam(Q2_EXAM), STUDENTS, 5, Options(tmp_path / "out", tex_only=True, batch_size=4, progress=seen.append))
    assert sum(seen) == len(STUDENTS) + 1 == students_in_run(12, 4, None, None) and len(seen) == 3
    seen.clear()
    generate(load_exam(Q2_EXAM), STUDENTS, 5, Options(tmp_path / "out", tex_only=True, batch_size=4, shard=Shard(2, 2),
             progress=seen.append))
    assert sum(seen) == 4 == students_in_run(12, 4, None, Shard(2, 2))
    seen.clear()
    generate(load_exam(Q2_EXAM), STUDENTS, 5, Options(tmp_path / "out", tex_only=True, batch_size=4, only=frozenset({"25CS003"}),
             progress=seen.append))
    assert sum(seen) == 1 == students_in_run(12, 4, {"25CS003"}, None)


@needs_tex
def test_four_shards_run_by_gnu_parallel_merge_into_a_single_runs_output(tmp_path):
    """The README's recipe for an existing job runner: GNU parallel runs the shards, `cp -a`
    merges their folders, one run without --shard writes the shared files."""
    import subprocess
    import sys
    assert shutil.which("parallel"), "GNU parallel comes with `make test` (scripts/ensure-tex.sh)"
    roster = tmp_path / "class.csv"
    roster.write_text("id,name\n" + "".join(f"P{i:02d},Student {i}\n" for i in range(13)), encoding="utf-8")
    qgen = [sys.executable, "-m", "generator", "papers", str(Q2_EXAM), "--roster", str(roster), "--batch-size", "3",
            "--jobs", "1", "--quiet"]
    shard = " ".join(qgen) + f" --shard {{}}/4 --out {tmp_path}/shard-{{}}"
    subprocess.run(["parallel", "--will-cite", shard, ":::", "1", "2", "3", "4"], check=True, cwd=tmp_path)
    merged = tmp_path / "merged"
    merged.mkdir()
    for k in (1, 2, 3, 4):
        subprocess.run(["cp", "-a", f"{tmp_path}/shard-{k}/.", str(merged)], check=True)
    subprocess.run([*qgen, "--out", str(merged)], check=True, cwd=tmp_path)
    subprocess.run([*qgen, "--out", str(tmp_path / "single")], check=True, cwd=tmp_path)
    single, together = files(tmp_path / "single"), files(merged)
    assert single.keys() == together.keys() and len(single) > 30
    assert [k for k in single if single[k] != together[k]] == []
