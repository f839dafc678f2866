"""Everyone's first draws (plan.draw's slow part) shared among forked processes: the same
drafts, and the same first error, as drawing them in one process."""

from __future__ import annotations

import multiprocessing
import pickle
import time
import traceback
from dataclasses import dataclass

from . import QgenError, plan
from .roster import Student, original_student
from .spec import Exam


class Drawing:
    """`draw` with the students' first draws shared among `workers` processes: forked when it
    is made (before the caller starts a thread: a fork copies no running thread), the draws
    are collected by `result`. Each student's draw depends on names alone, so the drafts are
    those of `draw`, and so is the error: the first failing student's in roster order. Use it
    in a `with` block, so the processes end whatever happens before `result`."""

    PARALLEL_FROM = 400     # students: fewer are drawn in the time a fork and its results take

    def __init__(self, exam: Exam, students: list[Student], seed: int, workers: int = 1):
        self.exam, self.students, self.seed = exam, students, seed
        everyone = [original_student(), *students]
        workers = max(1, min(workers, len(students) // (self.PARALLEL_FROM // 2)))
        size = -(-len(everyone) // workers)
        self._chunks = [everyone[i:i + size] for i in range(0, len(everyone), size)]
        self._pool, self._pending = None, []
        self.seconds = 0.0
        if len(self._chunks) > 1:      # forked workers inherit self (no pickling of the exam)
            self._pool = multiprocessing.get_context("fork").Pool(len(self._chunks) - 1, _init_drawing, (self,))
            self._pending = [self._pool.apply_async(_params_of, (i,)) for i in range(1, len(self._chunks))]

    def __enter__(self) -> Drawing:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None

    def _params(self, index: int) -> tuple[list[tuple[tuple[dict, int], ...]], float]:
        """Chunk `index`'s first draws, (params, attempt) per slot, and the seconds they took."""
        started = time.process_time()
        made = [tuple((params, attempt) for _, params, attempt in plan._first_draw(self.exam, self.seed, st).slots)
                for st in self._chunks[index]]
        return made, time.process_time() - started

    def result(self) -> list[plan.Draft]:
        """The drafts `draw` gives; `seconds` is then the CPU time the draws took, over the processes."""
        try:
            drawn = [self._params(0)]
            for pending in self._pending:
                done = pending.get()
                if isinstance(done, _Failed):
                    raise done.error
                drawn.append(pickle.loads(done))
        finally:
            self.close()
        started = time.process_time()
        first = [plan.Draft(st, tuple((slot, *drawn_slot) for slot, drawn_slot in zip(self.exam.slots, made)))
                 for chunk, (params, _) in zip(self._chunks, drawn) for st, made in zip(chunk, params)]
        drafts = plan.draw(self.exam, self.students, self.seed, first)
        self.seconds = sum(seconds for _, seconds in drawn) + time.process_time() - started
        return drafts


@dataclass
class _Failed:
    """A worker's error, in a form that always crosses back to the parent: one that cannot be
    pickled would stop the pool's result thread, and `result` would wait for ever."""
    error: Exception

    @classmethod
    def of(cls, exc: Exception) -> _Failed:
        try:
            pickle.loads(pickle.dumps(exc))
            return cls(exc)
        except Exception:
            detail = "".join(traceback.format_exception(exc)).rstrip()
            return cls(RuntimeError(f"drawing the numbers failed in a worker process:\n{detail}"))


_DRAWING: Drawing | None = None     # in a forked worker: the Drawing it draws for


def _init_drawing(drawing: Drawing) -> None:
    global _DRAWING
    _DRAWING = drawing


def _params_of(index: int) -> bytes | _Failed:
    """Chunk `index`'s draws, pickled here: a value that cannot be is an error named here."""
    try:
        made = _DRAWING._params(index)
    except Exception as exc:
        return _Failed.of(exc)
    try:
        return pickle.dumps(made)
    except Exception as exc:
        return _Failed(QgenError(f"a sampler returned a value that is not plain data "
                                 f"({type(exc).__name__}: {str(exc)[:200]}); return numbers, lists and strings"))
