"""Training under a ``mel`` allocation: the public names of the training modules in one place.

``from edgealloc.learn.run import train, compare_schemes, scenario_for_model``
keeps working; the code lives in one module per job:

=====================  ==========================================================
:mod:`.options`        :class:`TrainOptions` (how to train, validated once),
                       :data:`MODES`, :data:`CLOCKS`, :data:`PARTITIONS`,
                       :data:`DEFAULT_LR`, :data:`TRAIN_EVAL_SAMPLES`
:mod:`.training`       :func:`train`: the allocation on a simulated clock
:mod:`.records`        :class:`RunRecord`, its CSV and Parquet files,
                       :data:`RECORD_COLUMNS`, :data:`LEDGER_COLUMNS`
:mod:`.energy`         the energy ledger: :class:`DeviceEnergy`,
                       :func:`device_energy`, :data:`KAPPA`
:mod:`.plots`          :func:`plot_records`
:mod:`.comparison`     :class:`Comparison`, :func:`compare_schemes`,
                       :func:`trainable_schemes`
:mod:`.scenario`       :func:`scenario_for_model`: the trained model as the
                       scenario's workload
=====================  ==========================================================

Importing this module imports PyTorch (``import edgealloc.learn`` does not).
The names it imported before the split (``Dataset``, ``ModelSpec``,
``model_for``, ``parse_device``, ...; marked ``noqa: F401`` below) remain
importable from here.
"""

from __future__ import annotations

from .._style import scheme_color  # noqa: F401
from .._validation import check_choice, check_int  # noqa: F401
from ..errors import EdgeallocWarning, InfeasibleError, ValidationError  # noqa: F401
from ..mel.problem import MelProblem  # noqa: F401
from ..result import Result, Status  # noqa: F401
from ..system import FullyConnected, kappa_energy  # noqa: F401
from .comparison import Comparison as Comparison
from .comparison import compare_schemes as compare_schemes
from .comparison import trainable_schemes as trainable_schemes
from .data import Dataset  # noqa: F401
from .energy import KAPPA as KAPPA
from .energy import DeviceEnergy as DeviceEnergy
from .energy import device_energy as device_energy
from .engine import evaluate, init_params, local_sgd_cycle, parse_device  # noqa: F401
from .models import ModelSpec, model_for, torch  # noqa: F401
from .options import CLOCKS as CLOCKS
from .options import DEFAULT_LR as DEFAULT_LR
from .options import MODES as MODES
from .options import PARTITIONS as PARTITIONS
from .options import TRAIN_EVAL_SAMPLES as TRAIN_EVAL_SAMPLES
from .options import TrainOptions as TrainOptions
from .partition import FederatedSampler, ParallelSampler, partition  # noqa: F401
from .plots import plot_records as plot_records
from .records import LEDGER_COLUMNS as LEDGER_COLUMNS
from .records import RECORD_COLUMNS as RECORD_COLUMNS
from .records import RunRecord as RunRecord
from .scenario import scenario_for_model as scenario_for_model
from .training import train as train

__all__ = [
    "CLOCKS",
    "DEFAULT_LR",
    "KAPPA",
    "LEDGER_COLUMNS",
    "MODES",
    "PARTITIONS",
    "RECORD_COLUMNS",
    "TRAIN_EVAL_SAMPLES",
    "Comparison",
    "DeviceEnergy",
    "RunRecord",
    "TrainOptions",
    "compare_schemes",
    "device_energy",
    "plot_records",
    "scenario_for_model",
    "train",
    "trainable_schemes",
]
