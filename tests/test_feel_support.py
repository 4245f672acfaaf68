"""Shared helpers of the ``feel`` tests: random problems and oracles written from the paper.

Nothing here calls the family's solvers or their helpers: the oracles
re-derive what they need from the formulas of Ren, Yu & Ding (IEEE JSAC 2021).

* :func:`random_feel` — physically plausible random problems (CPU or GPU),
  heterogeneity over up to six orders of magnitude, batches that are neither
  all 1 nor all ``B^max`` at the optimum for most draws.
* :func:`best_slots_time` — for fixed batches the best TDMA slots make every
  device finish together: ``sum_k w_k / (T - a_k) = 1`` (eq. (22) second line,
  eq. (26)), solved here with SciPy's ``brentq`` on ``log(T - max a)``.
* :func:`brute_force` — every integer batch vector, each with its best slots.
* :func:`feel_problems` — the Hypothesis strategy over :func:`random_feel`.

The module holds no tests; it is collected (and skipped) like any test file.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from hypothesis import strategies as st
from scipy.optimize import brentq

from edgealloc.feel.problem import FeelProblem

__all__ = ["best_slots_time", "brute_force", "feel_problems", "plan_value", "random_feel"]


def random_feel(
    rng: np.random.Generator,
    *,
    k: int,
    gpu: bool = False,
    decades: float = 1.0,
    max_batch: int = 128,
    balance: float | None = None,
    fractional_threshold: bool = False,
) -> FeelProblem:
    """A random ``FeelProblem``.

    Parameters
    ----------
    rng
        The only source of randomness.
    k
        Number of devices.
    gpu
        GPU training function (Assumption 1) instead of CPU clocks.
    decades
        Spread of the clocks (GPU: the slopes) and, independently, of the rates,
        in orders of magnitude.
    max_batch
        ``B^max``.
    balance
        Scale of the compute time against the TDMA upload time: with equal
        devices the optimal batch is about ``max_batch / (2 balance)``
        (default: log-uniform in [0.1, 10]); near 1 the optimum is interior.
    fractional_threshold
        GPU thresholds that are not integers.
    """
    spread_c = 10.0 ** rng.uniform(0.0, decades, k)
    rate_up = 1e8 * 10.0 ** rng.uniform(-decades / 2, decades / 2, k)
    rate_down = 1e8 * 10.0 ** rng.uniform(-decades / 2, decades / 2, k)
    bits = float(rng.uniform(1e6, 1e8))
    balance = float(10.0 ** rng.uniform(-1, 1)) if balance is None else balance
    tdma = k * bits / float(np.median(rate_up))  # upload time of the whole fleet
    per_sample = 4.0 * balance * tdma / max_batch  # compute time of one sample
    data: dict[str, Any] = {
        "uplink_rate": rate_up,
        "downlink_rate": rate_down,
        "gradient_bits": bits,
        "frame": {
            "uplink": float(rng.uniform(1e-3, 2e-2)),
            "downlink": float(rng.uniform(1e-3, 2e-2)),
        },
        "max_batch": int(max_batch),
        "loss_decay": float(10.0 ** rng.uniform(-1, 1)),
    }
    if gpu:
        slope = per_sample / spread_c
        threshold = rng.integers(0, max_batch + 1, k).astype(float)
        if fractional_threshold:
            threshold = np.minimum(threshold + rng.uniform(0, 1, k), max_batch)
        data["gpu"] = {
            "base_time": slope * rng.uniform(0.0, 20.0, k),
            "slope": slope,
            "threshold": threshold,
            "update_time": slope * rng.uniform(0.0, 1.0, k),
        }
    else:
        cpu = 1e9 * spread_c
        data["cpu_hz"] = cpu
        data["cycles_per_sample"] = per_sample * float(np.median(cpu))
        data["update_cycles"] = float(rng.uniform(0.0, 1.0)) * data["cycles_per_sample"]
    return FeelProblem(**data)


def _compute(problem: FeelProblem, batch: np.ndarray) -> np.ndarray:
    """eq. (9) / eq. (27), written out again."""
    b = np.asarray(batch, dtype=float)
    if problem.gpu is None:
        return b * problem.cycles_per_sample / np.asarray(problem.cpu_hz)
    g = problem.gpu
    return np.asarray(g.base_time) + np.asarray(g.slope) * np.maximum(
        0.0, b - np.asarray(g.threshold)
    )


def _update(problem: FeelProblem) -> np.ndarray:
    """eq. (12) / eq. (28), written out again."""
    if problem.gpu is None:
        return problem.update_cycles / np.asarray(problem.cpu_hz)
    return np.asarray(problem.gpu.update_time, dtype=float)


def best_slots_time(busy: np.ndarray, weight: np.ndarray) -> tuple[float, np.ndarray]:
    """Common finishing time and frame shares: ``sum_k w_k / (T - a_k) = 1``.

    Solved for ``y = log(T - max a)`` with ``brentq``, on the side where the
    shares ``w_k / (T - a_k)`` sum to at most 1; returns ``T`` and the shares.
    """
    a_max = float(np.max(busy))

    def f(y: float) -> float:
        t = a_max + math.exp(y)
        return float(np.sum(weight / (t - busy))) - 1.0

    lo = math.log(float(np.min(weight)) * 1e-3)
    hi = math.log(float(np.sum(weight)) + 1.0)
    y = brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    while f(y) > 0:  # the feasible side of the root: the shares fit the frame as they are
        y = float(np.nextafter(y, math.inf))
    t = a_max + math.exp(y)
    return t, weight / (t - busy)


def plan_value(problem: FeelProblem, batch: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Efficiency of ``batch`` with its best slots, and those slots (seconds)."""
    s = problem.gradient_bits
    t_up, up = best_slots_time(_compute(problem, batch), s / np.asarray(problem.uplink_rate))
    t_down, down = best_slots_time(_update(problem), s / np.asarray(problem.downlink_rate))
    value = problem.loss_decay * math.sqrt(float(np.sum(batch))) / (t_up + t_down)
    return value, up * problem.frame.uplink, down * problem.frame.downlink


def brute_force(problem: FeelProblem) -> tuple[float, np.ndarray]:
    """The exact optimum by enumeration of every batch vector (small ``K`` and ``B^max`` only)."""
    best, best_b = -math.inf, None
    k, bmax = problem.n_devices, problem.max_batch
    for combo in itertools.product(range(1, bmax + 1), repeat=k):
        b = np.array(combo)
        value, _, _ = plan_value(problem, b)
        if value > best:
            best, best_b = value, b
    assert best_b is not None
    return best, best_b


@st.composite
def feel_problems(
    draw: st.DrawFn,
    *,
    k: st.SearchStrategy[int] | None = None,
    max_batch: st.SearchStrategy[int] | None = None,
) -> FeelProblem:
    """Hypothesis strategy of :func:`random_feel` problems (``K`` 1..8, heterogeneity
    0, 1, 3 or 6 decades, CPU or GPU, ``B^max`` from 1 to 128)."""
    return random_feel(
        np.random.default_rng(draw(st.integers(0, 2**32 - 1))),
        k=draw(k if k is not None else st.integers(1, 8)),
        gpu=draw(st.booleans()),
        decades=draw(st.sampled_from([0.0, 1.0, 3.0, 6.0])),
        max_batch=draw(max_batch if max_batch is not None else st.sampled_from([1, 2, 7, 32, 128])),
        fractional_threshold=draw(st.booleans()),
    )
