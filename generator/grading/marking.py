"""Marks: every typed answer against the student's own key, each part's marks split over its
typed answers (by their declared weights, equal by default).

An answer is right when it equals the key exactly (integers, rationals; 0.75 for 3/4), when it
is within the tolerance the family declares (values that are not rational, asked to a number
of decimals), or when it is a rational correctly rounded to the two or more decimals typed.
Answers that form a set (the solutions of an equation) are matched in whichever order makes
most of them right.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction

from . import Column, Key, Part, key_value, tolerance
from .responses import Response, Responses
from .typed import Typed, read_typed


@dataclass(frozen=True)
class Mark:
    column: Column
    typed: Typed
    correct: bool


@dataclass
class Graded:
    record: dict                       # the student's answers.json entry
    response: Response | None
    marks: dict[str, Mark] = field(default_factory=dict)           # header -> mark
    parts: dict[str, Fraction | None] = field(default_factory=dict)  # part title -> score (None: for a TA)
    total: Fraction = Fraction(0)

    @property
    def unanswered(self) -> int:
        return sum(m.typed.blank for m in self.marks.values())

    @property
    def unreadable(self) -> list[Mark]:
        return [m for m in self.marks.values() if m.typed.unreadable]


def rounded(value: Fraction, decimals: int) -> Fraction:
    """Half away from zero, as people round."""
    scale = 10 ** decimals
    sign = 1 if value >= 0 else -1
    return sign * Fraction(math.floor(abs(value) * scale + Fraction(1, 2)), scale)


def is_right(typed: Typed, key: Fraction, tol: Fraction | None) -> bool:
    if typed.value is None:
        return False
    if tol is not None:
        return abs(typed.value - key) <= tol
    if typed.value == key:
        return True
    return bool(typed.decimals and typed.decimals >= 2 and rounded(key, typed.decimals) == typed.value)


def _set_order(record: dict, columns: list[Column], typed: dict[str, Typed]) -> dict[str, tuple]:
    """For answers that form a set: header -> the key's path to compare it with, in the order
    of the key's items that makes most answers right (ties: as typed)."""
    items = sorted({c.path[1] for c in columns})
    best, best_right = None, -1
    for order in itertools.permutations(items):
        place = dict(zip(items, order))
        paths = {c.header: (c.path[0], place[c.path[1]], *c.path[2:]) for c in columns}
        right = sum(is_right(typed[c.header], *_key(record, c, paths[c.header])) for c in columns)
        if right > best_right:
            best, best_right = paths, right
    return best


def _key(record: dict, column: Column, path: tuple) -> tuple[Fraction, Fraction | None]:
    moved = Column(column.slot, column.header, column.answer, path, column.part_title, column.group, column.weight)
    return key_value(record, moved), tolerance(record, moved)


def _part_score(part: Part, marks: dict[str, Mark]) -> Fraction:
    weights = {c.header: Fraction(str(c.weight)) for c in part.columns}
    right = sum(w for h, w in weights.items() if marks[h].correct)
    return part.marks * right / sum(weights.values()) if weights else Fraction(0)


def grade_one(key: Key, record: dict, response: Response | None) -> Graded:
    cells = response.cells if response else {}
    typed = {c.header: read_typed(cells.get(c.header, "")) for c in key.columns}
    paths = {c.header: c.path for c in key.columns}
    groups: dict[tuple, list[Column]] = {}
    for c in key.columns:
        if c.group:
            groups.setdefault((c.slot, c.group), []).append(c)
    for columns in groups.values():
        paths.update(_set_order(record, columns, typed))
    graded = Graded(record, response)
    for c in key.columns:
        graded.marks[c.header] = Mark(c, typed[c.header], is_right(typed[c.header], *_key(record, c, paths[c.header])))
    for part in key.parts:
        graded.parts[part.title] = _part_score(part, graded.marks) if part.columns else None
    graded.total = sum((s for s in graded.parts.values() if s is not None), Fraction(0))
    return graded


def grade(key: Key, responses: Responses) -> list[Graded]:
    """Every student of the batch, in roster order (a student without a response scores 0)."""
    return [grade_one(key, r, responses.by_id.get(r["id"])) for r in key.students]
