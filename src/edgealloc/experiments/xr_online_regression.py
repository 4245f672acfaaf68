r"""``xr-online-regression``: online least squares under server and D2D offloading.

*Collaborative learning for XR* (the XR offloading paper). The paper
optimises the time of one training iteration (Figs. 2-3: the gain
:math:`\max_i T_i / T^*`) and argues that this is the convergence time of
online SGD, because offloading changes who computes a partial gradient but
not the gradient (Section II-A: :math:`\nabla L = \sum_i \nabla L_i`). This
experiment runs the learning itself: N users stream new points every
iteration into a least-squares model with d = 250 features (Table I), and
batched online SGD runs

* with no offloading (every user computes all its points),
* with server offloading (Strategy #1, scheme ``optimal`` of ``offload-server``),
* with D2D offloading (Strategy #2, scheme ``optimal`` of ``offload-d2d``),

on the *same* data stream (:mod:`edgealloc.learn.online_regression`). Each
iteration the user's points ``l_i ~ U[l_min, l_max]`` are drawn (Section
IV-A), the plan is solved for them, the gradient is computed under the plan,
and a simulated clock advances by the plan's evaluated iteration time
(``problem.evaluate(o).iteration_time``).

What it shows: versus *iterations* the three loss curves coincide (the
gradients agree to rounding; the CSV records their largest relative
difference); versus *simulated time* offloading reaches any loss sooner, by
the ratio of iteration times.

Setup
-----
The users' rates come from the presets ``xr-server`` and ``xr-d2d`` (Table I,
one placement per seed, the same users in both; their comments list the
readings taken: N = 20, eta_comp = eta_comm = 0.5, s = 1, a_max = 3e5 MAC/s,
a_S = 5 a_max). Every iteration draws new points l_i ~ U[1000, 2000].

Learning rate: :math:`\alpha_t = 1 / (L_t \lambda_{max}(\Sigma))`, one over
the largest eigenvalue of the expected Hessian :math:`E[X^TX] = L_t\Sigma`
of the iteration's :math:`L_t = \sum_i l_i` points (the step of gradient
descent on the mean loss with unit curvature; stable since :math:`L_t \gg d`).
This rule is fixed in advance, not tuned, and it cannot decide the
comparison: offloading changes who computes each partial gradient, not the
gradient, so at any step size the three runs take the same steps (the
curves versus iterations coincide to rounding, which the CSV checks) and
the time-to-loss gain is the ratio of the iteration times.
Features have condition number :data:`CONDITION`, noise
:math:`\sigma` = :data:`NOISE_STD`: the held-out loss (exact population
loss, :meth:`~edgealloc.learn.LinearStream.population_loss`) reaches
:data:`THRESHOLD_FACTOR` times its floor :math:`\sigma^2/2` in about 20
iterations and the parameter error its SGD-noise floor in about 80.

Quick mode (a smoke test in seconds): fewer iterations and seeds, ten times
fewer points per user (U[100, 200]) and the same points every iteration
(one plan per strategy).

Files written to ``out_dir``
----------------------------
``xr-online-regression.png``
    Excess held-out loss (above the noise floor :math:`\sigma^2/2`) and
    parameter error versus simulated time and versus iterations (mean and
    one s.d. over seeds), the relative difference of the offloading curves
    from the no-offloading curve versus iterations, and the iteration times.
``xr-online-regression.csv``
    One row per (strategy, iteration): statistics over seeds, columns
    :data:`ITERATION_COLUMNS`.
``xr-online-regression-time.csv``
    One row per (strategy, time on a common grid), columns :data:`TIME_COLUMNS`.
``xr-online-regression-seeds.csv``
    Raw, one row per (seed, strategy, iteration), full precision, columns
    :data:`SEED_COLUMNS`.
``xr-online-regression-store.jsonl``
    The sweep's results store.
``xr-online-regression-manifest.json``
    The run configuration and the SHA-256 of every file written (:mod:`._outputs`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._style import GRID, LIMIT_COLOR, scheme_color
from .._version import __version__
from ..learn.online_regression import LinearStream, Strategy, draw_points, train_online
from ..offload.problem import OffloadD2DProblem, OffloadServerProblem
from ._template import Config, Experiment, Figure, Sweep, Table
from ._xr import PRESETS, STRATEGY_STYLE

__all__ = [
    "EXPERIMENT",
    "ITERATION_COLUMNS",
    "SEED_COLUMNS",
    "STRATEGIES",
    "TIME_COLUMNS",
    "problems",
    "run",
    "run_seed",
]

NAME = "xr-online-regression"

#: strategy key -> label.
STRATEGIES: dict[str, str] = {
    "none": "no offloading",
    "server": "server offloading (Strategy #1, optimal)",
    "d2d": "D2D offloading (Strategy #2, optimal)",
}
#: Colour of each strategy's curves: ``none`` is the scheme of that name, the other two
#: the XR strategies' colours.
COLORS = {
    "none": scheme_color("none"),
    "server": STRATEGY_STYLE["server"]["color"],
    "d2d": STRATEGY_STYLE["d2d"]["color"],
}

N_FEATURES = 250
POINTS = (1000, 2000)
POINTS_QUICK = (100, 200)
NOISE_STD = 0.1
CONDITION = 20.0
ITERATIONS = 100
ITERATIONS_QUICK = 25
#: Loss threshold for the time-to-loss summary, relative to the floor sigma^2 / 2.
THRESHOLD_FACTOR = 1.1

#: Per-iteration metrics of a trace, with mean and s.d. over seeds in :data:`ITERATION_COLUMNS`.
STAT_METRICS: tuple[str, ...] = (
    "sim_time_s",
    "iteration_time_s",
    "train_loss",
    "test_loss",
    "excess_loss",
    "param_error",
)
#: Metrics read on the common time grid, with mean and s.d. in :data:`TIME_COLUMNS`.
GRID_METRICS: tuple[str, ...] = ("test_loss", "excess_loss", "param_error")


def _mean_std(metrics: tuple[str, ...]) -> tuple[str, ...]:
    """``metric_mean``, ``metric_std`` for each of ``metrics``."""
    return tuple(f"{c}_{stat}" for c in metrics for stat in ("mean", "std"))


SEED_COLUMNS: tuple[str, ...] = (
    "seed",
    "strategy",
    "iteration",
    *STAT_METRICS,
    "grad_deviation",
    "offloaded",
)
ITERATION_COLUMNS: tuple[str, ...] = (
    "strategy",
    "iteration",
    "seeds",
    *_mean_std(STAT_METRICS),
    "test_loss_rel_diff_max",
    "grad_deviation_max",
)
TIME_COLUMNS: tuple[str, ...] = ("strategy", "time_s", "seeds", *_mean_std(GRID_METRICS))


# ---------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------
def problems(seed: int, **overrides: Any) -> tuple[OffloadServerProblem, OffloadD2DProblem]:
    """The presets ``xr-server`` and ``xr-d2d`` for one seed (the same users in both).

    Only their rates matter here: the points per user are drawn by
    :func:`run_seed` for every iteration and replace the problems' own.
    ``overrides`` are preset aliases such as ``users=8``.
    """
    from ..api import load_problem

    over = {"seed": seed, **overrides}
    server = load_problem(PRESETS["server"], overrides=over)
    d2d = load_problem(PRESETS["d2d"], overrides=over)
    if server.n_users != d2d.n_users or not np.allclose(
        server.compute_rate, d2d.compute_rate, rtol=1e-12, atol=0
    ):
        raise RuntimeError(  # the comparison would not be paired
            f"seed {seed}: presets {PRESETS['server']} and {PRESETS['d2d']} give different users"
        )
    return server, d2d


# ---------------------------------------------------------------------------
# One seed
# ---------------------------------------------------------------------------
def run_seed(task: dict[str, Any]) -> dict[str, Any]:
    """Train the three strategies on one seed's stream; JSON-ready traces."""
    seed = int(task["seed"])
    points = (int(task["points"][0]), int(task["points"][1]))
    server, d2d = problems(seed)
    iterations = int(task["iterations"])
    stream = LinearStream(
        n_features=int(task["d"]),
        noise_std=float(task["noise_std"]),
        condition=float(task["condition"]),
        seed=seed,
    )
    rows = 1 if task["fixed_points"] else iterations
    schedule = draw_points(server.n_users, rows, points[0], points[1], [seed, 11])
    if task["fixed_points"]:
        schedule = schedule[0]  # the same points every iteration
    strategies = {
        "none": Strategy(server, "none"),
        "server": Strategy(server, "optimal"),
        "d2d": Strategy(d2d, "optimal"),
    }
    traces = train_online(stream, strategies, iterations=iterations, points=schedule)
    out: dict[str, Any] = {"n_users": server.n_users, "traces": {}}
    for key, tr in traces.items():
        rec = tr.to_dict()
        rec.pop("beta")
        rec["excess_loss"] = (tr.test_loss - 0.5 * stream.noise_std**2).tolist()
        out["traces"][key] = rec
    return out


def _tasks(cfg: Config) -> list[dict[str, Any]]:
    seeds, quick = cfg.seeds, cfg.quick
    return [
        {
            "experiment": NAME,
            "version": __version__,
            "seed": seed,
            "d": N_FEATURES,
            "noise_std": NOISE_STD,
            "condition": CONDITION,
            "iterations": ITERATIONS_QUICK if quick else ITERATIONS,
            "points": list(POINTS_QUICK if quick else POINTS),
            "fixed_points": quick,
        }
        for seed in range(seeds)
    ]


# ---------------------------------------------------------------------------
# Aggregation and output
# ---------------------------------------------------------------------------
def _stats(values: np.ndarray) -> tuple[float, float]:
    mean = float(values.mean())
    std = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return mean, std


def _by_iteration(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    ref = np.array([r["traces"]["none"]["test_loss"] for r in results])
    for key in STRATEGIES:
        cols = {
            c: np.array([r["traces"][key][c] for r in results], float)
            for c in (*STAT_METRICS, "grad_deviation")
        }
        rel = np.abs(cols["test_loss"] - ref) / ref
        for t in range(ref.shape[1]):
            row: dict[str, Any] = {"strategy": key, "iteration": t, "seeds": len(results)}
            for c in STAT_METRICS:
                row[f"{c}_mean"], row[f"{c}_std"] = _stats(cols[c][:, t])
            row["test_loss_rel_diff_max"] = float(rel[:, t].max())
            row["grad_deviation_max"] = float(np.nanmax(cols["grad_deviation"][:, t]))
            rows.append(row)
    return rows


def _on_grid(results: list[dict[str, Any]], key: str, grid: np.ndarray) -> dict[str, np.ndarray]:
    """Step interpolation: at time tau the model is beta^(t) with S_t <= tau."""
    out: dict[str, list[np.ndarray]] = {c: [] for c in GRID_METRICS}
    for r in results:
        tr = r["traces"][key]
        times = np.asarray(tr["sim_time_s"])
        idx = np.searchsorted(times, grid, side="right") - 1
        for c in out:
            out[c].append(np.asarray(tr[c])[idx])
    return {c: np.array(v) for c, v in out.items()}


def _by_time(results: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    horizon = min(float(r["traces"]["none"]["end_time_s"]) for r in results)
    rows: list[dict[str, Any]] = []
    curves: dict[str, Any] = {}
    for key in STRATEGIES:
        end = min(float(r["traces"][key]["end_time_s"]) for r in results)
        grid = np.linspace(0.0, min(end, horizon), 241)[:-1]
        vals = _on_grid(results, key, grid)
        curves[key] = (grid, vals)
        for j, tau in enumerate(grid):
            row: dict[str, Any] = {"strategy": key, "time_s": float(tau), "seeds": len(results)}
            for c, v in vals.items():
                row[f"{c}_mean"], row[f"{c}_std"] = _stats(v[:, j])
            rows.append(row)
    return rows, curves


def _analyse(
    cfg: Config, tasks: Sequence[Mapping[str, Any]], results: Sequence[Any]
) -> dict[str, Any]:
    """The per-seed, per-iteration and time-grid rows; the time-grid curves for the figure."""
    results = list(results)
    seed_rows = [
        {
            "seed": task["seed"],
            "strategy": key,
            **{c: res["traces"][key][c][t] for c in SEED_COLUMNS[2:]},
        }
        for task, res in zip(tasks, results, strict=True)
        for key in STRATEGIES
        for t in range(len(res["traces"][key]["iteration"]))
    ]
    time_rows, curves = _by_time(results)
    floor = 0.5 * NOISE_STD**2
    return {
        "results": results,
        "seed_rows": seed_rows,
        "iteration_rows": _by_iteration(results),
        "time_rows": time_rows,
        "curves": curves,
        "floor": floor,
        "threshold": THRESHOLD_FACTOR * floor,
    }


def _notes(cfg: Config, d: Mapping[str, Any], sweep: Sweep) -> list[str]:
    it_rows, threshold = d["iteration_rows"], d["threshold"]
    rel = max(r["test_loss_rel_diff_max"] for r in it_rows)
    dev = max(r["grad_deviation_max"] for r in it_rows)
    notes = [
        f"{sweep.instances} seed(s), {sweep.reused} loaded from the store, {sweep.seconds:.1f} s; "
        f"problems: presets {PRESETS['server']} / {PRESETS['d2d']} (one seed each).",
        f"Loss versus iteration: offloading curves differ from no offloading by at most "
        f"{rel:.2g} (relative); gradients by at most {dev:.2g} relative to sum_k |r_k| ||x_k||.",
        f"Time to reach the held-out loss {threshold:.4g} ({THRESHOLD_FACTOR:g} x the floor "
        "sigma^2/2) is in the summary; the paper reports iteration-time gains only.",
    ]
    if cfg.quick:
        notes.append("quick mode: l_i ~ U[100, 200], fixed across iterations; fewer iterations.")
    return notes


def _summary(cfg: Config, d: Mapping[str, Any]) -> list[dict[str, Any]]:
    results, threshold = d["results"], d["threshold"]
    base_iter = np.array([np.mean(r["traces"]["none"]["iteration_time_s"]) for r in results])
    base_hit = np.array([_time_to(r["traces"]["none"], threshold) for r in results], dtype=float)
    rows = []
    for key, label in STRATEGIES.items():
        it = np.array([np.mean(r["traces"][key]["iteration_time_s"]) for r in results])
        hit = np.array([_time_to(r["traces"][key], threshold) for r in results], dtype=float)
        m, s = _stats(it)
        row = {
            "strategy": label,
            "mean iteration time (ms)": f"{1e3 * m:.2f} ± {1e3 * s:.2f}",
            "iteration-time gain": _fmt(base_iter / it),
            f"time to loss {threshold:.3g} (s)": _fmt(hit, 3),
            "time-to-loss gain": _fmt(base_hit / hit),
        }
        rows.append(row)
    return rows


def _time_to(trace: Mapping[str, Any], threshold: float) -> float:
    loss = np.asarray(trace["test_loss"])
    hit = np.flatnonzero(loss <= threshold)
    return float(np.asarray(trace["sim_time_s"])[hit[0]]) if hit.size else math.nan


def _fmt(values: np.ndarray, digits: int = 2) -> str:
    if not np.isfinite(values).all():
        return "—"
    m, s = _stats(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


#: The three curves versus iterations coincide (the same gradients): drawn wide to narrow
#: with different dashes, each on top of the wider one, so all three stay visible.
_COINCIDE: dict[str, dict[str, Any]] = {
    "none": {"linestyle": "-", "linewidth": 5.0, "alpha": 0.55, "zorder": 2},
    "server": {"linestyle": "-", "linewidth": 2.4, "zorder": 3},
    "d2d": {"linestyle": (0, (2, 1.5)), "linewidth": 1.3, "zorder": 4},
}


def _plot(cfg: Config, d: Mapping[str, Any], path: Path) -> None:
    """Loss and parameter error vs simulated time and iterations; differences; iteration times."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    it_rows, curves, threshold, floor = d["iteration_rows"], d["curves"], d["threshold"], d["floor"]
    seeds, quick, n_users = cfg.seeds, cfg.quick, int(d["results"][0]["n_users"])

    fig = Figure(figsize=(15.0, 8.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)

    def band(ax, x, mean, std, key, **kw):
        lo = np.maximum(mean - std, mean / 10)
        ax.plot(x, mean, color=COLORS[key], label=STRATEGIES[key], **kw)
        ax.fill_between(x, lo, mean + std, color=COLORS[key], alpha=0.18, linewidth=0)

    for key in STRATEGIES:
        grid, vals = curves[key]
        for row, metric in enumerate(("excess_loss", "param_error")):
            v = vals[metric]
            m = v.mean(axis=0)
            s = v.std(axis=0, ddof=1) if v.shape[0] > 1 else np.zeros_like(m)
            band(axes[row, 0], grid, m, s, key, drawstyle="steps-post")
        rows = [r for r in it_rows if r["strategy"] == key]
        x = np.array([r["iteration"] for r in rows])
        for row, metric in enumerate(("excess_loss", "param_error")):
            m = np.array([r[f"{metric}_mean"] for r in rows])
            s = np.array([r[f"{metric}_std"] for r in rows])
            band(axes[row, 1], x, m, s, key, **_COINCIDE[key])
        if key != "none":
            rel = np.array([r["test_loss_rel_diff_max"] for r in rows])
            dev = np.array([r["grad_deviation_max"] for r in rows])
            axes[0, 2].semilogy(
                x,
                np.maximum(rel, 1e-18),
                color=COLORS[key],
                label=f"{key}: held-out loss (max over seeds)",
            )
            axes[0, 2].semilogy(
                x,
                np.maximum(dev, 1e-18),
                color=COLORS[key],
                linestyle=":",
                label=f"{key}: gradient (rel. to " + r"$\sum_k |r_k|\,\|x_k\|$)",
            )
        t_mean = np.array([r["iteration_time_s_mean"] for r in rows])
        t_std = np.array([r["iteration_time_s_std"] for r in rows])
        axes[1, 2].plot(x, 1e3 * t_mean, color=COLORS[key], label=STRATEGIES[key])
        axes[1, 2].fill_between(
            x, 1e3 * (t_mean - t_std), 1e3 * (t_mean + t_std), color=COLORS[key], alpha=0.18
        )
    for ax in axes[:, :2].ravel():
        ax.set_yscale("log")
        ax.grid(True, which="major", **GRID)
    for ax in axes[0, :2]:
        ax.axhline(threshold - floor, color=LIMIT_COLOR, linewidth=0.8, linestyle=":")
    axes[0, 0].text(
        0.98,
        0.93,
        f"excess = held-out loss $-\\ \\sigma^2/2$ ($\\sigma^2/2$ = {floor:g})\n"
        f"dotted: held-out loss = {THRESHOLD_FACTOR:g} $\\times\\ \\sigma^2/2$",
        transform=axes[0, 0].transAxes,
        ha="right",
        va="top",
        fontsize=8.5,
    )
    axes[0, 0].set_title("excess held-out loss vs simulated time")
    axes[1, 0].set_title(r"parameter error $\|\beta - \beta^*\|$ vs simulated time")
    axes[0, 1].set_title("excess held-out loss vs iteration (the curves coincide)", fontsize=11)
    axes[1, 1].set_title("parameter error vs iteration")
    axes[0, 2].set_title("|offloading − none| / none per iteration")
    axes[0, 2].set_ylabel(r"relative difference (exact 0 drawn at $10^{-18}$)")
    axes[1, 2].set_title("iteration time $T_t$ (evaluated plan)")
    axes[0, 0].set_ylabel(r"$\frac{1}{2}E[(x^T\beta - y)^2] - \sigma^2/2$")
    axes[1, 0].set_ylabel(r"$\|\beta - \beta^*\|_2$")
    for ax in axes[:, 0]:
        ax.set_xlabel("simulated time (s)")
    for ax in axes[:, 1:].ravel():
        ax.set_xlabel("iteration $t$")
    axes[1, 2].set_ylabel("ms")
    axes[1, 2].set_ylim(bottom=0)
    axes[0, 2].set_ylim(1e-18, 1e-9)
    axes[0, 2].grid(True, which="major", **GRID)
    axes[1, 2].grid(True, **GRID)
    axes[0, 0].legend(fontsize=9, loc="center right")
    axes[0, 1].legend(fontsize=8, loc="upper right", title="drawn wide to narrow", title_fontsize=8)
    axes[0, 2].legend(fontsize=7.5, loc="upper right")
    mode = " (quick)" if quick else ""
    fig.suptitle(
        f"XR online least squares, $N$ = {n_users}, $d$ = {N_FEATURES}{mode}: same stream, same "
        f"gradients; offloading shortens each iteration (mean ± 1 s.d. over {seeds} seed(s))",
        fontsize=12,
    )
    fig.savefig(path, dpi=100)


EXPERIMENT = Experiment(
    name=NAME,
    title="XR offloading: online least squares vs simulated time (no/server/D2D)",
    description=(
        "Collaborative learning for XR (xr-offloading), Section II-A: online "
        "least-squares regression (d = 250) by batched online SGD on one data "
        "stream with no offloading, server offloading and D2D offloading (optimal "
        "plans per iteration); loss and parameter error vs simulated time and vs "
        "iterations (identical gradients), over seeds."
    ),
    duration="3 min 27 s",
    quick_duration="4 s",
    default_seeds=5,
    quick_seeds=2,
    tasks=_tasks,
    worker=run_seed,
    analyse=_analyse,
    tables=(
        Table("", ITERATION_COLUMNS, "iteration_rows", digits=None),
        Table("-time", TIME_COLUMNS, "time_rows", digits=None),
        Table("-seeds", SEED_COLUMNS, "seed_rows", digits=None),
    ),
    figures=(Figure("", _plot),),
    summary=_summary,
    notes=_notes,
)
#: Run the experiment into ``out_dir`` (:meth:`.Experiment.run`; files: the module docstring).
run = EXPERIMENT.run
