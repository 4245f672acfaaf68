"""The ``flmar`` family descriptor (gathered by :mod:`edgealloc.registry`)."""

from __future__ import annotations

import dataclasses

from ..family import Family
from ._fuzz import check_result, random_document
from .present import FlmarPresenter
from .problem import FlmarProblem
from .scenario import compile_flmar
from .solvers import GAP_RTOL, SCHEMES

__all__ = ["ALIASES", "FAMILY"]

#: ``--set`` short keys of ``flmar`` scenarios (``mar-paper``). The sweeps of the
#: paper's Figs. 4-6 are ``p_max`` (dBm), ``f_max`` (Hz) and ``rho``.
ALIASES: dict[str, str] = {
    "devices": "devices.count",
    "N": "devices.count",
    "deadline": "deadline",
    "T": "deadline",
    "T_max": "deadline",
    "w1": "weights.energy",
    "w2": "weights.time",
    "rho": "weights.accuracy",
    "p_max": "devices.tx_power_dbm.max",
    "p_min": "devices.tx_power_dbm.min",
    "f_max": "devices.cpu_hz.max",
    "f_min": "devices.cpu_hz.min",
    "radius": "devices.placement.radius_m",
    "bandwidth": "link.bandwidth_hz",
    "B": "link.bandwidth_hz",
    "shadowing": "link.shadowing_db",
    "rounds": "training.rounds",
    "R_g": "training.rounds",
    "local_iterations": "training.local_iterations",
    "R_l": "training.local_iterations",
    "s0": "training.reference_resolution",
    "resolutions": "training.resolutions",
    "accuracy": "training.accuracy",
    "baseline": "baseline.randomize",
    "baseline_seed": "baseline.seed",
}

#: The boundary and fuzz hooks, passed when the descriptor declares them.
_HOOKS = {
    name: hook
    for name, hook in (("random_document", random_document), ("check", check_result))
    if name in {f.name for f in dataclasses.fields(Family)}
}

FAMILY = Family(
    name="flmar",
    title="Federated learning for mobile AR: bandwidth, power, CPU clock and frame resolution "
    "per device (minimise w1 energy + w2 time - rho accuracy)",
    problem=FlmarProblem,
    schemes=SCHEMES,
    sense="min",
    compile=compile_flmar,
    aliases=ALIASES,
    integral=frozenset(SCHEMES),
    trainable=frozenset(SCHEMES),  # every scheme plans; edgealloc train skips the infeasible
    demo_presets=("mar-paper",),
    presenter=FlmarPresenter(),
    gap_tolerance=GAP_RTOL,
    **_HOOKS,
)
