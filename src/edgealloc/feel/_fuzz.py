"""Random ``feel`` documents and the solver-independent result check (the family's fuzz hooks).

:func:`random_document` draws valid canonical documents for the boundary
tests and the fuzz campaign (``benchmarks/fuzz.py``); :func:`check_result`
re-evaluates what a scheme returned with :meth:`FeelProblem.evaluate`.

Devices: one to 300, CPU or GPU (Assumption 1, integer or fractional
thresholds), clocks (GPU: slopes) and both rates spread over 0 to 6 decades,
the whole problem scaled by a unit over nine decades, ``B^max`` from 1 to
128. The compute time of a sample is drawn around the value that makes the
optimal batch interior (``balance`` near 1), or far on either side (every
batch at 1, every batch at ``B^max``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..result import Result
from .problem import FeelProblem

__all__ = ["check_result", "random_document"]


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
    """A valid random canonical ``feel`` document (JSON-ready; see the module docstring)."""
    k = _devices(rng)
    decades = float(rng.choice([0.0, 1.0, 3.0, 6.0]))
    unit = 10.0 ** rng.uniform(-4.0, 5.0)  # seconds per second of the whole problem
    bmax = int(rng.choice([1, 2, 7, 32, 128]))
    bits = float(10.0 ** rng.uniform(3.0, 9.0))
    up = bits / unit * 10.0 ** rng.uniform(-decades / 2, decades / 2, k)
    down = bits / unit * 10.0 ** rng.uniform(-decades / 2, decades / 2, k)
    balance = float(10.0 ** rng.choice([rng.uniform(-0.5, 0.5), rng.uniform(-4, 4)]))
    tdma = k * bits / float(np.median(up))
    per_sample = 4.0 * balance * tdma / bmax
    spread = 10.0 ** rng.uniform(0.0, decades, k)
    doc: dict[str, Any] = {
        "family": "feel",
        "uplink_rate": up.tolist(),
        "downlink_rate": down.tolist(),
        "gradient_bits": bits,
        "frame": {
            "uplink": float(10.0 ** rng.uniform(-3.0, -1.0)),
            "downlink": float(10.0 ** rng.uniform(-3.0, -1.0)),
        },
        "max_batch": bmax,
        "loss_decay": float(10.0 ** rng.uniform(-2.0, 2.0)),
        "gpu": None,
    }
    if rng.random() < 0.4:
        slope = per_sample / spread
        threshold = rng.integers(0, bmax + 1, k).astype(float)
        if rng.random() < 0.3:
            threshold = np.minimum(threshold + rng.uniform(0.0, 1.0, k), bmax)
        doc["gpu"] = {
            "base_time": (slope * rng.uniform(0.0, 20.0, k)).tolist(),
            "slope": slope.tolist(),
            "threshold": threshold.tolist(),
            "update_time": (slope * rng.uniform(0.0, 2.0, k)).tolist(),
        }
    else:
        cpu = 1e9 * spread
        cycles = per_sample * float(np.median(cpu))
        doc["cpu_hz"] = cpu.tolist()
        doc["cycles_per_sample"] = cycles
        doc["update_cycles"] = float(cycles * rng.choice([0.0, rng.uniform(0.0, 2.0)]))
    return doc


def _close(a: float, b: float, rtol: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rtol, abs_tol=0.0) or a == b


def check_result(problem: FeelProblem, result: Result, integral: bool) -> list[str]:
    """Violations of a ``feel`` result's plan, recomputed by ``problem.evaluate``.

    The plan satisfies every constraint (integral batches when ``integral``),
    its objective is the evaluated efficiency, and the reported latencies,
    global batch and per-device times are the plan's. One line per
    disagreement.
    """
    a = result.allocation
    k = problem.n_devices
    arrays = [np.asarray(x) for x in (a.batch, a.uplink_slot, a.downlink_slot)]
    if any(x.shape != (k,) for x in arrays):
        return [f"batch and slots have shapes {[x.shape for x in arrays]}, expected ({k},)"]
    if integral and arrays[0].dtype.kind not in "iu":
        return [f"an integral scheme returned {arrays[0].dtype} batches"]
    ev = problem.evaluate(*arrays, integral=integral)
    out = [f"evaluate: {v}" for v in ev.violations]
    if not _close(float(result.objective), ev.efficiency):
        out.append(f"objective {result.objective!r} but the plan evaluates to {ev.efficiency!r}")
    for name in ("latency", "latency_uplink", "latency_downlink", "efficiency", "global_batch"):
        if not _close(float(getattr(a, name)), float(getattr(ev, name))):
            out.append(f"{name} {getattr(a, name)!r} but the plan's is {getattr(ev, name)!r}")
    for name in ("compute_time", "upload_time", "download_time"):
        if not np.allclose(getattr(a, name), getattr(ev, name), rtol=1e-12, atol=0.0):
            out.append(f"reported {name} differs from the plan's")
    return out
