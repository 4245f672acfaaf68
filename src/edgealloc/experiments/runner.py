"""Sweep runner: run one function over many task dicts, resumably.

:func:`run_sweep` maps a module-level function over a list of task dicts
(every point x seed of an experiment) and returns the results in task order.

* **Backends.** ``"local"`` runs the tasks in a
  :class:`concurrent.futures.ProcessPoolExecutor` (``workers`` processes,
  default ``os.cpu_count()``), or in this process when ``workers=1``. A
  backend is an object with one method, ``run(fn, tasks, workers)``,
  yielding ``(index, result)`` pairs as tasks finish, in any order (see
  :class:`Backend`); a Ray backend for a cluster plugs into :data:`BACKENDS`
  the same way. ``"ray"`` is reserved and refused for now.
* **Results store.** With ``store=path`` every finished task is appended to
  a JSONL file as ``{"key": ..., "task": ..., "result": ...}`` and flushed at
  once. ``key`` is a stable hash of the task dict (:func:`task_key`). A
  re-run with the same store loads the finished tasks and runs only the
  missing ones, so an interrupted sweep resumes where it stopped. A torn
  last line (the process killed mid-write) is ignored. The store is a cache
  keyed by the task alone: delete it after changing what the function
  computes.
* **Results** are what ``fn`` returned after a JSON round trip (tuples
  become lists, keys become strings), so a result read back from the store
  and a freshly computed one are identical.

Examples
--------
>>> from edgealloc.experiments.runner import run_sweep
>>> run_sweep(_square, [{"x": 2}, {"x": 3}], store=None, workers=1, progress=False,
...           description="squares")
[{'y': 4}, {'y': 9}]
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from ..errors import ValidationError

__all__ = ["BACKENDS", "Backend", "LocalBackend", "load_store", "run_sweep", "task_key"]

TaskFn = Callable[[dict[str, Any]], dict[str, Any]]


def _square(task: dict[str, Any]) -> dict[str, Any]:
    """Doctest helper: ``{"y": x**2}``."""
    return {"y": task["x"] ** 2}


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def task_key(task: Mapping[str, Any]) -> str:
    """Stable hash of a task dict: SHA-256 of its canonical JSON (sorted keys), 16 hex digits.

    Examples
    --------
    >>> task_key({"a": 1, "b": [2, 3]}) == task_key({"b": [2, 3], "a": 1})
    True
    >>> task_key({"a": 1}) == task_key({"a": 2})
    False
    """
    try:
        text = _canonical(dict(task))
    except TypeError as exc:
        raise ValidationError("task", f"must be JSON-serialisable ({exc})") from None
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_store(path: Path) -> dict[str, Any]:
    """Read a results store: ``{key: result}`` of every complete line.

    Lines that do not parse (a torn last line of an interrupted run) are
    skipped; a later line for the same key wins.
    """
    done: dict[str, Any] = {}
    if not path.exists():
        return done
    with path.open("r", encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "key" in rec and "result" in rec:
                done[str(rec["key"])] = rec["result"]
    return done


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


class Backend(Protocol):
    """Where the tasks run: ``run`` yields ``(index, result)`` as tasks finish."""

    def run(
        self, fn: TaskFn, tasks: Sequence[dict[str, Any]], workers: int
    ) -> Iterator[tuple[int, Any]]: ...


class LocalBackend:
    """Local processes (``ProcessPoolExecutor``); in this process when ``workers == 1``.

    On an exception in ``fn`` the pending tasks are cancelled and the
    exception propagates; what finished before is already in the store.
    """

    def run(
        self, fn: TaskFn, tasks: Sequence[dict[str, Any]], workers: int
    ) -> Iterator[tuple[int, Any]]:
        if workers <= 1 or len(tasks) <= 1:
            for i, task in enumerate(tasks):
                yield i, fn(task)
            return
        with cf.ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
            futures = {pool.submit(fn, task): i for i, task in enumerate(tasks)}
            try:
                for fut in cf.as_completed(futures):
                    yield futures[fut], fut.result()
            finally:
                for fut in futures:
                    fut.cancel()


class _Unavailable:
    def __init__(self, name: str, why: str) -> None:
        self.name, self.why = name, why

    def run(
        self, fn: TaskFn, tasks: Sequence[dict[str, Any]], workers: int
    ) -> Iterator[tuple[int, Any]]:
        raise ValidationError("backend", f"{self.name!r} is not yet available ({self.why})")


#: backend name -> backend object.
BACKENDS: dict[str, Backend] = {
    "local": LocalBackend(),
    "ray": _Unavailable("ray", "use backend='local'; a Ray backend is planned"),
}


def _progress(enabled: bool, description: str, total: int, done: int):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    show = enabled and sys.stderr.isatty()
    prog = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not show,
        transient=False,
    )
    bar = prog.add_task(description, total=total, completed=done)
    return prog, bar


def run_sweep(
    fn: TaskFn,
    tasks: list[dict[str, Any]],
    *,
    store: Path | None,
    workers: int | None,
    progress: bool,
    description: str,
    backend: str = "local",
) -> list[Any]:
    """Run ``fn`` on every task and return the results in task order.

    Parameters
    ----------
    fn
        A module-level (picklable) function taking one task dict and returning
        a JSON-serialisable dict.
    tasks
        JSON-serialisable dicts; equal dicts are computed once.
    store
        JSONL results store (created if missing) or ``None`` for no store.
        Tasks already in it are not run again.
    workers
        Worker processes; ``None`` means ``os.cpu_count()``, ``1`` runs in
        this process.
    progress
        Show a rich progress bar (only when stderr is a terminal).
    description
        Label of the progress bar.
    backend
        ``"local"``; ``"ray"`` is reserved and raises for now.

    Returns
    -------
    list
        ``fn(task)`` for each task (after a JSON round trip), in task order.

    Raises
    ------
    ValidationError
        Unknown or unavailable backend, bad ``workers``, a task or result
        that is not JSON-serialisable.
    """
    if backend not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise ValidationError("backend", f"unknown backend {backend!r} (known: {known})")
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValidationError("workers", f"must be an integer >= 1 (got {workers!r})")
    keys = [task_key(t) for t in tasks]
    done: dict[str, Any] = load_store(store) if store is not None else {}
    pending: dict[str, dict[str, Any]] = {}
    for key, task in zip(keys, tasks, strict=True):
        if key not in done and key not in pending:
            pending[key] = task
    todo_keys = list(pending)
    todo = [pending[k] for k in todo_keys]
    fh = None
    if store is not None and todo:
        store.parent.mkdir(parents=True, exist_ok=True)
        torn = store.exists() and store.stat().st_size > 0 and not _ends_with_newline(store)
        fh = store.open("a", encoding="utf-8")
        if torn:  # an interrupted write left half a line: start a fresh one
            fh.write("\n")
    prog, bar = _progress(progress, description, len(set(keys)), len(set(keys)) - len(todo))
    try:
        with prog:
            if todo:
                for i, result in BACKENDS[backend].run(fn, todo, workers):
                    try:
                        text = _canonical(result)
                    except (TypeError, ValueError) as exc:
                        raise ValidationError(
                            "result", f"of task {todo[i]!r} is not JSON-serialisable ({exc})"
                        ) from None
                    done[todo_keys[i]] = json.loads(text)
                    if fh is not None:
                        rec = {"key": todo_keys[i], "task": todo[i], "result": result}
                        fh.write(_canonical(rec) + "\n")
                        fh.flush()
                    prog.advance(bar)
    finally:
        if fh is not None:
            fh.close()
    return [json.loads(_canonical(done[k])) for k in keys]
