r"""Accuracy against frame resolution, measured by federated training (issue 12, item 4).

[FLMAR] X. Zhou, C. Liu, J. Zhao, *Resource Allocation of Federated Learning
for the Metaverse with Mobile Augmented Reality* (IEEE TWC 2023): objective
(12) rewards :math:`\rho \sum_n A(s_n)`, with :math:`A(s_k)` an accuracy per
frame resolution option :math:`s_1 < \dots < s_K`. The paper's table is the
line through Liu et al.'s YOLO fit :math:`1 - 1.578 e^{-0.0065 s}` at
:math:`s_1` and :math:`s_K` (FLMAR.md section 1; preset ``mar-paper``).
This module *measures* the table instead: it trains the engine's CNN
(:func:`edgealloc.learn.models.model_for` ``"cnn"``) by FedAvg on offline
images shown at each resolution option, and writes the table into a
scenario (:func:`measured_scenario`, :func:`write_scenario`). It also trains
one federation whose devices each see their own resolution, the plan of a
solver (:func:`train_with_resolutions`): the learning claim of the paper's
Figs. 6/9 (more accuracy as :math:`\rho` moves devices to larger frames).

Readings (the paper trains YOLO on COCO frames of :math:`s \times s` px; we
train a small CNN on small offline images, a proxy for the information a
resolution keeps):

* **Resolution mapping.** The largest option :math:`s_K` is the data set's
  native side :math:`H`; option :math:`s_k` shows an image at side
  :math:`h_k = \max(1, \operatorname{round}(H s_k / s_K))` (half up;
  :func:`side_lengths`; digits, :math:`H = 8`: 160, 320, 480, 640 px ->
  2, 4, 6, 8 px). The image is area-averaged down to :math:`h_k`
  (:func:`~edgealloc.learn.data.resample_images`, exact overlap weights) and
  bilinearly upsampled back to :math:`H` (:func:`at_resolution`), so *one*
  model of one input size sees at :math:`s_k` only what :math:`h_k \times h_k`
  pixels hold. The computational cost of a larger frame (the paper's
  :math:`(s/s_0)^2` cycles) is the allocation's business, not the training's.
* **Federated training.** ``rounds`` rounds of FedAvg: every device starts
  from the global model, runs ``local_steps`` full-batch gradient steps on
  its own data (:func:`edgealloc.learn.engine.local_sgd_cycle`, all devices
  batched), and the new global model is the :math:`D_n`-weighted average.
  IID partition (:func:`edgealloc.learn.partition.partition`), one data
  split for every seed (``split_seed``); a seed draws the partition and the
  initial model.
* **Learning rate.** One rate for every resolution and every plan: the best
  of ``lr_grid`` by held-out accuracy at the *native* resolution
  (:func:`choose_lr`: a stratified :data:`HOLDOUT` share of the training set,
  seed :data:`TUNE_SEED`; the test set is never looked at; a tie goes to the
  smaller rate; a diverged run scores 0).
* **Evaluation.** Test accuracy of the final global model. For the table,
  on the test set at :math:`s_k`. For a plan, the mean over devices of the
  test accuracy at each device's own resolution (the paper's
  :math:`\sum_n A(s_n) / N`) and, apart, at the native resolution.

Examples
--------
>>> from edgealloc.learn.flmar_accuracy import side_lengths
>>> side_lengths([160, 320, 480, 640], 8).tolist()
[2, 4, 6, 8]
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import ArrayLike, NDArray

from .._io import atomic_write_text
from .._validation import check_int
from ..errors import ValidationError
from ..flmar.scenario import compile_flmar
from .data import Dataset, load_dataset, resample_images, train_test_split

__all__ = [
    "DEFAULTS",
    "HOLDOUT",
    "LR_GRID",
    "SCENARIO_HEADER",
    "TUNE_SEED",
    "AccuracyTable",
    "FederatedRun",
    "PlanTraining",
    "at_resolution",
    "choose_lr",
    "images",
    "measure_accuracy",
    "measured_scenario",
    "pick_lr",
    "settings_of",
    "side_lengths",
    "train_federated",
    "train_with_resolutions",
    "tuning_score",
    "write_scenario",
]

#: The learning-rate grid of the rule (module notes).
LR_GRID: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0)
#: Share of the training set held out by the learning-rate rule.
HOLDOUT = 0.2
#: Seed of the held-out split and of the tuning runs (the measured runs use 0, 1, ...).
TUNE_SEED = 1000
#: Default federation: N = 50 devices (the paper's), 20 rounds of 5 local steps.
#: The cost of a round is that of all training images, whatever N (the devices
#: are batched), about 0.35 s for digits on one core.
DEFAULTS: Mapping[str, Any] = {"devices": 50, "rounds": 20, "local_steps": 5}
_IMAGE_SETS = ("digits", "mnist", "cifar10")
#: The first lines of a file :func:`write_scenario` writes.
SCENARIO_HEADER = (
    "# An flmar scenario whose accuracy table was measured by federated training\n"
    "# (edgealloc.learn.flmar_accuracy; its notes give the provenance).\n"
)


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------
def _resolutions(field: str, values: Any) -> NDArray[np.float64]:
    try:
        arr = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ValidationError(field, f"must be a list of numbers (got {values!r})") from None
    if arr.size == 0:
        raise ValidationError(field, "needs at least one resolution")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValidationError(field, f"must be positive finite numbers (got {arr.tolist()})")
    if np.any(np.diff(arr) <= 0):
        raise ValidationError(field, f"must be strictly increasing (got {arr.tolist()})")
    return arr


def _positive(field: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not (math.isfinite(float(value)) and float(value) > 0)
    ):
        raise ValidationError(field, f"must be a positive finite number (got {value!r})")
    return float(value)


def _grid(values: Any) -> tuple[float, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
        raise ValidationError("lr_grid", f"must be a non-empty list of rates (got {values!r})")
    return tuple(_positive("lr_grid", v) for v in values)


def _seeds(values: Any) -> tuple[int, ...]:
    if isinstance(values, numbers.Integral) and not isinstance(values, bool):
        values = (values,)
    if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
        raise ValidationError("seeds", f"must be a non-empty list of seeds (got {values!r})")
    seeds = tuple(check_int("seeds", s, minimum=0) for s in values)
    if len(set(seeds)) != len(seeds):
        raise ValidationError("seeds", f"must be distinct (got {list(seeds)})")
    return seeds


def _native(data: Dataset) -> int:
    shape = data.feature_shape
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValidationError(
            "dataset", f"needs square images (C, H, H), not features of shape {shape}"
        )
    return int(shape[1])


# ---------------------------------------------------------------------------
# Resolution
# ---------------------------------------------------------------------------
def side_lengths(resolutions: ArrayLike, native: int) -> NDArray[np.int64]:
    r"""Image side :math:`h_k = \max(1, \operatorname{round}(H s_k / s_K))` per option (half up).

    Parameters
    ----------
    resolutions
        The options :math:`s_1 < \dots < s_K` (px), strictly increasing.
    native
        The data set's native side :math:`H`, shown at :math:`s_K`.

    Returns
    -------
    numpy.ndarray
        int64 sides, non-decreasing, the last equal to ``native``.

    Raises
    ------
    ValidationError
        ``resolutions`` empty, not positive or not increasing; ``native < 1``.
    """
    s = _resolutions("resolutions", resolutions)
    h = check_int("native", native, minimum=1)
    return np.maximum(1, np.floor(h * s / s[-1] + 0.5)).astype(np.int64)


def at_resolution(x: ArrayLike, side: int) -> np.ndarray:
    """Images ``(n, C, H, H)`` as seen at ``side`` px: area-averaged down, bilinear back to ``H``.

    The information of a ``side`` x ``side`` image at the input size of the
    one model (module notes). ``side >= H`` returns the images unchanged
    (float32).

    Raises
    ------
    ValidationError
        ``x`` not a batch of square images, ``side < 1``.
    """
    arr = np.asarray(x)
    if arr.ndim != 4 or arr.shape[2] != arr.shape[3]:
        raise ValidationError("x", f"must be square images (n, C, H, H) (got shape {arr.shape})")
    h = check_int("side", side, minimum=1)
    native = arr.shape[2]
    if h >= native:
        return np.ascontiguousarray(arr, dtype=np.float32)
    small = resample_images(arr, h, method="area")
    return resample_images(small, native, method="bilinear")


@functools.lru_cache(maxsize=4)
def images(
    dataset: str = "digits",
    *,
    path: str | None = None,
    n_samples: int | None = None,
    split_seed: int = 0,
) -> Dataset:
    """The image data set of the measurement (cached per process): one split for every seed.

    Raises
    ------
    ValidationError
        Unknown or non-image data set, missing files (:func:`~edgealloc.learn.data.load_dataset`).
    """
    try:
        data = load_dataset(dataset, seed=split_seed, path=path, n_samples=n_samples)
    except ValidationError as exc:
        if exc.field != "name":
            raise
        raise ValidationError("dataset", exc.problem) from None
    if data.name not in _IMAGE_SETS or data.n_classes is None:
        raise ValidationError(
            "dataset", f"must be an image classification set ({', '.join(_IMAGE_SETS)})"
        )
    _native(data)
    return data


# ---------------------------------------------------------------------------
# One federated run
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class FederatedRun:
    """The final global model of one FedAvg run, evaluated.

    Attributes
    ----------
    sides
        Image side of each device (px of the data set).
    accuracy_by_side
        Test accuracy at each side some device uses (and at the native side).
    accuracy_own
        Mean over devices of the test accuracy at the device's own side.
    accuracy_native
        Test accuracy at the native side.
    loss
        Training loss of the final round's start, mean over devices (d_k-weighted).
    diverged
        A loss or parameter became non-finite.
    lr, seed, rounds, local_steps
        The run's settings.
    """

    sides: tuple[int, ...]
    accuracy_by_side: Mapping[int, float]
    accuracy_own: float
    accuracy_native: float
    loss: float
    diverged: bool
    lr: float
    seed: int
    rounds: int
    local_steps: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the side keys as strings)."""
        out = dataclasses.asdict(self)
        out["sides"] = list(self.sides)
        out["accuracy_by_side"] = {str(k): v for k, v in self.accuracy_by_side.items()}
        return out


def train_federated(
    data: Dataset,
    sides: ArrayLike,
    *,
    rounds: int = DEFAULTS["rounds"],
    local_steps: int = DEFAULTS["local_steps"],
    lr: float,
    seed: int = 0,
    channels: tuple[int, ...] = (16, 32),
    threads: int | None = 1,
    eval_x: np.ndarray | None = None,
    eval_y: np.ndarray | None = None,
) -> FederatedRun:
    r"""FedAvg of the engine's CNN, device :math:`n` training on images at side ``sides[n]``.

    Parameters
    ----------
    data
        An image data set (:func:`images`); its training set is split IID over
        ``len(sides)`` devices with ``seed``.
    sides
        Image side per device, each in ``1 .. H`` (:func:`side_lengths`).
    rounds, local_steps
        Global rounds :math:`R_g` and full-batch local gradient steps per round.
    lr
        Learning rate.
    seed
        The partition and the initial model.
    channels
        The CNN's convolution channels (the engine's default).
    threads
        PyTorch threads during the run (``None``: unchanged).
    eval_x, eval_y
        Evaluate there instead of the test set (the learning-rate rule's held-out part).

    Returns
    -------
    FederatedRun
    """
    from ._runtime import torch_threads
    from .engine import evaluate, init_params, local_sgd_cycle
    from .models import model_for
    from .partition import partition

    native = _native(data)
    h = np.asarray(sides).reshape(-1)
    if h.size == 0 or not np.issubdtype(h.dtype, np.integer):
        raise ValidationError("sides", f"must be a non-empty list of integers (got {sides!r})")
    if h.min() < 1 or h.max() > native:
        raise ValidationError("sides", f"must lie in 1..{native} (got {h.min()}..{h.max()})")
    n = h.size
    if n > data.n_train:
        raise ValidationError("devices", f"must be <= the {data.n_train} training images (got {n})")
    rounds = check_int("rounds", rounds, minimum=1)
    local_steps = check_int("local_steps", local_steps, minimum=1)
    lr = _positive("lr", lr)
    seed = check_int("seed", seed, minimum=0)
    x_eval = data.x_test if eval_x is None else eval_x
    y_eval = data.y_test if eval_y is None else eval_y
    spec = model_for(data, "cnn", channels=tuple(channels))
    parts = partition(data.y_train, n, scheme="iid", rng=seed)
    distinct = sorted({int(v) for v in h} | {native})
    shown = {v: at_resolution(data.x_train, v) for v in distinct if v in set(h.tolist())}
    xs = [shown[int(h[i])][p] for i, p in enumerate(parts)]
    ys = [data.y_train[p] for p in parts]
    tau = np.full(n, local_steps, dtype=np.int64)
    weights = np.array([len(p) for p in parts], dtype=float)
    diverged = False
    loss = math.nan
    with torch_threads(threads):
        params = init_params(spec, seed)
        for _ in range(rounds):
            params, losses = local_sgd_cycle(spec, params, xs, ys, tau, lr=lr)
            loss = float(np.average(losses, weights=weights))
            if not math.isfinite(loss) or not all(
                bool(p.isfinite().all()) for p in params.values()
            ):
                diverged = True
                break
        acc = {}
        for v in distinct:
            if diverged:
                acc[v] = 0.0
                continue
            _, a = evaluate(spec, params, at_resolution(x_eval, v), y_eval)
            acc[v] = float(a)
    own = float(np.mean([acc[int(v)] for v in h]))
    return FederatedRun(
        sides=tuple(int(v) for v in h),
        accuracy_by_side=acc,
        accuracy_own=own,
        accuracy_native=acc[native],
        loss=loss,
        diverged=diverged,
        lr=lr,
        seed=seed,
        rounds=rounds,
        local_steps=local_steps,
    )


# ---------------------------------------------------------------------------
# The learning-rate rule
# ---------------------------------------------------------------------------
def tuning_score(
    data: Dataset,
    lr: float,
    *,
    devices: int = DEFAULTS["devices"],
    rounds: int = DEFAULTS["rounds"],
    local_steps: int = DEFAULTS["local_steps"],
    channels: tuple[int, ...] = (16, 32),
) -> float:
    """Held-out accuracy of one rate at the native resolution (0 when the run diverged).

    The training set is split (stratified, :data:`HOLDOUT`, seed
    :data:`TUNE_SEED`); the federation trains on the rest with seed
    :data:`TUNE_SEED`, every device at the native side.
    """
    native = _native(data)
    fit, held = train_test_split(data.y_train, HOLDOUT, rng=np.random.default_rng(TUNE_SEED))
    part = dataclasses.replace(
        data, x_train=data.x_train[fit], y_train=data.y_train[fit], meta=dict(data.meta)
    )
    devices = check_int("devices", devices, minimum=1)
    run = train_federated(
        part,
        np.full(devices, native, dtype=np.int64),
        rounds=rounds,
        local_steps=local_steps,
        lr=lr,
        seed=TUNE_SEED,
        channels=channels,
        eval_x=data.x_train[held],
        eval_y=data.y_train[held],
    )
    return 0.0 if run.diverged else run.accuracy_native


def pick_lr(grid: Sequence[float], scores: Sequence[float]) -> float:
    """The rate of the best score; a tie goes to the smaller rate."""
    rates = _grid(list(grid))
    if len(scores) != len(rates):
        raise ValidationError("scores", f"needs one score per rate ({len(rates)})")
    best = max(scores)
    return min(r for r, s in zip(rates, scores, strict=True) if s == best)


def choose_lr(
    data: Dataset,
    *,
    grid: Sequence[float] = LR_GRID,
    devices: int = DEFAULTS["devices"],
    rounds: int = DEFAULTS["rounds"],
    local_steps: int = DEFAULTS["local_steps"],
) -> tuple[float, dict[float, float]]:
    """The learning-rate rule (module notes): the chosen rate and every rate's score."""
    rates = _grid(list(grid))
    scores = [
        tuning_score(data, r, devices=devices, rounds=rounds, local_steps=local_steps)
        for r in rates
    ]
    return pick_lr(rates, scores), dict(zip(rates, scores, strict=True))


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class AccuracyTable:
    """A measured accuracy table :math:`A(s_k)`: mean and s.d. over seeds, and how it was made.

    Attributes
    ----------
    resolutions
        The options :math:`s_k` (px).
    sides
        The image side shown at each option.
    mean, std
        Test accuracy per option over the seeds (s.d. with ``ddof=1``; 0 for one seed).
    runs
        Per seed (rows) and option (columns), the accuracy.
    seeds
        The seeds.
    lr
        The learning rate of every run.
    lr_scores
        The rule's held-out score per rate (empty when ``lr`` was given).
    settings
        Data set, split, devices, rounds, local steps, model.
    """

    resolutions: tuple[float, ...]
    sides: tuple[int, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    runs: tuple[tuple[float, ...], ...]
    seeds: tuple[int, ...]
    lr: float
    lr_scores: Mapping[float, float]
    settings: Mapping[str, Any]

    @classmethod
    def from_runs(
        cls,
        resolutions: ArrayLike,
        sides: ArrayLike,
        runs: ArrayLike,
        *,
        seeds: Sequence[int],
        lr: float,
        lr_scores: Mapping[float, float] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> AccuracyTable:
        """The table of accuracies ``runs[seed, option]``."""
        res = _resolutions("resolutions", resolutions)
        acc = np.asarray(runs, dtype=float).reshape(len(seeds), res.size)
        std = acc.std(axis=0, ddof=1) if len(seeds) > 1 else np.zeros(res.size)
        return cls(
            resolutions=tuple(float(v) for v in res),
            sides=tuple(int(v) for v in np.asarray(sides).reshape(-1)),
            mean=tuple(float(v) for v in acc.mean(axis=0)),
            std=tuple(float(v) for v in std),
            runs=tuple(tuple(float(v) for v in row) for row in acc),
            seeds=tuple(int(s) for s in seeds),
            lr=float(lr),
            lr_scores=dict(lr_scores or {}),
            settings=dict(settings or {}),
        )

    def provenance(self) -> str:
        """One line: how the table was measured (the ``notes`` entry of a measured scenario)."""
        st = self.settings
        table = ", ".join(
            f"{s:g} px ({h} px): {m:.4f} +- {d:.4f}"
            for s, h, m, d in zip(self.resolutions, self.sides, self.mean, self.std, strict=True)
        )
        lr = f"lr {self.lr:g}" + (
            f" (best held-out accuracy of {sorted(self.lr_scores)} at the native side)"
            if self.lr_scores
            else " (given)"
        )
        return (
            "training.accuracy measured by edgealloc.learn.flmar_accuracy: FedAvg of the "
            f"engine's {st.get('model', 'CNN')} on {st.get('dataset', '?')} "
            f"({st.get('n_train', '?')} training / {st.get('n_test', '?')} test images, split "
            f"seed {st.get('split_seed', 0)}), {st.get('devices', '?')} IID devices, "
            f"{st.get('rounds', '?')} rounds of {st.get('local_steps', '?')} full-batch local "
            f"steps, {lr}; option s_k shown at side max(1, round(H s_k / s_K)) (area down, "
            f"bilinear back); test accuracy mean +- s.d. over seeds {list(self.seeds)}: {table}."
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out = dataclasses.asdict(self)
        out["lr_scores"] = {repr(k): v for k, v in self.lr_scores.items()}
        out["settings"] = dict(self.settings)
        return out


def measure_accuracy(
    resolutions: ArrayLike,
    *,
    dataset: str = "digits",
    path: str | Path | None = None,
    devices: int = DEFAULTS["devices"],
    rounds: int = DEFAULTS["rounds"],
    local_steps: int = DEFAULTS["local_steps"],
    seeds: Sequence[int] | int = (0, 1, 2),
    lr: float | None = None,
    lr_grid: Sequence[float] = LR_GRID,
    n_samples: int | None = None,
    split_seed: int = 0,
) -> AccuracyTable:
    r"""Measure :math:`A(s_k)`: FedAvg with every device at option :math:`s_k`, per seed.

    Parameters
    ----------
    resolutions
        The options :math:`s_1 < \dots < s_K` (px); :math:`s_K` is the native side.
    dataset, path, n_samples, split_seed
        The images (:func:`images`; ``path`` for ``mnist``/``cifar10`` files).
    devices, rounds, local_steps
        The federation (:data:`DEFAULTS`).
    seeds
        One run per seed and option (partition and initial model).
    lr
        Learning rate; ``None``: the rule of the module notes over ``lr_grid``.
    lr_grid
        The rates the rule tries.

    Returns
    -------
    AccuracyTable

    Raises
    ------
    ValidationError
        Bad resolutions, seeds, counts or rates, a non-image data set (the
        message names the field).

    Examples
    --------
    >>> t = measure_accuracy([160, 640], devices=2, rounds=2, local_steps=1, seeds=[0],
    ...                      lr=0.5, n_samples=200)
    >>> t.sides, len(t.mean)
    ((2, 8), 2)
    """
    res = _resolutions("resolutions", resolutions)
    seeds = _seeds(seeds)
    devices = check_int("devices", devices, minimum=1)
    rounds = check_int("rounds", rounds, minimum=1)
    local_steps = check_int("local_steps", local_steps, minimum=1)
    if lr is not None:
        lr = _positive("lr", lr)
    grid = _grid(list(lr_grid))
    data = images(
        dataset,
        path=None if path is None else str(path),
        n_samples=n_samples,
        split_seed=split_seed,
    )
    sides = side_lengths(res, _native(data))
    scores: dict[float, float] = {}
    if lr is None:
        lr, scores = choose_lr(
            data, grid=grid, devices=devices, rounds=rounds, local_steps=local_steps
        )
    runs = [
        [
            train_federated(
                data,
                np.full(devices, side, dtype=np.int64),
                rounds=rounds,
                local_steps=local_steps,
                lr=lr,
                seed=s,
            ).accuracy_own
            for side in sides
        ]
        for s in seeds
    ]
    return AccuracyTable.from_runs(
        res,
        sides,
        runs,
        seeds=seeds,
        lr=lr,
        lr_scores=scores,
        settings=settings_of(data, devices, rounds, local_steps, split_seed),
    )


def settings_of(
    data: Dataset, devices: int, rounds: int, local_steps: int, split_seed: int = 0
) -> dict[str, Any]:
    """The settings an :class:`AccuracyTable` records."""
    return {
        "dataset": data.name,
        "n_train": int(data.n_train),
        "n_test": int(data.n_test),
        "split_seed": int(split_seed),
        "native_side": _native(data),
        "devices": int(devices),
        "rounds": int(rounds),
        "local_steps": int(local_steps),
        "model": "CNN (channels 16, 32)",
        "partition": "iid",
    }


# ---------------------------------------------------------------------------
# A plan's resolutions, trained
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PlanTraining:
    """One plan's resolutions trained federated, over seeds.

    Attributes
    ----------
    resolution
        Per device, the planned resolution (px).
    accuracy_own, accuracy_native
        Mean and s.d. over the seeds (module notes), each a pair.
    runs
        The runs, one per seed.
    """

    resolution: tuple[float, ...]
    accuracy_own: tuple[float, float]
    accuracy_native: tuple[float, float]
    runs: tuple[FederatedRun, ...]


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def train_with_resolutions(
    problem: Any,
    resolution: Any = None,
    *,
    dataset: str = "digits",
    path: str | Path | None = None,
    rounds: int = DEFAULTS["rounds"],
    local_steps: int = DEFAULTS["local_steps"],
    seeds: Sequence[int] | int = (0, 1, 2),
    lr: float | None = None,
    lr_grid: Sequence[float] = LR_GRID,
    n_samples: int | None = None,
    split_seed: int = 0,
) -> PlanTraining:
    """Train the ``problem``'s N devices federated, each at its planned resolution.

    Parameters
    ----------
    problem
        A :class:`~edgealloc.flmar.FlmarProblem` (its options and N).
    resolution
        The plan: a solver's ``Result`` (its ``resolution``) or one resolution
        (px) per device, each one of the problem's options; ``None``: the
        ``optimal`` plan (:func:`edgealloc.solve`).
    dataset, path, n_samples, split_seed, rounds, local_steps, seeds, lr, lr_grid
        As in :func:`measure_accuracy` (devices: the problem's N).

    Returns
    -------
    PlanTraining

    Raises
    ------
    ValidationError
        Not an flmar problem, a plan of the wrong length or off the options.
    """
    if getattr(problem, "FAMILY", None) != "flmar":
        raise ValidationError("problem", f"must be an flmar problem (got {type(problem).__name__})")
    if resolution is None:
        from ..api import solve

        resolution = solve(problem, "optimal")
    plan = getattr(resolution, "resolution", resolution)
    s = np.asarray(plan, dtype=float).reshape(-1)
    if s.size != problem.n_devices:
        raise ValidationError(
            "resolution", f"has {s.size} entries, expected {problem.n_devices} (one per device)"
        )
    options = np.asarray(problem.resolutions, dtype=float)
    k = np.searchsorted(options, s)
    if np.any(k >= options.size) or np.any(options[np.minimum(k, options.size - 1)] != s):
        raise ValidationError(
            "resolution", f"must be options of the problem {options.tolist()} (got {s.tolist()})"
        )
    seeds = _seeds(seeds)
    data = images(
        dataset,
        path=None if path is None else str(path),
        n_samples=n_samples,
        split_seed=split_seed,
    )
    sides = side_lengths(options, _native(data))[k]
    if lr is None:
        lr, _ = choose_lr(
            data,
            grid=lr_grid,
            devices=problem.n_devices,
            rounds=rounds,
            local_steps=local_steps,
        )
    runs = tuple(
        train_federated(data, sides, rounds=rounds, local_steps=local_steps, lr=lr, seed=seed)
        for seed in seeds
    )
    return PlanTraining(
        resolution=tuple(float(v) for v in s),
        accuracy_own=_mean_sd([r.accuracy_own for r in runs]),
        accuracy_native=_mean_sd([r.accuracy_native for r in runs]),
        runs=runs,
    )


# ---------------------------------------------------------------------------
# Into a scenario
# ---------------------------------------------------------------------------
def measured_scenario(scenario: Mapping[str, Any], table: AccuracyTable) -> dict[str, Any]:
    """A copy of an ``flmar`` scenario with ``training.accuracy`` the measured table.

    Adds the provenance (:meth:`AccuracyTable.provenance`) to ``notes`` and
    ``-measured`` to the name; checks that the scenario compiles
    (:func:`~edgealloc.flmar.scenario.compile_flmar`).

    Raises
    ------
    ValidationError
        Not an ``flmar`` scenario, or its ``training.resolutions`` differ
        from the table's.
    """
    if not isinstance(scenario, Mapping) or scenario.get("scenario") != "flmar":
        raise ValidationError("scenario", "must be a mapping with scenario: flmar")
    if not isinstance(table, AccuracyTable):
        raise ValidationError("table", f"must be an AccuracyTable (got {type(table).__name__})")
    out = copy.deepcopy(dict(scenario))
    training = out.get("training")
    if not isinstance(training, Mapping):
        raise ValidationError("training", "must be a mapping")
    res = _resolutions("training.resolutions", training.get("resolutions"))
    if res.size != len(table.resolutions) or not np.allclose(res, table.resolutions, rtol=1e-12):
        raise ValidationError(
            "training.resolutions",
            f"must be the table's {list(table.resolutions)} (got {res.tolist()})",
        )
    out["training"] = {**training, "accuracy": [float(a) for a in table.mean]}
    notes = out.get("notes")
    notes = [] if notes is None else [notes] if isinstance(notes, str) else list(notes)
    out["notes"] = [*notes, table.provenance()]
    if isinstance(out.get("name"), str):
        out["name"] = f"{out['name']}-measured"
    compile_flmar(out)
    return out


def write_scenario(
    path: str | Path, scenario: Mapping[str, Any], *, overwrite: bool = False
) -> Path:
    """Write a scenario as YAML, atomically; an existing file only with ``overwrite``.

    Raises
    ------
    ValidationError
        ``path`` exists (without ``overwrite``; the message says ``--force``)
        or is a directory.
    """
    text = SCENARIO_HEADER + yaml.safe_dump(
        dict(scenario), sort_keys=False, allow_unicode=True, width=88
    )
    return atomic_write_text(path, text, overwrite=overwrite)
