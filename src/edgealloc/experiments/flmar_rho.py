"""``flmar-rho``: Fig. 6 of the FL-MAR paper, the accuracy weight and the resolution progression.

X. Zhou, C. Liu, J. Zhao, *Resource Allocation of Federated Learning for the
Metaverse with Mobile Augmented Reality* (IEEE TWC 2023), Sec. VII-B, Fig. 6
(log scale) and the resolution study of Sec. VII-E (Fig. 9 of the text copy):
energy (9) and completion time (11) against rho at (w1, w2) = (0.5, 0.5) for
three p_max, against MinPixel and RandPixel (B/N, p_max, random clocks; s_1
or random resolutions), and the share of devices at each resolution as rho
grows. Preset ``mar-paper`` (N = 50), rho = 0..50, p_max = 4, 8, 12 dBm, 100
drops per point; ``optimal`` beside ``paper``. The paper's headlines: at
small rho about 85 % less energy and 42 % less time than MinPixel; at the
largest rho (nearly every device at s_K) 67 % and 38 % less than RandPixel;
every device at 640 px from rho of "approximately 40".

Files written to ``out_dir``
----------------------------
``flmar-rho.png``
    Energy and time against rho (log), and the resolution shares of ``optimal``.
``flmar-rho.csv``, ``flmar-rho-seeds.csv``
    Per (p_max, rho, scheme) and per drop (:mod:`._flmar`; ``share_s1..4``).
``flmar-rho-store.jsonl``, ``flmar-rho-manifest.json``
    The results store and the manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._style import GRID
from ._flmar import SHARES, by_point, pct, plot_lines, reduction, sweep_experiment
from ._template import Config

__all__ = ["EXPERIMENT", "run"]

NAME = "flmar-rho"
GROUP = ("p_max", "rho")
RHO_GRID: tuple[float, ...] = (0.0, 1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0)
RHO_GRID_QUICK: tuple[float, ...] = (0.0, 10.0, 40.0)
P_GRID: tuple[float, ...] = (4.0, 8.0, 12.0)
P_GRID_QUICK: tuple[float, ...] = (12.0,)
SCHEMES = ["optimal", "paper", "minpixel", "randpixel"]
#: The paper's headlines (Sec. VII-B): (energy, time) reductions in percent.
VS_MINPIXEL = (85.0, 42.0)
VS_RANDPIXEL = (67.0, 38.0)


def _points(cfg: Config) -> list[tuple[dict[str, Any], dict[str, Any], list[str]]]:
    rhos = RHO_GRID_QUICK if cfg.quick else RHO_GRID
    pms = P_GRID_QUICK if cfg.quick else P_GRID
    return [
        (
            {"p_max": pm, "rho": rho},
            {"w1": 0.5, "w2": 0.5, "rho": rho, "p_max": pm, "baseline": "frequency"},
            SCHEMES,
        )
        for pm in pms
        for rho in rhos
    ]


def _all_top(rows: list[Mapping[str, Any]], scheme: str, pm: float) -> float | None:
    """The smallest rho at which every device of every drop chose the top option."""
    sub = sorted(
        (r["rho"], r["share_s4"]) for r in rows if r["scheme"] == scheme and r["p_max"] == pm
    )
    for rho, share in sub:
        if np.isfinite(share) and share >= 1.0 - 1e-12:
            return rho
    return None


def _summary(cfg: Config, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = data["rows"]
    idx = by_point(rows, GROUP)
    rhos = sorted({r["rho"] for r in rows})
    out = []
    for pm in sorted({r["p_max"] for r in rows}):
        for label, rho, base, want in (
            ("smallest rho vs MinPixel", rhos[0], "minpixel", VS_MINPIXEL),
            ("largest rho vs RandPixel", rhos[-1], "randpixel", VS_RANDPIXEL),
        ):
            ref = idx.get((pm, rho, base))
            for scheme in ("paper", "optimal"):
                ours = idx.get((pm, rho, scheme))
                if not (ref and ours):
                    continue
                out.append(
                    {
                        "p_max (dBm)": pm,
                        "comparison": f"{label} (rho = {rho:g})",
                        "scheme": scheme,
                        "energy less (paper's)": f"{want[0]:g} %",
                        "energy less (ours)": pct(reduction(ours["energy"], ref["energy"])),
                        "time less (paper's)": f"{want[1]:g} %",
                        "time less (ours)": pct(reduction(ours["time"], ref["time"])),
                    }
                )
    return out


def _notes(cfg: Config, data: Mapping[str, Any]) -> list[str]:
    rows = data["rows"]
    notes = [
        "Paper (Fig. 6): at small rho about 85 % less energy and 42 % less time than "
        "MinPixel; at the largest rho 67 % and 38 % less than RandPixel (the summary rows "
        "set ours beside them)."
    ]
    for pm in sorted({r["p_max"] for r in rows}):
        tops = {s: _all_top(rows, s, pm) for s in ("optimal", "paper")}
        notes.append(
            f"p_max = {pm:g} dBm: every device at the top resolution from rho = "
            + ", ".join(
                f"{v:g} ({s})" if v is not None else f"never ({s})" for s, v in tops.items()
            )
            + " (paper: approximately 40 in its YOLO study; FLMAR.md section 9: ~30 with "
            "s_0 = 160)."
        )
    zero = [r for r in rows if r["rho"] == 0.0 and r["scheme"] in ("optimal", "paper")]
    if zero:
        low = min(r["share_s1"] for r in zero)
        notes.append(f"rho = 0: at least {100 * low:.0f} % of the devices at s_1 (paper: all).")
    return notes


def _shares(ax: Any, data: Mapping[str, Any]) -> None:
    rows = data["rows"]
    pm = max(r["p_max"] for r in rows)
    sub = sorted(
        (r for r in rows if r["scheme"] == "optimal" and r["p_max"] == pm), key=lambda r: r["rho"]
    )
    x = np.array([r["rho"] for r in sub], float)
    bottom = np.zeros(x.size)
    labels = ("160 px", "320 px", "480 px", "640 px")
    for name, label in zip(SHARES, labels, strict=True):
        y = np.nan_to_num(np.array([r[name] for r in sub], float))
        ax.fill_between(x, bottom, bottom + y, step=None, alpha=0.7, label=label)
        bottom += y
    ax.set_xlabel(r"$\rho$")
    ax.set_ylabel(f"share of devices (optimal, $p_{{max}}$ = {pm:g} dBm)")
    ax.set_ylim(0, 1)
    ax.grid(True, **GRID)
    ax.legend(fontsize=7, loc="center right")


def _plot(cfg: Config, data: Mapping[str, Any], path: Path) -> None:
    plot_lines(
        cfg,
        data,
        path,
        x="rho",
        xlabel=r"$\rho$",
        series="p_max",
        metrics=(("energy", "energy $E$ (J)"), ("time", "completion time $T$ (s)")),
        title="FL-MAR Fig. 6: energy and time vs $\\rho$ ($w_1 = w_2$ = 0.5)",
        logy=True,
        extra=_shares,
    )


EXPERIMENT = sweep_experiment(
    name=NAME,
    title="FL-MAR, Fig. 6: energy, time and resolutions vs rho (vs MinPixel, RandPixel)",
    description=(
        "Preset mar-paper (N = 50), (w1, w2) = (0.5, 0.5), rho = 0..50, p_max = 4, 8, 12 dBm: "
        "optimal, paper, MinPixel and RandPixel, 100 drops per point; the share of devices "
        "at each resolution."
    ),
    group=GROUP,
    points=_points,
    draw=_plot,
    summary=_summary,
    notes=_notes,
    duration="12 min on 2 workers at nice 19 beside the test suite (measured, 3,300 drops)",
    quick_duration="9 s",
)
#: Run the reproduction into ``out_dir`` (:meth:`.Experiment.run`; files: the module docstring).
run = EXPERIMENT.run
