"""The whole run: plan every student's variant, solve and check it, write keys, tex and PDFs.

`plan` is pure (inputs -> variants); `generate` does the I/O. Every file is written to a
temporary name and renamed, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import sympy as sp

from . import QgenError, __version__
from .compile import Job, Member, Result, atomic_write_bytes, run_jobs
from .fonts import engine_for, require_engine
from .family import CheckError, ConstraintError, LoadedFamily
from .render import Renderer
from .seeding import rng_for
from .spec import ORIGINAL_ID, Exam, Slot, Student

REDRAWS = 50   # bounded redraws when two students' variants coincide


@dataclass(frozen=True)
class SlotVariant:
    slot: Slot
    params: dict
    answers: dict            # sympy values, as solve() returned them
    attempt: int = 0


@dataclass(frozen=True)
class Variant:
    student: Student
    slots: tuple[SlotVariant, ...]

    @property
    def fingerprint(self) -> str:
        return json.dumps([s.params for s in self.slots], sort_keys=True)


def jsonable(value: Any) -> Any:
    """Exact JSON: integers as integers, other rationals as "p/q", LaTeX as strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, sp.MatrixBase):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value if not isinstance(value, str) else str(value)
    if isinstance(value, int):
        return value
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    if isinstance(value, sp.Basic):
        if value.is_Integer:
            return int(value)
        if value.is_Rational:
            return f"{value.p}/{value.q}"
        return sp.sstr(value)
    raise TypeError(f"cannot put a {type(value).__name__} into answers.json")


class Solver:
    """solve + check once per distinct (family, params): students who share a slot's numbers share work."""

    def __init__(self):
        self._cache: dict[tuple[str, str], dict] = {}

    def __call__(self, family: LoadedFamily, params: dict, who: str) -> dict:
        key = (family.name, json.dumps(params, sort_keys=True))
        if key not in self._cache:
            try:
                answers = family.solve(params)
                family.check(params, answers)
            except CheckError as exc:
                raise QgenError(f"{who}: the independent check disagrees with sympy: {exc}") from None
            except (ValueError, ArithmeticError) as exc:
                raise QgenError(f"{who}: cannot solve {family.name} with {params}: {exc}") from None
            self._cache[key] = answers
        return self._cache[key]


def _slot_variant(exam: Exam, seed: int, student: Student, slot: Slot, solver: Solver, attempt: int) -> SlotVariant:
    who = f"student {student.id}, slot {slot.name}"
    if student.id == ORIGINAL_ID:
        params = slot.original
    else:
        rng = rng_for(seed, exam.id, student.id, slot.name, attempt)
        try:
            params = slot.family.sample(rng, slot.constraints)
        except ConstraintError as exc:
            raise QgenError(f"{exam.path}: slot '{slot.name}': {exc}") from None
    return SlotVariant(slot, params, solver(slot.family, params, who), attempt)


def original_student(exam: Exam) -> Student:
    return Student(ORIGINAL_ID, "Original paper", 0)


def plan(exam: Exam, students: list[Student], seed: int, solver: Solver | None = None,
         on_student: Callable[[], None] | None = None) -> list[Variant]:
    """Every student's variant, in roster order. ORIGINAL (the seed paper's values) comes first.

    Variants are seeded by (seed, exam, student, slot). Should two students' whole papers
    coincide (or one coincide with the published original), the one whose id sorts later
    redraws, so the result depends on who collided, never on roster order.
    """
    solver = solver or Solver()
    everyone = [original_student(exam), *students]
    variants = {}
    for st in everyone:
        variants[st.id] = Variant(st, tuple(_slot_variant(exam, seed, st, s, solver, 0) for s in exam.slots))
        if on_student:
            on_student()
    taken: dict[str, str] = {}
    order = [ORIGINAL_ID] + sorted(s.id for s in students)
    for sid in order:
        v = variants[sid]
        attempt = 0
        while v.fingerprint in taken:
            attempt += 1
            if attempt > REDRAWS:
                raise QgenError(f"student {sid}: could not find a variant distinct from {taken[v.fingerprint]}'s "
                                f"in {REDRAWS} redraws; widen the ranges in exam.toml")
            v = Variant(v.student, tuple(_slot_variant(exam, seed, v.student, s, solver, attempt) for s in exam.slots))
        taken[v.fingerprint] = sid
        variants[sid] = v
    return [variants[st.id] for st in everyone]


# ---------------------------------------------------------------- answers.json / answers.csv

def answers_document(exam: Exam, seed: int, variants: list[Variant]) -> dict:
    return {
        "exam": exam.id,
        "generator": f"qgen {__version__}",
        "master_seed": seed,
        "students": [{
            "id": v.student.id,
            "name": v.student.name,
            "questions": [{
                "slot": sv.slot.name,
                "family": sv.slot.family.name,
                "points": sv.slot.points,
                **({"bonus_points": sv.slot.bonus_points} if sv.slot.bonus else {}),
                "params": jsonable(sv.params),
                "answers": jsonable({k: sv.answers[k] for k in sv.slot.family.spec.answers}),
            } for sv in v.slots],
        } for v in variants],
    }


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}", v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value, start=1):
            _flatten(f"{prefix}.{i}" if not isinstance(v, list) else f"{prefix}.{i}", v, out)
    else:
        out[prefix] = value


def final_answers(sv: SlotVariant) -> dict[str, Any]:
    """`{"2.a.1": -3, ...}`: one entry per final number of one slot, for the CSV and the key book."""
    out: dict[str, Any] = {}
    for key in sv.slot.family.spec.final_answers:
        _flatten(f"{sv.slot.name}.{key}", jsonable(sv.answers[key]), out)
    return out


def answers_csv(variants: list[Variant]) -> str:
    rows = []
    columns: dict[str, None] = {}
    for v in variants:
        row = {"id": v.student.id, "name": v.student.name}
        for sv in v.slots:
            row.update(final_answers(sv))
        columns.update(dict.fromkeys(row))
        rows.append(row)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


# ---------------------------------------------------------------- documents

@dataclass
class Documents:
    """Renders paper and key documents for one or many students."""
    exam: Exam
    renderer: Renderer
    _bodies: dict = field(default_factory=dict)

    def header(self) -> dict:
        return dict(self.exam.header)

    def student_context(self, v: Variant, kind: str) -> dict:
        questions: dict[str, dict] = {}
        for sv in v.slots:
            fam = sv.slot.family
            key = (fam.name, json.dumps(sv.params, sort_keys=True), json.dumps(sv.slot.part_points))
            if key not in self._bodies:
                self._bodies[key] = {
                    "question": self.renderer.slot(fam, "question", sv.params, sv.answers, sv.slot.part_points),
                    "solution": self.renderer.slot(fam, "solution", sv.params, sv.answers, sv.slot.part_points),
                }
            body = self._bodies[key]
            q = questions.setdefault(sv.slot.question, {"number": sv.slot.question, "points": 0, "bonus": 0,
                                                        "slots": []})
            q["points"] += sv.slot.points
            q["bonus"] += sv.slot.bonus_points
            slot = {"part": sv.slot.part, "points": sv.slot.points, "question": body["question"]}
            if kind == "key":   # the paper's context has no solution at all
                slot["solution"] = body["solution"]
            q["slots"].append(slot)
        return {"id": v.student.id, "name": v.student.name, "questions": list(questions.values())}

    def render(self, kind: str, variants: list[Variant], engine: str = "pdflatex") -> str:
        return self.renderer.document(kind, self.header(), [self.student_context(v, kind) for v in variants],
                                      self.exam.families, engine)


KINDS = (("paper", "papers"), ("key", "keys"))
STAMP = ".qgen-batch.json"
CACHE = ".cache"


def batch_stamp(exam: Exam, students: list[Student], seed: int) -> dict:
    """What identifies a batch: the exam, the seed and the roster (ids and names, in order)."""
    roster = hashlib.sha256(json.dumps([[s.id, s.name] for s in students]).encode()).hexdigest()
    return {"exam": exam.id, "master_seed": seed, "roster_sha256": roster, "students": len(students)}


def claim_output(out: Path, stamp: dict, force: bool) -> None:
    """Refuse a folder holding another batch (other exam, seed or roster) unless forced.

    With force, the previous batch's files go first, so two batches never mix in one folder.
    """
    path = out / STAMP
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            old = {}
        if old == stamp:
            return
        if not force:
            what = [k for k in ("exam", "master_seed", "roster_sha256") if old.get(k) != stamp[k]]
            said = {"exam": f"exam {old.get('exam')}", "master_seed": f"seed {old.get('master_seed')}",
                    "roster_sha256": f"another roster ({old.get('students')} students)"}
            raise QgenError(f"{out}: holds a batch made with {', '.join(said[w] for w in what)}; "
                            "use another --out, or --force to replace it")
    elif out.exists() and any(out.iterdir()) and not force:
        raise QgenError(f"{out}: not empty and not a qgen output folder; use another --out, or --force")
    if force:
        for name in ("papers", "keys", "tex"):
            shutil.rmtree(out / name, ignore_errors=True)
        for name in ("answers.json", "answers.csv", "manifest.json"):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(stamp, indent=1) + "\n")


def _place(cached: Path, target: Path) -> None:
    """Put a cached PDF at its target name atomically (a hard link when the disk allows)."""
    if target.exists() and os.path.samefile(cached, target):
        return
    tmp = target.with_name(f".{target.name}.link")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp.unlink(missing_ok=True)
    try:
        os.link(cached, tmp)
    except OSError:
        shutil.copyfile(cached, tmp)
    os.replace(tmp, target)


def _sweep(out: Path) -> None:
    """Remove what a killed run can leave: temporary files and TeX scratch folders."""
    for pattern in (".*.tmp", ".*.link"):
        for leftover in out.rglob(pattern):
            leftover.unlink(missing_ok=True)
    # Each run typesets in .work/<pid>; another live run (a shard) keeps its own.
    for scratch in (out / ".work").glob("*"):
        if not (scratch.name.isdigit() and _alive(int(scratch.name))):
            shutil.rmtree(scratch, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()


def generate(exam: Exam, students: list[Student], seed: int, out: Path, *, tex_only: bool = False,
             workers: int | None = None, chunk: int = 50, renderer: Renderer | None = None, force: bool = False,
             log: Callable[[str], None] = lambda s: None) -> Result:
    """Write tex/, answers.json, answers.csv and (unless tex_only) papers/ and keys/ PDFs.

    Everything is validated and planned before the first write. A PDF whose source did not
    change since an earlier run (even one killed half-way) is reused from the cache, not
    recompiled; a PDF whose source changed is removed before it is rebuilt, so a failure
    never leaves a stale one behind.
    """
    variants = plan(exam, students, seed)
    docs = Documents(exam, renderer or Renderer([exam.folder / "templates"]))
    engines = {v.student.id: engine_for(v.student) for v in variants}
    if not tex_only:
        for v in variants:
            require_engine(engines[v.student.id], v.student)
    claim_output(out, batch_stamp(exam, students, seed), force)
    _sweep(out)
    atomic_write_text(out / "answers.json", json.dumps(answers_document(exam, seed, variants), indent=1,
                                                       ensure_ascii=False) + "\n")
    atomic_write_text(out / "answers.csv", answers_csv(variants))
    digests: dict[tuple[str, str], str] = {}
    for kind, folder in KINDS:
        for v in variants:
            engine = engines[v.student.id]
            tex = docs.render(kind, [v], engine)
            atomic_write_text(out / "tex" / folder / f"{v.student.id}.tex", tex)
            digests[kind, v.student.id] = hashlib.sha256(f"{engine}\n{tex}".encode()).hexdigest()
    log(f"wrote answers.json, answers.csv and {2 * len(variants)} .tex files for {len(variants)} papers")
    if tex_only:
        return Result()

    cache = out / CACHE
    cache.mkdir(exist_ok=True)
    todo: dict[tuple[str, str], list[Variant]] = {}
    reused = 0
    for kind, folder in KINDS:
        for v in variants:
            cached = cache / f"{digests[kind, v.student.id]}.pdf"
            target = out / folder / f"{v.student.id}.pdf"
            if cached.exists():
                _place(cached, target)
                reused += 1
            else:
                target.unlink(missing_ok=True)
                todo.setdefault((kind, engines[v.student.id]), []).append(v)
    if reused:
        log(f"reused {reused} unchanged PDFs")
    jobs = []
    for (kind, engine), group_all in todo.items():
        folder = dict(KINDS)[kind]
        for start in range(0, len(group_all), chunk):
            group = group_all[start:start + chunk]
            members = [Member(v.student.id, cache / f"{digests[kind, v.student.id]}.pdf",
                              (lambda v=v, kind=kind, engine=engine: docs.render(kind, [v], engine))) for v in group]
            jobs.append(Job(f"{folder} {start + 1}-{start + len(group)}", kind,
                            docs.render(kind, group, engine), members, engine))
    scratch = out / ".work" / str(os.getpid())
    result = run_jobs(jobs, workers or os.cpu_count() or 1, scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    for (kind, sid), digest in digests.items():
        cached = cache / f"{digest}.pdf"
        if cached.exists():
            _place(cached, out / dict(KINDS)[kind] / f"{sid}.pdf")
    # Keep the cache to what this batch uses.
    wanted = {f"{d}.pdf" for d in digests.values()}
    for stale in cache.glob("*.pdf"):
        if stale.name not in wanted:
            stale.unlink(missing_ok=True)
    result.written = [out / dict(KINDS)[k] / f"{sid}.pdf" for (k, sid) in digests
                      if (out / dict(KINDS)[k] / f"{sid}.pdf").exists()]
    return result
