"""Tests of edgealloc.system.devices and edgealloc.system.fleet."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import edgealloc.system as system
import edgealloc.system.devices as devices
import edgealloc.system.fleet as fleet_module
from edgealloc.errors import ValidationError
from edgealloc.system import (
    DEVICE_CLASSES,
    DeviceClass,
    Fleet,
    LogDistance,
    assign_classes,
    class_counts,
    device_class,
    uniform_disc,
)

ASYNC_SHARES = {"laptop": 0.25, "phone": 0.25, "raspberry-pi": 0.25, "arduino": 0.25}

share_dicts = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=4),
    st.floats(0.0, 100.0),
    min_size=1,
    max_size=6,
).filter(lambda d: sum(d.values()) > 0)


@pytest.mark.parametrize("module", [devices, fleet_module])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0
    assert result.failed == 0


def _isort_key(name: str) -> tuple[int, str]:
    kind = 0 if name.isupper() else (1 if name[0].isupper() else 2)
    return kind, name


def test_all_is_sorted_complete_and_importable() -> None:
    names = system.__all__
    assert names == sorted(set(names), key=_isort_key)
    submodules = ("compute", "devices", "fleet", "radio", "workload")
    assert set(names) == {n for mod in submodules for n in getattr(system, mod).__all__}
    for name in names:
        assert getattr(system, name) is not None


# --------------------------------------------------------------------------- devices


def test_device_classes_match_async_paper() -> None:
    # [MEL-async] Table 1: f_k ~ {6.0, 2.4, 1.4, 0.7} GHz, P_k = 23 dBm
    clocks = {name: c.cpu_hz for name, c in DEVICE_CLASSES.items()}
    assert clocks["laptop"] == 6.0e9
    assert clocks["phone"] == 2.4e9
    assert clocks["raspberry-pi"] == 1.4e9
    assert clocks["arduino"] == 0.7e9
    for name, c in DEVICE_CLASSES.items():
        assert c.name == name
        assert c.tx_power_dbm == 23.0
        assert c.tx_power_w == pytest.approx(0.19952623149688797)
        assert c.description
    assert "16 MHz" in DEVICE_CLASSES["arduino"].description


def test_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        DEVICE_CLASSES["toaster"] = DeviceClass("toaster", 1e6, 0.0, "")  # type: ignore[index]
    with pytest.raises(AttributeError):
        DEVICE_CLASSES["phone"].cpu_hz = 1.0  # type: ignore[misc]


def test_device_class_lookup() -> None:
    assert device_class("phone") is DEVICE_CLASSES["phone"]
    with pytest.raises(ValidationError) as info:
        device_class("toaster")
    assert info.value.field == "class"
    for name in DEVICE_CLASSES:
        assert name in info.value.problem


# --------------------------------------------------------------------------- uniform disc


@given(
    st.integers(0, 300),
    st.floats(1.0, 1e4),
    st.floats(0.0, 1.0),
    st.integers(0, 2**32 - 1),
)
def test_uniform_disc_distances_within_bounds(
    n: int, radius: float, min_frac: float, seed: int
) -> None:
    dmin = min_frac * radius
    pos, d = uniform_disc(n, radius, seed, min_distance_m=dmin)
    assert pos.shape == (n, 2)
    assert d.shape == (n,)
    assert np.all(d >= dmin)
    assert np.all(d <= radius * (1 + 1e-12))
    np.testing.assert_allclose(d, np.maximum(np.hypot(pos[:, 0], pos[:, 1]), dmin))


def test_uniform_disc_is_uniform_over_area() -> None:
    n, radius = 50_000, 100.0
    pos, d = uniform_disc(n, radius, 7, min_distance_m=0.0)
    # P(r <= R x) = x^2: fraction inside half the radius is 1/4
    frac = np.mean(d <= radius / 2)
    assert abs(frac - 0.25) < 5 * np.sqrt(0.25 * 0.75 / n)
    # E[r] = 2R/3, and the angle is uniform (mean position ~ 0)
    assert abs(d.mean() - 2 * radius / 3) < 5 * d.std() / np.sqrt(n)
    assert np.all(np.abs(pos.mean(axis=0)) < 5 * radius / np.sqrt(n))


def test_uniform_disc_rng_handling() -> None:
    a = uniform_disc(5, 50.0, 123)
    b = uniform_disc(5, 50.0, np.random.default_rng(123))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = uniform_disc(5, 50.0, 124)
    assert not np.array_equal(a[0], c[0])
    assert uniform_disc(3, 50.0, None)[0].shape == (3, 2)


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((-1, 50.0, 0), {}, "n"),
        ((2.0, 50.0, 0), {}, "n"),
        ((3, 0.0, 0), {}, "radius_m"),
        ((3, np.inf, 0), {}, "radius_m"),
        ((3, 50.0, 0), {"min_distance_m": 60.0}, "min_distance_m"),
        ((3, 50.0, 0), {"min_distance_m": -1.0}, "min_distance_m"),
    ],
)
def test_uniform_disc_validation(args: tuple, kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        uniform_disc(*args, **kwargs)
    assert info.value.field == field


# --------------------------------------------------------------------------- class counts


@given(st.integers(0, 10_000), share_dicts)
def test_class_counts_sum_to_n_and_are_near_quota(n: int, shares: dict[str, float]) -> None:
    counts = class_counts(n, shares)
    assert list(counts) == list(shares)
    assert sum(counts.values()) == n
    total = sum(shares.values())
    for k, c in counts.items():
        quota = n * shares[k] / total
        assert abs(c - quota) < 1 + 1e-9
        if shares[k] == 0:
            assert c == 0
    assert counts == class_counts(n, shares)  # deterministic


def test_class_counts_examples() -> None:
    assert class_counts(10, {"a": 1, "b": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    assert class_counts(10, {"a": 0.5, "b": 0.5}) == {"a": 5, "b": 5}
    assert class_counts(7, {"a": 0.1, "b": 0.2, "c": 0.7}) == {"a": 1, "b": 1, "c": 5}
    # largest remainders win: quotas 1.4, 2.45, 3.15 -> 1, 3, 3
    assert class_counts(7, {"a": 0.2, "b": 0.35, "c": 0.45}) == {"a": 1, "b": 3, "c": 3}
    assert class_counts(0, {"a": 1.0}) == {"a": 0}
    assert class_counts(3, {"a": 0.0, "b": 1.0}) == {"a": 0, "b": 3}


@pytest.mark.parametrize(
    ("shares", "field"),
    [
        ({}, "shares"),
        ({"a": 0.0}, "shares"),
        ({"a": -1.0, "b": 2.0}, "shares.a"),
        ({"a": np.nan}, "shares.a"),
        ({"a": "half"}, "shares.a"),
        ([("a", 1.0)], "shares"),
    ],
)
def test_class_counts_validation(shares: object, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        class_counts(5, shares)  # type: ignore[arg-type]
    assert info.value.field == field


def test_assign_classes_blocks_in_order() -> None:
    out = assign_classes(7, {"phone": 0.5, "arduino": 0.5})
    assert out.tolist() == ["phone"] * 4 + ["arduino"] * 3
    assert out.dtype.kind == "U"
    assert assign_classes(0, {"phone": 1.0}).shape == (0,)


# --------------------------------------------------------------------------- fleet


def test_fleet_generate_sync_paper_setting() -> None:
    # [MEL-sync] Section V-A: K = 20 nodes within 50 m, half 2.4 GHz and half 700 MHz
    fleet = Fleet.generate(20, radius_m=50.0, shares={"phone": 0.5, "arduino": 0.5}, rng=1)
    assert len(fleet) == 20
    assert fleet.classes.tolist() == ["phone"] * 10 + ["arduino"] * 10
    assert fleet.names[0] == "phone-0"
    assert fleet.names[19] == "arduino-9"
    assert len(set(fleet.names.tolist())) == 20
    np.testing.assert_array_equal(fleet.cpu_hz, [2.4e9] * 10 + [0.7e9] * 10)
    np.testing.assert_allclose(fleet.tx_power_w, 10 ** ((23 - 30) / 10))
    np.testing.assert_allclose(fleet.tx_power_dbm, 23.0)
    assert fleet.positions.shape == (20, 2)
    assert np.all((fleet.distance_m >= 1.0) & (fleet.distance_m <= 50.0))


def test_fleet_generate_is_deterministic_and_positions_follow_uniform_disc() -> None:
    a = Fleet.generate(12, radius_m=500.0, shares=ASYNC_SHARES, rng=42)
    b = Fleet.generate(12, radius_m=500.0, shares=ASYNC_SHARES, rng=np.random.default_rng(42))
    pos, d = uniform_disc(12, 500.0, 42)
    for f in (a, b):
        np.testing.assert_array_equal(f.positions, pos)
        np.testing.assert_array_equal(f.distance_m, d)
    np.testing.assert_array_equal(a.cpu_hz, np.repeat([6.0e9, 2.4e9, 1.4e9, 0.7e9], 3))


def test_fleet_generate_overrides() -> None:
    fleet = Fleet.generate(
        4,
        radius_m=50.0,
        shares={"phone": 1, "arduino": 1},
        rng=0,
        cpu_hz_override={"arduino": 16e6, "laptop": 3e9},
        tx_power_dbm=[20.0, 21.0, 22.0, 23.0],
    )
    np.testing.assert_array_equal(fleet.cpu_hz, [2.4e9, 2.4e9, 16e6, 16e6])
    np.testing.assert_allclose(fleet.tx_power_dbm, [20.0, 21.0, 22.0, 23.0])
    scalar = Fleet.generate(3, radius_m=50.0, shares={"phone": 1}, rng=0, tx_power_dbm=10.0)
    np.testing.assert_allclose(scalar.tx_power_w, 0.01)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"shares": {"toaster": 1.0}}, "shares.toaster"),
        ({"cpu_hz_override": {"toaster": 1e9}}, "cpu_hz_override.toaster"),
        ({"cpu_hz_override": {"phone": 0.0}}, "cpu_hz_override.phone"),
        ({"tx_power_dbm": [1.0, 2.0]}, "tx_power_dbm"),
        ({"tx_power_dbm": np.nan}, "tx_power_dbm"),
        ({"radius_m": -5.0}, "radius_m"),
    ],
)
def test_fleet_generate_validation(kwargs: dict, field: str) -> None:
    args = {"radius_m": 50.0, "shares": {"phone": 1.0}, "rng": 0, **kwargs}
    with pytest.raises(ValidationError) as info:
        Fleet.generate(3, **args)
    assert info.value.field == field


def test_fleet_gains_vectorised() -> None:
    fleet = Fleet.generate(8, radius_m=500.0, shares=ASYNC_SHARES, rng=3)
    pl = LogDistance(128.1, 37.6, ref_distance_m=1000.0)
    gains = fleet.gains(pl)
    assert gains.shape == (8,)
    expected_db = 128.1 + 37.6 * np.log10(fleet.distance_m / 1e3)
    np.testing.assert_allclose(gains, 10 ** (-expected_db / 10))
    one = Fleet.generate(1, radius_m=50.0, shares={"phone": 1}, rng=0)
    assert one.gains(pl).shape == (1,)


def test_fleet_columns_are_read_only_and_fleet_is_frozen() -> None:
    fleet = Fleet.generate(4, radius_m=50.0, shares={"phone": 1}, rng=0)
    with pytest.raises(ValueError, match="read-only"):
        fleet.cpu_hz[0] = 1.0
    with pytest.raises(AttributeError):
        fleet.cpu_hz = np.ones(4)  # type: ignore[misc]


def test_fleet_direct_construction_and_validation() -> None:
    cols = {
        "names": ["a", "b"],
        "classes": ["phone", "phone"],
        "cpu_hz": [1e9, 2e9],
        "tx_power_w": [0.1, 0.2],
        "distance_m": [10.0, 20.0],
        "positions": [[10.0, 0.0], [0.0, 20.0]],
    }
    fleet = Fleet(**cols)
    assert len(fleet) == 2
    assert fleet.cpu_hz.dtype == np.float64
    bad_cases = [
        ({"cpu_hz": [1e9]}, "cpu_hz"),
        ({"positions": [10.0, 20.0]}, "positions"),
        ({"names": ["a", "a"]}, "names"),
        ({"cpu_hz": [1e9, 0.0]}, "cpu_hz[1]"),
        ({"tx_power_w": [-0.1, 0.2]}, "tx_power_w[0]"),
        ({"distance_m": [10.0, np.nan]}, "distance_m[1]"),
        ({"distance_m": ["x", 1.0]}, "distance_m"),
    ]
    for change, field in bad_cases:
        with pytest.raises(ValidationError) as info:
            Fleet(**{**cols, **change})
        assert info.value.field == field


def test_empty_fleet() -> None:
    fleet = Fleet.generate(0, radius_m=50.0, shares={"phone": 1}, rng=0)
    assert len(fleet) == 0
    assert fleet.positions.shape == (0, 2)
    assert fleet.gains(LogDistance(0.0, 20.0)).shape == (0,)
