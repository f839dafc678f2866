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
    """One output file (or a few that belong together) of a batch."""
    files: tuple[str, ...] = ()
    reads_outputs: bool = False     # reads the other writers' files (the manifest): runs after them
    external: bool = False          # spends its time in another program (TeX): started first
    own_process: bool = False       # long pure-Python work: runs in a forked process beside the rest

    def applies(self, batch: Batch) -> bool:
        return True

    def write(self, batch: Batch) -> None:
        raise NotImplementedError


def _in_child(writer: Writer, batch: Batch, conn) -> None:
    started = time.perf_counter()
    try:
        writer.write(batch)
        conn.send((None, time.perf_counter() - started))
    except BaseException as exc:    # reported to the parent, which raises it there
        conn.send((f"{exc}" if isinstance(exc, QgenError) else f"{type(exc).__name__}: {exc}", 0.0))
    finally:
        conn.close()


def write_all(batch: Batch, writers: list[Writer]) -> dict[str, float]:
    """Run every writer that applies: those that read no other output side by side (TeX
    typesets the key book and a forked process merges papers.pdf while Python writes the
    rest, two threads at a time), then the others in order; returns the seconds each took
    (for bench/)."""
    seconds = {}

    def run(writer: Writer) -> None:
        started = time.perf_counter()
        writer.write(batch)
        seconds[", ".join(writer.files)] = time.perf_counter() - started

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
