r"""The ``flmar`` problem for fixed resolutions: a convex programme, solved exactly.

FLMAR.md section 4 item 7 and section 5.5. With every :math:`s_n` fixed,
problem (13) is convex in :math:`(b, \theta, \tau)` (upload times
:math:`\theta_n`). Dualising the bandwidth budget (12a) with the price
:math:`\lambda` and the round-time coupling with the prices :math:`\mu_n`,
its optimum is the saddle point of

.. math::

    L(\lambda, \tau) = w_2 R_g \tau + \sum_n \Phi_n(\lambda, \tau) - \lambda B,

convex in :math:`\tau` and concave in :math:`\lambda`
(:func:`~._lagrange.device_plan` gives :math:`\Phi_n`). Its stationarity
conditions are two scalar equations,

.. math::

    \sum_n \mu_n(\lambda, \tau) = w_2 R_g \;(+\nu \text{ at the deadline}), \qquad
    \sum_n b_n(\lambda, \tau) = B,

solved by nested Newton iterations (round time inside, bandwidth price
outside) with the analytic sensitivities of the device plans, each
safeguarded by a bracket. By strong duality the value equals the primal
optimum; the allocation is the devices' plans at the saddle point.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.typing import NDArray

from ._lagrange import DevicePlan, Devices, device_plan, devices_for, slack_plan

__all__ = ["FixedSolution", "solve_fixed"]

#: Relative accuracy of the two stationarity equations (the round-time equation is
#: solved to 1e-14 per device, so the sums carry noise of that order).
RTOL = 1e-12
#: Residual at which a joint Newton stalled at rounding is still accepted.
STALL_RTOL = 1e-9
#: Iterations of each Newton loop at most.
MAX_ITER = 200
#: The largest log-price of the bandwidth tried (exp(700) ~ 1e304; exp(710) overflows).
_MAX_LOG_PRICE = 700.0


@dataclasses.dataclass(frozen=True)
class FixedSolution:
    """Saddle point of :math:`L(\\lambda, \\tau)` for one choice of resolutions."""

    options: NDArray[np.int64]
    lam: float
    tau: float
    nu: float
    plan: DevicePlan
    #: The dual value w2 R_g tau + sum Phi - lam B (= the primal optimum).
    value: float
    #: The objective of the plan: w1 E + w2 T - rho sum A.
    objective: float
    iterations: int


def _tau_at(
    dev: Devices,
    lam: float,
    w2r: float,
    tau_cap: float,
    start: DevicePlan | None,
    tau0: float | None,
) -> tuple[float, float, DevicePlan, int]:
    """The round time minimising L(lam, .): ``(tau, nu, plan, oracle calls)``."""
    slack = slack_plan(dev, lam)
    t_up = float(np.max(slack[2]))  # every device slack beyond this
    t_lo = float(np.max(dev.t_min))
    calls = 0
    if not math.isfinite(t_up) and not math.isfinite(tau_cap) and w2r <= 0:
        raise ValueError("no round time limits the problem (validated away)")
    hi = min(t_up, tau_cap)
    if w2r <= 0:  # no price on time: as slow as allowed
        tau = hi
        plan = device_plan(dev, lam, tau, start=start, slack=slack)
        return tau, float(np.sum(plan.mu)), plan, 1
    if hi >= tau_cap:  # the deadline may bind: its price is what sum mu exceeds w2 R_g by
        plan = device_plan(dev, lam, tau_cap, start=start, slack=slack)
        calls += 1
        total = float(np.sum(plan.mu))
        if total >= w2r:
            return tau_cap, total - w2r, plan, calls
        start = plan
    lo = t_lo
    tau = tau0 if tau0 is not None and lo < tau0 < hi else None
    if tau is None:
        tau = 0.5 * (lo + hi) if math.isfinite(hi) else 2.0 * lo
    hi_known = math.isfinite(hi)
    last_resid = math.inf  # |log(sum mu / w2r)| at the previous step
    for _ in range(MAX_ITER):
        plan = device_plan(dev, lam, tau, start=start, slack=slack)
        calls += 1
        start = plan
        total = float(np.sum(plan.mu))
        if total > w2r:
            lo = tau
        else:
            hi, hi_known = tau, True
        if abs(total - w2r) <= RTOL * w2r:
            break
        slope = float(np.sum(plan.dmu_dtau))
        if total > 0 and slope < 0:
            # Newton on log(sum mu) = log(w2r): the sum falls off like a power of tau.
            resid = math.log(total) - math.log(w2r)
            nxt = tau - resid * total / slope
            # Far from the root, Newton must cut the log residual by a tenth, or the power
            # law does not hold there: at a bandwidth price of 1e-258 sum mu was 8e-118 at
            # every tau tried (it rises only within ulps of t_min) and Newton crept by
            # 2.7e-8 s a step, 200 steps a call, 300 s a solve (flmar-clock, f_max =
            # 0.75 GHz, (0.9, 0.1), drop 43). It bisects instead. (Asking for half, a
            # slowly converging Newton bisected too: fuzz instance 59 took 3x longer.)
            if abs(resid) > 1.0 and abs(resid) > 0.9 * last_resid:
                nxt = math.nan
            last_resid = abs(resid)
        else:
            nxt = math.nan
        if not (lo < nxt < hi) or not math.isfinite(nxt):
            nxt = 0.5 * (lo + hi) if hi_known else 2.0 * tau
        if hi_known and hi - lo <= 4e-16 * hi:
            break
        if abs(nxt - tau) <= 4e-16 * tau:
            break
        tau = nxt
    return tau, 0.0, plan, calls


def _newton_2d(
    dev: Devices,
    lam: float,
    tau: float,
    w2r: float,
    tau_cap: float,
    budget: float,
    start: DevicePlan | None,
    max_iter: int = 30,
) -> tuple[float, float, DevicePlan, int] | None:
    """Joint Newton on ``(log lam, tau)`` for both stationarity equations.

    Returns ``(lam, tau, plan, oracle calls)``, or ``None`` when it does not
    converge cleanly (the deadline binds, a step leaves the feasible round
    times, or a device has no time price): the nested iteration takes over.
    """
    t_min = float(np.max(dev.t_min))
    plan = start
    u = math.log(lam)
    for calls in range(1, max_iter + 1):
        if not (t_min < tau <= tau_cap):
            return None
        plan = device_plan(dev, math.exp(u), tau, start=plan)
        sb, sm = float(np.sum(plan.bandwidth)), float(np.sum(plan.mu))
        if not (sb > 0 and sm > 0 and np.all(plan.feasible)):
            return None
        r1, r2 = math.log(sb / budget), math.log(sm / w2r)
        if abs(r1) <= RTOL and abs(r2) <= RTOL:
            return math.exp(u), tau, plan, calls
        lam = math.exp(u)
        j11 = lam * float(np.sum(plan.db_dlam)) / sb
        j12 = float(np.sum(plan.db_dtau)) / sb
        j21 = lam * float(np.sum(plan.dmu_dlam)) / sm
        j22 = float(np.sum(plan.dmu_dtau)) / sm
        det = j11 * j22 - j12 * j21
        if not (math.isfinite(det) and det != 0):
            return None
        du = (-r1 * j22 + r2 * j12) / det
        dt = (-r2 * j11 + r1 * j21) / det
        step = 1.0
        if abs(du) > 1.0:
            step = 1.0 / abs(du)
        if tau + step * dt <= t_min:
            step = min(step, 0.5 * (tau - t_min) / abs(dt))
        if abs(step * du) <= 1e-15 and abs(step * dt) <= 4e-16 * tau:
            # Stalled at rounding: accept only a point that meets both equations to
            # STALL_RTOL; an ill-conditioned Jacobian once stalled with the bandwidth
            # 4.6e-7 over B (fuzz campaign, seed 0 instance 3076). The nested, bracketed
            # iteration takes over otherwise.
            if abs(r1) <= STALL_RTOL and abs(r2) <= STALL_RTOL:
                return math.exp(u), tau, plan, calls
            return None
        u += step * du
        tau += step * dt
    return None


def solve_fixed(
    problem,
    options: NDArray[np.int64],
    *,
    lam0: float | None = None,
    tau0: float | None = None,
) -> FixedSolution | None:
    """The optimum of ``problem`` with resolution option ``options[n]`` for device ``n``.

    Returns ``None`` when the choice admits no allocation (the deadline is
    below the devices' infimum round time, or the bandwidth cannot carry the
    uploads in time).
    """
    options = np.asarray(options, dtype=np.int64)
    dev = devices_for(problem, options)
    w2r = problem.weights.time * problem.rounds
    tau_cap = problem.round_limit
    budget = problem.bandwidth
    if tau_cap <= float(np.max(dev.t_min)):
        return None
    lam = lam0 if lam0 is not None and lam0 > 0 else _initial_price(problem, dev, w2r)
    calls = 0
    plan = None
    tau = tau0
    best = None
    if w2r > 0:
        # Joint Newton first, from the given point or from the round time at lam0.
        if tau is None or not (float(np.max(dev.t_min)) < tau < tau_cap):
            tau, _, plan, c = _tau_at(dev, lam, w2r, tau_cap, None, None)
            calls += c
        got = _newton_2d(dev, lam, tau, w2r, tau_cap, budget, plan)
        if got is not None:
            lam, tau, plan, c = got
            calls += c
            best = (lam, tau, 0.0, plan)
    lo_u, hi_u = -math.inf, math.inf  # bracket on u = log(lam): sum b > B below lo_u
    u = math.log(lam)
    for _ in range(0 if best is not None else MAX_ITER):
        lam = math.exp(min(u, _MAX_LOG_PRICE))  # a price beyond e^700 prices nothing more
        tau, nu, plan, c = _tau_at(dev, lam, w2r, tau_cap, plan, tau)
        calls += c
        if not np.all(plan.feasible):
            return None
        total = float(np.sum(plan.bandwidth))
        resid = math.log(total / budget) if total > 0 else -math.inf
        if total > budget:
            lo_u = max(lo_u, u)
        else:
            hi_u = min(hi_u, u)
            best = (lam, tau, nu, plan)
        if abs(resid) <= RTOL:
            best = (lam, tau, nu, plan)
            break
        # Total derivative of sum b along tau*(lam). Where a price curve is flat it is
        # infinite or its sum overflows (flmar-clock, f_max = 0.75 GHz, (0.9, 0.1), drop 27):
        # a Newton step of zero would then stop the search off the root, so it bisects.
        with np.errstate(over="ignore", invalid="ignore"):
            dsum = float(np.sum(plan.db_dlam))
            if nu == 0.0 and math.isfinite(tau) and tau < tau_cap:
                dmt = float(np.sum(plan.dmu_dtau))
                if dmt < 0:
                    dsum += float(np.sum(plan.db_dtau)) * (-float(np.sum(plan.dmu_dlam)) / dmt)
            # d log(sum b) / d log(lam); at a price so high that no bandwidth is used
            # (sum b = 0: fuzz campaign, seed 0 instance 8677, ZeroDivisionError) it bisects
            slope = lam * dsum / total if total > 0 else math.nan
        nxt = u - resid / slope if slope < 0 and math.isfinite(slope) else math.nan
        if not (lo_u < nxt < hi_u) or not math.isfinite(nxt):
            if math.isfinite(lo_u) and math.isfinite(hi_u):
                nxt = 0.5 * (lo_u + hi_u)
            elif math.isfinite(lo_u):
                nxt = u + 2.0
            else:
                nxt = u - 2.0
        if math.isfinite(lo_u) and math.isfinite(hi_u) and hi_u - lo_u <= 1e-15:
            break
        if abs(nxt - u) <= 1e-15 * max(1.0, abs(u)):  # converged to rounding
            break
        u = nxt
    if best is None:  # the bandwidth cannot carry every upload in time
        return None
    lam, tau, nu, plan = best
    value = w2r * tau + float(np.sum(plan.value)) - lam * budget
    if not math.isfinite(tau):  # no time price and no deadline: every device at its slack plan
        tau = float(np.max(plan.theta + dev.cycles / plan.frequency))
        value = w2r * tau + float(np.sum(plan.value)) - lam * budget
    rho = problem.weights.accuracy
    acc = float(np.sum(problem.accuracy[options]))
    value -= rho * acc
    round_time = float(np.max(plan.theta + dev.cycles / plan.frequency))
    objective = w2r * round_time + float(np.sum(plan.energy)) - rho * acc
    return FixedSolution(
        options=options,
        lam=lam,
        tau=tau,
        nu=nu,
        plan=plan,
        value=value,
        objective=objective,
        iterations=calls,
    )


def _initial_price(problem, dev: Devices, w2r: float) -> float:
    """A first bandwidth price: the marginal value of bandwidth at ``B/N`` and ``p_max``."""
    from ._math import LN2, H

    n = problem.n_devices
    b = problem.bandwidth / n
    a = dev.a_max
    v = a / b
    mu = w2r / n
    m = (dev.w * dev.pmax + mu) * dev.bits * LN2 * H(v) / (a * a)
    m = m[np.isfinite(m) & (m > 0)]
    return float(np.median(m)) if m.size else 1e-9
