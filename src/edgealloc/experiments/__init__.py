"""Paper reproductions: a registry of named experiments and a resumable sweep runner.

>>> from edgealloc.experiments import EXPERIMENTS
>>> sorted(EXPERIMENTS)  # doctest: +NORMALIZE_WHITESPACE
['mel-accuracy', 'mel-async-accuracy', 'mel-async-allocation', 'mel-local-updates',
 'xr-heterogeneity', 'xr-online-regression', 'xr-users']

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
- ``mel-accuracy`` — :mod:`.mel_accuracy`: Fig. 2 of the sync MEL paper, test
  accuracy after each global cycle under the optimal, Theorem 1 and equal
  allocations (K = 20, T = 12 s and K = 10, T = 30 s), trained on digits
  (needs torch).
- ``mel-async-accuracy`` — :mod:`.mel_async_accuracy`: Figs. 4-5 and 7 of the
  async MEL paper, accuracy per global update and updates to a threshold for
  HA-Asyn (c = 1..5), HA-Sync and HU, trained on digits (needs torch).
- ``xr-heterogeneity`` — :mod:`.xr_heterogeneity`: Figs. 1-2 of the XR
  offloading paper (gain of server and D2D offloading vs eta_comp, eta_comm).
- ``xr-users`` — :mod:`.xr_users`: Fig. 3 of the XR offloading paper (gain vs N).
- ``xr-online-regression`` — :mod:`.xr_online_regression`: the XR paper's online
  least-squares regression under no, server and D2D offloading (loss vs
  simulated time; identical gradients).

Sweeps run on local processes by default or on a Ray cluster
(``backend="ray"``).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ValidationError
from . import (
    mel_accuracy,
    mel_async_accuracy,
    mel_async_allocation,
    mel_local_updates,
    xr_heterogeneity,
    xr_online_regression,
    xr_users,
)
from ._common import Experiment as Experiment
from ._common import ExperimentOutput as ExperimentOutput
from .runner import run_sweep as run_sweep
from .runner import sweep_backend

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
        Experiment(
            name="mel-accuracy",
            title="Sync MEL, Fig. 2: test accuracy after each global cycle, optimal vs equal",
            description=(
                "Mohammad & Sorour, Adaptive Task Allocation for Mobile Edge Learning, "
                "Fig. 2: the optimal, paper (Theorem 1) and equal (ETA) allocations at K = 20, "
                "T = 12 s and K = 10, T = 30 s (presets mel-sync and mel-sync-calibrated) "
                "trained for real on scikit-learn digits with the MEL MLP; accuracy vs cycles "
                "and simulated time, cycles to reach 90, 95 and 97 %, mean and s.d. over 10 "
                "seeds. Needs torch."
            ),
            run=mel_accuracy.run,
        ),
        Experiment(
            name="mel-async-accuracy",
            title="Async MEL, Figs. 4-5 and 7: accuracy of HA-Asyn vs HA-Sync vs HU",
            description=(
                "Asynchronous MEL with energy limits (preset mel-async), E = 10, 20, 30 J and "
                "T = 10, 20 s: the HA-Asyn allocations (optimal, staleness c = 1..5), HA-Sync "
                "(synchronous optimal) and HU (equal, sync and c = 2) trained for real on "
                "scikit-learn digits with the MEL MLP; accuracy per global update and the "
                "updates needed to reach 90 % and 95 %, over 5 seeds. Needs torch."
            ),
            run=mel_async_accuracy.run,
        ),
        Experiment(
            name="xr-online-regression",
            title="XR offloading: online least squares vs simulated time (no/server/D2D)",
            description=(
                "Collaborative learning for XR (xr-offloading), Section II-A: online "
                "least-squares regression (d = 250) by batched online SGD on one data "
                "stream with no offloading, server offloading and D2D offloading (optimal "
                "plans per iteration); loss and parameter error vs simulated time and vs "
                "iterations (identical gradients), over seeds."
            ),
            run=xr_online_regression.run,
        ),
        Experiment(
            name="xr-heterogeneity",
            title="XR offloading, Figs. 1-2: gain of server vs D2D offloading vs heterogeneity",
            description=(
                "Collaborative learning for XR (xr-offloading), Fig. 2: gain max_i T_i / T* "
                "of Strategy #1 (edge server) and Strategy #2 (D2D), optimal and relaxed, vs "
                "eta_comp and vs eta_comm (the other fixed at 0.5), mean and s.d. over 5000 "
                "paired experiments per point (presets xr-server, xr-d2d); plus Fig. 1, the "
                "heterogeneity function eq. (2)."
            ),
            run=xr_heterogeneity.run,
        ),
        Experiment(
            name="xr-users",
            title="XR offloading, Fig. 3: gain of server vs D2D offloading vs number of users",
            description=(
                "Collaborative learning for XR (xr-offloading), Fig. 3: gain of both "
                "strategies vs N = 5..100 for steepness s = 0.5 and 2, eta_comp and eta_comm "
                "in {0.2, 0.8}, mean and s.d. over 200 paired experiments per point "
                "(50 above N = 50)."
            ),
            run=xr_users.run,
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
    backend: str = "local",
    ray_address: str | None = None,
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
    backend
        Where the sweep's tasks run: ``"local"`` (processes) or ``"ray"``
        (Ray remote functions; see :class:`~.runner.RayBackend`). The
        results store is the same either way, so a sweep started on one
        backend resumes on the other.
    ray_address
        Ray cluster to join (``backend="ray"`` only); default
        ``$RAY_ADDRESS``, else a local Ray instance with ``workers`` CPUs.

    Raises
    ------
    ValidationError
        Unknown experiment name (the message lists the known ones), bad
        ``seeds``/``workers``, unknown ``backend``, Ray not installed, or a
        ``ray_address`` without ``backend="ray"``.
    """
    if name not in EXPERIMENTS:
        known = ", ".join(sorted(EXPERIMENTS))
        raise ValidationError("experiment", f"unknown experiment {name!r} (known: {known})")
    _positive_int("seeds", seeds)
    _positive_int("workers", workers)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValidationError("out_dir", f"{out} exists and is not a directory")
    if ray_address is not None and backend != "ray":
        raise ValidationError("ray_address", f"only applies with backend 'ray' (got {backend!r})")
    with sweep_backend(backend, address=ray_address):
        return EXPERIMENTS[name].run(
            out, seeds=seeds, workers=workers, quick=quick, progress=progress
        )
