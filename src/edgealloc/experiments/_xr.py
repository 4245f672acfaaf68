r"""The XR offloading scenario of the XR reproductions: paired problems, gains, task blocks.

Shared by :mod:`.xr_heterogeneity` (Figs. 1-2), :mod:`.xr_users` (Fig. 3) and
:mod:`.xr_online_regression` (*Collaborative learning in extended reality*,
the XR offloading paper). An *experiment* is one seed: the presets
:data:`PRESETS` draw the users' positions in the disc and their points
:math:`l_i \sim U[l_{min}, l_{max}]` from it, and the same seed gives the
same users, positions and points to both strategies, Strategy #1 (edge
server, ``offload-server``) and Strategy #2 (D2D, ``offload-d2d``), so that a
comparison of the two is paired (:func:`solve_block` checks it).

The gain of a strategy is :math:`G = \max_i T_i / T^*`, the iteration time
without offloading over the optimised one, for two schemes: ``optimal``
(whole points) and ``relaxed`` (the continuous optimum, read off the
``optimal`` result: ``relaxed_bound`` for the server, ``bound`` for D2D).

A task is one grid point and a block of seeds (:func:`blocks`, aligned so
that a larger run reuses a smaller one's store); :func:`solve_block` is the
worker of both Fig. 2 and Fig. 3 (:func:`make_tasks` builds its tasks).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .._version import __version__
from ..api import solve
from ..errors import EdgeallocError
from ..result import Status

__all__ = [
    "KEY_COLUMNS",
    "OVERRIDE_KEYS",
    "PRESETS",
    "SCHEMES",
    "SKIPPED",
    "STRATEGIES",
    "STRATEGY_STYLE",
    "Key",
    "blocks",
    "build_problem",
    "make_tasks",
    "preset_users",
    "solve_block",
]

#: strategy -> preset compiled for it.
PRESETS: dict[str, str] = {"server": "xr-server", "d2d": "xr-d2d"}
STRATEGIES: tuple[str, ...] = ("server", "d2d")
SCHEMES: tuple[str, ...] = ("optimal", "relaxed")

#: Colour, marker and label of each strategy in the XR figures (strategies, not
#: schemes: each is solved with ``optimal`` and ``relaxed``).
STRATEGY_STYLE: dict[str, dict[str, Any]] = {
    "server": {"color": "#1f77b4", "marker": "o", "label": "Strategy #1: edge server"},
    "d2d": {"color": "#d62728", "marker": "s", "label": "Strategy #2: D2D"},
}

#: Override keys of the presets (``edgealloc.load_problem(preset, overrides=...)``).
OVERRIDE_KEYS: dict[str, str] = {
    "eta_comp": "heterogeneity.eta_comp",
    "eta_comm": "heterogeneity.eta_comm",
    "s": "heterogeneity.s",
    "users": "devices.count",
    "seed": "seed",
}

#: A grid point: (eta_comp, eta_comm, users, s).
Key = tuple[float, float, Any, float]
#: The columns of a point's key.
KEY_COLUMNS: tuple[str, ...] = ("eta_comp", "eta_comm", "users", "s")

#: Status recorded for D2D where only the LP (``relaxed``) ran: whole points were not
#: computed for that seed. A marker of the store's result format, not a solver
#: outcome (it is never a :class:`~edgealloc.result.Status`).
SKIPPED = "relaxed-only"


@functools.lru_cache(maxsize=4)
def _preset(name: str) -> dict[str, Any]:
    from ..scenarios import PRESETS as SCENARIO_PRESETS

    return SCENARIO_PRESETS[name]()


def _overrides(values: Mapping[str, Any]) -> dict[str, Any]:
    return {OVERRIDE_KEYS[k]: v for k, v in values.items() if v is not None}


def build_problem(strategy: str, point: Mapping[str, Any], seed: int) -> Any:
    """The ``strategy``'s problem of one experiment (``point``: eta_comp, eta_comm, users, s).

    Compiles the preset :data:`PRESETS` ``[strategy]`` with the overrides
    :data:`OVERRIDE_KEYS` (``users=None`` keeps the preset's N; ``eta_comm``
    only matters to the server problem: D2D heterogeneity comes from the
    positions).
    """
    from ..scenarios import compile_scenario

    values = {"seed": seed, **{k: point.get(k) for k in KEY_COLUMNS}}
    return compile_scenario(_preset(PRESETS[strategy]), overrides=_overrides(values))


def preset_users() -> int:
    """N of the presets (``devices.count``), the N of Fig. 2."""
    node: Any = _preset(PRESETS["server"])
    for part in OVERRIDE_KEYS["users"].split("."):
        node = node[part]
    return int(node)


def _gains(problem: Any, whole_points: bool = True) -> tuple[float | None, float | None, str]:
    """``(optimal gain, relaxed gain, status)`` of one problem (``None`` where none).

    With ``whole_points`` the scheme ``optimal`` is solved; its relaxed value
    is the continuous optimum it reports as a by-product
    (``relaxed_bound`` for the server, ``bound``, the LP optimum, for
    D2D). Without, only ``relaxed`` is solved and the status is
    :data:`SKIPPED`.
    """
    try:
        res = solve(problem, "optimal" if whole_points else "relaxed", raise_infeasible=False)
    except EdgeallocError as exc:
        return None, None, f"{Status.ERROR.value}: {exc}"
    if not res.success or not res.objective > 0:
        return None, None, res.status.value
    base = problem.no_offload_time
    if not whole_points:
        return None, base / res.objective, SKIPPED
    # The server's optimal proves its own optimum (bound = objective) and reports
    # the continuous one as relaxed_bound; D2D's bound is the LP optimum itself.
    relaxed_t = res.relaxed_bound if math.isfinite(res.relaxed_bound) else res.bound
    relaxed = base / relaxed_t if relaxed_t > 0 and math.isfinite(relaxed_t) else None
    return base / res.objective, relaxed, res.status.value


def _append(out: dict[str, list[Any]], values: tuple[float | None, float | None, str]) -> None:
    for key, value in zip(("optimal", "relaxed", "status"), values, strict=True):
        out[key].append(value)


def solve_block(task: dict[str, Any]) -> dict[str, Any]:
    """Run the experiments of one task: a point and the seeds ``range(*task["seeds"])``.

    ``task["point"]`` has ``eta_comp``, ``users`` (``None``: the preset's N)
    and ``s``; ``task["eta_comm"]`` lists the uplink factors for the server
    problem. D2D is solved with whole points (``optimal``, which also gives
    the LP value) for seeds below ``task["d2d_whole_points"]``, and as the LP
    alone (``relaxed``) for the others. Returns per seed the no-offloading time and the
    gains of ``d2d`` (once) and ``server`` (one entry per ``eta_comm``),
    ``None`` where a solver returned nothing, the statuses, and the solver
    seconds.

    Raises
    ------
    RuntimeError
        If the two presets give a seed different users (points or compute
        rates): the comparison would not be paired.
    """
    point = dict(task["point"])
    etas = list(task["eta_comm"])
    whole_below = int(task["d2d_whole_points"])
    base: list[float] = []
    d2d: dict[str, list[Any]] = {"optimal": [], "relaxed": [], "status": []}
    server: list[dict[str, list[Any]]] = [
        {"optimal": [], "relaxed": [], "status": []} for _ in etas
    ]
    seconds = {"server": 0.0, "d2d": 0.0, "build": 0.0}
    for seed in range(*task["seeds"]):
        t0 = time.perf_counter()
        pd = build_problem("d2d", point, seed)
        ps = [build_problem("server", {**point, "eta_comm": e}, seed) for e in etas]
        t1 = time.perf_counter()
        for q in ps:
            if not (
                np.array_equal(q.points, pd.points)
                and np.allclose(q.compute_rate, pd.compute_rate, rtol=1e-12, atol=0)
            ):
                raise RuntimeError(
                    f"seed {seed}: presets {PRESETS['server']} and {PRESETS['d2d']} give "
                    "different users (points or compute rates); the comparison is not paired"
                )
        base.append(float(pd.no_offload_time))
        _append(d2d, _gains(pd, seed < whole_below))
        t2 = time.perf_counter()
        for out, q in zip(server, ps, strict=True):
            _append(out, _gains(q))
        t3 = time.perf_counter()
        seconds["build"] += t1 - t0
        seconds["d2d"] += t2 - t1
        seconds["server"] += t3 - t2
    return {
        "no_offload_time": base,
        "d2d": d2d,
        "server": dict(zip(map(repr, etas), server, strict=True)),
        "seconds": seconds,
    }


def blocks(seeds: int, block: int) -> list[list[int]]:
    """``[start, stop)`` seed ranges of at most ``block`` seeds, aligned to multiples of it.

    Aligned blocks keep their task keys when ``seeds`` grows, so a larger
    run reuses the smaller one's store.

    Examples
    --------
    >>> blocks(5, 2)
    [[0, 2], [2, 4], [4, 5]]
    """
    return [[a, min(a + block, seeds)] for a in range(0, seeds, block)]


def make_tasks(
    name: str,
    groups: Iterable[tuple[Mapping[str, Any], Sequence[float], int]],
    block: int,
    whole_points: int,
) -> list[dict[str, Any]]:
    """One task per (point, eta_comm list, seeds) group and block of seeds.

    D2D gets whole points (scheme ``optimal``) on the seeds below
    ``whole_points`` and the LP alone (``relaxed``) on the others.
    """
    return [
        {
            "experiment": name,
            "version": __version__,
            "point": dict(point),
            "eta_comm": [float(e) for e in etas],
            "seeds": rng,
            "d2d_whole_points": int(whole_points),
        }
        for point, etas, seeds in groups
        for rng in blocks(seeds, block)
    ]
