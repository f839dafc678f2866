"""The question-family contract and the registry that discovers `generator/families/*/`.

A family is one folder: `__init__.py` defines `FAMILY`, `sample`, `solve` and `check`;
`question.tex.j2` and `solution.tex.j2` present it; an optional `preamble.tex.j2` holds
macros and saved diagram boxes, emitted once per document. Adding a family edits nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np

from . import QgenError

FAMILIES_DIR = Path(__file__).parent / "families"


class ConstraintError(QgenError):
    """Sampling could not meet a constraint within the bounded number of tries."""


class CheckError(AssertionError):
    """The independent numeric path disagrees with the sympy answer."""


@dataclass(frozen=True)
class Part:
    label: str      # "a", "b", ... ("" for a question without parts)
    points: int
    asks: str       # one line, for `qgen families`


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    parts: tuple[Part, ...]
    params: dict[str, str]                  # name -> meaning, in answers.json order
    answers: tuple[str, ...]                # keys of solve()'s result that go to answers.json
    constraints: dict[str, Any] = field(default_factory=dict)   # defaults; exam.toml overrides
    final: tuple[str, ...] | None = None    # answers for answers.csv and the key book (default: answers)
    given: tuple[str, ...] = ()             # answers the question itself states (e.g. a value in a figure)

    @property
    def points(self) -> int:
        return sum(p.points for p in self.parts)

    @property
    def final_answers(self) -> tuple[str, ...]:
        return self.final if self.final is not None else self.answers


@dataclass(frozen=True)
class LoadedFamily:
    spec: Family
    module: ModuleType
    folder: Path

    @property
    def name(self) -> str:
        return self.spec.name

    def sample(self, rng: np.random.Generator, constraints: dict) -> dict:
        return self.module.sample(rng, constraints)

    def solve(self, params: dict) -> dict:
        return self.module.solve(params)

    def check(self, params: dict, answers: dict) -> None:
        self.module.check(params, answers)

    def template(self, kind: str) -> str:
        """Loader name of this family's template (`question`, `solution` or `preamble`)."""
        return f"{self.folder.name}/{kind}.tex.j2"

    @property
    def has_preamble(self) -> bool:
        return (self.folder / "preamble.tex.j2").is_file()


@cache
def registry() -> dict[str, LoadedFamily]:
    found: dict[str, LoadedFamily] = {}
    for info in sorted(pkgutil.iter_modules([str(FAMILIES_DIR)]), key=lambda i: i.name):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"{__package__}.families.{info.name}")
        spec = getattr(module, "FAMILY", None)
        if not isinstance(spec, Family):
            raise QgenError(f"{FAMILIES_DIR / info.name}/__init__.py: defines no FAMILY = Family(...)")
        if spec.name != info.name:
            raise QgenError(f"{FAMILIES_DIR / info.name}/__init__.py: FAMILY.name {spec.name!r} differs from its folder name")
        for fn in ("sample", "solve", "check"):
            if not callable(getattr(module, fn, None)):
                raise QgenError(f"{FAMILIES_DIR / info.name}/__init__.py: missing function {fn}()")
        found[spec.name] = LoadedFamily(spec, module, FAMILIES_DIR / info.name)
    return found


def get(name: str) -> LoadedFamily:
    return registry()[name]


Rule = tuple[str, Callable[[dict], bool]]


def sample_until(rng: np.random.Generator, draw: Callable[[np.random.Generator], dict],
                 rules: list[Rule], family: str, tries: int = 20_000) -> dict:
    """Rejection sampling with a bound: draw until every named rule holds.

    When the bound is reached, the error names the rule that rejected most draws, which is
    the constraint an instructor has to relax.
    """
    rejected: Counter[str] = Counter()
    for _ in range(tries):
        params = draw(rng)
        failed = next((name for name, ok in rules if not ok(params)), None)
        if failed is None:
            return params
        rejected[failed] += 1
    name, count = rejected.most_common(1)[0]
    raise ConstraintError(
        f"family {family}: constraint '{name}' could not be met "
        f"({count} of {tries} draws rejected by it); widen the ranges in exam.toml")


def integers(rng: np.random.Generator, lo: int, hi: int, size: int | tuple | None = None, nonzero: bool = False):
    """Uniform integers in [lo, hi] (without 0 if `nonzero`) as Python ints, nested lists for a shape."""
    skip_zero = nonzero and lo <= 0 <= hi
    count = hi - lo + 1 - skip_zero
    if count <= 0:
        raise ConstraintError(f"empty integer range {lo}..{hi}{' without 0' if nonzero else ''}")
    picked = lo + rng.integers(0, count, size=size)
    if skip_zero:
        picked = picked + (picked >= 0)      # shift 0.. up by one: 0 is never drawn
    return picked.tolist() if size is not None else int(picked)
