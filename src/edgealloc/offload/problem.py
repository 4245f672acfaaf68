r"""Canonical ``offload-server`` and ``offload-d2d`` problems (docs/problem-files.md).

Seed: *collaborative learning for XR* (the XR offloading paper). ``N``
users train a common model by online SGD; in every iteration user ``i`` holds
``l_i`` new points and computes the partial gradient of those it keeps; the
iteration lasts as long as the slowest user (or the server).

Notation (all SI; rates in points or MACs per second):

* ``T_i = m l_i / a_i``: time for user ``i`` to compute the gradient of all its
  points (``m`` MACs per point, 2 for least squares: :math:`x^T\beta` and the
  update :math:`x (x^T\beta - y)`);
* ``R_i = l_i / r_i``: time to send all its points to the server.

**Strategy #1, (P1).** User ``i`` offloads a share ``w_i`` to the server, which
splits its processor in proportion to the offloaded points, so every
offloaded point is done when ``(m / a_S) sum_j w_j l_j`` has elapsed after its
transfer:

.. math::

    \min T \;\text{s.t.}\; (1 - w_i) T_i \le T,\quad
    w_i R_i + \tfrac{m}{a_S}\textstyle\sum_j w_j l_j \le T \;(w_i > 0),\quad 0 \le w_i \le 1.

**Strategy #2, (P2).** User ``i`` sends a share ``w_ij`` to neighbour ``j`` over
a full-duplex D2D link of rate ``r_ij`` (0: no link); its transfer phase lasts
``Ttr_i``, the longest of its incoming and outgoing transfers, then it
computes what it kept and what it received:

.. math::

    \min T \;\text{s.t.}\; \frac{w_{ij} l_i}{r_{ij}} \le T^{tr}_i,\;
    \frac{w_{ij} l_i}{r_{ij}} \le T^{tr}_j,\;
    T^{tr}_i + \Bigl(1 - \sum_j w_{ij}\Bigr)\frac{m l_i}{a_i}
    + \frac{m}{a_i}\sum_k w_{ki} l_k \le T,\; \sum_j w_{ij} \le 1.

The integer versions offload whole points, ``o_i = w_i l_i`` (``o_ij``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import numpy as np
import pydantic
from numpy.typing import ArrayLike, NDArray

from .._validation import CanonicalProblem, array_field, check_length, matrix_field
from ..errors import ValidationError

__all__ = [
    "RTOL",
    "D2DAllocation",
    "D2DEvaluation",
    "OffloadD2DProblem",
    "OffloadServerProblem",
    "ServerAllocation",
    "ServerEvaluation",
]

#: Relative tolerance of the evaluators (equality of shares and point counts).
RTOL = 1e-9

PointsArray = array_field(nonnegative=True, integer=True)
PositiveArray = array_field(positive=True)
NonNegArray = array_field(nonnegative=True)
RateMatrix = matrix_field(nonnegative=True)


class _OffloadBase(CanonicalProblem):
    """Fields and helpers shared by both offloading problems."""

    points: PointsArray  # type: ignore[valid-type]
    compute_rate: PositiveArray  # type: ignore[valid-type]
    macs_per_point: float = pydantic.Field(default=2.0, gt=0, allow_inf_nan=False)
    name: str | None = None
    description: str | None = None
    meta: dict[str, Any] | None = None

    @property
    def n_devices(self) -> int:
        """Number of devices (users) ``N``: the word every family's problem uses."""
        return int(self.points.shape[0])

    @property
    def n_users(self) -> int:
        """Number of users ``N`` (the paper's word; the same as :attr:`n_devices`)."""
        return self.n_devices

    @property
    def compute_time(self) -> NDArray[np.float64]:
        """``T_i = m l_i / a_i``: local gradient time of all of user ``i``'s points."""
        return self.macs_per_point * self.points / self.compute_rate

    @property
    def no_offload_time(self) -> float:
        """``max_i T_i``: the iteration time without offloading."""
        return float(self.compute_time.max())

    def _common_dict(self) -> dict[str, Any]:
        return {
            "points": self.points.astype(np.int64).tolist(),
            "compute_rate": self.compute_rate.tolist(),
        }

    def _tail_dict(self, out: dict[str, Any]) -> dict[str, Any]:
        out["macs_per_point"] = self.macs_per_point
        return self._named(out)


# ---------------------------------------------------------------------------
# Strategy #1: offloading to the edge server
# ---------------------------------------------------------------------------
class OffloadServerProblem(_OffloadBase):
    """Canonical ``offload-server`` problem (docs/problem-files.md).

    Parameters
    ----------
    points
        ``l_i``, integer training points each user holds this iteration.
    compute_rate
        ``a_i > 0``, user ``i``'s MAC/s.
    uplink_rate
        ``r_i >= 0``, points/s user ``i`` can send to the server (0: it cannot offload).
    server_rate
        ``a_S > 0``, the server's MAC/s.
    macs_per_point
        ``m``, MACs per point (default 2, the least-squares gradient).

    Examples
    --------
    >>> p = OffloadServerProblem(points=[1500, 1200], compute_rate=[3e5, 1.2e5],
    ...                          uplink_rate=[2e3, 5e2], server_rate=1.5e6)
    >>> p.compute_time.round(4).tolist(), round(p.no_offload_time, 4)
    ([0.01, 0.02], 0.02)
    """

    family: Literal["offload-server"] = "offload-server"
    uplink_rate: NonNegArray  # type: ignore[valid-type]
    server_rate: float = pydantic.Field(gt=0, allow_inf_nan=False)

    FAMILY: ClassVar[str] = "offload-server"

    @pydantic.model_validator(mode="after")
    def _lengths(self) -> OffloadServerProblem:
        n = self.points.shape[0]
        check_length("compute_rate", self.compute_rate, n, "points")
        check_length("uplink_rate", self.uplink_rate, n, "points")
        return self

    @property
    def transmit_time(self) -> NDArray[np.float64]:
        """``R_i = l_i / r_i`` (``inf`` where ``r_i = 0``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.uplink_rate > 0, self.points / self.uplink_rate, np.inf)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"family": "offload-server", **self._common_dict()}
        out["uplink_rate"] = self.uplink_rate.tolist()
        out["server_rate"] = self.server_rate
        return self._tail_dict(out)

    def evaluate(self, offloaded: ArrayLike, *, integral: bool = True) -> ServerEvaluation:
        """Iteration time and violations of an allocation of offloaded points ``o_i``.

        ``offloaded`` are point counts (``o_i = w_i l_i``); with ``integral=False``
        they may be fractional (the continuous relaxation). Independent of any
        solver: times follow directly from the model above.
        """
        o = np.asarray(offloaded, dtype=float)
        n = self.n_users
        if o.shape != (n,) or not np.isfinite(o).all():
            raise ValidationError("offloaded", f"must be {n} finite numbers (got shape {o.shape})")
        violations: list[str] = []
        l = self.points
        tol = RTOL * np.maximum(1.0, l)
        if integral:
            bad = np.flatnonzero(o != np.round(o))
            if bad.size:
                violations.append(
                    f"offloaded[{bad[0]}] = {o[bad[0]]} is not a whole number of points"
                )
        if (o < -tol).any():
            i = int(np.flatnonzero(o < -tol)[0])
            violations.append(f"offloaded[{i}] = {o[i]:g} is negative")
        if (o > l + tol).any():
            i = int(np.flatnonzero(o > l + tol)[0])
            violations.append(f"offloaded[{i}] = {o[i]:g} exceeds the user's {int(l[i])} points")
        sending = o > 0
        no_link = sending & (self.uplink_rate <= 0)
        if no_link.any():
            i = int(np.flatnonzero(no_link)[0])
            violations.append(f"user {i} offloads points but has no uplink (uplink_rate = 0)")
        m = self.macs_per_point
        local = m * np.clip(l - o, 0.0, None) / self.compute_rate
        with np.errstate(divide="ignore", invalid="ignore"):
            send = np.where(sending, o / np.where(self.uplink_rate > 0, self.uplink_rate, 1.0), 0.0)
        server = m * float(np.clip(o, 0.0, None).sum()) / self.server_rate
        done_at_server = np.where(sending, send + server, 0.0)
        iteration = float(max(local.max(), done_at_server.max()))
        return ServerEvaluation(
            local_time=local,
            server_time=done_at_server,
            iteration_time=iteration,
            violations=tuple(violations),
        )


@dataclasses.dataclass(frozen=True)
class ServerEvaluation:
    """What :meth:`OffloadServerProblem.evaluate` found."""

    local_time: NDArray[np.float64]
    server_time: NDArray[np.float64]
    iteration_time: float
    violations: tuple[str, ...]

    @property
    def feasible(self) -> bool:
        return not self.violations


@dataclasses.dataclass(frozen=True)
class ServerAllocation:
    """The ``offload-server`` part of a :class:`~edgealloc.Result` (docs/problem-files.md)."""

    iteration_time: float
    share: NDArray[np.float64]
    offloaded_points: NDArray[Any]
    no_offload_time: float
    speedup: float
    local_time: NDArray[np.float64]
    server_time: NDArray[np.float64]

    def to_dict(self) -> dict[str, Any]:
        return {
            "iteration_time": self.iteration_time,
            "share": self.share.tolist(),
            "offloaded_points": self.offloaded_points.tolist(),
            "no_offload_time": self.no_offload_time,
            "speedup": self.speedup,
            "local_time": self.local_time.tolist(),
            "server_time": self.server_time.tolist(),
        }


# ---------------------------------------------------------------------------
# Strategy #2: offloading to neighbours over D2D links
# ---------------------------------------------------------------------------
class OffloadD2DProblem(_OffloadBase):
    """Canonical ``offload-d2d`` problem (docs/problem-files.md).

    ``link_rate[i][j]`` is ``r_ij``, points/s from ``i`` to ``j``; 0 means no
    link (the diagonal is ignored and must be 0).
    """

    family: Literal["offload-d2d"] = "offload-d2d"
    link_rate: RateMatrix  # type: ignore[valid-type]

    FAMILY: ClassVar[str] = "offload-d2d"

    @pydantic.model_validator(mode="after")
    def _shapes(self) -> OffloadD2DProblem:
        n = self.points.shape[0]
        check_length("compute_rate", self.compute_rate, n, "points")
        if self.link_rate.shape != (n, n):
            raise ValueError(
                f"link_rate: is {self.link_rate.shape[0]} x {self.link_rate.shape[1]}, "
                f"expected {n} x {n} (one row and column per user, as points)"
            )
        diag = np.flatnonzero(np.diag(self.link_rate) != 0)
        if diag.size:
            i = int(diag[0])
            raise ValueError(f"link_rate[{i}][{i}]: must be 0 (a user has no link to itself)")
        return self

    @property
    def n_links(self) -> int:
        """Number of usable directed links (``r_ij > 0``)."""
        return int(np.count_nonzero(self.link_rate))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"family": "offload-d2d", **self._common_dict()}
        out["link_rate"] = self.link_rate.tolist()
        return self._tail_dict(out)

    def evaluate(self, offloaded: ArrayLike, *, integral: bool = True) -> D2DEvaluation:
        """Iteration time and violations of a matrix of offloaded points ``o_ij``.

        Each user's transfer phase lasts its longest incoming or outgoing
        transfer (links are full duplex and used in parallel), then it computes
        the points it kept plus those it received.
        """
        o = np.asarray(offloaded, dtype=float)
        n = self.n_users
        if o.shape != (n, n) or not np.isfinite(o).all():
            raise ValidationError("offloaded", f"must be a finite {n} x {n} matrix (got {o.shape})")
        l = self.points
        violations: list[str] = []
        if integral:
            bad = np.argwhere(o != np.round(o))
            if bad.size:
                i, j = bad[0]
                violations.append(
                    f"offloaded[{i}][{j}] = {o[i, j]} is not a whole number of points"
                )
        if (o < 0).any():
            i, j = np.argwhere(o < 0)[0]
            violations.append(f"offloaded[{i}][{j}] = {o[i, j]:g} is negative")
        if (np.diag(o) != 0).any():
            i = int(np.flatnonzero(np.diag(o) != 0)[0])
            violations.append(f"offloaded[{i}][{i}] must be 0")
        sent = o.sum(axis=1)
        over = sent > l * (1 + RTOL) + RTOL
        if over.any():
            i = int(np.flatnonzero(over)[0])
            violations.append(f"user {i} sends {sent[i]:g} points but holds {int(l[i])}")
        no_link = (o > 0) & (self.link_rate <= 0)
        if no_link.any():
            i, j = np.argwhere(no_link)[0]
            violations.append(f"user {i} sends points to {j} over a link of rate 0")
        with np.errstate(divide="ignore", invalid="ignore"):
            link_time = np.where(o > 0, o / np.where(self.link_rate > 0, self.link_rate, 1.0), 0.0)
        transfer = np.maximum(link_time.max(axis=1), link_time.max(axis=0))
        work = np.clip(l - sent, 0.0, None) + o.sum(axis=0)
        compute = self.macs_per_point * work / self.compute_rate
        total = transfer + compute
        return D2DEvaluation(
            transfer_time=transfer,
            compute_time=compute,
            user_time=total,
            iteration_time=float(total.max()),
            violations=tuple(violations),
        )


@dataclasses.dataclass(frozen=True)
class D2DEvaluation:
    """What :meth:`OffloadD2DProblem.evaluate` found."""

    transfer_time: NDArray[np.float64]
    compute_time: NDArray[np.float64]
    user_time: NDArray[np.float64]
    iteration_time: float
    violations: tuple[str, ...]

    @property
    def feasible(self) -> bool:
        return not self.violations


@dataclasses.dataclass(frozen=True)
class D2DAllocation:
    """The ``offload-d2d`` part of a :class:`~edgealloc.Result` (docs/problem-files.md)."""

    iteration_time: float
    share: NDArray[np.float64]
    offloaded_points: NDArray[Any]
    transfer_time: NDArray[np.float64]
    no_offload_time: float
    speedup: float
    user_time: NDArray[np.float64]

    def to_dict(self) -> dict[str, Any]:
        return {
            "iteration_time": self.iteration_time,
            "share": self.share.tolist(),
            "offloaded_points": self.offloaded_points.tolist(),
            "transfer_time": self.transfer_time.tolist(),
            "no_offload_time": self.no_offload_time,
            "speedup": self.speedup,
            "user_time": self.user_time.tolist(),
        }
