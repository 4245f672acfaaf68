"""Tests of edgealloc.system.radio: path loss, noise and link rates."""

from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate

import edgealloc.system.radio as radio
from edgealloc.errors import ValidationError
from edgealloc.system import (
    FreeSpace,
    LogDistance,
    PathLoss,
    free_space_pathloss_db,
    link_rate,
    noise_power_w,
    pathloss_from_spec,
    rayleigh_mean_rate,
    shannon_rate,
)

LN2 = math.log(2.0)
EULER_GAMMA = 0.5772156649015329

snrs = st.floats(min_value=0.0, max_value=1e14, allow_nan=False)
positive_snrs = st.floats(min_value=1e-8, max_value=1e14)


def test_doctests() -> None:
    result = doctest.testmod(radio)
    assert result.attempted > 0
    assert result.failed == 0


# --------------------------------------------------------------------------- path loss


def test_free_space_known_value() -> None:
    # FSPL(dB) = 20 log10(d_km) + 20 log10(f_MHz) + 32.45 (the textbook constant)
    expected = 20 * math.log10(1.0) + 20 * math.log10(2400.0) + 32.4478
    assert free_space_pathloss_db(1000.0, 2.4e9) == pytest.approx(expected, abs=1e-3)


def test_free_space_broadcasts_and_doubles_distance_adds_6db() -> None:
    d = np.array([[10.0, 20.0], [40.0, 80.0]])
    out = free_space_pathloss_db(d, 5.8e9)
    assert isinstance(out, np.ndarray)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(np.diff(out.ravel()), 20 * math.log10(2.0))
    both = free_space_pathloss_db(100.0, np.array([1e9, 2e9]))
    assert both[1] - both[0] == pytest.approx(20 * math.log10(2.0))


@pytest.mark.parametrize(("d", "f"), [(0.0, 1e9), (-1.0, 1e9), (1.0, 0.0), (np.nan, 1e9)])
def test_free_space_rejects_bad_input(d: float, f: float) -> None:
    with pytest.raises(ValidationError):
        free_space_pathloss_db(d, f)


def test_log_distance_3gpp_macro() -> None:
    pl = LogDistance(128.1, 37.6, ref_distance_m=1000.0)
    assert pl.db(1000.0) == pytest.approx(128.1)
    assert pl.db(10_000.0) == pytest.approx(165.7)
    d = np.array([100.0, 250.0, 500.0])
    np.testing.assert_allclose(pl.db(d), 128.1 + 37.6 * np.log10(d / 1000.0))
    np.testing.assert_allclose(pl.gain(d), 10 ** (-(128.1 + 37.6 * np.log10(d / 1000.0)) / 10))


def test_log_distance_default_reference_is_one_metre() -> None:
    pl = LogDistance(7.0, 2.1)
    assert pl.ref_distance_m == 1.0
    assert pl.db(1.0) == pytest.approx(7.0)
    assert pl.db(10.0) == pytest.approx(9.1)
    assert isinstance(pl, PathLoss)
    assert isinstance(pl.db(10.0), float)
    assert isinstance(pl.gain(10.0), float)


def test_log_distance_is_frozen_and_hashable() -> None:
    pl = LogDistance(1.0, 2.0)
    with pytest.raises(AttributeError):
        pl.slope_db = 3.0  # type: ignore[misc]
    assert pl == LogDistance(1, 2)
    assert hash(pl) == hash(LogDistance(1.0, 2.0, 1.0))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"intercept_db": 1.0, "slope_db": 2.0, "ref_distance_m": 0.0}, "ref_distance_m"),
        ({"intercept_db": 1.0, "slope_db": 2.0, "ref_distance_m": -5.0}, "ref_distance_m"),
        ({"intercept_db": math.nan, "slope_db": 2.0}, "intercept_db"),
        ({"intercept_db": 1.0, "slope_db": math.inf}, "slope_db"),
        ({"intercept_db": "1", "slope_db": 2.0}, "intercept_db"),
        ({"intercept_db": True, "slope_db": 2.0}, "intercept_db"),
    ],
)
def test_log_distance_validation(kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        LogDistance(**kwargs)
    assert info.value.field == field


def test_log_distance_rejects_non_positive_distance() -> None:
    with pytest.raises(ValidationError) as info:
        LogDistance(1.0, 2.0).db(np.array([1.0, 0.0]))
    assert info.value.field == "distance_m"


def test_free_space_model_matches_function() -> None:
    d = np.geomspace(1.0, 1e4, 7)
    pl = FreeSpace(2.4e9)
    np.testing.assert_allclose(pl.db(d), free_space_pathloss_db(d, 2.4e9))
    np.testing.assert_allclose(pl.gain(d), (radio.SPEED_OF_LIGHT / (4 * np.pi * d * 2.4e9)) ** 2)
    for bad in (0.0, -1.0, math.inf, "x", True):
        with pytest.raises(ValidationError) as info:
            FreeSpace(bad)  # type: ignore[arg-type]
        assert info.value.field == "carrier_hz"


@given(
    st.floats(-50, 200),
    st.floats(0.1, 60),
    st.floats(1e-2, 1e4),
    st.floats(1e-2, 1e5),
    st.floats(1.001, 100),
)
def test_log_distance_gain_decreases_with_distance(
    a: float, b: float, d0: float, d: float, factor: float
) -> None:
    pl = LogDistance(a, b, ref_distance_m=d0)
    assert pl.gain(d * factor) < pl.gain(d)
    assert pl.gain(d) == pytest.approx(10 ** (-pl.db(d) / 10), rel=1e-12)


# --------------------------------------------------------------------------- spec parsing


def test_spec_log_distance() -> None:
    spec = {
        "model": "log-distance",
        "intercept_db": 128.1,
        "slope_db": 37.6,
        "ref_distance_m": 1000.0,
    }
    assert pathloss_from_spec(spec) == LogDistance(128.1, 37.6, ref_distance_m=1000.0)
    del spec["ref_distance_m"]
    assert pathloss_from_spec(spec) == LogDistance(128.1, 37.6)


def test_spec_free_space() -> None:
    assert pathloss_from_spec({"model": "free-space", "carrier_hz": 2.4e9}) == FreeSpace(2.4e9)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"model": "okumura-hata"}, "pathloss.model"),
        ({"model": 3}, "pathloss.model"),
        ({"intercept_db": 1.0, "slope_db": 2.0}, "pathloss.model"),
        ({"model": "log-distance", "slope_db": 2.0}, "pathloss.intercept_db"),
        ({"model": "log-distance", "intercept_db": 1.0, "slope_db": 2.0, "foo": 1}, "pathloss.foo"),
        (
            {"model": "log-distance", "intercept_db": 1.0, "slope_db": 2.0, "ref_distance_m": 0},
            "pathloss.ref_distance_m",
        ),
        ({"model": "log-distance", "intercept_db": "a", "slope_db": 2.0}, "pathloss.intercept_db"),
        ({"model": "free-space"}, "pathloss.carrier_hz"),
        ({"model": "free-space", "carrier_hz": -1.0}, "pathloss.carrier_hz"),
        ({"model": "free-space", "carrier_hz": 1e9, "slope_db": 2.0}, "pathloss.slope_db"),
        (["free-space"], "pathloss"),
    ],
)
def test_spec_errors_name_the_field(spec: object, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        pathloss_from_spec(spec)  # type: ignore[arg-type]
    assert info.value.field == field


def test_spec_unknown_model_lists_known_models() -> None:
    with pytest.raises(ValidationError, match=r"free-space.*log-distance"):
        pathloss_from_spec({"model": "nope"})


def test_spec_field_prefix() -> None:
    with pytest.raises(ValidationError) as info:
        pathloss_from_spec({"model": "nope"}, field="scenario.uplink.pathloss")
    assert info.value.field == "scenario.uplink.pathloss.model"


# --------------------------------------------------------------------------- noise, Shannon


def test_noise_power() -> None:
    # -174 dBm/Hz is kT at ~290 K: 1.38e-23 * 290 = 4.0e-21 W/Hz
    assert noise_power_w(-174.0, 1.0) == pytest.approx(3.981e-21, rel=1e-3)
    assert noise_power_w(-174.0, 5e6) == pytest.approx(10 ** (-20.4) * 5e6)
    np.testing.assert_allclose(
        noise_power_w(np.array([-174.0, -164.0]), 1e6), [10 ** (-20.4) * 1e6, 10 ** (-19.4) * 1e6]
    )
    with pytest.raises(ValidationError):
        noise_power_w(-174.0, -1.0)


def test_shannon_known_values() -> None:
    assert shannon_rate(1e6, 1.0) == pytest.approx(1e6)
    assert shannon_rate(1e6, 3.0) == pytest.approx(2e6)
    assert shannon_rate(5e6, 0.0) == 0.0
    np.testing.assert_allclose(shannon_rate(2.0, np.array([1.0, 3.0, 7.0])), [2.0, 4.0, 6.0])
    # log1p keeps relative precision at tiny SNR
    assert shannon_rate(1.0, 1e-20) == pytest.approx(1e-20 / LN2, rel=1e-12)


@pytest.mark.parametrize(("w", "s", "field"), [(-1.0, 1.0, "bandwidth_hz"), (1.0, -1.0, "snr")])
def test_shannon_rejects_negative(w: float, s: float, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        shannon_rate(w, s)
    assert info.value.field == field


@given(snrs, snrs, st.floats(1.0, 1e9))
def test_rates_monotone_in_snr(s1: float, s2: float, w: float) -> None:
    lo, hi = sorted((s1, s2))
    assert shannon_rate(w, lo) <= shannon_rate(w, hi)
    assert rayleigh_mean_rate(w, lo) <= rayleigh_mean_rate(w, hi)


@given(snrs, st.floats(1.0, 1e9))
def test_jensen_rayleigh_below_shannon_at_mean(s: float, w: float) -> None:
    r = rayleigh_mean_rate(w, s)
    assert 0.0 <= r <= shannon_rate(w, s) * (1 + 1e-12)


@given(positive_snrs, st.floats(1.0, 1e9))
def test_rates_linear_in_bandwidth(s: float, w: float) -> None:
    assert rayleigh_mean_rate(w, s) == pytest.approx(w * rayleigh_mean_rate(1.0, s), rel=1e-12)
    assert shannon_rate(w, s) == pytest.approx(w * shannon_rate(1.0, s), rel=1e-12)


# --------------------------------------------------------------------------- Rayleigh


def _quad_reference(s: float) -> float:
    """E[log2(1 + s X)], X ~ Exp(1), by adaptive quadrature of the defining integral."""

    def f(x: float) -> float:
        return math.log1p(s * x) * math.exp(-x)

    # split where log1p(s x) bends (x ~ 1/s) and where exp(-x) decays
    knots = sorted({0.0, *(k / s for k in (1.0, 100.0) if k / s < 1.0), 1.0, 40.0})
    total = 0.0
    for a, b in itertools.pairwise(knots):
        val, _ = integrate.quad(f, a, b, epsabs=0.0, epsrel=1e-11, limit=200)
        total += val
    tail, _ = integrate.quad(f, 40.0, math.inf, epsabs=0.0, epsrel=1e-13, limit=200)
    return (total + tail) / LN2


@pytest.mark.parametrize(
    "s", [1e-8, 1e-6, 1e-3, 0.0199, 0.02, 0.0201, 0.5, 1.0, 30.0, 1e4, 1e8, 1e12, 1e14]
)
def test_rayleigh_matches_quadrature(s: float) -> None:
    assert rayleigh_mean_rate(1.0, s) == pytest.approx(_quad_reference(s), rel=1e-9)


def test_rayleigh_asymptotes() -> None:
    # small SNR: E[log2(1 + sX)] = (s - s^2 + 2 s^3 - ...) / ln 2  (E[X^k] = k!)
    for s in (1e-8, 1e-5):
        assert rayleigh_mean_rate(1.0, s) == pytest.approx((s - s**2 + 2 * s**3) / LN2, rel=1e-12)
    # large SNR: log2(s) - gamma / ln 2 + O(log(s) / s)
    for s in (1e12, 1e14):
        assert rayleigh_mean_rate(1.0, s) == pytest.approx(
            math.log2(s) - EULER_GAMMA / LN2, rel=1e-10
        )


def test_rayleigh_known_value_and_edge_cases() -> None:
    # e * E1(1) = 0.596347362323194... (A&S Table 5.1)
    assert rayleigh_mean_rate(1.0, 1.0) == pytest.approx(0.5963473623231940 / LN2, rel=1e-14)
    assert rayleigh_mean_rate(1e6, 0.0) == 0.0
    out = rayleigh_mean_rate(1.0, np.array([0.0, 1e-300, 1e300, 5e-324]))
    assert np.all(np.isfinite(out))
    assert out[0] == 0.0
    assert out[1] == pytest.approx(1e-300 / LN2, rel=1e-12)
    assert out[3] == pytest.approx(5e-324 / LN2, rel=0.5)  # subnormal: 1/s overflows
    with pytest.raises(ValidationError) as info:
        rayleigh_mean_rate(1.0, -1.0)
    assert info.value.field == "mean_snr"


def test_rayleigh_is_continuous_across_evaluation_branches() -> None:
    s = np.geomspace(1e-9, 1e15, 4001)
    r = rayleigh_mean_rate(1.0, s)
    assert np.all(np.isfinite(r))
    assert np.all(np.diff(r) > 0)
    # smooth: relative step between neighbours stays tiny everywhere
    assert np.max(np.abs(np.diff(np.log(r)))) < 0.02


def test_rayleigh_matches_monte_carlo() -> None:
    rng = np.random.default_rng(20240611)
    n = 200_000
    x = rng.exponential(size=n)
    for s in (0.05, 1.0, 10.0, 1000.0):
        samples = np.log2(1.0 + s * x)
        mean = samples.mean()
        se = samples.std(ddof=1) / math.sqrt(n)
        assert abs(rayleigh_mean_rate(1.0, s) - mean) < 5 * se


# --------------------------------------------------------------------------- link rate


def test_link_rate_composes_snr_and_shannon() -> None:
    p = np.array([0.2, 0.1, 0.05])
    h = np.array([1e-10, 1e-12, 1e-14])
    w = 5e6
    snr = p * h / (10 ** ((-174.0 - 30) / 10) * w)
    np.testing.assert_allclose(link_rate(p, h, w, -174.0), w * np.log2(1 + snr), rtol=1e-12)
    np.testing.assert_allclose(
        link_rate(p, h, w, -174.0, fading="rayleigh"), rayleigh_mean_rate(w, snr), rtol=1e-12
    )
    assert np.all(link_rate(p, h, w, -174.0, fading="rayleigh") < link_rate(p, h, w, -174.0))


def test_link_rate_paper_scale() -> None:
    # 23 dBm, async-paper cell model at 500 m, 5 MHz, -174 dBm/Hz
    h = LogDistance(128.0, 37.1, ref_distance_m=1000.0).gain(500.0)
    snr = 10 ** ((23 - 30) / 10) * h / (10 ** ((-174.0 - 30) / 10) * 5e6)
    assert link_rate(10 ** ((23 - 30) / 10), h, 5e6, -174.0) == pytest.approx(
        5e6 * math.log2(1 + snr)
    )


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((0.2, 1e-10, 5e6, -174.0), {"fading": "rician"}, "fading"),
        ((-0.2, 1e-10, 5e6, -174.0), {}, "tx_power_w"),
        ((0.2, -1e-10, 5e6, -174.0), {}, "gain"),
        ((0.2, 1e-10, 0.0, -174.0), {}, "bandwidth_hz"),
    ],
)
def test_link_rate_validation(args: tuple, kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        link_rate(*args, **kwargs)
    assert info.value.field == field
