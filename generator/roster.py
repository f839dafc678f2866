"""Rosters: who sits the exam. A CSV with an id column (which names every file) and a name column.

Every problem is reported before anything is written, as one line naming the file, the
line and the problem (`roster.csv:7: duplicate id '21CS10001' (first on line 3)`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import QgenError
from .sources import Table, column_key, read_table

ORIGINAL_ID = "ORIGINAL"

NAME_COLUMNS = ("name", "student name", "full name", "student")
ID_COLUMNS = ("id", "roll no", "roll", "roll number", "rollno", "student id", "registration no",
              "sis user id", "sis id", "id number", "student number", "matriculation number")
FIRST_NAME, LAST_NAMES = "first name", ("surname", "last name")
# Canvas's gradebook export: "Student" ("Last, First"), ID (Canvas's own), SIS User ID (the roll number).
CANVAS_KEEP = ("student", "id", "sis user id", "sis login id", "integration id", "section")

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Names Windows refuses as files, with or without an extension.
_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)


@dataclass(frozen=True)
class Student:
    id: str
    name: str
    line: int = 0
    extra: tuple[tuple[str, str], ...] = ()    # the roster's other columns (an LMS's ids, section, email)


def original_student() -> Student:
    """The published paper, typeset with the original values as if it were a student's."""
    return Student(ORIGINAL_ID, "Original paper", 0)


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
    if sid.endswith("."):    # Windows drops it: '21CS1.' would be 21CS1's file
        return f"id {sid!r} ends with '.', which Windows drops from file names"
    if _RESERVED.fullmatch(sid):
        return f"id {sid!r} is a reserved device name on Windows"
    if sid.upper() == ORIGINAL_ID:
        return f"id {sid!r} is reserved for the original paper"
    return None


class ColumnError(QgenError):
    """The roster's header does not say which column is the id (or the name); `option` is which."""

    def __init__(self, message: str, option: str):
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class Layout:
    """Which columns hold what: the id, the name (one or more columns, joined), what else to keep."""
    kind: str                   # "canvas", "moodle" or "plain"
    id_col: int
    name_cols: tuple[int, ...]
    keep: tuple[int, ...]


def _find(table: Table, heading: str, option: str) -> int:
    key = column_key(heading)
    if key not in table.columns:
        raise ColumnError(f"{table.path}:{table.header_line}: no column '{heading}' in the header {table.header!r}",
                          option)
    if table.columns.count(key) > 1:
        raise ColumnError(f"{table.path}:{table.header_line}: more than one column '{heading}' in the header "
                          f"{table.header!r}", option)
    return table.columns.index(key)


def _id_column(table: Table, kind: str) -> int:
    if kind in ("canvas", "moodle"):
        return table.columns.index("sis user id" if kind == "canvas" else "id number")
    found = [i for i, c in enumerate(table.columns) if c in ID_COLUMNS]
    if not found:
        raise ColumnError(f"{table.path}:{table.header_line}: no id column in the header {table.header!r} "
                          f"(name one of: {', '.join(ID_COLUMNS[:3])})", "id")
    if len(found) > 1:
        raise ColumnError(f"{table.path}:{table.header_line}: more than one id column in the header "
                          f"{table.header!r} (could be {', '.join(repr(table.header[i]) for i in found)})", "id")
    return found[0]


def find_id_column(table: Table, id_column: str | None = None) -> int:
    """The id column of any table of students (a roster, a responses file): named, or found."""
    return _find(table, id_column, "id") if id_column else _id_column(table, "plain")


def _name_columns(table: Table, kind: str) -> tuple[int, ...]:
    if kind == "canvas":
        return (table.columns.index("student"),)
    first = [i for i, c in enumerate(table.columns) if c == FIRST_NAME]
    last = [i for i, c in enumerate(table.columns) if c in LAST_NAMES]
    named = [i for i, c in enumerate(table.columns) if c in NAME_COLUMNS]
    if kind == "moodle" or (not named and len(first) == 1 and len(last) == 1):
        return (first[0], last[0])
    if not named:
        raise ColumnError(f"{table.path}:{table.header_line}: no name column in the header {table.header!r} "
                          f"(name one of: {', '.join(NAME_COLUMNS[:3])}; its cells may be empty)", "name")
    if len(named) > 1:
        raise ColumnError(f"{table.path}:{table.header_line}: more than one name column in the header "
                          f"{table.header!r}; keep one", "name")
    return (named[0],)


def layout(table: Table, id_column: str | None = None, name_columns: tuple[str, ...] = ()) -> Layout:
    """Recognise Canvas's and Moodle's exports; otherwise the usual headings, or the columns named."""
    cols = set(table.columns)
    if {"student", "sis user id"} <= cols:
        kind = "canvas"
    elif "id number" in cols and FIRST_NAME in cols and cols & set(LAST_NAMES):
        kind = "moodle"
    else:
        kind = "plain"
    id_col = _find(table, id_column, "id") if id_column else _id_column(table, kind)
    name_cols = tuple(_find(table, n, "name") for n in name_columns) or _name_columns(table, kind)
    # Canvas's own columns come back in its gradebook import, "Student" as written included.
    keep = tuple(i for i, c in enumerate(table.columns) if i != id_col and c
                 and (c in CANVAS_KEEP if kind == "canvas" else i not in name_cols))
    return Layout(kind, id_col, name_cols, keep)


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def _not_a_student(table: Table, lay: Layout, row: list[str]) -> str | None:
    """Why a row is recognisably no student (Canvas's extra rows, a repeated header), or None."""
    if [c.strip() for c in row] == [h.strip() for h in table.header]:
        return "a repeated header row"
    if lay.kind != "canvas":
        return None
    student = _cell(row, lay.name_cols[0])
    if student == "Points Possible":
        return "Canvas's 'Points Possible' row"
    if not student and any(c.strip() in ("Manual Posting", "Muted") for c in row):
        return "Canvas's 'Manual Posting' row"
    if student in ("Student, Test", "Test Student"):
        return "Canvas's Test Student"
    return None


def _name(lay: Layout, row: list[str]) -> str:
    parts = [_cell(row, i) for i in lay.name_cols]
    if lay.kind == "canvas":
        last, comma, first = parts[0].partition(",")
        parts = [first.strip(), last.strip()] if comma else parts
    return unicodedata.normalize("NFC", " ".join(p for p in parts if p))


def _student(table: Table, lay: Layout, line: int, row: list[str]) -> Student:
    sid = _cell(row, lay.id_col)
    problem = check_student_id(sid)
    if problem:
        raise table.fail(line, problem)
    name = _name(lay, row)
    bad = next((ch for ch in name if _forbidden_in_name(ch)), None)
    if bad is not None:
        raise table.fail(line, f"name of '{sid}' contains the control character U+{ord(bad):04X}")
    extra = tuple((table.header[i].strip(), _cell(row, i)) for i in lay.keep if _cell(row, i))
    return Student(sid, name, line, extra)


def load_roster(path: Path | str, id_column: str | None = None, name_columns: tuple[str, ...] = (),
                warn: Callable[[str], None] = lambda message: None) -> list[Student]:
    """Read a roster: a CSV (or an LMS export) with an id column and a name column, a student a row.

    Rows that are recognisably no student are skipped, each with a warning naming its line.
    """
    table = read_table(Path(path), "roster", "id,name", cell="name")
    lay = layout(table, id_column, tuple(name_columns))
    students: list[Student] = []
    first_seen: dict[str, int] = {}
    for line, row in table.rows:
        skip = _not_a_student(table, lay, row)
        if skip:
            warn(f"{table.path}:{line}: skipped {skip}")
            continue
        student = _student(table, lay, line, row)
        key = student.id.casefold()       # A1 and a1 would be one file on Windows and macOS
        if key in first_seen:
            raise table.fail(line, f"duplicate id '{student.id}' (first on line {first_seen[key]})")
        first_seen[key] = line
        students.append(student)
    if not students:
        raise table.fail(table.header_line, "the roster has a header but no students")
    return students
