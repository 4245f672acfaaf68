"""Offloading scenarios (XR paper, Section IV-A, Table I) compile to the papers' coefficients.

Each check recomputes a coefficient by hand from the formulas of
the XR offloading paper (eq. (2), the Friis received power with the cone
directivity, the SNR cap, rho(N), the (2d + 1) bit conversion) and compares it
with the compiled canonical problem.
"""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

import edgealloc
import edgealloc.offload.scenario as scenario_module
from edgealloc import ValidationError
from edgealloc.cli import app
from edgealloc.offload import OffloadD2DProblem, OffloadServerProblem
from edgealloc.offload.scenario import compile_offload
from edgealloc.scenarios import ALIASES, PRESETS, apply_overrides, compile_scenario

C = 299_792_458.0
BITS = 2 * 250 + 1  # the paper's r_hat = (2d + 1) r, d = 250
SNR_CAP = 10 ** (18 / 10)


def load(name: str, **overrides: object):
    return edgealloc.load_problem(name, overrides=overrides)


def eq2(n: int, eta: float, s: float) -> np.ndarray:
    """Eq. (2), C_i for i = 1..N, written out as printed."""
    i = np.arange(1, n + 1)
    return eta * (1 - ((i - 1) / (n - 1)) ** s) ** (1 / s) + (1 - eta)


def d2d_rates_by_hand(positions, *, n_users, rho=None, g_tx_db=None, g_rx_db=0.0):
    """Table I link budget: 60 GHz, 1 GHz, -3 dBm, -78 dBm noise, 18 dB cap, 30 deg beams."""
    xy = np.asarray(positions)
    d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    d = np.maximum(d, 1.0)
    lam = C / 60e9
    g_tx = 2 / (1 - math.cos(math.radians(30) / 2)) if g_tx_db is None else 10 ** (g_tx_db / 10)
    p_rx_mw = 10 ** (-3 / 10) * g_tx * 10 ** (g_rx_db / 10) * (lam / (4 * math.pi * d)) ** 2
    snr = p_rx_mw / 10 ** (-78 / 10)
    if rho is None:
        rho = min(1.0, 12 / n_users)
    rate = rho * 1e9 * np.log2(1 + np.minimum(SNR_CAP, snr))
    np.fill_diagonal(rate, 0.0)
    return rate


def test_module_doctests() -> None:
    result = doctest.testmod(scenario_module)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------- presets


def test_presets_are_registered() -> None:
    assert {"xr-server", "xr-d2d"} <= set(PRESETS)
    server, d2d = PRESETS["xr-server"](), PRESETS["xr-d2d"]()
    # the two presets are one scenario, compiled for each strategy
    assert {k: v for k, v in server.items() if k not in ("scenario", "name", "description")} == {
        k: v for k, v in d2d.items() if k not in ("scenario", "name", "description")
    }


def test_xr_server_preset_matches_table_i() -> None:
    p = load("xr-server")
    m = p.meta
    assert isinstance(p, OffloadServerProblem)
    n = p.n_users
    assert n == 20
    assert p.server_rate == 5 * 3e5  # a_S = 5 a_max
    assert p.macs_per_point == 2
    assert ((p.points >= 1000) & (p.points <= 2000)).all()
    assert (p.points == np.round(p.points)).all()
    # compute: a_u = C_rank(u) a_max, eq. (2) with eta_comp = 0.5, s = 1
    profile = eq2(n, 0.5, 1.0)
    ranks = np.asarray(m["rank_compute"])
    assert sorted(ranks) == list(range(1, n + 1))
    np.testing.assert_allclose(p.compute_rate, profile[ranks - 1] * 3e5, rtol=1e-12)
    assert p.compute_rate.max() == pytest.approx(3e5)
    assert p.compute_rate.min() == pytest.approx(0.5 * 3e5)  # (1 - eta) a_max, eq. (2)
    # uplink: r_max = 100 MHz at the 18 dB cap, r_u = C_rank(u) r_max, in points/s
    r_max = 1e8 * math.log2(1 + SNR_CAP)
    assert m["r_max_bps"] == pytest.approx(r_max, rel=1e-12)
    assert r_max == pytest.approx(6.0e8, rel=1e-3)
    rc = np.asarray(m["rank_comm"])
    np.testing.assert_allclose(p.uplink_rate, eq2(n, 0.5, 1.0)[rc - 1] * r_max / BITS, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(m["uplink_rate_bps"]) / BITS, p.uplink_rate, rtol=1e-12)
    # the hand times of the model
    np.testing.assert_allclose(p.compute_time, 2 * p.points / p.compute_rate, rtol=1e-12)
    xy = np.asarray(m["positions_m"])
    assert xy.shape == (n, 2) and (np.hypot(xy[:, 0], xy[:, 1]) <= 25.0).all()


def test_xr_d2d_preset_matches_the_link_budget() -> None:
    p = load("xr-d2d")
    m = p.meta
    assert isinstance(p, OffloadD2DProblem)
    n = p.n_users
    rate = d2d_rates_by_hand(m["positions_m"], n_users=n)
    np.testing.assert_allclose(np.asarray(m["link_rate_bps"]), rate, rtol=1e-12)
    np.testing.assert_allclose(p.link_rate, rate / BITS, rtol=1e-12)
    np.testing.assert_array_equal(np.diag(p.link_rate), np.zeros(n))
    np.testing.assert_allclose(p.link_rate, p.link_rate.T, rtol=1e-12)  # symmetric budget
    assert m["d2d_rho"] == pytest.approx(0.6)  # min(1, 12 / 20)
    assert m["d2d_tx_gain_db"] == pytest.approx(17.68, abs=0.01)
    assert m["d2d_rx_gain_db"] == 0.0
    # no link beats the capped rate; far pairs fall below it
    top = 0.6 * 1e9 * math.log2(1 + SNR_CAP) / BITS
    off = ~np.eye(n, dtype=bool)
    assert p.link_rate[off].max() <= top * (1 + 1e-12)
    assert p.link_rate[off].min() < top


def test_same_seed_same_users_for_both_strategies() -> None:
    s, d = load("xr-server", seed=7), load("xr-d2d", seed=7)
    np.testing.assert_array_equal(s.points, d.points)
    np.testing.assert_array_equal(s.compute_rate, d.compute_rate)
    assert s.meta["positions_m"] == d.meta["positions_m"]
    # switching the family of one preset gives the other preset
    switched = load("xr-server", seed=7, scenario="offload-d2d")
    np.testing.assert_array_equal(switched.link_rate, d.link_rate)


def test_seeds_are_repeatable() -> None:
    a, b = load("xr-d2d", seed=3), load("xr-d2d", seed=3)
    assert a.to_dict() == b.to_dict()
    c = load("xr-d2d", seed=4)
    assert not np.array_equal(a.points, c.points)
    assert a.meta["positions_m"] != c.meta["positions_m"]


def test_changing_eta_keeps_who_is_strong() -> None:
    low, high = load("xr-server", eta_comp=0.1, eta_comm=0.2), load("xr-server", eta_comp=0.9)
    assert low.meta["rank_compute"] == high.meta["rank_compute"]
    np.testing.assert_array_equal(low.points, high.points)
    assert low.compute_rate.min() == pytest.approx(0.9 * 3e5)
    assert high.compute_rate.min() == pytest.approx(0.1 * 3e5)
    assert low.uplink_rate.min() == pytest.approx(0.8 * low.meta["r_max_bps"] / BITS)


def test_assignment_ordered_and_separate_steepness() -> None:
    p = load("xr-server", **{"heterogeneity.assignment": "ordered", "s": 2.0, "s_comm": 0.5})
    np.testing.assert_allclose(p.compute_rate, eq2(20, 0.5, 2.0) * 3e5, rtol=1e-12)
    r_max = p.meta["r_max_bps"]
    np.testing.assert_allclose(p.uplink_rate, eq2(20, 0.5, 0.5) * r_max / BITS, rtol=1e-12)
    assert p.meta["s_comp"] == 2.0 and p.meta["s_comm"] == 0.5


def test_aliases() -> None:
    p = load("xr-d2d", users=50, rho=0.5)
    assert p.n_users == 50
    assert p.meta["d2d_rho"] == 0.5
    np.testing.assert_allclose(
        p.link_rate,
        d2d_rates_by_hand(p.meta["positions_m"], n_users=50, rho=0.5) / BITS,
        rtol=1e-12,
    )
    q = load("xr-server", N=5, l_min=10, l_max=12, a_max=1e6, features=100)
    assert q.n_users == 5 and ((q.points >= 10) & (q.points <= 12)).all()
    assert q.server_rate == 5e6 and q.compute_rate.max() == pytest.approx(1e6)
    assert q.meta["bits_per_point"] == 201
    # beams model at large N: rho = 12 / N
    assert load("xr-d2d", users=40).meta["d2d_rho"] == pytest.approx(12 / 40)


def test_r_max_readings() -> None:
    fixed = load("xr-server", r_max=1e6)
    assert fixed.meta["r_max_bps"] == 1e6
    assert fixed.uplink_rate.max() == pytest.approx(1e6 / BITS)
    lit = load("xr-server", r_max={"model": "d2d-multiple", "factor": 10})
    d2d = np.asarray(load("xr-d2d").meta["link_rate_bps"])
    mean = d2d[~np.eye(20, dtype=bool)].mean()
    assert lit.meta["r_max_bps"] == pytest.approx(10 * mean, rel=1e-12)
    assert "mean D2D rate" in lit.meta["readings"]["r_max"]


def test_gain_and_unit_readings() -> None:
    p = load("xr-d2d", **{"d2d.tx_gain_db": 20.0, "d2d.rx_gain_db": 3.0,
                          "workload.bits_per_point": 8032})  # fmt: skip
    rate = d2d_rates_by_hand(p.meta["positions_m"], n_users=20, g_tx_db=20.0, g_rx_db=3.0)
    np.testing.assert_allclose(p.link_rate, rate / 8032, rtol=1e-12)
    assert p.meta["d2d_tx_gain_db"] == pytest.approx(20.0)


def test_single_user() -> None:
    p = load("xr-server", users=1)
    assert p.compute_rate.tolist() == [3e5]  # C_1 = 1
    assert load("xr-d2d", users=1).link_rate.tolist() == [[0.0]]
    with pytest.raises(ValidationError) as info:
        load("xr-server", users=1, r_max={"model": "d2d-multiple", "factor": 10})
    assert info.value.field == "r_max (uplink.r_max)"


def test_json_round_trip() -> None:
    for name in ("xr-server", "xr-d2d"):
        p = load(name, users=6)
        text = p.to_json()
        back = edgealloc.load_problem(json.loads(text))
        assert back.to_dict() == p.to_dict()


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"eta_comp": 1.0}, "heterogeneity.eta_comp"),
        ({"eta_comm": 1.2}, "heterogeneity.eta_comm"),
        ({"eta_comm": -0.1}, "heterogeneity.eta_comm"),
        ({"s": 0}, "heterogeneity.s"),
        ({"s_comp": -1}, "heterogeneity.s_comp"),
        ({"users": 0}, "devices.count"),
        ({"radius": -1}, "devices.placement.radius_m"),
        ({"devices.placement.min_distance_m": 30}, "devices.placement.min_distance_m"),
        ({"l_min": 3000}, "points.max"),
        ({"l_min": -1}, "points.min"),
        ({"a_max": 0}, "compute.a_max_mac_s"),
        ({"rho": 0}, "d2d.clustering.value"),
        ({"rho": 1.5}, "d2d.clustering.value"),
        ({"d2d.clustering.value": 0.5}, "d2d.clustering.value"),
        ({"rho": {"model": "constant"}}, "d2d.clustering.value"),
        ({"rho": {"model": "beams", "beams": -2}}, "d2d.clustering.beams"),
        ({"d2d.beamwidth_deg": 0}, "d2d.beamwidth_deg"),
        ({"r_max": {"model": "fixed"}}, "uplink.r_max.rate_bps"),
        ({"r_max": {"model": "snr-cap", "factor": 2}}, "uplink.r_max.factor"),
        ({"uplink": None}, "uplink"),
        ({"scenario": "offload-d2d", "d2d": None}, "d2d"),
        ({"workload.features": 0}, "workload.features"),
        ({"heterogeneity.assignment": "sorted"}, "heterogeneity.assignment"),
        ({"heterogeneity.eta": 0.5}, "heterogeneity.eta"),
        ({"heterogeneity.eta_comp": None}, "heterogeneity.eta_comp"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_scenarios_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        compile_scenario(PRESETS["xr-server"](), overrides=overrides)
    # A short key the user typed is named first: "eta_comp (heterogeneity.eta_comp)".
    typed = {f"{key} ({field})" for key in overrides if key in ALIASES}
    assert info.value.field in {field} | typed
    assert "\n" not in str(info.value)


def test_compile_offload_accepts_only_offload_scenarios() -> None:
    data = apply_overrides(PRESETS["xr-server"](), {"scenario": "mel"})
    with pytest.raises(ValidationError) as info:
        compile_offload(data)
    assert info.value.field == "scenario"


# --------------------------------------------------------------------------- CLI and solve


def test_cli_compile_and_errors() -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["compile", "xr-d2d", "--set", "users=50"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["family"] == "offload-d2d" and len(doc["link_rate"]) == 50
    bad = runner.invoke(app, ["compile", "xr-server", "--set", "eta_comp=2"])
    assert bad.exit_code == 2
    assert "heterogeneity.eta_comp" in bad.output


@pytest.mark.parametrize("name", ["xr-server", "xr-d2d"])
def test_solve_without_offloading(name: str) -> None:
    p = load(name, users=8)
    try:
        res = edgealloc.solve(p, "none")
    except (ImportError, NotImplementedError) as exc:  # solvers written in parallel
        pytest.skip(f"scheme 'none' not available yet: {exc}")
    t = 2 * p.points / p.compute_rate
    assert res.objective == pytest.approx(t.max(), rel=1e-12)
    assert res.allocation.speedup == pytest.approx(1.0)
    assert np.asarray(res.allocation.offloaded_points).sum() == 0


@pytest.mark.parametrize("name", ["xr-server", "xr-d2d"])
def test_other_schemes_when_available(name: str) -> None:
    p = load(name, users=8)
    for scheme in edgealloc.schemes(p.FAMILY):
        try:
            res = edgealloc.solve(p, scheme)
        except (ImportError, NotImplementedError):
            continue
        assert res.objective <= p.no_offload_time * (1 + 1e-9)
        ev = p.evaluate(res.allocation.offloaded_points, integral=scheme != "relaxed")
        assert ev.feasible and ev.iteration_time == pytest.approx(res.objective, rel=1e-9)


def test_rho_beams_default_from_beamwidth_and_rates_fall_with_distance() -> None:
    # beams: null -> B = 2 pi / theta: 12 for 30 deg, 6 for 60 deg
    assert load("xr-d2d", rho={"model": "beams"}).meta["d2d_rho"] == pytest.approx(0.6)
    wide = load("xr-d2d", rho={"model": "beams"}, **{"d2d.beamwidth_deg": 60.0})
    assert wide.meta["d2d_rho"] == pytest.approx(6 / 20)
    p = load("xr-d2d", users=30)
    xy = np.asarray(p.meta["positions_m"])
    d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    off = ~np.eye(30, dtype=bool)
    order = np.argsort(d[off])
    assert (np.diff(p.link_rate[off][order]) <= 1e-9).all()
