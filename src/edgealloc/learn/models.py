r"""Models trained by the learning engine, and their size and cost measured from the model.

Three kinds (``ModelSpec.kind``):

* ``"mlp"`` — the fully connected network of the MEL papers, 784-300-124-60-10
  on MNIST ([MEL-sync] Section V-A; [MEL-async] Section 5), with the input
  width adapted to the data (``prod(input_shape)``) and ReLU between layers;
* ``"cnn"`` — a small convolutional network: ``len(channels)`` blocks of a
  ``kernel_size`` "same" convolution, ReLU and a 2x max-pool (the pool is
  skipped once a spatial side is below 2), then one dense layer. Images
  ``(C, H, W)`` use ``Conv2d``; 1-D inputs ``(L,)`` (e.g. MNIST-1D, ``(40,)``)
  and ``(C, L)`` use ``Conv1d`` (an ``(L,)`` sample is one channel);
* ``"linear"`` — one dense layer: linear regression (``n_outputs = 1``,
  loss :math:`\tfrac12` MSE) or multinomial logistic regression (classes).

Size and cost are *measured* from the built ``torch.nn.Module``: the parameter
count from its parameters, the FLOPs from the shapes that forward hooks record
on every ``Linear`` / ``Conv1d`` / ``Conv2d`` layer during one forward pass of
a dummy sample. For ``"mlp"`` and ``"linear"`` the figures equal those of
:class:`edgealloc.system.workload.FullyConnected` (the system model's workload;
:meth:`ModelSpec.fully_connected` returns it), so the allocation and the
training use one source of truth; the tests check the equality.

PyTorch is optional for edgealloc: this module imports it at the top and is
only imported on demand (``import edgealloc.learn`` does not import it). A
missing torch raises :class:`TorchUnavailableError` (a ``ValidationError``
and an ``ImportError``) with the one-line fix.

References
----------
[MEL-sync] Mohammad, U., Sorour, S. "Adaptive task allocation for mobile edge
learning" (Mohammad & Sorour, IEEE WCNCW 2019), Section V-A.
[MEL-async] The asynchronous MEL paper: heterogeneity-aware task allocation
with time and energy constraints (Mohammad, Sorour & Hefeida, arXiv:2012.00143), Section 5.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from typing import Literal

from edgealloc.errors import ValidationError
from edgealloc.system.workload import FullyConnected


class TorchUnavailableError(ValidationError, ImportError):
    """PyTorch is not installed; the message gives the one-line fix."""


try:
    import torch
    from torch import nn
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise TorchUnavailableError(
        "torch", "PyTorch is needed for edgealloc.learn training: pip install 'edgealloc[learn]'"
    ) from _exc

__all__ = [
    "KINDS",
    "LayerStats",
    "ModelSpec",
    "TorchUnavailableError",
    "model_for",
]

#: Model kinds understood by :class:`ModelSpec`.
KINDS: tuple[str, ...] = ("mlp", "cnn", "linear")
_TASKS = ("classification", "regression")


@dataclasses.dataclass(frozen=True)
class LayerStats:
    """What one parametric layer costs per sample, recorded from a forward pass.

    Attributes
    ----------
    name
        Module name inside the built ``nn.Sequential`` (e.g. ``"1"``).
    layer
        ``"Linear"``, ``"Conv1d"`` or ``"Conv2d"``.
    n_weights, n_biases
        Parameter counts of the layer.
    macs
        Forward multiply-accumulates per sample: output positions times the
        weights of one output channel, i.e. ``out_elements / out_channels *
        n_weights`` (``n_weights`` for a dense layer).
    bias_adds
        Forward bias additions per sample (``out_elements``, 0 without bias).
    out_elements
        Output elements per sample.
    first
        The first parametric layer in forward order: its input is the data,
        whose gradient back-propagation does not compute.
    """

    name: str
    layer: str
    n_weights: int
    n_biases: int
    macs: int
    bias_adds: int
    out_elements: int
    first: bool


def _positive_int_tuple(field: str, value: object, *, allow_empty: bool = False) -> tuple[int, ...]:
    try:
        items = tuple(value)  # type: ignore[call-overload]
    except TypeError:
        raise ValidationError(
            field, f"must be a tuple of positive integers (got {value!r})"
        ) from None
    if not items and not allow_empty:
        raise ValidationError(field, "must not be empty")
    out = []
    for i, n in enumerate(items):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValidationError(f"{field}[{i}]", f"must be a positive integer (got {n!r})")
        out.append(int(n))
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A model to train: its kind, per-sample input shape and output width.

    Parameters
    ----------
    kind
        ``"mlp"``, ``"cnn"`` or ``"linear"`` (see the module docstring).
    input_shape
        Per-sample feature shape, e.g. ``(1, 8, 8)`` (digits), ``(40,)``
        (MNIST-1D) or ``(784,)``.
    n_outputs
        Number of classes, or 1 for regression.
    hidden
        Hidden widths of ``"mlp"`` (default: the MEL papers' 300-124-60);
        ignored by the other kinds.
    channels
        Output channels of the convolution blocks of ``"cnn"``.
    kernel_size
        Odd kernel size of the ``"cnn"`` convolutions ("same" padding).
    task
        ``"classification"`` (cross-entropy) or ``"regression"`` (half mean
        squared error). Default: regression when ``n_outputs == 1``, else
        classification.

    Raises
    ------
    ValidationError
        For an unknown kind or task, a malformed shape or width, a CNN input
        that is not ``(L,)``, ``(C, L)`` or ``(C, H, W)``, or a
        classification with fewer than 2 outputs.

    Examples
    --------
    >>> spec = ModelSpec("mlp", (784,), 10)
    >>> spec.fully_connected().layers
    (784, 300, 124, 60, 10)
    >>> spec.n_params, spec.bits(32, include_biases=False), spec.flops_per_sample("paper")
    (280934, 8974080, 1123736)
    """

    kind: str
    input_shape: tuple[int, ...]
    n_outputs: int
    hidden: tuple[int, ...] = (300, 124, 60)
    channels: tuple[int, ...] = (16, 32)
    kernel_size: int = 3
    task: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValidationError("kind", f"must be one of {', '.join(KINDS)} (got {self.kind!r})")
        shape = _positive_int_tuple("input_shape", self.input_shape)
        object.__setattr__(self, "input_shape", shape)
        (n_out,) = _positive_int_tuple("n_outputs", (self.n_outputs,))
        object.__setattr__(self, "n_outputs", n_out)
        hidden = _positive_int_tuple("hidden", self.hidden, allow_empty=True)
        object.__setattr__(self, "hidden", hidden)
        object.__setattr__(self, "channels", _positive_int_tuple("channels", self.channels))
        (k,) = _positive_int_tuple("kernel_size", (self.kernel_size,))
        if k % 2 == 0:
            raise ValidationError("kernel_size", f"must be odd ('same' padding) (got {k})")
        object.__setattr__(self, "kernel_size", k)
        task = self.task
        if task is None:
            task = "regression" if n_out == 1 else "classification"
        if task not in _TASKS:
            raise ValidationError("task", f"must be one of {', '.join(_TASKS)} (got {task!r})")
        if task == "classification" and n_out < 2:
            raise ValidationError("n_outputs", f"a classification needs >= 2 classes (got {n_out})")
        object.__setattr__(self, "task", task)
        if self.kind == "cnn" and len(shape) not in (1, 2, 3):
            raise ValidationError(
                "input_shape", f"the cnn takes (L,), (C, L) or (C, H, W) inputs (got {shape})"
            )

    # ------------------------------------------------------------------
    # The module
    # ------------------------------------------------------------------
    @property
    def n_features(self) -> int:
        """Input elements per sample, ``prod(input_shape)``."""
        return math.prod(self.input_shape)

    def build(self, seed: int | torch.Generator = 0) -> nn.Module:
        """Build the ``torch.nn.Module`` (float32, CPU), initialised deterministically.

        Every weight and bias of a layer with fan-in :math:`n` is drawn from
        :math:`U(-1/\\sqrt n, 1/\\sqrt n)` — PyTorch's default distribution
        for ``Linear`` and ``Conv`` — from one ``torch.Generator`` seeded with
        ``seed``, in parameter order, so the global torch RNG is neither
        used nor changed.

        Parameters
        ----------
        seed
            Seed of the generator, or a ``torch.Generator`` to draw from.

        Returns
        -------
        torch.nn.Module
            An ``nn.Sequential``; input ``(n, *input_shape)``, output
            ``(n, n_outputs)``.
        """
        if isinstance(seed, torch.Generator):
            gen = seed
        else:
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise ValidationError("seed", f"must be an integer (got {seed!r})")
            gen = torch.Generator().manual_seed(int(seed))
        # Built on the meta device (no default initialisation, so the global RNG
        # is not touched), then given CPU storage and initialised here.
        with torch.device("meta"):
            module = nn.Sequential(*self._layers())
        module = module.to_empty(device="cpu")
        with torch.no_grad():
            for layer in module.modules():
                weight = getattr(layer, "weight", None)
                if not isinstance(weight, torch.Tensor):
                    continue
                bound = 1.0 / math.sqrt(weight[0].numel())
                weight.uniform_(-bound, bound, generator=gen)
                bias = getattr(layer, "bias", None)
                if isinstance(bias, torch.Tensor):
                    bias.uniform_(-bound, bound, generator=gen)
        return module.float()

    def _layers(self) -> list[nn.Module]:
        widths = self._dense_widths()
        if widths is not None:
            layers: list[nn.Module] = [nn.Flatten()]
            for i in range(len(widths) - 1):
                layers.append(nn.Linear(widths[i], widths[i + 1]))
                if i < len(widths) - 2:
                    layers.append(nn.ReLU())
            return layers
        shape = self.input_shape
        layers = []
        if len(shape) == 1:
            layers.append(nn.Unflatten(1, (1, shape[0])))
            in_ch, spatial = 1, [shape[0]]
        else:
            in_ch, spatial = shape[0], list(shape[1:])
        conv, pool = (nn.Conv1d, nn.MaxPool1d) if len(spatial) == 1 else (nn.Conv2d, nn.MaxPool2d)
        for ch in self.channels:
            layers += [conv(in_ch, ch, self.kernel_size, padding=self.kernel_size // 2), nn.ReLU()]
            if min(spatial) >= 2:
                layers.append(pool(2))
                spatial = [s // 2 for s in spatial]
            in_ch = ch
        layers += [nn.Flatten(), nn.Linear(in_ch * math.prod(spatial), self.n_outputs)]
        return layers

    def _dense_widths(self) -> tuple[int, ...] | None:
        if self.kind == "mlp":
            return (self.n_features, *self.hidden, self.n_outputs)
        if self.kind == "linear":
            return (self.n_features, self.n_outputs)
        return None

    def fully_connected(self) -> FullyConnected:
        """The system model's workload for this network (``"mlp"`` and ``"linear"`` only).

        Returns
        -------
        FullyConnected
            ``FullyConnected((prod(input_shape), *hidden, n_outputs))`` for
            ``"mlp"``, ``FullyConnected((prod(input_shape), n_outputs))`` for
            ``"linear"``.

        Raises
        ------
        ValidationError
            Field ``"kind"`` for ``"cnn"`` (not fully connected; use
            :meth:`n_params`, :meth:`bits` and :meth:`flops_per_sample`).
        """
        widths = self._dense_widths()
        if widths is None:
            raise ValidationError("kind", f"a {self.kind} is not a fully connected network")
        return FullyConnected(widths)

    # ------------------------------------------------------------------
    # Size and cost, measured from the module
    # ------------------------------------------------------------------
    def layer_stats(self) -> tuple[LayerStats, ...]:
        """Per-layer parameter counts and per-sample costs, recorded by forward hooks."""
        return _layer_stats(self)

    @property
    def n_params(self) -> int:
        """Trainable parameters, counted from the built module."""
        return _parameter_count(self)

    @property
    def n_weights(self) -> int:
        """Weights (parameters other than biases) of the parametric layers."""
        return sum(s.n_weights for s in self.layer_stats())

    @property
    def n_biases(self) -> int:
        """Biases of the parametric layers."""
        return sum(s.n_biases for s in self.layer_stats())

    @property
    def macs_per_sample(self) -> int:
        """Forward multiply-accumulates per sample."""
        return sum(s.macs for s in self.layer_stats())

    @property
    def activation_elements(self) -> int:
        """Output elements per sample of all leaf modules (the memory rule of the engine)."""
        return _activation_elements(self)

    def bits(self, precision_bits: int = 32, *, include_biases: bool = True) -> int:
        """Size of the parameter set in bits (:math:`\\mathcal{P}_m S_m` of [MEL-sync] eq. (2)).

        Parameters
        ----------
        precision_bits
            Bits per parameter, a positive integer.
        include_biases
            Count the biases (default); [MEL-sync]'s 8,974,080 bits do not.

        Returns
        -------
        int
            ``precision_bits * n_params`` or ``precision_bits * n_weights``.
        """
        if (
            isinstance(precision_bits, bool)
            or not isinstance(precision_bits, int)
            or precision_bits < 1
        ):
            raise ValidationError(
                "precision_bits", f"must be a positive integer (got {precision_bits!r})"
            )
        return precision_bits * (self.n_params if include_biases else self.n_weights)

    def flops_per_sample(self, convention: Literal["standard", "paper"] = "standard") -> int:
        """Floating-point operations to train on one sample (forward + backward).

        The conventions of :meth:`FullyConnected.flops_per_sample`, applied
        per recorded layer with ``macs`` in place of a dense layer's weights:

        * ``"standard"``: forward ``2 macs + bias_adds``; backward
          ``2 macs`` (weight gradient) ``+ bias_adds`` (bias gradient)
          ``+ 2 macs`` (input gradient, skipped for the first layer, whose
          input is the data). Activations, pooling, the loss and the
          optimiser step are not counted.
        * ``"paper"``: ``4 (macs + bias_adds)``, [MEL-sync] Section V-A's
          count (1,123,736 for 784-300-124-60-10).

        For a dense network both equal ``FullyConnected``'s exactly.

        Parameters
        ----------
        convention
            ``"standard"`` (default) or ``"paper"``.

        Returns
        -------
        int
            FLOPs per training sample and local iteration (the per-sample
            complexity :math:`C_m` of [MEL-sync] eq. (3)).
        """
        stats = self.layer_stats()
        if convention == "standard":
            total = 0
            for s in stats:
                total += 2 * s.macs + s.bias_adds  # forward
                total += 2 * s.macs + s.bias_adds  # weight and bias gradients
                if not s.first:
                    total += 2 * s.macs  # input gradient
            return total
        if convention == "paper":
            return sum(4 * (s.macs + s.bias_adds) for s in stats)
        raise ValidationError("convention", f"must be 'standard' or 'paper' (got {convention!r})")


@functools.lru_cache(maxsize=64)
def _template(spec: ModelSpec) -> nn.Module:
    """A built module per spec, for ``functional_call`` (never trained in place)."""
    module = spec.build(0)
    for p in module.parameters():
        p.requires_grad_(False)
    return module


@functools.lru_cache(maxsize=64)
def _parameter_count(spec: ModelSpec) -> int:
    return sum(p.numel() for p in _template(spec).parameters())


def _record(spec: ModelSpec) -> tuple[tuple[LayerStats, ...], int]:
    module = spec.build(0)
    stats: list[LayerStats] = []
    leaf_out = [0]
    names = {m: n for n, m in module.named_modules()}

    def hook(mod: nn.Module, inputs: object, output: torch.Tensor) -> None:
        per_sample = int(output[0].numel())
        if not list(mod.children()):
            leaf_out[0] += per_sample
        if isinstance(mod, nn.Linear | nn.Conv1d | nn.Conv2d):
            weight = mod.weight
            out_channels = int(weight.shape[0])
            n_b = 0 if mod.bias is None else int(mod.bias.numel())
            stats.append(
                LayerStats(
                    name=names[mod],
                    layer=type(mod).__name__,
                    n_weights=int(weight.numel()),
                    n_biases=n_b,
                    macs=per_sample // out_channels * int(weight.numel()),
                    bias_adds=per_sample if n_b else 0,
                    out_elements=per_sample,
                    first=not stats,
                )
            )

    handles = [m.register_forward_hook(hook) for m in module.modules() if m is not module]
    try:
        with torch.no_grad():
            module(torch.zeros((1, *spec.input_shape)))
    finally:
        for h in handles:
            h.remove()
    return tuple(stats), leaf_out[0]


@functools.lru_cache(maxsize=64)
def _layer_stats(spec: ModelSpec) -> tuple[LayerStats, ...]:
    return _record(spec)[0]


@functools.lru_cache(maxsize=64)
def _activation_elements(spec: ModelSpec) -> int:
    return _record(spec)[1]


def model_for(dataset: object, kind: str = "mlp", **options: object) -> ModelSpec:
    """The model of ``kind`` for a data set.

    Parameters
    ----------
    dataset
        Any object with ``feature_shape`` (per-sample shape) and
        ``n_classes`` (``None`` for regression), e.g.
        :class:`edgealloc.learn.data.Dataset`.
    kind
        ``"mlp"``, ``"cnn"`` or ``"linear"``.
    **options
        Further :class:`ModelSpec` fields (``hidden``, ``channels``, ...).

    Returns
    -------
    ModelSpec
        ``n_outputs = n_classes`` (classification) or 1 (regression).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> model_for(SimpleNamespace(feature_shape=(1, 8, 8), n_classes=10)).fully_connected().layers
    (64, 300, 124, 60, 10)
    """
    try:
        shape = tuple(dataset.feature_shape)  # type: ignore[attr-defined]
        n_classes = dataset.n_classes  # type: ignore[attr-defined]
    except (AttributeError, TypeError):
        raise ValidationError(
            "dataset", "needs 'feature_shape' and 'n_classes' attributes (a learn.data.Dataset)"
        ) from None
    if n_classes is None:
        return ModelSpec(kind, shape, 1, task="regression", **options)  # type: ignore[arg-type]
    return ModelSpec(kind, shape, int(n_classes), task="classification", **options)  # type: ignore[arg-type]
