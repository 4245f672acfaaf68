"""What a Flower run records, round by round, and the files ``edgealloc flower`` writes.

The ServerApp appends one JSON line per event to ``history.jsonl`` in the run
folder as the run goes (``plan``, ``client``, ``round``, then ``done`` or
``error``), so an interrupted or crashed run keeps what it did and the
command can follow progress from another process. :func:`write_outputs`
turns a history into

``rounds.csv``
    ``round,sim_time_s,energy_j,train_loss,test_accuracy,participants,wall_s``
    (round 0 is the initial model; times and energies are cumulative).
``plans.jsonl``
    One line per round: ``{"round", "problem", "result", ...}`` (the problem
    solved, the result as ``edgealloc solve --json`` prints it, the node of
    each device, the round the plan was made in and why, and ``failures``:
    node id -> ``error``, ``missing`` or ``late`` for the nodes left out of
    that round's aggregate).
``clients.csv``
    ``round,node_id,device,local_steps,num_examples,batch_size,trained_examples,
    train_loss``: the plan as the node received it (echoed back by the node;
    the plan sent when it did not answer), and what it did (empty when it
    failed). Each node's status, steps run, simulated time and energy are in
    ``history.jsonl`` (``client`` events).
``accuracy.png``
    Test accuracy (test loss for regression) against simulated time and energy.
"""

from __future__ import annotations

import csv
import io
import json
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..._io import atomic_path, atomic_write_text
from ...result import to_jsonable

__all__ = [
    "CLIENT_COLUMNS",
    "ROUND_COLUMNS",
    "History",
    "Recorder",
    "load_history",
    "output_paths",
    "write_outputs",
]

ROUND_COLUMNS = (
    "round",
    "sim_time_s",
    "energy_j",
    "train_loss",
    "test_accuracy",
    "participants",
    "wall_s",
)
CLIENT_COLUMNS = (
    "round",
    "node_id",
    "device",
    "local_steps",
    "num_examples",
    "batch_size",
    "trained_examples",
    "train_loss",
)
OUTPUT_FILES = ("rounds.csv", "plans.jsonl", "clients.csv", "accuracy.png")


class Recorder:
    """Collects a run's events in memory and appends them to ``path`` (when given)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")

    def add(self, kind: str, /, **fields: Any) -> None:
        """Record one event (``kind`` becomes its ``type``)."""
        event = to_jsonable({"type": kind, **fields})
        with self._lock:
            self.events.append(event)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(event, allow_nan=False) + "\n")

    @property
    def history(self) -> History:
        """The events so far."""
        with self._lock:
            return History(list(self.events))


class History:
    """A run's events, with the tables :func:`write_outputs` writes."""

    def __init__(self, events: Sequence[Mapping[str, Any]]) -> None:
        self.events = list(events)

    def of(self, kind: str) -> list[Mapping[str, Any]]:
        """The events of one type, in order."""
        return [e for e in self.events if e.get("type") == kind]

    @property
    def rounds(self) -> list[Mapping[str, Any]]:
        """One row per evaluated round (round 0 first)."""
        return self.of("round")

    @property
    def plans(self) -> list[Mapping[str, Any]]:
        """The ``plans.jsonl`` lines, each with the round's ``failures`` (node id -> status)."""
        outcome = {r.get("round"): r.get("failures") or {} for r in self.rounds}
        return [
            {**{k: v for k, v in e.items() if k != "type"}, "failures": outcome.get(e["round"], {})}
            for e in self.of("plan")
        ]

    @property
    def clients(self) -> list[Mapping[str, Any]]:
        """The ``clients.csv`` rows."""
        return self.of("client")

    @property
    def done(self) -> bool:
        """True when the ServerApp finished every round."""
        return bool(self.of("done"))

    @property
    def error(self) -> Mapping[str, Any] | None:
        """The error the ServerApp stopped on, if any."""
        errors = self.of("error")
        return errors[-1] if errors else None


def load_history(path: str | Path) -> History:
    """Read ``history.jsonl`` (a torn last line, from a killed writer, is skipped)."""
    events = []
    p = Path(path)
    if p.exists():
        for line in p.read_text(encoding="utf-8").splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return History(events)


def output_paths(out: str | Path) -> dict[str, Path]:
    """The files :func:`write_outputs` writes into ``out``."""
    root = Path(out)
    return {name: root / name for name in OUTPUT_FILES}


def _csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = []
        for col in columns:
            value = row.get(col)
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                cells.append("")
            elif isinstance(value, float):
                cells.append(repr(value))
            else:
                cells.append(str(value))
        writer.writerow(cells)
    return buf.getvalue()


def write_outputs(history: History, out: str | Path, *, force: bool = False) -> list[Path]:
    """Write the run's files into ``out`` (created); refuses to overwrite without ``force``.

    Returns the paths written. Every file is written atomically.
    """
    paths = output_paths(out)
    Path(out).mkdir(parents=True, exist_ok=True)
    written = [
        atomic_write_text(
            paths["rounds.csv"], _csv(history.rounds, ROUND_COLUMNS), overwrite=force
        ),
        atomic_write_text(
            paths["plans.jsonl"],
            "".join(json.dumps(p, allow_nan=False) + "\n" for p in history.plans),
            overwrite=force,
        ),
        atomic_write_text(
            paths["clients.csv"], _csv(history.clients, CLIENT_COLUMNS), overwrite=force
        ),
    ]
    written.append(plot_history(history, paths["accuracy.png"], force=force))
    return written


def plot_history(history: History, path: str | Path, *, force: bool = False) -> Path:
    """Test accuracy (or test loss) against simulated time and against energy."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = history.rounds
    acc = [r.get("test_accuracy") for r in rows]
    classification = any(isinstance(a, float) and math.isfinite(a) for a in acc)
    key, label = (
        ("test_accuracy", "test accuracy") if classification else ("test_loss", "test loss")
    )
    y = [r.get(key) if r.get(key) is not None else math.nan for r in rows]
    t = [r.get("sim_time_s") or 0.0 for r in rows]
    e = [r.get("energy_j") or 0.0 for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    for ax, x, xlabel in ((axes[0], t, "simulated time (s)"), (axes[1], e, "energy (J)")):
        ax.plot(x, y, marker="o", color="#1f77b4")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    failed = [r.get("sim_time_s") for r in rows if r.get("failures")]
    for i, x in enumerate(failed):
        label = "round with a failed node" if i == 0 else None
        axes[0].axvline(x, color="#d62728", alpha=0.35, lw=1, label=label)
    if failed:
        axes[0].legend(fontsize=8, loc="best")
    plans = history.plans
    title = "Flower federation planned by edgealloc"
    if plans:
        result = plans[0].get("result") or {}
        title += f" ({result.get('family')}, {result.get('scheme')})"
    fig.suptitle(title, fontsize=10)
    with atomic_path(path, overwrite=force) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return Path(path)
