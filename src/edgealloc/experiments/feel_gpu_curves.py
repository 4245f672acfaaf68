r"""``feel-gpu-curves``: Figs. 4-5 of the FEEL paper, loss and accuracy against training time (GPU).

Ren, Yu & Ding, *Accelerating DNN Training in Wireless Federated Edge
Learning Systems* (IEEE JSAC 2021, Ren, Yu & Ding, IEEE JSAC 2021), Section
VI-D: K = 6 devices with GTX 1080 Ti GPUs (Assumption 1), IID (Fig. 4) and
non-IID (Fig. 5) data; the proposed scheme against online learning
(:math:`B_k = 1`), the full batch (:math:`B_k = B^{max} = 128`) and a random
batch (uniform in 1..128, drawn afresh every round); global training loss
and test accuracy against training time. The paper gives curves, no numbers;
its claims: the proposed scheme converges fastest *and* reaches the highest
accuracy, and its IID and non-IID curves almost coincide.

Every scheme trains for real (:mod:`._feel`: gradient averaging, one step per
round on the plan's :math:`B_k` samples per device, the square-root rate
rule, the simulated clock of eq. (29)) on scikit-learn's digits with the MEL
MLP, for a common simulated horizon :math:`H` (``horizon`` rounds of the
exact plan); the schemes are ``paper`` (the proposed Algorithm 1),
``optimal`` (the exact integer optimum, ours), ``online``, ``full`` and
``random``.

Settings (``settings``)
-----------------------
``paper``
    The ``feel-gpu`` preset as it is, on the paper's clock (``workload="paper"``:
    DenseNet121's 258 Mbit gradient, the preset's GTX 1080 Ti curve). Uploading
    takes about 25 s a round and a batch of 128 about 0.08 s, so the optimal
    plan *is* the full batch on every device: ``paper``, ``optimal`` and
    ``full`` train the same plan and their curves coincide. The paper's
    Figs. 4-5 show the proposed scheme ahead of the full batch, which its own
    Assumption 1 with a GTX 1080 Ti cannot give unless the threshold is near
    :math:`B^{max}`; the paper does not print the GPU coefficients it used
    (``docs/feel.md``).
``compute-bound``
    The trained MLP's own workload (``workload="model"``: a 2.1 Mbit gradient)
    with a GPU ten times slower per sample above its threshold
    (``gpu_slope = 6e-3`` s per sample, e.g. a small shared accelerator):
    computing 128 samples then costs more than uploading, the optimum sits at
    the threshold :math:`B^{th} = 32` and the trade-off of the paper is visible
    (full batch 0.81 s a round, optimum 0.23 s).

Readings: as :mod:`.feel_table2` (learning rates by the held-out rule of
:mod:`._feel`, one :math:`\eta_{ref}` per variant; training from scratch, the
paper starts from a pre-trained DenseNet121). The target accuracy of a panel
is :data:`TARGET_SHARE` x the lowest mean final accuracy of its schemes
(online learning excluded: it barely trains in the horizon).

Files: ``feel-gpu-curves.png`` (one row per setting and partition: training
loss and test accuracy against simulated time, mean and s.d. band over
seeds), ``feel-gpu-curves.csv`` (per variant: the plan, final accuracy and
loss, time to the target), ``feel-gpu-curves-curves.csv``,
``feel-gpu-curves-seeds.csv`` and ``feel-gpu-curves-lr.csv``.

Options: ``horizon`` (default :data:`HORIZON`, quick :data:`HORIZON_QUICK`),
``lr`` (``None``: the rule), ``grid``, ``tune_seeds``, ``settings``,
``partitions``, ``dataset``, ``model``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._style import FIGURE_RC, GRID, scheme_style
from .._version import __version__
from ..errors import ValidationError
from ._feel import (
    SEED_ROW_COLUMNS,
    band_rows,
    by_variant,
    check_data,
    draw_band,
    final,
    plan_means,
    prepare_training,
    reach_time,
    seed_row,
    target_accuracy,
    trained,
    training_experiment,
    training_notes,
    tune_rows,
    variant_curve,
)
from ._template import Config, Sweep

__all__ = ["EXPERIMENT", "SETTINGS", "run"]

NAME = "feel-gpu-curves"
PRESET = "feel-gpu"
SCHEMES: tuple[str, ...] = ("paper", "optimal", "online", "full", "random")
#: setting -> (workload reading, ``--set`` overrides of the preset).
SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "paper": ("paper", {}),
    "compute-bound": ("model", {"gpu_slope": 6.0e-3}),
}
HORIZON = 200
HORIZON_QUICK = 4
TARGET_SHARE = 0.98
LABELS = {
    "paper": "proposed (Algorithm 1)",
    "optimal": "exact integer optimum (ours)",
    "online": "online (B_k = 1)",
    "full": "full batch (B_k = 128)",
    "random": "random batch (1..128)",
}
KEYS = ("setting", "partition", "scheme")

SUMMARY_COLUMNS = (
    *KEYS,
    "lr",
    "seeds",
    "trained",
    "round_s",
    "global_batch",
    "rounds",
    "final_accuracy_mean",
    "final_accuracy_std",
    "final_loss_mean",
    "final_loss_std",
    "target",
    "reached",
    "time_to_target_mean_s",
    "time_to_target_std_s",
)
SEED_COLUMNS = (*KEYS, *SEED_ROW_COLUMNS, "final_loss", "time_to_target_s")


def _prepare(cfg: Config) -> dict[str, Any]:
    from ..learn import models  # noqa: F401  (the one-line error without torch)

    o = prepare_training(cfg, HORIZON, HORIZON_QUICK)
    settings = tuple(o["settings"])
    if not settings:
        raise ValidationError("settings", "needs at least one setting")
    for s in settings:
        if s not in SETTINGS:
            raise ValidationError("settings", f"must be among {', '.join(SETTINGS)} (got {s!r})")
    o["settings"] = settings
    check_data(o)
    return o


def _points(cfg: Config) -> list[dict[str, Any]]:
    o = cfg.options
    return [
        {
            "experiment": NAME,
            "version": __version__,
            "preset": PRESET,
            "K": None,
            "setting": setting,
            "workload": SETTINGS[setting][0],
            "overrides": dict(SETTINGS[setting][1]),
            "partition": part,
            "scheme": scheme,
            "horizon": o["horizon"],
            "dataset": o["dataset"],
            "model": o["model"],
        }
        for setting in o["settings"]
        for part in o["partitions"]
        for scheme in SCHEMES
    ]


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    vals = [v for v in values if math.isfinite(v)]
    if not vals:
        return math.nan, math.nan
    return float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0


def _analyse(
    cfg: Config, tasks: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    groups = by_variant(tasks, results, KEYS)
    lr_of = {tuple(t[k] for k in KEYS): t["lr"] for t in tasks}
    panels = sorted({(s, p) for s, p, _ in groups}, key=lambda sp: (sp[0], sp[1]))
    summary, seed_rows = [], []
    targets: dict[tuple, float] = {}
    ranked = [s for s in SCHEMES if s != "online"]
    for setting, part in panels:
        target = target_accuracy(groups, (setting, part), ranked, TARGET_SHARE)
        targets[(setting, part)] = target
        for scheme in SCHEMES:
            runs = groups.get((setting, part, scheme), [])
            good = trained(runs)
            times = []
            for r in runs:
                t = reach_time(r, target)
                if math.isfinite(t):
                    times.append(t)
                row = seed_row(KEYS, (setting, part, scheme), r, lr_of[(setting, part, scheme)])
                seed_rows.append({**row, "final_loss": final(r, "loss"), "time_to_target_s": t})
            acc = _mean_sd([final(r) for r in good])
            loss = _mean_sd([final(r, "loss") for r in good])
            ttt = _mean_sd(times)
            summary.append(
                {
                    "setting": setting,
                    "partition": part,
                    "scheme": scheme,
                    "lr": lr_of[(setting, part, scheme)],
                    "seeds": len(runs),
                    "trained": len(good),
                    **plan_means(good),
                    "final_accuracy_mean": acc[0],
                    "final_accuracy_std": acc[1],
                    "final_loss_mean": loss[0],
                    "final_loss_std": loss[1],
                    "target": target,
                    "reached": len(times),
                    "time_to_target_mean_s": ttt[0],
                    "time_to_target_std_s": ttt[1],
                }
            )
    return {
        "summary": summary,
        "curves": band_rows(groups, KEYS, 20 if cfg.quick else 120),
        "seed_rows": seed_rows,
        "lr_rows": tune_rows(cfg.tuned, cfg.options["lr"]),
        "targets": targets,
        "panels": panels,
    }


def _plot(cfg: Config, data: Mapping[str, Any], path: Path) -> None:
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    panels = data["panels"]
    with mpl.rc_context(FIGURE_RC):
        fig = MplFigure(figsize=(11.5, 3.6 * max(1, len(panels)) + 0.6), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(max(1, len(panels)), 2, squeeze=False)
        batch = {
            (r["setting"], r["partition"], r["scheme"]): r["global_batch"] for r in data["summary"]
        }
        for row, (setting, part) in zip(axes, panels, strict=False):
            full = batch.get((setting, part, "full"))
            for i, scheme in enumerate(SCHEMES):
                rows = variant_curve(data["curves"], KEYS, (setting, part, scheme))
                if not rows:
                    continue
                st = scheme_style(scheme, i)
                t = np.array([r["time_s"] for r in rows])
                for ax, key in zip(row, ("loss", "accuracy"), strict=True):
                    same = (
                        scheme in ("paper", "optimal")
                        and batch.get((setting, part, scheme)) == full
                    )
                    label = LABELS[scheme] + (" = full batch" if same else "")
                    draw_band(ax, t, rows, key, st, label)
            where = "IID (Fig. 4)" if part == "iid" else f"non-IID, {part} (Fig. 5)"
            target = data["targets"].get((setting, part), math.nan)
            if math.isfinite(target):
                row[1].axhline(target, color="#777777", lw=0.8, ls="--")
            for ax, what in zip(row, ("global training loss", "test accuracy"), strict=True):
                ax.set_title(f"{setting}, {where}", fontsize=10)
                ax.set_xlabel("simulated training time (s)")
                ax.set_ylabel(what)
                ax.grid(True, **GRID)
            row[1].set_ylim(0, 1)
            row[1].legend(fontsize=7.5, loc="lower right")
        fig.suptitle(
            "FEEL Figs. 4-5 trained (feel-gpu, K = 6): digits, MLP; mean and s.d. over seeds",
            fontsize=11,
        )
        fig.savefig(path, dpi=100)


def _summary(cfg: Config, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "setting": r["setting"],
            "partition": r["partition"],
            "scheme": r["scheme"],
            "global batch": r["global_batch"],
            "round (s)": r["round_s"],
            "accuracy": r["final_accuracy_mean"],
            "loss": r["final_loss_mean"],
            "time to target (s)": r["time_to_target_mean_s"],
        }
        for r in data["summary"]
    ]


def _notes(cfg: Config, data: Mapping[str, Any], sweep: Sweep) -> list[str]:
    notes = training_notes(
        cfg,
        sweep,
        f"target = {TARGET_SHARE:g} x the lowest mean final accuracy of each panel "
        "(online learning left out)",
    )
    by = {(r["setting"], r["partition"], r["scheme"]): r for r in data["summary"]}
    for setting, part in data["panels"]:
        a, b = by.get((setting, part, "optimal")), by.get((setting, part, "full"))
        if a and b and a["global_batch"] == b["global_batch"]:
            notes.append(
                f"{setting}, {part}: the optimal plan is the full batch (global batch "
                f"{a['global_batch']:g}); their curves coincide."
            )
    return notes


EXPERIMENT = training_experiment(
    name=NAME,
    title="FEEL, Figs. 4-5: loss and accuracy vs training time on GPUs, proposed vs online / "
    "full / random batches",
    description=(
        "Ren, Yu & Ding, Accelerating DNN Training in Wireless Federated Edge Learning "
        "Systems, Figs. 4-5: K = 6 GPUs (feel-gpu), IID and non-IID shards; the proposed "
        "scheme (Algorithm 1), the exact optimum, online, full and random batches, trained "
        "for real on digits with the MLP; loss and accuracy against simulated time, mean "
        "and s.d. over seeds, on the paper's clock and on a compute-bound GPU. Needs torch."
    ),
    duration="7 min 25 s on 1 worker at load ~2 (measured)",
    quick_duration="25 s",
    keys=KEYS,
    points=_points,
    analyse=_analyse,
    draw=_plot,
    summary_columns=SUMMARY_COLUMNS,
    seed_columns=SEED_COLUMNS,
    summary=_summary,
    notes=_notes,
    options={
        "settings": tuple(SETTINGS),
        "partitions": ("iid", "shards"),
        "dataset": "digits",
        "model": "mlp",
    },
    prepare=_prepare,
)
#: Run the reproduction into ``out_dir`` (:meth:`.Experiment.run`; the options and files:
#: the module docstring).
run = EXPERIMENT.run
