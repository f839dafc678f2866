"""The print files: papers.pdf (every paper, each from an odd page, for duplex printing) and
keybook.pdf (every student's final answers, for TAs). A print file must not miss a student,
so neither is written when a student's documents failed."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .. import QgenError, pdfsplit
from ..compile import TexError, run_tex, shrink
from ..documents import header_context, keybook_entry
from ..files import atomic_write_bytes
from ..fonts import FALLBACK_FONTS, LUALATEX, PDFLATEX
from ..roster import ORIGINAL_ID
from . import Batch, Writer


class _PrintFile(Writer):
    def applies(self, batch: Batch) -> bool:
        return not batch.tex_only and not batch.failures


class PapersPdf(_PrintFile):
    files = ("papers.pdf",)

    def write(self, batch: Batch, prepared: None = None) -> None:
        papers = [batch.folder.path / "papers" / f"{d.student.id}.pdf" for d in batch.drafts
                  if d.student.id != ORIGINAL_ID]
        pdfsplit.merge(papers, batch.folder.path / "papers.pdf", odd_starts=True)


class KeyBook(_PrintFile):
    files = ("keybook.pdf",)
    external = True

    def prepare(self, batch: Batch) -> bytes:
        """The key book's PDF, typeset from the answers alone (in a folder of its own: the
        output folder's scratch space belongs to the batches meanwhile)."""
        records = sorted((r for r in batch.records if r["id"] != ORIGINAL_ID), key=lambda r: r["id"].casefold())
        slots = {s.name: s for s in batch.exam.slots}
        engine = LUALATEX if LUALATEX in batch.engines.values() else PDFLATEX
        tex = batch.renderer.render("keybook.tex.j2", exam=header_context(batch.exam.header),
                                    students=[keybook_entry(r, slots) for r in records],
                                    unicode_engine=engine == LUALATEX, fallback_fonts=FALLBACK_FONTS)
        with tempfile.TemporaryDirectory(prefix="qgen-keybook-") as work:
            try:
                pdf = run_tex(tex, Path(work), jobname="keybook", engine=engine)
            except TexError as exc:
                raise QgenError(f"keybook.pdf: {exc}: {exc.detail}") from None
            return shrink(pdf.read_bytes())

    def write(self, batch: Batch, prepared: bytes | None = None) -> None:
        pdf = prepared if prepared is not None else self.prepare(batch)
        atomic_write_bytes(batch.folder.path / "keybook.pdf", pdf)
