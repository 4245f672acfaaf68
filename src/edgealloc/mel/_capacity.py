"""Per-device capacities of a ``mel`` problem, vectorised.

For a fixed number of local iterations ``tau`` the constraints of problem
(12)/(16) decouple per device: device ``k`` can take at most

* ``D_k(tau)``: the largest integer ``n`` with ``c0 + (c2 tau + c1) n <= T`` and
  ``g0 + (g2 tau + g1) n <= E_k`` (integer problem), or
* ``g_k(tau) = min((T - c0)/(c2 tau + c1), (E_k - g0)/(g2 tau + g1))``
  (continuous relaxation),

both non-increasing in ``tau``. Everything the solvers do rests on these two
functions, so they live here, in one place.

Comparisons are float-consistent: ``largest_n`` returns the largest ``n`` for
which the same floating-point expression ``base + slope * n`` is ``<= limit``,
and limits carry a relative slack of ``SOLVER_RTOL`` so that an allocation
sitting exactly on a constraint (e.g. integer coefficients) is accepted.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ValidationError
from .problem import MelProblem

__all__ = ["SOLVER_RTOL", "TAU_MAX", "Capacities", "largest_n"]

#: Relative slack solvers allow on ``t_k <= T`` and ``e_k <= E_k`` (evaluate allows 1e-9).
SOLVER_RTOL = 1e-12
#: Largest number of local iterations edgealloc represents exactly (float64 integers).
TAU_MAX = 2.0**52

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def largest_n(base: ArrayLike, slope: ArrayLike, limit: ArrayLike, cap: ArrayLike) -> IntArray:
    """Largest integer ``n <= cap`` with ``base + slope * n <= limit``; -1 if none.

    ``slope`` may be 0 (then ``n`` is ``cap`` or -1). Vectorised and exact in
    the sense that the returned ``n`` satisfies the float inequality and
    ``n + 1`` (when ``<= cap``) does not.
    """
    base, slope, limit, cap = np.broadcast_arrays(
        np.asarray(base, float),
        np.asarray(slope, float),
        np.asarray(limit, float),
        np.asarray(cap, float),
    )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        q = np.where(slope > 0, np.floor((limit - base) / slope), np.where(base <= limit, cap, -1))
    q = np.clip(np.nan_to_num(q, nan=-1.0, posinf=cap, neginf=-1.0), -1.0, cap)
    up = (q < cap) & (base + slope * (q + 1) <= limit)
    q = q + up
    down = (q >= 0) & (base + slope * q > limit)
    q = q - down
    # The quotient can be far off when base + slope * n absorbs slope * n (base / slope
    # beyond 2**53): then n + 1 may still fit, or n not. The float expression is
    # monotone in n, so bisect those entries to the exact answer.
    more = (q < cap) & (base + slope * (q + 1) <= limit)
    less = (q >= 0) & (base + slope * q > limit)
    if more.any() or less.any():
        shape = q.shape
        q, more, less = (np.atleast_1d(x).copy() for x in (q, more, less))
        b, s, lim = (np.atleast_1d(x) for x in (base, slope, limit))
        top = np.atleast_1d(cap) + 1
        for mask, lo, hi in ((more, q + 1, top), (less, np.full_like(q, -1.0), q.copy())):
            if mask.any():
                q[mask] = _bisect_fit(b[mask], s[mask], lim[mask], lo[mask], hi[mask])
        q = q.reshape(shape)
    return q.astype(np.int64)


def _bisect_fit(base, slope, limit, lo, hi):
    """Largest ``n`` in ``[lo, hi)`` with ``base + slope * n <= limit``; ``lo`` fits (or is -1)."""
    while True:
        wide = hi - lo > 1
        if not wide.any():
            return lo
        mid = np.where(wide, np.floor(lo + (hi - lo) / 2), lo)
        fits = wide & (base + slope * mid <= limit)
        lo = np.where(fits, mid, lo)
        hi = np.where(wide & ~fits, mid, hi)


class Capacities:
    """Capacity functions of one problem (arrays cached, no per-device loops)."""

    def __init__(self, problem: MelProblem) -> None:
        p = problem
        self.problem = p
        self.k = p.n_devices
        self.d = p.total_samples
        self.T = p.deadline
        self.c2, self.c1, self.c0 = p.c2, p.c1, p.c0
        self.floor = p.participant_floor
        self.skip = p.min_samples == 0
        self.t_limit = self.T * (1 + SOLVER_RTOL)
        if p.energy is not None:
            e = p.energy
            self.g2, self.g1, self.g0, self.E = e.g2, e.g1, e.g0, e.budget
            self.e_limit = self.E * (1 + SOLVER_RTOL)
        else:
            self.g2 = self.g1 = self.g0 = self.E = self.e_limit = None
        # Largest tau at which each device can still hold `floor` samples.
        self.tau_top = self.int_tau_limit(self.floor)
        if np.any(self.tau_top >= TAU_MAX):
            i = int(np.argmax(self.tau_top))
            raise ValidationError(
                f"c2[{i}]",
                f"too small: device {i} could run more than 2**52 local iterations "
                f"(c2 = {self.c2[i]:g} with deadline {self.T:g} s)",
            )

    @property
    def has_energy(self) -> bool:
        return self.E is not None

    # ---------------------------------------------------------------- integer
    def int_cap(self, tau: ArrayLike) -> IntArray:
        """``D_k(tau)`` clipped to ``[-1, d]``; ``tau`` broadcasts as ``(K,)`` or ``(K, J)``."""
        tau = np.asarray(tau, dtype=float)
        shape = np.broadcast_shapes(tau.shape, (self.k,)) if tau.ndim <= 1 else tau.shape
        col = (lambda a: a) if tau.ndim <= 1 else (lambda a: a[:, None])
        tau = np.broadcast_to(tau, shape)
        n = largest_n(col(self.c0), col(self.c2) * tau + col(self.c1), self.t_limit, self.d)
        if self.has_energy:
            ne = largest_n(
                col(self.g0), col(self.g2) * tau + col(self.g1), col(self.e_limit), self.d
            )
            n = np.minimum(n, ne)
        return n

    def int_tau_limit(self, n: ArrayLike) -> IntArray:
        """Largest integer ``tau`` in ``[0, 2**52]`` at which device ``k`` can hold ``n`` samples.

        -1 when even ``tau = 0`` is impossible; a value below 1 means the device
        cannot take part with ``n`` samples at all.
        """
        n = np.broadcast_to(np.asarray(n, dtype=float), (self.k,))
        tau = largest_n(self.c0 + self.c1 * n, self.c2 * n, self.t_limit, TAU_MAX)
        if self.has_energy:
            te = largest_n(self.g0 + self.g1 * n, self.g2 * n, self.e_limit, TAU_MAX)
            tau = np.minimum(tau, te)
        return tau

    def participants_count(self, tau: float) -> tuple[bool, int]:
        """Whether a synchronous ``tau`` is feasible, and the capacity it offers."""
        cap = self.int_cap(np.full(self.k, float(tau)))
        if self.skip:
            total = int(np.where(cap >= 1, cap, 0).sum())
            return total >= self.d, total
        if (cap < self.floor).any() or self.k * self.floor > self.d:
            return False, int(np.maximum(cap, 0).sum())
        total = int(cap.sum())
        return total >= self.d, total

    # ------------------------------------------------------------- continuous
    def cont_cap(self, tau: ArrayLike) -> FloatArray:
        """``g_k(tau)``, the continuous capacity (may be negative or +inf).

        Uses the same ``SOLVER_RTOL`` slack on ``T`` and ``E_k`` as the integer
        capacities, so that the relaxation never excludes an integer allocation
        sitting exactly on a limit.
        """
        tau = np.asarray(tau, dtype=float)
        col = (lambda a: a) if tau.ndim <= 1 else (lambda a: a[:, None])
        with np.errstate(divide="ignore", invalid="ignore"):
            g = (self.t_limit - col(self.c0)) / (col(self.c2) * tau + col(self.c1))
            if self.has_energy:
                den = col(self.g2) * tau + col(self.g1)
                num = col(self.e_limit) - col(self.g0)
                ge = np.where(den > 0, num / den, np.where(num >= 0, np.inf, -np.inf))
                g = np.minimum(g, ge)
        return g

    def cont_tau_limit(self, n: ArrayLike) -> FloatArray:
        """Largest real ``tau`` with ``g_k(tau) >= n`` (``-inf`` if none at ``tau >= 0``)."""
        n = np.broadcast_to(np.asarray(n, dtype=float), (self.k,))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((self.t_limit - self.c0) / n - self.c1) / self.c2
            if self.has_energy:
                num = (self.e_limit - self.g0) / n - self.g1
                te = np.where(self.g2 > 0, num / self.g2, np.where(num >= 0, np.inf, -np.inf))
                t = np.minimum(t, te)
        return t

    def cont_kink(self) -> FloatArray:
        """``tau`` where the time and energy capacities cross (NaN if they do not).

        Each of the two is convex in ``tau``; their minimum ``g_k`` has one
        concave kink there, which the relaxation has to treat as a breakpoint.
        """
        if not self.has_energy:
            return np.full(self.k, np.nan)
        # (T-c0)(g2 t + g1) = (E-g0)(c2 t + c1)
        #   ->  t = ((E-g0) c1 - (T-c0) g1) / ((T-c0) g2 - (E-g0) c2)
        a = self.t_limit - self.c0
        b = self.e_limit - self.g0
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (b * self.c1 - a * self.g1) / (a * self.g2 - b * self.c2)
        return np.where(np.isfinite(t), t, np.nan)
