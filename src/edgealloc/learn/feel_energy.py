r"""The energy ledger of a ``feel`` round: what every device spends per communication round.

The paper (Ren, Yu & Ding, IEEE JSAC 2021, Ren, Yu & Ding, IEEE JSAC 2021) has
no energy model; this is ours, applied to the plan's batches and slots:

* **compute, CPU**: :math:`\kappa f_k^2` joules per cycle (dynamic CMOS power,
  :func:`edgealloc.system.kappa_energy`) for the :math:`C B_k` cycles of the
  local gradient (eq. (9)):

  .. math:: e^{c}_k = \kappa\, f_k^2\, C\, B_k ,

  :math:`\kappa` = ``TrainOptions.kappa`` (default :data:`~edgealloc.learn.energy.KAPPA`
  = :math:`10^{-28}`, the value the ``mel`` ledger takes);
* **compute, GPU**: the board power :math:`P^G_k` while the gradient is
  computed, :math:`e^{c}_k = P^G_k\, t_k(B_k)` with :math:`t_k` of
  Assumption 1 (eq. (27)); :math:`P^G_k` from ``meta["gpu_power_w"]`` (the
  scenario's ``devices.gpu.power_w``), else :data:`GPU_POWER_W` = 250 W, the
  GTX 1080 Ti's rated board power (TDP): an upper bound, since a GPU below
  its threshold does not draw its rated power;
* **upload**: the transmit power :math:`P^U_k` times the airtime, the total
  length of the device's slots while it uploads: :math:`s T^U_f / (\tau^U_k R^U_k)`
  frames of :math:`\tau^U_k` seconds each (eq. (10)), so

  .. math:: e^{u}_k = P^U_k \frac{s}{R^U_k},

  independent of the slot length; :math:`P^U_k` from ``meta["tx_power_w"]``
  (the scenario's 28 dBm).

Not counted: receiving the global gradient, the model update (:math:`M^C` =
2 cycles per parameter, far below :math:`C B_k`) and idle waiting. A problem
without ``meta`` (a canonical file) gets the compute part only (CPU: its
``cpu_hz`` and ``cycles_per_sample``; GPU: :data:`GPU_POWER_W`) and a note.

NumPy only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..system import kappa_energy
from ._checks import positive
from .energy import KAPPA, DeviceEnergy, _meta_vector

if TYPE_CHECKING:
    from ..feel.problem import FeelProblem

__all__ = ["GPU_POWER_W", "SOURCES", "feel_round_energy"]

#: Board power of a GPU device while it computes, when the scenario gives none (W):
#: the GTX 1080 Ti's rated board power (the paper's GPU, Section VI-D).
GPU_POWER_W = 250.0

#: What each ``energy_source`` of a FEEL record means (figures and notes).
SOURCES: dict[str, str] = {
    "cpu+upload": "CPU κf²CB + upload P s/R",
    "cpu": "CPU κf²CB only",
    "gpu+upload": "GPU board power × t(B) + upload P s/R",
    "gpu": "GPU board power × t(B) only",
}


def _power(meta: Mapping[str, Any], k: int) -> np.ndarray | None:
    tx = meta.get("tx_power_w")
    value = tx.get("uplink") if isinstance(tx, Mapping) else None
    if value is None:
        return None
    return _meta_vector({"p": value}, "p", k)


@dataclasses.dataclass(frozen=True)
class _Parts:
    compute: np.ndarray
    transmit: np.ndarray | None
    source: str
    note: str


def _compute(
    problem: FeelProblem, batch: np.ndarray, kappa: float, compute_time: np.ndarray | None
) -> _Parts:
    meta = problem.meta or {}
    k = problem.n_devices
    if problem.gpu is None:
        cycles = float(problem.cycles_per_sample) * batch  # type: ignore[arg-type]
        compute = kappa_energy(cycles, problem.cpu_hz, kappa)
        return _Parts(
            np.asarray(compute, dtype=float),
            None,
            "cpu",
            f"kappa f_k^2 C B_k (kappa = {kappa:g})",
        )
    watts = _meta_vector(meta, "gpu_power_w", k)
    where = "the scenario's devices.gpu.power_w"
    if watts is None:
        watts = np.full(k, GPU_POWER_W)
        where = f"{GPU_POWER_W:g} W, the GTX 1080 Ti's rated board power (an upper bound)"
    seconds = problem.compute_time(batch) if compute_time is None else compute_time
    return _Parts(
        watts * np.asarray(seconds, dtype=float),
        None,
        "gpu",
        f"GPU board power x t_k(B_k) (eq. (27)), power {where}",
    )


def feel_round_energy(
    problem: FeelProblem, batch: Any, *, kappa: float = KAPPA, compute_time: Any = None
) -> DeviceEnergy:
    r"""Joules each device spends in one round with batches ``batch`` (module docstring).

    Parameters
    ----------
    problem
        The ``feel`` problem (its processors; its ``meta`` for the powers).
    batch
        :math:`B_k` per device (the samples the plan prices).
    kappa
        :math:`\kappa` of the CPU energy (J per cycle per Hz²).
    compute_time
        GPU only: the seconds the device computes, when they are not
        :math:`t_k(B_k)` of one batch (a local epoch of several batches).

    Returns
    -------
    DeviceEnergy
        ``compute_j`` and ``transmit_j`` per device; ``source`` one of
        :data:`SOURCES`.

    Examples
    --------
    >>> from edgealloc.feel import FeelProblem
    >>> p = FeelProblem(cpu_hz=[1e9, 2e9], uplink_rate=[1e8, 5e7], downlink_rate=[1e8, 5e7],
    ...                 cycles_per_sample=1e8, update_cycles=1e6, gradient_bits=2e6,
    ...                 frame={"uplink": 0.01, "downlink": 0.01}, max_batch=128,
    ...                 meta={"tx_power_w": {"uplink": 0.5}})
    >>> e = feel_round_energy(p, [10, 20])
    >>> e.compute_j.tolist(), e.transmit_j.tolist()          # 1e-28 f^2 1e8 B; 0.5 2e6 / R
    ([0.1, 0.8], [0.01, 0.02])
    """
    kappa = positive("kappa", kappa)
    b = np.asarray(batch, dtype=float)
    seconds = None if compute_time is None else np.asarray(compute_time, dtype=float)
    parts = _compute(problem, b, kappa, seconds)
    power = _power(problem.meta or {}, problem.n_devices)
    if power is None:
        return DeviceEnergy(
            parts.compute,
            np.zeros(problem.n_devices),
            parts.source,
            f"energy per round: {parts.note}; the upload is not counted (the problem records "
            "no transmit power: compile it from a scenario to count it)",
        )
    transmit = power * float(problem.gradient_bits) / problem.uplink_rate
    return DeviceEnergy(
        parts.compute,
        np.asarray(transmit, dtype=float),
        parts.source + "+upload",
        f"energy per round (ours: the paper has no energy model): {parts.note}, plus the "
        "upload P_k s / R_k (transmit power times the slots' airtime, eq. (10))",
    )
