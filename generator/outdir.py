"""The output folder: which batch it holds, its PDF cache, and placing and sweeping its files.

A folder holds one batch (exam, seed, roster), recorded in `.qgen-batch.json`. Another
batch is refused unless replacing is asked for, and then only files qgen writes are removed;
a folder qgen did not make is never touched. PDFs are cached under `.cache/` by the hash
of their batch document and placed at their names by a hard link (or a copy), atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import QgenError
from .files import atomic_write_text

STAMP = ".qgen-batch.json"
CACHE = ".cache"
WORK = ".work"
OWN_FILES = ("answers.json", "answers.csv", "responses-template.csv", "manifest.json", "papers.pdf", "keybook.pdf")
OWN_GLOBS = ("papers/*.pdf", "keys/*.pdf", "tex/papers/*.tex", "tex/keys/*.tex")


class FolderError(QgenError):
    """The output folder cannot take this batch; `reason` says why, for the CLI to word a remedy:
    "not a folder", "foreign" (not made by qgen), "unreadable" (a damaged record) or "other batch"."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def digest(value) -> str:
    """A short, stable hash of a JSON value."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def stamp_for(exam_id: str, seed: int, roster: list[tuple[str, str]], slots: dict[str, dict],
              papers: dict[str, str]) -> dict:
    """What identifies a batch: the exam, the seed, the roster (ids and names, in order), what
    decides each slot's numbers and marks, and a digest of each student's numbers and marks."""
    roster_sha = hashlib.sha256(json.dumps([list(r) for r in roster]).encode()).hexdigest()
    return {"exam": exam_id, "master_seed": seed, "roster_sha256": roster_sha, "students": len(roster),
            "slots": slots, "papers": papers}


def _slot_changes(old: dict, new: dict) -> list[str]:
    changes = [f"slot '{n}' removed" for n in old if n not in new]
    changes += [f"slot '{n}' added" for n in new if n not in old]
    for name in (n for n in new if n in old):
        fields = [k for k in new[name] if old[name].get(k) != new[name][k]]
        changes += [f"slot '{name}': {', '.join(f.replace('_', ' ') for f in fields)}"] if fields else []
    return changes


@dataclass
class Previous:
    """What an earlier run of this batch left in the folder (empty when there is none)."""
    records: dict[str, dict] = field(default_factory=dict)          # id -> answers.json entry
    pdfs: dict[str, dict[str, str]] = field(default_factory=dict)   # id -> kind -> sha256
    templates: dict[str, str | None] = field(default_factory=dict)  # id -> template set
    template_sets: dict[str, dict] = field(default_factory=dict)    # template set -> file -> sha256


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def complete_pdf(path: Path) -> bool:
    """A PDF that ends as a PDF must (a power cut can leave an empty one behind)."""
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - 64))
            return b"%%EOF" in fh.read()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputFolder:
    def __init__(self, path: Path):
        self.path = path
        self.cache = path / CACHE

    def scratch(self) -> Path:
        """This process's TeX work folder (another live run, a shard, keeps its own)."""
        return self.path / WORK / str(os.getpid())

    def claim(self, stamp: dict, replace: bool) -> None:
        """Make the folder hold this batch; refuse another batch unless `replace`."""
        out, path = self.path, self.path / STAMP
        if out.exists() and not out.is_dir():
            raise FolderError(f"{out}: exists and is not a folder", "not a folder")
        if path.exists():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                old = None
            if old == stamp:
                return
            refusal = self._refusal(old, stamp)
            if refusal and not replace:
                raise refusal
            if refusal:
                self._remove_own_files()
        elif out.exists() and any(out.iterdir()):
            raise FolderError(f"{out}: not empty and not a qgen output folder (no {STAMP})", "foreign")
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(stamp, indent=1) + "\n", durable=True)

    def _refusal(self, old, stamp: dict) -> FolderError | None:
        """Why the folder's batch is another one, or None when only its layout may differ."""
        if not isinstance(old, dict):
            return FolderError(f"{self.path / STAMP}: unreadable batch record", "unreadable")
        what = [k for k in ("exam", "master_seed", "roster_sha256") if old.get(k) != stamp[k]]
        said = {"exam": f"exam {old.get('exam')}", "master_seed": f"seed {old.get('master_seed')}",
                "roster_sha256": f"another roster ({old.get('students')} students)"}
        if what:
            return FolderError(f"{self.path}: holds a batch made with {', '.join(said[w] for w in what)}",
                               "other batch")
        papers = old.get("papers", stamp["papers"])
        differ = sum(papers.get(sid) != d for sid, d in stamp["papers"].items())
        changes = _slot_changes(old.get("slots", stamp["slots"]), stamp["slots"])
        if differ:
            return FolderError(f"{self.path}: holds papers made from another exam.toml ({'; '.join(changes)}): "
                               f"{differ} of {len(stamp['papers'])} students' papers differ", "other batch")
        return None

    def previous(self) -> Previous:
        """The answers and the manifest of an earlier run of this batch, as far as they are readable."""
        found = Previous()
        try:
            doc = json.loads((self.path / "answers.json").read_text(encoding="utf-8"))
            found.records = {r["id"]: r for r in doc["students"]}
        except (OSError, ValueError, KeyError, TypeError):
            pass
        try:
            manifest = json.loads((self.path / "manifest.json").read_text(encoding="utf-8"))
            found.pdfs = {s["id"]: s.get("pdf_sha256", {}) for s in manifest["students"]}
            found.templates = {s["id"]: s.get("templates") for s in manifest["students"]}
            found.template_sets = manifest.get("template_sets", {})
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return found

    def _remove_own_files(self) -> None:
        for name in OWN_FILES:
            (self.path / name).unlink(missing_ok=True)
        for pattern in OWN_GLOBS:
            for own in self.path.glob(pattern):
                own.unlink(missing_ok=True)

    def sweep(self) -> None:
        """Remove what a killed run can leave: temporary files and TeX scratch folders."""
        for pattern in (".*.tmp", ".*.link"):
            for leftover in self.path.rglob(pattern):
                leftover.unlink(missing_ok=True)
        for scratch in (self.path / WORK).glob("*"):
            if not (scratch.name.isdigit() and _alive(int(scratch.name))):
                shutil.rmtree(scratch, ignore_errors=True)

    def place(self, cached: Path, target: Path) -> None:
        """Put a cached PDF at its target name atomically (a hard link when the disk allows)."""
        if target.exists() and os.path.samefile(cached, target):
            return
        tmp = target.with_name(f".{target.name}.link")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
        try:
            os.link(cached, tmp)
        except OSError:
            shutil.copyfile(cached, tmp)
        os.replace(tmp, target)

    def prune_cache(self, keep: set[str]) -> None:
        """Keep the cache to the PDFs this batch uses (after a full run)."""
        for cached in self.cache.glob("*.pdf"):
            if cached.name not in keep:
                cached.unlink(missing_ok=True)
