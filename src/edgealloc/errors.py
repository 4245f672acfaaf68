"""Errors and warnings raised by edgealloc.

Every error the library raises on purpose derives from one base class, so a
caller can catch "anything edgealloc refused" in one clause::

    EdgeallocError
     ├── ValidationError   (also a ValueError) -- malformed input; names the field
     ├── InfeasibleError   -- valid input that admits no allocation; says what would
     │                        make it feasible (e.g. the smallest deadline)
     └── SolverError       -- a solver failed for numerical or internal reasons

    EdgeallocWarning (UserWarning) -- unusual but valid input

The command-line interface turns `ValidationError` into one line and exit
code 2, and `InfeasibleError` into one line and exit code 3.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "EdgeallocError",
    "EdgeallocWarning",
    "InfeasibleError",
    "SolverError",
    "ValidationError",
]


class EdgeallocError(Exception):
    """Base class of every error edgealloc raises deliberately."""


class ValidationError(EdgeallocError, ValueError):
    """Malformed input: the message names the field and the problem.

    Parameters
    ----------
    field
        Dotted path of the offending field, e.g. ``"energy.budget[3]"``.
    problem
        What is wrong with it, e.g. ``"must be >= 0 (got -1.0)"``.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


class InfeasibleError(EdgeallocError):
    """Valid input that admits no allocation.

    Attributes
    ----------
    min_deadline
        The smallest deadline (seconds) that would make the problem feasible
        with everything else unchanged, or ``None`` when no deadline would
        (e.g. energy budgets too small) or it was not computed.
    energy_shortfall
        Per-device extra energy (joules) that the budgets lack even at the
        smallest workload, or ``None`` when energy is not the obstacle.
    details
        Further machine-readable facts (family specific).
    """

    def __init__(
        self,
        message: str,
        *,
        min_deadline: float | None = None,
        energy_shortfall: Any = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.min_deadline = min_deadline
        self.energy_shortfall = energy_shortfall
        self.details = dict(details or {})
        super().__init__(message)


class SolverError(EdgeallocError):
    """A solver failed for numerical or internal reasons (not the user's input)."""


class EdgeallocWarning(UserWarning):
    """Unusual but valid input, or a result the user should look at twice."""
