"""Unit conversions (decibels and powers), vectorised over NumPy arrays.

Everything in edgealloc is SI unless the name says otherwise
(``tx_power_dbm``, ``noise_psd_dbm_hz``, ``pathloss_db``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["db_to_linear", "dbm_to_w", "linear_to_db", "w_to_dbm"]

FloatArray = NDArray[np.float64]


def db_to_linear(db: ArrayLike) -> FloatArray | float:
    """Convert a power ratio in decibels to a linear ratio, ``10**(db/10)``.

    Examples
    --------
    >>> float(db_to_linear(30.0))
    1000.0
    """
    with np.errstate(over="ignore"):  # an absurd level is inf; validation names its field
        out = np.power(10.0, np.asarray(db, dtype=float) / 10.0)
    return float(out) if out.ndim == 0 else out


def linear_to_db(ratio: ArrayLike) -> FloatArray | float:
    """Convert a linear power ratio to decibels, ``10 log10(ratio)``.

    Examples
    --------
    >>> float(linear_to_db(1000.0))
    30.0
    """
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(np.asarray(ratio, dtype=float))
    return float(out) if out.ndim == 0 else out


def dbm_to_w(dbm: ArrayLike) -> FloatArray | float:
    """Convert a power in dBm to watts, ``10**((dbm - 30)/10)``.

    Examples
    --------
    >>> round(float(dbm_to_w(23.0)), 6)
    0.199526
    """
    with np.errstate(over="ignore"):  # an absurd level is inf; validation names its field
        out = np.power(10.0, (np.asarray(dbm, dtype=float) - 30.0) / 10.0)
    return float(out) if out.ndim == 0 else out


def w_to_dbm(watts: ArrayLike) -> FloatArray | float:
    """Convert a power in watts to dBm, ``10 log10(watts) + 30``.

    Examples
    --------
    >>> float(w_to_dbm(1.0))
    30.0
    """
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(np.asarray(watts, dtype=float)) + 30.0
    return float(out) if out.ndim == 0 else out
