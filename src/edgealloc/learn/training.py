r"""Training under a ``mel`` allocation on a simulated clock: :func:`train`.

:func:`train` takes a :class:`~edgealloc.mel.MelProblem`, a solved
:class:`~edgealloc.Result` (the allocation: :math:`\tau_k` local iterations
and :math:`d_k` samples per learner) and a data set, and runs real
distributed learning, one global cycle after the other
(:func:`edgealloc.learn.engine.local_sgd_cycle`: every learner starts from the
global model, runs :math:`\tau_k` full-batch gradient steps on its
:math:`d_k` samples, the orchestrator averages the models weighted by
:math:`d_k`, [MEL-async] eqs. (1)-(3)). The engine never re-decides the
allocation: :math:`\tau_k` and :math:`d_k` come from the result. How it
trains is one :class:`~edgealloc.learn.options.TrainOptions`; what it records
is a :class:`~edgealloc.learn.records.RunRecord`.

Data per cycle
--------------
``mode="parallel"`` (parallel learning, [MEL-sync] Section II-B, [MEL-async]
Section 5.1 footnote 1): the orchestrator owns the training set and ships
learner :math:`k` a fresh random batch of :math:`d_k` samples every cycle
(:class:`~edgealloc.learn.partition.ParallelSampler`).
``mode="federated"``: the training set is partitioned once over the learners
(``partition_scheme``: ``"iid"``, label-sorted ``"shards"`` or
``"unbalanced"``), and learner :math:`k` trains on :math:`\min(d_k,
|\mathcal D_k|)` of its own samples, drawn afresh every cycle
(:class:`~edgealloc.learn.partition.FederatedSampler`).

The simulated clock
-------------------
Learner :math:`k` needs :math:`t_k = c_{2,k}\tau_k d_k + c_{1,k} d_k +
c_{0,k}` seconds per cycle ([MEL-sync] eq. (8), [MEL-async] eq. (11)),
as evaluated by :meth:`MelProblem.evaluate` (the allocation's ``times``).
The orchestrator aggregates when the slowest participant has reported, so
with ``clock="slowest"`` (the default) every cycle advances the clock by

.. math::

    t_{\text{cycle}} = \min\bigl(T, \max_{k: d_k > 0} t_k\bigr),

the deadline :math:`T` or the slowest learner when that is earlier. With
``clock="deadline"`` every cycle lasts :math:`T` (the papers' periodic
global cycle clock: [MEL-sync] Fig. 2 counts "global update cycles of
:math:`T = 12` s each"). The orchestrator's aggregation time is not counted
(the papers' :math:`T` excludes it, [MEL-sync] Section II).
In federated mode a learner that owns fewer than :math:`d_k` samples trains
on fewer, but the clock and the ledger keep the allocation's :math:`t_k` and
:math:`e_k` (the time and energy budgeted for the plan); ``samples_used``
records what was actually trained on. The energy per cycle is
:func:`~edgealloc.learn.energy.device_energy`'s.

References
----------
[MEL-sync] Mohammad, U., Sorour, S. "Adaptive task allocation for mobile edge
learning" (Mohammad & Sorour, IEEE WCNCW 2019), Section II, eq. (8), Fig. 2.
[MEL-async] The asynchronous MEL paper: heterogeneity-aware task allocation
with time and energy constraints (Mohammad, Sorour & Hefeida, arXiv:2012.00143), Section 2,
eqs. (1)-(3), (8)-(11), Figs. 4-8.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .. import registry
from ..errors import EdgeallocWarning, ValidationError
from ..mel.problem import MelProblem
from ..result import Result, Status
from ._runtime import progress_bar, torch_threads
from .data import Dataset
from .energy import _meta_vector, device_energy
from .engine import evaluate, init_params, local_sgd_cycle
from .models import ModelSpec, model_for, torch
from .options import MODES, PARALLEL_PARTITION, TrainOptions, train_options
from .partition import FederatedSampler, ParallelSampler, partition
from .records import RunRecord
from .scenario import model_mismatch

__all__ = ["train"]


def _trainable_schemes(name: str = "mel") -> list[str]:
    """The schemes of family ``name`` whose results train (the family's ``trainable``, in order)."""
    family = registry.get_family(name)
    return [s for s in family.schemes if s in family.trainable]


def _check_result(result: Any, family: str) -> None:
    """``result`` is a ``family`` Result with an allocation (raises when infeasible or failed)."""
    if not isinstance(result, Result):
        raise ValidationError(
            "result", f"must be an edgealloc Result (got {type(result).__name__})"
        )
    if result.family != family:
        raise ValidationError("result", f"must be a {family} result (got family {result.family!r})")
    if result.status is Status.INFEASIBLE or result.status is Status.FAILED:
        result.raise_for_status()
    if result.allocation is None:
        raise ValidationError("result", "carries no allocation")


def _allocation(problem: MelProblem, result: Result) -> tuple[np.ndarray, np.ndarray, Any]:
    """Integral tau and samples of a feasible result, checked against ``problem``."""
    _check_result(result, "mel")
    tau = np.asarray(result.tau, dtype=float)
    d = np.asarray(result.samples, dtype=float)
    k = problem.n_devices
    if tau.shape != (k,) or d.shape != (k,):
        raise ValidationError(
            "result",
            f"has {tau.size} devices, the problem {k}: it was solved for another problem",
        )
    if not (np.all(tau == np.round(tau)) and np.all(d == np.round(d))):
        raise ValidationError(
            "result",
            f"scheme {result.scheme!r} gives a fractional allocation (a relaxation, not a plan); "
            f"train an integral one ({', '.join(_trainable_schemes())})",
        )
    ev = problem.evaluate(tau, d)
    if not ev.feasible:
        raise ValidationError(
            "result", f"the allocation does not fit the problem: {ev.violations[0]}"
        )
    return tau.astype(np.int64), d.astype(np.int64), ev


def _resolve_mode(problem: MelProblem, opts: TrainOptions) -> str:
    """The mode to train in: the one asked for, else the compiled one, else parallel."""
    compiled = (problem.meta or {}).get("mode")
    mode = opts.mode or (compiled if compiled in MODES else "parallel")
    if compiled in MODES and mode != compiled:
        raise ValidationError(
            "mode",
            f"the problem was compiled for {compiled} learning (its times assume it); "
            f"compile the scenario with mode: {mode} to train in {mode} mode",
        )
    if mode == "parallel" and opts.partition_scheme != "iid":
        raise ValidationError("partition_scheme", PARALLEL_PARTITION)
    return mode


def _check_model(spec: Any, dataset: Dataset) -> ModelSpec:
    """``spec`` (default: the data set's ``"mlp"``), checked against the data."""
    if spec is None:
        spec = model_for(dataset, "mlp")
    if not isinstance(spec, ModelSpec):
        raise ValidationError("spec", f"must be a ModelSpec (got {type(spec).__name__})")
    if tuple(spec.input_shape) != dataset.feature_shape and spec.n_features != dataset.n_features:
        raise ValidationError(
            "spec",
            f"takes inputs {spec.input_shape}, the data set has samples {dataset.feature_shape}",
        )
    if (spec.task == "classification") != (dataset.task == "classification"):
        raise ValidationError("spec", f"is a {spec.task} model, the data set a {dataset.task} task")
    if dataset.n_classes is not None and spec.n_outputs != dataset.n_classes:
        raise ValidationError(
            "spec", f"has {spec.n_outputs} outputs, the data set {dataset.n_classes} classes"
        )
    return spec


def _check_dataset(dataset: Any) -> None:
    """``dataset`` is a :class:`~edgealloc.learn.data.Dataset`."""
    if not isinstance(dataset, Dataset):
        raise ValidationError(
            "dataset", f"must be a learn.data.Dataset (got {type(dataset).__name__})"
        )


def _mismatch_note(mismatch: str | None, remedy: str, notes: list[str]) -> None:
    """Warn (at the trainer's caller) and note that the problem prices another network."""
    if mismatch is not None:
        msg = (
            f"{mismatch}: the simulated times and energy are those of another network "
            f"(compile with {remedy} to match them)"
        )
        warnings.warn(msg, EdgeallocWarning, stacklevel=3)
        notes.append(msg)


def _train_eval_set(dataset: Dataset, opts: TrainOptions) -> tuple[Any, Any, str | None]:
    """The samples ``train_loss`` is measured on: a fixed random subset, with its note, or all."""
    n_eval = min(dataset.n_train, opts.train_eval_samples)
    if n_eval < dataset.n_train:
        pick = np.sort(
            np.random.default_rng([opts.seed, 2]).choice(dataset.n_train, n_eval, replace=False)
        )
        note = f"train_loss on a fixed random subset of {n_eval} training samples"
        return dataset.x_train[pick], dataset.y_train[pick], note
    return dataset.x_train, dataset.y_train, None


def _evaluator(
    cols: dict[str, np.ndarray], spec: ModelSpec, dataset: Dataset, x_tr: Any, y_tr: Any
) -> Callable[[int, Mapping[str, Any]], bool]:
    """A function that evaluates a model into row ``row`` of ``cols``."""

    def _evaluate(row: int, params: Mapping[str, Any]) -> bool:
        """Evaluate into ``row``; False when the model has diverged (non-finite loss)."""
        cols["train_loss"][row] = evaluate(spec, params, x_tr, y_tr)[0]
        loss, acc = evaluate(spec, params, dataset.x_test, dataset.y_test)
        cols["test_loss"][row], cols["test_accuracy"][row] = loss, acc
        return math.isfinite(cols["train_loss"][row]) and math.isfinite(loss)

    return _evaluate


def _still_finite(
    evaluate_row: Callable[[int, Mapping[str, Any]], bool],
    params: Mapping[str, Any],
    n: int,
    last: int,
    every: int,
) -> bool:
    """After step ``n``: evaluate when due (or the model is non-finite); False when diverged."""
    finite = all(bool(torch.isfinite(p).all()) for p in params.values())
    if not finite or n % every == 0 or n == last:
        finite = evaluate_row(n, params) and finite
    return finite


def _device_classes(problem: Any, k: int) -> tuple[str, ...] | None:
    """The device classes a scenario compiled into ``problem.meta`` (one per device), or None."""
    classes = (problem.meta or {}).get("classes")
    return (
        tuple(str(c) for c in classes) if isinstance(classes, list) and len(classes) == k else None
    )


def train(
    problem: MelProblem,
    result: Result,
    dataset: Dataset,
    *,
    spec: ModelSpec | None = None,
    options: TrainOptions | None = None,
    **kwargs: Any,
) -> RunRecord:
    r"""Train a model under a ``mel`` allocation and record accuracy against time and energy.

    Parameters
    ----------
    problem
        The ``mel`` problem the allocation solves (its times and energy; for
        the energy of problems without an energy model, its ``meta``).
    result
        A feasible, integral result of :func:`edgealloc.solve` for
        ``problem``: :math:`\tau_k` = ``result.tau``, :math:`d_k` =
        ``result.samples``.
    dataset
        The data (:func:`edgealloc.learn.load_dataset`).
    spec
        The model; default :func:`~edgealloc.learn.models.model_for` the
        data set's ``"mlp"``. A warning is issued (and noted) when the
        problem's recorded workload is another network
        (:func:`~edgealloc.learn.scenario.scenario_for_model` avoids that).
    options
        How to train (:class:`~edgealloc.learn.options.TrainOptions`: cycles,
        mode, partition, learning rate, seed, clock, device, ...).
    **kwargs
        :class:`~edgealloc.learn.options.TrainOptions` fields, as a shortcut:
        ``train(problem, result, data, cycles=5, lr=0.05)`` is
        ``train(problem, result, data, options=TrainOptions(cycles=5, lr=0.05))``;
        with ``options`` too, they replace its fields.

    Returns
    -------
    RunRecord
        One row per cycle (:data:`~edgealloc.learn.records.RECORD_COLUMNS`)
        and the per-device ledger.

    Raises
    ------
    ValidationError
        Malformed options (naming the field), a result for another problem,
        a fractional (relaxed) allocation, a mode other than the compiled
        one, a model that does not fit the data, an unavailable device, or
        (with ``on_divergence="raise"``) training that diverges (field ``lr``).
    InfeasibleError
        When ``result`` is infeasible (``SolverError`` when it failed).

    Examples
    --------
    >>> import edgealloc
    >>> from edgealloc.learn import load_dataset
    >>> from edgealloc.learn.models import model_for
    >>> from edgealloc.learn.scenario import scenario_for_model
    >>> data = load_dataset("digits", n_samples=300)
    >>> spec = model_for(data, "mlp")
    >>> problem = scenario_for_model("mel-sync", spec, {"devices": 3, "T": 0.05}, total_samples=240)
    >>> rec = train(problem, edgealloc.solve(problem, "optimal"), data, cycles=2)
    >>> rec["cycle"].tolist(), rec.n_devices
    ([0, 1, 2], 3)
    """
    opts = train_options(options, kwargs)
    if not isinstance(problem, MelProblem):
        raise ValidationError("problem", f"must be a MelProblem (got {type(problem).__name__})")
    _check_dataset(dataset)
    mode = _resolve_mode(problem, opts)
    spec = _check_model(spec, dataset)
    tau, d, ev = _allocation(problem, result)
    k = problem.n_devices
    cycles = opts.cycles
    notes: list[str] = []
    _mismatch_note(model_mismatch(problem, spec), "learn.run.scenario_for_model", notes)

    # -- the clock and the ledger (fixed by the allocation)
    slowest = float(ev.cycle_time)
    cycle_time = problem.deadline if opts.clock == "deadline" else min(problem.deadline, slowest)
    energy = device_energy(problem, tau, d, kappa=opts.kappa)
    notes.append(energy.note)
    per_cycle_energy = float(energy.total_j.sum())
    part = d > 0
    if opts.clock == "slowest":
        notes.append(
            f"clock: each cycle lasts the slowest participant's time, {cycle_time:.6g} s "
            f"(T = {problem.deadline:g} s)"
        )
    else:
        notes.append(f"clock: each cycle lasts the deadline T = {problem.deadline:g} s")

    # -- data streams
    if mode == "parallel":
        sampler: ParallelSampler | FederatedSampler = ParallelSampler(
            dataset.n_train, np.random.default_rng([opts.seed, 1])
        )
        used = d.copy()
        if int(d.sum()) > dataset.n_train:
            notes.append(
                f"the allocation ships {int(d.sum())} samples per cycle, more than the "
                f"{dataset.n_train} training samples: batches wrap around the data set"
            )
    else:
        parts = partition(
            dataset.y_train,
            k,
            scheme=opts.partition_scheme,
            rng=np.random.default_rng([opts.seed, 0]),
        )
        sampler = FederatedSampler(parts, np.random.default_rng([opts.seed, 1]))
        used = sampler.effective_samples(d)
        short = int(np.count_nonzero(used < d))
        if short:
            notes.append(
                f"federated: {short} learner(s) own fewer samples than allocated and train on "
                f"min(d_k, own data); {int(used.sum())} of {int(d.sum())} samples used per cycle"
            )
    x_tr, y_tr, eval_note = _train_eval_set(dataset, opts)
    if eval_note is not None:
        notes.append(eval_note)
    x_all = dataset.x_train.reshape((dataset.n_train, *spec.input_shape))
    y_all = dataset.y_train

    # -- columns
    nan = np.full(cycles + 1, np.nan)
    cols: dict[str, np.ndarray] = {
        "cycle": np.arange(cycles + 1, dtype=np.int64),
        "sim_time_s": np.arange(cycles + 1, dtype=float) * cycle_time,
        "energy_j": np.arange(cycles + 1, dtype=float) * per_cycle_energy,
        "train_loss": nan.copy(),
        "test_accuracy": nan.copy(),
        "test_loss": nan.copy(),
        "cycle_time_s": np.r_[0.0, np.full(cycles, cycle_time)],
        "cycle_energy_j": np.r_[0.0, np.full(cycles, per_cycle_energy)],
        "local_iterations": np.arange(cycles + 1, dtype=float)
        * (float(tau[part].mean()) if part.any() else 0.0),
        "local_steps": np.arange(cycles + 1, dtype=np.int64) * int(tau[part].sum()),
        "samples_used": np.r_[0, np.full(cycles, int(used.sum()))].astype(np.int64),
        "learner_loss": nan.copy(),
    }
    _evaluate = _evaluator(cols, spec, dataset, x_tr, y_tr)
    t0 = time.perf_counter()
    params = init_params(spec, opts.seed, device=opts.device)
    _evaluate(0, params)
    bounds = np.cumsum(used)[:-1]
    description = f"training ({result.scheme})"
    diverged_at: int | None = None
    per_cycle = int((tau * used).sum())  # sample-steps per cycle: the bar's unit
    bar = progress_bar(opts.progress, cycles * per_cycle, description)
    with torch_threads(opts.threads), bar as advance:
        for n in range(1, cycles + 1):
            idx = np.concatenate(sampler.draw(d))
            xs = np.split(x_all[idx], bounds)
            ys = np.split(y_all[idx], bounds)
            params, losses = local_sgd_cycle(
                spec, params, xs, ys, tau, lr=opts.lr, batched=opts.batched, on_step=advance
            )
            w = used.astype(float)
            if w.sum() > 0:
                cols["learner_loss"][n] = float(np.nansum(losses * w) / w.sum())
            if not _still_finite(_evaluate, params, n, cycles, opts.eval_every):
                diverged_at = n
                break
            if advance is not None:
                metric = cols["test_accuracy" if dataset.task == "classification" else "test_loss"]
                last = metric[np.isfinite(metric)]
                name = "acc" if dataset.task == "classification" else "loss"
                advance(0, f"cycle {n}/{cycles}, {name} {last[-1]:.4f}")
    wall = time.perf_counter() - t0
    if diverged_at is not None:
        msg = (
            f"training diverged at cycle {diverged_at} (a non-finite loss or parameter) "
            f"with lr = {opts.lr:g}; "
            "try a smaller learning rate"
        )
        if opts.on_divergence == "raise":
            raise ValidationError("lr", msg)
        msg += f" (the record stops at cycle {diverged_at})"
        warnings.warn(f"{result.scheme}: {msg}", EdgeallocWarning, stacklevel=2)
        notes.append(msg)
        cols = {name: col[: diverged_at + 1] for name, col in cols.items()}

    cpu = _meta_vector(problem.meta or {}, "cpu_hz", k)
    return RunRecord(
        columns=cols,
        scheme=result.scheme,
        mode=mode,
        partition_scheme=opts.partition_scheme,
        clock=opts.clock,
        dataset=dataset.name,
        task=dataset.task,
        spec=spec,
        seed=opts.seed,
        lr=opts.lr,
        deadline_s=problem.deadline,
        cycle_time_s=cycle_time,
        tau=tau,
        samples=d,
        samples_used=np.asarray(used, dtype=np.int64),
        device_time_s=np.asarray(ev.times, dtype=float),
        compute_j=energy.compute_j,
        transmit_j=energy.transmit_j,
        energy_source=energy.source,
        notes=tuple(notes),
        result=result,
        problem_name=problem.name,
        classes=_device_classes(problem, k),
        cpu_hz=cpu,
        params=params if opts.keep_params else None,
        wall_time_s=wall,
        diverged_at=diverged_at,
    )
