"""What FEEL training records: :class:`FeelRecord`, :class:`FeelComparison` and their figure.

A :class:`FeelRecord` is a :class:`~edgealloc.learn.records.RunRecord` (the
same CSV columns, :data:`~edgealloc.learn.records.RECORD_COLUMNS`, and ledger
columns, :data:`~edgealloc.learn.records.LEDGER_COLUMNS`) whose rows are
communication rounds: ``cycle`` is the round, ``cycle_time_s`` the round's
latency (eq. (15)), ``local_iterations`` counts one gradient step per round,
``local_steps`` one per device and round, ``samples_used`` the global batch
trained on and ``learner_loss`` the batch-weighted mean loss of the devices'
batches at the start of the round. In the ledger, ``tau`` is 1 (one gradient
per round), ``samples`` the device's batch :math:`B_k` and ``time_s`` its
end-to-end latency :math:`T_k` (eq. (13)); with batches drawn afresh every
round (the ``random`` baseline) ``samples``, ``samples_used``, ``time_s`` and
the energies are per-round means (``samples`` rounded) and
:attr:`FeelRecord.round_batches` holds every round's batches.

matplotlib is imported when a figure is drawn.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .feel_energy import SOURCES
from .plots import _draw_panels, _finish, _four_panels
from .records import PlanComparison, RunRecord, _final_columns, _span_text

__all__ = ["FeelComparison", "FeelRecord", "plot_feel_records"]


@dataclasses.dataclass(frozen=True, eq=False)
class FeelRecord(RunRecord):
    r"""A :class:`RunRecord` of FEEL gradient averaging (module docstring).

    Attributes (besides :class:`RunRecord`'s)
    -----------------------------------------
    round_batches
        ``(rounds, K)``: the batches :math:`B_k` priced in every round (the
        plan's in every row, unless they are drawn afresh every round).
    round_used
        ``(rounds, K)``: the samples trained on, :math:`\min(B_k, |\mathcal D_k|)`.
    lr_rule
        How the learning rate follows the global batch, in words.
    lr_reference_batch
        :math:`B_{ref}` of the rule: ``lr`` is the rate at a global batch of
        :math:`B_{ref}` samples.
    processor
        ``"cpu"`` or ``"gpu"``.
    """

    round_batches: np.ndarray | None = None
    round_used: np.ndarray | None = None
    lr_rule: str = ""
    lr_reference_batch: float = math.nan
    processor: str = "cpu"

    @property
    def global_batch(self) -> float:
        """Mean global batch :math:`B = \\sum_k B_k` per round (the plan's when fixed)."""
        return float(self.samples_mean.sum())

    @property
    def samples_mean(self) -> np.ndarray:
        """Per device, the mean batch over the rounds trained."""
        if self.round_batches is None or not len(self.round_batches):
            return np.asarray(self.samples, dtype=float)
        return np.asarray(self.round_batches, dtype=float).mean(axis=0)

    @property
    def label(self) -> str:
        """One line for legends: batches, round latency, energy per round."""
        b = self.samples_mean
        lo, hi = float(b.min()), float(b.max())
        fresh = self.round_batches is not None and np.ptp(self.round_batches, axis=0).any()
        batches = f"B_k = {lo:.0f}" if lo == hi else f"B_k = {lo:.0f}–{hi:.0f}"
        if fresh:
            batches = f"B_k drawn each round (mean {self.global_batch:.0f})"
        energy = float(self.device_energy_j.sum())
        per = f", {energy:.3g} J/round" if math.isfinite(energy) else ""
        return f"{self.scheme}: {batches}, round {self.cycle_time_s:.3g} s{per}"

    def describe(self) -> str:
        """One line: data, model, partition, devices, round latency, learning-rate rule."""
        where = f"{self.problem_name}: " if self.problem_name else ""
        return (
            f"{where}{self.dataset} ({self.task}), {self.spec.kind} "
            f"({self.spec.n_params:,} parameters), FEEL gradient averaging "
            f"({self.partition_scheme}, {self.processor.upper()}), K = {self.n_devices}, "
            f"lr = {self.lr:g} at B = {self.lr_reference_batch:g} ({self.lr_rule}), "
            f"seed {self.seed}"
        )

    def ledger_rows(self) -> list[dict[str, Any]]:
        """One dict per device (:data:`~edgealloc.learn.records.LEDGER_COLUMNS`); see the module."""
        rows = super().ledger_rows()
        if self.round_batches is None or not np.ptp(self.round_batches, axis=0).any():
            return rows
        mean = self.samples_mean
        used = (
            np.asarray(self.round_used, dtype=float).mean(axis=0)
            if self.round_used is not None and len(self.round_used)
            else mean
        )
        for row, b, u in zip(rows, mean, used, strict=True):
            row["samples"] = round(float(b))
            row["samples_used"] = round(float(u))
        return rows

    def plot(self, path: str | Path, *, title: str | None = None) -> Path:
        """Accuracy and loss against rounds, simulated time and energy.

        See :func:`plot_feel_records`.
        """
        return plot_feel_records([self], path, title=title)


@dataclasses.dataclass(frozen=True, eq=False)
class FeelComparison(PlanComparison):
    """One :class:`FeelRecord` per scheme, trained alike (``compare_feel``).

    Rows: batches, round latency, energy and the final metric (:func:`summary_rows`).
    """

    @staticmethod
    def plot_records(records: list[RunRecord], path: str | Path, *, title: str | None) -> Path:
        return plot_feel_records(records, path, title=title)

    @staticmethod
    def rows(records: Mapping[str, RunRecord]) -> list[dict[str, Any]]:
        return summary_rows(records)


def summary_rows(records: Mapping[str, RunRecord]) -> list[dict[str, Any]]:
    """The summary table of FEEL records (one row per scheme)."""
    rows = []
    for scheme, rec in records.items():
        b = rec.samples_mean if isinstance(rec, FeelRecord) else np.asarray(rec.samples, float)
        rows.append(
            {
                "scheme": scheme,
                "batch": _span_text(round(float(b.min())), round(float(b.max()))),
                "global_batch": float(b.sum()),
                "round_s": rec.cycle_time_s,
                "j_per_round": float(rec.device_energy_j.sum()),
                "rounds": rec.cycles,
                **_final_columns(rec),
            }
        )
    return rows


def plot_feel_records(
    records: Sequence[RunRecord], path: str | Path, *, title: str | None = None
) -> Path:
    """Plot FEEL records together (e.g. one per scheme), as the paper's Figs. 4-5 do.

    Panels: the headline metric (test accuracy, or test loss for regression)
    against communication rounds, simulated training time and the energy of
    all devices, and the training loss of the global model against simulated
    time. Each scheme in its colour (:func:`edgealloc._style.scheme_color`).
    """
    p, fig, axes = _four_panels(records, path)
    first = records[0]
    metric = first.metric
    ylabel = "test accuracy" if metric == "test_accuracy" else "test loss"
    panels = (
        (axes[0, 0], "cycle", metric, "communication round", ylabel),
        (axes[0, 1], "sim_time_s", metric, "simulated training time (s)", ylabel),
        (axes[1, 0], "energy_j", metric, "energy spent, all devices (J)", ylabel),
        (axes[1, 1], "sim_time_s", "train_loss", "simulated training time (s)", "training loss"),
    )
    _draw_panels(records, panels)
    axes[0, 0].set_title(f"{ylabel} after each round", fontsize=10)
    axes[0, 1].set_title("against the simulated clock (the plan's latency, eq. (15))", fontsize=10)
    words = SOURCES.get(first.energy_source, first.energy_source)
    axes[1, 0].set_title(f"against energy ({words}; ours, not the paper's)", fontsize=10)
    return _finish(fig, axes, first, title, p)
