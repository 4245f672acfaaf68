r"""The exact integer optimum of P1/P7 (scheme ``optimal``).

The argument, in four steps (``docs/feel.md`` states it at length; the tests
check each step on its own):

1. **The downlink is separate.** The downlink time depends on the downlink
   slots only (Theorem 2), so :math:`T_D` is one water-filling root and the
   problem becomes :math:`\max \sqrt{B}/(T_U + T_D)` over the batches and the
   uplink slots.

2. **For a fixed round time the best integer batch is a greedy.** At uplink
   round time :math:`T` device :math:`k` with batch :math:`b` needs the frame
   share :math:`\phi_k(b) = w_k/(T - t_k(b))`. Because :math:`t_k` is convex
   and non-decreasing and :math:`y \mapsto w/(T - y)` is convex and
   increasing, :math:`\phi_k` is convex in :math:`b`: its increments
   :math:`\delta_{kj} = \phi_k(j+1) - \phi_k(j)` grow with :math:`j`. Every
   extra sample is worth one unit of :math:`B`, so the largest global batch
   :math:`N(T)` that fits the frame takes the cheapest increments
   overall, which (by convexity) form a prefix on every device: a greedy over
   the sorted increments. We find the price :math:`\theta` at which the
   taken increments just fit by bisection on :math:`\theta` (each probe a
   closed-form count per device) and settle the few increments near
   :math:`\theta` by sorting them.

3. **The optimum sits where the round time first reaches a global batch.**
   :math:`N(T)` is a non-decreasing step function, so
   :math:`g(T) = \sqrt{N(T)}/(T + T_D)` falls on every step and is largest at a
   step's left end :math:`T^*(B) = \min\{T : N(T) \ge B\}`, the smallest
   round time that holds :math:`B` samples (the root of the minimum frame
   use of :math:`B` samples, itself a greedy). The optimum is
   :math:`\max_B \sqrt{B}/(T^*(B) + T_D)`.

4. **The continuous optimum fences the candidates in.** :math:`N(T) \le N_c(T)`
   (:mod:`._relaxed`), so :math:`g \le h = \sqrt{N_c}/(T + T_D)`, which is
   quasi-concave. With an integer plan of efficiency :math:`E_0` in hand
   (the greedy at the continuous optimum), the optimal round time lies in
   the interval :math:`[T_a, T_b] = \{h \ge E_0\}` and the optimal global
   batch in :math:`[N(T_a), N(T_b)]`, usually a handful of values. Inside that
   box the greedy's price :math:`\theta` is bracketed (the :math:`m`-th
   smallest increment falls with :math:`T` and grows with :math:`m`), which
   fixes all but a few increments; each candidate :math:`T^*(B)` is then a
   root over the remaining ones (Brent's method), and the best candidate is
   the optimum. Shrinking the box once the incumbent improves keeps the
   number of roots small.

Everything is vectorised over the devices; the only Python loops run over
bisection steps and over the candidate global batches.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from ..errors import SolverError
from ._model import Devices
from ._relaxed import Continuous, RelaxedPoint

__all__ = ["Box", "ExactOutcome", "Increments", "Probe", "exact_optimum"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
_EPS = np.finfo(float).eps
#: The greedy settles at most this many increments near its price by sorting.
_BOUNDARY = 4096


class Increments:
    r"""Integer batches of one :class:`Devices`: per-device counts at a price, the greedy.

    ``delta(j, T)`` is the extra frame share device ``k`` needs to go from
    batch ``j`` to ``j + 1`` at round time ``T`` (``inf`` when ``j + 1`` does
    not fit at all).
    """

    def __init__(self, dev: Devices) -> None:
        self.dev = dev
        self.free = dev.free
        th = dev.threshold
        self.partial = (th >= 1) & (th != np.floor(th)) & (self.free < dev.bmax)
        self.start = self.free + self.partial.astype(np.int64)  # first whole-slope step

    # ------------------------------------------------------------------ pieces
    def _t(self, j: NDArray, rows: NDArray | slice = slice(None)) -> FloatArray:
        d = self.dev
        return d.base[rows] + d.slope[rows] * np.maximum(0.0, j - d.threshold[rows])

    def delta(self, j: NDArray, T: float, rows: NDArray | slice = slice(None)) -> FloatArray:
        """Increment ``phi(j + 1) - phi(j)`` at round time ``T`` (``inf``: ``j + 1`` cannot fit)."""
        t0 = self._t(j, rows)
        t1 = self._t(j + 1, rows)
        x1 = T - t1
        with np.errstate(divide="ignore", invalid="ignore"):
            out = self.dev.w[rows] * (t1 - t0) / (x1 * (T - t0))
        return np.where(x1 > 0, out, np.inf)

    def cost(self, b: NDArray, T: float) -> float:
        """Frame share the batches ``b`` need at round time ``T`` (``inf`` if one cannot finish)."""
        x = T - self._t(b)
        if (x <= 0).any():
            return math.inf
        return float(np.sum(self.dev.w / x))

    def count(self, theta: float, T: float) -> IntArray:
        r"""Per-device batch when every increment of price :math:`\le\theta` is taken.

        Closed form on the whole-slope steps: the step :math:`j \to j + 1` costs
        :math:`w\sigma / (x(x - \sigma))` with :math:`x = T - t(j)`, at most
        :math:`\theta` iff :math:`x - \sigma/2 \ge q = \sqrt{w\sigma/\theta + \sigma^2/4}`;
        then one pass checks the boundary increments against rounding.
        """
        d = self.dev
        if theta <= 0:
            return self.free.copy()
        s, w = d.slope, d.w
        take_p = np.zeros(d.k, dtype=bool)
        if self.partial.any():
            dp = self.delta(self.free, T)
            take_p = self.partial & np.isfinite(dp) & (dp <= theta)
        q = s / 2 if math.isinf(theta) else np.sqrt(w * s / theta + s * s / 4)
        with np.errstate(invalid="ignore", over="ignore"):
            last = d.threshold + (T - d.base - s / 2 - q) / s
            n = np.floor(last) - self.start + 1
        n = np.nan_to_num(n, nan=0.0, posinf=float(d.bmax), neginf=0.0)
        n = np.clip(n, 0, d.bmax - self.start).astype(np.int64)
        n = np.where(self.partial & ~take_p, 0, n)
        b = self.free + take_p + n
        return self._settle(b, theta, T)

    def _settle(self, b: IntArray, theta: float, T: float) -> IntArray:
        """Correct closed-form counts that rounding put one step off."""
        d = self.dev
        for _ in range(4):
            back = self.delta(np.maximum(b - 1, 0), T)
            drop = (b > self.free) & ~(np.isfinite(back) & (back <= theta))
            nxt = self.delta(b, T)
            add = (b < d.bmax) & np.isfinite(nxt) & (nxt <= theta)
            if not (drop.any() or add.any()):
                return b
            b = b - drop + (add & ~drop)
        return b  # pragma: no cover - closed form is at most one step off

    # ------------------------------------------------------------------ greedy
    def _bracket(self, T: float, target, guess: float | None) -> tuple[tuple, tuple]:
        """Search on the price: ``(theta, counts)`` below and above ``target``.

        ``target(b)`` is True for counts on the "low" side. From ``guess`` (the
        continuous optimum's marginal price, when known) the bracket widens by
        factors 1.02, 1.02^2, ... and then bisects in ``log theta``; it stops
        when at most :data:`_BOUNDARY` increments separate the two sides.
        """
        lo = (0.0, self.free.copy())
        hi = (math.inf, self.count(math.inf, T))
        known = guess is not None and guess > 0 and math.isfinite(guess)
        theta = float(guess) if known else 1.0
        factor = 1.02 if known else 8.0
        for _ in range(400):
            b = self.count(theta, T)
            if target(b):
                lo = (theta, b)
            else:
                hi = (theta, b)
            if int(np.sum(hi[1] - lo[1])) <= _BOUNDARY:
                break
            if math.isinf(hi[0]):
                theta, factor = lo[0] * factor, factor * factor
            elif lo[0] == 0.0:
                theta, factor = hi[0] / factor, factor * factor
            else:
                theta = math.sqrt(lo[0] * hi[0])
                if hi[0] <= lo[0] * (1 + 8 * _EPS):
                    break
        return lo, hi

    def _boundary(
        self, lo: IntArray, hi: IntArray, T: float
    ) -> tuple[IntArray, FloatArray, IntArray]:
        """The increments between two count vectors: ``(rows, values sorted, order)``."""
        gap = hi - lo
        rows = np.repeat(np.arange(self.dev.k), gap)
        first = np.repeat(np.cumsum(gap) - gap, gap)
        j = lo[rows] + (np.arange(rows.size) - first)
        vals = self.delta(j, T, rows)
        order = np.argsort(vals, kind="stable")
        return rows, vals[order], order

    def greedy(self, T: float, guess: float | None = None) -> IntArray | None:
        """Largest integer global batch that fits round time ``T`` (step 2): the batches.

        ``None`` when even the smallest batches do not fit.
        """
        if self.cost(self.free, T) > 1.0:
            return None
        top = self.count(math.inf, T)
        if self.cost(top, T) <= 1.0:
            return top
        (_, lo), (_, hi) = self._bracket(T, lambda b: self.cost(b, T) <= 1.0, guess)
        rows, vals, order = self._boundary(lo, hi, T)
        room = 1.0 - self.cost(lo, T)
        taken = int(np.searchsorted(np.cumsum(vals), room, side="right"))
        b = lo.copy()
        np.add.at(b, rows[order[:taken]], 1)
        return b

    def price_bounds(
        self, total: int, T: float, guess: float | None = None
    ) -> tuple[float | None, float]:
        """Prices below and at-or-above the one at which ``total`` samples are reached at ``T``.

        Returns ``(below, above)`` with ``sum(count(below)) < total <=
        sum(count(above))``; ``below`` is ``None`` when the smallest batches
        already hold ``total`` samples, ``above`` is ``inf`` when ``T`` cannot
        hold ``total`` samples at any price.
        """
        if int(self.free.sum()) >= total:
            return None, 0.0
        if int(self.count(math.inf, T).sum()) < total:
            return math.inf, math.inf
        (below, _), (above, _) = self._bracket(T, lambda b: int(b.sum()) < total, guess)
        return below, above


class Box:
    """Round times ``[Ta, Tb]`` and global batches ``[B_lo, B_hi]`` with most batches fixed.

    For every round time and global batch in the box, each device's batch in
    a plan of least frame use lies in ``[low_k, high_k]`` (step 4 of the module
    docstring); only the increments between them are *active*.
    """

    def __init__(
        self,
        inc: Increments,
        ta: float,
        tb: float,
        b_lo: int,
        b_hi: int,
        guesses: tuple[float | None, float | None] = (None, None),
    ) -> None:
        self.inc = inc
        self.ta, self.tb = ta, tb
        self.b_lo, self.b_hi = b_lo, b_hi
        theta_min, _ = inc.price_bounds(b_lo, tb, guesses[1])
        _, theta_max = inc.price_bounds(b_hi, ta, guesses[0])
        low = inc.free.copy() if theta_min is None else inc.count(theta_min, ta)
        high = inc.count(theta_max, tb)
        if (high < low).any():  # pragma: no cover - monotonicity of the greedy
            raise SolverError("feel optimal: inconsistent batch bounds in the search box")
        self.low, self.high = low, high
        self.base_total = int(low.sum())
        dev = inc.dev
        self.t_fixed = inc._t(low)
        gap = high - low
        self.rows = np.repeat(np.arange(dev.k), gap)
        first = np.repeat(np.cumsum(gap) - gap, gap)
        j = low[self.rows] + (np.arange(self.rows.size) - first)
        self.t0 = inc._t(j, self.rows)
        self.t1 = inc._t(j + 1, self.rows)
        self.wd = dev.w[self.rows] * (self.t1 - self.t0)

    @property
    def active(self) -> int:
        """Number of active increments."""
        return int(self.rows.size)

    def _fixed(self, T: float) -> float:
        x = T - self.t_fixed
        if (x <= 0).any():
            return math.inf
        return float(np.sum(self.inc.dev.w / x))

    def _deltas(self, T: float) -> FloatArray:
        x1 = T - self.t1
        with np.errstate(divide="ignore", invalid="ignore"):
            out = self.wd / (x1 * (T - self.t0))
        return np.where(x1 > 0, out, np.inf)

    def min_use(self, total: int, T: float) -> float:
        """Least frame share of ``total`` samples at round time ``T`` (in the box)."""
        m = total - self.base_total
        fixed = self._fixed(T)
        if m <= 0 or not math.isfinite(fixed):
            return fixed
        d = self._deltas(T)
        return fixed + float(np.partition(d, m - 1)[:m].sum())

    def most(self, T: float) -> int:
        """:math:`N(T)` for ``T`` in the box."""
        fixed = self._fixed(T)
        if fixed > 1.0:
            return self.base_total - 1 if self.base_total > 0 else 0
        d = np.sort(self._deltas(T))
        return self.base_total + int(np.searchsorted(np.cumsum(d), 1.0 - fixed, side="right"))

    def plan(self, total: int, T: float) -> IntArray:
        """The batches of least frame use for ``total`` samples at ``T``."""
        m = total - self.base_total
        b = self.low.copy()
        if m > 0:
            pick = np.argpartition(self._deltas(T), m - 1)[:m]
            np.add.at(b, self.rows[pick], 1)
        return b

    def first_time(self, total: int, lo: float, hi: float) -> float | None:
        """:math:`T^*(B)` if it lies in ``(lo, hi]`` (inside the box), ``lo`` if ``B`` fits there.

        ``lo`` is a probe's round time, and its greedy fits fewer than ``total``
        samples there (the caller settles the totals above it). Where ``total``
        fits at ``lo`` all the same, the greedy and :meth:`min_use` rounded the
        frame use apart (one compares a cumulative sum with ``1 - fixed``, the
        other adds ``fixed`` to a sum): the plan at ``lo`` is then a candidate,
        not to be lost between two intervals (K = 3 with the continuous optimum
        integral at [2, 1, 2], a few ulps below its round time:
        ``tests/test_feel_oracles.py``).
        """
        f = lambda T: self.min_use(total, T) - 1.0  # noqa: E731
        if f(hi) > 0:
            return None
        if f(lo) <= 0:
            return lo
        t = brentq(f, lo, hi, xtol=4 * _EPS * hi, rtol=4 * _EPS, maxiter=300)
        for _ in range(64):  # step to the feasible side of the root
            if f(t) <= 0:
                return t
            t = float(np.nextafter(t, math.inf))
        return hi  # pragma: no cover - Brent's bracket is a few ulps wide

    # ------------------------------------------------------------ branch and bound
    def probe(self, T: float, rank: int | None = None) -> Probe:
        r"""The greedy at ``T`` (step 2) with its Lagrangian certificate.

        ``bound`` is :math:`D(\nu, T) = N(T) + \nu\,(1 - \text{frame use})`, the
        Lagrangian value at the price :math:`1/\nu` of the cheapest increment
        left out (the linear relaxation's optimum). ``rank`` guesses how many
        active increments fit; only a window of ranks around it is sorted.
        """
        room = 1.0 - self._fixed(T)
        d = self._deltas(T)
        size = d.size
        width = 256
        guess = size // 2 if rank is None else min(max(rank, 0), size)
        while True:
            lo = max(0, guess - width)
            hi = min(size, guess + width)
            if lo == 0 and hi == size:
                idx = np.argsort(d, kind="stable")
                below = 0.0
            else:
                kth = [k for k in (lo, hi - 1) if 0 <= k < size]
                idx = np.argpartition(d, kth)
                below = float(d[idx[:lo]].sum()) if lo else 0.0
            win = idx[lo:hi]
            win = win[np.argsort(d[win], kind="stable")]
            csum = below + np.cumsum(d[win])
            if lo > 0 and below > room:  # fewer than lo fit: look lower
                guess, width = lo, 4 * width
                continue
            m = int(np.searchsorted(csum, room, side="right"))
            if m == win.size and hi < size:
                nxt = float(d[idx[hi:]].min())
                if (csum[-1] if win.size else below) + nxt <= room:  # more fit: look higher
                    guess, width = hi, 4 * width
                    continue
            else:
                nxt = float(d[win[m]]) if m < win.size else math.inf
            break
        plan = self.low.copy()
        np.add.at(plan, self.rows[idx[:lo]], 1)
        np.add.at(plan, self.rows[win[:m]], 1)
        taken = lo + m
        used = float(csum[m - 1]) if m else below
        nu = 0.0 if not math.isfinite(nxt) else 1.0 / nxt
        bound = self.base_total + taken + nu * max(room - used, 0.0)
        return Probe(T=T, total=self.base_total + taken, plan=plan, bound=bound, nu=nu)

    def interval_bound(self, p1: Probe, p2: Probe, t_down: float) -> float:
        r"""An upper bound of :math:`\sqrt{N(T)}/(T + T_D)` over :math:`T \in (T_1, T_2]`.

        Weak duality at the fixed price :math:`\nu = \nu_1` of ``p1``: for
        :math:`T \ge T_1`,

        .. math:: N(T) \le D(\nu_1, T) \le D(\nu_1, T_1) + \nu_1 (T - T_1)
                  \sum_k \frac{w_k}{(T_1 - t_k(\hat b_k))^2},

        where :math:`\hat b_k` maximises :math:`b - \nu_1 w_k/(T_2 - t_k(b))`
        (the maximiser grows with :math:`T`, and :math:`w/(T - t)` is convex in
        :math:`T`). So :math:`N(T) \le \lfloor D_1 + S (T - T_1)\rfloor`, and the
        bound is the best :math:`\sqrt{n}/(T_n + T_D)` over the integers ``n`` the
        line allows, :math:`T_n` the first time the line reaches ``n``.
        """
        if p2.total <= p1.total:
            return -math.inf  # no step in (T1, T2]: g falls there
        t1, t2 = p1.T, p2.T
        if p1.nu <= 0:  # no increment fits at T1 at any price: no bound, split
            return math.inf
        theta = 1.0 / p1.nu
        d = self._deltas(t2)
        hat = self.low + np.bincount(self.rows[d <= theta], minlength=self.low.size).astype(
            np.int64
        )
        x = t1 - self.inc._t(hat)
        if (x <= 0).any():  # a maximiser at T2 does not fit at T1: split
            return math.inf
        slope = p1.nu * float(np.sum(self.inc.dev.w / (x * x))) * (1 + 1e-12)
        d1 = p1.bound * (1 + 1e-13) + p1.nu * 1e-13 + 1e-9  # rounding of the dual value
        top = min(p2.total, math.floor(d1 + slope * (t2 - t1)))
        first = p1.total + 1
        if top < first:
            return -math.inf

        def value(n: int) -> float:
            wait = 0.0 if n <= d1 else (n - d1) / slope
            return math.sqrt(n) / (t1 + wait + t_down)

        picks = {first, top}
        for c in (d1, slope * (t1 + t_down) - d1):
            if math.isfinite(c):
                picks.update((math.floor(c), math.ceil(c)))
        return max(value(n) for n in picks if first <= n <= top) * (1 + 1e-13)


@dataclasses.dataclass(frozen=True)
class Probe:
    """The greedy at one round time: ``total`` = N(T), ``plan``, the dual ``bound`` and ``nu``."""

    T: float
    total: int
    plan: IntArray
    bound: float
    nu: float


@dataclasses.dataclass(frozen=True)
class ExactOutcome:
    """The integer optimum: batches, and how it was found."""

    batch: IntArray
    peak: RelaxedPoint
    bound: float  # sqrt(N_c) / (T + T_D) at the continuous optimum (no xi)
    nodes: int
    roots: int
    active: int


#: Relative margin by which a bound must exceed the incumbent to be explored
#: (floating-point rounding in the bounds; see docs/feel.md, "Tolerances").
PRUNE_RTOL = 1e-12
#: Most round-time intervals the branch and bound may open.
MAX_NODES = 200_000


def _value(dev: Devices, b: IntArray, t_down: float) -> float:
    t_up, _ = dev.uplink(b)
    return math.sqrt(float(b.sum())) / (t_up + t_down)


def exact_optimum(dev: Devices, cont: Continuous, t_down: float) -> ExactOutcome:
    """The exact integer optimum (module docstring): the batches of the best plan."""
    inc = Increments(dev)
    peak = cont.optimum(t_down)
    bound = math.sqrt(peak.total) / (peak.T + t_down)
    guess = 1.0 / (peak.rho * peak.rho) if peak.rho > 0 else None
    b0 = inc.greedy(peak.T, guess)
    if b0 is None:  # rounding at t_min: the smallest batches
        b0 = inc.free.copy()
    best_b, best = b0, _value(dev, b0, t_down)
    free_value = _value(dev, inc.free, t_down)
    if free_value > best:
        best_b, best = inc.free.copy(), free_value
    if best >= bound * (1 - 4 * _EPS):  # the relaxation's bound is reached
        return ExactOutcome(best_b, peak, bound, 0, 0, 0)

    # Step 4: the round times where the continuous bound beats the incumbent.
    ta, tb = cont.level_set(min(best, bound), t_down, peak)
    ta, tb = max(ta * (1 - 1e-12), cont.t_min), tb * (1 + 1e-12)
    prices = []
    for t in (ta, tb):
        pt = cont.at(t) if t < cont.t_full else None
        prices.append(1.0 / (pt.rho * pt.rho) if pt is not None and pt.rho > 0 else None)
    lo_b = inc.greedy(ta, prices[0])
    hi_b = inc.greedy(tb, prices[1])
    if hi_b is None:  # pragma: no cover - tb is above the continuous optimum
        raise SolverError("feel optimal: no integer plan at the top of the search box")
    b_lo = int((inc.free if lo_b is None else lo_b).sum())
    box = Box(inc, ta, tb, b_lo, int(hi_b.sum()), (prices[0], prices[1]))

    def offer(total: int, T: float, plan_of) -> None:
        nonlocal best, best_b
        if math.sqrt(total) / (T + t_down) > best:
            plan = plan_of()
            value = _value(dev, plan, t_down)
            if value > best:
                best, best_b = value, plan

    points = [box.probe(t) for t in sorted({ta, min(max(peak.T, ta), tb), tb})]
    for p in points:
        offer(p.total, p.T, lambda p=p: p.plan)
    heap: list[tuple[float, int, Probe, Probe]] = []
    tick = 0
    for p1, p2 in itertools.pairwise(points):
        heapq.heappush(heap, (-box.interval_bound(p1, p2, t_down), tick, p1, p2))
        tick += 1
    nodes = roots = 0
    while heap:
        neg, _, p1, p2 = heapq.heappop(heap)
        if -neg <= best * (1 + PRUNE_RTOL):
            break  # the largest remaining bound cannot beat the incumbent
        nodes += 1
        if nodes > MAX_NODES:  # pragma: no cover - the bound is second order
            raise SolverError("feel optimal: branch and bound opened too many intervals")
        if p2.total - p1.total <= 2:  # settle the few steps exactly
            for total in range(p1.total + 1, p2.total + 1):
                roots += 1
                t = box.first_time(total, p1.T, p2.T)
                if t is not None:
                    offer(total, t, lambda total=total, t=t: box.plan(total, t))
            continue
        pm = box.probe(0.5 * (p1.T + p2.T), (p1.total + p2.total) // 2 - box.base_total)
        offer(pm.total, pm.T, lambda pm=pm: pm.plan)
        for a, b in ((p1, pm), (pm, p2)):
            heapq.heappush(heap, (-box.interval_bound(a, b, t_down), tick, a, b))
            tick += 1
    return ExactOutcome(best_b, peak, bound, nodes, roots, box.active)
