"""The documentation a user has lives in the repository and says what the code does."""

from __future__ import annotations

import os
import re
import subprocess

from conftest import ROOT
from generator.reference import families_markdown
from generator.registry import registry

ANSWERS_FORMAT = ROOT / "docs" / "answers-format.md"


def test_the_family_reference_in_the_docs_is_current():
    text = ANSWERS_FORMAT.read_text(encoding="utf-8")
    begin, end = "<!-- families:begin -->\n", "<!-- families:end -->"
    current = families_markdown(list(registry().values()))
    if os.environ.get("QGEN_UPDATE_DOCS") == "1":
        text = text[:text.index(begin) + len(begin)] + current + text[text.index(end):]
        ANSWERS_FORMAT.write_text(text, encoding="utf-8")
    documented = text[text.index(begin) + len(begin):text.index(end)]
    assert documented == current, "docs/answers-format.md is behind the families; QGEN_UPDATE_DOCS=1 make test"


def test_every_family_is_documented_with_its_params_and_answers():
    text = ANSWERS_FORMAT.read_text(encoding="utf-8")
    for fam in registry().values():
        assert f"### `{fam.name}`" in text
        for name in [*fam.spec.params, *(a.name for a in fam.spec.answers)]:
            assert f"| `{name}` |" in text, (fam.name, name)


def test_no_file_a_user_has_points_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    for rel in tracked:
        path = ROOT / rel
        if path.suffix in (".py", ".md", ".j2", ".toml", ".sh", ".csv", ".txt", "") and path.is_file() \
                and rel != "tests/test_docs.py":
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not re.search(r"\.\./shared|DESIGN\.md", text), rel


def test_the_readme_links_the_docs_and_every_exam_key_is_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for doc in ("docs/exam-file.md", "docs/answers-format.md"):
        assert doc in readme and (ROOT / doc).is_file()
    from generator.spec import HEADER_KEYS, SLOT_KEYS, TOP_KEYS
    exam_file = (ROOT / "docs" / "exam-file.md").read_text(encoding="utf-8")
    for key in [*TOP_KEYS, *HEADER_KEYS, *SLOT_KEYS]:
        assert f"| `{key}` |" in exam_file, key
