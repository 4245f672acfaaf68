"""Run a federation in either engine from a supervising process (what ``edgealloc flower`` does).

:func:`run_engine` never runs Flower in the calling process: the simulation
engine runs in a child Python process (``python -m
edgealloc.integrations.flower._worker RUN_DIR``), a deployment in the
SuperLink, SuperNode and ``flwr run`` processes of
:func:`~.deployment.deploy`. The caller follows the run through
``history.jsonl`` (one progress line per round) and stays in control: on
Ctrl-C, SIGTERM, a timeout or a failure every process started is stopped by
PID (:class:`~._procs.ProcessGuard`), which a process blocked inside Flower
or Ray could not promise.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ._procs import OFFLINE_ENV, ProcessGuard
from .deployment import _follow, _tail, deploy
from .errors import FlowerRunError, raise_history_error
from .history import History, load_history
from .planning import Plan, Planner
from .settings import ENGINES, FlowerSettings
from .workspace import require_device, workspace

__all__ = ["preflight", "run_engine"]


def preflight(settings: FlowerSettings) -> Plan:
    """The first round's plan for the scenario's own devices, before any process starts.

    Catches a bad scenario or override or a device this machine lacks
    (``ValidationError``) or an infeasible plan (``InfeasibleError``, with
    what would help) in seconds, instead of after Ray or a SuperLink has
    started.
    """
    from .families import flower_family

    require_device(settings)
    ws = workspace(settings)
    profiles = flower_family(settings.family).profiles(settings, ws)
    return Planner(settings, ws).plan(1, dict(enumerate(profiles)), "first round")


def run_engine(
    settings: FlowerSettings,
    engine: str,
    run_dir: str | Path,
    *,
    log: Callable[[str], None] | None = None,
    timeout_s: float | None = None,
    check: bool = True,
) -> History:
    """Run the federation in ``engine`` (``"simulation"`` or ``"deployment"``); its history.

    ``check`` runs :func:`preflight` first (the caller may have done it).

    Raises
    ------
    ValidationError, InfeasibleError
        What stopped the ServerApp (a bad profile, an infeasible first plan).
    FlowerRunError
        The engine failed or timed out.
    KeyboardInterrupt
        On Ctrl-C or SIGTERM, after every process was stopped.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES} (got {engine!r})")
    from . import require_flower, require_ray

    require_flower()
    if engine == "simulation":
        require_ray()
    if check:
        preflight(settings)
    folder = Path(run_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if engine == "deployment":
        return deploy(settings, folder, log=log, timeout_s=timeout_s).history
    (folder / "settings.json").write_text(settings.to_json())
    history_path = folder / "history.jsonl"
    env = {**os.environ, **OFFLINE_ENV, "FLWR_HOME": str(folder / "flwr-home")}
    limit = timeout_s or (
        settings.node_wait_s + settings.query_timeout_s + settings.rounds * settings.round_timeout_s
    )
    with open(folder / "simulation.log", "w") as out, ProcessGuard() as guard:
        proc = guard.popen(
            [sys.executable, "-m", "edgealloc.integrations.flower._worker", str(folder)],
            stop_first=True,  # it stops Ray itself (ray.shutdown, then its own guard)
            env=env,
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        end = time.monotonic() + limit
        shown = 0
        while proc.poll() is None:
            guard.scan()
            shown = _follow(load_history(history_path), shown, log, settings.rounds)
            if time.monotonic() > end:
                raise FlowerRunError(f"the simulation did not finish within {limit:g} s")
            time.sleep(0.3)
        history = load_history(history_path)
        _follow(history, shown, log, settings.rounds)
    if not history.done:
        if history.error is None:
            raise FlowerRunError(
                f"the simulation process exited ({proc.returncode}) before the last round: "
                f"{_tail(folder / 'simulation.log')}"
            )
        raise_history_error(history, "the simulation")
    return history
