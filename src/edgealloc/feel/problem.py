r"""The canonical ``feel`` problem: batch sizes and TDMA slots for federated edge learning.

Seed: J. Ren, G. Yu, G. Ding, *Accelerating DNN Training in Wireless Federated
Edge Learning Systems*, IEEE JSAC 2021 (Ren, Yu & Ding, IEEE JSAC 2021; "the
paper" below): problem P1 (17), Theorems 1-2, Algorithm 1 and the GPU
extension P7 (31). The field names are the public contract of
``docs/problem-files.md`` section 5.

In one communication round device :math:`k` computes the gradient of a batch
of :math:`B_k` samples, uploads it in its uplink slot :math:`\tau^U_k` of every
uplink frame :math:`T^U_f`, receives the global gradient in its downlink slot
:math:`\tau^D_k` and updates its model. The round lasts (eq. (15); GPU: eq. (29))

.. math::

    T = \max_k \Bigl(t_k(B_k) + \frac{s T^U_f}{\tau^U_k R^U_k}\Bigr)
      + \max_k \Bigl(\frac{s T^D_f}{\tau^D_k R^D_k} + u_k\Bigr),

with, on a CPU, :math:`t_k(B) = B C / f_k` (eq. (9)) and :math:`u_k = M^C / f_k`
(eq. (12)); on a GPU, Assumption 1 (eq. (27)),
:math:`t_k(B) = t^\ell_k + c_k \max(0, B - B^{th}_k)`, and :math:`u_k` the
update time (eq. (28)). The learning efficiency (Definition 1 with eq. (8)) is
:math:`E = \xi\sqrt{B}/T`, :math:`B = \sum_k B_k`, maximised over integers
:math:`1 \le B_k \le B^{max}` (17e) and slots :math:`\tau_k > 0` with
:math:`\sum_k \tau^U_k \le T^U_f` (17b) and :math:`\sum_k \tau^D_k \le T^D_f`
(17c). :meth:`FeelProblem.evaluate` recomputes all of it from the fields,
independently of the solvers.

Every plan is feasible for some latency: slots of any positive length deliver
every gradient eventually. So a valid problem always has an optimum; inputs
that would admit no plan (zero or non-finite rates, frames or bits) are
rejected as malformed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Literal

import numpy as np
import pydantic
from numpy.typing import ArrayLike, NDArray

from .._validation import CanonicalProblem, FrozenModel, array_field, check_length
from ..errors import ValidationError

__all__ = [
    "MAX_BATCH",
    "RTOL",
    "FeelAllocation",
    "FeelEvaluation",
    "FeelFrame",
    "FeelGpu",
    "FeelProblem",
]

#: Relative tolerance with which :meth:`FeelProblem.evaluate` accepts a frame budget
#: or a batch bound (solvers aim far tighter).
RTOL = 1e-9
# The ufuncs' own reductions (ndarray.sum() adds a Python-level wrapper; same pairwise sum).
_sum, _min, _max = np.add.reduce, np.minimum.reduce, np.maximum.reduce

#: Largest ``max_batch`` accepted: a bound from device memory (the paper's is 128); the
#: exact search works sample by sample, and beyond this the integrality is below rounding.
MAX_BATCH = 2**20

PositiveArray = array_field(positive=True)
NonNegArray = array_field(nonnegative=True)


def _real(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"must be a number (got {value})")
    if isinstance(value, np.generic):
        return value.item()
    return value


class FeelFrame(FrozenModel):
    """The TDMA frame lengths :math:`T^U_f, T^D_f` in seconds (LTE: 10 ms each)."""

    uplink: float = pydantic.Field(gt=0, allow_inf_nan=False)
    downlink: float = pydantic.Field(gt=0, allow_inf_nan=False)

    @pydantic.field_validator("uplink", "downlink", mode="before")
    @classmethod
    def _reals(cls, value: Any) -> Any:
        return _real(value)

    def to_dict(self) -> dict[str, Any]:
        return {"uplink": self.uplink, "downlink": self.downlink}


class FeelGpu(FrozenModel):
    """GPU training function, Assumption 1 (eq. (27)), and update time (eq. (28)).

    ``t_k(B) = base_time_k + slope_k * max(0, B - threshold_k)``: constant in the
    data-bound region ``B <= threshold_k``, linear beyond (Remark 6).
    """

    base_time: NonNegArray  # type: ignore[valid-type]
    slope: PositiveArray  # type: ignore[valid-type]
    threshold: NonNegArray  # type: ignore[valid-type]
    update_time: NonNegArray  # type: ignore[valid-type]

    @pydantic.model_validator(mode="after")
    def _lengths(self) -> FeelGpu:
        n = self.base_time.shape[0]
        for name in ("slope", "threshold", "update_time"):
            check_length(name, getattr(self, name), n, "gpu.base_time")
        return self

    def to_dict(self) -> dict[str, Any]:
        keys = ("base_time", "slope", "threshold", "update_time")
        return {k: getattr(self, k).tolist() for k in keys}


class FeelProblem(CanonicalProblem):
    r"""A canonical ``feel`` problem (docs/problem-files.md), validated and immutable.

    Parameters
    ----------
    cpu_hz
        :math:`f_k`, CPU clocks (> 0); required without ``gpu``.
    uplink_rate, downlink_rate
        :math:`R^U_k, R^D_k` (bit/s, > 0), the mean rates of eqs. (5)-(6). The
        uplink rates define the number of devices.
    cycles_per_sample
        :math:`C`, cycles to back-propagate one sample (eq. (9)); required without ``gpu``.
    update_cycles
        :math:`M^C`, cycles of the local model update (eq. (12)); required without ``gpu``.
    gradient_bits
        :math:`s = b p`, bits of one (quantised) gradient (> 0).
    frame
        :class:`FeelFrame` (or a mapping with ``uplink`` and ``downlink``).
    max_batch
        :math:`B^{max}` (integer, 1 to :data:`MAX_BATCH`), (17e).
    loss_decay
        :math:`\xi` in :math:`\Delta L = \xi\sqrt{B}` (eq. (8)), > 0; it scales the
        objective and never changes a plan.
    gpu
        ``None`` (CPU scenario) or :class:`FeelGpu` (GPU scenario, problem P7);
        with a GPU the CPU fields may be omitted and are not used.
    meta
        Free-form provenance; never read by solvers.

    Examples
    --------
    >>> p = FeelProblem(cpu_hz=[1e9, 2e9], uplink_rate=[1e8, 5e7], downlink_rate=[1e8, 5e7],
    ...                 cycles_per_sample=1e8, update_cycles=1e6, gradient_bits=2.6e8,
    ...                 frame={"uplink": 0.01, "downlink": 0.01}, max_batch=128)
    >>> p.n_devices, p.gpu is None
    (2, True)
    """

    family: Literal["feel"] = "feel"
    cpu_hz: PositiveArray | None = None  # type: ignore[valid-type]
    uplink_rate: PositiveArray  # type: ignore[valid-type]
    downlink_rate: PositiveArray  # type: ignore[valid-type]
    cycles_per_sample: float | None = pydantic.Field(default=None, gt=0, allow_inf_nan=False)
    update_cycles: float | None = pydantic.Field(default=None, ge=0, allow_inf_nan=False)
    gradient_bits: float = pydantic.Field(gt=0, allow_inf_nan=False)
    frame: FeelFrame
    max_batch: int = pydantic.Field(ge=1, le=MAX_BATCH)
    loss_decay: float = pydantic.Field(default=1.0, gt=0, allow_inf_nan=False)
    gpu: FeelGpu | None = None
    name: str | None = None
    description: str | None = None
    meta: dict[str, Any] | None = None

    FAMILY: ClassVar[str] = "feel"

    @pydantic.field_validator("max_batch", mode="before")
    @classmethod
    def _integral(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"must be an integer (got {value})")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, np.integer):
            return int(value)
        return value

    @pydantic.field_validator(
        "cycles_per_sample", "update_cycles", "gradient_bits", "loss_decay", mode="before"
    )
    @classmethod
    def _reals(cls, value: Any) -> Any:
        return _real(value)

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> FeelProblem:
        n = self.uplink_rate.shape[0]
        check_length("downlink_rate", self.downlink_rate, n, "uplink_rate")
        if self.gpu is None:
            for name in ("cpu_hz", "cycles_per_sample", "update_cycles"):
                if getattr(self, name) is None:
                    raise ValueError(f"{name}: missing required field (needed when gpu is null)")
        else:
            for name in ("base_time", "slope", "threshold", "update_time"):
                check_length(f"gpu.{name}", getattr(self.gpu, name), n, "uplink_rate")
            over = self.gpu.threshold > self.max_batch
            if over.any():
                i = int(np.flatnonzero(over)[0])
                raise ValueError(
                    f"gpu.threshold[{i}]: must be <= max_batch = {self.max_batch} "
                    f"(got {self.gpu.threshold[i]:g})"
                )
        if self.cpu_hz is not None:
            check_length("cpu_hz", self.cpu_hz, n, "uplink_rate")
        return self

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict[str, Any]:
        """The canonical document (JSON-ready), omitting unset optional fields."""
        out: dict[str, Any] = {"family": "feel"}
        if self.cpu_hz is not None:
            out["cpu_hz"] = self.cpu_hz.tolist()
        out["uplink_rate"] = self.uplink_rate.tolist()
        out["downlink_rate"] = self.downlink_rate.tolist()
        for key in ("cycles_per_sample", "update_cycles"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["gradient_bits"] = self.gradient_bits
        out["frame"] = self.frame.to_dict()
        out["max_batch"] = self.max_batch
        out["loss_decay"] = self.loss_decay
        out["gpu"] = None if self.gpu is None else self.gpu.to_dict()
        return self._named(out)

    # ------------------------------------------------------------ properties
    @property
    def n_devices(self) -> int:
        """Number of devices ``K``."""
        return int(self.uplink_rate.shape[0])

    @property
    def processor(self) -> str:
        """``"gpu"`` when a GPU training function is given, else ``"cpu"``."""
        return "cpu" if self.gpu is None else "gpu"

    # -------------------------------------------------------------- evaluate
    def compute_time(self, batch: ArrayLike) -> NDArray[np.float64]:
        """Local gradient time :math:`t_k(B_k)`: eq. (9) on a CPU, eq. (27) on a GPU."""
        b = np.asarray(batch, dtype=float)
        if self.gpu is None:
            return b * float(self.cycles_per_sample) / self.cpu_hz  # type: ignore[arg-type]
        g = self.gpu
        return g.base_time + g.slope * np.maximum(0.0, b - g.threshold)

    def update_time(self) -> NDArray[np.float64]:
        """Local model update time :math:`u_k`: eq. (12) on a CPU, eq. (28) on a GPU."""
        if self.gpu is None:
            return float(self.update_cycles) / self.cpu_hz  # type: ignore[arg-type]
        return np.array(self.gpu.update_time, dtype=float)

    def evaluate(
        self,
        batch: ArrayLike,
        uplink_slot: ArrayLike,
        downlink_slot: ArrayLike,
        *,
        integral: bool = True,
    ) -> FeelEvaluation:
        r"""Check a plan against every constraint and price it, independently of any solver.

        Parameters
        ----------
        batch
            :math:`B_k`, one per device.
        uplink_slot, downlink_slot
            :math:`\tau^U_k, \tau^D_k` in seconds per frame.
        integral
            Require integer batches (the problem as posed); ``False`` checks a
            continuous (relaxed) plan with the same constraints.

        Returns
        -------
        FeelEvaluation
            Per-device times, the latency of eq. (15) and its two parts, the
            global batch, the efficiency and the list of violations.

        Raises
        ------
        ValidationError
            When an array has the wrong length or a non-finite entry.
        """
        k = self.n_devices
        b = np.asarray(batch, dtype=float)
        up = np.asarray(uplink_slot, dtype=float)
        down = np.asarray(downlink_slot, dtype=float)
        # Each test below is one reduction where the plan passes it (a solver's plan, the
        # common case), and locates the first offender only where it fails (K >= 1: the
        # problem's arrays are validated non-empty).
        named = (("batch", b), ("uplink_slot", up), ("downlink_slot", down))
        for name, arr in named:
            if arr.shape != (k,):
                raise ValidationError(name, f"must have {k} entries (got shape {arr.shape})")
        with np.errstate(over="ignore", invalid="ignore"):  # inf - inf, overflow: refused below
            sums = [float(_sum(b)), float(_sum(up)), float(_sum(down))]
        for (name, arr), total in zip(named, sums, strict=True):
            # a finite sum has finite terms; an overflowing one is checked term by term
            if not (math.isfinite(total) or np.isfinite(arr).all()):
                raise ValidationError(name, "must be finite")
        violations: list[str] = []
        if integral and not np.array_equal(b, np.rint(b)):
            frac = np.flatnonzero(b != np.rint(b))
            violations.append(f"batch[{frac[0]}] = {b[frac[0]]} is not an integer")
        if float(_min(b)) < 1 - RTOL:
            low = np.flatnonzero(b < 1 - RTOL)
            violations.append(f"batch[{low[0]}] = {b[low[0]]:g} < 1 (17e)")
        if float(_max(b)) > self.max_batch * (1 + RTOL):
            high = np.flatnonzero(b > self.max_batch * (1 + RTOL))
            violations.append(
                f"batch[{high[0]}] = {b[high[0]]:g} > max_batch = {self.max_batch} (17e)"
            )
        slotted = True
        for name, arr, total, frame, eq in (
            ("uplink_slot", up, sums[1], self.frame.uplink, "(17b)"),
            ("downlink_slot", down, sums[2], self.frame.downlink, "(17c)"),
        ):
            if not float(_min(arr)) > 0:
                slotted = False
                bad = np.flatnonzero(arr <= 0)
                violations.append(
                    f"{name}[{bad[0]}] = {arr[bad[0]]:g}: a device without a slot never "
                    f"{'uploads' if name == 'uplink_slot' else 'receives'} its gradient (17f)"
                )
            if total > frame * (1 + RTOL):
                violations.append(f"{name}s sum to {total:.9g} s > frame {frame:g} s {eq}")
        s = float(self.gradient_bits)
        if slotted:
            upload = (s * self.frame.uplink) / (up * self.uplink_rate)
            download = (s * self.frame.downlink) / (down * self.downlink_rate)
        else:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                upload = np.where(up > 0, s * self.frame.uplink / (up * self.uplink_rate), np.inf)
                download = np.where(
                    down > 0, s * self.frame.downlink / (down * self.downlink_rate), np.inf
                )
        compute = self.compute_time(b)
        update = self.update_time()
        lat_up = float(_max(compute + upload))
        lat_down = float(_max(download + update))
        latency = lat_up + lat_down
        total_batch = sums[0]
        efficiency = (
            self.loss_decay * math.sqrt(max(total_batch, 0.0)) / latency
            if math.isfinite(latency)
            else 0.0
        )
        return FeelEvaluation(
            compute_time=compute,
            upload_time=upload,
            download_time=download,
            update_time=update,
            latency_uplink=lat_up,
            latency_downlink=lat_down,
            latency=latency,
            global_batch=total_batch,
            efficiency=efficiency,
            violations=tuple(violations),
        )


@dataclasses.dataclass(frozen=True)
class FeelEvaluation:
    """What :meth:`FeelProblem.evaluate` found (all times in seconds)."""

    compute_time: NDArray[np.float64]
    upload_time: NDArray[np.float64]
    download_time: NDArray[np.float64]
    update_time: NDArray[np.float64]
    latency_uplink: float
    latency_downlink: float
    latency: float
    global_batch: float
    efficiency: float
    violations: tuple[str, ...]

    @property
    def feasible(self) -> bool:
        """True when no constraint is violated."""
        return not self.violations


@dataclasses.dataclass(frozen=True)
class FeelAllocation:
    """The ``feel`` part of a :class:`~edgealloc.Result` (docs/problem-files.md).

    ``batch`` is an integer array for integral schemes and a float array for
    ``relaxed``; every time comes from :meth:`FeelProblem.evaluate`, not from
    the solver.
    """

    batch: NDArray[Any]
    global_batch: float  # an int for integral schemes
    uplink_slot: NDArray[np.float64]
    downlink_slot: NDArray[np.float64]
    latency: float
    latency_uplink: float
    latency_downlink: float
    efficiency: float
    compute_time: NDArray[np.float64]
    upload_time: NDArray[np.float64]
    download_time: NDArray[np.float64]

    def to_dict(self) -> dict[str, Any]:
        integral = np.issubdtype(self.batch.dtype, np.integer)
        return {
            "batch": self.batch.tolist(),
            "global_batch": int(self.global_batch) if integral else self.global_batch,
            "uplink_slot": self.uplink_slot.tolist(),
            "downlink_slot": self.downlink_slot.tolist(),
            "latency": self.latency,
            "latency_uplink": self.latency_uplink,
            "latency_downlink": self.latency_downlink,
            "efficiency": self.efficiency,
            "compute_time": self.compute_time.tolist(),
            "upload_time": self.upload_time.tolist(),
            "download_time": self.download_time.tolist(),
        }
