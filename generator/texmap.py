"""Tracing a TeX error back to the template line that wrote it.

A document is rendered a second time, only when TeX has failed, with a TeX comment line
`%qgen-src FILE:LINE` before every line of template text. Comment lines change nothing that
TeX typesets, so the marked document fails the same way, and the marker before the line TeX
names is the template file and line to report (a family's `question.tex.j2:12`, not the
generated `doc.tex:231`).
"""

from __future__ import annotations

import re

import jinja2

MARK = "%qgen-src "
_OPEN = re.compile(r"\\(BLOCK|VAR|#)\{")


def _scan(line: str, state: tuple[str, int]) -> tuple[str, int]:
    """The tag state after `line`: ("", 0) outside tags, (kind, depth) inside one."""
    kind, depth = state
    i = 0
    while i < len(line):
        if not kind:
            m = _OPEN.search(line, i)
            if not m:
                break
            kind, depth, i = m.group(1), 1, m.end()
            continue
        ch = line[i]
        if ch == "}":
            depth = 0 if kind == "#" else depth - 1     # a comment ends at its first brace
        elif ch == "{" and kind != "#":
            depth += 1
        if depth == 0:
            kind = ""
        i += 1
    return kind, depth


def mark_lines(source: str, filename: str) -> str:
    """`source` with a marker line before each line that starts outside a template tag."""
    out, state = [], ("", 0)
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        stripped = line.lstrip()
        if not state[0] and stripped.strip() and not stripped.startswith(("%#", r"\BLOCK{")):
            out.append(f"{MARK}{filename}:{number}\n")
        out.append(line)
        state = _scan(line, state)
    return "".join(out)


class MarkedLoader(jinja2.BaseLoader):
    """A loader whose templates carry the markers."""

    def __init__(self, inner: jinja2.BaseLoader):
        self.inner = inner

    def get_source(self, environment, template):
        source, filename, uptodate = self.inner.get_source(environment, template)
        return mark_lines(source, filename or template), filename, uptodate


def error_line(log: str) -> tuple[int, str] | None:
    """The line TeX names in its first error (`./doc.tex:231: Undefined control sequence.`)."""
    m = re.search(r"^(?:\./)?[^:\s]+\.tex:(\d+): (.*)$", log, re.MULTILINE)
    return (int(m.group(1)), m.group(2).strip()) if m else None


def locate(marked_tex: str, line: int) -> str | None:
    """`FILE:LINE` of the template line that wrote line `line` of a marked document."""
    lines = marked_tex.splitlines()
    for k in range(min(line, len(lines)) - 1, -1, -1):
        if lines[k].startswith(MARK):     # every text line has one: the nearest is the one
            return lines[k][len(MARK):]
    return None
