"""`qgen catalogue`: the question bank as one PDF, to choose questions for an exam from: per
family, grouped by topic, its title, parts and marks, constraints, and one example question
(seed 0, the defaults) with its key."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from . import QgenError
from .compile import TexError, run_tex
from .family import LoadedFamily
from .files import atomic_write_bytes
from .fonts import FALLBACK_FONTS
from .render import Renderer

ORDER = ("Mathematical foundations", "Feed-forward networks and losses", "Optimisation",
         "Normalisation and regularisation", "CNNs", "Sequence models", "Attention and transformers",
         "Generative models")


def _entry(renderer: Renderer, fam: LoadedFamily) -> dict:
    spec = fam.spec
    params = fam.sample(np.random.default_rng(0), fam.constraints())
    solution = fam.solve(params)
    points = {p.label: p.points for p in spec.parts}
    body = {kind: renderer.slot(fam, kind, params, solution.answers, solution.work, points)
            for kind in ("question", "solution")}
    return {"name": fam.name, "title": spec.title, "parts": [(p.label, p.points, p.asks) for p in spec.parts],
            "constraints": [(k, repr(c.default), c.meaning) for k, c in spec.constraints.items()], **body}


def catalogue(families: list[LoadedFamily], out: Path, renderer: Renderer) -> Path:
    topics: dict[str, list] = {}
    for fam in sorted(families, key=lambda f: (ORDER.index(f.spec.topic) if f.spec.topic in ORDER else len(ORDER),
                                               f.spec.topic, f.name)):
        topics.setdefault(fam.spec.topic or "Other", []).append(_entry(renderer, fam))
    tex = renderer.render("catalogue.tex.j2", count=len(families),
                          topics=[{"name": t, "families": fs} for t, fs in topics.items()],
                          family_preambles=[f.template("preamble") for f in families if f.has_preamble],
                          unicode_engine=False, fallback_fonts=FALLBACK_FONTS)
    with tempfile.TemporaryDirectory(prefix="qgen-catalogue-") as work:
        try:
            pdf = run_tex(tex, Path(work), jobname="catalogue")
        except TexError as exc:
            raise QgenError(f"the catalogue does not typeset ({exc}): {exc.detail}") from None
        atomic_write_bytes(out, pdf.read_bytes())
    return out
