"""Tests of edgealloc.experiments: sweep runner, results store, registry, MEL reproductions."""

from __future__ import annotations

import ast
import csv
import doctest
import itertools
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import pytest

import edgealloc.experiments._template as template_mod
import edgealloc.experiments.runner as runner_mod
from edgealloc.errors import ValidationError
from edgealloc.experiments import EXPERIMENTS, Experiment, ExperimentOutput, run_experiment
from edgealloc.experiments import mel_async_allocation as async_exp
from edgealloc.experiments import mel_local_updates as sync_exp
from edgealloc.experiments._template import Figure, Table
from edgealloc.experiments.runner import load_store, run_sweep, task_key

EXPERIMENTS_DIR = Path(template_mod.__file__).parent


# ---------------------------------------------------------------------------
# Task functions (module level, so that worker processes can unpickle them)
# ---------------------------------------------------------------------------
def _record_call(task: dict[str, Any]) -> dict[str, Any]:
    """Leave one file per call in task["dir"], return a value computed from the task."""
    marker = Path(task["dir"]) / f"call-{task['i']}-{os.getpid()}-{os.urandom(4).hex()}"
    marker.write_text("x")
    return {"i": task["i"], "square": task["i"] ** 2, "tag": [task["i"], "t"]}


def _fail_on_three(task: dict[str, Any]) -> dict[str, Any]:
    if task["i"] == 3:
        raise RuntimeError("boom")
    return _record_call(task)


def _not_json(task: dict[str, Any]) -> dict[str, Any]:
    return {"x": object()}


def _calls(directory: Path) -> dict[int, int]:
    counts: dict[int, int] = {}
    for f in directory.glob("call-*"):
        i = int(f.name.split("-")[1])
        counts[i] = counts.get(i, 0) + 1
    return counts


def _tasks(directory: Path, n: int) -> list[dict[str, Any]]:
    # Deliberately not sorted by i, so "task order" is not "numeric order".
    order = [(7 * j) % n for j in range(n)]
    return [{"i": i, "dir": str(directory)} for i in order]


# ---------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------
def test_runner_doctests() -> None:
    result = doctest.testmod(runner_mod)
    assert result.attempted > 0
    assert result.failed == 0


def test_task_key_is_stable_and_order_free() -> None:
    a = {"x": 1, "y": [1, 2], "z": {"b": 1.5, "a": None}}
    b = {"z": {"a": None, "b": 1.5}, "y": [1, 2], "x": 1}
    assert task_key(a) == task_key(b)
    assert task_key(a) != task_key({**a, "x": 2})
    with pytest.raises(ValidationError, match="task"):
        task_key({"x": object()})


@pytest.mark.parametrize("workers", [1, 2])
def test_results_come_back_in_task_order(tmp_path: Path, workers: int) -> None:
    tasks = _tasks(tmp_path, 10)
    out = run_sweep(
        _record_call, tasks, store=None, workers=workers, progress=False, description="t"
    )
    assert [r["i"] for r in out] == [t["i"] for t in tasks]
    assert [r["square"] for r in out] == [t["i"] ** 2 for t in tasks]
    # JSON round trip: tuples/lists come back as lists either way
    assert out[0]["tag"] == [tasks[0]["i"], "t"]


def test_workers_one_and_two_give_identical_results(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = run_sweep(
        _record_call,
        _tasks(tmp_path / "a", 9),
        store=None,
        workers=1,
        progress=False,
        description="t",
    )
    two = run_sweep(
        _record_call,
        _tasks(tmp_path / "b", 9),
        store=None,
        workers=2,
        progress=False,
        description="t",
    )
    assert one == two


def test_store_resumes_an_interrupted_sweep(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    store = tmp_path / "store.jsonl"
    tasks = _tasks(calls, 12)
    first = run_sweep(
        _record_call, tasks[:5], store=store, workers=2, progress=False, description="t"
    )
    assert sorted(_calls(calls)) == sorted(t["i"] for t in tasks[:5])
    assert len(load_store(store)) == 5
    # Simulate a kill in the middle of writing the next line.
    with store.open("a") as fh:
        fh.write('{"key": "deadbeef", "task": {"i"')
    full = run_sweep(_record_call, tasks, store=store, workers=2, progress=False, description="t")
    counts = _calls(calls)
    assert counts == {t["i"]: 1 for t in tasks}, "each task must run exactly once overall"
    assert full[:5] == first
    assert [r["i"] for r in full] == [t["i"] for t in tasks]
    # A third run computes nothing and returns the same results.
    again = run_sweep(_record_call, tasks, store=store, workers=1, progress=False, description="t")
    assert again == full
    assert _calls(calls) == counts
    lines = [json.loads(x) for x in store.read_text().splitlines()[:5]]
    assert {x["key"] for x in lines} == {task_key(t) for t in tasks[:5]}


def test_duplicate_tasks_run_once(tmp_path: Path) -> None:
    task = {"i": 4, "dir": str(tmp_path)}
    out = run_sweep(
        _record_call,
        [task, dict(task), task],
        store=None,
        workers=1,
        progress=False,
        description="t",
    )
    assert out == [out[0]] * 3
    assert _calls(tmp_path) == {4: 1}


def test_failure_propagates_and_keeps_finished_tasks(tmp_path: Path) -> None:
    store = tmp_path / "s.jsonl"
    tasks = [{"i": i, "dir": str(tmp_path)} for i in range(6)]
    with pytest.raises(RuntimeError, match="boom"):
        run_sweep(_fail_on_three, tasks, store=store, workers=1, progress=False, description="t")
    assert len(load_store(store)) == 3  # tasks 0, 1, 2 finished before the failure
    out = run_sweep(_record_call, tasks, store=store, workers=1, progress=False, description="t")
    assert [r["i"] for r in out] == list(range(6))
    assert _calls(tmp_path) == {i: 1 for i in range(6)}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"backend": "dask"}, "backend"),
        ({"workers": 0}, "workers"),
        ({"workers": 1.5}, "workers"),
    ],
)
def test_runner_rejects_bad_options(tmp_path: Path, kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"store": None, "workers": 1, "progress": False, "description": "t"}
    args.update(kwargs)
    with pytest.raises(ValidationError) as info:
        run_sweep(_record_call, [{"i": 1, "dir": str(tmp_path)}], **args)
    assert info.value.field == field


def test_non_json_result_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="result"):
        run_sweep(_not_json, [{"i": 1}], store=None, workers=1, progress=False, description="t")


# ---------------------------------------------------------------------------
# The template
# ---------------------------------------------------------------------------
def test_template_doctests() -> None:
    result = doctest.testmod(template_mod)
    assert result.attempted > 0
    assert result.failed == 0


def _square_rows(cfg, tasks, results) -> dict[str, Any]:
    return {"rows": [{**t, **r} for t, r in zip(tasks, results, strict=True)]}


def _draw_marker(cfg, data, path: Path) -> None:
    path.write_bytes(b"figure")


def _toy(**changes: Any) -> Experiment:
    parts: dict[str, Any] = {
        "name": "toy",
        "title": "Squares",
        "description": "x squared",
        "default_seeds": 4,
        "quick_seeds": 2,
        "tasks": lambda cfg: [{"x": s, "k": cfg.options["k"]} for s in range(cfg.seeds)],
        "worker": runner_mod._square,
        "analyse": _square_rows,
        "tables": (Table("", ("x", "y"), "rows"), Table("-k", ("k", "x"), "rows")),
        "figures": (Figure("-fig", _draw_marker),),
        "summary": lambda cfg, data: [{"n": len(data["rows"]), "given": cfg.seeds_given}],
        "notes": lambda cfg, data, sweep: [f"{sweep.instances} tasks"],
        "options": {"k": 1},
    }
    parts.update(changes)
    return Experiment(**parts)


def test_template_run_writes_figures_tables_store_in_order(tmp_path: Path) -> None:
    out = _toy().run(tmp_path, workers=1, progress=False, k=7)
    assert [p.name for p in out.files] == [
        "toy-fig.png",
        "toy.csv",
        "toy-k.csv",
        "toy-store.jsonl",
        "toy-manifest.json",
    ]
    assert (tmp_path / "toy-fig.png").read_bytes() == b"figure"
    assert (tmp_path / "toy.csv").read_text().splitlines() == ["x,y", "0,0", "1,1", "2,4", "3,9"]
    assert (tmp_path / "toy-k.csv").read_text().splitlines()[1:] == ["7,0", "7,1", "7,2", "7,3"]
    assert out.summary == [{"n": 4, "given": False}] and out.notes == ["4 tasks"]
    quick = _toy().run(tmp_path / "q", quick=True, seeds=3, workers=1, progress=False)
    assert quick.summary == [{"n": 3, "given": True}]  # explicit seeds win over quick_seeds


def test_template_checks_options_before_anything_runs(tmp_path: Path) -> None:
    def prepare(cfg) -> dict[str, Any]:
        if cfg.options["k"] < 0:
            raise ValidationError("k", "must be >= 0")
        return {"k": cfg.options["k"] * 10}

    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        _toy().run(tmp_path / "a", workers=1, progress=False, bogus=1)
    with pytest.raises(ValidationError, match="k"):
        _toy(prepare=prepare).run(tmp_path / "b", workers=1, progress=False, k=-1)
    assert not any(tmp_path.iterdir())  # refused before the output folder was made
    _toy(prepare=prepare).run(tmp_path / "c", workers=1, progress=False, k=2)
    assert (tmp_path / "c" / "toy-k.csv").read_text().splitlines()[1] == "20,0"


def _sources() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(EXPERIMENTS_DIR.glob("*.py"))}


def test_experiments_never_import_each_other() -> None:
    """Experiment modules share code through the private modules only."""
    experiments = {e.name.replace("-", "_") for e in EXPERIMENTS.values()}
    assert experiments <= {p.stem for p in EXPERIMENTS_DIR.glob("*.py")}
    for path in EXPERIMENTS_DIR.glob("*.py"):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                targets = {node.module} if node.module else {a.name for a in node.names}
                assert not targets & experiments, (path.name, node.lineno)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "edgealloc.experiments."
            ):
                assert node.module.rsplit(".", 1)[1] not in experiments, (path.name, node.lineno)


def test_experiments_take_scheme_colours_from_the_palette() -> None:
    """No experiment module gives a scheme a colour of its own (edgealloc._style has them)."""
    own = re.compile(
        r"""["'](optimal|paper|equal|relaxed|none)["']\s*:\s*"""
        r"""(\{[^}]*["']colou?r["']|["']#[0-9a-fA-F]{6}["'])"""
    )
    assert own.search('"paper": {"color": "#2ca02c", "marker": "x"}')  # what it looks for
    for name, text in _sources().items():
        assert not own.search(text), name


def test_a_scheme_the_palette_does_not_know_never_looks_like_one_it_knows() -> None:
    """feel-table2 drew individual learning in optimal's blue and model-based FEEL in
    paper's orange: the fallback colours began with those two."""
    from edgealloc._style import FALLBACK_COLORS, SCHEME_STYLE, scheme_color

    known = {style["color"].lower() for style in SCHEME_STYLE.values()}
    unknown = [scheme_color(f"scheme-{i}", i) for i in range(len(FALLBACK_COLORS))]
    assert len(set(unknown)) == len(unknown)
    assert not {c.lower() for c in unknown} & known


def test_experiments_use_the_status_vocabulary() -> None:
    """Statuses only through edgealloc.result.Status, never as string literals."""
    literal = re.compile(r"""["'](error|diverged)["']|\(["']optimal["'],\s*["']feasible["']\)""")
    assert literal.search('r.get("status") not in ("optimal", "feasible")')
    for name, text in _sources().items():
        assert not literal.search(text), name


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------
def test_registry_and_unknown_name(tmp_path: Path) -> None:
    assert {"mel-local-updates", "mel-async-allocation"} <= set(EXPERIMENTS)
    for name, exp in EXPERIMENTS.items():
        assert isinstance(exp, Experiment)
        assert exp.name == name and exp.title and exp.description and callable(exp.run)
    with pytest.raises(ValidationError) as info:
        run_experiment("no-such-thing", tmp_path)
    assert info.value.field == "experiment"
    assert "mel-local-updates" in str(info.value) and "mel-async-allocation" in str(info.value)
    for bad in ({"seeds": 0}, {"workers": -1}, {"seeds": True}):
        with pytest.raises(ValidationError):
            run_experiment("mel-local-updates", tmp_path, **bad)


# ---------------------------------------------------------------------------
# The reproductions, in quick mode
# ---------------------------------------------------------------------------
def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _num(cell: str) -> float:
    return float(cell) if cell != "" else math.nan


@pytest.fixture(scope="module")
def sync_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExperimentOutput]:
    out = tmp_path_factory.mktemp("sync")
    return out, run_experiment("mel-local-updates", out, quick=True, workers=2, progress=False)


@pytest.fixture(scope="module")
def async_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExperimentOutput]:
    out = tmp_path_factory.mktemp("async")
    return out, run_experiment(
        "mel-async-allocation", out, quick=True, seeds=1, workers=2, progress=False
    )


def _check_files(out: Path, res: ExperimentOutput, name: str) -> None:
    png = out / f"{name}.png"
    assert png in res.files and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # a real figure, not an empty canvas
    assert all(f.exists() for f in res.files)
    assert res.summary and len({tuple(r) for r in res.summary}) == 1  # same keys in every row
    assert res.notes


def _dominance(rows: list[dict[str, str]], point: tuple[str, ...], value: str) -> int:
    """Assert optimal >= paper and >= equal wherever both have a value; return #comparisons."""
    by: dict[tuple, dict[str, float]] = {}
    for r in rows:
        by.setdefault(tuple(r[k] for k in point), {})[r["scheme"]] = _num(r[value])
    n = 0
    for key, vals in by.items():
        for other in ("paper", "equal"):
            if other in vals and math.isfinite(vals[other]):
                assert math.isfinite(vals["optimal"]), (key, other)
                assert vals["optimal"] >= vals[other] - 1e-9, (key, other, vals)
                n += 1
    return n


def test_sync_reproduction_files_and_columns(sync_run) -> None:
    out, res = sync_run
    _check_files(out, res, "mel-local-updates")
    cols, rows = _read_csv(out / "mel-local-updates.csv")
    assert (
        ",".join(cols)
        == "preset,panel,K,T,scheme,seeds,solvable,ok,infeasible,failed,mean,std,min,max"
    )
    scols, srows = _read_csv(out / "mel-local-updates-seeds.csv")
    assert ",".join(scols) == "preset,panel,K,T,scheme,seed,status,tau"
    assert {r["preset"] for r in rows} == set(sync_exp.PRESETS)
    assert {r["scheme"] for r in rows} == set(sync_exp.SCHEMES)
    assert {r["seed"] for r in srows} == {"0", "1", "2"}  # quick: 3 seeds
    # every (preset, panel, K, T) has 3 seeds x 4 schemes
    assert len(srows) == 3 * len(rows)
    # the paper's reported points are on the grid
    for k, t in sync_exp.PAPER_POINTS:
        assert any(int(r["K"]) == k and float(r["T"]) == t for r in rows)


def test_sync_reproduction_orders_the_schemes(sync_run) -> None:
    out, _ = sync_run
    _, srows = _read_csv(out / "mel-local-updates-seeds.csv")
    n = _dominance(srows, ("preset", "panel", "K", "T", "seed"), "tau")
    assert n > 50
    _, rows = _read_csv(out / "mel-local-updates.csv")
    assert _dominance(rows, ("preset", "panel", "K", "T"), "mean") > 10
    # the continuous relaxation bounds the integer optimum from above, seed by seed
    by = {}
    for r in srows:
        by.setdefault((r["preset"], r["panel"], r["K"], r["T"], r["seed"]), {})[r["scheme"]] = r
    for key, s in by.items():
        if s["optimal"]["tau"]:
            assert float(s["relaxed"]["tau"]) >= float(s["optimal"]["tau"]) - 1e-9, key
            assert float(s["optimal"]["tau"]) == int(float(s["optimal"]["tau"]))


def test_sync_equal_allocation_gap_is_counted(sync_run) -> None:
    # K = 2 under mel-sync: equal allocation puts d/2 = 30000 samples on the Raspberry Pi
    # (0.7 GHz), 30000 * 1,123,736 / 0.7e9 = 48 s of computing for one iteration > T = 30 s.
    out, _ = sync_run
    _, rows = _read_csv(out / "mel-local-updates.csv")
    row = next(
        r
        for r in rows
        if r["preset"] == "mel-sync"
        and r["panel"] == "K"
        and r["K"] == "2"
        and float(r["T"]) == 30
        and r["scheme"] == "equal"
    )
    assert row["infeasible"] == row["seeds"] == "3"
    assert row["ok"] == "0" and row["mean"] == ""
    opt = next(
        r
        for r in rows
        if r["preset"] == "mel-sync"
        and r["panel"] == "K"
        and r["K"] == "2"
        and float(r["T"]) == 30
        and r["scheme"] == "optimal"
    )
    assert opt["ok"] == "3" and float(opt["mean"]) >= 1


def test_sync_rerun_uses_the_store(sync_run) -> None:
    out, first = sync_run
    again = run_experiment("mel-local-updates", out, quick=True, workers=1, progress=False)
    assert "72 instances" in first.notes[0] and "0 loaded" in first.notes[0]
    assert "72 loaded from the store" in again.notes[0]
    assert again.summary == first.summary


def test_async_reproduction(async_run) -> None:
    out, res = async_run
    _check_files(out, res, "mel-async-allocation")
    cols, rows = _read_csv(out / "mel-async-allocation.csv")
    assert ",".join(cols) == "E,T,c,scheme,seeds,solvable,ok,infeasible,failed,mean,std,min,max"
    scols, srows = _read_csv(out / "mel-async-allocation-seeds.csv")
    assert ",".join(scols) == "E,T,c,scheme,seed,status,mean_tau"
    assert {float(r["E"]) for r in rows} == {10.0, 20.0, 30.0}
    assert {r["scheme"] for r in rows if int(r["c"]) != async_exp.COMPARE_C} == {"optimal"}
    assert {r["scheme"] for r in rows if int(r["c"]) == async_exp.COMPARE_C} == {
        "optimal",
        "paper",
        "equal",
    }
    assert _dominance(srows, ("E", "T", "c", "seed"), "mean_tau") > 10
    # a looser staleness cap never lowers the exact optimum (same instance, larger feasible set)
    by: dict[tuple, dict[int, float]] = {}
    for r in srows:
        if r["scheme"] == "optimal":
            by.setdefault((r["E"], r["T"], r["seed"]), {})[int(r["c"])] = _num(r["mean_tau"])
    for key, vals in by.items():
        cs = sorted(vals)
        for a, b in itertools.pairwise(cs):
            if math.isfinite(vals[a]):
                assert vals[b] >= vals[a] - 1e-9, key
