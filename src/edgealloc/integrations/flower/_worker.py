"""``python -m edgealloc.integrations.flower._worker RUN_DIR``: the simulation engine's own process.

Reads ``RUN_DIR/settings.json``, runs :func:`~.simulation.simulate` into
``RUN_DIR/history.jsonl`` and exits 0 when every round ran, 2 on bad input,
3 when infeasible, 1 otherwise, 130 on SIGINT/SIGTERM. An error raised
outside the ServerApp is appended to the history. It exits with
:func:`os._exit` once Ray's processes are stopped, so that no thread left
inside Flower can keep it alive.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from pathlib import Path
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    """Run the simulation of ``argv[1]``; the exit code."""
    from ...errors import InfeasibleError, ValidationError
    from .settings import FlowerSettings
    from .simulation import simulate

    folder = Path(argv[1])
    history = folder / "history.jsonl"

    def record(kind: str, message: str, **extra: object) -> None:
        with history.open("a", encoding="utf-8") as fh:
            fh.write(
                json.dumps({"type": "error", "kind": kind, "message": message, **extra}) + "\n"
            )

    try:
        settings = FlowerSettings.from_json((folder / "settings.json").read_text())
        run = simulate(settings, folder)
        return 0 if run.history.done else 1
    except KeyboardInterrupt:
        return 130
    except ValidationError as exc:
        if not _has_error(history):
            record("validation", str(exc), field=exc.field)
        return 2
    except InfeasibleError as exc:
        if not _has_error(history):
            record("infeasible", str(exc), min_deadline=exc.min_deadline)
        return 3
    except BaseException as exc:
        if not _has_error(history):
            record("internal", f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        return 1


def _has_error(path: Path) -> bool:
    try:
        return '"type": "error"' in path.read_text(encoding="utf-8")
    except OSError:
        return False


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    code = 1
    try:
        code = main(sys.argv)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
