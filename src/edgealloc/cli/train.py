"""``edgealloc train``: real training under an allocation, on a simulated clock.

Registered in :mod:`edgealloc.cli` as the command ``train``. Families declare
which of their schemes can be trained (``Family.trainable``); the trainer
registry (:mod:`edgealloc.learn.trainers`) says how: the command asks the
family's :class:`~edgealloc.learn.trainers.Trainer` to compile the scenario
with the trained model as its workload, solves it with the scheme (or with
every trainable scheme, ``--scheme all``), trains the allocation (with one
:class:`~edgealloc.learn.options.TrainOptions` built from the flags; an error
in one names the flag) and writes into ``--out``:

``record.csv``
    One row per global cycle or communication round (0 = the initial model):
    ``cycle,sim_time_s,energy_j,train_loss,test_loss,test_accuracy,...``
    (:data:`edgealloc.learn.records.RECORD_COLUMNS`).
``record.png``
    Accuracy (test loss for regression) against cycles, simulated seconds and
    energy; training loss against simulated seconds.
``allocation.json``
    The solver's result (docs/problem-files.md fields).
``ledger.csv``
    Per device: class, clock, allocation, time, energy per cycle and in total.
``problem.json``
    The compiled canonical problem that was solved.

With ``--scheme all`` the per-scheme files are ``record-<scheme>.csv``,
``allocation-<scheme>.json`` and ``ledger-<scheme>.csv``, and one combined
figure ``comparison.png``.

Exit codes as for every command (:mod:`edgealloc.cli`): 2 bad input (and an
output file that exists without ``--force``), 3 infeasible allocation, 1
solver failure.

PyTorch is imported only when the command runs; without it the command
exits 2 with the one-line fix (``pip install 'edgealloc[learn]'``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from .. import registry
from .._validation import check_choice
from ..errors import ValidationError
from ._common import (
    ForceOption,
    check_source,
    console,
    dumps,
    flag,
    guarded,
    out_option,
    parse_sets,
    rows_table,
    write_new,
)

__all__ = ["train_command"]

#: Default learning rate (equals :data:`edgealloc.learn.options.DEFAULT_LR`; kept here so
#: that building the command line imports nothing of :mod:`edgealloc.learn`).
DEFAULT_LR = 0.1
#: Default kappa (equals :data:`edgealloc.learn.energy.KAPPA`).
DEFAULT_KAPPA = 1e-28

_MODELS = ("mlp", "cnn", "linear")

#: The flag that sets each :class:`~edgealloc.learn.options.TrainOptions` field: an error
#: on a field names the flag the user typed.
_FLAGS = {
    "cycles": "--cycles",
    "mode": "--mode",
    "partition_scheme": "--partition",
    "lr": "--lr",
    "seed": "--seed",
    "batched": "--sequential",
    "eval_every": "--eval-every",
    "clock": "--clock",
    "kappa": "--kappa",
    "threads": "--threads",
    "device": "--device",
}

TrainSetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="Override a scenario field before compiling, e.g. --set devices=5 --set T=10 "
        "(dotted keys reach into scenarios; values are YAML). d / total_samples defaults to "
        "the training set size (local SGD families).",
    ),
]


def _outputs(out: Path, names: Sequence[str], force: bool) -> dict[str, Path]:
    """The files the run will write, refused early when one exists (without --force)."""
    if out.exists() and not out.is_dir():
        raise ValidationError(str(out), "exists and is not a directory")
    files: dict[str, Path] = {}
    if len(names) == 1:
        files.update(
            record=out / "record.csv",
            figure=out / "record.png",
            allocation=out / "allocation.json",
            ledger=out / "ledger.csv",
        )
    else:
        for name in names:
            files[f"record:{name}"] = out / f"record-{name}.csv"
            files[f"allocation:{name}"] = out / f"allocation-{name}.json"
            files[f"ledger:{name}"] = out / f"ledger-{name}.csv"
        files["figure"] = out / "comparison.png"
    files["problem"] = out / "problem.json"
    for path in files.values():
        if path.is_dir():
            raise ValidationError(str(path), "is a directory")
        if path.exists() and not force:
            raise ValidationError(str(path), "already exists (pass --force to overwrite)")
    return files


def _source_document(source: str) -> tuple[str | None, bool]:
    """``(family, canonical)`` of a preset or file: the family it names, and whether it is a
    canonical problem (``family:``) rather than a scenario (``scenario:``)."""
    from ..api import load_document

    if source in registry.presets() and not Path(source).exists():
        return registry.preset_family(source), False
    doc = load_document(source)
    if not isinstance(doc, dict):
        return None, False
    canonical = "family" in doc and "scenario" not in doc
    family = doc.get("family") if canonical else doc.get("scenario")
    return (family if isinstance(family, str) else None), canonical


def _trainable_family(source: str) -> tuple[Any, Any, bool]:
    """The family descriptor ``source`` compiles to and its trainer, refused when none trains."""
    from ..learn.trainers import trainers

    name, canonical = _source_document(source)
    family = registry.get_family(name)
    known = trainers()
    able = [n for n, fam in registry.families().items() if fam.trainable and n in known]
    if not family.trainable:
        raise ValidationError(
            source,
            f"family {family.name} has no trainable schemes (families that train: "
            f"{', '.join(able)})",
        )
    if family.name not in known:
        raise ValidationError(
            source,
            f"family {family.name} has trainable schemes but no trainer is installed "
            f"(families that train: {', '.join(able)})",
        )
    return family, known[family.name], canonical


def _run(
    scenario: str,
    scheme: str,
    dataset: str,
    cycles: int,
    seed: int,
    out: Path,
    sets: list[str] | None,
    model: str | None,
    mode: str | None,
    partition: str,
    lr: float | None,
    data_path: Path | None,
    n_samples: int | None,
    eval_every: int,
    clock: str,
    kappa: float,
    sequential: bool,
    threads: int,
    device: str,
    force: bool,
) -> None:
    from ..learn.data import DATASETS

    overrides = parse_sets(sets)
    check_source(scenario)
    family, trainer, canonical = _trainable_family(scenario)
    trainable = [s for s in family.schemes if s in family.trainable]
    if scheme in family.schemes and scheme not in family.trainable:
        why = (
            "gives a fractional allocation (the continuous bound)"
            if scheme not in family.integral
            else "gives an allocation the engine does not train"
        )
        raise ValidationError(
            "--scheme",
            f"{scheme} {why}, which cannot be trained; use {', '.join(trainable)} or all",
        )
    check_choice("--scheme", scheme, [*trainable, "all"])
    check_choice("--dataset", dataset, DATASETS)
    if model is None:
        model = str(trainer.defaults.get("model", "mlp"))
    if lr is None:
        lr = float(trainer.defaults.get("lr", DEFAULT_LR))
    check_choice("--model", model, _MODELS)
    from ..learn.options import TrainOptions

    with _flag_errors():
        options = TrainOptions(
            cycles=cycles,
            mode=mode,
            partition_scheme=partition,
            lr=lr,
            seed=seed,
            batched=not sequential,
            progress=True,  # a bar on a terminal, else lines on stderr (edgealloc._progress)
            eval_every=eval_every,
            clock=clock,
            kappa=kappa,
            keep_params=False,
            threads=threads,
            device=device,
        )
        trainer.check_options(options)
    names = trainable if scheme == "all" else [scheme]
    files = _outputs(out, names, force)

    from ..learn.data import load_dataset
    from ..learn.models import model_for

    notes: list[str] = []
    ds = load_dataset(dataset, seed=seed, path=data_path, n_samples=n_samples)
    spec = model_for(ds, model)
    if canonical:
        from ..api import load_problem

        problem = load_problem(scenario, overrides=overrides)
        notes.append(
            "canonical problem: its coefficients are used as given; nothing ties its workload "
            "to the trained model (give a scenario to compile it for the model)"
        )
    else:
        with _flag_errors():
            problem, compiled_notes = trainer.compile_for_model(
                scenario, spec, overrides, n_train=ds.n_train, mode=options.mode
            )
        notes.extend(compiled_notes)
    import warnings

    from ..errors import EdgeallocWarning

    with warnings.catch_warnings(record=True) as caught, _flag_errors():
        warnings.simplefilter("always", EdgeallocWarning)
        if scheme == "all":
            comparison = trainer.compare(problem, ds, spec=spec, options=options)
            records = dict(comparison.records)
            for name, why in comparison.skipped.items():
                notes.append(f"{name} not trained: {why}")
            rows = comparison.summary_rows()
        else:
            from ..api import solve

            res = solve(problem, scheme)  # InfeasibleError -> exit 3
            records = {scheme: trainer.train(problem, res, ds, spec=spec, options=options)}
            rows = None
    kept = [n for rec in records.values() for n in rec.notes]
    for w in dict.fromkeys(str(c.message) for c in caught):
        if not any(w.endswith(n) for n in kept):  # a record's own note, printed with it
            notes.append(w)

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    first = next(iter(records.values()))
    if scheme == "all":
        for name, rec in records.items():
            written.append(rec.to_csv(files[f"record:{name}"]))
            written.append(rec.ledger_to_csv(files[f"ledger:{name}"]))
            write_new(
                files[f"allocation:{name}"], dumps(rec.result.to_dict()) + "\n", force, quiet=True
            )
            written.append(files[f"allocation:{name}"])
        written.append(comparison.plot(files["figure"]))
    else:
        rec = first
        written.append(rec.to_csv(files["record"]))
        written.append(rec.plot(files["figure"]))
        write_new(files["allocation"], dumps(rec.result.to_dict()) + "\n", force, quiet=True)
        written.append(files["allocation"])
        written.append(rec.ledger_to_csv(files["ledger"]))
    write_new(files["problem"], problem.to_json() + "\n", force, quiet=True)
    written.append(files["problem"])

    if rows is None:
        rows = trainer.summary_rows(records)
    con = console()
    con.print(first.describe())
    title = f"{cycles} {trainer.rounds} on the simulated clock"
    con.print(rows_table(_pretty(rows), title=title))
    for note in _notes(notes, records):
        con.print(f"note: {note}")
    wall = sum(r.wall_time_s for r in records.values())
    con.print(f"trained in {wall:.3g} s of real time")
    for path in written:
        con.print(f"wrote {path}")


@contextlib.contextmanager
def _flag_errors() -> Iterator[None]:
    """Re-raise a training option's :class:`ValidationError` on the flag that set it."""
    try:
        yield
    except ValidationError as exc:
        flag = _FLAGS.get(exc.field)
        if flag is None:
            raise
        raise ValidationError(flag, exc.problem) from None


def _notes(notes: list[str], records: dict[str, Any]) -> list[str]:
    """The command's notes, then the records' (shared ones once, the others per scheme)."""
    per = {name: list(rec.notes) for name, rec in records.items()}
    shared = [n for n in next(iter(per.values())) if all(n in v for v in per.values())]
    out = list(dict.fromkeys([*notes, *shared]))
    for name, record_notes in per.items():
        prefix = f"{name}: " if len(per) > 1 else ""
        out += [prefix + n for n in record_notes if n not in shared]
    return out


def _pretty(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Column headers with units for the summary table."""
    names = {
        "cycle_time_s": "cycle (s)",
        "j_per_cycle": "J/cycle",
        "global_batch": "global batch",
        "round_s": "round (s)",
        "j_per_round": "J/round",
        "sim_time_s": "sim time (s)",
        "energy_j": "energy (J)",
        "test_accuracy": "test acc",
        "test_loss": "test loss",
        "train_loss": "train loss",
    }
    return [{names.get(k, k): v for k, v in row.items()} for row in rows]


def train_command(
    scenario: Annotated[
        str,
        typer.Argument(
            help="Scenario file (YAML/JSON) or preset name (e.g. mel-sync, mel-async, "
            "feel-cpu, feel-gpu); a canonical problem is used as given."
        ),
    ],
    scheme: Annotated[
        str,
        typer.Option(
            "--scheme",
            help="A scheme of the scenario's family that trains (e.g. optimal, paper, equal, "
            "online, full), or 'all' to compare them.",
        ),
    ] = "optimal",
    dataset: Annotated[
        str,
        typer.Option("--dataset", help="digits, mnist1d, linear, mnist or cifar10 (offline)."),
    ] = "digits",
    cycles: Annotated[
        int,
        typer.Option(
            "--cycles",
            help="Global cycles (communication rounds for feel-*) to train. A mel cycle runs "
            "the allocation's tau local steps per learner: about 25 s of CPU per cycle for "
            "mel-sync on digits (tau ~ 2,500; --set T=... shortens it); a feel round is one "
            "gradient step on the plan's batches (milliseconds).",
        ),
    ] = 5,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the data split, initial model and batches.")
    ] = 0,
    out: Annotated[
        Path, out_option("Directory for record.csv, record.png, allocation.json.")
    ] = Path("edgealloc-train"),
    sets: TrainSetOption = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="mlp, cnn or linear; default mlp (flmar: cnn, for images at a resolution).",
            show_default=False,
        ),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode",
            help="parallel (the orchestrator ships fresh batches) or federated (learners own "
            "their data); default: the scenario's (feel: federated).",
            show_default=False,
        ),
    ] = None,
    partition: Annotated[
        str,
        typer.Option("--partition", help="Federated partition: iid, shards or unbalanced."),
    ] = "iid",
    lr: Annotated[
        float | None,
        typer.Option(
            "--lr",
            help=f"Learning rate of the local steps; default {DEFAULT_LR:g} (flmar: 0.5). "
            "feel: the rate at a global batch of 128, scaled by sqrt(B / 128).",
            show_default=False,
        ),
    ] = None,
    data_path: Annotated[
        Path | None,
        typer.Option("--data-path", help="Folder with the MNIST IDX or CIFAR-10 files."),
    ] = None,
    n_samples: Annotated[
        int | None,
        typer.Option("--n-samples", help="Keep this many samples of the data set (train + test)."),
    ] = None,
    eval_every: Annotated[
        int, typer.Option("--eval-every", help="Evaluate the global model every N cycles.")
    ] = 1,
    clock: Annotated[
        str,
        typer.Option(
            "--clock",
            help="Cycle duration: slowest (the slowest learner, at most T) or deadline (T); "
            "a feel round always lasts the plan's latency.",
        ),
    ] = "slowest",
    kappa: Annotated[
        float,
        typer.Option(
            "--kappa",
            help="CPU energy kappa f^2 J/cycle, when the scenario has no energy model "
            "(feel: always).",
        ),
    ] = DEFAULT_KAPPA,
    sequential: Annotated[
        bool, flag("--sequential", help="Train learners one by one (the reference loop).")
    ] = False,
    threads: Annotated[
        int,
        typer.Option("--threads", help="PyTorch threads while training (1 is fastest here)."),
    ] = 1,
    device: Annotated[
        str,
        typer.Option(
            "--device",
            help="PyTorch device to train on: cpu, cuda, cuda:N or mps (the simulated clock "
            "does not depend on it).",
        ),
    ] = "cpu",
    force: ForceOption = False,
) -> None:
    """Train a model under an allocation; record accuracy vs simulated time and energy.

    The scenario is compiled with the trained model as its workload, solved
    with the scheme, and every global cycle (communication round) advances
    the simulated clock by the allocation's cycle time (round latency) and
    each device's energy by its per-cycle energy. Writes record.csv,
    record.png, allocation.json, ledger.csv and problem.json to --out (one
    file per scheme and comparison.png with --scheme all). Examples (about
    10 s each): edgealloc train mel-sync --set devices=5 --set T=1 --scheme
    all --cycles 5 -o results/train; edgealloc train feel-cpu --scheme all
    --cycles 100 -o results/feel.
    """
    guarded(_run)(
        scenario,
        scheme,
        dataset,
        cycles,
        seed,
        out,
        sets,
        model,
        mode,
        partition,
        lr,
        data_path,
        n_samples,
        eval_every,
        clock,
        kappa,
        sequential,
        threads,
        device,
        force,
    )
