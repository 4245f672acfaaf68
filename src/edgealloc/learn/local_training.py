r"""Local epochs of mini-batch SGD on K devices at once, each on its own model.

The FEEL paper's benchmarks (Ren, Yu & Ding, IEEE JSAC 2021, Section VI-C)
train *models* on the devices rather than exchanging one gradient per round:
*individual learning* (every device trains alone until its loss converges,
then the server averages the models once) and *model-based FEEL* (every
device trains one local epoch from the global model, then the server averages
the models, McMahan et al.'s federated averaging). :func:`local_epochs` is
their common step: each device :math:`k` runs epochs of mini-batch SGD over
its own samples, in a fresh random order every epoch, with batches of
``batch_size`` samples (the last one shorter),

.. math:: w_k \leftarrow w_k - \eta \nabla F_k(w_k; \mathcal B), \qquad
          F_k(w; \mathcal B) = \frac{1}{|\mathcal B|} \sum_{n \in \mathcal B} \ell_n(w),

all devices stacked in one ``torch.func.vmap`` computation (a device whose
epoch has fewer batches than the longest sits the extra steps out). The
parameters carry a leading device axis (:func:`stack_params`);
:func:`average_params` is the weighted average the server takes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._validation import check_int
from ..errors import ValidationError
from ._inputs import _check_lr, _check_spec
from .engine import Params, _learner_grad
from .models import ModelSpec, torch

__all__ = ["average_params", "local_epochs", "stack_params"]


def stack_params(params: Mapping[str, torch.Tensor], k: int) -> Params:
    """``k`` copies of the parameters along a new leading device axis."""
    k = check_int("k", k, minimum=1)
    return {name: p.unsqueeze(0).expand(k, *p.shape).clone() for name, p in params.items()}


def average_params(stacked: Mapping[str, torch.Tensor], weights: Any) -> Params:
    """The weighted average over the device axis (weights normalised to sum 1)."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or (w < 0).any() or w.sum() <= 0:
        raise ValidationError("weights", "must be non-negative with a positive sum")
    first = next(iter(stacked.values()))
    if first.shape[0] != w.size:
        raise ValidationError("weights", f"has {w.size} entries, the stack {first.shape[0]}")
    wt = torch.from_numpy((w / w.sum()).astype(np.float32)).to(first.device)
    with torch.no_grad():
        return {name: torch.tensordot(wt, v, dims=1) for name, v in stacked.items()}


def local_epochs(
    spec: ModelSpec,
    stacked: Mapping[str, torch.Tensor],
    x: np.ndarray,
    y: np.ndarray,
    parts: Sequence[np.ndarray],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator,
) -> tuple[Params, np.ndarray]:
    """Run ``epochs`` local epochs of mini-batch SGD on every device (module docstring).

    Parameters
    ----------
    spec
        The model.
    stacked
        Per-device parameters with a leading device axis of length ``len(parts)``
        (not modified).
    x, y
        The training samples ``(n, *input_shape)`` and targets.
    parts
        Per device, the indices of its samples in ``x``.
    epochs
        Epochs to run, ``>= 1``.
    batch_size
        Samples per step, ``>= 1``.
    lr
        Learning rate :math:`\\eta`.
    rng
        Draws each epoch's order.

    Returns
    -------
    params : dict of str to torch.Tensor
        The per-device parameters after the epochs (device axis first).
    losses : numpy.ndarray
        Per device, the mean loss of its mini-batches in the last epoch
        (``nan`` for a device without data).
    """
    spec = _check_spec(spec)
    epochs = check_int("epochs", epochs, minimum=1)
    b = check_int("batch_size", batch_size, minimum=1)
    rate = _check_lr(lr)
    k = len(parts)
    first = next(iter(stacked.values()))
    if first.shape[0] != k:
        raise ValidationError("stacked", f"has {first.shape[0]} devices, parts {k}")
    device = first.device
    fn = _learner_grad(spec)
    state = {name: v.clone() for name, v in stacked.items()}
    sizes = np.array([len(p) for p in parts], dtype=np.int64)
    steps = -(-sizes // b)  # ceil
    x_all = x.reshape((len(x), *spec.input_shape))
    losses = np.full(k, np.nan)
    for _ in range(epochs):
        orders = [rng.permutation(np.asarray(p, dtype=np.int64)) for p in parts]
        loss_sum = np.zeros(k)
        for j in range(int(steps.max(initial=0))):
            idx = np.zeros((k, b), dtype=np.int64)
            mask = np.zeros((k, b), dtype=np.float32)
            for i, order in enumerate(orders):
                chunk = order[j * b : (j + 1) * b]
                idx[i, : chunk.size] = chunk
                mask[i, : chunk.size] = 1.0
            count = mask.sum(axis=1)
            inv = np.where(count > 0, 1.0 / np.maximum(count, 1.0), 0.0).astype(np.float32)
            xb = torch.from_numpy(x_all[idx]).to(device)
            yb = torch.from_numpy(y[idx]).to(device)
            mb = torch.from_numpy(mask).to(device)
            ib = torch.from_numpy(inv).to(device)
            grads, loss = fn(state, xb, yb, mb, ib)
            with torch.no_grad():
                for name, v in state.items():
                    v.add_(grads[name], alpha=-rate)
            loss_sum += np.where(count > 0, loss.detach().cpu().numpy().astype(float), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            losses = np.where(steps > 0, loss_sum / np.maximum(steps, 1), np.nan)
    if not all(math.isfinite(float(v.abs().max())) for v in state.values()):
        return state, np.full(k, np.nan)
    return state, losses
