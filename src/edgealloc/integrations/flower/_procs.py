"""Processes the Flower engines start: loopback only, and every one stopped by its PID.

:class:`ProcessGuard` owns the processes started inside its block (those it
launches with :meth:`ProcessGuard.popen` and every other descendant that
appears, e.g. Ray's ``gcs_server``/``raylet``/workers or Flower's
``flower-superexec``). When the block ends, normally, on an exception or on
Ctrl-C / SIGTERM, it stops them by PID, deepest in the process tree first
(a ``superexec`` before its SuperNode, a SuperNode before the SuperLink):
SIGTERM, a grace period, then SIGKILL, and reaps what exited. On Linux the
guard makes its process a *child subreaper* for the duration, so that a
grandchild whose parent died is re-parented to it and is still found and
stopped.

Loopback: :func:`loopback_environment` sets what keeps Ray on 127.0.0.1
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` makes Ray treat this host as a
single-machine instance, so every Ray listener binds 127.0.0.1; measured with
Ray 2.55) and Flower offline (no telemetry, no update check, no run-time
dependency installation, its state in a scratch ``FLWR_HOME``). Flower's
SuperLink and SuperNodes get ``--host 127.0.0.1`` and ports from
:func:`free_port`.

Process discovery reads ``/proc`` (Linux); elsewhere ``psutil`` when it is
installed, else only the processes launched through :meth:`ProcessGuard.popen`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = [
    "OFFLINE_ENV",
    "ProcessGuard",
    "alive",
    "descendants",
    "free_port",
    "loopback_environment",
]

#: Environment of every Flower (and Ray) process edgealloc starts: offline and loopback.
OFFLINE_ENV: dict[str, str] = {
    "FLWR_TELEMETRY_ENABLED": "0",
    "FLWR_DISABLE_UPDATE_CHECK": "1",
    "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
    "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0",
    "TOKENIZERS_PARALLELISM": "false",
}

#: Key of the module switches in :func:`loopback_environment`'s record (no variable's name).
_MODULES = "<module switches>"
_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37


def _module_switches(telemetry: str | None, ray_cluster: bool | None) -> tuple[Any, Any]:
    """Set Flower's telemetry switch and Ray's cluster switch where those modules are loaded.

    Both read the environment once, when first imported, so a process that
    imported them earlier needs the module value changed too. ``None`` leaves
    a switch alone. Returns the previous values (``None`` where not loaded).
    """
    tele = sys.modules.get("flwr.supercore.telemetry")
    consts = sys.modules.get("ray._private.ray_constants")
    before = (
        getattr(tele, "FLWR_TELEMETRY_ENABLED", None) if tele is not None else None,
        getattr(consts, "ENABLE_RAY_CLUSTER", None) if consts is not None else None,
    )
    if tele is not None and telemetry is not None:
        tele.FLWR_TELEMETRY_ENABLED = telemetry  # type: ignore[attr-defined]
    if consts is not None and ray_cluster is not None:
        consts.ENABLE_RAY_CLUSTER = ray_cluster  # type: ignore[attr-defined]
    return before


def loopback_environment(
    flwr_home: str | Path, extra: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Set :data:`OFFLINE_ENV`, ``FLWR_HOME`` and ``extra`` in ``os.environ``; what to restore.

    Also switches off Flower's telemetry and Ray's cluster mode in modules
    already imported (both read the environment when first imported).
    :func:`restore_environment` undoes all of it.
    """
    values = {**OFFLINE_ENV, "FLWR_HOME": str(flwr_home), **(extra or {})}
    before: dict[str, Any] = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    before[_MODULES] = _module_switches("0", False)
    return before


def restore_environment(before: Mapping[str, Any]) -> None:
    """Undo :func:`loopback_environment`: the variables, and the module switches.

    A module first imported inside the block read the offline values; its
    switches are reset from the restored environment (as it would have read
    them), so that later Ray or Flower use in this process is unaffected.
    """
    for key, value in before.items():
        if key == _MODULES:
            continue
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    telemetry, ray_cluster = before.get(_MODULES, (None, None))
    if telemetry is None:
        telemetry = os.environ.get("FLWR_TELEMETRY_ENABLED", "1")
    if ray_cluster is None:
        flag = os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
        default = not (sys.platform == "darwin" or sys.platform == "win32")
        ray_cluster = default if flag is None else flag.lower() in ("true", "1")
    _module_switches(telemetry, ray_cluster)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------
# The process table
# ---------------------------------------------------------------------------
def _proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, state) of every process, from /proc (Linux) or psutil; {} if neither."""
    table: dict[int, tuple[int, str]] = {}
    proc = Path("/proc")
    if proc.is_dir():
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            rest = stat.rsplit(")", 1)[-1].split()
            if len(rest) >= 2:
                table[int(entry.name)] = (int(rest[1]), rest[0])
        return table
    try:
        import psutil
    except ImportError:
        return table
    for p in psutil.process_iter(["pid", "ppid", "status"]):
        status = p.info.get("status")
        table[p.info["pid"]] = (p.info["ppid"] or 0, "Z" if status == "zombie" else "R")
    return table


def descendants(pid: int | None = None) -> dict[int, int]:
    """Every live descendant of ``pid`` (default: this process) -> its depth below it (1 = child).

    Zombies are left out (they are reaped, not stopped).
    """
    root = os.getpid() if pid is None else pid
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for p, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(p)
    out: dict[int, int] = {}
    frontier = [(root, 0)]
    while frontier:
        parent, depth = frontier.pop()
        for child in children.get(parent, ()):
            if child in out or child == root:
                continue
            if table[child][1] != "Z":
                out[child] = depth + 1
            frontier.append((child, depth + 1))
    return out


def alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    table = _proc_table()
    if table:
        return pid in table and table[pid][1] != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap() -> None:
    """Collect every exited child of this process (zombies included), without blocking."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _set_subreaper(on: bool) -> bool | None:
    """Make this process a child subreaper (Linux); returns the previous setting or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        value = ctypes.c_int(0)
        if libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(value), 0, 0, 0) != 0:
            return None
        if libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
            return None
        return bool(value.value)
    except (OSError, AttributeError):
        return None


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def stop_pids(pids: Sequence[int], *, grace_s: float) -> list[int]:
    """SIGTERM ``pids``, wait up to ``grace_s`` for them to exit, SIGKILL the rest.

    Returns the PIDs that had to be killed. Exited children are reaped.
    """
    live = [p for p in pids if alive(p)]
    for p in live:
        _signal(p, signal.SIGTERM)
    end = time.monotonic() + grace_s
    while live and time.monotonic() < end:
        _reap()
        live = [p for p in live if alive(p)]
        if live:
            time.sleep(0.05)
    killed = list(live)
    for p in killed:
        _signal(p, signal.SIGKILL)
    end = time.monotonic() + 5.0
    while live and time.monotonic() < end:
        _reap()
        live = [p for p in live if alive(p)]
        if live:
            time.sleep(0.05)
    _reap()
    return killed


class ProcessGuard:
    """Stop, by PID, every process started while the block runs (see the module docstring).

    Parameters
    ----------
    grace_s
        Seconds a process gets between SIGTERM and SIGKILL.
    first_grace_s
        Seconds a process started with ``popen(..., stop_first=True)`` gets to
        stop the processes under it itself (it is stopped before the others).
    handle_signals
        Turn SIGTERM (and SIGHUP) into :class:`KeyboardInterrupt` in the main
        thread while the block runs, so that ``finally`` clauses run on them
        as on Ctrl-C.

    Attributes
    ----------
    stopped
        PIDs the guard stopped when the block ended.
    killed
        Those that needed SIGKILL.
    """

    def __init__(
        self, *, grace_s: float = 10.0, first_grace_s: float = 30.0, handle_signals: bool = True
    ) -> None:
        self.grace_s = grace_s
        self.first_grace_s = first_grace_s
        self._first: list[int] = []
        self.handle_signals = handle_signals
        self.stopped: list[int] = []
        self.killed: list[int] = []
        self._baseline: set[int] = set()
        self._seen: dict[int, int] = {}
        self._popens: list[subprocess.Popen[Any]] = []
        self._subreaper: bool | None = None
        self._handlers: dict[int, Any] = {}
        self._lock = threading.Lock()

    # -------------------------------------------------------------- context
    def __enter__(self) -> ProcessGuard:
        self._baseline = set(descendants())
        self._subreaper = _set_subreaper(True)
        if self.handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
                if sig is not None:
                    self._handlers[sig] = signal.signal(sig, self._interrupt)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop_all()
        finally:
            for sig, handler in self._handlers.items():
                signal.signal(sig, handler)
            self._handlers.clear()
            if self._subreaper is not None and not self._subreaper:
                _set_subreaper(False)

    @staticmethod
    def _interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    # ------------------------------------------------------------ processes
    def popen(
        self, args: Sequence[str], *, stop_first: bool = False, **kwargs: Any
    ) -> subprocess.Popen[Any]:
        """Start ``args`` (a new session, so a terminal's Ctrl-C reaches only this process).

        ``stop_first``: when the block ends, this process is stopped before the
        others and given ``first_grace_s`` to stop what it started itself (the
        simulation's process shuts Ray down faster than signals to Ray's
        processes can: some of them wait for one another, one ignores SIGTERM).
        """
        kwargs.setdefault("start_new_session", True)
        proc = subprocess.Popen(list(args), **kwargs)
        with self._lock:
            self._popens.append(proc)
            self._seen[proc.pid] = 1
            if stop_first:
                self._first.append(proc.pid)
        return proc

    def scan(self) -> dict[int, int]:
        """Record the live descendants started since the block began (pid -> depth)."""
        now = {p: d for p, d in descendants().items() if p not in self._baseline}
        with self._lock:
            self._seen.update(now)
        return now

    def owned(self) -> list[int]:
        """PIDs of the live processes the guard owns."""
        self.scan()
        return [p for p in self._seen if alive(p)]

    def stop_all(self) -> None:
        """Stop every owned process: the ``stop_first`` ones, then the rest deepest first."""
        self.scan()
        first = [p for p in self._first if alive(p)]
        if first:
            self.killed += stop_pids(first, grace_s=self.first_grace_s)
            self.stopped += first
        for _ in range(3):  # a process may start children while its parent is stopped
            depth = {**self._seen, **self.scan()}
            live = {p: d for p, d in depth.items() if alive(p)}
            if not live:
                break
            for level in sorted(set(live.values()), reverse=True):
                pids = [p for p, d in live.items() if d == level]
                self.killed += stop_pids(pids, grace_s=self.grace_s)
                self.stopped += pids
        for proc in self._popens:
            with contextlib.suppress(Exception):
                proc.wait(timeout=0)
        _reap()

    def wait(self, proc: subprocess.Popen[Any], *, poll_s: float = 0.2) -> int:
        """Wait for ``proc`` to exit, recording the processes it starts meanwhile."""
        while True:
            try:
                return proc.wait(timeout=poll_s)
            except subprocess.TimeoutExpired:
                self.scan()


@contextlib.contextmanager
def guarded_environment(
    flwr_home: str | Path, extra: Mapping[str, str] | None = None
) -> Iterator[None]:
    """:func:`loopback_environment` for the block, restored afterwards."""
    before = loopback_environment(flwr_home, extra)
    try:
        yield
    finally:
        restore_environment(before)
