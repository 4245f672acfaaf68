"""The ``offload-server`` and ``offload-d2d`` family descriptors (see :mod:`edgealloc.registry`).

The two families share one scenario model (:func:`~.scenario.compile_offload`
reads the ``scenario`` field), their ``--set`` aliases and their
presentation (both are drawn in the demo's ``offload.png``).
"""

from __future__ import annotations

from ..family import Family
from ._fuzz import (
    check_d2d_result,
    check_server_result,
    random_d2d_document,
    random_server_document,
)
from .present import OffloadPresenter
from .problem import OffloadD2DProblem, OffloadServerProblem
from .scenario import compile_offload
from .solvers import D2D_SCHEMES, SERVER_SCHEMES

__all__ = ["ALIASES", "D2D", "SERVER"]

#: ``--set`` short keys of the offloading scenarios (``xr-server``, ``xr-d2d``).
ALIASES: dict[str, str] = {
    "devices": "devices.count",
    "K": "devices.count",
    "users": "devices.count",
    "N": "devices.count",
    "radius": "devices.placement.radius_m",
    "eta_comp": "heterogeneity.eta_comp",
    "eta_comm": "heterogeneity.eta_comm",
    "s": "heterogeneity.s",
    "s_comp": "heterogeneity.s_comp",
    "s_comm": "heterogeneity.s_comm",
    "l_min": "points.min",
    "l_max": "points.max",
    "a_max": "compute.a_max_mac_s",
    "r_max": "uplink.r_max",
    "rho": "d2d.clustering",
    "features": "workload.features",
}

_PRESENTER = OffloadPresenter()

SERVER = Family(
    name="offload-server",
    title="XR collaborative learning: training points offloaded to an edge server "
    "(minimise the iteration time)",
    problem=OffloadServerProblem,
    schemes=SERVER_SCHEMES,
    sense="min",
    compile=compile_offload,
    aliases=ALIASES,
    integral=frozenset({"optimal", "paper", "none"}),
    demo_presets=("xr-server",),
    presenter=_PRESENTER,
    random_document=random_server_document,
    check=check_server_result,
)

D2D = Family(
    name="offload-d2d",
    title="XR collaborative learning: training points shared with neighbours over D2D links "
    "(minimise the iteration time)",
    problem=OffloadD2DProblem,
    schemes=D2D_SCHEMES,
    sense="min",
    compile=compile_offload,
    aliases=ALIASES,
    integral=frozenset({"optimal", "none"}),
    demo_presets=("xr-d2d",),
    presenter=_PRESENTER,
    random_document=random_d2d_document,
    check=check_d2d_result,
)
