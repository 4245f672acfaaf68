"""The two combinatorial kernels, each against brute force.

- :func:`edgealloc._mckp.solve_mckp`: multiple-choice knapsack (exactness,
  target pruning, the reduction + core DP path).
- :func:`edgealloc.mel._makespan.min_makespan`: integer minimum makespan.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edgealloc._mckp import solve_mckp
from edgealloc.mel._makespan import min_makespan


def brute_mckp(values, costs, budget):
    """Dictionary DP over rows: exact and independent of the solver's method."""
    best = {0.0: 0.0}
    for i in range(values.shape[0]):
        nxt: dict[float, float] = {}
        for v, c in best.items():
            for j in range(values.shape[1]):
                if np.isfinite(costs[i, j]):
                    vv, cc = v + values[i, j], c + costs[i, j]
                    if cc <= budget + 1e-9 and cc < nxt.get(vv, np.inf):
                        nxt[vv] = cc
        best = nxt
    return max(best) if best else -np.inf


def random_instance(rng, kind):
    n = int(rng.integers(1, 12))
    j = int(rng.integers(1, 7))
    values = np.tile(np.arange(j, dtype=float), (n, 1))
    if kind == "concave":  # the shape mel windows have: big first steps
        steps = np.sort(rng.integers(0, 20, (n, j)), axis=1)[:, ::-1].astype(float)
    elif kind == "identical":  # massive ties
        steps = np.tile(rng.integers(0, 10, j), (n, 1)).astype(float)
    else:
        steps = rng.integers(0, 6, (n, j)).astype(float)
    steps[:, 0] = 0
    costs = np.cumsum(steps, axis=1)
    cut = rng.random(n) < 0.3
    for i in np.flatnonzero(cut):
        costs[i, rng.integers(1, j + 1) :] = np.inf
    total = float(np.nan_to_num(costs, posinf=0).sum())
    budget = float(rng.integers(0, int(total) + 2))
    return values, costs, budget


@pytest.mark.parametrize("kind", ["concave", "random", "identical"])
def test_mckp_is_exact(kind):
    rng = np.random.default_rng({"concave": 1, "random": 2, "identical": 3}[kind])
    core_used = 0
    for _ in range(600):
        values, costs, budget = random_instance(rng, kind)
        sol = solve_mckp(values, costs, budget)
        best = brute_mckp(values, costs, budget)
        assert sol.value == best
        rows = np.arange(values.shape[0])
        assert costs[rows, sol.choice].sum() <= budget + 1e-9
        assert values[rows, sol.choice].sum() == sol.value
        assert sol.lp_bound >= sol.value - 1e-9
        core_used += sol.core_rows > 0
        # `target` prunes exactly: asking for one more than the optimum finds nothing.
        assert solve_mckp(values, costs, budget, target=best + 1).choice is None
        assert solve_mckp(values, costs, budget, target=best).value == best
    # The reduction + core dynamic programme must actually have been exercised.
    assert core_used > 10


def test_greedy_fails_where_mckp_does_not():
    # Concave costs: the LP greedy takes a partial upgrade; the optimum lifts one row fully.
    values = np.array([[0.0, 1, 2], [0.0, 1, 2]])
    costs = np.array([[0.0, 3, 4], [0.0, 3, 4]])
    sol = solve_mckp(values, costs, 5.0)
    assert sol.value == 2 and sorted(sol.choice.tolist()) == [0, 2]


def test_mckp_scales():
    rng = np.random.default_rng(7)
    n, j = 10_000, 6
    steps = np.sort(rng.integers(0, 40, (n, j)), axis=1)[:, ::-1].astype(float)
    steps[:, 0] = 0
    costs = np.cumsum(steps, axis=1)
    values = np.tile(np.arange(j, dtype=float), (n, 1))
    sol = solve_mckp(values, costs, float(costs[:, -1].sum() * 0.4))
    assert sol.lp_bound - sol.value < 1.0  # proven optimal by the integer LP bound


def brute_makespan(c0, s, lo, hi, total):
    best = np.inf
    for comb in itertools.product(*[range(a, b + 1) for a, b in zip(lo, hi, strict=True)]):
        n = np.array(comb)
        if n.sum() != total:
            continue
        busy = n > 0
        best = min(best, float((c0[busy] + s[busy] * n[busy]).max()) if busy.any() else 0.0)
    return best


def test_min_makespan_is_exact():
    rng = np.random.default_rng(11)
    for _ in range(400):
        k = int(rng.integers(1, 5))
        c0 = rng.uniform(0, 2, k)
        s = rng.uniform(0.1, 3, k)
        lo = rng.integers(0, 2, k)
        hi = lo + rng.integers(0, 5, k)
        total = int(rng.integers(lo.sum(), hi.sum() + 1))
        if total == 0:
            continue
        n, span = min_makespan(c0, s, lo, hi, total)
        assert n.sum() == total and (n >= lo).all() and (n <= hi).all()
        assert span == pytest.approx(brute_makespan(c0, s, lo, hi, total), abs=1e-12)


def test_min_makespan_with_massive_ties():
    k = 50_000
    n, span = min_makespan(np.zeros(k), np.ones(k), np.zeros(k, int), np.full(k, 3), 70_001)
    assert n.sum() == 70_001 and span == 2.0
