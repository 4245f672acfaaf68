"""Models of the learning engine: shapes, deterministic init, and size/cost measured from the model.

The bits and FLOPs of the dense nets must equal the system model's
``FullyConnected`` (one source of truth); the CNN's are checked against counts
worked out by hand from its architecture.
"""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from edgealloc.errors import ValidationError
from edgealloc.system.workload import FullyConnected

torch = pytest.importorskip("torch")

from edgealloc.learn.models import ModelSpec, TorchUnavailableError, model_for  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(
    ("input_shape", "hidden", "n_out", "layers"),
    [
        ((784,), (300, 124, 60), 10, (784, 300, 124, 60, 10)),  # the MEL papers' network
        ((1, 8, 8), (300, 124, 60), 10, (64, 300, 124, 60, 10)),  # digits
        ((40,), (300, 124, 60), 10, (40, 300, 124, 60, 10)),  # MNIST-1D
        ((3, 4, 5), (7,), 3, (60, 7, 3)),
        ((6,), (), 4, (6, 4)),
    ],
)
def test_mlp_size_and_cost_equal_fully_connected(input_shape, hidden, n_out, layers) -> None:
    spec = ModelSpec("mlp", input_shape, n_out, hidden=hidden)
    fc = FullyConnected(layers)
    assert spec.fully_connected() == fc
    module = spec.build(0)
    assert spec.n_params == sum(p.numel() for p in module.parameters()) == fc.n_params
    assert (spec.n_weights, spec.n_biases) == (fc.n_weights, fc.n_biases)
    assert spec.macs_per_sample == fc.macs_per_sample
    for bits in (8, 16, 32):
        assert spec.bits(bits) == fc.bits(bits)
        assert spec.bits(bits, include_biases=False) == fc.bits(bits, include_biases=False)
    for convention in ("standard", "paper"):
        assert spec.flops_per_sample(convention) == fc.flops_per_sample(convention)
    out = module(torch.zeros((3, *input_shape)))
    assert out.shape == (3, n_out)


def test_mlp_reproduces_the_papers_figures() -> None:
    """[MEL-sync] Section V-A: 8,974,080 bits (32-bit weights) and 1,123,736 FLOPs."""
    spec = ModelSpec("mlp", (784,), 10)
    assert spec.bits(32, include_biases=False) == 8_974_080
    assert spec.flops_per_sample("paper") == 1_123_736


def test_linear_model_is_one_dense_layer() -> None:
    spec = ModelSpec("linear", (5,), 1)
    assert spec.task == "regression"
    assert spec.fully_connected() == FullyConnected((5, 1))
    assert spec.n_params == 6
    # forward 2*5 + 1, weight and bias gradients 2*5 + 1, no input gradient
    assert spec.flops_per_sample() == 22 == FullyConnected((5, 1)).flops_per_sample()
    logistic = ModelSpec("linear", (2, 3), 4)
    assert logistic.task == "classification"
    assert logistic.fully_connected() == FullyConnected((6, 4))


def test_cnn_counts_match_the_architecture_by_hand() -> None:
    # (1, 8, 8): conv 1->16 (3x3, same) + pool -> 16x4x4; conv 16->32 + pool -> 32x2x2;
    # dense 128 -> 10
    spec = ModelSpec("cnn", (1, 8, 8), 10, channels=(16, 32), kernel_size=3)
    conv1_w, conv1_b = 16 * 1 * 9, 16
    conv2_w, conv2_b = 32 * 16 * 9, 32
    fc_w, fc_b = 128 * 10, 10
    assert spec.n_params == conv1_w + conv1_b + conv2_w + conv2_b + fc_w + fc_b
    assert spec.n_weights == conv1_w + conv2_w + fc_w
    assert spec.bits(16) == 16 * spec.n_params
    macs = [8 * 8 * conv1_w, 4 * 4 * conv2_w, fc_w]  # output positions x weights
    adds = [16 * 8 * 8, 32 * 4 * 4, 10]  # one bias add per output element
    assert spec.macs_per_sample == sum(macs)
    standard = sum(4 * m + 2 * a for m, a in zip(macs, adds, strict=True)) + 2 * (macs[1] + macs[2])
    assert spec.flops_per_sample() == standard
    assert spec.flops_per_sample("paper") == 4 * (sum(macs) + sum(adds))
    assert [s.layer for s in spec.layer_stats()] == ["Conv2d", "Conv2d", "Linear"]
    assert [s.first for s in spec.layer_stats()] == [True, False, False]
    with pytest.raises(ValidationError, match="kind"):
        spec.fully_connected()


def test_cnn_on_one_dimensional_inputs_uses_conv1d() -> None:
    spec = ModelSpec("cnn", (40,), 10)  # MNIST-1D
    module = spec.build(3)
    kinds = {type(m).__name__ for m in module.modules()}
    assert "Conv1d" in kinds and "Conv2d" not in kinds
    assert module(torch.zeros((5, 40))).shape == (5, 10)
    # 40 -> pool 20 -> pool 10: dense layer 32 * 10 -> 10
    assert spec.layer_stats()[-1].n_weights == 32 * 10 * 10
    assert spec.layer_stats()[0].macs == 40 * 16 * 3  # 1 channel, kernel 3, 16 maps of 40
    two_channel = ModelSpec("cnn", (2, 9), 3)
    assert two_channel.build(0)(torch.zeros((2, 2, 9))).shape == (2, 3)
    tiny = ModelSpec("cnn", (1, 1, 1), 2)  # no pooling below a side of 2
    assert tiny.build(0)(torch.zeros((1, 1, 1, 1))).shape == (1, 2)


@pytest.mark.parametrize("kind", ["mlp", "cnn", "linear"])
def test_build_is_deterministic_and_leaves_the_global_rng_alone(kind) -> None:
    spec = ModelSpec(kind, (1, 8, 8), 10)
    state = torch.random.get_rng_state()
    a, b, c = spec.build(7), spec.build(7), spec.build(8)
    assert torch.equal(state, torch.random.get_rng_state())
    pa, pb, pc = (dict(m.named_parameters()) for m in (a, b, c))
    assert all(torch.equal(pa[n], pb[n]) for n in pa)
    assert any(not torch.equal(pa[n], pc[n]) for n in pa)
    gen = torch.Generator().manual_seed(7)
    pg = dict(spec.build(gen).named_parameters())
    assert all(torch.equal(pa[n], pg[n]) for n in pa)
    for m in a.modules():
        w = getattr(m, "weight", None)
        if isinstance(w, torch.Tensor):  # PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in))
            bound = 1 / np.sqrt(w[0].numel())
            w_max, b_max = float(w.detach().abs().max()), float(m.bias.detach().abs().max())
            assert w_max <= bound and b_max <= bound
            assert w_max > 0.5 * bound
    assert all(p.dtype == torch.float32 for p in a.parameters())


def test_model_for_duck_types_the_dataset() -> None:
    digits = SimpleNamespace(feature_shape=(1, 8, 8), n_classes=10)
    spec = model_for(digits)
    assert spec == ModelSpec("mlp", (1, 8, 8), 10, task="classification")
    assert model_for(digits, "cnn").kind == "cnn"
    assert model_for(digits, "mlp", hidden=(20,)).fully_connected().layers == (64, 20, 10)
    regression = model_for(SimpleNamespace(feature_shape=(12,), n_classes=None), "linear")
    assert (regression.n_outputs, regression.task) == (1, "regression")
    with pytest.raises(ValidationError, match="dataset"):
        model_for(object())


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "rnn", "input_shape": (4,), "n_outputs": 2}, "kind"),
        ({"kind": "mlp", "input_shape": (0,), "n_outputs": 2}, "input_shape"),
        ({"kind": "mlp", "input_shape": (), "n_outputs": 2}, "input_shape"),
        ({"kind": "mlp", "input_shape": 4, "n_outputs": 2}, "input_shape"),
        ({"kind": "mlp", "input_shape": (4,), "n_outputs": 0}, "n_outputs"),
        (
            {"kind": "mlp", "input_shape": (4,), "n_outputs": 1, "task": "classification"},
            "n_outputs",
        ),
        ({"kind": "mlp", "input_shape": (4,), "n_outputs": 2, "task": "ranking"}, "task"),
        ({"kind": "mlp", "input_shape": (4,), "n_outputs": 2, "hidden": (3, -1)}, "hidden"),
        ({"kind": "cnn", "input_shape": (1, 2, 3, 4), "n_outputs": 2}, "input_shape"),
        ({"kind": "cnn", "input_shape": (4,), "n_outputs": 2, "kernel_size": 2}, "kernel_size"),
    ],
)
def test_bad_specs_are_validation_errors(kwargs, field) -> None:
    with pytest.raises(ValidationError) as info:
        ModelSpec(**kwargs)
    assert info.value.field.startswith(field)


def test_bad_arguments_are_validation_errors() -> None:
    spec = ModelSpec("mlp", (4,), 2)
    with pytest.raises(ValidationError, match="precision_bits"):
        spec.bits(0)
    with pytest.raises(ValidationError, match="convention"):
        spec.flops_per_sample("exact")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="seed"):
        spec.build(1.5)  # type: ignore[arg-type]


def test_importing_edgealloc_does_not_import_torch() -> None:
    code = (
        "import sys, edgealloc, edgealloc.learn, edgealloc.system.workload\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_missing_torch_is_a_one_line_validation_error() -> None:
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"  # makes `import torch` raise ImportError
        "try:\n"
        "    import edgealloc.learn.engine\n"
        "except ImportError as exc:\n"
        "    from edgealloc.errors import ValidationError\n"
        "    assert isinstance(exc, ValidationError), type(exc)\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    assert out.count("\n") == 1 and "pip install 'edgealloc[learn]'" in out
    assert issubclass(TorchUnavailableError, ImportError)
