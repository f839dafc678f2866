"""The outputs of a finished run, each a writer with one interface.

The run (`generator.run`) makes every student's PDFs and answers.json entry; then each
writer here turns the finished batch into its file. A new output (a gradebook export, a
responses template) is a new writer, not a change to the run.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

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

    def applies(self, batch: Batch) -> bool:
        return True

    def prepare(self, batch: Batch) -> Any:
        return None

    def write(self, batch: Batch, prepared: Any = None) -> None:
        raise NotImplementedError


@dataclass
class _Failed:
    error: Exception


@dataclass
class _Prepared:
    records: list[dict]      # the answers it was made from
    value: Any
    seconds: float


class Preparing:
    """Every writer's `prepare` on a batch whose PDFs are not made yet, two threads at a time
    (the external ones first); `write_all` waits for each writer's when it writes it, so
    a file that needs no preparing (papers.pdf) is not held up by one that does (the key
    book's TeX). An error is kept, and raised where the writer writes, as without preparing."""

    def __init__(self, batch: Batch, writers: list[Writer]):
        self.records = batch.records
        todo = sorted((w for w in writers if w.applies(batch)), key=lambda w: not w.external)
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="qgen-prepare")
        self._futures = {", ".join(w.files): self._pool.submit(self._one, w, batch) for w in todo}
        self._pool.shutdown(wait=False)      # its threads end with the last future

    @staticmethod
    def _one(writer: Writer, batch: Batch) -> tuple[Any, float]:
        started = time.perf_counter()
        try:
            value = writer.prepare(batch)
        except Exception as exc:
            value = _Failed(exc)
        return value, time.perf_counter() - started

    def get(self, name: str) -> _Prepared | None:
        """What was prepared for the writer of `name`, once it is (None: nothing to use)."""
        future = self._futures.get(name)
        if future is None:
            return None
        value, seconds = future.result()
        return None if value is None else _Prepared(self.records, value, seconds)

    def cancel(self) -> None:
        """The run is failing: what has not started will not; what runs ends on its own."""
        for future in self._futures.values():
            future.cancel()


def write_all(batch: Batch, writers: list[Writer], prepared: Preparing | None = None) \
        -> dict[str, float]:
    """Run every writer that applies: those that read no other output side by side, a
    thread each (TeX typesets the key book while Python merges papers.pdf and writes the
    rest), then the others in order, each given what was prepared for it when the answers
    are the same; returns the seconds each took (for bench/)."""
    seconds = {}

    def run(writer: Writer) -> None:
        started, name = time.perf_counter(), ", ".join(writer.files)
        done = prepared.get(name) if prepared is not None else None
        if done is not None and done.records is not batch.records and done.records != batch.records:
            done = None     # prepared for other answers
        if done is not None and isinstance(done.value, _Failed):
            raise done.value.error
        writer.write(batch, done.value if done else None)
        seconds[name] = time.perf_counter() - started + (done.seconds if done else 0.0)

    todo = [w for w in writers if w.applies(batch)]
    side_by_side = sorted((w for w in todo if not w.reads_outputs), key=lambda w: not w.external)
    if side_by_side:
        with ThreadPoolExecutor(len(side_by_side)) as pool:
            futures = [pool.submit(run, w) for w in side_by_side]
        for future in futures:      # every writer has finished: the first error, in order
            future.result()
    for writer in todo:
        if writer.reads_outputs:
            run(writer)
    return {", ".join(w.files): seconds[", ".join(w.files)] for w in todo}
