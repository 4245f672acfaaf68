"""Progress as plain lines, for a stderr that is not a terminal (a pipe, a log file).

On a terminal, long commands draw a rich bar; elsewhere a bar is either
nothing or a stream of control codes, so they print :class:`LineProgress`
lines to stderr instead: ``mel-accuracy: 120/3040 instances (4%), 12 s``
when the work starts, then at most every :data:`LINE_INTERVAL_S` seconds,
and once at the end. Used by the sweep runner
(:mod:`edgealloc.experiments.runner`) and the training loop
(:mod:`edgealloc.learn`).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["LINE_INTERVAL_S", "LineProgress"]

#: Seconds between two progress lines when stderr is not a terminal.
LINE_INTERVAL_S = 5.0


class LineProgress:
    """Progress as plain lines on a stream.

    ``label: 120/3040 instances (4%), 12 s`` when it starts, then at most every
    ``interval`` seconds as work finishes, and once at the end. ``unit`` names
    what is counted; ``clock`` is injectable so that tests need no real time.
    """

    def __init__(
        self,
        label: str,
        total: int,
        done: int,
        *,
        stream: Any = None,
        interval: float = LINE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        unit: str = "instances",
    ) -> None:
        self.label, self.total, self.done, self.unit = label, total, done, unit
        self.stream = stream if stream is not None else sys.stderr
        self.interval, self.clock = interval, clock
        self.start = clock()
        self.last = -math.inf
        self.shown = -1
        self.status = ""

    def line(self) -> str:
        """The current line (without the newline)."""
        pct = 100.0 * self.done / self.total if self.total else 100.0
        secs = self.clock() - self.start
        status = f", {self.status}" if self.status else ""
        return (
            f"{self.label}: {self.done}/{self.total} {self.unit} ({pct:.0f}%), {secs:.0f} s{status}"
        )

    def _emit(self) -> None:
        self.stream.write(self.line() + "\n")
        self.stream.flush()
        self.last, self.shown = self.clock(), self.done

    def __enter__(self) -> LineProgress:
        self._emit()
        return self

    def advance(self, _task: Any = None, n: int = 1, status: str | None = None) -> None:
        """``n`` more units done; a line if ``interval`` seconds passed since the last."""
        self.done += n
        if status is not None:
            self.status = status
        if self.clock() - self.last >= self.interval:
            self._emit()

    def __exit__(self, *exc: Any) -> None:
        if self.shown != self.done:  # the end, unless the last line already showed it
            self._emit()
