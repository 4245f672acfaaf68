"""``edgealloc families``: the problem families, their schemes and ``--set`` short keys."""

from __future__ import annotations

from .. import registry
from ._common import console


def families() -> None:
    """List the problem families: what each plans, its schemes (exact first) and short keys.

    Example: edgealloc families. Third-party packages add families through the
    edgealloc.families entry point (docs/architecture.md).
    """
    from rich.table import Table

    table = Table(header_style="bold")
    for head in ("family", "plans", "sense", "schemes", "--set short keys"):
        table.add_column(head, overflow="fold")
    for name, fam in registry.families().items():
        table.add_row(
            name,
            fam.title,
            "maximise" if fam.sense == "max" else "minimise",
            ", ".join(fam.schemes),
            ", ".join(fam.aliases) or "-",
        )
    con = console()
    con.print(table)
    con.print("Problem files and result fields: docs/problem-files.md")
