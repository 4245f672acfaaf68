"""The family descriptor: everything the rest of edgealloc needs to know about a problem family.

A *family* is one kind of allocation problem (``mel``, ``offload-server``,
...). It lives in one package with the same rooms as :mod:`edgealloc.mel`
(``problem.py``, ``solvers.py``, ``scenario.py``, ``present.py``) and
declares itself in a :class:`Family` object. :mod:`edgealloc.registry`
gathers the built-in descriptors and third-party ones (entry-point group
``edgealloc.families``); :func:`edgealloc.solve`, :func:`edgealloc.load_problem`,
the scenarios, the demo and the CLI ask the registry and never name a family.

A third-party family is a package that defines a problem class, its schemes
and a descriptor, and points an entry point at the descriptor::

    # pyproject.toml of the package "edgealloc-toy"
    [project.entry-points."edgealloc.families"]
    toy = "edgealloc_toy:FAMILY"

or registers it in-process with :func:`edgealloc.registry.register_family`.
``docs/architecture.md`` walks through adding one.

The problem class
-----------------
A family's problem class is validated and immutable and provides:

* ``FAMILY`` (class attribute): the family name, the ``family`` field of its
  canonical documents;
* ``from_dict(data)`` (classmethod) and ``to_dict()``: the canonical document
  (``to_json(path=None)`` too, for the demo's problem files);
* ``evaluate(...)``: the solver-independent check of an allocation;
* ``n_devices``, ``name``, ``description`` and ``meta`` (may be ``None``).

The presenter
-------------
How a result is tabulated and plotted is the family's own business, declared
by a :class:`Presenter` (every method has a generic default, so a small
family may declare none).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .errors import ValidationError
from .result import Result

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    import numpy as np
    from rich.table import Table

__all__ = ["Column", "Family", "Presenter", "Scheme", "gap_percent"]

#: A scheme: takes the family's problem, returns a :class:`~edgealloc.Result`.
Scheme = Callable[[Any], Result]


@dataclasses.dataclass(frozen=True)
class Column:
    """One column a family adds to the ``--scheme all`` comparison table.

    ``value(result, problem)`` gives the cell text (``-`` when unknown).
    """

    header: str
    value: Callable[[Result, Any], str]


class Presenter:
    """How a family's problems and results are described, tabulated and plotted.

    Subclass and override what the family can say better than the defaults.
    Methods receive the family's problem object and its :class:`Result`.
    """

    #: Header of the objective column in comparison tables.
    objective_header: str = "objective"
    #: Header of the bound column.
    bound_header: str = "bound"
    #: Decimals of the gap-to-optimal column (percent).
    gap_decimals: int = 1
    #: ``(key, file name)`` of the demo figure this family draws, or ``None``.
    #: Families that share a key are drawn together in one figure by
    #: :meth:`plot` of the first of them.
    figure: tuple[str, str] | None = None

    def describe(self, problem: Any) -> str:
        """One line naming the problem and its size (the CLI's heading)."""
        name = getattr(problem, "name", None) or "problem"
        return f"{name}: {problem.FAMILY}, {problem.n_devices} devices"

    def title(self, preset: str, problem: Any) -> str:
        """The demo's comparison-table title for ``preset``."""
        return f"{preset}: {getattr(problem, 'description', None) or ''}"

    def summary(self, problem: Any, result: Result) -> list[tuple[str, str]]:
        """Rows the CLI adds to a result's summary panel (after objective and bound)."""
        return []

    def columns(self, problem: Any | None) -> list[Column]:
        """Columns the comparison table adds after the gap (``problem`` may be ``None``)."""
        return []

    def device_table(self, problem: Any, result: Result, shown: Sequence[int]) -> Table | None:
        """A rich table of the allocation, one row per index in ``shown`` (``-1``: an ellipsis).

        ``None`` (the default) prints no per-device table.
        """
        return None

    def size(self, problem: Any) -> dict[str, Any]:
        """The problem-size fields of the demo's ``demo.json`` entry."""
        return {"family": problem.FAMILY, "devices": problem.n_devices}

    def plot(self, cases: Sequence[tuple[str, Any, Sequence[Result]]], path: Path) -> None:
        """Draw the demo figure of ``cases`` (``(preset, problem, results)``) into ``path``."""
        raise NotImplementedError(f"{type(self).__name__} draws no figure")


def gap_percent(objective: float, optimum: float, *, minimise: bool = False) -> float:
    """How much worse ``objective`` is than ``optimum``, in percent of ``|optimum|``.

    Positive when worse in the family's sense (``minimise``: larger),
    negative for a relaxation, which is better than the integer optimum, and
    of the same sign whatever the sign of the optimum (a minimised cost
    below zero included). NaN when either value is unknown or the optimum is 0.
    """
    if not (math.isfinite(objective) and math.isfinite(optimum)) or optimum == 0:
        return math.nan
    worse = objective - optimum if minimise else optimum - objective
    return 100.0 * worse / abs(optimum)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Family:
    """Descriptor of one problem family.

    Attributes
    ----------
    name
        The family's name: the ``family`` field of its canonical documents and
        the ``scenario`` field of its physical scenarios.
    title
        One line saying what the family plans (``edgealloc families``).
    problem
        The canonical problem class (see the module docstring).
    schemes
        Scheme name -> solver, **the exact scheme first**: it is the default,
        the reference of every gap, and decides the exit code of
        ``--scheme all``.
    sense
        ``"max"`` or ``"min"``: whether the objective is maximised.
    compile
        Compiles a physical scenario mapping (``scenario: <name>``) into the
        canonical problem; ``None`` when the family has no scenario model.
    aliases
        Short ``--set`` keys of its scenarios -> dotted paths
        (``{"devices": "devices.count"}``).
    integral
        Schemes whose allocations are integral.
    trainable
        Schemes whose allocations :mod:`edgealloc.learn` can train.
    presets
        Extra presets the family ships: name -> YAML file (a path or an
        :mod:`importlib.resources` traversable). The built-in families' presets
        are the YAML files of ``edgealloc/presets``.
    demo_presets
        Presets ``edgealloc demo`` solves for this family, in order.
    presenter
        How results are tabulated and plotted (:class:`Presenter`).
    random_document
        ``random_document(rng) -> dict``, or ``None``: a valid random canonical
        document of this family drawn from the :class:`numpy.random.Generator`
        ``rng`` alone (a JSON-ready mapping of lists, numbers, strings and
        ``None`` that ``problem.from_dict`` accepts; deterministic given the
        generator's state). Over many draws the documents cover heterogeneity
        over six orders of magnitude, one device to many, barely feasible and
        infeasible settings, and stay small enough that every scheme solves
        one in well under a second. ``tests/test_boundary.py`` corrupts
        these documents in every field and ``benchmarks/fuzz.py`` solves
        them with every scheme; a family without it is skipped (and listed).
    check
        ``check(problem, result, integral) -> list[str]``, or ``None``: the
        solver-independent check of a result with an allocation (status
        ``optimal`` or ``feasible``) of any scheme of this family. It
        re-evaluates the result's allocation fields with the problem's
        ``evaluate`` (whole numbers required when ``integral``, i.e. the
        scheme is in :attr:`integral`) and returns one line per disagreement:
        a violated constraint, an objective or a reported time that is not
        the plan's own. An empty list: consistent. It never raises for a
        result of this family. ``benchmarks/fuzz.py`` adds the checks that
        hold for every family (status, bounds, the exact scheme against
        the others).
    gap_tolerance
        The relative gap within which the exact scheme reports status
        ``optimal``: ``objective`` and ``bound`` may differ by
        ``gap_tolerance * max(1, |objective|)`` (0: they are equal up to
        rounding, as for a combinatorial solver that proves its optimum).
        ``benchmarks/fuzz.py`` allows that gap and nothing more.
    """

    name: str
    title: str
    problem: type
    schemes: Mapping[str, Scheme]
    sense: Literal["max", "min"]
    compile: Callable[[Mapping[str, Any]], Any] | None = None
    aliases: Mapping[str, str] = dataclasses.field(default_factory=dict)
    integral: frozenset[str] = frozenset()
    trainable: frozenset[str] = frozenset()
    presets: Mapping[str, Path | Traversable] = dataclasses.field(default_factory=dict)
    demo_presets: tuple[str, ...] = ()
    presenter: Presenter = dataclasses.field(default_factory=Presenter)
    random_document: Callable[[np.random.Generator], dict[str, Any]] | None = None
    check: Callable[[Any, Result, bool], list[str]] | None = None
    gap_tolerance: float = 0.0

    def __post_init__(self) -> None:
        where = f"family {self.name!r}"
        if not self.name or not isinstance(self.name, str):
            raise ValidationError("family.name", "must be a non-empty string")
        if getattr(self.problem, "FAMILY", None) != self.name:
            raise ValidationError(
                f"{where}.problem",
                f"{self.problem.__name__}.FAMILY must be {self.name!r} "
                f"(got {getattr(self.problem, 'FAMILY', None)!r})",
            )
        if not self.schemes:
            raise ValidationError(f"{where}.schemes", "must name at least one scheme")
        if self.sense not in ("max", "min"):
            raise ValidationError(f"{where}.sense", f"must be 'max' or 'min' (got {self.sense!r})")
        if not (isinstance(self.gap_tolerance, int | float) and 0 <= self.gap_tolerance < 1):
            raise ValidationError(
                f"{where}.gap_tolerance", f"must be a number in [0, 1) (got {self.gap_tolerance!r})"
            )
        for field in ("integral", "trainable"):
            unknown = set(getattr(self, field)) - set(self.schemes)
            if unknown:
                raise ValidationError(
                    f"{where}.{field}", f"names unknown schemes: {', '.join(sorted(unknown))}"
                )
        # Freeze the mappings so the registry's descriptors cannot be changed in place.
        object.__setattr__(self, "schemes", dict(self.schemes))
        object.__setattr__(self, "aliases", dict(self.aliases))
        object.__setattr__(self, "presets", dict(self.presets))
        object.__setattr__(self, "integral", frozenset(self.integral))
        object.__setattr__(self, "trainable", frozenset(self.trainable))

    @property
    def exact(self) -> str:
        """The exact scheme (the first)."""
        return next(iter(self.schemes))

    @property
    def minimise(self) -> bool:
        """True when the objective is minimised."""
        return self.sense == "min"

    def scheme(self, name: Any) -> Scheme:
        """The solver of scheme ``name``; an unknown name lists the known ones."""
        if name not in self.schemes:
            known = ", ".join(self.schemes)
            raise ValidationError(
                "scheme", f"unknown scheme {name!r} for family {self.name} (known: {known})"
            )
        return self.schemes[name]

    def gap_percent(self, objective: float, optimum: float) -> float:
        """How much worse ``objective`` is than ``optimum``, in percent of it (family's sense).

        Negative for a relaxation, which is better than the integer optimum;
        NaN when either value is unknown or the optimum is 0.
        """
        return gap_percent(objective, optimum, minimise=self.minimise)
