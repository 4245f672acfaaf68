r"""The continuous relaxation of P1/P7: batches real in :math:`[\ell_k, B^{max}]`.

Fix the uplink round time :math:`T` (the paper's :math:`\Delta L\,E^U`). With
frame shares :math:`r_k`, device :math:`k` finishes in time iff
:math:`t_k(b_k) + w_k / r_k \le T`, so the most samples the round can hold is

.. math:: N_c(T) = \max \Bigl\{\sum_k b_k :
          \sum_k \frac{w_k}{T - t_k(b_k)} \le 1,\ \ell_k \le b_k \le B^{max}\Bigr\}.

The feasible set :math:`\{(b, T)\}` is convex (:math:`w/(T - t(b))` is jointly
convex: a convex decreasing function of the concave :math:`T - t(b)`), so
:math:`N_c` is concave and :math:`\sqrt{N_c(T)}/(T + T_D)` is quasi-concave
(the downlink time :math:`T_D` does not depend on the batches: Theorem 2).

For fixed :math:`T` the KKT conditions give Theorem 1 (eq. (22)): with
:math:`x_k = T - t_k(b_k)` the time left for the upload and :math:`\nu` the
multiplier of (17b), an unclipped device has :math:`1 = \nu w_k \sigma_k / x_k^2`,
i.e. :math:`x_k = \rho\,\sqrt{w_k \sigma_k}` with :math:`\rho = \sqrt\nu`
(the paper's :math:`(\Delta L s T_f \mu / (\rho_k R_k))^{1/2}` up to the scale
of :math:`\mu`), clipped where :math:`b_k` hits :math:`\ell_k` or
:math:`B^{max}`. :math:`\rho` is the root of the monotone time-sharing
equation (Brent's method on :math:`\log\rho`).

The outer problem is one-dimensional (the paper's search over :math:`B`; we
search :math:`T`, which is in one-to-one correspondence with
:math:`B = N_c(T)`). By the envelope theorem :math:`N_c'(T) = \nu \sum_k
w_k / x_k^2`, and the optimum is the root of the decreasing function
:math:`G(T) = N_c'(T)(T + T_D) - 2 N_c(T)` (stationarity of
:math:`\log N_c - 2\log(T + T_D)`), found by Newton's method with the exact
slope of the current split of the devices, safeguarded by bisection
(:meth:`Continuous._newton`; about a third fewer evaluations of :meth:`Continuous.at`
than Brent's method), from the round time predicted by Newton's method on the
time sharing and stationarity at once (:meth:`Continuous._predict`, no inner
root), where the search usually stops at its first evaluation.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from ..errors import SolverError
from ._model import Devices, water_fill

__all__ = ["Continuous", "RelaxedPoint"]

FloatArray = NDArray[np.float64]
_EPS = np.finfo(float).eps
# The ufuncs' own reductions: ndarray.sum() and friends add a Python-level wrapper
# that costs as much as the sum itself on a few dozen devices (same pairwise sum).
_sum, _max, _min = np.add.reduce, np.maximum.reduce, np.minimum.reduce


@dataclasses.dataclass(frozen=True)
class RelaxedPoint:
    r"""The continuous optimum of the uplink sub-problem at round time ``T``.

    ``batch`` (real), ``x`` (time left for the upload, ``T - t_k(b_k)``),
    ``rho`` (:math:`\sqrt\nu`, 0 when every device is at ``B^max`` with room
    to spare), ``total`` (:math:`N_c(T)`) and ``slope`` (:math:`N_c'(T)`).
    """

    T: float
    batch: FloatArray
    x: FloatArray
    rho: float
    total: float
    slope: float


def _share_root(
    w: FloatArray,
    a: FloatArray,
    wa: FloatArray,
    x_hi: FloatArray,
    x_lo: FloatArray,
    lo: float,
    hi: float,
    start: float | None = None,
) -> float:
    r"""The root :math:`\rho` of :math:`\sum_k w_k/\mathrm{clip}(\rho a_k, x^{hi}_k, x^{lo}_k) = 1`.

    In :math:`u = 1/\rho` every term is a ramp (constant, linear in :math:`u`
    with slope ``wa`` :math:`= w_k/a_k`, constant), so the left side is
    piecewise linear and increasing in :math:`u`: Newton's method is exact on
    the piece that holds the root and moves piece to piece otherwise,
    safeguarded by bisection of the bracket ``[lo, hi]`` (frame over-used at
    ``lo``, within it at ``hi``). ``start`` (a nearby root) warm-starts it. The
    result is on the feasible side.
    """
    u_lo, u_hi = 1.0 / hi, 1.0 / lo  # use <= 1 at u_lo, > 1 at u_hi
    u = 1.0 / start if start is not None and u_lo < 1.0 / start < u_hi else math.sqrt(u_lo * u_hi)
    y = np.empty_like(a)
    x = np.empty_like(a)
    for _ in range(300):
        np.multiply(a, 1.0 / u, out=y)
        np.minimum(np.maximum(y, x_hi, out=x), x_lo, out=x)
        excess = float(np.dot(w, 1.0 / x)) - 1.0
        if excess <= 0:
            u_lo = u
        else:
            u_hi = u
        if u_hi <= u_lo * (1 + 4 * _EPS):
            break
        slope = float(np.dot(wa, x == y))  # the free devices: not clipped
        nxt = u - excess / slope if slope > 0 else math.nan
        if excess <= 0 and nxt - u <= 8 * _EPS * u:
            break  # feasible and within rounding of the root
        if not u_lo < nxt < u_hi:
            nxt = 0.5 * (u_lo + u_hi) if u_hi < 4 * u_lo else math.sqrt(u_lo * u_hi)
        if nxt == u:
            break
        u = nxt
    return 1.0 / u_lo


class Continuous:
    """Continuous relaxation of the uplink problem for one :class:`Devices`."""

    def __init__(self, dev: Devices) -> None:
        self.dev = dev
        self.a = np.sqrt(dev.w * dev.slope)
        self.wa = dev.w / self.a
        self._s_all = float(self.wa.sum())  # the root if no device were clipped
        self.low = dev.low
        #: ``b_k = c_k + (T - x_k) v_k`` (eq. (9) / (27) solved for the batch)
        self.v = 1.0 / dev.slope
        self.c = dev.threshold - dev.base * self.v
        self._c_sum, self._v_sum = float(_sum(self.c)), float(_sum(self.v))
        self.t_low = dev.compute_time(self.low)
        self.t_max = dev.compute_time(float(dev.bmax))
        #: Smallest round time at which every device fits its smallest batch.
        self.t_min = water_fill(self.t_low, dev.w)[0]
        # t_full >= each t_max + w and >= min(t_max) + sum(w) (the water-filling's start):
        # below that floor every round time is inside, and optimum() needs t_full only
        # where its search goes above it (computed then, once: a water-filling saved)
        self._t_full_floor = max(
            float(_max(self.t_max + dev.w)), float(_min(self.t_max)) + float(_sum(dev.w))
        )
        self._rho: float | None = None  # last root, a warm start for the next

    @functools.cached_property
    def t_full(self) -> float:
        """Smallest round time at which every device fits ``B^max``."""
        return water_fill(self.t_max, self.dev.w)[0]

    # ------------------------------------------------------------ fixed T
    def at(self, T: float, *, inside: bool = False) -> RelaxedPoint | None:
        """The continuous optimum at round time ``T`` (``None`` below :attr:`t_min`).

        ``inside``: the caller knows ``t_min < T < t_full`` (the search of
        :meth:`optimum`), so the two feasibility tests are skipped and the
        root is first tried in closed form (:meth:`_split_root`).
        """
        got = self._at(T, inside)
        return None if got is None else got[0]

    def _at(
        self, T: float, inside: bool
    ) -> tuple[RelaxedPoint, FloatArray | None, FloatArray | None] | None:
        """:meth:`at`, plus ``1/x`` and ``w/x`` of the point (``None`` where ``rho = 0``)."""
        dev = self.dev
        w, a = dev.w, self.a
        x_lo = T - self.t_low  # largest x: batch at its lower bound
        x_hi = T - self.t_max  # smallest x: batch at B^max (no clip when <= 0)
        if not inside:
            if _min(x_lo) <= 0 or float(np.dot(w, 1.0 / x_lo)) > 1.0:
                return None
            if _min(x_hi) > 0 and float(np.dot(w, 1.0 / x_hi)) <= 1.0:
                return self._point(T, 0.0, x_hi), None, None
        # within the search of optimum() the split rarely changes between two steps
        if inside:
            rho, arrays = self._split_root(x_hi, x_lo)
        else:
            rho, arrays = (self._s_all if self._rho is None else self._rho), None
        if arrays is None:  # rho only starts the iterative root
            rho_hi = float(_max(x_lo / a))  # every device at its lower bound: feasible
            # one candidate per device: x_hi / a where B^max is reachable, else w / a
            cands = np.where(x_hi > 0, x_hi, w) / a
            rho_lo = 0.5 * float(_min(cands))  # frame over-used there (see the module notes)
            rho = _share_root(w, a, self.wa, x_hi, x_lo, rho_lo, rho_hi, rho)
            x = np.minimum(np.maximum(rho * a, x_hi), x_lo)
            inv = 1.0 / x
            arrays = x, inv, w * inv
        x, inv, wi = arrays
        self._rho = rho
        return self._point(T, rho, x, inv, wi), inv, wi

    def _split_root(
        self, x_hi: FloatArray, x_lo: FloatArray
    ) -> tuple[float, tuple[FloatArray, FloatArray, FloatArray] | None]:
        r"""The root :math:`\rho` in closed form, if the last root's split still holds.

        With the devices split as at the last root :math:`\rho_0` (free where
        :math:`x^{hi}_k < \rho_0 a_k < x^{lo}_k`, clipped elsewhere), the
        time-sharing equation reads :math:`Q + S/\rho = 1` with :math:`Q` the
        clipped devices' :math:`\sum w_k/x_k` and :math:`S = \sum_{free} w_k/a_k`:
        :math:`\rho = S/(1 - Q)`, exact when the split is unchanged. Accepted
        when the equation holds on its feasible side within ``64 eps``
        (stepped up by a few ulps where rounding left it a hair over the
        frame). One evaluation instead of the two or more Newton steps of the
        search. Returns :math:`\rho` and ``(x, 1/x, w/x)`` when accepted, else
        ``(start, None)``: where :func:`_share_root` should start (the old
        split's root at this ``T`` when the split changed, else the last root,
        or :math:`\sum_k w_k / a_k`, the root with no device clipped).
        """
        rho0 = self._rho
        if rho0 is None:
            return self._s_all, None
        w, a = self.dev.w, self.a
        y = rho0 * a
        x0 = np.minimum(np.maximum(y, x_hi), x_lo)
        free = x0 == y
        s = float(np.dot(self.wa, free))
        if not s > 0:
            return rho0, None
        q = float(np.dot(w, np.where(free, 0.0, 1.0 / x0)))
        if not q < 1.0:
            return rho0, None
        rho = s / (1.0 - q)
        for _ in range(4):
            x = np.minimum(np.maximum(rho * a, x_hi), x_lo)
            inv = 1.0 / x
            wi = w * inv
            excess = float(_sum(wi)) - 1.0
            if excess <= 0.0:
                if excess >= -64 * _EPS:
                    return rho, (x, inv, wi)
                break
            if excess > 64 * _EPS:
                break
            rho *= 1.0 + 2.0 * excess + 4 * _EPS
        return rho, None  # the split changed: the old split's root starts the search

    def _point(
        self,
        T: float,
        rho: float,
        x: FloatArray,
        inv: FloatArray | None = None,
        wi: FloatArray | None = None,
    ) -> RelaxedPoint:
        """The point at ``T``, upload times ``x`` (``inv = 1/x``, ``wi = w/x`` where rho > 0)."""
        b = np.minimum(np.maximum(self.c + (T - x) * self.v, self.low), float(self.dev.bmax))
        slope = rho * rho * float(np.dot(wi, inv)) if rho and wi is not None else 0.0
        return RelaxedPoint(T=T, batch=b, x=x, rho=rho, total=float(_sum(b)), slope=slope)

    def ratio(self, T: float, t_down: float) -> float:
        r""":math:`\sqrt{N_c(T)} / (T + T_D)` (the efficiency bound without :math:`\xi`)."""
        if self.t_full <= T:
            return math.sqrt(self.dev.k * self.dev.bmax) / (T + t_down)
        pt = self.at(T)
        if pt is None:
            return 0.0
        return math.sqrt(pt.total) / (T + t_down)

    # ------------------------------------------------------------ optimum
    def optimum(self, t_down: float) -> RelaxedPoint:
        """The continuous optimum over ``T`` (equivalently over ``B``): root of ``G``.

        ``G`` decreases on ``(t_min, t_full)``. Its root is found by
        :meth:`_newton`, which evaluates an end of the interval only when an
        iterate would leave through it (a point with ``G > 0`` already proves
        ``G(t_min) > 0``, one with ``G < 0`` proves ``G(t_full) < 0``): where
        ``G(t_min) <= 0`` the optimum is ``t_min``, where ``G(t_full) >= 0`` it
        is the corner with every batch at ``B^max``.
        """
        lo = self.t_min * (1 + 1e-13)
        floor = self._t_full_floor * (1 - 1e-13)
        lazy = floor > lo
        hi = floor if lazy else self.t_full * (1 - 1e-13)
        if hi <= lo:  # every batch already at its upper bound at t_min
            return self._full()
        extend = (lambda: self.t_full * (1 - 1e-13)) if lazy else None
        start = self.guess(t_down)
        if not lo < start < hi:
            start = 0.5 * (lo + hi)
        start = self._predict(start, t_down, lo, hi) or start
        pt = self._newton(lo, hi, start, t_down, extend)
        if pt is None:  # G(t_full) >= 0: the corner
            return self._full()
        # Near t_full the multiplier tends to 0 and G's sign is rounding: a root found
        # a hair below t_full (total 174.9997 of 175) can be worse than the corner where
        # every batch is B^max (found by the fuzz campaign, 57 of 10,000 instances, up to
        # 7.9e-7 relative). The corner is a candidate of the same problem: keep the better
        # (its ratio is at most sqrt(K B^max) / (floor + T_D): often settled without t_full).
        mine = math.sqrt(pt.total) / (pt.T + t_down)
        full = math.sqrt(self.dev.k * float(self.dev.bmax))
        if full / (self._t_full_floor + t_down) > mine and full / (self.t_full + t_down) > mine:
            return self._full()
        return pt

    def _full(self) -> RelaxedPoint:
        """The corner where every batch is ``B^max``, at its water-filled round time.

        Built directly (batches ``B^max``, the slots of the water-filling that
        defines :attr:`t_full`), not by :meth:`at` just above ``t_full``: there
        the slots are so tight that one rounding of ``T`` moves the batches by
        up to 1e-6 relative.
        """
        dev = self.dev
        T = self.t_full
        x = np.maximum(T - self.t_max, 0.0)
        b = np.full(dev.k, float(dev.bmax))
        return RelaxedPoint(T=T, batch=b, x=x, rho=0.0, total=float(b.sum()), slope=0.0)

    def _g(self, T: float, t_down: float) -> tuple[float, RelaxedPoint | None]:
        """``G(T)`` and the point at ``T`` (``t_min < T < t_full``)."""
        g, _, _, pt = self._g_newton(T, t_down)
        return g, pt

    def _g_newton(self, T: float, t_down: float) -> tuple[float, float, float, RelaxedPoint | None]:
        """``G(T)``, ``G'(T)``, the Newton step of :meth:`_newton` (nan if none) and the point."""
        got = self._at(T, True)
        if got is None:  # pragma: no cover - T above t_min
            return math.inf, math.nan, math.nan, None
        pt, inv, wi = got
        n1 = pt.slope
        g = n1 * (T + t_down) - 2.0 * pt.total
        g1 = step = math.nan
        if pt.rho > 0 and inv is not None and wi is not None:
            clip = pt.x != pt.rho * self.a  # x = clip(rho a, x_hi, x_lo): clipped ones moved
            s = float(np.dot(self.wa, ~clip))
            if s > 0:
                wc = np.where(clip, wi * inv, 0.0)
                d = float(_sum(wc))
                e = float(np.dot(wc, inv))
                n2 = -2.0 * pt.rho * pt.rho * (e + d * d * pt.rho / s)
                g1 = n2 * (T + t_down) - n1
                den = g1 * n1 - g * n2  # H' N_c'^2
                if den < 0:
                    step = -g * n1 / den
                elif g1 < 0:
                    step = -g / g1
        return g, g1, step, pt

    def _newton(
        self,
        a: float,
        b: float,
        start: float,
        t_down: float,
        extend: Callable[[], float] | None = None,
    ) -> RelaxedPoint | None:
        r"""The point at the root of the decreasing ``G`` on ``[a, b]``; ``None`` if ``G(b) >= 0``.

        Newton's method on :math:`H = G / N_c' = T + T_D - 2 N_c / N_c'` (same
        sign and root as ``G``; linear where no batch is clipped, so that one
        step there is exact, like :meth:`guess`), safeguarded by bisection: at
        each point the derivatives are exact for the current split of the
        devices (free ones at :math:`x_k = \rho a_k`, clipped ones at a fixed
        batch): with :math:`D = \sum_{clip} w_k/x_k^2`, :math:`E = \sum_{clip}
        w_k/x_k^3`, :math:`S = \sum_{free} w_k/a_k` and :math:`r = \rho / S = 1/(1
        - Q)`, :math:`N_c'' = -2\rho^2 (E + D^2 r)`, :math:`G' = N_c''(T + T_D) -
        N_c'` and :math:`H' = (G' N_c' - G N_c'') / N_c'^2` (Newton on ``G``
        where :math:`H' \ge 0`). On the bench's fleets this takes 78 evaluations
        of :meth:`at` over 15 instances where Newton on ``G`` took 94. A step
        that leaves the bracket bisects it instead. Stops at a relative ``4
        eps``, or when the step would gain less than 1e-18 of the objective
        (below). The ends ``a`` and ``b`` are evaluated only when a step would
        leave through an end whose sign no evaluation has settled yet
        (``G(a) <= 0``: the point at ``a``). ``extend``: ``b`` is only a floor
        of the domain's end, and ``extend()`` gives the end itself, called the
        first time a step would leave through ``b``.
        """
        a_known = b_known = False  # the sign of G at a (> 0) and at b (< 0) settled
        pt_a: RelaxedPoint | None = None
        pt_b: RelaxedPoint | None = None
        T = start if a < start < b else 0.5 * (a + b)
        for _ in range(300):
            g, g1, step, pt = self._g_newton(T, t_down)
            if pt is None:  # pragma: no cover - T above t_min
                a, a_known = T, True
                T = 0.5 * (a + b)
                continue
            if g > 0:
                a, a_known, pt_a = T, True, pt
            elif g < 0:
                b, b_known, pt_b = T, True, pt
            else:
                return pt
            if a_known and b_known and b - a <= 4 * _EPS * b:
                return pt_b
            nxt = T + step
            if abs(step) <= 4 * _EPS * T:
                return pt  # a Newton step below rounding: T is the root
            # The objective log N_c - 2 log(T + T_D) is stationary at the root: a step to it
            # gains about G^2 / (2 N_c (T + T_D) |G'|) of it (relative). Below 1e-18, a
            # hundredth of its rounding, this point is the optimum: one evaluation fewer.
            if g1 < 0 and g * g <= 2e-18 * pt.total * (T + t_down) * -g1:
                return pt
            if not (a < nxt < b):
                if not a_known and not nxt > a:  # leaving through a: settle its sign
                    g_a, pt_a = self._g(a, t_down)
                    if g_a <= 0:
                        return pt_a
                    a_known = True
                elif not b_known and not nxt < b:  # leaving through b
                    if extend is not None:  # b was a floor of the end: move it there
                        b, extend = max(b, extend()), None
                        if nxt < b:
                            T = nxt
                            continue
                    g_b, pt_b = self._g(b, t_down)
                    if g_b >= 0:
                        return None
                    b_known = True
                nxt = 0.5 * (a + b)
            T = nxt
        return pt_b if pt_b is not None else pt  # pragma: no cover - bisection ends earlier

    def _predict(self, T: float, t_down: float, lo: float, hi: float) -> float | None:
        r"""A close guess of the optimum's round time: Newton's method on both conditions at once.

        The optimum solves two equations in :math:`(T, u = 1/\rho)`: the time
        sharing :math:`F = \sum_k w_k/x_k - 1 = 0` with :math:`x_k =
        \mathrm{clip}(a_k/u, x^{hi}_k, x^{lo}_k)`, and stationarity :math:`G =
        N'(T + T_D) - 2N = 0` with :math:`N' = V + \rho^2 D` (envelope theorem;
        :math:`V = \sum_{free} 1/\sigma_k = \sum_{free} w_k/a_k^2`, :math:`D =
        \sum_{clip} w_k/x_k^2`) and :math:`N = \sum_k b_k`. For the current split
        their Jacobian is exact: :math:`F_T = -D`, :math:`F_u = S = \sum_{free}
        w_k/a_k`, :math:`N_T = V`, :math:`N_u = \rho^2 S` (for a free device
        :math:`a_k/\sigma_k = w_k/a_k`), :math:`G_T = \rho^2 (D - 2E(T + T_D)) - V`
        with :math:`E = \sum_{clip} w_k/x_k^3`, :math:`G_u = -2\rho^2(\rho D(T +
        T_D) + S)`. Each step costs less than half an evaluation of :meth:`_at`
        (no inner root, no point built); on the bench's K = 30 fleet 5 steps replace
        5 evaluations and 3 inner roots.

        Only a guess: it returns the round time (and leaves its :math:`\rho` as the
        warm start of :meth:`_split_root`), and :meth:`_newton` evaluates it exactly
        and applies its own stopping rule and safeguards to it (on the bench's
        fleets it stops there at once). ``None`` where a step would leave ``(lo,
        hi)`` after halving, or the Jacobian is singular.
        """
        dev = self.dev
        w, a, wa, v = dev.w, self.a, self.wa, self.v
        t_low, t_max = self.t_low, self.t_max
        c_sum, v_sum = self._c_sum, self._v_sum
        rho = self._s_all if self._rho is None else self._rho
        u = 1.0 / rho
        for _ in range(40):
            y = a * rho
            x = np.minimum(np.maximum(y, T - t_max), T - t_low)
            free = x == y
            inv = 1.0 / x
            wi = w * inv
            f = float(_sum(wi)) - 1.0
            s = float(np.dot(wa, free))
            vf = float(np.dot(v, free))
            wc = np.where(free, 0.0, wi * inv)
            d = float(_sum(wc))
            e = float(np.dot(wc, inv))
            # sum of b = c + (T - x) v: within [low, B^max] for the free devices, and at
            # low or B^max (to rounding) for the clipped ones
            n = c_sum + T * v_sum - float(np.dot(x, v))
            r2 = rho * rho
            tt = T + t_down
            g = (vf + r2 * d) * tt - 2.0 * n
            g_t = r2 * (d - 2.0 * e * tt) - vf
            g_u = -2.0 * r2 * (rho * d * tt + s)
            det = -d * g_u - s * g_t
            if not det:
                return None
            d_t = (s * g - f * g_u) / det
            d_u = (d * g + g_t * f) / det
            step = 1.0
            while not (lo < T + step * d_t < hi and u + step * d_u > 0.0):
                step *= 0.5
                if step < 1e-3:
                    return None
            T += step * d_t
            u += step * d_u
            rho = 1.0 / u
            if step == 1.0 and abs(d_t) <= 1e-6 * T:  # quadratic: the step just taken is exact
                self._rho = rho
                return T
        return None

    def guess(self, t_down: float) -> float:
        r"""The optimum if no batch were clipped: :math:`T = T_D - 2(C_0 - S^2)/\sum_k V_k`.

        Unclipped, Theorem 1 gives :math:`N_c(T) = T \sum V + C_0 - S^2` with
        :math:`V_k = 1/\sigma_k`, :math:`C_0 = \sum_k (\vartheta_k - \beta_k V_k)`,
        :math:`S = \sum_k \sqrt{w_k V_k}` (Corollary 1's lower bound, eq. (43)),
        and :math:`G = 0` there. Only a starting point.
        """
        s = self._s_all  # sum_k w_k / a_k = sum_k sqrt(w_k V_k)
        return t_down - 2.0 * (self._c_sum - s * s) / self._v_sum

    def _fail(self) -> RelaxedPoint:  # pragma: no cover - defensive
        raise SolverError("continuous relaxation: no feasible round time found")

    def level_set(self, level: float, t_down: float, peak: RelaxedPoint) -> tuple[float, float]:
        """``[Ta, Tb]``, the round times where the bound ``ratio(T)`` is at least ``level``.

        The bound is quasi-concave with its maximum at ``peak.T``, so the set is
        an interval. Each end is bracketed by steps out of ``peak.T`` that grow
        fourfold from the width a quadratic peak would have, then found by
        Brent's method (to 1e-12 relative: the callers widen the interval).
        """
        t_c = peak.T
        top = self.ratio(t_c, t_down)
        f = lambda T: self.ratio(T, t_down) - level  # noqa: E731
        step = 2.0 * math.sqrt(max(1.0 - level / top, 0.0)) + 1e-9 if top > 0 else 1.0

        def end(sign: float, limit: float) -> float:
            inner, width = t_c, step
            while True:
                t = t_c * (1 + sign * width)
                if (t - limit) * sign >= 0:  # reached the end of the domain
                    t = limit
                    if f(t) >= 0:
                        return t
                    break
                if f(t) < 0:
                    break
                inner, width = t, 4 * width
            a, b = (t, inner) if sign < 0 else (inner, t)
            return brentq(f, a, b, xtol=1e-12 * t_c, rtol=1e-12, maxiter=300)

        ta = end(-1.0, self.t_min)
        full = math.sqrt(self.dev.k * self.dev.bmax)
        if t_c >= self.t_full or f(self.t_full) >= 0:
            tb = max(full / level - t_down, t_c)
        else:
            tb = end(+1.0, self.t_full)
        return ta, tb
