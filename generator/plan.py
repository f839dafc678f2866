"""Variants and answers: draw every student's parameters, solve and check them, and give each
student's entry of answers.json. Pure: inputs in, values out; no files, no LaTeX.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from . import QgenError, __version__
from .columns import slot_columns
from .family import CheckError, ConstraintError, Family, LoadedFamily, Solution
from .outdir import digest, stamp_for
from .roster import ORIGINAL_ID, Student, original_student
from .seeding import rng_for
from .spec import Exam, Slot
from .values import decimal, to_json

REDRAWS = 50   # bounded redraws when two students' variants coincide
ORIGINAL_TRIES = 200    # draws of one slot before giving up on avoiding the original's values


def _exact(value: Any) -> Any:
    """Numbers as exact fractions (so that 1 and 1.0 in exam.toml are the same value)."""
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_exact(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(str(value))
    return value


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
    """One slot's parameters. The published original's own values are never handed to a
    student (unless the slot allows it): the same rng simply draws again."""
    if student.id == ORIGINAL_ID:
        return slot, slot.original, attempt
    rng = rng_for(seed, exam.id, student.id, slot.name, attempt)
    original = _exact(slot.original)
    try:
        for _ in range(ORIGINAL_TRIES):
            params = slot.family.sample(rng, slot.constraints)
            if slot.allow_original or _exact(params) != original:
                return slot, params, attempt
    except ConstraintError as exc:
        raise QgenError(f"{slot.where}: slot '{slot.name}': {exc}") from None
    raise QgenError(f"{slot.where}: slot '{slot.name}': {ORIGINAL_TRIES} draws in a row gave the original paper's "
                    "values; widen the constraints, or set allow_original = true")


def _fewest_variants(exam: Exam, drafts: dict[str, Draft]) -> str:
    """The slots with the fewest distinct variants so far: the ranges an instructor should widen."""
    distinct = {s.name: len({json.dumps(d.slots[i][1], sort_keys=True) for d in drafts.values()})
                for i, s in enumerate(exam.slots)}
    fewest = sorted(distinct.items(), key=lambda kv: kv[1])[:2]
    return ", ".join(f"'{name}' ({n} distinct)" for name, n in fewest)


def draw(exam: Exam, students: list[Student], seed: int, first: list[Draft] | None = None) -> list[Draft]:
    """Every student's parameters, in roster order, ORIGINAL (the seed paper's values) first.

    Parameters are seeded by (seed, exam, student, slot). Should two students' whole papers
    coincide (or one coincide with the published original), the one whose id sorts later
    redraws, so the result depends on who collided, never on roster order. `first` is every
    student's first draw when it is already made (`drawing.Drawing`, in other processes).
    """
    everyone = [original_student(), *students]
    drafts = {d.student.id: d for d in first} if first is not None else \
        {st.id: _first_draw(exam, seed, st) for st in everyone}
    taken: dict[str, str] = {}
    for sid in [ORIGINAL_ID] + sorted(s.id for s in students):
        d = drafts[sid]
        attempt = 0
        while d.fingerprint in taken:
            attempt += 1
            if attempt > REDRAWS:
                raise QgenError(f"student {sid}: could not find a variant distinct from {taken[d.fingerprint]}'s "
                                f"in {REDRAWS} redraws; the slots with the fewest distinct variants are "
                                f"{_fewest_variants(exam, drafts)}: widen their ranges in exam.toml")
            d = Draft(d.student, tuple(_draw_slot(exam, seed, d.student, s, attempt) for s in exam.slots))
        taken[d.fingerprint] = sid
        drafts[sid] = d
    return [drafts[st.id] for st in everyone]


def _first_draw(exam: Exam, seed: int, student: Student) -> Draft:
    return Draft(student, tuple(_draw_slot(exam, seed, student, s, 0) for s in exam.slots))


def draw_original(exam: Exam, seed: int) -> Draft:
    """The ORIGINAL's draft, as `draw` gives it (it is never redrawn: it comes first)."""
    return _first_draw(exam, seed, original_student())


def batch_stamp(exam: Exam, seed: int, students: list[Student], drafts: list[Draft]) -> dict:
    """What identifies the batch in its output folder (see outdir.stamp_for): the roster, what
    decides each slot, and each student's numbers and marks."""
    slots = {s.name: s.fingerprint() for s in exam.slots}
    papers = {d.student.id: digest([[params, slot.points, slot.part_points] for slot, params, _ in d.slots])
              for d in drafts}
    return stamp_for(exam.id, seed, [(s.id, s.name) for s in students], slots, papers)


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
        **({"roster": dict(v.student.extra)} if v.student.extra else {}),
        "questions": [{
            "slot": sv.slot.name,
            "family": sv.slot.family.name,
            "points": sv.slot.points,
            **({"bonus_points": sv.slot.bonus_points} if sv.slot.bonus else {}),
            "params": to_json(sv.params),
            "answers": to_json(sv.answers),
            **({"tolerance": tol} if (tol := tolerances(sv.slot.family.spec, sv.answers)) else {}),
        } for sv in v.slots],
    }


def _each(value, fn):
    return [_each(v, fn) for v in value] if isinstance(value, list) else fn(value)


def tolerances(spec: Family, answers: dict) -> dict[str, Any]:
    """answer name -> the absolute tolerance a grader allows, as a decimal string (a list of them,
    shaped like the answer, when it is relative to each value)."""
    out: dict[str, Any] = {}
    for a in spec.answers:
        if a.decimals is not None:
            out[a.name] = decimal(a.tolerance(0))
        elif a.rel_tol is not None:
            value = answers[a.key] if not a.field else [r[a.field] for r in answers[a.key]]
            out[a.name] = _each(value, lambda v: decimal(a.tolerance(v)))
    return out


def slot_records(exam: Exam, original: dict) -> list[dict]:
    """answers.json's description of each slot: where it sits, its marks, and its answer columns
    (their shapes taken from the original paper's answers, which every student's share)."""
    out = []
    for slot, q in zip(exam.slots, original["questions"]):
        columns = slot_columns(slot.family.spec, slot.question, slot.part, q["answers"])
        out.append({
            "slot": slot.name, "question": slot.question, "part": slot.part, "family": slot.family.name,
            "points": slot.points, "part_points": slot.part_points, "bonus": list(slot.bonus),
            "columns": [{"header": c.header, "answer": c.answer, "path": list(c.path), "part": c.part, "kind": c.kind,
                         "typed": c.typed, **({"set": c.group} if c.group else {}),
                         **({"weight": c.weight} if c.weight != 1 else {})} for c in columns if c.final],
        })
    return out


def answers_document(exam: Exam, seed: int, records: list[dict]) -> dict[str, Any]:
    """answers.json: the exam, its slots, and every student's entry (ORIGINAL first)."""
    return {"exam": exam.id, "title": exam.header["title"], "generator": f"qgen {__version__}", "master_seed": seed,
            "slots": slot_records(exam, records[0]), "students": records}
