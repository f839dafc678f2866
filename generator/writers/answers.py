"""answers.json (the machine-readable key) and answers.csv (one row per student, for a spreadsheet)."""

from __future__ import annotations

import csv
import io
from typing import Any

from ..columns import slot_columns, value_at
from ..files import atomic_write_text, json_text
from ..values import decimal
from ..plan import answers_document, slot_records
from . import Batch, Writer


class AnswersJson(Writer):
    files = ("answers.json",)

    def prepare(self, batch: Batch) -> str:
        return json_text(answers_document(batch.exam, batch.seed, batch.records))

    def write(self, batch: Batch, prepared: str | None = None) -> None:
        text = prepared if prepared is not None else self.prepare(batch)
        atomic_write_text(batch.folder.path / "answers.json", text, durable=True)


def csv_row(record: dict, slots: dict) -> dict[str, Any]:
    """One student's row: id, name, then one column per final number or text, headed as
    `Q2(c) df/dw12` (answers.json's columns), never raw LaTeX."""
    name = record["name"]
    if name[:1] in ("=", "+", "-", "@"):     # a spreadsheet would run it as a formula
        name = "'" + name
    row: dict[str, Any] = {"id": record["id"], "name": name}
    for q in record["questions"]:
        slot = slots[q["slot"]]
        for column in slot_columns(slot.family.spec, slot.question, slot.part, q["answers"]):
            if column.final and column.kind != "latex":
                value = value_at(q["answers"], column.path)
                # A fraction the question asks as a decimal reads better as one (answers.json keeps it exact).
                row[column.header] = decimal(value) if column.decimals is not None and isinstance(value, str) else value
    return row


def answers_csv(rows: list[dict]) -> str:
    """UTF-8 with BOM, so that Excel shows accents."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


class AnswersCsv(Writer):
    files = ("answers.csv",)

    def prepare(self, batch: Batch) -> str:
        slots = {s.name: s for s in batch.exam.slots}
        return answers_csv([csv_row(r, slots) for r in batch.records])

    def write(self, batch: Batch, prepared: str | None = None) -> None:
        text = prepared if prepared is not None else self.prepare(batch)
        atomic_write_text(batch.folder.path / "answers.csv", text, durable=True)


class ResponsesTemplate(Writer):
    """responses-template.csv: the header of a responses file (id, name, then every answer a
    student types, headed as in answers.csv), to build a form or an LMS quiz from."""
    files = ("responses-template.csv",)

    def write(self, batch: Batch, prepared: None = None) -> None:
        slots = slot_records(batch.exam, batch.records[0])
        typed = [c["header"] for s in slots for c in s["columns"] if c["typed"] and c["kind"] == "number"]
        buf = io.StringIO()
        buf.write("\ufeff")
        csv.writer(buf, lineterminator="\n").writerow(["id", "name", *typed])
        atomic_write_text(batch.folder.path / "responses-template.csv", buf.getvalue(), durable=True)
