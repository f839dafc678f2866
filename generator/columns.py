"""The columns of a slot's answers: one per number (or text) of a declared answer, with the
readable header answers.csv uses (`Q2(c) df/dw12`), its LaTeX label for PDFs, the part it
belongs to and whether a student types it. Every writer and reader of answers (the CSV, the
key book, the responses template, grading) names answers through these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .family import Answer, Family
from .values import to_latex


@dataclass(frozen=True)
class Column:
    header: str             # plain text: "Q2(c) df/dw12"
    answer: str             # the declared answer it comes from ("df_dw", "solutions.x")
    tex: str                # LaTeX label: "\partial f/\partial w_{12}"
    path: tuple             # where the value is in the slot's answers: ("df_dw", 0, 1), ("solutions", 0, "x")
    part: str               # the family's part label
    part_title: str         # "Q2(c)"
    kind: str               # "number", "latex" or "text"
    typed: bool             # a number a student types (not stated by the question itself)
    final: bool             # in answers.csv and the key book
    group: str | None       # answers that form a set: the list they are items of ("solutions")
    decimals: int | None = None     # the decimals the question asks for (a value that is not rational)
    weight: float = 1               # its share, per number, of its part's marks


def part_title(question: str, slot_part: str, family_part: str) -> str:
    """`Q2`, `Q1(b)`, `Q2(c)` or `Q3(b)(ii)`: the question, the exam's part, the family's part."""
    return f"Q{question}" + "".join(f"({p})" for p in (slot_part, family_part) if p)


def _leaves(value: Any, index: tuple = ()) -> list[tuple[tuple, Any]]:
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, (*index, i))]
    return [(index, value)]


def _label(template: str | tuple, position: int, index: tuple) -> str:
    if isinstance(template, tuple):
        return template[position]
    text = template
    for name, i in zip("ijk", index):
        text = text.replace("{" + name + "}", str(i + 1))
    return text


def _answer_columns(spec: Family, a: Answer, answers: dict, title: str) -> list[Column]:
    if a.field:
        found = [((i, a.field), record[a.field]) for i, record in enumerate(answers[a.key])]
    else:
        found = _leaves(answers[a.key])
    out = []
    for position, (index, _) in enumerate(found):
        numbers = tuple(i for i in index if isinstance(i, int))
        label = _label(a.label, position, numbers)
        tex = _label(a.tex, position, numbers) if a.tex else rf"\text{{{to_latex(label)}}}"
        out.append(Column(header=f"{title} {label}", answer=a.name, tex=tex, path=(a.key, *index), part=a.part, part_title=title,
                          kind=a.kind, typed=a.kind == "number" and a.key not in spec.given, final=a.final,
                          group=a.key if a.unordered else None, decimals=a.decimals, weight=a.weight))
    return out


def _shape(value: Any) -> Any:
    return tuple(_shape(v) for v in value) if isinstance(value, list) else None


# Columns depend on the answers' shape only (how long each list is): made once per shape.
_made: dict[tuple, tuple[Family, list[Column]]] = {}


def slot_columns(spec: Family, question: str, slot_part: str, answers: dict) -> list[Column]:
    """Every column of one slot, for one student's answers (their lists fix how many there are)."""
    key = (id(spec), question, slot_part, tuple(_shape(answers[a.key]) for a in spec.answers))
    made = _made.get(key)
    if made is None or made[0] is not spec:
        made = _made[key] = (spec, [c for a in spec.answers
                                    for c in _answer_columns(spec, a, answers, part_title(question, slot_part, a.part))])
    return list(made[1])


def value_at(answers: dict, path: tuple) -> Any:
    value: Any = answers
    for step in path:
        value = value[step]
    return value
