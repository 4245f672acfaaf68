"""The ``flmar`` family: federated learning for mobile augmented reality.

X. Zhou, C. Liu, J. Zhao, *Resource Allocation of Federated Learning for the
Metaverse with Mobile Augmented Reality* (IEEE TWC 2023): bandwidth, transmit
power, CPU clock and video-frame resolution for every device of an FDMA
federated-learning system, trading energy, completion time and accuracy.
See :mod:`edgealloc.flmar.problem` for the canonical problem and
:mod:`edgealloc.flmar.solvers` for the schemes; ``docs/flmar.md`` restores
the paper's formulas.
"""

from .problem import RTOL as RTOL
from .problem import FlmarAllocation as FlmarAllocation
from .problem import FlmarBaseline as FlmarBaseline
from .problem import FlmarEvaluation as FlmarEvaluation
from .problem import FlmarProblem as FlmarProblem
from .problem import FlmarWeights as FlmarWeights
from .solvers import SCHEMES as SCHEMES

__all__ = [
    "RTOL",
    "SCHEMES",
    "FlmarAllocation",
    "FlmarBaseline",
    "FlmarEvaluation",
    "FlmarProblem",
    "FlmarWeights",
]
