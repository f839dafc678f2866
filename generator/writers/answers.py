"""answers.json (the machine-readable key) and answers.csv (one row per student, for a spreadsheet)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ..files import atomic_write_text
from ..plan import answers_document
from ..registry import get as get_family
from . import Batch, Writer


class AnswersJson(Writer):
    files = ("answers.json",)

    def write(self, batch: Batch) -> None:
        doc = answers_document(batch.exam, batch.seed, batch.records)
        atomic_write_text(batch.folder.path / "answers.json", json.dumps(doc, indent=1, ensure_ascii=False) + "\n",
                          durable=True)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}", v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value, start=1):
            _flatten(f"{prefix}.{i}", v, out)
    else:
        out[prefix] = value


def csv_row(record: dict) -> dict[str, Any]:
    """One student's row: id, name, then one column per final answer (`2.a.1`, ...)."""
    name = record["name"]
    if name[:1] in ("=", "+", "-", "@"):     # a spreadsheet would run it as a formula
        name = "'" + name
    row: dict[str, Any] = {"id": record["id"], "name": name}
    for q in record["questions"]:
        for key in get_family(q["family"]).spec.final_answers:
            _flatten(f"{q['slot']}.{key}", q["answers"][key], row)
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

    def write(self, batch: Batch) -> None:
        atomic_write_text(batch.folder.path / "answers.csv", answers_csv([csv_row(r) for r in batch.records]),
                          durable=True)
