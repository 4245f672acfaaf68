r"""Solvers of the ``mel`` family: ``optimal``, ``relaxed``, ``paper``, ``equal``.

``optimal`` — the exact integer optimum
    *Synchronous.* For a fixed integer :math:`\tau` the constraints decouple:
    device :math:`k` can hold at most :math:`D_k(\tau)` samples (time and
    energy), non-increasing in :math:`\tau`, so :math:`\tau` is feasible iff
    :math:`\sum_k D_k(\tau) \ge d` (and :math:`D_k(\tau) \ge d_l` for devices
    that must take part). Feasibility is monotone: the optimum is the largest
    feasible integer below the relaxed optimum, found by galloping down and
    bisecting, each probe one vectorised pass. Among the optimal allocations
    we return one that minimises the slowest device's time (exact integer
    minimum makespan, :mod:`._makespan`).

    *Asynchronous.* Let :math:`m` be the smallest :math:`\tau_k` of the
    participants. For a fixed :math:`m` every device picks
    :math:`x_k = \tau_k - m \in \{0..c\}`, losing
    :math:`D_k(m) - D_k(m + x_k)` samples of capacity from a budget of
    :math:`\sum_k D_k(m) - d`: a multiple-choice knapsack with values
    :math:`x_k`, solved exactly by :func:`edgealloc._mckp.solve_mckp`.
    Only :math:`m \in [\tau_s - c, \tau_s]` can be optimal (:math:`\tau_s` the
    synchronous optimum: a window above it is infeasible, one below
    :math:`\tau_s - c` cannot beat :math:`\tau_s`), so at most :math:`c + 1`
    knapsacks are solved, each pruned by its LP bound against the incumbent.
    When devices may sit out (``min_samples = 0``) more windows qualify; they
    are visited in decreasing order of an upper bound until none can improve.

``relaxed`` — the continuous optimum (:mod:`._relaxed`)
    Exact for the synchronous problem; for the asynchronous one a certified
    feasible value and upper bound (status ``optimal`` only when they meet).

``paper`` — the papers' own procedures
    Synchronous without energy: Theorem 1 of the sync paper, the positive
    root of the degree-:math:`K` polynomial (16) (``numpy.roots``), batch
    sizes from (15) with equality, then rounding. Otherwise (energy, or
    staleness): the async paper's Algorithm 1 — relaxation (17), a
    *suggest* step, a coordinate-descent *improve* step on (16), flooring.
    See :func:`solve_paper` for our reading of each step.

``equal`` — heterogeneity-unaware baseline
    :math:`d_k = d/K` (the remainder to the first devices) and the largest
    feasible :math:`\tau` (per device within the staleness window when
    asynchronous).
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from .._mckp import solve_mckp
from .._validation import check_memory
from ..errors import InfeasibleError, SolverError
from ..result import Result, Status
from ._capacity import TAU_MAX, Capacities, largest_n
from ._makespan import min_makespan
from ._relaxed import relax_async, relax_sync
from .problem import MelAllocation, MelProblem

__all__ = ["SCHEMES", "solve_equal", "solve_optimal", "solve_paper", "solve_relaxed"]

IntArray = NDArray[np.int64]

#: Peak bytes per (device, tau) entry of the asynchronous search's capacity table and
#: knapsacks (an estimate with margin: int64 capacities, float costs and values).
BYTES_PER_WINDOW_ENTRY = 64

#: Branch-and-bound nodes of the asynchronous relaxation (same in every scheme, so
#: that every result reports the same ``relaxed_bound``).
RELAX_NODES = 200


# ---------------------------------------------------------------------------
# Infeasibility: say what would make the problem feasible
# ---------------------------------------------------------------------------
def _energy_ok(cap: Capacities, extra: float) -> bool:
    """Can the budgets (plus ``extra`` J each) carry the work at tau = 1, ignoring time?"""
    n = largest_n(cap.g0, cap.g2 + cap.g1, (cap.E + extra) * (1 + 1e-12), cap.d)
    if cap.skip:
        return int(n[n >= 1].sum()) >= cap.d
    return bool((n >= cap.floor).all()) and int(n.sum()) >= cap.d


def diagnose(cap: Capacities, *, what: str = "the problem") -> InfeasibleError:
    """Explain why no allocation exists, with the smallest deadline that would admit one."""
    p = cap.problem
    k, d, lb = cap.k, cap.d, cap.floor
    if not cap.skip and k * lb > d:
        return InfeasibleError(
            f"{what} is infeasible: min_samples = {p.min_samples} on each of {k} devices needs "
            f"{k * lb} samples but total_samples = {d}; lower min_samples to at most {d // k} "
            "(or 0 to let devices sit out)",
            details={"max_min_samples": d // k},
        )
    extra = 0.0
    note = ""
    if cap.has_energy and not _energy_ok(cap, 0.0):
        hi = float(np.max(cap.g0 + (cap.g2 + cap.g1) * d)) + 1.0
        lo_e = 0.0
        for _ in range(200):
            mid = 0.5 * (lo_e + hi)
            if _energy_ok(cap, mid):
                hi = mid
            else:
                lo_e = mid
            if hi - lo_e <= 1e-9 * max(1.0, hi):
                break
        extra = hi
        note = (
            f" Energy budgets are too small even for one local iteration: every device would "
            f"need {extra:.6g} J more."
        )
    # Smallest deadline at tau = 1 with (possibly raised) budgets.
    hi_n = np.full(k, d, dtype=np.int64)
    if cap.has_energy:
        hi_n = np.minimum(
            hi_n, largest_n(cap.g0, cap.g2 + cap.g1, (cap.E + extra) * (1 + 1e-12), d)
        )
    lo_n = np.zeros(k, np.int64) if cap.skip else np.full(k, lb, np.int64)
    if cap.skip:
        hi_n = np.where(hi_n >= 1, hi_n, 0)
    _, t_min = min_makespan(cap.c0, cap.c2 + cap.c1, lo_n, hi_n, d)
    if extra > 0:
        msg = (
            f"{what} is infeasible.{note} With that extra energy the smallest deadline "
            f"would be {t_min:.6g} s (now {p.deadline:g} s)."
        )
        return InfeasibleError(
            msg, min_deadline=None, energy_shortfall=extra, details={"deadline_with_energy": t_min}
        )
    return InfeasibleError(
        f"{what} is infeasible: no allocation meets the deadline T = {p.deadline:g} s even with "
        f"one local iteration; the smallest deadline that admits one is {t_min:.6g} s",
        min_deadline=t_min,
    )


# ---------------------------------------------------------------------------
# Synchronous integer optimum
# ---------------------------------------------------------------------------
def _last_feasible(pred: Callable[[int], bool], start: int) -> int:
    """Largest integer ``t >= 1`` with ``pred(t)`` (monotone, true then false); 0 if none."""
    start = int(min(max(start, 1), TAU_MAX))
    if pred(start):  # gallop up (the relaxed bound was conservative)
        lo, step = start, 1
        while lo + step <= TAU_MAX and pred(lo + step):
            lo += step
            step *= 2
        hi = int(min(lo + step, TAU_MAX + 1))
    else:  # gallop down
        hi, step = start, 1
        while True:
            t = hi - step
            if t < 1:
                if not pred(1):
                    return 0
                lo = 1
                break
            if pred(t):
                lo = t
                break
            hi, step = t, step * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if pred(mid):
            lo = mid
        else:
            hi = mid
    return lo


def sync_optimal_tau(cap: Capacities, tau_relaxed: float | None = None) -> int:
    """The synchronous integer optimum tau (0 when infeasible)."""
    if tau_relaxed is None:
        rel = relax_sync(cap)
        if rel is None:
            return 0
        tau_relaxed = rel.tau
    start = math.floor(tau_relaxed * (1 + 1e-9)) + 1
    return _last_feasible(lambda t: cap.participants_count(t)[0], start)


def _samples_for(
    cap: Capacities, tau: IntArray, participants: NDArray[np.bool_], *, must_take_part: bool
) -> IntArray:
    """Minimum-makespan integer samples for fixed per-device ``tau``.

    ``participants`` may hold samples; with ``must_take_part`` each of them
    gets at least one (the asynchronous objective counts their ``tau``),
    otherwise a device that may sit out can end with none (synchronous: only
    the common ``tau`` counts).
    """
    hi = np.where(participants, cap.int_cap(tau.astype(float)), 0)
    if not cap.skip:
        lo = np.full(cap.k, cap.floor, np.int64)
    elif must_take_part:
        lo = np.where(participants & (tau > 0), 1, 0)
    else:
        lo = np.zeros(cap.k, np.int64)
    s = cap.c2 * tau + cap.c1
    n, _ = min_makespan(cap.c0, s, lo.astype(np.int64), hi.astype(np.int64), cap.d)
    return n


# ---------------------------------------------------------------------------
# Asynchronous integer optimum
# ---------------------------------------------------------------------------
def _window_knapsack(cap, caps: IntArray, rows: NDArray[np.bool_], c: int, target: float):
    """Exact best lift ``x`` for one window; ``caps`` is ``(K, c+1)`` of ``D_k(m..m+c)``."""
    lb = cap.floor
    sub = caps[rows]
    budget = float(sub[:, 0].sum() - cap.d)
    if budget < 0:
        return None
    costs = (sub[:, :1] - sub).astype(float)
    costs[sub < lb] = np.inf
    values = np.broadcast_to(np.arange(c + 1, dtype=float), costs.shape)
    sol = solve_mckp(values, costs, budget, target=target)
    if sol.choice is None:
        return None
    x = np.zeros(cap.k, np.int64)
    x[rows] = sol.choice
    return sol.value, x


def async_optimal(cap: Capacities, c: int, tau_s: int) -> tuple[IntArray, int]:
    """Exact asynchronous optimum: ``(tau per device, windows solved)``; ``sum(tau)`` is optimal."""
    k, lb = cap.k, cap.floor
    if not cap.skip:
        m_lo = max(1, tau_s - c)
        taus = np.arange(m_lo, tau_s + c + 1, dtype=float)
        table = cap.int_cap(np.broadcast_to(taus, (k, taus.size)))
        best_total = k * tau_s
        best = np.full(k, tau_s, np.int64)
        solved = 0
        rows = np.ones(k, bool)
        for m in range(tau_s, m_lo - 1, -1):
            target = best_total - k * m + 1
            if k * c < target:
                continue
            caps = table[:, m - m_lo : m - m_lo + c + 1]
            if (caps[:, 0] < lb).any():
                continue
            solved += 1
            got = _window_knapsack(cap, caps, rows, c, target)
            if got is not None:
                best_total = int(k * m + round(got[0]))
                best = m + got[1]
        return best, solved
    return _async_optimal_skip(cap, c, tau_s)


def _async_optimal_skip(cap: Capacities, c: int, tau_s: int) -> tuple[IntArray, int]:
    """Devices may sit out: visit windows in decreasing order of an upper bound."""
    k, d = cap.k, cap.d
    tmax = cap.int_tau_limit(1).astype(np.int64)  # largest tau with room for one sample
    t_sorted = np.sort(tmax[tmax >= 1])
    csum = np.concatenate([[0], np.cumsum(t_sorted)])
    n_all = t_sorted.size

    def ub(m: int) -> int:
        i_m = int(np.searchsorted(t_sorted, m, "left"))
        i_mc = int(np.searchsorted(t_sorted, m + c, "left"))
        n_top = n_all - i_mc  # devices that can reach m + c
        if n_all - i_m <= d:
            return n_top * (m + c) + int(csum[i_mc] - csum[i_m])
        if n_top >= d:
            return d * (m + c)
        take = d - n_top
        return n_top * (m + c) + int(csum[i_mc] - csum[i_mc - take])

    def exact(m: int, target: float):
        eligible = tmax >= m
        n_el = int(eligible.sum())
        if n_el >= d:  # one sample each for the d devices that reach furthest
            reach = np.where(eligible, np.minimum(m + c, tmax), 0)
            pick = np.argsort(-reach, kind="stable")[:d]
            tau = np.zeros(k, np.int64)
            tau[pick] = reach[pick]
            return int(tau.sum()), tau
        taus = np.arange(m, m + c + 1, dtype=float)
        caps = cap.int_cap(np.broadcast_to(taus, (k, taus.size)))
        got = _window_knapsack(cap, caps, eligible, c, target - n_el * m)
        if got is None:
            return None
        tau = np.where(eligible, m + got[1], 0)
        return int(tau.sum()), tau

    # Incumbent: the synchronous optimum, every device that can join at tau_s joins.
    best = exact(tau_s, -np.inf)
    assert best is not None
    best_total, best_tau = best
    # Pieces of [1, tau_s] on which ub() is linear and non-decreasing in m.
    cuts = np.unique(np.concatenate([t_sorted + 1, t_sorted - c + 1, [1, tau_s + 1]]))
    cuts = cuts[(cuts >= 1) & (cuts <= tau_s + 1)]
    heap = [(-ub(int(r - 1)), int(r - 1), int(lft)) for lft, r in itertools.pairwise(cuts)]
    heapq.heapify(heap)
    solved = 1
    while heap:
        neg, m, lft = heapq.heappop(heap)
        if -neg <= best_total:
            break
        if m != tau_s:
            solved += 1
            got = exact(m, best_total + 1)
            if got is not None and got[0] > best_total:
                best_total, best_tau = got
        if m - 1 >= lft:
            heapq.heappush(heap, (-ub(m - 1), m - 1, lft))
        if solved > 1_000_000:
            raise SolverError("asynchronous search visited over a million windows; giving up")
    return best_tau, solved


# ---------------------------------------------------------------------------
# Result assembly (every allocation is checked by the problem's evaluate)
# ---------------------------------------------------------------------------
def _result(
    problem: MelProblem,
    scheme: str,
    status: Status,
    tau: NDArray,
    samples: NDArray,
    *,
    bound: float,
    relaxed_bound: float,
    message: str,
    t0: float,
    integral: bool = True,
    info: dict | None = None,
) -> Result:
    ev = problem.evaluate(tau, samples, integral=integral)
    if ev.violations:
        if status is not Status.FAILED:
            raise SolverError(
                f"internal error: {scheme} produced an infeasible allocation: {ev.violations[0]}"
            )
        message = f"{message} The allocation violates: {'; '.join(ev.violations)}."
    if integral:
        tau = np.asarray(tau).astype(np.int64)
        samples = np.asarray(samples).astype(np.int64)
    arrays = [np.array(a) for a in (tau, samples, ev.times)]
    energies = None if ev.energies is None else np.array(ev.energies)
    for a in [*arrays, energies]:
        if a is not None:
            a.setflags(write=False)
    alloc = MelAllocation(
        tau=arrays[0],
        samples=arrays[1],
        times=arrays[2],
        energies=energies,
        cycle_time=ev.cycle_time,
    )
    return Result(
        family="mel",
        scheme=scheme,
        status=status,
        objective=float("nan") if status is Status.FAILED else ev.objective,
        bound=float(bound),
        message=message,
        solve_seconds=time.perf_counter() - t0,
        allocation=alloc,
        info=dict(info or {}),
        relaxed_bound=float(relaxed_bound),
    )


def _relaxed_value(cap: Capacities, *, nodes: int = RELAX_NODES) -> tuple[float, object]:
    """Relaxed bound on the objective (tau for sync, mean tau for async) and the relaxation."""
    rel = relax_sync(cap)
    if rel is None:
        raise diagnose(cap, what="the continuous relaxation")
    p = cap.problem
    if p.staleness is None:
        return rel.tau, rel
    arel = relax_async(cap, p.staleness, rel.tau, max_nodes=nodes)
    return arel.bound, arel


# ---------------------------------------------------------------------------
# Schemes
# ---------------------------------------------------------------------------
def solve_optimal(problem: MelProblem) -> Result:
    """Exact integer optimum (see module docstring); status ``optimal``."""
    t0 = time.perf_counter()
    cap = Capacities(problem)
    rel = relax_sync(cap)
    tau_s = sync_optimal_tau(cap, rel.tau) if rel is not None else 0
    if tau_s == 0:
        raise diagnose(cap)
    k = cap.k
    if problem.staleness is None:
        tau = np.full(k, tau_s, np.int64)
        part = cap.int_cap(tau.astype(float)) >= cap.floor
        samples = _samples_for(cap, tau, part, must_take_part=False)
        tau = np.where(samples > 0, tau, 0)
        return _result(
            problem,
            "optimal",
            Status.OPTIMAL,
            tau,
            samples,
            bound=float(tau_s),
            relaxed_bound=rel.tau,
            message=f"exact optimum tau = {tau_s} (relaxed bound {rel.tau:.6g}); "
            "ties broken by the smallest cycle time",
            t0=t0,
        )
    c = int(problem.staleness)
    # No participant runs more than its tau_top local iterations, so a staleness bound
    # beyond max(tau_top) - 1 constrains nothing: the search needs only that window.
    c_search = min(c, max(int(cap.tau_top.max()) - 1, 0))
    check_memory("staleness", k * (2 * c_search + 1), BYTES_PER_WINDOW_ENTRY, what="window entries")
    tau, windows = async_optimal(cap, c_search, tau_s)
    samples = _samples_for(cap, tau, tau > 0, must_take_part=True)
    tau = np.where(samples > 0, tau, 0)
    objective = float(tau.sum()) / k
    arel = relax_async(cap, c, rel.tau, max_nodes=RELAX_NODES)
    return _result(
        problem,
        "optimal",
        Status.OPTIMAL,
        tau,
        samples,
        bound=objective,
        relaxed_bound=max(arel.bound, objective),
        message=f"exact optimum mean tau = {objective:.6g} ({windows} staleness window(s) "
        f"searched, synchronous optimum {tau_s}); ties broken by the smallest cycle time",
        t0=t0,
    )


def solve_relaxed(problem: MelProblem) -> Result:
    """Continuous relaxation: exact (sync) or certified bound and feasible point (async)."""
    t0 = time.perf_counter()
    cap = Capacities(problem)
    rel = relax_sync(cap)
    if rel is None:
        raise diagnose(cap, what="the continuous relaxation")
    if problem.staleness is None:
        part = rel.samples > 0
        tau = np.where(part, rel.tau, 0.0)
        return _result(
            problem,
            "relaxed",
            Status.OPTIMAL,
            tau,
            rel.samples,
            bound=rel.tau,
            relaxed_bound=rel.tau,
            integral=False,
            message=f"continuous optimum tau = {rel.tau:.12g} (Brent's method on the "
            "monotone capacity sum; no polynomial is formed)",
            t0=t0,
        )
    arel = relax_async(cap, int(problem.staleness), rel.tau, max_nodes=RELAX_NODES)
    gap = arel.bound - arel.value
    status = Status.OPTIMAL if gap <= 1e-9 * max(1.0, arel.bound) else Status.FEASIBLE
    return _result(
        problem,
        "relaxed",
        status,
        arel.tau,
        arel.samples,
        bound=arel.bound,
        relaxed_bound=arel.bound,
        integral=False,
        message=f"continuous relaxation of the asynchronous problem: feasible mean tau "
        f"{arel.value:.9g}, proven upper bound {arel.bound:.9g} (gap {gap:.3g}, "
        f"{arel.nodes} branch-and-bound nodes over the window floor)",
        t0=t0,
    )


def _equal_split(k: int, d: int) -> IntArray:
    base, rem = divmod(d, k)
    out = np.full(k, base, np.int64)
    out[:rem] += 1
    return out


def solve_equal(problem: MelProblem) -> Result:
    """Equal task allocation ``d_k = d/K`` with the largest feasible tau (HU baseline)."""
    t0 = time.perf_counter()
    cap = Capacities(problem)
    k = cap.k
    samples = _equal_split(k, cap.d)
    part = samples > 0
    if problem.min_samples > 0 and (samples < problem.min_samples).any():
        raise InfeasibleError(
            f"equal allocation gives {samples.min()} samples to some device but min_samples = "
            f"{problem.min_samples}",
        )
    # Largest tau each participant can run with its share.
    tmax = largest_n(cap.c0 + cap.c1 * samples, cap.c2 * samples, cap.t_limit, TAU_MAX)
    if cap.has_energy:
        te = largest_n(cap.g0 + cap.g1 * samples, cap.g2 * samples, cap.e_limit, TAU_MAX)
        tmax = np.minimum(tmax, te)
    tmax = np.where(part, tmax, TAU_MAX)
    low = int(tmax[part].min())
    if low < 1:
        t_need = cap.c0 + (cap.c2 + cap.c1) * samples
        bad_e = None
        if cap.has_energy:
            e_need = cap.g0 + (cap.g2 + cap.g1) * samples - cap.E
            bad_e = np.where(part & (e_need > 0), e_need, 0.0)
        if bad_e is not None and bad_e.any():
            raise InfeasibleError(
                f"equal allocation is infeasible: with {samples.max()} samples each, "
                f"{int((bad_e > 0).sum())} device(s) exceed their energy budget even at tau = 1 "
                f"(largest shortfall {bad_e.max():.6g} J)",
                energy_shortfall=bad_e.tolist(),
            )
        t_min = float(t_need[part].max())
        raise InfeasibleError(
            f"equal allocation is infeasible: with {samples.max()} samples each the slowest "
            f"device needs {t_min:.6g} s for one local iteration; the smallest deadline for "
            f"equal allocation is {t_min:.6g} s (now {problem.deadline:g} s)",
            min_deadline=t_min,
        )
    if problem.staleness is None:
        tau = np.where(part, low, 0)
    else:
        tau = np.where(part, np.minimum(tmax, low + int(problem.staleness)), 0)
    relaxed, _ = _relaxed_value(cap)
    return _result(
        problem,
        "equal",
        Status.FEASIBLE,
        tau,
        samples,
        bound=relaxed,
        relaxed_bound=relaxed,
        message="equal task allocation d_k = d/K (remainder to the first devices) with the "
        "largest feasible tau",
        t0=t0,
    )


# ---------------------------------------------------------------------------
# The papers' procedures
# ---------------------------------------------------------------------------
def theorem1_polynomial(a: NDArray[np.float64], b: NDArray[np.float64], d: float):
    r"""Coefficients (highest degree first) of polynomial (16) of the sync paper.

    :math:`d\prod_k(\tau + b_k) - \sum_k a_k \prod_{l\ne k}(\tau + b_l)`, with
    :math:`a_k = (T - C_k^0)/C_k^2` and :math:`b_k = C_k^1/C_k^2`. The products
    :math:`\prod_{l\ne k}` are obtained by synthetic division of
    :math:`\prod_l(\tau+b_l)` by :math:`(\tau + b_k)`, vectorised over ``k``
    (a loop over the polynomial degree).
    """
    full = np.poly(-b)  # monic, degree K
    k = b.size
    # Synthetic division of `full` by (tau + b_k) for all k at once.
    quot = np.empty((k, k))
    acc = np.full(k, full[0])
    quot[:, 0] = acc
    for j in range(1, k):
        acc = full[j] - b * acc
        quot[:, j] = acc
    num = a @ quot  # degree K-1
    return d * full - np.concatenate([[0.0], num])


def solve_paper(problem: MelProblem) -> Result:
    r"""The papers' own procedures, for comparison with ``optimal``.

    **Synchronous, no energy (sync paper, Theorem 1).** Form polynomial (16),
    take the real positive root ``tau*`` with all ``d_k* >= 0`` among
    ``numpy.roots``, ``d_k*`` from (15) with equality; round ``tau = floor(tau*)``
    and ``d_k`` by largest remainder so that (12c) holds (the paper does not say
    how it rounds ``d_k``; flooring alone would leave samples unassigned). If the
    rounded allocation misses the deadline we lower ``tau`` until it fits (the
    paper reports that no such step was ever needed). The polynomial is
    numerically hopeless beyond a few dozen devices: its coefficients span
    hundreds of orders of magnitude, so the root found is wrong or missing
    (status ``failed``); this is the paper's method, not ours.

    **Energy or staleness (async paper, Algorithm 1).**

    1. *Relaxation* (17): the synchronous continuous problem with energy.
    2. *Suggest* — the paper's candidate :math:`\hat x = -\tfrac12 F_2(\Gamma)^{-1}
       f_1(\Gamma)` from the SDP dual (19). As printed it cannot work:
       :math:`F_2(\Gamma) = \sum_k \lambda_k P_k + \gamma_k Q_k` has a zero
       diagonal (each :math:`P_k, Q_k` has only the two entries
       :math:`C_k^2/2` off the diagonal), so it is indefinite unless
       :math:`\lambda = \gamma = 0`, where it is singular; the SDP's constraint
       forces the trivial multipliers. We take as the suggestion what the step
       is meant to produce, the exact optimum of (17).
    3. *Improve* — coordinate descent on (16) with real variables. The paper
       does not name its coordinates; ours are the window floor
       :math:`m = \min_k \tau_k` (a golden-section line search over
       :math:`[\tau^* - c, \tau^*]`) and, given :math:`m`, the per-device
       :math:`\tau_k` (the exact block optimum on the concave majorant, moved
       onto the true constraint): a local optimiser of the relaxed (16).
    4. *Flooring* — :math:`\lfloor\tau_k\rfloor, \lfloor d_k\rfloor`, as in
       Algorithm 1 line 7. Flooring leaves up to ``K - 1`` samples unassigned,
       which (16d) forbids; we hand them to the devices with the most spare
       capacity at their floored ``tau`` (status ``failed`` if that is impossible).
    """
    t0 = time.perf_counter()
    cap = Capacities(problem)
    rel = relax_sync(cap)
    if rel is None:
        raise diagnose(cap, what="the continuous relaxation")
    relaxed, _ = _relaxed_value(cap)
    if problem.staleness is None and not cap.has_energy:
        return _paper_theorem1(problem, cap, relaxed, t0)
    return _paper_async(problem, cap, rel, relaxed, t0)


def _largest_remainder(x: NDArray[np.float64], total: int) -> IntArray:
    base = np.floor(x).astype(np.int64)
    rem = total - int(base.sum())
    if rem > 0:
        order = np.argsort(-(x - base), kind="stable")[:rem]
        base[order] += 1
    return base


def _paper_theorem1(problem: MelProblem, cap: Capacities, relaxed: float, t0: float) -> Result:
    k, d = cap.k, cap.d
    a = (cap.T - cap.c0) / cap.c2
    b = cap.c1 / cap.c2
    fail = dict(bound=relaxed, relaxed_bound=relaxed, t0=t0)
    if k > 2000:
        return _failed(
            problem,
            "paper",
            f"Theorem 1 needs the roots of a degree-{k} polynomial; "
            "refusing K > 2000 (numpy.roots is O(K^3) and meaningless at this size)",
            **fail,
        )
    with np.errstate(all="ignore"):
        coeffs = theorem1_polynomial(a, b, float(d))
        roots = np.roots(coeffs) if np.isfinite(coeffs).all() else np.array([])
    real = roots[np.abs(roots.imag) <= 1e-9 * np.maximum(1.0, np.abs(roots.real))].real
    with np.errstate(all="ignore"):
        ok = [r for r in real if r >= 0 and np.all(a / (r + b) >= 0)]
    if not ok:
        return _failed(
            problem,
            "paper",
            "Theorem 1: polynomial (16) has no real non-negative "
            f"root with d_k* >= 0 among its {roots.size} numerical roots "
            "(numerical breakdown of the degree-K polynomial)",
            **fail,
        )
    tau_star = float(max(ok))
    d_star = a / (tau_star + b)
    tau = math.floor(tau_star)
    samples = _largest_remainder(d_star * (d / d_star.sum()), d)
    note = f"Theorem 1 root tau* = {tau_star:.12g} (robust relaxed optimum {relaxed:.12g})"
    if tau < 1:
        return _failed(problem, "paper", f"{note}: floor(tau*) < 1", **fail)
    start_tau = tau
    tau = _largest_fitting_tau(problem, samples, start_tau)
    if tau < 1:
        return _result(
            problem,
            "paper",
            Status.FAILED,
            np.where(samples > 0, start_tau, 0),
            samples,
            message=f"{note}; the rounded allocation is infeasible for every tau.",
            **fail,
        )
    extra = "" if tau == start_tau else f"; rounding forced tau down from {start_tau} to {tau}"
    taus = np.where(samples > 0, tau, 0)
    return _result(
        problem,
        "paper",
        Status.FEASIBLE,
        taus,
        samples,
        message=f"{note}; rounded to tau = {tau}{extra}",
        **fail,
    )


def _largest_feasible_floor(value: Callable[[float], tuple], top: float) -> float | None:
    """Largest window floor ``m`` in ``[1, top]`` with a feasible allocation (None if none).

    Feasibility only shrinks as ``m`` grows (every capacity falls with tau); a
    bisection to the float resolution.
    """
    if value(1.0)[1] is None:
        return None
    lo, hi = 1.0, top  # lo feasible, hi not
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        if value(mid)[1] is None:
            hi = mid
        else:
            lo = mid
    return lo


def _largest_fitting_tau(problem: MelProblem, samples: IntArray, start: int) -> int:
    """Largest common ``tau <= start`` that ``evaluate`` accepts with ``samples`` (0: none).

    Idle devices (no samples) report ``tau = 0``, as in the returned plan.
    Times and energies grow with ``tau`` and nothing else depends on it, so
    the feasible ``tau`` form a prefix ``1..t``: a bisection, not a walk
    down from ``start`` (which may be astronomically large when the
    polynomial's root is wrong).
    """

    def fits(t: int) -> bool:
        return not problem.evaluate(np.where(samples > 0, t, 0), samples).violations

    if fits(start):
        return start
    if not fits(1):
        return 0
    lo, hi = 1, start  # lo fits, hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _failed(problem, scheme, message, *, bound, relaxed_bound, t0) -> Result:
    return Result(
        family="mel",
        scheme=scheme,
        status=Status.FAILED,
        objective=float("nan"),
        bound=float(bound),
        message=message,
        solve_seconds=time.perf_counter() - t0,
        allocation=None,
        relaxed_bound=float(relaxed_bound),
    )


def _paper_async(problem: MelProblem, cap: Capacities, rel, relaxed: float, t0: float) -> Result:
    from ._relaxed import _feasible_at

    k = cap.k
    c = float(problem.staleness or 0)
    tbar = cap.cont_tau_limit(cap.floor)
    tau_star = rel.tau

    def value(m: float):
        got = _feasible_at(cap, m, c, tbar)
        return (-np.inf, None) if got is None else (got[0], got)

    # Improve: golden-section line search on the window floor m (coordinate 1);
    # for each m the per-device block (coordinate 2) is solved by _feasible_at.
    hi = tau_star
    best_v, best = value(hi)
    if best is None:
        # relax_sync's tau* and the capacities' own formula may disagree by a few ulps
        # at the window floor tau*: take the largest feasible floor below it instead.
        hi = _largest_feasible_floor(value, tau_star)
        if hi is None:
            return _failed(
                problem,
                "paper",
                f"relaxation (17) tau* = {tau_star:.6g}, but no window floor m <= tau* has a "
                "feasible continuous allocation",
                bound=relaxed,
                relaxed_bound=relaxed,
                t0=t0,
            )
        best_v, best = value(hi)
    lo = max(1.0, hi - c)
    if c > 0 and hi > lo:
        phi = (math.sqrt(5) - 1) / 2
        x1, x2 = hi - phi * (hi - lo), lo + phi * (hi - lo)
        f1, g1 = value(x1)
        f2, g2 = value(x2)
        for _ in range(60):
            if f1 >= f2:
                hi, x2, f2, g2 = x2, x1, f1, g1
                x1 = hi - phi * (hi - lo)
                f1, g1 = value(x1)
            else:
                lo, x1, f1, g1 = x1, x2, f2, g2
                x2 = lo + phi * (hi - lo)
                f2, g2 = value(x2)
            for f, g in ((f1, g1), (f2, g2)):
                if f > best_v:
                    best_v, best = f, g
            if hi - lo <= 1e-9 * max(1.0, hi):
                break
    _, tau_c, d_c = best
    # Flooring (Algorithm 1, line 7), then hand out the samples flooring dropped.
    tau = np.floor(tau_c * (1 + 1e-12)).astype(np.int64)
    samples = np.floor(d_c * (1 + 1e-12)).astype(np.int64)
    samples = np.minimum(samples, np.maximum(cap.int_cap(np.maximum(tau, 1).astype(float)), 0))
    samples = np.where(tau >= 1, samples, 0)
    missing = cap.d - int(samples.sum())
    spare = np.where(
        tau >= 1, np.maximum(cap.int_cap(np.maximum(tau, 1).astype(float)) - samples, 0), 0
    )
    note = (
        f"relaxation (17) tau* = {tau_star:.6g}; coordinate descent reached mean tau "
        f"{best_v / k:.6g}; floored"
    )
    if missing > int(spare.sum()):
        return _result(
            problem,
            "paper",
            Status.FAILED,
            np.where(samples > 0, tau, 0),
            samples,
            bound=relaxed,
            relaxed_bound=relaxed,
            t0=t0,
            message=f"{note}, but flooring left {missing} samples that no device can "
            "take at its floored tau.",
        )
    if missing > 0:
        order = np.argsort(-spare, kind="stable")
        cum = np.cumsum(spare[order])
        give = np.minimum(spare[order], np.maximum(missing - (cum - spare[order]), 0))
        samples[order] += give
    tau = np.where(samples > 0, tau, 0)
    status = Status.FEASIBLE
    bad = problem.evaluate(tau, samples).violations
    if bad:
        status = Status.FAILED
    return _result(
        problem,
        "paper",
        status,
        tau,
        samples,
        bound=relaxed,
        relaxed_bound=relaxed,
        t0=t0,
        message=f"{note}; {max(missing, 0)} unassigned samples handed to devices "
        "with spare capacity",
    )


SCHEMES: dict[str, Callable[[MelProblem], Result]] = {
    "optimal": solve_optimal,
    "relaxed": solve_relaxed,
    "paper": solve_paper,
    "equal": solve_equal,
}
