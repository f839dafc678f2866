"""Before anything is written: the ORIGINAL's paper and key are rendered and typeset (a
template or header that fails is an input error, reported once), the preamble is dumped into a
TeX format for the batches, and the original's answers are checked to have the shape every
student's have."""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import QgenError
from .columns import slot_columns
from .compile import BEGIN_DOCUMENT, Format, TexError, dump_format, run_tex, trace
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
        work = Path(work)
        # A shell renders the same preamble without students: its format dumps (the longest
        # step here) while the original is solved, rendered and typeset plainly.
        empty = _without_students(docs, engine) if formats_dir else []
        dumps = [pool.submit(dump_format, s, formats_dir, engine) for s in _by_preamble(empty)]
        variant = solve_draft(original, Solver())
        sources = {kind: docs.render(kind, [variant], engine) for kind, _ in KINDS}
        if formats_dir and not empty:
            dumps = [pool.submit(dump_format, s, formats_dir, engine) for s in _by_preamble(sources.values())]

        checked = _together(sources)
        documents = {**sources, **checked}

        def typeset(name: str, how: str, with_formats: tuple[Format, ...]) -> bytes:
            return run_tex(documents[name], work, jobname=f"{name}-{how}", engine=engine, timeout=120,
                           formats=with_formats).read_bytes()

        plain = {name: pool.submit(typeset, name, "plain", ()) for name in checked}
        formats = tuple(f for f in dict.fromkeys(d.result() for d in dumps) if f is not None)
        if formats_dir and not all(any(s.startswith(f.preamble) for f in formats) for s in sources.values()):
            # A shell whose preamble depends on the students: the original's own, checked below.
            formats = tuple(f for f in dict.fromkeys(dump_format(s, formats_dir, engine)
                                                     for s in _by_preamble(sources.values())) if f is not None)
        fast = {name: pool.submit(typeset, name, "format", formats) for name in checked} if formats else {}
        if any(future.exception() for future in plain.values()):
            for kind in sources:        # which of them fails, and where: each typeset alone
                try:
                    typeset(kind, "alone", ())
                except TexError as exc:
                    where = trace(docs.marked().render(kind, [variant], engine), work, engine)
                    raise QgenError(f"the {kind} of the original paper does not typeset ({where or exc}): "
                                    f"{exc.detail}; check the templates and the [header] of exam.toml") from None
            return ()       # each alone but not both together: the format is not checked
        for name, future in fast.items():
            try:
                same = future.result() == plain[name].result()
            except TexError:
                same = False
            if not same:
                return ()
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


def _by_preamble(sources) -> list[str]:
    """One source per distinct preamble: two dumps of one format would write the same file."""
    return list({s[:s.find(BEGIN_DOCUMENT)]: s for s in sources}.values())
