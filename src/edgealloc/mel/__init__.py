"""The ``mel`` family: batch sizes and local iterations for mobile edge learning.

Synchronous (Mohammad & Sorour, *Adaptive Task Allocation for Mobile Edge
Learning*) and asynchronous with energy limits and bounded staleness (*MEL
with energy constraints*, Algorithm 1). See :mod:`edgealloc.mel.problem` for
the canonical problem and :mod:`edgealloc.mel.solvers` for the schemes.
"""

from .problem import RTOL as RTOL
from .problem import MelAllocation as MelAllocation
from .problem import MelEnergy as MelEnergy
from .problem import MelEvaluation as MelEvaluation
from .problem import MelProblem as MelProblem
from .solvers import SCHEMES as SCHEMES

__all__ = ["RTOL", "SCHEMES", "MelAllocation", "MelEnergy", "MelEvaluation", "MelProblem"]
