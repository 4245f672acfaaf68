"""Property tests of ``flmar`` (Hypothesis, derandomised in conftest).

For random small problems (any weights, with or without a deadline, p_min 0
or not, one to four resolutions):

* every plan a scheme reports passes ``evaluate`` and reproduces its totals;
* ``optimal`` is never worse than any other scheme;
* its bound is never above any feasible objective (and the gap closes).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import edgealloc
from edgealloc.errors import InfeasibleError
from edgealloc.flmar import FlmarProblem
from edgealloc.result import Status
from test_flmar_helpers import document


@st.composite
def problems(draw) -> FlmarProblem:
    n = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 10_000))
    options = draw(st.integers(1, 4))
    w1 = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    w2 = draw(st.sampled_from([0.0, 0.5, 0.9]))
    rho = draw(st.sampled_from([0.0, 1.0, 10.0, 40.0]))
    deadline = draw(st.sampled_from([None, 30.0, 80.0, 200.0]))
    if w1 + w2 == 0 and deadline is None:
        deadline = 80.0
    p_min = draw(st.sampled_from([0.0, 1e-3]))
    if w2 == 0 and deadline is None:
        p_min = 1e-3
    doc = document(n, seed, weights=(w1, w2, rho), deadline=deadline, p_min=p_min, options=options)
    if draw(st.booleans()):  # per-device clock ranges
        rng = np.random.default_rng(seed)
        doc["frequency"] = [rng.uniform(1e8, 5e8, n).tolist(), rng.uniform(1e9, 2e9, n).tolist()]
    return FlmarProblem.from_dict(doc)


def _all(problem: FlmarProblem):
    out = {}
    for scheme in edgealloc.schemes("flmar"):
        try:
            out[scheme] = edgealloc.solve(problem, scheme)
        except InfeasibleError:
            out[scheme] = None
    return out


@settings(max_examples=14)
@given(problems())
def test_every_plan_passes_evaluate_and_optimal_is_best(problem: FlmarProblem) -> None:
    results = _all(problem)
    best = results["optimal"]
    if best is None:  # infeasible deadline: every scheme must agree
        assert results["paper"] is None
        return
    assert best.status is Status.OPTIMAL
    scale = max(1.0, abs(best.objective))
    assert best.objective - best.bound <= 1e-6 * scale
    for scheme, res in results.items():
        if res is None or not res.success:
            continue
        ev = problem.evaluate(res.bandwidth, res.power, res.frequency, res.resolution)
        assert ev.feasible, (scheme, ev.violations)
        assert math.isclose(ev.objective, res.objective, rel_tol=1e-12, abs_tol=1e-12)
        assert math.isclose(ev.energy, res.energy, rel_tol=1e-12)
        assert math.isclose(ev.time, res.time, rel_tol=1e-12)
        # optimal is never worse; its bound is below every feasible objective.
        assert best.objective <= res.objective + 1e-9 * scale, scheme
        assert best.bound <= res.objective + 1e-9 * scale, scheme
