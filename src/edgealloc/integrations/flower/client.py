r"""The node's side: answer the profile query, train exactly the plan received, report it.

:func:`make_client_app` builds the ``ClientApp``. A node

* answers a ``QUERY`` with its :class:`~.profiles.DeviceProfile`: in the
  simulation engine the scenario's device of its ``partition-id`` (the
  physics a device would measure), overridden by whatever its
  ``--node-config`` gives (``cpu-hz=...``, ``rate-bps=...``, ...) on real
  devices;
* on ``TRAIN`` runs the learn engine's model on its own partition with
  exactly the config it received (:func:`train_on_partition`): ``local-sgd``
  runs ``local-steps`` full-batch gradient steps on ``min(num-examples, own)``
  of its samples and sends its model back ([MEL-async] eqs. (1)-(2)),
  ``gradient`` sends the gradient of its mean loss on a batch of
  ``batch-size`` samples ([FEEL] eq. (1));
* reports what it actually did (:data:`~.keys.REPORT_FIELDS`: steps,
  examples, batch size, the loss, and the received values echoed).

With ``fail_rate`` > 0 a node raises in its training with that probability
per round (seeded by the settings' seed, the round and the partition, so a
run's failures are reproducible): the strategy then receives an error reply.

References
----------
[MEL-async] Mohammad, Sorour & Hefeida, arXiv:2012.00143, Section 2.1, eqs. (1)-(3).
[FEEL] Ren, Yu & Ding, IEEE JSAC 2021, Section II-A, eqs. (1)-(2).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ...errors import ValidationError
from .families import flower_family
from .keys import ARRAYS_RECORD, CONFIG_RECORD, METRICS_RECORD, PROFILE_RECORD
from .profiles import DeviceProfile
from .settings import RUN_CONFIG_KEY, FlowerSettings
from .workspace import Workspace, workspace

__all__ = [
    "InjectedFailure",
    "fails_this_round",
    "make_client_app",
    "node_profile",
    "train_on_partition",
]


class InjectedFailure(RuntimeError):
    """The failure ``--fail-rate`` injects into a node's training."""


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run with ``threads`` PyTorch intra-op threads, then restore the previous count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fails_this_round(settings: FlowerSettings, partition_id: int, round_: int) -> bool:
    """Whether the node of ``partition_id`` fails ``round_`` (probability ``fail_rate``)."""
    if settings.fail_rate <= 0:
        return False
    draw = np.random.default_rng([settings.seed, 7, int(round_), int(partition_id)]).random()
    return bool(draw < settings.fail_rate)


@functools.lru_cache(maxsize=8)
def _scenario_profiles(text: str) -> tuple[DeviceProfile, ...]:
    settings = FlowerSettings.from_json(text)
    return tuple(flower_family(settings.family).profiles(settings, workspace(settings)))


def node_profile(
    settings: FlowerSettings, partition_id: int, node_config: Mapping[str, Any] | None = None
) -> DeviceProfile:
    """The profile a node reports: its scenario device, overridden by its ``node_config``."""
    profiles = _scenario_profiles(settings.to_json())
    if not 0 <= partition_id < len(profiles):
        raise ValidationError(
            "partition-id", f"must be in 0..{len(profiles) - 1} (got {partition_id})"
        )
    base = profiles[partition_id]
    return DeviceProfile.from_node_config(node_config or {}, base)


def _mean_loss(spec: Any, out: Any, y: Any) -> Any:
    """The engine's loss: cross-entropy, or half the squared error summed over outputs (mean)."""
    import torch

    if spec.task == "classification":
        return torch.nn.functional.cross_entropy(out, y)
    return 0.5 * (out - y).square().sum(-1).mean()


def _gradient(spec: Any, params: dict[str, Any], x: np.ndarray, y: np.ndarray) -> tuple[Any, float]:
    """Gradient of the mean loss on ``(x, y)`` at ``params`` ([FEEL] eq. (1)), and the loss."""
    import torch

    dev = next(iter(params.values())).device
    module = spec.build(0).to(dev)
    xt, yt = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)

    def loss(p: dict[str, Any]) -> Any:
        return _mean_loss(spec, torch.func.functional_call(module, p, (xt,)), yt)

    grads, value = torch.func.grad_and_value(loss)(params)
    return grads, float(value)


def train_on_partition(
    ws: Workspace,
    partition_id: int,
    config: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    *,
    device: str | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, float | int]]:
    """Train partition ``partition_id``'s share of the round exactly as ``config`` says.

    Parameters
    ----------
    ws
        The run's workspace (data, model, partition).
    partition_id
        The node's partition.
    config
        The train config received (:data:`~.keys.CONFIG_FIELDS`).
    arrays
        The global model, name -> array.
    device
        The PyTorch device to train on (default the CPU; checked by
        :func:`edgealloc.learn.engine.parse_device`). The arrays returned are
        NumPy arrays either way.

    Returns
    -------
    arrays : dict of str to numpy.ndarray
        The local model (``local-sgd``) or the gradient (``gradient``).
    report : dict
        What was done (:data:`~.keys.REPORT_FIELDS`).
    """
    import torch

    from ...learn.engine import local_sgd_cycle, parse_device

    mode = config.get("mode")
    round_ = int(config["server-round"])
    steps = int(config.get("local-steps", 1))
    examples = int(config.get("num-examples", 0))
    batch = int(config.get("batch-size", examples))
    lr = float(config["lr"])
    take = examples if mode == "local-sgd" else batch
    idx = ws.draw(partition_id, take, round_)
    x, y = ws.x_all[idx], ws.data.y_train[idx]
    dev = parse_device(device)
    params = {name: torch.from_numpy(np.array(v, copy=True)).to(dev) for name, v in arrays.items()}
    t0 = time.perf_counter()
    if mode == "local-sgd":
        new, losses = local_sgd_cycle(
            ws.spec, params, [x], [y], np.array([steps if len(idx) else 0]), lr=lr
        )
        out = {name: t.detach().cpu().numpy() for name, t in new.items()}
        done_steps = steps if len(idx) else 0
        loss = float(losses[0]) if len(idx) else float("nan")
        used_batch = len(idx)
    elif mode == "gradient":
        if len(idx):
            grads, loss = _gradient(ws.spec, params, x, y)
            out = {name: g.detach().cpu().numpy() for name, g in grads.items()}
        else:
            out = {name: np.zeros_like(v) for name, v in arrays.items()}
            loss = float("nan")
        done_steps, used_batch = (1 if len(idx) else 0), len(idx)
    else:
        raise ValidationError("mode", f"must be local-sgd or gradient (got {mode!r})")
    report: dict[str, float | int] = {
        "partition-id": int(partition_id),
        "device": int(config.get("device", -1)),
        "received-local-steps": steps,
        "received-num-examples": examples,
        "received-batch-size": batch,
        "local-steps": int(done_steps),
        "num-examples": len(idx),
        "batch-size": int(used_batch),
        "train-loss": loss,
        "train-seconds": time.perf_counter() - t0,
    }
    return out, report


# ---------------------------------------------------------------------------
# The ClientApp
# ---------------------------------------------------------------------------
def _settings_of(settings: FlowerSettings | None, context: Any) -> FlowerSettings:
    if settings is not None:
        return settings
    text = context.run_config.get(RUN_CONFIG_KEY)
    if not isinstance(text, str):
        raise ValidationError(
            RUN_CONFIG_KEY, "missing from the run config (edgealloc's apps need their settings)"
        )
    return FlowerSettings.from_json(text)


def to_numpy(record: Any) -> dict[str, np.ndarray]:
    """An ``ArrayRecord`` as name -> numpy array."""
    return {name: arr.numpy() for name, arr in record.items()}


def to_record(arrays: Mapping[str, np.ndarray]) -> Any:
    """name -> numpy array as an ``ArrayRecord``."""
    from flwr.app import Array, ArrayRecord

    record = ArrayRecord()
    for name, value in arrays.items():
        record[name] = Array.from_numpy_ndarray(np.ascontiguousarray(value))
    return record


def make_client_app(settings: FlowerSettings | None = None) -> Any:
    """The edgealloc ``ClientApp``.

    Parameters
    ----------
    settings
        The run's settings; ``None`` reads them from the run config
        (:data:`~.settings.RUN_CONFIG_KEY`), as in a deployment.

    Returns
    -------
    flwr.clientapp.ClientApp
    """
    from flwr.app import ConfigRecord, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp

    app = ClientApp()

    @app.query()
    def query(msg: Any, context: Any) -> Any:
        s = _settings_of(settings, context)
        pid = int(context.node_config["partition-id"])
        profile = node_profile(s, pid, context.node_config)
        return Message(
            RecordDict({PROFILE_RECORD: ConfigRecord(profile.to_record())}), reply_to=msg
        )

    @app.train()
    def train(msg: Any, context: Any) -> Any:
        s = _settings_of(settings, context)
        pid = int(context.node_config["partition-id"])
        config = dict(msg.content[CONFIG_RECORD])
        round_ = int(config["server-round"])
        if fails_this_round(s, pid, round_):
            raise InjectedFailure(
                f"injected failure (fail rate {s.fail_rate:g}) of partition {pid} in round {round_}"
            )
        with torch_threads(s.threads):
            arrays, report = train_on_partition(
                workspace(s), pid, config, to_numpy(msg.content[ARRAYS_RECORD]), device=s.device
            )
        content = RecordDict(
            {ARRAYS_RECORD: to_record(arrays), METRICS_RECORD: MetricRecord(report)}
        )
        return Message(content, reply_to=msg)

    return app
