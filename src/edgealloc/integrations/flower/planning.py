"""From profiles to per-node configs: :class:`Planner` and the :class:`Plan` of a round.

The planner compiles the family's problem from the scenario plus the
profiles of the nodes planned this round (:mod:`.families`), solves it with
the chosen scheme (:func:`edgealloc.solve`) and turns the allocation into one
train config per node (:data:`~.keys.CONFIG_FIELDS`). Devices are ordered by
partition id (then node id), so that the problem's device ``k`` is the same
node in every engine. No Flower, no PyTorch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ...api import solve
from ...errors import ValidationError
from ...result import Result, to_jsonable
from .families import FlowerFamily, flower_family
from .profiles import DeviceProfile
from .settings import FlowerSettings

__all__ = ["Plan", "Planner"]


@dataclasses.dataclass(frozen=True)
class Plan:
    """One round's plan.

    Attributes
    ----------
    round
        The round it was made for (it stays in force until the next re-plan).
    nodes
        Node id of each device of the problem, in device order.
    profiles
        Their profiles, in the same order.
    problem, result
        The canonical problem solved and the solver's result.
    configs
        Node id -> its train config; nodes that sit out the round are absent.
    deadline_s
        The round's deadline (simulated seconds).
    reason
        Why the round was (re-)planned: ``"first round"``, ``"nodes changed"``,
        ``"failures in round N"``.
    """

    round: int
    nodes: tuple[int, ...]
    profiles: tuple[DeviceProfile, ...]
    problem: Any
    result: Result
    configs: Mapping[int, Mapping[str, Any]]
    deadline_s: float
    reason: str

    def device_of(self, node_id: int) -> int:
        """The node's index in the problem."""
        return self.nodes.index(node_id)

    def to_record(self, round_: int | None = None) -> dict[str, Any]:
        """The ``plans.jsonl`` line of a round (the plan in force in ``round_``)."""
        return to_jsonable(
            {
                "round": self.round if round_ is None else round_,
                "problem": self.problem.to_dict(),
                "result": self.result.to_dict(),
                "nodes": list(self.nodes),
                "partition_ids": [p.partition_id for p in self.profiles],
                "planned_in_round": self.round,
                "reason": self.reason,
            }
        )


class Planner:
    """Compile, solve and configure for the family of ``settings``.

    Parameters
    ----------
    settings
        The run's settings (scenario, overrides, scheme, lr, ...).
    workspace
        The run's :class:`~.workspace.Workspace` (its model sets the workload).
    """

    def __init__(self, settings: FlowerSettings, workspace: Any) -> None:
        self.settings = settings
        self.workspace = workspace
        self.family: FlowerFamily = flower_family(settings.family)

    def plan(self, round_: int, profiles: Mapping[int, DeviceProfile], reason: str) -> Plan:
        """The plan for the nodes of ``profiles`` (node id -> profile).

        Raises
        ------
        ValidationError
            No nodes, two nodes claiming one partition, or a malformed profile.
        InfeasibleError
            When no allocation fits these nodes (what would help is in the message).
        """
        if not profiles:
            raise ValidationError("nodes", "no node answered the profile query")
        order = sorted(profiles, key=lambda nid: (profiles[nid].partition_id, nid))
        seen: dict[int, int] = {}
        for nid in order:
            pid = profiles[nid].partition_id
            if pid in seen:
                raise ValidationError(
                    "partition-id", f"nodes {seen[pid]} and {nid} both hold partition {pid}"
                )
            if pid >= self.settings.n_nodes:
                raise ValidationError(
                    "partition-id",
                    f"node {nid} holds partition {pid}, but the federation has "
                    f"{self.settings.n_nodes} partitions (0..{self.settings.n_nodes - 1})",
                )
            seen[pid] = nid
        ordered = [profiles[nid] for nid in order]
        problem = self.family.compile(self.settings, self.workspace, ordered)
        result = solve(problem, self.settings.scheme)
        per_device, deadline = self.family.node_configs(problem, result, self.settings)
        configs: dict[int, dict[str, Any]] = {}
        for k, (nid, cfg) in enumerate(zip(order, per_device, strict=True)):
            if cfg is None:
                continue
            configs[nid] = {
                "family": self.family.name,
                "mode": self.family.mode,
                "device": k,
                "lr": float(self.settings.lr),
                "deadline-s": float(deadline),
                **cfg,
            }
        return Plan(
            round=round_,
            nodes=tuple(order),
            profiles=tuple(ordered),
            problem=problem,
            result=result,
            configs=configs,
            deadline_s=float(deadline),
            reason=reason,
        )
