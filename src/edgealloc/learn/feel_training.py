r"""Training under a ``feel`` plan on a simulated clock: :func:`train_feel`, :func:`compare_feel`.

One communication round (Ren, Yu & Ding, IEEE JSAC 2021,
Ren, Yu & Ding, IEEE JSAC 2021, Section II-A, steps 1-5) is one call of
:func:`edgealloc.learn.engine.gradient_averaging_step`: device :math:`k`
draws a batch :math:`\mathcal B_k` of :math:`B_k` samples of its own data
(afresh every round, without replacement; :math:`\min(B_k, |\mathcal D_k|)`
when it owns fewer), computes the gradient :math:`g_k` of its mean loss on
it at the global model, the server averages them weighted by the batch
sizes, :math:`g = \sum_k |\mathcal B_k| g_k / \sum_k |\mathcal B_k|` (eq. (1);
the batches are disjoint, so :math:`|\cup_k \mathcal B_k| = \sum_k |\mathcal B_k|`),
and every device applies :math:`w \leftarrow w - \eta g` (eq. (2)). The
devices start from one model and apply the same update, so one global model
stands for all of them. The data are partitioned once over the devices
(``TrainOptions.partition_scheme``: ``"iid"``, the paper's label-sorted
``"shards"`` (2 per device, Section VI-A) or ``"unbalanced"``).

The learning rate: the square-root rule
---------------------------------------
The paper's loss-decay model :math:`\Delta L = \xi\sqrt B` (eq. (8)) comes
with "the scaling law of the learning rate :math:`\eta = O(\sqrt B)`"
(Section III-A, after Goyal et al. and Krizhevsky). We read it as

.. math:: \eta_n = \eta_{ref} \sqrt{B_n / B_{ref}}, \qquad B_{ref} = 128,

with :math:`B_n` the global batch trained on in round :math:`n` and
:math:`\eta_{ref}` = ``TrainOptions.lr`` the rate at the reference batch
:data:`LR_REFERENCE_BATCH` = 128 (Krizhevsky's base batch for the rule, and
the paper's :math:`B^{max}`). Every scheme follows the same rule, so a plan
with a larger global batch also takes larger steps, as the paper's
efficiency assumes. ``lr_rule="constant"`` uses :math:`\eta_{ref}` every
round instead.

The simulated clock and the ledger
----------------------------------
Round :math:`n` advances the clock by the plan's latency :math:`T` (eq. (15);
GPU eq. (29)), as :meth:`~edgealloc.feel.problem.FeelProblem.evaluate` prices
it: the slowest compute-and-upload plus the slowest download-and-update. The
energy is :func:`~edgealloc.learn.feel_energy.feel_round_energy` (ours: the
paper has none). A device that owns fewer samples than :math:`B_k` trains on
fewer, but the clock and the ledger keep the plan's :math:`B_k` (the time
and energy budgeted), as the ``mel`` trainer does; ``samples_used`` records
what was trained on. The ``random`` baseline draws new batches, uniform in
:math:`1..B^{max}`, every round (Section VI-D: "each device randomly selects a
training batchsize between 1 and 128 in each communication round"; round 1
uses the plan's), each priced with its best slots
(:func:`edgealloc.feel.solvers.slots_for_batches`); ``resample=`` changes
that.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._validation import check_choice
from ..errors import EdgeallocWarning, InfeasibleError, ValidationError
from ..feel.problem import FeelProblem
from ..result import Result
from ._runtime import progress_bar, torch_threads
from .comparison import _compare_plans
from .data import Dataset
from .engine import gradient_averaging_step, init_params
from .feel_energy import feel_round_energy
from .feel_records import FeelComparison, FeelRecord
from .feel_scenario import feel_model_mismatch
from .models import ModelSpec
from .options import TrainOptions, train_options
from .partition import FederatedSampler, partition
from .training import (
    _check_dataset,
    _check_model,
    _check_result,
    _device_classes,
    _evaluator,
    _mismatch_note,
    _still_finite,
    _train_eval_set,
    _trainable_schemes,
)

__all__ = [
    "LR_REFERENCE_BATCH",
    "LR_RULES",
    "compare_feel",
    "feel_learning_rate",
    "train_feel",
    "trainable_feel_schemes",
]

#: :math:`B_{ref}` of the square-root rule: ``lr`` is the rate at this global batch.
LR_REFERENCE_BATCH = 128
#: How the learning rate follows the global batch.
LR_RULES: tuple[str, ...] = ("sqrt", "constant")
_FAMILY = "feel"
#: Schemes whose batches are drawn afresh every round by default.
_RESAMPLED = frozenset({"random"})


def feel_learning_rate(
    lr: float, global_batch: float, *, rule: str = "sqrt", reference: float = LR_REFERENCE_BATCH
) -> float:
    r"""The rate of a round with global batch :math:`B`: :math:`\eta_{ref}\sqrt{B/B_{ref}}`.

    >>> feel_learning_rate(0.1, 512)
    0.2
    >>> feel_learning_rate(0.1, 512, rule="constant")
    0.1
    """
    if rule == "constant":
        return float(lr)
    return float(lr) * math.sqrt(float(global_batch) / float(reference))


def trainable_feel_schemes() -> list[str]:
    """The ``feel`` schemes whose plans train (the family's ``trainable``, in order)."""
    return _trainable_schemes(_FAMILY)


def _check_options(opts: TrainOptions) -> None:
    if opts.mode not in (None, "federated"):
        raise ValidationError(
            "mode",
            f"FEEL devices own their data (gradient averaging is federated, eq. (1)); "
            f"{opts.mode} learning does not apply (leave it out or use federated)",
        )
    if opts.clock != "slowest":
        raise ValidationError(
            "clock",
            "a FEEL round lasts the plan's latency (eq. (15)); there is no deadline to "
            "fill (leave it out)",
        )


def _plan(problem: FeelProblem, result: Result) -> tuple[np.ndarray, Any]:
    _check_result(result, _FAMILY)
    batch = np.asarray(result.batch, dtype=float)
    k = problem.n_devices
    if batch.shape != (k,):
        raise ValidationError(
            "result",
            f"has {batch.size} devices, the problem {k}: it was solved for another problem",
        )
    if not np.all(batch == np.round(batch)):
        raise ValidationError(
            "result",
            f"scheme {result.scheme!r} gives fractional batches (the continuous bound, not a "
            f"plan); train an integral one ({', '.join(trainable_feel_schemes())})",
        )
    ev = problem.evaluate(batch, result.uplink_slot, result.downlink_slot)
    if not ev.feasible:
        raise ValidationError("result", f"the plan does not fit the problem: {ev.violations[0]}")
    return batch.astype(np.int64), ev


def _round_prices(
    problem: FeelProblem,
    batches: np.ndarray,
    plan: tuple[np.ndarray, np.ndarray],
    fresh: bool,
    kappa: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str, str]:
    """Latency, device times (eq. (13)), compute and upload joules of every round.

    Round 1 (every round, unless the batches are drawn afresh) is the plan with
    its own slots; a fresh batch vector is priced with its best slots.
    """
    from ..feel.solvers import slots_for_batches

    n = len(batches)
    lat = np.empty(n)
    dev_t = np.empty(batches.shape)
    comp = np.empty(batches.shape)
    up = np.empty(batches.shape)
    source = note = ""
    cache: dict[bytes, tuple[float, np.ndarray, np.ndarray, np.ndarray]] = {}
    for i, row in enumerate(batches):
        key = row.tobytes() if (fresh and i > 0) else b"plan"
        if key not in cache:
            slots = slots_for_batches(problem, row) if key != b"plan" else plan
            ev = problem.evaluate(row, *slots)
            energy = feel_round_energy(problem, row, kappa=kappa)
            times = ev.latency_uplink + ev.download_time + ev.update_time  # eq. (13)
            cache[key] = (ev.latency, times, energy.compute_j, energy.transmit_j)
            source, note = energy.source, energy.note
        lat[i], dev_t[i], comp[i], up[i] = cache[key]
    return lat, dev_t, comp, up, source, note


def _feel_record(
    problem: FeelProblem,
    dataset: Dataset,
    spec: ModelSpec,
    opts: TrainOptions,
    params: Mapping[str, Any],
    lr_reference_batch: float,
    **fields: Any,
) -> FeelRecord:
    """A :class:`FeelRecord`: ``fields`` (what was trained) and where and how it trained."""
    k = problem.n_devices
    return FeelRecord(
        mode="federated",
        partition_scheme=opts.partition_scheme,
        clock="round-latency",
        dataset=dataset.name,
        task=dataset.task,
        spec=spec,
        seed=opts.seed,
        lr=opts.lr,
        tau=np.ones(k, dtype=np.int64),
        problem_name=problem.name,
        classes=_device_classes(problem, k),
        cpu_hz=None if problem.cpu_hz is None else np.asarray(problem.cpu_hz, dtype=float),
        params=params if opts.keep_params else None,
        lr_reference_batch=float(lr_reference_batch),
        processor=problem.processor,
        **fields,
    )


def train_feel(
    problem: FeelProblem,
    result: Result,
    dataset: Dataset,
    *,
    spec: ModelSpec | None = None,
    options: TrainOptions | None = None,
    resample: bool | None = None,
    lr_rule: str = "sqrt",
    lr_reference_batch: float = LR_REFERENCE_BATCH,
    **kwargs: Any,
) -> FeelRecord:
    r"""Train a model by gradient averaging under a ``feel`` plan; accuracy vs time and energy.

    Parameters
    ----------
    problem
        The ``feel`` problem the plan solves.
    result
        An integral result of :func:`edgealloc.solve` for ``problem``:
        :math:`B_k` = ``result.batch``, priced with its slots.
    dataset
        The data (:func:`edgealloc.learn.load_dataset`), partitioned over the
        devices by ``options.partition_scheme``.
    spec
        The model (default: the data set's ``"mlp"``); a note (and a warning)
        when the plan prices another network
        (:func:`~edgealloc.learn.feel_scenario.feel_model_mismatch`).
    options
        :class:`~edgealloc.learn.options.TrainOptions`: ``cycles`` is the
        number of rounds; ``lr`` the rate at the reference batch; ``mode``
        must be ``None`` or ``"federated"`` and ``clock`` ``"slowest"`` (a
        round lasts the plan's latency).
    resample
        Draw new batches uniform in :math:`1..B^{max}` every round (default:
        only for the ``random`` scheme, as in the paper).
    lr_rule, lr_reference_batch
        The learning-rate rule (module docstring): ``"sqrt"`` (default) or
        ``"constant"``, and :math:`B_{ref}`.
    **kwargs
        :class:`~edgealloc.learn.options.TrainOptions` fields.

    Returns
    -------
    FeelRecord
        One row per round (:data:`~edgealloc.learn.records.RECORD_COLUMNS`)
        and the per-device ledger.

    Raises
    ------
    ValidationError
        Bad options (naming the field), a result for another problem or
        family, fractional batches, a model that does not fit the data, or
        (with ``on_divergence="raise"``) training that diverges (field ``lr``).

    Examples
    --------
    >>> import edgealloc
    >>> from edgealloc.learn import load_dataset
    >>> from edgealloc.learn.models import model_for
    >>> from edgealloc.learn.feel_scenario import feel_scenario_for_model
    >>> data = load_dataset("digits", n_samples=300)
    >>> spec = model_for(data, "mlp")
    >>> problem = feel_scenario_for_model("feel-cpu", spec, {"K": 3})
    >>> rec = train_feel(problem, edgealloc.solve(problem), data, spec=spec, cycles=2)
    >>> rec["cycle"].tolist(), rec.n_devices
    ([0, 1, 2], 3)
    """
    opts = train_options(options, kwargs)
    if not isinstance(problem, FeelProblem):
        raise ValidationError("problem", f"must be a FeelProblem (got {type(problem).__name__})")
    _check_dataset(dataset)
    _check_options(opts)
    check_choice("lr_rule", lr_rule, LR_RULES)
    if isinstance(lr_reference_batch, bool) or not (
        isinstance(lr_reference_batch, int | float) and 0 < lr_reference_batch < math.inf
    ):
        raise ValidationError(
            "lr_reference_batch", f"must be a positive number (got {lr_reference_batch!r})"
        )
    spec = _check_model(spec, dataset)
    plan_batch, plan_ev = _plan(problem, result)
    k = problem.n_devices
    rounds = opts.cycles
    notes: list[str] = []
    remedy = "learn.feel_scenario.feel_scenario_for_model"
    _mismatch_note(feel_model_mismatch(problem, spec), remedy, notes)

    # -- the batches of every round, and their prices
    fresh = result.scheme in _RESAMPLED if resample is None else bool(resample)
    batches = np.tile(plan_batch, (rounds, 1))
    if fresh and rounds > 1:
        rng = np.random.default_rng([opts.seed, 3])
        batches[1:] = rng.integers(1, problem.max_batch + 1, size=(rounds - 1, k))
        notes.append(
            f"batches drawn afresh every round, uniform in 1..{problem.max_batch} (round 1: "
            "the plan's), each priced with its best slots"
        )
    plan_slots = (
        np.asarray(result.uplink_slot, dtype=float),
        np.asarray(result.downlink_slot, dtype=float),
    )
    latency, dev_time, comp_j, up_j, source, energy_note = _round_prices(
        problem, batches, plan_slots, fresh, opts.kappa
    )
    notes.append(energy_note)
    notes.append(
        f"clock: each round lasts the plan's latency (eq. (15)), {plan_ev.latency:.6g} s"
        + (" for round 1" if fresh and rounds > 1 else "")
    )
    rule = f"eta = lr sqrt(B / {lr_reference_batch:g})" if lr_rule == "sqrt" else "eta = lr"

    # -- data
    parts = partition(
        dataset.y_train, k, scheme=opts.partition_scheme, rng=np.random.default_rng([opts.seed, 0])
    )
    sampler = FederatedSampler(parts, np.random.default_rng([opts.seed, 1]))
    used = np.minimum(batches, sampler.sizes[None, :])
    short = int(np.count_nonzero(used[0] < batches[0]))
    if short:
        notes.append(
            f"{short} device(s) own fewer samples than their batch and train on all they own; "
            "the clock and the ledger keep the plan's batches"
        )
    if int(used[0].sum()) == 0:
        raise InfeasibleError("no device owns any data: nothing to train on")
    x_tr, y_tr, eval_note = _train_eval_set(dataset, opts)
    if eval_note is not None:
        notes.append(eval_note)
    x_all = dataset.x_train.reshape((dataset.n_train, *spec.input_shape))
    y_all = dataset.y_train

    # -- columns
    nan = np.full(rounds + 1, np.nan)
    energy_round = (comp_j + up_j).sum(axis=1)
    cols: dict[str, np.ndarray] = {
        "cycle": np.arange(rounds + 1, dtype=np.int64),
        "sim_time_s": np.r_[0.0, np.cumsum(latency)],
        "energy_j": np.r_[0.0, np.cumsum(energy_round)],
        "train_loss": nan.copy(),
        "test_accuracy": nan.copy(),
        "test_loss": nan.copy(),
        "cycle_time_s": np.r_[0.0, latency],
        "cycle_energy_j": np.r_[0.0, energy_round],
        "local_iterations": np.arange(rounds + 1, dtype=float),
        "local_steps": np.arange(rounds + 1, dtype=np.int64) * int(np.count_nonzero(plan_batch)),
        "samples_used": np.r_[0, used.sum(axis=1)].astype(np.int64),
        "learner_loss": nan.copy(),
    }
    _evaluate = _evaluator(cols, spec, dataset, x_tr, y_tr)
    t0 = time.perf_counter()
    params = init_params(spec, opts.seed, device=opts.device)
    _evaluate(0, params)
    diverged_at: int | None = None
    bar = progress_bar(opts.progress, rounds, f"training ({result.scheme})")
    with torch_threads(opts.threads), bar as advance:
        for n in range(1, rounds + 1):
            idx = sampler.draw(batches[n - 1])
            xs = [x_all[i] for i in idx]
            ys = [y_all[i] for i in idx]
            total = float(used[n - 1].sum())
            eta = feel_learning_rate(opts.lr, total, rule=lr_rule, reference=lr_reference_batch)
            params, losses = gradient_averaging_step(
                spec, params, xs, ys, lr=eta, batched=opts.batched
            )
            w = used[n - 1].astype(float)
            cols["learner_loss"][n] = float(np.nansum(losses * w) / w.sum())
            if not _still_finite(_evaluate, params, n, rounds, opts.eval_every):
                diverged_at = n
                break
            if advance is not None:
                metric = cols["test_accuracy" if dataset.task == "classification" else "test_loss"]
                last = metric[np.isfinite(metric)]
                advance(1, f"round {n}/{rounds}, {last[-1]:.4f}")
    wall = time.perf_counter() - t0
    if diverged_at is not None:
        msg = (
            f"training diverged at round {diverged_at} (a non-finite loss or parameter) with "
            f"lr = {opts.lr:g} ({rule}); try a smaller learning rate"
        )
        if opts.on_divergence == "raise":
            raise ValidationError("lr", msg)
        msg += f" (the record stops at round {diverged_at})"
        warnings.warn(f"{result.scheme}: {msg}", EdgeallocWarning, stacklevel=2)
        notes.append(msg)
        cols = {name: col[: diverged_at + 1] for name, col in cols.items()}
    done = len(cols["cycle"]) - 1
    span = slice(0, max(done, 1))
    return _feel_record(
        problem,
        dataset,
        spec,
        opts,
        params,
        lr_reference_batch,
        columns=cols,
        scheme=result.scheme,
        deadline_s=float(plan_ev.latency),
        cycle_time_s=float(latency[span].mean()),
        samples=plan_batch,
        samples_used=np.asarray(used[0], dtype=np.int64),
        device_time_s=dev_time[span].mean(axis=0),
        compute_j=comp_j[span].mean(axis=0),
        transmit_j=up_j[span].mean(axis=0),
        energy_source=source,
        notes=tuple(notes),
        result=result,
        wall_time_s=wall,
        diverged_at=diverged_at,
        round_batches=batches[span].copy(),
        round_used=used[span].copy(),
        lr_rule=rule,
    )


def compare_feel(
    problem: FeelProblem,
    dataset: Dataset,
    *,
    schemes: Sequence[str] | None = None,
    spec: ModelSpec | None = None,
    options: TrainOptions | None = None,
    plot_path: Any = None,
    **kwargs: Any,
) -> FeelComparison:
    """Solve ``problem`` with every scheme and train each plan alike (same seed, same rule).

    ``schemes`` default to :func:`trainable_feel_schemes` (every integral
    scheme; ``relaxed`` is the continuous bound). The options are validated
    once, before anything is solved; keyword arguments are
    :class:`~edgealloc.learn.options.TrainOptions` fields.
    """
    opts = train_options(options, kwargs)
    _check_options(opts)
    return _compare_plans(
        problem,
        schemes,
        trainable_feel_schemes(),
        _FAMILY,
        "fractional batches (the continuous relaxation, an upper bound)",
        lambda res: train_feel(problem, res, dataset, spec=spec, options=opts),
        FeelComparison,
        plot_path,
    )
