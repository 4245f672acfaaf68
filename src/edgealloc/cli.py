"""The ``edgealloc`` command line: solve, compile, presets, demo, reproduce, train.

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
stdout is not a terminal.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import math
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from . import __version__
from .cli_train import train_command
from .errors import InfeasibleError, SolverError, ValidationError
from .result import Result, Status, to_jsonable

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["app", "main"]

P = ParamSpec("P")
R = TypeVar("R")

#: Devices shown at each end of the per-device table when there are many.
EDGE_ROWS = 10

app = typer.Typer(
    name="edgealloc",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class _State:
    debug: bool = False


# ---------------------------------------------------------------------------
# Plumbing: consoles, one-line errors, safe writes
# ---------------------------------------------------------------------------
def _console() -> Console:
    """A rich console on the current stdout; plain text (no ANSI codes) when not a terminal."""
    from rich.console import Console

    tty = bool(getattr(sys.stdout, "isatty", lambda: False)())
    width = None if tty or os.environ.get("COLUMNS") else 120
    return Console(file=sys.stdout, width=width, highlight=False, soft_wrap=False)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(code: int, line: str) -> NoReturn:
    sys.stderr.write(_one_line(line) + "\n")
    sys.stderr.flush()
    raise typer.Exit(code)


def _infeasible_line(message: str, min_deadline: float | None) -> str:
    line = _one_line(message)
    if "infeasible" not in line.lower():
        line = f"infeasible: {line}"
    if min_deadline is not None and math.isfinite(min_deadline) and min_deadline > 0:
        # Round up to 4 significant digits so the suggested value is itself feasible.
        scale = 10 ** (3 - math.floor(math.log10(min_deadline)))
        line += f" (try --set deadline={math.ceil(min_deadline * scale) / scale:g})"
    return line


def _guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn edgealloc's errors into one line on stderr and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.BadParameter):
            raise
        except ValidationError as exc:
            _fail(2, f"error: {exc}")
        except InfeasibleError as exc:
            _fail(3, _infeasible_line(str(exc), exc.min_deadline))
        except SolverError as exc:
            _fail(1, f"error: solver failed: {exc}")
        except KeyboardInterrupt:
            _fail(130, "interrupted")
        except OSError as exc:
            if _State.debug:
                traceback.print_exc()
            where = exc.filename if exc.filename is not None else "i/o"
            _fail(2, f"error: {where}: {exc.strerror or exc}")
        except Exception as exc:
            if _State.debug:
                traceback.print_exc()
            _fail(
                1,
                f"internal error: {type(exc).__name__}: {exc} "
                "(rerun as `edgealloc --debug ...` to see the traceback)",
            )

    return wrapper


def _parse_sets(items: Sequence[str] | None) -> dict[str, Any]:
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


def _check_source(source: str) -> None:
    from .scenarios import PRESETS

    if source in PRESETS or Path(source).exists():
        return
    looks_like_path = os.sep in source or "/" in source or Path(source).suffix != ""
    known = ", ".join(sorted(PRESETS))
    raise ValidationError(
        source,
        "no such file" if looks_like_path else f"no such file or preset (presets: {known})",
    )


def _check_new(path: Path, force: bool) -> None:
    """Refuse early to overwrite a file (or to write into a missing directory)."""
    if path.is_dir():
        raise ValidationError(str(path), "is a directory; give a file name")
    if path.exists() and not force:
        raise ValidationError(str(path), "already exists (pass --force to overwrite)")
    if not path.parent.exists():
        raise ValidationError(str(path), f"directory {path.parent} does not exist")


def _write_new(path: Path, text: str, force: bool) -> None:
    """Write ``text`` to ``path``; without ``force`` never replace an existing file."""
    try:
        with path.open("w" if force else "x") as fh:
            fh.write(text)
    except FileExistsError:
        raise ValidationError(str(path), "already exists (pass --force to overwrite)") from None
    sys.stderr.write(f"wrote {path}\n")


def _dumps(payload: Any) -> str:
    return json.dumps(to_jsonable(payload), indent=2, allow_nan=False)


def _fmt(value: Any, spec: str = ".6g") -> str:
    from .demo import fmt

    return fmt(value, spec)


# ---------------------------------------------------------------------------
# Human-readable output of a result
# ---------------------------------------------------------------------------
def _status_text(status: Status) -> Any:
    from rich.text import Text

    from .demo import STATUS_STYLE

    return Text(status.value, style=STATUS_STYLE.get(status, ""))


def _describe(problem: Any) -> str:
    name = problem.name or "problem"
    if problem.FAMILY != "mel":
        n = problem.n_users
        links = f", {problem.n_links} D2D links" if hasattr(problem, "n_links") else ""
        return (
            f"{name}: {problem.FAMILY}, N = {n} users, {int(problem.points.sum())} points{links}, "
            f"no offloading {problem.no_offload_time:.4g} s"
        )
    k = problem.n_devices
    mode = (
        "synchronous" if problem.synchronous else f"asynchronous, staleness c = {problem.staleness}"
    )
    energy = ", energy budgets" if problem.energy is not None else ""
    return (
        f"{name}: {problem.FAMILY}, {mode}, K = {k} devices, d = {problem.total_samples} samples, "
        f"T = {problem.deadline:g} s{energy}"
    )


def _print_summary(console: Console, problem: Any, res: Result) -> None:
    from rich.panel import Panel
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("family", res.family)
    grid.add_row("scheme", res.scheme)
    grid.add_row("status", _status_text(res.status))
    grid.add_row("objective", _fmt(res.objective))
    grid.add_row("bound", _fmt(res.bound))
    if res.allocation is not None and res.family == "mel":
        grid.add_row("relaxed bound", _fmt(res.relaxed_bound))
        grid.add_row(
            "cycle time", f"{_fmt(res.cycle_time, '.6g')} s (deadline {problem.deadline:g} s)"
        )
    elif res.allocation is not None:
        grid.add_row("iteration time", f"{_fmt(res.iteration_time)} s")
        grid.add_row("no offloading", f"{_fmt(res.no_offload_time)} s")
        grid.add_row("speed-up", f"{_fmt(res.speedup, '.4g')}x")
    grid.add_row("solve time", f"{1e3 * res.solve_seconds:.3g} ms")
    grid.add_row("message", res.message)
    console.print(Panel(grid, title=_describe(problem), title_align="left", expand=False))


def _device_table(problem: Any, res: Result) -> Any:
    """Per-device rows; for many devices only the first and last ``EDGE_ROWS``."""
    import numpy as np
    from rich.table import Table

    k = problem.n_devices
    meta = problem.meta or {}
    classes = meta.get("classes") if isinstance(meta.get("classes"), list) else None
    cpu = meta.get("cpu_hz") if isinstance(meta.get("cpu_hz"), list) else None
    classes = classes if classes is not None and len(classes) == k else None
    cpu = cpu if cpu is not None and len(cpu) == k else None
    energies = res.energies
    budget = problem.energy.budget if problem.energy is not None else None

    table = Table(header_style="bold", title_justify="left")
    table.add_column("device", justify="right")
    if classes is not None:
        table.add_column("class")
    if cpu is not None:
        table.add_column("cpu (GHz)", justify="right")
    for head in ("tau", "samples", "time (s)"):
        table.add_column(head, justify="right")
    if energies is not None:
        table.add_column("energy (J)", justify="right")
        table.add_column("budget (J)", justify="right")

    integral = np.issubdtype(np.asarray(res.tau).dtype, np.integer)
    num = ".6g" if integral else ".5g"
    shown = (
        list(range(k))
        if k <= 2 * EDGE_ROWS + 5
        else [*range(EDGE_ROWS), -1, *range(k - EDGE_ROWS, k)]
    )
    if len(shown) < k:
        hidden = k - 2 * EDGE_ROWS
        table.caption = (
            f"{hidden} devices hidden ({EDGE_ROWS}..{k - EDGE_ROWS - 1}); --json lists all"
        )
    for i in shown:
        if i < 0:
            table.add_row(*["⋮"] * len(table.columns))
            continue
        row = [str(i)]
        if classes is not None:
            row.append(str(classes[i]))
        if cpu is not None:
            row.append(f"{float(cpu[i]) / 1e9:.3g}")
        row += [_fmt(res.tau[i], num), _fmt(res.samples[i], num), f"{float(res.times[i]):.4g}"]
        if energies is not None:
            row += [f"{float(energies[i]):.4g}", f"{float(budget[i]):.4g}"]
        table.add_row(*row)
    return table


def _rows_table(rows: Sequence[dict[str, Any]], *, title: str | None = None) -> Any:
    """A rich table of dict rows: text left-aligned and never cut, numbers right-aligned."""
    from rich.table import Table

    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = Table(header_style="bold", title=title, title_justify="left")
    for col in columns:
        text = all(isinstance(row.get(col), str) for row in rows if row.get(col) is not None)
        table.add_column(str(col), justify="left" if text else "right", overflow="fold")
    for row in rows:
        cells = (row.get(col) for col in columns)
        table.add_row(*(c if isinstance(c, str) else _fmt(c, ".4g") for c in cells))
    return table


def _user_table(problem: Any, res: Result) -> Any:
    """Per-user rows of an offloading result (first and last ``EDGE_ROWS`` when many)."""
    import numpy as np
    from rich.table import Table

    n = problem.n_users
    table = Table(header_style="bold", title_justify="left")
    d2d = res.family == "offload-d2d"
    heads = ["user", "points", "MAC/s", "sent", "received" if d2d else "server", "time (s)"]
    for head in heads:
        table.add_column(head, justify="right")
    o = np.asarray(res.offloaded_points, dtype=float)
    sent = o.sum(axis=1) if d2d else o
    recv = o.sum(axis=0) if d2d else None
    times = res.user_time if d2d else np.maximum(res.local_time, res.server_time)
    shown = (
        list(range(n))
        if n <= 2 * EDGE_ROWS + 5
        else [*range(EDGE_ROWS), -1, *range(n - EDGE_ROWS, n)]
    )
    if len(shown) < n:
        table.caption = f"{n - 2 * EDGE_ROWS} users hidden; --json lists all"
    for i in shown:
        if i < 0:
            table.add_row(*["⋮"] * len(heads))
            continue
        other = _fmt(recv[i], ".6g") if d2d else f"{float(res.server_time[i]):.4g}"
        table.add_row(
            str(i),
            str(int(problem.points[i])),
            f"{float(problem.compute_rate[i]):.4g}",
            _fmt(sent[i], ".6g"),
            other,
            f"{float(times[i]):.4g}",
        )
    return table


def _print_result(console: Console, problem: Any, res: Result) -> None:
    _print_summary(console, problem, res)
    if res.allocation is not None:
        table = _device_table(problem, res) if res.family == "mel" else _user_table(problem, res)
        console.print(table)


def _print_comparison(console: Console, problem: Any, results: Sequence[Result]) -> None:
    from rich.text import Text

    from .demo import comparison_table

    console.print(Text(_describe(problem), style="bold"))
    console.print(comparison_table(results, deadline=getattr(problem, "deadline", None)))
    for res in results:
        console.print(Text.assemble((f"{res.scheme}: ", "bold"), res.message))


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------
def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"edgealloc {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of internal errors.")
    ] = False,
) -> None:
    """Exact, fast task allocation for learning across heterogeneous edge devices.

    Exit codes: 0 ok, 1 solver failure or internal error, 2 bad input,
    3 infeasible problem.
    """
    _State.debug = debug


SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="Override a field before compiling, e.g. --set devices=50 --set T=20 "
        "(dotted keys reach into scenarios; values are YAML).",
    ),
]
ForceOption = Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")]


@app.command()
@_guarded
def solve(
    source: Annotated[
        str,
        typer.Argument(help="Canonical problem file (JSON/YAML), scenario file or preset name."),
    ],
    scheme: Annotated[
        str,
        typer.Option(
            "--scheme",
            help="Scheme (mel: optimal, relaxed, paper, equal; offload-server: optimal, relaxed, "
            "paper, none; offload-d2d: optimal, relaxed, none), or 'all' to compare.",
        ),
    ] = "optimal",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON (PROBLEMS.md fields) only.")
    ] = False,
    sets: SetOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the JSON result to this file.")
    ] = None,
    force: ForceOption = False,
) -> None:
    """Solve a problem and print the allocation.

    With --scheme all every scheme runs and a comparison is printed (a JSON
    list with --json); the exit code then follows the exact scheme (3 when
    the problem is infeasible) and is 1 when any scheme failed.
    """
    from .api import load_problem
    from .demo import solve_all

    overrides = _parse_sets(sets)
    if output is not None:
        _check_new(output, force)
    _check_source(source)
    problem = load_problem(source, overrides=overrides)
    results = solve_all(problem, None if scheme == "all" else [scheme])
    payload: Any = [r.to_dict() for r in results] if scheme == "all" else results[0].to_dict()
    text = _dumps(payload)
    if as_json:
        sys.stdout.write(text + "\n")
    if output is not None:
        _write_new(output, text + "\n", force)

    head = results[0]  # the exact scheme under --scheme all
    if head.status is Status.INFEASIBLE:
        if not as_json and scheme == "all":
            _print_comparison(_console(), problem, results)
        _fail(3, _infeasible_line(head.message, head.info.get("min_deadline")))
    if not as_json:
        console = _console()
        if scheme == "all":
            _print_comparison(console, problem, results)
        else:
            _print_result(console, problem, head)
    failed = [r for r in results if r.status is Status.FAILED]
    if failed:
        _fail(1, "error: " + "; ".join(f"scheme {r.scheme} failed: {r.message}" for r in failed))


@app.command(name="compile")
@_guarded
def compile_(
    scenario: Annotated[str, typer.Argument(help="Scenario file (JSON/YAML) or preset name.")],
    sets: SetOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the canonical problem to this file."),
    ] = None,
    force: ForceOption = False,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="json or yaml (default: from the --output suffix, else json).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Compile a physical scenario into its canonical problem (PROBLEMS.md) and print it."""
    import yaml

    from .api import load_problem

    overrides = _parse_sets(sets)
    if fmt is None:
        suffix = output.suffix.lower() if output is not None else ""
        fmt = "yaml" if suffix in (".yaml", ".yml") else "json"
    fmt = fmt.lower()
    if fmt not in ("json", "yaml"):
        raise ValidationError("--format", f"must be json or yaml (got {fmt!r})")
    if output is not None:
        _check_new(output, force)
    _check_source(scenario)
    problem = load_problem(scenario, overrides=overrides)
    document = to_jsonable(problem.to_dict())
    if fmt == "json":
        text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    else:
        text = yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=100)
    if output is not None:
        _write_new(output, text, force)
    else:
        sys.stdout.write(text)


@app.command()
@_guarded
def presets(
    name: Annotated[
        str | None, typer.Argument(help="Print this preset's YAML (with its comments).")
    ] = None,
) -> None:
    """List the presets, or print one as YAML to copy into a scenario file."""
    from rich.table import Table

    from .scenarios import PRESETS, preset_text

    if name is not None:
        sys.stdout.write(preset_text(name))
        return
    table = Table(header_style="bold")
    table.add_column("preset")
    table.add_column("description")
    for key in sorted(PRESETS):
        table.add_row(key, str(PRESETS[key]().get("description", "")))
    console = _console()
    console.print(table)
    console.print("Show one with: edgealloc presets NAME > my-scenario.yaml")


@app.command()
@_guarded
def demo(
    out: Annotated[
        Path, typer.Option("--out", help="Directory to write the figures and numbers to.")
    ] = Path("edgealloc-demo"),
    force: ForceOption = False,
) -> None:
    """Solve mel-sync, mel-async, xr-server and xr-d2d with every scheme; tabulate and plot.

    Writes demo.png (mel), offload.png (XR offloading), demo.json and each
    compiled <preset>.problem.json.
    """
    from .demo import run_demo

    console = _console()
    doc = run_demo(out, console=console, force=force)
    files = doc["files"]
    for key, path in files.items():
        if key == "figure" or key.startswith("figure:"):
            console.print(f"figure:  {path}")
    console.print(f"numbers: {files['numbers']}")
    problems = [v for k, v in files.items() if k.startswith("problem:")]
    console.print("problems: " + ", ".join(problems))
    if problems:
        console.print(f"next: edgealloc solve {problems[-1]} --scheme all")


def _experiments() -> Any:
    try:
        mod = importlib.import_module("edgealloc.experiments")
        mod.EXPERIMENTS  # noqa: B018 - the registry must exist
        mod.run_experiment  # noqa: B018
    except (ImportError, AttributeError) as exc:
        _fail(1, f"error: reproduce: the experiments package is not available ({exc})")
    return mod


@app.command()
@_guarded
def reproduce(
    name: Annotated[str | None, typer.Argument(help="Experiment to run (see --list).")] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output directory (default ./edgealloc-results/NAME)."),
    ] = None,
    seeds: Annotated[int | None, typer.Option("--seeds", help="Number of random seeds.")] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Parallel worker processes.")
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="A small, fast version of the experiment.")
    ] = False,
    force: ForceOption = False,
    backend: Annotated[
        str,
        typer.Option(
            "--backend", help="Where tasks run: 'local' (processes) or 'ray' (a Ray cluster)."
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="Ray cluster to join (default: $RAY_ADDRESS, else a local instance).",
        ),
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the experiments and exit.")] = False,
) -> None:
    """Reproduce a paper's figure or table (a registered experiment).

    Every finished instance is kept in NAME-store.jsonl in the output folder:
    running the same command again after an interruption resumes where it stopped.
    """
    mod = _experiments()
    registry = mod.EXPERIMENTS
    if list_ or name is None:
        if name is None and not list_:
            known = ", ".join(sorted(registry))
            raise ValidationError("NAME", f"missing; choose one of: {known} (or --list)")
        rows = [
            {
                "experiment": key,
                "title": str(getattr(registry[key], "title", "")),
                "description": str(getattr(registry[key], "description", "")),
            }
            for key in sorted(registry)
        ]
        _console().print(_rows_table(rows))
        return
    if name not in registry:
        raise ValidationError(
            "experiment", f"unknown experiment {name!r} (known: {', '.join(sorted(registry))})"
        )
    for flag, value in (("--seeds", seeds), ("--workers", workers)):
        if value is not None and value < 1:
            raise ValidationError(flag, f"must be >= 1 (got {value})")
    if backend not in ("local", "ray"):
        raise ValidationError("--backend", f"must be 'local' or 'ray' (got {backend!r})")
    if ray_address is not None and backend != "ray":
        raise ValidationError("--ray-address", "only applies with --backend ray")
    out = out if out is not None else Path("edgealloc-results") / name
    if out.exists() and not out.is_dir():
        raise ValidationError(str(out), "exists and is not a directory")
    # A folder holding only this experiment's own outputs is resumed from its store;
    # anything else in it is the user's and needs --force.
    foreign = [p.name for p in out.iterdir() if not p.name.startswith(name)] if out.is_dir() else []
    if foreign and not force:
        raise ValidationError(
            str(out),
            f"holds files that are not {name}'s ({', '.join(sorted(foreign)[:3])}); "
            "choose another --out or pass --force",
        )
    resuming = out.is_dir() and (out / f"{name}-store.jsonl").exists()
    out.mkdir(parents=True, exist_ok=True)
    extra: dict[str, Any] = {}
    if backend != "local":
        extra["backend"] = backend
        if ray_address is not None:
            extra["ray_address"] = ray_address
    if resuming:
        print(f"resuming from {out / f'{name}-store.jsonl'}", file=sys.stderr)
    result = mod.run_experiment(
        name, out, seeds=seeds, workers=workers, quick=quick, progress=sys.stderr.isatty(), **extra
    )
    console = _console()
    rows = list(result.summary or [])
    if rows:
        console.print(_rows_table(rows, title=str(getattr(registry[name], "title", name))))
    for note in result.notes or []:
        console.print(f"note: {note}")
    for path in result.files or []:
        console.print(f"wrote {path}")


# ``edgealloc train``: lives in its own module (it imports torch only when it runs).
app.command("train")(train_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``edgealloc`` console script."""
    app(args=list(argv) if argv is not None else None, prog_name="edgealloc")
