"""The `qgen` command line: parses options and calls the library; nothing else lives here."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from . import QgenError, __version__
from .cli_author import catalogue, check, new_family, preview
from .cli_edge import _fail, families_option


class _NoBar:
    """Stands in for the progress bar when output is not a terminal or --quiet is given."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        pass


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qgen")
def main():
    """qgen: a distinct, equally hard exam variant for every student, with a worked key.

    \b
    Typical use:
      qgen papers exams/cs60010-ct2                 # example roster, PDFs in output/cs60010-ct2/
      qgen papers exams/cs60010-ct2 --roster class.csv --seed 7
      qgen families                                 # the question families and their parameters
    """


class ShardType(click.ParamType):
    """`--shard K/N`, parsed at the edge into a Shard."""
    name = "K/N"

    def convert(self, value, param, ctx):
        from .run import Shard
        if isinstance(value, Shard):
            return value
        try:
            k, n = (int(v) for v in str(value).split("/"))
        except ValueError:
            self.fail(f"{value!r}: expected K/N, for example 2/8", param, ctx)
        if not 1 <= k <= n:
            self.fail(f"{value!r}: K must be between 1 and N", param, ctx)
        return Shard(k, n)


def _folder_remedy(reason: str, out: Path) -> str:
    """The flags that get past an output folder the library refused."""
    return {"other batch": "; use another --out, or --force to replace it",
            "unreadable": f"; use --force to replace the batch in {out}"}.get(reason, "; choose another --out")


@main.command()
@click.argument("exam_dir", type=click.Path(path_type=Path))
@click.option("--roster", type=click.Path(path_type=Path), help="CSV with an id column and a name column, or a "
              "Canvas or Moodle export [default: EXAM_DIR/roster.csv].")
@click.option("--id-column", metavar="NAME", help="The roster's column of roll numbers (ids name the files).")
@click.option("--name-column", "name_columns", multiple=True, metavar="NAME",
              help="The roster's name column; repeat it to join several (first name, surname) with a space.")
@click.option("--seed", type=int, help="Master seed [default: `seed` in exam.toml].")
@click.option("--out", type=click.Path(path_type=Path), help="Output folder [default: output/<exam folder name>].")
@click.option("--tex-only", is_flag=True, help="Write .tex files and the answers without running TeX.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes, each running its own TeX [default: all cores].")
@click.option("--batch-size", type=click.IntRange(min=1), default=100, show_default=True,
              help="Students per TeX run (a failed run is retried student by student).")
@click.option("--force", is_flag=True, help="Replace an output folder that holds another batch (other seed or roster).")
@click.option("--only", "only", multiple=True, metavar="ID",
              help="Rebuild only this student's files, identically (repeatable).")
@click.option("--shard", type=ShardType(), help="Do only the K-th of N slices of the roster; a run without "
              "--shard in the same folder then merges them, reusing every PDF.")
@click.option("--quiet", "-q", is_flag=True, help="Print errors only.")
@families_option
def papers(exam_dir, roster, id_column, name_columns, seed, out, tex_only, jobs, batch_size, force, only, shard,
           quiet, family_dirs):
    """Generate every student's question paper and solution key for EXAM_DIR."""
    from .outdir import FolderError
    from .roster import ColumnError, load_roster
    from .run import Options, UnknownStudent, generate, students_in_run
    from .spec import load_exam

    if only and shard:
        _fail("--only and --shard do not go together: --only already names the students")
    say = (lambda s: None) if quiet else (lambda s: click.echo(s, err=True))
    try:
        exam = load_exam(exam_dir, family_dirs)
        students = load_roster(roster or exam.folder / "roster.csv", id_column, name_columns,
                               warn=lambda w: click.echo(f"qgen: warning: {w}", err=True))
        out = out or Path("output") / exam.folder.resolve().name
        master = seed if seed is not None else exam.seed
        say(f"qgen {__version__}: {exam.id}, {len(students)} students + ORIGINAL, seed {master} -> {out}/")
        only_ids = frozenset(only) or None
        total = students_in_run(len(students) + 1, batch_size, only_ids, shard)
        show_bar = not quiet and sys.stderr.isatty() and total > 50
        with click.progressbar(length=total, label="students", file=sys.stderr, show_eta=True,
                               show_pos=True) if show_bar else _NoBar() as bar:
            options = Options(out=out, tex_only=tex_only, workers=jobs or os.cpu_count(), batch_size=batch_size,
                              replace=force, only=only_ids, shard=shard, progress=bar.update, log=say)
            result = generate(exam, students, master, options)
    except ColumnError as exc:
        _fail(f"{exc}; choose one with --{exc.option}-column NAME")
    except UnknownStudent as exc:
        _fail(f"--only {exc.id}: no such student in the roster")
    except FolderError as exc:
        _fail(f"{exc}{_folder_remedy(exc.reason, out)}")
    except QgenError as exc:
        _fail(str(exc))
    except OSError as exc:     # an --out that is a file, read-only, a full disk
        _fail(f"{exc.filename or out}: {exc.strerror or exc}")
    for f in result.failures:
        click.echo(f"qgen: error: {f.kind} of {f.key}: {f.message}: {f.detail}", err=True)
    if not tex_only:
        say(f"wrote {len(result.written)} PDFs to {out}/papers and {out}/keys")
    if result.failures:
        _fail(f"{len(result.failures)} document(s) failed; the others are written", 1)


@main.command()
@click.option("--markdown", is_flag=True, help="Print the family reference of docs/answers-format.md instead.")
@families_option
def families(markdown, family_dirs):
    """List the question families: parameters, parts, constraints, sampling rules and answers."""
    from .reference import family_markdown, family_text
    from .registry import registry

    try:
        for fam in registry(family_dirs).values():
            click.echo(family_markdown(fam) if markdown else family_text(fam))
    except QgenError as exc:
        _fail(str(exc))


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("responses", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--id-column", metavar="NAME", help="The responses file's column of roll numbers.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="[default: OUT_DIR/grading]")
@click.option("--gradebook", type=click.Choice(["moodle", "canvas"]), help="Also write a file the LMS's grade import takes.")
def grade(out_dir, responses, id_column, out, gradebook):
    """Mark typed answers against each student's own key, and list answers copied from another
    student's paper (or the original's): grades.csv, integrity.csv, shared-wrong.csv, report.html."""
    from .grading.grade import grade_batch
    from .roster import ColumnError

    try:
        result = grade_batch(out_dir, responses, id_column, out, gradebook)
    except ColumnError as exc:
        _fail(f"{exc}; choose one with --{exc.option}-column NAME" if exc.option == "id" else str(exc))
    except QgenError as exc:
        _fail(str(exc))
    for warning in result.responses.warnings:
        click.echo(f"qgen: warning: {warning}", err=True)
    r = result.responses
    missing = sum(g.response is None for g in result.graded)
    click.echo(f"graded {len(r.by_id)} of {len(result.graded)} students ({missing} without a response, "
               f"{len(r.unknown)} responses for unknown ids, {len(r.duplicates)} with several submissions); "
               f"{len(result.pairs)} suspected pairs", err=True)
    click.echo(f"wrote {', '.join(str(p) for p in result.written)}", err=True)


for command in (check, preview, catalogue, new_family):
    main.add_command(command)


if __name__ == "__main__":
    main()
