"""Flower's simulation engine, one node per device, offline and on loopback.

:func:`simulate` runs the edgealloc ServerApp and ClientApp in this process
with :func:`flwr.simulation.run_simulation` (Ray, the only simulation
back-end of Flower 1.42), one virtual SuperNode per device of the scenario,
each ClientApp on one CPU (and a share of the GPU when the settings'
``device`` is one). The run is offline and loopback-only
(:func:`~._procs.loopback_environment`: no telemetry, no update check, no
dependency installation, Flower's state in a scratch folder, every Ray
listener on 127.0.0.1), and every process Ray starts is stopped by PID when
the run ends, also on Ctrl-C or an error (:class:`~._procs.ProcessGuard`).

``run_simulation`` takes no run config, so the apps are built with the
settings captured (``make_server_app(settings)``, ``make_client_app(settings)``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._procs import ProcessGuard, guarded_environment
from .history import History, Recorder
from .settings import FlowerSettings
from .workspace import require_device

__all__ = ["SimulationRun", "simulate"]


@dataclasses.dataclass(frozen=True)
class SimulationRun:
    """What :func:`simulate` returns.

    Attributes
    ----------
    history
        The run's events (:class:`~.history.History`).
    strategy
        The strategy object (its last plan; its ``models`` with ``keep_arrays``).
    stopped
        PIDs of the processes (Ray's) that were stopped when the run ended.
    """

    history: History
    strategy: Any
    stopped: tuple[int, ...]


#: Ray sets a worker's ``CUDA_VISIBLE_DEVICES`` to the GPUs it assigned ("" for none)
#: unless this is set; with it every ClientApp sees the GPUs the driver sees, so a
#: node's ``cuda:N`` names the same GPU as the settings' ``device``.
RAY_NOSET_CUDA = {"RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES": "1"}


def backend_config(n_nodes: int, cpus: int | None = None, device: str = "cpu") -> dict[str, Any]:
    """Ray settings: one CPU per ClientApp, loopback, no dashboard.

    By default as many ClientApps run at once as the machine has CPUs but one
    (the ServerApp evaluates and aggregates meanwhile), at most one per node:
    on a 2-core machine two Ray actors importing PyTorch side by side made the
    first round three times slower than one. On a CUDA ``device`` the
    ClientApps running at once share its one GPU (Flower's fractional
    ``num_gpus``; :data:`RAY_NOSET_CUDA` keeps the device names as they are).
    """
    cpus = max(1, min(cpus or max(1, (os.cpu_count() or 1) - 1), n_nodes))
    gpu = device.startswith("cuda")
    return {
        "client_resources": {"num_cpus": 1, "num_gpus": 1.0 / cpus if gpu else 0.0},
        "init_args": {
            "num_cpus": cpus,
            "num_gpus": 1 if gpu else 0,
            "include_dashboard": False,
            "_node_ip_address": "127.0.0.1",
            "logging_level": logging.ERROR,
            "log_to_driver": False,
        },
    }


def simulate(
    settings: FlowerSettings,
    run_dir: str | Path | None = None,
    *,
    keep_arrays: bool = False,
    cpus: int | None = None,
    log: Callable[[str], None] | None = None,
    verbose: bool = False,
) -> SimulationRun:
    """Run the federation in Flower's simulation engine (this process, Ray actors for the nodes).

    Parameters
    ----------
    settings
        The run (:class:`~.settings.FlowerSettings`).
    run_dir
        Where ``history.jsonl`` (and Flower's scratch state) go; default a
        temporary folder, removed afterwards.
    keep_arrays
        Keep the global model of every round (``result.strategy.models``).
    cpus
        ClientApps running at once (default: the machine's CPUs but one, at
        most one per node).
    log
        Called with one progress line per round.
    verbose
        Leave Flower's own log at INFO (default: errors only).

    Raises
    ------
    ValidationError, InfeasibleError
        What stopped the ServerApp (a malformed profile, no feasible first plan).
    """
    from . import require_flower, require_ray

    require_flower()
    require_ray()
    require_device(settings)  # before Ray starts
    scratch = None
    if run_dir is None:
        scratch = tempfile.TemporaryDirectory(prefix="edgealloc-flower-")
        run_dir = scratch.name
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    home = folder / "flwr-home"
    home.mkdir(exist_ok=True)
    sink: list[Any] = []
    try:
        # Flower shuts Ray down when run_simulation ends (also on Ctrl-C); of what is left,
        # Ray's autoscaler monitor ignores SIGTERM: a short grace before SIGKILL.
        extra = RAY_NOSET_CUDA if settings.device.startswith("cuda") else None
        with guarded_environment(home, extra), ProcessGuard(grace_s=2.0) as guard:
            from flwr.simulation import run_simulation

            from .client import make_client_app
            from .server import make_server_app

            flwr_logger = logging.getLogger("flwr")
            level = flwr_logger.level
            # Flower's own log is noise next to edgealloc's lines (its only warning here is
            # that run_simulation is deprecated, docs/flower.md); errors still show.
            flwr_logger.setLevel(logging.INFO if verbose else logging.ERROR)
            try:
                run_simulation(
                    server_app=make_server_app(
                        settings, folder, keep_arrays=keep_arrays, sink=sink, log=log
                    ),
                    client_app=make_client_app(settings),
                    num_supernodes=settings.n_nodes,
                    backend_config=backend_config(  # type: ignore[arg-type]
                        settings.n_nodes, cpus, settings.device
                    ),
                )
            finally:
                flwr_logger.setLevel(level)
        recorder = next((x for x in sink if isinstance(x, Recorder)), None)
        strategy = next((x for x in sink if not isinstance(x, Recorder)), None)
        history = recorder.history if recorder is not None else History([])
        if not history.done:
            from .errors import raise_history_error

            raise_history_error(history, "the simulation")
        return SimulationRun(history=history, strategy=strategy, stopped=tuple(guard.stopped))
    finally:
        if scratch is not None:
            scratch.cleanup()
