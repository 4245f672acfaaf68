"""The ``mel`` schemes against independent oracles (:mod:`edgealloc.mel.verify`).

* ``optimal`` equals brute force (:func:`exhaustive_sync`, :func:`exhaustive_async`)
  on tiny instances and the HiGHS MILP (:func:`milp_optimum`) on small ones,
  including extreme heterogeneity, binding energy, devices sitting out and
  infeasible deadlines.
* Structural properties: every allocation passes ``evaluate``; ``relaxed >=
  optimal >= paper, equal``; ``bound >= objective``; ``c = 0`` equals the
  synchronous problem; monotone in the deadline and in the staleness bound.
* Diagnostics: ``min_deadline`` and ``energy_shortfall`` of ``InfeasibleError``
  checked by the oracle and by plain arithmetic.
* Scale: ``K = 10,000`` checked by a vectorised computation written here.

Disagreements these tests found, minimised, are kept as regression cases
in ``tests/fixtures/mel_regressions`` (a constraint met exactly once made the
relaxation declare the problem infeasible; devices that may sit out with
``d`` below the number of eligible devices broke the sample placement).
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import edgealloc
from edgealloc.errors import InfeasibleError
from edgealloc.mel.problem import MelProblem
from edgealloc.mel.verify import (
    exhaustive_async,
    exhaustive_sync,
    milp_optimum,
    strict_check,
)
from edgealloc.result import Status
from mel_strategies import mel_problems, random_mel, tiny_mel_problems

FIXTURES = Path(__file__).parent / "fixtures" / "mel_regressions"
RTOL = 1e-12  # the solvers' constraint slack, restated here on purpose
SUCCESS = (Status.OPTIMAL, Status.FEASIBLE)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
def optimal_value(p: MelProblem) -> float:
    """``solve(p, "optimal").objective``, 0 when infeasible."""
    try:
        return edgealloc.solve(p, "optimal").objective
    except InfeasibleError:
        return 0.0


def agree(p: MelProblem, oracle: float) -> None:
    """Assert ``optimal`` matches the oracle value (exactly when synchronous)."""
    got = optimal_value(p)
    tol = 0.0 if p.synchronous else 1e-9 * max(1.0, abs(oracle))
    if abs(got - oracle) > tol:
        doc = p.to_json(indent=None)
        pytest.fail(f"optimal = {got!r} but the oracle says {oracle!r} for {doc}")


def milp_value(p: MelProblem) -> float:
    res = milp_optimum(p, time_limit=60)
    assert res.status in ("optimal", "infeasible"), res.message
    if res.status == "optimal":
        assert strict_check(p, res.tau, res.samples)
        return res.objective
    return 0.0


def scheme(p: MelProblem, name: str):
    """The scheme's result, or ``None`` when it raises InfeasibleError."""
    try:
        return edgealloc.solve(p, name)
    except InfeasibleError:
        return None


def tiny(rng: np.random.Generator, *, sync: bool, i: int) -> MelProblem:
    k = int(rng.integers(1, 5 if sync else 4))
    ms = int(rng.integers(0, 3))
    top = 12 if sync else 8
    d = int(rng.integers(max(1, k * ms), top + 1)) if k * ms <= top else top
    ms = min(ms, d // k)
    return random_mel(
        rng,
        k=k,
        sync=sync,
        energy=bool(rng.integers(0, 2)),
        min_samples=ms,
        heterogeneity_decades=float(rng.choice([0.0, 0.5, 1.0])),
        deadline_scale=float(rng.uniform(0.5, 6.0 if sync else 3.0)),
        total_samples=d,
        integer_coefficients=i % 5 == 0,
    )


def small(rng: np.random.Generator, *, sync: bool, i: int) -> MelProblem:
    k = int(rng.integers(1, 9 if sync else 6))
    ms = int(rng.choice([0, 0, 1, 2, 5]))
    d = int(rng.integers(max(1, k * ms), max(1, k * ms) + 300))
    return random_mel(
        rng,
        k=k,
        sync=sync,
        energy=bool(rng.integers(0, 2)),
        min_samples=ms,
        heterogeneity_decades=float(rng.choice([0.0, 1.0, 3.0, 6.0])),
        deadline_scale=float(rng.uniform(0.5, 40.0 if sync else 15.0)),
        total_samples=d,
        integer_coefficients=i % 7 == 0,
    )


# ---------------------------------------------------------------------------
# optimal versus brute force
# ---------------------------------------------------------------------------
def test_optimal_equals_exhaustive_sync_seeded():
    rng = np.random.default_rng(20240601)
    feasible = 0
    for i in range(250):
        p = tiny(rng, sync=True, i=i)
        best, tau, samples = exhaustive_sync(p)
        if best:
            feasible += 1
            assert p.evaluate(tau, samples).objective == best
        agree(p, float(best))
    assert 100 <= feasible <= 245  # both outcomes are exercised


def test_optimal_equals_exhaustive_async_seeded():
    rng = np.random.default_rng(7)
    done = feasible = 0
    for i in range(150):
        p = tiny(rng, sync=False, i=i)
        try:
            best, tau, samples = exhaustive_async(p)
        except ValueError:
            continue
        done += 1
        if best > 0:
            feasible += 1
            assert p.evaluate(tau, samples).objective == pytest.approx(best, abs=1e-12)
        agree(p, best)
    assert done >= 140, done  # the exhaustive oracle covered almost every instance
    assert 60 <= feasible < done


@settings(max_examples=60)
@given(tiny_mel_problems(sync=True))
def test_optimal_equals_exhaustive_sync_hypothesis(p):
    agree(p, float(exhaustive_sync(p)[0]))


@settings(max_examples=40)
@given(tiny_mel_problems(sync=False))
def test_optimal_equals_exhaustive_async_hypothesis(p):
    try:
        best = exhaustive_async(p)[0]
    except ValueError:
        return
    agree(p, best)


# ---------------------------------------------------------------------------
# optimal versus the MILP
# ---------------------------------------------------------------------------
def test_optimal_equals_milp_sync_seeded():
    rng = np.random.default_rng(3)
    for i in range(100):
        agree(p := small(rng, sync=True, i=i), milp_value(p))


def test_optimal_equals_milp_async_seeded():
    rng = np.random.default_rng(4)
    for i in range(50):
        agree(p := small(rng, sync=False, i=i), milp_value(p))


@settings(max_examples=40)
@given(
    mel_problems(
        k=st.integers(1, 6),
        total_samples=st.integers(1, 200),
        deadline_scale=st.floats(0.5, 12.0),
        integer_coefficients=st.booleans(),
    )
)
def test_optimal_equals_milp_hypothesis(p):
    agree(p, milp_value(p))


def test_milp_encodings_agree():
    """The three MILP formulations check one another (the oracle's own test)."""
    rng = np.random.default_rng(11)
    for i in range(12):
        p = random_mel(
            rng,
            k=int(rng.integers(1, 4)),
            sync=i % 2 == 0,
            energy=i % 3 == 0,
            min_samples=i % 3,
            heterogeneity_decades=1.0,
            deadline_scale=float(rng.uniform(0.8, 4.0)),
            total_samples=int(rng.integers(6, 25)),
        )
        values = []
        for enc in ("tau", "samples", "base2"):
            res = milp_optimum(p, encoding=enc, time_limit=30)
            assert res.status in ("optimal", "infeasible"), (enc, res.message)
            values.append(res.objective if res.status == "optimal" else 0.0)
        assert values[0] == pytest.approx(values[1], abs=1e-9)
        assert values[0] == pytest.approx(values[2], abs=1e-9)


# ---------------------------------------------------------------------------
# Properties of all schemes
# ---------------------------------------------------------------------------
@settings(max_examples=40)
@given(mel_problems(k=st.integers(1, 12), total_samples=st.integers(1, 2000)))
def test_scheme_allocations_and_ordering(p):
    results = {name: scheme(p, name) for name in ("optimal", "relaxed", "paper", "equal")}
    for name, res in results.items():
        if res is None or res.status not in SUCCESS:
            continue
        ev = p.evaluate(res.tau, res.samples, integral=name != "relaxed")
        assert ev.feasible, (name, ev.violations)
        assert res.objective == pytest.approx(ev.objective, rel=1e-12, abs=1e-12)
        assert res.bound >= res.objective * (1 - 1e-9), name
    opt, rel = results["optimal"], results["relaxed"]
    if opt is None:
        return
    if rel is not None:
        assert rel.bound >= opt.objective * (1 - 1e-9)
        if rel.status is Status.OPTIMAL:
            assert rel.objective >= opt.objective * (1 - 1e-9)
    for name in ("paper", "equal"):
        res = results[name]
        if res is not None and res.status in SUCCESS:
            assert res.objective <= opt.objective * (1 + 1e-12), name


@settings(max_examples=40)
@given(mel_problems(sync=st.just(False), staleness=st.just(0)))
def test_async_c0_equals_sync(p):
    sync = optimal_value(p.replace(staleness=None))
    asyn = optimal_value(p)
    if p.min_samples == 0 and sync > 0:
        # devices that sit out count 0 in the asynchronous mean: it equals
        # tau * (participants) / K, at most the synchronous tau
        assert asyn <= sync + 1e-12
        assert asyn > 0
    else:
        assert asyn == pytest.approx(sync, abs=1e-12)


@settings(max_examples=30)
@given(mel_problems(k=st.integers(1, 8)), st.floats(1.0001, 3.0))
def test_optimal_monotone_in_deadline(p, factor):
    lo = optimal_value(p)
    hi = optimal_value(p.replace(deadline=p.deadline * factor))
    assert hi >= lo - 1e-12  # the feasible set only grows


@settings(max_examples=30)
@given(mel_problems(k=st.integers(1, 8), sync=st.just(False)), st.integers(1, 3))
def test_optimal_monotone_in_staleness(p, more):
    lo = optimal_value(p)
    hi = optimal_value(p.replace(staleness=p.staleness + more))
    assert hi >= lo - 1e-12


# ---------------------------------------------------------------------------
# Infeasible inputs: what would make them feasible
# ---------------------------------------------------------------------------
def test_min_deadline_is_exact():
    rng = np.random.default_rng(99)
    seen = collections.Counter()
    for i in range(60):
        k = int(rng.integers(1, 7))
        ms = int(rng.choice([0, 1, 2]))
        p = random_mel(
            rng,
            k=k,
            sync=i % 2 == 0,
            min_samples=ms,
            heterogeneity_decades=float(rng.choice([0.0, 1.0, 3.0, 6.0])),
            deadline_scale=float(rng.uniform(0.05, 0.9)),
            total_samples=int(rng.integers(max(1, k * ms), max(1, k * ms) + 150)),
        )
        try:
            edgealloc.solve(p)
            seen["feasible"] += 1
            continue
        except InfeasibleError as err:
            t_min = err.min_deadline
        assert t_min is not None and t_min > p.deadline
        at = p.replace(deadline=t_min)
        below = p.replace(deadline=t_min * (1 - 1e-6))
        # the oracle: feasible exactly at min_deadline, infeasible just below
        assert milp_value(at) >= (1 if p.synchronous else 1 / k)
        assert milp_value(below) == 0.0
        with pytest.raises(InfeasibleError):
            edgealloc.solve(below)
        assert optimal_value(at) > 0
        seen["exact"] += 1
    assert seen["exact"] >= 40, seen


def _energy_ok_at_tau1(p: MelProblem, extra: float) -> bool:
    """Can budgets + ``extra`` carry ``d`` samples at tau = 1, ignoring time? (plain arithmetic)"""
    e, d = p.energy, p.total_samples
    lim = (e.budget + extra) * (1 + RTOL)
    slope = e.g2 + e.g1
    n = np.floor(np.where(slope > 0, (lim - e.g0) / np.where(slope > 0, slope, 1.0), d))
    n = np.clip(np.where(e.g0 <= lim, n, -1), -1, d)
    n -= (n >= 0) & (e.g0 + slope * n > lim)  # float-consistent: n fits ...
    n += (n < d) & (e.g0 + slope * (n + 1) <= lim)  # ... and n + 1 does not
    if p.min_samples == 0:
        return int(n[n >= 1].sum()) >= d
    return bool((n >= p.min_samples).all()) and int(n.sum()) >= d


def test_energy_shortfall_is_sufficient_and_tight():
    rng = np.random.default_rng(5)
    checked = 0
    for i in range(60):
        k = int(rng.integers(1, 7))
        ms = int(rng.choice([0, 1, 2]))
        p = random_mel(
            rng,
            k=k,
            sync=i % 2 == 0,
            energy=True,
            energy_scale=float(rng.uniform(0.01, 0.3)),
            min_samples=ms,
            heterogeneity_decades=float(rng.choice([0.0, 1.0, 3.0])),
            deadline_scale=float(rng.uniform(1.0, 10.0)),
            total_samples=int(rng.integers(max(1, k * ms), max(1, k * ms) + 200)),
        )
        try:
            edgealloc.solve(p)
            assert _energy_ok_at_tau1(p, 0.0)
            continue
        except InfeasibleError as err:
            short = err.energy_shortfall
        if _energy_ok_at_tau1(p, 0.0):
            assert short is None  # the deadline, not energy, is the obstacle
            continue
        checked += 1
        assert short is not None and np.all(np.asarray(short) > 0)
        s = float(np.max(short))
        assert _energy_ok_at_tau1(p, s)
        assert not _energy_ok_at_tau1(p, s * (1 - 1e-6))
        # the oracle agrees: with the extra energy and no deadline pressure, tau >= 1
        e = p.energy.to_dict()
        e["budget"] = (np.asarray(e["budget"]) + s).tolist()
        assert milp_value(p.replace(energy=e, deadline=p.deadline * 1e3)) > 0
    assert checked >= 20


# ---------------------------------------------------------------------------
# Scale and K = 1
# ---------------------------------------------------------------------------
def _max_samples(p: MelProblem, tau: int) -> np.ndarray:
    """Largest ``n`` per device at a common ``tau`` (plain arithmetic, float-consistent)."""
    rows = [(p.c2, p.c1, p.c0, np.full(p.n_devices, p.deadline))]
    if p.energy is not None:
        rows.append((p.energy.g2, p.energy.g1, p.energy.g0, p.energy.budget))
    d = float(p.total_samples)
    out = np.full(p.n_devices, d)
    for a2, a1, a0, lim in rows:
        lim = lim * (1 + RTOL)
        slope = a2 * tau + a1
        n = np.floor(np.where(slope > 0, (lim - a0) / np.where(slope > 0, slope, 1.0), d))
        n = np.clip(np.where(a0 <= lim, n, -1), -1, d)
        n -= (n >= 1) & (a2 * tau * n + a1 * n + a0 > lim)
        n += (n < d) & (a2 * tau * (n + 1) + a1 * (n + 1) + a0 <= lim)
        out = np.minimum(out, n)
    return out


def _sync_feasible(p: MelProblem, tau: int) -> bool:
    n = _max_samples(p, tau)
    if p.min_samples == 0:
        return float(n[n >= 1].sum()) >= p.total_samples
    return bool((n >= p.min_samples).all()) and float(n.sum()) >= p.total_samples


@pytest.mark.parametrize(
    ("energy", "min_samples", "decades"), [(False, 1, 1.0), (True, 1, 3.0), (False, 0, 6.0)]
)
def test_ten_thousand_devices(energy, min_samples, decades):
    rng = np.random.default_rng(10_000 + min_samples)
    p = random_mel(
        rng,
        k=10_000,
        energy=energy,
        min_samples=min_samples,
        heterogeneity_decades=decades,
        deadline_scale=25.0,
        total_samples=600_000,
        energy_scale=2.0,
    )
    res = edgealloc.solve(p, "optimal")
    assert p.evaluate(res.tau, res.samples).feasible
    tau = int(res.objective)
    assert tau >= 1
    assert _sync_feasible(p, tau)
    assert not _sync_feasible(p, tau + 1)


def test_single_device():
    rng = np.random.default_rng(1)
    for i in range(60):
        p = random_mel(
            rng,
            k=1,
            sync=i % 2 == 0,
            energy=i % 3 == 0,
            min_samples=int(rng.integers(0, 3)),
            deadline_scale=float(rng.uniform(0.5, 50.0)),
            total_samples=int(rng.integers(2, 5000)),
            integer_coefficients=i % 4 == 0,
        )
        # one device holds all d samples; its tau is the largest that fits
        n = _max_samples(p, 1)
        if n[0] < p.total_samples:
            with pytest.raises(InfeasibleError):
                edgealloc.solve(p)
            continue
        got = optimal_value(p)
        assert got >= 1
        tau = int(got)
        assert _max_samples(p, tau)[0] >= p.total_samples
        assert _max_samples(p, tau + 1)[0] < p.total_samples


# ---------------------------------------------------------------------------
# Disagreements found by these tests (minimised), kept as regression cases
# ---------------------------------------------------------------------------
def _fixtures() -> list:
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        doc = json.loads(path.read_text())
        out.append(pytest.param(doc, id=doc["id"]))
    return out


@pytest.mark.parametrize("doc", _fixtures())
def test_regression(doc):
    p = MelProblem.from_dict(doc["problem"])
    if doc["check"] == "optimal_matches_oracle":
        oracle = exhaustive_sync(p)[0] if p.synchronous else exhaustive_async(p)[0]
        assert oracle == pytest.approx(milp_value(p), abs=1e-12)
        assert edgealloc.solve(p, "optimal").objective == pytest.approx(oracle, abs=1e-12)
    elif doc["check"] == "min_deadline_is_feasible":
        with pytest.raises(InfeasibleError) as info:
            edgealloc.solve(p)
        at = p.replace(deadline=info.value.min_deadline)
        assert milp_value(at) >= 1
        assert edgealloc.solve(at).objective >= 1
    elif doc["check"] == "relaxed_bounds_optimal":
        opt = edgealloc.solve(p, "optimal").objective
        assert opt == pytest.approx(exhaustive_async(p)[0], abs=1e-12)
        assert edgealloc.solve(p, "relaxed").bound >= opt
    else:  # pragma: no cover
        raise AssertionError(doc["check"])
