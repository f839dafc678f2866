"""The question-family contract, stated once.

A family is one folder. Its `__init__.py` defines

    FAMILY = Family(...)                      # name, parts and marks, params, answers, constraints, rules
    def sample(rng, constraints) -> params    # rng: numpy Generator, passed in; constraints: complete
    def solve(params) -> {"answers": {...}, "work": {...}}
    def check(params, answers) -> None        # recompute another way; raise CheckError on a difference

- `sample` receives the family's constraints with the exam's overrides applied, merged and
  checked once by the loader (`LoadedFamily.constraints`). It draws with rejection sampling
  (`sample_until`), each fairness rule named in `FAMILY.rules`.
- `solve` returns exactly the declared answers (they go to answers.json) and, apart from them,
  `work`: whatever else the worked key prints. Nothing undeclared reaches answers.json.
- `check` sees the declared answers only and must not reuse `solve`'s code path.

`question.tex.j2` and `solution.tex.j2` present it; an optional `preamble.tex.j2` holds macros
and saved diagram boxes, emitted once per document. Adding a family edits nothing else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np

from . import QgenError
from .constraints import Constraint, ConstraintError, resolve

__all__ = ["CheckError", "Constraint", "ConstraintError", "ContractError", "Family", "LoadedFamily", "Part",
           "Solution", "integers", "sample_until"]


class CheckError(AssertionError):
    """The independent numeric path disagrees with the sympy answer."""


class ContractError(QgenError):
    """A family does not keep the contract (a missing function, an undeclared answer)."""


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
    answers: tuple[str, ...]                # the keys of solve()'s answers, in answers.json order
    constraints: dict[str, Any] = field(default_factory=dict)   # name -> Constraint (or a bare default)
    final: tuple[str, ...] | None = None    # answers for answers.csv and the key book (default: answers)
    given: tuple[str, ...] = ()             # answers (or work) the question itself states
    rules: dict[str, str] = field(default_factory=dict)          # fairness rule -> what it ensures

    def __post_init__(self):
        declared = {k: v if isinstance(v, Constraint) else Constraint(v) for k, v in self.constraints.items()}
        object.__setattr__(self, "constraints", declared)

    @property
    def defaults(self) -> dict[str, Any]:
        return {k: c.default for k, c in self.constraints.items()}

    @property
    def points(self) -> int:
        return sum(p.points for p in self.parts)

    @property
    def final_answers(self) -> tuple[str, ...]:
        return self.final if self.final is not None else self.answers


@dataclass(frozen=True)
class Solution:
    answers: dict[str, Any]     # the declared answers, sympy values
    work: dict[str, Any]        # what else the worked key prints


@dataclass(frozen=True)
class LoadedFamily:
    spec: Family
    module: ModuleType
    folder: Path

    @property
    def name(self) -> str:
        return self.spec.name

    def constraints(self, overrides: dict | None = None) -> dict:
        """Complete constraints: the defaults with `overrides` applied, each override checked."""
        return resolve(self.name, self.spec.constraints, overrides)

    def sample(self, rng: np.random.Generator, constraints: dict) -> dict:
        return self.module.sample(rng, constraints)

    def solve(self, params: dict) -> Solution:
        out = self.module.solve(params)
        if not isinstance(out, dict) or not isinstance(out.get("answers"), dict) or set(out) - {"answers", "work"}:
            raise ContractError(f"{self.folder / '__init__.py'}: solve() must return "
                                "{'answers': {...}, 'work': {...}}")
        got, declared = list(out["answers"]), self.spec.answers
        if set(got) != set(declared):
            raise ContractError(f"{self.folder / '__init__.py'}: solve() returned answers {sorted(got)}, "
                                f"but FAMILY declares {sorted(declared)}")
        return Solution({k: out["answers"][k] for k in declared}, out.get("work", {}))

    def check(self, params: dict, answers: dict) -> None:
        self.module.check(params, answers)

    def template(self, kind: str) -> str:
        """Loader name of this family's template (`question`, `solution` or `preamble`)."""
        return f"{self.folder.name}/{kind}.tex.j2"

    @property
    def has_preamble(self) -> bool:
        return (self.folder / "preamble.tex.j2").is_file()


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
