r"""The training runs of the FEEL reproductions, the learning-rate rule and what is read off.

Shared by :mod:`.feel_table2` (Table II) and :mod:`.feel_gpu_curves` (Figs. 4-5)
of Ren, Yu & Ding, *Accelerating DNN Training in Wireless Federated Edge
Learning Systems* (IEEE JSAC 2021, Ren, Yu & Ding, IEEE JSAC 2021).

A run (:func:`train_task`, the sweep worker) compiles a ``feel`` preset for
the model that trains (:func:`edgealloc.learn.feel_scenario.feel_scenario_for_model`,
``workload`` ``"paper"`` or ``"model"``), with the seed drawing the cell
(``--set seed``), and trains one scheme for a fixed *simulated* time: the
horizon :math:`H` is ``horizon`` rounds of the exact plan (``optimal``), and
every scheme trains for as many of its own rounds as fit in :math:`H`
(:func:`edgealloc.learn.feel_training.train_feel` for the family's plans,
:func:`edgealloc.learn.feel_baselines.train_feel_procedure` for the Table II
procedures). The global model is evaluated after every round. A run's
``status`` is a :class:`~edgealloc.result.Status` value: the solver's, or
``diverged`` (non-finite at this learning rate) or ``error``.

The learning rate: one rule for every scheme
--------------------------------------------
Every scheme follows the square-root rule :math:`\eta = \eta_{ref}\sqrt{B / 128}`
(:mod:`edgealloc.learn.feel_training`), and every variant (setting and
scheme) gets its own :math:`\eta_{ref}`, by one rule (:func:`tune`):

1. hold out a stratified :data:`HOLDOUT` share of the *training* set
   (:func:`holdout_split`, seed :data:`HOLDOUT_SEED`; the test set is never
   looked at);
2. train the variant on the rest, for the same simulated horizon, at every
   rate of the grid, on tuning seeds :data:`TUNE_SEED_BASE` + 0, 1, ...;
3. score a run by its held-out accuracy averaged over the simulated time
   :math:`[0, H]` (the area under its accuracy-time curve over :math:`H`:
   fast *and* accurate); a diverged run scores 0;
4. take the best mean score, ties to the smaller rate.

The tuning runs are the sensitivity table ``NAME-lr.csv``.

The options both reproductions share (``horizon``, ``lr``, ``grid``,
``tune_seeds``, ``partitions``, ``dataset``, ``model``) are checked by
:func:`prepare_training` and :func:`check_data`; their tasks and tuning
sweep come from :func:`variant_tasks` and :func:`tune_variants`, their
tables from :func:`training_tables`; :func:`training_experiment` declares
a whole reproduction with them, :func:`training_notes` opens its notes.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EdgeallocError, ValidationError
from ..result import Status
from ._accuracy import _stratified_holdout
from ._template import Config, Experiment, Figure, Sweep, Table

__all__ = [
    "HOLDOUT",
    "LR_GRID",
    "LR_GRID_QUICK",
    "OK",
    "SEED_ROW_COLUMNS",
    "TRAINING_OPTIONS",
    "TUNE_SEED_BASE",
    "band_rows",
    "by_variant",
    "check_data",
    "draw_band",
    "final",
    "holdout_split",
    "plan_means",
    "prepare_training",
    "rate",
    "reach_time",
    "score",
    "seed_row",
    "step_curve",
    "target_accuracy",
    "train_task",
    "trained",
    "training_experiment",
    "training_notes",
    "training_tables",
    "tune",
    "tune_rows",
    "tune_variants",
    "tuning_note",
    "variant_curve",
    "variant_tasks",
]

#: Share of the training set held out by the learning-rate rule, and its seed.
HOLDOUT = 0.2
HOLDOUT_SEED = 2024
#: Seeds of the tuning runs start here (the main runs use 0, 1, ...).
TUNE_SEED_BASE = 1000
#: Rates of the learning-rate rule (the rate at a global batch of 128), and the quick grid.
LR_GRID: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4)
LR_GRID_QUICK: tuple[float, ...] = (0.2,)
#: The defaults of the options :func:`prepare_training` checks (``None``: by ``quick``).
TRAINING_OPTIONS: dict[str, Any] = {"horizon": None, "lr": None, "grid": None, "tune_seeds": 1}
#: The columns of :func:`seed_row` after the variant's keys.
SEED_ROW_COLUMNS: tuple[str, ...] = ("seed", "lr", "status", "round_s", "rounds", "final_accuracy")
#: Statuses of a run that trained.
OK: frozenset[str] = frozenset({Status.OPTIMAL.value, Status.FEASIBLE.value})
#: How many more rounds than H / latency a ``random`` run is given (its rounds vary).
_RANDOM_SLACK = 1.6
#: A round that ends within this relative tolerance of the horizon still counts: a plan
#: 1e-7 slower than the optimum (Algorithm 1's round-up) keeps its last round.
_HORIZON_RTOL = 1e-6


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
def holdout_split(data: Any, holdout: float = HOLDOUT, seed: int = HOLDOUT_SEED) -> Any:
    """The training set split into a tuning-train part and a held-out "test" part.

    Stratified: a ``holdout`` share of each class (rounded, at least one),
    chosen by ``seed``; the data set's test set is not used.
    """
    return _stratified_holdout(data, holdout, seed, {"holdout": {"share": holdout, "seed": seed}})


@functools.lru_cache(maxsize=4)
def _dataset(name: str, split: str) -> Any:
    from ..learn.data import load_dataset

    data = load_dataset(name, seed=0)
    return holdout_split(data) if split == "tune" else data


# ---------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------
def _round(values: Any) -> list[float | None]:
    return [
        round(float(v), 7) if math.isfinite(float(v)) else None for v in np.asarray(values, float)
    ]


def _problem(task: Mapping[str, Any], spec: Any) -> Any:
    from ..learn.feel_scenario import feel_scenario_for_model

    over = dict(task.get("overrides") or {})
    over["seed"] = int(task["seed"])  # the seed draws the cell too
    if task.get("K") is not None:
        over["K"] = int(task["K"])
    return feel_scenario_for_model(task["preset"], spec, over, workload=task["workload"])


def train_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """Train one variant for the simulated horizon (module docstring); a JSON-ready dict.

    Keys: ``status``, ``message``, ``round_s`` (the plan's latency, or the
    procedure's round), ``global_batch``, ``horizon_s``, ``rounds`` and, per
    evaluated round from 0, ``time`` (simulated s), ``accuracy``, ``loss``
    (training loss of the global model), ``energy`` (J); ``wall_s``.
    """
    import torch

    from ..api import solve
    from ..learn.feel_baselines import PROCEDURES, procedure_prices, train_feel_procedure
    from ..learn.feel_training import train_feel
    from ..learn.models import model_for
    from ..learn.partition import partition

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = _dataset(task["dataset"], task.get("split", "full"))
        spec = model_for(data, task["model"])
        problem = _problem(task, spec)
        ref = solve(problem, "optimal")
        horizon = float(task["horizon"]) * float(ref.latency)
        scheme = task["scheme"]
        common = {
            "spec": spec,
            "cycles": 1,
            "lr": float(task["lr"]),
            "seed": int(task["seed"]),
            "partition_scheme": task["partition"],
            "keep_params": False,
            "on_divergence": "raise",
            "threads": 1,
        }
        out: dict[str, Any] = {"horizon_s": horizon}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if scheme in PROCEDURES:
                parts = partition(
                    data.y_train,
                    problem.n_devices,
                    scheme=task["partition"],
                    rng=np.random.default_rng([int(task["seed"]), 0]),
                )
                sizes = [len(p) for p in parts]
                prices = procedure_prices(problem, scheme, sizes)
                budget = horizon - (prices["exchange_s"] if scheme == "individual" else 0.0)
                rounds = max(1, math.ceil(budget / prices["round_s"] * (1 + 1e-12)))
                common["cycles"] = rounds
                out.update(
                    status=Status.FEASIBLE.value,
                    message=f"{scheme}: {rounds} rounds of {prices['round_s']:.6g} s",
                    round_s=float(prices["round_s"]),
                    global_batch=float(sum(sizes)),
                )
                try:
                    rec = train_feel_procedure(problem, data, scheme, **common)
                except ValidationError as exc:
                    status = Status.DIVERGED if exc.field == "lr" else Status.ERROR
                    out.update(status=status.value, message=str(exc))
                    return out
            else:
                res = solve(problem, scheme)
                slack = _RANDOM_SLACK if scheme == "random" else 1.0
                rounds = max(1, math.ceil(horizon / float(res.latency) * slack * (1 + 1e-12)))
                common["cycles"] = rounds
                out.update(
                    status=res.status.value,
                    message=res.message,
                    round_s=float(res.latency),
                    global_batch=float(res.global_batch),
                )
                try:
                    rec = train_feel(problem, res, data, **common)
                except ValidationError as exc:
                    status = Status.DIVERGED if exc.field == "lr" else Status.ERROR
                    out.update(status=status.value, message=str(exc))
                    return out
        cols = rec.columns
        keep = cols["sim_time_s"] <= horizon * (1 + _HORIZON_RTOL)
        keep[:2] = True
        out.update(
            rounds=int(np.count_nonzero(keep)) - 1,
            time=_round(cols["sim_time_s"][keep]),
            accuracy=_round(cols["test_accuracy"][keep]),
            loss=_round(cols["train_loss"][keep]),
            energy=_round(cols["energy_j"][keep]),
            wall_s=float(rec.wall_time_s),
        )
        return out
    except EdgeallocError as exc:
        return {"status": Status.ERROR.value, "message": str(exc)}
    finally:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------------------
# What is read off a run
# ---------------------------------------------------------------------------
def _arrays(run: Mapping[str, Any], key: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.array([np.nan if v is None else v for v in run["time"]], float)
    y = np.array([np.nan if v is None else v for v in run[key]], float)
    keep = np.isfinite(t) & np.isfinite(y)
    return t[keep], y[keep]


def step_curve(run: Mapping[str, Any], grid: np.ndarray, key: str = "accuracy") -> np.ndarray:
    """The run's ``key`` at the times ``grid``: the last evaluation at or before each time."""
    t, y = _arrays(run, key)
    idx = np.searchsorted(t, grid, side="right") - 1
    return np.where(idx >= 0, y[np.clip(idx, 0, None)], np.nan)


def score(run: Mapping[str, Any]) -> float:
    """Held-out accuracy averaged over the simulated horizon; 0 for a diverged run."""
    if run.get("status") == Status.DIVERGED.value:
        return 0.0
    if run.get("status") not in OK or "time" not in run:
        return math.nan
    t, y = _arrays(run, "accuracy")
    horizon = float(run["horizon_s"])
    edges = np.r_[t, horizon]
    widths = np.clip(np.diff(edges), 0.0, None)
    return float((y * widths).sum() / horizon)


def reach_time(run: Mapping[str, Any], threshold: float) -> float:
    """First simulated time the accuracy reaches ``threshold`` (NaN: never within H)."""
    if run.get("status") not in OK or "time" not in run:
        return math.nan
    t, y = _arrays(run, "accuracy")
    hit = np.flatnonzero(y >= threshold - 1e-12)
    return float(t[hit[0]]) if hit.size else math.nan


def final(run: Mapping[str, Any], key: str = "accuracy") -> float:
    """The last evaluated value (NaN when the run did not train)."""
    if run.get("status") not in OK or "time" not in run:
        return math.nan
    _, y = _arrays(run, key)
    return float(y[-1]) if y.size else math.nan


def trained(runs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The runs that trained and carry a curve."""
    return [r for r in runs if r.get("status") in OK and "time" in r]


def target_accuracy(
    groups: Mapping[tuple, Sequence[Mapping[str, Any]]],
    panel: tuple,
    schemes: Sequence[str],
    share: float,
) -> float:
    """``share`` x the lowest mean final accuracy of ``schemes`` in ``panel`` (NaN: none)."""
    finals = []
    for scheme in schemes:
        runs = [r for r in groups.get((*panel, scheme), []) if r.get("status") in OK]
        vals = [final(r) for r in runs]
        if vals:
            finals.append(float(np.nanmean(vals)))
    return share * min(finals) if finals else math.nan


def plan_means(good: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Mean ``round_s``, ``global_batch`` and ``rounds`` of the runs that trained (NaN: none)."""
    return {
        key: float(np.mean([r[key] for r in good])) if good else math.nan
        for key in ("round_s", "global_batch", "rounds")
    }


def seed_row(
    keys: Sequence[str], variant: tuple, run: Mapping[str, Any], lr: float
) -> dict[str, Any]:
    """The columns of a per-seed row that every training reproduction writes."""
    row = dict(zip(keys, variant, strict=True))
    row.update(
        seed=run["seed"],
        lr=lr,
        status=run.get("status"),
        round_s=run.get("round_s", math.nan),
        rounds=run.get("rounds", math.nan),
        final_accuracy=final(run),
    )
    return row


def by_variant(
    tasks: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> dict[tuple, list[Mapping[str, Any]]]:
    """Runs grouped by the values of ``keys`` (in task order)."""
    out: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for task, res in zip(tasks, results, strict=True):
        out[tuple(task[k] for k in keys)].append({**res, "seed": task["seed"]})
    return out


def band_rows(
    groups: Mapping[tuple, Sequence[Mapping[str, Any]]],
    keys: Sequence[str],
    points: int,
) -> list[dict[str, Any]]:
    """Per group, on ``points`` times over [0, H]: mean and s.d. of accuracy and loss."""
    rows: list[dict[str, Any]] = []
    for group, runs in groups.items():
        good = trained(runs)
        if not good:
            continue
        horizon = float(good[0]["horizon_s"])
        grid = np.linspace(0.0, horizon, points)
        acc = np.array([step_curve(r, grid, "accuracy") for r in good])
        loss = np.array([step_curve(r, grid, "loss") for r in good])
        n = len(good)
        for i, t in enumerate(grid):
            row = dict(zip(keys, group, strict=True))
            row.update(
                time_s=float(t),
                seeds=n,
                accuracy_mean=float(np.nanmean(acc[:, i])),
                accuracy_std=float(np.nanstd(acc[:, i], ddof=1)) if n > 1 else 0.0,
                loss_mean=float(np.nanmean(loss[:, i])),
                loss_std=float(np.nanstd(loss[:, i], ddof=1)) if n > 1 else 0.0,
            )
            rows.append(row)
    return rows


def variant_curve(
    curves: Sequence[Mapping[str, Any]], keys: Sequence[str], variant: tuple
) -> list[Mapping[str, Any]]:
    """The rows of :func:`band_rows` of one variant."""
    return [r for r in curves if tuple(r[k] for k in keys) == variant]


def draw_band(
    ax: Any,
    t: np.ndarray,
    rows: Sequence[Mapping[str, Any]],
    key: str,
    style: Mapping[str, Any],
    label: str,
) -> None:
    """The mean of ``key`` (``accuracy`` or ``loss``) over ``t`` and its one-s.d. band."""
    m = np.array([r[f"{key}_mean"] for r in rows])
    s = np.array([r[f"{key}_std"] for r in rows])
    ax.plot(t, m, color=style["color"], ls=style["ls"], lw=1.6, label=label)
    ax.fill_between(t, m - s, m + s, color=style["color"], alpha=0.15, lw=0)


# ---------------------------------------------------------------------------
# The learning-rate rule
# ---------------------------------------------------------------------------
def tune(
    sweep: Any,
    points: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    grid: Sequence[float],
    seeds: int,
) -> dict[str, Any]:
    """Run the tuning sweep (``points`` = task dicts without seed and lr) and apply the rule.

    Returns ``cfg.tuned``: ``chosen`` (variant -> rate), ``scores`` (variant
    -> {rate: mean score}), the tuning ``tasks`` and ``results``, ``grid``,
    ``seeds``, ``keys`` and the ``sweep`` summary.
    """
    tasks = [
        {**point, "split": "tune", "seed": TUNE_SEED_BASE + s, "lr": float(lr)}
        for point in points
        for lr in grid
        for s in range(seeds)
    ]
    done = sweep(tasks, "lr tuning")
    per: dict[tuple, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for task, res in zip(tasks, done.results, strict=True):
        per[tuple(task[k] for k in keys)][float(task["lr"])].append(score(res))
    chosen: dict[tuple, float | None] = {}
    scores: dict[tuple, dict[float, float]] = {}
    for key, rates in per.items():
        mean = {lr: float(np.nanmean(v)) for lr, v in rates.items() if np.isfinite(v).any()}
        scores[key] = mean
        chosen[key] = max(mean, key=lambda r: (round(mean[r], 12), -r)) if mean else None
    return {
        "chosen": chosen,
        "scores": scores,
        "tasks": tasks,
        "results": done.results,
        "grid": tuple(float(v) for v in grid),
        "seeds": seeds,
        "keys": tuple(keys),
        "instances": done.instances,
        "reused": done.reused,
    }


def rate(tuned: Mapping[str, Any], key: tuple, fixed: float | None) -> float:
    """The rate of variant ``key``: ``fixed`` when given, else the rule's (the grid's middle)."""
    if fixed is not None:
        return float(fixed)
    best = tuned["chosen"].get(key)
    grid = tuned["grid"]
    return float(best) if best is not None else float(grid[len(grid) // 2])


def tune_rows(tuned: Mapping[str, Any], fixed: float | None) -> list[dict[str, Any]]:
    """The sensitivity table: per variant and rate, the tuning score and what it reached."""
    keys = tuned["keys"]
    groups: dict[tuple, dict[float, list[Mapping[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for task, res in zip(tuned["tasks"], tuned["results"], strict=True):
        groups[tuple(task[k] for k in keys)][float(task["lr"])].append(res)
    rows = []
    for key, rates in groups.items():
        used = rate(tuned, key, fixed)
        for lr in tuned["grid"]:
            runs = rates.get(lr, [])
            row = dict(zip(keys, key, strict=True))
            row.update(
                lr=lr,
                chosen=int(tuned["chosen"].get(key) == lr),
                used=int(used == lr),
                runs=len(runs),
                diverged_runs=sum(r.get("status") == Status.DIVERGED.value for r in runs),
                score=tuned["scores"].get(key, {}).get(lr, math.nan),
                final_accuracy=float(np.nanmean([final(r) for r in runs])) if runs else math.nan,
            )
            rows.append(row)
    return rows


def tuning_note(tuned: Mapping[str, Any], fixed: float | None) -> str:
    """The rule and what it chose, in words."""
    grid = ", ".join(f"{v:g}" for v in tuned["grid"])
    text = (
        f"Learning rate: eta = lr sqrt(B / 128) for every scheme, lr per variant the best of "
        f"{{{grid}}} by held-out accuracy averaged over the simulated horizon ({HOLDOUT:.0%} of "
        f"the training set held out; {tuned['seeds']} tuning seed(s); {tuned['instances']} "
        f"tuning runs, {tuned['reused']} from the store)."
    )
    if fixed is not None:
        text += f" Overridden: every main run uses lr = {fixed:g}."
    return text


# ---------------------------------------------------------------------------
# The options, tasks and tables of a training reproduction
# ---------------------------------------------------------------------------
def prepare_training(cfg: Config, horizon: int, horizon_quick: int) -> dict[str, Any]:
    """The options, ``horizon`` and ``grid`` defaulted; ``horizon``, ``lr`` and ``grid`` checked."""
    o = dict(cfg.options)
    if o["horizon"] is None:
        o["horizon"] = horizon_quick if cfg.quick else horizon
    if o["grid"] is None:
        o["grid"] = LR_GRID_QUICK if cfg.quick else LR_GRID
    h = o["horizon"]
    if isinstance(h, bool) or not isinstance(h, int) or h < 1:
        raise ValidationError("horizon", f"must be an integer >= 1 (got {h!r})")
    lr = o["lr"]
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, int | float) or lr <= 0):
        raise ValidationError("lr", f"must be a positive number, or None for the rule (got {lr!r})")
    grid = tuple(float(v) for v in o["grid"])
    if not grid or any(not (v > 0) for v in grid):
        raise ValidationError("grid", f"must be positive rates (got {o['grid']!r})")
    o["grid"] = grid
    return o


def check_data(o: dict[str, Any]) -> None:
    """Check (and make tuples of) ``partitions``; check ``dataset`` and ``model``, in place."""
    parts = tuple(o["partitions"])
    for p in parts:
        if p not in ("iid", "shards", "unbalanced"):
            raise ValidationError("partitions", f"must be iid, shards or unbalanced (got {p!r})")
    o["partitions"] = parts
    if o["dataset"] not in ("digits", "mnist1d"):
        raise ValidationError(
            "dataset",
            f"must be an offline classification set: digits or mnist1d (got {o['dataset']!r})",
        )
    if o["model"] not in ("mlp", "cnn", "linear"):
        raise ValidationError("model", f"must be mlp, cnn or linear (got {o['model']!r})")


def tune_variants(
    cfg: Config, sweep: Any, points: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> dict[str, Any]:
    """The ``tune`` hook: the rule over ``points``, or nothing to tune when ``lr`` is fixed."""
    if cfg.options["lr"] is not None:
        return tune(sweep, [], keys, (float(cfg.options["lr"]),), 0)
    return tune(sweep, points, keys, cfg.options["grid"], cfg.options["tune_seeds"])


def variant_tasks(
    cfg: Config, points: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> list[dict[str, Any]]:
    """The main runs: every point on seeds 0, 1, ... at its variant's rate."""
    lr = cfg.options["lr"]
    return [
        {**p, "seed": s, "lr": rate(cfg.tuned, tuple(p[k] for k in keys), lr)}
        for p in points
        for s in range(cfg.seeds)
    ]


def training_tables(
    keys: Sequence[str], summary_columns: tuple[str, ...], seed_columns: tuple[str, ...]
) -> tuple[Table, ...]:
    """The four tables: summary, ``-curves`` (:func:`band_rows`), ``-seeds``, ``-lr``."""
    curves = (*keys, "time_s", "seeds", "accuracy_mean", "accuracy_std", "loss_mean", "loss_std")
    lr = (*keys, "lr", "chosen", "used", "runs", "diverged_runs", "score", "final_accuracy")
    return (
        Table("", summary_columns, "summary"),
        Table("-curves", curves, "curves"),
        Table("-seeds", seed_columns, "seed_rows"),
        Table("-lr", lr, "lr_rows"),
    )


def training_notes(cfg: Config, sweep: Sweep, target: str) -> list[str]:
    """The first notes of a training reproduction: the rate rule, the runs, ``target`` in words."""
    return [
        tuning_note(cfg.tuned, cfg.options["lr"]),
        f"{sweep.instances} training runs ({sweep.reused} from the store); horizon "
        f"{cfg.options['horizon']} rounds of the exact plan; {target}.",
    ]


def training_experiment(
    *,
    keys: Sequence[str],
    points: Callable[[Config], list[dict[str, Any]]],
    draw: Callable[[Config, Mapping[str, Any], Path], None],
    summary_columns: tuple[str, ...],
    seed_columns: tuple[str, ...],
    options: Mapping[str, Any],
    **parts: Any,
) -> Experiment:
    """An :class:`Experiment` training every variant of ``points`` (3 seeds, 1 with ``--quick``).

    The rates are tuned per variant (:func:`tune_variants`), the main runs
    are :func:`variant_tasks` run by :func:`train_task`; the tables are
    :func:`training_tables`, the figure ``NAME.png`` is ``draw``'s, and the
    options are :data:`TRAINING_OPTIONS` followed by ``options``. ``parts``:
    the experiment's own fields (``name``, ``title``, ``description``, the
    durations, ``analyse``, ``summary``, ``notes``, ``prepare``).
    """

    def _tune(cfg: Config, sweep: Any) -> dict[str, Any]:
        return tune_variants(cfg, sweep, points(cfg), keys)

    def _tasks(cfg: Config) -> list[dict[str, Any]]:
        return variant_tasks(cfg, points(cfg), keys)

    return Experiment(
        **parts,
        default_seeds=3,
        quick_seeds=1,
        tasks=_tasks,
        worker=train_task,
        tables=training_tables(keys, summary_columns, seed_columns),
        figures=(Figure("", draw),),
        options={**TRAINING_OPTIONS, **options},
        tune=_tune,
    )
