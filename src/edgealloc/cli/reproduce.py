"""``edgealloc reproduce``: a paper's figure or table, as a registered experiment."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ValidationError
from ._common import ForceOption, console, fail, flag, out_option, rows_table


def _experiments() -> Any:
    try:
        mod = importlib.import_module("edgealloc.experiments")
        mod.EXPERIMENTS  # noqa: B018 - the registry must exist
        mod.run_experiment  # noqa: B018
    except (ImportError, AttributeError) as exc:
        fail(1, f"error: reproduce: the experiments package is not available ({exc})")
    return mod


def _list_row(key: str, exp: Any) -> dict[str, str]:
    """One row of ``--list``: the name, title, typical durations (measured) and what it runs."""
    full = str(getattr(exp, "duration", "") or "-")
    quick = f"edgealloc reproduce {key} --quick"
    quick_time = str(getattr(exp, "quick_duration", "") or "")
    return {
        "experiment": key,
        "title": str(getattr(exp, "title", "")),
        "full run (2 cores)": full,
        "quick form": f"{quick} ({quick_time})" if quick_time else quick,
        "description": str(getattr(exp, "description", "")),
    }


def reproduce(
    name: Annotated[str | None, typer.Argument(help="Experiment to run (see --list).")] = None,
    out: Annotated[
        Path | None, out_option("Output directory (default ./edgealloc-results/NAME).")
    ] = None,
    seeds: Annotated[int | None, typer.Option("--seeds", help="Number of random seeds.")] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Parallel worker processes.")
    ] = None,
    quick: Annotated[bool, flag("--quick", help="A small, fast version of the experiment.")] = (
        False
    ),
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
    list_: Annotated[bool, flag("--list", help="List the experiments and exit.")] = False,
) -> None:
    """Reproduce a paper's figure or table (a registered experiment).

    Every finished instance is kept in NAME-store.jsonl in the output folder:
    running the same command again after an interruption resumes where it stopped.
    NAME-manifest.json records the run's settings and every file it wrote (with
    its SHA-256): without --force, a file the run did not write itself with these
    settings is never replaced, and other settings need --force. Progress goes to
    stderr (a bar on a terminal, else a line every few seconds).
    Examples: edgealloc reproduce --list; edgealloc reproduce mel-local-updates
    --quick -o results/fig1.
    """
    mod = _experiments()
    experiments = mod.EXPERIMENTS
    if list_ or name is None:
        if name is None and not list_:
            known = ", ".join(sorted(experiments))
            raise ValidationError("NAME", f"missing; choose one of: {known} (or --list)")
        rows = [_list_row(key, experiments[key]) for key in sorted(experiments)]
        console().print(rows_table(rows))
        return
    if name not in experiments:
        raise ValidationError(
            "experiment", f"unknown experiment {name!r} (known: {', '.join(sorted(experiments))})"
        )
    for option, value in (("--seeds", seeds), ("--workers", workers)):
        if value is not None and value < 1:
            raise ValidationError(option, f"must be >= 1 (got {value})")
    if backend not in ("local", "ray"):
        raise ValidationError("--backend", f"must be 'local' or 'ray' (got {backend!r})")
    if ray_address is not None and backend != "ray":
        raise ValidationError("--ray-address", "only applies with --backend ray")
    out = out if out is not None else Path("edgealloc-results") / name
    if out.exists() and not out.is_dir():
        raise ValidationError(str(out), "exists and is not a directory")
    # A folder holding only this experiment's own outputs is resumed from its store;
    # anything else in it is the user's and needs --force (run_experiment checks the
    # experiment's own files against its manifest).
    entries = [p.name for p in out.iterdir()] if out.is_dir() else []
    foreign = [e for e in entries if not (e.startswith(name) or e.startswith(f".{name}"))]
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
    # progress: a bar on a terminal, else a line on stderr at most every few seconds
    result = mod.run_experiment(
        name,
        out,
        seeds=seeds,
        workers=workers,
        quick=quick,
        progress=True,
        force=force,
        **extra,
    )
    con = console()
    rows = list(result.summary or [])
    if rows:
        con.print(rows_table(rows, title=str(getattr(experiments[name], "title", name))))
    for note in result.notes or []:
        con.print(f"note: {note}")
    for path in result.files or []:
        con.print(f"wrote {path}")
