"""Shared input validation: strict numbers, NumPy-aware pydantic fields and one-line errors.

Problem classes are pydantic models (:class:`FrozenModel`) whose array fields
go through :func:`array_field` or :func:`matrix_field`; any pydantic error is
turned into one :class:`~edgealloc.errors.ValidationError` naming the field
(``c2[3]``, ``energy.budget``, ``link_rate[2][0]``) by :func:`validate_model`.

Numbers in canonical problems are strict: where a number belongs only an
``int`` or a ``float`` (or a NumPy number) is accepted, never a string, a
``bool`` or ``None`` (unless the field is optional); an integral float is
accepted where an integer belongs. A real number must be finite and, unless
it is 0, of magnitude within [:data:`MIN_MAGNITUDE`, :data:`MAX_MAGNITUDE`]:
no quantity of these models in SI units comes near, and products of a few
such numbers stay finite in float64. An integer (a count) must not exceed
:data:`MAX_COUNT` in magnitude, the largest range float64 represents exactly.
"""

from __future__ import annotations

import functools
import json
import numbers
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

import numpy as np
import pydantic
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from .errors import ValidationError

__all__ = [
    "DBM_RANGE",
    "MAX_BANDWIDTH_HZ",
    "MAX_COUNT",
    "MAX_MAGNITUDE",
    "MIN_MAGNITUDE",
    "CanonicalProblem",
    "Dbm",
    "FloatArray",
    "FrozenModel",
    "LaxInt",
    "LaxReal",
    "ScenarioModel",
    "array_field",
    "available_memory",
    "check_choice",
    "check_int",
    "check_json_data",
    "check_length",
    "check_memory",
    "format_loc",
    "lax_mapping_numbers",
    "lax_number_problem",
    "matrix_field",
    "number_problem",
    "validate_model",
]

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Self

M = TypeVar("M", bound=pydantic.BaseModel)
FloatArray = np.ndarray

#: Largest magnitude of a real number in a canonical problem.
MAX_MAGNITUDE = 1e60
#: Smallest magnitude of a non-zero real number in a canonical problem.
MIN_MAGNITUDE = 1e-60
#: Largest radio bandwidth a scenario accepts (1 THz, beyond any radio link): wider
#: bands give link rates whose LPs no solver conditions well (a 9e15 Hz D2D band
#: left HiGHS iterating for minutes).
MAX_BANDWIDTH_HZ = 1e12
#: Range of a power level in dBm (or a density in dBm/Hz) a scenario accepts:
#: 1e-33 W to 1e27 W, beyond any radio, so every watt value derived from one is a
#: finite canonical number (1e5 dBm overflowed to an infinite power before).
DBM_RANGE = (-300.0, 300.0)
#: Largest magnitude of an integer (a count) in a canonical problem: 2**53,
#: up to which float64 represents every integer exactly.
MAX_COUNT = 2**53


def _fail(message: str) -> PydanticCustomError:
    return PydanticCustomError("edgealloc", message)


def _shown(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        sign = "-" if value < 0 else ""
        return f"{sign}an integer of about 10**{int((abs(value).bit_length() - 1) * 0.30103)}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _got(value: Any) -> str:
    """``value`` as the ``(got ...)`` of a message: containers by type, the rest by repr."""
    if isinstance(value, Mapping | list | tuple | set | np.ndarray):
        return type(value).__name__
    return _shown(value)


def _real_problem(x: float, *, sign: str = "") -> str | None:
    """What is wrong with a real ``x`` of a canonical problem (non-finite, out of range), or None.

    ``sign="positive"``: the field is ``> 0``, so a tiny value is not told it may be 0.
    """
    if not np.isfinite(x):
        return f"must be finite (got {x})"
    mag = abs(x)
    if mag > MAX_MAGNITUDE:
        return f"must be at most {MAX_MAGNITUDE:g} in magnitude (got {x:g})"
    if 0 < mag < MIN_MAGNITUDE:
        lead = "" if sign == "positive" else "0 or "
        return f"must be {lead}at least {MIN_MAGNITUDE:g} in magnitude (got {x:g})"
    return None


def number_problem(
    value: Any, *, integer: bool = False, max_int: int = MAX_COUNT, positive: bool = False
) -> tuple[str | None, Any]:
    """Check one number of a canonical problem: ``(problem or None, normalised value)``.

    The value must be an ``int`` or ``float`` (a NumPy number too), not a
    ``bool``, a string, ``None`` or a container. Reals (``integer=False``)
    come back as ``float``, finite and within the magnitude limits; integers
    as ``int`` (an integral float is accepted), at most ``max_int`` in
    magnitude (:data:`MAX_COUNT`).
    """
    top = "2**53" if max_int == MAX_COUNT else f"{max_int}"
    if isinstance(value, np.integer | np.floating):
        value = value.item()
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float):
        what = "an integer" if integer else "a number"
        return f"must be {what} (got {_got(value)})", value
    if integer:
        if isinstance(value, float):
            if not np.isfinite(value):
                return f"must be finite (got {value})", value
            if not value.is_integer():
                return f"must be an integer (got {value!r})", value
            if abs(value) > max_int:
                return f"must be at most {top} in magnitude (got {value:g})", value
            return None, int(value)
        if abs(value) > max_int:
            return f"must be at most {top} in magnitude (got {_shown(value)})", value
        return None, int(value)
    if isinstance(value, int) and abs(value) > MAX_MAGNITUDE:
        return f"must be at most {MAX_MAGNITUDE:g} in magnitude (got {_shown(value)})", value
    x = float(value)
    problem = _real_problem(x, sign="positive" if positive else "")
    return problem, x


#: A decimal number written as text (``1e9``, ``-2.5``, ``+.5E-3``): YAML 1.1 reads
#: ``1e9`` as a string, so human-written scenarios contain such text.
_NUMBER_TEXT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
#: Largest integer of a scenario (int64).
MAX_SCENARIO_INT = 2**63 - 1


def lax_number_problem(
    value: Any, *, integer: bool = False, positive: bool = False
) -> tuple[str | None, Any]:
    """:func:`number_problem` for human-written scenarios: numbers written as text are read.

    ``"1e9"`` and ``" 30 "`` are numbers; other strings, booleans and ``None``
    are not. Integers may reach :data:`MAX_SCENARIO_INT`.
    """
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 400 or not _NUMBER_TEXT.match(text):
            what = "an integer" if integer else "a number"
            return f"must be {what} (got {_shown(value)})", value
        value = float(text) if not integer or any(c in text for c in ".eE") else int(text)
    return number_problem(value, integer=integer, max_int=MAX_SCENARIO_INT, positive=positive)


def lax_mapping_numbers(value: Any) -> Any:
    """The numbers of a free-form mapping (a path-loss spec) checked like every scenario number.

    Each number value goes through :func:`lax_number_problem`; a bad one is a
    :class:`~edgealloc.errors.ValidationError` naming its key. Other values,
    and a ``value`` that is not a mapping, are returned as they are (their
    own validator names them).
    """
    if not isinstance(value, Mapping):
        return value
    out = dict(value)
    for key, item in value.items():
        if isinstance(item, int | float) and not isinstance(item, bool):
            problem, number = lax_number_problem(item)
            if problem is not None:
                raise ValidationError(str(key), problem)
            out[key] = number
    return out


def _lax(integer: bool) -> Any:
    def validate(value: Any) -> Any:
        problem, number = lax_number_problem(value, integer=integer)
        if problem is not None:
            raise _fail(problem)
        return number

    return validate


#: A scenario's real number inside a container (``list[LaxReal]``): see :func:`lax_number_problem`.
LaxReal = Annotated[float, BeforeValidator(_lax(False))]
#: A power level in dBm (or a density in dBm/Hz), within :data:`DBM_RANGE`.
Dbm = Annotated[float, pydantic.Field(ge=DBM_RANGE[0], le=DBM_RANGE[1], allow_inf_nan=False)]
#: A scenario's integer inside a container (``list[LaxInt]``).
LaxInt = Annotated[int, BeforeValidator(_lax(True))]

_PLAIN = frozenset({int, float, np.float64, np.int64})


def _vector(value: Any) -> np.ndarray:
    """A 1-D float array from a list of strict numbers; element errors carry ``[i]``."""
    if isinstance(value, np.ndarray):
        kind = value.dtype.kind
        if kind in "iuf":
            if value.ndim != 1:
                raise _fail(f"must be a flat list of numbers (got an array of shape {value.shape})")
            return value.astype(float)
        if kind != "O":
            if value.ndim != 1 or value.size == 0:
                raise _fail(f"must be a flat list of numbers (got an array of {value.dtype})")
            raise _fail(f"[0] must be a number (got {_shown(value.flat[0])})")
        value = value.tolist()
    elif not isinstance(value, list | tuple):
        if isinstance(value, range):
            value = list(value)
        else:
            raise _fail(f"must be a list of numbers (got {type(value).__name__})")
    if not value:
        raise _fail("must not be empty")
    kinds = set(map(type, value))
    if kinds <= _PLAIN:
        try:
            return np.array(value, dtype=float)
        except OverflowError:  # an int beyond float64: found below
            pass
    if len(value) > 1 and all(isinstance(x, list | tuple) for x in value):
        raise _fail("must be a flat list of numbers (got a list of lists)")
    out = np.empty(len(value))
    for i, x in enumerate(value):
        problem, number = number_problem(x)
        if problem is not None:
            raise _fail(f"[{i}] {problem}")
        out[i] = number
    return out


def _check_values(arr: np.ndarray, *, positive: bool, nonnegative: bool, integer: bool) -> None:
    """Finite, within the magnitude limits, signs and integrality; errors name ``[i]...``."""

    def where(mask: np.ndarray) -> tuple[str, float]:
        idx = tuple(int(x) for x in np.argwhere(mask)[0])
        return "".join(f"[{i}]" for i in idx), float(arr[idx])

    bad = ~np.isfinite(arr)
    if bad.any():
        at, x = where(bad)
        raise _fail(f"{at} must be finite (got {x})")
    if integer:
        frac = arr != np.round(arr)
        if frac.any():
            at, x = where(frac)
            raise _fail(f"{at} must be an integer (got {x!r})")
    if positive and (arr <= 0).any():
        at, x = where(arr <= 0)
        raise _fail(f"{at} must be > 0 (got {x:g})")
    if nonnegative and (arr < 0).any():
        at, x = where(arr < 0)
        raise _fail(f"{at} must be >= 0 (got {x:g})")
    mag = np.abs(arr)
    limit = float(MAX_COUNT) if integer else MAX_MAGNITUDE
    if (mag > limit).any():
        at, x = where(mag > limit)
        top = "2**53" if integer else f"{MAX_MAGNITUDE:g}"
        raise _fail(f"{at} must be at most {top} in magnitude (got {x:g})")
    if not integer and ((mag > 0) & (mag < MIN_MAGNITUDE)).any():
        at, x = where((mag > 0) & (mag < MIN_MAGNITUDE))
        lead = "" if positive else "0 or "
        raise _fail(f"{at} must be {lead}at least {MIN_MAGNITUDE:g} in magnitude (got {x:g})")


def array_field(
    *,
    positive: bool = False,
    nonnegative: bool = False,
    integer: bool = False,
) -> Any:
    """An annotated NumPy array type for a pydantic field.

    The value (a list, tuple or NumPy array of numbers; no strings, booleans
    or ``None``) is converted to a read-only float64 array and checked to be
    non-empty, flat, finite, within the magnitude limits (integers: at most
    :data:`MAX_COUNT`; reals: 0 or within [:data:`MIN_MAGNITUDE`,
    :data:`MAX_MAGNITUDE`]) and (optionally) positive, non-negative or
    integral. Errors name the first offending element, e.g.
    ``c2[3]: must be > 0 (got -1.0)``.
    """

    def validate(value: Any) -> np.ndarray:
        if isinstance(value, str | bytes | Mapping) or value is None:
            raise _fail(f"must be a list of numbers (got {_got(value)})")
        arr = _vector(value)
        if arr.size == 0:
            raise _fail("must not be empty")
        _check_values(arr, positive=positive, nonnegative=nonnegative, integer=integer)
        arr = np.array(arr, dtype=float, copy=True)
        arr.setflags(write=False)
        return arr

    return Annotated[np.ndarray, BeforeValidator(validate)]


def matrix_field(*, nonnegative: bool = False) -> Any:
    """An annotated square NumPy matrix type for a pydantic field (read-only float64).

    Rows are lists (or a 2-D NumPy array) of strict numbers, as for
    :func:`array_field`. Errors name the first offending entry, e.g.
    ``link_rate[2][0]: must be >= 0``.
    """

    def validate(value: Any) -> np.ndarray:
        if isinstance(value, str | bytes | Mapping) or value is None:
            raise _fail(f"must be a square matrix of numbers (got {_got(value)})")
        if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
            if value.ndim != 2:
                raise _fail(f"must be a non-empty square matrix (got shape {value.shape})")
            arr = value.astype(float)
        else:
            rows = value.tolist() if isinstance(value, np.ndarray) else value
            if not isinstance(rows, list | tuple):
                raise _fail(f"must be a square matrix of numbers (got {type(value).__name__})")
            if not rows:
                raise _fail("must be a non-empty square matrix (got no rows)")
            out = []
            for i, row in enumerate(rows):
                if not isinstance(row, list | tuple | np.ndarray):
                    raise _fail(f"[{i}] must be a row: a list of numbers (got {_got(row)})")
                try:
                    out.append(_vector(row))
                except PydanticCustomError as exc:
                    text = exc.message()
                    sep = "" if text.startswith("[") else " "
                    raise _fail(f"[{i}]{sep}{text}") from None
                if out[-1].size != out[0].size:
                    raise _fail(
                        f"[{i}] has {out[-1].size} entries, expected {out[0].size} "
                        "(rows of equal length)"
                    )
            arr = np.array(out, dtype=float)
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.size == 0:
            raise _fail(f"must be a non-empty square matrix (got shape {arr.shape})")
        _check_values(arr, positive=False, nonnegative=nonnegative, integer=False)
        arr = np.array(arr, dtype=float, copy=True)
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
    """Raise :class:`ValidationError` naming ``name`` when ``arr`` does not have ``n`` entries.

    Inside a model validator the error keeps its field, prefixed with the
    nested model's place (``energy.g1``).
    """
    if arr.shape[0] != n:
        raise ValidationError(
            name, f"has {arr.shape[0]} entries, expected {n} (one per device, as {reference})"
        )


def check_json_data(field: str, value: Any) -> Any:
    """``value`` if it is JSON data (mappings with string keys, lists, strings, numbers, null).

    NumPy numbers and numeric arrays count as their JSON forms (non-finite
    floats are written as ``null``). Errors name ``field`` and the place
    inside it (``meta.layers[2]``; with ``field=""`` the place alone, for a
    pydantic validator to prefix). Used for free-form fields such as
    ``meta``, which ``to_json`` writes and equality compares.
    """

    def at(where: str, part: str) -> str:
        return f"{where}{part}" if part.startswith("[") or not where else f"{where}.{part}"

    stack: list[tuple[str, Any, int]] = [(field, value, 0)]
    while stack:
        where, node, depth = stack.pop()
        if depth > 64:
            raise ValidationError(field, "nests deeper than 64 levels")
        if isinstance(node, Mapping):
            for key, child in node.items():
                if not isinstance(key, str):
                    raise ValidationError(where, f"keys must be strings (got {_shown(key)})")
                if not isinstance(child, _JSON_LEAVES):
                    stack.append((at(where, key), child, depth + 1))
        elif isinstance(node, list | tuple):
            if not set(map(type, node)) <= _JSON_LEAF_TYPES:
                stack.extend(
                    (at(where, f"[{i}]"), child, depth + 1)
                    for i, child in enumerate(node)
                    if not isinstance(child, _JSON_LEAVES)
                )
        elif isinstance(node, np.ndarray | np.generic):
            if node.dtype.kind not in "biuf":
                raise ValidationError(where, f"must be JSON data (got {node.dtype} values)")
        elif not isinstance(node, _JSON_LEAVES):
            raise ValidationError(where, f"must be JSON data (got {type(node).__name__})")
    return value


#: Python values JSON writes as they are.
_JSON_LEAVES = (str, int, float, type(None))
_JSON_LEAF_TYPES = frozenset({str, int, float, bool, type(None)})


def format_loc(loc: tuple[Any, ...]) -> str:
    """Format a pydantic error location as a dotted path with list indices."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + (str(part) if part != "" else '""')
    return out


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


#: ``"[3] problem"``: the index of the offending element, moved into the field.
_INDEX_PREFIX = re.compile(r"^(\[-?\d+\])")


def _one_line(exc: pydantic.ValidationError, prefix: str = "") -> ValidationError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    field = format_loc(tuple(first.get("loc", ())))
    kind = first.get("type", "")
    msg = _wording(kind, first) or str(first.get("msg", "invalid value"))
    inner = (first.get("ctx") or {}).get("error")
    if isinstance(inner, ValidationError):  # a nested FrozenModel's own one-line error
        sub = inner.field
        if sub:
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
    while (found := _INDEX_PREFIX.match(msg)) is not None:
        field = f"{field}{found.group(1)}"
        msg = msg[found.end() :].strip()
    if prefix:
        field = f"{prefix}.{field}" if field else prefix
    field = field or "document"  # the input as a whole (not a mapping, not JSON)
    if len(errors) > 1:
        msg += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return ValidationError(field, msg)


def validate_model(model: type[M], data: Any, *, prefix: str = "") -> M:
    """Validate ``data`` into ``model``, raising one-line :class:`ValidationError`."""
    if not isinstance(data, Mapping):
        raise ValidationError(
            prefix or "document", f"must be a mapping (got {type(data).__name__})"
        )
    for key in data:
        if not isinstance(key, str):
            raise ValidationError(prefix or "document", f"keys must be strings (got {_shown(key)})")
    try:
        return model.model_validate(dict(data))
    except pydantic.ValidationError as exc:
        raise _one_line(exc, prefix) from None


@functools.cache
def _number_fields(model: type[pydantic.BaseModel]) -> dict[str, tuple[bool, bool, bool]]:
    """``name -> (integer, optional, positive)`` of a model's ``int``/``float`` fields.

    ``X | None`` counts (optional); positive: constrained ``> 0``.
    """
    out: dict[str, tuple[bool, bool, bool]] = {}
    for name, info in model.model_fields.items():
        ann: Any = info.annotation
        optional = False
        if typing.get_origin(ann) in (typing.Union, types.UnionType):
            args = typing.get_args(ann)
            rest = [a for a in args if a is not type(None)]
            if len(rest) != 1:
                continue
            optional, ann = len(rest) < len(args), rest[0]
        if ann is float or ann is int:
            positive = any(getattr(m, "gt", None) == 0 for m in info.metadata)
            out[name] = (ann is int, optional, positive)
    return out


def _checked_numbers(model: type[pydantic.BaseModel], data: Any, check: Any) -> Any:
    """``data`` with the model's ``int``/``float`` fields checked by ``check`` and normalised."""
    if check is None or not isinstance(data, Mapping):
        return data
    out: dict[str, Any] | None = None
    for name, (integer, optional, positive) in _number_fields(model).items():
        if name not in data or (optional and data[name] is None):
            continue
        value = data[name]
        problem, number = check(value, integer=integer, positive=positive)
        if problem is not None:
            raise ValidationError(name, problem)
        if type(number) is not type(value):
            out = dict(data) if out is None else out
            out[name] = number
    return data if out is None else out


class ScenarioModel(pydantic.BaseModel):
    """Base of the physical scenario models: immutable, unknown fields rejected, lax numbers.

    Scenarios are written by hand in YAML, whose 1.1 dialect reads ``1e9`` as
    a string: their ``int`` and ``float`` fields (and the optional forms)
    accept numbers written as text, but never booleans, ``None`` (unless
    optional) or other text, and the numbers are finite and within the
    magnitude limits (:func:`lax_number_problem`). Containers of numbers use
    :data:`LaxReal` / :data:`LaxInt`.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    @pydantic.model_validator(mode="before")
    @classmethod
    def _lax_numbers(cls, data: Any) -> Any:
        return _checked_numbers(cls, data, lax_number_problem)


class FrozenModel(pydantic.BaseModel):
    """Base of the canonical problems: immutable, unknown fields rejected, NumPy arrays.

    Keyword construction raises one-line :class:`ValidationError` like
    :func:`validate_model`; equality compares the canonical documents
    (``to_dict()``), so arrays compare by value.
    """

    model_config = pydantic.ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, strict=False
    )

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        """Serialise :meth:`to_dict` to JSON; also write it to ``path`` when given.

        The file is written under a temporary name and renamed into place
        (:func:`edgealloc._io.atomic_write_text`): never half-written.
        """
        from ._io import atomic_write_text
        from .result import to_jsonable

        text = json.dumps(to_jsonable(self.to_dict()), indent=indent)
        if path is not None:
            atomic_write_text(path, text + "\n")
        return text

    def replace(self, **changes: Any) -> Self:
        """A validated copy with some fields changed (``p.replace(deadline=60)``)."""
        data = self.to_dict()
        data.update(changes)
        return validate_model(type(self), data)

    #: Strict numbers in ``int`` and ``float`` fields (and their optional forms):
    #: no strings, booleans or ``None`` where a number belongs, finite, within
    #: the magnitude limits (:func:`number_problem`). A model that reads
    #: human-written text with lax numbers (a scenario) sets this to ``False``.
    strict_numbers: ClassVar[bool] = True

    @pydantic.model_validator(mode="before")
    @classmethod
    def _strict_numbers(cls, data: Any) -> Any:
        return _checked_numbers(cls, data, number_problem if cls.strict_numbers else None)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise _one_line(exc) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Any:
        """pydantic's ``model_validate``, with one-line :class:`ValidationError`."""
        try:
            return super().model_validate(obj, *args, **kwargs)
        except pydantic.ValidationError as exc:
            raise _one_line(exc) from None

    @classmethod
    def model_validate_json(cls, json_data: Any, *args: Any, **kwargs: Any) -> Any:
        """pydantic's ``model_validate_json``, with one-line :class:`ValidationError`."""
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
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


class CanonicalProblem(FrozenModel):
    """Base of each family's canonical problem: ``from_dict``, the ``meta`` check, the tail.

    A subclass declares its own fields, ending with the free-form ``name``,
    ``description`` and ``meta`` (``str | None``, ``str | None``,
    ``dict[str, Any] | None``, default ``None``): declared here they would come
    first, and the field order is that of the canonical documents and of the
    validation errors. ``meta`` must be JSON data (:func:`check_json_data`),
    which ``to_json`` writes and equality compares.
    """

    @pydantic.field_validator("meta", mode="before", check_fields=False)
    @classmethod
    def _meta(cls, value: Any) -> Any:
        return None if value is None else check_json_data("", value)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Validate a canonical document (a mapping) into a problem."""
        return validate_model(cls, data)

    def _named(self, out: dict[str, Any]) -> dict[str, Any]:
        """``out`` with ``name``, ``description`` and ``meta`` added, those that are set."""
        for key in ("name", "description", "meta"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


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
