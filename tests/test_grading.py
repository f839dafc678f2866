"""Grading typed answers against each student's own key, and catching answers copied from a
classmate's key or from the published original, on a generated batch of 60 students."""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.authoring import new_family
from generator.cli import main
from generator.grading.typed import read_typed

EXAM = '''id = "grading-test"
seed = 11
[header]
title = "Grading test"
full_marks = 21
[[slot]]
name = "1"
question = "1"
family = "depthwise_separable_conv"
points = 3
[slot.original]
height = 200
width = 200
channels = 3
kernel = 4
stride = 1
padding = 1
out_channels = 10
[[slot]]
name = "2"
question = "2"
family = "relu_net_backprop"
points = 10
[slot.original]
x = [5, 2]
w = [[-1, 3], [1, 2]]
[[slot]]
name = "3"
question = "3"
family = "skip_connection_gradient"
points = 4
bonus = ["c"]
[slot.original]
w1 = -1
w2 = 3
g = 10
[[slot]]
name = "4"
question = "4"
family = "sig_demo"
points = 4
[slot.original]
x = 2
w = -1
b = 1
'''

N = 60
IDS = [f"26CS{i:04d}" for i in range(N)]


def marks(v: float) -> str:
    """As grades.csv writes a mark: an integer, or 2 decimals."""
    return str(round(v)) if abs(v - round(v)) < 1e-9 else f"{v:.2f}"
COPIED_FROM = {IDS[14]: IDS[0], IDS[15]: IDS[1]}
COPIED = ["Q1 depthwise mults", "Q1 total mults", "Q2(a) a2"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    base = tmp_path_factory.mktemp("grading")
    exam = base / "exam"
    exam.mkdir()
    (exam / "exam.toml").write_text(EXAM)
    new_family("sig_demo", exam / "families")
    with (exam / "roster.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Quiz (99)"])
        w.writerow(["    Points Possible", "", "", "", "", "10"])
        for i, sid in enumerate(IDS):
            w.writerow([f"Last{i}, First{i}", 5000 + i, sid, f"login{i}", f"Section {'AB'[i % 2]}", ""])
    out = base / "out"
    result = CliRunner().invoke(main, ["papers", str(exam), "--out", str(out), "--tex-only"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return base, out


def _keys(out: Path) -> dict[str, dict[str, str]]:
    return {r["id"]: r for r in csv.DictReader((out / "answers.csv").open(encoding="utf-8-sig"))}


def _formatted(header: str, value: str) -> str:
    """The same value as people write it."""
    v = Fraction(value)
    if v.denominator == 1 and abs(v) >= 1000:
        n = int(v)
        return f"{n:,}" if "total" not in header else f"{n:,}".replace(",", " ")
    if v.denominator == 1 and v < 0:
        return f"\u2212{-int(v)}"
    if v.denominator == 1 and v > 0:
        return f" +{int(v)} "
    if v.denominator == 1:
        return "0"
    rounded = f"{float(v):.4f}"
    return rounded.replace("0.", ".", 1) if rounded.startswith("0.") else f"{float(v):.4e}"


def _responses(out: Path) -> tuple[Path, list[str]]:
    template = next(csv.reader((out / "responses-template.csv").open(encoding="utf-8-sig")))
    assert template[:2] == ["id", "name"]
    typed = template[2:]
    keys = _keys(out)
    rows = [["Timestamp", "Email", *template]]

    def row(sid, values, stamp="2026/12/01 10:00:00 AM GMT+5:30"):
        rows.append([stamp, f"{sid}@example.org", sid, keys[sid]["name"], *(values.get(h, "") for h in typed)])

    for i, sid in enumerate(IDS):
        mine = {h: keys[sid][h] for h in typed}
        if i == 10:
            mine = {h: _formatted(h, v) for h, v in mine.items()}
        if i == 11:                    # the solutions of Q3 typed in the other order
            for field in ("x", "f", "df/dx", "dg/dx"):
                a, b = f"Q3(a) {field} (solution 1)", f"Q3(a) {field} (solution 2)"
                a, b = (a, b) if a in mine else (a.replace("Q3(a)", "Q3(b)"), b.replace("Q3(a)", "Q3(b)"))
                mine[a], mine[b] = mine[b], mine[a]
        if i == 12:
            mine = {}
        if i == 13:
            mine.update({"Q2(a) a1": "abc", "Q2(a) a2": "0,5"})
        if sid in COPIED_FROM:
            mine.update({h: keys[COPIED_FROM[sid]][h] for h in COPIED})
        if i == 16:
            mine.update({h: keys["ORIGINAL"][h] for h in ("Q1 depthwise mults", "Q1 total mults")})
        if i == 17:                    # a first, empty attempt, then the real one
            row(sid, {}, "2026/12/01 09:00:00 AM GMT+5:30")
        if i >= 40 and i % 3 == 0:     # honest students leaving things out
            mine = {h: v for k, (h, v) in enumerate(mine.items()) if k % 4}
        row(sid, mine, "2026/12/01 10:30:00 AM GMT+5:30" if i == 17 else "2026/12/01 10:00:00 AM GMT+5:30")
    rows.append(["2026/12/01 10:05:00 AM", "x@example.org", "ZZ9999", "Nobody", *([""] * len(typed))])
    path = out.parent / "responses.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path, typed


def _grade(out, responses, *args):
    return CliRunner().invoke(main, ["grade", str(out), str(responses), *map(str, args)], catch_exceptions=False)


def test_people_write_numbers_in_many_ways():
    for text, want in [("1900848", 1900848), ("1,900,848", 1900848), ("1 900 848", 1900848), ("\u22123", -3),
                       ("+3", 3), ("3/4", Fraction(3, 4)), ("0.27", Fraction(27, 100)), (".27", Fraction(27, 100)),
                       ("2.7e-1", Fraction(27, 100)), ("  42 ", 42), ("1\u202f900\u202f848", 1900848)]:
        assert read_typed(text).value == want, text
    assert read_typed("   ").blank
    for garbage in ("abc", "0,27", "1,90,848", "1/0", "3 4", "--3"):
        assert read_typed(garbage).unreadable, garbage


def test_grades_integrity_and_what_is_listed_for_a_ta(batch):
    base, out = batch
    responses, typed = _responses(out)
    result = _grade(out, responses, "--gradebook", "canvas")
    assert result.exit_code == 0, result.output
    assert "graded 60 of 60 students" in result.output and "1 responses for unknown ids" in result.output
    grading = out / "grading"
    grades = {r["id"]: r for r in csv.DictReader((grading / "grades.csv").open(encoding="utf-8-sig"))}
    assert list(next(iter(grades.values()))) == ["id", "name", "Q1", "Q2(a)", "Q2(b)", "Q2(c)", "Q2(d)", "Q3(a)",
                                                 "Q3(b)", "Q3(c)", "Q4(a)", "Q4(b)", "total", "max", "unanswered",
                                                 "flagged"]
    assert {r["max"] for r in grades.values()} == {"21"}
    for i in (0, 1, 9, 10, 11, 17):
        assert grades[IDS[i]]["total"] == "21", (i, grades[IDS[i]])
    assert grades[IDS[0]]["Q3(c)"] == "", "a bonus explanation is left for a TA"
    assert grades[IDS[12]]["total"] == "0" and grades[IDS[12]]["unanswered"] == str(len(typed))
    q2a = len([h for h in typed if h.startswith("Q2(a)")])
    assert grades[IDS[13]]["total"] == marks(21 - 2 * 2 / q2a) and grades[IDS[13]]["flagged"] == "2"
    q1 = len([h for h in typed if h.startswith("Q1 ")])
    copier = 21 - 2 * 3 / q1 - 2 / q2a
    assert grades[IDS[14]]["total"] == marks(copier) == grades[IDS[15]]["total"]
    assert grades[IDS[16]]["total"] == marks(21 - 2 * 3 / q1)

    pairs = list(csv.DictReader((grading / "integrity.csv").open(encoding="utf-8-sig")))
    assert {(p["id"], p["source"]) for p in pairs} == {(IDS[14], IDS[0]), (IDS[15], IDS[1]), (IDS[16], "ORIGINAL")}
    by_id = {p["id"]: p for p in pairs}
    assert by_id[IDS[14]]["matches"] == "3" and set(by_id[IDS[14]]["answers"].split("; ")) == set(COPIED)
    assert by_id[IDS[16]]["chance"].startswith("1 in ")

    report = (grading / "report.html").read_text()
    assert "abc" in report and "0,5" in report, "unreadable answers are listed for a TA"
    assert "ZZ9999" in report and f"{IDS[17]}: kept line" in report
    canvas = list(csv.reader((grading / "canvas-grades.csv").open(encoding="utf-8-sig")))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Grading test"]
    assert canvas[1][0].strip() == "Points Possible"
    assert canvas[2] == ["Last0, First0", "5000", IDS[0], "login0", "Section A", "21"]


def test_grading_twice_gives_the_same_bytes_and_moodle_gets_its_columns(batch, tmp_path):
    base, out = batch
    responses, _ = _responses(out)
    for target in ("one", "two"):
        assert _grade(out, responses, "--out", tmp_path / target, "--gradebook", "moodle").exit_code == 0
    for name in ("grades.csv", "integrity.csv", "shared-wrong.csv", "report.html", "moodle-grades.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    moodle = list(csv.reader((tmp_path / "one" / "moodle-grades.csv").open(encoding="utf-8-sig")))
    assert moodle[0] == ["ID number", "Grading test"] and len(moodle) == N + 1


def test_the_same_wrong_number_typed_by_several_is_listed(batch, tmp_path):
    base, out = batch
    responses, typed = _responses(out)
    rows = list(csv.reader(responses.open(encoding="utf-8")))
    column = rows[0].index("Q1 total mults")
    for r in rows[1:4]:
        r[column] = "123456789"
    shared = tmp_path / "shared.csv"
    with shared.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    assert _grade(out, shared, "--out", tmp_path / "g").exit_code == 0
    groups = list(csv.DictReader((tmp_path / "g" / "shared-wrong.csv").open(encoding="utf-8-sig")))
    assert groups[0]["answer"] == "Q1 total mults" and groups[0]["value"] == "123456789" and groups[0]["students"] == "3"


def test_a_responses_file_with_two_id_columns_is_refused(batch, tmp_path):
    base, out = batch
    bad = tmp_path / "r.csv"
    bad.write_text("id,Roll No,Q1 total mults\n1,26CS0000,5\n")
    result = _grade(out, bad)
    assert result.exit_code == 2 and "choose one with --id-column NAME" in result.output
    assert _grade(out, bad, "--id-column", "roll no", "--out", tmp_path / "g").exit_code == 0
