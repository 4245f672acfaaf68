"""Partitions and per-cycle samplers (issue 4, "Partitions"; FEEL Sec. VI-A, async MEL fn. 1)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgealloc.errors import ValidationError
from edgealloc.learn.partition import (
    SCHEMES,
    FederatedSampler,
    ParallelSampler,
    apportion,
    label_shards,
    partition,
)


def _assert_disjoint(parts: list[np.ndarray], n: int) -> np.ndarray:
    flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    assert flat.dtype == np.int64
    assert np.unique(flat).size == flat.size, "an index is used twice"
    assert flat.size == 0 or (flat.min() >= 0 and flat.max() < n)
    return flat


# ---------------------------------------------------------------------------
# partition: properties
# ---------------------------------------------------------------------------
@given(
    n=st.integers(1, 300),
    k=st.integers(1, 40),
    classes=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_iid_uses_every_sample_once_in_near_equal_parts(n, k, classes, seed) -> None:
    k = min(k, n)
    labels = np.random.default_rng(seed).integers(0, classes, n)
    parts = partition(labels, k, scheme="iid", rng=seed)
    assert len(parts) == k
    flat = _assert_disjoint(parts, n)
    assert flat.size == n
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    assert all(np.all(np.diff(p) > 0) for p in parts)  # sorted


@given(
    n=st.integers(1, 300),
    k=st.integers(1, 20),
    s=st.integers(1, 4),
    classes=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_shards_cover_once_and_each_learner_gets_its_shards(n, k, s, classes, seed) -> None:
    if k * s > n:
        with pytest.raises(ValidationError) as err:
            partition(np.zeros(n), k, scheme="shards", shards_per_client=s, rng=seed)
        assert err.value.field == "shards_per_client"
        return
    labels = np.random.default_rng(seed).integers(0, classes, n)
    parts = partition(labels, k, scheme="shards", shards_per_client=s, rng=seed)
    flat = _assert_disjoint(parts, n)
    assert flat.size == n and len(parts) == k
    lo, hi = n // (k * s), -(-n // (k * s))
    assert all(s * lo <= len(p) <= s * hi for p in parts)


@given(
    classes=st.integers(1, 10),
    per_class=st.integers(1, 6),
    shard=st.integers(1, 5),
    s=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_shards_give_at_most_shards_per_client_labels(classes, per_class, shard, s, seed) -> None:
    # balanced classes whose size is a multiple of the shard size: one label per shard
    n_shards = classes * per_class
    if n_shards % s:
        s = 1
    k = n_shards // s
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(classes), per_class * shard))
    parts = partition(labels, k, scheme="shards", shards_per_client=s, rng=rng)
    assert all(len(p) == s * shard for p in parts)
    assert all(len(np.unique(labels[p])) <= s for p in parts)


@given(n=st.integers(1, 200), n_shards=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
def test_label_shards_are_contiguous_runs_of_sorted_labels(n, n_shards, seed) -> None:
    n_shards = min(n_shards, n)
    labels = np.random.default_rng(seed).integers(0, 7, n)
    shards = label_shards(labels, n_shards, rng=seed)
    assert _assert_disjoint(shards, n).size == n
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    runs = np.concatenate([labels[sh] for sh in shards])
    assert np.all(np.diff(runs) >= 0)  # label order across and within shards


@given(
    sizes=st.lists(st.integers(0, 30), min_size=1, max_size=12),
    spare=st.integers(0, 20),
    seed=st.integers(0, 2**32 - 1),
)
def test_unbalanced_with_given_sizes(sizes, spare, seed) -> None:
    n = sum(sizes) + spare
    if n == 0:
        return
    parts = partition(np.zeros(n), len(sizes), scheme="unbalanced", sizes=sizes, rng=seed)
    assert [len(p) for p in parts] == sizes
    _assert_disjoint(parts, n)


@given(
    n=st.integers(1, 400),
    k=st.integers(1, 30),
    sigma=st.floats(0, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_unbalanced_drawn_sizes_sum_to_n_with_one_each(n, k, sigma, seed) -> None:
    k = min(k, n)
    parts = partition(np.zeros(n), k, scheme="unbalanced", sigma=sigma, rng=seed)
    sizes = np.array([len(p) for p in parts])
    assert sizes.sum() == n and sizes.min() >= 1
    assert _assert_disjoint(parts, n).size == n


def test_unbalanced_sizes_spread_with_sigma() -> None:
    equal = [len(p) for p in partition(np.zeros(100), 7, scheme="unbalanced", sigma=0, rng=0)]
    assert max(equal) - min(equal) <= 1
    spread = [len(p) for p in partition(np.zeros(1000), 10, scheme="unbalanced", rng=0)]
    assert max(spread) > 3 * min(spread)


def test_apportion_is_largest_remainder() -> None:
    assert apportion(10, [1, 1, 1]).tolist() == [4, 3, 3]
    # exact shares 3.5, 1.75, 1.75: floors 3, 1, 1; the two largest remainders (.75) get +1
    assert apportion(7, [0.5, 0.25, 0.25]).tolist() == [3, 2, 2]
    assert apportion(0, [2, 1]).tolist() == [0, 0]


# ---------------------------------------------------------------------------
# partition: the non-IID scheme is non-IID, determinism, errors
# ---------------------------------------------------------------------------
def test_shards_are_non_iid_and_iid_is_not() -> None:
    labels = np.repeat(np.arange(10), 100)
    shards = partition(labels, 10, scheme="shards", rng=0)
    iid = partition(labels, 10, scheme="iid", rng=0)
    assert max(len(np.unique(labels[p])) for p in shards) <= 2  # FEEL: "only two types of digits"
    assert min(len(np.unique(labels[p])) for p in iid) == 10


def test_partition_is_deterministic_and_seed_equals_generator() -> None:
    labels = np.arange(50) % 5
    for scheme in SCHEMES:
        a = partition(labels, 4, scheme=scheme, rng=11)
        b = partition(labels, 4, scheme=scheme, rng=np.random.default_rng(11))
        c = partition(labels, 4, scheme=scheme, rng=12)
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"k": 0}, "k"),
        ({"k": 2.0}, "k"),
        ({"k": 11}, "k"),  # iid: more learners than samples
        ({"scheme": "dirichlet"}, "scheme"),
        ({"sizes": [5, 5]}, "sizes"),  # sizes with the iid scheme
        ({"scheme": "unbalanced", "sizes": [5, 5, 5]}, "sizes"),  # wrong length (k = 2)
        ({"scheme": "unbalanced", "sizes": [8, 3]}, "sizes"),  # sums past n = 10
        ({"scheme": "unbalanced", "sizes": [2, -1]}, "sizes[1]"),
        ({"scheme": "unbalanced", "sizes": [2, 1.5]}, "sizes[1]"),
        ({"scheme": "unbalanced", "sigma": -1.0}, "sigma"),
        ({"scheme": "shards", "shards_per_client": 0}, "shards_per_client"),
        ({"scheme": "shards", "shards_per_client": 6}, "shards_per_client"),  # 12 shards > 10
        ({"rng": None}, "rng"),
        ({"labels": []}, "labels"),
        ({"labels": np.zeros((5, 2))}, "labels"),
    ],
)
def test_partition_rejects_bad_input(kwargs: dict, field: str) -> None:
    args = {"labels": np.arange(10) % 3, "k": 2, "rng": 0, **kwargs}
    with pytest.raises(ValidationError) as err:
        partition(args.pop("labels"), args.pop("k"), **args)
    assert err.value.field == field


# ---------------------------------------------------------------------------
# ParallelSampler: the orchestrator ships fresh random batches
# ---------------------------------------------------------------------------
@given(
    n=st.integers(1, 200),
    d=st.lists(st.integers(0, 120), min_size=1, max_size=10),
    seed=st.integers(0, 2**32 - 1),
)
def test_parallel_batches_have_dk_samples_disjoint_when_they_fit(n, d, seed) -> None:
    batches = ParallelSampler(n, rng=seed).draw(d)
    assert [len(b) for b in batches] == d
    flat = np.concatenate(batches)
    assert flat.dtype == np.int64 and (flat.size == 0 or (flat.min() >= 0 and flat.max() < n))
    total = sum(d)
    if total <= n:
        assert np.unique(flat).size == total  # disjoint across learners
    else:  # wrap-around deal: every sample floor or ceil(total / n) times
        counts = np.bincount(flat, minlength=n)
        assert counts.min() == total // n and counts.max() == -(-total // n)
    for b, dk in zip(batches, d, strict=True):
        if dk <= n:
            assert np.unique(b).size == dk  # no repeats inside a learner's batch


def test_parallel_batches_are_fresh_each_cycle_and_uniform() -> None:
    sampler = ParallelSampler(10, rng=np.random.default_rng(3))
    draws = [sampler.draw([3, 2]) for _ in range(4000)]
    assert not np.array_equal(draws[0][0], draws[1][0])
    counts = np.bincount(np.concatenate([np.concatenate(b) for b in draws]), minlength=10)
    # each index is shipped with probability 1/2 per cycle: 2000 +- 4.5 sd (sd = 31.6)
    assert np.all(np.abs(counts - 2000) < 150)
    first = np.bincount(np.concatenate([b[0] for b in draws]), minlength=10)
    assert np.all(np.abs(first - 1200) < 150)  # learner 0 is not favoured


def test_parallel_sampler_is_deterministic_and_accepts_integral_floats() -> None:
    a = ParallelSampler(50, rng=5).draw(np.array([10.0, 0.0, 7.0]))
    b = ParallelSampler(50, rng=np.random.default_rng(5)).draw([10, 0, 7])
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert ParallelSampler(50, rng=0).effective_samples([4.0, 2]).tolist() == [4, 2]


@pytest.mark.parametrize(
    ("samples", "field"),
    [([], "samples"), ([3, -1], "samples[1]"), ([2.5], "samples[0]"), ([[1, 2]], "samples")],
)
def test_parallel_sampler_rejects_bad_samples(samples, field) -> None:
    with pytest.raises(ValidationError) as err:
        ParallelSampler(10, rng=0).draw(samples)
    assert err.value.field == field


def test_parallel_sampler_rejects_bad_construction() -> None:
    with pytest.raises(ValidationError) as err:
        ParallelSampler(0, rng=0)
    assert err.value.field == "n_train"
    with pytest.raises(ValidationError) as err:
        ParallelSampler(10, rng="seed")
    assert err.value.field == "rng"


# ---------------------------------------------------------------------------
# FederatedSampler: each learner uses min(d_k, its own data)
# ---------------------------------------------------------------------------
@given(
    n=st.integers(1, 200),
    k=st.integers(1, 10),
    d=st.lists(st.integers(0, 80), min_size=10, max_size=10),
    seed=st.integers(0, 2**32 - 1),
)
def test_federated_batches_are_min_dk_own_from_own_data(n, k, d, seed) -> None:
    k = min(k, n)
    parts = partition(np.zeros(n), k, scheme="unbalanced", rng=seed)
    sampler = FederatedSampler(parts, rng=seed)
    d = d[:k]
    batches = sampler.draw(d)
    want = [min(dk, len(p)) for dk, p in zip(d, parts, strict=True)]
    assert [len(b) for b in batches] == want
    assert sampler.effective_samples(d).tolist() == want
    assert sampler.sizes.tolist() == [len(p) for p in parts]
    assert sampler.n_devices == sampler.n_learners == k  # n_learners: the earlier name
    for b, p in zip(batches, parts, strict=True):
        assert b.dtype == np.int64 and np.unique(b).size == b.size
        assert np.isin(b, p).all()


def test_federated_uses_whole_part_when_dk_exceeds_it_and_is_random_otherwise() -> None:
    parts = [np.array([3, 9, 4]), np.array([], dtype=np.int64), np.arange(10, 20)]
    sampler = FederatedSampler(parts, rng=0)
    draws = [sampler.draw([5, 4, 4]) for _ in range(3000)]
    assert all(sorted(b[0].tolist()) == [3, 4, 9] and b[1].size == 0 for b in draws)
    counts = np.bincount(np.concatenate([b[2] for b in draws]), minlength=20)[10:]
    # each of the 10 own samples is chosen with probability 0.4: 1200 +- 4.5 sd (sd = 26.8)
    assert np.all(np.abs(counts - 1200) < 125)


@pytest.mark.parametrize(
    ("parts", "samples", "field"),
    [
        ([np.arange(3), np.arange(3, 6)], [1, 2, 3], "samples"),  # one entry per learner
        ([np.arange(3)], [-2], "samples[0]"),
        ([np.arange(3), np.array([1, 1])], [1, 1], "parts[1]"),  # repeated index
        ([np.array([0, -4])], [1], "parts[0][1]"),
        ([np.zeros((2, 2), dtype=int)], [1], "parts[0]"),
        ([], [1], "parts"),
    ],
)
def test_federated_sampler_rejects_bad_input(parts, samples, field) -> None:
    with pytest.raises(ValidationError) as err:
        FederatedSampler(parts, rng=0).draw(samples)
    assert err.value.field == field
