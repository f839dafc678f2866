"""The one Jinja environment for LaTeX, its filters, and the renderer of family bodies and shells.

Delimiters are LaTeX-friendly (`\\BLOCK{}`, `\\VAR{}`, `\\#{}`, `%#` line comments), undefined
names are errors, and `finalize` prints every value through `values.to_latex`, which escapes
plain strings (roster names included) so that text never runs as TeX. Templates only read
values: formatting lives in the filters below.
"""

from __future__ import annotations

import copy
import hashlib
import re
import sysconfig
import unicodedata
from pathlib import Path
from typing import Any, Iterable

import jinja2
import sympy as sp
from pylatex.utils import NoEscape

from . import QgenError
from .family import LoadedFamily
from .fonts import FALLBACK_FONTS, is_rtl
from .registry import FAMILIES_DIR
from .texmap import MarkedLoader
from .values import decimal, to_latex

def _shells() -> Path:
    """The document shells: templates/ beside the package in a checkout (or an editable
    install), else where a regular install puts them (<prefix>/share/qgen/templates)."""
    checkout = Path(__file__).resolve().parent.parent / "templates"
    if checkout.is_dir():
        return checkout
    return Path(sysconfig.get_path("data")) / "share" / "qgen" / "templates"


PROJECT_TEMPLATES = _shells()


def _finalize(value: Any) -> str:
    if isinstance(value, jinja2.Undefined):
        str(value)   # StrictUndefined raises here, naming the missing variable
    return to_latex(value)


def marks(points: int) -> NoEscape:
    """`3` -> `3 points`, `1` -> `1 point`."""
    return NoEscape(f"{points} point{'' if points == 1 else 's'}")


def paren(value: Any) -> NoEscape:
    """A number ready to multiply: negatives and fractions in parentheses."""
    text = to_latex(value)
    needs = text.startswith("-") or "frac" in text
    return NoEscape(f"({text})" if needs else text)


def vs_zero(value: Any) -> NoEscape:
    """`-3` -> `-3 < 0`, `19` -> `19 > 0`, `0` -> `0`."""
    v = sp.sympify(value)
    rel = "" if v == 0 else (" < 0" if v < 0 else " > 0")
    return NoEscape(to_latex(value) + rel)


def thousands(value: Any) -> NoEscape:
    """An integer with thin-space thousands separators: 3088878 -> 3\\,088\\,878."""
    n = int(value)
    return NoEscape(f"{n:,}".replace(",", "\\,"))


def dec(value: Any, places: int) -> NoEscape:
    """A value rounded (half up) to `places` decimals: `0.2689`; the precision a question asks."""
    return NoEscape(decimal(value, places=places))


def num(value: Any) -> NoEscape:
    """A value as a plain decimal, exact when it terminates (`0.475`, `-1.148`), else to 10 digits."""
    return NoEscape(decimal(value))


def approx(value: Any, places: int) -> NoEscape:
    """The exact value, then its rounding: `\\frac{1}{1 + e^{-1}} \\approx 0.7311`. A value that
    its rounding states exactly (an integer, 3/4 to 2 places) prints once."""
    rounded = decimal(value, places=places)
    v = sp.sympify(value)
    if v.is_Integer:
        return NoEscape(to_latex(v))
    if v.is_Rational and sp.Rational(rounded) == v:
        return NoEscape(rounded)
    return NoEscape(f"{to_latex(value)} \\approx {rounded}")


def latex(value: Any) -> NoEscape:
    """Mark a value as LaTeX already (for text a family wrote as LaTeX)."""
    return NoEscape(str(value))


def person(value: str) -> NoEscape:
    """A roster name: escaped, with each right-to-left run (Arabic, Hebrew) set right to left.

    Only those runs turn: "محمد Ali 123" keeps "Ali 123" as written.
    """
    if not is_rtl(value):
        return to_latex(value)
    parts = []
    for rtl, run in _bidi_runs(value):
        text = to_latex(run)
        parts.append(f"{{\\textdir TRT {text}}}" if rtl else text)
    return NoEscape("".join(parts))


def _bidi_runs(text: str) -> list[tuple[bool, str]]:
    """Split into runs of right-to-left letters (spaces between them included) and the rest."""
    kinds = [unicodedata.bidirectional(ch) for ch in text]
    strong = [k in ("R", "AL") for k in kinds]
    runs: list[tuple[bool, str]] = []
    i = 0
    while i < len(text):
        if strong[i]:
            j = i + 1
            # Extend over marks and spaces as long as another right-to-left letter follows.
            while j < len(text) and (strong[j] or kinds[j] in ("NSM", "WS", "ON", "BN")):
                j += 1
            while j > i + 1 and not strong[j - 1] and kinds[j - 1] != "NSM":
                j -= 1
            runs.append((True, text[i:j]))
        else:
            j = i + 1
            while j < len(text) and not strong[j]:
                j += 1
            runs.append((False, text[i:j]))
        i = j
    return runs


FILTERS = {"person": person, "marks": marks, "paren": paren, "vs_zero": vs_zero, "thousands": thousands,
           "latex": latex, "dec": dec, "approx": approx, "num": num}


def make_env(search_path: Iterable[Path], marked: bool = False) -> jinja2.Environment:
    loader = jinja2.FileSystemLoader([str(p) for p in search_path])
    env = jinja2.Environment(
        loader=MarkedLoader(loader) if marked else loader,
        block_start_string=r"\BLOCK{", block_end_string="}",
        variable_start_string=r"\VAR{", variable_end_string="}",
        comment_start_string=r"\#{", comment_end_string="}",
        line_comment_prefix="%#",
        trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters.update(FILTERS)
    return env


class TemplateError(QgenError):
    """A template failed to render; the message names its file and line."""


def _variables_on(filename: str, line: int) -> str:
    """The `\\VAR{...}` expressions on a template line, to name what could not be printed."""
    try:
        text = Path(filename).read_text(encoding="utf-8").splitlines()[line - 1]
    except (OSError, IndexError):
        return ""
    found = re.findall(r"\\VAR\{\s*(.*?)\s*\}", text)
    return f" (in {', '.join(found)})" if found else ""


def _template_error(exc: Exception, name: str, search_path: list[Path]) -> TemplateError:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = exc.filename or name
        return TemplateError(f"{where}:{exc.lineno}: template syntax error: {exc.message}")
    if isinstance(exc, jinja2.TemplateNotFound):
        return TemplateError(f"template {exc.name} not found in {', '.join(map(str, search_path))}")
    # Undefined names, values that cannot be printed, other runtime errors: the template line
    # from the traceback, and the variables printed there.
    tb, where, variables = exc.__traceback__, name, ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            where, variables = f"{filename}:{tb.tb_lineno}", _variables_on(filename, tb.tb_lineno)
        tb = tb.tb_next
    message = exc.message if isinstance(exc, jinja2.UndefinedError) else str(exc)
    return TemplateError(f"{where}: {message}{variables if isinstance(exc, QgenError) else ''}")


class Renderer:
    """Renders slot bodies (family templates) and whole documents (the shells)."""

    def __init__(self, shell_dirs: Iterable[Path] = (), family_roots: Iterable[Path] = (FAMILIES_DIR,)):
        self.shell_dirs = [*map(Path, shell_dirs), PROJECT_TEMPLATES]
        self.search_path = [*self.shell_dirs, *dict.fromkeys(map(Path, family_roots))]
        self.env = make_env(self.search_path)
        self._cache: dict[str, jinja2.Template] = {}

    def marked(self) -> "Renderer":
        """The same templates with texmap's source markers, to trace a TeX error to its line."""
        twin = copy.copy(self)
        twin.env, twin._cache = make_env(self.search_path, marked=True), {}
        return twin

    def source_hashes(self, families: Iterable[LoadedFamily]) -> dict[str, str]:
        """sha256 of every file that shapes a document or an answer: the shells, and the
        templates and code of the families given (those an exam uses)."""
        sources = [(d, "templates" if d == PROJECT_TEMPLATES else str(d)) for d in self.shell_dirs]
        sources += [(f.folder, f"families/{f.name}" if f.folder.parent == FAMILIES_DIR else str(f.folder))
                    for f in families]
        files = {}
        for folder, tag in sources:
            for path in sorted(folder.glob("**/*")):
                if path.suffix in (".j2", ".py") and path.is_file() and "__pycache__" not in path.parts:
                    files.setdefault(f"{tag}/{path.relative_to(folder)}", hashlib.sha256(path.read_bytes()).hexdigest())
        return files

    def template(self, name: str) -> jinja2.Template:
        if name not in self._cache:
            try:
                self._cache[name] = self.env.get_template(name)
            except Exception as exc:  # syntax errors, missing files
                raise _template_error(exc, name, self.search_path) from None
        return self._cache[name]

    def render(self, name: str, **context) -> str:
        template = self.template(name)
        try:
            return template.render(**context)
        except TemplateError:
            raise
        except Exception as exc:
            raise _template_error(exc, template.filename or name, self.search_path) from None

    def slot(self, family: LoadedFamily, kind: str, params: dict, answers: dict, work: dict,
             part_points: dict) -> NoEscape:
        """A family's question or solution body. The question sees only params and `given`."""
        shown = {**work, **answers}
        context: dict[str, Any] = {"p": params, "pts": part_points,
                                   "given": {k: shown[k] for k in family.spec.given}}
        if kind == "solution":
            context.update(a=answers, w=work)
        return NoEscape(self.render(family.template(kind), **context))

    def document(self, kind: str, exam: dict, students: list[dict], families: list[LoadedFamily],
                 engine: str = "pdflatex") -> str:
        """`kind` is "paper" or "key"; `students` are ready contexts (see documents.Documents)."""
        preambles = [f.template("preamble") for f in families if f.has_preamble]
        return self.render(f"{kind}.tex.j2", exam=exam, students=students, family_preambles=preambles,
                           unicode_engine=engine != "pdflatex", fallback_fonts=FALLBACK_FONTS)
