r"""``xr-users``: Fig. 3 of the XR offloading paper, gain versus the number of users.

*Collaborative learning in extended reality* (the XR offloading paper),
Section IV-B, Fig. 3: the gain :math:`\max_i T_i / T^*` of Strategy #1
(edge server, preset ``xr-server``) and Strategy #2 (D2D, preset ``xr-d2d``)
against the number of users N, for heterogeneity steepness (a) s = 0.5 (a
large share of weak users) and (b) s = 2 (a large share of strong users).

The paper's text compares low and high computational heterogeneity
:math:`\eta_{comp}` and low and high communications heterogeneity
:math:`\eta_{comm}` in each panel without giving the values; we take
:data:`ETA_COMP` = (0.2, 0.8) and :data:`ETA_COMM` = (0.2, 0.8). The D2D
problem does not depend on :math:`\eta_{comm}` (the server uplinks), so a
task solves it once per seed and the server problem for both
:math:`\eta_{comm}`. Gains are as in :mod:`.xr_heterogeneity` (:mod:`._xr`)
(``optimal`` and ``relaxed``; the same seed gives both strategies the same
users, positions and points), mean and one sample standard deviation over
:data:`DEFAULT_SEEDS` experiments per point (``--quick``: :data:`QUICK_SEEDS`
on a coarse N grid).

Files written to ``out_dir``
----------------------------
``xr-users.png``
    2 x 2 panels: rows s = 0.5 and s = 2, columns :math:`\eta_{comp}` = 0.2 and
    0.8; in each, the server strategy for both :math:`\eta_{comm}` and D2D,
    ``optimal``, mean ± 1 s.d.
``xr-users.csv``
    One row per (panel, eta_comp, eta_comm, N, strategy, scheme); columns
    :data:`~._xr_tables.SUMMARY_COLUMNS` (``panel`` is ``s=0.5`` or ``s=2``).
``xr-users-compare.csv``
    The paired comparison of the strategies; columns
    :data:`~._xr_tables.COMPARE_COLUMNS`.
``xr-users-seeds.csv``
    One row per (eta_comp, eta_comm, N, s, seed); columns
    :data:`~._xr_tables.SEED_COLUMNS`.
``xr-users-store.jsonl``
    The sweep's results store.
``xr-users-manifest.json``
    The run configuration and the SHA-256 of every file written (:mod:`._outputs`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._style import GRID, MUTED
from ._template import Config, Experiment, Figure, Sweep, Table
from ._xr import STRATEGY_STYLE, Key, make_tasks, solve_block
from ._xr_tables import (
    COMPARE_COLUMNS,
    SEED_COLUMNS,
    SUMMARY_COLUMNS,
    below_one,
    collect,
    compare_rows,
    main_scheme,
    paired,
    problem_notes,
    rounding_note,
    seed_rows,
    summary_rows,
)

__all__ = ["ETA_COMM", "ETA_COMP", "EXPERIMENT", "STEEPNESS", "USERS", "claims_fig3", "run"]

NAME = "xr-users"
#: Fig. 3's panels: heterogeneity steepness s of both C^(a) and C^(r).
STEEPNESS: tuple[float, ...] = (0.5, 2.0)
#: Low and high computational / communications heterogeneity (the paper gives no values).
ETA_COMP: tuple[float, ...] = (0.2, 0.8)
ETA_COMM: tuple[float, ...] = (0.2, 0.8)
USERS: tuple[int, ...] = (5, 10, 20, 30, 40, 50, 60, 80, 100)
USERS_QUICK: tuple[int, ...] = (5, 10, 20)
DEFAULT_SEEDS = 200
QUICK_SEEDS = 5
#: Seeds per task.
BLOCK = 25
#: D2D with whole points (``optimal``) on the first seeds of every point, the LP alone
#: (``relaxed``) on the rest (they differ by < 0.1 %; the rounding costs more than the LP).
D2D_WHOLE_POINTS = 25
#: Above this N the default number of seeds drops to :data:`LARGE_N_SEEDS`: one D2D LP
#: takes ~0.6 s at N = 60 and ~3.8 s at N = 100 (HiGHS), against ~15 ms at N = 20.
#: ``--quick``: whole-point D2D on the first seed only.
QUICK_D2D_WHOLE_POINTS = 1
LARGE_N = 50
LARGE_N_SEEDS = 50


def seeds_at(n: int, seeds: int, explicit: bool) -> int:
    """Seeds at N = ``n``: ``seeds``, capped at :data:`LARGE_N_SEEDS` above :data:`LARGE_N`
    unless the number of seeds was given explicitly."""
    return seeds if explicit or n <= LARGE_N else min(seeds, LARGE_N_SEEDS)


def _panel(s: float) -> str:
    return f"s={s:g}"


def _groups(quick: bool) -> tuple[list[tuple[dict[str, Any], list[float]]], list[tuple[str, Key]]]:
    users = USERS_QUICK if quick else USERS
    groups = [
        ({"eta_comp": eta_comp, "users": n, "s": s}, list(ETA_COMM))
        for s in STEEPNESS
        for eta_comp in ETA_COMP
        for n in users
    ]
    panels: list[tuple[str, Key]] = [
        (_panel(s), (eta_comp, eta_comm, n, s))
        for s in STEEPNESS
        for eta_comp in ETA_COMP
        for eta_comm in ETA_COMM
        for n in users
    ]
    return groups, panels


def _per_n(cfg: Config) -> dict[int, int]:
    """Seeds at each N of the grid."""
    groups, _ = _groups(cfg.quick)
    return {n: seeds_at(n, cfg.seeds, cfg.seeds_given) for n in {g[0]["users"] for g in groups}}


def _tasks(cfg: Config) -> list[dict[str, Any]]:
    groups, _ = _groups(cfg.quick)
    per_n = _per_n(cfg)
    whole = QUICK_D2D_WHOLE_POINTS if cfg.quick else D2D_WHOLE_POINTS
    tasks = make_tasks(NAME, [(pt, etas, per_n[pt["users"]]) for pt, etas in groups], BLOCK, whole)
    # The largest N first: the longest tasks start early, so the workers end together.
    tasks.sort(key=lambda t: -int(t["point"]["users"]))
    return tasks


def _analyse(
    cfg: Config, tasks: Sequence[Mapping[str, Any]], results: Sequence[Any]
) -> dict[str, Any]:
    """Per-seed gains by point (``data``), the three tables' rows, solver seconds."""
    _, panels = _groups(cfg.quick)
    data, seconds = collect(tasks, results)
    return {
        "data": data,
        "seconds": seconds,
        "tasks": len(tasks),
        "rows": summary_rows(data, panels),
        "compare": compare_rows(data, panels),
        "seed_rows": seed_rows(data),
    }


def _notes(cfg: Config, d: Mapping[str, Any], sweep: Sweep) -> list[str]:
    data, seconds, seeds = d["data"], d["seconds"], cfg.seeds
    whole = QUICK_D2D_WHOLE_POINTS if cfg.quick else D2D_WHOLE_POINTS
    return [
        f"{d['tasks']} tasks ({sweep.reused} loaded from the store): {seeds} experiments per "
        f"point; wall {sweep.seconds:.1f} s (solver CPU: server {seconds['server']:.1f} s, "
        f"D2D {seconds['d2d']:.1f} s, building instances {seconds['build']:.1f} s).",
        f"eta_comp in {ETA_COMP}, eta_comm in {ETA_COMM} (the paper gives no values); the "
        "same s for C^(a) and C^(r)."
        + (
            ""
            if cfg.seeds_given
            else f" Seeds per point: {seeds} for N <= {LARGE_N}, "
            f"{min(seeds, LARGE_N_SEEDS)} above (the D2D LP grows ~N^3; --seeds K sets K "
            "everywhere)."
        ),
        rounding_note(data, whole),
        *problem_notes(data),
        *(f"gain below 1 (a solver bug): {m}" for m in below_one(d["rows"])),
        *claims_fig3(d["compare"], d["rows"]),
    ]


def _summary(cfg: Config, d: Mapping[str, Any]) -> list[dict[str, Any]]:
    """For each panel and eta: where each strategy wins (by mean gain) along N."""
    comp = d["compare"]
    out = []
    for s in STEEPNESS:
        for eta_comp in ETA_COMP:
            for eta_comm in ETA_COMM:
                pts = sorted(
                    (
                        r
                        for r in paired(comp)
                        if r["panel"] == _panel(s)
                        and r["eta_comp"] == eta_comp
                        and r["eta_comm"] == eta_comm
                    ),
                    key=lambda r: r["users"],
                )
                if not pts:
                    continue
                out.append(
                    {
                        "s": s,
                        "eta_comp": eta_comp,
                        "eta_comm": eta_comm,
                        "server gain (N min..max)": f"{pts[0]['server_mean']:.3f} .. "
                        f"{pts[-1]['server_mean']:.3f}",
                        "D2D gain (N min..max)": f"{pts[0]['d2d_mean']:.3f} .. "
                        f"{pts[-1]['d2d_mean']:.3f}",
                        "server ahead at N": _ns(p["users"] for p in pts if p["diff_mean"] < 0),
                        "D2D ahead at N": _ns(p["users"] for p in pts if p["diff_mean"] > 0),
                    }
                )
    return out


def _ns(values: Any) -> str:
    vals = list(values)
    return ", ".join(str(v) for v in vals) if vals else "—"


def claims_fig3(comp: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The paper's claims on Fig. 3 (Section IV-B, caption, conclusion), each with what we find."""
    opt = paired(comp)
    if not opt:
        return []
    lo_comp, hi_comp = min(ETA_COMP), max(ETA_COMP)
    lo_comm, hi_comm = min(ETA_COMM), max(ETA_COMM)
    ns = sorted({r["users"] for r in opt})

    def ahead(strategy: str, s: float, eta_comp: float, eta_comm: float) -> list[int]:
        """The N at which ``strategy`` has the larger mean gain (``diff_mean`` = D2D - server)."""
        sign = 1.0 if strategy == "d2d" else -1.0
        return sorted(
            r["users"]
            for r in opt
            if r["panel"] == _panel(s)
            and r["eta_comp"] == eta_comp
            and r["eta_comm"] == eta_comm
            and sign * r["diff_mean"] > 0
        )

    notes = []
    # (a) s = 0.5
    lo_wins = {c: ahead("server", 0.5, c, lo_comm) for c in ETA_COMP}
    hi_wins = {c: ahead("server", 0.5, c, hi_comm) for c in ETA_COMP}
    only_low = not any(hi_wins.values())
    small_n = all(not w or max(w) < ns[-1] for w in lo_wins.values())
    some = any(lo_wins.values())
    verdict = (
        "Holds"
        if only_low and small_n and some
        else ("Partly holds" if only_low or small_n else "Does not hold")
    )
    notes.append(
        'Claim (Fig. 3(a), s = 0.5): "Strategy #1 outperforms Strategy #2 only for low '
        'communications heterogeneity and small N" (text: "in the case of large number of '
        "weaker users and low computational heterogeneity, offloading to the edge server "
        "outperforms D2D-based option only if user-server channel conditions vary "
        f'insignificantly (low eta_comm)"). {verdict}: the server is ahead on average at '
        + "; ".join(
            f"eta_comp={c:g}, eta_comm={lo_comm:g}: N in {_set(lo_wins[c])}, "
            f"eta_comm={hi_comm:g}: N in {_set(hi_wins[c])}"
            for c in ETA_COMP
        )
        + "."
    )

    # higher eta_comp: larger gains
    def mean_gain(strategy: str, s: float, eta_comp: float) -> float:
        vals = [
            r["mean"]
            for r in rows
            if r["strategy"] == strategy
            and r["scheme"] == main_scheme(rows, strategy)
            and r["panel"] == _panel(s)
            and r["eta_comp"] == eta_comp
            and math.isfinite(r["mean"])
        ]
        return float(np.mean(vals)) if vals else math.nan

    pairs = [
        (st, s, mean_gain(st, s, lo_comp), mean_gain(st, s, hi_comp))
        for st in ("server", "d2d")
        for s in STEEPNESS
    ]
    larger = all(hi > lo for _, _, lo, hi in pairs)
    notes.append(
        'Claim (Fig. 3(a)): "The observations are similar for the case of higher eta_comp '
        "with the key difference that offloading provides better processing time "
        f'reduction." {"Holds" if larger else "Does not hold"}: mean gain over N at '
        f"eta_comp = {lo_comp:g} -> {hi_comp:g}: "
        + "; ".join(f"{st} s={s:g}: {lo:.3f} -> {hi:.3f}" for st, s, lo, hi in pairs)
        + "."
    )
    # (b) s = 2, high eta_comp: D2D ahead
    d2d_hi = {c: ahead("d2d", 2.0, hi_comp, c) for c in ETA_COMM}
    d2d_lo = {c: ahead("d2d", 2.0, lo_comp, c) for c in ETA_COMM}
    most = all(len(v) >= len(ns) / 2 for v in d2d_hi.values())
    verdict_b = (
        "Holds"
        if most
        else ("Partly holds (for the larger N only)" if any(d2d_hi.values()) else "Does not hold")
    )
    notes.append(
        'Claim (Fig. 3(b), s = 2): "D2D-aided offloading outperforms offloading to the edge '
        "server if eta_comp is high and the proportion of computationally strong users is "
        f'large." {verdict_b}: at s = 2, D2D is ahead on average '
        f"at eta_comp={hi_comp:g} for N in "
        + "; ".join(f"{_set(v)} (eta_comm={c:g})" for c, v in d2d_hi.items())
        + f", and at eta_comp={lo_comp:g} for N in "
        + "; ".join(f"{_set(v)} (eta_comm={c:g})" for c, v in d2d_lo.items())
        + "."
    )
    return notes


def _set(values: Sequence[int]) -> str:
    return "{" + ", ".join(str(v) for v in values) + "}" if values else "{} (none)"


def _seeds_text(per_n: Mapping[int, int]) -> str:
    """``"200"``, or ``"200 (N <= 50) / 50 (N > 50)"`` when the count depends on N."""
    counts = sorted(set(per_n.values()), reverse=True)
    if len(counts) == 1:
        return str(counts[0])
    return " / ".join(
        f"{c} (N {'<=' if i == 0 else '>'} {LARGE_N})" for i, c in enumerate(counts[:2])
    )


def _plot(cfg: Config, d: Mapping[str, Any], path: Path) -> None:
    """Fig. 3: gain vs N per steepness and eta_comp, both strategies."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows, seeds = d["rows"], _seeds_text(_per_n(cfg))

    fig = Figure(figsize=(12.5, 9.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(STEEPNESS), len(ETA_COMP), sharex=True)
    comm_style = {min(ETA_COMM): ("-", "o", 1.0), max(ETA_COMM): (":", "^", 0.65)}
    for r_i, s in enumerate(STEEPNESS):
        for c_i, eta_comp in enumerate(ETA_COMP):
            ax = axes[r_i, c_i]
            panel = _panel(s)
            for k, eta_comm in enumerate(ETA_COMM):
                xs, m, sd = _series(rows, panel, "server", eta_comp, eta_comm)
                ls, marker, alpha = comm_style.get(eta_comm, ("-", "o", 1.0))
                ax.errorbar(
                    xs + (k - 1) * 0.6,
                    m,
                    yerr=sd,
                    color=STRATEGY_STYLE["server"]["color"],
                    linestyle=ls,
                    marker=marker,
                    markersize=5,
                    capsize=3,
                    alpha=alpha,
                    linewidth=1.8,
                    elinewidth=1.0,
                    label=f"{STRATEGY_STYLE['server']['label']}, $\\eta_{{comm}}$ = {eta_comm:g}"
                    + (f", drawn at $N {(k - 1) * 0.6:+g}$" if k != 1 else ""),
                )
            xs, m, sd = _series(rows, panel, "d2d", eta_comp, min(ETA_COMM))
            ax.errorbar(
                xs + 0.6,
                m,
                yerr=sd,
                color=STRATEGY_STYLE["d2d"]["color"],
                marker=STRATEGY_STYLE["d2d"]["marker"],
                markersize=5,
                capsize=3,
                linewidth=1.8,
                elinewidth=1.0,
                label=f"{STRATEGY_STYLE['d2d']['label']} (independent of $\\eta_{{comm}}$), "
                "drawn at $N + 0.6$",
            )
            ax.axhline(1.0, color=MUTED, linewidth=0.8)
            ax.set_title(
                f"({'ab'[r_i]}{c_i + 1}) $s$ = {s:g} "
                f"({'many weak' if s < 1 else 'many strong'} users), "
                f"$\\eta_{{comp}}$ = {eta_comp:g}",
                fontsize=11,
            )
            ax.grid(True, **GRID)
            ax.set_ylim(bottom=0.95)
            if r_i == len(STEEPNESS) - 1:
                ax.set_xlabel("number of users $N$")
            if c_i == 0:
                ax.set_ylabel(r"gain $\mathrm{max}_i\, T_i \,/\, T^*$")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=9)
    what = {"optimal": "whole points", "relaxed": "continuous optimum"}
    fig.suptitle(
        "XR offloading, Fig. 3: gain vs number of users $N$\n(mean ± 1 s.d. over "
        f"{seeds} experiments per point; server: {what[main_scheme(rows, 'server')]}, "
        f"D2D: {what[main_scheme(rows, 'd2d')]})",
        fontsize=12,
    )
    fig.savefig(path, dpi=110)


def _series(
    rows: Sequence[Mapping[str, Any]], panel: str, strategy: str, eta_comp: float, eta_comm: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pts = sorted(
        (float(r["users"]), r["mean"], r["std"])
        for r in rows
        if r["panel"] == panel
        and r["strategy"] == strategy
        and r["scheme"] == main_scheme(rows, strategy)
        and r["eta_comp"] == eta_comp
        and r["eta_comm"] == eta_comm
    )
    if not pts:
        e = np.zeros(0)
        return e, e, e
    a, m, s = (np.asarray(v, float) for v in zip(*pts, strict=True))
    return a, m, s


EXPERIMENT = Experiment(
    name=NAME,
    title="XR offloading, Fig. 3: gain of server vs D2D offloading vs number of users",
    description=(
        "Collaborative learning for XR (xr-offloading), Fig. 3: gain of both "
        "strategies vs N = 5..100 for steepness s = 0.5 and 2, eta_comp and eta_comm "
        "in {0.2, 0.8}, mean and s.d. over 200 paired experiments per point "
        "(50 above N = 50)."
    ),
    duration="about 17 min",
    quick_duration="4 s",
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
    figures=(Figure("", _plot),),
    summary=_summary,
    notes=_notes,
)
#: Run the reproduction into ``out_dir`` (:meth:`.Experiment.run`; files: the module docstring).
run = EXPERIMENT.run
