"""The demo: the ``mel`` presets solved with every scheme, tabulated and plotted.

``edgealloc demo`` calls :func:`run_demo`. For each preset (by default the
synchronous ``mel-sync`` of *Adaptive Task Allocation for Mobile Edge
Learning* and the asynchronous, energy-limited ``mel-async`` of *Task
allocation for asynchronous mobile edge learning with delay and energy
constraints*) it compiles the scenario, solves it with every scheme of the
family, prints a comparison table and draws one row of a figure: the
objective by scheme against the relaxed bound, the local iterations
``tau_k`` and samples ``d_k`` each device gets, and each device's cycle time
``t_k`` against the deadline ``T`` (and energy ``e_k`` against its budget
when the preset has one).

The tabulation helpers (:func:`solve_all`, :func:`comparison_rows`,
:func:`comparison_table`) are shared with ``edgealloc solve --scheme all``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
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
DEMO_PRESETS: tuple[str, ...] = ("mel-sync", "mel-async")

#: Colour and label of each scheme in tables and figures.
SCHEME_STYLE: dict[str, dict[str, str]] = {
    "optimal": {"color": "#1f5f9e", "label": "optimal (exact integer)"},
    "paper": {"color": "#e8891d", "label": "paper (published procedure)"},
    "equal": {"color": "#9a9a9a", "label": "equal (d/K each)"},
    "relaxed": {"color": "#3a9a5b", "label": "relaxed (continuous bound)"},
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


def _optimal_objective(results: Sequence[Result]) -> float:
    for res in results:
        if res.scheme == "optimal" and res.status is Status.OPTIMAL:
            return float(res.objective)
    return math.nan


def gap_percent(objective: float, optimum: float) -> float:
    """Shortfall of ``objective`` below the exact optimum, in percent of the optimum.

    Negative for the continuous relaxation, whose value lies above the
    integer optimum; NaN when either value is unknown or the optimum is 0.
    """
    if not (math.isfinite(objective) and math.isfinite(optimum)) or optimum == 0:
        return math.nan
    return 100.0 * (optimum - objective) / optimum


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
        solve_ms, message``; unknown numbers are NaN.
    """
    optimum = _optimal_objective(results)
    rows = []
    for res in results:
        cycle = float(res.cycle_time) if res.allocation is not None else math.nan
        rows.append(
            {
                "scheme": res.scheme,
                "status": res.status.value,
                "objective": float(res.objective),
                "bound": float(res.bound),
                "gap_percent": gap_percent(float(res.objective), optimum),
                "cycle_time": cycle,
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

    Parameters
    ----------
    results
        Results of the same problem, e.g. from :func:`solve_all`.
    title
        Table title.
    deadline
        The problem's deadline, shown in the cycle-time column header.
    """
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("scheme")
    table.add_column("status")
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
        gap_text = "-" if not math.isfinite(gap) else f"{gap + 0.0:.1f} %"
        if row["scheme"] == "relaxed" and math.isfinite(gap):
            gap_text += " (bound)"
        table.add_row(
            row["scheme"],
            Text(row["status"], style=STATUS_STYLE.get(status, "")),
            fmt(row["objective"]),
            fmt(row["bound"]),
            gap_text,
            fmt(row["cycle_time"], ".4g"),
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


def _figure(cases: Sequence[tuple[str, Any, Sequence[Result]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rc = {"font.size": 9, "axes.spines.top": False, "axes.spines.right": False}
    with plt.rc_context(rc):
        fig = plt.figure(figsize=(17, 4.9 * len(cases) + 0.8), layout="constrained")
        fig.get_layout_engine().set(h_pad=0.08, hspace=0.06, w_pad=0.06)
        subs = np.atleast_1d(fig.subfigures(len(cases), 1))
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
        fig.savefig(path, dpi=130, facecolor="white")
        plt.close(fig)


# ---------------------------------------------------------------------------
# The demo
# ---------------------------------------------------------------------------
def _targets(out_dir: Path, presets: Sequence[str]) -> dict[str, Path]:
    files = {"figure": out_dir / "demo.png", "numbers": out_dir / "demo.json"}
    for name in presets:
        files[f"problem:{name}"] = out_dir / f"{name}.problem.json"
    return files


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
        written: ``demo.png`` (the figure), ``demo.json`` (the numbers) and
        ``<preset>.problem.json`` (each compiled canonical problem, ready for
        ``edgealloc solve``).
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
        What ``demo.json`` holds: per preset the problem's size and, per
        scheme, the PROBLEMS.md result fields plus ``gap_percent`` and
        ``solve_ms``; and ``files``, the paths written.

    Raises
    ------
    ValidationError
        When ``out_dir`` is not a directory, or a file would be overwritten
        without ``force``, or a preset name is unknown.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValidationError(str(out_dir), "exists and is not a directory")
    targets = _targets(out_dir, presets)
    if not force:
        for path in targets.values():
            if path.exists():
                raise ValidationError(str(path), "already exists (pass --force to overwrite)")

    cases: list[tuple[str, Any, list[Result]]] = []
    numbers: dict[str, Any] = {"edgealloc": __version__, "presets": {}}
    for name in presets:
        problem = load_problem(name)
        results = solve_all(problem)
        cases.append((name, problem, results))
        rows = {row["scheme"]: row for row in comparison_rows(results)}
        numbers["presets"][name] = {
            "description": problem.description,
            "devices": problem.n_devices,
            "deadline": problem.deadline,
            "total_samples": problem.total_samples,
            "staleness": problem.staleness,
            "energy": problem.energy is not None,
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
                    title=f"{name}: {problem.description or ''} (K = {problem.n_devices})",
                    deadline=problem.deadline,
                )
            )
            console.print()

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, problem, _ in cases:
        problem.to_json(targets[f"problem:{name}"])
    _figure(cases, targets["figure"])
    numbers["files"] = {key: str(path) for key, path in targets.items()}
    document = to_jsonable(numbers)
    targets["numbers"].write_text(json.dumps(document, indent=2) + "\n")
    return document
