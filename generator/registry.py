"""Finding the question families: every folder of `generator/families/` is one, checked on load."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from .family import ContractError, Family, LoadedFamily

FAMILIES_DIR = Path(__file__).parent / "families"


def load_family(folder: Path, module_name: str) -> LoadedFamily:
    module = importlib.import_module(module_name)
    spec = getattr(module, "FAMILY", None)
    where = folder / "__init__.py"
    if not isinstance(spec, Family):
        raise ContractError(f"{where}: defines no FAMILY = Family(...)")
    if spec.name != folder.name:
        raise ContractError(f"{where}: FAMILY.name {spec.name!r} differs from its folder name")
    for fn in ("sample", "solve", "check"):
        if not callable(getattr(module, fn, None)):
            raise ContractError(f"{where}: missing function {fn}()")
    return LoadedFamily(spec, module, folder)


@cache
def registry() -> dict[str, LoadedFamily]:
    found: dict[str, LoadedFamily] = {}
    for info in sorted(pkgutil.iter_modules([str(FAMILIES_DIR)]), key=lambda i: i.name):
        if info.ispkg:
            found[info.name] = load_family(FAMILIES_DIR / info.name, f"{__package__}.families.{info.name}")
    return found


def get(name: str) -> LoadedFamily:
    return registry()[name]
