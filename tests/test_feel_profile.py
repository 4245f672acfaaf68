"""``edgealloc profile``: the exact fit of Assumption 1 on synthetic timings, and the command.

No test asserts on a measured time: the fit is checked on synthetic curves
(against a brute-force scan of thresholds), the command on its files and
exit codes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from edgealloc.api import load_problem, solve
from edgealloc.cli import app
from edgealloc.errors import ValidationError
from edgealloc.learn.profile_fit import fit_assumption1, gpu_curve

B = np.array([1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256], dtype=float)


def _scan(b: np.ndarray, t: np.ndarray, n: int = 20001) -> float:
    """Brute force: the least RSS of a + c max(0, b - theta), c >= 0, over a fine theta grid."""
    best = float(((t - t.mean()) ** 2).sum())
    for theta in np.linspace(b.min(), b.max(), n):
        h = np.maximum(0.0, b - theta)
        if np.ptp(h) == 0:
            continue
        a_mat = np.column_stack([np.ones_like(h), h])
        (a, c), *_ = np.linalg.lstsq(a_mat, t, rcond=None)
        if c < 0:
            continue
        r = t - a - c * h
        best = min(best, float(r @ r))
    return best


@pytest.mark.parametrize(
    ("base", "slope", "threshold"),
    [(0.025, 6e-4, 32.0), (0.01, 1e-4, 20.5), (0.003, 2e-5, 1.0), (0.05, 3e-3, 150.0)],
)
def test_fit_recovers_a_noiseless_curve(base: float, slope: float, threshold: float) -> None:
    t = gpu_curve(B, base, slope, threshold)
    fit = fit_assumption1(B, t)
    assert fit.base_time == pytest.approx(base, rel=1e-9)
    assert fit.slope == pytest.approx(slope, rel=1e-9)
    if threshold > 1.0:  # at B_min any threshold <= 1 fits: not identifiable
        assert fit.threshold == pytest.approx(threshold, rel=1e-9)
    assert fit.rss == pytest.approx(0.0, abs=1e-20)
    np.testing.assert_allclose(fit.fitted, t, rtol=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_fit_is_the_least_squares_over_every_threshold(seed: int) -> None:
    """Noisy timings, repeats allowed: never worse than a dense scan (and about as good)."""
    rng = np.random.default_rng(seed)
    b = np.repeat(B, 3)
    theta = rng.uniform(4, 100)
    t = gpu_curve(b, 0.02, 5e-4, theta) * rng.lognormal(0.0, 0.05, b.size)
    fit = fit_assumption1(b, t)
    scan = _scan(b, t)
    assert fit.rss <= scan * (1 + 1e-9)
    assert fit.rss >= scan * (1 - 1e-3)  # the scan's grid is fine enough to come close
    r = t[np.argsort(b, kind="stable")] - fit.fitted
    assert fit.rss == pytest.approx(float(r @ r), rel=1e-9)
    assert fit.linear_rss >= fit.rss * (1 - 1e-12)  # a line is one candidate shape
    assert fit.slope >= 0 and B.min() <= fit.threshold <= B.max()


def test_flat_timings_fit_a_constant() -> None:
    t = np.full(B.shape, 0.004)
    fit = fit_assumption1(B, t)
    assert fit.slope == 0.0 and fit.base_time == pytest.approx(0.004)
    assert fit.threshold == B.max()


def test_a_flat_profile_still_writes_a_usable_slope() -> None:
    """No linear region measured: the slope written is the saturated throughput's, t_l / B_th."""
    from edgealloc.learn.profile import Profile

    t = np.full(B.shape, 0.004)
    fit = fit_assumption1(B, t)
    prof = Profile(
        batch=B.astype(np.int64),
        times=t[:, None],
        median=t,
        update_times=np.array([1e-4]),
        fit=fit,
        device="cpu",
        device_name="test",
        spec=None,  # type: ignore[arg-type]
        dataset="synthetic",
        threads=1,
    )
    assert prof.flat
    coeffs = prof.coefficients()
    assert coeffs["slope_s"] == pytest.approx(0.004 / B.max())
    assert coeffs["threshold"] == B.max() and coeffs["update_time_s"] == 1e-4


def test_decreasing_timings_never_get_a_negative_slope() -> None:
    fit = fit_assumption1(B, 1.0 / B)
    assert fit.slope >= 0.0


@pytest.mark.parametrize(
    ("batch", "time", "field"),
    [
        ([1, 2, 3], [1.0, 2.0], "time"),
        ([1, 2], [1.0, float("nan")], "time"),
        ([1, 2], [1.0, -1.0], "time"),
        ([0, 2], [1.0, 1.0], "time"),
        ([4, 4, 4], [1.0, 1.1, 0.9], "batch"),
    ],
)
def test_fit_refuses_bad_points(batch: list, time: list, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        fit_assumption1(batch, time)
    assert info.value.field == field


def test_batch_grid() -> None:
    from edgealloc.learn.profile import batch_grid

    assert batch_grid("1..8") == [1, 2, 3, 4, 5, 6, 7, 8]
    grid = batch_grid("1..256", points=12)
    assert grid[0] == 1 and grid[-1] == 256 and grid == sorted(set(grid)) and len(grid) <= 13
    assert batch_grid("8..32:8") == [8, 16, 24, 32]
    assert batch_grid("16, 1,4") == [1, 4, 16]
    for bad in ("", "5", "0..4", "4..2", "a..b", "1..8:0", "1,x"):
        with pytest.raises(ValidationError) as info:
            batch_grid(bad)
        assert info.value.field == "batches"


def test_profile_step_shapes_and_coefficients() -> None:
    pytest.importorskip("torch")
    from edgealloc.learn import load_dataset
    from edgealloc.learn.models import model_for
    from edgealloc.learn.profile import profile_step

    data = load_dataset("digits", n_samples=200)
    spec = model_for(data, "linear")
    prof = profile_step(spec, data, [1, 4, 300], repeats=2, warmup=1)
    assert prof.times.shape == (3, 2) and (prof.times > 0).all()
    assert prof.batch.tolist() == [1, 4, 300]  # 300 > the 160 training samples: repeated
    assert len(prof.update_times) == 2
    coeffs = prof.coefficients()
    assert set(coeffs) == {"base_time_s", "slope_s", "threshold", "update_time_s"}
    np.testing.assert_allclose(
        prof.fit.fitted,
        gpu_curve(prof.batch, coeffs["base_time_s"], coeffs["slope_s"], coeffs["threshold"]),
    )
    assert [r["batch"] for r in prof.rows()] == [1, 4, 300]
    with pytest.raises(ValidationError):
        profile_step(spec, data, [8, 8], repeats=1)


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------
def invoke(*args: Any) -> Any:
    return CliRunner().invoke(app, ["profile", *[str(a) for a in args]])


FAST = ["--model", "linear", "--batches", "1,8,32", "--repeats", "1", "--warmup", "0"]


def test_profile_writes_usable_coefficients(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "prof"
    res = invoke(*FAST, "-o", out)
    assert res.exit_code == 0, res.output
    for name in ("profile.csv", "profile.json", "gpu.yaml", "profile.png"):
        assert (out / name).stat().st_size > 0, name
    with (out / "profile.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["batch"]) for r in rows] == [1, 8, 32]
    for r in rows:
        assert float(r["median_s"]) - float(r["fitted_s"]) == pytest.approx(
            float(r["residual_s"]), abs=1e-12
        )
    doc = json.loads((out / "profile.json").read_text())
    assert doc["batch"] == [1, 8, 32] and len(doc["times_s"]) == 3
    assert doc["model"]["kind"] == "linear"
    assert "fit: t(B) =" in res.output and "use: edgealloc solve" in res.output
    # the YAML block drops into a feel-gpu scenario, and the --set flags are the same numbers
    gpu = yaml.safe_load((out / "gpu.yaml").read_text())["devices"]["gpu"]
    assert gpu == pytest.approx(doc["gpu"], rel=1e-5)
    over = {
        "gpu_base": gpu["base_time_s"],
        "gpu_slope": gpu["slope_s"],
        "gpu_threshold": gpu["threshold"],
        "gpu_update": gpu["update_time_s"],
    }
    problem = load_problem("feel-gpu", overrides=over)
    assert problem.gpu is not None
    np.testing.assert_allclose(problem.gpu.base_time, gpu["base_time_s"])
    assert solve(problem).success
    sets = doc["set"].split()
    assert sets[::2] == ["--set"] * 4 and sets[1].startswith("gpu_base=")


def test_profile_refuses_to_overwrite_then_forces(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "prof"
    assert invoke(*FAST, "-o", out).exit_code == 0
    again = invoke(*FAST, "-o", out)
    assert again.exit_code == 2 and "already exists" in again.output
    assert invoke(*FAST, "-o", out, "--force").exit_code == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--model", "resnet"], "--model"),
        (["--batches", "7"], "--batches"),
        (["--batches", "x..y"], "--batches"),
        (["--repeats", "0"], "--repeats"),
        (["--warmup", "-1"], "--warmup"),
        (["--threads", "0"], "--threads"),
        (["--points", "1"], "--points"),
        (["--dataset", "nope"], "--dataset"),
        (["--device", "nosuch"], "--device"),
    ],
)
def test_profile_bad_flags_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    res = invoke(*args, "-o", tmp_path / "p")
    assert res.exit_code == 2, res.output
    assert needle in res.output
    assert not (tmp_path / "p").exists()
