"""Shared pieces of the ``flmar`` reproductions (the FL-MAR paper, Sec. VII).

X. Zhou, C. Liu, J. Zhao, *Resource Allocation of Federated Learning for the
Metaverse with Mobile Augmented Reality* (IEEE TWC 2023;
Zhou, Liu & Zhao, IEEE TWC 2023, formulas in ``docs/flmar.md``). Every
reproduction of its Sec. VII is a sweep over one parameter of the preset
``mar-paper`` (FLMAR.md section 6): at each point of the grid, ``drops``
random placements of the 50 devices (the preset's ``seed``; the random
baselines draw with ``baseline.seed`` = the same seed), each solved by every
scheme the figure compares, always ``optimal`` (certified) beside ``paper``
(Algorithm 2).

:func:`solve_task` records per drop and scheme the status and, when there is
a plan, its objective (12), energy (9) with its transmission part, completion
time (11), mean accuracy, the share of devices at each resolution option and,
for ``optimal``, the certified gap. :func:`aggregate` averages each scheme
of a point over its drops *paired* with ``optimal`` (those on which both have
a plan: where every scheme always has one, all curves of a point average the
same instances) and adds the median relative excess of the scheme's objective
over ``optimal``'s on them.
:func:`sweep_experiment` declares a whole reproduction on the template;
:func:`pair_points`, :func:`pair_summary` and :func:`plot_energy_time` are
the sweep, table and figure of Figs. 4-5 (one parameter against the
:data:`PAIRS` of weights, ours against MinPixel).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._style import GRID, SCHEME_STYLE, scheme_style
from .._version import __version__
from ..api import load_problem, solve
from ..errors import EdgeallocError
from ..result import Status
from ._template import Config, Experiment, Figure, Sweep, Table

__all__ = [
    "METRICS",
    "PAIRS",
    "PAIR_SCHEMES",
    "PRESET",
    "ROW_COLUMNS",
    "SEED_COLUMNS",
    "aggregate",
    "by_point",
    "pair_points",
    "pair_summary",
    "plot_energy_time",
    "reduction",
    "solve_each",
    "solve_task",
    "sweep_experiment",
]

PRESET = "mar-paper"
#: Devices of a ``--quick`` drop (the paper's N = 50 in full runs).
QUICK_DEVICES = 8
#: The metrics recorded per drop and scheme.
METRICS: tuple[str, ...] = ("objective", "energy", "energy_transmission", "time", "mean_accuracy")
#: Up to four resolution options are tabulated (the preset's K = 4).
SHARES: tuple[str, ...] = ("share_s1", "share_s2", "share_s3", "share_s4")
SEED_COLUMNS: tuple[str, ...] = ("scheme", "seed", "status", *METRICS, *SHARES, "gap")
ROW_COLUMNS: tuple[str, ...] = (
    "scheme",
    "drops",
    "ok",
    "infeasible",
    "failed",
    "paired",
    *METRICS,
    *SHARES,
    "excess_median_pct",
    "max_gap",
    "open",
)
_OK = frozenset({Status.OPTIMAL.value, Status.FEASIBLE.value})
#: The weight pairs (w1, w2) of Figs. 4-5: "low battery", "normal", "time sensitive".
PAIRS: tuple[tuple[float, float], ...] = ((0.9, 0.1), (0.5, 0.5), (0.1, 0.9))
#: The schemes of Figs. 4-5: ours beside MinPixel.
PAIR_SCHEMES = ["optimal", "paper", "minpixel"]


def solve_each(
    problem: Any,
    schemes: Sequence[str],
    describe: Callable[[Any, np.ndarray, np.ndarray], dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Each scheme's record on ``problem``: its status, and where it has a plan
    ``describe(result, options, shares)`` (each device's option index, the share of
    devices at each option); an error is a record with its message."""
    out: dict[str, dict[str, Any]] = {}
    for scheme in schemes:
        try:
            res = solve(problem, scheme, raise_infeasible=False)
        except EdgeallocError as exc:
            out[scheme] = {"status": Status.ERROR.value, "message": str(exc)}
            continue
        rec: dict[str, Any] = {"status": res.status.value}
        if res.success and math.isfinite(res.objective):
            options = problem.option_index(res.allocation.resolution)
            shares = np.bincount(options, minlength=problem.n_options) / problem.n_devices
            rec.update(describe(res, options, shares))
        out[scheme] = rec
    return out


def _drop_record(res: Any, options: np.ndarray, shares: np.ndarray) -> dict[str, Any]:
    a = res.allocation
    rec: dict[str, Any] = {
        "objective": float(res.objective),
        "energy": float(a.energy),
        "energy_transmission": float(a.energy_transmission),
        "time": float(a.time),
        "mean_accuracy": float(a.mean_accuracy),
        "gap": float(res.objective - res.bound) if math.isfinite(res.bound) else None,
    }
    for i, name in enumerate(SHARES):
        rec[name] = float(shares[i]) if i < shares.size else None
    return rec


def solve_task(task: dict[str, Any]) -> dict[str, Any]:
    """Compile one drop of ``mar-paper`` (``task["overrides"]``, ``seed``) and solve each scheme."""
    overrides = {**task["overrides"], "seed": task["seed"], "baseline_seed": task["seed"]}
    problem = load_problem(PRESET, overrides=overrides)
    return solve_each(problem, task["schemes"], _drop_record)


def tasks_of(
    name: str, cfg: Config, points: Sequence[tuple[dict[str, Any], dict[str, Any], list[str]]]
) -> list[dict[str, Any]]:
    """Task dicts: one per point ``(columns, overrides, schemes)`` and drop."""
    extra = {"devices": QUICK_DEVICES} if cfg.quick else {}
    return [
        {
            "experiment": name,
            "version": __version__,
            "point": cols,
            "overrides": {**over, **extra},
            "schemes": schemes,
            "seed": seed,
        }
        for cols, over, schemes in points
        for seed in range(cfg.seeds)
    ]


def records_of(tasks: Sequence[Mapping[str, Any]], results: Sequence[Any]) -> list[dict[str, Any]]:
    """One flat record per drop and scheme (point columns first)."""
    out = []
    for task, res in zip(tasks, results, strict=True):
        for scheme, rec in res.items():
            row = {**task["point"], "scheme": scheme, "seed": task["seed"]}
            row["status"] = rec["status"]
            for key in (*METRICS, *SHARES, "gap"):
                row[key] = rec.get(key)
            out.append(row)
    return out


def aggregate(records: Sequence[Mapping[str, Any]], group: Sequence[str]) -> list[dict[str, Any]]:
    """One row per point and scheme: counts, means over the drops paired with optimal, excess."""
    points: dict[tuple, dict[str, dict[int, Mapping[str, Any]]]] = defaultdict(dict)
    for rec in records:
        key = tuple(rec[g] for g in group)
        points[key].setdefault(rec["scheme"], {})[rec["seed"]] = rec
    rows = []
    for key, schemes in points.items():
        opt = schemes.get("optimal", {})
        for scheme, recs in schemes.items():
            statuses = [r["status"] for r in recs.values()]
            # Paired with optimal: the drops on which both have a plan.
            paired = sorted(
                s
                for s, r in recs.items()
                if r["status"] in _OK and s in opt and opt[s]["status"] in _OK
            )
            row: dict[str, Any] = dict(zip(group, key, strict=True))
            row.update(
                scheme=scheme,
                drops=len(statuses),
                ok=sum(s in _OK for s in statuses),
                infeasible=statuses.count(Status.INFEASIBLE.value),
                failed=sum(s in (Status.FAILED.value, Status.ERROR.value) for s in statuses),
                paired=len(paired),
            )
            for m in (*METRICS, *SHARES):
                vals = [recs[s][m] for s in paired if recs[s][m] is not None]
                row[m] = float(np.mean(vals)) if vals and len(vals) == len(paired) else math.nan
            excess = [
                100.0 * (recs[s]["objective"] - opt[s]["objective"]) / abs(opt[s]["objective"])
                for s in paired
                if opt[s]["objective"] != 0
            ]
            row["excess_median_pct"] = float(np.median(excess)) if excess else math.nan
            # the largest gap among the certified drops (status optimal): an open gap is
            # counted in ``open``, not reported as a certified one
            gaps = [
                recs[s]["gap"]
                for s in paired
                if recs[s]["gap"] is not None and recs[s]["status"] == Status.OPTIMAL.value
            ]
            row["max_gap"] = float(max(gaps)) if gaps else math.nan
            row["open"] = (
                sum(recs[s]["status"] == Status.FEASIBLE.value for s in paired)
                if scheme == "optimal"
                else 0
            )
            rows.append(row)
    return rows


def by_point(rows: Sequence[Mapping[str, Any]], group: Sequence[str]) -> dict[tuple, Any]:
    """``(*group values, scheme) -> row``."""
    return {(*(r[g] for g in group), r["scheme"]): r for r in rows}


def reduction(ours: float, theirs: float) -> float:
    """``100 (1 - ours/theirs)``: how much lower ``ours`` is, in percent (NaN if unknown)."""
    if not (math.isfinite(ours) and math.isfinite(theirs)) or theirs == 0:
        return math.nan
    return 100.0 * (1.0 - ours / theirs)


def pct(x: float) -> str:
    """``"-85.2 %"`` style text (``—`` when unknown)."""
    return "—" if not math.isfinite(x) else f"{x:.1f} %"


def certified_note(rows: Sequence[Mapping[str, Any]]) -> str:
    """How many ``optimal`` drops were certified, and the worst gap."""
    opt = [r for r in rows if r["scheme"] == "optimal"]
    ok = sum(r["ok"] for r in opt)
    gaps = [r["max_gap"] for r in opt if math.isfinite(r["max_gap"])]
    worst = f"{max(gaps):.2g}" if gaps else "—"
    return f"optimal found a plan on {ok} drop(s); the largest certified gap is {worst}."


def status_note(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Counts of non-optimal ``optimal`` results and of errors (a note each, if any)."""
    out = []
    open_ = sum(r["scheme"] == "optimal" and r["status"] == Status.FEASIBLE.value for r in records)
    if open_:
        out.append(f"{open_} optimal solve(s) ended with the gap open (status feasible).")
    errors = sum(r["status"] == Status.ERROR.value for r in records)
    if errors:
        out.append(f"{errors} solve(s) raised an unexpected error (counted as failed).")
    return out


def plot_lines(
    cfg: Config,
    data: Mapping[str, Any],
    path: Path,
    *,
    x: str,
    xlabel: str,
    series: str | None,
    metrics: Sequence[tuple[str, str]],
    title: str,
    logy: bool = False,
    extra: Callable[[Any, Mapping[str, Any]], None] | None = None,
) -> None:
    """One panel per metric against ``x``: a line per scheme (and per ``series`` value)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    rows = data["rows"]
    schemes = list(dict.fromkeys(r["scheme"] for r in rows))
    values = sorted({r[series] for r in rows}) if series else [None]
    styles = ("-", "--", ":", "-.")
    panels = len(metrics) + (1 if extra else 0)
    fig = MplFigure(figsize=(5.2 * panels, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(1, panels))
    # Schemes the palette does not know take fallback colours after optimal/paper/equal's.
    unknown = [s for s in schemes if s not in SCHEME_STYLE]
    style = {s: scheme_style(s, 3 + unknown.index(s) if s in unknown else 0) for s in schemes}
    for ax, (metric, label) in zip(axes, metrics, strict=False):
        for scheme in schemes:
            st = style[scheme]
            for j, v in enumerate(values):
                pts = sorted(
                    (r[x], r[metric])
                    for r in rows
                    if r["scheme"] == scheme and (series is None or r[series] == v)
                )
                if not pts:
                    continue
                xs, ys = (np.asarray(a, float) for a in zip(*pts, strict=True))
                name = st.get("label", scheme) if series is None else f"{scheme}, {series}={v}"
                ax.plot(
                    xs,
                    ys,
                    marker=st["marker"],
                    markersize=4,
                    color=st["color"],
                    linestyle=styles[j % len(styles)],
                    label=name,
                )
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        if logy:
            ax.set_yscale("log")
        ax.grid(True, **GRID)
    if extra:
        extra(axes[-1], data)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{title} (mean over {cfg.seeds} drop(s) per point)", fontsize=11)
    fig.savefig(path, dpi=110)


def pair_points(
    cfg: Config, column: str, grid: Sequence[float], overrides: Callable[[float], dict[str, Any]]
) -> list[tuple[dict[str, Any], dict[str, Any], list[str]]]:
    """The points of Figs. 4-5: each of :data:`PAIRS` (two with ``--quick``) at each of ``grid``.

    ``column``: the swept value's column; ``overrides(value)``: the preset's
    overrides for it, after the weights.
    """
    pairs = PAIRS[:2] if cfg.quick else PAIRS
    return [
        ({"w1": w1, "w2": w2, column: v}, {"w1": w1, "w2": w2, **overrides(v)}, PAIR_SCHEMES)
        for w1, w2 in pairs
        for v in grid
    ]


def pair_summary(
    rows: Sequence[Mapping[str, Any]], column: str, label: str, *, ends: bool, versus: bool
) -> list[dict[str, Any]]:
    """The table of Figs. 4-5: energy and time of each scheme per weight pair and ``column``.

    ``ends``: only the first and last value of ``column``; ``versus``: also
    how much above MinPixel ``paper``'s energy and time are, in percent.
    """
    idx = by_point(rows, ("w1", "w2", column))
    grid = sorted({r[column] for r in rows})
    pairs = sorted({(r["w1"], r["w2"]) for r in rows}, reverse=True)
    out = []
    for w1, w2 in pairs:
        for v in (grid[0], grid[-1]) if ends else grid:
            opt, pap, mp = (idx.get((w1, w2, v, s)) for s in PAIR_SCHEMES)
            if not (opt and pap and mp):
                continue
            row: dict[str, Any] = {"(w1, w2)": f"({w1:g}, {w2:g})", label: v}
            for short, metric, unit in (("E", "energy", "J"), ("T", "time", "s")):
                row[f"{short} paper ({unit})"] = f"{pap[metric]:.3g}"
                row[f"{short} optimal ({unit})"] = f"{opt[metric]:.3g}"
                row[f"{short} MinPixel ({unit})"] = f"{mp[metric]:.3g}"
                if versus:
                    row[f"{short} vs MinPixel"] = pct(-reduction(pap[metric], mp[metric]))
            row["paper above optimal (median)"] = pct(pap["excess_median_pct"])
            out.append(row)
    return out


def plot_energy_time(
    cfg: Config, data: Mapping[str, Any], path: Path, *, x: str, xlabel: str, title: str
) -> None:
    """The figure of Figs. 4-5: energy and completion time (log) against ``x``, per ``w1``."""
    plot_lines(
        cfg,
        data,
        path,
        x=x,
        xlabel=xlabel,
        series="w1",
        metrics=(("energy", "energy $E$ (J)"), ("time", "completion time $T$ (s)")),
        title=title,
        logy=True,
    )


def sweep_experiment(
    *,
    name: str,
    title: str,
    description: str,
    group: tuple[str, ...],
    points: Callable[[Config], list[tuple[dict[str, Any], dict[str, Any], list[str]]]],
    draw: Callable[[Config, Mapping[str, Any], Path], None],
    summary: Callable[[Config, Mapping[str, Any]], list[dict[str, Any]]],
    notes: Callable[[Config, Mapping[str, Any]], list[str]],
    duration: str = "",
    quick_duration: str = "",
) -> Experiment:
    """An :class:`Experiment` sweeping ``points`` of ``mar-paper`` (100 drops per point).

    Files: ``NAME.png`` (``draw``), ``NAME.csv`` (one row per point and scheme,
    columns ``group`` + :data:`ROW_COLUMNS`), ``NAME-seeds.csv`` (one row per
    drop and scheme, ``group`` + :data:`SEED_COLUMNS`), the store and the manifest.
    """

    def _tasks(cfg: Config) -> list[dict[str, Any]]:
        return tasks_of(name, cfg, points(cfg))

    def _analyse(
        cfg: Config, tasks: Sequence[Mapping[str, Any]], results: Sequence[Any]
    ) -> dict[str, Any]:
        records = records_of(tasks, results)
        return {"records": records, "rows": aggregate(records, group)}

    def _notes(cfg: Config, data: Mapping[str, Any], sweep: Sweep) -> list[str]:
        head = (
            f"{sweep.instances} drop(s) ({cfg.seeds} per point"
            + (f", {QUICK_DEVICES} devices: quick" if cfg.quick else ", N = 50")
            + f"), {sweep.reused} loaded from the store, {sweep.seconds:.1f} s."
        )
        return [
            head,
            certified_note(data["rows"]),
            *notes(cfg, data),
            *status_note(data["records"]),
        ]

    return Experiment(
        name=name,
        title=title,
        description=description,
        duration=duration,
        quick_duration=quick_duration,
        default_seeds=100,
        quick_seeds=2,
        tasks=_tasks,
        worker=solve_task,
        analyse=_analyse,
        tables=(
            Table("", (*group, *ROW_COLUMNS), "rows"),
            Table("-seeds", (*group, *SEED_COLUMNS), "records"),
        ),
        figures=(Figure("", draw),),
        summary=summary,
        notes=_notes,
    )
