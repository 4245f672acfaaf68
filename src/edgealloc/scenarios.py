"""Physical scenarios: presets, ``--set`` overrides and compilation to canonical problems.

A scenario is a YAML/JSON document with a top-level ``scenario: <family>``
key (a canonical problem has ``family:`` instead). Presets are scenarios
shipped with the package (``src/edgealloc/presets/*.yaml``) that reproduce
the papers' parameter tables; each documents the readings it takes where a
table is ambiguous. A preset name is accepted wherever a scenario file is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import yaml

from .errors import ValidationError

__all__ = ["ALIASES", "PRESETS", "apply_overrides", "compile_scenario", "preset_text"]

#: Short names accepted by ``--set`` (``--set devices=20`` sets ``devices.count``).
ALIASES: dict[str, str] = {
    "devices": "devices.count",
    "K": "devices.count",
    "T": "deadline",
    "d": "total_samples",
    "c": "staleness",
    "E": "energy.budget_j.mean",
    "energy_budget": "energy.budget_j.mean",
    "radius": "devices.placement.radius_m",
    "bandwidth": "link.bandwidth_hz",
    # offloading scenarios (xr-server, xr-d2d)
    "users": "devices.count",
    "N": "devices.count",
    "eta_comp": "heterogeneity.eta_comp",
    "eta_comm": "heterogeneity.eta_comm",
    "s": "heterogeneity.s",
    "s_comp": "heterogeneity.s_comp",
    "s_comm": "heterogeneity.s_comm",
    "l_min": "points.min",
    "l_max": "points.max",
    "a_max": "compute.a_max_mac_s",
    "r_max": "uplink.r_max",
    "rho": "d2d.clustering",
    "features": "workload.features",
}


def _preset_files() -> dict[str, Any]:
    root = resources.files("edgealloc").joinpath("presets")
    return {p.name[: -len(".yaml")]: p for p in root.iterdir() if p.name.endswith(".yaml")}


def preset_text(name: str) -> str:
    """The YAML text of a preset (with its comments)."""
    files = _preset_files()
    if name not in files:
        raise ValidationError(
            "preset", f"unknown preset {name!r} (known: {', '.join(sorted(files))})"
        )
    return files[name].read_text()


def _loader(name: str) -> Callable[[], dict[str, Any]]:
    return lambda: yaml.safe_load(preset_text(name))


#: preset name -> callable returning a fresh scenario mapping.
PRESETS: dict[str, Callable[[], dict[str, Any]]] = {name: _loader(name) for name in _preset_files()}


def _parse_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return a copy of ``data`` with ``{dotted.key: value}`` overrides applied.

    String values are parsed as YAML (``"30"`` -> 30, ``"null"`` -> None,
    ``"[1, 2]"`` -> list). Unknown top-level keys are left for validation to
    reject, so a typo is reported by name.
    """
    out = copy.deepcopy(dict(data))
    for raw_key, raw_value in (overrides or {}).items():
        key = ALIASES.get(raw_key, raw_key)
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
    data = apply_overrides(data, overrides)
    family = data.get("scenario")
    if family == "mel":
        from .mel.scenario import compile_mel

        return compile_mel(data)
    if family in ("offload-server", "offload-d2d"):
        from .offload.scenario import compile_offload

        return compile_offload(data)
    raise ValidationError(
        "scenario",
        f"unknown scenario family {family!r} (known: mel, offload-server, offload-d2d)",
    )
