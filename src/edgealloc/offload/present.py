"""How the offloading families' problems and results are described, tabulated and plotted.

The :class:`OffloadPresenter` of the ``offload-server`` and ``offload-d2d``
descriptors: the CLI's summary and per-user table, the comparison table's
speed-up column, and the demo figure ``offload.png`` (one row per preset,
both families in one figure, the same users paired): per user, sorted by the
local time ``T_i = m l_i / a_i``, the time under no offloading and under the
schemes against each scheme's iteration time, the points each user offloads
(and, for D2D, receives), and the iteration time by scheme with its speed-up
over no offloading.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._style import (
    SCHEME_STYLE,
    demo_titles,
    device_rows,
    fmt,
    row_title,
    rows_figure,
    scheme_bars,
)
from ..family import Column, Presenter
from ..result import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from rich.table import Table

__all__ = ["OffloadPresenter"]


def _speedup(res: Result) -> float:
    """``max_i T_i / T``: the speed-up over no offloading (NaN without an allocation)."""
    if res.allocation is None:
        return math.nan
    return float(res.allocation.speedup)


#: Colours of the per-user D2D panels (points received / sent, the transfer phase).
_RECEIVED, _SENT, _AT_SERVER = "#2a9d8f", "#c0504d", "#222222"


def _ms(values: Any) -> np.ndarray:
    """Seconds to milliseconds, as a float array."""
    return 1e3 * np.asarray(values, dtype=float)


def _user_axis(ax: Axes, order: np.ndarray) -> None:
    """Users on the x axis, in ``order`` (slowest first), labelled by their index."""
    n = order.size
    step = max(1, math.ceil(n / 25))
    ticks = np.arange(0, n, step)
    ax.set_xticks(ticks, [str(int(order[t])) for t in ticks], fontsize=7.5)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_xlabel(r"user $i$, sorted by local time $T_i = m\,l_i / a_i$ (slowest first)")
    ax.grid(axis="y", color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)


def _iteration_lines(ax: Axes, lines: Sequence[tuple[str, float, float]], right: float) -> None:
    """A dashed line at each scheme's iteration time, labelled at the right end.

    ``lines`` holds ``(scheme, iteration time in ms, speed-up over none)``.
    Lines closer than 7 % of the axis height (``paper`` and ``optimal``) form
    a cluster whose labels are stacked above its highest line, lowest time at
    the bottom, so that they neither overlap nor cover the bars below.
    """
    top = ax.get_ylim()[1]
    finite = sorted((line for line in lines if math.isfinite(line[1])), key=lambda line: line[1])
    clusters: list[list[tuple[str, float, float]]] = []
    for line in finite:
        if clusters and line[1] - clusters[-1][-1][1] < 0.07 * top:
            clusters[-1].append(line)
        else:
            clusters.append([line])
    for cluster in clusters:
        anchor = cluster[-1][1]
        for level, (scheme, value, speedup) in enumerate(cluster):
            color = SCHEME_STYLE.get(scheme, {}).get("color", "#777777")
            ax.axhline(value, color=color, ls="--", lw=1.3, zorder=4)
            text = f"{scheme}: {value:.2f} ms"
            text += " (slowest user)" if scheme == "none" else f" ({speedup:.2f}× faster)"
            ax.annotate(
                text,
                (right, anchor),
                xytext=(0, 3 + 11 * level),
                textcoords="offset points",
                ha="right",
                va="bottom",
                fontsize=8.5,
                color=color if scheme != "none" else "#555555",
                fontweight="bold",
                bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8},
                zorder=6,
            )


def _scheme_panel(ax: Axes, by: dict[str, Result], note: str) -> None:
    """Iteration time by scheme (ms), each bar annotated with its speed-up over none."""
    order = [
        s
        for s in ("none", "paper", "optimal", "relaxed")
        if s in by and by[s].allocation is not None
    ]
    values = _ms([by[s].objective for s in order])
    scheme_bars(
        ax,
        order,
        values,
        [SCHEME_STYLE[s]["color"] for s in order],
        [f"{v:.4g} ms\n{_speedup(by[s]):.2f}×" for s, v in zip(order, values, strict=True)],
        fontsize=8.5,
        edgecolor="white",
    )
    ax.set_ylim(0, (float(np.max(values, initial=0.0)) or 1.0) * 1.25)
    ax.set_ylabel("iteration time (ms)")
    ax.set_title("iteration time by scheme\n(speed-up = none's time / scheme's)", fontsize=10)
    ax.text(
        0.62,
        0.72,
        note,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=9,
        fontweight="bold",
    )


def _difference(by: dict[str, Result], worse: str, better: str, label: str) -> str:
    """``label = +x ms (+y %)``: how much longer ``worse``'s iteration is than ``better``'s."""
    if worse not in by or better not in by:
        return ""
    a, b = float(by[worse].objective), float(by[better].objective)
    if not (math.isfinite(a) and math.isfinite(b)) or b <= 0:
        return ""
    return f"{label}\n= {1e3 * (a - b):+.3g} ms ({100 * (a / b - 1):+.2f} %)"


def _plot_server(sub: Any, problem: Any, by: dict[str, Result], order: np.ndarray) -> None:
    """Strategy #1: local and server-completion times per user, offloaded points, schemes."""
    n = problem.n_users
    x = np.arange(n)
    gs = sub.add_gridspec(2, 2, width_ratios=[3.3, 1.0], height_ratios=[1.8, 1.0])
    ax_t = sub.add_subplot(gs[0, 0])
    ax_o = sub.add_subplot(gs[1, 0], sharex=ax_t)
    ax_s = sub.add_subplot(gs[:, 1])

    shown = [s for s in ("none", "paper", "optimal") if s in by and by[s].allocation is not None]
    width = 0.84 / max(1, len(shown))
    for j, s in enumerate(shown):
        res = by[s]
        xs = x + (j - (len(shown) - 1) / 2) * width
        color = SCHEME_STYLE[s]["color"]
        ax_t.bar(xs, _ms(res.local_time)[order], width=width, color=color, lw=0, zorder=2)
        sending = np.asarray(res.offloaded_points)[order] > 0
        if sending.any():
            done = _ms(res.server_time)[order][sending]
            ax_t.hlines(
                done,
                xs[sending] - width / 2,
                xs[sending] + width / 2,
                color=_AT_SERVER,
                lw=1.8,
                zorder=3,
            )
            ax_o.bar(
                xs[sending],
                np.asarray(res.offloaded_points, float)[order][sending],
                width=width,
                color=color,
                lw=0,
                zorder=2,
            )
    ax_t.set_ylim(0, problem.no_offload_time * 1e3 * 1.18)
    _iteration_lines(
        ax_t, [(s, 1e3 * float(by[s].objective), _speedup(by[s])) for s in shown], n - 0.5
    )
    ax_t.set_ylabel("time per iteration (ms)")
    ax_t.set_title(
        "per user: bars = local compute time, black ticks = done at the server "
        "(upload + shared server compute); dashed = iteration time",
        fontsize=10,
        loc="left",
    )
    ax_t.tick_params(labelbottom=False)
    ax_t.grid(axis="y", color="#dddddd", lw=0.6)
    ax_t.set_axisbelow(True)
    totals = ", ".join(f"{s} {int(np.sum(by[s].offloaded_points)):,}" for s in shown if s != "none")
    ax_o.set_title(f"points offloaded to the server (total: {totals})", fontsize=10, loc="left")
    ax_o.set_ylabel("points")
    _user_axis(ax_o, order)
    _scheme_panel(ax_s, by, _difference(by, "paper", "optimal", "paper − optimal"))


def _plot_d2d(sub: Any, problem: Any, by: dict[str, Result], order: np.ndarray) -> None:
    """Strategy #2: per-user time (transfer + compute), points sent/received, schemes."""
    n = problem.n_users
    x = np.arange(n)
    gs = sub.add_gridspec(2, 2, width_ratios=[3.3, 1.0], height_ratios=[1.8, 1.0])
    ax_t = sub.add_subplot(gs[0, 0])
    ax_p = sub.add_subplot(gs[1, 0], sharex=ax_t)
    ax_s = sub.add_subplot(gs[:, 1])

    shown = [s for s in ("none", "optimal") if s in by and by[s].allocation is not None]
    width = 0.84 / max(1, len(shown))
    for j, s in enumerate(shown):
        res = by[s]
        xs = x + (j - (len(shown) - 1) / 2) * width
        color = SCHEME_STYLE[s]["color"]
        transfer = _ms(res.transfer_time)[order]
        total = _ms(res.user_time)[order]
        ax_t.bar(xs, transfer, width=width, color="white", ec=color, hatch="////", lw=0.6)
        ax_t.bar(xs, total - transfer, bottom=transfer, width=width, color=color, lw=0, zorder=2)
    ax_t.set_ylim(0, problem.no_offload_time * 1e3 * 1.18)
    _iteration_lines(
        ax_t, [(s, 1e3 * float(by[s].objective), _speedup(by[s])) for s in shown], n - 0.5
    )
    ax_t.set_ylabel("time per iteration (ms)")
    longest = (
        float(np.max(_ms(by["optimal"].transfer_time), initial=0.0))
        if "optimal" in shown
        else math.nan
    )
    ax_t.set_title(
        "per user: hatched = D2D transfer phase (optimal: at most "
        f"{longest:.2g} ms), solid = compute (kept + received points); dashed = iteration time",
        fontsize=10,
        loc="left",
    )
    ax_t.tick_params(labelbottom=False)
    ax_t.grid(axis="y", color="#dddddd", lw=0.6)
    ax_t.set_axisbelow(True)

    if "optimal" in shown:
        o = np.asarray(by["optimal"].offloaded_points, dtype=float)
        sent, received = o.sum(axis=1)[order], o.sum(axis=0)[order]
        ax_p.bar(x, received, width=0.6, color=_RECEIVED, lw=0, zorder=2)
        ax_p.bar(x, -sent, width=0.6, color=_SENT, lw=0, zorder=2)
        ax_p.axhline(0, color="#444444", lw=0.8)
        ax_p.set_title(
            f"points moved by optimal: {int(o.sum()):,} over {int(np.count_nonzero(o))} of "
            f"{problem.n_links} links (received up, sent down)",
            fontsize=10,
            loc="left",
        )
    ax_p.set_ylabel("points")
    _user_axis(ax_p, order)
    _scheme_panel(ax_s, by, _difference(by, "optimal", "relaxed", "optimal − LP bound"))


def _figure(cases: Sequence[tuple[str, Any, Sequence[Result]]], path: Path) -> None:
    """``offload.png``: one row per offloading preset (server: Strategy #1, D2D: Strategy #2)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    with rows_figure(path, len(cases), 5.6, 0.9, h_pad=0.1, hspace=0.08) as (fig, subs):
        for sub, (name, problem, results) in zip(subs, cases, strict=True):
            by = {r.scheme: r for r in results}
            order = np.argsort(-problem.compute_time, kind="stable")
            d2d = problem.FAMILY == "offload-d2d"
            what = (
                f"D2D offloading (Strategy #2), {problem.n_links} links"
                if d2d
                else f"server offloading (Strategy #1), server {problem.server_rate:,.0f} MAC/s"
            )
            row_title(
                sub,
                f"{name}: {what}, N = {problem.n_users} users, "
                f"{int(problem.points.sum()):,} points; no offloading "
                f"{1e3 * problem.no_offload_time:.2f} ms per iteration",
            )
            (_plot_d2d if d2d else _plot_server)(sub, problem, by, order)
        labels = {
            "none": SCHEME_STYLE["none"]["label"],
            "paper": "paper (Algorithm 1, server only)",
            "optimal": "optimal (whole points; D2D: rounded LP, gap certified)",
        }
        handles: list[Any] = [
            Patch(color=SCHEME_STYLE[s]["color"], label=label) for s, label in labels.items()
        ]
        handles += [
            Patch(
                fc=SCHEME_STYLE["relaxed"]["color"],
                alpha=0.55,
                hatch="///",
                label="relaxed (continuous; LP bound for D2D)",
            ),
            Line2D([], [], color=_AT_SERVER, lw=1.8, label="done at the server"),
            Patch(fc="white", ec="#555555", hatch="////", label="D2D transfer phase"),
            Patch(color=_RECEIVED, label="points received"),
            Patch(color=_SENT, label="points sent"),
            Line2D([], [], color="#555555", ls="--", lw=1.3, label="iteration time"),
        ]
        demo_titles(
            fig,
            "offloading the training of XR users (iteration time of online SGD, lower is better)",
            handles,
            ncol=5,
        )


class OffloadPresenter(Presenter):
    """Presentation of ``offload-server`` and ``offload-d2d`` (minimise the iteration time)."""

    objective_header = "iteration time (s)"
    bound_header = "bound (s)"
    # Iteration times differ by fractions of a percent: two decimals.
    gap_decimals = 2
    figure = ("figure:offload", "offload.png")

    def describe(self, problem: Any) -> str:
        name = problem.name or "problem"
        links = f", {problem.n_links} D2D links" if hasattr(problem, "n_links") else ""
        return (
            f"{name}: {problem.FAMILY}, N = {problem.n_users} users, "
            f"{int(problem.points.sum())} points{links}, "
            f"no offloading {problem.no_offload_time:.4g} s"
        )

    def title(self, preset: str, problem: Any) -> str:
        return (
            f"{preset}: {problem.description or ''} (N = {problem.n_users} users, "
            f"{int(problem.points.sum()):,} points, "
            f"no offloading {problem.no_offload_time:.4g} s)"
        )

    def summary(self, problem: Any, result: Result) -> list[tuple[str, str]]:
        if result.allocation is None:
            return []
        return [
            ("iteration time", f"{fmt(result.iteration_time)} s"),
            ("no offloading", f"{fmt(result.no_offload_time)} s"),
            ("speed-up", f"{fmt(result.speedup, '.4g')}x"),
        ]

    def columns(self, problem: Any | None) -> list[Column]:
        def speedup(res: Result, _: Any) -> str:
            value = _speedup(res)
            return "-" if not math.isfinite(value) else f"{value:.3f}×"

        return [Column("speed-up vs none", speedup)]

    def device_table(self, problem: Any, result: Result, shown: Sequence[int]) -> Table:
        from rich.table import Table

        n = problem.n_users
        table = Table(header_style="bold", title_justify="left")
        d2d = result.family == "offload-d2d"
        heads = ["user", "points", "MAC/s", "sent", "received" if d2d else "server", "time (s)"]
        for head in heads:
            table.add_column(head, justify="right")
        o = np.asarray(result.offloaded_points, dtype=float)
        sent = o.sum(axis=1) if d2d else o
        recv = o.sum(axis=0) if d2d else None
        times = result.user_time if d2d else np.maximum(result.local_time, result.server_time)
        for i in device_rows(table, n, shown, what="users"):
            other = fmt(recv[i], ".6g") if d2d else f"{float(result.server_time[i]):.4g}"
            table.add_row(
                str(i),
                str(int(problem.points[i])),
                f"{float(problem.compute_rate[i]):.4g}",
                fmt(sent[i], ".6g"),
                other,
                f"{float(times[i]):.4g}",
            )
        return table

    def size(self, problem: Any) -> dict[str, Any]:
        size = {
            "family": problem.FAMILY,
            "users": problem.n_users,
            "total_points": int(problem.points.sum()),
            "no_offload_time": problem.no_offload_time,
        }
        if hasattr(problem, "server_rate"):
            size["server_rate"] = problem.server_rate
        if hasattr(problem, "n_links"):
            size["links"] = problem.n_links
        return size

    def plot(self, cases: Sequence[tuple[str, Any, Sequence[Result]]], path: Path) -> None:
        _figure(cases, path)
