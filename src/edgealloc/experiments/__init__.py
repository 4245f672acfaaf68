"""Paper reproductions: a registry of named experiments and a resumable sweep runner.

>>> from edgealloc.experiments import EXPERIMENTS
>>> sorted(EXPERIMENTS)
['mel-async-allocation', 'mel-local-updates']

Each experiment sweeps a paper's figure over a grid and random seeds with
:func:`~edgealloc.experiments.runner.run_sweep` (local processes, a JSONL
results store that survives interruption), then writes a PNG and CSV tables
into an output folder. ``edgealloc reproduce NAME`` calls
:func:`run_experiment`; ``docs/reproductions.md`` compares the results with
the papers.

- ``mel-local-updates`` — :mod:`.mel_local_updates`: Fig. 1 of the sync MEL
  paper (tau vs K and vs T; optimal, relaxed, paper, equal).
- ``mel-async-allocation`` — :mod:`.mel_async_allocation`: mean tau vs T for
  energy budgets E = 10, 20, 30 J and staleness c = 0..5 (async MEL paper).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ValidationError
from . import mel_async_allocation, mel_local_updates
from ._common import Experiment as Experiment
from ._common import ExperimentOutput as ExperimentOutput
from .runner import run_sweep as run_sweep

__all__ = ["EXPERIMENTS", "Experiment", "ExperimentOutput", "run_experiment", "run_sweep"]

#: experiment name -> :class:`Experiment`.
EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            name="mel-local-updates",
            title="Sync MEL, Fig. 1: local iterations vs learners and cycle time",
            description=(
                "Mohammad & Sorour, Adaptive Task Allocation for Mobile Edge Learning, "
                "Fig. 1: tau vs K (T = 30, 60 s) and vs T (K = 10, 20) for the schemes "
                "optimal, relaxed, paper and equal, averaged over random placements, for "
                "the presets mel-sync (literal Table I) and mel-sync-calibrated."
            ),
            run=mel_local_updates.run,
        ),
        Experiment(
            name="mel-async-allocation",
            title="Async MEL: mean local iterations vs cycle time, energy and staleness",
            description=(
                "Asynchronous MEL with energy limits (Table 1, Section 5): mean tau vs "
                "T = 5..40 s for E = 10, 20, 30 J and staleness c = 0..5 (scheme optimal), "
                "with the paper's Algorithm 1 and equal allocation at c = 2, averaged over "
                "random placements and budgets (preset mel-async)."
            ),
            run=mel_async_allocation.run,
        ),
    )
}


def _positive_int(field: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(field, f"must be an integer >= 1 (got {value!r})")


def run_experiment(
    name: str,
    out_dir: Path,
    *,
    seeds: int | None = None,
    workers: int | None = None,
    quick: bool = False,
    progress: bool = True,
) -> ExperimentOutput:
    """Run the named reproduction, writing its figure and tables into ``out_dir``.

    Parameters
    ----------
    name
        A key of :data:`EXPERIMENTS`.
    out_dir
        Output folder (created). It also holds the results store, so running
        again into the same folder reuses finished instances.
    seeds
        Random instances per point (default: the experiment's own, e.g. 20).
    workers
        Worker processes (default ``os.cpu_count()``; 1 runs in-process).
    quick
        A coarse grid and few seeds, for a smoke test in seconds.
    progress
        Show a progress bar on a terminal.

    Raises
    ------
    ValidationError
        Unknown experiment name (the message lists the known ones), or bad
        ``seeds``/``workers``.
    """
    if name not in EXPERIMENTS:
        known = ", ".join(sorted(EXPERIMENTS))
        raise ValidationError("experiment", f"unknown experiment {name!r} (known: {known})")
    _positive_int("seeds", seeds)
    _positive_int("workers", workers)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValidationError("out_dir", f"{out} exists and is not a directory")
    return EXPERIMENTS[name].run(out, seeds=seeds, workers=workers, quick=quick, progress=progress)
