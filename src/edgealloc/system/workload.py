"""Workloads: the size (bits) and cost (FLOPs) of a model, computed from its shape.

References
----------
[MEL-sync] Mohammad, U., Sorour, S. "Adaptive task allocation for mobile edge
learning" (Mohammad & Sorour, IEEE WCNCW 2019), Section V-A.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

import numpy as np

from edgealloc.errors import ValidationError

__all__ = ["FullyConnected"]


@dataclass(frozen=True, slots=True)
class FullyConnected:
    """A fully connected (multi-layer perceptron) network, by its layer widths.

    ``FullyConnected((n_0, n_1, ..., n_L))`` has input width :math:`n_0`, output
    width :math:`n_L`, and :math:`L` dense layers; layer :math:`i` has an
    :math:`n_{i-1} \\times n_i` weight matrix and :math:`n_i` biases. Write
    :math:`W = \\sum_i n_{i-1} n_i` (weights) and :math:`B = \\sum_{i\\ge 1} n_i`
    (biases).

    The MNIST network of [MEL-sync] Section V-A is
    ``FullyConnected((784, 300, 124, 60, 10))``: :math:`W = 280{,}440`,
    :math:`B = 494`. The paper's "model size of 8,974,080 bits" is
    ``bits(32, include_biases=False)`` (:math:`32 W`) and its "1,123,736
    floating point operations" for the forward and backward passes is
    ``flops_per_sample("paper")`` (:math:`4(W + B)`).

    Parameters
    ----------
    layers
        Layer widths :math:`(n_0, \\dots, n_L)`, at least two, each a
        positive integer.

    Raises
    ------
    ValidationError
        Field ``"layers"``, for fewer than two widths or a width that is not a
        positive integer.

    Examples
    --------
    >>> net = FullyConnected((784, 300, 124, 60, 10))
    >>> net.n_weights, net.n_biases, net.bits(32, include_biases=False)
    (280440, 494, 8974080)
    >>> net.flops_per_sample("paper"), net.flops_per_sample()
    (1123736, 1213228)
    """

    layers: tuple[int, ...]

    def __post_init__(self) -> None:
        try:
            widths = tuple(self.layers)
        except TypeError:
            raise ValidationError(
                "layers", f"must be a sequence of positive integers (got {self.layers!r})"
            ) from None
        if len(widths) < 2:
            raise ValidationError("layers", f"needs at least 2 widths (got {len(widths)})")
        for i, n in enumerate(widths):
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
                raise ValidationError("layers", f"width {i} must be a positive integer (got {n!r})")
        object.__setattr__(self, "layers", tuple(int(n) for n in widths))

    @property
    def n_weights(self) -> int:
        """Number of weights, :math:`W = \\sum_{i=1}^{L} n_{i-1} n_i`."""
        return sum(a * b for a, b in pairwise(self.layers))

    @property
    def n_biases(self) -> int:
        """Number of biases, :math:`B = \\sum_{i=1}^{L} n_i`."""
        return sum(self.layers[1:])

    @property
    def n_params(self) -> int:
        """Number of trainable parameters, :math:`W + B`."""
        return self.n_weights + self.n_biases

    @property
    def macs_per_sample(self) -> int:
        """Forward multiply-accumulates per sample, :math:`W` (one per weight)."""
        return self.n_weights

    def bits(self, precision_bits: int = 32, *, include_biases: bool = True) -> int:
        """Size of the parameter set in bits.

        This is the :math:`\\mathcal{P}_m S_m` term of the model size
        :math:`B_k^{model} = \\mathcal{P}_m (d_k S_d + S_m)` in [MEL-sync]
        eq. (2), with :math:`S_m` the parameter count.

        Parameters
        ----------
        precision_bits
            Bits per parameter :math:`\\mathcal{P}_m`, a positive integer.
        include_biases
            Count the biases (default). [MEL-sync] does not: its 8,974,080
            bits are 32-bit weights only.

        Returns
        -------
        int
            ``precision_bits * (W + B)``, or ``precision_bits * W``.
        """
        if (
            isinstance(precision_bits, bool)
            or not isinstance(precision_bits, int | np.integer)
            or precision_bits < 1
        ):
            raise ValidationError(
                "precision_bits", f"must be a positive integer (got {precision_bits!r})"
            )
        count = self.n_params if include_biases else self.n_weights
        return int(precision_bits) * count

    def flops_per_sample(self, convention: Literal["standard", "paper"] = "standard") -> int:
        """Floating-point operations to train on one sample (forward + backward).

        Parameters
        ----------
        convention
            ``"standard"`` (default) or ``"paper"``; see Notes.

        Returns
        -------
        int
            FLOPs per training sample (one forward and one backward pass).
            This is the per-sample computational complexity :math:`C_m` of
            [MEL-sync] eq. (3) when one FLOP is taken as one CPU cycle.

        Raises
        ------
        ValidationError
            Field ``"convention"``, for an unknown convention.

        Notes
        -----
        **"standard"** counts one multiply-accumulate as 2 FLOPs and, for
        each layer :math:`i = 1..L` with input activations :math:`a_{i-1}`
        (width :math:`n_{i-1}`) and output error :math:`\\delta_i` (width
        :math:`n_i`):

        * forward products :math:`z_i = W_i^\\top a_{i-1}`:
          :math:`2 n_{i-1} n_i` (a MAC per weight);
        * forward bias add :math:`z_i + b_i`: :math:`n_i`;
        * weight gradient :math:`\\partial W_i = a_{i-1} \\delta_i^\\top`,
          accumulated over the batch: :math:`2 n_{i-1} n_i` (a multiply and an
          add per weight);
        * input gradient :math:`W_i \\delta_i` that propagates the error to
          layer :math:`i - 1`: :math:`2 n_{i-1} n_i` for :math:`i \\ge 2`
          only; the first layer's input is the data, whose gradient is not
          needed, so it is not computed;
        * bias gradient (accumulate :math:`\\delta_i`): :math:`n_i`.

        Total: :math:`6W - 2 n_0 n_1 + 2B`. Not counted (all
        :math:`O(\\text{neurons})`, negligible next to the :math:`O(W)`
        terms, and absent from the paper's count too): the activation
        functions and their derivatives, the loss and its gradient, and the
        optimiser's parameter update (done once per batch, not per sample).

        **"paper"** reproduces [MEL-sync] Section V-A, which reports 1,123,736
        FLOPs "for the forward and backward passes" of the 784-300-124-60-10
        network (citing its ref. [18]). That number is exactly
        :math:`4 (W + B) = 4 \\times (280{,}440 + 494)`: 2 FLOPs per parameter
        forward (a MAC per weight, counted as 2 also for biases) and 2 per
        parameter backward (the parameter gradient). It omits the
        input-gradient products :math:`W_i \\delta_i` of back-propagation
        (:math:`2(W - n_0 n_1)`), which is why the standard count is larger
        (1,213,228 for that network). Exactly, standard minus paper is
        :math:`2(W - n_0 n_1) - 2B`: the paper also charges 2 FLOPs per bias
        in each direction where one add suffices, so for a single layer
        (no input gradient at all) the paper's count is the larger one.
        """
        w, b = self.n_weights, self.n_biases
        if convention == "standard":
            first = self.layers[0] * self.layers[1]
            forward = 2 * w + b
            backward = 2 * w + 2 * (w - first) + b
            return forward + backward
        if convention == "paper":
            return 4 * (w + b)
        raise ValidationError("convention", f"must be 'standard' or 'paper' (got {convention!r})")
