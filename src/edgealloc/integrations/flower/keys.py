"""The keys of the records a node and the strategy exchange (the wire contract, ``docs/flower.md``).

Three kinds of message travel between the strategy and a node:

1. **Profile query** (``MessageType.QUERY``, empty content). The node answers
   with a ``ConfigRecord`` under :data:`PROFILE_RECORD` holding
   :data:`PROFILE_FIELDS`.
2. **Train** (``MessageType.TRAIN``): the global model (``ArrayRecord`` under
   :data:`ARRAYS_RECORD`) and the node's own plan (``ConfigRecord`` under
   :data:`CONFIG_RECORD`, :data:`CONFIG_FIELDS`).
3. **Train reply**: the local model (``mel``) or the gradient (``feel``)
   under :data:`ARRAYS_RECORD`, and what the node actually did
   (``MetricRecord`` under :data:`METRICS_RECORD`, :data:`REPORT_FIELDS`).

Keys are hyphenated, as Flower's own (``num-examples``, ``server-round``).
"""

from __future__ import annotations

__all__ = [
    "ARRAYS_RECORD",
    "CONFIG_FIELDS",
    "CONFIG_RECORD",
    "FEEL_PROFILE_FIELDS",
    "METRICS_RECORD",
    "PROFILE_FIELDS",
    "PROFILE_RECORD",
    "REPORT_FIELDS",
]

PROFILE_RECORD = "profile"
ARRAYS_RECORD = "arrays"
CONFIG_RECORD = "config"
METRICS_RECORD = "metrics"

#: Profile key -> (type, unit, meaning). ``partition-id`` and ``num-examples`` are always
#: required, the others as the family needs them (``mel``: ``cpu-hz``, ``tx-power-w``);
#: the link is ``rate-bps`` (measured) or, failing that, ``channel-gain`` or ``distance-m``
#: (through the scenario's path loss). ``feel`` also reads :data:`FEEL_PROFILE_FIELDS`.
PROFILE_FIELDS: dict[str, tuple[str, str, str]] = {
    "partition-id": ("int", "", "which partition of the data the node holds (its device slot)"),
    "device-class": ("str", "", "a label (laptop, phone, ...), for the reports only"),
    "cpu-hz": ("float", "Hz", "CPU clock f_k"),
    "tx-power-w": ("float", "W", "transmit power P_k"),
    "rate-bps": ("float", "bit/s", "measured uplink rate R_k (0: not measured)"),
    "channel-gain": ("float", "", "mean channel power gain h_k (0: unknown)"),
    "distance-m": ("float", "m", "distance to the server, for the path loss (0: unknown)"),
    "energy-budget-j": ("float", "J", "energy budget per round E_k (0: none)"),
    "num-examples": ("int", "", "training examples the node holds |D_k|"),
}

#: Further profile keys of ``feel`` nodes (the paper's GPU model, Assumption 1, eqs. (27)-(28)).
FEEL_PROFILE_FIELDS: dict[str, tuple[str, str, str]] = {
    "downlink-rate-bps": ("float", "bit/s", "measured downlink rate R^D_k (0: from the link)"),
    "gpu-base-time-s": ("float", "s", "GPU: t^l_k, gradient time in the data-bound region"),
    "gpu-slope-s": ("float", "s", "GPU: c_k, seconds per sample beyond the threshold"),
    "gpu-threshold": ("float", "", "GPU: B^th_k, the batch where the time starts to grow"),
    "gpu-update-time-s": ("float", "s", "GPU: the model update time"),
}

#: Train config key -> (type, meaning), as a node receives it.
CONFIG_FIELDS: dict[str, tuple[str, str]] = {
    "server-round": ("int", "the round, from 1"),
    "family": ("str", "the family whose plan this is (mel, feel)"),
    "mode": ("str", "local-sgd (send the local model) or gradient (send the gradient)"),
    "device": ("int", "the node's index k in this round's problem"),
    "local-steps": ("int", "tau_k: full-batch gradient steps (mel); 1 for feel"),
    "num-examples": ("int", "d_k: examples to train on (min(d_k, own) are used)"),
    "batch-size": ("int", "examples per step: d_k (mel, full batch) or B_k (feel)"),
    "lr": ("float", "learning rate eta"),
    "deadline-s": ("float", "the round's deadline T (simulated seconds)"),
    "planned-time-s": ("float", "t_k, the node's planned time (simulated seconds)"),
    "planned-energy-j": ("float", "e_k, the node's planned energy (J)"),
    "staleness": ("int", "the staleness bound c (async mel); -1 when synchronous"),
    "uplink-slot-s": ("float", "feel: the node's uplink TDMA slot per frame (s)"),
    "downlink-slot-s": ("float", "feel: the node's downlink TDMA slot per frame (s)"),
}

#: Train reply metric -> meaning (what the node actually did).
REPORT_FIELDS: dict[str, str] = {
    "partition-id": "the node's partition",
    "device": "the index it was given (echoed)",
    "received-local-steps": "local-steps as received (echoed)",
    "received-num-examples": "num-examples as received (echoed)",
    "received-batch-size": "batch-size as received (echoed)",
    "local-steps": "gradient steps it ran",
    "num-examples": "examples it trained on (the aggregation weight)",
    "batch-size": "examples per step it used",
    "train-loss": "loss of the received global model on those examples",
    "train-seconds": "wall-clock seconds it spent training",
}
