"""The canonical ``flmar`` problem: validation (FLMAR.md section 8), I/O and ``evaluate``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import edgealloc
from edgealloc.errors import ValidationError
from edgealloc.flmar import RTOL, FlmarProblem
from edgealloc.flmar._math import rate
from test_flmar_helpers import document, paper_like


def test_round_trip_and_properties(tmp_path) -> None:
    doc = document(4, 1) | {"name": "x", "description": "y", "meta": {"k": [1, 2]}}
    p = FlmarProblem.from_dict(doc)
    assert p.n_devices == 4 and p.n_options == 4
    assert (p.name, p.description, p.meta) == ("x", "y", {"k": [1, 2]})
    assert FlmarProblem.from_dict(p.to_dict()) == p
    path = tmp_path / "p.json"
    p.to_json(path)
    assert edgealloc.load_problem(path) == p
    assert json.loads(path.read_text())["family"] == "flmar"
    q = p.replace(deadline=60.0)
    assert q.deadline == 60.0 and q != p
    assert np.allclose(p.cycle_factors, [1, 4, 9, 16])
    assert np.allclose(p.cycles_per_round, 10 * 500 * np.asarray(doc["cycles_per_sample"]))
    assert p.round_limit == math.inf and q.round_limit == pytest.approx(0.6)
    # Scalar or per-device bounds and upload sizes.
    r = p.replace(power=[[0.0, 1e-3, 1e-3, 2e-3], 0.0158], upload_bits=[1e4, 2e4, 3e4, 4e4])
    assert r.power_min.tolist() == [0.0, 1e-3, 1e-3, 2e-3]
    assert r.bits.tolist() == [1e4, 2e4, 3e4, 4e4]


BAD = [
    ({"samples": [500, -1, 500, 500]}, "samples[1]"),
    ({"samples": [500, 500]}, "cycles_per_sample"),
    ({"cycles_per_sample": [1e4, 0, 1e4, 1e4]}, "cycles_per_sample[1]"),
    ({"channel_gain": [1e-10, float("nan"), 1e-10, 1e-10]}, "channel_gain[1]"),
    ({"upload_bits": -5}, "upload_bits"),
    ({"upload_bits": [1, 2]}, "upload_bits"),
    ({"bandwidth": 0}, "bandwidth"),
    ({"noise_psd": -1}, "noise_psd"),
    ({"power": [0.1, 0.01]}, "power"),
    ({"power": [-1, 0.01]}, "power[0]"),
    ({"power": [0, 0]}, "power[1]"),
    ({"power": [0.001]}, "power"),
    ({"power": [[0.001, 0.001], 0.01]}, "power[0]"),
    ({"frequency": [0, 2e9]}, "frequency[0]"),
    ({"frequency": [3e9, 2e9]}, "frequency"),
    ({"capacitance": 0}, "capacitance"),
    ({"local_iterations": 0}, "local_iterations"),
    ({"rounds": -1}, "rounds"),
    ({"resolutions": [160, 160, 480, 640]}, "resolutions[1]"),
    ({"resolutions": [160, 320, 0, 640]}, "resolutions[2]"),
    # A frame side is whole pixels (found by tests/test_boundary.py: 0.5 px was accepted
    # and the integral result then named a resolution that is no option).
    ({"resolutions": [160, 320.5, 480, 640]}, "resolutions[1]"),
    ({"resolutions": [0.5, 320, 480, 640]}, "resolutions[0]"),
    ({"accuracy": [0.4, 0.5]}, "accuracy"),
    ({"accuracy": [0.4, -0.5, 0.6, 0.7]}, "accuracy[1]"),
    ({"reference_resolution": 0}, "reference_resolution"),
    ({"weights": {"energy": 0, "time": 0, "accuracy": 1}}, "weights"),
    ({"weights": {"energy": -1, "time": 1, "accuracy": 1}}, "weights.energy"),
    ({"weights": {"energy": 1, "time": 1}}, "weights.accuracy"),
    ({"deadline": 0}, "deadline"),
    ({"baseline": {"randomize": "clock", "seed": 0}}, "baseline.randomize"),
    ({"baseline": {"randomize": "power", "seed": -1}}, "baseline.seed"),
    ({"colour": "red"}, "colour"),
    ({"weights": {"energy": 1, "time": 0, "accuracy": 1}, "power": [0.0, 0.01]}, "weights.time"),
]


@pytest.mark.parametrize(("change", "field"), BAD)
def test_bad_input_names_the_field(change, field) -> None:
    with pytest.raises(ValidationError) as err:
        FlmarProblem.from_dict(document(4, 0) | change)
    assert err.value.field == field, str(err.value)
    assert "\n" not in str(err.value)


def test_zero_weights_are_fine_with_a_deadline() -> None:
    p = FlmarProblem.from_dict(
        document(3, 0) | {"weights": {"energy": 0, "time": 0, "accuracy": 1}, "deadline": 60}
    )
    assert p.weights.energy == 0
    # No time weight and no deadline is fine while p_min > 0.
    FlmarProblem.from_dict(document(3, 0) | {"weights": {"energy": 1, "time": 0, "accuracy": 0}})


def _hand_evaluation(p: FlmarProblem, b, pw, f, s):
    """(1)-(12) written out, device by device (no vectorised helper)."""
    energy = 0.0
    times = []
    for i in range(p.n_devices):
        r = b[i] * math.log2(1 + p.channel_gain[i] * pw[i] / (p.noise_psd * b[i]))
        up = p.bits[i] / r
        cyc = p.local_iterations * p.cycles_per_sample[i] * p.samples[i]
        cyc *= (s[i] / p.reference_resolution) ** 2
        energy += p.rounds * (pw[i] * up + p.capacitance * cyc * f[i] ** 2)
        times.append(cyc / f[i] + up)
    total_time = p.rounds * max(times)
    acc = sum(float(p.accuracy[list(p.resolutions).index(x)]) for x in s)
    w = p.weights
    return energy, total_time, acc, w.energy * energy + w.time * total_time - w.accuracy * acc


def test_evaluate_recomputes_energy_time_and_objective() -> None:
    p = paper_like(5, 3, weights=(0.3, 0.7, 2.0))
    b = np.array([3e5, 4e5, 5e5, 3.5e5, 4.5e5])
    pw = np.array([1e-3, 5e-3, 1e-2, 1.2e-2, 0.0158])
    f = np.array([1e8, 5e8, 1e9, 1.5e9, 2e9])
    s = np.array([160, 320, 480, 640, 160])
    ev = p.evaluate(b, pw, f, s)
    energy, time, acc, obj = _hand_evaluation(p, b, pw, f, s)
    assert ev.feasible, ev.violations
    assert ev.energy == pytest.approx(energy, rel=1e-12)
    assert ev.energy == pytest.approx(ev.energy_transmission + ev.energy_computation, rel=1e-14)
    assert ev.time == pytest.approx(time, rel=1e-12)
    assert ev.round_time == pytest.approx(time / p.rounds, rel=1e-12)
    assert ev.accuracy == pytest.approx(acc, rel=1e-14)
    assert ev.mean_accuracy == pytest.approx(acc / 5, rel=1e-14)
    assert ev.objective == pytest.approx(obj, rel=1e-12)
    assert np.allclose(ev.rate, rate(b, pw, p.channel_gain, p.noise_psd))


def test_evaluate_flags_every_violation_at_the_tolerance() -> None:
    p = paper_like(3, 0, deadline=40.0)
    n = 3
    b = np.full(n, p.bandwidth / n)
    pw = p.power_max.copy()
    f = p.frequency_max.copy()
    s = np.full(n, 160)
    assert p.evaluate(b, pw, f, s).feasible
    # Within RTOL: accepted; beyond: a violation naming it.
    assert p.evaluate(b * (1 + 0.5 * RTOL), pw, f, s).feasible
    cases = {
        "bandwidth sums": (b * (1 + 3 * RTOL), pw, f, s),
        "above p_max": (b, pw * (1 + 3 * RTOL), f, s),
        "below p_min": (b, np.full(n, 0.99e-3), f, s),
        "above f_max": (b, pw, f * (1 + 3 * RTOL), s),
        "below f_min": (b, pw, np.full(n, 0.99e8), s),
        "not an option": (b, pw, f, np.array([160, 200, 160])),
        "no bandwidth": (np.array([0.0, b[1], b[2]]), pw, f, s),
        "zero power": (b, np.array([0.0, pw[1], pw[2]]), f, s),
        "deadline": (b, pw, f, np.full(n, 640)),
    }
    for what, args in cases.items():
        ev = p.evaluate(*args)
        assert any(what in v for v in ev.violations), (what, ev.violations)
    late = p.evaluate(b, pw, np.full(n, 1e8), s)
    assert late.time > 40 and any("deadline" in v for v in late.violations)


def test_evaluate_rejects_malformed_allocations() -> None:
    p = paper_like(3, 0)
    with pytest.raises(ValidationError, match="allocation"):
        p.evaluate([1, 2], [1, 2, 3], [1, 2, 3], [160] * 3)
    with pytest.raises(ValidationError, match="finite"):
        p.evaluate([1, 2, float("nan")], [1, 2, 3], [1, 2, 3], [160] * 3)


def test_option_index() -> None:
    p = paper_like(3, 0)
    assert p.option_index([160, 640, 321]).tolist() == [0, 3, -1]
