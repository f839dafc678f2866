"""Split a PDF written by pdfTeX into one PDF per page range, and merge such PDFs, copying
objects byte for byte.

A batch document holds a hundred students; pypdf rebuilds every object of every output in
Python (about 8 ms a PDF). pdfTeX with `\\pdfobjcompresslevel=0` writes a classic xref table
and plain objects, so each output can instead be assembled from the raw bytes of the
objects its pages reach, renumbered: about a tenth of the time. Anything unexpected
(object streams, inherited page attributes) raises `Unsupported` and the caller uses pypdf.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .files import atomic_file

_REF = re.compile(rb"(\d+)\s+0\s+R\b")
_OBJ_HEAD = re.compile(rb"\s*(\d+)\s+0\s+obj\b")
_LENGTH = re.compile(rb"/Length\s+(\d+)(?!\s+\d+\s+R)")
_PARENT = re.compile(rb"/Parent\s+\d+\s+0\s+R")
_PLACEHOLDER = b"/Parent \x00"


class Unsupported(ValueError):
    """The PDF uses a feature this splitter does not handle."""


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


def split(data: bytes, counts: list[int]) -> list[bytes]:
    """Cut `data` into consecutive documents of counts[0], counts[1], ... pages."""
    objects = _objects(data)
    trailer = data[data.rfind(b"trailer"):]
    root = re.search(rb"/Root\s+(\d+)\s+0\s+R", trailer)
    if not root:
        raise Unsupported("trailer without /Root")
    pages = _page_tree(objects, int(root.group(1)))
    if sum(counts) != len(pages):
        raise Unsupported(f"{sum(counts)} pages asked for, {len(pages)} in the PDF")
    header = data[:data.index(b"\n") + 1] + b"%\xd0\xd4\xc5\xd8\n"
    outputs = []
    start = 0
    for count in counts:
        outputs.append(_assemble(header, objects, pages[start:start + count]))
        start += count
    return outputs


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
        head = _PARENT.sub(b"", objects[num][0])
        pending.extend(int(r.group(1)) for r in reversed(list(_REF.finditer(head))) if int(r.group(1)) not in new)

    def renumber(head: bytes) -> bytes:
        head = _PARENT.sub(_PLACEHOLDER, head)
        head = _REF.sub(lambda m: b"%d 0 R" % new[int(m.group(1))], head)
        return head.replace(_PLACEHOLDER, b"/Parent 2 0 R")

    out = bytearray(header)
    offsets = [0] * (len(order) + 3)

    def emit(num: int, body: bytes) -> None:
        offsets[num] = len(out)
        out.extend(b"%d 0 obj\n" % num + body + b"\nendobj\n")

    emit(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = b" ".join(b"%d 0 R" % new[p] for p in pages)
    emit(2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)))
    for num in order:
        head, stream = objects[num]
        emit(new[num], renumber(head) + stream)
    xref = len(out)
    out.extend(b"xref\n0 %d\n0000000000 65535 f \n" % len(offsets))
    out.extend(b"".join(b"%010d 00000 n \n" % off for off in offsets[1:]))
    out.extend(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets), xref))
    return bytes(out)


def merge(inputs: list[Path], target: Path, odd_starts: bool = True) -> int:
    """Concatenate PDFs (as this module writes them) into `target`; returns the page count.

    With `odd_starts`, a blank page follows every document with an odd number of pages, so
    each starts on a right-hand page in duplex printing. Objects with the same content
    (the fonts that students of one batch share) are written once, so the file stays small.
    The output is streamed: only offsets and content hashes stay in memory.
    """
    offsets: dict[int, int] = {}
    kids: list[int] = []
    seen: dict[bytes, int] = {}
    next_num = 3                       # 1 and 2: catalog and page tree, written last
    media = b"[0 0 595.276 841.89]"
    with atomic_file(target) as out:
        pos = 0

        def emit(num: int, body: bytes) -> None:
            nonlocal pos
            offsets[num] = pos
            chunk = b"%d 0 obj\n" % num + body + b"\nendobj\n"
            out.write(chunk)
            pos += len(chunk)

        header = b"%PDF-1.5\n%\xd0\xd4\xc5\xd8\n"
        out.write(header)
        pos = len(header)
        for path in inputs:
            data = path.read_bytes()
            objects = _objects(data)
            root = re.search(rb"/Root\s+(\d+)\s+0\s+R", data[data.rfind(b"trailer"):])
            if not root:
                raise Unsupported(f"{path}: trailer without /Root")
            pages = _page_tree(objects, int(root.group(1)))
            numbers: dict[int, int] = {}

            def place(num: int, depth: int = 0) -> int:
                """Write object `num` (after what it refers to) unless identical content is out."""
                nonlocal next_num
                if num in numbers:
                    return numbers[num]
                if depth > 64:
                    raise Unsupported("reference cycle")
                head, stream = objects[num]
                is_page = num in page_set
                refs = {int(r.group(1)) for r in _REF.finditer(_PARENT.sub(b"", head))}
                for ref in sorted(refs):
                    place(ref, depth + 1)
                body = _PARENT.sub(_PLACEHOLDER, head)
                body = _REF.sub(lambda m: b"%d 0 R" % numbers[int(m.group(1))], body)
                body = body.replace(_PLACEHOLDER, b"/Parent 2 0 R") + stream
                key = hashlib.sha256(body).digest()
                if not is_page and key in seen:
                    numbers[num] = seen[key]
                    return numbers[num]
                numbers[num] = next_num
                next_num += 1
                seen[key] = numbers[num]
                emit(numbers[num], body)
                return numbers[num]

            page_set = set(pages)
            for page in pages:
                kids.append(place(page))
            m = re.search(rb"/MediaBox\s*(\[[^\]]*\])", objects[pages[-1]][0])
            media = m.group(1) if m else media
            if odd_starts and len(pages) % 2:
                blank = next_num
                next_num += 1
                emit(blank, b"<< /Type /Page /Parent 2 0 R /MediaBox %s /Resources << >> >>" % media)
                kids.append(blank)
        emit(2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids)))
        emit(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        xref = pos
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % next_num)
        out.write(b"".join(b"%010d 00000 n \n" % offsets[n] for n in range(1, next_num)))
        out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (next_num, xref))
    return len(kids)
