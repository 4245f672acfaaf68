"""A node's device profile: what it tells the planner about itself (:data:`~.keys.PROFILE_FIELDS`).

A node answers the strategy's profile query with one ``ConfigRecord``
(:meth:`DeviceProfile.to_record`); the strategy reads it back with
:meth:`DeviceProfile.from_record`, which names the node and the key of
anything malformed. Optional readings are 0 when unknown (a ``ConfigRecord``
holds no ``None``). Family-specific readings that are not in the table
(e.g. a downlink rate) travel in ``extra``.

NumPy and the standard library only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any

from ...errors import ValidationError
from .keys import FEEL_PROFILE_FIELDS, PROFILE_FIELDS

__all__ = ["DeviceProfile"]

_REQUIRED = ("partition-id", "num-examples")


@dataclasses.dataclass(frozen=True)
class DeviceProfile:
    """One node's profile (SI units; 0 = not known for the optional readings).

    Attributes
    ----------
    partition_id
        The node's data partition (its device slot in the scenario).
    cpu_hz
        CPU clock :math:`f_k` (0: unknown, e.g. a GPU device).
    tx_power_w
        Transmit power :math:`P_k` (0: unknown).
    num_examples
        Training examples it holds.
    rate_bps
        Measured uplink rate :math:`R_k` (0: derive it from the link).
    channel_gain
        Mean channel power gain :math:`h_k` (0: unknown).
    distance_m
        Distance to the server (0: unknown).
    energy_budget_j
        Energy budget per round :math:`E_k` (0: none).
    device_class
        A label for the reports.
    extra
        Further readings (key -> number or string), for families that need them.
    """

    partition_id: int
    cpu_hz: float = 0.0
    tx_power_w: float = 0.0
    num_examples: int = 0
    rate_bps: float = 0.0
    channel_gain: float = 0.0
    distance_m: float = 0.0
    energy_budget_j: float = 0.0
    device_class: str = ""
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """The ``ConfigRecord`` content (hyphenated keys)."""
        out: dict[str, Any] = {
            "partition-id": int(self.partition_id),
            "device-class": str(self.device_class),
            "cpu-hz": float(self.cpu_hz),
            "tx-power-w": float(self.tx_power_w),
            "rate-bps": float(self.rate_bps),
            "channel-gain": float(self.channel_gain),
            "distance-m": float(self.distance_m),
            "energy-budget-j": float(self.energy_budget_j),
            "num-examples": int(self.num_examples),
        }
        for key, value in self.extra.items():
            out.setdefault(str(key), value)
        return out

    @classmethod
    def from_record(cls, record: Mapping[str, Any], *, where: str = "profile") -> DeviceProfile:
        """Read a profile record; a missing or malformed key raises naming ``where`` and the key.

        Raises
        ------
        ValidationError
            Field ``"<where>.<key>"``: a required key missing, a count that is
            not a whole number >= 0, a reading that is not a finite number >= 0,
            a CPU clock that is not > 0.
        """
        data = dict(record)
        for key in _REQUIRED:
            if key not in data:
                raise ValidationError(f"{where}.{key}", "missing")

        def number(key: str, *, positive: bool = False) -> float:
            value = data.get(key, 0.0)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValidationError(f"{where}.{key}", f"must be a number (got {value!r})")
            v = float(value)
            if not math.isfinite(v) or v < 0 or (positive and v == 0):
                sign = "> 0" if positive else ">= 0"
                raise ValidationError(
                    f"{where}.{key}", f"must be finite and {sign} (got {value!r})"
                )
            return v

        def count(key: str) -> int:
            value = data.get(key)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValidationError(
                    f"{where}.{key}", f"must be a whole number >= 0 (got {value!r})"
                )
            return int(value)

        label = data.get("device-class", "")
        known = set(PROFILE_FIELDS)
        return cls(
            partition_id=count("partition-id"),
            cpu_hz=number("cpu-hz"),
            tx_power_w=number("tx-power-w"),
            num_examples=count("num-examples"),
            rate_bps=number("rate-bps"),
            channel_gain=number("channel-gain"),
            distance_m=number("distance-m"),
            energy_budget_j=number("energy-budget-j"),
            device_class=str(label) if label is not None else "",
            extra={k: v for k, v in data.items() if k not in known},
        )

    @classmethod
    def from_node_config(cls, node_config: Mapping[str, Any], base: DeviceProfile) -> DeviceProfile:
        """``base`` with the readings a SuperNode was started with (``--node-config``).

        Keys are those of :data:`~.keys.PROFILE_FIELDS` and
        :data:`~.keys.FEEL_PROFILE_FIELDS` (``cpu-hz=2.4e9 rate-bps=5e7 ...``);
        ``partition-id`` and ``num-partitions`` are Flower's own and keep their
        meaning.
        """
        record = base.to_record()
        for key in (*PROFILE_FIELDS, *FEEL_PROFILE_FIELDS):
            if key in node_config and key != "partition-id":
                value = node_config[key]
                if isinstance(value, str) and key != "device-class":
                    with contextlib.suppress(ValueError):  # "2.4e9" typed as a string
                        value = float(value)
                record[key] = value
        return cls.from_record(record, where="node-config")
