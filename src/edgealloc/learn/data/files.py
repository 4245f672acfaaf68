"""Datasets read from files already on disk: MNIST IDX files and CIFAR-10 python batches.

Nothing is downloaded; a missing or malformed file is one
:class:`~edgealloc.errors.ValidationError` on the field ``path`` whose
message names the file.
"""

from __future__ import annotations

import gzip
import io
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..._validation import check_int
from ...errors import ValidationError
from .dataset import Dataset, _finish_official

__all__ = ["load_cifar10", "load_mnist", "read_idx"]


_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ValidationError("path", f"cannot read {path}: {exc}") from exc


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (the MNIST format), raw or gzip-compressed.

    The header is two zero bytes, a type code (``0x08`` = uint8, ...), the
    number of dimensions, then one big-endian uint32 per dimension; e.g. magic
    2051 (``0x00000803``) for MNIST images and 2049 (``0x00000801``) for labels.

    Parameters
    ----------
    path
        The file (``.gz`` is decompressed).

    Returns
    -------
    numpy.ndarray
        The array, in native byte order.

    Raises
    ------
    ValidationError
        Missing file, bad magic number or a size that does not match the header
        (the message names the file).
    """
    p = Path(path)
    if not p.is_file():
        raise ValidationError("path", f"{p} does not exist")
    raw = _read_bytes(p)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValidationError("path", f"{p} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if ndim < 1 or len(raw) < header:
        raise ValidationError("path", f"{p} has a truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = math.prod(dims) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValidationError(
            "path",
            f"{p}: IDX header says {dims} ({expected} bytes of data), "
            f"file has {len(raw) - header} bytes",
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


_MNIST_FILES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def _directory(path: str | Path | None, dataset: str) -> Path:
    if path is None:
        raise ValidationError(
            "path",
            f"dataset {dataset!r} is read from files on disk: give path= (nothing is downloaded)",
        )
    p = Path(path).expanduser()
    if not p.is_dir():
        raise ValidationError("path", f"{p} is not a directory (dataset {dataset!r})")
    return p


def _find(dirs: list[Path], names: tuple[str, ...], what: str) -> Path:
    for d in dirs:
        for name in names:
            for candidate in (d / name, d / f"{name}.gz"):
                if candidate.is_file():
                    return candidate
    raise ValidationError(
        "path", f"{dirs[0]}: no {what} file {names[0]}[.gz] (searched {', '.join(map(str, dirs))})"
    )


def _read_mnist(path: str | Path | None) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    root = _directory(path, "mnist")
    dirs = [root, root / "MNIST" / "raw", root / "raw"]
    files = {key: _find(dirs, names, "MNIST") for key, names in _MNIST_FILES.items()}
    out = []
    for part in ("train", "test"):
        img_path, lab_path = files[f"{part}_images"], files[f"{part}_labels"]
        images, labels = read_idx(img_path), read_idx(lab_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValidationError(
                "path",
                f"{img_path}: expected uint8 images (n, H, W) (got {images.dtype} {images.shape})",
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValidationError(
                "path", f"{lab_path}: expected {len(images)} labels (got shape {labels.shape})"
            )
        if labels.size and labels.max() > 9:
            raise ValidationError(
                "path", f"{lab_path}: labels must lie in 0..9 (got {labels.max()})"
            )
        out.append((images[:, None, :, :], labels.astype(np.int64)))
    return tuple(out)


def load_mnist(path: str | Path, *, seed: int = 0, n_samples: int | None = None) -> Dataset:
    """MNIST (or Fashion-MNIST) from IDX files already on disk.

    Looks for ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each raw or
    ``.gz``; the ``train-images.idx3-ubyte`` spelling too) in ``path``,
    ``path/MNIST/raw`` (torchvision's layout) or ``path/raw``.

    Parameters
    ----------
    path
        Directory holding the files.
    seed, n_samples
        As in :func:`load_dataset` (the files' train/test split is kept).

    Returns
    -------
    Dataset
        Images ``(n, 1, 28, 28)`` scaled to ``[0, 1]``, 10 classes.

    Raises
    ------
    ValidationError
        Missing or malformed files; the message names the path.
    """
    seed = check_int("seed", seed, minimum=0)
    train, test = _read_mnist(path)
    return _finish_official(
        "mnist", train, test, 255.0, seed=seed, n_samples=n_samples, meta={"source": str(path)}
    )


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only plain containers and NumPy arrays (CIFAR batches need no more)."""

    _ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open("rb") as fh:
            obj = _ArrayUnpickler(io.BytesIO(fh.read()), encoding="bytes").load()
    except OSError as exc:
        raise ValidationError("path", f"cannot read {path}: {exc}") from exc
    except Exception as exc:  # any unpickling failure is a malformed file
        raise ValidationError("path", f"{path} is not a CIFAR-10 python batch ({exc})") from exc
    if not isinstance(obj, dict):
        raise ValidationError("path", f"{path} is not a CIFAR-10 python batch (not a dict)")
    data = obj.get(b"data", obj.get("data"))
    labels = obj.get(b"labels", obj.get("labels"))
    if data is None or labels is None:
        raise ValidationError(
            "path", f"{path}: a CIFAR-10 batch needs the keys b'data' and b'labels'"
        )
    x = np.asarray(data)
    y = np.asarray(labels)
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3 * 32 * 32:
        raise ValidationError(
            "path", f"{path}: b'data' must be uint8 of shape (n, 3072) (got {x.dtype} {x.shape})"
        )
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ValidationError(
            "path", f"{path}: b'labels' must be {len(x)} integers (got {y.shape})"
        )
    if y.size and (y.min() < 0 or y.max() > 9):
        raise ValidationError("path", f"{path}: labels must lie in 0..9")
    return x.reshape(-1, 3, 32, 32), y.astype(np.int64)


def load_cifar10(path: str | Path, *, seed: int = 0, n_samples: int | None = None) -> Dataset:
    """CIFAR-10 from the python batches already on disk.

    Reads ``data_batch_1`` .. ``data_batch_5`` and ``test_batch`` from
    ``path`` or ``path/cifar-10-batches-py``: pickled dicts with ``b"data"``
    (uint8, ``(n, 3072)``, channel-major) and ``b"labels"``. The unpickler
    accepts only NumPy arrays and plain containers, so a tampered file cannot
    run code.

    Parameters
    ----------
    path
        Directory holding the batches.
    seed, n_samples
        As in :func:`load_dataset` (the files' train/test split is kept).

    Returns
    -------
    Dataset
        Images ``(n, 3, 32, 32)`` scaled to ``[0, 1]``, 10 classes.

    Raises
    ------
    ValidationError
        Missing or malformed files; the message names the path.
    """
    seed = check_int("seed", seed, minimum=0)
    root = _directory(path, "cifar10")
    if not (root / "test_batch").is_file() and (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise ValidationError(
            "path", f"{root}: missing CIFAR-10 batch file(s) {', '.join(missing)}"
        )
    batches = [_read_cifar_batch(root / n) for n in names]
    train = (
        np.concatenate([b[0] for b in batches[:5]]),
        np.concatenate([b[1] for b in batches[:5]]),
    )
    return _finish_official(
        "cifar10",
        train,
        batches[5],
        255.0,
        seed=seed,
        n_samples=n_samples,
        meta={"source": str(root)},
    )
