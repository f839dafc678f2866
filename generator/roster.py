"""Rosters: who sits the exam. A CSV with an id column (which names every file) and a name column.

Every problem is reported before anything is written, as one line naming the file, the
line and the problem (`roster.csv:7: duplicate id '21CS10001' (first on line 3)`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from . import QgenError
from .sources import Table, read_table

ORIGINAL_ID = "ORIGINAL"

NAME_COLUMNS = ("name", "student name", "full name", "student")
ID_COLUMNS = ("id", "roll no", "roll", "roll number", "rollno", "student id", "registration no")

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Names Windows refuses as files, with or without an extension.
_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)


@dataclass(frozen=True)
class Student:
    id: str
    name: str
    line: int = 0


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
    if _RESERVED.fullmatch(sid):
        return f"id {sid!r} is a reserved device name on Windows"
    if sid.upper() == ORIGINAL_ID:
        return f"id {sid!r} is reserved for the original paper"
    return None


def _one_column(table: Table, names: tuple[str, ...], what: str, hint: str) -> int:
    """The index of the single column headed by one of `names`."""
    found = [c for c in names if c in table.columns]
    if not found:
        raise table.fail(table.header_line, f"no {what} column in the header {table.header!r} "
                                            f"(name one of: {', '.join(names[:3])}{hint})")
    if len(found) > 1 or table.columns.count(found[0]) > 1:
        raise table.fail(table.header_line, f"more than one {what} column in the header {table.header!r}; keep one")
    return table.columns.index(found[0])


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def _student(table: Table, line: int, row: list[str], id_col: int, name_col: int) -> Student:
    sid = _cell(row, id_col)
    problem = check_student_id(sid)
    if problem:
        raise table.fail(line, problem)
    name = unicodedata.normalize("NFC", _cell(row, name_col))
    bad = next((ch for ch in name if _forbidden_in_name(ch)), None)
    if bad is not None:
        raise table.fail(line, f"name of '{sid}' contains the control character U+{ord(bad):04X}")
    return Student(sid, name, line)


def load_roster(path: Path | str) -> list[Student]:
    """Read a roster CSV: a header row with an id column and a name column, one student a row."""
    table = read_table(Path(path), "roster", "id,name", cell="name")
    id_col = _one_column(table, ID_COLUMNS, "id", "")
    name_col = _one_column(table, NAME_COLUMNS, "name", "; its cells may be empty")
    students: list[Student] = []
    first_seen: dict[str, int] = {}
    for line, row in table.rows:
        student = _student(table, line, row, id_col, name_col)
        key = student.id.casefold()       # A1 and a1 would be one file on Windows and macOS
        if key in first_seen:
            raise table.fail(line, f"duplicate id '{student.id}' (first on line {first_seen[key]})")
        first_seen[key] = line
        students.append(student)
    if not students:
        raise table.fail(table.header_line, "the roster has a header but no students")
    return students
