"""What a Flower run is: :class:`FlowerSettings`, validated once, JSON both ways.

The same settings drive the ServerApp and every ClientApp: in the simulation
engine they are captured by the app objects, in a deployment they travel as
one JSON string in the run config (:data:`RUN_CONFIG_KEY`), so a SuperNode on
another machine needs nothing but edgealloc and its data. NumPy and the
standard library only (no Flower, no PyTorch).

Examples
--------
>>> s = FlowerSettings.create("mel-sync", rounds=2, overrides={"devices": 3, "T": 1})
>>> s.family, s.n_nodes, s.scheme
('mel', 3, 'optimal')
>>> FlowerSettings.from_json(s.to_json()) == s
True
>>> FlowerSettings.create("mel-sync", rounds=0)
Traceback (most recent call last):
...
edgealloc.errors.ValidationError: rounds: must be >= 1 (got 0)
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import numbers
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ... import registry
from ..._validation import check_choice, check_int
from ...errors import ValidationError

__all__ = ["ENGINES", "RUN_CONFIG_KEY", "FlowerSettings", "resolve_scenario"]

#: The run-config key that carries the settings (a JSON string) in a deployment.
RUN_CONFIG_KEY = "edgealloc-settings"
#: How ``edgealloc flower`` runs the federation.
ENGINES: tuple[str, ...] = ("simulation", "deployment")
_MODELS = ("mlp", "cnn", "linear")
_PARTITIONS = ("iid", "shards", "unbalanced")
#: PyTorch device names a node can train on (availability is checked where it runs).
_DEVICE = re.compile(r"cpu|cuda(:[0-9]+)?|mps")


def resolve_scenario(source: str | Path | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(name, scenario mapping)`` of a preset name, a scenario file or a mapping.

    Raises
    ------
    ValidationError
        No such file or preset, not a mapping, or a canonical problem (a plan
        from device profiles needs the scenario's physics, not coefficients).
    """
    if isinstance(source, Mapping):
        name, data = str(source.get("name") or "scenario"), dict(source)
    else:
        text = str(source)
        presets = registry.presets()
        if text in presets and not Path(text).exists():
            name, data = text, presets[text]()
        else:
            from ...api import load_document

            path = Path(text)
            if not path.exists():
                raise ValidationError(
                    text, f"no such file or preset (presets: {', '.join(presets)})"
                )
            name, data = path.stem, load_document(path)
    if not isinstance(data, Mapping):
        raise ValidationError(str(name), f"must be a mapping (got {type(data).__name__})")
    if "family" in data and "scenario" not in data:
        raise ValidationError(
            str(name),
            "is a canonical problem; a Flower run plans from the nodes' profiles through a "
            "scenario's physics (give a scenario or a preset)",
        )
    if not isinstance(data.get("scenario"), str):
        raise ValidationError(f"{name}: scenario", "missing (the family the scenario compiles to)")
    return name, dict(data)


def _real(field: str, value: Any, *, low: float, high: float | None = None, closed: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(field, f"must be a number (got {value!r})")
    v = float(value)
    ok = math.isfinite(v) and (v >= low if closed else v > low) and (high is None or v < high)
    if not ok:
        span = f"{'>=' if closed else '>'} {low:g}" + (f" and < {high:g}" if high else "")
        raise ValidationError(field, f"must be {span} (got {value!r})")
    return v


@dataclasses.dataclass(frozen=True, kw_only=True)
class FlowerSettings:
    """Everything that defines one Flower run (a frozen value; :meth:`create` validates).

    Attributes
    ----------
    source
        The scenario's name (a preset name or a file's stem), for the reports.
    scenario
        The scenario mapping (``scenario: <family>``), before ``overrides``.
    overrides
        ``--set`` overrides (short keys of the family as in ``edgealloc compile``).
    family
        The family the scenario compiles to (its ``scenario`` field).
    scheme
        The family's scheme that plans every round (default: its exact one).
    rounds
        Federated rounds.
    dataset, n_samples, data_path
        The offline data set (``edgealloc.learn.load_dataset``).
    model
        ``mlp``, ``cnn`` or ``linear`` (``edgealloc.learn.models.model_for``).
    partition
        How the training set is split over the nodes: ``iid``, ``shards``,
        ``unbalanced`` (``edgealloc.learn.partition``).
    lr
        Learning rate of the local steps.
    seed
        Seed of the data split, initial model, partition, per-round draws and
        injected failures.
    fail_rate
        Probability that a node fails a round (an exception in its training).
    kappa
        CPU energy coefficient for scenarios without an energy model.
    quarantine_rounds
        Rounds a node that failed is left out of the plan before it is
        queried again (0: re-queried at the next round).
    round_timeout_s, query_timeout_s
        Wall-clock seconds the server waits for train replies and profile
        replies; a node that misses them is a failure of the round.
    node_wait_s
        Wall-clock seconds to wait for the nodes to connect before round 1.
    threads
        PyTorch threads per node.
    device
        The PyTorch device the nodes train on: ``cpu``, ``cuda``, ``cuda:N``
        or ``mps`` (the ServerApp evaluates on the CPU). Checked here by
        name only; :func:`~.simulation.simulate`, the deployment and
        ``edgealloc flower`` check that this machine has it before any
        process starts, and a node that lacks it fails its rounds.
    save_models
        Save the global model after every round (``models/round-N.npz`` in
        the run folder).
    """

    source: str
    scenario: dict[str, Any]
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    family: str
    scheme: str
    rounds: int
    dataset: str = "digits"
    n_samples: int | None = None
    data_path: str | None = None
    model: str = "mlp"
    partition: str = "iid"
    lr: float = 0.1
    seed: int = 0
    fail_rate: float = 0.0
    kappa: float = 1e-28
    quarantine_rounds: int = 1
    round_timeout_s: float = 600.0
    query_timeout_s: float = 180.0
    node_wait_s: float = 180.0
    threads: int = 1
    device: str = "cpu"
    save_models: bool = False

    # ------------------------------------------------------------- building
    @classmethod
    def create(
        cls,
        scenario: str | Path | Mapping[str, Any],
        *,
        rounds: int,
        overrides: Mapping[str, Any] | None = None,
        scheme: str | None = None,
        **fields: Any,
    ) -> FlowerSettings:
        """Validated settings from a preset name, a scenario file or a mapping.

        Raises
        ------
        ValidationError
            Naming the first bad field (the scenario, an unknown family or
            scheme, a count or rate out of range).
        """
        from .families import flower_family

        source, data = resolve_scenario(scenario)
        family = registry.get_family(data["scenario"])
        flower_family(family.name)  # a family Flower can plan, or one line saying which can
        if scheme is None:
            scheme = family.exact
        family.scheme(scheme)
        if family.trainable and scheme not in family.trainable:
            raise ValidationError(
                "scheme",
                f"{scheme} gives an allocation that cannot be trained "
                f"(use {', '.join(s for s in family.schemes if s in family.trainable)})",
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(fields) - known
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        out = cls(
            source=source,
            scenario=data,
            overrides=dict(overrides or {}),
            family=family.name,
            scheme=scheme,
            rounds=rounds,
            **fields,
        )
        out.check()
        return out

    def check(self) -> FlowerSettings:
        """Validate every field (the first bad one raises); returns ``self``."""
        from ...learn.data import DATASETS

        check_int("rounds", self.rounds, minimum=1)
        check_choice("dataset", self.dataset, DATASETS)
        if self.n_samples is not None:
            check_int("n_samples", self.n_samples, minimum=2)
        check_choice("model", self.model, _MODELS)
        check_choice("partition", self.partition, _PARTITIONS)
        _real("lr", self.lr, low=0.0, closed=False)
        check_int("seed", self.seed, minimum=0)
        _real("fail_rate", self.fail_rate, low=0.0, high=1.0, closed=True)
        _real("kappa", self.kappa, low=0.0, closed=False)
        check_int("quarantine_rounds", self.quarantine_rounds, minimum=0)
        for name in ("round_timeout_s", "query_timeout_s", "node_wait_s"):
            _real(name, getattr(self, name), low=0.0, closed=False)
        check_int("threads", self.threads, minimum=1)
        if not isinstance(self.device, str) or not _DEVICE.fullmatch(self.device):
            raise ValidationError(
                "device", f"must be cpu, cuda, cuda:N or mps (got {self.device!r})"
            )
        if not isinstance(self.save_models, bool):
            raise ValidationError(
                "save_models", f"must be True or False (got {self.save_models!r})"
            )
        self.n_nodes  # noqa: B018 - validates the overrides and the device count
        return self

    def replace(self, **changes: Any) -> FlowerSettings:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes).check()

    # ----------------------------------------------------------- properties
    def resolved_scenario(self) -> dict[str, Any]:
        """The scenario mapping with the overrides applied."""
        from ...scenarios import apply_overrides

        return apply_overrides(copy.deepcopy(self.scenario), self.overrides)

    @property
    def n_nodes(self) -> int:
        """The federation's size: one node per device of the scenario (``devices.count``)."""
        devices = self.resolved_scenario().get("devices")
        count = devices.get("count") if isinstance(devices, Mapping) else None
        return check_int("devices.count", count, minimum=1)

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """One line of JSON (the deployment's run-config value)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FlowerSettings:
        """Settings from :meth:`to_dict`'s mapping, validated."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValidationError("settings", f"unknown fields: {', '.join(sorted(unknown))}")
        try:
            out = cls(**dict(data))
        except TypeError as exc:
            raise ValidationError("settings", str(exc)) from None
        return out.check()

    @classmethod
    def from_json(cls, text: str) -> FlowerSettings:
        """Settings from :meth:`to_json`'s text."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise ValidationError("settings", f"is not JSON ({exc})") from None
        if not isinstance(data, Mapping):
            raise ValidationError("settings", "must be a JSON object")
        return cls.from_dict(data)
