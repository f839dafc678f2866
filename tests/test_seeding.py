"""Seeding: named not positional, reproducible, independent of the rest of the roster, distinct."""

from __future__ import annotations

import json
import multiprocessing
import signal

import pytest

from generator import QgenError
from generator import plan as plan_module
from generator.drawing import Drawing
from generator.run import Options, generate
from generator.plan import answers_document, draw, plan, student_record
from generator.seeding import rng_for, seed_material
from generator.roster import Student, load_roster
from generator.spec import load_exam

from conftest import Q2_EXAM


@pytest.fixture(scope="module")
def exam():
    return load_exam(Q2_EXAM)


@pytest.fixture(scope="module")
def roster():
    return load_roster(Q2_EXAM / "roster.csv")


def test_every_name_changes_the_stream():
    base = seed_material(1, "exam", "s1", "2")
    assert len({base, seed_material(2, "exam", "s1", "2"), seed_material(1, "exam2", "s1", "2"),
                seed_material(1, "exam", "s2", "2"), seed_material(1, "exam", "s1", "3"),
                seed_material(1, "exam", "s1", "2", attempt=1)}) == 6
    # Joining names must not be ambiguous.
    assert seed_material(1, "ab", "c", "2") != seed_material(1, "a", "bc", "2")
    assert rng_for(1, "e", "s", "2").integers(1 << 60) == rng_for(1, "e", "s", "2").integers(1 << 60)


def test_same_inputs_give_the_same_answers_and_tex(exam, roster, tmp_path):
    for run in ("one", "two"):
        generate(exam, roster, 11, Options(tmp_path / run, tex_only=True))
    for rel in ["answers.json", "answers.csv", "tex/papers/21CS10001.tex", "tex/keys/21CS30011.tex"]:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes(), rel


def test_adding_or_reordering_students_changes_no_one_else(exam, roster):
    before = {v.student.id: v.fingerprint for v in draw(exam, roster, 5)}
    bigger = list(reversed(roster)) + [Student(f"22NEW{i:04d}", f"New {i}") for i in range(40)]
    after = {v.student.id: v.fingerprint for v in draw(exam, bigger, 5)}
    assert all(after[sid] == fp for sid, fp in before.items())


def test_two_students_never_share_a_variant(exam):
    students = [Student(f"S{i:04d}", "") for i in range(400)]
    variants = draw(exam, students, 3)
    assert len({v.fingerprint for v in variants}) == len(variants)


def test_a_collision_is_redrawn_by_the_later_id(exam):
    # Shrink the space to two variants: x = [1, 1], each unit's weights both 1 or both -1.
    slot = exam.slots[0]
    tiny = {**slot.constraints, "input_range": [1, 1], "weight_range": [-1, 1], "distinct_inputs": False,
            "w12_differs_from_w21": False}
    small_exam = type(exam)(exam.id, exam.seed, exam.header, (type(slot)(**{**slot.__dict__, "constraints": tiny}),),
                            exam.folder, exam.path)
    for seed in range(5):
        variants = draw(small_exam, [Student("S1", ""), Student("S2", "")], seed)
        assert len({v.fingerprint for v in variants}) == 3
    with pytest.raises(QgenError, match="could not find a variant distinct"):
        draw(small_exam, [Student(f"S{i}", "") for i in range(3)], 1)


def test_drawing_in_several_processes_gives_the_drafts_and_the_error_of_one(exam, monkeypatch):
    students = [Student(f"S{i:04d}", "") for i in range(3 * Drawing.PARALLEL_FROM)]
    drawing = Drawing(exam, students, 3, workers=3)
    assert len(drawing._chunks) == 3, "a roster this long is drawn in three processes"
    assert drawing.result() == draw(exam, students, 3)
    assert drawing.seconds > 0 and not multiprocessing.active_children()
    # A student drawn by another process fails: the run names that student, as drawing alone does.
    real = plan_module._first_draw

    def failing(exam_, seed, student):
        if student.id in ("S0500", "S1100"):     # the second and third processes'
            raise QgenError(f"student {student.id}: no draw")
        return real(exam_, seed, student)
    monkeypatch.setattr(plan_module, "_first_draw", failing)
    with pytest.raises(QgenError, match="student S0500: no draw"):
        Drawing(exam, students, 3, workers=3).result()
    assert not multiprocessing.active_children()


class _Unpicklable(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a} and {b}")


def test_a_worker_error_that_cannot_be_pickled_is_raised_not_waited_for(exam, monkeypatch):
    students = [Student(f"S{i:04d}", "") for i in range(Drawing.PARALLEL_FROM)]
    assert len(Drawing(exam, students[:-1], 3, workers=2)._chunks) == 1, "from PARALLEL_FROM students on"
    real, fault = plan_module._first_draw, {}

    def failing(exam_, seed, student):      # S0300 is drawn by the second process
        made = real(exam_, seed, student)
        if student.id != "S0300":
            return made
        if fault["kind"] == "error":
            raise _Unpicklable("one", "two")
        return type(made)(student, tuple((slot, {**params, "f": lambda: 0}, attempt)
                                         for slot, params, attempt in made.slots))
    monkeypatch.setattr(plan_module, "_first_draw", failing)
    signal.alarm(60)        # a hang fails the test instead of stopping the suite
    try:
        fault["kind"] = "error"
        with pytest.raises(RuntimeError, match="_Unpicklable: one and two"):
            Drawing(exam, students, 3, workers=2).result()
        fault["kind"] = "value"
        with pytest.raises(QgenError, match="a sampler returned a value that is not plain data"):
            Drawing(exam, students, 3, workers=2).result()
    finally:
        signal.alarm(0)
    assert not multiprocessing.active_children()


def test_seed_override_changes_variants_but_not_original(exam, roster):
    a = answers_document(exam, 1, [student_record(v) for v in plan(exam, roster, 1)])
    b = answers_document(exam, 2, [student_record(v) for v in plan(exam, roster, 2)])
    assert a["students"][0] == b["students"][0] and a["students"][0]["id"] == "ORIGINAL"
    assert json.dumps(a["students"][1:]) != json.dumps(b["students"][1:])
