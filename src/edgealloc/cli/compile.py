"""``edgealloc compile``: a physical scenario compiled into its canonical problem."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ValidationError
from ..result import to_jsonable
from ._common import (
    ForceOption,
    SetOption,
    check_new,
    load_source,
    out_option,
    parse_sets,
    write_new,
)


def compile_(
    scenario: Annotated[
        str,
        typer.Argument(
            help="Scenario file (JSON/YAML), preset name, or - to read one from standard input."
        ),
    ],
    sets: SetOption = None,
    out: Annotated[Path | None, out_option("Write the canonical problem to this file.")] = None,
    force: ForceOption = False,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="json or yaml (default: from the --out suffix, else json).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Compile a physical scenario into its canonical problem and print it.

    The fields are documented in docs/problem-files.md. Examples: edgealloc
    compile mel-sync --set devices=20 > problem.json; edgealloc compile
    xr-d2d --format yaml -o xr.yaml.
    """
    import yaml

    overrides = parse_sets(sets)
    if fmt is None:
        suffix = out.suffix.lower() if out is not None else ""
        fmt = "yaml" if suffix in (".yaml", ".yml") else "json"
    fmt = fmt.lower()
    if fmt not in ("json", "yaml"):
        raise ValidationError("--format", f"must be json or yaml (got {fmt!r})")
    if out is not None:
        check_new(out, force)
    problem = load_source(scenario, overrides)
    document = to_jsonable(problem.to_dict())
    if fmt == "json":
        text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    else:
        text = yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=100)
    if out is not None:
        write_new(out, text, force)
    else:
        sys.stdout.write(text)
