"""How ``mel`` problems and results are described, tabulated and plotted.

The :class:`MelPresenter` of the family descriptor: the CLI's summary and
per-device table, the comparison table's cycle-time column, and the demo
figure ``demo.png``: per preset, the objective by scheme against the relaxed
bound, the local iterations ``tau_k`` and samples ``d_k`` each device gets,
and each device's cycle time ``t_k`` against the deadline ``T`` (and energy
``e_k`` against its budget when the problem has one).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._style import (
    LIMIT_COLOR,
    SCHEME_STYLE,
    class_blocks,
    demo_titles,
    device_axis,
    device_rows,
    fmt,
    per_device,
    row_title,
    rows_figure,
    scheme_bars,
    shade_classes,
)
from ..family import Column, Presenter
from ..result import Result

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["MelPresenter"]


def _optimum(results: Sequence[Result]) -> float:
    for res in results:
        if res.scheme == "optimal" and res.success:
            return float(res.objective)
    return math.nan


def _plot_preset(sub: Any, name: str, problem: Any, results: Sequence[Result]) -> None:
    """Draw one preset on a subfigure: objective, tau_k, d_k, t_k vs T (and e_k vs budget)."""
    k = problem.n_devices
    x = np.arange(k)
    blocks = class_blocks(per_device(problem, "classes"))
    by = {r.scheme: r for r in results}
    integral = [
        s for s in ("optimal", "paper", "equal") if s in by and by[s].allocation is not None
    ]
    relaxed = by.get("relaxed")
    has_relaxed = relaxed is not None and relaxed.allocation is not None
    sync = problem.synchronous
    what = "τ" if sync else "mean τ"
    mode = "synchronous" if sync else f"asynchronous (staleness c = {problem.staleness})"
    row_title(
        sub,
        f"{name}: {mode}, K = {k} devices, d = {problem.total_samples} samples, "
        f"T = {problem.deadline:g} s" + (", per-device energy budgets" if problem.energy else ""),
    )

    gs = sub.add_gridspec(2, 4, width_ratios=[0.7, 1.15, 1.15, 1.15])
    ax_obj = sub.add_subplot(gs[:, 0])
    ax_tau = sub.add_subplot(gs[:, 1])
    ax_d = sub.add_subplot(gs[:, 2])
    if problem.energy is not None:
        ax_t = sub.add_subplot(gs[0, 3])
        ax_e = sub.add_subplot(gs[1, 3], sharex=ax_t)
    else:
        ax_t = sub.add_subplot(gs[:, 3])
        ax_e = None

    # (1) objective by scheme, against the relaxed bound.
    order = [s for s in ("optimal", "paper", "equal", "relaxed") if s in by]
    values = [float(by[s].objective) for s in order]
    scheme_bars(
        ax_obj,
        order,
        [v if math.isfinite(v) else 0.0 for v in values],
        [SCHEME_STYLE.get(s, {}).get("color", "#777777") for s in order],
        [
            fmt(v, ".3g") if math.isfinite(v) else by[s].status.value
            for s, v in zip(order, values, strict=True)
        ],
        fontsize=8.5,
        edgecolor="white",
    )
    optimum = _optimum(results)
    top = max([v for v in values if math.isfinite(v)] or [1.0])
    ax_obj.set_ylim(0, top * 1.15)
    ax_obj.set_ylabel(f"objective ({what})")
    title = f"{what} by scheme"
    if "equal" in by and math.isfinite(optimum) and by["equal"].objective > 0:
        title += f"\noptimal = {optimum / by['equal'].objective:.2f}× equal"
    ax_obj.set_title(title, fontsize=10)

    # (2) tau_k and (3) d_k per device: grouped bars; the relaxation as a dashed step line.
    width = 0.8 / max(1, len(integral))
    for ax, field, label in (
        (ax_tau, "tau", r"local iterations $\tau_k$"),
        (ax_d, "samples", r"samples $d_k$"),
    ):
        shade_classes(ax, blocks)
        for j, s in enumerate(integral):
            ax.bar(
                x + (j - (len(integral) - 1) / 2) * width,
                np.asarray(getattr(by[s], field), float),
                width=width,
                color=SCHEME_STYLE[s]["color"],
                edgecolor="none",
            )
        if has_relaxed:
            ax.step(
                x,
                np.asarray(getattr(relaxed, field), float),
                where="mid",
                color=SCHEME_STYLE["relaxed"]["color"],
                lw=1.5,
                ls="--",
            )
        ax.set_ylabel(label)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.06)
        device_axis(ax, k)
        ax.set_title(f"{label} per device", fontsize=10, pad=13)

    # (4) t_k against the deadline (and e_k against the budget).
    style = {
        "optimal": {"marker": "o", "ms": 5, "mfc": SCHEME_STYLE["optimal"]["color"], "zorder": 5},
        "paper": {"marker": "s", "ms": 7, "mfc": "none", "zorder": 4},
        "equal": {"marker": "D", "ms": 4, "mfc": SCHEME_STYLE["equal"]["color"], "zorder": 3},
    }
    panels = [(ax_t, "times", np.full(k, problem.deadline), r"time $t_k$ (s)", "deadline T")]
    if ax_e is not None:
        panels.append((ax_e, "energies", problem.energy.budget, r"energy $e_k$ (J)", "budget"))
    for ax, field, limit, ylabel, limit_label in panels:
        shade_classes(ax, blocks, label=ax is ax_t)
        ax.step(x, limit, where="mid", color=LIMIT_COLOR, ls="--", lw=1.3, zorder=2)
        ax.annotate(
            f"{limit_label} = {problem.deadline:g} s" if field == "times" else limit_label,
            (k - 0.5, float(np.max(limit))),
            xytext=(0, 3),
            textcoords="offset points",
            color=LIMIT_COLOR,
            ha="right",
            va="bottom",
            fontsize=8,
        )
        for s in integral:
            ax.plot(
                x,
                np.asarray(getattr(by[s], field), float),
                color=SCHEME_STYLE[s]["color"],
                lw=0.9,
                mew=1.2,
                **style.get(s, {"marker": "o"}),
            )
        ax.set_ylim(0, float(np.max(limit)) * 1.2)
        ax.set_ylabel(ylabel)
        device_axis(ax, k)
    if ax_e is not None:
        ax_t.tick_params(labelbottom=False)
        ax_t.set_xlabel("")
        ax_e.set_title("energy per device vs budget", fontsize=10)
    ax_t.set_title("cycle time per device vs deadline", fontsize=10, pad=13)


def _figure(cases: Sequence[tuple[str, Any, Sequence[Result]]], path: Path) -> None:
    """``demo.png``: one row per ``mel`` preset."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    with rows_figure(path, len(cases), 4.9, 0.8, h_pad=0.08, hspace=0.06) as (fig, subs):
        for sub, (name, problem, results) in zip(subs, cases, strict=True):
            _plot_preset(sub, name, problem, results)
        handles: list[Any] = [
            Patch(color=SCHEME_STYLE[s]["color"], label=SCHEME_STYLE[s]["label"])
            for s in ("optimal", "paper", "equal")
        ]
        handles += [
            Line2D(
                [],
                [],
                color=SCHEME_STYLE["relaxed"]["color"],
                ls="--",
                lw=1.5,
                label=SCHEME_STYLE["relaxed"]["label"],
            ),
            Line2D([], [], color=LIMIT_COLOR, ls="--", lw=1.3, label="deadline / energy budget"),
        ]
        demo_titles(fig, "task allocation for mobile edge learning", handles)


class MelPresenter(Presenter):
    """Presentation of the ``mel`` family (maximise local iterations ``tau``)."""

    figure = ("figure", "demo.png")

    def describe(self, problem: Any) -> str:
        name = problem.name or "problem"
        mode = (
            "synchronous"
            if problem.synchronous
            else f"asynchronous, staleness c = {problem.staleness}"
        )
        energy = ", energy budgets" if problem.energy is not None else ""
        return (
            f"{name}: {problem.FAMILY}, {mode}, K = {problem.n_devices} devices, "
            f"d = {problem.total_samples} samples, T = {problem.deadline:g} s{energy}"
        )

    def title(self, preset: str, problem: Any) -> str:
        return f"{preset}: {problem.description or ''} (K = {problem.n_devices})"

    def summary(self, problem: Any, result: Result) -> list[tuple[str, str]]:
        if result.allocation is None:
            return []
        return [
            ("relaxed bound", fmt(result.relaxed_bound)),
            ("cycle time", f"{fmt(result.cycle_time, '.6g')} s (deadline {problem.deadline:g} s)"),
        ]

    def columns(self, problem: Any | None) -> list[Column]:
        deadline = getattr(problem, "deadline", None)
        head = "cycle time (s)" if deadline is None else f"cycle time (s) / T = {deadline:g}"

        def cycle(res: Result, _: Any) -> str:
            return fmt(res.cycle_time if res.allocation is not None else math.nan, ".4g")

        return [Column(head, cycle)]

    def device_table(self, problem: Any, result: Result, shown: Sequence[int]) -> Table:
        from rich.table import Table

        k = problem.n_devices
        classes = per_device(problem, "classes")
        cpu = per_device(problem, "cpu_hz")
        energies = result.energies
        budget = problem.energy.budget if problem.energy is not None else None

        table = Table(header_style="bold", title_justify="left")
        table.add_column("device", justify="right")
        if classes is not None:
            table.add_column("class")
        if cpu is not None:
            table.add_column("cpu (GHz)", justify="right")
        for head in ("tau", "samples", "time (s)"):
            table.add_column(head, justify="right")
        if energies is not None:
            table.add_column("energy (J)", justify="right")
            table.add_column("budget (J)", justify="right")

        integral = np.issubdtype(np.asarray(result.tau).dtype, np.integer)
        num = ".6g" if integral else ".5g"
        for i in device_rows(table, k, shown, span=True):
            row = [str(i)]
            if classes is not None:
                row.append(str(classes[i]))
            if cpu is not None:
                row.append(f"{float(cpu[i]) / 1e9:.3g}")
            row += [
                fmt(result.tau[i], num),
                fmt(result.samples[i], num),
                f"{float(result.times[i]):.4g}",
            ]
            if energies is not None:
                row += [f"{float(energies[i]):.4g}", f"{float(budget[i]):.4g}"]
            table.add_row(*row)
        return table

    def size(self, problem: Any) -> dict[str, Any]:
        return {
            "devices": problem.n_devices,
            "deadline": problem.deadline,
            "total_samples": problem.total_samples,
            "staleness": problem.staleness,
            "energy": problem.energy is not None,
        }

    def plot(self, cases: Sequence[tuple[str, Any, Sequence[Result]]], path: Path) -> None:
        _figure(cases, path)
