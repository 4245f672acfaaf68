"""A real Flower deployment on this machine: a SuperLink and one SuperNode per device, on loopback.

:func:`deploy` writes a Flower app (``pyproject.toml`` whose components are
:mod:`edgealloc.integrations.flower.app` and whose run config carries the
settings) and a connection file into the run folder, then starts, as
separate processes,

1. ``flower-superlink --insecure --host 127.0.0.1 --port P`` (its Fleet,
   Control and Runtime APIs share that port),
2. for each device ``k``, ``flower-supernode --insecure --superlink
   127.0.0.1:P --port Q_k --node-config "partition-id=k num-partitions=K"``
   (its own Runtime API on 127.0.0.1:Q_k),
3. ``flwr run APP edgealloc --stream`` (the connection ``edgealloc`` of
   ``$FLWR_HOME/config.toml``),

with free ports picked on 127.0.0.1 and the offline environment of
:data:`~._procs.OFFLINE_ENV` (``FLWR_HOME`` in the run folder; nothing is
written to the user's home). The SuperLink and SuperNodes start
``flower-superexec``, ``flwr-serverapp`` and ``flwr-clientapp`` processes of
their own. When the run ends, fails, times out or is interrupted, every one
of these processes is stopped by PID, deepest first (the apps, then the
superexecs, then the SuperNodes and the SuperLink), by a
:class:`~._procs.ProcessGuard`.

``flwr run --stream`` exits 0 even when the ServerApp crashed, so success is
read from the run's ``history.jsonl``: its last line is ``done``.

Cost: SuperNodes poll the SuperLink every 3 s and start a fresh ClientApp
process (Python, PyTorch, the data) for every message, so one exchange of
messages takes several seconds whatever the work.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ._procs import OFFLINE_ENV, ProcessGuard, free_port
from .errors import FlowerRunError, raise_history_error
from .history import History, load_history
from .server import RUN_DIR_KEY
from .settings import RUN_CONFIG_KEY, FlowerSettings

__all__ = ["DeploymentRun", "deploy", "write_app"]

#: The connection name written to ``$FLWR_HOME/config.toml``.
CONNECTION = "edgealloc"


@dataclasses.dataclass(frozen=True)
class DeploymentRun:
    """What :func:`deploy` returns: the history and the PIDs it started and stopped."""

    history: History
    started: tuple[int, ...]
    stopped: tuple[int, ...]
    ports: tuple[int, ...]
    #: ``(partition, exit code)`` of every SuperNode that exited during the run.
    node_exits: tuple[tuple[int, int], ...] = ()


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a TOML basic string


def write_app(folder: Path, settings: FlowerSettings, run_dir: Path, port: int) -> Path:
    """Write the Flower app and the connection file; returns the app folder."""
    app = folder / "app"
    app.mkdir(parents=True, exist_ok=True)
    (app / "pyproject.toml").write_text(
        "\n".join(
            [
                "[build-system]",
                'requires = ["hatchling"]',
                'build-backend = "hatchling.build"',
                "",
                "[project]",
                'name = "edgealloc-flower-app"',
                'version = "1.0.0"',
                'description = "A Flower federation planned by edgealloc"',
                "dependencies = []",
                "",
                "[tool.hatch.build.targets.wheel]",
                'packages = ["."]',
                "",
                "[tool.flwr.app]",
                'publisher = "edgealloc"',
                "",
                "[tool.flwr.app.components]",
                'serverapp = "edgealloc.integrations.flower.app:server_app"',
                'clientapp = "edgealloc.integrations.flower.app:client_app"',
                "",
                "[tool.flwr.app.config]",
                f"{RUN_CONFIG_KEY} = {_toml_string(settings.to_json())}",
                f"{RUN_DIR_KEY} = {_toml_string(str(run_dir))}",
                "",
            ]
        )
    )
    home = folder / "flwr-home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        "\n".join(
            [
                "[superlink]",
                f'default = "{CONNECTION}"',
                "",
                f"[superlink.{CONNECTION}]",
                f'address = "127.0.0.1:{port}"',
                "insecure = true",
                "",
            ]
        )
    )
    return app


def _executable(name: str) -> str:
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise FlowerRunError(f"{name} not found (is Flower installed in this environment?)")
    return found


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def _ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        p = free_port()
        if p not in ports:
            ports.append(p)
    return ports


def deploy(
    settings: FlowerSettings,
    run_dir: str | Path | None = None,
    *,
    log: Callable[[str], None] | None = None,
    timeout_s: float | None = None,
) -> DeploymentRun:
    """Run the federation as a real SuperLink and SuperNodes on loopback (module docstring).

    Parameters
    ----------
    settings
        The run.
    run_dir
        Folder for the app, Flower's state, the processes' logs and
        ``history.jsonl``; default a temporary folder, removed afterwards.
    log
        Called with one progress line per round (read from the history).
    timeout_s
        Wall-clock limit of the whole run (default: generous, from the
        settings' timeouts).

    Raises
    ------
    ValidationError, InfeasibleError
        What stopped the ServerApp.
    FlowerRunError
        A process that would not start, a timeout, a run that ended early, the
        SuperLink or every SuperNode exiting. One SuperNode that exits is a
        failure of its node, not of the run: it is reported through ``log``
        and in :attr:`DeploymentRun.node_exits`, and the strategy re-plans
        over the nodes that remain.
    """
    from . import require_flower

    require_flower()
    scratch = None
    if run_dir is None:
        scratch = tempfile.TemporaryDirectory(prefix="edgealloc-flower-")
        run_dir = scratch.name
    folder = Path(run_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    n = settings.n_nodes
    link_port, *node_ports = _ports(n + 1)
    app = write_app(folder, settings, folder, link_port)
    env = {**os.environ, **OFFLINE_ENV, "FLWR_HOME": str(folder / "flwr-home")}
    env.setdefault("PYTHONUNBUFFERED", "1")
    limit = timeout_s or (
        settings.node_wait_s + settings.query_timeout_s + settings.rounds * settings.round_timeout_s
    )
    history_path = folder / "history.jsonl"
    started: list[int] = []
    logs: list[IO[Any]] = []
    exited: dict[int, int] = {}

    def start(guard: ProcessGuard, args: list[str], log_name: str) -> subprocess.Popen[Any]:
        fh = open(folder / log_name, "w")  # noqa: SIM115 - closed in finally
        logs.append(fh)
        proc = guard.popen(
            args, env=env, cwd=folder, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        started.append(proc.pid)
        return proc

    try:
        with ProcessGuard() as guard:
            try:
                link = start(
                    guard,
                    [
                        _executable("flower-superlink"),
                        "--insecure",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(link_port),
                        "--disable-runtime-dependency-installation",
                    ],
                    "superlink.log",
                )
                # SuperNodes retry until the SuperLink is up: start them at once.
                nodes = [
                    start(
                        guard,
                        [
                            _executable("flower-supernode"),
                            "--insecure",
                            "--superlink",
                            f"127.0.0.1:{link_port}",
                            "--port",
                            str(node_ports[k]),
                            "--node-config",
                            f"partition-id={k} num-partitions={n}",
                        ],
                        f"supernode-{k}.log",
                    )
                    for k in range(n)
                ]
                end = time.monotonic() + 120
                while not _listening(link_port):
                    if link.poll() is not None:
                        raise FlowerRunError(
                            f"the SuperLink exited ({link.returncode}): "
                            f"{_tail(folder / 'superlink.log')}"
                        )
                    if time.monotonic() > end:
                        raise FlowerRunError("the SuperLink did not start within 120 s")
                    time.sleep(0.2)
                runner = start(
                    guard,
                    [_executable("flwr"), "run", str(app), CONNECTION, "--stream"],
                    "flwr-run.log",
                )
                end = time.monotonic() + limit
                shown = 0
                while runner.poll() is None:
                    guard.scan()
                    history = load_history(history_path)
                    shown = _follow(history, shown, log, settings.rounds)
                    if history.done or history.error is not None:
                        break
                    if link.poll() is not None:
                        raise _link_exited(link, folder)
                    _note_exits(nodes, exited, folder, log)
                    if len(exited) == n:
                        raise FlowerRunError(
                            f"every SuperNode exited during the run: "
                            f"{_tail(folder / f'supernode-{max(exited)}.log')}"
                        )
                    if time.monotonic() > end:
                        raise FlowerRunError(f"the deployment did not finish within {limit:g} s")
                    time.sleep(0.5)
                history = load_history(history_path)
                _follow(history, shown, log, settings.rounds)
                _note_exits(nodes, exited, folder, log)
                if not history.done and history.error is None and link.poll() is not None:
                    # `flwr run` ends when it loses the SuperLink: name the cause, not the effect
                    raise _link_exited(link, folder)
            finally:
                guard.scan()
        stopped = tuple(guard.stopped)
    finally:
        for fh in logs:
            fh.close()
        if scratch is not None:
            scratch.cleanup()
    if not history.done:
        if history.error is None:
            raise FlowerRunError(
                f"the deployment ended before the last round: {_tail(folder / 'flwr-run.log')}"
            )
        raise_history_error(history, "the deployment")
    result = DeploymentRun(
        history=history,
        started=tuple(started),
        stopped=stopped,
        ports=(link_port, *node_ports),
        node_exits=tuple(sorted(exited.items())),
    )
    return result


def _link_exited(link: subprocess.Popen[Any], folder: Path) -> FlowerRunError:
    return FlowerRunError(
        f"the SuperLink exited ({link.returncode}) during the run: "
        f"{_tail(folder / 'superlink.log')}"
    )


def _note_exits(
    nodes: list[subprocess.Popen[Any]],
    exited: dict[int, int],
    folder: Path,
    log: Callable[[str], None] | None,
) -> None:
    """Record (and report once) every SuperNode that exited: its node is a failure, not a stop.

    The SuperLink marks a node that deactivated (a SuperNode stopped by
    SIGTERM or Ctrl-C) offline at once, and one that vanished (SIGKILL, a
    crash, a lost link) once its heartbeat is overdue (Flower 1.42:
    2 x 30 s). Its pending messages then come back as errors, so the strategy
    leaves it out of that round and re-plans over the nodes that remain.
    """
    for k, proc in enumerate(nodes):
        if k not in exited and proc.poll() is not None:
            exited[k] = int(proc.returncode)
            if log is not None:
                log(
                    f"warning: the SuperNode of partition {k} exited ({proc.returncode}): "
                    f"{_tail(folder / f'supernode-{k}.log', 2)}; the run goes on with the "
                    "nodes that remain"
                )


def _follow(
    history: History, shown: int, log: Callable[[str], None] | None, rounds: int | None = None
) -> int:
    """Print the rounds not shown yet; returns how many are shown."""
    rows = history.rounds
    if log is not None:
        for row in rows[shown:]:
            log(round_line(row, rounds))
    return len(rows)


def round_line(row: Any, rounds: int | None = None) -> str:
    """One progress line for a ``rounds.csv`` row."""
    acc = row.get("test_accuracy")
    what = f"test acc {acc:.4f}" if isinstance(acc, float) else f"test loss {row.get('test_loss')}"
    fails = len(row.get("failures") or {})
    total = f"/{rounds}" if rounds else ""
    return (
        f"round {row['round']}{total}: {row.get('participants', 0)}/{row.get('planned', 0)} nodes"
        f"{f' ({fails} failed)' if fails else ''}, sim {row.get('sim_time_s', 0):.4g} s, "
        f"{row.get('energy_j', 0):.4g} J, {what}, wall {row.get('wall_s', 0):.1f} s"
    )
