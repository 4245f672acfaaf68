"""Physical scenarios compile to the coefficients of the papers' equations.

Each check recomputes a coefficient from the physics by hand (log-distance
path loss, Shannon rate, eqs. (9)-(11) of the sync paper and (8)-(10) of the
async paper) and compares it with the compiled canonical problem.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import edgealloc
from edgealloc import ValidationError
from edgealloc.scenarios import PRESETS, apply_overrides, compile_scenario, preset_text


def rate_by_hand(distance_m, intercept_db, slope_db, ref_m, p_dbm=23.0, w=5e6, n0_dbm_hz=-174.0):
    pl_db = intercept_db + slope_db * math.log10(distance_m / ref_m)
    snr_db = p_dbm - pl_db - (n0_dbm_hz + 10 * math.log10(w))
    return w * math.log2(1 + 10 ** (snr_db / 10))


def test_mel_sync_preset_matches_the_papers_equations():
    p = edgealloc.load_problem("mel-sync")
    m = p.meta
    assert p.n_devices == 20 and p.deadline == 30 and p.total_samples == 60_000
    assert m["model_bits"] == 8_974_080  # the paper's model size, from the layer sizes
    assert m["cycles_per_sample"] == 1_123_736  # the paper's FLOP count
    assert sorted(set(m["cpu_hz"])) == [0.7e9, 2.4e9]
    for k in (0, 7, 19):
        r = rate_by_hand(m["distance_m"][k], 7.0, 2.1, 1.0)
        assert m["rate_bps"][k] == pytest.approx(r, rel=1e-12)
        assert p.c2[k] == pytest.approx(1_123_736 / m["cpu_hz"][k], rel=1e-12)  # eq. (9)
        assert p.c1[k] == pytest.approx(784 * 32 / r, rel=1e-12)  # eq. (10), S_d = 0
        assert p.c0[k] == pytest.approx(2 * 8_974_080 / r, rel=1e-12)  # eq. (11)
    assert max(m["distance_m"]) <= 50.0


def test_federated_mode_drops_the_batch_transfer():
    pl = edgealloc.load_problem("mel-sync")
    fl = edgealloc.load_problem("mel-sync", overrides={"mode": "federated"})
    np.testing.assert_array_equal(fl.c1, np.zeros(20))  # footnote 3/4 of the sync paper
    np.testing.assert_array_equal(fl.c0, pl.c0)
    assert edgealloc.solve(fl).objective >= edgealloc.solve(pl).objective


def test_mel_async_energy_coefficients():
    p = edgealloc.load_problem("mel-async")
    m = p.meta
    assert p.staleness == 2 and p.energy is not None
    for k in (0, 5, 10, 15):
        f = m["cpu_hz"][k]
        r = rate_by_hand(m["distance_m"][k], 128.0, 37.1, 1000.0)
        assert m["rate_bps"][k] == pytest.approx(r, rel=1e-12)
        assert p.energy.g2[k] == pytest.approx(1e-28 * 1_123_736 * f**2, rel=1e-12)  # eq. (8)
        assert p.energy.g0[k] == pytest.approx(10 ** (-0.7) * 8_974_080 / r, rel=1e-12)  # eq. (9)
    assert ((p.energy.budget >= 17.5) & (p.energy.budget <= 22.5)).all()
    assert sorted(set(m["classes"])) == ["arduino", "laptop", "phone", "raspberry-pi"]


def test_rayleigh_fading_lowers_rates():
    plain = edgealloc.load_problem("mel-async")
    faded = edgealloc.load_problem("mel-async", overrides={"link.fading": "rayleigh"})
    assert (np.array(faded.meta["rate_bps"]) < np.array(plain.meta["rate_bps"])).all()


def test_seed_changes_placement_but_is_repeatable():
    a = edgealloc.load_problem("mel-sync", overrides={"seed": 1})
    b = edgealloc.load_problem("mel-sync", overrides={"seed": 1})
    c = edgealloc.load_problem("mel-sync", overrides={"seed": 2})
    assert a == b and a != c


def test_aliases_and_dotted_overrides():
    p = edgealloc.load_problem(
        "mel-sync", overrides={"devices": "10", "T": 60, "link.bandwidth_hz": 1e7}
    )
    assert p.n_devices == 10 and p.deadline == 60.0
    q = edgealloc.load_problem("mel-sync", overrides={"devices": 10, "T": 60})
    assert (p.c0 < q.c0).all()  # twice the bandwidth, shorter uploads


def test_apply_overrides_does_not_touch_the_input():
    base = PRESETS["mel-sync"]()
    out = apply_overrides(base, {"devices.count": 3})
    assert base["devices"]["count"] == 20 and out["devices"]["count"] == 3
    with pytest.raises(ValidationError, match="not a mapping"):
        apply_overrides(base, {"deadline.x": 1})


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"devices.classes": {"toaster": 1.0}}, "shares.toaster"),
        ({"link.pathloss.model": "magic"}, "link.pathloss.model"),
        ({"link.bandwidth_hz": -1}, "link.bandwidth_hz"),
        ({"workload.layers": [784]}, "workload.layers"),
        ({"energy.budget_j.spread": 99}, "energy.budget_j.spread"),
        ({"mode": "telepathic"}, "mode"),
    ],
)
def test_bad_scenarios_name_the_field(overrides, field):
    with pytest.raises(ValidationError) as info:
        edgealloc.load_problem("mel-async", overrides=overrides)
    assert info.value.field.startswith(field.split(".")[0])
    assert field.split(".")[-1] in str(info.value)


def test_scenario_with_explicit_distances():
    doc = PRESETS["mel-sync"]()
    doc["devices"]["count"] = 2
    doc["devices"]["placement"] = {"distance_m": [10.0, 40.0]}
    p = compile_scenario(doc)
    assert p.meta["distance_m"] == [10.0, 40.0]
    assert p.c0[0] < p.c0[1]
    doc["devices"]["placement"] = {"distance_m": [10.0]}
    with pytest.raises(ValidationError, match=r"expected devices\.count = 2"):
        compile_scenario(doc)


def test_presets_are_documented():
    for name in PRESETS:
        text = preset_text(name)
        assert (text.startswith("#") and "Reading" in text) or "reading" in text
    with pytest.raises(ValidationError, match="unknown preset"):
        preset_text("mel-nope")
