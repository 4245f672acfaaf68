"""Random ``mel`` documents and the solver-independent result check (the family's fuzz hooks).

:func:`random_document` draws valid canonical documents for the boundary
tests and the fuzz campaign (``benchmarks/fuzz.py``); :func:`check_result`
re-evaluates what a scheme returned with :meth:`MelProblem.evaluate`. Both
are declared in the ``mel`` :class:`~edgealloc.family.Family`
(``random_document``, ``check``).

The coefficients follow the physics of the papers (sync paper eq. (8), async
paper eqs. (8)-(11)): ``c2`` is one sample's compute time per local
iteration, ``c1`` the upload time per sample, ``c0`` the fixed model upload;
energies are powers times those times. Each device's compute and link
coefficients are multiplied by independent factors ``10 ** U(0, decades)``
with up to six decades of heterogeneity, and the whole problem by a unit
spanning nine decades. The deadline is drawn around the one at which the
continuous capacities at ``tau`` local iterations sum to ``d``: at ``tau =
1`` exactly or a hair either side of it (barely feasible, barely
infeasible), below it (infeasible), or at up to 10**5 local iterations.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..result import Result
from .problem import MelProblem

__all__ = ["check_result", "random_document"]


def _reference_deadline(
    c2: np.ndarray, c1: np.ndarray, c0: np.ndarray, d: int, tau: float
) -> float:
    """Deadline at which ``sum_k max(0, (T - c0_k) / (c2_k tau + c1_k)) = d`` (piecewise linear)."""
    w = 1.0 / (c2 * tau + c1)
    t = float((d + np.sum(c0 * w)) / np.sum(w))
    for _ in range(60):
        on = c0 < t
        new = float((d + np.sum(c0[on] * w[on])) / np.sum(w[on]))
        if new == t:
            break
        t = new
    return t


def _devices(rng: np.random.Generator) -> int:
    r = rng.random()
    if r < 0.15:
        return 1
    if r < 0.6:
        return int(rng.integers(2, 9))
    if r < 0.9:
        return int(rng.integers(9, 65))
    return int(rng.integers(65, 301))


def random_document(rng: np.random.Generator) -> dict[str, Any]:
    """A valid random canonical ``mel`` document (JSON-ready; see the module docstring).

    One device to 300; synchronous or asynchronous (staleness 0 to 50);
    with or without energy budgets (loose, or binding at one local
    iteration); ``min_samples`` 0 (devices may sit out) to 5; coefficients
    with 0 to 6 decades of heterogeneity, sometimes small integers (so that
    constraints hold with equality); deadlines from infeasible through
    barely feasible to 10**5 local iterations.
    """
    k = _devices(rng)
    min_samples = int(rng.choice([0, 1, 1, 2, 5]))
    per = int(rng.choice([1, 10, 100, 1000]))
    d = max(1, k * min_samples + int(rng.integers(0, per * k + 1)))
    if min_samples and rng.random() < 0.03:  # floors alone exceed d
        d = max(1, k * min_samples - int(rng.integers(1, k * min_samples + 1)))
    decades = float(rng.choice([0.0, 1.0, 3.0, 6.0]))
    unit = 10.0 ** rng.uniform(-6.0, 3.0)
    spread_cpu = 10.0 ** rng.uniform(0.0, decades, k)
    spread_link = 10.0 ** rng.uniform(0.0, decades, k)
    c2 = unit * rng.uniform(0.2, 2.0) * (k / d) * rng.uniform(0.5, 1.5, k) * spread_cpu
    c1 = c2.min() * rng.uniform(0.0, 5.0, k) * spread_link
    c0 = unit * rng.uniform(0.05, 1.0, k) * np.sqrt(spread_link)
    if rng.random() < 0.2:
        c1 = np.zeros(k)
    if rng.random() < 0.1:
        c0 = np.zeros(k)
    integer = rng.random() < 0.15
    if integer:  # in units of the fastest device's c2: constraints tight with equality
        step = float(c2.min())
        c2 = np.maximum(np.round(c2 / step), 1.0)
        c1, c0 = np.round(c1 / step), np.round(c0 / step)
    mode = rng.random()
    if mode < 0.15:
        tau_ref = rng.uniform(0.2, 0.95)  # infeasible (or nearly)
    elif mode < 0.4:
        tau_ref = 1.0
    elif mode < 0.9:
        tau_ref = rng.uniform(1.0, 50.0)
    else:
        tau_ref = 10.0 ** rng.uniform(2.0, 5.0)
    deadline = _reference_deadline(c2, c1, c0, d, tau_ref)
    floor = max(1, min_samples)
    if min_samples > 0 and tau_ref >= 1 and rng.random() < 0.7:
        # let the slowest device hold its floor at tau = 1 (else nearly always infeasible)
        deadline = max(deadline, float(np.max(c0 + (c2 + c1) * floor)))
    if mode >= 0.15 and mode < 0.4:  # a hair either side of the threshold
        deadline *= 1.0 + float(rng.choice([-1e-9, -1e-12, 0.0, 1e-12, 1e-9, 1e-6, 1e-3]))
    if integer:
        deadline = float(max(1.0, np.round(deadline)))
    doc: dict[str, Any] = {
        "family": "mel",
        "deadline": float(deadline),
        "total_samples": int(d),
        "c2": c2.tolist(),
        "c1": c1.tolist(),
        "c0": c0.tolist(),
        "min_samples": min_samples,
        "staleness": None,
    }
    if rng.random() < 0.5:
        doc["staleness"] = (
            int(rng.integers(0, 6)) if rng.random() < 0.9 else int(rng.integers(6, 51))
        )
    if rng.random() < 0.5:
        p_cpu = rng.uniform(0.5, 5.0, k) * 10.0 ** rng.uniform(0.0, decades, k)
        p_tx = rng.uniform(0.1, 1.0, k)
        g2, g1, g0 = p_cpu * c2, p_tx * c1, p_tx * c0
        share = d / k
        tau_e = max(1.0, min(tau_ref, 1e3))
        if rng.random() < 0.3:  # binding at one local iteration for the devices' floors
            budget = g0 + (g2 + g1) * floor * rng.choice([1.0, 1.0 + 1e-12, 2.0], k)
        else:
            scale = rng.uniform(0.3, 3.0)
            budget = scale * (g0 + (g2 * tau_e + g1) * share) * rng.uniform(0.7, 1.3, k)
        if integer:
            step = float(max(g2.min(), 1e-300))
            g2 = np.maximum(np.round(g2 / step), 1.0)
            g1, g0 = np.round(g1 / step), np.round(g0 / step)
            budget = np.round(budget / step)
        doc["energy"] = {
            "g2": g2.tolist(),
            "g1": g1.tolist(),
            "g0": g0.tolist(),
            "budget": budget.tolist(),
        }
    return doc


def _close(a: float, b: float, rtol: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rtol, abs_tol=0.0) or a == b


def check_result(problem: MelProblem, result: Result, integral: bool) -> list[str]:
    """Violations of a ``mel`` result's allocation, recomputed by ``problem.evaluate``.

    For a result with an allocation (status ``optimal`` or ``feasible``):
    the plan satisfies every constraint (integral when ``integral``), its
    objective is the evaluated one, and the reported ``times``, ``energies``
    and ``cycle_time`` are those of the plan; ``tau`` is 0 exactly where a
    device holds no samples. Returns one line per disagreement.
    """
    alloc = result.allocation
    k = problem.n_devices
    tau = np.asarray(alloc.tau)
    samples = np.asarray(alloc.samples)
    if tau.shape != (k,) or samples.shape != (k,):
        return [f"tau and samples have shapes {tau.shape}, {samples.shape}, expected ({k},)"]
    if integral and not (tau.dtype.kind in "iu" and samples.dtype.kind in "iu"):
        return [f"an integral scheme returned {tau.dtype} tau and {samples.dtype} samples"]
    out: list[str] = []
    ev = problem.evaluate(tau, samples, integral=integral)
    out += [f"evaluate: {v}" for v in ev.violations]
    if not _close(float(result.objective), ev.objective):
        out.append(f"objective {result.objective!r} but the plan evaluates to {ev.objective!r}")
    if not np.allclose(alloc.times, ev.times, rtol=1e-12, atol=0.0):
        out.append("reported times differ from the plan's")
    if (alloc.energies is None) != (ev.energies is None) or (
        ev.energies is not None and not np.allclose(alloc.energies, ev.energies, rtol=1e-12)
    ):
        out.append("reported energies differ from the plan's")
    if not _close(float(alloc.cycle_time), ev.cycle_time, 1e-12):
        out.append(f"cycle_time {alloc.cycle_time!r} but the plan's is {ev.cycle_time!r}")
    idle = samples == 0
    if (tau[idle] != 0).any():
        out.append("a device without samples reports tau != 0")
    return out
