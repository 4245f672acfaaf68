"""The ``offload-server`` solvers against independent oracles (:mod:`edgealloc.offload.verify`).

* ``relaxed`` (the breakpoint search) equals the HiGHS LP of (P1) to 1e-9
  relative on random instances: heterogeneity over six orders of magnitude,
  ``N = 1``, users without uplink (``r_i = 0``) or without points
  (``l_i = 0``), very strong and very weak servers.
* ``optimal`` (whole points) equals brute force exactly on tiny instances and
  the HiGHS MILP (to HiGHS's tolerance) on small ones, and no whole-point
  allocation, random or next to it, is faster.
* Every scheme passes ``evaluate`` (the wrappers raise otherwise);
  ``relaxed <= optimal <= paper, none``.
* Proposition 1 / Algorithm 1: a hand-worked instance where the published
  binding-user rule gives a time below the optimum of (P1); the algorithm's
  time is never above it (it is a relaxation).
* Scale: ``N = 10^5`` checked by a vectorised feasibility certificate written
  here; bad input gives one-line ``ValidationError``; the CLI prints the
  docs/problem-files.md fields.
"""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import edgealloc
import edgealloc.offload._server as server_module
from edgealloc import ValidationError
from edgealloc.cli import app
from edgealloc.offload import OffloadServerProblem
from edgealloc.offload._server import optimal_points, paper_algorithm1, relaxed_time
from edgealloc.offload.verify import server_exhaustive, server_lp, server_milp
from edgealloc.result import Status

LP_RTOL = 1e-9  # relaxed vs HiGHS LP, relative
#: ``verify.server_lp``'s HiGHS feasibility tolerance, absolute in its scaled LP
#: (times over ``max_i T_i``): its optimum is good to ``FEAS_TOL * max_i T_i`` s.
FEAS_TOL = 1e-10
MILP_RTOL = 1e-6  # HiGHS MILP is optimal up to its own feasibility tolerance


# ---------------------------------------------------------------------------
# Instances
# ---------------------------------------------------------------------------
def make(
    points: Any, compute: Any, uplink: Any, server: float, m: float = 2.0
) -> OffloadServerProblem:
    return OffloadServerProblem(
        points=points,
        compute_rate=compute,
        uplink_rate=uplink,
        server_rate=server,
        macs_per_point=m,
    )


def random_problem(
    rng: np.random.Generator,
    n: int,
    *,
    spread: float = 1.0,
    max_points: int = 2000,
    p_no_link: float = 0.0,
    p_no_points: float = 0.0,
    server: float | None = None,
) -> OffloadServerProblem:
    """Rates log-uniform over ``spread`` decades; some users without uplink or points."""
    l = rng.integers(1, max_points + 1, n)
    l[rng.random(n) < p_no_points] = 0
    a = 10 ** rng.uniform(5.5 - spread, 5.5, n)
    r = 10 ** rng.uniform(5 - spread, 5, n)
    r[rng.random(n) < p_no_link] = 0.0
    aS = 10 ** rng.uniform(3, 8) if server is None else server
    return make(l, a, r, aS, float(rng.choice([1.0, 2.0, 3.5])))


@st.composite
def problems(draw: st.DrawFn, max_n: int = 30, max_points: int = 2000) -> OffloadServerProblem:
    n = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    spread = draw(st.sampled_from([0.0, 0.5, 2.0, 6.0]))
    rng = np.random.default_rng(seed)
    server = draw(st.sampled_from([None, 1e-3, 1.0, 1e12]))
    return random_problem(
        rng,
        n,
        spread=spread,
        max_points=max_points,
        p_no_link=draw(st.sampled_from([0.0, 0.2, 1.0])),
        p_no_points=draw(st.sampled_from([0.0, 0.2])),
        server=server,
    )


def rel(x: float, y: float) -> float:
    return abs(x - y) / max(abs(y), 1e-300)


def highs_close(t: float, t_lp: float, p: OffloadServerProblem) -> bool:
    """Our exact optimum and HiGHS's agree to what HiGHS guarantees on ``p``."""
    return abs(t - t_lp) <= max(LP_RTOL * abs(t_lp), FEAS_TOL * p.no_offload_time)


# ---------------------------------------------------------------------------
# Continuous optimum
# ---------------------------------------------------------------------------
@settings(max_examples=250)
@given(problems())
def test_relaxed_equals_highs_lp(p: OffloadServerProblem) -> None:
    t, share = relaxed_time(p)
    t_lp, w_lp = server_lp(p)
    if not highs_close(t, t_lp, p):
        # HiGHS works to a feasibility tolerance; on badly scaled instances
        # (a_i = 2 MAC/s beside a_S = 1e12) its objective can sit below what
        # its own shares achieve. Then the shares, evaluated exactly, must
        # not beat ours.
        t_w = p.evaluate(w_lp * p.points, integral=False).iteration_time
        assert t_lp < t and t <= t_w * (1 + 1e-12), (t, t_lp, t_w)
    # Its shares take t: the evaluator's time is t up to rounding, amplified by
    # the server time's slope in T, R_i/T_i + A_U/a_S (huge for a weak server).
    assert ((share >= 0) & (share <= 1)).all()
    assert (share[p.uplink_rate == 0] == 0).all()
    ev = p.evaluate(share * p.points, integral=False)
    assert not ev.violations
    off = share > 0
    slope = 1.0
    if off.any():
        q = p.compute_rate[off] / (p.macs_per_point * p.uplink_rate[off])
        slope += q.max() + p.compute_rate[off].sum() / p.server_rate
    assert abs(ev.iteration_time - t) <= t * (1e-9 + 1e-15 * slope)


def test_relaxed_exact_where_highs_is_off() -> None:
    """One user, a_i = 2.3 MAC/s beside a_S = 1e12: HiGHS's LP is 1e-7 low, ours is exact.

    With one user that offloads, (P1) binds its server constraint:
    T* = (R + m l / a_S) / (1 + R / T_1 + a / a_S), computed here in rationals.
    (Found by hypothesis; HiGHS returned 0.0192505467, 9.8e-8 below.)
    """
    from fractions import Fraction

    p = make([947], [2.31716882], [49192.24950758], 1e12)
    l, a, r = (Fraction(float(v[0])) for v in (p.points, p.compute_rate, p.uplink_rate))
    a_s, m = Fraction(p.server_rate), Fraction(p.macs_per_point)
    R, T1 = l / r, m * l / a
    exact = (R + m * l / a_s) / (1 + R / T1 + a / a_s)
    t, _ = relaxed_time(p)
    assert rel(t, float(exact)) <= 1e-15


@pytest.mark.parametrize(
    "case",
    ["one user", "no uplinks", "no points", "strong server", "weak server", "ties", "slow link"],
)
def test_relaxed_special_cases(case: str) -> None:
    rng = np.random.default_rng(7)
    p = {
        "one user": make([1500], [3e5], [1e3], 1.5e6),
        "no uplinks": make([1500, 900, 10], [3e5, 1e5, 2.0], [0, 0, 0], 1.5e6),
        "no points": make([0, 0, 0], [3e5, 1e5, 2.0], [1e3, 0, 5.0], 1.5e6),
        "strong server": random_problem(rng, 25, spread=3, server=1e15),
        "weak server": random_problem(rng, 25, spread=3, server=1e-6),
        "ties": make([1000] * 6, [1e5] * 6, [1e4, 1e4, 1e3, 1e3, 1e5, 0], 4e5),
        "slow link": make([1000, 1000], [1e5, 1e3], [1e-3, 1e5], 1e9),
    }[case]
    t, _ = relaxed_time(p)
    t_lp, _ = server_lp(p)
    assert highs_close(t, t_lp, p)
    if case in ("no uplinks", "weak server"):  # nobody can (usefully) offload
        assert t == pytest.approx(p.no_offload_time, rel=1e-6)
    if case == "no points":
        assert t == 0.0


def test_one_user_closed_form() -> None:
    """N = 1: T = (R + m l / a_S) / (1 + R/T_1 + a/a_S), eq. (1) with U = {1}."""
    l, a, r, aS, m = 1500.0, 3e5, 1e3, 1.5e6, 2.0
    T1, R = m * l / a, l / r
    expected = (R + m * l / aS) / (1 + R / T1 + a / aS)
    t, share = relaxed_time(make([l], [a], [r], aS, m))
    assert t == pytest.approx(expected, rel=1e-14)
    assert share[0] == pytest.approx(1 - expected / T1, rel=1e-12)


# ---------------------------------------------------------------------------
# Whole points
# ---------------------------------------------------------------------------
@settings(max_examples=200)
@given(problems(max_n=3, max_points=7))
def test_optimal_equals_exhaustive(p: OffloadServerProblem) -> None:
    t, o = optimal_points(p)
    t_ex, o_ex = server_exhaustive(p)
    assert t == t_ex  # exact: the same float arithmetic as the evaluator
    assert p.evaluate(o_ex).iteration_time == t_ex
    ev = p.evaluate(o)
    assert not ev.violations and ev.iteration_time == t


@settings(max_examples=80)
@given(problems(max_n=10, max_points=2000))
def test_optimal_equals_highs_milp(p: OffloadServerProblem) -> None:
    t, o = optimal_points(p)
    assert o.dtype == np.int64
    assert t == p.evaluate(o).iteration_time
    t_milp, o_milp = server_milp(p)
    assert not p.evaluate(o_milp).violations
    assert t <= t_milp * (1 + 1e-12)  # never beaten
    assert t_milp <= t * (1 + MILP_RTOL)  # and HiGHS finds the same value


@settings(max_examples=100)
@given(problems(max_n=12, max_points=300), st.integers(0, 2**32 - 1))
def test_optimal_never_worse_than_other_allocations(p: OffloadServerProblem, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t, o = optimal_points(p)
    relaxed, _ = relaxed_time(p)
    assert relaxed <= t * (1 + 1e-12)
    top = np.where(p.uplink_rate > 0, p.points, 0).astype(np.int64)
    random = rng.integers(0, top + 1, size=(200, p.n_users))
    near = np.clip(o + rng.integers(-2, 3, size=(200, p.n_users)), 0, top)
    for alloc in np.vstack([random, near, np.zeros((1, p.n_users), np.int64)]):
        assert p.evaluate(alloc).iteration_time >= t


# ---------------------------------------------------------------------------
# The schemes through edgealloc.solve
# ---------------------------------------------------------------------------
@settings(max_examples=60)
@given(problems(max_n=20))
def test_scheme_order_and_evaluate(p: OffloadServerProblem) -> None:
    res = {s: edgealloc.solve(p, s) for s in edgealloc.schemes("offload-server")}
    assert set(res) == {"optimal", "relaxed", "paper", "none"}
    for r in res.values():  # the wrappers already raise on a violated allocation
        assert r.success
        assert not p.evaluate(r.offloaded_points, integral=r.scheme != "relaxed").violations
    # relaxed's bound is T*; its objective, the evaluated time of its shares,
    # may exceed T* by rounding (see test_relaxed_equals_highs_lp)
    relaxed, optimal = res["relaxed"].bound, res["optimal"].objective
    assert res["optimal"].status is Status.OPTIMAL
    assert res["optimal"].bound == optimal
    assert relaxed <= optimal * (1 + 1e-12)
    assert optimal <= res["paper"].objective
    assert optimal <= res["none"].objective == p.no_offload_time
    if p.no_offload_time > 0:
        for r in res.values():
            assert r.speedup == pytest.approx(p.no_offload_time / r.objective)


def test_relaxed_at_most_the_paper_algorithm_time() -> None:
    """Algorithm 1 enforces only user k's constraint: its T* is never above (P1)'s optimum."""
    rng = np.random.default_rng(3)
    below = 0
    for _ in range(400):
        p = random_problem(rng, int(rng.integers(2, 15)), spread=float(rng.choice([0.5, 2])))
        t, _ = relaxed_time(p)
        t_prop = paper_algorithm1(p).proposition1_time
        assert t_prop <= t * (1 + 1e-12)
        below += t_prop < t * (1 - 1e-9)
    assert below > 0  # and it is strictly below on some instances


# ---------------------------------------------------------------------------
# Proposition 1 counterexample
# ---------------------------------------------------------------------------
def test_proposition1_counterexample() -> None:
    r"""The binding user is not always argmax_i R_i / (1 + R_i/T_i).

    m = 1, l = (100, 100), a = (2, 3), r = (3, 1), a_S = 3:
    T = m l / a = (50, 100/3), R = l / r = (100/3, 100).
    Line 2: R_i / (1 + R_i/T_i) = (100/3) / (5/3) = 20 for user 0 and
    100 / 4 = 25 for user 1, so k = 1.
    Line 3: U = {1}, T* = (100 + 100/3) / (1 + 3 + 1) = 80/3 = 26.67.
    Lines 4-8: T_0 = 50 > 26.67, so U = {1, 0} and
    T* = (100 + 200/3) / (1 + 3 + 5/3) = (500/3) / (17/3) = 500/17 = 29.41;
    no user is left.
    (P1): for T < 100/3 both users offload; user 0's constraint asks
    T >= (100/3 + 200/3) / (1 + 2/3 + 5/3) = 100 / (10/3) = 30 > 500/17, and
    30 < 100/3, so the optimum is T = 30 with shares (1 - 30/50, 1 - 30/(100/3))
    = (0.4, 0.1), i.e. 40 and 10 whole points: user 0's server time
    40/3 + (40 + 10)/3 = 30, user 1's 10 + 50/3 = 26.67, local (100-40)/2 = 30,
    (100-10)/3 = 30.
    At Algorithm 1's 500/17 the shares (1 - 10/17, 1 - 15/17) = (7/17, 2/17)
    overload the server for user 0: 7/17 * 100/3 + (900/17)/3 = 1600/51 = 31.37.
    Lines 9-10: o = (ceil(700/17), ceil(200/17)) = (42, 12); user 0's server
    time 42/3 + 54/3 = 32, so the paper's allocation takes 32.
    """
    p = make([100, 100], [2, 3], [3, 1], 3.0, m=1.0)
    out = paper_algorithm1(p)
    assert out.proposition1_time == pytest.approx(500 / 17, rel=1e-14)
    assert out.offloaded_points.tolist() == [42, 12]
    assert p.evaluate(out.offloaded_points).iteration_time == pytest.approx(32.0, rel=1e-14)
    at_prop = np.array([7 / 17, 2 / 17]) * 100
    assert p.evaluate(at_prop, integral=False).server_time[0] == pytest.approx(1600 / 51)

    t, share = relaxed_time(p)
    assert t == pytest.approx(30.0, rel=1e-14)
    assert share == pytest.approx([0.4, 0.1], rel=1e-12)
    assert server_lp(p)[0] == pytest.approx(30.0, rel=1e-9)
    t_int, o = optimal_points(p)
    assert t_int == pytest.approx(30.0, rel=1e-14)
    assert o.tolist() == [40, 10]
    res = edgealloc.solve(p, "paper")
    assert res.objective == pytest.approx(32.0) and res.info["proposition1_time"] < t


def test_paper_algorithm_walk_hand_example() -> None:
    """Lines 1-8 on an instance where k binds: the walk stops at the first T_i <= T*.

    m = 1, a_S = 10, users (l, a, r): (100, 1, 1), (50, 1, 100), (10, 10, 0.01).
    T = (100, 50, 1), R = (100, 0.5, 1000);
    R/(1 + R/T) = (50, 0.5/1.01 = 0.495, 1000/1001 = 0.999): k = 0 (not argmax R).
    U = {0}: T* = (100 + 10) / (1 + 1 + 0.1) = 110/2.1 = 52.38; next in the
    order T_1 = 50 <= 52.38: stop. (P1): at 52.38 only user 0 offloads, and
    T = 50 is infeasible (user 0 with U = {0, 1}: (100 + 15)/(2 + 0.2) = 52.27
    > 50), so its optimum is 110/2.1 too.
    Line 9: o_0 = ceil((1 - 52.38/100) 100) = ceil(47.62) = 48.
    """
    p = make([100, 50, 10], [1, 1, 10], [1, 100, 0.01], 10.0, m=1.0)
    out = paper_algorithm1(p)
    assert out.proposition1_time == pytest.approx(110 / 2.1, rel=1e-14)
    assert out.offloaded_points.tolist() == [48, 0, 0]
    assert relaxed_time(p)[0] == pytest.approx(110 / 2.1, rel=1e-14)


# ---------------------------------------------------------------------------
# Scale
# ---------------------------------------------------------------------------
def feasible_at(p: OffloadServerProblem, T: float) -> bool:
    """(P1) feasibility of T with the minimal shares, written here from the model."""
    l, a, r = p.points, p.compute_rate, p.uplink_rate
    Ti = p.macs_per_point * l / a
    if (Ti[(r == 0) & (l > 0)] > T).any():
        return False
    w = np.where((r > 0) & (Ti > T), 1 - T / np.where(Ti > 0, Ti, 1), 0.0)
    load = p.macs_per_point * float((w * l).sum()) / p.server_rate
    send = np.where(w > 0, w * l / np.where(r > 0, r, 1), 0.0)
    return bool((send[w > 0] + load <= T).all())


def test_large_instance() -> None:
    """N = 10^5, Table-I-like rates: exact by a certificate (its speed: the benchmarks)."""
    rng = np.random.default_rng(11)
    n = 100_000
    p = make(
        rng.integers(1000, 2001, n),
        3e5 * rng.uniform(0.2, 1.0, n),
        1.2e6 * rng.uniform(0.2, 1.0, n),
        0.05 * n * 3e5,
    )
    t, share = relaxed_time(p)
    t_int, o = optimal_points(p)
    out = paper_algorithm1(p)
    assert (share > 0).sum() > n // 10  # a hard instance: many users offload
    assert feasible_at(p, t * (1 + 1e-9)) and not feasible_at(p, t * (1 - 1e-9))
    assert t <= t_int and t_int == p.evaluate(o).iteration_time
    assert not p.evaluate(o).violations
    assert t_int <= p.evaluate(out.offloaded_points).iteration_time
    # whole points: one point fewer for any offloading user breaks its local time
    fewer = o.copy()
    i = int(np.flatnonzero(o > 0)[0])
    fewer[i] -= 1
    assert p.evaluate(fewer).local_time[i] > t_int


# ---------------------------------------------------------------------------
# Input and CLI
# ---------------------------------------------------------------------------
CANONICAL = {
    "family": "offload-server",
    "points": [1500, 1200, 1800],
    "compute_rate": [3e5, 1.2e5, 2e5],
    "uplink_rate": [2e3, 5e3, 0],
    "server_rate": 1.5e6,
    "macs_per_point": 2,
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"uplink_rate": [2e3, -5, 0]}, "uplink_rate[1]"),
        ({"compute_rate": [3e5, float("nan"), 2e5]}, "compute_rate[1]"),
        ({"compute_rate": [3e5, 0, 2e5]}, "compute_rate[1]"),
        ({"points": [1500, 1200.5, 1800]}, "points[1]"),
        ({"points": [1500, -1, 1800]}, "points[1]"),
        ({"uplink_rate": [2e3, 5e3]}, "uplink_rate"),
        ({"compute_rate": [3e5]}, "compute_rate"),
        ({"server_rate": -1.0}, "server_rate"),
        ({"server_rate": float("inf")}, "server_rate"),
        ({"macs_per_point": 0}, "macs_per_point"),
        ({"bandwidth": 1e6}, "bandwidth"),
    ],
)
def test_bad_input_names_the_field(change: dict[str, Any], field: str) -> None:
    data = {**CANONICAL, **change}
    with pytest.raises(ValidationError) as err:
        edgealloc.load_problem(data)
    assert err.value.field == field
    assert "\n" not in str(err.value)


def test_cli_solve_canonical_file(tmp_path: Path) -> None:
    path = tmp_path / "server.json"
    path.write_text(json.dumps(CANONICAL))
    runner = CliRunner()
    for scheme in ("optimal", "relaxed", "paper", "none"):
        res = runner.invoke(app, ["solve", str(path), "--scheme", scheme, "--json"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout)
        assert out["family"] == "offload-server" and out["scheme"] == scheme
        for key in ("iteration_time", "share", "offloaded_points", "no_offload_time", "speedup"):
            assert key in out
        p = edgealloc.load_problem(CANONICAL)
        assert out["no_offload_time"] == pytest.approx(p.no_offload_time)  # 2 * 1800 / 2e5
        assert out["speedup"] == pytest.approx(out["no_offload_time"] / out["iteration_time"])
        assert out["offloaded_points"][2] == 0  # no uplink
        if scheme != "relaxed":  # the continuous optimum proposes fractional points
            assert all(isinstance(v, int) for v in out["offloaded_points"])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**CANONICAL, "uplink_rate": [1, -1, 0]}))
    res = runner.invoke(app, ["solve", str(bad)])
    assert res.exit_code == 2
    assert "uplink_rate[1]" in res.output and "Traceback" not in res.output


def test_module_doctests() -> None:
    result = doctest.testmod(server_module)
    assert result.failed == 0 and result.attempted > 0
