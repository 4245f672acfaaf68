r"""The edgealloc Flower strategy (Message API): plan every round from the nodes' own profiles.

:class:`EdgeallocStrategy` is a :class:`flwr.serverapp.strategy.Strategy`
whose hooks do, per round :math:`r`:

``configure_train``
    Before round 1, and whenever the set of available nodes changed or a node
    failed the previous round: query every available node for its profile
    (``MessageType.QUERY``; a node that errors or does not answer within
    ``query_timeout_s`` is left out), compile the family's problem from the
    scenario plus these profiles and solve it (:class:`~.planning.Planner`).
    Then one ``TRAIN`` message per planned node: the global model and the
    node's own config (``local-steps``, ``num-examples``, ``batch-size``,
    ``deadline-s``, ...).
``aggregate_train``
    Failures are data: a node whose reply is an error (``unavailable`` when the
    SuperLink answered for it that it is offline), that did not reply
    within ``round_timeout_s``, or whose reported work takes longer than the
    deadline on the simulated clock, is left out of the aggregate, is not
    planned for the next ``quarantine_rounds`` rounds, and the next round
    re-plans over the nodes that remain. The others are aggregated with the
    family's own weights (:mod:`.aggregate`: :math:`d_k`-weighted models for
    ``mel``, :math:`B_k`-weighted gradients for ``feel``). The round's
    simulated time and every device's energy come from the system model
    (:class:`~.families.DeviceLedger`; for ``mel``, the plan's budget of a
    node that did its plan, as ``edgealloc train`` keeps them): the round
    lasts the slowest node that met the deadline, or the whole deadline when
    a node missed it or never answered.
``configure_evaluate`` / ``aggregate_evaluate``
    Nothing: the global model is evaluated centrally (``evaluate_fn`` of
    :meth:`start`, see :mod:`.server`), so a node spends nothing that the
    plan did not budget.

Every plan, every node's report and every round's clock, ledger and
metrics go to a :class:`~.history.Recorder`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from logging import INFO
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict
from flwr.common.constant import ErrorCode
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy

from ...errors import InfeasibleError, ValidationError
from .client import to_numpy, to_record
from .history import Recorder
from .keys import ARRAYS_RECORD, CONFIG_RECORD, METRICS_RECORD, PROFILE_RECORD
from .planning import Plan, Planner
from .profiles import DeviceProfile
from .settings import FlowerSettings

__all__ = ["EdgeallocStrategy"]


def _sender(msg: Message, sent_ids: Mapping[str, int]) -> int:
    """The node a reply is about: the destination of the message it replies to.

    Its source is not enough: an error the SuperLink returns itself (Flower's
    ``NODE_UNAVAILABLE``, for a node that went offline) comes from the SuperLink.
    """
    return sent_ids.get(msg.metadata.reply_to_message_id, int(msg.metadata.src_node_id))


def _failure(msg: Message) -> str:
    """``unavailable`` (the SuperLink says the node is gone) or ``error`` (anything else)."""
    if msg.has_error() and int(msg.error.code) == int(ErrorCode.NODE_UNAVAILABLE):
        return "unavailable"
    return "error"


def _message_ids(messages: Iterable[Message]) -> dict[str, int]:
    """``message id -> destination`` of messages already sent (Flower sets the id on send)."""
    return {
        m.metadata.message_id: int(m.metadata.dst_node_id)
        for m in messages
        if m.metadata.message_id
    }


class EdgeallocStrategy(Strategy):
    """Plan every round with edgealloc (see the module docstring).

    Parameters
    ----------
    planner
        Compiles and solves the family's problem for the available nodes.
    settings
        The run's settings (timeouts, quarantine, kappa, rounds).
    recorder
        Where plans, reports and rounds are recorded (default: in memory).
    keep_arrays
        Keep the global model after every round in :attr:`models` (tests).
    log
        Called with one line per round (e.g. a progress printer).
    """

    def __init__(
        self,
        planner: Planner,
        *,
        settings: FlowerSettings,
        recorder: Recorder | None = None,
        keep_arrays: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.planner = planner
        self.settings = settings
        self.recorder = recorder if recorder is not None else Recorder()
        self.keep_arrays = keep_arrays
        self.log = log
        self.plan: Plan | None = None
        self.models: dict[int, dict[str, np.ndarray]] = {}
        self._replan: str | None = "first round"
        self._quarantine: dict[int, int] = {}
        self._global: dict[str, np.ndarray] | None = None
        self._round: dict[str, Any] = {}
        self._sim_time = 0.0
        self._energy = 0.0
        self._t0: float | None = None
        self._waited = False

    # ---------------------------------------------------------------- nodes
    def _available(self, grid: Grid) -> list[int]:
        """Connected node ids; before round 1, wait (``node_wait_s``) until all have joined."""
        want = self.settings.n_nodes
        ids = sorted(grid.get_node_ids())
        if not self._waited:
            end = time.monotonic() + self.settings.node_wait_s
            while len(ids) < want and time.monotonic() < end:
                time.sleep(0.1)
                ids = sorted(grid.get_node_ids())
            self._waited = True
            if not ids:
                raise ValidationError(
                    "nodes", f"no node connected within {self.settings.node_wait_s:g} s"
                )
        return ids

    def query_profiles(
        self, grid: Grid, node_ids: Iterable[int], round_: int
    ) -> dict[int, DeviceProfile]:
        """Ask ``node_ids`` for their profiles; those that fail or stay silent are left out."""
        ids = list(node_ids)
        messages = [
            Message(RecordDict(), dst_node_id=nid, message_type=MessageType.QUERY) for nid in ids
        ]
        replies = list(grid.send_and_receive(messages, timeout=self.settings.query_timeout_s))
        sent_ids = _message_ids(messages)
        profiles: dict[int, DeviceProfile] = {}
        why: dict[int, str] = dict.fromkeys(ids, "no reply")
        for msg in replies:
            nid = _sender(msg, sent_ids)
            if nid not in why:
                continue
            if msg.has_error() or not msg.has_content():
                why[nid] = _failure(msg)
                continue
            try:
                record = msg.content[PROFILE_RECORD]
                profiles[nid] = DeviceProfile.from_record(dict(record), where=f"node {nid}")
            except (KeyError, ValidationError) as exc:
                why[nid] = str(exc)
        for nid in ids:
            if nid not in profiles:
                self.recorder.add("query_failure", round=round_, node_id=nid, why=why[nid])
        return profiles

    # ---------------------------------------------------------------- train
    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Re-plan when needed, then one message per planned node with its own config."""
        if self._t0 is None:
            self._t0 = time.monotonic()
        self._global = to_numpy(arrays)
        self._round = {"round": server_round, "sent": {}, "empty": None}
        ids = [n for n in self._available(grid) if self._quarantine.get(n, 0) < server_round]
        reason = self._replan
        if reason is None and (self.plan is None or set(ids) != set(self.plan.nodes)):
            reason = "nodes changed"
        if reason is not None:
            if not ids:
                self._round["empty"] = "no node available"
                self._replan = f"no node available in round {server_round}"
                return []
            profiles = self.query_profiles(grid, ids, server_round)
            try:
                self.plan = self.planner.plan(server_round, profiles, reason)
            except InfeasibleError as exc:
                if self.plan is None and server_round == 1:
                    raise
                self._round["empty"] = f"infeasible for the nodes that remain: {exc}"
                self._replan = f"infeasible in round {server_round}"
                self.plan = None
                return []
            except ValidationError as exc:
                if exc.field == "nodes" and server_round > 1:
                    self._round["empty"] = str(exc)
                    self._replan = f"no profiles in round {server_round}"
                    self.plan = None
                    return []
                raise
            self._replan = None
        plan = self.plan
        assert plan is not None
        self.recorder.add("plan", **plan.to_record(server_round))
        messages = []
        for nid, cfg in plan.configs.items():
            full = {**cfg, "server-round": server_round}
            self._round["sent"][nid] = full
            content = RecordDict({ARRAYS_RECORD: arrays, CONFIG_RECORD: ConfigRecord(full)})
            messages.append(
                Message(
                    content,
                    dst_node_id=nid,
                    message_type=MessageType.TRAIN,
                    group_id=str(server_round),
                )
            )
        self._round["messages"] = messages  # their ids, set when Flower sends them
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Aggregate the nodes that did their plan in time; failures are recorded, not raised."""
        sent: Mapping[int, Mapping[str, Any]] = self._round.get("sent", {})
        plan = self.plan
        if plan is None or not sent:
            return self._finish_empty(server_round)
        by_node: dict[int, Message] = {}
        sent_ids = _message_ids(self._round.get("messages", []))
        for msg in replies:
            nid = _sender(msg, sent_ids)
            if nid in sent:
                by_node[nid] = msg
        k = plan.problem.n_devices
        steps = np.zeros(k)
        examples = np.zeros(k)
        status = dict.fromkeys(sent, "missing")
        reports: dict[int, Mapping[str, Any]] = {}
        local: dict[int, dict[str, np.ndarray]] = {}
        for nid, msg in by_node.items():
            if msg.has_error() or not msg.has_content():
                status[nid] = _failure(msg)
                continue
            try:
                report = dict(msg.content[METRICS_RECORD])
                arrays = to_numpy(msg.content[ARRAYS_RECORD])
            except KeyError:
                status[nid] = "error"
                continue
            dev = plan.device_of(nid)
            steps[dev] = float(report.get("local-steps", 0))
            examples[dev] = float(report.get("num-examples", 0))
            reports[nid], local[nid] = report, arrays
            status[nid] = "ok"
        family = self.planner.family
        ledger = family.ledger(plan.problem, plan.result, steps, examples, self.settings)
        for nid in reports:
            if not ledger.on_time[plan.device_of(nid)]:
                status[nid] = "late"
        good = [nid for nid in sent if status[nid] == "ok"]
        weights = np.array([examples[plan.device_of(nid)] for nid in good], dtype=float)
        assert self._global is not None
        new = family.aggregate(
            self._global, [local[nid] for nid in good], weights, float(self.settings.lr)
        )
        failed = {nid: s for nid, s in status.items() if s != "ok"}
        reported = [plan.device_of(nid) for nid in reports]
        on_time = [plan.device_of(nid) for nid in good]
        waited = any(s in ("missing", "late") for s in failed.values())
        slowest = max((float(ledger.times_s[d]) for d in on_time), default=0.0)
        round_time = ledger.deadline_s if waited else min(ledger.deadline_s, slowest)
        round_energy = float(sum(ledger.energies_j[d] for d in reported))
        for nid, cfg in sent.items():
            dev = plan.device_of(nid)
            report = reports.get(nid, {})
            self.recorder.add(
                "client",
                round=server_round,
                node_id=nid,
                device=dev,
                local_steps=report.get("received-local-steps", cfg.get("local-steps")),
                num_examples=report.get("received-num-examples", cfg.get("num-examples")),
                batch_size=report.get("received-batch-size", cfg.get("batch-size")),
                trained_examples=report.get("num-examples"),
                train_loss=report.get("train-loss"),
                status=status[nid],
                trained_steps=report.get("local-steps"),
                sim_time_s=float(ledger.times_s[dev]) if nid in reports else None,
                energy_j=float(ledger.energies_j[dev]) if nid in reports else None,
                train_seconds=report.get("train-seconds"),
                partition_id=plan.profiles[dev].partition_id,
            )
        if failed:
            for nid in failed:
                self._quarantine[nid] = server_round + self.settings.quarantine_rounds
            self._replan = f"failures in round {server_round}"
        self._sim_time += round_time
        self._energy += round_energy
        self._round.update(
            participants=len(good),
            planned=len(sent),
            round_time_s=round_time,
            round_energy_j=round_energy,
            failures={str(n): s for n, s in failed.items()},
        )
        metrics = MetricRecord(
            {
                "sim-time-s": self._sim_time,
                "round-time-s": round_time,
                "energy-j": self._energy,
                "participants": len(good),
                "failures": len(failed),
            }
        )
        return to_record(new), metrics

    def _finish_empty(self, server_round: int) -> tuple[ArrayRecord | None, MetricRecord | None]:
        why = self._round.get("empty") or "no node planned"
        self._round.update(
            participants=0,
            planned=0,
            round_time_s=0.0,
            round_energy_j=0.0,
            failures={},
            note=why,
        )
        return None, MetricRecord({"sim-time-s": self._sim_time, "participants": 0})

    # ------------------------------------------------------------- evaluate
    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """No federated evaluation: the server evaluates the global model itself."""
        return []

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """Nothing to aggregate (see :meth:`configure_evaluate`)."""
        return None

    def record_evaluation(
        self, server_round: int, arrays: Mapping[str, np.ndarray], metrics: Mapping[str, float]
    ) -> None:
        """Close round ``server_round`` with the global model's metrics (the ``rounds.csv`` row)."""
        if self._t0 is None:
            self._t0 = time.monotonic()
        wall = time.monotonic() - self._t0 if server_round > 0 else 0.0
        info = self._round if server_round > 0 else {}
        row = {
            "round": server_round,
            "sim_time_s": self._sim_time,
            "energy_j": self._energy,
            "train_loss": metrics.get("train_loss"),
            "test_loss": metrics.get("test_loss"),
            "test_accuracy": metrics.get("test_accuracy"),
            "participants": info.get("participants", 0),
            "wall_s": wall,
            "planned": info.get("planned", 0),
            "round_time_s": info.get("round_time_s", 0.0),
            "round_energy_j": info.get("round_energy_j", 0.0),
            "failures": info.get("failures", {}),
        }
        if info.get("note"):
            row["note"] = info["note"]
        self.recorder.add("round", **row)
        if self.keep_arrays:
            self.models[server_round] = {k: np.array(v, copy=True) for k, v in arrays.items()}
        if self.log is not None:
            acc = metrics.get("test_accuracy")
            what = (
                f"test acc {acc:.4f}"
                if acc is not None and np.isfinite(acc)
                else (f"test loss {metrics.get('test_loss', float('nan')):.4g}")
            )
            fails = len(row["failures"])
            self.log(
                f"round {server_round}/{self.settings.rounds}: {row['participants']}/"
                f"{row['planned']} nodes{f' ({fails} failed)' if fails else ''}, "
                f"sim {row['sim_time_s']:.4g} s, {row['energy_j']:.4g} J, {what}, "
                f"wall {wall:.1f} s"
            )

    def summary(self) -> None:
        """Log the configuration (Flower calls this when the strategy starts)."""
        from flwr.supercore import log

        s = self.settings
        log(
            INFO,
            "\t├── edgealloc plans every round: family %s, scheme %s, %d nodes, fail rate %g",
            s.family,
            s.scheme,
            s.n_nodes,
            s.fail_rate,
        )
