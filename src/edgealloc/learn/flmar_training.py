r"""Training under an ``flmar`` plan on a simulated clock: :func:`train_flmar` and its comparison.

[FLMAR] X. Zhou, C. Liu, J. Zhao, *Resource Allocation of Federated Learning
for the Metaverse with Mobile Augmented Reality* (IEEE TWC 2023). A plan
gives every device :math:`n` a bandwidth :math:`b_n`, a power :math:`p_n`, a
CPU clock :math:`f_n` and a frame resolution :math:`s_n`, used for all
:math:`R_g` rounds (FLMAR.md section 1). :func:`train_flmar` trains the
federation the plan describes, the way
:func:`edgealloc.learn.flmar_accuracy.train_with_resolutions` does, one round
after the other and on the plan's clock:

* **What trains.** FedAvg of the given model (``edgealloc train --model``;
  :func:`~edgealloc.learn.flmar_accuracy.train_federated` trains the CNN):
  every round each device starts from the global model, runs :math:`R_l`
  (``problem.local_iterations``, the paper's local iterations, one pass over
  :math:`D_n` each) full-batch gradient steps on its own data
  (:func:`edgealloc.learn.engine.local_sgd_cycle`, all devices batched), and
  the new global model is the :math:`D_n`-weighted average of the local
  ones. The training set is partitioned once over the :math:`N` devices
  (``TrainOptions.partition_scheme``, stream ``[seed, 0]``).
* **Resolution.** Device :math:`n` sees its images at its planned
  resolution, the mapping of :mod:`~edgealloc.learn.flmar_accuracy`: the
  largest option :math:`s_K` is the data set's native side :math:`H`, option
  :math:`s_k` shows an image at side
  :math:`h_k = \max(1, \operatorname{round}(H s_k / s_K))`
  (:func:`~edgealloc.learn.flmar_accuracy.side_lengths`), area-averaged down
  and bilinearly back to :math:`H`
  (:func:`~edgealloc.learn.flmar_accuracy.at_resolution`).
* **The clock and the energy.** Round :math:`r` advances the simulated clock
  by the plan's round time :math:`T / R_g = \max_n (T_n^{cmp} + T_n^{com})`
  (eq. (11)) and the devices' energy by :math:`E / R_g` (eq. (9)), both as
  :meth:`~edgealloc.flmar.FlmarProblem.evaluate` prices the plan. They are the
  scenario's workload (the paper's YOLO: :math:`c_n` cycles per frame,
  :math:`D_n` frames, :math:`d_n` bits), not the trained model's; a device
  trains on the images it owns, however many the plan prices.
* **Readings.** After every round (``eval_every``): ``test_accuracy`` and
  ``test_loss`` are the means over devices of the global model's test
  accuracy and loss at each device's own resolution (the paper's
  :math:`\sum_n A(s_n) / N`, measured); :attr:`FlmarRecord.accuracy_native`
  the test accuracy at the native side; ``train_loss`` the loss of the
  global model on every device's training images at its resolution, the
  :math:`D_n`-weighted mean over devices (on a fixed subset of at most
  ``train_eval_samples``); ``learner_loss`` the same at the start of the
  round, from the devices' own first step.

The record is a :class:`~edgealloc.learn.records.RunRecord` (the same CSV
columns): ``cycle`` is the round, ``tau`` of the ledger is :math:`R_l`,
``samples`` the plan's :math:`D_n`, ``samples_used`` the images the device
owns, ``cpu_hz`` the planned clock and ``class`` the planned resolution.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EdgeallocWarning, InfeasibleError, ValidationError
from ..flmar.problem import FlmarProblem
from ..flmar.scenario import compile_flmar
from ..result import Result
from ._runtime import progress_bar, torch_threads
from .comparison import _compare_plans
from .data import Dataset
from .energy import KAPPA
from .engine import evaluate, init_params, local_sgd_cycle
from .flmar_accuracy import at_resolution, side_lengths
from .models import ModelSpec
from .options import TrainOptions, train_options
from .partition import partition
from .plots import _draw_panels, _finish, _four_panels
from .records import PlanComparison, RunRecord, _final_columns
from .scenario import _model_meta, _scenario_document
from .training import (
    _check_dataset,
    _check_model,
    _check_result,
    _still_finite,
    _trainable_schemes,
)

__all__ = [
    "FlmarComparison",
    "FlmarRecord",
    "check_flmar_options",
    "compare_flmar",
    "flmar_scenario_for_model",
    "plot_flmar_records",
    "summary_rows",
    "train_flmar",
    "trainable_flmar_schemes",
]

_FAMILY = "flmar"
#: Schemes that choose the resolutions by the objective (the others fix or draw them).
_CHOOSES_RESOLUTION = frozenset({"optimal", "paper", "comp-only"})
#: The setting that moves ``mar-paper``'s optimal plan off the smallest option (checked in
#: docs/flmar.md, "Training": N = 50, optimal at 480/640 px).
_RHO_HINT = 20


def trainable_flmar_schemes() -> list[str]:
    """The ``flmar`` schemes whose plans train (the family's ``trainable``, in order)."""
    return _trainable_schemes(_FAMILY)


def check_flmar_options(opts: TrainOptions) -> None:
    """Refuse the :class:`~edgealloc.learn.options.TrainOptions` that do not apply to ``flmar``."""
    if opts.mode not in (None, "federated"):
        raise ValidationError(
            "mode",
            f"FL-MAR devices own their frames (FedAvg is federated); {opts.mode} learning does "
            "not apply (leave it out or use federated)",
        )
    if opts.clock != "slowest":
        raise ValidationError(
            "clock",
            "an FL-MAR round lasts the plan's round time, the slowest device (eq. (11)); "
            "there is no deadline to fill (leave it out)",
        )
    if opts.kappa != KAPPA:
        raise ValidationError(
            "kappa",
            "the FL-MAR plan prices energy with the scenario's capacitance (eqs. (8)-(9)); "
            "set it there (--set devices.capacitance=...) and leave kappa out",
        )


# ---------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------
def flmar_scenario_for_model(
    scenario: Any,
    spec: ModelSpec,
    overrides: Mapping[str, Any] | None = None,
    *,
    mode: str | None = None,
) -> tuple[FlmarProblem, list[str]]:
    """The ``flmar`` scenario compiled as is (:func:`~edgealloc.flmar.scenario.compile_flmar`).

    The plan's workload stays the scenario's (the paper's YOLO: cycles per
    frame, frames, upload bits); the trained model is recorded in
    ``meta["trained_model"]``. Returns the problem and the notes (what is
    trained, what is priced).

    Raises
    ------
    ValidationError
        ``mode`` other than federated, a canonical problem, another family's
        scenario, and whatever the compiler refuses.
    """
    if mode not in (None, "federated"):
        raise ValidationError(
            "mode",
            f"FL-MAR devices own their frames (FedAvg is federated); {mode} learning does not "
            "apply (leave it out or use federated)",
        )
    if not isinstance(spec, ModelSpec):
        raise ValidationError("spec", f"must be a ModelSpec (got {type(spec).__name__})")
    from ..scenarios import apply_overrides

    base = apply_overrides(_scenario_document(scenario, _FAMILY), dict(overrides or {}))
    problem = compile_flmar(base)
    meta = dict(problem.meta or {})
    meta["trained_model"] = _model_meta(spec)
    problem = problem.replace(meta=meta)
    bits = np.unique(problem.bits)
    upload = f"{bits[0]:.4g} bits" if bits.size == 1 else f"{bits.min():.4g}-{bits.max():.4g} bits"
    note = (
        f"workload: the plan's cycles (c_n D_n (s_n/s_0)^2 per local iteration, eq. (7)) and "
        f"upload (d_n = {upload}) are the scenario's, the paper's YOLO workload, not the trained "
        f"{spec.kind}'s ({spec.n_params:,} parameters, {32 * spec.n_params:,} bits); the "
        f"{spec.kind} trains by FedAvg, R_l = {problem.local_iterations:g} full-batch local steps "
        "per round, each device on its images shown at its planned resolution (the largest "
        "option = the native side)"
    )
    return problem, [note]


# ---------------------------------------------------------------------------
# The record
# ---------------------------------------------------------------------------
def _span(values: np.ndarray) -> str:
    """``160 (50)`` or ``480 (14), 640 (36)``: each resolution and how many devices plan it."""
    s, n = np.unique(np.asarray(values, dtype=float), return_counts=True)
    return ", ".join(f"{v:g} ({c})" for v, c in zip(s, n, strict=True))


@dataclasses.dataclass(frozen=True, eq=False)
class FlmarRecord(RunRecord):
    r"""A :class:`RunRecord` of FedAvg under an ``flmar`` plan (module docstring).

    Attributes (besides :class:`RunRecord`'s)
    -----------------------------------------
    resolution
        Per device, the planned resolution :math:`s_n` (px).
    sides
        Per device, the image side it trained on (px of the data set).
    native_side
        The data set's side :math:`H` (shown at :math:`s_K`).
    accuracy_native
        Per row, the test accuracy of the global model at the native side
        (NaN where not evaluated).
    predicted_accuracy
        The plan's :math:`\sum_n A(s_n) / N` from the problem's table.
    rounds_planned
        :math:`R_g`, the rounds the plan prices.
    local_steps
        The local full-batch steps per round (:math:`R_l`).
    partition
        Per device, the indices of the training images it owns.
    """

    resolution: np.ndarray | None = None
    sides: np.ndarray | None = None
    native_side: int = 0
    accuracy_native: np.ndarray | None = None
    predicted_accuracy: float = math.nan
    rounds_planned: float = math.nan
    local_steps: int = 0
    partition: tuple[np.ndarray, ...] = ()

    @property
    def label(self) -> str:
        """One line for legends: resolutions, round time, energy per round."""
        res = _span(self.resolution) if self.resolution is not None else "?"
        energy = float(self.device_energy_j.sum())
        return f"{self.scheme}: {res} px, round {self.cycle_time_s:.3g} s, {energy:.3g} J/round"

    def describe(self) -> str:
        """One line: data, model, devices, local steps, learning rate."""
        where = f"{self.problem_name}: " if self.problem_name else ""
        return (
            f"{where}{self.dataset} ({self.task}, {self.native_side} px native), {self.spec.kind} "
            f"({self.spec.n_params:,} parameters), FedAvg ({self.partition_scheme}), "
            f"N = {self.n_devices}, R_l = {self.local_steps}, lr = {self.lr:g}, seed {self.seed}"
        )

    def plot(self, path: str | Path, *, title: str | None = None) -> Path:
        """Accuracy and loss against rounds, time and energy (:func:`plot_flmar_records`)."""
        return plot_flmar_records([self], path, title=title)


@dataclasses.dataclass(frozen=True, eq=False)
class FlmarComparison(PlanComparison):
    """One :class:`FlmarRecord` per scheme, trained alike (:func:`compare_flmar`).

    Rows: resolutions, round time and energy, final accuracies (:func:`summary_rows`).
    """

    @staticmethod
    def plot_records(records: list[RunRecord], path: str | Path, *, title: str | None) -> Path:
        return plot_flmar_records(records, path, title=title)

    @staticmethod
    def rows(records: Mapping[str, RunRecord]) -> list[dict[str, Any]]:
        return summary_rows(records)


def summary_rows(records: Mapping[str, RunRecord]) -> list[dict[str, Any]]:
    """The summary table: resolutions, round time and energy, final accuracies and loss."""
    rows = []
    for scheme, rec in records.items():
        flmar = isinstance(rec, FlmarRecord)
        row: dict[str, Any] = {
            "scheme": scheme,
            "px (devices)": _span(rec.resolution) if flmar and rec.resolution is not None else "",
            "round_s": rec.cycle_time_s,
            "j_per_round": float(rec.device_energy_j.sum()),
            "rounds": rec.cycles,
            **_final_columns(rec),
        }
        if flmar and rec.accuracy_native is not None:
            row["acc native"] = float(rec.accuracy_native[-1])
            row["table ΣA/N"] = rec.predicted_accuracy
        rows.append(row)
    return rows


def plot_flmar_records(
    records: Sequence[RunRecord], path: str | Path, *, title: str | None = None
) -> Path:
    """Plot ``flmar`` records together: accuracy against rounds, simulated time and energy.

    The accuracy is the mean over devices at each device's own resolution;
    the training loss is drawn against simulated time. Each scheme in its
    colour (:func:`edgealloc._style.scheme_color`).
    """
    p, fig, axes = _four_panels(records, path)
    first = records[0]
    metric = first.metric
    ylabel = "test accuracy, own resolutions" if metric == "test_accuracy" else "test loss"
    panels = (
        (axes[0, 0], "cycle", metric, "global round", ylabel),
        (axes[0, 1], "sim_time_s", metric, "simulated time (s)", ylabel),
        (axes[1, 0], "energy_j", metric, "energy spent, all devices (J)", ylabel),
        (axes[1, 1], "sim_time_s", "train_loss", "simulated time (s)", "training loss"),
    )
    _draw_panels(records, panels)
    axes[0, 0].set_title("mean over devices of the accuracy at their resolution", fontsize=10)
    axes[0, 1].set_title("against the simulated clock (the plan's T / R_g, eq. (11))", fontsize=10)
    axes[1, 0].set_title("against energy (the plan's E / R_g per round, eq. (9))", fontsize=10)
    return _finish(fig, axes, first, title, p)


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------
def _native(dataset: Dataset, spec: ModelSpec) -> int:
    shape = dataset.feature_shape
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValidationError(
            "dataset",
            f"needs square images (C, H, H) to show at a resolution, not features of shape {shape}",
        )
    if tuple(spec.input_shape) != tuple(shape):
        raise ValidationError(
            "spec", f"takes inputs {spec.input_shape}, the images are {tuple(shape)}"
        )
    return int(shape[1])


def _plan(problem: FlmarProblem, result: Result) -> Any:
    """The evaluation of the result's plan on ``problem`` (feasible, one option per device)."""
    _check_result(result, _FAMILY)
    n = problem.n_devices
    plan = [np.asarray(getattr(result, k), dtype=float).reshape(-1) for k in _PLAN]
    if any(v.shape != (n,) for v in plan):
        raise ValidationError(
            "result",
            f"has a plan for {plan[0].size} devices, the problem {n}: it was solved "
            "for another problem",
        )
    ev = problem.evaluate(*plan)
    if not ev.feasible:
        raise ValidationError("result", f"the plan does not fit the problem: {ev.violations[0]}")
    return ev, plan[2], plan[3]


_PLAN = ("bandwidth", "power", "frequency", "resolution")


def _local_steps(problem: FlmarProblem, local_steps: int | None, notes: list[str]) -> int:
    if local_steps is not None:
        if isinstance(local_steps, bool) or not isinstance(local_steps, int) or local_steps < 1:
            raise ValidationError("local_steps", f"must be an integer >= 1 (got {local_steps!r})")
        if local_steps != problem.local_iterations:
            notes.append(
                f"{local_steps} local steps per round; the plan prices R_l = "
                f"{problem.local_iterations:g}"
            )
        return local_steps
    steps = max(1, math.floor(problem.local_iterations + 0.5))
    if steps != problem.local_iterations:
        notes.append(
            f"R_l = {problem.local_iterations:g} local iterations rounded to {steps} steps a round"
        )
    return steps


def train_flmar(
    problem: FlmarProblem,
    result: Result,
    dataset: Dataset,
    *,
    spec: ModelSpec | None = None,
    options: TrainOptions | None = None,
    local_steps: int | None = None,
    **kwargs: Any,
) -> FlmarRecord:
    r"""Train FedAvg under an ``flmar`` plan, each device at its resolution; record it on the clock.

    Parameters
    ----------
    problem
        The ``flmar`` problem the plan solves.
    result
        A result of :func:`edgealloc.solve` for ``problem`` (its bandwidth,
        power, clock and resolution per device).
    dataset
        Square images (``digits``, ``mnist``, ``cifar10``), partitioned over
        the :math:`N` devices by ``options.partition_scheme``.
    spec
        The model (default: the data set's ``"mlp"``), taking the images at
        their native size.
    options
        :class:`~edgealloc.learn.options.TrainOptions`: ``cycles`` is the
        number of rounds (the plan prices :math:`R_g`, a note says when they
        differ), ``lr`` the rate of the local steps; ``mode`` must be
        ``None`` or ``"federated"``, ``clock`` ``"slowest"`` and ``kappa``
        the default (the energy is the plan's).
    local_steps
        Local full-batch steps per round (default: :math:`R_l`, rounded).
    **kwargs
        :class:`~edgealloc.learn.options.TrainOptions` fields.

    Returns
    -------
    FlmarRecord
        One row per round (:data:`~edgealloc.learn.records.RECORD_COLUMNS`),
        row :math:`r` at simulated time :math:`r T / R_g` and energy
        :math:`r E / R_g`.

    Raises
    ------
    ValidationError
        Bad options (naming the field), a result for another problem or
        family, a plan that does not fit, a data set that is not square
        images, or (with ``on_divergence="raise"``) training that diverges.
    InfeasibleError
        An infeasible result, or no device owns any image.

    Examples
    --------
    >>> import edgealloc
    >>> from edgealloc.learn import load_dataset
    >>> from edgealloc.learn.models import model_for
    >>> data = load_dataset("digits", n_samples=300)
    >>> problem, _ = flmar_scenario_for_model("mar-paper", model_for(data, "mlp"), {"N": 3})
    >>> rec = train_flmar(problem, edgealloc.solve(problem, "paper"), data, cycles=2)
    >>> rec["cycle"].tolist(), rec.sides.tolist()
    ([0, 1, 2], [2, 2, 2])
    """
    opts = train_options(options, kwargs)
    if not isinstance(problem, FlmarProblem):
        raise ValidationError("problem", f"must be an FlmarProblem (got {type(problem).__name__})")
    _check_dataset(dataset)
    check_flmar_options(opts)
    spec = _check_model(spec, dataset)
    native = _native(dataset, spec)
    ev, freq, resolution = _plan(problem, result)
    n = problem.n_devices
    rounds = opts.cycles
    notes: list[str] = []
    steps = _local_steps(problem, local_steps, notes)
    sides = side_lengths(problem.resolutions, native)[ev.option]
    r_g = float(problem.rounds)
    round_time = float(ev.round_time)
    per_round = (ev.energy_computation_device + ev.energy_transmission_device) / r_g
    notes.append(
        "clock: a round lasts the plan's round time T / R_g = max_n (T_n^cmp + T_n^com) "
        "(eq. (11)) and costs its energy E / R_g (eq. (9))"
    )
    if rounds != r_g:
        notes.append(
            f"the plan prices R_g = {r_g:g} rounds; {rounds} trained (--cycles {r_g:g} trains "
            "them all)"
        )
    s1 = float(problem.resolutions[0])
    if result.scheme in _CHOOSES_RESOLUTION and np.all(resolution == s1):
        notes.append(
            f"every device plans s_1 = {s1:g} px: at rho = {problem.weights.accuracy:g} a larger "
            "frame's accuracy is worth less than its energy and time, so this plan trains what "
            "minpixel trains and differs in energy and time only; a larger --set rho=... moves "
            f"devices up (mar-paper, N = 50: rho = {_RHO_HINT} puts optimal's at 480-640 px)"
        )

    # -- data: each device's images at its side
    parts = partition(
        dataset.y_train, n, scheme=opts.partition_scheme, rng=np.random.default_rng([opts.seed, 0])
    )
    owned = np.array([len(p) for p in parts], dtype=np.int64)
    if int(owned.sum()) == 0:
        raise InfeasibleError("no device owns any image: nothing to train on")
    planned = np.asarray(problem.samples, dtype=float) * np.ones(n)
    notes.append(
        f"each device trains on the images it owns ({int(owned.min())}-{int(owned.max())} of "
        f"{dataset.n_train}); the clock and the ledger keep the plan's D_n = "
        f"{_num_span(planned)} frames"
    )
    shape = (-1, *spec.input_shape)
    distinct = sorted({int(v) for v in sides} | {native})
    shown = {v: at_resolution(dataset.x_train, v).reshape(shape) for v in distinct if v in sides}
    xs = [shown[int(sides[i])][p] for i, p in enumerate(parts)]
    ys = [dataset.y_train[p] for p in parts]
    tau = np.full(n, steps, dtype=np.int64)
    weights = owned.astype(float)
    test = {v: at_resolution(dataset.x_test, v).reshape(shape) for v in distinct}
    device_count = {v: int(np.count_nonzero(sides == v)) for v in distinct}
    train_sets = _train_eval_sets(dataset, parts, sides, shown, opts)

    # -- columns
    nan = np.full(rounds + 1, np.nan)
    r = np.arange(rounds + 1)
    cols: dict[str, np.ndarray] = {
        "cycle": r.astype(np.int64),
        "sim_time_s": r * round_time,
        "energy_j": r * float(per_round.sum()),
        "train_loss": nan.copy(),
        "test_accuracy": nan.copy(),
        "test_loss": nan.copy(),
        "cycle_time_s": np.r_[0.0, np.full(rounds, round_time)],
        "cycle_energy_j": np.r_[0.0, np.full(rounds, float(per_round.sum()))],
        "local_iterations": (r * steps).astype(float),
        "local_steps": r.astype(np.int64) * steps * int(np.count_nonzero(owned)),
        "samples_used": np.r_[0, np.full(rounds, int(owned.sum()))].astype(np.int64),
        "learner_loss": nan.copy(),
    }
    native_acc = nan.copy()

    def _evaluate(row: int, params: Mapping[str, Any]) -> bool:
        acc, loss = {}, {}
        for v in distinct:
            loss[v], acc[v] = evaluate(spec, params, test[v], dataset.y_test)
        used = [v for v in distinct if device_count[v]]
        w = np.array([device_count[v] for v in used], dtype=float)
        cols["test_accuracy"][row] = float(np.dot(w, [acc[v] for v in used]) / w.sum())
        cols["test_loss"][row] = float(np.dot(w, [loss[v] for v in used]) / w.sum())
        native_acc[row] = acc[native]
        total = sum(len(y) for _, y in train_sets)
        cols["train_loss"][row] = sum(
            len(y) * evaluate(spec, params, x, y)[0] for x, y in train_sets
        ) / max(total, 1)
        return math.isfinite(cols["train_loss"][row]) and math.isfinite(cols["test_loss"][row])

    t0 = time.perf_counter()
    params = init_params(spec, opts.seed, device=opts.device)
    diverged_at: int | None = None
    bar = progress_bar(opts.progress, rounds, f"training ({result.scheme})")
    with torch_threads(opts.threads), bar as advance:
        _evaluate(0, params)
        for k in range(1, rounds + 1):
            params, losses = local_sgd_cycle(
                spec, params, xs, ys, tau, lr=opts.lr, batched=opts.batched
            )
            live = owned > 0
            cols["learner_loss"][k] = float(np.average(losses[live], weights=weights[live]))
            if not _still_finite(_evaluate, params, k, rounds, opts.eval_every):
                diverged_at = k
                break
            if advance is not None:
                last = cols["test_accuracy" if dataset.task == "classification" else "test_loss"]
                last = last[np.isfinite(last)]
                advance(1, f"round {k}/{rounds}, {last[-1]:.4f}")
    wall = time.perf_counter() - t0
    _slow_note(cols["train_loss"], opts.lr, notes)
    if diverged_at is not None:
        msg = (
            f"training diverged at round {diverged_at} (a non-finite loss or parameter) with "
            f"lr = {opts.lr:g}; try a smaller learning rate"
        )
        if opts.on_divergence == "raise":
            raise ValidationError("lr", msg)
        msg += f" (the record stops at round {diverged_at})"
        warnings.warn(f"{result.scheme}: {msg}", EdgeallocWarning, stacklevel=2)
        notes.append(msg)
        cols = {name: col[: diverged_at + 1] for name, col in cols.items()}
        native_acc = native_acc[: diverged_at + 1]
    return FlmarRecord(
        columns=cols,
        scheme=result.scheme,
        mode="federated",
        partition_scheme=opts.partition_scheme,
        clock="round-time",
        dataset=dataset.name,
        task=dataset.task,
        spec=spec,
        seed=opts.seed,
        lr=opts.lr,
        deadline_s=float(problem.round_limit),
        cycle_time_s=round_time,
        tau=tau,
        samples=np.rint(planned).astype(np.int64),
        samples_used=owned,
        device_time_s=np.asarray(ev.device_time, dtype=float),
        compute_j=np.asarray(ev.energy_computation_device, dtype=float) / r_g,
        transmit_j=np.asarray(ev.energy_transmission_device, dtype=float) / r_g,
        energy_source="problem",
        notes=tuple(notes),
        result=result,
        problem_name=problem.name,
        classes=tuple(f"{s:g} px (side {h})" for s, h in zip(resolution, sides, strict=True)),
        cpu_hz=np.asarray(freq, dtype=float),
        params=params if opts.keep_params else None,
        wall_time_s=wall,
        diverged_at=diverged_at,
        resolution=resolution.copy(),
        sides=np.asarray(sides, dtype=np.int64),
        native_side=native,
        accuracy_native=native_acc,
        predicted_accuracy=float(ev.mean_accuracy),
        rounds_planned=r_g,
        local_steps=steps,
        partition=tuple(np.asarray(p) for p in parts),
    )


#: A final training loss above this share of the initial one: the run learned next to nothing.
_SLOW = 0.9


def _slow_note(loss: np.ndarray, lr: float, notes: list[str]) -> None:
    """A note when the training loss hardly fell (the rounds are too few or the rate too small)."""
    finite = loss[np.isfinite(loss)]
    if finite.size >= 2 and finite[-1] > _SLOW * finite[0]:
        notes.append(
            f"the training loss fell by less than {1 - _SLOW:.0%} (lr = {lr:g}): too few steps "
            "for the resolutions to show; raise --lr or --cycles (on digits the held-out rule of "
            "learn.flmar_accuracy picks 0.5 for the CNN: --model cnn --lr 0.5)"
        )


def _num_span(values: np.ndarray) -> str:
    lo, hi = float(values.min()), float(values.max())
    return f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}"


def _train_eval_sets(
    dataset: Dataset,
    parts: Sequence[np.ndarray],
    sides: np.ndarray,
    shown: Mapping[int, np.ndarray],
    opts: TrainOptions,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The training images ``train_loss`` is measured on, grouped by side: each at its owner's.

    All of them, or a fixed random subset of ``train_eval_samples`` (stream ``[seed, 2]``).
    """
    owner = np.full(dataset.n_train, -1, dtype=np.int64)
    for side, p in zip(sides, parts, strict=True):
        owner[p] = int(side)
    pick = np.arange(dataset.n_train)
    if opts.train_eval_samples < dataset.n_train:
        rng = np.random.default_rng([opts.seed, 2])
        pick = np.sort(rng.choice(dataset.n_train, opts.train_eval_samples, replace=False))
    out = []
    for v in sorted(shown):
        idx = pick[owner[pick] == v]
        if idx.size:
            out.append((shown[v][idx], dataset.y_train[idx]))
    return out


def compare_flmar(
    problem: FlmarProblem,
    dataset: Dataset,
    *,
    schemes: Sequence[str] | None = None,
    spec: ModelSpec | None = None,
    options: TrainOptions | None = None,
    plot_path: str | Path | None = None,
    **kwargs: Any,
) -> FlmarComparison:
    """Solve ``problem`` with every scheme and train each plan alike (same data, seed, model).

    ``schemes`` default to :func:`trainable_flmar_schemes`; a scheme whose
    result is infeasible or failed (``comm-only``, ``comp-only`` and
    ``yang2021`` without a deadline) is skipped with the reason. The options
    are validated once, before anything is solved; keyword arguments are
    :class:`~edgealloc.learn.options.TrainOptions` fields.

    Raises
    ------
    InfeasibleError
        No scheme gave a plan.
    ValidationError
        Unknown schemes, bad options.
    """
    opts = train_options(options, kwargs)
    check_flmar_options(opts)
    return _compare_plans(
        problem,
        schemes,
        trainable_flmar_schemes(),
        _FAMILY,
        "its plans do not train",
        lambda res: train_flmar(problem, res, dataset, spec=spec, options=opts),
        FlmarComparison,
        plot_path,
    )
