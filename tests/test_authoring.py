"""Writing a family as an instructor would: new-family, check, preview; families outside the
package; errors that point at what the author wrote."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Q2_EXAM, SEED_EXAM, needs_tex, pdf_text
from generator import QgenError
from generator.cli import main
from generator.family import ContractError
from generator.render import Renderer
from generator.registry import family_folders, load_family
from generator.spec import load_exam


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def new_family(tmp_path: Path, name: str) -> Path:
    result = run("new-family", name, "--in", tmp_path / "fams")
    assert result.exit_code == 0, result.output
    return tmp_path / "fams" / name


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


@needs_tex
def test_a_new_family_passes_check_as_it_is(tmp_path):
    folder = new_family(tmp_path, "softmax_demo")
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "__init__.py", "question.tex.j2", "solution.tex.j2"]
    result = run("check", "softmax_demo", "--families", tmp_path / "fams", "--n", 200)
    assert result.exit_code == 0, result.output
    assert "softmax_demo: 200 seeds, ok" in result.output
    assert re.search(r"distinct: \d+ variants of 200; largest share", result.output)
    assert "rules:" in result.output and "time:" in result.output and "typeset 3" in result.output


def test_new_family_refuses_a_taken_or_bad_name(tmp_path):
    result = run("new-family", "relu_net_backprop", "--in", tmp_path)
    assert result.exit_code == 2 and "a family of that name exists already" in result.output
    assert run("new-family", "Bad-Name", "--in", tmp_path).exit_code == 2


def test_a_check_that_disagrees_with_solve_fails_naming_the_seed(tmp_path):
    folder = new_family(tmp_path, "wrong_demo")
    # The "independent" path is off whenever x is negative: check must say so, with the seed.
    edit(folder / "__init__.py", '"dy_dw": (forward(w + eps) - forward(w - eps)) / (2 * eps)}',
         '"dy_dw": (forward(w + eps) - forward(w - eps)) / (2 * eps) * (1.5 if x < 0 else 1)}')
    result = run("check", "wrong_demo", "--families", tmp_path / "fams", "--n", 50, "--typeset", 0)
    assert result.exit_code == 1
    m = re.search(r"FAILED seed (\d+)( and \d+ more seeds)?: check: wrong_demo: dy_dw = ", result.output)
    assert m, result.output
    # The command it names works as it is: with the --families the check was given.
    assert f"see: qgen preview wrong_demo --families {tmp_path / 'fams'} --seed {m.group(1)}" in result.output
    assert "a family in another folder needs --families DIR" in run("check", "wrong_demo").output


@needs_tex
def test_preview_writes_paper_and_key_of_the_seed_check_names(tmp_path):
    out = tmp_path / "p.pdf"
    result = run("preview", "relu_net_backprop", "--seed", 3, "--out", out)
    assert result.exit_code == 0, result.output
    text = pdf_text(out)
    assert "SOLUTION KEY" in text and "Find the following values" in text
    import numpy as np
    from generator.registry import get
    fam = get("relu_net_backprop")
    params = fam.sample(np.random.default_rng(3), fam.constraints())
    assert re.search(rf"w11\s*=\s*{params['w'][0][0]}".replace("-", "[-\u2212]"), text)


@needs_tex
def test_preview_of_an_exam_student_is_their_paper(tmp_path):
    out = tmp_path / "s.pdf"
    result = run("preview", Q2_EXAM, "--student", "21CS10001", "--out", out)
    assert result.exit_code == 0, result.output
    assert "Aarav Sharma" in pdf_text(out) and "21CS10001" in pdf_text(out)


@needs_tex
def test_check_of_the_seed_exam_reports_every_slot(tmp_path):
    result = run("check", SEED_EXAM, "--n", 60, "--typeset", 1)
    assert result.exit_code == 0, result.output
    for slot in ("1a", "1b", "2", "3"):
        assert re.search(rf"slot '{slot}' \(\w+\): 60 seeds, ok\n.*\n  distinct: \d+ variants of 60; largest share",
                         result.output), slot


@needs_tex
def test_a_tex_error_in_a_family_template_names_that_template_and_line(tmp_path):
    folder = new_family(tmp_path, "typo_demo")
    lines = (folder / "question.tex.j2").read_text().splitlines(keepends=True)
    lines.insert(3, r"Note: \oops is a typo." + "\n")
    (folder / "question.tex.j2").write_text("".join(lines))
    result = run("check", "typo_demo", "--families", tmp_path / "fams", "--n", 3, "--typeset", 1)
    assert result.exit_code == 1
    assert f"{folder / 'question.tex.j2'}:4: Undefined control sequence" in result.output, result.output


def test_a_template_that_prints_what_it_cannot_format_names_file_line_and_variable(tmp_path):
    folder = new_family(tmp_path, "print_demo")
    edit(folder / "__init__.py", '"work": {"dy_dz": dy_dz}', '"work": {"dy_dz": dy_dz, "ratio": 0.125, "table": {1: 2}}')
    edit(folder / "solution.tex.j2", "By the chain rule,", r"Ratio \VAR{ w.ratio }. By the chain rule,")
    fam = load_family(family_folders([tmp_path / "fams"])["print_demo"])
    solution = fam.solve({"x": 1, "w": 1, "b": 1})
    pts = {"a": 2, "b": 2}
    assert "Ratio 0.125." in Renderer(family_roots=[tmp_path / "fams"]).slot(fam, "solution", {"x": 1, "w": 1, "b": 1},
                                                                             solution.answers, solution.work, pts)
    edit(folder / "question.tex.j2", "Find $z$ and $y$.", r"Find $z$ and $y$ (\VAR{ p.x }, \VAR{ p.table }).")
    with pytest.raises(QgenError, match=rf"{re.escape(str(folder / 'question.tex.j2'))}:\d+: .*table"):
        Renderer(family_roots=[tmp_path / "fams"]).slot(fam, "question", {"x": 1, "w": 1, "b": 1, "table": {1: 2}},
                                                        solution.answers, solution.work, pts)


def test_families_are_found_next_to_the_exam_by_option_and_by_environment(tmp_path):
    exam = tmp_path / "exam"
    shutil.copytree(Q2_EXAM, exam)
    new_family(tmp_path, "own_demo")
    shutil.move(tmp_path / "fams" / "own_demo", exam / "families" / "own_demo")
    edit(exam / "exam.toml", 'family = "relu_net_backprop"\npoints = 10\n[slot.original]\nx = [5, 2]\nw = [[-1, 3], [1, 2]]',
         'family = "own_demo"\npoints = 4\n[slot.original]\nx = 2\nw = -1\nb = 1')
    edit(exam / "exam.toml", "full_marks = 10", "full_marks = 4")
    assert load_exam(exam).slots[0].family.name == "own_demo"
    new_family(tmp_path / "other", "elsewhere_demo")
    assert "elsewhere_demo" in run("families", "--families", tmp_path / "other" / "fams").output
    assert "elsewhere_demo" in run("families", env={"QGEN_FAMILIES": str(tmp_path / "other" / "fams")}).output
    twin = tmp_path / "twin"
    shutil.copytree(tmp_path / "other" / "fams", twin)
    result = run("families", "--families", tmp_path / "other" / "fams", "--families", twin)
    assert result.exit_code == 2
    assert "family 'elsewhere_demo' is defined twice: in " in result.output and str(twin) in result.output


def test_solve_must_return_exactly_the_declared_answers(tmp_path):
    folder = new_family(tmp_path, "extra_demo")
    edit(folder / "__init__.py", '"answers": {"z": z, "y": y, "dy_dw": dy_dz * x},',
         '"answers": {"z": z, "y": y, "dy_dw": dy_dz * x, "dy_dz": dy_dz},')
    fam = load_family(family_folders([tmp_path / "fams"])["extra_demo"])
    with pytest.raises(ContractError, match=r"solve\(\) returned answers .*'dy_dz'.* but FAMILY declares"):
        fam.solve({"x": 1, "w": 1, "b": 1})
    folder = new_family(tmp_path / "second", "float_demo")
    edit(folder / "__init__.py", '"answers": {"z": z, "y": y,', '"answers": {"z": z, "y": float(y),')
    fam = load_family(family_folders([tmp_path / "second" / "fams"])["float_demo"])
    with pytest.raises(ContractError, match=r"answer 'y' is the float 0\.8807.*give sympy values"):
        fam.solve({"x": 1, "w": 1, "b": 1})
