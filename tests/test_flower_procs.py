"""``_procs.ProcessGuard``: every process started in its block is stopped by PID, in order.

No Flower: small Python processes stand in for a SuperNode and its
``superexec`` (deepest first), for the simulation's process and Ray
(``stop_first``: the parent stops its own children), and for an orphan whose
parent died (the guard is a child subreaper on Linux, so it still finds it).
Each process writes what it received to a log, so the order is asserted
exactly.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from edgealloc.integrations.flower._procs import ProcessGuard, alive, descendants

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")

#: A parent that starts one child, writes its PID, logs the SIGTERM it gets and, when asked to,
#: stops its child itself before exiting (as the simulation's process stops Ray).
PARENT = """
import os, signal, subprocess, sys, time
log, pidfile, own = sys.argv[1], sys.argv[2], sys.argv[3] == "own"
ready = pidfile + ".ready"
child = subprocess.Popen([sys.executable, "-c", CHILD, log, ready])
while not os.path.exists(ready):  # the child's handler is installed
    time.sleep(0.01)
def term(*_):
    with open(log, "a") as fh:
        fh.write("parent TERM\\n")
    if own:
        child.terminate()
        child.wait()
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
with open(pidfile + ".tmp", "w") as fh:
    fh.write(str(child.pid))
os.replace(pidfile + ".tmp", pidfile)
if sys.argv[4] == "exit":
    os._exit(0)  # leave the child an orphan
while True:
    time.sleep(0.05)
"""
CHILD = """
import signal, sys, time
def term(*_):
    with open(sys.argv[1], "a") as fh:
        fh.write("child TERM\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
open(sys.argv[2], "w").close()
while True:
    time.sleep(0.05)
"""


def _start(guard: ProcessGuard, tmp_path: Path, *, own: bool, leave: bool, first: bool):
    log, pidfile = tmp_path / "log.txt", tmp_path / "child.pid"
    code = f"CHILD = {CHILD!r}\n{PARENT}"
    args = [sys.executable, "-c", code, str(log), str(pidfile)]
    args += ["own" if own else "not", "exit" if leave else "stay"]
    parent = guard.popen(args, stop_first=first)
    end = time.monotonic() + 30
    while not pidfile.exists():
        assert time.monotonic() < end, "the child did not start"
        time.sleep(0.02)
    return parent, int(pidfile.read_text()), log


def test_deepest_first_the_child_is_stopped_before_its_parent(tmp_path: Path) -> None:
    with ProcessGuard(grace_s=5) as guard:
        parent, child, log = _start(guard, tmp_path, own=False, leave=False, first=False)
        assert descendants()[child] == 2
    assert log.read_text().splitlines() == ["child TERM", "parent TERM"]
    assert {parent.pid, child} <= set(guard.stopped) and not guard.killed
    assert not alive(parent.pid) and not alive(child)


def test_stop_first_lets_the_parent_stop_its_own_child(tmp_path: Path) -> None:
    with ProcessGuard(grace_s=5, first_grace_s=5) as guard:
        parent, child, log = _start(guard, tmp_path, own=True, leave=False, first=True)
    assert log.read_text().splitlines() == ["parent TERM", "child TERM"]
    assert guard.stopped[0] == parent.pid and not guard.killed
    assert not alive(parent.pid) and not alive(child)


def test_an_orphan_whose_parent_died_is_still_stopped(tmp_path: Path) -> None:
    with ProcessGuard(grace_s=5) as guard:
        parent, child, log = _start(guard, tmp_path, own=False, leave=True, first=False)
        parent.wait(timeout=30)
        assert alive(child)  # re-parented to this process (a child subreaper), not to init
        assert child in descendants()
    assert log.read_text().splitlines() == ["child TERM"]
    assert child in guard.stopped and not alive(child)


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    code = (
        "import signal, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "open(sys.argv[1], 'w').close()\ntime.sleep(60)"
    )
    with ProcessGuard(grace_s=0.5) as guard:
        proc = guard.popen([sys.executable, "-c", code, str(ready)])
        end = time.monotonic() + 30
        while not ready.exists():
            assert time.monotonic() < end
            time.sleep(0.02)
    assert guard.killed == [proc.pid] and not alive(proc.pid)
