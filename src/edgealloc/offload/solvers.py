"""Schemes of the offloading families; every result is checked by the problem's ``evaluate``.

``offload-server`` (Strategy #1):

* ``optimal`` — exact optimum with whole points (:func:`._server.optimal_points`);
* ``relaxed`` — exact continuous optimum by a breakpoint search
  (:func:`._server.relaxed_time`);
* ``paper`` — Proposition 1 / Algorithm 1 as published, lines 9-10 for whole
  points (:func:`._server.paper_algorithm1`);
* ``none`` — no offloading.

``offload-d2d`` (Strategy #2):

* ``relaxed`` — the LP (P2), sparse, solved by HiGHS (:func:`._d2d.solve_lp`);
* ``optimal`` — whole points rounded from the LP so that the allocation stays
  feasible, with its gap to the LP bound (:func:`._d2d.round_points`);
* ``none`` — no offloading.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import SolverError
from ..result import Result, Status
from .problem import D2DAllocation, OffloadD2DProblem, OffloadServerProblem, ServerAllocation

__all__ = ["D2D_SCHEMES", "SERVER_SCHEMES"]


def _checked(p: Any, scheme: str, offloaded: np.ndarray, integral: bool) -> Any:
    """``p.evaluate(offloaded)``; an infeasible allocation is an internal error."""
    ev = p.evaluate(offloaded, integral=integral)
    if ev.violations:
        raise SolverError(
            f"internal error: {scheme} produced an infeasible allocation: {ev.violations[0]}"
        )
    return ev


def _wrap(
    p: Any,
    scheme: str,
    status: Status,
    ev: Any,
    allocation: type,
    arrays: dict[str, np.ndarray],
    *,
    bound: float,
    message: str,
    t0: float,
    info: dict[str, Any] | None,
    relaxed_bound: float = float("nan"),
) -> Result:
    """The :class:`Result` of an evaluated allocation; ``arrays`` are fresh and get frozen."""
    for a in arrays.values():
        a.setflags(write=False)
    base = p.no_offload_time
    alloc = allocation(
        iteration_time=ev.iteration_time,
        no_offload_time=base,
        speedup=base / ev.iteration_time if ev.iteration_time > 0 else float("inf"),
        **arrays,
    )
    return Result(
        family=p.FAMILY,
        scheme=scheme,
        status=status,
        objective=ev.iteration_time,
        bound=float(bound),
        message=message,
        solve_seconds=time.perf_counter() - t0,
        allocation=alloc,
        info=dict(info or {}),
        relaxed_bound=float(relaxed_bound),
    )


def _points(offloaded: np.ndarray, integral: bool) -> np.ndarray:
    points = np.array(offloaded)
    return np.round(points).astype(np.int64) if integral else points


def _server_result(
    p: OffloadServerProblem,
    scheme: str,
    status: Status,
    offloaded: np.ndarray,
    *,
    bound: float,
    message: str,
    t0: float,
    integral: bool = True,
    info: dict[str, Any] | None = None,
    share: np.ndarray | None = None,
    relaxed_bound: float = float("nan"),
) -> Result:
    """Check ``offloaded`` with ``p.evaluate`` and wrap it (``share``: w_i if known)."""
    ev = _checked(p, scheme, offloaded, integral)
    if share is None:
        l = p.points
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(l > 0, offloaded / np.where(l > 0, l, 1), 0.0)
    arrays = {
        "share": np.array(share),
        "offloaded_points": _points(offloaded, integral),
        "local_time": ev.local_time,
        "server_time": ev.server_time,
    }
    return _wrap(
        p,
        scheme,
        status,
        ev,
        ServerAllocation,
        arrays,
        bound=bound,
        message=message,
        t0=t0,
        info=info,
        relaxed_bound=relaxed_bound,
    )


def server_none(p: OffloadServerProblem) -> Result:
    """No offloading: every user computes all its points."""
    t0 = time.perf_counter()
    from ._server import relaxed_time

    bound, _ = relaxed_time(p)
    return _server_result(
        p,
        "none",
        Status.FEASIBLE,
        np.zeros(p.n_users),
        bound=bound,
        message="no offloading: the iteration lasts max_i T_i",
        t0=t0,
    )


def server_relaxed(p: OffloadServerProblem) -> Result:
    """Exact continuous optimum of (P1)."""
    t0 = time.perf_counter()
    from ._server import relaxed_time

    t_star, share = relaxed_time(p)
    return _server_result(
        p,
        "relaxed",
        Status.OPTIMAL,
        share * p.points,
        bound=t_star,
        integral=False,
        share=share,
        message=f"continuous optimum T* = {t_star:.9g} s (exact breakpoint search over the "
        f"offloading set; {int((share > 0).sum())} users offload)",
        t0=t0,
    )


def server_optimal(p: OffloadServerProblem) -> Result:
    """Exact optimum with whole points."""
    t0 = time.perf_counter()
    from ._server import optimal_points, relaxed_time

    t_relaxed, _ = relaxed_time(p)
    t_star, points = optimal_points(p, t_relaxed)
    return _server_result(
        p,
        "optimal",
        Status.OPTIMAL,
        points,
        bound=t_star,
        message=f"exact whole-point optimum T = {t_star:.9g} s (continuous bound "
        f"{t_relaxed:.9g} s; {int((points > 0).sum())} users offload)",
        t0=t0,
        info=None,
        relaxed_bound=t_relaxed,
    )


def server_paper(p: OffloadServerProblem) -> Result:
    """Proposition 1 / Algorithm 1 of the paper, lines 9-10 for whole points."""
    t0 = time.perf_counter()
    from ._server import paper_algorithm1, relaxed_time

    t_relaxed, _ = relaxed_time(p)
    out = paper_algorithm1(p)
    return _server_result(
        p,
        "paper",
        Status.FEASIBLE,
        out.offloaded_points,
        bound=t_relaxed,
        message=out.message,
        t0=t0,
        info={"proposition1_time": out.proposition1_time},
        relaxed_bound=t_relaxed,
    )


SERVER_SCHEMES: dict[str, Callable[[OffloadServerProblem], Result]] = {
    "optimal": server_optimal,
    "relaxed": server_relaxed,
    "paper": server_paper,
    "none": server_none,
}


# ---------------------------------------------------------------------------
def _d2d_result(
    p: OffloadD2DProblem,
    scheme: str,
    status: Status,
    offloaded: np.ndarray,
    *,
    bound: float,
    message: str,
    t0: float,
    integral: bool = True,
    info: dict[str, Any] | None = None,
    ev: Any = None,
) -> Result:
    """Check ``offloaded`` (``N x N``) with ``p.evaluate`` and wrap it.

    ``ev``: the caller's own :func:`_checked` evaluation of ``offloaded``, if it has one.
    """
    if ev is None:
        ev = _checked(p, scheme, offloaded, integral)
    l = p.points.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(l[:, None] > 0, offloaded / np.where(l > 0, l, 1.0)[:, None], 0.0)
    arrays = {
        "share": share,
        "offloaded_points": _points(offloaded, integral),
        "transfer_time": ev.transfer_time,
        "user_time": ev.user_time,
    }
    return _wrap(
        p,
        scheme,
        status,
        ev,
        D2DAllocation,
        arrays,
        bound=bound,
        message=message,
        t0=t0,
        info=info,
    )


def d2d_none(p: OffloadD2DProblem) -> Result:
    r"""No offloading.

    Its ``bound`` is the cheap pooled bound :math:`T \ge m \sum_i l_i / \sum_i a_i`
    (every point is computed by some user, and user :math:`i` computes at most
    :math:`T a_i / m` points in time :math:`T`), not the LP, which would cost
    more than the scheme.
    """
    t0 = time.perf_counter()
    n = p.n_users
    total_rate = float(p.compute_rate.sum())
    pooled = p.macs_per_point * float(p.points.sum()) / total_rate if total_rate > 0 else 0.0
    return _d2d_result(
        p,
        "none",
        Status.FEASIBLE,
        np.zeros((n, n)),
        bound=pooled,
        message="no offloading: the iteration lasts max_i T_i",
        t0=t0,
    )


def d2d_relaxed(p: OffloadD2DProblem) -> Result:
    """The LP (P2): continuous shares, solved exactly by HiGHS."""
    t0 = time.perf_counter()
    from ._d2d import solve_lp

    lp = solve_lp(p)
    return _d2d_result(
        p,
        "relaxed",
        Status.OPTIMAL,
        lp.share * p.points[:, None],
        bound=lp.iteration_time,
        integral=False,
        t0=t0,
        message=lp.message,
        info={"lp_seconds": lp.seconds, "links": lp.links},
    )


def d2d_optimal(p: OffloadD2DProblem) -> Result:
    """Whole points rounded from the LP optimum; feasible, with its gap to the LP bound."""
    t0 = time.perf_counter()
    from ._d2d import round_points, solve_lp

    lp = solve_lp(p)
    points = round_points(p, lp)
    ev = _checked(p, "optimal", points, True)
    gap = ev.iteration_time / lp.iteration_time - 1 if lp.iteration_time > 0 else 0.0
    status = Status.OPTIMAL if gap <= 1e-9 else Status.FEASIBLE
    return _d2d_result(
        p,
        "optimal",
        status,
        points,
        bound=lp.iteration_time,
        t0=t0,
        message=f"whole points rounded from the LP optimum: T = {ev.iteration_time:.9g} s, "
        f"LP bound {lp.iteration_time:.9g} s (gap {100 * gap:.3g} %)",
        info={"lp_seconds": lp.seconds, "links": lp.links, "gap": gap},
        ev=ev,
    )


D2D_SCHEMES: dict[str, Callable[[OffloadD2DProblem], Result]] = {
    "optimal": d2d_optimal,
    "relaxed": d2d_relaxed,
    "none": d2d_none,
}
