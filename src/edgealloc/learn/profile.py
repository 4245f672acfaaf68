r"""Measure the engine's training step against the batch size: :func:`profile_step`.

Assumption 1 of the FEEL paper (Ren, Yu & Ding, IEEE JSAC 2021, eq. (27),
Fig. 2(b)) says a GPU computes a gradient in constant time up to a batch
threshold, then linearly more. :func:`profile_step` times, on this machine,
exactly what one device does in a round of
:func:`edgealloc.learn.engine.gradient_averaging_step`:

* **the gradient** (eq. (27)'s :math:`t^{L,G}`): the batch copied from NumPy
  to the device, the forward and backward pass of the batched engine
  (``torch.func.grad`` over the summed per-sample loss), the per-device loss;
* **the update** (eq. (28)'s :math:`t^{M,G}`): :math:`w - \eta g` over every
  parameter, measured apart.

Each batch size is timed ``repeats`` times after ``warmup`` untimed calls
(the first calls build ``torch.func`` transforms and, on a GPU, pick
kernels); the median is the point fitted by
:func:`edgealloc.learn.profile_fit.fit_assumption1`. On a GPU every call is
followed by ``torch.cuda.synchronize()`` so that the time includes the
kernels, not only their launch. The samples are the data set's first
:math:`B` training samples (repeated when :math:`B` exceeds the set).

On a CPU the curve is close to linear from the smallest batches (there is
little parallel width to fill), so the fit reports a small threshold.
"""

from __future__ import annotations

import dataclasses
import platform
import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_int
from ..errors import ValidationError
from ._runtime import torch_threads
from .data import Dataset
from .engine import MAX_ELEMENTS, _averaged_gradient_batched, init_params, parse_device
from .models import ModelSpec, torch
from .profile_fit import Assumption1Fit, fit_assumption1

__all__ = ["Profile", "batch_grid", "plot_profile", "profile_step"]


def batch_grid(text: str, *, points: int = 24) -> list[int]:
    """Batch sizes from ``"A..B"`` (about ``points`` sizes, geometric), ``"A..B:S"`` or a list.

    >>> batch_grid("1..8")
    [1, 2, 3, 4, 5, 6, 7, 8]
    >>> batch_grid("8..32:8"), batch_grid("1,4,16")
    ([8, 16, 24, 32], [1, 4, 16])
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("batches", f"must be A..B, A..B:STEP or a list (got {text!r})")
    s = text.strip()
    try:
        if ".." in s:
            lo_s, rest = s.split("..", 1)
            step = None
            if ":" in rest:
                rest, step_s = rest.split(":", 1)
                step = int(step_s)
            lo, hi = int(lo_s), int(rest)
            if lo < 1 or hi < lo or (step is not None and step < 1):
                raise ValueError
            if step is not None:
                out = list(range(lo, hi + 1, step))
            else:
                geo = np.geomspace(lo, hi, max(points, 2))
                out = sorted({round(float(v)) for v in geo} | {lo, hi})
        else:
            out = sorted({int(v) for v in s.split(",") if v.strip()})
            if not out or out[0] < 1:
                raise ValueError
    except ValueError:
        raise ValidationError(
            "batches", f"must be A..B, A..B:STEP or a list of integers >= 1 (got {text!r})"
        ) from None
    if len(out) < 2:
        raise ValidationError("batches", f"needs at least two batch sizes (got {text!r})")
    return out


@dataclasses.dataclass(frozen=True)
class Profile:
    """What :func:`profile_step` measured, and the fit of Assumption 1.

    Attributes
    ----------
    batch
        Batch sizes timed.
    times
        ``(len(batch), repeats)`` seconds of the gradient per call.
    median
        Median per batch size (the points fitted).
    update_times
        Seconds of the update per call.
    fit
        :func:`~edgealloc.learn.profile_fit.fit_assumption1` of the medians.
    device, device_name, spec, dataset, threads
        Where and what was timed.
    """

    batch: np.ndarray
    times: np.ndarray
    median: np.ndarray
    update_times: np.ndarray
    fit: Assumption1Fit
    device: str
    device_name: str
    spec: ModelSpec
    dataset: str
    threads: int | None

    @property
    def update_time(self) -> float:
        """Median update time (s): eq. (28)'s :math:`t^{M,G}`."""
        return float(np.median(self.update_times))

    @property
    def flat(self) -> bool:
        """The fit found no linear region in the measured range (a constant, ``slope == 0``)."""
        return self.fit.slope <= 0.0

    def coefficients(self) -> dict[str, float]:
        r"""The ``devices.gpu`` fields of a ``feel`` scenario.

        When the measured range shows no linear region (:attr:`flat`), a
        scenario still needs a slope (``> 0``): beyond the largest batch
        measured the device is taken as saturated at the throughput it has
        there, :math:`B^{th} / t^\ell` samples per second, i.e.
        :math:`c = t^\ell / B^{th}` (an extrapolation; measure larger
        batches to replace it).
        """
        slope = float(self.fit.slope)
        if self.flat:
            slope = float(self.fit.base_time) / float(self.fit.threshold)
        return {
            "base_time_s": float(self.fit.base_time),
            "slope_s": slope,
            "threshold": float(self.fit.threshold),
            "update_time_s": self.update_time,
        }

    def rows(self) -> list[dict[str, Any]]:
        """One row per batch size: median, min, max, fitted, residual."""
        out = []
        for i, b in enumerate(self.batch):
            out.append(
                {
                    "batch": int(b),
                    "median_s": float(self.median[i]),
                    "min_s": float(self.times[i].min()),
                    "max_s": float(self.times[i].max()),
                    "fitted_s": float(self.fit.fitted[i]),
                    "residual_s": float(self.fit.residuals[i]),
                }
            )
        return out


def _device_name(dev: Any) -> str:
    if dev.type == "cuda":
        return str(torch.cuda.get_device_name(dev))
    if dev.type == "cpu":
        return f"CPU ({platform.processor() or platform.machine()})"
    return str(dev)


def profile_step(
    spec: ModelSpec,
    dataset: Dataset,
    batches: Sequence[int],
    *,
    device: object = None,
    repeats: int = 5,
    warmup: int = 2,
    threads: int | None = 1,
    seed: int = 0,
) -> Profile:
    """Time the engine's gradient and update against the batch size and fit eq. (27).

    Parameters
    ----------
    spec
        The model.
    dataset
        Where the samples come from (its training set).
    batches
        Batch sizes, at least two distinct, each ``>= 1``.
    device
        PyTorch device (:func:`~edgealloc.learn.engine.parse_device`).
    repeats, warmup
        Timed and untimed calls per batch size.
    threads
        PyTorch intra-op threads while timing (``None``: unchanged; the
        engine trains with 1 by default).
    seed
        Seed of the model's parameters.

    Returns
    -------
    Profile
    """
    dev = parse_device(device)
    repeats = check_int("repeats", repeats, minimum=1)
    warmup = check_int("warmup", warmup, minimum=0)
    sizes = sorted({check_int("batches", int(b), minimum=1) for b in batches})
    if len(sizes) < 2:
        raise ValidationError("batches", "needs at least two distinct batch sizes")
    params = init_params(spec, seed, device=dev)
    x_all = dataset.x_train.reshape((dataset.n_train, *spec.input_shape))
    y_all = dataset.y_train
    cuda = dev.type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(dev)

    times = np.empty((len(sizes), repeats))
    with torch_threads(threads):
        for i, b in enumerate(sizes):
            idx = np.resize(np.arange(dataset.n_train), b)
            x, y = [x_all[idx]], [y_all[idx]]
            counts = np.array([b])
            for rep in range(warmup + repeats):
                sync()
                t0 = time.perf_counter()
                _averaged_gradient_batched(spec, params, x, y, counts, MAX_ELEMENTS)
                sync()
                if rep >= warmup:
                    times[i, rep - warmup] = time.perf_counter() - t0
        g = {name: torch.zeros_like(p) for name, p in params.items()}
        updates = []
        with torch.no_grad():
            for rep in range(warmup + repeats):
                sync()
                t0 = time.perf_counter()
                _ = {name: p.add(g[name], alpha=-0.1) for name, p in params.items()}
                sync()
                if rep >= warmup:
                    updates.append(time.perf_counter() - t0)
    median = np.array([statistics.median(row) for row in times])
    fit = fit_assumption1(np.array(sizes, dtype=float), median)
    return Profile(
        batch=np.array(sizes, dtype=np.int64),
        times=times,
        median=median,
        update_times=np.array(updates),
        fit=fit,
        device=str(dev),
        device_name=_device_name(dev),
        spec=spec,
        dataset=dataset.name,
        threads=threads,
    )


def plot_profile(profile: Profile, path: Any) -> Any:
    """The measured points and the fitted eq. (27), like the paper's Fig. 2(b).

    Left: every timed call (small dots), the medians and the fit, with the
    threshold marked; right: the residuals of the medians.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .._style import GRID, LIMIT_COLOR, MUTED, scheme_color
    from ._checks import output_file
    from .profile_fit import gpu_curve

    p = output_file(path)
    fit = profile.fit
    b = profile.batch.astype(float)
    fig = Figure(figsize=(11.0, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax, axr = fig.subplots(1, 2, width_ratios=(2.2, 1))
    ms = 1e3
    reps = profile.times.shape[1]
    ax.plot(
        np.repeat(b, reps),
        profile.times.ravel() * ms,
        ".",
        color=MUTED,
        ms=3,
        label=f"each timed call ({reps} per batch)",
    )
    color = scheme_color("optimal")
    ax.plot(b, profile.median * ms, "o", color=color, ms=5, label="median")
    grid = np.linspace(b.min(), b.max(), 400)
    ax.plot(
        grid,
        gpu_curve(grid, fit.base_time, fit.slope, fit.threshold) * ms,
        "-",
        color=scheme_color("paper"),
        lw=1.8,
        label=f"fit: {fit.base_time * ms:.3g} ms + {fit.slope * ms:.3g} ms x "
        f"max(0, B - {fit.threshold:.3g})",
    )
    ax.axvline(fit.threshold, color=LIMIT_COLOR, lw=0.8, ls="--", label="threshold B_th")
    ax.set_xlabel("batch size B (samples)")
    ax.set_ylabel("gradient time (ms)")
    ax.grid(True, **GRID)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(
        f"{profile.spec.kind} ({profile.spec.n_params:,} parameters) on {profile.dataset}, "
        f"{profile.device_name}",
        fontsize=10,
    )
    axr.axhline(0, color=MUTED, lw=0.8)
    axr.plot(b, fit.residuals * ms, "o-", color=color, ms=4, lw=1)
    axr.set_xlabel("batch size B (samples)")
    axr.set_ylabel("median - fit (ms)")
    axr.grid(True, **GRID)
    axr.set_title(f"residuals (RMSE {fit.rmse * ms:.3g} ms)", fontsize=10)
    fig.suptitle("Assumption 1 (eq. (27)) fitted to the engine's training step", fontsize=11)
    fig.savefig(p, dpi=110)
    return p
