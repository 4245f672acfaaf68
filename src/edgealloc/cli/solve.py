"""``edgealloc solve``: solve a problem with one scheme, or compare every scheme."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .. import registry
from .._style import STATUS_STYLE, edge_indices, fmt
from ..result import Result, Status
from ._common import (
    ForceOption,
    SetOption,
    check_new,
    console,
    dumps,
    fail,
    flag,
    infeasible_line,
    load_source,
    out_option,
    parse_sets,
    write_new,
)

if TYPE_CHECKING:
    from rich.console import Console


def _print_summary(console: Console, problem: Any, res: Result) -> None:
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    presenter = registry.family_of(problem).presenter
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("family", res.family)
    grid.add_row("scheme", res.scheme)
    grid.add_row("status", Text(res.status.value, style=STATUS_STYLE.get(res.status, "")))
    grid.add_row("objective", fmt(res.objective))
    grid.add_row("bound", fmt(res.bound))
    for label, text in presenter.summary(problem, res):
        grid.add_row(label, text)
    grid.add_row("solve time", f"{1e3 * res.solve_seconds:.3g} ms")
    grid.add_row("message", res.message)
    title = presenter.describe(problem)
    console.print(Panel(grid, title=title, title_align="left", expand=False))


def print_result(console: Console, problem: Any, res: Result) -> None:
    """A result's summary panel, then its per-device table (the family's presenter)."""
    _print_summary(console, problem, res)
    if res.allocation is not None:
        presenter = registry.family_of(problem).presenter
        table = presenter.device_table(problem, res, edge_indices(problem.n_devices))
        if table is not None:
            console.print(table)


def print_comparison(console: Console, problem: Any, results: Sequence[Result]) -> None:
    """The ``--scheme all`` table and each scheme's message."""
    from rich.text import Text

    from ..compare import comparison_table

    console.print(Text(registry.family_of(problem).presenter.describe(problem), style="bold"))
    console.print(comparison_table(results, problem=problem))
    for res in results:
        console.print(Text.assemble((f"{res.scheme}: ", "bold"), res.message))


def _scheme_help() -> str:
    return (
        "Scheme of the problem's family, or 'all' to compare (default: the family's exact "
        "scheme, optimal); edgealloc families lists every family's schemes."
    )


def solve(
    source: Annotated[
        str,
        typer.Argument(
            help="Canonical problem file (JSON/YAML), scenario file, preset name, or - to "
            "read one from standard input."
        ),
    ],
    scheme: Annotated[
        str | None, typer.Option("--scheme", help=_scheme_help(), show_default=False)
    ] = None,
    as_json: Annotated[
        bool, flag("--json", help="Print the result as JSON (docs/problem-files.md fields) only.")
    ] = False,
    sets: SetOption = None,
    out: Annotated[Path | None, out_option("Also write the JSON result to this file.")] = None,
    force: ForceOption = False,
) -> None:
    """Solve a problem and print the allocation.

    With --scheme all every scheme runs and a comparison is printed (a JSON
    list with --json); the exit code then follows the exact scheme (3 when
    the problem is infeasible) and is 1 when any scheme failed.

    Examples: edgealloc solve mel-sync; edgealloc solve xr-server --scheme all;
    edgealloc compile mel-async | edgealloc solve - --json.
    """
    from ..compare import solve_all

    overrides = parse_sets(sets)
    if out is not None:
        check_new(out, force)
    problem = load_source(source, overrides)
    names = None if scheme == "all" else [scheme or registry.family_of(problem).exact]
    results = solve_all(problem, names)
    payload: Any = [r.to_dict() for r in results] if scheme == "all" else results[0].to_dict()
    text = dumps(payload)
    if as_json:
        sys.stdout.write(text + "\n")
    if out is not None:
        write_new(out, text + "\n", force)

    head = results[0]  # the exact scheme under --scheme all
    if head.status is Status.INFEASIBLE:
        if not as_json and scheme == "all":
            print_comparison(console(), problem, results)
        fail(3, infeasible_line(head.message, head.info.get("min_deadline")))
    if not as_json:
        con = console()
        if scheme == "all":
            print_comparison(con, problem, results)
        else:
            print_result(con, problem, head)
    failed = [r for r in results if r.status is Status.FAILED]
    if failed:
        fail(1, "error: " + "; ".join(f"scheme {r.scheme} failed: {r.message}" for r in failed))
