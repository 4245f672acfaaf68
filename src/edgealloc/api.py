"""One entry point over all families: :func:`solve`, :func:`load_problem`.

Like ``scipy.optimize.minimize(method=...)``: the family is read from the
problem, the scheme is a string, dispatch goes through a registry.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from . import registry
from ._documents import parse_document
from .errors import InfeasibleError, ValidationError
from .result import Result, Status

__all__ = ["FAMILIES", "load_document", "load_problem", "problem_from_dict", "schemes", "solve"]


class _FamilyLoaders(Mapping[str, Callable[[], tuple[type, Mapping[str, Callable[..., Result]]]]]):
    """``FAMILIES``: family name -> loader of ``(problem class, {scheme: solver})``.

    Kept for code written against edgealloc 0.1's table; a view of
    :func:`edgealloc.registry.families` (new code asks the registry).
    """

    def __getitem__(self, name: str) -> Callable[[], tuple[type, Mapping[str, Any]]]:
        family = registry.families()[name]
        return lambda: (family.problem, family.schemes)

    def __iter__(self) -> Iterator[str]:
        return iter(registry.families())

    def __len__(self) -> int:
        return len(registry.families())


#: family name -> loader returning (problem class, {scheme: solver}); see the registry.
FAMILIES: Mapping[str, Callable[[], tuple[type, Mapping[str, Callable[..., Result]]]]] = (
    _FamilyLoaders()
)


def schemes(family: str) -> list[str]:
    """The scheme names a family offers, the exact one first."""
    return list(registry.get_family(family).schemes)


def problem_from_dict(data: Mapping[str, Any]) -> Any:
    """Validate a canonical document into its family's problem object."""
    if not isinstance(data, Mapping):
        raise ValidationError("document", f"must be a mapping (got {type(data).__name__})")
    if "family" not in data:
        if "scenario" in data:
            from .scenarios import compile_scenario

            return compile_scenario(data)
        raise ValidationError(
            "family", "missing required field (a canonical problem names its family)"
        )
    return registry.get_family(data["family"]).problem.from_dict(data)


def load_document(path: str | Path) -> Any:
    """Read a JSON (``.json``) or YAML file, with one-line errors for missing or malformed files.

    Raises
    ------
    ValidationError
        Naming the path: no such file, a directory, not UTF-8 (a byte-order
        mark is accepted), empty, a syntax error (line and column), a
        duplicate key, absurd nesting or number lengths.
    """
    path = Path(path)
    try:
        exists, is_dir = path.exists(), path.is_dir()
        data = path.read_bytes() if exists and not is_dir else b""
    except (OSError, ValueError) as exc:  # unreadable, a name too long, a NUL byte
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValidationError(_shown_path(path), f"cannot be read ({why})") from None
    if not exists:
        raise ValidationError(_shown_path(path), "no such file")
    if is_dir:
        raise ValidationError(_shown_path(path), "is a directory, not a problem file")
    fmt = "json" if path.suffix.lower() == ".json" else "yaml"
    label = path.suffix.lstrip(".") or "YAML"
    return parse_document(data, where=str(path), fmt=fmt, label=label)


def _shown_path(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 200 else text[:197] + "..."


#: A decimal number YAML 1.1 leaves as a string (``1e9``, ``+2.5E-3``).
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _override_value(key: str, value: Any, *, numbers: bool) -> Any:
    """An override typed as text (``--set deadline=24``) read as YAML.

    With ``numbers`` (canonical problems, whose numbers are strict) a decimal
    number YAML leaves as text (``1e9``) becomes a float. Text YAML cannot
    read stays text; an integer too long for Python to read is refused.
    """
    if not isinstance(value, str):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    except (ValueError, RecursionError):  # an integer beyond Python's digit limit; absurd nesting
        raise ValidationError(key, f"refused: {_shown_text(value)} cannot be read") from None
    if numbers and isinstance(parsed, str) and _NUMBER.match(parsed.strip()):
        return float(parsed)
    return parsed


def _shown_text(text: str) -> str:
    return repr(text) if len(text) <= 40 else f"a value of {len(text)} characters"


def _check_overrides(overrides: Any) -> Mapping[str, Any]:
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise ValidationError(
            "overrides", f"must be a mapping of keys to values (got {type(overrides).__name__})"
        )
    for key in overrides:
        if not isinstance(key, str) or not key:
            raise ValidationError("overrides", f"keys must be non-empty strings (got {key!r})")
    return overrides


def load_problem(
    source: str | Path | Mapping[str, Any], *, overrides: Mapping[str, Any] | None = None
) -> Any:
    """Load a canonical problem, a physical scenario (compiled) or a preset name.

    Parameters
    ----------
    source
        A path to a JSON/YAML file, a mapping, or a preset name such as
        ``"mel-sync"``.
    overrides
        ``{dotted.key: value}`` applied to a scenario or preset before
        compiling (the CLI's ``--set key=value``).

    Examples
    --------
    >>> p = load_problem("mel-sync", overrides={"devices": 10})
    >>> p.n_devices
    10
    """
    from .scenarios import compile_scenario, refuse_conflicts

    overrides = _check_overrides(overrides)
    for key, value in overrides.items():  # refuse what YAML cannot read before compiling
        _override_value(key, value, numbers=False)
    if isinstance(source, Mapping):
        data: Any = dict(source)
    elif not isinstance(source, str | os.PathLike):
        raise ValidationError(
            "source",
            f"must be a path, a preset name or a mapping (got {type(source).__name__})",
        )
    else:
        text = str(source)
        known = registry.presets()
        if text in known and not Path(text).exists():
            return compile_scenario(known[text](), overrides=overrides)
        data = load_document(source)
    if isinstance(data, Mapping) and "scenario" in data and "family" not in data:
        return compile_scenario(data, overrides=overrides)
    if overrides:
        if not isinstance(data, Mapping):
            raise ValidationError("document", f"must be a mapping (got {type(data).__name__})")
        data = dict(data)
        # A family's short keys that name a top-level field apply here too (T -> deadline).
        known = registry.families()
        family = data.get("family")
        table = {}
        if isinstance(family, str) and family in known:
            table = {k: v for k, v in known[family].aliases.items() if "." not in v}
        refuse_conflicts(overrides, table)
        for key, value in overrides.items():
            if "." in key:
                raise ValidationError(
                    key, "nested overrides apply to scenarios, not canonical problems"
                )
            data[table.get(key, key)] = _override_value(key, value, numbers=True)
    return problem_from_dict(data)


def solve(problem: Any, scheme: str = "optimal", *, raise_infeasible: bool = True) -> Result:
    """Solve a problem of any family with the named scheme.

    Parameters
    ----------
    problem
        A problem object (e.g. :class:`edgealloc.mel.MelProblem`), a canonical
        mapping, a path or a preset name (see :func:`load_problem`).
    scheme
        The family's scheme name (``"optimal"``, ``"relaxed"``, ``"paper"``, ...).
    raise_infeasible
        Raise :class:`~edgealloc.errors.InfeasibleError` when the input admits
        no allocation (default); with ``False`` return a ``Result`` whose
        status is ``infeasible`` and whose ``info`` says what would help.

    Examples
    --------
    >>> import edgealloc
    >>> res = edgealloc.solve("mel-sync", "optimal")
    >>> res.status.value, res.objective >= 1
    ('optimal', True)
    """
    if isinstance(problem, type):
        raise ValidationError(
            "problem", f"must be a problem, a document, a path or a preset name (got {problem})"
        )
    if not hasattr(problem, "FAMILY"):
        problem = load_problem(problem)
    family = registry.family_of(problem)
    if not isinstance(problem, family.problem):
        raise ValidationError(
            "problem",
            f"must be a {family.problem.__name__} for family {family.name} "
            f"(got {type(problem).__name__})",
        )
    if not isinstance(scheme, str):
        raise ValidationError("scheme", f"must be a scheme name (got {type(scheme).__name__})")
    solver = family.scheme(scheme)
    t0 = time.perf_counter()
    try:
        return solver(problem)
    except InfeasibleError as exc:
        if raise_infeasible:
            raise
        info: dict[str, Any] = {}
        if exc.min_deadline is not None:
            info["min_deadline"] = exc.min_deadline
        if exc.energy_shortfall is not None:
            info["energy_shortfall"] = exc.energy_shortfall
        info.update(exc.details)
        return Result(
            family=problem.FAMILY,
            scheme=scheme,
            status=Status.INFEASIBLE,
            objective=float("nan"),
            bound=float("nan"),
            message=str(exc),
            solve_seconds=time.perf_counter() - t0,
            allocation=None,
            info=info,
        )
