"""The outputs of a finished run, each a writer with one interface.

The run (`generator.run`) makes every student's PDFs and answers.json entry; then each
writer here turns the finished batch into its file. A new output (a gradebook export, a
responses template) is a new writer, not a change to the run.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .. import QgenError
from ..compile import Failure
from ..outdir import OutputFolder
from ..plan import Draft
from ..render import Renderer
from ..spec import Exam


@dataclass
class Batch:
    """What the writers read: the whole batch, after its PDFs are made."""
    exam: Exam
    seed: int
    drafts: list[Draft]                 # roster order, ORIGINAL first
    engines: dict[str, str]             # student id -> TeX engine
    records: list[dict]                 # answers.json entries, same order
    folder: OutputFolder
    renderer: Renderer
    batch_size: int
    tex_only: bool = False
    failures: list[Failure] = field(default_factory=list)
    pdfs: dict[str, dict[str, str]] = field(default_factory=dict)    # id -> kind -> sha256
    templates: dict[str, str | None] = field(default_factory=dict)  # id -> the template set its files come from
    template_sets: dict[str, dict] = field(default_factory=dict)    # template set -> file -> sha256
    current_templates: str = ""                                      # the set the templates are now


class Writer:
    """One output file (or a few that belong together) of a batch.

    `prepare` may do the work that needs only the answers (no PDF), on a batch whose PDFs are
    still being made; `write` then gets what it returned, for the same answers, and puts the
    file in place (or leaves it out) when the batch is done, as it would have without it.
    """
    files: tuple[str, ...] = ()
    reads_outputs: bool = False     # reads the other writers' files (the manifest): runs after them
    external: bool = False          # spends its time in another program (TeX): started first
    own_process: bool = False       # long pure-Python work: runs in a forked process beside the rest

    def applies(self, batch: Batch) -> bool:
        return True

    def prepare(self, batch: Batch) -> Any:
        return None

    def write(self, batch: Batch, prepared: Any = None) -> None:
        raise NotImplementedError


def prepare_all(batch: Batch, writers: list[Writer]) -> dict[str, _Prepared]:
    """Every writer's `prepare` on a batch whose PDFs are not made yet, side by side; by the
    writer's files, with the answers it was prepared for (an error is kept for `write`)."""
    def one(writer: Writer) -> tuple[Any, float]:
        started = time.perf_counter()
        try:
            value = writer.prepare(batch)
        except Exception as exc:     # raised again where the writer writes, as without preparing
            value = _Failed(exc)
        return value, time.perf_counter() - started

    todo = sorted((w for w in writers if w.applies(batch)), key=lambda w: not w.external)
    with ThreadPoolExecutor(2) as pool:
        done = dict(zip(todo, pool.map(one, todo)))
    return {", ".join(w.files): _Prepared(batch.records, value, secs) for w, (value, secs) in done.items()
            if value is not None}


@dataclass
class _Failed:
    error: Exception


@dataclass
class _Prepared:
    records: list[dict]      # the answers it was made from
    value: Any
    seconds: float


def _in_child(writer: Writer, batch: Batch, conn) -> None:
    started = time.perf_counter()
    try:
        writer.write(batch)
        conn.send((None, time.perf_counter() - started))
    except BaseException as exc:    # reported to the parent, which raises it there
        conn.send((f"{exc}" if isinstance(exc, QgenError) else f"{type(exc).__name__}: {exc}", 0.0))
    finally:
        conn.close()


def write_all(batch: Batch, writers: list[Writer], prepared: dict[str, _Prepared] | None = None) -> dict[str, float]:
    """Run every writer that applies: those that read no other output side by side (TeX
    typesets the key book and a forked process merges papers.pdf while Python writes the
    rest, two threads at a time), then the others in order, each given what `prepare_all`
    prepared for it when the answers are the same; returns the seconds each took (for bench/)."""
    seconds = {}

    def run(writer: Writer) -> None:
        started, name = time.perf_counter(), ", ".join(writer.files)
        done = (prepared or {}).get(name)
        if done is not None and done.records is not batch.records and done.records != batch.records:
            done = None     # prepared for other answers
        if done is not None and isinstance(done.value, _Failed):
            raise done.value.error
        writer.write(batch, done.value if done else None)
        seconds[name] = time.perf_counter() - started + (done.seconds if done else 0.0)

    todo = [w for w in writers if w.applies(batch)]
    side_by_side = sorted((w for w in todo if not w.reads_outputs), key=lambda w: not w.external)
    context = multiprocessing.get_context("fork")
    children = []
    for writer in (w for w in side_by_side if w.own_process):     # forked before any thread starts
        ours, theirs = context.Pipe(duplex=False)
        child = context.Process(target=_in_child, args=(writer, batch, theirs), daemon=True)
        child.start()
        theirs.close()
        children.append((writer, child, ours))
    errors = []
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(run, [w for w in side_by_side if not w.own_process]))
    finally:
        for writer, child, conn in children:      # never left running behind an error
            try:
                error, seconds[", ".join(writer.files)] = conn.recv()
            except EOFError:
                error = f"the process writing {', '.join(writer.files)} stopped"
            child.join()
            errors += [error] if error else []
    if errors:
        raise QgenError(errors[0])
    for writer in todo:
        if writer.reads_outputs:
            run(writer)
    return {", ".join(w.files): seconds[", ".join(w.files)] for w in todo}
