"""`qgen new-family`: a working family folder for an author to edit, from the scaffold."""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from . import QgenError
from .files import atomic_write_text
from .registry import family_folders

SCAFFOLD = Path(__file__).parent / "scaffold"


def new_family(name: str, folder: Path, family_dirs=()) -> Path:
    """Write `folder/name/` from the scaffold; refuse a name that is taken or no Python name."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or keyword.iskeyword(name):
        raise QgenError(f"{name}: a family name is lower-case letters, digits and '_', starting with a letter")
    target = folder / name
    if target.exists():
        raise QgenError(f"{target}: already exists")
    taken = family_folders([*family_dirs, *([folder] if folder.is_dir() else [])])
    if name in taken:
        raise QgenError(f"{name}: a family of that name exists already, in {taken[name].parent}")
    for template in sorted(SCAFFOLD.glob("*.tmpl")):
        text = template.read_text(encoding="utf-8").replace("{{NAME}}", name)
        atomic_write_text(target / template.name.removesuffix(".tmpl"), text)
    return target
