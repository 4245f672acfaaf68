"""edgealloc: exact, fast task allocation for learning across heterogeneous edge devices.

>>> import edgealloc
>>> res = edgealloc.solve("mel-sync", scheme="optimal")
>>> res.status.value
'optimal'

Public API
----------
- :func:`solve`, :func:`load_problem` — one entry point over all families.
- :class:`Result`, :class:`Status` — one result type and status vocabulary.
- Errors: :class:`EdgeallocError`, :class:`ValidationError`,
  :class:`InfeasibleError`, :class:`SolverError`; :class:`EdgeallocWarning`.
- Families: :mod:`edgealloc.mel` (mobile edge learning, sync and async).
- The physical model: :mod:`edgealloc.system`.
"""

from ._version import __version__ as __version__
from .api import load_problem as load_problem
from .api import schemes as schemes
from .api import solve as solve
from .errors import EdgeallocError as EdgeallocError
from .errors import EdgeallocWarning as EdgeallocWarning
from .errors import InfeasibleError as InfeasibleError
from .errors import SolverError as SolverError
from .errors import ValidationError as ValidationError
from .result import Result as Result
from .result import Status as Status

__all__ = [
    "EdgeallocError",
    "EdgeallocWarning",
    "InfeasibleError",
    "Result",
    "SolverError",
    "Status",
    "ValidationError",
    "__version__",
    "load_problem",
    "schemes",
    "solve",
]
