"""The run over a roster: fast, resumable, reproducible, and every output true at the end.

Every student's parameters are drawn up front (so bad constraints fail before anything is
written). The roster, ORIGINAL first, is cut into fixed batches that worker processes
typeset (`generator.work`). Batches depend only on the roster order and the batch size, so
the same inputs always give byte-identical files, `only` rebuilds one student identically,
and shards merge into the same output. Then the writers (`generator.writers`) make
answers.json, answers.csv, the print files and the manifest, from the whole batch: after
`only`, the other students' entries come from the folder's earlier run. In a full run, what
needs only the answers (answers.json, the key book) is prepared while the batches are typeset.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import QgenError
from .documents import Documents, renderer_for
from .drawing import Drawing
from .fonts import engine_for, require_engine
from .outdir import OutputFolder, Previous, digest
from .plan import batch_stamp, draw_original
from .render import Renderer
from .roster import Student
from .spec import Exam
from .preflight import preflight, same_shape
from .work import BatchWork, Outcome, run_batches
from .writers import Batch, Preparing, write_all
from .writers.answers import AnswersCsv, AnswersJson, ResponsesTemplate
from .writers.manifest import Manifest
from .writers.prints import KeyBook, PapersPdf

WRITERS = [AnswersJson(), AnswersCsv(), ResponsesTemplate(), PapersPdf(), KeyBook(), Manifest()]
PRINT_FILES = ("papers.pdf", "keybook.pdf")


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


def batches_of(count: int, size: int) -> list[range]:
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def students_in_run(count: int, size: int, only: frozenset[str] | None, shard: Shard | None) -> int:
    """How many papers a run makes (`count` includes ORIGINAL), for the progress bar."""
    if only:
        return len(only)
    return sum(len(b) for i, b in enumerate(batches_of(count, size)) if shard is None or shard.takes(i))


def _report_stale(drafts, previous: Previous, current: dict, current_id: str, log) -> None:
    """Say how many students' files were made with other templates than today's."""
    stale = [d.student.id for d in drafts if previous.templates.get(d.student.id) not in (None, current_id)]
    if stale:
        older = {f for t in {previous.templates[s] for s in stale}
                 for f, h in {**previous.template_sets.get(t, {}), **current}.items()
                 if previous.template_sets.get(t, {}).get(f) != current.get(f)}
        log(f"{len(stale)} students' files predate the current templates ({', '.join(sorted(older)[:3])}"
            f"{', ...' if len(older) > 3 else ''} changed); rebuilding what differs")


def _batch(exam, seed, drafts, engines, docs, folder, options, total: Outcome, previous: Previous,
           current: dict, current_id: str) -> Batch | None:
    """The whole batch for the writers; after `only`, the others as the earlier run left them
    (None when there is no earlier run to complete it from)."""
    made = {sid for sid, kinds in total.pdfs.items() if len(kinds) == 2}
    records, pdfs, templates = total.records, total.pdfs, {sid: current_id for sid in made}
    if options.only is not None:
        if any(d.student.id not in previous.records for d in drafts):
            return None
        fresh = {r["id"]: r for r in total.records if r["id"] in options.only}
        records = [fresh.get(d.student.id, previous.records[d.student.id]) for d in drafts]
        pdfs = {**previous.pdfs, **{sid: total.pdfs[sid] for sid in options.only if sid in total.pdfs}}
        templates = {**previous.templates, **{sid: current_id for sid in options.only if sid in made}}
    return Batch(exam, seed, drafts, engines, records, folder, docs.renderer, options.batch_size,
                 options.tex_only, total.failures, pdfs, templates,
                 {**previous.template_sets, current_id: current}, current_id)


def _prepare(exam: Exam, students: list[Student], seed: int, options: Options, formats_dir: Path):
    """Everything that can fail on bad input, before the folder is touched; then claim it."""
    if options.only is not None and options.shard is not None:
        raise ValueError("only and shard exclude each other: only already names the students")
    docs = Documents(exam, options.renderer or renderer_for(exam))
    original = draw_original(exam, seed)
    # The original's TeX (an external program) runs beside the drawing of everyone's numbers,
    # whose processes fork first: before the thread starts.
    with Drawing(exam, students, seed, options.workers or os.cpu_count() or 1) as drawing, \
            ThreadPoolExecutor(1) as pool:
        checked = pool.submit(preflight, docs, original, engine_for(original.student, exam.engine),
                              tex=not options.tex_only, formats_dir=formats_dir)
        drafts = drawing.result()
        sampled = drawing.seconds
        engines = {d.student.id: engine_for(d.student, exam.engine) for d in drafts}
        unknown = sorted((options.only or set()) - set(engines))
        if unknown:
            raise UnknownStudent(unknown[0])
        if not options.tex_only:
            needing = {}        # each engine once, for the first student who needs it
            for d in drafts:
                needing.setdefault(engines[d.student.id], d.student)
            for engine, student in needing.items():
                require_engine(engine, student)
        if len(drafts) > 1:
            same_shape(drafts[0], drafts[1])
        formats = checked.result()
    folder = OutputFolder(options.out)
    folder.claim(batch_stamp(exam, seed, students, drafts), options.replace)
    folder.sweep()
    return drafts, sampled, engines, docs, folder, formats


def generate(exam: Exam, students: list[Student], seed: int, options: Options) -> Outcome:
    """Write tex/, answers.json, answers.csv, manifest.json and (unless tex_only) the PDFs.

    `only` rebuilds those students' files, then every shared file; a shard does its slice of
    the batches and leaves the shared files to a run without one, which reuses its PDFs.
    """
    with tempfile.TemporaryDirectory(prefix="qgen-formats-") as formats_dir:
        return _generate(exam, students, seed, options, Path(formats_dir))


def _generate(exam: Exam, students: list[Student], seed: int, options: Options, formats_dir: Path) -> Outcome:
    drafts, sampled, engines, docs, folder, formats = _prepare(exam, students, seed, options, formats_dir)
    log, full = options.log, options.only is None and options.shard is None
    previous = folder.previous()
    current = docs.renderer.source_hashes(exam.families)
    current_id = digest(current)
    if full:
        _report_stale(drafts, previous, current, current_id, log)
    if not options.tex_only and options.shard is None:
        for name in PRINT_FILES:       # rewritten at the end, or not at all: never stale
            (folder.path / name).unlink(missing_ok=True)

    batches = [drafts[b.start:b.stop] for b in batches_of(len(drafts), options.batch_size)]
    todo = [i for i, batch in enumerate(batches)
            if (options.shard is None or options.shard.takes(i))
            and (options.only is None or any(d.student.id in options.only for d in batch))]
    work = BatchWork(docs, batches, engines, folder, options.tex_only, options.only, formats)
    workers = max(1, min(options.workers or os.cpu_count() or 1, len(todo)))
    prepared: list[Preparing] = []

    def prepare(records: list[dict]) -> None:      # answers.json, the key book, ... while TeX runs
        early = Batch(exam, seed, drafts, engines, records, folder, docs.renderer, options.batch_size, options.tex_only)
        prepared.append(Preparing(early, WRITERS))

    try:
        results = run_batches(work, todo, workers, options.progress, prepare if full else None)
    except BaseException:
        for preparing in prepared:
            preparing.cancel()
        raise

    total = Outcome(seconds={"sample": sampled})
    for index in sorted(results):      # roster order, whatever order the batches finished in
        total.absorb(results[index])
    if full:
        total.records = prepared[0].records
    if total.reused:
        log(f"reused {total.reused} unchanged PDFs")
    if options.shard is not None:
        return total
    batch = _batch(exam, seed, drafts, engines, docs, folder, options, total, previous, current, current_id)
    if batch is None:
        log("answers.json and the print files are left to a full run (this folder has none yet)")
        return total
    seconds = write_all(batch, WRITERS, prepared[0] if prepared else None)
    made = len(drafts) if full else len(options.only)
    log(f"wrote answers.json, answers.csv, responses-template.csv and {2 * made} .tex files for {made} "
        f"paper{'s' * (made != 1)}")
    if not options.tex_only:
        log("papers.pdf and keybook.pdf not written: a print file must not miss a student" if total.failures
            else "wrote papers.pdf, keybook.pdf")
        changed = sum(previous.pdfs.get(sid, {}).get(kind) not in (None, h)
                      for sid, kinds in total.pdfs.items() for kind, h in kinds.items())
        if full and previous.pdfs:
            log(f"{changed} PDFs changed since the last run")
        if full:
            folder.prune_cache(total.cached)
    total.seconds["print files"] = seconds.get("papers.pdf", 0.0) + seconds.get("keybook.pdf", 0.0)
    return total
