"""How to train an allocation: :class:`TrainOptions`, validated once.

:func:`edgealloc.learn.training.train`, :func:`edgealloc.learn.comparison.compare_schemes`
and ``edgealloc train`` take one immutable :class:`TrainOptions`; keyword
arguments of ``train(...)`` build one. Each option is checked when the object
is made, and a bad one is a single :class:`~edgealloc.errors.ValidationError`
naming the field (``lr: must be a positive finite number (got -1.0)``); the
training code then trusts it. What depends on the problem (the mode it was
compiled for) is checked by ``train``.

NumPy and pydantic only: no PyTorch is imported unless ``device`` names an
accelerator (the device is checked against the machine, which needs PyTorch).

Examples
--------
>>> opts = TrainOptions(cycles=5, lr=0.05, mode="federated", partition_scheme="shards")
>>> opts.cycles, opts.lr, opts.clock
(5, 0.05, 'slowest')
>>> opts.replace(seed=3).seed
3
>>> TrainOptions(cycles=0)
Traceback (most recent call last):
...
edgealloc.errors.ValidationError: cycles: must be >= 1 (got 0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pydantic

from .._validation import FrozenModel, check_choice, check_int
from ..errors import ValidationError
from ._checks import positive
from .energy import KAPPA

__all__ = [
    "CLOCKS",
    "DEFAULT_LR",
    "DIVERGENCE",
    "MODES",
    "PARTITIONS",
    "TRAIN_EVAL_SAMPLES",
    "TrainOptions",
]

#: Training modes: the orchestrator ships fresh batches, or learners own their data.
MODES: tuple[str, ...] = ("parallel", "federated")
#: Clock readings: the slowest participant (capped by T), or T every cycle.
CLOCKS: tuple[str, ...] = ("slowest", "deadline")
#: Partitions of the training set in federated mode.
PARTITIONS: tuple[str, ...] = ("iid", "shards", "unbalanced")
#: What to do when training diverges.
DIVERGENCE: tuple[str, ...] = ("stop", "raise")
#: Default learning rate :math:`\eta` of the local gradient steps.
DEFAULT_LR = 0.1
#: Training samples (at most) on which ``train_loss`` is measured.
TRAIN_EVAL_SAMPLES = 10_000
#: Why a partition other than ``"iid"`` is refused in parallel mode.
PARALLEL_PARTITION = (
    "applies to federated learning only (parallel learning ships fresh random batches; "
    "set the mode to federated)"
)


def _flag(field: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValidationError(field, f"must be True or False (got {value!r})")
    return bool(value)


def _device(value: Any) -> Any:
    """``None`` (the CPU, no PyTorch needed) or the checked :class:`torch.device`."""
    if value is None:
        return None
    from .engine import parse_device  # PyTorch; a missing one is its one-line error

    return parse_device(value)


def _optional_threads(value: Any) -> int | None:
    return None if value is None else check_int("threads", value, minimum=1)


#: Field -> check, in the order the fields are checked (the first bad one is reported).
_CHECKS: dict[str, Any] = {
    "cycles": lambda v: check_int("cycles", v, minimum=1),
    "mode": lambda v: None if v is None else check_choice("mode", v, MODES),
    "partition_scheme": lambda v: check_choice("partition_scheme", v, PARTITIONS),
    "lr": lambda v: positive("lr", v),
    "seed": lambda v: check_int("seed", v, minimum=0),
    "batched": lambda v: _flag("batched", v),
    "progress": lambda v: _flag("progress", v),
    "eval_every": lambda v: check_int("eval_every", v, minimum=1),
    "clock": lambda v: check_choice("clock", v, CLOCKS),
    "kappa": lambda v: positive("kappa", v),
    "train_eval_samples": lambda v: check_int("train_eval_samples", v, minimum=1),
    "keep_params": lambda v: _flag("keep_params", v),
    "threads": _optional_threads,
    "device": _device,
    "on_divergence": lambda v: check_choice("on_divergence", v, DIVERGENCE),
}


class TrainOptions(FrozenModel):
    r"""How :func:`~edgealloc.learn.training.train` runs an allocation (immutable, validated).

    Parameters
    ----------
    cycles
        Global cycles to run, ``>= 1`` (required).
    mode
        ``"parallel"`` (the orchestrator ships learner :math:`k` a fresh
        batch of :math:`d_k` samples every cycle) or ``"federated"`` (the
        training set is partitioned once over the learners); ``None``
        (default): the mode the scenario was compiled with
        (``problem.meta["mode"]``), else ``"parallel"``. ``train`` refuses a
        mode other than the compiled one (the allocation's times assume it).
    partition_scheme
        Federated mode: ``"iid"`` (default), ``"shards"`` or ``"unbalanced"``
        (:func:`edgealloc.learn.partition.partition`); must be ``"iid"`` in
        parallel mode, where it does not apply.
    lr
        Learning rate of the local gradient steps, ``> 0`` (default
        :data:`DEFAULT_LR`).
    seed
        Seeds everything random, ``>= 0``: the initial model, the partition
        (stream ``[seed, 0]``), the per-cycle batches (``[seed, 1]``) and the
        training subset of ``train_loss`` (``[seed, 2]``). Two runs with the
        same seed, data and allocation record the same numbers; runs of
        different allocations with one seed start from the same model and
        draw the same permutations.
    batched
        Train all learners stacked (default) or with the sequential
        reference loop (same numbers to float32 rounding).
    progress
        Show a progress bar on stderr.
    eval_every
        Evaluate the global model every this many cycles (and always at
        cycle 0 and at the last one); the other rows hold NaN losses.
    clock
        ``"slowest"`` (default): a cycle lasts :math:`\min(T, \max_k t_k)`;
        ``"deadline"``: :math:`T`.
    kappa
        :math:`\kappa` of the CPU energy when the problem has no energy
        model (:func:`~edgealloc.learn.energy.device_energy`; default
        :data:`~edgealloc.learn.energy.KAPPA`).
    train_eval_samples
        ``train_loss`` is measured on at most this many training samples (a
        fixed random subset; default :data:`TRAIN_EVAL_SAMPLES`).
    keep_params
        Keep the final global parameters in the record's ``params``.
    threads
        PyTorch intra-op threads while training (restored afterwards);
        ``None`` keeps the current setting. The default, 1, is the fastest
        for the engine's small per-learner products, and avoids a collapse
        measured with 2 threads on a busy 2-core machine (a cycle 100x
        slower; ``benchmarks/README.md``).
    device
        PyTorch device to train on (:func:`~edgealloc.learn.engine.parse_device`:
        ``None`` or ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``), checked
        against the machine and kept as a :class:`torch.device` (``None``
        stays ``None``: the CPU). The simulated clock and energy do not
        depend on it.
    on_divergence
        When a loss or a parameter turns non-finite (the learning rate is too
        large): ``"stop"`` (default) ends training there and returns the
        record up to and including that cycle, with a note and an
        :class:`~edgealloc.errors.EdgeallocWarning`; ``"raise"`` raises
        :class:`~edgealloc.errors.ValidationError` (field ``lr``) instead.

    Raises
    ------
    ValidationError
        One line naming the first bad field (``cycles``, ``lr``, ...), an
        unknown field, or ``partition_scheme`` other than ``"iid"`` with
        ``mode="parallel"``.
    """

    cycles: int
    mode: str | None = None
    partition_scheme: str = "iid"
    lr: float = DEFAULT_LR
    seed: int = 0
    batched: bool = True
    progress: bool = False
    eval_every: int = 1
    clock: str = "slowest"
    kappa: float = KAPPA
    train_eval_samples: int = TRAIN_EVAL_SAMPLES
    keep_params: bool = True
    threads: int | None = 1
    device: Any = None
    on_divergence: str = "stop"

    @pydantic.model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValidationError("options", f"must be a mapping (got {type(data).__name__})")
        for key in data:
            if key not in _CHECKS:
                raise ValidationError(
                    str(key), f"unknown field (training options: {', '.join(_CHECKS)})"
                )
        if "cycles" not in data:
            raise ValidationError("cycles", "missing required field")
        out = {key: check(data[key]) for key, check in _CHECKS.items() if key in data}
        if out.get("mode") == "parallel" and out.get("partition_scheme", "iid") != "iid":
            raise ValidationError("partition_scheme", PARALLEL_PARTITION)
        return out

    def replace(self, **changes: Any) -> TrainOptions:
        """A validated copy with some options changed (``opts.replace(seed=1)``)."""
        return type(self)(**{**self._values(), **changes})

    def _values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in type(self).model_fields}

    def to_dict(self) -> dict[str, Any]:
        """The options as plain values (``device`` as its name, ``None`` for the default)."""
        out = self._values()
        out["device"] = None if self.device is None else str(self.device)
        return out


def train_options(options: TrainOptions | None, changes: Mapping[str, Any]) -> TrainOptions:
    """``options`` with ``changes`` applied, or ``TrainOptions(**changes)`` when it is ``None``."""
    if options is None:
        return TrainOptions(**changes)
    if not isinstance(options, TrainOptions):
        raise ValidationError("options", f"must be a TrainOptions (got {type(options).__name__})")
    return options.replace(**changes) if changes else options
