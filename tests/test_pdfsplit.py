"""The byte-copying PDF splitter against pypdf: same pages, same text, valid files."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from conftest import needs_tex
from generator import pdfsplit
from generator.compile import run_tex

DOC = r"""\documentclass{article}\pdfobjcompresslevel=%d
\begin{document}%s\end{document}"""


def _pages(n):
    return "".join(rf"Page number {i} with \textbf{{bold}} and $x^{i}$.\newpage " for i in range(1, n + 1))


@needs_tex
def test_split_copies_pages_in_order_and_makes_valid_pdfs(tmp_path):
    pdf = run_tex(DOC % (0, _pages(6)), tmp_path).read_bytes()
    parts = pdfsplit.split(pdf, [1, 3, 2])
    texts = [[p.extract_text() for p in PdfReader(io.BytesIO(part)).pages] for part in parts]
    assert [len(t) for t in texts] == [1, 3, 2]
    assert texts[1][0].startswith("Page number 2") and texts[2][1].startswith("Page number 6")
    assert all(part.startswith(b"%PDF-") and part.rstrip().endswith(b"%%EOF") for part in parts)
    assert pdfsplit.split(pdf, [1, 3, 2]) == parts, "deterministic bytes"


@needs_tex
def test_object_streams_fall_back_to_pypdf(tmp_path):
    pdf = run_tex(DOC % (2, _pages(3)), tmp_path).read_bytes()
    with pytest.raises(pdfsplit.Unsupported):
        pdfsplit._split_fast(pdf, [1, 2])
    parts = pdfsplit.split(pdf, [1, 2])
    assert [len(PdfReader(io.BytesIO(p)).pages) for p in parts] == [1, 2]


@needs_tex
def test_a_wrong_page_count_is_refused(tmp_path):
    pdf = run_tex(DOC % (0, _pages(2)), tmp_path).read_bytes()
    with pytest.raises(pdfsplit.PageCountError, match="3 pages asked for, 2 in the PDF"):
        pdfsplit.split(pdf, [1, 2])


@needs_tex
def test_merging_pdfs_from_elsewhere_falls_back_to_pypdf(tmp_path):
    one = tmp_path / "one.pdf"
    one.write_bytes(run_tex(DOC % (2, _pages(3)), tmp_path).read_bytes())
    with pytest.raises(pdfsplit.Unsupported):
        pdfsplit._merge_fast([one], tmp_path / "fast.pdf", True)
    assert pdfsplit.merge([one, one], tmp_path / "merged.pdf", odd_starts=True) == 8
    assert len(PdfReader(tmp_path / "merged.pdf").pages) == 8
