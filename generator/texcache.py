"""Dumped TeX formats kept between runs, so a run or a preview whose preamble is unchanged
neither dumps it again (about 1 s here) nor, for a run, typesets the original plainly to
check the format a second time.

The cache is `$QGEN_CACHE`, else `$XDG_CACHE_HOME/qgen`, else `~/.cache/qgen`; its formats
live in `formats/<tex>/`, where `<tex>` names the TeX installation (the engine's binary and
its base format, by path, size and time: a TeX Live update rebuilds the base format, so a
format of the old one is never loaded by the new). A format is named by its preamble
(`compile.dump_format`); `<name>.checked` beside it records that a document typeset from it
was, byte for byte, the document typeset plainly. At most KEEP formats are kept (about
19 MB each), the least recently used removed. A user of a format gets its own hard link (or
copy) of it, so removing it from the cache never pulls it from under a running TeX.

The cache only saves time: when it cannot be read or written, callers dump into their own
folder as before, and nothing they write depends on whether it was there.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from .compile import Format, dump_format, tex_env

KEEP = 6
RECIPE = "1"       # bump when dump_format changes what a format holds


def root() -> Path:
    if os.environ.get("QGEN_CACHE"):
        return Path(os.environ["QGEN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qgen"


@functools.lru_cache(maxsize=None)
def _installation(engine: str) -> str | None:
    """A short name for the TeX installation `engine` runs in; None when it cannot be told."""
    exe = shutil.which(engine)
    if exe is None:
        return None
    try:
        base = subprocess.run(["kpsewhich", f"-engine={'pdftex' if engine == 'pdflatex' else engine}",
                               f"{engine}.fmt"], env=tex_env(), capture_output=True, text=True,
                              timeout=30).stdout.strip()
        parts = [RECIPE, engine]
        for path in (os.path.realpath(exe), base):
            st = os.stat(path)
            parts += [path, str(st.st_size), str(st.st_mtime_ns)]
    except (OSError, subprocess.SubprocessError):
        return None
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def folder(engine: str) -> Path | None:
    """Where this TeX installation's formats are cached; None without a usable cache."""
    name = _installation(engine)
    if name is None:
        return None
    path = root() / "formats" / name
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def format_for(source: str, into: Path, engine: str = "pdflatex", dump: bool = True) -> Format | None:
    """The format of `source`'s preamble, from the cache (dumped there first if missing),
    as a link in `into`; else dumped into `into` alone; None when it cannot be dumped, or
    (`dump` false) when the cache does not hold it."""
    cached = folder(engine)
    if cached is None:
        return dump_format(source, into, engine) if dump else None
    try:
        fmt = dump_format(source, cached, engine, only_if_dumped=True)
        if fmt is None:
            if not dump:
                return None
            fmt = dump_format(source, cached, engine)
            if fmt is None:
                return None
            _prune(cached.parent)      # a new format: the cache may now hold one too many
        stored = fmt.path.with_suffix(".fmt")
        os.utime(stored)           # recently used: the last to go
        into.mkdir(parents=True, exist_ok=True)
        mine = into / stored.name
        if not mine.exists():
            try:
                os.link(stored, mine)
            except OSError:         # another file system
                shutil.copyfile(stored, mine)
        return Format(fmt.preamble, into / fmt.path.name)
    except OSError:
        return dump_format(source, into, engine) if dump else None


def checked(fmt: Format) -> bool:
    """Whether a document typeset from `fmt` was found to be its plain typesetting, byte for byte."""
    try:
        return _sidecar(fmt).exists()
    except OSError:
        return False


def mark_checked(fmt: Format) -> None:
    try:
        _sidecar(fmt).touch()
    except OSError:
        pass


def forget(fmt: Format) -> None:
    """Drop a cached format that failed where its plain document did not."""
    try:
        _sidecar(fmt).unlink(missing_ok=True)
        (_sidecar(fmt).parent / f"{fmt.path.name}.fmt").unlink(missing_ok=True)
    except OSError:
        pass


def _sidecar(fmt: Format) -> Path:
    cached = folder("pdflatex")        # formats are pdfLaTeX's only
    if cached is None:
        raise OSError("no cache")
    return cached / f"{fmt.path.name}.checked"


def _prune(formats: Path) -> None:
    """Keep the KEEP most recently used formats of every installation; drop the rest."""
    try:
        found = sorted(formats.glob("*/*.fmt"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in found[KEEP:]:
            old.with_suffix(".checked").unlink(missing_ok=True)
            old.unlink(missing_ok=True)
    except OSError:
        pass
