"""The ``feel`` family: batch sizes and TDMA slots for federated edge learning.

Ren, Yu & Ding, *Accelerating DNN Training in Wireless Federated Edge
Learning Systems* (IEEE JSAC 2021): maximise the learning efficiency
:math:`\\xi\\sqrt{B}/T` over integer batches and uplink/downlink TDMA slots, on
CPUs (problem P1) or GPUs (problem P7). See :mod:`edgealloc.feel.problem` for
the canonical problem and :mod:`edgealloc.feel.solvers` for the schemes.
"""

from .problem import RTOL as RTOL
from .problem import FeelAllocation as FeelAllocation
from .problem import FeelEvaluation as FeelEvaluation
from .problem import FeelFrame as FeelFrame
from .problem import FeelGpu as FeelGpu
from .problem import FeelProblem as FeelProblem
from .solvers import SCHEMES as SCHEMES

__all__ = [
    "RTOL",
    "SCHEMES",
    "FeelAllocation",
    "FeelEvaluation",
    "FeelFrame",
    "FeelGpu",
    "FeelProblem",
]
