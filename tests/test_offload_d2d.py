"""The ``offload-d2d`` solvers: the LP (P2) of [XR] and its whole-point rounding.

Oracles, written here from the problem statement (docs/problem-files.md,
the XR offloading paper problem (P2)) and sharing nothing with
``offload/_d2d.py``:

* a dense ``scipy.optimize.linprog`` model in the paper's own variables
  (shares ``w_ij`` for every ordered pair, two link rows per link, no netting),
  and the same model sparse for larger ``N`` (the "full LP");
* exhaustive enumeration of whole-point allocations of tiny instances;
* :meth:`OffloadD2DProblem.evaluate`, the solver-independent evaluator.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

import edgealloc
from edgealloc.errors import ValidationError
from edgealloc.offload._d2d import SIMPLEX_MAX_LINKS, round_points, solve_lp
from edgealloc.offload.problem import OffloadD2DProblem

#: Feasibility tolerance of every HiGHS solve here, the oracle's and ``solve_lp``'s.
#: HiGHS's tolerances are absolute in the scaled LP (times over a scale ``S``),
#: so two HiGHS optima agree to ``FEAS_TOL * S`` seconds, not to a relative 1e-9
#: (seed 17 differs by 1.2e-9 relative, 0.004 of that bound).
FEAS_TOL = 1e-10


# ---------------------------------------------------------------------------
# Instances
# ---------------------------------------------------------------------------
def random_problem(rng: np.random.Generator, n: int, *, extreme: bool = True) -> OffloadD2DProblem:
    """Random instance: links missing at random, some users without points.

    ``extreme``: compute and link rates spread over 6 orders of magnitude each.
    """
    spread = 6.0 if extreme else 1.0
    points = rng.integers(0, 2001, n)
    points[rng.random(n) < 0.15] = 0
    compute = 3e5 * 10 ** rng.uniform(-spread, 0, n)
    rates = 1e4 * 10 ** rng.uniform(-spread / 2, spread / 2, (n, n))
    rates[rng.random((n, n)) < 0.3] = 0.0
    np.fill_diagonal(rates, 0.0)
    return OffloadD2DProblem(points=points, compute_rate=compute, link_rate=rates)


def paper_problem(n: int, seed: int) -> OffloadD2DProblem:
    """An instance like the paper's (Section IV-A, Table I).

    Users uniform in a 25 m disc; 60 GHz free-space links,
    ``r_ij = rho W log2(1 + min(SNR_max, P_tx G_tx G_rx (lambda / 4 pi d)^2 / N0)) / (2d + 1)``
    points/s with W = 1 GHz, P_tx = -3 dBm, G_tx = 2 / (1 - cos 15 deg), G_rx = 1,
    N0 = -78 dBm, SNR_max = 18 dB, d = 250 features, clustering factor
    ``rho = min(1, 10 / N)``; ``a_i = C_i 3e5`` MAC/s from the heterogeneity
    function (2) with eta = 0.5, s = 1; ``l_i ~ U[1000, 2000]``.
    """
    rng = np.random.default_rng(seed)
    radius = 25.0 * np.sqrt(rng.random(n))
    angle = 2 * np.pi * rng.random(n)
    xy = np.c_[radius * np.cos(angle), radius * np.sin(angle)]
    dist = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    np.fill_diagonal(dist, 1.0)
    wavelength = 3e8 / 60e9
    g_tx = 2 / (1 - np.cos(np.deg2rad(15)))
    p_rx = 10 ** (-3 / 10) * 1e-3 * g_tx * (wavelength / (4 * np.pi * np.maximum(dist, 0.1))) ** 2
    snr = np.minimum(10**1.8, p_rx / (10 ** (-78 / 10) * 1e-3))
    rates = min(1.0, 10 / n) * 1e9 * np.log2(1 + snr) / (2 * 250 + 1)
    np.fill_diagonal(rates, 0.0)
    x = np.arange(n) / max(n - 1, 1)
    eta, s = 0.5, 1.0
    capacity = eta * (1 - x**s) ** (1 / s) + (1 - eta)
    compute = rng.permutation(capacity) * 3e5
    points = rng.integers(1000, 2001, n)
    return OffloadD2DProblem(points=points, compute_rate=compute, link_rate=rates)


# ---------------------------------------------------------------------------
# Independent oracles
# ---------------------------------------------------------------------------
def oracle_lp(p: OffloadD2DProblem, *, dense: bool = True) -> float:
    """(P2) as printed, over ``(w_ij for all i, j; Ttr_i; T)``, solved by linprog/HiGHS.

    Times are divided by ``S = sum_i T_i`` (HiGHS's tolerances are absolute).
    Two link rows per usable link (P2a), one share row per user (sum_j w_ij <= 1), one
    time row per user (P2b); shares of missing links are fixed to 0 by bounds.
    """
    n = p.n_users
    l = p.points.astype(float)
    a, m, r = p.compute_rate, p.macs_per_point, p.link_rate
    Ti = m * l / a
    S = Ti.sum()
    if S == 0:
        return 0.0
    nw = n * n
    nv = nw + n + 1

    def wi(i: int, j: int) -> int:
        return i * n + j

    rows, cols, vals, rhs = [], [], [], []

    def add(entries: list[tuple[int, float]], b: float) -> None:
        k = len(rhs)
        for c, v in entries:
            rows.append(k)
            cols.append(c)
            vals.append(v)
        rhs.append(b)

    for i in range(n):
        for j in range(n):
            if i != j and r[i, j] > 0:
                coef = l[i] / (r[i, j] * S)
                add([(wi(i, j), coef), (nw + i, -1.0)], 0.0)  # sender's transfer
                add([(wi(i, j), coef), (nw + j, -1.0)], 0.0)  # receiver's transfer
    for i in range(n):
        add([(wi(i, j), 1.0) for j in range(n)], 1.0)
    for i in range(n):
        entries = [(nw + i, 1.0), (nv - 1, -1.0)]
        entries += [(wi(i, j), -Ti[i] / S) for j in range(n)]
        entries += [(wi(k, i), m * l[k] / (a[i] * S)) for k in range(n)]
        add(entries, -Ti[i] / S)
    A = sp.csr_array((vals, (rows, cols)), shape=(len(rhs), nv))
    if dense:
        A = A.toarray()
    ub = np.ones(nv)
    usable = (r > 0) & ~np.eye(n, dtype=bool)
    ub[:nw] = usable.ravel().astype(float)
    ub[nw:] = np.inf
    c = np.zeros(nv)
    c[-1] = 1.0
    res = linprog(
        c,
        A_ub=A,
        b_ub=np.array(rhs),
        bounds=np.c_[np.zeros(nv), ub],
        method="highs",
        options={"primal_feasibility_tolerance": FEAS_TOL, "dual_feasibility_tolerance": FEAS_TOL},
    )
    assert res.status == 0, res.message
    return float(res.fun) * S


def exhaustive(p: OffloadD2DProblem) -> tuple[float, np.ndarray]:
    """Best whole-point allocation of a tiny instance by enumeration (``evaluate`` as judge)."""
    n = p.n_users
    l = p.points.astype(int)
    per_sender = []
    for i in range(n):
        targets = [j for j in range(n) if j != i and p.link_rate[i, j] > 0]
        options = []
        for counts in itertools.product(range(l[i] + 1), repeat=len(targets)):
            if sum(counts) <= l[i]:
                row = np.zeros(n, int)
                row[targets] = counts
                options.append(row)
        per_sender.append(options)
    best, best_o = np.inf, None
    for rows in itertools.product(*per_sender):
        o = np.array(rows)
        ev = p.evaluate(o)
        assert ev.feasible
        if ev.iteration_time < best:
            best, best_o = ev.iteration_time, o
    return best, best_o


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300) if (a or b) else 0.0


def highs_close(ours: float, oracle: float, p: OffloadD2DProblem) -> bool:
    """Two HiGHS LP optima agree to what HiGHS guarantees on this instance.

    The oracle scales times by ``S = sum_i T_i``, ``solve_lp`` by ``T_0 = max_i
    T_i``; each optimum may be off by ``FEAS_TOL`` in its own scaled units, so
    they agree to ``FEAS_TOL * (S + T_0)`` seconds (plus rounding).
    """
    scale = float(p.compute_time.sum() + p.no_offload_time)
    return abs(ours - oracle) <= FEAS_TOL * scale + 1e-12 * abs(oracle)


# ---------------------------------------------------------------------------
# The LP
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(40))
def test_lp_matches_dense_oracle(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 13))
    p = random_problem(rng, n, extreme=seed % 4 != 0)
    lp = solve_lp(p)
    assert highs_close(lp.iteration_time, oracle_lp(p), p)
    ev = p.evaluate(lp.share * p.points[:, None], integral=False)
    assert ev.feasible, ev.violations
    assert rel(ev.iteration_time, lp.iteration_time) <= 1e-12
    np.testing.assert_allclose(lp.transfer, ev.transfer_time, rtol=1e-12, atol=0)
    assert lp.links == int(((p.link_rate > 0) & (p.points > 0)[:, None]).sum())
    assert lp.iteration_time <= p.no_offload_time * (1 + 1e-12)


@pytest.mark.parametrize("method", ["simplex", "ipx"])
@pytest.mark.parametrize("seed", range(6))
def test_both_methods_match_oracle(method: str, seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    p = random_problem(rng, int(rng.integers(4, 13)))
    assert highs_close(solve_lp(p, method=method).iteration_time, oracle_lp(p), p)


@pytest.mark.parametrize(("n", "seed"), [(30, 1), (40, 2), (50, 3), (60, 4)])
def test_netted_lp_matches_full_lp(n: int, seed: int) -> None:
    """The netted LP (one pair of rows per unordered pair) has the full LP's optimum."""
    p = paper_problem(n, seed)
    lp = solve_lp(p)
    full = oracle_lp(p, dense=False)
    assert highs_close(lp.iteration_time, full, p)
    assert full < p.no_offload_time * 0.9  # offloading matters on these instances
    ev = p.evaluate(lp.share * p.points[:, None], integral=False)
    assert ev.feasible and rel(ev.iteration_time, lp.iteration_time) <= 1e-12


def test_netted_lp_matches_full_lp_asymmetric() -> None:
    """Netting with one-way links and unequal rates in the two directions."""
    rng = np.random.default_rng(7)
    p = random_problem(rng, 35, extreme=False)
    assert highs_close(solve_lp(p).iteration_time, oracle_lp(p, dense=False), p)


@pytest.mark.parametrize("seed", range(5))
def test_lp_invariant_to_relabelling_and_time_unit(seed: int) -> None:
    """Renumbering users changes nothing; all rates times k divides T* by k."""
    rng = np.random.default_rng(300 + seed)
    p = random_problem(rng, int(rng.integers(3, 13)))
    base = solve_lp(p).iteration_time
    perm = rng.permutation(p.n_users)
    q = p.replace(
        points=p.points[perm].tolist(),
        compute_rate=p.compute_rate[perm].tolist(),
        link_rate=p.link_rate[np.ix_(perm, perm)].tolist(),
    )
    assert highs_close(solve_lp(q).iteration_time, base, p)
    for k in (1e-4, 1e4):
        s = p.replace(
            compute_rate=(p.compute_rate * k).tolist(), link_rate=(p.link_rate * k).tolist()
        )
        assert highs_close(solve_lp(s).iteration_time * k, base, p)


def test_single_user_and_no_links() -> None:
    one = OffloadD2DProblem(points=[1500], compute_rate=[3e5], link_rate=[[0]])
    lp = solve_lp(one)
    assert lp.links == 0 and lp.iteration_time == pytest.approx(0.01, rel=1e-15)
    assert lp.share.shape == (1, 1) and lp.share[0, 0] == 0
    none = OffloadD2DProblem(
        points=[100, 200, 300], compute_rate=[1e3, 1e4, 1e5], link_rate=np.zeros((3, 3))
    )
    lp = solve_lp(none)
    assert lp.links == 0 and lp.iteration_time == none.no_offload_time
    assert not lp.share.any() and not lp.transfer.any()


def test_users_without_points() -> None:
    idle = OffloadD2DProblem(points=[0, 0], compute_rate=[1.0, 2.0], link_rate=[[0, 5.0], [5.0, 0]])
    lp = solve_lp(idle)
    assert lp.iteration_time == 0 and lp.links == 0
    assert np.array_equal(round_points(idle, lp), np.zeros((2, 2)))
    # user 1 holds nothing: it cannot send, but it helps user 0
    p = OffloadD2DProblem(points=[1000, 0], compute_rate=[1e5, 1e5], link_rate=[[0, 1e6], [1e6, 0]])
    lp = solve_lp(p)
    assert lp.links == 1
    assert highs_close(lp.iteration_time, oracle_lp(p), p)
    assert lp.share[0, 1] > 0.4 and lp.share[1, 0] == 0


def test_receiver_that_cannot_send() -> None:
    """User 1 has no outgoing link (zero row) but receives user 0's surplus."""
    p = OffloadD2DProblem(
        points=[2000, 1000, 1000],
        compute_rate=[1e5, 4e5, 1e5],
        link_rate=[[0, 1e6, 0], [0, 0, 0], [0, 1e6, 0]],
    )
    lp = solve_lp(p)
    assert highs_close(lp.iteration_time, oracle_lp(p), p)
    assert lp.share[0, 1] > 0 and not lp.share[1].any()
    assert lp.iteration_time < p.no_offload_time


def test_offloading_that_does_not_pay() -> None:
    """A slow link: sending anything lengthens both users' iteration."""
    p = OffloadD2DProblem(
        points=[1000, 1000], compute_rate=[1e5, 3e5], link_rate=[[0, 1e4], [1e4, 0]]
    )
    lp = solve_lp(p)
    assert lp.iteration_time == pytest.approx(0.02, rel=1e-12)
    assert not round_points(p, lp).any()


# ---------------------------------------------------------------------------
# Whole points
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(25))
def test_optimal_scheme_feasible_and_bracketed(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    p = random_problem(rng, int(rng.integers(2, 13)), extreme=seed % 2 == 0)
    opt = edgealloc.solve(p, "optimal")
    relaxed = edgealloc.solve(p, "relaxed")
    none = edgealloc.solve(p, "none")
    ev = p.evaluate(opt.allocation.offloaded_points)
    assert ev.feasible, ev.violations
    assert ev.iteration_time == pytest.approx(opt.objective, rel=1e-12)
    assert opt.objective >= relaxed.objective * (1 - 1e-12)
    assert opt.bound == pytest.approx(relaxed.objective, rel=1e-12)
    assert opt.objective <= none.objective * (1 + 1e-12)
    assert opt.allocation.offloaded_points.dtype.kind == "i"
    # none's pooled bound m sum(l) / sum(a) is a valid lower bound on the LP optimum
    assert none.bound <= relaxed.objective * (1 + 1e-9)


def _tiny(rng: np.random.Generator) -> OffloadD2DProblem:
    n = int(rng.integers(2, 4))
    points = rng.integers(0, 6 if n == 2 else 5, n)
    compute = 10 ** rng.uniform(0, 1.5, n)
    rates = 10 ** rng.uniform(0, 1.5, (n, n))
    rates[rng.random((n, n)) < 0.2] = 0.0
    np.fill_diagonal(rates, 0.0)
    return OffloadD2DProblem(points=points, compute_rate=compute, link_rate=rates)


def test_rounding_against_exhaustive_search(record_property) -> None:
    """Tiny instances: rounded vs. the best whole-point allocation (gap reported, not asserted)."""
    rng = np.random.default_rng(11)
    gaps, lp_gaps = [], []
    for _ in range(60):
        p = _tiny(rng)
        lp = solve_lp(p)
        o = round_points(p, lp)
        ev = p.evaluate(o)
        assert ev.feasible, ev.violations
        best, _ = exhaustive(p)
        assert best >= lp.iteration_time * (1 - 1e-12)  # the LP bounds every allocation
        assert ev.iteration_time >= best * (1 - 1e-12)  # enumeration is exact
        gaps.append(ev.iteration_time / best - 1 if best > 0 else 0.0)
        lp_gaps.append(best / lp.iteration_time - 1 if lp.iteration_time > 0 else 0.0)
    gaps_arr = np.array(gaps)
    summary = (
        f"rounded vs exhaustive over {gaps_arr.size} tiny instances: "
        f"{int((gaps_arr <= 1e-12).sum())} optimal, mean gap {100 * gaps_arr.mean():.2f} %, "
        f"max {100 * gaps_arr.max():.2f} %; integer optimum vs LP bound: mean "
        f"{100 * np.mean(lp_gaps):.2f} %"
    )
    record_property("rounding_vs_exhaustive", summary)
    print(summary)


@pytest.mark.parametrize(("n", "seed"), [(30, 5), (60, 6)])
def test_rounding_gap_paper_instances(n: int, seed: int) -> None:
    p = paper_problem(n, seed)
    lp = solve_lp(p)
    o = round_points(p, lp)
    ev = p.evaluate(o)
    assert ev.feasible
    # ~1500 points per user: whole points cost little (measured about 0.05-0.1 %)
    assert lp.iteration_time <= ev.iteration_time <= lp.iteration_time * 1.01
    assert ev.iteration_time < p.no_offload_time


@pytest.mark.slow
def test_paper_instance_n100() -> None:
    """N = 100 (9 900 links): solved and rounded; the LP by IPX with crossover.

    N = 300 (89 700 links) takes minutes on two cores and is left to the
    benchmarks.
    """
    p = paper_problem(100, 1)
    assert p.n_links > SIMPLEX_MAX_LINKS
    opt = edgealloc.solve(p, "optimal")  # its time: benchmarks/bench_offload.py
    ev = p.evaluate(opt.allocation.offloaded_points)
    assert ev.feasible
    assert opt.bound <= opt.objective <= opt.bound * 1.01
    assert opt.objective < 0.7 * p.no_offload_time


# ---------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "link_rate",
    [
        [[0, 1, 2], [1, 0, 2]],  # not square
        [[0, 1], [1, 0], [1, 1]],  # wrong size
        [[1, 1], [1, 0]],  # nonzero diagonal
        [[0, -1], [1, 0]],  # negative rate
        [[0, float("nan")], [1, 0]],  # not finite
        "fast",  # not a matrix
    ],
)
def test_bad_link_rate(link_rate) -> None:
    doc = {
        "family": "offload-d2d",
        "points": [10, 20],
        "compute_rate": [1.0, 2.0],
        "link_rate": link_rate,
    }
    with pytest.raises(ValidationError) as info:
        edgealloc.solve(doc, "optimal")
    assert info.value.field.startswith("link_rate")
    with pytest.raises(ValidationError) as info:
        OffloadD2DProblem.from_dict(doc)
    assert info.value.field.startswith("link_rate")


def test_the_lp_has_a_time_limit_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """HiGHS gets LP_TIME_LIMIT_S per solve: an ill-conditioned file cannot make it iterate
    for many minutes; hitting the limit is one SolverError naming it."""
    import edgealloc.offload._d2d as d2d
    from edgealloc.errors import SolverError

    problem = edgealloc.load_problem("xr-d2d", overrides={"devices": 40})
    assert d2d.LP_TIME_LIMIT_S == 120.0
    monkeypatch.setattr(d2d, "LP_TIME_LIMIT_S", 1e-6)
    with pytest.raises(SolverError, match="stops after 1e-06 s"):
        edgealloc.solve(problem, "optimal")
