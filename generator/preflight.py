"""Before anything is written: the ORIGINAL's paper and key are rendered and typeset (a
template or header that fails is an input error, reported once), the preamble is dumped into a
TeX format for the batches, and the original's answers are checked to have the shape every
student's have."""

from __future__ import annotations

import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from . import QgenError, texcache
from .columns import slot_columns
from .compile import BEGIN_DOCUMENT, Format, TexError, by_preamble, run_tex, trace
from .documents import KINDS, Documents
from .plan import Draft, Solver, solve_draft
from .values import to_json


def _same_columns(original, student) -> None:
    """Every student of a slot has the answer columns of the original (CSV columns line up)."""
    for a, b in zip(original.slots, student.slots):
        def headers(sv):
            return [c.header for c in slot_columns(sv.slot.family.spec, sv.slot.question, sv.slot.part,
                                                   to_json(sv.answers)) if c.final]
        if headers(a) != headers(b):
            raise QgenError(f"{a.slot.where}: slot '{a.slot.name}': the original values give other answers "
                            f"({len(headers(a))} columns) than the students' ({len(headers(b))}): make the "
                            "slot's constraints fit the original (the number of steps, layers, tokens, the cell)")


def same_shape(original: Draft, student: Draft) -> None:
    """Raise (QgenError) when the original's answers do not have the shape the slots give
    every student (here: `student`): an input error, found before the folder is touched."""
    solver = Solver()
    _same_columns(solve_draft(original, solver), solve_draft(student, solver))


def preflight(docs: Documents, original: Draft, engine: str, tex: bool,
              formats_dir: Path | None = None) -> tuple[Format, ...]:
    """Render (and typeset) the ORIGINAL paper and key before touching the output folder;
    returns their preambles dumped as formats into `formats_dir`, for the batches.

    A template or header that cannot render, or renders to TeX that fails, is an input
    error: reported once, naming the problem, with nothing written or removed. The batches
    get the formats only if the original typeset from them is, byte for byte, the original
    typeset plainly (a family's preamble may do what a format does not keep); its paper and
    key are typeset as one document for this when they share a preamble.
    """
    if not tex:
        variant = solve_draft(original, Solver())
        for kind, _ in KINDS:
            docs.render(kind, [variant], engine)
        return ()
    with tempfile.TemporaryDirectory(prefix="qgen-preflight-") as work, ThreadPoolExecutor(4) as pool:
        def dump(source: str) -> Future:
            return pool.submit(texcache.format_for, source, formats_dir, engine)

        # A shell renders the same preamble without students: its format dumps (the longest
        # step here) while the original is solved, rendered and typeset plainly. A format an
        # earlier run kept is taken as it is.
        empty = by_preamble(_without_students(docs, engine)) if formats_dir else []
        kept = tuple(dict.fromkeys(texcache.format_for(s, formats_dir, engine, dump=False) for s in empty))
        dumps = [] if kept and all(kept) else [dump(s) for s in empty]
        run = _Original(docs, solve_draft(original, Solver()), engine, Path(work), pool)
        if formats_dir and not empty:
            dumps = [dump(s) for s in by_preamble(run.sources.values())]
        if not dumps and run.covers(kept) and all(texcache.checked(f) for f in kept):
            return run.from_checked(kept)
        plain = {name: pool.submit(run.typeset, name, "plain", ()) for name in run.checked}
        formats = tuple(f for f in dict.fromkeys(d.result() for d in dumps) if f) if dumps else kept
        if formats_dir and not run.covers(formats):
            # A shell whose preamble depends on the students: the original's own, checked below.
            formats = tuple(f for f in dict.fromkeys(d.result() for d in map(dump, by_preamble(run.sources.values())))
                            if f is not None)
        return run.checked_against(plain, formats)


class _Original:
    """The original's paper and key, typeset in `work` for preflight's checks."""

    def __init__(self, docs: Documents, variant, engine: str, work: Path, pool: ThreadPoolExecutor):
        self.docs, self.variant, self.engine, self.work, self.pool = docs, variant, engine, work, pool
        self.sources = {kind: docs.render(kind, [variant], engine) for kind, _ in KINDS}
        self.checked = _together(self.sources)
        self.documents = {**self.sources, **self.checked}

    def typeset(self, name: str, how: str, formats: tuple[Format, ...]) -> bytes:
        return run_tex(self.documents[name], self.work, jobname=f"{name}-{how}", engine=self.engine, timeout=120,
                       formats=formats).read_bytes()

    def covers(self, formats) -> bool:
        return bool(formats) and all(any(s.startswith(f.preamble) for f in formats) for s in self.sources.values())

    def diagnose(self) -> None:
        """Raise the error of whichever of paper and key fails typeset alone (and where)."""
        for kind in self.sources:
            try:
                self.typeset(kind, "alone", ())
            except TexError as exc:
                where = trace(self.docs.marked().render(kind, [self.variant], self.engine), self.work, self.engine)
                raise QgenError(f"the {kind} of the original paper does not typeset ({where or exc}): "
                                f"{exc.detail}; check the templates and the [header] of exam.toml") from None

    def from_checked(self, formats: tuple[Format, ...]) -> tuple[Format, ...]:
        """An earlier run found these formats to change nothing: the original typeset from them
        is the check that the templates typeset, without the plain runs."""
        fast = [self.pool.submit(self.typeset, name, "format", formats) for name in self.checked]
        if not any(future.exception() for future in fast):
            return formats
        self.diagnose()
        for fmt in formats:     # the templates typeset, the format does not: a damaged file
            texcache.forget(fmt)
        return ()

    def checked_against(self, plain: dict[str, Future], formats: tuple[Format, ...]) -> tuple[Format, ...]:
        """`formats` if the original typeset from them is its plain typesetting, byte for byte."""
        fast = {name: self.pool.submit(self.typeset, name, "format", formats) for name in self.checked} if formats else {}
        if any(future.exception() for future in plain.values()):
            self.diagnose()
            return ()       # each alone but not both together: the format is not checked
        for name, future in fast.items():
            try:
                same = future.result() == plain[name].result()
            except TexError:
                same = False
            if not same:
                return ()
        for fmt in formats:
            texcache.mark_checked(fmt)
        return formats


BOTH = "both"


def _together(sources: dict[str, str]) -> dict[str, str]:
    """What preflight typesets: the paper and the key as one document when they share their
    preamble (one TeX run reads it once), else each alone."""
    paper, key = sources["paper"], sources["key"]
    cut, end = paper.find(BEGIN_DOCUMENT) + len(BEGIN_DOCUMENT), paper.rfind("\\end{document}")
    if cut < len(BEGIN_DOCUMENT) or end < cut or key[:cut] != paper[:cut]:
        return sources
    return {BOTH: paper[:end] + key[cut:]}


def _without_students(docs: Documents, engine: str) -> list[str]:
    """Each kind's document for no students; none when a shell cannot render one (then the
    original's documents are dumped, and their errors reported as the original's)."""
    try:
        return [docs.without_students(kind, engine) for kind, _ in KINDS]
    except Exception:
        return []
