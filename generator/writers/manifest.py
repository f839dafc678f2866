"""manifest.json: what made every file of the batch, so a folder can be audited and reproduced:
per student the seeds, parameters and PDF hashes and the template set their files were made
with; the package and TeX versions; the hash of every template and family source (the
current set, and every earlier set a student's files still come from); the print files' hashes."""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from importlib import metadata

from .. import __version__
from ..files import atomic_write_text, json_text
from ..outdir import sha256
from ..seeding import seed_material
from . import Batch, Writer


@cache
def _engine_version(engine: str) -> str:
    try:
        return subprocess.run([engine, "--version"], capture_output=True, text=True, timeout=30).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "not installed"


def _versions(engines: set[str]) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("jinja2", "sympy", "numpy", "pypdf", "pylatex", "click"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions.update({engine: _engine_version(engine) for engine in sorted(engines)})
    return versions


class Manifest(Writer):
    files = ("manifest.json",)
    reads_outputs = True

    def applies(self, batch: Batch) -> bool:
        return not batch.tex_only

    def write(self, batch: Batch, prepared: None = None) -> None:
        out = batch.folder.path
        prints = {name: sha256(out / name) for name in ("papers.pdf", "keybook.pdf") if (out / name).exists()}
        used = {t for t in batch.templates.values() if t}
        doc = {
            "exam": batch.exam.id,
            "generator": f"qgen {__version__}",
            "master_seed": batch.seed,
            "batch_size": batch.batch_size,
            "packages": _versions(set(batch.engines.values())),
            "templates": batch.template_sets[batch.current_templates],
            "template_sets": {t: batch.template_sets[t] for t in sorted(used)},
            "print_files_sha256": prints,
            "students": [{
                "id": d.student.id,
                "name": d.student.name,
                "seeds": {slot.name: format(seed_material(batch.seed, batch.exam.id, d.student.id, slot.name, attempt),
                                            "064x") for slot, _, attempt in d.slots},
                "params": {slot.name: params for slot, params, _ in d.slots},
                "pdf_sha256": batch.pdfs.get(d.student.id, {}),
                "templates": batch.templates.get(d.student.id),
            } for d in batch.drafts],
        }
        atomic_write_text(out / "manifest.json", json_text(doc), durable=True)
