"""`qgen grade`: the key and the responses in, the grading files out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import load_key
from .integrity import Pair, pairs, shared_wrong
from .marking import Graded, grade
from .outputs import canvas_csv, grades_csv, integrity_csv, moodle_csv, report_html, shared_wrong_csv, write
from .responses import Responses, read_responses

GRADEBOOKS = {"moodle": ("moodle-grades.csv", moodle_csv), "canvas": ("canvas-grades.csv", canvas_csv)}


@dataclass
class Grading:
    graded: list[Graded]
    responses: Responses
    pairs: list[Pair]
    written: list[Path]


def grade_batch(out_dir: Path, responses_file: Path, id_column: str | None = None, dest: Path | None = None,
                gradebook: str | None = None) -> Grading:
    key = load_key(out_dir)
    responses = read_responses(responses_file, key, id_column)
    graded = grade(key, responses)
    found = pairs(key, graded)
    groups = shared_wrong(key, graded)
    files = {"grades.csv": grades_csv(key, graded), "integrity.csv": integrity_csv(found),
             "shared-wrong.csv": shared_wrong_csv(groups),
             "report.html": report_html(key, graded, found, groups, responses)}
    if gradebook:
        name, make = GRADEBOOKS[gradebook]
        files[name] = make(key, graded)
    return Grading(graded, responses, found, write(dest or out_dir / "grading", files))
