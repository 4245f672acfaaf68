r"""What the Flower integration needs to know per family: one :class:`FlowerFamily` each.

The strategy, the ClientApp, the engines and the command never name a family;
they look it up in :data:`FLOWER_FAMILIES`. An entry says

* ``profiles``: the simulated nodes' profiles, from the scenario's physics
  (what a real device would measure and report);
* ``compile``: the family's canonical problem from the scenario plus the
  profiles of the nodes planned this round, through the system model;
* ``node_configs``: the per-device part of each node's train config (the
  plan -> config keys, :data:`~.keys.CONFIG_FIELDS`) and the round's deadline;
* ``mode``: what a node sends back, its local model (``"local-sgd"``) or its
  gradient (``"gradient"``), and ``aggregate``, how the server combines them
  (:mod:`.aggregate`, the family's own weights);
* ``ledger``: per device, whether what it reported having done met the
  deadline, and its simulated time and energy in the round.

``mel`` (samples :math:`d_k`, local steps :math:`\tau_k`; local models
averaged) and ``feel`` (batch sizes :math:`B_k` and TDMA slots; one gradient
per node and round, averaged with :func:`~.aggregate.weighted_gradient_step`)
are the entries below; another family plugs in with :func:`register`.

The ``mel`` compile from profiles follows :func:`edgealloc.mel.scenario.compile_mel`
with the devices' own readings in place of the generated fleet (federated
learning: the nodes own their data, so the batch is never shipped)::

    c2_k = C_m / f_k                  [MEL-sync] eq. (9)
    c1_k = 2 P_m S_d / R_k            [MEL-sync] eq. (10), footnote 3 (federated)
    c0_k = 2 P_m S_m / R_k            [MEL-sync] eq. (11)
    g2_k = mu C_m f_k^(nu - 1)        [MEL-async] eq. (8)
    g1_k = P_k P_m S_d / R_k          [MEL-async] eqs. (9)-(10)
    g0_k = P_k P_m S_m / R_k          [MEL-async] eqs. (9)-(10)

with :math:`R_k` the node's measured rate, or the scenario link's rate
:math:`W \log_2(1 + P_k h_k / (N_0 W))` (its Rayleigh mean with fading) at
the node's gain :math:`h_k` (or the path loss at its distance); the
workload's :math:`C_m, P_m S_m, P_m S_d` are the trained model's
(:func:`edgealloc.learn.scenario.scenario_for_model`). A test checks that
profiles read off a compiled scenario give back exactly its coefficients;
likewise for ``feel`` (:func:`edgealloc.feel.scenario.compile_feel`, its
workload set to the trained model).

References
----------
[MEL-sync] Mohammad, Sorour, "Adaptive task allocation for mobile edge learning"
IEEE WCNCW 2019, eqs. (4), (8)-(11).
[MEL-async] Mohammad, Sorour & Hefeida, arXiv:2012.00143, eqs. (8)-(10).
[FEEL] Ren, Yu, Ding, "Accelerating DNN training in wireless federated edge
learning systems" (Ren, Yu & Ding, IEEE JSAC 2021), eqs. (1)-(2), (5)-(6), (9)-(15),
(27)-(28).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from ... import registry
from ...errors import ValidationError
from ...result import Result
from .aggregate import Arrays, weighted_gradient_step, weighted_model_average
from .profiles import DeviceProfile

__all__ = ["FLOWER_FAMILIES", "DeviceLedger", "FlowerFamily", "flower_family", "register"]

#: Relative tolerance on the deadline (as :meth:`edgealloc.mel.MelProblem.evaluate`).
RTOL = 1e-9


@dataclasses.dataclass(frozen=True)
class DeviceLedger:
    """Simulated time and energy of what each device reported having done in a round.

    Attributes
    ----------
    times_s, energies_j
        Per device of the round's problem (0 where it reported nothing).
    on_time
        The device met the deadline (and reported).
    deadline_s
        The round's deadline.
    """

    times_s: np.ndarray
    energies_j: np.ndarray
    on_time: np.ndarray
    deadline_s: float


@dataclasses.dataclass(frozen=True)
class FlowerFamily:
    """How the Flower integration plans, configures, aggregates and times one family.

    See the module docstring for what each member does; ``settings`` is the
    run's :class:`~.settings.FlowerSettings`, ``workspace`` its
    :class:`~.workspace.Workspace`. Signatures::

        profiles(settings, workspace) -> list[DeviceProfile]        # one per partition
        compile(settings, workspace, profiles) -> problem           # profiles in device order
        node_configs(problem, result, settings) -> (configs, deadline_s)
            # configs: one dict per device (None: the device sits out this round)
        aggregate(global_arrays, replies_arrays, weights, lr) -> arrays
        ledger(problem, result, steps, examples, settings) -> DeviceLedger
    """

    name: str
    mode: Literal["local-sgd", "gradient"]
    profiles: Callable[[Any, Any], list[DeviceProfile]]
    compile: Callable[[Any, Any, Sequence[DeviceProfile]], Any]
    node_configs: Callable[[Any, Result, Any], tuple[list[dict[str, Any] | None], float]]
    aggregate: Callable[[Arrays, Sequence[Arrays], np.ndarray, float], dict[str, np.ndarray]]
    ledger: Callable[[Any, Result, np.ndarray, np.ndarray, Any], DeviceLedger]


# ---------------------------------------------------------------------------
# mel
# ---------------------------------------------------------------------------
def _mel_document(settings: Any, n: int) -> dict[str, Any]:
    """The resolved scenario for ``n`` devices, in federated mode."""
    doc = settings.resolved_scenario()
    if doc.get("mode") == "parallel" and any(key == "mode" for key in settings.overrides):
        raise ValidationError(
            "mode",
            "Flower nodes own their data (federated learning); parallel learning, where the "
            "server ships batches, is not what a Flower federation does (drop --set mode=...)",
        )
    doc["mode"] = "federated"
    devices = copy.deepcopy(doc.get("devices") or {})
    if not isinstance(devices, dict):
        raise ValidationError("devices", "must be a mapping")
    devices["count"] = n
    placement = devices.get("placement")
    if isinstance(placement, dict) and placement.get("distance_m") is not None:
        # distances come from the profiles; keep the scenario valid for n devices
        placement = dict(placement)
        placement["distance_m"] = [1.0] * n
        devices["placement"] = placement
    doc["devices"] = devices
    return doc


def _mel_base(settings: Any, ws: Any, n: int, total: int) -> Any:
    from ...learn.scenario import scenario_for_model

    return scenario_for_model(
        _mel_document(settings, n), ws.spec, None, total_samples=total, mode="federated"
    )


def _mel_profiles(settings: Any, ws: Any) -> list[DeviceProfile]:
    """Profiles of the scenario's devices, one per partition (the simulated nodes)."""
    from ...scenarios import compile_scenario

    n = settings.n_nodes
    doc = _mel_document(settings, n)
    doc["total_samples"] = max(1, int(ws.sizes.sum()))
    # The physics only (the workload does not change the fleet): no model, no PyTorch.
    problem = compile_scenario(doc)
    meta = problem.meta or {}
    budget = problem.energy.budget if problem.energy is not None else np.zeros(n)
    sizes = ws.sizes
    return [
        DeviceProfile(
            partition_id=i,
            cpu_hz=float(meta["cpu_hz"][i]),
            tx_power_w=float(meta["tx_power_w"][i]),
            num_examples=int(sizes[i]),
            rate_bps=float(meta["rate_bps"][i]),
            distance_m=float(meta["distance_m"][i]),
            energy_budget_j=float(budget[i]),
            device_class=str(meta["classes"][i]),
        )
        for i in range(n)
    ]


def _link_rates(
    link: Mapping[str, Any],
    power_w: np.ndarray,
    measured: np.ndarray,
    profiles: Sequence[DeviceProfile],
    what: str = "rate-bps",
) -> np.ndarray:
    r"""Measured rates, else the scenario link's rate at each node's gain or distance.

    :math:`R = W \log_2(1 + P h / (N_0 W))` (its exact Rayleigh mean with
    fading), [MEL-sync] eq. (4), [FEEL] eqs. (5)-(6), through
    :func:`edgealloc.system.link_rate`.
    """
    from ...system import link_rate, pathloss_from_spec

    rate = np.asarray(measured, dtype=float)
    need = rate <= 0
    if not need.any():
        return rate
    gain = np.array([p.channel_gain for p in profiles], dtype=float)
    dist = np.array([p.distance_m for p in profiles], dtype=float)
    missing = need & (gain <= 0) & (dist <= 0)
    if missing.any():
        p = profiles[int(np.flatnonzero(missing)[0])]
        raise ValidationError(
            f"profile of partition {p.partition_id}",
            f"reports neither {what} nor channel-gain nor distance-m: the link is unknown",
        )
    by_distance = need & (gain <= 0)
    if by_distance.any():
        pathloss = pathloss_from_spec(link.get("pathloss") or {}, field="link.pathloss")
        gain = np.where(by_distance, np.asarray(pathloss.gain(np.maximum(dist, 1e-9))), gain)
    derived = np.asarray(
        link_rate(
            power_w,
            gain,
            float(link["bandwidth_hz"]),
            float(link["noise_psd_dbm_hz"]),
            fading=link.get("fading", "none"),
        ),
        dtype=float,
    ).reshape(rate.shape)
    rate = np.where(need, derived, rate)
    bad = rate <= 0
    if bad.any():
        p = profiles[int(np.flatnonzero(bad)[0])]
        raise ValidationError(
            f"profile of partition {p.partition_id}",
            "gives a zero link rate (no transmit power or no gain)",
        )
    return rate


def _rates(doc: Mapping[str, Any], profiles: Sequence[DeviceProfile]) -> np.ndarray:
    """The ``mel`` uplink: measured, or from the node's power and gain/distance."""
    power = np.array([p.tx_power_w for p in profiles], dtype=float)
    measured = np.array([p.rate_bps for p in profiles], dtype=float)
    return _link_rates(doc.get("link") or {}, power, measured, profiles)


def _total_samples(settings: Any, profiles: Sequence[DeviceProfile]) -> int:
    """``d``: the scenario's own when ``--set d=...`` gave one, else the examples the nodes hold."""
    from ...scenarios import ALIASES

    for key in settings.overrides:
        if ALIASES.get(key, key) == "total_samples":
            return int(settings.resolved_scenario()["total_samples"])
    return int(sum(p.num_examples for p in profiles))


def _mel_compile(settings: Any, ws: Any, profiles: Sequence[DeviceProfile]) -> Any:
    """The ``mel`` problem of the nodes planned this round, from their profiles (module notes)."""
    from ..._validation import validate_model
    from ...mel.scenario import MelScenario

    n = len(profiles)
    total = _total_samples(settings, profiles)
    if total < 1:
        raise ValidationError("num-examples", "the nodes planned this round hold no examples")
    doc = _mel_document(settings, n)
    base = _mel_base(settings, ws, n, total)
    scenario = validate_model(MelScenario, doc)
    meta = dict(base.meta or {})
    cycles = float(meta["cycles_per_sample"])
    model_bits = float(meta["model_bits"])  # P_m S_m
    update_bits = float(meta.get("update_bits_per_sample", 0.0))  # P_m S_d
    f = np.array([p.cpu_hz for p in profiles], dtype=float)
    if (f <= 0).any():
        p = profiles[int(np.flatnonzero(f <= 0)[0])]
        raise ValidationError(f"profile of partition {p.partition_id}.cpu-hz", "must be > 0")
    power = np.array([p.tx_power_w for p in profiles], dtype=float)
    rate = _rates(doc, profiles)
    changes: dict[str, Any] = {
        "c2": cycles / f,  # [MEL-sync] eq. (9)
        "c1": 2 * update_bits / rate,  # eq. (10), federated
        "c0": 2 * model_bits / rate,  # eq. (11)
    }
    if scenario.energy is not None:
        en = scenario.energy
        budget = np.array([p.energy_budget_j for p in profiles], dtype=float)
        if (budget <= 0).any():
            p = profiles[int(np.flatnonzero(budget <= 0)[0])]
            raise ValidationError(
                f"profile of partition {p.partition_id}.energy-budget-j",
                "must be > 0: the scenario has an energy model",
            )
        changes["energy"] = {
            "g2": en.cpu_mu * cycles * f ** (en.cpu_nu - 1),  # [MEL-async] eq. (8)
            "g1": power * update_bits / rate,  # eqs. (9)-(10)
            "g0": power * model_bits / rate,
            "budget": budget,
        }
    meta.update(
        classes=[p.device_class or "node" for p in profiles],
        cpu_hz=f.tolist(),
        tx_power_w=power.tolist(),
        rate_bps=rate.tolist(),
        distance_m=[p.distance_m for p in profiles],
        partition_ids=[p.partition_id for p in profiles],
        profiles="reported by the nodes",
    )
    changes["meta"] = meta
    return base.replace(**changes)


def _mel_configs(
    problem: Any, result: Result, settings: Any
) -> tuple[list[dict[str, Any] | None], float]:
    from ...learn.energy import device_energy

    tau = np.asarray(result.tau, dtype=np.int64)
    d = np.asarray(result.samples, dtype=np.int64)
    times = problem.times(tau, d)
    energy = device_energy(problem, tau, d, kappa=settings.kappa).total_j
    stale = -1 if problem.staleness is None else int(problem.staleness)
    configs: list[dict[str, Any] | None] = []
    for k in range(problem.n_devices):
        if d[k] <= 0 or tau[k] <= 0:
            configs.append(None)
            continue
        configs.append(
            {
                "local-steps": int(tau[k]),
                "num-examples": int(d[k]),
                "batch-size": int(d[k]),  # full-batch local steps, [MEL-async] eq. (2)
                "planned-time-s": float(times[k]),
                "planned-energy-j": float(energy[k]) if np.isfinite(energy[k]) else 0.0,
                "staleness": stale,
            }
        )
    return configs, float(problem.deadline)


def _mel_ledger(
    problem: Any, result: Result, steps: np.ndarray, examples: np.ndarray, settings: Any
) -> DeviceLedger:
    """Each device's simulated time and energy in the round, as ``edgealloc train`` keeps them.

    A device is on time when what it reported doing fits the deadline,
    ``t_k = c2 tau d + c1 d + c0 <= T`` ([MEL-sync] eq. (8)) at its reported
    steps and examples. An on-time device is charged the plan's ``t_k`` and
    ``e_k`` (the time and energy budgeted for it, [MEL-async] eqs. (8)-(10) via
    :func:`edgealloc.learn.energy.device_energy`), exactly as the learn engine's
    clock and ledger do, also when it owns fewer than ``d_k`` examples and
    trained on fewer; a late one is charged what it did.
    """
    from ...learn.energy import device_energy

    tau = np.asarray(steps, dtype=float)
    d = np.asarray(examples, dtype=float)
    actual_t = problem.times(tau, d)
    actual_e = np.nan_to_num(device_energy(problem, tau, d, kappa=settings.kappa).total_j)
    plan_tau = np.asarray(result.tau, dtype=float)
    plan_d = np.asarray(result.samples, dtype=float)
    plan_t = problem.times(plan_tau, plan_d)
    plan_e = np.nan_to_num(device_energy(problem, plan_tau, plan_d, kappa=settings.kappa).total_j)
    on_time = (d > 0) & (actual_t <= problem.deadline * (1 + RTOL))
    return DeviceLedger(
        times_s=np.where(on_time, plan_t, actual_t),
        energies_j=np.where(on_time, plan_e, actual_e),
        on_time=on_time,
        deadline_s=float(problem.deadline),
    )


def _mel_aggregate(
    global_arrays: Arrays, replies: Sequence[Arrays], weights: np.ndarray, lr: float
) -> dict[str, np.ndarray]:
    return weighted_model_average(replies, weights, fallback=global_arrays)


MEL = FlowerFamily(
    name="mel",
    mode="local-sgd",
    profiles=_mel_profiles,
    compile=_mel_compile,
    node_configs=_mel_configs,
    aggregate=_mel_aggregate,
    ledger=_mel_ledger,
)

# ---------------------------------------------------------------------------
# feel
# ---------------------------------------------------------------------------
#: ``--set`` targets of the feel workload that the trained model sets unless the user did.
_FEEL_WORKLOAD = ("parameters", "cycles_per_sample", "update_cycles")


def _feel_document(settings: Any, ws: Any | None, n: int) -> dict[str, Any]:
    """The resolved ``feel`` scenario for ``n`` devices, its workload the trained model.

    As :func:`edgealloc.learn.scenario.scenario_for_model` does for ``mel``: the
    gradient is the trained model's, :math:`s = b p` with :math:`p` its
    parameter count ([FEEL] Section III-B); on CPUs :math:`C` is its training
    FLOPs per sample (forward and backward, the standard count) times
    ``cycles_per_flop`` (eq. (9)) and :math:`M^C = 2p` (eq. (12), the reading of
    the ``feel`` presets). Values the user set with ``--set`` are kept.
    """
    from ...scenarios import ALIASES

    doc = settings.resolved_scenario()
    user = {ALIASES.get(k, k) for k in settings.overrides}
    devices = copy.deepcopy(doc.get("devices") or {})
    if not isinstance(devices, dict):
        raise ValidationError("devices", "must be a mapping")
    devices["count"] = n
    gpu = devices.get("gpu")
    if isinstance(gpu, dict):  # per-device lists come from the profiles; keep n valid
        devices["gpu"] = {k: (v[0] if isinstance(v, list) and v else v) for k, v in gpu.items()}
    doc["devices"] = devices
    if ws is not None:
        spec = ws.spec
        workload = dict(doc.get("workload") or {})
        cpf = float(workload.get("cycles_per_flop", 1.0) or 1.0)
        own = {
            "parameters": int(spec.n_params),
            "cycles_per_sample": float(spec.flops_per_sample("standard")) * cpf,
            "update_cycles": 2.0 * spec.n_params,
        }
        for key in _FEEL_WORKLOAD:
            if f"workload.{key}" not in user:
                workload[key] = own[key]
        doc["workload"] = workload
    return doc


def _feel_profiles(settings: Any, ws: Any) -> list[DeviceProfile]:
    """Profiles of the scenario's devices: clocks or GPU timings, distances, both mean rates."""
    from ...feel.scenario import compile_feel
    from ...units import dbm_to_w

    n = settings.n_nodes
    doc = _feel_document(settings, None, n)
    doc["devices"] = settings.resolved_scenario()["devices"]
    problem = compile_feel(doc)
    meta = problem.meta or {}
    power = float(dbm_to_w(float(doc["link"]["tx_power_dbm"]["uplink"])))
    sizes = ws.sizes
    out = []
    for i in range(n):
        extra: dict[str, Any] = {"downlink-rate-bps": float(problem.downlink_rate[i])}
        if problem.gpu is not None:
            g = problem.gpu
            extra.update(
                {
                    "gpu-base-time-s": float(g.base_time[i]),
                    "gpu-slope-s": float(g.slope[i]),
                    "gpu-threshold": float(g.threshold[i]),
                    "gpu-update-time-s": float(g.update_time[i]),
                }
            )
        classes = meta.get("classes")
        out.append(
            DeviceProfile(
                partition_id=i,
                cpu_hz=float(problem.cpu_hz[i]) if problem.cpu_hz is not None else 0.0,
                tx_power_w=power,
                num_examples=int(sizes[i]),
                rate_bps=float(problem.uplink_rate[i]),
                distance_m=float(meta["distance_m"][i]),
                device_class=str(classes[i]) if classes else "gpu",
                extra=extra,
            )
        )
    return out


def _feel_compile(settings: Any, ws: Any, profiles: Sequence[DeviceProfile]) -> Any:
    """The ``feel`` problem of the nodes planned this round, from their profiles.

    Mean rates :math:`R^U_k, R^D_k` ([FEEL] eqs. (5)-(6)) measured by the node,
    else from the scenario's link at its gain or distance (the uplink at its
    own power, the downlink at the base station's); CPU clocks (eqs. (9),
    (12)) or the GPU model of Assumption 1 (eqs. (27)-(28)) from the node.
    """
    from ...feel.scenario import compile_feel
    from ...units import dbm_to_w

    n = len(profiles)
    doc = _feel_document(settings, ws, n)
    base = compile_feel(doc)
    link = doc["link"]
    up_power = np.array(
        [p.tx_power_w or float(dbm_to_w(float(link["tx_power_dbm"]["uplink"]))) for p in profiles]
    )
    uplink = _link_rates(link, up_power, np.array([p.rate_bps for p in profiles]), profiles)
    down_measured = np.array([float(p.extra.get("downlink-rate-bps", 0.0)) for p in profiles])
    down_power = np.full(n, float(dbm_to_w(float(link["tx_power_dbm"]["downlink"]))))
    downlink = _link_rates(link, down_power, down_measured, profiles, "downlink-rate-bps")
    changes: dict[str, Any] = {"uplink_rate": uplink, "downlink_rate": downlink}
    if base.gpu is None:
        f = np.array([p.cpu_hz for p in profiles], dtype=float)
        if (f <= 0).any():
            p = profiles[int(np.flatnonzero(f <= 0)[0])]
            raise ValidationError(f"profile of partition {p.partition_id}.cpu-hz", "must be > 0")
        changes["cpu_hz"] = f
    else:
        gpu = {}
        for key, name in (
            ("gpu-base-time-s", "base_time"),
            ("gpu-slope-s", "slope"),
            ("gpu-threshold", "threshold"),
            ("gpu-update-time-s", "update_time"),
        ):
            if any(key not in p.extra for p in profiles):
                p = next(p for p in profiles if key not in p.extra)
                raise ValidationError(
                    f"profile of partition {p.partition_id}.{key}", "missing (a GPU scenario)"
                )
            gpu[name] = [float(p.extra[key]) for p in profiles]
        changes["gpu"] = gpu
    meta = dict(base.meta or {})
    meta.update(
        distance_m=[p.distance_m for p in profiles],
        uplink_rate_bps=uplink.tolist(),
        downlink_rate_bps=downlink.tolist(),
        # the shape compile_feel writes, which edgealloc.learn.feel_energy reads
        tx_power_w={"uplink": up_power.tolist(), "downlink": float(down_power[0])},
        classes=[p.device_class or "node" for p in profiles],
        partition_ids=[p.partition_id for p in profiles],
        profiles="reported by the nodes",
    )
    if base.gpu is None:
        meta["cpu_hz"] = changes["cpu_hz"].tolist()
    changes["meta"] = meta
    return base.replace(**changes)


def _feel_energy(problem: Any, batch: np.ndarray, kappa: float) -> np.ndarray:
    """Joules per device of one round: :func:`edgealloc.learn.feel_energy.feel_round_energy`.

    The ledger of ``edgealloc train``, so that both engines charge the same:
    computing (CPU :math:`\\kappa C f_k^2 B_k`; GPU its board power times
    :math:`t_k(B_k)`) plus uploading :math:`P_k s / R^U_k`.
    """
    from ...learn.feel_energy import feel_round_energy

    b = np.asarray(batch, dtype=float)
    spent = feel_round_energy(problem, np.maximum(b, 0.0), kappa=kappa).total_j
    return np.where(b > 0, spent, 0.0)


def _feel_configs(
    problem: Any, result: Result, settings: Any
) -> tuple[list[dict[str, Any] | None], float]:
    al = result.allocation
    batch = np.asarray(al.batch, dtype=np.int64)
    own = (
        np.asarray(al.compute_time)
        + np.asarray(al.upload_time)
        + np.asarray(al.download_time)
        + np.asarray(problem.update_time(), dtype=float)
    )
    energy = _feel_energy(problem, batch, settings.kappa)
    configs: list[dict[str, Any] | None] = []
    for k in range(problem.n_devices):
        configs.append(
            {
                "local-steps": 1,  # one gradient per round, [FEEL] eq. (1)
                "num-examples": int(batch[k]),
                "batch-size": int(batch[k]),
                "planned-time-s": float(own[k]),
                "planned-energy-j": float(energy[k]),
                "staleness": -1,
                "uplink-slot-s": float(al.uplink_slot[k]),
                "downlink-slot-s": float(al.downlink_slot[k]),
            }
        )
    return configs, float(al.latency)


def _feel_ledger(
    problem: Any, result: Result, steps: np.ndarray, examples: np.ndarray, settings: Any
) -> DeviceLedger:
    """A device is on time when its gradient at the reported batch is up within the uplink phase.

    The round lasts the plan's latency :math:`T` of [FEEL] eq. (15) for every
    device that sent its gradient in time (they all wait for the downlink);
    its energy is the plan's (:func:`_feel_energy` at :math:`B_k`). A device
    whose reported batch makes :math:`t_k(B) + s T^U_f / (\\tau^U_k R^U_k)`
    exceed the plan's uplink phase is late and charged its own time.
    """
    al = result.allocation
    b = np.asarray(examples, dtype=float)
    ran = (np.asarray(steps) > 0) & (b > 0)
    own_up = problem.compute_time(b) + np.asarray(al.upload_time)
    on_time = ran & (own_up <= float(al.latency_uplink) * (1 + RTOL))
    late_t = own_up + np.asarray(al.download_time) + problem.update_time()
    plan_e = _feel_energy(problem, np.asarray(al.batch, dtype=float), settings.kappa)
    late_e = _feel_energy(problem, b, settings.kappa)
    return DeviceLedger(
        times_s=np.where(on_time, float(al.latency), late_t),
        energies_j=np.where(on_time, plan_e, late_e),
        on_time=on_time,
        deadline_s=float(al.latency),
    )


def _feel_aggregate(
    global_arrays: Arrays, replies: Sequence[Arrays], weights: np.ndarray, lr: float
) -> dict[str, np.ndarray]:
    """The B_k-weighted gradient step at the rate ``edgealloc train`` uses.

    :math:`\\eta = \\eta_{ref}\\sqrt{B/B_{ref}}`:
    ``lr`` is the rate at the reference batch :math:`B_{ref} = 128`
    (:func:`edgealloc.learn.feel_training.feel_learning_rate`, the paper's
    square-root rule); :math:`B` is the examples of the nodes aggregated.
    """
    from ...learn.feel_training import feel_learning_rate

    eta = feel_learning_rate(lr, float(np.sum(weights))) if len(weights) else lr
    return weighted_gradient_step(global_arrays, replies, weights, lr=eta)


FEEL = FlowerFamily(
    name="feel",
    mode="gradient",
    profiles=_feel_profiles,
    compile=_feel_compile,
    node_configs=_feel_configs,
    aggregate=_feel_aggregate,
    ledger=_feel_ledger,
)

#: Families a Flower federation can plan: name -> entry.
FLOWER_FAMILIES: dict[str, FlowerFamily] = {"mel": MEL, "feel": FEEL}


def register(entry: FlowerFamily, *, replace: bool = False) -> FlowerFamily:
    """Add a family's entry (the ``feel`` package, or a plugin, calls this)."""
    if entry.name in FLOWER_FAMILIES and not replace:
        raise ValidationError("family", f"{entry.name!r} already has a Flower entry")
    FLOWER_FAMILIES[entry.name] = entry
    return entry


def flower_family(name: str) -> FlowerFamily:
    """The entry of family ``name``; one line naming those that have one otherwise."""
    if name not in FLOWER_FAMILIES:
        known = ", ".join(FLOWER_FAMILIES)
        registered = name in registry.families()
        why = (
            "has no Flower entry yet"
            if registered
            else f"is not a known family (known: {', '.join(registry.families())})"
        )
        raise ValidationError(
            "family", f"{name!r} {why}; a Flower federation can be planned for: {known}"
        )
    return FLOWER_FAMILIES[name]
