"""Variants and answers: draw every student's parameters, solve and check them, and give each
student's entry of answers.json. Pure: inputs in, values out; no files, no LaTeX.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import QgenError, __version__
from .family import CheckError, ConstraintError, LoadedFamily, Solution
from .roster import ORIGINAL_ID, Student, original_student
from .seeding import rng_for
from .spec import Exam, Slot
from .values import to_json

REDRAWS = 50   # bounded redraws when two students' variants coincide


@dataclass(frozen=True)
class SlotVariant:
    slot: Slot
    params: dict
    answers: dict            # the declared answers, sympy values
    work: dict               # what else the worked key prints


@dataclass(frozen=True)
class Variant:
    student: Student
    slots: tuple[SlotVariant, ...]


class Solver:
    """solve + check once per distinct (family, params): students who share a slot's numbers share work."""

    def __init__(self):
        self._cache: dict[tuple[str, str], Solution] = {}

    def __call__(self, family: LoadedFamily, params: dict, who: str) -> Solution:
        key = (family.name, json.dumps(params, sort_keys=True))
        if key not in self._cache:
            try:
                solution = family.solve(params)
                family.check(params, solution.answers)
            except CheckError as exc:
                raise QgenError(f"{who}: the independent check disagrees with sympy: {exc}") from None
            except QgenError:
                raise
            except Exception as exc:    # original values from exam.toml can be anything
                raise QgenError(f"{who}: cannot solve {family.name} with {params}: "
                                f"{type(exc).__name__}: {exc}") from None
            self._cache[key] = solution
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

    slots = []
    for slot, params, _ in draft.slots:
        solution = solver(slot.family, params, who(slot))
        slots.append(SlotVariant(slot, params, solution.answers, solution.work))
    return Variant(draft.student, tuple(slots))


def plan(exam: Exam, students: list[Student], seed: int, solver: Solver | None = None) -> list[Variant]:
    """Every student's solved and checked variant, in roster order, ORIGINAL first."""
    solver = solver or Solver()
    return [solve_draft(d, solver) for d in draw(exam, students, seed)]


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
            "params": to_json(sv.params),
            "answers": to_json(sv.answers),
        } for sv in v.slots],
    }


def answers_document(exam: Exam, seed: int, records: list[dict]) -> dict[str, Any]:
    return {"exam": exam.id, "generator": f"qgen {__version__}", "master_seed": seed, "students": records}
