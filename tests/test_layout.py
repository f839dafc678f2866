"""The package's shape: data flows one way (no module imports one later in the flow), modules
and functions stay small enough to read."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "generator"

# The flow, earliest first: foundations, then spec -> plan -> render -> compile -> writers -> run -> cli.
FLOW = [
    "files", "values", "texmap", "constraints", "sampling", "family", "columns", "registry", "reference", "seeding", "fonts", "sources", "outdir",
    "spec", "roster",
    "plan", "drawing",
    "render", "documents",
    "pdfsplit", "t1subset", "compile", "texcache", "preflight", "work",
    "writers", "writers.answers", "writers.prints", "writers.manifest",
    "run",
    "preview", "stress", "authoring", "catalogue",
    "grading", "grading.typed", "grading.responses", "grading.marking", "grading.integrity", "grading.outputs",
    "grading.grade",
    "cli_edge", "cli_author", "cli",
]


def _module(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Package modules `path` imports (relative imports resolved)."""
    here = _module(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(target)
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if target else alias.name)
    return {m for m in found if m in FLOW}


def _sources():
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "families" not in p.parts and p.name != "__main__.py"
            and _module(p) != ""]


def test_every_module_has_a_place_in_the_flow():
    assert sorted(_module(p) for p in _sources()) == sorted(FLOW)


def test_no_module_imports_one_later_in_the_flow():
    for path in _sources():
        me = FLOW.index(_module(path))
        later = sorted(m for m in _imports(path) if FLOW.index(m) > me)
        assert not later, f"{_module(path)} imports {later}, later in the flow"


def test_modules_and_functions_stay_small():
    for path in _sources():
        text = path.read_text()
        assert text.count("\n") <= 300, f"{path.name}: {text.count(chr(10))} lines"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= 60, f"{path.name}:{node.lineno} {node.name}() is {length} lines"
