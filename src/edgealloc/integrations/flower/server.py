"""The ServerApp: the edgealloc strategy, the initial model, central evaluation, the history.

:func:`make_server_app` builds a ``ServerApp`` whose ``main`` creates the
:class:`~.strategy.EdgeallocStrategy` for the run's settings, starts it from
the learn engine's initial model (:func:`edgealloc.learn.engine.init_params`
with the run's seed, the same weights ``edgealloc train`` starts from) and
evaluates the global model on the server after every round (test accuracy
and loss, and the loss on the training set as ``edgealloc train`` measures
it). Everything goes to ``history.jsonl`` in the run folder
(:mod:`.history`); the last line is ``done``, or ``error`` naming what stopped
the run (a bad profile, an infeasible first plan).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InfeasibleError, ValidationError
from .history import Recorder
from .planning import Planner
from .settings import RUN_CONFIG_KEY, FlowerSettings
from .workspace import workspace

__all__ = ["RUN_DIR_KEY", "evaluate_global", "make_server_app", "run_strategy"]

#: The run-config key of the folder the ServerApp writes ``history.jsonl`` into.
RUN_DIR_KEY = "edgealloc-run-dir"


def evaluate_global(ws: Any, arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """Loss and accuracy of a global model on the test set, and its loss on the training set."""
    import torch

    from ...learn.engine import evaluate

    params = {k: torch.from_numpy(np.array(v, copy=True)) for k, v in arrays.items()}
    x_tr, y_tr = ws.train_eval_set()
    train_loss, _ = evaluate(ws.spec, params, x_tr, y_tr)
    test_loss, test_acc = evaluate(ws.spec, params, ws.data.x_test, ws.data.y_test)
    return {"train_loss": train_loss, "test_loss": test_loss, "test_accuracy": test_acc}


def _error_event(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, ValidationError):
        return {"kind": "validation", "field": exc.field, "message": str(exc)}
    if isinstance(exc, InfeasibleError):
        return {"kind": "infeasible", "message": str(exc), "min_deadline": exc.min_deadline}
    return {
        "kind": "internal",
        "message": f"{type(exc).__name__}: {exc}",
        "traceback": traceback.format_exc(),
    }


def run_strategy(
    grid: Any,
    settings: FlowerSettings,
    recorder: Recorder,
    *,
    keep_arrays: bool = False,
    log: Callable[[str], None] | None = None,
    save_dir: Path | None = None,
) -> Any:
    """Run the whole federation on ``grid``; returns the strategy (its plan and models).

    Errors are recorded as an ``error`` event, then raised.
    """
    from flwr.app import MetricRecord

    from ...learn.engine import init_params
    from .client import to_numpy, to_record, torch_threads
    from .strategy import EdgeallocStrategy

    try:
        ws = workspace(settings)
        strategy = EdgeallocStrategy(
            Planner(settings, ws),
            settings=settings,
            recorder=recorder,
            keep_arrays=keep_arrays,
            log=log,
        )
        initial = {
            k: v.detach().cpu().numpy() for k, v in init_params(ws.spec, settings.seed).items()
        }

        def evaluate_fn(server_round: int, arrays: Any) -> Any:
            model = to_numpy(arrays)
            metrics = evaluate_global(ws, model)
            strategy.record_evaluation(server_round, model, metrics)
            if save_dir is not None:
                save_dir.mkdir(parents=True, exist_ok=True)
                np.savez(save_dir / f"round-{server_round}.npz", **model)
            return MetricRecord({k: float(v) for k, v in metrics.items() if np.isfinite(v)})

        with torch_threads(settings.threads):
            strategy.start(
                grid,
                to_record(initial),
                num_rounds=settings.rounds,
                timeout=settings.round_timeout_s,
                evaluate_fn=evaluate_fn,
            )
    except BaseException as exc:
        recorder.add("error", **_error_event(exc))
        raise
    recorder.add("done", rounds=settings.rounds)
    return strategy


def make_server_app(
    settings: FlowerSettings | None = None,
    run_dir: str | Path | None = None,
    *,
    keep_arrays: bool = False,
    sink: list[Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> Any:
    """The edgealloc ``ServerApp``.

    Parameters
    ----------
    settings
        The run's settings; ``None`` reads them from the run config
        (:data:`~.settings.RUN_CONFIG_KEY`), as in a deployment.
    run_dir
        Folder of ``history.jsonl`` (and ``models/`` with ``save_models``);
        ``None`` reads :data:`RUN_DIR_KEY` from the run config, else keeps the
        history in memory only.
    keep_arrays
        Keep every round's global model on the strategy (in-process runs).
    sink
        A list the strategy is appended to when the run ends (in-process runs).
    log
        Called with one progress line per round.

    Returns
    -------
    flwr.serverapp.ServerApp
    """
    from flwr.serverapp import ServerApp

    app = ServerApp()

    @app.main()
    def main(grid: Any, context: Any) -> None:
        s = settings
        if s is None:
            text = context.run_config.get(RUN_CONFIG_KEY)
            if not isinstance(text, str):
                raise ValidationError(RUN_CONFIG_KEY, "missing from the run config")
            s = FlowerSettings.from_json(text)
        folder = run_dir if run_dir is not None else context.run_config.get(RUN_DIR_KEY)
        path = Path(folder) if folder else None
        recorder = Recorder(path / "history.jsonl" if path is not None else None)
        if sink is not None:
            sink.append(recorder)
        printer = log
        if printer is None and path is None:
            printer = _stderr_line
        strategy = run_strategy(
            grid,
            s,
            recorder,
            keep_arrays=keep_arrays,
            log=printer,
            save_dir=path / "models" if path is not None and s.save_models else None,
        )
        if sink is not None:
            sink.append(strategy)

    return app


def _stderr_line(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
