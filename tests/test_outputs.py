"""The generated files as a user gets them: PDFs with the right names and numbers, keys that match."""

from __future__ import annotations

import csv
import json
import re

from conftest import needs_tex, numbers_in, pdf_text
from generator.values import to_latex


def test_answers_json_follows_the_design(q2_build):
    out, exam, students = q2_build
    doc = json.loads((out / "answers.json").read_text())
    assert doc["exam"] == "q2-only" and doc["generator"] == "qgen 0.1.0" and doc["master_seed"] == 7
    assert [s["id"] for s in doc["students"]] == ["ORIGINAL"] + [s.id for s in students]
    original = doc["students"][0]["questions"][0]
    assert original["slot"] == "2" and original["family"] == "relu_net_backprop" and original["points"] == 10
    assert original["params"] == {"x": [5, 2], "w": [[-1, 3], [1, 2]]}
    assert original["answers"] == {"a": [-3, 19], "h": [0, 19], "f": 19, "df_dh": [1, 1], "df_da": [0, 1],
                                   "df_dw": [[0, 5], [0, 2]], "df_dx": [3, 2]}


def test_answers_csv_has_one_row_per_student_and_column_per_answer(q2_build):
    out, exam, students = q2_build
    rows = list(csv.DictReader((out / "answers.csv").open(encoding="utf-8-sig")))
    assert [r["id"] for r in rows] == ["ORIGINAL"] + [s.id for s in students]
    assert rows[0]["Q2(c) df/dw12"] == "5" and rows[0]["Q2(d) df/dx1"] == "3" and rows[0]["Q2(a) f"] == "19"
    assert list(rows[0])[:6] == ["id", "name", "Q2(a) a1", "Q2(a) a2", "Q2(a) h1", "Q2(a) h2"]
    names = {r["id"]: r["name"] for r in rows}
    assert names["21CS10027"] == "Rohan Das & Co" and names["21CS30005"] == "José Álvarez Muñoz"


@needs_tex
def test_every_student_has_a_paper_and_key_with_their_name_and_numbers(q2_build):
    out, exam, students = q2_build
    doc = json.loads((out / "answers.json").read_text())
    for s in doc["students"]:
        paper = pdf_text(out / "papers" / f"{s['id']}.pdf")
        key = pdf_text(out / "keys" / f"{s['id']}.pdf")
        assert s["name"] in paper and s["id"] in paper, s["id"]
        assert "SOLUTION KEY" in key and "SOLUTION KEY" not in paper
        assert s["name"] in key and "Page 1 of 1" in paper and "Page 1 of 2" in key
        q = s["questions"][0]
        w = q["params"]["w"]
        flat_w = [str(v).replace("-", "\u2212") for row in w for v in row]
        assert re.search(rf"w11\s*=\s*{flat_w[0]}\b", paper), s["id"]
        assert re.search(rf"w22\s*=\s*{flat_w[3]}\b", paper), s["id"]
        assert re.search(rf"f\s*=\s*{q['answers']['f']}\b", paper), "the figure shows f, as the seed's did"


@needs_tex
def test_no_paper_contains_an_answer_that_only_the_key_has(q2_build):
    out, exam, students = q2_build
    doc = json.loads((out / "answers.json").read_text())
    for s in doc["students"]:
        q = s["questions"][0]
        paper = numbers_in(pdf_text(out / "papers" / f"{s['id']}.pdf"))
        key = numbers_in(pdf_text(out / "keys" / f"{s['id']}.pdf"))
        shown = numbers_in(json.dumps(q["params"])) | {q["answers"]["f"]}
        answers = numbers_in(json.dumps({k: v for k, v in q["answers"].items() if k != "f"}))
        # Single digits 0..9 also occur as indices and marks; larger or negative values are telling.
        telling = {v for v in answers - shown if v < 0 or v > 9}
        assert telling <= key, "the key shows every answer"
        assert not (telling & paper), (s["id"], telling & paper)


@needs_tex
def test_special_and_accented_names_print_literally(q2_build):
    out, exam, students = q2_build
    assert "Rohan Das & Co" in pdf_text(out / "papers" / "21CS10027.pdf")
    assert "Sneha_Banerjee" in pdf_text(out / "papers" / "21CS10033.pdf")
    assert "Ananya Iyer (100% present)" in pdf_text(out / "keys" / "21CS10042.pdf")
    assert "José Álvarez Muñoz" in pdf_text(out / "papers" / "21CS30005.pdf")
    assert "Zoë Brontë-Dvořák" in pdf_text(out / "papers" / "21CS30011.pdf")


def test_names_are_escaped_in_the_tex(q2_build):
    out, *_ = q2_build
    tex = (out / "tex" / "papers" / "21CS10027.tex").read_text()
    assert r"Rohan Das \& Co" in tex
    assert to_latex(r"\input{/etc/passwd} 100% a_b ^^5c") == \
        r"\textbackslash{}input\{/etc/passwd\} 100\% a\_b \textasciicircum{}\textasciicircum{}5c"


def test_paper_tex_holds_no_solution(q2_build):
    out, exam, students = q2_build
    for path in (out / "tex" / "papers").glob("*.tex"):
        text = path.read_text()
        assert r"\boxed" not in text and "Solution." not in text and "SOLUTION KEY" not in text


def test_rationals_print_as_sympy_prints_them():
    # to_latex prints rationals itself (sympy's printer costs more than the rest of a key's
    # rendering); over random numerators and denominators of every size it must agree.
    import random
    from fractions import Fraction

    import sympy as sp
    rng = random.Random(2022)
    values = [sp.S.Zero, sp.S.One, sp.S.NegativeOne, sp.S.Half, sp.Rational(-1, 2), sp.Integer(10) ** 40]
    for _ in range(5000):
        p = rng.randint(-10 ** rng.randint(1, 30), 10 ** rng.randint(1, 30))
        values.append(sp.Rational(p, rng.choice([1, rng.randint(1, 10 ** rng.randint(1, 15))])))
    for v in values:
        assert to_latex(v) == sp.latex(v)
        assert to_latex(Fraction(int(v.p), int(v.q))) == sp.latex(v)


def test_answers_json_and_the_manifest_are_the_text_the_standard_encoder_gives(q2_build):
    # json_text indents by itself (the standard encoder's pure-Python indenting costs more than
    # building the document); it must give json.dumps(indent=1, ensure_ascii=False) exactly.
    import random

    from generator.files import json_text
    out, _, _ = q2_build
    for name in ("answers.json", "manifest.json"):
        text = (out / name).read_text(encoding="utf-8")
        assert json_text(json.loads(text)) == text
    rng = random.Random(7)

    def value(depth):
        pick = rng.randrange(9 if depth < 4 else 5)
        return [lambda: rng.randint(-10 ** 20, 10 ** 20), lambda: rng.uniform(-1e6, 1e6), lambda: None,
                lambda: rng.random() < 0.5, lambda: "".join(rng.choice('aé"\\\n\t\u2028x/') for _ in range(rng.randrange(5))),
                lambda: [value(depth + 1) for _ in range(rng.randrange(4))],
                lambda: tuple(value(depth + 1) for _ in range(rng.randrange(3))),
                lambda: {f"k{rng.randrange(9)}é": value(depth + 1) for _ in range(rng.randrange(4))},
                lambda: {}][pick]()
    for obj in [value(0) for _ in range(2000)] + [float("nan"), {1: [float("inf")]}, {"a": {True: None}}]:
        assert json_text(obj) == json.dumps(obj, indent=1, ensure_ascii=False) + "\n"
