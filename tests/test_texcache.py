"""The cache of TeX formats between runs: a second preview or run of the same preamble is
typeset from the kept format, with the same bytes as the first and as a run without a cache;
a bad cached format costs time, never papers; the cache stays small."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import Q2_EXAM, needs_tex
from generator import compile as tex, preflight as pf, preview as pv, texcache
from generator.roster import Student
from generator.run import Options, generate
from generator.spec import load_exam


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("QGEN_CACHE", str(folder))
    return folder


@pytest.fixture
def tex_runs(monkeypatch):
    """Every TeX run of preview and preflight, as (jobname, whether from a format)."""
    runs = []
    real = tex.run_tex

    def recording(source, workdir, jobname="doc", *args, formats=(), **kw):
        runs.append((jobname, any(source.startswith(f.preamble) for f in formats)))
        return real(source, workdir, jobname, *args, formats=formats, **kw)

    monkeypatch.setattr(pv, "run_tex", recording)
    monkeypatch.setattr(pf, "run_tex", recording)
    return runs


def _family_exam():
    from generator.registry import registry
    return pv.family_exam(registry(())["relu_net_backprop"])


@needs_tex
def test_a_second_preview_is_typeset_from_the_kept_format_with_the_same_bytes(cache, tex_runs, tmp_path):
    exam = _family_exam()
    first = pv.preview(exam, tmp_path / "first.pdf", seed=3).read_bytes()
    assert ("paper", False) in tex_runs and ("key", False) in tex_runs      # plainly, and checked
    assert len(list(cache.glob("formats/*/*.fmt"))) == 1 and len(list(cache.glob("formats/*/*.checked"))) == 1
    tex_runs.clear()
    second = pv.preview(exam, tmp_path / "second.pdf", seed=3).read_bytes()
    assert sorted(tex_runs) == [("key", True), ("paper", True)]
    assert second == first


@needs_tex
def test_a_second_run_skips_the_plain_check_and_writes_the_same_files(cache, tex_runs, tmp_path, monkeypatch):
    exam = load_exam(Q2_EXAM)
    students = [Student("25BM00001", "Asha Rao"), Student("25BM00002", "Émile Ñúñez")]
    generate(exam, students, exam.seed, Options(tmp_path / "cold", workers=1))
    assert any(name.endswith("-plain") for name, _ in tex_runs)
    tex_runs.clear()
    generate(exam, students, exam.seed, Options(tmp_path / "warm", workers=1))
    assert tex_runs and all(from_format for _, from_format in tex_runs), tex_runs
    monkeypatch.setenv("QGEN_CACHE", os.devnull)       # no cache at all: dumped per run as before
    generate(exam, students, exam.seed, Options(tmp_path / "none", workers=1))
    for folder in ("papers", "keys"):
        for pdf in (tmp_path / "cold" / folder).glob("*.pdf"):
            assert (tmp_path / "warm" / folder / pdf.name).read_bytes() == pdf.read_bytes()
            assert (tmp_path / "none" / folder / pdf.name).read_bytes() == pdf.read_bytes()


@needs_tex
def test_a_damaged_cached_format_costs_time_never_papers(cache, tmp_path):
    exam = load_exam(Q2_EXAM)
    students = [Student("25BM00001", "Asha Rao")]
    generate(exam, students, exam.seed, Options(tmp_path / "a", workers=1))
    (kept,) = cache.glob("formats/*/*.fmt")
    kept.write_bytes(b"not a format")
    result = generate(exam, students, exam.seed, Options(tmp_path / "b", workers=1))
    assert not result.failures
    assert (tmp_path / "b" / "keys" / "25BM00001.pdf").read_bytes() == (tmp_path / "a" / "keys" / "25BM00001.pdf").read_bytes()
    assert not kept.exists() and not list(cache.glob("formats/*/*.checked"))     # dropped, dumped anew next time


def test_the_cache_keeps_the_most_recently_used_formats_only(cache):
    folder = cache / "formats" / "tex"
    folder.mkdir(parents=True)
    for i in range(texcache.KEEP + 3):
        (folder / f"qgen-{i}.fmt").write_bytes(b"x")
        (folder / f"qgen-{i}.checked").touch()
        os.utime(folder / f"qgen-{i}.fmt", (1000 + i, 1000 + i))
    texcache._prune(cache / "formats")
    assert sorted(p.name for p in folder.glob("*.fmt")) == sorted(f"qgen-{i}.fmt" for i in range(3, texcache.KEEP + 3))
    assert not (folder / "qgen-0.checked").exists() and (folder / "qgen-3.checked").exists()


def test_the_cache_is_where_the_environment_says(monkeypatch, tmp_path):
    monkeypatch.setenv("QGEN_CACHE", str(tmp_path / "q"))
    assert texcache.root() == tmp_path / "q"
    monkeypatch.delenv("QGEN_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert texcache.root() == tmp_path / "xdg" / "qgen"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert texcache.root() == Path.home() / ".cache" / "qgen"
