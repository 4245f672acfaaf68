"""The ``feel`` family through the registry, presets, scenario compiler, CLI and demo."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.special import exp1
from typer.testing import CliRunner

import edgealloc
import edgealloc.demo
import edgealloc.feel.present
import edgealloc.mel.present
import edgealloc.offload.present
from edgealloc import registry
from edgealloc.cli import app
from edgealloc.errors import ValidationError
from edgealloc.feel import FeelProblem
from edgealloc.scenarios import PRESETS, preset_text

COMMON = {"family", "scheme", "status", "objective", "bound", "message", "solve_seconds"}
FEEL = {
    "batch",
    "global_batch",
    "uplink_slot",
    "downlink_slot",
    "latency",
    "latency_uplink",
    "latency_downlink",
    "efficiency",
    "relaxed_bound",
}
SCHEMES = ["optimal", "relaxed", "paper", "online", "full", "random", "equal-slots"]


def invoke(*args: Any, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], input=stdin)


# ---------------------------------------------------------------------------
# Registry and descriptor
# ---------------------------------------------------------------------------
def test_registered_after_the_offload_families() -> None:
    names = list(registry.families())
    assert names.index("feel") == names.index("offload-d2d") + 1
    fam = registry.get_family("feel")
    assert list(fam.schemes) == SCHEMES and fam.exact == "optimal" and fam.sense == "max"
    assert fam.integral == set(SCHEMES) - {"relaxed"} and fam.trainable == fam.integral
    assert fam.demo_presets == ("feel-cpu",) and "feel-cpu" in edgealloc.demo.demo_presets()
    assert registry.preset_family("feel-cpu") == registry.preset_family("feel-gpu") == "feel"


def test_families_command_lists_feel() -> None:
    res = invoke("families")
    assert res.exit_code == 0, res.output
    assert "feel" in res.stdout and "equal-slots" in res.stdout


# ---------------------------------------------------------------------------
# Presets and the scenario compiler
# ---------------------------------------------------------------------------
def _rayleigh_rate(distance_m: np.ndarray) -> np.ndarray:
    """eqs. (5)-(6) with Table I, written out: W e^{1/s} E1(1/s) / ln 2."""
    gain = 10 ** (-(128.1 + 37.6 * np.log10(distance_m / 1000.0)) / 10)
    snr = 10 ** (28 / 10) / 1e3 * gain / (10 ** (-174 / 10) / 1e3 * 1e7)
    return 1e7 * np.exp(1 / snr) * exp1(1 / snr) / math.log(2)


def test_feel_cpu_preset_is_table_1() -> None:
    p = edgealloc.load_problem("feel-cpu")
    assert isinstance(p, FeelProblem) and p.n_devices == 12 and p.gpu is None
    assert p.cpu_hz.tolist() == [0.7e9] * 4 + [1.4e9] * 4 + [2.1e9] * 4
    assert p.gradient_bits == 32 * 8_062_504 and p.max_batch == 128
    assert p.frame.uplink == p.frame.downlink == 0.01
    d = np.asarray(p.meta["distance_m"])
    assert (d <= 200).all() and (d >= 1).all()
    assert np.allclose(p.uplink_rate, _rayleigh_rate(d), rtol=1e-12)
    assert np.array_equal(p.uplink_rate, p.downlink_rate)  # same loss, same power
    assert p.cycles_per_sample == pytest.approx(6 * 2.83e9 / 49, rel=1e-12)
    assert p.update_cycles == 2 * 8_062_504
    assert preset_text("feel-cpu").lstrip().startswith("#")


def test_feel_gpu_preset_and_model_choice() -> None:
    g = edgealloc.load_problem("feel-gpu")
    assert g.n_devices == 6 and g.processor == "gpu" and g.cpu_hz is None
    assert g.gpu.threshold.tolist() == [32.0] * 6
    for model, params in (("resnet18", 33_161_024), ("mobilenetv2", 3_538_984)):
        p = edgealloc.load_problem("feel-cpu", overrides={"model": model, "K": 6})
        assert p.gradient_bits == 32 * params and p.n_devices == 6
    p = edgealloc.load_problem("feel-cpu", overrides={"devices": 7, "Bmax": 64, "xi": 2})
    assert p.n_devices == 7 and p.max_batch == 64 and p.loss_decay == 2.0
    assert p.cpu_hz.tolist() == [0.7e9] * 3 + [1.4e9] * 2 + [2.1e9] * 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"devices": 0}, "devices.count"),
        ({"model": "vgg16"}, "workload.model"),
        ({"radius": -5}, "devices.placement.radius_m"),
        ({"P_U": "loud"}, "link.tx_power_dbm.uplink"),
        ({"warp": 9}, "warp"),
        ({"gpu_slope": [1e-3, 2e-3]}, "devices.gpu.slope_s"),
    ],
)
def test_bad_scenarios_name_the_field(overrides: dict, field: str) -> None:
    preset = "feel-gpu" if "gpu_slope" in overrides else "feel-cpu"
    with pytest.raises(ValidationError) as err:
        edgealloc.load_problem(preset, overrides=overrides)
    assert field in err.value.field, str(err.value)  # an alias is shown with its path


def test_every_preset_solves_on_the_cli() -> None:
    for name in ("feel-cpu", "feel-gpu"):
        assert name in PRESETS
        res = invoke("solve", name)
        assert res.exit_code == 0, res.output
        assert "global batch" in res.stdout and "latency" in res.stdout


# ---------------------------------------------------------------------------
# solve, compile, JSON
# ---------------------------------------------------------------------------
def test_solve_all_schemes_table_and_json() -> None:
    res = invoke("solve", "feel-cpu", "--scheme", "all")
    assert res.exit_code == 0, res.output
    for scheme in SCHEMES:
        assert scheme in res.stdout
    assert "latency (s)" in res.stdout and "global batch" in res.stdout
    res = invoke("solve", "feel-cpu", "--scheme", "all", "--json")
    rows = json.loads(res.stdout)
    assert [r["scheme"] for r in rows] == SCHEMES
    for row in rows:
        assert set(row) >= COMMON | FEEL, row["scheme"]
        assert row["objective"] == row["efficiency"]
        assert row["objective"] <= rows[0]["objective"] * (1 + 1e-12) or row["scheme"] == "relaxed"
    assert rows[0]["status"] == "optimal" and rows[0]["bound"] == rows[0]["objective"]
    assert all(isinstance(b, int) for b in rows[0]["batch"])
    assert rows[0]["global_batch"] == sum(rows[0]["batch"])


def test_compile_then_solve_the_file(tmp_path: Path) -> None:
    res = invoke("compile", "feel-gpu", "--output", tmp_path / "gpu.json")
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "gpu.json").read_text())
    assert doc["family"] == "feel" and doc["gpu"] is not None and "cpu_hz" not in doc
    res = invoke("solve", tmp_path / "gpu.json", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["objective"] == edgealloc.solve("feel-gpu").objective
    # the same document through standard input
    res = invoke("solve", "-", "--json", "--scheme", "full", stdin=json.dumps(doc))
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["batch"] == [128] * 6


def test_set_aliases_on_the_cli() -> None:
    res = invoke("solve", "feel-cpu", "--set", "K=5", "--set", "model=mobilenetv2", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert len(out["batch"]) == 5
    res = invoke("compile", "feel-cpu", "--set", "Tf_U=0.02", "--set", "W=2e7")
    doc = json.loads(res.stdout)
    assert doc["frame"]["uplink"] == 0.02
    assert min(doc["uplink_rate"]) > min(edgealloc.load_problem("feel-cpu").uplink_rate)


def test_canonical_file_written_by_hand(tmp_path: Path) -> None:
    doc = {
        "family": "feel",
        "cpu_hz": [1e9, 2e9],
        "uplink_rate": [1e8, 5e7],
        "downlink_rate": [1e8, 5e7],
        "cycles_per_sample": 1e8,
        "update_cycles": 1e6,
        "gradient_bits": 2.6e8,
        "frame": {"uplink": 0.01, "downlink": 0.01},
        "max_batch": 128,
        "loss_decay": 1.0,
        "gpu": None,
    }
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML
    res = invoke("solve", path, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["family"] == "feel" and out["status"] == "optimal"
    bad = {**doc, "uplink_rate": [1e8, float("nan")]}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    res = invoke("solve", tmp_path / "bad.json")
    assert res.exit_code == 2 and "uplink_rate[1]" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------------
# The demo
# ---------------------------------------------------------------------------
def test_demo_writes_the_feel_figure(tmp_path: Path) -> None:
    doc = edgealloc.demo.run_demo(tmp_path, presets=("feel-cpu",))
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"feel.png", "demo.json", "feel-cpu.problem.json"}
    assert (tmp_path / "feel.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    entry = doc["presets"]["feel-cpu"]
    assert entry["devices"] == 12 and entry["processor"] == "cpu"
    assert list(entry["schemes"]) == SCHEMES
    best = entry["schemes"]["optimal"]["objective"]
    for scheme, res in entry["schemes"].items():
        if scheme != "relaxed":
            assert res["objective"] <= best * (1 + 1e-12), scheme
        assert res["gap_percent"] >= -1e-9 or scheme == "relaxed"
    assert edgealloc.load_problem(tmp_path / "feel-cpu.problem.json") == edgealloc.load_problem(
        "feel-cpu"
    )


def test_demo_command_includes_feel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every figure is stubbed here (test_demo_writes_the_feel_figure draws feel's).
    drawn: list[Path] = []
    for module in (edgealloc.mel.present, edgealloc.offload.present, edgealloc.feel.present):
        monkeypatch.setattr(module, "_figure", lambda cases, path: drawn.append(path))
    out = tmp_path / "demo"
    res = invoke("demo", "--out", out)
    assert res.exit_code == 0, res.output
    assert "feel-cpu: " in res.stdout and "feel.png" in res.stdout
    assert any("feel.png" in path.name for path in drawn)  # (through a temporary file)
    numbers = json.loads((out / "demo.json").read_text())
    assert numbers["presets"]["feel-cpu"]["schemes"]["optimal"]["status"] == "optimal"
