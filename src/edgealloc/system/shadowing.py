"""Log-normal shadowing: a per-device random offset of the path loss, drawn once.

The FL-MAR paper ([FLMAR], Sec. VII-A) models each device's channel with the
path loss :math:`128.1 + 37.6\\log_{10} d_{km}` "along with the standard
deviation of shadow fading" of 8 dB. Shadowing is the slow, location
dependent part of the channel: one Gaussian draw in dB per device,

.. math:: PL_n = PL(d_n) + X_n, \\qquad X_n \\sim \\mathcal{N}(0, \\sigma^2)\\ \\text{dB},

so that the linear gain is :math:`g_n = 10^{-PL_n/10}` (its mean over the
small-scale fading, which the paper's rate (1) uses).

References
----------
[FLMAR] X. Zhou, C. Liu, J. Zhao, "Resource Allocation of Federated Learning
for the Metaverse with Mobile Augmented Reality", IEEE TWC 2023
(Zhou, Liu & Zhao, IEEE TWC 2023).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edgealloc.errors import ValidationError

__all__ = ["lognormal_shadowing_db", "shadowed_gain"]


def lognormal_shadowing_db(
    n: int, sigma_db: float, rng: np.random.Generator | int | None
) -> NDArray[np.float64]:
    """``n`` independent shadowing offsets :math:`X_n \\sim \\mathcal{N}(0, \\sigma^2)` in dB.

    Parameters
    ----------
    n
        Number of devices, >= 0.
    sigma_db
        Standard deviation (dB), >= 0 (0 gives zeros and draws nothing).
    rng
        Generator, seed or ``None``, normalised with `numpy.random.default_rng`.

    Examples
    --------
    >>> lognormal_shadowing_db(3, 0.0, 0).tolist()
    [0.0, 0.0, 0.0]
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValidationError("n", f"must be an integer >= 0 (got {n!r})")
    if isinstance(sigma_db, bool) or not isinstance(sigma_db, int | float | np.number):
        raise ValidationError("sigma_db", f"must be a number (got {sigma_db!r})")
    if not (math.isfinite(sigma_db) and sigma_db >= 0):
        raise ValidationError("sigma_db", f"must be finite and >= 0 (got {sigma_db!r})")
    if sigma_db == 0:
        return np.zeros(int(n))
    return np.random.default_rng(rng).normal(0.0, float(sigma_db), int(n))


def shadowed_gain(pathloss_db: ArrayLike, shadowing_db: ArrayLike) -> NDArray[np.float64]:
    """Linear power gain :math:`10^{-(PL + X)/10}` of a path loss plus shadowing (both dB)."""
    total = np.asarray(pathloss_db, dtype=float) + np.asarray(shadowing_db, dtype=float)
    with np.errstate(over="ignore"):  # an absurd gain is inf; the problem's check names it
        return np.power(10.0, -total / 10.0)
