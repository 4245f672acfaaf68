r"""The learning-rate rule of the training reproductions, and the sensitivity to the rate.

The learning rate: one rule for every scheme
--------------------------------------------
A reproduction that trains does not fix one rate for all schemes: a rate
at the edge of stability for one allocation decides the gap. Each variant
(setting and scheme) gets its own rate by one rule (:class:`Tuning`,
:func:`tune_rates`, :func:`choose_rates`):

1. hold out a stratified :data:`HOLDOUT` share of the *training* set
   (:func:`._accuracy.tuning_split`, fixed seed; the test set is never looked at);
2. train the variant's allocation, compiled for the remaining training
   images (the workload scale recomputed for them, so one local iteration
   costs the devices what it costs in the paper and the allocation keeps its
   :math:`\tau`), at every rate of the grid (:data:`LR_GRID`), on
   :data:`TUNE_SEED_BASE` + 0, 1, ... (seeds no main run uses);
3. score each rate by the held-out accuracy averaged over the cycles
   ``select - window + 1 .. select`` (a fixed short budget) and over the
   tuning seeds; a run that diverged scores 0;
4. take the best score; a tie goes to the smaller rate.

The tuning runs continue to the plan's ``cycles``: their cycles to 90 % and
95 % held-out accuracy at every rate of the grid are the sensitivity table
``NAME-lr.csv`` (:func:`lr_rows`, columns :func:`lr_columns`) and figure
``NAME-lr.png`` (:func:`plot_lr`).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..result import Status
from ._accuracy import HOLDOUT, ok_runs, reach_stats, training_task
from ._template import Config, Sweep

__all__ = [
    "LR_GRID",
    "LR_THRESHOLDS",
    "TUNE_SEED_BASE",
    "Tuning",
    "choose_rates",
    "lr_columns",
    "lr_rows",
    "lr_text",
    "plot_lr",
    "rate_of",
    "tune_rates",
    "tune_tasks",
    "tuning_note",
]

#: The learning-rate grid of the rule (every variant gets its best rate of it).
LR_GRID: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)
#: Seeds of the tuning runs start here (the main runs use 0, 1, ...).
TUNE_SEED_BASE = 1000
#: Thresholds of the sensitivity table (held-out accuracy).
LR_THRESHOLDS: tuple[float, ...] = (0.90, 0.95)


@dataclasses.dataclass(frozen=True)
class Tuning:
    """The plan of the learning-rate rule (see the module docstring).

    Attributes
    ----------
    grid
        The rates tried.
    seeds
        Tuning seeds per variant and rate (:data:`TUNE_SEED_BASE` + 0, 1, ...).
    cycles
        Cycles of each tuning run (the horizon of the sensitivity table).
    select
        The short budget: the cycle at which the rule reads the held-out accuracy.
    window
        Cycles averaged up to ``select`` (noise).
    """

    grid: tuple[float, ...]
    seeds: int
    cycles: int
    select: int
    window: int

    def within(self, cycles: int) -> Tuning:
        """This plan with its horizon, budget and window capped at ``cycles``."""
        n = min(self.cycles, cycles)
        select = min(self.select, n)
        return dataclasses.replace(self, cycles=n, select=select, window=min(self.window, select))

    def describe(self) -> str:
        """The rule in words, for notes and tables."""
        first = self.select - self.window + 1
        cycles = f"cycle {self.select}" if first == self.select else f"cycles {first}-{self.select}"
        return (
            f"each variant's best rate of {{{', '.join(f'{r:g}' for r in self.grid)}}} by "
            f"accuracy on a held-out {HOLDOUT * 100:g} % of the training set, averaged over "
            f"{cycles} and {self.seeds} tuning seed(s) (ties: the smaller rate)"
        )


def tune_tasks(
    name: str,
    points: Sequence[Mapping[str, Any]],
    plan: Tuning,
    *,
    dataset: str,
    scale: str,
) -> list[dict[str, Any]]:
    """The tuning runs: every point (variant) x rate of the grid x tuning seed."""
    return [
        training_task(
            name,
            point,
            seed=TUNE_SEED_BASE + s,
            cycles=plan.cycles,
            lr=lr,
            dataset=dataset,
            scale=scale,
            split="tune",
        )
        for point in points
        for lr in plan.grid
        for s in range(plan.seeds)
    ]


def _score(run: Mapping[str, Any], plan: Tuning) -> float | None:
    """Held-out accuracy over the rule's window; 0 if the run diverged; None without one."""
    if run.get("status") == Status.DIVERGED.value:
        return 0.0
    if run.get("accuracy") is None:
        return None
    acc = [v for v in run["accuracy"][plan.select - plan.window + 1 : plan.select + 1]]
    vals = [0.0 if v is None else float(v) for v in acc]
    return float(np.mean(vals)) if vals else None


def _by_rate(
    tasks: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> dict[tuple, dict[float, list[Mapping[str, Any]]]]:
    out: dict[tuple, dict[float, list[Mapping[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for task, res in zip(tasks, results, strict=True):
        out[tuple(task[k] for k in keys)][float(task["lr"])].append(res)
    return out


def choose_rates(
    tasks: Sequence[Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    plan: Tuning,
) -> dict[tuple, dict[str, Any]]:
    """The rule: per variant (``keys`` values), ``{"lr": best or None, "scores": {lr: score}}``.

    ``None`` when no run of the variant trained (no allocation).
    """
    chosen: dict[tuple, dict[str, Any]] = {}
    for key, per in _by_rate(tasks, results, keys).items():
        scores: dict[float, float] = {}
        for lr in plan.grid:
            got = [v for v in (_score(r, plan) for r in per.get(lr, [])) if v is not None]
            if got:
                scores[lr] = float(np.mean(got))
        best = max(scores, key=lambda r: (round(scores[r], 12), -r)) if scores else None
        chosen[key] = {"lr": best, "scores": scores}
    return chosen


def tune_rates(
    cfg: Config,
    sweep: Callable[..., Sweep],
    name: str,
    points: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    plan: Tuning,
) -> dict[str, Any]:
    """A ``tune`` hook's body: run the tuning sweep and apply the rule.

    Returns ``cfg.tuned``: ``plan``, the tuning ``tasks`` and ``results``, the
    ``sweep``, ``chosen`` (:func:`choose_rates`) and ``keys``.
    """
    o = cfg.options
    tasks = tune_tasks(name, points, plan, dataset=o["dataset"], scale=o["scale"])
    done = sweep(tasks, "lr tuning")
    return {
        "plan": plan,
        "tasks": tasks,
        "results": done.results,
        "sweep": done,
        "chosen": choose_rates(tasks, done.results, keys, plan),
        "keys": tuple(keys),
    }


def rate_of(cfg: Config, key: tuple) -> float:
    """The rate the main runs of variant ``key`` use: ``lr`` if given, else the rule's."""
    if cfg.options.get("lr") is not None:
        return float(cfg.options["lr"])
    plan = cfg.tuned["plan"]
    best = cfg.tuned["chosen"].get(key, {}).get("lr")
    return float(best) if best is not None else float(plan.grid[-1])


def _pct(thr: float) -> str:
    return f"{round(thr * 100):d}"


def lr_columns(keys: Sequence[str], ref: str) -> tuple[str, ...]:
    """Columns of the sensitivity table ``NAME-lr.csv``; ``ref`` names the reductions' reference."""
    per = []
    for thr in LR_THRESHOLDS:
        p = _pct(thr)
        per += [f"reached_{p}", f"cycles_{p}_mean", f"cycles_{p}_std", f"reduction_{p}_vs_{ref}"]
    return (
        *keys,
        "lr",
        "chosen",
        "used",
        "seeds",
        "trained",
        "diverged_runs",
        "select_accuracy",
        "final_accuracy",
        *per,
    )


def lr_rows(
    cfg: Config,
    ref_of: Callable[[tuple], tuple],
    ref: str,
) -> list[dict[str, Any]]:
    """The sensitivity table: per variant and rate, the tuning runs' reach of each threshold.

    ``ref_of(key)`` is the key of the variant the reductions compare with (in
    the same setting, at the same rate); ``ref`` its name in the columns.
    """
    tuned = cfg.tuned
    plan, keys, chosen = tuned["plan"], tuned["keys"], tuned["chosen"]
    per = _by_rate(tuned["tasks"], tuned["results"], keys)
    reach = {
        (key, lr, thr): reach_stats(runs, thr)
        for key, rates in per.items()
        for lr, runs in rates.items()
        for thr in LR_THRESHOLDS
    }
    rows = []
    for key, rates in per.items():
        used = rate_of(cfg, key)
        for lr in plan.grid:
            runs = rates.get(lr, [])
            good = ok_runs(runs)
            score = chosen.get(key, {}).get("scores", {}).get(lr, math.nan)
            row: dict[str, Any] = dict(zip(keys, key, strict=True))
            row.update(
                lr=lr,
                chosen=int(chosen.get(key, {}).get("lr") == lr),
                used=int(used == lr and bool(good)),
                seeds=len(runs),
                trained=len(good),
                diverged_runs=sum(r.get("status") == Status.DIVERGED.value for r in runs),
                select_accuracy=score,
                final_accuracy=float(np.mean([r["accuracy"][-1] for r in good]))
                if good
                else math.nan,
            )
            for thr in LR_THRESHOLDS:
                p, mine = _pct(thr), reach[(key, lr, thr)]
                other = reach.get((ref_of(key), lr, thr))
                row[f"reached_{p}"] = mine["reached"]
                row[f"cycles_{p}_mean"] = mine["cycles_mean"]
                row[f"cycles_{p}_std"] = mine["cycles_std"]
                full = mine["seeds"] > 0 and mine["reached"] == mine["seeds"]
                ref_full = other is not None and other["seeds"] > 0
                ref_full = ref_full and other["reached"] == other["seeds"]
                row[f"reduction_{p}_vs_{ref}"] = (
                    1.0 - mine["cycles_mean"] / other["cycles_mean"]
                    if full and ref_full and other["cycles_mean"] > 0
                    else math.nan
                )
            rows.append(row)
    return rows


def lr_text(
    rows: Sequence[Mapping[str, Any]],
    thr: float,
    ref: str,
    ref_rows: Sequence[Mapping[str, Any]] = (),
) -> str:
    """``"0.1 -48 %, 0.2 equal n.r. (0/2), ..."``: a variant's reduction vs ``ref`` by rate.

    ``rows`` are the variant's sensitivity rows (:func:`lr_rows`), ``ref_rows`` the
    reference's (to say which of the two missed the threshold).
    """
    p = _pct(thr)
    ref_by = {r["lr"]: r for r in ref_rows}

    def missed(r: Mapping[str, Any]) -> bool:
        return bool(r["trained"]) and r[f"reached_{p}"] < r["trained"]

    parts = []
    for r in rows:
        red, other = r[f"reduction_{p}_vs_{ref}"], ref_by.get(r["lr"])
        if math.isfinite(red):
            parts.append(f"{r['lr']:g} {-red * 100:+.0f} %")
        elif missed(r):
            parts.append(f"{r['lr']:g} n.r. ({r[f'reached_{p}']}/{r['trained']})")
        elif other is not None and missed(other):
            reach = f"{other[f'reached_{p}']}/{other['trained']}"
            parts.append(f"{r['lr']:g} {ref} n.r. ({reach})")
        else:
            parts.append(f"{r['lr']:g} —")
    return ", ".join(parts)


def tuning_note(cfg: Config) -> str:
    """The note stating the rule and what it chose."""
    tuned, o = cfg.tuned, cfg.options
    sweep = tuned["sweep"]
    text = (
        f"Learning rate: {tuned['plan'].describe()}; {sweep.instances} tuning runs of "
        f"{tuned['plan'].cycles} cycles ({sweep.reused} loaded from the store)."
    )
    if o.get("lr") is not None:
        text += f" Overridden: every main run uses lr = {o['lr']:g}."
    return text


def plot_lr(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    panels: Sequence[tuple[str, Callable[[Mapping[str, Any]], bool]]],
    series: Sequence[tuple[str, Callable[[Mapping[str, Any]], bool], Mapping[str, Any]]],
    *,
    title: str,
    ncols: int,
    horizon: int,
    unit: str = "cycles",
) -> None:
    """The sensitivity figure: cycles to each :data:`LR_THRESHOLDS` vs the rate, per panel.

    ``panels``: ``(title, row filter)``; ``series``: ``(label, row filter, style)``
    with ``style`` keys ``color`` and ``marker``. 90 % solid, 95 % dotted; a
    rate at which not every tuning seed reached the threshold within the
    ``horizon`` (the tuning runs' cycles) is a hollow marker above the dashed
    line at the horizon; the rate the main runs use is ringed. The series are
    offset sideways a little so that equal values stay visible (the legend
    says so).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from .._style import GRID, MUTED

    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(4.4 * ncols + 3.4, 3.4 * nrows + 1.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    n_series = max(len(series), 1)
    step = 0.07
    levels = {LR_THRESHOLDS[0]: 1.09, LR_THRESHOLDS[1]: 1.04}
    for ax, (ptitle, in_panel) in zip(axes, panels, strict=False):
        here = [r for r in rows if in_panel(r)]
        grid = sorted({r["lr"] for r in here})
        xs = {lr: i for i, lr in enumerate(grid)}
        for j, (_label, in_series, st) in enumerate(series):
            mine = sorted((r for r in here if in_series(r)), key=lambda r: r["lr"])
            if not mine:
                continue
            dx = step * (j - (n_series - 1) / 2)
            x = np.array([xs[r["lr"]] + dx for r in mine], float)
            trained = np.array([r["trained"] > 0 for r in mine])
            for thr, ls in zip(LR_THRESHOLDS, ("-", ":"), strict=False):
                p = _pct(thr)
                y = np.array([r[f"cycles_{p}_mean"] for r in mine], float)
                full = trained & np.array([r[f"reached_{p}"] == r["trained"] for r in mine])
                ax.plot(
                    x,
                    np.where(full, y, np.nan),
                    color=st["color"],
                    ls=ls,
                    marker=st["marker"],
                    ms=5,
                    lw=1.5,
                )
                miss = trained & ~full
                if miss.any():
                    ax.plot(
                        x[miss],
                        np.full(int(miss.sum()), horizon * levels[thr]),
                        ls="none",
                        marker=st["marker"],
                        ms=6,
                        mfc="none",
                        color=st["color"],
                    )
            for r, xr in zip(mine, x, strict=True):
                if not r["used"]:
                    continue
                p = _pct(LR_THRESHOLDS[0])
                full = r[f"reached_{p}"] == r["trained"] > 0
                y = r[f"cycles_{p}_mean"] if full else horizon * levels[LR_THRESHOLDS[0]]
                ax.plot([xr], [y], ls="none", marker="o", ms=13, mfc="none", mec=st["color"])
        ax.axhline(horizon, color=MUTED, lw=0.7, ls="--")
        ax.set_xticks(range(len(grid)), [f"{lr:g}" for lr in grid])
        ax.set_xlim(-0.5, max(len(grid) - 0.5, 0.5))
        ax.set_ylim(0, horizon * 1.14)
        ax.set_title(ptitle, fontsize=9.5)
        ax.set_xlabel(r"learning rate $\eta$")
        ax.grid(True, **GRID)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    for ax in axes[::ncols]:
        ax.set_ylabel(f"{unit} to reach (held-out split)")
    handles = [
        Line2D([], [], color=st["color"], marker=st["marker"], ls="-", label=label)
        for label, _, st in series
    ]
    handles += [
        Line2D([], [], color="black", ls="-", label=f"to {LR_THRESHOLDS[0]:.0%}"),
        Line2D([], [], color="black", ls=":", label=f"to {LR_THRESHOLDS[1]:.0%}"),
        Line2D(
            [],
            [],
            color="black",
            ls="none",
            marker="o",
            mfc="none",
            label=f"not reached by every tuning seed\nwithin {horizon} {unit} (dashed line)",
        ),
        Line2D([], [], color="black", ls="none", marker="o", ms=13, mfc="none", label="rate used"),
        Line2D(
            [],
            [],
            color="none",
            label=f"series offset sideways by\nup to ±{step * (n_series - 1) / 2:.2g} "
            "for legibility",
        ),
    ]
    fig.legend(handles=handles, loc="outside right center", fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=100)
