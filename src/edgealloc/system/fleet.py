"""Fleets: per-device columns (class, clock, power, distance) and their generators.

A `Fleet` is a set of learners around an orchestrator at the origin, stored
column-wise as NumPy arrays so that the radio and compute models apply to all
devices at once.

References
----------
[MEL-sync] Mohammad, U., Sorour, S. "Adaptive task allocation for mobile edge
learning" (Mohammad & Sorour, IEEE WCNCW 2019), Section V-A.
[MEL-async] Mohammad, U., Sorour, S., Hefeida, M. "Task allocation for
asynchronous mobile edge learning with delay and energy constraints"
(Mohammad, Sorour & Hefeida, arXiv:2012.00143), Section 5.1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edgealloc.errors import ValidationError
from edgealloc.system.devices import device_class
from edgealloc.system.radio import PathLoss
from edgealloc.units import dbm_to_w, w_to_dbm

__all__ = ["Fleet", "assign_classes", "class_counts", "heterogeneity", "uniform_disc"]

FloatArray = NDArray[np.float64]
SeedLike = np.random.Generator | int | None


def _count(n: Any, field: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValidationError(field, f"must be a non-negative integer (got {n!r})")
    return int(n)


def _real(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValidationError(field, f"must be a real number (got {value!r})")
    value = float(value)
    if not math.isfinite(value):
        raise ValidationError(field, f"must be finite (got {value!r})")
    return value


def uniform_disc(
    n: int, radius_m: float, rng: SeedLike, *, min_distance_m: float = 1.0
) -> tuple[FloatArray, FloatArray]:
    """Drop `n` devices uniformly over a disc around the orchestrator.

    The papers place their learners in a disc of radius :math:`R` (50 m in
    [MEL-sync], 500 m in [MEL-async]). Uniform over the *area* means the
    radius is drawn as :math:`r = R\\sqrt{U}` and the angle as
    :math:`\\theta = 2\\pi V`, :math:`U, V \\sim \\mathcal{U}(0, 1)`.

    Parameters
    ----------
    n
        Number of devices, >= 0.
    radius_m
        Disc radius :math:`R` (m), > 0.
    rng
        A `numpy.random.Generator`, a seed, or ``None`` (fresh entropy);
        normalised with `numpy.random.default_rng`.
    min_distance_m
        Distances are clipped below at this value (m), ``0 <= min <= R``, so
        that path-loss models (singular at 0) stay finite.

    Returns
    -------
    positions : ndarray, shape (n, 2)
        Sampled points (m), orchestrator at the origin (not clipped).
    distances : ndarray, shape (n,)
        ``max(|position|, min_distance_m)`` (m).

    Examples
    --------
    >>> pos, d = uniform_disc(3, 50.0, 0)
    >>> pos.shape, bool((d <= 50.0).all())
    ((3, 2), True)
    """
    n = _count(n)
    radius = _real(radius_m, "radius_m")
    if radius <= 0:
        raise ValidationError("radius_m", f"must be > 0 (got {radius!r})")
    dmin = _real(min_distance_m, "min_distance_m")
    if not 0 <= dmin <= radius:
        raise ValidationError(
            "min_distance_m", f"must be in [0, radius_m={radius!r}] (got {dmin!r})"
        )
    gen = np.random.default_rng(rng)
    u = gen.random((2, n))
    r = radius * np.sqrt(u[0])
    theta = 2.0 * np.pi * u[1]
    positions = np.column_stack((r * np.cos(theta), r * np.sin(theta)))
    return positions, np.maximum(r, dmin)


def class_counts(n: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Split `n` devices among classes by the largest-remainder method.

    Parameters
    ----------
    n
        Number of devices, >= 0.
    shares
        Class name -> share, each >= 0 and not all 0; normalised by their sum
        (so ``{"laptop": 1, "phone": 1}`` means half and half).

    Returns
    -------
    dict[str, int]
        Counts in the order of `shares`, summing to `n`. Each class first
        gets :math:`\\lfloor n p_c \\rfloor`; the remaining devices go one
        each to the classes with the largest remainders, ties broken by the
        order of `shares` (deterministic). A class with share 0 gets 0.

    Raises
    ------
    ValidationError
        For a negative `n`, empty shares, or a negative / non-finite / all-zero
        share (field ``"shares"`` or ``"shares.<name>"``).

    Examples
    --------
    >>> class_counts(10, {"laptop": 1, "phone": 1, "arduino": 1})
    {'laptop': 4, 'phone': 3, 'arduino': 3}
    """
    n = _count(n)
    if not isinstance(shares, Mapping) or len(shares) == 0:
        raise ValidationError("shares", "must be a non-empty mapping of class name -> share")
    names = list(shares)
    weights = np.array([_real(shares[k], f"shares.{k}") for k in names])
    for k, w in zip(names, weights, strict=True):
        if w < 0:
            raise ValidationError(f"shares.{k}", f"must be >= 0 (got {w!r})")
    total = weights.sum()
    if total <= 0:
        raise ValidationError("shares", "at least one share must be > 0")
    quotas = n * (weights / total)
    base = np.floor(quotas).astype(np.int64)
    remainder = np.where(weights > 0, quotas - base, -1.0)
    left = n - int(base.sum())
    order = np.argsort(-remainder, kind="stable")
    base[order[:left]] += 1
    return {k: int(c) for k, c in zip(names, base, strict=True)}


def assign_classes(n: int, shares: Mapping[str, float]) -> NDArray[np.str_]:
    """Class of each of `n` devices, in contiguous blocks in the order of `shares`.

    Parameters
    ----------
    n, shares
        As in `class_counts`.

    Returns
    -------
    ndarray of str, shape (n,)

    Examples
    --------
    >>> assign_classes(4, {"laptop": 0.5, "arduino": 0.5}).tolist()
    ['laptop', 'laptop', 'arduino', 'arduino']
    """
    counts = class_counts(n, shares)
    names = np.array(list(counts), dtype=np.str_)
    return np.repeat(names, list(counts.values()))


def _readonly(arr: NDArray[Any]) -> NDArray[Any]:
    arr = np.array(arr, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False, slots=True)
class Fleet:
    """Learners around an orchestrator at the origin, stored column-wise.

    All columns are read-only NumPy arrays of length ``len(fleet)``.

    Parameters
    ----------
    names
        Unique device identifiers (str).
    classes
        Device class of each device (str), e.g. ``"phone"``.
    cpu_hz
        Clock frequency :math:`f_k` (Hz), > 0.
    tx_power_w
        Transmit power :math:`P_k` (W), >= 0.
    distance_m
        Distance to the orchestrator (m), > 0.
    positions
        Positions (m), shape ``(n, 2)``.
    """

    names: NDArray[np.str_]
    classes: NDArray[np.str_]
    cpu_hz: FloatArray
    tx_power_w: FloatArray
    distance_m: FloatArray
    positions: FloatArray

    def __post_init__(self) -> None:
        cols: dict[str, NDArray[Any]] = {
            "names": np.asarray(self.names, dtype=np.str_),
            "classes": np.asarray(self.classes, dtype=np.str_),
        }
        for name in ("cpu_hz", "tx_power_w", "distance_m", "positions"):
            try:
                cols[name] = np.asarray(getattr(self, name), dtype=float)
            except (TypeError, ValueError) as exc:
                raise ValidationError(name, "must be numeric") from exc
        n = cols["names"].shape[0] if cols["names"].ndim == 1 else -1
        for name, arr in cols.items():
            shape = (n, 2) if name == "positions" else (n,)
            if n < 0 or arr.shape != shape:
                raise ValidationError(
                    name, f"must have shape {shape} (got {arr.shape}) to match 'names'"
                )
        if len(np.unique(cols["names"])) != n:
            raise ValidationError("names", "must be unique")
        if not np.isfinite(cols["positions"]).all():
            raise ValidationError("positions", "must be finite")
        for name, strict in (("cpu_hz", True), ("tx_power_w", False), ("distance_m", True)):
            arr = cols[name]
            bad = ~np.isfinite(arr) | ((arr <= 0) if strict else (arr < 0))
            if bad.any():
                i = int(np.argmax(bad))
                op = ">" if strict else ">="
                raise ValidationError(
                    f"{name}[{i}]", f"must be finite and {op} 0 (got {float(arr[i])!r})"
                )
        for name, arr in cols.items():
            object.__setattr__(self, name, _readonly(arr))

    def __len__(self) -> int:
        return int(self.names.shape[0])

    @property
    def tx_power_dbm(self) -> FloatArray:
        """Transmit power of each device (dBm)."""
        return np.asarray(w_to_dbm(self.tx_power_w), dtype=float)

    def gains(self, pathloss: PathLoss) -> FloatArray:
        """Channel power gain :math:`h_{ko}` of each device under `pathloss`.

        Parameters
        ----------
        pathloss
            A path-loss model (`LogDistance`, `FreeSpace`, ...).

        Returns
        -------
        ndarray, shape (n,)
            Linear power gains, ``pathloss.gain(distance_m)``.
        """
        return np.asarray(pathloss.gain(self.distance_m), dtype=float).reshape(len(self))

    @classmethod
    def generate(
        cls,
        n: int,
        *,
        radius_m: float,
        shares: Mapping[str, float],
        rng: SeedLike,
        cpu_hz_override: Mapping[str, float] | None = None,
        tx_power_dbm: ArrayLike | None = None,
        min_distance_m: float = 1.0,
    ) -> Fleet:
        """Generate a fleet as in the papers' simulations.

        Devices are split among the registered device classes by
        `class_counts` (in blocks, in the order of `shares`), given their
        class's clock and transmit power, and dropped by `uniform_disc`. For
        [MEL-sync] Section V-A: ``Fleet.generate(K, radius_m=50,
        shares={"phone": 0.5, "arduino": 0.5}, rng=seed)`` (2.4 GHz and
        700 MHz halves); for [MEL-async] Section 5.1: ``radius_m=500`` and the
        four classes.

        Parameters
        ----------
        n
            Number of devices, >= 0.
        radius_m
            Disc radius (m).
        shares
            Device class name -> share (see `class_counts`); names must be in
            `DEVICE_CLASSES`.
        rng
            Generator, seed or ``None``, used only for the positions.
        cpu_hz_override
            Class name -> clock (Hz) replacing the registry's clock for that
            class.
        tx_power_dbm
            Transmit power (dBm), scalar or one per device; default: each
            class's own.
        min_distance_m
            Lower clip on distances (m), see `uniform_disc`.

        Returns
        -------
        Fleet
            Device ``j`` of class ``c`` (counting within the class) is named
            ``f"{c}-{j}"``.

        Raises
        ------
        ValidationError
            For unknown classes (field ``"shares.<name>"`` or
            ``"cpu_hz_override.<name>"``) or bad values.

        Examples
        --------
        >>> fleet = Fleet.generate(4, radius_m=50.0, shares={"phone": 1, "arduino": 1}, rng=0)
        >>> fleet.names.tolist(), fleet.cpu_hz.tolist()
        (['phone-0', 'phone-1', 'arduino-0', 'arduino-1'], [2400000000.0, 2400000000.0, 700000000.0, 700000000.0])
        """  # noqa: E501
        n = _count(n)
        counts = class_counts(n, shares)
        specs = {}
        for name in counts:
            try:
                specs[name] = device_class(name)
            except ValidationError as exc:
                raise ValidationError(f"shares.{name}", exc.problem) from None
        clocks = {name: spec.cpu_hz for name, spec in specs.items()}
        for name, hz in (cpu_hz_override or {}).items():
            try:
                device_class(name)
            except ValidationError as exc:
                raise ValidationError(f"cpu_hz_override.{name}", exc.problem) from None
            value = _real(hz, f"cpu_hz_override.{name}")
            if value <= 0:
                raise ValidationError(f"cpu_hz_override.{name}", f"must be > 0 (got {value!r})")
            if name in clocks:
                clocks[name] = value
        sizes = list(counts.values())
        classes = np.repeat(np.array(list(counts), dtype=np.str_), sizes)
        within = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        names = np.char.add(np.char.add(classes, "-"), within.astype(np.str_))
        cpu_hz = np.repeat([clocks[c] for c in counts], sizes).astype(float)
        if tx_power_dbm is None:
            dbm = np.repeat([specs[c].tx_power_dbm for c in counts], sizes).astype(float)
        else:
            try:
                dbm = np.broadcast_to(np.asarray(tx_power_dbm, dtype=float), (n,))
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    "tx_power_dbm", f"must be a number or {n} numbers (got {tx_power_dbm!r})"
                ) from exc
            if not np.isfinite(dbm).all():
                raise ValidationError("tx_power_dbm", "must be finite")
        positions, distances = uniform_disc(n, radius_m, rng, min_distance_m=min_distance_m)
        return cls(
            names=names,
            classes=classes,
            cpu_hz=cpu_hz,
            tx_power_w=np.asarray(dbm_to_w(dbm), dtype=float).reshape(n),
            distance_m=distances,
            positions=positions,
        )


def heterogeneity(n: int, eta: float, s: float) -> FloatArray:
    """Relative capacities of eq. (2) of [XR], the heterogeneity function.

    .. math:: C_i = \\eta \\left(1 - \\left(\\frac{i - 1}{N - 1}\\right)^s\\right)^{1/s}
              + (1 - \\eta), \\qquad i = 1, \\dots, N,

    with :math:`\\eta \\in [0, 1]` the heterogeneity factor and :math:`s > 0`
    the steepness. The profile falls from :math:`C_1 = 1` to
    :math:`C_N = 1 - \\eta`; a larger :math:`s` bulges it outwards (the
    curve is a quarter of the unit :math:`L^s` circle), so more users are
    strong: "increasing s results in a larger share of strong users". A
    user's capacity is then :math:`a_i = C^{(a)}_i a_{max}`,
    :math:`r_i = C^{(r)}_i r_{max}`.

    Note that eq. (2) gives :math:`C \\in [1 - \\eta, 1]`, so
    :math:`a_{min} = (1 - \\eta) a_{max}`, while the text right after it
    says :math:`a_{min} = \\eta a_{max}`. The two agree only at
    :math:`\\eta = 1/2`; we follow eq. (2), under which :math:`\\eta = 0` is
    the homogeneous system and larger :math:`\\eta` more heterogeneity (the
    reading Figs. 2-3 need, where :math:`\\eta` is called the heterogeneity
    factor).

    Parameters
    ----------
    n
        Number of users :math:`N` >= 0. For :math:`N = 1` the single user
        gets :math:`C_1 = 1` (the ratio :math:`(i-1)/(N-1)` is taken as 0).
    eta
        Heterogeneity factor :math:`\\eta \\in [0, 1]`.
    s
        Heterogeneity steepness :math:`s > 0` (finite).

    Returns
    -------
    ndarray, shape (n,)
        :math:`C_1 \\ge C_2 \\ge \\dots \\ge C_N`, in :math:`[1 - \\eta, 1]`.

    Raises
    ------
    ValidationError
        For a bad `n` (field ``"n"``), `eta` outside [0, 1] (``"eta"``) or a
        non-positive / non-finite `s` (``"s"``).

    References
    ----------
    [XR] Collaborative machine learning in XR with server and D2D
    offloading (the XR offloading paper), Section IV-A, eq. (2), Fig. 1.

    Examples
    --------
    >>> heterogeneity(3, 0.5, 1.0).tolist()   # s = 1: a straight line from 1 to 1 - eta
    [1.0, 0.75, 0.5]
    """
    n = _count(n)
    eta = _real(eta, "eta")
    if not 0.0 <= eta <= 1.0:
        raise ValidationError("eta", f"must be in [0, 1] (got {eta!r})")
    s = _real(s, "s")
    if s <= 0:
        raise ValidationError("s", f"must be > 0 (got {s!r})")
    x = np.arange(n, dtype=float) / max(n - 1, 1)
    with np.errstate(divide="ignore"):
        # 1 - x^s = -expm1(s ln x), accurate for x^s near 1; x = 0 gives ln 0 = -inf -> 1
        inner = -np.expm1(s * np.log(x))
    return eta * np.power(inner, 1.0 / s) + (1.0 - eta)
