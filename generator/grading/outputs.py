"""The grading files: grades.csv, integrity.csv, shared-wrong.csv, report.html, and gradebook
files that Moodle's and Canvas's grade imports accept. Every file is sorted and free of
timestamps, so grading twice gives the same bytes."""

from __future__ import annotations

import csv
import html
import io
from fractions import Fraction
from pathlib import Path

from .. import QgenError
from ..files import atomic_write_text
from . import Key, key_value
from .integrity import Pair
from .marking import Graded
from .responses import Responses


def number(v: Fraction | None) -> str:
    """A mark or a value for a spreadsheet: an integer, or a decimal (2 places for a mark)."""
    if v is None:
        return ""
    if v.denominator == 1:
        return str(v.numerator)
    d = v.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    return format(float(v), "f").rstrip("0") if d == 1 else f"{v.numerator}/{v.denominator}"


def mark(v: Fraction | None) -> str:
    return "" if v is None else (str(v.numerator) if v.denominator == 1 else f"{float(v):.2f}")


def chance(p: float) -> str:
    return "1 in 1" if p >= 1 else f"1 in {float(f'{1 / p:.2g}'):,.0f}"


def _csv(rows: list[list]) -> str:
    buf = io.StringIO()
    buf.write("\ufeff")
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def grades_csv(key: Key, graded: list[Graded]) -> str:
    rows = [["id", "name", *(p.title for p in key.parts), "total", "max", "unanswered", "flagged"]]
    for g in graded:
        rows.append([g.record["id"], g.record["name"], *(mark(g.parts[p.title]) for p in key.parts), mark(g.total),
                     key.full_marks, g.unanswered, len(g.unreadable)])
    return _csv(rows)


def integrity_csv(found: list[Pair]) -> str:
    return _csv([["id", "source", "matches", "answers", "chance"],
                 *([p.id, p.source, p.matches, "; ".join(p.answers), chance(p.chance)] for p in found)])


def shared_wrong_csv(groups) -> str:
    return _csv([["answer", "value", "students", "ids"],
                 *([header, number(value), len(ids), " ".join(ids)] for header, value, ids in groups)])


def moodle_csv(key: Key, graded: list[Graded]) -> str:
    """Moodle's grade import: "ID number" (matched to the user field) and a grade column."""
    return _csv([["ID number", key.title], *([g.record["id"], mark(g.total)] for g in graded)])


def canvas_csv(key: Key, graded: list[Graded]) -> str:
    """Canvas's gradebook import: its identity columns, as the roster export had them, and a
    column for the assignment (Canvas matches the students by ID and SIS User ID)."""
    missing = [g.record["id"] for g in graded if "ID" not in g.record.get("roster", {})]
    if missing:
        raise QgenError(f"{key.path}: student {missing[0]} has no Canvas ID (make the papers from a Canvas "
                        "gradebook export to import grades into Canvas)")
    rows = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", key.title],
            ["    Points Possible", "", "", "", "", key.full_marks]]
    for g in graded:
        lms = g.record["roster"]
        rows.append([lms.get("Student", g.record["name"]), lms["ID"], g.record["id"], lms.get("SIS Login ID", ""),
                     lms.get("Section", ""), mark(g.total)])
    return _csv(rows)


def write(out: Path, files: dict[str, str]) -> list[Path]:
    written = []
    for name, text in files.items():
        atomic_write_text(out / name, text, durable=True)
        written.append(out / name)
    return written


def _e(text) -> str:
    return html.escape(str(text))


def report_html(key: Key, graded: list[Graded], found: list[Pair], groups, responses: Responses) -> str:
    """What a TA reads first: the strongest pairs with their numbers side by side, then all that
    was listed for a person to look at."""
    by_id = {g.record["id"]: g for g in graded}
    everyone = {r["id"]: r for r in [key.original, *key.students]}
    out = [f"<!doctype html><meta charset=utf-8><title>{_e(key.title)}: grading report</title>",
           "<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0 1.5em}"
           "td,th{border:1px solid #bbb;padding:2px 8px;text-align:left}th{background:#eee}"
           ".bad{background:#fdd}</style>", f"<h1>{_e(key.title)}: grading report</h1>",
           f"<p>{len(graded)} students, {len(responses.by_id)} graded responses, {len(found)} suspected pairs.</p>",
           "<h2>Suspected copying</h2>"]
    for p in found[:25]:
        g = by_id[p.id]
        out.append(f"<h3>{_e(p.id)} ({_e(g.record['name'])}) and {_e(p.source)}: {p.matches} matching, "
                   f"chance {_e(chance(p.chance))}</h3><table><tr><th>answer</th><th>{_e(p.id)} typed</th>"
                   f"<th>{_e(p.source)}'s key</th><th>{_e(p.id)}'s own key</th></tr>")
        for h in p.answers:
            c = g.marks[h].column
            out.append(f"<tr class=bad><td>{_e(h)}</td><td>{_e(g.marks[h].typed.raw.strip())}</td>"
                       f"<td>{_e(number(key_value(everyone[p.source], c)))}</td>"
                       f"<td>{_e(number(key_value(g.record, c)))}</td></tr>")
        out.append("</table>")
    out.append("<h2>The same wrong number, typed by several students</h2><table><tr><th>answer</th><th>value</th>"
               "<th>students</th></tr>")
    out += [f"<tr><td>{_e(h)}</td><td>{_e(number(v))}</td><td>{_e(' '.join(ids))}</td></tr>" for h, v, ids in groups]
    out.append("</table>")
    out += _listed(key, graded, responses)
    return "\n".join(out) + "\n"


def _listed(key: Key, graded: list[Graded], responses: Responses) -> list[str]:
    out = ["<h2>For a TA to look at</h2><h3>Answers that are not a number (scored 0)</h3>",
           "<table><tr><th>id</th><th>answer</th><th>typed</th></tr>"]
    out += [f"<tr><td>{_e(g.record['id'])}</td><td>{_e(m.column.header)}</td><td>{_e(m.typed.raw)}</td></tr>"
            for g in graded for m in g.unreadable]
    out.append("</table><h3>Parts without typed answers (marks for a TA)</h3><ul>")
    out += [f"<li>{_e(p.title)} ({p.marks})</li>" for p in key.parts if not p.columns]
    out.append("</ul><h3>Duplicate submissions</h3><ul>")
    out += [f"<li>{_e(sid)}: kept line {kept} ({_e(why)}), not lines {', '.join(map(str, dropped))}</li>"
            for sid, (kept, dropped, why) in sorted(responses.duplicates.items())]
    out.append("</ul><h3>Responses for ids not in this batch</h3><ul>")
    out += [f"<li>line {line}: {_e(sid) or '(empty)'}</li>" for line, sid in responses.unknown]
    out.append("</ul><h3>Students without a response (scored 0)</h3><ul>")
    out += [f"<li>{_e(g.record['id'])} {_e(g.record['name'])}</li>" for g in graded if g.response is None]
    out.append("</ul><h3>Warnings</h3><ul>")
    out += [f"<li>{_e(w)}</li>" for w in responses.warnings]
    out.append("</ul>")
    return out
