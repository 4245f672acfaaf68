r"""Physical ``mel`` scenarios and their compilation to the canonical problem.

A scenario describes the learners physically (device classes, CPU clocks,
positions, transmit power, energy budgets), the radio link (bandwidth, noise
density, path loss, fading) and the learning workload (a fully connected
network, features, bit precisions). :func:`compile_mel` turns it into the
coefficients of the canonical problem:

* sync paper eqs. (9)-(11), async paper eq. (11)::

    c2_k = C_m / f_k
    c1_k = (F P_d + 2 P_m S_d) / R_k        (parallel learning: the batch is sent)
    c1_k = 2 P_m S_d / R_k                  (federated: learners own their data)
    c0_k = 2 P_m S_m / R_k

* async paper eqs. (8)-(10) (the learner pays for computing and for sending
  its model; the orchestrator's transmissions are free)::

    g2_k = mu C_m f_k^(nu - 1)
    g1_k = P_k P_m S_d / R_k
    g0_k = P_k P_m S_m / R_k

with :math:`R_k = W \log_2(1 + P_k h_k / (N_0 W))` (or its mean under
Rayleigh fading), :math:`C_m` the cycles per sample and iteration (FLOPs of
forward + backward, one cycle per FLOP unless ``cycles_per_flop`` says
otherwise), :math:`S_m` the model's coefficients, :math:`S_d` the
coefficients per sample (0 for the papers' networks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import numpy as np
import pydantic

from .._validation import (
    MAX_BANDWIDTH_HZ,
    Dbm,
    LaxInt,
    LaxReal,
    ScenarioModel,
    check_memory,
    lax_mapping_numbers,
    validate_model,
)
from ..errors import ValidationError
from ..system import (
    Fleet,
    FullyConnected,
    link_rate,
    pathloss_from_spec,
)
from .problem import MelProblem

__all__ = ["MelScenario", "compile_mel"]


class _Strict(ScenarioModel):
    """Unknown fields refused; numbers may be written as text (YAML 1.1 reads 1e9 so)."""


PositiveReal = Annotated[LaxReal, pydantic.Field(gt=0)]
NonNegReal = Annotated[LaxReal, pydantic.Field(ge=0)]
PositiveInt = Annotated[LaxInt, pydantic.Field(gt=0)]


class Placement(_Strict):
    """Learners uniform in a disc around the orchestrator, or at given distances."""

    radius_m: float | None = pydantic.Field(default=None, gt=0, allow_inf_nan=False)
    min_distance_m: float = pydantic.Field(default=1.0, ge=0, allow_inf_nan=False)
    distance_m: list[PositiveReal] | None = None

    @pydantic.model_validator(mode="after")
    def _one(self) -> Placement:
        if (self.radius_m is None) == (self.distance_m is None):
            raise ValueError("placement: give either radius_m or distance_m")
        return self


class Budget(_Strict):
    """Energy budget per device per cycle: uniform in ``[mean - spread, mean + spread]``."""

    mean: float = pydantic.Field(gt=0, allow_inf_nan=False)
    spread: float = pydantic.Field(default=0.0, ge=0, allow_inf_nan=False)

    @pydantic.model_validator(mode="after")
    def _positive(self) -> Budget:
        if self.spread > self.mean:
            raise ValueError(
                f"energy.budget_j.spread: must be <= mean ({self.mean:g}) (got {self.spread:g})"
            )
        return self


class Devices(_Strict):
    count: int = pydantic.Field(ge=1)
    classes: dict[str, NonNegReal] = pydantic.Field(min_length=1)
    cpu_hz: dict[str, PositiveReal] | None = None
    tx_power_dbm: Dbm | None = None
    placement: Placement


class Link(_Strict):
    bandwidth_hz: float = pydantic.Field(gt=0, le=MAX_BANDWIDTH_HZ, allow_inf_nan=False)
    noise_psd_dbm_hz: Dbm
    pathloss: dict[str, Any]
    fading: Literal["none", "rayleigh"] = "none"

    @pydantic.field_validator("pathloss", mode="before")
    @classmethod
    def _pathloss_numbers(cls, value: Any) -> Any:
        """Numbers of the path-loss spec checked like every scenario number (finite, in range).

        The spec's keys and model names are checked by
        :func:`~edgealloc.system.pathloss_from_spec` when compiling.
        """
        return lax_mapping_numbers(value)


class Workload(_Strict):
    layers: list[PositiveInt] = pydantic.Field(min_length=2)
    features: int | None = pydantic.Field(default=None, ge=1)
    data_bits: float = pydantic.Field(default=32, gt=0, allow_inf_nan=False)
    model_bits: float = pydantic.Field(default=32, gt=0, allow_inf_nan=False)
    include_biases: bool = True
    flops_convention: Literal["standard", "paper"] = "standard"
    cycles_per_flop: float = pydantic.Field(default=1.0, gt=0, allow_inf_nan=False)
    cycles_per_sample: float | None = pydantic.Field(default=None, gt=0, allow_inf_nan=False)
    model_coefficients: float | None = pydantic.Field(default=None, gt=0, allow_inf_nan=False)
    per_sample_coefficients: float = pydantic.Field(default=0.0, ge=0, allow_inf_nan=False)


class Energy(_Strict):
    budget_j: Budget
    cpu_mu: float = pydantic.Field(gt=0, allow_inf_nan=False)
    cpu_nu: float = pydantic.Field(default=3.0, ge=1, allow_inf_nan=False)


class MelScenario(_Strict):
    """A physical ``mel`` scenario (the YAML ``scenario: mel`` document)."""

    scenario: Literal["mel"] = "mel"
    name: str | None = None
    description: str | None = None
    notes: str | list[str] | None = None
    mode: Literal["parallel", "federated"] = "parallel"
    deadline: float = pydantic.Field(gt=0, allow_inf_nan=False)
    total_samples: int = pydantic.Field(ge=1)
    min_samples: int = pydantic.Field(default=1, ge=0)
    staleness: int | None = pydantic.Field(default=None, ge=0)
    seed: int = pydantic.Field(default=0, ge=0)
    devices: Devices
    link: Link
    workload: Workload
    energy: Energy | None = None


#: Peak memory per device of compiling a scenario and solving it with any scheme
#: (measured: about 0.6 KB at K = 1e6 for mel-sync optimal; doubled for margin).
BYTES_PER_DEVICE = 1536


def compile_mel(data: Mapping[str, Any] | MelScenario) -> MelProblem:
    """Compile a physical scenario into the canonical :class:`MelProblem`.

    The result's ``meta`` records what the coefficients came from (classes,
    clocks, distances, rates, the workload's cycles and bits), so that the
    learning engine and the plots can show the physics behind a plan.
    """
    sc = data if isinstance(data, MelScenario) else validate_model(MelScenario, data)
    rng = np.random.default_rng(sc.seed)
    dev = sc.devices
    placement = dev.placement
    n = dev.count
    check_memory("devices.count", n, BYTES_PER_DEVICE)
    if placement.distance_m is not None and len(placement.distance_m) != n:
        raise ValidationError(
            "devices.placement.distance_m",
            f"has {len(placement.distance_m)} entries, expected devices.count = {n}",
        )
    fleet = Fleet.generate(
        n,
        radius_m=placement.radius_m
        if placement.radius_m is not None
        else max(placement.distance_m),
        shares=dev.classes,
        rng=rng,
        cpu_hz_override=dev.cpu_hz,
        tx_power_dbm=dev.tx_power_dbm,
        min_distance_m=placement.min_distance_m,
    )
    distance = (
        np.asarray(placement.distance_m, float)
        if placement.distance_m is not None
        else fleet.distance_m
    )
    pathloss = pathloss_from_spec(sc.link.pathloss, field="link.pathloss")
    gain = np.asarray(pathloss.gain(distance), float)
    rate = np.asarray(
        link_rate(
            fleet.tx_power_w,
            gain,
            sc.link.bandwidth_hz,
            sc.link.noise_psd_dbm_hz,
            fading=sc.link.fading,
        ),
        float,
    )
    wl = sc.workload
    net = FullyConnected(tuple(wl.layers))
    features = wl.features if wl.features is not None else wl.layers[0]
    cycles = (
        wl.cycles_per_sample
        if wl.cycles_per_sample is not None
        else net.flops_per_sample(convention=wl.flops_convention) * wl.cycles_per_flop
    )
    s_m = (
        wl.model_coefficients
        if wl.model_coefficients is not None
        else float(net.n_params if wl.include_biases else net.n_weights)
    )
    s_d = wl.per_sample_coefficients
    p_m, p_d = wl.model_bits, wl.data_bits
    f = fleet.cpu_hz
    # A zero rate (a hopeless link budget) or extreme readings give infinite
    # coefficients, which the canonical problem refuses by name below.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        c2 = cycles / f
        data_bits = features * p_d if sc.mode == "parallel" else 0.0
        c1 = (data_bits + 2 * p_m * s_d) / rate
        c0 = 2 * p_m * s_m / rate
        energy = None
        budget = None
        if sc.energy is not None:
            en = sc.energy
            power = fleet.tx_power_w
            g2 = en.cpu_mu * cycles * f ** (en.cpu_nu - 1)
            g1 = power * p_m * s_d / rate
            g0 = power * p_m * s_m / rate
            b = en.budget_j
            budget = b.mean + b.spread * (2 * rng.uniform(size=n) - 1)
            energy = {"g2": g2, "g1": g1, "g0": g0, "budget": budget}
    meta = {
        "scenario": sc.name or "custom",
        "mode": sc.mode,
        "seed": sc.seed,
        "classes": fleet.classes.tolist(),
        "cpu_hz": f.tolist(),
        "distance_m": distance.tolist(),
        "rate_bps": rate.tolist(),
        "tx_power_w": fleet.tx_power_w.tolist(),
        "cycles_per_sample": float(cycles),
        "model_bits": float(p_m * s_m),
        "sample_bits": float(features * p_d),
        "layers": list(wl.layers),
    }
    try:
        return MelProblem(
            deadline=sc.deadline,
            total_samples=sc.total_samples,
            c2=c2,
            c1=c1,
            c0=c0,
            energy=energy,
            min_samples=sc.min_samples,
            staleness=sc.staleness,
            name=sc.name,
            description=sc.description,
            meta=meta,
        )
    except ValidationError as exc:  # e.g. a zero rate gives infinite coefficients
        raise ValidationError(
            exc.field, f"{exc.problem} (compiled from the scenario; check the link budget)"
        ) from None
