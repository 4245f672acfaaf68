"""Nothing a user has is lost: the output folder of a reproduction, its manifest and its writes.

A run replaces only files it wrote itself in the same run configuration
(``NAME-manifest.json`` records the configuration and the SHA-256 of every
file); everything is written under a temporary name and renamed into place;
the results store survives a torn last line; progress reaches a pipe.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import edgealloc._io as io_mod
import edgealloc.demo as demo
import edgealloc.experiments.runner as runner_mod
from edgealloc.cli import app
from edgealloc.errors import ValidationError
from edgealloc.experiments import EXPERIMENTS, run_experiment
from edgealloc.experiments._outputs import Outputs, config_changes, file_mode, run_config
from edgealloc.experiments._template import Experiment, Figure, Table
from edgealloc.experiments.runner import LineProgress, load_store, run_sweep


# ---------------------------------------------------------------------------
# A toy experiment (module-level worker for the sweep runner)
# ---------------------------------------------------------------------------
def _cube(task: dict[str, Any]) -> dict[str, Any]:
    return {"y": task["x"] ** 3}


def _rows(cfg, tasks, results) -> dict[str, Any]:
    return {"rows": [{**t, **r} for t, r in zip(tasks, results, strict=True)]}


def _draw(cfg, data, path: Path) -> None:
    path.write_bytes(b"figure of " + str(len(data["rows"])).encode())


def _toy(**changes: Any) -> Experiment:
    parts: dict[str, Any] = {
        "name": "toy",
        "title": "Cubes",
        "description": "x cubed",
        "default_seeds": 3,
        "quick_seeds": 2,
        "tasks": lambda cfg: [{"x": s, "k": cfg.options["k"]} for s in range(cfg.seeds)],
        "worker": _cube,
        "analyse": _rows,
        "tables": (Table("", ("x", "y"), "rows"), Table("-k", ("k", "x"), "rows")),
        "figures": (Figure("", _draw),),
        "options": {"k": 1},
    }
    parts.update(changes)
    return Experiment(**parts)


def _run(out: Path, **kwargs: Any):
    return _toy().run(out, workers=1, progress=False, **kwargs)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------
# The manifest
# ---------------------------------------------------------------------------
def test_manifest_records_the_configuration_and_every_file(tmp_path: Path) -> None:
    out = _run(tmp_path, seeds=3, k=5)
    assert [p.name for p in out.files] == [
        "toy.png",
        "toy.csv",
        "toy-k.csv",
        "toy-store.jsonl",
        "toy-manifest.json",
    ]
    doc = json.loads((tmp_path / "toy-manifest.json").read_text())
    assert doc["experiment"] == "toy" and doc["complete"] is True
    assert doc["config"] == run_config(3, False, {"k": 5})
    assert doc["config"]["edgealloc"] and doc["config"]["options"] == {"k": 5}
    assert doc["files"] == {n: _sha(tmp_path / n) for n in ("toy.png", "toy.csv", "toy-k.csv")}
    assert doc["replacing"] == {} and doc["store"] == "toy-store.jsonl"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files


def test_same_configuration_resumes_and_rewrites_its_own_files(tmp_path: Path) -> None:
    first = _run(tmp_path, seeds=3)
    before = _snapshot(tmp_path)
    again = _run(tmp_path, seeds=3)
    assert again.summary == first.summary
    assert _snapshot(tmp_path) == before  # same bytes, same hashes, the store untouched
    assert len(load_store(tmp_path / "toy-store.jsonl")) == 3


def test_other_settings_need_force_and_lose_nothing(tmp_path: Path) -> None:
    _run(tmp_path, seeds=3)
    before = _snapshot(tmp_path)
    with pytest.raises(ValidationError) as info:
        _run(tmp_path, seeds=2, k=4)
    err = info.value
    assert err.field == str(tmp_path / "toy-manifest.json")
    assert "seeds 3 -> 2" in err.problem and "options.k 1 -> 4" in err.problem
    assert "--force" in err.problem
    assert _snapshot(tmp_path) == before  # refused before anything was written
    forced = _run(tmp_path, seeds=2, k=4, force=True)
    assert (tmp_path / "toy-k.csv").read_text().splitlines()[1:] == ["4,0", "4,1"]
    doc = json.loads((tmp_path / "toy-manifest.json").read_text())
    assert doc["config"]["seeds"] == 2 and forced.files[-1].name == "toy-manifest.json"


def test_a_users_file_with_the_prefix_is_refused(tmp_path: Path) -> None:
    mine = tmp_path / "toy.csv"
    mine.write_text("my own numbers\n")
    with pytest.raises(ValidationError) as info:
        _run(tmp_path)
    assert info.value.field == str(mine) and "not written by toy" in info.value.problem
    assert mine.read_text() == "my own numbers\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.csv"]
    _run(tmp_path, force=True)
    assert mine.read_text().startswith("x,y")


def test_a_file_changed_since_it_was_written_is_the_users(tmp_path: Path) -> None:
    _run(tmp_path)
    table = tmp_path / "toy-k.csv"
    table.write_text(table.read_text() + "an edit of mine\n")
    with pytest.raises(ValidationError) as info:
        _run(tmp_path)
    assert info.value.field == str(table) and "changed since" in info.value.problem
    assert table.read_text().endswith("an edit of mine\n")


def test_files_without_the_prefix_are_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValidationError) as info:
        _run(tmp_path)
    assert info.value.field == str(tmp_path) and "notes.txt" in info.value.problem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    _run(tmp_path, force=True)  # --force writes beside it, and leaves it alone
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_manifest_that_does_not_parse_is_refused(tmp_path: Path) -> None:
    _run(tmp_path)
    manifest = tmp_path / "toy-manifest.json"
    manifest.write_text('{"experiment": "toy", "config"')
    with pytest.raises(ValidationError) as info:
        _run(tmp_path)
    assert info.value.field == str(manifest) and "--force" in info.value.problem
    manifest.write_text(json.dumps({"experiment": "other", "config": {}, "files": {}}))
    with pytest.raises(ValidationError, match="belongs to experiment 'other'"):
        _run(tmp_path)
    _run(tmp_path, force=True)
    assert json.loads(manifest.read_text())["experiment"] == "toy"


def test_a_store_without_manifest_is_resumed(tmp_path: Path) -> None:
    """A folder of an earlier version (or of a run killed early): the store only grows."""
    _run(tmp_path)
    for name in ("toy.png", "toy.csv", "toy-k.csv", "toy-manifest.json"):
        (tmp_path / name).unlink()
    again = _toy(notes=lambda cfg, data, sweep: [f"{sweep.reused} reused"]).run(
        tmp_path, workers=1, progress=False
    )
    assert again.notes == ["3 reused"]


def test_config_changes_names_each_setting() -> None:
    old = run_config(3, False, {"lr": 0.5, "presets": ("a", "b")})
    new = run_config(5, True, {"lr": None, "presets": ("a",)})
    assert config_changes(old, new) == [
        "options.lr 0.5 -> null",
        'options.presets ["a", "b"] -> ["a"]',
        "quick false -> true",
        "seeds 3 -> 5",
    ]


# ---------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------
def _half_then_fail(cfg, data, path: Path) -> None:
    path.write_bytes(b"\x89PNG half a fig")
    raise RuntimeError("killed while drawing")


def test_a_failed_figure_leaves_no_half_written_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="killed"):
        _toy(figures=(Figure("", _half_then_fail),)).run(tmp_path, workers=1, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy-manifest.json", "toy-store.jsonl"]
    assert json.loads((tmp_path / "toy-manifest.json").read_text())["complete"] is False
    out = _run(tmp_path)  # the re-run trusts nothing half-written and finishes
    assert (tmp_path / "toy.png").read_bytes() == b"figure of 3" and out.summary == []


def test_killed_between_manifest_and_rename_still_knows_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest names the new hash before the rename and keeps the old one until the end."""
    _run(tmp_path, seeds=3)
    old_table = (tmp_path / "toy-k.csv").read_bytes()
    replace = io_mod.os.replace

    def die_on_table(src: Any, dst: Any) -> None:
        if Path(dst).name == "toy-k.csv":
            raise KeyboardInterrupt  # the process is stopped right here
        replace(src, dst)

    monkeypatch.setattr(io_mod.os, "replace", die_on_table)
    with pytest.raises(KeyboardInterrupt):
        _toy(analyse=lambda cfg, t, r: {"rows": _rows(cfg, t, r)["rows"][::-1]}).run(
            tmp_path, seeds=3, workers=1, progress=False
        )
    monkeypatch.setattr(io_mod.os, "replace", replace)
    doc = json.loads((tmp_path / "toy-manifest.json").read_text())
    assert doc["complete"] is False and "toy-k.csv" in doc["replacing"]
    assert (tmp_path / "toy-k.csv").read_bytes() == old_table  # the old file, whole
    _run(tmp_path, seeds=3)  # recognised as its own: no refusal
    assert json.loads((tmp_path / "toy-manifest.json").read_text())["replacing"] == {}


def test_files_get_the_usual_mode_not_the_temporary_files_0600(tmp_path: Path) -> None:
    _run(tmp_path)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == dict.fromkeys(modes, file_mode()) and len(modes) == 5
    doc = demo.run_demo(tmp_path / "demo", presets=("xr-server",))
    for path in doc["files"].values():
        assert stat.S_IMODE(Path(path).stat().st_mode) == file_mode()


def test_write_csv_is_atomic(tmp_path: Path) -> None:
    from edgealloc.experiments._template import write_csv

    path = write_csv(tmp_path / "t.csv", [{"a": 1.5, "b": None}], ("a", "b"))
    assert path.read_text().splitlines() == ["a,b", "1.5,"]

    class Bad:
        def get(self, key: str) -> Any:
            raise RuntimeError("row broke")

    with pytest.raises(RuntimeError, match="row broke"):
        write_csv(path, [{"a": 2.0}, Bad()], ("a", "b"))  # type: ignore[list-item]
    assert path.read_text().splitlines() == ["a,b", "1.5,"]  # the old one, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


def test_outputs_check_reads_only(tmp_path: Path) -> None:
    guard = Outputs(
        "toy", tmp_path / "new", run_config(1, True, {}), [tmp_path / "new" / "toy.csv"]
    )
    guard.check()
    assert not (tmp_path / "new").exists()


# ---------------------------------------------------------------------------
# The results store: a torn last line
# ---------------------------------------------------------------------------
def test_store_with_a_torn_last_line_resumes(tmp_path: Path) -> None:
    _run(tmp_path, seeds=3)
    store = tmp_path / "toy-store.jsonl"
    lines = store.read_text().splitlines()
    # The run was killed while appending the third task's line.
    store.write_text("\n".join(lines[:2]) + "\n" + lines[2][: len(lines[2]) // 2])
    assert len(load_store(store)) == 2
    again = _toy(notes=lambda cfg, data, sweep: [f"{sweep.reused} reused"]).run(
        tmp_path, seeds=3, workers=1, progress=False
    )
    assert again.notes == ["2 reused"]  # only the torn task ran again
    done = load_store(store)
    assert len(done) == 3 and sorted(r["y"] for r in done.values()) == [0, 1, 8]
    text = store.read_text().splitlines()
    assert len(text) == 4 and json.loads(text[3])["result"]["y"] in (0, 1, 8)


# ---------------------------------------------------------------------------
# Progress where people read it
# ---------------------------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_line_progress_is_throttled_and_ends_with_a_line() -> None:
    clock, stream = _Clock(), io.StringIO()
    with LineProgress("exp", 40, 4, stream=stream, interval=5.0, clock=clock) as prog:
        for step in range(36):
            clock.now += 1.0
            prog.advance(None)
            assert step >= 0
    lines = stream.getvalue().splitlines()
    assert lines[0] == "exp: 4/40 instances (10%), 0 s"
    assert lines[1] == "exp: 9/40 instances (22%), 5 s"
    assert lines[-1] == "exp: 40/40 instances (100%), 36 s"
    assert len(lines) == 1 + 36 // 5 + 1  # start, every 5 s, the end


def test_run_sweep_prints_lines_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tasks = [{"x": i} for i in range(7)]
    run_sweep(_cube, tasks, store=None, workers=1, progress=True, description="cubes")
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "cubes: 0/7 instances (0%), 0 s"
    assert re.fullmatch(r"cubes: 7/7 instances \(100%\), \d+ s", err[-1])
    run_sweep(_cube, tasks, store=None, workers=1, progress=False, description="cubes")
    assert capsys.readouterr().err == ""


def invoke(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def test_reproduce_list_gives_durations_and_the_quick_form() -> None:
    res = invoke("reproduce", "--list")
    assert res.exit_code == 0, res.output
    for name, exp in EXPERIMENTS.items():
        assert exp.duration and exp.quick_duration, name
        assert f"edgealloc reproduce {name} --quick ({exp.quick_duration})" in res.stdout
        assert exp.duration in res.stdout


# ---------------------------------------------------------------------------
# The real command: two runs into one folder
# ---------------------------------------------------------------------------
def test_reproduce_twice_with_other_seeds_keeps_the_first_run(tmp_path: Path) -> None:
    out = tmp_path / "r"
    first = invoke("reproduce", "mel-local-updates", "--quick", "--seeds", "1", "-o", out)
    assert first.exit_code == 0, first.output
    # stderr is not a terminal here: progress came as lines, not silence
    assert re.search(r"mel-local-updates: 24/24 instances \(100%\), \d+ s", first.stderr)
    assert "mel-local-updates-manifest.json" in first.stdout
    before = _snapshot(out)
    second = invoke("reproduce", "mel-local-updates", "--quick", "--seeds", "2", "-o", out)
    assert second.exit_code == 2
    assert "seeds 1 -> 2" in second.stderr and "--force" in second.stderr
    assert len(second.stderr.strip().splitlines()) <= 2  # "resuming from" + the one error line
    assert _snapshot(out) == before
    # The user's own file with the experiment's prefix is not overwritten either.
    other = tmp_path / "mine"
    other.mkdir()
    (other / "mel-local-updates.csv").write_text("mine\n")
    refused = invoke("reproduce", "mel-local-updates", "--quick", "--seeds", "1", "-o", other)
    assert refused.exit_code == 2 and "mel-local-updates.csv" in refused.stderr
    assert (other / "mel-local-updates.csv").read_text() == "mine\n"
    # The Python API refuses the same, naming the path.
    with pytest.raises(ValidationError) as info:
        run_experiment("mel-local-updates", other, quick=True, seeds=1, progress=False)
    assert info.value.field == str(other / "mel-local-updates.csv")
    # --force replaces; the same settings again resume and rewrite only their own files.
    forced = invoke(
        "reproduce", "mel-local-updates", "--quick", "--seeds", "2", "-o", out, "--force"
    )
    assert forced.exit_code == 0, forced.output
    again = invoke("reproduce", "mel-local-updates", "--quick", "--seeds", "2", "-o", out)
    assert again.exit_code == 0, again.output
    assert "48 loaded from the store" in again.stdout


# ---------------------------------------------------------------------------
# The demo writes atomically
# ---------------------------------------------------------------------------
def test_demo_writes_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import edgealloc.offload.present as present

    def broken(cases: Any, path: Path) -> None:
        Path(path).write_bytes(b"\x89PNG half")
        raise RuntimeError("killed while drawing")

    monkeypatch.setattr(present, "_figure", broken)
    with pytest.raises(RuntimeError, match="killed"):
        demo.run_demo(tmp_path, presets=("xr-server",))
    assert not (tmp_path / "offload.png").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    monkeypatch.undo()
    doc = demo.run_demo(tmp_path, presets=("xr-server",), force=True)
    for path in doc["files"].values():
        assert Path(path).stat().st_size > 0
    assert json.loads((tmp_path / "demo.json").read_text()) == doc
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_runner_module_progress_interval_is_a_few_seconds() -> None:
    assert 1.0 <= runner_mod.LINE_INTERVAL_S <= 10.0
