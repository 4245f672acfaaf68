r"""Sub-problem 2 (16)-(17): bandwidth and power for given minimum rates, exactly.

FLMAR.md sections 4 item 4 and 5.3. The paper calls SP2 an NP-complete
sum-of-ratios problem and attacks it with a Newton-like method (Algorithm 1,
Theorem 2). It is not hard: for a fixed bandwidth :math:`b_n` the energy ratio
:math:`p_n d_n / G_n(p_n, b_n)` increases with :math:`p_n`, so the best power
is the smallest feasible one, :math:`p_n = \max(p_{min}, p^{req}(b_n))` with
:math:`p^{req}(b) = (N_0 b/g)(2^{r/b} - 1)`. What is left,

.. math:: \min_b \sum_n E_n(b_n) \quad\text{s.t.}\quad \sum_n b_n \le B,\; b_n \ge b_n^{lo},

is a convex split of :math:`B` (each :math:`E_n` convex and decreasing),
solved by water-filling: a price :math:`\lambda` on bandwidth, each device's
bandwidth where its marginal value :math:`m_n(b) = -E_n'(b)` meets it, and a
Newton iteration on :math:`\lambda` until the budget is used. With
:math:`v = r\ln 2/b` and :math:`u = a_{min}/b`:

* below the kink :math:`b_n^{kink}` (where :math:`p^{req} = p_{min}`):
  :math:`m = (d N_0/(g r))(e^v(v - 1) + 1) = (d N_0/(g r))\,\phi(e^v - 1)`,
  inverted in closed form (the Lambert-W relation (A.24));
* above it (power at :math:`p_{min}`): :math:`m = p_{min} d \ln 2\, H(u)/a_{min}^2`;
* between the left and right limits at the kink, :math:`b = b^{kink}`.

The global optimum is unique; it is the fixed point of Theorem 1 / Algorithm 1
whenever that converges. ``flat_above_kink`` gives the variant of Yang et al.
(2021) used by the ``yang2021`` baseline, whose objective :math:`t_n p_n` gives
bandwidth beyond the kink no value.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.typing import NDArray

from ..errors import InfeasibleError
from ._math import LN2, H, H_inv, b_for_rate, phi, phi_inv, power_for_rate, psi_p, psi_pp, rate

__all__ = ["SP2Solution", "solve_sp2"]

FloatArray = NDArray[np.float64]
RTOL = 1e-14
MAX_ITER = 200


@dataclasses.dataclass(frozen=True)
class SP2Solution:
    """Bandwidth, power and the bandwidth price of the SP2 optimum."""

    bandwidth: FloatArray
    power: FloatArray
    price: float
    #: Upload energy per round, sum_n p_n d_n / r_n (J).
    energy: float
    iterations: int


def solve_sp2(
    problem,
    min_rate: FloatArray,
    *,
    flat_above_kink: bool = False,
    reachable: FloatArray | None = None,
) -> SP2Solution:
    """Solve SP2 for the minimum rates ``min_rate`` (bit/s) of problem ``problem``.

    ``reachable``: bandwidths on which ``p_max`` is known to reach
    ``min_rate`` (the plan the rates were computed from: a rate no higher
    than that plan's at a power no higher than ``p_max``). The smallest
    bandwidths ``b_lo`` are capped at them. Far below one bit per hertz
    (:math:`a/b \\ll 1`) the rate hardly depends on the bandwidth, so its
    inverse is ill-conditioned: the rate of ``B`` itself mapped back to more
    than ``B`` and SP2 was declared infeasible on a feasible plan (fuzz
    campaign, seed 0 instance 5043: one device at :math:`a/b \\approx 10^{-4}`).

    Raises
    ------
    InfeasibleError
        When some rate is beyond the device's reach at ``p_max`` on any
        bandwidth, or the bandwidths that reach the rates at ``p_max`` exceed
        ``B``.
    """
    g, d, n0 = problem.channel_gain, problem.bits, problem.noise_psd
    pmin, pmax = problem.power_min, problem.power_max
    budget = problem.bandwidth
    r = np.asarray(min_rate, dtype=float)
    b_lo = b_for_rate(r, pmax, g, n0)
    if reachable is not None:
        b_lo = np.minimum(b_lo, np.asarray(reachable, dtype=float))
    if not np.all(np.isfinite(b_lo)):
        i = int(np.flatnonzero(~np.isfinite(b_lo))[0])
        raise InfeasibleError(
            f"SP2 is infeasible: device {i} needs {r[i]:.6g} bit/s, beyond its rate at p_max on "
            f"any bandwidth ({g[i] * pmax[i] / (n0 * LN2):.6g} bit/s)"
        )
    if b_lo.sum() > budget * (1 + 1e-12):
        raise InfeasibleError(
            f"SP2 is infeasible: reaching the minimum rates at p_max takes {b_lo.sum():.6g} Hz "
            f"of bandwidth, more than B = {budget:g} Hz"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        b_kink = np.where(pmin > 0, b_for_rate(r, pmin, g, n0), np.inf)
    b_kink = np.maximum(b_kink, b_lo)
    a_min = g * pmin / n0
    scale1 = d * n0 / (g * r)  # m = scale1 * phi(e^v - 1) below the kink
    with np.errstate(divide="ignore", invalid="ignore"):
        scale2 = np.where(pmin > 0, pmin * d * LN2 / (a_min * a_min), 0.0)

    def m_left(b: FloatArray) -> FloatArray:
        v = r * LN2 / b
        return scale1 * phi(np.expm1(v))

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        m_lo = m_left(b_lo)
        m_k_left = np.where(np.isfinite(b_kink), m_left(b_kink), 0.0)
        if flat_above_kink:
            m_k_right = np.zeros_like(m_k_left)
        else:
            m_k_right = np.where(np.isfinite(b_kink), scale2 * H(a_min / b_kink), 0.0)

    def bandwidth(lam: float) -> tuple[FloatArray, FloatArray]:
        """``b_n(lam)`` and ``d b_n / d lam``.

        The derivative is infinite where the price curve is flat (``dm = 0``, found by
        the fuzz campaign: seed 0, instance 502): the Newton step of the price search
        is then 0 or NaN and it bisects its bracket instead, so the division is silent.
        """
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            return _bandwidth(lam)

    def _bandwidth(lam: float) -> tuple[FloatArray, FloatArray]:
        b = np.empty_like(r)
        db = np.zeros_like(r)
        at_lo = lam >= m_lo
        left = ~at_lo & (lam > m_k_left)
        kink = ~at_lo & ~left & (lam >= m_k_right)
        right = ~at_lo & ~left & ~kink
        b[at_lo] = b_lo[at_lo]
        b[kink] = b_kink[kink]
        if left.any():
            c = lam / scale1[left]
            x = phi_inv(c)  # e^v - 1
            v = np.log1p(x)
            bb = r[left] * LN2 / v
            b[left] = bb
            # dm/db = scale1 * phi'(x) * dx/dv * dv/db = scale1 * ln(1+x) (1+x) (-v/b)
            dm = scale1[left] * v * (1.0 + x) * (-v / bb)
            db[left] = 1.0 / dm
        if right.any():
            c = lam / scale2[right]
            u = H_inv(c)
            bb = a_min[right] / u
            b[right] = bb
            dH = 2.0 * u * psi_p(u) + u * u * psi_pp(u)
            dm = scale2[right] * dH * (-u / bb)
            db[right] = 1.0 / dm
        return b, db

    if flat_above_kink and b_kink.sum() <= budget:
        lam = 0.0
        b = b_kink.copy()
        iterations = 0
    else:
        lam_hi = float(np.max(m_lo))  # every device at b_lo: sum <= B
        lam = _start_price(budget, r, m_left, b_lo)
        lo_u, hi_u = -math.inf, math.log(lam_hi) if lam_hi > 0 else math.inf
        u = math.log(min(lam, lam_hi)) if lam_hi > 0 else math.log(lam)
        best = None
        iterations = 0
        for _ in range(MAX_ITER):
            iterations += 1
            lam = math.exp(u)
            b, db = bandwidth(lam)
            total = float(b.sum())
            if total > budget:
                lo_u = max(lo_u, u)
            else:
                hi_u = min(hi_u, u)
                best = (lam, b)
            resid = math.log(total / budget)
            if abs(resid) <= RTOL:
                best = (lam, b)
                break
            with np.errstate(over="ignore", invalid="ignore"):  # an infinite slope: bisect
                slope = lam * float(db.sum()) / total
            nxt = u - resid / slope if slope < 0 else math.nan
            if not (lo_u < nxt < hi_u) or not math.isfinite(nxt):
                if math.isfinite(lo_u) and math.isfinite(hi_u):
                    nxt = 0.5 * (lo_u + hi_u)
                elif math.isfinite(lo_u):
                    nxt = u + 1.0
                else:
                    nxt = u - 1.0
            if math.isfinite(lo_u) and math.isfinite(hi_u) and hi_u - lo_u <= 1e-15:
                break
            u = nxt
        if best is None:  # pragma: no cover - the bracket always holds b_lo's price
            best = (lam_hi, b_lo.copy())
        lam, b = best
    b = np.maximum(b, b_lo)
    extra = b - b_lo
    if b.sum() > budget and extra.sum() > 0:  # rounding: shave the devices above b_lo
        b = b_lo + extra * max(0.0, (budget - b_lo.sum()) / extra.sum())
    p = np.clip(np.maximum(pmin, power_for_rate(b, r, g, n0)), pmin, pmax)
    energy = float(np.sum(p * d / rate(b, p, g, n0)))
    return SP2Solution(bandwidth=b, power=p, price=lam, energy=energy, iterations=iterations)


def _start_price(budget: float, r: FloatArray, m_left, b_lo: FloatArray) -> float:
    """A first price: the median marginal value at an equal split (above ``b_lo``)."""
    b = np.maximum(budget / r.size, b_lo)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        m = m_left(b)
    m = m[np.isfinite(m) & (m > 0)]
    return float(np.median(m)) if m.size else 1e-9
