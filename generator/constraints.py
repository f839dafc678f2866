"""Sampling constraints: what a family declares (a default, its meaning, its limits) and the one
place where an exam's overrides are checked against it and merged with the defaults.

A family's `sample` always receives complete, valid constraints, so it never merges defaults
or re-validates ranges itself.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from . import QgenError

# Larger numbers are no exam's and overflow numpy's int64 draws (and float precision).
LARGEST = 2 ** 53


class ConstraintError(QgenError):
    """A constraint is malformed, or sampling could not meet it; `key` names it when known."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Constraint:
    """One sampling constraint of a family.

    Names ending in `_range` are `[low, high]`, inclusive; names ending in `_choices` are
    non-empty lists. `min` bounds every number in the value from below; `among` lists the
    values a choice (or each item of a list) may take.
    """
    default: Any
    meaning: str = ""
    min: int | float | None = None
    among: tuple | None = None


def did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _same_shape(default: Any, value: Any) -> bool:
    """An override must look like the family default: int for int, list of ints for a list."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and (isinstance(default, float) or isinstance(value, int))
    if isinstance(default, list):
        return isinstance(value, list) and all(
            any(_same_shape(d, v) for d in default) if default else True for v in value)
    return isinstance(value, type(default))


def _numbers(value: Any) -> list:
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, (int, float)) and not isinstance(v, bool)]


def check_value(family: str, key: str, spec: Constraint, value: Any) -> None:
    """Raise ConstraintError if `value` is no valid setting of constraint `key`."""
    def fail(problem: str) -> ConstraintError:
        return ConstraintError(f"family {family}: constraint '{key}' {problem}", key)

    if not _same_shape(spec.default, value):
        raise ConstraintError(f"constraint '{key}' must look like {spec.default!r}, not {value!r}", key)
    if key.endswith("_range") and (len(value) != 2 or value[0] > value[1]):
        raise ConstraintError(f"constraint '{key}' must be [low, high] with low <= high, not {value!r}", key)
    if isinstance(value, list) and not value and (key.endswith("_choices") or spec.among):
        raise fail("is empty" + (f"; name at least one of {', '.join(map(str, spec.among))}" if spec.among else ""))
    if any(abs(v) > LARGEST for v in _numbers(value)):
        raise fail(f"= {value!r} holds a number beyond {LARGEST:,} in size")
    if spec.min is not None and any(v < spec.min for v in _numbers(value)):
        raise fail(f"= {value!r} must start at {spec.min} or more" if key.endswith("_range")
                   else f"= {value!r} must be {spec.min} or more")
    if spec.among is not None:
        unknown = [v for v in (value if isinstance(value, list) else [value]) if v not in spec.among]
        if unknown:
            raise fail(f"names unknown {'value' if len(unknown) == 1 else 'values'} {', '.join(map(repr, unknown))}; "
                       f"known: {', '.join(map(str, spec.among))}")


def resolve(family: str, declared: dict[str, Constraint], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The family's defaults with `overrides` applied, every override checked."""
    merged = {key: spec.default for key, spec in declared.items()}
    for key, value in (overrides or {}).items():
        if key not in declared:
            raise ConstraintError(f"unknown constraint '{key}' for family {family}{did_you_mean(key, declared)}", key)
        check_value(family, key, declared[key], value)
        merged[key] = value
    return merged
