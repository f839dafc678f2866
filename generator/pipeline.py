"""Variants and keys: draw every student's parameters, solve and check them, and turn them
into answers.json rows, answers.csv rows and paper/key documents.

Everything here is pure (inputs -> values); `batch.generate` runs it over a roster and
does the I/O.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import sympy as sp
from pylatex.utils import NoEscape

from . import QgenError, __version__
from .family import CheckError, ConstraintError, LoadedFamily
from .family import get as get_family
from .render import Renderer
from .seeding import rng_for
from .spec import ORIGINAL_ID, Exam, Slot, Student

REDRAWS = 50   # bounded redraws when two students' variants coincide


@dataclass(frozen=True)
class SlotVariant:
    slot: Slot
    params: dict
    answers: dict            # sympy values, as solve() returned them


@dataclass(frozen=True)
class Variant:
    student: Student
    slots: tuple[SlotVariant, ...]


def jsonable(value: Any) -> Any:
    """Exact JSON: integers as integers, other rationals as "p/q", LaTeX as strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, sp.MatrixBase):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)       # a NoEscape or other str subclass becomes a plain string
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
            except Exception as exc:    # original values from exam.toml can be anything
                raise QgenError(f"{who}: cannot solve {family.name} with {params}: "
                                f"{type(exc).__name__}: {exc}") from None
            self._cache[key] = answers
        return self._cache[key]


@dataclass(frozen=True)
class Draft:
    """A student's drawn parameters, before solving."""
    student: Student
    slots: tuple[tuple[Slot, dict, int], ...]      # (slot, params, attempt)

    @property
    def fingerprint(self) -> str:
        return json.dumps([params for _, params, _ in self.slots], sort_keys=True)


def _draw_slot(exam: Exam, seed: int, student: Student, slot: Slot, attempt: int) -> tuple[Slot, dict, int]:
    if student.id == ORIGINAL_ID:
        return slot, slot.original, attempt
    rng = rng_for(seed, exam.id, student.id, slot.name, attempt)
    try:
        return slot, slot.family.sample(rng, slot.constraints), attempt
    except ConstraintError as exc:
        raise QgenError(f"{slot.where}: slot '{slot.name}': {exc}") from None


def original_student() -> Student:
    return Student(ORIGINAL_ID, "Original paper", 0)


def draw(exam: Exam, students: list[Student], seed: int) -> list[Draft]:
    """Every student's parameters, in roster order, ORIGINAL (the seed paper's values) first.

    Parameters are seeded by (seed, exam, student, slot). Should two students' whole papers
    coincide (or one coincide with the published original), the one whose id sorts later
    redraws, so the result depends on who collided, never on roster order.
    """
    everyone = [original_student(), *students]
    drafts = {st.id: Draft(st, tuple(_draw_slot(exam, seed, st, s, 0) for s in exam.slots)) for st in everyone}
    taken: dict[str, str] = {}
    for sid in [ORIGINAL_ID] + sorted(s.id for s in students):
        d = drafts[sid]
        attempt = 0
        while d.fingerprint in taken:
            attempt += 1
            if attempt > REDRAWS:
                raise QgenError(f"student {sid}: could not find a variant distinct from {taken[d.fingerprint]}'s "
                                f"in {REDRAWS} redraws; widen the ranges in exam.toml")
            d = Draft(d.student, tuple(_draw_slot(exam, seed, d.student, s, attempt) for s in exam.slots))
        taken[d.fingerprint] = sid
        drafts[sid] = d
    return [drafts[st.id] for st in everyone]


def solve_draft(draft: Draft, solver: Solver) -> Variant:
    def who(slot: Slot) -> str:
        if draft.student.id == ORIGINAL_ID:
            return f"{slot.where}: slot '{slot.name}': the original values"
        return f"student {draft.student.id}, slot {slot.name}"

    return Variant(draft.student, tuple(SlotVariant(slot, params, solver(slot.family, params, who(slot)))
                                        for slot, params, _ in draft.slots))


def plan(exam: Exam, students: list[Student], seed: int, solver: Solver | None = None) -> list[Variant]:
    """Every student's solved and checked variant, in roster order, ORIGINAL first."""
    solver = solver or Solver()
    return [solve_draft(d, solver) for d in draw(exam, students, seed)]


# ---------------------------------------------------------------- answers.json / answers.csv

def student_record(v: Variant) -> dict:
    """One student's entry of answers.json (exact JSON values)."""
    return {
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
    }


def answers_document(exam: Exam, seed: int, records: list[dict]) -> dict:
    return {"exam": exam.id, "generator": f"qgen {__version__}", "master_seed": seed, "students": records}


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}", v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value, start=1):
            _flatten(f"{prefix}.{i}", v, out)
    else:
        out[prefix] = value


def final_answers(sv: SlotVariant) -> dict[str, Any]:
    """`{"2.a.1": -3, ...}`: one entry per final value of one slot, for the CSV and the key book."""
    out: dict[str, Any] = {}
    for key in sv.slot.family.spec.final_answers:
        _flatten(f"{sv.slot.name}.{key}", jsonable(sv.answers[key]), out)
    return out


def csv_row(v: Variant) -> dict[str, Any]:
    name = v.student.name
    if name[:1] in ("=", "+", "-", "@"):     # a spreadsheet would run it as a formula
        name = "'" + name
    row: dict[str, Any] = {"id": v.student.id, "name": name}
    for sv in v.slots:
        row.update(final_answers(sv))
    return row


def answers_csv(rows: list[dict]) -> str:
    """One row per student, one column per final answer; UTF-8 with BOM so Excel shows accents."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


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


def _key_value(value: Any) -> str:
    """LaTeX math for an answers.json value: numbers, "p/q", lists, tables, or LaTeX text."""
    if isinstance(value, bool):
        return r"\text{%s}" % value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_key_value(v) for v in value) + "]"
    if isinstance(value, dict):
        names = {k: k.replace("_", r"\_") for k in value}
        return "(" + r",\ ".join(rf"\mathrm{{{names[k]}}}={_key_value(v)}" for k, v in value.items()) + ")"
    fraction = re.fullmatch(r"(-?)(\d+)/(\d+)", value)
    if fraction:
        return rf"{fraction.group(1)}\frac{{{fraction.group(2)}}}{{{fraction.group(3)}}}"
    return value     # already LaTeX (e.g. an identity to prove)


def keybook_entry(record: dict) -> dict:
    """One student's block of the key book, from their answers.json entry."""
    questions = []
    for q in record["questions"]:
        spec = get_family(q["family"]).spec
        answers = [(key, NoEscape(f"${_key_value(q['answers'][key])}$")) for key in spec.final_answers]
        questions.append({"slot": q["slot"], "points": q["points"], "answers": answers})
    return {"id": record["id"], "name": record["name"], "questions": questions}
