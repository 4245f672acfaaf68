r"""Global minimisation over the round time :math:`\tau` of a sum of per-device minima.

FLMAR.md section 5.2. The functions minimised here have the form

.. math:: F(\tau) = w_2 R_g \tau + c + \sum_n \min_k \Phi_{nk}(\tau)

where every :math:`\Phi_{nk}` is convex and non-increasing in :math:`\tau` on
the set where option :math:`k` of device :math:`n` is feasible (and that set
only grows with :math:`\tau`). :math:`F` itself is not convex (the minima over
options), but on an interval :math:`[a, c]` it is bounded below by the
tangents of the :math:`\Phi_{nk}` at either end: the minimum over options of
lines is concave, so each tangent bound attains its minimum over the interval
at an end point. A best-first branch and bound on :math:`\tau`, splitting at the
crossing of the two end models, closes the gap to a given tolerance. It is
used by the exact discrete SP1 (fixed upload times) and by the certified
``optimal`` scheme (the device Lagrangians at a bandwidth price).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = ["Point", "TauSearch", "minimise_over_tau"]

FloatArray = NDArray[np.float64]


@dataclasses.dataclass(frozen=True)
class Point:
    """:math:`F` and the tangent data of every :math:`\\Phi_{nk}` at one round time.

    ``values`` and ``slopes`` are ``(N, K)``; ``values`` is ``inf`` where the
    option is infeasible and ``slopes`` (:math:`\\le 0`) are right derivatives.
    ``key`` identifies the scale of the values (e.g. the bandwidth price):
    tangents of two points are combined only when their keys agree.
    """

    tau: float
    value: float
    const: float
    values: FloatArray
    slopes: FloatArray
    key: object = None
    payload: object = None

    @property
    def choice(self) -> NDArray[np.int64]:
        """The best option of every device at this round time."""
        return np.argmin(self.values, axis=1)

    def slope(self, w2r: float) -> float:
        """Right derivative of :math:`F` at ``tau`` for the current choice."""
        k = self.choice
        return w2r + float(np.sum(self.slopes[np.arange(k.size), k]))


def _line_min(point: Point, w2r: float, tau: float, floor: FloatArray | None) -> float:
    """The tangent model of ``point`` at ``tau``: ``w2r tau + c + sum_n min_k (line_nk(tau))``."""
    with np.errstate(invalid="ignore"):
        lines = point.values + point.slopes * (tau - point.tau)
    if floor is not None:
        lines = np.where(np.isfinite(point.values), lines, floor)
    lines = np.where(np.isnan(lines), np.inf, lines)
    return w2r * tau + point.const + float(np.sum(np.min(lines, axis=1)))


def interval_bound(left: Point, right: Point, w2r: float) -> float:
    """A lower bound of ``F`` on ``[left.tau, right.tau]`` from the end points' tangents.

    The right end's tangents are valid on the whole interval (an option
    infeasible at the right end is infeasible to its left). The left end's are
    valid for options feasible at the left end; options that become feasible
    inside are bounded by their right-end values (valid because each is
    non-increasing) when both ends share a key, otherwise the left model is not
    used.
    """
    a, c = left.tau, right.tau
    lb_right = min(right.value, _line_min(right, w2r, a, None))
    same = left.key == right.key
    newly = np.isfinite(right.values) & ~np.isfinite(left.values)
    if not same and newly.any():
        return lb_right
    if newly.any():
        # Options that become feasible inside: at least their right-end value.
        floor = np.where(newly, right.values, np.inf)
        lb_left = min(_line_min(left, w2r, a, floor), _line_min(left, w2r, c, floor))
    else:
        lb_left = min(left.value, _line_min(left, w2r, c, None))
    return max(lb_right, lb_left)


def _split_point(left: Point, right: Point, w2r: float) -> float:
    """Where the end points' local linear models of ``F`` cross (else the midpoint)."""
    a, c = left.tau, right.tau
    sa, sc = left.slope(w2r), right.slope(w2r)
    mid = 0.5 * (a + c)
    if not (math.isfinite(sa) and math.isfinite(sc)) or sc - sa <= 0:
        return mid
    # F(a) + sa (t - a) = F(c) + sc (t - c)
    t = (right.value - left.value + sa * a - sc * c) / (sa - sc)
    width = c - a
    if not (a + 0.02 * width < t < c - 0.02 * width):
        return mid
    return t


@dataclasses.dataclass
class TauSearch:
    """Outcome of :func:`minimise_over_tau`."""

    best: Point
    bound: float
    evaluations: int
    closed: bool


def minimise_over_tau(
    evaluate: Callable[[float], Point],
    lo: float,
    hi: float,
    w2r: float,
    *,
    atol: float,
    seeds: tuple[float, ...] = (),
    max_evaluations: int = 100_000,
    incumbent: float = math.inf,
) -> TauSearch:
    """Minimise ``F`` over ``[lo, hi]`` to within ``atol`` (best first).

    Parameters
    ----------
    evaluate
        ``tau -> Point``.
    lo, hi
        The interval (``F`` is evaluated at both ends).
    w2r
        The time weight ``w2 R_g`` of ``F``.
    atol
        Absolute gap at which the search stops.
    seeds
        Extra round times evaluated first (e.g. a relaxation's optimum).
    max_evaluations
        Evaluation budget; when exhausted, ``closed`` is false and ``bound`` is
        the smallest open lower bound.
    incumbent
        An objective value known to be attainable elsewhere: intervals whose
        bound is above it are never explored.
    """
    taus = sorted({lo, hi, *(t for t in seeds if lo < t < hi)})
    points = [evaluate(t) for t in taus]
    evals = len(points)
    best = min(points, key=lambda p: p.value)
    upper = min(best.value, incumbent)
    counter = itertools.count()
    heap: list[tuple[float, int, Point, Point]] = []
    for left, right in itertools.pairwise(points):
        heapq.heappush(heap, (interval_bound(left, right, w2r), next(counter), left, right))
    bound = min(upper, heap[0][0]) if heap else best.value
    while heap:
        lb, _, left, right = heap[0]
        bound = min(lb, upper)
        if lb >= upper - atol:
            return TauSearch(best, min(bound, best.value), evals, True)
        if evals >= max_evaluations:
            return TauSearch(best, bound, evals, False)
        heapq.heappop(heap)
        width = right.tau - left.tau
        if width <= 4e-16 * max(abs(right.tau), 1e-300):
            # Cannot split further: the bound is what the end points give.
            bound_here = min(left.value, right.value)
            if bound_here < upper:
                upper = bound_here
            continue
        t = _split_point(left, right, w2r)
        mid = evaluate(t)
        evals += 1
        if mid.value < best.value:
            best = mid
            upper = min(upper, mid.value)
        for a, c in ((left, mid), (mid, right)):
            lb_child = max(lb, interval_bound(a, c, w2r))
            if lb_child < upper - atol:
                heapq.heappush(heap, (lb_child, next(counter), a, c))
    return TauSearch(best, min(best.value, upper), evals, True)
