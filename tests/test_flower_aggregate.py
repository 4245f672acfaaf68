"""The Flower integration's pure parts: aggregation, profiles, settings, compile, ledger, draws.

None of these needs Flower: they run without the ``flower`` extra.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import edgealloc
from devices import cpu_and_cuda
from edgealloc.errors import InfeasibleError, ValidationError
from edgealloc.integrations.flower import (
    DeviceProfile,
    FlowerSettings,
    Planner,
    weighted_gradient_step,
    weighted_model_average,
)
from edgealloc.integrations.flower.families import flower_family

# --------------------------------------------------------------------------- aggregation


def test_model_average_is_d_weighted_as_computed_by_hand() -> None:
    # Prepare: three local models, d = (1, 2, 0): the third takes no part
    w1 = {"a": np.array([1.0, 2.0], np.float32), "b": np.array([[0.0]], np.float32)}
    w2 = {"a": np.array([4.0, -1.0], np.float32), "b": np.array([[3.0]], np.float32)}
    w3 = {"a": np.array([100.0, 100.0], np.float32), "b": np.array([[100.0]], np.float32)}
    fallback = {"a": np.zeros(2, np.float32), "b": np.zeros((1, 1), np.float32)}
    # Execute
    out = weighted_model_average([w1, w2, w3], [1, 2, 0], fallback=fallback)
    # Assert: (1 * w1 + 2 * w2) / 3
    assert out["a"].tolist() == [3.0, 0.0]
    assert out["b"].tolist() == [[2.0]]
    assert out["a"].dtype == np.float32


def test_model_average_of_nobody_is_the_global_model_copied() -> None:
    fallback = {"a": np.array([5.0])}
    out = weighted_model_average([{"a": np.array([1.0])}], [0], fallback=fallback)
    assert out["a"].tolist() == [5.0]
    out["a"][0] = 0.0
    assert fallback["a"][0] == 5.0


def test_model_average_of_identical_models_is_that_model() -> None:
    w = {"a": np.array([0.1, -0.7, 3.25])}
    out = weighted_model_average([w, w, w], [3, 11, 5], fallback={"a": np.zeros(3)})
    np.testing.assert_allclose(out["a"], w["a"], rtol=1e-15)


def test_gradient_step_is_b_weighted_as_computed_by_hand() -> None:
    # Prepare: w = (1, 1), g1 = (2, 0) with B = 1, g2 = (-1, 3) with B = 3, eta = 0.5
    w = {"w": np.array([1.0, 1.0])}
    grads = [{"w": np.array([2.0, 0.0])}, {"w": np.array([-1.0, 3.0])}]
    # Execute
    out = weighted_gradient_step(w, grads, [1, 3], lr=0.5)
    # Assert: g = (2 - 3, 9) / 4 = (-0.25, 2.25); w - 0.5 g = (1.125, -0.125)
    assert out["w"].tolist() == [1.125, -0.125]


def test_gradient_step_with_empty_batches_changes_nothing() -> None:
    out = weighted_gradient_step({"w": np.array([2.0])}, [{"w": np.array([9.0])}], [0], lr=1.0)
    assert out["w"].tolist() == [2.0]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda: weighted_model_average([{"a": np.zeros(2)}], [-1], fallback={"a": np.zeros(2)}),
            "samples[0]",
        ),
        (
            lambda: weighted_model_average([{"b": np.zeros(2)}], [1], fallback={"a": np.zeros(2)}),
            "models[0]",
        ),
        (
            lambda: weighted_model_average([{"a": np.zeros(3)}], [1], fallback={"a": np.zeros(2)}),
            "models[0].a",
        ),
        (
            lambda: weighted_model_average(
                [{"a": np.zeros(2)}], [1, 2], fallback={"a": np.zeros(2)}
            ),
            "samples",
        ),
        (
            lambda: weighted_gradient_step({"a": np.zeros(1)}, [{"a": np.zeros(1)}], [1], lr=0.0),
            "lr",
        ),
        (
            lambda: weighted_gradient_step(
                {"a": np.zeros(1)}, [{"a": np.zeros(1)}], [np.nan], lr=1.0
            ),
            "batch_sizes[0]",
        ),
    ],
)
def test_aggregation_refuses_bad_input_naming_it(call, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        call()
    assert info.value.field == field


def test_client_gradient_matches_the_engines_gradient_averaging() -> None:
    torch = pytest.importorskip("torch")
    from edgealloc.integrations.flower.client import _gradient
    from edgealloc.learn import load_dataset
    from edgealloc.learn.engine import gradient_averaging_step, init_params
    from edgealloc.learn.models import model_for

    data = load_dataset("digits", n_samples=200)
    spec = model_for(data, "mlp")
    params = init_params(spec, 0)
    x = data.x_train[:40].reshape((40, *spec.input_shape))
    y = data.y_train[:40]
    grads, _ = _gradient(spec, params, x, y)
    new, _ = gradient_averaging_step(spec, params, [x], [y], lr=1.0, batched=False)
    for name in params:
        expect = (params[name] - new[name]).numpy()
        np.testing.assert_allclose(grads[name].numpy(), expect, atol=2e-7)
    assert torch.is_tensor(grads[next(iter(params))])


# --------------------------------------------------------------------------- profiles


def test_profile_record_round_trip_and_node_config_overrides() -> None:
    p = DeviceProfile(partition_id=2, cpu_hz=1e9, tx_power_w=0.2, num_examples=40, rate_bps=5e7)
    assert DeviceProfile.from_record(p.to_record()) == p
    q = DeviceProfile.from_node_config({"cpu-hz": "2.4e9", "partition-id": 9}, p)
    assert q.cpu_hz == 2.4e9 and q.partition_id == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cpu-hz": -1.0}, "node 7.cpu-hz"),
        ({"cpu-hz": "fast"}, "node 7.cpu-hz"),
        ({"num-examples": 1.5}, "node 7.num-examples"),
        ({"rate-bps": -1.0}, "node 7.rate-bps"),
        ({"tx-power-w": float("inf")}, "node 7.tx-power-w"),
    ],
)
def test_malformed_profile_names_node_and_key(change: dict, field: str) -> None:
    record = DeviceProfile(0, 1e9, 0.2, 10).to_record() | change
    with pytest.raises(ValidationError) as info:
        DeviceProfile.from_record(record, where="node 7")
    assert info.value.field == field


def test_missing_profile_key_is_named() -> None:
    record = DeviceProfile(0, 1e9, 0.2, 10).to_record()
    del record["num-examples"]
    with pytest.raises(ValidationError, match="num-examples: missing"):
        DeviceProfile.from_record(record)


# --------------------------------------------------------------------------- settings


def test_settings_validate_once_and_round_trip() -> None:
    s = FlowerSettings.create("mel-sync", rounds=2, overrides={"devices": 4, "T": 1.0})
    assert (s.family, s.scheme, s.n_nodes) == ("mel", "optimal", 4)
    assert FlowerSettings.from_json(s.to_json()) == s


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rounds": 0}, "rounds"),
        ({"rounds": 1, "fail_rate": 1.0}, "fail_rate"),
        ({"rounds": 1, "fail_rate": -0.1}, "fail_rate"),
        ({"rounds": 1, "dataset": "imagenet"}, "dataset"),
        ({"rounds": 1, "scheme": "relaxed"}, "scheme"),
        ({"rounds": 1, "scheme": "nope"}, "scheme"),
        ({"rounds": 1, "lr": 0}, "lr"),
        ({"rounds": 1, "overrides": {"devices": 0}}, "devices.count"),
        ({"rounds": 1, "device": "tpu"}, "device"),
        ({"rounds": 1, "device": "cuda:x"}, "device"),
        ({"rounds": 1, "device": 0}, "device"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        FlowerSettings.create("mel-sync", **kwargs)
    assert info.value.field == field


def test_a_device_is_checked_by_name_only_where_the_settings_are_made() -> None:
    """The server may lack the nodes' GPU: ``create`` takes ``cuda`` here, with or without one."""
    s = FlowerSettings.create("mel-sync", rounds=1, overrides={"devices": 3}, device="cuda:1")
    assert FlowerSettings.from_json(s.to_json()).device == "cuda:1"
    assert FlowerSettings.create("mel-sync", rounds=1).device == "cpu"


def test_backend_config_shares_one_gpu_between_the_clientapps_at_once() -> None:
    from edgealloc.integrations.flower.simulation import backend_config

    cpu = backend_config(10, cpus=4)
    assert cpu["client_resources"] == {"num_cpus": 1, "num_gpus": 0.0}
    assert (cpu["init_args"]["num_cpus"], cpu["init_args"]["num_gpus"]) == (4, 0)
    gpu = backend_config(10, cpus=4, device="cuda")
    assert gpu["client_resources"] == {"num_cpus": 1, "num_gpus": 0.25}
    assert (gpu["init_args"]["num_cpus"], gpu["init_args"]["num_gpus"]) == (4, 1)
    few = backend_config(2, cpus=4, device="cuda:0")  # at most one ClientApp per node
    assert few["client_resources"]["num_gpus"] == 0.5 and few["init_args"]["num_cpus"] == 2


@pytest.mark.parametrize("device", cpu_and_cuda())
@pytest.mark.parametrize("mode", ["local-sgd", "gradient"])
def test_a_node_trains_the_same_model_on_every_device(mode: str, device: str) -> None:
    """``train_on_partition(device=...)``: NumPy out, the CPU's result to float32 rounding."""
    pytest.importorskip("torch")
    from edgealloc.integrations.flower.client import train_on_partition
    from edgealloc.integrations.flower.workspace import workspace
    from edgealloc.learn.engine import init_params

    settings = FlowerSettings.create("mel-sync", rounds=1, overrides={"devices": 3, "T": 0.2})
    ws = workspace(settings)
    arrays = {n: v.numpy() for n, v in init_params(ws.spec, 0).items()}
    config = {"mode": mode, "server-round": 1, "local-steps": 3, "num-examples": 20}
    config |= {"batch-size": 20, "lr": 0.1}
    ref, ref_report = train_on_partition(ws, 1, config, arrays)
    out, report = train_on_partition(ws, 1, config, arrays, device=device)
    assert set(out) == set(ref)
    scale = max(float(np.abs(v).max()) for v in ref.values())
    for name, value in out.items():
        assert isinstance(value, np.ndarray) and value.dtype == np.float32
        np.testing.assert_allclose(value, ref[name], rtol=0, atol=1e-5 * scale)
    assert report["train-loss"] == pytest.approx(ref_report["train-loss"], rel=1e-5)
    assert (report["local-steps"], report["num-examples"]) == (
        ref_report["local-steps"],
        ref_report["num-examples"],
    )


def test_a_canonical_problem_is_refused(tmp_path) -> None:
    path = tmp_path / "p.json"
    path.write_text(
        '{"family": "mel", "deadline": 1, "total_samples": 10, "c2": [1], "c1": [0], "c0": [0]}'
    )
    with pytest.raises(ValidationError, match="canonical problem"):
        FlowerSettings.create(str(path), rounds=1)


def test_a_family_without_a_flower_entry_says_which_have_one() -> None:
    with pytest.raises(ValidationError, match="can be planned for: mel"):
        FlowerSettings.create("xr-server", rounds=1)


# --------------------------------------------------------------------------- compile and plan


@pytest.fixture(scope="module")
def sync_run():
    pytest.importorskip("sklearn")
    from edgealloc.integrations.flower.workspace import workspace

    s = FlowerSettings.create("mel-sync", rounds=2, overrides={"devices": 4, "T": 1.0})
    return s, workspace(s)


@pytest.mark.parametrize("preset", ["mel-sync", "mel-async"])
def test_profiles_read_off_a_scenario_compile_back_to_its_coefficients(preset: str) -> None:
    pytest.importorskip("torch")
    from edgealloc.integrations.flower.workspace import workspace
    from edgealloc.learn.scenario import scenario_for_model

    s = FlowerSettings.create(preset, rounds=1, overrides={"devices": 5})
    ws = workspace(s)
    family = flower_family("mel")
    profiles = family.profiles(s, ws)
    problem = family.compile(s, ws, profiles)
    reference = scenario_for_model(
        s.resolved_scenario(), ws.spec, None, total_samples=ws.data.n_train, mode="federated"
    )
    for name in ("c2", "c1", "c0"):
        np.testing.assert_allclose(getattr(problem, name), getattr(reference, name), rtol=1e-14)
    assert problem.deadline == reference.deadline
    assert problem.total_samples == reference.total_samples == sum(ws.sizes)
    if reference.energy is not None:
        for name in ("g2", "g1", "g0", "budget"):
            np.testing.assert_allclose(
                getattr(problem.energy, name), getattr(reference.energy, name), rtol=1e-14
            )
    # a node that reports its distance instead of a measured rate gets the same link
    by_distance = [dataclasses.replace(p, rate_bps=0.0) for p in profiles]
    np.testing.assert_allclose(family.compile(s, ws, by_distance).c0, reference.c0, rtol=1e-12)


def test_plan_sends_each_node_its_own_solved_values(sync_run) -> None:
    pytest.importorskip("torch")
    s, ws = sync_run
    profiles = flower_family("mel").profiles(s, ws)
    nodes = {1000 + 7 * i: p for i, p in enumerate(reversed(profiles))}  # ids out of order
    plan = Planner(s, ws).plan(1, nodes, "first round")
    assert [p.partition_id for p in plan.profiles] == [0, 1, 2, 3]  # devices by partition
    result = edgealloc.solve(plan.problem, "optimal")
    for k, nid in enumerate(plan.nodes):
        cfg = plan.configs[nid]
        assert cfg["device"] == k
        assert cfg["local-steps"] == result.tau[k]
        assert cfg["num-examples"] == result.samples[k] == cfg["batch-size"]
        assert cfg["deadline-s"] == 1.0 and cfg["staleness"] == -1
        assert cfg["planned-time-s"] <= 1.0
    record = plan.to_record(2)
    assert record["round"] == 2 and record["planned_in_round"] == 1
    assert record["result"]["tau"] == list(result.tau)


def test_a_mel_node_without_a_clock_is_named(sync_run) -> None:
    s, ws = sync_run
    profiles = flower_family("mel").profiles(s, ws)
    profiles[2] = dataclasses.replace(profiles[2], cpu_hz=0.0)
    with pytest.raises(ValidationError) as info:
        flower_family("mel").compile(s, ws, profiles)
    assert info.value.field == "profile of partition 2.cpu-hz"


def test_plan_over_fewer_nodes_covers_their_examples(sync_run) -> None:
    pytest.importorskip("torch")
    s, ws = sync_run
    profiles = flower_family("mel").profiles(s, ws)
    plan = Planner(s, ws).plan(3, {i: p for i, p in enumerate(profiles[:2])}, "failures")
    assert plan.problem.n_devices == 2
    assert plan.problem.total_samples == sum(p.num_examples for p in profiles[:2])


def test_two_nodes_on_one_partition_are_refused(sync_run) -> None:
    s, ws = sync_run
    p = flower_family("mel").profiles(s, ws)[0]
    with pytest.raises(ValidationError, match="both hold partition 0"):
        Planner(s, ws).plan(1, {1: p, 2: p}, "first round")


def test_an_infeasible_plan_says_what_would_help(sync_run) -> None:
    pytest.importorskip("torch")
    s, ws = sync_run
    tight = s.replace(overrides={"devices": 4, "T": 1e-3})
    profiles = flower_family("mel").profiles(tight, ws)
    with pytest.raises(InfeasibleError) as info:
        Planner(tight, ws).plan(1, dict(enumerate(profiles)), "first round")
    assert info.value.min_deadline is not None and info.value.min_deadline > 1e-3


# --------------------------------------------------------------------------- ledger


def test_ledger_charges_the_plan_and_flags_a_node_over_the_deadline(sync_run) -> None:
    pytest.importorskip("torch")
    from edgealloc.learn.energy import device_energy

    s, ws = sync_run
    family = flower_family("mel")
    problem = family.compile(s, ws, family.profiles(s, ws))
    result = edgealloc.solve(problem, "optimal")
    tau = np.asarray(result.tau, float)
    d = np.asarray(result.samples, float)
    steps = tau.copy()
    steps[1] = 10 * tau[1]  # device 1 did ten times its steps: late
    examples = np.minimum(d, ws.sizes)  # what a node that owns fewer trains on
    ledger = family.ledger(problem, result, steps, examples, s)
    assert ledger.on_time.tolist() == [True, False, True, True]
    plan_t = problem.c2 * tau * d + problem.c1 * d + problem.c0  # [MEL-sync] eq. (8)
    late_t = problem.c2[1] * steps[1] * examples[1] + problem.c1[1] * examples[1] + problem.c0[1]
    assert ledger.times_s[1] == pytest.approx(late_t) and late_t > problem.deadline
    np.testing.assert_allclose(ledger.times_s[[0, 2, 3]], plan_t[[0, 2, 3]], rtol=1e-12)
    planned_e = device_energy(problem, tau, d).total_j
    np.testing.assert_allclose(ledger.energies_j[[0, 2, 3]], planned_e[[0, 2, 3]], rtol=1e-12)


# --------------------------------------------------------------------------- per-round draws


def test_a_node_draws_what_the_engines_federated_sampler_gives_it(sync_run) -> None:
    from edgealloc.learn.partition import FederatedSampler

    s, ws = sync_run
    sampler = FederatedSampler(list(ws.parts), np.random.default_rng([s.seed, 1]))
    d = np.array([500, 17, 360, 0])
    for round_ in (1, 2, 3):
        expected = sampler.draw(d)
        for k in range(len(d)):
            np.testing.assert_array_equal(ws.draw(k, int(d[k]), round_), expected[k])


def test_injected_failures_are_reproducible_and_at_the_rate() -> None:
    from edgealloc.integrations.flower.client import fails_this_round

    s = FlowerSettings.create("mel-sync", rounds=1, overrides={"devices": 3}, fail_rate=0.25)
    draws = [fails_this_round(s, k, r) for r in range(1, 201) for k in range(3)]
    assert draws == [fails_this_round(s, k, r) for r in range(1, 201) for k in range(3)]
    assert 0.18 < np.mean(draws) < 0.32
    assert not fails_this_round(s.replace(fail_rate=0.0), 0, 1)


@pytest.mark.parametrize("preset", ["feel-cpu", "feel-gpu"])
def test_feel_profiles_compile_back_to_the_scenario_with_the_trained_model(preset: str) -> None:
    pytest.importorskip("torch")
    from edgealloc.feel.scenario import compile_feel
    from edgealloc.integrations.flower.families import _feel_document
    from edgealloc.integrations.flower.workspace import workspace

    s = FlowerSettings.create(preset, rounds=1, overrides={"devices": 4})
    ws = workspace(s)
    family = flower_family("feel")
    problem = family.compile(s, ws, family.profiles(s, ws))
    doc = _feel_document(s, ws, 4)
    doc["devices"] = s.resolved_scenario()["devices"]
    reference = compile_feel(doc)
    for name in ("uplink_rate", "downlink_rate"):
        np.testing.assert_allclose(getattr(problem, name), getattr(reference, name), rtol=1e-14)
    assert problem.gradient_bits == 32 * ws.spec.n_params  # s = b p of the trained model
    if reference.gpu is None:
        np.testing.assert_array_equal(problem.cpu_hz, reference.cpu_hz)
        assert problem.cycles_per_sample == ws.spec.flops_per_sample("standard")
    else:
        np.testing.assert_array_equal(problem.gpu.slope, reference.gpu.slope)
    plan = Planner(s, ws).plan(1, dict(enumerate(family.profiles(s, ws))), "first round")
    batch = plan.result.allocation.batch
    for k, nid in enumerate(plan.nodes):
        cfg = plan.configs[nid]
        assert (cfg["mode"], cfg["local-steps"], cfg["batch-size"]) == ("gradient", 1, batch[k])
        assert cfg["deadline-s"] == plan.result.allocation.latency
