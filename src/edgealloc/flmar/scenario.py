r"""Physical ``flmar`` scenarios (FLMAR.md section 6) and their compilation.

A scenario (``scenario: flmar``) describes the devices physically: where they
are (uniform in a disc around the base station), their radio (transmit power
range in dBm, path loss, log-normal shadowing, noise density in dBm/Hz,
bandwidth), their CPU (clock range, switched capacitance, cycles per frame)
and the training (frames, local iterations, rounds, upload size, frame
resolutions and the accuracy they give). :func:`compile_flmar` turns it into
the canonical :class:`~edgealloc.flmar.FlmarProblem`:

* distances :math:`d_n` from :func:`edgealloc.system.fleet.uniform_disc`
  (clipped below at ``min_distance_m``);
* channel gain :math:`g_n = 10^{-(PL(d_n) + X_n)/10}`, the path loss of
  :func:`edgealloc.system.radio.pathloss_from_spec` plus the shadowing
  :math:`X_n \sim \mathcal N(0, \sigma^2)` dB of
  :mod:`edgealloc.system.shadowing`, drawn once per device; the paper's rate
  (1) uses this expected gain;
* :math:`N_0` from dBm/Hz, :math:`p_{min}, p_{max}` from dBm (``min: null``
  is 0 W);
* :math:`c_n \sim U[\text{min}, \text{max}]` cycles per frame at :math:`s_0`;
* the accuracy table as given, or from a model: ``liu2018`` is
  :math:`A(s) = 1 - 1.578 e^{-0.0065 s}` (Liu et al., INFOCOM 2018, the paper's
  [16]); ``liu2018-linear`` the line through it at :math:`s_1` and
  :math:`s_K` (the paper's experiments: "linear and the data is obtained from
  [16]").

Random draws, in this order from ``numpy.random.default_rng(seed)``: the
positions, the shadowing, the cycles per frame. The baselines' own draws use
``baseline.seed`` (a field of the canonical problem).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import numpy as np
import pydantic

from .._validation import Dbm, LaxReal, ScenarioModel, check_memory, validate_model
from ..errors import ValidationError
from ..system.fleet import uniform_disc
from ..system.radio import pathloss_from_spec
from ..system.shadowing import lognormal_shadowing_db, shadowed_gain
from ..units import dbm_to_w
from .problem import FlmarProblem

__all__ = ["FlmarScenario", "accuracy_model", "compile_flmar"]

_FINITE = {"allow_inf_nan": False}


class _Strict(ScenarioModel):
    """Unknown fields refused; numbers may be written as text (YAML 1.1 reads 1e9 so)."""


PositiveReal = Annotated[LaxReal, pydantic.Field(gt=0)]


class Range(_Strict):
    """A per-device range ``[min, max]``."""

    min: float | None = pydantic.Field(**_FINITE)
    max: float = pydantic.Field(**_FINITE)


class DbmRange(_Strict):
    """A per-device range of power levels ``[min, max]`` in dBm (``min: null`` is 0 W)."""

    min: Dbm | None
    max: Dbm


class Uniform(_Strict):
    """Per-device values drawn uniformly in ``[min, max]``."""

    min: float = pydantic.Field(gt=0, **_FINITE)
    max: float = pydantic.Field(gt=0, **_FINITE)

    @pydantic.model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.max < self.min:
            raise ValidationError("max", f"must be >= min ({self.min:g}) (got {self.max:g})")
        return self


class Placement(_Strict):
    """Devices uniform in a disc of radius ``radius_m`` around the base station."""

    radius_m: float = pydantic.Field(gt=0, **_FINITE)
    min_distance_m: float = pydantic.Field(default=1.0, ge=0, **_FINITE)


class Devices(_Strict):
    """The devices: how many, where, their radio, CPU and data."""

    count: int = pydantic.Field(ge=1)
    placement: Placement
    samples: float = pydantic.Field(gt=0, **_FINITE)
    cycles_per_sample: float | Uniform
    tx_power_dbm: DbmRange
    cpu_hz: Range
    capacitance: float = pydantic.Field(gt=0, **_FINITE)


class Link(_Strict):
    """The FDMA uplink."""

    bandwidth_hz: float = pydantic.Field(gt=0, **_FINITE)
    noise_psd_dbm_hz: Dbm
    pathloss: dict[str, Any]
    shadowing_db: float = pydantic.Field(default=0.0, ge=0, **_FINITE)


class AccuracyModel(_Strict):
    """An accuracy model in place of a table (see :func:`accuracy_model`)."""

    model: Literal["liu2018", "liu2018-linear"]


class Training(_Strict):
    """Federated training: rounds, local iterations, the upload, the frame resolutions."""

    local_iterations: float = pydantic.Field(gt=0, **_FINITE)
    rounds: float = pydantic.Field(gt=0, **_FINITE)
    upload_bits: float = pydantic.Field(gt=0, **_FINITE)
    resolutions: list[PositiveReal] = pydantic.Field(min_length=1)
    reference_resolution: float = pydantic.Field(gt=0, **_FINITE)
    accuracy: list[LaxReal] | AccuracyModel


class FlmarScenario(_Strict):
    """A physical ``flmar`` scenario (the YAML ``scenario: flmar`` document)."""

    scenario: Literal["flmar"] = "flmar"
    name: str | None = None
    description: str | None = None
    notes: str | list[str] | None = None
    seed: int = 0
    devices: Devices
    link: Link
    training: Training
    weights: dict[str, Any]
    deadline: float | None = None
    baseline: dict[str, Any] | None = None


def accuracy_model(model: str, resolutions: np.ndarray) -> np.ndarray:
    """The accuracy table of a named model at ``resolutions`` (px).

    ``liu2018``: :math:`A(s) = 1 - 1.578\\,e^{-6.5\\times 10^{-3} s}`, the YOLO fit of
    Liu et al. (INFOCOM 2018), ref. [16] of the paper. ``liu2018-linear``: the
    line through that fit at the smallest and largest resolution (FLMAR.md
    section 1: {160, 320, 480, 640} px give 0.44225, 0.61996, 0.79766, 0.97537).
    """
    s = np.asarray(resolutions, dtype=float)

    def fit(x: np.ndarray) -> np.ndarray:
        return 1.0 - 1.578 * np.exp(-6.5e-3 * x)

    if model == "liu2018":
        return fit(s)
    if model == "liu2018-linear":
        if s.size == 1:
            return fit(s)
        lo, hi = fit(s[:1])[0], fit(s[-1:])[0]
        return lo + (hi - lo) * (s - s[0]) / (s[-1] - s[0])
    raise ValidationError("training.accuracy.model", f"unknown model {model!r}")


#: Estimated peak bytes per device of compiling and solving (the compile alone measured
#: 564 B per device at N = 1e5 with tracemalloc; the solvers' N x K arrays come on top).
BYTES_PER_DEVICE = 1536


def compile_flmar(data: Mapping[str, Any] | FlmarScenario) -> FlmarProblem:
    """Compile a physical scenario into the canonical :class:`FlmarProblem`.

    The problem's ``meta`` records the provenance: distances, shadowing,
    path loss and gains, the cycles drawn, the power range in dBm.
    """
    sc = data if isinstance(data, FlmarScenario) else validate_model(FlmarScenario, data)
    rng = np.random.default_rng(sc.seed)
    dev, link, tr = sc.devices, sc.link, sc.training
    n = dev.count
    check_memory("devices.count", n, BYTES_PER_DEVICE)
    pl = dev.placement
    if pl.min_distance_m > pl.radius_m:
        raise ValidationError(
            "devices.placement.min_distance_m",
            f"must be <= radius_m ({pl.radius_m:g}) (got {pl.min_distance_m:g})",
        )
    _, distance = uniform_disc(n, pl.radius_m, rng, min_distance_m=pl.min_distance_m)
    model = pathloss_from_spec(link.pathloss, field="link.pathloss")
    pathloss_db = np.asarray(model.db(distance), dtype=float).reshape(n)
    shadow = lognormal_shadowing_db(n, link.shadowing_db, rng)
    gain = shadowed_gain(pathloss_db, shadow)
    cps = dev.cycles_per_sample
    if isinstance(cps, Uniform):
        cycles = rng.uniform(cps.min, cps.max, n)
    else:
        if not (math.isfinite(cps) and cps > 0):
            raise ValidationError("devices.cycles_per_sample", f"must be > 0 (got {cps!r})")
        cycles = np.full(n, float(cps))
    pw = dev.tx_power_dbm
    p_max = float(dbm_to_w(pw.max))
    p_min = 0.0 if pw.min is None else float(dbm_to_w(pw.min))
    if pw.min is not None and pw.min > pw.max:
        raise ValidationError(
            "devices.tx_power_dbm.min", f"must be <= max ({pw.max:g} dBm) (got {pw.min:g})"
        )
    f = dev.cpu_hz
    if f.min is None or f.min <= 0:
        raise ValidationError("devices.cpu_hz.min", f"must be > 0 (got {f.min!r})")
    res = np.asarray(tr.resolutions, dtype=float)
    if isinstance(tr.accuracy, AccuracyModel):
        acc = accuracy_model(tr.accuracy.model, res)
    else:
        acc = np.asarray(tr.accuracy, dtype=float)
    noise = float(dbm_to_w(link.noise_psd_dbm_hz))
    meta = {
        "scenario": sc.name or "custom",
        "seed": sc.seed,
        "distance_m": distance.tolist(),
        "pathloss_db": pathloss_db.tolist(),
        "shadowing_db": shadow.tolist(),
        "tx_power_dbm": [pw.min, pw.max],
        "noise_psd_dbm_hz": link.noise_psd_dbm_hz,
    }
    doc: dict[str, Any] = {
        "family": "flmar",
        "samples": [dev.samples] * n,
        "cycles_per_sample": cycles.tolist(),
        "channel_gain": gain.tolist(),
        "upload_bits": tr.upload_bits,
        "bandwidth": link.bandwidth_hz,
        "noise_psd": noise,
        "power": [p_min, p_max],
        "frequency": [f.min, f.max],
        "capacitance": dev.capacitance,
        "local_iterations": tr.local_iterations,
        "rounds": tr.rounds,
        "resolutions": res.tolist(),
        "reference_resolution": tr.reference_resolution,
        "accuracy": acc.tolist(),
        "weights": sc.weights,
        "deadline": sc.deadline,
        "name": sc.name,
        "description": sc.description,
        "meta": meta,
    }
    if sc.baseline is not None:
        doc["baseline"] = sc.baseline
    doc = {k: v for k, v in doc.items() if v is not None or k == "deadline"}
    try:
        return FlmarProblem.from_dict(doc)
    except ValidationError as exc:
        raise ValidationError(exc.field, f"{exc.problem} (compiled from the scenario)") from None
