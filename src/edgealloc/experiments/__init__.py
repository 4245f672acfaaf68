"""Paper reproductions: a registry of named experiments and a resumable sweep runner.

>>> from edgealloc.experiments import EXPERIMENTS
>>> sorted(EXPERIMENTS)  # doctest: +NORMALIZE_WHITESPACE
['feel-gpu-curves', 'feel-remark2', 'feel-table2', 'flmar-accuracy', 'flmar-clock',
 'flmar-deadline', 'flmar-power', 'flmar-rho', 'flmar-yang', 'mel-accuracy',
 'mel-async-accuracy', 'mel-async-allocation', 'mel-local-updates', 'xr-heterogeneity',
 'xr-online-regression', 'xr-users']

Every experiment is declared on one template, :class:`Experiment`
(:mod:`._template`, whose docstring says how to add one): its tasks, its
worker, its CSV tables, its figures, its summary and notes. The template's
``run`` sweeps the tasks with :func:`~edgealloc.experiments.runner.run_sweep`
(local processes, a JSONL results store that survives interruption), then
writes the PNGs and CSV tables into an output folder, each under a temporary
name renamed into place, with a manifest (``NAME-manifest.json``: the run
configuration and every file's SHA-256, :mod:`._outputs`) so that a run never
replaces a file it did not write itself. ``edgealloc reproduce
NAME`` calls :func:`run_experiment`; ``docs/reproductions.md`` compares the
results with the papers. Experiments of a family share code through private
modules: :mod:`._allocation` (solve-and-aggregate sweeps), :mod:`._accuracy`
(training runs), :mod:`._lr` (the learning-rate rule), :mod:`._outputs` (the
output folder's manifest and checks), :mod:`._xr` and :mod:`._xr_tables` (the XR offloading
scenario and its gain tables).

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

- ``feel-table2`` — :mod:`.feel_table2`: Table II of the FEEL paper (accuracy and
  training speed-up of individual learning, model- and gradient-based FEEL and
  the proposed scheme, K = 6 and 12, IID and non-IID; needs torch).
- ``feel-gpu-curves`` — :mod:`.feel_gpu_curves`: Figs. 4-5 of the FEEL paper
  (GPU: proposed vs online, full and random batches, loss and accuracy vs
  training time; needs torch).
- ``feel-remark2`` — :mod:`.feel_remark2`: Remark 2 of the FEEL paper as a
  figure (the optimal batch vs the local clock and the uplink rate, beside
  Theorem 1's closed form).
- ``flmar-power``, ``flmar-clock``, ``flmar-rho``, ``flmar-deadline``,
  ``flmar-yang`` — :mod:`.flmar_power` etc.: Figs. 4, 5 and 6 and Secs. VII-C
  and VII-D of the FL-MAR paper (energy and time vs p_max, f_max, rho and the
  deadline; against Yang et al.), ``optimal`` beside ``paper``.
- ``flmar-accuracy`` — :mod:`.flmar_accuracy`: the FL-MAR accuracy table A(s)
  measured by federated training on offline images, written into a scenario,
  and the learning claim of Figs. 6/9 (needs torch).

Sweeps run on local processes by default or on a Ray cluster
(``backend="ray"``).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ValidationError
from . import (
    feel_gpu_curves,
    feel_remark2,
    feel_table2,
    flmar_accuracy,
    flmar_clock,
    flmar_deadline,
    flmar_power,
    flmar_rho,
    flmar_yang,
    mel_accuracy,
    mel_async_accuracy,
    mel_async_allocation,
    mel_local_updates,
    xr_heterogeneity,
    xr_online_regression,
    xr_users,
)
from ._template import Experiment as Experiment
from ._template import ExperimentOutput as ExperimentOutput
from .runner import run_sweep as run_sweep
from .runner import sweep_backend

__all__ = ["EXPERIMENTS", "Experiment", "ExperimentOutput", "run_experiment", "run_sweep"]

#: The experiment modules; each declares one :class:`Experiment` as ``EXPERIMENT``.
_MODULES = (
    mel_local_updates,
    mel_async_allocation,
    mel_accuracy,
    mel_async_accuracy,
    xr_online_regression,
    xr_heterogeneity,
    xr_users,
    feel_table2,
    feel_gpu_curves,
    feel_remark2,
    flmar_power,
    flmar_clock,
    flmar_rho,
    flmar_deadline,
    flmar_yang,
    flmar_accuracy,
)

#: experiment name -> :class:`Experiment`.
EXPERIMENTS: dict[str, Experiment] = {m.EXPERIMENT.name: m.EXPERIMENT for m in _MODULES}


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
    force: bool = False,
) -> ExperimentOutput:
    """Run the named reproduction, writing its figure and tables into ``out_dir``.

    Parameters
    ----------
    name
        A key of :data:`EXPERIMENTS`.
    out_dir
        Output folder (created). It also holds the results store, so running
        again into the same folder reuses finished instances, and the
        manifest ``NAME-manifest.json`` (the run configuration and the
        SHA-256 of every file written; see :mod:`._outputs`).
    seeds
        Random instances per point (default: the experiment's own, e.g. 20).
    workers
        Worker processes (default ``os.cpu_count()``; 1 runs in-process).
    quick
        A coarse grid and few seeds, for a smoke test in seconds.
    progress
        Show progress on stderr: a bar on a terminal, else a line at most
        every few seconds.
    backend
        Where the sweep's tasks run: ``"local"`` (processes) or ``"ray"``
        (Ray remote functions; see :class:`~.runner.RayBackend`). The
        results store is the same either way, so a sweep started on one
        backend resumes on the other.
    ray_address
        Ray cluster to join (``backend="ray"`` only); default
        ``$RAY_ADDRESS``, else a local Ray instance with ``workers`` CPUs.
    force
        Replace what is in ``out_dir``. Without it the run refuses, before
        writing anything, a folder entry whose name does not start with
        ``name``, and any file it would replace that it did not write itself
        in this run configuration (not in the manifest, or changed since), as
        well as a folder holding another configuration's results.

    Raises
    ------
    ValidationError
        Unknown experiment name (the message lists the known ones), bad
        ``seeds``/``workers``, unknown ``backend``, Ray not installed, a
        ``ray_address`` without ``backend="ray"``, or (without ``force``) a
        file in ``out_dir`` that is not the run's to replace (the message
        names the path and, for another configuration, the settings that
        differ).
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
            out, seeds=seeds, workers=workers, quick=quick, progress=progress, force=force
        )
