"""qgen: one exam in, a distinct but equally hard variant per student out, with a worked key.

The package is laid out as ../shared/DESIGN.md describes: spec (inputs), seeding (rngs),
family (the question-family contract and registry), pipeline (variants and answers),
render (Jinja to LaTeX), fonts (which engine a name needs), compile (TeX), pdfsplit
(splitting and merging PDFs), files (atomic writes), batch (the run over a roster) and
cli (the click front end).
"""

__version__ = "0.1.0"


class QgenError(Exception):
    """An error the user can act on: printed as one line, never as a traceback."""
