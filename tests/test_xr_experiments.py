"""The XR offloading reproductions (Figs. 1-3 of the XR offloading paper), in quick mode."""

from __future__ import annotations

import doctest
import math
from pathlib import Path

import numpy as np
import pytest

import edgealloc
from edgealloc.experiments import EXPERIMENTS, ExperimentOutput, _xr, run_experiment
from edgealloc.experiments import xr_heterogeneity as het
from edgealloc.experiments import xr_users as users_exp
from test_experiments import _num
from test_experiments import _read_csv as _read

#: The CSV headers of both gain reproductions (docs/reproductions.md documents them).
SUMMARY_HEADER = (
    "panel,eta_comp,eta_comm,users,s,strategy,scheme,seeds,ok,failed,mean,std,min,median,max"
)
COMPARE_HEADER = (
    "panel,eta_comp,eta_comm,users,s,scheme,seeds,server_mean,d2d_mean,"
    "diff_mean,diff_std,d2d_better"
)
SEED_HEADER = (
    "eta_comp,eta_comm,users,s,seed,no_offload_time,server_optimal,server_relaxed,"
    "d2d_optimal,d2d_relaxed"
)

TOL = 1e-9


@pytest.fixture(scope="module")
def het_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExperimentOutput]:
    out = tmp_path_factory.mktemp("xr-het")
    return out, run_experiment("xr-heterogeneity", out, quick=True, workers=2, progress=False)


@pytest.fixture(scope="module")
def users_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExperimentOutput]:
    out = tmp_path_factory.mktemp("xr-users")
    return out, run_experiment("xr-users", out, quick=True, workers=2, progress=False)


def test_registered() -> None:
    for name in ("xr-heterogeneity", "xr-users"):
        exp = EXPERIMENTS[name]
        assert exp.name == name and exp.title and exp.description and callable(exp.run)


def test_module_doctests() -> None:
    result = doctest.testmod(_xr)
    assert result.attempted > 0
    assert result.failed == 0


def _check_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000  # a real figure, not an empty canvas


def _check_gains(seed_rows: list[dict[str, str]], whole_points: int) -> int:
    """Offloading never hurts (gain >= 1: ``none`` is feasible); the continuous optimum
    bounds the whole-point one. D2D has whole points on the first ``whole_points`` seeds."""
    for r in seed_rows:
        for strategy in ("server", "d2d"):
            opt, rel = _num(r[f"{strategy}_optimal"]), _num(r[f"{strategy}_relaxed"])
            assert math.isfinite(rel) and rel >= 1 - TOL, (strategy, r)
            if strategy == "d2d" and int(r["seed"]) >= whole_points:
                assert math.isnan(opt), r  # the LP alone on the other seeds
                continue
            assert math.isfinite(opt), r
            assert opt >= 1 - TOL, (strategy, r)
            assert rel >= opt - TOL, (strategy, r)
        assert float(r["no_offload_time"]) > 0
    return len(seed_rows)


def test_heterogeneity_files_columns_and_gains(het_run) -> None:
    out, res = het_run
    names = {p.name for p in res.files}
    assert names >= {
        "xr-heterogeneity.png",
        "xr-heterogeneity-function.png",
        "xr-heterogeneity.csv",
        "xr-heterogeneity-compare.csv",
        "xr-heterogeneity-seeds.csv",
        "xr-heterogeneity-store.jsonl",
    }
    _check_png(out / "xr-heterogeneity.png")
    _check_png(out / "xr-heterogeneity-function.png")
    cols, rows = _read(out / "xr-heterogeneity.csv")
    assert ",".join(cols) == SUMMARY_HEADER
    ccols, crows = _read(out / "xr-heterogeneity-compare.csv")
    assert ",".join(ccols) == COMPARE_HEADER
    scols, srows = _read(out / "xr-heterogeneity-seeds.csv")
    assert ",".join(scols) == SEED_HEADER
    # Every documented column is explained in COLUMN_DOCS (docs/reproductions.md copies it).
    documented = " ".join(het.COLUMN_DOCS)
    for c in {*cols, *ccols}:
        assert c in documented, c
    # Both panels, every grid point, both strategies and schemes, the quick seed count.
    comp = {_num(r["eta_comp"]) for r in rows if r["panel"] == "comp"}
    comm = {_num(r["eta_comm"]) for r in rows if r["panel"] == "comm"}
    assert comp == set(het.COMP_GRID_QUICK) and comm == set(het.COMM_GRID_QUICK)
    assert {(r["strategy"], r["scheme"]) for r in rows} == {
        (st, sc) for st in ("server", "d2d") for sc in ("optimal", "relaxed")
    }
    for r in rows:
        whole = (r["strategy"], r["scheme"]) == ("d2d", "optimal")
        n = het.QUICK_D2D_WHOLE_POINTS if whole else het.QUICK_SEEDS
        assert r["seeds"] == r["ok"] == str(n) and r["failed"] == "0", r
    assert all(r["users"] == "20" and float(r["s"]) == het.STEEPNESS for r in rows)
    # Per experiment: gain >= 1 for optimal, relaxed >= optimal.
    points = {(r["eta_comp"], r["eta_comm"]) for r in srows}
    assert points >= {(r["eta_comp"], r["eta_comm"]) for r in rows}
    assert _check_gains(srows, het.QUICK_D2D_WHOLE_POINTS) == het.QUICK_SEEDS * len(points)
    # Aggregates agree with the per-seed file.
    by_point: dict[tuple[str, str, str, str], list[float]] = {}
    for r in srows:
        for col in ("d2d_optimal", "server_relaxed"):
            if r[col]:
                by_point.setdefault((r["eta_comp"], r["eta_comm"], *col.split("_")), []).append(
                    float(r[col])
                )
    for r in rows:
        if (r["strategy"], r["scheme"]) in (("d2d", "optimal"), ("server", "relaxed")):
            vals = np.array(by_point[(r["eta_comp"], r["eta_comm"], r["strategy"], r["scheme"])])
            assert vals.size == int(r["seeds"])
            # both files round to 6 decimals: a small s.d. may differ by 5e-7 absolute
            assert float(r["mean"]) == pytest.approx(vals.mean(), rel=1e-5, abs=1e-6)
            assert float(r["std"]) == pytest.approx(vals.std(ddof=1), rel=1e-5, abs=1e-6)
            assert float(r["min"]) >= 1 - TOL
    # The paired comparison is consistent with the two means.
    for r in crows:
        assert _num(r["diff_mean"]) == pytest.approx(
            _num(r["d2d_mean"]) - _num(r["server_mean"]), abs=1e-5
        )
        assert 0 <= _num(r["d2d_better"]) <= 1
    # The claims of Section IV-B are listed with a verdict.
    claims = [n for n in res.notes if n.startswith("Claim (Fig. 2)")]
    assert len(claims) == 2
    assert all(any(v in c for v in ("Holds", "Does not hold", "Partly holds")) for c in claims)
    assert res.summary and len({tuple(r) for r in res.summary}) == 1


def test_heterogeneity_d2d_does_not_depend_on_eta_comm(het_run) -> None:
    # eta_comm shapes the server uplinks only: along the comm panel the D2D gains are the
    # same experiments (same seeds, same eta_comp), the server's change.
    out, _ = het_run
    _, srows = _read(out / "xr-heterogeneity-seeds.csv")
    fixed = [r for r in srows if float(r["eta_comp"]) == het.ETA_FIXED]
    by_seed: dict[str, set[str]] = {}
    for r in fixed:
        by_seed.setdefault(r["seed"], set()).add(r["d2d_relaxed"])
    assert len(by_seed) == het.QUICK_SEEDS
    assert all(len(v) == 1 for v in by_seed.values())
    server = {r["server_optimal"] for r in fixed}
    assert len(server) > het.QUICK_SEEDS  # differs across eta_comm


def test_heterogeneity_rerun_uses_the_store(het_run) -> None:
    out, first = het_run
    again = run_experiment("xr-heterogeneity", out, quick=True, workers=1, progress=False)
    n_tasks = first.notes[0].split(" tasks")[0]
    assert f"({n_tasks} loaded from the store)" in again.notes[0]
    assert again.summary == first.summary


def test_users_files_columns_and_gains(users_run) -> None:
    out, res = users_run
    _check_png(out / "xr-users.png")
    cols, rows = _read(out / "xr-users.csv")
    assert ",".join(cols) == SUMMARY_HEADER
    ccols, _ = _read(out / "xr-users-compare.csv")
    assert ",".join(ccols) == COMPARE_HEADER
    scols, srows = _read(out / "xr-users-seeds.csv")
    assert ",".join(scols) == SEED_HEADER
    assert {int(r["users"]) for r in rows} == set(users_exp.USERS_QUICK)
    assert {r["panel"] for r in rows} == {"s=0.5", "s=2"}
    assert {_num(r["eta_comp"]) for r in rows} == set(users_exp.ETA_COMP)
    assert {_num(r["eta_comm"]) for r in rows} == set(users_exp.ETA_COMM)
    for r in rows:
        whole = (r["strategy"], r["scheme"]) == ("d2d", "optimal")
        n = users_exp.QUICK_D2D_WHOLE_POINTS if whole else users_exp.QUICK_SEEDS
        assert r["seeds"] == r["ok"] == str(n), r
    assert _check_gains(srows, users_exp.QUICK_D2D_WHOLE_POINTS) == users_exp.QUICK_SEEDS * len(
        {(r["panel"], r["eta_comp"], r["eta_comm"], r["users"]) for r in rows}
    )
    claims = [n for n in res.notes if n.startswith("Claim (Fig. 3")]
    assert len(claims) == 3


# ---------------------------------------------------------------------------
# The instances: paired, following eq. (2), relaxed values are the relaxed schemes'
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 7])
def test_same_seed_same_users_for_both_strategies(seed: int) -> None:
    point = {"eta_comp": 0.6, "eta_comm": 0.3, "users": 12, "s": 2.0}
    ps = _xr.build_problem("server", point, seed)
    pd = _xr.build_problem("d2d", point, seed)
    assert ps.n_users == pd.n_users == 12
    assert np.array_equal(ps.points, pd.points)
    assert np.array_equal(ps.compute_rate, pd.compute_rate)
    assert ps.meta["positions_m"] == pd.meta["positions_m"]
    other = _xr.build_problem("d2d", {**point, "eta_comm": 0.9}, seed)
    assert np.array_equal(other.link_rate, pd.link_rate)  # eta_comm does not touch D2D
    # eq. (2), C_i = eta (1 - ((i - 1)/(N - 1))^s)^(1/s) + 1 - eta: the capacities are a
    # permutation of C_i a_max
    i, eta, steep = np.arange(1, 13), 0.6, 2.0
    eq2 = eta * (1 - ((i - 1) / 11) ** steep) ** (1 / steep) + 1 - eta
    c = np.sort(pd.compute_rate / pd.compute_rate.max())[::-1]
    assert c == pytest.approx(eq2, rel=1e-12)


def test_relaxed_gain_is_the_relaxed_scheme() -> None:
    """The gains read off ``solve(p, "optimal")`` match solving each scheme on its own."""
    task = {
        "point": {"eta_comp": 0.7, "users": 8, "s": 0.5},
        "eta_comm": [0.2, 0.9],
        "seeds": [3, 5],
        "d2d_whole_points": 5,
    }
    res = _xr.solve_block(task)
    for j, seed in enumerate(range(3, 5)):
        pd = _xr.build_problem("d2d", task["point"], seed)
        base = pd.no_offload_time
        assert res["no_offload_time"][j] == pytest.approx(base)
        for scheme in ("optimal", "relaxed"):
            t = edgealloc.solve(pd, scheme).objective
            assert res["d2d"][scheme][j] == pytest.approx(base / t, rel=1e-6)
        for eta in task["eta_comm"]:
            ps = _xr.build_problem("server", {**task["point"], "eta_comm": eta}, seed)
            for scheme in ("optimal", "relaxed"):
                t = edgealloc.solve(ps, scheme).objective
                assert res["server"][repr(eta)][scheme][j] == pytest.approx(base / t, rel=1e-6)


def test_blocks_cover_the_seeds_once() -> None:
    for seeds, block in ((1, 250), (20, 250), (5000, 250), (201, 25)):
        b = _xr.blocks(seeds, block)
        covered = [s for a, z in b for s in range(a, z)]
        assert covered == list(range(seeds))
        assert all(a % block == 0 and 0 < z - a <= block for a, z in b)


def test_heterogeneity_figure_alone(tmp_path: Path) -> None:
    path = het.plot_heterogeneity(tmp_path / "f.png")
    _check_png(path)
