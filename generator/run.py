"""The run over a roster: fast, resumable, reproducible.

Every student's parameters are drawn up front (so bad constraints fail before anything is
written). The roster, ORIGINAL first, is then cut into fixed batches of students; each batch
is solved, checked, rendered and typeset as one document per kind in a worker process, and
split into one PDF per student. Batches depend only on the roster order and the batch size,
so the same inputs always give the same TeX sources and byte-identical PDFs, `only` can
rebuild one student identically, and shards merge into the same output. The writers
(`generator.writers`) then make answers.json, answers.csv, the print files and the manifest.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import QgenError
from .compile import Failure, Job, Member, TexError, run_job, run_tex
from .documents import KINDS, Documents
from .files import atomic_write_text
from .fonts import engine_for, require_engine
from .outdir import OutputFolder, complete_pdf, sha256, stamp_for
from .plan import Draft, Solver, draw, solve_draft, student_record
from .render import Renderer
from .roster import Student
from .spec import Exam
from .writers import Batch, write_all
from .writers.answers import AnswersCsv, AnswersJson
from .writers.manifest import Manifest
from .writers.prints import KeyBook, PapersPdf

WRITERS = [AnswersJson(), AnswersCsv(), PapersPdf(), KeyBook(), Manifest()]


class UnknownStudent(QgenError):
    """A student asked for by id is not on the roster."""

    def __init__(self, sid: str):
        super().__init__(f"no such student in the roster: {sid}")
        self.id = sid


@dataclass(frozen=True)
class Shard:
    """The k-th of n slices of the batches: k-1, k-1+n, k-1+2n, ... (dealt round, so shards are even)."""
    k: int
    n: int

    def __post_init__(self):
        if not 1 <= self.k <= self.n:
            raise ValueError(f"shard {self.k}/{self.n}: k must be between 1 and n")

    def takes(self, batch: int) -> bool:
        return batch % self.n == self.k - 1


@dataclass(frozen=True)
class Options:
    out: Path
    tex_only: bool = False
    workers: int | None = None          # default: every core
    batch_size: int = 100               # students per TeX run
    replace: bool = False               # replace a folder that holds another batch
    only: frozenset[str] | None = None  # rebuild these students' files and nothing else
    shard: Shard | None = None
    renderer: Renderer | None = None
    progress: Callable[[int], None] | None = None
    log: Callable[[str], None] = lambda s: None


@dataclass
class Outcome:
    written: list[Path] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    reused: int = 0
    records: list[dict] = field(default_factory=list)      # answers.json entries, roster order
    pdfs: dict[str, dict[str, str]] = field(default_factory=dict)   # id -> kind -> sha256
    seconds: dict[str, float] = field(default_factory=dict)         # stage -> worker-seconds, for bench/
    cached: set[str] = field(default_factory=set)                   # names in .cache/ this run uses

    def absorb(self, other: "Outcome") -> None:
        self.written += other.written
        self.failures += other.failures
        self.reused += other.reused
        self.records += other.records
        self.pdfs.update(other.pdfs)
        self.cached |= other.cached
        for stage, secs in other.seconds.items():
            self.seconds[stage] = self.seconds.get(stage, 0.0) + secs


def batches_of(count: int, size: int) -> list[range]:
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def students_in_run(count: int, size: int, only: frozenset[str] | None, shard: Shard | None) -> int:
    """How many papers a run makes (`count` includes ORIGINAL), for the progress bar."""
    if only:
        return len(only)
    return sum(len(b) for i, b in enumerate(batches_of(count, size)) if shard is None or shard.takes(i))


@dataclass
class _BatchWork:
    """One batch's work, done in a worker process: solve, render, typeset, split, place."""
    docs: Documents
    batches: list[list[Draft]]
    engines: dict[str, str]
    folder: OutputFolder
    tex_only: bool
    only: frozenset[str] | None
    solver: Solver = field(default_factory=Solver)

    def __call__(self, index: int) -> tuple[int, Outcome]:
        clock = [time.perf_counter()]
        result = Outcome()

        def lap(stage: str) -> None:
            now = time.perf_counter()
            result.seconds[stage] = result.seconds.get(stage, 0.0) + now - clock[0]
            clock[0] = now

        variants = [solve_draft(d, self.solver) for d in self.batches[index]]
        wanted = [(v, self.only is None or v.student.id in self.only) for v in variants]
        result.records = [student_record(v) for v in variants]
        lap("solve")
        for kind, folder in KINDS:
            for v, want in wanted:
                if want:
                    tex = self.docs.render(kind, [v], self.engines[v.student.id])
                    atomic_write_text(self.folder.path / "tex" / folder / f"{v.student.id}.tex", tex)
        lap("render")
        if not self.tex_only:
            for kind, folder in KINDS:
                by_engine: dict[str, list] = {}
                for v, want in wanted:
                    by_engine.setdefault(self.engines[v.student.id], []).append((v, want))
                for engine, group in by_engine.items():
                    self._typeset(kind, folder, engine, group, result, lap)
            lap("compile")
            shutil.rmtree(self.folder.scratch(), ignore_errors=True)
        return index, result

    def _typeset(self, kind: str, folder: str, engine: str, group: list, result: Outcome, lap) -> None:
        """One document for the group's students (reused from the cache when unchanged), split."""
        lap("compile")
        tex = self.docs.render(kind, [v for v, _ in group], engine)
        lap("render")
        digest = hashlib.sha256(f"{engine}\n{tex}".encode()).hexdigest()
        cached = [self.folder.cache / f"{digest}-{i}.pdf" for i in range(len(group))]
        result.cached.update(c.name for c in cached)
        if all(complete_pdf(c) for c in cached):
            result.reused += sum(want for _, want in group)
        else:
            for v, want in group:
                if want:   # never leave a stale PDF should this batch fail
                    (self.folder.path / folder / f"{v.student.id}.pdf").unlink(missing_ok=True)
            members = [Member(v.student.id, c, (lambda v=v: self.docs.render(kind, [v], engine)))
                       for (v, _), c in zip(group, cached)]
            failures = run_job(Job(kind, tex, members, engine), self.folder.scratch())
            result.failures += [f for f in failures if self.only is None or f.key in self.only]
        for (v, want), c in zip(group, cached):
            if want and complete_pdf(c):
                target = self.folder.path / folder / f"{v.student.id}.pdf"
                self.folder.place(c, target)
                result.written.append(target)
                result.pdfs.setdefault(v.student.id, {})[kind] = sha256(c)


_worker: _BatchWork | None = None     # in a pool worker: its copy of the batch work


def _init_worker(work: _BatchWork) -> None:
    global _worker
    _worker = work


def _in_worker(index: int) -> tuple[int, Outcome]:
    return _worker(index)


def preflight(docs: Documents, original: Draft, engine: str, tex: bool) -> None:
    """Render (and typeset) the ORIGINAL paper and key before touching the output folder.

    A template or header that cannot render, or renders to TeX that fails, is an input
    error: reported once, naming the problem, with nothing written or removed.
    """
    variant = solve_draft(original, Solver())
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


def _run_batches(work: _BatchWork, todo: list[int], workers: int, progress) -> dict[int, Outcome]:
    results: dict[int, Outcome] = {}
    # Forked workers inherit the batch work and the loaded families without pickling them.
    pool = multiprocessing.get_context("fork").Pool(workers, _init_worker, (work,)) if workers > 1 else None
    try:
        for index, outcome in (pool.imap_unordered(_in_worker, todo) if pool else map(work, todo)):
            results[index] = outcome
            if progress:
                progress(sum(work.only is None or d.student.id in work.only for d in work.batches[index]))
    finally:
        if pool:
            pool.terminate()
    return results


def generate(exam: Exam, students: list[Student], seed: int, options: Options) -> Outcome:
    """Write tex/, answers.json, answers.csv, manifest.json and (unless tex_only) the PDFs.

    `only` rebuilds those students' files and nothing else; a shard does its slice of the
    batches. Both leave answers.json, the manifest and the print files to a full run, which
    then reuses every PDF they made.
    """
    if options.only is not None and options.shard is not None:
        raise ValueError("only and shard exclude each other: only already names the students")
    started = time.perf_counter()
    drafts = draw(exam, students, seed)
    sampled = time.perf_counter() - started
    engines = {d.student.id: engine_for(d.student, exam.engine) for d in drafts}
    unknown = sorted((options.only or set()) - set(engines))
    if unknown:
        raise UnknownStudent(unknown[0])
    if not options.tex_only:
        for d in drafts:
            require_engine(engines[d.student.id], d.student)
    docs = Documents(exam, options.renderer or Renderer([exam.folder / "templates"]))
    preflight(docs, drafts[0], engines[drafts[0].student.id], tex=not options.tex_only)
    folder = OutputFolder(options.out)
    folder.claim(stamp_for(exam.id, seed, [(s.id, s.name) for s in students]), options.replace)
    folder.sweep()
    full = options.only is None and options.shard is None
    if not options.tex_only and full:
        for name in ("papers.pdf", "keybook.pdf"):     # rewritten at the end, or not at all
            (folder.path / name).unlink(missing_ok=True)

    batches = [drafts[b.start:b.stop] for b in batches_of(len(drafts), options.batch_size)]
    todo = [i for i, batch in enumerate(batches)
            if (options.shard is None or options.shard.takes(i))
            and (options.only is None or any(d.student.id in options.only for d in batch))]
    work = _BatchWork(docs, batches, engines, folder, options.tex_only, options.only)
    workers = max(1, min(options.workers or os.cpu_count() or 1, len(todo)))
    results = _run_batches(work, todo, workers, options.progress)

    total = Outcome(seconds={"sample": sampled})
    for index in sorted(results):      # roster order, whatever order the batches finished in
        total.absorb(results[index])
    log = options.log
    if total.reused:
        log(f"reused {total.reused} unchanged PDFs")
    if not full:
        return total
    batch = Batch(exam, seed, drafts, engines, total.records, folder, docs.renderer, options.batch_size,
                  options.tex_only, total.failures, total.pdfs)
    seconds = write_all(batch, WRITERS)
    log(f"wrote answers.json, answers.csv and {2 * len(drafts)} .tex files for {len(drafts)} papers")
    if not options.tex_only:
        log("papers.pdf and keybook.pdf not written: a print file must not miss a student" if total.failures
            else "wrote papers.pdf, keybook.pdf")
        folder.prune_cache(total.cached)
    total.seconds["print files"] = seconds.get("papers.pdf", 0.0) + seconds.get("keybook.pdf", 0.0)
    return total
