"""Real Flower runs: the command in the simulation engine (with a failing node), the same model
as ``edgealloc train``, a loopback deployment, and Ctrl-C or a dying SuperNode mid-run.

Each test starts real processes (Ray's, or a SuperLink, SuperNodes and the
apps' processes), runs with a scratch ``HOME`` that must stay empty, and
checks that every process is gone afterwards; the engine tests also check
that every listening socket is on 127.0.0.1. Kept small (2-3 nodes, 1-2
rounds, short deadlines). The command without Flower: ``test_flower_missing.py``.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from devices import cpu_and_cuda, cuda_available
from edgealloc.integrations.flower import FlowerSettings
from edgealloc.integrations.flower._procs import descendants

pytest.importorskip("flwr")
pytest.importorskip("ray")

pytestmark = pytest.mark.usefixtures("one_torch_thread", "flower_env")


@pytest.fixture
def flower_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A scratch HOME (nothing may be written to the real one), offline Flower."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))  # matplotlib's own font cache
    monkeypatch.setenv("FLWR_TELEMETRY_ENABLED", "0")
    monkeypatch.setenv("FLWR_DISABLE_UPDATE_CHECK", "1")
    monkeypatch.setenv("FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION", "1")
    before = set(descendants())
    yield home
    left = set(descendants()) - before
    assert not left, f"processes left running: {sorted(left)}"
    assert not any(home.iterdir()), f"written to HOME: {list(home.iterdir())}"


def _cli() -> typer.Typer:
    from edgealloc.cli.flower import flower_command

    app = typer.Typer()
    app.command()(flower_command)
    return app


def _listening(pids: set[int]) -> set[str]:
    """``ip`` of every TCP socket in LISTEN state owned by ``pids`` (from /proc)."""
    inodes: dict[str, str] = {}
    for name in ("tcp", "tcp6"):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] != "0A":  # LISTEN
                continue
            hexip = cols[1].split(":")[0]
            if len(hexip) == 8:
                ip = ".".join(str(int(hexip[i : i + 2], 16)) for i in (6, 4, 2, 0))
            else:
                ip = "::ffff:127.0.0.1" if hexip.endswith("0100007F") else hexip
            inodes[cols[9]] = ip
    found = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                found.add(inodes[link[8:-1]])
    return found


LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1"}
needs_proc = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


CLIENTS_CSV = [
    "round",
    "node_id",
    "device",
    "local_steps",
    "num_examples",
    "batch_size",
    "trained_examples",
    "train_loss",
]
ROUNDS_CSV = [
    "round",
    "sim_time_s",
    "energy_j",
    "train_loss",
    "test_accuracy",
    "participants",
    "wall_s",
]


def _seed_with_one_failure_in_round_1(fail_rate: float) -> int:
    from edgealloc.integrations.flower.client import fails_this_round

    for seed in range(200):
        s = FlowerSettings.create(
            "mel-sync", rounds=2, overrides={"devices": 3}, fail_rate=fail_rate, seed=seed
        )
        pattern = [[fails_this_round(s, k, r) for k in range(3)] for r in (1, 2)]
        if sum(pattern[0]) == 1 and not any(pattern[1]):
            return seed
    raise AssertionError("no seed found")


# ---------------------------------------------------------------------------
# The real engines (the command without Flower: tests/test_flower_missing.py)
# ---------------------------------------------------------------------------


def test_the_command_runs_a_simulation_with_a_failing_node_and_replans(tmp_path: Path) -> None:
    """``edgealloc flower --fail-rate``: 3 nodes, 2 rounds, one node raises in round 1."""
    seed = _seed_with_one_failure_in_round_1(0.3)
    out = tmp_path / "out"
    args = ["mel-sync", "--rounds", "2", "--set", "devices=3", "--set", "T=0.2"]
    args += ["--fail-rate", "0.3", "--seed", str(seed), "--out", str(out)]
    res = CliRunner().invoke(_cli(), args)
    assert res.exit_code == 0, res.output
    assert "round 2/2:" in res.stderr and "round 2" not in res.stdout  # progress: stderr
    assert "(1 failed)" in res.stderr
    rounds = _rows(out / "rounds.csv")
    assert list(rounds[0]) == ROUNDS_CSV
    assert [r["participants"] for r in rounds] == ["0", "2", "2"]
    assert float(rounds[2]["sim_time_s"]) > float(rounds[1]["sim_time_s"]) > 0
    assert float(rounds[2]["energy_j"]) > float(rounds[1]["energy_j"]) > 0
    plans = [json.loads(line) for line in (out / "plans.jsonl").read_text().splitlines()]
    assert [p["round"] for p in plans] == [1, 2]
    assert [len(p["nodes"]) for p in plans] == [3, 2]  # the failed node sits round 2 out
    assert list(plans[0]["failures"].values()) == ["error"] and plans[1]["failures"] == {}
    failed = int(next(iter(plans[0]["failures"])))
    assert failed not in plans[1]["nodes"]
    assert plans[1]["planned_in_round"] == 2 and plans[1]["reason"] == "failures in round 1"
    assert plans[1]["problem"]["total_samples"] < plans[0]["problem"]["total_samples"]
    assert plans[0]["result"]["family"] == "mel" and plans[0]["problem"]["family"] == "mel"
    clients = _rows(out / "clients.csv")
    assert list(clients[0]) == CLIENTS_CSV
    assert [r["round"] for r in clients] == ["1"] * 3 + ["2"] * 2
    from edgealloc.integrations.flower.workspace import workspace

    sizes = workspace(
        FlowerSettings.create(
            "mel-sync", rounds=2, overrides={"devices": 3, "T": 0.2}, fail_rate=0.3, seed=seed
        )
    ).sizes
    for row in clients:
        plan = plans[int(row["round"]) - 1]
        k = int(row["device"])
        assert plan["nodes"][k] == int(row["node_id"])
        tau, d = plan["result"]["tau"][k], plan["result"]["samples"][k]
        # the plan as the node received it (echoed back by the node) ...
        assert (int(row["local_steps"]), int(row["num_examples"])) == (tau, d)
        assert int(row["batch_size"]) == d  # full-batch local steps
        if int(row["node_id"]) == failed and row["round"] == "1":
            assert row["trained_examples"] == row["train_loss"] == ""  # it trained nothing
            continue
        # ... and what it trained: min(d_k, its own examples), with a loss
        assert int(row["trained_examples"]) == min(d, sizes[plan["partition_ids"][k]])
        assert float(row["train_loss"]) > 0
    assert (out / "accuracy.png").stat().st_size > 1000
    assert not list(out.glob(".flower-run-*"))  # the run folder is removed after success
    again = CliRunner().invoke(_cli(), args)  # nothing overwritten without --force
    assert again.exit_code == 2 and "already exists" in again.output


@needs_proc
@pytest.mark.parametrize("device", cpu_and_cuda())  # on CUDA Ray shares the GPU between actors
def test_flower_and_edgealloc_train_give_the_same_model_every_round(
    tmp_path: Path, device: str
) -> None:
    """Item 3: same plan, seed, partition, initial weights and full-batch steps: the same model.

    Also: each node trained exactly its planned values, and Ray listens on loopback only. On
    CUDA both engines train on the GPU (the ServerApp evaluates on the CPU, ``train`` on the
    GPU: the accuracies may then differ by a sample whose two logits tie to float32 rounding).
    """
    import edgealloc
    from edgealloc.integrations.flower import simulate
    from edgealloc.learn import TrainOptions, load_dataset
    from edgealloc.learn.models import model_for
    from edgealloc.learn.scenario import scenario_for_model
    from edgealloc.learn.training import train

    overrides = {"devices": 3, "T": 0.5}  # tau = 7 steps; lr 0.1 (a larger one amplifies
    # float32 rounding, e.g. the engine's padding of a batched chunk, beyond 1e-5 in a round)
    settings = FlowerSettings.create(
        "mel-sync", rounds=2, overrides=overrides, lr=0.1, device=device
    )
    heard: list[set[str]] = []

    def during_the_run(line: str) -> None:  # called by the ServerApp while Ray is up
        heard.append(_listening(set(descendants())))

    run = simulate(settings, tmp_path / "run", keep_arrays=True, log=during_the_run)
    assert heard and all(ips and ips <= LOOPBACK for ips in heard[1:]), heard
    assert run.history.done
    # every node trained with exactly the values it was planned
    plans = {p["round"]: p for p in run.history.plans}
    assert len(run.history.clients) == 6
    for row in run.history.clients:
        plan, k = plans[row["round"]], row["device"]
        assert row["status"] == "ok"
        assert row["local_steps"] == row["trained_steps"] == plan["result"]["tau"][k]
        assert row["num_examples"] == plan["result"]["samples"][k]

    data = load_dataset("digits", seed=0)
    spec = model_for(data, "mlp")
    problem = scenario_for_model(
        "mel-sync", spec, overrides, total_samples=data.n_train, mode="federated"
    )
    result = edgealloc.solve(problem, "optimal")
    assert plans[1]["result"]["tau"] == list(result.tau)
    assert plans[1]["result"]["samples"] == list(result.samples)
    for cycles in (1, 2):
        options = TrainOptions(cycles=cycles, lr=0.1, seed=0, mode="federated", device=device)
        record = train(problem, result, data, spec=spec, options=options)
        flower_model = run.strategy.models[cycles]
        scale = max(float(np.abs(v).max()) for v in flower_model.values())
        assert set(flower_model) == set(record.params)
        for name, value in record.params.items():
            np.testing.assert_allclose(
                flower_model[name], value.cpu().numpy(), rtol=0, atol=1e-5 * scale
            )
        row = run.history.rounds[cycles]
        tie = 1e-12 if device == "cpu" else 1.5 / data.n_test
        assert row["test_accuracy"] == pytest.approx(record.final["test_accuracy"], abs=tie)
        assert row["train_loss"] == pytest.approx(record.final["train_loss"], rel=1e-5)
        assert row["sim_time_s"] == pytest.approx(record.final["sim_time_s"], rel=1e-12)
        assert row["energy_j"] == pytest.approx(record.final["energy_j"], rel=1e-12)


def test_feel_federation_and_edgealloc_train_give_the_same_model_every_round(
    tmp_path: Path,
) -> None:
    """Item 3 for ``feel``: the B_k-weighted gradient rounds of a real Flower simulation and of
    ``edgealloc train`` (``train_feel``) from the same plan, seed and partition: same model,
    same simulated clock and energy after every round, with the same sqrt(B) learning rate."""
    import edgealloc
    from edgealloc.feel import FeelProblem
    from edgealloc.integrations.flower import simulate
    from edgealloc.learn import TrainOptions, load_dataset
    from edgealloc.learn.feel_training import train_feel
    from edgealloc.learn.models import model_for

    settings = FlowerSettings.create("feel-cpu", rounds=2, overrides={"devices": 3}, lr=0.1)
    run = simulate(settings, tmp_path / "run", keep_arrays=True)
    assert run.history.done
    plans = {p["round"]: p for p in run.history.plans}
    problem = FeelProblem.from_dict(plans[1]["problem"])
    result = edgealloc.solve(problem, "optimal")
    assert plans[1]["result"]["batch"] == list(result.batch)
    for row in run.history.clients:
        assert row["status"] == "ok" and row["batch_size"] == result.batch[row["device"]]
    data = load_dataset("digits", seed=0)
    spec = model_for(data, "mlp")
    for rounds in (1, 2):
        options = TrainOptions(cycles=rounds, lr=0.1, seed=0, mode="federated")
        record = train_feel(problem, result, data, spec=spec, options=options)
        flower_model = run.strategy.models[rounds]
        scale = max(float(np.abs(v).max()) for v in flower_model.values())
        assert set(flower_model) == set(record.params)
        for name, value in record.params.items():
            np.testing.assert_allclose(flower_model[name], value.numpy(), rtol=0, atol=1e-5 * scale)
        row = run.history.rounds[rounds]
        assert row["test_accuracy"] == pytest.approx(record.final["test_accuracy"], abs=1e-12)
        assert row["sim_time_s"] == pytest.approx(record.final["sim_time_s"], rel=1e-12)
        assert row["energy_j"] == pytest.approx(record.final["energy_j"], rel=1e-9)
    first = next(iter(run.strategy.models[1]))
    assert not np.allclose(run.strategy.models[1][first], run.strategy.models[2][first])


def test_a_gpu_this_machine_lacks_is_refused_before_any_process_starts(tmp_path: Path) -> None:
    """``--device cuda`` without one: one line naming the flag, exit 2, nothing started."""
    if cuda_available():
        pytest.skip("this machine has a CUDA GPU")
    from edgealloc.errors import ValidationError
    from edgealloc.integrations.flower import simulate

    out = tmp_path / "out"
    args = ["mel-sync", "--rounds", "1", "--set", "devices=2", "--device", "cuda"]
    res = CliRunner().invoke(_cli(), [*args, "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "--device" in res.output and "not available" in res.output
    assert "Traceback" not in res.output and not out.exists()
    settings = FlowerSettings.create("mel-sync", rounds=1, overrides={"devices": 2}, device="cuda")
    with pytest.raises(ValidationError) as info:
        simulate(settings, tmp_path / "run")
    assert info.value.field == "device"


@needs_proc
def test_deployment_runs_real_superlink_and_supernodes_on_loopback_and_outlives_a_node(
    tmp_path: Path,
) -> None:
    """Real processes on loopback; each node trains its plan; a SuperNode that stops is data."""
    import signal

    from edgealloc.integrations.flower._procs import alive
    from edgealloc.integrations.flower.deployment import deploy

    settings = FlowerSettings.create("mel-sync", rounds=3, overrides={"devices": 3, "T": 0.2})
    heard: list[tuple[set[int], set[str]]] = []
    lines: list[str] = []
    stopped_node: list[int] = []

    def during_the_run(line: str) -> None:
        pids = set(descendants())
        heard.append((pids, _listening(pids)))
        lines.append(line)
        if line.startswith("round 1/") and not stopped_node:  # stop partition 1's SuperNode
            node = next(
                p for p in pids if "flower-supernode" in _cmdline(p) and "id=1 " in _cmdline(p)
            )
            os.kill(node, signal.SIGTERM)
            stopped_node.append(node)

    run = deploy(settings, tmp_path / "run", log=during_the_run, timeout_s=400)
    assert run.history.done
    assert len(run.started) == 5  # SuperLink, 3 SuperNodes, flwr run
    pids, ips = heard[1]  # the line of round 1, before the SuperNode was stopped
    assert set(run.started) - {run.started[-1]} <= pids  # they were all up during the run
    assert ips and ips <= LOOPBACK, ips
    assert set(run.started) - set(stopped_node) <= set(run.stopped)  # that one was ours
    assert not any(alive(p) for p in [*run.stopped, *stopped_node])
    logs = {p.name for p in (tmp_path / "run").glob("*.log")}
    assert {"superlink.log", "supernode-0.log", "supernode-2.log", "flwr-run.log"} <= logs
    # Round 1: every SuperNode's ClientApp trained exactly its plan.
    plans = run.history.plans
    first = [row for row in run.history.clients if row["round"] == 1]
    assert len(first) == 3 and all(row["status"] == "ok" for row in first)
    for row in first:
        assert row["trained_steps"] == plans[0]["result"]["tau"][row["device"]]
    # The stopped SuperNode is reported once, fails round 2, and round 3 re-plans without it.
    assert [k for k, _ in run.node_exits] == [1]
    assert sum("SuperNode of partition 1 exited" in line for line in lines) == 1
    assert [r["participants"] for r in run.history.rounds] == [0, 3, 2, 2]
    # the SuperLink's own NODE_UNAVAILABLE reply, put on the node it is about
    assert list(run.history.rounds[2]["failures"].values()) == ["unavailable"]
    last = plans[-1]
    assert (last["round"], last["planned_in_round"]) == (3, 3)
    assert last["reason"] == "failures in round 2" and last["partition_ids"] == [0, 2]
    third = [row for row in run.history.clients if row["round"] == 3]
    assert len(third) == 2 and all(row["status"] == "ok" for row in third)
    assert {row["partition_id"] for row in third} == {0, 2}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@needs_proc
@pytest.mark.parametrize(
    ("engine", "ready", "action"),
    [
        ("simulation", "round 0/", "ctrl-c"),  # Ray is up, the ServerApp runs
        ("deployment", "flwr-serverapp", "ctrl-c"),  # the ServerApp runs
        ("deployment", "flwr-serverapp", "kill the superlink"),  # a failure that ends it
    ],
)
def test_every_process_the_command_started_is_stopped_on_ctrl_c_and_failure(
    tmp_path: Path, engine: str, ready: str, action: str
) -> None:
    import signal
    import subprocess
    import time

    from edgealloc.integrations.flower._procs import alive

    script = tmp_path / "cli.py"
    script.write_text(
        "import sys, typer\n"
        "from edgealloc.cli.flower import flower_command\n"
        "app = typer.Typer()\n"
        "app.command()(flower_command)\n"
        "app(sys.argv[1:])\n"
    )
    args = ["mel-sync", "--rounds", "100", "--set", "devices=2", "--set", "T=0.2"]
    args += ["--engine", engine, "--out", str(tmp_path / "out")]
    err = tmp_path / "stderr.txt"
    with err.open("w") as fh:
        proc = subprocess.Popen([sys.executable, str(script), *args], stderr=fh)
    try:
        seen: dict[int, str] = {}
        end = time.monotonic() + 120
        while not any(ready in text for text in [*seen.values(), err.read_text()]):
            assert proc.poll() is None, err.read_text()
            assert time.monotonic() < end, (seen, err.read_text())
            seen.update({p: _cmdline(p) for p in descendants(proc.pid) if p not in seen})
            time.sleep(0.2)
        seen.update({p: _cmdline(p) for p in descendants(proc.pid) if p not in seen})
        if action == "ctrl-c":
            os.kill(proc.pid, signal.SIGINT)
        else:
            link = min(p for p, cmd in seen.items() if "flower-superlink" in cmd)
            os.kill(link, signal.SIGKILL)
        end = time.monotonic() + 90
        while proc.poll() is None and time.monotonic() < end:  # what starts meanwhile counts
            seen.update({p: _cmdline(p) for p in descendants(proc.pid) if p not in seen})
            time.sleep(0.1)
        last = err.read_text().strip().splitlines()[-1]
        if action == "ctrl-c":
            assert (proc.returncode, last) == (130, "interrupted")
        else:
            assert proc.returncode == 1, last
            assert last.startswith("error: the SuperLink exited (-9) during the run"), last
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    kinds = " ".join(seen.values())
    if engine == "simulation":
        assert "edgealloc.integrations.flower._worker" in kinds and "gcs_server" in kinds
    else:
        assert all(k in kinds for k in ("flower-superlink", "flower-supernode", "flwr"))
        assert "flower-superexec" in kinds
    assert len(seen) >= 3, seen
    assert not [p for p in seen if alive(p)], {p: c for p, c in seen.items() if alive(p)}
    assert not (tmp_path / "out" / "rounds.csv").exists()


def test_a_supernode_that_exits_is_reported_once_with_its_log(tmp_path: Path) -> None:
    import subprocess

    from edgealloc.integrations.flower.deployment import _note_exits

    (tmp_path / "supernode-0.log").write_text("starting\nlost the SuperLink\n")
    gone = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    alive_one = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        gone.wait(30)
        exited: dict[int, int] = {}
        lines: list[str] = []
        _note_exits([gone, alive_one], exited, tmp_path, lines.append)
        _note_exits([gone, alive_one], exited, tmp_path, lines.append)
        assert exited == {0: 3}
        assert len(lines) == 1, lines
        assert lines[0].startswith("warning: the SuperNode of partition 0 exited (3): starting")
        assert "lost the SuperLink" in lines[0] and "nodes that remain" in lines[0]
    finally:
        alive_one.kill()
        alive_one.wait()
