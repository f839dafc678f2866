"""The exam file, `exam.toml`: its header, and one slot per generated question, validated.

Every problem is reported before anything is written, as one line naming the file, the
line and the problem (`exam.toml:21: slot '2': points = 12 but its parts add up to 10`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import QgenError
from .constraints import ConstraintError, did_you_mean
from .family import LoadedFamily
from .fonts import header_engine
from .registry import family_folders, load_family
from .sources import read_utf8

HEADER_KEYS = {
    "institute": str, "title": str, "date": str, "duration": str, "subject_no": str,
    "subject": str, "department": str, "credits": int, "full_marks": int, "instructions": list, "labels": dict,
}
HEADER_REQUIRED = ("title",)
# What the shell prints before each field; [header.labels] overrides them.
DEFAULT_LABELS = {
    "date": "Date of Examination", "duration": "Duration", "subject_no": "Subject No.", "subject": "Subject",
    "department": "Department/Center/School", "credits": "Credits", "full_marks": "Full marks",
}
TOP_KEYS = {"id": str, "seed": int, "header": dict, "slot": list}
SLOT_KEYS = {"name": str, "question": str, "part": str, "family": str, "points": int,
             "part_points": dict, "bonus": list, "constraints": dict, "original": dict, "allow_original": bool}
SLOT_REQUIRED = ("name", "question", "family", "points", "original")

_SLOT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,15}")


@dataclass(frozen=True)
class Slot:
    name: str
    question: str
    part: str
    family: LoadedFamily
    points: int
    part_points: dict[str, int]
    bonus: tuple[str, ...]      # parts whose points come on top of full marks
    constraints: dict[str, Any]     # complete: the family's defaults with the exam's overrides
    original: dict[str, Any]
    allow_original: bool = False    # may a student draw the original's values (the published paper)?
    where: str = ""             # "exam.toml:LINE", for messages about this slot

    @property
    def bonus_points(self) -> int:
        return sum(self.part_points[b] for b in self.bonus)

    def fingerprint(self) -> dict:
        """Everything of the slot that decides a student's numbers or marks (not its layout)."""
        return {"family": self.family.name, "question": self.question, "part": self.part, "points": self.points,
                "part_points": self.part_points, "bonus": list(self.bonus), "constraints": self.constraints,
                "original": self.original, "allow_original": self.allow_original}


@dataclass(frozen=True)
class Exam:
    id: str
    seed: int
    header: dict[str, Any]
    slots: tuple[Slot, ...]
    folder: Path
    path: Path
    engine: str = "pdflatex"    # lualatex when the header itself needs it
    family_dirs: tuple[Path, ...] = ()  # where families were looked for, besides the built-in bank

    @property
    def families(self) -> list[LoadedFamily]:
        seen: dict[str, LoadedFamily] = {}
        for s in self.slots:
            seen.setdefault(s.family.name, s.family)
        return list(seen.values())


@dataclass
class _Toml:
    """The exam file's lines, to point errors at the line a key is on."""
    path: Path
    lines: list[str] = field(default_factory=list)

    def line_of(self, key: str, start: int = 0) -> int:
        """1-based line where `key = ` (or `[key]`) first appears at or after line `start`."""
        pat = re.compile(rf"^\s*(\[+\s*([\w-]+\.)*)?[\"']?{re.escape(key)}[\"']?\s*(=|\]|\.)")
        for i in range(max(start - 1, 0), len(self.lines)):
            if pat.match(self.lines[i]):
                return i + 1
        return start or 1

    def fail(self, line: int, message: str) -> QgenError:
        return QgenError(f"{self.path}:{line}: {message}")


def _type_name(t) -> str:
    return {str: "a string", int: "an integer", list: "a list", dict: "a table", float: "a number"}.get(t, t.__name__)


def _check_keys(doc: _Toml, table: dict, allowed: dict, where: str, start: int) -> None:
    for key, value in table.items():
        line = doc.line_of(key, start)
        if key not in allowed:
            raise doc.fail(line, f"unknown key '{key}' in {where}{did_you_mean(key, allowed)}")
        want = allowed[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise doc.fail(line, f"'{key}' in {where} must be {_type_name(want)}, not {value!r}")


def _read(path: Path) -> tuple[_Toml, dict]:
    if path.is_dir():
        path = path / "exam.toml"
    if not path.is_file():
        raise QgenError(f"{path}: no such exam file (expected EXAM_DIR/exam.toml)")
    text = read_utf8(path, "save exam.toml as UTF-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        reason = re.sub(r" \(at line.*", "", str(exc))
        raise QgenError(f"{path}:{m.group(1) if m else '1'}: not valid TOML: {reason}") from None
    return _Toml(path, text.splitlines()), data


def _header(doc: _Toml, data: dict) -> tuple[dict, str]:
    """The validated [header] (labels completed with the defaults) and the TeX engine its text needs."""
    header = dict(data["header"])
    start = doc.line_of("header")
    _check_keys(doc, header, HEADER_KEYS, "[header]", start)
    missing = [k for k in HEADER_REQUIRED if k not in header]
    if missing:
        raise doc.fail(start, f"[header] is missing {', '.join(repr(k) for k in missing)}")
    for i, text in enumerate(header.get("instructions", [])):
        if not isinstance(text, str):
            raise doc.fail(doc.line_of("instructions", start), f"instruction {i + 1} must be a string")
    labels = header.get("labels", {})
    for key, label in labels.items():
        line = doc.line_of(key, doc.line_of("labels", start))
        if key not in DEFAULT_LABELS:
            raise doc.fail(line, f"[header.labels] has no field '{key}'{did_you_mean(key, DEFAULT_LABELS)} "
                                 f"(fields: {', '.join(DEFAULT_LABELS)})")
        if not isinstance(label, str):
            raise doc.fail(line, f"[header.labels] {key} must be a string, not {label!r}")
    header["labels"] = {**DEFAULT_LABELS, **labels}
    engine = header_engine({k: v for k, v in header.items() if k != "labels"} | {"labels": list(labels.values())},
                           lambda key: f"{doc.path}:{doc.line_of(key, start)}: [header] {key}")
    return header, engine


def _parts_named(part_points: dict) -> str:
    return f"parts: {', '.join(part_points)}" if any(part_points) else "it has no parts"


def _part_points(doc: _Toml, raw: dict, fam: LoadedFamily, where: str, start: int) -> dict[str, int]:
    part_points = {p.label: p.points for p in fam.spec.parts}
    if list(part_points) == [""]:     # a question without parts: its marks are the slot's points
        part_points[""] = raw["points"]
    line = doc.line_of("part_points", start)
    for label, pts in raw.get("part_points", {}).items():
        if label not in part_points:
            raise doc.fail(line, f"{where}: family {fam.name} has no part '{label}' ({_parts_named(part_points)})")
        if not isinstance(pts, int) or isinstance(pts, bool) or pts < 0:
            raise doc.fail(line, f"{where}: points of part '{label}' must be a whole number >= 0")
        part_points[label] = pts
    return part_points


def _points(doc: _Toml, raw: dict, fam: LoadedFamily, where: str, start: int) -> tuple[dict[str, int], tuple]:
    """Points per part and the bonus parts, checked against the slot's `points`."""
    part_points = _part_points(doc, raw, fam, where, start)
    bonus = tuple(raw.get("bonus", ()))
    for label in bonus:
        if label not in part_points:
            raise doc.fail(doc.line_of("bonus", start), f"{where}: bonus part '{label}' is not a part of "
                                                        f"{fam.name} ({_parts_named(part_points)})")
    counted = {k: v for k, v in part_points.items() if k not in bonus}
    if sum(counted.values()) != raw["points"]:
        raise doc.fail(doc.line_of("points", start),
                       f"{where}: points = {raw['points']} but its parts add up to {sum(counted.values())} "
                       f"({', '.join(f'{k or fam.name}: {v}' for k, v in counted.items())}); set part_points (or bonus)")
    return part_points, bonus


def _constraints(doc: _Toml, raw: dict, fam: LoadedFamily, where: str, start: int) -> dict:
    try:
        return fam.constraints(raw.get("constraints", {}))
    except ConstraintError as exc:
        line = doc.line_of(exc.key, doc.line_of("constraints", start)) if exc.key else start
        raise doc.fail(line, f"{where}: {exc}") from None


def _original(doc: _Toml, raw: dict, fam: LoadedFamily, where: str, start: int) -> dict:
    original = raw["original"]
    unknown = sorted(set(original) - set(fam.spec.params))
    missing = sorted(set(fam.spec.params) - set(original))
    if unknown or missing:
        problem = (f"unknown parameter '{unknown[0]}'{did_you_mean(unknown[0], fam.spec.params)}"
                   if unknown else f"missing parameter '{missing[0]}'")
        raise doc.fail(doc.line_of("original", start), f"{where}: original values: {problem}")
    return original


def _slot(doc: _Toml, raw: Any, index: int, start: int, earlier: list[Slot], families: dict) -> Slot:
    where = f"slot {index + 1}"
    if not isinstance(raw, dict):
        raise doc.fail(start, f"{where} must be a table ([[slot]])")
    _check_keys(doc, raw, SLOT_KEYS, where, start)
    for key in SLOT_REQUIRED:
        if key not in raw:
            raise doc.fail(start, f"{where} is missing '{key}'")
    name = raw["name"]
    where = f"slot '{name}'"
    if not _SLOT_RE.fullmatch(name):
        raise doc.fail(doc.line_of("name", start), f"{where}: a slot name is 1-16 letters, digits, '-' or '_'")
    if any(s.name == name for s in earlier):
        raise doc.fail(doc.line_of("name", start), f"duplicate slot name '{name}'")
    if not raw["question"].strip():
        raise doc.fail(doc.line_of("question", start), f"{where}: question must not be empty")
    clash = next((s for s in earlier if (s.question, s.part) == (raw["question"], raw.get("part", ""))), None)
    if clash:
        raise doc.fail(start, f"{where}: question {raw['question']}{raw.get('part', '')} is already slot "
                              f"'{clash.name}'; give the slots different parts")
    if raw["family"] not in families:
        raise doc.fail(doc.line_of("family", start),
                       f"{where}: unknown family '{raw['family']}'{did_you_mean(raw['family'], families)}; "
                       f"known: {', '.join(sorted(families))}")
    fam = load_family(families[raw["family"]])
    part_points, bonus = _points(doc, raw, fam, where, start)
    return Slot(name=name, question=raw["question"], part=raw.get("part", ""), family=fam, points=raw["points"],
                part_points=part_points, bonus=bonus, constraints=_constraints(doc, raw, fam, where, start),
                original=_original(doc, raw, fam, where, start), allow_original=raw.get("allow_original", False),
                where=f"{doc.path}:{start}")


def load_exam(path: Path | str, family_dirs=()) -> Exam:
    """Read and validate `exam.toml` (or the `exam.toml` inside a folder).

    Families come from the built-in bank, the exam's own `families/` folder and `family_dirs`.
    """
    doc, data = _read(Path(path))
    own = doc.path.parent / "families"
    dirs = tuple(dict.fromkeys([*([own.resolve()] if own.is_dir() else []), *(Path(d).resolve() for d in family_dirs)]))
    families = family_folders(dirs)
    _check_keys(doc, data, TOP_KEYS, "the exam file", 0)
    for key in ("id", "header", "slot"):
        if key not in data:
            raise doc.fail(1, f"missing '{key}'" + (" ([[slot]] tables)" if key == "slot" else ""))
    header, engine = _header(doc, data)
    starts = [i + 1 for i, t in enumerate(doc.lines) if re.match(r"^\s*\[\[\s*slot\s*\]\]", t)]
    slots: list[Slot] = []
    for index, raw in enumerate(data["slot"]):
        slots.append(_slot(doc, raw, index, starts[index] if index < len(starts) else 1, slots, families))
    if not slots:
        raise doc.fail(1, "the exam has no [[slot]]")
    total = sum(s.points for s in slots)
    if "full_marks" in header and total != header["full_marks"]:
        raise doc.fail(doc.line_of("full_marks", doc.line_of("header")),
                       f"full_marks = {header['full_marks']} but the slots add up to {total} "
                       f"({', '.join(f'{s.name}: {s.points}' for s in slots)})")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", data["id"]):
        raise doc.fail(doc.line_of("id"), "the exam id is letters, digits, '.', '-' or '_'")
    return Exam(id=data["id"], seed=data.get("seed", 0), header=header, slots=tuple(slots),
                folder=doc.path.parent, path=doc.path, engine=engine, family_dirs=dirs)
