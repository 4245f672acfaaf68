"""The one template every reproduction is written on.

A reproduction declares what is particular to it and nothing else: its tasks,
its worker function, how the results become table rows, its CSV tables
(names and columns), its figures, and its summary rows and notes (readings
taken, the paper's claims with a verdict). :meth:`Experiment.run` is written
once, here, and does the rest in the same order for every experiment:

1. take the defaults (``seeds``; the experiment's own keyword options) and
   let ``prepare`` validate the options (nothing touches the disk before);
2. build the task dicts (``tasks``);
3. run them through the resumable sweep runner (:func:`run_tasks`: local
   processes or Ray, with the results store ``NAME-store.jsonl``);
4. turn the results into named row sets and values (``analyse``);
5. draw the figures (``NAME{suffix}.png``) and write the tables
   (``NAME{suffix}.csv``, exactly the declared columns), each under a
   temporary name renamed into place, and record them in the manifest
   ``NAME-manifest.json`` (:mod:`._outputs`);
6. return an :class:`ExperimentOutput`: the files (figures, tables, store,
   manifest), the ``summary`` rows and the ``notes``.

Before step 2 touches the disk, the output folder is checked
(:class:`._outputs.Outputs`): a run never replaces a file it did not write
itself in the same run configuration, unless ``force=True``. An experiment
that must choose something from runs of its own before its main sweep (the
learning rate of the training reproductions) declares a ``tune`` hook: it
runs its own tasks through the same worker and store, and what it returns
is ``cfg.tuned`` for every later hook.

Adding an experiment
--------------------
1. Write a module ``experiments/<family>_<what>.py`` whose docstring cites
   the paper and lists the files it writes (see :mod:`.mel_local_updates`).
2. Write the worker, a *module-level* function ``task dict -> JSON-ready
   dict`` (worker processes and Ray import it by name). Put what a second
   experiment of the family will reuse into a private module
   (:mod:`._allocation` for solve-and-aggregate sweeps, :mod:`._accuracy`
   for training runs, :mod:`._xr` for the offloading scenario); never import
   another experiment module's internals.
3. Write the hooks and declare the experiment::

       EXPERIMENT = Experiment(
           name="feel-rounds",
           title="FEEL, Fig. 3: rounds to a target loss vs bandwidth",
           description="... (the paper, the grid, the schemes, the seeds) ...",
           default_seeds=20,
           quick_seeds=3,
           tasks=_tasks,          # (cfg) -> list of task dicts (each names the experiment
                                  #    and __version__: the store key is their hash)
           worker=solve_task,     # (task) -> dict
           analyse=_analyse,      # (cfg, tasks, results) -> {"rows": [...], "records": [...]}
           tables=(
               Table("", SUMMARY_COLUMNS, "rows"),
               Table("-seeds", SEED_COLUMNS, "records"),
           ),
           figures=(Figure("", _plot),),  # _plot(cfg, data, path) draws and saves
           summary=_summary,      # (cfg, data) -> rows with the same keys
           notes=_notes,          # (cfg, data, sweep) -> list of str
       )
       run = EXPERIMENT.run

   Scheme colours and markers come from :mod:`edgealloc._style`
   (:func:`~edgealloc._style.scheme_style`); statuses are
   :class:`edgealloc.result.Status` values.
4. Add the module to ``_MODULES`` in :mod:`edgealloc.experiments`; then
   ``edgealloc reproduce NAME`` runs it. Add a quick-mode test and a section
   of ``docs/reproductions.md``.

Example
-------
>>> import tempfile
>>> from edgealloc.experiments.runner import _square
>>> toy = Experiment(
...     name="toy",
...     title="Squares",
...     description="x squared for x = 0 .. seeds - 1",
...     default_seeds=3,
...     quick_seeds=2,
...     tasks=lambda cfg: [{"x": s} for s in range(cfg.seeds)],
...     worker=_square,
...     analyse=lambda cfg, tasks, results: {
...         "rows": [{**t, **r} for t, r in zip(tasks, results)]
...     },
...     tables=(Table("", ("x", "y"), "rows"),),
...     summary=lambda cfg, data: data["rows"],
...     notes=lambda cfg, data, sweep: [f"{sweep.instances} tasks, {sweep.reused} reused"],
... )
>>> with tempfile.TemporaryDirectory() as tmp:
...     out = toy.run(tmp, quick=True, workers=1, progress=False)
...     again = toy.run(tmp, quick=True, workers=1, progress=False)
>>> out.summary, out.notes, again.notes
([{'x': 0, 'y': 0}, {'x': 1, 'y': 1}], ['2 tasks, 0 reused'], ['2 tasks, 2 reused'])
>>> [p.name for p in out.files]
['toy.csv', 'toy-store.jsonl', 'toy-manifest.json']
"""

from __future__ import annotations

import csv
import dataclasses
import math
import time
import types
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from .._io import open_atomic
from ._outputs import Outputs, run_config

__all__ = [
    "Config",
    "Experiment",
    "ExperimentOutput",
    "Figure",
    "Sweep",
    "Table",
    "run_tasks",
    "write_csv",
]

#: What ``analyse`` returns: named row sets (for the tables) and any other values
#: the figures, summary and notes need.
Data = Mapping[str, Any]


@dataclasses.dataclass
class ExperimentOutput:
    """What a reproduction produced.

    Attributes
    ----------
    files
        Files written (figures, CSV tables, the results store, the manifest).
    summary
        Rows for a table of the key numbers (the same keys in every row).
    notes
        Remarks for the reader (readings taken, infeasible points, store reuse).
    """

    files: list[Path] = dataclasses.field(default_factory=list)
    summary: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Config:
    """One run's settings, passed to every hook of an :class:`Experiment`.

    Attributes
    ----------
    out_dir
        The output folder.
    seeds
        Random instances per point (the caller's, else the experiment's default).
    seeds_given
        Whether the caller chose ``seeds``.
    quick
        A coarse grid and few seeds (a smoke test).
    options
        The experiment's own keyword options, defaults filled in and checked
        by ``prepare``.
    tuned
        What the experiment's ``tune`` hook returned (empty without one).
    """

    out_dir: Path
    seeds: int
    seeds_given: bool
    quick: bool
    options: Mapping[str, Any]
    tuned: Mapping[str, Any] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))


@dataclasses.dataclass(frozen=True)
class Table:
    """A CSV table of an experiment: ``NAME{suffix}.csv`` with exactly ``columns``.

    ``rows`` names the row set of the ``analyse`` result to write; floats are
    rounded to ``digits`` decimals (``None``: full precision), see :func:`write_csv`.
    """

    suffix: str
    columns: tuple[str, ...]
    rows: str
    digits: int | None = 6


@dataclasses.dataclass(frozen=True)
class Figure:
    """A figure of an experiment: ``draw(cfg, data, path)`` saves ``NAME{suffix}.png``."""

    suffix: str
    draw: Callable[[Config, Data, Path], Any]


@dataclasses.dataclass(frozen=True)
class Sweep:
    """What :func:`run_tasks` did: results in task order and where they are kept."""

    results: list[Any]
    store: Path
    instances: int
    reused: int
    seconds: float


def _no_notes(cfg: Config, data: Data, sweep: Sweep) -> list[str]:
    return []


def _no_summary(cfg: Config, data: Data) -> list[dict[str, Any]]:
    return []


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A named reproduction, declared by its parts; :meth:`run` is the same for all.

    Attributes
    ----------
    name, title, description
        The registry key (also the stem of every file), a one-line title and
        what the experiment runs (``edgealloc reproduce --list`` shows both).
    duration, quick_duration
        Typical wall time of a full run and of ``--quick``, measured, 2-core
        machine (``--workers 2``), as text for ``edgealloc reproduce --list``
        (``docs/reproductions.md`` gives the conditions of each measurement).
    default_seeds, quick_seeds
        Random instances per point when the caller gives none, in full and in
        quick mode.
    tasks
        ``tasks(cfg)``: the task dicts. Each is JSON-ready and should carry
        the experiment's name and the package version: the results store is
        keyed by a hash of the task.
    worker
        ``worker(task)``: one task's JSON-ready result; a module-level function.
    analyse
        ``analyse(cfg, tasks, results)``: the row sets the :attr:`tables`
        name, and whatever else the figures, summary and notes use.
    tables
        The CSV tables, written in this order after the figures.
    figures
        The PNG figures, drawn in this order.
    summary
        ``summary(cfg, data)``: rows of the key numbers, next to the paper's.
    notes
        ``notes(cfg, data, sweep)``: remarks for the reader.
    options
        The experiment's own keyword options of :meth:`run` and their defaults.
    prepare
        ``prepare(cfg)``: check ``cfg.options`` (raise
        :class:`~edgealloc.errors.ValidationError`) and return them completed;
        runs before anything else.
    tune
        ``tune(cfg, sweep)``: runs before ``tasks``. ``sweep(tasks, label)``
        runs task dicts of its own through ``worker`` and the results store
        (returning a :class:`Sweep`); what ``tune`` returns becomes
        ``cfg.tuned`` for ``tasks`` and every later hook.
    """

    name: str
    title: str
    description: str
    default_seeds: int
    quick_seeds: int
    tasks: Callable[[Config], list[dict[str, Any]]]
    worker: Callable[[dict[str, Any]], Any]
    analyse: Callable[[Config, Sequence[Mapping[str, Any]], Sequence[Any]], Data]
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = ()
    summary: Callable[[Config, Data], list[dict[str, Any]]] = _no_summary
    notes: Callable[[Config, Data, Sweep], list[str]] = _no_notes
    options: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({})
    )
    prepare: Callable[[Config], Mapping[str, Any]] | None = None
    tune: Callable[[Config, Callable[..., Sweep]], Mapping[str, Any]] | None = None
    duration: str = ""
    quick_duration: str = ""

    def run(
        self,
        out_dir: Path | str,
        *,
        seeds: int | None = None,
        workers: int | None = None,
        quick: bool = False,
        progress: bool = True,
        force: bool = False,
        **options: Any,
    ) -> ExperimentOutput:
        """Run the reproduction into ``out_dir``; the experiment's docstring lists the files.

        Parameters
        ----------
        out_dir
            Output folder (created); its results store makes a re-run resume.
        seeds
            Random instances per point (default :attr:`default_seeds`, quick
            :attr:`quick_seeds`).
        workers
            Worker processes (default ``os.cpu_count()``; 1 runs in this process).
        quick
            A coarse grid and few seeds, for a smoke test in seconds.
        progress
            Show progress on stderr: a bar on a terminal, else a line at most
            every few seconds (:func:`~edgealloc.experiments.runner.run_sweep`).
        force
            Replace files in ``out_dir`` that this run did not write itself
            in the same configuration (see :mod:`._outputs`); without it
            they are refused.
        **options
            The experiment's own options (:attr:`options`).

        Raises
        ------
        TypeError
            An option the experiment does not have.
        ValidationError
            An option ``prepare`` refuses, or a file in ``out_dir`` the run
            would replace without having written it (the message names it;
            nothing is written then).
        """
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise TypeError(f"{self.name}: run() got an unexpected keyword argument {unknown[0]!r}")
        cfg = Config(
            out_dir=Path(out_dir),
            seeds=seeds
            if seeds is not None
            else (self.quick_seeds if quick else self.default_seeds),
            seeds_given=seeds is not None,
            quick=quick,
            options=types.MappingProxyType({**self.options, **options}),
        )
        if self.prepare is not None:
            cfg = dataclasses.replace(cfg, options=types.MappingProxyType(dict(self.prepare(cfg))))
        figures = [(fig, cfg.out_dir / f"{self.name}{fig.suffix}.png") for fig in self.figures]
        tables = [(tab, cfg.out_dir / f"{self.name}{tab.suffix}.csv") for tab in self.tables]
        outputs = Outputs(
            self.name,
            cfg.out_dir,
            run_config(cfg.seeds, cfg.quick, cfg.options),
            [path for _, path in (*figures, *tables)],
            force=force,
        )
        outputs.check()  # reads only: refuses before anything is written
        tasks = self.tasks(cfg) if self.tune is None else []
        outputs.begin()

        def sweep_of(tasks: list[dict[str, Any]], label: str = "") -> Sweep:
            return run_tasks(
                self.name,
                self.worker,
                tasks,
                cfg.out_dir,
                workers=workers,
                progress=progress,
                label=label,
            )

        if self.tune is not None:
            tuned = dict(self.tune(cfg, sweep_of))
            cfg = dataclasses.replace(cfg, tuned=types.MappingProxyType(tuned))
            tasks = self.tasks(cfg)
        sweep = sweep_of(tasks)
        data = self.analyse(cfg, tasks, sweep.results)
        files = []
        for fig, path in figures:
            with outputs.publish(path) as tmp:
                fig.draw(cfg, data, tmp)
            files.append(path)
        for table, path in tables:
            with outputs.publish(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
                _write_rows(fh, data[table.rows], table.columns, table.digits)
            files.append(path)
        files.append(sweep.store)
        files.append(outputs.finish())
        return ExperimentOutput(
            files=files, summary=self.summary(cfg, data), notes=self.notes(cfg, data, sweep)
        )


def run_tasks(
    name: str,
    fn: Callable[[dict[str, Any]], Any],
    tasks: list[dict[str, Any]],
    out_dir: Path,
    *,
    workers: int | None,
    progress: bool,
    label: str = "",
) -> Sweep:
    """Run an experiment's tasks through the resumable sweep runner.

    The results store is ``out_dir / f"{name}-store.jsonl"``: a re-run only
    computes the tasks it does not hold yet. ``label`` names the sweep in the
    progress output after the experiment's name (e.g. ``"lr tuning"``).
    """
    from .runner import load_store, run_sweep, task_key

    out_dir.mkdir(parents=True, exist_ok=True)
    store = out_dir / f"{name}-store.jsonl"
    keys = {task_key(t) for t in tasks}
    reused = len(keys & set(load_store(store)))
    t0 = time.perf_counter()
    results = run_sweep(
        fn,
        tasks,
        store=store,
        workers=workers,
        progress=progress,
        description=f"{name} ({label})" if label else name,
    )
    return Sweep(results, store, len(keys), reused, time.perf_counter() - t0)


def _cell(value: Any, digits: int | None = 6) -> Any:
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return ""
        return repr(float(value) if digits is None else round(float(value), digits))
    if value is None:
        return ""
    return value


def write_csv(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    digits: int | None = 6,
) -> Path:
    """Write ``rows`` with exactly ``columns``; NaN and ``None`` become empty cells.

    Floats are rounded to ``digits`` decimals (``None``: full precision, ``repr``).
    The file is written under a temporary name and renamed into place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_atomic(path, "w", newline="", encoding="utf-8") as fh:
        _write_rows(fh, rows, columns, digits)
    return path


def _write_rows(
    fh: IO[str], rows: Sequence[Mapping[str, Any]], columns: Sequence[str], digits: int | None
) -> None:
    writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c), digits) for c in columns})
