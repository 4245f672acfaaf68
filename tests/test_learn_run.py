"""The simulated clock and energy ledger of the learning engine (issue 4, part 5).

The clock and the ledger are checked against the problem's own evaluation of
the allocation and against the system-model formulas written out here; the
scenario compiled for the model is checked against the model's measured size
and FLOPs. Training itself is only run for a few short cycles on a small
subset of scikit-learn's digits.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import edgealloc
from edgealloc.errors import EdgeallocWarning, InfeasibleError, ValidationError

torch = pytest.importorskip("torch")

from edgealloc.learn import load_dataset  # noqa: E402
from edgealloc.learn.models import ModelSpec, model_for  # noqa: E402
from edgealloc.learn.options import TrainOptions, train_options  # noqa: E402
from edgealloc.learn.partition import partition  # noqa: E402
from edgealloc.learn.run import (  # noqa: E402
    KAPPA,
    RECORD_COLUMNS,
    RunRecord,
    compare_schemes,
    device_energy,
    scenario_for_model,
    train,
)

CONTRACT_COLUMNS = ["cycle", "sim_time_s", "energy_j", "train_loss", "test_accuracy"]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0, n_samples=300)


@pytest.fixture(scope="module")
def spec(digits):
    return model_for(digits, "mlp")


@pytest.fixture(scope="module")
def sync_problem(digits, spec):
    # K = 5, T = 0.1 s: optimal tau = 10, equal tau = 4 on this subset
    return scenario_for_model(
        "mel-sync", spec, {"devices": 5, "T": 0.1}, total_samples=digits.n_train
    )


@pytest.fixture(scope="module")
def async_problem(digits, spec):
    return scenario_for_model(
        "mel-async", spec, {"devices": 5, "T": 0.2}, total_samples=digits.n_train
    )


@pytest.fixture(scope="module")
def sync_record(sync_problem, digits):
    res = edgealloc.solve(sync_problem, "optimal")
    return train(sync_problem, res, digits, cycles=3, seed=0)


# ---------------------------------------------------------------------------
# The clock
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["sync", "async"])
@pytest.mark.parametrize("scheme", ["optimal", "equal"])
def test_clock_advances_by_the_evaluated_cycle_time(
    request: pytest.FixtureRequest, which: str, scheme: str, digits
) -> None:
    problem = request.getfixturevalue(f"{which}_problem")
    res = edgealloc.solve(problem, scheme)
    rec = train(problem, res, digits, cycles=2, eval_every=2)
    ev = problem.evaluate(res.tau, res.samples)
    expected = min(problem.deadline, float(ev.times[np.asarray(res.samples) > 0].max()))
    steps = np.diff(rec["sim_time_s"])
    np.testing.assert_allclose(steps, expected, rtol=1e-12)
    np.testing.assert_allclose(rec["cycle_time_s"][1:], expected, rtol=1e-12)
    assert rec["sim_time_s"][0] == 0.0 and rec["cycle_time_s"][0] == 0.0


def test_deadline_clock_advances_by_t(sync_problem, digits) -> None:
    res = edgealloc.solve(sync_problem, "equal")
    rec = train(sync_problem, res, digits, cycles=2, clock="deadline", eval_every=2)
    np.testing.assert_allclose(np.diff(rec["sim_time_s"]), sync_problem.deadline, rtol=1e-12)
    # the equal allocation finishes early: the default clock is faster than T per cycle
    assert res.cycle_time < sync_problem.deadline


def test_optimal_gets_more_local_iterations_per_simulated_second(sync_problem, digits) -> None:
    opt = edgealloc.solve(sync_problem, "optimal")
    eq = edgealloc.solve(sync_problem, "equal")
    assert int(opt.tau[0]) >= int(eq.tau[0]) + 2  # the setting is heterogeneous enough
    recs = {
        name: train(sync_problem, res, digits, cycles=2, eval_every=2)
        for name, res in (("optimal", opt), ("equal", eq))
    }
    rate = {n: r["local_iterations"][-1] / r["sim_time_s"][-1] for n, r in recs.items()}
    # the record's rate is tau over the result's cycle time
    for name, res in (("optimal", opt), ("equal", eq)):
        np.testing.assert_allclose(rate[name], res.tau[0] / res.cycle_time, rtol=1e-12)
    assert rate["optimal"] > rate["equal"]


# ---------------------------------------------------------------------------
# The energy ledger
# ---------------------------------------------------------------------------
def test_ledger_sums_the_problem_energies(async_problem, digits) -> None:
    res = edgealloc.solve(async_problem, "optimal")
    rec = train(async_problem, res, digits, cycles=3, eval_every=3)
    per_device = async_problem.energies(res.tau, res.samples)  # g2 tau d + g1 d + g0
    assert rec.energy_source == "problem"
    np.testing.assert_allclose(rec.device_energy_j, per_device, rtol=1e-12)
    np.testing.assert_allclose(rec["energy_j"], np.arange(4) * per_device.sum(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(rec.ledger.sum(axis=1), rec["energy_j"], rtol=1e-12)
    np.testing.assert_allclose(rec.ledger[-1], 3 * per_device, rtol=1e-12)
    rows = rec.ledger_rows()
    assert [r["device"] for r in rows] == list(range(async_problem.n_devices))
    np.testing.assert_allclose(sum(r["energy_j"] for r in rows), rec["energy_j"][-1])
    e = async_problem.energy
    np.testing.assert_allclose(rec.compute_j, e.g2 * res.tau * res.samples, rtol=1e-12)


def test_ledger_from_the_scenario_physics(sync_problem, digits) -> None:
    res = edgealloc.solve(sync_problem, "optimal")
    assert sync_problem.energy is None
    meta = sync_problem.meta
    f = np.asarray(meta["cpu_hz"])
    c_m = meta["cycles_per_sample"]
    tau, d = np.asarray(res.tau, float), np.asarray(res.samples, float)
    compute = KAPPA * c_m * f**2 * tau * d  # kappa f^2 J per cycle, C_m tau d cycles
    upload = np.asarray(meta["tx_power_w"]) * meta["model_bits"] / np.asarray(meta["rate_bps"])
    rec = train(sync_problem, res, digits, cycles=2, eval_every=2)
    assert rec.energy_source == "meta"
    np.testing.assert_allclose(rec.compute_j, compute, rtol=1e-12)
    np.testing.assert_allclose(rec.transmit_j, upload, rtol=1e-12)
    np.testing.assert_allclose(rec["cycle_energy_j"][1:], (compute + upload).sum(), rtol=1e-12)
    np.testing.assert_allclose(rec["energy_j"][-1], 2 * (compute + upload).sum(), rtol=1e-12)
    doubled = device_energy(sync_problem, res.tau, res.samples, kappa=2 * KAPPA)
    np.testing.assert_allclose(doubled.compute_j, 2 * compute, rtol=1e-12)
    np.testing.assert_allclose(doubled.transmit_j, upload, rtol=1e-12)


def test_idle_devices_spend_nothing(sync_problem) -> None:
    tau = np.array([3, 3, 0, 3, 3])
    d = np.array([60, 60, 0, 60, 60])
    e = device_energy(sync_problem, tau, d)
    assert e.total_j[2] == 0.0 and (e.total_j[d > 0] > 0).all()


def test_energy_unknown_without_energy_model_or_physics(sync_problem, digits) -> None:
    bare = sync_problem.replace(meta=None)
    res = edgealloc.solve(bare, "optimal")
    rec = train(bare, res, digits, cycles=1)
    assert rec.energy_source == "unavailable"
    assert np.isnan(rec["energy_j"][1:]).all()
    assert any("energy unknown" in n for n in rec.notes)
    # the clock does not need meta
    np.testing.assert_allclose(rec["sim_time_s"][1], res.cycle_time, rtol=1e-12)


# ---------------------------------------------------------------------------
# The record
# ---------------------------------------------------------------------------
def test_record_columns_and_csv(sync_record: RunRecord, tmp_path: Path) -> None:
    rec = sync_record
    assert list(rec.columns)[:5] == CONTRACT_COLUMNS
    assert list(rec.columns) == list(RECORD_COLUMNS)
    assert len(rec) == 4 and list(rec["cycle"]) == [0, 1, 2, 3]
    assert rec["energy_j"][0] == 0.0 and rec["sim_time_s"][0] == 0.0
    assert np.isfinite(rec["test_accuracy"]).all() and np.isfinite(rec["train_loss"]).all()
    assert np.isnan(rec["learner_loss"][0]) and np.isfinite(rec["learner_loss"][1:]).all()
    path = rec.to_csv(tmp_path / "record.csv")
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:5] == CONTRACT_COLUMNS
    assert len(rows) == 4
    for col in ("sim_time_s", "energy_j", "train_loss", "test_accuracy"):
        np.testing.assert_array_equal([float(r[col]) for r in rows], rec[col])
    assert rows[0]["learner_loss"] == ""  # NaN -> empty cell
    ledger = rec.ledger_to_csv(tmp_path / "ledger.csv")
    with ledger.open() as fh:
        lrows = list(csv.DictReader(fh))
    assert len(lrows) == 5 and lrows[0]["class"] in ("laptop", "raspberry-pi")


def test_learner_loss_is_the_start_of_cycle_loss(sync_record: RunRecord) -> None:
    # cycle 1 starts from the initial model: its learners' mean loss on their batches is
    # close to the initial model's training loss (the same model, other samples)
    assert abs(sync_record["learner_loss"][1] - sync_record["train_loss"][0]) < 0.1


def test_same_seed_same_record(sync_problem, digits, sync_record: RunRecord) -> None:
    res = edgealloc.solve(sync_problem, "optimal")
    again = train(sync_problem, res, digits, cycles=3, seed=0)
    for col in RECORD_COLUMNS:
        np.testing.assert_array_equal(again[col], sync_record[col])
    other = train(sync_problem, res, digits, cycles=3, seed=1)
    assert not np.array_equal(other["test_loss"], sync_record["test_loss"])
    np.testing.assert_array_equal(other["sim_time_s"], sync_record["sim_time_s"])


def test_eval_every(sync_problem, digits) -> None:
    res = edgealloc.solve(sync_problem, "optimal")
    rec = train(sync_problem, res, digits, cycles=5, eval_every=2)
    evaluated = np.isfinite(rec["test_accuracy"])
    assert evaluated.tolist() == [True, False, True, False, True, True]


def test_training_learns(sync_problem, digits) -> None:
    res = edgealloc.solve(sync_problem, "optimal")
    rec = train(sync_problem, res, digits, cycles=6, eval_every=6, lr=0.3)
    assert rec["train_loss"][-1] < 0.8 * rec["train_loss"][0]
    assert rec["test_accuracy"][-1] > rec["test_accuracy"][0] + 0.2


def test_reached(sync_record: RunRecord) -> None:
    best = float(np.nanmax(sync_record["test_accuracy"]))
    row = sync_record.reached(best)
    assert row is not None and row["test_accuracy"] == best
    assert sync_record.reached(1.01) is None
    assert sync_record.reached(10.0, "train_loss")["cycle"] == 0


def test_parquet_without_pyarrow(
    sync_record: RunRecord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ValidationError, match="pip install pyarrow"):
        sync_record.to_parquet(tmp_path / "record.parquet")


def test_parquet_round_trip(sync_record: RunRecord, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    path = sync_record.to_parquet(tmp_path / "record.parquet")
    table = pq.read_table(path)
    assert table.column_names == list(RECORD_COLUMNS)
    np.testing.assert_array_equal(table["energy_j"].to_numpy(), sync_record["energy_j"])


def test_progress_bar_does_not_change_the_record(
    sync_problem, digits, sync_record: RunRecord
) -> None:
    res = edgealloc.solve(sync_problem, "optimal")
    shown = train(sync_problem, res, digits, cycles=3, seed=0, progress=True)
    np.testing.assert_array_equal(shown["test_loss"], sync_record["test_loss"])


def test_plot(sync_record: RunRecord, tmp_path: Path) -> None:
    path = sync_record.plot(tmp_path / "record.png")
    assert path.stat().st_size > 10_000


def test_regression_records_test_loss(tmp_path: Path) -> None:
    ds = load_dataset("linear", seed=0, n_samples=300)
    spec = model_for(ds, "linear")
    problem = scenario_for_model("mel-sync", spec, {"devices": 4, "T": 0.01}, total_samples=240)
    res = edgealloc.solve(problem, "optimal")
    rec = train(problem, res, ds, spec=spec, cycles=3, lr=0.05)
    assert rec.task == "regression" and rec.metric == "test_loss"
    assert np.isnan(rec["test_accuracy"]).all()
    assert rec["test_loss"][-1] < rec["test_loss"][0]
    assert rec.plot(tmp_path / "regression.png").exists()


# ---------------------------------------------------------------------------
# Modes
# ---------------------------------------------------------------------------
def test_federated_learners_use_min_of_own_data(digits, spec) -> None:
    problem = scenario_for_model(
        "mel-sync",
        spec,
        {"devices": 5, "T": 0.1},
        total_samples=digits.n_train,
        mode="federated",
    )
    assert problem.meta["mode"] == "federated"
    res = edgealloc.solve(problem, "optimal")
    rec = train(problem, res, digits, cycles=2, seed=3, eval_every=2)
    parts = partition(digits.y_train, 5, scheme="iid", rng=np.random.default_rng([3, 0]))
    sizes = np.array([len(p) for p in parts])
    np.testing.assert_array_equal(rec.samples_used, np.minimum(res.samples, sizes))
    assert (rec.samples_used < rec.samples).any()  # the fast learners are capped
    assert rec["samples_used"][1] == rec.samples_used.sum()
    shards = train(problem, res, digits, cycles=1, partition_scheme="shards")
    assert shards.partition_scheme == "shards"


def test_federated_parallel_energies_differ_only_through_c1(digits, spec) -> None:
    par = scenario_for_model("mel-sync", spec, {"devices": 5, "T": 0.1}, total_samples=240)
    fed = scenario_for_model(
        "mel-sync", spec, {"devices": 5, "T": 0.1}, total_samples=240, mode="federated"
    )
    np.testing.assert_array_equal(par.c2, fed.c2)
    np.testing.assert_array_equal(par.c0, fed.c0)
    assert (fed.c1 < par.c1).all()  # the batch is not shipped


def test_mode_other_than_compiled_is_refused(sync_problem, digits) -> None:
    res = edgealloc.solve(sync_problem, "optimal")
    with pytest.raises(ValidationError, match="compiled for parallel"):
        train(sync_problem, res, digits, cycles=1, mode="federated")
    with pytest.raises(ValidationError, match="partition_scheme"):
        train(sync_problem, res, digits, cycles=1, partition_scheme="shards")


# ---------------------------------------------------------------------------
# Bad allocations and arguments
# ---------------------------------------------------------------------------
def test_relaxed_allocation_is_refused(sync_problem, digits) -> None:
    res = edgealloc.solve(sync_problem, "relaxed")
    with pytest.raises(ValidationError, match="fractional"):
        train(sync_problem, res, digits, cycles=1)


def test_infeasible_result_raises(sync_problem, digits) -> None:
    tight = sync_problem.replace(deadline=1e-4)
    res = edgealloc.solve(tight, "optimal", raise_infeasible=False)
    with pytest.raises(InfeasibleError):
        train(tight, res, digits, cycles=1)


def test_result_of_another_problem_is_refused(sync_problem, digits, spec) -> None:
    other = scenario_for_model("mel-sync", spec, {"devices": 6, "T": 0.1}, total_samples=240)
    res = edgealloc.solve(other, "optimal")
    with pytest.raises(ValidationError, match="result"):
        train(sync_problem, res, digits, cycles=1)
    shorter = sync_problem.replace(deadline=sync_problem.deadline / 3)
    res5 = edgealloc.solve(sync_problem, "optimal")
    with pytest.raises(ValidationError, match="does not fit"):
        train(shorter, res5, digits, cycles=1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"cycles": 0}, "cycles"),
        ({"cycles": 1, "lr": -1.0}, "lr"),
        ({"cycles": 1, "mode": "both"}, "mode"),
        ({"cycles": 1, "clock": "wall"}, "clock"),
        ({"cycles": 1, "eval_every": 0}, "eval_every"),
        ({"cycles": 1, "kappa": 0.0}, "kappa"),
        ({"cycles": 1, "spec": ModelSpec("mlp", (40,), 10)}, "spec"),
        ({"cycles": 1, "seed": -1}, "seed"),
        ({"cycles": 1, "threads": 0}, "threads"),
        ({"cycles": 1, "batched": "yes"}, "batched"),
        ({"cycles": 1, "device": "tpu9"}, "device"),
        ({"cycles": 1, "learning_rate": 0.1}, "learning_rate"),
        ({"cycles": 1, "options": {"cycles": 1}}, "options"),
        ({"lr": 0.1}, "cycles"),
    ],
)
def test_bad_arguments(sync_problem, digits, kwargs, field) -> None:
    res = edgealloc.solve(sync_problem, "optimal")
    with pytest.raises(ValidationError) as err:
        train(sync_problem, res, digits, **kwargs)
    assert err.value.field == field


def test_divergence_stops_and_keeps_the_record(sync_problem, digits) -> None:
    res = edgealloc.solve(sync_problem, "optimal")
    with pytest.warns(EdgeallocWarning, match="diverged at cycle 1"):
        rec = train(sync_problem, res, digits, cycles=4, lr=1e6, eval_every=3)
    # the rows up to and including the divergence are kept, nothing after it
    assert rec.diverged_at == 1 and rec.cycles == 1 and len(rec) == 2
    assert all(len(col) == 2 for col in rec.columns.values())
    assert np.isfinite(rec["test_accuracy"][0]) and not np.isfinite(rec["train_loss"][1])
    assert rec["sim_time_s"][1] == pytest.approx(rec.cycle_time_s)
    assert any("diverged at cycle 1" in n and "smaller learning rate" in n for n in rec.notes)
    with pytest.raises(ValidationError, match="diverged") as info:
        train(sync_problem, res, digits, cycles=4, lr=1e6, on_divergence="raise")
    assert info.value.field == "lr"
    with pytest.raises(ValidationError) as info:
        train(sync_problem, res, digits, cycles=1, on_divergence="ignore")
    assert info.value.field == "on_divergence"


def test_stable_run_does_not_diverge(sync_record) -> None:
    assert sync_record.diverged_at is None and sync_record.cycles == 3


# ---------------------------------------------------------------------------
# One source of truth
# ---------------------------------------------------------------------------
def test_scenario_workload_is_the_model(spec) -> None:
    problem = scenario_for_model("mel-sync", spec, {"devices": 5})
    meta = problem.meta
    assert meta["layers"] == list(spec.fully_connected().layers) == [64, 300, 124, 60, 10]
    # mel-sync reads C_m with the paper's FLOP count and the model upload without biases
    assert meta["cycles_per_sample"] == spec.flops_per_sample("paper")
    assert meta["model_bits"] == 32 * spec.n_weights
    assert meta["sample_bits"] == 32 * 64
    f = np.asarray(meta["cpu_hz"])
    np.testing.assert_allclose(problem.c2, spec.flops_per_sample("paper") / f, rtol=1e-12)
    assert meta["model"]["kind"] == "mlp" and meta["model"]["n_params"] == spec.n_params


def test_scenario_for_a_cnn_uses_its_measured_flops(digits) -> None:
    cnn = model_for(digits, "cnn")
    problem = scenario_for_model("mel-async", cnn, {"devices": 5})
    assert problem.meta["cycles_per_sample"] == cnn.flops_per_sample("paper")
    assert problem.meta["model_bits"] == 32 * cnn.n_weights
    assert problem.meta["model"]["kind"] == "cnn"


def test_calibrated_scenario_keeps_its_reading(spec) -> None:
    # mel-sync-calibrated reads the printed 8,974,080 bits as a coefficient count:
    # S_m = 32 x weights of the 784-300-124-60-10 net; the trained net keeps the factor 32
    problem = scenario_for_model("mel-sync-calibrated", spec, {"devices": 5})
    np.testing.assert_allclose(problem.meta["model_bits"], 32 * 32 * spec.n_weights, rtol=1e-12)
    given = scenario_for_model(
        "mel-sync-calibrated", spec, {"devices": 5, "workload.model_coefficients": 1000}
    )
    assert given.meta["model_bits"] == 32 * 1000


def test_scenario_for_model_refuses_model_fields_and_canonical_problems(spec) -> None:
    with pytest.raises(ValidationError, match=r"workload\.layers"):
        scenario_for_model("mel-sync", spec, {"workload.layers": [64, 10]})
    with pytest.raises(ValidationError, match=r"workload\.features"):
        scenario_for_model("mel-sync", spec, {"features": 10})
    canonical = edgealloc.load_problem("mel-sync", overrides={"devices": 3}).to_dict()
    with pytest.raises(ValidationError, match="canonical"):
        scenario_for_model(canonical, spec)
    with pytest.raises(ValidationError, match="nosuch"):
        scenario_for_model("mel-sync", spec, {"nosuch": 1})


def test_other_workload_warns(digits) -> None:
    problem = edgealloc.load_problem("mel-sync", overrides={"devices": 5, "d": 240, "T": 1})
    res = edgealloc.solve(problem, "equal")
    with pytest.warns(EdgeallocWarning, match="784"):
        rec = train(problem, res, digits, cycles=1)
    assert any("784" in n for n in rec.notes)


# ---------------------------------------------------------------------------
# Every scheme
# ---------------------------------------------------------------------------
def test_compare_schemes(sync_problem, digits, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cmp = compare_schemes(
            sync_problem,
            digits,
            schemes=["optimal", "relaxed", "equal"],
            cycles=2,
            plot_path=tmp_path / "cmp.png",
        )
    assert list(cmp.records) == ["optimal", "equal"]
    assert "relaxed" in cmp.skipped and "fractional" in cmp.skipped["relaxed"]
    opt, eq = cmp.records["optimal"], cmp.records["equal"]
    # same seed: the same initial model
    assert opt["test_loss"][0] == eq["test_loss"][0]
    assert opt["train_loss"][0] == eq["train_loss"][0]
    assert (tmp_path / "cmp.png").stat().st_size > 10_000
    rows = cmp.summary_rows()
    assert [r["scheme"] for r in rows] == ["optimal", "equal"]
    assert rows[0]["cycle_time_s"] == opt.cycle_time_s


def test_compare_schemes_infeasible(sync_problem, digits) -> None:
    with pytest.raises(InfeasibleError):
        compare_schemes(sync_problem.replace(deadline=1e-4), digits, cycles=1)


# ---------------------------------------------------------------------------
# TrainOptions: validated once, shared by train and compare_schemes
# ---------------------------------------------------------------------------
def test_options_and_keywords_give_the_same_record(sync_problem, digits, sync_record) -> None:
    res = edgealloc.solve(sync_problem, "optimal")
    opts = TrainOptions(cycles=3, seed=0)
    rec = train(sync_problem, res, digits, options=opts)
    for col in RECORD_COLUMNS:
        np.testing.assert_array_equal(rec[col], sync_record[col])
    # keywords next to options replace its fields
    short = train(sync_problem, res, digits, options=opts, cycles=1)
    assert short.cycles == 1
    np.testing.assert_array_equal(short["test_loss"], sync_record["test_loss"][:2])


def test_options_are_checked_when_made_and_passed_on_as_they_are() -> None:
    opts = TrainOptions(cycles=2, lr=0.05, device="cpu")
    assert train_options(opts, {}) is opts  # train and compare_schemes do not check again
    assert (opts.cycles, opts.lr, opts.mode, opts.clock) == (2, 0.05, None, "slowest")
    assert opts.replace(seed=4).seed == 4 and opts.seed == 0
    assert opts == TrainOptions(cycles=2, lr=0.05, device="cpu") != TrainOptions(cycles=2)
    assert opts.to_dict()["device"] == "cpu"
    with pytest.raises(ValidationError) as err:
        opts.replace(eval_every=0)
    assert err.value.field == "eval_every"
    with pytest.raises(ValidationError) as err:
        TrainOptions(cycles=1, mode="parallel", partition_scheme="shards")
    assert err.value.field == "partition_scheme"
    with pytest.raises(ValueError, match="frozen"):
        opts.cycles = 3  # type: ignore[misc]


def test_compare_schemes_takes_options(sync_problem, digits) -> None:
    cmp = compare_schemes(
        sync_problem, digits, schemes=["equal"], options=TrainOptions(cycles=1, seed=2)
    )
    assert cmp.records["equal"].seed == 2 and cmp.records["equal"].cycles == 1
    with pytest.raises(ValidationError) as err:
        compare_schemes(sync_problem, digits, cycles=1, lr=0.0)
    assert err.value.field == "lr"


def test_time_fields_end_in_s_and_the_old_names_remain(sync_record: RunRecord) -> None:
    assert sync_record.deadline_s == sync_record.deadline == 0.1
    assert np.isfinite(sync_record.wall_time_s)
    assert sync_record.wall_seconds == sync_record.wall_time_s
    with pytest.raises(AttributeError):
        sync_record.wall_seconds = 1.0  # type: ignore[misc]


#: Every public name ``edgealloc.learn.run`` offered before it was split into modules.
RUN_NAMES = [
    "CLOCKS",
    "DEFAULT_LR",
    "KAPPA",
    "LEDGER_COLUMNS",
    "MODES",
    "PARTITIONS",
    "RECORD_COLUMNS",
    "TRAIN_EVAL_SAMPLES",
    "Comparison",
    "Dataset",
    "DeviceEnergy",
    "EdgeallocWarning",
    "FederatedSampler",
    "FullyConnected",
    "InfeasibleError",
    "MelProblem",
    "ModelSpec",
    "ParallelSampler",
    "Result",
    "RunRecord",
    "Status",
    "ValidationError",
    "check_choice",
    "check_int",
    "compare_schemes",
    "device_energy",
    "evaluate",
    "init_params",
    "kappa_energy",
    "local_sgd_cycle",
    "model_for",
    "parse_device",
    "partition",
    "plot_records",
    "scenario_for_model",
    "scheme_color",
    "torch",
    "train",
    "trainable_schemes",
]


def test_run_keeps_every_public_name() -> None:
    from edgealloc.learn import comparison, energy, records, run, scenario, training

    missing = [name for name in RUN_NAMES if not hasattr(run, name)]
    assert not missing
    old_all = set(RUN_NAMES[:7]) | {"Comparison", "DeviceEnergy", "RunRecord", "plot_records"}
    old_all |= {"compare_schemes", "device_energy", "scenario_for_model", "train"}
    assert old_all | {"trainable_schemes"} <= set(run.__all__)
    assert run.train is training.train and run.RunRecord is records.RunRecord
    assert run.compare_schemes is comparison.compare_schemes
    assert run.scenario_for_model is scenario.scenario_for_model
    assert run.device_energy is energy.device_energy
    assert run.trainable_schemes() == ["optimal", "paper", "equal"]


def test_learn_serves_the_training_names_on_first_use() -> None:
    import edgealloc.learn as learn

    assert learn.train is train and learn.compare_schemes is compare_schemes
    assert learn.scenario_for_model is scenario_for_model and learn.RunRecord is RunRecord
    assert learn.TrainOptions is TrainOptions
    with pytest.raises(AttributeError, match="no_such_name"):
        learn.no_such_name  # noqa: B018


# ---------------------------------------------------------------------------
# PyTorch stays optional
# ---------------------------------------------------------------------------
def test_imports_stay_torch_free() -> None:
    code = (
        "import sys, edgealloc, edgealloc.learn, edgealloc.cli.train\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'edgealloc.learn.run' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_options_need_no_torch() -> None:
    code = (
        "import sys\n"
        "from edgealloc.learn import TrainOptions\n"
        "opts = TrainOptions(cycles=3, lr=0.05, mode='federated', partition_scheme='shards')\n"
        "assert opts.replace(seed=2).seed == 2\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_module_doctests() -> None:
    import doctest

    from edgealloc.learn import options, training

    for module in (options, training):
        assert doctest.testmod(module).failed == 0, module.__name__
