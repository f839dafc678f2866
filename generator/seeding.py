"""One numpy Generator per (master seed, exam, student, slot), derived from the names.

Seeding by name, not by position, is what makes a student's variant independent of
where they sit in the roster and of who else is on it.
"""

from __future__ import annotations

import hashlib

import numpy as np

_SCHEME = "qgen-seed-v1"


def seed_material(master_seed: int, exam_id: str, student_id: str, slot: str, attempt: int = 0) -> int:
    """A 256-bit integer from the names; `attempt` > 0 redraws a variant that collided."""
    parts = [_SCHEME, str(int(master_seed)), exam_id, student_id, slot, str(attempt)]
    # \x1f cannot occur in a validated id, so ("a", "bc") and ("ab", "c") never meet.
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest, "big")


def rng_for(master_seed: int, exam_id: str, student_id: str, slot: str, attempt: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed_material(master_seed, exam_id, student_id, slot, attempt))
