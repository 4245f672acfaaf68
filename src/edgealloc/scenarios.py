"""Physical scenarios: presets, ``--set`` overrides and compilation to canonical problems.

A scenario is a YAML/JSON document with a top-level ``scenario: <family>``
key (a canonical problem has ``family:`` instead). Presets are scenarios
shipped with the package (``src/edgealloc/presets/*.yaml``, plus any a
family declares) that reproduce the papers' parameter tables; each documents
the readings it takes where a table is ambiguous. A preset name is accepted
wherever a scenario file is.

Each family declares its scenario compiler and its ``--set`` aliases in its
descriptor (:mod:`edgealloc.registry`); this module only dispatches.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml

from . import registry
from .errors import ValidationError

__all__ = [
    "ALIASES",
    "PRESETS",
    "aliases",
    "apply_overrides",
    "compile_scenario",
    "preset_text",
    "refuse_conflicts",
]


class _Presets(Mapping[str, Callable[[], dict[str, Any]]]):
    """``PRESETS``: preset name -> callable returning a fresh scenario mapping (live view)."""

    def __getitem__(self, name: str) -> Callable[[], dict[str, Any]]:
        return registry.presets()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(registry.presets())

    def __len__(self) -> int:
        return len(registry.presets())


#: preset name -> callable returning a fresh scenario mapping (every registered family's).
PRESETS: Mapping[str, Callable[[], dict[str, Any]]] = _Presets()


def preset_text(name: str) -> str:
    """The YAML text of a preset (with its comments)."""
    return registry.preset_text(name)


def aliases(family: str | None = None) -> dict[str, str]:
    """The ``--set`` short keys of ``family``'s scenarios (of every family when ``None``).

    With ``None``, the first family that declares a key wins, in registry order.
    """
    if family is not None:
        return dict(registry.get_family(family).aliases)
    merged: dict[str, str] = {}
    for fam in registry.families().values():
        for key, path in fam.aliases.items():
            merged.setdefault(key, path)
    return merged


class _Aliases(Mapping[str, str]):
    """``ALIASES``: every family's short keys merged (a live view of :func:`aliases`)."""

    def __getitem__(self, key: str) -> str:
        return aliases()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(aliases())

    def __len__(self) -> int:
        return len(aliases())


#: Short ``--set`` keys of every family (edgealloc 0.1's flat table; see :func:`aliases`).
ALIASES: Mapping[str, str] = _Aliases()


def _parse_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def _family_aliases(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, str]:
    """The aliases of the family the scenario compiles to (after a ``scenario`` override)."""
    family = (
        _parse_value(overrides["scenario"]) if "scenario" in overrides else data.get("scenario")
    )
    if isinstance(family, str) and family in registry.families():
        return dict(registry.get_family(family).aliases)
    return {}


def refuse_conflicts(overrides: Mapping[str, Any], table: Mapping[str, str]) -> None:
    """Two overrides of one field (``T`` and ``deadline``), or of a field and its parent."""
    seen: dict[str, str] = {}
    for raw_key in overrides:
        path = table.get(raw_key, raw_key)
        for other_path, other_key in seen.items():
            same = path == other_path
            nested = path.startswith(other_path + ".") or other_path.startswith(path + ".")
            if same or nested:
                what = f"both set {path}" if same else f"set {other_path} and {path}"
                raise ValidationError(
                    raw_key, f"conflicts with {other_key} ({what}); give one of them"
                )
        seen[path] = raw_key


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return a copy of ``data`` with ``{dotted.key: value}`` overrides applied.

    Short keys (``devices``, ``T``, ...) are the aliases of the scenario's
    family. String values are parsed as YAML (``"30"`` -> 30, ``"null"`` ->
    None, ``"[1, 2]"`` -> list). Unknown top-level keys are left for
    validation to reject, so a typo is reported by name.
    """
    out = copy.deepcopy(dict(data))
    overrides = overrides or {}
    table = _family_aliases(data, overrides)
    refuse_conflicts(overrides, table)
    for raw_key, raw_value in overrides.items():
        key = table.get(raw_key, raw_key)
        parts = key.split(".")
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part) if isinstance(node, dict) else None
            if nxt is None:
                nxt = {}
                node[part] = nxt
            elif not isinstance(nxt, dict):
                raise ValidationError(
                    ".".join(parts[: i + 1]), "is not a mapping; cannot set a sub-key"
                )
            node = nxt
        node[parts[-1]] = _parse_value(raw_value)
    return out


def compile_scenario(data: Mapping[str, Any], *, overrides: Mapping[str, Any] | None = None) -> Any:
    """Compile a scenario mapping (after overrides) into its canonical problem."""
    if not isinstance(data, Mapping):
        raise ValidationError("scenario", f"must be a mapping (got {type(data).__name__})")
    compiled = apply_overrides(data, overrides)
    try:
        return _compile(compiled)
    except ValidationError as exc:
        raise _as_typed(exc, data, overrides or {}) from None


def _as_typed(
    exc: ValidationError, data: Mapping[str, Any], overrides: Mapping[str, Any]
) -> ValidationError:
    """``exc`` naming the short key the user typed (``users (devices.count): ...``)."""
    table = _family_aliases(data, overrides)
    for raw_key in overrides:
        path = table.get(raw_key, raw_key)
        inside = exc.field.startswith((path + ".", path + "["))
        if raw_key != path and (exc.field == path or inside):
            return ValidationError(f"{raw_key} ({exc.field})", exc.problem)
    return exc


def _compile(data: Mapping[str, Any]) -> Any:
    name = data.get("scenario")
    known = [n for n, fam in registry.families().items() if fam.compile is not None]
    family = registry.families().get(name) if isinstance(name, str) else None
    if family is None or family.compile is None:
        raise ValidationError(
            "scenario",
            f"unknown scenario family {name!r} (known: {', '.join(known)})",
        )
    return family.compile(data)
