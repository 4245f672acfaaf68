"""Random offloading documents and the solver-independent result checks (the families' fuzz hooks).

:func:`random_server_document` / :func:`random_d2d_document` draw valid
canonical ``offload-server`` / ``offload-d2d`` documents for the boundary
tests and the fuzz campaign (``benchmarks/fuzz.py``);
:func:`check_server_result` / :func:`check_d2d_result` re-evaluate what a
scheme returned with the problem's ``evaluate``. They are declared in the
two :class:`~edgealloc.family.Family` descriptors (``random_document``,
``check``).

Users hold ``l_i`` points (some none, some a hundred thousand); compute and
link rates get independent factors ``10 ** U(0, decades)`` with up to six
decades of heterogeneity, on top of a unit spanning six decades; some
users have no uplink, some no D2D link at all; the server is anything from
a hundredth to a hundred times the users' total compute. Offloading
problems are always feasible (nobody offloading is a plan), so what the
documents vary instead is how close the cases are: ties between users
(equal small integer rates and points), nobody able to offload, nobody
holding points.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..result import Result
from .problem import OffloadD2DProblem, OffloadServerProblem

__all__ = [
    "check_d2d_result",
    "check_server_result",
    "random_d2d_document",
    "random_server_document",
]


def _users(rng: np.random.Generator, large: int) -> int:
    """1 (10 %), 2-8 (45 %), up to ``large / 3`` (35 %), up to ``large`` (10 %)."""
    r = rng.random()
    mid = max(9, large // 3)
    if r < 0.1:
        return 1
    if r < 0.55:
        return int(rng.integers(2, 9))
    if r < 0.9:
        return int(rng.integers(9, mid + 1))
    return int(rng.integers(mid, large + 1))


def _common(rng: np.random.Generator, n: int) -> tuple[dict[str, Any], float, bool]:
    """Points, compute rates and MACs per point; ``(fields, decades, ties)``."""
    ties = rng.random() < 0.15
    decades = float(rng.choice([0.0, 1.0, 3.0, 6.0]))
    if ties:  # small integers, many equal: ties in T_i and exact equalities
        points = rng.choice([0, 1, 2, 3, 4], n) if rng.random() < 0.3 else np.full(n, 4)
        compute = rng.choice([1.0, 2.0, 4.0], n)
        m = float(rng.choice([1.0, 2.0]))
    else:
        top = int(rng.choice([1, 10, 1000, 100_000]))
        points = rng.integers(0, 2 * top + 1, n)
        if rng.random() < 0.3:
            points[rng.random(n) < 0.3] = 0
        if rng.random() < 0.02:
            points[:] = 0
        unit = 10.0 ** rng.uniform(3.0, 9.0)
        compute = unit * 10.0 ** rng.uniform(0.0, decades, n)
        m = 2.0 if rng.random() < 0.6 else float(10.0 ** rng.uniform(0.0, 4.0))
    fields = {
        "points": [int(x) for x in points],
        "compute_rate": compute.tolist(),
        "macs_per_point": m,
    }
    return fields, decades, ties


def random_server_document(rng: np.random.Generator) -> dict[str, Any]:
    """A valid random canonical ``offload-server`` document (see the module docstring).

    One user to 300; uplinks with up to six decades of heterogeneity, none
    for a share of the users (sometimes all); a server from 1/100 to 100
    times the users' total compute.
    """
    n = _users(rng, 300)
    fields, decades, ties = _common(rng, n)
    compute = np.asarray(fields["compute_rate"])
    points = np.asarray(fields["points"], float)
    m = fields["macs_per_point"]
    if ties:
        uplink = rng.choice([0.0, 1.0, 2.0, 4.0], n)
        server = float(rng.choice([1.0, 2.0, 4.0, 8.0]))
    else:
        # a user's uplink sends its points in 1/100 .. 100 times its compute time
        t_i = m * np.maximum(points, 1.0) / compute
        uplink = np.maximum(points, 1.0) / t_i * 10.0 ** rng.uniform(-2.0, 2.0 + decades, n)
        server = float(compute.sum() * 10.0 ** rng.uniform(-2.0, 2.0))
    cut = float(rng.choice([0.0, 0.0, 0.2, 0.5, 1.0]))
    uplink = np.where(rng.random(n) < cut, 0.0, uplink)
    return {
        "family": "offload-server",
        **fields,
        "uplink_rate": uplink.tolist(),
        "server_rate": server,
    }


def random_d2d_document(rng: np.random.Generator) -> dict[str, Any]:
    """A valid random canonical ``offload-d2d`` document (see the module docstring).

    One user to 24 (the LP grows with the square); links present with
    probability 0 to 1, rates with up to six decades of heterogeneity,
    zero diagonal.
    """
    n = _users(rng, 24)
    fields, decades, ties = _common(rng, n)
    compute = np.asarray(fields["compute_rate"])
    points = np.asarray(fields["points"], float)
    m = fields["macs_per_point"]
    density = float(rng.choice([0.0, 0.1, 0.3, 0.7, 1.0]))
    if ties:
        rate = rng.choice([1.0, 2.0, 4.0], (n, n))
    else:
        t_i = m * np.maximum(points, 1.0) / compute
        scale = np.maximum(points, 1.0) / t_i  # points/s at which i sends all in its T_i
        rate = scale[:, None] * 10.0 ** rng.uniform(-2.0, 2.0 + decades, (n, n))
    rate = np.where(rng.random((n, n)) < density, rate, 0.0)
    np.fill_diagonal(rate, 0.0)
    return {"family": "offload-d2d", **fields, "link_rate": rate.tolist()}


def _close(a: float, b: float, rtol: float = 1e-12) -> bool:
    return a == b or math.isclose(a, b, rel_tol=rtol, abs_tol=0.0)


def _common_checks(problem: Any, result: Result, ev: Any, offloaded: np.ndarray) -> list[str]:
    alloc = result.allocation
    out = [f"evaluate: {v}" for v in ev.violations]
    if not _close(float(result.objective), ev.iteration_time, 1e-9):
        out.append(
            f"objective {result.objective!r} but the plan evaluates to {ev.iteration_time!r}"
        )
    if not _close(float(alloc.iteration_time), ev.iteration_time, 1e-9):
        out.append(f"iteration_time {alloc.iteration_time!r}, the plan's is {ev.iteration_time!r}")
    if not _close(float(alloc.no_offload_time), problem.no_offload_time):
        out.append(f"no_offload_time {alloc.no_offload_time!r} != {problem.no_offload_time!r}")
    base, t = problem.no_offload_time, ev.iteration_time
    want = base / t if t > 0 else math.inf
    if not (alloc.speedup == want or _close(float(alloc.speedup), want, 1e-9)):
        out.append(f"speedup {alloc.speedup!r}, expected {want!r}")
    points = problem.points.reshape((-1,) + (1,) * (offloaded.ndim - 1))
    share = np.asarray(alloc.share)
    if share.shape != offloaded.shape or not np.allclose(
        share * points, offloaded, rtol=1e-9, atol=1e-9
    ):
        out.append("share * points differs from offloaded_points")
    return out


def check_server_result(problem: OffloadServerProblem, result: Result, integral: bool) -> list[str]:
    """Violations of an ``offload-server`` result, recomputed by ``problem.evaluate``.

    The offloaded points satisfy every constraint (whole points when
    ``integral``), the objective and ``iteration_time`` are the plan's
    evaluated time, ``local_time``/``server_time`` are the plan's, ``share``
    is ``offloaded / points``, ``speedup`` is ``no_offload_time /
    iteration_time``.
    """
    alloc = result.allocation
    o = np.asarray(alloc.offloaded_points)
    if o.shape != (problem.n_devices,):
        return [f"offloaded_points has shape {o.shape}, expected ({problem.n_devices},)"]
    if integral and o.dtype.kind not in "iu":
        return [f"an integral scheme returned {o.dtype} offloaded_points"]
    ev = problem.evaluate(o, integral=integral)
    out = _common_checks(problem, result, ev, o.astype(float))
    for name in ("local_time", "server_time"):
        if not np.allclose(getattr(alloc, name), getattr(ev, name), rtol=1e-12, atol=0.0):
            out.append(f"reported {name} differs from the plan's")
    return out


def check_d2d_result(problem: OffloadD2DProblem, result: Result, integral: bool) -> list[str]:
    """Violations of an ``offload-d2d`` result, recomputed by ``problem.evaluate``.

    As :func:`check_server_result`, with ``transfer_time`` and ``user_time``
    per user and an ``N x N`` matrix of offloaded points.
    """
    alloc = result.allocation
    o = np.asarray(alloc.offloaded_points)
    n = problem.n_devices
    if o.shape != (n, n):
        return [f"offloaded_points has shape {o.shape}, expected ({n}, {n})"]
    if integral and o.dtype.kind not in "iu":
        return [f"an integral scheme returned {o.dtype} offloaded_points"]
    ev = problem.evaluate(o, integral=integral)
    out = _common_checks(problem, result, ev, o.astype(float))
    for name in ("transfer_time", "user_time"):
        if not np.allclose(getattr(alloc, name), getattr(ev, name), rtol=1e-12, atol=0.0):
            out.append(f"reported {name} differs from the plan's")
    return out
