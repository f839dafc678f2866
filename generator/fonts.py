"""Which TeX engine can print a student's name, decided before anything is written.

pdfLaTeX (fast) prints ASCII and the accented Latin of Latin-1 and most of Latin
Extended-A. A name in another script (Devanagari, Bengali, Tamil, Chinese, Arabic, ...)
makes that student's documents go through LuaLaTeX with Noto fonts from Debian's
fonts-noto-core / fonts-noto-cjk as fallbacks. A character no configured font covers
is an error up front naming the student: never a silent `?` or a dropped character.
"""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from functools import cache

from . import QgenError

PDFLATEX = "pdflatex"
LUALATEX = "lualatex"

# Latin-1 and Latin Extended-A characters that pdfLaTeX's T1 encoding does not define.
_T1_MISSING = {0x126, 0x127, 0x138, 0x13F, 0x140, 0x149, 0x166, 0x167, 0x17F}

# Unicode blocks -> the Noto font that covers them (used as LuaLaTeX fallbacks, in order).
SCRIPT_FONTS: list[tuple[int, int, str, str]] = [     # (first, last, font, OpenType script)
    (0x0100, 0x024F, "Noto Serif", "latn"),            # Latin Extended-A/B
    (0x1E00, 0x1EFF, "Noto Serif", "latn"),            # Latin Extended Additional (Vietnamese)
    (0x0370, 0x03FF, "Noto Serif", "latn"),            # Greek
    (0x0400, 0x052F, "Noto Serif", "latn"),            # Cyrillic
    (0x0590, 0x05FF, "Noto Sans Hebrew", "hebr"),
    (0x0600, 0x06FF, "Noto Naskh Arabic", "arab"),
    (0x0750, 0x077F, "Noto Naskh Arabic", "arab"),
    (0x0900, 0x097F, "Noto Sans Devanagari", "deva"),
    (0x0980, 0x09FF, "Noto Sans Bengali", "beng"),
    (0x0A00, 0x0A7F, "Noto Sans Gurmukhi", "guru"),
    (0x0A80, 0x0AFF, "Noto Sans Gujarati", "gujr"),
    (0x0B00, 0x0B7F, "Noto Sans Oriya", "orya"),
    (0x0B80, 0x0BFF, "Noto Sans Tamil", "taml"),
    (0x0C00, 0x0C7F, "Noto Sans Telugu", "telu"),
    (0x0C80, 0x0CFF, "Noto Sans Kannada", "knda"),
    (0x0D00, 0x0D7F, "Noto Sans Malayalam", "mlym"),
    (0x0D80, 0x0DFF, "Noto Sans Sinhala", "sinh"),
    (0x0E00, 0x0E7F, "Noto Sans Thai", "thai"),
    (0x1100, 0x11FF, "Noto Sans CJK SC", "hang"),      # Hangul Jamo
    (0x3000, 0x30FF, "Noto Sans CJK SC", "hani"),      # CJK punctuation, Hiragana, Katakana
    (0x3400, 0x4DBF, "Noto Sans CJK SC", "hani"),
    (0x4E00, 0x9FFF, "Noto Sans CJK SC", "hani"),
    (0xAC00, 0xD7AF, "Noto Sans CJK SC", "hang"),      # Hangul syllables
    (0xFF00, 0xFFEF, "Noto Sans CJK SC", "hani"),      # full-width forms
]
JOINERS = {0x200C, 0x200D}

# luaotfload fallback chain: HarfBuzz shaping, with the script each font is for.
FALLBACK_FONTS = list(dict.fromkeys(f"{font}:mode=harf;script={script};" for _, _, font, script in SCRIPT_FONTS))


def pdflatex_can_print(ch: str) -> bool:
    c = ord(ch)
    return (0x20 <= c < 0x7F) or (0xA0 <= c <= 0x17E and c not in _T1_MISSING)


@cache
def _charset(font: str) -> frozenset[int] | None:
    """Code points `font` has glyphs for, from fontconfig; None when fontconfig is absent."""
    try:
        listing = subprocess.run(["fc-list", "--format", "%{charset}\n", font], capture_output=True,
                                 text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    points: set[int] = set()
    for token in listing.split():
        first, _, last = token.partition("-")
        points.update(range(int(first, 16), int(last or first, 16) + 1))
    return frozenset(points)


def _covered(ch: str) -> bool:
    """Whether the fallback font for `ch`'s block really has a glyph for it."""
    c = ord(ch)
    if c in JOINERS or unicodedata.category(ch) in ("Zs",):
        return True
    if unicodedata.combining(ch) and c < 0x0370:   # combining accents on Latin letters
        return True
    font = next((f for lo, hi, f, _ in SCRIPT_FONTS if lo <= c <= hi), None)
    if font is None:
        return False
    charset = _charset(font)
    return charset is None or c in charset


def is_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)


def engine_for_text(text: str, who: str, where: str = "") -> str:
    """pdflatex when it can print `text`, else lualatex; an error naming `who` if no font can."""
    if all(pdflatex_can_print(ch) for ch in text):
        return PDFLATEX
    unprintable = [ch for ch in dict.fromkeys(text) if not pdflatex_can_print(ch) and not _covered(ch)]
    if unprintable:
        shown = ", ".join(f"'{ch}' (U+{ord(ch):04X})" for ch in unprintable[:3])
        raise QgenError(f"{who}: no configured font can print {shown}{where}")
    return LUALATEX


def engine_for(student, base: str = PDFLATEX) -> str:
    """The engine for a student's documents: `base` (the exam's) unless the name needs LuaLaTeX."""
    where = f" (roster line {student.line})" if getattr(student, "line", 0) else ""
    engine = engine_for_text(f"{student.id}{student.name}", f"student {student.id}{where}", " in the name")
    return LUALATEX if LUALATEX in (engine, base) else PDFLATEX


def require_engine(engine: str, student) -> None:
    if shutil.which(engine) is None:
        package = "texlive-luatex fonts-noto-core fonts-noto-cjk" if engine == LUALATEX else "texlive-latex-base"
        raise QgenError(f"student {student.id}: the name needs {engine}, which is not installed "
                        f"(apt-get install {package}; `make papers` does it)")


def header_engine(header: dict, where) -> str:
    """The engine the exam header's own text needs; `where(key)` locates a key for messages."""
    engine = PDFLATEX
    for key, value in header.items():
        for text in (value if isinstance(value, list) else [value]):
            if isinstance(text, str) and engine_for_text(text, where(key)) == LUALATEX:
                engine = LUALATEX
    return engine
