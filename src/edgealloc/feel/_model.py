r"""The ``feel`` problem reduced to per-device arrays, and its closed-form sub-solutions.

Every scheme of the family works on one :class:`Devices` object built from a
:class:`~edgealloc.feel.problem.FeelProblem`. Both processors are one model
(Ren, Yu & Ding, *Accelerating DNN Training in Wireless Federated Edge
Learning Systems*, IEEE JSAC 2021; "the paper" below): device :math:`k`
computes a batch of :math:`b` samples in

.. math:: t_k(b) = \beta_k + \sigma_k \max(0, b - \vartheta_k),

which is eq. (9) on a CPU (:math:`\beta_k = \vartheta_k = 0`,
:math:`\sigma_k = C / f_k`) and Assumption 1, eq. (27), on a GPU
(:math:`\beta_k = t_k^\ell`, :math:`\sigma_k = c_k`,
:math:`\vartheta_k = B_k^{th}`). It is convex and non-decreasing in :math:`b`.

With :math:`r_k = \tau_k / T_f` the share of a frame, the upload takes
:math:`w_k / r_k` (eq. (10): :math:`s T_f / (\tau_k R_k) = (s / R_k) / r_k`,
:math:`w_k = s / R_k^U`) and the download :math:`v_k / r_k` (eq. (11),
:math:`v_k = s / R_k^D`); the frame lengths cancel. The round's latency is
eq. (15) (GPU: eq. (29)):

.. math:: T = \max_k \bigl(t_k(B_k) + w_k / r^U_k\bigr)
          + \max_k \bigl(v_k / r^D_k + u_k\bigr),

:math:`u_k = M / f_k` (eq. (12)) or the GPU's update time (eq. (28)).

Closed forms used everywhere (:func:`water_fill`): for fixed batches the
best uplink slots make every device finish at the same time :math:`T_U`
(Remark 3), the root of :math:`\sum_k w_k / (T_U - t_k(B_k)) = 1`, with
:math:`r_k = w_k / (T_U - t_k(B_k))`; the downlink likewise (Theorem 2,
eq. (26)): :math:`\sum_k v_k / (T_D - u_k) = 1`. The left side is convex and
decreasing in :math:`T`, so Newton's method started left of the root climbs
to it monotonically and quadratically.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ..errors import SolverError

if TYPE_CHECKING:
    from .problem import FeelProblem

__all__ = ["Devices", "water_fill"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Relative step at which the Newton iterations of :func:`water_fill` stop.
_NEWTON_RTOL = 4 * np.finfo(float).eps


def water_fill(offset: FloatArray, weight: FloatArray) -> tuple[float, FloatArray]:
    r"""Smallest common finishing time of TDMA devices and their frame shares.

    Solves :math:`\sum_k w_k / (T - a_k) = 1` for :math:`T > \max_k a_k`
    (``offset`` :math:`a_k`: the time device ``k`` is busy before it can use
    its slot; ``weight`` :math:`w_k`: its transmission time with the whole
    frame) and returns :math:`T` and the shares :math:`r_k = w_k / (T - a_k)`
    (on the feasible side of the root: they sum to at most 1). This is the
    time-sharing constraint (17b)/(17c) met with equality, as in Theorem 1
    (eq. (22), second line) and Theorem 2 (eq. (26)) of the paper.

    Parameters
    ----------
    offset, weight
        Arrays of the same shape ``(K,)``; ``weight > 0``.

    Returns
    -------
    T : float
        The root, rounded up to where the shares fit the frame.
    shares : ndarray
        ``r_k`` (> 0, summing to at most 1; to 1 up to rounding).
    """
    a = np.asarray(offset, dtype=float)
    w = np.asarray(weight, dtype=float)
    # Left of (or at) the root: at max(a + w) one term alone is >= 1; at min(a) + sum(w),
    # when it exceeds every a_k, each term is >= w_k / sum(w).
    busiest = float(np.maximum.reduce(a))
    t = max(float(np.maximum.reduce(a + w)), float(np.minimum.reduce(a)) + float(np.add.reduce(w)))
    if t <= busiest:  # some w_k below the rounding of a_k: start one step past max(a)
        t = float(np.nextafter(busiest, math.inf))
    # Newton's method on h(t) = 1 / sum_k w_k/(t - a_k), the harmonic sum of the lines
    # (t - a_k)/w_k: concave and increasing, so from the left of h = 1 every step stays on
    # the left and the iterates rise monotonically to the root. Exact for one device, and
    # each step is g = sum w/(t - a) times the step of Newton on g itself (g > 1 left of
    # the root): 2 steps instead of 3, and 5 instead of 9, on the bench's K = 30 fleet.
    for _ in range(200):
        inv = 1.0 / (t - a)
        g = float(np.dot(w, inv))
        if g <= 1.0:
            break
        step = g * (g - 1.0) / float(np.dot(w, inv * inv))
        if not step > _NEWTON_RTOL * abs(t):  # converged (or underflowed)
            break
        t += step
    else:  # pragma: no cover - Newton from the left converges quadratically
        raise SolverError("water_fill: Newton's method did not converge")
    # Step to the feasible side, so that the shares fit the frame without rescaling
    # (rescaling would lengthen every device's upload when one is ill-conditioned).
    step = _NEWTON_RTOL * abs(t)
    for _ in range(80):
        shares = w / (t - a)
        if float(np.add.reduce(shares)) <= 1.0:
            return t, shares
        t += step
        step *= 2
    raise SolverError("water_fill: no feasible round time found")  # pragma: no cover


@dataclasses.dataclass(frozen=True)
class Devices:
    r"""The per-device arrays of a :class:`FeelProblem` (see the module docstring).

    Attributes
    ----------
    base, slope, threshold
        :math:`\beta_k, \sigma_k, \vartheta_k` of :math:`t_k(b)`.
    w, v
        Upload and download time with the whole frame (:math:`s/R^U_k`, :math:`s/R^D_k`).
    update
        :math:`u_k`.
    bmax
        :math:`B^{max}`.
    free
        The largest integer batch at the cost of one sample,
        :math:`\min(B^{max}, \max(1, \lfloor\vartheta_k\rfloor))` (the data-bound
        region of Remark 6; 1 on a CPU).
    low
        The continuous lower bound :math:`\min(B^{max}, \max(1, \vartheta_k))`:
        below it a batch costs the same (Lemma 2).
    xi
        :math:`\xi` of eq. (8).
    """

    base: FloatArray
    slope: FloatArray
    threshold: FloatArray
    w: FloatArray
    v: FloatArray
    update: FloatArray
    bmax: int
    xi: float

    @classmethod
    def of(cls, problem: FeelProblem) -> Devices:
        """The arrays of ``problem`` (CPU: eqs. (9), (12); GPU: eqs. (27), (28))."""
        s = float(problem.gradient_bits)
        k = problem.n_devices
        if problem.gpu is None:
            f = np.asarray(problem.cpu_hz, dtype=float)
            base = np.zeros(k)
            slope = float(problem.cycles_per_sample) / f
            threshold = np.zeros(k)
            update = float(problem.update_cycles) / f
        else:
            g = problem.gpu
            base = np.array(g.base_time, dtype=float)
            slope = np.array(g.slope, dtype=float)
            threshold = np.array(g.threshold, dtype=float)
            update = np.array(g.update_time, dtype=float)
        return cls(
            base=base,
            slope=slope,
            threshold=threshold,
            w=s / np.asarray(problem.uplink_rate, dtype=float),
            v=s / np.asarray(problem.downlink_rate, dtype=float),
            update=update,
            bmax=int(problem.max_batch),
            xi=float(problem.loss_decay),
        )

    @property
    def k(self) -> int:
        """Number of devices."""
        return int(self.w.shape[0])

    @property
    def free(self) -> IntArray:
        """Integer batch reachable at no extra compute time (see the class docstring)."""
        return np.clip(np.floor(self.threshold), 1, self.bmax).astype(np.int64)

    @property
    def low(self) -> FloatArray:
        """Continuous lower bound of a useful batch (see the class docstring)."""
        return np.clip(self.threshold, 1.0, float(self.bmax))

    # ----------------------------------------------------------------- latency parts
    def compute_time(self, batch: NDArray) -> FloatArray:
        """:math:`t_k(b_k)`, eq. (9) / eq. (27); ``batch`` broadcasts against the devices."""
        b = np.asarray(batch, dtype=float)
        return self.base + self.slope * np.maximum(0.0, b - self.threshold)

    def uplink(self, batch: NDArray) -> tuple[float, FloatArray]:
        """Best uplink round time and frame shares for fixed batches (Theorem 1, eq. (22))."""
        return water_fill(self.compute_time(batch), self.w)

    def downlink(self) -> tuple[float, FloatArray]:
        """Best downlink time and frame shares, Theorem 2 (eq. (26)); independent of the batches."""
        return water_fill(self.update, self.v)

    def efficiency(self, global_batch: float, latency: float) -> float:
        r"""Learning efficiency :math:`\xi\sqrt{B} / T`, Definition 1 with eq. (8)."""
        return self.xi * math.sqrt(global_batch) / latency
