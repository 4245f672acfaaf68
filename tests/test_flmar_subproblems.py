"""SP1 and SP2 of ``flmar`` against independent solvers, and where the paper's treatment fails.

* SP2 (16)-(17): the water-filling optimum against a multistart NLP on the
  original (b, p), and the zero-value test of SP2_v2 (Theorem 1) with CVXPY.
  The paper's "SP2 is NP-complete" is wrong: SP2 is a convex split of B once
  the power is eliminated (FLMAR.md section 4 item 4).
* SP1 (14)-(15): the relaxed SP1_v1 (18) against the conic model of FLMAR.md
  section 10; the discrete SP1 against brute force over all K^N resolution
  vectors. The paper's SP1_v1 is not convex in (f, s) as written, its KKT
  formulas (A.6)-(A.8) with clipping (19) are not the optimum when a bound
  binds and degenerate at rho = 0, and rounding (20) is a heuristic
  (FLMAR.md section 4 items 1-3).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from edgealloc.errors import InfeasibleError
from edgealloc.flmar import _sp1, verify
from edgealloc.flmar._math import power_for_rate, rate
from edgealloc.flmar._sp2 import solve_sp2
from test_flmar_helpers import paper_like


def _uploads(p, share: float = 1.0):
    n = p.n_devices
    return p.bits / rate(
        np.full(n, share * p.bandwidth / n), p.power_max, p.channel_gain, p.noise_psd
    )


def _rates(p, seed: int):
    rng = np.random.default_rng(seed)
    n = p.n_devices
    r0 = rate(np.full(n, p.bandwidth / n), p.power_max, p.channel_gain, p.noise_psd)
    return r0 * rng.uniform(0.05, 0.9, n)


# ---------------------------------------------------------------------------
# SP2
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "seed", "p_min"), [(3, 0, 1e-3), (5, 1, 0.0), (8, 2, 1e-3)])
def test_sp2_is_the_global_optimum_of_a_multistart_nlp(n, seed, p_min) -> None:
    p = paper_like(n, seed, p_min=p_min)
    r = _rates(p, seed)
    ours = solve_sp2(p, r)
    assert np.all(rate(ours.bandwidth, ours.power, p.channel_gain, p.noise_psd) >= r * (1 - 1e-12))
    assert ours.bandwidth.sum() <= p.bandwidth * (1 + 1e-12)
    assert np.all((ours.power >= p.power_min) & (ours.power <= p.power_max))
    nlp, _, _ = verify.sp2_multistart(p, r, starts=4, seed=seed)
    # The NLP never beats the water-filling optimum (FLMAR.md section 10: 1e-12).
    assert nlp >= ours.energy * (1 - 1e-12)
    assert nlp == pytest.approx(ours.energy, rel=1e-5)


def test_sp2_v2_has_value_zero_at_the_optimum_theorem_1() -> None:
    p = paper_like(5, 4)
    r = _rates(p, 4)
    sol = solve_sp2(p, r)
    w = p.weights.energy * p.rounds
    G = rate(sol.bandwidth, sol.power, p.channel_gain, p.noise_psd)
    beta = sol.power * p.bits / G  # (23)
    nu = w / G
    value, scale = verify.sp2_v2_value(p, r, beta, nu)
    assert abs(value) <= 1e-6 * scale
    # At a (beta, nu) away from (23) the value is negative: the optimum is not zero there.
    worse, scale2 = verify.sp2_v2_value(p, r, 1.3 * beta, nu)
    assert worse < -1e-3 * scale2


def test_sp2_energy_is_convex_in_bandwidth_so_not_np_hard() -> None:
    # E_n(b) = p(b) d / G(p(b), b) with the smallest feasible power is convex and decreasing.
    p = paper_like(1, 5)
    r = 0.3 * rate(np.array([p.bandwidth]), p.power_max, p.channel_gain, p.noise_psd)
    b_lo = float(solve_sp2(p.replace(bandwidth=p.bandwidth), r).bandwidth[0])  # uses all B
    b = np.linspace(0.2 * b_lo, b_lo, 400)
    pw = np.maximum(p.power_min[0], power_for_rate(b, r[0], p.channel_gain[0], p.noise_psd))
    ok = pw <= p.power_max[0]
    e = (pw * p.bits[0] / rate(b, pw, p.channel_gain[0], p.noise_psd))[ok]
    assert np.all(np.diff(e) <= 1e-18)
    assert np.all(np.diff(e, 2) >= -1e-18 * np.abs(e[1:-1]).max())


def test_sp2_infeasible_and_the_yang_variant() -> None:
    p = paper_like(3, 0)
    r = _rates(p, 0)
    with pytest.raises(InfeasibleError, match="beyond its rate"):
        solve_sp2(p, r * 1e6)
    with pytest.raises(InfeasibleError, match="more than B"):
        solve_sp2(p, rate(np.full(3, p.bandwidth), p.power_max, p.channel_gain, p.noise_psd) * 0.9)
    # Yang's objective gives bandwidth beyond the p_min kink no value: with little demand
    # every device gets just the bandwidth where p_min meets its rate.
    low = r * 1e-3
    y = solve_sp2(p, low, flat_above_kink=True)
    assert y.price == 0.0 and y.bandwidth.sum() < p.bandwidth
    assert np.allclose(y.power, p.power_min)
    full = solve_sp2(p, low)
    assert full.bandwidth.sum() == pytest.approx(p.bandwidth, rel=1e-12)
    assert full.energy < y.energy


# ---------------------------------------------------------------------------
# SP1
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seed", "rho", "deadline"), [(0, 0.0, None), (1, 10.0, None), (2, 30.0, 60.0), (3, 60.0, None)]
)
def test_relaxed_sp1_matches_the_conic_model(seed, rho, deadline) -> None:
    p = paper_like(4, seed, weights=(0.5, 0.5, rho), deadline=deadline)
    t = _uploads(p)
    ours = _sp1.relaxed(p, t)
    conic = verify.sp1_relaxed_conic(p, t)
    assert ours.value == pytest.approx(conic, rel=3e-8, abs=1e-8)
    # The plan is feasible for SP1: clocks in range, every device within the round time.
    cyc = p.cycles_per_round * (ours.resolution / p.reference_resolution) ** 2
    assert np.all(cyc / ours.frequency + t <= ours.tau * (1 + 1e-12))
    assert np.all((ours.frequency >= p.frequency_min) & (ours.frequency <= p.frequency_max))


def _brute_sp1(p, t):
    best = math.inf
    for combo in itertools.product(range(p.n_options), repeat=p.n_devices):
        try:
            best = min(best, _sp1.fixed(p, t, np.asarray(combo)).value)
        except ValueError:
            continue
    return best


@pytest.mark.parametrize(
    ("n", "seed", "rho", "deadline"),
    [(3, 0, 5.0, None), (4, 1, 30.0, None), (4, 4, 60.0, 90.0), (5, 2, 15.0, None)],
)
def test_discrete_sp1_matches_brute_force_over_all_resolution_vectors(
    n, seed, rho, deadline
) -> None:
    p = paper_like(n, seed, weights=(0.5, 0.5, rho), deadline=deadline)
    t = _uploads(p)
    exact = _sp1.discrete(p, t)
    assert exact.value == pytest.approx(_brute_sp1(p, t), rel=1e-12, abs=1e-12)


def test_rounding_is_a_heuristic_the_exact_discrete_sp1_can_be_better() -> None:
    # FLMAR.md section 4 item 3: rounding (20) of the exact relaxation, then re-solving
    # the clocks, is not the discrete optimum.
    gaps = []
    for seed in range(6):
        p = paper_like(4, seed, weights=(0.5, 0.5, 30.0))
        t = _uploads(p)
        rel = _sp1.relaxed(p, t)
        rounded = _sp1.fixed(p, t, _sp1.round_nearest(p, t, rel.resolution)).value
        exact = _sp1.discrete(p, t).value
        assert rel.value <= exact + 1e-9 * abs(exact)  # the relaxation bounds the optimum
        assert exact <= rounded + 1e-12 * abs(rounded)
        gaps.append(rounded - exact)
    assert max(gaps) > 1e-3


def test_rounding_ties_go_down_and_the_deadline_rounds_down() -> None:
    p = paper_like(3, 0)
    t = _uploads(p)
    assert _sp1.round_nearest(p, t, np.array([240.0, 241.0, 640.0])).tolist() == [0, 1, 3]
    # A deadline that 320 px cannot meet at f_max: 241 px rounds down to 160 px.
    cyc = p.cycles_per_round * 4.0
    deadline = float(np.max(t + p.cycles_per_round / p.frequency_max) + 1e-9)
    tight = p.replace(deadline=deadline * p.rounds)
    assert float(np.min(t + cyc / p.frequency_max)) > deadline
    assert _sp1.round_nearest(tight, t, np.array([241.0, 241.0, 241.0])).tolist() == [0, 0, 0]


def test_sp1_v1_is_not_convex_in_f_and_s_as_written() -> None:
    # The computation energy kappa K (s/s0)^2 f^2 has an indefinite Hessian in (f, s):
    # at any point, det = -12 (kappa K / s0^2)^2 s^2 f^2 < 0 (FLMAR.md section 4 item 1).
    kK, s0 = 1e-28 * 1e8, 160.0

    def energy(f, s):
        return kK * (s / s0) ** 2 * f**2

    f, s = 1e9, 320.0
    h = np.array(
        [
            [2 * kK * (s / s0) ** 2, 4 * kK * s * f / s0**2],
            [4 * kK * s * f / s0**2, 2 * kK * f**2 / s0**2],
        ]
    )
    assert np.linalg.eigvalsh(h).min() < 0
    # A midpoint above the chord: not convex.
    a, b = (0.5e9, 640.0), (1.5e9, 160.0)
    mid = energy(1e9, 400.0)
    assert mid > 0.5 * (energy(*a) + energy(*b))


def _literal_sp1(p, t):
    """The paper's (A.6)-(A.8) and (19) for a linear A: no bounds in the KKT, clip after."""
    w = p.weights.energy * p.rounds
    kap = p.capacitance
    K = p.cycles_per_round
    s0 = p.reference_resolution
    a = (p.accuracy[-1] - p.accuracy[0]) / (p.resolutions[-1] - p.resolutions[0])
    rho = p.weights.accuracy
    w2r = p.weights.time * p.rounds
    C = (rho * a) ** 2 * s0**2 * 2 ** (2 / 3) / (12 * K * (w * kap) ** (1 / 3))

    def lam(tau):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(tau > t, (2 * C / (3 * (tau - t))) ** 0.6, 0.0)

    if rho == 0:  # every C_n = 0: all of w2 R_g on the device with the largest t_n
        lam_n = np.zeros(p.n_devices)
        lam_n[int(np.argmax(t))] = w2r
    else:
        lo, hi = float(t.max()) * (1 + 1e-12), float(t.max()) + 1e6
        for _ in range(300):
            mid = 0.5 * (lo + hi)
            if lam(mid).sum() > w2r:
                lo = mid
            else:
                hi = mid
        lam_n = lam(hi)
    f_raw = (lam_n / (2 * w * kap)) ** (1 / 3)  # (A.6)
    with np.errstate(divide="ignore", invalid="ignore"):
        s_raw = rho * a * s0**2 / (6 * w * kap * K * f_raw**2)  # (A.7)
    f = np.clip(f_raw, p.frequency_min, p.frequency_max)  # (19)
    s = np.clip(
        np.nan_to_num(s_raw, nan=p.resolutions[0], posinf=p.resolutions[-1]),
        p.resolutions[0],
        p.resolutions[-1],
    )
    return f_raw, f, s


def _sp1_value(p, t, f, s):
    cyc = p.cycles_per_round * (s / p.reference_resolution) ** 2
    tau = float(np.max(t + cyc / f))
    acc = np.interp(s, p.resolutions, p.accuracy)
    w = p.weights.energy * p.rounds
    return (
        w * p.capacitance * np.sum(cyc * f**2)
        + p.weights.time * p.rounds * tau
        - p.weights.accuracy * np.sum(acc)
    )


def test_the_literal_kkt_formulas_fail_when_bounds_bind_and_at_rho_zero() -> None:
    # rho = 0: (A.6) gives f = 0 to every device but one; clipped to f_min they are slow.
    p = paper_like(6, 0, weights=(0.5, 0.5, 0.0))
    t = _uploads(p)
    f_raw, f, s = _literal_sp1(p, t)
    assert np.sum(f_raw == 0) == p.n_devices - 1
    exact = _sp1.relaxed(p, t)
    assert _sp1_value(p, t, f, s) > exact.value * 1.05
    # rho > 0 with binding bounds: clipping (19) is not the optimum of SP1_v1.
    for rho in (5.0, 60.0):
        q = paper_like(6, 1, weights=(0.5, 0.5, rho))
        tq = _uploads(q)
        _, fq, sq = _literal_sp1(q, tq)
        exact = _sp1.relaxed(q, tq)
        assert _sp1_value(q, tq, fq, sq) > exact.value + 1e-6 * abs(exact.value)
