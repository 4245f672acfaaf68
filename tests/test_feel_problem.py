"""The canonical ``feel`` problem: validation (one line naming the field), I/O, ``evaluate``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import edgealloc
from edgealloc.cli import app
from edgealloc.errors import ValidationError
from edgealloc.feel import FeelProblem

CPU: dict[str, Any] = {
    "family": "feel",
    "cpu_hz": [1e9, 2e9, 1.5e9],
    "uplink_rate": [1e8, 5e7, 8e7],
    "downlink_rate": [1.2e8, 6e7, 9e7],
    "cycles_per_sample": 1e8,
    "update_cycles": 1e6,
    "gradient_bits": 2.6e8,
    "frame": {"uplink": 0.01, "downlink": 0.01},
    "max_batch": 128,
    "loss_decay": 1.0,
    "gpu": None,
}
GPU: dict[str, Any] = {
    "family": "feel",
    "uplink_rate": [1e8, 5e7],
    "downlink_rate": [1e8, 5e7],
    "gradient_bits": 2.6e8,
    "frame": {"uplink": 0.01, "downlink": 0.02},
    "max_batch": 64,
    "gpu": {
        "base_time": [0.02, 0.03],
        "slope": [5e-4, 8e-4],
        "threshold": [16, 32],
        "update_time": [0.002, 0.002],
    },
}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(base))
    for key, value in changes.items():
        node = out
        parts = key.split("__")
        for part in parts[:-1]:
            node = node[part]
        if value is KeyError:
            node.pop(parts[-1])
        else:
            node[parts[-1]] = value
    return out


# ---------------------------------------------------------------------------
# Bad input: one ValidationError naming the field
# ---------------------------------------------------------------------------
BAD = [
    (with_(CPU, uplink_rate=[1e8, -5e7, 8e7]), "uplink_rate[1]", "> 0"),
    (with_(CPU, downlink_rate=[1e8, 0.0, 8e7]), "downlink_rate[1]", "> 0"),
    (with_(CPU, cpu_hz=[1e9, float("nan"), 1e9]), "cpu_hz[1]", "finite"),
    (with_(CPU, uplink_rate=[1e8, float("inf"), 1e8]), "uplink_rate[1]", "finite"),
    (with_(CPU, downlink_rate=[1e8, 5e7]), "downlink_rate", "expected 3"),
    (with_(CPU, cpu_hz=[1e9, 2e9]), "cpu_hz", "expected 3"),
    (with_(CPU, max_batch=0), "max_batch", ">= 1"),
    (with_(CPU, max_batch=12.5), "max_batch", "integer"),
    (with_(CPU, max_batch=True), "max_batch", "integer"),
    (with_(CPU, gradient_bits=0), "gradient_bits", "> 0"),
    (with_(CPU, cycles_per_sample=-1), "cycles_per_sample", "> 0"),
    (with_(CPU, update_cycles=-1), "update_cycles", ">= 0"),
    (with_(CPU, loss_decay=0), "loss_decay", "> 0"),
    (with_(CPU, frame__uplink=0), "frame.uplink", "> 0"),
    (with_(CPU, frame__downlink=-0.01), "frame.downlink", "> 0"),
    (with_(CPU, frame__sideways=1), "frame.sideways", "unknown field"),
    (with_(CPU, cpu_hz=KeyError), "cpu_hz", "missing"),
    (with_(CPU, cycles_per_sample=KeyError), "cycles_per_sample", "missing"),
    (with_(CPU, update_cycles=KeyError), "update_cycles", "missing"),
    (with_(CPU, gradient_bits=KeyError), "gradient_bits", "missing"),
    (with_(CPU, warp=9), "warp", "unknown field"),
    (with_(GPU, gpu__slope=[5e-4]), "gpu.slope", "expected 2"),
    (with_(GPU, gpu__threshold=[16, 65]), "gpu.threshold[1]", "max_batch"),
    (with_(GPU, gpu__threshold=[-1, 3]), "gpu.threshold[0]", ">= 0"),
    (with_(GPU, gpu__slope=[0.0, 1e-3]), "gpu.slope[0]", "> 0"),
    (with_(GPU, gpu__base_time=[0.1, float("nan")]), "gpu.base_time[1]", "finite"),
    (with_(GPU, gpu__update_time=KeyError), "gpu.update_time", "missing"),
    (with_(GPU, gpu__speed=3), "gpu.speed", "unknown field"),
    (with_(GPU, uplink_rate=[1e8, 5e7, 1e8], downlink_rate=[1e8, 5e7, 1e8]), "gpu.base_time", "3"),
]


@pytest.mark.parametrize(("doc", "field", "words"), BAD, ids=[f"{f}-{w}" for _, f, w in BAD])
def test_bad_input_names_the_field(doc: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ValidationError) as err:
        FeelProblem.from_dict(doc)
    assert err.value.field == field, str(err.value)
    assert words in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("doc", "field", "words"), BAD[:6] + BAD[20:23])
def test_bad_input_on_the_cli_is_one_line_exit_2(
    tmp_path: Path, doc: dict[str, Any], field: str, words: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))  # json writes NaN / Infinity literals, which it reads back
    res = CliRunner().invoke(app, ["solve", str(path), "--json"])
    assert res.exit_code == 2, res.output
    assert len(res.stderr.strip().splitlines()) == 1
    assert field in res.stderr and "Traceback" not in res.output


# ---------------------------------------------------------------------------
# I/O and immutability
# ---------------------------------------------------------------------------
def test_round_trip_json_yaml_and_replace(tmp_path: Path) -> None:
    for doc in (CPU, GPU):
        p = FeelProblem.from_dict(doc)
        assert FeelProblem.from_dict(json.loads(p.to_json())) == p
        path = tmp_path / "p.yaml"
        path.write_text(yaml.safe_dump(p.to_dict()))
        assert edgealloc.load_problem(path) == p
        p.to_json(tmp_path / "p.json")
        assert edgealloc.load_problem(tmp_path / "p.json") == p
    p = FeelProblem.from_dict(CPU)
    q = p.replace(max_batch=16)
    assert q.max_batch == 16 and p.max_batch == 128
    with pytest.raises(ValidationError, match="max_batch"):
        p.replace(max_batch=-3)
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        p.max_batch = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        p.uplink_rate[0] = 1.0  # read-only array


def test_gpu_problem_needs_no_cpu_fields_and_ignores_them() -> None:
    p = FeelProblem.from_dict(GPU)
    assert p.processor == "gpu" and p.cpu_hz is None and p.n_devices == 2
    doc = p.to_dict()
    assert "cpu_hz" not in doc and doc["gpu"]["threshold"] == [16.0, 32.0]
    q = FeelProblem.from_dict({**GPU, "cpu_hz": [1e9, 2e9], "cycles_per_sample": 1e9})
    b = [20, 40]
    ev_p = p.evaluate(b, [0.005, 0.005], [0.01, 0.01])
    ev_q = q.evaluate(b, [0.005, 0.005], [0.01, 0.01])
    assert ev_p.latency == ev_q.latency  # the GPU model is used, the CPU fields are not


def test_loss_decay_defaults_to_one_and_scales_only_the_objective() -> None:
    doc = with_(CPU, loss_decay=KeyError)
    p = FeelProblem.from_dict(doc)
    assert p.loss_decay == 1.0
    a = edgealloc.solve(p)
    b = edgealloc.solve(p.replace(loss_decay=3.0))
    assert np.array_equal(a.batch, b.batch)
    assert math.isclose(b.objective, 3.0 * a.objective, rel_tol=1e-12)


# ---------------------------------------------------------------------------
# evaluate: eq. (15) by hand, and every violation
# ---------------------------------------------------------------------------
def test_evaluate_recomputes_eq_15_by_hand() -> None:
    p = FeelProblem.from_dict(CPU)
    b = np.array([10, 20, 30])
    up = np.array([0.004, 0.003, 0.003])
    down = np.array([0.002, 0.005, 0.003])
    ev = p.evaluate(b, up, down)
    f = np.array(CPU["cpu_hz"])
    s = CPU["gradient_bits"]
    t_comp = b * 1e8 / f  # eq. (9)
    t_up = s * 0.01 / (up * np.array(CPU["uplink_rate"]))  # eq. (10)
    t_down = s * 0.01 / (down * np.array(CPU["downlink_rate"]))  # eq. (11)
    t_upd = 1e6 / f  # eq. (12)
    latency = max(t_comp + t_up) + max(t_down + t_upd)  # eq. (15)
    assert ev.feasible and math.isclose(ev.latency, latency, rel_tol=1e-15)
    assert math.isclose(ev.latency_uplink, max(t_comp + t_up), rel_tol=1e-15)
    assert ev.global_batch == 60
    assert math.isclose(ev.efficiency, math.sqrt(60) / latency, rel_tol=1e-15)


def test_evaluate_gpu_assumption_1() -> None:
    p = FeelProblem.from_dict(GPU)
    ev = p.evaluate([10, 40], [0.005, 0.005], [0.01, 0.01])
    # device 0 is data bound (10 <= 16), device 1 computes 8 samples past its threshold
    assert ev.compute_time.tolist() == [0.02, 0.03 + 8 * 8e-4]
    assert ev.update_time.tolist() == [0.002, 0.002]


@pytest.mark.parametrize(
    ("batch", "up", "down", "integral", "words"),
    [
        ([10.5, 20, 30], [0.003] * 3, [0.003] * 3, True, "not an integer"),
        ([0, 20, 30], [0.003] * 3, [0.003] * 3, True, "< 1"),
        ([10, 20, 129], [0.003] * 3, [0.003] * 3, True, "> max_batch"),
        ([10, 20, 30], [0.005, 0.005, 0.005], [0.003] * 3, True, "(17b)"),
        ([10, 20, 30], [0.003] * 3, [0.004] * 3, True, "(17c)"),
        ([10, 20, 30], [0.003, 0.0, 0.003], [0.003] * 3, True, "never uploads"),
        ([10, 20, 30], [0.003] * 3, [0.003, -1e-3, 0.003], True, "never receives"),
    ],
)
def test_evaluate_reports_each_violation(
    batch: list, up: list, down: list, integral: bool, words: str
) -> None:
    ev = FeelProblem.from_dict(CPU).evaluate(batch, up, down, integral=integral)
    assert not ev.feasible
    assert any(words in v for v in ev.violations), ev.violations


def test_evaluate_continuous_plan_and_bad_shapes() -> None:
    p = FeelProblem.from_dict(CPU)
    assert p.evaluate([10.5, 20.25, 1.0], [0.003] * 3, [0.003] * 3, integral=False).feasible
    with pytest.raises(ValidationError, match="batch"):
        p.evaluate([1, 2], [0.003] * 3, [0.003] * 3)
    with pytest.raises(ValidationError, match="uplink_slot"):
        p.evaluate([1, 2, 3], [0.003, np.nan, 0.003], [0.003] * 3)


@pytest.mark.filterwarnings("ignore:overflow encountered in multiply")  # 1e308-second slots
def test_evaluate_fast_paths_name_the_first_offender() -> None:
    """evaluate tests a passing plan with one reduction per check (a finite sum, min/max):
    a sum that overflows is checked term by term, an infinite or NaN term is refused, and a
    failing check still names the first offending device."""
    p = FeelProblem.from_dict(CPU)
    huge = [1e308, 1e308, 0.003]  # finite terms whose sum overflows: no "must be finite"
    ev = p.evaluate([10, 20, 30], huge, [0.003] * 3)
    assert any("(17b)" in v for v in ev.violations)
    for bad in ([0.003, np.inf, 0.003], [np.inf, -np.inf, 0.003], [np.nan, 0.003, 0.003]):
        with pytest.raises(ValidationError, match=r"uplink_slot.*finite"):
            p.evaluate([10, 20, 30], bad, [0.003] * 3)
    ev = p.evaluate([10, 0, -3], [0.003, 0.0, -1.0], [0.003] * 3)
    assert ev.violations[0] == "batch[1] = 0 < 1 (17e)"
    assert ev.violations[1].startswith("uplink_slot[1] = 0: a device without a slot")
    assert math.isinf(ev.upload_time[1]) and math.isinf(ev.upload_time[2])
    ev = p.evaluate([10, 20.5, 30.5], [0.003] * 3, [0.003] * 3)
    assert ev.violations == ("batch[1] = 20.5 is not an integer",)
    ev = p.evaluate([10, 200, 300], [0.003] * 3, [0.003] * 3)
    assert ev.violations == ("batch[1] = 200 > max_batch = 128 (17e)",)


def test_no_valid_problem_is_infeasible() -> None:
    """Any positive slots deliver every gradient eventually: extreme inputs still get plans."""
    p = FeelProblem.from_dict(
        with_(
            CPU, uplink_rate=[1e-3, 1e12, 1.0], downlink_rate=[1e-6, 1.0, 1e9], gradient_bits=1e12
        )
    )
    for scheme in edgealloc.schemes("feel"):
        res = edgealloc.solve(p, scheme, raise_infeasible=True)
        assert res.success and math.isfinite(res.allocation.latency) and res.objective > 0
