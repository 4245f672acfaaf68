"""The ``mel`` family descriptor (gathered by :mod:`edgealloc.registry`)."""

from __future__ import annotations

from ..family import Family
from ._fuzz import check_result, random_document
from .present import MelPresenter
from .problem import MelProblem
from .scenario import compile_mel
from .solvers import SCHEMES

__all__ = ["ALIASES", "FAMILY"]

#: ``--set`` short keys of ``mel`` scenarios.
ALIASES: dict[str, str] = {
    "devices": "devices.count",
    "K": "devices.count",
    "T": "deadline",
    "d": "total_samples",
    "c": "staleness",
    "E": "energy.budget_j.mean",
    "energy_budget": "energy.budget_j.mean",
    "radius": "devices.placement.radius_m",
    "bandwidth": "link.bandwidth_hz",
}

FAMILY = Family(
    name="mel",
    title="Mobile edge learning: samples d_k and local iterations tau_k under a deadline "
    "(sync; async with energy budgets and bounded staleness)",
    problem=MelProblem,
    schemes=SCHEMES,
    sense="max",
    compile=compile_mel,
    aliases=ALIASES,
    integral=frozenset({"optimal", "paper", "equal"}),
    trainable=frozenset({"optimal", "paper", "equal"}),
    demo_presets=("mel-sync", "mel-async"),
    presenter=MelPresenter(),
    random_document=random_document,
    check=check_result,
)
