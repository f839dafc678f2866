"""matrix_inverse_derivative (Q1(a)): the original pinned, every identity verified by sympy,
500 seeds rendered, tampering and bad constraints caught."""

from __future__ import annotations

import copy

import pytest

from generator.family import CheckError, ConstraintError
from generator.registry import get
from generator.render import Renderer
from generator.seeding import rng_for
from conftest import sample_with

FAM = get("matrix_inverse_derivative")
MOD = FAM.module
DEFAULTS = FAM.constraints()
POINTS = {"": 3}
ORIGINAL = {"identity": "inv"}
HINT = (r"\frac{\partial \mathbf{A}\mathbf{B}}{\partial \mathbf{x}} = "
        r"\frac{\partial \mathbf{A}}{\partial \mathbf{x}}\mathbf{B} + \mathbf{A}\frac{\partial \mathbf{B}}{\partial \mathbf{x}}")


def test_original_pinned():
    a = FAM.solve(ORIGINAL).answers
    assert a["statement"] == (r"\frac{\partial}{\partial \mathbf{x}}(\mathbf{A}^{-1}) = "
                              r"-\mathbf{A}^{-1}\frac{\partial \mathbf{A}}{\partial \mathbf{x}}\mathbf{A}^{-1}")
    FAM.check(ORIGINAL, a)
    question = Renderer().slot(FAM, "question", ORIGINAL, a, FAM.solve(ORIGINAL).work, POINTS)
    assert r"Show that for a matrix $\mathbf{A}$ and vector $\mathbf{x}$," in question
    assert a["statement"] in question
    assert "Use the fact that for any two matrices" in question and HINT in question
    # The proof starts from A A^-1 = I and ends at the statement.
    assert r"\mathbf{A}\mathbf{A}^{-1} = \mathbf{I}" in a["steps"][0]
    assert a["steps"][-1].endswith(r"-\mathbf{A}^{-1}\frac{\partial \mathbf{A}}{\partial \mathbf{x}}\mathbf{A}^{-1} \]")


def test_contract_keys():
    assert FAM.spec.answer_keys == ("identity", "statement", "steps")
    assert [a.name for a in FAM.spec.answers if a.final] == ["identity", "statement"]
    assert FAM.spec.points == 3 and [p.label for p in FAM.spec.parts] == [""]
    assert list(FAM.spec.params) == ["identity"]
    a = FAM.solve(ORIGINAL).answers
    assert set(FAM.spec.answer_keys) <= set(a) and all(isinstance(s, str) for s in a["steps"])


@pytest.mark.parametrize("name", list(MOD.IDENTITIES))
def test_every_identity_and_every_step_verified_by_sympy(name):
    ident = MOD.IDENTITIES[name]
    assert MOD.verify(name) is None
    assert MOD.equal(MOD.D(ident.lhs), ident.rhs)
    for step in ident.steps:
        for left, right in zip(step.chain, step.chain[1:]):
            assert MOD.equal(left, right), (name, step.text)
    assert ident.steps[-1].chain[0] == MOD.D(ident.lhs) and ident.steps[-1].chain[-1] == ident.rhs
    answers = FAM.solve({"identity": name}).answers
    FAM.check({"identity": name}, answers)
    assert len(answers["steps"]) >= 3


def test_verifier_rejects_plausible_wrong_identities():
    A, B, D = MOD.A, MOD.B, MOD.D
    Ai = A ** -1
    assert not MOD.equal(D(Ai), -(Ai * Ai * D(A)))                  # factors in the wrong order
    assert not MOD.equal(D(Ai), Ai * D(A) * Ai)                      # sign lost
    assert not MOD.equal(D(A * B), B * D(A) + D(B) * A)              # product rule reversed
    assert not MOD.equal(D((A * B) ** -1), -(Ai * B ** -1 * D(A) * Ai) - B ** -1 * D(B) * B ** -1 * Ai)
    assert not MOD.equal(D(A ** 3), D(A) * A ** 2 + D(A) * A ** 2 + D(A) * A ** 2)   # as if A commuted with dA/dx


def test_questions_state_the_identity_and_keys_every_verified_step():
    # 500 seeds through sample, solve, check and render are the contract test's; these are Q1(a)'s own.
    renderer = Renderer()
    seen = set()
    for i in range(100):
        params = FAM.sample(rng_for(2022, "test-exam", f"student{i}", "1a"), DEFAULTS)
        assert set(params) == {"identity"} and params["identity"] in MOD.IDENTITIES
        answers = FAM.solve(params).answers
        FAM.check(params, answers)
        question = renderer.slot(FAM, "question", params, answers, FAM.solve(params).work, POINTS)
        solution = renderer.slot(FAM, "solution", params, answers, FAM.solve(params).work, POINTS)
        assert answers["statement"] in question and HINT in question
        assert r"\qgenstep" not in question and r"\qgenpart" not in question, "no proof and no marks in the question"
        assert all(line in solution for line in answers["steps"]) and r"\qgenpart" not in solution
        assert r"\textbackslash" not in question + solution, "LaTeX was escaped as text"
        seen.add(params["identity"])
    assert seen == set(MOD.IDENTITIES), "the sampler should reach every identity of the pool"


def test_restricted_pool():
    pool = ["inv", "cube"]
    got = {sample_with(FAM, rng_for(1, "e", f"s{i}", "1a"), {"pool": pool})["identity"] for i in range(60)}
    assert got == set(pool)
    assert sample_with(FAM, rng_for(1, "e", "s", "1a"), {"pool": ["inv_squared"]}) == {"identity": "inv_squared"}


@pytest.mark.parametrize("name", list(MOD.IDENTITIES))
def test_check_catches_a_tampered_statement(name):
    params = {"identity": name}
    answers = copy.deepcopy(FAM.solve(params).answers)
    other = next(n for n in MOD.IDENTITIES if n != name)
    statement = answers["statement"]
    wrongs = {FAM.solve({"identity": other}).answers["statement"],
              statement.replace("= -", "= ", 1),                   # a sign lost
              statement.replace(" + ", " - ", 1),
              statement.replace(" - ", " + ", 1),
              statement.replace(r"^{-1}", r"^{-2}", 1),            # a power changed
              statement.replace(r"\mathbf{A}^{2}", r"\mathbf{A}^{3}", 1)} - {statement}
    assert len(wrongs) >= 3
    for wrong in wrongs:
        with pytest.raises(CheckError):
            FAM.check(params, {**answers, "statement": wrong})


def test_check_catches_a_tampered_step():
    answers = copy.deepcopy(FAM.solve(ORIGINAL).answers)
    answers["steps"][1] = answers["steps"][1].replace(r"\mathbf{0}", r"\mathbf{I}")
    with pytest.raises(CheckError, match="step 2"):
        FAM.check(ORIGINAL, answers)
    with pytest.raises(CheckError):
        FAM.check(ORIGINAL, {**FAM.solve(ORIGINAL).answers, "steps": FAM.solve(ORIGINAL).answers["steps"][:-1]})


def test_unknown_or_empty_pool_fails_naming_the_constraint():
    rng = rng_for(1, "e", "s", "1a")
    with pytest.raises(ConstraintError, match="'inv_cubed'"):
        sample_with(FAM, rng, {"pool": ["inv", "inv_cubed"]})
    with pytest.raises(ConstraintError, match="pool"):
        sample_with(FAM, rng, {"pool": []})
    with pytest.raises(ConstraintError, match="pool"):
        sample_with(FAM, rng, {"pool": "inv"})


def test_solve_refuses_an_unknown_identity():
    with pytest.raises(ValueError, match="inv_cubed"):
        FAM.solve({"identity": "inv_cubed"}).answers
    with pytest.raises(CheckError):
        FAM.check({"identity": "inv_cubed"}, FAM.solve(ORIGINAL).answers)


# The printed statements, each checked by hand against the product rule (d(A^-1) = -A^-1 A' A^-1):
# a second path beside sympy's check of the expression trees they are printed from.
HAND_CHECKED = {
    "inv": r"\frac{\partial}{\partial \mathbf{x}}(\mathbf{A}^{-1}) = -\mathbf{A}^{-1}\frac{\partial \mathbf{A}}{\partial \mathbf{x}}\mathbf{A}^{-1}",
    "inv_times": r"\frac{\partial}{\partial \mathbf{x}}(\mathbf{A}^{-1}\mathbf{B}) = -\mathbf{A}^{-1}\frac{\partial \mathbf{A}}{\partial \mathbf{x}}\mathbf{A}^{-1}\mathbf{B} + \mathbf{A}^{-1}\frac{\partial \mathbf{B}}{\partial \mathbf{x}}",
    "times_inv": r"\frac{\partial}{\partial \mathbf{x}}(\mathbf{A}\mathbf{B}^{-1}) = \frac{\partial \mathbf{A}}{\partial \mathbf{x}}\mathbf{B}^{-1} - \mathbf{A}\mathbf{B}^{-1}\frac{\partial \mathbf{B}}{\partial \mathbf{x}}\mathbf{B}^{-1}",
    "inv_of_product": r"\frac{\partial}{\partial \mathbf{x}}((\mathbf{A}\mathbf{B})^{-1}) = -\mathbf{B}^{-1}\mathbf{A}^{-1}\frac{\partial \mathbf{A}}{\partial \mathbf{x}}\mathbf{A}^{-1} - \mathbf{B}^{-1}\frac{\partial \mathbf{B}}{\partial \mathbf{x}}\mathbf{B}^{-1}\mathbf{A}^{-1}",
    "inv_squared": r"\frac{\partial}{\partial \mathbf{x}}(\mathbf{A}^{-2}) = -\mathbf{A}^{-1}\frac{\partial \mathbf{A}}{\partial \mathbf{x}}\mathbf{A}^{-2} - \mathbf{A}^{-2}\frac{\partial \mathbf{A}}{\partial \mathbf{x}}\mathbf{A}^{-1}",
    "cube": r"\frac{\partial}{\partial \mathbf{x}}(\mathbf{A}^{3}) = \frac{\partial \mathbf{A}}{\partial \mathbf{x}}\mathbf{A}^{2} + \mathbf{A}\frac{\partial \mathbf{A}}{\partial \mathbf{x}}\mathbf{A} + \mathbf{A}^{2}\frac{\partial \mathbf{A}}{\partial \mathbf{x}}",
}


@pytest.mark.parametrize("identity", sorted(HAND_CHECKED))
def test_printed_statements_are_the_hand_checked_ones(identity):
    from generator.registry import get
    assert get("matrix_inverse_derivative").solve({"identity": identity}).answers["statement"] == HAND_CHECKED[identity]
