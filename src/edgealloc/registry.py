"""The family registry: built-in and third-party :class:`~edgealloc.family.Family` descriptors.

Modelled on xarray's backend registry. Built-in families are listed in
:data:`BUILTIN_FAMILIES` as ``"module:attribute"`` paths, imported on first
use; third-party families come from the entry-point group
``edgealloc.families`` (each entry point names a :class:`Family` or a
zero-argument callable returning one); code may also call
:func:`register_family`. Discovery is cached (:func:`refresh_families`
clears it) and tolerant: a plugin that fails to load, or that reuses a
name, gives an :class:`~edgealloc.EdgeallocWarning` naming it and is left
out; the first family of a name wins.

Order: the built-ins in the order of :data:`BUILTIN_FAMILIES`, then
registered and entry-point families alphabetically. Schemes, the demo and
``--scheme all`` follow it.

Presets are the YAML files of ``edgealloc/presets`` plus each family's
``presets``; a preset's ``scenario`` field names its family.

>>> from edgealloc.registry import families, get_family
>>> list(families())[:3]
['mel', 'offload-server', 'offload-d2d']
>>> get_family("mel").exact
'optimal'
"""

from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import Callable, Mapping
from importlib import metadata, resources
from typing import Any

import yaml

from .errors import EdgeallocWarning, ValidationError
from .family import Family

__all__ = [
    "BUILTIN_FAMILIES",
    "ENTRY_POINT_GROUP",
    "families",
    "family_of",
    "get_family",
    "preset_family",
    "preset_text",
    "presets",
    "refresh_families",
    "register_family",
    "unregister_family",
]

#: Entry-point group third-party packages register their families under.
ENTRY_POINT_GROUP = "edgealloc.families"

#: Built-in families, in their display order: name -> ``"module:attribute"``.
BUILTIN_FAMILIES: dict[str, str] = {
    "mel": "edgealloc.mel.family:FAMILY",
    "offload-server": "edgealloc.offload.family:SERVER",
    "offload-d2d": "edgealloc.offload.family:D2D",
    "feel": "edgealloc.feel.family:FAMILY",
    "flmar": "edgealloc.flmar.family:FAMILY",
}

#: Families registered in-process with :func:`register_family`.
_REGISTERED: dict[str, Family] = {}


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _as_family(obj: Any, origin: str) -> Family:
    if callable(obj) and not isinstance(obj, Family):
        obj = obj()
    if not isinstance(obj, Family):
        raise TypeError(f"{origin} is a {type(obj).__name__}, not an edgealloc Family")
    return obj


def _entry_points() -> list[Any]:
    try:
        return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    except Exception as exc:  # a broken environment must not break the library
        warnings.warn(
            f"cannot list {ENTRY_POINT_GROUP} entry points: {exc}", EdgeallocWarning, stacklevel=3
        )
        return []


@functools.lru_cache(maxsize=1)
def _discover() -> dict[str, Family]:
    found: dict[str, Family] = {}

    def add(family: Family, origin: str) -> None:
        if family.name in found:
            if found[family.name] is not family:
                warnings.warn(
                    f"family {family.name!r} from {origin} is already registered; "
                    "the first one is kept",
                    EdgeallocWarning,
                    stacklevel=4,
                )
            return
        found[family.name] = family

    for name, target in BUILTIN_FAMILIES.items():
        family = _as_family(_load(target), target)
        if family.name != name:
            raise RuntimeError(f"{target} declares family {family.name!r}, expected {name!r}")
        add(family, target)
    extra: dict[str, tuple[Family, str]] = {}
    for name, family in _REGISTERED.items():
        extra.setdefault(name, (family, "register_family"))
    for ep in _entry_points():
        try:
            family = _as_family(ep.load(), f"entry point {ep.name} = {ep.value}")
        except Exception as exc:
            warnings.warn(
                f"edgealloc family plugin {ep.name!r} ({ep.value}) failed to load and is "
                f"left out: {type(exc).__name__}: {exc}",
                EdgeallocWarning,
                stacklevel=4,
            )
            continue
        if family.name in extra and extra[family.name][0] is not family:
            warnings.warn(
                f"family {family.name!r} from entry point {ep.name} is already registered; "
                "the first one is kept",
                EdgeallocWarning,
                stacklevel=4,
            )
            continue
        extra.setdefault(family.name, (family, f"entry point {ep.name}"))
    for name in sorted(extra):
        add(*extra[name])
    return found


def families() -> dict[str, Family]:
    """Every known family, name -> descriptor, in display order (a fresh dict)."""
    return dict(_discover())


def get_family(name: Any) -> Family:
    """The descriptor of ``name``; an unknown name lists the known ones.

    Raises
    ------
    ValidationError
        Unknown family (field ``family``).
    """
    known = _discover()
    if not isinstance(name, str) or name not in known:
        raise ValidationError("family", f"unknown family {name!r} (known: {', '.join(known)})")
    return known[name]


def family_of(problem: Any) -> Family:
    """The descriptor of a problem object (by its ``FAMILY``)."""
    return get_family(getattr(problem, "FAMILY", None))


def register_family(family: Family, *, replace: bool = False) -> Family:
    """Register ``family`` in this process (e.g. in tests or a notebook); returns it.

    Raises
    ------
    ValidationError
        When a family of that name exists and ``replace`` is false, or when
        ``family`` is not a :class:`Family`.
    """
    if not isinstance(family, Family):
        raise ValidationError(
            "family", f"must be an edgealloc Family (got {type(family).__name__})"
        )
    if family.name in BUILTIN_FAMILIES:
        raise ValidationError("family", f"{family.name!r} is a built-in family")
    if not replace and family.name in _discover() and _discover()[family.name] is not family:
        raise ValidationError(
            "family", f"{family.name!r} is already registered (pass replace=True)"
        )
    _REGISTERED[family.name] = family
    refresh_families()
    return family


def unregister_family(name: str) -> None:
    """Forget a family registered with :func:`register_family` (no-op when unknown)."""
    if _REGISTERED.pop(name, None) is not None:
        refresh_families()


def refresh_families() -> None:
    """Clear the cached discovery (families and presets are found again on next use)."""
    _discover.cache_clear()
    _preset_sources.cache_clear()


# ---------------------------------------------------------------------------
# Presets
# ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _preset_sources() -> dict[str, Any]:
    root = resources.files("edgealloc").joinpath("presets")
    out: dict[str, Any] = {
        p.name[: -len(".yaml")]: p for p in root.iterdir() if p.name.endswith(".yaml")
    }
    for family in _discover().values():
        for name, source in family.presets.items():
            if name in out:
                warnings.warn(
                    f"preset {name!r} of family {family.name!r} shadows another and is left out",
                    EdgeallocWarning,
                    stacklevel=3,
                )
                continue
            out[name] = source
    return dict(sorted(out.items()))


def preset_text(name: str) -> str:
    """The YAML text of a preset (with its comments).

    Raises
    ------
    ValidationError
        Unknown preset (the message lists the known ones).
    """
    sources = _preset_sources()
    if name not in sources:
        raise ValidationError("preset", f"unknown preset {name!r} (known: {', '.join(sources)})")
    return sources[name].read_text()


def _loader(name: str) -> Callable[[], dict[str, Any]]:
    return lambda: yaml.safe_load(preset_text(name))


def presets() -> Mapping[str, Callable[[], dict[str, Any]]]:
    """Preset name -> callable returning a fresh scenario mapping, sorted by name."""
    return {name: _loader(name) for name in _preset_sources()}


def preset_family(name: str) -> str | None:
    """The family a preset compiles to (its ``scenario`` field), ``None`` if it names none."""
    data = presets()[name]() if name in _preset_sources() else None
    family = data.get("scenario") if isinstance(data, Mapping) else None
    return family if isinstance(family, str) else None
