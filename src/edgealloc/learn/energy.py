r"""The energy ledger: what every device spends in one global cycle of a ``mel`` allocation.

Every participating device spends :math:`e_k` joules per cycle; idle waiting
costs nothing and devices with :math:`d_k = 0` spend nothing.

* Problems with an energy model (e.g. preset ``mel-async``): :math:`e_k =
  g_{2,k}\tau_k d_k + g_{1,k} d_k + g_{0,k}`, the allocation's evaluated
  ``energies`` ([MEL-async] eq. (10)); :math:`g_2\tau d` is the compute part,
  :math:`g_1 d + g_0` the upload.
* Problems without one (e.g. ``mel-sync``): the same system model is applied
  to the scenario's physics recorded in ``problem.meta`` (``cpu_hz``,
  ``cycles_per_sample`` :math:`C_m`, ``tx_power_w``, ``rate_bps``,
  ``model_bits``):

  .. math::

      e_k = \kappa\, C_m f_k^2\, \tau_k d_k
            + P_k \frac{B_m + b_d\, d_k}{R_k},

  the :math:`\kappa f^2` joules per CPU cycle of dynamic CMOS power
  ([MEL-async] eq. (8) with :math:`\mu = \kappa`, :math:`\nu = 3`;
  :func:`edgealloc.system.kappa_energy`) plus the learner's upload of its
  model, :math:`B_m` = ``model_bits``, at power :math:`P_k` over rate
  :math:`R_k` ([MEL-async] eq. (9); the orchestrator's transmissions are
  free), and :math:`b_d` = ``meta["update_bits_per_sample"]`` bits per sample
  (:math:`P_m S_d`; 0 when absent, as in every preset).
  :math:`\kappa` defaults to :data:`KAPPA` = :math:`10^{-28}`, the value the
  ``mel-async`` preset takes (its ``cpu_mu`` with ``cpu_nu = 3``). Without
  ``tx_power_w``/``rate_bps``/``model_bits`` the upload is left out (a note
  says so); without ``cpu_hz`` or ``cycles_per_sample`` the energy is unknown:
  ``energy_j`` is NaN and :attr:`~edgealloc.learn.records.RunRecord.energy_source`
  is ``"unavailable"``.

NumPy only (no PyTorch).

References
----------
[MEL-async] The asynchronous MEL paper: heterogeneity-aware task allocation
with time and energy constraints (Mohammad, Sorour & Hefeida, arXiv:2012.00143), Section 2,
eqs. (8)-(10).
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..system import kappa_energy
from ._checks import positive

if TYPE_CHECKING:
    from ..mel.problem import MelProblem

__all__ = ["KAPPA", "DeviceEnergy", "device_energy"]

#: :math:`\kappa` of the :math:`\kappa f^2` J/cycle CPU energy used when the problem
#: has no energy model (the ``mel-async`` preset's ``cpu_mu`` with ``cpu_nu = 3``).
KAPPA = 1e-28


@dataclasses.dataclass(frozen=True)
class DeviceEnergy:
    """Per-device energy of one global cycle, split into computing and uploading.

    Attributes
    ----------
    compute_j, transmit_j
        Joules per cycle per device (``nan`` when unknown).
    source
        ``"problem"`` (the problem's energy model), ``"meta"`` (the system
        model on ``problem.meta``), ``"meta-compute-only"`` (no radio data in
        ``meta``: the upload is left out) or ``"unavailable"``.
    note
        How the figures were obtained, for the record's notes.
    """

    compute_j: np.ndarray
    transmit_j: np.ndarray
    source: str
    note: str

    @property
    def total_j(self) -> np.ndarray:
        """Joules per cycle per device."""
        return self.compute_j + self.transmit_j


def _meta_vector(meta: Mapping[str, Any], key: str, k: int) -> np.ndarray | None:
    value = meta.get(key)
    if value is None:
        return None
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    if arr.ndim == 0:
        arr = np.full(k, float(arr))
    if arr.shape != (k,) or not np.all(np.isfinite(arr)) or (arr < 0).any():
        return None
    return arr


def device_energy(
    problem: MelProblem, tau: Any, samples: Any, *, kappa: float = KAPPA
) -> DeviceEnergy:
    r"""Energy each device spends in one global cycle of the allocation.

    Parameters
    ----------
    problem
        The ``mel`` problem (its energy model, or its ``meta`` physics).
    tau, samples
        The allocation's :math:`\tau_k` and :math:`d_k`.
    kappa
        :math:`\kappa` (J per cycle per Hz²) of the CPU energy
        :math:`\kappa f^2` per cycle, used only when the problem has no
        energy model (this module's docstring).

    Returns
    -------
    DeviceEnergy
        Compute and upload joules per device per cycle; zero for devices
        with :math:`d_k = 0`.
    """
    kappa = positive("kappa", kappa)
    k = problem.n_devices
    t = np.asarray(tau, dtype=float)
    d = np.asarray(samples, dtype=float)
    part = d > 0
    if problem.energy is not None:
        e = problem.energy
        compute = np.where(part, e.g2 * t * d, 0.0)  # [MEL-async] eq. (8)
        transmit = np.where(part, e.g1 * d + e.g0, 0.0)  # eq. (9)
        return DeviceEnergy(
            compute,
            transmit,
            "problem",
            "energy from the problem's model, e_k = g2 tau d + g1 d + g0 (async paper eq. (10))",
        )
    meta = problem.meta or {}
    cpu = _meta_vector(meta, "cpu_hz", k)
    cycles = meta.get("cycles_per_sample")
    if cpu is None or (cpu <= 0).any() or not isinstance(cycles, numbers.Real) or cycles < 0:
        nan = np.full(k, np.nan)
        return DeviceEnergy(
            nan,
            nan,
            "unavailable",
            "energy unknown: the problem has no energy model and its meta lacks cpu_hz and "
            "cycles_per_sample (compile it from a scenario to get them)",
        )
    compute = np.where(part, kappa_energy(float(cycles) * t * d, cpu, kappa), 0.0)
    power = _meta_vector(meta, "tx_power_w", k)
    rate = _meta_vector(meta, "rate_bps", k)
    bits = meta.get("model_bits")
    per_sample = meta.get("update_bits_per_sample", 0.0)
    if (
        power is None
        or rate is None
        or (rate <= 0).any()
        or not isinstance(bits, numbers.Real)
        or not isinstance(per_sample, numbers.Real)
    ):
        return DeviceEnergy(
            compute,
            np.zeros(k),
            "meta-compute-only",
            f"energy from the system model on the scenario's physics: compute only, "
            f"kappa C_m f^2 tau d with kappa = {kappa:g} (meta has no tx_power_w/rate_bps/"
            f"model_bits, so the upload is not counted)",
        )
    transmit = np.where(part, power * (float(bits) + float(per_sample) * d) / rate, 0.0)
    return DeviceEnergy(
        compute,
        transmit,
        "meta",
        f"energy from the system model on the scenario's physics: kappa C_m f^2 tau d "
        f"(kappa = {kappa:g}, async paper eq. (8) with nu = 3) + P_k (model_bits + "
        f"update_bits_per_sample d_k) / R_k (upload, eq. (9))",
    )
