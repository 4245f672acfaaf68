"""The paper's procedure (scheme ``paper``): what it reaches, and where the printed text fails.

Each reading of ``edgealloc.feel._paper`` that departs from the letter of the
paper has a test that runs the letter and shows the difference:

1. the ``[.]^+`` of eqs. (22)/(26) (a zero slot: an upload that never ends);
2. Corollary 2's bounds (eq. (24)) squaring negative numbers;
5. "round up to the nearest integer": ceiling against nearest.

And what the procedure gets right: before rounding it reaches the
continuous optimum (Theorems 1-2 and the search over B), and Corollary 1's
bounds bracket Algorithm 1's E^U* (CPU, and our GPU form of them).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import edgealloc
from edgealloc.feel import FeelProblem
from edgealloc.feel._model import Devices
from edgealloc.feel._paper import Algorithm1, paper_plan
from edgealloc.result import Status
from test_feel_support import random_feel

#: One fast and one very slow CPU (2 GHz and 20 MHz): at Corollary 1's lower bound
#: the slow device cannot finish even one sample.
SLOW = FeelProblem(
    cpu_hz=[2e9, 2e7],
    uplink_rate=[1e8, 1e8],
    downlink_rate=[1e8, 1e8],
    cycles_per_sample=2e7,
    update_cycles=1e5,
    gradient_bits=1e6,
    frame={"uplink": 0.01, "downlink": 0.01},
    max_batch=128,
)
#: Four equal CPUs whose optimal batch (about 20) is far below B^max = 128.
EQUAL = FeelProblem(
    cpu_hz=[1e9] * 4,
    uplink_rate=[1e8] * 4,
    downlink_rate=[1e8] * 4,
    cycles_per_sample=8e6,
    update_cycles=1e5,
    gradient_bits=2e6,
    frame={"uplink": 0.01, "downlink": 0.01},
    max_batch=128,
)


def plan_efficiency(p: FeelProblem, batch, uplink_share, downlink_share) -> float:
    up = np.asarray(uplink_share) * p.frame.uplink
    down = np.asarray(downlink_share) * p.frame.downlink
    return p.evaluate(batch, up, down, integral=False).efficiency


@pytest.mark.parametrize(("k", "gpu", "seed"), [(3, False, 0), (12, False, 1), (12, True, 2)])
def test_before_rounding_the_paper_reaches_the_continuous_optimum(k, gpu, seed) -> None:
    p = random_feel(np.random.default_rng(seed), k=k, gpu=gpu, decades=1.0, balance=1.0)
    out = paper_plan(Devices.of(p))
    assert out.converged
    relaxed = edgealloc.solve(p, "relaxed")
    value = plan_efficiency(p, out.batch, out.uplink_share, out.downlink_share)
    assert math.isclose(value, relaxed.objective, rel_tol=1e-7)
    assert abs(out.global_batch - relaxed.allocation.global_batch) <= 0.05
    # Theorem 1's slots fill the frame, and every device finishes at once (Remark 3)
    assert abs(out.uplink_share.sum() - 1.0) <= 1e-9
    dev = Devices.of(p)
    finish = dev.compute_time(out.batch) + dev.w / out.uplink_share
    assert np.ptp(finish) <= 1e-9 * finish.max()


@pytest.mark.parametrize("gpu", [False, True])
def test_corollary_1_brackets_algorithm_1(gpu: bool) -> None:
    rng = np.random.default_rng(3)
    for _ in range(5):
        p = random_feel(rng, k=8, gpu=gpu, decades=1.0, balance=1.0)
        dev = Devices.of(p)
        alg = Algorithm1(dev, literal_plus=False, printed_bounds=False)
        total = float(rng.uniform(dev.low.sum(), dev.k * dev.bmax))
        dl = dev.xi * math.sqrt(total)
        low, high = alg.e_bounds(total, dl)
        e_star, batch, _ = alg.run(total)
        assert low <= e_star * (1 + 1e-12) and e_star <= high * (1 + 1e-12)
        assert math.isclose(batch.sum(), total, rel_tol=1e-9)
        assert (batch >= dev.low - 1e-9).all()  # Lemma 2 on a GPU: at least B^th


def test_reading_1_the_plus_of_theorem_1() -> None:
    dev = Devices.of(SLOW)
    total = 50.0
    dl = math.sqrt(total)
    e, _ = Algorithm1(dev, literal_plus=False, printed_bounds=False).e_bounds(total, dl)
    # At Corollary 1's lower bound the round is 0.51 s; the slow device needs 1 s for its
    # one sample, so eq. (22) gives it [w / (T - 1 s)]^+: the printed [.]^+ makes that 0.
    assert dl * e < dev.compute_time(1.0)[1]
    literal = Algorithm1(dev, literal_plus=True, printed_bounds=False)
    ours = Algorithm1(dev, literal_plus=False, printed_bounds=False)
    s_lit, _, r_lit = literal.slot_sum(e, total, dl)
    s_our, _, r_our = ours.slot_sum(e, total, dl)
    assert r_lit[1] == 0.0 and math.isinf(r_our[1])
    # so the literal algorithm can believe a too-short round fits the frame
    assert s_lit < math.inf and math.isinf(s_our)
    # end to end: the letter collapses the plan and starves the slow device of its slot
    printed = paper_plan(dev, literal_plus=True)
    read = paper_plan(dev)
    assert printed.uplink_share[1] == 0.0
    assert not SLOW.evaluate(printed.rounded, printed.uplink_share * 0.01, [0.005, 0.005]).feasible
    assert printed.global_batch < 50 < read.global_batch
    assert edgealloc.solve(SLOW, "paper").status is Status.FEASIBLE


def test_reading_2_corollary_2_squares_negative_numbers() -> None:
    dev = Devices.of(EQUAL)
    out = paper_plan(dev)
    total = out.global_batch
    dl = math.sqrt(total)
    T = dl * out.e_up
    ours = Algorithm1(dev, literal_plus=False, printed_bounds=False)
    printed = Algorithm1(dev, literal_plus=False, printed_bounds=True)
    mu = ours.mu_star(T, total, dl)
    assert mu is not None
    low, high = ours.mu_bounds(T, dl)
    assert low <= mu <= high  # clipped at 0 before squaring: the bracket holds mu*
    p_low, p_high = printed.mu_bounds(T, dl)
    # no device reaches B^max = 128 by T, so (Delta L V E - B^max)^2 is a square of a
    # negative number: the printed "lower" bound lies above mu*, even above the upper one
    assert dev.compute_time(128.0).min() > T
    assert p_low > mu and p_low > p_high
    # a search kept in the printed bracket misses (17d): the batches no longer add up to B
    assert math.isclose(ours.solve_mu(T, total, dl).sum(), total, rel_tol=1e-9)
    assert printed.solve_mu(T, total, dl).sum() < 0.1 * total
    assert paper_plan(dev, printed_bounds=True).batch.sum() < 0.1 * total


def test_reading_5_round_up_against_nearest() -> None:
    p = random_feel(np.random.default_rng(21), k=12, decades=1.0, balance=1.0)
    dev = Devices.of(p)
    up = paper_plan(dev)
    near = paper_plan(dev, round_up=False)
    assert (up.rounded >= up.batch - 1e-9).all()  # ceilings
    assert (np.abs(near.rounded - near.batch) <= 0.5 + 1e-9).all()
    assert not np.array_equal(up.rounded, near.rounded)
    e_up = plan_efficiency(p, up.rounded, up.uplink_share, up.downlink_share)
    e_near = plan_efficiency(p, near.rounded, near.uplink_share, near.downlink_share)
    e_cont = plan_efficiency(p, up.batch, up.uplink_share, up.downlink_share)
    optimum = edgealloc.solve(p, "optimal").objective
    # rounding up lengthens the round for the devices that got more samples (the slots
    # stay as Theorem 1 gave them); neither rounding reaches the integer optimum
    assert e_up < e_cont and max(e_up, e_near) < optimum
    assert edgealloc.solve(p, "paper").objective == pytest.approx(e_up, rel=1e-14)


def test_downlink_of_theorem_2_is_the_water_filling() -> None:
    p = random_feel(np.random.default_rng(4), k=7, decades=3.0)
    dev = Devices.of(p)
    out = paper_plan(dev)
    t_paper = float(np.max(dev.v / out.downlink_share + dev.update))
    t_exact, _ = dev.downlink()
    # to the bisection's tolerance (1e-9 of the frame in the slot sum, reading 3)
    assert math.isclose(t_paper, t_exact, rel_tol=1e-6) and t_paper >= t_exact * (1 - 1e-12)
    assert out.downlink_share.sum() <= 1.0 + 1e-12
