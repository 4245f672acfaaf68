"""One result type and one status vocabulary for every solver of every family.

A solver returns a frozen :class:`Result`. Its common fields are fixed
(``family, scheme, status, objective, bound, message, solve_seconds``); the
family-specific part lives in ``allocation``, a frozen dataclass of the
family (for ``mel``: :class:`edgealloc.mel.MelAllocation`). Attribute access
falls through to the allocation, so ``res.tau`` works as well as
``res.allocation.tau``.

``Result.to_dict()`` gives the JSON document of ``docs/problem-files.md``: the
common fields first, then the allocation's fields, flat.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from .errors import InfeasibleError, SolverError

__all__ = ["Allocation", "Result", "Status", "to_jsonable"]


class Status(enum.StrEnum):
    """Outcome of a solve; the values are the JSON strings of docs/problem-files.md."""

    OPTIMAL = "optimal"
    """The scheme proves that what it returns is optimal for the problem it solves."""
    FEASIBLE = "feasible"
    """A feasible allocation, not proven optimal; ``bound`` says how far it may be."""
    INFEASIBLE = "infeasible"
    """The input admits no allocation for this scheme; ``message`` says what would."""
    FAILED = "failed"
    """The scheme's own procedure ended without a feasible allocation although the
    problem may be feasible (e.g. a published heuristic whose rounding breaks a
    constraint); ``message`` says why."""
    ERROR = "error"
    """The scheme refused the input with an edgealloc error. Never returned by
    :func:`edgealloc.solve`; sweeps and reproductions record it for an
    instance instead of stopping."""
    TIME_LIMIT = "time_limit"
    """A solver stopped at its time limit without proving optimality (generic oracles
    in :mod:`edgealloc.mel.verify` and the benchmarks; ``solve`` reports a plan found
    by then as ``feasible``)."""
    DIVERGED = "diverged"
    """Training under the allocation turned non-finite. Never returned by
    :func:`edgealloc.solve`; training records and reproductions use it."""


class Allocation(Protocol):
    """What a family's allocation provides: a JSON-ready dict of its fields."""

    def to_dict(self) -> dict[str, Any]: ...


def to_jsonable(value: Any) -> Any:
    """Convert NumPy scalars/arrays and non-finite floats into JSON-safe values.

    Non-finite floats become ``None`` (JSON has no NaN or infinity); integral
    NumPy arrays become lists of ints.
    """
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    """The outcome of :func:`edgealloc.solve`.

    Attributes
    ----------
    family, scheme
        Problem family (``"mel"``, ...) and the scheme that produced the result.
    status
        A :class:`Status`.
    objective
        Objective value of the returned allocation (NaN when infeasible).
    bound
        Best proven bound on the objective: the exact optimum when ``status`` is
        ``optimal``, otherwise the continuous relaxation's value (NaN if unknown).
    message
        Human-readable account of what was done, and why when it failed.
    solve_seconds
        Wall-clock time of the solve.
    allocation
        The family's allocation (``None`` when infeasible).
    info
        Extra machine-readable facts (e.g. ``min_deadline`` when infeasible).
    relaxed_bound
        The continuous relaxation's optimum, where the scheme computed it (NaN
        otherwise). The one place of the relaxed bound: ``bound`` is the best
        *proven* bound, which is the relaxation's unless the scheme proves
        optimality. In the JSON document it is the field ``relaxed_bound``,
        written after the allocation's fields when known.
    """

    family: str
    scheme: str
    status: Status
    objective: float
    bound: float
    message: str
    solve_seconds: float
    allocation: Any = None
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    relaxed_bound: float = math.nan

    @property
    def success(self) -> bool:
        """True when an allocation is available (``optimal`` or ``feasible``)."""
        return self.status in (Status.OPTIMAL, Status.FEASIBLE)

    def raise_for_status(self) -> Result:
        """Raise if the result carries no feasible allocation; return ``self`` otherwise.

        Raises
        ------
        InfeasibleError
            When ``status`` is ``infeasible``.
        SolverError
            When ``status`` is ``failed``.
        """
        if self.status is Status.INFEASIBLE:
            raise InfeasibleError(
                self.message,
                min_deadline=self.info.get("min_deadline"),
                energy_shortfall=self.info.get("energy_shortfall"),
                details=dict(self.info),
            )
        if self.status is Status.FAILED:
            raise SolverError(self.message)
        return self

    def __getattr__(self, name: str) -> Any:
        # Fall through to the allocation's fields (res.tau, res.samples, ...).
        allocation = object.__getattribute__(self, "allocation")
        if allocation is not None and not name.startswith("_"):
            try:
                return getattr(allocation, name)
            except AttributeError:
                pass
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """The docs/problem-files.md JSON document: common fields, then the allocation's fields."""
        out: dict[str, Any] = {
            "family": self.family,
            "scheme": self.scheme,
            "status": self.status.value,
            "objective": to_jsonable(float(self.objective)),
            "bound": to_jsonable(float(self.bound)),
            "message": self.message,
            "solve_seconds": float(self.solve_seconds),
        }
        if self.allocation is not None:
            out.update(to_jsonable(self.allocation.to_dict()))
        if math.isfinite(self.relaxed_bound):
            out["relaxed_bound"] = float(self.relaxed_bound)
        for key, value in self.info.items():
            out.setdefault(key, to_jsonable(value))
        return out

    def to_json(self, *, indent: int | None = None) -> str:
        """``to_dict()`` serialised as JSON."""
        return json.dumps(self.to_dict(), indent=indent)
