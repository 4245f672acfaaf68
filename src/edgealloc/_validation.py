"""Shared input validation: NumPy-aware pydantic fields and one-line errors.

Problem classes are pydantic models whose array fields go through
:func:`array_field`; any pydantic error is turned into one
:class:`~edgealloc.errors.ValidationError` naming the field (``c2[3]``,
``energy.budget``) by :func:`validate_model`.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar

import numpy as np
import pydantic
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from .errors import ValidationError

__all__ = [
    "FloatArray",
    "FrozenModel",
    "array_field",
    "available_memory",
    "check_choice",
    "check_int",
    "check_length",
    "check_memory",
    "format_loc",
    "matrix_field",
    "validate_model",
]

M = TypeVar("M", bound=pydantic.BaseModel)
FloatArray = np.ndarray


def _fail(message: str) -> PydanticCustomError:
    return PydanticCustomError("edgealloc", message)


def _coerce_array(value: Any, *, integer: bool) -> np.ndarray:
    if isinstance(value, str | bytes | Mapping) or value is None:
        raise _fail(f"must be a list of numbers (got {type(value).__name__})")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise _fail("must be a list of numbers") from None
    if arr.ndim != 1:
        raise _fail(f"must be a flat list of numbers (got an array of shape {arr.shape})")
    if arr.size == 0:
        raise _fail("must not be empty")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _fail(f"[{i}] must be finite (got {arr[i]})")
    if integer:
        frac = arr != np.round(arr)
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            raise _fail(f"[{i}] must be an integer (got {arr[i]})")
    return arr


def array_field(
    *,
    positive: bool = False,
    nonnegative: bool = False,
    integer: bool = False,
) -> Any:
    """An annotated NumPy array type for a pydantic field.

    The value is converted to a read-only float64 array and checked to be
    non-empty, flat, finite and (optionally) positive, non-negative or
    integral. Errors name the first offending element, e.g.
    ``c2[3]: must be > 0 (got -1.0)``.
    """

    def validate(value: Any) -> np.ndarray:
        arr = _coerce_array(value, integer=integer)
        if positive:
            bad = arr <= 0
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise _fail(f"[{i}] must be > 0 (got {arr[i]:g})")
        if nonnegative:
            bad = arr < 0
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise _fail(f"[{i}] must be >= 0 (got {arr[i]:g})")
        arr = np.array(arr, dtype=float, copy=True)
        arr.setflags(write=False)
        return arr

    return Annotated[np.ndarray, BeforeValidator(validate)]


def matrix_field(*, nonnegative: bool = False) -> Any:
    """An annotated square NumPy matrix type for a pydantic field (read-only float64).

    Errors name the first offending entry, e.g. ``link_rate[2][0]: must be >= 0``.
    """

    def validate(value: Any) -> np.ndarray:
        if isinstance(value, str | bytes | Mapping) or value is None:
            raise _fail(f"must be a square matrix of numbers (got {type(value).__name__})")
        try:
            arr = np.array(value, dtype=float)
        except (TypeError, ValueError):
            raise _fail("must be a square matrix of numbers (rows of equal length)") from None
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.size == 0:
            raise _fail(f"must be a non-empty square matrix (got shape {arr.shape})")
        bad = ~np.isfinite(arr)
        if bad.any():
            i, j = (int(x) for x in np.argwhere(bad)[0])
            raise _fail(f"[{i}][{j}] must be finite (got {arr[i, j]})")
        if nonnegative and (arr < 0).any():
            i, j = (int(x) for x in np.argwhere(arr < 0)[0])
            raise _fail(f"[{i}][{j}] must be >= 0 (got {arr[i, j]:g})")
        arr.setflags(write=False)
        return arr

    return Annotated[np.ndarray, BeforeValidator(validate)]


def check_int(field: str, value: Any, *, minimum: int) -> int:
    """``value`` as an ``int`` (Python or NumPy integer, not ``bool``) that is ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(field, f"must be an integer (got {value!r})")
    if value < minimum:
        raise ValidationError(field, f"must be >= {minimum} (got {value!r})")
    return int(value)


def check_choice(field: str, value: Any, options: Sequence[str]) -> str:
    """``value`` if it is one of ``options``; else one line naming ``field`` and the choices."""
    if value not in options:
        raise ValidationError(field, f"must be one of {', '.join(options)} (got {value!r})")
    return str(value)


def check_length(name: str, arr: np.ndarray, n: int, reference: str) -> None:
    """Raise a pydantic-compatible error when ``arr`` does not have ``n`` entries."""
    if arr.shape[0] != n:
        raise ValueError(
            f"{name}: has {arr.shape[0]} entries, expected {n} (one per device, as {reference})"
        )


def format_loc(loc: tuple[Any, ...]) -> str:
    """Format a pydantic error location as a dotted path with list indices."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


#: pydantic error types -> the project's wording (``must be ... (got ...)``).
_WORDING: dict[str, str] = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be finite",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "literal_error": "must be {expected}",
    "enum": "must be {expected}",
    "too_short": "must have at least {min_length} entries",
    "too_long": "must have at most {max_length} entries",
}


def _wording(kind: str, first: Mapping[str, Any]) -> str | None:
    template = _WORDING.get(kind)
    if template is None:
        return None
    ctx = {
        k: (f"{v:g}" if isinstance(v, float) else v) for k, v in (first.get("ctx") or {}).items()
    }
    try:
        msg = template.format(**ctx)
    except (KeyError, IndexError):
        return None
    if "input" in first and kind not in ("too_short", "too_long"):
        value = first["input"]
        got = type(value).__name__ if isinstance(value, Mapping | list | tuple) else _shown(value)
        msg += f" (got {got})"
    return msg


def _one_line(exc: pydantic.ValidationError, prefix: str = "") -> ValidationError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    field = format_loc(tuple(first.get("loc", ())))
    kind = first.get("type", "")
    msg = _wording(kind, first) or str(first.get("msg", "invalid value"))
    inner = (first.get("ctx") or {}).get("error")
    if isinstance(inner, ValidationError):  # a nested FrozenModel's own one-line error
        sub = inner.field
        field = f"{field}{sub}" if sub.startswith("[") or not field else f"{field}.{sub}"
        msg = inner.problem
        kind = "nested"
    if kind == "missing":
        msg = "missing required field"
    elif kind == "extra_forbidden":
        msg = "unknown field"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    # A model-level check reports "field: problem" itself.
    if not field and ": " in msg:
        field, msg = msg.split(": ", 1)
    if msg.startswith("[") and "]" in msg:
        idx, rest = msg.split("]", 1)
        field = f"{field}{idx}]"
        msg = rest.strip()
    if prefix:
        field = f"{prefix}.{field}" if field else prefix
    if len(errors) > 1:
        msg += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return ValidationError(field, msg)


def validate_model(model: type[M], data: Any, *, prefix: str = "") -> M:
    """Validate ``data`` into ``model``, raising one-line :class:`ValidationError`."""
    if not isinstance(data, Mapping):
        raise ValidationError(
            prefix or "document", f"must be a mapping (got {type(data).__name__})"
        )
    try:
        return model.model_validate(dict(data))
    except pydantic.ValidationError as exc:
        raise _one_line(exc, prefix) from None


class FrozenModel(pydantic.BaseModel):
    """Base of the canonical problems: immutable, unknown fields rejected, NumPy arrays.

    Keyword construction raises one-line :class:`ValidationError` like
    :func:`validate_model`; equality compares the canonical documents
    (``to_dict()``), so arrays compare by value.
    """

    model_config = pydantic.ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, strict=False
    )

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise _one_line(exc) from None

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        from .result import to_jsonable

        mine = json.dumps(to_jsonable(self.to_dict()), sort_keys=True)
        theirs = json.dumps(to_jsonable(other.to_dict()), sort_keys=True)  # type: ignore[attr-defined]
        return mine == theirs

    __hash__ = None  # type: ignore[assignment]


def available_memory() -> int:
    """Bytes this process may still allocate: ``MemAvailable`` of ``/proc/meminfo``.

    Falls back to the physical memory (``sysconf``), then to 8 GiB.
    """
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os

        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def check_memory(field: str, count: int, bytes_each: float, what: str = "devices") -> None:
    """Refuse, before allocating, a size whose estimated memory exceeds what the machine has.

    ``count * bytes_each`` is the estimate (each family states its own per-item
    cost, measured with its solvers). The error names the field, the count and
    the estimate, e.g. ``devices.count: 100000000 devices need about 95 GiB
    (this machine has 21 GiB available)``.
    """
    need = float(count) * float(bytes_each)
    have = available_memory()
    if need > have:
        raise ValidationError(
            field,
            f"{count} {what} need about {_human_bytes(need)} "
            f"(this machine has {_human_bytes(have)} available); use fewer",
        )


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover
