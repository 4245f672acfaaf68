r"""Benchmark: batched multi-learner training versus the sequential per-learner loop.

Run ``python benchmarks/bench_learn.py`` (full, about a minute at 1 thread) or with
``--quick`` (small sizes, seconds). Needs PyTorch (``pip install
'edgealloc[learn]'``).

One global MEL cycle (``edgealloc.learn.engine.local_sgd_cycle``, async
paper eqs. (1)-(3)) on K = 10, 50, 100 learners: learner k holds
:math:`d_k \sim U\{50..100\}` digits-like samples (64 features in [0, 1],
10 classes from a random linear teacher) and runs :math:`\tau_k \sim
U\{1..5\}` full-batch gradient steps, then the :math:`d_k`-weighted average.
Timed: ``batched=False`` (the reference: a Python loop over the learners,
``nn.Module``, ``backward``, manual SGD) against ``batched=True`` with both
back-ends, ``bmm`` (hand-written back-propagation with batched matrix
products; the default for dense nets) and ``vmap`` (``torch.func``). Median
wall time per cycle over repeats after one warm-up cycle.

Tables: the MEL papers' network (64-300-124-60-10, the brief's workload;
target: batched at least 5x faster than sequential at K = 50), then the same
cycle for a linear model (64-10) and the small CNN, for context. A last table
times the product's own workload: the ``mel-sync`` preset compiled for that
network on scikit-learn's digits (``learn.run.scenario_for_model``, every
training sample shipped each cycle), K = 20, 50, 100, the ``optimal`` and
``equal`` allocations' d_k, and the first :data:`SCENARIO_STEPS` of their
tau local steps (all learners run the same tau in sync MEL, so the time per
step does not depend on how many there are). Each row also
gives the *useful* FLOP rate (:math:`\sum_k \tau_k d_k` times the model's
standard training FLOPs per sample, over the time), next to the rate of one
large ``2048 x 2048`` matrix product on the same threads: a loop that already
runs near that rate is compute-bound, and no batching can beat it by more than
the ratio of the two. Every batched model must equal the sequential one to
1e-5 (relative to the parameter scale), or the script exits with status 1.

``--threads`` sets ``torch.set_num_threads`` (default 1: on a small shared
machine, a second intra-op thread can slow small matrix products down many
times over, which would flatter batching). ``--device cuda`` (or ``mps``)
runs both engines there instead (the data start on the CPU, as in training;
every timed call ends with a device synchronisation). On a GPU the sequential
loop is bound by kernel launches rather than arithmetic, the case batching is
for; on the CPU it is bound by arithmetic, and the large-GEMM bound above
applies.

All ratios are measured in the same run; nothing is quoted.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from _common import (
    Table,
    add_common_args,
    fmt_ratio,
    fmt_seconds,
    machine_facts,
    print_table,
    time_call,
    use_plain,
)

if TYPE_CHECKING:
    from edgealloc.learn.models import ModelSpec

#: Learner counts (full and quick).
SIZES_FULL = (10, 50, 100)
SIZES_QUICK = (5, 10)
#: The target: batched at least this much faster than sequential ...
TARGET_SPEEDUP = 5.0
#: ... at this many learners.
TARGET_K = 50
#: Largest allowed relative parameter difference between batched and sequential.
TOLERANCE = 1e-5
#: Sample counts d_k and local steps tau_k are drawn uniformly from these ranges.
SAMPLES = (50, 100)
STEPS = (1, 5)
#: Learner counts of the product-workload table (full and quick) ...
SCENARIO_SIZES_FULL = (20, 50, 100)
SCENARIO_SIZES_QUICK = (10,)
#: ... and the local steps timed per cycle there.
SCENARIO_STEPS = 5
FEATURES = 64
CLASSES = 10


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def instance(
    k: int, seed: int, spec: ModelSpec
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """K learners' data (digits-like: features in [0, 1], labels of a linear teacher) and tau."""
    rng = np.random.default_rng(seed)
    d = rng.integers(SAMPLES[0], SAMPLES[1] + 1, size=k)
    tau = rng.integers(STEPS[0], STEPS[1] + 1, size=k)
    teacher = rng.normal(size=(spec.n_features, CLASSES))
    xs, ys = [], []
    for n in d:
        x = rng.random((int(n), *spec.input_shape), dtype=np.float32)
        xs.append(x)
        ys.append(np.argmax(x.reshape(int(n), -1) @ teacher, axis=1))
    return xs, ys, tau


def synchronize(device: str) -> None:
    """Wait for the device's queued kernels (a no-op on the CPU)."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    elif device == "mps":
        torch.mps.synchronize()


def gemm_rate(repeats: int = 3, device: str = "cpu") -> float:
    """GFLOP/s of one large float32 matrix product (2048 x 2048) on the device (CPU: threads)."""
    import torch

    a = torch.rand(2048, 2048, device=device)
    b = torch.rand(2048, 2048, device=device)
    a @ b
    synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * 2048**3 / best / 1e9


def _device_name(device: str) -> str:
    import torch

    return torch.cuda.get_device_name(device) if device.startswith("cuda") else device


def _rel_diff(a: dict, b: dict) -> float:
    diff = max(float((a[n] - b[n]).abs().max()) for n in a)
    scale = max(float(b[n].abs().max()) for n in b)
    return diff / max(scale, 1e-12)


def model_table(
    kind: str,
    sizes: Sequence[int],
    threads: int,
    repeats: int,
    seed: int,
    peak: float,
    device: str = "cpu",
) -> tuple[Table, bool, float | None]:
    """One model: batched versus sequential per K. Returns (table, all equal, ratio at K=50)."""
    from edgealloc.learn.engine import init_params, local_sgd_cycle
    from edgealloc.learn.models import ModelSpec

    if kind == "mlp":
        spec = ModelSpec("mlp", (FEATURES,), CLASSES)
        label = f"mlp {FEATURES}-300-124-60-{CLASSES} (the MEL papers' network)"
    elif kind == "linear":
        spec = ModelSpec("linear", (FEATURES,), CLASSES)
        label = f"linear {FEATURES}-{CLASSES} (logistic regression)"
    else:
        spec = ModelSpec("cnn", (1, 8, 8), CLASSES)
        label = "cnn on 1x8x8 (conv 16, conv 32, dense)"
    backends = ["bmm", "vmap"] if kind in ("mlp", "linear") else ["vmap"]
    flops = spec.flops_per_sample("standard")
    params = init_params(spec, seed, device=device)
    rows = []
    ok = True
    target_ratio = None
    for k in sizes:
        xs, ys, tau = instance(k, seed + k, spec)
        work = int(sum(int(t) * len(x) for t, x in zip(tau, xs, strict=True)))

        def seq(xs=xs, ys=ys, tau=tau):
            out = local_sgd_cycle(spec, params, xs, ys, tau, lr=0.1, batched=False)
            synchronize(device)
            return out

        t_seq = time_call(seq, repeats=repeats, warmup=1)
        ref = t_seq.value[0]
        row = [str(k), str(threads), f"{work:,}", fmt_seconds(t_seq.median)]
        diffs = []
        for i, backend in enumerate(backends):

            def bat(xs=xs, ys=ys, tau=tau, backend=backend):
                out = local_sgd_cycle(spec, params, xs, ys, tau, lr=0.1, backend=backend)
                synchronize(device)
                return out

            t_bat = time_call(bat, repeats=repeats, warmup=1)
            diffs.append(_rel_diff(t_bat.value[0], ref))
            row += [fmt_seconds(t_bat.median), fmt_ratio(t_seq.median, t_bat.median)]
            if i == 0:
                rate_bat = work * flops / t_bat.median / 1e9
                if k == TARGET_K:
                    target_ratio = t_seq.median / t_bat.median
        rate_seq = work * flops / t_seq.median / 1e9
        if k == TARGET_K or (k == max(sizes) and TARGET_K not in sizes):
            bound_k, bound_rate = k, rate_seq
        worst = max(diffs)
        good = worst <= TOLERANCE
        ok &= good
        row += [f"{rate_seq:.1f}", f"{rate_bat:.1f}", ("ok" if good else "NO:") + f" {worst:.1e}"]
        rows.append(row)
    columns = ["K", "threads", "sum tau_k d_k", "sequential"]
    for i, backend in enumerate(backends):
        columns += [f"batched ({backend}{', default' if i == 0 else ''})", f"ratio ({backend})"]
    columns += ["seq. GFLOP/s", "batched GFLOP/s", "max rel. diff"]
    where = "" if device == "cpu" else f" on {device}"
    table = Table(f"Batched vs sequential, one MEL cycle{where}: {label}", columns, rows)
    table.notes.append(
        f"Median of {repeats} cycles after 1 warm-up; d_k ~ U{{{SAMPLES[0]}..{SAMPLES[1]}}}, "
        f"tau_k ~ U{{{STEPS[0]}..{STEPS[1]}}}, lr 0.1; useful FLOPs = sum tau_k d_k x "
        f"{flops:,} (standard training FLOPs per sample). Large-GEMM rate on "
        f"{f'{threads} thread(s)' if device == 'cpu' else device}: {peak:.1f} GFLOP/s."
    )
    table.notes.append(
        f"At K = {bound_k} the sequential loop runs at {bound_rate:.1f} GFLOP/s, "
        f"{100 * bound_rate / peak:.0f}% of the large-GEMM rate: batching removes the loop's "
        f"per-learner overhead, not the arithmetic, so even at the large-GEMM rate it could "
        f"be at most {peak / bound_rate:.1f}x faster here."
    )
    return table, ok, target_ratio


def scenario_table(
    sizes: Sequence[int], threads: int, repeats: int, seed: int, peak: float, device: str = "cpu"
) -> tuple[Table, bool, float | None]:
    """The product's workload: mel-sync on digits, the optimal and equal allocations' d_k."""
    import edgealloc
    from edgealloc.learn import load_dataset
    from edgealloc.learn.engine import init_params, local_sgd_cycle
    from edgealloc.learn.models import model_for
    from edgealloc.learn.run import scenario_for_model

    data = load_dataset("digits", seed=seed)
    spec = model_for(data, "mlp")
    flops = spec.flops_per_sample("standard")
    params = init_params(spec, seed, device=device)
    rows, ok, target_ratio, bound = [], True, None, None
    for k in sizes:
        problem = scenario_for_model("mel-sync", spec, {"devices": k}, total_samples=data.n_train)
        for scheme in ("optimal", "equal"):
            res = edgealloc.solve(problem, scheme)
            d = np.asarray(res.samples, dtype=np.int64)
            pick = np.random.default_rng(seed).permutation(data.n_train)[: int(d.sum())]
            cut = np.cumsum(d)[:-1]
            xs, ys = np.split(data.x_train[pick], cut), np.split(data.y_train[pick], cut)
            steps = np.minimum(np.asarray(res.tau, dtype=np.int64), SCENARIO_STEPS)
            work = int((steps * d).sum())

            def cycle(batched: bool, xs=xs, ys=ys, steps=steps):
                out = local_sgd_cycle(spec, params, xs, ys, steps, lr=0.1, batched=batched)
                synchronize(device)
                return out

            t_seq = time_call(lambda: cycle(False), repeats=repeats, warmup=1)
            t_bat = time_call(lambda: cycle(True), repeats=repeats, warmup=1)
            diff = _rel_diff(t_bat.value[0], t_seq.value[0])
            good = diff <= TOLERANCE
            ok &= good
            ratio = t_seq.median / t_bat.median
            if k == TARGET_K and scheme == "optimal":
                target_ratio = ratio
                bound = (k, work * flops / t_seq.median / 1e9)
            used = d[d > 0]
            rows.append(
                [
                    str(k),
                    scheme,
                    f"{int(np.max(res.tau)):,}",
                    f"{used.min()}..{used.max()} (mean {used.mean():.1f})",
                    fmt_seconds(t_seq.median),
                    fmt_seconds(t_bat.median),
                    fmt_ratio(t_seq.median, t_bat.median),
                    f"{work * flops / t_seq.median / 1e9:.1f}",
                    f"{work * flops / t_bat.median / 1e9:.1f}",
                    ("ok" if good else "NO:") + f" {diff:.1e}",
                ]
            )
    where = "" if device == "cpu" else f" on {device}"
    table = Table(
        f"The product's workload{where}: mel-sync on digits ({data.n_train} training samples, "
        f"{spec.n_features}-300-124-60-10), {SCENARIO_STEPS} local steps",
        [
            "K",
            "allocation",
            "tau",
            "d_k",
            "sequential",
            "batched (bmm)",
            "ratio",
            "seq. GFLOP/s",
            "batched GFLOP/s",
            "max rel. diff",
        ],
        rows,
    )
    table.notes.append(
        f"`scenario_for_model('mel-sync', spec, {{'devices': K}}, total_samples="
        f"{data.n_train})` solved with each scheme; one cycle of its d_k with the first "
        f"{SCENARIO_STEPS} of its tau local steps (tau is the same for every learner), lr 0.1, "
        f"median of {repeats} after 1 warm-up. Large-GEMM rate: {peak:.1f} GFLOP/s."
    )
    if bound is not None:
        table.notes.append(
            f"At K = {bound[0]} (optimal) the sequential loop runs at {bound[1]:.1f} GFLOP/s: "
            f"even at the large-GEMM rate, batching could be at most {peak / bound[1]:.1f}x "
            "faster here."
        )
    return table, ok, target_ratio


def main(argv: Sequence[str] | None = None) -> int:
    """Run the learning-engine benchmark; 0, or 1 if batched and sequential models differ."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    parser.add_argument(
        "--sizes", type=_ints, default=None, help="learner counts K (default 10,50,100; quick 5,10)"
    )
    parser.add_argument(
        "--models",
        default=None,
        help="comma-separated: mlp, linear, cnn (default all; quick mlp,linear)",
    )
    parser.add_argument(
        "--threads",
        type=_ints,
        default=[1],
        help="torch intra-op thread counts to run, e.g. '1,2' (default 1)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed cycles per measurement (default 7; quick 2)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the model")
    parser.add_argument(
        "--device", default="cpu", help="PyTorch device of both engines: cpu, cuda, mps"
    )
    args = parser.parse_args(argv)
    models = [m.strip() for m in (args.models or "").split(",") if m.strip()]
    models = models or (["mlp", "linear"] if args.quick else ["mlp", "linear", "cnn"])
    for m in models:
        if m not in ("mlp", "linear", "cnn"):
            parser.error(f"--models: unknown model {m!r} (use mlp, linear, cnn)")
    if any(t < 1 for t in args.threads):
        parser.error("--threads: thread counts must be >= 1")
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: pip install 'edgealloc[learn]'", file=sys.stderr)
        return 2
    from edgealloc.errors import ValidationError
    from edgealloc.learn.engine import parse_device

    try:
        device = str(parse_device(args.device))
    except ValidationError as exc:
        parser.error(f"--device: {exc.problem}")
    quick = args.quick
    plain = use_plain(args)
    sizes = args.sizes or list(SIZES_QUICK if quick else SIZES_FULL)
    repeats = args.repeats or (2 if quick else 7)

    mode = "quick" if quick else "full"
    print(f"# edgealloc benchmark: batched multi-learner training ({mode})\n")
    facts = machine_facts()
    facts["torch"] = torch.__version__
    facts["torch default threads"] = str(torch.get_num_threads())
    facts["device"] = device if device == "cpu" else f"{device} ({_device_name(device)})"
    print_table(Table("Machine", ["fact", "value"], [[k, v] for k, v in facts.items()]), plain)

    default_threads = torch.get_num_threads()
    where = "" if device == "cpu" else f", {device}"
    all_ok = True
    verdicts = []
    try:
        for threads in args.threads:
            torch.set_num_threads(threads)
            peak = gemm_rate(device=device)
            for kind in models:
                table, ok, ratio = model_table(
                    kind, sizes, threads, repeats, args.seed, peak, device
                )
                all_ok &= ok
                if kind == "mlp":
                    if ratio is None:
                        verdict = f"not assessed (the target is stated for K = {TARGET_K})"
                    else:
                        verdict = "MET" if ratio >= TARGET_SPEEDUP else "NOT MET"
                        verdict += f" ({ratio:.2f}x)"
                    table.notes.append(
                        f"Target: batched >= {TARGET_SPEEDUP:g}x faster than sequential at "
                        f"K = {TARGET_K} ({threads} thread(s){where}): {verdict}."
                    )
                    verdicts.append(f"{threads} thread(s){where}: {verdict}")
                print_table(table, plain)
            if "mlp" in models:
                table, ok, ratio = scenario_table(
                    SCENARIO_SIZES_QUICK if quick else SCENARIO_SIZES_FULL,
                    threads,
                    repeats,
                    args.seed,
                    peak,
                    device,
                )
                all_ok &= ok
                if ratio is not None:
                    verdict = "MET" if ratio >= TARGET_SPEEDUP else "NOT MET"
                    table.notes.append(
                        f"Target on this workload: batched >= {TARGET_SPEEDUP:g}x at "
                        f"K = {TARGET_K} (optimal allocation, {threads} thread(s){where}): "
                        f"{verdict} ({ratio:.2f}x)."
                    )
                    verdicts.append(
                        f"{threads} thread(s){where}, product workload: {verdict} ({ratio:.2f}x)"
                    )
                print_table(table, plain)
    finally:
        torch.set_num_threads(default_threads)
    if not all_ok:
        print("!!! a batched model differs from the sequential reference", file=sys.stderr)
    summary = "; ".join(verdicts) if verdicts else "mlp not run"
    print(f"Summary: speed-up target at K = {TARGET_K}: {summary}.")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
