"""The ``edgealloc`` command line: one module per command, shared helpers in :mod:`._common`.

Commands: ``solve``, ``compile``, ``presets``, ``families``, ``demo``,
``reproduce``, ``train``, ``profile``, ``flower``. Every command that writes takes ``--out/-o``
(also spelled ``--output``) and refuses to replace a file without
``--force``.

Exit codes
----------
0
    Success.
1
    A solver failed (:class:`~edgealloc.SolverError`, or a scheme whose status
    is ``failed``; the result is still printed), or an internal error (one
    line; ``edgealloc --debug ...`` shows the traceback).
2
    Bad input: a malformed, missing or unknown file, preset, scheme, field or
    ``--set``, or an output that would overwrite a file without ``--force``.
    One line on stderr, ``error: <field>: <problem>``.
3
    Infeasible: the input admits no allocation. One line on stderr saying why
    and what would make it feasible (e.g. the smallest deadline).

Everything meant for programs (``--json``) goes to stdout and nothing else
does; notes and errors go to stderr. Output carries no terminal codes when
stdout is not a terminal. ``docs/problem-files.md`` documents the files and
result fields.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from .._version import __version__
from . import compile as _compile
from . import demo as _demo
from . import families as _families
from . import flower as _flower
from . import presets as _presets
from . import profile as _profile
from . import reproduce as _reproduce
from . import solve as _solve
from . import train as _train
from ._common import State, flag, guarded

__all__ = ["app", "main"]

app = typer.Typer(
    name="edgealloc",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"edgealloc {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the version and exit.",
            metavar="",
        ),
    ] = False,
    debug: Annotated[bool, flag("--debug", help="Show the traceback of internal errors.")] = False,
) -> None:
    """Exact, fast task allocation for learning across heterogeneous edge devices.

    Exit codes: 0 ok, 1 solver failure or internal error, 2 bad input,
    3 infeasible problem. Problem files: docs/problem-files.md.
    """
    State.debug = debug


app.command("solve")(guarded(_solve.solve))
app.command("compile")(guarded(_compile.compile_))
app.command("presets")(guarded(_presets.presets))
app.command("families")(guarded(_families.families))
app.command("demo")(guarded(_demo.demo))
app.command("reproduce")(guarded(_reproduce.reproduce))
# ``train`` imports torch only when it runs; it guards itself (its options are validated first).
app.command("train")(_train.train_command)
app.command("flower")(_flower.flower_command)  # imports flwr only when it runs
app.command("profile")(_profile.profile_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``edgealloc`` console script."""
    app(args=list(argv) if argv is not None else None, prog_name="edgealloc")
