r"""The canonical ``flmar`` problem: bandwidth, power, clock and frame resolution per device.

Seed: X. Zhou, C. Liu, J. Zhao, *Resource Allocation of Federated Learning for
the Metaverse with Mobile Augmented Reality*, IEEE TWC 2023 (Zhou, Liu & Zhao, IEEE TWC 2023;
its formulas are restored in ``docs/flmar.md``, whose equation numbers are
used here). The field names are the public contract of FLMAR.md section 8.

Device :math:`n` gets bandwidth :math:`b_n`, power :math:`p_n`, CPU clock
:math:`f_n` and a frame resolution :math:`s_n \in \{s_1 < \dots < s_K\}`.
With :math:`\sigma_n = (s_n/s_0)^2` and :math:`K_n = R_l c_n D_n`:

.. math::

    r_n &= b_n \log_2(1 + g_n p_n / (N_0 b_n))                      && (1)\\
    E &= R_g \sum_n \bigl(p_n d_n / r_n + \kappa K_n \sigma_n f_n^2\bigr) && (3), (8), (9)\\
    T &= R_g \max_n \bigl(K_n \sigma_n / f_n + d_n / r_n\bigr)           && (2), (10), (11)

and the problem (12) minimises :math:`w_1 E + w_2 T - \rho \sum_n A(s_n)`
subject to :math:`\sum_n b_n \le B` (12a), :math:`p_n \in [p_{min}, p_{max}]`
(12b), :math:`f_n \in [f_{min}, f_{max}]` (12c), :math:`s_n` one of the options
(12d) and, when ``deadline`` is given, :math:`T \le T_{max}`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
import pydantic
from numpy.typing import ArrayLike, NDArray

from .._validation import CanonicalProblem, FrozenModel, array_field, number_problem
from ..errors import ValidationError
from ._math import rate

__all__ = [
    "RTOL",
    "FlmarAllocation",
    "FlmarBaseline",
    "FlmarEvaluation",
    "FlmarProblem",
    "FlmarWeights",
]

#: Relative tolerance with which :meth:`FlmarProblem.evaluate` accepts a bound, the
#: bandwidth budget and the deadline (FLMAR.md section 8; solvers aim far tighter).
RTOL = 1e-7

PositiveArray = array_field(positive=True)
NonNegArray = array_field(nonnegative=True)
_FINITE = {"allow_inf_nan": False}


class FlmarWeights(FrozenModel):
    """The weights of objective (12): ``energy`` w1 (1/J), ``time`` w2 (1/s), ``accuracy`` rho.

    Used as given: the paper's normalisation w1 + w2 = 1 is not enforced.
    """

    energy: float = pydantic.Field(ge=0, **_FINITE)
    time: float = pydantic.Field(ge=0, **_FINITE)
    accuracy: float = pydantic.Field(ge=0, **_FINITE)

    def to_dict(self) -> dict[str, Any]:
        return {"energy": self.energy, "time": self.time, "accuracy": self.accuracy}


class FlmarBaseline(FrozenModel):
    """What the random baselines draw (FLMAR.md section 5.6) and their seed.

    ``randomize: frequency`` (Fig. 4, the p_max sweep) draws each clock uniformly
    in ``[f_min, f_max]`` at ``p_max``; ``power`` (Fig. 5, the f_max sweep) draws
    each power uniformly in dBm in ``[p_min, p_max]`` at ``f_max``.
    """

    randomize: Literal["frequency", "power"] = "frequency"
    seed: int = pydantic.Field(default=0, ge=0, le=2**63 - 1)

    def to_dict(self) -> dict[str, Any]:
        return {"randomize": self.randomize, "seed": self.seed}


def _numbers(value: Any, n: int, field: str, *, zero_ok: bool) -> float | list[float]:
    """A number or a list of ``n`` numbers, each strict (:func:`number_problem`) and > 0.

    ``zero_ok``: 0 is allowed (``p_min``). Errors name ``field`` or ``field[i]``.
    """
    sign = ">=" if zero_ok else ">"
    if isinstance(value, list | tuple | np.ndarray):
        items = list(value)
        if len(items) != n:
            raise ValidationError(
                field, f"has {len(items)} entries, expected {n} (one per device, as samples)"
            )
        out = []
        for i, item in enumerate(items):
            problem, x = number_problem(item)
            if problem is None and (x < 0 or (x == 0 and not zero_ok)):
                problem = f"must be {sign} 0 (got {x:g})"
            if problem is not None:
                raise ValidationError(f"{field}[{i}]", problem)
            out.append(x)
        return out
    problem, x = number_problem(value)
    if problem is None and (x < 0 or (x == 0 and not zero_ok)):
        problem = f"must be {sign} 0 (got {x:g})"
    if problem is not None:
        if isinstance(value, Mapping | str | bytes) or value is None or isinstance(value, bool):
            problem = f"must be a number or a list of {n} numbers (got {_kind(value)})"
        raise ValidationError(field, problem)
    return x


def _kind(value: Any) -> str:
    return type(value).__name__ if not isinstance(value, str) else repr(value)[:40]


def _bounds(value: Any, n: int, name: str, *, lower_may_be_zero: bool) -> tuple[Any, Any]:
    """Validate ``[low, high]`` where each is a number or a list of ``n`` numbers."""
    if not isinstance(value, list | tuple):
        raise ValidationError(name, f"must be a pair [min, max] (got {_kind(value)})")
    if len(value) != 2:
        raise ValidationError(name, f"must be a pair [min, max] (got {len(value)} entries)")
    lo_v = _numbers(value[0], n, f"{name}[0]", zero_ok=lower_may_be_zero)
    hi_v = _numbers(value[1], n, f"{name}[1]", zero_ok=False)
    lo = np.broadcast_to(np.asarray(lo_v, float), (n,))
    hi = np.broadcast_to(np.asarray(hi_v, float), (n,))
    bad = lo > hi
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(name, f"min must be <= max (device {i}: {lo[i]:g} > {hi[i]:g})")
    return lo_v, hi_v


class FlmarProblem(CanonicalProblem):
    """A canonical ``flmar`` problem (FLMAR.md section 8), validated and immutable.

    Parameters
    ----------
    samples
        ``D_n``, training frames per device (> 0).
    cycles_per_sample
        ``c_n``, CPU cycles per frame at ``reference_resolution`` (> 0).
    channel_gain
        ``g_n``, expected linear channel power gain (> 0).
    upload_bits
        ``d_n``, bits uploaded per round: a number or one per device (> 0).
    bandwidth
        ``B``, total uplink bandwidth (Hz).
    noise_psd
        ``N0`` (W/Hz).
    power, frequency
        ``[min, max]`` in W and Hz; each a number or one per device
        (``p_min`` may be 0).
    capacitance
        ``kappa`` of the computation energy (8).
    local_iterations, rounds
        ``R_l`` and ``R_g``.
    resolutions
        ``s_1 < ... < s_K`` (px, the side of a square frame: whole numbers >= 1).
    reference_resolution
        ``s_0``: ``cycles_per_sample`` is measured at this resolution.
    accuracy
        ``A(s_k)`` (>= 0), one per option; the objective uses ``sum_n A(s_n)``.
    weights
        :class:`FlmarWeights` ``{energy, time, accuracy}`` = ``(w1, w2, rho)``.
    deadline
        Optional limit ``T_max`` on the completion time (11), seconds.
    baseline
        :class:`FlmarBaseline`: what the random baselines draw, and the seed.
    name, description, meta
        Free-form; never read by solvers.

    Examples
    --------
    >>> p = FlmarProblem(samples=[500, 500], cycles_per_sample=[2e4, 1e4],
    ...                  channel_gain=[1e-10, 1e-11], upload_bits=28100, bandwidth=2e6,
    ...                  noise_psd=3.98e-21, power=[1e-3, 0.0158], frequency=[1e8, 2e9],
    ...                  capacitance=1e-28, local_iterations=10, rounds=100,
    ...                  resolutions=[160, 320], reference_resolution=160,
    ...                  accuracy=[0.44, 0.62],
    ...                  weights={"energy": 0.5, "time": 0.5, "accuracy": 1.0})
    >>> p.n_devices, p.n_options
    (2, 2)
    """

    family: Literal["flmar"] = "flmar"
    samples: PositiveArray  # type: ignore[valid-type]
    cycles_per_sample: PositiveArray  # type: ignore[valid-type]
    channel_gain: PositiveArray  # type: ignore[valid-type]
    upload_bits: Any
    bandwidth: float = pydantic.Field(gt=0, **_FINITE)
    noise_psd: float = pydantic.Field(gt=0, **_FINITE)
    power: Any
    frequency: Any
    capacitance: float = pydantic.Field(gt=0, **_FINITE)
    local_iterations: float = pydantic.Field(gt=0, **_FINITE)
    rounds: float = pydantic.Field(gt=0, **_FINITE)
    resolutions: PositiveArray  # type: ignore[valid-type]
    reference_resolution: float = pydantic.Field(gt=0, **_FINITE)
    accuracy: NonNegArray  # type: ignore[valid-type]
    weights: FlmarWeights
    deadline: float | None = pydantic.Field(default=None, gt=0, **_FINITE)
    baseline: FlmarBaseline = FlmarBaseline()
    name: str | None = None
    description: str | None = None
    meta: dict[str, Any] | None = None

    FAMILY: ClassVar[str] = "flmar"

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> FlmarProblem:
        n = self.samples.shape[0]
        for name in ("cycles_per_sample", "channel_gain"):
            arr = getattr(self, name)
            if arr.shape[0] != n:
                raise ValidationError(
                    name, f"has {arr.shape[0]} entries, expected {n} (one per device, as samples)"
                )
        ub = _numbers(self.upload_bits, n, "upload_bits", zero_ok=False)
        object.__setattr__(self, "upload_bits", ub)
        p = _bounds(self.power, n, "power", lower_may_be_zero=True)
        f = _bounds(self.frequency, n, "frequency", lower_may_be_zero=False)
        object.__setattr__(self, "power", list(p))
        object.__setattr__(self, "frequency", list(f))
        s = self.resolutions
        frac = (s != np.round(s)) | (s < 1)
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            raise ValidationError(
                f"resolutions[{i}]", f"must be a whole number of pixels >= 1 (got {s[i]:g})"
            )
        if s.size > 1 and (np.diff(s) <= 0).any():
            i = int(np.flatnonzero(np.diff(s) <= 0)[0]) + 1
            raise ValidationError(
                f"resolutions[{i}]", f"must be > resolutions[{i - 1}] (strictly increasing)"
            )
        if self.accuracy.shape[0] != s.shape[0]:
            raise ValidationError(
                "accuracy",
                f"has {self.accuracy.shape[0]} entries, expected {s.shape[0]} "
                "(one per resolution option)",
            )
        w = self.weights
        if w.energy + w.time <= 0 and self.deadline is None:
            raise ValidationError(
                "weights",
                "energy + time must be > 0 unless a deadline is given "
                "(otherwise nothing limits energy or time)",
            )
        if w.time == 0 and self.deadline is None and (self.power_min <= 0).any():
            i = int(np.flatnonzero(self.power_min <= 0)[0])
            raise ValidationError(
                "weights.time",
                f"is 0 with no deadline, so the power floor must be > 0 (device {i} has "
                "p_min = 0: its upload could be made ever slower for ever less energy and no "
                "allocation is optimal); give a deadline, a time weight or p_min > 0",
            )
        return self

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict[str, Any]:
        """The canonical document (JSON-ready), omitting unset optional fields."""

        def num(x: float) -> float | int:
            return int(x) if float(x).is_integer() and abs(x) < 2**53 else float(x)

        out: dict[str, Any] = {
            "family": "flmar",
            "samples": self.samples.tolist(),
            "cycles_per_sample": self.cycles_per_sample.tolist(),
            "channel_gain": self.channel_gain.tolist(),
            "upload_bits": self.upload_bits,
            "bandwidth": self.bandwidth,
            "noise_psd": self.noise_psd,
            "power": list(self.power),
            "frequency": list(self.frequency),
            "capacitance": self.capacitance,
            "local_iterations": num(self.local_iterations),
            "rounds": num(self.rounds),
            "resolutions": [num(x) for x in self.resolutions.tolist()],
            "reference_resolution": num(self.reference_resolution),
            "accuracy": self.accuracy.tolist(),
            "weights": self.weights.to_dict(),
            "deadline": self.deadline,
            "baseline": self.baseline.to_dict(),
        }
        return self._named(out)

    # ------------------------------------------------------------ properties
    @property
    def n_devices(self) -> int:
        """Number of devices ``N``."""
        return int(self.samples.shape[0])

    @property
    def n_options(self) -> int:
        """Number of resolution options ``K``."""
        return int(self.resolutions.shape[0])

    def _per_device(self, value: Any) -> NDArray[np.float64]:
        out = np.array(np.broadcast_to(np.asarray(value, float), (self.n_devices,)))
        out.setflags(write=False)
        return out

    @property
    def bits(self) -> NDArray[np.float64]:
        """``d_n`` per device (bits per round)."""
        return self._per_device(self.upload_bits)

    @property
    def power_min(self) -> NDArray[np.float64]:
        """``p_min`` per device (W)."""
        return self._per_device(self.power[0])

    @property
    def power_max(self) -> NDArray[np.float64]:
        """``p_max`` per device (W)."""
        return self._per_device(self.power[1])

    @property
    def frequency_min(self) -> NDArray[np.float64]:
        """``f_min`` per device (Hz)."""
        return self._per_device(self.frequency[0])

    @property
    def frequency_max(self) -> NDArray[np.float64]:
        """``f_max`` per device (Hz)."""
        return self._per_device(self.frequency[1])

    @property
    def cycles_per_round(self) -> NDArray[np.float64]:
        """``K_n = R_l c_n D_n``: CPU cycles of one round at ``s_0`` (FLMAR.md section 1)."""
        return self.local_iterations * self.cycles_per_sample * self.samples

    @property
    def cycle_factors(self) -> NDArray[np.float64]:
        """``sigma_k = (s_k / s_0)^2`` per option, eq. (7)."""
        return (self.resolutions / self.reference_resolution) ** 2

    @property
    def round_limit(self) -> float:
        """``T_max / R_g`` (the bound on the round time ``tau``), ``inf`` without a deadline."""
        return math.inf if self.deadline is None else self.deadline / self.rounds

    # -------------------------------------------------------------- evaluate
    def option_index(self, resolution: ArrayLike) -> NDArray[np.int64]:
        """Index of each device's resolution among the options (-1 when it is none of them)."""
        s = np.asarray(resolution, dtype=float)
        idx = np.searchsorted(self.resolutions, s)
        idx = np.clip(idx, 0, self.n_options - 1)
        lower = np.clip(idx - 1, 0, self.n_options - 1)
        near = np.where(
            np.abs(self.resolutions[lower] - s) < np.abs(self.resolutions[idx] - s), lower, idx
        )
        ok = np.abs(self.resolutions[near] - s) <= 1e-9 * self.resolutions[near]
        return np.where(ok, near, -1).astype(np.int64)

    def evaluate(
        self, bandwidth: ArrayLike, power: ArrayLike, frequency: ArrayLike, resolution: ArrayLike
    ) -> FlmarEvaluation:
        """Check an allocation against (12a)-(12d) and the deadline, independently of any solver.

        Recomputes the rates (1), energy (9), completion time (11), the accuracy
        term and objective (12). Bounds, the bandwidth budget and the deadline
        are accepted within :data:`RTOL` relative.

        Parameters
        ----------
        bandwidth, power, frequency, resolution
            Per-device ``b_n`` (Hz), ``p_n`` (W), ``f_n`` (Hz) and ``s_n`` (px).

        Returns
        -------
        FlmarEvaluation
            Per-device times and energies, totals, the objective and the list
            of violations.
        """
        n = self.n_devices
        arrays = {}
        for key, value in (
            ("bandwidth", bandwidth),
            ("power", power),
            ("frequency", frequency),
            ("resolution", resolution),
        ):
            arr = np.asarray(value, dtype=float)
            if arr.shape != (n,):
                raise ValidationError(
                    "allocation", f"{key} must have {n} entries (got shape {arr.shape})"
                )
            if not np.isfinite(arr).all():
                raise ValidationError("allocation", f"{key} must be finite")
            arrays[key] = arr
        b, p, f, s = (arrays[k] for k in ("bandwidth", "power", "frequency", "resolution"))
        violations: list[str] = []

        def first(mask: NDArray[np.bool_], text: str) -> None:
            if mask.any():
                i = int(np.flatnonzero(mask)[0])
                violations.append(f"{int(mask.sum())} device(s) {text}, e.g. device {i}")

        k = self.option_index(s)
        first(k < 0, "use a resolution that is not an option")
        kk = np.where(k < 0, 0, k)
        first(b <= 0, "have no bandwidth (b_n must be > 0)")
        first(p <= 0, "transmit at zero power (their rate is 0)")
        total_b = float(b.sum())
        if total_b > self.bandwidth * (1 + RTOL):
            violations.append(f"bandwidth sums to {total_b:.9g} Hz > B = {self.bandwidth:g} Hz")
        pmin, pmax = self.power_min, self.power_max
        fmin, fmax = self.frequency_min, self.frequency_max
        first(p < pmin * (1 - RTOL), "transmit below p_min")
        first(p > pmax * (1 + RTOL), "transmit above p_max")
        first(f < fmin * (1 - RTOL), "run below f_min")
        first(f > fmax * (1 + RTOL), "run above f_max")

        r = rate(np.maximum(b, 0.0), np.maximum(p, 0.0), self.channel_gain, self.noise_psd)
        with np.errstate(divide="ignore", invalid="ignore"):
            upload = np.where(r > 0, self.bits / r, np.inf)
            cycles = self.cycles_per_round * self.cycle_factors[kk]
            compute = cycles / f
            e_tx = self.rounds * p * upload  # (3) times R_g
        e_cmp = self.rounds * self.capacitance * cycles * f**2  # (8) times R_g
        device_time = compute + upload
        round_time = float(device_time.max())
        total_time = self.rounds * round_time  # (11)
        if self.deadline is not None and total_time > self.deadline * (1 + RTOL):
            i = int(np.argmax(device_time))
            violations.append(
                f"completion time T = {total_time:.9g} s exceeds the deadline "
                f"{self.deadline:g} s (slowest: device {i})"
            )
        energy_tx = float(e_tx.sum())
        energy_cmp = float(e_cmp.sum())
        energy = energy_tx + energy_cmp  # (9)
        acc = float(self.accuracy[kk].sum())
        w = self.weights
        with np.errstate(invalid="ignore"):
            objective = w.energy * energy + w.time * total_time - w.accuracy * acc  # (12)
        return FlmarEvaluation(
            rate=r,
            upload_time=upload,
            compute_time=compute,
            device_time=device_time,
            energy_transmission_device=e_tx,
            energy_computation_device=e_cmp,
            energy=energy,
            energy_transmission=energy_tx,
            energy_computation=energy_cmp,
            time=total_time,
            round_time=round_time,
            accuracy=acc,
            mean_accuracy=acc / n,
            objective=float(objective),
            option=k,
            violations=tuple(violations),
        )


@dataclasses.dataclass(frozen=True)
class FlmarEvaluation:
    """What :meth:`FlmarProblem.evaluate` found (totals over all ``R_g`` rounds)."""

    rate: NDArray[np.float64]
    upload_time: NDArray[np.float64]
    compute_time: NDArray[np.float64]
    device_time: NDArray[np.float64]
    energy_transmission_device: NDArray[np.float64]
    energy_computation_device: NDArray[np.float64]
    energy: float
    energy_transmission: float
    energy_computation: float
    time: float
    round_time: float
    accuracy: float
    mean_accuracy: float
    objective: float
    option: NDArray[np.int64]
    violations: tuple[str, ...]

    @property
    def feasible(self) -> bool:
        """True when no constraint is violated."""
        return not self.violations


@dataclasses.dataclass(frozen=True)
class FlmarAllocation:
    """The ``flmar`` part of a :class:`~edgealloc.Result` (FLMAR.md section 8).

    The totals come from :meth:`FlmarProblem.evaluate`, not from the solver;
    ``iterations`` counts the scheme's passes (BCD passes, branch-and-bound
    nodes, ...).
    """

    bandwidth: NDArray[np.float64]
    power: NDArray[np.float64]
    frequency: NDArray[np.float64]
    resolution: NDArray[np.int64]
    energy: float
    energy_transmission: float
    energy_computation: float
    time: float
    round_time: float
    accuracy: float
    mean_accuracy: float
    iterations: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "bandwidth": self.bandwidth.tolist(),
            "power": self.power.tolist(),
            "frequency": self.frequency.tolist(),
            "resolution": self.resolution.tolist(),
            "energy": self.energy,
            "energy_transmission": self.energy_transmission,
            "energy_computation": self.energy_computation,
            "time": self.time,
            "round_time": self.round_time,
            "accuracy": self.accuracy,
            "mean_accuracy": self.mean_accuracy,
            "iterations": self.iterations,
        }
