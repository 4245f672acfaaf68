"""Tests of the ``edgealloc`` command line: every command, the JSON contract, exit codes."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import edgealloc
import edgealloc.compare
import edgealloc.demo
import edgealloc.mel.present
import edgealloc.offload.present
from edgealloc.cli import app
from edgealloc.errors import SolverError
from edgealloc.result import Result, Status
from edgealloc.scenarios import PRESETS, preset_text

# The docs/problem-files.md contract: every result has these, `mel` adds the rest.
COMMON_FIELDS = {"family", "scheme", "status", "objective", "bound", "message", "solve_seconds"}
MEL_FIELDS = {"tau", "samples", "times", "relaxed_bound"}

BASE: dict[str, Any] = {
    "family": "mel",
    "deadline": 10.0,
    "total_samples": 100,
    "c2": [0.01, 0.02],
    "c1": [0.001, 0.002],
    "c0": [0.5, 0.25],
}


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line(text: str) -> bool:
    return len(text.strip().splitlines()) == 1


def write(tmp_path: Path, name: str, content: Any) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


# ---------------------------------------------------------------------------
# version
# ---------------------------------------------------------------------------
def test_version() -> None:
    res = invoke("--version")
    assert res.exit_code == 0
    assert res.stdout.strip() == f"edgealloc {edgealloc.__version__}"


def test_python_m_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edgealloc", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"edgealloc {edgealloc.__version__}"


def test_no_arguments_shows_help() -> None:
    res = invoke()
    assert "solve" in res.output and "compile" in res.output
    assert "Traceback" not in res.output


# ---------------------------------------------------------------------------
# solve: human output and the JSON contract
# ---------------------------------------------------------------------------
def test_solve_preset_summary_and_device_table() -> None:
    res = invoke("solve", "mel-sync")
    assert res.exit_code == 0, res.output
    ref = edgealloc.solve("mel-sync")
    out = res.stdout
    for word in ("family", "scheme", "status", "objective", "relaxed bound", "cycle time"):
        assert word in out
    assert "optimal" in out
    assert "device" in out and "class" in out and "cpu (GHz)" in out
    assert "laptop" in out and "raspberry-pi" in out
    assert f"{int(ref.objective)}" in out
    assert "\x1b[" not in res.output  # not a terminal: no ANSI codes


def test_solve_many_devices_hides_middle_rows() -> None:
    k = 60
    res = invoke("solve", "mel-sync", "--set", f"devices={k}", "--set", "T=60")
    assert res.exit_code == 0, res.output
    rows = {int(m) for m in re.findall(r"^│\s+(\d+) │", res.stdout, flags=re.M)}
    assert rows == set(range(10)) | set(range(k - 10, k))
    assert f"{k - 20} devices hidden" in res.stdout


def test_solve_json_sync_contract() -> None:
    res = invoke("solve", "mel-sync", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)  # stdout is exactly one JSON document
    assert doc.keys() >= COMMON_FIELDS | MEL_FIELDS
    assert "energies" not in doc
    problem = edgealloc.load_problem("mel-sync")
    assert doc["family"] == "mel" and doc["scheme"] == "optimal" and doc["status"] == "optimal"
    assert len(doc["tau"]) == len(doc["samples"]) == len(doc["times"]) == problem.n_devices
    assert sum(doc["samples"]) == problem.total_samples
    assert max(doc["times"]) <= problem.deadline * (1 + 1e-9)
    # The CLI prints exactly what the library's Result.to_dict() gives.
    ref = edgealloc.solve(problem).to_dict()
    for key in ("tau", "samples", "objective", "bound", "relaxed_bound"):
        assert doc[key] == ref[key]


def test_solve_json_async_has_energies() -> None:
    res = invoke("solve", "mel-async", "--json", "--scheme", "paper")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc.keys() >= COMMON_FIELDS | MEL_FIELDS | {"energies"}
    assert doc["scheme"] == "paper"
    problem = edgealloc.load_problem("mel-async")
    assert np.all(np.asarray(doc["energies"]) <= problem.energy.budget * (1 + 1e-9))


def test_solve_json_subprocess_is_clean() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edgealloc", "solve", "mel-sync", "--json", "--set", "devices=4"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout
    assert json.loads(proc.stdout)["status"] == "optimal"


def test_solve_all_json_compares_every_scheme() -> None:
    res = invoke("solve", "mel-async", "--scheme", "all", "--json")
    assert res.exit_code == 0, res.output
    docs = json.loads(res.stdout)
    assert [d["scheme"] for d in docs] == edgealloc.schemes("mel")
    by = {d["scheme"]: d for d in docs}
    for d in docs:
        assert d.keys() >= COMMON_FIELDS
    best = by["optimal"]["objective"]
    for scheme in ("paper", "equal"):
        assert by[scheme]["objective"] <= best + 1e-12
    assert by["relaxed"]["objective"] >= best - 1e-9  # continuous: an upper bound


def test_solve_all_table() -> None:
    res = invoke("solve", "mel-sync", "--scheme", "all")
    assert res.exit_code == 0, res.output
    for scheme in edgealloc.schemes("mel"):
        assert scheme in res.stdout
    assert "gap to optimal" in res.stdout


def test_compile_then_solve_canonical_file(tmp_path: Path) -> None:
    path = tmp_path / "problem.json"
    res = invoke("compile", "mel-sync", "--set", "devices=6", "--output", path)
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    doc = json.loads(path.read_text())
    assert doc["family"] == "mel" and len(doc["c2"]) == 6
    direct = json.loads(invoke("solve", "mel-sync", "--set", "devices=6", "--json").stdout)
    from_file = json.loads(invoke("solve", path, "--json").stdout)
    assert from_file["tau"] == direct["tau"] and from_file["samples"] == direct["samples"]


def test_compile_yaml_round_trips(tmp_path: Path) -> None:
    res = invoke("compile", "mel-async", "--set", "devices=5", "--format", "yaml")
    assert res.exit_code == 0, res.output
    doc = yaml.safe_load(res.stdout)
    assert doc["family"] == "mel" and len(doc["energy"]["budget"]) == 5
    again = edgealloc.load_problem(doc)
    assert again == edgealloc.load_problem("mel-async", overrides={"devices": 5})


def test_compile_prints_canonical_json() -> None:
    res = invoke("compile", "mel-sync")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == json.loads(edgealloc.load_problem("mel-sync").to_json())


def test_set_on_canonical_file(tmp_path: Path) -> None:
    path = write(tmp_path, "p.json", BASE)
    res = invoke("solve", path, "--set", "deadline=20", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert max(doc["times"]) <= 20 * (1 + 1e-9)
    assert max(doc["times"]) > 10  # the larger deadline is used


# ---------------------------------------------------------------------------
# presets
# ---------------------------------------------------------------------------
def test_presets_list() -> None:
    res = invoke("presets")
    assert res.exit_code == 0, res.output
    for name in PRESETS:
        assert name in res.stdout
        assert PRESETS[name]()["description"][:30] in res.stdout


def test_presets_show_text() -> None:
    res = invoke("presets", "mel-async")
    assert res.exit_code == 0, res.output
    assert res.stdout == preset_text("mel-async")
    assert res.stdout.lstrip().startswith("#")  # comments kept


# ---------------------------------------------------------------------------
# Bad input: exit 2, one line, no traceback
# ---------------------------------------------------------------------------
def _bad_cases(tmp_path: Path) -> list[tuple[list[str], str]]:
    nan_doc = json.dumps({**BASE, "c2": [float("nan"), 0.02]})  # json writes a NaN literal
    return [
        (["solve", tmp_path / "missing.json"], "missing.json: no such file"),
        (["solve", write(tmp_path, "bad.json", '{"family": "mel",')], "bad.json: not valid json"),
        (["solve", write(tmp_path, "bad.yaml", "a: [1,\n b: :")], "bad.yaml: not valid yaml"),
        (["solve", write(tmp_path, "extra.json", {**BASE, "speed": 1})], "speed: unknown field"),
        (["solve", write(tmp_path, "neg.json", {**BASE, "c1": [-1, 0.1]})], "c1[0]: must be >= 0"),
        (["solve", write(tmp_path, "len.json", {**BASE, "c0": [0.5]})], "c0: has 1 entries"),
        (["solve", write(tmp_path, "nan.json", nan_doc)], "c2[0]: must be finite"),
        (["solve", "no-such-preset"], "no-such-preset: no such file or preset"),
        (["compile", "no-such-preset"], "no-such-preset: no such file or preset"),
        (["presets", "no-such-preset"], "preset: unknown preset"),
        (["solve", "mel-sync", "--scheme", "fastest"], "scheme: unknown scheme 'fastest'"),
        (["solve", "mel-sync", "--set", "devices"], "--set: expected KEY=VALUE"),
        (["solve", "mel-sync", "--set", "=3"], "--set: expected KEY=VALUE"),
        (["solve", "mel-sync", "--set", "devices=many"], "devices.count"),
        (["solve", "mel-sync", "--set", "warp=9"], "warp: unknown field"),
        (["solve", write(tmp_path, "p.json", BASE), "--set", "a.b=1"], "a.b: nested overrides"),
        (["compile", "mel-sync", "--format", "xml"], "--format: must be json or yaml"),
        (["solve", tmp_path], "is a directory"),
    ]


def test_bad_input_exit_2_one_line(tmp_path: Path) -> None:
    for args, expected in _bad_cases(tmp_path):
        res = invoke(*args)
        assert res.exit_code == 2, (args, res.output)
        assert "Traceback" not in res.output, args
        assert res.stdout == "", args
        assert one_line(res.stderr), (args, res.stderr)
        assert res.stderr.startswith("error: "), (args, res.stderr)
        assert expected in res.stderr, (args, res.stderr)


# ---------------------------------------------------------------------------
# Infeasible: exit 3 with the smallest deadline, and the suggestion works
# ---------------------------------------------------------------------------
def _brute_min_deadline(doc: dict[str, Any]) -> float:
    """Smallest max_k t_k at tau = 1 over all integer splits (two devices, d_k >= 1)."""
    c2, c1, c0 = (np.asarray(doc[k], float) for k in ("c2", "c1", "c0"))
    d = doc["total_samples"]
    d1 = np.arange(1, d)
    t1 = (c2[0] + c1[0]) * d1 + c0[0]
    t2 = (c2[1] + c1[1]) * (d - d1) + c0[1]
    return float(np.min(np.maximum(t1, t2)))


def test_infeasible_exit_3_names_min_deadline(tmp_path: Path) -> None:
    doc = {**BASE, "deadline": 0.5}
    t_min = _brute_min_deadline(doc)
    assert t_min > doc["deadline"]
    path = write(tmp_path, "tight.json", doc)
    res = invoke("solve", path)
    assert res.exit_code == 3, res.output
    assert "Traceback" not in res.output
    assert one_line(res.stderr)
    assert "infeasible" in res.stderr
    said = float(re.search(r"smallest deadline[^0-9]*([0-9.eE+-]+) s", res.stderr).group(1))
    assert math.isclose(said, t_min, rel_tol=1e-5)
    # The suggested override is itself feasible.
    suggested = re.search(r"--set deadline=([0-9.eE+-]+)", res.stderr).group(1)
    assert float(suggested) >= t_min
    fixed = invoke("solve", path, "--set", f"deadline={suggested}", "--json")
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.stdout)["status"] == "optimal"


def test_infeasible_json_still_prints_result(tmp_path: Path) -> None:
    path = write(tmp_path, "tight.json", {**BASE, "deadline": 0.5})
    res = invoke("solve", path, "--json")
    assert res.exit_code == 3
    doc = json.loads(res.stdout)
    assert doc["status"] == "infeasible" and doc["objective"] is None
    assert doc.keys() >= COMMON_FIELDS
    assert "min_deadline" in doc


def test_infeasible_preset_override() -> None:
    res = invoke("solve", "mel-sync", "--set", "T=0.5", "--scheme", "all")
    assert res.exit_code == 3
    assert "smallest deadline" in res.stderr and one_line(res.stderr)


# ---------------------------------------------------------------------------
# Solver failures and internal errors
# ---------------------------------------------------------------------------
def _failed_result(problem: Any, scheme: str, **_: Any) -> Result:
    return Result(
        family="mel",
        scheme=scheme,
        status=Status.FAILED,
        objective=math.nan,
        bound=math.nan,
        message="rounding broke the deadline",
        solve_seconds=0.0,
    )


def test_failed_status_exit_1_result_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edgealloc.compare, "solve", _failed_result)
    res = invoke("solve", "mel-sync", "--json", "--scheme", "paper")
    assert res.exit_code == 1
    assert json.loads(res.stdout)["status"] == "failed"
    assert one_line(res.stderr) and "rounding broke the deadline" in res.stderr
    human = invoke("solve", "mel-sync", "--scheme", "paper")
    assert human.exit_code == 1 and "failed" in human.stdout


def test_solver_error_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any, **__: Any) -> Result:
        raise SolverError("the search diverged")

    monkeypatch.setattr(edgealloc.compare, "solve", boom)
    res = invoke("solve", "mel-sync", "--json")
    assert res.exit_code == 1
    assert json.loads(res.stdout)["status"] == "failed"
    assert "the search diverged" in res.stderr and "Traceback" not in res.output


def test_internal_error_one_line_and_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any, **__: Any) -> Result:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(edgealloc.compare, "solve", boom)
    res = invoke("solve", "mel-sync")
    assert res.exit_code == 1
    assert one_line(res.stderr)
    assert res.stderr.startswith("internal error: RuntimeError: kaboom")
    assert "--debug" in res.stderr and "Traceback" not in res.output
    dbg = invoke("--debug", "solve", "mel-sync")
    assert dbg.exit_code == 1 and "Traceback" in dbg.stderr


# ---------------------------------------------------------------------------
# Nothing the user had is overwritten
# ---------------------------------------------------------------------------
def test_output_refuses_to_overwrite(tmp_path: Path) -> None:
    for command in (["solve", "mel-sync"], ["compile", "mel-sync"]):
        path = tmp_path / "keep.json"
        path.write_text("precious")
        res = invoke(*command, "--output", path)
        assert res.exit_code == 2 and one_line(res.stderr)
        assert "already exists" in res.stderr and "--force" in res.stderr
        assert path.read_text() == "precious"
        res = invoke(*command, "--output", path, "--force")
        assert res.exit_code == 0, res.output
        assert json.loads(path.read_text())["family"] == "mel"


def test_output_into_missing_directory(tmp_path: Path) -> None:
    res = invoke("solve", "mel-sync", "--output", tmp_path / "nope" / "r.json")
    assert res.exit_code == 2 and "does not exist" in res.stderr


def test_solve_output_json_file(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    res = invoke("solve", "mel-async", "--output", path)
    assert res.exit_code == 0, res.output
    assert "energy (J)" in res.stdout  # human output on stdout, JSON in the file
    doc = json.loads(path.read_text())
    assert doc.keys() >= COMMON_FIELDS | MEL_FIELDS | {"energies"}


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------
def test_demo_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The figure itself is checked in test_demo.py; here a stub keeps the test fast.
    # The stub writes a file: the demo writes under a temporary name and renames it in.
    drawn: list[str] = []

    def stub(self, cases, path: Path) -> None:
        drawn.append(type(self).__name__)
        Path(path).write_bytes(b"png")

    figures = {}
    for name in edgealloc.demo.DEMO_PRESETS:
        presenter = edgealloc.registry.get_family(edgealloc.registry.preset_family(name)).presenter
        if presenter.figure is not None:
            monkeypatch.setattr(type(presenter), "plot", stub)
            figures.setdefault(presenter.figure[0], presenter.figure[1])
    out = tmp_path / "demo"
    res = invoke("demo", "--out", out)
    assert res.exit_code == 0, res.output
    assert len(drawn) == len(figures)  # one figure per key, drawn once
    assert sorted(p.name for p in out.glob("*.png")) == sorted(figures.values())
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left
    assert "demo.png" in res.stdout and "offload.png" in res.stdout
    assert "edgealloc solve" in res.stdout
    numbers = json.loads((out / "demo.json").read_text())
    assert set(numbers["presets"]) == set(edgealloc.demo.DEMO_PRESETS)
    assert {"mel-sync", "mel-async", "xr-server", "xr-d2d"} <= set(numbers["presets"])
    for family in ("mel", "offload-server", "offload-d2d"):
        for scheme in edgealloc.schemes(family):
            assert scheme in res.stdout
    (out / "demo.png").write_bytes(b"figure")
    before = (out / "demo.json").read_bytes()
    again = invoke("demo", "--out", out)
    assert again.exit_code == 2 and one_line(again.stderr) and "--force" in again.stderr
    assert (out / "demo.json").read_bytes() == before


def test_demo_refuses_a_file_as_directory(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    res = invoke("demo", "--out", path)
    assert res.exit_code == 2 and "not a directory" in res.stderr
    assert path.read_text() == "x"


# ---------------------------------------------------------------------------
# reproduce (against a fake experiments package)
# ---------------------------------------------------------------------------
@pytest.fixture
def fake_experiments(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    calls: dict[str, Any] = {}

    def run_experiment(name: str, out_dir: Path, **kwargs: Any) -> Any:
        calls.update(name=name, out_dir=Path(out_dir), **kwargs)
        fig = Path(out_dir) / f"{name}.png"
        fig.write_text("png")
        (Path(out_dir) / f"{name}-store.jsonl").write_text("{}\n")
        return types.SimpleNamespace(
            files=[fig],
            summary=[
                {"K": 10, "scheme": "optimal", "tau": 13.25},
                {"K": 20, "scheme": "equal", "tau": 6.0},
            ],
            notes=["a reading was taken"],
        )

    exp = types.SimpleNamespace(name="fig1", title="Figure one", description="tau against K")
    module = types.SimpleNamespace(EXPERIMENTS={"fig1": exp}, run_experiment=run_experiment)
    monkeypatch.setitem(sys.modules, "edgealloc.experiments", module)
    return calls


def test_reproduce_list(fake_experiments: dict[str, Any]) -> None:
    res = invoke("reproduce", "--list")
    assert res.exit_code == 0, res.output
    assert "fig1" in res.stdout and "Figure one" in res.stdout and "tau against K" in res.stdout


def test_reproduce_runs_and_prints_summary(
    fake_experiments: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "r"
    res = invoke("reproduce", "fig1", "--out", out, "--seeds", "3", "--workers", "2", "--quick")
    assert res.exit_code == 0, res.output
    assert fake_experiments["name"] == "fig1" and fake_experiments["out_dir"] == out
    assert fake_experiments["seeds"] == 3 and fake_experiments["workers"] == 2
    assert fake_experiments["quick"] is True
    assert "13.25" in res.stdout and "a reading was taken" in res.stdout
    assert "fig1.png" in res.stdout
    # The folder holds only this experiment's outputs: running again resumes from its store.
    again = invoke("reproduce", "fig1", "--out", out)
    assert again.exit_code == 0, again.output
    assert "resuming from" in again.stderr
    # A file of the user's in the folder is not ours to overwrite without --force.
    (out / "notes.txt").write_text("mine")
    refused = invoke("reproduce", "fig1", "--out", out)
    assert refused.exit_code == 2 and "--force" in refused.stderr and one_line(refused.stderr)
    assert invoke("reproduce", "fig1", "--out", out, "--force").exit_code == 0
    assert (out / "notes.txt").read_text() == "mine"


def test_reproduce_backend_option(fake_experiments: dict[str, Any], tmp_path: Path) -> None:
    res = invoke("reproduce", "fig1", "--out", tmp_path / "a", "--backend", "ray")
    assert res.exit_code == 0, res.output
    assert fake_experiments["backend"] == "ray"
    bad = invoke("reproduce", "fig1", "--out", tmp_path / "b", "--backend", "slurm")
    assert bad.exit_code == 2 and "--backend" in bad.stderr
    lonely = invoke("reproduce", "fig1", "--out", tmp_path / "c", "--ray-address", "x:1")
    assert lonely.exit_code == 2 and "--ray-address" in lonely.stderr


def test_reproduce_bad_input(fake_experiments: dict[str, Any], tmp_path: Path) -> None:
    for args, expected in (
        (["reproduce", "fig9"], "unknown experiment 'fig9'"),
        (["reproduce"], "NAME: missing"),
        (["reproduce", "fig1", "--out", tmp_path / "x", "--seeds", "0"], "--seeds: must be >= 1"),
    ):
        res = invoke(*args)
        assert res.exit_code == 2, (args, res.output)
        assert one_line(res.stderr) and expected in res.stderr
        assert "Traceback" not in res.output
    assert "name" not in fake_experiments  # nothing ran


def test_reproduce_without_experiments_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "edgealloc.experiments", None)  # import fails
    res = invoke("reproduce", "--list")
    assert res.exit_code == 1
    assert one_line(res.stderr) and "experiments package is not available" in res.stderr
