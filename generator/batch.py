"""Generating for a whole roster: fast, resumable, reproducible.

Every student's parameters are drawn up front (so bad constraints fail before anything is
written). The roster, ORIGINAL first, is then cut into fixed batches of students; each batch
is solved, checked, rendered and typeset as one document per kind in a worker process, and
split into one PDF per student. Batches depend only on the roster order and the batch size,
so the same inputs always give the same TeX sources and byte-identical PDFs, `--only` can
rebuild one student identically, and `--shard` slices merge into the same output.

PDFs are cached under `.cache/` by the hash of their batch document: a batch whose
document did not change is not typeset again, even after a run killed with -9.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Callable

from pypdf import PdfReader, PdfWriter

from . import QgenError, __version__
from . import pdfsplit
from .compile import Failure, Job, Member, TexError, run_job, run_tex
from .files import atomic_write_bytes, atomic_write_text
from .family import FAMILIES_DIR
from .fonts import FALLBACK_FONTS, LUALATEX, PDFLATEX, engine_for, require_engine
from .pipeline import (Documents, Draft, Solver, answers_csv, answers_document, csv_row, draw,
                       keybook_entry, solve_draft, student_record)
from .render import PROJECT_TEMPLATES, Renderer
from .seeding import seed_material
from .spec import ORIGINAL_ID, Exam, Student

KINDS = (("paper", "papers"), ("key", "keys"))
STAMP = ".qgen-batch.json"
CACHE = ".cache"


@dataclass
class Outcome:
    written: list[Path] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    reused: int = 0
    records: list[dict] = field(default_factory=list)      # answers.json entries, roster order
    rows: list[dict] = field(default_factory=list)         # answers.csv rows
    pdfs: dict[str, dict[str, str]] = field(default_factory=dict)   # id -> kind -> sha256
    seconds: dict[str, float] = field(default_factory=dict)         # stage -> worker-seconds, for bench/
    cached: set[str] = field(default_factory=set)                   # names in .cache/ this run uses

    def absorb(self, other: "Outcome") -> None:
        self.written += other.written
        self.failures += other.failures
        self.reused += other.reused
        self.records += other.records
        self.rows += other.rows
        self.pdfs.update(other.pdfs)
        self.cached |= other.cached
        for stage, secs in other.seconds.items():
            self.seconds[stage] = self.seconds.get(stage, 0.0) + secs


# ---------------------------------------------------------------- the output folder

def batch_stamp(exam: Exam, students: list[Student], seed: int) -> dict:
    """What identifies a batch: the exam, the seed and the roster (ids and names, in order)."""
    roster = hashlib.sha256(json.dumps([[s.id, s.name] for s in students]).encode()).hexdigest()
    return {"exam": exam.id, "master_seed": seed, "roster_sha256": roster, "students": len(students)}


OWN_FILES = ("answers.json", "answers.csv", "manifest.json", "papers.pdf", "keybook.pdf")
OWN_GLOBS = ("papers/*.pdf", "keys/*.pdf", "tex/papers/*.tex", "tex/keys/*.tex")


def claim_output(out: Path, stamp: dict, force: bool) -> None:
    """Refuse a folder holding another batch (other exam, seed or roster) unless forced.

    With force, the previous batch's files go first, so two batches never mix in one folder;
    only files qgen writes are removed, and a folder qgen did not make is never touched.
    """
    path = out / STAMP
    if out.exists() and not out.is_dir():
        raise QgenError(f"{out}: exists and is not a folder; choose another --out")
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            old = None
        if old == stamp:
            return
        if not force:
            if not isinstance(old, dict):
                raise QgenError(f"{path}: unreadable batch record; use --force to replace the batch in {out}")
            what = [k for k in ("exam", "master_seed", "roster_sha256") if old.get(k) != stamp[k]]
            said = {"exam": f"exam {old.get('exam')}", "master_seed": f"seed {old.get('master_seed')}",
                    "roster_sha256": f"another roster ({old.get('students')} students)"}
            raise QgenError(f"{out}: holds a batch made with {', '.join(said[w] for w in what)}; "
                            "use another --out, or --force to replace it")
        for name in OWN_FILES:
            (out / name).unlink(missing_ok=True)
        for pattern in OWN_GLOBS:
            for own in out.glob(pattern):
                own.unlink(missing_ok=True)
    elif out.exists() and any(out.iterdir()):
        raise QgenError(f"{out}: not empty and not a qgen output folder (no {STAMP}); choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(stamp, indent=1) + "\n", durable=True)


def _place(cached: Path, target: Path) -> None:
    """Put a cached PDF at its target name atomically (a hard link when the disk allows)."""
    if target.exists() and os.path.samefile(cached, target):
        return
    tmp = target.with_name(f".{target.name}.link")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp.unlink(missing_ok=True)
    try:
        os.link(cached, tmp)
    except OSError:
        shutil.copyfile(cached, tmp)
    os.replace(tmp, target)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep(out: Path) -> None:
    """Remove what a killed run can leave: temporary files and TeX scratch folders."""
    for pattern in (".*.tmp", ".*.link"):
        for leftover in out.rglob(pattern):
            leftover.unlink(missing_ok=True)
    # Each process typesets in .work/<pid>; another live run (a shard) keeps its own.
    for scratch in (out / ".work").glob("*"):
        if not (scratch.name.isdigit() and _alive(int(scratch.name))):
            shutil.rmtree(scratch, ignore_errors=True)


# ---------------------------------------------------------------- one batch (in a worker process)

@dataclass
class _Context:
    exam: Exam
    docs: Documents
    batches: list[list[Draft]]
    engines: dict[str, str]
    out: Path
    tex_only: bool
    only: set[str] | None


_CTX: _Context | None = None      # set before the pool forks; workers read it
_SOLVER = Solver()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _complete_pdf(path: Path) -> bool:
    """A cached PDF that ends as a PDF must (a power cut can leave an empty one behind)."""
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - 64))
            return b"%%EOF" in fh.read()
    except OSError:
        return False


def _run_batch(index: int) -> tuple[int, Outcome]:
    ctx = _CTX
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        result.seconds[stage] = result.seconds.get(stage, 0.0) + now - clock
        clock = now

    variants = [solve_draft(d, _SOLVER) for d in ctx.batches[index]]
    wanted = [ctx.only is None or v.student.id in ctx.only for v in variants]
    result = Outcome(records=[student_record(v) for v in variants], rows=[csv_row(v) for v in variants])
    lap("solve")
    for kind, folder in KINDS:
        for v, want in zip(variants, wanted):
            if want:
                engine = ctx.engines[v.student.id]
                atomic_write_text(ctx.out / "tex" / folder / f"{v.student.id}.tex", ctx.docs.render(kind, [v], engine))
    lap("render")
    if ctx.tex_only:
        return index, result
    cache = ctx.out / CACHE
    scratch = ctx.out / ".work" / str(os.getpid())
    for kind, folder in KINDS:
        by_engine: dict[str, list] = {}
        for v, want in zip(variants, wanted):
            by_engine.setdefault(ctx.engines[v.student.id], []).append((v, want))
        for engine, group in by_engine.items():
            lap("compile")
            tex = ctx.docs.render(kind, [v for v, _ in group], engine)
            lap("render")
            digest = hashlib.sha256(f"{engine}\n{tex}".encode()).hexdigest()
            cached = [cache / f"{digest}-{i}.pdf" for i in range(len(group))]
            result.cached.update(c.name for c in cached)
            if all(_complete_pdf(c) for c in cached):
                result.reused += sum(want for _, want in group)
            else:
                for v, want in group:
                    if want:   # never leave a stale PDF should this batch fail
                        (ctx.out / folder / f"{v.student.id}.pdf").unlink(missing_ok=True)
                members = [Member(v.student.id, c, (lambda v=v, kind=kind, engine=engine:
                                                   ctx.docs.render(kind, [v], engine)))
                           for (v, _), c in zip(group, cached)]
                failures = run_job(Job(kind, tex, members, engine), scratch)
                result.failures += [f for f in failures if ctx.only is None or f.key in ctx.only]
            for (v, want), c in zip(group, cached):
                if want and _complete_pdf(c):
                    target = ctx.out / folder / f"{v.student.id}.pdf"
                    _place(c, target)
                    result.written.append(target)
                    result.pdfs.setdefault(v.student.id, {})[kind] = _sha256(c)
    lap("compile")
    shutil.rmtree(scratch, ignore_errors=True)
    return index, result


# ---------------------------------------------------------------- the whole roster

def preflight(docs: Documents, original: Draft, engine: str, tex: bool) -> None:
    """Render (and typeset) the ORIGINAL paper and key before touching the output folder.

    A template or header that cannot render, or renders to TeX that fails, is an input
    error: reported once, naming the problem, with nothing written or removed.
    """
    variant = solve_draft(original, _SOLVER)
    sources = {kind: docs.render(kind, [variant], engine) for kind, _ in KINDS}
    if not tex:
        return
    with tempfile.TemporaryDirectory(prefix="qgen-preflight-") as work:
        for kind, source in sources.items():
            try:
                run_tex(source, Path(work), jobname=kind, engine=engine, timeout=120)
            except TexError as exc:
                raise QgenError(f"the {kind} of the original paper does not typeset ({exc}): {exc.detail}; "
                                "check the templates and the [header] of exam.toml") from None


def _in_shard(batch: int, shard: tuple[int, int]) -> bool:
    """Shard K of N takes batches K-1, K-1+N, K-1+2N, ... (dealt round, so shards are even)."""
    k, n = shard
    return batch % n == k - 1


def students_in_run(count: int, chunk: int, only: set[str] | None, shard: tuple[int, int] | None) -> int:
    """How many papers a run makes (`count` includes ORIGINAL), for the progress bar."""
    if only:
        return len(only)
    if shard is None:
        return count
    return sum(min(chunk, count - start) for i, start in enumerate(range(0, count, chunk)) if _in_shard(i, shard))


def parse_shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise QgenError(f"--shard {text!r}: expected K/N, for example 2/8") from None
    if not 1 <= k <= n:
        raise QgenError(f"--shard {text!r}: K must be between 1 and N")
    return k, n


def generate(exam: Exam, students: list[Student], seed: int, out: Path, *, tex_only: bool = False,
             workers: int | None = None, chunk: int = 100, renderer: Renderer | None = None, force: bool = False,
             only: set[str] | None = None, shard: tuple[int, int] | None = None,
             progress: Callable[[int], None] | None = None, log: Callable[[str], None] = lambda s: None) -> Outcome:
    """Write tex/, answers.json, answers.csv, manifest.json and (unless tex_only) the PDFs.

    `only` rebuilds those students' files and nothing else; `shard` = (k, n) does the k-th
    of n slices of the batches. Both leave answers.json, the manifest and the print files to
    a full run, which then reuses every PDF they made.
    """
    global _CTX
    started = time.perf_counter()
    drafts = draw(exam, students, seed)
    sampled = time.perf_counter() - started
    engines = {d.student.id: engine_for(d.student, exam.engine) for d in drafts}
    if only is not None and shard is not None:
        raise QgenError("--only and --shard do not go together: --only already names the students")
    if only is not None:
        unknown = sorted(only - set(engines))
        if unknown:
            raise QgenError(f"--only {unknown[0]}: no such student in the roster")
    if not tex_only:
        for d in drafts:
            require_engine(engines[d.student.id], d.student)
    docs = Documents(exam, renderer or Renderer([exam.folder / "templates"]))
    preflight(docs, drafts[0], engines[drafts[0].student.id], tex=not tex_only)
    claim_output(out, batch_stamp(exam, students, seed), force)
    _sweep(out)
    if not tex_only and only is None and shard is None:
        for name in ("papers.pdf", "keybook.pdf"):     # rewritten at the end, or not at all
            (out / name).unlink(missing_ok=True)

    batches = [drafts[i:i + chunk] for i in range(0, len(drafts), chunk)]
    todo = list(range(len(batches)))
    if shard is not None:
        todo = [i for i in todo if _in_shard(i, shard)]
    if only is not None:
        todo = [i for i in todo if any(d.student.id in only for d in batches[i])]
    _CTX = _Context(exam, docs, batches, engines, out, tex_only, only)
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    results: dict[int, Outcome] = {}
    # Workers are forked: they inherit _CTX and the loaded families without pickling them.
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    try:
        for index, outcome in (pool.imap_unordered(_run_batch, todo) if pool else map(_run_batch, todo)):
            results[index] = outcome
            if progress:
                progress(sum(only is None or d.student.id in only for d in batches[index]))
    finally:
        _CTX = None
        if pool:
            pool.terminate()

    total = Outcome(seconds={"sample": sampled})
    for index in sorted(results):      # roster order, whatever order the batches finished in
        total.absorb(results[index])
    if total.reused:
        log(f"reused {total.reused} unchanged PDFs")
    if only is not None or shard is not None:
        return total
    atomic_write_text(out / "answers.json",
                      json.dumps(answers_document(exam, seed, total.records), indent=1, ensure_ascii=False) + "\n",
                      durable=True)
    atomic_write_text(out / "answers.csv", answers_csv(total.rows), durable=True)
    log(f"wrote answers.json, answers.csv and {2 * len(drafts)} .tex files for {len(drafts)} papers")
    if not tex_only:
        prints = {}
        if total.failures:
            log("papers.pdf and keybook.pdf not written: a print file must not miss a student")
        else:
            started = time.perf_counter()
            prints = print_files(exam, out, drafts, engines, total, docs.renderer)
            total.seconds["print files"] = time.perf_counter() - started
            log(f"wrote {', '.join(prints)}")
        atomic_write_text(out / "manifest.json",
                          json.dumps(manifest(exam, seed, drafts, engines, chunk, total, docs.renderer, prints),
                                     indent=1, ensure_ascii=False) + "\n", durable=True)
        _prune_cache(out, total)
    return total


def _prune_cache(out: Path, total: Outcome) -> None:
    """Keep the cache to the PDFs this batch uses (a full run only)."""
    for cached in (out / CACHE).glob("*.pdf"):
        if cached.name not in total.cached:
            cached.unlink(missing_ok=True)


# ---------------------------------------------------------------- print files

def print_files(exam: Exam, out: Path, drafts: list[Draft], engines: dict[str, str], total: Outcome,
                renderer: Renderer) -> dict[str, str]:
    """papers.pdf (every student's paper, each from an odd page) and keybook.pdf (final answers)."""
    students = [d.student.id for d in drafts if d.student.id != ORIGINAL_ID]
    papers = [out / "papers" / f"{sid}.pdf" for sid in students]
    try:
        pdfsplit.merge(papers, out / "papers.pdf", odd_starts=True)
    except pdfsplit.Unsupported:      # a PDF from elsewhere (an older TeX): the slow, general way
        _merge_with_pypdf(papers, out / "papers.pdf")
    records = [r for r in total.records if r["id"] != ORIGINAL_ID]
    engine = LUALATEX if LUALATEX in engines.values() else PDFLATEX
    tex = renderer.render("keybook.tex.j2", exam=dict(exam.header), students=[keybook_entry(r) for r in records],
                          unicode_engine=engine == LUALATEX, fallback_fonts=FALLBACK_FONTS)
    scratch = out / ".work" / str(os.getpid())
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as work:
        try:
            pdf = run_tex(tex, Path(work), jobname="keybook", engine=engine)
        except TexError as exc:
            raise QgenError(f"keybook.pdf: {exc}: {exc.detail}") from None
        atomic_write_bytes(out / "keybook.pdf", pdf.read_bytes())
    shutil.rmtree(scratch, ignore_errors=True)
    return {name: _sha256(out / name) for name in ("papers.pdf", "keybook.pdf")}


def _merge_with_pypdf(inputs: list[Path], target: Path) -> None:
    writer = PdfWriter()
    for path in inputs:
        reader = PdfReader(path)
        writer.append(reader)
        if len(reader.pages) % 2:
            writer.add_blank_page()
    buf = io.BytesIO()
    writer.write(buf)
    atomic_write_bytes(target, buf.getvalue())


# ---------------------------------------------------------------- manifest.json

@cache
def _engine_version(engine: str) -> str:
    try:
        return subprocess.run([engine, "--version"], capture_output=True, text=True, timeout=30).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "not installed"


def _template_hashes(renderer: Renderer) -> dict[str, str]:
    """sha256 of every file that shapes a document or an answer: shells, family templates and code."""
    files = {}
    for folder in renderer.search_path:
        for path in sorted(Path(folder).glob("**/*")):
            if path.suffix in (".j2", ".py") and path.is_file() and "__pycache__" not in path.parts:
                rel = path.relative_to(folder)
                tag = "families" if Path(folder) == FAMILIES_DIR else \
                    "templates" if Path(folder) == PROJECT_TEMPLATES else str(folder)
                files.setdefault(f"{tag}/{rel}", hashlib.sha256(path.read_bytes()).hexdigest())
    return files


def manifest(exam: Exam, seed: int, drafts: list[Draft], engines: dict[str, str], batch_size: int, total: Outcome,
             renderer: Renderer, prints: dict[str, str]) -> dict:
    versions = {"python": platform.python_version()}
    for package in ("jinja2", "sympy", "numpy", "pypdf", "pylatex", "click"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions.update({engine: _engine_version(engine) for engine in sorted(set(engines.values()))})
    return {
        "exam": exam.id,
        "generator": f"qgen {__version__}",
        "master_seed": seed,
        "batch_size": batch_size,
        "packages": versions,
        "templates": _template_hashes(renderer),
        "print_files_sha256": prints,
        "students": [{
            "id": d.student.id,
            "name": d.student.name,
            "seeds": {slot.name: format(seed_material(seed, exam.id, d.student.id, slot.name, attempt), "064x")
                      for slot, _, attempt in d.slots},
            "params": {slot.name: params for slot, params, _ in d.slots},
            "pdf_sha256": total.pdfs.get(d.student.id, {}),
        } for d in drafts],
    }
