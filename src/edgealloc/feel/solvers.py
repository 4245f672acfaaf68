r"""Schemes of the ``feel`` family: ``optimal``, ``relaxed``, ``paper`` and four baselines.

``optimal`` — the exact optimum over integer batches (:mod:`._integer`)
    The downlink is one water-filling root (Theorem 2); for a fixed uplink
    round time the largest integer global batch is a greedy over the sorted
    frame-share increments; the optimum sits where the round time first
    reaches a global batch; the continuous optimum fences the candidates in,
    and a branch and bound over round-time intervals with a Lagrangian bound
    settles them. Status ``optimal``, ``bound`` = objective (up to a relative
    ``1e-12``, see ``docs/feel.md``).

``relaxed`` — the continuous optimum (:mod:`._relaxed`)
    Theorems 1-2 with an exact one-dimensional search; batches real. Its value
    is every scheme's ``relaxed_bound``.

``paper`` — Algorithm 1 as printed (:mod:`._paper`)
    Nested searches for :math:`\mu` and :math:`E^U`, Theorem 2, a bisection over
    :math:`B`, batches rounded up; our readings of the ambiguous steps are in
    :mod:`._paper`.

Baselines (Section VI-D of the paper and ours)
    ``online`` (:math:`B_k = 1`), ``full`` (:math:`B_k = B^{max}`), ``random``
    (uniform in :math:`1..B^{max}`, seeded by the problem's content, so the same
    problem gets the same batches), each with the best slots for its batches;
    ``equal-slots`` (:math:`\tau_k = T_f / K` on both links, the best integer
    batches for those slots).

Every returned plan is priced and checked by
:meth:`~edgealloc.feel.problem.FeelProblem.evaluate`, never by the solver.
No valid problem is infeasible (``problem.py``), so no scheme raises
:class:`~edgealloc.errors.InfeasibleError`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from ..errors import SolverError, ValidationError
from ..result import Result, Status, to_jsonable
from ._integer import PRUNE_RTOL, exact_optimum
from ._model import Devices
from ._paper import paper_plan
from ._relaxed import Continuous, RelaxedPoint
from .problem import FeelAllocation, FeelProblem

__all__ = [
    "SCHEMES",
    "slots_for_batches",
    "solve_equal_slots",
    "solve_full",
    "solve_online",
    "solve_optimal",
    "solve_paper",
    "solve_random",
    "solve_relaxed",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class _Setup:
    """What every scheme needs: the arrays, the downlink, the continuous optimum."""

    def __init__(self, problem: FeelProblem) -> None:
        self.problem = problem
        self.dev = Devices.of(problem)
        self.t_down, self.down_share = self.dev.downlink()
        self.cont = Continuous(self.dev)
        self._peak: RelaxedPoint | None = None

    @property
    def peak(self) -> RelaxedPoint:
        """The continuous optimum (computed once)."""
        if self._peak is None:
            self._peak = self.cont.optimum(self.t_down)
        return self._peak

    @property
    def relaxed_bound(self) -> float:
        r"""The continuous optimum's efficiency :math:`\xi\sqrt{B}/T`."""
        pk = self.peak
        return self.dev.xi * math.sqrt(pk.total) / (pk.T + self.t_down)

    def fixed_batches(self, batch: IntArray) -> tuple[FloatArray, FloatArray]:
        """Best slots (seconds) for fixed batches: both water-fillings (Theorems 1-2)."""
        _, up = self.dev.uplink(batch)
        p = self.problem
        return up * p.frame.uplink, self.down_share * p.frame.downlink


def _result(
    setup: _Setup,
    scheme: str,
    status: Status,
    batch: NDArray,
    uplink_slot: FloatArray,
    downlink_slot: FloatArray,
    *,
    message: str,
    t0: float,
    integral: bool = True,
    bound: float | None = None,
    info: dict | None = None,
) -> Result:
    problem = setup.problem
    ev = problem.evaluate(batch, uplink_slot, downlink_slot, integral=integral)
    if ev.violations:
        raise SolverError(
            f"internal error: {scheme} produced an infeasible plan: {ev.violations[0]}"
        )
    b = np.asarray(batch).astype(np.int64 if integral else float)
    arrays = [np.array(a, dtype=float) for a in (uplink_slot, downlink_slot)]
    times = [np.array(a) for a in (ev.compute_time, ev.upload_time, ev.download_time)]
    for a in (b, *arrays, *times):
        a.setflags(write=False)
    alloc = FeelAllocation(
        batch=b,
        global_batch=round(ev.global_batch) if integral else ev.global_batch,
        uplink_slot=arrays[0],
        downlink_slot=arrays[1],
        latency=ev.latency,
        latency_uplink=ev.latency_uplink,
        latency_downlink=ev.latency_downlink,
        efficiency=ev.efficiency,
        compute_time=times[0],
        upload_time=times[1],
        download_time=times[2],
    )
    relaxed = setup.relaxed_bound
    return Result(
        family="feel",
        scheme=scheme,
        status=status,
        objective=ev.efficiency,
        bound=float(relaxed if bound is None else bound),
        message=message,
        solve_seconds=time.perf_counter() - t0,
        allocation=alloc,
        info=dict(info or {}),
        relaxed_bound=float(max(relaxed, ev.efficiency) if status is Status.OPTIMAL else relaxed),
    )


# ---------------------------------------------------------------------------
# Exact and continuous optima
# ---------------------------------------------------------------------------
def solve_optimal(problem: FeelProblem) -> Result:
    """Exact optimum over integer batches (``_integer``); status ``optimal``."""
    t0 = time.perf_counter()
    s = _Setup(problem)
    out = exact_optimum(s.dev, s.cont, s.t_down)
    s._peak = out.peak
    up, down = s.fixed_batches(out.batch)
    how = (
        "the continuous optimum is integral"
        if out.nodes == 0
        else f"{out.nodes} round-time intervals, {out.roots} exact roots, "
        f"{out.active} free increments in the search box"
    )
    res = _result(
        s,
        "optimal",
        Status.OPTIMAL,
        out.batch,
        up,
        down,
        message=f"exact integer optimum, global batch {int(out.batch.sum())} "
        f"(continuous optimum {out.peak.total:.6g}; {how}; relative tolerance {PRUNE_RTOL:g})",
        t0=t0,
        bound=math.nan,
    )
    return _with_bound(res, res.objective)


def _with_bound(res: Result, bound: float) -> Result:
    return dataclasses.replace(res, bound=float(bound))


def solve_relaxed(problem: FeelProblem) -> Result:
    """The continuous optimum (Theorems 1-2, exact search over B); batches real."""
    t0 = time.perf_counter()
    s = _Setup(problem)
    pk = s.peak
    share = s.dev.w / pk.x
    share = share / np.add.reduce(share)
    # the bound: the relaxed optimum itself, which _result sets
    return _result(
        s,
        "relaxed",
        Status.OPTIMAL,
        pk.batch,
        share * problem.frame.uplink,
        s.down_share * problem.frame.downlink,
        message=f"continuous optimum: global batch {pk.total:.12g}, uplink round "
        f"{pk.T:.9g} s, downlink {s.t_down:.9g} s (Theorem 1 slots, exact search over the "
        "round time)",
        t0=t0,
        integral=False,
    )


# ---------------------------------------------------------------------------
# The paper's procedure
# ---------------------------------------------------------------------------
def solve_paper(problem: FeelProblem) -> Result:
    """Algorithm 1, the bisection over B and the round-up (readings in ``_paper``)."""
    t0 = time.perf_counter()
    s = _Setup(problem)
    out = paper_plan(s.dev)
    p = problem
    note = "" if out.converged else "; a search hit its iteration cap"
    return _result(
        s,
        "paper",
        Status.FEASIBLE,
        out.rounded,
        out.uplink_share * p.frame.uplink,
        out.downlink_share * p.frame.downlink,
        message=f"Algorithm 1 at B = {out.global_batch:.6g} ({out.outer_iterations} runs of "
        f"Algorithm 1 in the bisection over B), batches rounded up to "
        f"{int(out.rounded.sum())}, slots as Theorems 1-2 gave them{note}",
        t0=t0,
        info={"paper_global_batch": out.global_batch},
    )


# ---------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------
def _fixed(problem: FeelProblem, scheme: str, batch: IntArray, what: str, t0: float) -> Result:
    s = _Setup(problem)
    up, down = s.fixed_batches(batch)
    return _result(
        s,
        scheme,
        Status.FEASIBLE,
        batch,
        up,
        down,
        message=f"{what}, with the best slots for those batches (Theorems 1-2 water-filling)",
        t0=t0,
    )


def slots_for_batches(problem: FeelProblem, batch: NDArray) -> tuple[FloatArray, FloatArray]:
    """Best uplink and downlink slots (seconds per frame) for fixed batches.

    The water-fillings of Theorems 1-2 (every device finishes its upload, and
    its download and update, at the same time; Remark 3), as the fixed-batch
    baselines use them. The batches are not checked against ``max_batch``
    (a training procedure may price a whole local data set); price the plan
    with :meth:`~edgealloc.feel.problem.FeelProblem.evaluate`.
    """
    dev = Devices.of(problem)
    b = np.asarray(batch, dtype=float)
    if b.shape != (problem.n_devices,) or not np.isfinite(b).all() or (b < 0).any():
        raise ValidationError("batch", f"must be {problem.n_devices} finite numbers >= 0")
    _, up = dev.uplink(b)
    _, down = dev.downlink()
    return up * problem.frame.uplink, down * problem.frame.downlink


def solve_online(problem: FeelProblem) -> Result:
    """Online learning, :math:`B_k = 1` (Section VI-D)."""
    t0 = time.perf_counter()
    return _fixed(problem, "online", np.ones(problem.n_devices, np.int64), "B_k = 1", t0)


def solve_full(problem: FeelProblem) -> Result:
    """Full batch, :math:`B_k = B^{max}` (Section VI-D)."""
    t0 = time.perf_counter()
    k = problem.n_devices
    batch = np.full(k, problem.max_batch, np.int64)
    return _fixed(problem, "full", batch, f"B_k = B^max = {problem.max_batch}", t0)


def problem_seed(problem: FeelProblem) -> int:
    """A seed from the problem's numbers (not its name or meta): same problem, same seed."""
    doc = {k: v for k, v in problem.to_dict().items() if k not in ("name", "description", "meta")}
    text = json.dumps(to_jsonable(doc), sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def solve_random(problem: FeelProblem) -> Result:
    """Random batches uniform in ``1..B^max`` (Section VI-D), seeded by :func:`problem_seed`."""
    t0 = time.perf_counter()
    seed = problem_seed(problem)
    rng = np.random.default_rng(seed)
    batch = rng.integers(1, problem.max_batch + 1, problem.n_devices).astype(np.int64)
    res = _fixed(problem, "random", batch, f"batches uniform in 1..{problem.max_batch}", t0)
    return dataclasses.replace(res, info={**res.info, "seed": seed})


def equal_slots_batches(dev: Devices) -> tuple[IntArray, float]:
    r"""Best integer batches when every slot is :math:`T_f / K` (both links).

    With equal slots device :math:`k` uploads in :math:`K w_k`, so at uplink
    round time :math:`T` it can compute :math:`n_k(T) = \max\{b \le B^{max} :
    t_k(b) + K w_k \le T\}` samples; the efficiency :math:`\sqrt{\sum_k n_k(T)}/(T +
    T_D)` is largest at one of the steps :math:`T = t_k(j) + K w_k`. The continuous
    count :math:`\sum_k \min(y_k(T), B^{max})` (:math:`y_k` the real solution of
    :math:`t_k(y) + K w_k = T`) is concave and bounds it, so only the steps where
    that bound beats an integer plan are enumerated.

    Returns the batches and their uplink round time.
    """
    k = dev.k
    off = k * dev.w
    t0 = float(np.max(dev.compute_time(dev.free) + off))  # everyone fits its free batch
    td = float(np.max(k * dev.v + dev.update))
    kink = dev.compute_time(float(dev.bmax)) + off

    def count(T: float) -> IntArray:
        y = dev.threshold + (T * (1 + 1e-15) - off - dev.base) / dev.slope
        return np.clip(np.floor(y), dev.free, dev.bmax).astype(np.int64)

    def bound(T: float) -> float:
        y = dev.threshold + (T - off - dev.base) / dev.slope
        return math.sqrt(float(np.minimum(y, dev.bmax).sum())) / (T + td)

    # Peak of the concave piecewise-linear bound: closed form on each piece.
    order = np.argsort(kink)
    ks = kink[order]
    inv = (1.0 / dev.slope)[order]
    icpt = (dev.threshold - (off + dev.base) / dev.slope)[order]
    alpha = inv.sum() - np.concatenate([[0.0], np.cumsum(inv)])  # slope of the count
    beta = icpt.sum() - np.concatenate([[0.0], np.cumsum(icpt)]) + dev.bmax * np.arange(k + 1)
    edges = np.concatenate([[t0], np.clip(ks, t0, None), [max(float(ks[-1]), t0) * 2 + 1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(alpha > 0, td - 2 * beta / alpha, edges[:-1])
    pts = np.concatenate([edges[:-1], np.clip(stat, edges[:-1], edges[1:])])
    lin = np.concatenate([alpha, alpha]) * pts + np.concatenate([beta, beta])
    vals = np.sqrt(np.maximum(lin, 0.0)) / (pts + td)
    t_c = float(pts[int(np.argmax(vals))])
    top = bound(t_c)

    def value(b: IntArray) -> tuple[float, float]:
        t_up = float(np.max(dev.compute_time(b) + off))
        return math.sqrt(float(b.sum())) / (t_up + td), t_up

    best_b = count(t_c)
    best, _ = value(best_b)
    if best < top * (1 - 4 * np.finfo(float).eps):
        # The band where the bound beats the incumbent (quasi-concave: an interval).
        f = lambda T: bound(T) - best  # noqa: E731
        ta = t0 if f(t0) >= 0 else brentq(f, t0, t_c, xtol=1e-14 * t_c)
        hi = t_c * 2 + 1
        while f(hi) >= 0:
            hi *= 2
        tb = brentq(f, t_c, hi, xtol=1e-14 * t_c)
        n_a, n_b = count(ta * (1 - 1e-12)), count(tb * (1 + 1e-12))
        gap = n_b - n_a
        rows = np.repeat(np.arange(k), gap)
        first = np.repeat(np.cumsum(gap) - gap, gap)
        j = n_a[rows] + 1 + (np.arange(rows.size) - first)
        steps = dev.base[rows] + dev.slope[rows] * np.maximum(0.0, j - dev.threshold[rows])
        steps = np.sort(steps + off[rows])
        if steps.size:
            totals = int(n_a.sum()) + np.arange(1, steps.size + 1)
            last = np.r_[steps[1:] != steps[:-1], True]  # ties: the largest count at a time
            vals = np.sqrt(totals[last]) / (steps[last] + td)
            i = int(np.argmax(vals))
            cand = count(float(steps[last][i]))
            v, _ = value(cand)
            if v > best:
                best_b, best = cand, v
        cand = count(ta)
        v, _ = value(cand)
        if v > best:
            best_b, best = cand, v
    _, t_up = value(best_b)
    return best_b, t_up


def solve_equal_slots(problem: FeelProblem) -> Result:
    """Equal slots :math:`T_f/K` on both links and the best integer batches for them."""
    t0 = time.perf_counter()
    s = _Setup(problem)
    k = problem.n_devices
    batch, _ = equal_slots_batches(s.dev)
    return _result(
        s,
        "equal-slots",
        Status.FEASIBLE,
        batch,
        np.full(k, problem.frame.uplink / k),
        np.full(k, problem.frame.downlink / k),
        message=f"equal slots T_f / {k} on both links; the best integer batches for them "
        f"(global batch {int(batch.sum())})",
        t0=t0,
    )


SCHEMES: dict[str, Callable[[FeelProblem], Result]] = {
    "optimal": solve_optimal,
    "relaxed": solve_relaxed,
    "paper": solve_paper,
    "online": solve_online,
    "full": solve_full,
    "random": solve_random,
    "equal-slots": solve_equal_slots,
}
