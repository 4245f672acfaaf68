"""How each family's plans train: the trainer registry behind ``edgealloc train``.

A :class:`Trainer` says, for one problem family, how to compile a scenario
with the trained model as its workload, how to train one solved plan and how
to train every trainable scheme alike. ``edgealloc train`` asks the family
descriptor which schemes train (:attr:`edgealloc.family.Family.trainable`)
and this registry how (:func:`get_trainer`); it never names a family.

Built-in trainers (:data:`BUILTIN_TRAINERS`):

``mel``
    Local SGD cycles under a ``mel`` allocation (:func:`edgealloc.learn.training.train`,
    :func:`~edgealloc.learn.comparison.compare_schemes`,
    :func:`~edgealloc.learn.scenario.scenario_for_model`), unchanged.
``feel``
    Gradient averaging under a ``feel`` plan, one step per round on
    :math:`B_k` samples per device (:func:`edgealloc.learn.feel_training.train_feel`,
    :func:`~edgealloc.learn.feel_training.compare_feel`,
    :func:`~edgealloc.learn.feel_scenario.feel_scenario_for_model`).
``flmar``
    FedAvg under an ``flmar`` plan, :math:`R_l` local steps per round, every
    device on its images at its planned resolution
    (:func:`edgealloc.learn.flmar_training.train_flmar`,
    :func:`~edgealloc.learn.flmar_training.compare_flmar`,
    :func:`~edgealloc.learn.flmar_training.flmar_scenario_for_model`).

Third-party packages add one through the entry-point group
``edgealloc.trainers`` (``name = "package.module:TRAINER"``, the name being
the family's) or :func:`register_trainer`. Discovery is cached
(:func:`refresh_trainers`) and tolerant: a trainer that fails to load gives an
:class:`~edgealloc.errors.EdgeallocWarning` and is left out.

This module imports no PyTorch; a trainer's functions import it when called.

Examples
--------
>>> sorted(trainers())
['feel', 'flmar', 'mel']
>>> get_trainer("mel").rounds
'global cycles'
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from typing import Any

from ..errors import EdgeallocWarning, ValidationError

__all__ = [
    "BUILTIN_TRAINERS",
    "ENTRY_POINT_GROUP",
    "Trainer",
    "get_trainer",
    "refresh_trainers",
    "register_trainer",
    "trainers",
]

#: Entry-point group of third-party trainers.
ENTRY_POINT_GROUP = "edgealloc.trainers"


@dataclasses.dataclass(frozen=True)
class Trainer:
    """How one family's plans train (module docstring).

    Attributes
    ----------
    family
        The family name (the descriptor's ``name``).
    title
        What training means for it, one line.
    rounds
        What ``TrainOptions.cycles`` counts, for tables (``"global cycles"``,
        ``"communication rounds"``).
    compile_for_model
        ``(scenario, spec, overrides, *, n_train, mode) -> (problem, notes)``:
        the scenario compiled with the trained model as its workload, and
        the readings taken (notes for people).
    train
        ``(problem, result, dataset, *, spec, options) -> RunRecord``.
    compare
        ``(problem, dataset, *, spec, options) -> comparison`` with
        ``records``, ``skipped``, ``summary_rows()`` and ``plot(path)``.
    summary_rows
        ``(records) -> rows``: the summary table of trained records.
    check_options
        ``(options) -> None``: refuse options that do not apply to the family
        (a :class:`~edgealloc.errors.ValidationError` on the field), before
        any data are loaded.
    defaults
        ``edgealloc train``'s defaults for this family where they differ
        from the command's (``{"model": "cnn", "lr": 0.5}``); the user's
        ``--model`` and ``--lr`` win.
    """

    family: str
    title: str
    rounds: str
    compile_for_model: Callable[..., tuple[Any, list[str]]]
    train: Callable[..., Any]
    compare: Callable[..., Any]
    summary_rows: Callable[[Mapping[str, Any]], list[dict[str, Any]]]
    check_options: Callable[[Any], None] = lambda options: None
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)


# ---------------------------------------------------------------------------
# mel: local SGD cycles (the functions edgealloc train always called)
# ---------------------------------------------------------------------------
#: ``--set`` keys that choose the samples per cycle of a ``mel`` scenario.
_MEL_SAMPLES_KEYS = ("d", "total_samples")


def _mel_compile(
    scenario: Any, spec: Any, overrides: Mapping[str, Any], *, n_train: int, mode: str | None
) -> tuple[Any, list[str]]:
    from .scenario import scenario_for_model

    own_d = any(key in overrides for key in _MEL_SAMPLES_KEYS)
    problem = scenario_for_model(
        scenario, spec, overrides, total_samples=None if own_d else n_train, mode=mode
    )
    notes = (
        []
        if own_d
        else [f"d = {n_train} samples per cycle, the training set size (--set d=N to change it)"]
    )
    regime = _mel_regime_note(scenario, spec, overrides, problem.total_samples)
    return problem, [*notes, *([regime] if regime else [])]


#: A paper scale above this: the trained model's iterations are far cheaper than the paper's.
_REGIME_FACTOR = 10.0


def _mel_regime_note(
    scenario: Any, spec: Any, overrides: Mapping[str, Any], n_samples: int
) -> str | None:
    """Why the schemes may coincide, and the setting that separates them (the papers' regime).

    With the trained model as the workload, a local iteration over the data
    set costs a small fraction of the paper's (its network on 60,000
    samples), so every learner runs hundreds of iterations per cycle and
    learning saturates within a cycle or two whatever the plan: optimal and
    equal then end at the same accuracy (issue 14; e.g. K = 20, T = 12 s on
    digits: tau 988 / 448, both about 93% after 3 cycles). The scale
    :func:`~edgealloc.learn.scenario.paper_workload_scale` restores the
    papers' cost per iteration (tau 5 / 2 there).
    """
    from ..errors import EdgeallocError
    from ..scenarios import ALIASES
    from .scenario import paper_workload_scale

    keys = {ALIASES.get(key, key) for key in overrides}
    if keys & {"workload.cycles_per_flop", "workload.cycles_per_sample"}:
        return None
    try:
        scale = paper_workload_scale(scenario, spec, n_samples)
    except EdgeallocError:  # a canonical problem given as is, or a document without layers
        return None
    if scale is None or scale < _REGIME_FACTOR:
        return None
    return (
        f"workload: the trained {spec.kind}'s local iteration over d = {n_samples} samples costs "
        f"1/{scale:.0f} of the paper's (its network on the scenario's total_samples), so a "
        f"cycle holds about {scale:.0f} times the paper's local steps and accuracy can saturate "
        "within a cycle whatever the plan; --set workload.cycles_per_flop="
        f"{scale:.4g} gives the papers' regime (the scale edgealloc reproduce mel-accuracy "
        "trains at), where the plans' accuracies differ"
    )


def _mel_train(problem: Any, result: Any, dataset: Any, **kwargs: Any) -> Any:
    from .training import train

    return train(problem, result, dataset, **kwargs)


def _mel_compare(problem: Any, dataset: Any, **kwargs: Any) -> Any:
    from .comparison import compare_schemes

    return compare_schemes(problem, dataset, **kwargs)


def _mel_rows(records: Mapping[str, Any]) -> list[dict[str, Any]]:
    from .comparison import Comparison

    return Comparison(records=dict(records), results={}, skipped={}).summary_rows()


MEL_TRAINER = Trainer(
    family="mel",
    title="local SGD: tau_k full-batch steps on d_k samples per learner, then the d_k-weighted "
    "average of the models",
    rounds="global cycles",
    compile_for_model=_mel_compile,
    train=_mel_train,
    compare=_mel_compare,
    summary_rows=_mel_rows,
)


# ---------------------------------------------------------------------------
# feel: gradient averaging, one step per round
# ---------------------------------------------------------------------------
def _feel_compile(
    scenario: Any, spec: Any, overrides: Mapping[str, Any], *, n_train: int, mode: str | None
) -> tuple[Any, list[str]]:
    from .feel_scenario import feel_scenario_for_model

    if mode not in (None, "federated"):
        raise ValidationError(
            "mode",
            f"FEEL devices own their data (gradient averaging is federated); {mode} learning "
            "does not apply (leave it out or use federated)",
        )
    problem = feel_scenario_for_model(scenario, spec, overrides, workload="model")
    flops = spec.flops_per_sample("standard")
    what = (
        f"workload: the trained {spec.kind}'s {spec.n_params:,} parameters, a gradient of "
        f"{float(problem.gradient_bits):.4g} bits"
    )
    if problem.gpu is None:
        what += (
            f", and its {flops:,} training FLOPs per sample as C = "
            f"{float(problem.cycles_per_sample):.4g} cycles"
        )
    else:
        what += (
            "; the GPU curve (Assumption 1) is the scenario's (edgealloc profile measures the "
            "model's)"
        )
    return problem, [what + " (--set parameters=... or C=... to change it)"]


def _feel_train(problem: Any, result: Any, dataset: Any, **kwargs: Any) -> Any:
    from .feel_training import train_feel

    return train_feel(problem, result, dataset, **kwargs)


def _feel_compare(problem: Any, dataset: Any, **kwargs: Any) -> Any:
    from .feel_training import compare_feel

    return compare_feel(problem, dataset, **kwargs)


def _feel_rows(records: Mapping[str, Any]) -> list[dict[str, Any]]:
    from .feel_records import summary_rows

    return summary_rows(records)


def _feel_check(options: Any) -> None:
    from .feel_training import _check_options

    _check_options(options)


FEEL_TRAINER = Trainer(
    family="feel",
    title="gradient averaging: one step per round along the B_k-weighted mean of the devices' "
    "batch gradients (eqs. (1)-(2)), the rate by the square-root rule",
    rounds="communication rounds",
    compile_for_model=_feel_compile,
    train=_feel_train,
    compare=_feel_compare,
    summary_rows=_feel_rows,
    check_options=_feel_check,
)


# ---------------------------------------------------------------------------
# flmar: FedAvg, every device at its planned resolution
# ---------------------------------------------------------------------------
def _flmar_compile(
    scenario: Any, spec: Any, overrides: Mapping[str, Any], *, n_train: int, mode: str | None
) -> tuple[Any, list[str]]:
    from .flmar_training import flmar_scenario_for_model

    return flmar_scenario_for_model(scenario, spec, overrides, mode=mode)


def _flmar_train(problem: Any, result: Any, dataset: Any, **kwargs: Any) -> Any:
    from .flmar_training import train_flmar

    return train_flmar(problem, result, dataset, **kwargs)


def _flmar_compare(problem: Any, dataset: Any, **kwargs: Any) -> Any:
    from .flmar_training import compare_flmar

    return compare_flmar(problem, dataset, **kwargs)


def _flmar_rows(records: Mapping[str, Any]) -> list[dict[str, Any]]:
    from .flmar_training import summary_rows

    return summary_rows(records)


def _flmar_check(options: Any) -> None:
    from .flmar_training import check_flmar_options

    check_flmar_options(options)


FLMAR_TRAINER = Trainer(
    family="flmar",
    title="FedAvg: R_l full-batch local steps per device on its images at its planned "
    "resolution, then the D_n-weighted average; a round lasts T / R_g (eq. (11))",
    rounds="global rounds",
    compile_for_model=_flmar_compile,
    train=_flmar_train,
    compare=_flmar_compare,
    summary_rows=_flmar_rows,
    check_options=_flmar_check,
    # images at a resolution need the CNN; 0.5 is the rate the held-out rule of
    # learn.flmar_accuracy picks for it on digits (docs/flmar.md)
    defaults={"model": "cnn", "lr": 0.5},
)

#: Built-in trainers: family name -> ``"module:attribute"``.
BUILTIN_TRAINERS: dict[str, str] = {
    "mel": "edgealloc.learn.trainers:MEL_TRAINER",
    "feel": "edgealloc.learn.trainers:FEEL_TRAINER",
    "flmar": "edgealloc.learn.trainers:FLMAR_TRAINER",
}

_REGISTERED: dict[str, Trainer] = {}


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def _entry_points() -> Sequence[Any]:
    try:
        return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    except Exception:  # pragma: no cover - a broken environment: built-ins only
        return []


@functools.lru_cache(maxsize=1)
def _discovered() -> dict[str, Trainer]:
    out: dict[str, Trainer] = {}
    sources = [(name, lambda p=path: _load(p)) for name, path in BUILTIN_TRAINERS.items()]
    sources += [(ep.name, ep.load) for ep in _entry_points()]
    for name, load in sources:
        try:
            trainer = load()
        except Exception as exc:  # a broken plugin never breaks the library
            warnings.warn(
                f"trainer {name!r} failed to load ({type(exc).__name__}: {exc}); left out",
                EdgeallocWarning,
                stacklevel=2,
            )
            continue
        if not isinstance(trainer, Trainer):
            warnings.warn(
                f"trainer {name!r} is not an edgealloc.learn.trainers.Trainer; left out",
                EdgeallocWarning,
                stacklevel=2,
            )
            continue
        if trainer.family in out:
            warnings.warn(
                f"two trainers for family {trainer.family!r}; the first is kept",
                EdgeallocWarning,
                stacklevel=2,
            )
            continue
        out[trainer.family] = trainer
    return out


def trainers() -> dict[str, Trainer]:
    """Every trainer: family name -> :class:`Trainer` (built-ins, plugins, registered)."""
    out = dict(_discovered())
    for name, trainer in _REGISTERED.items():
        out.setdefault(name, trainer)
    return out


def get_trainer(family: str) -> Trainer:
    """The trainer of ``family``.

    Raises
    ------
    ValidationError
        When no trainer is installed for it (the message lists those that are).
    """
    known = trainers()
    if family not in known:
        raise ValidationError(
            "family",
            f"no trainer for family {family!r} is installed (trainers: {', '.join(known)})",
        )
    return known[family]


def register_trainer(trainer: Trainer, *, replace: bool = False) -> Trainer:
    """Add a trainer in this process (a plugin's is found through the entry point).

    Raises
    ------
    ValidationError
        Not a :class:`Trainer`, or a family that has one already (without ``replace``).
    """
    if not isinstance(trainer, Trainer):
        raise ValidationError(
            "trainer", f"must be an edgealloc.learn.trainers.Trainer (got {type(trainer).__name__})"
        )
    if not replace and trainer.family in trainers():
        raise ValidationError(
            "trainer", f"family {trainer.family!r} has a trainer already (pass replace=True)"
        )
    if replace:
        _discovered().pop(trainer.family, None)
    _REGISTERED[trainer.family] = trainer
    return trainer


def refresh_trainers() -> None:
    """Forget discovered and registered trainers (the next call discovers them again)."""
    _discovered.cache_clear()
    _REGISTERED.clear()
