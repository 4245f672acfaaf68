"""A tiny third-party family, written as a plugin author would: one module, no edit to edgealloc.

``toy``: split ``total`` whole units of work over devices that take ``seconds``
per unit; minimise the makespan ``max_k seconds_k x_k``. Schemes: ``optimal``
(exact: the smallest makespan that fits ``total`` units, found over the
candidate values ``seconds_k * m``) and ``equal`` (``total / K`` each, the
remainder to the first devices). Its scenario (``scenario: toy``) gives
devices as a count and a speed spread; its preset ``toy-demo`` is a YAML file
the tests write.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgealloc.errors import ValidationError
from edgealloc.family import Family
from edgealloc.result import Result, Status


@dataclasses.dataclass(frozen=True)
class ToyProblem:
    seconds: tuple[float, ...]
    total: int
    name: str | None = None
    description: str | None = None
    meta: dict[str, Any] | None = None

    FAMILY: ClassVar[str] = "toy"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToyProblem:
        extra = set(data) - {"family", "seconds", "total", "name", "description", "meta"}
        if extra:
            raise ValidationError(sorted(extra)[0], "unknown field")
        seconds = data.get("seconds")
        if not isinstance(seconds, list) or not seconds:
            raise ValidationError("seconds", "must be a non-empty list")
        if not all(isinstance(s, int | float) and s > 0 for s in seconds):
            raise ValidationError("seconds", "must be positive numbers")
        total = data.get("total")
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise ValidationError("total", f"must be an integer >= 0 (got {total!r})")
        return cls(
            tuple(float(s) for s in seconds),
            total,
            data.get("name"),
            data.get("description"),
            data.get("meta"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"family": "toy", "seconds": list(self.seconds), "total": self.total}

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @property
    def n_devices(self) -> int:
        return len(self.seconds)

    def evaluate(self, units: Any) -> float:
        x = np.asarray(units)
        assert x.shape == (self.n_devices,) and x.sum() == self.total and (x >= 0).all()
        return float(np.max(np.asarray(self.seconds) * x))


@dataclasses.dataclass(frozen=True)
class ToyAllocation:
    units: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {"units": self.units.tolist()}


def _result(p: ToyProblem, scheme: str, units: np.ndarray, status: Status, t0: float) -> Result:
    span = p.evaluate(units)
    return Result(
        "toy",
        scheme,
        status,
        span,
        span if status is Status.OPTIMAL else math.nan,
        f"makespan {span:g} s",
        time.perf_counter() - t0,
        ToyAllocation(units),
    )


def optimal(p: ToyProblem) -> Result:
    t0 = time.perf_counter()
    s = np.asarray(p.seconds)
    # The optimum is seconds_k * m for some device k and count m <= total.
    spans = np.unique((s[:, None] * np.arange(p.total + 1)).ravel())
    fits = np.floor(spans[:, None] / s[None, :] + 1e-12).sum(axis=1) >= p.total
    span = spans[np.argmax(fits)]
    units = np.floor(span / s + 1e-12).astype(np.int64)
    surplus = int(units.sum() - p.total)
    for k in np.argsort(-s):  # hand back surplus units, slowest devices first
        take = min(surplus, int(units[k]))
        units[k] -= take
        surplus -= take
    return _result(p, "optimal", units, Status.OPTIMAL, t0)


def equal(p: ToyProblem) -> Result:
    t0 = time.perf_counter()
    k = p.n_devices
    units = np.full(k, p.total // k, dtype=np.int64)
    units[: p.total % k] += 1
    return _result(p, "equal", units, Status.FEASIBLE, t0)


def compile_toy(data: Mapping[str, Any]) -> ToyProblem:
    count = data.get("devices", {}).get("count", 3)
    spread = float(data.get("spread", 2.0))
    seconds = list(np.geomspace(1.0, spread, int(count)))
    return ToyProblem.from_dict(
        {
            "seconds": seconds,
            "total": int(data.get("total", 10)),
            "name": data.get("name"),
            "description": data.get("description"),
        }
    )


PRESET = """\
# toy-demo: the toy plugin's preset (a test writes this file).
scenario: toy
name: toy-demo
description: Toy makespan, three devices
devices: {count: 3}
spread: 4
total: 12
"""


def make_family(preset_path: Path | None = None) -> Family:
    return Family(
        name="toy",
        title="Toy makespan: whole units of work over devices of different speeds",
        problem=ToyProblem,
        schemes={"optimal": optimal, "equal": equal},
        sense="min",
        compile=compile_toy,
        aliases={"devices": "devices.count", "n": "total"},
        integral=frozenset({"optimal", "equal"}),
        presets={} if preset_path is None else {"toy-demo": preset_path},
        demo_presets=() if preset_path is None else ("toy-demo",),
    )


FAMILY = make_family()
