"""flmar training: FedAvg under a plan, every device at its resolution, on the plan's clock.

Every expected value is recomputed here from the problem's fields and the
paper's equations ((1)-(3), (7)-(11) of Zhou, Liu & Zhao, IEEE TWC 2023) and
from the resolution mapping of ``learn.flmar_accuracy`` (largest option = the
native side), never read back from the code under test.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import edgealloc
from edgealloc import registry
from edgealloc.cli import app
from edgealloc.errors import ValidationError
from edgealloc.flmar import FlmarProblem
from edgealloc.learn import trainers as tr

torch = pytest.importorskip("torch")

from edgealloc.learn import flmar_training as ft  # noqa: E402
from edgealloc.learn import load_dataset  # noqa: E402
from edgealloc.learn.engine import evaluate  # noqa: E402
from edgealloc.learn.flmar_accuracy import at_resolution  # noqa: E402
from edgealloc.learn.models import model_for  # noqa: E402

#: Small and fast: 4 devices (randpixel's draw mixes 160, 480 and 640 px), 300 digits.
SETS = {"N": 4}


@pytest.fixture(scope="module")
def data() -> Any:
    return load_dataset("digits", n_samples=300)


@pytest.fixture(scope="module")
def spec(data: Any) -> Any:
    return model_for(data, "mlp")


@pytest.fixture(scope="module")
def problem(spec: Any) -> Any:
    return ft.flmar_scenario_for_model("mar-paper", spec, SETS)[0]


def _side(s: float, options: Any, native: int) -> int:
    """h = max(1, round(H s / s_K)), half up (learn.flmar_accuracy's mapping)."""
    return max(1, math.floor(native * s / float(options[-1]) + 0.5))


def _round_price(problem: Any, plan: Any) -> tuple[float, float]:
    """Round time max_n(T_cmp + T_com) (eqs. (10), (2), (1)), energy per round (eqs. (3), (8))."""
    b, p, f, s = (
        np.asarray(getattr(plan, k), dtype=float)
        for k in ("bandwidth", "power", "frequency", "resolution")
    )
    r = b * np.log2(1 + problem.channel_gain * p / (problem.noise_psd * b))
    upload = problem.upload_bits / r
    cycles = problem.local_iterations * problem.cycles_per_sample * problem.samples
    cycles = cycles * (s / problem.reference_resolution) ** 2
    t = cycles / f + upload
    e = p * upload + problem.capacitance * cycles * f**2
    return float(t.max()), float(e.sum())


# ---------------------------------------------------------------------------
# Registry and family
# ---------------------------------------------------------------------------
def test_flmar_trains_every_scheme_with_a_plan() -> None:
    fam = registry.get_family("flmar")
    assert fam.trainable == frozenset(fam.schemes)
    assert "flmar" in tr.trainers() and tr.get_trainer("flmar").rounds == "global rounds"
    assert ft.trainable_flmar_schemes() == list(fam.schemes)


# ---------------------------------------------------------------------------
# One plan
# ---------------------------------------------------------------------------
def test_every_device_trains_at_its_planned_resolution(
    problem: Any, data: Any, spec: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = edgealloc.solve(problem, "randpixel")
    seen: list[list[np.ndarray]] = []
    real = ft.local_sgd_cycle

    def spy(spec_: Any, params: Any, xs: Any, ys: Any, tau: Any, **kw: Any) -> Any:
        seen.append([np.array(x) for x in xs])
        assert list(tau) == [problem.local_iterations] * problem.n_devices  # R_l steps
        return real(spec_, params, xs, ys, tau, **kw)

    monkeypatch.setattr(ft, "local_sgd_cycle", spy)
    rec = ft.train_flmar(problem, plan, data, spec=spec, cycles=2, lr=0.5)
    sides = [_side(s, problem.resolutions, 8) for s in plan.resolution]
    assert len(set(sides)) > 1 and min(sides) < 8  # a mixed federation
    assert rec.sides.tolist() == sides
    assert len(seen) == 2
    owned = np.concatenate(rec.partition)
    assert np.array_equal(np.sort(owned), np.arange(data.n_train))  # a partition of the set
    for xs in seen:
        for i, x in enumerate(xs):
            raw = data.x_train[rec.partition[i]]
            assert np.array_equal(x, at_resolution(raw, sides[i]))
            assert np.array_equal(x, raw) == (sides[i] == 8)
    # the readings: mean over devices at their own side, and at the native side
    own = np.mean(
        [evaluate(spec, rec.params, at_resolution(data.x_test, h), data.y_test)[1] for h in sides]
    )
    assert rec["test_accuracy"][-1] == pytest.approx(own, abs=1e-12)
    native = evaluate(spec, rec.params, data.x_test, data.y_test)[1]
    assert rec.accuracy_native[-1] == pytest.approx(native, abs=1e-12)
    assert rec.predicted_accuracy == pytest.approx(
        np.mean([problem.accuracy[list(problem.resolutions).index(s)] for s in plan.resolution])
    )


def test_clock_and_energy_advance_by_the_plan_every_round(
    problem: Any, data: Any, spec: Any
) -> None:
    plan = edgealloc.solve(problem, "optimal")
    rec = ft.train_flmar(problem, plan, data, spec=spec, cycles=3)
    t, e = _round_price(problem, plan)
    r = np.arange(4)
    np.testing.assert_allclose(rec["sim_time_s"], r * t, rtol=1e-9)
    np.testing.assert_allclose(rec["energy_j"], r * e, rtol=1e-9)
    # T = R_g t and E = R_g e are the plan's completion time (11) and energy (9)
    assert problem.rounds * t == pytest.approx(plan.time, rel=1e-9)
    assert problem.rounds * e == pytest.approx(plan.energy, rel=1e-9)
    assert np.isfinite(rec["train_loss"]).all() and np.isfinite(rec["test_accuracy"]).all()
    rows = rec.ledger_rows()
    assert sum(row["energy_j"] for row in rows) == pytest.approx(3 * e, rel=1e-9)
    assert [row["tau"] for row in rows] == [10] * 4 and rows[0]["samples"] == 500
    assert any("R_g = 100 rounds; 3 trained" in n for n in rec.notes)


def test_same_seed_same_record(problem: Any, data: Any, spec: Any) -> None:
    plan = edgealloc.solve(problem, "paper")
    a = ft.train_flmar(problem, plan, data, spec=spec, cycles=2, seed=3)
    b = ft.train_flmar(problem, plan, data, spec=spec, cycles=2, seed=3)
    for col in a.columns:
        np.testing.assert_array_equal(a[col], b[col])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mode": "parallel"}, "mode"),
        ({"clock": "deadline"}, "clock"),
        ({"kappa": 1e-27}, "kappa"),
        ({"local_steps": 0}, "local_steps"),
    ],
)
def test_bad_options_name_the_field(
    problem: Any, data: Any, spec: Any, kwargs: dict[str, Any], field: str
) -> None:
    plan = edgealloc.solve(problem, "paper")
    with pytest.raises(ValidationError) as info:
        ft.train_flmar(problem, plan, data, spec=spec, cycles=1, **kwargs)
    assert info.value.field == field


def test_refuses_features_and_other_plans(problem: Any, spec: Any) -> None:
    plan = edgealloc.solve(problem, "paper")
    flat = load_dataset("linear", n_samples=100)
    with pytest.raises(ValidationError) as info:
        ft.train_flmar(problem, plan, flat, cycles=1)
    assert info.value.field == "dataset"
    bigger = ft.flmar_scenario_for_model("mar-paper", spec, {"N": 5})[0]
    with pytest.raises(ValidationError) as info:
        ft.train_flmar(bigger, plan, load_dataset("digits", n_samples=100), cycles=1)
    assert info.value.field == "result"


# ---------------------------------------------------------------------------
# Every scheme
# ---------------------------------------------------------------------------
def test_compare_trains_every_scheme_that_plans(problem: Any, data: Any, spec: Any) -> None:
    cmp = ft.compare_flmar(problem, data, spec=spec, cycles=2, lr=0.5)
    assert list(cmp.records) == ["optimal", "paper", "minpixel", "randpixel"]
    assert set(cmp.skipped) == {"comm-only", "comp-only", "yang2021"}
    assert all("deadline" in why for why in cmp.skipped.values())
    # the same data, seed and initial model: two plans at the same resolutions train alike
    opt, low = cmp.records["optimal"], cmp.records["minpixel"]
    assert opt.sides.tolist() == low.sides.tolist() == [2] * 4
    np.testing.assert_array_equal(opt["test_accuracy"], low["test_accuracy"])
    # planning buys the weighted cost w1 E + w2 T (12) at the same accuracy (rho = 1)
    w = problem.weights
    cost = {
        k: w.energy * r["energy_j"][-1] + w.time * r["sim_time_s"][-1]
        for k, r in (("opt", opt), ("low", low))
    }
    assert cost["opt"] < cost["low"]
    rows = cmp.summary_rows()
    assert [r["scheme"] for r in rows] == list(cmp.records)
    assert rows[0]["px (devices)"] == "160 (4)"


def test_compare_with_a_deadline_trains_the_deadline_schemes(spec: Any, data: Any) -> None:
    p = ft.flmar_scenario_for_model("mar-paper", spec, {**SETS, "deadline": 200})[0]
    cmp = ft.compare_flmar(p, data, spec=spec, cycles=1, schemes=["comp-only", "yang2021"])
    assert set(cmp.records) == {"comp-only", "yang2021"} and not cmp.skipped
    for name, rec in cmp.records.items():
        t, _ = _round_price(p, cmp.results[name])
        assert rec["sim_time_s"][1] == pytest.approx(t, rel=1e-9) and t <= 2.0 * (1 + 1e-6)


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------
FAST = ["--set", "devices=4", "--cycles", "2", "--n-samples", "300"]


def invoke(*args: Any) -> Any:
    return CliRunner().invoke(app, ["train", "mar-paper", *[str(a) for a in args]])


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_cli_scheme_all(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = invoke("--scheme", "all", "--out", out, *FAST)
    assert res.exit_code == 0, res.output
    for name in ("optimal", "paper", "minpixel", "randpixel"):
        assert (out / f"record-{name}.csv").exists() and (out / f"ledger-{name}.csv").exists()
    for name in ("comm-only", "comp-only", "yang2021"):
        assert f"{name} not trained: infeasible" in res.stdout
        assert not (out / f"record-{name}.csv").exists()
    assert (out / "comparison.png").stat().st_size > 0
    problem = FlmarProblem.from_dict(json.loads((out / "problem.json").read_text()))
    plan = json.loads((out / "allocation-optimal.json").read_text())
    t, e = _round_price(problem, SimpleNamespace(**plan))
    rows = _csv(out / "record-optimal.csv")
    assert [int(r["cycle"]) for r in rows] == [0, 1, 2]
    for r in rows:
        assert float(r["sim_time_s"]) == pytest.approx(int(r["cycle"]) * t, rel=1e-9)
        assert float(r["energy_j"]) == pytest.approx(int(r["cycle"]) * e, rel=1e-9)


def test_cli_one_scheme(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = invoke("--scheme", "optimal", "--out", out, *FAST)
    assert res.exit_code == 0, res.output
    assert {"record.csv", "record.png", "allocation.json", "ledger.csv", "problem.json"} <= {
        p.name for p in out.iterdir()
    }
    assert "global rounds on the simulated clock" in res.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--mode", "parallel"], "--mode"),
        (["--clock", "deadline"], "--clock"),
        (["--kappa", "1e-27"], "--kappa"),
        (["--dataset", "linear"], "dataset"),
        (["--scheme", "nosuch"], "--scheme"),
        (["--cycles", "0"], "--cycles"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    res = invoke("--out", tmp_path / "run", *FAST, *args)
    assert res.exit_code == 2, res.output
    assert needle in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.output


@pytest.mark.parametrize(
    ("args", "model", "lr"), [([], "cnn", "0.5"), (["--model", "mlp", "--lr", "0.2"], "mlp", "0.2")]
)
def test_cli_defaults_to_the_family_s_model_and_rate(
    tmp_path: Path, args: list[str], model: str, lr: str
) -> None:
    """flmar trains images at a resolution: the CNN at the held-out rule's 0.5 unless the
    user says otherwise (mel and feel keep the MLP at 0.1)."""
    out = tmp_path / "run"
    res = invoke("--scheme", "optimal", "--out", out, *FAST, *args)
    assert res.exit_code == 0, res.output
    assert f", {model} (" in res.stdout and f"lr = {lr}," in res.stdout
