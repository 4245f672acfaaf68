"""Online least squares under offloading plans (edgealloc.learn.online_regression).

Oracles: the gradients are recomputed here with explicit per-user slices
(the paper's sum over users of X_i^T (X_i beta - y_i), Section II-A), and
which rows a user offloads is re-derived from the documented rule (the last
points of its block, D2D blocks by increasing receiver), independently of
``assign_workers``. Iteration times come from ``problem.evaluate``.
"""

from __future__ import annotations

import csv
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgealloc.errors import ValidationError
from edgealloc.learn import (
    LinearStream,
    Strategy,
    assign_workers,
    draw_points,
    gradient_scale,
    offloaded_gradient,
    reference_gradient,
    train_online,
)
from edgealloc.offload import OffloadD2DProblem, OffloadServerProblem

HAVE_SOLVERS = all(
    importlib.util.find_spec(f"edgealloc.offload.{m}") is not None for m in ("_server", "_d2d")
)
needs_solvers = pytest.mark.skipif(
    not HAVE_SOLVERS, reason="offload solvers (_server, _d2d) not written yet"
)


# ---------------------------------------------------------------------------
# Helpers: random instances and the independent oracle
# ---------------------------------------------------------------------------
def _random_points(rng: np.random.Generator, n: int) -> np.ndarray:
    l = rng.integers(0, 40, size=n)
    l[rng.integers(n)] = 0  # a user with no points this iteration
    return l


def _server_plan(rng: np.random.Generator, l: np.ndarray) -> np.ndarray:
    o = np.array([rng.integers(0, x + 1) for x in l])
    n = l.shape[0]
    o[rng.integers(n)] = 0
    full = rng.integers(n)
    o[full] = l[full]  # everything offloaded (also when l = 0)
    return o


def _d2d_plan(rng: np.random.Generator, l: np.ndarray) -> np.ndarray:
    n = l.shape[0]
    o = np.zeros((n, n), dtype=np.int64)
    for i in range(n):
        sent = int(rng.integers(0, l[i] + 1))
        if i == 0:
            sent = int(l[i])  # user 0 gives all its points away
        if i == 1:
            sent = 0
        share = rng.multinomial(sent, np.full(n - 1, 1 / (n - 1)))
        o[i, np.arange(n) != i] = share
    return o


def _oracle(X, y, beta, l, o):
    """Per-worker partial gradients from explicit slices; and the per-user reference."""
    n = l.shape[0]
    start = np.concatenate(([0], np.cumsum(l)[:-1]))
    d = X.shape[1]

    def grad(rows: slice) -> np.ndarray:
        Xr, yr = X[rows], y[rows]
        return Xr.T @ (Xr @ beta - yr)

    reference = sum(grad(slice(start[i], start[i] + l[i])) for i in range(n))
    if o.ndim == 1:
        parts = np.zeros((n + 1, d))
        for i in range(n):
            cut = start[i] + l[i] - o[i]
            parts[i] = grad(slice(start[i], cut))
            parts[n] += grad(slice(cut, start[i] + l[i]))
    else:
        parts = np.zeros((n, d))
        for i in range(n):
            pos = start[i] + l[i] - o[i].sum()
            parts[i] += grad(slice(start[i], pos))
            for j in range(n):
                parts[j] += grad(slice(pos, pos + o[i, j]))
                pos += o[i, j]
    return parts, reference


# ---------------------------------------------------------------------------
# Which points are offloaded
# ---------------------------------------------------------------------------
def test_offloaded_points_are_the_last_ones_and_d2d_blocks_go_by_receiver() -> None:
    worker, w = assign_workers([4, 0, 3], [2, 0, 3])
    assert w == 4 and worker.tolist() == [0, 0, 3, 3, 3, 3, 3]
    worker, w = assign_workers([5, 2, 1], [[0, 1, 2], [0, 0, 0], [1, 0, 0]])
    assert w == 3 and worker.tolist() == [0, 0, 1, 2, 2, 1, 1, 0]


@pytest.mark.parametrize(
    "points, plan, message",
    [
        ([3, 2], [4, 0], "holds 3"),
        ([3, 2], [1.5, 0], "whole"),
        ([3, 2], [-1, 0], ">= 0"),
        ([3, 2], [[1, 0], [0, 0]], "itself"),
        ([3, 2], [[0, 2], [3, 0]], "holds 2"),
        ([3, 2], [1, 0, 0], "shape"),
        ([3, 2], [np.nan, 0], "finite"),
    ],
)
def test_bad_plans_are_refused(points, plan, message) -> None:
    with pytest.raises(ValidationError, match=message):
        assign_workers(points, plan)


# ---------------------------------------------------------------------------
# Gradient equality
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["server", "d2d"])
@pytest.mark.parametrize("seed", range(12))
def test_offloaded_gradient_equals_no_offloading_gradient(kind: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    l = _random_points(rng, n)
    o = _server_plan(rng, l) if kind == "server" else _d2d_plan(rng, l)
    stream = LinearStream(n_features=int(rng.integers(1, 9)), noise_std=0.3, seed=seed)
    batch = stream.draw(seed, l)
    beta = rng.standard_normal(stream.n_features) * 3  # far from beta*: no cancellation
    parts, reference = _oracle(batch.X, batch.y, beta, l, o)

    pg = offloaded_gradient(batch, beta, o)
    scale = gradient_scale(batch, batch.X @ beta - batch.y)
    tol = 1e-12 * max(scale, 1e-300)
    assert pg.partials.shape == parts.shape
    assert np.abs(pg.partials - parts).max() <= tol
    assert np.linalg.norm(pg.gradient - reference) <= tol
    if np.linalg.norm(reference) > 0:
        assert np.linalg.norm(pg.gradient - reference) <= 1e-12 * np.linalg.norm(reference)
    assert np.linalg.norm(reference_gradient(batch, beta) - reference) <= tol
    # a plan moves work, never points: every point is computed exactly once
    assert np.bincount(pg.worker, minlength=pg.partials.shape[0]).sum() == l.sum()
    # the canonical reduction is bitwise independent of the plan
    canon = offloaded_gradient(batch, beta, o, reduction="canonical").gradient
    assert np.array_equal(canon, reference_gradient(batch, beta, reduction="canonical"))
    assert np.linalg.norm(canon - reference) <= tol


def test_gradient_is_the_least_squares_gradient_in_closed_form() -> None:
    # d = 1, two users: grad = sum_k x_k (x_k beta - y_k), by hand
    stream = LinearStream(n_features=1, noise_std=0.0, seed=3)
    batch = stream.draw(0, [2, 1])
    x, y = batch.X[:, 0], batch.y
    expected = float(np.sum(x * (x * 0.5 - y)))
    got = offloaded_gradient(batch, [0.5], [0, 1]).gradient
    assert got.shape == (1,) and got[0] == pytest.approx(expected, rel=1e-14)


@needs_solvers
@pytest.mark.parametrize("seed", range(4))
def test_gradient_equality_under_solver_plans(seed: int) -> None:
    import edgealloc
    from edgealloc.experiments.xr_online_regression import problems

    server, d2d = problems(seed, users=8, l_min=20, l_max=60)
    stream = LinearStream(n_features=12, seed=seed)
    l = server.points.astype(np.int64)
    batch = stream.draw(0, l)
    beta = np.random.default_rng(seed).standard_normal(12)
    scale = gradient_scale(batch, batch.X @ beta - batch.y)
    for problem in (server, d2d):
        plan = np.asarray(edgealloc.solve(problem, "optimal").allocation.offloaded_points)
        assert plan.sum() > 0  # heterogeneous users: the optimum offloads something
        parts, reference = _oracle(batch.X, batch.y, beta, l, plan.astype(np.int64))
        pg = offloaded_gradient(batch, beta, plan)
        assert np.abs(pg.partials - parts).max() <= 1e-12 * scale
        assert np.linalg.norm(pg.gradient - reference) <= 1e-12 * scale


# ---------------------------------------------------------------------------
# The stream
# ---------------------------------------------------------------------------
def test_stream_is_reproducible_and_drift_keeps_the_norm() -> None:
    a = LinearStream(n_features=6, seed=4).draw(3, [5, 2])
    b = LinearStream(n_features=6, seed=4).draw(3, [5, 2])
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    c = LinearStream(n_features=6, seed=4).draw(4, [5, 2])
    assert not np.array_equal(a.X, c.X)
    s = LinearStream(n_features=6, drift=0.05, seed=1)
    b0, b10 = s.beta_star(0), s.beta_star(10)
    assert np.linalg.norm(b0) == pytest.approx(1.0) and np.linalg.norm(b10) == pytest.approx(1.0)
    assert float(b0 @ b10) == pytest.approx(math.cos(0.5))
    fixed = LinearStream(n_features=6, seed=1)
    assert np.array_equal(fixed.beta_star(0), fixed.beta_star(50))


@pytest.mark.parametrize("features", ["uniform", "gaussian"])
def test_feature_covariance_and_population_loss(features: str) -> None:
    s = LinearStream(n_features=4, condition=8.0, noise_std=0.5, seed=2, features=features)
    assert s.spectrum[0] == 1.0 and s.spectrum[-1] == pytest.approx(1 / 8)
    batch = s.draw(0, [40_000, 40_000])
    cov = batch.X.T @ batch.X / batch.n_points
    assert np.allclose(cov, np.diag(s.spectrum), atol=0.02)
    beta = np.array([0.3, -0.2, 0.1, 0.0])
    empirical = 0.5 * np.mean((batch.X @ beta - batch.y) ** 2)
    assert s.population_loss(beta, 0) == pytest.approx(empirical, rel=0.02)
    assert s.population_loss(s.beta_star(0), 0) == pytest.approx(0.5 * 0.25)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"n_features": 0}, "n_features"),
        ({"noise_std": -1.0}, "noise_std"),
        ({"condition": 0.5}, "condition"),
        ({"drift": float("nan")}, "drift"),
        ({"features": "laplace"}, "features"),
        ({"seed": True}, "seed"),
    ],
)
def test_bad_stream_parameters(kwargs, field) -> None:
    with pytest.raises(ValidationError) as info:
        LinearStream(**kwargs)
    assert info.value.field == field


def test_draw_points_range_and_seed() -> None:
    p = draw_points(5, 7, 10, 12, 0)
    assert p.shape == (7, 5) and p.min() >= 10 and p.max() <= 12
    assert np.array_equal(p, draw_points(5, 7, 10, 12, 0))
    with pytest.raises(ValidationError):
        draw_points(5, 7, 12, 10, 0)


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------
def _small_problems() -> tuple[OffloadServerProblem, OffloadD2DProblem]:
    points = [30, 40, 20, 50]
    rate = [1e3, 4e3, 2e3, 8e3]  # user 0 is slow
    server = OffloadServerProblem(
        points=points, compute_rate=rate, uplink_rate=[5e4] * 4, server_rate=2e4
    )
    link = np.full((4, 4), 1e5)
    np.fill_diagonal(link, 0.0)
    d2d = OffloadD2DProblem(points=points, compute_rate=rate, link_rate=link.tolist())
    return server, d2d


def _hand_server(p: OffloadServerProblem) -> np.ndarray:
    """Offload the part of each user's work that exceeds half the slowest user's time."""
    cap = 0.5 * p.compute_time.max()
    return np.ceil(np.clip(1 - cap / np.maximum(p.compute_time, 1e-300), 0, 1) * p.points)


def _hand_d2d(p: OffloadD2DProblem) -> np.ndarray:
    """The slowest user sends half its points to the fastest."""
    o = np.zeros((p.n_users, p.n_users))
    slow, fast = int(np.argmax(p.compute_time)), int(np.argmax(p.compute_rate))
    o[slow, fast] = p.points[slow] // 2
    return o


def test_sgd_converges_to_beta_star_on_a_noiseless_stream() -> None:
    server, d2d = _small_problems()
    stream = LinearStream(n_features=8, noise_std=0.0, condition=5.0, seed=7)
    traces = train_online(
        stream,
        {"none": Strategy(server, "none"), "d2d": Strategy(d2d, _hand_d2d)},
        iterations=250,
    )
    for tr in traces.values():
        assert tr.param_error[0] == pytest.approx(1.0)  # beta0 = 0, |beta*| = 1
        assert np.linalg.norm(tr.beta - stream.beta_star(250)) < 1e-9
        assert tr.test_loss[-1] < 1e-15
        assert np.all(np.diff(tr.test_loss) <= 1e-18)  # monotone on noiseless data


def test_sgd_tracks_a_drifting_model() -> None:
    server, _ = _small_problems()
    stream = LinearStream(n_features=4, noise_std=0.0, condition=2.0, drift=0.01, seed=1)
    tr = train_online(stream, {"none": Strategy(server, "none")}, iterations=200)["none"]
    assert tr.param_error[0] == pytest.approx(1.0)
    assert tr.param_error[-1] < 0.05  # follows beta*(t), lagging by O(drift)


def test_clock_advances_by_exactly_the_evaluated_iteration_time() -> None:
    server, d2d = _small_problems()
    schedule = draw_points(4, 12, 0, 60, 3)
    seen: dict[str, list] = {"server": [], "d2d": []}

    def record(key, planner):
        def plan(p):
            o = planner(p)
            seen[key].append((p.points.copy(), np.array(o)))
            return o

        return plan

    traces = train_online(
        LinearStream(n_features=5, seed=0),
        {
            "none": Strategy(server, "none"),
            "server": Strategy(server, record("server", _hand_server)),
            "d2d": Strategy(d2d, record("d2d", _hand_d2d)),
        },
        iterations=12,
        points=schedule,
    )
    problems = {"none": server, "server": server, "d2d": d2d}
    for key, tr in traces.items():
        assert tr.sim_time_s[0] == 0.0
        for t in range(12):
            p_t = problems[key].replace(points=schedule[t].tolist())
            plan = np.zeros(4) if key == "none" else seen[key][t][1]
            if key != "none":
                assert np.array_equal(seen[key][t][0], schedule[t])  # planned on l^(t)
            assert tr.iteration_time_s[t] == p_t.evaluate(plan).iteration_time
            end = tr.sim_time_s[t + 1] if t < 11 else tr.end_time_s
            assert end == tr.sim_time_s[t] + tr.iteration_time_s[t]
    assert np.array_equal(
        traces["none"].iteration_time_s,
        [server.replace(points=row.tolist()).no_offload_time for row in schedule],
    )


def test_a_fixed_infeasible_plan_is_an_error_not_a_silent_change() -> None:
    server, _ = _small_problems()
    with pytest.raises(ValidationError, match=r"strategies\.bad\.plan"):
        train_online(
            LinearStream(n_features=3),
            {"bad": Strategy(server, [31, 0, 0, 0])},  # user 0 holds 30
            iterations=2,
        )
    zero_uplink = server.replace(uplink_rate=[0, 5e4, 5e4, 5e4])
    with pytest.raises(ValidationError, match="no uplink"):
        train_online(
            LinearStream(n_features=3), {"bad": Strategy(zero_uplink, [5, 0, 0, 0])}, iterations=1
        )


def _three(server, d2d, *, solver: bool):
    if solver:
        return {
            "none": Strategy(server, "none"),
            "server": Strategy(server, "optimal"),
            "d2d": Strategy(d2d, "optimal"),
        }
    return {
        "none": Strategy(server, "none"),
        "server": Strategy(server, _hand_server),
        "d2d": Strategy(d2d, _hand_d2d),
    }


@pytest.mark.parametrize("solver", [False, pytest.param(True, marks=needs_solvers)])
def test_curves_agree_per_iteration_and_offloading_is_faster_in_time(solver: bool) -> None:
    server, d2d = _small_problems()
    stream = LinearStream(n_features=10, noise_std=0.1, condition=10.0, seed=5)
    # four distinct point vectors in turn: new data every iteration, plans cached
    schedule = draw_points(4, 4, 20, 60, 5)[np.arange(80) % 4]
    traces = train_online(
        stream, _three(server, d2d, solver=solver), iterations=80, points=schedule
    )
    ref = traces["none"]
    threshold = 1.2 * 0.5 * 0.1**2
    t_none = ref.time_to(threshold)
    assert math.isfinite(t_none)
    for key in ("server", "d2d"):
        tr = traces[key]
        for metric in ("train_loss", "test_loss", "param_error"):
            a, b = getattr(tr, metric), getattr(ref, metric)
            assert np.all(np.abs(a - b) <= 1e-9 * np.abs(b)), (key, metric)
        assert np.all(tr.grad_deviation <= 1e-12)
        assert np.all(tr.iteration_time_s <= ref.iteration_time_s)
        assert tr.time_to(threshold) < t_none  # same iteration, reached earlier
        assert tr.end_time_s < ref.end_time_s
    # canonical reduction: bitwise identical trajectories
    canon = train_online(
        stream,
        _three(server, d2d, solver=solver),
        iterations=30,
        points=schedule,
        reduction="canonical",
    )
    for key in ("server", "d2d"):
        assert np.array_equal(canon[key].beta, canon["none"].beta)
        assert np.array_equal(canon[key].test_loss, canon["none"].test_loss)


def test_train_online_rejects_bad_arguments() -> None:
    server, _ = _small_problems()
    stream = LinearStream(n_features=3)
    ok = {"none": Strategy(server, "none")}
    for kwargs, field in (
        ({"iterations": 0}, "iterations"),
        ({"iterations": 2, "points": [1, 2]}, "points"),
        ({"iterations": 3, "points": np.ones((2, 4))}, "points"),
        ({"iterations": 2, "learning_rate": -1.0}, "learning_rate"),
        ({"iterations": 2, "beta0": [1.0]}, "beta0"),
        ({"iterations": 2, "reduction": "fast"}, "reduction"),
    ):
        with pytest.raises(ValidationError) as info:
            train_online(stream, ok, **kwargs)
        assert info.value.field == field
    with pytest.raises(ValidationError, match="problem"):
        Strategy("not a problem")  # type: ignore[arg-type]
    small = OffloadServerProblem(points=[1], compute_rate=[1.0], uplink_rate=[1.0], server_rate=1)
    with pytest.raises(ValidationError, match="users"):
        train_online(
            stream, {"a": Strategy(server, "none"), "b": Strategy(small, "none")}, iterations=1
        )


def test_users_without_points_and_empty_iterations() -> None:
    server, _ = _small_problems()
    schedule = np.array([[0, 0, 0, 0], [0, 5, 0, 3], [4, 0, 0, 0]])
    tr = train_online(
        LinearStream(n_features=3, seed=0),
        {"s": Strategy(server, _hand_server)},
        iterations=3,
        points=schedule,
    )["s"]
    assert tr.iteration_time_s[0] == 0.0 and math.isnan(tr.train_loss[0])
    assert np.isfinite(tr.train_loss[1:]).all()
    assert tr.test_loss[1] == tr.test_loss[0]  # no data, no update


def test_learn_package_stays_numpy_only() -> None:
    code = "import sys, edgealloc.learn; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------
# The experiment, quick mode
# ---------------------------------------------------------------------------
@needs_solvers
def test_experiment_quick_writes_png_and_csv(tmp_path: Path) -> None:
    from edgealloc.experiments import EXPERIMENTS, run_experiment

    assert "xr-online-regression" in EXPERIMENTS
    res = run_experiment("xr-online-regression", tmp_path, quick=True, workers=1, progress=False)
    png = tmp_path / "xr-online-regression.png"
    assert png in res.files and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000
    with (tmp_path / "xr-online-regression.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["strategy"] for r in rows} == {"none", "server", "d2d"}
    assert max(float(r["test_loss_rel_diff_max"]) for r in rows) <= 1e-9
    with (tmp_path / "xr-online-regression-seeds.csv").open(newline="") as fh:
        seeds = list(csv.DictReader(fh))
    by = {}
    for r in seeds:
        by.setdefault((r["seed"], r["strategy"]), []).append(r)
    threshold = 1.5 * 0.5 * 0.1**2
    for seed in {k[0] for k in by}:

        def first(key, seed=seed):
            hit = [float(r["sim_time_s"]) for r in by[(seed, key)]]
            loss = [float(r["test_loss"]) for r in by[(seed, key)]]
            return next(t for t, v in zip(hit, loss, strict=True) if v <= threshold)

        assert first("server") < first("none") and first("d2d") < first("none")
    assert len(res.summary) == 3  # one row per strategy: none, server, d2d
