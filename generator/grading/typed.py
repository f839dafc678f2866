"""What students type, read as people write numbers: `1900848`, `1,900,848`, `1 900 848`,
`−3` (a Unicode minus), `+3`, `3/4`, `0.27`, `.27`, `2.7e-1`, with spaces around. A blank is
unanswered; anything else is kept, raw, for a TA, never silently dropped or guessed at
(`0,27` could be a decimal comma or a slip, so it is not read as either)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_SPACES = re.compile(r"[\s\u00a0\u2009\u202f]+")
_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")        # 1,900,848 (thousands, never decimals)
_SPACED = re.compile(r"[+-]?\d{1,3}( \d{3})+(\.\d+)?")          # 1 900 848
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_RATIO = re.compile(r"([+-]?\d+)\s*/\s*(\d+)")


@dataclass(frozen=True)
class Typed:
    raw: str
    value: Fraction | None      # None: blank or unreadable
    blank: bool = False
    decimals: int | None = None  # how many decimals were typed (None for integers and fractions)

    @property
    def unreadable(self) -> bool:
        return self.value is None and not self.blank


def read_typed(raw: str) -> Typed:
    text = raw.strip().replace("\u2212", "-").replace("\u2013", "-")
    if not text:
        return Typed(raw, None, blank=True)
    squeezed = _SPACES.sub(" ", text)
    if _SPACED.fullmatch(squeezed):
        squeezed = squeezed.replace(" ", "")
    squeezed = squeezed.replace(" ", "") if _RATIO.fullmatch(squeezed) else squeezed
    if _GROUPED.fullmatch(squeezed):
        squeezed = squeezed.replace(",", "")
    m = _RATIO.fullmatch(squeezed)
    if m:
        return Typed(raw, Fraction(int(m.group(1)), int(m.group(2)))) if int(m.group(2)) else Typed(raw, None)
    if _NUMBER.fullmatch(squeezed):
        mantissa = squeezed.lower().split("e")[0]
        decimals = len(mantissa.split(".")[1]) if "." in mantissa and "e" not in squeezed.lower() else None
        try:
            return Typed(raw, Fraction(squeezed), decimals=decimals)
        except ValueError:      # "1." and the like
            return Typed(raw, None)
    return Typed(raw, None)
