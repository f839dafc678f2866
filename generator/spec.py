"""Loading and validating the inputs: `exam.toml` and the roster CSV.

Every problem is reported before anything is written, as one line naming the file, the
line and the problem (`roster.csv:7: duplicate id '21CS10001' (first on line 3)`).
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import QgenError
from .family import LoadedFamily, registry
from .fonts import LUALATEX, PDFLATEX, engine_for_text

ORIGINAL_ID = "ORIGINAL"

HEADER_KEYS = {
    "institute": str, "title": str, "date": str, "duration": str, "subject_no": str,
    "subject": str, "department": str, "credits": int, "full_marks": int, "instructions": list,
}
TOP_KEYS = {"id": str, "seed": int, "header": dict, "slot": list}
SLOT_KEYS = {"name": str, "question": str, "part": str, "family": str, "points": int,
             "part_points": dict, "bonus": list, "constraints": dict, "original": dict}
SLOT_REQUIRED = ("name", "question", "family", "points", "original")

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Names Windows refuses as files, with or without an extension.
_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)
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

    @property
    def bonus_points(self) -> int:
        return sum(self.part_points[b] for b in self.bonus)
    constraints: dict[str, Any]
    original: dict[str, Any]
    where: str = ""             # "exam.toml:LINE", for messages about this slot


@dataclass(frozen=True)
class Exam:
    id: str
    seed: int
    header: dict[str, Any]
    slots: tuple[Slot, ...]
    folder: Path
    path: Path
    engine: str = PDFLATEX      # lualatex when the header itself needs it

    @property
    def families(self) -> list[LoadedFamily]:
        seen: dict[str, LoadedFamily] = {}
        for s in self.slots:
            seen.setdefault(s.family.name, s.family)
        return list(seen.values())


@dataclass(frozen=True)
class Student:
    id: str
    name: str
    line: int = 0


@dataclass
class _Toml:
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


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _type_name(t) -> str:
    return {str: "a string", int: "an integer", list: "a list", dict: "a table", float: "a number"}.get(t, t.__name__)


def _check_keys(doc: _Toml, table: dict, allowed: dict, where: str, start: int) -> None:
    for key, value in table.items():
        line = doc.line_of(key, start)
        if key not in allowed:
            raise doc.fail(line, f"unknown key '{key}' in {where}{_did_you_mean(key, allowed)}")
        want = allowed[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise doc.fail(line, f"'{key}' in {where} must be {_type_name(want)}, not {value!r}")


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


def _read_utf8(path: Path, hint: str) -> str:
    """The file's text (a byte-order mark dropped), or an error naming the first bad line."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise QgenError(f"{path}:{line}: not UTF-8 text ({hint})") from None


def load_exam(path: Path | str) -> Exam:
    """Read and validate `exam.toml` (or the `exam.toml` inside a folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / "exam.toml"
    if not path.is_file():
        raise QgenError(f"{path}: no such exam file (expected EXAM_DIR/exam.toml)")
    text = _read_utf8(path, "save exam.toml as UTF-8")
    doc = _Toml(path, text.splitlines())
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = m.group(1) if m else "1"
        reason = re.sub(r" \(at line.*", "", str(exc))
        raise QgenError(f"{path}:{line}: not valid TOML: {reason}") from None

    _check_keys(doc, data, TOP_KEYS, "the exam file", 0)
    for key in ("id", "header", "slot"):
        if key not in data:
            raise doc.fail(1, f"missing '{key}'" + (" ([[slot]] tables)" if key == "slot" else ""))
    header = data["header"]
    header_line = doc.line_of("header")
    _check_keys(doc, header, HEADER_KEYS, "[header]", header_line)
    missing = [k for k in HEADER_KEYS if k not in header]
    if missing:
        raise doc.fail(header_line, f"[header] is missing {', '.join(repr(k) for k in missing)}")
    engine = PDFLATEX
    for i, line_text in enumerate(header["instructions"]):
        if not isinstance(line_text, str):
            raise doc.fail(doc.line_of("instructions", header_line), f"instruction {i + 1} must be a string")
    for key, value in header.items():
        for text in (value if isinstance(value, list) else [value]):
            if isinstance(text, str):
                where = f"{path}:{doc.line_of(key, header_line)}: [header] {key}"
                if engine_for_text(text, where) == LUALATEX:
                    engine = LUALATEX

    families = registry()
    slots: list[Slot] = []
    slot_lines = [i + 1 for i, t in enumerate(doc.lines) if re.match(r"^\s*\[\[\s*slot\s*\]\]", t)]
    for index, raw in enumerate(data["slot"]):
        start = slot_lines[index] if index < len(slot_lines) else 1
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
        if any(s.name == name for s in slots):
            raise doc.fail(doc.line_of("name", start), f"duplicate slot name '{name}'")
        if not raw["question"].strip():
            raise doc.fail(doc.line_of("question", start), f"{where}: question must not be empty")
        clash = next((s for s in slots if (s.question, s.part) == (raw["question"], raw.get("part", ""))), None)
        if clash:
            raise doc.fail(start, f"{where}: question {raw['question']}{raw.get('part', '')} is already slot "
                                  f"'{clash.name}'; give the slots different parts")
        fam_name = raw["family"]
        if fam_name not in families:
            raise doc.fail(doc.line_of("family", start),
                           f"{where}: unknown family '{fam_name}'{_did_you_mean(fam_name, families)}; "
                           f"known: {', '.join(sorted(families))}")
        fam = families[fam_name]
        part_points = {p.label: p.points for p in fam.spec.parts}
        if "part_points" in raw:
            pp_line = doc.line_of("part_points", start)
            for label, pts in raw["part_points"].items():
                if label not in part_points:
                    raise doc.fail(pp_line, f"{where}: family {fam_name} has no part '{label}' "
                                            f"(parts: {', '.join(part_points)})")
                if not isinstance(pts, int) or isinstance(pts, bool) or pts < 0:
                    raise doc.fail(pp_line, f"{where}: points of part '{label}' must be a whole number >= 0")
                part_points[label] = pts
        bonus = tuple(raw.get("bonus", ()))
        for label in bonus:
            if label not in part_points:
                raise doc.fail(doc.line_of("bonus", start), f"{where}: bonus part '{label}' is not a part of "
                                                            f"{fam_name} (parts: {', '.join(part_points)})")
        counted = sum(v for k, v in part_points.items() if k not in bonus)
        if counted != raw["points"]:
            raise doc.fail(doc.line_of("points", start),
                           f"{where}: points = {raw['points']} but its parts add up to {counted} "
                           f"({', '.join(f'{k or fam_name}: {v}' for k, v in part_points.items() if k not in bonus)})"
                           "; set part_points (or bonus)")
        constraints = dict(fam.spec.constraints)
        c_line = doc.line_of("constraints", start)
        for key, value in raw.get("constraints", {}).items():
            if key not in constraints:
                raise doc.fail(doc.line_of(key, c_line),
                               f"{where}: unknown constraint '{key}' for family {fam_name}"
                               f"{_did_you_mean(key, constraints)}")
            if not _same_shape(constraints[key], value):
                raise doc.fail(doc.line_of(key, c_line),
                               f"{where}: constraint '{key}' must look like {constraints[key]!r}, not {value!r}")
            if key.endswith("_range") and (len(value) != 2 or value[0] > value[1]):
                raise doc.fail(doc.line_of(key, c_line),
                               f"{where}: constraint '{key}' must be [low, high] with low <= high, not {value!r}")
            constraints[key] = value
        original = raw["original"]
        unknown = set(original) - set(fam.spec.params)
        missing = set(fam.spec.params) - set(original)
        if unknown or missing:
            o_line = doc.line_of("original", start)
            problem = (f"unknown parameter '{sorted(unknown)[0]}'{_did_you_mean(sorted(unknown)[0], fam.spec.params)}"
                       if unknown else f"missing parameter '{sorted(missing)[0]}'")
            raise doc.fail(o_line, f"{where}: original values: {problem}")
        slots.append(Slot(name=name, question=raw["question"], part=raw.get("part", ""), family=fam,
                          points=raw["points"], part_points=part_points, bonus=bonus, constraints=constraints,
                          original=original, where=f"{path}:{start}"))
    if not slots:
        raise doc.fail(1, "the exam has no [[slot]]")
    total = sum(s.points for s in slots)
    if total != header["full_marks"]:
        raise doc.fail(doc.line_of("full_marks", header_line),
                       f"full_marks = {header['full_marks']} but the slots add up to {total} "
                       f"({', '.join(f'{s.name}: {s.points}' for s in slots)})")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", data["id"]):
        raise doc.fail(doc.line_of("id"), "the exam id is letters, digits, '.', '-' or '_'")
    return Exam(id=data["id"], seed=data.get("seed", 0), header=header, slots=tuple(slots),
                folder=path.parent, path=path, engine=engine)


NAME_COLUMNS = ("name", "student name", "full name", "student")
ID_COLUMNS = ("id", "roll no", "roll", "roll number", "rollno", "student id", "registration no")


def _forbidden_in_name(ch: str) -> bool:
    # Control, private-use and unassigned characters; format characters too (bidi overrides
    # could disguise a name) except the joiners that Indic scripts need.
    cat = unicodedata.category(ch)
    return cat in ("Cc", "Cs", "Co", "Cn") or (cat == "Cf" and ch not in "\u200c\u200d")


def check_student_id(sid: str) -> str | None:
    """Why `sid` cannot be a file name, or None when it is fine."""
    if not sid:
        return "empty id"
    if "\x00" in sid:
        return "id contains a NUL character"
    if not _ID_RE.fullmatch(sid):
        if len(sid) > 64:
            return f"id is {len(sid)} characters long (at most 64)"
        return (f"id {sid!r} cannot be used as a file name "
                "(use letters, digits, '.', '-' or '_', starting with a letter or digit)")
    if _RESERVED.fullmatch(sid):
        return f"id {sid!r} is a reserved device name on Windows"
    if sid.upper() == ORIGINAL_ID:
        return f"id {sid!r} is reserved for the original paper"
    return None


def load_roster(path: Path | str) -> list[Student]:
    """Read a roster CSV: a header row with an id column (and usually `name`), one student a row.

    Accepts a UTF-8 BOM, `,` `;` or tab delimiters, CRLF line ends and Excel's quoting.
    """
    path = Path(path)
    if not path.is_file():
        raise QgenError(f"{path}: no such roster file")
    text = _read_utf8(path, "save the roster as 'CSV UTF-8'")
    if not text.strip():
        raise QgenError(f"{path}:1: empty roster (expected a header line such as 'id,name')")
    first = text.splitlines()[0]
    delimiter = max([",", ";", "\t"], key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise QgenError(f"{path}:{reader.line_num}: {exc}") from None
    header_line, header = rows[0]
    # "Roll No.", "roll_no" and "ROLL  NO" all name the same column.
    columns = [re.sub(r"[\s._]+", " ", unicodedata.normalize("NFC", c)).strip().lower() for c in header]
    candidates = [c for c in ID_COLUMNS if c in columns]
    if len(candidates) > 1 or any(columns.count(c) > 1 for c in candidates):
        raise QgenError(f"{path}:{header_line}: more than one id column in the header {header!r}; keep one")
    id_col = columns.index(candidates[0]) if candidates else None
    if id_col is None:
        raise QgenError(f"{path}:{header_line}: no id column in the header {header!r} "
                        f"(name one of: {', '.join(ID_COLUMNS[:3])})")
    names = [c for c in NAME_COLUMNS if c in columns]
    if not names:
        raise QgenError(f"{path}:{header_line}: no name column in the header {header!r} "
                        f"(name one of: {', '.join(NAME_COLUMNS[:3])}; its cells may be empty)")
    if len(names) > 1 or columns.count(names[0]) > 1:
        raise QgenError(f"{path}:{header_line}: more than one name column in the header {header!r}; keep one")
    name_col = columns.index(names[0])
    students: list[Student] = []
    first_seen: dict[str, int] = {}
    for line, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(columns) and any(c.strip() for c in row[len(columns):]):
            raise QgenError(f"{path}:{line}: {len(row)} fields but the header has {len(columns)} "
                            f"(a name with a '{delimiter}' must be quoted)")
        sid = row[id_col].strip() if id_col < len(row) else ""
        problem = check_student_id(sid)
        if problem:
            raise QgenError(f"{path}:{line}: {problem}")
        if sid.casefold() in first_seen:    # A1 and a1 would be one file on Windows and macOS
            raise QgenError(f"{path}:{line}: duplicate id '{sid}' (first on line {first_seen[sid.casefold()]})")
        first_seen[sid.casefold()] = line
        name = unicodedata.normalize("NFC", row[name_col].strip()) if name_col is not None and name_col < len(row) else ""
        bad = next((ch for ch in name if _forbidden_in_name(ch)), None)
        if bad is not None:
            raise QgenError(f"{path}:{line}: name of '{sid}' contains the control character U+{ord(bad):04X}")
        students.append(Student(sid, name, line))
    if not students:
        raise QgenError(f"{path}:{header_line}: the roster has a header but no students")
    return students
