"""The tables of the XR gain reproductions: per-seed gains, aggregates, paired comparison.

:func:`collect` gathers the results of :func:`._xr.solve_block` by grid
point (:data:`~._xr.Key`); :func:`summary_rows`, :func:`compare_rows` and
:func:`seed_rows` give the rows of the three CSV tables of
:mod:`.xr_heterogeneity` and :mod:`.xr_users` (columns
:data:`SUMMARY_COLUMNS`, :data:`COMPARE_COLUMNS`, :data:`SEED_COLUMNS`,
documented in :data:`COLUMN_DOCS`), and the ``*_note(s)`` functions the notes
both experiments print.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..result import Status
from ._xr import KEY_COLUMNS, SCHEMES, SKIPPED, STRATEGIES, Key

__all__ = [
    "COLUMN_DOCS",
    "COMPARE_COLUMNS",
    "SEED_COLUMNS",
    "SUMMARY_COLUMNS",
    "below_one",
    "collect",
    "compare_rows",
    "main_scheme",
    "paired",
    "problem_notes",
    "rounding_note",
    "seed_rows",
    "summary_rows",
]

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


#: Statuses of a solve that gave a gain, and :data:`~._xr.SKIPPED` (not run, not failed).
_NOT_FAILED = frozenset({Status.OPTIMAL.value, Status.FEASIBLE.value, SKIPPED})
_VALUE_COLS = tuple(f"{st}_{sc}" for st in STRATEGIES for sc in SCHEMES)


def _key_columns(key: Key) -> dict[str, Any]:
    """A point's key as its columns ``eta_comp``, ``eta_comm``, ``users`` and ``s``."""
    return dict(zip(KEY_COLUMNS, key, strict=True))


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
            entry[f"failed_{strategy}"] = sum(s not in _NOT_FAILED for s in st)
            entry[f"errors_{strategy}"] = sorted({s for s in st if s.startswith(Status.ERROR)})[:3]
        out[key] = entry
    return out, seconds


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
