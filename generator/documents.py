"""The documents made from variants: each student's question paper and solution key, and the
key book's blocks, as contexts for the document shells.

A family's question and solution bodies are rendered once per distinct variant and reused by
every student who has it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

from pylatex.utils import NoEscape

from .columns import part_title, slot_columns, value_at
from .plan import Variant
from .registry import family_roots
from .render import Renderer
from .spec import HEADER_KEYS, Exam
from .values import decimal, from_json, to_latex

KINDS = (("paper", "papers"), ("key", "keys"))    # document kind, its folder
_BEGIN, _END = "\\qgenbeginstudent{%d}", "\\qgenendstudent{%d}\n"     # around each student's block


def renderer_for(exam: Exam) -> Renderer:
    """The exam's own shells (`exams/<name>/templates/`) before the project's, and its families."""
    return Renderer([exam.folder / "templates"], family_roots(exam.family_dirs))


@dataclass
class Documents:
    """Renders paper and key documents for one or many students."""
    exam: Exam
    renderer: Renderer
    _bodies: dict = field(default_factory=dict)
    _empty: dict = field(default_factory=dict)

    def _body(self, sv) -> dict:
        fam = sv.slot.family
        key = (fam.name, json.dumps(sv.params, sort_keys=True), json.dumps(sv.slot.part_points))
        if key not in self._bodies:
            self._bodies[key] = {kind: self.renderer.slot(fam, kind, sv.params, sv.answers, sv.work,
                                                          sv.slot.part_points)
                                 for kind in ("question", "solution")}
        return self._bodies[key]

    def student_context(self, v: Variant, kind: str) -> dict:
        questions: dict[str, dict] = {}
        for sv in v.slots:
            body = self._body(sv)
            q = questions.setdefault(sv.slot.question, {"number": sv.slot.question, "points": 0, "bonus": 0,
                                                        "slots": []})
            q["points"] += sv.slot.points
            q["bonus"] += sv.slot.bonus_points
            slot = {"part": sv.slot.part, "points": sv.slot.points, "question": body["question"]}
            if kind == "key":   # the paper's context has no solution at all
                slot["solution"] = body["solution"]
            q["slots"].append(slot)
        return {"id": v.student.id, "name": v.student.name, "questions": list(questions.values())}

    def render(self, kind: str, variants: list[Variant], engine: str = "pdflatex") -> str:
        return self.renderer.document(kind, self.header(), [self.student_context(v, kind) for v in variants],
                                      self.exam.families, engine)

    def without_students(self, kind: str, engine: str = "pdflatex") -> str:
        """The document for no students: its preamble and header, then \\end{document}."""
        if (kind, engine) not in self._empty:
            self._empty[kind, engine] = self.render(kind, [], engine)
        return self._empty[kind, engine]

    def render_each(self, kind: str, variants: list[Variant], engine: str = "pdflatex") -> tuple[str, list[str]]:
        """The document of all `variants` (one TeX run) and each one's own document, as
        `render(kind, [v])` gives it: cut from the first, which renders every student once."""
        batch = self.render(kind, variants, engine)
        own = self._cut(kind, batch, len(variants), engine)
        # A shell whose header depends on the students, or whose blocks on their place in the
        # document, is not cut: checked here on the first and last students of every batch.
        if own is None or (len(variants) > 1 and (own[0] != self.render(kind, variants[:1], engine)
                                                  or own[-1] != self.render(kind, variants[-1:], engine))):
            own = [self.render(kind, [v], engine) for v in variants]
        return batch, own

    def _cut(self, kind: str, batch: str, count: int, engine: str) -> list[str] | None:
        """Each student's block of `batch` between the shell's header and its end, numbered as
        the only student; None unless the blocks are exactly all that the students add."""
        pos = batch.find(_BEGIN % 1)
        if pos < 0:
            return None
        prefix, blocks = batch[:pos], []
        for k in range(1, count + 1):
            begin, end = _BEGIN % k, _END % k
            stop = batch.find(end, pos) + len(end)
            if not batch.startswith(begin, pos) or stop < len(end):
                return None
            blocks.append(batch[pos + len(begin):stop - len(end)])
            pos = stop
        suffix = batch[pos:]
        try:
            if prefix + suffix != self.without_students(kind, engine):
                return None
        except Exception:       # a shell that needs a student (its errors are the student's to report)
            return None
        return [f"{prefix}{_BEGIN % 1}{block}{_END % 1}{suffix}" for block in blocks]

    def header(self) -> dict:
        return header_context(self.exam.header)

    def marked(self) -> "Documents":
        """The same documents with source markers (texmap), to trace a TeX error to its template line."""
        return Documents(self.exam, self.renderer.marked())


def _keybook_value(value, column) -> NoEscape:
    """An answer as the key book prints it: to the decimals the question asks, when it states them."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return _keybook_scalar(value, column.kind, column.decimals)
    return _keybook_text(value, column.kind, column.decimals)


# A course's answers repeat the same few thousand numbers: each is printed once.
@lru_cache(maxsize=8192)
def _keybook_scalar(value: str | int, kind: str, decimals: int | None) -> NoEscape:
    return _keybook_text(value, kind, decimals)


def _keybook_text(value, kind: str, decimals: int | None) -> NoEscape:
    if kind == "number" and decimals is not None and isinstance(value, str) and "/" not in value:
        return NoEscape(f"${decimal(value, places=decimals)}$")
    text = to_latex(from_json(value, latex=kind == "latex"))
    return NoEscape(rf"$\text{{{text}}}$" if kind == "text" else f"${text}$")


def keybook_entry(record: dict, slots: dict) -> dict:
    """One student's block of the key book: every part of each question, with its title (`Q2(c)`),
    its marks and its final answers, each with its LaTeX label (none for a part a TA reads,
    such as an explanation)."""
    parts: list[dict] = []
    for q in record["questions"]:
        slot = slots[q["slot"]]
        columns = slot_columns(slot.family.spec, slot.question, slot.part, q["answers"])
        for part in slot.family.spec.parts:
            answers = [(NoEscape(c.tex), _keybook_value(value_at(q["answers"], c.path), c))
                       for c in columns if c.final and c.part == part.label]
            parts.append({"title": part_title(slot.question, slot.part, part.label), "answers": answers,
                          "points": slot.part_points[part.label], "bonus": part.label in slot.bonus})
    return {"id": record["id"], "name": record["name"], "parts": parts}


def header_context(header: dict) -> dict:
    """The [header] for the shells: every field present (None when the exam does not give it),
    and `rows`, the fields laid out with their labels."""
    return {**dict.fromkeys(HEADER_KEYS), **header, "rows": header_rows(header)}


def header_rows(header: dict) -> list[list[list[tuple[str, object]]]]:
    """The header's fields as the shell lays them out: two cells a row, a cell one or more
    (label, value) pairs; fields the exam does not give are left out, with their labels."""
    labels = header["labels"]
    cells = [[(labels[k], header[k]) for k in group if k in header]
             for group in (("date",), ("duration",), ("subject_no",), ("subject",), ("department",),
                           ("credits", "full_marks"))]
    cells = [c for c in cells if c]
    return [cells[i:i + 2] for i in range(0, len(cells), 2)]
