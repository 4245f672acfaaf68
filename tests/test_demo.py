"""Tests of the demo (edgealloc.demo): files, numbers, tables, overwrite safety."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest
from rich.console import Console

import edgealloc
import edgealloc.demo as demo
from edgealloc.errors import SolverError, ValidationError
from edgealloc.result import Status

INTEGRAL = ("optimal", "paper", "equal")


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    out = tmp_path_factory.mktemp("demo") / "out"
    buf = io.StringIO()
    doc = demo.run_demo(out, console=Console(file=buf, width=140))
    return out, doc, buf.getvalue()


@pytest.mark.slow
def test_files_written(ran: tuple[Path, dict[str, Any], str]) -> None:
    out, doc, _ = ran
    names = {p.name for p in out.iterdir()}
    expected = {"demo.png", "demo.json"} | {f"{p}.problem.json" for p in demo.DEMO_PRESETS}
    assert names == expected  # nothing else is written
    png = out / "demo.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width, _ = matplotlib.image.imread(png).shape
    assert width > 1000 and height > 500
    assert json.loads((out / "demo.json").read_text()) == doc


@pytest.mark.slow
def test_optimal_beats_every_integral_scheme(ran: tuple[Path, dict[str, Any], str]) -> None:
    out, _, _ = ran
    numbers = json.loads((out / "demo.json").read_text())
    assert set(numbers["presets"]) == set(demo.DEMO_PRESETS)
    for name, entry in numbers["presets"].items():
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


@pytest.mark.slow
def test_problem_files_solve_to_the_same_optimum(ran: tuple[Path, dict[str, Any], str]) -> None:
    out, doc, _ = ran
    for name in demo.DEMO_PRESETS:
        problem = edgealloc.load_problem(out / f"{name}.problem.json")
        assert problem == edgealloc.load_problem(name)
        optimum = doc["presets"][name]["schemes"]["optimal"]["objective"]
        assert edgealloc.solve(problem).objective == optimum


@pytest.mark.slow
def test_tables_printed(ran: tuple[Path, dict[str, Any], str]) -> None:
    _, _, text = ran
    for name in demo.DEMO_PRESETS:
        assert name in text
    for scheme in edgealloc.schemes("mel"):
        assert scheme in text
    assert "gap to optimal" in text and "solve (ms)" in text


@pytest.mark.slow
def test_refuses_to_overwrite(ran: tuple[Path, dict[str, Any], str]) -> None:
    out, _, _ = ran
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(ValidationError, match="already exists"):
        demo.run_demo(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_out_dir_must_be_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "taken"
    path.write_text("mine")
    with pytest.raises(ValidationError, match="not a directory"):
        demo.run_demo(path)
    assert path.read_text() == "mine"


def test_gap_percent() -> None:
    assert demo.gap_percent(6.0, 12.0) == 50.0
    assert demo.gap_percent(12.0, 12.0) == 0.0
    assert demo.gap_percent(13.0, 12.0) < 0  # above the optimum: a relaxation
    assert math.isnan(demo.gap_percent(math.nan, 12.0))
    assert math.isnan(demo.gap_percent(3.0, 0.0))


def test_solve_all_turns_solver_errors_into_failed_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = edgealloc.load_problem("mel-sync", overrides={"devices": 4})
    real = demo.solve

    def flaky(p: Any, scheme: str, **kw: Any) -> Any:
        if scheme == "paper":
            raise SolverError("diverged")
        return real(p, scheme, **kw)

    monkeypatch.setattr(demo, "solve", flaky)
    results = demo.solve_all(problem)
    assert [r.scheme for r in results] == edgealloc.schemes("mel")
    by = {r.scheme: r for r in results}
    assert by["paper"].status is Status.FAILED and "diverged" in by["paper"].message
    assert by["optimal"].status is Status.OPTIMAL
    rows = {row["scheme"]: row for row in demo.comparison_rows(results)}
    assert math.isnan(rows["paper"]["objective"]) and math.isnan(rows["paper"]["gap_percent"])
    assert rows["optimal"]["gap_percent"] == 0.0
    json.dumps(by["paper"].to_dict(), allow_nan=False)  # still valid JSON
