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
from pathlib import Path
from typing import Any

from ..._validation import check_int
from ...errors import ValidationError
from .dataset import Dataset as Dataset
from .dataset import _finish, _fraction
from .dataset import train_test_split as train_test_split
from .files import _directory
from .files import load_cifar10 as load_cifar10
from .files import load_mnist as load_mnist
from .files import read_idx as read_idx
from .generated import MNIST1D_ARGS as MNIST1D_ARGS
from .generated import load_digits as load_digits
from .generated import make_linear as make_linear
from .generated import make_mnist1d as make_mnist1d
from .resample import ResampleMethod as ResampleMethod
from .resample import _size2
from .resample import resample_images as resample_images

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
