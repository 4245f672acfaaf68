"""The FEEL reproductions in quick, reduced form: Table II, Figs. 4-5 and Remark 2.

The runs are cut down (few devices, a short horizon, a fixed learning rate)
so that each takes seconds; what is checked is what the experiment reads off
its runs (tables, speed-ups, the closed form of Theorem 1), not the paper's
numbers, which are facts to compare with in ``docs/feel.md``.
"""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgealloc.api import load_problem, solve
from edgealloc.errors import ValidationError
from edgealloc.experiments import EXPERIMENTS, feel_remark2, run_experiment
from edgealloc.experiments import _feel as feel_runs


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_registered() -> None:
    assert {"feel-table2", "feel-gpu-curves", "feel-remark2"} <= set(EXPERIMENTS)


# ---------------------------------------------------------------------------
# Remark 2: no training
# ---------------------------------------------------------------------------
def test_closed_form_is_eq_22() -> None:
    b = feel_remark2.closed_form(2.0, 0.5, [1e9, 2e9], [1e6, 4e6], 1e7, 1e6, 128)
    v = np.array([100.0, 200.0])  # f / C
    expected = np.clip(2.0 * v - 0.5 * np.sqrt(1e6 * v / np.array([1e6, 4e6])), 1, 128)
    np.testing.assert_allclose(b, expected)


def test_interior_rho_is_shared_by_the_relaxed_optimum() -> None:
    """Theorem 1: every device strictly inside (1, B^max) has the same multiplier."""
    for seed in range(3):
        p = load_problem("feel-cpu", overrides={"seed": seed})
        res = solve(p, "relaxed")
        rho, spread = feel_remark2.interior_rho(p, res.batch, res.latency_uplink)
        assert rho > 0 and spread < 1e-6
        pred = feel_remark2.closed_form(
            res.latency_uplink,
            rho,
            p.cpu_hz,
            p.uplink_rate,
            p.cycles_per_sample,
            p.gradient_bits,
            p.max_batch,
        )
        np.testing.assert_allclose(pred, res.batch, rtol=1e-6, atol=1e-6)


def test_remark2_quick(tmp_path: Path) -> None:
    out = run_experiment("feel-remark2", tmp_path / "r2", quick=True, workers=1, progress=False)
    assert (tmp_path / "r2" / "feel-remark2.png").stat().st_size > 0
    rows = _read(tmp_path / "r2" / "feel-remark2.csv")
    cpu = [r for r in rows if r["axis"] == "cpu"]
    rate = [r for r in rows if r["axis"] == "rate"]
    assert len(cpu) == len(rate) == feel_remark2.POINTS_QUICK
    # Remark 2: the batch grows with the clock and with the rate (weakly: it clips)
    for part in (cpu, rate):
        rel = [float(r["relaxed_mean"]) for r in part]
        assert all(b >= a - 1e-9 for a, b in itertools.pairwise(rel))
        assert rel[-1] > rel[0]
        # the integer optimum stays within one sample of the continuous one on average
        for r in part:
            assert abs(float(r["optimal_mean"]) - float(r["relaxed_mean"])) <= 1.0 + 1e-9
    # the closed form at the solution's own multipliers predicts the varied device
    errs = [float(r["max_closed_own_error"]) for r in rows if r["max_closed_own_error"]]
    assert errs and max(errs) < 1e-6
    # at factor 1 the frozen multipliers are the cell's own: same batch
    one = [r for r in rate if math.isclose(float(r["factor"]), 1.0)]
    assert one and float(one[0]["closed_frozen_mean"]) == pytest.approx(
        float(one[0]["relaxed_mean"]), abs=1e-6
    )
    assert any("Theorem 1 check" in n for n in out.notes)


def test_remark2_bad_options(tmp_path: Path) -> None:
    for bad in ({"points": 1}, {"device": 12}, {"device": True}):
        with pytest.raises(ValidationError):
            EXPERIMENTS["feel-remark2"].run(tmp_path / "x", quick=True, progress=False, **bad)


# ---------------------------------------------------------------------------
# What is read off a run
# ---------------------------------------------------------------------------
RUN = {
    "status": "feasible",
    "horizon_s": 10.0,
    "time": [0.0, 2.0, 4.0, 8.0],
    "accuracy": [0.1, 0.5, 0.7, 0.9],
    "loss": [2.3, 1.0, 0.8, None],
}


def test_step_curve_score_reach_time() -> None:
    grid = np.array([0.0, 1.0, 2.0, 9.0])
    np.testing.assert_allclose(feel_runs.step_curve(RUN, grid), [0.1, 0.1, 0.5, 0.9])
    # held-out accuracy averaged over [0, H]: (0.1*2 + 0.5*2 + 0.7*4 + 0.9*2) / 10
    assert feel_runs.score(RUN) == pytest.approx(0.58)
    assert feel_runs.reach_time(RUN, 0.7) == 4.0
    assert math.isnan(feel_runs.reach_time(RUN, 0.95))
    assert feel_runs.final(RUN) == 0.9 and feel_runs.final(RUN, "loss") == 0.8
    assert feel_runs.score({"status": "diverged"}) == 0.0


def test_holdout_split_is_stratified_and_leaves_the_test_set() -> None:
    from edgealloc.learn import load_dataset

    data = load_dataset("digits")
    tune = feel_runs.holdout_split(data)
    assert tune.n_train + len(tune.y_test) == data.n_train
    for label in range(10):
        share = np.mean(tune.y_test == label)
        assert share == pytest.approx(np.mean(data.y_train == label), abs=0.02)


# ---------------------------------------------------------------------------
# Training reproductions, cut down
# ---------------------------------------------------------------------------
def test_table2_reduced(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = EXPERIMENTS["feel-table2"].run(
        tmp_path / "t2",
        quick=True,
        workers=1,
        progress=False,
        devices=(3,),
        partitions=("iid",),
        horizon=3,
        lr=0.3,
    )
    rows = _read(tmp_path / "t2" / "feel-table2.csv")
    assert [r["scheme"] for r in rows] == [
        "individual",
        "model-feel",
        "gradient-feel",
        "paper",
        "optimal",
    ]
    for r in rows:
        assert int(r["trained"]) == 1, r
        assert float(r["lr"]) == 0.3
    by = {r["scheme"]: r for r in rows}
    # the proposed plan is faster per round than gradient-based FEEL (B_k = N_k, equal slots)
    assert float(by["paper"]["round_s"]) < float(by["gradient-feel"]["round_s"])
    assert float(by["optimal"]["round_s"]) <= float(by["paper"]["round_s"]) * (1 + 1e-9)
    sp = by["individual"]["speedup_mean"]
    assert sp == "" or float(sp) == pytest.approx(1.0)  # its own reference
    assert by["paper"]["paper_speedup"] == "" or float(by["paper"]["paper_speedup"]) > 0
    seeds = _read(tmp_path / "t2" / "feel-table2-seeds.csv")
    assert len(seeds) == 5
    assert (tmp_path / "t2" / "feel-table2.png").stat().st_size > 0
    assert out.summary and out.notes


def test_gpu_curves_reduced(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    EXPERIMENTS["feel-gpu-curves"].run(
        tmp_path / "g",
        quick=True,
        workers=1,
        progress=False,
        settings=("paper", "compute-bound"),
        partitions=("iid",),
        horizon=2,
        lr=0.2,
    )
    rows = _read(tmp_path / "g" / "feel-gpu-curves.csv")
    by = {(r["setting"], r["scheme"]): r for r in rows}
    assert len(by) == 10
    # the paper's clock: the optimum is the full batch on all six GPUs
    assert float(by["paper", "optimal"]["global_batch"]) == 6 * 128
    assert float(by["paper", "full"]["global_batch"]) == 6 * 128
    # compute-bound: the optimum is at the threshold, faster per round than the full batch
    assert float(by["compute-bound", "optimal"]["global_batch"]) == 6 * 32
    assert float(by["compute-bound", "optimal"]["round_s"]) < float(
        by["compute-bound", "full"]["round_s"]
    )
    curves = _read(tmp_path / "g" / "feel-gpu-curves-curves.csv")
    assert {r["scheme"] for r in curves} == {"paper", "optimal", "online", "full", "random"}
    assert (tmp_path / "g" / "feel-gpu-curves.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("feel-table2", {"horizon": 0}),
        ("feel-table2", {"devices": (0,)}),
        ("feel-table2", {"partitions": ("sorted",)}),
        ("feel-table2", {"workload": "gpu"}),
        ("feel-gpu-curves", {"settings": ("cloud",)}),
        ("feel-gpu-curves", {"lr": -1.0}),
        ("feel-gpu-curves", {"dataset": "mnist"}),
    ],
)
def test_training_reproductions_refuse_bad_options(
    tmp_path: Path, name: str, bad: dict[str, Any]
) -> None:
    pytest.importorskip("torch")
    with pytest.raises(ValidationError) as info:
        EXPERIMENTS[name].run(tmp_path / "x", quick=True, progress=False, **bad)
    assert info.value.field == next(iter(bad))
    assert not (tmp_path / "x").exists()
