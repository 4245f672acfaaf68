"""Figures of training records: the metric against cycles, simulated time and energy.

:func:`plot_records` draws one or more :class:`~edgealloc.learn.records.RunRecord`
(``RunRecord.plot`` and ``Comparison.plot`` call it) in the schemes' colours
(:func:`edgealloc._style.scheme_color`). matplotlib is imported when a figure
is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .._style import scheme_color
from ..errors import ValidationError
from ._checks import output_file

__all__ = ["plot_records"]


class _Plotted(Protocol):
    """What a figure reads of a record (:class:`~edgealloc.learn.records.RunRecord`)."""

    @property
    def columns(self) -> Mapping[str, np.ndarray]: ...

    @property
    def scheme(self) -> str: ...

    @property
    def clock(self) -> str: ...

    @property
    def energy_source(self) -> str: ...

    @property
    def cycles(self) -> int: ...

    @property
    def metric(self) -> str: ...

    @property
    def label(self) -> str: ...

    def describe(self) -> str: ...


_ENERGY_WORDS = {
    "problem": "the problem's energy model",
    "meta": "system model: CPU κf² + upload",
    "meta-compute-only": "system model: CPU κf² only",
    "unavailable": "unknown",
}


def _color(scheme: str, i: int) -> str:
    return scheme_color(scheme, i)


def _four_panels(records: Sequence[Any], path: str | Path) -> tuple[Path, Any, Any]:
    """The output path, and a 2 x 2 figure with its axes (at least one record)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not records:
        raise ValidationError("records", "needs at least one record to plot")
    p = output_file(path)
    fig = Figure(figsize=(12.0, 8.2), layout="constrained")
    FigureCanvasAgg(fig)
    return p, fig, fig.subplots(2, 2)


def _line(ax: Any, rec: Any, x: np.ndarray, y: np.ndarray, i: int) -> None:
    """One record's curve, in its scheme's colour (markers while there are few points)."""
    ax.plot(
        x,
        y,
        marker="o" if rec.cycles <= 40 else None,
        markersize=3.5,
        linewidth=1.6,
        color=_color(rec.scheme, i),
        label=rec.label,
    )


def _log_if_wide(ax: Any, records: Sequence[Any], ycol: str) -> None:
    """A log y axis for a loss column whose finite values span more than a factor of 20."""
    if ycol in ("train_loss", "test_loss"):
        finite = np.concatenate([r.columns[ycol] for r in records])
        finite = finite[np.isfinite(finite)]
        if finite.size and finite.min() > 0 and finite.max() / finite.min() > 20:
            ax.set_yscale("log")


def _draw_panels(records: Sequence[Any], panels: Sequence[tuple[Any, str, str, str, str]]) -> None:
    """Each panel ``(ax, x column, y column, x label, y label)``: every record's finite points."""
    from .._style import GRID

    for ax, xcol, ycol, xlabel, ylab in panels:
        for i, rec in enumerate(records):
            x, y = rec.columns[xcol], rec.columns[ycol]
            keep = np.isfinite(y) & np.isfinite(x)
            _line(ax, rec, x[keep], y[keep], i)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylab)
        ax.grid(True, **GRID)
        _log_if_wide(ax, records, ycol)


def _finish(fig: Any, axes: Any, first: Any, title: str | None, p: Path) -> Path:
    """The training-loss panel's title, the legend and the figure title; save at 110 dpi."""
    axes[1, 1].set_title("training loss of the global model", fontsize=10)
    axes[0, 0].legend(fontsize=8, loc="best")
    fig.suptitle(title if title is not None else first.describe(), fontsize=11)
    fig.savefig(p, dpi=110)
    return p


def plot_records(
    records: Sequence[_Plotted], path: str | Path, *, title: str | None = None
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
        Figure title; default: the first record's ``describe()``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    p, fig, axes = _four_panels(records, path)
    first = records[0]
    metric = first.metric
    ylabel = "test accuracy" if metric == "test_accuracy" else "test loss (½ MSE)"
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
            _line(ax, rec, x[keep], y[keep], i)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylab)
        ax.grid(True, alpha=0.3)
        _log_if_wide(ax, records, ycol)
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
    return _finish(fig, axes, first, title, p)
