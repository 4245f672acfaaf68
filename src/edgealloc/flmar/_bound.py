r"""Lagrangian bounds on the ``flmar`` optimum at a fixed round time.

FLMAR.md section 5.5. Fix the round time :math:`\tau` and dualise only the
bandwidth budget (12a). Every (device, resolution) pair then has the value
:math:`\Phi_{nk}(\lambda, \tau) - \rho A_k` of its device Lagrangian
(:func:`~._lagrange.device_plan`), and for every price :math:`\lambda > 0`

.. math::

    V(\lambda, \tau) = w_2 R_g \tau - \lambda B + \sum_n \min_{k \in S_n}
        \bigl(\Phi_{nk}(\lambda, \tau) - \rho A_k\bigr)

is a lower bound on the optimum among plans with round time :math:`\tau` and
resolutions in the sets :math:`S_n` (weak duality; the time constraint of each
device is kept exactly). :math:`V` is concave in :math:`\lambda` with
supergradient :math:`\sum_n b_{n k^*} - B`; :func:`best_price` maximises it
(Newton on the budget equation, and at a kink, where one device switches
options and its bandwidth jumps, Newton on that device's indifference
equation). With one coupling constraint the bound misses the optimum at
:math:`\tau` by at most one device's discreteness (the device at the kink,
reported as ``split``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.typing import NDArray

from ._lagrange import DevicePlan, Devices, device_plan

__all__ = ["PriceBound", "best_price"]

FloatArray = NDArray[np.float64]
MAX_ITER = 100
#: Relative accuracy of the bandwidth budget equation and of the price at a kink.
RTOL = 1e-12
#: The largest log-price tried (exp(700) ~ 1e304: beyond it the price overflows).
U_MAX = 700.0
#: The longest Newton step in log price (a factor e^50).
MAX_STEP = 50.0


@dataclasses.dataclass(frozen=True)
class PriceBound:
    """The maximised Lagrangian at one round time."""

    tau: float
    lam: float
    #: max over lam of V(lam, tau).
    value: float
    #: (N, K) values Phi_nk - rho A_k at lam (inf: infeasible or excluded).
    values: FloatArray
    #: (N, K) d/d tau of the values (-mu).
    slopes: FloatArray
    #: (N, K) bandwidths of the pairs' plans.
    bandwidth: FloatArray
    #: The option of each device at lam (bandwidth within budget: the high-price side).
    choice: NDArray[np.int64]
    #: Devices whose best option differs on the two sides of the price (at most a few).
    split: NDArray[np.int64]
    evaluations: int


class PairEvaluator:
    """Evaluates the device Lagrangians of the allowed (device, option) pairs, warm-started."""

    def __init__(self, problem, pairs: Devices, n: int, k: int) -> None:
        self.problem = problem
        self.pairs = pairs
        self.n, self.k = n, k
        self.rho_acc = np.tile(problem.weights.accuracy * problem.accuracy, n)
        self.budget = problem.bandwidth
        self.w2r = problem.weights.time * problem.rounds
        self._start: dict[tuple[float, bytes], DevicePlan] = {}
        self._last: DevicePlan | None = None
        self._last_key: bytes | None = None
        self.calls = 0

    def evaluate(
        self, lam: float, tau: float, mask: NDArray[np.bool_]
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(values, slopes, bandwidth)`` as ``(N, K)`` arrays (``inf`` outside ``mask``)."""
        flat = mask.reshape(-1)
        sub = self.pairs.take(flat)
        key = flat.tobytes()
        start = self._last if self._last_key == key else None
        plan = device_plan(sub, lam, tau, start=start, slack=None)
        self._last, self._last_key = plan, key
        self.calls += 1
        values = np.full(flat.size, np.inf)
        slopes = np.zeros(flat.size)
        bw = np.zeros(flat.size)
        values[flat] = plan.value - self.rho_acc[flat]
        slopes[flat] = -plan.mu
        bw[flat] = plan.bandwidth
        self.last_db = np.zeros(flat.size)
        self.last_db[flat] = plan.db_dlam
        shape = (self.n, self.k)
        return values.reshape(shape), slopes.reshape(shape), bw.reshape(shape)


def _side(values: FloatArray, bw: FloatArray, db: FloatArray):
    """Per device: the best option, its bandwidth and d bandwidth / d lam."""
    k = np.argmin(values, axis=1)
    rows = np.arange(k.size)
    return k, bw[rows, k], db[rows, k]


def best_price(ev: PairEvaluator, tau: float, mask: NDArray[np.bool_], lam0: float) -> PriceBound:
    """Maximise :math:`V(\\lambda, \\tau)` over the price for the allowed pairs ``mask``.

    ``mask`` excludes pairs infeasible at ``tau`` already (callers intersect it
    with the feasibility of the pairs).
    """
    budget, w2r = ev.budget, ev.w2r
    calls0 = ev.calls
    n = ev.n
    rows = np.arange(n)
    lo_u, hi_u = -math.inf, math.inf
    lo_data = hi_data = None
    u = min(math.log(lam0), U_MAX)
    best = None

    def at(u: float):
        # a finite log price stays within +-U_MAX: exp(-745) is 0, the price of u = -inf
        lam = math.exp(min(max(u, -U_MAX), U_MAX)) if math.isfinite(u) else 0.0
        vals, slopes, bw = ev.evaluate(lam, tau, mask)
        db = ev.last_db.reshape(vals.shape)
        k, b, dbk = _side(vals, bw, db)
        total = float(b.sum())
        # without a price on time the round time may be unbounded (tau = inf): no term
        q = (w2r * tau if w2r else 0.0) - lam * budget + float(np.sum(vals[rows, k]))
        return {
            "u": u,
            "lam": lam,
            "vals": vals,
            "slopes": slopes,
            "bw": bw,
            "k": k,
            "total": total,
            "q": q,
            # d b / d lam may be infinite or overflow when summed (flat price curves;
            # seed 0, instance 916 of the fuzz campaign): the Newton step then bisects
            "db": _silent_sum(dbk),
        }

    split = np.zeros(0, np.int64)
    choice = None
    if ev.pairs.w <= 0:
        # Without an energy weight a plan's bandwidth is the least that meets tau, whatever
        # the price: when those fit in B the bound is concave with q'(0) <= 0, so lam = 0.
        d = at(-math.inf)
        if d["total"] <= budget:
            return PriceBound(
                tau=tau,
                lam=0.0,
                value=d["q"],
                values=d["vals"],
                slopes=d["slopes"],
                bandwidth=d["bw"],
                choice=d["k"],
                split=np.zeros(0, np.int64),
                evaluations=ev.calls - calls0,
            )
    # Bracket widths of the last steps: Newton and the kink steps must halve the bracket
    # within three steps, else the next step bisects. At a price of 1e-255 the sum of
    # d b / d lam overflows and the kink's secant crept by 0.18 in log price a step over
    # a bracket 580 wide, so all 100 steps ended about 250 decades below the price that meets
    # the budget, with a bound 10.4 below the optimum: B&B could not prune and hit its
    # 300 s limit (flmar-clock, f_max = 0.75 GHz, (0.9, 0.1), drop 43, and 5 more).
    widths: list[float] = []
    for _ in range(MAX_ITER):
        d = at(u)
        # A Lagrangian value is a bound only where it is finite: at a price that underflows
        # the bandwidths overflow and q can be inf or NaN (same drop as above, at u = -636).
        if math.isfinite(d["q"]) and (best is None or d["q"] > best["q"]):
            best = d
        resid = math.log(d["total"] / budget) if d["total"] > 0 else -math.inf
        if abs(resid) <= RTOL:
            choice = d["k"]
            break
        if d["total"] > budget:
            lo_u, lo_data = u, d
        else:
            hi_u, hi_data = u, d
        if math.isfinite(lo_u) and math.isfinite(hi_u) and hi_u - lo_u <= RTOL:
            break
        slope = d["lam"] * d["db"] / d["total"] if d["total"] > 0 else math.nan
        nxt = u - resid / slope if slope < 0 else math.nan
        if abs(nxt - u) > MAX_STEP:  # a flat curve's Newton step (u - 10,000 seen): clamp it
            nxt = u + math.copysign(MAX_STEP, nxt - u)
        diff = (
            np.flatnonzero(lo_data["k"] != hi_data["k"])
            if lo_data is not None and hi_data is not None
            else np.zeros(0, np.int64)
        )
        if diff.size == 1:
            # One device j switches between the bracket's ends: its bandwidth jumps at
            # the price where it is indifferent between the two options. Find that
            # price (Newton on the indifference D = Phi_kl - Phi_kh, dD/dlam = b_kl - b_kh).
            j = int(diff[0])
            kl, kh = int(lo_data["k"][j]), int(hi_data["k"][j])
            here = d["vals"][j, kl] - d["vals"][j, kh]
            scale = abs(d["vals"][j, kl]) + abs(d["vals"][j, kh])
            if abs(here) <= 1e-13 * scale:
                base = d["total"] - d["bw"][j, d["k"][j]]
                tot_l, tot_h = base + d["bw"][j, kl], base + d["bw"][j, kh]
                if tot_l >= budget >= tot_h:  # the budget is met inside the jump: the maximum
                    split = np.array([j], np.int64)
                    choice = d["k"].copy()
                    choice[j] = kh
                    break
            with np.errstate(invalid="ignore", divide="ignore"):  # inf - inf: out of reach
                dd = d["lam"] * (d["bw"][j, kl] - d["bw"][j, kh])
                kink = u - here / dd if dd != 0 else math.nan
                if not (lo_u < kink < hi_u):
                    dl = lo_data["vals"][j, kl] - lo_data["vals"][j, kh]
                    dh = hi_data["vals"][j, kl] - hi_data["vals"][j, kh]
                    kink = lo_u - dl * (hi_u - lo_u) / (dh - dl) if dh != dl else math.nan
            on_side = (d["k"][j] == kl and lo_u < nxt <= kink) or (
                d["k"][j] == kh and kink <= nxt < hi_u
            )
            if not on_side and lo_u < kink < hi_u:
                nxt = kink
        bracketed = math.isfinite(lo_u) and math.isfinite(hi_u)
        if bracketed:
            widths.append(hi_u - lo_u)
            if len(widths) > 3 and widths[-1] > 0.5 * widths[-4]:
                nxt = math.nan  # three steps without halving the bracket: bisect
                widths.clear()
        if not (lo_u < nxt < hi_u) or not math.isfinite(nxt):
            if bracketed:
                nxt = 0.5 * (lo_u + hi_u)
            elif math.isfinite(lo_u):
                nxt = u + 1.0
            else:
                nxt = u - 1.0
        u = nxt
    else:
        pass
    if choice is None:
        if lo_data is not None and hi_data is not None:
            split = np.flatnonzero(lo_data["k"] != hi_data["k"]).astype(np.int64)
        choice = hi_data["k"] if hi_data is not None else best["k"]
    if best is None:  # pragma: no cover - no price gave a finite value: no bound here
        best = {**d, "q": -math.inf}
    return PriceBound(
        tau=tau,
        lam=best["lam"],
        value=best["q"],
        values=best["vals"],
        slopes=best["slopes"],
        bandwidth=best["bw"],
        choice=np.asarray(choice, np.int64),
        split=split.astype(np.int64),
        evaluations=ev.calls - calls0,
    )


def _silent_sum(values: FloatArray) -> float:
    """``values.sum()`` without NumPy's overflow warning (an infinite sum is a valid answer)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(values.sum())
