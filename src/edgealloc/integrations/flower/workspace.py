r"""What the server and every node derive from the settings alone: data, model, partition.

Every process of a federation (the ServerApp, each ClientApp, in a Ray actor
or a SuperNode's subprocess) rebuilds the same :class:`Workspace` from the
:class:`~.settings.FlowerSettings`: the offline data set, the model, and the
partition of the training set over the nodes, exactly as
:func:`edgealloc.learn.training.train` builds them in federated mode
(partition with seed ``[seed, 0]``, draws with seed ``[seed, 1]``, initial
model from ``seed``). A node keeps only its own part.

Per-round draws: in federated mode learner :math:`k` trains on
:math:`\min(d_k, |\mathcal D_k|)` of its own samples, drawn afresh every
cycle by :class:`edgealloc.learn.partition.FederatedSampler`, which draws one
random key per training sample from a shared stream per cycle and takes each
learner's smallest keys. A learner's draw therefore depends only on its own
keys, so :meth:`Workspace.draw` reproduces it on the node alone, given the
round: that is what makes a Flower round and a cycle of ``edgealloc train``
train the same samples (a test compares both with ``FederatedSampler``).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from .settings import FlowerSettings

__all__ = ["Workspace", "require_device", "workspace"]


@dataclasses.dataclass(frozen=True, eq=False)
class Workspace:
    """The data set, the model and the partition of one Flower run (see the module docstring)."""

    settings: FlowerSettings
    data: Any
    parts: tuple[np.ndarray, ...]

    @functools.cached_property
    def spec(self) -> Any:
        """The model (:func:`edgealloc.learn.models.model_for`; imports PyTorch)."""
        from ...learn.models import model_for

        return model_for(self.data, self.settings.model)

    @property
    def sizes(self) -> np.ndarray:
        """Training examples per partition."""
        return np.array([len(p) for p in self.parts], dtype=np.int64)

    @functools.cached_property
    def x_all(self) -> np.ndarray:
        """The training samples in the model's input shape."""
        data = self.data
        return data.x_train.reshape((data.n_train, *self.spec.input_shape))

    def draw(self, partition_id: int, samples: int, round_: int) -> np.ndarray:
        r"""Indices of the :math:`\min(d_k, |\mathcal D_k|)` samples partition ``k`` trains on.

        The same indices as ``FederatedSampler(parts, default_rng([seed, 1]))``
        gives learner ``k`` at its ``round_``-th :meth:`draw` (rounds from 1).
        """
        sizes = self.sizes
        n_flat = int(sizes.sum())
        start = int(sizes[:partition_id].sum())
        rng = np.random.default_rng([self.settings.seed, 1])
        for _ in range(round_ - 1):
            rng.random(n_flat)
        keys = rng.random(n_flat)[start : start + int(sizes[partition_id])]
        order = np.argsort(keys, kind="stable")
        m = min(int(samples), int(sizes[partition_id]))
        return self.parts[partition_id][order][:m].astype(np.int64, copy=False)

    def train_eval_set(self, limit: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
        """The training samples ``train_loss`` is measured on (as ``edgealloc train`` does)."""
        data = self.data
        n_eval = min(data.n_train, limit)
        if n_eval < data.n_train:
            pick = np.sort(
                np.random.default_rng([self.settings.seed, 2]).choice(
                    data.n_train, n_eval, replace=False
                )
            )
            return data.x_train[pick], data.y_train[pick]
        return data.x_train, data.y_train


@functools.lru_cache(maxsize=4)
def _build(text: str) -> Workspace:
    from ...learn.data import load_dataset
    from ...learn.partition import partition

    settings = FlowerSettings.from_json(text)
    data = load_dataset(
        settings.dataset,
        seed=settings.seed,
        path=settings.data_path,
        n_samples=settings.n_samples,
    )
    parts = partition(
        data.y_train,
        settings.n_nodes,
        scheme=settings.partition,
        rng=np.random.default_rng([settings.seed, 0]),
    )
    return Workspace(settings=settings, data=data, parts=tuple(parts))


def workspace(settings: FlowerSettings) -> Workspace:
    """The (cached) workspace of ``settings``."""
    return _build(settings.to_json())


def require_device(settings: FlowerSettings) -> None:
    """Raise ``ValidationError("device", ...)`` unless this machine has the nodes' device.

    Called before any process starts, where the nodes run on this machine
    (the simulation, a loopback deployment); the CPU needs no PyTorch import.
    """
    if settings.device != "cpu":
        from ...learn.engine import parse_device

        parse_device(settings.device)
