"""What every ``edgealloc`` command shares: consoles, one-line errors, safe writes, options.

No command module imports another; each imports from here. See
:mod:`edgealloc.cli` for the exit codes.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from .. import registry
from .._style import fmt
from ..errors import InfeasibleError, SolverError, ValidationError
from ..result import to_jsonable

if TYPE_CHECKING:
    from rich.console import Console

P = ParamSpec("P")
R = TypeVar("R")


class State:
    """Process-wide settings of the command line (``--debug``)."""

    debug: bool = False


# ---------------------------------------------------------------------------
# Options shared by several commands
# ---------------------------------------------------------------------------
def flag(*names: str, help: str) -> Any:
    """A boolean flag, shown in ``--help`` without a ``<bool>`` value."""
    return typer.Option(*names, help=help, metavar="")


SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="Override a field before compiling, e.g. --set devices=50 --set T=20 "
        "(dotted keys reach into scenarios; values are YAML; short keys: edgealloc presets).",
    ),
]
ForceOption = Annotated[bool, flag("--force", help="Overwrite existing output files.")]


def out_option(help: str, **kwargs: Any) -> Any:
    """``--out/-o`` (also spelled ``--output``) with the command's own help."""
    return typer.Option("--out", "-o", "--output", help=help, **kwargs)


# ---------------------------------------------------------------------------
# Consoles and one-line errors
# ---------------------------------------------------------------------------
#: Width of the console when stdout is not a terminal: wide enough that no table
#: wraps its cells (tables and panels take their natural width, not this one).
PIPE_WIDTH = 10_000


def console() -> Console:
    """A rich console on the current stdout; plain text (no ANSI codes) when not a terminal.

    Through a pipe or into a file, tables keep their shape: the console is
    :data:`PIPE_WIDTH` wide (``$COLUMNS`` wins when set), so cells are never
    folded into unreadable columns.
    """
    from rich.console import Console

    tty = bool(getattr(sys.stdout, "isatty", lambda: False)())
    width = None if tty or os.environ.get("COLUMNS") else PIPE_WIDTH
    # markup=False: text from users and solvers ("budget[1]") is printed as it is.
    return Console(file=sys.stdout, width=width, highlight=False, soft_wrap=False, markup=False)


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines too) made one space."""
    return " ".join(str(text).split())


def fail(code: int, line: str) -> NoReturn:
    """Print one line on stderr and exit with ``code``."""
    sys.stderr.write(one_line(line) + "\n")
    sys.stderr.flush()
    raise typer.Exit(code)


def infeasible_line(message: str, min_deadline: float | None) -> str:
    """The one line of an infeasible input, with the smallest feasible deadline when known."""
    line = one_line(message)
    if "infeasible" not in line.lower():
        line = f"infeasible: {line}"
    if min_deadline is not None and math.isfinite(min_deadline) and min_deadline > 0:
        # Round up to 4 significant digits so the suggested value is itself feasible.
        scale = 10 ** (3 - math.floor(math.log10(min_deadline)))
        line += f" (try --set deadline={math.ceil(min_deadline * scale) / scale:g})"
    return line


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn edgealloc's errors into one line on stderr and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.BadParameter):
            raise
        except ValidationError as exc:
            fail(2, f"error: {exc}")
        except InfeasibleError as exc:
            fail(3, infeasible_line(str(exc), exc.min_deadline))
        except SolverError as exc:
            fail(1, f"error: solver failed: {exc}")
        except KeyboardInterrupt:
            fail(130, "interrupted")
        except OSError as exc:
            if State.debug:
                traceback.print_exc()
            where = exc.filename if exc.filename is not None else "i/o"
            fail(2, f"error: {where}: {exc.strerror or exc}")
        except Exception as exc:
            if State.debug:
                traceback.print_exc()
            fail(
                1,
                f"internal error: {type(exc).__name__}: {exc} "
                "(rerun as `edgealloc --debug ...` to see the traceback)",
            )

    return wrapper


# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------
def parse_sets(items: Sequence[str] | None) -> dict[str, Any]:
    """``["devices=10", "T=30"]`` -> ``{"devices": 10, "T": 30}`` (values parsed as YAML)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or any(c.isspace() for c in key):
            raise ValidationError("--set", f"expected KEY=VALUE (got {item!r})")
        try:
            value: Any = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            raise ValidationError(f"--set {key}", f"value {raw!r} is not valid YAML") from None
        if isinstance(value, str):
            # YAML 1.1 reads "1e9" as a string; a number is meant.
            with contextlib.suppress(ValueError):
                value = float(value)
        out[key] = value
    return out


def check_source(source: str) -> None:
    """Refuse early a source that is neither a file nor a preset (``-`` is standard input)."""
    known = registry.presets()
    if source == "-" or source in known or Path(source).exists():
        return
    looks_like_path = os.sep in source or "/" in source or Path(source).suffix != ""
    raise ValidationError(
        source,
        "no such file"
        if looks_like_path
        else f"no such file or preset (presets: {', '.join(known)})",
    )


def read_stdin_document() -> Any:
    """The JSON or YAML document on standard input (``solve -``, ``compile -``)."""
    from .._documents import parse_document

    stream = getattr(sys.stdin, "buffer", None)
    data = stream.read() if stream is not None else sys.stdin.read()
    return parse_document(data, where="-", label="JSON or YAML")  # JSON is YAML


def load_source(source: str, overrides: dict[str, Any]) -> Any:
    """The problem a command's SOURCE argument names (a file, a preset, or ``-``)."""
    from ..api import load_problem

    check_source(source)
    if source == "-":
        document = read_stdin_document()
        if not isinstance(document, dict):
            raise ValidationError("-", f"must be a mapping (got {type(document).__name__})")
        return load_problem(document, overrides=overrides)
    return load_problem(source, overrides=overrides)


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------
def check_new(path: Path, force: bool) -> None:
    """Refuse early to overwrite a file (or to write into a missing directory)."""
    if path.is_dir():
        raise ValidationError(str(path), "is a directory; give a file name")
    if path.exists() and not force:
        raise ValidationError(str(path), "already exists (pass --force to overwrite)")
    if not path.parent.exists():
        raise ValidationError(str(path), f"directory {path.parent} does not exist")


def write_new(path: Path, text: str, force: bool, *, quiet: bool = False) -> None:
    """Write ``text`` to ``path`` atomically; without ``force`` never replace an existing file."""
    from .._io import atomic_write_text

    atomic_write_text(path, text, overwrite=force)
    if not quiet:
        sys.stderr.write(f"wrote {path}\n")


def dumps(payload: Any) -> str:
    """``payload`` as indented JSON (NumPy values converted, no NaN)."""
    return json.dumps(to_jsonable(payload), indent=2, allow_nan=False)


def rows_table(rows: Sequence[dict[str, Any]], *, title: str | None = None) -> Any:
    """A rich table of dict rows: text left-aligned and never cut, numbers right-aligned."""
    from rich.table import Table

    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = Table(header_style="bold", title=title, title_justify="left")
    for col in columns:
        text = all(isinstance(row.get(col), str) for row in rows if row.get(col) is not None)
        table.add_column(str(col), justify="left" if text else "right", overflow="fold")
    for row in rows:
        cells = (row.get(col) for col in columns)
        table.add_row(*(c if isinstance(c, str) else fmt(c, ".4g") for c in cells))
    return table
