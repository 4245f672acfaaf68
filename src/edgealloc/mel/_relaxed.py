r"""Continuous relaxations of the ``mel`` problem.

Synchronous (problem (13) of the sync paper, (17) of the async paper)
--------------------------------------------------------------------------
For a fixed real :math:`\tau` every device can hold at most
:math:`g_k(\tau)` samples, and :math:`g_k` is non-increasing; so the relaxed
optimum is the largest :math:`\tau \ge 1` with
:math:`\sum_k g_k(\tau) \ge d` (and :math:`g_k(\tau) \ge d_l` for every device
that must take part). Without energy limits this is the positive root of
:math:`\sum_k a_k/(\tau + b_k) = d`, i.e. eq. (24) of the sync paper, whose
numerator is the degree-:math:`K` polynomial (16) of Theorem 1. We never
form that polynomial: we bracket the monotone function and use Brent's
method, which is exact to machine precision for any :math:`K`.

Asynchronous (problem (16) with real :math:`\tau_k, d_k`)
-------------------------------------------------------------
The async paper "relaxes" (16) into the *synchronous* problem (17), whose
optimum is no upper bound for (16). The true continuous relaxation keeps
per-device :math:`\tau_k` in a window :math:`[m, m+c]`. Its capacities
:math:`g_k` are convex on each side of the point where the time and energy
limits cross, so the problem maximises a linear function over a non-convex
set; at an optimum all devices but one sit at a breakpoint (window ends or
their kink), which makes it a knapsack problem with real values: no exact
polynomial method is known. We therefore bound it: for a set of windows
:math:`m \in [m_1, m_2]` every :math:`\tau_k \in [m_1, m_2 + c]`, and
replacing :math:`g_k` by its least concave majorant on that interval gives a
continuous knapsack solved exactly by a greedy over at most two segments
per device. A branch and bound over :math:`m` refines the intervals and keeps
the best *feasible* continuous allocation found (the greedy solution with the
one fractional device moved onto the true capacity curve). The result is a
certified pair (feasible value, upper bound).
"""

from __future__ import annotations

import dataclasses
import heapq

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from ._capacity import Capacities

__all__ = ["AsyncRelaxation", "SyncRelaxation", "relax_async", "relax_sync"]


@dataclasses.dataclass(frozen=True)
class SyncRelaxation:
    """Continuous synchronous optimum: ``tau`` and per-device ``samples`` (real)."""

    tau: float
    samples: NDArray[np.float64]


def _spread(cap: Capacities, caps: NDArray[np.float64], part: NDArray[np.bool_]):
    """Split ``d`` over participants in proportion to their room above the floor.

    When devices may sit out and more are eligible than ``d / floor`` allows,
    only the ones with the largest capacity take part.
    """
    lb = float(cap.floor)
    most = int(cap.d // lb)
    if part.sum() > most:
        keep = np.argsort(-np.where(part, caps, -np.inf), kind="stable")[:most]
        part = np.zeros_like(part)
        part[keep] = True
    room = np.where(part, np.maximum(caps - lb, 0.0), 0.0)
    spare = cap.d - lb * part.sum()
    share = spare / room.sum() if room.sum() > 0 else 0.0
    return np.where(part, lb + room * share, 0.0)


def _sync_total(cap: Capacities, tau: float) -> float:
    g = cap.cont_cap(np.full(cap.k, tau))
    if cap.skip:
        return float(g[g >= 1.0].sum())
    if (g < cap.floor).any():
        return -np.inf
    return float(g.sum())


def relax_sync(cap: Capacities) -> SyncRelaxation | None:
    """Exact continuous optimum of the synchronous relaxation (None if infeasible)."""
    d = float(cap.d)
    if not cap.skip and cap.k * cap.floor > cap.d:
        return None  # the participants' floors alone exceed d
    if _sync_total(cap, 1.0) < d:
        return None
    upper = 1.0 + float(np.sum(np.maximum(cap.t_limit - cap.c0, 0.0) / cap.c2)) / d * (1 + 1e-9)
    if not cap.skip:
        upper = min(upper, float(np.min(cap.cont_tau_limit(cap.floor))))
    if _sync_total(cap, upper) >= d:
        tau = upper
    else:

        def f(t: float) -> float:
            return _sync_total(cap, t) - d

        tau = brentq(f, 1.0, upper, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500)
        tau = min(max(tau, 1.0), upper)
        # Brent returns a point within tolerance of the root; step back onto the feasible side.
        for _ in range(200):
            if f(tau) >= 0 or tau <= 1.0:
                break
            tau = max(1.0, tau - max(abs(tau) * 4e-16, 1e-300) * 8)
    g = cap.cont_cap(np.full(cap.k, tau))
    part = g >= cap.floor if cap.skip else np.ones(cap.k, bool)
    return SyncRelaxation(tau=float(tau), samples=_spread(cap, g, part))


# ---------------------------------------------------------------------------
# Asynchronous relaxation
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class AsyncRelaxation:
    """Certified continuous relaxation of the asynchronous problem.

    ``value``/``tau``/``samples``: the best feasible continuous allocation
    found (objective = mean tau); ``bound``: a proven upper bound on the
    continuous optimum (hence on the integer one).
    """

    value: float
    bound: float
    tau: NDArray[np.float64]
    samples: NDArray[np.float64]
    nodes: int


def _segments(cap: Capacities, a: float, b: float, tbar: NDArray[np.float64]):
    """Concave-majorant segments of each eligible device on ``[a, min(b, tbar)]``."""
    eligible = tbar >= a
    bk = np.minimum(b, tbar)
    ga = cap.cont_cap(np.full(cap.k, a))
    gb = cap.cont_cap(bk)
    kink = cap.cont_kink()
    inside = eligible & np.isfinite(kink) & (kink > a) & (kink < bk)
    kk = np.where(inside, kink, a)
    gk = cap.cont_cap(kk)
    with np.errstate(divide="ignore", invalid="ignore"):
        chord = ga + (kk - a) * (gb - ga) / (bk - a)
    two = inside & (gk > chord)
    # Segment 1 ends at the kink (two segments) or at bk (one segment).
    e1 = np.where(two, kk, bk)
    g1 = np.where(two, gk, gb)
    return eligible, ga, (e1, g1), (bk, gb), two


def _greedy(cap: Capacities, a: float, b: float, tbar: NDArray[np.float64]):
    """Exact continuous knapsack on the concave majorant: (value, tau, budget_info)."""
    eligible, ga, (e1, g1), (e2, g2), two = _segments(cap, a, b, tbar)
    if not cap.skip and not eligible.all():
        return None
    if cap.skip and eligible.sum() > cap.d:
        # At most d devices can hold a sample; each reaches min(b, tbar) with one.
        reach = np.where(eligible, np.minimum(b, tbar), -np.inf)
        pick = np.argsort(-reach, kind="stable")[: cap.d]
        chosen = np.zeros(cap.k, bool)
        chosen[pick] = True
        tau = np.where(chosen, reach, 0.0)
        return float(tau.sum()), tau, None, chosen
    slack = float(ga[eligible].sum()) - cap.d
    if slack < 0:
        return None
    k = cap.k
    idx = np.arange(k)
    # Segment arrays: device, start tau, end tau, capacity loss.
    s_dev = np.concatenate([idx[eligible], idx[eligible & two]])
    s_t0 = np.concatenate([np.full(eligible.sum(), a), e1[eligible & two]])
    s_t1 = np.concatenate([e1[eligible], e2[eligible & two]])
    s_loss = np.concatenate([(ga - g1)[eligible], (g1 - g2)[eligible & two]])
    s_step = np.concatenate([np.zeros(eligible.sum()), np.ones((eligible & two).sum())])
    length = s_t1 - s_t0
    useful = length > 0
    s_dev, s_t0, s_t1, s_loss, s_step, length = (
        x[useful] for x in (s_dev, s_t0, s_t1, s_loss, s_step, length)
    )
    rate = np.maximum(s_loss, 0.0) / length
    order = np.lexsort((s_step, rate))
    cum = np.cumsum(np.maximum(s_loss[order], 0.0))
    p = int(np.searchsorted(cum, slack, side="right"))
    tau = np.where(eligible, a, 0.0)
    full = order[:p]
    # Later segments of a device end further right: take the max end.
    np.maximum.at(tau, s_dev[full], s_t1[full])
    frac = None
    if p < order.size:
        j = order[p]
        left = slack - (cum[p - 1] if p > 0 else 0.0)
        f = left / s_loss[j] if s_loss[j] > 0 else 1.0
        frac = (int(s_dev[j]), float(s_t0[j]), float(s_t1[j]), float(f))
        bound_tau = s_t0[j] + f * length[j]
        value_ub = float(tau.sum()) - tau[s_dev[j]] + bound_tau
    else:
        value_ub = float(tau.sum())
    return value_ub, tau, frac, eligible


def _feasible_at(cap: Capacities, m: float, c: float, tbar):
    """A feasible continuous allocation for the window ``[m, m + c]`` (or None)."""
    out = _greedy(cap, m, m + c, tbar)
    if out is None:
        return None
    _, tau, frac, eligible = out
    tau = tau.copy()
    if frac is not None:
        j, t0, t1, _ = frac
        tau[j] = t0  # start from the segment's left end (capacity known exactly)
        caps = np.where(eligible, cap.cont_cap(np.where(eligible, tau, 1.0)), 0.0)
        need = cap.d - (caps.sum() - caps[j])
        tj = float(cap.cont_tau_limit(np.full(cap.k, max(need, cap.floor)))[j])
        tau[j] = min(t1, max(t0, tj))
    caps = np.where(eligible, cap.cont_cap(np.where(eligible, tau, 1.0)), 0.0)
    if caps.sum() < cap.d * (1 - 1e-10):
        return None
    return float(tau.sum()), tau, _spread(cap, caps, eligible)


def relax_async(
    cap: Capacities, staleness: int, tau_sync: float, *, max_nodes: int = 400, rtol: float = 1e-9
) -> AsyncRelaxation:
    """Branch and bound over the window floor ``m`` (see module docstring).

    ``tau_sync`` is the synchronous relaxed optimum: no window floor can
    exceed it, and none below ``tau_sync - c`` can beat it (all devices).
    """
    c = float(staleness)
    k = cap.k
    tbar = cap.cont_tau_limit(cap.floor)
    lo = max(1.0, tau_sync - c) if not cap.skip else 1.0
    hi = tau_sync
    best = None
    for m in {hi, lo, 0.5 * (lo + hi)}:
        got = _feasible_at(cap, m, c, tbar)
        if got is not None and (best is None or got[0] > best[0]):
            best = got
    assert best is not None, "the synchronous optimum is a feasible window"

    def upper(m1: float, m2: float) -> float:
        out = _greedy(cap, m1, m2 + c, tbar)
        return -np.inf if out is None else out[0]

    heap = [(-upper(lo, hi), lo, hi)]
    nodes = 1
    leaves = -np.inf  # bounds of intervals too narrow to split further
    while heap and nodes < max_nodes:
        ub = -heap[0][0]
        if ub <= best[0] + rtol * max(1.0, abs(ub)):
            break
        _, m1, m2 = heapq.heappop(heap)
        if m2 - m1 <= 1e-9 * max(1.0, m2):
            leaves = max(leaves, ub)
            continue
        mid = 0.5 * (m1 + m2)
        got = _feasible_at(cap, mid, c, tbar)
        if got is not None and got[0] > best[0]:
            best = got
        for a, b in ((m1, mid), (mid, m2)):
            u = upper(a, b)
            nodes += 1
            if u > best[0]:
                heapq.heappush(heap, (-u, a, b))
    final_ub = max(best[0], leaves, max((-h[0] for h in heap), default=-np.inf))
    value, tau, samples = best
    return AsyncRelaxation(
        value=value / k,
        bound=max(final_ub, value) / k,
        tau=tau,
        samples=samples,
        nodes=nodes,
    )
