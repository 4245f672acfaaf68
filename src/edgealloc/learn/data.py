r"""Datasets for the learning engine, offline only (DESIGN.md layer 5; issue 4).

Every dataset comes back as one immutable :class:`Dataset`: float32 features
(images ``(n, C, H, W)`` in ``[0, 1]``), int64 class labels (or float32
regression targets), a train and a test part. Nothing is ever downloaded.

========  ==============================================  ==================  ================
name      source                                          features            train / test
========  ==============================================  ==================  ================
digits    scikit-learn ``load_digits`` (bundled, 1797)    ``(1, 8, 8)``       stratified split
mnist1d   ``mnist1d.data.make_dataset``, generated here    ``(40,)``           stratified split
linear    synthetic :math:`y = X\beta^* + z`               ``(n_features,)``   random split
mnist     IDX files already on disk (``path=``)           ``(1, 28, 28)``     the files' split
cifar10   CIFAR-10 python batches on disk (``path=``)     ``(3, 32, 32)``     the files' split
========  ==============================================  ==================  ================

Randomness
----------
``seed`` drives everything random in :func:`load_dataset`: the ``n_samples``
subsample, the train/test split and, for ``linear``, the data themselves.
MNIST-1D is generated with the benchmark's own parameters and seed (42, the
values of ``mnist1d.data.get_dataset_args``), so the *pool* of signals is the
same for every ``seed``; ``seed`` picks the subsample and the split, as for
the datasets read from disk. Use :func:`make_mnist1d` to vary the generation.

``n_samples`` and ``test_fraction``
-----------------------------------
``n_samples`` is the number of samples kept in total (train + test), drawn
uniformly at random without replacement. Datasets without an official split
(digits, mnist1d, linear) are then split with ``test_fraction`` of the samples
in the test set, stratified by class for classification. MNIST and CIFAR-10
keep the split of their files; ``test_fraction`` does not apply to them, and
``n_samples`` keeps the files' train/test proportion
(``round(n_samples * n_test / (n_train + n_test))`` test samples).

Resampling
----------
``resolution=`` resamples images with :func:`resample_images`: a separable
linear map per axis, *area* averaging (exact pixel-overlap weights, an
anti-aliasing box filter; the block mean for integer factors) where the axis
shrinks and *bilinear* interpolation (half-pixel centres, edge clamped) where
it grows.

Examples
--------
>>> ds = load_dataset("digits", seed=0, n_samples=500)
>>> ds.task, ds.feature_shape, ds.n_train + ds.n_test, ds.n_classes
('classification', (1, 8, 8), 500, 10)
>>> load_dataset("digits", n_samples=50, resolution=4).feature_shape
(1, 4, 4)
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import math
import pickle
import random
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import check_int
from ..errors import ValidationError

__all__ = [
    "DATASETS",
    "MNIST1D_ARGS",
    "Dataset",
    "load_cifar10",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "make_linear",
    "make_mnist1d",
    "read_idx",
    "resample_images",
    "train_test_split",
]

DATASETS: tuple[str, ...] = ("digits", "mnist1d", "linear", "mnist", "cifar10")
"""Names accepted by :func:`load_dataset`."""

MNIST1D_ARGS: Mapping[str, Any] = types.MappingProxyType(
    {
        "num_samples": 5000,
        "train_split": 0.8,
        "template_len": 12,
        "padding": (36, 60),
        "scale_coeff": 0.4,
        "max_translation": 48,
        "corr_noise_scale": 0.25,
        "iid_noise_scale": 2e-2,
        "shear_scale": 0.75,
        "shuffle_seq": False,
        "final_seq_length": 40,
        "seed": 42,
    }
)
"""The MNIST-1D benchmark's generation parameters (``mnist1d.data.get_dataset_args``,
without the download URL), passed explicitly to ``make_dataset``."""

ResampleMethod = Literal["auto", "area", "bilinear"]


# ---------------------------------------------------------------------------
# The Dataset container
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test dataset held in memory.

    Parameters
    ----------
    name
        Short name (``"digits"``, ``"mnist"``, ...).
    x_train, x_test
        Features, shape ``(n, *feature_shape)``, converted to float32. Images
        are ``(n, C, H, W)`` with values in ``[0, 1]``.
    y_train, y_test
        Shape ``(n,)``: int64 class labels in ``[0, n_classes)``, or float32
        regression targets when ``n_classes`` is ``None``.
    n_classes
        Number of classes, or ``None`` for regression.
    meta
        Provenance (source, seed, split rule, resampling, ...); free-form.

    Raises
    ------
    ValidationError
        Shapes that do not match, labels out of range, non-finite values.

    Notes
    -----
    Equality is identity (``eq=False``): comparing arrays element-wise is left
    to the caller.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int | None
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.n_classes is not None and (
            isinstance(self.n_classes, bool)
            or not isinstance(self.n_classes, int | np.integer)
            or self.n_classes < 1
        ):
            raise ValidationError(
                "n_classes", f"must be an integer >= 1 or None (got {self.n_classes!r})"
            )
        if self.n_classes is not None:
            object.__setattr__(self, "n_classes", int(self.n_classes))
        arrays: dict[str, np.ndarray] = {}
        for part in ("train", "test"):
            x_raw = np.asarray(getattr(self, f"x_{part}"))
            y_raw = np.asarray(getattr(self, f"y_{part}"))
            for field, arr in ((f"x_{part}", x_raw), (f"y_{part}", y_raw)):
                if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
                    raise ValidationError(field, f"must be real numbers (got dtype {arr.dtype})")
                if np.iscomplexobj(arr):
                    raise ValidationError(field, "must be real numbers (got complex values)")
            x = x_raw.astype(np.float32, copy=False)
            if x.ndim < 2:
                raise ValidationError(
                    f"x_{part}", f"must have shape (n, *features) (got {x.shape})"
                )
            if y_raw.ndim != 1 or len(y_raw) != len(x):
                raise ValidationError(
                    f"y_{part}", f"must have shape ({len(x)},) like x_{part} (got {y_raw.shape})"
                )
            if not np.all(np.isfinite(x)):
                raise ValidationError(f"x_{part}", "must be finite")
            if self.n_classes is not None:
                if not np.all(np.isfinite(y_raw)) or not np.array_equal(y_raw, np.round(y_raw)):
                    raise ValidationError(f"y_{part}", "class labels must be whole numbers")
                y = y_raw.astype(np.int64)
                if y.size and (y.min() < 0 or y.max() >= self.n_classes):
                    raise ValidationError(
                        f"y_{part}",
                        f"labels must lie in [0, {self.n_classes}) (got {y.min()}..{y.max()})",
                    )
            else:
                y = y_raw.astype(np.float32)
                if not np.all(np.isfinite(y)):
                    raise ValidationError(f"y_{part}", "must be finite")
            arrays[f"x_{part}"], arrays[f"y_{part}"] = x, y
        if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
            raise ValidationError(
                "x_test",
                f"feature shape {arrays['x_test'].shape[1:]} differs from x_train's "
                f"{arrays['x_train'].shape[1:]}",
            )
        for key, value in arrays.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "meta", dict(self.meta))

    @property
    def task(self) -> Literal["classification", "regression"]:
        """``"classification"`` when there are classes, else ``"regression"``."""
        return "regression" if self.n_classes is None else "classification"

    @property
    def feature_shape(self) -> tuple[int, ...]:
        """Shape of one sample's features, e.g. ``(1, 8, 8)`` or ``(40,)``."""
        return tuple(int(s) for s in self.x_train.shape[1:])

    @property
    def n_features(self) -> int:
        """Number of features per sample (the papers' :math:`\\mathcal F`)."""
        return math.prod(self.feature_shape)

    @property
    def n_train(self) -> int:
        """Number of training samples."""
        return len(self.x_train)

    @property
    def n_test(self) -> int:
        """Number of test samples."""
        return len(self.x_test)

    @property
    def is_image(self) -> bool:
        """Whether samples are images ``(C, H, W)``."""
        return len(self.feature_shape) == 3

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, feature_shape={self.feature_shape}, "
            f"n_train={self.n_train}, n_test={self.n_test}, n_classes={self.n_classes})"
        )


# ---------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------
def _fraction(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValidationError(field, f"must be a number in (0, 1) (got {value!r})")
    v = float(value)
    if not 0.0 < v < 1.0:
        raise ValidationError(field, f"must lie strictly between 0 and 1 (got {value!r})")
    return v


def _size2(field: str, size: Any) -> tuple[int, int]:
    if isinstance(size, int | np.integer) and not isinstance(size, bool):
        pair: tuple[Any, ...] = (size, size)
    elif isinstance(size, tuple | list) and len(size) == 2:
        pair = tuple(size)
    else:
        raise ValidationError(field, f"must be an int or a pair (h, w) (got {size!r})")
    return (check_int(field, pair[0], minimum=1), check_int(field, pair[1], minimum=1))


# ---------------------------------------------------------------------------
# Resampling
# ---------------------------------------------------------------------------
def _area_matrix(n_in: int, n_out: int) -> NDArray[np.float64]:
    """Box-filter weights: output ``i`` averages input ``[i s, (i+1) s)``, ``s = n_in / n_out``."""
    s = n_in / n_out
    lo = np.arange(n_out)[:, None] * s
    j = np.arange(n_in)[None, :]
    overlap = np.minimum(lo + s, j + 1) - np.maximum(lo, j)
    return np.clip(overlap, 0.0, None) / s


def _bilinear_matrix(n_in: int, n_out: int) -> NDArray[np.float64]:
    """Linear interpolation weights with half-pixel centres, clamped at the edges."""
    u = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    u = np.clip(u, 0.0, n_in - 1)
    j0 = np.floor(u).astype(np.int64)
    j1 = np.minimum(j0 + 1, n_in - 1)
    frac = u - j0
    a = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    np.add.at(a, (rows, j0), 1.0 - frac)
    np.add.at(a, (rows, j1), frac)
    return a


def _axis_matrix(n_in: int, n_out: int, method: str) -> NDArray[np.float64]:
    if method == "area" or (method == "auto" and n_out <= n_in):
        return _area_matrix(n_in, n_out)
    return _bilinear_matrix(n_in, n_out)


def resample_images(
    x: ArrayLike, size: int | tuple[int, int], *, method: ResampleMethod = "auto"
) -> np.ndarray:
    r"""Resample a batch of images ``(n, C, H, W)`` to ``(n, C, h, w)``.

    The map is separable and linear: ``out = A_h @ x @ A_w.T`` with one
    ``(h, H)`` and one ``(w, W)`` weight matrix, applied to the whole batch
    at once (two batched matrix products, no per-image loop).

    Parameters
    ----------
    x
        Images, shape ``(n, C, H, W)`` (any real dtype).
    size
        Target ``h`` (square) or ``(h, w)``.
    method
        ``"area"``: every output pixel is the mean of the input area it covers
        (exact overlap weights; OpenCV's ``INTER_AREA``; for an integer factor
        the block mean). Anti-aliased, preserves the mean intensity exactly.
        ``"bilinear"``: linear interpolation between pixel centres
        (half-pixel convention, ``align_corners=False``, edges clamped; equal to
        ``scipy.ndimage.zoom(order=1, grid_mode=True, mode="nearest")``).
        ``"auto"`` (default): area on an axis that shrinks or keeps its size,
        bilinear on an axis that grows.

    Returns
    -------
    numpy.ndarray
        float32 (float64 for float64 input), shape ``(n, C, h, w)``. Every
        weight row is non-negative and sums to 1, so constants are preserved
        and values stay within the input's range.

    Raises
    ------
    ValidationError
        ``x`` not 4-D, ``size`` not positive, unknown ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> resample_images(x, 2)[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """
    arr = np.asarray(x)
    if arr.ndim != 4 or min(arr.shape[2:], default=0) < 1:
        raise ValidationError("x", f"must have shape (n, C, H, W) with H, W >= 1 (got {arr.shape})")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValidationError("x", f"must be real numbers (got dtype {arr.dtype})")
    if method not in ("auto", "area", "bilinear"):
        raise ValidationError("method", f"must be 'auto', 'area' or 'bilinear' (got {method!r})")
    h, w = _size2("size", size)
    dtype = np.float64 if arr.dtype == np.float64 else np.float32
    arr = arr.astype(dtype, copy=False)
    a_h = _axis_matrix(arr.shape[2], h, method).astype(dtype)
    a_w = _axis_matrix(arr.shape[3], w, method).astype(dtype)
    return np.ascontiguousarray((a_h @ arr) @ a_w.T)


# ---------------------------------------------------------------------------
# Splits and subsampling
# ---------------------------------------------------------------------------
def train_test_split(
    y: ArrayLike, test_fraction: float, *, rng: np.random.Generator, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train/test split of ``len(y)`` samples.

    Parameters
    ----------
    y
        Labels (used for stratification) or targets, shape ``(n,)``, ``n >= 2``.
    test_fraction
        Share of the samples in the test set, in ``(0, 1)``.
    rng
        The generator that decides the split.
    stratify
        Split every class in the same proportion (class ``c`` gives
        ``round(test_fraction * n_c)`` test samples); otherwise a plain random
        split with ``round(test_fraction * n)`` test samples.

    Returns
    -------
    train, test : numpy.ndarray
        Disjoint int64 index arrays covering ``range(n)``, each in random
        order. Both are non-empty.

    Raises
    ------
    ValidationError
        ``n < 2`` or ``test_fraction`` outside ``(0, 1)``.
    """
    labels = np.asarray(y)
    n = len(labels)
    frac = _fraction("test_fraction", test_fraction)
    if n < 2:
        raise ValidationError("n_samples", f"needs at least 2 samples to split (got {n})")
    perm = rng.permutation(n)
    if stratify:
        lab = labels[perm]
        order = np.argsort(lab, kind="stable")  # class by class, random order inside
        classes, starts, counts = np.unique(lab[order], return_index=True, return_counts=True)
        n_test_c = np.rint(frac * counts).astype(np.int64)
        cls = np.searchsorted(classes, lab[order])
        rank = np.arange(n) - starts[cls]
        is_test_sorted = rank < n_test_c[cls]
        is_test = np.empty(n, dtype=bool)
        is_test[order] = is_test_sorted
    else:
        is_test = np.arange(n) < round(frac * n)
    # never an empty side: move one sample across if rounding emptied one
    if not is_test.any():
        is_test[0] = True
    if is_test.all():
        is_test[-1] = False
    return perm[~is_test].astype(np.int64), perm[is_test].astype(np.int64)


def _subsample(n_total: int, n_samples: int | None, rng: np.random.Generator) -> np.ndarray | None:
    if n_samples is None:
        return None
    n = check_int("n_samples", n_samples, minimum=2)
    if n > n_total:
        raise ValidationError(
            "n_samples", f"must be <= the {n_total} samples available (got {n_samples})"
        )
    return np.sort(rng.choice(n_total, size=n, replace=False))


def _finish(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int | None,
    *,
    seed: int,
    n_samples: int | None,
    test_fraction: float,
    meta: dict[str, Any],
    subsampled: bool = False,
) -> Dataset:
    """Subsample (unless done), split by seed and wrap a dataset without an official split."""
    rng = np.random.default_rng(seed)
    if not subsampled:
        keep = _subsample(len(x), n_samples, rng)
        if keep is not None:
            x, y = x[keep], y[keep]
    train, test = train_test_split(y, test_fraction, rng=rng, stratify=n_classes is not None)
    meta = {
        **meta,
        "seed": seed,
        "split": "stratified" if n_classes is not None else "random",
        "test_fraction": test_fraction,
    }
    return Dataset(name, x[train], y[train], x[test], y[test], n_classes, meta)


def _finish_official(
    name: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    scale: float,
    *,
    seed: int,
    n_samples: int | None,
    meta: dict[str, Any],
) -> Dataset:
    """Subsample an officially split dataset (keeping its proportion) and scale to [0, 1]."""
    (xtr, ytr), (xte, yte) = train, test
    if n_samples is not None:
        n_total = len(xtr) + len(xte)
        n = check_int("n_samples", n_samples, minimum=2)
        if n > n_total:
            raise ValidationError(
                "n_samples", f"must be <= the {n_total} samples available (got {n_samples})"
            )
        n_te = min(max(round(n * len(xte) / n_total), 1), len(xte), n - 1)
        n_tr = n - n_te
        if n_tr > len(xtr):
            n_tr, n_te = len(xtr), n - len(xtr)
        rng = np.random.default_rng(seed)
        k_tr = np.sort(rng.choice(len(xtr), size=n_tr, replace=False))
        k_te = np.sort(rng.choice(len(xte), size=n_te, replace=False))
        xtr, ytr, xte, yte = xtr[k_tr], ytr[k_tr], xte[k_te], yte[k_te]
    meta = {**meta, "seed": seed, "split": "official"}
    return Dataset(
        name,
        xtr.astype(np.float32) / np.float32(scale),
        ytr,
        xte.astype(np.float32) / np.float32(scale),
        yte,
        10,
        meta,
    )


# ---------------------------------------------------------------------------
# Generated and bundled datasets
# ---------------------------------------------------------------------------
def load_digits(
    *, seed: int = 0, n_samples: int | None = None, test_fraction: float = 0.2
) -> Dataset:
    """scikit-learn's handwritten digits (1797 images 8x8, 10 classes), offline.

    ``sklearn.datasets.load_digits`` reads a file shipped with scikit-learn;
    nothing is downloaded. Pixels (0..16) are scaled to ``[0, 1]``; shape
    ``(n, 1, 8, 8)``.

    Parameters
    ----------
    seed, n_samples, test_fraction
        As in :func:`load_dataset`.

    Returns
    -------
    Dataset
        Stratified train/test split.

    Raises
    ------
    ValidationError
        scikit-learn missing, or bad arguments.
    """
    seed = check_int("seed", seed, minimum=0)
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValidationError(
            "dataset", "'digits' needs scikit-learn: pip install 'edgealloc[learn]'"
        ) from exc
    bunch = _sk_load_digits()
    x = (np.asarray(bunch.images, dtype=np.float32) / np.float32(16.0))[:, None, :, :]
    y = np.asarray(bunch.target, dtype=np.int64)
    return _finish(
        "digits",
        x,
        y,
        10,
        seed=seed,
        n_samples=n_samples,
        test_fraction=test_fraction,
        meta={"source": "sklearn.datasets.load_digits"},
    )


def make_mnist1d(
    n_samples: int = 5000, *, seed: int = 42, **overrides: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Generate MNIST-1D signals locally (Greydanus, 2020), never downloading.

    Calls ``mnist1d.data.make_dataset`` with :data:`MNIST1D_ARGS` passed
    explicitly (``get_dataset``, which may download, is never called).
    ``make_dataset`` seeds NumPy's and Python's *global* generators; their
    states are saved and restored, so the caller's global randomness is left
    untouched.

    Parameters
    ----------
    n_samples
        Number of signals; ``make_dataset`` draws ``num_samples // 10`` per
        class, so ``10 * ceil(n_samples / 10)`` are generated and the first
        ``n_samples`` of its (shuffled) output are returned.
    seed
        Generation seed (42 is the benchmark's).
    **overrides
        Other keys of :data:`MNIST1D_ARGS` (e.g. ``shuffle_seq=True``).

    Returns
    -------
    x, y : numpy.ndarray
        float32 signals ``(n_samples, final_seq_length)`` (standardised, as
        ``make_dataset`` returns them) and int64 labels 0..9.

    Raises
    ------
    ValidationError
        mnist1d missing, or unknown/invalid arguments.
    """
    n = check_int("n_samples", n_samples, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    unknown = set(overrides) - set(MNIST1D_ARGS) - {"num_samples", "seed"}
    if unknown or {"num_samples", "seed", "train_split"} & set(overrides):
        bad = sorted(unknown | ({"num_samples", "seed", "train_split"} & set(overrides)))
        raise ValidationError(bad[0], "is not an MNIST-1D generation option you can set here")
    try:
        from mnist1d.data import make_dataset
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValidationError(
            "dataset", "'mnist1d' needs the mnist1d package: pip install 'edgealloc[learn]'"
        ) from exc
    n_gen = 10 * math.ceil(n / 10)
    args = {**MNIST1D_ARGS, **overrides, "num_samples": n_gen, "train_split": 1.0, "seed": seed}
    args["padding"] = list(args["padding"])
    # make_dataset reseeds the legacy global generators: save and restore them
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        out = make_dataset(types.SimpleNamespace(**args))
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    x = np.asarray(out["x"], dtype=np.float32)[:n]
    y = np.asarray(out["y"], dtype=np.int64)[:n]
    return x, y


def make_linear(
    n_samples: int = 2000,
    n_features: int = 20,
    *,
    noise_std: float = 0.1,
    seed: int = 0,
    test_fraction: float = 0.2,
) -> Dataset:
    r"""Synthetic linear regression :math:`y = X\beta^* + z`.

    :math:`X_{ij} \sim \mathcal N(0, 1)`, :math:`\beta^*_j \sim \mathcal N(0, 1/F)`
    (so :math:`\operatorname{Var}(x^T\beta^*) \approx 1`) and
    :math:`z \sim \mathcal N(0, \sigma^2)`; the model of the MEL papers'
    regression reading and of ``seeds/xr-offloading.txt`` Section II-A.

    Parameters
    ----------
    n_samples
        Samples in total (train + test).
    n_features
        :math:`F`.
    noise_std
        :math:`\sigma \ge 0`.
    seed
        Draws :math:`\beta^*` (stream ``[seed, 1]``, independent of
        ``n_samples``), :math:`X` and :math:`z` (stream ``[seed, 2]``) and the
        split (``default_rng(seed)``).
    test_fraction
        Share of the test set, in ``(0, 1)``.

    Returns
    -------
    Dataset
        Regression (``n_classes=None``); ``meta["beta"]`` holds :math:`\beta^*`
        and ``meta["noise_std"]`` :math:`\sigma`.

    Raises
    ------
    ValidationError
        Bad arguments.
    """
    n = check_int("n_samples", n_samples, minimum=2)
    f = check_int("n_features", n_features, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    if isinstance(noise_std, bool) or not isinstance(noise_std, int | float | np.number):
        raise ValidationError("noise_std", f"must be a number >= 0 (got {noise_std!r})")
    sigma = float(noise_std)
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValidationError("noise_std", f"must be finite and >= 0 (got {noise_std!r})")
    beta = np.random.default_rng([seed, 1]).normal(0.0, 1.0 / math.sqrt(f), size=f)
    gen = np.random.default_rng([seed, 2])
    x = gen.standard_normal((n, f))
    y = x @ beta + sigma * gen.standard_normal(n)
    return _finish(
        "linear",
        x.astype(np.float32),
        y.astype(np.float32),
        None,
        seed=seed,
        n_samples=None,
        test_fraction=test_fraction,
        meta={"source": "synthetic y = X beta* + z", "beta": beta, "noise_std": sigma},
    )


# ---------------------------------------------------------------------------
# Files on disk: MNIST IDX and CIFAR-10 python batches
# ---------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------
def _canonical(name: Any) -> str:
    if not isinstance(name, str):
        raise ValidationError("name", f"must be one of {', '.join(DATASETS)} (got {name!r})")
    key = name.strip().lower().replace("-", "").replace("_", "")
    if key not in DATASETS:
        raise ValidationError("name", f"must be one of {', '.join(DATASETS)} (got {name!r})")
    return key


def load_dataset(
    name: str,
    *,
    seed: int = 0,
    path: str | Path | None = None,
    resolution: int | tuple[int, int] | None = None,
    n_samples: int | None = None,
    test_fraction: float = 0.2,
) -> Dataset:
    """Load one of :data:`DATASETS`, offline and deterministically.

    Parameters
    ----------
    name
        ``"digits"``, ``"mnist1d"``, ``"linear"``, ``"mnist"`` or ``"cifar10"``
        (case, ``-`` and ``_`` ignored: ``"MNIST-1D"`` works).
    seed
        Seed of the subsample and the split (and of the data for ``linear``);
        see the module notes.
    path
        Directory of the files for ``mnist`` and ``cifar10`` (required for
        them, ignored otherwise).
    resolution
        Resample images to ``h`` x ``h`` or ``(h, w)`` with
        :func:`resample_images` (``method="auto"``); image datasets only.
    n_samples
        Samples kept in total, train + test (default: all; 2000 for
        ``linear``, 5000 for ``mnist1d``, the benchmark's size; MNIST-1D
        generates as many as asked).
    test_fraction
        Test share for the datasets without an official split, in ``(0, 1)``.

    Returns
    -------
    Dataset

    Raises
    ------
    ValidationError
        Unknown name, bad arguments, missing or malformed files (naming the
        path), a missing optional package.

    Examples
    --------
    >>> ds = load_dataset("linear", seed=3, n_samples=100)
    >>> ds.task, ds.n_train, ds.n_test, ds.feature_shape
    ('regression', 80, 20, (20,))
    """
    key = _canonical(name)
    seed = check_int("seed", seed, minimum=0)
    _fraction("test_fraction", test_fraction)
    size = None if resolution is None else _size2("resolution", resolution)
    if size is not None and key in ("mnist1d", "linear"):
        raise ValidationError(
            "resolution", f"applies to image datasets (digits, mnist, cifar10), not {key!r}"
        )
    if key == "digits":
        ds = load_digits(seed=seed, n_samples=n_samples, test_fraction=test_fraction)
    elif key == "mnist1d":
        n = 5000 if n_samples is None else check_int("n_samples", n_samples, minimum=2)
        x, y = make_mnist1d(n, seed=int(MNIST1D_ARGS["seed"]))
        ds = _finish(
            "mnist1d",
            x,
            y,
            10,
            seed=seed,
            n_samples=None,
            test_fraction=test_fraction,
            meta={"source": "mnist1d.data.make_dataset", "generation_seed": MNIST1D_ARGS["seed"]},
            subsampled=True,
        )
    elif key == "linear":
        n = 2000 if n_samples is None else n_samples
        ds = make_linear(n, seed=seed, test_fraction=test_fraction)
    elif key == "mnist":
        ds = load_mnist(_directory(path, key), seed=seed, n_samples=n_samples)
    else:
        ds = load_cifar10(_directory(path, key), seed=seed, n_samples=n_samples)
    if size is not None and size != ds.feature_shape[1:]:
        method = "auto"
        ds = dataclasses.replace(
            ds,
            x_train=resample_images(ds.x_train, size, method=method),
            x_test=resample_images(ds.x_test, size, method=method),
            meta={
                **ds.meta,
                "resampled": {"from": ds.feature_shape[1:], "to": size, "method": method},
            },
        )
    return ds
