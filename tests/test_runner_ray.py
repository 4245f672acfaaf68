"""Sweep runner: the Ray backend, backend selection, and a real kill-and-resume of the store.

The Ray tests run against local Ray instances (skipped when ``ray`` is not
importable; CI installs it). The kill test runs a sweep in a subprocess,
kills it with ``SIGKILL`` part-way through and checks that a re-run
finishes with the full, correct results without recomputing what the store
already held.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import edgealloc.experiments.runner as runner_mod
from edgealloc.errors import ValidationError
from edgealloc.experiments import run_experiment
from edgealloc.experiments.runner import load_store, run_sweep, sweep_backend, task_key

TESTS_DIR = Path(__file__).resolve().parent
SRC_DIR = TESTS_DIR.parent / "src"


# ---------------------------------------------------------------------------
# Task functions (module level: worker processes and Ray workers import them)
# ---------------------------------------------------------------------------
def _record(task: dict[str, Any]) -> dict[str, Any]:
    """Leave one file per execution in ``task["dir"]``; return values computed from the task."""
    time.sleep(float(task.get("sleep", 0.0)))
    marker = Path(task["dir"]) / f"call-{task['i']}-{os.getpid()}-{os.urandom(4).hex()}"
    marker.write_text("x")
    return {"i": task["i"], "cube": task["i"] ** 3, "pair": (task["i"], "t")}


def _fail_on_five(task: dict[str, Any]) -> dict[str, Any]:
    if task["i"] == 5:
        raise KeyError("five")
    return _record(task)


def _where(task: dict[str, Any]) -> dict[str, Any]:
    return {"pid": os.getpid()}


def _calls(directory: Path) -> dict[int, int]:
    counts: dict[int, int] = {}
    for f in directory.glob("call-*"):
        i = int(f.name.split("-")[1])
        counts[i] = counts.get(i, 0) + 1
    return counts


def _tasks(directory: Path, n: int, sleep: float = 0.0) -> list[dict[str, Any]]:
    order = [(7 * j) % n for j in range(n)]  # task order is not numeric order
    return [{"i": i, "dir": str(directory), "sleep": sleep} for i in order]


def _expected(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"i": t["i"], "cube": t["i"] ** 3, "pair": [t["i"], "t"]} for t in tasks]


def _sweep(fn, tasks, store, workers=2, **kw) -> list[Any]:
    return run_sweep(fn, tasks, store=store, workers=workers, progress=False, description="t", **kw)


# ---------------------------------------------------------------------------
# Backend selection and validation (no Ray needed)
# ---------------------------------------------------------------------------
class _Recording:
    """A backend that runs the tasks in this process and counts them."""

    def __init__(self) -> None:
        self.tasks = 0

    def run(self, fn, tasks, workers):
        for i, task in enumerate(tasks):
            self.tasks += 1
            yield i, fn(task)


def test_sweep_backend_sets_and_restores_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sweep_backend("local"):
        out = _sweep(_where, [{"k": 1}], None, workers=1)
    assert out == [{"pid": os.getpid()}]  # local, workers=1: in this process
    fake = _Recording()
    monkeypatch.setitem(runner_mod.BACKENDS, "fake", fake)
    with sweep_backend("fake"):
        _sweep(_where, [{"k": 1}, {"k": 2}], None, workers=1)
        assert fake.tasks == 2  # the block's default
        with sweep_backend("local"):  # nested: the inner block's default ...
            _sweep(_where, [{"k": 3}], None, workers=1)
        assert fake.tasks == 2
        _sweep(_where, [{"k": 4}], None, workers=1)  # ... and the outer one's again after it
        assert fake.tasks == 3
    _sweep(_where, [{"k": 5}], None, workers=1)
    assert fake.tasks == 3  # restored: local outside the blocks
    with pytest.raises(ValidationError) as info, sweep_backend("dask"):
        pass
    assert info.value.field == "backend"
    with pytest.raises(ValidationError) as info, sweep_backend("local", address="x:1"):
        pass
    assert info.value.field == "address"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"backend": "dask"}, "backend"),
        ({"backend": "local", "address": "127.0.0.1:6379"}, "address"),
        ({"backend": "ray", "address": "  "}, "address"),
    ],
)
def test_run_sweep_rejects_bad_backend_options(kwargs: dict[str, Any], field: str) -> None:
    if kwargs["backend"] == "ray":
        _ray()
    with pytest.raises(ValidationError) as info:
        _sweep(_where, [{"k": 1}], None, workers=1, **kwargs)
    assert info.value.field == field


def test_missing_ray_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # "import ray" now raises ImportError
    with pytest.raises(ValidationError, match="pip install ray") as info:
        _sweep(_where, [{"k": 1}], None, workers=1, backend="ray")
    assert info.value.field == "backend"
    with pytest.raises(ValidationError, match="pip install ray"):
        run_experiment("mel-local-updates", tmp_path, backend="ray", quick=True)
    assert not any(tmp_path.iterdir())  # refused before anything ran


def test_run_experiment_checks_backend_options(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        run_experiment("mel-local-updates", tmp_path, backend="dask")
    assert info.value.field == "backend"
    with pytest.raises(ValidationError) as info:
        run_experiment("mel-local-updates", tmp_path, ray_address="127.0.0.1:6379")
    assert info.value.field == "ray_address"


# ---------------------------------------------------------------------------
# A real kill (SIGKILL) part-way through a local sweep, then resume
# ---------------------------------------------------------------------------
_DRIVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path[:0] = [{tests!r}, {src!r}]
    from test_runner_ray import _record, _tasks
    from edgealloc.experiments.runner import run_sweep
    tasks = _tasks(Path({calls!r}), {n}, sleep={sleep})
    run_sweep(_record, tasks, store=Path({store!r}), workers=2, progress=False,
              description="killed")
    """
)


def test_sigkill_mid_sweep_then_resume_recomputes_nothing_stored(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    store = tmp_path / "store.jsonl"
    n, sleep = 24, 0.15
    code = _DRIVER.format(
        tests=str(TESTS_DIR), src=str(SRC_DIR), calls=str(calls), n=n, sleep=sleep, store=str(store)
    )
    # Own session: SIGKILL to the group takes the driver and its pool workers down at once.
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if store.exists() and len(store.read_bytes().splitlines()) >= 4:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    tasks = _tasks(calls, n, sleep=sleep)
    stored = load_store(store)
    assert 4 <= len(stored) < n, "the kill must land part-way through"
    before = _calls(calls)
    # Each stored task ran exactly once and its stored result is correct.
    for task, want in zip(tasks, _expected(tasks), strict=True):
        if task_key(task) in stored:
            assert before.get(task["i"]) == 1
            assert stored[task_key(task)] == want
    # Worst case: the kill landed in the middle of a write. Leave a torn last line.
    first = store.read_text().splitlines()[0]
    with store.open("a") as fh:
        fh.write(first[: len(first) // 2])

    out = _sweep(_record, tasks, store, workers=2)

    assert out == _expected(tasks)
    after = _calls(calls)
    for task in tasks:
        i, key = task["i"], task_key(task)
        if key in stored:
            assert after[i] == before[i] == 1, f"task {i} was in the store but ran again"
        else:  # ran once now (plus any run the kill interrupted before it was stored)
            assert after[i] == before.get(i, 0) + 1, i
    assert len(load_store(store)) == n
    # The store is whole again: every line but the torn one parses, one per task.
    lines = store.read_text().splitlines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    assert len(parsed) == n == len({p["key"] for p in parsed})
    assert len(lines) == n + 1  # the torn fragment stays, on a line of its own
    # A third run computes nothing.
    assert _sweep(_record, tasks, store, workers=1) == out
    assert _calls(calls) == after


# ---------------------------------------------------------------------------
# Ray backend
# ---------------------------------------------------------------------------
def _ray() -> Any:
    return pytest.importorskip("ray", reason="the Ray backend needs ray (CI installs it)")


def test_ray_matches_local_and_shuts_down_its_own_instance(tmp_path: Path) -> None:
    ray = _ray()
    assert not ray.is_initialized()
    (tmp_path / "ray").mkdir()
    (tmp_path / "local").mkdir()
    store_ray, store_local = tmp_path / "ray.jsonl", tmp_path / "local.jsonl"
    t_ray, t_local = _tasks(tmp_path / "ray", 14), _tasks(tmp_path / "local", 14)
    # Resume after partial completion: a first Ray sweep over part of the tasks ...
    part = _sweep(_record, t_ray[:6], store_ray, backend="ray")
    assert not ray.is_initialized(), "the instance it started must be shut down"
    assert part == _expected(t_ray[:6])
    assert _calls(tmp_path / "ray") == {t["i"]: 1 for t in t_ray[:6]}
    # ... then the whole sweep on Ray: only the missing tasks run.
    got = _sweep(_record, t_ray, store_ray, backend="ray")
    assert not ray.is_initialized()
    want = _sweep(_record, t_local, store_local, backend="local")
    assert got == want == _expected(t_ray)
    assert _calls(tmp_path / "ray") == {t["i"]: 1 for t in t_ray}
    # The same store contents (up to the per-backend "dir" in the tasks).
    lines = {
        name: sorted((r["task"]["i"], json.dumps(r["result"])) for r in map(json.loads, lines))
        for name, lines in (
            ("ray", store_ray.read_text().splitlines()),
            ("local", store_local.read_text().splitlines()),
        )
    }
    assert lines["ray"] == lines["local"]


def test_run_experiment_on_ray_matches_local(tmp_path: Path) -> None:
    """``run_experiment(..., backend="ray")`` reaches the experiment's sweep; same tables."""
    ray = _ray()
    assert not ray.is_initialized()
    kw: dict[str, Any] = {"quick": True, "seeds": 2, "workers": 2, "progress": False}
    local = run_experiment("xr-users", tmp_path / "local", **kw)
    on_ray = run_experiment("xr-users", tmp_path / "ray", backend="ray", **kw)
    assert not ray.is_initialized()
    for name in ("xr-users.csv", "xr-users-compare.csv", "xr-users-seeds.csv"):
        assert (tmp_path / "local" / name).read_text() == (tmp_path / "ray" / name).read_text()
    assert on_ray.summary == local.summary
    # Ray's store resumes on the local backend: nothing is recomputed.
    again = run_experiment("xr-users", tmp_path / "ray", **kw)
    n_tasks = on_ray.notes[0].split(" tasks")[0]
    assert f"({n_tasks} loaded from the store)" in again.notes[0]


@pytest.fixture(scope="module")
def ray_instance():
    """A local Ray instance owned by the test (not by the runner)."""
    ray = _ray()
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(map(str, (TESTS_DIR, SRC_DIR)))}},
    )
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def test_ray_uses_the_connected_instance_and_leaves_it_running(
    tmp_path: Path, ray_instance: str
) -> None:
    ray = _ray()
    store = tmp_path / "s.jsonl"
    tasks = _tasks(tmp_path, 10)
    # A local sweep stops part-way on a failing task; Ray finishes it from the store.
    with pytest.raises(KeyError, match="five"):
        _sweep(_fail_on_five, tasks, store, workers=1, backend="local")
    first = load_store(store)
    assert 0 < len(first) < 10
    with pytest.raises(KeyError, match="five"):  # Ray re-raises the task's own exception type
        _sweep(_fail_on_five, tasks, store, backend="ray")
    assert ray.is_initialized(), "an instance the runner did not start must stay up"
    stored = load_store(store)
    assert set(first) <= set(stored)
    before = _calls(tmp_path)
    with sweep_backend("ray"):  # the default backend of the sweeps in the block
        out = _sweep(_record, tasks, store)
        pids = _sweep(_where, [{"k": j} for j in range(4)], None)
    assert out == _expected(tasks)
    after = _calls(tmp_path)
    for t in tasks:  # stored tasks never run again; the others run once more
        assert after[t["i"]] == before.get(t["i"], 0) + (task_key(t) not in stored), t["i"]
    assert all(p["pid"] != os.getpid() for p in pids)  # ran in Ray workers
    assert ray.is_initialized()


def test_ray_address_joins_a_cluster_and_only_disconnects(
    tmp_path: Path, ray_instance: str
) -> None:
    ray = _ray()
    calls = tmp_path / "calls"
    calls.mkdir()
    store = tmp_path / "s.jsonl"
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        sys.path[:0] = [{str(TESTS_DIR)!r}, {str(SRC_DIR)!r}]
        import ray
        import ray.cloudpickle
        import test_runner_ray
        from test_runner_ray import _record, _tasks
        from edgealloc.experiments.runner import run_sweep
        # The cluster's workers cannot import this test module: ship its code by value.
        ray.cloudpickle.register_pickle_by_value(test_runner_ray)
        out = run_sweep(_record, _tasks(Path({str(calls)!r}), 8), store=Path({str(store)!r}),
                        workers=2, progress=False, description="joined", backend="ray")
        assert not ray.is_initialized()
        print(len(out))
        """
    )
    env = {**os.environ, "RAY_ADDRESS": ray_instance}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "8"
    assert _calls(calls) == {i: 1 for i in range(8)}
    # The cluster it joined is still up and usable.
    assert ray.is_initialized()
    assert _sweep(_record, _tasks(calls, 8), store, backend="ray") == _expected(_tasks(calls, 8))
    assert _calls(calls) == {i: 1 for i in range(8)}  # all from the store
