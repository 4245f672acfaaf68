"""``mel-async-allocation``: local iterations under energy limits and bounded staleness.

*Task allocation for asynchronous mobile edge learning with delay and energy
constraints* (Mohammad, Sorour & Hefeida, arXiv:2012.00143), Section 5: K = 20 learners,
global cycle times T = 5 s to 40 s in steps of 5 s, average energy budgets
E = 10, 20, 30 J (spread 2.5 J) and staleness caps c = 0..5 (c = 0 is the
synchronous HA-Sync case; the paper finds c > 5 brings nothing). The paper
reports validation accuracy only; what its learners run is the allocation
this experiment plots: the mean number of local iterations
:math:`\\frac{1}{K}\\sum_k \\tau_k` (objective (16a)) of the exact optimum
(scheme ``optimal``) for every (E, T, c), and, at c = 2, the paper's own
Algorithm 1 (``paper``: relaxation, suggest-and-improve, flooring) and the
heterogeneity-unaware equal allocation (``equal``, HU).

Why c = 2 for the comparison: it is the preset's default and the middle of
the range the paper recommends (its examples single out c = 1-2 at tight
budgets, Figs. 5-6, and c = 2-4 at larger ones, Fig. 8).

Instances are random placements in the 500 m cell together with random
budgets :math:`E_k \\sim U[E - 2.5, E + 2.5]` (``seed`` of the preset).

Files written to ``out_dir``
----------------------------
``mel-async-allocation.png``
    One panel per E: mean tau vs T, a line per c (optimal), markers for
    ``paper`` and ``equal`` at c = 2; gaps where no allocation exists.
``mel-async-allocation.csv``
    Aggregated, one row per (E, T, c, scheme); columns :data:`SUMMARY_COLUMNS`
    (statistics as in :mod:`._allocation`; ``mean`` is the mean over instances of
    the mean tau over learners).
``mel-async-allocation-seeds.csv``
    Raw, one row per (E, T, c, scheme, seed); columns :data:`SEED_COLUMNS`.
``mel-async-allocation-store.jsonl``
    The sweep's results store.
``mel-async-allocation-manifest.json``
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

__all__ = ["COMPARE_C", "EXPERIMENT", "SEED_COLUMNS", "SUMMARY_COLUMNS", "run", "solve_task"]

NAME = "mel-async-allocation"
PRESET = "mel-async"
E_GRID: tuple[float, ...] = (10.0, 20.0, 30.0)
T_GRID: tuple[float, ...] = tuple(float(t) for t in range(5, 41, 5))
C_GRID: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
T_GRID_QUICK: tuple[float, ...] = (5.0, 10.0, 30.0)
C_GRID_QUICK: tuple[int, ...] = (0, 2, 5)
#: Staleness at which ``paper`` and ``equal`` are compared with ``optimal``.
COMPARE_C = 2

SEED_COLUMNS: tuple[str, ...] = ("E", "T", "c", "scheme", "seed", "status", "mean_tau")
SUMMARY_COLUMNS: tuple[str, ...] = ("E", "T", "c", "scheme", *STAT_COLUMNS)


def solve_task(task: dict[str, Any]) -> dict[str, Any]:
    """Compile one instance (E, T, c, seed) of ``mel-async`` and solve it with each scheme."""
    problem = load_problem(
        PRESET,
        overrides={"E": task["E"], "T": task["T"], "c": task["c"], "seed": task["seed"]},
    )
    return {scheme: solve_record(problem, scheme) for scheme in task["schemes"]}


def _tasks(cfg: Config) -> list[dict[str, Any]]:
    t_grid = T_GRID_QUICK if cfg.quick else T_GRID
    c_grid = C_GRID_QUICK if cfg.quick else C_GRID
    return [
        {
            "experiment": NAME,
            "version": __version__,
            "E": e,
            "T": t,
            "c": c,
            "seed": seed,
            "schemes": ["optimal", "paper", "equal"] if c == COMPARE_C else ["optimal"],
        }
        for e in E_GRID
        for t in t_grid
        for c in c_grid
        for seed in range(cfg.seeds)
    ]


def _analyse(
    cfg: Config, tasks: Sequence[Mapping[str, Any]], results: Sequence[Any]
) -> dict[str, Any]:
    """``records`` (one per instance and scheme) and their aggregate ``rows``."""
    records = [
        {
            "E": task["E"],
            "T": task["T"],
            "c": task["c"],
            "scheme": scheme,
            "seed": task["seed"],
            "status": rec["status"],
            "mean_tau": rec["value"],
            "value": rec["value"],
        }
        for task, res in zip(tasks, results, strict=True)
        for scheme, rec in res.items()
    ]
    return {"records": records, "rows": aggregate(records, ("E", "T", "c"))}


def _notes(cfg: Config, data: Mapping[str, Any], sweep: Sweep) -> list[str]:
    rows = data["rows"]
    notes = [
        f"{sweep.instances} instances ({cfg.seeds} seed(s) of placement and budgets per point), "
        f"{sweep.reused} loaded from the store, {sweep.seconds:.1f} s.",
        "The async paper reports validation accuracy, not tau: there are no printed tau "
        "values to compare with (see docs/reproductions.md).",
    ]
    hu_gaps = sorted(
        {(r["E"], r["T"]) for r in rows if r["scheme"] == "equal" and r["infeasible"] > 0}
    )
    if hu_gaps:
        pts = ", ".join(f"E={e:g} J/T={t:g} s" for e, t in hu_gaps)
        notes.append(f"equal allocation is infeasible on some instances at {pts}.")
    partial = sorted(
        {
            (r["E"], r["T"], r["solvable"], r["seeds"])
            for r in rows
            if r["scheme"] == "optimal" and 0 < r["solvable"] < r["seeds"]
        }
    )
    if partial:
        notes.append(
            "Only some instances admit an allocation at "
            + ", ".join(f"E={e:g} J T={t:g} s ({n}/{m})" for e, t, n, m in partial)
            + "; those means are over the feasible instances."
        )
    return notes + error_notes(data["records"])


def _summary(cfg: Config, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = data["rows"]
    index = {(r["E"], r["T"], r["c"], r["scheme"]): r for r in rows}
    cs = sorted({r["c"] for r in rows})
    out = []
    for e in E_GRID:
        for t in (10.0, 20.0, 30.0, 40.0):
            if not any(r["E"] == e and r["T"] == t for r in rows):
                continue
            row: dict[str, Any] = {"E": e, "T": t}
            for c in (cs[0], COMPARE_C, cs[-1]):
                row[f"optimal c={c}"] = fmt_mean_std(index.get((e, t, c, "optimal")))
            row[f"paper c={COMPARE_C}"] = fmt_mean_std(index.get((e, t, COMPARE_C, "paper")))
            row[f"equal c={COMPARE_C}"] = fmt_mean_std(index.get((e, t, COMPARE_C, "equal")))
            out.append(row)
    return out


def _plot(cfg: Config, data: Mapping[str, Any], path: Path) -> None:
    """Mean tau vs T per E: a line per staleness cap c, markers for paper and equal at c = 2."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    rows, seeds = data["rows"], cfg.seeds
    cs = sorted({r["c"] for r in rows})
    cmap = colormaps["viridis"]
    color = {c: cmap(0.9 * i / max(len(cs) - 1, 1)) for i, c in enumerate(cs)}
    fig = Figure(figsize=(14.0, 5.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(E_GRID), sharey=True)

    def series(e: float, c: int, scheme: str):
        pts = sorted(
            (r["T"], r["mean"], r["std"])
            for r in rows
            if r["E"] == e and r["c"] == c and r["scheme"] == scheme
        )
        return tuple(np.asarray(v, float) for v in zip(*pts, strict=True)) if pts else None

    for ax, e in zip(axes, E_GRID, strict=True):
        for c in cs:
            got = series(e, c, "optimal")
            if got is None:
                continue
            x, m, _ = got
            ax.plot(x, m, marker="o", markersize=4, color=color[c], linewidth=1.8)
        for scheme in ("paper", "equal"):
            got = series(e, COMPARE_C, scheme)
            if got is None:
                continue
            x, m, sd = got
            st = scheme_style(scheme)
            ax.errorbar(
                x,
                m,
                yerr=sd,
                marker=st["marker"],
                markersize=8 if scheme == "equal" else 9,
                markerfacecolor="none" if scheme == "paper" else st["color"],
                color=st["color"],
                linestyle=st["ls"],
                linewidth=1.0,
                capsize=2,
                zorder=4,
            )
        hu = series(e, COMPARE_C, "equal")
        if hu is None or not np.isfinite(hu[1]).any():
            ax.text(
                0.97,
                0.03,
                "equal (HU): no allocation at any $T$\n($d/K$ samples exceed some energy budgets)",
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=8.5,
                color=scheme_style("equal")["color"],
            )
        ax.set_title(f"$E$ = {e:g} J (budgets $U[{e - 2.5:g}, {e + 2.5:g}]$ J)", fontsize=11)
        ax.set_xlabel("global cycle time $T$ (s)")
        ax.grid(True, **GRID)
        ax.set_xticks(sorted({r["T"] for r in rows}))
    axes[0].set_ylim(bottom=0)  # after plotting: the shared top covers every panel
    axes[0].set_ylabel(r"mean local iterations $(1/K)\,\sum_k \tau_k$")
    handles = [
        Line2D(
            [],
            [],
            color=color[c],
            marker="o",
            markersize=4,
            label="optimal, $c$ = 0 (sync)" if c == 0 else f"optimal, $c$ = {c}",
        )
        for c in cs
    ]
    handles += [
        Line2D(
            [],
            [],
            color=scheme_style("paper")["color"],
            marker=scheme_style("paper")["marker"],
            markerfacecolor="none",
            linestyle=scheme_style("paper")["ls"],
            label=f"paper (Algorithm 1), $c$ = {COMPARE_C}, hollow over the lines",
        ),
        Line2D(
            [],
            [],
            color=scheme_style("equal")["color"],
            marker=scheme_style("equal")["marker"],
            linestyle=scheme_style("equal")["ls"],
            label=f"equal (HU), $c$ = {COMPARE_C}",
        ),
    ]
    fig.legend(handles=handles, loc="outside right center", fontsize=9, title="scheme")
    fig.suptitle(
        r"Async MEL with energy limits ($K$ = 20): mean $\tau$ of the exact optimum per "
        "staleness cap $c$ "
        f"(mean over {seeds} instance(s); bars = 1 s.d.; gaps = no allocation)",
        fontsize=12,
    )
    fig.savefig(path, dpi=110)


EXPERIMENT = Experiment(
    name=NAME,
    title="Async MEL: mean local iterations vs cycle time, energy and staleness",
    description=(
        "Asynchronous MEL with energy limits (Table 1, Section 5): mean tau vs "
        "T = 5..40 s for E = 10, 20, 30 J and staleness c = 0..5 (scheme optimal), "
        "with the paper's Algorithm 1 and equal allocation at c = 2, averaged over "
        "random placements and budgets (preset mel-async)."
    ),
    duration="4 min 8 s",
    quick_duration="5 s",
    default_seeds=10,
    quick_seeds=2,
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
