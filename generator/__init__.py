"""qgen: one exam in, a distinct but equally hard variant per student out, with a worked key.

The package is laid out as ../shared/DESIGN.md describes: spec (inputs), seeding (rngs),
family (the question-family contract and registry), render (Jinja to LaTeX), compile (TeX),
pipeline (the whole run) and cli (the click front end).
"""

__version__ = "0.1.0"


class QgenError(Exception):
    """An error the user can act on: printed as one line, never as a traceback."""
