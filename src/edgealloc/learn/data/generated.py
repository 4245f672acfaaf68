r"""Generated and bundled datasets: scikit-learn's digits, MNIST-1D, synthetic linear regression.

Nothing is downloaded: digits ships with scikit-learn, MNIST-1D is generated
here with ``mnist1d.data.make_dataset`` (never ``get_dataset``), and the
linear set :math:`y = X\beta^* + z` is drawn from the seed.
"""

from __future__ import annotations

import math
import random
import types
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..._validation import check_int
from ...errors import ValidationError
from .dataset import Dataset, _finish

__all__ = ["MNIST1D_ARGS", "load_digits", "make_linear", "make_mnist1d"]

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
    regression reading and of the XR offloading paper Section II-A.

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
