"""Exact integer minimum makespan with box constraints (the tie-break of ``optimal``).

Given per-device finishing times ``c0_k + s_k n_k`` (``s_k > 0``), find integers
``lo_k <= n_k <= hi_k`` with ``sum_k n_k = total`` minimising the latest
finishing time among devices with ``n_k > 0`` (a device with ``lo_k = 0`` may
sit out and then takes no time). The optimum is the smallest ``T`` with
``N(T) = sum_k min(hi_k, largest n: c0_k + s_k n <= T) >= total``; ``N`` is a
non-decreasing step function whose steps are the values ``c0_k + s_k j``.
We bisect on ``T`` until few steps remain in the bracket, then enumerate
them and select the exact threshold. Every pass is vectorised over devices.

Used twice: to choose, among allocations that reach the optimal ``tau``, one
whose slowest device finishes earliest; and, at ``tau = 1``, to find the
smallest deadline that makes an infeasible problem feasible.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..errors import SolverError
from ._capacity import largest_n

__all__ = ["min_makespan"]

_ENUMERATE = 1 << 16


def _counts(T: float, c0, s, lo, hi) -> NDArray[np.int64] | None:
    n = largest_n(c0, s, T, hi)
    if (n < lo).any() and (n[lo > 0] < lo[lo > 0]).any():
        return None
    return np.maximum(n, 0)


def min_makespan(
    c0: NDArray[np.float64],
    s: NDArray[np.float64],
    lo: NDArray[np.int64],
    hi: NDArray[np.int64],
    total: int,
) -> tuple[NDArray[np.int64], float]:
    """Allocation and makespan of the exact minimum-makespan problem.

    Parameters
    ----------
    c0, s
        Fixed time and time per unit of each device (``s > 0``).
    lo, hi
        Integer bounds per device; ``lo = 0`` lets a device sit out. The
        caller guarantees ``sum(lo) <= total <= sum(hi)``, that every device
        with ``lo > 0`` satisfies ``lo <= hi``, and that ``n = hi`` is feasible.

    Returns
    -------
    (n, makespan)
        Integer allocation and ``max_k (c0_k + s_k n_k)`` over ``n_k > 0``.
    """
    c0 = np.asarray(c0, float)
    s = np.asarray(s, float)
    lo = np.asarray(lo, np.int64)
    hi = np.asarray(hi, np.int64)
    need_lo = lo > 0
    a = float(np.max(c0[need_lo] + s[need_lo] * lo[need_lo])) if need_lo.any() else 0.0
    active = hi > 0
    b = float(np.max(c0[active] + s[active] * hi[active]))
    na = _counts(a, c0, s, lo, hi)
    assert na is not None
    if na.sum() >= total:
        T, n = a, na
    else:
        nb = _counts(b, c0, s, lo, hi)
        assert nb is not None and nb.sum() >= total
        while (nb - na).sum() > _ENUMERATE and np.nextafter(a, np.inf) < b:
            mid = a + 0.5 * (b - a)
            nm = _counts(mid, c0, s, lo, hi)
            assert nm is not None
            if nm.sum() >= total:
                b, nb = mid, nm
            else:
                a, na = mid, nm
        diff = nb - na
        if diff.sum() > _ENUMERATE:  # float resolution exhausted: all steps sit at b
            T = b
        else:
            idx = np.repeat(np.arange(diff.size), diff)
            starts = np.cumsum(diff) - diff
            j = na[idx] + 1 + (np.arange(idx.size) - starts[idx])
            steps = c0[idx] + s[idx] * j
            need = total - int(na.sum())
            T = float(np.partition(steps, need - 1)[need - 1])
        n = _counts(T, c0, s, lo, hi)
        assert n is not None and n.sum() >= total
    n = n.copy()
    excess = int(n.sum()) - total
    while excess > 0:  # drop the latest-finishing units, one per device per round
        removable = np.flatnonzero(n > lo)
        if removable.size == 0:
            raise SolverError("min_makespan: the lower bounds exceed the total")
        finish = c0[removable] + s[removable] * n[removable]
        r = min(excess, removable.size)
        pick = removable[np.argpartition(-finish, r - 1)[:r]] if r < removable.size else removable
        n[pick] -= 1
        excess -= r
    busy = n > 0
    makespan = float(np.max(c0[busy] + s[busy] * n[busy])) if busy.any() else 0.0
    return n, makespan
