"""The commands for writing questions: check (the stress test), preview, new-family, catalogue."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import click

from . import QgenError
from .cli_edge import _fail, _target, families_option


@click.command()
@click.argument("target", metavar="FAMILY|EXAM_DIR")
@click.option("--n", "n", type=click.IntRange(min=1), default=1000, show_default=True, help="Seeds per family or slot.")
@click.option("--seed", type=int, default=0, show_default=True, help="The first seed (then S+1, S+2, ...).")
@click.option("--typeset", type=click.IntRange(min=0), default=3, show_default=True,
              help="Variants per family or slot to typeset.")
@families_option
def check(target, n, seed, typeset, family_dirs):
    """Stress-test a family, or every slot of an exam: N seeds through sample, solve and the
    independent check, every question and key rendered, a few typeset. Exits 1 on any failure,
    naming the seed (`qgen preview FAMILY --seed S` shows that variant)."""
    from .stress import Report, check_slot, format_report

    try:
        exam, is_exam = _target(target, family_dirs)
        reports = []
        for slot in exam.slots:
            label = f"slot '{slot.name}' ({slot.family.name})" if is_exam else slot.family.name
            where = f"qgen preview {target if is_exam else slot.family.name}" + \
                "".join(f" --families {shlex.quote(str(d))}" for d in family_dirs) + " --seed"
            report = check_slot(exam, slot, Report(label, where), n, seed, typeset,
                                columns=_original_columns(exam, slot) if is_exam else None)
            click.echo(format_report(report))
            reports.append(report)
    except QgenError as exc:
        _fail(str(exc))
    if not all(r.ok for r in reports):
        _fail(f"{sum(len(r.failures) for r in reports)} failure(s)", 1)


def _original_columns(exam, slot) -> list[str]:
    """The answer columns of the slot's original values: every student's must be the same."""
    from .columns import slot_columns
    from .values import to_json
    answers = to_json(slot.family.solve(slot.original).answers)
    return [c.header for c in slot_columns(slot.family.spec, slot.question, slot.part, answers) if c.final]


@click.command()
@click.argument("target", metavar="FAMILY|EXAM_DIR")
@click.option("--seed", type=int, help="Draw the variant `qgen check` calls seed N [default: 0].")
@click.option("--student", metavar="ID", help="For an exam: the paper this student of its roster gets.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="The PDF [default: output/preview/<name>.pdf].")
@click.option("--watch", is_flag=True, help="Write it again whenever a file of the family or exam changes.")
@families_option
def preview(target, seed, student, out, watch, family_dirs):
    """Write one question (or a whole exam) as paper and key in one PDF, without a roster."""
    from . import preview as pv

    def once():
        started = time.perf_counter()
        exam, is_exam = _target(target, family_dirs)
        if student and not is_exam:
            raise QgenError("--student needs an exam folder (a family has no roster)")
        pdf = out or Path("output") / "preview" / f"{Path(target).name if is_exam else target}.pdf"
        pv.preview(exam, pdf, seed=seed, student=student)
        click.echo(f"wrote {pdf} ({time.perf_counter() - started:.1f} s)", err=True)
        return exam

    try:
        exam = once()
    except QgenError as exc:
        _fail(str(exc))
    if watch:
        click.echo("watching for changes (Ctrl-C to stop)", err=True)

        def redo():
            try:
                once()
            except QgenError as exc:
                click.echo(f"qgen: error: {exc}", err=True)
        try:
            pv.watch(lambda: pv.sources_of(exam), redo)
        except KeyboardInterrupt:
            pass


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("output") / "bank.pdf",
              show_default=True, help="The PDF to write.")
@families_option
def catalogue(out, family_dirs):
    """Write the question bank as one PDF: per family, by topic, its parts, marks, constraints and
    an example question with its key."""
    from .catalogue import catalogue as write
    from .registry import family_roots, registry
    from .render import Renderer

    try:
        families = list(registry(family_dirs).values())
        write(families, out, Renderer(family_roots=family_roots(family_dirs)))
    except QgenError as exc:
        _fail(str(exc))
    click.echo(f"wrote {out} ({len(families)} families)", err=True)


@click.command("new-family")
@click.argument("name")
@click.option("--in", "folder", type=click.Path(file_okay=False, path_type=Path), default=Path("families"),
              show_default=True, help="The folder to write it in (an exam's families/, or --families DIR).")
@families_option
def new_family(name, folder, family_dirs):
    """Write a working family folder to edit (sample/solve/check, templates, README)."""
    from .authoring import new_family as write

    try:
        path = write(name, folder, family_dirs)
    except QgenError as exc:
        _fail(str(exc))
    click.echo(f"wrote {path}/: __init__.py, question.tex.j2, solution.tex.j2, README.md\n"
               f"next: qgen check {name} --families {folder}   and   qgen preview {name} --families {folder}")


