"""Grading what students typed, and catching answers copied from another student's paper.

`qgen grade OUT_DIR RESPONSES.csv` reads the batch's answers.json (the key of every student,
self-described: its slots, their parts and marks, and every typed answer's column) and the
responses exported from a form or an LMS quiz. Each answer is marked against the student's
own key; a wrong answer that is another student's right one (or the published paper's) is
evidence of copying, weighed by how common that value is among all keys.

This module reads the key; `typed` reads what students typed, `responses` the responses
file, `marking` the marks, `integrity` the evidence, `outputs` the files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from .. import QgenError
from ..columns import part_title
from ..roster import ORIGINAL_ID


@dataclass(frozen=True)
class Column:
    """One answer a student types: where it is in the key, its part, its share of the marks."""
    slot: str
    header: str
    answer: str             # the declared answer it comes from, to find its tolerance
    path: tuple
    part_title: str         # "Q2(c)"
    group: str | None       # a set of answers matched in any order
    weight: float


@dataclass(frozen=True)
class Part:
    title: str
    marks: int
    bonus: bool
    columns: tuple[Column, ...]     # its typed answers (none: a part a TA marks)


@dataclass
class Key:
    """answers.json, as a grader needs it."""
    path: Path
    exam: str
    title: str
    parts: list[Part]
    columns: list[Column]                   # every typed answer, in answers.csv order
    students: list[dict]                    # answers.json entries, roster order, without ORIGINAL
    original: dict
    by_id: dict[str, dict] = field(default_factory=dict)

    @property
    def full_marks(self) -> int:
        return sum(p.marks for p in self.parts if p.columns and not p.bonus)


def _value(record: dict, column: Column):
    q = next(q for q in record["questions"] if q["slot"] == column.slot)
    value = q["answers"]
    for step in column.path:
        value = value[step]
    return value


def key_value(record: dict, column: Column) -> Fraction:
    """The key's value of a column, exactly (a 10-digit decimal for a value that is not rational)."""
    return Fraction(str(_value(record, column)))


def tolerance(record: dict, column: Column) -> Fraction | None:
    """The absolute tolerance the family declares for this answer (None: exact)."""
    q = next(q for q in record["questions"] if q["slot"] == column.slot)
    tol = q.get("tolerance", {}).get(column.answer)
    for step in column.path[1:]:
        if isinstance(tol, list) and isinstance(step, int):
            tol = tol[step]
    return Fraction(tol) if isinstance(tol, str) else None


def load_key(out_dir: Path) -> Key:
    path = out_dir / "answers.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        slots, students = doc["slots"], doc["students"]
    except FileNotFoundError:
        raise QgenError(f"{path}: no such file (grade a folder that `qgen papers` wrote)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise QgenError(f"{path}: not an answers.json of this qgen version ({exc})") from None
    parts, columns = [], []
    for s in slots:
        typed = [Column(s["slot"], c["header"], c["answer"], tuple(c["path"]),
                        part_title(s["question"], s["part"], c["part"]), c.get("set"), c.get("weight", 1))
                 for c in s["columns"] if c["typed"] and c["kind"] == "number"]
        columns += typed
        for label, marks in s["part_points"].items():
            title = part_title(s["question"], s["part"], label)
            parts.append(Part(title, marks, label in s["bonus"], tuple(c for c in typed if c.part_title == title)))
    original = next(r for r in students if r["id"] == ORIGINAL_ID)
    rest = [r for r in students if r["id"] != ORIGINAL_ID]
    return Key(path, doc["exam"], doc.get("title", doc["exam"]), parts, columns, rest, original,
               {r["id"].casefold(): r for r in rest})
