"""The offloading families for collaborative XR learning (the XR offloading paper).

- ``offload-server`` — Strategy #1: users offload a share of their points to
  an edge server (problem (P1), Proposition 1, Algorithm 1).
- ``offload-d2d`` — Strategy #2: users share points with neighbours over
  full-duplex device-to-device links (problem (P2), a linear program).
"""

from .problem import D2DAllocation as D2DAllocation
from .problem import OffloadD2DProblem as OffloadD2DProblem
from .problem import OffloadServerProblem as OffloadServerProblem
from .problem import ServerAllocation as ServerAllocation
from .solvers import D2D_SCHEMES as D2D_SCHEMES
from .solvers import SERVER_SCHEMES as SERVER_SCHEMES

__all__ = [
    "D2D_SCHEMES",
    "SERVER_SCHEMES",
    "D2DAllocation",
    "OffloadD2DProblem",
    "OffloadServerProblem",
    "ServerAllocation",
]
