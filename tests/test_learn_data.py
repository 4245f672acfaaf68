"""Datasets of the learning engine (issue 4, "Data"): offline loaders, splits, resampling."""

from __future__ import annotations

import gzip
import os
import pickle
import random
import struct
from pathlib import Path

import numpy as np
import pytest

from edgealloc.errors import ValidationError
from edgealloc.learn.data import (
    DATASETS,
    MNIST1D_ARGS,
    Dataset,
    load_cifar10,
    load_dataset,
    load_mnist,
    make_linear,
    read_idx,
    resample_images,
    train_test_split,
)


def _rows(x: np.ndarray) -> np.ndarray:
    """Rows of a 2-D view sorted lexicographically (a multiset of samples)."""
    flat = x.reshape(len(x), -1)
    return flat[np.lexsort(flat.T[::-1])]


# ---------------------------------------------------------------------------
# Dataset container
# ---------------------------------------------------------------------------
def test_dataset_coerces_dtypes_and_reports_shapes() -> None:
    x = np.zeros((6, 1, 2, 3))
    ds = Dataset("toy", x, [0, 1, 2, 0, 1, 2], x[:2], np.array([1.0, 2.0]), 3)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.y_test.tolist() == [1, 2]
    assert ds.task == "classification" and ds.is_image
    assert ds.feature_shape == (1, 2, 3) and ds.n_features == 6
    assert (ds.n_train, ds.n_test) == (6, 2)
    reg = Dataset("reg", np.ones((4, 5)), np.arange(4.0), np.ones((1, 5)), [0.5], None)
    assert reg.task == "regression" and reg.y_train.dtype == np.float32
    assert not reg.is_image and reg.n_features == 5


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"y_train": [0, 1]}, "y_train"),  # length differs from x_train
        ({"y_train": [0, 1, 5]}, "y_train"),  # label >= n_classes
        ({"y_train": [0, 1, -1]}, "y_train"),
        ({"y_train": [0, 1.5, 1]}, "y_train"),  # fractional class label
        ({"x_test": np.zeros((1, 3))}, "x_test"),  # feature shape differs
        ({"x_train": np.zeros(3)}, "x_train"),  # no feature axis
        ({"x_train": np.full((3, 2), np.nan)}, "x_train"),
        ({"x_train": np.array([["a", "b"]] * 3)}, "x_train"),
        ({"n_classes": 0}, "n_classes"),
    ],
)
def test_dataset_rejects_inconsistent_arrays(kwargs: dict, field: str) -> None:
    base = {
        "name": "toy",
        "x_train": np.zeros((3, 2)),
        "y_train": [0, 1, 1],
        "x_test": np.zeros((1, 2)),
        "y_test": [0],
        "n_classes": 2,
    }
    with pytest.raises(ValidationError) as err:
        Dataset(**{**base, **kwargs})
    assert err.value.field == field


# ---------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------
def test_stratified_split_is_disjoint_covering_and_proportional() -> None:
    y = np.repeat(np.arange(4), [10, 20, 30, 41])
    train, test = train_test_split(y, 0.3, rng=np.random.default_rng(0))
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(y.size))
    counts = np.bincount(y)
    assert np.bincount(y[test], minlength=4).tolist() == np.rint(0.3 * counts).astype(int).tolist()
    again = train_test_split(y, 0.3, rng=np.random.default_rng(0))
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])
    other = train_test_split(y, 0.3, rng=np.random.default_rng(1))
    assert not np.array_equal(np.sort(test), np.sort(other[1]))


def test_split_never_leaves_a_side_empty() -> None:
    train, test = train_test_split(np.array([0, 1]), 0.01, rng=np.random.default_rng(0))
    assert len(train) == 1 and len(test) == 1
    train, test = train_test_split(
        np.arange(5.0), 0.99, rng=np.random.default_rng(0), stratify=False
    )
    assert len(train) >= 1 and len(test) >= 1


# ---------------------------------------------------------------------------
# digits (scikit-learn, bundled)
# ---------------------------------------------------------------------------
def test_digits_is_the_sklearn_set_scaled_and_split() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    ref = datasets.load_digits()
    ds = load_dataset("digits", seed=3)
    assert ds.name == "digits" and ds.n_classes == 10
    assert ds.feature_shape == (1, 8, 8) and ds.x_train.dtype == np.float32
    assert ds.n_train + ds.n_test == len(ref.target) == 1797
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    # train + test is exactly the sklearn set (a split, no sample lost or repeated)
    x_all = np.concatenate([ds.x_train, ds.x_test]).reshape(-1, 64) * 16
    got = np.column_stack([np.rint(x_all), np.concatenate([ds.y_train, ds.y_test])])
    want = np.column_stack([ref.data, ref.target])
    assert np.array_equal(_rows(got), _rows(want))
    # stratified 80/20
    assert abs(ds.n_test - 0.2 * 1797) <= 10
    assert np.all(np.bincount(ds.y_test, minlength=10) >= 30)


def test_digits_seed_subsample_and_resolution() -> None:
    pytest.importorskip("sklearn")
    a = load_dataset("digits", seed=1, n_samples=300)
    b = load_dataset("digits", seed=1, n_samples=300)
    c = load_dataset("digits", seed=2, n_samples=300)
    assert a.n_train + a.n_test == 300 and a.n_test == 60
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(_rows(a.x_test), _rows(c.x_test))
    small = load_dataset("digits", seed=1, n_samples=300, resolution=4)
    assert small.feature_shape == (1, 4, 4)
    block_mean = a.x_train.reshape(-1, 1, 4, 2, 4, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(small.x_train, block_mean, atol=1e-6)
    assert small.meta["resampled"]["method"] == "auto"
    big = load_dataset("digits", seed=1, n_samples=300, resolution=(16, 12))
    assert big.feature_shape == (1, 16, 12)
    with pytest.raises(ValidationError) as err:
        load_dataset("digits", n_samples=1798)
    assert err.value.field == "n_samples"


# ---------------------------------------------------------------------------
# MNIST-1D (generated locally, never downloaded)
# ---------------------------------------------------------------------------
def test_mnist1d_args_are_the_benchmarks() -> None:
    mdata = pytest.importorskip("mnist1d.data")
    theirs = mdata.get_dataset_args(as_dict=True)
    theirs.pop("url")
    ours = dict(MNIST1D_ARGS)
    ours["padding"] = list(ours["padding"])
    assert ours == theirs


def test_mnist1d_offline_seeded_and_leaves_global_rng_alone(monkeypatch) -> None:
    mdata = pytest.importorskip("mnist1d.data")
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(mdata, "get_dataset", no_network)
    np.random.seed(123)  # noqa: NPY002 - the caller's global state must survive
    random.seed(7)
    before_np, before_py = np.random.get_state()[1].copy(), random.getstate()  # noqa: NPY002
    ds = load_dataset("mnist1d", seed=0, n_samples=200)
    assert np.array_equal(np.random.get_state()[1], before_np)  # noqa: NPY002
    assert random.getstate() == before_py
    assert ds.feature_shape == (40,) and ds.x_train.dtype == np.float32
    assert (ds.n_train, ds.n_test) == (160, 40) and ds.n_classes == 10
    assert set(np.unique(np.concatenate([ds.y_train, ds.y_test]))) == set(range(10))
    again = load_dataset("mnist1d", seed=0, n_samples=200)
    assert np.array_equal(ds.x_train, again.x_train)
    # the seed picks the split; the pool of signals is the benchmark's (seed 42)
    other = load_dataset("mnist1d", seed=5, n_samples=200)
    pool = _rows(np.concatenate([ds.x_train, ds.x_test]))
    assert np.array_equal(pool, _rows(np.concatenate([other.x_train, other.x_test])))
    assert not np.array_equal(_rows(ds.x_test), _rows(other.x_test))
    with pytest.raises(ValidationError) as err:
        load_dataset("mnist1d", resolution=8)
    assert err.value.field == "resolution"


# ---------------------------------------------------------------------------
# linear regression
# ---------------------------------------------------------------------------
def test_linear_targets_follow_the_model() -> None:
    ds = load_dataset("linear", seed=4, n_samples=500)
    assert ds.task == "regression" and ds.n_classes is None
    assert (ds.n_train, ds.n_test) == (400, 100) and ds.feature_shape == (20,)
    beta = ds.meta["beta"]
    resid = ds.y_train - ds.x_train @ beta.astype(np.float32)
    assert 0.08 < resid.std() < 0.12  # noise_std = 0.1 on 400 samples
    exact = make_linear(200, 5, noise_std=0.0, seed=9)
    np.testing.assert_allclose(exact.y_train, exact.x_train @ exact.meta["beta"], atol=1e-5)
    fit, *_ = np.linalg.lstsq(exact.x_train.astype(np.float64), exact.y_train, rcond=None)
    np.testing.assert_allclose(fit, exact.meta["beta"], atol=1e-5)
    # beta depends on the seed, not on the sample count
    np.testing.assert_array_equal(make_linear(50, 5, seed=9).meta["beta"], exact.meta["beta"])
    assert not np.allclose(make_linear(50, 5, seed=10).meta["beta"], exact.meta["beta"])
    with pytest.raises(ValidationError) as err:
        make_linear(50, 5, noise_std=-1.0)
    assert err.value.field == "noise_std"


# ---------------------------------------------------------------------------
# MNIST IDX files on disk
# ---------------------------------------------------------------------------
def _idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    dtypes = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(dtypes[code]).tobytes()


def _write(path: Path, payload: bytes, gz: bool) -> None:
    if gz:
        with gzip.open(path.with_name(path.name + ".gz"), "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)


def _write_mnist(root: Path, *, gz: bool, n_train: int = 30, n_test: int = 10, dotted=False):
    rng = np.random.default_rng(0)
    data = {
        "train": (rng.integers(0, 256, (n_train, 28, 28)), rng.integers(0, 10, n_train)),
        "t10k": (rng.integers(0, 256, (n_test, 28, 28)), rng.integers(0, 10, n_test)),
    }
    root.mkdir(parents=True, exist_ok=True)
    sep = "." if dotted else "-"
    for part, (images, labels) in data.items():
        _write(root / f"{part}-images{sep}idx3-ubyte", _idx_bytes(images), gz)
        _write(root / f"{part}-labels{sep}idx1-ubyte", _idx_bytes(labels), gz)
    return data


def test_idx_magic_numbers_and_roundtrip(tmp_path: Path) -> None:
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    payload = _idx_bytes(images)
    assert struct.unpack(">I", payload[:4])[0] == 2051  # MNIST image magic
    assert struct.unpack(">I", _idx_bytes(np.arange(3))[:4])[0] == 2049  # label magic
    (tmp_path / "a").write_bytes(payload)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), images)
    ints = np.array([[-5, 70000], [1, 2]])
    (tmp_path / "b").write_bytes(_idx_bytes(ints, 0x0C))
    np.testing.assert_array_equal(read_idx(tmp_path / "b"), ints)
    floats = np.array([0.5, -2.25])
    (tmp_path / "c").write_bytes(_idx_bytes(floats, 0x0D))
    np.testing.assert_array_equal(read_idx(tmp_path / "c"), floats)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_loader_reads_what_was_written(tmp_path: Path, gz: bool) -> None:
    data = _write_mnist(tmp_path, gz=gz)
    ds = load_dataset("mnist", path=tmp_path)
    assert ds.feature_shape == (1, 28, 28) and ds.n_classes == 10
    assert ds.meta["split"] == "official"
    np.testing.assert_array_equal(np.rint(ds.x_train[:, 0] * 255), data["train"][0])
    np.testing.assert_array_equal(ds.y_train, data["train"][1])
    np.testing.assert_array_equal(np.rint(ds.x_test[:, 0] * 255), data["t10k"][0])
    np.testing.assert_array_equal(ds.y_test, data["t10k"][1])
    assert ds.x_train.min() >= 0.0 and ds.x_train.max() <= 1.0


def test_mnist_layouts_subsample_and_resolution(tmp_path: Path) -> None:
    data = _write_mnist(tmp_path / "MNIST" / "raw", gz=True, dotted=True)
    ds = load_mnist(tmp_path, seed=0, n_samples=20)  # torchvision layout, dotted names
    assert (ds.n_train, ds.n_test) == (15, 5)  # the files' 30:10 proportion
    # each kept training image is one of the written ones, with its label
    written = {img.tobytes(): lab for img, lab in zip(*data["train"], strict=True)}
    kept = np.rint(ds.x_train[:, 0] * 255).astype(data["train"][0].dtype)
    assert all(written[img.tobytes()] == lab for img, lab in zip(kept, ds.y_train, strict=True))
    half = load_dataset("mnist", path=tmp_path, resolution=14)
    full = load_dataset("mnist", path=tmp_path)
    assert half.feature_shape == (1, 14, 14)
    np.testing.assert_allclose(
        half.x_test, full.x_test.reshape(-1, 1, 14, 2, 14, 2).mean(axis=(3, 5)), atol=1e-6
    )


def test_mnist_missing_or_malformed_files_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        load_dataset("mnist")
    assert err.value.field == "path"
    with pytest.raises(ValidationError) as err:
        load_dataset("mnist", path=tmp_path / "nowhere")
    assert err.value.field == "path" and "nowhere" in str(err.value)
    _write_mnist(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ValidationError) as err:
        load_dataset("mnist", path=tmp_path)
    assert str(tmp_path) in str(err.value) and "t10k-labels-idx1-ubyte" in str(err.value)
    # wrong magic
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValidationError, match="t10k-labels-idx1-ubyte"):
        load_dataset("mnist", path=tmp_path)
    # header promising more bytes than the file holds
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(np.arange(10))[:-3])
    with pytest.raises(ValidationError, match="t10k-labels-idx1-ubyte"):
        load_dataset("mnist", path=tmp_path)
    # label count differs from the image count
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(np.arange(7)))
    with pytest.raises(ValidationError, match="t10k-labels-idx1-ubyte"):
        load_dataset("mnist", path=tmp_path)
    # a corrupt gzip file
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValidationError, match=r"t10k-labels-idx1-ubyte\.gz"):
        load_dataset("mnist", path=tmp_path)


# ---------------------------------------------------------------------------
# CIFAR-10 python batches on disk
# ---------------------------------------------------------------------------
def _write_cifar(root: Path, per_batch: int = 4) -> dict[str, tuple[np.ndarray, list[int]]]:
    rng = np.random.default_rng(1)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072)).astype(np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        with (root / name).open("wb") as fh:
            pickle.dump({b"batch_label": name.encode(), b"data": data, b"labels": labels}, fh)
        out[name] = (data, labels)
    return out


def test_cifar10_loader_reads_what_was_written(tmp_path: Path) -> None:
    data = _write_cifar(tmp_path / "cifar-10-batches-py")
    ds = load_dataset("cifar-10", path=tmp_path)
    assert ds.name == "cifar10" and ds.feature_shape == (3, 32, 32)
    assert (ds.n_train, ds.n_test) == (20, 4)
    train = np.concatenate([data[f"data_batch_{i}"][0] for i in range(1, 6)])
    np.testing.assert_array_equal(np.rint(ds.x_train * 255).reshape(20, 3072), train)
    labels = [lab for i in range(1, 6) for lab in data[f"data_batch_{i}"][1]]
    assert ds.y_train.tolist() == labels
    # channel-major layout: the first 1024 values are the red plane
    np.testing.assert_array_equal(
        np.rint(ds.x_test[:, 0] * 255).reshape(4, 1024), data["test_batch"][0][:, :1024]
    )
    small = load_cifar10(tmp_path / "cifar-10-batches-py", n_samples=12, seed=2)
    assert (small.n_train, small.n_test) == (10, 2)
    low = load_dataset("cifar10", path=tmp_path, resolution=8)
    np.testing.assert_allclose(
        low.x_train, ds.x_train.reshape(-1, 3, 8, 4, 8, 4).mean(axis=(3, 5)), atol=1e-6
    )


def test_cifar10_missing_or_malformed_files_name_the_path(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(ValidationError) as err:
        load_dataset("cifar10", path=tmp_path)
    assert err.value.field == "path" and "data_batch_3" in str(err.value)
    assert str(tmp_path) in str(err.value)
    for payload in (
        pickle.dumps([1, 2, 3]),
        pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}),  # no labels
        pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}),
        b"garbage",
    ):
        (tmp_path / "data_batch_3").write_bytes(payload)
        with pytest.raises(ValidationError, match="data_batch_3"):
            load_dataset("cifar10", path=tmp_path)


class _Exploit:
    def __reduce__(self):
        return (os.getcwd, ())


def test_cifar10_unpickler_refuses_code(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": _Exploit(), b"labels": []}))
    with pytest.raises(ValidationError, match="refusing to load"):
        load_cifar10(tmp_path)


# ---------------------------------------------------------------------------
# Resampling
# ---------------------------------------------------------------------------
def test_area_downsampling_is_the_block_mean_and_keeps_the_mean() -> None:
    x = np.random.default_rng(0).random((5, 3, 12, 9)).astype(np.float32)
    out = resample_images(x, (4, 3))
    assert out.shape == (5, 3, 4, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, x.reshape(5, 3, 4, 3, 3, 3).mean(axis=(3, 5)), atol=1e-6)
    odd = resample_images(x, (5, 7), method="area")  # non-integer factors
    np.testing.assert_allclose(odd.mean(axis=(2, 3)), x.mean(axis=(2, 3)), atol=1e-6)
    assert odd.min() >= x.min() and odd.max() <= x.max()


def test_bilinear_upsampling_matches_scipy_zoom() -> None:
    ndimage = pytest.importorskip("scipy.ndimage")
    x = np.random.default_rng(1).random((2, 2, 5, 7))
    for h, w in [(11, 9), (10, 14), (13, 20)]:
        ours = resample_images(x, (h, w))  # auto: both axes grow -> bilinear
        assert ours.dtype == np.float64
        ref = ndimage.zoom(x, (1, 1, h / 5, w / 7), order=1, grid_mode=True, mode="nearest")
        np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_resample_identity_constants_and_uint8() -> None:
    x = np.random.default_rng(2).random((3, 1, 6, 6)).astype(np.float32)
    for method in ("auto", "area", "bilinear"):
        np.testing.assert_allclose(resample_images(x, 6, method=method), x, atol=1e-7)
        const = np.full((2, 3, 7, 5), 0.25, dtype=np.float32)
        np.testing.assert_allclose(resample_images(const, (3, 11), method=method), 0.25, atol=1e-6)
    ints = resample_images(np.full((1, 1, 4, 4), 200, dtype=np.uint8), 2)
    assert ints.dtype == np.float32 and np.allclose(ints, 200.0)


@pytest.mark.parametrize(
    ("x", "size", "method", "field"),
    [
        (np.zeros((3, 8, 8)), 4, "auto", "x"),
        (np.zeros((1, 1, 8, 8)), 0, "auto", "size"),
        (np.zeros((1, 1, 8, 8)), (4, 4, 4), "auto", "size"),
        (np.zeros((1, 1, 8, 8)), 4, "cubic", "method"),
    ],
)
def test_resample_rejects_bad_input(x, size, method, field) -> None:
    with pytest.raises(ValidationError) as err:
        resample_images(x, size, method=method)
    assert err.value.field == field


# ---------------------------------------------------------------------------
# load_dataset arguments
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "imagenet"}, "name"),
        ({"name": 3}, "name"),
        ({"name": "linear", "seed": -1}, "seed"),
        ({"name": "linear", "test_fraction": 0.0}, "test_fraction"),
        ({"name": "linear", "test_fraction": 1.0}, "test_fraction"),
        ({"name": "linear", "n_samples": 1}, "n_samples"),
        ({"name": "linear", "resolution": 4}, "resolution"),
        ({"name": "cifar10"}, "path"),
    ],
)
def test_load_dataset_rejects_bad_arguments(kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        load_dataset(**kwargs)
    assert err.value.field == field


def test_dataset_names() -> None:
    assert DATASETS == ("digits", "mnist1d", "linear", "mnist", "cifar10")
    assert load_dataset("Linear", n_samples=10).name == "linear"


def test_the_data_package_keeps_its_names() -> None:
    import edgealloc.learn.data as data
    from edgealloc.learn.data import dataset, files, generated, resample

    assert data.Dataset is dataset.Dataset and data.train_test_split is dataset.train_test_split
    assert data.resample_images is resample.resample_images
    assert data.read_idx is files.read_idx and data.load_cifar10 is files.load_cifar10
    assert data.load_mnist is files.load_mnist and data.load_digits is generated.load_digits
    assert data.make_mnist1d is generated.make_mnist1d and data.make_linear is generated.make_linear
    assert data.MNIST1D_ARGS is generated.MNIST1D_ARGS
    assert all(hasattr(data, name) for name in data.__all__)


def test_module_doctests() -> None:
    import doctest

    import edgealloc.learn.data as data
    from edgealloc.learn.data import resample

    for module in (data, resample):
        assert doctest.testmod(module).failed == 0, module.__name__
