"""``mel-local-updates``: Fig. 1 of the synchronous MEL paper.

Mohammad & Sorour, *Adaptive Task Allocation for Mobile Edge Learning*
(Mohammad & Sorour, IEEE WCNCW 2019), Section V-B, Fig. 1: the
number of local iterations :math:`\\tau` each scheme achieves (a) versus the
number of learners K at T = 30 s and 60 s and (b) versus the global cycle
time T at K = 10 and 20. The paper's text reports two points: at K = 20,
T = 30 s the optimised allocation gives :math:`\\tau = 6` and equal task
allocation (ETA) 1; at K = 10, T = 60 s, 7 and 3.

Each point is averaged over random placements (``seed`` of the preset:
positions of the learners in the 50 m disc) for both readings of the paper's
Table I: ``mel-sync`` (literal) and ``mel-sync-calibrated`` (the reading that
reproduces the paper's gains; see the preset comments). Schemes: ``optimal``
(exact integer optimum), ``relaxed`` (continuous optimum, the paper's upper
bound), ``paper`` (Theorem 1 and rounding), ``equal`` (ETA).

Files written to ``out_dir``
----------------------------
``mel-local-updates.png``
    2 x 2 panels: rows = presets, columns = vs K and vs T; mean and one
    standard deviation (shaded) per scheme; the paper's reported values as
    stars.
``mel-local-updates.csv``
    Aggregated, one row per (preset, panel, K, T, scheme); columns
    :data:`SUMMARY_COLUMNS` (statistics as in :mod:`._allocation`).
``mel-local-updates-seeds.csv``
    Raw, one row per (preset, panel, K, T, scheme, seed); columns
    :data:`SEED_COLUMNS`; ``tau`` is empty unless the scheme returned an
    allocation (``status`` optimal or feasible).
``mel-local-updates-store.jsonl``
    The sweep's results store (re-runs reuse it; delete to recompute).
``mel-local-updates-manifest.json``
    The run configuration and the SHA-256 of every file written (:mod:`._outputs`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._style import GRID, scheme_style
from .._version import __version__
from ..api import load_problem
from ._allocation import STAT_COLUMNS, aggregate, error_notes, fmt_mean_std, solve_record
from ._template import Config, Experiment, Figure, Sweep, Table

__all__ = [
    "EXPERIMENT",
    "PAPER_POINTS",
    "PRESETS",
    "SCHEMES",
    "SEED_COLUMNS",
    "SUMMARY_COLUMNS",
    "run",
    "solve_task",
]

NAME = "mel-local-updates"
PRESETS: tuple[str, ...] = ("mel-sync", "mel-sync-calibrated")
SCHEMES: tuple[str, ...] = ("optimal", "relaxed", "paper", "equal")

#: Fig. 1 panels: panel -> (series values, x grid full, x grid quick).
K_SERIES_T = (30.0, 60.0)  # panel "K": one line per T
T_SERIES_K = (10, 20)  # panel "T": one line per K
K_GRID = tuple(range(2, 31))
T_GRID = tuple(float(t) for t in range(10, 61, 5))
K_GRID_QUICK = (2, 5, 10, 20, 30)
T_GRID_QUICK = (10.0, 30.0, 60.0)

#: The paper's reported values (Section V-B text): (K, T) -> {"optimized", "equal"}.
PAPER_POINTS: dict[tuple[int, float], dict[str, int]] = {
    (20, 30.0): {"optimized": 6, "equal": 1},
    (10, 60.0): {"optimized": 7, "equal": 3},
}

SEED_COLUMNS: tuple[str, ...] = ("preset", "panel", "K", "T", "scheme", "seed", "status", "tau")
SUMMARY_COLUMNS: tuple[str, ...] = ("preset", "panel", "K", "T", "scheme", *STAT_COLUMNS)

#: Line widths, marker sizes and layers of the figure (colours and markers: the package
#: palette). ``paper`` equals ``optimal`` almost everywhere and ``relaxed`` sits just above
#: it, so ``optimal`` is thick at the bottom, ``relaxed`` a thin dotted line over it and
#: ``paper`` hollow squares on top: all three stay visible where they coincide.
_LINE_WIDTH = {"optimal": 3.2, "relaxed": 1.3, "paper": 1.0, "equal": 1.8}
_MARKER_SIZE = {"optimal": 6, "relaxed": 0, "paper": 8, "equal": 5}
_ZORDER = {"optimal": 2, "equal": 3, "relaxed": 4, "paper": 5}
#: ``relaxed``'s line style (the same in both series: it lies next to its own optimal curve).
_RELAXED_LS = (0, (1, 1.4))
#: This figure's labels of the schemes.
_LABEL = {
    "optimal": "optimal (exact integer), thick",
    "relaxed": "relaxed (upper bound), dotted over optimal",
    "paper": "paper (Theorem 1, rounded), hollow squares over optimal",
    "equal": "equal (ETA)",
}


def solve_task(task: dict[str, Any]) -> dict[str, Any]:
    """Compile one instance (preset, K, T, seed) and solve it with every scheme."""
    problem = load_problem(
        task["preset"], overrides={"K": task["K"], "T": task["T"], "seed": task["seed"]}
    )
    return {scheme: solve_record(problem, scheme) for scheme in task["schemes"]}


def _grid(seeds: int, quick: bool) -> tuple[list[str], list[dict[str, Any]]]:
    """``(panel of each task, tasks)``; a point on both panels is the same task (run once)."""
    k_grid = K_GRID_QUICK if quick else K_GRID
    t_grid = T_GRID_QUICK if quick else T_GRID
    points: list[tuple[str, int, float]] = []
    points += [("K", k, t) for t in K_SERIES_T for k in k_grid]
    points += [("T", k, t) for k in T_SERIES_K for t in t_grid]
    panels, tasks = [], []
    for preset in PRESETS:
        for panel, k, t in points:
            for seed in range(seeds):
                panels.append(panel)
                tasks.append(
                    {
                        "experiment": NAME,
                        "version": __version__,
                        "preset": preset,
                        "K": int(k),
                        "T": float(t),
                        "seed": seed,
                        "schemes": list(SCHEMES),
                    }
                )
    return panels, tasks


def _tasks(cfg: Config) -> list[dict[str, Any]]:
    return _grid(cfg.seeds, cfg.quick)[1]


def _analyse(
    cfg: Config, tasks: Sequence[Mapping[str, Any]], results: Sequence[Any]
) -> dict[str, Any]:
    """``records`` (one per instance and scheme) and their aggregate ``rows``."""
    panels, _ = _grid(cfg.seeds, cfg.quick)
    records = [
        {
            "preset": task["preset"],
            "panel": panel,
            "K": task["K"],
            "T": task["T"],
            "scheme": scheme,
            "seed": task["seed"],
            "status": rec["status"],
            "tau": rec["value"],
            "value": rec["value"],
        }
        for panel, task, res in zip(panels, tasks, results, strict=True)
        for scheme, rec in res.items()
    ]
    return {"records": records, "rows": aggregate(records, ("preset", "panel", "K", "T"))}


def _notes(cfg: Config, data: Mapping[str, Any], sweep: Sweep) -> list[str]:
    rows = data["rows"]
    notes = [
        f"{sweep.instances} instances ({cfg.seeds} placement seed(s) per point), "
        f"{sweep.reused} loaded from the store, {sweep.seconds:.1f} s.",
        "Means are over the instances that admit an allocation; a scheme that is "
        "infeasible or fails on any of them leaves a gap (counted in the CSV).",
    ]
    partial = sorted(
        {
            (r["preset"], r["K"], r["T"], r["solvable"], r["seeds"])
            for r in rows
            if r["scheme"] == "optimal" and 0 < r["solvable"] < r["seeds"]
        }
    )
    if partial:
        notes.append(
            "Only some placements admit an allocation at "
            + ", ".join(f"{p} K={k} T={t:g} s ({n}/{m})" for p, k, t, n, m in partial)
            + "; those means are over the feasible placements."
        )
    return notes + error_notes(data["records"])


def _summary(cfg: Config, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The paper's reported points next to ours, one row per preset and point."""
    index = {(r["preset"], r["panel"], r["K"], r["T"], r["scheme"]): r for r in data["rows"]}
    out = []
    for preset in PRESETS:
        for (k, t), reported in PAPER_POINTS.items():
            panel = "K" if any((preset, "K", k, t, s) in index for s in SCHEMES) else "T"

            def get(scheme: str, key: tuple = (preset, panel, k, t)) -> str:
                return fmt_mean_std(index.get((*key, scheme)))

            out.append(
                {
                    "preset": preset,
                    "K": k,
                    "T": t,
                    "paper optimized": reported["optimized"],
                    "optimal": get("optimal"),
                    "paper (Thm 1)": get("paper"),
                    "relaxed": get("relaxed"),
                    "paper ETA": reported["equal"],
                    "equal": get("equal"),
                }
            )
    return out


def _plot(cfg: Config, data: Mapping[str, Any], path: Path) -> None:
    """Fig. 1: tau vs K and vs T per preset, mean and one s.d. per scheme."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    rows, seeds = data["rows"], cfg.seeds
    fig = Figure(figsize=(12.5, 9.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(PRESETS), 2, sharey="row")
    line_styles = ("-", "--")
    for r, preset in enumerate(PRESETS):
        for c, panel in enumerate(("K", "T")):
            ax = axes[r, c]
            series = K_SERIES_T if panel == "K" else T_SERIES_K
            xkey, skey = ("K", "T") if panel == "K" else ("T", "K")
            series_name = "$T$ = {:g} s" if panel == "K" else "$K$ = {:g}"
            for s_i, s_val in enumerate(series):
                for scheme in SCHEMES:
                    pts = sorted(
                        (row[xkey], row["mean"], row["std"])
                        for row in rows
                        if row["preset"] == preset
                        and row["panel"] == panel
                        and row[skey] == s_val
                        and row["scheme"] == scheme
                    )
                    if not pts:
                        continue
                    x, m, sd = (np.asarray(v, float) for v in zip(*pts, strict=True))
                    st = scheme_style(scheme)
                    ls = {"paper": "none", "relaxed": _RELAXED_LS}.get(scheme, line_styles[s_i])
                    ax.plot(
                        x,
                        m,
                        linestyle=ls,
                        marker=st["marker"],
                        markersize=_MARKER_SIZE[scheme],
                        color=st["color"],
                        linewidth=_LINE_WIDTH[scheme],
                        # paper hollow: it often sits on the optimal marker
                        markerfacecolor="none" if s_i or scheme == "paper" else st["color"],
                        markeredgewidth=1.3 if scheme == "paper" else 1.0,
                        zorder=_ZORDER[scheme],
                    )
                    if scheme in ("optimal", "equal"):
                        ax.fill_between(x, m - sd, m + sd, color=st["color"], alpha=0.15, lw=0)
                    if scheme == "optimal" and np.isfinite(m).any():
                        last = np.flatnonzero(np.isfinite(m))[-1]
                        ax.annotate(
                            series_name.format(s_val),
                            (x[last], m[last]),
                            xytext=(-4, 6),
                            textcoords="offset points",
                            ha="right",
                            fontsize=8,
                            color=st["color"],
                        )
            for (k, t), reported in PAPER_POINTS.items():
                if (panel == "K" and t in series) or (panel == "T" and k in series):
                    x = k if panel == "K" else t
                    for key, scheme in (("optimized", "optimal"), ("equal", "equal")):
                        ax.plot(
                            [x],
                            [reported[key]],
                            marker="*",
                            markersize=17,
                            markerfacecolor=scheme_style(scheme)["color"],
                            markeredgecolor="black",
                            linestyle="none",
                            zorder=5,
                        )
                        ax.annotate(
                            f"paper: {reported[key]}",
                            (x, reported[key]),
                            xytext=(7, -3 if key == "equal" else 4),
                            textcoords="offset points",
                            fontsize=8,
                            bbox={
                                "boxstyle": "round,pad=0.15",
                                "fc": "white",
                                "ec": "none",
                                "alpha": 0.8,
                            },
                        )
            ax.set_xlabel("number of learners $K$" if panel == "K" else "global cycle time $T$ (s)")
            if c == 0:
                ax.set_ylabel(r"local iterations $\tau$ per global cycle")
            what = "vs $K$" if panel == "K" else "vs $T$"
            ax.set_title(rf"{preset}: $\tau$ {what}", fontsize=11)
            ax.grid(True, **GRID)
            grid = [row[xkey] for row in rows if row["panel"] == panel]
            pad = 0.03 * (max(grid) - min(grid))
            ax.set_xlim(min(grid) - pad, max(grid) + pad)
            handles = [
                Line2D(
                    [],
                    [],
                    color="black",
                    linestyle=line_styles[i],
                    marker="o",
                    markerfacecolor="none" if i else "black",
                    label=series_name.format(v),
                )
                for i, v in enumerate(series)
            ]
            ax.legend(handles=handles, loc="upper left", fontsize=8, title="series")
    for ax in axes[:, 0]:
        ax.set_ylim(bottom=0)  # after plotting: the shared top covers the whole row
    scheme_handles = [
        Line2D(
            [],
            [],
            color=scheme_style(s)["color"],
            marker=scheme_style(s)["marker"],
            linestyle={"paper": "none", "relaxed": _RELAXED_LS}.get(s, "-"),
            markerfacecolor="none" if s == "paper" else scheme_style(s)["color"],
            linewidth=_LINE_WIDTH[s],
            markersize=_MARKER_SIZE[s],
            label=_LABEL[s],
        )
        for s in SCHEMES
    ]
    scheme_handles.append(
        Line2D(
            [],
            [],
            marker="*",
            markersize=13,
            markerfacecolor="white",
            markeredgecolor="black",
            linestyle="none",
            label="paper's reported value (fill = scheme)",
        )
    )
    fig.legend(handles=scheme_handles, loc="outside lower center", ncols=3, fontsize=9)
    fig.suptitle(
        r"Sync MEL, Fig. 1 of Mohammad & Sorour: local iterations $\tau$ "
        f"(mean ± 1 s.d. over {seeds} placement(s) per point; gaps = no allocation)",
        fontsize=12,
    )
    fig.savefig(path, dpi=110)


EXPERIMENT = Experiment(
    name=NAME,
    title="Sync MEL, Fig. 1: local iterations vs learners and cycle time",
    description=(
        "Mohammad & Sorour, Adaptive Task Allocation for Mobile Edge Learning, "
        "Fig. 1: tau vs K (T = 30, 60 s) and vs T (K = 10, 20) for the schemes "
        "optimal, relaxed, paper and equal, averaged over random placements, for "
        "the presets mel-sync (literal Table I) and mel-sync-calibrated."
    ),
    duration="1 min 40 s",
    quick_duration="4 s",
    default_seeds=20,
    quick_seeds=3,
    tasks=_tasks,
    worker=solve_task,
    analyse=_analyse,
    tables=(Table("", SUMMARY_COLUMNS, "rows"), Table("-seeds", SEED_COLUMNS, "records")),
    figures=(Figure("", _plot),),
    summary=_summary,
    notes=_notes,
)
#: Run the reproduction into ``out_dir`` (:meth:`.Experiment.run`; files: the module docstring).
run = EXPERIMENT.run
