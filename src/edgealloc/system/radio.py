"""Radio model: path loss, noise, and link rates, vectorised over devices.

The two MEL papers model the link between the orchestrator and learner
:math:`k` by the Shannon rate (sync paper [MEL-sync], eqs. (4), (6), (10),
(11); async paper [MEL-async], eqs. (7), (9), (11))

.. math:: R_k = W \\log_2\\left(1 + \\frac{P_{ko} h_{ko}}{N_0 W}\\right),

where the papers write the noise as :math:`N_0` but list it as a power
spectral density (dBm/Hz), so the noise power in the band is :math:`N_0 W`.
The channel power gain :math:`h_{ko}` comes from a path-loss model in the
papers' parameter tables (sync: ``7 + 2.1 log(R)`` dB; async: the cellular
model ``128 + 37.1 log(R)`` dB), both instances of `LogDistance`.

References
----------
[MEL-sync] Mohammad, U., Sorour, S. "Adaptive task allocation for mobile edge
learning" (Mohammad & Sorour, IEEE WCNCW 2019).
[MEL-async] Mohammad, U., Sorour, S., Hefeida, M. "Task allocation for
asynchronous mobile edge learning with delay and energy constraints"
(Mohammad, Sorour & Hefeida, arXiv:2012.00143).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import exp1

from edgealloc.errors import ValidationError
from edgealloc.units import dbm_to_w

__all__ = [
    "SPEED_OF_LIGHT",
    "FreeSpace",
    "LogDistance",
    "PathLoss",
    "beam_schedule_share",
    "capped_rate",
    "directivity_gain",
    "free_space_pathloss_db",
    "free_space_received_power",
    "link_rate",
    "noise_power_w",
    "pathloss_from_spec",
    "rayleigh_mean_rate",
    "shannon_rate",
]

FloatArray = NDArray[np.float64]

SPEED_OF_LIGHT = 299_792_458.0
"""Speed of light in vacuum (m/s)."""

_LN2 = math.log(2.0)


def _out(x: FloatArray) -> FloatArray | float:
    """Return a Python float for 0-d results and the array otherwise."""
    return float(x) if x.ndim == 0 else x


def _as_float(value: ArrayLike, field: str) -> FloatArray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, f"must be numeric (got {value!r})") from exc
    if np.isnan(arr).any():
        raise ValidationError(field, "must not be NaN")
    return arr


def _positive(value: ArrayLike, field: str) -> FloatArray:
    arr = _as_float(value, field)
    if (arr <= 0).any():
        raise ValidationError(field, f"must be > 0 (got min {float(arr.min())!r})")
    return arr


def _nonnegative(value: ArrayLike, field: str) -> FloatArray:
    arr = _as_float(value, field)
    if (arr < 0).any():
        raise ValidationError(field, f"must be >= 0 (got min {float(arr.min())!r})")
    return arr


# --------------------------------------------------------------------------- path loss


def free_space_pathloss_db(distance_m: ArrayLike, carrier_hz: ArrayLike) -> FloatArray | float:
    """Free-space (Friis) path loss in dB, :math:`20\\log_{10}(4\\pi d f / c)`.

    Parameters
    ----------
    distance_m
        Transmitter-receiver distance (m), > 0.
    carrier_hz
        Carrier frequency (Hz), > 0. Broadcasts against `distance_m`.

    Returns
    -------
    float or ndarray
        Path loss (dB). Values below 0 dB (distances shorter than
        :math:`c / (4\\pi f)`, i.e. inside the near field) are returned as
        computed, not clipped.

    Raises
    ------
    ValidationError
        If a distance or the carrier frequency is not > 0.

    Examples
    --------
    >>> round(free_space_pathloss_db(1000.0, 2.4e9), 2)
    100.05
    """
    d = _positive(distance_m, "distance_m")
    f = _positive(carrier_hz, "carrier_hz")
    return _out(20.0 * np.log10(4.0 * np.pi * d * f / SPEED_OF_LIGHT))


class PathLoss(ABC):
    """A distance-dependent path-loss model.

    Subclasses implement `db`; `gain` is the linear channel power gain
    :math:`h = 10^{-\\mathrm{PL_{dB}}/10}` used in the rate formulas.
    """

    @abstractmethod
    def db(self, distance_m: ArrayLike) -> FloatArray | float:
        """Path loss (dB) at `distance_m` (m, > 0)."""

    def gain(self, distance_m: ArrayLike) -> FloatArray | float:
        """Linear channel power gain, ``10**(-db(distance_m)/10)``.

        Parameters
        ----------
        distance_m
            Distance(s) in metres, > 0.

        Returns
        -------
        float or ndarray
            Power gain (dimensionless), same shape as `distance_m`.
        """
        return _out(np.power(10.0, -np.asarray(self.db(distance_m), dtype=float) / 10.0))


@dataclass(frozen=True, slots=True)
class LogDistance(PathLoss):
    """Log-distance path loss, :math:`PL = a + b \\log_{10}(d / d_0)` dB.

    Any constants: the sync paper's 802.11-type model ``7 + 2.1 log(R)``
    ([MEL-sync], Table I) is ``LogDistance(7.0, 2.1)`` as printed (with R in
    metres), and the 3GPP macro-cell model :math:`128.1 + 37.6\\log_{10}(d_{km})`
    is ``LogDistance(128.1, 37.6, ref_distance_m=1000.0)``. The async paper's
    cell model ``128 + 37.1 log(R)`` ([MEL-async], Table 1) is, by the
    same reading, ``LogDistance(128.0, 37.1, ref_distance_m=1000.0)``.

    Parameters
    ----------
    intercept_db
        :math:`a`, the loss at the reference distance (dB).
    slope_db
        :math:`b`, dB per decade of distance (10 times the path-loss exponent).
    ref_distance_m
        :math:`d_0` (m), > 0; the unit in which the formula takes distance.

    Examples
    --------
    >>> pl = LogDistance(128.1, 37.6, ref_distance_m=1000.0)
    >>> round(pl.db(500.0), 3)
    116.781
    """

    intercept_db: float
    slope_db: float
    ref_distance_m: float = 1.0

    def __post_init__(self) -> None:
        for name in ("intercept_db", "slope_db", "ref_distance_m"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise ValidationError(name, f"must be a real number (got {value!r})")
            if not math.isfinite(value):
                raise ValidationError(name, f"must be finite (got {value!r})")
            object.__setattr__(self, name, float(value))
        if self.ref_distance_m <= 0:
            raise ValidationError("ref_distance_m", f"must be > 0 (got {self.ref_distance_m!r})")

    def db(self, distance_m: ArrayLike) -> FloatArray | float:
        """Path loss (dB) at `distance_m` (m, > 0); see the class docstring."""
        d = _positive(distance_m, "distance_m")
        return _out(self.intercept_db + self.slope_db * np.log10(d / self.ref_distance_m))


@dataclass(frozen=True, slots=True)
class FreeSpace(PathLoss):
    """Free-space (Friis) path loss at a fixed carrier; see `free_space_pathloss_db`.

    Parameters
    ----------
    carrier_hz
        Carrier frequency (Hz), > 0.

    Examples
    --------
    >>> round(FreeSpace(2.4e9).db(1000.0), 2)
    100.05
    """

    carrier_hz: float

    def __post_init__(self) -> None:
        value = self.carrier_hz
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise ValidationError("carrier_hz", f"must be a real number (got {value!r})")
        if not (math.isfinite(value) and value > 0):
            raise ValidationError("carrier_hz", f"must be finite and > 0 (got {value!r})")
        object.__setattr__(self, "carrier_hz", float(value))

    def db(self, distance_m: ArrayLike) -> FloatArray | float:
        """Path loss (dB) at `distance_m` (m, > 0)."""
        return free_space_pathloss_db(distance_m, self.carrier_hz)


_SPEC_KEYS: dict[str, tuple[type[PathLoss], tuple[str, ...], tuple[str, ...]]] = {
    # model name: (class, required keys, optional keys)
    "log-distance": (LogDistance, ("intercept_db", "slope_db"), ("ref_distance_m",)),
    "free-space": (FreeSpace, ("carrier_hz",), ()),
}


def pathloss_from_spec(spec: Mapping[str, Any], *, field: str = "pathloss") -> PathLoss:
    """Build a path-loss model from a JSON/YAML-style mapping.

    Parameters
    ----------
    spec
        ``{"model": "log-distance", "intercept_db": a, "slope_db": b,
        "ref_distance_m": d0}`` (``ref_distance_m`` optional, default 1) or
        ``{"model": "free-space", "carrier_hz": f}``.
    field
        Dotted name of the mapping in the caller's configuration, used as
        the prefix of error fields.

    Returns
    -------
    PathLoss
        A `LogDistance` or `FreeSpace` instance.

    Raises
    ------
    ValidationError
        For a non-mapping, a missing, unknown or malformed model name (field
        ``"pathloss.model"``), a missing or unexpected key, or a bad value
        (field ``"pathloss.<key>"``).

    Examples
    --------
    >>> pathloss_from_spec({"model": "free-space", "carrier_hz": 2.4e9})
    FreeSpace(carrier_hz=2400000000.0)
    """
    if not isinstance(spec, Mapping):
        raise ValidationError(field, f"must be a mapping (got {type(spec).__name__})")
    known = ", ".join(sorted(_SPEC_KEYS))
    if "model" not in spec:
        raise ValidationError(f"{field}.model", f"is required (one of: {known})")
    model = spec["model"]
    if not isinstance(model, str) or model not in _SPEC_KEYS:
        raise ValidationError(f"{field}.model", f"unknown model {model!r} (known: {known})")
    cls, required, optional = _SPEC_KEYS[model]
    for key in required:
        if key not in spec:
            raise ValidationError(f"{field}.{key}", f"is required for model {model!r}")
    allowed = {"model", *required, *optional}
    for key in spec:
        if key not in allowed:
            raise ValidationError(
                f"{field}.{key}",
                f"unexpected key for model {model!r} (allowed: {', '.join(sorted(allowed))})",
            )
    kwargs = {key: spec[key] for key in (*required, *optional) if key in spec}
    try:
        return cls(**kwargs)
    except ValidationError as exc:
        raise ValidationError(f"{field}.{exc.field}", exc.problem) from None


# --------------------------------------------------------------------------- rates


def noise_power_w(noise_psd_dbm_hz: ArrayLike, bandwidth_hz: ArrayLike) -> FloatArray | float:
    """Thermal noise power in a band, :math:`N_0 W` (W).

    Parameters
    ----------
    noise_psd_dbm_hz
        Noise power spectral density :math:`N_0` (dBm/Hz), e.g. -174.
    bandwidth_hz
        Bandwidth :math:`W` (Hz), >= 0.

    Returns
    -------
    float or ndarray
        Noise power (W).

    Examples
    --------
    >>> f"{noise_power_w(-174.0, 5e6):.4e}"
    '1.9905e-14'
    """
    psd = _as_float(noise_psd_dbm_hz, "noise_psd_dbm_hz")
    w = _nonnegative(bandwidth_hz, "bandwidth_hz")
    return _out(np.asarray(dbm_to_w(psd)) * w)


def shannon_rate(bandwidth_hz: ArrayLike, snr: ArrayLike) -> FloatArray | float:
    """Shannon capacity :math:`W \\log_2(1 + \\mathrm{SNR})` (bit/s).

    The denominator of [MEL-sync] eqs. (4), (6), (10), (11) and
    [MEL-async] eqs. (7), (9), (11). Computed with ``log1p`` so that tiny
    SNRs keep full relative precision.

    Parameters
    ----------
    bandwidth_hz
        Bandwidth :math:`W` (Hz), >= 0.
    snr
        Linear signal-to-noise ratio, >= 0 (``inf`` gives ``inf``).

    Returns
    -------
    float or ndarray
        Rate (bit/s), broadcast shape of the inputs.

    Examples
    --------
    >>> shannon_rate(1e6, 1.0)
    1000000.0
    """
    w = _nonnegative(bandwidth_hz, "bandwidth_hz")
    s = _nonnegative(snr, "snr")
    return _out(w * np.log1p(s) / _LN2)


# Above this x = 1/mean_snr, e^x E1(x) comes from its continued fraction
# instead of exp(x) * exp1(x) (which would overflow / underflow near x ~ 700).
_CF_THRESHOLD = 50.0
_CF_TERMS = 40


def _scaled_exp1(x: FloatArray) -> FloatArray:
    """Return :math:`e^x E_1(x)` for ``x >= 0`` (``+inf`` at 0, 0 at ``+inf``).

    For ``x < 50``, ``exp(x) * exp1(x)`` is accurate (no overflow). For
    larger ``x`` the even contraction of the continued fraction (Abramowitz
    & Stegun 5.1.22)

    .. math:: e^x E_1(x) = \\cfrac{1}{x + 1 - \\cfrac{1^2}{x + 3 - \\cfrac{2^2}{x + 5 - \\cdots}}}

    is evaluated bottom-up with a fixed depth of 40, which at ``x >= 50``
    converges to machine precision.
    """
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    small = x < _CF_THRESHOLD
    xs = x[small]
    with np.errstate(over="ignore", invalid="ignore"):
        out[small] = np.exp(xs) * exp1(xs)
    xl = x[~small]
    finite = np.isfinite(xl)
    xf = np.where(finite, xl, _CF_THRESHOLD)
    tail = np.zeros_like(xf)
    for k in range(_CF_TERMS, 0, -1):  # loop over CF depth, vectorised over devices
        tail = (k * k) / (xf + (2 * k + 1) - tail)
    out[~small] = np.where(finite, 1.0 / (xf + 1.0 - tail), 0.0)
    return out


def rayleigh_mean_rate(bandwidth_hz: ArrayLike, mean_snr: ArrayLike) -> FloatArray | float:
    """Exact ergodic rate under Rayleigh fading, :math:`E[W\\log_2(1 + \\bar s X)]` (bit/s).

    With :math:`X \\sim \\mathrm{Exp}(1)` the (unit-mean) power fading of a
    Rayleigh channel and :math:`\\bar s` the mean SNR,

    .. math:: E[W \\log_2(1 + \\bar s X)] = \\frac{W}{\\ln 2}\\, e^{1/\\bar s} E_1(1/\\bar s),

    with :math:`E_1` the exponential integral. The product
    :math:`e^{x}E_1(x)`, :math:`x = 1/\\bar s`, is evaluated in a scaled form
    (see ``_scaled_exp1``) so that it stays accurate from
    :math:`\\bar s = 10^{-8}` (where the rate is :math:`\\approx W\\bar s/\\ln 2`)
    to :math:`\\bar s = 10^{14}` (where it is
    :math:`\\approx W(\\log_2 \\bar s - \\gamma/\\ln 2)`). By Jensen's
    inequality it never exceeds ``shannon_rate(bandwidth_hz, mean_snr)``.

    Parameters
    ----------
    bandwidth_hz
        Bandwidth :math:`W` (Hz), >= 0.
    mean_snr
        Mean linear SNR :math:`\\bar s`, >= 0 (0 gives rate 0).

    Returns
    -------
    float or ndarray
        Mean rate (bit/s), broadcast shape of the inputs.

    Examples
    --------
    >>> round(rayleigh_mean_rate(1.0, 1.0), 6)   # e E1(1) / ln 2
    0.860347
    """
    w = _nonnegative(bandwidth_hz, "bandwidth_hz")
    s = _nonnegative(mean_snr, "mean_snr")
    with np.errstate(divide="ignore", over="ignore"):
        x = np.where(s > 0, 1.0 / np.where(s > 0, s, 1.0), np.inf)
    # e^x E1(x) = s (1 - s + 2 s^2 - ...): where 1/s overflows (s < ~5.6e-309), use s
    scaled = np.where(np.isinf(x), s, _scaled_exp1(x))
    return _out(w * scaled / _LN2)


def link_rate(
    tx_power_w: ArrayLike,
    gain: ArrayLike,
    bandwidth_hz: ArrayLike,
    noise_psd_dbm_hz: ArrayLike,
    *,
    fading: Literal["none", "rayleigh"] = "none",
) -> FloatArray | float:
    """Link rate from transmit power, channel gain, bandwidth and noise (bit/s).

    :math:`\\mathrm{SNR} = P h / (N_0 W)`, then `shannon_rate` (no fading:
    [MEL-sync] eq. (4), [MEL-async] eq. (7)) or `rayleigh_mean_rate`
    (``fading="rayleigh"``: `gain` is the mean power gain).

    Parameters
    ----------
    tx_power_w
        Transmit power :math:`P` (W), >= 0.
    gain
        Channel power gain :math:`h` (linear), >= 0, e.g. from `PathLoss.gain`.
    bandwidth_hz
        Bandwidth :math:`W` (Hz), > 0.
    noise_psd_dbm_hz
        Noise power spectral density :math:`N_0` (dBm/Hz).
    fading
        ``"none"`` or ``"rayleigh"``.

    Returns
    -------
    float or ndarray
        Rate (bit/s), broadcast shape of the inputs.

    Raises
    ------
    ValidationError
        For negative powers or gains, non-positive bandwidth, or an unknown
        `fading`.

    Examples
    --------
    >>> f"{link_rate(0.2, 1e-10, 5e6, -174.0):.4e}"
    '4.9870e+07'
    """
    if fading not in ("none", "rayleigh"):
        raise ValidationError("fading", f"must be 'none' or 'rayleigh' (got {fading!r})")
    p = _nonnegative(tx_power_w, "tx_power_w")
    h = _nonnegative(gain, "gain")
    w = _positive(bandwidth_hz, "bandwidth_hz")
    snr = p * h / np.asarray(noise_power_w(noise_psd_dbm_hz, w))
    if fading == "rayleigh":
        return rayleigh_mean_rate(w, snr)
    return shannon_rate(w, snr)


# --------------------------------------------------------------------------- 60 GHz D2D links
#
# [XR] Collaborative machine learning in XR with server and D2D
# offloading (the XR offloading paper), Section IV-A and Table I.


def directivity_gain(beamwidth_rad: ArrayLike) -> FloatArray | float:
    """Directivity of an ideal cone beam, :math:`G = 2 / (1 - \\cos(\\theta/2))`.

    [XR] Section IV-A: "We calculate the transmit directivity gain using the
    approximation :math:`G_{tx} = 2/(1 - \\cos\\frac{\\theta}{2})`", with
    :math:`\\theta` the half-power beamwidth. It is :math:`4\\pi / \\Omega`
    for all power radiated uniformly into a cone of half-angle
    :math:`\\theta/2` (solid angle :math:`\\Omega = 2\\pi(1 - \\cos\\frac{\\theta}{2})`),
    accurate for narrow beams; :math:`\\theta = 2\\pi` gives 1 (isotropic).

    Parameters
    ----------
    beamwidth_rad
        Half-power beamwidth :math:`\\theta` (rad), in :math:`(0, 2\\pi]`.

    Returns
    -------
    float or ndarray
        Linear power gain, >= 1.

    Raises
    ------
    ValidationError
        If a beamwidth is not in :math:`(0, 2\\pi]` (field ``"beamwidth_rad"``).

    Examples
    --------
    >>> import math
    >>> round(10 * math.log10(directivity_gain(math.radians(30.0))), 2)  # Table I: 30 deg
    17.69
    """
    theta = _positive(beamwidth_rad, "beamwidth_rad")
    if (theta > 2.0 * np.pi * (1 + 1e-12)).any():
        raise ValidationError("beamwidth_rad", f"must be <= 2 pi (got max {float(theta.max())!r})")
    return _out(2.0 / (1.0 - np.cos(np.minimum(theta, 2.0 * np.pi) / 2.0)))


def free_space_received_power(
    tx_power_w: ArrayLike,
    distance_m: ArrayLike,
    carrier_hz: ArrayLike,
    *,
    tx_gain: ArrayLike = 1.0,
    rx_gain: ArrayLike = 1.0,
) -> FloatArray | float:
    """Friis received power, :math:`P_{rx} = P_{tx} G_{tx} G_{rx} (\\lambda / (4\\pi d))^2` (W).

    [XR] Section IV-A (free-space path loss of the 60 GHz D2D links), with
    :math:`\\lambda = c / f`. Equivalent to ``tx_power_w * tx_gain * rx_gain
    * FreeSpace(carrier_hz).gain(distance_m)``.

    Parameters
    ----------
    tx_power_w
        Transmit power :math:`P_{tx}` (W), >= 0.
    distance_m
        Distance :math:`d` (m), > 0.
    carrier_hz
        Carrier frequency (Hz), > 0.
    tx_gain, rx_gain
        Linear antenna gains :math:`G_{tx}, G_{rx}` (> 0), e.g. from
        `directivity_gain`.

    Returns
    -------
    float or ndarray
        Received power (W), broadcast shape of the inputs.

    Examples
    --------
    >>> p = free_space_received_power(1e-3, 10.0, 60e9)  # 0 dBm, isotropic, 10 m
    >>> round(10 * math.log10(p / 1e-3), 2)             # dBm: minus the 88 dB path loss
    -88.01
    """
    p = _nonnegative(tx_power_w, "tx_power_w")
    d = _positive(distance_m, "distance_m")
    f = _positive(carrier_hz, "carrier_hz")
    g_tx = _positive(tx_gain, "tx_gain")
    g_rx = _positive(rx_gain, "rx_gain")
    wavelength = SPEED_OF_LIGHT / f
    return _out(p * g_tx * g_rx * (wavelength / (4.0 * np.pi * d)) ** 2)


def capped_rate(
    bandwidth_hz: ArrayLike,
    snr: ArrayLike,
    *,
    max_snr: ArrayLike = np.inf,
    share: ArrayLike = 1.0,
) -> FloatArray | float:
    """Shannon rate with an SNR cap and a time share, :math:`\\rho W \\log_2(1 + \\min(S_m, S))`.

    [XR] Section IV-A: :math:`r_{ij} = \\rho(N) W \\log_2(1 + \\min(\\mathrm{SNR}_{max},
    P_{rx}/N_0))` with :math:`N_0` the noise *power*. The cap models the
    highest modulation and coding scheme of a real radio.

    Parameters
    ----------
    bandwidth_hz
        Bandwidth :math:`W` (Hz), >= 0.
    snr
        Linear SNR, >= 0.
    max_snr
        Linear SNR cap :math:`\\mathrm{SNR}_{max}` (> 0; default no cap).
    share
        :math:`\\rho \\in (0, 1]`, the share of time the link is active
        (see `beam_schedule_share`).

    Returns
    -------
    float or ndarray
        Rate (bit/s), broadcast shape of the inputs.

    Examples
    --------
    >>> capped_rate(1e9, 1e6, max_snr=63.0, share=0.5)  # 0.5 * 1 GHz * log2(64)
    3000000000.0
    """
    w = _nonnegative(bandwidth_hz, "bandwidth_hz")
    s = _nonnegative(snr, "snr")
    cap = _positive(max_snr, "max_snr")
    rho = _positive(share, "share")
    if (rho > 1).any():
        raise ValidationError("share", f"must be in (0, 1] (got max {float(rho.max())!r})")
    return _out(rho * w * np.log1p(np.minimum(s, cap)) / _LN2)


def beam_schedule_share(n_users: ArrayLike, beams: ArrayLike) -> FloatArray | float:
    """Share of time a user's D2D links are active, :math:`\\rho(N) = \\min(1, B / N)`.

    [XR] Section IV-A introduces :math:`\\rho(N) \\in (0, 1]`, "the rate loss
    introduced by a clustering algorithm that achieves near-zero interference
    between the simultaneously active links", estimated numerically and given
    no formula. This is edgealloc's model of it: an interference-free
    schedule lets at most :math:`B` users transmit at once in the deployment
    area (e.g. one per non-overlapping beam sector, :math:`B = 2\\pi/\\theta`,
    12 for 30 deg beams); served in turn (fluid round robin), each of the
    :math:`N` users is active a share :math:`\\min(1, B/N)` of the time. It is
    1 for :math:`N \\le B` and falls as :math:`1/N` beyond.

    Parameters
    ----------
    n_users
        Number of users :math:`N`, >= 1.
    beams
        Simultaneous interference-free transmitters :math:`B` (> 0).

    Returns
    -------
    float or ndarray
        :math:`\\rho(N) \\in (0, 1]`.

    Examples
    --------
    >>> beam_schedule_share(20, 12), beam_schedule_share(6, 12)
    (0.6, 1.0)
    """
    n = _as_float(n_users, "n_users")
    if (n < 1).any():
        raise ValidationError("n_users", f"must be >= 1 (got min {float(n.min())!r})")
    b = _positive(beams, "beams")
    return _out(np.minimum(1.0, b / n))
