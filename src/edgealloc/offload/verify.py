r"""Independent oracles for the offloading families: HiGHS LP/MILP and brute force.

These functions exist to *check* the solvers of :mod:`edgealloc.offload`
(``_server.py``), so they are written from the problem statement alone
(docs/problem-files.md; [XR] the XR offloading paper, problem (P1)) as
generic models for a generic solver, and import nothing from the solver
modules. They share only the problem classes of :mod:`.problem` (the data and
the solver-independent :meth:`~.problem.OffloadServerProblem.evaluate`).

``offload-server`` (Strategy #1):

:func:`server_lp`
    The LP (P1), sparse, solved by HiGHS (``scipy.optimize.linprog``).
:func:`server_milp`
    The whole-point version, sparse, solved by HiGHS (``scipy.optimize.milp``).
:func:`server_exhaustive`
    Every whole-point allocation of a tiny instance, evaluated.

Scaling. HiGHS's tolerances are absolute, so times are divided by a scale
:math:`\tau`: the no-offload time :math:`\max_i T_i` in the LP (feasibility
tolerances ``1e-10``), the LP optimum in the MILP (so that :math:`T/\tau \ge 1`
and the MILP's absolute gap, ``1e-6``, which ``scipy.optimize.milp`` does not
expose, is a relative one); the LP's server load is divided by
:math:`\sum_j l_j`. The MILP's answer is therefore optimal to about
``1e-6`` relative (HiGHS's own feasibility tolerance), not to the last bit;
:func:`server_exhaustive` is exact in the evaluator's arithmetic.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from ..errors import SolverError
from .problem import OffloadServerProblem

__all__ = ["EXHAUSTIVE_LIMIT", "server_exhaustive", "server_lp", "server_milp"]

#: Largest number of allocations :func:`server_exhaustive` enumerates.
EXHAUSTIVE_LIMIT = 2_000_000


def _server_rows(
    p: OffloadServerProblem, x_scale: NDArray[np.float64], s_coef: float, tau: float
) -> tuple[sp.csr_array, NDArray[np.float64]]:
    r"""Sparse rows ``A_ub x <= b_ub`` of (P1) over ``x = (x_1..x_N, S, t)``.

    ``x_i`` is user ``i``'s offload in units of ``x_scale[i]`` points (1 for
    point counts, ``l_i`` for shares), ``S`` the server load in units of
    ``s_coef``-scaled points and ``t = T / tau``:

    * local (P1a): :math:`m (l_i - x_i\,\mathrm{scale}_i) / a_i \le T`;
    * server (P1b), users with :math:`r_i > 0` only:
      :math:`x_i\,\mathrm{scale}_i / r_i + (m / a_S) S \le T`.
    """
    n = p.n_users
    m, aS = p.macs_per_point, p.server_rate
    a, r = p.compute_rate, p.uplink_rate
    users = np.arange(n)
    # (P1a): -(m scale_i / (a_i tau)) x_i - t <= -T_i / tau
    local = sp.coo_array(
        (
            np.concatenate((-m * x_scale / (a * tau), -np.ones(n))),
            (np.concatenate((users, users)), np.concatenate((users, np.full(n, n + 1)))),
        ),
        shape=(n, n + 2),
    )
    b_local = -p.compute_time / tau
    # (P1b): (scale_i / (r_i tau)) x_i + (m s_coef / (a_S tau)) S - t <= 0
    link = np.flatnonzero(r > 0)
    k = link.size
    rows = np.arange(k)
    server = sp.coo_array(
        (
            np.concatenate(
                (x_scale[link] / (r[link] * tau), np.full(k, m * s_coef / (aS * tau)), -np.ones(k))
            ),
            (
                np.concatenate((rows, rows, rows)),
                np.concatenate((link, np.full(k, n), np.full(k, n + 1))),
            ),
        ),
        shape=(k, n + 2),
    )
    A = sp.vstack([local, server]).tocsr()
    b = np.concatenate((b_local, np.zeros(k)))
    return A, b


def server_lp(p: OffloadServerProblem) -> tuple[float, NDArray[np.float64]]:
    r"""Continuous optimum of (P1) by HiGHS, written as a sparse LP.

    Variables: shares :math:`w_i \in [0, 1]` (fixed to 0 when :math:`r_i = 0`),
    the server load :math:`S = \sum_j w_j l_j` (an auxiliary variable, so each
    server row has three non-zeros instead of :math:`N + 2`) and :math:`T`:

    .. math::

        \min T \;\text{s.t.}\; -T_i w_i - T \le -T_i,\quad
        w_i R_i + \frac{m}{a_S} S - T \le 0 \;\;\forall i,\quad
        S - \sum_j l_j w_j = 0.

    (P1) asks the server row only of users with :math:`w_i > 0`; asking it of
    every user gives the same problem. For a user with :math:`w_i = 0` the row
    reads :math:`\frac{m}{a_S} S \le T`: if some :math:`w_j > 0`, it follows
    from :math:`j`'s row (:math:`w_j R_j \ge 0`); if none, :math:`S = 0` and it
    reads :math:`0 \le T`. So the rows added are implied, the LP is convex
    and linear, and no binary "offloads" variable is needed. Users with
    :math:`r_i = 0` (:math:`R_i = \infty`) have no server row and
    :math:`w_i = 0`.

    Times are scaled by :math:`\tau = \max_i T_i` and :math:`S` by
    :math:`\sum_j l_j`; HiGHS runs with feasibility tolerances ``1e-10``.

    Returns
    -------
    T : float
        The LP optimum.
    share : ndarray
        An optimal :math:`w` (one of possibly many).

    Raises
    ------
    SolverError
        If HiGHS does not report an optimum.
    """
    n = p.n_users
    tau = p.no_offload_time
    if tau <= 0:
        return 0.0, np.zeros(n)
    l = p.points
    total = float(l.sum())
    A, b = _server_rows(p, l.astype(float), total, tau)
    # S - sum_j (l_j / total) w_j = 0, with S in units of total points.
    A_eq = sp.csr_array(
        (np.concatenate((-l / total, [1.0])), (np.zeros(n + 1, int), np.arange(n + 1))),
        shape=(1, n + 2),
    )
    upper = np.where((p.uplink_rate > 0) & (l > 0), 1.0, 0.0)
    bounds = np.column_stack((np.zeros(n + 2), np.concatenate((upper, [np.inf, np.inf]))))
    c = np.zeros(n + 2)
    c[-1] = 1.0
    res = linprog(
        c,
        A_ub=A,
        b_ub=b,
        A_eq=A_eq,
        b_eq=[0.0],
        bounds=bounds,
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if res.status != 0:
        raise SolverError(f"HiGHS LP failed: {res.message}")
    return float(res.x[-1] * tau), np.clip(res.x[:n], 0.0, 1.0)


def server_milp(p: OffloadServerProblem) -> tuple[float, NDArray[np.int64]]:
    r"""Whole-point optimum of (P1) by HiGHS (``scipy.optimize.milp``).

    Integer offloads :math:`o_i \in \{0, \dots, l_i\}` (fixed to 0 when
    :math:`r_i = 0`), continuous :math:`S = \sum_j o_j` and :math:`T`, the
    sparse rows of :func:`server_lp` with :math:`w_i l_i = o_i` (the server
    row of a user that offloads nothing is implied, as there):

    .. math::

        \min T \;\text{s.t.}\; \frac{m (l_i - o_i)}{a_i} \le T,\quad
        \frac{o_i}{r_i} + \frac{m}{a_S} S \le T,\quad S = \sum_j o_j.

    Solved with ``mip_rel_gap = 0``. HiGHS's integrality tolerance may
    return ``2.9999999``; the offloads are rounded and the reported time is
    :meth:`~.problem.OffloadServerProblem.evaluate`'s for the rounded
    allocation (the problem's own evaluator, not the MILP's value).

    Returns
    -------
    T : float
        Iteration time of the returned allocation.
    offloaded_points : ndarray of int64
        The MILP's :math:`o`.

    Raises
    ------
    SolverError
        If HiGHS does not report an optimum.
    """
    n = p.n_users
    tau, _ = server_lp(p)  # T / tau >= 1 at the optimum: HiGHS's absolute gap is relative
    if tau <= 0:
        return 0.0, np.zeros(n, dtype=np.int64)
    l = p.points
    A, b = _server_rows(p, np.ones(n), 1.0, tau)
    A_eq = sp.csr_array(
        (np.concatenate((-np.ones(n), [1.0])), (np.zeros(n + 1, int), np.arange(n + 1))),
        shape=(1, n + 2),
    )
    upper = np.where(p.uplink_rate > 0, l, 0.0)
    c = np.zeros(n + 2)
    c[-1] = 1.0
    res = milp(
        c,
        integrality=np.concatenate((np.ones(n), [0, 0])),
        bounds=Bounds(np.zeros(n + 2), np.concatenate((upper, [np.inf, np.inf]))),
        constraints=[
            LinearConstraint(A, -np.inf, b),
            LinearConstraint(A_eq, 0.0, 0.0),
        ],
        options={"mip_rel_gap": 0.0},
    )
    if res.status != 0:
        raise SolverError(f"HiGHS MILP failed: {res.message}")
    o = np.clip(np.round(res.x[:n]), 0, upper).astype(np.int64)
    return p.evaluate(o).iteration_time, o


def server_exhaustive(p: OffloadServerProblem) -> tuple[float, NDArray[np.int64]]:
    r"""Whole-point optimum of (P1) by enumerating every allocation (tiny instances).

    Every :math:`o \in \prod_i \{0, \dots, l_i\}` (:math:`\{0\}` when
    :math:`r_i = 0`) is evaluated with the float operations of
    :meth:`~.problem.OffloadServerProblem.evaluate` (local time
    ``m * (l - o) / a``, server time ``o / r + m * sum(o) / a_S`` for users with
    ``o > 0``), vectorised over allocations. The first minimiser in
    lexicographic order is returned.

    Raises
    ------
    ValueError
        If there are more than :data:`EXHAUSTIVE_LIMIT` allocations.
    """
    n = p.n_users
    l, a, r = p.points, p.compute_rate, p.uplink_rate
    m, aS = p.macs_per_point, p.server_rate
    top = np.where(r > 0, l, 0).astype(np.int64)
    count = int(np.prod(top + 1, dtype=float))
    if count > EXHAUSTIVE_LIMIT:
        raise ValueError(f"{count} allocations exceed EXHAUSTIVE_LIMIT = {EXHAUSTIVE_LIMIT}")
    grid = np.indices(tuple(top + 1), dtype=float).reshape(n, -1).T  # lexicographic
    local = m * np.clip(l - grid, 0.0, None) / a
    safe_r = np.where(r > 0, r, 1.0)
    server = m * grid.sum(axis=1) / aS
    done = np.where(grid > 0, grid / safe_r + server[:, None], 0.0)
    times = np.maximum(local.max(axis=1), done.max(axis=1))
    best = int(np.argmin(times))
    return float(times[best]), grid[best].astype(np.int64)
