"""The documents made from variants: each student's question paper and solution key, and the
key book's blocks, as contexts for the document shells.

A family's question and solution bodies are rendered once per distinct variant and reused by
every student who has it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pylatex.utils import NoEscape

from .plan import Variant
from .registry import get as get_family
from .render import Renderer
from .spec import Exam
from .values import from_json, to_latex

KINDS = (("paper", "papers"), ("key", "keys"))    # document kind, its folder


@dataclass
class Documents:
    """Renders paper and key documents for one or many students."""
    exam: Exam
    renderer: Renderer
    _bodies: dict = field(default_factory=dict)

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
        return self.renderer.document(kind, dict(self.exam.header), [self.student_context(v, kind) for v in variants],
                                      self.exam.families, engine)


def keybook_entry(record: dict) -> dict:
    """One student's block of the key book, from their answers.json entry."""
    questions = []
    for q in record["questions"]:
        spec = get_family(q["family"]).spec
        answers = [(key, NoEscape(f"${to_latex(from_json(q['answers'][key], latex=True))}$"))
                   for key in spec.final_answers]
        questions.append({"slot": q["slot"], "points": q["points"], "answers": answers})
    return {"id": record["id"], "name": record["name"], "questions": questions}
