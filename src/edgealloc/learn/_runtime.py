"""The training loop's surroundings: PyTorch's thread count and the progress bar (private)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` PyTorch intra-op threads (``None``: unchanged), then restore."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def progress_bar(enabled: bool, total: int, description: str) -> contextlib.AbstractContextManager:
    """A bar over ``total`` units of work; yields ``advance(units, status=None)`` (or None).

    The bar is redrawn at most every 0.1 s, so advancing once per local step
    costs next to nothing even when steps take microseconds. When stderr is
    not a terminal the bar is :class:`~edgealloc._progress.LineProgress`
    lines instead (``training: 2500/12500 steps (20%), 5 s, cycle 1``).
    """
    if not enabled:
        return contextlib.nullcontext(None)
    if not sys.stderr.isatty():  # a pipe or a log: plain lines, at most every few seconds
        return _line_progress(total, description)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    @contextlib.contextmanager
    def bar() -> Iterator[Any]:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        ) as prog:
            task = prog.add_task(description, total=max(total, 1), status="")
            pending = [0, time.monotonic()]

            def advance(units: int, status: str | None = None) -> None:
                pending[0] += units
                now = time.monotonic()
                if status is None and now - pending[1] < 0.1:
                    return
                fields = {} if status is None else {"status": status}
                prog.update(task, advance=pending[0], **fields)
                pending[0], pending[1] = 0, now

            yield advance

    return bar()


@contextlib.contextmanager
def _line_progress(total: int, description: str) -> Iterator[Any]:
    from .._progress import LineProgress

    label = description.strip() or "training"
    with LineProgress(label, max(total, 1), 0, unit="steps") as lines:

        def advance(units: int, status: str | None = None) -> None:
            lines.advance(n=units, status=status)

        yield advance
