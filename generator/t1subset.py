"""Smaller Type 1 font subsets, with the same glyph outlines.

pdfTeX subsets a Latin Modern font's glyphs but keeps its whole table of subroutines (Subrs,
the pieces of outline and hinting the glyphs call), replacing the ones no glyph uses by
one-byte stubs: about 800 entries, 10 to 20 KB of every embedded font, in every student's
PDF. `prune_font` keeps only the subroutines the subset's glyphs reach and renumbers the
calls. It finds them by running each glyph's program symbolically, so a subroutine number
is known wherever it comes from: pushed before `callsubr`, or handed through the hint
replacement mechanism (`othersubr 3`). Anything it does not follow exactly (arithmetic on an
index, a number used both as an index and as a coordinate) leaves the font as it was.
"""

from __future__ import annotations

import re
import zlib
from functools import lru_cache

_EEXEC, _CHARSTRING = 55665, 4330
_CALLSUBR, _RETURN, _ENDCHAR = 10, 11, 14
_DIV, _CALLOTHERSUBR, _POP = 1212, 1216, 1217          # escape (12) + second byte
_KEEP = range(4)     # flex and hint-replacement subrs: renderers may call them by number
_SUBR = re.compile(rb"dup (\d+) (\d+) (RD|-\|) ")
_GLYPH = re.compile(rb"/([^\s/{}\[\]()<>]+) (\d+) (RD|-\|) ")
_SUBR_END = re.compile(rb" ?(NP|\|)\s*")
_GLYPH_END = re.compile(rb" ?(ND|\|-)\s*")


class Untouched(Exception):
    """The font uses something the pruner does not follow: it is left as it was."""


def _decrypt(data: bytes, key: int) -> bytes:
    out = bytearray(len(data))
    for i, c in enumerate(data):
        out[i] = c ^ (key >> 8)
        key = ((c + key) * 52845 + 22719) & 0xFFFF
    return bytes(out)


def _encrypt(data: bytes, key: int) -> bytes:
    out = bytearray(len(data))
    for i, p in enumerate(data):
        c = p ^ (key >> 8)
        out[i] = c
        key = ((c + key) * 52845 + 22719) & 0xFFFF
    return bytes(out)


def _tokens(code: bytes):
    """(is_number, value, start, end) for each token of a decrypted charstring."""
    i, n = 0, len(code)
    while i < n:
        v = code[i]
        if v >= 32:
            if v <= 246:
                yield True, v - 139, i, i + 1
                i += 1
            elif v <= 254:
                w = (v - 247 if v <= 250 else v - 251) * 256 + code[i + 1] + 108
                yield True, w if v <= 250 else -w, i, i + 2
                i += 2
            else:
                yield True, int.from_bytes(code[i + 1:i + 5], "big", signed=True), i, i + 5
                i += 5
        elif v == 12:
            yield False, 1200 + code[i + 1], i, i + 2
            i += 2
        else:
            yield False, v, i, i + 1
            i += 1


def _number(x: int) -> bytes:
    if -107 <= x <= 107:
        return bytes([x + 139])
    if 108 <= x <= 1131:
        return bytes([(x - 108 >> 8) + 247, x - 108 & 255])
    if -1131 <= x <= -108:
        return bytes([(-x - 108 >> 8) + 251, -x - 108 & 255])
    return b"\xff" + x.to_bytes(4, "big", signed=True)


class _Tracer:
    """Runs glyph programs, noting which number tokens end up as subroutine indices."""

    def __init__(self, subrs: dict[int, bytes]):
        self.subrs = subrs
        self.reached: set[int] = set()
        # (owner, start, end) of a number token -> how it was used: "index" (of callsubr),
        # "passed" (to othersubr 3, which hands it back), "value" (anything else)
        self.roles: dict[tuple, set[str]] = {}

    def _use(self, item, role: str) -> None:
        if item[1] is not None:
            self.roles.setdefault(item[1], set()).add(role)

    def run(self, owner, code: bytes, stack: list, ps: list, depth: int = 0) -> bool:
        """Execute `code`; True once `endchar` is reached."""
        if depth > 10:
            raise Untouched("subroutines nest too deep")
        for is_number, value, start, end in _tokens(code):
            if is_number:
                stack.append((value, (owner, start, end)))
            elif value == _CALLSUBR:
                index, origin = stack.pop()
                if origin is None or index not in self.subrs:
                    raise Untouched(f"callsubr on a computed or missing index {index}")
                self._use((index, origin), "index")
                self.reached.add(index)
                if self.run(index, self.subrs[index], stack, ps, depth + 1):
                    return True
            elif value == _RETURN:
                return False
            elif value == _ENDCHAR:
                return True
            elif value == _CALLOTHERSUBR:
                other, count = stack.pop()[0], stack.pop()[0]
                args = [stack.pop() for _ in range(count)]
                for item in args:
                    self._use(item, "value" if other != 3 else "passed")
                ps[:] = args if other == 3 else [(v, None) for v, _ in args]   # 3 hands its subr back
            elif value == _POP:
                stack.append(ps.pop(0) if ps else (0, None))
            elif value == _DIV:
                b, a = stack.pop(), stack.pop()
                self._use(a, "value")
                self._use(b, "value")
                stack.append((a[0] // b[0] if b[0] else 0, None))
            else:
                for item in stack:
                    self._use(item, "value")
                stack.clear()
        return False


def _entries(text: bytes, start: int, head: re.Pattern, tail: re.Pattern, lenIV: int):
    """(key, the charstring's random leading bytes, its program, RD token, tail bytes) for the
    entries from `start`, decrypted; and where they end."""
    found, pos = [], start
    while m := head.match(text, pos):
        size, body = int(m.group(2)), m.end()
        end = tail.match(text, body + size)
        if end is None:
            raise Untouched("a charstring entry without its end")
        code = text[body:body + size]
        code = _decrypt(code, _CHARSTRING) if lenIV >= 0 else code
        skip = max(lenIV, 0)
        found.append((m.group(1), code[:skip], code[skip:], m.group(3), text[body + size:end.end()]))
        pos = end.end()
    return found, pos


def _rewrite(code: bytes, spots: list[tuple[int, int]], mapping: dict[int, int]) -> bytes:
    out, last = bytearray(), 0
    for start, end in sorted(spots):
        value = next(_tokens(code[start:end]))[1]
        out += code[last:start] + _number(mapping[value])
        last = end
    return bytes(out + code[last:])


def _prune_private(text: bytes) -> bytes | None:
    """The decrypted private part with unreached Subrs dropped; None when nothing would change."""
    m = re.search(rb"/lenIV (-?\d+)", text)
    lenIV = int(m.group(1)) if m else 4
    subrs_at = re.search(rb"/Subrs (\d+) array\s*", text)
    glyphs_at = re.search(rb"/CharStrings \d+ dict dup begin\s*", text)
    if not subrs_at or not glyphs_at:
        raise Untouched("no Subrs or CharStrings")
    subrs, subrs_end = _entries(text, subrs_at.end(), _SUBR, _SUBR_END, lenIV)
    glyphs, glyphs_end = _entries(text, glyphs_at.end(), _GLYPH, _GLYPH_END, lenIV)
    if len(subrs) != int(subrs_at.group(1)) or glyphs_at.start() < subrs_end:
        raise Untouched("Subrs not laid out as pdfTeX writes them")
    codes = {int(k): code for k, _, code, _, _ in subrs}
    tracer = _Tracer(codes)
    for name, _, code, _, _ in glyphs:
        tracer.run(name, code, [], [])
    if any("index" in roles and roles - {"index", "passed"} for roles in tracer.roles.values()):
        raise Untouched("a number is both a subroutine index and a coordinate")
    for k in set(_KEEP) - tracer.reached:
        if k in codes and any(not n and v == _CALLSUBR for n, v, _, _ in _tokens(codes[k])):
            raise Untouched(f"subr {k} calls others")
    kept = sorted(tracer.reached | (set(_KEEP) & set(codes)))
    if len(kept) == len(codes):
        return None
    mapping = {old: new for new, old in enumerate(kept)}
    spots: dict[object, list] = {}
    for (owner, start, end), roles in tracer.roles.items():
        if "index" in roles:
            spots.setdefault(owner, []).append((start, end))

    def entry(label: bytes, prefix: bytes, code: bytes, rd: bytes, tail: bytes, owner) -> bytes:
        code = prefix + _rewrite(code, spots.get(owner, []), mapping)
        code = _encrypt(code, _CHARSTRING) if lenIV >= 0 else code
        return label + b" %d %s " % (len(code), rd) + code + tail

    out = bytearray(text[:subrs_at.start()] + b"/Subrs %d array\n" % len(kept))
    for key, prefix, code, rd, tail in subrs:
        if int(key) in mapping:
            out += entry(b"dup %d" % mapping[int(key)], prefix, code, rd, tail, int(key))
    out += text[subrs_end:glyphs_at.end()]
    for name, prefix, code, rd, tail in glyphs:
        out += entry(b"/" + name, prefix, code, rd, tail, name)
    return bytes(out + text[glyphs_end:])


_LEN = {k: re.compile(rb"/%s\s+(\d+)(?!\s+\d+\s+R)" % k.encode()) for k in ("Length", "Length1", "Length2")}


# Batches of one run mostly subset a font to the same glyphs: prune each program once.
@lru_cache(maxsize=64)
def prune_font(head: bytes, stream: bytes) -> tuple[bytes, bytes]:
    """A FontFile object (dictionary, `\\nstream\\n...\\nendstream`) with its subset pruned;
    the same object when it cannot be, or need not be."""
    try:
        if b"/FlateDecode" not in head:
            raise Untouched("not Flate-compressed")
        lengths = {k: int(p.search(head).group(1)) for k, p in _LEN.items()}
        data = zlib.decompress(stream[len(b"\nstream\n"):-len(b"\nendstream")])
        clear, secret = data[:lengths["Length1"]], data[lengths["Length1"]:lengths["Length1"] + lengths["Length2"]]
        plain = _decrypt(secret, _EEXEC)
        private = _prune_private(plain[4:])
    except (Untouched, IndexError, KeyError, ValueError, AttributeError, zlib.error):
        return head, stream
    if private is None:
        return head, stream
    secret = _encrypt(plain[:4] + private, _EEXEC)
    packed = zlib.compress(clear + secret + data[lengths["Length1"] + lengths["Length2"]:], 9)
    head = _LEN["Length2"].sub(b"/Length2 %d" % len(secret), head, count=1)
    head = _LEN["Length"].sub(b"/Length %d" % len(packed), head, count=1)
    return head, b"\nstream\n" + packed + b"\nendstream"


def prune_fonts(objects: dict[int, tuple[bytes, bytes]]) -> None:
    """Prune, in place, every Type 1 font program (`/FontFile`) among a PDF's objects."""
    for head, _ in list(objects.values()):
        if b"/FontDescriptor" in head and (m := re.search(rb"/FontFile\s+(\d+)\s+0\s+R", head)):
            num = int(m.group(1))
            if num in objects:
                objects[num] = prune_font(*objects[num])
