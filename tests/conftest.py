"""Shared fixtures: the seed exam, a one-question exam for fast runs, and PDF text."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED_EXAM = ROOT / "exams" / "cs60010-ct2"
Q2_EXAM = Path(__file__).parent / "data" / "q2-only"

needs_tex = pytest.mark.skipif(shutil.which("pdflatex") is None or shutil.which("pdftotext") is None,
                               reason="pdflatex/pdftotext not installed (run `make test`, which installs them)")


@pytest.fixture(scope="session", autouse=True)
def format_cache(tmp_path_factory):
    """The tests' own cache of TeX formats (not the user's), shared by the xdist workers."""
    root = tmp_path_factory.getbasetemp()
    folder = (root.parent if root.name.startswith("popen-gw") else root) / "qgen-cache"
    os.environ["QGEN_CACHE"] = str(folder)
    return folder


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def numbers_in(text: str) -> set[int]:
    """Signed integers in text (pdftotext prints minus as U+2212)."""
    return {int(m.replace("\u2212", "-")) for m in re.findall(r"[\u2212-]?\d+", text)}


@pytest.fixture(scope="session")
def q2_build(tmp_path_factory):
    """The Q2-only exam compiled once for the example roster."""
    from generator.run import Options, generate
    from generator.roster import load_roster
    from generator.spec import load_exam

    exam = load_exam(Q2_EXAM)
    students = load_roster(Q2_EXAM / "roster.csv")
    out = tmp_path_factory.mktemp("q2") / "out"
    result = generate(exam, students, exam.seed, Options(out, workers=2))
    assert not result.failures, result.failures
    return out, exam, students


def sample_with(family, rng, overrides: dict) -> dict:
    """Sample with the family's defaults and `overrides`, validated as an exam file's would be."""
    return family.sample(rng, family.constraints(overrides))
