"""Tests of the learning reproductions ``mel-accuracy`` and ``mel-async-accuracy``.

Quick runs (a few cycles, in this process) of both experiments: files and
columns, determinism, resuming from the results store, and the allocation
properties the accuracy curves rest on (not the noisy accuracies themselves).
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")

import edgealloc
import edgealloc.experiments.runner as runner_mod
from edgealloc.errors import ValidationError
from edgealloc.experiments import EXPERIMENTS, ExperimentOutput, _accuracy, run_experiment
from edgealloc.experiments import mel_accuracy as sync_acc
from edgealloc.experiments import mel_async_accuracy as async_acc
from edgealloc.experiments._accuracy import tuning_split
from edgealloc.experiments._lr import TUNE_SEED_BASE, Tuning, choose_rates
from edgealloc.experiments.runner import load_store
from edgealloc.result import Status

OK = {Status.OPTIMAL, Status.FEASIBLE}


#: The CSV columns the two experiments share (after their own keys).
CURVE_STATS = (
    "cycle,seeds,tau_mean,cycle_time_s,sim_time_s,accuracy_mean,accuracy_std,accuracy_min,"
    "accuracy_max,train_loss_mean,train_loss_std"
)
REACH_STATS = (
    "seeds,reached,cycles_mean,cycles_std,cycles_min,cycles_max,sim_time_s_mean,"
    "deadline_time_s_mean"
)
CYCLE_VALUES = "cycle,sim_time_s,energy_j,test_accuracy,test_loss,train_loss"


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _num(value: str) -> float:
    return float(value) if value != "" else math.nan


@pytest.fixture(scope="module")
def sync_quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExperimentOutput]:
    out = tmp_path_factory.mktemp("mel-accuracy")
    res = run_experiment("mel-accuracy", out, quick=True, workers=1, progress=False)
    return out, res


@pytest.fixture(scope="module")
def async_quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExperimentOutput]:
    out = tmp_path_factory.mktemp("mel-async-accuracy")
    res = run_experiment("mel-async-accuracy", out, quick=True, workers=1, progress=False)
    return out, res


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------
def test_registered() -> None:
    for name, module in (("mel-accuracy", sync_acc), ("mel-async-accuracy", async_acc)):
        exp = EXPERIMENTS[name]
        assert exp is module.EXPERIMENT and module.run.__self__ is exp
        assert exp.worker is module.train_task
        assert exp.title and exp.description


def _refuse_to_compute(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every sweep fail on the first task it would compute (none may be missing)."""
    sweep = runner_mod.run_sweep

    def boom(task: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError(f"recomputed {task}")

    def no_compute(fn, tasks, **kwargs):
        return sweep(boom, tasks, **kwargs)

    monkeypatch.setattr(runner_mod, "run_sweep", no_compute)


# ---------------------------------------------------------------------------
# mel-accuracy
# ---------------------------------------------------------------------------
def test_sync_files_and_columns(sync_quick: tuple[Path, ExperimentOutput]) -> None:
    out, res = sync_quick
    names = {p.name for p in res.files}
    assert names == {
        "mel-accuracy.png",
        "mel-accuracy-lr.png",
        "mel-accuracy.csv",
        "mel-accuracy-thresholds.csv",
        "mel-accuracy-seeds.csv",
        "mel-accuracy-lr.csv",
        "mel-accuracy-store.jsonl",
        "mel-accuracy-manifest.json",
    }
    for p in res.files:
        assert p.parent == out and p.stat().st_size > 0
    assert (out / "mel-accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    cols, rows = _read_csv(out / "mel-accuracy.csv")
    assert ",".join(cols) == "preset,K,T,scheme,lr," + CURVE_STATS
    cycles = sync_acc.CYCLES_QUICK
    groups = {(r["preset"], r["K"], r["T"], r["scheme"]) for r in rows}
    expected = {
        (p, str(k), str(t), s)
        for p in sync_acc.PRESETS
        for k, t in sync_acc.SETTINGS
        for s in sync_acc.SCHEMES
    }
    assert groups == expected  # every (preset, setting, scheme) trained
    assert len(rows) == len(expected) * (cycles + 1)
    for r in rows:
        assert 0.0 <= _num(r["accuracy_mean"]) <= 1.0
        assert _num(r["accuracy_min"]) <= _num(r["accuracy_mean"]) <= _num(r["accuracy_max"])
        assert _num(r["sim_time_s"]) == pytest.approx(int(r["cycle"]) * _num(r["cycle_time_s"]))

    cols, rows = _read_csv(out / "mel-accuracy-thresholds.csv")
    assert ",".join(cols) == "preset,K,T,threshold,scheme,lr," + REACH_STATS + ",reduction_vs_equal"
    assert len(rows) == len(sync_acc.PRESETS) * len(sync_acc.SETTINGS) * len(
        sync_acc.THRESHOLDS
    ) * len(sync_acc.SCHEMES)

    cols, rows = _read_csv(out / "mel-accuracy-seeds.csv")
    assert ",".join(cols) == (
        "preset,K,T,scheme,seed,lr,status,tau_min,tau_max,cycle_time_s," + CYCLE_VALUES
    )
    assert len(rows) == len(expected) * 2 * (cycles + 1)  # quick: 2 seeds

    # The summary puts the paper's reported numbers beside ours.
    assert len(res.summary) == len(sync_acc.PRESETS) * len(sync_acc.SETTINGS)
    assert len({tuple(r) for r in res.summary}) == 1  # same keys in every row
    text = json.dumps(res.summary)
    assert "96.67" in text and "4 vs 7" in text and "5 vs 9" in text


def _store_tasks(path: Path, tuning: bool = False) -> list[tuple[dict[str, Any], Any]]:
    """``(task, result)`` of the main runs of a store (or of its tuning runs)."""
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if (rec["task"].get("split") == "tune") == tuning:
                out.append((rec["task"], rec["result"]))
    return out


def _sync_runs(out: Path) -> dict[tuple, dict[str, Any]]:
    """Main-run results by (preset, K, T, seed, scheme)."""
    return {
        (t["preset"], t["K"], t["T"], t["seed"], t["scheme"]): r
        for t, r in _store_tasks(out / "mel-accuracy-store.jsonl")
    }


def test_sync_allocation_property(sync_quick: tuple[Path, ExperimentOutput]) -> None:
    """Optimal runs at least equal's tau, with no more simulated seconds per local iteration.

    Each cycle of either scheme lasts at most T (the slowest learner's time).
    The optimal cycle itself may last longer than equal's: it fills the
    deadline with more iterations (e.g. 10.96 s against 9.67 s at K = 20,
    T = 12 s), so what it never loses is time per local iteration, and when
    the two reach the same tau, optimal's tie-break (minimum makespan) gives
    it the shorter cycle.
    """
    out, _ = sync_quick
    runs = _sync_runs(out)
    pairs = 0
    for (preset, k, t, seed, scheme), opt in runs.items():
        if scheme != "optimal":
            continue
        eq = runs[(preset, k, t, seed, "equal")]
        for r in (opt, eq):
            assert r["status"] in OK
            assert 0 < r["cycle_time_s"] <= t + 1e-9
            assert len(set(r["tau"])) == 1  # synchronous
        tau_o, tau_e = opt["tau"][0], eq["tau"][0]
        assert tau_o >= tau_e >= 1
        assert opt["cycle_time_s"] / tau_o <= eq["cycle_time_s"] / tau_e + 1e-12
        if tau_o == tau_e:
            assert opt["cycle_time_s"] <= eq["cycle_time_s"] + 1e-12
        # the simulated clock advances by the cycle time, the paper's by T
        assert opt["sim_time_s"][-1] == pytest.approx(
            len(opt["sim_time_s"][1:]) * opt["cycle_time_s"]
        )
        pairs += 1
    assert pairs == len(sync_acc.PRESETS) * len(sync_acc.SETTINGS) * 2


def test_sync_workload_scale_is_the_papers_compute() -> None:
    """With the scale, a local iteration over the data costs what it costs in the paper."""
    for preset in sync_acc.PRESETS:
        for k, t in sync_acc.SETTINGS:
            over = {"K": k, "T": t, "seed": 3}
            ours, data, spec = sync_acc.compile_problem(preset, over)
            paper = edgealloc.load_problem(preset, overrides=over)
            # c2_k d = C_m d / f_k: seconds per iteration over the whole data set
            np.testing.assert_allclose(
                ours.c2 * ours.total_samples, paper.c2 * paper.total_samples, rtol=1e-12
            )
            assert ours.total_samples == data.n_train
            assert ours.meta["model"]["input_shape"] == list(spec.input_shape)
            unscaled, _, _ = sync_acc.compile_problem(preset, over, scale="none")
            assert np.all(unscaled.c2 < ours.c2)
    # Under the literal reading the communication is negligible, so the allocation
    # is the paper's MNIST one: the same tau for every scheme.
    for k, t in sync_acc.SETTINGS:
        over = {"K": k, "T": t, "seed": 0}
        ours, _, _ = sync_acc.compile_problem("mel-sync", over)
        paper = edgealloc.load_problem("mel-sync", overrides=over)
        for scheme in ("optimal", "equal"):
            a, b = edgealloc.solve(ours, scheme), edgealloc.solve(paper, scheme)
            assert np.array_equal(a.tau, b.tau)


def test_sync_deterministic(tmp_path: Path) -> None:
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        sync_acc.run(out, quick=True, seeds=1, workers=1, progress=False, presets=("mel-sync",))
        outs.append(out)
    for f in ("mel-accuracy-seeds.csv", "mel-accuracy.csv", "mel-accuracy-thresholds.csv"):
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes()
    _, rows = _read_csv(outs[0] / "mel-accuracy-seeds.csv")
    assert {r["seed"] for r in rows} == {"0"}
    assert len({r["train_loss"] for r in rows}) > 1  # the runs did train


def test_sync_seeds_differ(sync_quick: tuple[Path, ExperimentOutput]) -> None:
    out, _ = sync_quick
    runs = _sync_runs(out)
    a = runs[("mel-sync", 20, 12.0, 0, "optimal")]["train_loss"]
    b = runs[("mel-sync", 20, 12.0, 1, "optimal")]["train_loss"]
    assert a != b


def test_sync_resume_recomputes_nothing(
    sync_quick: tuple[Path, ExperimentOutput], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, first = sync_quick
    store = out / "mel-accuracy-store.jsonl"
    before = store.read_bytes()
    csv_before = (out / "mel-accuracy-seeds.csv").read_bytes()

    _refuse_to_compute(monkeypatch)
    again = run_experiment("mel-accuracy", out, quick=True, workers=1, progress=False)
    assert store.read_bytes() == before
    assert (out / "mel-accuracy-seeds.csv").read_bytes() == csv_before
    n_main = len(_store_tasks(store))
    n_tune = len(_store_tasks(store, tuning=True))
    assert n_main + n_tune == len(load_store(store))
    assert f"{n_main} loaded from the store" in again.notes[0]
    assert f"({n_tune} loaded from the store)" in " ".join(again.notes)
    assert again.summary == first.summary


def test_sync_bad_options(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="lr"):
        sync_acc.run(tmp_path, quick=True, lr=-0.1, workers=1, progress=False)
    with pytest.raises(ValidationError, match="cycles"):
        sync_acc.run(tmp_path, quick=True, cycles=0, workers=1, progress=False)
    with pytest.raises(ValidationError, match="scale"):
        sync_acc.run(tmp_path, quick=True, scale="mnist", workers=1, progress=False)
    with pytest.raises(ValidationError, match="schemes"):
        sync_acc.run(tmp_path, quick=True, schemes=("optimal",), workers=1, progress=False)
    with pytest.raises(ValidationError, match="presets"):
        sync_acc.run(tmp_path, quick=True, presets=("mel-async",), workers=1, progress=False)
    with pytest.raises(ValidationError, match="dataset"):
        sync_acc.run(tmp_path, quick=True, dataset="cifar10", workers=1, progress=False)
    with pytest.raises(TypeError, match="presets"):  # mel-async-accuracy has no presets option
        async_acc.run(tmp_path, quick=True, presets=("mel-sync",), workers=1, progress=False)
    assert not any(tmp_path.iterdir())  # nothing was run


def test_cycles_to_reach() -> None:
    acc = [0.1, 0.5, None, 0.91, 0.89, 0.96]
    assert sync_acc.cycles_to_reach(acc, 0.9) == 3
    assert sync_acc.cycles_to_reach(acc, 0.95) == 5
    assert sync_acc.cycles_to_reach(acc, 0.97) is None
    assert sync_acc.cycles_to_reach(acc, 0.1) == 0


# ---------------------------------------------------------------------------
# mel-async-accuracy
# ---------------------------------------------------------------------------
def test_async_files_and_columns(async_quick: tuple[Path, ExperimentOutput]) -> None:
    out, res = async_quick
    names = {p.name for p in res.files}
    assert names == {
        "mel-async-accuracy.png",
        "mel-async-accuracy-updates.png",
        "mel-async-accuracy-lr.png",
        "mel-async-accuracy.csv",
        "mel-async-accuracy-updates.csv",
        "mel-async-accuracy-seeds.csv",
        "mel-async-accuracy-lr.csv",
        "mel-async-accuracy-store.jsonl",
        "mel-async-accuracy-manifest.json",
    }
    for p in res.files:
        assert p.parent == out and p.stat().st_size > 0
    cols, rows = _read_csv(out / "mel-async-accuracy.csv")
    assert ",".join(cols) == "E,T,variant,scheme,c,lr," + CURVE_STATS
    # HU has no allocation at E = 10 J (no curve); everything else trained
    trained = {(r["E"], r["T"], r["variant"]) for r in rows}
    assert len(trained) == len(async_acc.SETTINGS_QUICK) * len(async_acc.VARIANTS_QUICK) - 1
    assert ("10.0", "10.0", "HU-Sync") not in trained
    assert len(rows) == len(trained) * (async_acc.CYCLES_QUICK + 1)
    cols, upd = _read_csv(out / "mel-async-accuracy-updates.csv")
    assert ",".join(cols) == (
        "E,T,threshold,variant,scheme,c,lr," + REACH_STATS + ",reduction_vs_sync"
    )
    assert len(upd) == len(async_acc.SETTINGS_QUICK) * len(async_acc.THRESHOLDS) * len(
        async_acc.VARIANTS_QUICK
    )
    cols, seeds = _read_csv(out / "mel-async-accuracy-seeds.csv")
    assert ",".join(cols) == (
        "E,T,variant,scheme,c,seed,lr,status,tau_min,tau_max,tau_mean,cycle_time_s,"
        "energy_j_per_cycle," + CYCLE_VALUES
    )
    variants = {r["variant"] for r in seeds}
    assert variants == {"HA-Sync", "HA-Asyn c=2", "HU-Sync"}  # VARIANTS_QUICK
    # Every run either trained (cycles + 1 rows) or says why not (one row, no accuracy).
    per_run: dict[tuple, list[dict[str, str]]] = defaultdict(list)
    for r in seeds:
        per_run[(r["E"], r["T"], r["variant"], r["seed"])].append(r)
    for rs in per_run.values():
        if rs[0]["status"] in OK:
            assert len(rs) == async_acc.CYCLES_QUICK + 1
        else:
            assert len(rs) == 1 and rs[0]["test_accuracy"] == ""
    assert len(res.summary) == len(async_acc.SETTINGS_QUICK)
    assert "29 %" in json.dumps(res.summary)  # the paper's Fig. 5a number is quoted


def test_async_allocation_properties(async_quick: tuple[Path, ExperimentOutput]) -> None:
    """HA-Asyn (c >= 1) is a relaxation of HA-Sync, which is never below HU."""
    out, _ = async_quick
    runs = {
        (t["E"], t["T"], t["seed"], t["variant"]): r
        for t, r in _store_tasks(out / "mel-async-accuracy-store.jsonl")
    }
    checked = 0
    for (e, t, seed, variant), sync in runs.items():
        if variant != "HA-Sync":
            continue
        asyn = runs[(e, t, seed, "HA-Asyn c=2")]
        hu = runs[(e, t, seed, "HU-Sync")]
        assert sync["status"] == asyn["status"] == Status.OPTIMAL
        tau_s = np.asarray(sync["tau"])
        tau_a = np.asarray(asyn["tau"])
        assert len(set(tau_s.tolist())) == 1
        assert tau_a.max() - tau_a.min() <= 2  # the staleness cap
        assert tau_a.mean() >= tau_s.mean()
        assert max(sync["cycle_time_s"], asyn["cycle_time_s"]) <= t + 1e-9
        if hu["status"] in OK:
            assert tau_s[0] >= hu["tau"][0]
        else:  # HU has no allocation: the energy budgets cannot hold d/K samples
            assert hu["status"] == Status.INFEASIBLE and e == 10.0
        checked += 1
    assert checked == len(async_acc.SETTINGS_QUICK) * 2


def test_async_resume_recomputes_nothing(
    async_quick: tuple[Path, ExperimentOutput], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, first = async_quick
    store = out / "mel-async-accuracy-store.jsonl"
    before = store.read_bytes()

    _refuse_to_compute(monkeypatch)
    again = run_experiment("mel-async-accuracy", out, quick=True, workers=1, progress=False)
    assert store.read_bytes() == before
    assert again.summary == first.summary


# ---------------------------------------------------------------------------
# The learning-rate rule
# ---------------------------------------------------------------------------
def _run(acc: list[float | None], status: Status = Status.OPTIMAL) -> dict[str, Any]:
    return {"status": status.value, "accuracy": acc}


def test_the_rule_picks_the_best_held_out_score_ties_to_the_smaller_rate() -> None:
    plan = Tuning(grid=(0.1, 0.2, 0.5), seeds=2, cycles=4, select=3, window=2)
    tasks, results = [], []
    curves = {  # per rate, two tuning seeds; the rule averages cycles 2-3 and the seeds
        0.1: ([0.1, 0.2, 0.3, 0.4, 0.9], [0.1, 0.2, 0.5, 0.6, 0.9]),  # (0.35 + 0.55) / 2 = 0.45
        0.2: ([0.1, 0.5, 0.4, 0.5, 0.2], [0.1, 0.5, 0.4, 0.5, 0.2]),  # 0.45: a tie, 0.1 wins
        0.5: ([0.1, 0.9, 0.9, 0.9, 0.9], None),  # the second seed diverged: (0.9 + 0) / 2
    }
    for lr, (a, b) in curves.items():
        for seed, acc in ((1000, a), (1001, b)):
            tasks.append({"variant": "v", "lr": lr, "seed": seed})
            results.append(_run(acc) if acc is not None else _run(None, Status.DIVERGED))
    chosen = choose_rates(tasks, results, ("variant",), plan)
    assert chosen[("v",)]["scores"] == pytest.approx({0.1: 0.45, 0.2: 0.45, 0.5: 0.45})
    assert chosen[("v",)]["lr"] == 0.1  # three-way tie: the smallest rate
    results[1] = _run([0.1, 0.2, 0.6, 0.7, 0.9])  # now 0.1 scores (0.35 + 0.65) / 2 = 0.5
    assert choose_rates(tasks, results, ("variant",), plan)[("v",)]["lr"] == 0.1
    results[5] = _run([0.1, 0.9, 0.9, 0.9, 0.9])  # 0.5 no longer diverges: 0.9
    assert choose_rates(tasks, results, ("variant",), plan)[("v",)]["lr"] == 0.5
    # No allocation (nothing trained): no rate.
    none = choose_rates(
        [{"variant": "w", "lr": 0.1, "seed": 1000}],
        [{"status": Status.INFEASIBLE.value}],
        ("variant",),
        plan,
    )
    assert none[("w",)] == {"lr": None, "scores": {}}


def test_tuning_split_holds_out_training_images_only() -> None:
    from edgealloc.learn.data import load_dataset

    data = load_dataset("digits", seed=0)
    tune = tuning_split(data)
    assert tune.n_train + tune.n_test == data.n_train
    assert abs(tune.n_test - round(_accuracy.HOLDOUT * data.n_train)) <= data.n_classes
    rows = {r.tobytes() for r in data.x_train.reshape(data.n_train, -1)}
    held = {r.tobytes() for r in tune.x_test.reshape(tune.n_test, -1)}
    kept = {r.tobytes() for r in tune.x_train.reshape(tune.n_train, -1)}
    assert held <= rows and kept <= rows
    test = {r.tobytes() for r in data.x_test.reshape(data.n_test, -1)}
    assert not held & test  # the test set is never used for the choice
    counts = np.bincount(tune.y_test, minlength=10) / np.bincount(data.y_train, minlength=10)
    assert np.all(np.abs(counts - _accuracy.HOLDOUT) < 0.05)  # stratified
    again = tuning_split(data)
    assert np.array_equal(again.y_test, tune.y_test)  # deterministic


def test_tuning_problems_keep_the_allocation() -> None:
    """Compiled for the tuning split (its d and scale), every scheme keeps its tau."""
    for preset in sync_acc.PRESETS:
        for k, t in sync_acc.SETTINGS:
            over = {"K": k, "T": t, "seed": TUNE_SEED_BASE}
            full, _, _ = sync_acc.compile_problem(preset, over)
            tune, data, _ = sync_acc.compile_problem(preset, over, split="tune")
            assert tune.total_samples == data.n_train < full.total_samples
            for scheme in sync_acc.SCHEMES:
                a, b = edgealloc.solve(full, scheme), edgealloc.solve(tune, scheme)
                assert np.array_equal(a.tau, b.tau), (preset, k, t, scheme)


def test_sync_lr_table_and_the_rates_used(sync_quick: tuple[Path, ExperimentOutput]) -> None:
    out, res = sync_quick
    cols, rows = _read_csv(out / "mel-accuracy-lr.csv")
    assert tuple(cols) == sync_acc.LR_COLUMNS
    assert "reduction_90_vs_equal" in cols and "cycles_95_mean" in cols
    grid = sync_acc.TUNING_QUICK.grid
    variants = {(r["preset"], r["K"], r["T"], r["scheme"]) for r in rows}
    assert len(rows) == len(variants) * len(grid) == 12 * len(grid)
    chosen = {}
    for v in variants:
        mine = [r for r in rows if (r["preset"], r["K"], r["T"], r["scheme"]) == v]
        assert sorted(float(r["lr"]) for r in mine) == list(grid)
        assert sum(r["chosen"] == "1" for r in mine) == 1
        assert [r["used"] for r in mine] == [r["chosen"] for r in mine]
        chosen[v] = next(float(r["lr"]) for r in mine if r["chosen"] == "1")
        best = max(_num(r["select_accuracy"]) for r in mine)
        assert _num(next(r for r in mine if r["chosen"] == "1")["select_accuracy"]) == best
    # The main runs use each variant's chosen rate; the tuning runs every rate of the grid,
    # on the held-out split, with seeds no main run uses.
    for task, _ in _store_tasks(out / "mel-accuracy-store.jsonl"):
        key = (task["preset"], str(task["K"]), str(task["T"]), task["scheme"])
        assert task["lr"] == chosen[key] and task["seed"] < TUNE_SEED_BASE
    tuning = _store_tasks(out / "mel-accuracy-store.jsonl", tuning=True)
    assert len(tuning) == len(rows) * sync_acc.TUNING_QUICK.seeds
    assert {t["seed"] for t, _ in tuning} == {TUNE_SEED_BASE}
    assert {t["cycles"] for t, _ in tuning} == {sync_acc.TUNING_QUICK.cycles}
    _, curves = _read_csv(out / "mel-accuracy.csv")
    for r in curves:
        assert float(r["lr"]) == chosen[(r["preset"], r["K"], r["T"], r["scheme"])]
    text = " ".join(res.notes)
    assert "held-out 20 % of the training set" in text and "Sensitivity, mel-sync K=20" in text


def test_a_fixed_rate_overrides_the_rule(tmp_path: Path) -> None:
    res = sync_acc.run(
        tmp_path,
        quick=True,
        seeds=1,
        cycles=2,
        lr=0.3,
        presets=("mel-sync",),
        schemes=("optimal", "equal"),
        workers=1,
        progress=False,
    )
    assert {t["lr"] for t, _ in _store_tasks(tmp_path / "mel-accuracy-store.jsonl")} == {0.3}
    _, rows = _read_csv(tmp_path / "mel-accuracy-lr.csv")
    assert rows and all(r["used"] == "0" for r in rows)  # 0.3 is not on the quick grid
    assert "Overridden: every main run uses lr = 0.3" in " ".join(res.notes)


def test_async_lr_table(async_quick: tuple[Path, ExperimentOutput]) -> None:
    out, res = async_quick
    cols, rows = _read_csv(out / "mel-async-accuracy-lr.csv")
    assert tuple(cols) == async_acc.LR_COLUMNS and "reduction_90_vs_sync" in cols
    grid = async_acc.TUNING_QUICK.grid
    n_variants = len(async_acc.SETTINGS_QUICK) * len(async_acc.VARIANTS_QUICK)
    assert len(rows) == n_variants * len(grid)
    hu = [r for r in rows if (r["E"], r["variant"]) == ("10.0", "HU-Sync")]
    assert hu and all(r["trained"] == "0" and r["chosen"] == "0" for r in hu)  # no allocation
    rates = {
        (t["E"], t["T"], t["variant"]): t["lr"]
        for t, _ in _store_tasks(out / "mel-async-accuracy-store.jsonl")
    }
    for r in rows:
        if r["chosen"] == "1":
            assert rates[(float(r["E"]), float(r["T"]), r["variant"])] == float(r["lr"])
    assert "Sensitivity, E = 10 J, T = 10 s" in " ".join(res.notes)
