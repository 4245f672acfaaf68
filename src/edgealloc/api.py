"""One entry point over all families: :func:`solve`, :func:`load_problem`.

Like ``scipy.optimize.minimize(method=...)``: the family is read from the
problem, the scheme is a string, dispatch goes through a registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

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
    if not path.exists():
        raise ValidationError(str(path), "no such file")
    if path.is_dir():
        raise ValidationError(str(path), "is a directory, not a problem file")
    fmt = "json" if path.suffix.lower() == ".json" else "yaml"
    label = path.suffix.lstrip(".") or "YAML"
    return parse_document(path.read_bytes(), where=str(path), fmt=fmt, label=label)


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

    if isinstance(source, Mapping):
        data: Any = dict(source)
    else:
        text = str(source)
        known = registry.presets()
        if text in known and not Path(text).exists():
            return compile_scenario(known[text](), overrides=overrides)
        data = load_document(source)
    if isinstance(data, Mapping) and "scenario" in data and "family" not in data:
        return compile_scenario(data, overrides=overrides)
    if overrides:
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
            data[table.get(key, key)] = value
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
    if not hasattr(problem, "FAMILY"):
        problem = load_problem(problem)
    solver = registry.family_of(problem).scheme(scheme)
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
