r"""Feasibility of a deadline and the smallest feasible one (FLMAR.md section 8).

A plan exists with completion time at most :math:`T` exactly when every
device, at the lowest resolution :math:`s_1`, the top clock and the top
power, can upload in the time its computation leaves, within the bandwidth:

.. math::

    \sum_n b_n^{lo}(T) \le B, \qquad
    b_n^{lo}(T) = \text{the bandwidth on which } p_{max} \text{ reaches }
    \frac{d_n}{T/R_g - K_n\sigma_1/f_{max}}

(:math:`\infty` when that time is :math:`\le 0` or the rate is beyond reach
on any bandwidth). :math:`\sum_n b_n^{lo}` decreases with :math:`T`, so the
smallest feasible deadline is found by bisection on the same test.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InfeasibleError
from ._math import b_for_rate

__all__ = ["check_deadline", "min_bandwidth", "min_round_time"]


def min_bandwidth(problem, tau: float, option: int = 0) -> np.ndarray:
    """``b_n^lo`` at round time ``tau`` for resolution ``option`` (``inf`` where impossible)."""
    cycles = problem.cycles_per_round * problem.cycle_factors[option]
    left = tau - cycles / problem.frequency_max
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(left > 0, problem.bits / left, np.inf)
        b = b_for_rate(r, problem.power_max, problem.channel_gain, problem.noise_psd)
    return np.where(left > 0, b, np.inf)


def min_round_time(problem) -> float:
    """The smallest round time any plan achieves (an infimum: the budget is met with equality)."""
    budget = problem.bandwidth

    def ok(tau: float) -> bool:
        return float(np.sum(min_bandwidth(problem, tau))) <= budget

    # Lower end: each device alone on infinite bandwidth.
    theta_inf = (
        problem.bits * np.log(2) * problem.noise_psd / (problem.channel_gain * problem.power_max)
    )
    lo = float(
        np.max(
            theta_inf + problem.cycles_per_round * problem.cycle_factors[0] / problem.frequency_max
        )
    )
    hi = max(2.0 * lo, 1e-9)
    while not ok(hi):
        hi *= 2.0
        if hi > 1e30:  # pragma: no cover - always feasible for a large enough tau
            return math.inf
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if ok(mid):
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-15 * hi:
            break
    return hi


def check_deadline(problem, *, what: str = "the problem") -> None:
    """Raise :class:`~edgealloc.errors.InfeasibleError` when the deadline admits no plan.

    The error carries ``min_deadline``, the smallest feasible completion time
    limit (rounded up by a hair, so that it is itself feasible).
    """
    if problem.deadline is None:
        return
    tau = problem.deadline / problem.rounds
    if float(np.sum(min_bandwidth(problem, tau))) <= problem.bandwidth:
        return
    t_min = min_round_time(problem) * problem.rounds * (1 + 1e-9)
    raise InfeasibleError(
        f"{what} is infeasible: no plan finishes the {problem.rounds:g} rounds within the "
        f"deadline T_max = {problem.deadline:g} s even at the lowest resolution, the top "
        f"clock and the top power (the uploads would need more than B = "
        f"{problem.bandwidth:g} Hz); the smallest feasible deadline is {t_min:.6g} s",
        min_deadline=t_min,
    )
