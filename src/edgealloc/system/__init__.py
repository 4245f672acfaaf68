"""The physical system model, vectorised over devices with NumPy.

- `radio` -- path loss (`LogDistance`, `FreeSpace`), noise power, Shannon
  rate and the exact mean rate under Rayleigh fading.
- `compute` -- CPU time and dynamic CPU energy.
- `workload` -- bits and FLOPs of a model, from its shape.
- `devices` -- device classes (laptop, phone, Raspberry Pi, Arduino).
- `fleet` -- per-device columns and their generators.
"""

from edgealloc.system.compute import cpu_energy_per_sample as cpu_energy_per_sample
from edgealloc.system.compute import cpu_time as cpu_time
from edgealloc.system.compute import kappa_energy as kappa_energy
from edgealloc.system.devices import DEVICE_CLASSES as DEVICE_CLASSES
from edgealloc.system.devices import DeviceClass as DeviceClass
from edgealloc.system.devices import device_class as device_class
from edgealloc.system.fleet import Fleet as Fleet
from edgealloc.system.fleet import assign_classes as assign_classes
from edgealloc.system.fleet import class_counts as class_counts
from edgealloc.system.fleet import heterogeneity as heterogeneity
from edgealloc.system.fleet import uniform_disc as uniform_disc
from edgealloc.system.radio import SPEED_OF_LIGHT as SPEED_OF_LIGHT
from edgealloc.system.radio import FreeSpace as FreeSpace
from edgealloc.system.radio import LogDistance as LogDistance
from edgealloc.system.radio import PathLoss as PathLoss
from edgealloc.system.radio import beam_schedule_share as beam_schedule_share
from edgealloc.system.radio import capped_rate as capped_rate
from edgealloc.system.radio import directivity_gain as directivity_gain
from edgealloc.system.radio import free_space_pathloss_db as free_space_pathloss_db
from edgealloc.system.radio import free_space_received_power as free_space_received_power
from edgealloc.system.radio import link_rate as link_rate
from edgealloc.system.radio import noise_power_w as noise_power_w
from edgealloc.system.radio import pathloss_from_spec as pathloss_from_spec
from edgealloc.system.radio import rayleigh_mean_rate as rayleigh_mean_rate
from edgealloc.system.radio import shannon_rate as shannon_rate
from edgealloc.system.workload import FullyConnected as FullyConnected

__all__ = [
    "DEVICE_CLASSES",
    "SPEED_OF_LIGHT",
    "DeviceClass",
    "Fleet",
    "FreeSpace",
    "FullyConnected",
    "LogDistance",
    "PathLoss",
    "assign_classes",
    "beam_schedule_share",
    "capped_rate",
    "class_counts",
    "cpu_energy_per_sample",
    "cpu_time",
    "device_class",
    "directivity_gain",
    "free_space_pathloss_db",
    "free_space_received_power",
    "heterogeneity",
    "kappa_energy",
    "link_rate",
    "noise_power_w",
    "pathloss_from_spec",
    "rayleigh_mean_rate",
    "shannon_rate",
    "uniform_disc",
]
