"""Tests of edgealloc.system.workload: model size and FLOPs from the layer widths."""

from __future__ import annotations

import doctest
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import edgealloc.system.workload as workload
from edgealloc.errors import ValidationError
from edgealloc.system import FullyConnected

MNIST_NET = (784, 300, 124, 60, 10)  # [MEL-sync] Section V-A

# Figures printed in [MEL-sync] Section V-A for that network (facts, not derived here).
PAPER_MODEL_BITS = 8_974_080
PAPER_FLOPS = 1_123_736

layer_lists = st.lists(st.integers(1, 2000), min_size=2, max_size=8).map(tuple)


def test_doctests() -> None:
    result = doctest.testmod(workload)
    assert result.attempted > 0
    assert result.failed == 0


def test_mnist_counts_from_layer_sizes() -> None:
    net = FullyConnected(MNIST_NET)
    assert net.n_weights == 784 * 300 + 300 * 124 + 124 * 60 + 60 * 10 == 280_440
    assert net.n_biases == 300 + 124 + 60 + 10 == 494
    assert net.n_params == 280_934
    assert net.macs_per_sample == 280_440


def test_paper_model_size_is_32_bit_weights_without_biases() -> None:
    net = FullyConnected(MNIST_NET)
    assert net.bits(32, include_biases=False) == PAPER_MODEL_BITS
    assert net.bits(32) == 32 * 280_934 != PAPER_MODEL_BITS
    assert net.bits() == net.bits(32, include_biases=True)
    assert net.bits(16, include_biases=False) == PAPER_MODEL_BITS // 2


def test_paper_flops_are_four_per_parameter() -> None:
    net = FullyConnected(MNIST_NET)
    assert net.flops_per_sample("paper") == PAPER_FLOPS
    assert 4 * net.n_params == PAPER_FLOPS


def test_standard_flops_for_mnist_net() -> None:
    net = FullyConnected(MNIST_NET)
    w, b = 280_440, 494
    forward = 2 * w + b
    backward = 2 * w + 2 * (w - 784 * 300) + b
    assert net.flops_per_sample() == forward + backward == 1_213_228
    assert net.flops_per_sample("standard") > PAPER_FLOPS


def test_single_layer_has_no_input_gradient() -> None:
    # one dense layer 3 -> 2: forward 2*6 + 2, backward weight grads 2*6 + bias grads 2
    net = FullyConnected((3, 2))
    assert net.flops_per_sample() == 12 + 2 + 12 + 2
    assert net.flops_per_sample("paper") == 4 * 8


def _flops_by_matrices(layers: tuple[int, ...]) -> int:
    """Count FLOPs layer by layer, following the products of one SGD step."""
    total = 0
    shapes = list(itertools.pairwise(layers))
    for n_in, n_out in shapes:  # forward: z = W^T a (MACs), + b
        total += 2 * n_in * n_out + n_out
    for i, (n_in, n_out) in reversed(list(enumerate(shapes))):
        total += 2 * n_in * n_out + n_out  # dW = a delta^T accumulated; db += delta
        if i > 0:
            total += 2 * n_in * n_out  # delta_prev = W delta
    return total


@given(layer_lists)
def test_standard_flops_property(layers: tuple[int, ...]) -> None:
    net = FullyConnected(layers)
    assert net.flops_per_sample() == _flops_by_matrices(layers)
    w = net.n_weights
    assert net.flops_per_sample() == 6 * w - 2 * layers[0] * layers[1] + 2 * net.n_biases
    assert net.flops_per_sample("paper") == 4 * net.n_params
    # the difference: input-gradient products (standard only) minus the paper's second
    # pair of FLOPs per bias (paper counts 4 per bias, standard 2)
    diff = net.flops_per_sample() - net.flops_per_sample("paper")
    assert diff == 2 * (w - layers[0] * layers[1]) - 2 * net.n_biases


@given(layer_lists, st.integers(1, 64))
def test_bits_property(layers: tuple[int, ...], precision: int) -> None:
    net = FullyConnected(layers)
    assert net.bits(precision) == precision * net.n_params
    assert net.bits(precision, include_biases=False) == precision * net.n_weights
    assert net.n_params == net.n_weights + net.n_biases


def test_layers_normalised_and_frozen() -> None:
    net = FullyConnected([784, np.int64(10)])  # type: ignore[arg-type]
    assert net.layers == (784, 10)
    assert all(type(n) is int for n in net.layers)
    assert net == FullyConnected((784, 10))
    with pytest.raises(AttributeError):
        net.layers = (1, 2)  # type: ignore[misc]


@pytest.mark.parametrize(
    "layers", [(), (784,), (784, 0), (784, -3), (784, 2.5), (784, True), "ab", 5, (784, "10")]
)
def test_invalid_layers(layers: object) -> None:
    with pytest.raises(ValidationError) as info:
        FullyConnected(layers)  # type: ignore[arg-type]
    assert info.value.field == "layers"


def test_invalid_convention_and_precision() -> None:
    net = FullyConnected(MNIST_NET)
    with pytest.raises(ValidationError) as info:
        net.flops_per_sample("macs")  # type: ignore[arg-type]
    assert info.value.field == "convention"
    for bad in (0, -32, 32.0, True):
        with pytest.raises(ValidationError) as info:
            net.bits(bad)  # type: ignore[arg-type]
        assert info.value.field == "precision_bits"
