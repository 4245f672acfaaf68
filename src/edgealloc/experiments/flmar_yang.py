"""``flmar-yang``: Sec. VII-D of the FL-MAR paper, against Yang et al. (2021) at three p_max.

X. Zhou, C. Liu, J. Zhao, *Resource Allocation of Federated Learning for the
Metaverse with Mobile Augmented Reality* (IEEE TWC 2023), Sec. VII-D: energy
(9) against a fixed completion time T_max for the proposed method and
"Scheme 1" (Z. Yang et al., *Energy efficient federated learning over
wireless communication networks*, IEEE TWC 2021, Algorithm 3 with the local
accuracy fixed; scheme ``yang2021``), one resolution (s_1 = 160 px), both
started from (B/N, p_max), at three p_max (values lost: 6, 9, 12 dBm taken).
Weights (1, 0, 0), preset ``mar-paper`` (N = 50), T_max = 10..60 s, 100 drops
per point; ``optimal`` (here a convex problem, K = 1) beside ``paper``.

Files written to ``out_dir``
----------------------------
``flmar-yang.png``
    Energy against T_max, a line per scheme and p_max.
``flmar-yang.csv``, ``flmar-yang-seeds.csv``
    Per (p_max, T_max, scheme) and per drop (:mod:`._flmar`).
``flmar-yang-store.jsonl``, ``flmar-yang-manifest.json``
    The results store and the manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._flmar import by_point, pct, plot_lines, sweep_experiment
from ._template import Config

__all__ = ["EXPERIMENT", "run"]

NAME = "flmar-yang"
GROUP = ("p_max", "T_max")
P_GRID: tuple[float, ...] = (6.0, 9.0, 12.0)
P_GRID_QUICK: tuple[float, ...] = (12.0,)
T_GRID: tuple[float, ...] = (10.0, 12.0, 15.0, 20.0, 30.0, 40.0, 60.0)
T_GRID_QUICK: tuple[float, ...] = (15.0, 40.0)
SCHEMES = ["optimal", "paper", "yang2021"]


def _points(cfg: Config) -> list[tuple[dict[str, Any], dict[str, Any], list[str]]]:
    pms = P_GRID_QUICK if cfg.quick else P_GRID
    ts = T_GRID_QUICK if cfg.quick else T_GRID
    over = {"w1": 1.0, "w2": 0.0, "rho": 0.0, "resolutions": [160], "accuracy": [0.44225]}
    return [
        ({"p_max": pm, "T_max": t}, {**over, "p_max": pm, "deadline": t}, SCHEMES)
        for pm in pms
        for t in ts
    ]


def _summary(cfg: Config, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = data["rows"]
    idx = by_point(rows, GROUP)
    out = []
    for pm in sorted({r["p_max"] for r in rows}):
        for t in sorted({r["T_max"] for r in rows}):
            got = {s: idx.get((pm, t, s)) for s in SCHEMES}
            if any(v is None for v in got.values()):
                continue
            out.append(
                {
                    "p_max (dBm)": pm,
                    "T_max (s)": t,
                    "drops with a plan": ", ".join(f"{s} {got[s]['paired']}" for s in SCHEMES),
                    "E optimal (J)": f"{got['optimal']['energy']:.4g}",
                    "E paper (J)": f"{got['paper']['energy']:.4g}",
                    "E yang2021 (J)": f"{got['yang2021']['energy']:.4g}",
                    "paper above optimal": pct(got["paper"]["excess_median_pct"]),
                    "yang2021 above optimal": pct(got["yang2021"]["excess_median_pct"]),
                }
            )
    return out


def _notes(cfg: Config, data: Mapping[str, Any]) -> list[str]:
    rows = data["rows"]
    idx = by_point(rows, GROUP)
    below = same = total = 0
    for r in rows:
        if r["scheme"] != "paper":
            continue
        y = idx.get((r["p_max"], r["T_max"], "yang2021"))
        if y is None or r["energy"] != r["energy"] or y["energy"] != y["energy"]:
            continue
        total += 1
        below += r["energy"] < y["energy"] * (1 - 1e-6)
        same += abs(r["energy"] - y["energy"]) <= 1e-6 * y["energy"]
    return [
        "Paper (Sec. VII-D): the proposed curves lie below Scheme 1 at all three p_max, the gap "
        f"widening as T_max shrinks. Ours: paper below yang2021 at {below} of {total} points, "
        f"equal (within 1e-6) at {same}.",
        "FLMAR.md section 9: under the reconstructed model Yang's Algorithm 3 with the local "
        "accuracy fixed equals the paper's BCD whenever no device sits at p_min, so the paper's "
        "advantage does not follow; the certified optimum is below both (column "
        "'above optimal').",
    ]


def _plot(cfg: Config, data: Mapping[str, Any], path: Path) -> None:
    plot_lines(
        cfg,
        data,
        path,
        x="T_max",
        xlabel="deadline $T_{max}$ (s)",
        series="p_max",
        metrics=(("energy", "energy $E$ (J)"),),
        title="FL-MAR Sec. VII-D: vs Yang et al. (2021), one resolution, weights (1, 0, 0)",
        logy=True,
    )


EXPERIMENT = sweep_experiment(
    name=NAME,
    title="FL-MAR, Sec. VII-D: energy vs deadline against Yang et al. (2021) at three p_max",
    description=(
        "Preset mar-paper (N = 50), one resolution (160 px), weights (1, 0, 0), p_max = 6, 9, "
        "12 dBm, T_max = 10..60 s: optimal, paper and yang2021, 100 drops per point."
    ),
    group=GROUP,
    points=_points,
    draw=_plot,
    summary=_summary,
    notes=_notes,
    duration="9 min 24 s on 1 worker at load ~4 (measured, 100 drops)",
    quick_duration="3 s",
)
#: Run the reproduction into ``out_dir`` (:meth:`.Experiment.run`; files: the module docstring).
run = EXPERIMENT.run
