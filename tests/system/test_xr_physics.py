"""The XR offloading paper's physics: heterogeneity function (eq. (2)) and 60 GHz D2D links.

Every expected value is recomputed here from the formula in the paper
(the XR offloading paper, Section IV-A) or from textbook constants.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import edgealloc.system.fleet as fleet
from edgealloc.errors import ValidationError
from edgealloc.system.fleet import heterogeneity
from edgealloc.system.radio import (
    beam_schedule_share,
    capped_rate,
    directivity_gain,
    free_space_pathloss_db,
    free_space_received_power,
)

sizes = st.integers(min_value=2, max_value=200)
etas = st.floats(min_value=0.0, max_value=1.0)
steepness = st.floats(min_value=0.05, max_value=20.0)


def test_fleet_doctests() -> None:
    result = doctest.testmod(fleet)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------- eq. (2)


def eq2(i: int, n: int, eta: float, s: float) -> float:
    """Eq. (2) for one user, written out as printed."""
    return eta * (1 - ((i - 1) / (n - 1)) ** s) ** (1 / s) + (1 - eta)


@pytest.mark.parametrize(("n", "eta", "s"), [(5, 0.6, 0.5), (7, 0.3, 2.0), (11, 1.0, 1.0)])
def test_heterogeneity_matches_eq2(n: int, eta: float, s: float) -> None:
    expected = [eq2(i, n, eta, s) for i in range(1, n + 1)]
    np.testing.assert_allclose(heterogeneity(n, eta, s), expected, rtol=1e-12, atol=1e-15)


def test_heterogeneity_special_shapes() -> None:
    # s = 1: a straight line from 1 to 1 - eta; s = 2: a quarter circle
    np.testing.assert_allclose(heterogeneity(5, 0.4, 1.0), [1.0, 0.9, 0.8, 0.7, 0.6])
    x = np.linspace(0, 1, 9)
    np.testing.assert_allclose(heterogeneity(9, 0.5, 2.0), 0.5 * np.sqrt(1 - x**2) + 0.5)
    # eta = 0: homogeneous
    np.testing.assert_array_equal(heterogeneity(6, 0.0, 3.0), np.ones(6))


def test_heterogeneity_follows_eq2_not_the_text() -> None:
    # The text says a_min = eta a_max; eq. (2) gives C_N = 1 - eta. We follow eq. (2).
    c = heterogeneity(10, 0.2, 1.0)
    assert c.min() == pytest.approx(0.8)
    assert c.min() != pytest.approx(0.2)


def test_heterogeneity_small_n() -> None:
    np.testing.assert_array_equal(heterogeneity(1, 0.7, 0.5), [1.0])
    assert heterogeneity(0, 0.7, 0.5).shape == (0,)
    np.testing.assert_allclose(heterogeneity(2, 0.7, 0.5), [1.0, 0.3])


@given(n=sizes, eta=etas, s=steepness)
def test_heterogeneity_range_and_monotone(n: int, eta: float, s: float) -> None:
    c = heterogeneity(n, eta, s)
    assert c.shape == (n,)
    assert c[0] == pytest.approx(1.0, abs=1e-12)
    assert c[-1] == pytest.approx(1.0 - eta, abs=1e-12)
    assert (np.diff(c) <= 1e-12).all()
    assert (c >= 1 - eta - 1e-12).all() and (c <= 1 + 1e-12).all()


@given(n=sizes, eta=etas, s1=steepness, s2=steepness)
def test_larger_steepness_means_more_strong_users(n: int, eta: float, s1: float, s2: float) -> None:
    lo, hi = sorted((s1, s2))
    c_lo, c_hi = heterogeneity(n, eta, lo), heterogeneity(n, eta, hi)
    assert (c_hi >= c_lo - 1e-12).all()  # pointwise: the L^s quarter circle grows with s
    threshold = 1 - eta / 2  # "strong": in the upper half of the range
    assert (c_hi >= threshold).sum() >= (c_lo >= threshold).sum()


@pytest.mark.parametrize(
    ("args", "field"),
    [((5, -0.1, 1.0), "eta"), ((5, 1.5, 1.0), "eta"), ((5, 0.5, 0.0), "s"),
     ((5, 0.5, float("inf")), "s"), ((-1, 0.5, 1.0), "n"), ((2.5, 0.5, 1.0), "n")],
)  # fmt: skip
def test_heterogeneity_validation(args: tuple, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        heterogeneity(*args)
    assert info.value.field == field


# --------------------------------------------------------------------------- antennas


def test_directivity_of_table_i_beam() -> None:
    g = directivity_gain(math.radians(30.0))
    assert g == pytest.approx(2 / (1 - math.cos(math.radians(15.0))), rel=1e-14)
    # 17.7 dB: close to, but not, Table I's "transmit antenna gain 20 dB"
    assert 10 * math.log10(g) == pytest.approx(17.68, abs=0.01)


def test_directivity_limits_and_monotone() -> None:
    assert directivity_gain(2 * math.pi) == pytest.approx(1.0)  # isotropic
    widths = np.radians([5.0, 10.0, 30.0, 90.0, 180.0])
    g = directivity_gain(widths)
    assert (np.diff(g) < 0).all()
    # narrow beams: 2 / (1 - cos(t/2)) ~ 16 / t^2
    assert directivity_gain(1e-3) == pytest.approx(16 / 1e-6, rel=1e-6)
    for bad in (0.0, -1.0, 7.0):
        with pytest.raises(ValidationError, match="beamwidth_rad"):
            directivity_gain(bad)


def test_received_power_is_friis() -> None:
    # textbook: FSPL(dB) = 20 log10(d_km) + 20 log10(f_MHz) + 32.45
    d, f = 12.0, 60e9
    fspl = 20 * math.log10(d / 1000) + 20 * math.log10(f / 1e6) + 32.4478
    p_dbm = -3.0 + 17.0 + 3.0 - fspl
    p = free_space_received_power(10 ** (-3.0 / 10) * 1e-3, d, f, tx_gain=10**1.7, rx_gain=10**0.3)
    assert 10 * math.log10(p / 1e-3) == pytest.approx(p_dbm, abs=1e-3)
    # consistent with the path-loss function, and inverse-square in distance
    dist = np.array([1.0, 2.0, 4.0, 25.0])
    p = free_space_received_power(1.0, dist, f)
    np.testing.assert_allclose(p, 10 ** (-np.asarray(free_space_pathloss_db(dist, f)) / 10))
    np.testing.assert_allclose(p[1:3] / p[:2], [0.25, 0.25])
    with pytest.raises(ValidationError, match="distance_m"):
        free_space_received_power(1.0, 0.0, f)
    with pytest.raises(ValidationError, match="rx_gain"):
        free_space_received_power(1.0, 1.0, f, rx_gain=0.0)


# --------------------------------------------------------------------------- rates


def test_capped_rate() -> None:
    cap = 10**1.8  # 18 dB
    w = 1e9
    snr = np.array([0.0, 1.0, 10.0, cap, 1e4])
    r = capped_rate(w, snr, max_snr=cap, share=0.6)
    expected = 0.6 * w * np.log2(1 + np.minimum(snr, cap))
    np.testing.assert_allclose(r, expected, rtol=1e-14)
    assert r[-1] == r[-2]  # above the cap nothing is gained
    assert capped_rate(w, 3.0) == pytest.approx(2e9)  # no cap, full share
    with pytest.raises(ValidationError, match="share"):
        capped_rate(w, 1.0, share=1.5)
    with pytest.raises(ValidationError, match="max_snr"):
        capped_rate(w, 1.0, max_snr=0.0)


def test_beam_schedule_share() -> None:
    n = np.array([1, 6, 12, 13, 24, 100])
    np.testing.assert_allclose(beam_schedule_share(n, 12), np.minimum(1, 12 / n))
    assert beam_schedule_share(20, 12) == pytest.approx(0.6)
    values = beam_schedule_share(np.arange(1, 200), 12.0)
    assert (values > 0).all() and (values <= 1).all() and (np.diff(values) <= 0).all()
    with pytest.raises(ValidationError, match="n_users"):
        beam_schedule_share(0, 12)
    with pytest.raises(ValidationError, match="beams"):
        beam_schedule_share(5, 0)
