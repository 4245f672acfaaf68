"""Tests of edgealloc.system.compute: CPU time and energy."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import edgealloc.system.compute as compute
from edgealloc.errors import ValidationError
from edgealloc.system import FullyConnected, cpu_energy_per_sample, cpu_time, kappa_energy


def test_doctests() -> None:
    result = doctest.testmod(compute)
    assert result.attempted > 0
    assert result.failed == 0


def test_cpu_time_sync_paper_eq5() -> None:
    # t_k^C = d_k C_m / f_k  ([MEL-sync] eq. (5)) for the paper's MNIST net
    c_m = FullyConnected((784, 300, 124, 60, 10)).flops_per_sample("paper")
    d_k = 3000
    f = np.array([2.4e9, 0.7e9])
    np.testing.assert_allclose(cpu_time(d_k * c_m, f), d_k * 1_123_736 / f)
    assert cpu_time(2.4e9, 2.4e9) == 1.0
    assert isinstance(cpu_time(1.0, 1.0), float)


def test_cpu_time_broadcasts() -> None:
    out = cpu_time(np.array([[1e9], [2e9]]), np.array([1e9, 2e9, 4e9]))
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out[1], [2.0, 1.0, 0.5])


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((1.0, 0.0), "cpu_hz"),
        ((1.0, -1.0), "cpu_hz"),
        ((-1.0, 1.0), "cycles"),
        ((np.nan, 1.0), "cycles"),
        (("x", 1.0), "cycles"),
    ],
)
def test_cpu_time_validation(args: tuple, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        cpu_time(*args)
    assert info.value.field == field


def test_energy_per_sample_async_eq8() -> None:
    # e_k^C / d_k = mu C_m f^(nu - 1)  ([MEL-async] eq. (8)), nu = 2 as in the paper
    mu, c_m = 1e-11, 1_123_736.0
    f = np.array([6.0, 2.4, 1.4, 0.7])  # the paper states f "in GHz"
    np.testing.assert_allclose(cpu_energy_per_sample(c_m, f, mu, 2), mu * c_m * f)
    # same physics in SI units: rescale mu by 1e-9^(nu - 1)
    np.testing.assert_allclose(
        cpu_energy_per_sample(c_m, f * 1e9, mu * 1e-9, 2), mu * c_m * f, rtol=1e-12
    )


@given(
    st.one_of(st.just(0.0), st.floats(1e-3, 1e12)),
    st.floats(1e6, 1e10),
    st.one_of(st.just(0.0), st.floats(1e-32, 1e-26)),
)
def test_kappa_energy_is_eq8_with_nu_3(cycles: float, f: float, kappa: float) -> None:
    assert kappa_energy(cycles, f, kappa) == pytest.approx(
        cpu_energy_per_sample(cycles, f, kappa, 3), rel=1e-12, abs=0.0
    )
    assert kappa_energy(cycles, f, kappa) == pytest.approx(kappa * cycles * f**2, rel=1e-12)


@given(st.floats(1.0, 1e12), st.floats(1e6, 1e10), st.floats(1.001, 4.0))
def test_energy_and_time_scale_with_clock(cycles: float, f: float, factor: float) -> None:
    # faster clock: less time, more energy (for nu > 1)
    assert cpu_time(cycles, f * factor) < cpu_time(cycles, f)
    assert kappa_energy(cycles, f * factor, 1e-28) > kappa_energy(cycles, f, 1e-28)
    assert kappa_energy(cycles, f * factor, 1e-28) == pytest.approx(
        factor**2 * kappa_energy(cycles, f, 1e-28), rel=1e-12
    )


def test_energy_vectorised_over_devices() -> None:
    f = np.array([6.0e9, 2.4e9, 1.4e9, 0.7e9])
    cycles = np.array([1e9, 2e9, 3e9, 4e9])
    out = kappa_energy(cycles, f, 1e-28)
    assert out.shape == (4,)
    np.testing.assert_allclose(out, 1e-28 * cycles * f**2)


@pytest.mark.parametrize(
    ("fn", "args", "field"),
    [
        (kappa_energy, (1.0, 0.0, 1e-28), "cpu_hz"),
        (kappa_energy, (1.0, 1e9, -1e-28), "kappa"),
        (kappa_energy, (-1.0, 1e9, 1e-28), "cycles"),
        (cpu_energy_per_sample, (1.0, 1e9, -1.0, 2), "mu"),
        (cpu_energy_per_sample, (-1.0, 1e9, 1.0, 2), "cycles_per_sample"),
        (cpu_energy_per_sample, (1.0, 0.0, 1.0, 2), "cpu_hz"),
        (cpu_energy_per_sample, (1.0, 1e9, 1.0, np.inf), "nu"),
    ],
)
def test_energy_validation(fn, args: tuple, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        fn(*args)
    assert info.value.field == field
