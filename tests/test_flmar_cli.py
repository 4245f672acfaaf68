"""``flmar`` through the registry: the preset and its scenario model, the CLI, the presenter."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from typer.testing import CliRunner

import edgealloc
from edgealloc import registry
from edgealloc.cli import app
from edgealloc.errors import ValidationError
from edgealloc.flmar.scenario import accuracy_model
from edgealloc.scenarios import PRESETS, compile_scenario, preset_text
from test_flmar_helpers import document, paper_like

COMMON = {"family", "scheme", "status", "objective", "bound", "message", "solve_seconds"}
FLMAR = {
    "bandwidth",
    "power",
    "frequency",
    "resolution",
    "energy",
    "energy_transmission",
    "energy_computation",
    "time",
    "round_time",
    "accuracy",
    "mean_accuracy",
    "iterations",
}


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line(text: str) -> bool:
    return len(text.strip().splitlines()) == 1


# ---------------------------------------------------------------------------
# The preset and the scenario model
# ---------------------------------------------------------------------------
def test_the_preset_compiles_the_papers_setting() -> None:
    p = edgealloc.load_problem("mar-paper")
    assert registry.preset_family("mar-paper") == "flmar"
    assert p.n_devices == 50 and p.resolutions.tolist() == [160, 320, 480, 640]
    assert p.reference_resolution == 160 and p.rounds == 100 and p.local_iterations == 10
    assert p.bandwidth == 2e7 and p.capacitance == 1e-28
    assert p.noise_psd == pytest.approx(10 ** (-17.4) / 1000, rel=1e-12)
    assert p.power_min[0] == pytest.approx(1e-3) and p.power_max[0] == pytest.approx(10**1.2 / 1e3)
    assert (p.frequency_min[0], p.frequency_max[0]) == (1e8, 2e9)
    assert np.all((p.cycles_per_sample >= 1e4) & (p.cycles_per_sample <= 3e4))
    assert p.bits[0] == 28100 and np.all(p.samples == 500)
    assert p.accuracy.tolist() == [0.44225, 0.61996, 0.79766, 0.97537]
    d = np.asarray(p.meta["distance_m"])
    assert np.all((d >= 1.0) & (d <= 250.0))
    # g = 10^(-(128.1 + 37.6 log10 d_km + X)/10), with the recorded shadowing X.
    pl = 128.1 + 37.6 * np.log10(d / 1000) + np.asarray(p.meta["shadowing_db"])
    assert np.allclose(p.channel_gain, 10 ** (-pl / 10), rtol=1e-12)
    assert p.deadline is None and p.weights.to_dict() == {
        "energy": 0.5,
        "time": 0.5,
        "accuracy": 1.0,
    }


def test_shadowing_is_lognormal_with_8_db() -> None:
    p = edgealloc.load_problem("mar-paper", overrides={"N": 4000, "seed": 3})
    x = np.asarray(p.meta["shadowing_db"])
    assert abs(x.mean()) < 0.5 and x.std() == pytest.approx(8.0, rel=0.05)
    d = np.asarray(p.meta["distance_m"])
    # Uniform over the disc's area: half the devices within R / sqrt(2).
    assert np.mean(d < 250 / math.sqrt(2)) == pytest.approx(0.5, abs=0.03)


def test_aliases_for_the_sweeps_of_figs_4_to_6() -> None:
    p = edgealloc.load_problem(
        "mar-paper",
        overrides={
            "N": 7,
            "p_max": 6,
            "f_max": 1.5e9,
            "rho": 20,
            "w1": 0.9,
            "w2": 0.1,
            "T": 80,
            "baseline": "power",
        },
    )
    assert p.n_devices == 7
    assert p.power_max[0] == pytest.approx(10**0.6 / 1e3)
    assert p.frequency_max[0] == 1.5e9
    assert (p.weights.energy, p.weights.time, p.weights.accuracy) == (0.9, 0.1, 20.0)
    assert p.deadline == 80.0 and p.baseline.randomize == "power"
    # Same seed: the same devices whatever the sweep.
    q = edgealloc.load_problem("mar-paper", overrides={"N": 7, "rho": 5})
    assert np.array_equal(p.channel_gain, q.channel_gain)


def test_accuracy_models() -> None:
    s = np.array([160.0, 320.0, 480.0, 640.0])
    assert np.allclose(
        accuracy_model("liu2018-linear", s), [0.44225, 0.61996, 0.79766, 0.97537], atol=5e-6
    )
    assert np.allclose(accuracy_model("liu2018", s), 1 - 1.578 * np.exp(-6.5e-3 * s))
    p = edgealloc.load_problem("mar-paper", overrides={"accuracy": {"model": "liu2018"}})
    assert p.accuracy[0] == pytest.approx(1 - 1.578 * math.exp(-1.04))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"N": 0}, "devices.count"),
        ({"radius": -1}, "devices.placement.radius_m"),
        ({"p_min": 20}, "devices.tx_power_dbm.min"),
        ({"f_min": 0}, "devices.cpu_hz.min"),
        ({"rho": -1}, "weights.accuracy"),
        ({"accuracy": {"model": "nope"}}, "training.accuracy"),
        ({"devices.colour": 1}, "devices.colour"),
    ],
)
def test_bad_scenarios_name_the_field(overrides, field) -> None:
    with pytest.raises(ValidationError) as err:
        edgealloc.load_problem("mar-paper", overrides=overrides)
    assert field in str(err.value)


def test_the_preset_documents_its_readings() -> None:
    text = preset_text("mar-paper")
    assert text.startswith("#") and "Readings" in text
    for word in ("250 m", "128.1", "8 dB", "-174", "12 dBm", "s_0 = 160", "[16]"):
        assert word in text, word
    assert "mar-paper" in PRESETS
    assert compile_scenario(PRESETS["mar-paper"]()) == edgealloc.load_problem("mar-paper")


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------
def test_families_lists_flmar() -> None:
    res = invoke("families")
    assert res.exit_code == 0
    assert "flmar" in res.stdout and "yang2021" in res.stdout and "p_max" in res.stdout


def test_compile_then_solve_the_file_as_json(tmp_path: Path) -> None:
    res = invoke("compile", "mar-paper", "--set", "N=8", "--out", tmp_path / "p.json")
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["family"] == "flmar" and len(doc["channel_gain"]) == 8
    out = invoke("solve", tmp_path / "p.json", "--json")
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert set(result) >= COMMON | FLMAR
    assert result["status"] == "optimal" and result["scheme"] == "optimal"
    p = edgealloc.load_problem(tmp_path / "p.json")
    ev = p.evaluate(result["bandwidth"], result["power"], result["frequency"], result["resolution"])
    assert ev.feasible and ev.objective == pytest.approx(result["objective"], rel=1e-12)
    assert result["time"] == pytest.approx(ev.time) and result["energy"] == pytest.approx(ev.energy)


def test_solve_every_scheme_on_the_preset() -> None:
    res = invoke("solve", "mar-paper", "--set", "N=10", "--scheme", "all")
    assert res.exit_code == 0, res.output
    for scheme in edgealloc.schemes("flmar"):
        assert scheme in res.stdout
    assert "energy (J)" in res.stdout and "mean accuracy" in res.stdout
    assert "without a deadline" in res.stdout  # comm-only, comp-only, yang2021
    table = invoke("solve", "mar-paper", "--set", "N=10", "--scheme", "paper")
    assert table.exit_code == 0
    assert "bandwidth (kHz)" in table.stdout and "resolutions" in table.stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    doc = document(3, 0)
    doc["channel_gain"][1] = -1.0
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    res = invoke("solve", path)
    assert res.exit_code == 2 and one_line(res.stderr) and "channel_gain[1]" in res.stderr
    res = invoke("solve", "mar-paper", "--set", "rho=-1")
    assert res.exit_code == 2 and one_line(res.stderr) and "must be >= 0" in res.stderr


def test_an_impossible_deadline_exits_3_with_the_smallest_one() -> None:
    res = invoke("solve", "mar-paper", "--set", "N=10", "--set", "deadline=1")
    assert res.exit_code == 3 and one_line(res.stderr)
    assert "smallest feasible deadline" in res.stderr and "--set deadline=" in res.stderr
    t_min = float(res.stderr.split("--set deadline=")[1].rstrip(")\n"))
    ok = invoke("solve", "mar-paper", "--set", "N=10", "--set", f"deadline={t_min}", "--json")
    assert ok.exit_code == 0, ok.output


def test_a_baseline_whose_clock_would_exceed_f_max_exits_3() -> None:
    p = edgealloc.load_problem("mar-paper", overrides={"N": 10})
    t0 = p.bits / edgealloc.flmar._math.rate(
        np.full(10, p.bandwidth / 10), p.power_max, p.channel_gain, p.noise_psd
    )
    tight = float(np.max(t0 + p.cycles_per_round / p.frequency_max)) * p.rounds * 0.99
    res = invoke(
        "solve", "mar-paper", "--set", "N=10", "--set", f"deadline={tight}", "--scheme", "comp-only"
    )
    assert res.exit_code == 3 and one_line(res.stderr)
    assert "above f_max" in res.stderr
    assert (
        invoke(
            "solve", "mar-paper", "--set", "N=10", "--set", f"deadline={tight}", "--json"
        ).exit_code
        == 0
    )  # the optimum moves bandwidth and meets it


# ---------------------------------------------------------------------------
# The presenter and the demo figure
# ---------------------------------------------------------------------------
def test_presenter_and_figure(tmp_path: Path) -> None:
    fam = registry.get_family("flmar")
    assert fam.demo_presets == ("mar-paper",) and fam.sense == "min"
    assert fam.integral == frozenset(fam.schemes) and fam.trainable == frozenset(fam.schemes)
    p = paper_like(8, 1, weights=(0.5, 0.5, 12.0), deadline=150.0)
    results = edgealloc.compare.solve_all(p)
    pres = fam.presenter
    assert "N = 8 devices" in pres.describe(p)
    rows = dict(pres.summary(p, results[0]))
    assert {"energy", "time", "accuracy", "resolutions"} <= set(rows)
    assert [c.header for c in pres.columns(p)] == ["energy (J)", "time (s)", "mean accuracy"]
    assert pres.size(p) == {
        "family": "flmar",
        "devices": 8,
        "options": 4,
        "deadline": 150.0,
        "weights": {"energy": 0.5, "time": 0.5, "accuracy": 12.0},
    }
    table = pres.device_table(p, results[0], list(range(8)))
    assert len(table.rows) == 8
    path = tmp_path / "flmar.png"
    pres.plot([("case", p, results)], path)
    height, width, _ = matplotlib.image.imread(path).shape
    assert width > 1000 and height > 400
