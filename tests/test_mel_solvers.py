"""Behaviour of the ``mel`` schemes that the oracle suite does not cover.

Theorem 1's polynomial versus the robust root, the degenerate SDP suggest
step of the async paper, the continuous relaxation's optimality conditions,
diagnostics of infeasible inputs, and the tie-break of ``optimal``.
"""

from __future__ import annotations

import numpy as np
import pytest

import edgealloc
from edgealloc import InfeasibleError, Status
from edgealloc.mel import MelProblem
from edgealloc.mel.solvers import theorem1_polynomial


def random_sync(seed: int, k: int, **extra) -> MelProblem:
    rng = np.random.default_rng(seed)
    return MelProblem(
        deadline=30.0,
        total_samples=1000 * k,
        c2=10 ** rng.uniform(-4, -2, k),
        c1=10 ** rng.uniform(-5, -2, k),
        c0=rng.uniform(0, 1, k),
        **extra,
    )


# --------------------------------------------------------------------- Theorem 1
def test_theorem1_polynomial_matches_the_rational_function():
    rng = np.random.default_rng(0)
    a, b, d = rng.uniform(1, 10, 6), rng.uniform(0.1, 2, 6), 7.0
    coeffs = theorem1_polynomial(a, b, d)
    for tau in (0.3, 1.7, 4.0):
        lhs = np.polyval(coeffs, tau)
        rhs = (d - np.sum(a / (tau + b))) * np.prod(tau + b)  # eq. (24)-(26) multiplied out
        assert lhs == pytest.approx(rhs, rel=1e-10)


def tau_star(result) -> float:
    return float(result.message.split("tau* = ")[1].split(" ")[0])


def test_theorem1_root_equals_robust_relaxation_for_small_k():
    for seed in range(5):
        p = random_sync(seed, 5)
        relaxed = edgealloc.solve(p, "relaxed").objective
        paper = edgealloc.solve(p, "paper")
        assert paper.status is Status.FEASIBLE
        assert tau_star(paper) == pytest.approx(relaxed, rel=1e-9)


def test_theorem1_polynomial_is_numerically_hopeless_beyond_small_k():
    """The paper's degree-K polynomial breaks down; the monotone root does not.

    At K = 80-120 its coefficients span ~1e100 and numpy.roots returns a
    wrong root or none; at K = 300 they overflow. The robust relaxation (Brent
    on the capacity sum) stays exact: its tau makes the capacities sum to d.
    """
    broken = 0
    for k in (80, 120):
        for seed in range(10):
            p = random_sync(seed, k)
            relaxed = edgealloc.solve(p, "relaxed")
            assert relaxed.samples.sum() == pytest.approx(p.total_samples, rel=1e-12)
            paper = edgealloc.solve(p, "paper")
            if (
                paper.status is Status.FAILED
                or abs(tau_star(paper) - relaxed.objective) > 1e-3 * relaxed.objective
            ):
                broken += 1
    assert broken >= 2
    for seed in range(3):
        p = random_sync(seed, 300)
        assert edgealloc.solve(p, "paper").status is Status.FAILED
        rel = edgealloc.solve(p, "relaxed")
        assert rel.status is Status.OPTIMAL and rel.objective > 1


# ------------------------------------------------------------ SDP suggest step
def test_async_paper_sdp_dual_matrix_is_never_psd():
    """F2(Gamma) = sum_k lambda_k P_k + gamma_k Q_k (async paper eqs. (22)-(24)).

    P_k and Q_k only have the entries C2_k/2 (G2_k/2) at (0, k) and (k, 0):
    the zero diagonal makes F2 indefinite for any non-zero multipliers, so the
    SDP (19) forces lambda = gamma = 0 and its candidate (27) does not exist.
    """
    rng = np.random.default_rng(3)
    k = 6
    c2, g2 = rng.uniform(1e-4, 1e-2, k), rng.uniform(1e-5, 1e-3, k)
    for _ in range(20):
        lam, gam = rng.uniform(0, 5, k), rng.uniform(0, 5, k)
        f2 = np.zeros((k + 1, k + 1))
        f2[0, 1:] = f2[1:, 0] = 0.5 * (lam * c2 + gam * g2)
        assert np.allclose(np.diag(f2), 0)
        assert np.linalg.eigvalsh(f2).min() < -1e-9


# ------------------------------------------------------- relaxed optimality
@pytest.mark.parametrize("energy", [False, True])
def test_sync_relaxation_satisfies_its_optimality_conditions(energy):
    rng = np.random.default_rng(5)
    k = 30
    extra = {}
    if energy:
        extra["energy"] = {
            "g2": rng.uniform(1e-5, 1e-4, k).tolist(),
            "g1": np.zeros(k).tolist(),
            "g0": rng.uniform(0, 0.1, k).tolist(),
            "budget": rng.uniform(2, 5, k).tolist(),
        }
    p = random_sync(1, k, **extra)
    res = edgealloc.solve(p, "relaxed")
    tau = res.objective
    assert res.status is Status.OPTIMAL
    # Primal feasible, and the d_k fill every device exactly (no slack anywhere), so
    # any larger tau would need more capacity than exists: KKT with all lambda_k > 0.
    ev = p.evaluate(res.tau, res.samples, integral=False)
    assert ev.feasible, ev.violations
    cap_t = (p.deadline - p.c0) / (p.c2 * tau + p.c1)
    caps = cap_t
    if energy:
        e = p.energy
        caps = np.minimum(cap_t, (e.budget - e.g0) / (e.g2 * tau + e.g1))
    assert caps.sum() == pytest.approx(p.total_samples, rel=1e-10)
    bigger = tau * (1 + 1e-8)
    cap2 = (p.deadline - p.c0) / (p.c2 * bigger + p.c1)
    if energy:
        cap2 = np.minimum(cap2, (e.budget - e.g0) / (e.g2 * bigger + e.g1))
    assert cap2.sum() < p.total_samples


def test_async_relaxation_brackets_the_integer_optimum():
    p = edgealloc.load_problem("mel-async")
    opt = edgealloc.solve(p, "optimal")
    rel = edgealloc.solve(p, "relaxed")
    assert rel.bound >= rel.objective - 1e-12
    assert rel.bound >= opt.objective
    assert p.evaluate(rel.tau, rel.samples, integral=False).feasible
    assert opt.relaxed_bound == pytest.approx(rel.bound)


# ---------------------------------------------------------------- diagnostics
def test_min_samples_too_large():
    p = random_sync(0, 4).replace(total_samples=10, min_samples=3)
    with pytest.raises(InfeasibleError, match="lower min_samples to at most 2"):
        edgealloc.solve(p)


def test_min_deadline_is_the_threshold():
    p = random_sync(2, 6).replace(deadline=0.01)
    with pytest.raises(InfeasibleError) as info:
        edgealloc.solve(p)
    t = info.value.min_deadline
    assert t is not None and t > 0.01
    assert edgealloc.solve(p.replace(deadline=t)).objective == 1
    with pytest.raises(InfeasibleError):
        edgealloc.solve(p.replace(deadline=t * (1 - 1e-9)))


def test_energy_shortfall_is_reported():
    k = 5
    p = random_sync(3, k).replace(
        energy={"g2": [1.0] * k, "g1": [0.0] * k, "g0": [0.5] * k, "budget": [1.0] * k}
    )
    with pytest.raises(InfeasibleError, match="need") as info:
        edgealloc.solve(p)
    extra = info.value.energy_shortfall
    assert extra > 0 and info.value.min_deadline is None
    # With every budget raised by the shortfall one iteration fits the energy: d/K = 1000
    # samples cost 0.5 + 1000 J each.
    assert extra == pytest.approx(0.5 + 1000 - 1.0, rel=1e-6)


def test_raise_infeasible_false_returns_a_result():
    p = random_sync(2, 6).replace(deadline=0.01)
    res = edgealloc.solve(p, raise_infeasible=False)
    assert res.status is Status.INFEASIBLE and not res.success
    assert res.info["min_deadline"] > 0.01
    doc = res.to_dict()
    assert doc["status"] == "infeasible" and doc["objective"] is None
    with pytest.raises(InfeasibleError):
        res.raise_for_status()


def test_equal_reports_its_own_min_deadline():
    p = random_sync(4, 5)
    eq = edgealloc.solve(p.replace(deadline=1.0), "equal", raise_infeasible=False)
    assert eq.status is Status.INFEASIBLE
    t = eq.info["min_deadline"]
    assert edgealloc.solve(p.replace(deadline=t), "equal").objective >= 1


# ------------------------------------------------------------- optimal extras
def test_optimal_breaks_ties_by_cycle_time():
    p = edgealloc.load_problem("mel-sync")
    opt = edgealloc.solve(p, "optimal")
    paper = edgealloc.solve(p, "paper")
    assert opt.objective == paper.objective  # same tau here ...
    assert opt.cycle_time <= paper.cycle_time + 1e-12  # ... but the slowest device finishes first
    # No single sample can move from the slowest device to another without making
    # that device at least as slow: the exchange condition of a minimum makespan.
    tau = opt.tau[0]
    t = opt.times
    slow = int(np.argmax(t))
    s = p.c2 * tau + p.c1
    after = p.c0 + s * (opt.samples + 1)
    others = np.delete(np.arange(p.n_devices), slow)
    assert (after[others] >= t[slow] - 1e-12).all()


def test_async_with_zero_staleness_equals_sync():
    p = edgealloc.load_problem("mel-async")
    sync = edgealloc.solve(p.replace(staleness=None), "optimal")
    c0 = edgealloc.solve(p.replace(staleness=0), "optimal")
    assert c0.objective == sync.objective


def test_devices_sit_out_when_allowed():
    # Device 2 cannot finish one sample before the deadline; with min_samples = 0 it sits out.
    p = MelProblem(
        deadline=10.0,
        total_samples=50,
        c2=[0.01, 0.01, 0.01],
        c1=[0.0, 0.0, 0.0],
        c0=[0.0, 0.0, 11.0],
        min_samples=0,
    )
    res = edgealloc.solve(p)
    assert res.samples[2] == 0 and res.tau[2] == 0 and res.objective >= 1
    with pytest.raises(InfeasibleError):
        edgealloc.solve(p.replace(min_samples=1))
