"""Shared pieces of the allocation sweeps: one solve per record, and its aggregation.

The experiments that stop at the allocation (:mod:`.mel_local_updates`,
:mod:`.mel_async_allocation`) record, for each instance (a point of its grid and a seed)
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

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..api import solve
from ..errors import EdgeallocError
from ..result import Status

__all__ = [
    "OK_STATUSES",
    "STAT_COLUMNS",
    "aggregate",
    "error_notes",
    "fmt_mean_std",
    "solve_record",
]

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

#: Statuses (as recorded: their string values) of a scheme that returned an allocation.
OK_STATUSES: frozenset[str] = frozenset({Status.OPTIMAL.value, Status.FEASIBLE.value})
#: Statuses counted as ``failed``.
_FAILED: frozenset[str] = frozenset({Status.FAILED.value, Status.ERROR.value})


def solve_record(problem: Any, scheme: str) -> dict[str, Any]:
    """Solve ``problem`` with ``scheme``; ``{"status", "value"}`` (``value`` None unless ok).

    Infeasibility comes back as status ``infeasible``; an unexpected library
    error (e.g. :class:`~edgealloc.errors.SolverError`) as status ``error``
    (:attr:`~edgealloc.result.Status.ERROR`) with its message, counted as
    ``failed`` by :func:`aggregate`.
    """
    try:
        res = solve(problem, scheme, raise_infeasible=False)
    except EdgeallocError as exc:
        return {"status": Status.ERROR.value, "value": None, "message": str(exc)}
    value = float(res.objective) if res.success and math.isfinite(res.objective) else None
    return {"status": res.status.value, "value": value}


def error_notes(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """A note counting the records of status ``error`` (see :func:`solve_record`), if any."""
    errors = sum(r["status"] == Status.ERROR for r in records)
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
        solvable = {s for s, r in ref.items() if r["status"] in OK_STATUSES}
        for scheme, recs in schemes.items():
            statuses = [r["status"] for r in recs.values()]
            ok = sum(s in OK_STATUSES for s in statuses)
            vals = [
                recs[s]["value"] for s in solvable if s in recs and recs[s]["status"] in OK_STATUSES
            ]
            complete = bool(solvable) and len(vals) == len(solvable)
            arr = np.asarray(vals, float)
            row = dict(zip(group, point, strict=True))
            row.update(
                scheme=scheme,
                seeds=len(statuses),
                solvable=len(solvable),
                ok=ok,
                infeasible=statuses.count(Status.INFEASIBLE.value),
                failed=sum(s in _FAILED for s in statuses),
                mean=float(arr.mean()) if complete else math.nan,
                std=float(arr.std(ddof=1)) if complete and arr.size > 1 else 0.0,
                min=float(arr.min()) if complete else math.nan,
                max=float(arr.max()) if complete else math.nan,
            )
            if not complete:
                row["std"] = math.nan
            rows.append(row)
    return rows


def fmt_mean_std(row: Mapping[str, Any] | None) -> str:
    """``"6.90 ± 0.55"`` for an aggregated row, ``"—"`` when there is no value."""
    if row is None or not math.isfinite(row["mean"]):
        return "—"
    return f"{row['mean']:.2f} ± {row['std']:.2f}"
