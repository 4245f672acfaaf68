r"""The training runs of the accuracy reproductions, and what is read off them.

Shared by :mod:`.mel_accuracy` (sync MEL, Fig. 2) and
:mod:`.mel_async_accuracy` (async MEL, Figs. 4-5 and 7). A training run
solves one instance with one scheme and trains its allocation for real with
:func:`edgealloc.learn.run.train` (:func:`train_run`: the instance compiled
for the model that trains, :func:`compile_problem`, with the workload scale
:func:`workload_scale`); a sweep task is :func:`training_task` (a main run's:
:func:`main_task`) and its worker :func:`run_training_task`. From the runs of
a group of seeds come the curve rows (:func:`curve_rows`, columns
:data:`CURVE_STATS`), the cycles to reach an accuracy threshold
(:func:`reach_stats`, columns :data:`REACH_STATS`) and the per-cycle rows of
each run (:func:`group_runs`, columns :data:`CYCLE_VALUES`).

A run's ``status`` is a :class:`~edgealloc.result.Status` value: the
solver's, or ``diverged`` (training turned non-finite at this learning rate)
or ``error`` (an edgealloc error while compiling, solving or training).

The learning rate of every training run is chosen by one rule (:mod:`._lr`);
:func:`tuning_split` is its held-out split of the training set and
``compile_problem(..., split="tune")`` its problems.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import EdgeallocError, ValidationError
from ..result import Status
from ._template import Config, Sweep

__all__ = [
    "CURVE_STATS",
    "CYCLE_VALUES",
    "DATASET",
    "HOLDOUT",
    "OK_STATUSES",
    "REACH_STATS",
    "SCALES",
    "band",
    "check_options",
    "compile_problem",
    "curve_rows",
    "cycles_to_reach",
    "fmt_reach",
    "group_runs",
    "main_task",
    "mean_tau",
    "ok_runs",
    "per_cycle_rows",
    "reach_stats",
    "require_torch",
    "run_training_task",
    "stats",
    "train_run",
    "training_note",
    "training_options",
    "training_task",
    "tuning_split",
    "workload_scale",
]

#: Data set (:func:`edgealloc.learn.data.load_dataset`); its split seed is fixed at 0.
DATASET = "digits"
#: Workload readings: ``"paper"`` scales the devices' cycles per FLOP so that a
#: local iteration costs what it costs in the paper; ``"none"`` does not.
SCALES: tuple[str, ...] = ("paper", "none")
#: Data splits a training task runs on: ``"full"`` (train on the training set, test
#: accuracy) or ``"tune"`` (:func:`tuning_split`: accuracy on held-out training images).
SPLITS: tuple[str, ...] = ("full", "tune")
#: Share of the training set held out by :func:`tuning_split`, and the split's seed.
HOLDOUT = 0.2
HOLDOUT_SEED = 2024
#: Statuses (their string values) of a run that has an allocation.
OK_STATUSES: frozenset[str] = frozenset({Status.OPTIMAL.value, Status.FEASIBLE.value})

#: Columns :func:`curve_rows` adds after the group keys.
CURVE_STATS: tuple[str, ...] = (
    "cycle",
    "seeds",
    "tau_mean",
    "cycle_time_s",
    "sim_time_s",
    "accuracy_mean",
    "accuracy_std",
    "accuracy_min",
    "accuracy_max",
    "train_loss_mean",
    "train_loss_std",
)
#: Columns of :func:`reach_stats`.
REACH_STATS: tuple[str, ...] = (
    "seeds",
    "reached",
    "cycles_mean",
    "cycles_std",
    "cycles_min",
    "cycles_max",
    "sim_time_s_mean",
    "deadline_time_s_mean",
)
#: Per-cycle columns of :func:`per_cycle_rows`.
CYCLE_VALUES: tuple[str, ...] = (
    "cycle",
    "sim_time_s",
    "energy_j",
    "test_accuracy",
    "test_loss",
    "train_loss",
)


# ---------------------------------------------------------------------------
# Options, problem and training
# ---------------------------------------------------------------------------
def check_options(cycles: Any, lr: Any, scale: Any, dataset: Any) -> None:
    """Raise ``ValidationError`` for bad ``cycles``, ``lr``, ``scale`` or ``dataset``.

    ``lr=None`` (the default of the experiments) means: each variant's rate by the rule.
    """
    if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1:
        raise ValidationError("cycles", f"must be an integer >= 1 (got {cycles!r})")
    if lr is not None and (
        isinstance(lr, bool) or not isinstance(lr, int | float) or not (0 < lr < math.inf)
    ):
        raise ValidationError("lr", f"must be a positive number, or None for the rule (got {lr!r})")
    if scale not in SCALES:
        raise ValidationError("scale", f"must be one of {', '.join(SCALES)} (got {scale!r})")
    from ..learn.data import DATASETS

    if dataset not in DATASETS or dataset in ("linear", "mnist", "cifar10"):
        raise ValidationError(
            "dataset", f"must be an offline classification set: digits or mnist1d (got {dataset!r})"
        )


def require_torch() -> None:
    """Raise the one-line ``ValidationError`` when PyTorch is missing."""
    from ..learn import models  # noqa: F401  (raises TorchUnavailableError without torch)


def training_options(cfg: Config, cycles: int, cycles_quick: int) -> dict[str, Any]:
    """``cfg.options`` with ``cycles`` filled in (``cycles_quick`` in quick mode) and checked.

    Raises the one-line :class:`~edgealloc.errors.ValidationError` without
    PyTorch, or for bad ``cycles``, ``lr``, ``scale`` or ``dataset``.
    """
    require_torch()
    opts = dict(cfg.options)
    if opts["cycles"] is None:
        opts["cycles"] = cycles_quick if cfg.quick else cycles
    check_options(opts["cycles"], opts["lr"], opts["scale"], opts["dataset"])
    return opts


@functools.lru_cache(maxsize=4)
def _dataset(name: str, split: str = "full") -> Any:
    from ..learn.data import load_dataset

    data = load_dataset(name, seed=0)
    return tuning_split(data) if split == "tune" else data


def tuning_split(data: Any, holdout: float = HOLDOUT, seed: int = HOLDOUT_SEED) -> Any:
    """The training set split into tuning-train and held-out parts (the test set unused).

    Stratified: a ``holdout`` share of each class's training images (rounded,
    at least one) chosen by ``seed`` becomes the returned data set's "test"
    part, so :func:`edgealloc.learn.run.train` reports the accuracy on
    held-out *training* images.

    Examples
    --------
    >>> import numpy as np
    >>> from edgealloc.learn.data import Dataset
    >>> x, y = np.arange(40, dtype=float).reshape(20, 2), np.repeat([0, 1], 10)
    >>> d = Dataset("toy", x, y, x[:2], y[:2], n_classes=2)
    >>> t = tuning_split(d)
    >>> t.n_train, t.n_test, sorted(np.bincount(t.y_test).tolist())
    (16, 4, [2, 2])
    >>> bool(np.isin(t.x_test[:, 0], d.x_train[:, 0]).all())
    True
    """
    return _stratified_holdout(
        data, holdout, seed, {"tuning_split": {"holdout": holdout, "seed": seed}}
    )


def _stratified_holdout(data: Any, holdout: float, seed: int, meta: Mapping[str, Any]) -> Any:
    """``data``'s training set as ``NAME-tune``: a ``holdout`` share of each class held out.

    The held-out part (rounded, at least one per class, chosen by ``seed``)
    becomes the "test" part; ``meta`` is added to the data set's meta.
    """
    from ..learn.data import Dataset

    rng = np.random.default_rng(seed)
    y = np.asarray(data.y_train)
    held = []
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        n = max(1, round(holdout * idx.size))
        held.append(rng.permutation(idx)[:n])
    mask = np.zeros(y.size, bool)
    mask[np.concatenate(held)] = True
    return Dataset(
        f"{data.name}-tune",
        data.x_train[~mask],
        y[~mask],
        data.x_train[mask],
        y[mask],
        n_classes=data.n_classes,
        meta={**dict(data.meta), **meta},
    )


def workload_scale(preset: str, spec: Any, n_train: int) -> float:
    r"""Cycles per FLOP that make one local iteration as costly as in the paper.

    .. math::

        s = \frac{d_{\text{paper}}\, C_m^{\text{paper}}}{n_{\text{train}}\, C_m^{\text{model}}},

    with :math:`d_{\text{paper}}` and :math:`C_m^{\text{paper}}` the preset's
    ``total_samples`` and FLOPs per sample of its own network (``workload.layers``
    in its ``flops_convention``: 60,000 x 1,123,736 for the MEL presets,
    [MEL-sync] Section V-A), and :math:`C_m^{\text{model}}` those of the model
    that trains. The per-iteration compute time of device :math:`k`,
    :math:`C_m d_k / f_k` ([MEL-sync] eq. (4), [MEL-async] eq. (11)), is then
    the paper's for the same share of the data.

    Parameters
    ----------
    preset
        A ``mel`` preset name.
    spec
        The :class:`~edgealloc.learn.models.ModelSpec` that trains.
    n_train
        Samples per cycle :math:`d` of the trained problem (the training set).

    Returns
    -------
    float
        The scale :math:`s` (about 180.5 for digits and the MEL presets).
    """
    from ..learn.scenario import paper_workload_scale

    scale = paper_workload_scale(preset, spec, n_train)
    if scale is None:
        raise ValidationError("preset", f"{preset} does not describe its network by layers")
    return scale


def compile_problem(
    preset: str,
    overrides: Mapping[str, Any],
    *,
    dataset: str = DATASET,
    scale: str = "paper",
    split: str = "full",
) -> tuple[Any, Any, Any]:
    """``(problem, dataset, spec)``: the preset compiled for the digits MLP.

    The scenario's workload is the model (:func:`~edgealloc.learn.run.scenario_for_model`),
    :math:`d` is the training set and, with ``scale="paper"``,
    ``workload.cycles_per_flop`` is :func:`workload_scale`. With
    ``split="tune"`` the data set is :func:`tuning_split` (``d`` and the scale
    are those of its training part).
    """
    from ..learn.models import model_for
    from ..learn.run import scenario_for_model

    if scale not in SCALES:
        raise ValidationError("scale", f"must be one of {', '.join(SCALES)} (got {scale!r})")
    if split not in SPLITS:
        raise ValidationError("split", f"must be one of {', '.join(SPLITS)} (got {split!r})")
    data = _dataset(dataset, split)
    spec = model_for(data, "mlp")
    over = dict(overrides)
    if scale == "paper":
        over["workload.cycles_per_flop"] = workload_scale(preset, spec, data.n_train)
    problem = scenario_for_model(preset, spec, over, total_samples=data.n_train)
    return problem, data, spec


def _round_list(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(float(v)) else None for v in np.asarray(values, float)]


def train_run(
    preset: str,
    overrides: Mapping[str, Any],
    scheme: str,
    *,
    seed: int,
    cycles: int,
    lr: float,
    dataset: str = DATASET,
    scale: str = "paper",
    split: str = "full",
) -> dict[str, Any]:
    """Solve one instance with ``scheme`` and train its allocation; a JSON-ready dict.

    Keys: ``status`` (the solver's, or ``diverged``/``error``: see the module docstring),
    ``message``, ``tau``, ``samples``, ``deadline``, ``cycle_time_s`` (the
    slowest learner, at most T), ``energy_j_per_cycle``, and per cycle
    (``cycles + 1`` values, cycle 0 = the initial model) ``accuracy``,
    ``test_loss``, ``train_loss``, ``sim_time_s``, ``energy_j``; ``wall_s``
    is the training's real time. Runs with one thread (results do not depend
    on the number of worker processes). With ``split="tune"``, ``accuracy``
    and ``test_loss`` are on the held-out training images (:func:`tuning_split`).
    """
    import torch

    from ..api import solve
    from ..learn.run import train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        problem, data, spec = compile_problem(
            preset, overrides, dataset=dataset, scale=scale, split=split
        )
        res = solve(problem, scheme, raise_infeasible=False)
        out: dict[str, Any] = {
            "status": res.status.value,
            "message": res.message,
            "deadline": float(problem.deadline),
        }
        if res.status.value not in OK_STATUSES:
            return out
        out.update(
            tau=[int(v) for v in res.tau],
            samples=[int(v) for v in res.samples],
        )
        try:
            rec = train(
                problem,
                res,
                data,
                spec=spec,
                cycles=cycles,
                lr=lr,
                seed=seed,
                keep_params=False,
                on_divergence="raise",
            )
        except ValidationError as exc:
            status = Status.DIVERGED if exc.field == "lr" else Status.ERROR
            out.update(status=status.value, message=str(exc))
            return out
        cols = rec.columns
        out.update(
            cycle_time_s=float(rec.cycle_time_s),
            energy_j_per_cycle=float(np.sum(rec.device_energy_j)),
            accuracy=_round_list(cols["test_accuracy"]),
            test_loss=_round_list(cols["test_loss"]),
            train_loss=_round_list(cols["train_loss"]),
            sim_time_s=_round_list(cols["sim_time_s"]),
            energy_j=_round_list(cols["energy_j"]),
            wall_s=float(rec.wall_seconds),
        )
        return out
    except EdgeallocError as exc:
        return {"status": Status.ERROR.value, "message": str(exc)}
    finally:
        torch.set_num_threads(threads)


def training_task(
    name: str,
    point: Mapping[str, Any],
    *,
    seed: int,
    cycles: int,
    lr: float,
    dataset: str,
    scale: str,
    split: str = "full",
) -> dict[str, Any]:
    """A sweep task of experiment ``name``, trained by :func:`run_training_task`.

    ``point`` holds the grid values and the ``scheme``; the seed and the training options
    (``cycles``, ``lr``, ``dataset``, ``scale``) complete the task; a tuning run
    (``split="tune"``) says so in its ``split`` key.
    """
    task = {
        "experiment": name,
        "version": __version__,
        "dataset": dataset,
        "scale": scale,
        **point,
        "seed": seed,
        "cycles": int(cycles),
        "lr": float(lr),
    }
    if split != "full":
        task["split"] = split
    return task


def main_task(
    cfg: Config, name: str, point: Mapping[str, Any], *, seed: int, lr: float
) -> dict[str, Any]:
    """The :func:`training_task` of a main run of ``point`` on ``seed`` at rate ``lr``.

    The ``cycles``, ``dataset`` and ``scale`` are the options of ``cfg``.
    """
    o = cfg.options
    return training_task(
        name, point, seed=seed, cycles=o["cycles"], lr=lr, dataset=o["dataset"], scale=o["scale"]
    )


def run_training_task(
    task: Mapping[str, Any], preset: str, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """:func:`train_run` of a :func:`training_task` on ``preset`` with ``overrides``."""
    return train_run(
        preset,
        overrides,
        task["scheme"],
        seed=task["seed"],
        cycles=task["cycles"],
        lr=task["lr"],
        dataset=task["dataset"],
        scale=task["scale"],
        split=task.get("split", "full"),
    )


# ---------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------
def cycles_to_reach(accuracy: Sequence[float | None], threshold: float) -> int | None:
    """First global cycle whose test accuracy is at least ``threshold`` (``None``: never)."""
    acc = np.array([np.nan if v is None else v for v in accuracy], float)
    with np.errstate(invalid="ignore"):
        hit = np.flatnonzero(acc >= threshold - 1e-12)
    return int(hit[0]) if hit.size else None


def stats(values: Sequence[float]) -> tuple[float, float, float, float]:
    """Mean, sample s.d. (0 for one value), min and max; NaN for no values."""
    arr = np.asarray(values, float)
    if arr.size == 0:
        return math.nan, math.nan, math.nan, math.nan
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return float(arr.mean()), std, float(arr.min()), float(arr.max())


def ok_runs(runs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The runs that trained (an allocation and a full record)."""
    return [r for r in runs if r.get("status") in OK_STATUSES and r.get("accuracy") is not None]


def mean_tau(run: Mapping[str, Any]) -> float:
    """Mean :math:`\\tau_k` over the participants (:math:`d_k > 0`)."""
    tau = np.asarray(run["tau"], float)
    d = np.asarray(run["samples"], float)
    return float(tau[d > 0].mean())


def curve_rows(
    groups: Mapping[tuple, Sequence[Mapping[str, Any]]], keys: Sequence[str]
) -> list[dict[str, Any]]:
    """Per group (``keys`` values) and cycle: mean, s.d., min, max of the accuracy over seeds."""
    rows: list[dict[str, Any]] = []
    for group, runs in groups.items():
        good = ok_runs(runs)
        if not good:
            continue
        acc = np.array([[np.nan if v is None else v for v in r["accuracy"]] for r in good])
        loss = np.array([[np.nan if v is None else v for v in r["train_loss"]] for r in good])
        ct = float(np.mean([r["cycle_time_s"] for r in good]))
        tau = float(np.mean([mean_tau(r) for r in good]))
        n = len(good)
        for c in range(acc.shape[1]):
            row = dict(zip(keys, group, strict=True))
            row.update(
                cycle=c,
                seeds=n,
                tau_mean=tau,
                cycle_time_s=ct,
                sim_time_s=c * ct,
                accuracy_mean=float(acc[:, c].mean()),
                accuracy_std=float(acc[:, c].std(ddof=1)) if n > 1 else 0.0,
                accuracy_min=float(acc[:, c].min()),
                accuracy_max=float(acc[:, c].max()),
                train_loss_mean=float(loss[:, c].mean()),
                train_loss_std=float(loss[:, c].std(ddof=1)) if n > 1 else 0.0,
            )
            rows.append(row)
    return rows


def reach_stats(runs: Sequence[Mapping[str, Any]], threshold: float) -> dict[str, Any]:
    """Cycles and seconds to reach ``threshold``, over the runs that reach it."""
    good = ok_runs(runs)
    cyc, sim, dl = [], [], []
    for r in good:
        n = cycles_to_reach(r["accuracy"], threshold)
        if n is None:
            continue
        cyc.append(n)
        sim.append(n * r["cycle_time_s"])
        dl.append(n * r["deadline"])
    m, s, lo, hi = stats(cyc)
    return {
        "seeds": len(good),
        "reached": len(cyc),
        "cycles_mean": m,
        "cycles_std": s,
        "cycles_min": lo,
        "cycles_max": hi,
        "sim_time_s_mean": stats(sim)[0],
        "deadline_time_s_mean": stats(dl)[0],
    }


def fmt_reach(row: Mapping[str, Any] | None) -> str:
    """``"12.3 ± 1.2"`` cycles, with ``(3/5)`` when not every seed reached the threshold.

    ``"not reached (0/5)"`` when no seed did, ``"no allocation"`` when nothing trained.
    """
    if row is None or not row["seeds"]:
        return "no allocation"
    if not row["reached"]:
        return f"not reached (0/{row['seeds']})"
    text = f"{row['cycles_mean']:.1f} ± {row['cycles_std']:.1f}"
    if row["reached"] < row["seeds"]:
        text += f" ({row['reached']}/{row['seeds']})"
    return text


def band(
    ax: Any,
    x: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    *,
    color: Any,
    label: str,
    ls: str = "-",
    lw: float = 1.8,
    zorder: float = 2,
    **line: Any,
) -> None:
    """A mean curve with a shaded one-standard-deviation band; ``line``: more ``plot`` keywords."""
    ax.plot(x, mean, color=color, linestyle=ls, linewidth=lw, label=label, zorder=zorder, **line)
    ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.15, lw=0, zorder=1)


def per_cycle_rows(
    task: Mapping[str, Any],
    res: Mapping[str, Any],
    keys: Sequence[str],
    extra: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """One row per cycle of a training run: the task's ``keys``, the allocation, the curves.

    ``extra`` names further per-run values of ``res`` copied into every row.
    A run without a curve (infeasible, failed) gives one row with its status.
    """
    base = {k: task[k] for k in keys}
    base["status"] = res.get("status")
    if res.get("accuracy") is None:
        return [base]
    tau = np.asarray(res["tau"])[np.asarray(res["samples"]) > 0]
    base.update(
        tau_min=int(tau.min()),
        tau_max=int(tau.max()),
        tau_mean=float(tau.mean()),
        cycle_time_s=res["cycle_time_s"],
        **{k: res[k] for k in extra},
    )
    return [
        {
            **base,
            "cycle": c,
            "sim_time_s": res["sim_time_s"][c],
            "energy_j": res["energy_j"][c],
            "test_accuracy": res["accuracy"][c],
            "test_loss": res["test_loss"][c],
            "train_loss": res["train_loss"][c],
        }
        for c in range(len(res["accuracy"]))
    ]


def group_runs(
    tasks: Sequence[Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    extra: Sequence[str] = (),
) -> tuple[dict[tuple, list[Mapping[str, Any]]], list[dict[str, Any]]]:
    """``(groups, seed_rows)`` of a sweep's training runs.

    ``groups`` maps the tasks' ``keys`` values to their runs (for
    :func:`curve_rows`); ``seed_rows`` are the :func:`per_cycle_rows` of every
    run with ``keys``, ``seed``, ``lr`` and the per-run values ``extra``.
    """
    groups: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    seed_rows: list[dict[str, Any]] = []
    for task, res in zip(tasks, results, strict=True):
        groups[tuple(task[k] for k in keys)].append(res)
        seed_rows.extend(per_cycle_rows(task, res, (*keys, "seed", "lr"), extra))
    return groups, seed_rows


def training_note(
    groups: Mapping[tuple, Sequence[Mapping[str, Any]]],
    sweep: Sweep,
    runs: str,
    lr: float | None,
    dataset: str,
) -> str:
    """The first note of a training experiment: its ``runs``, store reuse, wall and training."""
    walls = [r.get("wall_s", 0.0) for rs in groups.values() for r in ok_runs(rs)]
    rate = "lr by the rule below" if lr is None else f"lr = {lr:g}"
    return (
        f"{sweep.instances} training runs ({runs}, {rate}, {dataset}), {sweep.reused} loaded "
        f"from the store, {sweep.seconds:.1f} s wall ({sum(walls):.0f} s of training in the runs)."
    )
