"""Shared pieces of the experiments: one solve per record, aggregation, CSV output.

Every experiment records, for each instance (a point of its grid and a seed)
and scheme, the solver's ``status`` and the objective ``value`` (``None``
unless the scheme returned an allocation). :func:`aggregate` turns these
records into one row per point and scheme:

``seeds``
    Instances run at the point.
``solvable``
    Instances that admit an allocation at all (the exact scheme ``optimal``
    found one).
``ok``, ``infeasible``, ``failed``
    The scheme's outcomes over all instances: an allocation (status
    ``optimal``/``feasible``), ``infeasible`` (it raised
    :class:`~edgealloc.errors.InfeasibleError`), ``failed`` (status ``failed``:
    the scheme's own procedure broke down, or an unexpected solver error).
``mean``, ``std``, ``min``, ``max``
    Over the solvable instances, and only when the scheme delivered an
    allocation on every one of them, so that all schemes at a point average
    the same instances; otherwise empty (a gap in the plot). ``std`` is the
    sample standard deviation (0 for one instance).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..api import solve
from ..errors import EdgeallocError
from ..result import Status

__all__ = [
    "STAT_COLUMNS",
    "Experiment",
    "ExperimentOutput",
    "Sweep",
    "aggregate",
    "error_notes",
    "fmt_mean_std",
    "run_tasks",
    "solve_record",
    "write_csv",
]


@dataclasses.dataclass
class ExperimentOutput:
    """What a reproduction produced.

    Attributes
    ----------
    files
        Files written (figures, CSV tables, the results store).
    summary
        Rows for a table of the key numbers (the same keys in every row).
    notes
        Remarks for the reader (readings taken, infeasible points, store reuse).
    """

    files: list[Path] = dataclasses.field(default_factory=list)
    summary: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A named reproduction.

    ``run(out_dir, *, seeds, workers, quick, progress)`` writes into
    ``out_dir`` and returns an :class:`ExperimentOutput`.
    """

    name: str
    title: str
    description: str
    run: Callable[..., ExperimentOutput]


#: Columns :func:`aggregate` adds after the grouping columns.
STAT_COLUMNS: tuple[str, ...] = (
    "seeds",
    "solvable",
    "ok",
    "infeasible",
    "failed",
    "mean",
    "std",
    "min",
    "max",
)

_OK = {Status.OPTIMAL.value, Status.FEASIBLE.value}


@dataclasses.dataclass(frozen=True)
class Sweep:
    """What :func:`run_tasks` did: results in task order and where they are kept."""

    results: list[Any]
    store: Path
    instances: int
    reused: int
    seconds: float


def run_tasks(
    name: str,
    fn: Callable[[dict[str, Any]], Any],
    tasks: list[dict[str, Any]],
    out_dir: Path,
    *,
    workers: int | None,
    progress: bool,
) -> Sweep:
    """Run an experiment's tasks through the resumable sweep runner.

    The results store is ``out_dir / f"{name}-store.jsonl"``: a re-run only
    computes the tasks it does not hold yet.
    """
    from .runner import load_store, run_sweep, task_key

    out_dir.mkdir(parents=True, exist_ok=True)
    store = out_dir / f"{name}-store.jsonl"
    keys = {task_key(t) for t in tasks}
    reused = len(keys & set(load_store(store)))
    t0 = time.perf_counter()
    results = run_sweep(
        fn,
        tasks,
        store=store,
        workers=workers,
        progress=progress,
        description=f"{name} ({len(keys)} instances)",
    )
    return Sweep(results, store, len(keys), reused, time.perf_counter() - t0)


def solve_record(problem: Any, scheme: str) -> dict[str, Any]:
    """Solve ``problem`` with ``scheme``; ``{"status", "value"}`` (``value`` None unless ok).

    Infeasibility comes back as status ``infeasible``; an unexpected library
    error (e.g. :class:`~edgealloc.errors.SolverError`) as status ``error``
    with its message, counted as ``failed`` by :func:`aggregate`.
    """
    try:
        res = solve(problem, scheme, raise_infeasible=False)
    except EdgeallocError as exc:
        return {"status": "error", "value": None, "message": str(exc)}
    value = float(res.objective) if res.success and math.isfinite(res.objective) else None
    return {"status": res.status.value, "value": value}


def error_notes(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """A note counting the records of status ``error`` (see :func:`solve_record`), if any."""
    errors = sum(r["status"] == "error" for r in records)
    if not errors:
        return []
    return [f"{errors} solve(s) raised an unexpected error (counted as failed)."]


def aggregate(
    records: Iterable[Mapping[str, Any]],
    group: Sequence[str],
    *,
    exact: str = "optimal",
) -> list[dict[str, Any]]:
    """One row per ``(group..., scheme)`` with the statistics of the module docstring.

    Parameters
    ----------
    records
        Dicts with the ``group`` columns, ``scheme``, ``seed``, ``status`` and
        ``value``.
    group
        Columns that identify a point (e.g. ``("preset", "panel", "K", "T")``).
    exact
        The scheme whose success defines a solvable instance.
    """
    by_point: dict[tuple, dict[str, dict[Any, Mapping[str, Any]]]] = defaultdict(dict)
    for rec in records:
        point = tuple(rec[g] for g in group)
        by_point[point].setdefault(rec["scheme"], {})[rec["seed"]] = rec
    rows: list[dict[str, Any]] = []
    for point, schemes in by_point.items():
        ref = schemes.get(exact, {})
        solvable = {s for s, r in ref.items() if r["status"] in _OK}
        for scheme, recs in schemes.items():
            statuses = [r["status"] for r in recs.values()]
            ok = sum(s in _OK for s in statuses)
            vals = [recs[s]["value"] for s in solvable if s in recs and recs[s]["status"] in _OK]
            complete = bool(solvable) and len(vals) == len(solvable)
            arr = np.asarray(vals, float)
            row = dict(zip(group, point, strict=True))
            row.update(
                scheme=scheme,
                seeds=len(statuses),
                solvable=len(solvable),
                ok=ok,
                infeasible=statuses.count(Status.INFEASIBLE.value),
                failed=sum(s in (Status.FAILED.value, "error") for s in statuses),
                mean=float(arr.mean()) if complete else math.nan,
                std=float(arr.std(ddof=1)) if complete and arr.size > 1 else 0.0,
                min=float(arr.min()) if complete else math.nan,
                max=float(arr.max()) if complete else math.nan,
            )
            if not complete:
                row["std"] = math.nan
            rows.append(row)
    return rows


def _cell(value: Any, digits: int | None = 6) -> Any:
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return ""
        return repr(float(value) if digits is None else round(float(value), digits))
    if value is None:
        return ""
    return value


def write_csv(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    digits: int | None = 6,
) -> Path:
    """Write ``rows`` with exactly ``columns``; NaN and ``None`` become empty cells.

    Floats are rounded to ``digits`` decimals (``None``: full precision, ``repr``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _cell(row.get(c), digits) for c in columns})
    return path


def fmt_mean_std(row: Mapping[str, Any] | None) -> str:
    """``"6.90 ± 0.55"`` for an aggregated row, ``"—"`` when there is no value."""
    if row is None or not math.isfinite(row["mean"]):
        return "—"
    return f"{row['mean']:.2f} ± {row['std']:.2f}"
