"""The outputs of a finished run, each a writer with one interface.

The run (`generator.run`) makes every student's PDFs and answers.json entry; then each
writer here turns the finished batch into its file. A new output (a gradebook export, a
responses template) is a new writer, not a change to the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

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

    def applies(self, batch: Batch) -> bool:
        return True

    def write(self, batch: Batch) -> None:
        raise NotImplementedError


def write_all(batch: Batch, writers: list[Writer]) -> dict[str, float]:
    """Run every writer that applies, in order; returns the seconds each took (for bench/)."""
    seconds = {}
    for writer in writers:
        if writer.applies(batch):
            started = time.perf_counter()
            writer.write(batch)
            seconds[", ".join(writer.files)] = time.perf_counter() - started
    return seconds
