r"""Benchmark: the same federation in Flower's simulation engine and in edgealloc's batched engine.

Run ``python benchmarks/bench_flower.py`` (full: K = 20 and 50, 10 rounds,
deadlines T = 0.1 s and 1 s, ten minutes or more on a 2-core machine) or with
``--quick`` (K = 3, 2 rounds; used by the tests). Needs the ``learn`` and
``flower`` extras.

The workload is the ``mel-sync`` preset compiled for the MEL papers' network
on scikit-learn's digits (federated: each device owns an IID partition, as a
Flower node does), planned by the ``optimal`` scheme with ``--deadlines`` T
seconds per round: T = 0.1 s gives tau = 16 local steps at K = 50 (short
rounds: fixed costs dominate), T = 1 s gives tau = 80 at K = 20 and 201 at
K = 50 (the local arithmetic dominates); the preset's own T = 30 s gives
tau = 2,473 and about 25 s per round in either engine. Both engines train the
same model from the same initial weights on the same samples with the same
plan:

* **Flower**: :func:`edgealloc.integrations.flower.simulate`, one virtual
  SuperNode per device, the edgealloc strategy and ClientApp (every node runs
  its tau full-batch steps in its own Ray actor, ``--cpus`` at once), timed
  from the call to its return (Ray's start-up and shutdown included);
* **edgealloc**: :func:`edgealloc.learn.training.train`, every learner of a
  cycle stacked in one batched computation on one thread, timed the same way
  (the call: loading the data, compiling and solving the plan, training).

Printed per T and K: both wall-clock times and their ratio (the issue's
target: the batched engine at least 10x faster at K = 50), the per-round wall
time of each engine once warm (the median over rounds 2..N) and its ratio,
and Flower's per-round overhead: its warm round minus the time its nodes spent
training (the sum of the nodes' own training seconds, divided by the actors
running at once).

Same science: from Flower's model after round N-1, one cycle of the batched
engine on round N's samples must give Flower's model after round N to 1e-5 of
the parameter scale, with the same plan; otherwise the script exits with
status 1. The final models and test accuracies of the two whole runs are
printed too: each Flower node trains alone while the batched engine pads its
chunks, so float32 rounding differs, and over the tau x rounds local steps of
a run (160-2,000 here) it grows to about 1e-3 of the parameter scale
(``tests/test_flower_engines.py`` checks 1e-5 after each of two short rounds).

``--device cuda`` runs both engines on a GPU: every Flower ClientApp trains
there (the ones running at once share it through Ray's fractional GPUs) and
so does the batched engine; the ServerApp evaluates on the CPU in both.

All ratios are measured in the same run; nothing is quoted.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence

import numpy as np

from _common import Table, add_common_args, fmt_ratio, fmt_seconds, print_facts, print_table
from _common import use_plain as _use_plain

TARGET = 10.0
#: One cycle of the batched engine from Flower's model must give Flower's next model to this.
ONE_ROUND_TOLERANCE = 1e-5


def _edgealloc(
    k: int, rounds: int, deadline: float, device: str
) -> tuple[float, dict, object, float, list]:
    import edgealloc
    from edgealloc.learn import TrainOptions, load_dataset
    from edgealloc.learn.models import model_for
    from edgealloc.learn.scenario import scenario_for_model
    from edgealloc.learn.training import train

    t0 = time.perf_counter()
    data = load_dataset("digits", seed=0)
    spec = model_for(data, "mlp")
    problem = scenario_for_model(
        "mel-sync",
        spec,
        {"devices": k, "T": deadline},
        total_samples=data.n_train,
        mode="federated",
    )
    result = edgealloc.solve(problem, "optimal")
    options = TrainOptions(
        cycles=rounds, lr=0.1, seed=0, mode="federated", threads=1, device=device
    )
    record = train(problem, result, data, spec=spec, options=options)
    wall = time.perf_counter() - t0
    params = {name: p.cpu().numpy() for name, p in record.params.items()}
    per_round = record.wall_time_s / rounds
    return wall, params, record, per_round, list(result.tau)


def _flower(k: int, rounds: int, deadline: float, cpus: int, device: str):
    from edgealloc.integrations.flower import FlowerSettings, simulate

    settings = FlowerSettings.create(
        "mel-sync", rounds=rounds, overrides={"devices": k, "T": deadline}, lr=0.1, device=device
    )
    with tempfile.TemporaryDirectory(prefix="bench-flower-") as folder:
        t0 = time.perf_counter()
        run = simulate(settings, folder, keep_arrays=True, cpus=cpus)
        wall = time.perf_counter() - t0
    history = run.history
    walls = [r["wall_s"] for r in history.rounds]
    per_round = [b - a for a, b in itertools.pairwise(walls[1:])]
    warm = statistics.median(per_round) if per_round else walls[-1]
    compute: dict[int, float] = {}
    for row in history.clients:
        compute[row["round"]] = compute.get(row["round"], 0.0) + float(row["train_seconds"] or 0)
    warm_compute = statistics.median([compute[r] for r in range(2, rounds + 1)] or [0.0])
    return settings, wall, run, warm, warm_compute, history.plans[0]["result"]["tau"]


def _one_round(settings, run, rounds: int) -> float:
    """From Flower's model after round N-1, one batched cycle vs Flower's round N (rel. diff)."""
    import torch

    from edgealloc.integrations.flower.workspace import workspace
    from edgealloc.learn.engine import local_sgd_cycle

    ws = workspace(settings)
    plan = run.history.plans[-1]
    tau = np.asarray(plan["result"]["tau"])
    xs, ys = [], []
    for k, pid in enumerate(plan["partition_ids"]):
        idx = ws.draw(pid, plan["result"]["samples"][k], rounds)
        xs.append(ws.x_all[idx])
        ys.append(ws.data.y_train[idx])
    start = {
        n: torch.from_numpy(v.copy()).to(settings.device)
        for n, v in run.strategy.models[rounds - 1].items()
    }
    new, _ = local_sgd_cycle(ws.spec, start, xs, ys, tau, lr=settings.lr)
    flower = run.strategy.models[rounds]
    scale = max(float(np.abs(v).max()) for v in flower.values())
    return max(float(np.abs(new[n].cpu().numpy() - flower[n]).max()) for n in flower) / scale


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when the two engines agree, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    parser.add_argument("--sizes", default=None, help="comma-separated K (default 20,50)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 10)")
    parser.add_argument(
        "--deadlines", default=None, help="comma-separated T in seconds (default 0.1,1)"
    )
    parser.add_argument(
        "--cpus",
        type=int,
        default=max(1, (os.cpu_count() or 1) - 1),
        help="Flower ClientApps at once (default: the CPUs but one, as edgealloc flower does)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="PyTorch device of both engines: cpu, cuda, cuda:N (on CUDA the Flower ClientApps "
        "running at once share the GPU)",
    )
    args = parser.parse_args(argv)
    plain = _use_plain(args)
    if args.sizes:
        sizes = [int(x) for x in args.sizes.split(",")]
    else:
        sizes = [3] if args.quick else [20, 50]
    if args.deadlines:
        deadlines = [float(x) for x in args.deadlines.split(",")]
    else:
        deadlines = [1.0] if args.quick else [0.1, 1.0]
    rounds = args.rounds or (2 if args.quick else 10)
    if rounds < 2:
        parser.error("--rounds must be >= 2 (the warm rounds are rounds 2..N)")
    for var, value in {
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
    }.items():
        os.environ[var] = value
    import flwr
    import torch

    from edgealloc.errors import ValidationError
    from edgealloc.learn.engine import parse_device

    try:
        dev = parse_device(args.device)
    except ValidationError as exc:
        parser.error(f"--device: {exc.problem}")
    gpu = torch.cuda.get_device_name(dev) if dev.type == "cuda" else None

    print_facts(plain)
    rows, overhead_rows, check_rows = [], [], []
    ok = True
    verdicts = []
    for deadline in deadlines:
        for k in sizes:
            where = f"T = {deadline:g} s, K = {k}"
            print(f"{where}: Flower simulation ...", file=sys.stderr, flush=True)
            settings, f_wall, run, f_warm, f_compute, f_tau = _flower(
                k, rounds, deadline, args.cpus, args.device
            )
            print(f"{where}: edgealloc batched engine ...", file=sys.stderr, flush=True)
            e_wall, e_params, record, e_round, e_tau = _edgealloc(k, rounds, deadline, args.device)
            ratio = f_wall / e_wall
            rows.append(
                [
                    f"{deadline:g}",
                    str(k),
                    f"{int(np.mean(e_tau))}",
                    fmt_seconds(f_wall),
                    fmt_seconds(e_wall),
                    fmt_ratio(f_wall, e_wall),
                    fmt_seconds(f_warm),
                    fmt_seconds(e_round),
                    fmt_ratio(f_warm, e_round),
                ]
            )
            overhead = f_warm - f_compute / max(1, min(args.cpus, k))
            overhead_rows.append(
                [
                    f"{deadline:g}",
                    str(k),
                    fmt_seconds(f_warm),
                    fmt_seconds(f_compute),
                    fmt_seconds(overhead),
                    fmt_seconds(overhead / k),
                ]
            )
            one = _one_round(settings, run, rounds)
            f_model = run.strategy.models[rounds]
            scale = max(float(np.abs(v).max()) for v in e_params.values())
            diff = max(float(np.abs(f_model[n] - e_params[n]).max()) for n in e_params) / scale
            f_acc = run.history.rounds[-1]["test_accuracy"]
            e_acc = record.final["test_accuracy"]
            same = one <= ONE_ROUND_TOLERANCE and f_tau == e_tau
            ok = ok and same
            check_rows.append(
                [
                    f"{deadline:g}",
                    str(k),
                    "yes" if f_tau == e_tau else "NO",
                    f"{one:.2g}",
                    f"{diff:.2g}",
                    f"{f_acc:.4f}",
                    f"{e_acc:.4f}",
                    "yes" if same else "NO: the engines disagree",
                ]
            )
            if k == 50:
                met = "MET" if ratio >= TARGET else "NOT MET"
                verdicts.append(f"T = {deadline:g} s: {met} ({ratio:.1f}x)")
    verdict = "; ".join(verdicts) if verdicts else "not assessed (K = 50 not run)"
    print_table(
        Table(
            f"Flower simulation vs edgealloc's batched engine (mel-sync, digits, {rounds} rounds)",
            [
                "T (s)",
                "K",
                "tau",
                "Flower",
                "edgealloc",
                "ratio",
                "Flower round (warm)",
                "edgealloc round",
                "round ratio",
            ],
            rows,
            [
                f"Flower: {args.cpus} ClientApp(s) at once (Ray actors), torch "
                f"{torch.__version__}, flwr {flwr.__version__}; edgealloc: 1 thread. Both on "
                + (f"{args.device} ({gpu})." if gpu else f"{args.device}."),
                "Whole calls, start-up included (Flower: Ray's start and shutdown; edgealloc: "
                "loading the data and compiling the plan).",
                f"Target: edgealloc at least {TARGET:g}x faster at K = 50: {verdict}.",
            ],
        ),
        plain,
    )
    print_table(
        Table(
            "Flower's per-round overhead (warm rounds)",
            ["T (s)", "K", "round", "nodes' training", "overhead", "overhead per node"],
            overhead_rows,
            [
                "overhead = the warm round's wall time minus the nodes' own training seconds "
                "divided by the ClientApps running at once: messaging, (de)serialising the "
                "model, scheduling the Ray actors, and the ServerApp's aggregation and "
                "evaluation."
            ],
        ),
        plain,
    )
    print_table(
        Table(
            "Same science: the two engines' models",
            [
                "T (s)",
                "K",
                "same plan",
                "one round, diff / scale",
                "whole run, diff / scale",
                "Flower acc",
                "edgealloc acc",
                "agree",
            ],
            check_rows,
            [
                f"one round: from Flower's model after round {rounds - 1}, one batched cycle "
                f"on round {rounds}'s samples against Flower's model after round {rounds} "
                f"(must be <= {ONE_ROUND_TOLERANCE:g}); whole run: the two final models."
            ],
        ),
        plain,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
