r"""``xr-heterogeneity``: Figs. 1 and 2 of the XR offloading paper.

*Collaborative learning in extended reality: offloading to an edge server or
to neighbours* (``seeds/xr-offloading.txt``), Section IV. The gain of a
strategy is the ratio of the iteration time without offloading to the
optimised one,

.. math::

    G = \frac{\max_i T_i}{T^*}, \qquad T_i = \frac{m\,l_i}{a_i},

(Fig. 2's vertical axis), for Strategy #1, offloading to the edge server
(family ``offload-server``, preset ``xr-server``) and Strategy #2, D2D
offloading to neighbours (``offload-d2d``, preset ``xr-d2d``). Offloading
never hurts (``none`` is feasible), so ``G >= 1``.

**Fig. 2** plots G against the computational heterogeneity factor
:math:`\eta_{comp}` (panel ``comp``, :math:`\eta_{comm}` fixed at
:data:`ETA_FIXED`) and against the communications factor
:math:`\eta_{comm}` (panel ``comm``, :math:`\eta_{comp}` fixed at
:data:`ETA_FIXED`), mean and one sample standard deviation over 5000
experiments per point. The paper states neither the fixed value of the
other factor, nor N, nor the steepness s: we fix the other factor at 0.5,
take N from the presets and s = 1 (:data:`STEEPNESS`: the capacities fall
linearly from the strongest to the weakest user). :math:`\eta = 1` is left
out of the grid: eq. (2) then gives the weakest user :math:`C_N = 0`, a
zero compute rate (an infinite ``max_i T_i``).

An *experiment* is one seed: the preset draws the users' positions in the
disc and their points :math:`l_i \sim U[l_{min}, l_{max}]` from it, and the
same seed gives the same users, positions and points to both strategies
(checked: a comparison of the two is paired). Two values per strategy:

* ``optimal`` — the exact whole-point optimum (server) / whole points
  rounded from the LP optimum (D2D), i.e. ``solve(p, "optimal")``;
* ``relaxed`` — the continuous optimum (Proposition 1's :math:`T^*` / the LP
  (P2)), the bound that scheme reports (``relaxed_bound`` for the
  server, ``bound`` for D2D), so ``relaxed >= optimal`` in gain.

Neither D2D problem depends on :math:`\eta_{comm}` (it sets the users'
*server* uplinks), so a task solves the D2D problem once and the server
problem for each :math:`\eta_{comm}` it covers; the whole ``comm`` panel
shares the D2D solutions of the point :math:`\eta_{comp} = 0.5`.

**Fig. 1** (``xr-heterogeneity-function.png``) draws the heterogeneity
function, eq. (2),
:math:`C_i = \eta\,(1 - ((i - 1)/(N - 1))^s)^{1/s} + (1 - \eta)`, which
sets :math:`a_i = C_i^{(a)} a_{max}` and :math:`r_i = C_i^{(r)} r_{max}`; it
ranges over :math:`[1 - \eta, 1]` (the text's ":math:`a_{min} = \eta
a_{max}`" contradicts eq. (2); we follow eq. (2)).

Files written to ``out_dir``
----------------------------
``xr-heterogeneity.png``
    Fig. 2: gain vs :math:`\eta_{comp}` and vs :math:`\eta_{comm}`, mean ± one
    sample s.d. (error bars) of ``optimal``, and the mean of ``relaxed``.
``xr-heterogeneity-function.png``
    Fig. 1: :math:`C_i` against the user index for several :math:`\eta` and s.
``xr-heterogeneity.csv``
    One row per (panel, point, strategy, scheme); columns
    :data:`SUMMARY_COLUMNS` (see :data:`COLUMN_DOCS`).
``xr-heterogeneity-compare.csv``
    The paired comparison, one row per (panel, point, scheme); columns
    :data:`COMPARE_COLUMNS`.
``xr-heterogeneity-seeds.csv``
    One row per (eta_comp, eta_comm, seed); columns :data:`SEED_COLUMNS`.
``xr-heterogeneity-store.jsonl``
    The sweep's results store (one line per task: a grid point and a block
    of :data:`BLOCK` seeds); re-runs reuse it.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._version import __version__
from ..api import solve
from ..errors import EdgeallocError
from ..system.fleet import heterogeneity
from ._common import ExperimentOutput, run_tasks, write_csv

__all__ = [
    "BLOCK",
    "COLUMN_DOCS",
    "COMM_GRID",
    "COMPARE_COLUMNS",
    "COMP_GRID",
    "ETA_FIXED",
    "PRESETS",
    "SEED_COLUMNS",
    "STEEPNESS",
    "SUMMARY_COLUMNS",
    "build_problem",
    "run",
    "solve_block",
]

NAME = "xr-heterogeneity"
#: strategy -> preset compiled for it.
PRESETS: dict[str, str] = {"server": "xr-server", "d2d": "xr-d2d"}
STRATEGIES: tuple[str, ...] = ("server", "d2d")
SCHEMES: tuple[str, ...] = ("optimal", "relaxed")
#: The heterogeneity factor held fixed in each panel (the paper does not say).
ETA_FIXED = 0.5
#: Heterogeneity steepness s of both C^(a) and C^(r) in Fig. 2 (the paper does not say).
STEEPNESS = 1.0
#: eta_comp grid (eta_comp = 1 would give the weakest user a zero compute rate).
COMP_GRID: tuple[float, ...] = tuple(round(0.1 * k, 10) for k in range(10))  # 0 .. 0.9
#: eta_comm grid (eta_comm = 1: the weakest user has no uplink and cannot offload).
COMM_GRID: tuple[float, ...] = tuple(round(0.1 * k, 10) for k in range(11))  # 0 .. 1
COMP_GRID_QUICK: tuple[float, ...] = (0.0, 0.3, 0.6, 0.9)
COMM_GRID_QUICK: tuple[float, ...] = (0.0, 0.3, 0.6, 1.0)
#: Seeds per task (a task is one grid point and a block of seeds).
BLOCK = 250
#: D2D is solved with whole points (``optimal``: the LP plus a rounding that costs ~6x
#: the LP at N = 20) on the first seeds of every point, and as the LP alone
#: (``relaxed``) on the rest; the two differ by < 0.1 % (see :func:`rounding_note`).
D2D_WHOLE_POINTS = 100
#: ``--quick``: whole-point D2D on the first 5 seeds only.
QUICK_D2D_WHOLE_POINTS = 5
DEFAULT_SEEDS = 5000
QUICK_SEEDS = 20

#: Override keys of the presets (``edgealloc.load_problem(preset, overrides=...)``).
OVERRIDE_KEYS: dict[str, str] = {
    "eta_comp": "heterogeneity.eta_comp",
    "eta_comm": "heterogeneity.eta_comm",
    "s": "heterogeneity.s",
    "users": "devices.count",
    "seed": "seed",
}

SUMMARY_COLUMNS: tuple[str, ...] = (
    "panel",
    "eta_comp",
    "eta_comm",
    "users",
    "s",
    "strategy",
    "scheme",
    "seeds",
    "ok",
    "failed",
    "mean",
    "std",
    "min",
    "median",
    "max",
)
COMPARE_COLUMNS: tuple[str, ...] = (
    "panel",
    "eta_comp",
    "eta_comm",
    "users",
    "s",
    "scheme",
    "seeds",
    "server_mean",
    "d2d_mean",
    "diff_mean",
    "diff_std",
    "d2d_better",
)
SEED_COLUMNS: tuple[str, ...] = (
    "eta_comp",
    "eta_comm",
    "users",
    "s",
    "seed",
    "no_offload_time",
    "server_optimal",
    "server_relaxed",
    "d2d_optimal",
    "d2d_relaxed",
)

#: What each CSV column holds (also in docs/reproductions.md).
COLUMN_DOCS: dict[str, str] = {
    "panel": "comp (x = eta_comp) or comm (x = eta_comm) for Fig. 2; s=0.5 / s=2 for Fig. 3",
    "eta_comp": "computational heterogeneity factor eta of C^(a) (eq. (2))",
    "eta_comm": "communications heterogeneity factor eta of C^(r), the server uplinks",
    "users": "number of users N",
    "s": "heterogeneity steepness s of both C^(a) and C^(r)",
    "strategy": "server (Strategy #1, offload-server) or d2d (Strategy #2, offload-d2d)",
    "scheme": "optimal (whole points) or relaxed (continuous optimum)",
    "seeds": "experiments (seeds) run at the point; in the -compare file, the paired "
    "experiments where both strategies returned a value",
    "ok": "experiments where the scheme returned a value",
    "failed": "experiments where the solver raised or returned no allocation",
    "mean, std, min, median, max": "of the gain max_i T_i / T* over the ok experiments "
    "(std: one sample standard deviation)",
    "server_mean, d2d_mean": "mean gains of the two strategies over the experiments where "
    "both returned a value",
    "diff_mean, diff_std": "mean and sample s.d. of the paired difference d2d gain - server gain",
    "d2d_better": "share of those experiments where D2D's gain exceeds the server's",
    "no_offload_time": "max_i T_i of the experiment (s), the same for both strategies",
    "server_optimal, ...": "gain of each strategy and scheme for one seed",
}


# ---------------------------------------------------------------------------
# One task: a grid point x a block of seeds
# ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _preset(name: str) -> dict[str, Any]:
    from ..scenarios import PRESETS as SCENARIO_PRESETS

    return SCENARIO_PRESETS[name]()


def _overrides(values: Mapping[str, Any]) -> dict[str, Any]:
    return {OVERRIDE_KEYS[k]: v for k, v in values.items() if v is not None}


def build_problem(strategy: str, point: Mapping[str, Any], seed: int) -> Any:
    """The ``strategy``'s problem of one experiment (``point``: eta_comp, eta_comm, users, s).

    Compiles the preset :data:`PRESETS` ``[strategy]`` with the overrides
    :data:`OVERRIDE_KEYS` (``users=None`` keeps the preset's N; ``eta_comm``
    only matters to the server problem: D2D heterogeneity comes from the
    positions).
    """
    from ..scenarios import compile_scenario

    values = {"seed": seed, **{k: point.get(k) for k in _KEY_COLUMNS}}
    return compile_scenario(_preset(PRESETS[strategy]), overrides=_overrides(values))


SKIPPED = "relaxed-only"


def _gains(problem: Any, whole_points: bool = True) -> tuple[float | None, float | None, str]:
    """``(optimal gain, relaxed gain, status)`` of one problem (``None`` where none).

    With ``whole_points`` the scheme ``optimal`` is solved; its relaxed value
    is the continuous optimum it reports as a by-product
    (``relaxed_bound`` for the server, ``bound``, the LP optimum, for
    D2D). Without, only ``relaxed`` is solved and the status is
    :data:`SKIPPED`.
    """
    try:
        res = solve(problem, "optimal" if whole_points else "relaxed", raise_infeasible=False)
    except EdgeallocError as exc:
        return None, None, f"error: {exc}"
    if not res.success or not res.objective > 0:
        return None, None, res.status.value
    base = problem.no_offload_time
    if not whole_points:
        return None, base / res.objective, SKIPPED
    # The server's optimal proves its own optimum (bound = objective) and reports
    # the continuous one as relaxed_bound; D2D's bound is the LP optimum itself.
    relaxed_t = res.relaxed_bound if math.isfinite(res.relaxed_bound) else res.bound
    relaxed = base / relaxed_t if relaxed_t > 0 and math.isfinite(relaxed_t) else None
    return base / res.objective, relaxed, res.status.value


def _append(out: dict[str, list[Any]], values: tuple[float | None, float | None, str]) -> None:
    for key, value in zip(("optimal", "relaxed", "status"), values, strict=True):
        out[key].append(value)


def solve_block(task: dict[str, Any]) -> dict[str, Any]:
    """Run the experiments of one task: a point and the seeds ``range(*task["seeds"])``.

    ``task["point"]`` has ``eta_comp``, ``users`` (``None``: the preset's N)
    and ``s``; ``task["eta_comm"]`` lists the uplink factors for the server
    problem. D2D is solved with whole points (``optimal``, which also gives
    the LP value) for seeds below ``task["d2d_whole_points"]``, and as the LP
    alone (``relaxed``) for the others. Returns per seed the no-offloading time and the
    gains of ``d2d`` (once) and ``server`` (one entry per ``eta_comm``),
    ``None`` where a solver returned nothing, the statuses, and the solver
    seconds.

    Raises
    ------
    RuntimeError
        If the two presets give a seed different users (points or compute
        rates): the comparison would not be paired.
    """
    point = dict(task["point"])
    etas = list(task["eta_comm"])
    whole_below = int(task["d2d_whole_points"])
    base: list[float] = []
    d2d: dict[str, list[Any]] = {"optimal": [], "relaxed": [], "status": []}
    server: list[dict[str, list[Any]]] = [
        {"optimal": [], "relaxed": [], "status": []} for _ in etas
    ]
    seconds = {"server": 0.0, "d2d": 0.0, "build": 0.0}
    for seed in range(*task["seeds"]):
        t0 = time.perf_counter()
        pd = build_problem("d2d", point, seed)
        ps = [build_problem("server", {**point, "eta_comm": e}, seed) for e in etas]
        t1 = time.perf_counter()
        for q in ps:
            if not (
                np.array_equal(q.points, pd.points)
                and np.allclose(q.compute_rate, pd.compute_rate, rtol=1e-12, atol=0)
            ):
                raise RuntimeError(
                    f"seed {seed}: presets {PRESETS['server']} and {PRESETS['d2d']} give "
                    "different users (points or compute rates); the comparison is not paired"
                )
        base.append(float(pd.no_offload_time))
        _append(d2d, _gains(pd, seed < whole_below))
        t2 = time.perf_counter()
        for out, q in zip(server, ps, strict=True):
            _append(out, _gains(q))
        t3 = time.perf_counter()
        seconds["build"] += t1 - t0
        seconds["d2d"] += t2 - t1
        seconds["server"] += t3 - t2
    return {
        "no_offload_time": base,
        "d2d": d2d,
        "server": dict(zip(map(repr, etas), server, strict=True)),
        "seconds": seconds,
    }


def blocks(seeds: int, block: int) -> list[list[int]]:
    """``[start, stop)`` seed ranges of at most ``block`` seeds, aligned to multiples of it.

    Aligned blocks keep their task keys when ``seeds`` grows, so a larger
    run reuses the smaller one's store.

    Examples
    --------
    >>> blocks(5, 2)
    [[0, 2], [2, 4], [4, 5]]
    """
    return [[a, min(a + block, seeds)] for a in range(0, seeds, block)]


def make_tasks(
    name: str,
    groups: Iterable[tuple[Mapping[str, Any], Sequence[float], int]],
    block: int,
    whole_points: int,
) -> list[dict[str, Any]]:
    """One task per (point, eta_comm list, seeds) group and block of seeds.

    D2D gets whole points (scheme ``optimal``) on the seeds below
    ``whole_points`` and the LP alone (``relaxed``) on the others.
    """
    return [
        {
            "experiment": name,
            "version": __version__,
            "point": dict(point),
            "eta_comm": [float(e) for e in etas],
            "seeds": rng,
            "d2d_whole_points": int(whole_points),
        }
        for point, etas, seeds in groups
        for rng in blocks(seeds, block)
    ]


# ---------------------------------------------------------------------------
# Collecting and aggregating
# ---------------------------------------------------------------------------
Key = tuple[float, float, Any, float]  # (eta_comp, eta_comm, users, s)
_KEY_COLUMNS: tuple[str, ...] = ("eta_comp", "eta_comm", "users", "s")


def _key_columns(key: Key) -> dict[str, Any]:
    """A point's key as its columns ``eta_comp``, ``eta_comm``, ``users`` and ``s``."""
    return dict(zip(_KEY_COLUMNS, key, strict=True))


def collect(
    tasks: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]]
) -> tuple[dict[Key, dict[str, Any]], dict[str, float]]:
    """Per-seed values by ``(eta_comp, eta_comm, users, s)``, and the total solver seconds.

    Each entry has ``seed`` and ``no_offload_time`` (arrays) and, for
    ``server_optimal``, ``server_relaxed``, ``d2d_optimal``, ``d2d_relaxed``,
    float arrays with NaN where no value came back, with ``<column>_run``
    masks of the seeds where the value was computed at all (D2D whole points
    only run on some seeds); ``failed_<strategy>`` counts.
    """
    acc: dict[Key, dict[str, list[Any]]] = {}
    seconds = {"server": 0.0, "d2d": 0.0, "build": 0.0}
    for task, res in zip(tasks, results, strict=True):
        pt = task["point"]
        for k in seconds:
            seconds[k] += float(res["seconds"].get(k, 0.0))
        seeds = list(range(*task["seeds"]))
        for eta in task["eta_comm"]:
            key: Key = (pt["eta_comp"], float(eta), pt.get("users"), pt["s"])
            srv = res["server"][repr(float(eta))]
            a = acc.setdefault(
                key,
                {
                    c: []
                    for c in (
                        "seed",
                        "no_offload_time",
                        "status_server",
                        "status_d2d",
                        *_VALUE_COLS,
                    )
                },
            )
            a["seed"] += seeds
            a["no_offload_time"] += res["no_offload_time"]
            a["status_server"] += srv["status"]
            a["status_d2d"] += res["d2d"]["status"]
            for scheme in SCHEMES:
                a[f"server_{scheme}"] += srv[scheme]
                a[f"d2d_{scheme}"] += res["d2d"][scheme]
    out: dict[Key, dict[str, Any]] = {}
    for key, a in acc.items():
        order = np.argsort(a["seed"], kind="stable")
        entry: dict[str, Any] = {
            "seed": np.asarray(a["seed"])[order],
            "no_offload_time": np.asarray(a["no_offload_time"], float)[order],
        }
        for col in _VALUE_COLS:
            entry[col] = np.array([np.nan if v is None else v for v in a[col]], float)[order]
            entry[f"{col}_run"] = np.ones(order.size, bool)
        skipped = np.asarray([st == SKIPPED for st in a["status_d2d"]], bool)[order]
        entry["d2d_optimal_run"] = ~skipped
        for strategy in STRATEGIES:
            st = a[f"status_{strategy}"]
            entry[f"failed_{strategy}"] = sum(s not in ("optimal", "feasible", SKIPPED) for s in st)
            entry[f"errors_{strategy}"] = sorted({s for s in st if s.startswith("error")})[:3]
        out[key] = entry
    return out, seconds


_VALUE_COLS = tuple(f"{st}_{sc}" for st in STRATEGIES for sc in SCHEMES)


def _stats(values: NDArray[np.float64]) -> dict[str, Any]:
    ok = values[np.isfinite(values)]
    if ok.size == 0:
        return {
            "ok": 0,
            "mean": math.nan,
            "std": math.nan,
            "min": math.nan,
            "median": math.nan,
            "max": math.nan,
        }
    return {
        "ok": int(ok.size),
        "mean": float(ok.mean()),
        "std": float(ok.std(ddof=1)) if ok.size > 1 else 0.0,
        "min": float(ok.min()),
        "median": float(np.median(ok)),
        "max": float(ok.max()),
    }


def summary_rows(
    data: Mapping[Key, Mapping[str, Any]], panels: Sequence[tuple[str, Key]]
) -> list[dict[str, Any]]:
    """Rows of :data:`SUMMARY_COLUMNS`, one per (panel, point, strategy, scheme)."""
    rows = []
    for panel, key in panels:
        entry = data[key]
        for strategy in STRATEGIES:
            for scheme in SCHEMES:
                ran = entry[f"{strategy}_{scheme}_run"]
                vals = entry[f"{strategy}_{scheme}"][ran]
                rows.append(
                    {
                        "panel": panel,
                        **_key_columns(key),
                        "strategy": strategy,
                        "scheme": scheme,
                        "seeds": int(vals.size),
                        "failed": int(vals.size - np.isfinite(vals).sum()),
                        **_stats(vals),
                    }
                )
    return rows


def compare_rows(
    data: Mapping[Key, Mapping[str, Any]], panels: Sequence[tuple[str, Key]]
) -> list[dict[str, Any]]:
    """Rows of :data:`COMPARE_COLUMNS`: the paired comparison of the strategies."""
    rows = []
    for panel, key in panels:
        entry = data[key]
        for scheme in SCHEMES:
            srv, d2d = entry[f"server_{scheme}"], entry[f"d2d_{scheme}"]
            both = np.isfinite(srv) & np.isfinite(d2d)
            diff = d2d[both] - srv[both]
            rows.append(
                {
                    "panel": panel,
                    **_key_columns(key),
                    "scheme": scheme,
                    "seeds": int(both.sum()),
                    "server_mean": float(srv[both].mean()) if both.any() else math.nan,
                    "d2d_mean": float(d2d[both].mean()) if both.any() else math.nan,
                    "diff_mean": float(diff.mean()) if diff.size else math.nan,
                    "diff_std": float(diff.std(ddof=1)) if diff.size > 1 else math.nan,
                    "d2d_better": float((diff > 0).mean()) if diff.size else math.nan,
                }
            )
    return rows


def seed_rows(data: Mapping[Key, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows of :data:`SEED_COLUMNS`."""
    rows = []
    for key in sorted(data, key=lambda k: (k[2] or 0, k[3], k[0], k[1])):
        e = data[key]
        for j in range(e["seed"].size):
            row = {
                **_key_columns(key),
                "seed": int(e["seed"][j]),
                "no_offload_time": float(e["no_offload_time"][j]),
            }
            for col in _VALUE_COLS:
                row[col] = float(e[col][j])
            rows.append(row)
    return rows


def rounding_note(data: Mapping[Key, Mapping[str, Any]], whole_points: int) -> str:
    """How much whole points cost against the continuous optimum (relative time increase)."""
    parts = []
    for strategy in STRATEGIES:
        gaps = [
            e[f"{strategy}_relaxed"][e[f"{strategy}_optimal_run"]]
            / e[f"{strategy}_optimal"][e[f"{strategy}_optimal_run"]]
            - 1
            for e in data.values()
        ]
        g = np.concatenate(gaps) if gaps else np.zeros(0)
        g = g[np.isfinite(g)]
        if g.size:
            parts.append(
                f"{strategy} {100 * g.mean():.3f} % on average, {100 * g.max():.3f} % at most "
                f"({g.size} experiments)"
            )
    return (
        f"D2D with whole points (scheme optimal: the LP, then rounding) on the first "
        f"{whole_points} seeds of every point, the LP alone (relaxed) on the others. Whole "
        "points lengthen the iteration over the continuous optimum by " + "; ".join(parts) + "."
    )


def problem_notes(data: Mapping[Key, Mapping[str, Any]]) -> list[str]:
    """Notes on experiments where a solver returned no value."""
    notes = []
    for strategy in STRATEGIES:
        failed = sum(e[f"failed_{strategy}"] for e in data.values())
        if failed:
            errs = sorted({m for e in data.values() for m in e[f"errors_{strategy}"]})[:2]
            notes.append(
                f"{strategy}: {failed} experiment(s) returned no allocation "
                f"(left out of the statistics){': ' + '; '.join(errs) if errs else ''}."
            )
    return notes


def below_one(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Rows whose minimum gain is below 1 (offloading made it slower: a solver bug)."""
    return [
        f"{r['strategy']} {r['scheme']} at eta_comp={r['eta_comp']:g}, "
        f"eta_comm={r['eta_comm']:g}, N={r['users']}, s={r['s']:g}: min gain {r['min']:.6g}"
        for r in rows
        if math.isfinite(r["min"]) and r["min"] < 1 - 1e-9
    ]


# ---------------------------------------------------------------------------
# The reproduction
# ---------------------------------------------------------------------------
def _groups(quick: bool) -> tuple[list[tuple[dict[str, Any], list[float]]], list[tuple[str, Key]]]:
    """Task groups (D2D point, server eta_comm list) and the (panel, key) of every point.

    A group is one eta_comp: D2D is solved once per seed, the server for
    each eta_comm of the group (only :data:`ETA_FIXED`, except at
    eta_comp = :data:`ETA_FIXED`, whose group covers the whole ``comm`` panel).
    """
    comp_grid = COMP_GRID_QUICK if quick else COMP_GRID
    comm_grid = COMM_GRID_QUICK if quick else COMM_GRID
    n = preset_users()
    groups = []
    for eta_comp in sorted({*comp_grid, ETA_FIXED}):
        etas = sorted({*comm_grid, ETA_FIXED}) if eta_comp == ETA_FIXED else [ETA_FIXED]
        point = {"eta_comp": float(eta_comp), "users": n, "s": STEEPNESS}
        groups.append((point, [float(e) for e in etas]))
    panels: list[tuple[str, Key]] = [
        ("comp", (float(x), ETA_FIXED, n, STEEPNESS)) for x in comp_grid
    ] + [("comm", (ETA_FIXED, float(x), n, STEEPNESS)) for x in comm_grid]
    return groups, panels


def run(
    out_dir: Path,
    *,
    seeds: int | None = None,
    workers: int | None = None,
    quick: bool = False,
    progress: bool = True,
) -> ExperimentOutput:
    """Run the reproduction into ``out_dir`` (see the module docstring for the files)."""
    seeds = seeds if seeds is not None else (QUICK_SEEDS if quick else DEFAULT_SEEDS)
    out_dir = Path(out_dir)
    groups, panels = _groups(quick)
    whole = QUICK_D2D_WHOLE_POINTS if quick else D2D_WHOLE_POINTS
    tasks = make_tasks(NAME, [(pt, etas, seeds) for pt, etas in groups], BLOCK, whole)
    sweep = run_tasks(NAME, solve_block, tasks, out_dir, workers=workers, progress=progress)
    data, seconds = collect(tasks, sweep.results)
    users = preset_users()
    rows = summary_rows(data, panels)
    comp = compare_rows(data, panels)
    files = [
        _plot(rows, out_dir / f"{NAME}.png", seeds, users),
        plot_heterogeneity(out_dir / f"{NAME}-function.png"),
        write_csv(out_dir / f"{NAME}.csv", rows, SUMMARY_COLUMNS),
        write_csv(out_dir / f"{NAME}-compare.csv", comp, COMPARE_COLUMNS),
        write_csv(out_dir / f"{NAME}-seeds.csv", seed_rows(data), SEED_COLUMNS),
        sweep.store,
    ]
    n_exp = sum(e["seed"].size for e in data.values())
    notes = [
        f"{len(tasks)} tasks ({sweep.reused} loaded from the store): {seeds} experiments per "
        f"point, {n_exp} server and {len(groups) * seeds} D2D problems solved; wall "
        f"{sweep.seconds:.1f} s (solver CPU: server {seconds['server']:.1f} s, D2D "
        f"{seconds['d2d']:.1f} s, building instances {seconds['build']:.1f} s).",
        f"N = {users} users (preset default), s = {STEEPNESS:g}; the other factor is fixed at "
        f"{ETA_FIXED:g} in each panel.",
        rounding_note(data, whole),
        *problem_notes(data),
        *(f"gain below 1 (a solver bug): {m}" for m in below_one(rows)),
        *claims_fig2(comp),
    ]
    return ExperimentOutput(files=files, summary=_summary(rows, comp), notes=notes)


def preset_users() -> int:
    """N of the presets (``devices.count``), the N of Fig. 2."""
    node: Any = _preset(PRESETS["server"])
    for part in OVERRIDE_KEYS["users"].split("."):
        node = node[part]
    return int(node)


def _summary(
    rows: Sequence[Mapping[str, Any]], comp: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    most = max((r["seeds"] for r in rows), default=0)

    def fmt(r: Mapping[str, Any] | None) -> str:
        if r is None or not math.isfinite(r["mean"]):
            return "—"
        n = "" if r["seeds"] == most else f" ({r['seeds']} exp.)"
        return f"{r['mean']:.3f} ± {r['std']:.3f}{n}"

    index = {
        (r["panel"], r["eta_comp"], r["eta_comm"], r["strategy"], r["scheme"]): r for r in rows
    }
    better = {(r["panel"], r["eta_comp"], r["eta_comm"]): r for r in paired(comp)}
    out = []
    for panel, x_name in (("comp", "eta_comp"), ("comm", "eta_comm")):
        for r in rows:
            if r["panel"] != panel or r["strategy"] != "server" or r["scheme"] != "optimal":
                continue
            k = (panel, r["eta_comp"], r["eta_comm"])
            b = better.get(k)
            out.append(
                {
                    "panel": f"vs {x_name}",
                    "eta": r[x_name],
                    "server optimal": fmt(index.get((*k, "server", "optimal"))),
                    "server relaxed": fmt(index.get((*k, "server", "relaxed"))),
                    "D2D optimal": fmt(index.get((*k, "d2d", "optimal"))),
                    "D2D relaxed": fmt(index.get((*k, "d2d", "relaxed"))),
                    "D2D ahead in": f"{100 * b['d2d_better']:.0f} % of {b['seeds']}" if b else "—",
                }
            )
    return out


def paired(comp: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Per point, the comparison row over the most paired experiments (``optimal`` on a tie).

    Whole-point D2D may run on a subset of the seeds only; the continuous
    optimum runs on all of them, and the two differ by < 0.1 %.
    """
    best: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for r in comp:
        k = (r["panel"], r["eta_comp"], r["eta_comm"], r["users"], r["s"])
        cur = best.get(k)
        if cur is None or (r["seeds"], r["scheme"] == "optimal") > (
            cur["seeds"],
            cur["scheme"] == "optimal",
        ):
            best[k] = r
    return list(best.values())


def main_scheme(rows: Sequence[Mapping[str, Any]], strategy: str) -> str:
    """The strategy's scheme run on the most experiments: ``optimal`` unless whole points
    ran on a subset only (D2D), then ``relaxed``."""
    total = {
        scheme: sum(r["seeds"] for r in rows if r["strategy"] == strategy and r["scheme"] == scheme)
        for scheme in SCHEMES
    }
    return "optimal" if total["optimal"] >= total["relaxed"] else "relaxed"


def claims_fig2(comp: Sequence[Mapping[str, Any]]) -> list[str]:
    """The paper's claims on Fig. 2 (Section IV-B), quoted, each with what we find."""
    opt = paired(comp)
    comm = sorted((r for r in opt if r["panel"] == "comm"), key=lambda r: r["eta_comm"])
    cmp_ = sorted((r for r in opt if r["panel"] == "comp"), key=lambda r: r["eta_comp"])
    notes = []
    if len(comm) >= 2:
        diffs = [r["diff_mean"] for r in comm]
        trend = float(np.polyfit([r["eta_comm"] for r in comm], diffs, 1)[0])
        d2d_wins = [r["eta_comm"] for r in comm if r["diff_mean"] > 0]
        # "Holds": D2D's advantage grows as the uplinks get weaker and D2D is ahead at the
        # weak-uplink end; "partly": it grows, but D2D never gets ahead (or is ahead at the
        # strong-uplink end too).
        if trend > 0 and d2d_wins and comm[-1]["diff_mean"] > 0 and comm[0]["diff_mean"] <= 0:
            verdict = "Holds"
        elif trend > 0:
            verdict = "Partly holds"
        else:
            verdict = "Does not hold"
        notes.append(
            'Claim (Fig. 2): "D2D-aided offloading is more beneficial if the users have '
            'low-rate links to the edge server." '
            + verdict
            + f": as eta_comm grows (weaker uplinks), the mean gain of D2D minus the server's "
            f"goes from {diffs[0]:+.3f} (eta_comm={comm[0]['eta_comm']:g}) to {diffs[-1]:+.3f} "
            f"(eta_comm={comm[-1]['eta_comm']:g}); D2D is ahead on average at eta_comm in "
            f"{_list(d2d_wins)} (D2D's own gain does not depend on eta_comm)."
        )
    if len(cmp_) >= 2:
        signs = {r["eta_comp"]: np.sign(r["diff_mean"]) for r in cmp_}
        flips = len(set(signs.values()) - {0.0}) > 1
        winners = ", ".join(
            f"{r['eta_comp']:g}: {'D2D' if r['diff_mean'] > 0 else 'server'} "
            f"({100 * r['d2d_better']:.0f} % D2D)"
            for r in cmp_
        )
        notes.append(
            'Claim (Fig. 2): "The distribution of computational resources does not '
            'significantly affect the choice of the preferred strategy." '
            + ("Does not hold" if flips else "Holds")
            + f": preferred strategy by mean gain at each eta_comp (share of experiments "
            f"where D2D wins): {winners}."
        )
    return notes


def _list(values: Sequence[float]) -> str:
    return "{" + ", ".join(f"{v:g}" for v in values) + "}" if values else "{} (nowhere)"


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------
STYLE: dict[str, dict[str, Any]] = {
    "server": {"color": "#1f77b4", "marker": "o", "label": "Strategy #1: edge server"},
    "d2d": {"color": "#d62728", "marker": "s", "label": "Strategy #2: D2D"},
}


def _series(
    rows: Sequence[Mapping[str, Any]], panel: str, x: str, strategy: str, scheme: str, **match: Any
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    pts = sorted(
        (float(r[x]), r["mean"], r["std"])
        for r in rows
        if r["panel"] == panel
        and r["strategy"] == strategy
        and r["scheme"] == scheme
        and all(r[k] == v for k, v in match.items())
    )
    if not pts:
        empty = np.zeros(0)
        return empty, empty, empty
    a, m, s = (np.asarray(v, float) for v in zip(*pts, strict=True))
    return a, m, s


def draw_strategies(
    ax: Any, rows: Sequence[Mapping[str, Any]], panel: str, x: str, offset: float, **match: Any
) -> None:
    """Both strategies: the scheme run on every experiment as a line with ±1 s.d. error bars.

    That is ``optimal`` (whole points) for the server and, when D2D's whole
    points ran on a subset of the seeds only, the LP (``relaxed``) for D2D; the
    other scheme is drawn as a thin dashed line (``relaxed``) or hollow markers
    (``optimal`` on the subset).
    """
    for k, strategy in enumerate(STRATEGIES):
        st = STYLE[strategy]
        n = {
            scheme: max(
                (
                    r["seeds"]
                    for r in rows
                    if r["panel"] == panel
                    and r["strategy"] == strategy
                    and r["scheme"] == scheme
                    and all(r[q] == v for q, v in match.items())
                ),
                default=0,
            )
            for scheme in SCHEMES
        }
        main = "optimal" if n["optimal"] >= n["relaxed"] else "relaxed"
        what = {"optimal": "whole points", "relaxed": "continuous optimum"}
        xs, m, sd = _series(rows, panel, x, strategy, main, **match)
        if xs.size:
            ax.errorbar(
                xs + (k - 0.5) * offset,
                m,
                yerr=sd,
                color=st["color"],
                marker=st["marker"],
                markersize=5,
                linewidth=1.8,
                capsize=3,
                elinewidth=1.0,
                label=f"{st['label']}: {what[main]}, mean ± 1 s.d. ({n[main]} exp.)",
            )
        other = "relaxed" if main == "optimal" else "optimal"
        xo, mo, _ = _series(rows, panel, x, strategy, other, **match)
        if not xo.size:
            continue
        if other == "relaxed":
            ax.plot(
                xo,
                mo,
                color=st["color"],
                linestyle="--",
                linewidth=1.0,
                alpha=0.8,
                label=f"{st['label']}: {what[other]}, mean ({n[other]} exp.)",
            )
        else:
            ax.plot(
                xo + (k - 0.5) * offset,
                mo,
                color=st["color"],
                linestyle="none",
                marker=st["marker"],
                markersize=9,
                markerfacecolor="none",
                markeredgewidth=1.2,
                label=f"{st['label']}: {what[other]}, mean (first {n[other]} exp.)",
            )


def _plot(rows: Sequence[Mapping[str, Any]], path: Path, seeds: int, users: Any) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12.0, 5.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, panel, x, other in (
        (axes[0], "comp", "eta_comp", f"η_comm = {ETA_FIXED:g}"),
        (axes[1], "comm", "eta_comm", f"η_comp = {ETA_FIXED:g}"),
    ):
        draw_strategies(ax, rows, panel, x, offset=0.008)
        ax.axhline(1.0, color="black", linewidth=0.8, alpha=0.5)
        sym = "η_comp" if panel == "comp" else "η_comm"
        what = "computational" if panel == "comp" else "communications (server uplink)"
        ax.set_xlabel(f"{what} heterogeneity factor {sym}")
        ax.set_title(f"({'a' if panel == 'comp' else 'b'}) gain vs {sym} ({other})", fontsize=11)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("gain  max_i T_i / T*")
    axes[0].set_ylim(bottom=0.9)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=9)
    fig.suptitle(
        f"XR offloading, Fig. 2: gain of the two strategies (N = {users}, s = {STEEPNESS:g}; "
        f"mean ± 1 s.d. over {seeds} experiments per point)",
        fontsize=12,
    )
    fig.savefig(path, dpi=110)
    return path


def plot_heterogeneity(path: Path, n: int = 50) -> Path:
    """Fig. 1: the heterogeneity function eq. (2) for several eta and s."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12.0, 5.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    i = np.arange(1, n + 1)
    cmap = colormaps["viridis"]
    steeps = (0.25, 0.5, 1.0, 2.0, 4.0)
    for k, s in enumerate(steeps):
        axes[0].plot(
            i,
            heterogeneity(n, 0.8, s),
            color=cmap(0.9 * k / (len(steeps) - 1)),
            linewidth=2,
            label=f"s = {s:g}",
        )
    axes[0].set_title("(a) η = 0.8, varying steepness s", fontsize=11)
    etas = (0.2, 0.5, 0.8, 1.0)
    for k, eta in enumerate(etas):
        for s, ls in ((0.5, "--"), (2.0, "-")):
            axes[1].plot(
                i,
                heterogeneity(n, eta, s),
                color=cmap(0.9 * k / (len(etas) - 1)),
                linestyle=ls,
                linewidth=2,
                label=f"η = {eta:g}, s = {s:g}",
            )
    axes[1].set_title("(b) varying η, s = 0.5 (dashed) and s = 2 (solid)", fontsize=11)
    for ax in axes:
        ax.set_xlabel(f"user index i (N = {n})")
        ax.grid(True, alpha=0.3)
        ax.set_ylim(-0.02, 1.05)
        ax.legend(
            fontsize=8,
            ncols=4 if ax is axes[1] else 5,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.16),
            frameon=False,
        )
    axes[0].set_ylabel("relative capacity C_i")
    fig.suptitle(
        "XR offloading, Fig. 1: heterogeneity function, eq. (2): "
        "C_i = η (1 − ((i−1)/(N−1))^s)^(1/s) + 1 − η",
        fontsize=12,
    )
    fig.savefig(path, dpi=110)
    return path
