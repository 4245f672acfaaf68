"""``mel-accuracy``: test accuracy after each global cycle, Fig. 2 of the sync MEL paper.

Mohammad & Sorour, *Adaptive Task Allocation for Mobile Edge Learning*
(Mohammad & Sorour, IEEE WCNCW 2019), Section V-C, Fig. 2: the
learning accuracy after each global update cycle for the optimised
allocation and equal task allocation (ETA), at K = 20 learners with
T = 12 s per cycle and at K = 10 with T = 30 s. The paper's text reports
(MNIST, 784-300-124-60-10 network):

* K = 20, T = 12 s: 96.67 % is reached after 4 cycles with the adaptive
  scheme and after 7 with ETA ("a reduction of about 43 % (i.e., 48 s)");
  97 % is reached by the adaptive scheme only.
* K = 10, T = 30 s: 97 % after 5 cycles against 9 ("a reduction in time of
  2 minutes or about 56 %").

Here the allocations of the schemes ``optimal`` (the exact integer optimum),
``paper`` (Theorem 1 rounded: the paper's own adaptive scheme) and
``equal`` (ETA) are trained for real with
:func:`edgealloc.learn.run.train` (parallel learning: every cycle the
orchestrator ships each learner a fresh random batch of :math:`d_k` samples;
every learner runs :math:`\\tau` full-batch gradient steps; the orchestrator
averages the models weighted by :math:`d_k`), on scikit-learn's handwritten
digits (offline; 1,438 training and 359 test images of 8 x 8 pixels), with
the MEL network's hidden layers and an input of 64: 64-300-124-60-10.

The workload and the problem
----------------------------
The allocation is solved for the network that trains:
:func:`edgealloc.learn.run.scenario_for_model` sets the scenario's layers
and features from the model and :math:`d` = the training set (the paper
also ships its whole training set each cycle). One further reading is
needed, the *workload scale* (:func:`workload_scale`). The digits task is
about 180 times lighter per local iteration than the paper's (1,438 samples
x 259,736 FLOPs against 60,000 x 1,123,736), so on the paper's devices a
12 s cycle would hold hundreds of full-batch iterations (:math:`\\tau` =
988 optimal / 448 equal at K = 20, T = 12 s), a different regime from the
paper's handful, and training them would cost what the simulated devices
compute: :math:`T \\sum_k f_k` FLOPs, some 0.4-0.6 TFLOP per cycle, far
beyond a 10-minute budget on two cores. We therefore set the scenario's
``workload.cycles_per_flop`` to the ratio of the two workloads, so one local
iteration over the training set takes the devices as long as it does in the
paper. The compute side of the problem is then the paper's exactly; the
communication side is the digits model's and data (lighter than MNIST's).
With the literal preset ``mel-sync`` this gives the paper's literal
allocation, :math:`\\tau` = 5 / 2 (optimal / equal) at K = 20, T = 12 s and
6 / 3 at K = 10, T = 30 s; ``mel-sync-calibrated`` gives 4 / 1 and 6 / 2.
(With the MNIST network itself the calibrated reading is infeasible at
K = 20, T = 12 s: its 287 Mbit model exchange alone exceeds 12 s for some
learners.) Both presets are run. ``scale="none"`` drops the workload scale.

Each seed draws the learners' placement (the preset's ``seed``), the
initial model and the batches; the schemes of one seed share all three, so
the comparison is paired. Clock: each cycle lasts the slowest learner's
time (at most T); the paper's clock is T per cycle (``cycles x T``).

The learning rate
-----------------
No one rate is fixed for all schemes: at the old 0.5 every scheme dipped at
cycles 5-10 and ETA swung between 35 % and 60 % for some 30 cycles, so a
rate at the edge of stability decided the gap. Each (preset, K, T, scheme)
gets its own rate by one rule, the same for every scheme
(:mod:`._accuracy`, plan :data:`TUNING`): the best of
:data:`~._accuracy.LR_GRID` = 0.1, 0.2, 0.3, 0.5 by the accuracy on a
held-out 20 % of the *training* set (stratified; the test set is never
used), averaged over cycles 26-30 and over 2 tuning seeds (1000, 1001: no
main run's), after training the scheme's allocation on the other 80 % (the
allocation compiled for those 1,151 images; its :math:`\tau` is the main
one's in every setting); a tie goes to the smaller rate, a run that diverged
scores 0. The tuning runs go on for :data:`CYCLES` cycles: their cycles to
90 % and 95 % held-out accuracy at every rate are the sensitivity table
``mel-accuracy-lr.csv`` and figure ``mel-accuracy-lr.png``, and the notes
say at which rate the gap between optimal and ETA is smallest.

Options
-------
Besides ``seeds``, ``workers``, ``quick`` and ``progress``, :func:`run` takes
``cycles`` (global cycles per run, default :data:`CYCLES`; quick
:data:`CYCLES_QUICK`), ``lr`` (default ``None``: each variant's rate by the
rule; a number: that rate for every main run, the tuning runs still run for
the sensitivity table), ``presets`` (readings of
Table I to run, default both), ``schemes`` (among :data:`ALL_SCHEMES`, with
``equal``, the reference of the reductions; default :data:`SCHEMES`),
``dataset`` (``"digits"``, the default, or ``"mnist1d"``) and ``scale``
(``"paper"``, the default, or ``"none"``: the workload scale above).

Files written to ``out_dir``
----------------------------
``mel-accuracy.png``
    One row per preset; for each setting, accuracy against global cycles and
    against simulated seconds, mean and one standard deviation (shaded) over
    seeds per scheme, and the thresholds (dotted). ``paper`` is drawn thin
    with hollow markers over ``optimal`` (thick), which it often equals.
``mel-accuracy-lr.png``
    The sensitivity to the rate: cycles to 90 % and 95 % held-out accuracy
    per scheme and rate of the grid, one panel per (preset, K, T).
``mel-accuracy-lr.csv``
    One row per (preset, K, T, scheme, rate): the tuning runs' score, the
    rule's choice, cycles to 90 % / 95 % and the reduction against ``equal``
    at that rate; columns :data:`LR_COLUMNS`.
``mel-accuracy.csv``
    Curves, one row per (preset, K, T, scheme, cycle); columns
    :data:`CURVE_COLUMNS`.
``mel-accuracy-thresholds.csv``
    Cycles and simulated seconds to reach each accuracy threshold, one row per
    (preset, K, T, threshold, scheme); columns :data:`THRESHOLD_COLUMNS`.
``mel-accuracy-seeds.csv``
    Raw, one row per (preset, K, T, scheme, seed, cycle); columns
    :data:`SEED_COLUMNS`.
``mel-accuracy-store.jsonl``
    The sweep's results store (one training run per line, tuning runs too).
``mel-accuracy-manifest.json``
    The run configuration and the SHA-256 of every file written (:mod:`._outputs`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._style import GRID, MUTED, scheme_style
from ..errors import ValidationError
from ._accuracy import (
    CURVE_STATS,
    CYCLE_VALUES,
    DATASET,
    OK_STATUSES,
    REACH_STATS,
    SCALES,
    band,
    compile_problem,
    curve_rows,
    cycles_to_reach,
    fmt_reach,
    group_runs,
    main_task,
    mean_tau,
    ok_runs,
    reach_stats,
    run_training_task,
    stats,
    training_note,
    training_options,
    workload_scale,
)
from ._lr import (
    LR_GRID,
    LR_THRESHOLDS,
    Tuning,
    lr_columns,
    lr_rows,
    lr_text,
    plot_lr,
    rate_of,
    tune_rates,
    tuning_note,
)
from ._template import Config, Experiment, Figure, Sweep, Table

__all__ = [
    "ALL_SCHEMES",
    "CURVE_COLUMNS",
    "CYCLES",
    "EXPERIMENT",
    "LR_COLUMNS",
    "PAPER_FIG2",
    "PRESETS",
    "SCALES",
    "SCHEMES",
    "SEED_COLUMNS",
    "SETTINGS",
    "THRESHOLDS",
    "THRESHOLD_COLUMNS",
    "TUNING",
    "compile_problem",
    "cycles_to_reach",
    "run",
    "train_task",
    "workload_scale",
]

NAME = "mel-accuracy"
PRESETS: tuple[str, ...] = ("mel-sync", "mel-sync-calibrated")
#: The two panels of Fig. 2: (K, T).
SETTINGS: tuple[tuple[int, float], ...] = ((20, 12.0), (10, 30.0))
#: Schemes trained: the exact optimum, the paper's own adaptive scheme (Theorem 1,
#: rounded: Fig. 2's "adaptive" curve) and equal task allocation (ETA).
SCHEMES: tuple[str, ...] = ("optimal", "paper", "equal")
#: Schemes that can be trained (``run(schemes=...)`` takes a subset with ``equal``).
ALL_SCHEMES: tuple[str, ...] = SCHEMES
#: Global cycles per run, and for ``quick``. Full-batch gradient descent on this
#: network sits near 10 % for the first few dozen steps (see docs/reproductions.md).
CYCLES = 100
CYCLES_QUICK = 3
#: The learning-rate rule (module docstring): the grid, 2 tuning seeds, tuning runs as long
#: as the main ones, the held-out accuracy averaged over cycles 26-30; quick: 2 rates, 1 seed.
TUNING = Tuning(grid=LR_GRID, seeds=2, cycles=CYCLES, select=30, window=5)
TUNING_QUICK = Tuning(grid=(0.2, 0.5), seeds=1, cycles=2, select=2, window=1)
#: Accuracy thresholds for "cycles to reach": 90 % and 95 % on the rising part of the
#: digits curves, and 97 %, the paper's own (MNIST) threshold, near their plateau.
THRESHOLDS: tuple[float, ...] = (0.90, 0.95, 0.97)
#: Cycle at which the summary quotes the accuracy.
REPORT_CYCLE = 20

#: The paper's reported numbers (Section V-C text), per (K, T): threshold ->
#: cycles needed by the optimised scheme and by ETA (``None``: not reached).
PAPER_FIG2: dict[tuple[int, float], dict[float, dict[str, int | None]]] = {
    (20, 12.0): {0.9667: {"optimal": 4, "equal": 7}, 0.97: {"optimal": None, "equal": None}},
    (10, 30.0): {0.97: {"optimal": 5, "equal": 9}},
}
#: The same, as text for tables.
PAPER_TEXT: dict[tuple[int, float], str] = {
    (20, 12.0): "96.67 %: 4 vs 7 cycles (-43 %); 97 %: optimised only",
    (10, 30.0): "97 %: 5 vs 9 cycles (-44 %; text: '2 minutes or about 56 %')",
}


#: Columns that identify a curve (a group of training runs over seeds).
_KEYS: tuple[str, ...] = ("preset", "K", "T", "scheme")
CURVE_COLUMNS: tuple[str, ...] = (*_KEYS, "lr", *CURVE_STATS)
THRESHOLD_COLUMNS: tuple[str, ...] = (
    "preset",
    "K",
    "T",
    "threshold",
    "scheme",
    "lr",
    *REACH_STATS,
    "reduction_vs_equal",
)
SEED_COLUMNS: tuple[str, ...] = (
    *_KEYS,
    "seed",
    "lr",
    "status",
    "tau_min",
    "tau_max",
    "cycle_time_s",
    *CYCLE_VALUES,
)
#: Columns of ``mel-accuracy-lr.csv`` (reductions against ``equal`` at the same rate).
LR_COLUMNS: tuple[str, ...] = lr_columns(_KEYS, "equal")


_SHORT = {"optimal": "opt", "paper": "paper", "equal": "eq"}
#: This figure's labels of the schemes (colours and markers: the package palette).
_LABEL = {
    "optimal": "optimal (exact integer), thick",
    "paper": "paper (Theorem 1 rounded: adaptive), thin over optimal",
    "equal": "equal (ETA)",
}
#: How each scheme's curve is drawn, so that none hides another: ``paper`` often equals
#: ``optimal`` exactly, so it is thin, dashed, hollow-marked and on top of the thick one.
_LINE: dict[str, dict[str, Any]] = {
    "optimal": {"lw": 3.2, "ls": "-", "zorder": 2},
    "paper": {"lw": 1.2, "ls": "--", "zorder": 4, "marker": "s", "mfc": "white", "ms": 4.5},
    "equal": {"lw": 2.0, "ls": (0, (5, 2)), "zorder": 3},
}


def train_task(task: dict[str, Any]) -> dict[str, Any]:
    """One (preset, K, T, scheme, seed) of ``mel-accuracy`` (the sweep's task function)."""
    return run_training_task(
        task, task["preset"], {"K": task["K"], "T": task["T"], "seed": task["seed"]}
    )


def _prepare(cfg: Config) -> dict[str, Any]:
    """The options completed and checked (PyTorch, cycles, lr, scale, dataset, presets, schemes)."""
    opts = training_options(cfg, CYCLES, CYCLES_QUICK)
    opts["presets"], opts["schemes"] = tuple(opts["presets"]), tuple(opts["schemes"])
    for field, known in (("presets", PRESETS), ("schemes", ALL_SCHEMES)):
        given = opts[field]
        if not given or any(v not in known for v in given) or len(set(given)) < len(given):
            raise ValidationError(
                field, f"must be distinct values among {', '.join(known)} (got {list(given)})"
            )
    if "equal" not in opts["schemes"]:
        raise ValidationError("schemes", "must include 'equal' (the reference of the reductions)")
    return opts


def _points(cfg: Config) -> list[dict[str, Any]]:
    """The variants: one per (preset, K, T, scheme)."""
    o = cfg.options
    return [
        {"preset": preset, "K": int(k), "T": float(t), "scheme": scheme}
        for preset in o["presets"]
        for k, t in SETTINGS
        for scheme in o["schemes"]
    ]


def _plan(cfg: Config) -> Tuning:
    return (TUNING_QUICK if cfg.quick else TUNING).within(cfg.options["cycles"])


def _tune(cfg: Config, sweep: Any) -> dict[str, Any]:
    """The learning-rate rule: tuning runs on the held-out split, each variant's best rate."""
    return tune_rates(cfg, sweep, NAME, _points(cfg), _KEYS, _plan(cfg))


def _tasks(cfg: Config) -> list[dict[str, Any]]:
    return [
        main_task(cfg, NAME, point, seed=seed, lr=rate_of(cfg, tuple(point[k] for k in _KEYS)))
        for point in _points(cfg)
        for seed in range(cfg.seeds)
    ]


def _rate(cfg: Config, preset: str, k: int, t: float, scheme: str) -> float:
    return rate_of(cfg, (preset, k, t, scheme))


def _analyse(
    cfg: Config, tasks: Sequence[Mapping[str, Any]], results: Sequence[Any]
) -> dict[str, Any]:
    """The runs by curve (``groups``), and the rows of the three tables."""
    groups, seed_rows = group_runs(tasks, results, _KEYS)
    curves = curve_rows(groups, _KEYS)
    for row in curves:
        row["lr"] = _rate(cfg, *(row[k] for k in _KEYS))
    thresholds = _threshold_rows(groups, cfg.options["presets"], cfg.options["schemes"])
    for row in thresholds:
        row["lr"] = _rate(cfg, *(row[k] for k in _KEYS))
    return {
        "groups": groups,
        "curves": curves,
        "thresholds": thresholds,
        "seed_rows": seed_rows,
        "lr_rows": lr_rows(cfg, lambda key: (*key[:3], "equal"), "equal"),
    }


def _notes(cfg: Config, data: Mapping[str, Any], sweep: Sweep) -> list[str]:
    o, groups = cfg.options, data["groups"]
    runs = f"{cfg.seeds} seed(s) x schemes x settings x presets, {o['cycles']} cycles each"
    notes = [
        training_note(groups, sweep, runs, o["lr"], o["dataset"]),
        "Workload: "
        + (
            "cycles_per_flop set so that one local iteration over the training set costs the "
            "devices what it costs in the paper (60,000 MNIST samples through 784-300-124-60-10); "
            "see the module docstring."
            if o["scale"] == "paper"
            else "the trained model at one CPU cycle per FLOP (no workload scale)."
        ),
        "Clock: each cycle lasts the slowest learner's time (at most T); "
        "deadline_time_s in the thresholds CSV uses the paper's T per cycle.",
        tuning_note(cfg)
        + " Chosen: "
        + "; ".join(
            f"{p} K={k} T={t:g}: "
            + ", ".join(f"{_SHORT[s]} {_rate(cfg, p, k, t, s):g}" for s in o["schemes"])
            for p in o["presets"]
            for k, t in SETTINGS
        )
        + ".",
        "Paper (MNIST): K = 20, T = 12 s: 96.67 % after 4 cycles (adaptive) vs 7 (ETA); "
        "K = 10, T = 30 s: 97 % after 5 vs 9. Our thresholds are on digits: compare the "
        "ordering and the reduction, not the accuracies.",
    ]
    notes += _gap_notes(cfg, data["lr_rows"])
    bad: dict[str, int] = defaultdict(int)
    for key, runs_ in groups.items():
        for r in runs_:
            if r.get("status") not in OK_STATUSES:
                bad[f"{key[0]} K={key[1]} T={key[2]:g} {key[3]}: {r.get('status')}"] += 1
    for what, n in sorted(bad.items()):
        notes.append(f"{n} run(s) without a record at {what}.")
    return notes


def _gap_notes(cfg: Config, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Where the gap optimal vs equal shrinks: the sensitivity table read per setting."""
    if "optimal" not in cfg.options["schemes"]:
        return []
    out = []
    for preset in cfg.options["presets"]:
        for k, t in SETTINGS:
            mine, ref = (
                [
                    r
                    for r in rows
                    if (r["preset"], r["K"], r["T"], r["scheme"]) == (preset, k, t, scheme)
                ]
                for scheme in ("optimal", "equal")
            )
            parts = []
            for thr in LR_THRESHOLDS:
                p = f"{round(thr * 100)}"
                red = {r["lr"]: r[f"reduction_{p}_vs_equal"] for r in mine}
                finite = {lr: v for lr, v in red.items() if math.isfinite(v)}
                where = (
                    f"the gap is smallest at lr {min(finite, key=finite.get):g}"
                    if finite
                    else "no rate where both reach it on every tuning seed"
                )
                parts.append(f"{thr:.0%}: {lr_text(mine, thr, 'equal', ref)} ({where})")
            out.append(
                f"Sensitivity, {preset} K={k} T={t:g} s: cycles to reach, optimal vs equal, "
                f"held-out split, by rate: " + "; ".join(parts) + "."
            )
    return out


def _threshold_rows(
    groups: Mapping[tuple, Sequence[Mapping[str, Any]]],
    presets: Sequence[str],
    schemes: Sequence[str],
) -> list[dict[str, Any]]:
    rows = []
    for preset in presets:
        for k, t in SETTINGS:
            for thr in THRESHOLDS:
                per = {s: reach_stats(groups.get((preset, k, t, s), []), thr) for s in schemes}
                ref = per["equal"]["cycles_mean"]
                for scheme in schemes:
                    row = {"preset": preset, "K": k, "T": t, "threshold": thr, "scheme": scheme}
                    row.update(per[scheme])
                    mine = per[scheme]["cycles_mean"]
                    full = per[scheme]["reached"] == per[scheme]["seeds"] > 0
                    ref_full = per["equal"]["reached"] == per["equal"]["seeds"] > 0
                    row["reduction_vs_equal"] = (
                        1.0 - mine / ref if full and ref_full and ref > 0 else math.nan
                    )
                    rows.append(row)
    return rows


def _summary(cfg: Config, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    groups, reach = data["groups"], data["thresholds"]
    presets, schemes, cycles = cfg.options["presets"], cfg.options["schemes"], cfg.options["cycles"]
    index = {(r["preset"], r["K"], r["T"], r["threshold"], r["scheme"]): r for r in reach}
    at = min(REPORT_CYCLE, cycles)
    out = []
    for preset in presets:
        for k, t in SETTINGS:
            taus, accs = [], []
            for scheme in ("optimal", "paper", "equal"):
                if scheme not in schemes:
                    continue
                good = ok_runs(groups.get((preset, k, t, scheme), []))
                taus.append(f"{np.mean([mean_tau(r) for r in good]):.3g}" if good else "—")
                vals = [r["accuracy"][at] for r in good]
                accs.append(f"{np.mean(vals):.3f} ± {stats(vals)[1]:.3f}" if good else "—")
            row: dict[str, Any] = {
                "preset": preset,
                "K": k,
                "T": f"{t:g} s",
                "tau " + "/".join(_SHORT[s] for s in schemes if s in _SHORT): " / ".join(taus),
                "lr " + "/".join(_SHORT[s] for s in schemes): " / ".join(
                    f"{_rate(cfg, preset, k, t, s):g}" for s in schemes
                ),
                f"acc @ cycle {at}: opt": accs[0] if "optimal" in schemes else "—",
                f"acc @ cycle {at}: eq": accs[-1],
            }
            for thr in THRESHOLDS:
                opt = index.get((preset, k, t, thr, "optimal"))
                eq = index.get((preset, k, t, thr, "equal"))
                red = opt["reduction_vs_equal"] if opt else math.nan
                row[f"cycles to {thr:.0%}: opt | eq"] = f"{fmt_reach(opt)} | {fmt_reach(eq)}" + (
                    f" ({-red:+.0%})" if math.isfinite(red) else ""
                )
            row["paper (MNIST, text)"] = PAPER_TEXT[(k, t)]
            out.append(row)
    return out


def _plot(cfg: Config, data: Mapping[str, Any], path: Path) -> None:
    """Accuracy vs cycles and vs simulated time per preset and setting, a band per scheme."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    curves, seeds, o = data["curves"], cfg.seeds, cfg.options
    presets, schemes, dataset = o["presets"], o["schemes"], o["dataset"]

    rows = len(presets)
    fig = Figure(figsize=(19.0, 4.4 * rows + 0.9), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_2d(fig.subplots(rows, 2 * len(SETTINGS), sharey=True))
    for r, preset in enumerate(presets):
        for s, (k, t) in enumerate(SETTINGS):
            taus, rates = [], []
            for j, xkey in enumerate(("cycle", "sim_time_s")):
                ax = axes[r, 2 * s + j]
                for scheme in schemes:
                    pts = [
                        c
                        for c in curves
                        if (c["preset"], c["K"], c["T"], c["scheme"]) == (preset, k, t, scheme)
                    ]
                    if not pts:
                        continue
                    x = np.array([p[xkey] for p in pts], float)
                    m = np.array([p["accuracy_mean"] for p in pts], float)
                    sd = np.array([p["accuracy_std"] for p in pts], float)
                    st = scheme_style(scheme)
                    line = dict(_LINE[scheme])
                    if "marker" in line:
                        line["markevery"] = max(1, len(x) // 12)
                    band(ax, x, m, sd, color=st["color"], label=_LABEL[scheme], **line)
                    if j == 0:
                        taus.append(f"{scheme} {pts[0]['tau_mean']:.3g}")
                        rates.append(f"{_SHORT[scheme]} {pts[0]['lr']:g}")
                for thr in THRESHOLDS:
                    ax.axhline(thr, color=MUTED, linestyle=":", linewidth=0.9)
                ax.grid(True, **GRID)
                ax.set_xlabel("global cycle" if j == 0 else "simulated time (s), slowest learner")
                if j == 0:
                    ax.set_title(
                        f"{preset}: $K$ = {k}, $T$ = {t:g} s\n"
                        + r"$\tau$: "
                        + ", ".join(taus)
                        + r"; $\eta$: "
                        + ", ".join(rates),
                        fontsize=9.5,
                    )
                    for thr, pts in PAPER_FIG2[(k, t)].items():
                        if pts["optimal"] is not None:
                            ax.text(
                                0.98,
                                0.04,
                                f"paper (MNIST): {thr * 100:g} % after {pts['optimal']} vs "
                                f"{pts['equal']} cycles",
                                transform=ax.transAxes,
                                ha="right",
                                va="bottom",
                                fontsize=8,
                                bbox={"fc": "white", "ec": "#cccccc", "alpha": 0.9},
                            )
                            break
                else:
                    ax.set_title("against the simulated clock", fontsize=10)
        axes[r, 0].set_ylabel("test accuracy")
    axes[0, 0].legend(loc="center right", fontsize=8)
    axes[0, 0].set_ylim(0.0, 1.0)
    fig.suptitle(
        f"Sync MEL, Fig. 2: test accuracy after each global cycle, {dataset} with the MEL MLP "
        f"(mean ± 1 s.d. over {seeds} seed(s); learning rate $\\eta$ per scheme by the rule; "
        "thresholds " + ", ".join(f"{t:.0%}" for t in THRESHOLDS) + " dotted)",
        fontsize=12,
    )
    fig.savefig(path, dpi=100)


def _plot_lr(cfg: Config, data: Mapping[str, Any], path: Path) -> None:
    """The sensitivity to the learning rate: cycles to 90/95 % (held-out) per scheme and rate."""
    o = cfg.options
    panels = [
        (
            f"{preset}: $K$ = {k}, $T$ = {t:g} s",
            lambda r, key=(preset, k, t): (r["preset"], r["K"], r["T"]) == key,
        )
        for preset in o["presets"]
        for k, t in SETTINGS
    ]
    series = [
        (_LABEL[s].split(",")[0], lambda r, s=s: r["scheme"] == s, scheme_style(s))
        for s in o["schemes"]
    ]
    plan = cfg.tuned["plan"]
    plot_lr(
        path,
        data["lr_rows"],
        panels,
        series,
        title=(
            "Sync MEL, Fig. 2: sensitivity to the learning rate $\\eta$\ncycles to reach 90 % "
            f"and 95 % accuracy on the held-out split (mean over {plan.seeds} tuning seed(s))"
        ),
        ncols=len(SETTINGS),
        horizon=plan.cycles,
    )


EXPERIMENT = Experiment(
    name=NAME,
    title="Sync MEL, Fig. 2: test accuracy after each global cycle, optimal vs equal",
    description=(
        "Mohammad & Sorour, Adaptive Task Allocation for Mobile Edge Learning, "
        "Fig. 2: the optimal, paper (Theorem 1) and equal (ETA) allocations at K = 20, "
        "T = 12 s and K = 10, T = 30 s (presets mel-sync and mel-sync-calibrated) "
        "trained for real on scikit-learn digits with the MEL MLP; accuracy vs cycles "
        "and simulated time, cycles to reach 90, 95 and 97 %, mean and s.d. over 10 "
        "seeds. Needs torch."
    ),
    duration="33 min 27 s at load 6-7 (17 min 40 s of CPU)",
    quick_duration="15 s",
    default_seeds=10,
    quick_seeds=2,
    tasks=_tasks,
    worker=train_task,
    analyse=_analyse,
    tables=(
        Table("", CURVE_COLUMNS, "curves"),
        Table("-thresholds", THRESHOLD_COLUMNS, "thresholds"),
        Table("-seeds", SEED_COLUMNS, "seed_rows"),
        Table("-lr", LR_COLUMNS, "lr_rows"),
    ),
    figures=(Figure("", _plot), Figure("-lr", _plot_lr)),
    summary=_summary,
    notes=_notes,
    tune=_tune,
    options={
        "cycles": None,
        "lr": None,
        "presets": PRESETS,
        "schemes": SCHEMES,
        "dataset": DATASET,
        "scale": "paper",
    },
    prepare=_prepare,
)
#: Run the reproduction into ``out_dir`` (:meth:`.Experiment.run`; the options and files:
#: the module docstring).
run = EXPERIMENT.run
