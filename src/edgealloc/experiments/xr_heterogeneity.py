r"""``xr-heterogeneity``: Figs. 1 and 2 of the XR offloading paper.

*Collaborative learning in extended reality: offloading to an edge server or
to neighbours* (the XR offloading paper), Section IV. The gain of a
strategy is the ratio of the iteration time without offloading to the
optimised one,

.. math::

    G = \frac{\max_i T_i}{T^*}, \qquad T_i = \frac{m\,l_i}{a_i},

(Fig. 2's vertical axis), for Strategy #1, offloading to the edge server
(family ``offload-server``, preset ``xr-server``) and Strategy #2, D2D
offloading to neighbours (``offload-d2d``, preset ``xr-d2d``). Offloading
never hurts (``none`` is feasible), so ``G >= 1``.

**Fig. 2** plots G against the computational heterogeneity factor
:math:`\eta_{comp}` (panel ``comp``, :math:`\eta_{comm}` fixed at
:data:`ETA_FIXED`) and against the communications factor
:math:`\eta_{comm}` (panel ``comm``, :math:`\eta_{comp}` fixed at
:data:`ETA_FIXED`), mean and one sample standard deviation over 5000
experiments per point. The paper states neither the fixed value of the
other factor, nor N, nor the steepness s: we fix the other factor at 0.5,
take N from the presets and s = 1 (:data:`STEEPNESS`: the capacities fall
linearly from the strongest to the weakest user). :math:`\eta = 1` is left
out of the grid: eq. (2) then gives the weakest user :math:`C_N = 0`, a
zero compute rate (an infinite ``max_i T_i``).

An *experiment* is one seed: the preset draws the users' positions in the
disc and their points :math:`l_i \sim U[l_{min}, l_{max}]` from it, and the
same seed gives the same users, positions and points to both strategies
(checked: a comparison of the two is paired). Two values per strategy:

* ``optimal`` — the exact whole-point optimum (server) / whole points
  rounded from the LP optimum (D2D), i.e. ``solve(p, "optimal")``;
* ``relaxed`` — the continuous optimum (Proposition 1's :math:`T^*` / the LP
  (P2)), the bound that scheme reports (``relaxed_bound`` for the
  server, ``bound`` for D2D), so ``relaxed >= optimal`` in gain.

Neither D2D problem depends on :math:`\eta_{comm}` (it sets the users'
*server* uplinks), so a task solves the D2D problem once and the server
problem for each :math:`\eta_{comm}` it covers; the whole ``comm`` panel
shares the D2D solutions of the point :math:`\eta_{comp} = 0.5`.

**Fig. 1** (``xr-heterogeneity-function.png``) draws the heterogeneity
function, eq. (2),
:math:`C_i = \eta\,(1 - ((i - 1)/(N - 1))^s)^{1/s} + (1 - \eta)`, which
sets :math:`a_i = C_i^{(a)} a_{max}` and :math:`r_i = C_i^{(r)} r_{max}`; it
ranges over :math:`[1 - \eta, 1]` (the text's ":math:`a_{min} = \eta
a_{max}`" contradicts eq. (2); we follow eq. (2)).

Files written to ``out_dir``
----------------------------
``xr-heterogeneity.png``
    Fig. 2: gain vs :math:`\eta_{comp}` and vs :math:`\eta_{comm}`, mean ± one
    sample s.d. (error bars) of ``optimal``, and the mean of ``relaxed``.
``xr-heterogeneity-function.png``
    Fig. 1: :math:`C_i` against the user index for several :math:`\eta` and s.
``xr-heterogeneity.csv``
    One row per (panel, point, strategy, scheme); columns
    :data:`SUMMARY_COLUMNS` (see :data:`COLUMN_DOCS`).
``xr-heterogeneity-compare.csv``
    The paired comparison, one row per (panel, point, scheme); columns
    :data:`COMPARE_COLUMNS`.
``xr-heterogeneity-seeds.csv``
    One row per (eta_comp, eta_comm, seed); columns :data:`SEED_COLUMNS`.
``xr-heterogeneity-store.jsonl``
    The sweep's results store (one line per task: a grid point and a block
    of :data:`BLOCK` seeds); re-runs reuse it.
``xr-heterogeneity-manifest.json``
    The run configuration and the SHA-256 of every file written (:mod:`._outputs`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._style import GRID, MUTED
from ..system.fleet import heterogeneity
from ._template import Config, Experiment, Figure, Sweep, Table
from ._xr import SCHEMES, STRATEGIES, STRATEGY_STYLE, Key, make_tasks, preset_users, solve_block
from ._xr_tables import (
    COLUMN_DOCS,
    COMPARE_COLUMNS,
    SEED_COLUMNS,
    SUMMARY_COLUMNS,
    below_one,
    collect,
    compare_rows,
    paired,
    problem_notes,
    rounding_note,
    seed_rows,
    summary_rows,
)

__all__ = [
    "BLOCK",
    "COLUMN_DOCS",
    "COMM_GRID",
    "COMPARE_COLUMNS",
    "COMP_GRID",
    "ETA_FIXED",
    "EXPERIMENT",
    "SEED_COLUMNS",
    "STEEPNESS",
    "SUMMARY_COLUMNS",
    "claims_fig2",
    "draw_strategies",
    "plot_heterogeneity",
    "run",
]

NAME = "xr-heterogeneity"
#: The heterogeneity factor held fixed in each panel (the paper does not say).
ETA_FIXED = 0.5
#: Sideways distance between the two strategies' points in Fig. 2 (in eta), for legibility.
OFFSET = 0.008
#: Heterogeneity steepness s of both C^(a) and C^(r) in Fig. 2 (the paper does not say).
STEEPNESS = 1.0
#: eta_comp grid (eta_comp = 1 would give the weakest user a zero compute rate).
COMP_GRID: tuple[float, ...] = tuple(round(0.1 * k, 10) for k in range(10))  # 0 .. 0.9
#: eta_comm grid (eta_comm = 1: the weakest user has no uplink and cannot offload).
COMM_GRID: tuple[float, ...] = tuple(round(0.1 * k, 10) for k in range(11))  # 0 .. 1
COMP_GRID_QUICK: tuple[float, ...] = (0.0, 0.3, 0.6, 0.9)
COMM_GRID_QUICK: tuple[float, ...] = (0.0, 0.3, 0.6, 1.0)
#: Seeds per task (a task is one grid point and a block of seeds).
BLOCK = 250
#: D2D is solved with whole points (``optimal``: the LP plus a rounding that costs ~6x
#: the LP at N = 20) on the first seeds of every point, and as the LP alone
#: (``relaxed``) on the rest; the two differ by < 0.1 % (see :func:`._xr_tables.rounding_note`).
D2D_WHOLE_POINTS = 100
#: ``--quick``: whole-point D2D on the first 5 seeds only.
QUICK_D2D_WHOLE_POINTS = 5
DEFAULT_SEEDS = 5000
QUICK_SEEDS = 20


def _groups(quick: bool) -> tuple[list[tuple[dict[str, Any], list[float]]], list[tuple[str, Key]]]:
    """Task groups (D2D point, server eta_comm list) and the (panel, key) of every point.

    A group is one eta_comp: D2D is solved once per seed, the server for
    each eta_comm of the group (only :data:`ETA_FIXED`, except at
    eta_comp = :data:`ETA_FIXED`, whose group covers the whole ``comm`` panel).
    """
    comp_grid = COMP_GRID_QUICK if quick else COMP_GRID
    comm_grid = COMM_GRID_QUICK if quick else COMM_GRID
    n = preset_users()
    groups = []
    for eta_comp in sorted({*comp_grid, ETA_FIXED}):
        etas = sorted({*comm_grid, ETA_FIXED}) if eta_comp == ETA_FIXED else [ETA_FIXED]
        point = {"eta_comp": float(eta_comp), "users": n, "s": STEEPNESS}
        groups.append((point, [float(e) for e in etas]))
    panels: list[tuple[str, Key]] = [
        ("comp", (float(x), ETA_FIXED, n, STEEPNESS)) for x in comp_grid
    ] + [("comm", (ETA_FIXED, float(x), n, STEEPNESS)) for x in comm_grid]
    return groups, panels


def _tasks(cfg: Config) -> list[dict[str, Any]]:
    groups, _ = _groups(cfg.quick)
    whole = QUICK_D2D_WHOLE_POINTS if cfg.quick else D2D_WHOLE_POINTS
    return make_tasks(NAME, [(pt, etas, cfg.seeds) for pt, etas in groups], BLOCK, whole)


def _analyse(
    cfg: Config, tasks: Sequence[Mapping[str, Any]], results: Sequence[Any]
) -> dict[str, Any]:
    """Per-seed gains by point (``data``), the three tables' rows, solver seconds."""
    groups, panels = _groups(cfg.quick)
    data, seconds = collect(tasks, results)
    return {
        "data": data,
        "seconds": seconds,
        "groups": len(groups),
        "tasks": len(tasks),
        "users": preset_users(),
        "rows": summary_rows(data, panels),
        "compare": compare_rows(data, panels),
        "seed_rows": seed_rows(data),
    }


def _notes(cfg: Config, d: Mapping[str, Any], sweep: Sweep) -> list[str]:
    data, seconds, seeds = d["data"], d["seconds"], cfg.seeds
    whole = QUICK_D2D_WHOLE_POINTS if cfg.quick else D2D_WHOLE_POINTS
    n_exp = sum(e["seed"].size for e in data.values())
    return [
        f"{d['tasks']} tasks ({sweep.reused} loaded from the store): {seeds} experiments per "
        f"point, {n_exp} server and {d['groups'] * seeds} D2D problems solved; wall "
        f"{sweep.seconds:.1f} s (solver CPU: server {seconds['server']:.1f} s, D2D "
        f"{seconds['d2d']:.1f} s, building instances {seconds['build']:.1f} s).",
        f"N = {d['users']} users (preset default), s = {STEEPNESS:g}; the other factor is fixed "
        f"at {ETA_FIXED:g} in each panel.",
        rounding_note(data, whole),
        *problem_notes(data),
        *(f"gain below 1 (a solver bug): {m}" for m in below_one(d["rows"])),
        *claims_fig2(d["compare"]),
    ]


def _summary(cfg: Config, d: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows, comp = d["rows"], d["compare"]
    most = max((r["seeds"] for r in rows), default=0)

    def fmt(r: Mapping[str, Any] | None) -> str:
        if r is None or not math.isfinite(r["mean"]):
            return "—"
        n = "" if r["seeds"] == most else f" ({r['seeds']} exp.)"
        return f"{r['mean']:.3f} ± {r['std']:.3f}{n}"

    index = {
        (r["panel"], r["eta_comp"], r["eta_comm"], r["strategy"], r["scheme"]): r for r in rows
    }
    better = {(r["panel"], r["eta_comp"], r["eta_comm"]): r for r in paired(comp)}
    out = []
    for panel, x_name in (("comp", "eta_comp"), ("comm", "eta_comm")):
        for r in rows:
            if r["panel"] != panel or r["strategy"] != "server" or r["scheme"] != "optimal":
                continue
            k = (panel, r["eta_comp"], r["eta_comm"])
            b = better.get(k)
            out.append(
                {
                    "panel": f"vs {x_name}",
                    "eta": r[x_name],
                    "server optimal": fmt(index.get((*k, "server", "optimal"))),
                    "server relaxed": fmt(index.get((*k, "server", "relaxed"))),
                    "D2D optimal": fmt(index.get((*k, "d2d", "optimal"))),
                    "D2D relaxed": fmt(index.get((*k, "d2d", "relaxed"))),
                    "D2D ahead in": f"{100 * b['d2d_better']:.0f} % of {b['seeds']}" if b else "—",
                }
            )
    return out


def claims_fig2(comp: Sequence[Mapping[str, Any]]) -> list[str]:
    """The paper's claims on Fig. 2 (Section IV-B), quoted, each with what we find."""
    opt = paired(comp)
    comm = sorted((r for r in opt if r["panel"] == "comm"), key=lambda r: r["eta_comm"])
    cmp_ = sorted((r for r in opt if r["panel"] == "comp"), key=lambda r: r["eta_comp"])
    notes = []
    if len(comm) >= 2:
        diffs = [r["diff_mean"] for r in comm]
        trend = float(np.polyfit([r["eta_comm"] for r in comm], diffs, 1)[0])
        d2d_wins = [r["eta_comm"] for r in comm if r["diff_mean"] > 0]
        # "Holds": D2D's advantage grows as the uplinks get weaker and D2D is ahead at the
        # weak-uplink end; "partly": it grows, but D2D never gets ahead (or is ahead at the
        # strong-uplink end too).
        if trend > 0 and d2d_wins and comm[-1]["diff_mean"] > 0 and comm[0]["diff_mean"] <= 0:
            verdict = "Holds"
        elif trend > 0:
            verdict = "Partly holds"
        else:
            verdict = "Does not hold"
        notes.append(
            'Claim (Fig. 2): "D2D-aided offloading is more beneficial if the users have '
            'low-rate links to the edge server." '
            + verdict
            + f": as eta_comm grows (weaker uplinks), the mean gain of D2D minus the server's "
            f"goes from {diffs[0]:+.3f} (eta_comm={comm[0]['eta_comm']:g}) to {diffs[-1]:+.3f} "
            f"(eta_comm={comm[-1]['eta_comm']:g}); D2D is ahead on average at eta_comm in "
            f"{_list(d2d_wins)} (D2D's own gain does not depend on eta_comm)."
        )
    if len(cmp_) >= 2:
        signs = {r["eta_comp"]: np.sign(r["diff_mean"]) for r in cmp_}
        flips = len(set(signs.values()) - {0.0}) > 1
        winners = ", ".join(
            f"{r['eta_comp']:g}: {'D2D' if r['diff_mean'] > 0 else 'server'} "
            f"({100 * r['d2d_better']:.0f} % D2D)"
            for r in cmp_
        )
        notes.append(
            'Claim (Fig. 2): "The distribution of computational resources does not '
            'significantly affect the choice of the preferred strategy." '
            + ("Does not hold" if flips else "Holds")
            + f": preferred strategy by mean gain at each eta_comp (share of experiments "
            f"where D2D wins): {winners}."
        )
    return notes


def _list(values: Sequence[float]) -> str:
    return "{" + ", ".join(f"{v:g}" for v in values) + "}" if values else "{} (nowhere)"


def _series(
    rows: Sequence[Mapping[str, Any]], panel: str, x: str, strategy: str, scheme: str, **match: Any
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    pts = sorted(
        (float(r[x]), r["mean"], r["std"])
        for r in rows
        if r["panel"] == panel
        and r["strategy"] == strategy
        and r["scheme"] == scheme
        and all(r[k] == v for k, v in match.items())
    )
    if not pts:
        empty = np.zeros(0)
        return empty, empty, empty
    a, m, s = (np.asarray(v, float) for v in zip(*pts, strict=True))
    return a, m, s


def draw_strategies(
    ax: Any, rows: Sequence[Mapping[str, Any]], panel: str, x: str, offset: float, **match: Any
) -> list[tuple[Any, str]]:
    """Both strategies: the scheme run on every experiment as a line with ±1 s.d. error bars.

    That is ``optimal`` (whole points) for the server and, when D2D's whole
    points ran on a subset of the seeds only, the LP (``relaxed``) for D2D; the
    other scheme is drawn as white dots over that line (``relaxed``, which lies
    within 1 % of it) or hollow markers (``optimal`` on the subset). The two
    strategies are drawn ``offset / 2`` left and right of each point. Returns
    the legend entries ``(handle, label)`` that the axes' own handles lack.
    """
    from matplotlib.lines import Line2D

    extra: list[tuple[Any, str]] = []
    for k, strategy in enumerate(STRATEGIES):
        st = STRATEGY_STYLE[strategy]
        n = {
            scheme: max(
                (
                    r["seeds"]
                    for r in rows
                    if r["panel"] == panel
                    and r["strategy"] == strategy
                    and r["scheme"] == scheme
                    and all(r[q] == v for q, v in match.items())
                ),
                default=0,
            )
            for scheme in SCHEMES
        }
        main = "optimal" if n["optimal"] >= n["relaxed"] else "relaxed"
        what = {"optimal": "whole points", "relaxed": "continuous optimum"}
        xs, m, sd = _series(rows, panel, x, strategy, main, **match)
        if xs.size:
            ax.errorbar(
                xs + (k - 0.5) * offset,
                m,
                yerr=sd,
                color=st["color"],
                marker=st["marker"],
                markersize=5,
                linewidth=1.8,
                capsize=3,
                elinewidth=1.0,
                label=f"{st['label']}: {what[main]}, mean ± 1 s.d. ({n[main]} exp.)",
            )
        other = "relaxed" if main == "optimal" else "optimal"
        xo, mo, _ = _series(rows, panel, x, strategy, other, **match)
        if not xo.size:
            continue
        if other == "relaxed":
            # within 1 % of the whole-points curve: white dots drawn over that coloured line
            line = ax.plot(
                xo + (k - 0.5) * offset,
                mo,
                color="white",
                linestyle=(0, (1, 1.5)),
                linewidth=1.3,
                zorder=5,
            )[0]
            handle = (Line2D([], [], color=st["color"], linewidth=2.4), line)
            extra.append(
                (
                    handle,
                    f"{st['label']}: {what[other]}, mean ({n[other]} exp.), "
                    "white dots over its line",
                )
            )
        else:
            ax.plot(
                xo + (k - 0.5) * offset,
                mo,
                color=st["color"],
                linestyle="none",
                marker=st["marker"],
                markersize=9,
                markerfacecolor="none",
                markeredgewidth=1.2,
                label=f"{st['label']}: {what[other]}, mean (first {n[other]} exp.)",
            )
    return extra


def _plot(cfg: Config, d: Mapping[str, Any], path: Path) -> None:
    """Fig. 2: gain vs eta_comp and vs eta_comm, both strategies."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    rows, seeds, users = d["rows"], cfg.seeds, d["users"]

    fig = Figure(figsize=(12.0, 5.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, panel, x, other in (
        (axes[0], "comp", "eta_comp", rf"$\eta_{{comm}}$ = {ETA_FIXED:g}"),
        (axes[1], "comm", "eta_comm", rf"$\eta_{{comp}}$ = {ETA_FIXED:g}"),
    ):
        extra = draw_strategies(ax, rows, panel, x, offset=OFFSET)
        ax.axhline(1.0, color=MUTED, linewidth=0.8)
        sym = r"$\eta_{comp}$" if panel == "comp" else r"$\eta_{comm}$"
        what = "computational" if panel == "comp" else "communications (server uplink)"
        ax.set_xlabel(f"{what} heterogeneity factor {sym}")
        ax.set_title(f"({'a' if panel == 'comp' else 'b'}) gain vs {sym} ({other})", fontsize=11)
        ax.grid(True, **GRID)
    axes[0].set_ylabel(r"gain $\mathrm{max}_i\, T_i \,/\, T^*$")
    axes[0].set_ylim(bottom=0.9)
    handles, labels = axes[0].get_legend_handles_labels()
    handles += [h for h, _ in extra]
    labels += [lab for _, lab in extra]
    handles.append(Line2D([], [], color="none"))
    labels.append(
        f"server drawn {OFFSET / 2:g} left, D2D {OFFSET / 2:g} right of each $\\eta$ point"
    )
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=9)
    fig.suptitle(
        f"XR offloading, Fig. 2: gain of the two strategies ($N$ = {users}, $s$ = {STEEPNESS:g}; "
        f"mean ± 1 s.d. over {seeds} experiments per point)",
        fontsize=12,
    )
    fig.savefig(path, dpi=110)


def plot_heterogeneity(path: Path, n: int = 50) -> Path:
    """Fig. 1: the heterogeneity function eq. (2) for several eta and s."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12.0, 5.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    i = np.arange(1, n + 1)
    cmap = colormaps["viridis"]
    steeps = (0.25, 0.5, 1.0, 2.0, 4.0)
    for k, s in enumerate(steeps):
        axes[0].plot(
            i,
            heterogeneity(n, 0.8, s),
            color=cmap(0.9 * k / (len(steeps) - 1)),
            linewidth=2,
            label=f"$s$ = {s:g}",
        )
    axes[0].set_title(r"(a) $\eta$ = 0.8, varying steepness $s$", fontsize=11)
    etas = (0.2, 0.5, 0.8, 1.0)
    for k, eta in enumerate(etas):
        for s, ls in ((0.5, "--"), (2.0, "-")):
            axes[1].plot(
                i,
                heterogeneity(n, eta, s),
                color=cmap(0.9 * k / (len(etas) - 1)),
                linestyle=ls,
                linewidth=2,
                label=rf"$\eta$ = {eta:g}, $s$ = {s:g}",
            )
    axes[1].set_title(r"(b) varying $\eta$, $s$ = 0.5 (dashed) and $s$ = 2 (solid)", fontsize=11)
    for ax in axes:
        ax.set_xlabel(f"user index $i$ ($N$ = {n})")
        ax.grid(True, **GRID)
        ax.set_ylim(-0.02, 1.05)
        ax.legend(
            fontsize=8,
            ncols=4 if ax is axes[1] else 5,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.16),
            frameon=False,
        )
    axes[0].set_ylabel("relative capacity $C_i$")
    fig.suptitle(
        "XR offloading, Fig. 1: heterogeneity function, eq. (2): "
        r"$C_i = \eta\,\left(1 - \left(\frac{i-1}{N-1}\right)^s\right)^{1/s} + 1 - \eta$",
        fontsize=12,
    )
    fig.savefig(path, dpi=110)
    return path


def _plot_function(cfg: Config, d: Mapping[str, Any], path: Path) -> None:
    plot_heterogeneity(path)


EXPERIMENT = Experiment(
    name=NAME,
    title="XR offloading, Figs. 1-2: gain of server vs D2D offloading vs heterogeneity",
    description=(
        "Collaborative learning for XR (xr-offloading), Fig. 2: gain max_i T_i / T* "
        "of Strategy #1 (edge server) and Strategy #2 (D2D), optimal and relaxed, vs "
        "eta_comp and vs eta_comm (the other fixed at 0.5), mean and s.d. over 5000 "
        "paired experiments per point (presets xr-server, xr-d2d); plus Fig. 1, the "
        "heterogeneity function eq. (2)."
    ),
    duration="12 min 46 s",
    quick_duration="5 s",
    default_seeds=DEFAULT_SEEDS,
    quick_seeds=QUICK_SEEDS,
    tasks=_tasks,
    worker=solve_block,
    analyse=_analyse,
    tables=(
        Table("", SUMMARY_COLUMNS, "rows"),
        Table("-compare", COMPARE_COLUMNS, "compare"),
        Table("-seeds", SEED_COLUMNS, "seed_rows"),
    ),
    figures=(Figure("", _plot), Figure("-function", _plot_function)),
    summary=_summary,
    notes=_notes,
)
#: Run the reproduction into ``out_dir`` (:meth:`.Experiment.run`; files: the module docstring).
run = EXPERIMENT.run
