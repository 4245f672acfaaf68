r"""Scalar functions of the FDMA upload, vectorised, with their inverses.

Notation of ``docs/flmar.md``: a device with channel gain :math:`g`, noise
density :math:`N_0`, bandwidth :math:`b` and power :math:`p` has the SNR
:math:`x = g p / (N_0 b)` and the rate (1)

.. math:: G(p, b) = b \log_2(1 + x).

Three functions of the SNR carry every closed form of the family:

* :math:`\phi(x) = (1+x)\ln(1+x) - x` — the stationarity condition of the
  power, :math:`\partial_p` of :math:`(w p + \mu) d / G` (Theorem 2, (A.18)).
* :math:`\psi(v) = v / \ln(1+v)` — the upload time at a fixed power
  :math:`P`: with :math:`a = gP/N_0` and :math:`v = a/b`,
  :math:`d/G = d\ln 2\,\psi(v)/a`.
* :math:`H(v) = v^2\psi'(v)` — the marginal value of bandwidth at a fixed
  power: :math:`-\partial_b (d/G) = d \ln 2\, H(v) / a^2`.

Each is smooth and increasing on :math:`(0, \infty)`; the inverses are
computed by Newton's method in log space from asymptotic starting points
(to a few ulp), vectorised over devices with no Python loop over them.
The small-argument branches use series (the Gregory coefficients for
:math:`\psi`) where the closed forms cancel.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "LN2",
    "H",
    "H_inv",
    "b_for_rate",
    "phi",
    "phi_inv",
    "power_for_rate",
    "psi",
    "psi_inv",
    "psi_m1",
    "psi_p",
    "psi_pp",
    "rate",
]

FloatArray = NDArray[np.float64]
LN2 = math.log(2.0)

#: Below this argument the series branches are used.
_SMALL = 0.02
#: Series of phi: sum_{n>=2} (-1)^n x^n / (n (n - 1)), coefficients of x^2 .. x^11.
_PHI = tuple((-1) ** n / (n * (n - 1)) for n in range(2, 12))
#: Gregory coefficients: v / ln(1 + v) = 1 + sum_n G_n v^n, n = 1 .. 9.
_GREGORY = (
    1 / 2,
    -1 / 12,
    1 / 24,
    -19 / 720,
    3 / 160,
    -863 / 60480,
    275 / 24192,
    -33953 / 3628800,
    8183 / 1036800,
)


def _horner(coeffs: tuple[float, ...], x: FloatArray) -> FloatArray:
    """``sum_i coeffs[i] x^i``."""
    out = np.full(x.shape, coeffs[-1])
    for c in coeffs[-2::-1]:
        out = out * x + c
    return out


#: Newton iterations of the inverses (quadratic convergence from the starts below;
#: the loop stops early once every entry has converged).
_NEWTON = 60


def _arr(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=float)


_PSI_P = tuple((i + 1) * g for i, g in enumerate(_GREGORY))
_PSI_PP = (-1 / 6, 1 / 4, -19 / 60, 3 / 8)


def _with_series(x: FloatArray, direct, series, threshold: float = _SMALL) -> FloatArray:
    """``direct(x)``, replaced by ``series(x)`` where ``x < threshold`` (computed only there)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = np.asarray(direct(x), dtype=float)
        small = x < threshold
        if small.any():
            out = np.array(out, dtype=float, copy=True)
            if out.ndim == 0:
                return np.asarray(series(x))
            out[small] = series(x[small])
    return out


def phi(x: ArrayLike) -> FloatArray:
    r""":math:`\phi(x) = (1+x)\ln(1+x) - x` (series below ``0.02``)."""
    return _with_series(
        _arr(x), lambda x: (1.0 + x) * np.log1p(x) - x, lambda x: x * x * _horner(_PHI, x)
    )


def psi_m1(v: ArrayLike) -> FloatArray:
    r""":math:`\psi(v) - 1 = v/\ln(1+v) - 1` (Gregory series below ``0.02``)."""
    return _with_series(
        _arr(v), lambda v: v / np.log1p(v) - 1.0, lambda v: v * _horner(_GREGORY, v)
    )


def psi(v: ArrayLike) -> FloatArray:
    r""":math:`\psi(v) = v / \ln(1 + v)`, with :math:`\psi(0) = 1`."""
    return 1.0 + psi_m1(v)


def _psi_p_direct(v: FloatArray) -> FloatArray:
    lv = np.log1p(v)
    return ((1.0 + v) * lv - v) / ((1.0 + v) * lv * lv)


def psi_p(v: ArrayLike) -> FloatArray:
    r""":math:`\psi'(v) = \phi(v) / ((1+v)\ln^2(1+v))`, in :math:`(0, 1/2]`."""
    return _with_series(_arr(v), _psi_p_direct, lambda v: _horner(_PSI_P, v))


def _psi_pp_direct(v: FloatArray) -> FloatArray:
    lv = np.log1p(v)
    ph = (1.0 + v) * lv - v
    return 1.0 / ((1.0 + v) * lv) - ph * (lv + 2.0) / ((1.0 + v) ** 2 * lv**3)


def psi_pp(v: ArrayLike) -> FloatArray:
    r""":math:`\psi''(v)` (negative; used only for Newton derivatives)."""
    return _with_series(_arr(v), _psi_pp_direct, lambda v: _horner(_PSI_PP, v), 1e-2)


def H(v: ArrayLike) -> FloatArray:
    r""":math:`H(v) = v^2 \psi'(v)`: the marginal value of bandwidth at a fixed power."""
    v = _arr(v)
    return v * v * psi_p(v)


def _newton_log(
    f, y: FloatArray, u0: FloatArray, *, tol: float = 1e-8, lo: float = -700.0, hi: float = 700.0
) -> FloatArray:
    """Solve ``F(u) = y`` for increasing ``F`` with ``f(u) -> (F(u), F'(u))`` (all in logs).

    An entry stops after a Newton step shorter than ``tol``: the error left is of
    the order of the square of that step (quadratic convergence), below 1 ulp.
    """
    u = np.clip(np.array(u0, dtype=float), lo, hi)
    idx = np.arange(u.size)
    for _ in range(_NEWTON):
        val, der = f(u[idx])
        step = (val - y[idx]) / der
        step = np.where(np.isfinite(step), step, 0.0)
        step = np.clip(step, -5.0, 5.0)
        u[idx] = np.clip(u[idx] - step, lo, hi)
        idx = idx[np.abs(step) > tol]
        if idx.size == 0:
            break
    return u


def phi_inv(c: ArrayLike, start: ArrayLike | None = None) -> FloatArray:
    r"""The :math:`x > 0` with :math:`\phi(x) = c` (:math:`c > 0`; :math:`\infty` maps to itself).

    Closed form :math:`1 + x = \exp(1 + W_0((c - 1)/e))` (FLMAR.md (A.24)); computed by
    Newton's method on :math:`\ln\phi(e^u) = \ln c`, from ``start`` when given
    (a warm start of the same shape).
    """
    shape = np.shape(c)
    c = np.atleast_1d(_arr(c)).astype(float)
    out = np.full(c.shape, np.inf)
    ok = np.isfinite(c) & (c > 0)
    out[c <= 0] = 0.0
    if ok.any():
        cc = c[ok]
        # phi ~ x^2/2 for small x, ~ x ln x - x for large x.
        x0 = np.where(cc < 1.0, np.sqrt(2.0 * cc), (cc + 1.0) / np.log(np.e + cc))
        if start is not None:
            s0 = np.atleast_1d(_arr(start))[ok]
            x0 = np.where(np.isfinite(s0) & (s0 > 0), s0, x0)
        y = np.log(cc)

        def f(u):
            x = np.exp(u)
            ph = phi(x)
            return np.log(ph), x * np.log1p(x) / ph

        out[ok] = np.exp(_newton_log(f, y, np.log(x0)))
    return out.reshape(shape)


def psi_inv(z: ArrayLike, start: ArrayLike | None = None) -> FloatArray:
    r"""The :math:`v > 0` with :math:`\psi(v) = z` (:math:`z > 1`; :math:`z \le 1` gives 0).

    Closed form :math:`1 + v = -z W_{-1}(-e^{-1/z}/z)` (the ``b_lo`` formula of
    FLMAR.md section 5.3); computed by Newton's method on
    :math:`\ln(\psi(e^u) - 1) = \ln(z - 1)`, from ``start`` when given.
    """
    z = _arr(z)
    shape = z.shape
    z = np.atleast_1d(z).astype(float)
    out = np.full(z.shape, np.inf)
    out[z <= 1.0] = 0.0
    ok = np.isfinite(z) & (z > 1.0)
    if ok.any():
        zz = z[ok]
        zm = zz - 1.0
        # psi - 1 ~ v/2 for small v; v / ln v ~ z for large v.
        big = zz * np.log(np.maximum(zz, 1.0) + 1.0)
        v0 = np.where(zm < 1.0, 2.0 * zm, big * (1.0 + np.log(np.log1p(big)) / np.log1p(big)))
        v0 = np.maximum(v0, 1e-300)
        if start is not None:
            s0 = np.atleast_1d(_arr(start))[ok]
            v0 = np.where(np.isfinite(s0) & (s0 > 0), s0, v0)
        y = np.log(zm)

        def f(u):
            v = np.exp(u)
            m1 = psi_m1(v)
            return np.log(m1), v * psi_p(v) / m1

        out[ok] = np.exp(_newton_log(f, y, np.log(v0)))
    return out.reshape(shape)


def H_inv(c: ArrayLike) -> FloatArray:
    r"""The :math:`v > 0` with :math:`H(v) = c` (:math:`c > 0`)."""
    c = _arr(c)
    shape = c.shape
    c = np.atleast_1d(c).astype(float)
    out = np.full(c.shape, np.inf)
    out[c <= 0] = 0.0
    ok = np.isfinite(c) & (c > 0)
    if ok.any():
        cc = c[ok]
        # H ~ v^2/2 for small v, ~ v^2 / ln v for large v.
        v0 = np.where(cc < 1.0, np.sqrt(2.0 * cc), np.sqrt(cc * np.log(np.e + cc)))
        y = np.log(cc)

        def f(u):
            v = np.exp(u)
            pp = psi_p(v)
            return 2.0 * u + np.log(pp), 2.0 + v * psi_pp(v) / pp

        out[ok] = np.exp(_newton_log(f, y, np.log(v0)))
    return out.reshape(shape)


def rate(b: ArrayLike, p: ArrayLike, gain: ArrayLike, noise_psd: float) -> FloatArray:
    r"""Rate (1): :math:`r = b \log_2(1 + g p / (N_0 b))` (0 where :math:`b` or :math:`p` is 0)."""
    b, p = _arr(b), _arr(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = b * np.log1p(_arr(gain) * p / (noise_psd * b)) / LN2
    return np.where((b > 0) & (p > 0), r, 0.0)


def power_for_rate(b: ArrayLike, r: ArrayLike, gain: ArrayLike, noise_psd: float) -> FloatArray:
    r"""Power that reaches rate :math:`r` on bandwidth :math:`b`: :math:`(N_0 b/g)(2^{r/b} - 1)`."""
    b, r = _arr(b), _arr(r)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return noise_psd * b / _arr(gain) * np.expm1(r * LN2 / b)


def b_for_rate(r: ArrayLike, p: ArrayLike, gain: ArrayLike, noise_psd: float) -> FloatArray:
    r"""Smallest bandwidth on which power :math:`p` reaches rate :math:`r` (:math:`\infty` if none).

    :math:`b \log_2(1 + a/b) = r` with :math:`a = g p / N_0`; with :math:`v = a/b`
    this is :math:`\psi(v) = a / (r \ln 2)` (FLMAR.md section 5.3, ``b_lo``). The rate
    is reachable only below the infinite-bandwidth limit :math:`a / \ln 2`.
    """
    a = _arr(gain) * _arr(p) / noise_psd
    r = _arr(r)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = a / (r * LN2)
        v = psi_inv(z)
        b = np.where(v > 0, a / np.where(v > 0, v, 1.0), np.inf)
    return np.where(r <= 0, 0.0, b)
