"""The strategy and the ClientApp through Flower's real Message objects, on an in-process grid.

:class:`FakeGrid` delivers each message to edgealloc's real ``ClientApp``
(``client_app(message, context)``, as a SuperNode does) and returns the
replies; a node's behaviour in a round can be switched to an error, silence
(no reply within the timeout) or overwork (more steps than planned: late on
the simulated clock). No Ray, no processes: this checks the failure paths
exactly and fast. ``tests/test_flower_engines.py`` runs the real engines.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import numpy as np
import pytest

pytest.importorskip("flwr")
pytest.importorskip("torch")

from flwr.app import Context, Error, Message, MetricRecord, RecordDict
from flwr.common.constant import SUPERLINK_NODE_ID, ErrorCode
from flwr.supercore.task_identity import TaskIdentity

from edgealloc.errors import InfeasibleError
from edgealloc.integrations.flower import FlowerSettings
from edgealloc.integrations.flower.client import make_client_app
from edgealloc.integrations.flower.history import Recorder
from edgealloc.integrations.flower.keys import METRICS_RECORD
from edgealloc.integrations.flower.server import run_strategy
from edgealloc.integrations.flower.workspace import workspace

pytestmark = pytest.mark.usefixtures("one_torch_thread", "task_identity")


@pytest.fixture
def task_identity():
    """Messages need a task identity, which a Flower runtime sets; restore it afterwards."""
    before = (TaskIdentity._run_id, TaskIdentity._task_id, TaskIdentity._node_id)
    TaskIdentity.run_id, TaskIdentity.task_id, TaskIdentity.node_id = 1, 1, 0
    yield
    TaskIdentity._run_id, TaskIdentity._task_id, TaskIdentity._node_id = before


class FakeGrid:
    """Nodes ``id -> partition``; ``behaviour[(round, partition)]``: ok, error, silent, late or
    unavailable (the SuperLink's own error for a node gone offline)."""

    def __init__(self, settings: FlowerSettings, node_ids: list[int]) -> None:
        self.app = make_client_app(settings)
        self.nodes = {nid: k for k, nid in enumerate(node_ids)}
        self.n = len(node_ids)
        self.behaviour: dict[tuple[int, int], str] = {}
        self.gone: dict[int, int] = {}  # node id -> first round it is gone
        self.received: list[tuple[int, int, dict]] = []
        self.round = 0
        self.queries: list[tuple[int, list[int]]] = []

    def get_node_ids(self) -> list[int]:
        return [n for n in self.nodes if self.gone.get(n, 10**9) > self.round + 1]

    def send_and_receive(self, messages: Iterable[Message], *, timeout=None) -> list[Message]:
        replies = []
        messages = list(messages)
        kind = messages[0].metadata.message_type if messages else "evaluate"
        if kind == "query":
            self.queries.append((self.round + 1, sorted(m.metadata.dst_node_id for m in messages)))
        for msg in messages:
            msg.metadata.__dict__["_message_id"] = uuid.uuid4().hex  # as Flower's grids do
            nid = msg.metadata.dst_node_id
            pid = self.nodes[nid]
            ctx = Context(
                run_id=1,
                node_id=nid,
                node_config={"partition-id": pid, "num-partitions": self.n},
                state=RecordDict(),
                run_config={},
            )
            rnd = self.round + 1
            what = self.behaviour.get((rnd, pid) if kind == "train" else (rnd, pid, kind), "ok")
            if kind == "train":
                self.received.append((rnd, pid, dict(msg.content["config"])))
            if what == "silent":
                continue
            if what == "unavailable":  # the SuperLink answers for a node gone offline
                reply = Message(Error(code=ErrorCode.NODE_UNAVAILABLE, reason="gone"), reply_to=msg)
                reply.metadata.__dict__["_src_node_id"] = SUPERLINK_NODE_ID
                replies.append(reply)
                continue
            try:
                if what == "error":
                    raise RuntimeError("the node crashed")
                reply = self.app(msg, ctx)
            except Exception as exc:  # what a SuperNode turns an exception into
                reply = Message(Error(code=2, reason=str(exc)), reply_to=msg)
            if what == "late":
                metrics = dict(reply.content[METRICS_RECORD])
                metrics["local-steps"] = 50 * int(metrics["local-steps"])
                reply.content[METRICS_RECORD] = MetricRecord(metrics)
            replies.append(reply)
        if kind == "train":
            self.round += 1
        return replies


def _run(settings: FlowerSettings, grid: FakeGrid):
    recorder = Recorder()
    strategy = run_strategy(grid, settings, recorder, keep_arrays=True)
    return strategy, recorder.history


@pytest.fixture(scope="module")
def settings() -> FlowerSettings:
    return FlowerSettings.create(
        "mel-sync",
        rounds=4,
        overrides={"devices": 3, "T": 0.2},
        node_wait_s=1.0,
        query_timeout_s=1.0,
        round_timeout_s=1.0,
    )


def test_each_node_receives_and_trains_exactly_its_plan(settings: FlowerSettings) -> None:
    grid = FakeGrid(settings, [501, 77, 9000])
    _, history = _run(settings.replace(rounds=2), grid)
    plan = history.plans[0]
    pids = plan["partition_ids"]
    for rnd, pid, cfg in grid.received:
        k = pids.index(pid)
        assert cfg["local-steps"] == plan["result"]["tau"][k]
        assert cfg["num-examples"] == plan["result"]["samples"][k]
        assert cfg["server-round"] == rnd and cfg["device"] == k
    for row in history.clients:
        assert row["status"] == "ok"
        assert row["trained_steps"] == row["local_steps"]
    assert [r["participants"] for r in history.rounds] == [0, 3, 3]
    assert grid.queries == [(1, [77, 501, 9000])]  # queried once: nothing changed


@pytest.mark.parametrize("failure", ["error", "silent", "late", "unavailable"])
def test_a_failing_node_is_left_out_and_the_next_round_replans(
    settings: FlowerSettings, failure: str
) -> None:
    grid = FakeGrid(settings, [11, 22, 33])
    grid.behaviour[(2, 1)] = failure
    strategy, history = _run(settings, grid)
    rounds = history.rounds
    assert [r["participants"] for r in rounds] == [0, 3, 2, 2, 3]
    assert rounds[2]["failures"] == {"22": {"silent": "missing"}.get(failure, failure)}
    # the round that failed waited for the deadline when a node was silent or late
    waited = failure in ("silent", "late")
    assert (rounds[2]["round_time_s"] == pytest.approx(0.2)) is waited
    plans = {p["round"]: p for p in history.plans}
    assert plans[3]["reason"] == "failures in round 2" and plans[3]["planned_in_round"] == 3
    assert plans[3]["partition_ids"] == [0, 2]  # quarantined for one round
    sizes = workspace(settings).sizes
    assert plans[3]["problem"]["total_samples"] == sizes[0] + sizes[2]
    assert plans[4]["reason"] == "nodes changed" and plans[4]["partition_ids"] == [0, 1, 2]
    assert grid.queries == [(1, [11, 22, 33]), (3, [11, 33]), (4, [11, 22, 33])]
    # the aggregate of round 2 is the d-weighted average of the two nodes that did their plan
    assert set(strategy.models) == {0, 1, 2, 3, 4}


def test_the_superlinks_own_error_for_a_gone_node_is_put_on_that_node(
    settings: FlowerSettings,
) -> None:
    """NODE_UNAVAILABLE comes from the SuperLink (node 1), not from the node: it is matched
    to the node by the message it answers, in the profile query as in a round."""
    grid = FakeGrid(settings, [11, 22, 33])
    grid.behaviour[(1, 2, "query")] = "unavailable"
    grid.behaviour[(2, 0)] = "unavailable"
    _, history = _run(settings.replace(rounds=2), grid)
    failures = history.of("query_failure")
    assert [(f["round"], f["node_id"], f["why"]) for f in failures] == [(1, 33, "unavailable")]
    rows = {(r["round"], r["node_id"]): r["status"] for r in history.clients}
    assert rows[(2, 11)] == "unavailable" and rows[(2, 22)] == "ok"
    assert history.rounds[2]["failures"] == {"11": "unavailable"}


def test_aggregate_is_the_d_weighted_average_of_the_replies(settings: FlowerSettings) -> None:
    from edgealloc.integrations.flower.client import train_on_partition

    grid = FakeGrid(settings, [1, 2, 3])
    strategy, _ = _run(settings.replace(rounds=1), grid)
    ws = workspace(settings.replace(rounds=1))
    start = strategy.models[0]
    locals_, weights = [], []
    for _, pid, cfg in grid.received:
        arrays, report = train_on_partition(ws, pid, cfg, start)
        locals_.append(arrays)
        weights.append(report["num-examples"])
    w = np.array(weights, float) / sum(weights)
    for name, value in strategy.models[1].items():
        expect = sum(wk * lk[name].astype(np.float64) for wk, lk in zip(w, locals_, strict=True))
        np.testing.assert_allclose(value, expect, rtol=1e-6, atol=1e-7)


def test_a_node_that_fails_its_profile_query_is_left_out_then_asked_again(
    settings: FlowerSettings,
) -> None:
    grid = FakeGrid(settings, [5, 6, 7])
    grid.behaviour[(1, 2, "query")] = "error"
    _, history = _run(settings.replace(rounds=2), grid)
    plans = {p["round"]: p for p in history.plans}
    assert plans[1]["partition_ids"] == [0, 1]
    assert plans[2]["reason"] == "nodes changed" and plans[2]["partition_ids"] == [0, 1, 2]
    failures = history.of("query_failure")
    assert [(f["round"], f["node_id"], f["why"]) for f in failures] == [(1, 7, "error")]


def test_a_node_that_leaves_triggers_a_replan_over_those_that_remain(
    settings: FlowerSettings,
) -> None:
    grid = FakeGrid(settings, [5, 6, 7])
    grid.gone[7] = 3  # node 7 disconnects before round 3
    _, history = _run(settings.replace(rounds=3), grid)
    plans = {p["round"]: p for p in history.plans}
    assert plans[3]["reason"] == "nodes changed" and plans[3]["nodes"] == [5, 6]
    assert [r["participants"] for r in history.rounds] == [0, 3, 3, 2]


def test_every_node_failing_leaves_the_model_and_recovers(settings: FlowerSettings) -> None:
    grid = FakeGrid(settings, [1, 2])
    settings2 = settings.replace(overrides={"devices": 2, "T": 0.2}, rounds=3)
    grid.behaviour.update({(1, 0): "error", (1, 1): "error"})
    strategy, history = _run(settings2, grid)
    assert [r["participants"] for r in history.rounds] == [0, 0, 0, 2]
    for name in strategy.models[0]:
        np.testing.assert_array_equal(strategy.models[1][name], strategy.models[0][name])
    assert history.rounds[2]["note"] == "no node available"


def test_an_infeasible_first_plan_is_an_error_event(settings: FlowerSettings) -> None:
    grid = FakeGrid(settings, [1, 2, 3])
    recorder = Recorder()
    with pytest.raises(InfeasibleError):
        run_strategy(grid, settings.replace(overrides={"devices": 3, "T": 1e-4}), recorder)
    assert recorder.history.error["kind"] == "infeasible"
    assert not recorder.history.done


def test_feel_rounds_are_the_engines_gradient_averaging() -> None:
    """A ``feel`` round: each node sends the gradient of its B_k batch; the server takes the
    B_k-weighted step ([FEEL] eqs. (1)-(2)), as ``learn.engine.gradient_averaging_step`` does."""
    import torch

    from edgealloc.learn.engine import gradient_averaging_step
    from edgealloc.learn.feel_training import feel_learning_rate

    s = FlowerSettings.create(
        "feel-cpu", rounds=2, overrides={"devices": 3}, node_wait_s=1.0, lr=0.1
    )
    grid = FakeGrid(s, [40, 41, 42])
    strategy, history = _run(s, grid)
    ws = workspace(s)
    plan = history.plans[0]
    assert all(cfg["mode"] == "gradient" and cfg["local-steps"] == 1 for *_, cfg in grid.received)
    for rnd in (1, 2):
        start = {k: torch.from_numpy(v.copy()) for k, v in strategy.models[rnd - 1].items()}
        xs, ys = [], []
        for k, pid in enumerate(plan["partition_ids"]):
            idx = ws.draw(pid, plan["result"]["batch"][k], rnd)
            xs.append(ws.x_all[idx])
            ys.append(ws.data.y_train[idx])
        eta = feel_learning_rate(0.1, sum(len(x) for x in xs))  # edgealloc train's sqrt rule
        assert eta != 0.1
        expect, _ = gradient_averaging_step(ws.spec, start, xs, ys, lr=eta, batched=False)
        for name, value in strategy.models[rnd].items():
            np.testing.assert_allclose(value, expect[name].numpy(), rtol=0, atol=1e-6)
    rounds = history.rounds
    assert rounds[1]["round_time_s"] == pytest.approx(plan["result"]["latency"])  # eq. (15)
    assert [r["participants"] for r in rounds] == [0, 3, 3]


def test_async_mel_nodes_run_their_own_tau_within_the_staleness_bound() -> None:
    from edgealloc.learn.energy import device_energy

    s = FlowerSettings.create(
        "mel-async", rounds=1, overrides={"devices": 3, "T": 1.0}, node_wait_s=1.0
    )
    grid = FakeGrid(s, [3, 4, 5])
    _, history = _run(s, grid)
    plan = history.plans[0]
    tau = plan["result"]["tau"]
    assert len(set(tau)) > 1 and max(tau) - min(tau) <= plan["problem"]["staleness"] == 2
    for _, pid, cfg in grid.received:
        k = plan["partition_ids"].index(pid)
        assert cfg["local-steps"] == tau[k] and cfg["staleness"] == 2
    for row in history.clients:
        assert row["trained_steps"] == tau[row["device"]]
    # the ledger is the energy model's e = g2 tau d + g1 d + g0 ([MEL-async] eq. (10))
    from edgealloc.mel import MelProblem

    problem = MelProblem.from_dict(plan["problem"])
    spent = device_energy(problem, tau, plan["result"]["samples"]).total_j
    assert history.rounds[1]["energy_j"] == pytest.approx(float(spent.sum()), rel=1e-12)
