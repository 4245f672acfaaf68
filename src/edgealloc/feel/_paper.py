r"""The paper's own procedure (scheme ``paper``): Algorithm 1, the search over B, the round-up.

Ren, Yu & Ding, IEEE JSAC 2021 ("the paper"), Sections IV-V. For a global
batch :math:`B` (real) Algorithm 1 solves the uplink sub-problem P4 by two
nested one-dimensional searches:

* the inner search finds the multiplier :math:`\mu` for which Theorem 1's
  batches (eq. (22), first line) add up to :math:`B`, (17d);
* the outer loop bisects :math:`E^U` between the bounds of Corollary 1
  (eq. (23)) until Theorem 1's slots (eq. (22), second line) fill the frame,
  (17b) with equality (lines 4-12).

Theorem 2 (eq. (26)) gives the downlink slots by a bisection on :math:`E^D`;
"P1 becomes a univariate optimization problem with only variable B, which
can be effectively solved by [...] one-dimensional bisection"; and "we can
round up to the nearest integer for practical implementation".

Readings (``docs/feel.md`` lists each with the test that shows it):

1. **The** :math:`[\cdot]^+` **of eqs. (22) and (26).** Taken literally it
   gives a device whose compute time exceeds the round time a zero slot,
   i.e. an upload that never ends, and the bisection then believes the
   frame is under-used and moves the wrong way. We read
   :math:`T \le t_k(B_k)` as "this :math:`E` is too small" (the slot sum is
   :math:`+\infty`). ``literal_plus=True`` keeps the printed formula.
2. **Corollary 2 (eq. (24)).** The bounds square
   :math:`\Delta L V_k E - B^{max}` and :math:`\Delta L V_k E - 1`, which
   are negative for a device that cannot reach :math:`B^{max}` (or even one
   sample) by the round time; the printed lower bound can then exceed
   :math:`\mu^*`. We clip at 0 before squaring (the interior condition of
   eq. (22) solved for :math:`\mu`). ``printed_bounds=True`` keeps (24).
3. **The tolerance** :math:`\epsilon` of Algorithm 1 is not given: we stop
   the outer loop when both slot sums are within :math:`10^{-9} T^U_f` of
   the frame (line 4 as printed twice, once garbled, read as
   :math:`|\sum_k\tau_k - T^U_f| > \epsilon`), the inner search when the
   batches add up to :math:`B` within :math:`10^{-10} B`, and return the
   upper end's allocation (its slots fit the frame; where rounding leaves
   them a few ulps over, as when Corollary 1's bounds coincide, they are
   scaled to fit).
4. **The search over B** is a bisection on the sign of the finite
   difference :math:`\Phi(B + 1/4) - \Phi(B - 1/4)` of the efficiency over
   :math:`[\sum_k \ell_k, K B^{max}]`, to a width of 0.01 sample.
5. **"Round up to the nearest integer"** is :math:`\lceil B_k \rceil`
   (``round_up=False`` rounds to the nearest instead); the slots are kept as
   Algorithm 1 and Theorem 2 gave them, so the rounded-up devices finish
   later and the round's latency is recomputed by
   :meth:`~edgealloc.feel.problem.FeelProblem.evaluate`.
6. **GPU (problem P7)** "the algorithms for solving problem P1 are still
   applicable": :math:`t_k^h(B) = t^\ell_k + c_k(B - B^{th}_k)` takes the
   place of :math:`B/V_k`, :math:`V_k = 1/c_k`, :math:`\rho_k = V_k/\sum V`,
   batches clipped to :math:`[B^{th}_k, B^{max}]` (Lemma 2); eq. (23) becomes
   :math:`E_\ell = [B - \sum \vartheta_k + \sum t^\ell_k V_k + (\sum\sqrt{w_k V_k})^2]/
   (\Delta L \sum V)` and the equal allocation of eq. (42) spreads :math:`B`
   over the room above each threshold (so that it stays in P7).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.typing import NDArray

from ._model import Devices

__all__ = ["Algorithm1", "PaperOutcome", "paper_plan"]

FloatArray = NDArray[np.float64]

#: Tolerance of Algorithm 1's loop, relative to the frame (reading 3).
EPS_FRAME = 1e-9
#: Tolerance of the inner search on the batch sum, relative to B (reading 3).
EPS_BATCH = 1e-10
#: Iteration cap of every bisection (the printed loop has none).
MAX_ITER = 200
#: Half-step and final width (samples) of the bisection over B (reading 4).
B_STEP, B_WIDTH = 0.25, 0.01


@dataclasses.dataclass(frozen=True)
class PaperOutcome:
    """What the paper's procedure returns, before and after rounding."""

    global_batch: float  # the B the search over B settled on
    batch: FloatArray  # Theorem 1's real batches at that B
    rounded: NDArray[np.int64]  # the batches after the round-up
    uplink_share: FloatArray  # tau^U_k / T^U_f from Algorithm 1
    downlink_share: FloatArray  # tau^D_k / T^D_f from Theorem 2
    e_up: float  # E^U* (uplink latency / Delta L)
    outer_iterations: int  # Algorithm 1 runs (one per evaluated B)
    converged: bool  # every loop met its tolerance


class Algorithm1:
    """Theorem 1, Corollaries 1-2 and Algorithm 1 for one :class:`Devices` (module docstring)."""

    def __init__(self, dev: Devices, *, literal_plus: bool, printed_bounds: bool) -> None:
        self.dev = dev
        self.V = 1.0 / dev.slope  # local training speed V_k = f_k / C (GPU: 1 / c_k)
        self.rho = self.V / self.V.sum()  # training priority ratio
        self.low = dev.low
        self.literal_plus = literal_plus
        self.printed_bounds = printed_bounds
        self.converged = True

    # ------------------------------------------------------------- Theorem 1
    def batches(self, T: float, mu: float, dl: float) -> FloatArray:
        r"""Eq. (22), first line: :math:`[(T - (\Delta L s T_f \mu/(\rho_k R_k))^{1/2}) V_k]`."""
        d = self.dev
        x = np.sqrt(dl * mu * d.w / self.rho)  # (Delta L s T_f mu / (rho_k R_k))^(1/2), T_f = 1
        b = d.threshold + (T - d.base - x) * self.V
        return np.clip(b, self.low, float(d.bmax))

    def plus(self, weight: FloatArray, gap: FloatArray) -> FloatArray:
        r""":math:`[w_k\,\mathrm{gap}_k^{-1}]^+` of eqs. (22) and (26), frame shares (reading 1)."""
        with np.errstate(divide="ignore"):
            raw = weight / gap
        if self.literal_plus:
            return np.maximum(raw, 0.0)
        return np.where(gap > 0, raw, np.inf)

    def mu_bounds(self, T: float, dl: float) -> tuple[float, float]:
        """Corollary 2, eq. (24) (clipped at 0 before squaring unless ``printed_bounds``)."""
        d = self.dev
        scale = self.rho / (dl * d.w)
        top = T - d.compute_time(float(d.bmax))
        one = T - d.compute_time(self.low)
        if not self.printed_bounds:
            top, one = np.maximum(top, 0.0), np.maximum(one, 0.0)
        return float(np.min(top * top * scale)), float(np.max(one * one * scale))

    def mu_star(self, T: float, total: float, dl: float) -> float | None:
        r"""The :math:`\mu` at which Theorem 1's batches add up to ``total`` (``None``: none does).

        The inner one-dimensional search, done exactly: with :math:`z = \sqrt\mu`
        every batch of eq. (22) is :math:`\mathrm{clip}(p_k - q_k z, \ell_k, B^{max})`,
        so their sum is piecewise linear and non-increasing in :math:`z`; sorting
        the :math:`2K` kinks gives the piece that holds the root.
        """
        d = self.dev
        p = d.threshold + (T - d.base) * self.V
        q = np.sqrt(dl * d.w / self.rho) * self.V
        top = np.clip(p, self.low, float(d.bmax))
        if float(top.sum()) < total:
            return None  # no slot makes these batches finish by T: E is too small
        zs = np.concatenate([(p - d.bmax) / q, (p - self.low) / q])
        d_int = np.concatenate([p - d.bmax, self.low - p])
        d_slope = np.concatenate([-q, q])
        order = np.argsort(zs, kind="stable")
        zs, d_int, d_slope = zs[order], d_int[order], d_slope[order]
        intercept = d.k * float(d.bmax) + np.cumsum(d_int)
        slope = np.cumsum(d_slope)
        after = intercept + slope * zs  # the sum just after each kink (it is continuous)
        i = int(np.searchsorted(-after, -total))  # first kink where the sum is <= total
        if i == 0:
            z = max(float(zs[0]), 0.0)
        else:
            a, sl = intercept[i - 1], slope[i - 1]
            z = (a - total) / -sl if sl < 0 else float(zs[i - 1])
        return max(z, 0.0) ** 2

    def solve_mu(self, T: float, total: float, dl: float) -> FloatArray | None:
        r"""Theorem 1's batches for ``total`` at round time ``T``; :math:`\mu` kept in eq. (24).

        A search confined to Corollary 2's bracket ends at its edge when
        :math:`\mu^*` lies outside it (reading 2).
        """
        mu = self.mu_star(T, total, dl)
        if mu is None:
            return None
        lo, hi = self.mu_bounds(T, dl)
        return self.batches(T, min(max(mu, max(lo, 0.0)), hi), dl)

    def slot_sum(self, e: float, total: float, dl: float) -> tuple[float, FloatArray, FloatArray]:
        r""":math:`\sum_k \tau_k / T_f` at :math:`E^U = e`, with the batches and shares."""
        T = dl * e
        b = self.solve_mu(T, total, dl)
        if b is None:
            k = self.dev.k
            return math.inf, np.full(k, math.nan), np.full(k, math.inf)
        r = self.plus(self.dev.w, T - self.dev.compute_time(b))
        return float(r.sum()), b, r

    # ------------------------------------------------------------ Corollary 1
    def e_bounds(self, total: float, dl: float) -> tuple[float, float]:
        """Eq. (23) (and its GPU form, reading 6)."""
        d = self.dev
        sv = float(self.V.sum())
        shift = float(np.sum(d.base * self.V - d.threshold))
        e_low = (total + shift + float(np.sum(np.sqrt(d.w * self.V))) ** 2) / (sv * dl)
        room = float(d.bmax) - self.low
        spread = (
            self.low + (total - self.low.sum()) * room / room.sum()
            if room.sum() > 0
            else self.low.copy()
        )
        e_high = float(np.max(d.compute_time(spread) + d.k * d.w)) / dl
        return e_low, e_high

    def run(self, total: float) -> tuple[float, FloatArray, FloatArray]:
        """Algorithm 1 for global batch ``total``: ``(E^U*, batches, uplink shares)``."""
        dl = self.dev.xi * math.sqrt(total)
        e_lo, e_hi = self.e_bounds(total, dl)
        s_lo, _, _ = self.slot_sum(e_lo, total, dl)
        s_hi, b_hi, r_hi = self.slot_sum(e_hi, total, dl)
        for _ in range(MAX_ITER):
            if abs(s_lo - 1.0) <= EPS_FRAME and abs(s_hi - 1.0) <= EPS_FRAME:
                break
            e_m = 0.5 * (e_lo + e_hi)
            s_m, b_m, r_m = self.slot_sum(e_m, total, dl)
            if s_m >= 1.0:
                e_lo, s_lo = e_m, s_m
            else:
                e_hi, s_hi, b_hi, r_hi = e_m, s_m, b_m, r_m
            if e_hi - e_lo <= 4 * np.finfo(float).eps * e_hi:
                break
        else:
            self.converged = False
        return e_hi, b_hi, r_hi

    # ------------------------------------------------------------ Theorem 2
    def downlink(self, dl: float) -> FloatArray:
        """Eq. (26): bisection on :math:`E^D` until the downlink slots fill the frame."""
        d = self.dev
        lo, hi = float(d.update.max()) / dl, float(d.update.max() + d.v.sum()) / dl
        r_hi = self.plus(d.v, hi * dl - d.update)
        for _ in range(MAX_ITER):
            mid = 0.5 * (lo + hi)
            r = self.plus(d.v, mid * dl - d.update)
            s = float(r.sum())
            if s >= 1.0:
                lo = mid
            else:
                hi, r_hi = mid, r
            if abs(s - 1.0) <= EPS_FRAME or hi - lo <= 4 * np.finfo(float).eps * hi:
                if s <= 1.0:
                    r_hi = r
                break
        return r_hi


def paper_plan(
    dev: Devices,
    *,
    literal_plus: bool = False,
    printed_bounds: bool = False,
    round_up: bool = True,
) -> PaperOutcome:
    """The paper's procedure end to end (module docstring, readings 1-6)."""
    alg = Algorithm1(dev, literal_plus=literal_plus, printed_bounds=printed_bounds)
    # Theorem 2's slots do not depend on B (Delta L cancels): one downlink for every B.
    down = alg.downlink(1.0)
    t_down = float(np.max(dev.v / down + dev.update))
    runs = 0

    def phi(total: float) -> float:
        nonlocal runs
        runs += 1
        e_up, _, _ = alg.run(total)
        dl = dev.xi * math.sqrt(total)
        return dl / (dl * e_up + t_down)

    lo, hi = float(alg.low.sum()), float(dev.k * dev.bmax)
    # Reading 4: bisection on the sign of the finite difference.
    while hi - lo > B_WIDTH:
        mid = 0.5 * (lo + hi)
        right, left = min(mid + B_STEP, hi), max(mid - B_STEP, lo)
        if phi(right) > phi(left):
            lo = mid
        else:
            hi = mid
    total = 0.5 * (lo + hi)
    e_up, batch, shares = alg.run(total)
    runs += 1
    if not np.isfinite(shares).all():  # pragma: no cover - E_h of eq. (23) is feasible
        alg.converged = False
    for r in (shares, down):  # rounding can leave the frame over-used by ulps (reading 3)
        used = float(r.sum())
        if used > 1.0:
            alg.converged &= used <= 1.0 + 1e-6
            with np.errstate(invalid="ignore"):  # inf shares: not converged, said so
                r /= used
    rounded = np.ceil(batch - 1e-9) if round_up else np.floor(batch + 0.5)
    rounded = np.clip(rounded, 1, dev.bmax).astype(np.int64)
    return PaperOutcome(
        global_batch=total,
        batch=batch,
        rounded=rounded,
        uplink_share=shares,
        downlink_share=down,
        e_up=e_up,
        outer_iterations=runs,
        converged=alg.converged,
    )
