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

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import sympy as sp

from . import QgenError
from .constraints import Constraint, ConstraintError, resolve
from .sampling import counting_rejections, integer_at, integers, mixed_radix, sample_until
from .values import as_float

__all__ = ["Answer", "CheckError", "Constraint", "ConstraintError", "ContractError", "Family", "LoadedFamily",
           "Part", "Solution", "as_float", "counting_rejections", "integer_at", "integers", "mixed_radix",
           "sample_until"]


class CheckError(AssertionError):
    """The independent numeric path disagrees with the sympy answer."""


class ContractError(QgenError):
    """A family does not keep the contract (a missing function, an undeclared answer)."""


@dataclass(frozen=True)
class Part:
    label: str      # "a", "b", ... ("" for a question without parts)
    points: int
    asks: str       # one line, for `qgen families`


KINDS = ("number", "latex", "text")


@dataclass(frozen=True)
class Answer:
    """One declared answer: the part it belongs to, how it is labelled, and what kind of value it is.

    `name` is a key of solve()'s answers, or `key.field` for a field of each item of a list of
    records (`solutions.x`). A value may be a number or a list (of lists) of numbers; each
    number is one column of answers.csv, labelled by `label` with `{i}` and `{j}` replaced by
    its 1-based indexes (or by a tuple of labels, one per number, in order).
    """
    name: str
    part: str                       # a part label of the family ("" for a question without parts)
    label: str | tuple[str, ...]    # plain text, for CSV headers
    tex: str | tuple[str, ...] = ""     # LaTeX, for PDFs (default: the label as text)
    kind: str = "number"            # "number" (a student can type it), "latex" (a statement, a proof), "text"
    final: bool = True              # listed in answers.csv (numbers and text) and the key book
    unordered: bool = False         # the items of the list form a set: graded in any order
    decimals: int | None = None     # the decimals the question asks for; graded within 10**-decimals
    rel_tol: float | None = None    # or: graded within this fraction of the value
    weight: float = 1               # this answer's share (per number) of its part's marks

    def tolerance(self, value) -> "sp.Rational | None":
        """The absolute tolerance a grader allows around `value` (None: exact)."""
        if self.decimals is not None:
            return sp.Rational(1, 10 ** self.decimals)
        if self.rel_tol is not None:
            return abs(sp.nsimplify(self.rel_tol) * sp.sympify(value))
        return None

    @property
    def key(self) -> str:
        """The key of answers.json this answer lives under."""
        return self.name.split(".", 1)[0]

    @property
    def field(self) -> str | None:
        return self.name.split(".", 1)[1] if "." in self.name else None


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    parts: tuple[Part, ...]
    params: dict[str, str]                  # name -> meaning, in answers.json order
    answers: tuple[Answer, ...]             # solve()'s answers, in answers.json order
    constraints: dict[str, Any] = field(default_factory=dict)   # name -> Constraint (or a bare default)
    given: tuple[str, ...] = ()             # answers (or work) the question itself states
    rules: dict[str, str] = field(default_factory=dict)          # fairness rule -> what it ensures
    topic: str = ""                         # the syllabus area the catalogue groups it under

    def __post_init__(self):
        declared = {k: v if isinstance(v, Constraint) else Constraint(v) for k, v in self.constraints.items()}
        object.__setattr__(self, "constraints", declared)
        labels = {p.label for p in self.parts}
        for a in self.answers:
            if a.part not in labels:
                raise ContractError(f"family {self.name}: answer {a.name!r} belongs to part {a.part!r}, "
                                    f"which is not one of its parts ({', '.join(map(repr, sorted(labels)))})")
            if a.kind not in KINDS:
                raise ContractError(f"family {self.name}: answer {a.name!r} has kind {a.kind!r}, not one of {KINDS}")

    @property
    def answer_keys(self) -> tuple[str, ...]:
        """The keys of answers.json, in order."""
        return tuple(dict.fromkeys(a.key for a in self.answers))

    def fields_of(self, key: str) -> tuple[str, ...]:
        """The declared fields of a list of records (`solutions` -> x, f, ...); () for plain values."""
        return tuple(a.field for a in self.answers if a.key == key and a.field)

    @property
    def defaults(self) -> dict[str, Any]:
        return {k: c.default for k, c in self.constraints.items()}

    @property
    def points(self) -> int:
        return sum(p.points for p in self.parts)


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
        got, declared = list(out["answers"]), self.spec.answer_keys
        if set(got) != set(declared):
            raise ContractError(f"{self.folder / '__init__.py'}: solve() returned answers {sorted(got)}, "
                                f"but FAMILY declares {sorted(declared)}")
        self._check_numbers(out["answers"])
        for key in declared:
            fields = set(self.spec.fields_of(key))
            records = out["answers"][key]
            if fields and not (isinstance(records, list) and all(isinstance(r, dict) and set(r) == fields
                                                                 for r in records)):
                raise ContractError(f"{self.folder / '__init__.py'}: solve()'s {key!r} must be a list of "
                                    f"records with the fields {sorted(fields)}")
        return Solution({k: out["answers"][k] for k in declared}, out.get("work", {}))

    def _check_numbers(self, answers: dict) -> None:
        """Numbers are exact: ints, sympy rationals, or sympy values that are not rational, which
        need a declared precision (decimals or rel_tol) so that they can be printed and graded."""
        for a in self.spec.answers:
            if a.kind != "number" or a.key not in answers:
                continue
            for value in _numbers_of(answers[a.key], a.field):
                if isinstance(value, float):
                    raise ContractError(f"{self.folder / '__init__.py'}: answer {a.name!r} is the float {value!r}; "
                                        "give sympy values (sp.Integer, sp.Rational, sp.exp(...)), which stay exact")
                if isinstance(value, sp.Basic) and not value.is_number:
                    raise ContractError(f"{self.folder / '__init__.py'}: answer {a.name!r} = {value} is not a number")
                exact = isinstance(value, int) or (isinstance(value, sp.Basic) and value.is_Rational)
                if not exact and a.decimals is None and a.rel_tol is None:
                    raise ContractError(f"{self.folder / '__init__.py'}: answer {a.name!r} = {value} is not rational; "
                                        "declare the precision the question asks (decimals= or rel_tol=)")

    def check(self, params: dict, answers: dict) -> None:
        self.module.check(params, answers)

    def template(self, kind: str) -> str:
        """Loader name of this family's template (`question`, `solution` or `preamble`)."""
        return f"{self.folder.name}/{kind}.tex.j2"

    @property
    def has_preamble(self) -> bool:
        return (self.folder / "preamble.tex.j2").is_file()


def _numbers_of(value, field: str | None):
    if field is not None:
        for record in value if isinstance(value, list) else []:
            yield from _numbers_of(record.get(field) if isinstance(record, dict) else None, None)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _numbers_of(v, None)
    elif value is not None:
        yield value

