"""Random ``flmar`` documents and the solver-independent result check (the family's fuzz hooks).

:func:`random_document` draws valid canonical documents for the boundary
tests and the fuzz campaign (``benchmarks/fuzz.py``); :func:`check_result`
re-evaluates what a scheme returned with :meth:`FlmarProblem.evaluate`. Both
are declared in the ``flmar`` :class:`~edgealloc.family.Family`.

The documents follow the physics of FLMAR.md section 1 around the paper's
setting (section 6): expected channel gains, CPU cycles and frame counts are
spread over 0 to 6 decades per device; the bandwidth, upload size, power and
clock ranges over several decades; one to five resolution options with any
reference resolution and any non-negative accuracy table (increasing or
not); every weight pattern the validation admits (zeros included); power and
clock bounds per device, equal or varying, some lower bounds equal to the
upper (a fixed power or clock). ``upload_bits`` and the bounds are always
written as per-device lists: the scalar form is covered by the unit tests,
and a list in place of a scalar is valid there, so a corrupted scalar would
not say which field is wrong; no deadline, or one drawn around the smallest feasible deadline: a
little below it (infeasible), a hair above it (barely feasible) or up to a
hundred times above. One device to 80, so that every scheme, the certified
search included, solves one in well under a second.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..result import Result
from ._feasible import min_round_time
from .problem import FlmarProblem

__all__ = ["check_result", "random_document"]


def _devices(rng: np.random.Generator) -> int:
    r = rng.random()
    if r < 0.2:
        return 1
    if r < 0.75:
        return int(rng.integers(2, 9))
    if r < 0.95:
        return int(rng.integers(9, 25))
    return int(rng.integers(25, 81))


def _bound_pair(
    rng: np.random.Generator, n: int, top: float, low_decades: float, zero: bool
) -> list[Any]:
    """``[min, max]`` with ``max`` around ``top``: per-device lists, some bounds equal."""
    per_device = rng.random() < 0.3
    hi = top * (10.0 ** rng.uniform(-0.5, 0.5, n) if per_device else 10.0 ** rng.uniform(-0.5, 0.5))
    mode = rng.random()
    if zero and mode < 0.25:
        lo: Any = 0.0
    elif mode < 0.35:
        lo = hi  # the bound is fixed
    else:
        lo = hi * 10.0 ** -rng.uniform(0.0, low_decades, n if per_device else None)
    lo = np.broadcast_to(np.asarray(lo, float), (n,))
    return [lo.tolist(), np.broadcast_to(np.asarray(hi, float), (n,)).tolist()]


def random_document(rng: np.random.Generator) -> dict[str, Any]:
    """A valid random canonical ``flmar`` document (JSON-ready; see the module docstring)."""
    n = _devices(rng)
    decades = float(rng.choice([0.0, 1.0, 3.0, 6.0]))

    def spread() -> np.ndarray:
        return 10.0 ** rng.uniform(-decades / 2, decades / 2, n)

    k = int(rng.integers(1, 6))
    steps = rng.integers(1, 400, k)
    resolutions = np.cumsum(steps) + int(rng.integers(0, 200))
    s0 = float(rng.choice(resolutions)) if rng.random() < 0.5 else float(resolutions[0])
    acc = rng.uniform(0.0, 1.0, k)
    if rng.random() < 0.7:
        acc = np.sort(acc)
    power = _bound_pair(rng, n, 0.0158, 3.0, zero=True)
    frequency = _bound_pair(rng, n, 2e9, 2.0, zero=False)
    pattern = rng.random()
    w1, w2 = float(rng.uniform(0.0, 1.0)), float(rng.uniform(0.0, 1.0))
    if pattern < 0.15:
        w1 = 0.0
    elif pattern < 0.3:
        w2 = 0.0
    elif pattern < 0.4:
        w1 = w2 = 0.0
    rho = 0.0 if rng.random() < 0.2 else float(10.0 ** rng.uniform(-2.0, 2.0))
    doc: dict[str, Any] = {
        "family": "flmar",
        "samples": (500.0 * spread()).tolist(),
        "cycles_per_sample": (rng.uniform(1e4, 3e4, n) * spread()).tolist(),
        "channel_gain": (10.0 ** rng.uniform(-13.0, -9.0, n) * spread()).tolist(),
        "upload_bits": (
            28100.0
            * 10.0 ** rng.uniform(-1.0, 2.0)
            * (spread() if rng.random() < 0.3 else np.ones(n))
        ).tolist(),
        "bandwidth": float(2e7 * 10.0 ** rng.uniform(-2.0, 1.0)),
        "noise_psd": 3.98e-21,
        "power": power,
        "frequency": frequency,
        "capacitance": float(1e-28 * 10.0 ** rng.uniform(-1.0, 1.0)),
        "local_iterations": int(rng.choice([1, 5, 10])),
        "rounds": int(rng.choice([1, 10, 100])),
        "resolutions": [int(s) for s in resolutions],
        "reference_resolution": s0,
        "accuracy": acc.tolist(),
        "weights": {"energy": w1, "time": w2, "accuracy": rho},
        "deadline": None,
        "baseline": {
            "randomize": str(rng.choice(["frequency", "power"])),
            "seed": int(rng.integers(0, 2**31)),
        },
    }
    p_min_zero = np.any(np.asarray(power[0], float) <= 0.0)
    needs_deadline = w1 + w2 <= 0.0 or (w2 <= 0.0 and p_min_zero)
    if needs_deadline or rng.random() < 0.5:
        probe = {**doc, "weights": {"energy": 1.0, "time": 1.0, "accuracy": 0.0}}
        t_min = min_round_time(FlmarProblem.from_dict(probe)) * doc["rounds"]
        mode = rng.random()
        if mode < 0.1:
            factor = rng.uniform(0.5, 0.99)  # infeasible
        elif mode < 0.3:
            factor = 1.0 + float(rng.choice([1e-9, 1e-6, 1e-3]))  # barely feasible
        elif mode < 0.8:
            factor = rng.uniform(1.01, 3.0)
        else:
            factor = 10.0 ** rng.uniform(0.5, 2.0)
        doc["deadline"] = float(t_min * factor)
    return doc


def _close(a: float, b: float, rtol: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-300) or a == b


def check_result(problem: FlmarProblem, result: Result, integral: bool) -> list[str]:
    """Violations of a ``flmar`` result's plan, recomputed by ``problem.evaluate``.

    The plan meets (12a)-(12d) and the deadline, its resolutions are options
    (whole pixels when ``integral``), its objective is the evaluated one, and
    the reported energies, times and accuracy are the plan's. One line per
    disagreement.
    """
    a = result.allocation
    n = problem.n_devices
    arrays = [np.asarray(x) for x in (a.bandwidth, a.power, a.frequency, a.resolution)]
    if any(x.shape != (n,) for x in arrays):
        return [f"allocation arrays have shapes {[x.shape for x in arrays]}, expected ({n},)"]
    if integral and arrays[3].dtype.kind not in "iu":
        return [f"an integral scheme returned {arrays[3].dtype} resolutions"]
    if not all(np.isfinite(x.astype(float)).all() for x in arrays):
        return ["the allocation is not finite"]
    ev = problem.evaluate(*arrays)
    out = [f"evaluate: {v}" for v in ev.violations]
    if not _close(float(result.objective), ev.objective, 1e-9):
        out.append(f"objective {result.objective!r} but the plan evaluates to {ev.objective!r}")
    for name in (
        "energy",
        "energy_transmission",
        "energy_computation",
        "time",
        "round_time",
        "accuracy",
        "mean_accuracy",
    ):
        if not _close(float(getattr(a, name)), float(getattr(ev, name))):
            out.append(f"{name} {getattr(a, name)!r} but the plan's is {getattr(ev, name)!r}")
    return out
