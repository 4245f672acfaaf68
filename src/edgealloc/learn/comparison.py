"""Every scheme at once: :func:`compare_schemes` trains each allocation alike.

The schemes of the ``mel`` family are solved on one problem, and each
trainable allocation (:func:`trainable_schemes`: the family's integral
schemes) is trained with the same :class:`~edgealloc.learn.options.TrainOptions`
and seed; :class:`Comparison` holds the records, the results and the schemes
skipped with the reason.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._validation import check_choice
from ..errors import EdgeallocWarning, InfeasibleError, ValidationError
from ..mel.problem import MelProblem
from ..result import Result, Status
from .data import Dataset
from .models import ModelSpec, model_for
from .options import TrainOptions, train_options
from .plots import plot_records
from .records import RunRecord, _final_columns, _span_text
from .training import _trainable_schemes, train

__all__ = ["Comparison", "compare_schemes", "trainable_schemes"]


def trainable_schemes() -> list[str]:
    """The ``mel`` schemes whose allocations can be trained (the integral ones, in order).

    ``relaxed`` returns the continuous relaxation's fractional
    :math:`\\tau_k, d_k` (an upper bound, not a plan) and is left out: the
    family descriptor's ``trainable`` schemes.
    """
    return _trainable_schemes()


@dataclasses.dataclass(frozen=True, eq=False)
class Comparison:
    """One :class:`RunRecord` per scheme, trained alike (:func:`compare_schemes`).

    Attributes
    ----------
    records
        Scheme -> record, in the order the schemes were given.
    results
        Scheme -> :class:`~edgealloc.Result` for every scheme solved
        (including those skipped).
    skipped
        Scheme -> why it was not trained (fractional, infeasible, failed).
    """

    records: Mapping[str, RunRecord]
    results: Mapping[str, Result]
    skipped: Mapping[str, str]

    def plot(self, path: str | Path, *, title: str | None = None) -> Path:
        """All records in one figure (:func:`plot_records`)."""
        return plot_records(list(self.records.values()), path, title=title)

    def summary_rows(self) -> list[dict[str, Any]]:
        """One row per trained scheme: allocation, clock, energy and the final metric."""
        rows = []
        for scheme, rec in self.records.items():
            part = rec.samples > 0
            tau = rec.tau[part]
            rows.append(
                {
                    "scheme": scheme,
                    "tau": _span_text(tau.min(), tau.max()),
                    "cycle_time_s": rec.cycle_time_s,
                    "j_per_cycle": float(rec.device_energy_j.sum()),
                    "cycles": rec.cycles,
                    **_final_columns(rec),
                }
            )
        return rows


def compare_schemes(
    problem: MelProblem,
    dataset: Dataset,
    *,
    schemes: Sequence[str] | None = None,
    spec: ModelSpec | None = None,
    plot_path: str | Path | None = None,
    options: TrainOptions | None = None,
    **kwargs: Any,
) -> Comparison:
    """Solve ``problem`` with every scheme and train each allocation alike.

    Every record uses the same seed, hence the same initial model and the
    same random permutations for its batches
    (:func:`~edgealloc.learn.training.train`), so the differences come from
    the allocations. The options are validated once, before anything is
    solved.

    Parameters
    ----------
    problem
        The ``mel`` problem.
    dataset
        The data.
    schemes
        Schemes to compare; default :func:`trainable_schemes` (all but
        ``relaxed``, whose allocation is fractional).
    spec
        The model (default: the data set's ``"mlp"``).
    plot_path
        When given, the combined figure is written there.
    options
        How every scheme trains (:class:`~edgealloc.learn.options.TrainOptions`).
    **kwargs
        :class:`~edgealloc.learn.options.TrainOptions` fields (``cycles``,
        required unless ``options`` has it, ``mode``, ``lr``, ``seed``, ...),
        as for :func:`~edgealloc.learn.training.train`.

    Returns
    -------
    Comparison
        The records, the results and the schemes skipped with the reason.

    Raises
    ------
    InfeasibleError
        When the problem admits no allocation at all (the exact scheme
        ``optimal`` is infeasible) or no scheme could be trained.
    ValidationError
        Unknown schemes and bad options (naming the field).
    """
    opts = train_options(options, kwargs)
    names = _scheme_names(schemes, trainable_schemes(), "mel")
    if spec is None:
        spec = model_for(dataset, "mlp")

    def _why_skipped(name: str, res: Result) -> str | None:
        if res.status is Status.INFEASIBLE:
            if name == "optimal":
                res.raise_for_status()
            return f"infeasible: {res.message}"
        if res.status is Status.FAILED:
            return f"failed: {res.message}"
        if name == "relaxed":
            return "fractional allocation (the continuous relaxation, an upper bound)"
        return None

    records, results, skipped = _train_each(
        problem,
        names,
        _why_skipped,
        lambda res: train(problem, res, dataset, spec=spec, options=opts),
        "allocation",
    )
    out = Comparison(records=records, results=results, skipped=skipped)
    if plot_path is not None:
        out.plot(plot_path)
    return out


def _scheme_names(schemes: Sequence[str] | None, default: list[str], family: str) -> list[str]:
    """The schemes to compare (``default`` when None), each one of ``family``'s."""
    from ..api import schemes as family_schemes

    known = family_schemes(family)
    names = list(schemes) if schemes is not None else default
    if not names:
        raise ValidationError("schemes", "needs at least one scheme")
    for name in names:
        check_choice("schemes", name, known)
    return names


def _compare_plans(
    problem: Any,
    schemes: Sequence[str] | None,
    trainable: list[str],
    family: str,
    not_trainable: str,
    train_one: Callable[[Result], RunRecord],
    make: Callable[..., Any],
    plot_path: Any,
) -> Any:
    """Solve with every scheme, train each plan alike, gather them in ``make`` (a comparison).

    ``schemes`` default to ``trainable``; a result that is infeasible or failed
    is skipped with its message, a scheme outside ``trainable`` with
    ``not_trainable``. The figure goes to ``plot_path`` unless it is None.
    """
    names = _scheme_names(schemes, trainable, family)
    able = set(trainable)

    def why_skipped(name: str, res: Result) -> str | None:
        if res.status in (Status.INFEASIBLE, Status.FAILED):
            return f"{res.status.value}: {res.message}"
        return None if name in able else not_trainable

    records, results, skipped = _train_each(problem, names, why_skipped, train_one, "plan")
    out = make(records=records, results=results, skipped=skipped)
    if plot_path is not None:
        out.plot(plot_path)
    return out


def _train_each(
    problem: Any,
    names: Sequence[str],
    why_skipped: Callable[[str, Result], str | None],
    train_one: Callable[[Result], RunRecord],
    what: str,
) -> tuple[dict[str, Any], dict[str, Result], dict[str, str]]:
    """Solve ``problem`` with every scheme and train each result that is not skipped.

    Returns the records, the results of every scheme and the reasons of the
    skipped ones; the training warnings are issued once each, at the caller's
    caller. Raises :class:`InfeasibleError` when nothing trained (``what``: the
    word for a plan).
    """
    from ..api import solve

    records: dict[str, Any] = {}
    results: dict[str, Result] = {}
    skipped: dict[str, str] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EdgeallocWarning)
        for name in names:
            res = solve(problem, name, raise_infeasible=False)
            results[name] = res
            why = why_skipped(name, res)
            if why is not None:
                skipped[name] = why
                continue
            records[name] = train_one(res)
    for w in dict.fromkeys(str(c.message) for c in caught):
        warnings.warn(w, EdgeallocWarning, stacklevel=3)
    if not records:
        raise InfeasibleError(
            f"no scheme gave a trainable {what}: "
            + "; ".join(f"{s}: {why}" for s, why in skipped.items())
        )
    return records, results, skipped
