"""Sweep runner: run one function over many task dicts, resumably.

:func:`run_sweep` maps a module-level function over a list of task dicts
(every point x seed of an experiment) and returns the results in task order.

* **Backends.** ``"local"`` runs the tasks in a
  :class:`concurrent.futures.ProcessPoolExecutor` (``workers`` processes,
  default ``os.cpu_count()``), or in this process when ``workers=1``.
  ``"ray"`` runs them as Ray remote functions (:class:`RayBackend`): on the
  Ray instance this process is already connected to, else on the cluster at
  ``address`` (argument, else the ``RAY_ADDRESS`` environment variable),
  else on a local instance started with ``num_cpus=workers`` (no dashboard,
  worker logs not forwarded) and shut down at the end. A backend is an
  object with one method, ``run(fn, tasks, workers)``, yielding
  ``(index, result)`` pairs as tasks finish, in any order (see
  :class:`Backend`); :data:`BACKENDS` maps names to them. The default
  backend of :func:`run_sweep` is ``"local"``; :func:`sweep_backend` changes
  it for a block of code (this is how ``run_experiment(..., backend="ray")``
  reaches the sweeps inside an experiment).
* **Results store.** With ``store=path`` every finished task is appended to
  a JSONL file as ``{"key": ..., "task": ..., "result": ...}``, flushed and
  ``fsync``-ed at once, whichever backend computed it. ``key`` is a stable
  hash of the task dict (:func:`task_key`). A re-run with the same store
  loads the finished tasks and runs only the missing ones, so an
  interrupted sweep (even one killed with ``SIGKILL``) resumes where it
  stopped, on either backend. A torn last line (the process killed
  mid-write) is ignored. The store is a cache keyed by the task alone:
  delete it after changing what the function computes.
* **Progress** (``progress=True``) goes to stderr: a rich bar on a terminal,
  else plain lines (:class:`LineProgress`, e.g. ``mel-local-updates:
  120/3040 instances (4%), 12 s``) when it starts, at most every
  :data:`LINE_INTERVAL_S` seconds and at the end, so a piped or logged run
  is never silent for minutes.
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
import contextlib
import contextvars
import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from .._progress import LINE_INTERVAL_S, LineProgress
from ..errors import ValidationError

__all__ = [
    "BACKENDS",
    "LINE_INTERVAL_S",
    "Backend",
    "LineProgress",
    "LocalBackend",
    "RayBackend",
    "load_store",
    "run_sweep",
    "sweep_backend",
    "task_key",
]

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


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ValidationError(
            "backend", "'ray' needs the Ray package (pip install ray); or use backend 'local'"
        ) from None
    return ray


class RayBackend:
    """Ray remote functions, results streamed back as they finish (``ray.wait``).

    Parameters
    ----------
    address
        Ray cluster to join (``"host:port"``, ``"ray://host:port"`` or
        ``"auto"``); ``None`` reads the ``RAY_ADDRESS`` environment variable.

    Notes
    -----
    Which Ray instance runs the tasks:

    1. the one this process is already connected to (``ray.is_initialized()``);
       it is left as it was;
    2. else the cluster at ``address`` / ``$RAY_ADDRESS``, joined for the sweep
       and disconnected from afterwards (the cluster keeps running);
    3. else a local instance started for the sweep with ``num_cpus=workers``,
       no dashboard, worker logs not forwarded to this process, and this
       process's ``sys.path`` given to its workers (so task functions of
       scripts and test modules import there too). It is shut down at the
       end, also when a task fails or the sweep is interrupted.

    At most four tasks per available CPU are in flight at once. A task that
    raises cancels those still queued and its exception propagates (Ray
    re-raises it as an instance of the task's own exception type), as with
    the local backend; what finished before is in the store. On an instance
    it did not start, the backend returns only once the tasks already
    running have ended (as the local process pool does); its own instance
    is shut down at once.
    """

    def __init__(self, address: str | None = None) -> None:
        self.address = address

    def run(
        self, fn: TaskFn, tasks: Sequence[dict[str, Any]], workers: int
    ) -> Iterator[tuple[int, Any]]:
        ray = _import_ray()
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        owned = False
        if not ray.is_initialized():
            common: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
            if address is not None:
                ray.init(address=address, **common)
            else:
                path = os.pathsep.join(p for p in sys.path if p)
                ray.init(
                    address="local",
                    num_cpus=workers,
                    include_dashboard=False,
                    runtime_env={"env_vars": {"PYTHONPATH": path}},
                    **common,
                )
            owned = True
        inflight: dict[Any, int] = {}
        try:
            cpus = int(ray.available_resources().get("CPU", 0)) or workers
            window = 4 * max(1, cpus)
            remote = ray.remote(num_cpus=1)(fn)
            todo = iter(enumerate(tasks))

            def submit() -> None:
                while len(inflight) < window:
                    nxt = next(todo, None)
                    if nxt is None:
                        return
                    inflight[remote.remote(nxt[1])] = nxt[0]

            submit()
            while inflight:
                ready, rest = ray.wait(list(inflight), num_returns=1)
                if rest:  # whatever else has finished, without blocking
                    more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                    ready += more
                for ref in ready:
                    i = inflight.pop(ref)
                    yield i, ray.get(ref)
                submit()
        finally:
            for ref in inflight:
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
            if owned:
                ray.shutdown()
            elif inflight:  # as the local pool does: return once running tasks have ended
                with contextlib.suppress(Exception):
                    ray.wait(list(inflight), num_returns=len(inflight))


#: backend name -> backend object.
BACKENDS: dict[str, Backend] = {
    "local": LocalBackend(),
    "ray": RayBackend(),
}

_DEFAULT: contextvars.ContextVar[tuple[str, str | None]] = contextvars.ContextVar(
    "edgealloc_sweep_backend", default=("local", None)
)


def _check_backend(backend: Any, address: Any) -> None:
    if not isinstance(backend, str) or backend not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise ValidationError("backend", f"unknown backend {backend!r} (known: {known})")
    if address is not None:
        if backend != "ray":
            raise ValidationError("address", f"only applies to backend 'ray' (got {backend!r})")
        if not isinstance(address, str) or not address.strip():
            raise ValidationError("address", f"must be a non-empty string (got {address!r})")
    if backend == "ray":
        _import_ray()


@contextlib.contextmanager
def sweep_backend(backend: str = "local", *, address: str | None = None) -> Iterator[None]:
    """Make ``backend`` (and its ``address``) the default of :func:`run_sweep` in a block.

    Parameters
    ----------
    backend
        A key of :data:`BACKENDS`.
    address
        Ray cluster address (only with ``backend="ray"``; default ``$RAY_ADDRESS``).

    Raises
    ------
    ValidationError
        Unknown backend, an ``address`` without ``backend="ray"``, or Ray
        not installed.

    Examples
    --------
    >>> with sweep_backend("local"):
    ...     run_sweep(_square, [{"x": 4}], store=None, workers=1, progress=False,
    ...               description="squares")
    [{'y': 16}]
    """
    _check_backend(backend, address)
    token = _DEFAULT.set((backend, address))
    try:
        yield
    finally:
        _DEFAULT.reset(token)


def _progress(enabled: bool, description: str, total: int, done: int):
    """``(progress, task)``: a rich bar on a terminal, lines elsewhere, nothing when disabled."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if enabled and not sys.stderr.isatty():
        return LineProgress(description, total, done), None
    prog = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )
    bar = prog.add_task(description, total=total, completed=done)
    return prog, bar


def _append(fh: Any, line: str) -> None:
    """Append one store line and make it durable (flush + fsync)."""
    fh.write(line + "\n")
    fh.flush()
    os.fsync(fh.fileno())


def run_sweep(
    fn: TaskFn,
    tasks: list[dict[str, Any]],
    *,
    store: Path | None,
    workers: int | None,
    progress: bool,
    description: str,
    backend: str | None = None,
    address: str | None = None,
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
        Worker processes (``"local"``) or CPUs of a Ray instance started for
        the sweep (``"ray"``); ``None`` means ``os.cpu_count()``, ``1`` runs
        in this process (``"local"``).
    progress
        Show progress on stderr: a rich bar when stderr is a terminal, else
        plain lines (:class:`LineProgress`: ``description: 120/3040
        instances (4%), 12 s``, at most every :data:`LINE_INTERVAL_S`
        seconds and at the end).
    description
        Label of the progress bar or lines.
    backend
        ``"local"`` or ``"ray"``; ``None`` (default) takes the one set by
        :func:`sweep_backend`, ``"local"`` outside it.
    address
        Ray cluster to join (``backend="ray"`` only); ``None`` takes the one
        set by :func:`sweep_backend`, else ``$RAY_ADDRESS``, else a local
        Ray instance is started (see :class:`RayBackend`).

    Returns
    -------
    list
        ``fn(task)`` for each task (after a JSON round trip), in task order.

    Raises
    ------
    ValidationError
        Unknown backend, Ray not installed, an ``address`` for the local
        backend, bad ``workers``, a task or result that is not
        JSON-serialisable.
    """
    if backend is None:
        backend, default_address = _DEFAULT.get()
        address = address if address is not None else default_address
    _check_backend(backend, address)
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValidationError("workers", f"must be an integer >= 1 (got {workers!r})")
    runner: Backend = BACKENDS[backend]
    if backend == "ray" and address is not None:
        runner = RayBackend(address)
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
    stream: Iterator[tuple[int, Any]] | None = None
    try:
        with prog:
            if todo:
                stream = runner.run(fn, todo, workers)
                for i, result in stream:
                    try:
                        text = _canonical(result)
                    except (TypeError, ValueError) as exc:
                        raise ValidationError(
                            "result", f"of task {todo[i]!r} is not JSON-serialisable ({exc})"
                        ) from None
                    done[todo_keys[i]] = json.loads(text)
                    if fh is not None:
                        rec = {"key": todo_keys[i], "task": todo[i], "result": result}
                        _append(fh, _canonical(rec))
                    prog.advance(bar)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:  # a generator backend: cancel pending work, release resources
            close()
        if fh is not None:
            fh.close()
    return [json.loads(_canonical(done[k])) for k in keys]
