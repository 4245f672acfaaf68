"""Real learning under an allocation (DESIGN.md layer 5).

NumPy only at import time; heavier back-ends (PyTorch training) live in
their own modules and are imported on demand.

- :mod:`.data` — offline datasets (scikit-learn's digits, MNIST-1D generated
  locally, synthetic linear regression, MNIST IDX and CIFAR-10 files already
  on disk) and image resampling; a package: ``dataset`` (the type and its
  split), ``resample``, ``generated``, ``files``.
- :mod:`.partition` — IID, label-sorted shards and unbalanced partitions; the
  parallel-learning and federated samplers.
- :mod:`.models` (PyTorch) — the MEL papers' fully connected net with the
  input adapted, a small CNN, linear regression; bits and FLOPs measured from
  the model (the scenario's workload).
- :mod:`.engine` (PyTorch) — local SGD cycles (sync and async MEL) and
  gradient averaging (FEEL), all learners batched in one process, equal to
  the plain per-learner loop.
- Training under a ``mel`` allocation on a simulated clock with an energy
  ledger, ``edgealloc train``: :mod:`.options` (:class:`TrainOptions`, NumPy
  only), :mod:`.training` (:func:`~edgealloc.learn.training.train`, PyTorch),
  :mod:`.records` (``RunRecord`` and its files), :mod:`.energy` (the ledger),
  :mod:`.plots`, :mod:`.comparison` (``compare_schemes``) and
  :mod:`.scenario` (``scenario_for_model``: the model as the workload);
  :mod:`.run` gathers their public names. ``train``, ``compare_schemes``,
  ``scenario_for_model``, ``RunRecord`` and ``Comparison`` are also
  attributes of this package, imported (with PyTorch) on first use.
- :mod:`.online_regression` — online distributed least-squares regression
  of the XR offloading paper (the XR offloading paper, Section II-A):
  a synthetic stream, partial gradients under server / D2D offloading plans,
  batched online SGD on a simulated clock.
"""

import importlib
from typing import Any

from .data import DATASETS as DATASETS
from .data import Dataset as Dataset
from .data import load_dataset as load_dataset
from .data import resample_images as resample_images
from .online_regression import Batch as Batch
from .online_regression import LinearStream as LinearStream
from .online_regression import OnlineTrace as OnlineTrace
from .online_regression import PartialGradients as PartialGradients
from .online_regression import Strategy as Strategy
from .online_regression import assign_workers as assign_workers
from .online_regression import draw_points as draw_points
from .online_regression import gradient_scale as gradient_scale
from .online_regression import offloaded_gradient as offloaded_gradient
from .online_regression import reference_gradient as reference_gradient
from .online_regression import train_online as train_online
from .options import TrainOptions as TrainOptions
from .partition import FederatedSampler as FederatedSampler
from .partition import ParallelSampler as ParallelSampler
from .partition import partition as partition

__all__ = [
    "DATASETS",
    "Batch",
    "Dataset",
    "FederatedSampler",
    "LinearStream",
    "OnlineTrace",
    "ParallelSampler",
    "PartialGradients",
    "Strategy",
    "TrainOptions",
    "assign_workers",
    "draw_points",
    "gradient_scale",
    "load_dataset",
    "offloaded_gradient",
    "partition",
    "reference_gradient",
    "resample_images",
    "train_online",
]

#: Names served on first use from the PyTorch modules (``import edgealloc.learn`` stays
#: NumPy only): name -> module.
_LAZY = {
    "Comparison": ".comparison",
    "RunRecord": ".records",
    "compare_schemes": ".comparison",
    "scenario_for_model": ".scenario",
    "train": ".training",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
