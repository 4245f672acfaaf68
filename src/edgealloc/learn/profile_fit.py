r"""Fit Assumption 1 (the GPU training function) to measured step times: :func:`fit_assumption1`.

Assumption 1 of Ren, Yu & Ding (IEEE JSAC 2021, Ren, Yu & Ding, IEEE JSAC 2021,
eq. (27)): the local gradient time of a batch of :math:`B` samples is flat up
to a threshold and linear beyond,

.. math:: t(B) = t^\ell + c \max(0, B - B^{th}),

the data-bound and compute-bound regions of Remark 6. Given measured pairs
:math:`(B_i, t_i)`, :func:`fit_assumption1` finds the least-squares
:math:`(t^\ell, c, B^{th})` with :math:`c \ge 0` and :math:`B^{th}` anywhere
in :math:`[B_{min}, B_{max}]` (a continuous threshold), exactly:

* For a fixed threshold the model is linear in :math:`(t^\ell, c)`:
  ordinary least squares on the regressor :math:`\max(0, B_i - B^{th})`.
* Between two consecutive measured batch sizes :math:`u_j < u_{j+1}` the
  points split the same way for every threshold: those at :math:`B \le u_j`
  are flat, those at :math:`B \ge u_{j+1}` on a line :math:`\alpha + c B`.
  With :math:`\alpha = t^\ell - c B^{th}` the fit is a convex quadratic in
  :math:`(t^\ell, \alpha, c)` under the linear constraints :math:`c \ge 0`,
  :math:`u_j c \le t^\ell - \alpha \le u_{j+1} c`. Its unconstrained minimum
  (the flat points' mean and the line's own least squares) is the interval's
  optimum when its join :math:`B^{th} = (t^\ell - \alpha)/c` falls inside the
  interval; otherwise the optimum lies on a face of the constraint set: a
  threshold at one of the interval's ends (a fixed-threshold fit) or
  :math:`c = 0` (a constant).
* So the global least squares is the best of: every interval's unconstrained
  join (where it is inside), the fixed-threshold fit at every measured batch
  size, and the constant. This is Hudson's (1966) exact algorithm for
  two-phase regression with a continuous join, with one phase constant.

NumPy only.

Examples
--------
>>> import numpy as np
>>> b = np.array([1, 2, 4, 8, 16, 32, 64, 128])
>>> t = 0.02 + 0.001 * np.maximum(0, b - 12.5)
>>> fit = fit_assumption1(b, t)
>>> round(fit.base_time, 9), round(fit.slope, 9), round(fit.threshold, 6)
(0.02, 0.001, 12.5)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ValidationError

__all__ = ["Assumption1Fit", "fit_assumption1", "gpu_curve"]

FloatArray = NDArray[np.float64]


def gpu_curve(batch: ArrayLike, base_time: float, slope: float, threshold: float) -> FloatArray:
    """Assumption 1, eq. (27): :math:`t^\\ell + c \\max(0, B - B^{th})`."""
    b = np.asarray(batch, dtype=float)
    return base_time + slope * np.maximum(0.0, b - threshold)


@dataclasses.dataclass(frozen=True)
class Assumption1Fit:
    """A least-squares fit of eq. (27) (:func:`fit_assumption1`).

    Attributes
    ----------
    base_time, slope, threshold
        :math:`t^\\ell` (s), :math:`c` (s per sample), :math:`B^{th}` (samples).
    batch, time
        The points fitted.
    fitted, residuals
        The model at the points and ``time - fitted``.
    rss
        The residual sum of squares.
    how
        Which candidate won: ``"join"`` (an interval's free join),
        ``"threshold at a point"`` or ``"constant"``.
    linear_rss
        The residual sum of squares of the best straight line (no flat
        region), for comparison: close to :attr:`rss` means the curve has no
        visible data-bound region.
    """

    base_time: float
    slope: float
    threshold: float
    batch: FloatArray
    time: FloatArray
    fitted: FloatArray
    residuals: FloatArray
    rss: float
    how: str
    linear_rss: float

    @property
    def rmse(self) -> float:
        """Root mean squared residual (s)."""
        return math.sqrt(self.rss / max(len(self.time), 1))

    @property
    def max_relative_residual(self) -> float:
        """Largest ``|residual| / time``."""
        return float(np.max(np.abs(self.residuals) / np.abs(self.time)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready coefficients and statistics."""
        return {
            "base_time_s": self.base_time,
            "slope_s": self.slope,
            "threshold": self.threshold,
            "rss": self.rss,
            "rmse_s": self.rmse,
            "max_relative_residual": self.max_relative_residual,
            "linear_rss": self.linear_rss,
            "how": self.how,
        }


def _fixed(b: FloatArray, t: FloatArray, theta: float) -> tuple[float, float, float]:
    """Least squares of ``a + c max(0, b - theta)`` with ``c >= 0``: ``(a, c, rss)``."""
    h = np.maximum(0.0, b - theta)
    if np.ptp(h) > 0:
        a_mat = np.column_stack([np.ones_like(h), h])
        (a, c), *_ = np.linalg.lstsq(a_mat, t, rcond=None)
        if c >= 0:
            r = t - a - c * h
            return float(a), float(c), float(r @ r)
    a = float(t.mean())
    r = t - a
    return a, 0.0, float(r @ r)


def fit_assumption1(batch: ArrayLike, time: ArrayLike) -> Assumption1Fit:
    """Exact least-squares fit of Assumption 1 (eq. (27)) over a continuous threshold.

    Parameters
    ----------
    batch
        Batch sizes :math:`B_i` (at least two distinct values, > 0); repeats allowed.
    time
        Measured times :math:`t_i` (s, finite, > 0).

    Returns
    -------
    Assumption1Fit

    Raises
    ------
    ValidationError
        Mismatched or too few points, non-finite or non-positive values.
    """
    b = np.asarray(batch, dtype=float).reshape(-1)
    t = np.asarray(time, dtype=float).reshape(-1)
    if b.shape != t.shape:
        raise ValidationError("time", f"has {t.size} values, batch {b.size}")
    if not (np.isfinite(b).all() and np.isfinite(t).all()):
        raise ValidationError("time", "must be finite numbers")
    if (b <= 0).any() or (t <= 0).any():
        raise ValidationError("time", "batch sizes and times must be > 0")
    order = np.argsort(b, kind="stable")
    b, t = b[order], t[order]
    u = np.unique(b)
    if u.size < 2:
        raise ValidationError("batch", "needs at least two distinct batch sizes")
    # candidates: (rss, a, c, theta, how), simplest first; a later one wins only when it
    # lowers the RSS by more than rounding (1e-12 of the total sum of squares), so that a
    # flat curve is fitted by a constant, not by a slope of 1e-21.
    tol = 1e-12 * float(t @ t)
    a0 = float(t.mean())
    r0 = t - a0
    best = (float(r0 @ r0), a0, 0.0, float(u[-1]), "constant")
    for theta in u:
        a, c, rss = _fixed(b, t, float(theta))
        if rss < best[0] - tol:
            best = (rss, a, c, float(theta), "threshold at a point")
    for j in range(u.size - 1):
        left, right = b <= u[j], b >= u[j + 1]
        if np.unique(b[right]).size < 2:
            continue
        a = float(t[left].mean())
        c, alpha = np.polyfit(b[right], t[right], 1)
        if c <= 0:
            continue
        theta = (a - alpha) / c
        if not (u[j] <= theta <= u[j + 1]):
            continue
        r = t - gpu_curve(b, a, float(c), float(theta))
        rss = float(r @ r)
        if rss < best[0] - tol:
            best = (rss, a, float(c), float(theta), "join")
    rss, a, c, theta, how = best
    if c == 0.0:
        theta = float(u[-1])
    line = np.polyfit(b, t, 1)
    lr = t - np.polyval(line, b)
    fitted = gpu_curve(b, a, c, theta)
    return Assumption1Fit(
        base_time=a,
        slope=c,
        threshold=theta,
        batch=b,
        time=t,
        fitted=fitted,
        residuals=t - fitted,
        rss=rss,
        how=how,
        linear_rss=float(lr @ lr),
    )
