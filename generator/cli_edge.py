"""The edge of the command line shared by its commands: the `--families` option, the
FAMILY|EXAM_DIR argument, and one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import QgenError


def _fail(message: str, code: int = 2):
    click.echo(f"qgen: error: {message}", err=True)
    sys.exit(code)


def families_option(f):
    """`--families DIR` (repeatable), also from QGEN_FAMILIES (folders separated by ':')."""
    return click.option("--families", "family_dirs", multiple=True, envvar="QGEN_FAMILIES",
                        type=click.Path(file_okay=False, path_type=Path),
                        help="A further folder of question families (repeatable; also QGEN_FAMILIES).")(f)


def _target(target: str, family_dirs):
    """FAMILY|EXAM_DIR: an exam when it names a folder with an exam.toml, else a family's name."""
    from .preview import family_exam
    from .registry import family_folders, load_family
    from .spec import load_exam

    path = Path(target)
    if (path / "exam.toml").is_file() or path.suffix == ".toml":
        return load_exam(path, family_dirs), True
    folders = family_folders(family_dirs)
    if target not in folders:
        from .constraints import did_you_mean
        raise QgenError(f"{target}: no such family{did_you_mean(target, folders)} and no exam folder "
                        f"(families: {', '.join(folders)}; a family in another folder needs --families DIR)")
    return family_exam(load_family(folders[target])), False


