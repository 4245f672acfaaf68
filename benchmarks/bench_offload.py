r"""Benchmark: the offloading families (XR paper) — server scaling, HiGHS, D2D, Fig. 2.

Run ``python benchmarks/bench_offload.py`` (full, about 12-15 minutes, most
of it the D2D LP at N = 300) or with ``--quick`` (small sizes, seconds).
Seed: the XR offloading paper ([XR]). Instances are compiled from the
``xr-server`` / ``xr-d2d`` presets (Table I of [XR]) with
``overrides={"users": N, "seed": s}``. Tables:

1. ``offload-server`` (Strategy #1, problem (P1)): ``edgealloc.solve(p,
   scheme)`` for ``relaxed`` (exact continuous optimum), ``optimal`` (exact
   whole-point optimum) and ``paper`` (Proposition 1 / Algorithm 1) at
   N = 1e3 .. 1e6, with the Table I server (``a_S = 5 a_max``) and a *strong
   server* (``a_S = N a_max / 4``, so that most users offload). Median and
   best wall time over repeats after warm-up calls; every allocation is
   re-checked by ``p.evaluate``. Target: N = 1e6 under 1 s (the exact
   schemes ``relaxed`` and ``optimal``).
2. ``relaxed`` against HiGHS on the same LP
   (:func:`edgealloc.offload.verify.server_lp`, a sparse LP through
   ``scipy.optimize.linprog``) at N = 500, 1000, 2000: objectives must agree
   to 1e-9 relative. HiGHS is timed as a user pays it (model building +
   solve: the main ratio) and as the ``linprog`` call alone. Target: at least
   100x at N = 2000.
3. ``optimal`` against the whole-point MILP
   (:func:`edgealloc.offload.verify.server_milp`, ``scipy.optimize.milp``,
   ``mip_rel_gap = 0``, a time limit injected into its options): objectives
   must be equal where HiGHS proves optimality.
4. ``offload-d2d`` (Strategy #2, the LP (P2)): ``solve(p, "relaxed")`` (the
   netted sparse LP) and ``solve(p, "optimal")`` (LP + whole-point rounding)
   at N = 50, 100 (3 seeds) and 300 (1 seed; the LP alone takes minutes, so
   only ``optimal`` runs and its LP part is reported). Target: N = 100 under
   5 s.
5. The generic formulation of (P2) — every ordered pair a share variable
   :math:`w_{ij}`, both (P2a) rows of every link, no netting, no scaling —
   solved by ``scipy.optimize.linprog(method="highs")`` at N = 50 and 100
   against ``relaxed``: objectives must agree to 1e-6 relative.
6. With ``--fig2``: the full Fig. 2 reproduction
   (``edgealloc.experiments.xr_heterogeneity.run``, 5000 experiments per
   point). Target: under 15 minutes on the 2-core machine.

All ratios are measured in the same run; nothing is quoted.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

import edgealloc
from _common import (
    Table,
    Timing,
    add_common_args,
    fmt_ratio,
    fmt_seconds,
    print_facts,
    print_table,
    quiet_c_stdout,
    seeds_arg,
    time_call,
    use_plain,
)
from edgealloc.errors import SolverError
from edgealloc.offload import OffloadD2DProblem, OffloadServerProblem
from edgealloc.offload import verify as offload_verify

#: Server scaling sizes (full and quick).
SERVER_SIZES_FULL = (1_000, 10_000, 100_000, 1_000_000)
SERVER_SIZES_QUICK = (1_000, 10_000)
SERVER_SCHEMES = ("relaxed", "optimal", "paper")
#: The exact schemes the N = 1e6 target is stated for.
EXACT_SCHEMES = ("relaxed", "optimal")
#: Strong server: a_S = STRONG_SHARE * N * a_max.
STRONG_SHARE = 0.25
#: Sizes of the HiGHS comparisons (full and quick).
HIGHS_SIZES_FULL = (500, 1_000, 2_000)
HIGHS_SIZES_QUICK = (100, 200)
#: D2D sizes (full and quick); sizes >= D2D_LARGE run one seed and the optimal scheme only.
D2D_SIZES_FULL = (50, 100, 300)
D2D_SIZES_QUICK = (20, 50)
D2D_LARGE = 200
#: Sizes of the generic-(P2) comparison (full and quick).
GENERIC_SIZES_FULL = (50, 100)
GENERIC_SIZES_QUICK = (20,)

#: Targets.
TARGET_SERVER_1E6_S = 1.0
TARGET_HIGHS_RATIO = 100.0
TARGET_HIGHS_N = 2_000
TARGET_D2D_N = 100
TARGET_D2D_S = 5.0
TARGET_FIG2_S = 15 * 60.0

#: Agreement tolerances (relative).
LP_RTOL = 1e-9
MILP_RTOL = 1e-9
GENERIC_RTOL = 1e-6


# ---------------------------------------------------------------------------
# Instances
# ---------------------------------------------------------------------------
def server_problem(n: int, seed: int) -> OffloadServerProblem:
    """The ``xr-server`` preset (Table I of [XR]) compiled for ``n`` users."""
    p = edgealloc.load_problem("xr-server", overrides={"users": n, "seed": seed})
    assert isinstance(p, OffloadServerProblem)
    return p


def strong_server(p: OffloadServerProblem, share: float = STRONG_SHARE) -> OffloadServerProblem:
    """The same users with a server of ``share * N * a_max`` MAC/s (built directly: no copy
    of the compiled ``meta``)."""
    a_max = float(p.meta["a_max_mac_s"]) if p.meta else float(p.compute_rate.max())
    return OffloadServerProblem(
        points=p.points,
        compute_rate=p.compute_rate,
        uplink_rate=p.uplink_rate,
        server_rate=share * p.n_users * a_max,
        macs_per_point=p.macs_per_point,
        name=f"{p.name}-strong",
    )


def d2d_problem(n: int, seed: int) -> OffloadD2DProblem:
    """The ``xr-d2d`` preset (Table I of [XR], rho(N) = min(1, 12/N)) for ``n`` users."""
    p = edgealloc.load_problem("xr-d2d", overrides={"users": n, "seed": seed})
    assert isinstance(p, OffloadD2DProblem)
    return p


def _server_repeats(n: int, quick: bool) -> tuple[int, int]:
    """(repeats, warm-up calls) of the server timings."""
    if quick:
        return 3, 1
    if n <= 10_000:
        return 7, 2
    return (5, 1) if n <= 100_000 else (3, 1)


def _rel(a: float, b: float) -> float:
    """``|a - b| / max(|a|, |b|)`` (0 when both are 0)."""
    den = max(abs(a), abs(b))
    return abs(a - b) / den if den > 0 else 0.0


# ---------------------------------------------------------------------------
# 1. offload-server scaling
# ---------------------------------------------------------------------------
def _check_server(p: OffloadServerProblem, res: Any, scheme: str) -> str:
    """'yes', or what is wrong, by the problem's own evaluator."""
    ev = p.evaluate(res.offloaded_points, integral=scheme != "relaxed")
    if not ev.feasible:
        return "NO: " + ev.violations[0]
    if _rel(ev.iteration_time, res.objective) > 1e-12:
        return f"NO: evaluate gives {ev.iteration_time!r}, the result {res.objective!r}"
    return "yes"


def server_table(sizes: Sequence[int], quick: bool) -> tuple[Table, bool]:
    """Table 1. Returns (table, every check passed)."""
    rows: list[list[str]] = []
    ok = True
    medians: dict[tuple[int, str, str], float] = {}
    problems: list[str] = []
    builds: dict[int, float] = {}
    for n in sizes:
        t0 = time.perf_counter()
        base = server_problem(n, seed=0)
        build = time.perf_counter() - t0
        for variant, p in (("Table I", base), ("strong", strong_server(base))):
            objectives: dict[str, float] = {}
            repeats, warmup = _server_repeats(n, quick)
            for scheme in SERVER_SCHEMES:
                timing = time_call(
                    lambda p=p, s=scheme: edgealloc.solve(p, s), repeats=repeats, warmup=warmup
                )
                res = timing.value
                check = _check_server(p, res, scheme)
                ok &= check == "yes"
                objectives[scheme] = res.objective
                medians[(n, variant, scheme)] = timing.median
                rows.append(
                    [
                        f"{n:,}",
                        variant,
                        f"{p.server_rate:.3g}",
                        scheme,
                        f"{res.objective * 1e3:.6f}",
                        f"{res.speedup:.4f}",
                        f"{int(np.count_nonzero(res.offloaded_points > 0)):,}",
                        fmt_seconds(timing.median),
                        fmt_seconds(timing.best),
                        str(len(timing.runs)),
                        f"{timing.median / n * 1e9:.0f}",
                        check,
                    ]
                )
            # Orderings that hold whatever the instance: the continuous optimum is a lower
            # bound of every whole-point allocation, and optimal is the best of those.
            if not objectives["relaxed"] <= objectives["optimal"] * (1 + 1e-12):
                ok = False
                problems.append(f"N = {n:,} ({variant}): relaxed above optimal")
            if not objectives["optimal"] <= objectives["paper"] * (1 + 1e-12):
                ok = False
                problems.append(f"N = {n:,} ({variant}): paper below optimal")
        builds[n] = build
    table = Table(
        "offload-server: scaling in N (xr-server preset, seed 0)",
        [
            "N",
            "server",
            "a_S (MAC/s)",
            "scheme",
            "T (ms)",
            "gain",
            "users offloading",
            "median",
            "best",
            "runs",
            "ns/user",
            "evaluate ok",
        ],
        rows,
    )
    table.notes.append(
        "server 'Table I' = the preset's a_S = 5 a_max; 'strong' = the same users with "
        f"a_S = {STRONG_SHARE:g} N a_max. gain = max_i T_i / T. Times are edgealloc.solve "
        "wall clock (the scheme wrapper's evaluate check included). Compiling the preset "
        "(not timed above) took "
        + ", ".join(f"{fmt_seconds(b)} at N = {n:,}" for n, b in builds.items())
        + "."
    )
    for message in problems:
        table.notes.append(f"!!! {message}")
    big = max(sizes)
    if big == 1_000_000:
        worst = max(medians[(big, v, s)] for v in ("Table I", "strong") for s in EXACT_SCHEMES)
        verdict = "MET" if worst < TARGET_SERVER_1E6_S else "NOT MET"
        per = ", ".join(
            f"{s} {fmt_seconds(medians[(big, 'Table I', s)])} / "
            f"{fmt_seconds(medians[(big, 'strong', s)])}"
            for s in SERVER_SCHEMES
        )
        table.notes.append(
            f"Target N = 1e6 under {TARGET_SERVER_1E6_S:g} s (exact schemes relaxed and "
            f"optimal, both servers): {verdict} (slowest median {fmt_seconds(worst)}; "
            f"median Table I / strong: {per})."
        )
    else:
        table.notes.append("Target N = 1e6 under 1 s: not measured (N = 1e6 not run).")
    return table, ok


# ---------------------------------------------------------------------------
# 2-3. offload-server against HiGHS (verify.server_lp / server_milp)
# ---------------------------------------------------------------------------
class _Spy:
    """Wraps a function of :mod:`edgealloc.offload.verify` to time its calls.

    ``extra_options`` are merged into the call's ``options`` (used to give
    ``server_milp``'s ``milp`` call a time limit it does not expose).
    """

    def __init__(self, fn: Callable[..., Any], extra_options: dict[str, Any] | None = None):
        self.fn = fn
        self.extra = extra_options or {}
        self.seconds: list[float] = []
        self.last: Any = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.extra:
            kwargs["options"] = {**kwargs.get("options", {}), **self.extra}
        t0 = time.perf_counter()
        self.last = self.fn(*args, **kwargs)
        self.seconds.append(time.perf_counter() - t0)
        return self.last


@contextlib.contextmanager
def _spy(name: str, extra_options: dict[str, Any] | None = None) -> Iterator[_Spy]:
    spy = _Spy(getattr(offload_verify, name), extra_options)
    with mock.patch.object(offload_verify, name, spy):
        yield spy


@dataclasses.dataclass(frozen=True)
class HighsLp:
    """``server_lp`` timed in total and inside ``linprog`` (medians over repeats)."""

    value: float
    total: float
    solve: float
    runs: int


def time_server_lp(p: OffloadServerProblem, repeats: int) -> HighsLp:
    """Median wall time of ``verify.server_lp`` and of its ``linprog`` call."""
    offload_verify.server_lp(p)  # warm-up
    totals: list[float] = []
    with _spy("linprog") as spy:
        for _ in range(repeats):
            t0 = time.perf_counter()
            value, _ = offload_verify.server_lp(p)
            totals.append(time.perf_counter() - t0)
    return HighsLp(value, statistics.median(totals), statistics.median(spy.seconds), repeats)


@dataclasses.dataclass(frozen=True)
class HighsMilp:
    """One ``verify.server_milp`` call: value (None if stopped), times, status."""

    value: float | None
    total: float
    milp: float
    status: str


def time_server_milp(p: OffloadServerProblem, time_limit: float) -> HighsMilp:
    """``verify.server_milp`` with a HiGHS time limit; status 'optimal' or 'time_limit'."""
    with _spy("milp", {"time_limit": time_limit}) as spy, quiet_c_stdout():
        t0 = time.perf_counter()
        try:
            value, _ = offload_verify.server_milp(p)
        except SolverError as exc:
            total = time.perf_counter() - t0
            res = spy.last
            status = "time_limit" if res is not None and res.status == 1 else f"failed: {exc}"
            return HighsMilp(None, total, spy.seconds[-1] if spy.seconds else total, status)
        total = time.perf_counter() - t0
    return HighsMilp(value, total, spy.seconds[-1], "optimal")


def highs_tables(
    sizes: Sequence[int], seeds: Sequence[int], milp_limit: float, quick: bool
) -> tuple[Table, Table, bool]:
    """Tables 2 and 3. Returns (LP table, MILP table, every check passed)."""
    lp_rows: list[list[str]] = []
    milp_rows: list[list[str]] = []
    ok = True
    lp_ratios: dict[int, list[float]] = {}
    milp_ratios: dict[int, list[tuple[float, bool]]] = {}
    for n in sizes:
        for seed in seeds:
            p = server_problem(n, seed)
            rel_t = time_call(
                lambda p=p: edgealloc.solve(p, "relaxed"), repeats=7 if quick else 21, warmup=2
            )
            opt_t = time_call(
                lambda p=p: edgealloc.solve(p, "optimal"), repeats=7 if quick else 21, warmup=2
            )
            relaxed, optimal = rel_t.value.objective, opt_t.value.objective
            lp = time_server_lp(p, repeats=3 if quick else 5)
            diff = _rel(relaxed, lp.value)
            agree = diff <= LP_RTOL
            ok &= agree
            lp_ratios.setdefault(n, []).append(lp.total / rel_t.median)
            lp_rows.append(
                [
                    f"{n:,}",
                    str(seed),
                    f"{relaxed * 1e3:.9f}",
                    f"{lp.value * 1e3:.9f}",
                    f"{diff:.1e}",
                    "yes" if agree else "!!! MISMATCH",
                    fmt_seconds(rel_t.median),
                    fmt_seconds(opt_t.median),
                    fmt_seconds(lp.total),
                    fmt_seconds(lp.solve),
                    fmt_ratio(lp.total, rel_t.median),
                    fmt_ratio(lp.solve, rel_t.median),
                    fmt_ratio(lp.total, opt_t.median),
                ]
            )
            milp = time_server_milp(p, milp_limit)
            if milp.value is None:
                equal = f"unchecked ({milp.status})"
                mval = "n/a"
                ratio = "> " + fmt_ratio(milp.total, opt_t.median)
            else:
                mval = f"{milp.value * 1e3:.9f}"
                if _rel(optimal, milp.value) <= MILP_RTOL:
                    equal = "yes"
                elif optimal < milp.value:
                    equal = f"HiGHS worse by {_rel(optimal, milp.value):.1e}"
                else:  # a whole-point allocation better than the exact optimum: a bug
                    equal = "!!! MISMATCH (HiGHS better)"
                    ok = False
                ratio = fmt_ratio(milp.total, opt_t.median)
            milp_ratios.setdefault(n, []).append((milp.total / opt_t.median, milp.value is None))
            milp_rows.append(
                [
                    f"{n:,}",
                    str(seed),
                    f"{optimal * 1e3:.9f}",
                    mval,
                    equal,
                    fmt_seconds(opt_t.median),
                    fmt_seconds(milp.total),
                    fmt_seconds(milp.milp),
                    milp.status,
                    ratio,
                ]
            )
    lp_table = Table(
        "offload-server relaxed vs HiGHS LP (verify.server_lp, the same LP (P1)), xr-server preset",
        [
            "N",
            "seed",
            "relaxed T (ms)",
            "HiGHS LP T (ms)",
            "rel. diff",
            "agree",
            "relaxed time",
            "optimal time",
            "HiGHS total",
            "HiGHS linprog only",
            "ratio (total)",
            "ratio (linprog only)",
            "ratio total vs optimal",
        ],
        lp_rows,
    )
    lp_table.notes.append(
        "relaxed/optimal time = median of 21 edgealloc.solve calls (7 in --quick) after 2 "
        "warm-ups; HiGHS total = median wall time of verify.server_lp (sparse model building "
        "+ linprog(method='highs') + unpacking) over 5 calls (3 in --quick) after a warm-up; "
        "'linprog only' = the time inside its linprog call. The main ratio is HiGHS total / "
        f"relaxed; agreement is required to {LP_RTOL:g} relative."
    )
    if TARGET_HIGHS_N in lp_ratios:
        rs = lp_ratios[TARGET_HIGHS_N]
        verdict = "MET" if min(rs) >= TARGET_HIGHS_RATIO else "NOT MET"
        lp_table.notes.append(
            f"Target >= {TARGET_HIGHS_RATIO:g}x at N = {TARGET_HIGHS_N:,} (relaxed vs the same "
            f"LP by HiGHS, total): {verdict} (smallest {min(rs):,.0f}x, median "
            f"{statistics.median(rs):,.0f}x over {len(rs)} seed(s))."
        )
    else:
        lp_table.notes.append(
            f"Target >= {TARGET_HIGHS_RATIO:g}x at N = {TARGET_HIGHS_N:,}: not measured "
            f"(N = {TARGET_HIGHS_N:,} not run)."
        )
    milp_table = Table(
        f"offload-server optimal vs HiGHS MILP (verify.server_milp, whole points, "
        f"time limit {milp_limit:g} s)",
        [
            "N",
            "seed",
            "optimal T (ms)",
            "MILP T (ms)",
            "equal",
            "optimal time",
            "MILP total",
            "MILP milp() only",
            "MILP status",
            "ratio",
        ],
        milp_rows,
    )
    milp_table.notes.append(
        "MILP total = verify.server_milp wall time: it solves server_lp first (to scale the "
        "times), then milp(mip_rel_gap=0); 'milp() only' is the branch and bound. MILP T is the "
        "evaluated time of HiGHS's rounded allocation. equal: within "
        f"{MILP_RTOL:g} relative; '>' marks a lower bound (HiGHS stopped at the limit)."
    )
    if TARGET_HIGHS_N in milp_ratios:
        rs2 = milp_ratios[TARGET_HIGHS_N]
        low = min(r for r, _ in rs2)
        verdict = "MET" if low >= TARGET_HIGHS_RATIO else "NOT MET"
        milp_table.notes.append(
            f"optimal vs the whole-point MILP at N = {TARGET_HIGHS_N:,}: smallest ratio "
            f"{'> ' if any(c for _, c in rs2) else ''}{low:,.0f}x; target >= "
            f"{TARGET_HIGHS_RATIO:g}x: {verdict}."
        )
    return lp_table, milp_table, ok


# ---------------------------------------------------------------------------
# 4. offload-d2d
# ---------------------------------------------------------------------------
@dataclasses.dataclass
class D2DRun:
    """What the D2D table measured on one instance (kept for the generic comparison)."""

    relaxed: Timing | None
    optimal: Timing


def d2d_table(
    sizes: Sequence[int], seeds: Sequence[int], quick: bool
) -> tuple[Table, dict[tuple[int, int], D2DRun], bool]:
    """Table 4. Returns (table, runs by (N, seed), every check passed)."""
    edgealloc.solve(d2d_problem(5, 0), "optimal")  # warm-up of the code paths
    rows: list[list[str]] = []
    runs: dict[tuple[int, int], D2DRun] = {}
    ok = True
    by_n: dict[int, list[float]] = {}
    by_n_lp: dict[int, list[float]] = {}
    for n in sizes:
        large = n >= D2D_LARGE
        for seed in seeds[:1] if large else seeds:
            p = d2d_problem(n, seed)
            reps = 3 if n <= 50 else 1
            relaxed = None
            if not large:
                relaxed = time_call(
                    lambda p=p: edgealloc.solve(p, "relaxed"), repeats=reps, warmup=0
                )
            optimal = time_call(lambda p=p: edgealloc.solve(p, "optimal"), repeats=reps, warmup=0)
            runs[(n, seed)] = D2DRun(relaxed, optimal)
            res = optimal.value
            lp_part = float(res.info["lp_seconds"])
            checks = []
            ev = p.evaluate(res.offloaded_points)
            if not ev.feasible:
                checks.append("optimal: " + ev.violations[0])
            if res.objective < res.bound * (1 - 1e-9):
                checks.append("rounded below the LP bound")
            if relaxed is not None:
                rv = relaxed.value
                evr = p.evaluate(rv.offloaded_points, integral=False)
                if not evr.feasible:
                    checks.append("relaxed: " + evr.violations[0])
                if _rel(rv.objective, res.bound) > 1e-9:
                    checks.append(f"relaxed {rv.objective!r} != optimal's bound {res.bound!r}")
            ok &= not checks
            by_n.setdefault(n, []).append(optimal.median)
            by_n_lp.setdefault(n, []).append(relaxed.median if relaxed else lp_part)
            rows.append(
                [
                    f"{n:,}",
                    str(seed),
                    f"{res.info['links']:,}",
                    fmt_seconds(relaxed.median) if relaxed else f"({fmt_seconds(lp_part)})",
                    fmt_seconds(optimal.median),
                    fmt_seconds(lp_part),
                    fmt_seconds(optimal.median - lp_part),
                    f"{res.bound * 1e3:.6f}",
                    f"{res.objective * 1e3:.6f}",
                    f"{100 * float(res.info['gap']):.3f}",
                    f"{res.speedup:.4f}",
                    str(len(optimal.runs)),
                    "yes" if not checks else "NO: " + checks[0],
                ]
            )
    table = Table(
        "offload-d2d: LP (P2) and whole points (xr-d2d preset, rho(N) = min(1, 12/N))",
        [
            "N",
            "seed",
            "link variables",
            "relaxed time",
            "optimal time",
            "LP part",
            "rounding (+checks)",
            "LP T (ms)",
            "rounded T (ms)",
            "gap %",
            "gain",
            "runs",
            "evaluate ok",
        ],
        rows,
    )
    table.notes.append(
        "relaxed = solve(p, 'relaxed'), the netted sparse LP by HiGHS; optimal = solve(p, "
        "'optimal'), the LP again plus the rounding; LP part = optimal's info['lp_seconds'], "
        "rounding = optimal time - LP part. Times are medians over 'runs' calls. "
        f"From N = {D2D_LARGE} on only optimal runs, on one seed; the relaxed column shows "
        "its LP part in parentheses. gap = rounded / LP - 1; gain = max_i T_i / rounded T."
    )
    if TARGET_D2D_N in by_n:
        ts = by_n[TARGET_D2D_N]
        med = statistics.median(ts)
        verdict = "MET" if med < TARGET_D2D_S else "NOT MET"
        table.notes.append(
            f"Target N = {TARGET_D2D_N} under {TARGET_D2D_S:g} s (solve(p, 'optimal'), LP + "
            f"rounding): {verdict} (median {fmt_seconds(med)}, largest {fmt_seconds(max(ts))} "
            f"over {len(ts)} seed(s); the LP alone: median "
            f"{fmt_seconds(statistics.median(by_n_lp[TARGET_D2D_N]))})."
        )
    else:
        table.notes.append(f"Target N = {TARGET_D2D_N} under 5 s: not measured.")
    return table, runs, ok


# ---------------------------------------------------------------------------
# 5. the generic formulation of (P2)
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class GenericOutcome:
    """The generic LP's value (None unless optimal), build and solve seconds, status."""

    value: float | None
    build: float
    solve: float
    status: str
    variables: int
    rows: int


def generic_p2(p: OffloadD2DProblem, time_limit: float) -> GenericOutcome:
    r"""(P2) of [XR] as written, solved by ``linprog(method="highs")``.

    Variables :math:`w_{ij}` for every ordered pair :math:`i \ne j`
    (:math:`w_{ij} = 0` where :math:`r_{ij} = 0`), :math:`T^{tr}_i` and
    :math:`T`, in seconds (no scaling):

    .. math::

        \min T \;\text{s.t.}\;
        \frac{w_{ij} l_i}{r_{ij}} \le T^{tr}_i,\;
        \frac{w_{ij} l_i}{r_{ij}} \le T^{tr}_j \;(P2a),\quad
        T^{tr}_i + \Bigl(1 - \sum_j w_{ij}\Bigr) T_i
        + \frac{m}{a_i}\sum_k w_{ki} l_k \le T \;(P2b),\quad
        \sum_j w_{ij} \le 1,\; 0 \le w_{ij} \le 1 \;(P2c).

    Two (P2a) rows per link, no netting of opposite links, no pruning. The
    sparse matrix is built with vectorised NumPy (what a careful user writes);
    HiGHS gets the same feasibility tolerances as ``_d2d.solve_lp`` (1e-10)
    and ``time_limit``.
    """
    t0 = time.perf_counter()
    n = p.n_users
    l = p.points.astype(float)
    a = p.compute_rate
    m = p.macs_per_point
    Ti = m * l / a
    I, J = np.nonzero(~np.eye(n, dtype=bool))
    E = I.size
    rate = p.link_rate[I, J]
    link = np.flatnonzero(rate > 0)
    k = link.size
    coef = l[I[link]] / rate[link]
    users = np.arange(n)
    col_t = E + n
    cap0, time0 = 2 * k, 2 * k + n
    blocks = [
        (np.arange(k), link, coef),  # (P2a) sender side
        (np.arange(k), E + I[link], -np.ones(k)),
        (k + np.arange(k), link, coef),  # (P2a) receiver side
        (k + np.arange(k), E + J[link], -np.ones(k)),
        (cap0 + I, np.arange(E), np.ones(E)),  # (P2c) sum_j w_ij <= 1
        (time0 + I, np.arange(E), -Ti[I]),  # (P2b) points sent away
        (time0 + J, np.arange(E), m * l[I] / a[J]),  # (P2b) points received
        (time0 + users, E + users, np.ones(n)),
        (time0 + users, np.full(n, col_t), -np.ones(n)),
    ]
    rows, cols, vals = (np.concatenate(part) for part in zip(*blocks, strict=True))
    A = sp.csr_array((vals, (rows, cols)), shape=(time0 + n, E + n + 1))
    b = np.concatenate([np.zeros(2 * k), np.ones(n), -Ti])
    upper = np.concatenate([np.where(rate > 0, 1.0, 0.0), np.full(n + 1, np.inf)])
    c = np.zeros(E + n + 1)
    c[-1] = 1.0
    t1 = time.perf_counter()
    res = linprog(
        c,
        A_ub=A,
        b_ub=b,
        bounds=np.column_stack([np.zeros(E + n + 1), upper]),
        method="highs",
        options={
            "time_limit": time_limit,
            "primal_feasibility_tolerance": 1e-10,
            "dual_feasibility_tolerance": 1e-10,
        },
    )
    t2 = time.perf_counter()
    status = {0: "optimal", 1: "time_limit"}.get(res.status, f"failed: {res.message}")
    value = float(res.fun) if res.status == 0 else None
    return GenericOutcome(value, t1 - t0, t2 - t1, status, E + n + 1, time0 + n)


def generic_table(
    sizes: Sequence[int],
    seeds: Sequence[int],
    runs: dict[tuple[int, int], D2DRun],
    time_limit: float,
) -> tuple[Table, bool]:
    """Table 5. Returns (table, every check passed)."""
    rows: list[list[str]] = []
    ok = True
    ratios: list[tuple[int, float, bool]] = []
    for n in sizes:
        for seed in seeds:
            p = d2d_problem(n, seed)
            run = runs.get((n, seed))
            ours = run.relaxed if run is not None else None
            if ours is None:
                ours = time_call(lambda p=p: edgealloc.solve(p, "relaxed"), repeats=1, warmup=0)
            value = ours.value.objective
            out = generic_p2(p, time_limit)
            total = out.build + out.solve
            if out.value is None:
                agree, gval, ratio = f"unchecked ({out.status})", "n/a", "> "
            else:
                diff = _rel(value, out.value)
                good = diff <= GENERIC_RTOL
                ok &= good
                agree = f"{diff:.1e}" + ("" if good else " !!! MISMATCH")
                gval, ratio = f"{out.value * 1e3:.9f}", ""
            ratios.append((n, total / ours.median, out.value is None))
            rows.append(
                [
                    f"{n:,}",
                    str(seed),
                    f"{out.variables:,} x {out.rows:,}",
                    fmt_seconds(out.build),
                    fmt_seconds(out.solve),
                    fmt_seconds(total),
                    fmt_seconds(ours.median),
                    ratio + fmt_ratio(total, ours.median),
                    gval,
                    f"{value * 1e3:.9f}",
                    agree,
                    out.status,
                ]
            )
    table = Table(
        f"offload-d2d relaxed vs the generic (P2) (every ordered pair, no netting, "
        f"linprog(method='highs'), time limit {time_limit:g} s)",
        [
            "N",
            "seed",
            "generic vars x rows",
            "generic build",
            "generic HiGHS",
            "generic total",
            "relaxed time",
            "ratio",
            "generic T (ms)",
            "relaxed T (ms)",
            "rel. diff",
            "generic status",
        ],
        rows,
    )
    table.notes.append(
        "relaxed time = the D2D table's solve(p, 'relaxed') median on the same instance; "
        "ratio = generic total (building + linprog) / relaxed. The generic rows are (P2a) "
        "twice per link, (P2c) and (P2b), in seconds; edgealloc's LP nets opposite links "
        "(|E| + 2N rows instead of 2|E| + 2N), scales times by max_i T_i and picks dual "
        f"simplex / IPX by size. Agreement is required to {GENERIC_RTOL:g} relative; '>' marks "
        "a lower bound (the generic LP stopped at the limit)."
    )
    for n in sizes:
        rs = [r for k, r, _ in ratios if k == n]
        if rs:
            capped = any(c for k, _, c in ratios if k == n)
            table.notes.append(
                f"N = {n}: ratio {'> ' if capped else ''}{min(rs):.3g}x .. {max(rs):.3g}x "
                f"over {len(rs)} seed(s)."
            )
    return table, ok


# ---------------------------------------------------------------------------
# 6. the Fig. 2 sweep
# ---------------------------------------------------------------------------
def fig2_tables(seeds: int | None, quick: bool, workers: int | None) -> tuple[list[Table], bool]:
    """Run ``xr_heterogeneity.run`` into a temporary folder; (tables, no gain below 1)."""
    from edgealloc.experiments import xr_heterogeneity

    n_seeds = (
        seeds
        if seeds is not None
        else (xr_heterogeneity.QUICK_SEEDS if quick else xr_heterogeneity.DEFAULT_SEEDS)
    )
    with tempfile.TemporaryDirectory(prefix="bench-fig2-") as tmp:
        t0 = time.perf_counter()
        out = xr_heterogeneity.run(
            Path(tmp), seeds=n_seeds, quick=quick, workers=workers, progress=False
        )
        wall = time.perf_counter() - t0
    full = not quick and n_seeds >= xr_heterogeneity.DEFAULT_SEEDS
    if full:
        verdict = "MET" if wall < TARGET_FIG2_S else "NOT MET"
    else:
        verdict = "not assessed (not the full sweep)"
    timing = Table(
        "Fig. 2 sweep (edgealloc.experiments.xr_heterogeneity.run)",
        ["grid", "experiments per point", "workers", "wall", "target", "verdict"],
        [
            [
                "quick" if quick else "full",
                f"{n_seeds:,}",
                str(workers) if workers else "os.cpu_count()",
                fmt_seconds(wall),
                f"< {TARGET_FIG2_S / 60:g} min (full sweep)",
                verdict,
            ]
        ],
        notes=list(out.notes[:2]),
    )
    cols = list(out.summary[0]) if out.summary else []
    summary = Table(
        "Fig. 2 gains (mean ± s.d.)",
        cols,
        [[str(r[c]) for c in cols] for r in out.summary],
    )
    bugs = [n for n in out.notes if n.startswith("gain below 1")]
    summary.notes.extend(f"!!! {b}" for b in bugs)
    return [timing, summary], not bugs


# ---------------------------------------------------------------------------
def _ints(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the offloading benchmark; 0, or 1 if a correctness check failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    parser.add_argument(
        "--server-sizes",
        type=_ints,
        default=None,
        help="N of the server scaling table (default 1e3,1e4,1e5,1e6; quick 1e3,1e4)",
    )
    parser.add_argument(
        "--highs-sizes",
        type=_ints,
        default=None,
        help="N of the HiGHS comparisons (default 500,1000,2000; quick 100,200)",
    )
    parser.add_argument(
        "--highs-seeds",
        type=seeds_arg,
        default=None,
        help="instances per N of the HiGHS comparisons: 'N' or '0,3' (default 3; quick 1)",
    )
    parser.add_argument(
        "--milp-time-limit",
        type=float,
        default=None,
        help="HiGHS MILP seconds per instance (default 300; quick 20)",
    )
    parser.add_argument(
        "--d2d-sizes",
        type=_ints,
        default=None,
        help=f"N of the D2D table (default 50,100,300; quick 20,50); "
        f"N >= {D2D_LARGE} runs one seed, optimal only",
    )
    parser.add_argument(
        "--d2d-seeds",
        type=seeds_arg,
        default=None,
        help="D2D instances per N: 'N' or '0,3' (default 3; quick 1)",
    )
    parser.add_argument(
        "--generic-sizes",
        type=_ints,
        default=None,
        help="N of the generic-(P2) comparison (default 50,100; quick 20)",
    )
    parser.add_argument(
        "--generic-time-limit",
        type=float,
        default=None,
        help="seconds before HiGHS stops on the generic (P2) (default 120; quick 20)",
    )
    parser.add_argument(
        "--fig2",
        action="store_true",
        help="also run the Fig. 2 sweep (full: 5000 experiments per point, "
        "about 13 minutes on 2 cores; with --quick: the quick grid, 20 seeds)",
    )
    parser.add_argument(
        "--fig2-seeds",
        type=int,
        default=None,
        help="experiments per Fig. 2 point (default 5000; quick 20)",
    )
    parser.add_argument(
        "--fig2-workers",
        type=int,
        default=None,
        help="worker processes of the Fig. 2 sweep (default os.cpu_count())",
    )
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated sections to run: server, highs, d2d, generic, "
        "fig2 (default: all but fig2, which needs --fig2)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    plain = use_plain(args)
    sections = {"server", "highs", "d2d", "generic"} | ({"fig2"} if args.fig2 else set())
    if args.only:
        sections = {s.strip() for s in args.only.split(",") if s.strip()}
        unknown = sections - {"server", "highs", "d2d", "generic", "fig2"}
        if unknown:
            parser.error(f"--only: unknown section(s) {sorted(unknown)}")
    server_sizes = args.server_sizes or list(SERVER_SIZES_QUICK if quick else SERVER_SIZES_FULL)
    highs_sizes = args.highs_sizes or list(HIGHS_SIZES_QUICK if quick else HIGHS_SIZES_FULL)
    highs_seeds = list(
        args.highs_seeds if args.highs_seeds is not None else (range(1) if quick else range(3))
    )
    milp_limit = args.milp_time_limit or (20.0 if quick else 300.0)
    d2d_sizes = args.d2d_sizes or list(D2D_SIZES_QUICK if quick else D2D_SIZES_FULL)
    d2d_seeds = list(
        args.d2d_seeds if args.d2d_seeds is not None else (range(1) if quick else range(3))
    )
    generic_sizes = args.generic_sizes or list(GENERIC_SIZES_QUICK if quick else GENERIC_SIZES_FULL)
    generic_limit = args.generic_time_limit or (20.0 if quick else 120.0)

    print(f"# edgealloc benchmark: offloading (XR paper; {'quick' if quick else 'full'})\n")
    print_facts(plain)
    ok = True
    if "server" in sections:
        table, good = server_table(server_sizes, quick)
        print_table(table, plain)
        ok &= good
    if "highs" in sections:
        lp_table, milp_table, good = highs_tables(highs_sizes, highs_seeds, milp_limit, quick)
        print_table(lp_table, plain)
        print_table(milp_table, plain)
        ok &= good
    runs: dict[tuple[int, int], D2DRun] = {}
    if "d2d" in sections:
        table, runs, good = d2d_table(d2d_sizes, d2d_seeds, quick)
        print_table(table, plain)
        ok &= good
    if "generic" in sections:
        table, good = generic_table(generic_sizes, d2d_seeds, runs, generic_limit)
        print_table(table, plain)
        ok &= good
    if "fig2" in sections:
        tables, good = fig2_tables(args.fig2_seeds, quick, args.fig2_workers)
        for t in tables:
            print_table(t, plain)
        ok &= good
    else:
        print(
            "Fig. 2 sweep not run (about 13 minutes on 2 cores). Run it with "
            "`python benchmarks/bench_offload.py --fig2 --only fig2` or "
            "`edgealloc reproduce xr-heterogeneity --out DIR` (its notes give the wall time); "
            f"target: under {TARGET_FIG2_S / 60:g} min.\n",
            flush=True,
        )
    if not ok:
        print("!!! a correctness check failed (see the rows marked NO / !!! above)", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
