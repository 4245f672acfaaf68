r"""The training engine: local SGD cycles and gradient averaging over K learners.

One global cycle of mobile edge learning ([MEL-async] Section 2.1): the
orchestrator sends the global parameters :math:`w` to every learner
:math:`k`, which runs :math:`\tau_k` full-batch gradient-descent steps on its
:math:`d_k` samples,

.. math::

    w_k[l+1] = w_k[l] - \eta \nabla F_k(w_k[l]), \qquad
    F_k(w) = \frac{1}{d_k} \sum_{n=1}^{d_k} F_n(w),
    \qquad \text{([MEL-async] eqs. (1)-(2))}

starting from :math:`w_k[0] = w`, and the new global model is the
:math:`d_k`-weighted average ([MEL-async] eq. (3))

.. math::

    w = \frac{1}{d} \sum_k d_k w_k[\tau_k], \qquad d = \sum_k d_k .

Synchronous MEL has :math:`\tau_k = \tau` for all :math:`k`; asynchronous MEL
a :math:`\tau_k` per learner — :func:`local_sgd_cycle` does both. Gradient
averaging ([FEEL] eqs. (1)-(2)) is :func:`gradient_averaging_step`.

Reading of the edge cases (the papers do not have them): a learner with
:math:`d_k = 0` (no data) or :math:`\tau_k = 0` (no update) does not take
part in the average, and :math:`d` sums the participants only; when nobody
takes part, the global parameters are returned unchanged.

Losses: cross-entropy (classification) or :math:`\tfrac12` squared error
summed over the outputs (regression), averaged over the learner's samples.
Everything is float32 and deterministic (no random draws at all: the data
decide the batches).

Device: every function computes on the device of the parameters it is given
(:func:`init_params` ``device=``, e.g. ``"cuda"``; :func:`parse_device`
checks a name); the data arrive as NumPy arrays and are copied there, and the
returned parameters stay there. The arithmetic is the same on every device,
so the batched and the sequential engines agree on each to float32 rounding.

Two implementations of each step, which agree to float32 rounding (the tests
require 1e-5, relative to the parameter scale):

``batched=False``
    The reference: a plain Python loop over the learners, an ``nn.Module``,
    ``loss.backward()`` and a manual SGD update ``p -= lr * p.grad``.
``batched=True``
    All learners in one process with stacked parameters (a leading learner
    axis): ``torch.func.vmap`` over ``torch.func.grad_and_value`` of
    ``torch.func.functional_call`` (``backend="vmap"``, any model), or, for
    the dense nets (``mlp``, ``linear``), hand-written back-propagation with
    batched matrix products (``backend="bmm"``, the default for them:
    faster, see ``benchmarks/bench_learn.py``). Each learner's data is
    zero-padded to the largest :math:`d_k` of its chunk and its loss is the
    masked sum divided by :math:`d_k`. Unequal :math:`\tau_k`: within a chunk the learners are
    sorted by :math:`\tau_k` (descending), so at step :math:`l` the learners
    still running (:math:`\tau_k > l`) are a prefix of the stack; only that
    prefix is computed and updated, the others are frozen — the step mask
    costs no computation.

Chunk rule (batched): learners with data are sorted by :math:`d_k`
(descending) and cut greedily into chunks; a learner starts a new chunk when
(a) its :math:`d_k` is below ``pad_ratio`` (default 0.75) times the chunk's
largest, which bounds the padding waste to ``1 / pad_ratio``, or (b) the
chunk would exceed ``max_elements`` float32 values, counted as
``n_learners * (max_d * per_sample + 4 * n_params)`` with ``per_sample =
prod(input_shape) + 3 * activation_elements`` (the input, and each layer's
output, saved copy and gradient). A single learner larger than the budget
is a chunk of its own. The default budget depends on the back-end and was
chosen by measurement (``benchmarks/bench_learn.py``, 1 thread): 2**22
values (16 MiB) for ``bmm``, whose elementwise work runs faster on
cache-sized chunks, and :data:`MAX_ELEMENTS` = 2**24 (64 MiB) for ``vmap``,
whose per-call overhead favours fewer, larger chunks; :data:`MAX_ELEMENTS`
also bounds the slices of :func:`gradient_averaging_step` and
:func:`evaluate`.

References
----------
[MEL-async] The asynchronous MEL paper: heterogeneity-aware task allocation
with time and energy constraints (Mohammad, Sorour & Hefeida, arXiv:2012.00143),
Section 2.1, eqs. (1)-(3).
[FEEL] Ren, J., Yu, G., Ding, G. "Accelerating DNN training in wireless
federated edge learning systems" (Ren, Yu & Ding, IEEE JSAC 2021),
Section II-A, eqs. (1)-(2).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from edgealloc.errors import ValidationError

from ._inputs import (
    _check_chunk_rule,
    _check_learners,
    _check_lr,
    _check_params,
    _check_spec,
    _check_tau,
    _check_xy,
)
from .models import ModelSpec, _template, torch

__all__ = [
    "BACKENDS",
    "BMM_ELEMENTS",
    "MAX_ELEMENTS",
    "PAD_RATIO",
    "Params",
    "evaluate",
    "gradient_averaging_step",
    "init_params",
    "local_sgd_cycle",
    "parse_device",
    "plan_chunks",
]

#: Parameters of a model by name (``module.named_parameters()`` names).
Params = dict[str, torch.Tensor]

#: Default memory budget of one batched chunk or slice, in float32 values (64 MiB).
MAX_ELEMENTS = 2**24
#: Default chunk budget of the ``bmm`` back-end (16 MiB: cache-sized chunks measured faster).
BMM_ELEMENTS = 2**22
#: Default padding bound of the chunk rule: a chunk's d_k stay within this ratio.
PAD_RATIO = 0.75
#: Back-ends of the batched local SGD cycle.
BACKENDS: tuple[str, ...] = ("auto", "vmap", "bmm")


# ---------------------------------------------------------------------------
# Parameters and inputs
# ---------------------------------------------------------------------------
def parse_device(device: object = None) -> torch.device:
    """The PyTorch device to train on, checked: ``None`` or ``"cpu"``, ``"cuda[:i]"``, ``"mps"``.

    Parameters
    ----------
    device
        A name or a :class:`torch.device`; ``None`` means the CPU.

    Returns
    -------
    torch.device

    Raises
    ------
    ValidationError
        An unknown name, or a device this PyTorch build or machine does not
        have (e.g. ``"cuda"`` with the CPU-only build).

    Examples
    --------
    >>> parse_device("cpu")
    device(type='cpu')
    """
    if device is None:
        return torch.device("cpu")
    if not isinstance(device, str | torch.device):
        raise ValidationError(
            "device", f"must be a device name such as 'cpu' or 'cuda' (got {device!r})"
        )
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValidationError(
            "device", f"unknown device {device!r} (use cpu, cuda, cuda:N or mps)"
        ) from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValidationError(
                "device",
                f"{device!r} is not available: this PyTorch ({torch.__version__}) sees no CUDA GPU",
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValidationError(
                "device", f"{device!r} is not available: {torch.cuda.device_count()} CUDA GPU(s)"
            )
        return dev
    if dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValidationError("device", f"{device!r} is not available on this machine")
        return dev
    raise ValidationError("device", f"unsupported device {device!r} (use cpu, cuda, cuda:N or mps)")


def init_params(spec: ModelSpec, seed: int, *, device: object = None) -> Params:
    """Initial global parameters: ``spec.build(seed)``'s, detached float32 copies.

    Parameters
    ----------
    spec
        The model.
    seed
        Seed of the initialisation (:meth:`ModelSpec.build`): the same values
        on every device.
    device
        Where the parameters live, and so where the engine trains them
        (:func:`parse_device`; default the CPU).

    Returns
    -------
    dict of str to torch.Tensor
        One tensor per named parameter of the module.
    """
    dev = parse_device(device)
    module = spec.build(seed)
    return {name: p.detach().clone().to(dev) for name, p in module.named_parameters()}


def _device_of(params: Params) -> torch.device:
    return next(iter(params.values())).device


def _check_backend(spec: ModelSpec, backend: object) -> str:
    if backend not in BACKENDS:
        raise ValidationError("backend", f"must be one of {', '.join(BACKENDS)} (got {backend!r})")
    dense = spec.kind in ("mlp", "linear")
    if backend == "bmm" and not dense:
        raise ValidationError(
            "backend", f"'bmm' needs a dense net (mlp, linear), not a {spec.kind}"
        )
    if backend == "auto":
        return "bmm" if dense else "vmap"
    return str(backend)


# ---------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------
def _per_sample_loss(spec: ModelSpec, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample loss: cross-entropy, or half the squared error summed over outputs."""
    if spec.task == "classification":
        return torch.nn.functional.cross_entropy(out, y, reduction="none")
    return 0.5 * (out - y).square().sum(-1)


def _mean_loss(spec: ModelSpec, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The reference loss, mean over the samples (``F_k`` of [MEL-async] eq. (2))."""
    if spec.task == "classification":
        return torch.nn.functional.cross_entropy(out, y)
    return 0.5 * torch.nn.functional.mse_loss(out, y, reduction="sum") / out.shape[0]


# ---------------------------------------------------------------------------
# Chunks
# ---------------------------------------------------------------------------
def plan_chunks(
    spec: ModelSpec,
    samples: np.ndarray,
    *,
    max_elements: int = MAX_ELEMENTS,
    pad_ratio: float = PAD_RATIO,
) -> list[np.ndarray]:
    """Cut the learners with data into the chunks the batched engine stacks.

    Parameters
    ----------
    spec
        The model (its input size, activations and parameter count).
    samples
        :math:`d_k` per learner.
    max_elements
        Memory budget of a chunk in float32 values (see the module docstring).
    pad_ratio
        A learner whose :math:`d_k` is below ``pad_ratio`` times its chunk's
        largest starts a new chunk (0 disables the rule).

    Returns
    -------
    list of numpy.ndarray
        Learner indices per chunk, each sorted by :math:`d_k` descending;
        learners with :math:`d_k = 0` are in none.
    """
    d = np.asarray(samples, dtype=np.int64)
    order = np.argsort(-d, kind="stable")
    order = order[d[order] > 0]
    per_sample = spec.n_features + 3 * spec.activation_elements
    per_learner_fixed = 4 * spec.n_params
    chunks: list[np.ndarray] = []
    start = 0
    for i in range(1, len(order) + 1):
        if i < len(order):
            d_max = int(d[order[start]])
            n = i - start + 1
            fits = n * (d_max * per_sample + per_learner_fixed) <= max_elements
            close = d[order[i]] >= pad_ratio * d_max
            if fits and close:
                continue
        chunks.append(order[start:i])
        start = i
    return chunks


def _pad(
    spec: ModelSpec,
    xs: list[np.ndarray],
    ys: list[np.ndarray],
    members: np.ndarray,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack the members' data, zero-padded to their largest d_k, with the sample mask."""
    d = np.array([len(xs[k]) for k in members], dtype=np.int64)
    n, width = len(members), int(d.max())
    rows = np.repeat(np.arange(n), d)
    cols = np.arange(int(d.sum())) - np.repeat(np.cumsum(d) - d, d)
    x = torch.zeros((n, width, *spec.input_shape), dtype=torch.float32)
    x[rows, cols] = torch.from_numpy(np.concatenate([xs[k] for k in members]))
    y_cat = torch.from_numpy(np.concatenate([ys[k] for k in members]))
    y = torch.zeros((n, width, *y_cat.shape[1:]), dtype=y_cat.dtype)
    y[rows, cols] = y_cat
    mask = torch.zeros((n, width), dtype=torch.float32)
    mask[rows, cols] = 1.0
    inv_d = torch.from_numpy((1.0 / d).astype(np.float32))
    return x.to(device), y.to(device), mask.to(device), inv_d.to(device)


def _learner_grad(spec: ModelSpec) -> Callable[..., tuple[Params, torch.Tensor]]:
    """``vmap(grad_and_value(F_k))`` over stacked parameters and padded data."""
    module = _template(spec)

    def loss(
        params: Params, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, inv_d: torch.Tensor
    ) -> torch.Tensor:
        out = torch.func.functional_call(module, params, (x,))
        return (_per_sample_loss(spec, out, y) * mask).sum() * inv_d

    return torch.func.vmap(torch.func.grad_and_value(loss))


def _dense_step(spec: ModelSpec) -> Callable[..., torch.Tensor]:
    """One SGD step of stacked dense nets (``mlp``, ``linear``), hand-written with ``bmm``.

    ``step(params, x, y, mask, inv_d, running, lr)`` takes the stacked
    parameters and padded data of ``m`` learners (the inputs of
    :func:`_learner_grad`), returns their losses at the current parameters,
    and updates the first ``running`` learners' parameters in place,
    ``w -= lr * grad`` ([MEL-async] eq. (1)). The parameters come in
    (weight, bias) pairs, one per ``Linear`` of the ``nn.Sequential``, with a
    ReLU between consecutive layers: forward ``h_i = relu(h_{i-1} W_i^T +
    b_i)``; backward ``dW_i = delta_i^T h_{i-1}``, ``db_i = sum delta_i``,
    ``delta_{i-1} = (delta_i W_i) * [h_{i-1} > 0]``, starting from
    ``delta_L = (softmax - one_hot) * mask / d_k`` (cross-entropy) or
    ``(h_L - y) * mask / d_k`` (half squared error). Each weight update is
    one ``baddbmm_`` into the weights, ``W_i += (-lr) delta_i^T h_{i-1}``,
    after ``delta_{i-1}`` has used the old ``W_i``: the gradient is never
    stored, which saves a write and a read of every weight per step.
    """
    names = [name for name, _ in _template(spec).named_parameters()]
    pairs = list(zip(names[0::2], names[1::2], strict=True))
    classification = spec.task == "classification"

    def step(
        params: Params,
        x: torch.Tensor,
        y: torch.Tensor,
        mask: torch.Tensor,
        inv_d: torch.Tensor,
        running: int,
        lr: float,
    ) -> torch.Tensor:
        h = x.reshape(x.shape[0], x.shape[1], -1)
        acts = [h]
        for i, (w, b) in enumerate(pairs):
            # baddbmm: the bias is added inside the product (one pass fewer over h)
            h = torch.baddbmm(params[b].unsqueeze(1), h, params[w].transpose(1, 2))
            if i < len(pairs) - 1:
                h = h.relu_()
            acts.append(h)
        weight = (mask * inv_d.unsqueeze(1)).unsqueeze(-1)
        if classification:
            logp = torch.log_softmax(h, dim=-1)
            per = -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1)
            # d(cross-entropy)/d(logits) = softmax - one_hot(y)
            delta = logp.exp()
            index = y.unsqueeze(-1)
            delta.scatter_add_(
                -1, index, torch.full(index.shape, -1.0, dtype=h.dtype, device=h.device)
            )
        else:
            delta = h - y
            per = 0.5 * delta.square().sum(-1)
        loss = (per * mask).sum(1) * inv_d
        delta = delta * weight
        for i in range(len(pairs) - 1, -1, -1):
            w, b = pairs[i]
            # delta_{i-1} with the old W_i, before its update; relu'(z) = [h > 0], and
            # threshold_backward is that product, fused
            below = (
                torch.ops.aten.threshold_backward(torch.bmm(delta, params[w]), acts[i], 0)
                if i > 0
                else None
            )
            if running:
                d_run = delta[:running]
                params[w][:running].baddbmm_(d_run.transpose(1, 2), acts[i][:running], alpha=-lr)
                params[b][:running].add_(d_run.sum(1), alpha=-lr)
            delta = below
        return loss

    return step


# ---------------------------------------------------------------------------
# Local SGD cycle (MEL, eqs. (1)-(3))
# ---------------------------------------------------------------------------
def local_sgd_cycle(
    spec: ModelSpec,
    global_params: Mapping[str, torch.Tensor],
    xs: Sequence[np.ndarray],
    ys: Sequence[np.ndarray],
    tau: np.ndarray,
    *,
    lr: float,
    batched: bool = True,
    max_elements: int | None = None,
    pad_ratio: float = PAD_RATIO,
    backend: str = "auto",
    on_step: Callable[[int], object] | None = None,
) -> tuple[Params, np.ndarray]:
    """One global cycle of synchronous or asynchronous MEL ([MEL-async] eqs. (1)-(3)).

    Parameters
    ----------
    spec
        The model.
    global_params
        The global parameters :math:`w` sent to every learner (not modified).
    xs, ys
        Per learner, its :math:`d_k` samples ``(d_k, *input_shape)`` and
        targets (class labels, or regression targets); ``d_k = len(xs[k])``
        may be 0.
    tau
        Local gradient steps :math:`\\tau_k` per learner, non-negative
        integers (all equal: synchronous MEL).
    lr
        Learning rate :math:`\\eta`.
    batched
        All learners stacked in one vectorised computation (default), or the
        plain sequential reference loop.
    max_elements, pad_ratio
        The chunk rule of the batched engine (module docstring);
        ``max_elements=None``: the back-end's default budget.
    backend
        How the batched engine computes the stacked gradients: ``"vmap"``
        (``torch.func``, any model), ``"bmm"`` (hand-written
        back-propagation with batched matrix products, dense nets only:
        ``mlp`` and ``linear``) or ``"auto"`` (``"bmm"`` for dense nets,
        ``"vmap"`` otherwise; ``bmm`` measured faster, see
        ``benchmarks/bench_learn.py``). Ignored when ``batched=False``.
    on_step
        Called with a count of sample-steps (:math:`d_k` per learner step)
        after each step: the counts of one cycle add up to
        :math:`\\sum_k \\tau_k d_k`. For progress bars on long cycles.

    Returns
    -------
    params : dict of str to torch.Tensor
        The new global parameters, the :math:`d_k`-weighted average of the
        local models of the learners with :math:`d_k > 0` and
        :math:`\\tau_k > 0`; a copy of ``global_params`` if there are none.
    losses : numpy.ndarray
        Per learner, the training loss :math:`F_k(w)` of the global model at
        the start of the cycle on its data (``nan`` where :math:`d_k = 0`).

    Raises
    ------
    ValidationError
        For malformed parameters, data, ``tau`` or ``lr``.
    """
    spec = _check_spec(spec)
    params = _check_params(spec, global_params)
    x_list, y_list, d = _check_learners(spec, xs, ys)
    steps = _check_tau(tau, len(x_list))
    rate = _check_lr(lr)
    backend = _check_backend(spec, backend)
    if max_elements is None:
        max_elements = BMM_ELEMENTS if backend == "bmm" else MAX_ELEMENTS
    _check_chunk_rule(max_elements, pad_ratio)
    if on_step is not None and not callable(on_step):
        raise ValidationError("on_step", f"must be callable (got {type(on_step).__name__})")
    if batched:
        return _cycle_batched(
            spec, params, x_list, y_list, d, steps, rate, max_elements, pad_ratio, backend, on_step
        )
    return _cycle_sequential(spec, params, x_list, y_list, d, steps, rate, on_step)


def _trainable(spec: ModelSpec, device: torch.device) -> torch.nn.Module:
    """A fresh trainable copy of the spec's module on ``device`` (the caller sets its values)."""
    model = copy.deepcopy(_template(spec)).to(device)
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def _participants(d: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, float]:
    take = (d > 0) & (steps > 0)
    return take, float(d[take].sum())


def _cycle_sequential(
    spec: ModelSpec,
    params: Params,
    xs: list[np.ndarray],
    ys: list[np.ndarray],
    d: np.ndarray,
    steps: np.ndarray,
    lr: float,
    on_step: Callable[[int], object] | None = None,
) -> tuple[Params, np.ndarray]:
    """Reference: one learner after the other, nn.Module + backward + manual SGD."""
    take, total = _participants(d, steps)
    losses = np.full(len(xs), np.nan)
    acc = {name: torch.zeros_like(p) for name, p in params.items()}
    device = _device_of(params)
    model = _trainable(spec, device)
    named = dict(model.named_parameters())
    for k in range(len(xs)):
        if d[k] == 0:
            continue
        with torch.no_grad():
            for name, p in named.items():
                p.copy_(params[name])
        x, y = torch.from_numpy(xs[k]).to(device), torch.from_numpy(ys[k]).to(device)
        if steps[k] == 0:
            with torch.no_grad():
                losses[k] = float(_mean_loss(spec, model(x), y))
            continue
        for step in range(int(steps[k])):
            model.zero_grad(set_to_none=True)
            loss = _mean_loss(spec, model(x), y)
            if step == 0:
                losses[k] = float(loss.detach())
            loss.backward()
            with torch.no_grad():
                for p in named.values():
                    p.add_(p.grad, alpha=-lr)  # w_k[l+1] = w_k[l] - eta grad F_k, eq. (1)
            if on_step is not None:
                on_step(int(d[k]))
        with torch.no_grad():
            for name, p in named.items():
                acc[name].add_(p, alpha=float(d[k]) / total)  # eq. (3)
    if not take.any():
        return {name: p.clone() for name, p in params.items()}, losses
    return acc, losses


def _cycle_batched(
    spec: ModelSpec,
    params: Params,
    xs: list[np.ndarray],
    ys: list[np.ndarray],
    d: np.ndarray,
    steps: np.ndarray,
    lr: float,
    max_elements: int,
    pad_ratio: float,
    backend: str,
    on_step: Callable[[int], object] | None = None,
) -> tuple[Params, np.ndarray]:
    """All learners stacked: per step, stacked gradients of the learners still running."""
    take, total = _participants(d, steps)
    losses = np.full(len(xs), np.nan)
    if not (d > 0).any():
        return {name: p.clone() for name, p in params.items()}, losses
    dense = backend == "bmm"
    fn = _dense_step(spec) if dense else _learner_grad(spec)
    acc = {name: torch.zeros_like(p) for name, p in params.items()}
    device = _device_of(params)
    for members in plan_chunks(spec, d, max_elements=max_elements, pad_ratio=pad_ratio):
        members = members[np.argsort(-steps[members], kind="stable")]  # running = a prefix
        tau_c = steps[members]
        done = np.cumsum(d[members])  # sample-steps of a step of the first r members
        x, y, mask, inv_d = _pad(spec, xs, ys, members, device)
        n = len(members)
        stack = {name: p.unsqueeze(0).expand(n, *p.shape).clone() for name, p in params.items()}
        for step in range(max(1, int(tau_c[0]))):
            running = int(np.count_nonzero(tau_c > step))
            m = n if step == 0 else running  # step 0: every member, for the start loss
            sub = {name: v[:m] for name, v in stack.items()}
            if dense:  # updates the running prefix in place, eq. (1)
                loss = fn(sub, x[:m], y[:m], mask[:m], inv_d[:m], running, lr)
            else:
                grads, loss = fn(sub, x[:m], y[:m], mask[:m], inv_d[:m])
                with torch.no_grad():
                    for name, v in stack.items():
                        v[:running].add_(grads[name][:running], alpha=-lr)  # eq. (1)
            if step == 0:
                losses[members] = loss.detach().cpu().numpy().astype(np.float64)
            if on_step is not None and running:
                on_step(int(done[running - 1]))
        weights = np.where(tau_c > 0, d[members] / total if total else 0.0, 0.0)
        w = torch.from_numpy(weights.astype(np.float32)).to(device)
        with torch.no_grad():
            for name, v in stack.items():
                acc[name].add_(torch.tensordot(w, v, dims=1))  # eq. (3)
    if not take.any():
        return {name: p.clone() for name, p in params.items()}, losses
    return acc, losses


# ---------------------------------------------------------------------------
# Gradient averaging (FEEL, eqs. (1)-(2))
# ---------------------------------------------------------------------------
def gradient_averaging_step(
    spec: ModelSpec,
    global_params: Mapping[str, torch.Tensor],
    xs: Sequence[np.ndarray],
    ys: Sequence[np.ndarray],
    *,
    lr: float,
    batched: bool = True,
    max_elements: int = MAX_ELEMENTS,
) -> tuple[Params, np.ndarray]:
    """One round of gradient averaging ([FEEL] eqs. (1)-(2)).

    Each learner computes the gradient :math:`g_k` of its mean loss on its
    batch :math:`\\mathcal{B}_k` (``xs[k]``, ``ys[k]``) at the global
    parameters; the server averages them weighted by the batch sizes,
    :math:`g = \\sum_k |\\mathcal B_k| g_k / \\sum_k |\\mathcal B_k|` (eq. (1),
    with disjoint batches so :math:`|\\cup_k \\mathcal B_k| = \\sum_k
    |\\mathcal B_k|`), and every learner applies :math:`w - \\eta g` (eq. (2)).

    Parameters
    ----------
    spec
        The model.
    global_params
        The global parameters (not modified).
    xs, ys
        Per learner, its batch of :math:`B_k` samples and targets (may be
        empty: the learner then takes no part).
    lr
        Learning rate :math:`\\eta`.
    batched
        One vectorised computation (default) or the sequential reference loop.
        Since every learner is at the same parameters,
        :math:`\\sum_k |\\mathcal B_k| g_k` is the gradient of the summed
        per-sample loss over all batches, so the batched path computes it in
        one pass over the concatenated batches (in slices of at most
        ``max_elements`` values), with no padding.
    max_elements
        Memory budget of one slice, in float32 values.

    Returns
    -------
    params : dict of str to torch.Tensor
        :math:`w - \\eta g`; a copy of ``global_params`` if all batches are
        empty.
    losses : numpy.ndarray
        Per learner, its mean loss at the global parameters (``nan`` for an
        empty batch).
    """
    spec = _check_spec(spec)
    params = _check_params(spec, global_params)
    x_list, y_list, b = _check_learners(spec, xs, ys)
    rate = _check_lr(lr)
    losses = np.full(len(x_list), np.nan)
    total = float(b.sum())
    if total == 0:
        return {name: p.clone() for name, p in params.items()}, losses
    if batched:
        g, losses = _averaged_gradient_batched(spec, params, x_list, y_list, b, max_elements)
    else:
        device = _device_of(params)
        model = _trainable(spec, device)
        named = dict(model.named_parameters())
        with torch.no_grad():
            for name, p in named.items():
                p.copy_(params[name])
        g = {name: torch.zeros_like(p) for name, p in params.items()}
        for k in range(len(x_list)):
            if b[k] == 0:
                continue
            model.zero_grad(set_to_none=True)
            x, y = torch.from_numpy(x_list[k]).to(device), torch.from_numpy(y_list[k]).to(device)
            loss = _mean_loss(spec, model(x), y)
            losses[k] = float(loss.detach())
            loss.backward()
            with torch.no_grad():
                for name, p in named.items():
                    g[name].add_(p.grad, alpha=float(b[k]) / total)  # eq. (1)
    with torch.no_grad():
        new = {name: p.add(g[name], alpha=-rate) for name, p in params.items()}  # eq. (2)
    return new, losses


def _averaged_gradient_batched(
    spec: ModelSpec,
    params: Params,
    xs: list[np.ndarray],
    ys: list[np.ndarray],
    b: np.ndarray,
    max_elements: int,
) -> tuple[Params, np.ndarray]:
    module = _template(spec)
    total = float(b.sum())

    def summed(p: Params, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        per = _per_sample_loss(spec, torch.func.functional_call(module, p, (x,)), y)
        return per.sum() / total, per

    grad_fn = torch.func.grad(summed, has_aux=True)
    device = _device_of(params)
    x_all = torch.from_numpy(np.concatenate(xs)).to(device)
    y_all = torch.from_numpy(np.concatenate(ys)).to(device)
    owner = torch.from_numpy(np.repeat(np.arange(len(xs)), b))  # the sums stay on the CPU
    per_sample = spec.n_features + 3 * spec.activation_elements
    rows = max(1, max_elements // per_sample)
    g = {name: torch.zeros_like(p) for name, p in params.items()}
    sums = torch.zeros(len(xs), dtype=torch.float64)
    for start in range(0, x_all.shape[0], rows):
        grads, per = grad_fn(params, x_all[start : start + rows], y_all[start : start + rows])
        for name in g:
            g[name].add_(grads[name])
        sums.index_add_(0, owner[start : start + rows], per.detach().cpu().double())
    with np.errstate(invalid="ignore", divide="ignore"):
        losses = np.where(b > 0, sums.numpy() / b, np.nan)
    return g, losses


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------
def evaluate(
    spec: ModelSpec,
    params: Mapping[str, torch.Tensor],
    x: np.ndarray,
    y: np.ndarray,
    *,
    max_elements: int = MAX_ELEMENTS,
) -> tuple[float, float]:
    """Loss and accuracy of the parameters on a data set.

    Parameters
    ----------
    spec
        The model.
    params
        Its parameters.
    x, y
        Samples ``(n, *input_shape)`` and targets, ``n >= 1``.
    max_elements
        Memory budget of one forward slice, in float32 values.

    Returns
    -------
    loss : float
        Mean loss (cross-entropy, or half the squared error).
    accuracy : float
        Fraction of samples whose largest output is the label;
        ``nan`` for regression.
    """
    spec = _check_spec(spec)
    p = _check_params(spec, params)
    xa, ya = _check_xy(spec, x, y, "x", "y")
    if len(xa) == 0:
        raise ValidationError("x", "needs at least one sample")
    module = _template(spec)
    device = _device_of(p)
    rows = max(1, max_elements // (spec.n_features + spec.activation_elements))
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(xa), rows):
            xb = torch.from_numpy(xa[start : start + rows]).to(device)
            yb = torch.from_numpy(ya[start : start + rows]).to(device)
            out = torch.func.functional_call(module, p, (xb,))
            per = _per_sample_loss(spec, out, yb).cpu().double()  # float64 here: mps has none
            loss_sum += float(per.sum())
            if spec.task == "classification":
                correct += int((out.argmax(-1) == yb).sum())
    accuracy = correct / len(xa) if spec.task == "classification" else math.nan
    return loss_sum / len(xa), accuracy
