"""``edgealloc flower``: a Flower federation planned by edgealloc, round by round.

Registered in :mod:`edgealloc.cli` as the command ``flower``. The scenario
(a preset or a file, ``--set`` overrides as elsewhere) gives the physics and
the family; every node of the federation (one per device) reports its own
profile, and the strategy plans every round from those profiles with the
scheme, sends each node its config, aggregates with the family's weights,
and keeps the simulated clock and energy ledger
(:mod:`edgealloc.integrations.flower`). Writes into ``--out``:

``rounds.csv``
    ``round,sim_time_s,energy_j,train_loss,test_accuracy,participants,wall_s``.
``plans.jsonl``
    One line per round: the canonical problem solved and the result (as
    ``edgealloc solve --json`` prints it).
``clients.csv``
    ``round,node_id,device,local_steps,num_examples,batch_size,trained_examples,
    train_loss``: per round and node, the plan it received and what it trained.
``accuracy.png``
    Test accuracy against simulated time and energy.

Engines: ``simulation`` (Flower's simulation engine, in a child process,
offline) and ``deployment`` (a SuperLink and one SuperNode per device as
separate processes on 127.0.0.1). Every process started is stopped by PID
when the run ends, fails or is interrupted. Progress goes to stderr, one
line per round.

Flower is an optional extra: without it the command exits 2 with the
install line. Exit codes as for every command (:mod:`edgealloc.cli`); a
run that stops for another reason (a process that died, a timeout) is one
line ``error: ...`` and exit 1, after every process was stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ValidationError
from ._common import (
    ForceOption,
    SetOption,
    check_source,
    console,
    flag,
    guarded,
    out_option,
    parse_sets,
    rows_table,
)

__all__ = ["flower_command"]

#: The flag that sets each field of the run's settings (an error names the flag typed).
_FLAGS = {
    "scheme": "--scheme",
    "rounds": "--rounds",
    "dataset": "--dataset",
    "n_samples": "--n-samples",
    "data_path": "--data-path",
    "model": "--model",
    "partition": "--partition",
    "lr": "--lr",
    "seed": "--seed",
    "fail_rate": "--fail-rate",
    "quarantine_rounds": "--quarantine",
    "round_timeout_s": "--round-timeout",
    "threads": "--threads",
    "device": "--device",
}
_ENGINES = ("simulation", "deployment")


@contextlib.contextmanager
def _flag_errors() -> Iterator[None]:
    """Re-raise a setting's :class:`ValidationError` on the flag that set it."""
    try:
        yield
    except ValidationError as exc:
        flag_name = _FLAGS.get(exc.field)
        if flag_name is None:
            raise
        raise ValidationError(flag_name, exc.problem) from None


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _run(
    scenario: str,
    scheme: str | None,
    rounds: int,
    dataset: str,
    out: Path,
    sets: list[str] | None,
    engine: str,
    fail_rate: float,
    seed: int,
    lr: float,
    model: str,
    partition: str,
    n_samples: int | None,
    data_path: Path | None,
    quarantine: int,
    round_timeout: float,
    threads: int,
    device: str,
    keep_run: bool,
    force: bool,
) -> None:
    from ..integrations import flower as fl

    fl.require_flower()  # one line with the install command, exit 2
    from .._validation import check_choice
    from ..integrations.flower.engines import preflight, run_engine
    from ..integrations.flower.history import output_paths, write_outputs

    check_choice("--engine", engine, _ENGINES)
    overrides = parse_sets(sets)
    check_source(scenario)
    with _flag_errors():
        settings = fl.FlowerSettings.create(
            scenario,
            rounds=rounds,
            overrides=overrides,
            scheme=scheme,
            dataset=dataset,
            n_samples=n_samples,
            data_path=str(data_path) if data_path is not None else None,
            model=model,
            partition=partition,
            lr=lr,
            seed=seed,
            fail_rate=fail_rate,
            quarantine_rounds=quarantine,
            round_timeout_s=round_timeout,
            threads=threads,
            device=device,
        )
    if engine == "simulation":
        fl.require_ray()
    with _flag_errors():  # a bad scenario, a missing GPU or an infeasible plan, before any process
        preflight(settings)
    if out.exists() and not out.is_dir():
        raise ValidationError(str(out), "exists and is not a directory")
    paths = output_paths(out)
    for path in paths.values():
        if path.is_dir():
            raise ValidationError(str(path), "is a directory")
        if path.exists() and not force:
            raise ValidationError(str(path), "already exists (pass --force to overwrite)")
    out.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=".flower-run-", dir=out))
    _stderr(
        f"flower ({engine}): {settings.n_nodes} nodes, {rounds} rounds, family "
        f"{settings.family}, scheme {settings.scheme}"
        + (f", fail rate {fail_rate:g}" if fail_rate else "")
    )
    from ..integrations.flower.errors import FlowerRunError

    mpl = os.environ.get("MPLCONFIGDIR")
    if mpl is None:  # matplotlib's caches (here and in the engine's processes): not in $HOME
        os.environ["MPLCONFIGDIR"] = str(run_dir / "matplotlib")
    try:
        try:
            history = run_engine(settings, engine, run_dir, log=_stderr, check=False)
        except FlowerRunError as exc:  # every process is stopped by now
            _stderr(f"note: the run's logs and history are in {run_dir}")
            _stderr(f"error: {exc}")
            raise typer.Exit(1) from None
        except BaseException:
            _stderr(f"note: the run's logs and history are in {run_dir}")
            raise
        written = write_outputs(history, out, force=force)
    finally:
        if mpl is None:
            os.environ.pop("MPLCONFIGDIR", None)
    if keep_run:
        _stderr(f"note: the run's logs and history are in {run_dir}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    con = console()
    last = history.rounds[-1]
    fails = sum(len(r.get("failures") or {}) for r in history.rounds)
    replans = sum(1 for p in history.plans if p.get("planned_in_round") == p.get("round"))
    row: dict[str, Any] = {
        "rounds": last["round"],
        "sim time (s)": last.get("sim_time_s"),
        "energy (J)": last.get("energy_j"),
        "test acc": last.get("test_accuracy"),
        "train loss": last.get("train_loss"),
        "plans": replans,
        "node failures": fails,
        "wall (s)": last.get("wall_s"),
    }
    con.print(rows_table([row], title=f"Flower federation ({engine}) planned by edgealloc"))
    for path in written:
        con.print(f"wrote {path}")


def flower_command(
    scenario: Annotated[
        str,
        typer.Argument(help="Scenario file (YAML/JSON) or preset name (e.g. mel-sync)."),
    ],
    scheme: Annotated[
        str | None,
        typer.Option(
            "--scheme",
            help="The family's scheme that plans every round (default: its exact one).",
            show_default=False,
        ),
    ] = None,
    rounds: Annotated[int, typer.Option("--rounds", help="Federated rounds.")] = 5,
    dataset: Annotated[
        str,
        typer.Option("--dataset", help="digits, mnist1d, linear, mnist or cifar10 (offline)."),
    ] = "digits",
    out: Annotated[
        Path, out_option("Directory for rounds.csv, plans.jsonl, clients.csv, accuracy.png.")
    ] = Path("edgealloc-flower"),
    sets: SetOption = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="simulation (Flower's simulation engine) or deployment (a SuperLink and one "
            "SuperNode per device, as processes on 127.0.0.1).",
        ),
    ] = "simulation",
    fail_rate: Annotated[
        float,
        typer.Option(
            "--fail-rate", help="Probability that a node fails a round (an error in its training)."
        ),
    ] = 0.0,
    seed: Annotated[
        int,
        typer.Option("--seed", help="Seed of the data, the model, the partition and the failures."),
    ] = 0,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate of the local steps.")] = 0.1,
    model: Annotated[str, typer.Option("--model", help="mlp, cnn or linear.")] = "mlp",
    partition: Annotated[
        str,
        typer.Option("--partition", help="How the nodes' data is split: iid, shards, unbalanced."),
    ] = "iid",
    n_samples: Annotated[
        int | None,
        typer.Option("--n-samples", help="Keep this many samples of the data set (train + test)."),
    ] = None,
    data_path: Annotated[
        Path | None,
        typer.Option("--data-path", help="Folder with the MNIST IDX or CIFAR-10 files."),
    ] = None,
    quarantine: Annotated[
        int,
        typer.Option(
            "--quarantine", help="Rounds a failed node sits out before it is asked again."
        ),
    ] = 1,
    round_timeout: Annotated[
        float,
        typer.Option(
            "--round-timeout",
            help="Wall-clock seconds the server waits for a round's replies (a node that misses "
            "them failed the round).",
        ),
    ] = 600.0,
    threads: Annotated[
        int, typer.Option("--threads", help="PyTorch threads per node (1 is fastest here).")
    ] = 1,
    device: Annotated[
        str,
        typer.Option(
            "--device",
            help="PyTorch device the nodes train on: cpu, cuda, cuda:N or mps (the server "
            "evaluates on the CPU).",
        ),
    ] = "cpu",
    keep_run: Annotated[
        bool, flag("--keep-run", help="Keep the run's folder (history, process logs) in --out.")
    ] = False,
    force: ForceOption = False,
) -> None:
    """Run a Flower federation that edgealloc plans from the nodes' own profiles.

    One node per device of the scenario; every round the strategy queries the
    nodes' profiles when needed, solves the family's problem with the scheme,
    sends each node its own plan, aggregates with the family's weights and
    advances the simulated clock and energy ledger. Failing nodes are left
    out and the next round is re-planned. Needs the flower extra.
    """
    guarded(_run)(
        scenario,
        scheme,
        rounds,
        dataset,
        out,
        sets,
        engine,
        fail_rate,
        seed,
        lr,
        model,
        partition,
        n_samples,
        data_path,
        quarantine,
        round_timeout,
        threads,
        device,
        keep_run,
        force,
    )
