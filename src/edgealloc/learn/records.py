"""What :func:`~edgealloc.learn.training.train` records: :class:`RunRecord` and its files.

One row per global cycle (:data:`RECORD_COLUMNS`, row 0 = the initial model)
and a per-device energy ledger (:data:`LEDGER_COLUMNS`), written as CSV
(:meth:`RunRecord.to_csv`, :meth:`RunRecord.ledger_to_csv`; NaN is an empty
cell, floats in full precision) or Parquet (:meth:`RunRecord.to_parquet`,
needs ``pyarrow``). The column names are a contract: they do not change.

Time fields end in ``_s`` (seconds) and energies in ``_j`` (joules), like the
columns; ``RunRecord.deadline`` and ``RunRecord.wall_seconds``, the names of
earlier versions, remain as read-only aliases.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ValidationError
from ._checks import output_file
from .plots import plot_records

if TYPE_CHECKING:
    from ..result import Result
    from .models import ModelSpec

__all__ = ["LEDGER_COLUMNS", "RECORD_COLUMNS", "PlanComparison", "RunRecord"]

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


def _cell(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return "" if not math.isfinite(float(value)) else repr(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


@dataclasses.dataclass(frozen=True, eq=False)
class RunRecord:
    """What :func:`~edgealloc.learn.training.train` recorded: one row per cycle, a ledger.

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
    deadline_s, cycle_time_s
        :math:`T` and the duration of every cycle on the simulated clock
        (``deadline`` is a read-only alias of ``deadline_s``).
    tau, samples, samples_used
        Per device: :math:`\\tau_k`, :math:`d_k` and the samples it trains
        on per cycle (:math:`\\min(d_k, |\\mathcal D_k|)` in federated mode).
    device_time_s
        Per device :math:`t_k` (0 when idle).
    compute_j, transmit_j
        Per device joules per cycle (see
        :class:`~edgealloc.learn.energy.DeviceEnergy`).
    energy_source
        Where the energy came from (:class:`~edgealloc.learn.energy.DeviceEnergy`).
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
    wall_time_s
        Real time the training took (not part of :attr:`columns`;
        ``wall_seconds`` is a read-only alias).
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
    deadline_s: float
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
    wall_time_s: float = math.nan
    diverged_at: int | None = None

    # ------------------------------------------------------------ aliases
    @property
    def deadline(self) -> float:
        """:math:`T` in seconds (alias of :attr:`deadline_s`, the name of earlier versions)."""
        return self.deadline_s

    @property
    def wall_seconds(self) -> float:
        """Real training time (alias of :attr:`wall_time_s`, the name of earlier versions)."""
        return self.wall_time_s

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
        p = output_file(path)
        with p.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(list(self.columns))
            for row in self.rows:
                writer.writerow([_cell(v) for v in row.values()])
        return p

    def ledger_to_csv(self, path: str | Path) -> Path:
        """Write the per-device energy ledger as CSV (:data:`LEDGER_COLUMNS`)."""
        p = output_file(path)
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
        p = output_file(path)
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
            f"K = {self.n_devices}, T = {self.deadline_s:g} s, lr = {self.lr:g}, seed {self.seed}"
        )

    def __repr__(self) -> str:
        last = self.final
        metric = self.metric
        return (
            f"RunRecord(scheme={self.scheme!r}, cycles={self.cycles}, "
            f"sim_time_s={last['sim_time_s']:.4g}, energy_j={last['energy_j']:.4g}, "
            f"{metric}={last[metric]:.4g})"
        )


def _span_text(lo: Any, hi: Any) -> str:
    """``lo`` as an integer, or the range ``lo–hi`` when the two differ (summary tables)."""
    return f"{int(lo)}" if lo == hi else f"{int(lo)}–{int(hi)}"


def _final_columns(rec: RunRecord) -> dict[str, Any]:
    """The last row's simulated time, energy, headline metric and training loss (summaries)."""
    last = rec.final
    return {
        "sim_time_s": last["sim_time_s"],
        "energy_j": last["energy_j"],
        rec.metric: last[rec.metric],
        "train_loss": last["train_loss"],
    }


@dataclasses.dataclass(frozen=True, eq=False)
class PlanComparison:
    """One record per scheme, trained alike: the base of a family's comparison.

    A family's subclass names its figure and its summary table as the static
    methods ``plot_records(records, path, *, title)`` and ``rows(records)``.

    Attributes
    ----------
    records
        Scheme -> record, in the order the schemes were given.
    results
        Scheme -> :class:`~edgealloc.Result` of every scheme solved.
    skipped
        Scheme -> why it was not trained.
    """

    records: Mapping[str, RunRecord]
    results: Mapping[str, Result]
    skipped: Mapping[str, str]

    @staticmethod
    def plot_records(records: list[RunRecord], path: str | Path, *, title: str | None) -> Path:
        raise NotImplementedError  # pragma: no cover - every subclass names its figure

    @staticmethod
    def rows(records: Mapping[str, RunRecord]) -> list[dict[str, Any]]:
        raise NotImplementedError  # pragma: no cover - every subclass names its table

    def plot(self, path: str | Path, *, title: str | None = None) -> Path:
        """All records in one figure."""
        return self.plot_records(list(self.records.values()), path, title=title)

    def summary_rows(self) -> list[dict[str, Any]]:
        """One row per trained scheme."""
        return self.rows(self.records)
