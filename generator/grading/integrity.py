"""Evidence of copying: wrong answers that are right for someone else.

A wrong answer that equals the correct answer of another student's variant (for the same
answer) is a match with that student; one that equals the original paper's is a match with
the published paper. How likely a pair's matches are by coincidence is estimated from how
common each matched value is among all the keys: a value half the class has is weak
evidence, one value in a thousand keys is strong. A pair is listed when it has two matches
or more, or one whose chance is below 1 in 1,000; a source whose matches another listed
source already explains is left out. An honest student (every answer their own or blank) has
no wrong answer to match and is never listed. Wrong numbers that no key has but several
students typed are listed too.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from fractions import Fraction

from ..roster import ORIGINAL_ID
from . import Key, key_value, tolerance
from .marking import Graded

LISTED_CHANCE = Fraction(1, 1000)


@dataclass(frozen=True)
class Pair:
    id: str
    source: str                     # a student id, or ORIGINAL
    answers: tuple[str, ...]        # the matched answers' headers
    chance: float

    @property
    def matches(self) -> int:
        return len(self.answers)


class _Index:
    """For one answer: which keys hold which value (within each key's tolerance)."""

    def __init__(self, holders: list[tuple[str, Fraction, Fraction | None]]):
        self.holders = holders
        self.exact: dict[Fraction, list[str]] = {}
        for sid, value, tol in holders:
            if tol is None:
                self.exact.setdefault(value, []).append(sid)
        self.loose = sorted((v - t, v + t, sid) for sid, v, t in holders if t is not None)
        self.starts = [lo for lo, _, _ in self.loose]
        self.width = max((hi - lo for lo, hi, _ in self.loose), default=0)

    def holding(self, value: Fraction) -> list[str]:
        found = list(self.exact.get(value, []))
        window = self.loose[bisect.bisect_left(self.starts, value - self.width):bisect.bisect_right(self.starts, value)]
        return found + [sid for lo, hi, sid in window if lo <= value <= hi]


def _indexes(key: Key) -> dict[str, _Index]:
    everyone = [key.original, *key.students]
    return {c.header: _Index([(r["id"], key_value(r, c), tolerance(r, c)) for r in everyone]) for c in key.columns}


def _chance(counts: list[int], keys: int) -> float:
    return math.prod(c / keys for c in counts)


def pairs(key: Key, graded: list[Graded]) -> list[Pair]:
    """Every suspected pair, strongest evidence first."""
    indexes = _indexes(key)
    keys = len(key.students) + 1
    found: list[Pair] = []
    for g in graded:
        matched: dict[str, list[str]] = {}
        counts: dict[str, int] = {}
        for header, mark in g.marks.items():
            if mark.correct or mark.typed.value is None:
                continue
            holders = [s for s in indexes[header].holding(mark.typed.value) if s != g.record["id"]]
            counts[header] = len(indexes[header].holding(mark.typed.value))
            for source in holders:
                matched.setdefault(source, []).append(header)
        candidates = sorted(((_chance([counts[h] for h in hs], keys), -len(hs), src, hs) for src, hs in matched.items()))
        explained: set[str] = set()
        for chance, _, source, headers in candidates:
            if (len(headers) >= 2 or chance < LISTED_CHANCE) and not set(headers) <= explained:
                found.append(Pair(g.record["id"], source, tuple(headers), chance))
                explained |= set(headers)
    return sorted(found, key=lambda p: (p.chance, -p.matches, p.id, p.source))


def shared_wrong(key: Key, graded: list[Graded]) -> list[tuple[str, Fraction, list[str]]]:
    """(answer, value, students): the same wrong number typed by several students, held by no key."""
    indexes = _indexes(key)
    groups: dict[tuple[str, Fraction], list[str]] = {}
    for g in graded:
        for header, mark in g.marks.items():
            if not mark.correct and mark.typed.value is not None and not indexes[header].holding(mark.typed.value):
                groups.setdefault((header, mark.typed.value), []).append(g.record["id"])
    order = {c.header: i for i, c in enumerate(key.columns)}
    rows = [(h, v, ids) for (h, v), ids in groups.items() if len(ids) >= 2]
    return sorted(rows, key=lambda r: (-len(r[2]), order[r[0]], r[1]))


def is_original(source: str) -> bool:
    return source == ORIGINAL_ID
