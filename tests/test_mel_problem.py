"""The canonical ``mel`` problem: validation, I/O and the independent ``evaluate``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgealloc import ValidationError
from edgealloc.mel import MelProblem


def base(**changes):
    doc = {
        "family": "mel",
        "deadline": 10.0,
        "total_samples": 100,
        "c2": [0.01, 0.02, 0.04],
        "c1": [0.001, 0.002, 0.001],
        "c0": [0.5, 0.3, 0.1],
        "energy": {
            "g2": [1e-3, 1e-3, 1e-3],
            "g1": [0, 0, 0],
            "g0": [0.1, 0.1, 0.1],
            "budget": [5, 5, 5],
        },
        "min_samples": 1,
        "staleness": None,
    }
    doc.update(changes)
    return doc


def test_roundtrip_and_immutability(tmp_path):
    p = MelProblem.from_dict(base())
    assert p.n_devices == 3 and p.synchronous and p.participant_floor == 1
    with pytest.raises(ValueError):
        p.c2[0] = 1.0  # read-only array
    with pytest.raises(Exception):  # noqa: B017 - pydantic frozen model
        p.deadline = 3.0
    path = tmp_path / "p.json"
    p.to_json(path)
    q = MelProblem.from_dict(json.loads(path.read_text()))
    assert q == p
    r = p.replace(deadline=20.0, staleness=2)
    assert r.deadline == 20.0 and r.staleness == 2 and p.deadline == 10.0


def test_keyword_construction_validates():
    with pytest.raises(ValidationError, match=r"^c2\[1\]: must be > 0"):
        MelProblem(deadline=1.0, total_samples=1, c2=[1.0, 0.0], c1=[0, 0], c0=[0, 0])


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"c2": [0.01, -0.02, 0.04]}, "c2[1]", "must be > 0"),
        ({"c1": [0.001, 0.002]}, "c1", "has 2 entries, expected 3"),
        ({"c0": [0.5, float("nan"), 0.1]}, "c0[1]", "finite"),
        ({"deadline": -1.0}, "deadline", "must be > 0"),
        ({"deadline": float("inf")}, "deadline", "finite"),
        ({"total_samples": 10.5}, "total_samples", "integer"),
        ({"total_samples": 0}, "total_samples", "must be >= 1 (got 0)"),
        ({"min_samples": -1}, "min_samples", "must be >= 0"),
        ({"staleness": -2}, "staleness", "must be >= 0"),
        ({"bogus": 1}, "bogus", "unknown field"),
        ({"c2": "fast"}, "c2", "list of numbers"),
        ({"c2": []}, "c2", "must not be empty"),
        ({"c2": [[1, 2], [3, 4]]}, "c2", "flat list"),
        (
            {"energy": {"g2": [1, 1, 1], "g1": [0, 0, 0], "g0": [0, 0, 0]}},
            "energy.budget",
            "missing required field",
        ),
        (
            {"energy": {"g2": [1, 1, 1], "g1": [0, 0, 0], "g0": [0, 0, 0], "budget": [1, -1, 1]}},
            "energy.budget[1]",
            "must be >= 0",
        ),
        (
            {"energy": {"g2": [1, 1], "g1": [0, 0], "g0": [0, 0], "budget": [1, 1]}},
            "energy.g2",
            "expected 3",
        ),
        ({"family": "nope"}, "family", ""),
    ],
)
def test_bad_input_names_the_field(changes, field, fragment):
    with pytest.raises(ValidationError) as info:
        MelProblem.from_dict(base(**changes))
    err = info.value
    assert err.field == field
    assert fragment in err.problem
    assert "\n" not in str(err)


def test_missing_field():
    doc = base()
    del doc["c0"]
    with pytest.raises(ValidationError, match=r"^c0: missing required field$"):
        MelProblem.from_dict(doc)


def test_not_a_mapping():
    with pytest.raises(ValidationError, match="must be a mapping"):
        MelProblem.from_dict([1, 2, 3])  # type: ignore[arg-type]


class TestEvaluate:
    p = MelProblem.from_dict(base())

    def test_feasible_allocation(self):
        ev = self.p.evaluate([5, 5, 5], [40, 30, 30])
        assert ev.feasible, ev.violations
        t = np.array(
            [
                0.01 * 5 * 40 + 0.001 * 40 + 0.5,
                0.02 * 5 * 30 + 0.002 * 30 + 0.3,
                0.04 * 5 * 30 + 0.03 + 0.1,
            ]
        )
        np.testing.assert_allclose(ev.times, t)
        np.testing.assert_allclose(ev.energies, 1e-3 * 5 * np.array([40, 30, 30]) + 0.1)
        assert ev.objective == 5.0
        assert ev.cycle_time == pytest.approx(t.max())

    @pytest.mark.parametrize(
        ("tau", "samples", "fragment"),
        [
            ([5, 5, 5], [40, 30, 29], "sum to 99"),
            ([5, 5, 5], [40.5, 30, 29.5], "not an integer"),
            ([9, 9, 9], [40, 30, 30], "miss the deadline"),
            ([5, 5, 4], [40, 30, 30], "synchronous problem needs equal tau"),
            ([5, 5, 5], [70, 30, 0], "min_samples"),
            ([0, 5, 5], [40, 30, 30], "< 1"),
            ([5, 5, 5], [-10, 60, 50], "negative"),
        ],
    )
    def test_each_violation_is_reported(self, tau, samples, fragment):
        ev = self.p.evaluate(tau, samples)
        assert not ev.feasible
        assert any(fragment in v for v in ev.violations), ev.violations

    def test_energy_violation(self):
        p = MelProblem.from_dict(
            base(energy={"g2": [1, 1, 1], "g1": [0, 0, 0], "g0": [0, 0, 0], "budget": [5, 5, 5]})
        )
        ev = p.evaluate([1, 1, 1], [40, 30, 30])
        assert any("energy budget" in v for v in ev.violations)

    def test_staleness(self):
        p = MelProblem.from_dict(base(staleness=1))
        assert p.evaluate([5, 4, 4], [40, 30, 30]).feasible
        ev = p.evaluate([6, 4, 4], [30, 35, 35])
        assert any("staleness bound c = 1" in v for v in ev.violations)
        assert p.evaluate([5, 4, 4], [40, 30, 30]).objective == pytest.approx(13 / 3)

    def test_sitting_out_needs_min_samples_zero(self):
        p = MelProblem.from_dict(base(min_samples=0))
        ev = p.evaluate([5, 5, 0], [50, 50, 0])
        assert ev.feasible, ev.violations
        assert ev.times[2] == 0.0 and ev.participants.tolist() == [True, True, False]
        bad = p.evaluate([5, 5, 3], [50, 50, 0])
        assert any("must be 0" in v for v in bad.violations)

    def test_continuous_allocation(self):
        ev = self.p.evaluate([5.5, 5.5, 5.5], [40.25, 30.5, 29.25], integral=False)
        assert ev.feasible, ev.violations

    def test_wrong_shape_is_a_validation_error(self):
        with pytest.raises(ValidationError, match="allocation"):
            self.p.evaluate([1, 1], [50, 50])
