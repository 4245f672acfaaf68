"""Computation model: CPU time and dynamic CPU energy, vectorised over devices.

References
----------
[MEL-sync] Mohammad, U., Sorour, S. "Adaptive task allocation for mobile edge
learning" (Mohammad & Sorour, IEEE WCNCW 2019).
[MEL-async] Mohammad, U., Sorour, S., Hefeida, M. "Task allocation for
asynchronous mobile edge learning with delay and energy constraints"
(Mohammad, Sorour & Hefeida, arXiv:2012.00143).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edgealloc.errors import ValidationError

__all__ = ["cpu_energy_per_sample", "cpu_time", "kappa_energy"]

FloatArray = NDArray[np.float64]


def _out(x: FloatArray) -> FloatArray | float:
    return float(x) if x.ndim == 0 else x


def _checked(value: ArrayLike, field: str, *, strict: bool) -> FloatArray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, f"must be numeric (got {value!r})") from exc
    if np.isnan(arr).any():
        raise ValidationError(field, "must not be NaN")
    bad = (arr <= 0) if strict else (arr < 0)
    if bad.any():
        op = ">" if strict else ">="
        raise ValidationError(field, f"must be {op} 0 (got min {float(arr.min())!r})")
    return arr


def cpu_time(cycles: ArrayLike, cpu_hz: ArrayLike) -> FloatArray | float:
    """Time to execute `cycles` CPU cycles at clock `cpu_hz`, :math:`X / f` (s).

    With :math:`X_k = d_k C_m` this is the per-iteration compute time
    :math:`t_k^C = d_k C_m / f_k` of [MEL-sync] eq. (5) (and the
    :math:`C_k^2 = C_m / f_k` coefficient of [MEL-sync] eq. (9) /
    [MEL-async] eq. (11) when ``cycles`` is :math:`C_m`).

    Parameters
    ----------
    cycles
        Number of CPU cycles (or operations, one per cycle), >= 0.
    cpu_hz
        Clock frequency :math:`f` (Hz), > 0.

    Returns
    -------
    float or ndarray
        Time (s), broadcast shape of the inputs.

    Examples
    --------
    >>> cpu_time(2.4e9, 2.4e9)
    1.0
    """
    x = _checked(cycles, "cycles", strict=False)
    f = _checked(cpu_hz, "cpu_hz", strict=True)
    return _out(x / f)


def cpu_energy_per_sample(
    cycles_per_sample: ArrayLike, cpu_hz: ArrayLike, mu: ArrayLike, nu: ArrayLike
) -> FloatArray | float:
    """Energy of one learning iteration on one sample, :math:`\\mu C_m f^{\\nu-1}` (J).

    [MEL-async] eq. (8) gives the energy of one learning iteration on
    :math:`d_k` samples as :math:`e_k^C = \\mu X_k f_k^{\\nu-1} = \\mu d_k C_m
    f_k^{\\nu-1}`; this function returns the per-sample factor
    :math:`\\mu C_m f_k^{\\nu-1}`, which is the coefficient :math:`G_k^2` of
    [MEL-async] eq. (10) (multiply by :math:`d_k` and by the number of
    iterations :math:`\\tau_k`).

    The common model of dynamic CMOS energy, :math:`\\kappa f^2` joules per
    cycle (`kappa_energy`), is the case :math:`\\mu = \\kappa`, :math:`\\nu = 3`.

    Parameters
    ----------
    cycles_per_sample
        :math:`C_m`, CPU cycles (operations) per sample per iteration, >= 0.
    cpu_hz
        Clock frequency :math:`f` (Hz), > 0.
    mu
        :math:`\\mu`, the effective switched capacitance, >= 0 (the paper
        quotes :math:`10^{-11}` F).
    nu
        :math:`\\nu`, the frequency exponent (the paper quotes 2; 3 is the
        :math:`\\kappa f^2`-per-cycle model).

    Returns
    -------
    float or ndarray
        Energy (J) per sample per iteration.

    Notes
    -----
    Units: everything here is SI, so `cpu_hz` is in Hz. [MEL-async] states
    :math:`f_k` "in GHz" next to eq. (8); to reproduce its numbers with its
    :math:`\\mu`, pass ``mu * 1e-9 ** (nu - 1)`` (or equivalently keep the
    paper's :math:`\\mu` and divide `cpu_hz` by 1e9 yourself).

    Examples
    --------
    >>> round(cpu_energy_per_sample(1e9, 1e9, 1e-28, 3), 12)   # = kappa_energy(1e9, 1e9, 1e-28)
    0.1
    """
    c = _checked(cycles_per_sample, "cycles_per_sample", strict=False)
    f = _checked(cpu_hz, "cpu_hz", strict=True)
    m = _checked(mu, "mu", strict=False)
    try:
        n = np.asarray(nu, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValidationError("nu", f"must be numeric (got {nu!r})") from exc
    if not np.isfinite(n).all():
        raise ValidationError("nu", "must be finite")
    return _out(m * c * np.power(f, n - 1.0))


def kappa_energy(cycles: ArrayLike, cpu_hz: ArrayLike, kappa: ArrayLike) -> FloatArray | float:
    """Dynamic CPU energy of `cycles` cycles at clock `cpu_hz`, :math:`\\kappa X f^2` (J).

    The widely used CMOS model: each cycle costs :math:`\\kappa f^2` joules,
    with :math:`\\kappa` the effective switched capacitance (typically
    :math:`10^{-28}`--:math:`10^{-27}` with :math:`f` in Hz). It equals
    [MEL-async] eq. (8), :math:`\\mu X f^{\\nu-1}`, with :math:`\\mu = \\kappa`
    and :math:`\\nu = 3` (see `cpu_energy_per_sample`).

    Parameters
    ----------
    cycles
        Number of CPU cycles :math:`X`, >= 0.
    cpu_hz
        Clock frequency :math:`f` (Hz), > 0.
    kappa
        :math:`\\kappa` (J s\\ :sup:`2`), >= 0.

    Returns
    -------
    float or ndarray
        Energy (J), broadcast shape of the inputs.

    Examples
    --------
    >>> kappa_energy(1e9, 1e9, 1e-28)
    0.1
    """
    x = _checked(cycles, "cycles", strict=False)
    f = _checked(cpu_hz, "cpu_hz", strict=True)
    k = _checked(kappa, "kappa", strict=False)
    return _out(k * x * f * f)
