"""qgen: one exam in, a distinct but equally hard variant per student out, with a worked key.

Data flows one way, each module importing only those before it:

    spec, roster (inputs) -> plan (seeds, variants, answers) -> render, documents (LaTeX)
    -> compile, pdfsplit (TeX, PDFs) -> writers (answers, print files, manifest) -> run -> cli

Beneath them: values (JSON and LaTeX of a value), family and constraints (the family
contract), registry (finding families), seeding, fonts, sources (reading input files),
files (atomic writes) and outdir (the output folder).
"""

__version__ = "0.1.0"


class QgenError(Exception):
    """An error the user can act on: printed as one line, never as a traceback."""
