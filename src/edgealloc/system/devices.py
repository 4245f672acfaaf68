"""Device classes: the kinds of learner in the papers' simulations.

References
----------
[MEL-sync] Mohammad, U., Sorour, S. "Adaptive task allocation for mobile edge
learning" (Mohammad & Sorour, IEEE WCNCW 2019), Table I.
[MEL-async] Mohammad, U., Sorour, S., Hefeida, M. "Task allocation for
asynchronous mobile edge learning with delay and energy constraints"
(Mohammad, Sorour & Hefeida, arXiv:2012.00143), Section 5.1 and Table 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from edgealloc.errors import ValidationError
from edgealloc.units import dbm_to_w

__all__ = ["DEVICE_CLASSES", "DeviceClass", "device_class"]


@dataclass(frozen=True, slots=True)
class DeviceClass:
    """A kind of edge device: its CPU clock and transmit power.

    Parameters
    ----------
    name
        Registry key, e.g. ``"phone"``.
    cpu_hz
        Clock frequency dedicated to learning :math:`f_k` (Hz).
    tx_power_dbm
        Transmit power :math:`P_k` (dBm).
    description
        Where the figures come from.
    """

    name: str
    cpu_hz: float
    tx_power_dbm: float
    description: str

    @property
    def tx_power_w(self) -> float:
        """Transmit power in watts."""
        return float(dbm_to_w(self.tx_power_dbm))


def _registry(*classes: DeviceClass) -> Mapping[str, DeviceClass]:
    return MappingProxyType({c.name: c for c in classes})


DEVICE_CLASSES: Mapping[str, DeviceClass] = _registry(
    DeviceClass(
        "laptop",
        6.0e9,
        23.0,
        "Laptop with a multi-core processor; 6.0 GHz is the aggregate clock of the "
        "async MEL paper's first class (Table 1: f_k ~ {6.0, 2.4, 1.4, 0.7} GHz).",
    ),
    DeviceClass(
        "phone",
        2.4e9,
        23.0,
        "Smart phone with a simple processor; 2.4 GHz from the async MEL paper "
        "(Table 1) and the sync MEL paper's faster class (Table I).",
    ),
    DeviceClass(
        "raspberry-pi",
        1.4e9,
        23.0,
        "Advanced micro-controller such as the Raspberry Pi; 1.4 GHz from the "
        "async MEL paper (Table 1).",
    ),
    DeviceClass(
        "arduino",
        0.7e9,
        23.0,
        "Very simple micro-controller such as the Arduino. 0.7 GHz is the async MEL "
        "paper's figure for this class (Table 1; also the sync paper's slower class); "
        "a real Arduino (ATmega328P) runs at 16 MHz.",
    ),
)
"""Known device classes by name (read-only). All transmit at 23 dBm (both papers)."""


def device_class(name: str) -> DeviceClass:
    """Look up a device class by name.

    Parameters
    ----------
    name
        A key of `DEVICE_CLASSES`.

    Returns
    -------
    DeviceClass

    Raises
    ------
    ValidationError
        Field ``"class"``, listing the known names, if `name` is unknown.

    Examples
    --------
    >>> device_class("phone").cpu_hz
    2400000000.0
    """
    try:
        return DEVICE_CLASSES[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(DEVICE_CLASSES))
        raise ValidationError("class", f"unknown device class {name!r} (known: {known})") from None
