"""`qgen preview`: one question (or a whole exam) as paper and key in one PDF, no roster needed,
for an author to look at while writing. `--watch` redoes it whenever a source file changes."""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from . import QgenError, pdfsplit, texcache
from .compile import TexError, by_preamble, run_tex, trace
from .documents import KINDS, Documents, renderer_for
from .family import ConstraintError, LoadedFamily
from .files import atomic_write_bytes
from .fonts import engine_for
from .plan import Draft, Solver, Variant, draw, solve_draft
from .roster import Student, load_roster
from .spec import DEFAULT_LABELS, Exam, Slot


def family_exam(fam: LoadedFamily, constraints: dict | None = None, part_points: dict | None = None) -> Exam:
    """A one-question exam around a family, with its defaults: what a family preview shows."""
    points = part_points or {p.label: p.points for p in fam.spec.parts}
    slot = Slot(name="1", question="1", part="", family=fam, points=sum(points.values()), part_points=points,
                bonus=(), constraints=constraints or fam.constraints(), original={}, where=str(fam.folder))
    header = {"title": fam.spec.title, "labels": dict(DEFAULT_LABELS)}
    return Exam(id=f"preview-{fam.name}", seed=0, header=header, slots=(slot,), folder=fam.folder,
                path=fam.folder / "__init__.py", family_dirs=(fam.folder.parent,))


def seeded_draft(exam: Exam, seed: int, student: Student) -> Draft:
    """Every slot drawn with `numpy.random.default_rng(seed)`: the variant `qgen check` calls seed S."""
    slots = []
    for slot in exam.slots:
        try:
            slots.append((slot, slot.family.sample(np.random.default_rng(seed), slot.constraints), 0))
        except ConstraintError as exc:
            raise QgenError(f"{slot.where}: slot '{slot.name}': {exc}") from None
    return Draft(student, tuple(slots))


def student_draft(exam: Exam, sid: str) -> Draft:
    """The very paper a student of the exam's roster gets (with the exam's master seed)."""
    roster = exam.folder / "roster.csv"
    students = load_roster(roster) if roster.is_file() else []
    student = next((s for s in students if s.id == sid), Student(sid, ""))
    return next(d for d in draw(exam, [student], exam.seed) if d.student.id == sid)


def typeset_pair(docs: Documents, variant: Variant, work: Path) -> list[Path]:
    """The paper and the key of one variant, typeset side by side (two TeX runs at once).

    Typeset from their preamble's format when the cache holds one found to change nothing;
    else plainly, while the format is dumped and checked for the next preview.
    """
    engine = engine_for(variant.student, docs.exam.engine)
    kinds = [kind for kind, _ in KINDS]
    sources = {kind: docs.render(kind, [variant], engine) for kind in kinds}
    preambles = by_preamble(sources.values())

    def one(kind: str, formats: tuple = (), how: str = "") -> Path:
        folder = work / f"{kind}{how}"
        folder.mkdir()
        try:
            return run_tex(sources[kind], folder, jobname=kind, engine=engine, formats=formats)
        except TexError as exc:
            if how:
                raise
            where = trace(docs.marked().render(kind, [variant], engine), folder, engine)
            raise QgenError(f"the {kind} does not typeset: {where or exc}: {exc.detail}") from None

    cached = [texcache.format_for(s, work / "formats", engine, dump=False) for s in preambles]
    if all(f is not None and texcache.checked(f) for f in cached):
        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(lambda kind: one(kind, tuple(cached)), kinds))

    def check(plain: dict) -> None:
        formats = tuple(texcache.format_for(s, work / "formats", engine) for s in preambles)
        if None not in formats and all(one(kind, formats, "-format").read_bytes() == plain[kind].result().read_bytes()
                                       for kind in kinds):
            for fmt in formats:
                texcache.mark_checked(fmt)

    with ThreadPoolExecutor(3) as pool:
        plain = {kind: pool.submit(one, kind) for kind in kinds}
        checking = pool.submit(check, plain)
        done = [plain[kind].result() for kind in kinds]
        try:
            checking.result()
        except QgenError:      # a format that does not load or typeset is simply not used
            pass
        return done


def preview(exam: Exam, out: Path, seed: int | None = None, student: str | None = None) -> Path:
    """Write paper + key of one variant to `out`: seeded (`seed`), a roster student's, or seed 0."""
    who = Student(student or "PREVIEW", f"Preview, seed {seed or 0}")
    draft = student_draft(exam, student) if student else seeded_draft(exam, seed or 0, who)
    variant = solve_draft(draft, Solver())
    docs = Documents(exam, renderer_for(exam))
    with tempfile.TemporaryDirectory(prefix="qgen-preview-") as work:
        pdfs = typeset_pair(docs, variant, Path(work))
        pdfsplit.merge(pdfs, Path(work) / "both.pdf", odd_starts=False)
        atomic_write_bytes(out, (Path(work) / "both.pdf").read_bytes())
    return out


def sources_of(exam: Exam) -> list[Path]:
    """The files a preview depends on: the exam, its templates, its families' folders."""
    folders = {exam.folder, *(f.folder for f in exam.families)}
    return sorted(p for folder in folders for p in folder.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".j2", ".toml", ".csv"))


def watch(paths, redo, interval: float = 0.3) -> None:
    """Call `redo()` whenever a file of `paths()` changes, until interrupted."""
    def stamp():
        return {p: p.stat().st_mtime_ns for p in paths() if p.exists()}
    seen = stamp()
    while True:
        time.sleep(interval)
        now = stamp()
        if now != seen:
            seen = now
            redo()
