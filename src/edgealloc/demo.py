"""The demo: the embedded presets solved with every scheme, tabulated and plotted.

``edgealloc demo`` calls :func:`run_demo`. For each preset it compiles the
scenario, solves it with every scheme of its family and prints a comparison
table:

* ``mel-sync`` (*Adaptive Task Allocation for Mobile Edge Learning*) and
  ``mel-async`` (*Task allocation for asynchronous mobile edge learning with
  delay and energy constraints*) maximise the local iterations ``tau`` within
  a deadline. Each is one row of ``demo.png``: the objective by scheme against
  the relaxed bound, the local iterations ``tau_k`` and samples ``d_k`` each
  device gets, and each device's cycle time ``t_k`` against the deadline
  ``T`` (and energy ``e_k`` against its budget when the preset has one).
* ``xr-server`` and ``xr-d2d`` (*collaborative learning in extended reality*,
  Table I, Strategies #1 and #2; the same users, so the two are paired)
  minimise the iteration time of online SGD. Each is one row of
  ``offload.png``: per user, sorted by the local time ``T_i = m l_i / a_i``,
  the time under no offloading and under the schemes against each scheme's
  iteration time, the points each user offloads (and, for D2D, receives),
  and the iteration time by scheme with its speed-up over no offloading.

The tabulation helpers (:func:`solve_all`, :func:`comparison_rows`,
:func:`comparison_table`) are shared with ``edgealloc solve --scheme all``.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from .api import load_problem, schemes, solve
from .errors import SolverError, ValidationError
from .result import Result, Status, to_jsonable

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from rich.console import Console
    from rich.table import Table

__all__ = [
    "DEMO_PRESETS",
    "SCHEME_STYLE",
    "STATUS_STYLE",
    "comparison_rows",
    "comparison_table",
    "fmt",
    "gap_percent",
    "run_demo",
    "solve_all",
]

#: The presets the demo solves, in order.
DEMO_PRESETS: tuple[str, ...] = ("mel-sync", "mel-async", "xr-server", "xr-d2d")

#: Colour and label of each scheme in tables and figures.
SCHEME_STYLE: dict[str, dict[str, str]] = {
    "optimal": {"color": "#1f5f9e", "label": "optimal (exact integer)"},
    "paper": {"color": "#e8891d", "label": "paper (published procedure)"},
    "equal": {"color": "#9a9a9a", "label": "equal (d/K each)"},
    "relaxed": {"color": "#3a9a5b", "label": "relaxed (continuous bound)"},
    "none": {"color": "#a6a6a6", "label": "none (no offloading)"},
}

#: Rich style of each status in tables.
STATUS_STYLE: dict[Status, str] = {
    Status.OPTIMAL: "bold green",
    Status.FEASIBLE: "cyan",
    Status.INFEASIBLE: "red",
    Status.FAILED: "bold red",
}


# ---------------------------------------------------------------------------
# Solving and tabulating
# ---------------------------------------------------------------------------
def solve_all(problem: Any, names: Sequence[str] | None = None) -> list[Result]:
    """Solve ``problem`` with every scheme of its family (or with ``names``).

    Infeasible inputs and solver failures do not raise: each comes back as a
    :class:`~edgealloc.Result` whose status is ``infeasible`` or ``failed``
    and whose ``message`` says why, so a comparison always has one row per
    scheme.

    Parameters
    ----------
    problem
        A problem object (e.g. :class:`edgealloc.mel.MelProblem`).
    names
        Scheme names; default: all of the family's, the exact one first.

    Returns
    -------
    list of Result
        One result per scheme, in the order of ``names``.
    """
    out: list[Result] = []
    for name in names if names is not None else schemes(problem.FAMILY):
        t0 = time.perf_counter()
        try:
            out.append(solve(problem, name, raise_infeasible=False))
        except SolverError as exc:
            out.append(
                Result(
                    family=problem.FAMILY,
                    scheme=name,
                    status=Status.FAILED,
                    objective=math.nan,
                    bound=math.nan,
                    message=" ".join(str(exc).split()),
                    solve_seconds=time.perf_counter() - t0,
                )
            )
    return out


#: Families whose objective is minimised (an iteration time); the others maximise.
MINIMISE = frozenset({"offload-server", "offload-d2d"})


def _optimal_objective(results: Sequence[Result]) -> float:
    for res in results:
        if res.scheme == "optimal" and res.success:
            return float(res.objective)
    return math.nan


def gap_percent(objective: float, optimum: float, *, minimise: bool = False) -> float:
    """How much worse ``objective`` is than the ``optimal`` scheme's, in percent of it.

    Negative for the continuous relaxation, which is better than the integer
    optimum; NaN when either value is unknown or the optimum is 0.
    """
    if not (math.isfinite(objective) and math.isfinite(optimum)) or optimum == 0:
        return math.nan
    worse = objective - optimum if minimise else optimum - objective
    return 100.0 * worse / optimum


def _cycle(res: Result) -> float:
    """The plan's cycle: the slowest device's time (mel) or the iteration time (offload)."""
    if res.allocation is None:
        return math.nan
    for name in ("cycle_time", "iteration_time"):
        if hasattr(res.allocation, name):
            return float(getattr(res.allocation, name))
    return math.nan


def _speedup(res: Result) -> float:
    """``max_i T_i / T``: the speed-up over no offloading (offload families; NaN otherwise)."""
    if res.allocation is None or not hasattr(res.allocation, "speedup"):
        return math.nan
    return float(res.allocation.speedup)


def comparison_rows(results: Sequence[Result]) -> list[dict[str, Any]]:
    """One row per scheme: status, objective, bound, gap to optimal, cycle time, solve ms.

    Parameters
    ----------
    results
        Results of the same problem, e.g. from :func:`solve_all`.

    Returns
    -------
    list of dict
        Keys ``scheme, status, objective, bound, gap_percent, cycle_time,
        speedup, solve_ms, message``; unknown numbers are NaN. ``gap_percent``
        counts "worse than ``optimal``" in the family's sense (below it for
        the maximised ``mel`` objective, above it for the minimised iteration
        times of :data:`MINIMISE`); ``speedup`` is the offloading families'
        ``max_i T_i / T`` (NaN for ``mel``).
    """
    optimum = _optimal_objective(results)
    rows = []
    for res in results:
        cycle = _cycle(res)
        rows.append(
            {
                "scheme": res.scheme,
                "status": res.status.value,
                "objective": float(res.objective),
                "bound": float(res.bound),
                "gap_percent": gap_percent(
                    float(res.objective), optimum, minimise=res.family in MINIMISE
                ),
                "cycle_time": cycle,
                "speedup": _speedup(res),
                "solve_ms": 1e3 * float(res.solve_seconds),
                "message": res.message,
            }
        )
    return rows


def fmt(value: Any, spec: str = ".6g") -> str:
    """Format a number for a table: ``-`` for NaN/None, integers without decimals."""
    if value is None:
        return "-"
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return "-"
        if float(value).is_integer() and abs(value) < 1e15 and spec == ".6g":
            return str(int(value))
    return format(value, spec)


def comparison_table(
    results: Sequence[Result], *, title: str | None = None, deadline: float | None = None
) -> Table:
    """A rich table comparing the schemes' results on one problem.

    For ``mel`` the columns are the objective (``tau``), its bound, the gap
    to ``optimal`` and the cycle time; for the offloading families
    (:data:`MINIMISE`) the objective is the iteration time, shown in seconds,
    with the speed-up over no offloading instead of the cycle time.

    Parameters
    ----------
    results
        Results of the same problem, e.g. from :func:`solve_all`.
    title
        Table title.
    deadline
        The problem's deadline, shown in the cycle-time column header
        (``mel`` only).
    """
    from rich.table import Table
    from rich.text import Text

    minimise = any(res.family in MINIMISE for res in results)
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("scheme")
    table.add_column("status")
    if minimise:
        table.add_column("iteration time (s)", justify="right")
        table.add_column("bound (s)", justify="right")
        table.add_column("gap to optimal", justify="right")
        table.add_column("speed-up vs none", justify="right")
    else:
        table.add_column("objective", justify="right")
        table.add_column("bound", justify="right")
        table.add_column("gap to optimal", justify="right")
        head = "cycle time (s)" if deadline is None else f"cycle time (s) / T = {deadline:g}"
        table.add_column(head, justify="right")
    table.add_column("solve (ms)", justify="right")
    by_scheme = {res.scheme: res for res in results}
    for row in comparison_rows(results):
        status = by_scheme[row["scheme"]].status
        gap = row["gap_percent"]
        # Iteration times differ by fractions of a percent: two decimals there.
        spec = ".2f" if minimise else ".1f"
        gap_text = "-" if not math.isfinite(gap) else f"{gap + 0.0:{spec}} %"
        if row["scheme"] == "relaxed" and math.isfinite(gap):
            gap_text += " (bound)"
        if minimise:
            last = "-" if not math.isfinite(row["speedup"]) else f"{row['speedup']:.3f}×"
        else:
            last = fmt(row["cycle_time"], ".4g")
        table.add_row(
            row["scheme"],
            Text(row["status"], style=STATUS_STYLE.get(status, "")),
            fmt(row["objective"]),
            fmt(row["bound"]),
            gap_text,
            last,
            fmt(row["solve_ms"], ".3g"),
        )
    return table


# ---------------------------------------------------------------------------
# The figure
# ---------------------------------------------------------------------------
def _class_blocks(classes: Sequence[str] | None) -> list[tuple[int, int, str]]:
    """Contiguous runs ``(start, stop, name)`` of equal class names."""
    if not classes:
        return []
    blocks: list[tuple[int, int, str]] = []
    start = 0
    for i in range(1, len(classes) + 1):
        if i == len(classes) or classes[i] != classes[start]:
            blocks.append((start, i, str(classes[start])))
            start = i
    return blocks


def _shade_classes(ax: Axes, blocks: Sequence[tuple[int, int, str]], *, label: bool) -> None:
    for j, (lo, hi, name) in enumerate(blocks):
        if j % 2:
            ax.axvspan(lo - 0.5, hi - 0.5, color="#f1f1f1", zorder=0, lw=0)
        if label:
            ax.text(
                (lo + hi - 1) / 2,
                1.0,
                name,
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=8,
                color="#555555",
            )


def _device_axis(ax: Axes, k: int) -> None:
    step = max(1, math.ceil(k / 10))
    ax.set_xticks(np.arange(0, k, step))
    ax.set_xlim(-0.6, k - 0.4)
    ax.set_xlabel("device")
    ax.grid(axis="y", color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)


def _plot_preset(sub: Any, name: str, problem: Any, results: Sequence[Result]) -> None:
    """Draw one preset on a subfigure: objective, tau_k, d_k, t_k vs T (and e_k vs budget)."""
    k = problem.n_devices
    x = np.arange(k)
    meta = problem.meta or {}
    classes = meta.get("classes")
    blocks = _class_blocks(classes if isinstance(classes, list) and len(classes) == k else None)
    by = {r.scheme: r for r in results}
    integral = [
        s for s in ("optimal", "paper", "equal") if s in by and by[s].allocation is not None
    ]
    relaxed = by.get("relaxed")
    has_relaxed = relaxed is not None and relaxed.allocation is not None
    sync = problem.synchronous
    what = "τ" if sync else "mean τ"
    mode = "synchronous" if sync else f"asynchronous (staleness c = {problem.staleness})"
    sub.suptitle(
        f"{name}: {mode}, K = {k} devices, d = {problem.total_samples} samples, "
        f"T = {problem.deadline:g} s" + (", per-device energy budgets" if problem.energy else ""),
        x=0.005,
        ha="left",
        fontsize=11.5,
        fontweight="bold",
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
    bars = ax_obj.bar(
        range(len(order)),
        [v if math.isfinite(v) else 0.0 for v in values],
        color=[SCHEME_STYLE.get(s, {}).get("color", "#777777") for s in order],
        width=0.72,
        edgecolor="white",
    )
    if "relaxed" in order:
        bars[order.index("relaxed")].set_hatch("///")
        bars[order.index("relaxed")].set_alpha(0.55)
    for bar, s, v in zip(bars, order, values, strict=True):
        ax_obj.annotate(
            fmt(v, ".3g") if math.isfinite(v) else by[s].status.value,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8.5,
        )
    optimum = _optimal_objective(results)
    top = max([v for v in values if math.isfinite(v)] or [1.0])
    ax_obj.set_ylim(0, top * 1.15)
    ax_obj.set_xticks(range(len(order)), order, rotation=30, ha="right")
    ax_obj.set_ylabel(f"objective ({what})")
    ax_obj.grid(axis="y", color="#dddddd", lw=0.6)
    ax_obj.set_axisbelow(True)
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
        _shade_classes(ax, blocks, label=True)
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
        _device_axis(ax, k)
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
        _shade_classes(ax, blocks, label=ax is ax_t)
        ax.step(x, limit, where="mid", color="#c0392b", ls="--", lw=1.3, zorder=2)
        ax.annotate(
            f"{limit_label} = {problem.deadline:g} s" if field == "times" else limit_label,
            (k - 0.5, float(np.max(limit))),
            xytext=(0, 3),
            textcoords="offset points",
            color="#c0392b",
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
        _device_axis(ax, k)
    if ax_e is not None:
        ax_t.tick_params(labelbottom=False)
        ax_t.set_xlabel("")
        ax_e.set_title("energy per device vs budget", fontsize=10)
    ax_t.set_title("cycle time per device vs deadline", fontsize=10, pad=13)


@contextlib.contextmanager
def _rows_figure(
    path: Path, rows: int, row_height: float, extra: float, *, h_pad: float, hspace: float
) -> Iterator[tuple[Any, Any]]:
    """A 17-inch-wide figure of ``rows`` subfigure rows; saved to ``path`` and closed on exit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rc = {"font.size": 9, "axes.spines.top": False, "axes.spines.right": False}
    with plt.rc_context(rc):
        fig = plt.figure(figsize=(17, row_height * rows + extra), layout="constrained")
        fig.get_layout_engine().set(h_pad=h_pad, hspace=hspace, w_pad=0.06)
        yield fig, np.atleast_1d(fig.subfigures(rows, 1))
        fig.savefig(path, dpi=130, facecolor="white")
        plt.close(fig)


def _figure(cases: Sequence[tuple[str, Any, Sequence[Result]]], path: Path) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    with _rows_figure(path, len(cases), 4.9, 0.8, h_pad=0.08, hspace=0.06) as (fig, subs):
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
            Line2D([], [], color="#c0392b", ls="--", lw=1.3, label="deadline / energy budget"),
        ]
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncol=len(handles),
            frameon=False,
            fontsize=10,
        )
        fig.suptitle(
            f"edgealloc {__version__} demo: task allocation for mobile edge learning",
            fontsize=14,
            fontweight="bold",
        )


# ---------------------------------------------------------------------------
# The offloading figure
# ---------------------------------------------------------------------------
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
    bars = ax.bar(
        range(len(order)),
        values,
        color=[SCHEME_STYLE[s]["color"] for s in order],
        width=0.72,
        edgecolor="white",
    )
    if "relaxed" in order:
        bars[order.index("relaxed")].set_hatch("///")
        bars[order.index("relaxed")].set_alpha(0.55)
    for bar, s, v in zip(bars, order, values, strict=True):
        ax.annotate(
            f"{v:.4g} ms\n{_speedup(by[s]):.2f}×",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8.5,
        )
    ax.set_ylim(0, (float(np.max(values, initial=0.0)) or 1.0) * 1.25)
    ax.set_xticks(range(len(order)), order, rotation=30, ha="right")
    ax.set_ylabel("iteration time (ms)")
    ax.grid(axis="y", color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)
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


def _offload_figure(cases: Sequence[tuple[str, Any, Sequence[Result]]], path: Path) -> None:
    """``offload.png``: one row per offloading preset (server: Strategy #1, D2D: Strategy #2)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    with _rows_figure(path, len(cases), 5.6, 0.9, h_pad=0.1, hspace=0.08) as (fig, subs):
        for sub, (name, problem, results) in zip(subs, cases, strict=True):
            by = {r.scheme: r for r in results}
            order = np.argsort(-problem.compute_time, kind="stable")
            d2d = problem.FAMILY == "offload-d2d"
            what = (
                f"D2D offloading (Strategy #2), {problem.n_links} links"
                if d2d
                else f"server offloading (Strategy #1), server {problem.server_rate:,.0f} MAC/s"
            )
            sub.suptitle(
                f"{name}: {what}, N = {problem.n_users} users, "
                f"{int(problem.points.sum()):,} points; no offloading "
                f"{1e3 * problem.no_offload_time:.2f} ms per iteration",
                x=0.005,
                ha="left",
                fontsize=11.5,
                fontweight="bold",
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
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncol=5,
            frameon=False,
            fontsize=10,
        )
        fig.suptitle(
            f"edgealloc {__version__} demo: offloading the training of XR users "
            "(iteration time of online SGD, lower is better)",
            fontsize=14,
            fontweight="bold",
        )


# ---------------------------------------------------------------------------
# The demo
# ---------------------------------------------------------------------------
def _targets(out_dir: Path, presets: Sequence[str], families: Sequence[str]) -> dict[str, Path]:
    """The files :func:`run_demo` writes: a figure per kind of preset, the numbers, the problems."""
    files: dict[str, Path] = {}
    if "mel" in families:
        files["figure"] = out_dir / "demo.png"
    if any(family in MINIMISE for family in families):
        files["figure:offload"] = out_dir / "offload.png"
    files["numbers"] = out_dir / "demo.json"
    for name in presets:
        files[f"problem:{name}"] = out_dir / f"{name}.problem.json"
    return files


def _size(problem: Any) -> dict[str, Any]:
    """The problem-size fields of a preset's ``demo.json`` entry."""
    if problem.FAMILY == "mel":
        return {
            "devices": problem.n_devices,
            "deadline": problem.deadline,
            "total_samples": problem.total_samples,
            "staleness": problem.staleness,
            "energy": problem.energy is not None,
        }
    size = {
        "family": problem.FAMILY,
        "users": problem.n_users,
        "total_points": int(problem.points.sum()),
        "no_offload_time": problem.no_offload_time,
    }
    if problem.FAMILY == "offload-server":
        size["server_rate"] = problem.server_rate
    if problem.FAMILY == "offload-d2d":
        size["links"] = problem.n_links
    return size


def _title(name: str, problem: Any) -> str:
    """The comparison table's title."""
    head = f"{name}: {problem.description or ''}"
    if problem.FAMILY == "mel":
        return f"{head} (K = {problem.n_devices})"
    return (
        f"{head} (N = {problem.n_users} users, {int(problem.points.sum()):,} points, "
        f"no offloading {problem.no_offload_time:.4g} s)"
    )


def run_demo(
    out_dir: Path,
    *,
    console: Console | None = None,
    force: bool = False,
    presets: Sequence[str] = DEMO_PRESETS,
) -> dict[str, Any]:
    """Compile the presets, solve them with every scheme, tabulate, plot and save.

    Parameters
    ----------
    out_dir
        Directory to write into (created if needed). Only these files are
        written: ``demo.png`` (the figure of the ``mel`` presets),
        ``offload.png`` (the figure of the offloading presets), ``demo.json``
        (the numbers) and ``<preset>.problem.json`` (each compiled canonical
        problem, ready for ``edgealloc solve``). A figure is written only
        when ``presets`` holds a preset of its kind.
    console
        A :class:`rich.console.Console` to print the comparison tables on;
        ``None`` prints nothing.
    force
        Overwrite those files if they exist. Without it an existing file is
        an error and nothing is written.
    presets
        Preset names to run (default :data:`DEMO_PRESETS`).

    Returns
    -------
    dict
        What ``demo.json`` holds: per preset the problem's size (``mel``:
        ``devices, deadline, total_samples, staleness, energy``; offloading:
        ``family, users, total_points, no_offload_time`` and ``server_rate``
        or ``links``) and, per scheme, the PROBLEMS.md result fields plus
        ``gap_percent`` and ``solve_ms``; and ``files``, the paths written.

    Raises
    ------
    ValidationError
        When ``out_dir`` is not a directory, or a file would be overwritten
        without ``force``, or a preset name is unknown.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValidationError(str(out_dir), "exists and is not a directory")
    problems = {name: load_problem(name) for name in presets}  # compiles; writes nothing
    targets = _targets(out_dir, presets, [p.FAMILY for p in problems.values()])
    if not force:
        for path in targets.values():
            if path.exists():
                raise ValidationError(str(path), "already exists (pass --force to overwrite)")

    cases: list[tuple[str, Any, list[Result]]] = []
    numbers: dict[str, Any] = {"edgealloc": __version__, "presets": {}}
    for name, problem in problems.items():
        results = solve_all(problem)
        cases.append((name, problem, results))
        rows = {row["scheme"]: row for row in comparison_rows(results)}
        numbers["presets"][name] = {
            "description": problem.description,
            **_size(problem),
            "schemes": {
                res.scheme: {
                    **res.to_dict(),
                    "gap_percent": rows[res.scheme]["gap_percent"],
                    "solve_ms": rows[res.scheme]["solve_ms"],
                }
                for res in results
            },
        }
        if console is not None:
            console.print(
                comparison_table(
                    results,
                    title=_title(name, problem),
                    deadline=getattr(problem, "deadline", None),
                )
            )
            console.print()

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, problem, _ in cases:
        problem.to_json(targets[f"problem:{name}"])
    mel = [case for case in cases if case[1].FAMILY == "mel"]
    offload = [case for case in cases if case[1].FAMILY in MINIMISE]
    if mel:
        _figure(mel, targets["figure"])
    if offload:
        _offload_figure(offload, targets["figure:offload"])
    numbers["files"] = {key: str(path) for key, path in targets.items()}
    document = to_jsonable(numbers)
    targets["numbers"].write_text(json.dumps(document, indent=2) + "\n")
    return document
