"""Pruned font subsets draw the same glyphs: every glyph of every font the seed exam embeds,
run by a Type 1 interpreter of the test's own, gives the same drawing operations before and
after; poppler renders the same pixels and extracts the same text; fonts the pruner cannot
follow are left byte for byte as they were."""

from __future__ import annotations

import re
import subprocess
import zlib

import pytest

from conftest import SEED_EXAM, needs_tex
from generator import pdfsplit, t1subset
from generator.compile import run_tex
from generator.documents import Documents, renderer_for
from generator.plan import Solver, draw, solve_draft
from generator.roster import Student
from generator.spec import load_exam


def _decrypt(data: bytes, r: int) -> bytes:
    out = bytearray()
    for c in data:
        out.append(c ^ (r >> 8))
        r = ((c + r) * 52845 + 22719) % 65536
    return bytes(out)


def _program(code: bytes) -> list:
    """A charstring as numbers and ('op', code) tuples, read independently of the pruner."""
    out, i = [], 0
    while i < len(code):
        v = code[i]
        if v == 255:
            out.append(int.from_bytes(code[i + 1:i + 5], "big", signed=True))
            i += 5
        elif v >= 251:
            out.append(-(v - 251) * 256 - code[i + 1] - 108)
            i += 2
        elif v >= 247:
            out.append((v - 247) * 256 + code[i + 1] + 108)
            i += 2
        elif v >= 32:
            out.append(v - 139)
            i += 1
        else:
            out.append(("op", 1200 + code[i + 1] if v == 12 else v))
            i += 2 if v == 12 else 1
    return out


def _font(stream: bytes, head: bytes) -> tuple[dict, dict]:
    """A FontFile's subroutines and glyphs (name -> program)."""
    data = zlib.decompress(stream[len(b"\nstream\n"):-len(b"\nendstream")])
    l1, l2 = (int(re.search(rb"/Length%d\s+(\d+)" % k, head).group(1)) for k in (1, 2))
    private = _decrypt(data[l1:l1 + l2], 55665)[4:]

    def entries(pattern: bytes) -> dict:
        found = {}
        for m in re.finditer(pattern, private):
            start = m.end()
            found[m.group(1)] = _program(_decrypt(private[start:start + int(m.group(2))], 4330)[4:])
        return found
    return ({int(k): v for k, v in entries(rb"dup (\d+) (\d+) (?:RD|-\|) ").items()},
            entries(rb"\n/([^\s/]+) (\d+) (?:RD|-\|) "))


def _draw(program: list, subrs: dict, stack: list, out: list, ps: list) -> bool:
    """Run a glyph as a renderer would, with hint replacement; appends (operator, operands)."""
    for item in program:
        if not isinstance(item, tuple):
            stack.append(item)
        elif item[1] == 10:
            if _draw(subrs[stack.pop()], subrs, stack, out, ps):
                return True
        elif item[1] == 11:
            return False
        elif item[1] == 1216:
            other, count = stack.pop(), stack.pop()
            ps[:] = [stack.pop() for _ in range(count)]
            out.append(("othersubr", other, tuple(ps) if other != 3 else ()))
        elif item[1] == 1217:
            stack.append(ps.pop(0))
        else:
            out.append((item[1], tuple(stack)))
            stack.clear()
            if item[1] == 14:
                return True
    return False


DRAWING = {5, 6, 7, 8, 30, 31}          # rlineto, hlineto, vlineto, rrcurveto, vhcurveto, hvcurveto


@pytest.fixture(scope="module")
def batch_pdf(tmp_path_factory):
    exam = load_exam(SEED_EXAM)
    drafts = draw(exam, [Student(f"25BM{i:05d}", f"Student Ünïcode {i}") for i in range(6)], exam.seed)
    solver = Solver()
    source = Documents(exam, renderer_for(exam)).render("key", [solve_draft(d, solver) for d in drafts])
    return run_tex(source, tmp_path_factory.mktemp("t1")).read_bytes()


@needs_tex
def test_every_glyph_draws_the_same_after_pruning(batch_pdf):
    objects = pdfsplit._objects(batch_pdf)
    fonts = {n: o for n, o in objects.items() if b"/Length2" in o[0]}
    pruned = dict(objects)
    t1subset.prune_fonts(pruned)
    assert len(fonts) >= 5
    for num, (head, stream) in fonts.items():
        new_head, new_stream = pruned[num]
        (subrs, glyphs), (new_subrs, new_glyphs) = _font(stream, head), _font(new_stream, new_head)
        assert len(new_subrs) <= len(subrs) and new_glyphs.keys() == glyphs.keys()
        drawn = 0
        for name, program in glyphs.items():
            before, after = [], []
            _draw(program, subrs, [], before, [])
            _draw(new_glyphs[name], new_subrs, [], after, [])
            assert after == before, f"glyph {name!r} of font object {num} changed"
            drawn += any(op in DRAWING for op, *_ in before)
        assert drawn >= len(glyphs) - 2           # all but .notdef and a space really draw
    size = sum(len(stream) for _, stream in fonts.values())
    assert sum(len(pruned[n][1]) for n in fonts) < 0.65 * size


@needs_tex
def test_poppler_sees_the_same_pages(batch_pdf, tmp_path):
    plain = pdfsplit.split(batch_pdf, None)[0]
    pruned = pdfsplit.split(batch_pdf, None, t1subset.prune_fonts)[0]
    assert len(plain) - len(pruned) > 30_000, (len(pruned), len(plain))     # bytes of font programs
    for name, data in (("plain", plain), ("pruned", pruned)):
        (tmp_path / f"{name}.pdf").write_bytes(data)
        subprocess.run(["pdftoppm", "-r", "90", "-f", "1", "-l", "3", "-png", f"{name}.pdf", name],
                       cwd=tmp_path, check=True)
    for page in range(1, 4):
        assert (tmp_path / f"pruned-{page:02d}.png").read_bytes() == (tmp_path / f"plain-{page:02d}.png").read_bytes()
    text = [subprocess.run(["pdftotext", "-layout", f"{n}.pdf", "-"], cwd=tmp_path, capture_output=True,
                           check=True).stdout for n in ("plain", "pruned")]
    assert text[0] == text[1] and b"SOLUTION KEY" in text[0]


def _private(subrs: list[bytes], glyphs: dict[bytes, bytes]) -> bytes:
    """A private dictionary with unencrypted charstrings (lenIV -1), as a hand-made font."""
    out = b"/lenIV -1 def\n/Subrs %d array\n" % len(subrs)
    out += b"".join(b"dup %d %d RD " % (i, len(c)) + c + b" NP\n" for i, c in enumerate(subrs))
    out += b"ND\n2 index /CharStrings %d dict dup begin\n" % len(glyphs)
    out += b"".join(b"/%s %d RD " % (n, len(c)) + c + b" ND\n" for n, c in glyphs.items())
    return out + b"end\n"


RETURN, STUB = b"\x0b", b"\x0b"
HSBW, ENDCHAR, CALLSUBR = b"\x0d", b"\x0e", b"\x0a"


def _n(x: int) -> bytes:
    return bytes([x + 139])


def test_unreached_subrs_go_and_calls_are_renumbered():
    subrs = [RETURN] * 4 + [STUB, STUB, _n(1) + _n(2) + b"\x05" + RETURN]       # 6 draws a line
    glyph = _n(0) + _n(50) + HSBW + _n(6) + CALLSUBR + ENDCHAR
    pruned = t1subset._prune_private(_private(subrs, {b"a": glyph}))
    assert pruned is not None and b"/Subrs 5 array" in pruned
    assert b"/a 6 RD " + _n(0) + _n(50) + HSBW + _n(4) + CALLSUBR + ENDCHAR in pruned
    assert b"dup 4 4 RD " + _n(1) + _n(2) + b"\x05" + RETURN in pruned


def test_a_computed_subr_index_leaves_the_font_alone():
    subrs = [RETURN] * 4 + [STUB, STUB, RETURN]
    glyph = _n(0) + _n(50) + HSBW + _n(12) + _n(2) + b"\x0c\x0c" + CALLSUBR + ENDCHAR    # 12 2 div callsubr
    with pytest.raises(t1subset.Untouched):
        t1subset._prune_private(_private(subrs, {b"a": glyph}))
    head, stream = b"<< /Length 4 /Length1 1 /Length2 1 /Filter /FlateDecode >>", b"\nstream\njunk\nendstream"
    assert t1subset.prune_font(head, stream) == (head, stream)
