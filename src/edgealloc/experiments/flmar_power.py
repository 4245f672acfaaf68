"""``flmar-power``: Fig. 4 of the FL-MAR paper, energy and time against the power limit.

X. Zhou, C. Liu, J. Zhao, *Resource Allocation of Federated Learning for the
Metaverse with Mobile Augmented Reality* (IEEE TWC 2023), Sec. VII-B, Fig. 4:
total energy (9) and completion time (11) against ``p_max`` for the three
weight pairs (w1, w2) = (0.9, 0.1) "low battery", (0.5, 0.5) "normal" and
(0.1, 0.9) "time sensitive", against MinPixel (Table I: B/N, p_max, clocks
uniform in [f_min, f_max], s_1). Preset ``mar-paper`` (N = 50, FLMAR.md
section 6), rho = 1 (the fixed rho of Figs. 4-5 was lost), p_max = 2..12 dBm,
100 drops per point; ``optimal`` (certified) beside ``paper`` (Algorithm 2).

Files written to ``out_dir``
----------------------------
``flmar-power.png``
    Energy and time against p_max, a line per scheme and weight pair.
``flmar-power.csv``
    One row per (w1, w2, p_max, scheme): counts and means over the common
    drops (:mod:`._flmar`).
``flmar-power-seeds.csv``
    One row per drop and scheme.
``flmar-power-store.jsonl``, ``flmar-power-manifest.json``
    The results store and the manifest (:mod:`._outputs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._flmar import (
    pair_points,
    pair_summary,
    plot_energy_time,
    sweep_experiment,
)
from ._template import Config

__all__ = ["EXPERIMENT", "run"]

NAME = "flmar-power"
GROUP = ("w1", "w2", "p_max")
P_GRID: tuple[float, ...] = (2.0, 4.0, 6.0, 8.0, 10.0, 12.0)
P_GRID_QUICK: tuple[float, ...] = (6.0, 12.0)


def _points(cfg: Config) -> list[tuple[dict[str, Any], dict[str, Any], list[str]]]:
    grid = P_GRID_QUICK if cfg.quick else P_GRID
    return pair_points(cfg, "p_max", grid, lambda pm: {"p_max": pm, "baseline": "frequency"})


def _summary(cfg: Config, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    return pair_summary(data["rows"], "p_max", "p_max (dBm)", ends=True, versus=True)


def _notes(cfg: Config, data: Mapping[str, Any]) -> list[str]:
    rows = data["rows"]
    ours = [r for r in rows if r["scheme"] in ("optimal", "paper")]
    mp = {(r["w1"], r["w2"], r["p_max"]): r for r in rows if r["scheme"] == "minpixel"}
    e_below = all(r["energy"] < mp[(r["w1"], r["w2"], r["p_max"])]["energy"] for r in ours)
    t_above = sorted(
        {
            (r["w1"], r["p_max"])
            for r in ours
            if r["time"] > mp[(r["w1"], r["w2"], r["p_max"])]["time"]
        }
    )
    return [
        "Paper (Fig. 4): energy of all three weight pairs far below MinPixel; ours "
        + ("too, at every p_max." if e_below else "NOT at every p_max (see the table)."),
        "Paper: time below MinPixel except (0.9, 0.1) above some p_max; ours above MinPixel at "
        + (", ".join(f"w1={w:g}/p_max={p:g} dBm" for w, p in t_above) or "no point")
        + ".",
        "Paper: as w1 grows, energy falls and time grows (the table's rows show the same order).",
    ]


def _plot(cfg: Config, data: Mapping[str, Any], path: Path) -> None:
    plot_energy_time(
        cfg,
        data,
        path,
        x="p_max",
        xlabel="$p_{max}$ (dBm)",
        title="FL-MAR Fig. 4: energy and time vs $p_{max}$ ($\\rho$ = 1)",
    )


EXPERIMENT = sweep_experiment(
    name=NAME,
    title="FL-MAR, Fig. 4: energy and time vs p_max for three weight pairs",
    description=(
        "Preset mar-paper (N = 50), p_max = 2..12 dBm, (w1, w2) = (0.9, 0.1), (0.5, 0.5), "
        "(0.1, 0.9), rho = 1: optimal, paper (Algorithm 2) and MinPixel, 100 drops per point."
    ),
    group=GROUP,
    points=_points,
    draw=_plot,
    summary=_summary,
    notes=_notes,
    duration="22 min 4 s on 1 worker at load ~2 (measured, 100 drops)",
    quick_duration="11 s",
)
#: Run the reproduction into ``out_dir`` (:meth:`.Experiment.run`; files: the module docstring).
run = EXPERIMENT.run
