"""The ``feel`` family descriptor (gathered by :mod:`edgealloc.registry`)."""

from __future__ import annotations

import dataclasses

from ..family import Family
from ._fuzz import check_result, random_document
from .present import FeelPresenter
from .problem import FeelProblem
from .scenario import compile_feel
from .solvers import SCHEMES

__all__ = ["ALIASES", "FAMILY", "INTEGRAL"]

#: ``--set`` short keys of ``feel`` scenarios.
ALIASES: dict[str, str] = {
    "devices": "devices.count",
    "K": "devices.count",
    "model": "workload.model",
    "parameters": "workload.parameters",
    "bits": "workload.bits_per_parameter",
    "C": "workload.cycles_per_sample",
    "M": "workload.update_cycles",
    "xi": "workload.loss_decay",
    "Bmax": "max_batch",
    "B_max": "max_batch",
    "radius": "devices.placement.radius_m",
    "bandwidth": "link.bandwidth_hz",
    "W": "link.bandwidth_hz",
    "P_U": "link.tx_power_dbm.uplink",
    "P_D": "link.tx_power_dbm.downlink",
    "Tf_U": "link.frame_s.uplink",
    "Tf_D": "link.frame_s.downlink",
    "cpu": "devices.cpu_hz",
    "gpu_base": "devices.gpu.base_time_s",
    "gpu_slope": "devices.gpu.slope_s",
    "gpu_threshold": "devices.gpu.threshold",
    "gpu_update": "devices.gpu.update_time_s",
    "gpu_power": "devices.gpu.power_w",
}

#: Schemes whose batches are integers (``relaxed`` is continuous).
INTEGRAL = frozenset({"optimal", "paper", "online", "full", "random", "equal-slots"})

#: The boundary and fuzz hooks, passed when the descriptor declares them.
_HOOKS = {
    name: hook
    for name, hook in (("random_document", random_document), ("check", check_result))
    if name in {f.name for f in dataclasses.fields(Family)}
}

FAMILY = Family(
    name="feel",
    title="Federated edge learning: batch sizes and TDMA uplink/downlink slots "
    "(maximise the learning efficiency, CPU or GPU devices)",
    problem=FeelProblem,
    schemes=SCHEMES,
    sense="max",
    compile=compile_feel,
    aliases=ALIASES,
    integral=INTEGRAL,
    # edgealloc.learn's feel trainer (gradient averaging, one step per round on B_k
    # samples per device) trains the integral plans.
    trainable=INTEGRAL,
    demo_presets=("feel-cpu",),
    presenter=FeelPresenter(),
    **_HOOKS,
)
