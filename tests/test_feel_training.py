"""FEEL training: the trainer registry, gradient averaging under a plan, the Table II procedures.

Every expected value is recomputed here from the problem's fields and the
paper's equations ((1)-(2), (10), (15)), never read back from the code under
test.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import edgealloc
from edgealloc.cli import app
from edgealloc.errors import EdgeallocWarning, ValidationError
from edgealloc.learn import trainers as tr

torch = pytest.importorskip("torch")

from edgealloc.learn import load_dataset  # noqa: E402
from edgealloc.learn.engine import _per_sample_loss, _template, init_params  # noqa: E402
from edgealloc.learn.feel_baselines import procedure_prices, train_feel_procedure  # noqa: E402
from edgealloc.learn.feel_scenario import feel_scenario_for_model  # noqa: E402
from edgealloc.learn.feel_training import feel_learning_rate, train_feel  # noqa: E402
from edgealloc.learn.local_training import average_params, local_epochs, stack_params  # noqa: E402
from edgealloc.learn.models import model_for  # noqa: E402
from edgealloc.learn.partition import partition  # noqa: E402


@pytest.fixture(scope="module")
def data() -> Any:
    return load_dataset("digits", n_samples=300)


@pytest.fixture(scope="module")
def spec(data: Any) -> Any:
    return model_for(data, "mlp")


@pytest.fixture(scope="module")
def problem(spec: Any) -> Any:
    return feel_scenario_for_model("feel-cpu", spec, {"K": 3})


# ---------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------
def test_registry_has_both_families() -> None:
    known = tr.trainers()
    assert {"mel", "feel"} <= set(known)
    assert tr.get_trainer("feel").rounds == "communication rounds"
    assert tr.get_trainer("mel").rounds == "global cycles"
    with pytest.raises(ValidationError) as info:
        tr.get_trainer("nope")
    assert info.value.field == "family" and "mel" in str(info.value)


def test_register_replace_and_refresh() -> None:
    with pytest.raises(ValidationError):
        tr.register_trainer("not a trainer")  # type: ignore[arg-type]
    toy = dataclasses.replace(tr.get_trainer("feel"), family="toy", title="toy")
    try:
        tr.register_trainer(toy)
        assert tr.get_trainer("toy") is toy
        with pytest.raises(ValidationError, match="already"):
            tr.register_trainer(toy)
        other = dataclasses.replace(toy, title="other")
        tr.register_trainer(other, replace=True)
        assert tr.get_trainer("toy").title == "other"
    finally:
        tr.refresh_trainers()
    assert "toy" not in tr.trainers() and "feel" in tr.trainers()


def test_a_broken_builtin_path_warns_and_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tr.BUILTIN_TRAINERS, "broken", "edgealloc.no_such_module:X")
    tr.refresh_trainers()
    try:
        with pytest.warns(EdgeallocWarning, match="broken"):
            known = tr.trainers()
        assert "broken" not in known and "feel" in known
    finally:
        monkeypatch.delitem(tr.BUILTIN_TRAINERS, "broken")
        tr.refresh_trainers()


def test_every_trainable_family_has_a_trainer() -> None:
    for name, fam in edgealloc.registry.families().items():
        if fam.trainable and name in ("mel", "feel"):
            assert name in tr.trainers()


# ---------------------------------------------------------------------------
# The learning-rate rule and the slots of fixed batches
# ---------------------------------------------------------------------------
def test_square_root_rule() -> None:
    assert feel_learning_rate(0.1, 128) == pytest.approx(0.1)
    assert feel_learning_rate(0.1, 32) == pytest.approx(0.05)
    assert feel_learning_rate(0.3, 7, rule="constant") == 0.3


def test_slots_for_batches_equalise_the_finish(problem: Any) -> None:
    from edgealloc.feel.solvers import slots_for_batches

    batch = np.array([5.0, 60.0, 128.0])
    up, down = slots_for_batches(problem, batch)
    assert up.sum() == pytest.approx(problem.frame.uplink)
    assert down.sum() == pytest.approx(problem.frame.downlink)
    s = float(problem.gradient_bits)
    # eq. (13): compute + upload equal for every device (Remark 3), and download + update
    finish = batch * problem.cycles_per_sample / np.asarray(problem.cpu_hz)
    finish = finish + s * problem.frame.uplink / (up * np.asarray(problem.uplink_rate))
    np.testing.assert_allclose(finish, finish[0], rtol=1e-9)
    ev = problem.evaluate(batch, up, down)
    assert ev.feasible
    with pytest.raises(ValidationError) as info:
        slots_for_batches(problem, [1.0, 2.0])
    assert info.value.field == "batch"


# ---------------------------------------------------------------------------
# train_feel
# ---------------------------------------------------------------------------
def test_clock_and_ledger_follow_the_plan(problem: Any, data: Any, spec: Any) -> None:
    res = edgealloc.solve(problem, "online")
    rec = train_feel(problem, res, data, spec=spec, cycles=3, kappa=2e-28)
    assert rec["cycle"].tolist() == [0, 1, 2, 3]
    # the clock: eq. (15) recomputed by hand from the plan's batches and slots
    f = np.asarray(problem.cpu_hz)
    s = float(problem.gradient_bits)
    c = float(problem.cycles_per_sample)
    b = np.asarray(res.batch, dtype=float)
    up = s * problem.frame.uplink / (np.asarray(res.uplink_slot) * np.asarray(problem.uplink_rate))
    down = (
        s
        * problem.frame.downlink
        / (np.asarray(res.downlink_slot) * np.asarray(problem.downlink_rate))
    )
    latency = np.max(b * c / f + up) + np.max(down + problem.update_cycles / f)
    np.testing.assert_allclose(rec["sim_time_s"], latency * np.arange(4), rtol=1e-9)
    # the ledger: kappa f^2 C B_k + P s / R_k, the transmit power from the scenario (28 dBm)
    p_w = 10 ** (28 / 10) / 1e3
    per_round = (2e-28 * f**2 * c * b + p_w * s / np.asarray(problem.uplink_rate)).sum()
    np.testing.assert_allclose(rec["energy_j"], per_round * np.arange(4), rtol=1e-9)
    assert rec["samples_used"].tolist() == [0, 3, 3, 3]
    assert np.isfinite(rec["test_accuracy"]).all()


def test_one_round_is_eq_1_and_2(problem: Any, data: Any, spec: Any) -> None:
    """B_k >= every device's data: the round is one step along the full-data mean gradient."""
    res = edgealloc.solve(problem, "full")
    lr = 0.05
    rec = train_feel(problem, res, data, spec=spec, cycles=1, lr=lr, keep_params=True)
    n = data.n_train
    assert rec["samples_used"][1] == n  # every device trains on all it owns
    w0 = init_params(spec, 0)
    module = _template(spec)
    x = torch.from_numpy(data.x_train.reshape((n, *spec.input_shape)))
    y = torch.from_numpy(data.y_train)

    def loss(params: dict) -> torch.Tensor:
        out = torch.func.functional_call(module, params, (x,))
        return _per_sample_loss(spec, out, y).mean()

    grads = torch.func.grad(loss)(dict(w0))
    eta = lr * math.sqrt(n / 128)  # the square-root rule, the global batch actually trained on
    for name, p in rec.params.items():
        torch.testing.assert_close(p, w0[name] - eta * grads[name], rtol=1e-4, atol=1e-6)


def test_random_draws_new_batches_every_round(problem: Any, data: Any, spec: Any) -> None:
    from edgealloc.feel.solvers import slots_for_batches

    res = edgealloc.solve(problem, "random")
    rec = train_feel(problem, res, data, spec=spec, cycles=4)
    batches = rec.round_batches
    assert batches.shape == (4, 3)
    np.testing.assert_array_equal(batches[0], res.batch)
    assert len({tuple(r) for r in batches[1:]}) > 1
    assert ((batches >= 1) & (batches <= problem.max_batch)).all()
    # each fresh round is priced with its best slots
    for i in range(1, 4):
        ev = problem.evaluate(batches[i], *slots_for_batches(problem, batches[i]))
        assert rec["cycle_time_s"][i + 1] == pytest.approx(ev.latency, rel=1e-9)


def test_same_seed_same_record(problem: Any, data: Any, spec: Any) -> None:
    res = edgealloc.solve(problem)
    a = train_feel(problem, res, data, spec=spec, cycles=2, seed=3)
    b = train_feel(problem, res, data, spec=spec, cycles=2, seed=3)
    np.testing.assert_array_equal(a["test_accuracy"], b["test_accuracy"])


def test_train_feel_refuses_what_does_not_apply(problem: Any, data: Any, spec: Any) -> None:
    relaxed = edgealloc.solve(problem, "relaxed")
    with pytest.raises(ValidationError) as info:
        train_feel(problem, relaxed, data, spec=spec, cycles=1)
    assert info.value.field == "result" and "fractional" in str(info.value)
    res = edgealloc.solve(problem)
    with pytest.raises(ValidationError) as info:
        train_feel(problem, res, data, spec=spec, cycles=1, mode="parallel")
    assert info.value.field == "mode"
    with pytest.raises(ValidationError) as info:
        train_feel(problem, res, data, spec=spec, cycles=1, clock="deadline")
    assert info.value.field == "clock"
    other = feel_scenario_for_model("feel-cpu", spec, {"K": 4})
    with pytest.raises(ValidationError) as info:
        train_feel(other, res, data, spec=spec, cycles=1)
    assert info.value.field == "result"
    with pytest.raises(ValidationError) as info:
        train_feel(problem, res, data, spec=spec, cycles=1, lr_rule="cubic")
    assert info.value.field == "lr_rule"


def test_divergence_is_reported(problem: Any, data: Any, spec: Any) -> None:
    res = edgealloc.solve(problem, "full")
    with pytest.raises(ValidationError) as info:
        train_feel(problem, res, data, spec=spec, cycles=3, lr=1e6, on_divergence="raise")
    assert info.value.field == "lr"


# ---------------------------------------------------------------------------
# Local epochs and the Table II procedures
# ---------------------------------------------------------------------------
def test_one_full_batch_epoch_is_one_gradient_step(data: Any, spec: Any) -> None:
    parts = partition(data.y_train, 2, scheme="iid", rng=np.random.default_rng(0))
    w0 = init_params(spec, 1)
    x = data.x_train.reshape((data.n_train, *spec.input_shape))
    stacked, losses = local_epochs(
        spec,
        stack_params(w0, 2),
        x,
        data.y_train,
        parts,
        epochs=1,
        batch_size=10_000,
        lr=0.1,
        rng=np.random.default_rng(0),
    )
    module = _template(spec)
    for k, idx in enumerate(parts):
        xk = torch.from_numpy(x[idx])
        yk = torch.from_numpy(data.y_train[idx])

        def loss(params: dict, xk: Any = xk, yk: Any = yk) -> torch.Tensor:
            out = torch.func.functional_call(module, params, (xk,))
            return _per_sample_loss(spec, out, yk).mean()

        grads = torch.func.grad(loss)(dict(w0))
        for name in w0:
            torch.testing.assert_close(
                stacked[name][k], w0[name] - 0.1 * grads[name], rtol=1e-4, atol=1e-6
            )
        assert losses[k] == pytest.approx(float(loss(dict(w0))), rel=1e-4)


def test_average_params() -> None:
    a = {"w": torch.tensor([[1.0, 2.0], [3.0, 6.0]])}
    avg = average_params(a, [1.0, 3.0])
    torch.testing.assert_close(avg["w"], torch.tensor([2.5, 5.0]))
    same = average_params(stack_params({"w": torch.tensor([4.0])}, 3), [1, 1, 1])
    torch.testing.assert_close(same["w"], torch.tensor([4.0]))
    for bad in ([1.0], [-1.0, 2.0], [0.0, 0.0]):
        with pytest.raises(ValidationError):
            average_params(a, bad)


def test_procedure_prices_are_eq_15_with_equal_slots(problem: Any) -> None:
    sizes = np.array([50, 80, 110])
    k = 3
    s = float(problem.gradient_bits)
    f = np.asarray(problem.cpu_hz)
    c = float(problem.cycles_per_sample)
    w = k * s / np.asarray(problem.uplink_rate)
    v = k * s / np.asarray(problem.downlink_rate)
    u = problem.update_cycles / f
    grad = procedure_prices(problem, "gradient-feel", sizes)
    assert grad["round_s"] == pytest.approx(np.max(sizes * c / f + w) + np.max(v + u))
    model = procedure_prices(problem, "model-feel", sizes, local_batch=32)
    assert model["round_s"] == pytest.approx(grad["round_s"])  # a CPU epoch costs N_k C / f_k
    ind = procedure_prices(problem, "individual", sizes)
    assert ind["round_s"] == pytest.approx(np.max(sizes * c / f))
    assert ind["exchange_s"] == pytest.approx(np.max(w) + np.max(v + u))
    with pytest.raises(ValidationError):
        procedure_prices(problem, "nope", sizes)


def test_gpu_epoch_costs_its_mini_batches(spec: Any) -> None:
    gpu = feel_scenario_for_model("feel-gpu", spec, {"K": 2})
    prices = procedure_prices(gpu, "model-feel", [70, 32], local_batch=32)
    t = np.asarray(gpu.compute_time(np.array([32.0, 32.0])))
    t6 = np.asarray(gpu.compute_time(np.array([6.0, 6.0])))
    np.testing.assert_allclose(prices["compute_s"], [2 * t[0] + t6[0], t[1]])


@pytest.mark.parametrize("procedure", ["individual", "model-feel", "gradient-feel"])
def test_procedures_train(problem: Any, data: Any, spec: Any, procedure: str) -> None:
    rec = train_feel_procedure(problem, data, procedure, spec=spec, cycles=2, lr=0.1)
    assert rec["cycle"].tolist() == [0, 1, 2]
    assert rec.scheme == procedure
    assert np.all(np.diff(rec["sim_time_s"]) > 0)
    assert np.isfinite(rec["test_accuracy"]).all()
    assert rec["samples_used"][1] == data.n_train


def test_gradient_feel_matches_train_feel_on_the_whole_data(
    problem: Any, data: Any, spec: Any
) -> None:
    """Gradient-based FEEL is gradient averaging with B_k = N_k: the same step as 'full' here."""
    full = train_feel(
        problem, edgealloc.solve(problem, "full"), data, spec=spec, cycles=2, keep_params=True
    )
    grad = train_feel_procedure(
        problem, data, "gradient-feel", spec=spec, cycles=2, keep_params=True
    )
    for name in full.params:
        torch.testing.assert_close(full.params[name], grad.params[name], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------
def invoke(*args: Any) -> Any:
    return CliRunner().invoke(app, ["train", *[str(a) for a in args]])


def test_train_feel_cpu_scheme_all(tmp_path: Path) -> None:
    out = tmp_path / "feel"
    res = invoke(
        "feel-cpu", "--scheme", "all", "--cycles", "2", "--n-samples", "300",
        "--set", "K=3", "-o", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "communication rounds" in res.output
    for scheme in ("optimal", "paper", "online", "full", "random", "equal-slots"):
        with (out / f"record-{scheme}.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        assert [int(r["cycle"]) for r in rows] == [0, 1, 2], scheme
        assert (out / f"allocation-{scheme}.json").exists()
    assert not (out / "record-relaxed.csv").exists()
    assert (out / "comparison.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--mode", "parallel"], "--mode"),
        (["--clock", "deadline"], "--clock"),
        (["--scheme", "relaxed"], "relaxed"),
    ],
)
def test_train_feel_refusals_exit_2(tmp_path: Path, args: list[str], field: str) -> None:
    res = invoke("feel-cpu", "--cycles", "1", "--n-samples", "300", *args, "-o", tmp_path / "x")
    assert res.exit_code == 2, res.output
    assert field in res.output
