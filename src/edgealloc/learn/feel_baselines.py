r"""The FEEL paper's Table II benchmarks, trained for real: :func:`train_feel_procedure`.

Ren, Yu & Ding (IEEE JSAC 2021, Ren, Yu & Ding, IEEE JSAC 2021, Section VI-C)
compare their scheme with three procedures that are not batch plans of the
``feel`` family; here each is defined precisely, on the same devices, links,
data partition, initial model and learning-rate rule as
:func:`~edgealloc.learn.feel_training.train_feel`:

``individual`` (individual learning)
    "Each device trains its DNN model until the local loss function
    converges. Then, the edge server aggregates (averages) all local models."
    Every device runs epochs of mini-batch SGD
    (:func:`~edgealloc.learn.local_training.local_epochs`, batches of
    ``local_batch``) on its own data, never exchanging anything;
    row :math:`e` of the record is the :math:`N_k`-weighted average of the
    models after :math:`e` epochs, i.e. what the server would hold if the
    devices stopped there and uploaded once. Its clock: :math:`e` times the
    slowest device's epoch, plus one model upload and download.
``model-feel`` (model-based FEEL, federated averaging)
    "Each device trains its DNN model using the local dataset with one
    epoch. Thereafter, the model parameters are transmitted to the edge
    server for averaging." One round: one local epoch from the global model
    on every device, then the :math:`N_k`-weighted average.
``gradient-feel`` (gradient-based FEEL)
    "Each device trains its DNN model by running one-step SGD ... the
    gradient-based FEEL scheme trains each local model using the entire
    dataset": one round is gradient averaging (eqs. (1)-(2)) with
    :math:`B_k = N_k`, every device's whole local data set.

None of them allocates resources (the paper: the difference from the proposed
scheme is "the joint batchsize selection and communication resource
allocation"), so every link gets equal slots :math:`T_f / K`. A model is as
large as a gradient (:math:`s = b p` bits, 32-bit elements): the paper
attributes model-based FEEL's slowness to gradients being "deeply
compressed", but prices both at 32 bits in its own model (eqs. (10)-(11)),
and so do we. Round latency, eq. (15) with these slots: the slowest local
computation plus upload, then the slowest download plus update; the local
computation of an epoch is :math:`N_k C / f_k` on a CPU and
:math:`\lceil N_k / b \rceil` batches of Assumption 1's :math:`t_k(b)` on a
GPU (the last one shorter). Energy: :func:`~edgealloc.learn.feel_energy.feel_round_energy`
for the samples processed.

Learning rate: the square-root rule of :mod:`.feel_training` for every
step, with the step's batch: :math:`\eta = \eta_{ref}\sqrt{b / 128}` for a
local mini-batch of :math:`b`, :math:`\eta_{ref}\sqrt{N / 128}` for the
gradient-based round over all :math:`N` samples.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np

from .._validation import check_choice, check_int
from ..errors import EdgeallocWarning, ValidationError
from ..feel.problem import FeelProblem
from ..result import Result, Status
from ._runtime import torch_threads
from .data import Dataset
from .engine import gradient_averaging_step, init_params
from .feel_energy import feel_round_energy
from .feel_records import FeelRecord
from .feel_training import (
    LR_REFERENCE_BATCH,
    LR_RULES,
    _check_options,
    _feel_record,
    feel_learning_rate,
)
from .local_training import average_params, local_epochs, stack_params
from .models import ModelSpec
from .options import TrainOptions, train_options
from .partition import partition
from .training import (
    _check_dataset,
    _check_model,
    _evaluator,
    _still_finite,
    _train_eval_set,
)

__all__ = ["LOCAL_BATCH", "PROCEDURES", "procedure_prices", "train_feel_procedure"]

#: The benchmark procedures of Table II.
PROCEDURES: tuple[str, ...] = ("individual", "model-feel", "gradient-feel")
#: Samples per local mini-batch step of ``individual`` and ``model-feel``.
LOCAL_BATCH = 32


def _epoch_time(problem: FeelProblem, n: np.ndarray, b: int) -> np.ndarray:
    """Seconds of one local epoch over ``n`` samples in mini-batches of ``b``."""
    if problem.gpu is None:
        return problem.compute_time(n)
    full, rest = n // b, n % b
    t_b = problem.compute_time(np.full(n.shape, float(b)))
    t_rest = np.where(rest > 0, problem.compute_time(rest.astype(float)), 0.0)
    return full * t_b + t_rest


def procedure_prices(
    problem: FeelProblem,
    procedure: str,
    sizes: Any,
    *,
    local_batch: int = LOCAL_BATCH,
    kappa: float = 1e-28,
) -> dict[str, Any]:
    r"""Per-round (per-epoch) times and energy of a procedure on local data sets ``sizes``.

    Returns ``compute_s`` (per device), ``exchange_s`` (one upload and one
    download with equal slots: :math:`\max_k K w_k + \max_k(K v_k + u_k)`),
    ``round_s`` (eq. (15) with equal slots: compute plus exchange for
    ``gradient-feel`` and ``model-feel``; one epoch for ``individual``),
    ``device_s`` (eq. (13)), and the energy parts per round ``compute_j``,
    ``transmit_j`` with its ``source`` and ``note``.
    """
    check_choice("procedure", procedure, PROCEDURES)
    n = np.asarray(sizes, dtype=np.int64)
    k = problem.n_devices
    s = float(problem.gradient_bits)
    w = s / problem.uplink_rate * k  # upload with a 1/K share of every frame
    v = s / problem.downlink_rate * k
    u = problem.update_time()
    if procedure == "gradient-feel":
        compute = problem.compute_time(n.astype(float))
        energy = feel_round_energy(problem, n, kappa=kappa)
    else:
        compute = _epoch_time(problem, n, local_batch)
        energy = feel_round_energy(problem, n, kappa=kappa, compute_time=compute)
    up_phase = float(np.max(compute + w))
    down_phase = float(np.max(v + u))
    exchange = float(np.max(w)) + down_phase
    round_s = float(np.max(compute)) if procedure == "individual" else up_phase + down_phase
    transmit = energy.transmit_j
    return {
        "compute_s": compute,
        "exchange_s": exchange,
        "round_s": round_s,
        "device_s": up_phase + v + u,
        "compute_j": energy.compute_j,
        "transmit_j": transmit,
        "source": energy.source,
        "note": energy.note,
    }


def _result(problem: FeelProblem, procedure: str, sizes: np.ndarray, message: str) -> Result:
    return Result(
        family="feel",
        scheme=procedure,
        status=Status.FEASIBLE,
        objective=math.nan,
        bound=math.nan,
        message=message,
        solve_seconds=0.0,
        allocation=None,
        info={"procedure": procedure, "local_data": [int(v) for v in sizes]},
    )


def train_feel_procedure(
    problem: FeelProblem,
    dataset: Dataset,
    procedure: str,
    *,
    spec: ModelSpec | None = None,
    options: TrainOptions | None = None,
    local_batch: int = LOCAL_BATCH,
    lr_rule: str = "sqrt",
    lr_reference_batch: float = LR_REFERENCE_BATCH,
    **kwargs: Any,
) -> FeelRecord:
    """Train one of the Table II benchmark procedures (module docstring).

    ``options.cycles`` counts rounds (``model-feel``, ``gradient-feel``) or
    local epochs (``individual``); the partition, seed, learning rate and
    device are :class:`~edgealloc.learn.options.TrainOptions`' as for
    :func:`~edgealloc.learn.feel_training.train_feel`, whose initial model
    and data partition are the same for the same seed.

    Raises
    ------
    ValidationError
        An unknown procedure, bad options, or (``on_divergence="raise"``)
        training that diverges (field ``lr``).
    """
    opts = train_options(options, kwargs)
    if not isinstance(problem, FeelProblem):
        raise ValidationError("problem", f"must be a FeelProblem (got {type(problem).__name__})")
    _check_dataset(dataset)
    _check_options(opts)
    check_choice("procedure", procedure, PROCEDURES)
    check_choice("lr_rule", lr_rule, LR_RULES)
    b = check_int("local_batch", local_batch, minimum=1)
    spec = _check_model(spec, dataset)
    k = problem.n_devices
    parts = partition(
        dataset.y_train, k, scheme=opts.partition_scheme, rng=np.random.default_rng([opts.seed, 0])
    )
    sizes = np.array([len(p) for p in parts], dtype=np.int64)
    if int(sizes.sum()) == 0:
        raise ValidationError("dataset", "no device owns any data")
    prices = procedure_prices(problem, procedure, sizes, local_batch=b, kappa=opts.kappa)
    rng = np.random.default_rng([opts.seed, 1])
    x_all = dataset.x_train.reshape((dataset.n_train, *spec.input_shape))
    y_all = dataset.y_train
    x_tr, y_tr, _ = _train_eval_set(dataset, opts)
    rounds = opts.cycles
    local_lr = feel_learning_rate(opts.lr, b, rule=lr_rule, reference=lr_reference_batch)
    grad_lr = feel_learning_rate(
        opts.lr, float(sizes.sum()), rule=lr_rule, reference=lr_reference_batch
    )
    nan = np.full(rounds + 1, np.nan)
    energy_round = float(prices["compute_j"].sum() + prices["transmit_j"].sum())
    if procedure == "individual":
        steps = np.r_[0.0, np.full(rounds, prices["round_s"])]
        sim = np.cumsum(steps) + np.r_[0.0, np.full(rounds, prices["exchange_s"])]
        energy = np.r_[0.0, np.arange(1, rounds + 1) * float(prices["compute_j"].sum())]
        energy[1:] += float(prices["transmit_j"].sum())
    else:
        sim = np.arange(rounds + 1, dtype=float) * prices["round_s"]
        energy = np.arange(rounds + 1, dtype=float) * energy_round
    per_round_steps = (
        int(np.count_nonzero(sizes))
        if procedure == "gradient-feel"
        else int((-(-sizes // b)).sum())
    )
    cols: dict[str, np.ndarray] = {
        "cycle": np.arange(rounds + 1, dtype=np.int64),
        "sim_time_s": sim,
        "energy_j": energy,
        "train_loss": nan.copy(),
        "test_accuracy": nan.copy(),
        "test_loss": nan.copy(),
        "cycle_time_s": np.r_[0.0, np.diff(sim)],
        "cycle_energy_j": np.r_[0.0, np.diff(energy)],
        "local_iterations": np.arange(rounds + 1, dtype=float)
        * (1.0 if procedure == "gradient-feel" else float((-(-sizes // b)).max())),
        "local_steps": np.arange(rounds + 1, dtype=np.int64) * per_round_steps,
        "samples_used": np.r_[0, np.full(rounds, int(sizes.sum()))].astype(np.int64),
        "learner_loss": nan.copy(),
    }
    _evaluate = _evaluator(cols, spec, dataset, x_tr, y_tr)
    t0 = time.perf_counter()
    params = init_params(spec, opts.seed, device=opts.device)
    _evaluate(0, params)
    weights = sizes.astype(float)
    stacked = stack_params(params, k) if procedure == "individual" else None
    diverged_at: int | None = None
    with torch_threads(opts.threads):
        for n in range(1, rounds + 1):
            if procedure == "gradient-feel":
                xs = [x_all[p] for p in parts]
                ys = [y_all[p] for p in parts]
                params, losses = gradient_averaging_step(
                    spec, params, xs, ys, lr=grad_lr, batched=opts.batched
                )
            else:
                # model-feel starts every epoch from the global model, individual from its own
                start = stack_params(params, k) if procedure == "model-feel" else stacked
                assert start is not None
                local, losses = local_epochs(
                    spec, start, x_all, y_all, parts, epochs=1, batch_size=b, lr=local_lr, rng=rng
                )
                if procedure == "individual":
                    stacked = local
                params = average_params(local, weights)
            good = np.isfinite(losses) & (weights > 0)
            if good.any():
                cols["learner_loss"][n] = float(
                    (losses[good] * weights[good]).sum() / weights[good].sum()
                )
            if not _still_finite(_evaluate, params, n, rounds, opts.eval_every):
                diverged_at = n
                break
    wall = time.perf_counter() - t0
    notes = [
        prices["note"],
        f"{procedure}: equal slots T_f / {k} on both links; a model upload costs what a "
        f"gradient does ({float(problem.gradient_bits):.4g} bits)",
    ]
    if diverged_at is not None:
        msg = (
            f"{procedure} diverged at {'epoch' if procedure == 'individual' else 'round'} "
            f"{diverged_at} with lr = {opts.lr:g}; try a smaller learning rate"
        )
        if opts.on_divergence == "raise":
            raise ValidationError("lr", msg)
        warnings.warn(msg, EdgeallocWarning, stacklevel=2)
        notes.append(msg)
        cols = {name: col[: diverged_at + 1] for name, col in cols.items()}
    done = max(len(cols["cycle"]) - 1, 1)
    batches = np.tile(sizes, (done, 1))
    ref = "b" if procedure != "gradient-feel" else "N"
    rule = f"eta = lr sqrt({ref} / {lr_reference_batch:g})" if lr_rule == "sqrt" else "eta = lr"
    message = {
        "individual": f"local epochs of mini-batch SGD (b = {b}), one model average at the end",
        "model-feel": f"one local epoch of mini-batch SGD (b = {b}) per round, models averaged",
        "gradient-feel": "one gradient step per round on every device's whole data set",
    }[procedure]
    return _feel_record(
        problem,
        dataset,
        spec,
        opts,
        params,
        lr_reference_batch,
        columns=cols,
        scheme=procedure,
        deadline_s=float(prices["round_s"]),
        cycle_time_s=float(prices["round_s"]),
        samples=sizes,
        samples_used=sizes,
        device_time_s=np.asarray(prices["device_s"], dtype=float),
        compute_j=np.asarray(prices["compute_j"], dtype=float),
        transmit_j=(
            np.zeros(k) if procedure == "individual" else np.asarray(prices["transmit_j"], float)
        ),
        energy_source=prices["source"],
        notes=tuple(notes),
        result=_result(problem, procedure, sizes, message),
        wall_time_s=wall,
        diverged_at=diverged_at,
        round_batches=batches,
        round_used=batches,
        lr_rule=rule,
    )
