"""The responses file: a form's or an LMS quiz's export, read as rosters are (delimiters, BOM,
CRLF, the id column found by its heading or named). Answer columns are matched by their
headers (those of responses-template.csv); other columns (a timestamp, an email) are
ignored, and a heading that matches nothing is named in a warning."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..roster import ColumnError, NAME_COLUMNS, find_id_column
from ..sources import column_key, read_table
from . import Key

_TIME_COLUMNS = ("timestamp", "time", "submitted", "submitted at", "completed", "completion time", "date")
IGNORED = ("email", "email address", "username", "user", "start time", "state", "time taken", "duration",
           "section", "grade", *_TIME_COLUMNS)


@dataclass
class Response:
    line: int
    cells: dict[str, str]       # column header (the key's) -> what was typed
    timestamp: datetime | None = None


@dataclass
class Responses:
    by_id: dict[str, Response] = field(default_factory=dict)           # the batch's id -> the response kept
    duplicates: dict[str, tuple[int, list[int], str]] = field(default_factory=dict)   # id -> kept, dropped, why
    unknown: list[tuple[int, str]] = field(default_factory=list)       # (line, id) not in the batch
    warnings: list[str] = field(default_factory=list)


def _parse_time(text: str) -> datetime | None:
    text = re.sub(r"\s+(GMT|UTC)[+-]?[\d:]*$", "", text.strip())
    for fmt in ("%Y/%m/%d %I:%M:%S %p", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _keep(found: list[Response]) -> tuple[Response, str]:
    """The submission to grade among several: the latest by timestamp, else the last row."""
    if all(r.timestamp for r in found):
        return max(found, key=lambda r: (r.timestamp, r.line)), "the latest by its timestamp"
    return found[-1], "the last row (no readable timestamp on every row)"


def read_responses(path: Path, key: Key, id_column: str | None = None) -> Responses:
    table = read_table(path, "responses file", "id,name,Q1(a) ...", cell="answer")
    id_col = find_id_column(table, id_column)
    answers = {column_key(c.header): c.header for c in key.columns}
    by_col: dict[int, str] = {}
    out = Responses()
    time_col = next((i for i, c in enumerate(table.columns) if c in _TIME_COLUMNS), None)
    for i, heading in enumerate(table.columns):
        if i == id_col:
            continue
        if heading in answers:
            by_col[i] = answers[heading]
        elif heading and heading not in IGNORED and heading not in NAME_COLUMNS:
            out.warnings.append(f"{path}:{table.header_line}: column '{table.header[i].strip()}' matches no answer "
                                "of this batch; it is ignored")
    if not by_col:
        raise ColumnError(f"{path}:{table.header_line}: no column matches an answer of this batch (headers as in "
                          "responses-template.csv)", "answer")
    found: dict[str, list[Response]] = {}
    for line, row in table.rows:
        sid = row[id_col].strip() if id_col < len(row) else ""
        record = key.by_id.get(sid.casefold())
        if record is None:
            out.unknown.append((line, sid))
            continue
        cells = {header: (row[i] if i < len(row) else "") for i, header in by_col.items()}
        stamp = _parse_time(row[time_col]) if time_col is not None and time_col < len(row) else None
        found.setdefault(record["id"], []).append(Response(line, cells, stamp))
    for sid, rows in found.items():
        kept, why = _keep(rows)
        out.by_id[sid] = kept
        if len(rows) > 1:
            out.duplicates[sid] = (kept.line, [r.line for r in rows if r is not kept], why)
    return out
