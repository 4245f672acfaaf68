"""How ``feel`` problems and results are described, tabulated and plotted.

The :class:`FeelPresenter` of the family descriptor: the CLI's summary and
per-device table, the comparison table's latency and global-batch columns,
and the demo figure ``feel.png``: per preset, the learning efficiency by
scheme against the continuous bound, the batch each device gets, its uplink
slot, and how each device's uplink phase splits into computing and uploading
under the exact plan (all devices finish together, Remark 3 of the paper).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._style import (
    LIMIT_COLOR,
    MUTED,
    class_blocks,
    demo_titles,
    device_axis,
    device_rows,
    fmt,
    per_device,
    row_title,
    rows_figure,
    scheme_bars,
    scheme_style,
    shade_classes,
)
from ..family import Column, Presenter
from ..result import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from rich.table import Table

__all__ = ["FeelPresenter"]

#: The order schemes are drawn in, and colours for the family's baselines (the
#: shared palette in ``edgealloc._style`` knows optimal, paper and relaxed).
ORDER = ("optimal", "relaxed", "paper", "equal-slots", "full", "random", "online")
_BASELINE_COLORS = {
    "equal-slots": "#9a9a9a",
    "full": "#8c564b",
    "random": "#e377c2",
    "online": "#17becf",
}
#: Compute and upload parts of the per-device uplink phase.
_COMPUTE, _UPLOAD = "#1f5f9e", "#9ecae1"


def _color(scheme: str) -> str:
    return _BASELINE_COLORS.get(scheme) or scheme_style(scheme)["color"]


def _device_axis(ax: Axes, k: int, blocks: Sequence[tuple[int, int, str]]) -> None:
    shade_classes(ax, blocks)
    device_axis(ax, k, max_ticks=12)


def _plot_preset(sub: Any, name: str, problem: Any, results: Sequence[Result]) -> None:
    """One preset: efficiency by scheme, batch per device, uplink slot, uplink phase split."""
    k = problem.n_devices
    x = np.arange(k)
    blocks = class_blocks(per_device(problem, "classes"))
    by = {r.scheme: r for r in results if r.allocation is not None}
    proc = "GPU" if problem.gpu is not None else "CPU"
    row_title(
        sub,
        f"{name}: {proc}, K = {k} devices, $B^{{max}}$ = {problem.max_batch}, gradient "
        f"{problem.gradient_bits / 1e6:.4g} Mbit, frames {1e3 * problem.frame.uplink:g} / "
        f"{1e3 * problem.frame.downlink:g} ms",
    )
    gs = sub.add_gridspec(1, 4, width_ratios=[0.9, 1.2, 1.2, 1.2])
    ax_e, ax_b, ax_s, ax_t = (sub.add_subplot(gs[0, i]) for i in range(4))

    # (1) efficiency by scheme, the continuous bound as a line.
    order = [s for s in ORDER if s in by]
    values = [float(by[s].objective) for s in order]
    scheme_bars(
        ax_e,
        order,
        values,
        [_color(s) for s in order],
        [fmt(v, ".3g") for v in values],
        fontsize=7.5,
        rotation=35,
    )
    bound = next((float(r.relaxed_bound) for r in by.values() if r.scheme == "optimal"), None)
    if bound is not None and math.isfinite(bound):
        ax_e.axhline(bound, color=LIMIT_COLOR, ls="--", lw=1.1)
    ax_e.set_ylabel(r"learning efficiency $\xi\sqrt{B}/T$")
    ax_e.set_ylim(0, max(values or [1.0]) * 1.18)
    title = "efficiency by scheme"
    if "optimal" in by and "paper" in by and by["paper"].objective > 0:
        title += f"\noptimal = {by['optimal'].objective / by['paper'].objective:.4f}× paper"
    ax_e.set_title(title, fontsize=10)

    # (2) batch per device, (3) uplink slot per device.
    shown = [s for s in ("optimal", "paper", "equal-slots") if s in by]
    width = 0.8 / max(1, len(shown))
    for ax, field, scale, label in (
        (ax_b, "batch", 1.0, r"batch $B_k$"),
        (ax_s, "uplink_slot", 1e3, r"uplink slot $\tau^U_k$ (ms)"),
    ):
        _device_axis(ax, k, blocks)
        for j, s in enumerate(shown):
            ax.bar(
                x + (j - (len(shown) - 1) / 2) * width,
                scale * np.asarray(getattr(by[s].allocation, field), float),
                width=width,
                color=_color(s),
                label=s,
            )
        if "relaxed" in by:
            ax.step(
                x,
                scale * np.asarray(getattr(by["relaxed"].allocation, field), float),
                where="mid",
                color=_color("relaxed"),
                ls="--",
                lw=1.4,
                label="relaxed",
            )
        if field == "batch":
            ax.axhline(problem.max_batch, color=LIMIT_COLOR, ls=":", lw=1)
            ax.set_ylim(0, problem.max_batch * 1.3)
        ax.set_ylabel(label)
        ax.set_title(f"{label} per device", fontsize=10, pad=13)
    ax_b.legend(fontsize=8, frameon=False, loc="upper left", ncol=4)

    # (4) the exact plan's uplink phase: compute then upload; all end at T_U.
    if "optimal" in by:
        alloc = by["optimal"].allocation
        comp, up = np.asarray(alloc.compute_time), np.asarray(alloc.upload_time)
        _device_axis(ax_t, k, blocks)
        ax_t.bar(x, comp, color=_COMPUTE, label="compute $t_k(B_k)$")
        ax_t.bar(x, up, bottom=comp, color=_UPLOAD, label="upload")
        ax_t.axhline(alloc.latency_uplink, color=LIMIT_COLOR, ls="--", lw=1.1)
        ax_t.annotate(
            f"uplink {alloc.latency_uplink:.4g} s (+ downlink {alloc.latency_downlink:.3g} s)",
            (k - 0.5, alloc.latency_uplink),
            xytext=(0, 3),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=8,
            color=LIMIT_COLOR,
        )
        ax_t.set_ylim(0, alloc.latency_uplink * 1.32)
        ax_t.set_ylabel("time (s)")
        ax_t.legend(fontsize=8, frameon=False, loc="upper left", ncol=2)
        ax_t.set_title("exact plan: all devices finish the uplink together", fontsize=10, pad=13)
    else:  # pragma: no cover - the demo always has the exact scheme
        ax_t.axis("off")


def _figure(cases: Sequence[tuple[str, Any, Sequence[Result]]], path: Path) -> None:
    """``feel.png``: one row per ``feel`` preset."""
    with rows_figure(path, len(cases), 4.6, 0.7, h_pad=0.08, hspace=0.06) as (fig, subs):
        for sub, (name, problem, results) in zip(subs, cases, strict=True):
            _plot_preset(sub, name, problem, results)
        demo_titles(
            fig,
            "batch sizes and TDMA slots for federated edge learning "
            "(dashed red: the continuous bound)",
        )
        fig.text(0.995, 0.003, "grey bands: CPU classes", ha="right", fontsize=8, color=MUTED)


class FeelPresenter(Presenter):
    """Presentation of the ``feel`` family (maximise the learning efficiency)."""

    objective_header = "efficiency"
    gap_decimals = 2
    figure = ("figure:feel", "feel.png")

    def describe(self, problem: Any) -> str:
        name = problem.name or "problem"
        return (
            f"{name}: {problem.FAMILY}, {problem.processor.upper()}, K = {problem.n_devices} "
            f"devices, B^max = {problem.max_batch}, gradient {problem.gradient_bits / 1e6:.4g} "
            "Mbit"
        )

    def title(self, preset: str, problem: Any) -> str:
        return f"{preset}: {problem.description or ''} (K = {problem.n_devices})"

    def summary(self, problem: Any, result: Result) -> list[tuple[str, str]]:
        if result.allocation is None:
            return []
        a = result.allocation
        return [
            ("relaxed bound", fmt(result.relaxed_bound)),
            ("global batch", fmt(a.global_batch, ".8g")),
            (
                "latency",
                f"{a.latency:.6g} s (uplink {a.latency_uplink:.6g} s + downlink "
                f"{a.latency_downlink:.6g} s)",
            ),
        ]

    def columns(self, problem: Any | None) -> list[Column]:
        def latency(res: Result, _: Any) -> str:
            return fmt(res.allocation.latency if res.allocation is not None else math.nan, ".5g")

        def batch(res: Result, _: Any) -> str:
            if res.allocation is None:
                return "-"
            return fmt(float(res.allocation.global_batch), ".6g")

        return [Column("latency (s)", latency), Column("global batch", batch)]

    def device_table(self, problem: Any, result: Result, shown: Sequence[int]) -> Table:
        from rich.table import Table

        k = problem.n_devices
        classes = per_device(problem, "classes")
        dist = per_device(problem, "distance_m")
        a = result.allocation
        table = Table(header_style="bold", title_justify="left")
        table.add_column("device", justify="right")
        if classes is not None:
            table.add_column("class")
        if dist is not None:
            table.add_column("distance (m)", justify="right")
        for head in (
            "uplink (Mbit/s)",
            "batch",
            "uplink slot (ms)",
            "downlink slot (ms)",
            "compute (s)",
            "upload (s)",
        ):
            table.add_column(head, justify="right")
        integral = np.issubdtype(np.asarray(a.batch).dtype, np.integer)
        for i in device_rows(table, k, shown, span=True):
            row = [str(i)]
            if classes is not None:
                row.append(str(classes[i]))
            if dist is not None:
                row.append(f"{float(dist[i]):.4g}")
            row += [
                f"{float(problem.uplink_rate[i]) / 1e6:.4g}",
                fmt(a.batch[i], ".6g" if integral else ".5g"),
                f"{1e3 * float(a.uplink_slot[i]):.4g}",
                f"{1e3 * float(a.downlink_slot[i]):.4g}",
                f"{float(a.compute_time[i]):.4g}",
                f"{float(a.upload_time[i]):.4g}",
            ]
            table.add_row(*row)
        return table

    def size(self, problem: Any) -> dict[str, Any]:
        return {
            "devices": problem.n_devices,
            "processor": problem.processor,
            "max_batch": problem.max_batch,
            "gradient_bits": problem.gradient_bits,
            "frame": problem.frame.to_dict(),
        }

    def plot(self, cases: Sequence[tuple[str, Any, Sequence[Result]]], path: Path) -> None:
        _figure(cases, path)
