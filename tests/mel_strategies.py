"""Random ``mel`` problems for oracle tests: a seeded generator and Hypothesis strategies.

The coefficients follow the physics of the papers (sync paper eq. (8), async
paper eqs. (8)-(11)): ``c2`` is the compute time of one sample for one local
iteration, ``c1`` the upload time per sample of the per-sample part of the
message (0 to 5 times the fastest ``c2``), ``c0`` the fixed model upload
(0.05 .. 1 s); energies are powers times those times (CPU 0.5 .. 5 W for ``g2``,
radio 0.1 .. 1 W for ``g1`` and ``g0``). Heterogeneity multiplies each
device's coefficients by ``10 ** U(0, decades)`` (independently for ``c2``
and for the link ``c1``, so fast CPUs can sit on slow links; ``c0`` gets the
square root of the link factor). A "sample" is a
mini-batch: ``c2`` is scaled with ``K/d`` so that one iteration over an
equal share takes 0.2 .. 2 s, comparable to the fixed upload ``c0``,
whatever ``d``. The deadline is the one at which the
continuous capacities at ``tau = deadline_scale`` sum to ``d``
(:func:`reference_deadline`): ``deadline_scale`` is the relaxed synchronous
optimum without floors or energy, so below 1 the problem is usually
infeasible and ``s`` gives about ``s`` local iterations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from edgealloc.mel.problem import MelProblem

__all__ = ["mel_problems", "random_mel", "reference_deadline", "tiny_mel_problems"]


def reference_deadline(
    c2: np.ndarray, c1: np.ndarray, c0: np.ndarray, d: int, tau: float = 1.0
) -> float:
    """Deadline at which the continuous capacities at ``tau`` sum to exactly ``d``.

    Solves ``sum_k max(0, (T - c0_k) / (c2_k tau + c1_k)) = d`` for ``T``
    (piecewise linear in ``T``: a few fixed-point passes over the devices
    with ``c0_k < T``). Without floors or energy this makes ``tau`` the
    continuous optimum of the synchronous problem.
    """
    w = 1.0 / (c2 * tau + c1)
    t = float((d + np.sum(c0 * w)) / np.sum(w))
    for _ in range(50):
        on = c0 < t
        new = float((d + np.sum(c0[on] * w[on])) / np.sum(w[on]))
        if new == t:
            break
        t = new
    return t


def random_mel(
    rng: np.random.Generator,
    *,
    k: int,
    sync: bool = True,
    energy: bool = False,
    min_samples: int = 1,
    heterogeneity_decades: float = 1.0,
    deadline_scale: float = 3.0,
    total_samples: int | None = None,
    staleness: int | None = None,
    energy_scale: float | None = None,
    integer_coefficients: bool = False,
) -> MelProblem:
    """A physically plausible random ``MelProblem``.

    Parameters
    ----------
    rng
        Source of randomness (the only one).
    k
        Number of devices.
    sync
        Synchronous (``staleness=None``) or asynchronous.
    energy
        Add an energy model; budgets are ``energy_scale`` times the energy
        of the device's equal share at the reference number of iterations.
    min_samples
        ``d_l``; 0 lets devices sit out. ``total_samples`` defaults to at
        least ``k * min_samples``.
    heterogeneity_decades
        Spread of ``c2`` (and, independently, of ``c1``/``c0``) in orders of
        magnitude (0: homogeneous, 6: extreme).
    deadline_scale
        Target number of local iterations: the deadline makes it the
        relaxed synchronous optimum without floors or energy (``< 1``:
        usually infeasible).
    total_samples
        ``d`` (random 1..500 by default).
    staleness
        ``c`` for asynchronous problems (random 0..5 by default).
    energy_scale
        Budget multiplier (random in ``[0.3, 3]`` by default; small values bind).
    integer_coefficients
        Round every coefficient to small integers (exercises constraints that
        hold with equality).
    """
    if total_samples is None:
        total_samples = int(rng.integers(max(1, k * min_samples), max(2, k * min_samples) + 500))
    d = int(total_samples)
    spread_cpu = 10.0 ** rng.uniform(0.0, heterogeneity_decades, k)
    spread_link = 10.0 ** rng.uniform(0.0, heterogeneity_decades, k)
    c2 = rng.uniform(0.2, 2.0) * (k / d) * rng.uniform(0.5, 1.5, k) * spread_cpu
    c1 = c2.min() * rng.uniform(0.0, 5.0, k) * spread_link
    c0 = rng.uniform(0.05, 1.0, k) * spread_link**0.5
    if integer_coefficients:  # in units of the fastest device's c2
        unit = float(c2.min())
        c2, c1, c0 = np.maximum(np.round(c2 / unit), 1.0), np.round(c1 / unit), np.round(c0 / unit)
    deadline = reference_deadline(c2, c1, c0, d, deadline_scale)
    if min_samples > 0 and deadline_scale >= 1:
        # let the slowest device hold its floor at tau = 1 (else nearly all infeasible)
        deadline = max(deadline, float(np.max(c0 + (c2 + c1) * min_samples)))
    if integer_coefficients:
        deadline = float(max(1.0, np.round(deadline)))
    data: dict[str, Any] = {
        "deadline": deadline,
        "total_samples": d,
        "c2": c2,
        "c1": c1,
        "c0": c0,
        "min_samples": int(min_samples),
        "staleness": None,
    }
    if not sync:
        data["staleness"] = int(rng.integers(0, 6)) if staleness is None else int(staleness)
    if energy:
        p_cpu = rng.uniform(0.5, 5.0, k)
        p_tx = rng.uniform(0.1, 1.0, k)
        g2, g1, g0 = p_cpu * c2, p_tx * c1, p_tx * c0
        share = d / k
        tau_ref = max(1.0, deadline_scale)
        scale = rng.uniform(0.3, 3.0) if energy_scale is None else energy_scale
        budget = scale * (g0 + (g2 * tau_ref + g1) * share) * rng.uniform(0.7, 1.3, k)
        if integer_coefficients:  # in units of the smallest g2
            unit = float(g2.min())
            g2 = np.maximum(np.round(g2 / unit), 1.0)
            g1, g0 = np.round(g1 / unit), np.round(g0 / unit)
            budget = np.round(scale * (g0 + (g2 * tau_ref + g1) * share))
        data["energy"] = {"g2": g2, "g1": g1, "g0": g0, "budget": budget}
    return MelProblem(**data)


@st.composite
def mel_problems(
    draw: st.DrawFn,
    *,
    k: st.SearchStrategy[int] | None = None,
    sync: st.SearchStrategy[bool] | None = None,
    energy: st.SearchStrategy[bool] | None = None,
    min_samples: st.SearchStrategy[int] | None = None,
    heterogeneity_decades: st.SearchStrategy[float] | None = None,
    deadline_scale: st.SearchStrategy[float] | None = None,
    total_samples: st.SearchStrategy[int] | None = None,
    staleness: st.SearchStrategy[int] | None = None,
    integer_coefficients: st.SearchStrategy[bool] | None = None,
) -> MelProblem:
    """Hypothesis strategy of random problems built by :func:`random_mel`.

    Each argument is a strategy overriding the default draw (``K`` 1..8,
    ``min_samples`` in {0, 1, 2}, heterogeneity in {0, 1, 3, 6} decades,
    deadline scale 0.5..40, ``d`` up to 300, staleness 0..5). The seed of the
    remaining randomness is drawn too, so shrinking works on it.
    """
    kk = draw(k if k is not None else st.integers(1, 8))
    ms = draw(min_samples if min_samples is not None else st.sampled_from([0, 1, 2]))
    lo_d = max(1, kk * ms)
    d = draw(total_samples if total_samples is not None else st.integers(lo_d, lo_d + 300))
    d = max(d, kk * ms) if ms > 0 else max(d, 1)
    return random_mel(
        np.random.default_rng(draw(st.integers(0, 2**32 - 1))),
        k=kk,
        sync=draw(sync if sync is not None else st.booleans()),
        energy=draw(energy if energy is not None else st.booleans()),
        min_samples=ms,
        heterogeneity_decades=draw(
            heterogeneity_decades
            if heterogeneity_decades is not None
            else st.sampled_from([0.0, 1.0, 3.0, 6.0])
        ),
        deadline_scale=draw(deadline_scale if deadline_scale is not None else st.floats(0.5, 40.0)),
        total_samples=d,
        staleness=draw(staleness if staleness is not None else st.integers(0, 5)),
        integer_coefficients=draw(
            integer_coefficients if integer_coefficients is not None else st.just(False)
        ),
    )


def tiny_mel_problems(*, sync: bool) -> st.SearchStrategy[MelProblem]:
    """Problems small enough for :func:`edgealloc.mel.verify.exhaustive_sync` / ``_async``."""
    if sync:
        return mel_problems(
            k=st.integers(1, 4),
            sync=st.just(True),
            total_samples=st.integers(1, 12),
            min_samples=st.sampled_from([0, 1, 2]),
            heterogeneity_decades=st.sampled_from([0.0, 0.5, 1.0]),
            deadline_scale=st.floats(0.5, 8.0),
        )
    return mel_problems(
        k=st.integers(1, 3),
        sync=st.just(False),
        total_samples=st.integers(1, 8),
        min_samples=st.sampled_from([0, 1, 2]),
        heterogeneity_decades=st.sampled_from([0.0, 0.5]),
        deadline_scale=st.floats(0.5, 4.0),
    )
