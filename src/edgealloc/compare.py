"""Every scheme of a family on one problem: solve them all, tabulate the comparison.

Used by ``edgealloc solve --scheme all`` and the demo. What a family shows
beyond the common columns (its objective's header, extra columns such as the
cycle time or the speed-up) comes from its descriptor's presenter.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import registry
from ._style import STATUS_STYLE, fmt, gap_text
from .api import solve
from .errors import SolverError
from .family import gap_percent
from .result import Result, Status

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["comparison_rows", "comparison_table", "gap_percent", "solve_all"]


def solve_all(problem: Any, names: Sequence[str] | None = None) -> list[Result]:
    """Solve ``problem`` with every scheme of its family (or with ``names``).

    Infeasible inputs and solver failures do not raise: each comes back as a
    :class:`~edgealloc.Result` whose status is ``infeasible`` or ``failed``
    and whose ``message`` says why, so a comparison always has one row per
    scheme.

    Parameters
    ----------
    problem
        A problem object (e.g. :class:`edgealloc.mel.MelProblem`).
    names
        Scheme names; default: all of the family's, the exact one first.

    Returns
    -------
    list of Result
        One result per scheme, in the order of ``names``.
    """
    out: list[Result] = []
    family = registry.family_of(problem)
    for name in names if names is not None else family.schemes:
        t0 = time.perf_counter()
        try:
            out.append(solve(problem, name, raise_infeasible=False))
        except SolverError as exc:
            out.append(
                Result(
                    family=problem.FAMILY,
                    scheme=name,
                    status=Status.FAILED,
                    objective=math.nan,
                    bound=math.nan,
                    message=" ".join(str(exc).split()),
                    solve_seconds=time.perf_counter() - t0,
                )
            )
    return out


def _exact_objective(results: Sequence[Result]) -> float:
    """The objective of the family's exact scheme among ``results`` (NaN when absent)."""
    if not results:
        return math.nan
    exact = registry.get_family(results[0].family).exact
    for res in results:
        if res.scheme == exact and res.success:
            return float(res.objective)
    return math.nan


def _attribute(res: Result, *names: str) -> float:
    if res.allocation is None:
        return math.nan
    for name in names:
        if hasattr(res.allocation, name):
            return float(getattr(res.allocation, name))
    return math.nan


def comparison_rows(results: Sequence[Result]) -> list[dict[str, Any]]:
    """One row per scheme: status, objective, bound, gap to the exact scheme, solve ms.

    Parameters
    ----------
    results
        Results of the same problem, e.g. from :func:`solve_all`.

    Returns
    -------
    list of dict
        Keys ``scheme, status, objective, bound, gap_percent, cycle_time,
        speedup, solve_ms, message``; unknown numbers are NaN.
        ``gap_percent`` counts "worse than the exact scheme" in the family's
        sense (below it for a maximised objective, above it for a minimised
        one); ``cycle_time`` is the allocation's ``cycle_time`` or
        ``iteration_time`` and ``speedup`` its ``speedup``, where it has them.
    """
    optimum = _exact_objective(results)
    rows = []
    for res in results:
        minimise = registry.get_family(res.family).minimise
        rows.append(
            {
                "scheme": res.scheme,
                "status": res.status.value,
                "objective": float(res.objective),
                "bound": float(res.bound),
                "gap_percent": gap_percent(float(res.objective), optimum, minimise=minimise),
                "cycle_time": _attribute(res, "cycle_time", "iteration_time"),
                "speedup": _attribute(res, "speedup"),
                "solve_ms": 1e3 * float(res.solve_seconds),
                "message": res.message,
            }
        )
    return rows


def comparison_table(
    results: Sequence[Result],
    *,
    title: str | None = None,
    problem: Any | None = None,
    deadline: float | None = None,
) -> Table:
    """A rich table comparing the schemes' results on one problem.

    The columns are the scheme, its status, the objective and bound (headers
    from the family's presenter), the gap to the exact scheme, the family's
    own columns (``mel``: the cycle time; offloading: the speed-up over no
    offloading) and the solve time.

    Parameters
    ----------
    results
        Results of the same problem, e.g. from :func:`solve_all`.
    title
        Table title.
    problem
        The problem solved, for the family's columns (e.g. the deadline in
        the cycle-time header).
    deadline
        Deprecated spelling of a problem with only a ``deadline`` (kept for
        edgealloc 0.1 callers); ignored when ``problem`` is given.
    """
    from types import SimpleNamespace

    from rich.table import Table
    from rich.text import Text

    family = registry.get_family(results[0].family) if results else None
    presenter = family.presenter if family is not None else None
    if problem is None and deadline is not None:
        problem = SimpleNamespace(deadline=deadline)
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("scheme")
    table.add_column("status")
    table.add_column(presenter.objective_header if presenter else "objective", justify="right")
    table.add_column(presenter.bound_header if presenter else "bound", justify="right")
    table.add_column("gap to optimal", justify="right")
    extra = presenter.columns(problem) if presenter else []
    for column in extra:
        table.add_column(column.header, justify="right")
    table.add_column("solve (ms)", justify="right")
    decimals = presenter.gap_decimals if presenter else 1
    for res, row in zip(results, comparison_rows(results), strict=True):
        gap = gap_text(row["gap_percent"], decimals)
        if row["scheme"] == "relaxed" and math.isfinite(row["gap_percent"]):
            gap += " (bound)"
        table.add_row(
            row["scheme"],
            Text(row["status"], style=STATUS_STYLE.get(res.status, "")),
            fmt(row["objective"]),
            fmt(row["bound"]),
            gap,
            *(column.value(res, problem) for column in extra),
            fmt(row["solve_ms"], ".3g"),
        )
    return table
