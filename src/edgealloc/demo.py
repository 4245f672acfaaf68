"""The demo: the embedded presets solved with every scheme, tabulated and plotted.

``edgealloc demo`` calls :func:`run_demo`. It solves each family's demo
presets (the ``demo_presets`` of its descriptor, in registry order: today
``mel-sync``, ``mel-async``, ``xr-server``, ``xr-d2d``) with every scheme,
prints a comparison table per preset and writes each family's figure
(``demo.png`` for ``mel``: the objective by scheme, ``tau_k``, ``d_k`` and
``t_k`` against the deadline; ``offload.png`` for the offloading families:
per-user times and points, the iteration time by scheme), the numbers
(``demo.json``) and each compiled problem. What a family tabulates and draws
is declared by its presenter (:class:`edgealloc.family.Presenter`); this
module names no family.

The tabulation helpers :func:`solve_all`, :func:`comparison_rows` and
:func:`comparison_table` live in :mod:`edgealloc.compare` and are
re-exported here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import registry
from ._io import atomic_path
from ._style import SCHEME_STYLE as SCHEME_STYLE
from ._style import STATUS_STYLE as STATUS_STYLE
from ._style import fmt as fmt
from ._version import __version__
from .api import load_problem
from .compare import comparison_rows as comparison_rows
from .compare import comparison_table as comparison_table
from .compare import gap_percent as gap_percent
from .compare import solve_all as solve_all
from .errors import ValidationError
from .result import Result, to_jsonable

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [  # noqa: F822 - DEMO_PRESETS comes from __getattr__
    "DEMO_PRESETS",
    "SCHEME_STYLE",
    "STATUS_STYLE",
    "comparison_rows",
    "comparison_table",
    "demo_presets",
    "fmt",
    "gap_percent",
    "run_demo",
    "solve_all",
]


def demo_presets() -> tuple[str, ...]:
    """The presets the demo solves: every family's ``demo_presets``, in registry order."""
    return tuple(name for fam in registry.families().values() for name in fam.demo_presets)


def __getattr__(name: str) -> Any:
    # ``DEMO_PRESETS``: the tuple of :func:`demo_presets`, computed when asked for, so that
    # families registered after import (plugins, tests) join the demo.
    if name == "DEMO_PRESETS":
        return demo_presets()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _targets(out_dir: Path, problems: dict[str, Any]) -> dict[str, Path]:
    """The files :func:`run_demo` writes: a figure per presenter, the numbers, the problems."""
    files: dict[str, Path] = {}
    for problem in problems.values():
        figure = registry.family_of(problem).presenter.figure
        if figure is not None:
            files.setdefault(figure[0], out_dir / figure[1])
    files["numbers"] = out_dir / "demo.json"
    for name in problems:
        files[f"problem:{name}"] = out_dir / f"{name}.problem.json"
    return files


def _figures(
    cases: Sequence[tuple[str, Any, Sequence[Result]]], targets: dict[str, Path], force: bool
) -> None:
    """Draw each figure once, with every case whose family draws into it.

    Each is drawn into a temporary file renamed onto its target when complete.
    """
    groups: dict[str, list[tuple[str, Any, Sequence[Result]]]] = {}
    presenters: dict[str, Any] = {}
    for case in cases:
        presenter = registry.family_of(case[1]).presenter
        if presenter.figure is None:
            continue
        key = presenter.figure[0]
        groups.setdefault(key, []).append(case)
        presenters.setdefault(key, presenter)
    for key, group in groups.items():
        with atomic_path(targets[key], overwrite=force) as tmp:
            presenters[key].plot(group, tmp)
            os.chmod(tmp, _file_mode())


def _file_mode() -> int:
    """The mode ``open()`` gives a new file (the temporary files are created ``0600``)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _write_text(path: Path, text: str, force: bool) -> None:
    """Write ``text`` under a temporary name beside ``path`` and rename it into place."""
    with atomic_path(path, overwrite=force) as tmp:
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, _file_mode())


def run_demo(
    out_dir: Path,
    *,
    console: Console | None = None,
    force: bool = False,
    presets: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Compile the presets, solve them with every scheme, tabulate, plot and save.

    Parameters
    ----------
    out_dir
        Directory to write into (created if needed). Only these files are
        written: each family's figure (its presenter's ``figure``, e.g.
        ``demo.png`` and ``offload.png``), ``demo.json`` (the numbers) and
        ``<preset>.problem.json`` (each compiled canonical problem, ready for
        ``edgealloc solve``). A figure is written only when ``presets`` holds
        a preset of a family that draws it. Each file is written under a
        temporary name and renamed into place when complete.
    console
        A :class:`rich.console.Console` to print the comparison tables on;
        ``None`` prints nothing.
    force
        Overwrite those files if they exist. Without it an existing file is
        an error and nothing is written.
    presets
        Preset names to run (default: :func:`demo_presets`).

    Returns
    -------
    dict
        What ``demo.json`` holds: per preset the problem's size (the fields
        of its presenter's ``size``) and, per scheme, the docs/problem-files.md result
        fields plus ``gap_percent`` and ``solve_ms``; and ``files``, the paths
        written.

    Raises
    ------
    ValidationError
        When ``out_dir`` is not a directory, or a file would be overwritten
        without ``force``, or a preset name is unknown.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValidationError(str(out_dir), "exists and is not a directory")
    if presets is None:
        presets = demo_presets()
    problems = {name: load_problem(name) for name in presets}  # compiles; writes nothing
    targets = _targets(out_dir, problems)
    if not force:
        for path in targets.values():
            if path.exists():
                raise ValidationError(str(path), "already exists (pass --force to overwrite)")

    cases: list[tuple[str, Any, list[Result]]] = []
    numbers: dict[str, Any] = {"edgealloc": __version__, "presets": {}}
    for name, problem in problems.items():
        results = solve_all(problem)
        cases.append((name, problem, results))
        rows = {row["scheme"]: row for row in comparison_rows(results)}
        presenter = registry.family_of(problem).presenter
        numbers["presets"][name] = {
            "description": problem.description,
            **presenter.size(problem),
            "schemes": {
                res.scheme: {
                    **res.to_dict(),
                    "gap_percent": rows[res.scheme]["gap_percent"],
                    "solve_ms": rows[res.scheme]["solve_ms"],
                }
                for res in results
            },
        }
        if console is not None:
            console.print(
                comparison_table(results, title=presenter.title(name, problem), problem=problem)
            )
            console.print()

    # Every file goes to a temporary name and is renamed into place when complete, so
    # a killed demo never leaves a half-written one.
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, problem, _ in cases:
        _write_text(targets[f"problem:{name}"], problem.to_json() + "\n", force)
    _figures(cases, targets, force)
    numbers["files"] = {key: str(path) for key, path in targets.items()}
    document = to_jsonable(numbers)
    _write_text(targets["numbers"], json.dumps(document, indent=2) + "\n", force)
    return document
