"""``edgealloc train``: files written, overwrite protection, exit codes 2 and 3."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import edgealloc.cli
from edgealloc.cli.train import DEFAULT_KAPPA, DEFAULT_LR, train_command

pytest.importorskip("torch")

# A small, fast setting: 5 devices, digits subsample, T = 0.1 s (tau about 10)
FAST = ["--set", "devices=5", "--set", "T=0.1", "--n-samples", "300", "--cycles", "2"]
CONTRACT_COLUMNS = ["cycle", "sim_time_s", "energy_j", "train_loss", "test_accuracy"]


def _app() -> typer.Typer:
    """edgealloc's app when it registers ``train``; else a test app with only ``train``."""
    if any(c.name == "train" for c in edgealloc.cli.app.registered_commands):
        return edgealloc.cli.app
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test app."""

    app.command("train")(train_command)
    return app


APP = _app()


def invoke(*args: Any) -> Any:
    return CliRunner().invoke(APP, ["train", *[str(a) for a in args]])


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_defaults_match_the_library() -> None:
    from edgealloc.learn import run

    assert DEFAULT_LR == run.DEFAULT_LR
    assert DEFAULT_KAPPA == run.KAPPA


def test_train_writes_the_record(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = invoke(
        "mel-sync", "--scheme", "optimal", "--dataset", "digits", "--seed", "0", "--out", out, *FAST
    )
    assert res.exit_code == 0, res.output
    for name in ("record.csv", "record.png", "allocation.json", "ledger.csv", "problem.json"):
        assert (out / name).is_file(), name
    rows = read_csv(out / "record.csv")
    assert list(rows[0])[:5] == CONTRACT_COLUMNS
    assert [int(r["cycle"]) for r in rows] == [0, 1, 2]
    alloc = json.loads((out / "allocation.json").read_text())
    assert alloc["scheme"] == "optimal" and alloc["status"] == "optimal"
    assert len(alloc["tau"]) == 5
    # the clock advanced by the allocation's evaluated cycle time
    steps = np.diff([float(r["sim_time_s"]) for r in rows])
    np.testing.assert_allclose(steps, alloc["cycle_time"], rtol=1e-12)
    # the compiled problem is the model's workload, d = the training set
    problem = json.loads((out / "problem.json").read_text())
    assert problem["meta"]["layers"] == [64, 300, 124, 60, 10]
    from edgealloc.learn import load_dataset

    assert problem["total_samples"] == load_dataset("digits", seed=0, n_samples=300).n_train
    assert len(read_csv(out / "ledger.csv")) == 5
    assert "optimal" in res.stdout and "wrote" in res.stdout
    assert "Traceback" not in res.output


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "record.csv").write_text("mine\n")
    res = invoke("mel-sync", "--out", out, *FAST)
    assert res.exit_code == 2
    assert "already exists" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert (out / "record.csv").read_text() == "mine\n"
    res = invoke("mel-sync", "--out", out, "--force", *FAST)
    assert res.exit_code == 0, res.output
    assert read_csv(out / "record.csv")[0]["cycle"] == "0"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--dataset", "imagenet"], "--dataset"),
        (["--scheme", "best"], "--scheme"),
        (["--scheme", "relaxed"], "fractional"),
        (["--set", "nosuchfield=1"], "nosuchfield"),
        (["--model", "transformer"], "--model"),
        (["--mode", "sideways"], "--mode"),
        (["--partition", "shards"], "--partition"),
        (["--lr", "-1"], "--lr"),
        (["--set", "workload.layers=[64, 10]"], "workload.layers"),
        (["--dataset", "mnist", "--data-path", "/nonexistent/mnist"], "/nonexistent/mnist"),
        (["--device", "tpu9"], "--device"),
        # every training option names its flag, not the library's field
        (["--cycles", "0"], "--cycles"),
        (["--eval-every", "0"], "--eval-every"),
        (["--seed", "-1"], "--seed"),
        (["--kappa", "0"], "--kappa"),
        (["--threads", "0"], "--threads"),
        (["--clock", "wall"], "--clock"),
        (["--partition", "nosuch", "--mode", "federated"], "--partition"),
    ],
)
def test_bad_input_exits_2(tmp_path: Path, args: list[str], needle: str) -> None:
    res = invoke("mel-sync", "--out", tmp_path / "run", *FAST, *args)
    assert res.exit_code == 2, res.output
    assert needle in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.output
    assert not (tmp_path / "run" / "record.csv").exists()


def test_unknown_scenario_exits_2(tmp_path: Path) -> None:
    res = invoke("no-such-preset", "--out", tmp_path / "run", *FAST)
    assert res.exit_code == 2 and "no-such-preset" in res.stderr


def test_infeasible_deadline_exits_3(tmp_path: Path) -> None:
    tight = [a if a != "T=0.1" else "deadline=0.001" for a in FAST]  # T and deadline conflict
    res = invoke("mel-sync", "--out", tmp_path / "run", *tight)
    assert res.exit_code == 3, res.output
    assert "infeasible" in res.stderr.lower() and "deadline" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "record.csv").exists()


def test_scheme_all_compares_every_scheme(tmp_path: Path) -> None:
    out = tmp_path / "all"
    res = invoke(
        "mel-async",
        "--scheme",
        "all",
        "--out",
        out,
        "--set",
        "devices=5",
        "--set",
        "T=0.2",
        "--n-samples",
        "300",
        "--cycles",
        "2",
    )
    assert res.exit_code == 0, res.output
    assert (out / "comparison.png").is_file()
    trained = sorted(p.name[len("record-") : -len(".csv")] for p in out.glob("record-*.csv"))
    assert "optimal" in trained and "equal" in trained and "relaxed" not in trained
    for name in trained:
        rows = read_csv(out / f"record-{name}.csv")
        assert list(rows[0])[:5] == CONTRACT_COLUMNS
        alloc = json.loads((out / f"allocation-{name}.json").read_text())
        assert alloc["scheme"] == name
        # the async preset has an energy model: the ledger is the allocation's energies
        assert float(rows[-1]["energy_j"]) == pytest.approx(2 * sum(alloc["energies"]), rel=1e-12)
    # the same initial model for every scheme
    first = {read_csv(out / f"record-{n}.csv")[0]["test_accuracy"] for n in trained}
    assert len(first) == 1


def test_federated_with_shards(tmp_path: Path) -> None:
    out = tmp_path / "fed"
    res = invoke("mel-sync", "--mode", "federated", "--partition", "shards", "--out", out, *FAST)
    assert res.exit_code == 0, res.output
    problem = json.loads((out / "problem.json").read_text())
    assert problem["meta"]["mode"] == "federated"


def test_canonical_problem_is_used_as_given(tmp_path: Path) -> None:
    doc = {
        "family": "mel",
        "deadline": 1.0,
        "total_samples": 240,
        "c2": [0.001, 0.002, 0.004],
        "c1": [0.0, 0.0, 0.0],
        "c0": [0.1, 0.1, 0.1],
    }
    src = tmp_path / "p.json"
    src.write_text(json.dumps(doc))
    out = tmp_path / "canon"
    res = invoke(src, "--out", out, "--n-samples", "300", "--cycles", "1")
    assert res.exit_code == 0, res.output
    assert "canonical problem" in res.stdout
    rows = read_csv(out / "record.csv")
    assert rows[1]["energy_j"] == ""  # no energy model, no physics: unknown


def test_unavailable_gpu_exits_2(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    res = invoke("mel-sync", "--out", tmp_path / "run", *FAST, "--device", "cuda")
    assert res.exit_code == 2, res.output
    assert "--device" in res.stderr and "not available" in res.stderr
    assert not (tmp_path / "run").exists()


def test_divergence_writes_the_partial_record(tmp_path: Path) -> None:
    res = invoke("mel-sync", "--out", tmp_path / "run", *FAST, "--lr", "1e6")
    assert res.exit_code == 0, res.output
    assert res.stdout.count("diverged at cycle 1") == 1 and "Traceback" not in res.output
    assert [r["cycle"] for r in read_csv(tmp_path / "run" / "record.csv")] == ["0", "1"]


def test_option_errors_name_the_flag_and_nothing_else(tmp_path: Path) -> None:
    res = invoke("mel-sync", "--out", tmp_path / "run", *FAST, "--eval-every", "0")
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: --eval-every: must be >= 1 (got 0)"
    res = invoke("mel-sync", "--out", tmp_path / "run", *FAST, "--partition", "shards")
    assert res.exit_code == 2 and res.stderr.startswith("error: --partition: ")
    assert "partition_scheme" not in res.stderr and "federated" in res.stderr
