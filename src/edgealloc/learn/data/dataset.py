"""The :class:`Dataset` container, its train/test split and the wrapping of raw arrays.

:func:`train_test_split` is the deterministic (stratified) split of the
datasets without an official one; ``_finish`` and ``_finish_official`` turn
raw arrays into a :class:`Dataset` (subsample, split or keep the files'
split, scale), for the generated sets (:mod:`.generated`) and the files on
disk (:mod:`.files`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from ..._validation import check_int
from ...errors import ValidationError

__all__ = ["Dataset", "train_test_split"]


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


def _fraction(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValidationError(field, f"must be a number in (0, 1) (got {value!r})")
    v = float(value)
    if not 0.0 < v < 1.0:
        raise ValidationError(field, f"must lie strictly between 0 and 1 (got {value!r})")
    return v


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
