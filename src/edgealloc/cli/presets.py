"""``edgealloc presets``: the embedded scenarios, listed or printed."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .. import registry
from ._common import console


def presets(
    name: Annotated[
        str | None, typer.Argument(help="Print this preset's YAML (with its comments).")
    ] = None,
) -> None:
    """List the presets, or print one as YAML to copy into a scenario file.

    Examples: edgealloc presets; edgealloc presets mel-sync > my-scenario.yaml.
    """
    from rich.table import Table

    if name is not None:
        sys.stdout.write(registry.preset_text(name))
        return
    table = Table(header_style="bold")
    table.add_column("preset")
    table.add_column("description")
    for key, load in registry.presets().items():
        table.add_row(key, str(load().get("description", "")))
    con = console()
    con.print(table)
    con.print("Show one with: edgealloc presets NAME > my-scenario.yaml")
