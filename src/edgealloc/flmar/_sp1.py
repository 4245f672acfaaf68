r"""Sub-problem 1 (14)-(15): clocks, resolutions and the round time for fixed uploads.

FLMAR.md sections 3.1, 4 items 1-3, 5.1 and 5.2. With the bandwidths and
powers fixed, device :math:`n` uploads in :math:`t_n = d_n/r_n` and has
:math:`\Delta_n = \tau - t_n` to compute. Its best clock is
:math:`f_n = \max(f_{min}, K_n\sigma_n/\Delta_n)` (the time constraint (13a)
tight unless :math:`f_{min}` binds), so SP1 is

.. math::

    \min_{\tau}\; w_2 R_g\tau + \sum_n \min_{s_n}\Bigl[
        w_1 R_g\kappa K_n\sigma_n \max(f_{min}, K_n\sigma_n/\Delta_n)^2 - \rho A(s_n)\Bigr],
    \qquad K_n\sigma_n \le f_{max}\Delta_n .

* :func:`relaxed` solves SP1_v1 (18), :math:`s_n` continuous in
  :math:`[s_1, s_K]` with the least concave majorant :math:`\tilde A` of the
  accuracy table, *exactly*, bounds included: the paper's (A.6)-(A.8) ignore
  the clock and resolution bounds and clip afterwards (19), which is not the
  optimum when a bound binds (FLMAR.md section 4 items 1-2). For a fixed
  :math:`\tau` each device's problem is convex in :math:`s_n` (a maximum of
  :math:`s^2` and :math:`s^6/\Delta^2` terms minus a concave function); its
  minimiser is among finitely many closed-form candidates (the stationary
  point of each linear piece of :math:`\tilde A` in each clock regime, and the
  break points). The outer function of :math:`\tau` is convex; its derivative
  is found by the envelope theorem and zeroed by a bracketed secant method.
* :func:`round_nearest` is (20): the nearest option, ties to the lower one,
  rounded down where rounding up would break the deadline.
* :func:`fixed` re-solves :math:`\tau` and the clocks for given resolutions
  (a convex 1-D problem, Newton's method).
* :func:`discrete` solves SP1 with discrete resolutions to global optimality
  (FLMAR.md section 5.2) by the branch and bound over :math:`\tau` of
  :mod:`._taubb`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.typing import NDArray

from ._taubb import Point, minimise_over_tau

__all__ = ["SP1Solution", "concave_majorant", "discrete", "fixed", "relaxed", "round_nearest"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
RTOL = 1e-13
MAX_ITER = 200


@dataclasses.dataclass(frozen=True)
class SP1Solution:
    """Round time, resolutions (values in px, continuous for the relaxation) and clocks."""

    tau: float
    resolution: FloatArray
    frequency: FloatArray
    #: Objective of SP1 (14): w1 R_g sum kappa K sigma f^2 + w2 R_g tau - rho sum A.
    value: float
    options: IntArray | None = None
    iterations: int = 0
    #: The relaxation's round time, where the solution came from rounding it.
    relaxed_tau: float | None = None


def concave_majorant(s: FloatArray, a: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Vertices ``(s_j, A_j)`` of the least concave majorant of the points ``(s_k, A_k)``."""
    hull: list[int] = []
    for i in range(s.size):
        while len(hull) >= 2:
            j, k = hull[-2], hull[-1]
            # drop k if it lies on or below the chord from j to i
            if (a[k] - a[j]) * (s[i] - s[j]) <= (a[i] - a[j]) * (s[k] - s[j]):
                hull.pop()
            else:
                break
        hull.append(i)
    idx = np.asarray(hull)
    return s[idx], a[idx]


class _Setup:
    """The constants of SP1 for a problem and fixed upload times."""

    def __init__(self, problem, upload_time: FloatArray) -> None:
        self.problem = problem
        self.t = np.asarray(upload_time, dtype=float)
        self.W0 = problem.cycles_per_round
        self.sigma = problem.cycle_factors
        self.W = self.W0[:, None] * self.sigma[None, :]
        self.wk = problem.weights.energy * problem.rounds * problem.capacitance
        self.w2r = problem.weights.time * problem.rounds
        self.rho = problem.weights.accuracy
        self.fmin = problem.frequency_min
        self.fmax = problem.frequency_max
        self.s = problem.resolutions
        self.s0 = problem.reference_resolution
        self.acc = problem.accuracy
        self.cap = problem.round_limit

    def tau_range(self, cycles: FloatArray) -> tuple[float, float]:
        """``[tau_lo, tau_hi]`` for per-device cycles (the lowest option for feasibility)."""
        lo = float(np.max(self.t + cycles / self.fmax))
        return lo, lo

    def cost(self, cycles: FloatArray, delta: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Computation term ``w1 R_g kappa W max(fmin, W/delta)^2`` and its ``d/d tau``."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            f = np.maximum(self.fmin_b(cycles), cycles / delta)
            val = self.wk * cycles * f * f
            der = np.where(cycles / delta > self.fmin_b(cycles), -2.0 * self.wk * f**3, 0.0)
        return val, der

    def fmin_b(self, like: FloatArray) -> FloatArray:
        return self.fmin if like.ndim == 1 else self.fmin[:, None]


def fixed(problem, upload_time: FloatArray, options: IntArray) -> SP1Solution:
    """Round time and clocks for fixed resolutions ``options``: a convex 1-D problem.

    Raises ``ValueError`` when the options cannot meet the deadline even at
    ``f_max`` (callers check feasibility first).
    """
    st = _Setup(problem, upload_time)
    n = st.t.size
    W = st.W[np.arange(n), options]
    lo = float(np.max(st.t + W / st.fmax))
    top = float(np.max(st.t + W / st.fmin))
    hi = min(st.cap, top)
    if lo > st.cap * (1 + 1e-12):
        raise ValueError("the options cannot meet the deadline")
    lo = min(lo, hi)

    def deriv(tau: float) -> tuple[float, float]:
        delta = tau - st.t
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            f = W / delta
            on = f > st.fmin
            d1 = st.w2r - float(np.sum(np.where(on, 2.0 * st.wk * f**3, 0.0)))
            d2 = float(np.sum(np.where(on, 6.0 * st.wk * f**3 / delta, 0.0)))
        return d1, d2

    iterations = 0
    if st.w2r <= 0 or hi <= lo or deriv(hi)[0] <= 0:
        tau = hi
    else:
        a, b = lo, hi
        tau = hi
        for _ in range(MAX_ITER):
            iterations += 1
            d1, d2 = deriv(tau)
            if d1 > 0:
                b = tau
            else:
                a = tau
            if abs(d1) <= RTOL * st.w2r or b - a <= 4e-16 * b:
                break
            nxt = tau - d1 / d2 if d2 > 0 else math.nan
            if not (a < nxt < b):
                nxt = 0.5 * (a + b)
            tau = nxt
    delta = tau - st.t
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.clip(np.maximum(st.fmin, W / delta), st.fmin, st.fmax)
    value = (
        st.wk * float(np.sum(W * f * f)) + st.w2r * tau - st.rho * float(np.sum(st.acc[options]))
    )
    return SP1Solution(
        tau=tau,
        resolution=st.s[options].astype(float),
        frequency=f,
        value=value,
        options=np.asarray(options, np.int64),
        iterations=iterations,
    )


def _relaxed_at(st: _Setup, tau: float, hs: FloatArray, ha: FloatArray):
    r"""Per device: the best continuous resolution at round time ``tau``.

    On each linear piece :math:`j` of :math:`\tilde A` (slope :math:`a_j`) the
    cost's derivative in :math:`s` increases (:math:`2w\kappa W_0 f_{min}^2 s/s_0^2`
    below the clock break :math:`s_f = s_0\sqrt{f_{min}\Delta/W_0}`,
    :math:`6 w\kappa W_0^3 s^5/(s_0^6\Delta^2)` above, with a jump at :math:`s_f`),
    so the piece's minimiser is where it crosses :math:`\rho a_j` (or :math:`s_f`
    inside the jump), clipped to the piece and to :math:`s \le s_{cap}` (the
    clock limit). The best piece wins (one piece for a linear table).

    Returns ``(s, value, d value / d tau, feasible)``.
    """
    n = st.t.size
    delta = tau - st.t
    W0, s0, wk, rho = st.W0, st.s0, st.wk, st.rho
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s_cap = np.minimum(st.s[-1], s0 * np.sqrt(st.fmax * delta / W0))
        s_f = s0 * np.sqrt(st.fmin * delta / W0)
    feasible = (delta > 0) & (s_cap >= st.s[0] * (1 - 1e-15))
    s_cap = np.maximum(s_cap, st.s[0])
    slopes = np.diff(ha) / np.diff(hs) if hs.size > 1 else np.zeros(0)
    false = np.zeros(n, bool)
    if slopes.size == 0:  # one resolution option
        s_best = np.full(n, st.s[0])
        piece = np.zeros(n, np.int64)
        a_best = np.zeros(n)
        moving = false
    else:
        cands, vals, moves = [], [], []
        for j, aj in enumerate(slopes):
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                x1 = rho * aj * s0**2 / (2.0 * wk * W0 * st.fmin**2)
                x2 = (rho * aj * s0**6 * delta**2 / (6.0 * wk * W0**3)) ** 0.2
                at_break = ~(x1 <= s_f) & ~(x2 >= s_f)
                cross = np.where(x1 <= s_f, x1, np.where(x2 >= s_f, x2, s_f))
                cross = np.where(np.isnan(cross), hs[j], cross)
                hi_j = np.minimum(hs[j + 1], s_cap)
                cand = np.clip(cross, hs[j], np.maximum(hi_j, hs[j]))
            # The minimiser moves with tau when it is held by s_cap (the clock limit) or
            # by the clock-regime break s_f, not by a fixed end of the piece.
            capped = (cross > s_cap) & (s_cap < hs[j + 1]) & (s_cap > hs[j])
            held = at_break & (s_f > hs[j]) & (s_f < hi_j)
            cands.append(cand)
            moves.append(capped | held)
            if slopes.size > 1:
                sig = (cand / s0) ** 2
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    f = np.maximum(st.fmin, W0 * sig / delta)
                    v = wk * W0 * sig * f * f - rho * (ha[j] + aj * (cand - hs[j]))
                vals.append(np.where(hs[j] <= s_cap * (1 + 1e-15), v, np.inf))
        if slopes.size == 1:
            piece = np.zeros(n, np.int64)
            s_best, moving = cands[0], moves[0]
        else:
            piece = np.argmin(np.stack(vals, axis=1), axis=1)
            rows = np.arange(n)
            s_best = np.stack(cands, axis=1)[rows, piece]
            moving = np.stack(moves, axis=1)[rows, piece]
        a_best = slopes[piece]
    acc = ha[piece] + a_best * (s_best - hs[piece])
    sig = (s_best / s0) ** 2
    cyc = W0 * sig
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        fb = cyc / delta
        f = np.clip(np.maximum(st.fmin, fb), st.fmin, st.fmax)
        v_best = wk * cyc * f * f - rho * acc
        # d value / d tau: the envelope theorem at a fixed minimiser; where the minimiser
        # rides on s_cap or s_f (sigma proportional to delta), the total derivative.
        dv = np.where(fb > st.fmin, -2.0 * wk * fb**3, 0.0)
        dv = np.where(moving, wk * f**3 - rho * a_best * s_best / (2.0 * delta), dv)
    return s_best, np.where(feasible, v_best, np.inf), dv, feasible


def _convex_min(g, lo: float, hi: float, start: float | None, rtol: float):
    """Minimise a convex function of ``tau`` on ``[lo, hi]`` from its derivative.

    ``g(tau) -> (derivative, value, payload)``. Illinois (a bracketed secant) on
    the non-decreasing derivative in ``y = log(tau - lo + eps)``, where it is
    closer to linear; from a bracket around ``start`` when one is given. The
    derivative may jump (a device crossing a clock-regime break), so convergence
    is judged by the value: by convexity, a bracket ``[a, b]`` with derivatives
    ``g_a < 0 < g_b`` cannot hide a value more than ``(b - a) max(-g_a, g_b)``
    below the best end.
    Returns ``(tau, payload, evaluations)``.
    """
    evals = 0

    def call(t: float):
        nonlocal evals
        evals += 1
        return g(t)

    ghi, fhi, phi_ = call(hi)
    if ghi <= 0:
        return hi, phi_, evals
    a = b = None
    if start is not None and lo < start < hi:
        # A hair's breadth first: after an SP2 pass the optimum often sits exactly at
        # the previous round time (a kink where many devices reach f_min together).
        step = 1e-11 * start
        left, right = max(lo, start - step), min(hi, start + step)
        gl, fl, pl = call(left)
        gr, fr, pr = (ghi, fhi, phi_) if right == hi else call(right)
        for i in range(40):
            if gl < 0 < gr or (gl <= 0 and left == lo) or (gr >= 0 and right == hi):
                break
            step = 1e-3 * start if i == 0 else 8.0 * step
            if gl >= 0:
                right, gr, fr, pr = left, gl, fl, pl
                left = max(lo, start - step)
                gl, fl, pl = call(left)
            else:
                left, gl, fl, pl = right, gr, fr, pr
                right = min(hi, start + step)
                gr, fr, pr = (ghi, fhi, phi_) if right == hi else call(right)
        if gl >= 0 and left == lo:
            return lo, pl, evals
        if gl < 0 < gr:
            a, b = (left, gl, fl, pl), (right, gr, fr, pr)
    if a is None:
        glo, flo, plo = call(lo)
        if glo >= 0:
            return lo, plo, evals
        a, b = (lo, glo, flo, plo), (hi, ghi, fhi, phi_)
    # log(t - off) must be finite at t = lo: a bracket narrower than lo's rounding
    # (fuzz: lo = 1e5, hi - lo = 1e-12) would put off at lo itself.
    off = lo - max(1e-9 * (hi - lo), 4.0 * math.ulp(abs(lo)), 1e-300)
    (ta, ga, fa, pa), (tb, gb, fb, pb) = a, b
    ya, yb = math.log(ta - off), math.log(tb - off)
    side = 0
    widths = [tb - ta]
    for _ in range(MAX_ITER):
        best = (ta, pa) if fa <= fb else (tb, pb)
        if (tb - ta) * max(-ga, gb) <= rtol * max(1.0, abs(min(fa, fb))) or tb - ta <= 4e-16 * tb:
            return best[0], best[1], evals
        y = (ya * gb - yb * ga) / (gb - ga)
        # A jump in the derivative stalls the secant: bisect when three steps have not
        # halved the bracket (Dekker's safeguard).
        if not (ya < y < yb) or (len(widths) >= 3 and widths[-1] > 0.5 * widths[-3]):
            y = 0.5 * (ya + yb)
        t = off + math.exp(y)
        gt, ft, pt = call(t)
        if gt == 0:
            return t, pt, evals
        if gt > 0:
            yb, tb, gb, fb, pb = y, t, gt, ft, pt
            if side == 1:
                ga *= 0.5
            side = 1
        else:
            ya, ta, ga, fa, pa = y, t, gt, ft, pt
            if side == -1:
                gb *= 0.5
            side = -1
        widths.append(tb - ta)
    best = (ta, pa) if fa <= fb else (tb, pb)
    return best[0], best[1], evals


def relaxed(problem, upload_time: FloatArray, *, start: float | None = None) -> SP1Solution:
    """SP1_v1 (18) solved exactly: continuous resolutions, every bound respected.

    ``start`` is a round time near the optimum (a warm start). Raises
    ``ValueError`` when even the lowest resolution at ``f_max`` cannot meet the
    deadline.
    """
    st = _Setup(problem, upload_time)
    hs, ha = concave_majorant(st.s.astype(float), st.acc.astype(float))
    lo = float(np.max(st.t + st.W[:, 0] / st.fmax))
    top = float(np.max(st.t + st.W[:, -1] / st.fmin))
    hi = min(st.cap, top)
    if lo > st.cap * (1 + 1e-12):
        raise ValueError("the lowest resolution cannot meet the deadline")
    lo = min(lo, hi)

    def g(tau: float):
        res = _relaxed_at(st, tau, hs, ha)
        return st.w2r + float(np.sum(res[2])), st.w2r * tau + float(np.sum(res[1])), res

    if st.w2r <= 0 or hi <= lo:
        tau, res, iterations = hi, _relaxed_at(st, hi, hs, ha), 1
    else:
        tau, res, iterations = _convex_min(g, lo, hi, start, 1e-14)
    s_best, v_best, _, _ = res
    delta = tau - st.t
    sig = (s_best / st.s0) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.clip(np.maximum(st.fmin, st.W0 * sig / delta), st.fmin, st.fmax)
    value = st.w2r * tau + float(np.sum(v_best))
    return SP1Solution(tau=tau, resolution=s_best, frequency=f, value=value, iterations=iterations)


def round_nearest(problem, upload_time: FloatArray, resolution: FloatArray) -> IntArray:
    """Rounding (20): the nearest option, ties to the lower one.

    Where the rounded-up option cannot meet the deadline even at ``f_max``,
    the next lower option is taken (FLMAR.md section 5.1, step 2).
    """
    s = problem.resolutions.astype(float)
    x = np.asarray(resolution, dtype=float)
    up = np.clip(np.searchsorted(s, x, side="left"), 0, s.size - 1)
    down = np.clip(up - 1, 0, s.size - 1)
    take_up = (s[up] - x) < (x - s[down])  # strictly nearer above; ties go down
    k = np.where(take_up, up, down)
    k = np.where(np.abs(s[up] - x) <= 1e-9 * s[up], up, k)
    cap = problem.round_limit
    if math.isfinite(cap):
        W = problem.cycles_per_round[:, None] * problem.cycle_factors[None, :]
        fits = np.asarray(upload_time)[:, None] + W / problem.frequency_max[:, None] <= cap
        for _ in range(s.size):
            bad = ~fits[np.arange(k.size), k] & (k > 0)
            if not bad.any():
                break
            k = np.where(bad, k - 1, k)
    return k.astype(np.int64)


def discrete(
    problem, upload_time: FloatArray, *, rtol: float = 1e-13, seed_tau: float | None = None
) -> SP1Solution:
    """SP1 with discrete resolutions, to global optimality (FLMAR.md section 5.2).

    For a fixed round time SP1 separates per device (the best option of each);
    every option's cost is convex and non-increasing in :math:`\\tau`, so the
    branch and bound of :func:`~._taubb.minimise_over_tau` certifies the
    minimum over :math:`\\tau` to ``rtol``.
    """
    st = _Setup(problem, upload_time)
    n = st.t.size
    lo = float(np.max(st.t + st.W[:, 0] / st.fmax))
    top = float(np.max(st.t + st.W[:, -1] / st.fmin))
    hi = min(st.cap, top)
    if lo > st.cap * (1 + 1e-12):
        raise ValueError("the lowest resolution cannot meet the deadline")
    lo = min(lo, hi)
    acc = st.rho * st.acc[None, :]

    def evaluate(tau: float) -> Point:
        delta = (tau - st.t)[:, None]
        feas = st.fmax[:, None] * delta * (1 + 1e-15) >= st.W
        val, der = st.cost(st.W, delta)
        values = np.where(feas, val - acc, np.inf)
        slopes = np.where(feas, der, 0.0)
        best = np.min(values, axis=1)
        return Point(
            tau=tau,
            value=st.w2r * tau + float(np.sum(best)),
            const=0.0,
            values=values,
            slopes=slopes,
        )

    if hi <= lo or st.w2r <= 0:
        pt = evaluate(hi)
        search_best, evals = pt, 1
    else:
        seeds = (seed_tau,) if seed_tau is not None else ()
        scale = max(1.0, abs(evaluate(hi).value))
        out = minimise_over_tau(evaluate, lo, hi, st.w2r, atol=rtol * scale, seeds=seeds)
        search_best, evals = out.best, out.evaluations
    k = search_best.choice
    sol = fixed(problem, upload_time, k)
    if sol.value > search_best.value + rtol * max(1.0, abs(search_best.value)):
        # the re-solve cannot be worse than the point found; keep the point
        tau = search_best.tau
        delta = tau - st.t
        W = st.W[np.arange(n), k]
        f = np.clip(np.maximum(st.fmin, W / delta), st.fmin, st.fmax)
        return SP1Solution(tau, st.s[k].astype(float), f, search_best.value, k, evals)
    return dataclasses.replace(sol, iterations=evals)
