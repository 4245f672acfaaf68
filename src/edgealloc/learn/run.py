r"""Training under a ``mel`` allocation on a simulated clock, with an energy ledger.

:func:`train` takes a :class:`~edgealloc.mel.MelProblem`, a solved
:class:`~edgealloc.Result` (the allocation: :math:`\tau_k` local iterations
and :math:`d_k` samples per learner) and a data set, and runs real
distributed learning, one global cycle after the other
(:func:`edgealloc.learn.engine.local_sgd_cycle`: every learner starts from the
global model, runs :math:`\tau_k` full-batch gradient steps on its
:math:`d_k` samples, the orchestrator averages the models weighted by
:math:`d_k`, [MEL-async] eqs. (1)-(3)). The engine never re-decides the
allocation: :math:`\tau_k` and :math:`d_k` come from the result.

Data per cycle
--------------
``mode="parallel"`` (parallel learning, [MEL-sync] Section II-B, [MEL-async]
Section 5.1 footnote 1): the orchestrator owns the training set and ships
learner :math:`k` a fresh random batch of :math:`d_k` samples every cycle
(:class:`~edgealloc.learn.partition.ParallelSampler`).
``mode="federated"``: the training set is partitioned once over the learners
(``partition_scheme``: ``"iid"``, label-sorted ``"shards"`` or
``"unbalanced"``), and learner :math:`k` trains on :math:`\min(d_k,
|\mathcal D_k|)` of its own samples, drawn afresh every cycle
(:class:`~edgealloc.learn.partition.FederatedSampler`).

The simulated clock
-------------------
Learner :math:`k` needs :math:`t_k = c_{2,k}\tau_k d_k + c_{1,k} d_k +
c_{0,k}` seconds per cycle ([MEL-sync] eq. (8), [MEL-async] eq. (11)),
as evaluated by :meth:`MelProblem.evaluate` (the allocation's ``times``).
The orchestrator aggregates when the slowest participant has reported, so
with ``clock="slowest"`` (the default) every cycle advances the clock by

.. math::

    t_{\text{cycle}} = \min\bigl(T, \max_{k: d_k > 0} t_k\bigr),

the deadline :math:`T` or the slowest learner when that is earlier. With
``clock="deadline"`` every cycle lasts :math:`T` (the papers' periodic
global cycle clock: [MEL-sync] Fig. 2 counts "global update cycles of
:math:`T = 12` s each"). The orchestrator's aggregation time is not counted
(the papers' :math:`T` excludes it, [MEL-sync] Section II).
In federated mode a learner that owns fewer than :math:`d_k` samples trains
on fewer, but the clock and the ledger keep the allocation's :math:`t_k` and
:math:`e_k` (the time and energy budgeted for the plan); ``samples_used``
records what was actually trained on.

The energy ledger
-----------------
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
  ``energy_j`` is NaN and :attr:`RunRecord.energy_source` is
  ``"unavailable"``.

One source of truth
-------------------
:func:`scenario_for_model` compiles a ``mel`` scenario whose workload *is*
the trained model: ``workload.layers`` and ``features`` from
:meth:`ModelSpec.fully_connected` (``mlp``, ``linear``), or, for the ``cnn``,
``cycles_per_sample`` from the model's measured FLOPs
(:meth:`ModelSpec.flops_per_sample` in the scenario's ``flops_convention``,
times ``cycles_per_flop``) and ``model_coefficients`` from its parameter
count. The bits and FLOPs that set the allocation are then those of the
network that trains.

References
----------
[MEL-sync] Mohammad, U., Sorour, S. "Adaptive task allocation for mobile edge
learning" (``seeds/mel-adaptive-task-allocation.txt``), Section II, eq. (8), Fig. 2.
[MEL-async] The asynchronous MEL paper: heterogeneity-aware task allocation
with time and energy constraints (``seeds/mel-async-energy.txt``), Section 2,
eqs. (1)-(3), (8)-(11), Figs. 4-8.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import math
import numbers
import sys
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._style import scheme_color
from .._validation import check_choice, check_int
from ..errors import EdgeallocWarning, InfeasibleError, ValidationError
from ..mel.problem import MelProblem
from ..result import Result, Status
from ..system import FullyConnected, kappa_energy
from .data import Dataset
from .engine import evaluate, init_params, local_sgd_cycle, parse_device
from .models import ModelSpec, model_for, torch
from .partition import FederatedSampler, ParallelSampler, partition

__all__ = [
    "CLOCKS",
    "DEFAULT_LR",
    "KAPPA",
    "LEDGER_COLUMNS",
    "MODES",
    "PARTITIONS",
    "RECORD_COLUMNS",
    "Comparison",
    "DeviceEnergy",
    "RunRecord",
    "compare_schemes",
    "device_energy",
    "plot_records",
    "scenario_for_model",
    "train",
    "trainable_schemes",
]

#: :math:`\kappa` of the :math:`\kappa f^2` J/cycle CPU energy used when the problem
#: has no energy model (the ``mel-async`` preset's ``cpu_mu`` with ``cpu_nu = 3``).
KAPPA = 1e-28
#: Training modes: the orchestrator ships fresh batches, or learners own their data.
MODES: tuple[str, ...] = ("parallel", "federated")
#: Clock readings: the slowest participant (capped by T), or T every cycle.
CLOCKS: tuple[str, ...] = ("slowest", "deadline")
#: Partitions of the training set in federated mode.
PARTITIONS: tuple[str, ...] = ("iid", "shards", "unbalanced")
#: Default learning rate :math:`\eta` of the local gradient steps.
DEFAULT_LR = 0.1
#: Training samples (at most) on which ``train_loss`` is measured.
TRAIN_EVAL_SAMPLES = 10_000

#: Columns of :meth:`RunRecord.to_csv`, in order (one row per cycle, cycle 0 = initial model).
RECORD_COLUMNS: tuple[str, ...] = (
    "cycle",
    "sim_time_s",
    "energy_j",
    "train_loss",
    "test_accuracy",
    "test_loss",
    "cycle_time_s",
    "cycle_energy_j",
    "local_iterations",
    "local_steps",
    "samples_used",
    "learner_loss",
)
#: Columns of :meth:`RunRecord.ledger_to_csv` (one row per device).
LEDGER_COLUMNS: tuple[str, ...] = (
    "device",
    "class",
    "cpu_hz",
    "tau",
    "samples",
    "samples_used",
    "time_s",
    "compute_j_per_cycle",
    "transmit_j_per_cycle",
    "energy_j_per_cycle",
    "energy_j",
)

_COLUMN_HELP: dict[str, str] = {
    "cycle": "global cycle n (0 = the initial model)",
    "sim_time_s": "simulated time after n cycles (s)",
    "energy_j": "energy spent by all devices after n cycles (J)",
    "train_loss": "loss of the global model on the training set (a fixed subset)",
    "test_loss": "loss of the global model on the test set",
    "test_accuracy": "accuracy of the global model on the test set (NaN for regression)",
    "cycle_time_s": "duration of cycle n (s)",
    "cycle_energy_j": "energy of cycle n, all devices (J)",
    "local_iterations": "cumulative local iterations: mean tau_k over participants, summed",
    "local_steps": "cumulative local gradient steps of all learners (sum of tau_k)",
    "samples_used": "samples trained on in cycle n, all learners",
    "learner_loss": "d_k-weighted mean loss of the learners at the start of cycle n",
}


# ---------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------
def _positive(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(field, f"must be a positive number (got {value!r})")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValidationError(field, f"must be a positive finite number (got {value!r})")
    return v


def trainable_schemes() -> list[str]:
    """The ``mel`` schemes whose allocations can be trained (integral ones).

    ``relaxed`` returns the continuous relaxation's fractional
    :math:`\\tau_k, d_k` (an upper bound, not a plan) and is left out.
    """
    from ..api import schemes

    return [s for s in schemes("mel") if s != "relaxed"]


def _allocation(problem: MelProblem, result: Result) -> tuple[np.ndarray, np.ndarray, Any]:
    """Integral tau and samples of a feasible result, checked against ``problem``."""
    if not isinstance(result, Result):
        raise ValidationError(
            "result", f"must be an edgealloc Result (got {type(result).__name__})"
        )
    if result.family != "mel":
        raise ValidationError("result", f"must be a mel result (got family {result.family!r})")
    if result.status is Status.INFEASIBLE or result.status is Status.FAILED:
        result.raise_for_status()
    if result.allocation is None:
        raise ValidationError("result", "carries no allocation")
    tau = np.asarray(result.tau, dtype=float)
    d = np.asarray(result.samples, dtype=float)
    k = problem.n_devices
    if tau.shape != (k,) or d.shape != (k,):
        raise ValidationError(
            "result",
            f"has {tau.size} devices, the problem {k}: it was solved for another problem",
        )
    if not (np.all(tau == np.round(tau)) and np.all(d == np.round(d))):
        raise ValidationError(
            "result",
            f"scheme {result.scheme!r} gives a fractional allocation (a relaxation, not a plan); "
            f"train an integral one ({', '.join(trainable_schemes())})",
        )
    ev = problem.evaluate(tau, d)
    if not ev.feasible:
        raise ValidationError(
            "result", f"the allocation does not fit the problem: {ev.violations[0]}"
        )
    return tau.astype(np.int64), d.astype(np.int64), ev


# ---------------------------------------------------------------------------
# Energy
# ---------------------------------------------------------------------------
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
        energy model (module docstring, "The energy ledger").

    Returns
    -------
    DeviceEnergy
        Compute and upload joules per device per cycle; zero for devices
        with :math:`d_k = 0`.
    """
    kappa = _positive("kappa", kappa)
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


# ---------------------------------------------------------------------------
# The run record
# ---------------------------------------------------------------------------
def _cell(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return "" if not math.isfinite(float(value)) else repr(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


def _check_out(path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir():
        raise ValidationError(str(p), "is a directory; give a file name")
    if not p.parent.exists():
        raise ValidationError(str(p), f"directory {p.parent} does not exist")
    return p


@dataclasses.dataclass(frozen=True, eq=False)
class RunRecord:
    """What :func:`train` recorded: one row per global cycle and a per-device ledger.

    Attributes
    ----------
    columns
        :data:`RECORD_COLUMNS` -> arrays of length ``cycles + 1`` (row 0 is
        the initial model); losses and accuracy are NaN on cycles that were
        not evaluated (``eval_every``), accuracy is NaN for regression.
    scheme, mode, partition_scheme, clock
        How the run was set up (``partition_scheme`` only matters in
        federated mode).
    dataset, task
        Data set name and ``"classification"`` / ``"regression"``.
    spec
        The model trained.
    seed, lr
        Seed (initial model and data draws) and learning rate.
    deadline, cycle_time_s
        :math:`T` and the duration of every cycle on the simulated clock.
    tau, samples, samples_used
        Per device: :math:`\\tau_k`, :math:`d_k` and the samples it trains
        on per cycle (:math:`\\min(d_k, |\\mathcal D_k|)` in federated mode).
    device_time_s
        Per device :math:`t_k` (0 when idle).
    compute_j, transmit_j
        Per device joules per cycle (see :class:`DeviceEnergy`).
    energy_source
        Where the energy came from (:class:`DeviceEnergy`).
    notes
        Readings taken and warnings, for people.
    result
        The allocation's :class:`~edgealloc.Result`.
    problem_name
        The problem's name.
    classes
        Device classes from the scenario (``None`` if unknown).
    cpu_hz
        CPU clocks from the scenario (``None`` if unknown).
    params
        The final global parameters (``dict`` of tensors, on the device
        trained on).
    wall_seconds
        Real time the training took (not part of :attr:`columns`).
    diverged_at
        The cycle at which training diverged (a non-finite loss or
        parameter), where the record stops; ``None`` if it did not.
    """

    columns: Mapping[str, np.ndarray]
    scheme: str
    mode: str
    partition_scheme: str
    clock: str
    dataset: str
    task: str
    spec: ModelSpec
    seed: int
    lr: float
    deadline: float
    cycle_time_s: float
    tau: np.ndarray
    samples: np.ndarray
    samples_used: np.ndarray
    device_time_s: np.ndarray
    compute_j: np.ndarray
    transmit_j: np.ndarray
    energy_source: str
    notes: tuple[str, ...]
    result: Result
    problem_name: str | None = None
    classes: tuple[str, ...] | None = None
    cpu_hz: np.ndarray | None = None
    params: Mapping[str, Any] | None = None
    wall_seconds: float = math.nan
    diverged_at: int | None = None

    # ------------------------------------------------------------ views
    @property
    def cycles(self) -> int:
        """Number of global cycles trained."""
        return len(self.columns["cycle"]) - 1

    @property
    def n_devices(self) -> int:
        """Number of devices :math:`K`."""
        return int(self.tau.size)

    @property
    def device_energy_j(self) -> np.ndarray:
        """Joules per device per cycle (compute + upload)."""
        return self.compute_j + self.transmit_j

    @property
    def ledger(self) -> np.ndarray:
        """Cumulative joules per device after each cycle, shape ``(cycles + 1, K)``."""
        n = self.columns["cycle"].astype(float)
        return n[:, None] * self.device_energy_j[None, :]

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The record as a list of dicts, one per cycle (plain Python numbers)."""
        cols = list(self.columns)
        return [{c: self.columns[c][i].item() for c in cols} for i in range(self.cycles + 1)]

    def __len__(self) -> int:
        return self.cycles + 1

    def __getitem__(self, column: str) -> np.ndarray:
        return self.columns[column]

    @property
    def metric(self) -> str:
        """The headline metric: ``"test_accuracy"``, or ``"test_loss"`` for regression."""
        return "test_accuracy" if self.task == "classification" else "test_loss"

    @property
    def final(self) -> dict[str, Any]:
        """The last row."""
        return self.rows[-1]

    @property
    def label(self) -> str:
        """A one-line description of the allocation, for legends."""
        part = self.samples > 0
        tau = self.tau[part]
        lo, hi = (int(tau.min()), int(tau.max())) if tau.size else (0, 0)
        taus = f"τ = {lo}" if lo == hi else f"τ = {lo}–{hi}"
        energy = float(self.device_energy_j.sum())
        per = f", {energy:.3g} J/cycle" if math.isfinite(energy) else ""
        return f"{self.scheme}: {taus}, cycle {self.cycle_time_s:.3g} s{per}"

    def reached(self, threshold: float, metric: str | None = None) -> dict[str, Any] | None:
        """The first row whose metric reaches ``threshold`` (``None`` if none does).

        Accuracy must reach at least ``threshold``; a loss at most.
        """
        metric = metric or self.metric
        if metric not in self.columns:
            raise ValidationError("metric", f"must be a record column (got {metric!r})")
        values = self.columns[metric]
        with np.errstate(invalid="ignore"):
            hit = values <= threshold if "loss" in metric else values >= threshold
        idx = np.flatnonzero(hit)
        return self.rows[int(idx[0])] if idx.size else None

    def ledger_rows(self) -> list[dict[str, Any]]:
        """One dict per device: allocation, time, energy per cycle and in total."""
        k = self.n_devices
        total = self.device_energy_j * self.cycles
        out = []
        for i in range(k):
            out.append(
                {
                    "device": i,
                    "class": self.classes[i] if self.classes is not None else "",
                    "cpu_hz": float(self.cpu_hz[i]) if self.cpu_hz is not None else math.nan,
                    "tau": int(self.tau[i]),
                    "samples": int(self.samples[i]),
                    "samples_used": int(self.samples_used[i]),
                    "time_s": float(self.device_time_s[i]),
                    "compute_j_per_cycle": float(self.compute_j[i]),
                    "transmit_j_per_cycle": float(self.transmit_j[i]),
                    "energy_j_per_cycle": float(self.device_energy_j[i]),
                    "energy_j": float(total[i]),
                }
            )
        return out

    # ------------------------------------------------------------ output
    def to_csv(self, path: str | Path) -> Path:
        """Write the per-cycle record as CSV (:data:`RECORD_COLUMNS`; NaN -> empty cell).

        Floats are written in full precision (``repr``).
        """
        p = _check_out(path)
        with p.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(list(self.columns))
            for row in self.rows:
                writer.writerow([_cell(v) for v in row.values()])
        return p

    def ledger_to_csv(self, path: str | Path) -> Path:
        """Write the per-device energy ledger as CSV (:data:`LEDGER_COLUMNS`)."""
        p = _check_out(path)
        with p.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(LEDGER_COLUMNS))
            writer.writeheader()
            for row in self.ledger_rows():
                writer.writerow({c: _cell(v) for c, v in row.items()})
        return p

    def to_parquet(self, path: str | Path) -> Path:
        """Write the per-cycle record as Parquet (needs ``pyarrow``).

        Raises
        ------
        ValidationError
            When ``pyarrow`` is not installed (the message gives the fix).
        """
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ValidationError(
                "parquet", "writing Parquet needs pyarrow: pip install pyarrow (or use to_csv)"
            ) from None
        p = _check_out(path)
        table = pa.table({c: np.asarray(v) for c, v in self.columns.items()})
        meta = {
            "scheme": self.scheme,
            "mode": self.mode,
            "dataset": self.dataset,
            "model": self.spec.kind,
            "seed": str(self.seed),
            "lr": repr(self.lr),
            "energy_source": self.energy_source,
        }
        table = table.replace_schema_metadata({k.encode(): v.encode() for k, v in meta.items()})
        pq.write_table(table, p)
        return p

    def plot(self, path: str | Path, *, title: str | None = None) -> Path:
        """Plot accuracy (test loss for regression) against cycles, simulated seconds and energy.

        A 2 x 2 figure: the metric against global cycles, simulated time and
        energy, and the training loss against simulated time.
        """
        return plot_records([self], path, title=title)

    def describe(self) -> str:
        """One line: data, model, mode, allocation."""
        where = f"{self.problem_name}: " if self.problem_name else ""
        return (
            f"{where}{self.dataset} ({self.task}), {self.spec.kind} "
            f"({self.spec.n_params:,} parameters), {self.mode} learning, "
            f"K = {self.n_devices}, T = {self.deadline:g} s, lr = {self.lr:g}, seed {self.seed}"
        )

    def __repr__(self) -> str:
        last = self.final
        metric = self.metric
        return (
            f"RunRecord(scheme={self.scheme!r}, cycles={self.cycles}, "
            f"sim_time_s={last['sim_time_s']:.4g}, energy_j={last['energy_j']:.4g}, "
            f"{metric}={last[metric]:.4g})"
        )


# ---------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------
_ENERGY_WORDS = {
    "problem": "the problem's energy model",
    "meta": "system model: CPU κf² + upload",
    "meta-compute-only": "system model: CPU κf² only",
    "unavailable": "unknown",
}


def _color(scheme: str, i: int) -> str:
    return scheme_color(scheme, i)


def plot_records(
    records: Sequence[RunRecord], path: str | Path, *, title: str | None = None
) -> Path:
    """Plot one or more records together (e.g. one per scheme) and save the figure.

    Panels: the headline metric (test accuracy, or test loss for regression)
    against global cycles, simulated seconds and energy of all devices, and
    the training loss against simulated seconds. Records are drawn in the
    schemes' colours (:data:`edgealloc._style.SCHEME_STYLE`).

    Parameters
    ----------
    records
        Records to draw, at least one (the first sets the axis titles).
    path
        Image file to write (``.png``, ``.pdf``, ``.svg``, ...).
    title
        Figure title; default: the first record's :meth:`RunRecord.describe`.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not records:
        raise ValidationError("records", "needs at least one record to plot")
    p = _check_out(path)
    first = records[0]
    metric = first.metric
    ylabel = "test accuracy" if metric == "test_accuracy" else "test loss (½ MSE)"
    fig = Figure(figsize=(12.0, 8.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    panels = (
        (axes[0, 0], "cycle", metric, "global cycle", ylabel),
        (axes[0, 1], "sim_time_s", metric, "simulated time (s)", ylabel),
        (axes[1, 0], "energy_j", metric, "energy spent, all devices (J)", ylabel),
        (axes[1, 1], "sim_time_s", "train_loss", "simulated time (s)", "training loss"),
    )
    energy_known = [r for r in records if np.isfinite(r.columns["energy_j"]).all()]
    for ax, xcol, ycol, xlabel, ylab in panels:
        for i, rec in enumerate(records):
            if xcol == "energy_j" and rec not in energy_known:
                continue
            x, y = rec.columns[xcol], rec.columns[ycol]
            keep = np.isfinite(y)
            ax.plot(
                x[keep],
                y[keep],
                marker="o" if rec.cycles <= 40 else None,
                markersize=3.5,
                linewidth=1.6,
                color=_color(rec.scheme, i),
                label=rec.label,
            )
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylab)
        ax.grid(True, alpha=0.3)
        if ycol in ("train_loss", "test_loss"):
            finite = np.concatenate([r.columns[ycol] for r in records])
            finite = finite[np.isfinite(finite)]
            if finite.size and finite.min() > 0 and finite.max() / finite.min() > 20:
                ax.set_yscale("log")
    ax_e = axes[1, 0]
    if not energy_known:
        ax_e.text(
            0.5,
            0.5,
            "energy unknown for this problem\n(no energy model, no cpu_hz in meta)",
            ha="center",
            va="center",
            transform=ax_e.transAxes,
            color="#777777",
        )
    elif len(energy_known) < len(records):
        ax_e.set_title("records without an energy figure are left out", fontsize=9)
    axes[0, 0].set_title(f"{ylabel} after each global cycle", fontsize=10)
    axes[0, 1].set_title(
        f"against the simulated clock ({'slowest learner' if first.clock == 'slowest' else 'T'}"
        " per cycle)",
        fontsize=10,
    )
    if energy_known:
        axes[1, 0].set_title(f"against energy ({_ENERGY_WORDS[first.energy_source]})", fontsize=10)
    axes[1, 1].set_title("training loss of the global model", fontsize=10)
    axes[0, 0].legend(fontsize=8, loc="best")
    fig.suptitle(title if title is not None else first.describe(), fontsize=11)
    fig.savefig(p, dpi=110)
    return p


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------
@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` PyTorch intra-op threads (``None``: unchanged), then restore."""
    if threads is None:
        yield
        return
    import torch

    threads = check_int("threads", threads, minimum=1)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _progress_bar(enabled: bool, total: int, description: str) -> contextlib.AbstractContextManager:
    """A bar over ``total`` units of work; yields ``advance(units, status=None)`` (or None).

    The bar is redrawn at most every 0.1 s, so advancing once per local step
    costs next to nothing even when steps take microseconds.
    """
    if not enabled:
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    @contextlib.contextmanager
    def bar() -> Iterator[Any]:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        ) as prog:
            task = prog.add_task(description, total=max(total, 1), status="")
            pending = [0, time.monotonic()]

            def advance(units: int, status: str | None = None) -> None:
                pending[0] += units
                now = time.monotonic()
                if status is None and now - pending[1] < 0.1:
                    return
                fields = {} if status is None else {"status": status}
                prog.update(task, advance=pending[0], **fields)
                pending[0], pending[1] = 0, now

            yield advance

    return bar()


def _model_mismatch(problem: MelProblem, spec: ModelSpec) -> str | None:
    """Why the problem's workload is not the trained model (``None`` when it is, or unknown)."""
    meta = problem.meta or {}
    model = meta.get("model")
    if isinstance(model, Mapping):
        mine = _model_meta(spec)
        keys = ("kind", "input_shape", "n_outputs", "hidden", "channels", "kernel_size")
        if any(model.get(key) != mine.get(key) for key in keys):
            return (
                f"the problem was compiled for a {model.get('kind')} with input "
                f"{model.get('input_shape')}, but a {spec.kind} with input "
                f"{list(spec.input_shape)} trains"
            )
        return None
    layers = meta.get("layers")
    if spec.kind in ("mlp", "linear") and isinstance(layers, list):
        mine_layers = list(spec.fully_connected().layers)
        if [int(v) for v in layers] != mine_layers:
            return (
                f"the problem's workload is the network {layers}, but the trained model is "
                f"{mine_layers}"
            )
    return None


def train(
    problem: MelProblem,
    result: Result,
    dataset: Dataset,
    *,
    spec: ModelSpec | None = None,
    cycles: int,
    mode: str | None = None,
    partition_scheme: str = "iid",
    lr: float = DEFAULT_LR,
    seed: int = 0,
    batched: bool = True,
    progress: bool = False,
    eval_every: int = 1,
    clock: str = "slowest",
    kappa: float = KAPPA,
    train_eval_samples: int = TRAIN_EVAL_SAMPLES,
    keep_params: bool = True,
    threads: int | None = 1,
    device: object = None,
    on_divergence: str = "stop",
) -> RunRecord:
    r"""Train a model under a ``mel`` allocation and record accuracy against time and energy.

    Parameters
    ----------
    problem
        The ``mel`` problem the allocation solves (its times and energy; for
        the energy of problems without an energy model, its ``meta``).
    result
        A feasible, integral result of :func:`edgealloc.solve` for
        ``problem``: :math:`\tau_k` = ``result.tau``, :math:`d_k` =
        ``result.samples``.
    dataset
        The data (:func:`edgealloc.learn.load_dataset`).
    spec
        The model; default :func:`~edgealloc.learn.models.model_for` the
        data set's ``"mlp"``. A warning is issued (and noted) when the
        problem's recorded workload is another network
        (:func:`scenario_for_model` avoids that).
    cycles
        Global cycles to run, ``>= 1``.
    mode
        ``"parallel"`` or ``"federated"`` (module docstring); default: the
        mode the scenario was compiled with (``problem.meta["mode"]``), else
        ``"parallel"``. A mode other than the compiled one is refused (the
        allocation's times assume it).
    partition_scheme
        Federated mode: ``"iid"``, ``"shards"`` or ``"unbalanced"``
        (:func:`edgealloc.learn.partition.partition`); must be ``"iid"`` in
        parallel mode, where it does not apply.
    lr
        Learning rate of the local gradient steps.
    seed
        Seeds everything random: the initial model (:func:`init_params`),
        the partition (stream ``[seed, 0]``), the per-cycle batches
        (``[seed, 1]``) and the training subset of ``train_loss``
        (``[seed, 2]``). Two runs with the same seed, data and allocation
        record the same numbers; runs of different allocations with one seed
        start from the same model and draw the same permutations.
    batched
        Train all learners stacked (default) or with the sequential
        reference loop (same numbers to float32 rounding).
    progress
        Show a progress bar on stderr.
    eval_every
        Evaluate the global model every this many cycles (and always at
        cycle 0 and at the last one); the other rows hold NaN losses.
    clock
        ``"slowest"``: a cycle lasts :math:`\min(T, \max_k t_k)`;
        ``"deadline"``: :math:`T` (module docstring).
    kappa
        :math:`\kappa` of the CPU energy when the problem has no energy
        model (:func:`device_energy`).
    train_eval_samples
        ``train_loss`` is measured on at most this many training samples (a
        fixed random subset).
    keep_params
        Keep the final global parameters in :attr:`RunRecord.params`.
    threads
        PyTorch intra-op threads while training (restored afterwards);
        ``None`` keeps the current setting. The default, 1, is the fastest
        for the engine's small per-learner products, and avoids a collapse
        measured with 2 threads on a busy 2-core machine (a cycle 100x
        slower; ``benchmarks/README.md``).
    device
        PyTorch device to train on (:func:`~edgealloc.learn.engine.parse_device`:
        ``"cpu"``, the default, ``"cuda"``, ``"cuda:1"``, ``"mps"``). The
        simulated clock and energy do not depend on it.
    on_divergence
        When a loss or a parameter turns non-finite (the learning rate is too
        large): ``"stop"`` (default) ends training there and returns the
        record up to and including that cycle, with
        :attr:`RunRecord.diverged_at` set, a note and an
        :class:`~edgealloc.errors.EdgeallocWarning`; ``"raise"`` raises
        :class:`~edgealloc.errors.ValidationError` (field ``lr``) instead.

    Returns
    -------
    RunRecord
        One row per cycle (:data:`RECORD_COLUMNS`) and the per-device ledger.

    Raises
    ------
    ValidationError
        Malformed arguments, a result for another problem, a fractional
        (relaxed) allocation, a mode other than the compiled one, a model
        that does not fit the data, an unavailable device, or (with
        ``on_divergence="raise"``) training that diverges.
    InfeasibleError
        When ``result`` is infeasible (``SolverError`` when it failed).
    """
    if not isinstance(problem, MelProblem):
        raise ValidationError("problem", f"must be a MelProblem (got {type(problem).__name__})")
    if not isinstance(dataset, Dataset):
        raise ValidationError(
            "dataset", f"must be a learn.data.Dataset (got {type(dataset).__name__})"
        )
    cycles = check_int("cycles", cycles, minimum=1)
    eval_every = check_int("eval_every", eval_every, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    train_eval_samples = check_int("train_eval_samples", train_eval_samples, minimum=1)
    lr = _positive("lr", lr)
    clock = check_choice("clock", clock, CLOCKS)
    on_divergence = check_choice("on_divergence", on_divergence, ("stop", "raise"))
    dev = parse_device(device)
    compiled_mode = (problem.meta or {}).get("mode")
    if mode is None:
        mode = compiled_mode if compiled_mode in MODES else "parallel"
    mode = check_choice("mode", mode, MODES)
    if compiled_mode in MODES and mode != compiled_mode:
        raise ValidationError(
            "mode",
            f"the problem was compiled for {compiled_mode} learning (its times assume it); "
            f"compile the scenario with mode: {mode} to train in {mode} mode",
        )
    partition_scheme = check_choice("partition_scheme", partition_scheme, PARTITIONS)
    if mode == "parallel" and partition_scheme != "iid":
        raise ValidationError(
            "partition_scheme",
            "applies to federated learning only (parallel learning ships fresh random batches)",
        )
    if spec is None:
        spec = model_for(dataset, "mlp")
    if not isinstance(spec, ModelSpec):
        raise ValidationError("spec", f"must be a ModelSpec (got {type(spec).__name__})")
    if tuple(spec.input_shape) != dataset.feature_shape and spec.n_features != dataset.n_features:
        raise ValidationError(
            "spec",
            f"takes inputs {spec.input_shape}, the data set has samples {dataset.feature_shape}",
        )
    if (spec.task == "classification") != (dataset.task == "classification"):
        raise ValidationError("spec", f"is a {spec.task} model, the data set a {dataset.task} task")
    if dataset.n_classes is not None and spec.n_outputs != dataset.n_classes:
        raise ValidationError(
            "spec", f"has {spec.n_outputs} outputs, the data set {dataset.n_classes} classes"
        )
    tau, d, ev = _allocation(problem, result)
    k = problem.n_devices
    notes: list[str] = []
    mismatch = _model_mismatch(problem, spec)
    if mismatch is not None:
        msg = (
            f"{mismatch}: the simulated times and energy are those of another network "
            "(compile with learn.run.scenario_for_model to match them)"
        )
        warnings.warn(msg, EdgeallocWarning, stacklevel=2)
        notes.append(msg)

    # -- the clock and the ledger (fixed by the allocation)
    slowest = float(ev.cycle_time)
    cycle_time = problem.deadline if clock == "deadline" else min(problem.deadline, slowest)
    energy = device_energy(problem, tau, d, kappa=kappa)
    notes.append(energy.note)
    per_cycle_energy = float(energy.total_j.sum())
    part = d > 0
    if clock == "slowest":
        notes.append(
            f"clock: each cycle lasts the slowest participant's time, {cycle_time:.6g} s "
            f"(T = {problem.deadline:g} s)"
        )
    else:
        notes.append(f"clock: each cycle lasts the deadline T = {problem.deadline:g} s")

    # -- data streams
    if mode == "parallel":
        sampler: ParallelSampler | FederatedSampler = ParallelSampler(
            dataset.n_train, np.random.default_rng([seed, 1])
        )
        used = d.copy()
        if int(d.sum()) > dataset.n_train:
            notes.append(
                f"the allocation ships {int(d.sum())} samples per cycle, more than the "
                f"{dataset.n_train} training samples: batches wrap around the data set"
            )
    else:
        parts = partition(
            dataset.y_train, k, scheme=partition_scheme, rng=np.random.default_rng([seed, 0])
        )
        sampler = FederatedSampler(parts, np.random.default_rng([seed, 1]))
        used = sampler.effective_samples(d)
        short = int(np.count_nonzero(used < d))
        if short:
            notes.append(
                f"federated: {short} learner(s) own fewer samples than allocated and train on "
                f"min(d_k, own data); {int(used.sum())} of {int(d.sum())} samples used per cycle"
            )
    n_eval = min(dataset.n_train, train_eval_samples)
    if n_eval < dataset.n_train:
        pick = np.sort(
            np.random.default_rng([seed, 2]).choice(dataset.n_train, n_eval, replace=False)
        )
        x_tr, y_tr = dataset.x_train[pick], dataset.y_train[pick]
        notes.append(f"train_loss on a fixed random subset of {n_eval} training samples")
    else:
        x_tr, y_tr = dataset.x_train, dataset.y_train
    x_all = dataset.x_train.reshape((dataset.n_train, *spec.input_shape))
    y_all = dataset.y_train

    # -- columns
    nan = np.full(cycles + 1, np.nan)
    cols: dict[str, np.ndarray] = {
        "cycle": np.arange(cycles + 1, dtype=np.int64),
        "sim_time_s": np.arange(cycles + 1, dtype=float) * cycle_time,
        "energy_j": np.arange(cycles + 1, dtype=float) * per_cycle_energy,
        "train_loss": nan.copy(),
        "test_accuracy": nan.copy(),
        "test_loss": nan.copy(),
        "cycle_time_s": np.r_[0.0, np.full(cycles, cycle_time)],
        "cycle_energy_j": np.r_[0.0, np.full(cycles, per_cycle_energy)],
        "local_iterations": np.arange(cycles + 1, dtype=float)
        * (float(tau[part].mean()) if part.any() else 0.0),
        "local_steps": np.arange(cycles + 1, dtype=np.int64) * int(tau[part].sum()),
        "samples_used": np.r_[0, np.full(cycles, int(used.sum()))].astype(np.int64),
        "learner_loss": nan.copy(),
    }

    def _evaluate(row: int, params: Mapping[str, Any]) -> bool:
        """Evaluate into ``row``; False when the model has diverged (non-finite loss)."""
        cols["train_loss"][row] = evaluate(spec, params, x_tr, y_tr)[0]
        loss, acc = evaluate(spec, params, dataset.x_test, dataset.y_test)
        cols["test_loss"][row], cols["test_accuracy"][row] = loss, acc
        return math.isfinite(cols["train_loss"][row]) and math.isfinite(loss)

    t0 = time.perf_counter()
    params = init_params(spec, seed, device=dev)
    _evaluate(0, params)
    bounds = np.cumsum(used)[:-1]
    description = f"training ({result.scheme})"
    diverged_at: int | None = None
    per_cycle = int((tau * used).sum())  # sample-steps per cycle: the bar's unit
    bar = _progress_bar(progress, cycles * per_cycle, description)
    with _torch_threads(threads), bar as advance:
        for n in range(1, cycles + 1):
            idx = np.concatenate(sampler.draw(d))
            xs = np.split(x_all[idx], bounds)
            ys = np.split(y_all[idx], bounds)
            params, losses = local_sgd_cycle(
                spec, params, xs, ys, tau, lr=lr, batched=batched, on_step=advance
            )
            w = used.astype(float)
            if w.sum() > 0:
                cols["learner_loss"][n] = float(np.nansum(losses * w) / w.sum())
            finite = all(bool(torch.isfinite(p).all()) for p in params.values())
            if not finite or n % eval_every == 0 or n == cycles:
                finite = _evaluate(n, params) and finite
            if not finite:
                diverged_at = n
                break
            if advance is not None:
                metric = cols["test_accuracy" if dataset.task == "classification" else "test_loss"]
                last = metric[np.isfinite(metric)]
                name = "acc" if dataset.task == "classification" else "loss"
                advance(0, f"cycle {n}/{cycles}, {name} {last[-1]:.4f}")
    wall = time.perf_counter() - t0
    if diverged_at is not None:
        msg = (
            f"training diverged at cycle {diverged_at} (a non-finite loss or parameter) "
            f"with lr = {lr:g}; "
            "try a smaller learning rate"
        )
        if on_divergence == "raise":
            raise ValidationError("lr", msg)
        msg += f" (the record stops at cycle {diverged_at})"
        warnings.warn(f"{result.scheme}: {msg}", EdgeallocWarning, stacklevel=2)
        notes.append(msg)
        cols = {name: col[: diverged_at + 1] for name, col in cols.items()}

    meta = problem.meta or {}
    classes = meta.get("classes")
    classes_t = (
        tuple(str(c) for c in classes) if isinstance(classes, list) and len(classes) == k else None
    )
    cpu = _meta_vector(meta, "cpu_hz", k)
    return RunRecord(
        columns=cols,
        scheme=result.scheme,
        mode=mode,
        partition_scheme=partition_scheme,
        clock=clock,
        dataset=dataset.name,
        task=dataset.task,
        spec=spec,
        seed=seed,
        lr=lr,
        deadline=problem.deadline,
        cycle_time_s=cycle_time,
        tau=tau,
        samples=d,
        samples_used=np.asarray(used, dtype=np.int64),
        device_time_s=np.asarray(ev.times, dtype=float),
        compute_j=energy.compute_j,
        transmit_j=energy.transmit_j,
        energy_source=energy.source,
        notes=tuple(notes),
        result=result,
        problem_name=problem.name,
        classes=classes_t,
        cpu_hz=cpu,
        params=params if keep_params else None,
        wall_seconds=wall,
        diverged_at=diverged_at,
    )


# ---------------------------------------------------------------------------
# Every scheme at once
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class Comparison:
    """One :class:`RunRecord` per scheme, trained alike (:func:`compare_schemes`).

    Attributes
    ----------
    records
        Scheme -> record, in the order the schemes were given.
    results
        Scheme -> :class:`~edgealloc.Result` for every scheme solved
        (including those skipped).
    skipped
        Scheme -> why it was not trained (fractional, infeasible, failed).
    """

    records: Mapping[str, RunRecord]
    results: Mapping[str, Result]
    skipped: Mapping[str, str]

    def plot(self, path: str | Path, *, title: str | None = None) -> Path:
        """All records in one figure (:func:`plot_records`)."""
        return plot_records(list(self.records.values()), path, title=title)

    def summary_rows(self) -> list[dict[str, Any]]:
        """One row per trained scheme: allocation, clock, energy and the final metric."""
        rows = []
        for scheme, rec in self.records.items():
            part = rec.samples > 0
            tau = rec.tau[part]
            last = rec.final
            rows.append(
                {
                    "scheme": scheme,
                    "tau": f"{int(tau.min())}"
                    if tau.min() == tau.max()
                    else f"{int(tau.min())}–{int(tau.max())}",
                    "cycle_time_s": rec.cycle_time_s,
                    "j_per_cycle": float(rec.device_energy_j.sum()),
                    "cycles": rec.cycles,
                    "sim_time_s": last["sim_time_s"],
                    "energy_j": last["energy_j"],
                    rec.metric: last[rec.metric],
                    "train_loss": last["train_loss"],
                }
            )
        return rows


def compare_schemes(
    problem: MelProblem,
    dataset: Dataset,
    *,
    schemes: Sequence[str] | None = None,
    spec: ModelSpec | None = None,
    cycles: int,
    plot_path: str | Path | None = None,
    **options: Any,
) -> Comparison:
    """Solve ``problem`` with every scheme and train each allocation alike.

    Every record uses the same seed, hence the same initial model and the
    same random permutations for its batches (:func:`train`), so the
    differences come from the allocations.

    Parameters
    ----------
    problem
        The ``mel`` problem.
    dataset
        The data.
    schemes
        Schemes to compare; default :func:`trainable_schemes` (all but
        ``relaxed``, whose allocation is fractional).
    spec
        The model (default: the data set's ``"mlp"``).
    cycles
        Global cycles per record.
    plot_path
        When given, the combined figure is written there.
    **options
        Further :func:`train` arguments (``mode``, ``lr``, ``seed``, ...).

    Returns
    -------
    Comparison
        The records, the results and the schemes skipped with the reason.

    Raises
    ------
    InfeasibleError
        When the problem admits no allocation at all (the exact scheme
        ``optimal`` is infeasible) or no scheme could be trained.
    ValidationError
        Unknown schemes and bad :func:`train` arguments.
    """
    from ..api import schemes as family_schemes
    from ..api import solve

    known = family_schemes("mel")
    names = list(schemes) if schemes is not None else trainable_schemes()
    if not names:
        raise ValidationError("schemes", "needs at least one scheme")
    for name in names:
        check_choice("schemes", name, known)
    if spec is None:
        spec = model_for(dataset, "mlp")
    records: dict[str, RunRecord] = {}
    results: dict[str, Result] = {}
    skipped: dict[str, str] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EdgeallocWarning)
        for name in names:
            res = solve(problem, name, raise_infeasible=False)
            results[name] = res
            if res.status is Status.INFEASIBLE:
                if name == "optimal":
                    res.raise_for_status()
                skipped[name] = f"infeasible: {res.message}"
                continue
            if res.status is Status.FAILED:
                skipped[name] = f"failed: {res.message}"
                continue
            if name == "relaxed":
                skipped[name] = "fractional allocation (the continuous relaxation, an upper bound)"
                continue
            records[name] = train(problem, res, dataset, spec=spec, cycles=cycles, **options)
    for w in {str(c.message) for c in caught}:
        warnings.warn(w, EdgeallocWarning, stacklevel=2)
    if not records:
        raise InfeasibleError(
            "no scheme gave a trainable allocation: "
            + "; ".join(f"{s}: {why}" for s, why in skipped.items())
        )
    out = Comparison(records=records, results=results, skipped=skipped)
    if plot_path is not None:
        out.plot(plot_path)
    return out


# ---------------------------------------------------------------------------
# One source of truth: the scenario's workload is the trained model
# ---------------------------------------------------------------------------
def _model_meta(spec: ModelSpec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": spec.kind,
        "input_shape": list(spec.input_shape),
        "n_outputs": spec.n_outputs,
        "hidden": list(spec.hidden) if spec.kind == "mlp" else None,
        "channels": list(spec.channels) if spec.kind == "cnn" else None,
        "kernel_size": spec.kernel_size if spec.kind == "cnn" else None,
    }
    return out


def _scenario_document(scenario: Any) -> dict[str, Any]:
    from ..api import load_document
    from ..scenarios import PRESETS

    if isinstance(scenario, Mapping):
        data: Any = dict(scenario)
    elif isinstance(scenario, str | Path):
        text = str(scenario)
        if text in PRESETS and not Path(text).exists():
            data = PRESETS[text]()
        else:
            data = load_document(scenario)
    else:
        raise ValidationError(
            "scenario",
            f"must be a preset name, a file or a mapping (got {type(scenario).__name__})",
        )
    if not isinstance(data, Mapping):
        raise ValidationError("scenario", f"must be a mapping (got {type(data).__name__})")
    if "family" in data and "scenario" not in data:
        raise ValidationError(
            "scenario",
            "is a canonical problem: it has no workload to match to the model; give a scenario "
            "(scenario: mel) or a preset",
        )
    if data.get("scenario") != "mel":
        raise ValidationError(
            "scenario", f"must be a mel scenario (got scenario: {data.get('scenario')!r})"
        )
    return dict(data)


def scenario_for_model(
    scenario: str | Path | Mapping[str, Any],
    spec: ModelSpec,
    overrides: Mapping[str, Any] | None = None,
    *,
    total_samples: int | None = None,
    mode: str | None = None,
) -> MelProblem:
    """Compile a ``mel`` scenario whose workload is the model that trains.

    Parameters
    ----------
    scenario
        A preset name, a scenario file or a scenario mapping (``scenario: mel``).
    spec
        The model to train.
    overrides
        ``{dotted.key: value}`` (aliases as in ``--set``), applied before the
        workload is set. ``workload.layers`` and ``workload.features`` are
        the model's and cannot be overridden.
    total_samples
        When given, the samples per cycle :math:`d` (e.g. the training set
        size); otherwise the scenario's (after overrides).
    mode
        When given, the scenario's ``mode`` (``"parallel"`` or
        ``"federated"``): whether the batches are shipped, which sets
        :math:`c_1`.

    Returns
    -------
    MelProblem
        The compiled problem; its ``meta`` also records the model
        (``meta["model"]``: kind, shapes, ``n_params``, ``flops_per_sample``)
        and ``update_bits_per_sample`` (:math:`P_m S_d`, used by the energy
        ledger).

    Notes
    -----
    * ``mlp`` and ``linear``: ``workload.layers`` =
      :meth:`ModelSpec.fully_connected` widths and ``features`` = the input
      size; the scenario's ``flops_convention``, ``include_biases``,
      precisions and ``cycles_per_flop`` still apply, and the model's
      measured FLOPs and size equal ``FullyConnected``'s.
    * ``cnn``: the scenario schema describes a fully connected network, so
      ``cycles_per_sample`` is set to the model's measured
      ``flops_per_sample(flops_convention) * cycles_per_flop`` and
      ``model_coefficients`` to its parameter count (weights only when
      ``include_biases`` is false); ``layers`` then only holds
      ``[input size, outputs]`` (unused). Activations and pooling are not
      counted, as for the dense nets.
    * A scenario that sets ``cycles_per_sample`` or ``model_coefficients``
      itself (e.g. ``mel-sync-calibrated``, whose ``model_coefficients`` is
      the printed bit count read as a coefficient count) is read as a
      calibration of *its* network: the value is scaled by the ratio of the
      trained model's FLOPs (coefficients) to the scenario network's, which
      keeps the reading. A value given in ``overrides`` is used as is.

    Raises
    ------
    ValidationError
        A canonical problem or another family, overrides of the model's
        fields, and anything the scenario compiler rejects.
    """
    from .._validation import validate_model
    from ..mel.scenario import MelScenario
    from ..scenarios import ALIASES, apply_overrides, compile_scenario

    if not isinstance(spec, ModelSpec):
        raise ValidationError("spec", f"must be a ModelSpec (got {type(spec).__name__})")
    data = _scenario_document(scenario)
    user = dict(overrides or {})
    keys = {ALIASES.get(key, key) for key in user}
    for fixed in ("workload", "workload.layers", "workload.features"):
        if fixed in keys:
            raise ValidationError(
                fixed,
                f"is set from the trained model ({spec.kind}, input {list(spec.input_shape)}); "
                "change the model instead",
            )
    base = apply_overrides(data, user)
    if mode is not None:
        base["mode"] = check_choice("mode", mode, MODES)
    if total_samples is not None:
        base["total_samples"] = check_int("total_samples", total_samples, minimum=1)
    sc = validate_model(MelScenario, base)
    wl = sc.workload
    conv, incl = wl.flops_convention, wl.include_biases
    own = FullyConnected(tuple(wl.layers))
    own_flops = own.flops_per_sample(conv)
    own_coeffs = own.n_params if incl else own.n_weights
    new_flops = spec.flops_per_sample(conv)
    new_coeffs = spec.n_params if incl else spec.n_weights
    dense = spec.kind in ("mlp", "linear")
    workload = dict(base["workload"])
    workload["layers"] = (
        list(spec.fully_connected().layers)
        if dense
        else [
            spec.n_features,
            spec.n_outputs,
        ]
    )
    workload["features"] = spec.n_features
    if wl.cycles_per_sample is not None and "workload.cycles_per_sample" not in keys:
        workload["cycles_per_sample"] = wl.cycles_per_sample * new_flops / own_flops
    elif wl.cycles_per_sample is None and not dense:
        workload["cycles_per_sample"] = float(new_flops) * wl.cycles_per_flop
    if wl.model_coefficients is not None and "workload.model_coefficients" not in keys:
        workload["model_coefficients"] = wl.model_coefficients * new_coeffs / own_coeffs
    elif wl.model_coefficients is None and not dense:
        workload["model_coefficients"] = float(new_coeffs)
    base["workload"] = workload
    problem = compile_scenario(base)
    meta = dict(problem.meta or {})
    meta["model"] = {
        **_model_meta(spec),
        "n_params": spec.n_params,
        "flops_per_sample": new_flops,
        "flops_convention": conv,
    }
    meta["update_bits_per_sample"] = float(wl.model_bits * wl.per_sample_coefficients)
    return problem.replace(meta=meta)
