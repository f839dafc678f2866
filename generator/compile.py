"""Running TeX safely and fast: many students per run, split afterwards, failures isolated.

TeX runs without shell escape, with file reads and writes confined to its work folder
(`openin_any`/`openout_any` = paranoid), non-interactively, halting on the first error,
under a timeout. A document with many students is typeset in one run and split into one
PDF per student by the page counts the shell logs (`qgen-pages K N`); when such a
run fails, its students are typeset one by one, so one bad student never sinks the rest
and the error names the student. Every PDF is written to a temporary file and renamed.

Reading the preamble (TikZ, amsmath, the fonts) and beginning the document (where families
draw their diagrams' fixed parts) cost every TeX run about 0.3 s here and are the same for
every batch of a run, so both are dumped once into a TeX format (`dump_format`), stored
uncompressed (loading a gzipped one spends most of its time inflating it). A document that
begins with a dumped preamble is typeset from the format, giving the same PDF bytes as a
plain run (tested here, and checked on the original paper and key of every run before the
batches use it); any other document is typeset plainly. The fonts of each PDF pdfTeX
writes lose their unused subroutines (`t1subset`) before the PDF is split.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import QgenError, pdfsplit, t1subset
from .files import atomic_write_bytes
from .texmap import error_line, locate

ENGINE = "pdflatex"
PASSES = 1       # the shell prints "Page i of n" without forward references
TIMEOUT_S = 300
# Fixed timestamp: the same inputs give byte-identical PDFs.
SOURCE_DATE_EPOCH = "1645660800"   # 2022-02-24, the seed exam's date


class TexError(QgenError):
    """A document failed to typeset; `detail` holds the error lines from the .log, `log` all of it."""

    def __init__(self, message: str, detail: str = "", log: str = ""):
        super().__init__(message)
        self.detail = detail
        self.log = log


@dataclass
class Member:
    """One student's document inside a batch: where its PDF goes, and its own source for a retry."""
    key: str                # student id, for messages
    out: Path
    single_tex: Callable[[], str]
    marked_tex: Callable[[], str] | None = None     # the same, with source markers (texmap)


@dataclass
class Job:
    kind: str               # "paper" or "key"
    tex: str                # one document holding every member, in order
    members: list[Member]
    engine: str = "pdflatex"
    formats: tuple[Format, ...] = ()


@dataclass(frozen=True)
class Format:
    """A preamble dumped into a pdfLaTeX format: `path` is the .fmt file without its suffix."""
    preamble: str
    path: Path


BEGIN_DOCUMENT = "\\begin{document}"
# What a format does not keep, restated on the body's first line: the empty trailer ID, and
# the colour stack's state that xcolor sets up when it loads. The preamble's other lines
# become empty lines, so TeX's line numbers in errors stay those of the whole document.
RESTATE = "\\pdftrailerid{}\\makeatletter\\@ifpackageloaded{xcolor}{\\pdfcolorstack0 current}{}\\makeatother"


@dataclass
class Failure:
    key: str
    kind: str
    message: str
    detail: str = ""


def tex_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEXMF", "TEXINPUTS"))}
    env.update({
        "openin_any": "p", "openout_any": "p", "shell_escape": "f",
        "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "FORCE_SOURCE_DATE": "1",
        "max_print_line": "10000",   # unbroken .log lines, so errors are readable
    })
    return env


def log_errors(log: str, limit: int = 6) -> str:
    """The error lines of a TeX .log: `! ...` or `file:line: ...` and the line after each."""
    lines = log.splitlines()
    picked: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r"^[^:\s]+\.tex:\d+: ", line):
            picked.append(line.strip())
            for follow in lines[i + 1:i + 3]:
                if follow.startswith("l.") or follow.strip().startswith("<"):
                    picked.append(follow.strip())
            if len(picked) >= limit:
                break
    return " | ".join(picked) or "TeX stopped without an error message (see the .log)"


def _run(cmd: list[str], cwd: Path, timeout: float) -> int:
    """Run a TeX command quietly; its exit code. The wait blocks (subprocess's own timeout
    polls, which adds up to 50 ms to every run) and a timer kills TeX at `timeout`."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=tex_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = threading.Event()
    timer = threading.Timer(timeout, lambda: (killed.set(), proc.kill()))
    timer.start()
    try:
        code = proc.wait()
    finally:
        timer.cancel()
    if killed.is_set():
        raise subprocess.TimeoutExpired(cmd, timeout)
    return code


def by_preamble(sources) -> list[str]:
    """One source per distinct preamble: two dumps of one format would write the same file."""
    return list({s[:s.find(BEGIN_DOCUMENT)]: s for s in sources}.values())


def dump_format(source: str, folder: Path, engine: str = ENGINE, only_if_dumped: bool = False) -> Format | None:
    """Dump the preamble of `source`, and what \\begin{document} does, into a format in
    `folder`; None when it cannot be (another engine than pdfLaTeX, no \\begin{document},
    or TeX refuses the preamble), or (`only_if_dumped`) when `folder` does not hold it yet.
    The format writes no .aux: a run reads none back."""
    cut = source.find(BEGIN_DOCUMENT)
    if engine != "pdflatex" or cut < 0:
        return None
    preamble = source[:cut + len(BEGIN_DOCUMENT)]
    name = "qgen-" + hashlib.sha256(preamble.encode()).hexdigest()[:16]
    if not (folder / f"{name}.fmt").exists() and not only_if_dumped:
        folder.mkdir(parents=True, exist_ok=True)
        # Dumped aside and renamed into place: another run may be reading `folder` (texcache).
        with tempfile.TemporaryDirectory(dir=folder, prefix=".dump-") as work:
            dumped = source[:cut] + "\\nofiles" + BEGIN_DOCUMENT + "\\dump\n"
            (Path(work) / f"{name}.tex").write_text(dumped, encoding="utf-8")
            try:
                code = _run([engine, "-ini", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
                             f"-jobname={name}", "&pdflatex", f"{name}.tex"], Path(work), timeout=120)
            except (subprocess.SubprocessError, OSError):
                return None
            if code != 0:
                return None
            _inflate(Path(work) / f"{name}.fmt")
            os.replace(Path(work) / f"{name}.fmt", folder / f"{name}.fmt")
    return Format(preamble, folder / name) if (folder / f"{name}.fmt").exists() else None


def _inflate(fmt: Path) -> None:
    """Store a format uncompressed: TeX reads it either way, and inflating 7 MB of gzip was
    three quarters of loading it (0.5 G instructions of every TeX run)."""
    data = fmt.read_bytes()
    if data[:2] == b"\x1f\x8b":
        atomic_write_bytes(fmt, gzip.decompress(data))


def _from_format(source: str, formats: tuple[Format, ...]) -> tuple[str, list[str]]:
    """The source to write and the extra engine flags: the body alone when a format holds its preamble."""
    for fmt in formats:
        if source.startswith(fmt.preamble):
            return RESTATE + "\n" * fmt.preamble.count("\n") + source[len(fmt.preamble):], [f"-fmt={fmt.path}"]
    return source, []


def run_tex(source: str, workdir: Path, jobname: str = "doc", timeout: float = TIMEOUT_S,
            engine: str = ENGINE, formats: tuple[Format, ...] = ()) -> Path:
    """Typeset `source` in `workdir` (PASSES runs), from a format in `formats` when one holds
    its preamble; returns the PDF path or raises TexError."""
    tex = workdir / f"{jobname}.tex"
    source, flags = _from_format(source, formats)
    tex.write_text(source, encoding="utf-8")
    cmd = [engine, *flags, "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
           "-no-shell-escape", f"-jobname={jobname}", tex.name]
    for _ in range(PASSES):
        try:
            code = _run(cmd, workdir, timeout)
        except subprocess.TimeoutExpired:
            raise TexError(f"TeX did not finish within {timeout:.0f} s") from None
        except FileNotFoundError:
            raise TexError(f"{engine} not found; `make papers` installs TeX") from None
        if code != 0:
            log_path = workdir / f"{jobname}.log"
            log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
            raise TexError(f"{engine} failed", log_errors(log), log)
    return workdir / f"{jobname}.pdf"


def page_counts(log: str) -> dict[int, int]:
    """Student index -> number of pages, from the `qgen-pages K N` lines the shell logs."""
    return {int(k): int(n) for k, n in re.findall(r"^qgen-pages (\d+) (\d+)$", log, re.MULTILINE)}


def shrink(data: bytes) -> bytes:
    """A PDF from pdfTeX with its fonts' unused subroutines dropped (t1subset): the same pages."""
    return pdfsplit.split(data, None, t1subset.prune_fonts)[0]


def _split(pdf: Path, log: Path, members: list[Member]) -> None:
    logged = page_counts(log.read_text(encoding="utf-8", errors="replace"))
    counts = [logged.get(i, 0) for i in range(1, len(members) + 1)]
    try:
        parts = pdfsplit.split(pdf.read_bytes(), counts, t1subset.prune_fonts)
    except pdfsplit.PageCountError as exc:
        raise TexError(f"page bookkeeping is off: {exc}") from None
    for member, data in zip(members, parts):
        atomic_write_bytes(member.out, data)


def trace(marked_source: str, workdir: Path, engine: str) -> str | None:
    """Typeset a document rendered with source markers (texmap); where its TeX error comes from,
    as `TEMPLATE:LINE: message`, or None when it does not fail the same way."""
    try:
        run_tex(marked_source, workdir, jobname="traced", engine=engine, timeout=120)
    except TexError as exc:
        found = error_line(exc.log)
        where = locate(marked_source, found[0]) if found else None
        return f"{where}: {found[1]}" if where else None
    return None


def run_job(job: Job, scratch: Path) -> list[Failure]:
    """Typeset one job, writing each member's PDF; a failed batch is retried student by student."""
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch, prefix="job-") as work:
        work = Path(work)
        try:
            pdf = run_tex(job.tex, work, engine=job.engine, formats=job.formats)
            if len(job.members) == 1:
                atomic_write_bytes(job.members[0].out, shrink(pdf.read_bytes()))
            else:
                _split(pdf, work / "doc.log", job.members)
            return []
        except TexError as exc:
            if len(job.members) == 1:
                m = job.members[0]
                where = trace(m.marked_tex(), work, job.engine) if m.marked_tex and exc.log else None
                return [Failure(m.key, job.kind, where or str(exc), exc.detail)]
    # The batch failed: typeset its students one by one to keep the good ones and name the bad.
    return [failure for m in job.members
            for failure in run_job(Job(job.kind, m.single_tex(), [m], job.engine, job.formats), scratch)]
