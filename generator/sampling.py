"""Helpers for a family's sampler: bounded rejection sampling with named rules, and uniform
integers drawn cheaply from the rng passed in. (Families import them from generator.family.)"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

import numpy as np

from .constraints import ConstraintError

Rule = tuple[str, Callable[[dict], bool]]


# While `qgen check` runs, sample_until counts its draws and what each rule rejected here.
_COUNTS: ContextVar[Counter | None] = ContextVar("qgen_rule_counts", default=None)


@contextmanager
def counting_rejections() -> Iterator[Counter]:
    """Count, for the samplers run inside, every draw (`""`) and the draws each rule rejected."""
    counts: Counter = Counter()
    token = _COUNTS.set(counts)
    try:
        yield counts
    finally:
        _COUNTS.reset(token)


def sample_until(rng: np.random.Generator, draw: Callable[[np.random.Generator], dict],
                 rules: list[Rule], family: str, tries: int = 20_000) -> dict:
    """Rejection sampling with a bound: draw until every named rule holds.

    When the bound is reached, the error names the rule that rejected most draws, which is
    the constraint an instructor has to relax.
    """
    rejected: Counter[str] = Counter()
    reached: Counter[str] = Counter()     # draws that got as far as each rule
    counts = _COUNTS.get()
    for _ in range(tries):
        params = draw(rng)
        failed = None
        for name, ok in rules:
            reached[name] += 1
            if not ok(params):
                failed = name
                break
        if counts is not None:
            counts[""] += 1
            if failed is not None:
                counts[failed] += 1
        if failed is None:
            return params
        rejected[failed] += 1
    # The rule that cannot be met rejects (nearly) every draw that reaches it, however few reach it.
    name = max(rejected, key=lambda r: (rejected[r] / reached[r], rejected[r]))
    raise ConstraintError(
        f"family {family}: constraint '{name}' could not be met "
        f"({rejected[name]} of the {reached[name]} draws that reached it rejected by it); widen the ranges in exam.toml")


def _count(lo: int, hi: int, nonzero: bool) -> tuple[int, bool]:
    """How many integers [lo, hi] holds (without 0 if `nonzero`), and whether 0 is skipped."""
    skip_zero = nonzero and lo <= 0 <= hi
    count = hi - lo + 1 - skip_zero
    if count <= 0:
        raise ConstraintError(f"a range [{lo}, {hi}] of the constraints leaves nothing to draw"
                              f"{' (this value may not be 0)' if nonzero else ''}; widen it in exam.toml")
    return count, skip_zero


def integers(rng: np.random.Generator, lo: int, hi: int, size: int | tuple | None = None, nonzero: bool = False):
    """Uniform integers in [lo, hi] (without 0 if `nonzero`) as Python ints, nested lists for a shape."""
    count, skip_zero = _count(lo, hi, nonzero)
    picked = lo + rng.integers(0, count, size=size)
    if skip_zero:
        picked = picked + (picked >= 0)      # shift 0.. up by one: 0 is never drawn
    return picked.tolist() if size is not None else int(picked)


def integer_at(u: float, lo: int, hi: int, nonzero: bool = False) -> int:
    """The integer of [lo, hi] (without 0 if `nonzero`) that a uniform u in [0, 1) selects: for
    samplers that draw all their uniforms in one rng call."""
    count, skip_zero = _count(lo, hi, nonzero)
    v = lo + min(int(u * count), count - 1)
    return v + 1 if skip_zero and v >= 0 else v


def mixed_radix(sizes: list[int]) -> Callable[[np.random.Generator], list[int]]:
    """A function of the rng giving one uniform index per size, independently: each group of
    sizes whose product fits in 62 bits is one rng.integers draw, decoded digit by digit
    (one rng call per number would cost most of the sampling time)."""
    groups, current, product = [], [], 1
    for size in sizes:
        if current and product * size > 1 << 62:
            groups.append((product, current))
            current, product = [], 1
        current.append(size)
        product *= size
    groups.append((product, current))

    def indexes(r) -> list[int]:
        out = []
        for total, group in groups:
            code = int(r.integers(0, total))
            for size in group:
                code, digit = divmod(code, size)
                out.append(digit)
        return out

    return indexes
