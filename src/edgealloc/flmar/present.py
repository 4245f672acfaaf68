"""How ``flmar`` problems and results are described, tabulated and plotted.

The :class:`FlmarPresenter` of the family descriptor: the CLI's summary and
per-device table, the comparison table's energy / time / accuracy columns,
and the demo figure ``flmar.png``: per preset, the objective's parts by
scheme (energy, completion time, accuracy), the resolution each device gets
from ``optimal`` and ``paper``, their round times against the round time of
the plan, and the bandwidth and power of each device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._style import (
    GRID,
    MUTED,
    SCHEME_STYLE,
    demo_titles,
    device_rows,
    fmt,
    per_device,
    row_title,
    rows_figure,
)
from ..family import Column, Presenter
from ..result import Result

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["FlmarPresenter"]

#: Order of the schemes in the figure.
_ORDER = ("optimal", "paper", "minpixel", "randpixel", "comm-only", "comp-only", "yang2021")


def _value(res: Result, name: str) -> float:
    if res.allocation is None:
        return math.nan
    return float(getattr(res.allocation, name))


def _weights(problem: Any) -> str:
    w = problem.weights
    return f"(w1, w2, ρ) = ({w.energy:g}, {w.time:g}, {w.accuracy:g})"


#: Colours of this family's baselines (the shared palette knows optimal and paper).
_COLORS = {
    "minpixel": "#9a9a9a",
    "randpixel": "#3a9a5b",
    "comm-only": "#8c564b",
    "comp-only": "#e377c2",
    "yang2021": "#17becf",
}


def _color(scheme: str) -> str:
    known = SCHEME_STYLE.get(scheme)
    return known["color"] if known is not None else _COLORS.get(scheme, MUTED)


def _plot_preset(sub: Any, name: str, problem: Any, results: Sequence[Result]) -> None:
    by = {r.scheme: r for r in results if r.allocation is not None and r.success}
    order = [s for s in _ORDER if s in by]
    n = problem.n_devices
    deadline = "" if problem.deadline is None else f", deadline {problem.deadline:g} s"
    row_title(
        sub,
        f"{name}: N = {n} devices, resolutions {', '.join(f'{s:g}' for s in problem.resolutions)}"
        f" px, {_weights(problem)}{deadline}",
    )
    gs = sub.add_gridspec(1, 4, width_ratios=[1.25, 1.0, 1.2, 1.2])
    ax_obj = sub.add_subplot(gs[0, 0])
    ax_res = sub.add_subplot(gs[0, 1])
    ax_t = sub.add_subplot(gs[0, 2])
    ax_b = sub.add_subplot(gs[0, 3])

    # (1) energy and completion time by scheme (log scale), objective annotated.
    x = np.arange(len(order))
    energy = [_value(by[s], "energy") for s in order]
    tim = [_value(by[s], "time") for s in order]
    width = 0.38
    ax_obj.bar(x - width / 2, energy, width, color=[_color(s) for s in order], label="energy (J)")
    ax_obj.bar(
        x + width / 2,
        tim,
        width,
        color=[_color(s) for s in order],
        alpha=0.45,
        hatch="//",
        label="time (s)",
    )
    ax_obj.set_yscale("log")
    for xi, s in zip(x, order, strict=True):
        ax_obj.annotate(
            fmt(float(by[s].objective), ".4g"),
            (xi, max(energy[list(order).index(s)], tim[list(order).index(s)])),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=7.5,
        )
    ax_obj.set_xticks(x, order, rotation=30, ha="right")
    ax_obj.set_title("energy (solid) and completion time (hatched)\nobjective on top", fontsize=10)
    ax_obj.grid(axis="y", **GRID)
    ax_obj.set_axisbelow(True)

    # Devices sorted by channel gain (strongest first).
    idx = np.argsort(-problem.channel_gain, kind="stable")
    dev = np.arange(n)
    shown = [s for s in ("optimal", "paper") if s in by]

    # (2) resolution per device.
    # The two schemes often choose the same resolution: drawn apart (optimal filled just
    # below the option, paper hollow just above), inside limits that keep both visible.
    span = float(problem.resolutions[-1] - problem.resolutions[0]) or 1.0
    for j, s in enumerate(shown):
        res = np.asarray(by[s].resolution, float)[idx]
        offset = (j - 0.5) * 0.04 * span * (len(shown) > 1)
        hollow = j > 0
        ax_res.scatter(
            dev,
            res + offset,
            s=16,
            facecolors="none" if hollow else _color(s),
            edgecolors=_color(s),
            label=s,
            zorder=3,
        )
    ax_res.set_ylim(problem.resolutions[0] - 0.08 * span, problem.resolutions[-1] + 0.08 * span)
    ax_res.set_yticks(problem.resolutions)
    ax_res.set_ylabel("resolution (px)")
    ax_res.set_xlabel("device, strongest channel first")
    ax_res.set_title("frame resolution per device", fontsize=10)
    ax_res.grid(axis="y", **GRID)
    ax_res.legend(fontsize=8, frameon=False, loc="upper right")

    # (3) round time per device: compute + upload, against the plan's round time.
    for s in shown:
        ev = problem.evaluate(by[s].bandwidth, by[s].power, by[s].frequency, by[s].resolution)
        ax_t.plot(dev, ev.compute_time[idx], ".", color=_color(s), ms=5)
        ax_t.plot(dev, ev.device_time[idx], "-", color=_color(s), lw=1.0, label=f"{s}: total")
        ax_t.axhline(ev.round_time, color=_color(s), ls="--", lw=1.0)
    ax_t.set_xlabel("device, strongest channel first")
    ax_t.set_ylabel("time per round (s)")
    ax_t.set_title(
        "per round: compute (dots), compute + upload (line),\nround time (dashed)", fontsize=10
    )
    ax_t.grid(axis="y", **GRID)
    ax_t.legend(fontsize=8, frameon=False)

    # (4) bandwidth (bars) and power (dots, right axis) of optimal.
    main = "optimal" if "optimal" in by else (shown[0] if shown else None)
    if main is not None:
        r = by[main]
        ax_b.bar(dev, np.asarray(r.bandwidth)[idx] / 1e3, color=_color(main), alpha=0.7)
        ax_b.axhline(problem.bandwidth / n / 1e3, color=MUTED, ls=":", lw=1.0)
        ax_b.set_ylabel("bandwidth (kHz); dotted: B/N")
        ax2 = ax_b.twinx()
        ax2.plot(dev, 10 * np.log10(np.asarray(r.power)[idx] * 1e3), "k.", ms=4)
        ax2.set_ylabel("power (dBm)")
        ax_b.set_title(f"{main}: bandwidth (bars) and power (dots)", fontsize=10)
    ax_b.set_xlabel("device, strongest channel first")


class FlmarPresenter(Presenter):
    """Presentation of the ``flmar`` family (minimise w1 E + w2 T - rho sum A)."""

    objective_header = "objective"
    bound_header = "bound"
    gap_decimals = 3
    figure = ("figure:flmar", "flmar.png")

    def describe(self, problem: Any) -> str:
        name = problem.name or "problem"
        deadline = "no deadline" if problem.deadline is None else f"T_max = {problem.deadline:g} s"
        return (
            f"{name}: {problem.FAMILY}, N = {problem.n_devices} devices, "
            f"K = {problem.n_options} resolutions, {_weights(problem)}, {deadline}"
        )

    def title(self, preset: str, problem: Any) -> str:
        return f"{preset}: {problem.description or ''} (N = {problem.n_devices})"

    def summary(self, problem: Any, result: Result) -> list[tuple[str, str]]:
        if result.allocation is None:
            return []
        a = result.allocation
        counts = np.bincount(
            problem.option_index(a.resolution).clip(0), minlength=problem.n_options
        )
        mix = ", ".join(
            f"{int(c)} x {s:g}" for c, s in zip(counts, problem.resolutions, strict=True) if c
        )
        return [
            (
                "energy",
                f"{fmt(a.energy, '.6g')} J (upload {fmt(a.energy_transmission, '.4g')} J, "
                f"computing {fmt(a.energy_computation, '.4g')} J)",
            ),
            ("time", f"{fmt(a.time, '.6g')} s ({fmt(a.round_time, '.4g')} s per round)"),
            ("accuracy", f"{fmt(a.accuracy, '.6g')} (mean {fmt(a.mean_accuracy, '.4g')})"),
            ("resolutions", f"{mix} px"),
        ]

    def columns(self, problem: Any | None) -> list[Column]:
        def col(name: str, spec: str) -> Any:
            return lambda res, _: fmt(_value(res, name), spec)

        return [
            Column("energy (J)", col("energy", ".5g")),
            Column("time (s)", col("time", ".5g")),
            Column("mean accuracy", col("mean_accuracy", ".4f")),
        ]

    def device_table(self, problem: Any, result: Result, shown: Sequence[int]) -> Table:
        from rich.table import Table

        n = problem.n_devices
        a = result.allocation
        ev = problem.evaluate(a.bandwidth, a.power, a.frequency, a.resolution)
        dist = per_device(problem, "distance_m")
        table = Table(header_style="bold", title_justify="left")
        heads = ["device"]
        if dist is not None:
            heads.append("distance (m)")
        heads += [
            "gain (dB)",
            "bandwidth (kHz)",
            "power (dBm)",
            "clock (GHz)",
            "resolution",
            "compute (s)",
            "upload (s)",
            "energy (J)",
        ]
        for head in heads:
            table.add_column(head, justify="right")
        energy = ev.energy_transmission_device + ev.energy_computation_device
        for i in device_rows(table, n, shown):
            row = [str(i)]
            if dist is not None:
                row.append(f"{float(dist[i]):.1f}")
            row += [
                f"{10 * math.log10(problem.channel_gain[i]):.1f}",
                f"{a.bandwidth[i] / 1e3:.4g}",
                f"{10 * math.log10(a.power[i] * 1e3):.2f}" if a.power[i] > 0 else "-inf",
                f"{a.frequency[i] / 1e9:.4g}",
                str(int(a.resolution[i])),
                f"{ev.compute_time[i]:.4g}",
                f"{ev.upload_time[i]:.4g}",
                f"{energy[i]:.4g}",
            ]
            table.add_row(*row)
        return table

    def size(self, problem: Any) -> dict[str, Any]:
        return {
            "family": problem.FAMILY,
            "devices": problem.n_devices,
            "options": problem.n_options,
            "deadline": problem.deadline,
            "weights": problem.weights.to_dict(),
        }

    def plot(self, cases: Sequence[tuple[str, Any, Sequence[Result]]], path: Path) -> None:
        from matplotlib.patches import Patch

        with rows_figure(path, len(cases), 4.6, 0.9, h_pad=0.08, hspace=0.06) as (fig, subs):
            for sub, (name, problem, results) in zip(subs, cases, strict=True):
                _plot_preset(sub, name, problem, results)
            present = [
                s
                for s in _ORDER
                if any(r.scheme == s and r.success for _, _, rs in cases for r in rs)
            ]
            handles = [Patch(color=_color(s), label=s) for s in present]
            demo_titles(
                fig,
                "federated learning for mobile augmented reality "
                "(bandwidth, power, clock and resolution per device)",
                handles,
            )
