"""`qgen check`: the stress test of a family, or of every slot of an exam, before a student sees it.

N seeds (integers S, S+1, ..., so that `qgen preview NAME --seed S` shows the very variant)
go through sample, solve and the independent check; every question and key is rendered and
no answer may appear in the question; a few variants are typeset. The report gives what an
instructor needs to judge a slot: how often each fairness rule rejects a draw, how many
distinct variants there are and the largest share of students on one, the range of every
answer and the time per variant. Any failure names its seed.
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from . import QgenError
from .columns import slot_columns, value_at
from .compile import Job, Member, run_job
from .documents import Documents, renderer_for
from .family import CheckError, counting_rejections
from .plan import SlotVariant, Variant
from .roster import Student
from .spec import Exam, Slot
from .values import decimal, to_json


@dataclass
class Report:
    label: str                  # "relu_net_backprop" or "slot '2' (relu_net_backprop)"
    preview: str                # the command that shows seed S: "qgen preview relu_net_backprop --seed"
    n: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    draws: Counter = field(default_factory=Counter)       # "" -> all draws; rule -> draws it rejected
    variants: Counter = field(default_factory=Counter)    # params (JSON) -> how many seeds drew them
    ranges: dict[str, list[float]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=lambda: {"sample": 0.0, "solve + check": 0.0, "render": 0.0})
    typeset: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures


def _sizes(value) -> set[Fraction]:
    """The sizes (absolute values) of the numbers in a JSON value: what a question may print."""
    found = set()
    for text in re.findall(r"\d+(?:\.\d+)?(?:/\d+)?", json.dumps(value)):
        try:
            found.add(Fraction(text))
        except (ValueError, ZeroDivisionError):
            pass
    return found


def _telling(column, value) -> list[str]:
    """How an answer would be written if it leaked into the question (small integers are no evidence)."""
    if column.kind != "number" or not column.typed:
        return []
    if isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value)):
        v = int(value)
        return [str(v)] if v < -9 or v > 9 else []
    if isinstance(value, str) and "/" in value:
        p, q = value.lstrip("-").split("/")
        return [rf"\frac{{{p}}}{{{q}}}"] if max(int(p), int(q)) > 9 else []     # 1/2 is in many a formula
    return [decimal(value, places=3)] if isinstance(value, str) else []


_PICTURE = re.compile(r"\\(?:put|makebox|framebox|multiput|line|vector|circle\*?)\s*\([^)]*\)(?:\([^)]*\))?")


def leaked(question: str, params: dict, given: dict, answers: dict, columns) -> list[str]:
    """Answers found written in the question (numbers the params or the given values explain, and
    the coordinates of picture commands, aside)."""
    question = _PICTURE.sub("", question)
    shown = _sizes(params) | _sizes(given)
    found = []
    for c in columns:
        value = value_at(answers, c.path)
        if c.kind != "number" or abs(Fraction(str(value))) in shown:
            continue
        for text in _telling(c, value):
            if re.search(rf"(?<![\d.]){re.escape(text)}(?![\d])", question):
                found.append(f"{c.header} = {text}")
    return found


def _variant(slot: Slot, seed: int, report: Report, renderer, with_columns: list | None):
    """One seed of one slot: sample, solve, check, render; a failure is recorded, not raised."""
    fam = slot.family
    clock, stage = time.perf_counter(), "sample"
    try:
        with counting_rejections() as counts:
            params = fam.sample(np.random.default_rng(seed), slot.constraints)
        report.draws.update(counts)
        report.seconds["sample"] += time.perf_counter() - clock
        clock, stage = time.perf_counter(), "solve"
        solution = fam.solve(params)
        stage = "check"
        fam.check(params, solution.answers)
        report.seconds["solve + check"] += time.perf_counter() - clock
        clock, stage = time.perf_counter(), "render"
        question = renderer.slot(fam, "question", params, solution.answers, solution.work, slot.part_points)
        renderer.slot(fam, "solution", params, solution.answers, solution.work, slot.part_points)
        report.seconds["render"] += time.perf_counter() - clock
    except (CheckError, QgenError, Exception) as exc:      # the family's own code: anything can fail
        report.failures.append((seed, f"{stage}: {type(exc).__name__ + ': ' if stage != 'check' else ''}{exc}"))
        return None
    answers = to_json(solution.answers)
    columns = slot_columns(fam.spec, slot.question, slot.part, answers)
    given = {k: answers.get(k, to_json(solution.work.get(k))) for k in fam.spec.given}
    problems = leaked(str(question), params, given, answers, columns)
    if with_columns is not None and [c.header for c in columns if c.final] != with_columns:
        problems.append("its answers have other columns than the original's (fix the count in a constraint)")
    if problems:
        report.failures.append((seed, f"question: {'; '.join(problems)}"))
    for c in columns:
        if c.kind == "number":
            v = float(value_at(solution.answers, c.path))
            lo_hi = report.ranges.setdefault(c.header, [v, v])
            lo_hi[0], lo_hi[1] = min(lo_hi[0], v), max(lo_hi[1], v)
    report.variants[json.dumps(params, sort_keys=True)] += 1
    return SlotVariant(slot, params, solution.answers, solution.work)


def tampering_missed(slot: Slot, sv: SlotVariant) -> list[str]:
    """The answers whose wrong value (off by one) the independent check lets through."""
    missed = []
    for c in slot_columns(slot.family.spec, slot.question, slot.part, to_json(sv.answers)):
        if c.kind != "number":
            continue
        wrong = copy.deepcopy(sv.answers)
        holder = value_at(wrong, c.path[:-1]) if len(c.path) > 1 else wrong
        holder[c.path[-1]] = value_at(wrong, c.path) + 1
        try:
            slot.family.check(sv.params, wrong)
        except Exception:
            continue
        missed.append(c.header)
    return missed


def _typeset(exam: Exam, slot: Slot, variants: list[tuple[int, SlotVariant]], report: Report) -> None:
    """Typeset the first variants' papers and keys in one TeX run each; failures name their seed."""
    one = Exam(exam.id, exam.seed, exam.header, (slot,), exam.folder, exam.path, exam.engine, exam.family_dirs)
    docs = Documents(one, renderer_for(one))
    students = [Variant(Student(f"seed{seed}", f"Seed {seed}"), (sv,)) for seed, sv in variants]
    with tempfile.TemporaryDirectory(prefix="qgen-check-") as work:
        for kind in ("paper", "key"):
            members = [Member(v.student.id, Path(work) / f"{kind}-{v.student.id}.pdf",
                              (lambda v=v, kind=kind: docs.render(kind, [v])),
                              (lambda v=v, kind=kind: docs.marked().render(kind, [v]))) for v in students]
            for f in run_job(Job(kind, docs.render(kind, students), members), Path(work)):
                report.failures.append((int(f.key[4:]), f"TeX ({kind}): {f.message}: {f.detail}"))
    report.typeset = len(variants)


def check_slot(exam: Exam, slot: Slot, report: Report, n: int, seed: int, typeset: int = 3,
               columns: list | None = None) -> Report:
    renderer = renderer_for(exam)
    made = []
    for s in range(seed, seed + n):
        sv = _variant(slot, s, report, renderer, columns)
        if sv is not None and len(made) < typeset:
            made.append((s, sv))
    report.n = n
    if made:
        missed = tampering_missed(slot, made[0][1])
        if missed:
            report.failures.append((made[0][0], f"check: a wrong {', '.join(missed)} is not noticed"))
        _typeset(exam, slot, made, report)
    return report


def format_report(r: Report) -> str:
    lines = [f"{r.label}: {r.n} seeds, {'ok' if r.ok else f'{len(r.failures)} FAILED'}"]
    draws = r.draws[""]
    rules = ", ".join(f"{name} {100 * k / draws:.1f}%" for name, k in r.draws.most_common() if name)
    lines.append(f"  rules: {100 * (draws - r.n) / draws:.1f}% of {draws} draws rejected" + (f" ({rules})" if rules else "")
                 if draws else "  rules: none (every draw is taken)")
    if r.variants:
        top = max(r.variants.values())
        lines.append(f"  distinct: {len(r.variants)} variants of {sum(r.variants.values())}; largest share "
                     f"{100 * top / sum(r.variants.values()):.1f}% ({top} on one variant)")
    ranges = "; ".join(f"{h} {_num(lo)} .. {_num(hi)}" for h, (lo, hi) in r.ranges.items())
    lines.append(f"  answers: {ranges or 'no numbers'}")
    per = {k: 1000 * v / max(r.n, 1) for k, v in r.seconds.items()}
    lines.append(f"  time: {sum(per.values()):.2f} ms per variant ("
                 + ", ".join(f"{k} {v:.2f}" for k, v in per.items()) + f"); typeset {r.typeset}")
    by_message: dict[str, list[int]] = {}
    for seed, message in r.failures:
        by_message.setdefault(message, []).append(seed)
    for message, seeds in list(by_message.items())[:10]:
        more = f" and {len(seeds) - 1} more seeds" if len(seeds) > 1 else ""
        lines.append(f"  FAILED seed {seeds[0]}{more}: {message}\n    see: {r.preview} {seeds[0]}")
    if len(by_message) > 10:
        lines.append(f"  ... and {len(by_message) - 10} more kinds of failure")
    return "\n".join(lines)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.4g}"
