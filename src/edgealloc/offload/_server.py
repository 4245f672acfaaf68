r"""Exact solvers of the ``offload-server`` problem, (P1) of the XR paper ([XR], Strategy #1).

Seed: the XR offloading paper. Notation as in :mod:`.problem`:
:math:`T_i = m l_i / a_i` (local gradient time of all of user :math:`i`'s
points), :math:`R_i = l_i / r_i` (time to send them all to the server),
:math:`m` MACs per point, :math:`a_S` the server's MAC/s. Problem (P1):

.. math::

    \min_{w, T} T \quad\text{s.t.}\quad (1 - w_i) T_i \le T,\qquad
    w_i R_i + \frac{m}{a_S}\sum_j w_j l_j \le T \;\;(w_i > 0),\qquad 0 \le w_i \le 1.

Three functions, used by the scheme wrappers in :mod:`.solvers`:

* :func:`relaxed_time` — the exact continuous optimum of (P1) by a
  breakpoint search over the offloading set (no tolerance loop);
* :func:`optimal_points` — the exact optimum with whole points
  :math:`o_i = w_i l_i \in \mathbb{Z}` by bisection on :math:`T` until the
  minimal allocation is constant on the bracket;
* :func:`paper_algorithm1` — Proposition 1 / Algorithm 1 of [XR] as published
  (with the garbled lines of the text copy restored from eq. (1)), lines 9-10
  for whole points.

Why the minimal shares are optimal
----------------------------------
Fix :math:`T`. Constraint (P1a) asks :math:`w_i \ge 1 - T/T_i`, and the left
side of every server constraint (P1b) is non-decreasing in every
:math:`w_j`. So if any shares are feasible for :math:`T`, the smallest ones,
:math:`w_i(T) = \max(0, 1 - T/T_i)`, are feasible too, and :math:`T` is
feasible iff :math:`w(T)` is. As :math:`T` grows, :math:`w(T)` shrinks
componentwise, so feasibility is monotone in :math:`T`: the feasible set is
:math:`[T^*, \infty)`. The same argument with whole points gives
:math:`o_i(T) = \max(0, \lceil l_i - T a_i/m \rceil)`.

A user with :math:`r_i = 0` cannot offload (:math:`R_i = \infty`): it forces
:math:`T \ge T_i`. A user with :math:`l_i = 0` has nothing to do.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import NDArray

from .problem import OffloadServerProblem

__all__ = ["PaperResult", "optimal_points", "paper_algorithm1", "relaxed_time"]

#: Above this many users :func:`relaxed_time` filters by the work bound before sorting.
_SORT_ALL = 50_000


# ---------------------------------------------------------------------------
# Continuous optimum
# ---------------------------------------------------------------------------
def _floor_time(
    p: OffloadServerProblem, Ti: NDArray[np.float64] | None = None
) -> tuple[float, NDArray[np.bool_]]:
    """``max T_i`` over users that cannot offload, and the mask of those that can.

    A user with ``r_i = 0`` and ``l_i > 0`` must compute all its points, so every
    feasible ``T`` is at least its ``T_i``; users with ``l_i = 0`` take no time.
    ``Ti``: ``p.compute_time`` if the caller has it.
    """
    has = p.points > 0
    can = has & (p.uplink_rate > 0)
    if can.all():
        return 0.0, can
    Ti = p.compute_time if Ti is None else Ti
    stuck = has & ~can
    floor = float(Ti[stuck].max()) if stuck.any() else 0.0
    return floor, can


def _offload_candidates(
    p: OffloadServerProblem, can: NDArray[np.bool_], Ti: NDArray[np.float64], floor: float
) -> NDArray[np.intp]:
    r"""Indices of the users that may offload at the optimum: :math:`T_i > \text{lb}`.

    Work bound: the users of a set :math:`K \supseteq U(T^*)` and the server
    together do the :math:`m \sum_{i\in K} l_i` MACs of :math:`K` within
    :math:`T^*` (users outside :math:`U(T^*)` send nothing), so
    :math:`T^* \ge m L_K / (A_K + a_S)`. Starting from :math:`K` = all users
    that can offload, :math:`K \leftarrow \{i \in K: T_i > \text{lb}\}` and
    the bound are refined a few times (each step is valid given the last),
    which leaves few users to sort when the server is weak. Only a filter:
    the result does not depend on it.
    """
    m, aS = p.macs_per_point, p.server_rate
    sel = np.flatnonzero(can & (Ti > floor))
    t_sel, l, a = Ti[sel], p.points[sel], p.compute_rate[sel]
    lb = floor
    for _ in range(8):
        lb = max(lb, m * float(l.sum()) / (float(a.sum()) + aS))
        keep = t_sel > lb
        count = int(np.count_nonzero(keep))
        if count == sel.size:
            break
        sel, t_sel, l, a = sel[keep], t_sel[keep], l[keep], a[keep]
        if count == 0 or count >= 0.9 * keep.size:
            break
    return sel


def relaxed_time(p: OffloadServerProblem) -> tuple[float, NDArray[np.float64]]:
    r"""Exact continuous optimum of (P1) ([XR], Strategy #1) by a breakpoint search.

    For a fixed :math:`T` the minimal shares :math:`w_i(T) = \max(0, 1 - T/T_i)`
    are optimal (see the module docstring). Let
    :math:`U(T) = \{i : T_i > T\}` be the users that offload, with
    :math:`A_U = \sum_{j\in U} a_j` and :math:`L_U = \sum_{j\in U} l_j`. Since
    :math:`(1 - T/T_j) l_j = l_j - T a_j/m`, the server constraint (P1b) of
    :math:`i \in U` reads

    .. math::

        T\Bigl(1 + \frac{R_i}{T_i} + \frac{A_U}{a_S}\Bigr) \ge R_i + \frac{m}{a_S} L_U,

    which is [XR] eq. (1) (Proposition 1) written as a constraint: :math:`T`
    must be at least the ratio for *every* :math:`i \in U`, not for one
    fixed user.

    Sort the users that can offload by :math:`T_i`, descending:
    :math:`T_{(1)} \ge T_{(2)} \ge \dots`, and let :math:`U_k` be the
    :math:`k` slowest. At :math:`T = T_{(k)}` the users of :math:`U_k` with
    :math:`T_i = T_{(k)}` have share 0 and add
    :math:`l_j - T a_j/m = 0` to the load, and their constraint reduces to
    :math:`\frac{m}{a_S}\sum_j w_j l_j \le T`, implied by the others' (or
    :math:`0 \le T`). So, with

    .. math::

        G_k := \max_{i \in U_k}
        \frac{R_i + \frac{m}{a_S} L_{U_k}}{1 + R_i/T_i + A_{U_k}/a_S},

    :math:`T_{(k)}` is feasible iff :math:`G_k \le T_{(k)}`, also when
    :math:`U_k` splits a group of tied :math:`T_i`. Feasibility is monotone in
    :math:`T`, so this holds exactly for :math:`k = 1, \dots, k^*`
    (:math:`k = 1` always: nobody offloads at :math:`T = \max_i T_i`), and a
    binary search finds :math:`k^*` with :math:`O(\log N)` probes of
    :math:`O(N)` each, after one :math:`O(N \log N)` sort. Then
    :math:`T^* \in [T_{(k^*+1)}, T_{(k^*)}]` (the lower end is strictly lower,
    else :math:`k^*` would not be the largest), on whose interior the
    offloading set is exactly :math:`U_{k^*}`, so
    :math:`T^* = \max(G_{k^*}, T_{(k^*+1)})`, exactly (in exact arithmetic
    the first term wins unless :math:`k^*` is the last user). Every term of
    :math:`G_k` is a sum of non-negative numbers: no cancellation. Before
    sorting, users below a proven lower bound on :math:`T^*` (a work bound,
    see :func:`_offload_candidates`) are set aside: they cannot offload at
    the optimum.

    Users with :math:`r_i = 0` cannot offload, so :math:`T^* \ge T_i` for them;
    they are left out of the search, which starts at that floor.

    Parameters
    ----------
    p
        The problem.

    Returns
    -------
    T : float
        The optimal iteration time :math:`T^*`.
    share : ndarray
        :math:`w_i = \max(0, 1 - T^*/T_i)`, 0 for users that cannot offload.

    Examples
    --------
    >>> p = OffloadServerProblem(points=[1500, 1200], compute_rate=[3e5, 1.2e5],
    ...                          uplink_rate=[2e3, 5e2], server_rate=1.5e6)
    >>> T, share = relaxed_time(p)  # only user 1 offloads: T = (2.4 + 0.0016) / 121.08
    >>> round(T, 6), share.round(4).tolist()
    (0.019835, [0.0, 0.0083])
    """
    m, aS = p.macs_per_point, p.server_rate
    Ti = p.compute_time
    n = Ti.size
    floor, can = _floor_time(p, Ti)
    if n > _SORT_ALL:
        idx = _offload_candidates(p, can, Ti, floor)
    else:
        idx = np.flatnonzero(can & (Ti > floor))
    if idx.size < n:  # users that cannot or need not offload set a floor for T
        rest = can.copy()
        rest[idx] = False
        if rest.any():
            floor = max(floor, float(Ti[rest].max()))
    if not idx.size:
        return floor, np.zeros(n)
    idx = idx[np.argsort(-Ti[idx])]  # sorted by T_i, descending
    Ts = Ti[idx]
    neg_Ts = -Ts
    cum_l = np.cumsum(p.points[idx], dtype=float)
    cum_a = np.cumsum(p.compute_rate[idx])
    # The work bound of _offload_candidates on the sorted prefix: the users
    # with T_i > lb form a prefix, so each refinement is a binary search.
    k_hi, lb = Ts.size, floor
    for _ in range(64):
        lb = max(lb, m * float(cum_l[k_hi - 1]) / (float(cum_a[k_hi - 1]) + aS))
        k_new = int(np.searchsorted(neg_Ts, -lb, side="left"))  # users with T_i > lb
        if k_new >= k_hi:
            break
        floor = max(floor, float(Ts[k_new]))
        k_hi = k_new
        if k_hi == 0:
            return floor, np.zeros(n)
    idx, Ts = idx[:k_hi], Ts[:k_hi]
    load_l = (m / aS) * cum_l[:k_hi]  # (m / a_S) L_{U_k}
    load_a = cum_a[:k_hi] / aS  # A_{U_k} / a_S
    r = p.uplink_rate[idx]
    R = p.points[idx] / r  # R_i = l_i / r_i
    q = 1.0 + p.compute_rate[idx] / (m * r)  # 1 + R_i / T_i

    def bound(k: int) -> float:
        """``G`` for the prefix of the ``k + 1`` slowest users."""
        return float(((R[: k + 1] + load_l[k]) / (q[: k + 1] + load_a[k])).max())

    # Largest k with G_k <= T_(k), i.e. T_(k) feasible. A prefix that
    # splits a group of tied T_i gives the same test: the tied users in it
    # have share 0 at T = T_(k) and add l_j - T a_j / m = 0 to the load.
    good, bad = 0, k_hi  # k = 0 is feasible (nobody offloads at T = max T_i)
    while bad - good > 1:
        mid = (good + bad) // 2
        if bound(mid) <= Ts[mid]:
            good = mid
        else:
            bad = mid
    below = float(Ts[good + 1]) if good + 1 < k_hi else floor  # next breakpoint below T_(k)
    t_star = max(min(bound(good), float(Ts[good])), below)
    share = np.zeros(n)
    off = idx[Ts > t_star]
    share[off] = (Ti[off] - t_star) / Ti[off]
    return t_star, share


# ---------------------------------------------------------------------------
# Whole points
# ---------------------------------------------------------------------------
@dataclasses.dataclass
class _Users:
    """Users that may offload at some ``T`` of the search (float copies)."""

    l: NDArray[np.float64]
    a: NDArray[np.float64]
    r: NDArray[np.float64]
    m: float

    def minimal(self, T: float) -> NDArray[np.int64]:
        """``o_i(T)``: the fewest whole points with ``m (l_i - o) / a_i <= T``.

        Computed as ``ceil(l_i - T a_i / m)`` and then corrected by one point
        either way so that the test holds in the float expression the
        evaluator uses (``m * (l - o) / a``): the result is exactly the
        smallest such integer, and monotone in ``T``.
        """
        l, a, m = self.l, self.a, self.m
        o = np.clip(np.ceil(l - T * a / m), 0.0, l)
        up = (o < l) & (m * (l - o) / a > T)
        o[up] += 1.0
        down = (o > 0) & (m * (l - (o - 1.0)) / a <= T)
        o[down] -= 1.0
        return o.astype(np.int64)


def _server_part(o: NDArray[np.int64], r: NDArray[np.float64]) -> tuple[int, float]:
    """``(sum_i o_i, max_{o_i > 0} o_i / r_i)`` (0 when nobody offloads)."""
    pos = o > 0
    send = float((o[pos] / r[pos]).max()) if pos.any() else 0.0
    return int(o.sum()), send


def _h(total: int, send: float, m: float, aS: float) -> float:
    """Server finishing time ``max_{o_i>0} o_i/r_i + (m/a_S) sum_j o_j``, as evaluated.

    The same float operations as :meth:`OffloadServerProblem.evaluate`
    (``send + m * sum / a_S``; float addition is monotone, so the max of the
    sums is the sum with the max).
    """
    if send == 0.0 and total == 0:
        return 0.0
    return send + m * float(total) / aS


def optimal_points(
    p: OffloadServerProblem, relaxed: float | None = None
) -> tuple[float, NDArray[np.int64]]:
    r"""Exact optimum of (P1) with whole points ([XR], Strategy #1, integer version).

    For a fixed :math:`T` the minimal offloads

    .. math::

        o_i(T) = \max\bigl(0, \lceil l_i - T a_i/m \rceil\bigr)

    (computed float-consistently: the smallest integer :math:`o` with
    ``m * (l_i - o) / a_i <= T``, the evaluator's expression) are optimal:
    any whole-point allocation :math:`o'` with iteration time :math:`t'` has
    :math:`o(t') \le o'` componentwise, and the server finishing time

    .. math::

        h(o) = \max_{o_i > 0} \frac{o_i}{r_i} + \frac{m}{a_S} \sum_j o_j

    is non-decreasing in :math:`o`, so :math:`o(t')` finishes by :math:`t'`
    too. Hence :math:`F(T) := [h(o(T)) \le T]` is monotone in :math:`T`,
    :math:`o(T)` is a non-increasing, right-continuous step function, and the
    optimum is :math:`T^* = \min\{T : F(T)\}`.

    Search. The continuous optimum :math:`T_c` (:func:`relaxed_time`) is a
    lower bound; if it is infeasible it is the first ``lo``, and
    ``hi`` :math:`= h(o(T_c))` is feasible (:math:`o(hi) \le o(T_c)`). (If
    :math:`T_c` happens to be feasible, a point just below it, or 0, is used
    as ``lo`` and ``hi = T_c``.) Bisect with ``lo`` infeasible and ``hi``
    feasible until :math:`o(lo) = o(hi)` or ``lo`` and ``hi`` are adjacent
    floats. The answer is :math:`o(hi)`, and it is exact:

    * if :math:`o(lo) = o(hi) = o`, the allocation is :math:`o` on the whole
      bracket; :math:`lo` infeasible means :math:`h(o) > lo`, and any
      :math:`T \in (lo, h(o))` would be infeasible too, so
      :math:`T^* = h(o)`, the time of :math:`o(hi)`;
    * if ``lo`` and ``hi`` are adjacent floats, no float lies between them,
      so :math:`T^* = hi`, the time of :math:`o(hi)`.

    "Exact" is meant in the evaluator's own float arithmetic: no whole-point
    allocation has a smaller ``p.evaluate(o).iteration_time`` (the argument
    above only uses that float rounding is monotone).

    Users whose :math:`o_i` agrees at both ends are constant on the bracket;
    they leave the search (their points and largest send time are kept as
    sums), so each step costs only the users still undecided, and the work
    shrinks geometrically once the bracket is shorter than the users' step
    widths :math:`m/a_i`.

    Parameters
    ----------
    p
        The problem.
    relaxed
        :math:`T_c` if the caller already has it (``relaxed_time(p)[0]``);
        computed otherwise.

    Returns
    -------
    T : float
        The optimal iteration time, computed with the same float operations as
        :meth:`~.problem.OffloadServerProblem.evaluate` (so it equals
        ``p.evaluate(o).iteration_time``).
    offloaded_points : ndarray of int64
        :math:`o_i`, whole points each user offloads.

    Examples
    --------
    >>> p = OffloadServerProblem(points=[1500, 1200], compute_rate=[3e5, 1.2e5],
    ...                          uplink_rate=[2e3, 5e2], server_rate=1.5e6)
    >>> T, o = optimal_points(p)  # 9 points: local 2 * 1191 / 1.2e5; 10 would need 0.02 s to send
    >>> round(T, 6), o.tolist()
    (0.01985, [0, 9])
    """
    n = p.n_users
    m, aS = p.macs_per_point, p.server_rate
    Ti = p.compute_time
    floor, can = _floor_time(p)
    out = np.zeros(n, dtype=np.int64)

    def feasible(T: float, o: NDArray[np.int64], r: NDArray[np.float64]) -> tuple[bool, float]:
        total, send = _server_part(o, r)
        h = _h(total, send, m, aS)
        return floor <= T and h <= T, h

    # Only users with T_i > lo can offload anywhere in the search (o_i(T) = 0
    # for T >= T_i, in the same float expression), and lo never decreases.
    t_c = relaxed_time(p)[0] if relaxed is None else float(relaxed)
    lo = t_c
    idx = np.flatnonzero(can & (Ti > lo))
    users = _Users(p.points[idx], p.compute_rate[idx], p.uplink_rate[idx], m)
    o_lo = users.minimal(lo)
    ok, h_lo = feasible(lo, o_lo, users.r)
    if ok:  # T_c is already attained (e.g. nobody offloads): make sure it is the least
        idx = np.flatnonzero(can & (Ti > floor))
        if idx.size == 0:
            return _evaluated_time(p, out), out
        users = _Users(p.points[idx], p.compute_rate[idx], p.uplink_rate[idx], m)
        hi, o_hi = lo, users.minimal(lo)
        lo = t_c * (1.0 - 1e-12)
        o_lo = users.minimal(lo)
        if feasible(lo, o_lo, users.r)[0]:  # not expected: T_c is a lower bound
            lo = 0.0
            o_lo = users.minimal(lo)
    else:
        hi = h_lo
        o_hi = users.minimal(hi)
    r = users.r

    # Bisection on the users still undecided; the rest are kept as sums.
    final = o_hi.copy()  # o(hi) of every user; exact for those already settled
    live = np.flatnonzero(o_lo != o_hi)
    settled = np.ones(idx.size, dtype=bool)
    settled[live] = False
    fixed_total, fixed_send = _server_part(np.where(settled, o_hi, 0), r)
    o_lo, o_hi = o_lo[live], o_hi[live]
    sub = _Users(users.l[live], users.a[live], r[live], m)
    while live.size:
        mid = lo + 0.5 * (hi - lo)
        if not lo < mid < hi:
            break  # adjacent floats: T* = hi
        o_mid = sub.minimal(mid)
        total, send = _server_part(o_mid, sub.r)
        h = _h(fixed_total + total, max(fixed_send, send), m, aS)
        if mid >= floor and h <= mid:
            hi, o_hi = mid, o_mid
        else:
            lo, o_lo = mid, o_mid
        keep = o_lo != o_hi
        if not keep.all():
            gone = ~keep
            t, s = _server_part(o_hi[gone], sub.r[gone])
            fixed_total += t
            fixed_send = max(fixed_send, s)
            final[live[gone]] = o_hi[gone]
            live, o_lo, o_hi = live[keep], o_lo[keep], o_hi[keep]
            sub = _Users(sub.l[keep], sub.a[keep], sub.r[keep], m)
    final[live] = o_hi
    out[idx] = final
    return _evaluated_time(p, out), out


def _evaluated_time(p: OffloadServerProblem, o: NDArray[np.int64]) -> float:
    """Iteration time of whole-point offloads ``o``, with the evaluator's float operations."""
    m = p.macs_per_point
    of = o.astype(float)
    local = m * np.clip(p.points - of, 0.0, None) / p.compute_rate
    total, send = _server_part(o, p.uplink_rate)
    return float(max(float(local.max()), _h(total, send, m, p.server_rate)))


# ---------------------------------------------------------------------------
# Proposition 1 / Algorithm 1 as published
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PaperResult:
    """What Algorithm 1 of [XR] returns.

    Attributes
    ----------
    offloaded_points
        Whole points per user, lines 9-10 (``int64``).
    proposition1_time
        The :math:`T^*` of eq. (1) / Algorithm 1 before rounding (lines 1-8).
    message
        A one-line account (binding user, size of the offloading set).
    """

    offloaded_points: NDArray[np.int64]
    proposition1_time: float
    message: str


def paper_algorithm1(p: OffloadServerProblem) -> PaperResult:
    r"""Proposition 1 / Algorithm 1 of [XR] as published, lines 9-10 for whole points.

    The text copy of the paper garbles the fractions of lines 3 and 6 (and the
    bracket of line 9). Our reading, from eq. (1) with the user :math:`k` of
    line 2 held fixed:

    1. Sort the users by :math:`T_i`, descending.
    2. :math:`k = \arg\max_i R_i / (1 + R_i/T_i)` (the proof's final step
       claims this user always binds).
    3. :math:`U \leftarrow \{k\}`,
       :math:`T^* \leftarrow \dfrac{R_k + \frac{m}{a_S} l_k}{1 + R_k/T_k + a_k/a_S}`
       (eq. (1) with :math:`U = \{k\}`; the copy prints
       ":math:`\frac{R_k}{1+R_k/T_k} + T_k`", a fraction whose numerator and
       denominator lost their server terms).
    4-8. For :math:`i` in the sorted order (skipping :math:`k`), while
       :math:`T_i > T^*`: :math:`U \leftarrow U \cup \{i\}` and

       .. math::

           T^* \leftarrow \frac{R_k + \frac{m}{a_S}\sum_{j\in U} l_j}
           {1 + R_k/T_k + a_S^{-1}\sum_{j\in U} a_j}

       (line 6; the copy prints ":math:`\frac{R_k}{1+R_k/T_k} + \sum_{j\in U} T_j`").
       The walk stops at the first sorted user with :math:`T_i \le T^*`.
    9. :math:`o_j = \lceil (1 - T^*/T_j)\, l_j \rceil` for :math:`j \in U`, 0
       otherwise. The copy's bracket ":math:`[(1 - T^*/T_j) l_j]/l_j`" is read
       as the ceiling (whole points, rounded up so that user :math:`j`'s local
       time stays :math:`\le T^*`), clipped to :math:`[0, l_j]` (a user of
       :math:`U` with :math:`T_j \le T^*`, possible for :math:`k` itself,
       offloads nothing).
    10. :math:`\tilde T^* = \max_j \{T_j(\tilde w_j), T_{j,S}(\tilde w_j)\}`:
        the evaluated iteration time of that allocation (computed by the
        scheme wrapper through ``p.evaluate``, not here).

    Lines 4-8 are vectorised: after adding the first :math:`t` sorted users
    the candidate times are :math:`T^*_t` from cumulative sums, and the
    stopping index is the first :math:`t` with :math:`T_{\pi(t+1)} \le T^*_t`;
    the cost is the :math:`O(N \log N)` sort, as the paper states.

    Users with :math:`r_i = 0` (:math:`R_i = \infty`) or :math:`l_i = 0` are
    outside the paper's model; they take no part in lines 2-9 (they offload
    nothing). ``proposition1_time`` is then the algorithm's :math:`T^*` over
    the others; the evaluated time accounts for them.

    Proposition 1's final step is false in general: the maximiser of
    :math:`(R_i + C_1)/(1 + R_i/T_i + C_2)` depends on :math:`C_1, C_2`
    (i.e. on :math:`U`), so the user whose server constraint binds at the
    optimum need not be :math:`k`. In this reading lines 1-8 solve (P1) with
    only user :math:`k`'s server constraint (and let :math:`k` keep a
    negative share when :math:`T_k \le T^*`): the walk stops at the root of
    the strictly decreasing
    :math:`\varphi(T) = (1 - T/T_k) R_k + \frac{m}{a_S}\sum_{j \in U(T)\cup\{k\}}
    (l_j - T a_j/m) - T`, and :math:`\varphi \le 0` at the optimum of (P1).
    So ``proposition1_time`` is a lower bound on the optimum, equal to it
    exactly when :math:`k`'s constraint binds; when it is lower, the shares
    :math:`1 - T^*/T_j` overload the server for another user, and the
    evaluated time of lines 9-10 is higher. Example
    (``m = 1``; ``tests/test_offload_server.py`` works it out): ``l = (100,
    100)``, ``a = (2, 3)``, ``r = (3, 1)``, ``a_S = 3``: :math:`k = 2`,
    Algorithm 1 gives :math:`T^* = 500/17 \approx 29.41`, the optimum of (P1)
    is 30 (user 1 binds). :func:`relaxed_time` is exact.

    Examples
    --------
    >>> p = OffloadServerProblem(points=[1500, 1200], compute_rate=[3e5, 1.2e5],
    ...                          uplink_rate=[2e3, 5e2], server_rate=1.5e6)
    >>> out = paper_algorithm1(p)  # ceil(9.91) = 10 points: 0.0200 s to send
    >>> round(out.proposition1_time, 6), out.offloaded_points.tolist()
    (0.019835, [0, 10])

    Parameters
    ----------
    p
        The problem.

    Returns
    -------
    PaperResult
    """
    n = p.n_users
    Ti = p.compute_time
    m, aS = p.macs_per_point, p.server_rate
    _, can = _floor_time(p)
    idx = np.flatnonzero(can)
    out = np.zeros(n, dtype=np.int64)
    if idx.size == 0:
        t = float(Ti.max())
        return PaperResult(out, t, "Algorithm 1: no user can offload (r_i = 0 or l_i = 0)")
    l, a, r, T = p.points[idx], p.compute_rate[idx], p.uplink_rate[idx], Ti[idx]
    R = l / r
    q = a / (m * r)  # R_i / T_i
    k = int(np.argmax(R / (1.0 + q)))  # line 2
    rest = np.delete(np.arange(idx.size), k)
    order = rest[np.argsort(-T[rest])]  # line 1 (k skipped)
    cum_l = l[k] + np.concatenate(([0.0], np.cumsum(l[order])))
    cum_a = a[k] + np.concatenate(([0.0], np.cumsum(a[order])))
    t_star = (R[k] + (m / aS) * cum_l) / (1.0 + q[k] + cum_a / aS)  # lines 3 and 6
    go = T[order] > t_star[:-1]  # line 4, before each addition
    stop = int(np.argmin(go)) if not go.all() else order.size
    members = np.concatenate(([k], order[:stop]))
    t_prop = float(t_star[stop])
    lm, Tm = l[members], T[members]
    o = np.clip(np.ceil((1.0 - t_prop / Tm) * lm), 0.0, lm)  # line 9
    out[idx[members]] = o.astype(np.int64)
    user = int(idx[k])
    message = (
        f"Algorithm 1 (Proposition 1): binding user k = {user} (argmax R_i/(1 + R_i/T_i)), "
        f"|U| = {members.size}, T* = {t_prop:.9g} s; whole points by line 9 (ceil)"
    )
    return PaperResult(out, t_prop, message)
