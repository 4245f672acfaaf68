r"""The certified optimum of ``flmar``: branch and bound over the round time and resolutions.

FLMAR.md section 5.5. Two facts make the problem tractable:

1. For fixed resolutions it is convex (:mod:`._fixed` solves it exactly).
2. For a fixed round time :math:`\tau` and a bandwidth price :math:`\lambda`
   it separates per device; :math:`V(\lambda, \tau)` of :mod:`._bound` is a lower
   bound on every plan with round time :math:`\tau`, for every price, and every
   (device, resolution) term of it is convex and non-increasing in
   :math:`\tau`.

A node of the search is an interval :math:`[a, c]` of round times and a set
:math:`S_n` of allowed resolutions per device. Its lower bound comes from
the maximised :math:`V` at the two ends and the tangents of its terms
(:func:`~._taubb.interval_bound`): on the interval every term lies above its
tangent at the right end (and at the left end, when the allowed terms are the
same), and the minimum over resolutions of lines is concave, so the bound is
attained at an end. Best first, a node is either

* split in :math:`\tau` (where the tangents are loose), or
* branched on a device (where the bound at an end point itself is below the
  incumbent): the device whose resolution differs on the two sides of the
  optimal price (the "dual choice" that differs from the primal's), its options
  split into the lower and the upper ones.

Every evaluated point proposes the resolutions of its price's plan; their
convex optimum (:func:`~._fixed.solve_fixed`, cached) is a feasible plan and
improves the incumbent. The search stops when the smallest open bound is
within ``atol`` of the incumbent: then the incumbent is optimal.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import time

import numpy as np
from numpy.typing import NDArray

from ._bound import PairEvaluator, PriceBound, best_price
from ._feasible import min_bandwidth, min_round_time
from ._fixed import FixedSolution, solve_fixed
from ._lagrange import devices_for
from ._math import LN2
from ._taubb import Point, _split_point, interval_bound

__all__ = ["Certificate", "certify"]

IntArray = NDArray[np.int64]


@dataclasses.dataclass
class Certificate:
    """Outcome of :func:`certify`."""

    best: FixedSolution
    bound: float
    #: The smallest open node bound (may exceed the best plan's value by rounding).
    raw_bound: float
    closed: bool
    nodes: int
    points: int
    fixed_solves: int
    seconds: float


class _Search:
    def __init__(
        self, problem, incumbents: list[FixedSolution], atol_rel: float, scale: float = 1.0
    ) -> None:
        self.p = problem
        self.n, self.k = problem.n_devices, problem.n_options
        self.pairs = devices_for(problem)
        self.t_min = self.pairs.t_min.reshape(self.n, self.k)
        self.ev = PairEvaluator(problem, self.pairs, self.n, self.k)
        self.w2r = problem.weights.time * problem.rounds
        self.cache: dict[bytes, FixedSolution | None] = {}
        self.best: FixedSolution | None = None
        for sol in incumbents:
            self._offer(sol)
        self.atol_rel = atol_rel
        self.scale = scale
        self.lam = self.best.lam if self.best is not None else 1e-8
        self.points = 0

    # ------------------------------------------------------------ incumbents
    def _offer(self, sol: FixedSolution | None) -> None:
        if sol is None:
            return
        self.cache.setdefault(sol.options.tobytes(), sol)
        if self.best is None or sol.objective < self.best.objective:
            self.best = sol

    def upper(self) -> float:
        return self.best.objective if self.best is not None else math.inf

    def atol(self) -> float:
        return self.atol_rel * max(self.scale, abs(self.upper()))

    def try_options(self, options: IntArray, lam: float, tau: float) -> None:
        key = np.asarray(options, np.int64).tobytes()
        if key in self.cache:
            return
        try:
            sol = solve_fixed(self.p, options, lam0=lam, tau0=tau if math.isfinite(tau) else None)
        except (ValueError, FloatingPointError):  # pragma: no cover - defensive
            sol = None
        self.cache[key] = sol
        self._offer(sol)

    # --------------------------------------------------------------- points
    def _fits(self, tau: float, allowed: NDArray[np.bool_]) -> bool:
        """Whether some plan with round time ``tau`` and the ``allowed`` options fits in ``B``.

        Each device needs at least the bandwidth on which ``p_max`` meets its rate at
        ``f_max`` (section 8); when even those sum above ``B`` the node is empty at ``tau``
        (and to its left) and its dual is unbounded: prune it exactly instead of chasing
        an infinite price.
        """
        need = np.stack([min_bandwidth(self.p, tau, k) for k in range(self.k)], axis=1)
        need = np.where(allowed, need, np.inf).min(axis=1)
        return bool(np.sum(need) <= self.p.bandwidth)

    def point(self, tau: float, mask: NDArray[np.bool_]) -> Point:
        """The maximised bound at ``tau`` for the allowed pairs ``mask``; proposes a plan."""
        allowed = mask & (tau > self.t_min)
        self.points += 1
        if not allowed.any(axis=1).all() or not self._fits(tau, allowed):
            return Point(
                tau,
                math.inf,
                0.0,
                np.full((self.n, self.k), np.inf),
                np.zeros((self.n, self.k)),
                key=None,
                payload=None,
            )
        pb = best_price(self.ev, tau, allowed, self.lam)
        if pb.lam > 0:
            self.lam = pb.lam
        pt = Point(
            tau=tau,
            value=pb.value,
            const=-pb.lam * self.p.bandwidth,
            values=pb.values,
            slopes=pb.slopes,
            key=pb.lam,
            payload=pb,
        )
        if pb.value < self.upper() - self.atol():
            self.try_options(pb.choice, pb.lam, tau)
            for j in pb.split[:2]:
                alt = pb.choice.copy()
                row = pb.values[j]
                order = np.argsort(row)
                alt[j] = order[1] if order[0] == pb.choice[j] else order[0]
                if np.isfinite(row[alt[j]]):
                    self.try_options(alt, pb.lam, tau)
        return pt


def _branch_device(pt: Point, mask: NDArray[np.bool_]) -> tuple[int, int] | None:
    """``(device, m)``: split the device's allowed options into ``<= m`` and ``> m``."""
    pb: PriceBound | None = pt.payload
    if pb is None:
        return None
    cands = [int(j) for j in pb.split if mask[j].sum() > 1]
    if not cands:
        # No switching device: take the device whose runner-up option is closest.
        vals = np.where(mask, pb.values, np.inf)
        srt = np.sort(vals, axis=1)
        gap = srt[:, 1] - srt[:, 0]
        gap = np.where(np.isfinite(gap) & (mask.sum(axis=1) > 1), gap, np.inf)
        if not np.isfinite(gap).any():
            return None
        j = int(np.argmin(gap))
        two = np.argsort(vals[j])[:2]
    else:
        j = cands[0]
        vals = np.where(mask[j], pb.values[j], np.inf)
        two = np.argsort(vals)[:2]
    m = int(min(two))
    allowed = np.flatnonzero(mask[j])
    if not ((allowed <= m).any() and (allowed > m).any()):
        return None
    return j, m


def certify(
    problem,
    incumbents: list[FixedSolution],
    *,
    atol_rel: float = 5e-7,
    max_points: int = 20_000,
    time_limit: float = 300.0,
    seeds: tuple[float, ...] = (),
    scale: float = 1.0,
) -> Certificate:
    """Branch and bound to a certified optimum (see the module docstring).

    Parameters
    ----------
    problem
        A feasible :class:`~edgealloc.flmar.FlmarProblem`.
    incumbents
        Feasible plans to start from (at least one).
    atol_rel
        Stop when the bound is within ``atol_rel * max(scale, |best|)`` of the best plan.
    max_points, time_limit
        Budget (bound evaluations, seconds); when exhausted the certificate is
        open and ``bound`` is the smallest open node bound.
    seeds
        Round times evaluated first (e.g. the incumbents').
    """
    t0 = time.perf_counter()
    s = _Search(problem, incumbents, atol_rel, scale)
    n, k = s.n, s.k
    full = np.ones((n, k), bool)
    w2r = s.w2r
    counter = itertools.count()
    nodes = 0

    cap = problem.round_limit
    if w2r <= 0:
        # No price on time: the bound is non-increasing in tau; only its right end matters.
        taus = [cap]
    else:
        lo = min_round_time(problem) * (1 + 1e-12)
        # Beyond hi no plan beats the incumbent: every device costs at least its
        # energy floor (f_min, the infinite-bandwidth upload energy) minus its accuracy.
        w = problem.weights.energy * problem.rounds
        floor = (
            w
            * (
                problem.capacitance
                * s.pairs.cycles.reshape(n, k)
                * problem.frequency_min[:, None] ** 2
                + (problem.bits * problem.noise_psd * LN2 / problem.channel_gain)[:, None]
            )
            - problem.weights.accuracy * problem.accuracy[None, :]
        )
        l0 = float(np.sum(np.min(floor, axis=1)))
        hi = min(cap, max(lo * (1 + 1e-9), (s.upper() - l0) / w2r))
        hi = max(hi, lo)
        inner = sorted(t for t in seeds if lo < t < hi)
        grid = list(np.geomspace(lo, hi, 9)[1:-1]) if hi > lo else []
        taus = sorted({lo, hi, *inner, *grid})
    heap: list = []
    pts = [s.point(t, full) for t in taus]
    if len(pts) == 1:
        heapq.heappush(heap, (pts[0].value, next(counter), full, pts[0], None))
    for a, c in itertools.pairwise(pts):
        heapq.heappush(heap, (interval_bound(a, c, w2r), next(counter), full, a, c))
    bound = -math.inf
    closed = False
    dropped = math.inf  # bounds of nodes that could be neither split nor branched
    pruned = math.inf  # the smallest bound of a node discarded against the incumbent

    def push(clb: float, node: tuple) -> None:
        nonlocal pruned
        if clb < s.upper() - s.atol():
            heapq.heappush(heap, (clb, next(counter), *node))
        else:
            pruned = min(pruned, clb)

    while heap:
        lb, _, mask, left, right = heap[0]
        atol = s.atol()
        bound = min(lb, s.upper())
        if lb >= s.upper() - atol:
            closed = True
            bound = lb
            break
        if s.points >= max_points or time.perf_counter() - t0 > time_limit:
            break
        heapq.heappop(heap)
        nodes += 1
        ends = [left] if right is None else [left, right]
        low_end = min(ends, key=lambda p: p.value)
        point_gap = s.upper() - low_end.value
        loose = low_end.value - lb
        width = 0.0 if right is None else right.tau - left.tau
        tiny = right is None or width <= 1e-12 * right.tau
        if point_gap > atol and (point_gap >= loose or tiny):
            br = _branch_device(low_end, mask)
            if br is None:
                if tiny:  # nothing left to split or branch: keep its bound
                    dropped = min(dropped, lb)
                    continue
            else:
                j, m = br
                for part in (np.arange(k) <= m, np.arange(k) > m):
                    child = mask.copy()
                    child[j] &= part
                    new_ends = [s.point(p.tau, child) for p in ends]
                    if len(new_ends) == 1:
                        push(max(lb, new_ends[0].value), (child, new_ends[0], None))
                    else:
                        clb = max(lb, interval_bound(new_ends[0], new_ends[1], w2r))
                        push(clb, (child, new_ends[0], new_ends[1]))
                continue
        if tiny:
            dropped = min(dropped, lb)
            continue

        t = _split_point(left, right, w2r)
        mid = s.point(t, mask)
        for a, c in ((left, mid), (mid, right)):
            push(max(lb, interval_bound(a, c, w2r)), (mask, a, c))
    if not heap:
        closed = True
        bound = s.upper()
    if dropped < s.upper() - s.atol():
        closed = False
    bound = min(bound, dropped, pruned)
    raw = bound
    assert s.best is not None
    return Certificate(
        best=s.best,
        bound=min(bound, s.upper()),
        raw_bound=raw,
        closed=closed,
        nodes=nodes,
        points=s.points,
        fixed_solves=len(s.cache),
        seconds=time.perf_counter() - t0,
    )
