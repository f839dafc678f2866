"""Reading the text files an instructor gives qgen: UTF-8 (with or without a byte-order mark) and
spreadsheet exports (`,` `;` or tab separated, CRLF, Excel quoting), every problem reported
as `file:line: problem`.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from . import QgenError


def read_utf8(path: Path, hint: str) -> str:
    """The file's text (a byte-order mark dropped), or an error naming the first bad line."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise QgenError(f"{path}:{line}: not UTF-8 text ({hint})") from None


def column_key(heading: str) -> str:
    """"Roll No.", "roll_no" and "ROLL  NO" all name the same column: "roll no"."""
    return re.sub(r"[\s._]+", " ", unicodedata.normalize("NFC", heading)).strip().lower()


@dataclass(frozen=True)
class Table:
    path: Path
    header_line: int
    header: list[str]           # as written
    columns: list[str]          # column_key of each heading
    rows: list[tuple[int, list[str]]]     # (line, cells), blank rows dropped
    delimiter: str

    def fail(self, line: int, message: str) -> QgenError:
        return QgenError(f"{self.path}:{line}: {message}")


def read_table(path: Path, what: str, example: str, cell: str = "value") -> Table:
    """A CSV file with a header row; `what` ("roster"), `example` ("id,name") and `cell` ("name")
    word the errors."""
    if not path.is_file():
        raise QgenError(f"{path}: no such {what} file")
    text = read_utf8(path, f"save the {what} as 'CSV UTF-8'")
    if not text.strip():
        raise QgenError(f"{path}:1: empty {what} (expected a header line such as '{example}')")
    first = text.splitlines()[0]
    delimiter = max([",", ";", "\t"], key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise QgenError(f"{path}:{reader.line_num}: {exc}") from None
    header_line, header = rows[0]
    body = [(line, row) for line, row in rows[1:] if any(c.strip() for c in row)]
    for line, row in body:
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            raise QgenError(f"{path}:{line}: {len(row)} fields but the header has {len(header)} "
                            f"(a {cell} with a '{delimiter}' must be quoted)")
    return Table(path, header_line, header, [column_key(c) for c in header], body, delimiter)
