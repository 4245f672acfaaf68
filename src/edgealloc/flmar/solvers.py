r"""Schemes of the ``flmar`` family (FLMAR.md section 5), the certified optimum first.

``optimal`` — certified global optimum (FLMAR.md section 5.5)
    Incumbents from the primal heuristics (``paper``; block coordinate
    descent with the *exact* discrete SP1; the convex optimum for their
    resolutions), then the branch and bound of :mod:`._optimal` over the round
    time and the devices' resolutions, bounded by the Lagrangian of the
    bandwidth budget. Status ``optimal`` when the gap closes to
    ``1e-6 max(1, |best|)``, else ``feasible`` with the bound.

``paper`` — Algorithm 2 as FLMAR.md section 5.4 defines it
    Block coordinate descent from ``(B/N, p_max)``: SP1 relaxed and solved
    exactly with its bounds, rounded by (20), clocks and round time re-solved;
    SP2 solved exactly by water-filling (:mod:`._sp2`; not NP-complete);
    until the objective changes by at most ``1e-10`` relative (at most 200
    passes); the best iterate.

``minpixel`` / ``randpixel`` — the random baselines of Table I
    ``B/N`` each; ``randomize: frequency`` draws clocks uniformly in
    ``[f_min, f_max]`` at ``p_max``, ``randomize: power`` draws powers uniformly
    in dBm in ``[p_min, p_max]`` at ``f_max``; resolution ``s_1`` (MinPixel) or
    uniform over the options (RandPixel). Draws from ``baseline.seed``, clocks
    or powers first, then resolutions.

``comm-only`` — Sec. VII-C, communication optimised only (needs ``deadline``)
    Random resolutions (RandPixel's draws), clocks
    :math:`K_n\sigma_n/(T_{max}/R_g - t^0_n)` from the upload time at
    ``(B/N, p_max)``, then SP2 for the rates that leaves.

``comp-only`` — Sec. VII-C, computation optimised only (needs ``deadline``)
    ``(B/N, p_max)`` fixed, SP1 as in ``paper``.

``yang2021`` — "Scheme 1" of Sec. VII-D (needs ``deadline``)
    Yang et al. (2021), Algorithm 3 with the local accuracy fixed: at
    :math:`s_1`, alternate clocks :math:`K_n\sigma_1/(T_{max}/R_g - t_n)` and
    the bandwidth and power minimising :math:`\sum_n t_n p_n` at the upload
    times :math:`t_n`, until the energy settles.

Every allocation is checked by :meth:`FlmarProblem.evaluate`; a scheme never
reports what evaluate rejects (the random baselines report ``failed`` when
their draw misses the deadline).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InfeasibleError, SolverError
from ..result import Result, Status
from ..units import dbm_to_w, w_to_dbm
from . import _sp1
from ._feasible import check_deadline, min_bandwidth
from ._fixed import FixedSolution, solve_fixed
from ._math import rate
from ._optimal import certify
from ._sp2 import solve_sp2
from .problem import FlmarAllocation, FlmarProblem

__all__ = [
    "SCHEMES",
    "solve_comm_only",
    "solve_comp_only",
    "solve_minpixel",
    "solve_optimal",
    "solve_paper",
    "solve_randpixel",
    "solve_yang2021",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Status ``optimal`` when best - bound <= GAP_RTOL * max(1, |best|) (FLMAR.md section 5.5).
GAP_RTOL = 1e-6
#: The certified search aims closer than GAP_RTOL: at SEARCH_RTOL * max(SEARCH_SCALE, |best|),
#: so that an ``optimal`` result's bound also agrees with its objective to ~1e-9 relative.
SEARCH_RTOL = 2e-10
SEARCH_SCALE = 1e-3
#: BCD: stop at this relative change of the objective, or after MAX_PASSES passes.
BCD_RTOL = 1e-10
MAX_PASSES = 200


# ---------------------------------------------------------------------------
# Result assembly (every allocation is checked by the problem's evaluate)
# ---------------------------------------------------------------------------
def _result(
    problem: FlmarProblem,
    scheme: str,
    status: Status,
    bandwidth: FloatArray,
    power: FloatArray,
    frequency: FloatArray,
    options: IntArray,
    *,
    message: str,
    t0: float,
    iterations: int,
    bound: float = math.nan,
    relaxed_bound: float = math.nan,
    info: dict[str, Any] | None = None,
) -> Result:
    options = np.asarray(options, np.int64)
    resolution = problem.resolutions[options]
    ev = problem.evaluate(bandwidth, power, frequency, resolution)
    objective = ev.objective
    if ev.violations:
        if status is not Status.FAILED:
            raise SolverError(
                f"internal error: {scheme} produced an infeasible allocation: {ev.violations[0]}"
            )
        message = f"{message} The allocation violates: {'; '.join(ev.violations)}."
        objective = math.nan
    arrays = [np.array(a, dtype=float) for a in (bandwidth, power, frequency)]
    res_px = np.array(np.round(resolution)).astype(np.int64)
    for a in [*arrays, res_px]:
        a.setflags(write=False)
    alloc = FlmarAllocation(
        bandwidth=arrays[0],
        power=arrays[1],
        frequency=arrays[2],
        resolution=res_px,
        energy=ev.energy,
        energy_transmission=ev.energy_transmission,
        energy_computation=ev.energy_computation,
        time=ev.time,
        round_time=ev.round_time,
        accuracy=ev.accuracy,
        mean_accuracy=ev.mean_accuracy,
        iterations=int(iterations),
    )
    return Result(
        family="flmar",
        scheme=scheme,
        status=status,
        objective=float(objective),
        bound=float(bound),
        message=message,
        solve_seconds=time.perf_counter() - t0,
        allocation=alloc,
        info=dict(info or {}),
        relaxed_bound=float(relaxed_bound),
    )


def _upload_time(problem: FlmarProblem, b: FloatArray, p: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore"):
        return problem.bits / rate(b, p, problem.channel_gain, problem.noise_psd)


def _objective(problem: FlmarProblem, b, p, f, options) -> float:
    ev = problem.evaluate(b, p, f, problem.resolutions[options])
    return ev.objective if not ev.violations else math.inf


def _start(problem: FlmarProblem) -> tuple[FloatArray, FloatArray]:
    """The BCD start (FLMAR.md section 5.4 step 1): ``(B/N, p_max)``, or scaled ``b_lo``."""
    n = problem.n_devices
    b = np.full(n, problem.bandwidth / n)
    p = problem.power_max.copy()
    cap = problem.round_limit
    if math.isfinite(cap):
        t = _upload_time(problem, b, p)
        need = problem.cycles_per_round * problem.cycle_factors[0] / problem.frequency_max
        if np.any(t + need > cap):
            lo = min_bandwidth(problem, cap)
            b = lo * (problem.bandwidth / lo.sum())
    return b, p


def _sp1_paper(
    problem: FlmarProblem, t: FloatArray, start: float | None = None
) -> _sp1.SP1Solution:
    """SP1 as ``paper`` solves it: exact relaxation, rounding (20), re-solve (5.1)."""
    rel = _sp1.relaxed(problem, t, start=start)
    k = _sp1.round_nearest(problem, t, rel.resolution)
    return dataclasses.replace(_sp1.fixed(problem, t, k), relaxed_tau=rel.tau)


def _bcd(
    problem: FlmarProblem,
    b: FloatArray,
    p: FloatArray,
    sp1: Callable[[FlmarProblem, FloatArray, float | None], _sp1.SP1Solution],
) -> tuple[tuple[FloatArray, FloatArray, FloatArray, IntArray], float, int]:
    """Algorithm 2: alternate SP1 and SP2; returns the best iterate, its objective, passes."""
    best = None
    best_obj = math.inf
    prev = math.inf
    passes = 0
    hint = None
    for _ in range(MAX_PASSES):
        passes += 1
        t = _upload_time(problem, b, p)
        s1 = sp1(problem, t, hint)
        hint = s1.tau  # SP2 tunes the uploads to this round time: a kink of the next SP1
        k = np.asarray(s1.options, np.int64)
        f = s1.frequency
        cycles = problem.cycles_per_round * problem.cycle_factors[k]
        r_min = problem.bits / (s1.tau - cycles / f)
        r_min = np.minimum(r_min, rate(b, p, problem.channel_gain, problem.noise_psd))
        s2 = solve_sp2(problem, r_min, reachable=b)  # b reaches r_min at p <= p_max
        b, p = s2.bandwidth, s2.power
        obj = _objective(problem, b, p, f, k)
        if obj < best_obj:
            best, best_obj = (b, p, f, k), obj
        if abs(obj - prev) <= BCD_RTOL * max(1.0, abs(obj)):
            break
        prev = obj
    assert best is not None
    return best, best_obj, passes


# ---------------------------------------------------------------------------
# Schemes
# ---------------------------------------------------------------------------
def solve_paper(problem: FlmarProblem) -> Result:
    """Algorithm 2 of the paper as FLMAR.md section 5.4 defines it (status ``feasible``)."""
    t0 = time.perf_counter()
    check_deadline(problem)
    b, p = _start(problem)
    (b, p, f, k), _, passes = _bcd(problem, b, p, _sp1_paper)
    return _result(
        problem,
        "paper",
        Status.FEASIBLE,
        b,
        p,
        f,
        k,
        message=f"Algorithm 2 (block coordinate descent) from (B/N, p_max): {passes} passes of "
        "SP1 (exact relaxation, rounding (20), clocks re-solved) and SP2 (exact water-filling)",
        t0=t0,
        iterations=passes,
    )


def _fixed_from(problem: FlmarProblem, options: IntArray) -> FixedSolution | None:
    return solve_fixed(problem, options)


def solve_optimal(problem: FlmarProblem, *, time_limit: float = 300.0) -> Result:
    """Certified optimum (FLMAR.md section 5.5): ``optimal`` when the gap closes."""
    t0 = time.perf_counter()
    check_deadline(problem)
    incumbents: list[FixedSolution] = []
    seeds: list[float] = []
    b0, p0 = _start(problem)
    for sp1 in (_sp1_paper, lambda pr, t, hint: _sp1.discrete(pr, t, seed_tau=hint)):
        (_, _, _, k), _, _ = _bcd(problem, b0.copy(), p0.copy(), sp1)
        sol = _fixed_from(problem, k)
        if sol is not None:
            incumbents.append(sol)
            seeds.append(sol.tau)
            # Re-run the discrete SP1 at the polished uploads (FLMAR.md 5.5, last heuristic).
            t = sol.plan.theta
            try:
                k2 = _sp1.discrete(problem, t).options
            except ValueError:
                k2 = None
            if k2 is not None and not np.array_equal(k2, k):
                sol2 = _fixed_from(problem, k2)
                if sol2 is not None:
                    incumbents.append(sol2)
                    seeds.append(sol2.tau)
    if not incumbents:  # pragma: no cover - the lowest resolutions are always feasible here
        raise SolverError("no feasible plan found for the certified search")
    cert = certify(
        problem,
        incumbents,
        atol_rel=SEARCH_RTOL,
        scale=SEARCH_SCALE,
        time_limit=max(1.0, time_limit - (time.perf_counter() - t0)),
        seeds=tuple(seeds),
    )
    best = cert.best
    gap = best.objective - cert.bound
    closed = gap <= GAP_RTOL * max(1.0, abs(best.objective))
    status = Status.OPTIMAL if closed else Status.FEASIBLE
    plan = best.plan
    what = "certified optimum" if closed else "best plan found (gap not closed)"
    return _result(
        problem,
        "optimal",
        status,
        plan.bandwidth,
        plan.power,
        plan.frequency,
        best.options,
        bound=cert.bound,
        message=f"{what}: branch and bound over the round time and the resolutions, "
        f"Lagrangian bound of the bandwidth budget; {cert.nodes} nodes, {cert.points} bound "
        f"evaluations, {cert.fixed_solves} convex fixed-resolution solves; gap "
        f"{max(gap, 0.0):.3g}",
        t0=t0,
        iterations=cert.nodes,
        info={"gap": max(gap, 0.0)},
    )


def _baseline_draws(problem: FlmarProblem) -> tuple[FloatArray, FloatArray, IntArray, str]:
    """The random draws of MinPixel/RandPixel: ``(power, clock, resolutions, note)``."""
    n = problem.n_devices
    rng = np.random.default_rng(problem.baseline.seed)
    pmin, pmax = problem.power_min, problem.power_max
    fmin, fmax = problem.frequency_min, problem.frequency_max
    note = ""
    if problem.baseline.randomize == "frequency":
        f = rng.uniform(fmin, fmax, n)
        p = pmax.copy()
    else:
        f = fmax.copy()
        if np.all(pmin > 0):
            p = np.asarray(dbm_to_w(rng.uniform(w_to_dbm(pmin), w_to_dbm(pmax), n)), float)
        else:  # p_min = 0 W has no dBm: draw in watts
            p = rng.uniform(pmin, pmax, n)
            note = " (p_min = 0 W: powers drawn uniformly in watts)"
        p = np.clip(p, pmin, pmax)
    k = rng.integers(0, problem.n_options, n)
    return p, f, k.astype(np.int64), note


def _random_baseline(problem: FlmarProblem, scheme: str, random_s: bool) -> Result:
    t0 = time.perf_counter()
    n = problem.n_devices
    p, f, k, note = _baseline_draws(problem)
    if not random_s:
        k = np.zeros(n, np.int64)
    b = np.full(n, problem.bandwidth / n)
    what = (
        "clocks uniform in [f_min, f_max]"
        if problem.baseline.randomize == "frequency"
        else ("powers uniform in dBm in [p_min, p_max]")
    )
    res = "resolutions uniform over the options" if random_s else "resolution s_1"
    msg = f"B/N each, {what}{note}, {res} (seed {problem.baseline.seed})"
    ev = problem.evaluate(b, p, f, problem.resolutions[k])
    status = Status.FAILED if ev.violations else Status.FEASIBLE
    if ev.violations:
        msg = f"{msg}: the random plan misses the deadline."
    return _result(problem, scheme, status, b, p, f, k, message=msg, t0=t0, iterations=1)


def solve_minpixel(problem: FlmarProblem) -> Result:
    """MinPixel (Table I): a random allocation at the lowest resolution."""
    return _random_baseline(problem, "minpixel", False)


def solve_randpixel(problem: FlmarProblem) -> Result:
    """RandPixel (Table I): a random allocation at random resolutions."""
    return _random_baseline(problem, "randpixel", True)


def _need_deadline(problem: FlmarProblem, scheme: str) -> float:
    if problem.deadline is None:
        raise InfeasibleError(
            f"{scheme} is undefined without a deadline: it fixes the clocks or the uploads "
            "from T_max (Sec. VII-C/D of the paper); give one with --set deadline=..."
        )
    return problem.deadline / problem.rounds


def _clock_error(scheme: str, problem: FlmarProblem, need: FloatArray) -> InfeasibleError:
    i = int(np.argmax(need / problem.frequency_max))
    return InfeasibleError(
        f"{scheme} is infeasible: with its transmission fixed at (B/N, p_max) device {i} would "
        f"need a clock of {need[i]:.4g} Hz to meet the deadline, above f_max = "
        f"{problem.frequency_max[i]:.4g} Hz; raise the deadline",
        details={"required_clock": float(need[i]), "device": i},
    )


def solve_comm_only(problem: FlmarProblem) -> Result:
    """Communication optimised only (Sec. VII-C): fixed clocks from (13a), SP2 optimum."""
    t0 = time.perf_counter()
    cap = _need_deadline(problem, "comm-only")
    check_deadline(problem, what="comm-only")
    n = problem.n_devices
    _, _, k, _ = _baseline_draws(problem)
    b0 = np.full(n, problem.bandwidth / n)
    t_up = _upload_time(problem, b0, problem.power_max)
    cycles = problem.cycles_per_round * problem.cycle_factors[k]
    left = cap - t_up
    with np.errstate(divide="ignore"):
        need = np.where(left > 0, cycles / left, np.inf)
    if np.any(need > problem.frequency_max * (1 + 1e-12)):
        raise _clock_error("comm-only", problem, need)
    f = np.clip(need, problem.frequency_min, problem.frequency_max)
    r_min = problem.bits / (cap - cycles / f)
    s2 = solve_sp2(problem, r_min, reachable=b0)  # cap - cycles / f >= t_up: b0 reaches r_min
    return _result(
        problem,
        "comm-only",
        Status.FEASIBLE,
        s2.bandwidth,
        s2.power,
        f,
        k,
        message="clocks K_n sigma_n / (T_max/R_g - t0_n) from the uploads at (B/N, p_max), "
        f"random resolutions (seed {problem.baseline.seed}); bandwidth and power by SP2",
        t0=t0,
        iterations=s2.iterations,
    )


def solve_comp_only(problem: FlmarProblem) -> Result:
    """Computation optimised only (Sec. VII-C): (B/N, p_max) fixed, SP1 as in ``paper``."""
    t0 = time.perf_counter()
    cap = _need_deadline(problem, "comp-only")
    n = problem.n_devices
    b = np.full(n, problem.bandwidth / n)
    p = problem.power_max.copy()
    t = _upload_time(problem, b, p)
    lowest = problem.cycles_per_round * problem.cycle_factors[0]
    left = cap - t
    with np.errstate(divide="ignore"):
        need = np.where(left > 0, lowest / left, np.inf)
    if np.any(need > problem.frequency_max * (1 + 1e-12)):
        raise _clock_error("comp-only", problem, need)
    s1 = _sp1_paper(problem, t)
    return _result(
        problem,
        "comp-only",
        Status.FEASIBLE,
        b,
        p,
        s1.frequency,
        np.asarray(s1.options),
        message="bandwidth B/N and power p_max fixed; clocks, resolutions and round time by "
        "SP1 (exact relaxation, rounding (20), re-solve)",
        t0=t0,
        iterations=max(1, s1.iterations),
    )


def solve_yang2021(problem: FlmarProblem) -> Result:
    """Scheme 1 (Yang et al. 2021, Algorithm 3 with the local accuracy fixed), at ``s_1``."""
    t0 = time.perf_counter()
    cap = _need_deadline(problem, "yang2021")
    n = problem.n_devices
    k = np.zeros(n, np.int64)
    b = np.full(n, problem.bandwidth / n)
    p = problem.power_max.copy()
    t = _upload_time(problem, b, p)
    cycles = problem.cycles_per_round * problem.cycle_factors[0]
    left = cap - t
    with np.errstate(divide="ignore"):
        need = np.where(left > 0, cycles / left, np.inf)
    if np.any(need > problem.frequency_max * (1 + 1e-12)):
        raise _clock_error("yang2021", problem, need)
    prev = math.inf
    f = np.clip(need, problem.frequency_min, problem.frequency_max)
    iterations = 0
    for _ in range(MAX_PASSES):
        iterations += 1
        f = np.clip(cycles / (cap - t), problem.frequency_min, problem.frequency_max)
        s2 = solve_sp2(problem, problem.bits / t, flat_above_kink=True, reachable=b)
        b, p = s2.bandwidth, s2.power
        t = _upload_time(problem, b, p)
        ev = problem.evaluate(b, p, f, problem.resolutions[k])
        if abs(ev.energy - prev) <= 1e-12 * max(ev.energy, 1e-300):
            break
        prev = ev.energy
    return _result(
        problem,
        "yang2021",
        Status.FEASIBLE,
        b,
        p,
        f,
        k,
        message="Yang et al. (2021) Algorithm 3 with the local accuracy fixed, at s_1: clocks "
        "from the deadline, bandwidth and power minimising sum t_n p_n, "
        f"{iterations} iteration(s)",
        t0=t0,
        iterations=iterations,
    )


SCHEMES: dict[str, Callable[[FlmarProblem], Result]] = {
    "optimal": solve_optimal,
    "paper": solve_paper,
    "minpixel": solve_minpixel,
    "randpixel": solve_randpixel,
    "comm-only": solve_comm_only,
    "comp-only": solve_comp_only,
    "yang2021": solve_yang2021,
}
