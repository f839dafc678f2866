"""Typesetting a roster in batches, in worker processes: each batch is solved, checked,
rendered and typeset as one document per kind, split into one PDF per student, and placed.
In a full run, a batch's answers go to the parent as soon as it is solved, before its TeX runs.

PDFs are cached under `.cache/` by the hash of their batch document: a batch whose document
did not change is not typeset again, even after a run killed with -9.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import shutil
import threading
import time
from dataclasses import dataclass, field
from multiprocessing import connection
from pathlib import Path
from typing import Callable

from . import QgenError
from .compile import Failure, Format, Job, Member, run_job
from .documents import KINDS, Documents
from .files import atomic_write_text
from .outdir import OutputFolder, complete_pdf, sha256
from .plan import Draft, Solver, solve_draft, student_record


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


@dataclass
class BatchWork:
    """One batch's work, done in a worker process: solve, render, typeset, split, place."""
    docs: Documents
    batches: list[list[Draft]]
    engines: dict[str, str]
    folder: OutputFolder
    tex_only: bool
    only: frozenset[str] | None
    formats: tuple[Format, ...] = ()      # preambles dumped by preflight
    solver: Solver = field(default_factory=Solver)
    answers_out: AnswerPost | None = None     # each batch's answers, sent before its TeX runs

    def __call__(self, index: int) -> tuple[int, Outcome]:
        clock = [time.perf_counter()]
        result = Outcome()

        def lap(stage: str) -> None:
            now = time.perf_counter()
            result.seconds[stage] = result.seconds.get(stage, 0.0) + now - clock[0]
            clock[0] = now

        variants = [solve_draft(d, self.solver) for d in self.batches[index]]
        result.records = [student_record(v) for v in variants]
        if self.answers_out is not None:    # the parent has them: sent once, not twice
            self.answers_out.send(index, result.records)
            result.records = []
        by_engine: dict[str, list] = {}      # a document per engine: pdfLaTeX, or LuaLaTeX for other scripts
        for v in variants:
            by_engine.setdefault(self.engines[v.student.id], []).append((v, self.only is None or v.student.id in self.only))
        lap("solve")
        documents = []
        for kind, folder in KINDS:
            for engine, group in by_engine.items():
                tex, own = self.docs.render_each(kind, [v for v, _ in group], engine)
                for (v, want), single in zip(group, own):
                    if want:
                        atomic_write_text(self.folder.path / "tex" / folder / f"{v.student.id}.tex", single)
                documents.append((kind, folder, engine, group, tex))
        lap("render")
        if not self.tex_only:
            for document in documents:
                self._typeset(*document, result)
            lap("compile")
            shutil.rmtree(self.folder.scratch(), ignore_errors=True)
        return index, result

    def _typeset(self, kind: str, folder: str, engine: str, group: list, tex: str, result: Outcome) -> None:
        """One document for the group's students (reused from the cache when unchanged), split."""
        digest = hashlib.sha256(f"{engine}\n{tex}".encode()).hexdigest()
        cached = [self.folder.cache / f"{digest}-{i}.pdf" for i in range(len(group))]
        result.cached.update(c.name for c in cached)
        if all(complete_pdf(c) for c in cached):
            result.reused += sum(want for _, want in group)
        else:
            for v, want in group:
                if want:   # never leave a stale PDF should this batch fail
                    (self.folder.path / folder / f"{v.student.id}.pdf").unlink(missing_ok=True)
            members = [Member(v.student.id, c, (lambda v=v: self.docs.render(kind, [v], engine)),
                              (lambda v=v: self.docs.marked().render(kind, [v], engine)))
                       for (v, _), c in zip(group, cached)]
            failures = run_job(Job(kind, tex, members, engine, self.formats), self.folder.scratch())
            result.failures += [f for f in failures if self.only is None or f.key in self.only]
        for (v, want), c in zip(group, cached):
            if want and complete_pdf(c):
                target = self.folder.path / folder / f"{v.student.id}.pdf"
                self.folder.place(c, target)
                result.written.append(target)
                result.pdfs.setdefault(v.student.id, {})[kind] = sha256(c)


_worker: BatchWork | None = None     # in a pool worker: its copy of the batch work


def _init_worker(work: BatchWork) -> None:
    global _worker
    _worker = work


def _in_worker(index: int) -> tuple[int, Outcome]:
    return _worker(index)


class AnswerPost:
    """Each batch's answers, from the worker that solved it to a thread of the parent, before
    the batch's TeX runs. Pipes rather than a queue: the parent wakes its thread itself when
    a batch fails (a worker stopped mid-send may hold a queue's lock for ever)."""

    def __init__(self):
        context = multiprocessing.get_context("fork")
        self._inbox, self._outbox = context.Pipe(duplex=False)
        self._stopped, self._stop = context.Pipe(duplex=False)
        self._lock = context.Lock()
        self._stopping = threading.Event()
        self.delivered = False
        self.failed: BaseException | None = None

    def send(self, index: int, records: list[dict]) -> None:
        with self._lock:
            self._outbox.send((index, records))

    def stop(self) -> None:
        """The run is failing: the thread stops waiting (a message a worker was sending when
        stopped ends at EOF) and hands nothing on."""
        self._stopping.set()
        self._outbox.close()
        self._stop.send(None)

    def gather(self, count: int, on_answers: Callable[[list[dict]], None]) -> None:
        batches: dict[int, list[dict]] = {}
        try:
            while len(batches) < count:
                if self._inbox not in connection.wait([self._inbox, self._stopped]):
                    return
                index, records = self._inbox.recv()
                batches[index] = records
            if not self._stopping.is_set():
                on_answers([r for index in sorted(batches) for r in batches[index]])
                self.delivered = True
        except BaseException as exc:
            if not self._stopping.is_set():     # else: stopped mid-message (EOF), the run is failing anyway
                self.failed = exc               # raised by run_batches, in the parent's thread

    def close(self) -> None:
        for end in (self._inbox, self._outbox, self._stopped, self._stop):     # closing twice is harmless
            end.close()


def run_batches(work: BatchWork, todo: list[int], workers: int, progress,
                on_answers: Callable[[list[dict]], None] | None = None) -> dict[int, Outcome]:
    """Every batch in `todo`, by `workers` processes. In a full run, `on_answers` gets every
    student's answers (answers.json's entries, roster order) as soon as the last batch is
    solved, in a thread of its own, while the batches are typeset; it is done when this
    returns, and the outcomes then carry no answers."""
    results: dict[int, Outcome] = {}
    post = pool = gather = None
    finished = False
    try:
        if on_answers is not None:
            post = work.answers_out = AnswerPost()
            todo = sorted(todo, key=lambda i: len(work.batches[i]))     # a short batch first: every answer sooner
        # Forked workers inherit the batch work and the loaded families without pickling them.
        pool = multiprocessing.get_context("fork").Pool(workers, _init_worker, (work,)) if workers > 1 else None
        if post is not None:    # started after the fork: a child gets no copy of a running thread
            gather = threading.Thread(target=post.gather, args=(len(todo), on_answers), daemon=True)
            gather.start()
        for index, outcome in (pool.imap_unordered(_in_worker, todo) if pool else map(work, todo)):
            results[index] = outcome
            if progress:
                progress(sum(work.only is None or d.student.id in work.only for d in work.batches[index]))
        finished = True
    finally:
        if pool:
            pool.terminate()
        if post is not None:
            if not finished:
                post.stop()
            if gather is not None:      # a failing run does not wait for the writers' preparing
                gather.join(None if finished else 1.0)
            post.close()
            work.answers_out = None
    if post is not None and not post.delivered:
        raise QgenError(f"the batches' answers did not reach the writers: {post.failed}")
    return results
