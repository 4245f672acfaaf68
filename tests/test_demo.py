"""Tests of the demo (edgealloc.demo): files, numbers, tables, overwrite safety.

Its speed is the benchmarks' business (no wall-clock assert here).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Any

import matplotlib.image
import numpy as np
import pytest
from rich.console import Console

import edgealloc
import edgealloc.compare as compare
import edgealloc.demo as demo
from edgealloc.errors import SolverError, ValidationError
from edgealloc.result import Status

INTEGRAL = ("optimal", "paper", "equal")
MEL_PRESETS = ("mel-sync", "mel-async")
OFFLOAD_PRESETS = ("xr-server", "xr-d2d")
#: Whole-point schemes of the offloading families (``relaxed`` is continuous).
WHOLE_POINTS = ("optimal", "paper", "none")
#: The keys of a ``mel`` entry of demo.json (unchanged since the offloading presets came in).
MEL_KEYS = {"description", "devices", "deadline", "total_samples", "staleness", "energy", "schemes"}
PNG = b"\x89PNG\r\n\x1a\n"


@dataclasses.dataclass(frozen=True)
class Ran:
    out: Path
    doc: dict[str, Any]
    text: str


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    out = tmp_path_factory.mktemp("demo") / "out"
    buf = io.StringIO()
    doc = demo.run_demo(out, console=Console(file=buf, width=140))
    return Ran(out, doc, buf.getvalue())


def _figures() -> set[str]:
    """The figure files the registered families' presenters draw in the demo."""
    out = set()
    for fam in edgealloc.registry.families().values():
        if fam.demo_presets and fam.presenter.figure is not None:
            out.add(fam.presenter.figure[1])
    return out


def test_demo_presets() -> None:
    # The built-in families first, in registry order; each family's own demo presets.
    presets = tuple(demo.DEMO_PRESETS)
    assert presets[:4] == MEL_PRESETS + OFFLOAD_PRESETS
    assert presets == tuple(
        p for fam in edgealloc.registry.families().values() for p in fam.demo_presets
    )


@pytest.mark.slow
def test_files_written(ran: Ran) -> None:
    names = {p.name for p in ran.out.iterdir()}
    problems = {f"{p}.problem.json" for p in demo.DEMO_PRESETS}
    figures = _figures()
    assert {"demo.png", "offload.png"} <= figures
    assert names == figures | {"demo.json"} | problems  # nothing else
    for figure in figures:
        png = ran.out / figure
        assert png.read_bytes()[:8] == PNG, figure
        height, width, _ = matplotlib.image.imread(png).shape
        assert width > 1000 and height > 500, figure
    assert json.loads((ran.out / "demo.json").read_text()) == ran.doc
    files = ran.doc["files"]
    assert Path(files["figure"]).name == "demo.png"
    assert Path(files["figure:offload"]).name == "offload.png"
    assert {Path(v).name for v in files.values()} == names


@pytest.mark.slow
def test_optimal_beats_every_integral_scheme(ran: Ran) -> None:
    numbers = json.loads((ran.out / "demo.json").read_text())
    assert list(numbers["presets"]) == list(demo.DEMO_PRESETS)
    for name in MEL_PRESETS:
        entry = numbers["presets"][name]
        assert set(entry) == MEL_KEYS, name
        schemes = entry["schemes"]
        assert list(schemes) == edgealloc.schemes("mel")
        best = schemes["optimal"]
        assert best["status"] == "optimal", name
        assert best["objective"] == best["bound"]
        for scheme in INTEGRAL:
            assert best["objective"] >= schemes[scheme]["objective"], (name, scheme)
        # The relaxation is continuous: its value bounds the integer optimum from above.
        assert schemes["relaxed"]["objective"] >= best["objective"] - 1e-9
        assert best["objective"] <= best["relaxed_bound"] + 1e-9
        for scheme, res in schemes.items():
            want = 100 * (best["objective"] - res["objective"]) / best["objective"]
            assert math.isclose(res["gap_percent"], want, abs_tol=1e-9), (name, scheme)
            assert res["solve_ms"] >= 0
        assert ("energies" in best) == entry["energy"]


def _no_offload_time(problem: dict[str, Any]) -> float:
    """``max_i m l_i / a_i`` straight from a canonical file (PROBLEMS.md sections 1-2)."""
    m = problem.get("macs_per_point", 2.0)
    return float(np.max(m * np.asarray(problem["points"]) / np.asarray(problem["compute_rate"])))


@pytest.mark.slow
@pytest.mark.parametrize("name", OFFLOAD_PRESETS)
def test_offload_optimal_between_relaxed_and_whole_point_schemes(ran: Ran, name: str) -> None:
    numbers = json.loads((ran.out / "demo.json").read_text())
    entry = numbers["presets"][name]
    data = json.loads((ran.out / f"{name}.problem.json").read_text())
    family = data["family"]
    assert entry["family"] == family
    # The size fields describe the problem file.
    assert entry["users"] == len(data["points"])
    assert entry["total_points"] == sum(data["points"])
    assert math.isclose(entry["no_offload_time"], _no_offload_time(data), rel_tol=1e-12)
    assert not {"deadline", "total_samples", "devices"} & set(entry)

    schemes = entry["schemes"]
    assert list(schemes) == edgealloc.schemes(family)
    best = schemes["optimal"]
    assert best["status"] in ("optimal", "feasible")
    for scheme in WHOLE_POINTS:
        if scheme in schemes:  # offload-d2d has no "paper"
            assert best["objective"] <= schemes[scheme]["objective"] * (1 + 1e-12), scheme
    assert schemes["relaxed"]["objective"] <= best["objective"] * (1 + 1e-12)
    assert best["objective"] < schemes["none"]["objective"]  # offloading pays on the preset
    if family == "offload-server":
        assert best["status"] == "optimal" and best["objective"] == best["bound"]
    else:  # the D2D rounding is certified against the LP bound
        assert math.isclose(best["bound"], schemes["relaxed"]["objective"], rel_tol=1e-9)

    problem = edgealloc.load_problem(ran.out / f"{name}.problem.json")
    base = entry["no_offload_time"]
    for scheme, res in schemes.items():
        assert res["no_offload_time"] == base
        assert math.isclose(res["speedup"], base / res["objective"], rel_tol=1e-12), scheme
        want = 100 * (res["objective"] - best["objective"]) / best["objective"]
        assert math.isclose(res["gap_percent"], want, abs_tol=1e-9), scheme
        assert res["solve_ms"] >= 0
        # The recorded allocation really takes the recorded time.
        ev = problem.evaluate(res["offloaded_points"], integral=scheme != "relaxed")
        assert ev.feasible, (scheme, ev.violations)
        assert math.isclose(ev.iteration_time, res["objective"], rel_tol=1e-12), scheme
    assert schemes["none"]["speedup"] == 1.0


@pytest.mark.slow
def test_problem_files_solve_to_the_same_optimum(ran: Ran) -> None:
    for name in demo.DEMO_PRESETS:
        path = ran.out / f"{name}.problem.json"
        assert edgealloc.load_problem(path) == edgealloc.load_problem(name)
        optimum = ran.doc["presets"][name]["schemes"]["optimal"]["objective"]
        assert edgealloc.solve(path).objective == optimum, name


@pytest.mark.slow
def test_tables_printed(ran: Ran) -> None:
    text = ran.text
    for name in demo.DEMO_PRESETS:
        assert f"{name}: " in text
    for family in ("mel", "offload-server", "offload-d2d"):
        for scheme in edgealloc.schemes(family):
            assert scheme in text, scheme
    assert "gap to optimal" in text and "solve (ms)" in text
    assert "cycle time (s) / T = " in text  # mel
    assert "iteration time (s)" in text and "speed-up vs none" in text  # offloading
    for name in OFFLOAD_PRESETS:
        entry = ran.doc["presets"][name]
        assert f"N = {entry['users']} users" in text
        assert f"no offloading {entry['no_offload_time']:.4g} s" in text
        for res in entry["schemes"].values():
            assert f"{res['speedup']:.3f}×" in text


@pytest.mark.slow
def test_refuses_to_overwrite(ran: Ran) -> None:
    before = {p.name: p.read_bytes() for p in ran.out.iterdir()}
    with pytest.raises(ValidationError, match="already exists"):
        demo.run_demo(ran.out)
    assert {p.name: p.read_bytes() for p in ran.out.iterdir()} == before


@pytest.mark.slow
def test_offload_figure_is_protected_and_forced(tmp_path: Path) -> None:
    # offload.png alone is enough to refuse, and nothing is written.
    (tmp_path / "offload.png").write_bytes(b"mine")
    with pytest.raises(ValidationError, match=r"offload\.png: already exists"):
        demo.run_demo(tmp_path, presets=("xr-server",))
    assert [p.name for p in tmp_path.iterdir()] == ["offload.png"]
    # --force overwrites it; the mel figure is not written without a mel preset.
    doc = demo.run_demo(tmp_path, presets=("xr-server",), force=True)
    assert (tmp_path / "offload.png").read_bytes()[:8] == PNG
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"offload.png", "demo.json", "xr-server.problem.json"}
    assert "figure" not in doc["files"]


def test_out_dir_must_be_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "taken"
    path.write_text("mine")
    with pytest.raises(ValidationError, match="not a directory"):
        demo.run_demo(path)
    assert path.read_text() == "mine"


def test_unknown_preset_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ValidationError):
        demo.run_demo(out, presets=("mel-sync", "no-such-preset"))
    assert not out.exists()


def test_gap_percent() -> None:
    assert demo.gap_percent(6.0, 12.0) == 50.0
    assert demo.gap_percent(12.0, 12.0) == 0.0
    assert demo.gap_percent(13.0, 12.0) < 0  # above the optimum: a relaxation
    assert math.isnan(demo.gap_percent(math.nan, 12.0))
    assert math.isnan(demo.gap_percent(3.0, 0.0))
    # Iteration times are minimised: longer is worse, shorter is a relaxation.
    assert demo.gap_percent(12.0, 10.0, minimise=True) == pytest.approx(20.0)
    assert demo.gap_percent(9.0, 10.0, minimise=True) == pytest.approx(-10.0)
    # A minimised cost below zero (flmar): worse is still positive, in percent of |optimum|.
    assert demo.gap_percent(-3.2303, -3.4011, minimise=True) == pytest.approx(5.0219, abs=1e-3)
    assert demo.gap_percent(-3.5, -3.4011, minimise=True) < 0


def test_solve_all_turns_solver_errors_into_failed_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = edgealloc.load_problem("mel-sync", overrides={"devices": 4})
    real = compare.solve

    def flaky(p: Any, scheme: str, **kw: Any) -> Any:
        if scheme == "paper":
            raise SolverError("diverged")
        return real(p, scheme, **kw)

    monkeypatch.setattr(compare, "solve", flaky)
    results = demo.solve_all(problem)
    assert [r.scheme for r in results] == edgealloc.schemes("mel")
    by = {r.scheme: r for r in results}
    assert by["paper"].status is Status.FAILED and "diverged" in by["paper"].message
    assert by["optimal"].status is Status.OPTIMAL
    rows = {row["scheme"]: row for row in demo.comparison_rows(results)}
    assert math.isnan(rows["paper"]["objective"]) and math.isnan(rows["paper"]["gap_percent"])
    assert rows["optimal"]["gap_percent"] == 0.0
    json.dumps(by["paper"].to_dict(), allow_nan=False)  # still valid JSON


def test_offload_table_with_a_failed_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = edgealloc.load_problem(
        {
            "family": "offload-server",
            "points": [1500, 1200],
            "compute_rate": [3e5, 1.2e5],
            "uplink_rate": [2e3, 5e2],
            "server_rate": 1.5e6,
        }
    )
    real = compare.solve

    def flaky(p: Any, scheme: str, **kw: Any) -> Any:
        if scheme == "paper":
            raise SolverError("diverged")
        return real(p, scheme, **kw)

    monkeypatch.setattr(compare, "solve", flaky)
    results = demo.solve_all(problem)
    rows = {row["scheme"]: row for row in demo.comparison_rows(results)}
    assert math.isnan(rows["paper"]["speedup"])
    assert rows["none"]["speedup"] == 1.0
    assert rows["optimal"]["speedup"] == pytest.approx(
        problem.no_offload_time / rows["optimal"]["objective"]
    )
    buf = io.StringIO()
    Console(file=buf, width=140).print(demo.comparison_table(results))
    text = buf.getvalue()
    assert "iteration time (s)" in text and "cycle time" not in text
    assert "failed" in text
