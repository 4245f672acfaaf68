"""The fuzz campaign (``benchmarks/fuzz.py``) in short, its checks, and the solver bugs it found.

The campaign draws random valid instances of every family with a
``random_document`` hook, solves each with every scheme and checks every
plan independently of the solvers (the family's ``check`` hook, bounds, the
exact scheme against the others). Here it draws 100 instances per
family and solves those with at most 8 devices; ``python benchmarks/fuzz.py``
runs 10 000 of every size. The checks themselves are
tested on results made wrong on purpose, so that a campaign that reports
nothing means something. Each bug the campaign or the boundary tests found
in a solver has its own regression test below, with the input that showed it.
"""

from __future__ import annotations

import dataclasses
import runpy
from pathlib import Path

import numpy as np
import pytest

import edgealloc
from edgealloc import registry
from edgealloc.errors import InfeasibleError
from edgealloc.mel import MelProblem
from edgealloc.mel._capacity import largest_n
from edgealloc.offload import OffloadD2DProblem
from edgealloc.result import Status

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def fuzz() -> dict:
    """The namespace of ``benchmarks/fuzz.py`` (its folder on ``sys.path`` for ``_common``)."""
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(BENCH))
    try:
        yield runpy.run_path(str(BENCH / "fuzz.py"), run_name="bench_fuzz")
    finally:
        mp.undo()


def test_short_campaign(fuzz: dict, capsys: pytest.CaptureFixture[str]) -> None:
    rc = fuzz["main"](["--instances", "100", "--seed", "3", "--max-devices", "8", "--plain"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "PASSED: 0 violation(s)" in out
    for name, family in registry.families().items():
        if family.random_document is not None:
            assert f"| {name} " in out or f"|{name} " in out or f" {name} |" in out, name
    assert "families without random_document" in out


def test_unknown_family_is_a_usage_error(fuzz: dict) -> None:
    with pytest.raises(SystemExit) as info:
        fuzz["main"](["--families", "nope", "--instances", "1"])
    assert info.value.code == 2


# ---------------------------------------------------------------------------
# The checks fail when they should
# ---------------------------------------------------------------------------
MEL = MelProblem(
    deadline=10.0, total_samples=100, c2=[0.01, 0.02], c1=[0.001, 0.001], c0=[0.5, 0.5]
)


def _results(problem) -> dict:
    family = registry.family_of(problem)
    return {s: edgealloc.solve(problem, s) for s in family.schemes}


def test_checks_pass_on_real_results(fuzz: dict) -> None:
    family = registry.get_family("mel")
    results = _results(MEL)
    for scheme, res in results.items():
        assert fuzz["check_result"](family, MEL, scheme, res) == []
    assert fuzz["check_results"](family, MEL, results) == []


def test_a_wrong_objective_is_caught(fuzz: dict) -> None:
    family = registry.get_family("mel")
    res = edgealloc.solve(MEL, "paper")
    wrong = dataclasses.replace(res, objective=res.objective + 1)
    found = fuzz["check_result"](family, MEL, "paper", wrong)
    assert any("evaluates to" in v for v in found), found


def test_a_plan_that_breaks_a_constraint_is_caught(fuzz: dict) -> None:
    family = registry.get_family("mel")
    res = edgealloc.solve(MEL, "optimal")
    alloc = dataclasses.replace(res.allocation, tau=res.allocation.tau * 1000)
    found = fuzz["check_result"](family, MEL, "optimal", dataclasses.replace(res, allocation=alloc))
    assert any("miss the deadline" in v for v in found), found


def test_a_bound_on_the_wrong_side_is_caught(fuzz: dict) -> None:
    family = registry.get_family("mel")
    res = edgealloc.solve(MEL, "equal")
    found = fuzz["check_result"](family, MEL, "equal", dataclasses.replace(res, bound=0.5))
    assert any("beats its own bound" in v for v in found), found


def test_a_heuristic_beating_the_exact_scheme_is_caught(fuzz: dict) -> None:
    family = registry.get_family("mel")
    results = _results(MEL)
    results["optimal"] = dataclasses.replace(
        results["optimal"], objective=results["optimal"].objective - 2
    )
    found = fuzz["check_results"](family, MEL, results)
    assert any("beats optimal" in v for v in found), found


def test_infeasible_exact_with_a_feasible_heuristic_is_caught(fuzz: dict) -> None:
    family = registry.get_family("offload-server")
    p = edgealloc.load_problem(
        {
            "family": "offload-server",
            "points": [1500, 1200],
            "compute_rate": [3e5, 1.2e5],
            "uplink_rate": [2e3, 5e2],
            "server_rate": 1.5e6,
        }
    )
    results = _results(p)
    results["optimal"] = InfeasibleError("made up")
    found = fuzz["check_results"](family, p, results)
    assert any("is infeasible but" in v for v in found), found


def test_a_minimising_family_is_judged_the_other_way(fuzz: dict) -> None:
    family = registry.get_family("offload-server")
    p = edgealloc.load_problem(
        {
            "family": "offload-server",
            "points": [1500, 1200],
            "compute_rate": [3e5, 1.2e5],
            "uplink_rate": [2e3, 5e2],
            "server_rate": 1.5e6,
        }
    )
    results = _results(p)
    assert fuzz["check_results"](family, p, results) == []
    slower = dataclasses.replace(results["optimal"], objective=results["none"].objective * 2)
    found = fuzz["check_results"](family, p, {**results, "optimal": slower})
    assert any("none objective" in v and "beats optimal" in v for v in found), found


# ---------------------------------------------------------------------------
# Regressions: solver bugs found by the campaign and the boundary tests
# ---------------------------------------------------------------------------
def test_largest_n_when_the_base_absorbs_the_slope() -> None:
    """``base / slope`` beyond 2**53: the quotient was off, ``largest_n`` returned 1, not 100.

    Found by the boundary tests: ``c0 = [1e60, 1e60]`` made the infeasibility
    diagnosis (``min_makespan``) fail an assertion instead of raising
    ``InfeasibleError``.
    """
    assert int(largest_n(1e60, 0.01, 1e60, 100)) == 100
    n = int(largest_n(1e20, 1.0, 1e20 + 2**20, 10**9))
    assert 1e20 + n <= 1e20 + 2**20 < 1e20 + (n + 1)
    assert largest_n(np.full((2, 3), 1e60), 0.01, 1e60, 100).tolist() == [[100] * 3] * 2
    with pytest.raises(InfeasibleError):
        edgealloc.solve(MEL.replace(c0=[1e60, 1e60]), "optimal")


def test_a_staleness_bound_beyond_any_tau_is_no_constraint() -> None:
    """``staleness = 10**15``: the exact search allocated 7 PiB (2**63: an IndexError).

    A spread beyond the largest tau a participant can run constrains
    nothing, so the search runs with that window: same optimum as any
    staleness that large.
    """
    big = edgealloc.solve(MEL.replace(staleness=10**15), "optimal")
    enough = edgealloc.solve(MEL.replace(staleness=10**4), "optimal")
    assert big.status is Status.OPTIMAL
    assert big.objective == enough.objective
    assert big.tau.tolist() == enough.tau.tolist()


def test_paper_theorem1_lets_devices_sit_out() -> None:
    """``min_samples = 0``: the rounded plan gives a device no samples (tau 0), feasible.

    The rounding check tested the plan with that device's tau equal to the
    others', which ``evaluate`` always refuses: status ``failed`` at every tau.
    """
    p = MelProblem(
        deadline=10.0, total_samples=2, c2=[0.1] * 3, c1=[0] * 3, c0=[0] * 3, min_samples=0
    )
    res = edgealloc.solve(p, "paper")
    assert res.status is Status.FEASIBLE
    assert res.samples.tolist() == [1, 1, 0] and res.tau.tolist() == [100, 100, 0]


def test_paper_theorem1_does_not_walk_down_from_a_wrong_root(monkeypatch) -> None:
    """A wrong polynomial root (tau* = 115827 for a relaxed optimum of 1) cost 115828 evaluations.

    Found by the campaign (``mel``, seed 0, instance 60; 30 s for 6 devices):
    the fitting tau is now found by bisection.
    """
    p = MelProblem.from_dict(
        {
            "family": "mel",
            "deadline": 90554.47222582286,
            "total_samples": 11,
            "c2": [0.09611219863882192, 44.36899021744191, 0.6574674143655841,
                   0.4434168155975792, 31.80600556740848, 0.5353699346649156],
            "c1": [2.9904826772271726, 81.43421418897705, 5.554917213355494,
                   90539.20988884695, 1502.385232075688, 28658.881051823195],
            "c0": [0.27039432778552314, 0.4786933438190294, 0.07541163542260466,
                   14.818920160312159, 2.8232464678450993, 10.720646919446988],
            "min_samples": 1,
        }
    )  # fmt: skip
    calls = 0
    evaluate = MelProblem.evaluate

    def counted(self, *args, **kwargs):
        nonlocal calls
        calls += 1
        return evaluate(self, *args, **kwargs)

    monkeypatch.setattr(MelProblem, "evaluate", counted)
    res = edgealloc.solve(p, "paper")
    assert res.status in (Status.FEASIBLE, Status.FAILED)
    assert calls < 100, calls


def test_d2d_lp_with_links_many_decades_faster_than_needed() -> None:
    """A link of 1e20 points/s: HiGHS refused the LP ("Model error", coefficients over 1e15).

    The link columns of the LP are now scaled to a largest entry of 1.
    """
    p = OffloadD2DProblem(
        points=[1000, 1000], compute_rate=[1e5, 3e5], link_rate=[[0, 1e20], [1e20, 0]]
    )
    relaxed = edgealloc.solve(p, "relaxed")
    assert relaxed.status is Status.OPTIMAL
    assert relaxed.objective == pytest.approx(2e3 * 2 / 4e5, rel=1e-9)  # pooled: perfect balance
    assert edgealloc.solve(p, "optimal").success


#: Found by the campaign (``offload-d2d``, seed 0, instance 95, rounded to two digits): one
#: slow user with one point next to links up to 1e17 points/s. HiGHS returned a link
#: variable at -1e-15 (within its bound tolerance), which the coefficient 8.7e10 of the
#: receiver's time row turned into 6 % less time than the plan has: ``solve_lp`` raised
#: SolverError ("evaluates to 3.87e-08 s, above the LP value 3.64e-08 s").
D2D_FAST_LINKS = {
    "family": "offload-d2d",
    "points": [1, 2, 0, 1, 1, 0, 1, 1, 1],
    "compute_rate": [4.6e11, 2.1e13, 1.2e12, 1.1e12, 4.5e8, 1.1e11, 2.6e8, 7.4e10, 1e13],
    "macs_per_point": 5300.0,
    "link_rate": [
        [0, 1.9e13, 6.3e8, 1.3e6, 4.2e10, 3.2e9, 3.7e7, 1.4e6, 1.5e7],
        [2.7e8, 0, 1.3e17, 5.1e13, 1.2e10, 8.2e11, 2.1e11, 5e13, 1.1e13],
        [3.8e11, 3.3e12, 0, 1.8e11, 4.9e15, 1e16, 4.2e14, 3.8e7, 2.6e15],
        [4.9e6, 1.5e12, 3.9e14, 0, 4e8, 7.2e7, 2.9e15, 1.5e13, 3.3e8],
        [3.2e5, 9.1e3, 4.3e6, 1.1e6, 0, 1.7e8, 3.1e3, 1.6e3, 3.3e6],
        [1.3e7, 3.5e11, 1.1e7, 4.8e12, 1.6e7, 0, 4.4e11, 2.4e7, 1.3e13],
        [4.8e9, 1.5e11, 2.1e11, 2.7e5, 1.9e12, 4.3e5, 0, 3.3e12, 1.7e4],
        [8.2e14, 5.4e12, 8.9e13, 4.1e9, 3.4e7, 7.4e11, 4.7e11, 0, 4.1e13],
        [2.1e14, 8.5e11, 1.2e8, 2.3e12, 1.6e11, 3.3e14, 4.3e15, 2.3e15, 0],
    ],
}


def test_d2d_lp_bound_tolerance_times_a_large_coefficient() -> None:
    p = OffloadD2DProblem.from_dict(D2D_FAST_LINKS)
    family = registry.family_of(p)
    relaxed = edgealloc.solve(p, "relaxed")
    assert relaxed.status is Status.OPTIMAL
    assert family.check(p, relaxed, False) == []
    optimal = edgealloc.solve(p, "optimal")
    assert family.check(p, optimal, True) == []
    assert optimal.objective >= relaxed.objective * (1 - 1e-9)


#: Found by the campaign after the column scaling was made the rule (``offload-d2d``,
#: seed 0, instance 7816; 87 instances of 10 000): scaling a column to a largest entry
#: of 1 shrinks its transfer-time entries below the 1e-9 HiGHS drops, and the plan then
#: needs 2.5e-7 more time than the LP said. Scaling is now the fallback, not the rule.
D2D_SMALL_ENTRIES = {
    "family": "offload-d2d",
    "points": [472, 670, 802],
    "compute_rate": [24507264896.729282, 16232168.234662691, 1587437555.8843613],
    "macs_per_point": 8637.686833795988,
    "link_rate": [
        [0.0, 68838236250.12985, 1223623.6321544326],
        [143178476846.9879, 0.0, 19744.07498963518],
        [4236451895099.937, 345442478033.35834, 0.0],
    ],
}


def test_d2d_lp_is_solved_unscaled_first() -> None:
    p = OffloadD2DProblem.from_dict(D2D_SMALL_ENTRIES)
    relaxed = edgealloc.solve(p, "relaxed")
    assert relaxed.status is Status.OPTIMAL and "scaled" not in relaxed.message
    assert registry.family_of(p).check(p, relaxed, False) == []


#: Found by the campaign (``offload-d2d``, seed 0, instance 8330, rounded to one digit;
#: users without points send nothing and their rows are left out): offloading to links
#: of up to 2e19 points/s cuts the iteration from 9e-6 s to 1.2e-11 s, so HiGHS's
#: absolute tolerance in units of T0 (1e-10 T0) is 1e-4 of the optimum: the plan
#: evaluated 4e-7 above the LP value, with or without scaled columns (SolverError).
#: The LP is now solved again in units of the value found.
_R = {
    0: [0, 2e8, 3e7, 5e7, 1e15, 1e12, 1e15, 1e17, 1e17, 2e11, 1e16, 3e10, 8e15, 5e11, 3e15, 9e9,
        1e8, 5e10, 2e16, 1e14],
    7: [2e13, 3e10, 1e18, 2e19, 5e12, 5e13, 6e10, 0, 3e14, 2e13, 2e18, 6e18, 6e15, 6e13, 5e18,
        4e12, 7e12, 3e16, 1e14, 9e9],
    8: [2e18, 1e12, 8e17, 1e17, 7e9, 3e15, 7e11, 2e15, 0, 7e8, 2e18, 1e14, 2e16, 1e16, 5e10, 1e9,
        2e11, 6e14, 1e13, 4e9],
    10: [7e16, 3e14, 2e18, 2e17, 7e9, 8e9, 6e13, 1e14, 7e9, 6e17, 0, 4e15, 7e9, 2e14, 3e15, 2e13,
         1e10, 4e18, 5e11, 2e15],
    11: [7e16, 1e14, 3e16, 1e10, 2e14, 4e11, 5e15, 3e14, 1e18, 1e10, 4e15, 0, 2e11, 4e11, 2e18,
         2e13, 2e15, 7e10, 1e12, 2e17],
    15: [1e14, 1e13, 2e16, 4e8, 2e11, 6e9, 1e16, 1e14, 3e15, 9e14, 9e12, 2e10, 1e14, 1e15, 2e9, 0,
         1e18, 6e12, 2e17, 3e17],
    17: [1e13, 2e14, 7e12, 2e12, 4e7, 2e10, 5e15, 3e10, 5e11, 1e9, 1e14, 4e16, 5e14, 2e12, 2e12,
         6e7, 5e16, 0, 4e12, 2e16],
    19: [1e7, 1e13, 3e11, 3e12, 1e5, 3e4, 3e9, 7e11, 1e12, 3e7, 4e12, 7e12, 1e6, 3e13, 6e7, 3e9,
         6e9, 2e10, 2e8, 0],
}  # fmt: skip
D2D_TINY_OPTIMUM = {
    "family": "offload-d2d",
    "points": [2, 0, 0, 0, 0, 0, 0, 1, 1, 0, 2, 2, 0, 0, 0, 1, 0, 2, 0, 2],
    "compute_rate": [5e9, 6e10, 7e7, 3e6, 8e8, 5e8, 1e11, 5e11, 9e10, 2e9, 2e11, 8e11, 7e7, 1e10,
                     1e8, 2e10, 2e6, 5e9, 4e11, 4e6],
    "link_rate": [_R.get(i, [0.0] * 20) for i in range(20)],
}  # fmt: skip


def test_d2d_lp_when_offloading_cuts_the_time_by_orders_of_magnitude() -> None:
    p = OffloadD2DProblem.from_dict(D2D_TINY_OPTIMUM)
    family = registry.family_of(p)
    relaxed = edgealloc.solve(p, "relaxed")
    assert relaxed.status is Status.OPTIMAL and "time unit" in relaxed.message
    assert relaxed.objective < 1e-4 * p.no_offload_time
    assert family.check(p, relaxed, False) == []
    assert family.check(p, edgealloc.solve(p, "optimal"), True) == []


def test_paper_async_when_the_window_floor_tau_star_is_a_hair_infeasible() -> None:
    """Found by the campaign (``mel``, seed 0, instance 6299): AssertionError in the paper scheme.

    One device, energy, ``tau* = 1.0000000000118798``: ``relax_sync``'s root and
    the capacities' own formula disagree by a few ulps, so the window floor
    ``m = tau*`` had no feasible allocation and nothing else was tried. The
    largest feasible floor below ``tau*`` is used instead.
    """
    p = MelProblem.from_dict(
        {
            "family": "mel",
            "deadline": 0.003814481986440224,
            "total_samples": 1,
            "c2": [9.274886176990567e-05],
            "c1": [0.00037977484866592924],
            "c0": [7.605153223262875e-05],
            "min_samples": 0,
            "energy": {
                "g2": [6.208017645668119e-05],
                "g1": [0.0002787048601731041],
                "g0": [5.581183622691722e-05],
                "budget": [0.0003965968728570433],
            },
        }
    )
    res = edgealloc.solve(p, "paper")
    assert res.status is Status.FEASIBLE and res.tau.tolist() == [1]
    assert registry.family_of(p).check(p, res, True) == []


def test_a_campaign_split_in_shards_counts_the_same(fuzz: dict) -> None:
    """``--start`` shards add up to the whole campaign; ``--time-limit`` reaches the scheme."""
    family = registry.get_family("flmar")
    whole = fuzz["run_family"](family, 6, 0, max_devices=8)
    first = fuzz["run_family"](family, 3, 0, max_devices=8)
    rest = fuzz["run_family"](family, 3, 0, max_devices=8, start=3, time_limit=30.0)
    assert first.instances + rest.instances == whole.instances > 0
    for scheme in family.schemes:
        both = first.outcomes.get(scheme, {}).copy()
        both.update(rest.outcomes.get(scheme, {}))
        assert both == whole.outcomes.get(scheme, {}), scheme
    assert whole.violations == first.violations == rest.violations == []


def test_an_interrupted_campaign_reports_what_it_did(
    fuzz: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = fuzz["run_family"].__globals__
    real, calls = namespace["_instance"], []

    def interrupted_at_the_third(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt  # what Ctrl-C, or SIGTERM through the handler, raises
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setitem(namespace, "_instance", interrupted_at_the_third)
    rc = fuzz["main"](["--families", "flmar", "--instances", "5", "--plain", "--max-devices", "8"])
    out = capsys.readouterr().out
    assert rc == 130, out
    assert calls == [0, 1]
    assert "INTERRUPTED in flmar after" in out and "of 5 instances" in out
    assert "PASSED so far: 0 violation(s)" in out
    import signal

    assert signal.getsignal(signal.SIGTERM) is not namespace["_interrupt"]  # handler restored


def test_warnings_while_solving_are_counted_where_the_package_raised_them(
    fuzz: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A RuntimeWarning is noise, not a violation: counted per scheme and line, not shown."""
    import traceback

    namespace = fuzz["run_family"].__globals__
    real = namespace["_solve"]

    def noisy(family, problem, scheme, time_limit):
        np.array([1e308]) * 10.0  # overflow: a RuntimeWarning raised inside NumPy
        return real(family, problem, scheme, time_limit)

    monkeypatch.setitem(namespace, "_solve", noisy)
    family = registry.get_family("offload-server")
    report = fuzz["run_family"](family, 4, 0)
    assert report.violations == [] and report.instances == 4
    assert sorted(report.warned) == sorted(
        (s, next(iter(report.warned))[1], "RuntimeWarning: overflow encountered in multiply")
        for s in family.schemes
    )
    assert all(n == 4 and first == 0 for n, first in report.warned.values())
    assert next(iter(report.warned))[1].startswith("test_fuzz.py:")  # no package frame on it
    table = fuzz["_tables"]([report], [])[-1]
    assert any("overflow encountered in multiply" in row[3] for row in table.rows)
    assert "overflow" not in capsys.readouterr().err  # recorded, not printed

    package = fuzz["PACKAGE"]
    stack = traceback.StackSummary.from_list(
        [
            (str(package / "feel" / "_relaxed.py"), 10, "optimum", None),
            ("/elsewhere/numpy/_core/_methods.py", 49, "_sum", None),
        ]
    )
    assert fuzz["_where"](stack) == "feel/_relaxed.py:10"
