r"""The canonical ``mel`` problem: batch sizes and local iterations for mobile edge learning.

Seeds: Mohammad & Sorour, *Adaptive Task Allocation for Mobile Edge Learning*
(synchronous; problem (12), relaxation (13), Theorem 1) and *Asynchronous
Task Allocation for MEL with energy constraints* (problem (16), relaxation
(17), Algorithm 1). The field names are the public contract of
``docs/problem-files.md`` section 3.

Device :math:`k` given :math:`d_k` samples and :math:`\tau_k` local
iterations needs time and energy (sync paper eq. (8), async eqs. (10)-(11))

.. math::

    t_k = c_{2,k}\,\tau_k d_k + c_{1,k}\,d_k + c_{0,k} \le T, \qquad
    e_k = g_{2,k}\,\tau_k d_k + g_{1,k}\,d_k + g_{0,k} \le E_k,

with integers :math:`d_k \ge 0`, :math:`\sum_k d_k = d` and :math:`\tau_k \ge 1`.
A device with :math:`d_k = 0` does not take part (no time, no energy,
:math:`\tau_k` reported 0, exempt from staleness); that is allowed only when
``min_samples`` is 0, otherwise every device has :math:`d_k \ge` ``min_samples``.
Participants always hold at least one sample. Synchronous problems
(``staleness`` null) have one common :math:`\tau` and maximise it;
asynchronous ones maximise :math:`\frac1K\sum_k\tau_k` subject to
:math:`|\tau_k-\tau_l|\le c` among participants.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import numpy as np
import pydantic
from numpy.typing import ArrayLike, NDArray

from .._validation import CanonicalProblem, FrozenModel, array_field, check_length
from ..errors import ValidationError

__all__ = ["RTOL", "MelAllocation", "MelEnergy", "MelEvaluation", "MelProblem"]

#: Relative tolerance with which :meth:`MelProblem.evaluate` accepts a time or
#: energy constraint (solvers aim 1000 times tighter).
RTOL = 1e-9

#: Largest ``n_devices * total_samples``: sums of per-device sample counts stay in int64.
MAX_SAMPLE_SLOTS = 2**62

PositiveArray = array_field(positive=True)
NonNegArray = array_field(nonnegative=True)


class MelEnergy(FrozenModel):
    """Per-device energy model ``e_k = g2_k tau_k d_k + g1_k d_k + g0_k <= budget_k``.

    Async paper eq. (10): ``g2`` is the computation energy per sample and
    iteration (eq. (8)), ``g1`` and ``g0`` the transmission energy of the
    per-sample and fixed parts of the model upload.
    """

    g2: NonNegArray  # type: ignore[valid-type]
    g1: NonNegArray  # type: ignore[valid-type]
    g0: NonNegArray  # type: ignore[valid-type]
    budget: NonNegArray  # type: ignore[valid-type]

    @pydantic.model_validator(mode="after")
    def _lengths(self) -> MelEnergy:
        n = self.g2.shape[0]
        for name in ("g1", "g0", "budget"):
            check_length(name, getattr(self, name), n, "energy.g2")
        return self

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k).tolist() for k in ("g2", "g1", "g0", "budget")}


class MelProblem(CanonicalProblem):
    """A canonical ``mel`` problem (docs/problem-files.md), validated and immutable.

    Parameters
    ----------
    deadline
        ``T``, seconds per global cycle (> 0).
    total_samples
        ``d``, samples the orchestrator must cover per cycle (integer >= 1).
    c2, c1, c0
        Time coefficients, one per device: ``c2 > 0``, ``c1, c0 >= 0``.
    energy
        Optional :class:`MelEnergy` (or a mapping with ``g2, g1, g0, budget``).
    min_samples
        ``d_l``: lower bound on every participating ``d_k``; 0 lets devices sit out.
    staleness
        ``None`` for synchronous, or the integer staleness bound ``c >= 0``.
    meta
        Free-form provenance (e.g. the scenario it was compiled from); never
        read by solvers.

    Examples
    --------
    >>> p = MelProblem(deadline=10.0, total_samples=100,
    ...                c2=[0.01, 0.02], c1=[0.001, 0.001], c0=[0.5, 0.5])
    >>> p.n_devices, p.synchronous
    (2, True)
    """

    family: Literal["mel"] = "mel"
    deadline: float = pydantic.Field(gt=0, allow_inf_nan=False)
    total_samples: int = pydantic.Field(ge=1)
    c2: PositiveArray  # type: ignore[valid-type]
    c1: NonNegArray  # type: ignore[valid-type]
    c0: NonNegArray  # type: ignore[valid-type]
    energy: MelEnergy | None = None
    min_samples: int = pydantic.Field(default=1, ge=0)
    staleness: int | None = pydantic.Field(default=None, ge=0)
    name: str | None = None
    description: str | None = None
    meta: dict[str, Any] | None = None

    FAMILY: ClassVar[str] = "mel"

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> MelProblem:
        n = self.c2.shape[0]
        check_length("c1", self.c1, n, "c2")
        check_length("c0", self.c0, n, "c2")
        if self.energy is not None:
            for name in ("g2", "g1", "g0", "budget"):
                check_length(f"energy.{name}", getattr(self.energy, name), n, "c2")
        if n * self.total_samples > MAX_SAMPLE_SLOTS:
            raise ValidationError(
                "total_samples",
                f"must be at most 2**62 / {n} devices = {MAX_SAMPLE_SLOTS // n} "
                f"(got {self.total_samples}): sums of per-device samples must fit in int64",
            )
        return self

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict[str, Any]:
        """The canonical document (JSON-ready), omitting unset optional fields."""
        out: dict[str, Any] = {
            "family": "mel",
            "deadline": self.deadline,
            "total_samples": self.total_samples,
            "c2": self.c2.tolist(),
            "c1": self.c1.tolist(),
            "c0": self.c0.tolist(),
        }
        if self.energy is not None:
            out["energy"] = self.energy.to_dict()
        out["min_samples"] = self.min_samples
        out["staleness"] = self.staleness
        return self._named(out)

    # ------------------------------------------------------------ properties
    @property
    def n_devices(self) -> int:
        """Number of devices ``K``."""
        return int(self.c2.shape[0])

    @property
    def synchronous(self) -> bool:
        """True when ``staleness`` is ``None`` (one common ``tau``)."""
        return self.staleness is None

    @property
    def participant_floor(self) -> int:
        """Samples every participant must hold: ``max(1, min_samples)``."""
        return max(1, self.min_samples)

    # -------------------------------------------------------------- evaluate
    def times(self, tau: ArrayLike, samples: ArrayLike) -> NDArray[np.float64]:
        """Per-device cycle time ``t_k`` (0 for devices with ``d_k = 0``)."""
        tau = np.asarray(tau, dtype=float)
        d = np.asarray(samples, dtype=float)
        t = self.c2 * tau * d + self.c1 * d + self.c0
        return np.where(d > 0, t, 0.0)

    def energies(self, tau: ArrayLike, samples: ArrayLike) -> NDArray[np.float64] | None:
        """Per-device energy ``e_k`` (0 for devices with ``d_k = 0``), or ``None``."""
        if self.energy is None:
            return None
        e = self.energy
        tau = np.asarray(tau, dtype=float)
        d = np.asarray(samples, dtype=float)
        out = e.g2 * tau * d + e.g1 * d + e.g0
        return np.where(d > 0, out, 0.0)

    def evaluate(
        self, tau: ArrayLike, samples: ArrayLike, *, integral: bool = True
    ) -> MelEvaluation:
        """Check an allocation against every constraint, independently of any solver.

        Parameters
        ----------
        tau, samples
            Per-device ``tau_k`` and ``d_k`` (``tau_k = 0`` where ``d_k = 0``).
        integral
            Require integers (the problem as posed). ``False`` checks a
            continuous (relaxed) allocation with the same constraints.

        Returns
        -------
        MelEvaluation
            Times, energies, objective, cycle time and the list of violations.
        """
        k = self.n_devices
        tau = np.asarray(tau, dtype=float)
        d = np.asarray(samples, dtype=float)
        violations: list[str] = []
        if tau.shape != (k,) or d.shape != (k,):
            raise ValidationError(
                "allocation",
                f"tau and samples must have {k} entries (got {tau.shape}, {d.shape})",
            )
        if not (np.isfinite(tau).all() and np.isfinite(d).all()):
            raise ValidationError("allocation", "tau and samples must be finite")
        scale = max(1.0, float(self.total_samples))
        if integral:
            for name, arr in (("samples", d), ("tau", tau)):
                bad = np.flatnonzero(arr != np.round(arr))
                if bad.size:
                    violations.append(f"{name}[{bad[0]}] = {arr[bad[0]]} is not an integer")
        if (d < 0).any():
            i = int(np.flatnonzero(d < 0)[0])
            violations.append(f"samples[{i}] = {d[i]} is negative")
        total = float(d.sum())
        if abs(total - self.total_samples) > (0.0 if integral else RTOL * scale):
            violations.append(f"samples sum to {total:g}, not total_samples = {self.total_samples}")
        part = d > 0
        floor = self.participant_floor
        if self.min_samples > 0 and (~part).any():
            i = int(np.flatnonzero(~part)[0])
            violations.append(f"device {i} has no samples but min_samples = {self.min_samples}")
        low = part & (d < floor * (1 - RTOL))
        if low.any():
            i = int(np.flatnonzero(low)[0])
            violations.append(f"samples[{i}] = {d[i]:g} is below the participant floor {floor}")
        bad_tau = part & (tau < 1 - RTOL)
        if bad_tau.any():
            i = int(np.flatnonzero(bad_tau)[0])
            violations.append(f"tau[{i}] = {tau[i]:g} < 1 for a participating device")
        idle_tau = ~part & (tau != 0)
        if idle_tau.any():
            i = int(np.flatnonzero(idle_tau)[0])
            violations.append(f"tau[{i}] = {tau[i]:g} but device {i} has no samples (must be 0)")
        times = self.times(tau, d)
        late = times > self.deadline * (1 + RTOL)
        if late.any():
            i = int(np.flatnonzero(late)[0])
            violations.append(
                f"{int(late.sum())} device(s) miss the deadline, e.g. device {i}: "
                f"t = {times[i]:.6g} s > T = {self.deadline:g} s"
            )
        energies = self.energies(tau, d)
        if energies is not None and self.energy is not None:
            over = energies > self.energy.budget * (1 + RTOL) + 1e-300
            if over.any():
                i = int(np.flatnonzero(over)[0])
                violations.append(
                    f"{int(over.sum())} device(s) exceed their energy budget, e.g. device {i}: "
                    f"e = {energies[i]:.6g} J > {self.energy.budget[i]:g} J"
                )
        ptau = tau[part]
        if ptau.size:
            spread = float(ptau.max() - ptau.min())
            limit = 0.0 if self.staleness is None else float(self.staleness)
            if spread > limit + (0.0 if integral else RTOL * max(1.0, float(ptau.max()))):
                what = (
                    "synchronous problem needs equal tau"
                    if self.staleness is None
                    else (f"staleness bound c = {self.staleness}")
                )
                violations.append(f"tau spread {spread:g} among participants violates {what}")
        if self.staleness is None:
            objective = float(ptau.min()) if ptau.size else 0.0
        else:
            objective = float(tau.sum() / k)
        cycle = float(times.max()) if times.size else 0.0
        return MelEvaluation(
            times=times,
            energies=energies,
            objective=objective,
            cycle_time=cycle,
            participants=part,
            violations=tuple(violations),
        )


@dataclasses.dataclass(frozen=True)
class MelEvaluation:
    """What :meth:`MelProblem.evaluate` found."""

    times: NDArray[np.float64]
    energies: NDArray[np.float64] | None
    objective: float
    cycle_time: float
    participants: NDArray[np.bool_]
    violations: tuple[str, ...]

    @property
    def feasible(self) -> bool:
        """True when no constraint is violated."""
        return not self.violations


@dataclasses.dataclass(frozen=True)
class MelAllocation:
    """The ``mel`` part of a :class:`~edgealloc.Result` (docs/problem-files.md).

    ``tau`` and ``samples`` are integer arrays for integral schemes and float
    arrays for ``relaxed``; ``times``/``energies`` come from the problem's
    :meth:`~MelProblem.evaluate`, not from the solver.
    """

    tau: NDArray[Any]
    samples: NDArray[Any]
    times: NDArray[np.float64]
    energies: NDArray[np.float64] | None
    cycle_time: float

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tau": self.tau.tolist(),
            "samples": self.samples.tolist(),
            "times": self.times.tolist(),
        }
        if self.energies is not None:
            out["energies"] = self.energies.tolist()
        out["cycle_time"] = self.cycle_time
        return out
