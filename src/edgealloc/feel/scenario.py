r"""Physical ``feel`` scenarios and their compilation to the canonical problem.

A scenario (YAML ``scenario: feel``) describes the cell of Section VI of the
paper (Ren, Yu & Ding, IEEE JSAC 2021, Table I): devices dropped uniformly in
a disc around the base station, a path-loss model with Rayleigh fading, the
transmit powers, bandwidth and noise density, the TDMA frames, the DNN whose
gradients are exchanged and the processors that train it.
:func:`compile_feel` turns it into a :class:`~edgealloc.feel.problem.FeelProblem`:

* mean rates, eqs. (5)-(6): :math:`R_k = W\,\mathbb{E}_h\log_2(1 + P |h_k|^2 / (N_0 W))`
  with the exact Rayleigh expectation of :func:`edgealloc.system.rayleigh_mean_rate`
  (``fading: rayleigh``) and the same path loss both ways;
* gradient bits :math:`s = b p` (Section III-B), :math:`p` the model's parameter
  count (the paper's counts for DenseNet121, ResNet18 and MobileNetV2 are
  built in, :data:`MODELS`);
* CPU: cycles per sample :math:`C` and update cycles :math:`M^C` (eqs. (9),
  (12)); the paper gives neither, see :data:`MODELS` and the presets for our
  readings;
* GPU: the coefficients of Assumption 1 (eq. (27)) and the update time (eq. (28)).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import numpy as np
import pydantic

from .._validation import (
    MAX_BANDWIDTH_HZ,
    Dbm,
    LaxReal,
    ScenarioModel,
    lax_mapping_numbers,
    validate_model,
)
from ..errors import ValidationError
from ..system.fleet import uniform_disc
from ..system.radio import link_rate, pathloss_from_spec
from ..units import dbm_to_w
from .problem import FeelProblem

__all__ = ["MAX_DEVICES", "MODELS", "FeelScenario", "compile_feel"]

#: The paper's DNNs (Section VI-A): parameter count :math:`p` as printed, and the
#: forward multiply-accumulates at 224x224 that our reading of the cycle count
#: starts from (torchvision's published operation counts).
MODELS: dict[str, dict[str, float]] = {
    "densenet121": {"parameters": 8_062_504, "macs_224": 2.83e9},
    "resnet18": {"parameters": 33_161_024, "macs_224": 1.81e9},
    "mobilenetv2": {"parameters": 3_538_984, "macs_224": 0.30e9},
}


class _Strict(ScenarioModel):
    """Unknown fields refused; numbers may be written as text (YAML 1.1 reads 1e9 so)."""


PerDevice = LaxReal | list[LaxReal]


class Placement(_Strict):
    """Devices uniform in a disc around the base station (area-uniform, seeded)."""

    radius_m: float = pydantic.Field(gt=0, allow_inf_nan=False)
    min_distance_m: float = pydantic.Field(default=1.0, ge=0, allow_inf_nan=False)


class Gpu(_Strict):
    """Assumption 1 (eq. (27)) and eq. (28): one number for every device or one per device."""

    base_time_s: PerDevice
    slope_s: PerDevice
    threshold: PerDevice
    update_time_s: PerDevice
    #: Board power while training (W), for the energy ledger of ``edgealloc train`` only
    #: (the paper has no energy model; never read by the solvers).
    power_w: PerDevice | None = None


#: Most devices a scenario may ask for (the solvers' memory grows linearly, ~2 KiB each).
MAX_DEVICES = 10_000_000


class Devices(_Strict):
    count: int = pydantic.Field(ge=1, le=MAX_DEVICES)
    cpu_hz: list[Annotated[LaxReal, pydantic.Field(gt=0)]] | None = None
    gpu: Gpu | None = None
    placement: Placement

    @pydantic.model_validator(mode="after")
    def _one(self) -> Devices:
        if self.cpu_hz is None and self.gpu is None:
            raise ValueError("devices: give cpu_hz (CPU scenario) or gpu (GPU scenario)")
        return self


class Power(_Strict):
    uplink: Dbm
    downlink: Dbm


class Frame(_Strict):
    uplink: float = pydantic.Field(gt=0, allow_inf_nan=False)
    downlink: float = pydantic.Field(gt=0, allow_inf_nan=False)


class Link(_Strict):
    bandwidth_hz: float = pydantic.Field(gt=0, le=MAX_BANDWIDTH_HZ, allow_inf_nan=False)
    noise_psd_dbm_hz: Dbm
    tx_power_dbm: Power
    pathloss: dict[str, Any]
    fading: Literal["none", "rayleigh"] = "rayleigh"
    frame_s: Frame

    @pydantic.field_validator("pathloss", mode="before")
    @classmethod
    def _pathloss_numbers(cls, value: Any) -> Any:
        """The spec's numbers checked like every scenario number (its keys when compiling)."""
        return lax_mapping_numbers(value)


class Workload(_Strict):
    model: Literal["densenet121", "resnet18", "mobilenetv2"] = "densenet121"
    parameters: int | None = pydantic.Field(default=None, ge=1)
    bits_per_parameter: float = pydantic.Field(default=32, gt=0, allow_inf_nan=False)
    input_pixels: int = pydantic.Field(default=32, ge=1)
    cycles_per_flop: float = pydantic.Field(default=1.0, gt=0, allow_inf_nan=False)
    cycles_per_sample: float | None = pydantic.Field(default=None, gt=0, allow_inf_nan=False)
    update_cycles: float | None = pydantic.Field(default=None, ge=0, allow_inf_nan=False)
    loss_decay: float = pydantic.Field(default=1.0, gt=0, allow_inf_nan=False)


class FeelScenario(_Strict):
    """A physical ``feel`` scenario (the YAML ``scenario: feel`` document)."""

    scenario: Literal["feel"] = "feel"
    name: str | None = None
    description: str | None = None
    notes: str | list[str] | None = None
    seed: int = pydantic.Field(default=0, ge=0)
    max_batch: int = pydantic.Field(default=128, ge=1)
    devices: Devices
    link: Link
    workload: Workload


def cycles_per_sample(wl: Workload) -> float:
    r"""Our reading of :math:`C` (the paper gives none): forward and backward passes.

    :math:`C = 3 \times 2 \times \mathrm{MAC}_{224} \times (\text{pixels}/224)^2
    \times \text{cycles per FLOP}`: back-propagation costs about twice the forward
    pass, a multiply-accumulate is two FLOPs, and a convolution's cost scales
    with the number of pixels (CIFAR-10's 32x32 images against ImageNet's
    224x224).
    """
    if wl.cycles_per_sample is not None:
        return float(wl.cycles_per_sample)
    macs = MODELS[wl.model]["macs_224"] * (wl.input_pixels / 224.0) ** 2
    return 3.0 * 2.0 * macs * wl.cycles_per_flop


def _per_device(value: PerDevice, n: int, field: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValidationError(field, f"has {arr.size} entries, expected devices.count = {n}")
    return arr


def _blocks(values: list[float], n: int) -> np.ndarray:
    """``values`` in equal consecutive blocks over ``n`` devices (the first blocks get the rest)."""
    sizes = [len(part) for part in np.array_split(np.arange(n), len(values))]
    return np.repeat(np.asarray(values, dtype=float), sizes)


def compile_feel(data: Mapping[str, Any] | FeelScenario) -> FeelProblem:
    """Compile a physical scenario into the canonical :class:`FeelProblem`.

    ``meta`` records what the coefficients came from (distances, rates, CPU
    clocks, the model and its sizes) for the presenter and later phases.
    """
    sc = data if isinstance(data, FeelScenario) else validate_model(FeelScenario, data)
    n = sc.devices.count
    rng = np.random.default_rng(sc.seed)
    place = sc.devices.placement
    if place.min_distance_m > place.radius_m:
        raise ValidationError(
            "devices.placement.min_distance_m",
            f"must be <= radius_m = {place.radius_m:g} (got {place.min_distance_m:g})",
        )
    _, distance = uniform_disc(n, place.radius_m, rng, min_distance_m=place.min_distance_m)
    link = sc.link
    gain = np.asarray(pathloss_from_spec(link.pathloss, field="link.pathloss").gain(distance))
    rates = {}
    power: dict[str, float] = {}
    for side in ("uplink", "downlink"):
        with np.errstate(over="ignore"):  # an absurd power gives inf, refused below
            power_w = float(dbm_to_w(getattr(link.tx_power_dbm, side)))
        power[side] = power_w
        rates[side] = np.asarray(
            link_rate(power_w, gain, link.bandwidth_hz, link.noise_psd_dbm_hz, fading=link.fading),
            dtype=float,
        ).reshape(n)
    wl = sc.workload
    params = wl.parameters if wl.parameters is not None else int(MODELS[wl.model]["parameters"])
    bits = wl.bits_per_parameter * params
    meta: dict[str, Any] = {
        "scenario": sc.name or "custom",
        "seed": sc.seed,
        "distance_m": distance.tolist(),
        "uplink_rate_bps": rates["uplink"].tolist(),
        "downlink_rate_bps": rates["downlink"].tolist(),
        "model": wl.model,
        "parameters": params,
        "gradient_bits": bits,
        # for the energy ledger of edgealloc.learn (the paper has no energy model)
        "tx_power_w": power,
    }
    fields: dict[str, Any] = {
        "uplink_rate": rates["uplink"],
        "downlink_rate": rates["downlink"],
        "gradient_bits": bits,
        "frame": {"uplink": link.frame_s.uplink, "downlink": link.frame_s.downlink},
        "max_batch": sc.max_batch,
        "loss_decay": wl.loss_decay,
        "name": sc.name,
        "description": sc.description,
    }
    dev = sc.devices
    if dev.gpu is None:
        assert dev.cpu_hz is not None  # checked by Devices
        cpu = _blocks(dev.cpu_hz, n)
        c = cycles_per_sample(wl)
        m = float(wl.update_cycles) if wl.update_cycles is not None else 2.0 * params
        fields.update(cpu_hz=cpu, cycles_per_sample=c, update_cycles=m)
        meta.update(
            processor="cpu",
            cpu_hz=cpu.tolist(),
            classes=[f"{f / 1e9:.3g} GHz" for f in cpu],
            cycles_per_sample=c,
            update_cycles=m,
        )
    else:
        g = dev.gpu
        fields["gpu"] = {
            "base_time": _per_device(g.base_time_s, n, "devices.gpu.base_time_s"),
            "slope": _per_device(g.slope_s, n, "devices.gpu.slope_s"),
            "threshold": _per_device(g.threshold, n, "devices.gpu.threshold"),
            "update_time": _per_device(g.update_time_s, n, "devices.gpu.update_time_s"),
        }
        if dev.cpu_hz is not None:
            fields["cpu_hz"] = _blocks(dev.cpu_hz, n)
        meta.update(processor="gpu")
        if g.power_w is not None:
            watts = _per_device(g.power_w, n, "devices.gpu.power_w")
            if (watts < 0).any():
                i = int(np.flatnonzero(watts < 0)[0])
                raise ValidationError("devices.gpu.power_w", f"must be >= 0 (got {watts[i]:g})")
            meta["gpu_power_w"] = watts.tolist()
    fields["meta"] = meta
    try:
        return FeelProblem(**fields)
    except ValidationError as exc:  # e.g. a zero rate from a hopeless link budget
        raise ValidationError(
            exc.field, f"{exc.problem} (compiled from the scenario; check the link budget)"
        ) from None
