"""``edgealloc profile``: the engine's training step against the batch size, and Assumption 1.

Registered in :mod:`edgealloc.cli` as the command ``profile``. It times the
gradient (and, apart, the update) of one device's round of the training
engine on this machine (:func:`edgealloc.learn.profile.profile_step`) for
each batch size, fits the GPU training function of the FEEL paper's
Assumption 1 (eq. (27): flat up to a threshold, then linear;
:func:`edgealloc.learn.profile_fit.fit_assumption1`, exact least squares over
a continuous threshold), prints the fit and its residuals and writes into
``--out``:

``profile.csv``
    One row per batch size: ``batch,median_s,min_s,max_s,fitted_s,residual_s``.
``profile.json``
    The fit (``base_time_s``, ``slope_s``, ``threshold``, ``update_time_s``,
    RMSE, the straight line's RSS), every timed call, the machine and model.
``gpu.yaml``
    The ``devices.gpu`` block of a ``feel`` scenario with the measured
    coefficients, and the ``--set`` flags that use them.
``profile.png``
    The timed calls, the medians and the fit (like the paper's Fig. 2(b)),
    and the residuals.

PyTorch is imported only when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .._validation import check_choice
from ..errors import ValidationError
from ._common import ForceOption, console, guarded, out_option, rows_table, write_new

__all__ = ["profile_command"]

_MODELS = ("mlp", "cnn", "linear")
_FILES = ("profile.csv", "profile.json", "gpu.yaml", "profile.png")


def _snippet(coeffs: dict[str, float], header: str) -> tuple[str, str]:
    """The YAML block of a scenario and the ``--set`` flags, with the measured numbers."""
    sets = (
        f"--set gpu_base={coeffs['base_time_s']:.6g} --set gpu_slope={coeffs['slope_s']:.6g} "
        f"--set gpu_threshold={coeffs['threshold']:.6g} "
        f"--set gpu_update={coeffs['update_time_s']:.6g}"
    )
    text = (
        f"# {header}\n"
        "# Assumption 1 (eq. (27)): t(B) = base_time_s + slope_s * max(0, B - threshold);\n"
        "# eq. (28): update_time_s. Use it in a feel scenario's devices block, or as\n"
        f"#   edgealloc solve feel-gpu {sets}\n"
        "devices:\n"
        "  gpu:\n"
        f"    base_time_s: {coeffs['base_time_s']:.6g}\n"
        f"    slope_s: {coeffs['slope_s']:.6g}\n"
        f"    threshold: {coeffs['threshold']:.6g}\n"
        f"    update_time_s: {coeffs['update_time_s']:.6g}\n"
    )
    return text, sets


def _run(
    model: str,
    batches: str,
    points: int,
    device: str,
    dataset: str,
    repeats: int,
    warmup: int,
    threads: int,
    seed: int,
    out: Path,
    force: bool,
) -> None:
    from ..learn.data import DATASETS

    check_choice("--model", model, _MODELS)
    check_choice("--dataset", dataset, DATASETS)
    if points < 2:
        raise ValidationError("--points", f"must be >= 2 (got {points})")
    if repeats < 1:
        raise ValidationError("--repeats", f"must be >= 1 (got {repeats})")
    if warmup < 0:
        raise ValidationError("--warmup", f"must be >= 0 (got {warmup})")
    if threads < 1:
        raise ValidationError("--threads", f"must be >= 1 (got {threads})")
    from ..learn.profile import batch_grid

    try:
        grid = batch_grid(batches, points=points)
    except ValidationError as exc:
        raise ValidationError("--batches", exc.problem) from None
    if out.exists() and not out.is_dir():
        raise ValidationError(str(out), "exists and is not a directory")
    paths = {name: out / name for name in _FILES}
    for path in paths.values():
        if path.exists() and not force:
            raise ValidationError(str(path), "already exists (pass --force to overwrite)")
    from ..learn.engine import parse_device

    try:
        dev = parse_device(device)
    except ValidationError as exc:
        raise ValidationError("--device", exc.problem) from None
    from ..learn.data import load_dataset
    from ..learn.models import model_for
    from ..learn.profile import plot_profile, profile_step

    ds = load_dataset(dataset, seed=0)
    spec = model_for(ds, model)
    prof = profile_step(
        spec, ds, grid, device=dev, repeats=repeats, warmup=warmup, threads=threads, seed=seed
    )
    fit = prof.fit
    coeffs = prof.coefficients()
    header = (
        f"edgealloc profile: {spec.kind} ({spec.n_params:,} parameters) on {ds.name}, "
        f"{prof.device_name} ({prof.device}), {threads} thread(s), median of {repeats}"
    )
    snippet, sets = _snippet(coeffs, header)

    out.mkdir(parents=True, exist_ok=True)
    rows = prof.rows()
    lines = ["batch,median_s,min_s,max_s,fitted_s,residual_s"]
    lines += [
        f"{r['batch']},{r['median_s']!r},{r['min_s']!r},{r['max_s']!r},{r['fitted_s']!r},"
        f"{r['residual_s']!r}"
        for r in rows
    ]
    write_new(paths["profile.csv"], "\n".join(lines) + "\n", force, quiet=True)
    doc = {
        "model": {
            "kind": spec.kind,
            "n_params": spec.n_params,
            "input_shape": list(spec.input_shape),
        },
        "dataset": ds.name,
        "device": prof.device,
        "device_name": prof.device_name,
        "threads": threads,
        "repeats": repeats,
        "warmup": warmup,
        "fit": {**fit.to_dict(), "update_time_s": coeffs["update_time_s"]},
        "gpu": coeffs,
        "set": sets,
        "batch": [int(b) for b in prof.batch],
        "times_s": prof.times.tolist(),
        "update_times_s": prof.update_times.tolist(),
    }
    write_new(paths["profile.json"], json.dumps(doc, indent=2) + "\n", force, quiet=True)
    write_new(paths["gpu.yaml"], snippet, force, quiet=True)
    plot_profile(prof, paths["profile.png"])

    ms = 1e3
    con = console()
    con.print(header)
    table = [
        {
            "batch": r["batch"],
            "median (ms)": r["median_s"] * ms,
            "fit (ms)": r["fitted_s"] * ms,
            "residual (ms)": r["residual_s"] * ms,
            "residual (%)": 100 * r["residual_s"] / r["median_s"],
        }
        for r in rows
    ]
    con.print(rows_table(table, title="gradient time per batch size (eq. (27) fit)"))
    con.print(
        f"fit: t(B) = {fit.base_time * ms:.4g} ms + {fit.slope * ms:.4g} ms x max(0, B - "
        f"{fit.threshold:.4g}); update {coeffs['update_time_s'] * ms:.4g} ms; RMSE "
        f"{fit.rmse * ms:.3g} ms, largest residual {100 * fit.max_relative_residual:.3g} % "
        f"({fit.how}; a straight line leaves {fit.linear_rss / max(fit.rss, 1e-300):.3g}x the "
        "squared residuals)"
    )
    if prof.flat:
        con.print(
            f"note: no linear region in the measured batches (the fit is a constant); the "
            f"written slope {coeffs['slope_s'] * ms:.4g} ms per sample assumes the throughput "
            f"at the largest batch, B_th / t_l (measure larger batches to replace it)"
        )
    if prof.device.startswith("cpu"):
        con.print(
            "note: on a CPU the step grows almost linearly from the smallest batches (little "
            "parallel width to fill), so the fitted threshold is small"
        )
    if fit.threshold > 128:
        con.print(
            f"note: the threshold exceeds the presets' max_batch = 128; add --set "
            f"Bmax={int(fit.threshold) + 1} (or more) to use it"
        )
    con.print(f"use: edgealloc solve feel-gpu {sets}")
    for path in paths.values():
        con.print(f"wrote {path}")


def profile_command(
    model: Annotated[str, typer.Option("--model", help="mlp, cnn or linear.")] = "cnn",
    batches: Annotated[
        str,
        typer.Option(
            "--batches",
            help="Batch sizes: A..B (about --points sizes, geometric), A..B:STEP, or a list "
            "such as 1,8,64.",
        ),
    ] = "1..256",
    points: Annotated[int, typer.Option("--points", help="Batch sizes of an A..B range.")] = 24,
    device: Annotated[
        str, typer.Option("--device", help="PyTorch device: cpu, cuda, cuda:N or mps.")
    ] = "cpu",
    dataset: Annotated[
        str, typer.Option("--dataset", help="digits, mnist1d, linear, mnist or cifar10.")
    ] = "digits",
    repeats: Annotated[
        int, typer.Option("--repeats", help="Timed calls per batch size (the median is fitted).")
    ] = 7,
    warmup: Annotated[int, typer.Option("--warmup", help="Untimed calls per batch size.")] = 2,
    threads: Annotated[
        int, typer.Option("--threads", help="PyTorch threads while timing (training uses 1).")
    ] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the model's parameters.")] = 0,
    out: Annotated[
        Path, out_option("Directory for profile.csv, profile.json, gpu.yaml, profile.png.")
    ] = Path("edgealloc-profile"),
    force: ForceOption = False,
) -> None:
    """Time the engine's training step against the batch size and fit Assumption 1.

    Fits t(B) = t_l + c max(0, B - B_th) (the FEEL paper's eq. (27)) by exact
    least squares and writes the coefficients as a feel scenario's gpu block
    (gpu.yaml) with the --set flags that use them. On a CPU the curve is close
    to linear from the start, so the threshold comes out small. Example:
    edgealloc profile --model cnn --batches 1..256 --device cuda -o prof.
    """
    guarded(_run)(
        model, batches, points, device, dataset, repeats, warmup, threads, seed, out, force
    )
