"""Split a PDF into one PDF per page range, and merge PDFs, copying objects byte for byte
where the PDF allows it.

A batch document holds a hundred students; pypdf rebuilds every object of every output in
Python (about 8 ms a PDF). pdfTeX with `\\pdfobjcompresslevel=0` writes a classic xref table
and plain objects, so each output can instead be assembled from the raw bytes of the
objects its pages reach, renumbered: about a tenth of the time. Anything unexpected
(object streams, inherited page attributes: a PDF from elsewhere) takes the slow, general
way through pypdf, inside this module; callers never see the difference.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
from functools import lru_cache
from pathlib import Path
from typing import Callable

from .files import atomic_file, atomic_write_bytes

_REF = re.compile(rb"(\d+)\s+0\s+R\b")
_OBJ_HEAD = re.compile(rb"\s*(\d+)\s+0\s+obj\b")
_LENGTH = re.compile(rb"/Length\s+(\d+)(?!\s+\d+\s+R)")
_PARENT = re.compile(rb"/Parent\s+\d+\s+0\s+R")
_PLACEHOLDER = b"/Parent \x00"


class Unsupported(ValueError):
    """The PDF uses a feature the byte-copying path does not handle (pypdf takes over)."""


class PageCountError(ValueError):
    """The page counts asked for do not add up to the pages in the PDF."""


def _xref_offsets(data: bytes) -> dict[int, int]:
    m = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data[-256:])
    if not m:
        raise Unsupported("no startxref")
    pos = int(m.group(1))
    if not data.startswith(b"xref", pos):
        raise Unsupported("cross-reference stream (object streams)")
    offsets: dict[int, int] = {}
    lines = iter(data[pos:].split(b"\n")[1:])
    for line in lines:
        line = line.strip()
        if line.startswith(b"trailer"):
            break
        first, count = (int(v) for v in line.split())
        for num in range(first, first + count):
            entry = next(lines).split()
            if entry[2] == b"n":
                offsets[num] = int(entry[0])
    return offsets


def _objects(data: bytes) -> dict[int, tuple[bytes, bytes]]:
    """Object number -> (dictionary part, stream part with its keywords, or b"")."""
    objects = {}
    for num, off in _xref_offsets(data).items():
        m = _OBJ_HEAD.match(data, off)
        if not m or int(m.group(1)) != num:
            raise Unsupported(f"object {num} is not at its xref offset")
        start = m.end()
        end = data.find(b"endobj", start)
        stream = data.find(b"stream", start, end)
        if stream == -1:
            objects[num] = (data[start:end].strip(), b"")
            continue
        head = data[start:stream]
        length = _LENGTH.search(head)
        if not length:
            raise Unsupported(f"object {num}: stream length is not a direct number")
        body = stream + len(b"stream")
        body += 2 if data.startswith(b"\r\n", body) else 1
        payload = data[body:body + int(length.group(1))]
        objects[num] = (head.strip(), b"\nstream\n" + payload + b"\nendstream")
    return objects


def _page_tree(objects: dict[int, tuple[bytes, bytes]], root: int) -> list[int]:
    pages: list[int] = []

    def walk(num: int) -> None:
        head = objects[num][0]
        if b"/Type /Page" in head and b"/Type /Pages" not in head:
            if b"/Resources" not in head or b"/MediaBox" not in head:
                raise Unsupported("a page inherits attributes from the page tree")
            pages.append(num)
            return
        kids = re.search(rb"/Kids\s*\[([^\]]*)\]", head)
        if not kids:
            raise Unsupported(f"page tree node {num} has no /Kids")
        for ref in _REF.finditer(kids.group(1)):
            walk(int(ref.group(1)))

    catalog = objects[root][0]
    m = re.search(rb"/Pages\s+(\d+)\s+0\s+R", catalog)
    if not m:
        raise Unsupported("catalog without /Pages")
    walk(int(m.group(1)))
    return pages


def split(data: bytes, counts: list[int] | None, transform: Callable[[dict], None] | None = None) -> list[bytes]:
    """Cut `data` into consecutive documents of counts[0], counts[1], ... pages (None: one of
    them all); `transform` may change the objects (number -> (dictionary, stream)) in place
    before they are copied."""
    try:
        return _split_fast(data, counts, transform)
    except Unsupported:
        return _split_with_pypdf(data, counts)


def _root(data: bytes) -> int:
    root = re.search(rb"/Root\s+(\d+)\s+0\s+R", data[data.rfind(b"trailer"):])
    if not root:
        raise Unsupported("trailer without /Root")
    return int(root.group(1))


def _split_with_pypdf(data: bytes, counts: list[int] | None) -> list[bytes]:
    from pypdf import PdfReader, PdfWriter      # imported when needed: a tenth of qgen's start-up
    reader = PdfReader(io.BytesIO(data))
    counts = [len(reader.pages)] if counts is None else counts
    if sum(counts) != len(reader.pages):
        raise PageCountError(f"{sum(counts)} pages asked for, {len(reader.pages)} in the PDF")
    outputs, ends = [], list(itertools.accumulate(counts, initial=0))
    for a, b in zip(ends, ends[1:]):
        writer, buf = PdfWriter(), io.BytesIO()
        for page in reader.pages[a:b]:
            writer.add_page(page)
        writer.write(buf)
        outputs.append(buf.getvalue())
    return outputs


def _split_fast(data: bytes, counts: list[int] | None, transform=None) -> list[bytes]:
    objects = _objects(data)
    pages = _page_tree(objects, _root(data))
    counts = [len(pages)] if counts is None else counts
    if sum(counts) != len(pages):
        raise PageCountError(f"{sum(counts)} pages asked for, {len(pages)} in the PDF")
    if transform is not None:
        transform(objects)
    header = data[:data.index(b"\n") + 1] + b"%\xd0\xd4\xc5\xd8\n"
    ends = list(itertools.accumulate(counts, initial=0))
    return [_assemble(header, objects, pages[a:b]) for a, b in zip(ends, ends[1:])]


@lru_cache(maxsize=4096)     # a batch's outputs share their fonts, and its students most dictionaries
def _parse(head: bytes) -> tuple[tuple[bytes, ...], tuple[int, ...]]:
    """An object's dictionary cut at its references: the texts around them (a /Parent already
    pointing at the new page tree, object 2) and the object numbers referred to, /Parent excluded."""
    parts = _REF.split(_PARENT.sub(_PLACEHOLDER, head))
    return tuple(t.replace(_PLACEHOLDER, b"/Parent 2 0 R") for t in parts[::2]), tuple(int(n) for n in parts[1::2])


def _renumbered(texts: tuple[bytes, ...], refs: tuple[int, ...], new: dict[int, int]) -> bytes:
    out = [texts[0]]
    for ref, text in zip(refs, texts[1:]):
        out += (b"%d 0 R" % new[ref], text)
    return b"".join(out)


def _assemble(header: bytes, objects: dict[int, tuple[bytes, bytes]], pages: list[int]) -> bytes:
    new: dict[int, int] = {}       # old object number -> new (1 and 2: catalog and page tree)
    order: list[int] = []
    pending = list(reversed(pages))
    while pending:                 # depth-first over references, /Parent excluded
        num = pending.pop()
        if num in new:
            continue
        new[num] = len(order) + 3
        order.append(num)
        pending.extend(r for r in reversed(_parse(objects[num][0])[1]) if r not in new)

    out = bytearray(header)
    offsets = [0] * (len(order) + 3)

    def emit(num: int, body: bytes) -> None:
        offsets[num] = len(out)
        out.extend(b"%d 0 obj\n" % num)
        out.extend(body)
        out.extend(b"\nendobj\n")

    emit(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = b" ".join(b"%d 0 R" % new[p] for p in pages)
    emit(2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)))
    for num in order:
        emit(new[num], _renumbered(*_parse(objects[num][0]), new) + objects[num][1])
    out.extend(_xref(offsets[1:], len(out)))
    return bytes(out)


def _xref(offsets: list[int], at: int) -> bytes:
    """The cross-reference table of objects 1, 2, ... at `offsets`, and the trailer (catalog: 1)."""
    return (b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
            + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, at))


def merge(inputs: list[Path], target: Path, odd_starts: bool = True) -> int:
    """Concatenate PDFs into `target`; returns the page count.

    With `odd_starts`, a blank page follows every document with an odd number of pages, so
    each starts on a right-hand page in duplex printing.
    """
    try:
        return _merge_fast(inputs, target, odd_starts)
    except Unsupported:
        return _merge_with_pypdf(inputs, target, odd_starts)


def _merge_with_pypdf(inputs: list[Path], target: Path, odd_starts: bool) -> int:
    from pypdf import PdfReader, PdfWriter
    writer = PdfWriter()
    for path in inputs:
        reader = PdfReader(path)
        writer.append(reader)
        if odd_starts and len(reader.pages) % 2:
            writer.add_blank_page()
    buf = io.BytesIO()
    writer.write(buf)
    atomic_write_bytes(target, buf.getvalue())
    return len(writer.pages)


class _Merger:
    """Streams one merged PDF: objects with the same content (the fonts that students of one
    batch share) are written once, so the file stays small; only offsets and content hashes
    stay in memory."""

    def __init__(self, out):
        self.out = out
        self.offsets: dict[int, int] = {}
        self.kids: list[int] = []
        self.seen: dict[bytes, int] = {}
        self.numbers = itertools.count(3)      # 1 and 2: catalog and page tree, written last
        self.media = b"[0 0 595.276 841.89]"
        out.write(b"%PDF-1.5\n%\xd0\xd4\xc5\xd8\n")

    def emit(self, num: int, body: bytes) -> None:
        self.offsets[num] = self.out.tell()
        self.out.write(b"%d 0 obj\n" % num + body + b"\nendobj\n")

    def add(self, path: Path, odd_starts: bool) -> None:
        data = path.read_bytes()
        objects = _objects(data)
        pages = _page_tree(objects, _root(data))
        numbers: dict[int, int] = {}
        for page in pages:
            self.kids.append(self._place(objects, set(pages), numbers, page))
        m = re.search(rb"/MediaBox\s*(\[[^\]]*\])", objects[pages[-1]][0])
        self.media = m.group(1) if m else self.media
        if odd_starts and len(pages) % 2:
            blank = next(self.numbers)
            self.emit(blank, b"<< /Type /Page /Parent 2 0 R /MediaBox %s /Resources << >> >>" % self.media)
            self.kids.append(blank)

    def _place(self, objects, pages: set[int], numbers: dict[int, int], num: int, depth: int = 0) -> int:
        """Write object `num` (after what it refers to) unless identical content is out."""
        if num in numbers:
            return numbers[num]
        if depth > 64:
            raise Unsupported("reference cycle")
        head, stream = objects[num]
        texts, refs = _parse(head)
        for ref in sorted(set(refs)):
            self._place(objects, pages, numbers, ref, depth + 1)
        body = _renumbered(texts, refs, numbers) + stream
        key = hashlib.sha256(body).digest()
        if num not in pages and key in self.seen:
            numbers[num] = self.seen[key]
            return numbers[num]
        numbers[num] = self.seen[key] = next(self.numbers)
        self.emit(numbers[num], body)
        return numbers[num]

    def finish(self) -> int:
        kids = b" ".join(b"%d 0 R" % k for k in self.kids)
        self.emit(2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self.kids)))
        self.emit(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        self.out.write(_xref([self.offsets[n] for n in range(1, len(self.offsets) + 1)], self.out.tell()))
        return len(self.kids)


def _merge_fast(inputs: list[Path], target: Path, odd_starts: bool) -> int:
    with atomic_file(target) as out:
        merger = _Merger(out)
        for path in inputs:
            merger.add(path, odd_starts)
        return merger.finish()
