"""Finding the question families: every folder with an `__init__.py` under `generator/families/`
(the built-in bank) and under any further folder given (an exam's own `families/`,
`--families DIR`, `QGEN_FAMILIES`) is one family. A name defined twice is an error naming
both folders. A family is imported (and checked) when it is first used, so one that does
not load stops only the commands that use it."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from functools import cache
from pathlib import Path
from typing import Iterable

from . import QgenError
from .family import ContractError, Family, LoadedFamily

FAMILIES_DIR = Path(__file__).parent / "families"


def _import(folder: Path):
    if folder.parent == FAMILIES_DIR:
        return importlib.import_module(f"{__package__}.families.{folder.name}")
    name = f"qgen_families.{folder.name}"
    loaded = sys.modules.get(name)
    if loaded is not None and Path(loaded.__file__).parent == folder:
        return loaded
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module      # forked workers and relative imports find it
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        line = next((f.lineno for f in reversed(traceback.extract_tb(exc.__traceback__)) if f.filename.startswith(str(folder))), 1)
        raise ContractError(f"{folder / '__init__.py'}:{line}: cannot load the family: "
                            f"{type(exc).__name__}: {exc}") from None
    return module


@cache
def load_family(folder: Path) -> LoadedFamily:
    module = _import(folder)
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
def _folders(roots: tuple[Path, ...]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for root in roots:
        if not root.is_dir():
            raise QgenError(f"{root}: no such families folder")
        for folder in sorted(p for p in root.iterdir() if (p / "__init__.py").is_file()):
            if folder.name in found:
                raise ContractError(f"family '{folder.name}' is defined twice: in {found[folder.name].parent} "
                                    f"and in {root}")
            found[folder.name] = folder
    return found


def family_roots(extra: Iterable[Path] = ()) -> tuple[Path, ...]:
    """The built-in bank first, then each further folder once."""
    return tuple(dict.fromkeys([FAMILIES_DIR, *(Path(p).resolve() for p in extra)]))


def family_folders(extra: Iterable[Path] = ()) -> dict[str, Path]:
    """name -> folder of every family: the built-in bank and those under the folders in `extra`."""
    return _folders(family_roots(extra))


def registry(extra: Iterable[Path] = ()) -> dict[str, LoadedFamily]:
    """Every family, loaded."""
    return {name: load_family(folder) for name, folder in family_folders(extra).items()}


def get(name: str, extra: Iterable[Path] = ()) -> LoadedFamily:
    return load_family(family_folders(extra)[name])
