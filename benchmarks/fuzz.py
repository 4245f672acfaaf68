r"""Fuzz campaign: random valid instances of every family, every scheme, every plan checked.

Run ``python benchmarks/fuzz.py`` (10 000 instances per family, several
minutes), ``--quick`` (300 per family, seconds; ``tests/test_fuzz.py`` runs a
short version) or ``--instances N --seed S``; ``--families mel,offload-d2d``
limits the families, ``--dump DIR`` writes the document of every instance
with a violation to ``DIR`` (``<family>-<seed>-<index>.json``);
``--max-devices K`` skips instances with more than ``K`` devices (short runs);
``--start I`` begins at instance ``I`` (a campaign split into shards that run
side by side: ``--start 0 --instances 5000`` and ``--start 5000 --instances
5000`` together are the 10 000 of one campaign); ``--time-limit S`` gives every
scheme that takes a ``time_limit`` (``flmar``'s certified search) at most ``S``
seconds per instance: such a result may come back ``feasible`` with its bound,
and every check applies to it as to any other.

Instance ``i`` of a campaign with seed ``S`` is drawn by the family's
``random_document`` hook (:class:`edgealloc.family.Family`) from
``numpy.random.default_rng([S, i])``, so any instance can be redrawn alone.
Families without the hook are listed and skipped. Each instance is
validated by ``problem.from_dict``, solved by :func:`edgealloc.solve` with
every scheme, and checked:

1. **The document.** ``random_document`` returns JSON data that
   ``from_dict`` accepts, and ``from_dict(problem.to_dict())`` is the same
   problem.
2. **Every result on its own.** Family and scheme as asked; status
   ``optimal`` or ``feasible`` with an allocation and a finite objective
   (``failed``: objective NaN; ``infeasible`` is raised, never returned);
   the family's ``check`` hook finds nothing (the allocation re-evaluated by
   the problem's ``evaluate``, independently of the solvers: constraints,
   objective, reported times); ``bound`` and ``relaxed_bound`` on the right
   side of the objective in the family's sense, and ``bound`` equal to the
   objective when the status is ``optimal`` (within the family's
   ``gap_tolerance``: ``flmar`` certifies at a relative gap of ``1e-6``).
3. **The schemes against one another.** The exact scheme (the first) is
   never worse than any other integral scheme; when it finds no plan
   (``InfeasibleError``) no integral scheme finds one; when an integral
   scheme has a plan no continuous scheme is infeasible (a whole-number
   plan is a continuous one too); every ``bound`` is on the right side
   of every integral objective, and every bound of the continuous problem
   (``relaxed_bound``, or ``bound`` where the scheme does not prove
   integer optimality) on the right side of every objective.

Comparisons allow a relative ``1e-9`` (``RTOL``), the tolerance of the
evaluators; nothing else is loosened. Outcomes per scheme: ``solved``
(optimal or feasible), ``infeasible`` (``InfeasibleError``), ``failed``
(the scheme's own procedure broke a constraint: the papers' heuristics),
``refused`` (``ValidationError`` on a valid document, e.g. a ``mel``
device that could run more than 2**52 local iterations). A
``SolverError`` or any other exception is a violation. The script prints
the counts per family and exits 1 on any violation. Warnings raised while
solving (NumPy's ``RuntimeWarning``, say) are not violations: they are kept
off stderr and counted in a third table, per scheme and per the package's
innermost line on the stack, with the first instance that raised each.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import inspect
import json
import math
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import edgealloc
from _common import Table, print_facts, print_table, use_plain
from edgealloc import registry, solve
from edgealloc.errors import InfeasibleError, ValidationError
from edgealloc.family import Family
from edgealloc.result import Result, Status

#: The package's source folder (where a warning's line is looked for).
PACKAGE = Path(edgealloc.__file__).resolve().parent

__all__ = ["FamilyReport", "check_results", "main", "run_family"]

#: Relative tolerance of every comparison (the evaluators' own).
RTOL = 1e-9
#: Instances per family: the full campaign and ``--quick``.
FULL, QUICK = 10_000, 300
#: Violations printed per family (all are counted).
SHOWN = 20
#: Instances between two progress lines (stderr).
PROGRESS_EVERY = 100

OUTCOMES = ("solved", "infeasible", "failed", "refused")


@dataclasses.dataclass
class FamilyReport:
    """Counts of one family's campaign."""

    family: str
    schemes: list[str]
    instances: int = 0
    seconds: float = 0.0
    outcomes: dict[str, collections.Counter[str]] = dataclasses.field(default_factory=dict)
    violations: list[str] = dataclasses.field(default_factory=list)
    violating_instances: int = 0
    skipped: int = 0
    #: Stopped by Ctrl-C or SIGTERM before its last instance (the counts are of those done).
    interrupted: bool = False
    #: Warnings raised while solving (noise on stderr, not violations):
    #: ``(scheme, where, message) -> [count, first instance]``, ``where`` the innermost
    #: edgealloc line on the stack (a NumPy warning is raised inside NumPy).
    warned: dict[tuple[str, str, str], list[int]] = dataclasses.field(default_factory=dict)

    def count(self, scheme: str, outcome: str) -> None:
        self.outcomes.setdefault(scheme, collections.Counter())[outcome] += 1


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------
def _slack(a: float, b: float) -> float:
    return RTOL * max(abs(a), abs(b), 1e-300)


def _better(family: Family, a: float, b: float) -> bool:
    """``a`` strictly better than ``b`` in the family's sense, beyond the tolerance."""
    if family.minimise:
        return a < b - _slack(a, b)
    return a > b + _slack(a, b)


def _solved(r: Any) -> bool:
    return isinstance(r, Result) and r.status in (Status.OPTIMAL, Status.FEASIBLE)


def _continuous_bound(family: Family, r: Result) -> float:
    """A bound of the continuous problem this result carries (NaN if none)."""
    if math.isfinite(r.relaxed_bound):
        return r.relaxed_bound
    integer_proof = r.scheme in family.integral and r.status is Status.OPTIMAL
    return r.bound if math.isfinite(r.bound) and not integer_proof else math.nan


def check_result(family: Family, problem: Any, scheme: str, r: Result) -> list[str]:
    """Violations of one result on its own (checks 2 of the module docstring)."""
    out: list[str] = []
    if r.family != family.name or r.scheme != scheme:
        out.append(f"result names {r.family}/{r.scheme}")
    if r.status is Status.INFEASIBLE:
        return [*out, "solve returned an infeasible result instead of raising"]
    if r.status is Status.FAILED:
        if not math.isnan(r.objective):
            out.append(f"failed result with objective {r.objective!r} (must be NaN)")
        return out
    if not _solved(r):
        return [*out, f"unexpected status {r.status.value}"]
    if r.allocation is None or not math.isfinite(r.objective):
        return [*out, f"{r.status.value} result without a plan (objective {r.objective!r})"]
    if family.check is not None:
        out += family.check(problem, r, scheme in family.integral)
    for name in ("bound", "relaxed_bound"):
        b = getattr(r, name)
        if math.isfinite(b) and _better(family, r.objective, b):
            out.append(f"objective {r.objective!r} beats its own {name} {b!r}")
    proven = r.status is Status.OPTIMAL and math.isfinite(r.bound)
    gap = abs(r.bound - r.objective)
    allowed = max(_slack(r.bound, r.objective), family.gap_tolerance * max(1.0, abs(r.objective)))
    if proven and _better(family, r.bound, r.objective) and gap > allowed:
        out.append(
            f"status optimal but bound {r.bound!r} beats the objective {r.objective!r} "
            f"by more than the family's gap tolerance {family.gap_tolerance:g}"
        )
    return out


def check_results(family: Family, problem: Any, results: Mapping[str, Any]) -> list[str]:
    """Violations of the schemes against one another (check 3 of the module docstring).

    ``results`` maps every scheme to its :class:`Result` or the exception it raised.
    """
    out: list[str] = []
    exact = family.exact
    rx = results[exact]
    integral = [s for s in results if s in family.integral]
    solved = {s: r for s, r in results.items() if _solved(r)}
    if isinstance(rx, InfeasibleError):
        out += [f"{exact} is infeasible but {s} found a plan" for s in integral if s in solved]
    if any(s in solved for s in integral):
        out += [
            f"{s} is infeasible although {', '.join(x for x in integral if x in solved)} "
            "found a plan"
            for s, r in results.items()
            if isinstance(r, InfeasibleError) and s not in family.integral
        ]
    if exact in solved:
        for s in integral:
            if s in solved and _better(family, solved[s].objective, rx.objective):
                out.append(f"{s} objective {solved[s].objective!r} beats {exact} {rx.objective!r}")
    for b_scheme, rb in results.items():
        if not isinstance(rb, Result):
            continue
        cont = _continuous_bound(family, rb)
        for s, r in solved.items():
            if (
                s in family.integral
                and math.isfinite(rb.bound)
                and _better(family, r.objective, rb.bound)
            ):
                out.append(f"{s} objective {r.objective!r} beats {b_scheme}'s bound {rb.bound!r}")
            if math.isfinite(cont) and _better(family, r.objective, cont):
                out.append(
                    f"{s} objective {r.objective!r} beats {b_scheme}'s continuous bound {cont!r}"
                )
    return out


# ---------------------------------------------------------------------------
# The campaign
# ---------------------------------------------------------------------------
def _solve(family: Family, problem: Any, scheme: str, time_limit: float | None) -> Result:
    """``solve(problem, scheme)``, with ``time_limit`` where the scheme takes one."""
    if time_limit is not None:
        solver = family.scheme(scheme)
        if "time_limit" in inspect.signature(solver).parameters:
            return solver(problem, time_limit=time_limit)
    return solve(problem, scheme)


def _where(stack: traceback.StackSummary) -> str:
    """``path:line`` of the package's innermost frame on ``stack`` (else of the innermost
    frame outside the warnings machinery)."""
    outside = [f for f in stack if Path(f.filename).name != "warnings.py"]
    for frame in reversed(outside):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(PACKAGE):
            return f"{path.relative_to(PACKAGE).as_posix()}:{frame.lineno}"
    return f"{Path(outside[-1].filename).name}:{outside[-1].lineno}" if outside else "?"


def _solve_noting_warnings(
    family: Family,
    problem: Any,
    scheme: str,
    time_limit: float | None,
    report: FamilyReport,
    index: int,
) -> Result:
    """:func:`_solve`, every warning it raises recorded in ``report.warned`` (not shown)."""
    seen: list[tuple[str, str]] = []

    def note(message: Any, category: Any, *_: Any, **__: Any) -> None:
        stack = traceback.extract_stack()[:-1]
        seen.append((_where(stack), f"{category.__name__}: {message}"))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = note
        try:
            return _solve(family, problem, scheme, time_limit)
        finally:
            for where, text in seen:
                entry = report.warned.setdefault((scheme, where, text), [0, index])
                entry[0] += 1


def _instance(
    family: Family,
    seed: int,
    index: int,
    report: FamilyReport,
    max_devices: int | None,
    time_limit: float | None = None,
) -> tuple[list[str], Any]:
    """Draw, solve and check one instance; ``(violations, document)``; ``None`` if skipped."""
    doc = family.random_document(np.random.default_rng([seed, index]))  # type: ignore[misc]
    try:
        json.dumps(doc, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return [f"random_document is not JSON data: {exc}"], doc
    try:
        problem = family.problem.from_dict(doc)
    except ValidationError as exc:
        return [f"random_document drew an invalid document: {exc}"], doc
    if max_devices is not None and problem.n_devices > max_devices:
        report.skipped += 1
        return [], None
    out: list[str] = []
    if family.problem.from_dict(problem.to_dict()) != problem:
        out.append("from_dict(problem.to_dict()) is not the same problem")
    results: dict[str, Any] = {}
    for scheme in family.schemes:
        try:
            r = _solve_noting_warnings(family, problem, scheme, time_limit, report, index)
        except InfeasibleError as exc:
            results[scheme] = exc
            report.count(scheme, "infeasible")
            continue
        except ValidationError as exc:
            results[scheme] = exc
            report.count(scheme, "refused")
            continue
        except Exception as exc:  # SolverError included: a valid document must not break a scheme
            results[scheme] = exc
            report.count(scheme, "error")
            where = traceback.extract_tb(exc.__traceback__)[-1]
            out.append(
                f"{scheme} raised {type(exc).__name__}: {exc} "
                f"({Path(where.filename).name}:{where.lineno})"
            )
            continue
        results[scheme] = r
        report.count(scheme, "solved" if _solved(r) else r.status.value)
        if r.status is Status.FEASIBLE:
            report.count(scheme, "feasible")
        out += [f"{scheme}: {v}" for v in check_result(family, problem, scheme, r)]
    out += check_results(family, problem, results)
    return out, doc


def run_family(
    family: Family,
    instances: int,
    seed: int,
    *,
    dump: Path | None = None,
    progress: bool = False,
    max_devices: int | None = None,
    start: int = 0,
    time_limit: float | None = None,
) -> FamilyReport:
    """The campaign of one family (which must have ``random_document``).

    Instances ``start .. start + instances - 1``. ``max_devices``: instances
    with more devices are drawn but not solved (counted as skipped), for
    short runs. ``time_limit``: seconds per scheme that takes a time limit.
    """
    report = FamilyReport(family.name, list(family.schemes))
    t0 = time.perf_counter()
    for i in range(start, start + instances):
        try:
            found, doc = _instance(family, seed, i, report, max_devices, time_limit)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: report what is done
            report.interrupted = True
            break
        if doc is None:
            continue
        report.instances += 1
        if found:
            report.violating_instances += 1
            report.violations += [f"{family.name} seed {seed} instance {i}: {v}" for v in found]
            if dump is not None:
                dump.mkdir(parents=True, exist_ok=True)
                path = dump / f"{family.name}-{seed}-{i}.json"
                path.write_text(json.dumps(doc, indent=1, default=repr) + "\n")
        if progress and (i + 1 - start) % PROGRESS_EVERY == 0:
            print(
                f"  {family.name}: {i + 1 - start} instances (to index {i}), "
                f"{time.perf_counter() - t0:.0f} s, {report.violating_instances} violating",
                file=sys.stderr,
                flush=True,
            )
    report.seconds = time.perf_counter() - t0
    return report


def _tables(reports: Sequence[FamilyReport], missing: Sequence[str]) -> list[Table]:
    summary = Table(
        "Fuzz campaign: instances and violations per family",
        ["family", "instances", "skipped (size)", "violating instances", "violations", "seconds"],
        [
            [
                r.family,
                f"{r.instances:,}",
                f"{r.skipped:,}",
                f"{r.violating_instances:,}",
                f"{len(r.violations):,}",
                f"{r.seconds:.1f}",
            ]
            for r in reports
        ],
        notes=[f"families without random_document (skipped): {', '.join(missing) or 'none'}"],
    )
    per_scheme = Table(
        "Fuzz campaign: outcomes per family and scheme",
        ["family", "scheme", *OUTCOMES, "error", "of solved: feasible"],
        [
            [
                r.family,
                s,
                *(f"{r.outcomes.get(s, {}).get(o, 0):,}" for o in (*OUTCOMES, "error", "feasible")),
            ]
            for r in reports
            for s in r.schemes
        ],
        notes=[
            "solved: optimal or feasible; infeasible: InfeasibleError; failed: the scheme's own "
            "procedure broke a constraint (status failed); refused: ValidationError on a valid "
            "document; error: any other exception (a violation). Of solved, feasible: no proof "
            "of optimality (a heuristic, or a certified search stopped by its limit)."
        ],
    )
    noise = Table(
        "Fuzz campaign: warnings while solving (not violations)",
        ["family", "scheme", "where", "warning", "times", "first instance"],
        [
            [r.family, scheme, where, text[:90], f"{n:,}", str(first)]
            for r in reports
            for (scheme, where, text), (n, first) in sorted(r.warned.items())
        ]
        or [["-", "-", "-", "none", "0", "-"]],
        notes=[
            "where: the innermost line of the package on the stack when the warning was raised."
        ],
    )
    return [summary, per_scheme, noise]


def _campaign(
    known: Mapping[str, Family], names: Sequence[str], instances: int, args: argparse.Namespace
) -> list[FamilyReport]:
    """The families' campaigns in order, up to the first one interrupted."""
    reports = []
    for n in names:
        if known[n].random_document is None:
            continue
        report = run_family(
            known[n],
            instances,
            args.seed,
            dump=args.dump,
            progress=True,
            max_devices=args.max_devices,
            start=args.start,
            time_limit=args.time_limit,
        )
        reports.append(report)
        if report.interrupted:
            break
    return reports


def main(argv: Sequence[str] | None = None) -> int:
    """Run the campaign; 0 when no violation was found, 1 otherwise (130: interrupted)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} instances per family")
    parser.add_argument("--instances", type=int, default=None, help=f"per family ({FULL})")
    parser.add_argument("--seed", type=int, default=0, help="campaign seed (0)")
    parser.add_argument("--families", default=None, help="comma-separated names (all)")
    parser.add_argument("--dump", type=Path, default=None, help="write violating documents here")
    parser.add_argument(
        "--max-devices",
        type=int,
        default=None,
        help="skip (draw, do not solve) instances with more devices (short runs)",
    )
    parser.add_argument("--start", type=int, default=0, help="first instance index (0)")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds per instance for schemes that take a time limit (their own default)",
    )
    parser.add_argument("--plain", action="store_true", help="Markdown tables")
    args = parser.parse_args(argv)
    instances = args.instances if args.instances is not None else QUICK if args.quick else FULL
    if instances < 0:
        parser.error("--instances must be >= 0")
    if args.start < 0:
        parser.error("--start must be >= 0")
    if args.time_limit is not None and not args.time_limit > 0:
        parser.error("--time-limit must be > 0")
    known = registry.families()
    names = list(known) if args.families is None else [x for x in args.families.split(",") if x]
    unknown = [x for x in names if x not in known]
    if unknown:
        parser.error(f"unknown families: {', '.join(unknown)} (known: {', '.join(known)})")
    plain = use_plain(args)
    first = f", from index {args.start:,}" if args.start else ""
    cap = f", {args.time_limit:g} s per time-limited scheme" if args.time_limit else ""
    print(
        f"# edgealloc fuzz campaign: {instances:,} instances per family{first}, "
        f"seed {args.seed}{cap}\n"
    )
    print_facts(plain)
    missing = [n for n in names if known[n].random_document is None]
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        reports = _campaign(known, names, instances, args)
    finally:
        signal.signal(signal.SIGTERM, previous)
    for table in _tables(reports, missing):
        print_table(table, plain)
    total = sum(len(r.violations) for r in reports)
    for r in reports:
        for line in r.violations[:SHOWN]:
            print(f"VIOLATION {line}")
        if len(r.violations) > SHOWN:
            print(f"... and {len(r.violations) - SHOWN} more violations of {r.family}")
    stopped = [r for r in reports if r.interrupted]
    if stopped:
        r = stopped[0]
        print(f"\nINTERRUPTED in {r.family} after {r.instances:,} of {instances:,} instances")
    verdict = "FAILED" if total else "PASSED so far" if stopped else "PASSED"
    print(f"\n{verdict}: {total} violation(s)")
    return 1 if total else 130 if stopped else 0


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM as Ctrl-C: the campaign stops after reporting what it has done."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
