r"""``feel-remark2``: Remark 2 of the FEEL paper as a figure, the optimal batch against f_k and R_k.

Ren, Yu & Ding, *Accelerating DNN Training in Wireless Federated Edge
Learning Systems* (IEEE JSAC 2021, Ren, Yu & Ding, IEEE JSAC 2021), Theorem 1
(eq. (22)) and Remark 2: "the batchsize increases linearly with the local
training speed and increases sublinearly with the exponent of -1/2 with both
the training priority ratio and the uplink data rate". In our notation
(:mod:`edgealloc.feel._relaxed`), with :math:`T` the uplink round time (the
paper's :math:`\Delta L E^{U*}`), :math:`V_k = f_k / C`, :math:`w_k = s / R^U_k`
and :math:`\rho` the time-sharing multiplier (the paper's
:math:`(\Delta L s T_f \mu^*)^{1/2}` up to scale), eq. (22) reads

.. math:: B_k^* = \Bigl[\bigl(T - \rho\sqrt{w_k / V_k}\bigr) V_k\Bigr]_1^{B^{max}}
          = \bigl[T V_k - \rho \sqrt{s V_k / R^U_k}\bigr]_1^{B^{max}} .

The experiment takes the ``feel-cpu`` cell (K = 12, one cell per seed),
varies one device's clock :math:`f_0` (0.35 to 4.2 GHz) and, apart, its
uplink rate (0.05x to 20x its own), and at every point solves the continuous
optimum (``relaxed``) and the exact integer optimum (``optimal``). Beside
them it draws the closed form twice:

* **at the point's own multipliers** (:math:`T`, :math:`\rho` of that
  solution; :math:`\rho` read off the *other* devices strictly inside
  :math:`(1, B^{max})`, which must all give the same value): Theorem 1
  predicting the varied device's batch from the rest of the solution, a
  check of the solver, equal to ``relaxed`` to rounding;
* **at the multipliers of the unchanged cell** (frozen :math:`T`,
  :math:`\rho`): Remark 2's ceteris-paribus reading, one device changing
  while the round time and the multiplier stay put. The re-solved optimum
  falls below it where the device's change moves the whole round.

Readings: Remark 2 calls the dependence on :math:`V_k` linear, but its
training priority ratio :math:`\rho_k = f_k / \sum_j f_j` moves with
:math:`f_k`; in :math:`f_k` alone the closed form is :math:`T V_k -
\rho\sqrt{s V_k / R_k}`, convex and asymptotically linear (until
:math:`B^{max}`). In :math:`R_k` it is :math:`a - c R_k^{-1/2}`: increasing,
concave, saturating at :math:`T V_k` (the paper's "sublinear, exponent
-1/2").

Files: ``feel-remark2.png`` (two panels; mean and s.d. band over cells),
``feel-remark2.csv`` (per axis and grid point: the batches, mean and s.d.,
and the largest closed-form deviation), ``feel-remark2-seeds.csv`` (one row
per cell and point, with :math:`T`, :math:`\rho` and the spread of
:math:`\rho` over the interior devices). Options: ``points`` (grid size per
axis), ``device`` (the device varied, default 0, one of the 0.7 GHz ones).
No training; NumPy and the solvers only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._style import FIGURE_RC, GRID, scheme_color
from .._version import __version__
from ..errors import EdgeallocError, ValidationError
from ..result import Status
from ._template import Config, Experiment, Figure, Sweep, Table

__all__ = ["EXPERIMENT", "closed_form", "interior_rho", "run"]

NAME = "feel-remark2"
PRESET = "feel-cpu"
#: The axes varied: name -> (problem field, factor range).
AXES: dict[str, tuple[str, tuple[float, float]]] = {
    "cpu": ("cpu_hz", (0.5, 6.0)),
    "rate": ("uplink_rate", (0.05, 20.0)),
}
POINTS = 25
POINTS_QUICK = 5
#: Relative margin inside (1, B^max) of the devices whose rho is read off.
_INTERIOR = 1e-6

SUMMARY_COLUMNS = (
    "axis",
    "factor",
    "value",
    "seeds",
    "relaxed_mean",
    "relaxed_std",
    "optimal_mean",
    "optimal_std",
    "closed_own_mean",
    "closed_frozen_mean",
    "closed_frozen_std",
    "max_closed_own_error",
)
SEED_COLUMNS = (
    "axis",
    "seed",
    "factor",
    "value",
    "relaxed",
    "optimal",
    "closed_own",
    "closed_frozen",
    "T",
    "rho",
    "rho_spread",
)


def closed_form(
    T: float, rho: float, cpu_hz: Any, rate: Any, cycles: float, bits: float, b_max: float
) -> np.ndarray:
    r"""Eq. (22) (Theorem 1) on a CPU: :math:`[T V_k - \rho\sqrt{s V_k / R_k}]_1^{B^{max}}`."""
    v = np.asarray(cpu_hz, dtype=float) / float(cycles)
    raw = T * v - rho * np.sqrt(float(bits) * v / np.asarray(rate, dtype=float))
    return np.clip(raw, 1.0, float(b_max))


def interior_rho(
    problem: Any, batch: Any, T: float, *, exclude: int | None = None
) -> tuple[float, float]:
    r"""The multiplier :math:`\rho = (T - B_k C/f_k)/\sqrt{w_k C/f_k}` over interior devices.

    Returns the median and the relative spread (max - min over median) among
    the devices strictly inside :math:`(1, B^{max})`, leaving out device
    ``exclude`` (so that eq. (22) then *predicts* its batch); ``(nan, nan)``
    when there is none.
    """
    b = np.asarray(batch, dtype=float)
    f = np.asarray(problem.cpu_hz, dtype=float)
    c = float(problem.cycles_per_sample)
    w = float(problem.gradient_bits) / np.asarray(problem.uplink_rate, dtype=float)
    lo, hi = 1.0 + _INTERIOR, problem.max_batch * (1 - _INTERIOR)
    inside = (b > lo) & (b < hi)
    if exclude is not None:
        inside[exclude] = False
    if not inside.any():
        return math.nan, math.nan
    rho = (T - b[inside] * c / f[inside]) / np.sqrt(w[inside] * c / f[inside])
    mid = float(np.median(rho))
    return mid, float(np.ptp(rho) / mid) if mid > 0 else math.nan


def _prepare(cfg: Config) -> dict[str, Any]:
    o = dict(cfg.options)
    if o["points"] is None:
        o["points"] = POINTS_QUICK if cfg.quick else POINTS
    p = o["points"]
    if isinstance(p, bool) or not isinstance(p, int) or p < 2:
        raise ValidationError("points", f"must be an integer >= 2 (got {p!r})")
    d = o["device"]
    if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d < 12:
        raise ValidationError("device", f"must be a device index 0..11 of feel-cpu (got {d!r})")
    return o


def _tasks(cfg: Config) -> list[dict[str, Any]]:
    o = cfg.options
    return [
        {
            "experiment": NAME,
            "version": __version__,
            "preset": PRESET,
            "axis": axis,
            "seed": s,
            "device": o["device"],
            "factors": [float(v) for v in np.geomspace(*AXES[axis][1], o["points"])],
        }
        for axis in AXES
        for s in range(cfg.seeds)
    ]


def remark2_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """Solve the cell with one device's clock or rate scaled (module docstring); JSON-ready."""
    from ..api import load_problem, solve

    try:
        base = load_problem(task["preset"], overrides={"seed": int(task["seed"])})
        d = int(task["device"])
        field = AXES[task["axis"]][0]
        ref = solve(base, "relaxed")
        t0 = float(ref.latency_uplink)
        rho0, _ = interior_rho(base, ref.batch, t0, exclude=int(task["device"]))
        doc = base.to_dict()
        rows = []
        for factor in task["factors"]:
            values = np.asarray(doc[field], dtype=float).copy()
            values[d] *= float(factor)
            prob = type(base).from_dict({**doc, field: values.tolist()})
            rel = solve(prob, "relaxed")
            opt = solve(prob, "optimal")
            t = float(rel.latency_uplink)
            rho, spread = interior_rho(prob, rel.batch, t, exclude=d)
            args = (prob.cpu_hz, prob.uplink_rate, prob.cycles_per_sample, prob.gradient_bits)
            own = closed_form(t, rho, *args, prob.max_batch) if math.isfinite(rho) else None
            frozen = closed_form(t0, rho0, *args, prob.max_batch)
            rows.append(
                {
                    "factor": float(factor),
                    "value": float(values[d]),
                    "relaxed": float(np.asarray(rel.batch)[d]),
                    "optimal": float(np.asarray(opt.batch)[d]),
                    "closed_own": float(own[d]) if own is not None else None,
                    "closed_frozen": float(frozen[d]),
                    "T": t,
                    "rho": rho if math.isfinite(rho) else None,
                    "rho_spread": spread if math.isfinite(spread) else None,
                }
            )
        return {"status": Status.OPTIMAL.value, "rows": rows}
    except EdgeallocError as exc:
        return {"status": Status.ERROR.value, "message": str(exc)}


def _nan(v: Any) -> float:
    return math.nan if v is None else float(v)


def _analyse(
    cfg: Config, tasks: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    seed_rows = []
    for task, res in zip(tasks, results, strict=True):
        for row in res.get("rows", []):
            seed_rows.append({"axis": task["axis"], "seed": task["seed"], **row})
    summary = []
    for axis in AXES:
        rows = [r for r in seed_rows if r["axis"] == axis]
        for factor in sorted({r["factor"] for r in rows}):
            at = [r for r in rows if r["factor"] == factor]
            rel = np.array([r["relaxed"] for r in at])
            opt = np.array([r["optimal"] for r in at])
            own = np.array([_nan(r["closed_own"]) for r in at])
            frz = np.array([r["closed_frozen"] for r in at])
            n = len(at)
            err = np.abs(own - rel)
            summary.append(
                {
                    "axis": axis,
                    "factor": factor,
                    "value": float(np.mean([r["value"] for r in at])),
                    "seeds": n,
                    "relaxed_mean": float(rel.mean()),
                    "relaxed_std": float(rel.std(ddof=1)) if n > 1 else 0.0,
                    "optimal_mean": float(opt.mean()),
                    "optimal_std": float(opt.std(ddof=1)) if n > 1 else 0.0,
                    "closed_own_mean": float(np.nanmean(own))
                    if np.isfinite(own).any()
                    else math.nan,
                    "closed_frozen_mean": float(frz.mean()),
                    "closed_frozen_std": float(frz.std(ddof=1)) if n > 1 else 0.0,
                    "max_closed_own_error": float(np.nanmax(err))
                    if np.isfinite(err).any()
                    else math.nan,
                }
            )
    return {"summary": summary, "seed_rows": seed_rows}


def _plot(cfg: Config, data: Mapping[str, Any], path: Path) -> None:
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    with mpl.rc_context(FIGURE_RC):
        fig = MplFigure(figsize=(11.5, 4.3), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, 2)
        series = (
            ("relaxed", "continuous optimum (re-solved)", scheme_color("relaxed"), "-"),
            ("optimal", "exact integer optimum", scheme_color("optimal"), "none"),
            ("closed_own", "eq. (22) at its own T, rho", "#222222", ":"),
            (
                "closed_frozen",
                "eq. (22), T and rho of the unchanged cell",
                scheme_color("paper"),
                "--",
            ),
        )
        for ax, axis in zip(axes, AXES, strict=True):
            rows = [r for r in data["summary"] if r["axis"] == axis]
            if not rows:
                continue
            x = np.array([r["value"] for r in rows])
            x = x / 1e9 if axis == "cpu" else np.array([r["factor"] for r in rows])
            for key, label, color, ls in series:
                m = np.array([r.get(f"{key}_mean", math.nan) for r in rows])
                if key == "optimal":
                    s = np.array([r["optimal_std"] for r in rows])
                    ax.errorbar(x, m, yerr=s, fmt="o", ms=4, color=color, label=label, capsize=2)
                    continue
                ax.plot(x, m, ls=ls, color=color, lw=1.6, label=label)
                if key in ("relaxed", "closed_frozen"):
                    s = np.array([r[f"{key}_std"] for r in rows])
                    ax.fill_between(x, m - s, m + s, color=color, alpha=0.12, lw=0)
            if axis == "cpu":
                ax.set_xlabel(f"CPU clock f_{cfg.options['device']} (GHz)")
            else:
                ax.set_xscale("log")
                ax.set_xlabel(f"uplink rate R_{cfg.options['device']} / its value in the cell")
            ax.set_ylabel(f"batch B_{cfg.options['device']}")
            ax.grid(True, **GRID)
            ax.legend(fontsize=7.5, loc="lower right" if axis == "cpu" else "upper left")
        fig.suptitle(
            "FEEL Remark 2: one device's optimal batch vs its clock and its uplink rate "
            "(feel-cpu, K = 12; mean and s.d. over cells)",
            fontsize=11,
        )
        fig.savefig(path, dpi=100)


def _summary(cfg: Config, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "axis": r["axis"],
            "factor": r["factor"],
            "relaxed B": r["relaxed_mean"],
            "optimal B": r["optimal_mean"],
            "eq. (22) frozen": r["closed_frozen_mean"],
            "eq. (22) own error": r["max_closed_own_error"],
        }
        for r in data["summary"]
    ]


def _notes(cfg: Config, data: Mapping[str, Any], sweep: Sweep) -> list[str]:
    errs = [r["max_closed_own_error"] for r in data["summary"]]
    errs = [e for e in errs if math.isfinite(e)]
    spreads = [r["rho_spread"] for r in data["seed_rows"] if r["rho_spread"] is not None]
    notes = [
        f"{sweep.instances} cells x axes ({sweep.reused} from the store), "
        f"{cfg.options['points']} points per axis, device {cfg.options['device']} varied.",
    ]
    if errs:
        notes.append(
            f"Theorem 1 check: eq. (22) at each solution's own multipliers differs from the "
            f"continuous optimum by at most {max(errs):.3g} samples; rho over the interior "
            f"devices spreads by at most {max(spreads, default=math.nan):.3g} (relative)."
        )
    return notes


EXPERIMENT = Experiment(
    name=NAME,
    title="FEEL, Remark 2: the optimal batch against the local clock and the uplink rate, "
    "beside Theorem 1's closed form",
    description=(
        "Ren, Yu & Ding, Accelerating DNN Training in Wireless Federated Edge Learning "
        "Systems, Theorem 1 / Remark 2: on feel-cpu (K = 12), one device's clock and, apart, "
        "its uplink rate varied; the continuous and the exact integer optimum of its batch, "
        "and eq. (22) at the solution's own multipliers and at the unchanged cell's; mean "
        "and s.d. over cells."
    ),
    duration="8 s",
    quick_duration="5 s",
    default_seeds=5,
    quick_seeds=2,
    tasks=_tasks,
    worker=remark2_task,
    analyse=_analyse,
    tables=(Table("", SUMMARY_COLUMNS, "summary"), Table("-seeds", SEED_COLUMNS, "seed_rows")),
    figures=(Figure("", _plot),),
    summary=_summary,
    notes=_notes,
    options={"points": None, "device": 0},
    prepare=_prepare,
)
#: Run the reproduction into ``out_dir`` (:meth:`.Experiment.run`; the options and files:
#: the module docstring).
run = EXPERIMENT.run
