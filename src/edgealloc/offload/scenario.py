r"""Physical offloading scenarios (XR paper, Section IV-A and Table I) and their compilation.

A scenario (``scenario: offload-server`` or ``scenario: offload-d2d``)
describes the users physically; :func:`compile_offload` turns it into the
canonical :class:`~edgealloc.offload.OffloadServerProblem` (Strategy #1) or
:class:`~edgealloc.offload.OffloadD2DProblem` (Strategy #2). Seed:
the XR offloading paper ([XR]).

The model
---------
* **Users**: ``devices.count`` = :math:`N` users uniform in a disc of radius
  :math:`R` (``devices.placement.radius_m``); each holds
  :math:`l_i \sim \mathcal{U}\{l_{min}, \dots, l_{max}\}` points (``points``).
* **Capacities**: the heterogeneity function, [XR] eq. (2)
  (:func:`edgealloc.system.fleet.heterogeneity`), gives the profile
  :math:`C_1 = 1 \ge \dots \ge C_N = 1 - \eta`, with
  ``heterogeneity.eta_comp`` / ``eta_comm`` and the steepness ``s`` (or
  ``s_comp`` / ``s_comm`` where they differ). The paper assigns
  capacities "in a random fashion using a set of relative capacities": user
  :math:`u` gets :math:`C_{\pi(u)}` for a seeded random permutation
  :math:`\pi`, drawn independently for compute and for communication
  (``heterogeneity.assignment: ordered`` gives user :math:`u` the rank
  :math:`u` in both instead). Then :math:`a_u = C^{(a)}_{\pi_a(u)} a_{max}`
  (MAC/s) and the server runs at :math:`a_S = \text{server\_factor}\cdot a_{max}`.
  Eq. (2) gives :math:`C \in [1 - \eta, 1]`, not the text's
  :math:`a_{min} = \eta a_{max}`; we follow eq. (2).
* **Server uplink** (Strategy #1): :math:`r_u = C^{(r)}_{\pi_r(u)} r_{max}`.
  Table I's ":math:`r_{max} = 10 \cdot r_D` bit/s" is ambiguous;
  ``uplink.r_max`` selects the reading: ``snr-cap`` (default of the presets:
  the 100 MHz uplink at the SNR cap, :math:`W_{up}\log_2(1 + \mathrm{SNR}_{max})`),
  ``d2d-multiple`` (``factor`` times the mean D2D rate :math:`r_{ij}` over all
  ordered pairs, the literal "10 r_D") or a number (``fixed``, bit/s).
  The communication factor :math:`\eta_{comm}` shapes only the uplink: "in
  the case of D2D links, heterogeneity comes from random locations".
* **D2D links** (Strategy #2), [XR] Section IV-A: free space at 60 GHz,

  .. math::

      P_{rx} = P_{tx} G_{tx} G_{rx} \Bigl(\frac{\lambda}{4\pi d_{ij}}\Bigr)^2,\quad
      G_{tx} = \frac{2}{1 - \cos(\theta/2)},\quad
      r_{ij} = \rho(N) W \log_2\bigl(1 + \min(\mathrm{SNR}_{max}, P_{rx}/N_0)\bigr),

  with :math:`N_0` the noise power (dBm, over the band) and :math:`\rho(N)`
  the clustering coefficient. The paper estimates :math:`\rho(N)` numerically
  and gives no formula; ``d2d.clustering`` is either a constant in (0, 1]
  or the ``beams`` model :math:`\rho(N) = \min(1, B/N)`
  (:func:`edgealloc.system.radio.beam_schedule_share`): an interference-free
  schedule lets :math:`B` users transmit at once (default :math:`B = 2\pi/\theta`,
  one per non-overlapping beam sector: 12 for 30 deg), each user's links are
  active a share :math:`\min(1, B/N)` of the time.
* **Units**: the paper measures rates in points (its "MACs") per second and
  converts with :math:`\hat r = (2d + 1) r` bit/s. The canonical problems take
  points/s, so every bit rate is divided by ``workload.bits_per_point``
  (default :math:`2d + 1`). Each point costs ``macs_per_point`` = 2 MACs
  (:math:`T_i = 2 l_i / a_i`).

Random draws, in this order from ``numpy.random.default_rng(seed)`` and
whatever the family: positions (:func:`~edgealloc.system.fleet.uniform_disc`),
points, the compute permutation, the communication permutation. So the
``offload-server`` and ``offload-d2d`` versions of a scenario with the same
seed have the same users, and changing :math:`\eta` or :math:`s` changes the
capacities but not who is strong.

The problem's ``meta`` records the provenance: positions, capacity values and
ranks, rates in bit/s, :math:`r_{max}`, :math:`\rho(N)`, the antenna gains and
the readings taken.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pydantic

from .._validation import MAX_BANDWIDTH_HZ, Dbm, ScenarioModel, check_memory, validate_model
from ..errors import ValidationError
from ..system.fleet import heterogeneity, uniform_disc
from ..system.radio import (
    beam_schedule_share,
    capped_rate,
    directivity_gain,
    free_space_received_power,
)
from ..units import db_to_linear, dbm_to_w, linear_to_db
from .problem import OffloadD2DProblem, OffloadServerProblem

__all__ = [
    "D2DLink",
    "OffloadScenario",
    "compile_offload",
    "d2d_link_rates",
]

_FINITE = {"allow_inf_nan": False}


class _Strict(ScenarioModel):
    """Unknown fields refused; numbers may be written as text (YAML 1.1 reads 1e9 so)."""


class Placement(_Strict):
    """Users uniform in a disc of radius ``radius_m``."""

    radius_m: float = pydantic.Field(gt=0, **_FINITE)
    min_distance_m: float = pydantic.Field(default=1.0, gt=0, **_FINITE)

    @pydantic.model_validator(mode="after")
    def _inside(self) -> Placement:
        if self.min_distance_m > self.radius_m:
            raise ValidationError(
                "min_distance_m",
                f"must be <= radius_m ({self.radius_m:g}) (got {self.min_distance_m:g})",
            )
        return self


class Devices(_Strict):
    """The users: how many (:math:`N`) and where."""

    count: int = pydantic.Field(ge=1)
    placement: Placement


class Points(_Strict):
    """Training points per user and iteration, :math:`l_i \\sim U\\{min, ..., max\\}`."""

    min: int = pydantic.Field(ge=0)
    max: int = pydantic.Field(ge=0)

    @pydantic.model_validator(mode="after")
    def _ordered(self) -> Points:
        if self.max < self.min:
            raise ValidationError("max", f"must be >= points.min ({self.min}) (got {self.max})")
        return self


class Compute(_Strict):
    """Computational capacities: :math:`a_{max}` (MAC/s) and :math:`a_S / a_{max}`."""

    a_max_mac_s: float = pydantic.Field(gt=0, **_FINITE)
    server_factor: float = pydantic.Field(default=5.0, gt=0, **_FINITE)


class Heterogeneity(_Strict):
    """Eq. (2): factors :math:`\\eta`, steepness :math:`s`, and how ranks go to users.

    ``eta_comp`` shapes :math:`C^{(a)}` (compute), ``eta_comm`` shapes
    :math:`C^{(r)}` (the server uplinks); both use ``s`` unless ``s_comp`` /
    ``s_comm`` is given.
    """

    eta_comp: float = pydantic.Field(**_FINITE)
    eta_comm: float = pydantic.Field(**_FINITE)
    s: float = pydantic.Field(default=1.0, gt=0, **_FINITE)
    s_comp: float | None = pydantic.Field(default=None, gt=0, **_FINITE)
    s_comm: float | None = pydantic.Field(default=None, gt=0, **_FINITE)
    assignment: Literal["random", "ordered"] = "random"

    @pydantic.field_validator("eta_comp")
    @classmethod
    def _comp(cls, value: float) -> float:
        if not 0.0 <= value < 1.0:
            raise ValueError(
                f"must be in [0, 1) (got {value:g}): eq. (2) gives the weakest user "
                "C_N = 1 - eta_comp, and a compute rate must be > 0"
            )
        return value

    @pydantic.field_validator("eta_comm")
    @classmethod
    def _comm(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"must be in [0, 1] (got {value:g})")
        return value

    @property
    def steepness_comp(self) -> float:
        """Steepness of the compute profile (``s_comp``, else ``s``)."""
        return self.s_comp if self.s_comp is not None else self.s

    @property
    def steepness_comm(self) -> float:
        """Steepness of the uplink profile (``s_comm``, else ``s``)."""
        return self.s_comm if self.s_comm is not None else self.s


class RMax(_Strict):
    """The reading of Table I's ":math:`r_{max} = 10 \\cdot r_D` bit/s"."""

    model: Literal["snr-cap", "d2d-multiple", "fixed"]
    factor: float | None = pydantic.Field(default=None, gt=0, **_FINITE)
    rate_bps: float | None = pydantic.Field(default=None, gt=0, **_FINITE)

    @pydantic.model_validator(mode="after")
    def _keys(self) -> RMax:
        need = {"snr-cap": None, "d2d-multiple": "factor", "fixed": "rate_bps"}[self.model]
        for key in ("factor", "rate_bps"):
            given = getattr(self, key) is not None
            if key == need and not given:
                raise ValidationError(key, f"is required for model {self.model!r}")
            if key != need and given:
                raise ValidationError(key, f"does not apply to model {self.model!r}")
        return self


class Uplink(_Strict):
    """The users' uplink to the edge server (Strategy #1)."""

    bandwidth_hz: float = pydantic.Field(gt=0, le=MAX_BANDWIDTH_HZ, **_FINITE)
    max_snr_db: float = pydantic.Field(**_FINITE)
    r_max: RMax = RMax(model="snr-cap")

    @pydantic.field_validator("r_max", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"model": "fixed", "rate_bps": value}
        return value


class Clustering(_Strict):
    """:math:`\\rho(N)`: a constant, or the ``beams`` model :math:`\\min(1, B/N)`."""

    model: Literal["constant", "beams"]
    value: float | None = pydantic.Field(default=None, gt=0, le=1, **_FINITE)
    beams: float | None = pydantic.Field(default=None, gt=0, **_FINITE)

    @pydantic.model_validator(mode="after")
    def _keys(self) -> Clustering:
        if self.model == "constant" and self.value is None:
            raise ValidationError("value", "is required for model 'constant'")
        if self.model == "constant" and self.beams is not None:
            raise ValidationError("beams", "does not apply to model 'constant'")
        if self.model == "beams" and self.value is not None:
            raise ValidationError("value", "does not apply to model 'beams' (use model: constant)")
        return self

    def factor(self, n_users: int, beamwidth_rad: float) -> float:
        """:math:`\\rho(N)` for ``n_users`` users (``beams`` defaults to 2 pi / theta)."""
        if self.model == "constant":
            return float(self.value)  # type: ignore[arg-type]
        beams = self.beams if self.beams is not None else 2.0 * math.pi / beamwidth_rad
        return float(beam_schedule_share(n_users, beams))


class D2DLink(_Strict):
    """The 60 GHz device-to-device links (Strategy #2; and ``r_max: d2d-multiple``)."""

    carrier_hz: float = pydantic.Field(gt=0, **_FINITE)
    bandwidth_hz: float = pydantic.Field(gt=0, le=MAX_BANDWIDTH_HZ, **_FINITE)
    tx_power_dbm: Dbm
    noise_power_dbm: Dbm
    max_snr_db: float = pydantic.Field(**_FINITE)
    beamwidth_deg: float = pydantic.Field(gt=0, le=360, **_FINITE)
    tx_gain_db: float | None = pydantic.Field(default=None, **_FINITE)
    rx_gain_db: float = pydantic.Field(default=0.0, **_FINITE)
    clustering: Clustering

    @pydantic.field_validator("clustering", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"model": "constant", "value": value}
        return value

    @property
    def tx_gain(self) -> float:
        """Linear :math:`G_{tx}`: ``tx_gain_db`` if given, else the beamwidth approximation."""
        if self.tx_gain_db is not None:
            return float(db_to_linear(self.tx_gain_db))
        return float(directivity_gain(math.radians(self.beamwidth_deg)))


class Workload(_Strict):
    """The learning task: features :math:`d`, MACs per point, bits per point."""

    features: int = pydantic.Field(ge=1)
    macs_per_point: float = pydantic.Field(default=2.0, gt=0, **_FINITE)
    bits_per_point: float | None = pydantic.Field(default=None, gt=0, **_FINITE)

    @property
    def point_bits(self) -> float:
        """Bits per point: ``bits_per_point`` or the paper's :math:`2d + 1`."""
        return self.bits_per_point if self.bits_per_point is not None else 2.0 * self.features + 1


class OffloadScenario(_Strict):
    """A physical offloading scenario (the YAML ``scenario: offload-server|offload-d2d``)."""

    scenario: Literal["offload-server", "offload-d2d"]
    name: str | None = None
    description: str | None = None
    notes: str | list[str] | None = None
    seed: int = pydantic.Field(default=0, ge=0)
    devices: Devices
    points: Points
    compute: Compute
    heterogeneity: Heterogeneity
    uplink: Uplink | None = None
    d2d: D2DLink | None = None
    workload: Workload

    @pydantic.model_validator(mode="after")
    def _sections(self) -> OffloadScenario:
        if self.scenario == "offload-server" and self.uplink is None:
            raise ValueError("uplink: missing required section (scenario offload-server)")
        if self.scenario == "offload-d2d" and self.d2d is None:
            raise ValueError("d2d: missing required section (scenario offload-d2d)")
        if (
            self.scenario == "offload-server"
            and self.uplink is not None
            and self.uplink.r_max.model == "d2d-multiple"
            and self.d2d is None
        ):
            raise ValueError("d2d: missing required section (uplink.r_max model 'd2d-multiple')")
        return self


# ---------------------------------------------------------------------------
def d2d_link_rates(
    link: D2DLink, positions: np.ndarray, *, min_distance_m: float = 1.0
) -> dict[str, Any]:
    """D2D rates (bit/s) between users at ``positions`` ([XR] Section IV-A).

    Parameters
    ----------
    link
        The link parameters.
    positions
        User positions (m), shape ``(N, 2)``.
    min_distance_m
        Pairwise distances are clipped below at this value (m).

    Returns
    -------
    dict
        ``distance_m`` (N x N, clipped, diagonal 0), ``snr`` (N x N linear,
        uncapped, diagonal 0), ``rate_bps`` (N x N, diagonal 0), ``rho``,
        ``tx_gain``, ``rx_gain`` (linear).
    """
    pos = np.asarray(positions, dtype=float)
    n = pos.shape[0]
    diff = pos[:, None, :] - pos[None, :, :]
    dist = np.maximum(np.hypot(diff[..., 0], diff[..., 1]), min_distance_m)
    g_tx = link.tx_gain
    g_rx = float(db_to_linear(link.rx_gain_db))
    p_rx = np.asarray(
        free_space_received_power(
            dbm_to_w(link.tx_power_dbm), dist, link.carrier_hz, tx_gain=g_tx, rx_gain=g_rx
        ),
        dtype=float,
    ).reshape(n, n)
    snr = p_rx / float(dbm_to_w(link.noise_power_dbm))
    rho = link.clustering.factor(n, math.radians(link.beamwidth_deg))
    rate = np.asarray(
        capped_rate(link.bandwidth_hz, snr, max_snr=db_to_linear(link.max_snr_db), share=rho),
        dtype=float,
    ).reshape(n, n)
    eye = np.eye(n, dtype=bool)
    dist[eye] = 0.0
    snr[eye] = 0.0
    rate[eye] = 0.0
    return {
        "distance_m": dist,
        "snr": snr,
        "rate_bps": rate,
        "rho": rho,
        "tx_gain": g_tx,
        "rx_gain": g_rx,
    }


def _r_max_bps(sc: OffloadScenario, d2d_rate_bps: np.ndarray | None) -> float:
    up = sc.uplink
    assert up is not None
    r = up.r_max
    if r.model == "fixed":
        return float(r.rate_bps)  # type: ignore[arg-type]
    if r.model == "snr-cap":
        return float(up.bandwidth_hz * math.log2(1.0 + float(db_to_linear(up.max_snr_db))))
    n = sc.devices.count
    if n < 2 or d2d_rate_bps is None:
        raise ValidationError(
            "uplink.r_max", "model 'd2d-multiple' needs at least 2 users (a D2D pair)"
        )
    mean = float(d2d_rate_bps[~np.eye(n, dtype=bool)].mean())
    return float(r.factor) * mean  # type: ignore[arg-type]


_READINGS = {
    "heterogeneity": "eq. (2): C in [1 - eta, 1] (not the text's a_min = eta a_max)",
    "units": "rates in points/s = bit/s / bits_per_point (paper: r_hat = (2d + 1) r)",
    "r_max": {
        "snr-cap": "r_max = W_up log2(1 + SNR_max): the server uplink at the SNR cap",
        "d2d-multiple": "r_max = factor x mean D2D rate r_ij over ordered pairs",
        "fixed": "r_max given in bit/s",
    },
    "clustering": {
        "constant": "rho(N) a constant",
        "beams": "rho(N) = min(1, B / N), B simultaneous interference-free beams",
    },
}


#: Peak memory per user of compiling and solving a server scenario (measured:
#: about 0.5 KB at N = 1e6; tripled for margin).
BYTES_PER_USER = 1536
#: Peak memory per ordered pair of users of a D2D scenario: the rate matrices
#: (about 80 B per pair compiled at N = 2000) and the LP over the links.
BYTES_PER_LINK = 1200


def compile_offload(
    data: Mapping[str, Any] | OffloadScenario,
) -> OffloadServerProblem | OffloadD2DProblem:
    """Compile a physical scenario into a canonical offloading problem.

    Parameters
    ----------
    data
        A ``scenario: offload-server`` or ``scenario: offload-d2d`` mapping
        (or a validated :class:`OffloadScenario`); see the module docstring.

    Returns
    -------
    OffloadServerProblem or OffloadD2DProblem
        With ``meta`` recording positions, capacities (values and eq. (2)
        ranks), rates in bit/s and the readings taken.

    Raises
    ------
    ValidationError
        For malformed scenarios, naming the field (``heterogeneity.eta_comp``,
        ``d2d.clustering.value``, ...).

    Examples
    --------
    >>> p = compile_offload({
    ...     "scenario": "offload-server", "seed": 1,
    ...     "devices": {"count": 3, "placement": {"radius_m": 25.0}},
    ...     "points": {"min": 1000, "max": 2000},
    ...     "compute": {"a_max_mac_s": 3e5},
    ...     "heterogeneity": {"eta_comp": 0.5, "eta_comm": 0.5, "s": 1.0},
    ...     "uplink": {"bandwidth_hz": 1e8, "max_snr_db": 18.0},
    ...     "workload": {"features": 250}})
    >>> sorted(p.compute_rate.tolist()), p.server_rate
    ([150000.0, 225000.0, 300000.0], 1500000.0)
    """
    sc = data if isinstance(data, OffloadScenario) else validate_model(OffloadScenario, data)
    n = sc.devices.count
    if sc.scenario == "offload-d2d":
        check_memory("devices.count", n * n, BYTES_PER_LINK, what=f"links ({n} users)")
    check_memory("devices.count", n, BYTES_PER_USER, what="users")
    placement = sc.devices.placement
    het = sc.heterogeneity
    rng = np.random.default_rng(sc.seed)
    # Fixed order of draws, whatever the family (see the module docstring).
    positions, _ = uniform_disc(n, placement.radius_m, rng, min_distance_m=placement.min_distance_m)
    points = rng.integers(sc.points.min, sc.points.max + 1, size=n)
    perm_comp = rng.permutation(n)
    perm_comm = rng.permutation(n)
    if het.assignment == "ordered":
        perm_comp = perm_comm = np.arange(n)
    s_comp, s_comm = het.steepness_comp, het.steepness_comm
    c_comp = heterogeneity(n, het.eta_comp, s_comp)[perm_comp]
    compute_rate = c_comp * sc.compute.a_max_mac_s
    bits = sc.workload.point_bits

    meta: dict[str, Any] = {
        "scenario": sc.name or "custom",
        "family": sc.scenario,
        "seed": sc.seed,
        "positions_m": positions.tolist(),
        "capacity_compute": c_comp.tolist(),
        "rank_compute": (perm_comp + 1).tolist(),
        "eta_comp": het.eta_comp,
        "s_comp": s_comp,
        "assignment": het.assignment,
        "a_max_mac_s": sc.compute.a_max_mac_s,
        "features": sc.workload.features,
        "bits_per_point": bits,
        "readings": {
            "heterogeneity": _READINGS["heterogeneity"],
            "units": _READINGS["units"],
        },
    }

    need_d2d = sc.scenario == "offload-d2d" or (
        sc.uplink is not None and sc.uplink.r_max.model == "d2d-multiple"
    )
    links = None
    if need_d2d:
        assert sc.d2d is not None
        links = d2d_link_rates(sc.d2d, positions, min_distance_m=placement.min_distance_m)
        meta.update(
            {
                "d2d_rho": links["rho"],
                "d2d_tx_gain_db": float(linear_to_db(links["tx_gain"])),
                "d2d_rx_gain_db": float(linear_to_db(links["rx_gain"])),
            }
        )
        meta["readings"]["clustering"] = _READINGS["clustering"][sc.d2d.clustering.model]

    common: dict[str, Any] = {
        "points": points.tolist(),
        "compute_rate": compute_rate,
        "macs_per_point": sc.workload.macs_per_point,
        "name": sc.name,
        "description": sc.description,
    }
    try:
        if sc.scenario == "offload-server":
            assert sc.uplink is not None
            r_max = _r_max_bps(sc, None if links is None else links["rate_bps"])
            c_comm = heterogeneity(n, het.eta_comm, s_comm)[perm_comm]
            uplink_bps = c_comm * r_max
            server_rate = sc.compute.server_factor * sc.compute.a_max_mac_s
            meta.update(
                {
                    "capacity_comm": c_comm.tolist(),
                    "rank_comm": (perm_comm + 1).tolist(),
                    "eta_comm": het.eta_comm,
                    "s_comm": s_comm,
                    "r_max_bps": r_max,
                    "uplink_rate_bps": uplink_bps.tolist(),
                    "server_rate_mac_s": server_rate,
                }
            )
            meta["readings"]["r_max"] = _READINGS["r_max"][sc.uplink.r_max.model]
            return OffloadServerProblem(
                **common,
                uplink_rate=uplink_bps / bits,
                server_rate=server_rate,
                meta=meta,
            )
        assert links is not None
        meta["link_rate_bps"] = links["rate_bps"].tolist()
        return OffloadD2DProblem(**common, link_rate=links["rate_bps"] / bits, meta=meta)
    except ValidationError as exc:
        raise ValidationError(
            exc.field, f"{exc.problem} (compiled from the scenario; check its parameters)"
        ) from None
