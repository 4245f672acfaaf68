"""The continuous relaxation against SCIP's global solver (spatial branch and bound).

Problem (13) of the sync paper — and (17) of the async paper with energy —
is a non-convex QCQP (bilinear ``tau * d_k``). SCIP solves it to global
optimality on small instances; our ``relaxed`` scheme (a monotone root) must
agree. Skipped when PySCIPOpt is not installed (``pip install .[verify]``).
"""

from __future__ import annotations

import numpy as np
import pytest

import edgealloc
from edgealloc.mel import MelProblem

scip = pytest.importorskip("pyscipopt")


def scip_relaxed_sync(p: MelProblem) -> float:
    m = scip.Model()
    m.hideOutput()
    m.setParam("limits/gap", 1e-9)
    m.setParam("numerics/feastol", 1e-9)
    tau = m.addVar("tau", lb=1.0, ub=1e6)
    d = [
        m.addVar(f"d{k}", lb=float(p.participant_floor), ub=float(p.total_samples))
        for k in range(p.n_devices)
    ]
    for k in range(p.n_devices):
        m.addCons(p.c2[k] * tau * d[k] + p.c1[k] * d[k] + p.c0[k] <= p.deadline)
        if p.energy is not None:
            e = p.energy
            m.addCons(e.g2[k] * tau * d[k] + e.g1[k] * d[k] + e.g0[k] <= e.budget[k])
    m.addCons(scip.quicksum(d) == p.total_samples)
    m.setObjective(tau, "maximize")
    m.optimize()
    assert m.getStatus() == "optimal"
    return float(m.getObjVal())


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("energy", [False, True])
def test_relaxed_sync_equals_scip_global_optimum(seed, energy):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 5))
    kwargs = {}
    if energy:
        kwargs["energy"] = {
            "g2": rng.uniform(1e-4, 1e-3, k).tolist(),
            "g1": rng.uniform(0, 1e-4, k).tolist(),
            "g0": rng.uniform(0, 0.2, k).tolist(),
            "budget": rng.uniform(1, 4, k).tolist(),
        }
    p = MelProblem(
        deadline=10.0,
        total_samples=int(rng.integers(50, 400)),
        c2=10 ** rng.uniform(-4, -2, k),
        c1=10 ** rng.uniform(-4, -2, k),
        c0=rng.uniform(0, 1, k),
        **kwargs,
    )
    ours = edgealloc.solve(p, "relaxed", raise_infeasible=False)
    if not ours.success:
        pytest.skip("instance infeasible")
    assert ours.objective == pytest.approx(scip_relaxed_sync(p), rel=1e-6)
