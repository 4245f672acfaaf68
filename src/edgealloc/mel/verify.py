r"""Independent oracles for the ``mel`` family: an exact MILP and brute force.

These solvers exist to *check* :mod:`edgealloc.mel.solvers`, so they are
written from the problem statement alone (docs/problem-files.md; sync paper
problem (12), async paper problem (16)) and import nothing from
``edgealloc.mel._capacity``, ``_makespan``, ``_relaxed``, ``solvers`` or
``edgealloc._mckp``. They share only :class:`~edgealloc.mel.problem.MelProblem`
(the data and its solver-independent :meth:`~MelProblem.evaluate`).

Constraint semantics are those the solvers use: a time or energy constraint
holds when ``lhs <= rhs * (1 + 1e-12)`` (:data:`STRICT_RTOL`), with
``lhs = c2 tau d + c1 d + c0`` evaluated in float64; every answer is finally
confirmed by ``problem.evaluate`` (which is looser, ``1e-9``).

:func:`milp_optimum` — exact MILP solved by HiGHS (``scipy.optimize.milp``)
    Three formulations, chosen by size (``encoding="auto"``) or by name;
    all share binary participation ``p_k`` (fixed to 1 when
    ``min_samples >= 1``), ``floor * p_k <= d_k <= d * p_k`` with
    ``floor = max(1, min_samples)``, ``sum_k d_k = d``, and the objective
    ``max tau`` (synchronous) or ``max sum_k tau_k / K`` (asynchronous).

    * ``"tau"`` (default when ``sum_k tmax_k <= UNARY_LIMIT``): binary
      ``z[k, t]`` = "device ``k`` runs ``tau_k = t``", ``sum_t z[k, t] = p_k``;
      for a fixed ``t`` the time and energy rows are a bound on ``d_k``, so
      ``d_k <= sum_t D[k, t] z[k, t]`` with ``D[k, t]`` the device's integer
      capacity (closed form ``floor((lim - a0) / (a2 t + a1))`` plus a
      float-consistent correction). The window floor is one-hot too:
      ``z[k, t] <= sum_{s=t-c}^{t} w[s]``, ``sum_s w[s] = 1`` (``c = 0``
      when synchronous, whose objective is ``sum_s s w[s]``).
    * ``"samples"`` (next, when ``K (d - floor + 1) <= SAMPLES_LIMIT``):
      binary ``u[k, n]`` = "device ``k`` holds ``n`` samples", integer
      ``tau_k <= sum_n L[k, n] u[k, n]`` with ``L[k, n]`` the largest integer
      ``tau`` that fits ``n`` samples; window ``m <= tau_k <= m + c`` by
      big-M on ``p_k``.
    * ``"base2"`` (fallback, any size): ``tau_k = p_k + sum_j 2^j b[k, j]``,
      the products ``y = d_k b[k, j]`` linearised exactly by McCormick
      inequalities (binary times an integer in ``[0, d]``), time row
      ``c2 (d_k + sum_j 2^j y[k, j]) + c1 d_k + c0 p_k <= T`` scaled to a
      right-hand side of 1; energy likewise; big-M window.

    ``tmax_k`` is a proven bound: ``tau_k <= tau_rel + c`` where ``tau_rel``
    is the largest real ``tau`` at which the devices' continuous capacities
    still sum to ``d`` (a bisection written here: any synchronous ``tau``
    and any window floor ``m`` of a feasible allocation satisfies it), and
    ``tau_k <=`` the device's own limit with ``floor`` samples.

    The first two have integer coefficients only (the float arithmetic is
    done here, with the same expression the final check uses), so HiGHS's
    tolerances (set to ``1e-9``) cannot admit a violated constraint; the
    third has real coefficients. Every answer is rounded and checked
    (own ``1e-12`` check and ``evaluate``); if that fails, the samples are
    recomputed for the same ``tau`` vector and participants, and if that
    fails too the binary pattern is cut off by a no-good cut and the MILP
    re-solved ("base2"), or ``status="error"`` is returned (the others).
    The three encodings are separate formulations and check one another.

:func:`exhaustive_sync` — brute force, ``K <= 4`` and ``d <= 12``
    Every composition of ``d`` into ``K`` parts (each ``>= min_samples``, or
    ``>= 0`` when devices may sit out) times every ``tau`` from 1 to a safe
    bound (the largest ``tau`` any device can run with ``ceil(d/K)``
    samples: some participant always holds at least that many), checked
    directly, vectorised.

:func:`exhaustive_async` — brute force, ``K <= 3`` and ``d <= 8``
    Every composition and, for it, every vector ``tau_k in 1..B_k`` for the
    participants (``B_k`` one past the real ``tau`` at which device ``k``'s
    time or energy row becomes tight with its ``d_k``; refused beyond about ``2e7``
    vectors in all), staleness and constraints checked directly.

Limits: the MILP is meant for ``K`` up to a few dozen (asynchronous
problems with ``K ~ 8`` and ``d ~ 300`` take up to a few seconds; the
``"base2"`` fallback is much slower); the brute-force oracles raise
``ValueError`` outside their stated sizes. The only fact any oracle uses
beyond the constraints themselves is that their left-hand sides grow with
``tau`` and ``d`` (for the bounds); none uses the capacity search, the
knapsack over staleness windows or the makespan step of the production
solvers.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
import warnings
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp

from ..result import Status
from .problem import MelProblem

__all__ = [
    "STRICT_RTOL",
    "MilpResult",
    "exhaustive_async",
    "exhaustive_sync",
    "milp_optimum",
    "strict_check",
]

#: Relative slack on ``t_k <= T`` and ``e_k <= E_k`` (the solvers' semantics).
STRICT_RTOL = 1e-12
#: Largest one-hot ``d_k`` encoding (``K * (d - floor + 1)`` binaries) the MILP uses.
SAMPLES_LIMIT = 60000
#: Largest one-hot ``tau`` encoding (sum over devices of ``tmax_k``) before
#: the MILP switches to a base-2 encoding.
UNARY_LIMIT = 6000

IntArray = NDArray[np.int64]


@dataclasses.dataclass(frozen=True)
class MilpResult:
    """Answer of :func:`milp_optimum`.

    Attributes
    ----------
    status
        A :class:`~edgealloc.result.Status`: ``optimal``, ``infeasible``,
        ``time_limit`` or ``error`` (equal to those strings).
    objective
        ``tau`` (synchronous) or ``mean_k tau_k`` (asynchronous); ``nan``
        unless ``status == "optimal"``.
    tau, samples
        Integer allocation (empty arrays unless ``status == "optimal"``).
    seconds
        Wall-clock time including the verification loop.
    message
        What happened (HiGHS message, cut count, or the reason for ``error``).
    """

    status: Status
    objective: float
    tau: IntArray
    samples: IntArray
    seconds: float
    message: str = ""


# ---------------------------------------------------------------------------
# Plain helpers (written here on purpose; see the module docstring)
# ---------------------------------------------------------------------------
def _coeffs(problem: MelProblem):
    """Time and energy rows as lists of ``(a2, a1, a0, limit)`` per constraint type."""
    rows = [(problem.c2, problem.c1, problem.c0, np.full(problem.n_devices, problem.deadline))]
    if problem.energy is not None:
        e = problem.energy
        rows.append((e.g2, e.g1, e.g0, e.budget))
    return rows


def strict_check(problem: MelProblem, tau: NDArray, samples: NDArray) -> bool:
    """True when ``(tau, samples)`` is feasible with the ``1e-12`` semantics and for ``evaluate``.

    Works on a single allocation (arrays of length ``K``).
    """
    tau = np.asarray(tau, dtype=float)
    d = np.asarray(samples, dtype=float)
    if not problem.evaluate(tau, d, integral=True).feasible:
        return False
    part = d > 0
    for a2, a1, a0, lim in _coeffs(problem):
        lhs = a2 * tau * d + a1 * d + a0
        if np.any(part & (lhs > lim * (1 + STRICT_RTOL))):
            return False
    return True


def _ok_grid(problem: MelProblem, tau: NDArray, d: NDArray) -> NDArray[np.bool_]:
    """Vectorised constraint check over the last axis (devices); ``d = 0`` sits out.

    ``tau`` and ``d`` broadcast to ``(..., K)``; returns ``(...)`` booleans for
    time, energy, participation floor and ``tau >= 1`` (staleness is checked
    by the caller).
    """
    tau = np.asarray(tau, dtype=float)
    d = np.asarray(d, dtype=float)
    part = d > 0
    ok = np.ones(np.broadcast_shapes(tau.shape, d.shape), bool)
    for a2, a1, a0, lim in _coeffs(problem):
        lhs = a2 * tau * d + a1 * d + a0
        ok &= ~part | (lhs <= lim * (1 + STRICT_RTOL))
    ok &= ~part | (tau >= 1)
    return ok.all(axis=-1)


def _tau_limit(problem: MelProblem, n: float | NDArray) -> NDArray[np.float64]:
    """Largest real ``tau`` at which each device can hold ``n`` samples (may be < 1 or inf)."""
    n = np.broadcast_to(np.asarray(n, dtype=float), (problem.n_devices,))
    out = np.full(problem.n_devices, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for a2, a1, a0, lim in _coeffs(problem):
            room = lim * (1 + STRICT_RTOL) - a0 - a1 * n
            t = np.where(a2 > 0, room / (a2 * n), np.where(room >= 0, np.inf, -np.inf))
            out = np.minimum(out, t)
    return out


def _capacity(problem: MelProblem, tau: NDArray) -> IntArray:
    """Largest integer ``n`` in ``[0, d]`` each device can hold at its ``tau`` (-1 if none)."""
    d = problem.total_samples
    tau = np.asarray(tau, dtype=float)
    n = np.full(problem.n_devices, float(d))
    with np.errstate(divide="ignore", invalid="ignore"):
        for a2, a1, a0, lim in _coeffs(problem):
            slope = a2 * tau + a1
            room = lim * (1 + STRICT_RTOL) - a0
            q = np.where(slope > 0, np.floor(room / slope), np.where(room >= 0, d, -1.0))
            n = np.minimum(n, np.nan_to_num(q, nan=-1.0, posinf=d, neginf=-1.0))
    n = np.clip(n, -1, d)
    # Float-consistent adjustment: the same expression the check uses.
    for _ in range(3):
        fits = _fits(problem, tau, n + 1) & (n + 1 <= d)
        n = n + fits
        bad = (n >= 1) & ~_fits(problem, tau, n)
        n = n - bad
    return n.astype(np.int64)


def _fits(problem: MelProblem, tau: NDArray, n: NDArray) -> NDArray[np.bool_]:
    ok = np.ones(problem.n_devices, bool)
    for a2, a1, a0, lim in _coeffs(problem):
        ok &= a2 * tau * n + a1 * n + a0 <= lim * (1 + STRICT_RTOL)
    return ok


def _relaxed_tau_bound(problem: MelProblem) -> float:
    """A real ``tau`` above which the continuous capacities cannot carry ``d`` samples.

    Capacity of device ``k`` at ``tau``: ``min_r (lim - a0)/(a2 tau + a1)``
    (non-increasing in ``tau``); any feasible synchronous ``tau``, and the
    window floor ``m`` of any feasible asynchronous allocation, satisfies
    ``sum_k max(0, cap_k(tau)) >= d``. Found by bisection (in log scale).
    """
    d = float(problem.total_samples)

    def total(t: float) -> float:
        cap = np.full(problem.n_devices, np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            for a2, a1, a0, lim in _coeffs(problem):
                room = lim * (1 + STRICT_RTOL) - a0
                slope = a2 * t + a1
                c = np.where(slope > 0, room / slope, np.where(room >= 0, np.inf, -np.inf))
                cap = np.minimum(cap, c)
        return float(np.maximum(cap, 0.0).sum())

    if total(1.0) < d:
        return 1.0
    hi = 2.0
    while total(hi) >= d:
        hi *= 2.0
        if hi > 2.0**62:
            return hi
    lo = hi / 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if total(mid) >= d:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return hi


# ---------------------------------------------------------------------------
# The MILP
# ---------------------------------------------------------------------------
class _Builder:
    """Tiny sparse-row accumulator for ``scipy.optimize.milp``."""

    def __init__(self) -> None:
        self.n = 0
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.integ: list[int] = []
        self.rows: list[tuple[dict[int, float], float, float]] = []

    def var(self, lb: float, ub: float, integer: bool) -> int:
        self.lb.append(lb)
        self.ub.append(ub)
        self.integ.append(int(integer))
        self.n += 1
        return self.n - 1

    def row(self, coefs: dict[int, float], lo: float, hi: float) -> None:
        self.rows.append((coefs, lo, hi))

    def constraint(self) -> LinearConstraint:
        data, ri, ci, lo, hi = [], [], [], [], []
        for i, (coefs, a, b) in enumerate(self.rows):
            for j, v in coefs.items():
                ri.append(i)
                ci.append(j)
                data.append(v)
            lo.append(a)
            hi.append(b)
        mat = sp.csr_array((data, (ri, ci)), shape=(len(self.rows), self.n))
        return LinearConstraint(mat, np.array(lo), np.array(hi))


def _plus(a: dict[int, float], b: dict[int, float]) -> dict[int, float]:
    out = dict(a)
    for j, v in b.items():
        out[j] = out.get(j, 0.0) + v
    return out


def _int_tau_limit(problem: MelProblem, n: NDArray, cap: float) -> NDArray[np.float64]:
    """Largest integer ``tau`` in ``[0, cap]`` with device ``k`` fitting ``n[k, j]`` samples.

    ``n`` has shape ``(K, J)`` (positive); -1 where even ``tau = 0`` fails. The
    result satisfies the very expression :func:`strict_check` evaluates
    (``a2 * tau * n + a1 * n + a0 <= lim * (1 + 1e-12)``), and ``tau + 1`` does not.
    """
    n = np.asarray(n, dtype=float)
    out = np.full(n.shape, float(cap))
    for a2, a1, a0, lim in _coeffs(problem):
        a2c, a1c, a0c = a2[:, None], a1[:, None], a0[:, None]
        lc = (lim * (1 + STRICT_RTOL))[:, None]

        def ok(t, a2c=a2c, a1c=a1c, a0c=a0c, lc=lc):
            return a2c * t * n + a1c * n + a0c <= lc

        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            q = np.where(a2c > 0, np.floor((lc - a0c - a1c * n) / (a2c * n)), float(cap))
        q = np.clip(np.nan_to_num(q, nan=-1.0, posinf=cap, neginf=-1.0), -1.0, cap)
        for _ in range(4):  # float-consistent: q fits, q + 1 does not
            q = q + ((q < cap) & ok(q + 1))
            q = q - ((q >= 0) & ~ok(np.maximum(q, 0)))
        q = np.where(ok(np.maximum(q, 0)), q, -1.0)
        out = np.minimum(out, q)
    return out


def _build_samples(problem: MelProblem, tmax: IntArray):
    """MILP with a one-hot encoding of ``d_k`` (no products; integer coefficients only).

    ``u[k, n] = 1`` iff device ``k`` holds ``n`` samples; then the time and
    energy rows become ``tau_k <= L[k, n]`` for the chosen ``n``, i.e.
    ``tau_k <= sum_n L[k, n] u[k, n]``, where ``L[k, n]`` is the largest
    integer ``tau`` the device can run with ``n`` samples (closed form plus a
    float-consistent correction, :func:`_int_tau_limit`). All coefficients are
    integers, so HiGHS's tolerances cannot accept a violated constraint.
    """
    k, d = problem.n_devices, problem.total_samples
    floor = max(1, problem.min_samples)
    skip = problem.min_samples == 0
    c = problem.staleness
    top = float(tmax.max())
    big = top + (c or 0) + 2.0
    ns = np.arange(floor, d + 1, dtype=float)
    lim = _int_tau_limit(problem, np.broadcast_to(ns, (k, ns.size)), top)
    b = _Builder()
    pv = [b.var(0 if skip else 1, 1, True) for _ in range(k)]
    tv_k = [b.var(0, float(tmax[i]), True) for i in range(k)]
    uv: list[list[tuple[int, int]]] = []
    total: dict[int, float] = {}
    for i in range(k):
        usable = np.flatnonzero(lim[i] >= 1)
        terms = [(b.var(0, 1, True), int(ns[j])) for j in usable]
        uv.append(terms)
        b.row({**{v: 1.0 for v, _ in terms}, pv[i]: -1.0}, 0.0, 0.0)
        # tau_k <= L[k, n] for the chosen n; p_k <= tau_k <= tmax_k p_k
        coefs = {tv_k[i]: 1.0}
        for (v, _), j in zip(terms, usable, strict=True):
            coefs[v] = -float(lim[i, j])
        b.row(coefs, -np.inf, 0.0)
        b.row({tv_k[i]: 1.0, pv[i]: -1.0}, 0.0, np.inf)
        b.row({tv_k[i]: 1.0, pv[i]: -float(tmax[i])}, -np.inf, 0.0)
        for v, n in terms:
            total[v] = float(n)
    b.row(total, float(d), float(d))
    cvec = _couple(b, problem, [{tv_k[i]: 1.0} for i in range(k)], pv, top, big)
    binaries = pv + [v for terms in uv for v, _ in terms]

    def decode(x: NDArray) -> tuple[IntArray, IntArray, dict[int, int]]:
        xr = np.round(x)
        samples = np.array([sum(n * int(xr[v]) for v, n in uv[i]) for i in range(k)], np.int64)
        tau = np.array([int(xr[tv_k[i]]) for i in range(k)], np.int64)
        return tau, samples, {j: int(xr[j]) for j in binaries}

    return b, cvec, decode


def _couple(b, problem, tau_terms, pv, top, big) -> NDArray[np.float64]:
    """Synchronous (common ``tau``) or asynchronous (window) coupling; returns the objective."""
    k = problem.n_devices
    c = problem.staleness
    gv = b.var(1, top, True)  # common tau (sync) or window floor m (async)
    for i in range(k):
        # participants: g <= tau_k <= g + c (c = 0 when synchronous)
        b.row(_plus(tau_terms[i], {gv: -1.0, pv[i]: -big}), -big, np.inf)
        b.row(_plus(tau_terms[i], {gv: -1.0, pv[i]: big}), -np.inf, big + (c or 0))
    cvec = np.zeros(b.n)
    if c is None:
        cvec[gv] = -1.0
    else:
        for i in range(k):
            for j, v in tau_terms[i].items():
                cvec[j] -= v
    return cvec


def _build_tau(problem: MelProblem, tmax: IntArray):
    """MILP with a one-hot encoding of ``tau_k`` and of the window floor (integer rows only).

    ``z[k, t] = 1`` iff device ``k`` runs ``tau_k = t``; for a fixed ``t`` the
    time and energy rows bound ``d_k`` by the device's integer capacity
    ``D[k, t]`` (largest ``n`` that fits, closed form plus a float-consistent
    correction), so ``d_k <= sum_t D[k, t] z[k, t]``. The window floor is
    one-hot too, ``w[s]``, with ``z[k, t] <= sum_{s = t - c}^{t} w[s]``
    (``c = 0`` when synchronous): a much tighter coupling than big-M.
    """
    k, d = problem.n_devices, problem.total_samples
    floor = max(1, problem.min_samples)
    skip = problem.min_samples == 0
    c = problem.staleness
    top = int(tmax.max())
    ts = np.arange(1, top + 1, dtype=float)
    cap = _capacity_matrix(problem, ts)  # (K, top)
    b = _Builder()
    pv = [b.var(0 if skip else 1, 1, True) for _ in range(k)]
    dv = [b.var(0, d, True) for _ in range(k)]
    wv = [b.var(0, 1, True) for _ in range(top)]
    b.row(dict.fromkeys(wv, 1.0), 1.0, 1.0)
    zv: list[list[tuple[int, int]]] = []
    for i in range(k):
        usable = [t for t in range(1, int(tmax[i]) + 1) if cap[i, t - 1] >= floor]
        terms = [(b.var(0, 1, True), t) for t in usable]
        zv.append(terms)
        b.row({**{v: 1.0 for v, _ in terms}, pv[i]: -1.0}, 0.0, 0.0)
        coefs = {dv[i]: 1.0}
        for v, t in terms:
            coefs[v] = -float(cap[i, t - 1])
        b.row(coefs, -np.inf, 0.0)
        b.row({dv[i]: 1.0, pv[i]: -float(floor)}, 0.0, np.inf)
        for v, t in terms:
            lo = max(1, t - (c or 0))
            b.row({v: 1.0, **{wv[s - 1]: -1.0 for s in range(lo, t + 1)}}, -np.inf, 0.0)
    b.row(dict.fromkeys(dv, 1.0), float(d), float(d))
    cvec = np.zeros(b.n)
    if c is None:
        for s in range(1, top + 1):
            cvec[wv[s - 1]] = -float(s)
    else:
        for terms in zv:
            for v, t in terms:
                cvec[v] = -float(t)
    binaries = pv + wv + [v for terms in zv for v, _ in terms]

    def decode(x: NDArray) -> tuple[IntArray, IntArray, dict[int, int]]:
        xr = np.round(x)
        samples = np.array([int(xr[j]) for j in dv], np.int64)
        tau = np.array([sum(t * int(xr[v]) for v, t in zv[i]) for i in range(k)], np.int64)
        return tau, samples, {j: int(xr[j]) for j in binaries}

    return b, cvec, decode


def _capacity_matrix(problem: MelProblem, ts: NDArray) -> IntArray:
    """``D[k, j]``: largest integer ``n`` in ``[0, d]`` device ``k`` can hold at ``tau = ts[j]``.

    -1 when even ``n = 0`` fails. Closed form, then corrected so that the
    expression :func:`strict_check` evaluates holds at ``n`` and fails at ``n + 1``.
    """
    d = float(problem.total_samples)
    tau = np.asarray(ts, dtype=float)[None, :]
    out = np.full((problem.n_devices, tau.shape[1]), d)
    for a2, a1, a0, lim in _coeffs(problem):
        a2c, a1c, a0c = a2[:, None], a1[:, None], a0[:, None]
        lc = (lim * (1 + STRICT_RTOL))[:, None]

        def ok(n, a2c=a2c, a1c=a1c, a0c=a0c, lc=lc):
            return a2c * tau * n + a1c * n + a0c <= lc

        slope = a2c * tau + a1c
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            q = np.where(slope > 0, np.floor((lc - a0c) / slope), d)
        q = np.clip(np.nan_to_num(q, nan=-1.0, posinf=d, neginf=-1.0), -1.0, d)
        for _ in range(4):
            q = q + ((q < d) & ok(q + 1))
            q = q - ((q >= 0) & ~ok(np.maximum(q, 0)))
        q = np.where(ok(np.maximum(q, 0)), q, -1.0)
        out = np.minimum(out, q)
    return out.astype(np.int64)


def _build(problem: MelProblem, tmax: IntArray, unary: bool, cuts: list[dict[int, int]]):
    """Build the MILP; returns ``(builder, objective vector, decoder)``."""
    k, d = problem.n_devices, problem.total_samples
    floor = max(1, problem.min_samples)
    skip = problem.min_samples == 0
    c = problem.staleness
    big = float(tmax.max()) + (c or 0) + 2.0
    b = _Builder()
    dv = [b.var(0, d, True) for _ in range(k)]
    pv = [b.var(0 if skip else 1, 1, True) for _ in range(k)]
    # ind[k]: list of (binary var, coefficient in tau_k); tau_k = off * p_k + sum coef * ind.
    ind: list[list[tuple[int, float]]] = []
    wv: list[list[int]] = []
    off = 0.0 if unary else 1.0
    for i in range(k):
        if unary:
            terms = [(b.var(0, 1, True), float(t)) for t in range(1, int(tmax[i]) + 1)]
            # one-hot: sum_t z = p_k
            b.row({**{v: 1.0 for v, _ in terms}, pv[i]: -1.0}, 0.0, 0.0)
        else:
            bits = max(1, math.ceil(math.log2(max(float(tmax[i]), 1.0) + 1.0)))
            terms = [(b.var(0, 1, True), float(2**j)) for j in range(bits)]
            for v, _ in terms:  # bits only for participants
                b.row({v: 1.0, pv[i]: -1.0}, -np.inf, 0.0)
            # tau_k <= tmax_k
            b.row({pv[i]: 1.0, **{v: w for v, w in terms}}, -np.inf, float(tmax[i]))
        ind.append(terms)
        ws = []
        for v, _ in terms:  # McCormick: w = d_k * v, 0 <= d_k <= d, v binary
            w = b.var(0, d, False)
            b.row({w: 1.0, v: -float(d)}, -np.inf, 0.0)
            b.row({w: 1.0, dv[i]: -1.0}, -np.inf, 0.0)
            b.row({w: 1.0, dv[i]: -1.0, v: -float(d)}, -float(d), np.inf)
            ws.append(w)
        wv.append(ws)
        # floor * p <= d_k <= d * p
        b.row({dv[i]: 1.0, pv[i]: -float(floor)}, 0.0, np.inf)
        b.row({dv[i]: 1.0, pv[i]: -float(d)}, -np.inf, 0.0)
        # time / energy: a2 * (off d_k + sum coef w) + a1 d_k + a0 p_k <= lim (scaled)
        for a2, a1, a0, lim in _coeffs(problem):
            scale = 1.0 / lim[i] if lim[i] > 0 else 1.0
            coefs = {dv[i]: (a2[i] * off + a1[i]) * scale, pv[i]: a0[i] * scale}
            for (_, cf), w in zip(terms, ws, strict=True):
                coefs[w] = a2[i] * cf * scale
            coefs = {j: v for j, v in coefs.items() if v != 0.0}
            if coefs:
                b.row(coefs, -np.inf, lim[i] * scale * (1 + STRICT_RTOL))
    b.row(dict.fromkeys(dv, 1.0), float(d), float(d))

    def tau_terms(i: int) -> dict[int, float]:
        out = {pv[i]: off} if off else {}
        out.update({v: cf for v, cf in ind[i]})
        return out

    cvec = _couple(b, problem, [tau_terms(i) for i in range(k)], pv, float(tmax.max()), big)
    # no-good cuts on the binary pattern (p, ind)
    binaries = pv + [v for terms in ind for v, _ in terms]
    for cut in cuts:
        coefs: dict[int, float] = {}
        rhs = 1.0
        for j in binaries:
            if cut.get(j, 0):
                coefs[j] = -1.0
                rhs -= 1.0
            else:
                coefs[j] = 1.0
        b.row(coefs, rhs, np.inf)

    def decode(x: NDArray) -> tuple[IntArray, IntArray, dict[int, int]]:
        xr = np.round(x)
        samples = np.array([int(xr[j]) for j in dv], np.int64)
        tau = np.array(
            [round(sum(cf * xr[j] for j, cf in tau_terms(i).items())) for i in range(k)],
            np.int64,
        )
        pattern = {j: int(xr[j]) for j in binaries}
        return tau, samples, pattern

    return b, cvec, decode


def _repair(problem: MelProblem, tau: IntArray) -> IntArray | None:
    """Integer samples for a fixed ``tau`` vector (0 = sits out), or ``None`` if none exist."""
    d = problem.total_samples
    floor = max(1, problem.min_samples)
    part = tau > 0
    if problem.min_samples > 0 and not part.all():
        return None
    cap = np.where(part, _capacity(problem, np.maximum(tau, 1)), 0)
    if np.any(part & (cap < floor)) or floor * int(part.sum()) > d or int(cap.sum()) < d:
        return None
    out = np.where(part, floor, 0).astype(np.int64)
    rest = d - int(out.sum())
    room = cap - out
    cum = np.cumsum(room)
    give = np.minimum(room, np.maximum(rest - (cum - room), 0))
    return out + give


def milp_optimum(
    problem: MelProblem,
    *,
    time_limit: float | None = None,
    encoding: Literal["auto", "samples", "tau", "base2"] = "auto",
) -> MilpResult:
    """Exact optimum of problem (12)/(16) by a MILP solved with HiGHS (SciPy).

    Parameters
    ----------
    problem
        Any ``mel`` problem; sizes of ``K`` up to a few dozen are practical.
    time_limit
        Seconds for all HiGHS calls together (``None``: no limit).
    encoding
        ``"samples"``: one-hot ``d_k`` (integer rows; the default when
        ``K (d - floor + 1) <= SAMPLES_LIMIT``); ``"tau"``: one-hot ``tau_k``
        with McCormick products (next choice when ``sum_k tmax_k <=
        UNARY_LIMIT``); ``"base2"``: binary expansion of ``tau_k`` with
        McCormick products (always possible, slowest). ``"auto"`` picks the
        first that fits; the three are separate formulations and can check
        one another.

    Returns
    -------
    MilpResult
        ``status == "optimal"`` with a verified integer allocation, or
        ``"infeasible"`` / ``"time_limit"`` / ``"error"``.
    """
    t0 = time.perf_counter()
    k = problem.n_devices
    floor = max(1, problem.min_samples)
    empty = np.zeros(0, np.int64)

    def done(status, obj=float("nan"), tau=empty, samples=empty, msg=""):
        return MilpResult(Status(status), obj, tau, samples, time.perf_counter() - t0, msg)

    if problem.min_samples > 0 and k * floor > problem.total_samples:
        return done("infeasible", msg="min_samples * K exceeds total_samples")
    dev = _tau_limit(problem, float(floor))
    rel = _relaxed_tau_bound(problem)
    top = math.floor(min(rel, 2.0**52)) + 1 + (problem.staleness or 0)
    with np.errstate(invalid="ignore"):
        tmax = np.floor(np.clip(np.nan_to_num(dev, posinf=2.0**52, neginf=0.0), 0, 2.0**52)) + 1
    tmax = np.minimum(tmax, top).astype(np.int64)
    tmax = np.maximum(tmax, 1)
    n_sample_vars = k * (problem.total_samples - floor + 1)
    if encoding == "tau" or (encoding == "auto" and int(tmax.sum()) <= UNARY_LIMIT):
        mode = "tau-indexed"
    elif encoding == "samples" or (encoding == "auto" and n_sample_vars <= SAMPLES_LIMIT):
        mode = "sample-indexed"
    else:
        mode = "base-2 tau"
    cuts: list[dict[int, int]] = []
    msg = ""
    for it in range(200):
        if mode == "sample-indexed":
            b, cvec, decode = _build_samples(problem, tmax)
        elif mode == "tau-indexed":
            b, cvec, decode = _build_tau(problem, tmax)
        else:
            b, cvec, decode = _build(problem, tmax, False, cuts)
        opts: dict[str, float | bool] = {
            "mip_rel_gap": 0.0,
            "mip_abs_gap": 1e-9,
            "primal_feasibility_tolerance": 1e-9,
            "mip_feasibility_tolerance": 1e-9,
            "presolve": True,
        }
        if time_limit is not None:
            left = time_limit - (time.perf_counter() - t0)
            if left <= 0:
                return done("time_limit", msg="time limit before HiGHS finished")
            opts["time_limit"] = left
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = milp(
                cvec,
                integrality=np.array(b.integ),
                bounds=Bounds(np.array(b.lb), np.array(b.ub)),
                constraints=b.constraint(),
                options=opts,
            )
        if res.status == 2:
            return done("infeasible", msg=f"HiGHS: {res.message} ({it} cut(s))")
        if res.status == 1:  # time or node limit: no proof of optimality
            return done("time_limit", msg=f"HiGHS: {res.message}")
        if res.status != 0 or res.x is None:
            return done("error", msg=f"HiGHS: {res.message}")
        tau, samples, pattern = decode(res.x)
        tau = np.where(samples > 0, tau, 0)
        if not strict_check(problem, tau, samples):
            fixed = _repair(problem, tau)
            if fixed is None:
                if mode != "base-2 tau":  # pragma: no cover - integer rows cannot slip
                    return done("error", msg="sample-indexed MILP answer is infeasible")
                cuts.append(pattern)
                msg = f"{len(cuts)} no-good cut(s) after tolerance-level HiGHS answers"
                continue
            samples = fixed
            tau = np.where(samples > 0, tau, 0)
        if not strict_check(problem, tau, samples):
            ev = problem.evaluate(tau, samples)
            return done("error", msg=f"HiGHS answer rejected by evaluate: {ev.violations}")
        ev = problem.evaluate(tau, samples, integral=True)
        return done(
            "optimal", ev.objective, tau, samples, f"HiGHS: {res.message}; {mode} encoding. {msg}"
        )
    return done("error", msg="too many no-good cuts")


# ---------------------------------------------------------------------------
# Brute force
# ---------------------------------------------------------------------------
def _compositions(problem: MelProblem) -> IntArray:
    """All ``(N, K)`` sample vectors: sum ``d``, each ``>= min_samples`` (or ``>= 0``)."""
    k, d = problem.n_devices, problem.total_samples
    lo = problem.min_samples
    rest = d - k * lo
    if rest < 0:
        return np.zeros((0, k), np.int64)
    rows = []
    for bars in itertools.combinations(range(rest + k - 1), k - 1):
        edges = (-1, *bars, rest + k - 1)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(k)])
    return np.array(rows, np.int64).reshape(-1, k) + lo


def exhaustive_sync(problem: MelProblem) -> tuple[int, IntArray, IntArray]:
    """Brute-force synchronous optimum for tiny problems (``K <= 4``, ``d <= 12``).

    Returns
    -------
    best_tau, tau, samples
        The optimal common ``tau`` (0 when infeasible) and one optimal
        allocation (``tau_k = 0`` for devices that sit out); empty arrays
        when infeasible.
    """
    k, d = problem.n_devices, problem.total_samples
    if problem.staleness is not None:
        raise ValueError("exhaustive_sync needs a synchronous problem (staleness None)")
    if k > 4 or d > 12:
        raise ValueError(f"exhaustive_sync is for K <= 4 and d <= 12 (got K={k}, d={d})")
    comps = _compositions(problem)
    empty = np.zeros(0, np.int64)
    if comps.size == 0:
        return 0, empty, empty
    lim = _tau_limit(problem, float(math.ceil(d / k)))
    bound = float(np.max(lim))
    if not np.isfinite(bound):
        raise ValueError("exhaustive_sync: a device has no tau limit (zero slope)")
    tb = int(max(math.floor(bound), 0)) + 1
    if tb * comps.shape[0] > 2e7:
        raise ValueError(f"exhaustive_sync: tau bound {tb} too large for brute force")
    best = (0, empty, empty)
    chunk = max(1, int(2e6 // max(comps.shape[0], 1)))
    for start in range(1, tb + 1, chunk):
        taus = np.arange(start, min(start + chunk, tb + 1))
        grid = np.where(comps[None, :, :] > 0, taus[:, None, None], 0)
        ok = _ok_grid(problem, grid, comps[None, :, :])  # (T, N)
        hit = np.flatnonzero(ok.any(axis=1))
        if hit.size:
            t_i = int(hit[-1])
            n_i = int(np.flatnonzero(ok[t_i])[0])
            best = (int(taus[t_i]), grid[t_i, n_i].astype(np.int64), comps[n_i].copy())
    if best[0]:
        tau, samples = best[1], best[2]
        if not strict_check(problem, tau, samples):  # pragma: no cover - self-check
            raise AssertionError("exhaustive_sync found an allocation evaluate rejects")
    return best


def exhaustive_async(problem: MelProblem) -> tuple[float, IntArray, IntArray]:
    """Brute-force asynchronous optimum for tiny problems (``K <= 3``, ``d <= 8``).

    Returns
    -------
    best_mean, tau, samples
        The optimal ``mean_k tau_k`` (0.0 when infeasible) and one optimal
        allocation; empty arrays when infeasible.
    """
    k, d = problem.n_devices, problem.total_samples
    if problem.staleness is None:
        raise ValueError("exhaustive_async needs an asynchronous problem (staleness set)")
    if k > 3 or d > 8:
        raise ValueError(f"exhaustive_async is for K <= 3 and d <= 8 (got K={k}, d={d})")
    c = int(problem.staleness)
    comps = _compositions(problem)
    empty = np.zeros(0, np.int64)
    if comps.size == 0:
        return 0.0, empty, empty
    # Per composition, each participant's tau ranges over 1..hi_k with hi_k one
    # past the device's real tau limit for its d_k (the time row has c2 > 0, so
    # nothing above can fit); every vector of the box is checked directly.
    boxes = []
    for comp in comps:
        lim = _tau_limit(problem, np.maximum(comp, 1).astype(float))
        lim = np.where(np.isfinite(lim), lim, -1.0)
        hi = np.where(comp > 0, np.floor(np.maximum(lim, 0.0)) + 1, 1).astype(np.int64)
        boxes.append(hi)
    size = sum(int(np.prod(hi.astype(float))) for hi in boxes)
    if size > 2e7:
        raise ValueError(f"exhaustive_async: {size:.3g} tau vectors, too many for brute force")
    best_sum, best_tau, best_d = -1, empty, empty
    for comp, hi in zip(comps, boxes, strict=True):
        part = comp > 0
        axes = np.meshgrid(*[np.arange(1, h + 1) for h in hi], indexing="ij")
        grid = np.stack([a.ravel() for a in axes], axis=1)  # (G, K)
        tau = np.where(part, grid, 0)
        ok = _ok_grid(problem, tau, comp[None, :])
        top = tau.max(axis=1)
        low = np.where(part, grid, np.iinfo(np.int64).max).min(axis=1)
        ok &= (top - low) <= c
        if not ok.any():
            continue
        sums = np.where(ok, tau.sum(axis=1), -1)
        j = int(np.argmax(sums))
        if sums[j] > best_sum:
            best_sum, best_tau, best_d = int(sums[j]), tau[j].astype(np.int64), comp.copy()
    if best_sum < 0:
        return 0.0, empty, empty
    if not strict_check(problem, best_tau, best_d):  # pragma: no cover - self-check
        raise AssertionError("exhaustive_async found an allocation evaluate rejects")
    return best_sum / k, best_tau, best_d
