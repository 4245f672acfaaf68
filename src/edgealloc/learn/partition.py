r"""Who trains on which samples: partitions and per-cycle samplers (issue 4).

Two ways data reach the learners in mobile edge learning (async MEL paper,
Mohammad, Sorour & Hefeida, arXiv:2012.00143, Section 1 and Fig. 1; sync MEL paper,
Mohammad & Sorour, IEEE WCNCW 2019, Section II-A):

* **Parallel learning (PL)**, the orchestrator owns the dataset and, every
  global cycle, "sends :math:`d_k` samples after randomly shuffling its
  dataset" (async paper, Section 5.1, footnote 1; sync paper, Section II-B:
  "it sends this matrix back with a new random batch of samples from the
  dataset to each learner"). :class:`ParallelSampler`.
* **Federated learning (FL)**, each learner owns a local dataset
  :math:`\mathcal D_k` (a :func:`partition` of the training set) and "chooses
  :math:`\min(d_k, d_k^{max})` data points" of it (same footnote).
  :class:`FederatedSampler`.

Partition schemes (:func:`partition`), following the FEEL batch-size paper
(Ren, Yu & Ding, IEEE JSAC 2021, Section VI-A, after [24]):

* ``"iid"``: "all data samples are first shuffled and then partitioned into
  K equal parts" (sizes differ by at most one when ``K`` does not divide ``n``);
* ``"shards"``: the pathological non-IID case, "all data samples are first
  sorted by [...] label and then divided into 2K shards [of equal size], and
  each device is assigned with two shards"; here ``K * shards_per_client``
  shards, ``shards_per_client`` random shards per device;
* ``"unbalanced"``: IID content, unequal sizes: given ``sizes``, or drawn
  log-normally (shares :math:`\propto e^{\sigma g_k}`, :math:`g_k \sim \mathcal N(0,1)`,
  at least one sample each, largest-remainder rounding to ``n``).

All randomness comes from the ``rng`` passed in (a ``numpy.random.Generator``
or an int seed); the same seed gives the same indices on every platform.

Examples
--------
>>> import numpy as np
>>> labels = np.repeat(np.arange(10), 20)
>>> parts = partition(labels, 5, scheme="shards", rng=0)
>>> [len(p) for p in parts]
[40, 40, 40, 40, 40]
>>> max(len(np.unique(labels[p])) for p in parts) <= 2
True
>>> batches = ParallelSampler(200, rng=1).draw([50, 30, 0])
>>> [len(b) for b in batches], len(np.unique(np.concatenate(batches)))
([50, 30, 0], 80)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from .._validation import check_int
from ..errors import ValidationError

__all__ = [
    "SCHEMES",
    "FederatedSampler",
    "ParallelSampler",
    "apportion",
    "label_shards",
    "partition",
]

SCHEMES: tuple[str, ...] = ("iid", "shards", "unbalanced")
"""Partition schemes accepted by :func:`partition`."""

Scheme = Literal["iid", "shards", "unbalanced"]


# ---------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------
def _generator(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise ValidationError(
        "rng", f"must be a numpy.random.Generator or an int seed >= 0 (got {rng!r})"
    )


def _counts(field: str, values: ArrayLike, *, length: int | None = None) -> np.ndarray:
    """A non-empty vector of whole numbers >= 0 (integral floats accepted) as int64."""
    try:
        a = np.asarray(values)
    except Exception as exc:  # ragged input and the like
        raise ValidationError(field, f"must be a vector of whole numbers ({exc})") from exc
    if a.ndim != 1 or a.size == 0:
        raise ValidationError(field, f"must be a non-empty vector (got shape {a.shape})")
    if a.dtype == bool or not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise ValidationError(field, f"must be whole numbers (got dtype {a.dtype})")
    if length is not None and a.size != length:
        raise ValidationError(field, f"must have {length} entries, one per learner (got {a.size})")
    if not np.issubdtype(a.dtype, np.integer):
        bad = ~np.isfinite(a) | (a != np.round(a))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValidationError(f"{field}[{i}]", f"must be a whole number (got {a[i]!r})")
    neg = a < 0
    if neg.any():
        i = int(np.argmax(neg))
        raise ValidationError(f"{field}[{i}]", f"must be >= 0 (got {a[i]!r})")
    return a.astype(np.int64)


def _labels(labels: ArrayLike) -> np.ndarray:
    a = np.asarray(labels)
    if a.ndim != 1 or a.size == 0:
        raise ValidationError("labels", f"must be a non-empty vector (got shape {a.shape})")
    if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
        raise ValidationError("labels", "must be finite")
    return a


def _group(values: np.ndarray, group: np.ndarray, k: int) -> list[np.ndarray]:
    """Split ``values`` by ``group`` id (0..k-1), each group sorted ascending."""
    order = np.lexsort((values, group))
    bounds = np.cumsum(np.bincount(group, minlength=k))[:-1]
    return [p.astype(np.int64) for p in np.split(values[order], bounds)]


# ---------------------------------------------------------------------------
# Partitions
# ---------------------------------------------------------------------------
def apportion(total: int, weights: ArrayLike) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder).

    Parameters
    ----------
    total
        Integer to split, ``>= 0``.
    weights
        Non-negative weights with a positive sum.

    Returns
    -------
    numpy.ndarray
        int64 counts summing to ``total``, each ``floor`` or ``ceil`` of its
        exact share; ties broken by the lower index.

    Examples
    --------
    >>> apportion(10, [1, 1, 1]).tolist()
    [4, 3, 3]
    """
    total = check_int("total", total, minimum=0)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ValidationError(
            "weights", "must be a non-empty vector of finite weights >= 0, sum > 0"
        )
    exact = total * w / w.sum()
    base = np.floor(exact).astype(np.int64)
    rest = total - int(base.sum())
    if rest > 0:
        base[np.argsort(-(exact - base), kind="stable")[:rest]] += 1
    return base


def label_shards(
    labels: ArrayLike, n_shards: int, *, rng: np.random.Generator | int
) -> list[np.ndarray]:
    """Sort the samples by label and cut them into ``n_shards`` contiguous shards.

    The FEEL paper's non-IID construction (Ren, Yu & Ding, IEEE JSAC 2021,
    Section VI-A): samples sorted by label (ties, i.e. samples of one label,
    in random order), then cut into shards of equal size (``np.array_split``:
    sizes differ by at most one). A shard therefore spans a contiguous run of
    labels, usually one.

    Parameters
    ----------
    labels
        Class labels (or any sortable key), shape ``(n,)``.
    n_shards
        ``1 <= n_shards <= n``.
    rng
        Generator (or seed) for the order inside each label.

    Returns
    -------
    list of numpy.ndarray
        ``n_shards`` int64 index arrays, in label order (shard 0 holds the
        smallest labels), together a permutation of ``range(n)``.

    Raises
    ------
    ValidationError
        ``n_shards`` out of range, bad labels.
    """
    lab = _labels(labels)
    gen = _generator(rng)
    n_shards = check_int("n_shards", n_shards, minimum=1)
    if n_shards > lab.size:
        raise ValidationError(
            "n_shards", f"must be <= the number of samples {lab.size} (got {n_shards})"
        )
    perm = gen.permutation(lab.size)
    order = perm[np.argsort(lab[perm], kind="stable")]
    return [s.astype(np.int64) for s in np.array_split(order, n_shards)]


def partition(
    labels: ArrayLike,
    k: int,
    *,
    scheme: Scheme | str = "iid",
    rng: np.random.Generator | int,
    sizes: Sequence[int] | ArrayLike | None = None,
    shards_per_client: int = 2,
    sigma: float = 1.0,
) -> list[np.ndarray]:
    r"""Split a training set over ``k`` learners (federated learning's local datasets).

    Parameters
    ----------
    labels
        Training labels, shape ``(n,)`` (only their number matters for
        ``"iid"`` and ``"unbalanced"``; ``"shards"`` sorts by them).
    k
        Number of learners, ``>= 1``.
    scheme
        ``"iid"``, ``"shards"`` or ``"unbalanced"`` (module notes; FEEL paper
        Section VI-A for the first two).
    rng
        ``numpy.random.Generator`` or int seed: the only source of randomness.
    sizes
        ``"unbalanced"`` only: the ``k`` local dataset sizes, whole numbers
        ``>= 0`` with ``sum(sizes) <= n`` (samples left over are used by nobody).
        When omitted they are drawn (see ``sigma``).
    shards_per_client
        ``"shards"`` only: shards per learner (the FEEL paper's 2);
        ``k * shards_per_client <= n``.
    sigma
        ``"unbalanced"`` with drawn sizes: spread of the log-normal shares
        (0 gives equal sizes); needs ``n >= k``.

    Returns
    -------
    list of numpy.ndarray
        ``k`` int64 index arrays into the training set, each sorted; disjoint.
        ``"iid"`` and ``"shards"`` use every sample, sizes differ by at most
        one (``"iid"``) or one per shard (``"shards"``).

    Raises
    ------
    ValidationError
        ``k < 1`` or more learners (or shards) than samples, unknown scheme,
        ``sizes`` of the wrong length, negative, summing to more than ``n`` or
        given for another scheme; the message names the argument.
    """
    lab = _labels(labels)
    n = lab.size
    k = check_int("k", k, minimum=1)
    gen = _generator(rng)
    if scheme not in SCHEMES:
        raise ValidationError("scheme", f"must be one of {', '.join(SCHEMES)} (got {scheme!r})")
    if sizes is not None and scheme != "unbalanced":
        raise ValidationError("sizes", f"is only used with scheme='unbalanced' (got {scheme!r})")

    if scheme == "iid":
        if k > n:
            raise ValidationError("k", f"must be <= the number of samples {n} (got {k})")
        perm = gen.permutation(n)
        q, r = divmod(n, k)
        owner = np.repeat(np.arange(k), q + (np.arange(k) < r))
        return _group(perm, owner, k)

    if scheme == "shards":
        s = check_int("shards_per_client", shards_per_client, minimum=1)
        if k * s > n:
            raise ValidationError(
                "shards_per_client",
                f"k * shards_per_client = {k} * {s} = {k * s} shards exceed the {n} samples",
            )
        shards = label_shards(lab, k * s, rng=gen)
        # shard j goes to learner owner_of_shard[j]; each learner gets s random shards
        owner_of_shard = np.empty(k * s, dtype=np.int64)
        owner_of_shard[gen.permutation(k * s)] = np.repeat(np.arange(k), s)
        values = np.concatenate(shards)
        owner = np.repeat(owner_of_shard, [len(sh) for sh in shards])
        return _group(values, owner, k)

    # unbalanced
    if sizes is None:
        if isinstance(sigma, bool) or not isinstance(sigma, int | float | np.number):
            raise ValidationError("sigma", f"must be a number >= 0 (got {sigma!r})")
        if not (np.isfinite(sigma) and sigma >= 0):
            raise ValidationError("sigma", f"must be finite and >= 0 (got {sigma!r})")
        if k > n:
            raise ValidationError("k", f"must be <= the number of samples {n} (got {k})")
        shares = np.exp(float(sigma) * gen.standard_normal(k))
        counts = 1 + apportion(n - k, shares)
    else:
        counts = _counts("sizes", sizes, length=k)
        if counts.sum() > n:
            raise ValidationError(
                "sizes", f"sum to {int(counts.sum())}, more than the {n} samples available"
            )
    used = int(counts.sum())
    perm = gen.permutation(n)[:used]
    return _group(perm, np.repeat(np.arange(k), counts), k)


# ---------------------------------------------------------------------------
# Per-cycle samplers
# ---------------------------------------------------------------------------
class ParallelSampler:
    r"""Parallel learning: fresh random batches shipped by the orchestrator every cycle.

    The orchestrator owns the ``n_train`` samples. At every global cycle it
    shuffles its dataset and sends learner ``k`` the next :math:`d_k` samples
    (async MEL paper, Section 5.1, footnote 1; sync MEL paper, Section II-B).

    Deal rule: one fresh permutation :math:`\pi` of ``range(n_train)`` per
    call; learner ``k`` receives :math:`\pi_{j \bmod n}` for the positions
    :math:`D_{k-1} \le j < D_k`, :math:`D_k = d_1 + \dots + d_k`.

    * :math:`\sum_k d_k \le n`: the batches are disjoint (the papers' case,
      constraint (12c) of the sync paper, :math:`\sum_k d_k = d`).
    * :math:`\sum_k d_k > n` (the allocation asks for more samples than the
      training set holds): the deal wraps around the same permutation, so
      every sample is sent :math:`\lfloor \sum d_k / n \rfloor` or
      :math:`\lceil \sum d_k / n \rceil` times in the cycle, and a learner's
      batch still has distinct samples whenever :math:`d_k \le n` (with
      :math:`d_k > n` it holds the whole set :math:`\lfloor d_k/n \rfloor` times
      plus a random rest).

    Parameters
    ----------
    n_train
        Size of the orchestrator's training set, ``>= 1``.
    rng
        ``numpy.random.Generator`` (consumed: one permutation per
        :meth:`draw`) or int seed.
    """

    def __init__(self, n_train: int, rng: np.random.Generator | int) -> None:
        self._n = check_int("n_train", n_train, minimum=1)
        self._rng = _generator(rng)

    @property
    def n_train(self) -> int:
        """Size of the training set the batches are drawn from."""
        return self._n

    def effective_samples(self, samples: ArrayLike) -> np.ndarray:
        """Batch sizes actually shipped: :math:`d_k` itself (validated, int64)."""
        return _counts("samples", samples)

    def draw(self, samples: ArrayLike) -> list[np.ndarray]:
        """Indices of this cycle's batch for every learner.

        Parameters
        ----------
        samples
            :math:`d_k` per learner (whole numbers ``>= 0``; integral floats
            such as ``Result.samples`` accepted).

        Returns
        -------
        list of numpy.ndarray
            One int64 array of length :math:`d_k` per learner, indices into the
            training set, in the order dealt.

        Raises
        ------
        ValidationError
            ``samples`` empty, negative or fractional (naming the entry).
        """
        d = _counts("samples", samples)
        perm = self._rng.permutation(self._n)
        dealt = perm[np.arange(int(d.sum())) % self._n]
        return [b.astype(np.int64, copy=False) for b in np.split(dealt, np.cumsum(d)[:-1])]

    def __repr__(self) -> str:
        return f"ParallelSampler(n_train={self._n})"


class FederatedSampler:
    r"""Federated learning: learner ``k`` trains on :math:`\min(d_k, |\mathcal D_k|)` own samples.

    Each learner owns its part :math:`\mathcal D_k` (e.g. from
    :func:`partition`) and, every cycle, "chooses :math:`\min(d_k, d_k^{max})`
    data points" of it (async MEL paper, Section 5.1, footnote 1), drawn here
    uniformly at random without replacement, afresh every cycle.

    Parameters
    ----------
    parts
        One index array per learner (whole numbers ``>= 0``, no repeats inside
        a part; parts may be empty).
    rng
        ``numpy.random.Generator`` (consumed by :meth:`draw`) or int seed.

    Raises
    ------
    ValidationError
        No parts, or a part that is not a vector of distinct indices ``>= 0``.
    """

    def __init__(self, parts: Sequence[ArrayLike], rng: np.random.Generator | int) -> None:
        if isinstance(parts, np.ndarray) and parts.ndim == 1 and parts.dtype != object:
            raise ValidationError("parts", "must be a sequence of index arrays, one per learner")
        try:
            items = list(parts)
        except TypeError as exc:
            raise ValidationError("parts", "must be a sequence of index arrays") from exc
        if not items:
            raise ValidationError("parts", "must hold at least one learner's indices")
        clean = []
        for i, p in enumerate(items):
            a = np.asarray(p)
            if a.ndim != 1:
                raise ValidationError(f"parts[{i}]", f"must be a vector (got shape {a.shape})")
            a = _counts(f"parts[{i}]", a) if a.size else np.zeros(0, dtype=np.int64)
            if np.unique(a).size != a.size:
                raise ValidationError(f"parts[{i}]", "contains repeated indices")
            clean.append(a)
        self._parts = clean
        self._flat = np.concatenate(clean)
        self._sizes = np.array([len(p) for p in clean], dtype=np.int64)
        self._owner = np.repeat(np.arange(len(clean)), self._sizes)
        self._starts = np.concatenate(([0], np.cumsum(self._sizes)[:-1]))
        self._rng = _generator(rng)

    @property
    def sizes(self) -> np.ndarray:
        r"""Local dataset sizes :math:`|\mathcal D_k|` (the footnote's :math:`d_k^{max}`)."""
        return self._sizes.copy()

    @property
    def n_devices(self) -> int:
        """Number of devices (learners, one part each)."""
        return len(self._parts)

    @property
    def n_learners(self) -> int:
        """Alias of :attr:`n_devices` (the name of earlier versions)."""
        return self.n_devices

    def effective_samples(self, samples: ArrayLike) -> np.ndarray:
        r"""Samples learner ``k`` actually uses: :math:`\min(d_k, |\mathcal D_k|)`."""
        d = _counts("samples", samples, length=self.n_devices)
        return np.minimum(d, self._sizes)

    def draw(self, samples: ArrayLike) -> list[np.ndarray]:
        r"""This cycle's batch of every learner, from its own part.

        Parameters
        ----------
        samples
            :math:`d_k` per learner, one per part.

        Returns
        -------
        list of numpy.ndarray
            Learner ``k``'s :math:`\min(d_k, |\mathcal D_k|)` distinct indices
            from ``parts[k]``, in random order (int64).

        Raises
        ------
        ValidationError
            Wrong length, negative or fractional entries.
        """
        m = self.effective_samples(samples)
        # random order inside every part at once: sort by (owner, random key)
        keys = self._rng.random(self._flat.size)
        order = np.lexsort((keys, self._owner))
        rank = np.arange(self._flat.size) - self._starts[self._owner]
        chosen = self._flat[order][rank < m[self._owner]]
        return [b.astype(np.int64, copy=False) for b in np.split(chosen, np.cumsum(m)[:-1])]

    def __repr__(self) -> str:
        return f"FederatedSampler(n_devices={self.n_devices}, sizes={self._sizes.tolist()})"
