"""Benchmark: N synthetic students end to end, per stage, against the naive path in the same run.

    python bench/bench.py [--students 1000] [--naive 6] [--jobs N] [--rss-students 10000] [--keep]

Stages are worker-seconds per student summed over the process pool (sample: drawing every
student's numbers; solve: sympy + the independent check; render: Jinja; compile: TeX and
splitting; print files: papers.pdf and keybook.pdf). End to end is wall-clock time of one
`generate` on a cold output folder, with the preamble's TeX format kept (texcache) by a first
run, whose own time is printed too. The naive path typesets each student's paper and key as
documents of their own, one pdflatex run per document, in series, on a sample of students.
The whole command is `qgen papers` timed from process start to exit into a new folder; the
preview is `qgen preview relu_net_backprop --seed 3`, process start to exit: the median of
three runs after a first, which dumps the family's format. Peak memory is
measured on a `qgen papers` run of --rss-students students (about 4 minutes at 10,000 here).
Targets: end to end <= 0.009 s per student at N = 1,000 on 2 cores and >= 100x the naive path;
the whole command <= 0.012 s per student; per-student PDFs <= 100 KB; preview <= 1.5 s; peak RSS
< 1 GB at N = 10,000.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.run import Options, generate  # noqa: E402
from generator.compile import tex_env  # noqa: E402
from generator.roster import Student  # noqa: E402
from generator.spec import load_exam  # noqa: E402

TARGET_S_PER_STUDENT = 0.009
TARGET_RATIO = 100
TARGET_COMMAND_S = 0.012
TARGET_PDF_KB = 100
TARGET_RSS_MB = 1024
TARGET_PREVIEW_S = 1.5


def whole_command(exam: Path, students, work: Path) -> float:
    """Seconds per student of `qgen papers` as a user runs it: process start to exit, new folder."""
    roster = work / "roster.csv"
    roster.write_text("id,name\n" + "".join(f"{s.id},{s.name}\n" for s in students), encoding="utf-8")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "generator", "papers", str(exam), "--roster", str(roster), "--out",
                    str(work / "command"), "--quiet"], cwd=ROOT, check=True)
    return (time.perf_counter() - started) / (len(students) + 1)


def command_rss_mb(exam: Path, count: int, work: Path) -> tuple[float, float]:
    """`qgen papers` for `count` students in a child process: (seconds per student, peak RSS
    in MB of its largest process: qgen itself, a pool worker or TeX)."""
    students = [Student(f"25BM{i:05d}", f"Bench Student {i}") for i in range(count)]
    roster = work / "big-roster.csv"
    roster.write_text("id,name\n" + "".join(f"{s.id},{s.name}\n" for s in students), encoding="utf-8")
    script = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, sys.executable, "-m", "generator", "papers", str(exam),
                           "--roster", str(roster), "--out", str(work / "big"), "--quiet"],
                          cwd=ROOT, check=True, capture_output=True, text=True)
    return (time.perf_counter() - started) / (count + 1), int(done.stdout.split()[-1]) / 1024


def largest_kb(folder: Path) -> float:
    return max(p.stat().st_size for p in folder.glob("*.pdf")) / 1024


def naive(tex_dir: Path, ids: list[str], work: Path, passes: int) -> float:
    """Seconds per student: each paper and key .tex typeset alone, one pdflatex run each, in series."""
    started = time.perf_counter()
    for sid in ids:
        for folder in ("papers", "keys"):
            src = tex_dir / folder / f"{sid}.tex"
            shutil.copy(src, work / "doc.tex")
            for _ in range(passes):
                subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=work,
                               env=tex_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - started) / len(ids)


def preview_wall(work: Path, runs: int = 3) -> list[float]:
    """Seconds, process start to exit, of `qgen preview relu_net_backprop --seed 3`: the first
    run (the family's format not kept yet), then `runs` more."""
    times = []
    for i in range(runs + 1):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "generator", "preview", "relu_net_backprop", "--seed", "3",
                        "--out", str(work / f"preview-{i}.pdf")], cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=1000)
    ap.add_argument("--naive", type=int, default=6, help="students typeset the naive way (a sample)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--exam", type=Path, default=ROOT / "exams" / "cs60010-ct2")
    ap.add_argument("--rss-students", type=int, default=10_000,
                    help="students of the run whose peak memory is measured (0: skip it)")
    ap.add_argument("--keep", action="store_true", help="keep the generated folder")
    args = ap.parse_args()

    exam = load_exam(args.exam)
    students = [Student(f"25BM{i:05d}", f"Bench Student {i}") for i in range(args.students)]
    scratch = Path(tempfile.mkdtemp(prefix="qgen-bench-"))
    # A cache of TeX formats of the bench's own, empty at first: the first run dumps the
    # preamble's format as a first run on a new machine does; the timed run (and every
    # command after it) finds it kept, as every later run of an unchanged exam does.
    os.environ["QGEN_CACHE"] = str(scratch / "cache")
    started = time.perf_counter()
    first = generate(exam, students, exam.seed, Options(scratch / "first", workers=args.jobs))
    first_wall = time.perf_counter() - started
    out = scratch / "out"
    started = time.perf_counter()
    result = generate(exam, students, exam.seed, Options(out, workers=args.jobs))
    wall = time.perf_counter() - started
    if result.failures or first.failures:
        print(f"{len(result.failures) + len(first.failures)} documents failed", file=sys.stderr)
        return 1
    shutil.rmtree(scratch / "first")
    n = len(students) + 1          # the ORIGINAL paper is made too
    work = scratch / "naive"
    work.mkdir()
    sample = [s.id for s in students[:args.naive]]
    # The naive path: a document per paper and key, 2 passes each (what "Page i of n" needs
    # with the usual \pageref{LastPage}), in series. qgen's own documents need one pass, so the
    # 1-pass figure is printed too: it is the naive path with qgen's one-pass shell.
    naive_s = naive(out / "tex", sample, work, passes=2) if sample else float("nan")
    naive_1 = naive(out / "tex", sample, work, passes=1) if sample else float("nan")
    command_s = whole_command(args.exam, students, work)
    preview_first, *previews = preview_wall(work)
    preview_s = sorted(previews)[len(previews) // 2]
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    big_s, big_rss = command_rss_mb(args.exam, args.rss_students, work) if args.rss_students else (0.0, 0.0)

    per = wall / n
    ratio = naive_s / per
    print(f"qgen bench: {args.students} students + ORIGINAL, {args.jobs} jobs, {os.cpu_count()} cores")
    print(f"{'stage':<28}{'s/student':>12}   (worker-seconds, summed over the pool)")
    for stage in ("sample", "solve", "render", "compile", "print files"):
        print(f"  {stage:<26}{result.seconds.get(stage, 0.0) / n:>12.4f}")
    print(f"{'end to end (wall)':<28}{per:>12.4f}   {wall:.1f} s in all, the format kept from the first run")
    print(f"{'end to end, first run':<28}{first_wall / n:>12.4f}   {first_wall:.1f} s in all, dumping the format")
    print(f"{'naive, 2 passes':<28}{naive_s:>12.4f}   a run per document, over {len(sample)} students")
    print(f"{'naive, 1 pass':<28}{naive_1:>12.4f}   the same with qgen's one-pass shell")
    print(f"{'speed-up over naive':<28}{ratio:>11.1f}x   ({naive_1 / per:.1f}x over the 1-pass naive path)")
    print(f"{'peak RSS':<28}{rss_self:>9.0f} MB (qgen)  {rss_children:.0f} MB (largest child)")
    if args.rss_students:
        print(f"{'peak RSS at N = ' + format(args.rss_students, ','):<28}{big_rss:>9.0f} MB (largest process of "
              f"`qgen papers`, {big_s:.4f} s per student)")
    print(f"{'qgen preview (wall)':<28}{preview_s:>12.2f}   median of {', '.join(f'{t:.2f}' for t in previews)} s "
          f"(the first, dumping the family's format: {preview_first:.2f} s)")
    print(f"{'qgen papers (command)':<28}{command_s:>12.4f}   process start to exit, a new folder")
    paper_kb, key_kb = largest_kb(out / "papers"), largest_kb(out / "keys")
    print(f"{'largest PDF':<28}{paper_kb:>9.0f} KB (paper)  {key_kb:.0f} KB (key); papers.pdf "
          f"{(out / 'papers.pdf').stat().st_size / 1024:.0f} KB for {args.students} students")
    verdicts = [
        (per <= TARGET_S_PER_STUDENT, f"end to end {per:.4f} s/student (target <= {TARGET_S_PER_STUDENT})"),
        (ratio >= TARGET_RATIO, f"{ratio:.1f}x the naive path (target >= {TARGET_RATIO}x)"),
        (command_s <= TARGET_COMMAND_S, f"qgen papers {command_s:.4f} s/student (target <= {TARGET_COMMAND_S})"),
        (max(paper_kb, key_kb) <= TARGET_PDF_KB, f"per-student PDFs {paper_kb:.0f} / {key_kb:.0f} KB "
                                                 f"(target <= {TARGET_PDF_KB} KB)"),
        (preview_s <= TARGET_PREVIEW_S, f"qgen preview of one family {preview_s:.2f} s (target <= {TARGET_PREVIEW_S})"),
        (big_rss < TARGET_RSS_MB if args.rss_students else max(rss_self, rss_children) < TARGET_RSS_MB,
         f"peak RSS {big_rss if args.rss_students else max(rss_self, rss_children):.0f} MB at "
         f"N = {args.rss_students or args.students:,} (target < {TARGET_RSS_MB} MB at 10,000)"),
    ]
    for ok, text in verdicts:
        print(f"  {'met ' if ok else 'MISSED'}  {text}")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.json").write_text(json.dumps({
        "students": args.students, "jobs": args.jobs, "cores": os.cpu_count(), "wall_s": wall,
        "s_per_student": per, "first_run_s_per_student": first_wall / n, "stages": {k: v / n for k, v in result.seconds.items()},
        "naive_s_per_student": naive_s, "naive_1pass_s_per_student": naive_1, "ratio": ratio, "rss_mb": max(rss_self, rss_children),
        "rss_students": args.rss_students, "rss_mb_at_rss_students": big_rss, "rss_run_s_per_student": big_s,
        "preview_s": previews, "preview_first_s": preview_first, "command_s_per_student": command_s, "largest_pdf_kb": [paper_kb, key_kb]}, indent=1))
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        print(f"kept {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
