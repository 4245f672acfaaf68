"""edgealloc as the planner of a Flower federation (``flwr``, Message API).

Flower has no model of device heterogeneity; edgealloc plans every round
from the devices' own profiles. The pieces:

- :class:`~.strategy.EdgeallocStrategy` — queries the nodes' profiles
  before round 1 and whenever the nodes change or one fails, compiles the
  family's problem from the scenario plus the profiles through the system
  model, solves it, and sends each node its own config (``mel``: local steps
  :math:`\\tau_k` and examples :math:`d_k`, sync or async; ``feel``: batch
  size :math:`B_k`) and the deadline; aggregates with the family's weights;
  keeps the simulated clock and the per-device energy ledger; treats failing
  or late nodes as data.
- :func:`~.client.make_client_app` — a ClientApp that answers the profile
  query and trains the learn engine's model on its own partition with exactly
  the config it received, reporting what it did.
- :func:`~.server.make_server_app` — the ServerApp around the strategy.
- :mod:`.aggregate` — the aggregation rules as pure functions.
- :func:`~.simulation.simulate` and :func:`~.deployment.deploy` — the
  simulation engine, and a deployment with a real SuperLink and SuperNodes on
  loopback (``edgealloc flower --engine``).
- :mod:`.families` — the per-family table (``mel`` and ``feel``; another plugs in).

Needs the ``flower`` extra (``pip install 'edgealloc[flower]'``).
:mod:`.aggregate`, :mod:`.settings`, :mod:`.profiles`, :mod:`.planning`,
:mod:`.families` and :mod:`.history` import without Flower; the rest import
it on first use. ``docs/flower.md`` has a runnable example.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from ...errors import ValidationError
from .aggregate import weighted_gradient_step as weighted_gradient_step
from .aggregate import weighted_model_average as weighted_model_average
from .families import FLOWER_FAMILIES as FLOWER_FAMILIES
from .families import FlowerFamily as FlowerFamily
from .planning import Plan as Plan
from .planning import Planner as Planner
from .profiles import DeviceProfile as DeviceProfile
from .settings import FlowerSettings as FlowerSettings

__all__ = [
    "FLOWER_FAMILIES",
    "INSTALL_HINT",
    "DeviceProfile",
    "EdgeallocStrategy",
    "FlowerFamily",
    "FlowerSettings",
    "Plan",
    "Planner",
    "deploy",
    "flower_available",
    "make_client_app",
    "make_server_app",
    "require_flower",
    "require_ray",
    "simulate",
    "weighted_gradient_step",
    "weighted_model_average",
]

#: The one line that says how to get Flower.
INSTALL_HINT = "needs Flower: pip install 'edgealloc[flower]'"

_LAZY = {
    "EdgeallocStrategy": ".strategy",
    "make_client_app": ".client",
    "make_server_app": ".server",
    "simulate": ".simulation",
    "deploy": ".deployment",
}


def flower_available() -> bool:
    """True when Flower (``flwr``) can be imported."""
    try:
        return importlib.util.find_spec("flwr") is not None
    except (ImportError, ValueError):
        return False


def require_flower() -> None:
    """Raise a :class:`~edgealloc.ValidationError` with the install line when Flower is missing."""
    try:
        importlib.import_module("flwr.app")
    except ImportError:
        raise ValidationError("flower", INSTALL_HINT) from None


def require_ray() -> None:
    """Raise a :class:`~edgealloc.ValidationError` when Ray (the simulation engine) is missing."""
    if importlib.util.find_spec("ray") is None:
        raise ValidationError(
            "flower", "the simulation engine needs Ray: pip install 'edgealloc[flower]'"
        )


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        require_flower()
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
